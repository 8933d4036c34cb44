/*
 * cli_int.h - internal interfaces of the command line (src/cli): parsed options, the
 * commands, and the pieces they share: config loading with printed problems (cli_common.c),
 * the log file (logfile.c), signals and process setup (process.c), the pidfile (pidfile.c),
 * the status file (status_file.c), the reload plan (reload.c). `once` and `run` share one
 * pass runner (pass_runner.h, cmd_pass.c); the daemon loop is cmd_run.c.
 *
 * The commands print to stdout/stderr (they are the program's face); everything
 * below them logs through util/log.h.
 */
#ifndef CE_CLI_INT_H
#define CE_CLI_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cli/config_load.h"
#include "sync/config.h"
#include "sync/engine.h"
#include "util/buf.h"
#include "util/err.h"

struct json_t;
struct metrics;

#define CLI_MAX_SYNC_FILTERS 64

typedef struct {
    const char *config_path;
    const char *state_dir;      /* --state-dir */
    const char *log_level;      /* --log-level */
    const char *since;          /* --since */
    const char *sync_names[CLI_MAX_SYNC_FILTERS]; /* --sync (repeatable) */
    size_t nsync_names;
    bool json;                  /* status --json */
    const char *json_path;      /* verify --json FILE */
    bool repair;                /* verify --repair */
    bool effective;             /* check --effective */
    bool exit_on_error;         /* run --exit-on-error */
    bool allow_core_dumps;      /* run/once --allow-core-dumps (debugging) */
    const char *metrics_listen; /* run --metrics-listen (overrides metrics_listen) */
    int timeout_s;              /* stop --timeout, default 60 */
} cli_opts;

int cli_cmd_check(const cli_opts *o);
int cli_cmd_config_reference(void);
int cli_cmd_once(const cli_opts *o);
int cli_cmd_run(const cli_opts *o);
int cli_cmd_status(const cli_opts *o);
int cli_cmd_stop(const cli_opts *o);
int cli_cmd_verify(const cli_opts *o);

/* ---------------------------------------------------------------- cli_common.c */

/* Load and validate o->config_path (with --state-dir), print every problem to stderr
 * ("CONFIG: error: path: message"; warnings too unless quiet). Returns CLI_EXIT_OK with *cfg
 * filled (free it with sync_config_free) or CLI_EXIT_CONFIG. Applies --sync filters (unknown
 * name: exit 2) and --log-level (bad level: exit 2). warnings may be NULL; else it is zeroed
 * and, on CLI_EXIT_OK, receives the warnings (the caller frees it). */
int cli_config_load(const cli_opts *o, sync_config *cfg, bool quiet, cli_config_problems *warnings);

/* The same load without printing (what a reload uses): CLI_EXIT_OK with *cfg filled and
 * probs holding the warnings; else CLI_EXIT_CONFIG (or CLI_EXIT_FAILED when out of memory)
 * with the file's problems in probs and/or a reason that is not the file's (an unknown
 * --sync name, a bad --log-level) in why (whycap bytes; "" when none). probs is always
 * initialised: the caller frees it. */
int cli_config_load_quiet(const cli_opts *o, sync_config *cfg, cli_config_problems *probs, char *why,
                          size_t whycap);

/* Exit code for an error from the engine or a client (3 for unreachable servers). */
int cli_exit_code_for(ce_err err);

/* Human duration "2h03m", "12.3s". */
void cli_format_duration(int64_t ms, char *out, size_t cap);

/* ---------------------------------------------------------------- logfile.c */

/* Apply log_level, log_format and log_file (opened for append, created 0600; SIGHUP reopens
 * it). Called again (a reload) it switches to the new file and closes the old one.
 * CLI_EXIT_OK or CLI_EXIT_FAILED (message printed; the previous file is kept) when the file
 * cannot be opened. */
int cli_logging_setup(const sync_config *cfg);
void cli_logging_close(void);
/* Reopen log_file on the same stream (async-signal-safe; no-op without a log file). */
void cli_logfile_reopen(void);

/* ---------------------------------------------------------------- process.c */

/* SIGTERM/SIGINT set cli_stop_flag (a second SIGINT exits at once with 130); SIGHUP
 * reopens the log file and sets cli_reload_flag (`run` reloads its config between passes
 * and clears it). */
extern volatile sig_atomic_t cli_stop_flag;
extern volatile sig_atomic_t cli_reload_flag;
void cli_signals_install(void);
/* No core dumps from this process (RLIMIT_CORE 0 and not dumpable): a dump would hold the
 * passwords and keys. CE_EIO when the kernel refused either (the other is still applied). */
