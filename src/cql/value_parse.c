/*
 * value_parse.c - JSON (jansson) to serialized CQL values (cql_value_from_json).
 *
 * The reverse of value_json.c: accepts every form cql_value_to_json writes, plus the
 * natural alternatives people send (numeric strings, epoch milliseconds, ISO 8601
 * timestamps with or without zone, "true"/"false", hex blobs, maps as arrays of
 * pairs). Values that do not fit the column type fail with CE_ECONVERT and a reason
 * naming the value and the type ("value 300 out of range for tinyint"). Output is
 * appended to the caller's buffer; on failure the buffer is restored.
 * docs/types.md is the user-facing reference.
 */
#include "cql/cql.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cql/value_int.h"

typedef struct {
    ce_buf *out;
    ce_buf *err;
} pctx;

/* ------------------------------------------------------------------ errors */

/* Short description of a JSON value for messages: 'abc', 300, true, an array. */
static void describe(const json_t *j, char *s, size_t n)
{
    switch (json_typeof(j)) {
    case JSON_STRING: {
        size_t l = json_string_length(j);
        if (l > 48)
            snprintf(s, n, "'%.45s...'", json_string_value(j));
        else
            snprintf(s, n, "'%s'", json_string_value(j));
        break;
    }
    case JSON_INTEGER: snprintf(s, n, "%lld", (long long)json_integer_value(j)); break;
    case JSON_REAL: snprintf(s, n, "%.17g", json_real_value(j)); break;
    case JSON_TRUE: snprintf(s, n, "true"); break;
    case JSON_FALSE: snprintf(s, n, "false"); break;
    case JSON_NULL: snprintf(s, n, "null"); break;
    case JSON_ARRAY: snprintf(s, n, "an array"); break;
    default: snprintf(s, n, "an object"); break;
    }
}

static void err_type(pctx *c, const cql_type *t)
{
    if (cql_type_format(t, c->err))
        ce_buf_append_str(c->err, cql_type_kind_name(t->kind));
}

/* "<prefix><value><middle><type>": e.g. "value 300 out of range for tinyint". */
static ce_err fail_val(pctx *c, const cql_type *t, const json_t *j, const char *prefix,
                       const char *middle)
{
    if (c->err) {
        char d[64];
        describe(j, d, sizeof d);
        ce_buf_reset(c->err);
        ce_buf_printf(c->err, "%s%s%s", prefix, d, middle);
        err_type(c, t);
    }
    return CE_ECONVERT;
}

static ce_err fail_range(pctx *c, const cql_type *t, const json_t *j)
{
    return fail_val(c, t, j, "value ", " out of range for ");
}

static ce_err fail_invalid(pctx *c, const cql_type *t, const json_t *j)
{
    return fail_val(c, t, j, "", " is not a valid ");
}

static ce_err fail_msg(pctx *c, const cql_type *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ce_err fail_msg(pctx *c, const cql_type *t, const char *fmt, ...)
{
    if (c->err) {
        ce_buf_reset(c->err);
        va_list ap;
        va_start(ap, fmt);
        ce_buf_vprintf(c->err, fmt, ap);
        va_end(ap);
        err_type(c, t);
    }
    return CE_ECONVERT;
}

static ce_err put_be(ce_buf *b, uint64_t v, int n)
{
    uint8_t tmp[8];
    for (int i = 0; i < n; i++)
        tmp[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return ce_buf_append(b, tmp, (size_t)n);
}

/* ------------------------------------------------------------------ integers */

/* Strict decimal integer text: [+-]digits, whole string. */
static bool parse_int_text(const char *s, int64_t *v, bool *overflow)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char)*p))
        return false;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            return false;
    errno = 0;
    long long r = strtoll(s, NULL, 10);
    *overflow = errno == ERANGE;
    *v = r;
    return true;
}

static ce_err json_int(pctx *c, const cql_type *t, const json_t *j, int64_t min, int64_t max,
                       int64_t *out)
{
    int64_t v;
    if (json_is_integer(j)) {
        v = json_integer_value(j);
    } else if (json_is_real(j)) {
        double d = json_real_value(j);
        if (!isfinite(d) || d != floor(d))
            return fail_invalid(c, t, j);
        if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
            return fail_range(c, t, j);
        v = (int64_t)d;
    } else if (json_is_string(j)) {
        bool ovf;
        if (!parse_int_text(json_string_value(j), &v, &ovf))
            return fail_invalid(c, t, j);
        if (ovf)
            return fail_range(c, t, j);
    } else {
        return fail_invalid(c, t, j);
    }
    if (v < min || v > max)
        return fail_range(c, t, j);
    *out = v;
    return CE_OK;
}

