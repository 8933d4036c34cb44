/*
 * verify_repair.c - `verify --repair`: fix only what differs, with the sync's own paths.
 *
 *   copy_to_es          the Cassandra row read whole (the C->E column list, rowplan.c), turned
 *                       into its document (sync_row_doc) and indexed with external version =
 *                       its version through the bulk, as C->E does
 *   copy_to_cassandra   the document fetched (_mget) and written through E->C's writer
 *                       (sync_doc_values + writer.c) with USING TIMESTAMP version x unit,
 *                       raised above the row's WRITETIME so the newer version wins
 *   delete_es           a bulk delete with external version = its version + 1
 *   delete_cassandra    DELETE ... USING TIMESTAMP max(now, WRITETIME(version) + 1)
 * Differences in flight (written while the verify ran) are left to the running sync.
 */
#include "sync/e2c_int.h"
#include "sync/verify_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "util/jsonw.h"
#include "util/log.h"

#define MGET_BATCH 500

/* Whether the _id columns are exactly the primary key (one row per _id: a key lookup). */
static bool id_is_primary_key(const verify_job *j)
{
    const cql_table_meta *m = j->tp.meta;
    if (j->tp.nid != m->npartition_keys + m->nclustering)
        return false;
    for (size_t k = 0; k < j->tp.nid; k++)
        if ((size_t)j->tp.id_idx[k] >= j->tp.nid)
            return false;
    return true;
}

/* " WHERE k1=? AND k2=?" over the _id columns, in _id order. */
static ce_err where_id(const verify_job *j, ce_buf *q)
{
    ce_err e = ce_buf_append_str(q, " WHERE ");
    for (size_t k = 0; k < j->tp.nid && !e; k++) {
        e = k ? ce_buf_append_str(q, " AND ") : CE_OK;
        e = e ? e : cql_quote_ident(q, j->tp.meta->columns[j->tp.id_idx[k]].name);
        e = e ? e : ce_buf_append_str(q, "=?");
    }
    return e;
}

/* The key values of an _id (vals[0..nid)); their bytes in storage. */
static ce_err key_values(const verify_job *j, const char *id, cql_value *vals, ce_buf *storage)
{
    size_t offs[SYNC_MAX_KEY_PARTS], lens[SYNC_MAX_KEY_PARTS];
    ce_buf parts = CE_BUF_INIT;
    ce_buf_reset(storage);
    ce_err e = sync_id_split(id, strlen(id), j->tp.nid, &parts, offs);
    for (size_t k = 0; k < j->tp.nid && !e; k++) {
        size_t before = storage->len;
        bool is_null = false;
        e = sync_id_part_value(j->tp.meta->columns[j->tp.id_idx[k]].type, parts.data + offs[k], storage, &is_null);
        e = e ? e : (is_null ? CE_EINVAL : CE_OK);
        lens[k] = storage->len - before;
    }
    size_t off = 0;
    for (size_t k = 0; k < j->tp.nid && !e; k++) {
        vals[k].ptr = (const uint8_t *)storage->data + off;
        vals[k].len = (int32_t)lens[k];
        off += lens[k];
    }
    ce_buf_free(&parts);
    return e;
}

/* Execute a key read or a delete, once more after a failure (a busy or restarting node):
 * the repair of one record fails alone, logged, without stopping the others. */
static ce_err execute_key(verify_job *j, cql_prepared *p, const cql_value *vals, size_t n, cql_consistency cl,
                          cql_result **out, const char *id)
{
    cql_query_opts q;
    cql_query_opts_init(&q);
    q.consistency = cl;
    cql_error_info info;
    ce_err e = CE_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        memset(&info, 0, sizeof info);
        e = cql_session_execute(j->ctx.cql, p, vals, n, &q, out, &info);
        if (e != CE_ESERVER && e != CE_ETIMEOUT && e != CE_ECLOSED && e != CE_ENOHOST)
            break;
    }
    if (e)
        ce_warn("sync=%s msg=\"verify repair: cassandra request failed\" id=\"%s\" error=\"%s\"", j->ctx.def->name,
                id, e == CE_ESERVER ? info.message : ce_strerror(e));
    return e;
}

static ce_err prepare(verify_job *j, ce_buf *q, cql_prepared **out)
{
    cql_error_info info;
    ce_err e = ce_buf_cstr(q) ? cql_session_prepare(j->ctx.cql, q->data, out, &info) : CE_ENOMEM;
    if (e)
        ce_error("sync=%s msg=\"verify repair: prepare failed\" cql=\"%s\" error=\"%s\"", j->ctx.def->name,
                 q->data ? q->data : "", e == CE_ESERVER ? info.message : ce_strerror(e));
    return e;
}

