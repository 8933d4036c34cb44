/*
 * sync_int.h - internals of the sync engine shared by its files:
 *   window.c   pass windows, version units, time buckets (pure)
 *   docmap.c   _id encoding, Cassandra row -> JSON document, document -> bound values (pure)
 *   mapping.c  Elasticsearch mapping from a CQL schema, CQL type from an ES mapping (pure)
 *   pass.c     a pass of one direction: its phases, checkpoint, summary, shared helpers
 *   resume.c   the saved progress of a token-range scan in the checkpoint (codec, validity)
 *   table.c    the table plan both directions share; sizes; dead letters
 *   pipe.c     the bounded queue and thread of both directions' readers (pipe.h)
 *   budget.c   the memory budget of what is in flight (budget.h)
 *   c2e.c      the Cassandra -> Elasticsearch phases (c2e_int.h: its other parts)
 *   e2c.c      the Elasticsearch -> Cassandra phases (e2c_int.h: its other parts)
 *   guard.c    E->C version guard: the current versions of the rows a page overwrites
 *   engine.c   connections and the loop over syncs and directions
 * Only engine.h is public.
 */
#ifndef CE_SYNC_INT_H
#define CE_SYNC_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "conv/conv.h"
#include "sync/budget.h"
#include "cql/cql.h"
#include "es/es.h"
#include "sync/checkpoint.h"
#include "sync/config.h"
#include "sync/deadletter.h"
#include "sync/engine.h"
#include "sync/mapping.h"
#include "util/buf.h"
#include "util/log.h"

struct json_t; /* jansson's, for the values that cross these interfaces */

/* A log value from outside (an _id, a server's error text, a field or index name) quoted
 * and escaped for logfmt (ce_log_quote) in a buffer that lives as long as the statement's
 * block: use it as the argument of a bare %s (key=%s, no quotes around). */
#define SYNC_LOGQ(s) ce_log_quote((char[CE_LOG_QUOTE_MAX]){0}, CE_LOG_QUOTE_MAX, (s))

/* ---------------------------------------------------------------- window.c */

/* A pass window [start_ms, end_ms) on the version column, in Unix ms. */
typedef struct {
    int64_t start_ms, end_ms;
    bool initial;          /* no checkpoint or a start at 0: an initial load */
} sync_window;

/* Start of the window: since (when given) wins, else checkpoint - overlap, else
 * lastruntime - overlap, else 0. End: now - safety_lag (never below start). */
void sync_window_compute(bool has_since, int64_t since_ms, bool has_checkpoint, int64_t checkpoint_ms,
                         bool has_lastrun, int64_t lastrun_ms, int64_t overlap_ms,
                         int64_t safety_lag_ms, int64_t now_ms, sync_window *out);
/* Unix ms -> version units (floor / ceiling). unit_us <= 0 means ms. */
int64_t sync_version_floor(int64_t ms, int64_t unit_us);
int64_t sync_version_ceil(int64_t ms, int64_t unit_us);
/* Bucket start (seconds, aligned on multiples of width since the epoch) holding t_s. */
int64_t sync_bucket_floor(int64_t t_s, int64_t width_s);
/* strftime(fmt) of the UTC time t_s into out. CE_EINVAL when it does not fit. */
ce_err sync_bucket_format(const char *fmt, int64_t t_s, char *out, size_t n);
/* Number of buckets of width_s overlapping [start_ms, end_ms). */
int64_t sync_bucket_count(int64_t start_ms, int64_t end_ms, int64_t width_s);
int64_t sync_now_ms(void);
/* Microseconds per version unit: unit_us, or 1000 (milliseconds) when it is <= 0. */
static inline int64_t sync_version_unit(int64_t unit_us) { return unit_us > 0 ? unit_us : 1000; }

/* ---------------------------------------------------------------- docmap.c */

#define SYNC_MAX_KEY_PARTS 16