/* Shortest "%.*g" text that reads back as d. */
static void shortest_double(double d, char *s, size_t n)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(s, n, "%.*g", prec, d);
        if (strtod(s, NULL) == d)
            return;
    }
}

/*
 * Minimal two's complement big-endian bytes of a decimal digit string (no sign),
 * negated when neg. Appended to out.
 */
static ce_err varint_from_digits(ce_buf *out, const char *dg, size_t nd, bool neg)
{
    size_t cap = nd / 2 + 3; /* 10^nd < 256^(nd/2.4 + 1) */
    uint8_t stackbuf[128];
    uint8_t *m = cap <= sizeof stackbuf ? stackbuf : malloc(cap);
    if (!m)
        return CE_ENOMEM;
    size_t L = 0; /* little-endian magnitude bytes in use */
    size_t i = 0;
    while (i < nd) {
        size_t chunk = nd - i < 9 ? nd - i : 9;
        uint64_t mul = 1, add = 0;
        for (size_t k = 0; k < chunk; k++) {
            mul *= 10;
            add = add * 10 + (uint64_t)(dg[i + k] - '0');
        }
        i += chunk;
        uint64_t carry = add;
        for (size_t k = 0; k < L; k++) {
            uint64_t cur = (uint64_t)m[k] * mul + carry;
            m[k] = (uint8_t)cur;
            carry = cur >> 8;
        }
        while (carry) {
            m[L++] = (uint8_t)carry;
            carry >>= 8;
        }
    }
    if (L == 0)
        m[L++] = 0;
    if (neg) {
        bool all_zero = true;
        for (size_t k = 0; k < L; k++)
            all_zero = all_zero && m[k] == 0;
        if (!all_zero) {
            unsigned carry = 1;
            for (size_t k = 0; k < L; k++) {
                unsigned v = (uint8_t)~m[k] + carry;
                m[k] = (uint8_t)v;
                carry = v >> 8;
            }
            if (!(m[L - 1] & 0x80))
                m[L++] = 0xFF;
        }
    } else if (m[L - 1] & 0x80) {
        m[L++] = 0x00;
    }
    /* minimal form: drop redundant sign bytes */
    while (L > 1 && ((m[L - 1] == 0x00 && !(m[L - 2] & 0x80)) ||
                     (m[L - 1] == 0xFF && (m[L - 2] & 0x80))))
        L--;
    ce_err e = ce_buf_reserve(out, L);
    for (size_t k = 0; k < L && !e; k++)
        out->data[out->len++] = (char)m[L - 1 - k];
    if (m != stackbuf)
        free(m);
    return e;
}

/* Text of a JSON number or string for varint/decimal parsing. */
static const char *number_text(const json_t *j, char *tmp, size_t n)
{
    if (json_is_string(j))
        return json_string_value(j);
    if (json_is_integer(j)) {
        snprintf(tmp, n, "%lld", (long long)json_integer_value(j));
        return tmp;
    }
    if (json_is_real(j) && isfinite(json_real_value(j))) {
        shortest_double(json_real_value(j), tmp, n);
        return tmp;
    }
    return NULL;
}

static ce_err enc_varint(pctx *c, const cql_type *t, const json_t *j)
{
    char tmp[400];
    const char *s;
    if (json_is_real(j)) {
        double d = json_real_value(j);
        if (!isfinite(d) || d != floor(d))
            return fail_invalid(c, t, j);
        snprintf(tmp, sizeof tmp, "%.0f", d); /* the exact integer value of the double */
        s = tmp;
    } else {
        s = number_text(j, tmp, sizeof tmp);
    }
    if (!s)
        return fail_invalid(c, t, j);
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    size_t nd = strlen(s);
    if (nd == 0 || strspn(s, "0123456789") != nd)
        return fail_invalid(c, t, j);
    return varint_from_digits(c->out, s, nd, neg);
}

