/*
 * es_int.h - internals shared by the files of the es module (not part of the public API).
 *
 * The transport (http.c) runs requests described by es_req on one curl multi handle:
 * submit them, drive the multi handle, and each request's `done` callback fires once
 * with its final outcome (after transport-level retries and failover). Blocking calls
 * are a loop over the same machine (es_http_wait). The other files (detect, bulk,
 * search, indices) build requests and interpret answers.
 */
#ifndef CE_ES_INT_H
#define CE_ES_INT_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <jansson.h>

#include "es/es.h"
#include "util/buf.h"
#include "util/log.h"

/* A log value from outside (a server's text, an index name, a URL) quoted and escaped for
 * logfmt (ce_log_quote) in a buffer living as long as the statement's block: the argument
 * of a bare %s (key=%s). */
#define ES_LOGQ(s) ce_log_quote((char[CE_LOG_QUOTE_MAX]){0}, CE_LOG_QUOTE_MAX, (s))

typedef struct es_req es_req;
typedef void (*es_req_done_fn)(es_req *r, void *ud);

struct es_req {
    /* ---- input, set by the caller before es_http_submit */
    const char *method;        /* static string: "GET", "POST", "PUT", "DELETE", "HEAD" */
    ce_buf path;               /* owned: path and query string, starting with '/' */
    const char *body;          /* borrowed; must stay valid until done */
    size_t body_len;
    bool ndjson;               /* Content-Type application/x-ndjson instead of JSON */
    bool retry_status;         /* retry 429/502/503/504 answers (default true) */
    bool no_gzip;              /* never compress this body */
    int delay_ms;              /* wait this long before the first attempt */
    es_req_done_fn done;       /* may be NULL for blocking use */
    void *ud;

    /* ---- output, valid when done fires */
    long status;               /* last HTTP status, 0 when none was received */
    ce_buf resp;               /* response body of the last attempt */
    ce_err err;                /* CE_OK when an HTTP answer was received */
    char errmsg[512];          /* transport error text (no credentials) */
    int attempts;              /* attempts made */
    bool finished;

    /* ---- transport state */
    CURL *easy;
    struct curl_slist *hdrs;
    ce_buf gz;                 /* gzip copy of body when compressing */
    bool gz_on;                /* this attempt sends gz */
    bool gz_probe;             /* plain resend after a gzip refusal */
    int url_idx;
    int conn_fail_round;       /* consecutive connection failures (for failover) */
    uint64_t due_ms;           /* start time while waiting */
    uint64_t start_ms;
    es_req *next_wait;         /* wait list link */
    bool waiting, running;
};

struct es_client {
    es_client_opts opts;
    char **urls;               /* normalized base URLs without trailing '/' */
    bool *url_loopback;        /* per URL: host is localhost / 127.x / ::1 */
    size_t nurls;
    int url_cur;
    CURLM *multi;
    CURL **idle;               /* pool of easy handles for reuse (keep-alive) */
    size_t nidle, cap_idle;
    int running;               /* requests attached to the multi handle */
    es_req *wait_head;         /* requests waiting for their start time */
    struct curl_slist *auth_hdr_list; /* never logged */
    char *auth_header;         /* "Authorization: ..." (api key or bearer); never logged */
    bool gzip;                 /* compress request bodies (may be turned off on refusal) */
    uint64_t rng;
    char version[64];          /* as reported: "8.17.0" */
    es_caps caps;              /* filled at detection (es_client_caps); every flavor or
                                * version difference is read from here */
    _Atomic uint64_t retries[ES_RETRY_CAUSES]; /* es_client_retries; bumped by http.c */
    char errmsg[512];
};