/*
 * _id encoding. One key component: its text form as is (a string's characters, a
 * number's digits, a uuid's text, a timestamp's ISO text) - PyCassElastic's str(id).
 * Several components: each text form with '\' -> "\\" and ':' -> "\:", joined by ':'.
 */
ce_err sync_id_append_part(ce_buf *id, const char *text, size_t n, bool composite);
/* Text form of one serialized CQL value (as used in _id), appended to out; scratch is
 * reused. CE_EINVAL for a null value. */
ce_err sync_value_text(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *out, ce_buf *scratch);
/* Split an _id into exactly nparts components (unescaping when nparts > 1). Each part
 * is written NUL-terminated into storage; parts[i] point into it. CE_EINVAL when the
 * count differs. */
ce_err sync_id_split(const char *id, size_t n, size_t nparts, ce_buf *storage, size_t *offs);

/* One _id part (as split by sync_id_split) serialized as type t, appended to out, as E->C
 * decodes key columns missing from _source. CE_ECONVERT when it does not fit the type. */
ce_err sync_id_part_value(const cql_type *t, const char *part, ce_buf *out, bool *is_null);

/* Signed integer value of a serialized bigint/int/smallint/tinyint/counter/timestamp/
 * varint (<= 8 bytes). CE_ECONVERT otherwise or for null. */
ce_err sync_value_int64(const cql_type *t, const uint8_t *p, int32_t len, int64_t *out);

/* How a C->E row maps to a document. Row layout: ncols table columns, then optional
 * WRITETIME columns (indexes < 0 when absent). */
typedef struct {
    size_t ncols;
    const char *const *names;          /* ncols field names */
    const ce_slice *key_json;          /* optional: ncols "name": texts, escaped (hot path) */
    const cql_type *const *types;      /* ncols types */
    size_t nid;
    int id_idx[SYNC_MAX_KEY_PARTS];
    int version_idx;                   /* -1: table has no such column */
    int source_idx;                    /* -1: table has no source column */
    int deleted_idx;                   /* -1: no deleted_col (soft deletes off) */
    int wt_source_idx, wt_version_idx, wt_any_idx;  /* WRITETIME columns or -1 */
    const char *source_field;
    const char *cassandra_source_id, *es_source_id;
    int64_t version_unit_us;
    const char *token_field;           /* NULL: no token field; else the partition key's */
    size_t npk;                        /* token (cells 0..npk) goes into it */
} sync_rowmap;

/* _id of a row. CE_EINVAL (reason in err) when a key part is null. */
ce_err sync_row_id(const sync_rowmap *m, const cql_value *cells, ce_buf *id, ce_buf *scratch,
                   ce_buf *err);
/* Version of a row in version units: the version column, else WRITETIME (us) converted.
 * CE_ENOTFOUND when neither is available. *from_writetime tells which. */
ce_err sync_row_version(const sync_rowmap *m, const cql_value *cells, int64_t *version,
                        bool *from_writetime);
/* True when the row came from Elasticsearch and was not changed since in Cassandra:
 * source == es_source_id and (when both WRITETIMEs are known) WRITETIME(source) >=
 * WRITETIME(version). */
bool sync_row_is_echo(const sync_rowmap *m, const cql_value *cells);
/*
 * Soft deletes (docs/deletes.md): whether a record is marked deleted. The same rule on both
 * sides: live when the mark is null / absent / unset, empty, boolean false, the text
 * "false", or a number equal to zero (any numeric type, +0 / -0, a zero decimal at any
 * scale, and the text of a zero: "0", "0.00", as the exact form of a JSON number reads);
 * deleted when it is anything else (boolean true, a deletion timestamp, a non-zero number).
 *   sync_row_is_deleted     one Cassandra cell of type t (NULL cell or type: live)
 *   sync_rowmap_is_deleted  the row's deleted_idx cell (false when deleted_idx < 0)
 *   sync_doc_is_deleted     field of a document's _source object (NULL field: live)
 * Pure; verify (issue 13) counts records so marked as absent with the same functions.
 */
