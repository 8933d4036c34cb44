/*
 * bulk.c - the bulk indexing pipeline (the hot path).
 *
 * Documents are written straight into the NDJSON body of the request being filled
 * (action line by jsonw, document line by the caller); per item we keep only the
 * offsets of its lines and the caller's tag. A request is sent when it reaches
 * max_docs or max_bytes (the item that crosses max_bytes moves to the next
 * request), with up to `concurrency` requests in flight: commit drives curl
 * without blocking and blocks only while every slot is taken.
 *
 * When a response arrives (bulk_done, inside es_http_drive) each item gets its
 * final outcome through on_result, except retryable ones (429, 503, rejected
 * execution, ...), which are copied into a new request holding only them and
 * resent after an exponential backoff with jitter. A whole request that fails
 * (transport error after the transport's own retries, 5xx, a malformed answer, an
 * item count that differs) is retried as a whole up to max_retries; 413 splits the
 * request in two, and a one-document request answered 413 is that document rejected
 * ("too large: 413 ...": the caller dead-letters it and moves on). Nothing is reported OK unless the server said so; a resent item
 * whose 409 names the very version it carries counts as OK (an earlier attempt,
 * cut off by a timeout or a dropped connection, was applied).
 */
#include "es/es_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/jsonw.h"
#include "util/log.h"

typedef struct {
    size_t off;     /* start of the action line */
    size_t doc_off; /* start of the document line (== end for deletes) */
    size_t end;     /* one past the last newline */
    uint64_t tag;
    int64_t version; /* external version sent, -1 when none */
} bulk_item;

typedef struct bulk_req bulk_req;
struct bulk_req {
    es_req http;
    es_bulk *owner;
    ce_buf body;
    bulk_item *items;
    size_t nitems, cap;
    int attempt;          /* resend round: 0 for a first send */
    size_t *retry;        /* indexes of items to resend, filled while parsing */
    size_t nretry, cap_retry;
    bool busy;
    bulk_req *next_free;
};

struct es_bulk {
    es_client *c;
    es_bulk_opts o;
    char *path;
    bulk_req *cur;
    bulk_req **all;
    size_t nall, cap_all;
    bulk_req *free_list;
    int inflight;
    bool open;            /* index_begin without commit/abort */
    size_t open_off, open_doc_off;
    int64_t open_version;
    unsigned since_drive;
    char *head_index, *head_type; /* the index action head kept in `head` is for these */
    ce_buf head;
    es_bulk_stats st;
    ce_err err;
    char errmsg[512];
};

void es_bulk_opts_init(es_bulk_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_bytes = ES_BULK_MAX_BYTES_DEFAULT;
    o->max_docs = ES_BULK_MAX_DOCS_DEFAULT;
    o->concurrency = ES_BULK_CONCURRENCY_DEFAULT;
}

static void bulk_set_error(es_bulk *b, ce_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void bulk_set_error(es_bulk *b, ce_err e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->errmsg, sizeof b->errmsg, fmt, ap);
    va_end(ap);
    if (!b->err)
        b->err = e;
}

ce_err es_bulk_new(es_client *c, const es_bulk_opts *o, es_bulk **out)
{
    *out = NULL;
    es_bulk *b = calloc(1, sizeof *b);
    if (!b)
        return CE_ENOMEM;
    b->c = c;
    b->o = *o;
    if (b->o.max_bytes == 0)
        b->o.max_bytes = ES_BULK_MAX_BYTES_DEFAULT;
    if (b->o.max_docs == 0)
        b->o.max_docs = ES_BULK_MAX_DOCS_DEFAULT;
    if (b->o.concurrency <= 0)
        b->o.concurrency = ES_BULK_CONCURRENCY_DEFAULT;
    ce_buf p = CE_BUF_INIT;
    ce_err e = ce_buf_append_str(&p, "/_bulk?filter_path=errors,items.*._id,items.*.status,"
                                      "items.*.error");
    if (!e && o->refresh)
        e = ce_buf_printf(&p, "&refresh=%s", strcmp(o->refresh, "wait_for") == 0 ? "wait_for" : "true");
    b->path = e ? NULL : ce_buf_steal(&p, NULL);
    ce_buf_free(&p);
    b->o.refresh = NULL;
    if (!b->path) {
        free(b);
        return CE_ENOMEM;
    }
    *out = b;
    return CE_OK;
}

