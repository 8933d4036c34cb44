/*
 * engine.h - the sync engine: runs passes of the configured syncs.
 *
 * The CLI loads a sync_config, makes an engine (which connects to both sides) and
 * calls sync_engine_pass once (`once`) or every period (`run`). The stop flag is
 * checked between batches: when set, the pass finishes what is in flight, saves
 * checkpoints for what was acknowledged, and returns CE_ECANCELED.
 */
#ifndef CE_SYNC_ENGINE_H
#define CE_SYNC_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include "sync/config.h"
#include "util/err.h"

typedef struct sync_engine sync_engine;

/* Progress of one direction of one sync, reported while a pass runs (the engine never
 * prints: the caller draws what it likes). */
typedef struct {
    const char *sync;        /* sync name */
    const char *direction;   /* "to_es" or "to_cassandra" */
    uint64_t read, done;     /* records read, records with a final outcome */
    double fraction;         /* share of the work done, < 0 when unknown */
    double seconds;          /* since the pass of this direction started */
    bool final;              /* last report of this direction */
} sync_progress_info;

typedef void (*sync_progress_fn)(const sync_progress_info *p, void *ud);

typedef struct {
    char name[128];
    bool ok;
    /* Cassandra -> ES */
    uint64_t c2e_read, c2e_indexed, c2e_conflicts, c2e_skipped, c2e_rejected, c2e_failed;
    uint64_t c2e_deleted_old;
    /* ES -> Cassandra */
    uint64_t e2c_read, e2c_written, e2c_skipped, e2c_rejected, e2c_failed, e2c_columns_added;
    uint64_t e2c_no_version;     /* documents without the version field: no window reads them */
    int64_t window_start_ms, window_end_ms;
    double seconds;
    char error[256];
    /* per direction: success and wall time of this pass (a direction not run: false, 0) */
    bool c2e_ok, e2c_ok;
    double c2e_seconds, e2c_seconds;
    /* Cassandra -> ES retries by cause: documents sent again in a bulk request (429/5xx
     * items, or a whole request after a 5xx or an unusable answer); Cassandra pages read again */
    uint64_t c2e_bulk_retries, c2e_read_retries;
    /* soft deletes (deleted_col, docs/deletes.md): documents deleted for marked rows (a 404,
     * already gone, included); rows deleted for marked documents */
    uint64_t c2e_deleted, e2c_deleted;
    /* pages read again with half the rows: an answer was over the Cassandra message limit
     * (C->E) or the Elasticsearch response limit (E->C) */
    uint64_t c2e_page_shrinks, e2c_page_shrinks;
    /* the pass of this sync was ended early by opts->retire (not a failure, not a success:
     * nothing about its health) */
    bool retired;
    /* requests the Elasticsearch and Cassandra clients sent again on their own during each
     * direction, by cause (es_retry_cause, cql_retry_cause; docs/cli.md, Metrics) */
    struct sync_client_retries {
        uint64_t es_429, es_5xx, es_connection;
        uint64_t cassandra_overloaded, cassandra_connection, cassandra_unprepared;
    } c2e_client_retries, e2c_client_retries;
} sync_pass_result;

typedef struct {
    bool has_since;          /* --since: override checkpoints for this run */
    int64_t since_ms;
    volatile sig_atomic_t *stop;   /* set by signal handlers; may be NULL */
    sync_progress_fn progress;     /* may be NULL; called from the pass's thread, often */
    void *progress_ud;
    /* Asked, per sync, before each direction and between batches as stop is: true ends that
     * sync's pass as a stop would (what was acknowledged is kept; its next pass reads the
     * rest) and the engine goes on with the next sync (`run` retires the syncs a reload
     * removes or changes). May be NULL; called from the pass's thread. */
    bool (*retire)(const char *sync, void *ud);
    void *retire_ud;
    /* Called when sync i (the config's index) has run both its directions in this pass,
     * with its result (not for a sync stopped or retired): the caller may record it before
     * the other syncs run. May be NULL; called from the pass's thread. */
    void (*sync_done)(size_t i, const sync_pass_result *res, void *ud);
    void *sync_done_ud;
} sync_pass_opts;

typedef struct {
    size_t nsyncs;
    sync_pass_result *syncs; /* owned by the engine; valid until the next pass / free */
} sync_pass_report;

/* What an incremental Cassandra -> Elasticsearch pass of one sync would read
 * (casselastic check), found by the same table and read plans a pass uses. */
typedef struct {
    char mode[16];           /* the read mode ("index", "filter", ...); "" when unknown */
    bool version_index;      /* a storage-attached index serves the version column */
    bool scans_table;        /* Cassandra reads every row of the table at every pass */
    bool refused;            /* the read mode refuses to start (problem says why) */
    char problem[768];       /* why the pass would fail ("" when it would not) */
    char create_index[512];  /* without the index: the CREATE INDEX ... USING 'sai' statement */
} sync_read_forecast;

/* Connect to Cassandra only (timeout_ms as connect and request time-out, the config's
 * other settings) and forecast the read of every sync that goes to Elasticsearch into out
 * (cfg->nsyncs entries; mode "" for the others). Nothing is written anywhere. When
 * Cassandra cannot be reached: that error, with the reason in errmsg. */
ce_err sync_engine_forecast(const sync_config *cfg, int timeout_ms, sync_read_forecast *out, char *errmsg,
                            size_t errmsg_size);

/* The same forecast over a connected engine's session (no second connection), for the syncs
 * of cfg (the engine's config, or one a reload would apply); out has cfg->nsyncs entries.
 * Returns how many syncs a pass would refuse. Not while a pass runs. */
size_t sync_engine_check_tables(sync_engine *e, const sync_config *cfg, sync_read_forecast *out);
/* Connect to Cassandra and Elasticsearch. On failure *out may still be set (use
 * sync_engine_errmsg), free it in every case. */
ce_err sync_engine_new(const sync_config *cfg, sync_engine **out);
const char *sync_engine_errmsg(const sync_engine *e);
/* One pass of every sync. CE_OK only when all syncs succeeded; CE_EPARTIAL when some
 * failed (see report), CE_ECANCELED when stopped. */
ce_err sync_engine_pass(sync_engine *e, const sync_pass_opts *o, sync_pass_report *report);
void sync_engine_free(sync_engine *e);

#endif
