/*
 * e2c.c - the Elasticsearch -> Cassandra pass: its phases.
 *
 * plan      the table plan; new index fields become columns (schema.c); the INSERT and
 *           the write ring (writer.c); the version guard (guard.c); the search of the
 *           capture mode and its prefetch thread (capture.c)
 * read      the next page of hits from the prefetch thread
 * convert   with the guard on, each document's key values -> the guard's reads of the
 *           rows the page overwrites (pipelined, by primary key)
 * write     each document -> the INSERT's values (docmap.c); the guard's verdict: a
 *           version not newer than the row's is skipped (no write: nothing to do, and no
 *           echo), a newer one is written with max(version x unit, WRITETIME + 1), so
 *           versions decide, not clocks; queued with its replica's group; the page's
 *           writes all go out before the next page is read; a document marked by
 *           deleted_col deletes its row instead, USING TIMESTAMP the same ts, under the
 *           same verdict (docs/deletes.md)
 * finish    every write in flight waited for, the outcome judged
 * checkpoint  shared (pass.c)
 *
 * Unconvertible documents, unreadable hits (es_hit_error) and writes the server refuses as
 * invalid go to the dead-letter file; timeouts/unavailability fail the pass (the checkpoint stays).
 */
#include "sync/e2c_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"

typedef struct {
    sync_table_plan tp;
    sync_writer w;
    sync_guard *guard;          /* NULL: the version column is not a regular column */
    sync_capture cap;
    json_t *hits;               /* the page being written */
    ce_buf storage, err;        /* one document's values and why it failed */
    json_t *refused;            /* fields not added as columns: field -> why (NULL: none) */
    cql_value *vals;            /* ncols + 1 */
} e2c;

/* true when the table holds no row (one LIMIT 1 read; any error says "not known empty"). */
static bool table_is_empty(sync_pass_ctx *ctx, const cql_table_meta *m)
{
    ce_buf q = CE_BUF_INIT;
    ce_err e = ce_buf_append_str(&q, "SELECT ");
    e = e ? e : cql_quote_ident(&q, m->columns[0].name);
    e = e ? e : ce_buf_append_str(&q, " FROM ");
    e = e ? e : cql_quote_table(&q, m->keyspace, m->table);
    e = e ? e : ce_buf_append_str(&q, " LIMIT 1");
    e = e ? e : (ce_buf_cstr(&q) ? CE_OK : CE_ENOMEM);
    cql_result *r = NULL;
    cql_query_opts qo;
    cql_query_opts_init(&qo);
    qo.consistency = ctx->read_cl;
    if (!e)
        e = cql_session_query(ctx->cql, ce_buf_cstr(&q), NULL, 0, &qo, &r, NULL);
    bool empty = !e && r && cql_result_row_count(r) == 0;
    cql_result_free(r);
    ce_buf_free(&q);
    return empty;
}

/* The version guard, unless a first load goes into an empty table: nothing to guard
 * against then (asked before the first checkpoint only: later passes find rows, and a
 * table full of tombstones would make the probe itself costly). */
static ce_err start_guard(sync_pass_ctx *ctx, e2c *c)
{
    const sync_def *d = ctx->def;
    ce_err e = sync_guard_new(ctx->cql, c->tp.meta, d->version_col, ctx->read_cl, d->name, &c->guard);
    if (!e && c->guard && (ctx->win.initial || !ctx->has_checkpoint) && table_is_empty(ctx, c->tp.meta)) {
        ce_info("sync=%s dir=to_cassandra msg=\"table empty at pass start: no version reads\"", d->name);
        sync_guard_free(c->guard);
        c->guard = NULL;
    }
    return e;
}

static sync_phase e2c_plan(sync_pass_ctx *ctx, void *state)
{
    e2c *c = state;
    const sync_def *d = ctx->def;
    bool exists = false;
    ce_err e = es_index_exists(ctx->es, d->index, &exists);
    if (e) {
        sync_pass_fail(ctx, e, "index check failed: %s", es_client_errmsg(ctx->es));
        return SYNC_PHASE_DONE;
    }
    if (!exists) {
        ce_info("sync=%s dir=to_cassandra msg=\"index does not exist: nothing to read\" index=%s", d->name,
                SYNC_LOGQ(d->index));
        return SYNC_PHASE_CHECKPOINT;
    }
    if (sync_table_plan_load(ctx, &c->tp))
        return SYNC_PHASE_DONE;
    json_t *props = NULL;
    e = sync_schema_evolve(ctx, &c->tp, &props, &c->refused);
    sync_capture_size(ctx, &c->cap);
    e = e ? e : sync_writer_open(ctx, &c->tp, &c->w);
    e = e ? e : start_guard(ctx, c);
    if (!e)
        sync_schema_note_conflicts(ctx, props, &c->w.dm, c->w.skip);
    json_decref(props);
    if (!e && !(c->vals = calloc(c->w.ncols + 1, sizeof *c->vals)))
        e = CE_ENOMEM;
    e = e ? e : sync_capture_open(ctx, &c->cap);
    if (e)
        sync_pass_fail(ctx, e, NULL, NULL);
    return e ? SYNC_PHASE_FINISH : SYNC_PHASE_READ;
}

