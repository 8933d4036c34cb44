/*
 * session.c - the public session API: connect (protocol negotiation v5 -> v4), the
 * I/O loop (cql_session_run), dispatch of futures to connections (the connections'
 * callbacks land here), retries and failover, and the blocking helpers, which are
 * loops over the asynchronous API. Futures themselves live in future.c, the
 * prepared-statement cache in prepared.c, discovery and routing in cluster.c.
 *
 * Retry policy (documented contract): a request whose connection is lost before a
 * response arrives, or that gets Overloaded / Is_bootstrapping, is sent again on
 * another host, up to 3 attempts. This treats every statement as idempotent: true
 * for reads, and for the sync engine's writes, which all carry USING TIMESTAMP (a
 * replay writes the same cells with the same timestamp). Callers sending
 * non-idempotent statements (counters, lightweight transactions with side effects)
 * must not rely on the library and should use a pinned host or check results.
 * Server errors (timeouts, unavailable, invalid...) are returned, not retried.
 * Unprepared (0x2500) is handled by preparing again on the same connection and
 * sending the EXECUTE/BATCH once more.
 */
#include "cql/session_int.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util/log.h"
#include "util/clock.h"

#define MAX_ATTEMPTS 3
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 10000

int64_t cql_now_ms(void)
{
    return ce_mono_ms();
}

void cql_session_opts_init(cql_session_opts *o)
{
    memset(o, 0, sizeof *o);
    o->port = 9042;
    o->connect_timeout_ms = 5000;
    o->request_timeout_ms = 12000;
    o->heartbeat_interval_ms = 30000;
    o->connections_per_host = 1;
    o->token_aware = true;
    o->discover = true;
}

void cql_query_opts_init(cql_query_opts *q)
{
    memset(q, 0, sizeof *q);
    q->consistency = CQL_CONSISTENCY_LOCAL_ONE;
    q->timestamp = INT64_MIN;
}

void cql_session_set_err(cql_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
    va_end(ap);
}

const char *cql_session_errmsg(const cql_session *s) { return s ? s->errmsg : "no session"; }
int cql_session_protocol_version(const cql_session *s) { return s->version; }

size_t cql_session_max_message_bytes(const cql_session *s)
{
    return s->o.max_message_bytes ? s->o.max_message_bytes : CQL_DEFAULT_MAX_BODY;
}

size_t cql_session_host_count(const cql_session *s, bool up_only)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nhosts; i++)
        if (!up_only || s->hosts[i].up)
            n++;
    return n;
}

bool cql_session_host_info(const cql_session *s, size_t i, const char **addr, bool *up, uint64_t *requests)
{
    if (i >= s->nhosts)
        return false;
    if (addr)
        *addr = s->hosts[i].addr;
    if (up)
        *up = s->hosts[i].up;
    if (requests)
        *requests = s->hosts[i].requests;
    return true;
}

int cql_session_find_host(const cql_session *s, const char *addr)
{
    for (size_t i = 0; i < s->nhosts; i++)
        if (!strcmp(s->hosts[i].addr, addr))
            return (int)i;
    return -1;
}

int cql_session_add_host(cql_session *s, const char *addr, const char *name, uint16_t port)
{
    int i = cql_session_find_host(s, addr);
    if (i >= 0)
        return i;
    cql_host *nh = realloc(s->hosts, (s->nhosts + 1) * sizeof *nh);
    if (!nh)
        return -1;
    s->hosts = nh;
    cql_host *h = &s->hosts[s->nhosts];
    memset(h, 0, sizeof *h);
    snprintf(h->addr, sizeof h->addr, "%s", addr);
    snprintf(h->name, sizeof h->name, "%s", name ? name : addr);
    h->port = port;
    h->backoff_ms = BACKOFF_MIN_MS;
    ce_debug("msg=\"cql host added\" host=%s port=%u", h->addr, (unsigned)port);
    return (int)s->nhosts++;
}

/* ---------------------------------------------------------------- lists */

static void pend_remove(cql_session *s, cql_future *f)
{
    if (!f->in_pending)
        return;
    if (f->prev) f->prev->next = f->next; else s->pend_head = f->next;
    if (f->next) f->next->prev = f->prev; else s->pend_tail = f->prev;
    f->prev = f->next = NULL;
    f->in_pending = false;
}