/* decimal text: [+-]digits[.digits][(e|E)[+-]digits] -> scale + unscaled varint. */
static ce_err enc_decimal(pctx *c, const cql_type *t, const json_t *j)
{
    char tmp[64];
    const char *s = number_text(j, tmp, sizeof tmp);
    if (!s)
        return fail_invalid(c, t, j);
    const char *p = s;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    const char *ip = p;
    while (isdigit((unsigned char)*p))
        p++;
    size_t ni = (size_t)(p - ip);
    const char *fp = NULL;
    size_t nf = 0;
    if (*p == '.') {
        fp = ++p;
        while (isdigit((unsigned char)*p))
            p++;
        nf = (size_t)(p - fp);
    }
    if (ni + nf == 0)
        return fail_invalid(c, t, j);
    long long exp10 = 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        char *end;
        errno = 0;
        if (!(isdigit((unsigned char)*p) || ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]))))
            return fail_invalid(c, t, j);
        exp10 = strtoll(p, &end, 10);
        if (errno == ERANGE)
            return fail_range(c, t, j);
        p = end;
    }
    if (*p)
        return fail_invalid(c, t, j);
    long long scale = (long long)nf - exp10;
    if (scale < INT32_MIN || scale > INT32_MAX)
        return fail_range(c, t, j);
    /* concatenate the digits (skipping leading zeros) */
    size_t nd = ni + nf;
    char small[256];
    char *dg = nd <= sizeof small ? small : malloc(nd);
    if (!dg)
        return CE_ENOMEM;
    memcpy(dg, ip, ni);
    if (nf)
        memcpy(dg + ni, fp, nf);
    size_t lead = 0;
    while (lead + 1 < nd && dg[lead] == '0')
        lead++;
    ce_err e = put_be(c->out, (uint32_t)(int32_t)scale, 4);
    if (!e)
        e = varint_from_digits(c->out, dg + lead, nd - lead, neg);
    if (dg != small)
        free(dg);
    return e;
}

static ce_err enc_floating(pctx *c, const cql_type *t, const json_t *j)
{
    double d;
    if (json_is_integer(j)) {
        d = (double)json_integer_value(j);
    } else if (json_is_real(j)) {
        d = json_real_value(j);
    } else if (json_is_string(j)) {
        const char *s = json_string_value(j);
        if (strcmp(s, "NaN") == 0 || strcasecmp(s, "nan") == 0) {
            d = NAN;
        } else if (strcasecmp(s, "Infinity") == 0 || strcasecmp(s, "+Infinity") == 0 ||
                   strcasecmp(s, "inf") == 0) {
            d = INFINITY;
        } else if (strcasecmp(s, "-Infinity") == 0 || strcasecmp(s, "-inf") == 0) {
            d = -INFINITY;
        } else {
            char *end;
            /* numbers only: strtod would also take "nan(...)", hex floats, spaces */
            if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
                return fail_invalid(c, t, j);
            errno = 0;
            d = strtod(s, &end);
            if (*end || end == s)
                return fail_invalid(c, t, j);
            if (errno == ERANGE && isinf(d))
                return fail_range(c, t, j);
        }
    } else {
        return fail_invalid(c, t, j);
    }
    if (t->kind == CQL_T_FLOAT) {
        float f = (float)d;
        if (isinf(f) && isfinite(d))
            return fail_range(c, t, j);
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        return put_be(c->out, u, 4);
    }
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return put_be(c->out, u, 8);
}

/* ------------------------------------------------------------------ strings and bytes */

static ce_err enc_text(pctx *c, const cql_type *t, const json_t *j)
{
    char tmp[64];
    const char *s;
    size_t n;
    if (json_is_string(j)) {
        s = json_string_value(j);
        n = json_string_length(j);
    } else if (json_is_integer(j) || json_is_real(j)) {
        s = number_text(j, tmp, sizeof tmp);
        if (!s)
            return fail_invalid(c, t, j);
        n = strlen(s);
    } else if (json_is_boolean(j)) {
        s = json_is_true(j) ? "true" : "false";
        n = strlen(s);
    } else {
        return fail_invalid(c, t, j);
    }
    if (t->kind == CQL_T_ASCII) {
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] >= 0x80)
                return fail_invalid(c, t, j);
    }
    return ce_buf_append(c->out, s, n);
}