static bulk_req *req_acquire(es_bulk *b)
{
    bulk_req *r = b->free_list;
    if (r) {
        b->free_list = r->next_free;
        r->next_free = NULL;
        return r;
    }
    if (b->nall == b->cap_all) {
        size_t nc = b->cap_all ? b->cap_all * 2 : 8;
        bulk_req **na = realloc(b->all, nc * sizeof *na);
        if (!na)
            return NULL;
        b->all = na;
        b->cap_all = nc;
    }
    r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    es_req_init(&r->http);
    ce_buf_init(&r->body, 0);
    r->owner = b;
    b->all[b->nall++] = r;
    return r;
}

static void req_release(es_bulk *b, bulk_req *r)
{
    ce_buf_reset(&r->body);
    r->nitems = 0;
    r->nretry = 0;
    r->attempt = 0;
    r->busy = false;
    /* Large buffers are not kept around beyond twice the request cap. */
    if (r->body.cap > 2 * b->o.max_bytes + 65536) {
        ce_buf_free(&r->body);
    }
    ce_buf_reset(&r->http.resp);
    ce_buf_reset(&r->http.gz);
    r->next_free = b->free_list;
    b->free_list = r;
}

static ce_err req_push_item(bulk_req *r, size_t off, size_t doc_off, size_t end, uint64_t tag,
                            int64_t version)
{
    if (r->nitems == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 256;
        bulk_item *ni = realloc(r->items, nc * sizeof *ni);
        if (!ni)
            return CE_ENOMEM;
        r->items = ni;
        r->cap = nc;
    }
    r->items[r->nitems++] = (bulk_item){off, doc_off, end, tag, version};
    return CE_OK;
}

static void report(es_bulk *b, const bulk_req *r, size_t i, es_item_status s, int http_status,
                   const char *id, const char *type, const char *reason, int64_t cur)
{
    const bulk_item *it = &r->items[i];
    switch (s) {
    case ES_ITEM_OK: b->st.items_ok++; break;
    case ES_ITEM_CONFLICT: b->st.items_conflict++; break;
    case ES_ITEM_REJECTED: b->st.items_rejected++; break;
    case ES_ITEM_FAILED: b->st.items_failed++; break;
    }
    if (!b->o.on_result)
        return;
    es_bulk_item_result res = {
        .tag = it->tag,
        .status = s,
        .http_status = http_status,
        .id = id ? id : "",
        .error_type = type,
        .error_reason = reason,
        .current_version = cur,
        .doc = it->doc_off < it->end ? r->body.data + it->doc_off : NULL,
        .doc_len = it->doc_off < it->end ? it->end - it->doc_off - 1 : 0,
    };
    b->o.on_result(&res, b->o.ud);
}

static void report_all_failed(es_bulk *b, bulk_req *r, int http_status, const char *type,
                              const char *reason)
{
    for (size_t i = 0; i < r->nitems; i++)
        report(b, r, i, ES_ITEM_FAILED, http_status, "", type, reason, -1);
}

static void bulk_done(es_req *h, void *ud);

/* Submit a filled request. Blocks (driving I/O) while all slots are taken unless
 * `no_wait` (resends from inside a completion, which frees its own slot). */
