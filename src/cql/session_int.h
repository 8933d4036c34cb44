/*
 * session_int.h - internal structures of the CQL session: hosts, connections,
 * futures, prepared statements, the token ring. Shared by conn.c, tls.c, session.c,
 * cluster.c and schema.c; not part of the public API.
 *
 * Threading: none. One session is driven by one thread through cql_session_run.
 * Ownership: the session owns hosts, connections and prepared statements; a future
 * is owned by the caller (public futures) or by the session (internal ones); a
 * future freed by its owner while in flight is detached and freed on completion.
 */
#ifndef CE_CQL_SESSION_INT_H
#define CE_CQL_SESSION_INT_H

#include <openssl/ssl.h>
#include <stdatomic.h>

#include "cql/cql_int.h"

typedef struct cql_conn cql_conn;

int64_t cql_now_ms(void);

/* ---------------------------------------------------------------- prepared statements */
struct cql_prepared {
    char *cql;
    size_t cql_len;
    uint8_t *id;
    size_t idlen;
    uint8_t *mdid;          /* v5 result metadata id */
    size_t mdidlen;
    cql_colset bind;        /* parameters and partition-key indexes */
    cql_colset *result;     /* result columns (may have 0 columns) */
    cql_colset **old;       /* replaced result metadata kept alive (results may point to it) */
    size_t nold;
    char *keyspace;         /* keyspace of the bound/result columns, if any */
    int rf;                 /* replication factor of keyspace (routing), 0 = unknown */
    struct cql_prepared *next;
};

/* ---------------------------------------------------------------- futures */
typedef enum {
    FK_QUERY,
    FK_PREPARE,
    FK_EXECUTE,
    FK_BATCH,
    FK_OPTIONS,             /* heartbeat-like probe, internal */
    FK_REGISTER
} future_kind;

typedef struct {
    cql_prepared *prep;     /* prepared entry, or NULL with cql */
    char *cql;
    size_t first, n;        /* values in the future's value array */
} batch_stmt;

struct cql_future {
    cql_session *s;
    future_kind kind;
    bool done, detached, internal;
    ce_err status;
    cql_error_info info;
    char errmsg[640];
    cql_result *result;
    size_t answer_bytes;    /* the answer was over the message limit: its body length */

    /* request description (kept to re-encode on retry / re-prepare) */
    char *cql;
    size_t cql_len;
    cql_prepared *prep;
    ce_buf valbuf;          /* copied value bytes */
    cql_value *values;      /* ptr offsets into valbuf resolved at encode time */
    size_t nvalues;
    char **names;
    cql_query_opts q;
    uint8_t *paging_copy;
    char *ks_copy;
    batch_stmt *batch;
    size_t nbatch;
    int batch_type;

    /* routing / dispatch */
    int pin_host;           /* >= 0: only this host */
    int avoid_host;         /* last failed host */
    int host;               /* host of the current attempt */
    int attempts;
    bool reprepare;         /* the outstanding request is a PREPARE for an Unprepared retry */
    cql_prepared *reprep;   /* statement being re-prepared */
    int64_t deadline;       /* ms, overall */
    int64_t sent_at;
    cql_conn *conn;
    int stream;

    /* session lists: pending queue or in-flight list */
    struct cql_future *prev, *next;
    bool in_pending, in_flight;

    /* internal completion hook */
    void (*on_done)(struct cql_future *f, void *ud);
    void *ud;
};

/* ---------------------------------------------------------------- connections */
typedef enum {
    CS_CONNECTING,
    CS_TLS,
    CS_OPTIONS,
    CS_STARTUP,
    CS_AUTH,
    CS_USE,
    CS_READY,
    CS_CLOSED
} conn_state;

#define CQL_STREAM_HEARTBEAT ((cql_future *)1)
#define CQL_STREAM_ORPHAN ((cql_future *)2)
#define CQL_STREAM_REGISTER ((cql_future *)3)

/*
 * What a connection needs from its owner, given once at open: where to connect, the
 * settings it reads, and the calls back for what it learns. The connection never sees
 * the session: session -> conn is plain calls, conn -> session only these pointers.
 */
