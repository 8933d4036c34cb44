/*
 * reader.c - C->E: the page reader thread.
 *
 * The Cassandra side of a C->E pass runs on a thread of its own (a sync_pipe producer):
 * it keeps SYNC_READ_INFLIGHT page requests in flight (the oldest first: when a page
 * arrives its next page is requested at once) and hands finished pages to the pass
 * through the pipe, so waiting for Cassandra never stalls the bulk requests (and the
 * other way round). The reader is the only user of the cql session until it is joined.
 * Failed page requests are sent again (reads are idempotent) up to three times, unless
 * the server refused the query itself.
 *
 * Memory: each request takes its page's expected bytes from the budget before it is sent
 * (rows x the average row bytes measured so far) and the page gives them back when the
 * pass frees it. The page size in rows adapts to the rows' bytes. The reader blocks on the
 * budget only when it has no request in flight (then what holds the bytes is the pass,
 * which frees them without the reader); otherwise a page that does not fit waits until an
 * answer came back.
 *
 * An answer over the CQL message limit (cql_session_opts.max_message_bytes) is dropped by
 * the client, the connection stays up: the task's page size is halved and the same page
 * (same paging state) asked again, down to one row; the cap doubles back after each page
 * under a quarter of the limit. A single row still over the limit is named by the key
 * SELECT (keys_select: the same WHERE, one row from the same paging state) and handed to
 * the pass as a poison page to dead-letter; the task goes on after it.
 */
#include "sync/c2e_int.h"

#include <string.h>
#include "util/clock.h"
#include "util/log.h"

#define SYNC_READ_INFLIGHT 6   /* page requests in flight */
#define SYNC_READ_QUEUE 3      /* pages read and not yet converted */
#define SYNC_READ_RETRIES 3
#define SYNC_PAGE_COST 2       /* budget bytes per byte of a page's body */
/* Page body bytes at most (rows x measured bytes): large pages cost the server less per row
 * than many small ones (docs/performance.md), but each is built whole in its heap: with up
 * to 10 pages alive, 8 MiB pages of 1.5 KB rows peaked at 101 MB RSS, 2 MiB ones at 55 MB
 * with the same wall time (200k rows, 2026-12-02). */
#define SYNC_PAGE_MAX_BYTES (2u << 20)

/* The reader thread's own bookkeeping: a FIFO of the tasks in flight, the tasks whose next
 * page waits for room in the budget, and the rows' measured size. */
typedef struct {
    sync_reader *rd;
    sync_pipe *pipe;
    sync_budget *budget;
    size_t fifo[SYNC_READ_INFLIGHT];
    size_t head, count, next;
    size_t waiting[SYNC_READ_INFLIGHT];  /* tasks with a next page not requested yet */
    size_t wait_head, nwait;
    uint64_t rows_seen, bytes_seen;
    size_t row_bytes;          /* bytes per row to plan with; 0: not measured yet */
    ce_err rc;
    bool stopping;
} read_loop;

static ce_err task_start(sync_pass_ctx *ctx, const sync_scan *s, sync_scan_task *t)
{
    cql_value vals[SYNC_SCAN_MAX_BINDS];
    for (size_t i = 0; i < t->nvals; i++) {
        vals[i].ptr = (const uint8_t *)t->binds.data + t->offs[i];
        vals[i].len = t->lens[i];
    }
    cql_query_opts q;
    cql_query_opts_init(&q);
    q.consistency = ctx->read_cl;
    q.page_size = t->rows > 0 ? t->rows : ctx->def->page_size;
    q.has_routing_token = t->routed;
    q.routing_token = t->route_token;
    if (t->has_paging) {
        q.paging_state.ptr = (const uint8_t *)t->paging.data;
        q.paging_state.len = (int32_t)t->paging.len;
    }
    t->f = cql_session_execute_async(ctx->cql, s->select, vals, t->nvals, &q);
    return t->f ? CE_OK : CE_ENOMEM;
}

/* Send task t's request and put it at the back of the FIFO. */
static void enqueue(read_loop *L, sync_scan_task *t)
{
    L->rc = task_start(L->rd->ctx, L->rd->scan, t);
    if (!L->rc) {
        L->fifo[(L->head + L->count++) % SYNC_READ_INFLIGHT] = (size_t)(t - L->rd->scan->tasks);
    } else {
        sync_budget_release(L->budget, t->held);
        t->held = 0;
    }
}