static void req_send(es_bulk *b, bulk_req *r, int delay_ms, bool no_wait)
{
    if (r->nitems == 0) {
        req_release(b, r);
        return;
    }
    if (!no_wait && b->inflight >= b->o.concurrency) {
        double t0 = ce_mono_s();
        while (b->inflight >= b->o.concurrency) {
            ce_err e = es_http_drive(b->c, 200);
            if (e) {
                bulk_set_error(b, e, "bulk: driving requests failed: %s", ce_strerror(e));
                break;
            }
        }
        b->st.wait_s += ce_mono_s() - t0;
    }
    es_req *h = &r->http;
    h->method = "POST";
    ce_buf_reset(&h->path);
    ce_err e = ce_buf_append_str(&h->path, b->path);
    h->body = r->body.data;
    h->body_len = r->body.len;
    h->ndjson = true;
    h->retry_status = true;
    h->delay_ms = delay_ms;
    h->done = bulk_done;
    h->ud = r;
    if (!e)
        e = es_http_submit(b->c, h);
    if (e) {
        bulk_set_error(b, e, "bulk: cannot send request: %s", ce_strerror(e));
        report_all_failed(b, r, 0, "client_error", "cannot send the request");
        req_release(b, r);
        return;
    }
    r->busy = true;
    b->inflight++;
    b->st.requests++;
    b->st.bytes_sent += r->body.len;
}

/* Copy the items listed in idx (n of them) of r into a new request and send it later. */
static void resend(es_bulk *b, bulk_req *r, const size_t *idx, size_t n, int attempt)
{
    bulk_req *nr = req_acquire(b);
    ce_err e = nr ? CE_OK : CE_ENOMEM;
    for (size_t k = 0; k < n && !e; k++) {
        const bulk_item *it = &r->items[idx[k]];
        size_t base = nr->body.len;
        e = ce_buf_append(&nr->body, r->body.data + it->off, it->end - it->off);
        if (!e)
            e = req_push_item(nr, base, base + (it->doc_off - it->off), base + (it->end - it->off),
                              it->tag, it->version);
    }
    if (e) {
        bulk_set_error(b, e, "bulk: out of memory preparing a resend");
        for (size_t k = 0; k < n; k++)
            report(b, r, idx[k], ES_ITEM_FAILED, 0, "", "client_error", "out of memory", -1);
        if (nr)
            req_release(b, nr);
        return;
    }
    nr->attempt = attempt;
    b->st.retries += n;
    int delay = es_backoff_ms(b->c, attempt);
    ce_info("msg=\"es bulk resend\" items=%zu attempt=%d delay_ms=%d", n, attempt, delay);
    req_send(b, nr, delay, true);
}

static void resend_all(es_bulk *b, bulk_req *r, int attempt)
{
    size_t *idx = malloc(r->nitems * sizeof *idx);
    if (!idx) {
        bulk_set_error(b, CE_ENOMEM, "bulk: out of memory preparing a resend");
        report_all_failed(b, r, 0, "client_error", "out of memory");
        return;
    }
    for (size_t i = 0; i < r->nitems; i++)
        idx[i] = i;
    resend(b, r, idx, r->nitems, attempt);
    free(idx);
}

static void on_item(size_t i, es_item_status st, int http_status, const char *id,
                    const char *type, const char *reason, int64_t cur, void *ud)
{
    bulk_req *r = ud;
    es_bulk *b = r->owner;
    if (st == ES_ITEM_FAILED && r->attempt < b->c->opts.max_retries) {
        if (r->nretry == r->cap_retry) {
            size_t nc = r->cap_retry ? r->cap_retry * 2 : 64;
            size_t *nrt = realloc(r->retry, nc * sizeof *nrt);
            if (nrt) {
                r->retry = nrt;
                r->cap_retry = nc;
            }
        }
        if (r->nretry < r->cap_retry) {
            r->retry[r->nretry++] = i;
            return;
        }
    }
    if (st == ES_ITEM_CONFLICT && cur >= 0 && cur == r->items[i].version &&
        (r->attempt > 0 || r->http.attempts > 1)) {
        /* A resend after a timeout or a dropped connection finds the version it carries:
         * the earlier attempt was applied. The server confirms the state we asked for. */
        st = ES_ITEM_OK;
        type = reason = NULL;
        http_status = 200;
        cur = -1;
    }
    if (st == ES_ITEM_FAILED)
        bulk_set_error(b, CE_EPARTIAL, "bulk: item %s failed after retries: %s: %s", id,
                       type ? type : "error", reason ? reason : "");
    report(b, r, i, st, http_status, id, type, reason, cur);
}

