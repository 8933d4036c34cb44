/*
 * e2c_int.h - the parts of the Elasticsearch -> Cassandra pass (e2c.c runs its phases):
 *   capture.c   the capture modes (one table entry each) and the page prefetch thread
 *   seqno.c     the seq_no capture mode: per-shard positions, fallbacks to a full read
 *   schema.c    schema evolution: columns for new index fields, type conflicts
 *   writer.c    the Cassandra writer: the INSERT, the write ring, replica groups
 * (the version guard is guard.c, declared in sync_int.h)
 */
#ifndef CE_SYNC_E2C_INT_H
#define CE_SYNC_E2C_INT_H

#include "sync/pipe.h"
#include "sync/sync_int.h"

/* ---------------------------------------------------------------- capture.c */

typedef struct sync_capture sync_capture;
typedef struct sync_seqno_pass sync_seqno_pass;

/*
 * An Elasticsearch capture mode: how the documents of a pass are found. One entry each
 * (sync_def.es_read_mode indexes the table); a pass is cap->nreads searches in a row.
 *   plan    NULL, or before the first search: what the pass reads (sets cap->nreads);
 *           fails the pass saying why
 *   query   fills search i of the pass (index, query, sort, preference, refresh);
 *           called on the fetching thread for i > 0, so it only reads ctx->def and cap
 *   settle  NULL, or after a pass whose every document got its final outcome: what the
 *           checkpoint keeps beside the window (ctx->cp.extra)
 *   done    NULL, or frees what plan kept
 *   count_unseen  NULL, or counts and warns about the documents the mode never finds
 *   log_reading   NULL, or logs what the pass reads, once the first search is open
 *                 (cap->total known); a mode whose plan logs it has none
 */
typedef struct {
    const char *name;
    ce_err (*plan)(sync_pass_ctx *ctx, sync_capture *cap);
    void (*query)(const sync_pass_ctx *ctx, sync_capture *cap, size_t i, es_search_opts *so);
    ce_err (*settle)(sync_pass_ctx *ctx, sync_capture *cap);
    void (*done)(sync_capture *cap);
    /* NULL, or count (and warn about) the documents the mode can never find */
    void (*count_unseen)(sync_pass_ctx *ctx);
    void (*log_reading)(const sync_pass_ctx *ctx, const sync_capture *cap);
} sync_capture_mode;

struct sync_capture {
    const sync_capture_mode *mode;
    const sync_pass_ctx *ctx;  /* the fetching thread reads ctx->def and uses ctx->es only */
    es_search *search;         /* the search being fetched */
    sync_pipe *pipe;           /* the prefetch thread: the only user of search until joined */
    size_t nreads, read;       /* searches of the pass; the one being fetched */
    int64_t total;             /* hits of the searches opened so far when known, else <= 0 */
    int64_t opened_total;      /* the fetching thread's sum behind total */
    char preference[32];       /* storage of a search's preference */
    sync_seqno_pass *seqno;    /* the seq_no mode's plan */
    sync_budget *budget;       /* NULL: none */
    size_t hit_bytes;          /* budget bytes of one hit (0 without a budget) */
    size_t page_size;          /* hits asked for a page */
    size_t held;               /* bytes of the page the pass holds */
    size_t shrinks;            /* pages of the searches closed so far read again smaller */
    size_t reserved;           /* budget reserved for the writes and the response text */
};

/* With a budget: measure a hit's bytes (a probe search of a few documents) and lower the
 * pass's es_page_size, write_concurrency and write_batch_rows (ctx->sized) so that a page
 * and the writes in flight each stay under share / (prefetched pages + 2), and reserve two
 * such parts (the writes, the response text) until sync_capture_close. Call before the
 * writer and the search are opened. No budget: nothing changes. */
void sync_capture_size(sync_pass_ctx *ctx, sync_capture *cap);

/* Open the first search of the pass (after the mode's plan) and start fetching its pages,
 * and those of the searches after it, on a thread of its own. Fails the pass ("search
 * failed: ...") when the search cannot be opened. */