bool sync_row_is_deleted(const cql_type *t, const cql_value *cell);
bool sync_rowmap_is_deleted(const sync_rowmap *m, const cql_value *cells);
bool sync_doc_is_deleted(const struct json_t *src, const char *field);
/* The same rule on one JSON value (NULL: live); verify reads the mark from doc values. */
bool sync_json_is_deleted(const struct json_t *v);
/* The JSON object of a row (every column, nulls as null, source stamped with
 * cassandra_source_id when null/absent, the token field when set), appended to doc. */
ce_err sync_row_doc(const sync_rowmap *m, const cql_value *cells, ce_buf *doc);

/* How an E->C document maps to the INSERT's parameters. */
typedef struct {
    size_t ncols;                      /* INSERT columns (the timestamp parameter follows) */
    const char *const *names;
    const cql_type *const *types;
    const bool *skip;                  /* NULL or per column: do not bind (type conflict) */
    int key_part[256];                 /* per column (< 256): index in the _id parts or -1 */
    const bool *is_key;                /* per column: primary key column */
    size_t nid;                        /* parts in _id */
    int source_col;                    /* -1 when the table has none */
    const char *version_field;
    const char *es_source_id;
    int64_t version_unit_us;
} sync_docmap;

/*
 * Convert one search hit ({"_id":..., "_source":{...}}, a jansson object) into
 * values for the INSERT: vals gets ncols + 1 values (the last one the timestamp in us),
 * their bytes stored in storage (reset first). Missing fields -> UNSET; key columns
 * missing from _source are decoded from _id. CE_ECONVERT / CE_EINVAL with the reason in
 * err when the document cannot be written.
 */
ce_err sync_doc_values(const sync_docmap *m, const struct json_t *hit, ce_buf *storage, cql_value *vals,
                       int64_t *version, ce_buf *err);

/* ---------------------------------------------------------------- pass.c */

/*
 * A pass of one direction is a short list of phases, each a function of its own that
 * returns the phase to run next (as curl's multi_runsingle hands each state to its own
 * function). The usual course: PLAN -> (READ -> CONVERT -> WRITE)* -> FINISH -> CHECKPOINT.
 */
typedef enum {
    SYNC_PHASE_PLAN = 0,   /* table plan, read plan, statements, index or schema setup */
    SYNC_PHASE_READ,       /* the next page from the reader thread */
    SYNC_PHASE_CONVERT,    /* the page's records -> documents / bound values */
    SYNC_PHASE_WRITE,      /* hand them to the other side; progress; stop check */
    SYNC_PHASE_FINISH,     /* wait for what is in flight, judge the outcome */
    SYNC_PHASE_CHECKPOINT, /* move the checkpoint when every item got a final outcome */
    SYNC_PHASE_DONE
} sync_phase;

typedef struct sync_pass_ctx sync_pass_ctx;

/* One phase: works on the pass and the direction's state, returns the next phase. */
typedef sync_phase (*sync_phase_fn)(sync_pass_ctx *ctx, void *state);

/* What one direction's pass reports in the summary line and the checkpoint. */
typedef struct {
    uint64_t read, written, conflicts, skipped, rejected, failed;
    const char *written_name;  /* "indexed" / "written" */
    uint64_t deleted;          /* records deleted for soft-delete marks (deleted_col) */
    uint64_t page_shrinks;     /* pages read again smaller (an answer over a size limit) */
} sync_pass_figures;

/* A direction: its name, the size of its pass state and one function a phase. */
typedef struct {
    const char *name;                     /* "to_es" / "to_cassandra" */
    size_t state_size;                    /* zeroed before PLAN */
    sync_phase_fn phase[SYNC_PHASE_DONE]; /* NULL: go on to the next phase */
    void (*release)(sync_pass_ctx *ctx, void *state); /* after the last phase, always */
    void (*figures)(const sync_pass_result *res, sync_pass_figures *out);
    /* Its part of the pass result: the pass's seconds and whether it succeeded. */
    void (*outcome)(sync_pass_result *res, double seconds, bool ok);
    bool reads_table;                     /* reads the Cassandra table (C->E): the table plan
                                             looks up an index on the version column */
} sync_direction_ops;

