/*
 * cmd_pass.c - `once`, and the pass runner it shares with `run` (pass_runner.h; the daemon
 * loop and the config reload are in cmd_run.c): the only code that drives the engine.
 *
 * Both commands load and validate the config first (exit 2, nothing created), then switch
 * core dumps off, create the state folder (0700), open the log, log the config's warnings,
 * take the pidfile, set up the metrics registry and connect. One function runs a pass
 * (cli_runner_pass: the pass, its log lines, the metrics, the status file); `once` calls it
 * once, `run` every period.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "cli/pass_runner.h"
#include "sync/checkpoint.h"
#include "sync/engine.h"
#include "sync/state.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

/* The retry causes of casselastic_retries_total (docs/cli.md, Metrics), per direction: the
 * engine's own re-reads and re-sends (to_es only), then what the clients retried. Each is
 * read from a sync_pass_result by offset; every one is shown from the first scrape. */
typedef struct {
    const char *cause;
    size_t c2e, e2c; /* offsets in sync_pass_result; NO_FIELD: not counted in that direction */
} retry_cause_row;

#define NO_FIELD ((size_t)-1)
#define CLIENT(f)                                                                                                  \
    offsetof(sync_pass_result, c2e_client_retries) + offsetof(struct sync_client_retries, f),                     \
        offsetof(sync_pass_result, e2c_client_retries) + offsetof(struct sync_client_retries, f)

static const retry_cause_row retry_causes[] = {
    {"es_bulk", offsetof(sync_pass_result, c2e_bulk_retries), NO_FIELD},
    {"cassandra_read", offsetof(sync_pass_result, c2e_read_retries), NO_FIELD},
    {"es_429", CLIENT(es_429)},
    {"es_5xx", CLIENT(es_5xx)},
    {"es_connection", CLIENT(es_connection)},
    {"cassandra_overloaded", CLIENT(cassandra_overloaded)},
    {"cassandra_connection", CLIENT(cassandra_connection)},
    {"cassandra_unprepared", CLIENT(cassandra_unprepared)},
};
#define NCAUSES (sizeof retry_causes / sizeof retry_causes[0])

/* The count of retry cause i in direction to_es / to_cassandra of r (0 when not counted). */
static uint64_t retry_count(const sync_pass_result *r, size_t i, bool to_es)
{
    size_t off = to_es ? retry_causes[i].c2e : retry_causes[i].e2c;
    uint64_t v = 0;
    if (off != NO_FIELD)
        memcpy(&v, (const char *)r + off, sizeof v);
    return v;
}

/* A running pass made progress: the health rule's input, in the registry (at most once a
 * second) and in the status file (at most every period, between 1 and 5 s: well inside the
 * rule's three periods). */
void cli_runner_note_progress(cli_pass_runner *d, const char *sync)
{
    int64_t mono = ce_mono_ms();
    if (mono - d->progress_noted_ms < 1000)
        return;
    d->progress_noted_ms = mono;
    int64_t now = cli_now_ms();
    metrics_note_progress(d->metrics, sync, now);
    double every_ms = d->cfg.period_s * 1000.0;
    every_ms = every_ms < 1000 ? 1000 : every_ms > 5000 ? 5000 : every_ms;
    if ((double)(mono - d->progress_saved_ms) >= every_ms) {
        d->progress_saved_ms = mono;
        cli_status_note_progress(d->cfg.state_dir, sync, now);
    }
}

/* Called often from the pass: kicks the watchdog, notes progress for the health rule, draws
 * the line on a terminal. */
static void progress_report(const sync_progress_info *p, void *ud)
{
    cli_pass_runner *d = ud;
    sdnotify_watchdog(d->notify, ce_mono_ms());
    cli_runner_note_progress(d, p->sync);
    if (!d->tty)
        return;
    cli_progress_line *pl = &d->progress;
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
               "failed %llu, old versions deleted %llu, soft deletes %llu\n",
               (unsigned long long)r->c2e_read, (unsigned long long)r->c2e_indexed,
               (unsigned long long)r->c2e_conflicts, (unsigned long long)r->c2e_skipped,
               (unsigned long long)r->c2e_rejected, (unsigned long long)r->c2e_failed,
               (unsigned long long)r->c2e_deleted_old, (unsigned long long)r->c2e_deleted);
        printf("  es -> cassandra: read %llu, written %llu, skipped %llu, rejected %llu, failed %llu, "
               "columns added %llu, without version %llu, soft deletes %llu\n",
               (unsigned long long)r->e2c_read, (unsigned long long)r->e2c_written,
               (unsigned long long)r->e2c_skipped, (unsigned long long)r->e2c_rejected,
               (unsigned long long)r->e2c_failed, (unsigned long long)r->e2c_columns_added,
               (unsigned long long)r->e2c_no_version, (unsigned long long)r->e2c_deleted);
    }
    fflush(stdout);
}

