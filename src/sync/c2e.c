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
 * Outcomes: 409 = Elasticsearch holds the same or a newer version (fine); 400 -> dead
 * letter; FAILED -> the pass fails and the checkpoint stays. A delete's 404 (already gone)
 * counts as deleted.
 */
#include "sync/c2e_int.h"

#include <string.h>
#include "util/clock.h"
#include "util/log.h"

/* A bulk item's tag is its version; deletes also carry this bit (versions are >= 0). */
#define C2E_TAG_DELETE (UINT64_C(1) << 63)

typedef struct {
    sync_table_plan tp;
    sync_rows rows;
    sync_scan scan;
    sync_reader reader;
    sync_page page;
    size_t tasks_done;
    sync_index_setup ix;
    sync_cleanup cleanup;
    sync_scan_ack ack;           /* ranges acknowledged (resumable plans) */
    int64_t page_at;             /* the page's position in its range (scanack.c) */
    es_bulk *bulk;
    sync_pass_ctx *ctx;          /* for the bulk's item callback */
    const char *type;            /* mapping type for servers that have them */
    ce_buf id, scratch, err;
    uint64_t scanned;
    size_t bulk_reserved;        /* budget reserved for the bulk bodies */
    double es_wait_s;            /* time blocked on Elasticsearch (debug log) */
} c2e;

static void on_rejected(c2e *c, const es_bulk_item_result *r)
{
    sync_pass_ctx *ctx = c->ctx;
    ctx->res->c2e_rejected++;
    char reason[600];
    snprintf(reason, sizeof reason, "elasticsearch rejected (%d %s): %s", r->http_status,
             r->error_type ? r->error_type : "?", r->error_reason ? r->error_reason : "");
    if (!sync_pass_dead_letter(ctx, r->id, reason, r->doc, r->doc_len))
        ce_warn("sync=%s dir=to_es msg=\"document rejected\" id=%s status=%d type=%s", ctx->def->name,
                SYNC_LOGQ(r->id), r->http_status, SYNC_LOGQ(r->error_type ? r->error_type : "?"));
}

/* The bulk's verdict on one document. */
static void on_item(const es_bulk_item_result *r, void *ud)
{
    c2e *c = ud;
    sync_pass_result *res = c->ctx->res;
    bool del = (r->tag & C2E_TAG_DELETE) != 0;
    if (r->status == ES_ITEM_REJECTED)
        on_rejected(c, r); /* first: a dead letter that cannot be written is no outcome */
    bool final = r->status != ES_ITEM_FAILED && !c->ctx->dl_failed;
    int64_t version = sync_scan_ack_outcome(&c->ack, r->tag & ~C2E_TAG_DELETE, final);
    switch (r->status) {
    case ES_ITEM_OK: ++*(del ? &res->c2e_deleted : &res->c2e_indexed); break;
    case ES_ITEM_CONFLICT:
        res->c2e_conflicts++;
        if (!del && c->cleanup.on && r->current_version > version && r->id)
            sync_cleanup_note(&c->cleanup, r->id, strlen(r->id), version);
        break;
    case ES_ITEM_REJECTED: break;
    case ES_ITEM_FAILED:
    default:
        res->c2e_failed++;
        if (res->c2e_failed <= 5)
            ce_warn("sync=%s dir=to_es msg=\"bulk item failed\" id=%s status=%d reason=%s",
                    c->ctx->def->name, SYNC_LOGQ(r->id), r->http_status, SYNC_LOGQ(r->error_reason));
        break;
    }
}

static void dead_letter_row(sync_pass_ctx *ctx, c2e *c, const cql_value *cells, const char *id,
                            const char *reason)
{
    ctx->res->c2e_rejected++;
    ce_buf doc = CE_BUF_INIT;
    if (sync_row_doc(&c->rows.rm, cells, &doc) != CE_OK)
        ce_buf_reset(&doc);
    if (!sync_pass_dead_letter(ctx, id, reason, doc.len ? doc.data : NULL, doc.len))
        ce_warn("sync=%s dir=to_es msg=\"row rejected\" id=%s reason=%s", ctx->def->name, SYNC_LOGQ(id),
                SYNC_LOGQ(reason));
    ce_buf_free(&doc);
}

/* The bulk bodies' part of the budget: bulk_max_bytes x (bulk_concurrency + 1) (the
 * bodies in flight and the one being built), at most a quarter of the budget: a larger
 * bulk_max_bytes is lowered for the pass. Returns the body size to use. */
