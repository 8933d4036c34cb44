/*
 * cmd_pass.c - `once` and `run`: the only commands that drive the engine (engine.h).
 *
 * Both load and validate the config first (exit 2, nothing created), then switch core dumps
 * off, create the state folder (0700), open the log, log the config's warnings, take the
 * pidfile and connect. One function runs a pass (run_pass: the pass, its log lines, the
 * status file); `once` calls it once, `run` every period.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "sync/checkpoint.h"
#include "sync/engine.h"
#include "sync/state.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

/* The progress line on a terminal (stderr, \r, at most 4 redraws a second). */
typedef struct {
    double last_draw_s;
    bool drawn;
} progress_line;

/* Everything `once` and `run` hold while they run. */
typedef struct {
    const cli_opts *opts;
    sync_config cfg;
    sync_pass_opts pass_opts;
    progress_line progress;
    cli_pidfile *pidfile;
    sync_engine *engine;
    bool core_dumps_on;         /* --allow-core-dumps, or the kernel refused to switch them off */
    cli_pass_stats stats;
} pass_runner;

static void progress_draw(const sync_progress_info *p, void *ud)
{
    progress_line *pl = ud;
    double now = ce_mono_s();
    if (!p->final && now - pl->last_draw_s < 0.25)
        return;
    if (p->final && !pl->drawn)
        return;
    pl->last_draw_s = now;
    double rate = p->seconds > 0 ? (double)p->done / p->seconds : 0;
    char eta[32] = "";
    if (!p->final && p->fraction > 0.01 && p->fraction < 1.0)
        snprintf(eta, sizeof eta, " eta %.0fs", p->seconds / p->fraction - p->seconds);
    fprintf(stderr, "\r%s %s: read %llu, done %llu, %.0f/s%s%s\033[K", p->sync, p->direction,
            (unsigned long long)p->read, (unsigned long long)p->done, rate, eta, p->final ? "\n" : "");
    fflush(stderr);
    pl->drawn = !p->final;
}

static void print_summary(const sync_pass_report *rep)
{
    for (size_t i = 0; i < rep->nsyncs; i++) {
        const sync_pass_result *r = &rep->syncs[i];
        char ws[32] = "", we[32] = "";
        if (r->window_end_ms > 0) {
            sync_format_iso_ms(r->window_start_ms, ws);
            sync_format_iso_ms(r->window_end_ms, we);
        }
        if (r->ok)
            printf("%s: ok in %.2f s%s%s%s%s\n", r->name, r->seconds, we[0] ? ", window " : "", ws,
                   we[0] ? " .. " : "", we);
        else
            printf("%s: FAILED after %.2f s: %s\n", r->name, r->seconds, r->error[0] ? r->error : "(no detail)");
        printf("  cassandra -> es: read %llu, indexed %llu, conflicts %llu, skipped %llu, rejected %llu, "
               "failed %llu, old versions deleted %llu\n",
               (unsigned long long)r->c2e_read, (unsigned long long)r->c2e_indexed,
               (unsigned long long)r->c2e_conflicts, (unsigned long long)r->c2e_skipped,
               (unsigned long long)r->c2e_rejected, (unsigned long long)r->c2e_failed,
               (unsigned long long)r->c2e_deleted_old);
        printf("  es -> cassandra: read %llu, written %llu, skipped %llu, rejected %llu, failed %llu, "
               "columns added %llu\n",
               (unsigned long long)r->e2c_read, (unsigned long long)r->e2c_written,
               (unsigned long long)r->e2c_skipped, (unsigned long long)r->e2c_rejected,
               (unsigned long long)r->e2c_failed, (unsigned long long)r->e2c_columns_added);
    }
    fflush(stdout);
}

static void log_results(const sync_pass_report *rep)
{
    for (size_t i = 0; i < rep->nsyncs; i++) {
        const sync_pass_result *r = &rep->syncs[i];
        char qn[CE_LOG_QUOTE_MAX], qe[CE_LOG_QUOTE_MAX];
        ce_log_quote(qn, sizeof qn, r->name);
        if (r->ok)
            ce_info("sync=%s msg=\"pass done\" seconds=%.3f c2e_read=%llu c2e_indexed=%llu c2e_conflicts=%llu "
                    "c2e_rejected=%llu e2c_read=%llu e2c_written=%llu e2c_rejected=%llu",
                    qn, r->seconds, (unsigned long long)r->c2e_read, (unsigned long long)r->c2e_indexed,
                    (unsigned long long)r->c2e_conflicts, (unsigned long long)r->c2e_rejected,
                    (unsigned long long)r->e2c_read, (unsigned long long)r->e2c_written,
                    (unsigned long long)r->e2c_rejected);
        else
            ce_error("sync=%s msg=\"pass failed\" seconds=%.3f error=%s", qn, r->seconds,
                     ce_log_quote(qe, sizeof qe, r->error));
    }
}

