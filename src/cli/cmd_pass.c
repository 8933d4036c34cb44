/*
 * cmd_pass.c - `once` and `run`: the only commands that drive the engine (engine.h).
 *
 * Both load and validate the config first (exit 2, nothing created), then create the
 * state folder, take its pidfile, connect, and run passes. After each pass they write
 * <state_dir>/casselastic.status.json atomically for `status`.
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
#include "util/clock.h"
#include "util/buf.h"
#include "util/jsonw.h"
#include "util/log.h"

typedef struct {
    const char *mode;          /* "run" | "once" */
    int64_t started_ms;        /* process start */
    uint64_t passes, failed_passes;
} daemon_stats;

static const char *result_text(ce_err err)
{
    switch (err) {
    case CE_OK: return "ok";
    case CE_EPARTIAL: return "partial";
    case CE_ECANCELED: return "canceled";
    default: return "failed";
    }
}

static void put_iso(ce_buf *b, const char *key, int64_t ms)
{
    char iso[32];
    ce_buf_printf(b, ",\"%s\":", key);
    if (ms > 0) {
        sync_format_iso_ms(ms, iso);
        jsonw_cstr(b, iso);
    } else {
        jsonw_null(b);
    }
}

static void write_status(const sync_config *cfg, const daemon_stats *st, int64_t pass_start_ms, int64_t pass_end_ms,
                         ce_err err, const char *errmsg, const sync_pass_report *rep)
{
    ce_buf b = CE_BUF_INIT;
    ce_buf_printf(&b, "{\"format\":1,\"pid\":%ld,\"mode\":\"%s\"", (long)getpid(), st->mode);
    put_iso(&b, "started", st->started_ms);
    put_iso(&b, "last_pass_started", pass_start_ms);
    put_iso(&b, "last_pass_finished", pass_end_ms);
    ce_buf_printf(&b, ",\"last_pass_ms\":%lld,\"passes\":%llu,\"failed_passes\":%llu,\"last_result\":\"%s\"",
                  (long long)(pass_end_ms - pass_start_ms), (unsigned long long)st->passes,
                  (unsigned long long)st->failed_passes, result_text(err));
    ce_buf_append_str(&b, ",\"last_error\":");
    if (err && errmsg && *errmsg)
        jsonw_cstr(&b, errmsg);
    else
        jsonw_null(&b);
    ce_buf_append_str(&b, ",\"syncs\":[");
    for (size_t i = 0; rep && i < rep->nsyncs; i++) {
        const sync_pass_result *r = &rep->syncs[i];
        ce_buf_append_str(&b, i ? ",{\"name\":" : "{\"name\":");
        jsonw_cstr(&b, r->name);
        ce_buf_printf(&b,
                      ",\"ok\":%s,\"seconds\":%.3f,\"window_start_ms\":%lld,\"window_end_ms\":%lld"
                      ",\"to_es\":{\"read\":%llu,\"indexed\":%llu,\"conflicts\":%llu,\"skipped\":%llu"
                      ",\"rejected\":%llu,\"failed\":%llu,\"deleted_old\":%llu}"
                      ",\"to_cassandra\":{\"read\":%llu,\"written\":%llu,\"skipped\":%llu,\"rejected\":%llu"
                      ",\"failed\":%llu,\"columns_added\":%llu},\"error\":",
                      r->ok ? "true" : "false", r->seconds, (long long)r->window_start_ms,
                      (long long)r->window_end_ms, (unsigned long long)r->c2e_read,
                      (unsigned long long)r->c2e_indexed, (unsigned long long)r->c2e_conflicts,
                      (unsigned long long)r->c2e_skipped, (unsigned long long)r->c2e_rejected,
                      (unsigned long long)r->c2e_failed, (unsigned long long)r->c2e_deleted_old,
                      (unsigned long long)r->e2c_read, (unsigned long long)r->e2c_written,
                      (unsigned long long)r->e2c_skipped, (unsigned long long)r->e2c_rejected,
                      (unsigned long long)r->e2c_failed, (unsigned long long)r->e2c_columns_added);
        if (r->error[0])
            jsonw_cstr(&b, r->error);
        else
            jsonw_null(&b);
        ce_buf_append_byte(&b, '}');
    }
    ce_err werr = ce_buf_append_str(&b, "]}\n");
    char path[4200] = "";
    if (!werr)
        werr = sync_state_path_fixed(path, sizeof path, cfg->state_dir, SYNC_STATE_STATUS, NULL, NULL);
    if (!werr)
        werr = sync_state_write_atomic(path, b.data, b.len, 0);
    if (werr)
        ce_warn("msg=\"cannot write the status file\" path=\"%s\" err=%s", path, ce_errname(werr));
    ce_buf_free(&b);
}

