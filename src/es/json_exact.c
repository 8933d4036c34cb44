/*
 * json_exact.c - JSON text from Elasticsearch read without losing a digit (codec, no I/O).
 *
 * jansson holds an integer in 64 bits and a real in a double: it refuses 2^100 (and so
 * a whole page with it) and rounds a 38-digit decimal. Elasticsearch keeps _source as
 * the text it was sent, so the exact digits are there to read. Two pieces:
 *
 * - a structural scanner (es_json_skip) that steps over one value checking only what
 *   finding the value's end needs: strings closed, brackets matched. It lets a page be
 *   cut into hits without building a tree, so that each hit is parsed alone and a hit
 *   jansson refuses (bad UTF-8, a NUL in a key, nesting too deep) fails alone;
 * - a copy (es_json_copy_exact) that turns every number jansson cannot hold exactly
 *   into a JSON string of the same digits. The converters (src/conv) read numeric
 *   strings for numeric columns, so varint and decimal columns get every digit and
 *   text columns get the text; the number jansson can hold is left as it is. A page's
 *   envelope is read through it; each hit is read by json_load.c, with the same rule.
 *
 * See docs/json.md for why this and not another parser, and what it costs.
 */
#include "es/es_int.h"

#include <string.h>

static size_t skip_ws(const char *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

/* Past the closing quote of the string opening at p[i]; n + 1 when it is not closed. */
static size_t skip_string(const char *p, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        const char *q = memchr(p + i, '"', n - i);
        if (!q)
            return n + 1;
        size_t k = (size_t)(q - p), bs = 0;
        while (k - bs > i && p[k - bs - 1] == '\\')
            bs++;
        i = k;
        if (bs % 2 == 0)
            return k + 1;
    }
    return n + 1;
}

static bool is_scalar_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '+' || c == '.';
}

bool es_json_skip(const char *p, size_t n, size_t *pos, ce_buf *stack)
{
    size_t i = skip_ws(p, n, *pos);
    size_t base = stack->len;
    do {
        if (i >= n)
            goto bad;
        char c = p[i];
        if (c == '{' || c == '[') {
            if (ce_buf_append_byte(stack, (uint8_t)(c == '{' ? '}' : ']')))
                goto bad;
            i++;
        } else if (c == '}' || c == ']') {
            if (stack->len == base || stack->data[stack->len - 1] != (uint8_t)c)
                goto bad;
            stack->len--;
            i++;
        } else if (c == '"') {
            if ((i = skip_string(p, n, i)) > n)
                goto bad;
        } else if (c == ',' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (stack->len == base)
                goto bad; /* separators only inside a container */
            i++;
        } else if (is_scalar_char(c)) {
            while (i < n && is_scalar_char(p[i]))
                i++;
        } else {
            goto bad;
        }
    } while (stack->len > base);
    *pos = i;
    return true;
bad:
    stack->len = base;
    return false;
}

/* Does the integer text (optional '-', then digits) fit in int64? */
static bool int_fits(const char *t, size_t n)
{
    bool neg = n > 0 && t[0] == '-';
    if (neg) {
        t++;
        n--;
    }
    while (n > 1 && t[0] == '0') {
        t++;
        n--;
    }
    if (n != 19)
        return n < 19;
    return memcmp(t, neg ? "9223372036854775808" : "9223372036854775807", 19) <= 0;
}

/* Does a double hold the real's digits? At most 15 significant digits (trailing zeros
 * count: they are the scale of a decimal) and a magnitude far from the double's limits. */
static bool real_fits(const char *t, size_t n)
{
    size_t i = (n > 0 && t[0] == '-') ? 1 : 0;
    int sig = 0, mag = 0;
    bool seen = false, frac = false;
    for (; i < n && t[i] != 'e' && t[i] != 'E'; i++) {
        if (t[i] == '.') {
            frac = true;
        } else if (t[i] != '0' || seen) {
            seen = true;
            sig++;
            mag += !frac;
        } else if (frac) {
            mag--;
        }
        if (sig > 15 || mag < -280 || mag > 280)
            return false;
    }
    if (!seen)
        return true; /* zero */
    long exp = 0;
    bool eneg = false;
    if (i < n)
        i++;
    if (i < n && (t[i] == '+' || t[i] == '-'))
        eneg = t[i++] == '-';
    for (; i < n; i++)
        if ((exp = exp * 10 + (t[i] - '0')) > 1000)
            return false;
    mag += eneg ? -(int)exp : (int)exp;
    return mag >= -280 && mag <= 280;
}

bool es_json_number_exact(const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (t[i] == '.' || t[i] == 'e' || t[i] == 'E')
            return real_fits(t, n);
    return int_fits(t, n);
}

static size_t digits(const char *t, size_t n, size_t i)
{
    while (i < n && t[i] >= '0' && t[i] <= '9')
        i++;
    return i;
}

size_t es_json_number_len(const char *t, size_t n)
{
    size_t i = (n > 0 && t[0] == '-') ? 1 : 0, d;
    if ((d = digits(t, n, i)) == i || (t[i] == '0' && d > i + 1))
        return 0;
    i = d;
    if (i < n && t[i] == '.') {
        if ((d = digits(t, n, i + 1)) == i + 1)
            return 0;
        i = d;
    }
    if (i < n && (t[i] == 'e' || t[i] == 'E')) {
        size_t s = i + 1 + (i + 1 < n && (t[i + 1] == '+' || t[i + 1] == '-'));
        if ((d = digits(t, n, s)) == s)
            return 0;
        i = d;
    }
    return i;
}

ce_err es_json_copy_exact(const char *p, size_t n, ce_buf *out)
{
    size_t run = 0, i = 0;
    ce_err e = CE_OK;
    while (i < n && !e) {
        char c = p[i];
        if (c == '"') {
            i = skip_string(p, n, i);
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t l = es_json_number_len(p + i, n - i);
            if (l == 0) {
                i++; /* not a number: jansson says so */
                continue;
            }
            if (!es_json_number_exact(p + i, l)) {
                e = ce_buf_append(out, p + run, i - run);
                e = e ? e : ce_buf_append_byte(out, '"');
                e = e ? e : ce_buf_append(out, p + i, l);
                e = e ? e : ce_buf_append_byte(out, '"');
                run = i + l;
            }
            i += l;
        } else {
            i++;
        }
    }
    return e ? e : ce_buf_append(out, p + run, n - run);
}
