/*
 * cql.h - public face of the casselastic Cassandra client (CQL native protocol v4/v5).
 *
 * Layers (each in its own files, codecs never touch sockets):
 *   types      cql_type descriptors (one table: type_table.h), Murmur3 tokens, identifier
 *              quoting. The JSON form of values lives in src/conv (conv/conv.h).
 *   codec      frame/envelope encode + incremental decode (v4 frames, v5 framing with
 *              CRC24/CRC32 and LZ4), message bodies, RESULT/ERROR parsing
 *   conn       one non-blocking connection: a state machine, stream ids, timeouts, TLS
 *   session    a cluster: contact points, discovery, token ring, routing, failover,
 *              prepared-statement cache; futures for pipelining; blocking helpers
 *
 * Conventions: opaque handles; every call returns ce_err (0 = CE_OK); detail text
 * stays on the object that failed (cql_session_errmsg, cql_future_errmsg);
 * `_free(NULL)` is a no-op. A session is used from one thread at a time.
 */
#ifndef CE_CQL_H
#define CE_CQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/buf.h"
#include "util/err.h"
#include "cql/type_table.h"

/* ---------------------------------------------------------------- types */

/* Kinds of CQL types: one row each in cql/type_table.h. */
typedef enum {
#define CQL_KIND_ENUM(NAME, id, cql, marshal, form, fixed, es, stem) CQL_T_##NAME = id,
    CQL_TYPE_TABLE(CQL_KIND_ENUM)
#undef CQL_KIND_ENUM
} cql_type_kind;

/* What the type table says about one kind (the columns the client reads). */
typedef struct {
    cql_type_kind kind;
    const char *name;    /* CQL name ("int", "text", "list", ...) */
    const char *marshal; /* marshal class short name ("Int32Type"); NULL for custom */
    bool scalar;         /* a value of its own (not built from type parameters) */
    int fixed_size;      /* valueLengthIfFixed, -1 = variable (vector: see cql_type_fixed_size) */
} cql_type_info;

/* The table row of a kind; NULL for a value outside the enum. Static. */
const cql_type_info *cql_type_info_of(cql_type_kind k);

/* A type tree. Owned by whoever created it (result metadata, prepared statement or
 * cql_type_parse); free with cql_type_free. */
typedef struct cql_type {
    cql_type_kind kind;
    size_t nsub;               /* list/set/vector: 1, map: 2, tuple/udt: fields */
    struct cql_type **sub;
    char **field_names;        /* udt only: nsub names */
    char *keyspace, *name;     /* udt only */
    char *custom_class;        /* custom only (including the original vector class) */
    uint32_t dimension;        /* vector only */
    bool frozen;               /* as declared in schema text; informational */
} cql_type;

void cql_type_free(cql_type *t);
/* Deep copy; NULL on allocation failure. */
cql_type *cql_type_clone(const cql_type *t);
/* Parse schema text as stored in system_schema ("frozen<map<text, int>>",
 * "vector<float, 3>", a UDT name resolved by the caller later). *out owned by caller. */
ce_err cql_type_parse(const char *text, cql_type **out);
/* CQL text of the type ("map<text, int>"), appended to b. */
ce_err cql_type_format(const cql_type *t, ce_buf *b);
/* Fixed wire size of a type's values or -1 if variable (vector elements need it). */
int cql_type_fixed_size(const cql_type *t);
/* An empty node of the given kind (no children); NULL on allocation failure. */
cql_type *cql_type_new(cql_type_kind kind);
/* Append child `sub` (and for udt a copy of field_name) to t. Takes ownership of sub
 * in every case (freed on failure). CE_ENOMEM on allocation failure. */
ce_err cql_type_add_sub(cql_type *t, cql_type *sub, const char *field_name);
/* Parse a Cassandra marshal class name as sent for custom types on the wire
 * ("org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.FloatType,3)",
 * ListType(...), MapType, SetType, TupleType, UserType(ks,hexname,hexfield:type...),
 * FrozenType, ReversedType, simple classes). Unknown classes give a CQL_T_CUSTOM node
 * holding the full text. *out owned by caller. CE_ENOMEM / CE_EINVAL on failure. */
ce_err cql_type_parse_class(const char *cls, cql_type **out);
/* CQL name of a kind ("int", "text", "list", ...); static, never NULL. */
const char *cql_type_kind_name(cql_type_kind k);

/* A bound value: len >= 0 bytes; CQL_NULL (-1) null; CQL_UNSET (-2) unset (v4+). */
#define CQL_NULL (-1)
#define CQL_UNSET (-2)
typedef struct {
    const uint8_t *ptr;
    int32_t len;
} cql_value;

/* Murmur3 token (Cassandra's Murmur3Partitioner, signed-byte tail quirk included)
 * of a serialized partition key. For composite keys pass every component: the
 * routing key is built as Cassandra does (<u16 len><bytes><0> per component). */
