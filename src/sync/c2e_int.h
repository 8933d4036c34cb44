/*
 * c2e_int.h - the parts of the Cassandra -> Elasticsearch pass (c2e.c runs its phases):
 *   rowplan.c      the SELECT's columns and the row map (row -> document)
 *   readplan.c     the read plans: one table entry per read mode, and the scan tasks
 *   reader.c       the page reader thread (a sync_pipe producer)
 *   index_setup.c  index creation, mapping, bulk-load settings and their marker file
 *   cleanup.c      PyCassElastic's (id, version) layout: deleting the old versions
 *   scanack.c      which ranges are acknowledged; their progress saved while a load runs
 *   c2e_bulk.c     the bulk: its budget, deletes, each document's verdict, rows rejected
 *                  before it (dead letters)
 */
#ifndef CE_SYNC_C2E_INT_H
#define CE_SYNC_C2E_INT_H

#include "sync/pipe.h"
#include "sync/sync_int.h"

/* ---------------------------------------------------------------- rowplan.c */

typedef struct {
    sync_rowmap rm;
    const char **names;        /* the table's columns, in SELECT order */
    const cql_type **types;
    ce_buf keys;               /* the fields' "name": texts (rm.key_json points in) */
    ce_slice *key_json;
    size_t ncells;             /* columns per row in the result (WRITETIMEs included) */
    ce_buf select;             /* "SELECT <columns> FROM <table>" */
} sync_rows;

/* The SELECT's columns (every column, then the WRITETIMEs the row map needs) and the row
 * map of table plan tp. CE_ENOMEM; *r is freed by sync_rows_free in every case. */
ce_err sync_rows_plan(const sync_def *d, const sync_table_plan *tp, sync_rows *r);
void sync_rows_free(sync_rows *r);

/* ---------------------------------------------------------------- readplan.c */

#define SYNC_SCAN_MAX_BINDS 4

/* One unit of the read (a token range, a time bucket): its binds and its paging. */
typedef struct {
    ce_buf binds;              /* bound values' bytes */
    size_t nvals;
    int32_t lens[SYNC_SCAN_MAX_BINDS];
    size_t offs[SYNC_SCAN_MAX_BINDS];
    ce_buf paging;
    bool has_paging;
    cql_future *f;
    int retries;               /* failed page requests sent again */
    int32_t rows;              /* page size (rows) of the request in flight */
    int32_t rows_cap;          /* > 0: pages at most this many rows (an answer was over the
                                  message limit); doubles back after pages well under it */
    size_t held;               /* budget bytes taken for it */
    bool routed;               /* token range: sent to the replicas of its end token */
    int64_t route_token;
    ce_buf last_id;            /* (id, version) layout: the partition being read ... */
    int64_t last_max;          /* ... and its highest version so far */
    bool skip;                 /* done by the interrupted pass this one resumes: not read */
} sync_scan_task;

typedef struct sync_scan sync_scan;

/*
 * A read mode: one entry of the read-plan table. Adding a mode = adding an entry.
 *   resolve      the mode to use instead for this window (NULL: this one)
 *   check        whether the sync's config fits the table (fails the pass saying why)
 *   where        the WHERE text of one unit ("WHERE token(k)>? AND token(k)<=?", ...)
 *   tasks        one task a unit, with the unit's binds (token ranges, buckets, ...)
 *   window       the window is in the WHERE too ("AND v>=? AND v<?", bound after the
 *                unit's values)
 *   filter_rows  rows outside the window are dropped as they arrive
 *   allow_filtering  the window's WHERE ends with ALLOW FILTERING (Cassandra reads every
 *                row of the unit unless an index serves the column); false for index,
 *                whose statement then fails rather than scan when the index is gone
 *   resumable    the units' progress is saved while the pass runs (scanack.c), so a
 *                killed pass resumes at the units not yet acknowledged
 */
typedef struct {
    sync_read_mode mode;
    const char *name;
    sync_read_mode (*resolve)(const sync_def *d, const sync_window *w, const sync_table_plan *tp);
    ce_err (*check)(sync_pass_ctx *ctx, const sync_table_plan *tp);
    ce_err (*where)(ce_buf *q, const sync_def *d, const cql_table_meta *m);
    ce_err (*tasks)(sync_pass_ctx *ctx, sync_scan *s);
    bool window;
    bool filter_rows;
    bool allow_filtering;
    bool resumable;
} sync_read_plan;