/* The two directions (c2e.c, e2c.c). */
extern const sync_direction_ops sync_dir_to_es;
extern const sync_direction_ops sync_dir_to_cassandra;

/* What the engine lends every pass: connections, dead letters, the state folder. */
typedef struct {
    cql_session *cql;
    es_client *es;
    sync_deadletter *dl;           /* may be NULL: rejected items only logged */
    const sync_config *cfg;
    cql_consistency read_cl, write_cl;
    const char *state_dir;         /* checkpoints and the bulk-load marker live here */
    const char *lastrun_dir;       /* where PyCassElastic's lastruntime.log may be */
    sync_budget *budget;           /* memory_limit_mb (budget.h); NULL: none */
} sync_pass_env;

struct sync_pass_ctx {
    cql_session *cql;
    es_client *es;
    sync_deadletter *dl;
    const sync_config *cfg;
    const sync_def *def;           /* the sync with every size filled (sync_def_sizes) */
    const sync_pass_opts *opts;
    const sync_direction_ops *dir;
    cql_consistency read_cl, write_cl;
    sync_window win;
    bool has_checkpoint;           /* this sync and direction have passed before */
    sync_checkpoint cp;
    sync_pass_result *res;
    int64_t pass_started_ms;
    const char *state_dir;
    sync_budget *budget;           /* what is in flight (pages, bulk bodies); NULL: none */
    ce_err rc;                     /* the outcome so far: the first error wins */
    bool stopped;                  /* stop requested: finish what is in flight */
    bool dl_failed;                /* a dead letter could not be written */
    uint64_t dl_repeats;           /* dead letters the file had already (not written again) */
    sync_def sized;                /* storage of def */
};

/*
 * One direction of one sync: load its checkpoint (an unreadable one fails the direction),
 * compute the window, run the direction's phases, log the summary line. Returns the
 * outcome: CE_OK (checkpoint moved), CE_ECANCELED (stopped) or the error (res->error says
 * why).
 */
ce_err sync_pass_run(const sync_pass_env *env, const sync_def *d, const sync_direction_ops *dir,
                     const sync_pass_opts *opts, sync_pass_result *res);

/* The shared CHECKPOINT phase: saves the checkpoint at the window end when ctx->rc is
 * CE_OK (a failed save fails the pass); -> DONE. */
sync_phase sync_phase_checkpoint(sync_pass_ctx *ctx, void *state);

/* The first error of a pass wins: fmt with one %s (detail) into res->error, truncated;
 * later calls are ignored. */
void sync_result_set_error(sync_pass_result *res, const char *fmt, const char *detail);
/* Fail the pass with rc unless it failed already; fmt/detail as sync_result_set_error
 * (fmt NULL: no text). */
void sync_pass_fail(sync_pass_ctx *ctx, ce_err rc, const char *fmt, const char *detail);
/* The end of a pass that ran to its end: failures (failed items, with their text), then a
 * dead-letter file that could not be written, then a stop, fail a pass that has not
 * failed yet. */
void sync_pass_settle(sync_pass_ctx *ctx, bool failures, const char *failure_text);

/* Progress report to opts->progress (if any); fraction < 0 when unknown. */
void sync_progress(sync_pass_ctx *ctx, uint64_t read, uint64_t done, double fraction, bool final);
/* Whether a stop was asked for (signal); also sets ctx->stopped. */
bool sync_stop_requested(sync_pass_ctx *ctx);
/* Keyspace of a sync (sync, else global). */
const char *sync_keyspace(const sync_pass_ctx *ctx);

/* ---------------------------------------------------------------- resume.c */

