/*
 * jsonw.c - escaping and number formatting for the JSON writer (see jsonw.h).
 *
 * The string path scans for the next byte that needs attention (a quote, a
 * backslash, a control character, DEL or a non-ASCII byte) eight bytes at a time
 * (clean_run), then by a 256-entry table, and copies the clean run in one memcpy;
 * multi-byte UTF-8 is validated per RFC 3629 and passed through, broken sequences
 * become U+FFFD.
 */
#include "util/jsonw.h"
#include "util/swar.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 0 = copy as-is; 1 = needs escaping; 2 = non-ASCII lead/continuation byte. */
static const uint8_t esc_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* '"' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* '\\' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, /* DEL escaped for safety */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

static const char hexd[] = "0123456789abcdef";

/* Length of a valid UTF-8 sequence starting at s (n bytes left), or 0 if invalid. */
static size_t utf8_valid_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c >= 0xC2 && c <= 0xDF) {
        return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && s[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && s[1] >= 0xA0)
            return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xF4 && s[1] >= 0x90)
            return 0; /* > U+10FFFF */
        return 4;
    }
    return 0;
}

/* The index of the first byte at or after i that needs attention (esc_class != 0), or n.
 * Eight bytes a step while none does (the text of a row is mostly such runs: this loop was
 * the first line of C->E's profile with 1.5 KB documents), then byte by byte. */
static size_t clean_run(const uint8_t *s, size_t i, size_t n)
{
    for (;;) {
        while (n - i >= 8) {
            uint64_t x = ce_swar_load(s + i);
            if (ce_swar_json_special(x) | ce_swar_has_byte(x, 0x7F)) /* DEL is escaped too */
                break;
            i += 8;
        }
        size_t stop = n - i >= 8 ? i + 8 : n;
        while (i < stop && esc_class[s[i]] == 0)
            i++;
        if (i < stop || i >= n)
            return i;
    }
}

ce_err jsonw_string_body(ce_buf *b, const char *str, size_t n)
{
    const uint8_t *s = (const uint8_t *)str;
    /* Worst case is 6 output bytes per input byte; reserve the common case only. */
    ce_err e = ce_buf_reserve(b, n + 2);
    if (e)
        return e;
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        i = clean_run(s, i, n);
        if (i > start && (e = ce_buf_append(b, s + start, i - start)))
            return e;
        if (i >= n)
            break;
        uint8_t c = s[i];
        if (esc_class[c] == 1) {
            char tmp[6];
            size_t tl = 2;
            tmp[0] = '\\';
            switch (c) {
            case '"': tmp[1] = '"'; break;
            case '\\': tmp[1] = '\\'; break;
            case '\n': tmp[1] = 'n'; break;
            case '\r': tmp[1] = 'r'; break;
            case '\t': tmp[1] = 't'; break;
            case '\b': tmp[1] = 'b'; break;
            case '\f': tmp[1] = 'f'; break;
            default:
                tmp[1] = 'u';
                tmp[2] = '0';
                tmp[3] = '0';
                tmp[4] = hexd[c >> 4];
                tmp[5] = hexd[c & 15];
                tl = 6;
            }
            if ((e = ce_buf_append(b, tmp, tl)))
                return e;
            i++;
        } else {
            size_t l = utf8_valid_len(s + i, n - i);
            if (l) {
                if ((e = ce_buf_append(b, s + i, l)))
                    return e;
                i += l;
            } else {
                if ((e = ce_buf_append(b, "\xEF\xBF\xBD", 3)))
                    return e;
                i++;
            }
        }
    }
    return CE_OK;
}

ce_err jsonw_string(ce_buf *b, const char *s, size_t n)
{
    ce_err e = ce_buf_append_byte(b, '"');
    if (!e)
        e = jsonw_string_body(b, s, n);
    if (!e)
        e = ce_buf_append_byte(b, '"');
    return e;
}

ce_err jsonw_key(ce_buf *b, const char *k, size_t n)
{
    ce_err e = jsonw_string(b, k, n);
    if (!e)
        e = ce_buf_append_byte(b, ':');
    return e;
}

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

size_t jsonw_fmt_uint64(char *out, uint64_t v)
{
    char tmp[24];
    size_t p = sizeof tmp;
    while (v >= 100) { /* two digits a division */
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        tmp[--p] = digit_pairs[2 * r + 1];
        tmp[--p] = digit_pairs[2 * r];
    }
    if (v >= 10) {
        tmp[--p] = digit_pairs[2 * v + 1];
        tmp[--p] = digit_pairs[2 * v];
    } else {
        tmp[--p] = (char)('0' + v);
    }
    size_t n = sizeof tmp - p;
    memcpy(out, tmp + p, n);
    out[n] = '\0';
    return n;
}

size_t jsonw_fmt_int64(char *out, int64_t v)
{
    if (v < 0) {
        out[0] = '-';
        return 1 + jsonw_fmt_uint64(out + 1, (uint64_t)0 - (uint64_t)v);
    }
    return jsonw_fmt_uint64(out, (uint64_t)v);
}

ce_err jsonw_int64(ce_buf *b, int64_t v)
{
    char tmp[24];
    size_t n = jsonw_fmt_int64(tmp, v);
    return ce_buf_append(b, tmp, n);
}

ce_err jsonw_uint64(ce_buf *b, uint64_t v)
{
    char tmp[24];
    size_t n = jsonw_fmt_uint64(tmp, v);
    return ce_buf_append(b, tmp, n);
}