static void pend_push(cql_session *s, cql_future *f, bool front)
{
    f->in_pending = true;
    if (front) {
        f->prev = NULL;
        f->next = s->pend_head;
        if (s->pend_head) s->pend_head->prev = f; else s->pend_tail = f;
        s->pend_head = f;
    } else {
        f->next = NULL;
        f->prev = s->pend_tail;
        if (s->pend_tail) s->pend_tail->next = f; else s->pend_head = f;
        s->pend_tail = f;
    }
}

static void fl_remove(cql_session *s, cql_future *f)
{
    if (!f->in_flight)
        return;
    if (f->prev) f->prev->next = f->next; else s->fl_head = f->next;
    if (f->next) f->next->prev = f->prev; else s->fl_tail = f->prev;
    f->prev = f->next = NULL;
    f->in_flight = false;
    s->inflight--;
}

static void fl_push(cql_session *s, cql_future *f)
{
    f->in_flight = true;
    f->next = NULL;
    f->prev = s->fl_tail;
    if (s->fl_tail) s->fl_tail->next = f; else s->fl_head = f;
    s->fl_tail = f;
    s->inflight++;
}

/* ---------------------------------------------------------------- futures */





static void complete(cql_session *s, cql_future *f, ce_err status)
{
    pend_remove(s, f);
    fl_remove(s, f);
    f->done = true;
    f->status = status;
    f->conn = NULL;
    if (status && !f->errmsg[0])
        snprintf(f->errmsg, sizeof f->errmsg, "%s", ce_strerror(status));
    if (f->on_done)
        f->on_done(f, f->ud);
    if (f->detached)
        cql_future_release(f);
}





/* ---------------------------------------------------------------- encoding */


/* ---------------------------------------------------------------- dispatch */

/* Try to put f on a connection now. true when sent. */
static bool try_send(cql_session *s, cql_future *f)
{
    int h = cql_cluster_route(s, f);
    if (h < 0)
        return false;
    cql_conn *c = s->hosts[h].conn;
    ce_err e = cql_conn_send(c, f);
    if (e == CE_EAGAIN)
        return false;
    pend_remove(s, f);
    if (e) {
        snprintf(f->errmsg, sizeof f->errmsg, "cannot encode request: %s", ce_strerror(e));
        complete(s, f, e);
        return true;
    }
    f->host = h;
    f->attempts++;
    f->sent_at = cql_now_ms();
    s->hosts[h].requests++;
    fl_push(s, f);
    return true;
}

void cql_session_submit(cql_session *s, cql_future *f)
{
    if (f->done)
        return;
    f->deadline = cql_now_ms() + s->o.request_timeout_ms;
    if (!s->pend_head && try_send(s, f))
        return;
    pend_push(s, f, false);
}

static void dispatch_pending(cql_session *s)
{
    cql_future *f = s->pend_head;
    int misses = 0;
    while (f) {
        cql_future *next = f->next;
        if (!try_send(s, f) && ++misses > 64)
            break; /* nothing can take more right now */
        f = next;
    }
}

static void count_retry(cql_session *s, cql_retry_cause cause)
{
    atomic_fetch_add_explicit(&s->retries[cause], 1, memory_order_relaxed);
}

void cql_session_retries(const cql_session *s, uint64_t out[CQL_RETRY_CAUSES])
{
    for (int i = 0; i < CQL_RETRY_CAUSES; i++)
        out[i] = atomic_load_explicit(&s->retries[i], memory_order_relaxed);
}

/* Put a request back in the queue for another attempt (counted under cause), or fail it. */
static void retry_or_fail(cql_session *s, cql_future *f, ce_err e, cql_retry_cause cause, const char *why)
{
    fl_remove(s, f);
    f->conn = NULL;
    f->reprepare = false;
    if (f->attempts < MAX_ATTEMPTS && cql_now_ms() < f->deadline + s->o.request_timeout_ms) {
        ce_debug("msg=\"cql request retried\" attempt=%d reason=\"%s\"", f->attempts, why);
        count_retry(s, cause);
        f->avoid_host = f->host;
        pend_push(s, f, true);
        return;
    }
    snprintf(f->errmsg, sizeof f->errmsg, "%.500s (after %d attempts)", why, f->attempts);
    complete(s, f, e);
}

/* ---------------------------------------------------------------- responses */






static void fail_server(cql_session *s, cql_future *f, const cql_error_info *info)
{
    f->info = *info;
    snprintf(f->errmsg, sizeof f->errmsg, "server error 0x%04x (%s): %s", (unsigned)info->code,
             cql_error_code_name(info->code), info->message);
    complete(s, f, CE_ESERVER);
}

