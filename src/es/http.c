/*
 * http.c - the transport of the es client: libcurl multi interface, one state
 * machine per request (waiting -> running -> finished), retries and failover.
 *
 * Requests (es_req) are attached to one curl multi handle, so several can be in
 * flight; easy handles are pooled and connections stay in the multi handle's
 * cache (keep-alive). An attempt that fails at the connection level moves the
 * client to the next base URL and is retried (at once while untried URLs remain,
 * then with exponential backoff and jitter); 429/502/503/504 answers are retried
 * with backoff when the request allows it. Bodies >= 1 KiB are gzip-compressed
 * while the client believes the server accepts it; a gzip request refused with
 * 400/415/500 is resent plain once, and when the plain copy is accepted the
 * client stops compressing. Every attempt is logged at debug level with method,
 * redacted URL, status and duration; credentials are never logged.
 */
#include "es/es_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/log.h"
#include "util/clock.h"

#define ES_GZIP_MIN_BYTES 1024
#define ES_BACKOFF_CAP_MS 30000

uint64_t es_now_ms(void)
{
    return (uint64_t)ce_mono_ms();
}

void es_req_init(es_req *r)
{
    memset(r, 0, sizeof *r);
    ce_buf_init(&r->path, 0);
    ce_buf_init(&r->resp, ES_RESPONSE_MAX_DEFAULT);
    ce_buf_init(&r->gz, 0);
    r->method = "GET";
    r->retry_status = true;
}

void es_req_reset(es_req *r)
{
    ce_buf_reset(&r->resp);
    ce_buf_reset(&r->gz);
    r->status = 0;
    r->err = CE_OK;
    r->errmsg[0] = '\0';
    r->attempts = 0;
    r->finished = false;
    r->gz_on = r->gz_probe = false;
    r->conn_fail_round = 0;
    r->waiting = r->running = false;
    r->next_wait = NULL;
}

void es_req_free(es_req *r)
{
    if (!r)
        return;
    ce_buf_free(&r->path);
    ce_buf_free(&r->resp);
    ce_buf_free(&r->gz);
    if (r->hdrs)
        curl_slist_free_all(r->hdrs);
    r->hdrs = NULL;
}

ce_err es_req_set_path(es_req *r, const char *fmt, ...)
{
    ce_buf_reset(&r->path);
    va_list ap;
    va_start(ap, fmt);
    ce_err e = ce_buf_vprintf(&r->path, fmt, ap);
    va_end(ap);
    if (!e && !ce_buf_cstr(&r->path))
        e = CE_ENOMEM;
    return e;
}

int es_backoff_ms(es_client *c, int attempt)
{
    int base = c->opts.retry_base_ms > 0 ? c->opts.retry_base_ms : ES_RETRY_BASE_MS_DEFAULT;
    uint64_t d = (uint64_t)base;
    for (int i = 1; i < attempt && d < ES_BACKOFF_CAP_MS; i++)
        d *= 2;
    if (d > ES_BACKOFF_CAP_MS)
        d = ES_BACKOFF_CAP_MS;
    /* xorshift64* for jitter: delay in [d/2, d]. */
    uint64_t x = c->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    uint64_t rnd = x * 0x2545F4914F6CDD1DULL;
    uint64_t half = d / 2;
    return (int)(half + (half ? rnd % (half + 1) : 0));
}

char *es_url_normalize(const char *in)
{
    while (*in == ' ' || *in == '\t')
        in++;
    size_t n = strlen(in);
    while (n && (in[n - 1] == ' ' || in[n - 1] == '\t' || in[n - 1] == '/'))
        n--;
    if (n == 0)
        return NULL;
    ce_buf b = CE_BUF_INIT;
    ce_err e = CE_OK;
    const char *sep = strstr(in, "://");
    if (sep && (size_t)(sep - in) < n) {
        e = ce_buf_append(&b, in, n);
    } else {
        /* Bare host[:port][/prefix]: http, default port 9200. */
        const char *hend = memchr(in, '/', n);
        size_t hl = hend ? (size_t)(hend - in) : n;
        const char *h = in;
        bool has_port;
        if (h[0] == '[') {
            const char *rb = memchr(h, ']', hl);
            has_port = rb && rb + 1 < h + hl && rb[1] == ':';
        } else {
            has_port = memchr(h, ':', hl) != NULL;
        }
        e = ce_buf_append_str(&b, "http://");
        if (!e)
            e = ce_buf_append(&b, h, hl);
        if (!e && !has_port)
            e = ce_buf_append_str(&b, ":9200");
        if (!e && hl < n)
            e = ce_buf_append(&b, h + hl, n - hl);
    }
    if (e) {
        ce_buf_free(&b);
        return NULL;
    }
    return ce_buf_steal(&b, NULL);
}