ce_err sync_capture_open(sync_pass_ctx *ctx, sync_capture *cap);
/* The next page (an owned reference to a non-empty array of hits); *got false at the
 * end, then the search's error (if any) is returned. The page before counts in the
 * budget until this call. */
ce_err sync_capture_next(sync_capture *cap, struct json_t **hits, bool *got);
/* Stop and join the fetching thread (pages not taken are released). */
void sync_capture_stop(sync_capture *cap);
/* After a pass that succeeded so far: the mode's settle (fails the pass when it fails). */
void sync_capture_settle(sync_pass_ctx *ctx, sync_capture *cap);
/* Stop, then close the search and free the mode's plan. NULL members are fine. */
void sync_capture_close(sync_capture *cap);
/* The must_not filter that skips documents written by casselastic from Cassandra (echo
 * skipping), when the sync asks for it. */
void sync_capture_skip_echoes(const sync_def *d, es_search_opts *so);

/* ---------------------------------------------------------------- seqno.c */

/* One shard's saved position: every document up to seq_no under primary_term was read
 * and acknowledged by Cassandra. */
typedef struct {
    int64_t seq_no, primary_term;
} sync_shard_position;

/* The seq_no mode's part of the checkpoint (its extra JSON text):
 *   {"index_uuid":"...","shards":[{"seq_no":N,"primary_term":T},...]} */
typedef struct {
    char index_uuid[64];
    size_t nshards;
    sync_shard_position *shards; /* owned */
} sync_seqno_checkpoint;

/* Encode cp as the extra text (appended to out). */
ce_err sync_seqno_checkpoint_encode(const sync_seqno_checkpoint *cp, ce_buf *out);
/* Decode an extra text. CE_ENOTFOUND for NULL or a text without per-shard positions,
 * CE_EJSON / CE_EPROTO for one that is malformed. *out is zeroed first; free it with
 * sync_seqno_checkpoint_free in every case. */
ce_err sync_seqno_checkpoint_decode(const char *extra, sync_seqno_checkpoint *out);
void sync_seqno_checkpoint_free(sync_seqno_checkpoint *cp);

/* How a seq_no pass starts: by shard, or one full read of the index and why. */
typedef enum {
    SYNC_SEQNO_BY_SHARD = 0,
    SYNC_SEQNO_FULL_NO_CHECKPOINT, /* no saved per-shard positions (first pass, other mode) */
    SYNC_SEQNO_FULL_SINCE,         /* a re-sync from a time (--since) */
    SYNC_SEQNO_FULL_NEW_INDEX,     /* another index UUID: the index was re-created */
    SYNC_SEQNO_FULL_SHARD_COUNT,   /* the shard count changed (split, shrink, re-created) */
    SYNC_SEQNO_FULL_PRIMARY_TERM   /* a shard has a new primary term (a new primary) */
} sync_seqno_start;

/* The decision (pure): saved is NULL when there is none; *shard gets the shard whose
 * primary term changed. */
sync_seqno_start sync_seqno_decide(const sync_seqno_checkpoint *saved, bool since, const es_index_seqnos *now,
                                   size_t *shard);
/* The reason of a full read in words ("" for SYNC_SEQNO_BY_SHARD). */
const char *sync_seqno_start_text(sync_seqno_start s);

/* The seq_no capture mode's functions (its entry is in capture.c). */
ce_err sync_seqno_plan(sync_pass_ctx *ctx, sync_capture *cap);
void sync_seqno_query(const sync_pass_ctx *ctx, sync_capture *cap, size_t i, es_search_opts *so);
ce_err sync_seqno_settle(sync_pass_ctx *ctx, sync_capture *cap);
void sync_seqno_done(sync_capture *cap);

/* ---------------------------------------------------------------- schema.c */

