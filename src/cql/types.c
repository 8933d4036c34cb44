/*
 * types.c - cql_type descriptors: free, deep copy, fixed wire sizes, parsing of the
 * schema text stored in system_schema ("frozen<map<text, int>>", "vector<float, 3>",
 * quoted UDT names, quoted custom class strings) and of Cassandra marshal class names
 * as sent on the wire for custom types ("org.apache.cassandra.db.marshal.VectorType(
 * org.apache.cassandra.db.marshal.FloatType,3)"), and formatting back to CQL text.
 *
 * The parsers only read a NUL-terminated string and build a tree; nesting is capped
 * (CQL_TYPE_MAX_DEPTH) so hostile input cannot exhaust the stack.
 */
#include "cql/cql.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CQL_TYPE_MAX_DEPTH 64

void cql_type_free(cql_type *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nsub; i++) {
        if (t->sub)
            cql_type_free(t->sub[i]);
        if (t->field_names)
            free(t->field_names[i]);
    }
    free(t->sub);
    free(t->field_names);
    free(t->keyspace);
    free(t->name);
    free(t->custom_class);
    free(t);
}

static char *str_dup_or_null(const char *s, bool *fail)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *fail = true;
    return d;
}

cql_type *cql_type_clone(const cql_type *t)
{
    if (!t)
        return NULL;
    cql_type *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    bool fail = false;
    c->kind = t->kind;
    c->dimension = t->dimension;
    c->frozen = t->frozen;
    c->keyspace = str_dup_or_null(t->keyspace, &fail);
    c->name = str_dup_or_null(t->name, &fail);
    c->custom_class = str_dup_or_null(t->custom_class, &fail);
    if (t->nsub && t->sub) {
        c->sub = calloc(t->nsub, sizeof *c->sub);
        if (!c->sub)
            fail = true;
        if (t->field_names && !fail) {
            c->field_names = calloc(t->nsub, sizeof *c->field_names);
            if (!c->field_names)
                fail = true;
        }
        if (!fail) {
            c->nsub = t->nsub;
            for (size_t i = 0; i < t->nsub && !fail; i++) {
                c->sub[i] = cql_type_clone(t->sub[i]);
                if (t->sub[i] && !c->sub[i])
                    fail = true;
                if (c->field_names)
                    c->field_names[i] = str_dup_or_null(t->field_names[i], &fail);
            }
        }
    }
    if (fail) {
        cql_type_free(c);
        return NULL;
    }
    return c;
}

int cql_type_fixed_size(const cql_type *t)
{
    if (!t)
        return -1;
    switch (t->kind) {
    case CQL_T_BOOLEAN:
    case CQL_T_TINYINT:
        return t->kind == CQL_T_BOOLEAN ? 1 : 1;
    case CQL_T_SMALLINT:
        return 2;
    case CQL_T_INT:
    case CQL_T_FLOAT:
    case CQL_T_DATE:
        return 4;
    case CQL_T_BIGINT:
    case CQL_T_COUNTER:
    case CQL_T_DOUBLE:
    case CQL_T_TIMESTAMP:
    case CQL_T_TIME:
        return 8;
    case CQL_T_UUID:
    case CQL_T_TIMEUUID:
        return 16;
    case CQL_T_VECTOR: {
        int e = t->nsub == 1 ? cql_type_fixed_size(t->sub[0]) : -1;
        if (e < 0 || t->dimension == 0 || (uint64_t)e * t->dimension > INT32_MAX)
            return -1;
        return e * (int)t->dimension;
    }
    default:
        return -1;
    }
}
