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
 *
 * Memory (with a budget): a probe of a few documents measures the bytes of a hit; the page
 * size, the Cassandra writes in flight (they keep their hits) and the rows of a batch are
 * lowered so that a page stays under a part = share / (prefetched pages + 2); two parts are
 * reserved (the writes in flight, the response being parsed). Each page takes its bytes
 * from the budget before it is fetched (the thread holds nothing else then, so it may
 * wait) and gives them back when the pass asks for the next page.
 */
#include "sync/e2c_int.h"

#include <jansson.h>
#include <string.h>
#include "util/log.h"

#define SYNC_PREFETCH_PAGES 2
#define SYNC_PROBE_HITS 2  /* few: the probe itself is outside the budget */
#define SYNC_HIT_PARSE_FACTOR 2  /* a parsed hit and its response text live together */

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

static void log_version_window(const sync_pass_ctx *ctx, const sync_capture *cap)
{
    const sync_def *d = ctx->def;
    ce_info("sync=%s dir=to_cassandra msg=\"reading\" version_gte=%lld version_lt=%lld total=%lld", d->name,
            (long long)sync_version_floor(ctx->win.start_ms, d->version_unit_us),
            (long long)sync_version_ceil(ctx->win.end_ms, d->version_unit_us), (long long)cap->total);
}

/* Indexed by sync_es_read_mode. */
static const sync_capture_mode capture_modes[] = {
    [SYNC_ES_READ_VERSION] = {.name = "version",
                              .query = query_version_window,
                              .count_unseen = count_without_version,
                              .log_reading = log_version_window},
    [SYNC_ES_READ_SEQ_NO] = {.name = "seq_no",
                             .plan = sync_seqno_plan,
                             .query = sync_seqno_query,
                             .settle = sync_seqno_settle,
                             .done = sync_seqno_done},
};

