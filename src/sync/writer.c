/*
 * writer.c - E->C: the Cassandra writer.
 *
 * Each document becomes the values of one prepared
 *   INSERT INTO ks.t (every column) VALUES (...) USING TIMESTAMP ?
 * (docmap.c converts; the timestamp is version x version_unit_us, raised by the version
 * guard when needed), so Cassandra's last-write-wins keeps the newest copy whatever the
 * order. Writes are grouped by the replica of their partition key and go out as unlogged
 * batches of one replica's rows (Cassandra warns about unlogged batches over 10
 * partitions and over 5 KiB and refuses them over 50 KiB: a group goes out at 10 rows or
 * 4 KiB of values), up to write_concurrency requests in flight. A failed batch is written
 * again one document at a time so each gets its own verdict: refused as invalid -> dead
 * letter; a node that has not seen a just-added column yet -> written again for a few
 * seconds; anything else fails the pass (the checkpoint stays).
 *
 * A document marked deleted (deleted_col, docs/deletes.md) becomes one prepared
 *   DELETE FROM ks.t USING TIMESTAMP ? WHERE k1=? AND ...
 * with the same timestamp an INSERT of it would have (older writes stay shadowed). Deletes
 * are rare: each goes out on its own, in the same ring, with the same verdicts.
 */
#include "sync/e2c_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "util/clock.h"
#include "util/log.h"

#define WRITE_BATCH_BYTES 4096
#define SCHEMA_LAG_ATTEMPTS 50     /* x 200 ms */

/* A write in flight: one INSERT, or an unlogged batch of INSERTs bound for one replica. */
struct sync_pending_write {
    cql_future *f;
    size_t n;
    bool del;                      /* one DELETE (n == 1) */
    json_t *hit[SYNC_WRITE_BATCH_MAX];
    int64_t ts[SYNC_WRITE_BATCH_MAX]; /* each one's USING TIMESTAMP (the guard may raise it) */
};

/* Writes waiting to go out together to one replica. */
struct sync_write_group {
    size_t n;
    json_t *hit[SYNC_WRITE_BATCH_MAX];
    int64_t ts[SYNC_WRITE_BATCH_MAX];
    ce_buf bytes;                  /* value bytes of the n statements, in order */
    int32_t *lens;                 /* SYNC_WRITE_BATCH_MAX x (ncols + 1) lengths */
};

static bool undefined_column(ce_err e, const cql_error_info *info)
{
    return e == CE_ESERVER && info && strstr(info->message, "Undefined column");
}

static const char *hit_id(const json_t *hit)
{
    const char *id = json_string_value(json_object_get(hit, "_id"));
    return id ? id : "";
}