/* An ERROR answer: re-prepare on Unprepared, retry on Overloaded/Is_bootstrapping,
 * otherwise the future fails with the server's error. */
static void on_error_response(cql_session *s, cql_conn *c, cql_future *f, cql_msg *m)
{
    cql_error_info info;
    cql_value upid = {NULL, 0};
    if (cql_error_parse(m, c->version, &info, &upid)) {
        snprintf(f->errmsg, sizeof f->errmsg, "malformed ERROR response");
        complete(s, f, CE_EPROTO);
        return;
    }
    if (info.code == 0x2500 && !f->reprepare && (f->kind == FK_EXECUTE || f->kind == FK_BATCH) &&
        f->attempts <= MAX_ATTEMPTS + 1) {
        /* Unprepared on this node: prepare here, then send the request again */
        f->reprep = cql_future_prepared_by_id(f, upid);
        f->reprepare = true;
        ce_debug("msg=\"cql re-preparing\" host=%s", s->hosts[c->host].addr);
        if (f->reprep && cql_conn_send(c, f) == CE_OK) {
            count_retry(s, CQL_RETRY_UNPREPARED);
            f->attempts++;
            f->sent_at = cql_now_ms();
            fl_push(s, f);
            return;
        }
        f->reprepare = false;
        fail_server(s, f, &info);
        return;
    }
    if (info.code == 0x1001 || info.code == 0x1002) { /* Overloaded, Is_bootstrapping */
        char why[160];
        snprintf(why, sizeof why, "server error 0x%04x: %.120s", (unsigned)info.code, info.message);
        f->info = info;
        retry_or_fail(s, f, CE_ESERVER, CQL_RETRY_OVERLOADED, why);
        return;
    }
    f->reprepare = false;
    fail_server(s, f, &info);
}

/* The PREPARED answer of a re-prepare: update the statement, send the request again. */
static void on_reprepared(cql_session *s, cql_conn *c, cql_future *f, cql_result *r)
{
    f->reprepare = false;
    if (r->kind != CQL_RESULT_PREPARED) {
        cql_result_free(r);
        snprintf(f->errmsg, sizeof f->errmsg, "re-prepare did not return a prepared statement");
        complete(s, f, CE_EPROTO);
        return;
    }
    ce_err e = cql_prepared_update(f->reprep, r);
    cql_result_free(r);
    if (e) {
        complete(s, f, e);
        return;
    }
    if (cql_conn_send(c, f) == CE_OK) {
        f->sent_at = cql_now_ms();
        s->hosts[c->host].requests++;
        fl_push(s, f);
    } else {
        pend_push(s, f, true);
    }
}

/* cql_conn_callbacks.on_response: the answer to f arrived on c. */
static void on_response(void *owner, cql_conn *c, cql_future *f, cql_msg *m)
{
    cql_session *s = owner;
    fl_remove(s, f);
    f->conn = NULL;
    if (m->opcode == CQL_OP_ERROR) {
        on_error_response(s, c, f, m);
        return;
    }
    if (m->dropped) {
        f->answer_bytes = m->dropped;
        snprintf(f->errmsg, sizeof f->errmsg, "answer of %zu bytes over the message limit of %zu bytes",
                 m->dropped, c->dec.max_body);
        complete(s, f, CE_ELIMIT);
        return;
    }
    if (f->kind == FK_OPTIONS || f->kind == FK_REGISTER) {
        complete(s, f, CE_OK);
        return;
    }
    if (m->opcode != CQL_OP_RESULT) {
        snprintf(f->errmsg, sizeof f->errmsg, "unexpected response opcode 0x%02x", m->opcode);
        complete(s, f, CE_EPROTO);
        return;
    }
    const cql_colset *skip = NULL;
    if (f->kind == FK_EXECUTE && !f->reprepare && f->prep->result && f->prep->result->ncols > 0)
        skip = f->prep->result;
    cql_result *r;
    char err[128] = "";
    ce_err e = cql_result_parse(m, c->version, skip, &r, err, sizeof err);
    if (e) {
        snprintf(f->errmsg, sizeof f->errmsg, "bad RESULT: %s", err);
        complete(s, f, e);
        return;
    }
    if (f->reprepare) {
        on_reprepared(s, c, f, r);
        return;
    }
    if (r->kind == CQL_RESULT_ROWS && f->kind == FK_EXECUTE && r->new_metadata_id.ptr && r->cols == &r->own_cols) {
        /* v5: the result columns changed since the statement was prepared */
        cql_prepared_set_metadata(f->prep, r); /* best effort: the old one still works */
    }
    if (r->kind == CQL_RESULT_SCHEMA_CHANGE)
        s->schema_unsettled = true; /* until cql_session_wait_schema_agreement sees agreement */
    f->result = r;
    complete(s, f, CE_OK);
}