/* The progress line on a terminal (stderr, \r, at most 4 redraws a second). */
static void cli_progress_draw(const sync_progress_info *p, void *ud)
{
    (void)ud;
    static double last;
    static bool drawn;
    double now = ce_mono_s();
    if (!p->final && now - last < 0.25)
        return;
    if (p->final && !drawn)
        return;
    last = now;
    double rate = p->seconds > 0 ? (double)p->done / p->seconds : 0;
    char eta[32] = "";
    if (!p->final && p->fraction > 0.01 && p->fraction < 1.0)
        snprintf(eta, sizeof eta, " eta %.0fs", p->seconds / p->fraction - p->seconds);
    fprintf(stderr, "\r%s %s: read %llu, done %llu, %.0f/s%s%s\033[K", p->sync, p->direction,
            (unsigned long long)p->read, (unsigned long long)p->done, rate, eta, p->final ? "\n" : "");
    fflush(stderr);
    drawn = !p->final;
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
        if (r->ok)
            ce_info("sync=%s msg=\"pass done\" seconds=%.3f c2e_read=%llu c2e_indexed=%llu c2e_conflicts=%llu "
                    "c2e_rejected=%llu e2c_read=%llu e2c_written=%llu e2c_rejected=%llu",
                    r->name, r->seconds, (unsigned long long)r->c2e_read, (unsigned long long)r->c2e_indexed,
                    (unsigned long long)r->c2e_conflicts, (unsigned long long)r->c2e_rejected,
                    (unsigned long long)r->e2c_read, (unsigned long long)r->e2c_written,
                    (unsigned long long)r->e2c_rejected);
        else
            ce_error("sync=%s msg=\"pass failed\" seconds=%.3f error=\"%s\"", r->name, r->seconds, r->error);
    }
}

/* Everything once and run share before the first pass. On success *pid holds the
 * state folder. Returns an exit code. */
static int prepare(const cli_opts *o, sync_config *cfg, sync_pass_opts *po, cli_pidfile **pid)
{
    int rc = cli_config_load(o, cfg, false);
    if (rc != CLI_EXIT_OK)
        return rc;
    memset(po, 0, sizeof *po);
    if (o->since) {
        if (sync_parse_since(o->since, &po->since_ms) != CE_OK) {
            fprintf(stderr, "casselastic: --since: expected \"YYYYMMDD HH:MM\" or ISO 8601 (UTC), got \"%s\"\n",
                    o->since);
            sync_config_free(cfg);
            return CLI_EXIT_CONFIG;
        }
        po->has_since = true;
    }
    po->stop = &cli_stop_flag;
    if (isatty(STDERR_FILENO)) {
        po->progress = cli_progress_draw;
        po->progress_ud = NULL;
    }
    if (cli_state_dir_make(cfg->state_dir) != CE_OK) {
        fprintf(stderr, "casselastic: cannot create the state folder %s\n", cfg->state_dir);
        sync_config_free(cfg);
        return CLI_EXIT_FAILED;
    }
    rc = cli_logging_setup(cfg);
    if (rc != CLI_EXIT_OK) {
        sync_config_free(cfg);
        return rc;
    }
    long holder = 0;
    ce_err err = cli_pidfile_acquire(cfg->state_dir, pid, &holder);
    if (err == CE_ECONFLICT) {
        fprintf(stderr, "casselastic: another casselastic (pid %ld) is using the state folder %s; stop it first "
                        "(casselastic stop -c %s) or use another --state-dir\n",
                holder, cfg->state_dir, o->config_path);
        cli_logging_close();
        sync_config_free(cfg);
        return CLI_EXIT_FAILED;
    }
    if (err) {
        fprintf(stderr, "casselastic: cannot write the pidfile in %s: %s\n", cfg->state_dir, ce_strerror(err));
        cli_logging_close();
        sync_config_free(cfg);
        return CLI_EXIT_FAILED;
    }
    cli_signals_install();
    return CLI_EXIT_OK;
}

static void finish(sync_config *cfg, cli_pidfile *pid, sync_engine *e)
{
    sync_engine_free(e);
    cli_pidfile_release(pid);
    cli_logging_close();
    sync_config_free(cfg);
}

