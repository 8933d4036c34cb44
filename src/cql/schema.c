/*
 * schema.c - table metadata from system_schema: columns with their roles, positions
 * and types (cql_type_parse of the stored text), user-defined types resolved from
 * system_schema.types (recursively, depth-capped), ordered partition key first, then
 * clustering columns, then the others by name; and the schema agreement wait after DDL
 * (every connected host's own schema_version).
 */
#include "cql/session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util/log.h"

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

/* ---------------------------------------------------------------- schema agreement */

#define AGREEMENT_POLL_MS 100
#define AGREEMENT_MAX_HOSTS 64

bool cql_schema_versions_agree(const cql_value *vs, size_t n)
{
    if (n == 0 || vs[0].len <= 0)
        return false;
    for (size_t i = 1; i < n; i++)
        if (vs[i].len != vs[0].len || memcmp(vs[i].ptr, vs[0].ptr, (size_t)vs[0].len) != 0)
            return false;
    return true;
}

/* One round: SELECT schema_version FROM system.local on every host with a ready
 * connection, pinned to it, all at once. true when every host answered the same. When
 * not, why says which host differs or failed. */
static bool agreement_round(cql_session *s, char *why, size_t why_size)
{
    cql_future *fs[AGREEMENT_MAX_HOSTS];
    int hs[AGREEMENT_MAX_HOSTS];
    size_t n = 0;
    for (size_t i = 0; i < s->nhosts && n < AGREEMENT_MAX_HOSTS; i++) {
        if (!s->hosts[i].conn || s->hosts[i].conn->state != CS_READY)
            continue;
        cql_future *f = cql_future_new_query(s, "SELECT schema_version FROM system.local", NULL, 0, NULL);
        if (!f)
            break;
        f->pin_host = (int)i;
        f->q.consistency = CQL_CONSISTENCY_ONE;
        cql_session_submit(s, f);
        hs[n] = (int)i;
        fs[n++] = f;
    }
    cql_result *rs[AGREEMENT_MAX_HOSTS] = {0};
    cql_value vs[AGREEMENT_MAX_HOSTS];
    snprintf(why, why_size, "%s", n ? "" : "no host connected");
    for (size_t i = 0; i < n; i++) {
        vs[i] = (cql_value){NULL, -1};
        if (cql_future_wait(fs[i], &rs[i]) != CE_OK && !why[0])
            snprintf(why, why_size, "host %s: %.200s", s->hosts[hs[i]].addr, fs[i]->errmsg);
        else if (rs[i] && cql_result_row_count(rs[i]) > 0)
            vs[i] = cql_result_cell(rs[i], 0, 0);
        cql_future_free(fs[i]);
    }
    bool agree = cql_schema_versions_agree(vs, n);
    for (size_t i = 1; !agree && !why[0] && i < n; i++)
        if (!cql_schema_versions_agree((cql_value[]){vs[0], vs[i]}, 2))
            snprintf(why, why_size, "hosts %s and %s report different schema versions", s->hosts[hs[0]].addr,
                     s->hosts[hs[i]].addr);
    for (size_t i = 0; i < n; i++)
        cql_result_free(rs[i]);
    return agree;
}

ce_err cql_session_wait_schema_agreement(cql_session *s, int timeout_ms)
{
    int64_t start = cql_now_ms(), deadline = start + (timeout_ms > 0 ? timeout_ms : 0);
    char why[400] = "";
    for (int round = 1;; round++) {
        if (agreement_round(s, why, sizeof why)) {
            s->schema_unsettled = false;
            ce_debug("msg=\"cql schema agreement\" rounds=%d ms=%lld", round, (long long)(cql_now_ms() - start));
            return CE_OK;
        }
        if (cql_now_ms() + AGREEMENT_POLL_MS > deadline)
            break;
        struct timespec ts = {0, AGREEMENT_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    cql_session_set_err(s, "no schema agreement within %d ms: %s", timeout_ms, why[0] ? why : "no answer");
    return CE_ETIMEOUT;
}

bool cql_session_schema_unsettled(const cql_session *s) { return s->schema_unsettled; }
