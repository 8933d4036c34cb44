/*
 * capture.c - E->C: how the documents of a pass are found (the capture modes), and the
 * thread that fetches their pages.
 *
 * A capture mode is one table entry filling the search of the pass. Today there is one:
 * the version window (documents whose version field is in [start, end), excluding those
 * whose source is Cassandra when ignore_same_source). Sequence numbers come next as one
 * more entry.
 *
 * Search pages are fetched by a helper thread (a sync_pipe producer) while the pass
 * writes to Cassandra, so Elasticsearch and Cassandra work at the same time. The thread
 * is the only user of the es_search (and so of the es client) until it is joined; pages
 * are handed over as references (jansson reference counts are atomic).
 */
#include "sync/e2c_int.h"

#include <jansson.h>
#include <string.h>
#include "util/log.h"

#define SYNC_PREFETCH_PAGES 2

static void query_version_window(const sync_pass_ctx *ctx, es_search_opts *so)
{
    const sync_def *d = ctx->def;
    so->query.range_field = d->version_col;
    so->query.has_gte = so->query.has_lt = true;
    so->query.gte = sync_version_floor(ctx->win.start_ms, d->version_unit_us);
    so->query.lt = sync_version_ceil(ctx->win.end_ms, d->version_unit_us);
    if (d->ignore_same_source && d->source_field && d->cassandra_source_id) {
        so->query.must_not_field = d->source_field;
        so->query.must_not_value = d->cassandra_source_id;
    }
}

/* Documents without the version field are outside every version window: count them
 * (one _count per pass) and warn, so that they are not silently never read. */
static void count_without_version(sync_pass_ctx *ctx)
{
    const sync_def *d = ctx->def;
    int64_t n = 0;
    if (es_index_count_missing(ctx->es, d->index, d->version_col, &n) != CE_OK) {
        ce_debug("sync=%s dir=to_cassandra msg=\"cannot count documents without version\" error=\"%s\"",
                 d->name, es_client_errmsg(ctx->es));
        return;
    }
    ctx->res->e2c_no_version = n > 0 ? (uint64_t)n : 0;
    if (n > 0)
        ce_warn("sync=%s dir=to_cassandra msg=\"documents without the version field are never read\" "
                "field=%s count=%lld",
                d->name, d->version_col, (long long)n);
}

static const sync_capture_mode capture_modes[] = {
    {"version", query_version_window, count_without_version},
};

/* One page handed over: the hits and the search's total at that time. */
typedef struct {
    json_t *hits;
    int64_t total;
} fetched_page;

static ce_err fetch_main(sync_pipe *p, void *ud)
{
    sync_capture *cap = ud;
    for (;;) {
        void *hv = NULL;
        ce_err e = es_search_next(cap->search, &hv);
        if (e)
            return e;
        fetched_page page = {json_incref((json_t *)hv), es_search_total(cap->search)};
        if (!page.hits || json_array_size(page.hits) == 0) {
            json_decref(page.hits);
            return CE_OK;
        }
        if (!sync_pipe_push(p, &page))
            return CE_OK;
    }
}

static void drop_page(void *item)
{
    json_decref(((fetched_page *)item)->hits);
}

ce_err sync_capture_open(sync_pass_ctx *ctx, sync_capture *cap)
{
    const sync_def *d = ctx->def;
    cap->mode = &capture_modes[0];
    es_search_opts so;
    es_search_opts_init(&so);
    so.index = d->index;
    cap->mode->query(ctx, &so);
    so.page_size = (size_t)d->es_page_size;
    so.unordered = true; /* pages are written in any order; versions decide */
    so.lean = true;      /* _id, _source and sort are all we read of a hit */
    ce_err rc = es_search_open(ctx->es, &so, &cap->search);
    if (rc) {
        sync_pass_fail(ctx, rc, "search failed: %s", es_client_errmsg(ctx->es));
        return rc;
    }
    if (cap->mode->count_unseen)
        cap->mode->count_unseen(ctx);
    ce_info("sync=%s dir=to_cassandra msg=\"reading\" version_gte=%lld version_lt=%lld total=%lld", d->name,
            (long long)so.query.gte, (long long)so.query.lt, (long long)es_search_total(cap->search));
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

void sync_capture_close(sync_capture *cap)
{
    sync_capture_stop(cap);
    es_search_close(cap->search);
    cap->search = NULL;
}