typedef struct {
    void *owner;
    /* the handshake finished: the connection can take requests */
    void (*on_ready)(void *owner, cql_conn *c);
    /* the connection closed (after cql_conn_fail); its futures must be taken back */
    void (*on_lost)(void *owner, cql_conn *c, ce_err e);
    /* the response to f (never NULL); the callee owns m->body */
    void (*on_response)(void *owner, cql_conn *c, cql_future *f, cql_msg *m);
    /* a server EVENT on a registered connection; the callee owns m->body */
    void (*on_event)(void *owner, cql_conn *c, cql_msg *m);
} cql_conn_callbacks;

typedef struct {
    const char *addr;              /* numeric address (copied) */
    const char *name;              /* name for the TLS host check, "" = addr (copied) */
    uint16_t port;
    const cql_session_opts *o;     /* credentials, keyspace, compression, timeouts: must
                                      outlive the connection */
    SSL_CTX *ssl_ctx;              /* NULL = no TLS */
    cql_conn_callbacks cb;
} cql_conn_config;

struct cql_conn {
    cql_conn_callbacks cb;
    const cql_session_opts *o;
    SSL_CTX *ssl_ctx;
    char addr[64], name[256];
    uint16_t port;
    int host;                      /* the owner's index of the host, for its own use */
    int fd;
    SSL *ssl;
    conn_state state;
    int version;
    bool lz4;
    bool tls_want_write;
    cql_decoder dec;
    cql_encoder enc;
    cql_future **streams;   /* CQL_MAX_STREAMS slots */
    int16_t *free_ids;
    int nfree;
    size_t inflight;
    size_t orphans;
    int64_t deadline;       /* connect / handshake deadline */
    int64_t last_io;
    int64_t heartbeat_sent; /* 0 = none outstanding */
    bool registered;
    bool version_rejected;  /* server refused our protocol version */
    bool auth_unwiped;      /* the SASL PLAIN response (the password) may still be in enc */
    char errmsg[256];
};

/* Start connecting (non-blocking) to cfg's host with the given protocol version; host is
 * stored for the owner. *out owned by the caller (cql_conn_free). CE_ENOMEM, or CE_EIO /
 * CE_EINVAL with c->errmsg when the socket cannot be started (then *out is NULL). */
ce_err cql_conn_open(const cql_conn_config *cfg, int host, int version, cql_conn **out);
void cql_conn_free(cql_conn *c);
/* Drive the connection: readable/writable from poll. Completes futures via
 * cb.on_response. Returns CE_OK or the error that closed the connection. */
ce_err cql_conn_io(cql_conn *c, short revents);
/* poll events wanted. */
short cql_conn_events(const cql_conn *c);
/* Write out whatever is queued (frames v5 envelopes first). */
ce_err cql_conn_flush(cql_conn *c);
/* Send a future's request on this connection. CE_EAGAIN when no stream id is free. */
ce_err cql_conn_send(cql_conn *c, cql_future *f);
/* Send OPTIONS as heartbeat. */
ce_err cql_conn_heartbeat(cql_conn *c);
ce_err cql_conn_register(cql_conn *c);
/* Mark connection failed: sets state CLOSED, closes the socket; futures are
 * handed back through cb.on_lost. */
