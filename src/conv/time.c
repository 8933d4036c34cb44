/*
 * time.c - dates and times both ways: timestamp, date, time and duration (see
 * docs/types.md: ISO 8601 forms, epoch numbers, CQL and ISO duration text).
 */
#include "conv/conv_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/jsonw.h"

/* ------------------------------------------------------------------ calendar text */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* Write v as exactly `width` decimal digits (v < 10^width) at out. */
static void put_fixed_digits(char *out, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

static ce_err put_date_part(ce_buf *b, int64_t days)
{
    int64_t y;
    unsigned m, d;
    conv_civil_from_days(days, &y, &m, &d);
    if (y >= 0 && y <= 9999)
        return ce_buf_printf(b, "%04lld-%02u-%02u", (long long)y, m, d);
    /* ISO 8601 expanded year: sign and at least six digits */
    return ce_buf_printf(b, "%c%06llu-%02u-%02u", y < 0 ? '-' : '+',
                         (unsigned long long)(y < 0 ? -(uint64_t)y : (uint64_t)y), m, d);
}

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
    int64_t y = 0, mo = 0, d = 0; /* set before use; initialised for -O3's flow analysis */
    if (!take_digits(&q, yd, &y))
        return false;
    y *= sign;
    if (*p++ != '-' || !take_digits(&p, 2, &mo) || *p++ != '-' || !take_digits(&p, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > conv_days_in_month(y, (unsigned)mo))
        return false;
    int64_t days = conv_days_from_civil(y, (unsigned)mo, (unsigned)d);
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

/* ------------------------------------------------------------------ timestamp */

static ce_err timestamp_json(ce_buf *b, int64_t ms)
{
    int64_t days = floor_div(ms, 86400000);
    int64_t msod = ms % 86400000;
    if (msod < 0)
        msod += 86400000;
    int64_t y;
    unsigned m, d;
    conv_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        return jsonw_int64(b, ms); /* outside ISO's 4-digit years: epoch milliseconds */
    /* "YYYY-MM-DDTHH:MM:SS.mmmZ" by hand: this runs for every timestamp cell of the hot path */
    char t[26] = "\"0000-00-00T00:00:00.000Z\"";
    put_fixed_digits(t + 1, (unsigned)y, 4);
    put_fixed_digits(t + 6, m, 2);
    put_fixed_digits(t + 9, d, 2);
    put_fixed_digits(t + 12, (unsigned)(msod / 3600000), 2);
    put_fixed_digits(t + 15, (unsigned)(msod / 60000 % 60), 2);
    put_fixed_digits(t + 18, (unsigned)(msod / 1000 % 60), 2);
    put_fixed_digits(t + 21, (unsigned)(msod % 1000), 3);
    return ce_buf_append(b, t, sizeof t);
}

ce_err conv_timestamp_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b,
                              int depth)
{
    (void)t;
    (void)depth;
    if (len != 8)
        return CE_EPROTO;
    return timestamp_json(b, (int64_t)conv_rd64(p));
}

ce_err conv_timestamp_from_json(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    (void)depth;
    int64_t ms;
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        bool ht, ovf;
        if (conv_parse_int_text(s, &ms, &ovf)) {
            if (ovf)
                return conv_fail_range(c, t, j);
        } else if (!parse_iso(s, &ms, &ht)) {
            return conv_fail_invalid(c, t, j);
        }
    } else {
        ce_err e = conv_json_int(c, t, j, INT64_MIN, INT64_MAX, &ms);
        if (e)
            return e;
    }
    return conv_put_be(c->out, (uint64_t)ms, 8);
}

/* ------------------------------------------------------------------ date */

ce_err conv_date_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    (void)t;
    (void)depth;
    if (len != 4)
        return CE_EPROTO;
    ce_err e = ce_buf_append_byte(b, '"');
    if (!e)
        e = put_date_part(b, (int64_t)conv_rd32(p) - (int64_t)CONV_DATE_EPOCH);
    return e ? e : ce_buf_append_byte(b, '"');
}

ce_err conv_date_from_json(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    (void)depth;
    int64_t days;
    bool ovf, ht;
    if (json_is_string(j) && !conv_parse_int_text(json_string_value(j), &days, &ovf)) {
        int64_t ms;
        if (!parse_iso(json_string_value(j), &ms, &ht))
            return conv_fail_invalid(c, t, j);
        if (ms % 86400000 != 0)
            return conv_fail_val(c, t, j, "", " has a time of day, not a valid ");
        days = ms / 86400000;
    } else {
        ce_err e = conv_json_int(c, t, j, INT64_MIN, INT64_MAX, &days);
        if (e)
            return e;
    }
    if (days < INT32_MIN || days > INT32_MAX)
        return conv_fail_range(c, t, j);
    return conv_put_be(c->out, (uint32_t)(days + (int64_t)CONV_DATE_EPOCH), 4);
}