/* " c2e_retry_<cause>=N" for each cause with retries in that direction of the pass. */
static void put_retries(ce_buf *b, const sync_pass_result *r)
{
    for (int to_es = 1; to_es >= 0; to_es--)
        for (size_t i = 0; i < NCAUSES; i++) {
            uint64_t n = retry_count(r, i, to_es);
            if (n)
                ce_buf_printf(b, " %s_retry_%s=%llu", to_es ? "c2e" : "e2c", retry_causes[i].cause,
                              (unsigned long long)n);
        }
}

/* One line per sync with every count the metrics add up (docs/cli.md: the counters equal
 * the sums of these lines): "pass done", or "pass failed" with the error (a failed pass's
 * counts go into the totals too), or "pass stopped" (not counted: a stopped pass is not
 * recorded). */
static void log_results(const sync_pass_report *rep, ce_err err)
{
    ce_buf extra = CE_BUF_INIT;
    for (size_t i = 0; i < rep->nsyncs; i++) {
        const sync_pass_result *r = &rep->syncs[i];
        char qn[CE_LOG_QUOTE_MAX], qe[CE_LOG_QUOTE_MAX];
        ce_log_quote(qn, sizeof qn, r->name);
        if (r->retired) {
            ce_info("sync=%s msg=\"pass ended early for the reload\" seconds=%.3f", qn, r->seconds);
            continue;
        }
        ce_buf_reset(&extra);
        put_retries(&extra, r);
        if (!r->ok)
            ce_buf_printf(&extra, " error=%s", ce_log_quote(qe, sizeof qe, r->error));
        const char *msg = r->ok ? "pass done" : err == CE_ECANCELED ? "pass stopped" : "pass failed";
        ce_log(r->ok ? CE_LOG_INFO : CE_LOG_ERROR,
               "sync=%s msg=\"%s\" seconds=%.3f c2e_seconds=%.3f e2c_seconds=%.3f c2e_read=%llu c2e_indexed=%llu "
               "c2e_deleted=%llu c2e_deleted_old=%llu c2e_conflicts=%llu c2e_rejected=%llu e2c_read=%llu "
               "e2c_written=%llu e2c_deleted=%llu e2c_rejected=%llu%s",
               qn, msg, r->seconds, r->c2e_seconds, r->e2c_seconds, (unsigned long long)r->c2e_read,
               (unsigned long long)r->c2e_indexed, (unsigned long long)r->c2e_deleted,
               (unsigned long long)r->c2e_deleted_old, (unsigned long long)r->c2e_conflicts,
               (unsigned long long)r->c2e_rejected, (unsigned long long)r->e2c_read,
               (unsigned long long)r->e2c_written, (unsigned long long)r->e2c_deleted,
               (unsigned long long)r->e2c_rejected, extra.data ? ce_buf_cstr(&extra) : "");
    }
    ce_buf_free(&extra);
}

void cli_runner_log_warnings(const cli_config_problems *w)
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

static int parse_since(cli_pass_runner *d)
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

/* --metrics-listen: the same parser as the config key (and the server). */
static int check_listen_flag(const cli_opts *o)
{
    char host[128];
    int port;
    if (!o->metrics_listen || metrics_listen_parse(o->metrics_listen, host, sizeof host, &port) == CE_OK)
        return CLI_EXIT_OK;
    fprintf(stderr, "casselastic: --metrics-listen: bad address \"%s\" (expected host:port, [v6addr]:port or :port)\n",
            o->metrics_listen);
    return CLI_EXIT_CONFIG;
}