void cql_conn_fail(cql_conn *c, ce_err e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Release a stream id (after its response). */
void cql_conn_release_stream(cql_conn *c, int stream);

/* ---------------------------------------------------------------- TLS (tls.c) */
ce_err cql_tls_ctx_new(const cql_session_opts *o, SSL_CTX **out, char *err, size_t cap);
/* Attach TLS to a connected socket (client mode, SNI + host check set). */
ce_err cql_tls_attach(SSL_CTX *ctx, int fd, const char *host, bool verify, SSL **out, char *err,
                      size_t cap);
/* 0 done, 1 want read, 2 want write, -1 failed (err filled). */
int cql_tls_handshake(SSL *ssl, char *err, size_t cap);
void cql_tls_describe_error(char *err, size_t cap, const char *what);

/* ---------------------------------------------------------------- hosts and session */
typedef struct {
    char addr[64];          /* numeric address used to connect */
    char name[256];         /* as given (for TLS host check) */
    uint16_t port;
    char dc[64], rack[64];
    bool up;                /* has (had) a ready connection */
    bool ever_up;
    int64_t next_retry;
    int backoff_ms;
    cql_conn *conn;
    int64_t *tokens;
    size_t ntokens;
    uint64_t requests;
    uint64_t failures;
} cql_host;

typedef struct {
    int64_t token;
    int host;
} ring_entry;

typedef struct {
    char *name;
    int rf;
} ks_rf;

struct cql_session {
    cql_session_opts o;
    char **contact_copy;
    char *ks_copy, *user_copy, *pass_copy, *ca_copy, *cert_copy, *key_copy;
    char errmsg[512];
    int version;
    SSL_CTX *ssl_ctx;
    cql_host *hosts;
    size_t nhosts;
    ring_entry *ring;
    size_t nring;
    ks_rf *rfs;
    size_t nrfs;
    cql_prepared *prepared;
    cql_future *pend_head, *pend_tail;
    cql_future *fl_head, *fl_tail;  /* in flight, in send order (= deadline order) */
    size_t inflight;
    size_t rr;
    int control_host;
    bool need_register;
    bool need_refresh;
    bool refreshing;
    bool connecting;        /* inside cql_session_connect */
    bool schema_unsettled;  /* a SCHEMA_CHANGE result since the last agreement seen */
    _Atomic uint64_t retries[CQL_RETRY_CAUSES]; /* cql_session_retries */
};

/* ---------------------------------------------------------------- future.c */

/* An empty future of the given kind for session s; NULL on allocation failure. */
cql_future *cql_future_new(cql_session *s, future_kind kind);
/* Free a future and everything it holds, in flight or not (the session's lists are
 * the caller's business). */
void cql_future_release(cql_future *f);
/* Copy n values (and their names when names is not NULL) into f. CE_ENOMEM. */
ce_err cql_future_copy_values(cql_future *f, const cql_value *values, size_t n,
                              const char *const *names);
/* Copy query options (paging state and keyspace included) into f; q may be NULL. */
ce_err cql_future_copy_opts(cql_future *f, const cql_query_opts *q);
/* Mark a future that could not be built as done with error e; returns f. */
cql_future *cql_future_failed(cql_future *f, ce_err e);
/* Re-encode and write a future's request on c with the given stream id. */
ce_err cql_future_encode(cql_future *f, cql_conn *c, int stream);
/* The prepared statement of f (or of one of its batch entries) whose id is id; f->prep
 * when none matches. */
cql_prepared *cql_future_prepared_by_id(cql_future *f, cql_value id);

/* ---------------------------------------------------------------- prepared.c */

/* Take id, metadata id, bind and result columns from a PREPARED result (r's columns
 * are moved). CE_ENOMEM. */
ce_err cql_prepared_update(cql_prepared *p, cql_result *r);
/* v5: a ROWS result announced new result metadata: copy its columns and id into p (the
 * old columns stay alive for results that point to them). CE_ENOMEM, p unchanged. */
ce_err cql_prepared_set_metadata(cql_prepared *p, const cql_result *r);
/* Free one cache entry. */
void cql_prepared_free(cql_prepared *p);

/* session.c: internal helpers shared with cluster.c / schema.c */
cql_future *cql_future_new_query(cql_session *s, const char *cql, const cql_value *values, size_t n,
                                 const cql_query_opts *q);
void cql_session_submit(cql_session *s, cql_future *f);
ce_err cql_session_wait_result(cql_session *s, cql_future *f, cql_result **out, cql_error_info *info);
void cql_session_set_err(cql_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cql_session_add_host(cql_session *s, const char *addr, const char *name, uint16_t port);
int cql_session_find_host(const cql_session *s, const char *addr);

/* cluster.c */
ce_err cql_cluster_discover(cql_session *s);
void cql_cluster_build_ring(cql_session *s);
int cql_cluster_route(cql_session *s, cql_future *f);
int cql_cluster_keyspace_rf(cql_session *s, const char *ks);

#endif
