/*
 * es.h - public face of the casselastic Elasticsearch / OpenSearch client.
 *
 * Built on libcurl's multi interface (several requests in flight, keep-alive,
 * gzip request bodies when accepted, timeouts, failover across base URLs) and
 * jansson for parsing responses. Files:
 *   http      transport: curl multi handles, retries, failover, auth headers, TLS
 *   client    options, lifetime, detection of the server's capabilities (es_caps)
 *   detect    GET / (or GET /_nodes/_local) -> flavor, version, capability rules (codec)
 *   bulk      NDJSON builder writing straight into a reusable buffer
 *   bulk_parse  the _bulk answer (codec)
 *   search    structured queries, PIT + search_after (scroll fallback), slices: requests
 *   search_parse  one search / scroll / PIT page answer (codec)
 *   indices   exists/create/mapping/refresh/temporary settings
 *   seqnos    per-shard global checkpoints and primary terms of an index (and their codec)
 *   redact    credentials out of URLs for logs and error texts
 *
 * Conventions: opaque handles; ce_err returns; detail text via es_client_errmsg;
 * credentials never appear in logs or error texts; `_free(NULL)` is a no-op.
 * A client is used from one thread at a time.
 */
#ifndef CE_ES_H
#define CE_ES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/buf.h"
#include "util/err.h"

/* A jansson value (jansson.h: typedef struct json_t json_t): JSON values cross this
 * interface as this pointer, without including jansson here. */
struct json_t;

typedef struct es_client es_client;

/*
 * Defaults, in one place. Where an option is 0 (or negative for the int ones) the caller
 * did not say, and the value below applies. The configuration's defaults
 * (src/cli/config_keys.c) are the source and the same numbers (tests/unit/test_config.c
 * checks those that have a key); the es layer takes its sizes from its caller and uses
 * these only as the fallback.
 */
#define ES_PAGE_SIZE_DEFAULT 2000          /* hits per search page (config es_page_size) */
#define ES_PAGE_SIZE_MAX 10000             /* the servers' default index.max_result_window */
#define ES_KEEP_ALIVE_S_DEFAULT 120        /* PIT / scroll keep-alive */
#define ES_BULK_MAX_BYTES_DEFAULT (5u << 20) /* config bulk_max_bytes */
#define ES_BULK_MAX_DOCS_DEFAULT 5000      /* config bulk_max_docs */
#define ES_BULK_CONCURRENCY_DEFAULT 2      /* config bulk_concurrency */
#define ES_CONNECT_TIMEOUT_MS_DEFAULT 5000
#define ES_REQUEST_TIMEOUT_MS_DEFAULT 60000 /* config elasticsearch.request_timeout_ms */
#define ES_MAX_RETRIES_DEFAULT 8
#define ES_RETRY_BASE_MS_DEFAULT 100
#define ES_RESPONSE_MAX_DEFAULT ((size_t)1 << 30) /* the largest answer kept (1 GiB) */

typedef enum { ES_FLAVOR_UNKNOWN = 0, ES_FLAVOR_ELASTICSEARCH, ES_FLAVOR_OPENSEARCH } es_flavor;

typedef struct {
    const char *const *urls;   /* "http://127.0.0.1:9200"; a bare "localhost" means http://localhost:9200 */
    size_t nurls;
    const char *username, *password; /* basic auth; credentials (these, the API key, the
                                      * bearer token or URL user information) towards an
                                      * http:// URL log a warning at creation */
    const char *api_key;             /* "Authorization: ApiKey <key>" */
    const char *bearer_token;        /* "Authorization: Bearer <token>" */
    const char *tls_ca_file;
    const char *tls_cert_file, *tls_key_file;
    bool tls_no_verify;              /* default false; true logs a warning at every creation */
    int connect_timeout_ms;          /* default 5000 */
    int request_timeout_ms;          /* default 60000 */
    int max_retries;                 /* default 8: retryable items and requests */
    int retry_base_ms;               /* default 100: exponential backoff with jitter */
    bool gzip;                       /* default true: compress request bodies */
    bool gzip_loopback;              /* default false: no compression towards localhost /
                                      * 127.x / ::1, where it costs CPU and saves nothing */
    size_t max_response_bytes;       /* default ES_RESPONSE_MAX_DEFAULT: a longer answer is
                                      * cut off and its request fails with CE_ELIMIT (a search
                                      * page is then read again smaller, es_search_next) */
} es_client_opts;

