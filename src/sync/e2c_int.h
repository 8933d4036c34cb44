/*
 * e2c_int.h - the parts of the Elasticsearch -> Cassandra pass (e2c.c runs its phases):
 *   capture.c   the capture modes (one table entry each) and the page prefetch thread
 *   schema.c    schema evolution: columns for new index fields, type conflicts
 *   writer.c    the Cassandra writer: the INSERT, the write ring, replica groups
 * (the version guard is guard.c, declared in sync_int.h)
 */
#ifndef CE_SYNC_E2C_INT_H
#define CE_SYNC_E2C_INT_H

#include "sync/pipe.h"
#include "sync/sync_int.h"

/* ---------------------------------------------------------------- capture.c */

/*
 * An Elasticsearch capture mode: how the documents of a pass are found. One entry each;
 * adding a mode (say sequence numbers) = adding an entry.
 *   query   fills the search's query for the pass (window, filters)
 */
typedef struct {
    const char *name;
    void (*query)(const sync_pass_ctx *ctx, es_search_opts *so);
    /* count (and warn about) the documents the mode can never find; NULL: none */
    void (*count_unseen)(sync_pass_ctx *ctx);
} sync_capture_mode;

typedef struct {
    const sync_capture_mode *mode;
    es_search *search;
    sync_pipe *pipe;           /* the prefetch thread: the only user of search until joined */
    int64_t total;             /* hits of the search when known, else <= 0 */
    sync_budget *budget;       /* NULL: none */
    size_t hit_bytes;          /* budget bytes of one hit (0 without a budget) */
    size_t page_size;          /* hits asked for a page */
    size_t held;               /* bytes of the page the pass holds */
    size_t reserved;           /* budget reserved for the writes and the response text */
} sync_capture;

/* With a budget: measure a hit's bytes (a probe search of a few documents) and lower the
 * pass's es_page_size, write_concurrency and write_batch_rows (ctx->sized) so that a page
 * and the writes in flight each stay under share / (prefetched pages + 2), and reserve two
 * such parts (the writes, the response text) until sync_capture_close. Call before the
 * writer and the search are opened. No budget: nothing changes. */
void sync_capture_size(sync_pass_ctx *ctx, sync_capture *cap);

/* Open the search of the pass and start fetching its pages on a thread of its own. Fails
 * the pass ("search failed: ...") when the search cannot be opened. */
ce_err sync_capture_open(sync_pass_ctx *ctx, sync_capture *cap);
/* The next page (an owned reference to a non-empty array of hits); *got false at the
 * end, then the search's error (if any) is returned. The page before counts in the
 * budget until this call. */
ce_err sync_capture_next(sync_capture *cap, struct json_t **hits, bool *got);
/* Stop and join the fetching thread (pages not taken are released). */
void sync_capture_stop(sync_capture *cap);
/* Stop, then close the search. NULL members are fine. */
void sync_capture_close(sync_capture *cap);

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
/* A document given up on: counted, logged, dead-lettered. */
void sync_writer_reject(sync_writer *w, const struct json_t *hit, const char *reason);

#endif