bool es_url_is_loopback(const char *url)
{
    const char *h = es_url_host(url);
    if (strncmp(h, "[::1]", 5) == 0)
        return true;
    size_t n = strcspn(h, ":/");
    if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
        return true;
    return strncmp(h, "127.", 4) == 0;
}

static size_t on_write(char *p, size_t sz, size_t nm, void *ud)
{
    es_req *r = ud;
    size_t n = sz * nm;
    if (ce_buf_append(&r->resp, p, n))
        return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
    return n;
}

static bool curl_is_retryable(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

static bool status_is_retryable(long st)
{
    return st == 429 || st == 502 || st == 503 || st == 504;
}

/* One more request sent again by the client (es_client_retries). */
static void count_retry(es_client *c, es_retry_cause cause)
{
    atomic_fetch_add_explicit(&c->retries[cause], 1, memory_order_relaxed);
}

static void wait_push(es_client *c, es_req *r, int delay_ms)
{
    r->due_ms = es_now_ms() + (uint64_t)(delay_ms > 0 ? delay_ms : 0);
    r->waiting = true;
    r->next_wait = c->wait_head;
    c->wait_head = r;
}

/* A pooled easy handle (reset) or a new one; NULL when out of memory. */
static CURL *easy_take(es_client *c)
{
    if (c->nidle) {
        CURL *h = c->idle[--c->nidle];
        curl_easy_reset(h);
        return h;
    }
    return curl_easy_init();
}

/* URL, timeouts, TLS and basic auth of one attempt. */
static ce_err easy_setup(es_client *c, es_req *r, CURL *h)
{
    r->url_idx = c->url_cur;
    ce_buf url = CE_BUF_INIT;
    ce_err e = ce_buf_append_str(&url, c->urls[c->url_cur]);
    if (!e)
        e = ce_buf_append(&url, r->path.data, r->path.len);
    const char *u = e ? NULL : ce_buf_cstr(&url);
    if (u)
        curl_easy_setopt(h, CURLOPT_URL, u);
    ce_buf_free(&url); /* curl copies the string */
    if (!u)
        return CE_ENOMEM;
    curl_easy_setopt(h, CURLOPT_PRIVATE, r);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    r->resp.max = c->opts.max_response_bytes ? c->opts.max_response_bytes : ES_RESPONSE_MAX_DEFAULT;
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->opts.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->opts.request_timeout_ms);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (c->opts.tls_ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->opts.tls_ca_file);
    if (c->opts.tls_cert_file)
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->opts.tls_cert_file);
    if (c->opts.tls_key_file)
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->opts.tls_key_file);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->opts.tls_no_verify ? 0L : 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->opts.tls_no_verify ? 0L : 2L);
    if (c->opts.username) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, c->opts.username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->opts.password ? c->opts.password : "");
    }
    return CE_OK;
}