void es_client_opts_init(es_client_opts *o);

/* Create a client and detect the server and its capabilities (blocking; logs them as
 * "es connected"). The options' strings are copied. On failure *out is still set when
 * possible so es_client_errmsg explains; free it in every case. */
ce_err es_client_new(const es_client_opts *o, es_client **out);
/* Free the client; its copies of the secrets are overwritten first. NULL is a no-op. */
void es_client_free(es_client *c);
/* Detail text of the last failure (never a credential); never NULL. */
const char *es_client_errmsg(const es_client *c);
/* Version string as reported ("8.17.0"). */
const char *es_client_version(const es_client *c);
/* Shorthands for es_client_caps(c)->flavor, ->major and ->has_types. */
es_flavor es_client_flavor(const es_client *c);
int es_client_major_version(const es_client *c);
bool es_client_has_types(const es_client *c);

/*
 * What the connected server can do, computed once at detection and read by search, bulk,
 * indices and the mapping code: every flavor/version difference is a field here, never a
 * version test or an error-text match elsewhere.
 */
typedef struct {
    es_flavor flavor;
    int major, minor;
    bool has_types;          /* mapping types (Elasticsearch <= 6) */
    bool pit;                /* point in time (ES >= 7.10, OpenSearch >= 2.4) */
    bool shard_doc_sort;     /* "_shard_doc" PIT tiebreaker (ES >= 7.12); else sort on _id */
    bool track_total_hits;   /* search accepts track_total_hits (ES >= 7, OpenSearch) */
    bool knn_plugin;         /* OpenSearch k-NN plugin (listed by GET /_cat/plugins):
                                index.knn and knn_vector mappings are accepted */
    bool seq_no;             /* hits can carry _seq_no/_primary_term (ES >= 6.7, OpenSearch) */
    int dense_vector_max_dims; /* the most dims of an indexed dense_vector mapping (ES >= 8:
                                  4096); 0: the server has no such mapping */
} es_caps;

/* The capabilities of the connected server; owned by the client, valid until es_client_free. */
const es_caps *es_client_caps(const es_client *c);

/* Requests the client sent again on its own, by cause: ES_RETRY_429 a 429 answer,
 * ES_RETRY_5XX a 502/503/504 answer, ES_RETRY_CONNECTION a transport failure (refused,
 * reset, timed out, name not resolved; a failover to the next URL included). A bulk's own
 * re-sending of items is counted apart (es_bulk_stats.retries). */
typedef enum { ES_RETRY_429 = 0, ES_RETRY_5XX, ES_RETRY_CONNECTION, ES_RETRY_CAUSES } es_retry_cause;
/* The counts since es_client_new into out (monotonic; any thread may read them). */
void es_client_retries(const es_client *c, uint64_t out[ES_RETRY_CAUSES]);

/* Generic request (blocking, with retry/failover on connection errors and 429/502/503/504).
 * path starts with '/'; body may be NULL. *status gets the HTTP status; resp (if not NULL)
 * receives the response body. Any HTTP status is CE_OK here: callers judge status. */
ce_err es_client_request(es_client *c, const char *method, const char *path, const char *body,
                         size_t body_len, long *status, ce_buf *resp);

/* ---------------------------------------------------------------- bulk */

typedef enum {
    ES_ITEM_OK = 0,        /* created/updated (201/200) or deleted */
    ES_ITEM_CONFLICT,      /* 409: the server already holds this or a newer version */
    ES_ITEM_REJECTED,      /* 4xx that will not change on retry: mapping/parse errors */
    ES_ITEM_FAILED         /* retryable error that exhausted retries; NOT done */
} es_item_status;