static int b64val(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

static int hexv(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Base64 (standard or URL-safe alphabet, padding optional) or 0x-prefixed hex. */
static ce_err enc_blob(pctx *c, const cql_type *t, const json_t *j)
{
    if (!json_is_string(j))
        return fail_msg(c, t, "expected a base64 or 0x-hex string for ");
    const char *s = json_string_value(j);
    size_t n = json_string_length(j);
    ce_err e;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        if (n % 2)
            return fail_invalid(c, t, j);
        if ((e = ce_buf_reserve(c->out, (n - 2) / 2)))
            return e;
        for (size_t i = 2; i < n; i += 2) {
            int a = hexv(s[i]), b = hexv(s[i + 1]);
            if (a < 0 || b < 0)
                return fail_invalid(c, t, j);
            c->out->data[c->out->len++] = (char)(a * 16 + b);
        }
        return CE_OK;
    }
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (json_string_length(j) - n > 2 || n % 4 == 1)
        return fail_invalid(c, t, j);
    if ((e = ce_buf_reserve(c->out, n / 4 * 3 + 3)))
        return e;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(s[i]);
        if (v < 0)
            return fail_invalid(c, t, j);
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            c->out->data[c->out->len++] = (char)((acc >> bits) & 0xFF);
        }
    }
    return CE_OK;
}

static ce_err enc_uuid(pctx *c, const cql_type *t, const json_t *j)
{
    if (!json_is_string(j))
        return fail_invalid(c, t, j);
    const char *s = json_string_value(j);
    size_t n = json_string_length(j);
    uint8_t u[16];
    size_t k = 0;
    bool dashed = n == 36;
    if (n != 36 && n != 32)
        return fail_invalid(c, t, j);
    for (size_t i = 0; i < n;) {
        if (dashed && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (s[i] != '-')
                return fail_invalid(c, t, j);
            i++;
            continue;
        }
        int a = hexv(s[i]), b = hexv(s[i + 1]);
        if (a < 0 || b < 0)
            return fail_invalid(c, t, j);
        u[k++] = (uint8_t)(a * 16 + b);
        i += 2;
    }
    if (k != 16)
        return fail_invalid(c, t, j);
    if (t->kind == CQL_T_TIMEUUID && (u[6] >> 4) != 1)
        return fail_val(c, t, j, "", " is not a time-based (version 1) uuid for ");
    return ce_buf_append(c->out, u, 16);
}

static ce_err enc_inet(pctx *c, const cql_type *t, const json_t *j)
{
    if (!json_is_string(j))
        return fail_invalid(c, t, j);
    uint8_t a[16];
    const char *s = json_string_value(j);
    if (inet_pton(AF_INET, s, a) == 1)
        return ce_buf_append(c->out, a, 4);
    if (inet_pton(AF_INET6, s, a) == 1)
        return ce_buf_append(c->out, a, 16);
    return fail_invalid(c, t, j);
}

/* ------------------------------------------------------------------ dates and times */

/* n digits at *p into *v; false if not all digits. */
static bool take_digits(const char **p, size_t n, int64_t *v)
{
    int64_t r = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        r = r * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *v = r;
    return true;
}

/* "HH:MM[:SS[.fraction]]" at *p into ns of day; frac digits beyond 9 are dropped. */
static bool parse_clock(const char **pp, int64_t *ns)
{
    const char *p = *pp;
    int64_t h, m, s = 0, frac = 0;
    if (!take_digits(&p, 2, &h) || *p++ != ':' || !take_digits(&p, 2, &m))
        return false;
    if (*p == ':') {
        p++;
        if (!take_digits(&p, 2, &s))
            return false;
        if (*p == '.' || *p == ',') {
            p++;
            int nd = 0;
            while (isdigit((unsigned char)*p)) {
                if (nd < 9) {
                    frac = frac * 10 + (*p - '0');
                    nd++;
                }
                p++;
            }
            if (nd == 0)
                return false;
            while (nd < 9) {
                frac *= 10;
                nd++;
            }
        }
    }
    if (h > 23 || m > 59 || s > 59)
        return false;
    *ns = ((h * 60 + m) * 60 + s) * INT64_C(1000000000) + frac;
    *pp = p;
    return true;
}

/*
 * ISO 8601 date or date-time: [+-]YYYY[YY...]-MM-DD[(T|t| )HH:MM[:SS[.f]][Z|(+|-)HH[:]MM|(+|-)HH]].
 * No zone means UTC. *ms_out = milliseconds since the epoch (sub-ms digits dropped);
 * *has_time tells whether a time part was present.
 */
