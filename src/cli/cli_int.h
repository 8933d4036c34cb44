/*
 * cli_int.h - internal interfaces of the command line (src/cli): parsed options, the
 * commands, and the daemon pieces they share (config loading with printed problems,
 * logging setup, signals, pidfile, state folder, status file).
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
#include "sync/config.h"
#include "util/err.h"

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
    int timeout_s;              /* stop --timeout, default 60 */
} cli_opts;

int cli_cmd_check(const cli_opts *o);
int cli_cmd_config_reference(void);
int cli_cmd_once(const cli_opts *o);
int cli_cmd_run(const cli_opts *o);
int cli_cmd_status(const cli_opts *o);
int cli_cmd_stop(const cli_opts *o);

/* ---------------------------------------------------------------- daemon.c */

/* Load and validate o->config_path (with --state-dir), print every problem to stderr
 * ("CONFIG: path: message"). Returns CLI_EXIT_OK with *cfg filled (free it with
 * sync_config_free) or CLI_EXIT_CONFIG. Applies --sync filters (unknown name: exit 2)
 * and --log-level (bad level: exit 2). Prints warnings unless quiet. */
int cli_config_load(const cli_opts *o, sync_config *cfg, bool quiet);

/* Apply log level and log_file (opened for append; SIGHUP reopens it). CLI_EXIT_OK or
 * CLI_EXIT_FAILED (message printed) when the file cannot be opened. */
int cli_logging_setup(const sync_config *cfg);
void cli_logging_close(void);

/* Create the state folder (and parents) when missing. */
ce_err cli_state_dir_make(const char *dir);

/* SIGTERM/SIGINT set cli_stop_flag (a second SIGINT exits at once with 130); SIGHUP
 * reopens the log file. */
extern volatile sig_atomic_t cli_stop_flag;
void cli_signals_install(void);
/* Sleep up to ms milliseconds, waking early when cli_stop_flag is set. */
void cli_sleep_ms(int64_t ms);
int64_t cli_now_ms(void);       /* wall clock, Unix ms */
int64_t cli_mono_ms(void);      /* monotonic ms */

/* The pidfile <state_dir>/casselastic.pid, held with an exclusive flock for the life of
 * the process that owns the state folder (run or once). */
typedef struct cli_pidfile cli_pidfile;
/* CE_OK: acquired (stale files are replaced). CE_ECONFLICT: another live process holds
 * it (*holder_pid says which, 0 if unknown). CE_EIO: cannot create the file. */
ce_err cli_pidfile_acquire(const char *state_dir, cli_pidfile **out, long *holder_pid);
/* Remove the file and release the lock. NULL is a no-op. */
void cli_pidfile_release(cli_pidfile *p);
/* Is a process holding the state folder? *pid gets its pid when known. */
bool cli_daemon_running(const char *state_dir, long *pid);

/* Exit code for an error from the engine or a client (3 for unreachable servers). */
int cli_exit_code_for(ce_err err);

/* Human duration "2h03m", "12.3s". */
void cli_format_duration(int64_t ms, char *out, size_t cap);

#endif
