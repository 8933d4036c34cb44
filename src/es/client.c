/*
 * client.c - es_client: options, lifetime, server detection and the blocking
 * request helpers the other files build on.
 *
 * es_client_new normalizes the base URLs, prepares the curl multi handle and the
 * authorization header (kept out of every log), warns about an unchecked TLS peer and
 * credentials over plain http, then asks GET / what the server is (GET /_nodes/_local
 * where / is not served) and computes the capabilities (es_caps) the rest of the
 * module reads: the version rules of detect.c, and on OpenSearch the plugin list for
 * k-NN. Secrets (password, API key, bearer token, URL user information) are
 * overwritten when the client is freed.
 */
#include "es/es_int.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

void es_client_opts_init(es_client_opts *o)
{
    memset(o, 0, sizeof *o);
    o->connect_timeout_ms = ES_CONNECT_TIMEOUT_MS_DEFAULT;
    o->request_timeout_ms = ES_REQUEST_TIMEOUT_MS_DEFAULT;
    o->max_retries = ES_MAX_RETRIES_DEFAULT;
    o->retry_base_ms = ES_RETRY_BASE_MS_DEFAULT;
    o->gzip = true;
    o->max_response_bytes = ES_RESPONSE_MAX_DEFAULT;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

void es_client_set_error(es_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
}

void es_client_set_http_error(es_client *c, const char *what, long status, const ce_buf *resp)
{
    const char *type = NULL, *reason = NULL;
    json_t *root = NULL;
    if (resp && resp->len) {
        json_error_t jerr;
        root = json_loadb(resp->data, resp->len, 0, &jerr);
        json_t *err = json_object_get(root, "error");
        if (json_is_object(err)) {
            json_t *rc = json_array_get(json_object_get(err, "root_cause"), 0);
            type = json_string_value(json_object_get(err, "type"));
            reason = json_string_value(json_object_get(err, "reason"));
            if (!reason && rc)
                reason = json_string_value(json_object_get(rc, "reason"));
        } else if (json_is_string(err)) {
            reason = json_string_value(err);
        }
    }
    if (type || reason)
        es_client_set_error(c, "%s: HTTP %ld: %s: %s", what, status, type ? type : "error",
                            reason ? reason : "");
    else if (resp && resp->len)
        es_client_set_error(c, "%s: HTTP %ld: %.200s", what, status, resp->data);
    else
        es_client_set_error(c, "%s: HTTP %ld", what, status);
    json_decref(root);
}

static char *dup_opt(const char *s, bool *fail)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *fail = true;
    return d;
}

/* Overwrite a secret before freeing it (volatile: the stores are not optimized away). */
static void free_secret(char *s)
{
    if (!s)
        return;
    volatile char *p = s;
    while (*p)
        *p++ = 0;
    free(s);
}

/* "Authorization: <scheme> <secret>" in one exact allocation (no stray copies). */
static char *auth_header_new(const char *scheme, const char *secret)
{
    size_t n = strlen("Authorization: ") + strlen(scheme) + 1 + strlen(secret) + 1;
    char *h = malloc(n);
    if (h)
        snprintf(h, n, "Authorization: %s %s", scheme, secret);
    return h;
}

/* A 401/403 answer during detection: the credentials were refused. */
static ce_err detect_refused(es_client *c, const char *what, long st, const ce_buf *resp)
{
    if (st != 401 && st != 403)
        return CE_OK;
    es_client_set_http_error(c, what, st, resp);
    return CE_EAUTH;
}

/* GET / (GET /_nodes/_local where / is not served) -> c->caps.flavor and c->version. */
static ce_err detect_version(es_client *c)
{
    ce_buf resp = CE_BUF_INIT;
    long st = 0;
    ce_err e = es_client_request(c, "GET", "/", NULL, 0, &st, &resp);
    if (!e)
        e = detect_refused(c, "GET /", st, &resp);
    if (e || (st == 200 && es_detect_parse_root(resp.data, resp.len, &c->caps.flavor, c->version,
                                                sizeof c->version) == CE_OK))
        goto out;
    ce_buf_reset(&resp);
    e = es_client_request(c, "GET",
                          "/_nodes/_local?filter_path=nodes.*.version,nodes.*.build_flavor,"
                          "nodes.*.distribution",
                          NULL, 0, &st, &resp);
    if (!e)
        e = detect_refused(c, "GET /_nodes/_local", st, &resp);
    if (!e && st != 200) {
        es_client_set_http_error(c, "server detection (GET / and GET /_nodes/_local)", st, &resp);
        e = CE_EHTTP;
    }
    if (!e && es_detect_parse_nodes(resp.data, resp.len, &c->caps.flavor, c->version,
                                    sizeof c->version) != CE_OK) {
        es_client_set_error(c, "server detection: no version in GET /_nodes/_local");
        e = CE_EPROTO;
    }
out:
    ce_buf_free(&resp);
    return e;
}

/* OpenSearch: does the server list the k-NN plugin? A refusal or an answer we cannot
 * read means no (vectors are then mapped as float arrays); a transport failure fails
 * the detection. */
