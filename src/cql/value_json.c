/*
 * value_json.c - the JSON form of serialized CQL values (cql_value_to_json).
 *
 * Reads the wire bytes of one value of a known type and writes its JSON form
 * straight into a ce_buf: no tree, no allocation besides the buffer's growth (big
 * varints are converted to decimal using spare room of the output buffer as
 * scratch). Every form is exact and is read back by cql_value_from_json to the same
 * bytes; docs/types.md is the user-facing reference of the forms. Malformed bytes
 * (wrong fixed lengths, truncated collections, trailing garbage, nesting beyond
 * CQL_VALUE_MAX_DEPTH) give CE_EPROTO and leave the buffer as it was.
 */
#include "cql/cql.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cql/value_int.h"
#include "util/jsonw.h"

static ce_err value_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth);

/* ------------------------------------------------------------------ numbers */

/*
 * Decimal text of a two's complement big-endian integer of n bytes (n >= 1), with
 * a leading '-' when negative. Uses the spare capacity of b as scratch: the
 * magnitude is copied behind the digit area and divided by 10^9 repeatedly.
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
    size_t maxd = n * 3 + 2; /* 8 bits < 2.41 decimal digits; + sign */
    ce_err e = ce_buf_reserve(b, maxd + n);
    if (e)
        return e;
    char *digits = b->data + b->len;
    uint8_t *mag = (uint8_t *)digits + maxd;
    memcpy(mag, p, n);
    if (neg) { /* magnitude = two's complement negation */
        unsigned carry = 1;
        for (size_t i = n; i-- > 0;) {
            unsigned v = (uint8_t)~mag[i] + carry;
            mag[i] = (uint8_t)v;
            carry = v >> 8;
        }
    }
    size_t start = 0; /* first non-zero byte of mag */
    size_t pos = maxd; /* digits are written backwards ending at digits[maxd) */
    while (start < n && mag[start] == 0)
        start++;
    while (start < n) {
        uint64_t rem = 0;
        for (size_t i = start; i < n; i++) {
            uint64_t cur = (rem << 8) | mag[i];
            mag[i] = (uint8_t)(cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        while (start < n && mag[start] == 0)
            start++;
        for (int k = 0; k < 9; k++) {
            if (start >= n && rem == 0)
                break; /* no leading zeros on the most significant chunk */
            digits[--pos] = (char)('0' + rem % 10);
            rem /= 10;
        }
    }
    if (pos == maxd)
        digits[--pos] = '0';
    if (neg)
        digits[--pos] = '-';
    size_t nd = maxd - pos;
    memmove(digits, digits + pos, nd);
    b->len += nd;
    return CE_OK;
}

/* decimal = [int scale][varint unscaled]; see docs/types.md for the notation. */
static ce_err decimal_json(ce_buf *b, const uint8_t *p, int32_t len)
{
    if (len < 5)
        return CE_EPROTO;
    int32_t scale = (int32_t)cqlv_rd32(p);
    size_t mark = b->len;
    ce_err e = varint_digits(b, p + 4, (size_t)len - 4);
    if (e || scale == 0)
        return e;
    if (scale < 0 || scale > CQL_DECIMAL_PLAIN_MAX_SCALE) {
        /* exponent notation keeps the scale exactly: 12345E+2, 1E-100 */
        return ce_buf_printf(b, "E%+lld", -(long long)scale);
    }
    /* plain notation: insert the point, padding with zeros as needed */
    char *s = b->data + mark;
    bool neg = s[0] == '-';
    size_t nd = b->len - mark - (neg ? 1 : 0);
    size_t sc = (size_t)scale;
    if (nd > sc) {
        if ((e = ce_buf_reserve(b, 1)))
            return e;
        s = b->data + mark + (neg ? 1 : 0);
        memmove(s + nd - sc + 1, s + nd - sc, sc);
        s[nd - sc] = '.';
        b->len += 1;
    } else {
        size_t pad = sc - nd + 2; /* "0." and zeros */
        if ((e = ce_buf_reserve(b, pad)))
            return e;
        s = b->data + mark + (neg ? 1 : 0);
        memmove(s + pad, s, nd);
        s[0] = '0';
        s[1] = '.';
        memset(s + 2, '0', pad - 2);
        b->len += pad;
    }
    return CE_OK;
}

/* ------------------------------------------------------------------ time */

static ce_err put_date_part(ce_buf *b, int64_t days)
{
    int64_t y;
    unsigned m, d;
    cqlv_civil_from_days(days, &y, &m, &d);
    if (y >= 0 && y <= 9999)
        return ce_buf_printf(b, "%04lld-%02u-%02u", (long long)y, m, d);
    /* ISO 8601 expanded year: sign and at least six digits */
    return ce_buf_printf(b, "%c%06llu-%02u-%02u", y < 0 ? '-' : '+',
                         (unsigned long long)(y < 0 ? -(uint64_t)y : (uint64_t)y), m, d);
}

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

static ce_err timestamp_json(ce_buf *b, int64_t ms)
{
    int64_t days = floor_div(ms, 86400000);
    int64_t msod = ms % 86400000;
    if (msod < 0)
        msod += 86400000;
    int64_t y;
    unsigned m, d;
    cqlv_civil_from_days(days, &y, &m, &d);
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

static ce_err time_json(ce_buf *b, int64_t ns)
{
    if (ns < 0 || ns >= CQL_NANOS_PER_DAY)
        return CE_EPROTO;
    int64_t s = ns / 1000000000;
    return ce_buf_printf(b, "\"%02u:%02u:%02u.%09u\"", (unsigned)(s / 3600), (unsigned)(s / 60 % 60),
                         (unsigned)(s % 60), (unsigned)(ns % 1000000000));
}

/* duration = [vint months][vint days][vint nanoseconds], CQL text "1y2mo3d4h5m6s7ms8us9ns". */
static ce_err duration_json(ce_buf *b, const uint8_t *p, int32_t len)
{
    int64_t v[3];
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t u;
        size_t k = cqlv_uvint_read(p + off, (size_t)len - off, &u);
        if (!k)
            return CE_EPROTO;
        off += k;
        v[i] = cqlv_zigzag_decode(u);
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

/* ------------------------------------------------------------------ scalars */

static ce_err uuid_json(ce_buf *b, const uint8_t *p)
{
    static const char hx[] = "0123456789abcdef";
    char s[38];
    size_t k = 0;
    s[k++] = '"';
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            s[k++] = '-';
        s[k++] = hx[p[i] >> 4];
        s[k++] = hx[p[i] & 15];
    }
    s[k++] = '"';
    return ce_buf_append(b, s, k);
}

static ce_err inet_json(ce_buf *b, const uint8_t *p, int32_t len)
{
    char s[INET6_ADDRSTRLEN + 2];
    if (len != 4 && len != 16)
        return CE_EPROTO;
    if (!inet_ntop(len == 4 ? AF_INET : AF_INET6, p, s, sizeof s))
        return CE_EPROTO;
    return jsonw_cstr(b, s);
}

static ce_err fixed_len(int32_t len, int32_t want)
{
    return len == want ? CE_OK : CE_EPROTO;
}

/* ------------------------------------------------------------------ composites */

/* Reads [int len][bytes] at *off of a value of n bytes. */
static ce_err read_elem(const uint8_t *p, size_t n, size_t *off, const uint8_t **ep, int32_t *elen)
{
    if (n - *off < 4)
        return CE_EPROTO;
    int32_t l = (int32_t)cqlv_rd32(p + *off);
    *off += 4;
    if (l < 0) {
        *ep = NULL;
        *elen = CQL_NULL;
        return CE_OK;
    }
    if ((size_t)l > n - *off)
        return CE_EPROTO;
    *ep = p + *off;
    *elen = l;
    *off += (size_t)l;
    return CE_OK;
}

static bool text_like(const cql_type *t)
{
    return t->kind == CQL_T_VARCHAR || t->kind == CQL_T_ASCII;
}

static ce_err collection_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b,
                              int depth)
{
    size_t n = (size_t)len, off = 0;
    bool is_map = t->kind == CQL_T_MAP;
    if (t->nsub != (is_map ? 2u : 1u) || n < 4)
        return CE_EPROTO;
    int32_t count = (int32_t)cqlv_rd32(p);
    off = 4;
    if (count < 0 || (size_t)count > (n - 4) / (is_map ? 8 : 4))
        return CE_EPROTO; /* each element needs at least its 4-byte length */
    bool as_object = is_map && text_like(t->sub[0]);
    ce_err e = ce_buf_append_byte(b, as_object ? '{' : '[');
    for (int32_t i = 0; i < count && !e; i++) {
        const uint8_t *ep;
        int32_t el;
        if (i)
            e = ce_buf_append_byte(b, ',');
        if (!e)
            e = read_elem(p, n, &off, &ep, &el);
        if (e)
            break;
        if (!is_map) {
            e = value_json(t->sub[0], ep, el, b, depth + 1);
            continue;
        }
        if (as_object) {
            if (el < 0)
                return CE_EPROTO; /* a null key cannot be an object key */
            e = jsonw_string(b, (const char *)ep, (size_t)el);
            if (!e)
                e = ce_buf_append_byte(b, ':');
        } else {
            e = ce_buf_append_byte(b, '[');
            if (!e)
                e = value_json(t->sub[0], ep, el, b, depth + 1);
            if (!e)
                e = ce_buf_append_byte(b, ',');
        }
        if (!e)
            e = read_elem(p, n, &off, &ep, &el);
        if (!e)
            e = value_json(t->sub[1], ep, el, b, depth + 1);
        if (!e && !as_object)
            e = ce_buf_append_byte(b, ']');
    }
    if (!e && off != n)
        e = CE_EPROTO;
    if (!e)
        e = ce_buf_append_byte(b, as_object ? '}' : ']');
    return e;
}

/* Tuples and UDTs: [bytes] per field; a value may stop early (fields added later). */
static ce_err fields_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    bool udt = t->kind == CQL_T_UDT;
    size_t n = (size_t)len, off = 0;
    if (udt && !t->field_names && t->nsub)
        return CE_EPROTO;
    ce_err e = ce_buf_append_byte(b, udt ? '{' : '[');
    for (size_t i = 0; i < t->nsub && !e; i++) {
        const uint8_t *ep = NULL;
        int32_t el = CQL_NULL;
        if (i)
            e = ce_buf_append_byte(b, ',');
        if (!e && udt) {
            const char *fn = t->field_names[i] ? t->field_names[i] : "";
            e = jsonw_key(b, fn, strlen(fn));
        }
        if (!e && off < n)
            e = read_elem(p, n, &off, &ep, &el);
        if (!e)
            e = value_json(t->sub[i], ep, el, b, depth + 1);
    }
    if (!e && off != n)
        e = CE_EPROTO;
    if (!e)
        e = ce_buf_append_byte(b, udt ? '}' : ']');
    return e;
}

