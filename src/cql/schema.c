/*
 * schema.c - table metadata from system_schema: columns with their roles, positions
 * and types (cql_type_parse of the stored text), user-defined types resolved from
 * system_schema.types (recursively, depth-capped), ordered partition key first, then
 * clustering columns, then the others by name.
 */
#include "cql/session_int.h"

#include <stdio.h>
#include <stdlib.h>

#define UDT_MAX_DEPTH 16

static char *cell_dup(cql_value v)
{
    ce_slice s = {v.len > 0 ? (const char *)v.ptr : "", v.len > 0 ? (size_t)v.len : 0};
    return cql_slice_dup(s);
}

static int32_t cell_i32(cql_value v)
{
    if (v.len != 4)
        return 0;
    return (int32_t)(((uint32_t)v.ptr[0] << 24) | ((uint32_t)v.ptr[1] << 16) | ((uint32_t)v.ptr[2] << 8) | v.ptr[3]);
}

/* list<text> cell -> array of strings */
static ce_err cell_text_list(cql_value v, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (v.len < 4)
        return CE_OK;
    cql_rd r;
    cql_rd_init(&r, v.ptr, (size_t)v.len);
    int32_t cnt = cql_rd_i32(&r);
    if (cnt < 0 || (size_t)cnt > cql_rd_left(&r) / 4)
        return CE_EPROTO;
    char **a = calloc((size_t)cnt + 1, sizeof *a);
    if (!a)
        return CE_ENOMEM;
    for (int32_t i = 0; i < cnt; i++) {
        cql_value e = cql_rd_bytes(&r);
        if (r.err || !(a[i] = cell_dup(e))) {
            for (int32_t k = 0; k <= i; k++)
                free(a[k]);
            free(a);
            return r.err ? CE_EPROTO : CE_ENOMEM;
        }
    }
    *out = a;
    *n = (size_t)cnt;
    return CE_OK;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static ce_err resolve_udts(cql_session *s, const char *ks, cql_type *t, int depth);

static ce_err fill_udt(cql_session *s, const char *ks, cql_type *t, int depth)
{
    const char *uks = t->keyspace ? t->keyspace : ks;
    cql_value v[2] = {{(const uint8_t *)uks, (int32_t)strlen(uks)}, {(const uint8_t *)t->name, (int32_t)strlen(t->name)}};
    cql_result *r = NULL;
    ce_err e = cql_session_query(s, "SELECT field_names, field_types FROM system_schema.types WHERE keyspace_name = ? "
                                    "AND type_name = ?", v, 2, NULL, &r, NULL);
    if (e)
        return e;
    if (cql_result_row_count(r) != 1) {
        cql_result_free(r);
        cql_session_set_err(s, "user type %s.%s not found", uks, t->name);
        return CE_ENOTFOUND;
    }
    char **names = NULL, **types = NULL;
    size_t nn = 0, nt = 0;
    e = cell_text_list(cql_result_cell(r, 0, 0), &names, &nn);
    if (!e)
        e = cell_text_list(cql_result_cell(r, 0, 1), &types, &nt);
    cql_result_free(r);
    if (!e && nn != nt)
        e = CE_EPROTO;
    if (!e && !t->keyspace && !(t->keyspace = strdup(uks)))
        e = CE_ENOMEM;
    for (size_t i = 0; i < nn && !e; i++) {
        cql_type *ft = NULL;
        e = cql_type_parse(types[i], &ft);
        if (!e)
            e = resolve_udts(s, uks, ft, depth + 1);
        if (!e)
            e = cql_type_add_sub(t, ft, names[i]);
        else
            cql_type_free(ft);
    }
    strv_free(names, nn);
    strv_free(types, nt);
    return e;
}

static ce_err resolve_udts(cql_session *s, const char *ks, cql_type *t, int depth)
{
    if (depth > UDT_MAX_DEPTH)
        return CE_ELIMIT;
    if (t->kind == CQL_T_UDT && t->nsub == 0 && t->name)
        return fill_udt(s, ks, t, depth);
    for (size_t i = 0; i < t->nsub; i++) {
        ce_err e = resolve_udts(s, ks, t->sub[i], depth + 1);
        if (e)
            return e;
    }
    return CE_OK;
}

static int role_rank(cql_column_role r)
{
    return r == CQL_COL_PARTITION_KEY ? 0 : r == CQL_COL_CLUSTERING ? 1 : 2;
}

static int col_cmp(const void *a, const void *b)
{
    const cql_column_meta *x = a, *y = b;
    int rx = role_rank(x->role), ry = role_rank(y->role);
    if (rx != ry)
        return rx - ry;
    if (rx < 2 && x->position != y->position)
        return x->position - y->position;
    return strcmp(x->name, y->name);
}

void cql_table_meta_free(cql_table_meta *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->ncolumns; i++) {
        free(m->columns[i].name);
        free(m->columns[i].type_text);
        cql_type_free(m->columns[i].type);
    }
    free(m->columns);
    free(m->keyspace);
    free(m->table);
    free(m);
}