/* One page handed over: the hits, the searches' total at that time, its budget bytes. */
typedef struct {
    json_t *hits;
    int64_t total;
    size_t bytes;
    sync_budget *budget;
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
    cap->page_size = so.page_size;
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

/* One page of the current search, its bytes taken from the budget first. */
static ce_err fetch_page(sync_pipe *p, sync_capture *cap, fetched_page *page, bool *stopped)
{
    size_t est = cap->page_size * cap->hit_bytes;
    *page = (fetched_page){NULL, 0, 0, cap->budget};
    sync_budget_acquire(cap->budget, est);
    if (cap->budget && sync_pipe_stopped(p)) {
        sync_budget_release(cap->budget, est);
        *stopped = true;
        return CE_OK;
    }
    json_t *hv = NULL;
    ce_err e = es_search_next(cap->search, &hv);
    page->hits = json_incref(hv);
    page->total = cap->opened_total;
    size_t n = page->hits ? json_array_size(page->hits) : 0;
    page->bytes = n * cap->hit_bytes;
    if (page->bytes < est)
        sync_budget_release(cap->budget, est - page->bytes);
    else
        sync_budget_force(cap->budget, page->bytes - est);
    if (e || n == 0) {
        json_decref(page->hits);
        sync_budget_release(cap->budget, page->bytes);
        page->hits = NULL;
        page->bytes = 0;
    }
    return e;
}

static ce_err fetch_main(sync_pipe *p, void *ud)
{
    sync_capture *cap = ud;
    while (cap->search) {
        fetched_page page;
        bool stopped = false;
        ce_err e = fetch_page(p, cap, &page, &stopped);
        if (e || stopped)
            return e;
        if (page.hits) {
            if (!sync_pipe_push(p, &page))
                return CE_OK;
            continue;
        }
        cap->shrinks += es_search_page_shrinks(cap->search);
        es_search_close(cap->search); /* this search is done: on to the next */
        cap->search = NULL;
        if (cap->read + 1 < cap->nreads && !sync_pipe_stopped(p) && (e = open_read(cap, cap->read + 1)) != CE_OK)
            return e;
    }
    return CE_OK;
}

static void drop_page(void *item)
{
    fetched_page *page = item;
    json_decref(page->hits);
    sync_budget_release(page->budget, page->bytes);
}

/* Bytes of one hit as a few documents of the index show them (0 when it cannot tell). */
static size_t probe_hit_bytes(sync_pass_ctx *ctx)
{
    ce_buf path = CE_BUF_INIT, resp = CE_BUF_INIT;
    long status = 0;
    size_t bytes = 0;
    ce_err e = ce_buf_printf(&path, "/%s/_search?size=%d", ctx->def->index, SYNC_PROBE_HITS);
    e = e ? e : (ce_buf_cstr(&path) ? CE_OK : CE_ENOMEM);
    e = e ? e : es_client_request(ctx->es, "GET", path.data, NULL, 0, &status, &resp);
    if (!e && status == 200) {
        json_t *j = json_loadb(resp.data, resp.len, 0, NULL);
        size_t n = json_array_size(json_object_get(json_object_get(j, "hits"), "hits"));
        bytes = n > 0 ? resp.len / n : 0;
        json_decref(j);
    }
    ce_buf_free(&path);
    ce_buf_free(&resp);
    return bytes;
}

/* Lower *v to at most max (at least 1); true when it changed. */
static bool lower_to(int *v, size_t max)
{
    int m = max < 1 ? 1 : max < (size_t)*v ? (int)max : *v;
    bool changed = m != *v;
    *v = m;
    return changed;
}

void sync_capture_size(sync_pass_ctx *ctx, sync_capture *cap)
{
    cap->budget = ctx->budget;
    cap->hit_bytes = 0;
    if (!ctx->budget)
        return;
    size_t hb = probe_hit_bytes(ctx) * SYNC_HIT_PARSE_FACTOR + 1;
    size_t part = sync_budget_share(ctx->budget) / (SYNC_PREFETCH_PAGES + 2), fit = part / hb;
    /* Two parts are not pages': the writes in flight (they keep their documents, and their
     * requests hold a copy until sent) and the search's response text while it is parsed. */
    cap->reserved = 2 * part;
    sync_budget_reserve(ctx->budget, cap->reserved);
    sync_def *d = &ctx->sized;
    bool lowered = lower_to(&d->es_page_size, fit);
    lowered |= lower_to(&d->write_batch_rows, fit);
    lowered |= lower_to(&d->write_concurrency, fit / (size_t)d->write_batch_rows);
    cap->hit_bytes = hb;
    if (lowered)
        ce_info("sync=%s dir=to_cassandra msg=\"sizes lowered to fit memory_limit_mb\" hit_bytes=%zu "
                "es_page_size=%d write_concurrency=%d write_batch_rows=%d", d->name, hb, d->es_page_size,
                d->write_concurrency, d->write_batch_rows);
}

ce_err sync_capture_open(sync_pass_ctx *ctx, sync_capture *cap)
{
    size_t m = (size_t)ctx->def->es_read_mode;
    if (m >= sizeof capture_modes / sizeof capture_modes[0] || !capture_modes[m].query) {
        sync_pass_fail(ctx, CE_ECONFIG, "%s", "unknown es_read_mode");
        return CE_ECONFIG;
    }
    cap->mode = &capture_modes[m];
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
    if (cap->mode->count_unseen)
        cap->mode->count_unseen(ctx);
    cap->total = cap->opened_total;
    if (cap->mode->log_reading)
        cap->mode->log_reading(ctx, cap);
    rc = sync_pipe_start(sizeof(fetched_page), SYNC_PREFETCH_PAGES, fetch_main, cap, drop_page, &cap->pipe);
    if (rc)
        sync_pass_fail(ctx, rc, "%s", "cannot start the page fetching thread");
    return rc;
}

ce_err sync_capture_next(sync_capture *cap, json_t **hits, bool *got)
{
    sync_budget_release(cap->budget, cap->held); /* the pass is done with the page before */
    cap->held = 0;
    fetched_page page = {NULL, 0, 0, NULL};
    ce_err e = sync_pipe_pop(cap->pipe, &page, got);
    *hits = page.hits;
    if (*got) {
        cap->total = page.total;
        cap->held = page.bytes;
    }
    return e;
}

void sync_capture_stop(sync_capture *cap)
{
    sync_budget_release(cap->budget, cap->held);
    cap->held = 0;
    (void)sync_pipe_join(cap->pipe);
    cap->pipe = NULL;
    if (cap->ctx) /* the pass line's page_shrinks */
        cap->ctx->res->e2c_page_shrinks = cap->shrinks + es_search_page_shrinks(cap->search);
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
    sync_budget_unreserve(cap->budget, cap->reserved);
    cap->reserved = 0;
    es_search_close(cap->search);
    cap->search = NULL;
    if (cap->mode && cap->mode->done)
        cap->mode->done(cap);
}