static sync_phase e2c_read(sync_pass_ctx *ctx, void *state)
{
    e2c *c = state;
    bool got = false;
    ce_err e = sync_capture_next(&c->cap, &c->hits, &got);
    if (e)
        sync_pass_fail(ctx, e, NULL, NULL);
    return got ? SYNC_PHASE_CONVERT : SYNC_PHASE_FINISH;
}

/* The guard's reads of a page: one per convertible hit (write dead-letters the others). */
static sync_phase e2c_convert(sync_pass_ctx *ctx, void *state)
{
    e2c *c = state;
    if (!c->guard)
        return SYNC_PHASE_WRITE;
    size_t n = json_array_size(c->hits);
    ce_err e = sync_guard_begin(c->guard, n);
    for (size_t i = 0; i < n && !e; i++) {
        int64_t version = 0;
        ce_buf_reset(&c->err);
        json_t *hit = json_array_get(c->hits, i);
        if (!es_hit_error(hit) && sync_doc_values(&c->w.dm, hit, &c->storage, c->vals, &version, &c->err) == CE_OK)
            e = sync_guard_add(c->guard, i, c->vals);
    }
    e = e ? e : sync_guard_send(c->guard);
    if (e)
        sync_pass_fail(ctx, e, NULL, NULL);
    return e ? SYNC_PHASE_FINISH : SYNC_PHASE_WRITE;
}

/*
 * The guard's verdict for hit i: false = skip (the row's version is the same or newer);
 * true = write, with *ts raised above the row's WRITETIME when needed. A failed read
 * fails the write the same way (the pass fails, the checkpoint stays).
 */
static bool guard_allows(e2c *c, size_t i, int64_t version, int64_t *ts, ce_err *read_err)
{
    *read_err = CE_OK;
    if (!c->guard)
        return true;
    bool found, has_v, has_wt, refused;
    int64_t row_version, row_ts;
    *read_err = sync_guard_get(c->guard, i, &found, &row_version, &has_v, &row_ts, &has_wt, &refused);
    if (refused)
        *read_err = CE_OK; /* the key itself is invalid: the write says why (dead letter) */
    if (*read_err || !found)
        return true;
    if (has_v && row_version >= version)
        return false;
    if (has_wt && row_ts >= *ts)
        *ts = row_ts + 1;
    return true;
}

/* Whether the hit carries a field that was not added as a column (the reason in err). */
static bool has_refused_field(e2c *c, const json_t *hit)
{
    const json_t *src = json_object_get(hit, "_source");
    const char *key;
    json_t *why;
    json_object_foreach(c->refused, key, why) {
        const json_t *v = json_object_get(src, key);
        if (v && !json_is_null(v)) {
            ce_buf_reset(&c->err);
            return ce_buf_printf(&c->err, "field \"%s\" has no column: %s", key, json_string_value(why)) == CE_OK;
        }
    }
    return false;
}

/* One document: values, the guard's verdict, queued with its group (a marked one: its
 * row's DELETE). */
static ce_err write_hit(sync_pass_ctx *ctx, e2c *c, size_t i, json_t *hit)
{
    sync_writer *w = &c->w;
    int64_t version = 0;
    if (c->refused && has_refused_field(c, hit)) {
        sync_writer_reject(w, hit, ce_buf_cstr(&c->err));
        return CE_OK;
    }
    ce_buf_reset(&c->err);
    const char *unreadable = es_hit_error(hit);
    if (unreadable) {
        ce_buf_printf(&c->err, "unreadable document: %s", unreadable);
        sync_writer_reject(w, hit, ce_buf_cstr(&c->err) ? ce_buf_cstr(&c->err) : unreadable);
        return CE_OK;
    }
    ce_err e = sync_doc_values(&w->dm, hit, &c->storage, c->vals, &version, &c->err);
    if (e) {
        if (e != CE_ENOMEM)
            sync_writer_reject(w, hit, ce_buf_cstr(&c->err));
        return e == CE_ENOMEM ? e : CE_OK;
    }
    int64_t ts; /* the bound USING TIMESTAMP (bigint) */
    const cql_type *tst = cql_prepared_param_type(w->ins, w->ncols);
    if (!tst || sync_value_int64(tst, c->vals[w->ncols].ptr, c->vals[w->ncols].len, &ts) != CE_OK)
        ts = 0;
    int64_t ts0 = ts;
    ce_err read_err;
    if (!guard_allows(c, i, version, &ts, &read_err)) {
        ctx->res->e2c_skipped++;
        return CE_OK;
    }
    if (read_err) {
        ctx->res->e2c_failed++;
        if (!w->write_err)
            w->write_err = read_err;
        return CE_OK;
    }
    if (sync_doc_is_deleted(json_object_get(hit, "_source"), ctx->def->deleted_col))
        return sync_writer_delete(w, hit, c->vals, ts);
    uint8_t ts_bytes[8];
    if (ts != ts0)
        sync_writer_bind_ts(&c->vals[w->ncols], ts_bytes, ts);
    return sync_writer_queue(w, hit, c->vals, ts);
}