static size_t reserve_bulk(sync_pass_ctx *ctx, c2e *c)
{
    size_t max = (size_t)ctx->def->bulk_max_bytes, bodies = (size_t)ctx->def->bulk_concurrency + 1;
    size_t limit = sync_budget_limit(ctx->budget);
    if (!ctx->budget)
        return max;
    if (max * bodies > limit / 4) {
        size_t fit = limit / 4 / bodies;
        ce_info("sync=%s dir=to_es msg=\"bulk_max_bytes lowered to fit memory_limit_mb\" bulk_max_bytes=%zu "
                "was=%zu", ctx->def->name, fit, max);
        max = fit;
    }
    c->bulk_reserved = max * bodies;
    sync_budget_reserve(ctx->budget, c->bulk_reserved);
    return max;
}

static ce_err start_bulk(sync_pass_ctx *ctx, c2e *c)
{
    es_bulk_opts bo;
    es_bulk_opts_init(&bo);
    bo.max_bytes = reserve_bulk(ctx, c);
    bo.max_docs = (size_t)ctx->def->bulk_max_docs;
    bo.concurrency = ctx->def->bulk_concurrency;
    bo.on_result = on_item;
    bo.ud = c;
    ce_err e = es_bulk_new(ctx->es, &bo, &c->bulk);
    if (e)
        sync_pass_fail(ctx, e, "bulk: %s", es_client_errmsg(ctx->es));
    return e;
}

static sync_phase c2e_plan(sync_pass_ctx *ctx, void *state)
{
    c2e *c = state;
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
    e = e ? e : start_bulk(ctx, c);
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
    c2e *c = state;
    bool got = false;
    ce_err e = sync_reader_next(&c->reader, &c->page, &got);
    if (got)
        return SYNC_PHASE_CONVERT;
    if (e) /* the reader is done: its message is final */
        sync_pass_fail(ctx, e, "%s", c->reader.errmsg[0] ? c->reader.errmsg : ce_strerror(e));
    return SYNC_PHASE_FINISH;
}

/* A row marked deleted: a delete action with its version (an older one than Elasticsearch
 * holds is a 409, as for an index action). */
static ce_err send_delete(sync_pass_ctx *ctx, c2e *c, size_t task, int64_t version)
{
    uint64_t tag = 0;
    ce_err e = sync_scan_ack_commit(&c->ack, task, version, &tag);
    if (e)
        return e;
    e = es_bulk_delete(c->bulk, ctx->def->index, c->type, c->id.data, c->id.len, ES_VERSION_EXTERNAL, version,
                       tag | C2E_TAG_DELETE);
    if (e)
        sync_pass_fail(ctx, e, "bulk request failed: %s", es_bulk_errmsg(c->bulk));
    return e;
}