/*
 * Read the index mapping (*props: an owned reference, NULL when it cannot be read) and,
 * when alter_table allows, add a typed column (ALTER TABLE ADD) for each field the table
 * lacks, the source field included; then re-read the table plan until the new columns
 * show. Fails only when the table plan cannot be read again. A field whose name cannot be
 * a column (sync_column_name_refusal) or beyond max_new_columns is not added: *refused
 * (an owned object field -> reason, NULL when none) lists them, and they are taken out
 * of *props.
 */
ce_err sync_schema_evolve(sync_pass_ctx *ctx, sync_table_plan *tp, struct json_t **props,
                          struct json_t **refused);
/* NULL when an index field called name may become a Cassandra column: 1 to 128 bytes of
 * ASCII letters, digits and '_'; else why not (a static text). */
const char *sync_column_name_refusal(const char *name);
/* Mark skip[i] for each column whose index field cannot be written into its type (and
 * report it in the pass result, which does not fail the pass). */
void sync_schema_note_conflicts(sync_pass_ctx *ctx, const struct json_t *props, const sync_docmap *dm,
                                bool *skip);

/* ---------------------------------------------------------------- writer.c */

/* Rows of one replica per unlogged batch at the most (write_batch_rows is capped here). */
#define SYNC_WRITE_BATCH_MAX 10

typedef struct sync_write_group sync_write_group;
typedef struct sync_pending_write sync_pending_write;

typedef struct {
    sync_pass_ctx *ctx;
    const cql_table_meta *meta;
    cql_prepared *ins;         /* INSERT INTO t (every column) VALUES (...) USING TIMESTAMP ? */
    cql_prepared *del;         /* DELETE FROM t USING TIMESTAMP ? WHERE keys; NULL: no deleted_col */
    size_t nkeys;              /* primary key columns (the DELETE's WHERE) */
    size_t ncols;
    const char **names;
    const cql_type **types;    /* copies of the INSERT's parameter types */
    bool *skip, *is_key;
    sync_docmap dm;
    sync_pending_write *ring;  /* writes in flight, oldest at head */
    size_t window, head, count;
    size_t batch_rows;         /* 1 = one INSERT a request */
    sync_write_group *groups;  /* [0] unknown replica, [1 + host index] */
    size_t ngroups;
    cql_value *gvals;          /* SYNC_WRITE_BATCH_MAX x (ncols + 1), to send a group */
    ce_err write_err;          /* the first write that failed */
} sync_writer;

/* Prepare the INSERT for table plan tp and set up the doc map and the write ring. Fails
 * the pass saying why. *w is freed by sync_writer_close in every case. */
ce_err sync_writer_open(sync_pass_ctx *ctx, const sync_table_plan *tp, sync_writer *w);
/* Queue one document's write (vals: ncols + 1 values, the timestamp last) with the group of
 * its replica; full groups go out. The hit is referenced until the write completes. */
ce_err sync_writer_queue(sync_writer *w, struct json_t *hit, const cql_value *vals, int64_t ts);
/* Queue the DELETE of one marked document's row (vals: as for sync_writer_queue, the key
 * columns first) at timestamp ts, on its own. CE_EINVAL when deleted_col is not set. */
ce_err sync_writer_delete(sync_writer *w, struct json_t *hit, const cql_value *vals, int64_t ts);
/* Let completions flow without blocking (a syscall: call now and then). */
void sync_writer_poll(sync_writer *w);
/* Send every group waiting. */
ce_err sync_writer_flush(sync_writer *w);
/* Wait for every write in flight and account for it. */
void sync_writer_drain(sync_writer *w);
void sync_writer_close(sync_writer *w);
/* Put ts as the bound timestamp v (big-endian bigint; bytes: its storage, kept by the caller). */
void sync_writer_bind_ts(cql_value *v, uint8_t bytes[8], int64_t ts);
/* A document given up on: counted, logged, dead-lettered; a repeat of a line the dead-letter
 * file has is counted as a repeat, not rejected (sync_pass_dead_letter_counted). */
void sync_writer_reject(sync_writer *w, const struct json_t *hit, const char *reason);

#endif