static ce_err vector_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    if (t->nsub != 1 || t->dimension == 0)
        return CE_EPROTO;
    int es = cql_type_fixed_size(t->sub[0]);
    size_t n = (size_t)len, off = 0;
    if (es > 0 && (uint64_t)es * t->dimension != n)
        return CE_EPROTO;
    ce_err e = ce_buf_append_byte(b, '[');
    for (uint32_t i = 0; i < t->dimension && !e; i++) {
        if (i)
            e = ce_buf_append_byte(b, ',');
        if (e)
            break;
        if (es > 0) {
            e = value_json(t->sub[0], p + off, es, b, depth + 1);
            off += (size_t)es;
            continue;
        }
        uint64_t el;
        size_t k = cqlv_uvint_read(p + off, n - off, &el);
        if (!k || el > n - off - k)
            return CE_EPROTO;
        off += k;
        e = value_json(t->sub[0], p + off, (int32_t)el, b, depth + 1);
        off += (size_t)el;
    }
    if (!e && off != n)
        e = CE_EPROTO;
    if (!e)
        e = ce_buf_append_byte(b, ']');
    return e;
}

/* ------------------------------------------------------------------ dispatch */

static ce_err value_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    if (!t || depth > CQL_VALUE_MAX_DEPTH)
        return CE_EPROTO;
    if (len < 0 || (len > 0 && !p))
        return jsonw_null(b);
    ce_err e;
    switch (t->kind) {
    case CQL_T_ASCII:
    case CQL_T_VARCHAR:
        return jsonw_string(b, (const char *)p, (size_t)len);
    case CQL_T_BLOB:
    case CQL_T_CUSTOM:
        return jsonw_base64(b, p, (size_t)len);
    default:
        break;
    }
    /* An empty value of any other type (legal in Cassandra) reads as null, as
     * the official drivers do. */
    if (len == 0)
        return jsonw_null(b);
    switch (t->kind) {
    case CQL_T_BIGINT:
    case CQL_T_COUNTER:
        if ((e = fixed_len(len, 8)))
            return e;
        return jsonw_int64(b, (int64_t)cqlv_rd64(p));
    case CQL_T_INT:
        if ((e = fixed_len(len, 4)))
            return e;
        return jsonw_int64(b, (int32_t)cqlv_rd32(p));
    case CQL_T_SMALLINT:
        if ((e = fixed_len(len, 2)))
            return e;
        return jsonw_int64(b, (int16_t)cqlv_rd16(p));
    case CQL_T_TINYINT:
        if ((e = fixed_len(len, 1)))
            return e;
        return jsonw_int64(b, (int8_t)p[0]);
    case CQL_T_BOOLEAN:
        if ((e = fixed_len(len, 1)))
            return e;
        return jsonw_bool(b, p[0] != 0);
    case CQL_T_DOUBLE: {
        if ((e = fixed_len(len, 8)))
            return e;
        uint64_t u = cqlv_rd64(p);
        double d;
        memcpy(&d, &u, sizeof d);
        if (d == 0 && signbit(d))
            return ce_buf_append_str(b, "-0.0"); /* "-0" would read back as integer 0 */
        return jsonw_double(b, d);
    }
    case CQL_T_FLOAT: {
        if ((e = fixed_len(len, 4)))
            return e;
        uint32_t u = cqlv_rd32(p);
        float f;
        memcpy(&f, &u, sizeof f);
        if (f == 0 && signbit(f))
            return ce_buf_append_str(b, "-0.0");
        return jsonw_float(b, f);
    }
    case CQL_T_VARINT:
        return varint_digits(b, p, (size_t)len);
    case CQL_T_DECIMAL:
        return decimal_json(b, p, len);
    case CQL_T_UUID:
    case CQL_T_TIMEUUID:
        if ((e = fixed_len(len, 16)))
            return e;
        return uuid_json(b, p);
    case CQL_T_INET:
        return inet_json(b, p, len);
    case CQL_T_TIMESTAMP:
        if ((e = fixed_len(len, 8)))
            return e;
        return timestamp_json(b, (int64_t)cqlv_rd64(p));
    case CQL_T_DATE:
        if ((e = fixed_len(len, 4)))
            return e;
        if ((e = ce_buf_append_byte(b, '"')))
            return e;
        if ((e = put_date_part(b, (int64_t)cqlv_rd32(p) - (int64_t)CQL_DATE_EPOCH)))
            return e;
        return ce_buf_append_byte(b, '"');
    case CQL_T_TIME:
        if ((e = fixed_len(len, 8)))
            return e;
        return time_json(b, (int64_t)cqlv_rd64(p));
    case CQL_T_DURATION:
        return duration_json(b, p, len);
    case CQL_T_LIST:
    case CQL_T_SET:
    case CQL_T_MAP:
        return collection_json(t, p, len, b, depth);
    case CQL_T_TUPLE:
    case CQL_T_UDT:
        return fields_json(t, p, len, b, depth);
    case CQL_T_VECTOR:
        return vector_json(t, p, len, b, depth);
    default:
        return CE_EPROTO;
    }
}

ce_err cql_value_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b)
{
    size_t mark = b->len;
    ce_err e = value_json(t, p, len, b, 0);
    if (e)
        b->len = mark;
    return e;
}