/* One row: its version, the window's row filter, the echo rule, its _id, its document. */
static ce_err convert_row(sync_pass_ctx *ctx, c2e *c, sync_scan_task *t, const cql_value *cells, bool filter)
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
        dead_letter_row(ctx, c, cells, no_id ? NULL : ce_buf_cstr(&c->id),
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
            dead_letter_row(ctx, c, cells, NULL, ce_buf_cstr(&c->err));
        return e == CE_ENOMEM ? e : CE_OK;
    }
    if (c->cleanup.on)
        sync_cleanup_track(&c->cleanup, t, &c->id, version);
    if (sync_rowmap_is_deleted(&c->rows.rm, cells))
        return send_delete(ctx, c, (size_t)(t - c->scan.tasks), version);
    ce_buf *doc = es_bulk_index_begin(c->bulk, ctx->def->index, c->type, c->id.data, c->id.len,
                                      ES_VERSION_EXTERNAL, version);
    if (!doc)
        return CE_ENOMEM;
    e = sync_row_doc(&c->rows.rm, cells, doc);
    if (e) {
        es_bulk_abort(c->bulk);
        if (e != CE_ENOMEM)
            dead_letter_row(ctx, c, cells, ce_buf_cstr(&c->id), "row cannot be converted to JSON");
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

/* "256 MiB" (or the bytes when not whole MiB). */
static void format_limit(size_t bytes, char out[32])
{
    if (bytes % ((size_t)1 << 20) == 0)
        snprintf(out, 32, "%zu MiB", bytes >> 20);
    else
        snprintf(out, 32, "%zu bytes", bytes);
}

/* A row alone over the message limit (reader.c): the page holds its key columns only. It
 * goes to the dead letters by _id (no document: it was never read), unless the window's
 * row filter leaves it out. */
static void convert_poison(sync_pass_ctx *ctx, c2e *c, bool filter)
{
    const sync_scan *s = &c->scan;
    cql_value cells[c->rows.ncells > 0 ? c->rows.ncells : 1];
    for (size_t i = 0; i < c->rows.ncells; i++)
        cells[i] = (cql_value){NULL, CQL_NULL};
    for (size_t k = 0; k < s->nkey_cols; k++)
        cells[s->key_cols[k]] = cql_result_cell(c->page.result, 0, k);
    int64_t version;
    bool from_wt;
    ce_err e = sync_row_version(&c->rows.rm, cells, &version, &from_wt);
    if (filter && !e && (version < s->lo_v || version >= s->hi_v))
        return;
    c->scanned++;
    ctx->res->c2e_read++;
    ctx->res->c2e_rejected++;
    ce_buf_reset(&c->err);
    bool no_id = sync_row_id(&c->rows.rm, cells, &c->id, &c->scratch, &c->err) != CE_OK;
    char limit[32], reason[128];
    format_limit(cql_session_max_message_bytes(ctx->cql), limit);
    snprintf(reason, sizeof reason, "row of %zu bytes over the %s message limit", c->page.poison_bytes, limit);
    if (!sync_pass_dead_letter(ctx, no_id ? NULL : ce_buf_cstr(&c->id), reason, NULL, 0))
        ce_warn("sync=%s dir=to_es msg=\"row rejected\" id=%s reason=%s", ctx->def->name,
                SYNC_LOGQ(no_id ? "" : ce_buf_cstr(&c->id)), SYNC_LOGQ(reason));
}

/* The position a page reaches in its token range: every partition before the one of its
 * last row was read whole (rows come in token order; that last partition may go on in the
 * next page). INT64_MIN: none (a key that has no token). */
static int64_t page_position(const c2e *c, const cql_result *r, size_t last)
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
    c2e *c = state;
    c->page_at = INT64_MIN;
    if (ctx->rc)
        return SYNC_PHASE_WRITE; /* failed: pages still arriving are only released */
    if (c->page.poison_bytes) {
        convert_poison(ctx, c, c->scan.plan->filter_rows);
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
    c2e *c = state;
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

/* Whatever happened, wait for every request in flight: acknowledged work counts. */
static void finish_bulk(sync_pass_ctx *ctx, c2e *c)
{
    double t0 = ce_mono_s();
    ce_err fe = es_bulk_finish(c->bulk);
    es_bulk_stats bst;
    es_bulk_get_stats(c->bulk, &bst);
    ctx->res->c2e_bulk_retries += bst.retries;
    c->es_wait_s += bst.wait_s + (ce_mono_s() - t0);
    ce_debug("sync=%s dir=to_es msg=\"pipeline\" cql_wait_s=%.3f es_wait_s=%.3f scanned=%llu", ctx->def->name,
             c->reader.cql_wait_s, c->es_wait_s, (unsigned long long)c->scanned);
    if (fe)
        sync_pass_fail(ctx, fe, "bulk: %s", es_bulk_errmsg(c->bulk));
}

static sync_phase c2e_finish(sync_pass_ctx *ctx, void *state)
{
    c2e *c = state;
    (void)sync_reader_join(&c->reader); /* its error came with its last page */
    if (ctx->stopped)
        sync_pass_fail(ctx, CE_ECANCELED, NULL, NULL);
    if (c->bulk)
        finish_bulk(ctx, c);
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
    c2e *c = state;
    sync_page_release(&c->page);
    es_bulk_free(c->bulk);
    sync_budget_unreserve(ctx->budget, c->bulk_reserved);
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

const sync_direction_ops sync_dir_to_es = {
    .name = "to_es",
    .state_size = sizeof(c2e),
    .phase = {[SYNC_PHASE_PLAN] = c2e_plan,
              [SYNC_PHASE_READ] = c2e_read,
              [SYNC_PHASE_CONVERT] = c2e_convert,
              [SYNC_PHASE_WRITE] = c2e_write,
              [SYNC_PHASE_FINISH] = c2e_finish,
              [SYNC_PHASE_CHECKPOINT] = sync_phase_checkpoint},
    .release = c2e_release,
    .figures = c2e_figures,
};