/* ---------------------------------------------------------------- connection events */

static void on_conn_ready(void *owner, cql_conn *c)
{
    cql_session *s = owner;
    cql_host *h = &s->hosts[c->host];
    if (!h->up)
        ce_info("msg=\"cql host up\" host=%s proto=%d compression=%s", h->addr, c->version,
                c->lz4 ? "lz4" : "none");
    h->up = true;
    h->ever_up = true;
    h->backoff_ms = BACKOFF_MIN_MS;
    if (s->need_register || s->control_host < 0) {
        s->control_host = c->host;
        if (cql_conn_register(c) == CE_OK)
            s->need_register = false;
    }
}

static void on_conn_lost(void *owner, cql_conn *c, ce_err e)
{
    cql_session *s = owner;
    cql_host *h = &s->hosts[c->host];
    bool was_up = h->up && c->state == CS_CLOSED;
    h->up = false;
    h->failures++;
    h->next_retry = cql_now_ms() + h->backoff_ms;
    h->backoff_ms = h->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : h->backoff_ms * 2;
    if (was_up)
        ce_warn("msg=\"cql host down\" host=%s reason=\"%s\"", h->addr, c->errmsg);
    if (c->registered || s->control_host == c->host) {
        s->need_register = true;
        s->control_host = -1;
    }
    char why[300];
    snprintf(why, sizeof why, "connection to %s lost: %.200s", h->addr, c->errmsg);
    for (int id = 1; id < CQL_MAX_STREAMS && c->inflight; id++) {
        cql_future *f = c->streams[id];
        if (!f || f == CQL_STREAM_HEARTBEAT || f == CQL_STREAM_ORPHAN || f == CQL_STREAM_REGISTER)
            continue;
        c->streams[id] = NULL;
        c->inflight--;
        retry_or_fail(s, f, e == CE_OK ? CE_ECLOSED : e, CQL_RETRY_CONNECTION, why);
    }
}

static void on_event(void *owner, cql_conn *c, cql_msg *m)
{
    cql_session *s = owner;
    (void)c;
    cql_event ev;
    if (cql_event_parse(m, &ev)) {
        ce_warn("msg=\"malformed cql EVENT ignored\"");
        return;
    }
    ce_info("msg=\"cql event\" type=%s change=%s addr=%s", ev.type, ev.change, ev.addr);
    int h = ev.addr[0] ? cql_session_find_host(s, ev.addr) : -1;
    if (!strcmp(ev.type, "STATUS_CHANGE") && !strcmp(ev.change, "UP") && h >= 0) {
        s->hosts[h].next_retry = 0; /* try now, not after the backoff */
        s->hosts[h].backoff_ms = BACKOFF_MIN_MS;
    } else if (!strcmp(ev.type, "TOPOLOGY_CHANGE")) {
        s->need_refresh = true;
    }
}

/* ---------------------------------------------------------------- the loop */

/* Open a connection to host h: the session's settings and its calls back. */
static ce_err open_conn(cql_session *s, int h, int version, cql_conn **out)
{
    const cql_host *hp = &s->hosts[h];
    cql_conn_config cfg = {
        .addr = hp->addr,
        .name = hp->name,
        .port = hp->port,
        .o = &s->o,
        .ssl_ctx = s->ssl_ctx,
        .cb = {s, on_conn_ready, on_conn_lost, on_response, on_event},
    };
    return cql_conn_open(&cfg, h, version, out);
}