/* The _id of item i, read back from its action line (into out; "" when it has none). */
static void action_id(const bulk_req *r, size_t i, char *out, size_t n)
{
    const bulk_item *it = &r->items[i];
    json_error_t je;
    json_t *a = json_loadb(r->body.data + it->off, it->doc_off - it->off, JSON_DISABLE_EOF_CHECK, &je);
    const char *id = json_string_value(json_object_get(json_object_iter_value(json_object_iter(a)), "_id"));
    snprintf(out, n, "%s", id ? id : "");
    json_decref(a);
}

/* A one-document request answered 413: a document the server will never take, a
 * poison item to dead-letter, not a failed request. */
static void report_too_large(es_bulk *b, bulk_req *r)
{
    char why[160], id[520];
    snprintf(why, sizeof why, "too large: 413 from the server for a one-document request of %zu bytes",
             r->body.len);
    action_id(r, 0, id, sizeof id);
    ce_warn("msg=\"es bulk document too large\" bytes=%zu", r->body.len);
    report(b, r, 0, ES_ITEM_REJECTED, 413, id, "too_large", why, -1);
}

static void bulk_done(es_req *h, void *ud)
{
    bulk_req *r = ud;
    es_bulk *b = r->owner;
    b->inflight--;
    r->busy = false;
    int maxr = b->c->opts.max_retries;
    if (h->err) {
        /* The transport already retried connection errors and failed over. */
        bulk_set_error(b, h->err, "bulk: %s", h->errmsg);
        ce_warn("msg=\"es bulk request failed\" items=%zu error=%s", r->nitems, ES_LOGQ(h->errmsg));
        report_all_failed(b, r, 0, "transport_error", h->errmsg);
    } else if (h->status == 200) {
        r->nretry = 0;
        ce_err e = es_bulk_parse_response(h->resp.data, h->resp.len, r->nitems, on_item, r);
        if (e) {
            ce_warn("msg=\"es bulk response unusable\" items=%zu error=%s bytes=%zu",
                    r->nitems, ce_errname(e), h->resp.len);
            if (r->attempt < maxr) {
                resend_all(b, r, r->attempt + 1);
            } else {
                bulk_set_error(b, e, "bulk: unusable response (%s) after %d attempts",
                               ce_strerror(e), r->attempt + 1);
                report_all_failed(b, r, 200, "bad_response", "the bulk response could not be used");
            }
        } else if (r->nretry) {
            resend(b, r, r->retry, r->nretry, r->attempt + 1);
        }
    } else if (h->status == 413 && r->nitems > 1) {
        size_t half = r->nitems / 2;
        size_t *idx = malloc(r->nitems * sizeof *idx);
        if (!idx) {
            report_all_failed(b, r, 413, "client_error", "out of memory");
        } else {
            for (size_t i = 0; i < r->nitems; i++)
                idx[i] = i;
            ce_warn("msg=\"es bulk request too large, splitting\" items=%zu", r->nitems);
            resend(b, r, idx, half, r->attempt);
            resend(b, r, idx + half, r->nitems - half, r->attempt);
            free(idx);
        }
    } else if (h->status == 413 && r->nitems == 1) {
        report_too_large(b, r);
    } else if (h->status >= 500 && h->status != 501 && r->attempt < maxr &&
               !(h->status == 503 || h->status == 502 || h->status == 504)) {
        /* 500 and friends: the transport does not retry them; a bulk resend is safe
         * because versions are external (an applied item comes back as a conflict). */
        resend_all(b, r, r->attempt + 1);
    } else {
        char what[64];
        snprintf(what, sizeof what, "bulk request (%zu items)", r->nitems);
        es_client_set_http_error(b->c, what, h->status, &h->resp);
        bulk_set_error(b, h->status == 401 || h->status == 403 ? CE_EAUTH : CE_EHTTP, "%s",
                       b->c->errmsg);
        ce_warn("msg=\"es bulk request rejected\" status=%ld items=%zu", h->status, r->nitems);
        char type[32];
        snprintf(type, sizeof type, "http_%ld", h->status);
        report_all_failed(b, r, (int)h->status, type, b->c->errmsg);
    }
    req_release(b, r);
}