/* ------------------------------------------------------------------ time */

static ce_err time_json(ce_buf *b, int64_t ns)
{
    if (ns < 0 || ns >= CONV_NANOS_PER_DAY)
        return CE_EPROTO;
    int64_t s = ns / 1000000000;
    return ce_buf_printf(b, "\"%02u:%02u:%02u.%09u\"", (unsigned)(s / 3600), (unsigned)(s / 60 % 60),
                         (unsigned)(s % 60), (unsigned)(ns % 1000000000));
}

ce_err conv_time_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    (void)t;
    (void)depth;
    if (len != 8)
        return CE_EPROTO;
    return time_json(b, (int64_t)conv_rd64(p));
}

ce_err conv_time_from_json(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    (void)depth;
    int64_t ns;
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        bool ovf;
        if (!conv_parse_int_text(s, &ns, &ovf)) {
            if (!parse_clock(&s, &ns) || *s)
                return conv_fail_invalid(c, t, j);
        } else if (ovf) {
            return conv_fail_range(c, t, j);
        }
    } else {
        ce_err e = conv_json_int(c, t, j, INT64_MIN, INT64_MAX, &ns);
        if (e)
            return e;
    }
    if (ns < 0 || ns >= CONV_NANOS_PER_DAY)
        return conv_fail_range(c, t, j);
    return conv_put_be(c->out, (uint64_t)ns, 8);
}

/* ------------------------------------------------------------------ duration */

/* duration = [vint months][vint days][vint nanoseconds], CQL text "1y2mo3d4h5m6s7ms8us9ns". */
ce_err conv_duration_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b,
                             int depth)
{
    (void)t;
    (void)depth;
    int64_t v[3];
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t u;
        size_t k = conv_uvint_read(p + off, (size_t)len - off, &u);
        if (!k)
            return CE_EPROTO;
        off += k;
        v[i] = conv_zigzag_decode(u);
    }
    if (off != (size_t)len)
        return CE_EPROTO;
    if (v[0] < INT32_MIN || v[0] > INT32_MAX || v[1] < INT32_MIN || v[1] > INT32_MAX)
        return CE_EPROTO;
    bool neg = v[0] < 0 || v[1] < 0 || v[2] < 0;
    bool pos = v[0] > 0 || v[1] > 0 || v[2] > 0;
    if (neg && pos)
        return CE_EPROTO; /* Cassandra requires one sign for all parts */
    uint64_t months = neg ? -(uint64_t)v[0] : (uint64_t)v[0];
    uint64_t days = neg ? -(uint64_t)v[1] : (uint64_t)v[1];
    uint64_t ns = neg ? -(uint64_t)v[2] : (uint64_t)v[2];
    ce_err e = ce_buf_append_str(b, neg ? "\"-" : "\"");
    if (!months && !days && !ns && !e)
        e = ce_buf_append_str(b, "0s");
    const struct {
        uint64_t v;
        const char *unit;
    } parts[] = {
        {months / 12, "y"},
        {months % 12, "mo"},
        {days, "d"},
        {ns / UINT64_C(3600000000000), "h"},
        {ns / UINT64_C(60000000000) % 60, "m"},
        {ns / 1000000000 % 60, "s"},
        {ns / 1000000 % 1000, "ms"},
        {ns / 1000 % 1000, "us"},
        {ns % 1000, "ns"},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0] && !e; i++)
        if (parts[i].v)
            e = ce_buf_printf(b, "%llu%s", (unsigned long long)parts[i].v, parts[i].unit);
    if (!e)
        e = ce_buf_append_byte(b, '"');
    return e;
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

ce_err conv_duration_from_json(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    (void)depth;
    if (!json_is_string(j))
        return conv_fail_invalid(c, t, j);
    const char *s = json_string_value(j);
    bool neg = *s == '-';
    if (neg)
        s++;
    int64_t mo = 0, d = 0, ns = 0;
    bool ok = *s == 'P' ? parse_duration_iso(s, &mo, &d, &ns) : parse_duration_cql(s, &mo, &d, &ns);
    if (!ok)
        return conv_fail_invalid(c, t, j);
    if (mo > INT32_MAX || d > INT32_MAX)
        return conv_fail_range(c, t, j);
    if (neg) {
        mo = -mo;
        d = -d;
        ns = -ns;
    }
    uint8_t tmp[27];
    size_t k = conv_uvint_write(conv_zigzag_encode(mo), tmp);
    k += conv_uvint_write(conv_zigzag_encode(d), tmp + k);
    k += conv_uvint_write(conv_zigzag_encode(ns), tmp + k);
    return ce_buf_append(c->out, tmp, k);
}