/* A failed page request: true when it was sent again. */
static bool retry(read_loop *L, sync_scan_task *t, ce_err e)
{
    const cql_error_info *info = cql_future_error(t->f);
    bool refused = e == CE_ESERVER && info && (info->code & 0xff00) == 0x2200;
    if (L->rc || L->stopping || t->retries >= SYNC_READ_RETRIES || e == CE_ENOMEM || refused)
        return false;
    const char *msg = cql_future_errmsg(t->f);
    ce_warn("sync=%s dir=to_es msg=\"page read failed; retrying\" error=%s attempt=%d", L->rd->ctx->def->name,
            SYNC_LOGQ(msg ? msg : ce_strerror(e)), t->retries + 1);
    t->retries++;
    L->rd->ctx->res->c2e_read_retries++;
    cql_future_free(t->f);
    t->f = NULL;
    enqueue(L, t);
    return true;
}

static void fail(read_loop *L, sync_scan_task *t, ce_err e)
{
    if (!L->rc) {
        const char *msg = cql_future_errmsg(t->f);
        ce_error("sync=%s dir=to_es msg=\"read failed\" error=%s", L->rd->ctx->def->name,
                 SYNC_LOGQ(msg ? msg : ce_strerror(e)));
        snprintf(L->rd->errmsg, sizeof L->rd->errmsg, "read failed: %s", msg ? msg : ce_strerror(e));
        L->rc = e;
    }
    cql_future_free(t->f);
    t->f = NULL;
    sync_budget_release(L->budget, t->held);
    t->held = 0;
}

/* The rows and bytes of the next request: page_size rows without a budget; with one, a
 * single row until a row was measured (unknown rows come a few at a time, never a page of
 * page_size of them), then what keeps a page under its part. Once rows were measured, a
 * page also stays under SYNC_PAGE_MAX_BYTES of body, which the server builds in its heap:
 * narrow rows come in pages of page_size, wide ones in fewer rows. */
static void page_plan(const read_loop *L, const sync_scan_task *t, int32_t *rows, size_t *bytes)
{
    int32_t max = L->rd->ctx->def->page_size;
    if (t->rows_cap > 0 && t->rows_cap < max)
        max = t->rows_cap; /* an answer of this task was over the message limit */
    if (L->row_bytes > 0) {
        size_t cap = (size_t)SYNC_PAGE_MAX_BYTES * SYNC_PAGE_COST / L->row_bytes;
        max = cap < 1 ? 1 : cap < (size_t)max ? (int32_t)cap : max;
    }
    *rows = max;
    *bytes = 0;
    if (!L->budget)
        return;
    if (L->row_bytes == 0) {
        *rows = 1;
        return;
    }
    size_t part = sync_budget_share(L->budget) / (SYNC_READ_QUEUE + 2);
    size_t n = part / L->row_bytes;
    *rows = n < 1 ? 1 : n < (size_t)max ? (int32_t)n : max;
    *bytes = (size_t)*rows * L->row_bytes;
}

/* The next task to send: one waiting for its next page first, then a new one. */
static sync_scan_task *next_task(read_loop *L, bool take)
{
    sync_scan *s = L->rd->scan;
    if (L->nwait > 0) {
        sync_scan_task *t = &s->tasks[L->waiting[L->wait_head]];
        if (take) {
            L->wait_head = (L->wait_head + 1) % SYNC_READ_INFLIGHT;
            L->nwait--;
        }
        return t;
    }
    while (L->next < s->ntasks && s->tasks[L->next].skip)
        L->next++; /* acknowledged by the pass this one resumes */
    if (L->next >= s->ntasks)
        return NULL;
    return take ? &s->tasks[L->next++] : &s->tasks[L->next];
}

/* Send what may be sent: up to SYNC_READ_INFLIGHT requests, each only when its page fits
 * in the budget (waiting for room when nothing is in flight; a stop while waiting ends it). */