static bool parse_iso(const char *s, int64_t *ms_out, bool *has_time)
{
    const char *p = s;
    int sign = 1;
    if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
    }
    const char *ys = p;
    while (isdigit((unsigned char)*p))
        p++;
    size_t yd = (size_t)(p - ys);
    if (yd < 4 || yd > 9)
        return false;
    const char *q = ys;
    int64_t y, mo, d;
    take_digits(&q, yd, &y);
    y *= sign;
    if (*p++ != '-' || !take_digits(&p, 2, &mo) || *p++ != '-' || !take_digits(&p, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > cqlv_days_in_month(y, (unsigned)mo))
        return false;
    int64_t days = cqlv_days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t ns = 0, off_min = 0;
    *has_time = false;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!parse_clock(&p, &ns))
            return false;
        *has_time = true;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int zs = *p++ == '-' ? -1 : 1;
            int64_t zh, zm = 0;
            if (!take_digits(&p, 2, &zh))
                return false;
            if (*p == ':')
                p++;
            if (isdigit((unsigned char)*p) && !take_digits(&p, 2, &zm))
                return false;
            if (zh > 18 || zm > 59)
                return false;
            off_min = zs * (zh * 60 + zm);
        }
    }
    if (*p)
        return false;
    int64_t ms;
    if (__builtin_mul_overflow(days, INT64_C(86400000), &ms) ||
        __builtin_add_overflow(ms, ns / 1000000 - off_min * 60000, &ms))
        return false;
    *ms_out = ms;
    return true;
}

static ce_err enc_timestamp(pctx *c, const cql_type *t, const json_t *j)
{
    int64_t ms;
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        bool ht, ovf;
        if (parse_int_text(s, &ms, &ovf)) {
            if (ovf)
                return fail_range(c, t, j);
        } else if (!parse_iso(s, &ms, &ht)) {
            return fail_invalid(c, t, j);
        }
    } else {
        ce_err e = json_int(c, t, j, INT64_MIN, INT64_MAX, &ms);
        if (e)
            return e;
    }
    return put_be(c->out, (uint64_t)ms, 8);
}

static ce_err enc_date(pctx *c, const cql_type *t, const json_t *j)
{
    int64_t days;
    bool ovf, ht;
    if (json_is_string(j) && !parse_int_text(json_string_value(j), &days, &ovf)) {
        int64_t ms;
        if (!parse_iso(json_string_value(j), &ms, &ht))
            return fail_invalid(c, t, j);
        if (ms % 86400000 != 0)
            return fail_val(c, t, j, "", " has a time of day, not a valid ");
        days = ms / 86400000;
    } else {
        ce_err e = json_int(c, t, j, INT64_MIN, INT64_MAX, &days);
        if (e)
            return e;
    }
    if (days < INT32_MIN || days > INT32_MAX)
        return fail_range(c, t, j);
    return put_be(c->out, (uint32_t)(days + (int64_t)CQL_DATE_EPOCH), 4);
}

static ce_err enc_time(pctx *c, const cql_type *t, const json_t *j)
{
    int64_t ns;
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        bool ovf;
        if (!parse_int_text(s, &ns, &ovf)) {
            if (!parse_clock(&s, &ns) || *s)
                return fail_invalid(c, t, j);
        } else if (ovf) {
            return fail_range(c, t, j);
        }
    } else {
        ce_err e = json_int(c, t, j, INT64_MIN, INT64_MAX, &ns);
        if (e)
            return e;
    }
    if (ns < 0 || ns >= CQL_NANOS_PER_DAY)
        return fail_range(c, t, j);
    return put_be(c->out, (uint64_t)ns, 8);
}

/* Adds n * mul to *acc with overflow check. */
static bool acc_add(int64_t *acc, int64_t n, int64_t mul)
{
    int64_t x;
    return !__builtin_mul_overflow(n, mul, &x) && !__builtin_add_overflow(*acc, x, acc);
}

/* CQL duration text "1y2mo3w4d5h6m7s8ms9us10ns" (any order, units case-insensitive). */
static bool parse_duration_cql(const char *p, int64_t *mo, int64_t *d, int64_t *ns)
{
    if (!*p)
        return false;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return false;
        errno = 0;
        char *end;
        long long n = strtoll(p, &end, 10);
        if (errno == ERANGE)
            return false;
        p = end;
        const char *u = p;
        while (isalpha((unsigned char)*p) || (unsigned char)*p >= 0x80)
            p++;
        size_t ul = (size_t)(p - u);
#define U(lit) (ul == sizeof(lit) - 1 && strncasecmp(u, lit, ul) == 0)
        bool ok;
        if (U("y"))
            ok = acc_add(mo, n, 12);
        else if (U("mo"))
            ok = acc_add(mo, n, 1);
        else if (U("w"))
            ok = acc_add(d, n, 7);
        else if (U("d"))
            ok = acc_add(d, n, 1);
        else if (U("h"))
            ok = acc_add(ns, n, INT64_C(3600000000000));
        else if (U("m"))
            ok = acc_add(ns, n, INT64_C(60000000000));
        else if (U("s"))
            ok = acc_add(ns, n, 1000000000);
        else if (U("ms"))
            ok = acc_add(ns, n, 1000000);
        else if (U("us") || U("\xc2\xb5s"))
            ok = acc_add(ns, n, 1000);
        else if (U("ns"))
            ok = acc_add(ns, n, 1);
        else
            ok = false;
#undef U
        if (!ok)
            return false;
    }
    return true;
}

