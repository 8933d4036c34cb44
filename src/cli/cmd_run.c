/*
 * cmd_run.c - `run`: the daemon loop and the config reload.
 *
 * The loop is a short list of steps: reload when SIGHUP asked for it, connect when there is
 * no engine (retrying with backoff), one pass (cli_runner_pass: metrics and status file
 * included), sleep until the next period. Everything long kicks the systemd watchdog: the
 * sleep, in slices, and the pass, through its progress callback (cmd_pass.c). systemd hears
 * READY=1 after the first connection to both sides, STATUS= after each pass, RELOADING=1
 * around a reload and STOPPING=1 on the way out.
 *
 * A reload: the new config is loaded and validated like at start as soon as SIGHUP is seen
 * (refused: logged, the running config kept); the plan (reload.c) says what changed. Seen
 * during a pass, the passes of the syncs it removes or changes end at their next batch (as
 * a stop would: what was acknowledged is kept), the others finish. After the pass the new
 * content replaces the config in place (the engine points at it), so the next pass runs the
 * new syncs, no longer the removed ones, and the changed ones as they now are. A changed
 * connection gets a new engine.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "cli/pass_runner.h"
#include "sync/verify.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#define SLEEP_SLICE_MS 500
#define BACKOFF_MAX_MS 60000

/* Sleep up to ms, kicking the watchdog; wakes on stop and on reload. */
static void run_sleep(cli_pass_runner *d, int64_t ms)
{
    int64_t end = cli_mono_ms() + ms;
    for (;;) {
        sdnotify_watchdog(d->notify, cli_mono_ms());
        int64_t left = end - cli_mono_ms();
        if (left <= 0 || cli_stop_flag || cli_reload_flag)
            return;
        cli_sleep_ms(left < SLEEP_SLICE_MS ? left : SLEEP_SLICE_MS);
    }
}

/* ------------------------------------------------------------------ reload */

/* Why the new config was refused, in the log: each error of the file, then one line. */
static void log_refusal(const cli_config_problems *probs, const char *why)
{
    ce_buf b = CE_BUF_INIT;
    char q[CE_LOG_QUOTE_MAX];
    for (size_t i = 0; i < probs->n; i++) {
        if (probs->v[i].warning)
            continue;
        ce_buf_reset(&b);
        cli_config_problem_format(&probs->v[i], &b);
        ce_error("msg=\"reload refused\" problem=%s", ce_log_quote(q, sizeof q, ce_buf_cstr(&b)));
    }
    ce_buf_free(&b);
    ce_error("msg=\"reload refused; the running config is kept\" errors=%zu reason=%s", probs->nerrors,
             ce_log_quote(q, sizeof q, why[0] ? why : "the file has errors"));
}

/* Apply an accepted config: metrics, the config swapped in place, logging, the engine. */
static void reload_apply(cli_pass_runner *d, sync_config *nc, const cli_reload_plan *plan)
{
    for (size_t i = 0; i < d->cfg.nsyncs; i++) {
        bool kept = false;
        for (size_t j = 0; j < nc->nsyncs && !kept; j++)
            kept = strcmp(d->cfg.syncs[i].name, nc->syncs[j].name) == 0;
        if (!kept)
            metrics_sync_unregister(d->metrics, d->cfg.syncs[i].name);
    }
    int64_t now = cli_now_ms();
    for (size_t j = 0; j < nc->nsyncs; j++)
        metrics_sync_register(d->metrics, nc->syncs[j].name, now);
    if (plan->connection_changed) {
        /* between passes: the old engine has nothing in flight */
        sync_engine_free(d->engine);
        d->engine = NULL;
    }
    sync_config old = d->cfg;
    d->cfg = *nc;
    memset(nc, 0, sizeof *nc);
    sync_config_free(&old);
    metrics_set_period(d->metrics, d->cfg.period_s);
    if (plan->logging_changed && cli_logging_setup(&d->cfg) != CLI_EXIT_OK)
        ce_error("msg=\"reload: cannot open the new log_file; logging stays where it was\"");
}

