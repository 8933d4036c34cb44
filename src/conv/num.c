/*
 * num.c - numbers both ways: tinyint/smallint/int/bigint/counter, varint, decimal,
 * float and double (see docs/types.md for every form).
 *
 * varint and decimal keep every digit. Text <-> two's complement conversion works on
 * 32-bit limbs in base 10^9, quadratic in the digits, so both directions refuse more
 * than CONV_MAX_DIGITS digits: a hostile value costs at most about a millisecond.
 */
#include "conv/conv_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/jsonw.h"

/* Widest varint (significant bytes) converted to text: enough for CONV_MAX_DIGITS
 * digits (8 bits < 2.41 digits); the exact digit count is checked after conversion. */
#define VARINT_MAX_BYTES (CONV_MAX_DIGITS / 2 + 2)
#define VARINT_MAX_CHUNKS (VARINT_MAX_BYTES * 3 / 9 + 2) /* base 10^9 chunks, 3 digits/byte */
#define DIGITS_MAX_LIMBS (CONV_MAX_DIGITS / 9 + 2)       /* 10^9 < 2^32: a limb per chunk */

/* ------------------------------------------------------------------ fixed integers */

static int int_width(cql_type_kind k)
{
    switch (k) {
    case CQL_T_TINYINT: return 1;
    case CQL_T_SMALLINT: return 2;
    case CQL_T_INT: return 4;
    default: return 8; /* bigint, counter */
    }
}

ce_err conv_int_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    (void)depth;
    if (len != int_width(t->kind))
        return CE_EPROTO;
    int64_t v = (p[0] & 0x80) ? -1 : 0;
    for (int32_t i = 0; i < len; i++)
        v = (int64_t)(((uint64_t)v << 8) | p[i]);
    return jsonw_int64(b, v);
}

ce_err conv_int_from_json(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    (void)depth;
    int w = int_width(t->kind);
    int64_t max = (int64_t)(UINT64_MAX >> (65 - 8 * w)), v = 0;
    ce_err e = conv_json_int(c, t, j, -max - 1, max, &v);
    return e ? e : conv_put_be(c->out, (uint64_t)v, w);
}

bool conv_parse_int_text(const char *s, int64_t *v, bool *overflow)
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

/* A JSON real's text with a fraction or exponent ("42.0", "1.5e3"; not "42"): its value. */
static bool integral_real_text(const char *s, double *d)
{
    size_t n = strlen(s);
    if (n == 0 || strspn(s, "0123456789+-.eE") != n || strcspn(s, ".eE") == n)
        return false;
    char *end;
    errno = 0;
    *d = strtod(s, &end);
    return end != s && !*end && errno != ERANGE; /* an underflow to 0 is no integer */
}