/* The config's warnings (TLS not verified, credentials without TLS, ...) in the log, at
 * every start: stderr may not be read by anyone once the daemon runs. */
static void log_warnings(const cli_config_problems *w)
{
    ce_buf b = CE_BUF_INIT;
    for (size_t i = 0; i < w->n; i++) {
        char q[CE_LOG_QUOTE_MAX];
        ce_buf_reset(&b);
        cli_config_problem_format(&w->v[i], &b);
        ce_warn("msg=\"config warning\" detail=%s", ce_log_quote(q, sizeof q, ce_buf_cstr(&b)));
    }
    ce_buf_free(&b);
}

static int parse_since(pass_runner *d)
{
    const char *since = d->opts->since;
    if (!since)
        return CLI_EXIT_OK;
    if (sync_parse_since(since, &d->pass_opts.since_ms) != CE_OK) {
        fprintf(stderr, "casselastic: --since: expected \"YYYYMMDD HH:MM\" or ISO 8601 (UTC), got \"%s\"\n", since);
        return CLI_EXIT_CONFIG;
    }
    d->pass_opts.has_since = true;
    return CLI_EXIT_OK;
}

/* The state folder, the log and the pidfile: the process owns the folder afterwards. */
static int take_state_folder(pass_runner *d, const cli_config_problems *warnings)
{
    const char *dir = d->cfg.state_dir;
    if (sync_state_mkdir(dir) != CE_OK) {
        fprintf(stderr, "casselastic: cannot create the state folder %s\n", dir);
        return CLI_EXIT_FAILED;
    }
    int rc = cli_logging_setup(&d->cfg);
    if (rc != CLI_EXIT_OK)
        return rc;
    log_warnings(warnings);
    if (d->core_dumps_on)
        ce_warn("msg=\"core dumps are allowed: a dump would hold the passwords and keys\" allow_core_dumps=%s",
                d->opts->allow_core_dumps ? "true" : "false");
    long holder = 0;
    ce_err err = cli_pidfile_acquire(dir, &d->pidfile, &holder);
    if (err == CE_ECONFLICT)
        fprintf(stderr, "casselastic: another casselastic (pid %ld) is using the state folder %s; stop it first "
                        "(casselastic stop -c %s) or use another --state-dir\n",
                holder, dir, d->opts->config_path);
    else if (err)
        fprintf(stderr, "casselastic: cannot write the pidfile in %s: %s\n", dir, ce_strerror(err));
    return err ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}

static void runner_finish(pass_runner *d)
{
    sync_engine_free(d->engine);
    d->engine = NULL;
    cli_pidfile_release(d->pidfile);
    d->pidfile = NULL;
    cli_logging_close();
    sync_config_free(&d->cfg);
}

/* Everything once and run share before the first pass. Returns an exit code; on anything
 * but CLI_EXIT_OK nothing is left to free. */
static int prepare(pass_runner *d, const cli_opts *o, const char *mode)
{
    memset(d, 0, sizeof *d);
    d->opts = o;
    /* First: the config and the environment hold secrets from here on. */
    d->core_dumps_on = o->allow_core_dumps || cli_core_dumps_disable() != CE_OK;
    cli_config_problems warnings;
    int rc = cli_config_load(o, &d->cfg, false, &warnings);
    if (rc != CLI_EXIT_OK)
        return rc;
    d->pass_opts.stop = &cli_stop_flag;
    if (isatty(STDERR_FILENO)) {
        d->pass_opts.progress = progress_draw;
        d->pass_opts.progress_ud = &d->progress;
    }
    rc = parse_since(d);
    if (rc == CLI_EXIT_OK)
        rc = take_state_folder(d, &warnings);
    cli_config_problems_free(&warnings);
    if (rc != CLI_EXIT_OK) {
        runner_finish(d);
        return rc;
    }
    d->stats.mode = mode;
    d->stats.started_ms = cli_now_ms();
    cli_signals_install();
    return CLI_EXIT_OK;
}

/* One pass of every sync: the pass, its log lines, the status file. Returns what the
 * engine returned; *report_out (may be NULL) gets the report (valid until the next pass). */
static ce_err run_pass(pass_runner *d, sync_pass_report *report_out)
{
    sync_pass_report rep = {0};
    int64_t t0 = cli_now_ms();
    ce_err err = sync_engine_pass(d->engine, &d->pass_opts, &rep);
    d->pass_opts.has_since = false; /* --since: first pass only */
    cli_pass_outcome out = {.started_ms = t0, .finished_ms = cli_now_ms(), .err = err,
                            .errmsg = sync_engine_errmsg(d->engine), .report = &rep};
    d->stats.passes++;
    if (err != CE_OK && err != CE_ECANCELED)
        d->stats.failed_passes++;
    cli_status_write(d->cfg.state_dir, &d->stats, &out);
    log_results(&rep);
    if (report_out)
        *report_out = rep;
    return err;
}