typedef struct {
    uint64_t tag;          /* caller's tag from es_bulk_commit */
    es_item_status status;
    int http_status;
    const char *id;        /* _id; valid during the callback */
    const char *error_type;   /* e.g. "mapper_parsing_exception"; NULL when ok */
    const char *error_reason;
    int64_t current_version;  /* for conflicts when the server reports it; else -1 */
    const char *doc;       /* the document line as sent (for dead letters); not NUL-terminated */
    size_t doc_len;
} es_bulk_item_result;

typedef void (*es_bulk_result_fn)(const es_bulk_item_result *r, void *ud);

typedef enum { ES_VERSION_NONE = 0, ES_VERSION_EXTERNAL, ES_VERSION_EXTERNAL_GTE } es_version_type;

typedef struct {
    size_t max_bytes;        /* per request; 0: ES_BULK_MAX_BYTES_DEFAULT */
    size_t max_docs;         /* per request; 0: ES_BULK_MAX_DOCS_DEFAULT */
    int concurrency;         /* requests in flight; <= 0: ES_BULK_CONCURRENCY_DEFAULT */
    const char *refresh;     /* NULL, "true", "wait_for" */
    es_bulk_result_fn on_result;   /* called once per item with its final outcome, from
                                    * inside es_bulk_commit/_delete/_finish (or any call that
                                    * drives the client's I/O); it must not call es_bulk_* on
                                    * the same bulk. For OK items id comes from the answer. */
    void *ud;
} es_bulk_opts;

typedef struct es_bulk es_bulk;

/* Zero the options and set the ES_BULK_*_DEFAULT sizes. */
void es_bulk_opts_init(es_bulk_opts *o);
ce_err es_bulk_new(es_client *c, const es_bulk_opts *o, es_bulk **out);
/* Frees buffers; items not yet flushed are dropped (call es_bulk_finish first). */
void es_bulk_free(es_bulk *b);

/*
 * Start an index action for `index` (and `type` when non-NULL and the server has types),
 * id, external version (ignored for ES_VERSION_NONE). Returns the buffer into which the
 * caller writes the document's JSON object (one line, no newline) and then calls
 * es_bulk_commit or es_bulk_abort. NULL on allocation failure.
 */
ce_buf *es_bulk_index_begin(es_bulk *b, const char *index, const char *type, const char *id,
                            size_t id_len, es_version_type vt, int64_t version);
/* Finish the document started by es_bulk_index_begin. May send a full request (and
 * drive I/O of requests in flight); item outcomes arrive through on_result. */
ce_err es_bulk_commit(es_bulk *b, uint64_t tag);
/* Drop the document started by es_bulk_index_begin. */
void es_bulk_abort(es_bulk *b);
/* Delete action with an external version (a delete with an older version is a 409). */
ce_err es_bulk_delete(es_bulk *b, const char *index, const char *type, const char *id,
                      size_t id_len, es_version_type vt, int64_t version, uint64_t tag);
/* Send what is buffered and wait for every request in flight (retries included).
 * CE_OK when every item got a final outcome through on_result (even rejected ones);
 * an error when a request could not be completed: its items were reported ES_ITEM_FAILED. */
ce_err es_bulk_finish(es_bulk *b);
const char *es_bulk_errmsg(const es_bulk *b);

typedef struct {
    uint64_t requests, items_ok, items_conflict, items_rejected, items_failed, retries;
    uint64_t bytes_sent;
    double wait_s;          /* time commit/finish spent blocked on requests in flight */
} es_bulk_stats;
void es_bulk_get_stats(const es_bulk *b, es_bulk_stats *out);

/*
 * Parse one _bulk response body (codec, no I/O). For each item i (in request order)
 * calls fn(i, status, http_status, id, error_type, reason, current_version, ud).
 * Retryable items (429, 503, 502, 504, es_rejected_execution_exception) get status
 * ES_ITEM_FAILED so the caller can retry them. CE_EJSON/CE_EPROTO on malformed or
 * truncated input, and when the item count differs from expected_items; never a
 * false success.
 */