/* Method, body (gzip copy or plain) and the header list of one attempt. */
static ce_err easy_method_body(es_client *c, es_req *r, CURL *h, struct curl_slist **hd)
{
    struct curl_slist *t;
    bool ok = true;
#define ADDH(s)                                   \
    do {                                          \
        t = curl_slist_append(*hd, (s));          \
        if (!t)                                   \
            ok = false;                           \
        else                                      \
            *hd = t;                              \
    } while (0)
    ADDH("Expect:");
    if (c->auth_header)
        ADDH(c->auth_header);
    const char *m = r->method;
    if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (r->body || strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0) {
        const char *b = r->body ? r->body : "";
        size_t bl = r->body ? r->body_len : 0;
        if (r->gz_on && c->url_loopback[r->url_idx] && !c->opts.gzip_loopback)
            r->gz_on = false; /* failed over to a loopback node */
        if (r->gz_on) {
            b = r->gz.data;
            bl = r->gz.len;
            ADDH("Content-Encoding: gzip");
        }
        ADDH(r->ndjson ? "Content-Type: application/x-ndjson" : "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bl);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, b);
        if (strcmp(m, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    } else if (strcmp(m, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    }
#undef ADDH
    return ok ? CE_OK : CE_ENOMEM;
}

static ce_err attempt_start(es_client *c, es_req *r)
{
    CURL *h = easy_take(c);
    if (!h)
        return CE_ENOMEM;
    ce_buf_reset(&r->resp);
    r->status = 0;
    struct curl_slist *hd = NULL;
    ce_err e = easy_setup(c, r, h);
    if (!e)
        e = easy_method_body(c, r, h, &hd);
    if (!e) {
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
        r->start_ms = es_now_ms();
        if (curl_multi_add_handle(c->multi, h) != CURLM_OK)
            e = CE_EIO;
    }
    if (e) {
        curl_slist_free_all(hd);
        curl_easy_cleanup(h);
        return e;
    }
    r->easy = h;
    r->hdrs = hd;
    r->running = true;
    c->running++;
    return CE_OK;
}

static void req_finish(es_req *r)
{
    r->finished = true;
    if (r->done)
        r->done(r, r->ud);
}

/* Start an attempt now; when it cannot even start, the request finishes with the error. */
static void attempt_start_or_fail(es_client *c, es_req *r)
{
    ce_err e = attempt_start(c, r);
    if (e) {
        r->err = e;
        snprintf(r->errmsg, sizeof r->errmsg, "cannot start request: %s", ce_strerror(e));
        req_finish(r);
    }
}

static void attempt_done(es_client *c, es_req *r, CURLcode rc)
{
    CURL *h = r->easy;
    long st = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    curl_multi_remove_handle(c->multi, h);
    c->running--;
    r->running = false;
    r->easy = NULL;
    if (r->hdrs) {
        curl_slist_free_all(r->hdrs);
        r->hdrs = NULL;
    }
    if (c->nidle < c->cap_idle)
        c->idle[c->nidle++] = h;
    else
        curl_easy_cleanup(h);
    r->attempts++;
    uint64_t ms = es_now_ms() - r->start_ms;
    char red[512], full[512];
    snprintf(full, sizeof full, "%s%.*s", c->urls[r->url_idx], (int)r->path.len, r->path.data);
    es_url_redact(full, red, sizeof red);
    ce_debug("msg=\"es request\" method=%s url=%s status=%ld ms=%llu bytes=%zu gzip=%d "
             "attempt=%d error=%s",
             r->method, ES_LOGQ(red), st, (unsigned long long)ms, r->gz_on ? r->gz.len : r->body_len,
             (int)r->gz_on, r->attempts, ES_LOGQ(rc ? curl_easy_strerror(rc) : ""));
    int maxr = c->opts.max_retries;

    if (rc != CURLE_OK) {
        r->status = 0;
        r->err = rc == CURLE_OPERATION_TIMEDOUT ? CE_ETIMEOUT
                 : (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
                    rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE)
                     ? CE_ETLS
                 : rc == CURLE_WRITE_ERROR ? CE_ELIMIT
                                           : CE_EIO;
        /* curl's messages carry host names, never our credentials. */
        if (r->err == CE_ELIMIT)
            snprintf(r->errmsg, sizeof r->errmsg, "%s %.300s: answer over the response limit of %zu bytes",
                     r->method, red, r->resp.max);
        else
            snprintf(r->errmsg, sizeof r->errmsg, "%s %.300s: %.150s", r->method, red, curl_easy_strerror(rc));
        if (curl_is_retryable(rc) && r->attempts <= maxr) {
            if (c->nurls > 1 && c->url_cur == r->url_idx) {
                c->url_cur = (r->url_idx + 1) % (int)c->nurls;
                ce_warn("msg=\"es node failed, failing over\" url=%s error=%s", ES_LOGQ(red),
                        ES_LOGQ(curl_easy_strerror(rc)));
            }
            r->conn_fail_round++;
            int delay = (size_t)r->conn_fail_round < c->nurls ? 0 : es_backoff_ms(c, r->attempts);
            ce_warn("msg=\"es request failed, retrying\" method=%s url=%s error=%s attempt=%d delay_ms=%d",
                    r->method, ES_LOGQ(red), ES_LOGQ(curl_easy_strerror(rc)), r->attempts, delay);
            count_retry(c, ES_RETRY_CONNECTION);
            wait_push(c, r, delay);
            return;
        }
        req_finish(r);
        return;
    }
    r->status = st;
    r->err = CE_OK;
    r->conn_fail_round = 0;
    if (r->gz_on && (st == 400 || st == 415 || st == 500)) {
        /* Maybe the server (or a proxy) does not take gzip bodies: resend plain once. */
        r->gz_on = false;
        r->gz_probe = true;
        r->attempts--;
        wait_push(c, r, 0);
        return;
    }
    if (r->gz_probe) {
        r->gz_probe = false;
        if (st != 400 && st != 415 && st != 500 && c->gzip) {
            c->gzip = false;
            ce_warn("msg=\"es server refused a gzip request body; sending plain bodies from now on\"");
        }
    }
    if (r->retry_status && status_is_retryable(st) && r->attempts <= maxr) {
        int delay = es_backoff_ms(c, r->attempts);
        ce_warn("msg=\"es request answered retryable status, retrying\" method=%s url=%s status=%ld attempt=%d delay_ms=%d",
                r->method, ES_LOGQ(red), st, r->attempts, delay);
        count_retry(c, st == 429 ? ES_RETRY_429 : ES_RETRY_5XX);
        wait_push(c, r, delay);
        return;
    }
    req_finish(r);
}

ce_err es_http_submit(es_client *c, es_req *r)
{
    es_req_reset(r);
    if (!r->path.data || r->path.len == 0 || r->path.data[0] != '/')
        return CE_EINVAL;
    bool loop = c->url_loopback[c->url_cur] && !c->opts.gzip_loopback;
    if (c->gzip && !loop && !r->no_gzip && r->body && r->body_len >= ES_GZIP_MIN_BYTES) {
        if (es_gzip(r->body, r->body_len, &r->gz, 1) == CE_OK)
            r->gz_on = true;
        else
            ce_buf_reset(&r->gz);
    }
    if (r->delay_ms > 0) {
        wait_push(c, r, r->delay_ms);
        return CE_OK;
    }
    return attempt_start(c, r);
}

/* Start the waiting requests whose time has come; returns the ms until the next one
 * (or -1 when none waits). */
static int start_due(es_client *c)
{
    uint64_t now = es_now_ms();
    int next = -1;
    es_req **pp = &c->wait_head;
    es_req *due = NULL, **due_tail = &due;
    while (*pp) {
        es_req *r = *pp;
        if (r->due_ms <= now) {
            *pp = r->next_wait;
            r->next_wait = NULL;
            r->waiting = false;
            *due_tail = r;
            due_tail = &r->next_wait;
        } else {
            int d = (int)(r->due_ms - now);
            if (next < 0 || d < next)
                next = d;
            pp = &r->next_wait;
        }
    }
    while (due) {
        es_req *r = due;
        due = r->next_wait;
        r->next_wait = NULL;
        if (r->gz_on && !c->gzip)
            r->gz_on = false;
        attempt_start_or_fail(c, r);
    }
    return next;
}

static int process_msgs(es_client *c)
{
    int n = 0, left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        es_req *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode rc = m->data.result;
        if (r)
            attempt_done(c, r, rc);
        n++;
    }
    return n;
}

ce_err es_http_drive(es_client *c, int wait_ms)
{
    int next = start_due(c);
    int still = 0;
    if (curl_multi_perform(c->multi, &still) != CURLM_OK)
        return CE_EIO;
    int done = process_msgs(c);
    if (done || wait_ms <= 0)
        return CE_OK;
    next = start_due(c);
    if (c->running == 0 && next < 0)
        return CE_OK;
    int t = wait_ms;
    if (next >= 0 && next < t)
        t = next;
    if (c->running > 0) {
        if (curl_multi_poll(c->multi, NULL, 0, t, NULL) != CURLM_OK)
            return CE_EIO;
    } else if (t > 0) {
        struct timespec ts = {t / 1000, (long)(t % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    start_due(c);
    if (curl_multi_perform(c->multi, &still) != CURLM_OK)
        return CE_EIO;
    process_msgs(c);
    return CE_OK;
}

int es_http_pending(const es_client *c)
{
    int n = c->running;
    for (const es_req *r = c->wait_head; r; r = r->next_wait)
        n++;
    return n;
}

ce_err es_http_run(es_client *c, es_req *r)
{
    ce_err e = es_http_submit(c, r);
    if (e) {
        r->err = e;
        snprintf(r->errmsg, sizeof r->errmsg, "cannot start request: %s", ce_strerror(e));
        r->finished = true;
        return e;
    }
    while (!r->finished) {
        e = es_http_drive(c, 1000);
        if (e)
            return e;
    }
    return r->err;
}

void es_http_cancel(es_client *c, es_req *r)
{
    if (r->running) {
        curl_multi_remove_handle(c->multi, r->easy);
        c->running--;
        r->running = false;
        if (c->nidle < c->cap_idle)
            c->idle[c->nidle++] = r->easy;
        else
            curl_easy_cleanup(r->easy);
        r->easy = NULL;
        if (r->hdrs) {
            curl_slist_free_all(r->hdrs);
            r->hdrs = NULL;
        }
    } else if (r->waiting) {
        for (es_req **pp = &c->wait_head; *pp; pp = &(*pp)->next_wait) {
            if (*pp == r) {
                *pp = r->next_wait;
                break;
            }
        }
        r->waiting = false;
        r->next_wait = NULL;
    }
    r->err = CE_ECANCELED;
    r->finished = true;
}