/* ---- http.c */
void es_req_init(es_req *r);
/* Reset outputs and transport state so the request can be submitted again; keeps buffers. */
void es_req_reset(es_req *r);
void es_req_free(es_req *r);
/* Set the path with printf formatting. */
ce_err es_req_set_path(es_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Queue a request (starts at once unless delay_ms). The request must stay alive until done. */
ce_err es_http_submit(es_client *c, es_req *r);
/* Make progress: non-blocking when wait_ms is 0, else waits up to wait_ms for activity.
 * Completion callbacks run inside. */
ce_err es_http_drive(es_client *c, int wait_ms);
/* Submit and block until r is finished (other requests progress too). */
ce_err es_http_run(es_client *c, es_req *r);
/* Detach a request that is running or waiting, without calling done. */
void es_http_cancel(es_client *c, es_req *r);
/* Requests submitted and not finished (running or waiting to start). */
int es_http_pending(const es_client *c);
/* Backoff delay in ms for the given attempt (1-based), with jitter. */
int es_backoff_ms(es_client *c, int attempt);
uint64_t es_now_ms(void);
/* Normalize one base URL: "host" -> "http://host:9200", "host:port" -> "http://host:port",
 * trailing '/' dropped. Returns a malloc'd string or NULL. */
char *es_url_normalize(const char *in);
/* True when a normalized URL's host is localhost, 127.x.x.x or [::1]. */
bool es_url_is_loopback(const char *url);

/* ---- redact.c (es_url_redact is public) */
/* Where the host starts in a URL: past "scheme://" and past "user:pass@" when present. */
const char *es_url_host(const char *url);
/* True when the URL carries user information ("user:pass@"). */
bool es_url_has_userinfo(const char *url);

/* ---- gzip.c: gzip (RFC 1952) one buffer into out (appended). */
ce_err es_gzip(const char *in, size_t n, ce_buf *out, int level);

/* ---- detect.c: parse GET / and GET /_nodes/_local bodies (codecs). */
ce_err es_detect_parse_root(const char *body, size_t len, es_flavor *flavor, char *version,
                            size_t version_n);
ce_err es_detect_parse_nodes(const char *body, size_t len, es_flavor *flavor, char *version,
                             size_t version_n);
/* Split "8.17.0" into major/minor; returns false when not a version. */
bool es_version_split(const char *v, int *major, int *minor);
/* The capabilities a flavor and version have (pure; knn_plugin is left false: the
 * server's plugin list decides it). */
void es_caps_from_version(es_flavor flavor, int major, int minor, es_caps *out);
/* Parse GET /_cat/plugins?format=json: *knn when a row's component is the OpenSearch
 * k-NN plugin. CE_EJSON / CE_EPROTO (and *knn false) when the body is not a JSON array. */
ce_err es_detect_parse_plugins(const char *body, size_t len, bool *knn);

/* ---- client.c */
void es_client_set_error(es_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copy the server's error type and reason from an error body into c->errmsg with a prefix. */
void es_client_set_http_error(es_client *c, const char *what, long status, const ce_buf *resp);
/* Blocking JSON request with parsing: *out gets the parsed body (may be NULL if none). */
ce_err es_client_json(es_client *c, const char *method, const char *path, const char *body,
                      long *status, json_t **out);

/* ---- bulk.c: one action line ({"index":{...}}\n) for `action` = "{\"index\":{" or
 * "{\"delete\":{"; _type only when has_types (type, or "_doc" when NULL); _id only when id. */
ce_err es_bulk_write_action(ce_buf *o, const char *action, const char *index, const char *type,
                            const char *id, size_t id_len, es_version_type vt, int64_t version,
                            bool has_types);

/* ---- json_exact.c: JSON from Elasticsearch without losing digits (codec, no I/O). */
/* Step over the one value starting at p[*pos] (leading white space skipped): strings
 * closed and brackets matched, nothing more (the value's parser judges the rest).
 * On success *pos is just past the value; false when the text ends first or a bracket
 * does not match. stack is scratch (the open brackets), left as it was. */
bool es_json_skip(const char *p, size_t n, size_t *pos, ce_buf *stack);
/* True when jansson holds the JSON number t[0..n) exactly: an integer within int64, or a
 * real of at most 15 significant digits (trailing zeros count) well inside a double's range. */
bool es_json_number_exact(const char *t, size_t n);
/* The length of the JSON number at t[0..n) (RFC 8259 grammar); 0 when there is none. */
size_t es_json_number_len(const char *t, size_t n);
/* Append p[0..n) to out, every number that es_json_number_exact refuses written as a
 * JSON string of the same digits. CE_ENOMEM when out cannot grow. */
ce_err es_json_copy_exact(const char *p, size_t n, ce_buf *out);
/* ---- json_load.c: the value p[0..n) (any JSON value, alone) as json_loadb would read
 * es_json_copy_exact(p, n): a new reference, or NULL with err->text saying why (what
 * jansson refuses is refused). scratch is working space. */
json_t *es_json_load_exact(const char *p, size_t n, ce_buf *scratch, json_error_t *err);

/* ---- json_arena.c: jansson's allocations of one page parse cut from one arena. */
typedef struct es_json_arena es_json_arena;
/* Install jansson's allocation hooks (once; later calls do nothing). Called early, by
 * es_client_new before any pass thread starts, so that no parse races the switch;
 * es_json_arena_open calls it too. */
void es_json_arena_init(void);
/* From now until es_json_arena_close on this thread, jansson allocates from a new arena;
 * its values may be freed on any thread, the memory goes back when the last one is. NULL
 * (plain malloc, nothing to close) when an arena is already open on this thread, when
 * arenas are off (sanitizer builds) or out of memory. */
es_json_arena *es_json_arena_open(void);
/* Stop allocating from a (NULL: no-op); it lives on while its values do. */
void es_json_arena_close(es_json_arena *a);

/* ---- search_parse.c: the answers of a read (codecs, no I/O). */
enum {
    ES_PAGE_LEAN = 1,      /* filter_path answer: a missing hits array means no hits */
    ES_PAGE_NEED_SORT = 2  /* search_after read: the last hit must carry "sort" values */
};

typedef struct {
    json_t *root;          /* the parsed answer; owns everything below */
    json_t *hits;          /* array of hit objects (_id, _source, ...; maybe empty) */
    const char *scroll_id; /* "_scroll_id", NULL when absent */
    const char *pit_id;    /* "pit_id" (the server may renew it), NULL when absent */
    json_t *last_sort;     /* the last hit's "sort" array; NULL without hits or sort */
    int64_t total;         /* hits.total (a number or {"value":n}); -1 when absent */
    int shards_failed;     /* _shards.failed when the page was refused for it */
    char error[384];       /* why the page was refused (no prefix) */
} es_search_page;

/* Parse the 200 answer of a search, scroll or PIT search page into *out. On success
 * the caller owns out->root (es_search_page_free). On failure nothing is kept (root
 * NULL), out->error says why and the result is CE_EJSON (not JSON), CE_EPROTO
 * (malformed: no hits array, a hit not an object, missing sort values with
 * ES_PAGE_NEED_SORT), CE_ESERVER (failed shards) or CE_ENOMEM. */
ce_err es_search_page_parse(const char *body, size_t len, unsigned flags, es_search_page *out);
/* Make hit a stand-in: es_hit_error then gives why (copied). CE_ENOMEM. */
ce_err es_hit_set_error(json_t *hit, const char *why);
/* The client's response limit in bytes (max_response_bytes, the default filled in). */
size_t es_client_response_max(const es_client *c);
/* Release a page and reset it (total -1). NULL and an unparsed page are fine. */
void es_search_page_free(es_search_page *p);
/* The id of a point in time just opened: the string under id_key ("id" on
 * Elasticsearch, "pit_id" on OpenSearch) as a new string (caller frees).
 * CE_EJSON / CE_EPROTO (no or empty id) / CE_ENOMEM, *id NULL then. */
ce_err es_search_parse_pit_open(const char *body, size_t len, const char *id_key, char **id);
/* True for a 404 whose error type is index_not_found_exception (or absent). */
bool es_answer_is_index_not_found(long status, const char *body, size_t len);

/* ---- query.c: write the "query" value of an es_query (codec). */
ce_err es_query_write(ce_buf *b, const es_query *q);

/* Append a path segment percent-encoded (index names, ids). */
ce_err es_path_escape(ce_buf *b, const char *s, size_t n);

#endif