const cql_column_meta *cql_table_meta_column(const cql_table_meta *m, const char *name)
{
    for (size_t i = 0; i < m->ncolumns; i++)
        if (!strcmp(m->columns[i].name, name))
            return &m->columns[i];
    return NULL;
}

ce_err cql_session_table_meta(cql_session *s, const char *keyspace, const char *table, cql_table_meta **out)
{
    *out = NULL;
    cql_value v[2] = {{(const uint8_t *)keyspace, (int32_t)strlen(keyspace)},
                      {(const uint8_t *)table, (int32_t)strlen(table)}};
    cql_result *r = NULL;
    ce_err e = cql_session_query(s, "SELECT column_name, clustering_order, kind, position, type FROM "
                                    "system_schema.columns WHERE keyspace_name = ? AND table_name = ?",
                                 v, 2, NULL, &r, NULL);
    if (e)
        return e;
    size_t n = cql_result_row_count(r);
    if (n == 0) {
        cql_result_free(r);
        cql_session_set_err(s, "table %s.%s not found", keyspace, table);
        return CE_ENOTFOUND;
    }
    cql_table_meta *m = calloc(1, sizeof *m);
    if (!m || !(m->columns = calloc(n, sizeof *m->columns)) || !(m->keyspace = strdup(keyspace)) ||
        !(m->table = strdup(table))) {
        cql_table_meta_free(m);
        cql_result_free(r);
        return CE_ENOMEM;
    }
    for (size_t i = 0; i < n && !e; i++) {
        cql_column_meta *c = &m->columns[m->ncolumns++];
        char kind[32] = "", order[16] = "";
        cql_value kv = cql_result_cell(r, i, 2), ov = cql_result_cell(r, i, 1);
        cql_slice_copy(kind, sizeof kind, (ce_slice){kv.len > 0 ? (const char *)kv.ptr : "", kv.len > 0 ? (size_t)kv.len : 0});
        cql_slice_copy(order, sizeof order, (ce_slice){ov.len > 0 ? (const char *)ov.ptr : "", ov.len > 0 ? (size_t)ov.len : 0});
        c->name = cell_dup(cql_result_cell(r, i, 0));
        c->type_text = cell_dup(cql_result_cell(r, i, 4));
        c->position = cell_i32(cql_result_cell(r, i, 3));
        if (!c->name || !c->type_text) {
            e = CE_ENOMEM;
            break;
        }
        if (!strcmp(kind, "partition_key")) {
            c->role = CQL_COL_PARTITION_KEY;
            m->npartition_keys++;
        } else if (!strcmp(kind, "clustering")) {
            c->role = CQL_COL_CLUSTERING;
            c->clustering_desc = !strcmp(order, "desc");
            m->nclustering++;
        } else {
            c->role = !strcmp(kind, "static") ? CQL_COL_STATIC : CQL_COL_REGULAR;
        }
        e = cql_type_parse(c->type_text, &c->type);
        if (e) {
            cql_session_set_err(s, "cannot parse type of column %s: %s", c->name, c->type_text);
            break;
        }
        e = resolve_udts(s, keyspace, c->type, 0);
    }
    cql_result_free(r);
    if (e) {
        cql_table_meta_free(m);
        return e;
    }
    qsort(m->columns, m->ncolumns, sizeof *m->columns, col_cmp);
    *out = m;
    return CE_OK;
}