void es_bulk_free(es_bulk *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nall; i++) {
        bulk_req *r = b->all[i];
        if (r->busy)
            es_http_cancel(b->c, &r->http);
        es_req_free(&r->http);
        ce_buf_free(&r->body);
        free(r->items);
        free(r->retry);
        free(r);
    }
    free(b->all);
    free(b->path);
    free(b->head_index);
    free(b->head_type);
    ce_buf_free(&b->head);
    free(b);
}

/* The part of an action line up to the id: {"index":{"_index":"i"[,"_type":"t"] */
static ce_err write_action_head(ce_buf *o, const char *action, const char *index, const char *type,
                                bool has_types)
{
    ce_err e = ce_buf_append_str(o, action);
    if (!e)
        e = jsonw_raw(o, "\"_index\":", 9);
    if (!e)
        e = jsonw_cstr(o, index);
    if (!e && has_types) {
        /* Elasticsearch 6 wants a type on every action; "_doc" is its 6.x default. */
        e = jsonw_raw(o, ",\"_type\":", 9);
        if (!e)
            e = jsonw_cstr(o, type ? type : "_doc");
    }
    return e;
}

/* The rest: [,"_id":"..."][,"version":N,"version_type":"external"]}}\n */
static ce_err write_action_tail(ce_buf *o, const char *id, size_t id_len, es_version_type vt, int64_t version)
{
    ce_err e = CE_OK;
    if (id) {
        e = jsonw_raw(o, ",\"_id\":", 7);
        if (!e)
            e = jsonw_string(o, id, id_len);
    }
    if (!e && vt != ES_VERSION_NONE) {
        e = jsonw_raw(o, ",\"version\":", 11);
        if (!e)
            e = jsonw_int64(o, version);
        if (!e)
            e = vt == ES_VERSION_EXTERNAL_GTE
                    ? jsonw_raw(o, ",\"version_type\":\"external_gte\"", 30)
                    : jsonw_raw(o, ",\"version_type\":\"external\"", 26);
    }
    if (!e)
        e = jsonw_raw(o, "}}\n", 3);
    return e;
}

ce_err es_bulk_write_action(ce_buf *o, const char *action, const char *index, const char *type,
                           const char *id, size_t id_len, es_version_type vt, int64_t version,
                           bool has_types)
{
    ce_err e = write_action_head(o, action, index, type, has_types);
    return e ? e : write_action_tail(o, id, id_len, vt, version);
}

ce_buf *es_bulk_index_begin(es_bulk *b, const char *index, const char *type, const char *id,
                            size_t id_len, es_version_type vt, int64_t version)
{
    if (b->open)
        es_bulk_abort(b);
    if (!index)
        return NULL;
    if (!b->cur && !(b->cur = req_acquire(b)))
        return NULL;
    ce_buf *o = &b->cur->body;
    size_t off = o->len;
    /* the head of an index action is the same for every document of an index: kept */
    if (!b->head_index || strcmp(b->head_index, index) != 0 ||
        (b->head_type ? !type || strcmp(b->head_type, type) != 0 : type != NULL)) {
        free(b->head_index);
        free(b->head_type);
        b->head_index = strdup(index);
        b->head_type = type ? strdup(type) : NULL;
        ce_buf_reset(&b->head);
        if (!b->head_index || (type && !b->head_type) ||
            write_action_head(&b->head, "{\"index\":{", index, type, b->c->caps.has_types)) {
            free(b->head_index);
            b->head_index = NULL;
            return NULL;
        }
    }
    if (ce_buf_append(o, b->head.data, b->head.len) || write_action_tail(o, id, id_len, vt, version)) {
        o->len = off;
        return NULL;
    }
    b->open = true;
    b->open_off = off;
    b->open_doc_off = o->len;
    b->open_version = vt == ES_VERSION_NONE ? -1 : version;
    return o;
}

