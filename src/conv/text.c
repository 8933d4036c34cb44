/*
 * text.c - strings and opaque values both ways: ascii/text, blob (and custom types,
 * which travel as their raw bytes), boolean, uuid/timeuuid and inet (see docs/types.md).
 */
#include "conv/conv_int.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "util/jsonw.h"
#include "util/hex.h"

/* ------------------------------------------------------------------ ascii, text */

ce_err conv_text_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    (void)t;
    (void)depth;
    return jsonw_string(b, (const char *)p, (size_t)len);
}

ce_err conv_text_from_json(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    (void)depth;
    char tmp[64];
    const char *s;
    size_t n;
    if (json_is_string(j)) {
        s = json_string_value(j);
        n = json_string_length(j);
    } else if (json_is_integer(j) || json_is_real(j)) {
        s = conv_number_text(j, tmp, sizeof tmp);
        if (!s)
            return conv_fail_invalid(c, t, j);
        n = strlen(s);
    } else if (json_is_boolean(j)) {
        s = json_is_true(j) ? "true" : "false";
        n = strlen(s);
    } else {
        return conv_fail_invalid(c, t, j);
    }
    if (t->kind == CQL_T_ASCII) {
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] >= 0x80)
                return conv_fail_invalid(c, t, j);
    }
    return ce_buf_append(c->out, s, n);
}

/* ------------------------------------------------------------------ blob, custom */

ce_err conv_blob_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    (void)t;
    (void)depth;
    return jsonw_base64(b, p, (size_t)len);
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

/* "0x..." hex digits (n even, prefix included) into c->out. */
static ce_err put_hex(conv_ctx *c, const cql_type *t, const json_t *j, const char *s, size_t n)
{
    if (n % 2)
        return conv_fail_invalid(c, t, j);
    ce_err e = ce_buf_reserve(c->out, (n - 2) / 2);
    if (e)
        return e;
    for (size_t i = 2; i < n; i += 2) {
        int a = ce_hex_digit(s[i]), b = ce_hex_digit(s[i + 1]);
        if (a < 0 || b < 0)
            return conv_fail_invalid(c, t, j);
        c->out->data[c->out->len++] = (char)(a * 16 + b);
    }
    return CE_OK;
}

/* Base64 (standard or URL-safe alphabet, padding optional) or 0x-prefixed hex. */
ce_err conv_blob_from_json(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    (void)depth;
    if (!json_is_string(j))
        return conv_fail_msg(c, t, "expected a base64 or 0x-hex string for ");
    const char *s = json_string_value(j);
    size_t n = json_string_length(j);
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        return put_hex(c, t, j, s, n);
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (json_string_length(j) - n > 2 || n % 4 == 1)
        return conv_fail_invalid(c, t, j);
    ce_err e = ce_buf_reserve(c->out, n / 4 * 3 + 3);
    if (e)
        return e;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(s[i]);
        if (v < 0)
            return conv_fail_invalid(c, t, j);
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            c->out->data[c->out->len++] = (char)((acc >> bits) & 0xFF);
        }
    }
    return CE_OK;
}

/* ------------------------------------------------------------------ boolean */

ce_err conv_bool_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    (void)t;
    (void)depth;
    if (len != 1)
        return CE_EPROTO;
    return jsonw_bool(b, p[0] != 0);
}

ce_err conv_bool_from_json(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    (void)depth;
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
        return conv_fail_invalid(c, t, j);
    return ce_buf_append_byte(c->out, (uint8_t)bv);
}

/* ------------------------------------------------------------------ uuid, timeuuid */

ce_err conv_uuid_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    (void)t;
    (void)depth;
    static const char hx[] = "0123456789abcdef";
    if (len != 16)
        return CE_EPROTO;
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

/* 32 hex digits, dashed 8-4-4-4-12 (n == 36) or not (n == 32), into u; false if not. */
static bool parse_uuid_text(const char *s, size_t n, uint8_t u[16])
{
    size_t k = 0;
    bool dashed = n == 36;
    if (n != 36 && n != 32)
        return false;
    for (size_t i = 0; i < n;) {
        if (dashed && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (s[i] != '-')
                return false;
            i++;
            continue;
        }
        int a = ce_hex_digit(s[i]), b = ce_hex_digit(s[i + 1]);
        if (a < 0 || b < 0)
            return false;
        u[k++] = (uint8_t)(a * 16 + b);
        i += 2;
    }
    return k == 16;
}

ce_err conv_uuid_from_json(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    (void)depth;
    uint8_t u[16];
    if (!json_is_string(j) || !parse_uuid_text(json_string_value(j), json_string_length(j), u))
        return conv_fail_invalid(c, t, j);
    if (t->kind == CQL_T_TIMEUUID && (u[6] >> 4) != 1)
        return conv_fail_val(c, t, j, "", " is not a time-based (version 1) uuid for ");
    return ce_buf_append(c->out, u, 16);
}

/* ------------------------------------------------------------------ inet */

ce_err conv_inet_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    (void)t;
    (void)depth;
    char s[INET6_ADDRSTRLEN + 2];
    if (len != 4 && len != 16)
        return CE_EPROTO;
    if (!inet_ntop(len == 4 ? AF_INET : AF_INET6, p, s, sizeof s))
        return CE_EPROTO;
    return jsonw_cstr(b, s);
}

ce_err conv_inet_from_json(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    (void)depth;
    if (!json_is_string(j))
        return conv_fail_invalid(c, t, j);
    uint8_t a[16];
    const char *s = json_string_value(j);
    if (inet_pton(AF_INET, s, a) == 1)
        return ce_buf_append(c->out, a, 4);
    if (inet_pton(AF_INET6, s, a) == 1)
        return ce_buf_append(c->out, a, 16);
    return conv_fail_invalid(c, t, j);
}