typedef void (*es_bulk_parse_fn)(size_t i, es_item_status st, int http_status, const char *id,
                                 const char *error_type, const char *reason,
                                 int64_t current_version, void *ud);
ce_err es_bulk_parse_response(const char *body, size_t len, size_t expected_items,
                              es_bulk_parse_fn fn, void *ud);

/* ---------------------------------------------------------------- search */

/* Structured query: every field optional; combined with AND. Numbers are int64 (the
 * window columns are Unix ms versions or dates as epoch ms). */
typedef struct {
    const char *range_field;       /* NULL = no range */
    bool has_gte, has_lt;
    int64_t gte, lt;               /* [gte, lt) */
    bool range_is_date;            /* send "format":"epoch_millis" */
    const char *must_not_field;    /* with must_not_value: exclude docs whose field == value */
    const char *must_not_value;
} es_query;

typedef struct {
    const char *index;
    es_query query;
    const char *sort_field;        /* primary sort; NULL = _doc / _shard_doc order */
    size_t page_size;              /* hits per page; 0 = the caller did not say:
                                      ES_PAGE_SIZE_DEFAULT; at most ES_PAGE_SIZE_MAX */
    int keep_alive_s;              /* PIT/scroll keep-alive; <= 0: ES_KEEP_ALIVE_S_DEFAULT */
    bool refresh_first;            /* POST /<index>/_refresh before reading; default true */
    int slice_id, slice_max;       /* slice_max > 1 for sliced reads */
    bool force_scroll;             /* tests: use the scroll path */
    bool unordered;                /* every hit once, order irrelevant, no sort_field: use the
                                      cheapest consistent read. On OpenSearch (no _shard_doc
                                      tiebreaker: PIT pages would sort on _id, visiting every
                                      match per page) that is scroll sorted by _doc. */
    bool lean;                     /* hits without _version (no version lookups); no
                                      filter_path either: it would re-render _source and
                                      round long decimals (docs/json.md) */
    const char *preference;        /* NULL, or sent as ?preference= (e.g. "_shards:2"); not
                                      with a point in time: such a read is a scroll or a
                                      sort_unique read */
    bool sort_unique;              /* sort_field is unique among the hits (as _seq_no within
                                      one shard): pages continue by search_after on it alone,
                                      without a point in time or scroll; each page sees the
                                      index as it is then, which the caller's query must
                                      make harmless */
} es_search_opts;

typedef struct es_search es_search;

/* Zero the options: page_size 0 (ES_PAGE_SIZE_DEFAULT applies), the default keep-alive,
 * refresh_first true. */
void es_search_opts_init(es_search_opts *o);
/* Open a read (PIT + search_after, or scroll on servers without PIT). */
ce_err es_search_open(es_client *c, const es_search_opts *o, es_search **out);
/* Next page of hits as a jansson array of hit objects with
 * _id, _source, _version (when known). *hits is borrowed: valid until the next call or
 * close. An empty array (size 0) means the end. Numbers a JSON integer or double cannot
 * hold exactly come as strings of the same digits (docs/json.md). A hit that cannot be
 * read alone is a stand-in for which es_hit_error gives the reason; so is a hit alone over
 * the client's response limit (read without its _source, on search_after reads). A page
 * over that limit is asked again with half the hits, down to one; a scroll page that
 * cannot shrink ends the scroll and the read starts again sorted on _id by search_after,
 * so hits already handed out come again (the caller's writes must be idempotent). */
ce_err es_search_next(es_search *s, struct json_t **hits);
/* Why the hit of a page could not be read: a string owned by the hit, or NULL
 * for a hit read whole. A stand-in carries the hit's _id and sort values when those read. */
