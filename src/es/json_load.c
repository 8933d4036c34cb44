/*
 * json_load.c - JSON text -> jansson values without losing a digit (codec, no I/O).
 *
 * The loader of each search hit (es_json_load_exact). It used to be json_exact.c's copy
 * (every number jansson cannot hold turned into a string) fed to json_loadb; jansson's
 * lexer reads a character at a time through a stream and grows a buffer per token, which
 * made it the biggest single cost of E->C once allocation was cheap (json_arena.c). This
 * parser reads the text once: strings without escapes are taken whole (one UTF-8 check),
 * numbers are judged by es_json_number_exact in place, and the values are built with
 * jansson's own constructors, so the result is the same tree json_loadb would build from
 * the copy. It refuses what jansson refuses (invalid UTF-8, control characters in strings,
 * \u0000, lone surrogates, nesting deeper than jansson's limit, leading zeros, text after
 * the value), with messages of the same kind; duplicate keys keep the last value.
 */
#include "es/es_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/swar.h"

typedef struct {
    const char *p;
    size_t n, i;
    int depth;
    ce_buf *tmp;          /* unescaped strings and number texts, used as a stack */
    json_error_t *err;
    bool failed;
} loader;

/* A string's content: in the text itself, or (escaped) at tmp->data + off. */
typedef struct {
    const char *text;     /* NULL: in tmp */
    size_t off, len;
} str_span;

static json_t *load_value(loader *l);

static void fail(loader *l, const char *fmt, const char *arg)
{
    if (l->failed)
        return;
    l->failed = true;
    snprintf(l->err->text, sizeof l->err->text, fmt, arg);
    l->err->line = -1;
    l->err->column = -1;
    l->err->position = (int)(l->i > 0x7fffffff ? 0x7fffffff : l->i);
    l->err->source[0] = 0;
}

static void skip_ws(loader *l)
{
    while (l->i < l->n && (l->p[l->i] == ' ' || l->p[l->i] == '\n' || l->p[l->i] == '\r' || l->p[l->i] == '\t'))
        l->i++;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len = c < 0xc2 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t k = 1; k < len; k++)
        if ((s[k] & 0xc0) != 0x80)
            return 0;
    if (len == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0)))
        return 0; /* overlong, or a surrogate */
    if (len == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90)))
        return 0; /* overlong, or above U+10FFFF */
    return len;
}

static int hex4(const char *s)
{
    int v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static ce_err put_utf8(ce_buf *b, unsigned long cp)
{
    uint8_t u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xc0 | (cp >> 6));
        u[1] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xe0 | (cp >> 12));
        u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xf0 | (cp >> 18));
        u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return ce_buf_append(b, u, n);
}

/* The \uXXXX escape at p[*i] ('u' behind the backslash), a surrogate pair whole. */
static bool unicode_escape(loader *l, size_t *i)
{
    int hi = *i + 5 <= l->n ? hex4(l->p + *i + 1) : -1;
    if (hi < 0)
        return fail(l, "%s", "invalid escape"), false;
    *i += 5;
    unsigned long cp = (unsigned long)hi;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return fail(l, "%s", "invalid Unicode: lone low surrogate"), false;
    if (hi >= 0xd800 && hi <= 0xdbff) {
        int lo = *i + 6 <= l->n && l->p[*i] == '\\' && l->p[*i + 1] == 'u' ? hex4(l->p + *i + 2) : -1;
        if (lo < 0xdc00 || lo > 0xdfff)
            return fail(l, "%s", "invalid Unicode: lone high surrogate"), false;
        cp = 0x10000 + (((unsigned long)hi - 0xd800) << 10) + ((unsigned long)lo - 0xdc00);
        *i += 6;
    }
    if (cp == 0)
        return fail(l, "%s", "\\u0000 is not allowed without JSON_ALLOW_NUL"), false;
    if (put_utf8(l->tmp, cp))
        return fail(l, "%s", "out of memory"), false;
    return true;
}