/* A SIGHUP's config, loaded and judged as soon as the signal is seen (in a pass too: its
 * plan says which syncs' passes end at their next batch), applied after the pass. */
typedef struct {
    cli_pass_runner *d;
    bool prepared;              /* loaded and judged, not applied yet */
    int rc;                     /* CLI_EXIT_OK: accepted */
    char why[512];              /* why refused */
    sync_config nc;
    cli_config_problems probs;
    cli_reload_plan plan;
} run_reload_state;

static void reload_drop(run_reload_state *st)
{
    if (!st->prepared)
        return;
    if (st->rc == CLI_EXIT_OK)
        sync_config_free(&st->nc);
    cli_config_problems_free(&st->probs);
    st->prepared = false;
}

/* SIGHUP seen: load, validate, compare (a newer SIGHUP replaces an earlier one's file). */
static void reload_prepare(run_reload_state *st)
{
    cli_pass_runner *d = st->d;
    cli_reload_flag = 0;
    reload_drop(st);
    sdnotify_reloading(d->notify);
    char q[CE_LOG_QUOTE_MAX];
    ce_info("msg=\"reloading the config\" path=%s", ce_log_quote(q, sizeof q, d->opts->config_path));
    st->why[0] = 0;
    memset(&st->plan, 0, sizeof st->plan);
    st->rc = cli_config_load_quiet(d->opts, &st->nc, &st->probs, st->why, sizeof st->why);
    if (st->rc == CLI_EXIT_OK) {
        cli_reload_plan_make(&d->cfg, &st->nc, d->opts->metrics_listen != NULL, &st->plan);
        if (st->plan.refused[0]) {
            snprintf(st->why, sizeof st->why, "%s", st->plan.refused);
            sync_config_free(&st->nc);
            st->rc = CLI_EXIT_CONFIG;
        }
    }
    st->prepared = true;
}

/* Between passes: apply the prepared config (or log its refusal). */
static void reload_finish(run_reload_state *st)
{
    cli_pass_runner *d = st->d;
    if (cli_reload_flag)
        reload_prepare(st);
    size_t refused = 0;
    if (st->rc == CLI_EXIT_OK && d->engine && !st->plan.connection_changed &&
        (refused = cli_table_refusals(d->engine, &st->nc)) > 0) {
        snprintf(st->why, sizeof st->why, "%zu sync%s refused against the table (see above)", refused,
                 refused == 1 ? "" : "s");
        sync_config_free(&st->nc);
        st->rc = CLI_EXIT_CONFIG;
    }
    if (st->rc != CLI_EXIT_OK) {
        log_refusal(&st->probs, st->why);
        sdnotify_ready(d->notify, "reload refused: running the previous config (see the log)");
    } else {
        cli_runner_log_warnings(&st->probs);
        reload_apply(d, &st->nc, &st->plan);
        ce_info("msg=\"config reloaded\" syncs=%zu added=%zu removed=%zu changed=%zu new_engine=%s period_s=%g",
                d->cfg.nsyncs, st->plan.nadded, st->plan.nremoved, st->plan.nchanged,
                st->plan.connection_changed ? "true" : "false", d->cfg.period_s);
        sdnotify_ready(d->notify, "config reloaded");
    }
    reload_drop(st);
}

/* The pass's retire question (sync_pass_opts.retire): a SIGHUP seen in a pass ends, at
 * their next batch, the passes of the syncs the new config removes or changes (all of them
 * when the connection changes); the others finish. A refused config retires nothing. */
static bool retire_for_reload(const char *sync, void *ud)
{
    run_reload_state *st = ud;
    if (cli_reload_flag)
        reload_prepare(st);
    if (!st->prepared || st->rc != CLI_EXIT_OK)
        return false;
    bool retire = st->plan.connection_changed || cli_reload_sync_touched(&st->d->cfg, &st->nc, sync);
    if (retire) {
        char q[CE_LOG_QUOTE_MAX];
        ce_info("sync=%s msg=\"reload: its pass ends at this batch\"", ce_log_quote(q, sizeof q, sync));
    }
    return retire;
}