/* ISO 8601 duration "P1Y2M3W4DT5H6M7.000000008S". */
static bool parse_duration_iso(const char *p, int64_t *mo, int64_t *d, int64_t *ns)
{
    if (*p++ != 'P' || !*p)
        return false;
    bool in_time = false, any = false;
    while (*p) {
        if (*p == 'T') {
            if (in_time)
                return false;
            in_time = true;
            p++;
            if (!*p)
                return false;
            continue;
        }
        if (!isdigit((unsigned char)*p))
            return false;
        errno = 0;
        char *end;
        long long n = strtoll(p, &end, 10);
        if (errno == ERANGE)
            return false;
        p = end;
        int64_t frac = 0;
        if (*p == '.' || *p == ',') {
            p++;
            int nd = 0;
            while (isdigit((unsigned char)*p)) {
                if (nd >= 9)
                    return false;
                frac = frac * 10 + (*p++ - '0');
                nd++;
            }
            if (!nd || *p != 'S' || !in_time)
                return false;
            while (nd++ < 9)
                frac *= 10;
        }
        char u = *p++;
        bool ok;
        if (!in_time && u == 'Y')
            ok = acc_add(mo, n, 12);
        else if (!in_time && u == 'M')
            ok = acc_add(mo, n, 1);
        else if (!in_time && u == 'W')
            ok = acc_add(d, n, 7);
        else if (!in_time && u == 'D')
            ok = acc_add(d, n, 1);
        else if (in_time && u == 'H')
            ok = acc_add(ns, n, INT64_C(3600000000000));
        else if (in_time && u == 'M')
            ok = acc_add(ns, n, INT64_C(60000000000));
        else if (in_time && u == 'S')
            ok = acc_add(ns, n, 1000000000) && acc_add(ns, frac, 1);
        else
            ok = false;
        if (!ok)
            return false;
        any = true;
    }
    return any;
}

static ce_err enc_duration(pctx *c, const cql_type *t, const json_t *j)
{
    if (!json_is_string(j))
        return fail_invalid(c, t, j);
    const char *s = json_string_value(j);
    bool neg = *s == '-';
    if (neg)
        s++;
    int64_t mo = 0, d = 0, ns = 0;
    bool ok = *s == 'P' ? parse_duration_iso(s, &mo, &d, &ns) : parse_duration_cql(s, &mo, &d, &ns);
    if (!ok)
        return fail_invalid(c, t, j);
    if (mo > INT32_MAX || d > INT32_MAX)
        return fail_range(c, t, j);
    if (neg) {
        mo = -mo;
        d = -d;
        ns = -ns;
    }
    uint8_t tmp[27];
    size_t k = cqlv_uvint_write(cqlv_zigzag_encode(mo), tmp);
    k += cqlv_uvint_write(cqlv_zigzag_encode(d), tmp + k);
    k += cqlv_uvint_write(cqlv_zigzag_encode(ns), tmp + k);
    return ce_buf_append(c->out, tmp, k);
}

/* ------------------------------------------------------------------ composites */

static ce_err enc(pctx *c, const cql_type *t, const json_t *j, int depth);

/* [int len][bytes] of j (null -> -1 when allow_null). */
static ce_err enc_elem(pctx *c, const cql_type *parent, const cql_type *t, const json_t *j,
                       int depth, bool allow_null)
{
    ce_err e;
    if (json_is_null(j)) {
        if (!allow_null)
            return fail_msg(c, parent, "null is not allowed inside ");
        return put_be(c->out, 0xFFFFFFFFu, 4);
    }
    size_t mark = c->out->len;
    if ((e = put_be(c->out, 0, 4)))
        return e;
    if ((e = enc(c, t, j, depth + 1)))
        return e;
    size_t l = c->out->len - mark - 4;
    if (l > INT32_MAX)
        return CE_ELIMIT;
    uint8_t *q = (uint8_t *)c->out->data + mark;
    q[0] = (uint8_t)(l >> 24);
    q[1] = (uint8_t)(l >> 16);
    q[2] = (uint8_t)(l >> 8);
    q[3] = (uint8_t)l;
    return CE_OK;
}