/* ---------------------------------------------------------------- Elasticsearch side */

typedef struct {
    verify_job *j;
    sync_rows rows;
    cql_prepared *sel;
    es_bulk *bulk;
    const char *type;
} es_fixer;

static void on_item(const es_bulk_item_result *r, void *ud)
{
    es_fixer *f = ud;
    sync_diff *df = &f->j->out->diffs[r->tag];
    /* A conflict: Elasticsearch holds this or a newer version already; 404: already gone.
     * Except a copy of a record Elasticsearch did not have: there a conflict is the
     * version Elasticsearch remembers of a document deleted less than index.gc_deletes ago
     * (a plain DELETE raises it above the document's): the document is still absent. */
    bool absent_refused = df->fix == SYNC_FIX_COPY_TO_ES && df->kind == SYNC_DIFF_ONLY_CASSANDRA &&
                          r->status == ES_ITEM_CONFLICT;
    df->fixed = !absent_refused && (r->status == ES_ITEM_OK || r->status == ES_ITEM_CONFLICT ||
                                    (df->fix == SYNC_FIX_DELETE_ES && r->http_status == 404));
    if (absent_refused)
        ce_warn("sync=%s msg=\"verify repair refused: Elasticsearch remembers a delete of this document with a "
                "version at or above the row's; it forgets it after index.gc_deletes (default 60 s): repair again "
                "then\" id=\"%s\"",
                f->j->ctx.def->name, df->id);
    else if (!df->fixed)
        ce_warn("sync=%s msg=\"verify repair failed\" id=\"%s\" status=%d reason=\"%s\"", f->j->ctx.def->name,
                df->id, r->http_status, r->error_reason ? r->error_reason : "");
}

/* Read the row of df and index it as C->E would. */
static ce_err copy_row(es_fixer *f, size_t i, ce_buf *storage)
{
    verify_job *j = f->j;
    sync_diff *df = &j->out->diffs[i];
    cql_value keys[SYNC_MAX_KEY_PARTS];
    cql_result *res = NULL;
    ce_err e = key_values(j, df->id, keys, storage);
    e = e ? e : execute_key(j, f->sel, keys, j->tp.nid, j->ctx.read_cl, &res, df->id);
    if (e || cql_result_row_count(res) == 0) {
        cql_result_free(res);
        return e == CE_ENOMEM ? e : CE_OK; /* failed (logged, not fixed) or gone meanwhile */
    }
    size_t nc = f->rows.ncells;
    cql_value cells[nc ? nc : 1];
    for (size_t c = 0; c < nc; c++)
        cells[c] = cql_result_cell(res, 0, c);
    int64_t version;
    bool from_wt;
    e = sync_row_version(&f->rows.rm, cells, &version, &from_wt);
    ce_buf *doc = e ? NULL : es_bulk_index_begin(f->bulk, j->ctx.def->index, f->type, df->id, strlen(df->id),
                                                  ES_VERSION_EXTERNAL, version);
    if (doc && sync_row_doc(&f->rows.rm, cells, doc) == CE_OK)
        e = es_bulk_commit(f->bulk, i);
    else if (doc)
        es_bulk_abort(f->bulk);
    cql_result_free(res);
    return e;
}

static ce_err es_fixer_open(es_fixer *f, verify_job *j)
{
    f->j = j;
    const sync_def *d = j->ctx.def;
    f->type = d->type && *d->type ? d->type : (es_client_caps(j->ctx.es)->has_types ? "_doc" : NULL);
    es_bulk_opts bo;
    es_bulk_opts_init(&bo);
    bo.on_result = on_item;
    bo.ud = f;
    ce_err e = sync_rows_plan(d, &j->tp, &f->rows);
    e = e ? e : where_id(j, &f->rows.select);
    e = e ? e : prepare(j, &f->rows.select, &f->sel);
    return e ? e : es_bulk_new(j->ctx.es, &bo, &f->bulk);
}

