/*
 * log_json.c - one logfmt line as one JSON object (log_format "json", see log.h).
 *
 * Every ce_log message is logfmt (`msg="..." key=value ...`), its outside values quoted
 * by ce_log_quote. Rather than a second formatting path at every call site, the writer
 * turns the finished line into JSON here: a codec from text to text, no I/O. It never
 * fails on odd input: a token without '=' goes to the "text" field, an unclosed quote
 * ends at the end of the line, and the output is always one valid JSON object.
 */
#include "util/log.h"

#include <stdbool.h>
#include <string.h>

#include "util/jsonw.h"
#include "util/hex.h"

#define MAX_TRACKED_KEYS 64

typedef struct {
    const char *p;
    size_t n;
} slice;

/* The JSON number grammar (RFC 8259): -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool is_json_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n || s[i] < '0' || s[i] > '9')
        return false;
    if (s[i] == '0')
        i++;
    else
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    if (i < n && s[i] == '.') {
        size_t d = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    return i == n;
}

/* A quoted value starting after its opening quote: its bytes, unescaped (the escapes of
 * ce_log_quote), into val. Returns the position after the closing quote (or the end). */
static const char *unquote(const char *p, ce_buf *val, ce_err *err)
{
    while (*p && *p != '"' && !*err) {
        char c = *p++;
        if (c == '\\' && *p) {
            char e = *p++;
            int hi, lo;
            if (e == 'n')
                c = '\n';
            else if (e == 'r')
                c = '\r';
            else if (e == 't')
                c = '\t';
            else if (e == 'x' && (hi = ce_hex_digit(p[0])) >= 0 && (lo = ce_hex_digit(p[1])) >= 0) {
                c = (char)(hi * 16 + lo);
                p += 2;
            } else if (e == '"' || e == '\\') {
                c = e;
            } else { /* an escape ce_log_quote does not write: kept as written */
                *err = ce_buf_append_byte(val, '\\');
                c = e;
            }
        }
        if (!*err)
            *err = ce_buf_append_byte(val, (uint8_t)c);
    }
    return *p == '"' ? p + 1 : p;
}

/* "key": with a suffix (_2, _3, ...) when the key was already written. */
static ce_err put_key(ce_buf *out, slice k, slice *seen, size_t *nseen)
{
    unsigned dup = 1;
    for (size_t i = 0; i < *nseen; i++)
        if (seen[i].n == k.n && memcmp(seen[i].p, k.p, k.n) == 0)
            dup++;
    if (*nseen < MAX_TRACKED_KEYS)
        seen[(*nseen)++] = k;
    ce_err err = ce_buf_append_byte(out, ',');
    if (dup == 1)
        return err ? err : jsonw_key(out, k.p, k.n);
    ce_buf name = CE_BUF_INIT;
    if (!err)
        err = ce_buf_append(&name, k.p, k.n);
    if (!err)
        err = ce_buf_printf(&name, "_%u", dup);
    if (!err)
        err = jsonw_key(out, (const char *)name.data, name.len);
    ce_buf_free(&name);
    return err;
}

/* One token of the line: key=value (value bare or quoted) or a loose word. */
static const char *put_token(const char *p, ce_buf *out, ce_buf *text, slice *seen, size_t *nseen, ce_err *err)
{
    const char *start = p;
    while (*p && *p != ' ' && *p != '=')
        p++;
    if (*p != '=' || p == start) { /* a word without key: collected into "text" */
        while (*p && *p != ' ')
            p++;
        if (text->len)
            *err = ce_buf_append_byte(text, ' ');
        if (!*err)
            *err = ce_buf_append(text, start, (size_t)(p - start));
        return p;
    }
    slice key = {start, (size_t)(p - start)};
    p++; /* '=' */
    *err = put_key(out, key, seen, nseen);
    if (*err)
        return p;
    if (*p == '"') {
        ce_buf val = CE_BUF_INIT;
        p = unquote(p + 1, &val, err);
        if (!*err)
            *err = jsonw_string(out, val.len ? (const char *)val.data : "", val.len);
        ce_buf_free(&val);
        return p;
    }
    const char *v = p;
    while (*p && *p != ' ')
        p++;
    size_t n = (size_t)(p - v);
    *err = is_json_number(v, n) ? jsonw_raw(out, v, n) : jsonw_string(out, v, n);
    return p;
}

ce_err ce_log_json_line(ce_buf *out, const char *ts, const char *level, const char *line)
{
    slice seen[MAX_TRACKED_KEYS] = {{"ts", 2}, {"level", 5}};
    size_t nseen = 2;
    ce_buf text = CE_BUF_INIT;
    size_t start = out->len;
    ce_err err = ce_buf_append_str(out, "{\"ts\":");
    if (!err)
        err = jsonw_cstr(out, ts);
    if (!err)
        err = ce_buf_append_str(out, ",\"level\":");
    if (!err)
        err = jsonw_cstr(out, level);
    const char *p = line ? line : "";
    while (!err && *p) {
        if (*p == ' ') {
            p++;
            continue;
        }
        p = put_token(p, out, &text, seen, &nseen, &err);
    }
    if (!err && text.len) {
        err = put_key(out, (slice){"text", 4}, seen, &nseen);
        if (!err)
            err = jsonw_string(out, (const char *)text.data, text.len);
    }
    if (!err)
        err = ce_buf_append_byte(out, '}');
    ce_buf_free(&text);
    if (err)
        out->len = start;
    return err;
}
