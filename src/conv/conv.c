/*
 * conv.c - the entry points of JSON <-> CQL value conversion and their dispatch.
 *
 * Each kind's pair of functions (conv_<stem>_to_json / conv_<stem>_from_json, in the
 * family files num.c, time.c, text.c, coll.c) is found through cql/type_table.h, so
 * this file never lists types. It also keeps the rules that hold for every type
 * (nulls, empty values, the nesting cap, leaving the output unchanged on failure) and
 * the error texts the families share.
 */
#include "conv/conv_int.h"

#include <stdarg.h>
#include <stdio.h>

#include "util/jsonw.h"

/* ------------------------------------------------------------------ bytes -> JSON */

/* An empty (0-byte) value is a value of its own only for string-like kinds; for the
 * others it reads as null, as the official drivers do. */
static bool empty_is_value(cql_type_kind k)
{
    return k == CQL_T_ASCII || k == CQL_T_VARCHAR || k == CQL_T_BLOB || k == CQL_T_CUSTOM;
}

ce_err conv_to_json_at(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    if (!t || depth > CONV_MAX_DEPTH)
        return CE_EPROTO;
    if (len < 0 || (len > 0 && !p) || (len == 0 && !empty_is_value(t->kind)))
        return jsonw_null(b);
    switch (t->kind) {
#define CONV_TO_CASE(NAME, id, cql, marshal, form, fixed, es, stem) \
    case CQL_T_##NAME:                                              \
        return conv_##stem##_to_json(t, p, len, b, depth);
        CQL_TYPE_TABLE(CONV_TO_CASE)
#undef CONV_TO_CASE
    default:
        return CE_EPROTO;
    }
}

ce_err conv_value_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b)
{
    size_t mark = b->len;
    ce_err e = conv_to_json_at(t, p, len, b, 0);
    if (e)
        b->len = mark;
    return e;
}

/* ------------------------------------------------------------------ JSON -> bytes */

ce_err conv_from_json_at(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    if (depth > CONV_MAX_DEPTH)
        return conv_fail_msg(c, t, "nesting too deep at ");
    switch (t->kind) {
#define CONV_FROM_CASE(NAME, id, cql, marshal, form, fixed, es, stem) \
    case CQL_T_##NAME:                                                \
        return conv_##stem##_from_json(c, t, j, depth);
        CQL_TYPE_TABLE(CONV_FROM_CASE)
#undef CONV_FROM_CASE
    default:
        return conv_fail_msg(c, t, "unsupported type ");
    }
}

ce_err conv_value_from_json(const cql_type *t, const struct json_t *json, ce_buf *out,
                            bool *is_null, ce_buf *err)
{
    const json_t *j = json;
    if (is_null)
        *is_null = false;
    if (!t || !j || !out)
        return CE_EINVAL;
    if (json_is_null(j)) {
        if (is_null)
            *is_null = true;
        return CE_OK;
    }
    conv_ctx c = {out, err};
    size_t mark = out->len;
    ce_err e = conv_from_json_at(&c, t, j, 0);
    if (e) {
        out->len = mark;
        if (e != CE_ECONVERT && err) {
            ce_buf_reset(err);
            ce_buf_append_str(err, ce_strerror(e));
        }
    }
    return e;
}

/* ------------------------------------------------------------------ errors */

/* Short description of a JSON value for messages: 'abc', 300, true, an array. */
static void describe(const json_t *j, char *s, size_t n)
{
    switch (json_typeof(j)) {
    case JSON_STRING: {
        size_t l = json_string_length(j);
        if (l > 48)
            snprintf(s, n, "'%.45s...'", json_string_value(j));
        else
            snprintf(s, n, "'%s'", json_string_value(j));
        break;
    }
    case JSON_INTEGER: snprintf(s, n, "%lld", (long long)json_integer_value(j)); break;
    case JSON_REAL: snprintf(s, n, "%.17g", json_real_value(j)); break;
    case JSON_TRUE: snprintf(s, n, "true"); break;
    case JSON_FALSE: snprintf(s, n, "false"); break;
    case JSON_NULL: snprintf(s, n, "null"); break;
    case JSON_ARRAY: snprintf(s, n, "an array"); break;
    default: snprintf(s, n, "an object"); break;
    }
}

static void err_type(conv_ctx *c, const cql_type *t)
{
    if (cql_type_format(t, c->err))
        ce_buf_append_str(c->err, cql_type_kind_name(t->kind));
}

ce_err conv_fail_val(conv_ctx *c, const cql_type *t, const json_t *j, const char *prefix,
                     const char *middle)
{
    if (c->err) {
        char d[64];
        describe(j, d, sizeof d);
        ce_buf_reset(c->err);
        ce_buf_printf(c->err, "%s%s%s", prefix, d, middle);
        err_type(c, t);
    }
    return CE_ECONVERT;
}

ce_err conv_fail_range(conv_ctx *c, const cql_type *t, const json_t *j)
{
    return conv_fail_val(c, t, j, "value ", " out of range for ");
}

ce_err conv_fail_invalid(conv_ctx *c, const cql_type *t, const json_t *j)
{
    return conv_fail_val(c, t, j, "", " is not a valid ");
}

ce_err conv_fail_msg(conv_ctx *c, const cql_type *t, const char *fmt, ...)
{
    if (c->err) {
        ce_buf_reset(c->err);
        va_list ap;
        va_start(ap, fmt);
        ce_buf_vprintf(c->err, fmt, ap);
        va_end(ap);
        err_type(c, t);
    }
    return CE_ECONVERT;
}

ce_err conv_put_be(ce_buf *b, uint64_t v, int n)
{
    uint8_t tmp[8];
    for (int i = 0; i < n; i++)
        tmp[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return ce_buf_append(b, tmp, (size_t)n);
}
