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
 */
#include "sync/c2e_int.h"

#include <string.h>
#include "util/clock.h"
#include "util/log.h"

#define SYNC_READ_INFLIGHT 6   /* page requests in flight */
#define SYNC_READ_QUEUE 3      /* pages read and not yet converted */
#define SYNC_READ_RETRIES 3

/* The reader thread's own bookkeeping: a FIFO of the tasks in flight. */
typedef struct {
    sync_reader *rd;
    sync_pipe *pipe;
    size_t fifo[SYNC_READ_INFLIGHT];
    size_t head, count, next;
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
    q.page_size = ctx->def->page_size;
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
    if (!L->rc)
        L->fifo[(L->head + L->count++) % SYNC_READ_INFLIGHT] = (size_t)(t - L->rd->scan->tasks);
}

/* A failed page request: true when it was sent again. */
static bool retry(read_loop *L, sync_scan_task *t, ce_err e)
{
    const cql_error_info *info = cql_future_error(t->f);
    bool refused = e == CE_ESERVER && info && (info->code & 0xff00) == 0x2200;
    if (L->rc || L->stopping || t->retries >= SYNC_READ_RETRIES || e == CE_ENOMEM || refused)
        return false;
    const char *msg = cql_future_errmsg(t->f);
    ce_warn("sync=%s dir=to_es msg=\"page read failed; retrying\" error=\"%s\" attempt=%d", L->rd->ctx->def->name,
            msg ? msg : ce_strerror(e), t->retries + 1);
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
        ce_error("sync=%s dir=to_es msg=\"read failed\" error=\"%s\"", L->rd->ctx->def->name,
                 msg ? msg : ce_strerror(e));
        snprintf(L->rd->errmsg, sizeof L->rd->errmsg, "read failed: %s", msg ? msg : ce_strerror(e));
        L->rc = e;
    }
    cql_future_free(t->f);
    t->f = NULL;
}

/* A page arrived: ask for the task's next page at once, then hand this one over. */
static void deliver(read_loop *L, sync_scan_task *t, cql_result *r)
{
    cql_future_free(t->f);
    t->f = NULL;
    if (!L->stopping && sync_pipe_stopped(L->pipe))
        L->stopping = true;
    bool more = cql_result_has_more_pages(r);
    if (more && !L->rc && !L->stopping) {
        cql_value ps = cql_result_paging_state(r);
        ce_buf_reset(&t->paging);
        L->rc = ce_buf_append(&t->paging, ps.ptr, ps.len > 0 ? (size_t)ps.len : 0);
        t->has_paging = true;
        if (!L->rc)
            enqueue(L, t); /* the task stays in flight at the back of the FIFO */
    }
    if (L->rc || L->stopping) {
        cql_result_free(r);
        return;
    }
    sync_page page = {t, r, !more};
    if (!sync_pipe_push(L->pipe, &page))
        L->stopping = true;
}

static ce_err read_main(sync_pipe *p, void *ud)
{
    read_loop L = {.rd = ud, .pipe = p};
    sync_scan *s = L.rd->scan;
    while (L.count > 0 || (L.next < s->ntasks && !L.stopping && !L.rc)) {
        while (!L.stopping && !L.rc && L.count < SYNC_READ_INFLIGHT && L.next < s->ntasks) {
            sync_scan_task *t = &s->tasks[L.next++];
            if (!t->skip) /* acknowledged by the pass this one resumes */
                enqueue(&L, t);
        }
        if (L.count == 0)
            break;
        sync_scan_task *t = &s->tasks[L.fifo[L.head]];
        L.head = (L.head + 1) % SYNC_READ_INFLIGHT;
        L.count--;
        cql_result *r = NULL;
        double t0 = ce_mono_s();
        ce_err e = cql_future_wait(t->f, &r);
        L.rd->cql_wait_s += ce_mono_s() - t0;
        if (e && !retry(&L, t, e))
            fail(&L, t, e);
        else if (!e)
            deliver(&L, t, r);
    }
    return L.rc;
}

static void drop_page(void *item)
{
    cql_result_free(((sync_page *)item)->result);
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