static ce_err write_nonfinite(ce_buf *b, double v)
{
    if (isnan(v))
        return ce_buf_append_str(b, "\"NaN\"");
    return ce_buf_append_str(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
}

/*
 * Shortest decimal that reads back as the same binary value (the free-format digit
 * generation of Steele & White / Dragon4), done exactly in 128-bit integers for the
 * values where that fits: value = f * 2^e with -120 <= e < 0 (about 1e-21 <= |v| < 2^53
 * for doubles). Everything is scaled by S = 2^(2-e): the value is R/S and the rounding
 * interval is (R - M-, R + M+) / S, closed when f is even (round-half-even readers
 * map the boundaries to us). Returns the length written to out, or 0 when the value
 * is outside the fast range (the caller then uses the printf path).
 */
static size_t shortest_digits(uint64_t f, int e, bool lower_closer, char *out)
{
    if (e >= 0 || e < -120)
        return 0;
    typedef unsigned __int128 u128;
    u128 S = (u128)1 << (2 - e);
    u128 R = (u128)f << 2;
    u128 Mp = 2, Mm = lower_closer ? 1 : 2;
    bool even = (f & 1) == 0;
    uint64_t ip = (uint64_t)(R / S);
    R %= S;
    char frac[64];
    size_t nf = 0;
    for (;;) {
        bool low = even ? R <= Mm : R < Mm;
        bool high = even ? R + Mp >= S : R + Mp > S;
        if (low || high) {
            bool up = high && (!low || 2 * R > S || (2 * R == S && nf && ((frac[nf - 1] - '0') & 1)));
            if (up) {
                if (nf == 0)
                    ip++;
                else
                    frac[nf - 1]++; /* never passes '9': the previous step would have stopped */
            }
            break;
        }
        if (nf == sizeof frac)
            return 0;
        R *= 10;
        Mp *= 10;
        Mm *= 10;
        frac[nf++] = (char)('0' + (int)(R / S));
        R %= S;
    }
    size_t n = jsonw_fmt_uint64(out, ip);
    if (nf) {
        out[n++] = '.';
        memcpy(out + n, frac, nf);
        n += nf;
    }
    out[n] = '\0';
    return n;
}

static ce_err write_digits(ce_buf *b, bool neg, const char *digits, size_t n)
{
    ce_err e = CE_OK;
    if (neg)
        e = ce_buf_append_byte(b, '-');
    return e ? e : ce_buf_append(b, digits, n);
}

/*
 * The common paths of jsonw_double and jsonw_float for |v| = a, a value with a `bits`-bit
 * mantissa (53 or 24) whose normal exponents lie above min_exp: zero, integers below
 * 2^bits, and the exact shortest digits. false (nothing written) when the caller must use
 * its printf fallback (huge, tiny, subnormal: rare).
 */
static bool write_fast(ce_buf *b, bool neg, double a, int bits, int min_exp, ce_err *e)
{
    char tmp[80];
    if (a == 0) {
        *e = ce_buf_append_str(b, neg ? "-0.0" : "0");
        return true;
    }
    if (a < (double)(1ULL << bits) && a == (double)(uint64_t)a) { /* integral, below 2^bits */
        *e = write_digits(b, neg, tmp, jsonw_fmt_uint64(tmp, (uint64_t)a));
        return true;
    }
    int exp2;
    double m = frexp(a, &exp2); /* a = m * 2^exp2, 0.5 <= m < 1 */
    if (exp2 > min_exp) {       /* normal: a full mantissa */
        uint64_t f = (uint64_t)ldexp(m, bits);
        size_t n = shortest_digits(f, exp2 - bits, f == (1ULL << (bits - 1)), tmp);
        if (n) {
            *e = write_digits(b, neg, tmp, n);
            return true;
        }
    }
    return false;
}

ce_err jsonw_double(ce_buf *b, double v)
{
    if (!isfinite(v))
        return write_nonfinite(b, v);
    ce_err e;
    if (write_fast(b, signbit(v), fabs(v), 53, -1021, &e))
        return e;
    /* fewest %g digits that read back */
    char tmp[80];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    return ce_buf_append_str(b, tmp);
}

ce_err jsonw_float(ce_buf *b, float v)
{
    if (!isfinite(v))
        return write_nonfinite(b, (double)v);
    ce_err e;
    if (write_fast(b, signbit(v), fabs((double)v), 24, -125, &e))
        return e;
    char tmp[80];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, (double)v);
        if (strtof(tmp, NULL) == v)
            break;
    }
    return ce_buf_append_str(b, tmp);
}

ce_err jsonw_bool(ce_buf *b, bool v) { return ce_buf_append_str(b, v ? "true" : "false"); }

ce_err jsonw_null(ce_buf *b) { return ce_buf_append(b, "null", 4); }

ce_err jsonw_base64(ce_buf *b, const uint8_t *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    ce_err e = ce_buf_reserve(b, (n + 2) / 3 * 4 + 2);
    if (e)
        return e;
    char *o = b->data + b->len;
    *o++ = '"';
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = tbl[v >> 18];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = tbl[(v >> 6) & 63];
        *o++ = tbl[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = tbl[v >> 18];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = tbl[v >> 18];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = tbl[(v >> 6) & 63];
        *o++ = '=';
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    return CE_OK;
}
