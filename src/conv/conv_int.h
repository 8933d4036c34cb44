/*
 * conv_int.h - private to src/conv: the per-type conversion functions the dispatcher
 * (conv.c) calls through cql/type_table.h, the error helpers they share, big-endian
 * reads, Cassandra's variable-length integers, proleptic Gregorian calendar arithmetic
 * and the limits both directions agree on. Not part of the public API (see conv.h).
 */
#ifndef CE_CONV_INT_H
#define CE_CONV_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "conv/conv.h"

/* Deepest nesting of collection/tuple/udt/vector values either codec descends into. */
#define CONV_MAX_DEPTH 64

/* Decimal scales in [-CONV_DECIMAL_PLAIN_MAX_SCALE..] use plain notation, see docs/types.md. */
#define CONV_DECIMAL_PLAIN_MAX_SCALE 64

/* Nanoseconds in a day: the exclusive upper bound of a time value. */
#define CONV_NANOS_PER_DAY INT64_C(86400000000000)
/* The uint32 date value of 1970-01-01. */
#define CONV_DATE_EPOCH UINT32_C(0x80000000)

static inline uint16_t conv_rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t conv_rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t conv_rd64(const uint8_t *p)
{
    return ((uint64_t)conv_rd32(p) << 32) | conv_rd32(p + 4);
}

/*
 * Cassandra's unsigned vint (VIntCoding): the count of leading 1 bits of the first
 * byte is the number of extra bytes (0..8) that follow, big-endian; the remaining
 * bits of the first byte are the value's top bits. Returns the bytes consumed, 0 on
 * truncated input.
 */
static inline size_t conv_uvint_read(const uint8_t *p, size_t n, uint64_t *out)
{
    if (n == 0)
        return 0;
    uint8_t first = p[0];
    size_t extra = 0;
    while (extra < 8 && (first & (0x80u >> extra)))
        extra++;
    if (n < extra + 1)
        return 0;
    uint64_t v = extra == 8 ? 0 : (uint64_t)(first & (0xFFu >> extra));
    for (size_t i = 1; i <= extra; i++)
        v = (v << 8) | p[i];
    *out = v;
    return extra + 1;
}

/* Encode v as an unsigned vint into out (at least 9 bytes); returns the length. */
static inline size_t conv_uvint_write(uint64_t v, uint8_t *out)
{
    size_t extra = 0;
    /* with `extra` extra bytes the value may use 7 - extra + 8 * extra bits */
    while (extra < 8 && (v >> (7 + 7 * extra)) != 0)
        extra++;
    if (extra >= 8) {
        out[0] = 0xFF;
        for (int i = 0; i < 8; i++)
            out[1 + i] = (uint8_t)(v >> (56 - 8 * i));
        return 9;
    }
    for (size_t i = 0; i < extra; i++)
        out[extra - i] = (uint8_t)(v >> (8 * i));
    uint8_t top = (uint8_t)(v >> (8 * extra));
    out[0] = (uint8_t)((0xFF00u >> extra) & 0xFF) | top;
    return extra + 1;
}

static inline int64_t conv_zigzag_decode(uint64_t n) { return (int64_t)(n >> 1) ^ -(int64_t)(n & 1); }
static inline uint64_t conv_zigzag_encode(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (any year in int64 range / 400). */
static inline int64_t conv_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

/* Inverse of conv_days_from_civil. */
static inline void conv_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yy + (*m <= 2);
}

static inline bool conv_is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
static inline unsigned conv_days_in_month(int64_t y, unsigned m)
{
    static const unsigned dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && conv_is_leap(y) ? 29 : dm[m - 1];
}

/* ------------------------------------------------------------------ dispatch */

/* One conversion in progress from JSON: where the bytes go, where a reason goes. */
typedef struct {
    ce_buf *out;
    ce_buf *err; /* may be NULL */
} conv_ctx;

/* Bytes -> JSON of one value of one kind (len >= 0; 0 only for text/blob kinds). */
typedef ce_err conv_to_json_fn(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b,
                               int depth);
/* JSON (never null) -> bytes of one value of one kind, appended to c->out. */
typedef ce_err conv_from_json_fn(conv_ctx *c, const cql_type *t, const json_t *j, int depth);

#define CONV_DECLARE(NAME, id, cql, marshal, form, fixed, es, stem) \
    conv_to_json_fn conv_##stem##_to_json;                          \
    conv_from_json_fn conv_##stem##_from_json;
CQL_TYPE_TABLE(CONV_DECLARE)
#undef CONV_DECLARE

/* Nested values (collection elements, fields) go back through the dispatcher. */
ce_err conv_to_json_at(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth);
ce_err conv_from_json_at(conv_ctx *c, const cql_type *t, const json_t *j, int depth);

/* ------------------------------------------------------------------ errors (conv.c) */

/* Each sets c->err (when not NULL) and returns CE_ECONVERT. */
/* "<prefix><value><middle><type>": e.g. "value 300 out of range for tinyint". */
ce_err conv_fail_val(conv_ctx *c, const cql_type *t, const json_t *j, const char *prefix,
                     const char *middle);
/* "value <v> out of range for <type>" */
ce_err conv_fail_range(conv_ctx *c, const cql_type *t, const json_t *j);
/* "<v> is not a valid <type>" */
ce_err conv_fail_invalid(conv_ctx *c, const cql_type *t, const json_t *j);
/* printf-formatted text followed by the type. */
ce_err conv_fail_msg(conv_ctx *c, const cql_type *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append the low n bytes of v big-endian. */
ce_err conv_put_be(ce_buf *b, uint64_t v, int n);

/* ------------------------------------------------------------------ numbers (num.c) */

/* Strict decimal integer text [+-]digits (whole string) into *v; *overflow on ERANGE.
 * false when s is not such a text. */
bool conv_parse_int_text(const char *s, int64_t *v, bool *overflow);
/* An integer in [min, max] from a JSON integer, integral real or numeric string. */
ce_err conv_json_int(conv_ctx *c, const cql_type *t, const json_t *j, int64_t min, int64_t max,
                     int64_t *out);
/* Text of a JSON number or string (numbers printed into tmp); NULL for others. */
const char *conv_number_text(const json_t *j, char *tmp, size_t n);

#endif