/* The state folder, the log and the pidfile: the process owns the folder afterwards. */
static int take_state_folder(cli_pass_runner *d, const cli_config_problems *warnings)
{
    const char *dir = d->cfg.state_dir;
    if (sync_state_mkdir(dir) != CE_OK) {
        fprintf(stderr, "casselastic: cannot create the state folder %s\n", dir);
        return CLI_EXIT_FAILED;
    }
    int rc = cli_logging_setup(&d->cfg);
    if (rc != CLI_EXIT_OK)
        return rc;
    cli_runner_log_warnings(warnings);
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

/* Every configured direction of every sync of the running config declared in the registry
 * (shown at 0 until its first pass; a sync added by a reload gets its series here, before
 * the pass that follows the reload). */
static void declare_directions(cli_pass_runner *d)
{
    int64_t now = cli_now_ms();
    for (size_t i = 0; i < d->cfg.nsyncs; i++) {
        sync_direction dir = d->cfg.syncs[i].direction;
        if (dir != SYNC_DIR_TO_ES)
            (void)metrics_direction_declare(d->metrics, d->cfg.syncs[i].name, METRICS_TO_CASSANDRA, now);
        if (dir != SYNC_DIR_TO_CASSANDRA)
            (void)metrics_direction_declare(d->metrics, d->cfg.syncs[i].name, METRICS_TO_ES, now);
    }
}

/* The retry causes each direction counts, shown from the first scrape. */
static ce_err set_retry_causes(metrics *m)
{
    const char *names[NCAUSES];
    ce_err err = CE_OK;
    for (int to_es = 0; to_es < 2 && !err; to_es++) {
        size_t n = 0;
        for (size_t i = 0; i < NCAUSES; i++)
            if ((to_es ? retry_causes[i].c2e : retry_causes[i].e2c) != NO_FIELD)
                names[n++] = retry_causes[i].cause;
        err = metrics_retry_causes_set(m, to_es ? METRICS_TO_ES : METRICS_TO_CASSANDRA, names, n);
    }
    return err;
}

/* The registry (and, for run, its HTTP server), every sync registered from now. */
static int start_metrics(cli_pass_runner *d, bool listen)
{
    const char *addr = !listen ? NULL : d->opts->metrics_listen ? d->opts->metrics_listen : d->cfg.metrics_listen;
    ce_err err = metrics_new(addr, d->cfg.period_s, &d->metrics);
    if (err) {
        char q[CE_LOG_QUOTE_MAX];
        const char *why = metrics_errmsg(d->metrics);
        ce_error("msg=\"cannot start the metrics server\" detail=%s", ce_log_quote(q, sizeof q, why));
        fprintf(stderr, "casselastic: metrics_listen: %s\n", why);
        return err == CE_EINVAL ? CLI_EXIT_CONFIG : CLI_EXIT_FAILED;
    }
    int64_t now = cli_now_ms();
    for (size_t i = 0; i < d->cfg.nsyncs; i++)
        if (metrics_sync_register(d->metrics, d->cfg.syncs[i].name, now) != CE_OK)
            return CLI_EXIT_FAILED;
    if (set_retry_causes(d->metrics) != CE_OK)
        return CLI_EXIT_FAILED;
    declare_directions(d);
    return CLI_EXIT_OK;
}

void cli_runner_finish(cli_pass_runner *d)
{
    sync_engine_free(d->engine);
    d->engine = NULL;
    metrics_free(d->metrics);
    d->metrics = NULL;
    cli_pidfile_release(d->pidfile);
    d->pidfile = NULL;
    cli_logging_close();
    sync_config_free(&d->cfg);
}

static void record_sync(size_t i, const sync_pass_result *r, void *ud);

int cli_runner_prepare(cli_pass_runner *d, const cli_opts *o, const char *mode, bool listen)
{
    memset(d, 0, sizeof *d);
    d->opts = o;
    int rc = check_listen_flag(o);
    if (rc != CLI_EXIT_OK)
        return rc;
    /* First: the config and the environment hold secrets from here on. */
    d->core_dumps_on = o->allow_core_dumps || cli_core_dumps_disable() != CE_OK;
    cli_config_problems warnings;
    rc = cli_config_load(o, &d->cfg, false, &warnings);
    if (rc != CLI_EXIT_OK)
        return rc;
    d->pass_opts.stop = &cli_stop_flag;
    d->pass_opts.progress = progress_report;
    d->pass_opts.sync_done = record_sync;
    d->pass_opts.sync_done_ud = d;
    d->pass_opts.progress_ud = d;
    d->tty = isatty(STDERR_FILENO);
    rc = parse_since(d);
    if (rc == CLI_EXIT_OK)
        rc = take_state_folder(d, &warnings);
    cli_config_problems_free(&warnings);
    d->stats.mode = mode;
    d->stats.started_ms = cli_now_ms();
    if (rc == CLI_EXIT_OK)
        rc = start_metrics(d, listen);
    if (rc != CLI_EXIT_OK) {
        cli_runner_finish(d);
        return rc;
    }
    cli_status_write(&d->cfg, &d->stats, NULL, d->metrics);
    cli_signals_install();
    return CLI_EXIT_OK;
}

/* One direction of one sync's result into the registry. */
static void record_direction(cli_pass_runner *d, const sync_pass_result *r, bool to_es, int64_t now)
{
    metrics_retry retries[NCAUSES];
    for (size_t i = 0; i < NCAUSES; i++)
        retries[i] = (metrics_retry){retry_causes[i].cause, retry_count(r, i, to_es)};
    metrics_pass_counts c;
    if (to_es)
        c = (metrics_pass_counts){.read = r->c2e_read, .written = r->c2e_indexed, .conflicts = r->c2e_conflicts,
                                  .dead_letters = r->c2e_rejected, .deletes = r->c2e_deleted + r->c2e_deleted_old};
    else
        c = (metrics_pass_counts){.read = r->e2c_read, .written = r->e2c_written, .dead_letters = r->e2c_rejected,
                                  .deletes = r->e2c_deleted};
    c.retries = retries;
    c.nretries = NCAUSES;
    c.error = r->error;
    bool ok = to_es ? r->c2e_ok : r->e2c_ok;
    metrics_record_pass(d->metrics, r->name, to_es ? METRICS_TO_ES : METRICS_TO_CASSANDRA, &c,
                        to_es ? r->c2e_seconds : r->e2c_seconds, ok, r->window_end_ms, now);
}

/* sync_pass_opts.sync_done: every configured direction of sync i into the registry as soon
 * as the sync has run (a sync stopped or retired for a reload says nothing about health and
 * is not recorded), and into the status file. */
static void record_sync(size_t i, const sync_pass_result *r, void *ud)
{
    cli_pass_runner *d = ud;
    if (i >= d->cfg.nsyncs)
        return;
    int64_t now = cli_now_ms();
    sync_direction dir = d->cfg.syncs[i].direction;
    if (dir != SYNC_DIR_TO_ES)
        record_direction(d, r, false, now);
    if (dir != SYNC_DIR_TO_CASSANDRA)
        record_direction(d, r, true, now);
    /* `status` sees it now too, not after the other syncs' passes */
    cli_status_update_sync(d->cfg.state_dir, r->name, 0, d->metrics);
}

ce_err cli_runner_pass(cli_pass_runner *d, sync_pass_report *report_out)
{
    sync_pass_report rep = {0};
    declare_directions(d);
    int64_t t0 = cli_now_ms();
    ce_err err = sync_engine_pass(d->engine, &d->pass_opts, &rep);
    d->pass_opts.has_since = false; /* --since: first pass only */
    cli_pass_outcome out = {.started_ms = t0, .finished_ms = cli_now_ms(), .err = err,
                            .errmsg = sync_engine_errmsg(d->engine), .report = &rep};
    d->stats.passes++;
    if (err != CE_OK && err != CE_ECANCELED)
        d->stats.failed_passes++;
    cli_status_write(&d->cfg, &d->stats, &out, d->metrics);
    log_results(&rep, err);
    if (report_out)
        *report_out = rep;
    return err;
}

ce_err cli_runner_connect(cli_pass_runner *d, int attempt, char *detail, size_t cap)
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
    cli_pass_runner d;
    int rc = cli_runner_prepare(&d, o, "once", false);
    if (rc != CLI_EXIT_OK)
        return rc;
    char detail[512];
    ce_err err = cli_runner_connect(&d, 0, detail, sizeof detail);
    if (err) {
        rc = cli_exit_code_for(err);
        fprintf(stderr, "casselastic: %s: %s\n", rc == CLI_EXIT_UNAVAILABLE ? "cannot reach a server" : "cannot start",
                detail);
        cli_runner_finish(&d);
        return rc ? rc : CLI_EXIT_FAILED;
    }
    if (cli_table_refusals(d.engine, &d.cfg)) { /* as `check` refuses it: nothing is done */
        cli_runner_finish(&d);
        return CLI_EXIT_CONFIG;
    }
    sync_pass_report rep = {0};
    err = cli_runner_pass(&d, &rep);
    print_summary(&rep);
    if (err == CE_ECANCELED)
        fprintf(stderr, "casselastic: interrupted; checkpoints hold what was acknowledged\n");
    else if (err && err != CE_EPARTIAL)
        fprintf(stderr, "casselastic: pass failed: %s\n", sync_engine_errmsg(d.engine));
    rc = err == CE_OK ? CLI_EXIT_OK : (err == CE_EPARTIAL || err == CE_ECANCELED) ? CLI_EXIT_FAILED
                                                                                   : cli_exit_code_for(err);
    cli_runner_finish(&d);
    return rc;
}