static void fill(read_loop *L)
{
    while (!L->stopping && !L->rc && L->count < SYNC_READ_INFLIGHT && next_task(L, false)) {
        int32_t rows;
        size_t bytes;
        page_plan(L, next_task(L, false), &rows, &bytes);
        if (L->count == 0) {
            sync_budget_acquire(L->budget, bytes);
            if (L->budget && sync_pipe_stopped(L->pipe)) {
                sync_budget_release(L->budget, bytes);
                L->stopping = true;
                break;
            }
        } else if (!sync_budget_try_acquire(L->budget, bytes)) {
            break;
        }
        sync_scan_task *t = next_task(L, true);
        t->rows = rows;
        t->held = bytes;
        enqueue(L, t);
    }
}

/* Count a page's real bytes in place of its estimate and learn the rows' size. A page
 * costs about twice its body: the decoder assembled it in a buffer grown by doubling, and
 * its rows become documents in the bulk body while it is held. */
static size_t measure(read_loop *L, sync_scan_task *t, const cql_result *r)
{
    size_t actual = cql_result_size(r) * SYNC_PAGE_COST, nrows = cql_result_row_count(r);
    if (actual > t->held)
        sync_budget_force(L->budget, actual - t->held);
    else
        sync_budget_release(L->budget, t->held - actual);
    t->held = 0;
    if (nrows > 0) {
        L->rows_seen += nrows;
        L->bytes_seen += actual;
        size_t avg = (size_t)(L->bytes_seen / L->rows_seen) + 1, last = actual / nrows + 1;
        L->row_bytes = last > avg ? last : avg;
    }
    return actual;
}

/* After a page well under the message limit, a capped task may read larger pages again. */
static void cap_grow(read_loop *L, sync_scan_task *t, const cql_result *r)
{
    if (t->rows_cap <= 0 || cql_result_size(r) >= cql_session_max_message_bytes(L->rd->ctx->cql) / 4)
        return;
    t->rows_cap = t->rows_cap >= L->rd->ctx->def->page_size / 2 ? 0 : t->rows_cap * 2;
}

/* A page arrived: its task waits to be sent again (at once when the budget allows), then
 * this one is handed over. poison_bytes > 0: r is the key of a row alone over the message
 * limit (an answer of that many bytes), for the pass to dead-letter. */
static void deliver(read_loop *L, sync_scan_task *t, cql_result *r, size_t poison_bytes)
{
    cql_future_free(t->f);
    t->f = NULL;
    size_t bytes = 0;
    if (poison_bytes) {
        sync_budget_release(L->budget, t->held);
        t->held = 0;
    } else {
        bytes = measure(L, t, r);
        cap_grow(L, t, r);
    }
    if (!L->stopping && sync_pipe_stopped(L->pipe))
        L->stopping = true;
    bool more = cql_result_has_more_pages(r);
    if (more && !L->rc && !L->stopping) {
        cql_value ps = cql_result_paging_state(r);
        ce_buf_reset(&t->paging);
        L->rc = ce_buf_append(&t->paging, ps.ptr, ps.len > 0 ? (size_t)ps.len : 0);
        t->has_paging = true;
        if (!L->rc)
            L->waiting[(L->wait_head + L->nwait++) % SYNC_READ_INFLIGHT] = (size_t)(t - L->rd->scan->tasks);
    }
    sync_page page = {t, r, !more, bytes, L->budget, poison_bytes};
    if (L->rc || L->stopping) {
        sync_page_release(&page);
        return;
    }
    if (!sync_pipe_push(L->pipe, &page))
        L->stopping = true;
    fill(L); /* the task's next page, now that this one is counted */
}

/* The key of the row at task t's position, alone over the message limit (an answer of
 * `bytes`): the key SELECT from the same paging state, one row. */
