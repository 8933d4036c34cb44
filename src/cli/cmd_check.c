/*
 * cmd_check.c - `casselastic check CONFIG`: validate the config, then (when Cassandra
 * answers within a short time-out) say how each sync will read it: the read mode, and
 * for a range without an index that every pass scans the table, with the statement that
 * fixes it. And the hidden `casselastic config-reference` that prints the key table as
 * Markdown (the reference section of docs/config.md is made from it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "cli/config_load.h"
#include "es/es.h"
#include "sync/engine.h"
#include "util/buf.h"
#include "util/log.h"

#define CHECK_TIMEOUT_MS 3000

static const char *direction_text(sync_direction d)
{
    switch (d) {
    case SYNC_DIR_TO_ES: return "cassandra -> elasticsearch";
    case SYNC_DIR_TO_CASSANDRA: return "elasticsearch -> cassandra";
    default: return "both ways";
    }
}

/* A sync key's value as the config would spell it (quoted for strings), in out. */
static const char *sync_value(const sync_config *c, size_t i, const char *path, char *out, size_t size)
{
    ce_buf b = CE_BUF_INIT;
    const cli_config_key *k = cli_config_key_find(path);
    if (k && cli_config_value_format(c, k, i, &b) == CE_OK)
        snprintf(out, size, "%s", ce_buf_cstr(&b));
    else
        snprintf(out, size, "?");
    ce_buf_free(&b);
    return out;
}

static void print_effective(const sync_config *c)
{
    size_t n;
    const cli_config_key *keys = cli_config_keys(&n);
    ce_buf b = CE_BUF_INIT;
    for (size_t pass = 0; pass <= c->nsyncs; pass++) {
        for (size_t i = 0; i < n; i++) {
            const cli_config_key *k = &keys[i];
            bool in_sync = (k->flags & CFG_F_IN_SYNC) != 0;
            if (k->size == 0 || (k->flags & CFG_F_LEGACY) || in_sync != (pass > 0))
                continue;
            ce_buf_reset(&b);
            cli_config_value_format(c, k, pass ? pass - 1 : 0, &b);
            if (in_sync)
                printf("syncs[%zu]%s = %s\n", pass - 1, k->path + strlen("syncs[]"), ce_buf_cstr(&b));
            else
                printf("%s = %s\n", k->path, ce_buf_cstr(&b));
        }
    }
    ce_buf_free(&b);
}

/* A read the pass would refuse, said on stderr as the offline problems are, with the sync's path. */
static void say_refusal(const char *path, size_t i, const sync_def *s, const sync_read_forecast *f)
{
    fprintf(stderr, "%s: error: syncs[%zu] (sync %s): %s\n", path, i, s->name, f->problem);
}

static void say_refused_total(const char *path, size_t refused)
{
    fprintf(stderr, "%s: %zu error%s against the table%s: configuration refused\n", path, refused,
            refused == 1 ? "" : "s", refused == 1 ? "" : "s");
}

/* One sync's read, as a pass would do it (syncs[i] of the file path). */
static void print_forecast(const char *path, size_t i, const sync_def *s, const sync_read_forecast *f)
{
    if (f->refused) {
        say_refusal(path, i, s, f);
        return;
    }
    if (!f->mode[0]) {
        if (f->problem[0])
            printf("  sync %s: read mode not known: %s\n", s->name, f->problem);
        return;
    }
    printf("  sync %s: reads cassandra by %s%s\n", s->name, f->mode,
           f->version_index ? " (a storage-attached index serves the version column)" : "");
    if (f->scans_table && strcmp(f->mode, "filter") == 0)
        printf("    each pass scans the whole table (ALLOW FILTERING): an index on the version column "
               "makes it read only what changed:\n      %s\n", f->create_index);
    else if (f->scans_table)
        printf("    each pass reads every row of the table\n");
}

/* Each sync's read as a pass would plan it: connects to Cassandra briefly. Fills f[] (cfg->nsyncs
 * entries); returns the number of syncs a pass would refuse (0 when Cassandra is unreachable: said
 * in why, the read modes are then not checked). */
static size_t forecast_reads(const sync_config *cfg, sync_read_forecast *f, ce_err *rc, char *why, size_t whylen)
{
    ce_log_level saved = ce_log_threshold;
    ce_log_set_level(CE_LOG_OFF); /* the client's own lines: the summary says it all */
    *rc = sync_engine_forecast(cfg, CHECK_TIMEOUT_MS, f, why, whylen);
    ce_log_set_level(saved);
    size_t refused = 0;
    for (size_t i = 0; !*rc && i < cfg->nsyncs; i++)
        refused += f[i].refused;
    return refused;
}

