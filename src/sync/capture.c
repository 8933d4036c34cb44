/*
 * capture.c - E->C: how the documents of a pass are found (the capture modes), and the
 * thread that fetches their pages.
 *
 * A capture mode is one table entry filling the searches of the pass (sync_def.es_read_mode
 * indexes the table): the version window (documents whose version field is in [start,
 * end)), or sequence numbers (seqno.c: per shard, documents by _seq_no since the saved
 * position). Both skip the documents whose source is Cassandra when ignore_same_source.
 *
 * Search pages are fetched by a helper thread (a sync_pipe producer) while the pass
 * writes to Cassandra, so Elasticsearch and Cassandra work at the same time. The first
 * search is opened before the thread starts (its failure fails the pass at once); the
 * thread opens the ones after it. The thread is the only user of the es_search (and so
 * of the es client) until it is joined; pages are handed over as references (jansson
 * reference counts are atomic).
 */
#include "sync/e2c_int.h"

#include <jansson.h>
#include <string.h>
#include "util/log.h"

#define SYNC_PREFETCH_PAGES 2

void sync_capture_skip_echoes(const sync_def *d, es_search_opts *so)
{
    if (d->ignore_same_source && d->source_field && d->cassandra_source_id) {
        so->query.must_not_field = d->source_field;
        so->query.must_not_value = d->cassandra_source_id;
    }
}

static void query_version_window(const sync_pass_ctx *ctx, sync_capture *cap, size_t i, es_search_opts *so)
{
    (void)cap, (void)i;
    const sync_def *d = ctx->def;
    so->query.range_field = d->version_col;
    so->query.has_gte = so->query.has_lt = true;
    so->query.gte = sync_version_floor(ctx->win.start_ms, d->version_unit_us);
    so->query.lt = sync_version_ceil(ctx->win.end_ms, d->version_unit_us);
    so->unordered = true; /* pages are written in any order; versions decide */
    sync_capture_skip_echoes(d, so);
}

/* Indexed by sync_es_read_mode. */
static const sync_capture_mode capture_modes[] = {
    [SYNC_ES_READ_VERSION] = {"version", NULL, query_version_window, NULL, NULL},
    [SYNC_ES_READ_SEQ_NO] = {"seq_no", sync_seqno_plan, sync_seqno_query, sync_seqno_settle, sync_seqno_done},
};

/* One page handed over: the hits and the searches' total at that time. */
typedef struct {
    json_t *hits;
    int64_t total;
} fetched_page;

/* Open search i of the pass (the options every mode shares, then the mode's). */
static ce_err open_read(sync_capture *cap, size_t i)
{
    const sync_pass_ctx *ctx = cap->ctx;
    es_search_opts so;
    es_search_opts_init(&so);
    so.index = ctx->def->index;
    so.page_size = (size_t)ctx->def->es_page_size;
    so.lean = true; /* _id, _source and sort are all we read of a hit */
    cap->mode->query(ctx, cap, i, &so);
    cap->read = i;
    ce_err e = es_search_open(ctx->es, &so, &cap->search);
    if (!e && es_search_total(cap->search) > 0)
        cap->opened_total += es_search_total(cap->search);
    if (!e)
        ce_debug("sync=%s dir=to_cassandra msg=\"search opened\" mode=%s read=%zu/%zu range_field=%s gte=%lld "
                 "lt=%lld preference=%s total=%lld",
                 ctx->def->name, cap->mode->name, i + 1, cap->nreads,
                 so.query.range_field ? so.query.range_field : "-", (long long)so.query.gte, (long long)so.query.lt,
                 so.preference ? so.preference : "-", (long long)es_search_total(cap->search));
    return e;
}

static ce_err fetch_main(sync_pipe *p, void *ud)
{
    sync_capture *cap = ud;
    while (cap->search) {
        void *hv = NULL;
        ce_err e = es_search_next(cap->search, &hv);
        if (e)
            return e;
        fetched_page page = {json_incref((json_t *)hv), cap->opened_total};
        if (page.hits && json_array_size(page.hits) > 0) {
            if (!sync_pipe_push(p, &page))
                return CE_OK;
            continue;
        }
        json_decref(page.hits);
        es_search_close(cap->search); /* this search is done: on to the next */
        cap->search = NULL;
        if (cap->read + 1 < cap->nreads && !sync_pipe_stopped(p) && (e = open_read(cap, cap->read + 1)) != CE_OK)
            return e;
    }
    return CE_OK;
}

static void drop_page(void *item)
{
    json_decref(((fetched_page *)item)->hits);
}

ce_err sync_capture_open(sync_pass_ctx *ctx, sync_capture *cap)
{
    const sync_def *d = ctx->def;
    cap->mode = &capture_modes[d->es_read_mode == SYNC_ES_READ_SEQ_NO ? SYNC_ES_READ_SEQ_NO : SYNC_ES_READ_VERSION];
    cap->ctx = ctx;
    cap->nreads = 1;
    ce_err rc = cap->mode->plan ? cap->mode->plan(ctx, cap) : CE_OK;
    if (rc)
        return rc;
    rc = cap->nreads > 0 ? open_read(cap, 0) : CE_OK;
    if (rc) {
        sync_pass_fail(ctx, rc, "search failed: %s", es_client_errmsg(ctx->es));
        return rc;
    }
    cap->total = cap->opened_total;
    if (cap->mode == &capture_modes[SYNC_ES_READ_VERSION])
        ce_info("sync=%s dir=to_cassandra msg=\"reading\" version_gte=%lld version_lt=%lld total=%lld", d->name,
                (long long)sync_version_floor(ctx->win.start_ms, d->version_unit_us),
                (long long)sync_version_ceil(ctx->win.end_ms, d->version_unit_us), (long long)cap->total);
    rc = sync_pipe_start(sizeof(fetched_page), SYNC_PREFETCH_PAGES, fetch_main, cap, drop_page, &cap->pipe);
    if (rc)
        sync_pass_fail(ctx, rc, "%s", "cannot start the page fetching thread");
    return rc;
}

ce_err sync_capture_next(sync_capture *cap, json_t **hits, bool *got)
{
    fetched_page page = {NULL, 0};
    ce_err e = sync_pipe_pop(cap->pipe, &page, got);
    *hits = page.hits;
    if (*got)
        cap->total = page.total;
    return e;
}

void sync_capture_stop(sync_capture *cap)
{
    (void)sync_pipe_join(cap->pipe);
    cap->pipe = NULL;
}

void sync_capture_settle(sync_pass_ctx *ctx, sync_capture *cap)
{
    if (ctx->rc || !cap->mode || !cap->mode->settle)
        return;
    ce_err e = cap->mode->settle(ctx, cap);
    if (e)
        sync_pass_fail(ctx, e, "checkpoint positions: %s", ce_errname(e));
}

void sync_capture_close(sync_capture *cap)
{
    sync_capture_stop(cap);
    es_search_close(cap->search);
    cap->search = NULL;
    if (cap->mode && cap->mode->done)
        cap->mode->done(cap);
}