#define SYNC_SCAN_MAX_KEY_COLS (SYNC_MAX_KEY_PARTS * 2 + 1)

struct sync_scan {
    const sync_read_plan *plan;
    int64_t lo_v, hi_v;        /* the window in version units */
    cql_prepared *select;
    /* The same WHERE selecting only the primary key, the _id and the version columns
     * (NULL when it could not be prepared): it names a row alone over the message limit
     * without reading it. key_cols: each selected column's index among the table's. */
    cql_prepared *keys_select;
    size_t nkey_cols;
    int key_cols[SYNC_SCAN_MAX_KEY_COLS];
    sync_scan_task *tasks;
    size_t ntasks;
    ce_buf err;
};

/* The read plan of d for window w on table plan tp (AUTO and the fallbacks resolved; tp
 * NULL: no index known). Never NULL. */
const sync_read_plan *sync_read_plan_for(const sync_def *d, const sync_window *w, const sync_table_plan *tp);
/* Plan the read: resolve the mode, check it, prepare select_prefix + WHERE, make the
 * tasks. Failures fail the pass with the reason. *s is freed by sync_scan_free. */
ce_err sync_scan_plan(sync_pass_ctx *ctx, const sync_table_plan *tp, const char *select_prefix,
                      sync_scan *s);
/* Waits for a page request still in flight, then frees. */
void sync_scan_free(sync_scan *s);
/* A token-range task resumed at a saved position: it reads token > max(its start, after)
 * (its first bind). */
void sync_scan_task_start_after(sync_scan_task *t, int64_t after);
/* What a pass of ctx (its window, its sync) would read, without reading: the table plan,
 * the resolved mode and its check (`casselastic check`). Every outcome is in *out. */
void sync_read_forecast_fill(sync_pass_ctx *ctx, sync_read_forecast *out);

/* ---------------------------------------------------------------- reader.c */

/* One page handed from the reader thread to the pass. */
typedef struct {
    sync_scan_task *task;
    cql_result *result;        /* owned by whoever holds the page */
    bool task_done;            /* the task's last page */
    size_t bytes;              /* budget bytes it holds: sync_page_release gives them back */
    sync_budget *budget;
    size_t poison_bytes;       /* > 0: one row alone was over the message limit (an answer of
                                  this many bytes); result holds its key columns (scan's
                                  keys_select), to be dead-lettered */
} sync_page;

/* Free the page's result and give its bytes back to the budget. */
void sync_page_release(sync_page *page);

typedef struct {
    sync_pass_ctx *ctx;
    sync_scan *scan;
    sync_pipe *pipe;
    double cql_wait_s;         /* the reader's time blocked on Cassandra (read after join) */
    char errmsg[400];          /* why the read failed (read after join) */
} sync_reader;

/* Start reading every task of s on a thread of its own (s stays the reader's until
 * joined). CE_ENOMEM when the thread cannot start. With a budget (ctx->budget) the page
 * size follows the rows' measured bytes: a first page of one row, then as many rows as
 * keep a page under share / (queue depth + 2), never more than page_size; a request is
 * sent only when its page fits in the budget. */
ce_err sync_reader_start(sync_pass_ctx *ctx, sync_scan *s, sync_reader *rd);
/* The next page (*got false at the end; then the read's error, if any, is returned). */
ce_err sync_reader_next(sync_reader *rd, sync_page *page, bool *got);
/* Ask the reader to stop: it sends no new request and hands no new page over. */
void sync_reader_stop(sync_reader *rd);
/* Wait for the reader and free what it left; returns the read's error. */
ce_err sync_reader_join(sync_reader *rd);

/* ---------------------------------------------------------------- index_setup.c */

typedef struct {
    bool created;              /* this pass created the index */
    bool recover;              /* a marker says an earlier load was interrupted */
    es_index_settings *saved;  /* the settings before the bulk load, restored after */
} sync_index_setup;

