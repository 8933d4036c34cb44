/*
 * c2e.c - the Cassandra -> Elasticsearch pass: its phases (the hot path is convert).
 *
 * plan      the table plan, the SELECT's columns (rowplan.c), the read plan and its scan
 *           tasks (readplan.c), the index (index_setup.c), the bulk, the reader thread
 * read      the next page from the reader thread (reader.c)
 * convert   each row straight into the bulk buffer (es_bulk_index_begin -> sync_row_doc ->
 *           es_bulk_commit, which sends full bodies) with external version = its version;
 *           a row marked by deleted_col becomes a delete action with that version instead
 *           (docs/deletes.md)
 * write     the page handed back; progress; a stop asked for ends the reading
 * finish    every bulk request in flight waited for, settings restored, final refresh,
 *           the (id, version) cleanup (cleanup.c), the load progress kept or dropped
 *
 * full_scan and all loads are resumable (scanack.c): the ranges whose every row got its
 * final bulk outcome are saved in the checkpoint as the pass runs, and a pass after a
 * kill reads only the others.
 * checkpoint  shared (pass.c)
 *
 * Outcomes (c2e_bulk.c): 409 = Elasticsearch holds the same or a newer version (fine);
 * 400 -> dead letter; FAILED -> the pass fails and the checkpoint stays. A delete's 404
 * (already gone) counts as deleted.
 */
#include "sync/c2e_int.h"

#include "util/log.h"

static sync_phase c2e_plan(sync_pass_ctx *ctx, void *state)
{
    sync_c2e *c = state;
    const sync_def *d = ctx->def;
    c->ctx = ctx;
    c->type = d->type && *d->type ? d->type : (es_client_caps(ctx->es)->has_types ? "_doc" : NULL);
    sync_schema_settle(ctx); /* E->C of this pass may have added columns just now */
    ce_err e = sync_table_plan_load(ctx, &c->tp);
    e = e ? e : sync_table_check_columns(ctx, &c->tp);
    e = e ? e : sync_rows_plan(d, &c->tp, &c->rows);
    e = e ? e : sync_scan_plan(ctx, &c->tp, c->rows.select.data, &c->scan);
    e = e ? e : sync_scan_ack_plan(ctx, &c->scan, &c->ack);
    if (!e)
        sync_cleanup_init(&c->cleanup, d, &c->tp);
    e = e ? e : sync_index_prepare(ctx, &c->tp, &c->ix);
    if (!e && (c->ack.prog.send_echoes || sync_index_starts_empty(ctx, &c->ix))) {
        c->ack.prog.send_echoes = true; /* a resumed load keeps the rule it started with */
        /* Nothing in the index can echo: rows that came from Elasticsearch once (the index
         * was deleted and is being rebuilt, say) belong in it like every other row. */
        c->rows.rm.es_source_id = NULL;
        ce_info("sync=%s dir=to_es msg=\"index new or empty: rows that came from Elasticsearch are "
                "sent too\" index=%s", d->name, SYNC_LOGQ(d->index));
    }
    e = e ? e : sync_c2e_bulk_start(ctx, c);
    if (!e)
        ce_info("sync=%s dir=to_es msg=\"reading\" mode=%s tasks=%zu version_gte=%lld version_lt=%lld", d->name,
                c->scan.plan->name, c->scan.ntasks, (long long)c->scan.lo_v, (long long)c->scan.hi_v);
    c->tasks_done = c->ack.skipped;
    e = e ? e : sync_reader_start(ctx, &c->scan, &c->reader);
    if (e)
        sync_pass_fail(ctx, e, NULL, NULL);
    return e ? SYNC_PHASE_FINISH : SYNC_PHASE_READ;
}

static sync_phase c2e_read(sync_pass_ctx *ctx, void *state)
{
    sync_c2e *c = state;
    bool got = false;
    ce_err e = sync_reader_next(&c->reader, &c->page, &got);
    if (got)
        return SYNC_PHASE_CONVERT;
    if (e) /* the reader is done: its message is final */
        sync_pass_fail(ctx, e, "%s", c->reader.errmsg[0] ? c->reader.errmsg : ce_strerror(e));
    return SYNC_PHASE_FINISH;
}