static void maintain_hosts(cql_session *s, int64_t now)
{
    if (!s->version)
        return; /* inside cql_session_connect: connect_one drives the one connection */
    for (size_t i = 0; i < s->nhosts; i++) {
        cql_host *h = &s->hosts[i];
        cql_conn *c = h->conn;
        if (c && c->state == CS_CLOSED) {
            cql_conn_free(c);
            h->conn = c = NULL;
        }
        if (!c) {
            if (now < h->next_retry)
                continue;
            cql_conn *nc = NULL;
            ce_err e = open_conn(s, (int)i, s->version, &nc);
            if (e || !nc) {
                if (nc) {
                    h->conn = nc; /* state CLOSED: report through the usual path */
                    on_conn_lost(s, nc, e);
                    cql_conn_free(nc);
                    h->conn = NULL;
                }
                continue;
            }
            h->conn = c = nc;
            if (c->state == CS_CLOSED)
                continue;
        }
        if (c->state != CS_READY && c->state != CS_CLOSED && now > c->deadline) {
            cql_conn_fail(c, CE_ETIMEOUT, "connect/handshake timed out after %d ms", s->o.connect_timeout_ms);
            continue;
        }
        if (c->state == CS_READY && s->o.heartbeat_interval_ms > 0) {
            if (c->heartbeat_sent && now - c->heartbeat_sent > s->o.request_timeout_ms)
                cql_conn_fail(c, CE_ETIMEOUT, "heartbeat not answered in %d ms", s->o.request_timeout_ms);
            else if (!c->heartbeat_sent && now - c->last_io > s->o.heartbeat_interval_ms)
                cql_conn_heartbeat(c);
        }
        if (c->state == CS_READY && s->need_register && s->control_host < 0) {
            s->control_host = (int)i;
            if (cql_conn_register(c) == CE_OK)
                s->need_register = false;
        }
    }
}

static void check_timeouts(cql_session *s, int64_t now)
{
    while (s->fl_head && now - s->fl_head->sent_at >= s->o.request_timeout_ms) {
        cql_future *f = s->fl_head;
        cql_conn *c = f->conn;
        if (c && f->stream > 0 && c->streams[f->stream] == f) {
            c->streams[f->stream] = CQL_STREAM_ORPHAN; /* late answer must not hit a reused id */
            c->orphans++;
            c->inflight--;
        }
        snprintf(f->errmsg, sizeof f->errmsg, "no response from %s within %d ms",
                 f->host >= 0 ? s->hosts[f->host].addr : "?", s->o.request_timeout_ms);
        f->reprepare = false;
        complete(s, f, CE_ETIMEOUT);
    }
    for (cql_future *f = s->pend_head; f;) {
        cql_future *next = f->next;
        if (now >= f->deadline) {
            bool any_up = cql_session_host_count(s, true) > 0;
            snprintf(f->errmsg, sizeof f->errmsg, "%s", any_up ? "no connection could take the request in time"
                                                                : "no host available");
            complete(s, f, any_up ? CE_ETIMEOUT : CE_ENOHOST);
        }
        f = next;
    }
}

static void flush_all(cql_session *s)
{
    for (size_t i = 0; i < s->nhosts; i++)
        if (s->hosts[i].conn)
            cql_conn_flush(s->hosts[i].conn);
}

ce_err cql_session_run(cql_session *s, int timeout_ms)
{
    if (s->need_refresh && !s->refreshing && s->o.discover) {
        s->refreshing = true;
        s->need_refresh = false;
        if (cql_cluster_discover(s))
            ce_warn("msg=\"cql topology refresh failed\" err=\"%s\"", s->errmsg);
        s->refreshing = false;
    }
    int64_t now = cql_now_ms();
    maintain_hosts(s, now);
    dispatch_pending(s);
    check_timeouts(s, now);
    flush_all(s);

    struct pollfd pfd[64];
    cql_conn *pc[64];
    nfds_t n = 0;
    for (size_t i = 0; i < s->nhosts && n < 64; i++) {
        cql_conn *c = s->hosts[i].conn;
        if (!c)
            continue;
        short ev = cql_conn_events(c);
        if (!ev)
            continue;
        pfd[n].fd = c->fd;
        pfd[n].events = ev;
        pfd[n].revents = 0;
        pc[n++] = c;
    }
    int wait = timeout_ms < 0 ? 0 : timeout_ms;
    if (wait > 0) {
        /* wake up for the next request timeout and the next reconnect */
        int64_t next = INT64_MAX;
        if (s->fl_head)
            next = s->fl_head->sent_at + s->o.request_timeout_ms;
        if (s->pend_head)
            next = 0; /* poll briefly: something may free up */
        for (size_t i = 0; i < s->nhosts; i++)
            if (!s->hosts[i].conn && s->hosts[i].next_retry < next)
                next = s->hosts[i].next_retry;
        if (next != INT64_MAX) {
            int64_t d = next - now;
            if (d < 0)
                d = 0;
            if (d < wait)
                wait = (int)(s->pend_head ? (d < 5 ? 5 : d) : d);
        }
    }
    int rc = poll(n ? pfd : NULL, n, wait);
    if (rc < 0 && errno != EINTR) {
        cql_session_set_err(s, "poll: %s", strerror(errno));
        return CE_EIO;
    }
    for (nfds_t i = 0; rc > 0 && i < n; i++)
        if (pfd[i].revents)
            cql_conn_io(pc[i], pfd[i].revents);
    dispatch_pending(s);
    flush_all(s);
    return CE_OK;
}