static ce_err fix_es_side(verify_job *j)
{
    es_fixer f = {0};
    ce_buf storage = CE_BUF_INIT;
    bool any = false;
    ce_err e = CE_OK;
    for (size_t i = 0; i < j->out->ndiffs && !e; i++) {
        sync_diff *df = &j->out->diffs[i];
        if (df->in_flight || (df->fix != SYNC_FIX_COPY_TO_ES && df->fix != SYNC_FIX_DELETE_ES))
            continue;
        if (!any) {
            any = true;
            e = es_fixer_open(&f, j);
            if (e)
                break;
        }
        if (df->fix == SYNC_FIX_COPY_TO_ES)
            e = copy_row(&f, i, &storage);
        else
            e = es_bulk_delete(f.bulk, j->ctx.def->index, f.type, df->id, strlen(df->id), ES_VERSION_EXTERNAL,
                               df->e_version + 1, i);
    }
    ce_err fe = f.bulk ? es_bulk_finish(f.bulk) : CE_OK;
    e = e ? e : fe;
    if (any)
        (void)es_index_refresh(j->ctx.es, j->ctx.def->index);
    es_bulk_free(f.bulk);
    sync_rows_free(&f.rows);
    ce_buf_free(&storage);
    return e;
}

/* ---------------------------------------------------------------- Cassandra side */

/* DELETE ... USING TIMESTAMP ? WHERE <id columns> */
static ce_err delete_row(verify_job *j, cql_prepared *del, sync_diff *df, ce_buf *storage)
{
    cql_value vals[SYNC_MAX_KEY_PARTS + 1];
    uint8_t tsb[8];
    int64_t now_us = sync_now_ms() * 1000;
    int64_t ts = df->c_writetime != INT64_MIN && df->c_writetime >= now_us ? df->c_writetime + 1 : now_us;
    sync_writer_bind_ts(&vals[0], tsb, ts);
    ce_err e = key_values(j, df->id, vals + 1, storage);
    e = e ? e : execute_key(j, del, vals, j->tp.nid + 1, j->ctx.write_cl, NULL, df->id);
    df->fixed = e == CE_OK;
    return e == CE_ENOMEM ? e : CE_OK; /* a failure is logged and counted (fix_failed) */
}

static ce_err delete_rows(verify_job *j)
{
    ce_buf q = CE_BUF_INIT, storage = CE_BUF_INIT;
    cql_prepared *del = NULL;
    ce_err e = CE_OK;
    for (size_t i = 0; i < j->out->ndiffs && !e; i++) {
        sync_diff *df = &j->out->diffs[i];
        if (df->in_flight || df->fix != SYNC_FIX_DELETE_CASSANDRA)
            continue;
        if (!del) {
            e = ce_buf_append_str(&q, "DELETE FROM ");
            e = e ? e : cql_quote_table(&q, j->tp.meta->keyspace, j->tp.meta->table);
            e = e ? e : ce_buf_append_str(&q, " USING TIMESTAMP ?");
            e = e ? e : where_id(j, &q);
            e = e ? e : prepare(j, &q, &del);
        }
        e = e ? e : delete_row(j, del, df, &storage);
    }
    ce_buf_free(&q);
    ce_buf_free(&storage);
    return e;
}

/* Write the documents of one _mget answer through E->C's writer. */
static ce_err write_docs(verify_job *j, sync_writer *w, const json_t *docs, size_t *idx, size_t n)
{
    ce_buf storage = CE_BUF_INIT, err = CE_BUF_INIT;
    cql_value *vals = calloc(w->ncols + 1, sizeof *vals);
    int64_t unit = sync_version_unit(j->ctx.def->version_unit_us);
    ce_err e = vals ? CE_OK : CE_ENOMEM;
    for (size_t k = 0; k < n && k < json_array_size(docs) && !e; k++) {
        json_t *hit = json_array_get(docs, k);
        sync_diff *df = &j->out->diffs[idx[k]];
        int64_t version;
        ce_buf_reset(&err);
        if (!json_is_true(json_object_get(hit, "found")) ||
            sync_doc_values(&w->dm, hit, &storage, vals, &version, &err) != CE_OK) {
            ce_warn("sync=%s msg=\"verify repair: document not written\" id=\"%s\" reason=\"%s\"",
                    j->ctx.def->name, df->id, err.len ? ce_buf_cstr(&err) : "gone");
            continue;
        }
        int64_t ts = version * unit;
        if ((df->has_c || df->marked) && df->c_writetime != INT64_MIN && df->c_writetime >= ts)
            ts = df->c_writetime + 1; /* the newer version must win over the row's timestamp */
        uint8_t tsb[8];
        sync_writer_bind_ts(&vals[w->ncols], tsb, ts);
        e = sync_writer_queue(w, hit, vals, ts);
        df->fixed = e == CE_OK;
    }
    free(vals);
    ce_buf_free(&storage);
    ce_buf_free(&err);
    return e;
}