static ce_err detect_plugins(es_client *c)
{
    ce_buf resp = CE_BUF_INIT;
    long st = 0;
    ce_err e = es_client_request(c, "GET", "/_cat/plugins?format=json&h=component", NULL, 0, &st,
                                 &resp);
    if (!e) {
        bool knn = false;
        ce_err pe = st == 200 ? es_detect_parse_plugins(resp.data, resp.len, &knn) : CE_EHTTP;
        c->caps.knn_plugin = pe == CE_OK && knn;
        if (pe)
            ce_info("msg=\"es plugin list not readable, assuming no k-NN plugin\" status=%ld", st);
    }
    ce_buf_free(&resp);
    return e;
}

static ce_err client_detect(es_client *c)
{
    ce_err e = detect_version(c);
    if (e)
        return e;
    int major = 0, minor = 0;
    es_version_split(c->version, &major, &minor); /* the parsers checked it */
    es_caps_from_version(c->caps.flavor, major, minor, &c->caps);
    if (c->caps.flavor == ES_FLAVOR_OPENSEARCH)
        e = detect_plugins(c);
    return e;
}

/* Copy the options the client keeps (strings duplicated, defaults for unset numbers). */
static ce_err client_copy_opts(es_client *c, const es_client_opts *o)
{
    bool fail = false;
    c->opts = *o;
    c->opts.urls = NULL;
    c->opts.username = dup_opt(o->username, &fail);
    c->opts.password = dup_opt(o->password, &fail);
    c->opts.api_key = NULL;      /* kept only inside auth_header */
    c->opts.bearer_token = NULL; /* likewise */
    c->opts.tls_ca_file = dup_opt(o->tls_ca_file, &fail);
    c->opts.tls_cert_file = dup_opt(o->tls_cert_file, &fail);
    c->opts.tls_key_file = dup_opt(o->tls_key_file, &fail);
    if (c->opts.connect_timeout_ms <= 0)
        c->opts.connect_timeout_ms = ES_CONNECT_TIMEOUT_MS_DEFAULT;
    if (c->opts.request_timeout_ms <= 0)
        c->opts.request_timeout_ms = ES_REQUEST_TIMEOUT_MS_DEFAULT;
    if (c->opts.max_retries < 0)
        c->opts.max_retries = 0;
    if (c->opts.retry_base_ms <= 0)
        c->opts.retry_base_ms = ES_RETRY_BASE_MS_DEFAULT;
    c->gzip = o->gzip;
    if (o->api_key || o->bearer_token) {
        c->auth_header = o->api_key ? auth_header_new("ApiKey", o->api_key)
                                    : auth_header_new("Bearer", o->bearer_token);
        fail |= !c->auth_header;
    }
    if (fail) {
        es_client_set_error(c, "out of memory");
        return CE_ENOMEM;
    }
    return CE_OK;
}

static ce_err client_set_urls(es_client *c, const es_client_opts *o)
{
    if (!o->urls || o->nurls == 0) {
        es_client_set_error(c, "no Elasticsearch/OpenSearch URL given");
        return CE_ECONFIG;
    }
    c->urls = calloc(o->nurls, sizeof *c->urls);
    c->url_loopback = calloc(o->nurls, sizeof *c->url_loopback);
    if (!c->urls || !c->url_loopback)
        return CE_ENOMEM;
    for (size_t i = 0; i < o->nurls; i++) {
        c->urls[i] = o->urls[i] ? es_url_normalize(o->urls[i]) : NULL;
        if (!c->urls[i]) {
            es_client_set_error(c, "invalid URL #%zu", i + 1);
            return CE_ECONFIG;
        }
        c->url_loopback[i] = es_url_is_loopback(c->urls[i]);
        c->nurls++;
    }
    return CE_OK;
}

/* Warnings at every client creation: no certificate check, credentials in clear text. */
static void client_warn_security(const es_client *c, const es_client_opts *o)
{
    if (o->tls_no_verify)
        ce_warn("msg=\"es TLS certificate verification is off (tls_no_verify): the server's "
                "identity is not checked\"");
    bool creds = o->username || o->api_key || o->bearer_token;
    for (size_t i = 0; i < c->nurls; i++) {
        if (!(creds || es_url_has_userinfo(c->urls[i])) || strncasecmp(c->urls[i], "http://", 7))
            continue;
        char red[256];
        es_url_redact(c->urls[i], red, sizeof red);
        ce_warn("msg=\"es credentials sent without TLS\" url=%s", ES_LOGQ(red));
    }
}

static void client_log_connected(const es_client *c)
{
    const es_caps *k = &c->caps;
    char red[256];
    es_url_redact(c->urls[0], red, sizeof red);
    ce_info("msg=\"es connected\" url=%s flavor=%s version=%s types=%d pit=%d "
            "shard_doc_sort=%d track_total_hits=%d knn_plugin=%d seq_no=%d",
            ES_LOGQ(red), k->flavor == ES_FLAVOR_OPENSEARCH ? "opensearch" : "elasticsearch", c->version,
            (int)k->has_types, (int)k->pit, (int)k->shard_doc_sort, (int)k->track_total_hits,
            (int)k->knn_plugin, (int)k->seq_no);
}