int64_t cql_murmur3_token(const uint8_t *key, size_t len);
ce_err cql_routing_key(const cql_value *components, size_t n, ce_buf *out);
/* Token of a partition key given as its n component values (one: hashed as is; several:
 * the routing key). false for a null/unset component or no memory. */
bool cql_partition_token(const cql_value *components, size_t n, int64_t *token);

/* Append identifier as a quoted CQL identifier: a"b -> "a""b". Every generated
 * statement quotes names through this one helper. */
ce_err cql_quote_ident(ce_buf *b, const char *ident);
/* Append identifier as Cassandra shows it: as is when it is lower case letters, digits
 * and '_' (not starting with a digit), else quoted as cql_quote_ident does. */
ce_err cql_ident_append(ce_buf *b, const char *ident);
/* Append "keyspace"."table", both quoted. */
ce_err cql_quote_table(ce_buf *b, const char *keyspace, const char *table);

/* ---------------------------------------------------------------- results */

typedef enum {
    CQL_CONSISTENCY_ANY = 0x0000,
    CQL_CONSISTENCY_ONE = 0x0001,
    CQL_CONSISTENCY_TWO = 0x0002,
    CQL_CONSISTENCY_THREE = 0x0003,
    CQL_CONSISTENCY_QUORUM = 0x0004,
    CQL_CONSISTENCY_ALL = 0x0005,
    CQL_CONSISTENCY_LOCAL_QUORUM = 0x0006,
    CQL_CONSISTENCY_EACH_QUORUM = 0x0007,
    CQL_CONSISTENCY_SERIAL = 0x0008,
    CQL_CONSISTENCY_LOCAL_SERIAL = 0x0009,
    CQL_CONSISTENCY_LOCAL_ONE = 0x000A
} cql_consistency;

/* Parse "local_quorum" etc. (case-insensitive); -1 if unknown. */
int cql_consistency_parse(const char *s);
/* Lower-case name of a consistency level ("local_quorum"); "unknown" if none. Static. */
const char *cql_consistency_name(int level);

typedef enum {
    CQL_RESULT_VOID = 1,
    CQL_RESULT_ROWS = 2,
    CQL_RESULT_SET_KEYSPACE = 3,
    CQL_RESULT_PREPARED = 4,
    CQL_RESULT_SCHEMA_CHANGE = 5
} cql_result_kind;

typedef struct cql_result cql_result; /* owns its response bytes; rows parsed in place */

void cql_result_free(cql_result *r);
cql_result_kind cql_result_kind_of(const cql_result *r);
size_t cql_result_column_count(const cql_result *r);
const char *cql_result_column_name(const cql_result *r, size_t col);
const cql_type *cql_result_column_type(const cql_result *r, size_t col);
/* Index of a column by name, or -1. */
int cql_result_column_index(const cql_result *r, const char *name);
size_t cql_result_row_count(const cql_result *r);
/* Bytes the result holds (its response body and its row index): what a memory budget
 * counts for it. */
size_t cql_result_size(const cql_result *r);
/* The cell at (row, col): bytes point into the result (valid until it is freed). */
cql_value cql_result_cell(const cql_result *r, size_t row, size_t col);
bool cql_result_has_more_pages(const cql_result *r);
/* Paging state to pass in cql_query_opts for the next page (NULL/0 if none). */
cql_value cql_result_paging_state(const cql_result *r);
/* SET_KEYSPACE / SCHEMA_CHANGE results: the keyspace named (NULL otherwise). */
const char *cql_result_keyspace(const cql_result *r);
/* SCHEMA_CHANGE results: change type ("CREATED", ...), target ("TABLE", ...) and the
 * object name ("" for keyspaces); NULL for other kinds. Strings owned by the result. */
const char *cql_result_schema_change(const cql_result *r, const char **target, const char **object);

/* Server error details, filled when a call fails with CE_ESERVER. */
typedef struct {
    int32_t code;           /* protocol error code, e.g. 0x1000 Unavailable, 0x2200 Invalid */
    char message[512];
    /* details by kind (0 when not given) */
    int32_t consistency, required, received, block_for, num_failures;
    bool data_present;
    char write_type[32];
    char keyspace[64], table[64]; /* already exists */
} cql_error_info;

/* Name of a protocol error code ("Unavailable", "Invalid", ...). */
const char *cql_error_code_name(int32_t code);

/* ---------------------------------------------------------------- session */

#define CQL_MAX_MESSAGE_DEFAULT ((size_t)256 << 20) /* the largest answer kept (256 MiB) */