static ce_err enc_list(pctx *c, const cql_type *t, const json_t *j, int depth)
{
    if (!json_is_array(j))
        return fail_msg(c, t, "expected an array for ");
    if (t->nsub != 1)
        return fail_msg(c, t, "incomplete type ");
    size_t n = json_array_size(j);
    ce_err e = put_be(c->out, (uint32_t)n, 4);
    for (size_t i = 0; i < n && !e; i++)
        e = enc_elem(c, t, t->sub[0], json_array_get(j, i), depth, false);
    return e;
}

static ce_err enc_map(pctx *c, const cql_type *t, const json_t *j, int depth)
{
    if (t->nsub != 2)
        return fail_msg(c, t, "incomplete type ");
    ce_err e;
    if (json_is_object(j)) {
        if ((e = put_be(c->out, (uint32_t)json_object_size(j), 4)))
            return e;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            json_t *kj = json_string(k);
            if (!kj)
                return CE_ENOMEM;
            e = enc_elem(c, t, t->sub[0], kj, depth, false);
            json_decref(kj);
            if (!e)
                e = enc_elem(c, t, t->sub[1], v, depth, false);
            if (e)
                return e;
        }
        return CE_OK;
    }
    if (!json_is_array(j))
        return fail_msg(c, t, "expected an object or an array of [key, value] pairs for ");
    size_t n = json_array_size(j);
    if ((e = put_be(c->out, (uint32_t)n, 4)))
        return e;
    for (size_t i = 0; i < n; i++) {
        json_t *pair = json_array_get(j, i);
        if (!json_is_array(pair) || json_array_size(pair) != 2)
            return fail_msg(c, t, "expected [key, value] pairs for ");
        if ((e = enc_elem(c, t, t->sub[0], json_array_get(pair, 0), depth, false)) ||
            (e = enc_elem(c, t, t->sub[1], json_array_get(pair, 1), depth, false)))
            return e;
    }
    return CE_OK;
}

static ce_err enc_tuple(pctx *c, const cql_type *t, const json_t *j, int depth)
{
    if (!json_is_array(j))
        return fail_msg(c, t, "expected an array for ");
    if (json_array_size(j) != t->nsub)
        return fail_msg(c, t, "expected %zu elements, got %zu, for ", t->nsub, json_array_size(j));
    ce_err e = CE_OK;
    for (size_t i = 0; i < t->nsub && !e; i++)
        e = enc_elem(c, t, t->sub[i], json_array_get(j, i), depth, true);
    return e;
}

static ce_err enc_udt(pctx *c, const cql_type *t, const json_t *j, int depth)
{
    if (!json_is_object(j))
        return fail_msg(c, t, "expected an object for ");
    if (!t->nsub || !t->field_names)
        return fail_msg(c, t, "fields not known for user type ");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v) {
        bool known = false;
        for (size_t i = 0; i < t->nsub && !known; i++)
            known = t->field_names[i] && strcmp(t->field_names[i], k) == 0;
        if (!known) {
            if (c->err) {
                ce_buf_reset(c->err);
                ce_buf_printf(c->err, "unknown field '%.64s' for ", k);
                err_type(c, t);
            }
            return CE_ECONVERT;
        }
    }
    ce_err e = CE_OK;
    for (size_t i = 0; i < t->nsub && !e; i++) {
        json_t *fv = json_object_get(j, t->field_names[i]);
        e = enc_elem(c, t, t->sub[i], fv ? fv : json_null(), depth, true);
    }
    return e;
}

static ce_err enc_vector(pctx *c, const cql_type *t, const json_t *j, int depth)
{
    if (!json_is_array(j))
        return fail_msg(c, t, "expected an array for ");
    if (t->nsub != 1)
        return fail_msg(c, t, "incomplete type ");
    if (json_array_size(j) != t->dimension)
        return fail_msg(c, t, "expected %u elements, got %zu, for ", (unsigned)t->dimension,
                        json_array_size(j));
    int fs = cql_type_fixed_size(t->sub[0]);
    for (size_t i = 0; i < t->dimension; i++) {
        json_t *ej = json_array_get(j, i);
        if (json_is_null(ej))
            return fail_msg(c, t, "null is not allowed inside ");
        size_t mark = c->out->len;
        ce_err e = enc(c, t->sub[0], ej, depth + 1);
        if (e)
            return e;
        size_t l = c->out->len - mark;
        if (fs >= 0) {
            if (l != (size_t)fs)
                return fail_msg(c, t, "element %zu has the wrong size for ", i);
            continue;
        }
        uint8_t vb[9];
        size_t k = cqlv_uvint_write(l, vb);
        if ((e = ce_buf_reserve(c->out, k)))
            return e;
        memmove(c->out->data + mark + k, c->out->data + mark, l);
        memcpy(c->out->data + mark, vb, k);
        c->out->len += k;
    }
    return CE_OK;
}