/* FNV-1a (64-bit) of n bytes, continuing from h (start with SYNC_FNV1A_INIT): the engine's one
 * byte hash (resume identities, dead-letter fingerprints, the guard's and verify's tables). */
#define SYNC_FNV1A_INIT 0xcbf29ce484222325ULL
/* The seed verify's per-range id hash, verify's table and the guard's table have always
 * started from: FNV's offset basis short of its last digit. Kept as it is: a resumed verify
 * compares with range summaries an earlier run saved, and the tables' order follows it. */
#define SYNC_HASH_SEED_VERIFY 1469598103934665603ULL
static inline uint64_t sync_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

#define SYNC_RESUME_KEY "scan_resume"      /* its key in the checkpoint's extra object */

/* The saved progress of a resumable scan and the identity of its pass. */
typedef struct {
    int64_t window_start_ms, window_end_ms;
    size_t nranges;
    uint64_t ring;             /* hash of the range split (the ranges' end tokens, in order) */
    uint64_t target;           /* hash of the read mode, keyspace, table and index */
    bool has_position;         /* false: no checkpoint before the load (position_ms is 0) */
    bool send_echoes;          /* the index started empty: rows from Elasticsearch are sent */
    uint8_t *done;             /* bitmap: range k is bit k % 8 of byte k / 8; owned */
    size_t ndone;
    int64_t *at;               /* per range: every partition with token <= at[k] of range k
                                  is acknowledged, so it resumes at token > at[k] (INT64_MIN:
                                  from its start); owned */
} sync_resume;

/* Zeroed progress of nranges ranges, none done. CE_ENOMEM. Free with sync_resume_free. */
ce_err sync_resume_init(sync_resume *r, size_t nranges);
void sync_resume_free(sync_resume *r); /* NULL: no-op */
bool sync_resume_is_done(const sync_resume *r, size_t k);
void sync_resume_mark(sync_resume *r, size_t k); /* out of range: ignored */
/* Range k acknowledged up to token `at` (a position never moves back; out of range:
 * ignored). */
void sync_resume_advance(sync_resume *r, size_t k, int64_t at);
/* extra (NULL or the checkpoint's JSON text) with r under SYNC_RESUME_KEY, or without the
 * key when r is NULL; other keys kept (an extra that is not an object is replaced). *out
 * is malloc'd (free()), NULL when nothing is left. CE_ENOMEM. */
ce_err sync_resume_encode(const sync_resume *r, const char *extra, char **out);
/* The progress saved in extra. CE_ENOTFOUND when there is none; CE_EJSON when it is
 * malformed (bad bitmap, missing field, unknown format). *r freed by sync_resume_free. */
ce_err sync_resume_decode(const char *extra, sync_resume *r);
/* false only when extra holds progress saved before any checkpoint existed: its
 * position_ms is no window position. */
bool sync_resume_has_position(const char *extra);
/* The validity rule: saved progress fits the pass `now` when the window start, the
 * target and the ring split are the same and the saved end is within [start, now's end].
 * Otherwise false with the reason in why. */
bool sync_resume_matches(const sync_resume *saved, const sync_resume *now, char *why, size_t n);

/* The engine's connections and folders as a pass sees them (engine.c; verify.c uses it). */
void sync_engine_env(sync_engine *e, sync_pass_env *env);

/* ---------------------------------------------------------------- table.c */

/*
 * The table plan both directions start from: the table's metadata and where the _id
 * parts, the version and the source columns are in it.
 */
typedef struct {
    cql_table_meta *meta;
    size_t nid;                        /* _id parts */
    int id_idx[SYNC_MAX_KEY_PARTS];    /* their columns: d->id_cols, else the primary key */
    int version_idx, source_idx;       /* -1: no such column */
    bool version_index;                /* C->E: an SAI index serves the version column */
    int deleted_idx;                   /* deleted_col's column; -1: none or not in the table */
} sync_table_plan;

/* Read the table's metadata and resolve the columns. Fails the pass with the reason
 * ("table ks.t: no such table", "id column \"x\" is not in the table", CE_ECONFIG).
 * Replaces (and frees) a plan loaded before. */