static sync_phase e2c_write(sync_pass_ctx *ctx, void *state)
{
    e2c *c = state;
    ce_err e = CE_OK;
    size_t i;
    json_t *hit;
    json_array_foreach(c->hits, i, hit) {
        ctx->res->e2c_read++;
        if ((e = write_hit(ctx, c, i, hit)) != CE_OK)
            break;
        if ((i & 63) == 63)
            sync_writer_poll(&c->w);
    }
    e = e ? e : sync_writer_flush(&c->w);
    json_decref(c->hits);
    c->hits = NULL;
    if (e)
        sync_pass_fail(ctx, e, NULL, NULL);
    const sync_pass_result *res = ctx->res;
    sync_progress(ctx, res->e2c_read, res->e2c_written + res->e2c_deleted,
                  c->cap.total > 0 ? (double)res->e2c_read / (double)c->cap.total : -1.0, false);
    return e || sync_stop_requested(ctx) ? SYNC_PHASE_FINISH : SYNC_PHASE_READ;
}

static sync_phase e2c_finish(sync_pass_ctx *ctx, void *state)
{
    e2c *c = state;
    sync_capture_stop(&c->cap);
    /* the search is only touched by this thread again from here on */
    if (ctx->rc && ctx->rc != CE_ENOMEM && !ctx->res->error[0])
        sync_result_set_error(ctx->res, "search failed: %s", es_client_errmsg(ctx->es));
    if (sync_writer_flush(&c->w) != CE_OK)
        sync_pass_fail(ctx, CE_ENOMEM, NULL, NULL);
    sync_writer_drain(&c->w);
    const sync_pass_result *res = ctx->res;
    sync_progress(ctx, res->e2c_read, res->e2c_written + res->e2c_deleted, 1.0, true);
    sync_pass_settle(ctx, c->w.write_err != CE_OK, "some writes to Cassandra failed");
    sync_capture_settle(ctx, &c->cap); /* every document acknowledged: the mode's positions */
    sync_capture_close(&c->cap);
    return SYNC_PHASE_CHECKPOINT;
}

static void e2c_release(sync_pass_ctx *ctx, void *state)
{
    (void)ctx;
    e2c *c = state;
    sync_capture_close(&c->cap);
    json_decref(c->hits);
    json_decref(c->refused);
    ce_buf_free(&c->storage);
    ce_buf_free(&c->err);
    free(c->vals);
    sync_guard_free(c->guard);
    sync_writer_close(&c->w);
    sync_table_plan_free(&c->tp);
}

static void e2c_figures(const sync_pass_result *r, sync_pass_figures *f)
{
    *f = (sync_pass_figures){r->e2c_read,     r->e2c_written, 0, r->e2c_skipped, r->e2c_rejected, r->e2c_failed,
                             "written",       r->e2c_deleted, r->e2c_page_shrinks};
}

static void e2c_outcome(sync_pass_result *r, double seconds, bool ok)
{
    r->e2c_seconds = seconds;
    r->e2c_ok = ok;
}

const sync_direction_ops sync_dir_to_cassandra = {
    .name = "to_cassandra",
    .state_size = sizeof(e2c),
    .phase = {[SYNC_PHASE_PLAN] = e2c_plan,
              [SYNC_PHASE_READ] = e2c_read,
              [SYNC_PHASE_CONVERT] = e2c_convert,
              [SYNC_PHASE_WRITE] = e2c_write,
              [SYNC_PHASE_FINISH] = e2c_finish,
              [SYNC_PHASE_CHECKPOINT] = sync_phase_checkpoint},
    .release = e2c_release,
    .figures = e2c_figures,
    .outcome = e2c_outcome,
};
