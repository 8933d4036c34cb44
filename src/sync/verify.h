/*
 * verify.h - public face of `casselastic verify`: prove a sync's two sides equal by token
 * range, list what differs, and (repair) fix only that.
 *
 * Keys and versions are compared, never bodies: Cassandra is read by token range (keys
 * and the version column only), Elasticsearch by a doc-values stream (no _source) whose
 * _ids are hashed into the same ranges. Ranges whose summaries differ are read again and
 * compared id by id. The engine prints nothing: progress goes to a callback, the result
 * into a report the caller formats (docs/verify.md).
 */
#ifndef CE_SYNC_VERIFY_H
#define CE_SYNC_VERIFY_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sync/engine.h"

/* What one record's difference is. */
typedef enum {
    SYNC_DIFF_ONLY_CASSANDRA = 0, /* in Cassandra, not in Elasticsearch */
    SYNC_DIFF_ONLY_ES,            /* in Elasticsearch, not in Cassandra */
    SYNC_DIFF_OLDER_CASSANDRA,    /* both, Cassandra's version is older */
    SYNC_DIFF_OLDER_ES,           /* both, Elasticsearch's version is older */
    SYNC_DIFF_KINDS
} sync_diff_kind;

/* What --repair did (or would do) about it. */
typedef enum {
    SYNC_FIX_NONE = 0,            /* not repaired (no --repair, or it failed) */
    SYNC_FIX_COPY_TO_ES,          /* the Cassandra row indexed with its version */
    SYNC_FIX_COPY_TO_CASSANDRA,   /* the document written as E->C writes it */
    SYNC_FIX_DELETE_CASSANDRA,    /* came from Elasticsearch, gone there: deleted here */
    SYNC_FIX_DELETE_ES            /* came from Cassandra, gone there: deleted here */
} sync_fix;

typedef struct {
    char *id;                     /* the _id */
    sync_diff_kind kind;
    bool has_c, has_e;
    int64_t c_version, e_version; /* when has_c / has_e */
    char c_source[32], e_source[32]; /* the source column / field ("" when none) */
    int64_t c_writetime;          /* WRITETIME of Cassandra's version column (us), INT64_MIN: none */
    bool marked;                  /* only_*: the other side holds the record marked deleted */
    int64_t mark_version;         /* ... at this version (deleted_col, docs/deletes.md) */
    bool in_flight;               /* the newer side's version is newer than the verify's start */
    sync_fix fix;                 /* what the repair applies (rules in docs/verify.md) */
    bool fixed;                   /* the repair was acknowledged */
} sync_diff;

/* Progress of one sync's verify (called often from the verifying thread). */
typedef struct {
    const char *sync;
    const char *phase;            /* "cassandra", "elasticsearch", "descend", "repair" */
    size_t ranges_done, ranges;   /* token ranges with a final verdict / in all */
    uint64_t rows;                /* records read so far (both sides) */
    double fraction;              /* share of the compare done (0..1), < 0 when unknown */
    double seconds;
    bool final;
} sync_verify_progress;

typedef void (*sync_verify_progress_fn)(const sync_verify_progress *p, void *ud);

typedef struct {
    bool repair;
    volatile sig_atomic_t *stop;  /* may be NULL; a stop keeps the progress file */
    sync_verify_progress_fn progress;
    void *progress_ud;
} sync_verify_opts;

/* The outcome of one sync. */
typedef struct {
    char name[128];
    ce_err rc;                    /* CE_OK when compared to the end */
    char error[256];
    size_t ranges, ranges_differing, ranges_resumed;
    uint64_t c_rows, e_docs;      /* records read while summarizing */
    uint64_t e_docs_aggregated;   /* documents counted by aggregations (token field), not read */
    uint64_t c_rows_descended, e_docs_descended;
    uint64_t es_requests, es_source_requests; /* search requests; those that asked for _source */
    size_t counts[SYNC_DIFF_KINDS];  /* differences (in-flight ones not counted) */
    size_t in_flight, fixed, fix_failed;
    sync_diff *diffs;             /* every difference found, in-flight ones included */
    size_t ndiffs;
    double seconds;
} sync_verify_result;

typedef struct {
    size_t nsyncs;
    sync_verify_result *syncs;    /* owned by the report: sync_verify_report_free */
} sync_verify_report;

/*
 * Verify (and with o->repair, repair) every sync of the engine's config. CE_OK when every
 * sync was compared to its end (look at the results for differences); CE_ECONFIG when a
 * sync cannot be verified (no version column, partition key not in the _id: its result
 * says why); CE_ECANCELED when stopped (the progress files let the next run resume); the
 * first server error otherwise. *report is filled in every case. Each sync's outcome (not a
 * stopped one's) is recorded in <state_dir>/casselastic.verify.json for `status`.
 */
ce_err sync_engine_verify(sync_engine *e, const sync_verify_opts *o, sync_verify_report *report);
/* Differences that remain: those counted (in-flight ones are not), less the ones fixed
 * when repair is true. */
size_t sync_verify_remaining(const sync_verify_result *r, bool repair);
/* "equal", "different", "failed" or "stopped": the one-word outcome of a sync's verify. */
const char *sync_verify_outcome(const sync_verify_result *r, bool repair);
/* Free what a report holds and zero it. NULL is a no-op. */
void sync_verify_report_free(sync_verify_report *r);
/* Names for texts and JSON: "only_cassandra", ...; "copy_to_es", ... Static. */
const char *sync_diff_kind_name(sync_diff_kind k);
const char *sync_fix_name(sync_fix f);

#endif