ce_err conv_json_int(conv_ctx *c, const cql_type *t, const json_t *j, int64_t min, int64_t max,
                     int64_t *out)
{
    int64_t v;
    double d;
    bool ovf;
    if (json_is_integer(j)) {
        v = json_integer_value(j);
    } else if (json_is_real(j) || (json_is_string(j) && integral_real_text(json_string_value(j), &d))) {
        /* an integral real, or one written as a string (too many digits for a double:
         * docs/json.md): taken as the double it rounds to, as before */
        if (json_is_real(j))
            d = json_real_value(j);
        if (!isfinite(d) || d != floor(d))
            return conv_fail_invalid(c, t, j);
        if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
            return conv_fail_range(c, t, j);
        v = (int64_t)d;
    } else if (json_is_string(j)) {
        if (!conv_parse_int_text(json_string_value(j), &v, &ovf))
            return conv_fail_invalid(c, t, j);
        if (ovf)
            return conv_fail_range(c, t, j);
    } else {
        return conv_fail_invalid(c, t, j);
    }
    if (v < min || v > max)
        return conv_fail_range(c, t, j);
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

const char *conv_number_text(const json_t *j, char *tmp, size_t n)
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

/* ------------------------------------------------------------------ varint: bytes -> text */

/* Little-endian base 2^32 magnitude of n two's complement big-endian bytes; returns the
 * limbs in use (0 for zero). mag has room for (n + 3) / 4 limbs. */
static size_t load_magnitude(const uint8_t *p, size_t n, bool neg, uint32_t *mag)
{
    size_t nl = (n + 3) / 4;
    for (size_t k = 0; k < nl; k++)
        mag[k] = neg ? UINT32_MAX : 0; /* sign extension of the top limb */
    for (size_t i = 0; i < n; i++) {
        size_t pos = n - 1 - i;
        unsigned sh = 8 * (unsigned)(pos % 4);
        mag[pos / 4] = (mag[pos / 4] & ~(UINT32_C(0xFF) << sh)) | ((uint32_t)p[i] << sh);
    }
    if (neg) {
        uint64_t carry = 1;
        for (size_t k = 0; k < nl; k++) {
            uint64_t v = (uint64_t)(uint32_t)~mag[k] + carry;
            mag[k] = (uint32_t)v;
            carry = v >> 32;
        }
    }
    while (nl > 0 && mag[nl - 1] == 0)
        nl--;
    return nl;
}

/* Write v as exactly 9 digits at out. */
static void put9(char *out, uint32_t v)
{
    for (int i = 8; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/*
 * Decimal text of a two's complement big-endian integer of n bytes (n >= 1), with a
 * leading '-' when negative. CE_ECONVERT beyond CONV_MAX_DIGITS digits.
 */
static ce_err varint_digits(ce_buf *b, const uint8_t *p, size_t n)
{
    bool neg = p[0] & 0x80;
    /* skip redundant sign bytes so the work is proportional to the real size */
    while (n > 1 && ((p[0] == 0x00 && !(p[1] & 0x80)) || (p[0] == 0xFF && (p[1] & 0x80)))) {
        p++;
        n--;
    }
    if (n <= 8) {
        int64_t v = (p[0] & 0x80) ? -1 : 0;
        for (size_t i = 0; i < n; i++)
            v = (int64_t)(((uint64_t)v << 8) | p[i]);
        return jsonw_int64(b, v);
    }
    if (n > VARINT_MAX_BYTES)
        return CE_ECONVERT;
    uint32_t mag[VARINT_MAX_BYTES / 4 + 1], chunk[VARINT_MAX_CHUNKS];
    size_t nl = load_magnitude(p, n, neg, mag), nc = 0;
    while (nl > 0) { /* divide by 10^9, least significant chunk first */
        uint64_t rem = 0;
        for (size_t k = nl; k-- > 0;) {
            uint64_t cur = (rem << 32) | mag[k];
            mag[k] = (uint32_t)(cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        chunk[nc++] = (uint32_t)rem;
        while (nl > 0 && mag[nl - 1] == 0)
            nl--;
    }
    char top[12];
    int ntop = snprintf(top, sizeof top, "%s%u", neg ? "-" : "", (unsigned)chunk[nc - 1]);
    size_t total = (size_t)ntop + 9 * (nc - 1);
    if (total - (neg ? 1 : 0) > CONV_MAX_DIGITS)
        return CE_ECONVERT;
    ce_err e = ce_buf_reserve(b, total);
    if (e)
        return e;
    char *s = b->data + b->len;
    memcpy(s, top, (size_t)ntop);
    s += ntop;
    for (size_t k = nc - 1; k-- > 0; s += 9)
        put9(s, chunk[k]);
    b->len += total;
    return CE_OK;
}

/* ------------------------------------------------------------------ varint: text -> bytes */

/*
 * Minimal two's complement big-endian bytes of a decimal digit string (no sign, at most
 * CONV_MAX_DIGITS digits), negated when neg. Appended to out.
 */
static ce_err varint_from_digits(ce_buf *out, const char *dg, size_t nd, bool neg)
{
    uint32_t m[DIGITS_MAX_LIMBS];
    size_t L = 0; /* little-endian limbs in use */
    for (size_t i = 0; i < nd;) {
        size_t chunk = nd - i < 9 ? nd - i : 9;
        uint64_t mul = 1, carry = 0;
        for (size_t k = 0; k < chunk; k++) {
            mul *= 10;
            carry = carry * 10 + (uint64_t)(dg[i + k] - '0');
        }
        i += chunk;
        for (size_t k = 0; k < L; k++) {
            uint64_t cur = (uint64_t)m[k] * mul + carry;
            m[k] = (uint32_t)cur;
            carry = cur >> 32;
        }
        if (carry)
            m[L++] = (uint32_t)carry;
    }
    uint8_t by[DIGITS_MAX_LIMBS * 4 + 1]; /* little-endian bytes, one spare for the sign */
    size_t nb = 0;
    for (size_t k = 0; k < L; k++)
        for (int s = 0; s < 32; s += 8)
            by[nb++] = (uint8_t)(m[k] >> s);
    while (nb > 1 && by[nb - 1] == 0)
        nb--;
    if (nb == 0)
        by[nb++] = 0;
    if (neg) {
        bool all_zero = true;
        for (size_t k = 0; k < nb; k++)
            all_zero = all_zero && by[k] == 0;
        if (!all_zero) {
            unsigned c = 1;
            for (size_t k = 0; k < nb; k++) {
                unsigned v = (uint8_t)~by[k] + c;
                by[k] = (uint8_t)v;
                c = v >> 8;
            }
            if (!(by[nb - 1] & 0x80))
                by[nb++] = 0xFF;
        }
    } else if (by[nb - 1] & 0x80) {
        by[nb++] = 0x00;
    }
    /* minimal form: drop redundant sign bytes */
    while (nb > 1 && ((by[nb - 1] == 0x00 && !(by[nb - 2] & 0x80)) ||
                      (by[nb - 1] == 0xFF && (by[nb - 2] & 0x80))))
        nb--;
    ce_err e = ce_buf_reserve(out, nb);
    for (size_t k = 0; k < nb && !e; k++)
        out->data[out->len++] = (char)by[nb - 1 - k];
    return e;
}

/* Digits without leading zeros (one zero kept), refused beyond CONV_MAX_DIGITS. */
static ce_err put_digits(conv_ctx *c, const cql_type *t, const char *dg, size_t nd, bool neg)
{
    while (nd > 1 && *dg == '0') {
        dg++;
        nd--;
    }
    if (nd > CONV_MAX_DIGITS)
        return conv_fail_msg(c, t, "value of %zu digits exceeds the limit of %d digits for ", nd,
                             CONV_MAX_DIGITS);
    return varint_from_digits(c->out, dg, nd, neg);
}

ce_err conv_varint_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    (void)t;
    (void)depth;
    return varint_digits(b, p, (size_t)len);
}

ce_err conv_varint_from_json(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    (void)depth;
    char tmp[400];
    const char *s;
    double d;
    if (json_is_real(j) || (json_is_string(j) && integral_real_text(json_string_value(j), &d))) {
        if (json_is_real(j))
            d = json_real_value(j);
        if (!isfinite(d) || d != floor(d))
            return conv_fail_invalid(c, t, j);
        snprintf(tmp, sizeof tmp, "%.0f", d); /* the exact integer value of the double */
        s = tmp;
    } else {
        s = conv_number_text(j, tmp, sizeof tmp);
    }
    if (!s)
        return conv_fail_invalid(c, t, j);
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    size_t nd = strlen(s);
    if (nd == 0 || strspn(s, "0123456789") != nd)
        return conv_fail_invalid(c, t, j);
    return put_digits(c, t, s, nd, neg);
}

/* ------------------------------------------------------------------ decimal */

/* Insert the point of a plain-notation decimal whose digits (after an optional '-')
 * start at mark: scale 1..CONV_DECIMAL_PLAIN_MAX_SCALE fraction digits, zero-padded. */
static ce_err place_point(ce_buf *b, size_t mark, size_t sc)
{
    bool neg = b->data[mark] == '-';
    size_t nd = b->len - mark - (neg ? 1 : 0);
    ce_err e;
    if (nd > sc) {
        if ((e = ce_buf_reserve(b, 1)))
            return e;
        char *s = b->data + mark + (neg ? 1 : 0);
        memmove(s + nd - sc + 1, s + nd - sc, sc);
        s[nd - sc] = '.';
        b->len += 1;
        return CE_OK;
    }
    size_t pad = sc - nd + 2; /* "0." and zeros */
    if ((e = ce_buf_reserve(b, pad)))
        return e;
    char *s = b->data + mark + (neg ? 1 : 0);
    memmove(s + pad, s, nd);
    s[0] = '0';
    s[1] = '.';
    memset(s + 2, '0', pad - 2);
    b->len += pad;
    return CE_OK;
}

/* decimal = [int scale][varint unscaled]; see docs/types.md for the notation. */
ce_err conv_decimal_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b,
                            int depth)
{
    (void)t;
    (void)depth;
    if (len < 5)
        return CE_EPROTO;
    int32_t scale = (int32_t)conv_rd32(p);
    size_t mark = b->len;
    ce_err e = varint_digits(b, p + 4, (size_t)len - 4);
    if (e || scale == 0)
        return e;
    if (scale < 0 || scale > CONV_DECIMAL_PLAIN_MAX_SCALE) {
        /* exponent notation keeps the scale exactly: 12345E+2, 1E-100 */
        return ce_buf_printf(b, "E%+lld", -(long long)scale);
    }
    return place_point(b, mark, (size_t)scale);
}

/* Digits of a decimal's text: [+-]int[.frac][(e|E)[+-]exp] -> positions and exponent.
 * Returns false when the text is not a decimal number. */
typedef struct {
    bool neg;
    const char *ip, *fp; /* integer and fraction digits */
    size_t ni, nf;
    long long exp10;
    bool exp_range; /* exponent beyond long long */
} dec_text;

static bool split_decimal(const char *s, dec_text *d)
{
    const char *p = s;
    memset(d, 0, sizeof *d);
    d->neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    d->ip = p;
    while (isdigit((unsigned char)*p))
        p++;
    d->ni = (size_t)(p - d->ip);
    if (*p == '.') {
        d->fp = ++p;
        while (isdigit((unsigned char)*p))
            p++;
        d->nf = (size_t)(p - d->fp);
    }
    if (d->ni + d->nf == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (!(isdigit((unsigned char)*p) || ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]))))
            return false;
        char *end;
        errno = 0;
        d->exp10 = strtoll(p, &end, 10);
        d->exp_range = errno == ERANGE;
        p = end;
    }
    return *p == '\0';
}

