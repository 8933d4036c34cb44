/*
 * fuzz_conv_value.c - libFuzzer target for CQL bytes -> JSON (src/conv) and the type parsers.
 *
 * The input's first bytes build a random type tree (every kind, nested collections,
 * tuples, UDTs, vectors, deeper than the codec's nesting cap); the rest is the value.
 * conv_value_to_json must not crash, and whatever it outputs must be valid JSON for
 * jansson (numbers beyond double range, which JSON allows, are accepted). The JSON is
 * then fed back through conv_value_from_json, and the same input is also given to the
 * schema-text and marshal-class type parsers.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv/conv.h"
#include "cql/cql.h"
#include "type_gen.h"

static void check_json(const cql_type *t, const ce_buf *b)
{
    json_error_t je;
    json_t *j = json_loadb(b->data, b->len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
    if (!j) {
        if (json_error_code(&je) == json_error_numeric_overflow)
            return; /* e.g. 1E+2147483648 from a decimal: valid JSON, beyond double */
        if (json_error_code(&je) == json_error_null_byte_in_key)
            return; /* a map key with a NUL ("\u0000"): valid JSON, refused by jansson */
        fprintf(stderr, "invalid JSON (%s): %.*s\n", je.text, (int)b->len, b->data);
        abort();
    }
    /* the reverse direction must not crash on whatever the forward one wrote */
    ce_buf out = CE_BUF_INIT, err = CE_BUF_INIT;
    bool is_null;
    conv_value_from_json(t, j, &out, &is_null, &err);
    ce_buf_free(&out);
    ce_buf_free(&err);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cursor c = {data, size};
    cql_type *t = fuzz_type_build(&c, 0);
    if (t) {
        ce_buf b = CE_BUF_INIT;
        ce_buf_init(&b, 1 << 24);
        if (conv_value_to_json(t, c.p, (int32_t)(c.n > INT32_MAX ? INT32_MAX : c.n), &b) == CE_OK)
            check_json(t, &b);
        else if (b.len != 0)
            abort(); /* a failure must leave the buffer as it was */
        ce_buf_free(&b);
        cql_type_free(t);
    }
    /* the same bytes as schema text and as a marshal class name */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cql_type *p = NULL;
    if (cql_type_parse(text, &p) == CE_OK) {
        ce_buf f = CE_BUF_INIT;
        cql_type_format(p, &f);
        ce_buf_free(&f);
        cql_type *q = cql_type_clone(p);
        cql_type_free(q);
    }
    cql_type_free(p);
    p = NULL;
    if (cql_type_parse_class(text, &p) == CE_OK) {
        ce_buf f = CE_BUF_INIT;
        cql_type_format(p, &f);
        ce_buf_free(&f);
    }
    cql_type_free(p);
    free(text);
    return 0;
}
