/*
 * fuzz_conv_json.c - libFuzzer target for JSON -> CQL values (conv_value_from_json) on
 * arbitrary JSON.
 *
 * The input's first bytes build a random type tree (type_gen.h); the rest is JSON text
 * parsed by jansson (any value, big integers as reals), or, when it does not parse, the
 * text itself as a JSON string. conv_value_from_json must not crash; on failure it must
 * leave the output as it was and give a reason; on success the bytes it wrote must be a
 * valid value of the type: conv_value_to_json reads them and writes valid JSON.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv/conv.h"
#include "cql/cql.h"
#include "type_gen.h"

static json_t *input_json(const uint8_t *p, size_t n)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
    if (!j)
        j = json_loadb((const char *)p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j)
        j = json_stringn_nocheck((const char *)p, n);
    return j;
}

/* The bytes from_json wrote must read back through to_json as valid JSON. */
static void check_bytes(const cql_type *t, const ce_buf *out)
{
    ce_buf b = CE_BUF_INIT;
    ce_err e = conv_value_to_json(t, (const uint8_t *)out->data, (int32_t)out->len, &b);
    if (e) {
        fprintf(stderr, "to_json refused what from_json wrote: %s\n", ce_errname(e));
        abort();
    }
    json_error_t je;
    json_t *j = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
    if (!j && json_error_code(&je) != json_error_numeric_overflow) {
        fprintf(stderr, "invalid JSON (%s): %.*s\n", je.text, (int)b.len, b.data);
        abort();
    }
    json_decref(j);
    ce_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cursor c = {data, size};
    cql_type *t = fuzz_type_build(&c, 0);
    if (!t)
        return 0;
    json_t *j = input_json(c.p, c.n);
    if (j) {
        ce_buf out = CE_BUF_INIT, err = CE_BUF_INIT;
        ce_buf_init(&out, 1 << 24);
        ce_buf_append_str(&out, "#");
        bool is_null = false;
        ce_err e = conv_value_from_json(t, j, &out, &is_null, &err);
        if (e) {
            if (out.len != 1 || err.len == 0)
                abort(); /* a failure leaves the output alone and says why */
        } else if (!is_null) {
            ce_buf val = CE_BUF_INIT;
            ce_buf_append(&val, out.data + 1, out.len - 1);
            check_bytes(t, &val);
            ce_buf_free(&val);
        }
        ce_buf_free(&out);
        ce_buf_free(&err);
        json_decref(j);
    }
    cql_type_free(t);
    return 0;
}