/* The index, ready for the pass: created (with its mapping) when missing and allowed,
 * then, for an initial load, switched to bulk-load settings (marker file first; when
 * the marker cannot be written the load goes on without those settings). Fails the pass
 * when the index cannot be checked or created. */
ce_err sync_index_prepare(sync_pass_ctx *ctx, const sync_table_plan *tp, sync_index_setup *ix);
/* true when the index holds no document at the start of an initial pass. */
bool sync_index_starts_empty(sync_pass_ctx *ctx, const sync_index_setup *ix);
/* After the load: the saved settings back (or, after an interrupted load, the server's
 * defaults), the marker removed. */
void sync_index_restore(sync_pass_ctx *ctx, sync_index_setup *ix);

/* ---------------------------------------------------------------- cleanup.c */

typedef struct {
    char *id;
    int64_t version;
} sync_old_version;

/* PyCassElastic's PRIMARY KEY (id, version) layout: versions that lost are deleted from
 * Cassandra after a successful pass (delete_old_versions). */
typedef struct {
    bool on;                   /* the table has the layout and the cleanup is wanted */
    sync_old_version *olds;
    size_t n, cap;
} sync_cleanup;

/* Whether the cleanup applies to d and tp (sets c->on). */
void sync_cleanup_init(sync_cleanup *c, const sync_def *d, const sync_table_plan *tp);
/* A version Elasticsearch refused as older than the one it holds. */
void sync_cleanup_note(sync_cleanup *c, const char *id, size_t idlen, int64_t version);
/* A row read (rows of one partition arrive together, in clustering order). */
void sync_cleanup_track(sync_cleanup *c, sync_scan_task *t, const ce_buf *id, int64_t version);
/* DELETE the versions noted (best effort: failures are logged; the next pass retries). */
void sync_cleanup_run(sync_pass_ctx *ctx, const sync_table_plan *tp, sync_cleanup *c);
void sync_cleanup_free(sync_cleanup *c);

/* ---------------------------------------------------------------- scanack.c */

typedef struct {
    uint32_t task;             /* UINT32_MAX: outcome received */
    uint32_t page;             /* the page of its task it came in (sync_ack_pages seq) */
    int64_t version;
} sync_ack_slot;

/* One page of a range being converted or waiting for its documents' outcomes. */
typedef struct {
    int64_t at;                /* the range's position once the page is acknowledged
                                  (INT64_MIN: none) */
    uint32_t pending;          /* its documents without a final outcome */
    bool closed;               /* converted to its end: no more documents */
    bool failed;               /* a document FAILED: the position stops before it */
} sync_ack_page;

/* Per range: its pages not yet acknowledged, oldest first (a small ring). */
typedef struct {
    sync_ack_page *p;
    uint32_t cap, head, count;
    uint32_t seq;              /* sequence number of the oldest */
} sync_ack_pages;

typedef struct {
    bool on;                   /* the read plan is resumable */
    bool resumed;              /* this pass resumes an interrupted one */
    bool save_failed;
    sync_resume prog;          /* this pass's identity and its acknowledged ranges */
    size_t skipped;            /* ranges acknowledged before this pass */
    uint32_t *pending;         /* per range: documents sent without a final outcome */
    uint8_t *flags;            /* per range: read to its end, a document failed */
    sync_ack_pages *pages;     /* per range: pages whose documents are in flight */
    size_t npages;
    sync_ack_slot *ring;       /* documents in flight, oldest first */
    size_t cap, head, count;
    uint64_t base;             /* tag of the oldest */
    size_t unsaved;            /* ranges acknowledged since the last save */
    double last_save_s;
} sync_scan_ack;

/* After sync_scan_plan: for a resumable plan, the pass's identity, and the checkpoint's
 * saved progress when it fits (its ranges marked skip, the window end taken from it, a
 * log line with the ranges left), else a log line saying why the load starts over. Fails
 * the pass only when out of memory. *a freed by sync_scan_ack_free. */
