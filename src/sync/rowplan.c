/*
 * rowplan.c - C->E: the SELECT's column list and the row map that turns a result row
 * into a document (docmap.c does the conversion itself).
 *
 * The SELECT reads every column, then WRITETIME of the source and version columns when
 * they are plain regular columns (the echo rule), and of one more scalar regular column
 * as the fallback version of rows without one. Each field's "name": text is escaped once
 * here for the whole pass (the hot path copies it).
 */
#include "sync/c2e_int.h"

#include <stdlib.h>
#include <string.h>
#include "util/jsonw.h"

/* A column WRITETIME() can be asked of: regular or static, not a counter, frozen when
 * a collection or a UDT. */
static bool is_scalar_regular(const cql_column_meta *cm)
{
    if (cm->role != CQL_COL_REGULAR && cm->role != CQL_COL_STATIC)
        return false;
    cql_type_kind k = cm->type->kind;
    if (k == CQL_T_LIST || k == CQL_T_SET || k == CQL_T_MAP || k == CQL_T_UDT)
        return cm->type->frozen;
    return k != CQL_T_COUNTER;
}

static ce_err append_writetime(ce_buf *sel, const char *name)
{
    ce_err e = ce_buf_append_str(sel, ",WRITETIME(");
    e = e ? e : cql_quote_ident(sel, name);
    return e ? e : ce_buf_append_byte(sel, ')');
}

/* "SELECT a,b,..." and the names and types of the columns. */
static ce_err select_columns(const cql_table_meta *m, sync_rows *r)
{
    r->names = calloc(m->ncolumns + 1, sizeof *r->names);
    r->types = calloc(m->ncolumns + 1, sizeof *r->types);
    if (!r->names || !r->types)
        return CE_ENOMEM;
    ce_err e = ce_buf_append_str(&r->select, "SELECT ");
    for (size_t i = 0; i < m->ncolumns && !e; i++) {
        r->names[i] = m->columns[i].name;
        r->types[i] = m->columns[i].type;
        if (i)
            e = ce_buf_append_byte(&r->select, ',');
        if (!e)
            e = cql_quote_ident(&r->select, m->columns[i].name);
    }
    return e;
}

/* Each field's "name": text, escaped once for the whole pass. */
static ce_err field_keys(size_t n, sync_rows *r)
{
    r->key_json = calloc(n + 1, sizeof *r->key_json);
    if (!r->key_json)
        return CE_ENOMEM;
    ce_err e = CE_OK;
    for (size_t i = 0; i < n && !e; i++) {
        size_t before = r->keys.len;
        e = jsonw_key(&r->keys, r->names[i], strlen(r->names[i]));
        r->key_json[i].len = r->keys.len - before;
    }
    /* pointers once the buffer is complete (appends may move it) */
    const char *kp = r->keys.data;
    for (size_t i = 0; i < n && !e; i++) {
        r->key_json[i].ptr = kp;
        kp += r->key_json[i].len;
    }
    return e;
}

/* The WRITETIME columns after the table's: source, version, any scalar regular one. */
static ce_err writetime_columns(const cql_table_meta *m, sync_rows *r)
{
    sync_rowmap *rm = &r->rm;
    size_t n = m->ncolumns;
    const cql_column_meta *src = rm->source_idx >= 0 ? &m->columns[rm->source_idx] : NULL;
    const cql_column_meta *ver = rm->version_idx >= 0 ? &m->columns[rm->version_idx] : NULL;
    ce_err e = CE_OK;
    if (src && is_scalar_regular(src)) {
        e = append_writetime(&r->select, src->name);
        rm->wt_source_idx = (int)n++;
    }
    if (!e && ver && is_scalar_regular(ver)) {
        e = append_writetime(&r->select, ver->name);
        rm->wt_version_idx = (int)n++;
    }
    for (size_t i = 0; i < m->ncolumns && !e; i++) {
        const cql_column_meta *cm = &m->columns[i];
        if (cm == src || cm == ver || !is_scalar_regular(cm))
            continue;
        e = append_writetime(&r->select, cm->name);
        rm->wt_any_idx = (int)n++;
        break;
    }
    r->ncells = n;
    return e;
}

ce_err sync_rows_plan(const sync_def *d, const sync_table_plan *tp, sync_rows *r)
{
    const cql_table_meta *m = tp->meta;
    sync_rowmap *rm = &r->rm;
    rm->ncols = m->ncolumns;
    rm->version_idx = tp->version_idx;
    rm->source_idx = tp->source_idx;
    rm->deleted_idx = tp->deleted_idx;
    rm->wt_source_idx = rm->wt_version_idx = rm->wt_any_idx = -1;
    rm->source_field = d->source_field;
    rm->cassandra_source_id = d->cassandra_source_id;
    rm->es_source_id = d->es_source_id;
    rm->version_unit_us = d->version_unit_us;
    rm->token_field = d->token_field && *d->token_field ? d->token_field : NULL;
    rm->npk = m->npartition_keys; /* the SELECT starts with the partition key */
    rm->nid = tp->nid;
    memcpy(rm->id_idx, tp->id_idx, sizeof rm->id_idx);
    ce_err e = select_columns(m, r);
    e = e ? e : field_keys(m->ncolumns, r);
    e = e ? e : writetime_columns(m, r);
    e = e ? e : ce_buf_append_str(&r->select, " FROM ");
    e = e ? e : cql_quote_table(&r->select, m->keyspace, m->table);
    e = e ? e : (ce_buf_cstr(&r->select) ? CE_OK : CE_ENOMEM);
    rm->names = r->names;
    rm->types = r->types;
    rm->key_json = r->key_json;
    return e;
}

void sync_rows_free(sync_rows *r)
{
    ce_buf_free(&r->keys);
    ce_buf_free(&r->select);
    free(r->key_json);
    free(r->names);
    free(r->types);
    memset(r, 0, sizeof *r);
}
