/*
 * table.c - the table plan both directions start from, the sizes of a sync, and the
 * dead-letter helper.
 *
 * Both directions read the table's metadata, find the _id parts (sync_def.id_cols, split
 * once by the config loader, else the primary key), the version and the source columns,
 * and reject an id column the table does not have with the same message. The plan also
 * says whether a storage-attached index (SAI) serves the version column, which decides
 * whether the C->E read can be a cheap range (read_mode index) or scans the table.
 */
#include "sync/sync_int.h"

#include <jansson.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

int sync_table_column(const cql_table_meta *m, const char *name)
{
    for (size_t i = 0; name && i < m->ncolumns; i++)
        if (strcmp(m->columns[i].name, name) == 0)
            return (int)i;
    return -1;
}

bool sync_table_is_key(const cql_table_meta *m, size_t i)
{
    return m->columns[i].role == CQL_COL_PARTITION_KEY || m->columns[i].role == CQL_COL_CLUSTERING;
}

/* The _id parts: the configured id columns, else the primary key. */
static ce_err resolve_ids(sync_pass_ctx *ctx, sync_table_plan *tp)
{
    const sync_def *d = ctx->def;
    const cql_table_meta *m = tp->meta;
    if (d->nid_cols == 0) {
        size_t nk = m->npartition_keys + m->nclustering;
        if (nk > SYNC_MAX_KEY_PARTS) {
            sync_pass_fail(ctx, CE_EUNSUPPORTED, "%s", "tables with more than 16 key columns are not supported");
            return CE_EUNSUPPORTED;
        }
        for (size_t i = 0; i < nk; i++)
            tp->id_idx[i] = (int)i;
        tp->nid = nk;
        return CE_OK;
    }
    if (d->nid_cols > SYNC_MAX_KEY_PARTS) {
        sync_pass_fail(ctx, CE_ECONFIG, "too many id columns%s", "");
        return CE_ECONFIG;
    }
    for (size_t k = 0; k < d->nid_cols; k++) {
        int found = sync_table_column(m, d->id_cols[k]);
        if (found < 0) {
            sync_pass_fail(ctx, CE_ECONFIG, "id column \"%s\" is not in the table", d->id_cols[k]);
            return CE_ECONFIG;
        }
        tp->id_idx[k] = found;
    }
    tp->nid = d->nid_cols;
    return CE_OK;
}

/* Whether one row of system_schema.indexes (kind, options) is an SAI index on column col. */
static bool is_sai_on(const cql_result *r, size_t row, const char *col)
{
    cql_value kind = cql_result_cell(r, row, 0), opts = cql_result_cell(r, row, 1);
    if (kind.len != 6 || memcmp(kind.ptr, "CUSTOM", 6) != 0)
        return false;
    ce_buf text = CE_BUF_INIT, quoted = CE_BUF_INIT;
    json_t *o = NULL;
    if (conv_value_to_json(cql_result_column_type(r, 1), opts.ptr, opts.len, &text) == CE_OK &&
        ce_buf_cstr(&text))
        o = json_loads(text.data, 0, NULL);
    const char *cls = json_string_value(json_object_get(o, "class_name"));
    const char *target = json_string_value(json_object_get(o, "target"));
    size_t n = cls ? strlen(cls) : 0, suffix = strlen("StorageAttachedIndex");
    bool sai = cls && (strcasecmp(cls, "sai") == 0 ||
                       (n >= suffix && strcmp(cls + n - suffix, "StorageAttachedIndex") == 0));
    bool on_col = target && (strcmp(target, col) == 0 ||
                             (cql_quote_ident(&quoted, col) == CE_OK && ce_buf_cstr(&quoted) &&
                              strcmp(target, quoted.data) == 0));
    json_decref(o);
    ce_buf_free(&text);
    ce_buf_free(&quoted);
    return sai && on_col;
}

ce_err sync_table_version_index(cql_session *s, const char *keyspace, const char *table, const char *col,
                                bool *found)
{
    *found = false;
    cql_value v[2] = {{(const uint8_t *)keyspace, (int32_t)strlen(keyspace)},
                      {(const uint8_t *)table, (int32_t)strlen(table)}};
    cql_result *r = NULL;
    ce_err e = cql_session_query(s, "SELECT kind, options FROM system_schema.indexes WHERE keyspace_name = ? "
                                    "AND table_name = ?", v, 2, NULL, &r, NULL);
    for (size_t i = 0; !e && col && i < cql_result_row_count(r) && !*found; i++)
        *found = is_sai_on(r, i, col);
    cql_result_free(r);
    return e;
}