/* Connect; on failure log (and return) the error, the engine freed. */
static ce_err engine_connect(pass_runner *d, int attempt, char *detail, size_t cap)
{
    ce_err err = sync_engine_new(&d->cfg, &d->engine);
    if (!err)
        return CE_OK;
    const char *msg = d->engine ? sync_engine_errmsg(d->engine) : NULL;
    snprintf(detail, cap, "%s", msg && *msg ? msg : ce_strerror(err));
    char q[CE_LOG_QUOTE_MAX];
    ce_error("msg=\"cannot start the engine\" err=%s detail=%s attempt=%d", ce_errname(err),
             ce_log_quote(q, sizeof q, detail), attempt + 1);
    sync_engine_free(d->engine);
    d->engine = NULL;
    return err;
}

int cli_cmd_once(const cli_opts *o)
{
    pass_runner d;
    int rc = prepare(&d, o, "once");
    if (rc != CLI_EXIT_OK)
        return rc;
    char detail[512];
    ce_err err = engine_connect(&d, 0, detail, sizeof detail);
    if (err) {
        rc = cli_exit_code_for(err);
        fprintf(stderr, "casselastic: %s: %s\n", rc == CLI_EXIT_UNAVAILABLE ? "cannot reach a server" : "cannot start",
                detail);
        runner_finish(&d);
        return rc ? rc : CLI_EXIT_FAILED;
    }
    sync_pass_report rep = {0};
    err = run_pass(&d, &rep);
    print_summary(&rep);
    if (err == CE_ECANCELED)
        fprintf(stderr, "casselastic: interrupted; checkpoints hold what was acknowledged\n");
    else if (err && err != CE_EPARTIAL)
        fprintf(stderr, "casselastic: pass failed: %s\n", sync_engine_errmsg(d.engine));
    rc = err == CE_OK ? CLI_EXIT_OK : (err == CE_EPARTIAL || err == CE_ECANCELED) ? CLI_EXIT_FAILED
                                                                                   : cli_exit_code_for(err);
    runner_finish(&d);
    return rc;
}

/* run: connect, retrying with backoff (1 s .. 60 s) unless --exit-on-error. Returns
 * CLI_EXIT_OK once connected (or when stopped: then d->engine is NULL), else the exit code. */
static int run_connect(pass_runner *d)
{
    for (int attempt = 0; !cli_stop_flag; attempt++) {
        char detail[512];
        ce_err err = engine_connect(d, attempt, detail, sizeof detail);
        if (!err) {
            if (attempt)
                ce_info("msg=\"engine started\" attempts=%d", attempt + 1);
            return CLI_EXIT_OK;
        }
        if (d->opts->exit_on_error) {
            fprintf(stderr, "casselastic: %s\n", detail);
            int code = cli_exit_code_for(err);
            return code ? code : CLI_EXIT_FAILED;
        }
        int64_t backoff = 1000LL << (attempt < 6 ? attempt : 6);
        if (backoff > 60000)
            backoff = 60000;
        ce_info("msg=\"retrying\" in_ms=%lld", (long long)backoff);
        cli_sleep_ms(backoff);
    }
    return CLI_EXIT_OK;
}

int cli_cmd_run(const cli_opts *o)
{
    pass_runner d;
    int rc = prepare(&d, o, "run");
    if (rc != CLI_EXIT_OK)
        return rc;
    char qd[CE_LOG_QUOTE_MAX];
    ce_info("msg=\"daemon started\" pid=%ld syncs=%zu period_s=%g state_dir=%s", (long)getpid(), d.cfg.nsyncs,
            d.cfg.period_s, ce_log_quote(qd, sizeof qd, d.cfg.state_dir));
    while (!cli_stop_flag) {
        if (!d.engine && ((rc = run_connect(&d)) != CLI_EXIT_OK || !d.engine))
            break;
        int64_t m0 = cli_mono_ms();
        ce_err err = run_pass(&d, NULL);
        if (err == CE_ECANCELED || cli_stop_flag)
            break;
        if (err && err != CE_EPARTIAL) {
            char q[CE_LOG_QUOTE_MAX];
            ce_error("msg=\"pass failed; reconnecting next period\" err=%s detail=%s", ce_errname(err),
                     ce_log_quote(q, sizeof q, sync_engine_errmsg(d.engine)));
            sync_engine_free(d.engine);
            d.engine = NULL;
        }
        int64_t wait = (int64_t)(d.cfg.period_s * 1000.0) - (cli_mono_ms() - m0);
        if (wait > 0)
            cli_sleep_ms(wait);
    }
    if (cli_stop_flag)
        ce_info("msg=\"stopping on signal; checkpoints hold what was acknowledged\"");
    ce_info("msg=\"daemon stopped\" passes=%llu failed_passes=%llu", (unsigned long long)d.stats.passes,
            (unsigned long long)d.stats.failed_passes);
    runner_finish(&d);
    return rc;
}