/* The escapes of the string from p[i] (just past its opening quote) into tmp. */
static bool unescape(loader *l, size_t i, size_t end)
{
    while (i < end) {
        const char *bs = memchr(l->p + i, '\\', end - i);
        size_t run = bs ? (size_t)(bs - l->p) - i : end - i;
        if (ce_buf_append(l->tmp, l->p + i, run))
            return fail(l, "%s", "out of memory"), false;
        i += run;
        if (i >= end)
            break;
        char c = l->p[i + 1], out;
        switch (c) {
        case '"': case '\\': case '/': out = c; break;
        case 'b': out = '\b'; break;
        case 'f': out = '\f'; break;
        case 'n': out = '\n'; break;
        case 'r': out = '\r'; break;
        case 't': out = '\t'; break;
        case 'u':
            i++;
            if (!unicode_escape(l, &i))
                return false;
            continue;
        default:
            return fail(l, "%s", "invalid escape"), false;
        }
        if (ce_buf_append_byte(l->tmp, (uint8_t)out))
            return fail(l, "%s", "out of memory"), false;
        i += 2;
    }
    return true;
}

/* The string opening at p[l->i]; false (failed) when malformed. */
static bool load_string(loader *l, str_span *s)
{
    size_t i = l->i + 1, start = i;
    bool escaped = false;
    const unsigned char *u = (const unsigned char *)l->p;
    for (;;) {
        while (l->n - i >= 8 && !ce_swar_json_special(ce_swar_load(u + i)))
            i += 8; /* a plain run, eight bytes a step (most of a document's text) */
        if (i >= l->n)
            return fail(l, "%s", "premature end of input"), false;
        unsigned c = u[i];
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(l, "%s", "control character in string"), false;
        if (c == '\\') {
            escaped = true;
            i += i + 1 < l->n ? 2 : 1; /* the escape's first character is never a quote */
        } else if (c < 0x80) {
            i++;
        } else {
            size_t k = utf8_seq(u + i, l->n - i);
            if (!k)
                return fail(l, "%s", "unable to decode byte: invalid UTF-8"), false;
            i += k;
        }
    }
    l->i = i + 1;
    if (!escaped) {
        *s = (str_span){l->p + start, 0, i - start};
        return true;
    }
    size_t off = l->tmp->len;
    if (!unescape(l, start, i))
        return false;
    *s = (str_span){NULL, off, l->tmp->len - off};
    return true;
}

static const char *span_ptr(const loader *l, const str_span *s)
{
    return s->text ? s->text : (const char *)l->tmp->data + s->off;
}

/* The number at p[l->i]: an integer or real jansson holds exactly, else its digits as a string. */
static json_t *load_number(loader *l)
{
    const char *t = l->p + l->i;
    size_t len = es_json_number_len(t, l->n - l->i);
    if (len == 0 || (l->i + len < l->n && (l->p[l->i + len] == '.' || (l->p[l->i + len] >= '0' && l->p[l->i + len] <= '9'))))
        return fail(l, "%s", "invalid token"), NULL;
    l->i += len;
    if (!es_json_number_exact(t, len))
        return json_stringn_nocheck(t, len);
    if (!memchr(t, '.', len) && !memchr(t, 'e', len) && !memchr(t, 'E', len)) {
        bool neg = t[0] == '-';
        uint64_t v = 0;
        for (size_t k = neg; k < len; k++)
            v = v * 10 + (uint64_t)(t[k] - '0');
        return json_integer(neg ? (json_int_t)(0 - v) : (json_int_t)v);
    }
    size_t off = l->tmp->len;
    if (ce_buf_append(l->tmp, t, len) || ce_buf_append_byte(l->tmp, 0))
        return fail(l, "%s", "out of memory"), NULL;
    double d = strtod((const char *)l->tmp->data + off, NULL);
    l->tmp->len = off;
    return json_real(d);
}