ce_err sync_table_plan_load(sync_pass_ctx *ctx, sync_table_plan *tp)
{
    const sync_def *d = ctx->def;
    sync_table_plan_free(tp);
    ce_err rc = cql_session_table_meta(ctx->cql, sync_keyspace(ctx), d->table, &tp->meta);
    if (rc) {
        char what[300];
        snprintf(what, sizeof what, "%s.%s: %s", sync_keyspace(ctx), d->table,
                 rc == CE_ENOTFOUND ? "no such table" : cql_session_errmsg(ctx->cql));
        sync_pass_fail(ctx, rc, "table %s", what);
        return rc;
    }
    tp->version_idx = sync_table_column(tp->meta, d->version_col);
    tp->source_idx = sync_table_column(tp->meta, d->source_field);
    tp->deleted_idx = sync_table_column(tp->meta, d->deleted_col);
    if (tp->version_idx >= 0 && ctx->dir->reads_table) {
        rc = sync_table_version_index(ctx->cql, sync_keyspace(ctx), d->table, d->version_col, &tp->version_index);
        if (rc) {
            sync_pass_fail(ctx, rc, "reading system_schema.indexes: %s", cql_session_errmsg(ctx->cql));
            return rc;
        }
    }
    return resolve_ids(ctx, tp);
}

ce_err sync_table_check_columns(sync_pass_ctx *ctx, const sync_table_plan *tp)
{
    const char *dc = ctx->def->deleted_col, *tf = ctx->def->token_field;
    char what[256] = "";
    if (dc && tp->deleted_idx < 0)
        snprintf(what, sizeof what, "deleted_col \"%.150s\" is not a column of the table", dc);
    else if (tf && *tf && sync_table_column(tp->meta, tf) >= 0)
        snprintf(what, sizeof what, "token_field \"%.120s\" is a column of the table: the token needs a field of "
                 "its own", tf);
    if (!what[0])
        return CE_OK;
    sync_pass_fail(ctx, CE_ECONFIG, "%s", what);
    return CE_ECONFIG;
}

void sync_table_plan_free(sync_table_plan *tp)
{
    cql_table_meta_free(tp->meta);
    memset(tp, 0, sizeof *tp);
}

/* Every size of a sync and its default: the values src/cli/config_keys.c gives them. */
static const struct {
    size_t off;
    int value;
} size_defaults[] = {
    {offsetof(sync_def, page_size), 20000},        {offsetof(sync_def, es_page_size), 2000},
    {offsetof(sync_def, bulk_max_docs), 5000},     {offsetof(sync_def, bulk_max_bytes), 5 << 20},
    {offsetof(sync_def, bulk_concurrency), 2},     {offsetof(sync_def, write_concurrency), 256},
    {offsetof(sync_def, write_batch_rows), 10},    {offsetof(sync_def, max_new_columns), 20},
};

void sync_def_sizes(const sync_def *d, sync_def *out)
{
    *out = *d;
    for (size_t i = 0; i < sizeof size_defaults / sizeof size_defaults[0]; i++) {
        int *v = (int *)((char *)out + size_defaults[i].off);
        if (*v <= 0)
            *v = size_defaults[i].value;
    }
    out->version_unit_us = sync_version_unit(out->version_unit_us);
}

bool sync_pass_dead_letter_counted(sync_pass_ctx *ctx, uint64_t *rejected, const char *id, const char *reason,
                                   const char *doc, size_t doc_len)
{
    bool repeat = false;
    if (!ctx->dl)
        return false;
    if (sync_deadletter_write(ctx->dl, ctx->def->name, ctx->dir->name, id, reason, doc, doc_len, &repeat) != CE_OK) {
        ctx->dl_failed = true;
        return false;
    }
    if (repeat) { /* settled as a rejected item is, counted apart */
        if (rejected && *rejected > 0)
            (*rejected)--;
        ctx->dl_repeats++;
        ce_debug("sync=%s dir=%s msg=\"dead letter already in the file; not written again\" id=%s", ctx->def->name,
                 ctx->dir->name, SYNC_LOGQ(id ? id : ""));
    }
    return repeat;
}

bool sync_pass_dead_letter(sync_pass_ctx *ctx, const char *id, const char *reason, const char *doc,
                           size_t doc_len)
{
    return sync_pass_dead_letter_counted(ctx, &ctx->res->c2e_rejected, id, reason, doc, doc_len);
}
