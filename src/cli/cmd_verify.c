/*
 * cmd_verify.c - `casselastic verify [--repair] [--json FILE]`: runs the engine's verify
 * (src/sync/verify.c), draws its progress on a terminal, prints the summary table and
 * writes the full list as JSON. Exit codes: 0 equal (after the repair with --repair), 1
 * differences remain (or stopped), 2 bad config, 3 a server unreachable.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "sync/state.h"
#include "sync/verify.h"
#include "util/clock.h"
#include "util/jsonw.h"
#include "util/log.h"

typedef struct {
    bool tty, drawn;
    double last_draw_s;
} progress_line;

static void draw_progress(const sync_verify_progress *p, void *ud)
{
    progress_line *pl = ud;
    double now = ce_mono_s();
    if (!pl->tty || (!p->final && now - pl->last_draw_s < 0.25) || (p->final && !pl->drawn))
        return;
    pl->last_draw_s = now;
    char eta[32] = "";
    if (!p->final && p->fraction > 0.01 && p->fraction < 1.0)
        snprintf(eta, sizeof eta, ", eta %.0fs", p->seconds / p->fraction - p->seconds);
    fprintf(stderr, "\r%s verify (%s): ranges %zu/%zu, %llu records, %.0f/s%s\033[K%s", p->sync, p->phase,
            p->ranges_done, p->ranges, (unsigned long long)p->rows, p->seconds > 0 ? (double)p->rows / p->seconds : 0,
            eta, p->final ? "\n" : "");
    fflush(stderr);
    pl->drawn = !p->final;
}

static void print_table(const sync_verify_report *rep, bool repair)
{
    printf("%-24s %8s %9s %14s %8s %15s %9s %9s %7s %9s\n", "sync", "ranges", "differing", "only_cassandra",
           "only_es", "older_cassandra", "older_es", "in_flight", "fixed", "result");
    for (size_t i = 0; i < rep->nsyncs; i++) {
        const sync_verify_result *r = &rep->syncs[i];
        const char *res = sync_verify_outcome(r, repair);
        printf("%-24s %8zu %9zu %14zu %8zu %15zu %9zu %9zu %7zu %9s\n", r->name, r->ranges, r->ranges_differing,
               r->counts[0], r->counts[1], r->counts[2], r->counts[3], r->in_flight, r->fixed, res);
        if (r->rc)
            printf("  %s: %s\n", r->name, r->error);
    }
    fflush(stdout);
}

static ce_err json_diff(ce_buf *b, const sync_diff *d)
{
    ce_err e = ce_buf_append_str(b, "{\"id\":");
    e = e ? e : jsonw_cstr(b, d->id);
    e = e ? e : ce_buf_printf(b, ",\"kind\":\"%s\",\"in_flight\":%s,\"fix\":\"%s\",\"fixed\":%s",
                              sync_diff_kind_name(d->kind), d->in_flight ? "true" : "false", sync_fix_name(d->fix),
                              d->fixed ? "true" : "false");
    e = e || !d->has_c ? e : ce_buf_printf(b, ",\"cassandra_version\":%lld", (long long)d->c_version);
    e = e || !d->has_e ? e : ce_buf_printf(b, ",\"es_version\":%lld", (long long)d->e_version);
    e = e || !d->has_c ? e : ce_buf_append_str(b, ",\"cassandra_source\":");
    e = e || !d->has_c ? e : jsonw_cstr(b, d->c_source);
    e = e || !d->has_e ? e : ce_buf_append_str(b, ",\"es_source\":");
    e = e || !d->has_e ? e : jsonw_cstr(b, d->e_source);
    e = e || !d->marked ? e : ce_buf_printf(b, ",\"marked\":true,\"mark_version\":%lld", (long long)d->mark_version);
    return e ? e : ce_buf_append_byte(b, '}');
}

static ce_err json_result(ce_buf *b, const sync_verify_result *r, bool repair)
{
    ce_err e = ce_buf_append_str(b, "{\"sync\":");
    e = e ? e : jsonw_cstr(b, r->name);
    e = e ? e : ce_buf_printf(b, ",\"ok\":%s,\"equal\":%s,\"error\":", r->rc ? "false" : "true",
                              !r->rc && !sync_verify_remaining(r, repair) ? "true" : "false");
    e = e ? e : jsonw_cstr(b, r->error);
    e = e ? e : ce_buf_printf(b, ",\"ranges\":%zu,\"ranges_differing\":%zu,\"ranges_resumed\":%zu,"
                              "\"cassandra_rows\":%llu,\"es_docs\":%llu,\"es_docs_aggregated\":%llu,\"cassandra_rows_descended\":%llu,"
                              "\"es_docs_descended\":%llu,\"es_requests\":%llu,\"es_source_requests\":%llu,"
                              "\"in_flight\":%zu,\"fixed\":%zu,\"fix_failed\":%zu,\"seconds\":%.3f,\"counts\":{",
                              r->ranges, r->ranges_differing, r->ranges_resumed, (unsigned long long)r->c_rows,
                              (unsigned long long)r->e_docs, (unsigned long long)r->e_docs_aggregated,
                              (unsigned long long)r->c_rows_descended,
                              (unsigned long long)r->e_docs_descended, (unsigned long long)r->es_requests,
                              (unsigned long long)r->es_source_requests, r->in_flight, r->fixed, r->fix_failed,
                              r->seconds);
    for (int k = 0; k < SYNC_DIFF_KINDS && !e; k++)
        e = ce_buf_printf(b, "%s\"%s\":%zu", k ? "," : "", sync_diff_kind_name((sync_diff_kind)k), r->counts[k]);
    e = e ? e : ce_buf_append_str(b, "},\"differences\":[");
    for (size_t k = 0; k < r->ndiffs && !e; k++) {
        e = k ? ce_buf_append_byte(b, ',') : CE_OK;
        e = e ? e : json_diff(b, &r->diffs[k]);
    }
    return e ? e : ce_buf_append_str(b, "]}");
}

static int write_json(const char *path, const sync_verify_report *rep, bool repair)
{
    ce_buf b = CE_BUF_INIT;
    ce_err e = ce_buf_append_str(&b, "{\"syncs\":[");
    for (size_t i = 0; i < rep->nsyncs && !e; i++) {
        e = i ? ce_buf_append_byte(&b, ',') : CE_OK;
        e = e ? e : json_result(&b, &rep->syncs[i], repair);
    }
    e = e ? e : ce_buf_append_str(&b, "]}\n");
    FILE *f = e ? NULL : fopen(path, "w");
    if (f && (fwrite(b.data, 1, b.len, f) != b.len))
        e = CE_EIO;
    if ((f && fclose(f) != 0) || !f)
        e = e ? e : CE_EIO;
    ce_buf_free(&b);
    if (e)
        fprintf(stderr, "casselastic verify: cannot write %s\n", path);
    return e ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}

static int exit_code(ce_err err, const sync_verify_report *rep, bool repair)
{
    int rc = CLI_EXIT_OK;
    for (size_t i = 0; i < rep->nsyncs; i++) {
        const sync_verify_result *r = &rep->syncs[i];
        int x = r->rc == CE_ECONFIG ? CLI_EXIT_CONFIG
              : r->rc == CE_ECANCELED ? CLI_EXIT_FAILED
              : r->rc ? cli_exit_code_for(r->rc)
              : sync_verify_remaining(r, repair) ? CLI_EXIT_FAILED : CLI_EXIT_OK;
        if (x == CLI_EXIT_OK)
            continue;
        rc = rc == CLI_EXIT_OK || x == CLI_EXIT_CONFIG || x == CLI_EXIT_UNAVAILABLE ? x : rc;
    }
    return rc == CLI_EXIT_OK && err ? CLI_EXIT_FAILED : rc;
}

/* Config, state folder, log, signals, connection: exit code, the engine in *out. */
static int start(const cli_opts *o, sync_config *cfg, sync_engine **out)
{
    (void)cli_core_dumps_disable();
    int rc = cli_config_load(o, cfg, false, NULL);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (sync_state_mkdir(cfg->state_dir) != CE_OK) {
        fprintf(stderr, "casselastic: cannot create the state folder %s\n", cfg->state_dir);
        return CLI_EXIT_FAILED;
    }
    rc = cli_logging_setup(cfg);
    if (rc != CLI_EXIT_OK)
        return rc;
    cli_signals_install();
    ce_err err = sync_engine_new(cfg, out);
    if (err) {
        rc = cli_exit_code_for(err);
        fprintf(stderr, "casselastic: %s: %s\n", rc == CLI_EXIT_UNAVAILABLE ? "cannot reach a server" : "cannot start",
                sync_engine_errmsg(*out));
        return rc ? rc : CLI_EXIT_FAILED;
    }
    return CLI_EXIT_OK;
}

int cli_cmd_verify(const cli_opts *o)
{
    sync_config cfg = {0};
    sync_engine *eng = NULL;
    int rc = start(o, &cfg, &eng);
    if (rc == CLI_EXIT_OK) {
        progress_line pl = {.tty = isatty(STDERR_FILENO)};
        sync_verify_opts vo = {.repair = o->repair, .stop = &cli_stop_flag, .progress = draw_progress,
                               .progress_ud = &pl};
        sync_verify_report rep;
        ce_err err = sync_engine_verify(eng, &vo, &rep);
        print_table(&rep, o->repair);
        if (err == CE_ECANCELED)
            fprintf(stderr, "casselastic: interrupted; the next verify resumes where this one stopped\n");
        rc = exit_code(err, &rep, o->repair);
        if (o->json_path && write_json(o->json_path, &rep, o->repair) != CLI_EXIT_OK && rc == CLI_EXIT_OK)
            rc = CLI_EXIT_FAILED;
        sync_verify_report_free(&rep);
    }
    sync_engine_free(eng);
    cli_logging_close();
    sync_config_free(&cfg);
    return rc;
}