size_t cql_session_inflight(const cql_session *s)
{
    size_t n = s->inflight;
    for (const cql_future *f = s->pend_head; f; f = f->next)
        n++;
    return n;
}

ce_err cql_future_wait(cql_future *f, cql_result **out)
{
    if (out)
        *out = NULL;
    while (!f->done) {
        ce_err e = cql_session_run(f->s, 200);
        if (e)
            return e;
    }
    if (f->status == CE_OK && out) {
        *out = f->result;
        f->result = NULL;
    }
    return f->status;
}

ce_err cql_session_wait_result(cql_session *s, cql_future *f, cql_result **out, cql_error_info *info)
{
    (void)s;
    if (!f)
        return CE_ENOMEM;
    ce_err e = cql_future_wait(f, out);
    if (e) {
        if (info)
            *info = f->info;
        cql_session_set_err(f->s, "%s", f->errmsg);
    }
    cql_future_free(f);
    return e;
}

/* ---------------------------------------------------------------- public requests */

cql_future *cql_session_query_async(cql_session *s, const char *cql, const cql_value *values, size_t n,
                                    const cql_query_opts *q)
{
    cql_future *f = cql_future_new_query(s, cql, values, n, q);
    if (f)
        cql_session_submit(s, f);
    return f;
}

ce_err cql_session_query(cql_session *s, const char *cql, const cql_value *values, size_t n,
                         const cql_query_opts *q, cql_result **out, cql_error_info *info)
{
    if (out)
        *out = NULL;
    cql_result *r = NULL;
    ce_err e = cql_session_wait_result(s, cql_session_query_async(s, cql, values, n, q), &r, info);
    if (out)
        *out = r;
    else
        cql_result_free(r);
    return e;
}

cql_future *cql_session_execute_async(cql_session *s, cql_prepared *p, const cql_value *values, size_t n,
                                      const cql_query_opts *q)
{
    cql_future *f = cql_future_new(s, FK_EXECUTE);
    if (!f)
        return NULL;
    f->prep = p;
    ce_err e = cql_future_copy_values(f, values, n, q ? q->names : NULL);
    if (!e)
        e = cql_future_copy_opts(f, q);
    if (e)
        return cql_future_failed(f, e);
    cql_session_submit(s, f);
    return f;
}

ce_err cql_session_execute(cql_session *s, cql_prepared *p, const cql_value *values, size_t n,
                           const cql_query_opts *q, cql_result **out, cql_error_info *info)
{
    if (out)
        *out = NULL;
    cql_result *r = NULL;
    ce_err e = cql_session_wait_result(s, cql_session_execute_async(s, p, values, n, q), &r, info);
    if (out)
        *out = r;
    else
        cql_result_free(r);
    return e;
}

cql_future *cql_session_batch_async(cql_session *s, int batch_type, cql_prepared *const *stmts,
                                    const cql_value *const *values, const size_t *nvalues, size_t nstmts,
                                    const cql_query_opts *q)
{
    cql_future *f = cql_future_new(s, FK_BATCH);
    if (!f)
        return NULL;
    f->batch_type = batch_type;
    f->batch = calloc(nstmts ? nstmts : 1, sizeof *f->batch);
    if (!f->batch)
        return cql_future_failed(f, CE_ENOMEM);
    f->nbatch = nstmts;
    size_t total = 0;
    for (size_t i = 0; i < nstmts; i++)
        total += nvalues ? nvalues[i] : 0;
    cql_value *all = calloc(total ? total : 1, sizeof *all);
    if (!all)
        return cql_future_failed(f, CE_ENOMEM);
    size_t k = 0;
    for (size_t i = 0; i < nstmts; i++) {
        f->batch[i].prep = stmts[i];
        f->batch[i].first = k;
        f->batch[i].n = nvalues ? nvalues[i] : 0;
        for (size_t j = 0; j < f->batch[i].n; j++)
            all[k++] = values[i][j];
    }
    if (nstmts)
        f->prep = stmts[0]; /* routing by the first statement */
    ce_err e = cql_future_copy_values(f, all, total, NULL);
    free(all);
    if (!e)
        e = cql_future_copy_opts(f, q);
    if (e)
        return cql_future_failed(f, e);
    cql_session_submit(s, f);
    return f;
}