void es_bulk_abort(es_bulk *b)
{
    if (!b->open)
        return;
    b->cur->body.len = b->open_off;
    b->open = false;
}

/* After an item was added: send when full, else let curl progress now and then. */
static ce_err after_add(es_bulk *b)
{
    bulk_req *r = b->cur;
    if (r->nitems >= b->o.max_docs || r->body.len >= b->o.max_bytes) {
        if (r->body.len > b->o.max_bytes && r->nitems > 1) {
            /* The last item crossed the cap: it starts the next request. */
            bulk_req *n = req_acquire(b);
            if (!n)
                return CE_ENOMEM;
            bulk_item last = r->items[r->nitems - 1];
            if (ce_buf_append(&n->body, r->body.data + last.off, last.end - last.off) ||
                req_push_item(n, 0, last.doc_off - last.off, last.end - last.off, last.tag,
                              last.version)) {
                req_release(b, n);
                return CE_ENOMEM;
            }
            r->nitems--;
            r->body.len = last.off;
            b->cur = n;
            req_send(b, r, 0, false);
            if (n->nitems >= b->o.max_docs || n->body.len >= b->o.max_bytes) {
                b->cur = NULL;
                req_send(b, n, 0, false);
            }
        } else {
            b->cur = NULL;
            req_send(b, r, 0, false);
        }
        b->since_drive = 0;
    } else if (b->inflight && ++b->since_drive >= 64) {
        b->since_drive = 0;
        es_http_drive(b->c, 0);
    }
    return CE_OK;
}

ce_err es_bulk_commit(es_bulk *b, uint64_t tag)
{
    if (!b->open)
        return CE_EINVAL;
    ce_buf *o = &b->cur->body;
    size_t dl = o->len - b->open_doc_off;
    if (dl == 0 || memchr(o->data + b->open_doc_off, '\n', dl)) {
        es_bulk_abort(b);
        return CE_EINVAL; /* an empty document or a raw newline would break NDJSON */
    }
    ce_err e = ce_buf_append_byte(o, '\n');
    if (!e)
        e = req_push_item(b->cur, b->open_off, b->open_doc_off, o->len, tag, b->open_version);
    if (e) {
        es_bulk_abort(b);
        return e;
    }
    b->open = false;
    return after_add(b);
}

ce_err es_bulk_delete(es_bulk *b, const char *index, const char *type, const char *id,
                      size_t id_len, es_version_type vt, int64_t version, uint64_t tag)
{
    if (b->open)
        es_bulk_abort(b);
    if (!index || !id)
        return CE_EINVAL;
    if (!b->cur && !(b->cur = req_acquire(b)))
        return CE_ENOMEM;
    ce_buf *o = &b->cur->body;
    size_t off = o->len;
    ce_err e = es_bulk_write_action(o, "{\"delete\":{", index, type, id, id_len, vt, version,
                            b->c->caps.has_types);
    if (!e)
        e = req_push_item(b->cur, off, o->len, o->len, tag, vt == ES_VERSION_NONE ? -1 : version);
    if (e) {
        o->len = off;
        return e;
    }
    return after_add(b);
}

ce_err es_bulk_finish(es_bulk *b)
{
    if (b->open)
        es_bulk_abort(b);
    if (b->cur) {
        bulk_req *r = b->cur;
        b->cur = NULL;
        req_send(b, r, 0, false);
    }
    while (b->inflight > 0) {
        ce_err e = es_http_drive(b->c, 1000);
        if (e) {
            bulk_set_error(b, e, "bulk: driving requests failed: %s", ce_strerror(e));
            break;
        }
    }
    ce_err e = b->err;
    b->err = CE_OK;
    return e;
}

const char *es_bulk_errmsg(const es_bulk *b) { return b->errmsg; }

void es_bulk_get_stats(const es_bulk *b, es_bulk_stats *out) { *out = b->st; }