/* ------------------------------------------------------------------ dispatch */

static ce_err enc(pctx *c, const cql_type *t, const json_t *j, int depth)
{
    if (depth > CQL_VALUE_MAX_DEPTH)
        return fail_msg(c, t, "nesting too deep at ");
    int64_t v;
    ce_err e;
    switch (t->kind) {
    case CQL_T_ASCII:
    case CQL_T_VARCHAR:
        return enc_text(c, t, j);
    case CQL_T_BLOB:
    case CQL_T_CUSTOM:
        return enc_blob(c, t, j);
    case CQL_T_BIGINT:
    case CQL_T_COUNTER:
        if ((e = json_int(c, t, j, INT64_MIN, INT64_MAX, &v)))
            return e;
        return put_be(c->out, (uint64_t)v, 8);
    case CQL_T_INT:
        if ((e = json_int(c, t, j, INT32_MIN, INT32_MAX, &v)))
            return e;
        return put_be(c->out, (uint64_t)v, 4);
    case CQL_T_SMALLINT:
        if ((e = json_int(c, t, j, INT16_MIN, INT16_MAX, &v)))
            return e;
        return put_be(c->out, (uint64_t)v, 2);
    case CQL_T_TINYINT:
        if ((e = json_int(c, t, j, INT8_MIN, INT8_MAX, &v)))
            return e;
        return put_be(c->out, (uint64_t)v, 1);
    case CQL_T_BOOLEAN: {
        int bv = -1;
        if (json_is_boolean(j))
            bv = json_is_true(j);
        else if (json_is_string(j) && strcasecmp(json_string_value(j), "true") == 0)
            bv = 1;
        else if (json_is_string(j) && strcasecmp(json_string_value(j), "false") == 0)
            bv = 0;
        else if (json_is_integer(j) && (json_integer_value(j) == 0 || json_integer_value(j) == 1))
            bv = (int)json_integer_value(j);
        if (bv < 0)
            return fail_invalid(c, t, j);
        return ce_buf_append_byte(c->out, (uint8_t)bv);
    }
    case CQL_T_FLOAT:
    case CQL_T_DOUBLE:
        return enc_floating(c, t, j);
    case CQL_T_VARINT:
        return enc_varint(c, t, j);
    case CQL_T_DECIMAL:
        return enc_decimal(c, t, j);
    case CQL_T_UUID:
    case CQL_T_TIMEUUID:
        return enc_uuid(c, t, j);
    case CQL_T_INET:
        return enc_inet(c, t, j);
    case CQL_T_TIMESTAMP:
        return enc_timestamp(c, t, j);
    case CQL_T_DATE:
        return enc_date(c, t, j);
    case CQL_T_TIME:
        return enc_time(c, t, j);
    case CQL_T_DURATION:
        return enc_duration(c, t, j);
    case CQL_T_LIST:
    case CQL_T_SET:
        return enc_list(c, t, j, depth);
    case CQL_T_MAP:
        return enc_map(c, t, j, depth);
    case CQL_T_TUPLE:
        return enc_tuple(c, t, j, depth);
    case CQL_T_UDT:
        return enc_udt(c, t, j, depth);
    case CQL_T_VECTOR:
        return enc_vector(c, t, j, depth);
    default:
        return fail_msg(c, t, "unsupported type ");
    }
}

ce_err cql_value_from_json(const cql_type *t, const void *json, ce_buf *out, bool *is_null,
                           ce_buf *err)
{
    const json_t *j = json;
    if (is_null)
        *is_null = false;
    if (!t || !j || !out)
        return CE_EINVAL;
    if (json_is_null(j)) {
        if (is_null)
            *is_null = true;
        return CE_OK;
    }
    pctx c = {out, err};
    size_t mark = out->len;
    ce_err e = enc(&c, t, j, 0);
    if (e) {
        out->len = mark;
        if (e != CE_ECONVERT && err) {
            ce_buf_reset(err);
            ce_buf_append_str(err, ce_strerror(e));
        }
    }
    return e;
}