/* ------------------------------------------------------------------ the loop */

/* One connection attempt. CLI_EXIT_OK (connected or not: d->engine says), or the exit code
 * with --exit-on-error. The first success tells systemd we are ready; until then each
 * failure asks systemd for the time of the backoff and the next attempt
 * (EXTEND_TIMEOUT_USEC), so servers down at boot do not run into TimeoutStartSec. */
static int run_connect(cli_pass_runner *d, int *attempt, bool *ready)
{
    char detail[512];
    int64_t started = cli_mono_ms();
    ce_err err = cli_runner_connect(d, *attempt, detail, sizeof detail);
    if (!err && !*ready && cli_table_refusals(d->engine, &d->cfg))
        return CLI_EXIT_CONFIG; /* refused against the tables, as `check` would: no pass */
    if (!err) {
        if (*attempt)
            ce_info("msg=\"engine started\" attempts=%d", *attempt + 1);
        *attempt = 0;
        if (!*ready)
            sdnotify_ready(d->notify, "connected to Cassandra and Elasticsearch");
        *ready = true;
        return CLI_EXIT_OK;
    }
    if (d->opts->exit_on_error) {
        fprintf(stderr, "casselastic: %s\n", detail);
        int code = cli_exit_code_for(err);
        return code ? code : CLI_EXIT_FAILED;
    }
    int64_t backoff = 1000LL << (*attempt < 6 ? *attempt : 6);
    if (backoff > BACKOFF_MAX_MS)
        backoff = BACKOFF_MAX_MS;
    (*attempt)++;
    sdnotify_status(d->notify, "cannot connect (attempt %d), retrying in %lld s: %s", *attempt,
                    (long long)(backoff / 1000), detail);
    if (!*ready)
        sdnotify_extend_timeout(d->notify, sdnotify_retry_extension_usec(backoff, cli_mono_ms() - started));
    ce_info("msg=\"retrying\" in_ms=%lld", (long long)backoff);
    run_sleep(d, backoff);
    return CLI_EXIT_OK;
}

/* After a pass: STATUS= for systemctl, and a failed pass's engine dropped (reconnect). */
static void after_pass(cli_pass_runner *d, ce_err err, int64_t started_mono)
{
    double secs = (double)(cli_mono_ms() - started_mono) / 1000.0;
    const char *result = err == CE_OK ? "ok" : err == CE_EPARTIAL ? "partial" : "failed";
    sdnotify_status(d->notify, "pass %llu %s in %.1f s (%zu syncs, %llu failed passes so far)",
                    (unsigned long long)d->stats.passes, result, secs, d->cfg.nsyncs,
                    (unsigned long long)d->stats.failed_passes);
    if (err && err != CE_EPARTIAL) {
        char q[CE_LOG_QUOTE_MAX];
        ce_error("msg=\"pass failed; reconnecting next period\" err=%s detail=%s", ce_errname(err),
                 ce_log_quote(q, sizeof q, sync_engine_errmsg(d->engine)));
        sync_engine_free(d->engine);
        d->engine = NULL;
    }
}

/* A scheduled verify's progress: the watchdog kicked (it may outlast WatchdogSec), STATUS=
 * with where it is, at most every 5 s. */
typedef struct {
    cli_pass_runner *d;
    int64_t status_mono;
} verify_feed;

static void verify_progress(const sync_verify_progress *p, void *ud)
{
    verify_feed *f = ud;
    int64_t now = cli_mono_ms();
    sdnotify_watchdog(f->d->notify, now);
    cli_runner_note_progress(f->d, NULL); /* every sync's next pass waits for the verify */
    if (!p->final && now - f->status_mono < 5000)
        return;
    f->status_mono = now;
    sdnotify_status(f->d->notify, "verifying (verify_every): sync %s, %s, %zu of %zu ranges, %.0f s", p->sync,
                    p->phase, p->ranges_done, p->ranges, p->seconds);
}