void sync_writer_reject(sync_writer *w, const json_t *hit, const char *reason)
{
    sync_pass_ctx *ctx = w->ctx;
    ctx->res->e2c_rejected++;
    const json_t *src = ctx->dl ? json_object_get(hit, "_source") : NULL;
    char *doc = src ? json_dumps(src, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    bool repeat = sync_pass_dead_letter_counted(ctx, &ctx->res->e2c_rejected, hit_id(hit), reason, doc,
                                                doc ? strlen(doc) : 0);
    free(doc);
    if (!repeat) /* a repeat has its debug line (sync_pass_dead_letter_counted) */
        ce_warn("sync=%s dir=to_cassandra msg=\"document rejected\" id=%s reason=%s", ctx->def->name,
                SYNC_LOGQ(hit_id(hit)), SYNC_LOGQ(reason));
}

void sync_writer_bind_ts(cql_value *v, uint8_t bytes[8], int64_t ts)
{
    for (int k = 0; k < 8; k++)
        bytes[k] = (uint8_t)((uint64_t)ts >> (56 - 8 * k));
    v->ptr = bytes;
    v->len = 8;
}

/* Write one document now (blocking), with timestamp ts. */
static ce_err write_one_now(sync_writer *w, const json_t *hit, int64_t ts, cql_error_info *info)
{
    ce_buf storage = CE_BUF_INIT, err = CE_BUF_INIT;
    cql_value *vals = calloc(w->ncols + 1, sizeof *vals);
    int64_t version;
    uint8_t tsb[8];
    ce_err e = vals ? sync_doc_values(&w->dm, hit, &storage, vals, &version, &err) : CE_ENOMEM;
    if (!e) {
        sync_writer_bind_ts(&vals[w->ncols], tsb, ts);
        cql_query_opts qo;
        cql_query_opts_init(&qo);
        qo.consistency = w->ctx->write_cl;
        e = cql_session_execute(w->ctx->cql, w->ins, vals, w->ncols + 1, &qo, NULL, info);
    }
    free(vals);
    ce_buf_free(&storage);
    ce_buf_free(&err);
    return e;
}

/* A node that has not applied a just-added column yet: write again (blocking) for a
 * few seconds. true when the write finally went through. */
static bool retry_after_schema_lag(sync_writer *w, const json_t *hit, int64_t ts)
{
    for (int attempt = 0; attempt < SCHEMA_LAG_ATTEMPTS; attempt++) {
        ce_sleep_ms(200);
        cql_error_info info;
        memset(&info, 0, sizeof info);
        ce_err e = write_one_now(w, hit, ts, &info);
        if (e == CE_OK)
            return true;
        if (!undefined_column(e, &info))
            return false;
    }
    return false;
}

/* Syntax, Invalid, ConfigError: the same write would fail again. */
static bool is_invalid_request(int32_t code) { return code == 0x2000 || code == 0x2200 || code == 0x2300; }

/* Account for the outcome of one document's write. */
static void account_write(sync_writer *w, const json_t *hit, int64_t ts, bool del, ce_err e,
                          const cql_error_info *info, const char *msg)
{
    sync_pass_result *res = w->ctx->res;
    if (!del && undefined_column(e, info) && retry_after_schema_lag(w, hit, ts))
        e = CE_OK;
    if (e == CE_OK) {
        ++*(del ? &res->e2c_deleted : &res->e2c_written);
        return;
    }
    if (e == CE_ESERVER && info && is_invalid_request(info->code) && !undefined_column(e, info)) {
        char reason[600];
        snprintf(reason, sizeof reason, "cassandra refused the write: %s", info->message);
        sync_writer_reject(w, hit, reason);
        return;
    }
    res->e2c_failed++;
    if (!w->write_err)
        w->write_err = e;
    if (res->e2c_failed <= 5)
        ce_warn("sync=%s dir=to_cassandra msg=\"write failed\" id=%s error=%s", w->ctx->def->name,
                SYNC_LOGQ(hit_id(hit)), SYNC_LOGQ(msg && *msg ? msg : ce_strerror(e)));
}

/* Wait for the oldest write and account for it; a failed batch is written again one
 * document at a time. */
static void complete_oldest(sync_writer *w)
{
    sync_pending_write *p = &w->ring[w->head];
    ce_err e = cql_future_wait(p->f, NULL);
    if (p->n == 1 || e == CE_OK) {
        for (size_t k = 0; k < p->n; k++)
            account_write(w, p->hit[k], p->ts[k], p->del, e, e ? cql_future_error(p->f) : NULL,
                          e ? cql_future_errmsg(p->f) : NULL);
    } else {
        ce_debug("sync=%s dir=to_cassandra msg=\"batch failed, writing its documents one by one\" error=%s",
                 w->ctx->def->name, SYNC_LOGQ(cql_future_errmsg(p->f)));
        for (size_t k = 0; k < p->n; k++) {
            cql_error_info info;
            memset(&info, 0, sizeof info);
            ce_err ek = write_one_now(w, p->hit[k], p->ts[k], &info);
            account_write(w, p->hit[k], p->ts[k], false, ek, &info, ek == CE_ESERVER ? info.message : NULL);
        }
    }
    cql_future_free(p->f);
    for (size_t k = 0; k < p->n; k++)
        json_decref(p->hit[k]);
    p->f = NULL;
    p->n = 0;
    p->del = false;
    w->head = (w->head + 1) % w->window;
    w->count--;
}

void sync_writer_poll(sync_writer *w)
{
    (void)cql_session_run(w->ctx->cql, 0);
    while (w->count > 0 && cql_future_done(w->ring[w->head].f))
        complete_oldest(w);
}

void sync_writer_drain(sync_writer *w)
{
    while (w->count > 0)
        complete_oldest(w);
}

/* Send the writes of a group: one INSERT, or an unlogged batch (one replica's rows). */
static ce_err send_group(sync_writer *w, sync_write_group *g)
{
    if (g->n == 0)
        return CE_OK;
    size_t nv = w->ncols + 1, off = 0;
    const cql_value *rows[SYNC_WRITE_BATCH_MAX];
    size_t nvals[SYNC_WRITE_BATCH_MAX];
    cql_prepared *stmts[SYNC_WRITE_BATCH_MAX];
    for (size_t r = 0; r < g->n; r++) {
        for (size_t j = 0; j < nv; j++) {
            cql_value *v = &w->gvals[r * nv + j];
            v->len = g->lens[r * nv + j];
            v->ptr = v->len >= 0 ? (const uint8_t *)g->bytes.data + off : NULL;
            off += v->len > 0 ? (size_t)v->len : 0;
        }
        rows[r] = &w->gvals[r * nv];
        nvals[r] = nv;
        stmts[r] = w->ins;
    }
    while (w->count >= w->window)
        complete_oldest(w);
    cql_query_opts qo;
    cql_query_opts_init(&qo);
    qo.consistency = w->ctx->write_cl;
    cql_future *f = g->n == 1 ? cql_session_execute_async(w->ctx->cql, w->ins, rows[0], nv, &qo)
                              : cql_session_batch_async(w->ctx->cql, 1, stmts, rows, nvals, g->n, &qo);
    if (!f)
        return CE_ENOMEM;
    sync_pending_write *p = &w->ring[(w->head + w->count) % w->window];
    p->f = f;
    p->n = g->n;
    memcpy(p->hit, g->hit, g->n * sizeof *g->hit);
    memcpy(p->ts, g->ts, g->n * sizeof *g->ts);
    w->count++;
    g->n = 0;
    ce_buf_reset(&g->bytes);
    return CE_OK;
}

ce_err sync_writer_flush(sync_writer *w)
{
    ce_err e = CE_OK;
    for (size_t k = 0; w->groups && k < w->ngroups && !e; k++)
        e = send_group(w, &w->groups[k]);
    return e;
}

ce_err sync_writer_queue(sync_writer *w, json_t *hit, const cql_value *vals, int64_t ts)
{
    size_t gi = 0, npk = w->meta->npartition_keys;
    int64_t token;
    /* an unroutable key (a null part) goes with the unknown replica's group: its write
     * is refused and the batch rewritten one by one */
    if (w->batch_rows > 1 && npk > 0 && cql_partition_token(vals, npk, &token)) {
        int owner = cql_session_token_owner(w->ctx->cql, token);
        if (owner >= 0 && (size_t)owner + 1 < w->ngroups)
            gi = (size_t)owner + 1;
    }
    sync_write_group *g = &w->groups[gi];
    size_t nv = w->ncols + 1;
    for (size_t j = 0; j < nv; j++) {
        g->lens[g->n * nv + j] = vals[j].len;
        ce_err e = vals[j].len > 0 ? ce_buf_append(&g->bytes, vals[j].ptr, (size_t)vals[j].len) : CE_OK;
        if (e)
            return e;
    }
    g->hit[g->n] = json_incref(hit);
    g->ts[g->n] = ts;
    g->n++;
    return g->n >= w->batch_rows || g->bytes.len >= WRITE_BATCH_BYTES ? send_group(w, g) : CE_OK;
}

ce_err sync_writer_delete(sync_writer *w, json_t *hit, const cql_value *vals, int64_t ts)
{
    if (!w->del)
        return CE_EINVAL;
    cql_value dv[SYNC_MAX_KEY_PARTS + 1];
    uint8_t tsb[8];
    sync_writer_bind_ts(&dv[0], tsb, ts);
    for (size_t k = 0; k < w->nkeys; k++)
        dv[1 + k] = vals[k]; /* the key columns come first in the table and the INSERT */
    while (w->count >= w->window)
        complete_oldest(w);
    cql_query_opts qo;
    cql_query_opts_init(&qo);
    qo.consistency = w->ctx->write_cl;
    cql_future *f = cql_session_execute_async(w->ctx->cql, w->del, dv, w->nkeys + 1, &qo);
    if (!f)
        return CE_ENOMEM;
    sync_pending_write *p = &w->ring[(w->head + w->count) % w->window];
    *p = (sync_pending_write){.f = f, .n = 1, .del = true};
    p->hit[0] = json_incref(hit);
    p->ts[0] = ts;
    w->count++;
    return CE_OK;
}

/* "DELETE FROM t USING TIMESTAMP ? WHERE k1=? AND ..." (every primary key column). */
static ce_err prepare_delete(sync_pass_ctx *ctx, const cql_table_meta *m, sync_writer *w)
{
    w->nkeys = m->npartition_keys + m->nclustering;
    if (w->nkeys == 0 || w->nkeys > SYNC_MAX_KEY_PARTS) {
        sync_pass_fail(ctx, CE_EUNSUPPORTED, "%s", "deleted_col: tables with more than 16 key columns are not supported");
        return CE_EUNSUPPORTED;
    }
    ce_buf q = CE_BUF_INIT;
    ce_err e = ce_buf_append_str(&q, "DELETE FROM ");
    e = e ? e : cql_quote_table(&q, m->keyspace, m->table);
    e = e ? e : ce_buf_append_str(&q, " USING TIMESTAMP ? WHERE ");
    for (size_t k = 0; k < w->nkeys && !e; k++) {
        e = k ? ce_buf_append_str(&q, " AND ") : CE_OK;
        e = e ? e : cql_quote_ident(&q, m->columns[k].name);
        e = e ? e : ce_buf_append_str(&q, "=?");
    }
    e = e ? e : (ce_buf_cstr(&q) ? CE_OK : CE_ENOMEM);
    cql_error_info info;
    memset(&info, 0, sizeof info);
    e = e ? e : cql_session_prepare(ctx->cql, ce_buf_cstr(&q), &w->del, &info);
    ce_buf_free(&q);
    if (e)
        sync_pass_fail(ctx, e, "prepare DELETE failed: %s", e == CE_ESERVER ? info.message : ce_strerror(e));
    return e;
}

/* "INSERT INTO t (every column) VALUES (?, ...) USING TIMESTAMP ?" */
static ce_err insert_text(sync_pass_ctx *ctx, const cql_table_meta *m, ce_buf *q)
{
    ce_err e = ce_buf_append_str(q, "INSERT INTO ");
    e = e ? e : cql_quote_table(q, m->keyspace, m->table);
    e = e ? e : ce_buf_append_str(q, " (");
    for (size_t i = 0; i < m->ncolumns && !e; i++) {
        if (m->columns[i].type->kind == CQL_T_COUNTER) {
            sync_pass_fail(ctx, CE_EUNSUPPORTED, "%s", "counter tables cannot be written from Elasticsearch");
            return CE_EUNSUPPORTED;
        }
        e = i ? ce_buf_append_byte(q, ',') : CE_OK;
        e = e ? e : cql_quote_ident(q, m->columns[i].name);
    }
    e = e ? e : ce_buf_append_str(q, ") VALUES (");
    for (size_t i = 0; i < m->ncolumns && !e; i++)
        e = ce_buf_append_str(q, i ? ",?" : "?");
    e = e ? e : ce_buf_append_str(q, ") USING TIMESTAMP ?");
    return e ? e : (ce_buf_cstr(q) ? CE_OK : CE_ENOMEM);
}

/* Prepare the INSERT; a node that has not seen a just-added column yet is asked again. */
static ce_err prepare_insert(sync_pass_ctx *ctx, const cql_table_meta *m, cql_prepared **ins)
{
    ce_buf q = CE_BUF_INIT;
    cql_error_info info;
    memset(&info, 0, sizeof info);
    ce_err e = insert_text(ctx, m, &q);
    if (e == CE_EUNSUPPORTED) {
        ce_buf_free(&q);
        return e;
    }
    for (int attempt = 0; !e; attempt++) {
        e = cql_session_prepare(ctx->cql, ce_buf_cstr(&q), ins, &info);
        if (!undefined_column(e, &info) || attempt == SCHEMA_LAG_ATTEMPTS - 1)
            break;
        ce_sleep_ms(200);
        e = CE_OK;
    }
    ce_buf_free(&q);
    if (e) {
        ce_error("sync=%s dir=to_cassandra msg=\"prepare failed\" error=%s", ctx->def->name,
                 SYNC_LOGQ(e == CE_ESERVER ? info.message : cql_session_errmsg(ctx->cql)));
        sync_pass_fail(ctx, e, "prepare INSERT failed: %s", e == CE_ESERVER ? info.message : ce_strerror(e));
    }
    return e;
}

/* The INSERT's columns (types copied: a re-preparation on another node replaces the
 * statement's metadata) and the doc map. */
static ce_err map_columns(sync_pass_ctx *ctx, const sync_table_plan *tp, sync_writer *w)
{
    const cql_table_meta *m = tp->meta;
    w->ncols = m->ncolumns;
    w->names = calloc(w->ncols + 1, sizeof *w->names);
    w->types = calloc(w->ncols + 1, sizeof *w->types);
    w->skip = calloc(w->ncols + 1, sizeof *w->skip);
    w->is_key = calloc(w->ncols + 1, sizeof *w->is_key);
    if (!w->names || !w->types || !w->skip || !w->is_key)
        return CE_ENOMEM;
    if (cql_prepared_param_count(w->ins) != w->ncols + 1 || w->ncols > 256) {
        ce_err e = w->ncols > 256 ? CE_EUNSUPPORTED : CE_EPROTO;
        sync_pass_fail(ctx, e, "%s", w->ncols > 256 ? "tables with more than 256 columns are not supported"
                                                    : "unexpected parameter count of the INSERT");
        return e;
    }
    sync_docmap *dm = &w->dm;
    *dm = (sync_docmap){.ncols = w->ncols, .names = w->names, .types = w->types, .skip = w->skip,
                        .is_key = w->is_key, .nid = tp->nid, .source_col = tp->source_idx,
                        .version_field = ctx->def->version_col, .es_source_id = ctx->def->es_source_id,
                        .version_unit_us = ctx->def->version_unit_us};
    for (size_t i = 0; i < 256; i++)
        dm->key_part[i] = -1;
    for (size_t k = 0; k < tp->nid; k++)
        dm->key_part[tp->id_idx[k]] = (int)k;
    for (size_t i = 0; i < w->ncols; i++) {
        w->names[i] = m->columns[i].name;
        const cql_type *pt = cql_prepared_param_type(w->ins, i);
        w->types[i] = cql_type_clone(pt ? pt : m->columns[i].type);
        if (!w->types[i])
            return CE_ENOMEM;
        w->is_key[i] = sync_table_is_key(m, i);
    }
    return CE_OK;
}

/* The write ring and the replica groups. */
static ce_err make_ring(sync_pass_ctx *ctx, sync_writer *w)
{
    const sync_def *d = ctx->def;
    w->window = (size_t)d->write_concurrency;
    w->batch_rows = (size_t)d->write_batch_rows;
    if (w->batch_rows > SYNC_WRITE_BATCH_MAX)
        w->batch_rows = SYNC_WRITE_BATCH_MAX;
    w->ngroups = w->batch_rows > 1 ? 1 + cql_session_host_count(ctx->cql, false) : 1;
    size_t nv = w->ncols + 1;
    w->ring = calloc(w->window, sizeof *w->ring);
    w->groups = calloc(w->ngroups, sizeof *w->groups);
    w->gvals = calloc(SYNC_WRITE_BATCH_MAX * nv, sizeof *w->gvals);
    if (!w->ring || !w->groups || !w->gvals)
        return CE_ENOMEM;
    for (size_t k = 0; k < w->ngroups; k++)
        if (!(w->groups[k].lens = calloc(SYNC_WRITE_BATCH_MAX * nv, sizeof *w->groups[k].lens)))
            return CE_ENOMEM;
    return CE_OK;
}

ce_err sync_writer_open(sync_pass_ctx *ctx, const sync_table_plan *tp, sync_writer *w)
{
    w->ctx = ctx;
    w->meta = tp->meta;
    ce_err e = prepare_insert(ctx, tp->meta, &w->ins);
    e = e ? e : map_columns(ctx, tp, w);
    e = e ? e : make_ring(ctx, w);
    if (!e && ctx->def->deleted_col)
        e = prepare_delete(ctx, tp->meta, w);
    if (e)
        sync_pass_fail(ctx, e, NULL, NULL);
    return e;
}

void sync_writer_close(sync_writer *w)
{
    for (size_t k = 0; w->groups && k < w->ngroups; k++) {
        for (size_t j = 0; j < w->groups[k].n; j++)
            json_decref(w->groups[k].hit[j]);
        free(w->groups[k].lens);
        ce_buf_free(&w->groups[k].bytes);
    }
    free(w->groups);
    free(w->ring);
    free(w->gvals);
    free(w->names);
    for (size_t i = 0; w->types && i < w->ncols; i++)
        cql_type_free((cql_type *)w->types[i]);
    free(w->types);
    free(w->skip);
    free(w->is_key);
    memset(w, 0, sizeof *w);
}