int cli_cmd_once(const cli_opts *o)
{
    sync_config cfg;
    sync_pass_opts po;
    cli_pidfile *pid = NULL;
    int rc = prepare(o, &cfg, &po, &pid);
    if (rc != CLI_EXIT_OK)
        return rc;
    daemon_stats st = {.mode = "once", .started_ms = cli_now_ms()};
    sync_engine *e = NULL;
    ce_err err = sync_engine_new(&cfg, &e);
    if (err) {
        const char *msg = e ? sync_engine_errmsg(e) : ce_strerror(err);
        rc = cli_exit_code_for(err);
        fprintf(stderr, "casselastic: %s: %s\n", rc == CLI_EXIT_UNAVAILABLE ? "cannot reach a server" : "cannot start",
                msg && *msg ? msg : ce_strerror(err));
        ce_error("msg=\"engine start failed\" err=%s detail=\"%s\"", ce_errname(err), msg ? msg : "");
        finish(&cfg, pid, e);
        return rc ? rc : CLI_EXIT_FAILED;
    }
    sync_pass_report rep = {0};
    int64_t t0 = cli_now_ms();
    err = sync_engine_pass(e, &po, &rep);
    int64_t t1 = cli_now_ms();
    st.passes = 1;
    st.failed_passes = err != CE_OK;
    write_status(&cfg, &st, t0, t1, err, sync_engine_errmsg(e), &rep);
    log_results(&rep);
    print_summary(&rep);
    if (err == CE_ECANCELED)
        fprintf(stderr, "casselastic: interrupted; checkpoints hold what was acknowledged\n");
    else if (err && err != CE_EPARTIAL)
        fprintf(stderr, "casselastic: pass failed: %s\n", sync_engine_errmsg(e));
    rc = err == CE_OK ? CLI_EXIT_OK : (err == CE_EPARTIAL || err == CE_ECANCELED) ? CLI_EXIT_FAILED
                                                                                   : cli_exit_code_for(err);
    finish(&cfg, pid, e);
    return rc;
}

int cli_cmd_run(const cli_opts *o)
{
    sync_config cfg;
    sync_pass_opts po;
    cli_pidfile *pid = NULL;
    int rc = prepare(o, &cfg, &po, &pid);
    if (rc != CLI_EXIT_OK)
        return rc;
    daemon_stats st = {.mode = "run", .started_ms = cli_now_ms()};
    ce_info("msg=\"daemon started\" pid=%ld syncs=%zu period_s=%g state_dir=\"%s\"", (long)getpid(), cfg.nsyncs,
            cfg.period_s, cfg.state_dir);
    sync_engine *e = NULL;
    int attempt = 0;
    rc = CLI_EXIT_OK;
    while (!cli_stop_flag) {
        if (!e) {
            ce_err err = sync_engine_new(&cfg, &e);
            if (err) {
                int code = cli_exit_code_for(err);
                ce_error("msg=\"cannot start the engine\" err=%s detail=\"%s\" attempt=%d", ce_errname(err),
                         e ? sync_engine_errmsg(e) : "", attempt + 1);
                if (o->exit_on_error) {
                    fprintf(stderr, "casselastic: %s\n", e ? sync_engine_errmsg(e) : ce_strerror(err));
                    rc = code ? code : CLI_EXIT_FAILED;
                    sync_engine_free(e);
                    e = NULL;
                    break;
                }
                sync_engine_free(e);
                e = NULL;
                int64_t backoff = 1000LL << (attempt < 6 ? attempt : 6); /* 1 s .. 64 s */
                if (backoff > 60000)
                    backoff = 60000;
                attempt++;
                ce_info("msg=\"retrying\" in_ms=%lld", (long long)backoff);
                cli_sleep_ms(backoff);
                continue;
            }
            if (attempt)
                ce_info("msg=\"engine started\" attempts=%d", attempt + 1);
            attempt = 0;
        }
        int64_t m0 = cli_mono_ms(), t0 = cli_now_ms();
        sync_pass_report rep = {0};
        ce_err err = sync_engine_pass(e, &po, &rep);
        po.has_since = false; /* --since: first pass only */
        int64_t t1 = cli_now_ms();
        st.passes++;
        if (err != CE_OK && err != CE_ECANCELED)
            st.failed_passes++;
        write_status(&cfg, &st, t0, t1, err, sync_engine_errmsg(e), &rep);
        log_results(&rep);
        if (err == CE_ECANCELED || cli_stop_flag)
            break;
        if (err && err != CE_EPARTIAL) {
            ce_error("msg=\"pass failed; reconnecting next period\" err=%s detail=\"%s\"", ce_errname(err),
                     sync_engine_errmsg(e));
            sync_engine_free(e);
            e = NULL;
        }
        int64_t wait = (int64_t)(cfg.period_s * 1000.0) - (cli_mono_ms() - m0);
        if (wait > 0)
            cli_sleep_ms(wait);
    }
    if (cli_stop_flag)
        ce_info("msg=\"stopping on signal; checkpoints saved\"");
    ce_info("msg=\"daemon stopped\" passes=%llu failed_passes=%llu", (unsigned long long)st.passes,
            (unsigned long long)st.failed_passes);
    finish(&cfg, pid, e);
    return rc;
}