/* verify_every: a verify (no repair) of every sync when it is due, between passes. Its
 * outcome goes into the state folder (casselastic.verify.json) for `status`. Its progress
 * feeds the watchdog. */
static void maybe_verify(cli_pass_runner *d, int64_t *last_mono)
{
    int64_t every = (int64_t)(d->cfg.verify_every_s * 1000.0);
    if (every <= 0 || !d->engine || cli_mono_ms() - *last_mono < every)
        return;
    sdnotify_status(d->notify, "verifying (verify_every)");
    verify_feed feed = {d, cli_mono_ms()};
    sync_verify_opts vo = {.stop = &cli_stop_flag, .progress = verify_progress, .progress_ud = &feed};
    sync_verify_report rep;
    ce_err err = sync_engine_verify(d->engine, &vo, &rep);
    for (size_t i = 0; i < rep.nsyncs; i++)
        ce_log(rep.syncs[i].rc ? CE_LOG_WARN : CE_LOG_INFO,
               "msg=\"scheduled verify\" sync=%s result=%s differences=%zu in_flight=%zu", rep.syncs[i].name,
               sync_verify_outcome(&rep.syncs[i], false), sync_verify_remaining(&rep.syncs[i], false),
               rep.syncs[i].in_flight);
    sync_verify_report_free(&rep);
    if (err != CE_ECANCELED)
        *last_mono = cli_mono_ms();
}

static int run_loop(cli_pass_runner *d)
{
    int attempt = 0;
    bool ready = false;
    int64_t last_verify = cli_mono_ms();
    run_reload_state reload = {.d = d};
    d->pass_opts.retire = retire_for_reload;
    d->pass_opts.retire_ud = &reload;
    int rc = CLI_EXIT_OK;
    while (!cli_stop_flag) {
        if (cli_reload_flag || reload.prepared)
            reload_finish(&reload);
        if (!d->engine) {
            rc = run_connect(d, &attempt, &ready);
            if (rc != CLI_EXIT_OK)
                break;
            continue; /* connected: the flags are checked again before the pass */
        }
        int64_t m0 = cli_mono_ms();
        ce_err err = cli_runner_pass(d, NULL);
        if (err == CE_ECANCELED || cli_stop_flag)
            break;
        after_pass(d, err, m0);
        maybe_verify(d, &last_verify);
        run_sleep(d, (int64_t)(d->cfg.period_s * 1000.0) - (cli_mono_ms() - m0));
    }
    reload_drop(&reload);
    d->pass_opts.retire = NULL;
    return rc;
}

int cli_cmd_run(const cli_opts *o)
{
    cli_pass_runner d;
    int rc = cli_runner_prepare(&d, o, "run", true);
    if (rc != CLI_EXIT_OK)
        return rc;
    d.notify = sdnotify_new();
    char qd[CE_LOG_QUOTE_MAX];
    ce_info("msg=\"daemon started\" pid=%ld syncs=%zu period_s=%g state_dir=%s metrics_port=%d", (long)getpid(),
            d.cfg.nsyncs, d.cfg.period_s, ce_log_quote(qd, sizeof qd, d.cfg.state_dir), metrics_port(d.metrics));
    sdnotify_status(d.notify, "connecting to Cassandra and Elasticsearch");
    rc = run_loop(&d);
    sdnotify_stopping(d.notify, "stopping: checkpoints hold what was acknowledged");
    if (cli_stop_flag)
        ce_info("msg=\"stopping on signal; checkpoints hold what was acknowledged\"");
    ce_info("msg=\"daemon stopped\" passes=%llu failed_passes=%llu", (unsigned long long)d.stats.passes,
            (unsigned long long)d.stats.failed_passes);
    sdnotify_free(d.notify);
    d.notify = NULL;
    cli_runner_finish(&d);
    return rc;
}
