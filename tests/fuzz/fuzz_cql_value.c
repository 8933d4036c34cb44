/*
 * fuzz_cql_value.c - libFuzzer target for the CQL value and type codecs.
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

typedef struct {
    const uint8_t *p;
    size_t n;
} cursor;

static uint8_t take(cursor *c)
{
    if (!c->n)
        return 0;
    c->n--;
    return *c->p++;
}

static const cql_type_kind scalars[] = {
    CQL_T_ASCII,   CQL_T_BIGINT,   CQL_T_BLOB,    CQL_T_BOOLEAN,  CQL_T_COUNTER,
    CQL_T_DECIMAL, CQL_T_DOUBLE,   CQL_T_FLOAT,   CQL_T_INT,      CQL_T_TIMESTAMP,
    CQL_T_UUID,    CQL_T_VARCHAR,  CQL_T_VARINT,  CQL_T_TIMEUUID, CQL_T_INET,
    CQL_T_DATE,    CQL_T_TIME,     CQL_T_SMALLINT, CQL_T_TINYINT, CQL_T_DURATION,
    CQL_T_CUSTOM,
};
#define NSCALAR (sizeof scalars / sizeof scalars[0])

static cql_type *build(cursor *c, int depth)
{
    uint8_t b = take(c);
    unsigned pick = b % (NSCALAR + 6);
    if (depth > 70 || pick < NSCALAR)
        return cql_type_new(scalars[pick % NSCALAR]);
    static const cql_type_kind composite[] = {CQL_T_LIST, CQL_T_SET, CQL_T_MAP,
                                              CQL_T_TUPLE, CQL_T_UDT, CQL_T_VECTOR};
    cql_type *t = cql_type_new(composite[pick - NSCALAR]);
    if (!t)
        return NULL;
    size_t nsub = 1;
    if (t->kind == CQL_T_MAP)
        nsub = 2;
    else if (t->kind == CQL_T_TUPLE || t->kind == CQL_T_UDT)
        nsub = 1 + take(c) % 4;
    else if (t->kind == CQL_T_VECTOR)
        t->dimension = 1 + take(c) % 4;
    if (t->kind == CQL_T_UDT)
        t->name = strdup("u");
    for (size_t i = 0; i < nsub; i++) {
        char fname[16];
        snprintf(fname, sizeof fname, "f%zu", i % 3); /* duplicates on purpose */
        if (cql_type_add_sub(t, build(c, depth + 1), t->kind == CQL_T_UDT ? fname : NULL)) {
            cql_type_free(t);
            return NULL;
        }
    }
    return t;
}

static void check_json(const cql_type *t, const ce_buf *b)
{
    json_error_t je;
    json_t *j = json_loadb(b->data, b->len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
    if (!j) {
        if (json_error_code(&je) == json_error_numeric_overflow)
            return; /* e.g. 1E+2147483648 from a decimal: valid JSON, beyond double */
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
    cursor c = {data, size};
    cql_type *t = build(&c, 0);
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