typedef struct {
    const char *const *contact_points; /* host names or addresses */
    size_t ncontact_points;
    uint16_t port;                     /* default 9042 */
    const char *keyspace;              /* optional: USE on every connection */
    const char *username, *password;   /* optional: PasswordAuthenticator */
    bool tls;
    const char *tls_ca_file;           /* NULL = system default store */
    const char *tls_cert_file, *tls_key_file; /* optional client certificate */
    bool tls_no_verify;                /* default false: CA and host name checked */
    int protocol_version;              /* 0 = ask v5, fall back to v4; or 4 or 5 */
    bool compression;                  /* LZ4 when the server supports it */
    int connect_timeout_ms;            /* default 5000 */
    int request_timeout_ms;            /* default 12000 */
    int heartbeat_interval_ms;         /* default 30000, 0 = off */
    int connections_per_host;          /* default 1 */
    bool token_aware;                  /* default true (set via cql_session_opts_init) */
    bool discover;                     /* default true: use system.peers(_v2) */
    bool prepare_lazily;               /* default false: PREPARE on every up host at once;
                                          true: only where executed (on Unprepared) */
    size_t max_message_bytes;          /* 0 = CQL_MAX_MESSAGE_DEFAULT: an answer whose body is larger is read
                                          and dropped (the connection stays up) and its
                                          request fails with CE_ELIMIT (cql_future_answer_bytes) */
} cql_session_opts;

typedef struct {
    cql_consistency consistency;        /* default LOCAL_ONE for reads set by caller */
    cql_consistency serial_consistency; /* 0 = not sent */
    int32_t page_size;                  /* <= 0: no paging */
    cql_value paging_state;             /* ptr NULL = first page */
    int64_t timestamp;                  /* INT64_MIN = not sent; else microseconds */
    const char *const *names;           /* optional: values bound by name (n entries) */
    const char *keyspace;               /* v5 keyspace flag; NULL = none */
    bool has_routing_token;             /* route to the replicas of routing_token instead of */
    int64_t routing_token;              /* the bound partition key's (token-range scans, IN) */
} cql_query_opts;

typedef struct cql_session cql_session;
typedef struct cql_prepared cql_prepared; /* owned by the session's cache */
typedef struct cql_future cql_future;

/* Defaults: port 9042, v5->v4, timeouts as above, token_aware and discover on. */
void cql_session_opts_init(cql_session_opts *o);
void cql_query_opts_init(cql_query_opts *q);

/* Connect to the cluster (blocking). On failure *out is still set when a session
 * object could be made, so cql_session_errmsg explains; free it in every case. */
ce_err cql_session_connect(const cql_session_opts *o, cql_session **out);
void cql_session_free(cql_session *s);
const char *cql_session_errmsg(const cql_session *s);
/* Negotiated protocol version (4 or 5). */
int cql_session_protocol_version(const cql_session *s);
/* Number of hosts known / up. */
size_t cql_session_host_count(const cql_session *s, bool up_only);

/* Requests the session sent again on its own, by cause: CQL_RETRY_OVERLOADED an Overloaded
 * or Is_bootstrapping answer (sent to another host), CQL_RETRY_CONNECTION a connection lost
 * before the answer (sent to another host), CQL_RETRY_UNPREPARED an Unprepared answer (the
 * statement prepared again on that host, then sent again). Time-outs and other server
 * errors are returned, never retried, so they have no cause here. */
typedef enum { CQL_RETRY_OVERLOADED = 0, CQL_RETRY_CONNECTION, CQL_RETRY_UNPREPARED, CQL_RETRY_CAUSES } cql_retry_cause;
/* The counts since cql_session_connect into out (monotonic; any thread may read them). */
void cql_session_retries(const cql_session *s, uint64_t out[CQL_RETRY_CAUSES]);

/* Blocking simple query. values may be NULL when n == 0. *out owned by caller.
 * On CE_ESERVER, info (if not NULL) is filled. */
ce_err cql_session_query(cql_session *s, const char *cql, const cql_value *values, size_t n,
                         const cql_query_opts *q, cql_result **out, cql_error_info *info);

/* Prepare (cached by text; repeated calls return the same handle). The handle lives as
 * long as the session. Re-preparation after Unprepared is automatic. */
ce_err cql_session_prepare(cql_session *s, const char *cql, cql_prepared **out,
                           cql_error_info *info);
size_t cql_prepared_param_count(const cql_prepared *p);
const cql_type *cql_prepared_param_type(const cql_prepared *p, size_t i);
const char *cql_prepared_param_name(const cql_prepared *p, size_t i);
size_t cql_prepared_column_count(const cql_prepared *p);
const char *cql_prepared_column_name(const cql_prepared *p, size_t i);
const cql_type *cql_prepared_column_type(const cql_prepared *p, size_t i);

/* Blocking execute of a prepared statement. */
ce_err cql_session_execute(cql_session *s, cql_prepared *p, const cql_value *values, size_t n,
                           const cql_query_opts *q, cql_result **out, cql_error_info *info);