static void poison_row(read_loop *L, sync_scan_task *t, size_t bytes)
{
    sync_pass_ctx *ctx = L->rd->ctx;
    sync_scan *s = L->rd->scan;
    cql_result *r = NULL;
    ce_err e = CE_EUNSUPPORTED;
    cql_prepared *full = s->select;
    if (s->keys_select) {
        s->select = s->keys_select; /* task_start sends the scan's statement */
        t->rows = 1;
        e = task_start(ctx, s, t);
        s->select = full;
        e = e ? e : cql_future_wait(t->f, &r);
    }
    if (!e && cql_result_row_count(r) == 1) {
        ce_warn("sync=%s dir=to_es msg=\"row over the cassandra message limit\" bytes=%zu limit=%zu",
                ctx->def->name, bytes, cql_session_max_message_bytes(ctx->cql));
        deliver(L, t, r, bytes);
        return;
    }
    cql_result_free(r);
    if (!L->rc) {
        const char *msg = e && t->f ? cql_future_errmsg(t->f) : "no key select";
        snprintf(L->rd->errmsg, sizeof L->rd->errmsg, "read failed: a row of %zu bytes is over the message limit "
                 "and its key cannot be read: %s", bytes, e ? msg : "the key SELECT found no row");
        ce_error("sync=%s dir=to_es msg=\"read failed\" error=%s", ctx->def->name, SYNC_LOGQ(L->rd->errmsg));
        L->rc = e ? e : CE_ELIMIT;
    }
    cql_future_free(t->f);
    t->f = NULL;
    sync_budget_release(L->budget, t->held);
    t->held = 0;
}

/* An answer over the message limit (dropped by the client; the connection is fine): the
 * same page again with half the rows, or the row alone to the dead letters. */
static void too_large(read_loop *L, sync_scan_task *t)
{
    size_t bytes = cql_future_answer_bytes(t->f);
    if (t->rows <= 1) {
        cql_future_free(t->f);
        t->f = NULL;
        poison_row(L, t, bytes);
        return;
    }
    cql_future_free(t->f);
    t->f = NULL;
    sync_budget_release(L->budget, t->held);
    t->held = 0;
    t->rows_cap = t->rows / 2;
    L->rd->ctx->res->c2e_page_shrinks++;
    ce_warn("sync=%s dir=to_es msg=\"page over the cassandra message limit, reading it again smaller\" "
            "bytes=%zu limit=%zu page_size=%d", L->rd->ctx->def->name, bytes,
            cql_session_max_message_bytes(L->rd->ctx->cql), t->rows_cap);
    if (!L->rc && !L->stopping)
        L->waiting[(L->wait_head + L->nwait++) % SYNC_READ_INFLIGHT] = (size_t)(t - L->rd->scan->tasks);
}

static ce_err read_main(sync_pipe *p, void *ud)
{
    read_loop L = {.rd = ud, .pipe = p, .budget = ((sync_reader *)ud)->ctx->budget};
    sync_scan *s = L.rd->scan;
    for (;;) {
        fill(&L);
        if (L.count == 0)
            break;
        sync_scan_task *t = &s->tasks[L.fifo[L.head]];
        L.head = (L.head + 1) % SYNC_READ_INFLIGHT;
        L.count--;
        cql_result *r = NULL;
        double t0 = ce_mono_s();
        ce_err e = cql_future_wait(t->f, &r);
        L.rd->cql_wait_s += ce_mono_s() - t0;
        if (e == CE_ELIMIT && cql_future_answer_bytes(t->f))
            too_large(&L, t);
        else if (e && !retry(&L, t, e))
            fail(&L, t, e);
        else if (!e)
            deliver(&L, t, r, 0);
    }
    return L.rc;
}

void sync_page_release(sync_page *page)
{
    cql_result_free(page->result);
    page->result = NULL;
    sync_budget_release(page->budget, page->bytes);
    page->bytes = 0;
}

static void drop_page(void *item)
{
    sync_page_release(item);
}

ce_err sync_reader_start(sync_pass_ctx *ctx, sync_scan *s, sync_reader *rd)
{
    rd->ctx = ctx;
    rd->scan = s;
    return sync_pipe_start(sizeof(sync_page), SYNC_READ_QUEUE, read_main, rd, drop_page, &rd->pipe);
}

ce_err sync_reader_next(sync_reader *rd, sync_page *page, bool *got)
{
    return sync_pipe_pop(rd->pipe, page, got);
}

void sync_reader_stop(sync_reader *rd)
{
    if (rd->pipe)
        sync_pipe_stop(rd->pipe);
}

ce_err sync_reader_join(sync_reader *rd)
{
    ce_err e = sync_pipe_join(rd->pipe);
    rd->pipe = NULL;
    return e;
}