/* POST /<index>/_mget {"ids":[...]}: the bodies of the documents to copy. */
static ce_err mget(verify_job *j, size_t *idx, size_t n, json_t **root)
{
    ce_buf path = CE_BUF_INIT, body = CE_BUF_INIT, resp = CE_BUF_INIT;
    long st = 0;
    ce_err e = ce_buf_printf(&path, "/%s/_mget", j->ctx.def->index);
    e = e ? e : ce_buf_append_str(&body, "{\"ids\":[");
    for (size_t k = 0; k < n && !e; k++) {
        e = k ? ce_buf_append_byte(&body, ',') : CE_OK;
        e = e ? e : jsonw_cstr(&body, j->out->diffs[idx[k]].id);
    }
    e = e ? e : ce_buf_append_str(&body, "]}");
    e = e ? e : (ce_buf_cstr(&path) ? CE_OK : CE_ENOMEM);
    e = e ? e : es_client_request(j->ctx.es, "POST", path.data, body.data, body.len, &st, &resp);
    j->out->es_source_requests++;
    json_error_t je;
    *root = e || st != 200 ? NULL : json_loadb(resp.data, resp.len, 0, &je);
    if (!e && !json_is_array(json_object_get(*root, "docs")))
        e = st == 200 ? CE_EJSON : CE_EHTTP;
    ce_buf_free(&path);
    ce_buf_free(&body);
    ce_buf_free(&resp);
    return e;
}

static ce_err copy_docs(verify_job *j)
{
    sync_writer w = {0};
    size_t idx[MGET_BATCH], n = 0;
    bool open = false;
    ce_err e = CE_OK;
    for (size_t i = 0; i <= j->out->ndiffs && !e; i++) {
        bool want = i < j->out->ndiffs && !j->out->diffs[i].in_flight &&
                    j->out->diffs[i].fix == SYNC_FIX_COPY_TO_CASSANDRA;
        if (want)
            idx[n++] = i;
        if (n == 0 || (n < MGET_BATCH && i < j->out->ndiffs))
            continue;
        if (!open) {
            open = true;
            e = sync_writer_open(&j->ctx, &j->tp, &w);
        }
        json_t *root = NULL;
        e = e ? e : mget(j, idx, n, &root);
        e = e ? e : write_docs(j, &w, json_object_get(root, "docs"), idx, n);
        json_decref(root);
        n = 0;
    }
    if (open) {
        ce_err fe = sync_writer_flush(&w);
        sync_writer_drain(&w);
        e = e ? e : fe; /* failed writes: counted by the writer, those records left unfixed */
        if (j->res.e2c_failed || j->res.e2c_rejected || j->ctx.dl_repeats)
            for (size_t i = 0; i < j->out->ndiffs; i++)
                if (j->out->diffs[i].fix == SYNC_FIX_COPY_TO_CASSANDRA)
                    j->out->diffs[i].fixed = false; /* the writer counts, it does not say which */
    }
    sync_writer_close(&w);
    return e;
}

ce_err verify_repair_run(verify_job *j)
{
    size_t todo = 0;
    for (size_t i = 0; i < j->out->ndiffs; i++)
        todo += !j->out->diffs[i].in_flight;
    if (!todo)
        return CE_OK;
    if (!id_is_primary_key(j)) {
        sync_pass_fail(&j->ctx, CE_EUNSUPPORTED, "%s", "repair needs id_col to be the primary key");
        return CE_EUNSUPPORTED;
    }
    ce_err e = fix_es_side(j);
    ce_err e2 = delete_rows(j);
    ce_err e3 = copy_docs(j);
    e = e ? e : e2 ? e2 : e3;
    for (size_t i = 0; i < j->out->ndiffs; i++) {
        const sync_diff *df = &j->out->diffs[i];
        if (!df->in_flight)
            *(df->fixed ? &j->out->fixed : &j->out->fix_failed) += 1;
    }
    if (e)
        sync_pass_fail(&j->ctx, e, "repair: %s", ce_strerror(e));
    else if (j->out->fix_failed)
        ce_warn("sync=%s msg=\"verify repair: some records not fixed (see above); run verify again\" "
                "not_fixed=%zu", j->ctx.def->name, j->out->fix_failed);
    return e;
}
