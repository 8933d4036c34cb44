/*
 * jsonw.h - the hot-path JSON writer.
 *
 * Writes JSON tokens straight into a ce_buf: no tree, no per-value allocation.
 * The caller is responsible for structure (commas, colons, brackets); these
 * helpers write single tokens correctly:
 *  - strings are escaped per RFC 8259 (quote, backslash, control characters as
 *    \n \t ... or \u00XX); invalid UTF-8 sequences (overlongs, surrogates,
 *    truncated, > U+10FFFF) are replaced by U+FFFD so the output is always valid
 *    UTF-8 JSON;
 *  - integers are exact; doubles use the shortest form that reads back the same
 *    value (%.17g fallback), NaN/Infinity (not JSON) are written as strings
 *    "NaN", "Infinity", "-Infinity".
 * All functions return CE_OK, CE_ENOMEM or CE_ELIMIT (buffer cap); on failure the
 * buffer may hold a partial token, so callers roll back by resetting len.
 */
#ifndef CE_JSONW_H
#define CE_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/buf.h"

/* "..." with escaping of n bytes at s. */
ce_err jsonw_string(ce_buf *b, const char *s, size_t n);
/* Escaped contents without the surrounding quotes. */
ce_err jsonw_string_body(ce_buf *b, const char *s, size_t n);
static inline ce_err jsonw_cstr(ce_buf *b, const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return jsonw_string(b, s, n);
}
ce_err jsonw_int64(ce_buf *b, int64_t v);
ce_err jsonw_uint64(ce_buf *b, uint64_t v);
ce_err jsonw_double(ce_buf *b, double v);
/* Float written with the shortest form that round-trips as a float (32-bit). */
ce_err jsonw_float(ce_buf *b, float v);
ce_err jsonw_bool(ce_buf *b, bool v);
ce_err jsonw_null(ce_buf *b);
/* Raw bytes appended as-is (already valid JSON). */
static inline ce_err jsonw_raw(ce_buf *b, const char *s, size_t n) { return ce_buf_append(b, s, n); }
/* "key": (escaped key, then colon). */
ce_err jsonw_key(ce_buf *b, const char *k, size_t n);
/* Base64 (RFC 4648, with padding) of n bytes as a JSON string. */
ce_err jsonw_base64(ce_buf *b, const uint8_t *p, size_t n);

/* Decimal digits of v into out (at least 21 bytes); returns the length. */
size_t jsonw_fmt_int64(char *out, int64_t v);
size_t jsonw_fmt_uint64(char *out, uint64_t v);

#endif