/* Report each sync's read (forecast_reads' results; `refused` is its count). */
static void print_reads(const sync_config *cfg, const sync_read_forecast *f, ce_err rc, const char *why,
                        size_t refused)
{
    if (rc)
        printf("  cassandra not reachable (%s): read modes not checked\n", why[0] ? why : ce_strerror(rc));
    for (size_t i = 0; !rc && i < cfg->nsyncs; i++)
        print_forecast(cfg->config_path, i, &cfg->syncs[i], &f[i]);
    if (refused)
        say_refused_total(cfg->config_path, refused);
}

size_t cli_table_refusals(sync_engine *e, const sync_config *cfg)
{
    sync_read_forecast *f = calloc(cfg->nsyncs ? cfg->nsyncs : 1, sizeof *f);
    if (!f)
        return 0; /* the passes check the same and fail */
    size_t refused = sync_engine_check_tables(e, cfg, f);
    char q[CE_LOG_QUOTE_MAX], qp[CE_LOG_QUOTE_MAX];
    for (size_t i = 0; refused && i < cfg->nsyncs; i++) {
        if (!f[i].refused)
            continue;
        say_refusal(cfg->config_path, i, &cfg->syncs[i], &f[i]);
        ce_error("sync=%s msg=\"configuration refused against the table\" problem=%s",
                 ce_log_quote(q, sizeof q, cfg->syncs[i].name), ce_log_quote(qp, sizeof qp, f[i].problem));
    }
    if (refused)
        say_refused_total(cfg->config_path, refused);
    free(f);
    return refused;
}

int cli_cmd_check(const cli_opts *o)
{
    sync_config cfg;
    int rc = cli_config_load(o, &cfg, false, NULL);
    if (rc != CLI_EXIT_OK)
        return rc;
    sync_read_forecast *f = calloc(cfg.nsyncs ? cfg.nsyncs : 1, sizeof *f);
    char why[512] = "";
    ce_err frc = CE_ENOMEM;
    size_t refused = f ? forecast_reads(&cfg, f, &frc, why, sizeof why) : 0;
    /* "valid" only when the tables agree too: a refusal below would contradict it */
    printf("%s: %s, %zu sync%s, a pass every %g s\n", cfg.config_path, refused ? "refused" : "valid", cfg.nsyncs,
           cfg.nsyncs == 1 ? "" : "s", cfg.period_s);
    printf("  cassandra: ");
    for (size_t i = 0; i < cfg.cassandra.nhosts; i++)
        printf("%s%s", i ? ", " : "", cfg.cassandra.hosts[i]);
    printf(" port %d%s\n", cfg.cassandra.port,
           !cfg.cassandra.tls ? "" : cfg.cassandra.tls_no_verify ? " (TLS, certificate NOT verified)" : " (TLS)");
    printf("  elasticsearch: ");
    for (size_t i = 0; i < cfg.es.nurls; i++) {
        char shown[1024];
        es_url_redact(cfg.es.urls[i], shown, sizeof shown);
        printf("%s%s", i ? ", " : "", shown);
    }
    if (cfg.es.tls_no_verify)
        printf(" (TLS certificate NOT verified)");
    printf("\n  state dir: %s\n", cfg.state_dir);
    for (size_t i = 0; i < cfg.nsyncs; i++) {
        const sync_def *s = &cfg.syncs[i];
        char rm[32], erm[32], del[200];
        printf("  sync %s: %s.%s <-> index %s, %s, key %s, version %s, read_mode %s, es_read_mode %s, "
               "deleted_col %s\n",
               s->name, s->keyspace, s->table, s->index, direction_text(s->direction), s->id_col, s->version_col,
               sync_value(&cfg, i, "syncs[].read_mode", rm, sizeof rm),
               sync_value(&cfg, i, "syncs[].es_read_mode", erm, sizeof erm),
               sync_value(&cfg, i, "syncs[].deleted_col", del, sizeof del));
    }
    if (o->effective)
        print_effective(&cfg);
    if (f)
        print_reads(&cfg, f, frc, why, refused);
    free(f);
    sync_config_free(&cfg);
    return refused ? CLI_EXIT_CONFIG : CLI_EXIT_OK;
}

int cli_cmd_config_reference(void)
{
    ce_buf b = CE_BUF_INIT;
    ce_err err = cli_config_reference(&b);
    if (!err)
        fwrite(b.data, 1, b.len, stdout);
    ce_buf_free(&b);
    return err ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}