ce_err conv_decimal_from_json(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    (void)depth;
    char tmp[64];
    const char *s = conv_number_text(j, tmp, sizeof tmp);
    dec_text d;
    if (!s || !split_decimal(s, &d))
        return conv_fail_invalid(c, t, j);
    if (d.exp_range)
        return conv_fail_range(c, t, j);
    long long scale = (long long)d.nf - d.exp10;
    if (scale < INT32_MIN || scale > INT32_MAX)
        return conv_fail_range(c, t, j);
    size_t nd = d.ni + d.nf;
    char small[256]; /* the unscaled digits, integer then fraction part */
    char *dg = nd <= sizeof small ? small : malloc(nd);
    if (!dg)
        return CE_ENOMEM;
    memcpy(dg, d.ip, d.ni);
    if (d.nf)
        memcpy(dg + d.ni, d.fp, d.nf);
    ce_err e = conv_put_be(c->out, (uint32_t)(int32_t)scale, 4);
    if (!e)
        e = put_digits(c, t, dg, nd, d.neg);
    if (dg != small)
        free(dg);
    return e;
}

/* ------------------------------------------------------------------ float, double */

ce_err conv_floating_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b,
                             int depth)
{
    (void)depth;
    if (t->kind == CQL_T_FLOAT) {
        if (len != 4)
            return CE_EPROTO;
        uint32_t u = conv_rd32(p);
        float f;
        memcpy(&f, &u, sizeof f);
        if (f == 0 && signbit(f))
            return ce_buf_append_str(b, "-0.0"); /* "-0" would read back as integer 0 */
        return jsonw_float(b, f);
    }
    if (len != 8)
        return CE_EPROTO;
    uint64_t u = conv_rd64(p);
    double d;
    memcpy(&d, &u, sizeof d);
    if (d == 0 && signbit(d))
        return ce_buf_append_str(b, "-0.0");
    return jsonw_double(b, d);
}