static json_t *load_object(loader *l)
{
    json_t *obj = json_object();
    l->i++;
    skip_ws(l);
    if (l->i < l->n && l->p[l->i] == '}') {
        l->i++;
        return obj;
    }
    while (obj) {
        skip_ws(l);
        size_t mark = l->tmp->len;
        str_span key;
        if (l->i >= l->n || l->p[l->i] != '"')
            return fail(l, "%s", "string or '}' expected"), json_decref(obj), NULL;
        if (!load_string(l, &key))
            return json_decref(obj), NULL;
        skip_ws(l);
        if (l->i >= l->n || l->p[l->i] != ':')
            return fail(l, "%s", "':' expected"), json_decref(obj), NULL;
        l->i++;
        json_t *v = load_value(l);
        if (!v || json_object_setn_new_nocheck(obj, span_ptr(l, &key), key.len, v))
            return fail(l, "%s", "out of memory"), json_decref(obj), NULL;
        l->tmp->len = mark;
        skip_ws(l);
        char c = l->i < l->n ? l->p[l->i] : 0;
        l->i++;
        if (c == '}')
            return obj;
        if (c != ',')
            return fail(l, "%s", "'}' expected"), json_decref(obj), NULL;
    }
    return fail(l, "%s", "out of memory"), NULL;
}

static json_t *load_array(loader *l)
{
    json_t *arr = json_array();
    l->i++;
    skip_ws(l);
    if (l->i < l->n && l->p[l->i] == ']') {
        l->i++;
        return arr;
    }
    while (arr) {
        json_t *v = load_value(l);
        if (!v || json_array_append_new(arr, v))
            return fail(l, "%s", "out of memory"), json_decref(arr), NULL;
        skip_ws(l);
        char c = l->i < l->n ? l->p[l->i] : 0;
        l->i++;
        if (c == ']')
            return arr;
        if (c != ',')
            return fail(l, "%s", "']' expected"), json_decref(arr), NULL;
    }
    return fail(l, "%s", "out of memory"), NULL;
}

static json_t *load_word(loader *l, const char *w, json_t *v)
{
    size_t k = strlen(w);
    const char *t = l->p + l->i;
    bool ok = l->n - l->i >= k && memcmp(t, w, k) == 0 &&
              (l->i + k == l->n || !((t[k] >= 'a' && t[k] <= 'z') || (t[k] >= 'A' && t[k] <= 'Z') ||
                                     (t[k] >= '0' && t[k] <= '9')));
    if (!ok)
        return fail(l, "%s", "invalid token"), NULL;
    l->i += k;
    return v;
}

static json_t *load_value(loader *l)
{
    skip_ws(l);
    if (l->i >= l->n)
        return fail(l, "%s", "unexpected end of input"), NULL;
    char c = l->p[l->i];
    if (c == '{' || c == '[') {
        if (++l->depth > JSON_PARSER_MAX_DEPTH)
            return fail(l, "%s", "maximum parsing depth reached"), NULL;
        json_t *v = c == '{' ? load_object(l) : load_array(l);
        l->depth--;
        return v;
    }
    if (c == '"') {
        size_t mark = l->tmp->len;
        str_span s;
        json_t *v = load_string(l, &s) ? json_stringn_nocheck(span_ptr(l, &s), s.len) : NULL;
        l->tmp->len = mark;
        return v;
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return load_number(l);
    if (c == 't')
        return load_word(l, "true", json_true());
    if (c == 'f')
        return load_word(l, "false", json_false());
    if (c == 'n')
        return load_word(l, "null", json_null());
    return fail(l, "%s", "invalid token"), NULL;
}

json_t *es_json_load_exact(const char *p, size_t n, ce_buf *scratch, json_error_t *err)
{
    ce_buf_reset(scratch);
    loader l = {.p = p, .n = n, .tmp = scratch, .err = err};
    json_t *v = load_value(&l);
    skip_ws(&l);
    if (v && l.i != n) {
        fail(&l, "%s", "end of file expected");
        json_decref(v);
        v = NULL;
    }
    if (!v)
        fail(&l, "%s", "out of memory"); /* a constructor failed: the only unreported case */
    return v;
}