ce_err cli_core_dumps_disable(void);
/* Sleep up to ms milliseconds (slices of at most 200 ms), waking early when cli_stop_flag
 * or cli_reload_flag is set. */
void cli_sleep_ms(int64_t ms);
int64_t cli_now_ms(void);       /* wall clock, Unix ms */
int64_t cli_mono_ms(void);      /* monotonic ms */

/* ---------------------------------------------------------------- cmd_check.c */

/* The checks `check` makes against the tables (read mode, deleted_col, token_field: a pass
 * would refuse them), over a connected engine: each refusal on stderr as `check` says it and
 * in the log. Returns how many syncs are refused (`once` and `run` then exit 2 before their
 * first pass; a reload is refused). */
size_t cli_table_refusals(sync_engine *e, const sync_config *cfg);

/* ---------------------------------------------------------------- reload.c */

/* What a reload changes (computed before anything is applied). */
typedef struct {
    char refused[160];          /* "" = can be applied; else why not (a key only a restart changes) */
    bool connection_changed;    /* a key the engine reads when made (reload.c): a new engine */
    bool logging_changed;       /* log_file, log_level, log_format */
    size_t nadded, nremoved, nchanged;  /* syncs, matched by name */
} cli_reload_plan;

/* Compare the running config with a new, validated one, key by key from the key table; log
 * one line per sync added, removed or changed. listen_from_flag: --metrics-listen fixes the
 * address, so metrics_listen in the file does not matter. */
void cli_reload_plan_make(const sync_config *old, const sync_config *nw, bool listen_from_flag,
                          cli_reload_plan *plan);
/* Whether a reload from old to nw removes or changes sync `name` (its pass then ends at its
 * next batch boundary). */
bool cli_reload_sync_touched(const sync_config *old, const sync_config *nw, const char *name);

/* ---------------------------------------------------------------- pidfile.c */

/* The pidfile of the state folder, held with an exclusive flock for the life of the process
 * that owns the folder (run or once). */
typedef struct cli_pidfile cli_pidfile;
/* CE_OK: acquired (stale files are replaced). CE_ECONFLICT: another live process holds
 * it (*holder_pid says which, 0 if unknown). CE_EIO: cannot create the file. */
ce_err cli_pidfile_acquire(const char *state_dir, cli_pidfile **out, long *holder_pid);
/* Remove the file and release the lock. NULL is a no-op. */
void cli_pidfile_release(cli_pidfile *p);
/* Is a process holding the state folder? *pid gets its pid when known. */
bool cli_daemon_running(const char *state_dir, long *pid);

/* ---------------------------------------------------------------- status_file.c */

/* What the process has done so far (run: many passes; once: one). */
typedef struct {
    const char *mode;          /* "run" | "once" */
    int64_t started_ms;        /* process start, Unix ms */
    uint64_t passes, failed_passes;
} cli_pass_stats;

/* One finished pass. */
typedef struct {
    int64_t started_ms, finished_ms;   /* Unix ms */
    ce_err err;                        /* what sync_engine_pass returned */
    const char *errmsg;                /* engine's detail, may be NULL */
    const sync_pass_report *report;    /* may be NULL */
} cli_pass_outcome;

/* Write the status file of cfg's state folder atomically (0600): cfg's syncs (the running
 * set), the last pass (po; NULL before the first) and what the registry m holds for each
 * (last success, totals). Failures are logged and returned. */
ce_err cli_status_write(const sync_config *cfg, const cli_pass_stats *st, const cli_pass_outcome *po,
                        struct metrics *m);
/* The status file as a JSON object (caller decrefs), NULL when missing or unreadable. */
struct json_t *cli_status_load(const char *state_dir);
/* A running pass of sync (NULL: every sync) made progress at progress_ms: the status file
 * says so (rewritten atomically), so `status` judges health as /healthz does during a long
 * pass or a scheduled verify. */
ce_err cli_status_note_progress(const char *state_dir, const char *sync, int64_t progress_ms);
/* The status file's entry of sync (NULL: every sync) rewritten: progress_ms when > 0, and
 * with m its "directions" from the registry (a pass of it just recorded; its progress_ms
 * dropped), so `status` sees a sync's pass as soon as it ends, not after the other syncs'. */
struct metrics;
ce_err cli_status_update_sync(const char *state_dir, const char *sync, int64_t progress_ms, struct metrics *m);
/* The health rule (metrics_health) applied at now_ms to what a status file says: a registry
 * rebuilt from its period, syncs and directions. True when healthy; json (may be NULL)
 * receives metrics_health's object. */
bool cli_status_health(struct json_t *status, int64_t now_ms, ce_buf *json);

#endif
