/*
 * pass_runner.h - what `once` (cmd_pass.c) and `run` (cmd_run.c) share: the runner that owns,
 * while a command drives passes, the config, the engine, the pidfile, the metrics registry
 * and the systemd handle. cmd_pass.c implements it; only those two commands include it.
 */
#ifndef CE_CLI_PASS_RUNNER_H
#define CE_CLI_PASS_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include "cli/cli_int.h"
#include "cli/metrics.h"
#include "cli/sdnotify.h"

/* The progress line on a terminal (stderr, \r, at most 4 redraws a second). */
typedef struct {
    double last_draw_s;
    bool drawn;
} cli_progress_line;

typedef struct {
    const cli_opts *opts;
    sync_config cfg;            /* the running config; the engine points at it (a reload swaps
                                 * its content in place) */
    sync_pass_opts pass_opts;
    cli_progress_line progress;
    bool tty;                   /* stderr is a terminal: the progress line is drawn */
    cli_pidfile *pidfile;
    sync_engine *engine;
    bool core_dumps_on;         /* --allow-core-dumps, or the kernel refused to switch them off */
    cli_pass_stats stats;
    metrics *metrics;           /* always set: per-pass counters, last successes (status file);
                                 * serves /metrics and /healthz when an address is given */
    sdnotify *notify;           /* `run` only; NULL (every call a no-op) in `once` */
    int64_t progress_noted_ms;  /* monotonic: last progress given to the registry ... */
    int64_t progress_saved_ms;  /* ... and to the status file (note_progress) */
} cli_pass_runner;

/* Everything once and run share before the first pass: the config (and --metrics-listen,
 * checked first: exit 2), core dumps off, the state folder, the log, the pidfile, the
 * registry (with its HTTP server when listen is true and an address is set: `run`), the
 * status file, the signal handlers. Returns an exit code; on anything but CLI_EXIT_OK
 * nothing is left to free. */
int cli_runner_prepare(cli_pass_runner *d, const cli_opts *o, const char *mode, bool listen);
/* Free what the runner holds (engine, registry, pidfile, log, config). */
void cli_runner_finish(cli_pass_runner *d);
/* Connect (sync_engine_new); on failure log and return the error (the engine freed), with
 * the detail in detail (cap bytes). attempt: 0-based, for the log line. */
ce_err cli_runner_connect(cli_pass_runner *d, int attempt, char *detail, size_t cap);
/* One pass of every sync: the pass, its log lines, the metrics, the status file. Returns
 * what the engine returned; *report_out (may be NULL) gets the report (valid until the next
 * pass). */
ce_err cli_runner_pass(cli_pass_runner *d, sync_pass_report *report_out);
/* Work is moving (a page, a batch, a verify range): the health rule's input for sync (NULL:
 * every sync), in the registry at most once a second and in the status file at most every
 * period (1 to 5 s). Called from the pass's and the verify's progress callbacks. */
void cli_runner_note_progress(cli_pass_runner *d, const char *sync);
/* The config's warnings in the log (at every start and every accepted reload). */
void cli_runner_log_warnings(const cli_config_problems *w);

#endif