/* One row: its version, the window's row filter, the echo rule, its _id, its document. */
static ce_err convert_row(sync_pass_ctx *ctx, sync_c2e *c, sync_scan_task *t, const cql_value *cells, bool filter)
{
    sync_pass_result *res = ctx->res;
    int64_t version;
    bool from_wt;
    ce_err e = sync_row_version(&c->rows.rm, cells, &version, &from_wt);
    if (filter && (e || version < c->scan.lo_v || version >= c->scan.hi_v))
        return CE_OK;
    res->c2e_read++;
    if (e) {
        ce_buf_reset(&c->err);
        bool no_id = sync_row_id(&c->rows.rm, cells, &c->id, &c->scratch, &c->err) != CE_OK;
        sync_c2e_dead_letter_row(ctx, c, cells, no_id ? NULL : ce_buf_cstr(&c->id),
                        e == CE_ENOTFOUND ? "row has no version and no WRITETIME" : "version column is not an integer");
        return CE_OK;
    }
    if (sync_row_is_echo(&c->rows.rm, cells)) {
        res->c2e_skipped++;
        return CE_OK;
    }
    ce_buf_reset(&c->err);
    e = sync_row_id(&c->rows.rm, cells, &c->id, &c->scratch, &c->err);
    if (e) {
        if (e != CE_ENOMEM)
            sync_c2e_dead_letter_row(ctx, c, cells, NULL, ce_buf_cstr(&c->err));
        return e == CE_ENOMEM ? e : CE_OK;
    }
    if (c->cleanup.on)
        sync_cleanup_track(&c->cleanup, t, &c->id, version);
    if (sync_rowmap_is_deleted(&c->rows.rm, cells))
        return sync_c2e_bulk_delete(ctx, c, (size_t)(t - c->scan.tasks), version);
    ce_buf *doc = es_bulk_index_begin(c->bulk, ctx->def->index, c->type, c->id.data, c->id.len,
                                      ES_VERSION_EXTERNAL, version);
    if (!doc)
        return CE_ENOMEM;
    e = sync_row_doc(&c->rows.rm, cells, doc);
    if (e) {
        es_bulk_abort(c->bulk);
        if (e != CE_ENOMEM)
            sync_c2e_dead_letter_row(ctx, c, cells, ce_buf_cstr(&c->id), "row cannot be converted to JSON");
        return e == CE_ENOMEM ? e : CE_OK;
    }
    uint64_t tag = 0;
    e = sync_scan_ack_commit(&c->ack, (size_t)(t - c->scan.tasks), version, &tag);
    if (e) {
        es_bulk_abort(c->bulk);
        return e;
    }
    e = es_bulk_commit(c->bulk, tag);
    if (e)
        sync_pass_fail(ctx, e, "bulk request failed: %s", es_bulk_errmsg(c->bulk));
    return e;
}

/* The position a page reaches in its token range: every partition before the one of its
 * last row was read whole (rows come in token order; that last partition may go on in the
 * next page). INT64_MIN: none (a key that has no token). */
static int64_t page_position(const sync_c2e *c, const cql_result *r, size_t last)
{
    size_t npk = c->tp.meta->npartition_keys;
    cql_value key[SYNC_MAX_KEY_PARTS];
    if (!c->ack.on || npk == 0 || npk > SYNC_MAX_KEY_PARTS)
        return INT64_MIN;
    for (size_t i = 0; i < npk; i++)
        key[i] = cql_result_cell(r, last, i); /* the partition key comes first in the SELECT */
    int64_t token;
    return cql_partition_token(key, npk, &token) && token > INT64_MIN ? token - 1 : INT64_MIN;
}

static sync_phase c2e_convert(sync_pass_ctx *ctx, void *state)
{
    sync_c2e *c = state;
    c->page_at = INT64_MIN;
    if (ctx->rc)
        return SYNC_PHASE_WRITE; /* failed: pages still arriving are only released */
    if (c->page.poison_bytes) {
        sync_c2e_convert_poison(ctx, c, c->scan.plan->filter_rows);
        return SYNC_PHASE_WRITE;
    }
    cql_result *r = c->page.result;
    size_t nrows = cql_result_row_count(r), ncells = c->rows.ncells;
    cql_value cells[ncells > 0 ? ncells : 1];
    bool filter = c->scan.plan->filter_rows;
    ce_err e = CE_OK;
    for (size_t row = 0; row < nrows && !e; row++) {
        for (size_t i = 0; i < ncells; i++)
            cells[i] = cql_result_cell(r, row, i);
        c->scanned++;
        e = convert_row(ctx, c, c->page.task, cells, filter);
    }
    if (e)
        sync_pass_fail(ctx, e, NULL, NULL);
    else if (nrows > 0)
        c->page_at = page_position(c, r, nrows - 1);
    return SYNC_PHASE_WRITE;
}