ce_err sync_table_plan_load(sync_pass_ctx *ctx, sync_table_plan *tp);
void sync_table_plan_free(sync_table_plan *tp);
/* Cassandra -> Elasticsearch's columns with a job: a deleted_col the table lacks fails the
 * pass (CE_ECONFIG, "deleted_col \"x\" is not a column of the table"; E->C reads the mark
 * from the documents and needs no column), and so does a token_field that is a column of the
 * table (the document would carry the field twice). */
ce_err sync_table_check_columns(sync_pass_ctx *ctx, const sync_table_plan *tp);
/* Whether a storage-attached index (system_schema.indexes: kind CUSTOM, class_name "sai"
 * or ...StorageAttachedIndex) has column col of keyspace.table as its target: *found. The
 * query's error otherwise (cql_session_errmsg says why). */
ce_err sync_table_version_index(cql_session *s, const char *keyspace, const char *table, const char *col,
                                bool *found);
/* Index of the column called name in m, -1 when none (or name is NULL). */
int sync_table_column(const cql_table_meta *m, const char *name);
/* Whether column i is a partition key or clustering column. */
bool sync_table_is_key(const cql_table_meta *m, size_t i);

/* The sizes of a sync with the defaults of every size a hand-built sync_def leaves 0 (the
 * config loader fills the same from its key table), copied into out. */
void sync_def_sizes(const sync_def *d, sync_def *out);

/* A record one direction gives up on: dead-letter file (when there is one); a failed write
 * marks ctx->dl_failed (the pass then fails). The caller counts it in *rejected first and
 * logs it; a repeat (the file has that line already: deadletter.h) is not written, is
 * taken back out of *rejected (rejected may be NULL) and counted in ctx->dl_repeats, with
 * a debug line. Returns whether it was a repeat; either way the record is settled. */
bool sync_pass_dead_letter_counted(sync_pass_ctx *ctx, uint64_t *rejected, const char *id, const char *reason,
                                   const char *doc, size_t doc_len);
/* sync_pass_dead_letter_counted for C->E's records (c2e.c counts them in res->c2e_rejected);
 * true for a repeat (its warning is not logged again). */
bool sync_pass_dead_letter(sync_pass_ctx *ctx, const char *id, const char *reason, const char *doc,
                           size_t doc_len);

/* ---------------------------------------------------------------- schema.c (settle) */

/* Before a direction plans from the table's metadata: when a schema change went through
 * this session (an ALTER of E->C's schema evolution) and no node agreement was seen
 * since, wait for it (at most ~10 s; a warning when it does not come), so the statements
 * the plan prepares name no column some node lacks. Nothing to do otherwise. */
void sync_schema_settle(sync_pass_ctx *ctx);

/* ---------------------------------------------------------------- guard.c */

typedef struct sync_guard sync_guard;

/* A guard for table m when version_col is a regular column; *out stays NULL (CE_OK)
 * when it is not (or the read cannot be prepared: a warning says so). */
ce_err sync_guard_new(cql_session *s, const cql_table_meta *m, const char *version_col, cql_consistency cl,
                      const char *sync_name, sync_guard **out);
void sync_guard_free(sync_guard *g);
/* One page of n documents: begin, add the primary-key values (in table key order) of
 * each document to guard, send, then get each verdict (found = the row exists; its
 * version and WRITETIME when not null). get returns the read's error, if it failed, with
 * refused = the server refused the key itself as invalid (its write will be refused too). */
ce_err sync_guard_begin(sync_guard *g, size_t n);
ce_err sync_guard_add(sync_guard *g, size_t i, const cql_value *keyvals);
ce_err sync_guard_send(sync_guard *g);
ce_err sync_guard_get(sync_guard *g, size_t i, bool *found, int64_t *version, bool *has_version,
                      int64_t *wt, bool *has_wt, bool *refused);

#endif