ce_err sync_scan_ack_plan(sync_pass_ctx *ctx, sync_scan *s, sync_scan_ack *a);
/* A document of range `task` about to be committed: *tag is its bulk tag. CE_ENOMEM. */
ce_err sync_scan_ack_commit(sync_scan_ack *a, size_t task, int64_t version, uint64_t *tag);
/* A document's final outcome (final = indexed, conflict or dead-lettered; false = FAILED).
 * Returns the version it was sent with. */
int64_t sync_scan_ack_outcome(sync_scan_ack *a, uint64_t tag, bool final);
/* A page of range `task` was converted to its end: once its documents and those of the
 * range's earlier pages have final outcomes, the range's saved position moves to `at`
 * (every partition with a token <= at read; INT64_MIN: the page moves nothing). */
void sync_scan_ack_page_done(sync_scan_ack *a, size_t task, int64_t at);
/* The last page of range `task` was converted (every row committed or judged). */
void sync_scan_ack_read_done(sync_scan_ack *a, size_t task);
/* Save the progress into the checkpoint when ranges were acknowledged since the last save
 * and SYNC_RESUME_SAVE_S passed (force: at once). A failed save is logged, never fatal. */
void sync_scan_ack_save(sync_pass_ctx *ctx, sync_scan_ack *a, bool force);
/* End of the pass, after every bulk outcome: a complete pass drops the progress from the
 * checkpoint (the CHECKPOINT phase saves it), a failed or stopped one saves it. */
void sync_scan_ack_end(sync_pass_ctx *ctx, sync_scan_ack *a);
void sync_scan_ack_free(sync_scan_ack *a);

/* ---------------------------------------------------------------- c2e.c, c2e_bulk.c */

/* The state of one C->E pass (its phases in c2e.c, its bulk in c2e_bulk.c). */
typedef struct {
    sync_table_plan tp;
    sync_rows rows;
    sync_scan scan;
    sync_reader reader;
    sync_page page;
    size_t tasks_done;
    sync_index_setup ix;
    sync_cleanup cleanup;
    sync_scan_ack ack;           /* ranges acknowledged (resumable plans) */
    int64_t page_at;             /* the page's position in its range (scanack.c) */
    es_bulk *bulk;
    sync_pass_ctx *ctx;          /* for the bulk's item callback */
    const char *type;            /* mapping type for servers that have them */
    ce_buf id, scratch, err;
    uint64_t scanned;
    size_t bulk_reserved;        /* budget reserved for the bulk bodies */
    double es_wait_s;            /* time blocked on Elasticsearch (debug log) */
} sync_c2e;

/* Start c->bulk: its bodies' part of the budget reserved (bulk_max_bytes lowered for the
 * pass when they would take over a quarter of it), each document's verdict counted in
 * ctx->res (rejected -> dead letter, conflict -> cleanup note, failed -> warned). Fails
 * the pass on error. */
ce_err sync_c2e_bulk_start(sync_pass_ctx *ctx, sync_c2e *c);
/* A row of range `task` marked deleted: a delete action for c->id with its version
 * (external versioning, so an older one than Elasticsearch holds is a 409). Fails the pass
 * when the request fails; CE_ENOMEM. */
ce_err sync_c2e_bulk_delete(sync_pass_ctx *ctx, sync_c2e *c, size_t task, int64_t version);
/* Wait for every bulk request in flight (acknowledged work counts, whatever happened),
 * add the retries to ctx->res, log the pipeline's wait times; fails the pass on error. */
void sync_c2e_bulk_finish(sync_pass_ctx *ctx, sync_c2e *c);
/* Free the bulk and give its budget back (NULL bulk: only the budget). */
void sync_c2e_bulk_free(sync_pass_ctx *ctx, sync_c2e *c);
/* A row that cannot become a document: counted as rejected and dead-lettered with its
 * document when it converts (id NULL: none known), else warned. */
void sync_c2e_dead_letter_row(sync_pass_ctx *ctx, sync_c2e *c, const cql_value *cells, const char *id,
                              const char *reason);
/* The current page holds a row alone over the message limit (reader.c): its key columns
 * only. It goes to the dead letters by _id (no document: it was never read), unless the
 * window's row filter (filter) leaves it out. */
void sync_c2e_convert_poison(sync_pass_ctx *ctx, sync_c2e *c, bool filter);

#endif