/* Asynchronous execute: values are copied, so the caller may reuse them at once.
 * Routed token-aware when the statement has partition-key metadata. NULL only on
 * allocation failure. The future must be freed with cql_future_free. */
cql_future *cql_session_execute_async(cql_session *s, cql_prepared *p, const cql_value *values,
                                      size_t n, const cql_query_opts *q);
/* Batch (type 0 logged, 1 unlogged) of prepared statements, each with its values. */
cql_future *cql_session_batch_async(cql_session *s, int batch_type, cql_prepared *const *stmts,
                                    const cql_value *const *values, const size_t *nvalues,
                                    size_t nstmts, const cql_query_opts *q);
/* Drive I/O for up to timeout_ms (0 = poll once); completes futures. */
ce_err cql_session_run(cql_session *s, int timeout_ms);
/* Host index (as in cql_session_host_info) of the first replica of a token on the
 * ring, up or not; -1 when the ring is unknown (token awareness off or no metadata). */
int cql_session_token_owner(const cql_session *s, int64_t token);
/* Number of requests in flight. */
size_t cql_session_inflight(const cql_session *s);
/* Asynchronous simple query (values copied, routed round robin). NULL only on
 * allocation failure; free with cql_future_free. */
cql_future *cql_session_query_async(cql_session *s, const char *cql, const cql_value *values, size_t n,
                                    const cql_query_opts *q);
/* Host i (0 <= i < cql_session_host_count(s, false)): address, whether it is up, and
 * how many requests were sent to it. false when i is out of range. Strings owned by
 * the session. */
bool cql_session_host_info(const cql_session *s, size_t i, const char **addr, bool *up, uint64_t *requests);

bool cql_future_done(const cql_future *f);
/* Run the session until f is done. Returns its status; on success *out (if not NULL)
 * gets the result, which the caller then owns. */
ce_err cql_future_wait(cql_future *f, cql_result **out);
ce_err cql_future_status(const cql_future *f);
const cql_error_info *cql_future_error(const cql_future *f);
const char *cql_future_errmsg(const cql_future *f);
/* The body length of an answer over max_message_bytes (the future failed with CE_ELIMIT);
 * 0 for every other outcome. The connection stayed usable: the same request with a
 * smaller page may be sent again. */
size_t cql_future_answer_bytes(const cql_future *f);
/* The session's max_message_bytes (the default filled in). */
size_t cql_session_max_message_bytes(const cql_session *s);
void cql_future_free(cql_future *f);

/* ---------------------------------------------------------------- metadata */

typedef enum { CQL_COL_PARTITION_KEY, CQL_COL_CLUSTERING, CQL_COL_REGULAR, CQL_COL_STATIC } cql_column_role;

typedef struct {
    char *name;
    cql_type *type;        /* UDTs resolved from system_schema.types */
    char *type_text;       /* as in system_schema.columns.type */
    cql_column_role role;
    int position;          /* within partition key / clustering */
    bool clustering_desc;
} cql_column_meta;

typedef struct {
    char *keyspace, *table;
    size_t ncolumns;
    cql_column_meta *columns;   /* partition key first (by position), then clustering, then others */
    size_t npartition_keys, nclustering;
} cql_table_meta;

/* Read a table's schema from system_schema. CE_ENOTFOUND if it does not exist. */
ce_err cql_session_table_meta(cql_session *s, const char *keyspace, const char *table,
                              cql_table_meta **out);
void cql_table_meta_free(cql_table_meta *m);

/*
 * Schema agreement, as drivers wait for it after DDL: every host the session has a ready
 * connection to is asked for its own schema_version (system.local, on that host's
 * connection; gossip's view in system.peers lags), every 100 ms until they all answer
 * with the same one or timeout_ms passed. CE_OK when they agree (and the session's
 * "schema unsettled" mark is cleared); CE_ETIMEOUT, with cql_session_errmsg saying which
 * hosts differ or did not answer, when they do not within the time.
 */
ce_err cql_session_wait_schema_agreement(cql_session *s, int timeout_ms);
/* true when a request of this session changed the schema (a SCHEMA_CHANGE result) and no
 * cql_session_wait_schema_agreement has seen every host agree since. */
bool cql_session_schema_unsettled(const cql_session *s);
const cql_column_meta *cql_table_meta_column(const cql_table_meta *m, const char *name);

/* ---------------------------------------------------------------- token ranges */

/* A half-open range (start, end] of Murmur3 tokens. */
typedef struct {
    int64_t start, end;
} cql_token_range;

/* Split the full ring (-2^63, 2^63-1] into about n ranges aligned on the cluster's
 * token boundaries, so each range has one set of replicas. *out owned by caller (free()). */
ce_err cql_session_token_ranges(cql_session *s, size_t n, cql_token_range **out, size_t *nout);

#endif