/* ---------------------------------------------------------------- prepared statements */




/* ---------------------------------------------------------------- connect / free */

static char *dup_or_null(const char *x, bool *fail)
{
    if (!x)
        return NULL;
    char *d = strdup(x);
    if (!d)
        *fail = true;
    return d;
}

/* Resolve a host name to a numeric address (first result). */
static bool resolve(const char *name, char *out, size_t cap)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(name, NULL, &hints, &ai) || !ai)
        return false;
    bool ok = getnameinfo(ai->ai_addr, ai->ai_addrlen, out, (socklen_t)cap, NULL, 0, NI_NUMERICHOST) == 0;
    freeaddrinfo(ai);
    return ok;
}

/* Bring up one connection to host h with version v (blocking). */
static ce_err connect_one(cql_session *s, int h, int v, bool *version_rejected)
{
    cql_host *host = &s->hosts[h];
    *version_rejected = false;
    cql_conn *c = NULL;
    ce_err e = open_conn(s, h, v, &c);
    if (e || !c) {
        cql_session_set_err(s, "%s", c ? c->errmsg : ce_strerror(e));
        cql_conn_free(c);
        return e ? e : CE_ENOMEM;
    }
    host->conn = c;
    int saved = s->version;
    s->version = 0; /* keep maintain_hosts from opening others */
    while (c->state != CS_READY && c->state != CS_CLOSED) {
        if (cql_now_ms() > c->deadline) {
            cql_conn_fail(c, CE_ETIMEOUT, "connect/handshake timed out after %d ms", s->o.connect_timeout_ms);
            break;
        }
        cql_session_run(s, 100);
    }
    s->version = saved;
    if (c->state == CS_READY)
        return CE_OK;
    *version_rejected = c->version_rejected;
    cql_session_set_err(s, "%s:%u: %s", host->addr, (unsigned)host->port, c->errmsg);
    ce_err why = CE_ENOHOST;
    if (strstr(c->errmsg, "TLS"))
        why = CE_ETLS;
    else if (strstr(c->errmsg, "auth") || strstr(c->errmsg, "Auth") || strstr(c->errmsg, "credentials"))
        why = CE_EAUTH;
    cql_conn_free(c);
    host->conn = NULL;
    return why;
}

/* Copy the options (strings included) into s and apply defaults; CE_ECONFIG with the
 * reason in s->errmsg for options that cannot work. */
static ce_err session_set_opts(cql_session *s, const cql_session_opts *o)
{
    s->o = *o;
    bool fail = false;
    s->o.keyspace = s->ks_copy = dup_or_null(o->keyspace, &fail);
    s->o.username = s->user_copy = dup_or_null(o->username, &fail);
    s->o.password = s->pass_copy = dup_or_null(o->password, &fail);
    s->o.tls_ca_file = s->ca_copy = dup_or_null(o->tls_ca_file, &fail);
    s->o.tls_cert_file = s->cert_copy = dup_or_null(o->tls_cert_file, &fail);
    s->o.tls_key_file = s->key_copy = dup_or_null(o->tls_key_file, &fail);
    s->o.contact_points = NULL;
    if (fail)
        return CE_ENOMEM;
    if (!s->o.port)
        s->o.port = 9042;
    if (s->o.connect_timeout_ms <= 0)
        s->o.connect_timeout_ms = 5000;
    if (s->o.request_timeout_ms <= 0)
        s->o.request_timeout_ms = 12000;
    if (s->o.heartbeat_interval_ms < 0)
        s->o.heartbeat_interval_ms = 0;
    if (o->protocol_version && o->protocol_version != 4 && o->protocol_version != 5) {
        cql_session_set_err(s, "protocol_version must be 4 or 5 (got %d)", o->protocol_version);
        return CE_ECONFIG;
    }
    if (!o->ncontact_points) {
        cql_session_set_err(s, "no contact points");
        return CE_ECONFIG;
    }
    return CE_OK;
}

/* The TLS context (when asked) and the resolvable contact points as hosts. */
static ce_err session_add_contacts(cql_session *s, const cql_session_opts *o)
{
    if (o->tls) {
        char err[256];
        ce_err e = cql_tls_ctx_new(&s->o, &s->ssl_ctx, err, sizeof err);
        if (e) {
            cql_session_set_err(s, "%s", err);
            return e;
        }
    }
    for (size_t i = 0; i < o->ncontact_points; i++) {
        char addr[64];
        if (!resolve(o->contact_points[i], addr, sizeof addr)) {
            ce_warn("msg=\"cannot resolve contact point\" host=%s", o->contact_points[i]);
            continue;
        }
        if (cql_session_add_host(s, addr, o->contact_points[i], s->o.port) < 0)
            return CE_ENOMEM;
    }
    if (!s->nhosts) {
        cql_session_set_err(s, "no contact point could be resolved");
        return CE_ENOHOST;
    }
    return CE_OK;
}

