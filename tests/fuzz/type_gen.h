/*
 * type_gen.h - shared by the conv fuzz targets: a random CQL type tree from the first
 * bytes of a fuzz input (every kind, nested collections, tuples, UDTs, vectors, deeper
 * than the codecs' nesting cap). Header-only; not a fuzz target itself.
 */
#ifndef CE_FUZZ_TYPE_GEN_H
#define CE_FUZZ_TYPE_GEN_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cql/cql.h"

typedef struct {
    const uint8_t *p;
    size_t n;
} fuzz_cursor;

static uint8_t take(fuzz_cursor *c)
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

static cql_type *fuzz_type_build(fuzz_cursor *c, int depth)
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
        if (cql_type_add_sub(t, fuzz_type_build(c, depth + 1), t->kind == CQL_T_UDT ? fname : NULL)) {
            cql_type_free(t);
            return NULL;
        }
    }
    return t;
}

#endif