ce_err es_client_new(const es_client_opts *o, es_client **out)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    es_json_arena_init(); /* jansson's hooks in place before the client's threads exist */
    es_client *c = calloc(1, sizeof *c);
    if (!c)
        return CE_ENOMEM;
    *out = c;
    c->rng = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)c;
    if (!c->rng)
        c->rng = 0x9E3779B97F4A7C15ULL;
    ce_err e = client_copy_opts(c, o);
    if (!e)
        e = client_set_urls(c, o);
    if (e)
        return e;
    client_warn_security(c, o);
    c->multi = curl_multi_init();
    c->cap_idle = 16;
    c->idle = calloc(c->cap_idle, sizeof *c->idle);
    if (!c->multi || !c->idle) {
        es_client_set_error(c, "out of memory");
        return CE_ENOMEM;
    }
    e = client_detect(c);
    if (e) {
        if (!c->errmsg[0])
            es_client_set_error(c, "server detection failed: %s", ce_strerror(e));
        return e;
    }
    client_log_connected(c);
    return CE_OK;
}

void es_client_free(es_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nidle; i++)
        curl_easy_cleanup(c->idle[i]);
    free(c->idle);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    for (size_t i = 0; i < c->nurls; i++)
        free_secret(c->urls[i]); /* may carry user:pass@ */
    free(c->urls);
    free(c->url_loopback);
    free_secret((char *)c->opts.username);
    free_secret((char *)c->opts.password);
    free_secret(c->auth_header);
    free((char *)c->opts.tls_ca_file);
    free((char *)c->opts.tls_cert_file);
    free((char *)c->opts.tls_key_file);
    free(c);
}

const char *es_client_errmsg(const es_client *c) { return c ? c->errmsg : "no client"; }
size_t es_client_response_max(const es_client *c)
{
    return c->opts.max_response_bytes ? c->opts.max_response_bytes : ES_RESPONSE_MAX_DEFAULT;
}
const es_caps *es_client_caps(const es_client *c) { return &c->caps; }

void es_client_retries(const es_client *c, uint64_t out[ES_RETRY_CAUSES])
{
    for (int i = 0; i < ES_RETRY_CAUSES; i++)
        out[i] = atomic_load_explicit(&c->retries[i], memory_order_relaxed);
}
es_flavor es_client_flavor(const es_client *c) { return c->caps.flavor; }
int es_client_major_version(const es_client *c) { return c->caps.major; }
bool es_client_has_types(const es_client *c) { return c->caps.has_types; }
const char *es_client_version(const es_client *c) { return c->version; }

ce_err es_client_request(es_client *c, const char *method, const char *path, const char *body,
                         size_t body_len, long *status, ce_buf *resp)
{
    es_req r;
    es_req_init(&r);
    r.method = method;
    r.body = body;
    r.body_len = body ? body_len : 0;
    /* An empty answer buffer of the caller's receives the answer itself (its memory kept
     * from earlier requests: no copy, no growth); else the answer is appended to it. */
    bool direct = resp && resp->len == 0 && resp->off == 0;
    if (direct) {
        size_t max = r.resp.max;
        ce_buf_free(&r.resp);
        r.resp = *resp;
        r.resp.max = max;
        *resp = (ce_buf)CE_BUF_INIT;
    }
    ce_err e = ce_buf_append_str(&r.path, path);
    if (!e)
        e = es_http_run(c, &r);
    if (e) {
        es_client_set_error(c, "%s", r.errmsg[0] ? r.errmsg : ce_strerror(e));
    } else if (status) {
        *status = r.status;
    }
    if (direct) { /* the buffer (and the answer, when there is one) goes back to the caller */
        size_t max = resp->max;
        *resp = r.resp;
        resp->max = max;
        if (e)
            ce_buf_reset(resp);
        r.resp = (ce_buf)CE_BUF_INIT;
    } else if (!e && resp) {
        e = ce_buf_append(resp, r.resp.data, r.resp.len);
    }
    es_req_free(&r);
    return e;
}

ce_err es_client_json(es_client *c, const char *method, const char *path, const char *body,
                      long *status, json_t **out)
{
    ce_buf resp = CE_BUF_INIT;
    *out = NULL;
    ce_err e = es_client_request(c, method, path, body, body ? strlen(body) : 0, status, &resp);
    if (!e && resp.len) {
        json_error_t jerr;
        *out = json_loadb(resp.data, resp.len, 0, &jerr);
        if (!*out && *status >= 200 && *status < 300) {
            es_client_set_error(c, "%s %s: malformed JSON answer: %s", method, path, jerr.text);
            e = CE_EJSON;
        }
    }
    ce_buf_free(&resp);
    return e;
}

ce_err es_path_escape(ce_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    ce_err e = CE_OK;
    for (size_t i = 0; i < n && !e; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == '*' || ch == ',') {
            e = ce_buf_append_byte(b, ch);
        } else {
            char t[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            e = ce_buf_append(b, t, 3);
        }
    }
    return e;
}