static sync_phase c2e_write(sync_pass_ctx *ctx, void *state)
{
    sync_c2e *c = state;
    sync_page_release(&c->page);
    c->tasks_done += c->page.task_done;
    size_t task = (size_t)(c->page.task - c->scan.tasks);
    if (!ctx->rc) /* a failed pass skips rows: its pages and ranges are not done */
        sync_scan_ack_page_done(&c->ack, task, c->page_at);
    if (c->page.task_done && !ctx->rc)
        sync_scan_ack_read_done(&c->ack, task);
    sync_scan_ack_save(ctx, &c->ack, false);
    if (ctx->rc || sync_stop_requested(ctx))
        sync_reader_stop(&c->reader); /* pages already read are still taken (and released) */
    const sync_pass_result *res = ctx->res;
    sync_progress(ctx, res->c2e_read, res->c2e_indexed + res->c2e_deleted + res->c2e_conflicts,
                  c->scan.ntasks ? (double)c->tasks_done / (double)c->scan.ntasks : -1.0, false);
    return SYNC_PHASE_READ;
}

static sync_phase c2e_finish(sync_pass_ctx *ctx, void *state)
{
    sync_c2e *c = state;
    (void)sync_reader_join(&c->reader); /* its error came with its last page */
    if (ctx->stopped)
        sync_pass_fail(ctx, CE_ECANCELED, NULL, NULL);
    if (c->bulk)
        sync_c2e_bulk_finish(ctx, c);
    sync_pass_settle(ctx, ctx->res->c2e_failed > 0, "some documents were not acknowledged by Elasticsearch");
    sync_index_restore(ctx, &c->ix);
    if (c->bulk && ctx->res->c2e_indexed + ctx->res->c2e_deleted > 0)
        (void)es_index_refresh(ctx->es, ctx->def->index);
    if (!ctx->rc)
        sync_cleanup_run(ctx, &c->tp, &c->cleanup);
    sync_scan_ack_end(ctx, &c->ack);
    const sync_pass_result *res = ctx->res;
    sync_progress(ctx, res->c2e_read, res->c2e_indexed + res->c2e_deleted + res->c2e_conflicts, 1.0, true);
    return SYNC_PHASE_CHECKPOINT;
}

/* FINISH ran before: the reader is joined, the index settings are back. */
static void c2e_release(sync_pass_ctx *ctx, void *state)
{
    sync_c2e *c = state;
    sync_page_release(&c->page);
    sync_c2e_bulk_free(ctx, c);
    sync_scan_free(&c->scan);
    sync_cleanup_free(&c->cleanup);
    sync_scan_ack_free(&c->ack);
    sync_rows_free(&c->rows);
    sync_table_plan_free(&c->tp);
    ce_buf_free(&c->id);
    ce_buf_free(&c->scratch);
    ce_buf_free(&c->err);
}

static void c2e_figures(const sync_pass_result *r, sync_pass_figures *f)
{
    *f = (sync_pass_figures){r->c2e_read,    r->c2e_indexed,  r->c2e_conflicts, r->c2e_skipped,
                             r->c2e_rejected, r->c2e_failed, "indexed",   r->c2e_deleted, r->c2e_page_shrinks};
}

static void c2e_outcome(sync_pass_result *r, double seconds, bool ok)
{
    r->c2e_seconds = seconds;
    r->c2e_ok = ok;
}

const sync_direction_ops sync_dir_to_es = {
    .name = "to_es",
    .state_size = sizeof(sync_c2e),
    .phase = {[SYNC_PHASE_PLAN] = c2e_plan,
              [SYNC_PHASE_READ] = c2e_read,
              [SYNC_PHASE_CONVERT] = c2e_convert,
              [SYNC_PHASE_WRITE] = c2e_write,
              [SYNC_PHASE_FINISH] = c2e_finish,
              [SYNC_PHASE_CHECKPOINT] = sync_phase_checkpoint},
    .release = c2e_release,
    .figures = c2e_figures,
    .outcome = c2e_outcome,
    .reads_table = true,
};