/* "NaN", "Infinity", ... or a plain number text; false when s is neither. */
static bool parse_float_text(const char *s, double *d, bool *range)
{
    *range = false;
    if (strcmp(s, "NaN") == 0 || strcasecmp(s, "nan") == 0) {
        *d = NAN;
    } else if (strcasecmp(s, "Infinity") == 0 || strcasecmp(s, "+Infinity") == 0 ||
               strcasecmp(s, "inf") == 0) {
        *d = INFINITY;
    } else if (strcasecmp(s, "-Infinity") == 0 || strcasecmp(s, "-inf") == 0) {
        *d = -INFINITY;
    } else {
        char *end;
        /* numbers only: strtod would also take "nan(...)", hex floats, spaces */
        if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
            return false;
        errno = 0;
        *d = strtod(s, &end);
        if (*end || end == s)
            return false;
        *range = errno == ERANGE && isinf(*d);
    }
    return true;
}

ce_err conv_floating_from_json(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    (void)depth;
    double d;
    if (json_is_integer(j)) {
        d = (double)json_integer_value(j);
    } else if (json_is_real(j)) {
        d = json_real_value(j);
    } else if (json_is_string(j)) {
        bool range;
        if (!parse_float_text(json_string_value(j), &d, &range))
            return conv_fail_invalid(c, t, j);
        if (range)
            return conv_fail_range(c, t, j);
    } else {
        return conv_fail_invalid(c, t, j);
    }
    if (t->kind == CQL_T_FLOAT) {
        float f = (float)d;
        if (isinf(f) && isfinite(d))
            return conv_fail_range(c, t, j);
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        return conv_put_be(c->out, u, 4);
    }
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return conv_put_be(c->out, u, 8);
}
