/*
 * cli_int.h - internal interfaces of the command line (src/cli): parsed options, the
 * commands, and the pieces they share: config loading with printed problems (cli_common.c),
 * the log file (logfile.c), signals and process setup (process.c), the pidfile (pidfile.c),
 * the status file (status_file.c). `once` and `run` share one pass loop (cmd_pass.c).
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
#include "util/err.h"

struct json_t;

#define CLI_MAX_SYNC_FILTERS 64

typedef struct {
    const char *config_path;
    const char *state_dir;      /* --state-dir */
    const char *log_level;      /* --log-level */
    const char *since;          /* --since */
    const char *sync_names[CLI_MAX_SYNC_FILTERS]; /* --sync (repeatable) */
    size_t nsync_names;
    bool json;                  /* status --json */
    bool effective;             /* check --effective */
    bool exit_on_error;         /* run --exit-on-error */
    bool allow_core_dumps;      /* run/once --allow-core-dumps (debugging) */
    int timeout_s;              /* stop --timeout, default 60 */
} cli_opts;

int cli_cmd_check(const cli_opts *o);
int cli_cmd_config_reference(void);
int cli_cmd_once(const cli_opts *o);
int cli_cmd_run(const cli_opts *o);
int cli_cmd_status(const cli_opts *o);
int cli_cmd_stop(const cli_opts *o);

/* ---------------------------------------------------------------- cli_common.c */

/* Load and validate o->config_path (with --state-dir), print every problem to stderr
 * ("CONFIG: error: path: message"; warnings too unless quiet). Returns CLI_EXIT_OK with *cfg
 * filled (free it with sync_config_free) or CLI_EXIT_CONFIG. Applies --sync filters (unknown
 * name: exit 2) and --log-level (bad level: exit 2). warnings may be NULL; else it is zeroed
 * and, on CLI_EXIT_OK, receives the warnings (the caller frees it). */
int cli_config_load(const cli_opts *o, sync_config *cfg, bool quiet, cli_config_problems *warnings);

/* Exit code for an error from the engine or a client (3 for unreachable servers). */
int cli_exit_code_for(ce_err err);

/* Human duration "2h03m", "12.3s". */
void cli_format_duration(int64_t ms, char *out, size_t cap);

/* ---------------------------------------------------------------- logfile.c */

/* Apply log level and log_file (opened for append, created 0600; SIGHUP reopens it).
 * CLI_EXIT_OK or CLI_EXIT_FAILED (message printed) when the file cannot be opened. */
int cli_logging_setup(const sync_config *cfg);
void cli_logging_close(void);
/* Reopen log_file on the same stream (async-signal-safe; no-op without a log file). */
void cli_logfile_reopen(void);

/* ---------------------------------------------------------------- process.c */

/* SIGTERM/SIGINT set cli_stop_flag (a second SIGINT exits at once with 130); SIGHUP
 * reopens the log file. */
extern volatile sig_atomic_t cli_stop_flag;
void cli_signals_install(void);
/* No core dumps from this process (RLIMIT_CORE 0 and not dumpable): a dump would hold the
 * passwords and keys. CE_EIO when the kernel refused either (the other is still applied). */
ce_err cli_core_dumps_disable(void);
/* Sleep up to ms milliseconds, waking early when cli_stop_flag is set. */
void cli_sleep_ms(int64_t ms);
int64_t cli_now_ms(void);       /* wall clock, Unix ms */
int64_t cli_mono_ms(void);      /* monotonic ms */

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

/* Write the status file atomically (0600). Failures are logged and returned. */
ce_err cli_status_write(const char *state_dir, const cli_pass_stats *st, const cli_pass_outcome *po);
/* The status file as a JSON object (caller decrefs), NULL when missing or unreadable. */
struct json_t *cli_status_load(const char *state_dir);

#endif