/* Connect to the first contact point that answers, negotiating the protocol version
 * (v5, then v4 when refused, unless one is forced); sets s->version. */
static ce_err session_first_host(cql_session *s, int forced_version)
{
    for (size_t i = 0; i < s->nhosts; i++)
        s->hosts[i].next_retry = INT64_MAX;
    ce_err last = CE_ENOHOST;
    int chosen = -1;
    for (size_t i = 0; i < s->nhosts && chosen < 0; i++) {
        int versions[2] = {forced_version ? forced_version : 5, 4};
        int nv = forced_version ? 1 : 2;
        for (int k = 0; k < nv; k++) {
            bool rejected;
            last = connect_one(s, (int)i, versions[k], &rejected);
            if (last == CE_OK) {
                s->version = versions[k];
                chosen = (int)i;
                break;
            }
            if (!rejected)
                break;
            ce_info("msg=\"cql protocol version refused, trying lower\" host=%s version=%d", s->hosts[i].addr,
                    versions[k]);
        }
        if (last == CE_EAUTH || last == CE_ETLS)
            break; /* the same on every node: do not hide it behind "no host" */
    }
    if (chosen < 0)
        return last;
    for (size_t i = 0; i < s->nhosts; i++)
        if (s->hosts[i].next_retry == INT64_MAX)
            s->hosts[i].next_retry = 0;
    return CE_OK;
}

ce_err cql_session_connect(const cql_session_opts *o, cql_session **out)
{
    *out = NULL;
    cql_session *s = calloc(1, sizeof *s);
    if (!s)
        return CE_ENOMEM;
    *out = s;
    s->control_host = -1;
    s->need_register = true;
    ce_err e = session_set_opts(s, o);
    if (!e)
        e = session_add_contacts(s, o);
    if (!e)
        e = session_first_host(s, o->protocol_version);
    if (e)
        return e;
    if (s->o.discover && cql_cluster_discover(s))
        ce_warn("msg=\"cql discovery failed; using contact points only\" err=\"%s\"", s->errmsg);
    /* bring up the other hosts now, so routing works from the first request */
    int64_t until = cql_now_ms() + s->o.connect_timeout_ms;
    for (;;) {
        bool settling = false;
        for (size_t i = 0; i < s->nhosts; i++) {
            cql_host *h = &s->hosts[i];
            if (!h->up && h->failures == 0)
                settling = true;
        }
        if (!settling || cql_now_ms() > until)
            break;
        cql_session_run(s, 50);
    }
    s->errmsg[0] = '\0';
    return CE_OK;
}

void cql_session_free(cql_session *s)
{
    if (!s)
        return;
    /* fail whatever is still queued or in flight */
    while (s->pend_head) {
        cql_future *f = s->pend_head;
        snprintf(f->errmsg, sizeof f->errmsg, "session closed");
        f->on_done = NULL;
        complete(s, f, CE_ECANCELED);
    }
    while (s->fl_head) {
        cql_future *f = s->fl_head;
        snprintf(f->errmsg, sizeof f->errmsg, "session closed");
        f->on_done = NULL;
        complete(s, f, CE_ECANCELED);
    }
    for (size_t i = 0; i < s->nhosts; i++) {
        cql_conn_free(s->hosts[i].conn);
        free(s->hosts[i].tokens);
    }
    free(s->hosts);
    free(s->ring);
    for (size_t i = 0; i < s->nrfs; i++)
        free(s->rfs[i].name);
    free(s->rfs);
    while (s->prepared) {
        cql_prepared *p = s->prepared;
        s->prepared = p->next;
        cql_prepared_free(p);
    }
    if (s->ssl_ctx)
        SSL_CTX_free(s->ssl_ctx);
    free(s->ks_copy);
    free(s->user_copy);
    if (s->pass_copy)
        explicit_bzero(s->pass_copy, strlen(s->pass_copy));
    free(s->pass_copy);
    free(s->ca_copy);
    free(s->cert_copy);
    free(s->key_copy);
    free(s);
}