const char *es_hit_error(const struct json_t *hit);
/* Close the PIT/scroll (always, also after errors) and free. NULL is a no-op. */
void es_search_close(es_search *s);
/* Total number of hits if known, else -1. */
int64_t es_search_total(const es_search *s);
/* Pages read again with half the hits (answers over the response limit) so far; NULL: 0. */
size_t es_search_page_shrinks(const es_search *s);

/* ---------------------------------------------------------------- indices */

/* Where each shard of an index stands in its sequence numbers (es_index_seqnos_get). */
typedef struct {
    int64_t global_checkpoint;     /* the primary's: every in-sync copy processed every
                                      operation up to it (-1: none yet) */
    int64_t primary_term;          /* from the cluster state; a new one = a new primary */
} es_shard_seqno;

typedef struct {
    char uuid[64];                 /* the index's UUID: a re-created index has a new one */
    size_t nshards;
    es_shard_seqno *shards;        /* nshards, owned; free with es_index_seqnos_free */
} es_index_seqnos;

/* The UUID, shard count, and per shard global checkpoint and primary term of one concrete
 * index (or an alias of exactly one): GET /_cluster/state/metadata/<index>, then
 * GET /<index>/_stats?level=shards. CE_ENOTFOUND when the index does not exist; CE_EPROTO
 * (text in es_client_errmsg) when the answers do not tell every shard (a primary not
 * started) or name several indices. *out is zeroed first; free it in every case. */
ce_err es_index_seqnos_get(es_client *c, const char *index, es_index_seqnos *out);
/* The codec of es_index_seqnos_get: the cluster state answer and the shard stats answer
 * (filtered or not) -> *out. CE_EJSON / CE_EPROTO with the reason in why (n bytes). */
ce_err es_index_seqnos_parse(const char *state, size_t state_len, const char *stats, size_t stats_len,
                             es_index_seqnos *out, char *why, size_t n);
/* Release out->shards and zero *out. NULL is a no-op. */
void es_index_seqnos_free(es_index_seqnos *s);

/* CE_OK and *exists. */
ce_err es_index_exists(es_client *c, const char *index, bool *exists);
/* Create with a body {"settings":..., "mappings":...} (may be NULL). An index that
 * already exists is CE_OK with *created = false (created may be NULL). */
ce_err es_index_create(es_client *c, const char *index, const char *body, bool *created);
ce_err es_index_delete(es_client *c, const char *index);
/* The mapping's "properties" object of the index as a new jansson object (the caller
 * json_decref's it). Works on typed (ES <= 6) and typeless mappings. */
ce_err es_index_get_properties(es_client *c, const char *index, struct json_t **properties);
/* Add fields: body is a {"properties":{...}} object. */
ce_err es_index_put_mapping(es_client *c, const char *index, const char *type, const char *body);
ce_err es_index_refresh(es_client *c, const char *index);
/* Number of documents (GET /<index>/_count; searchable ones: refresh first for all). */
ce_err es_index_doc_count(es_client *c, const char *index, int64_t *count);
/* Number of searchable documents without a value in `field` (POST /<index>/_count with
 * must_not exists): the documents a read by a range of that field never sees. */
ce_err es_index_count_missing(es_client *c, const char *index, const char *field, int64_t *count);

/* Temporary bulk-load settings: refresh_interval -1 and number_of_replicas 0, with the
 * previous values saved in *saved (caller frees with es_index_settings_free) so that
 * es_index_restore_settings puts them back (call it also after a failure). */
typedef struct es_index_settings es_index_settings;
ce_err es_index_bulk_load_begin(es_client *c, const char *index, es_index_settings **saved);
ce_err es_index_restore_settings(es_client *c, const char *index, const es_index_settings *saved);
void es_index_settings_free(es_index_settings *s);

/* Copy a URL without its "user:pass@" (for logs and error texts) into out, truncated to
 * n - 1 bytes and NUL-terminated (n > 0). User information ends at the last '@' of the
 * authority, so a password with an unencoded '@' goes whole. */
void es_url_redact(const char *url, char *out, size_t n);

#endif
