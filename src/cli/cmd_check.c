/*
 * cmd_check.c - `casselastic check CONFIG`: validate without connecting; and the
 * hidden `casselastic config-reference` that prints the key table as Markdown (the
 * reference section of docs/config.md is made from it).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "cli/config_load.h"
#include "es/es.h"
#include "util/buf.h"

static const char *direction_text(sync_direction d)
{
    switch (d) {
    case SYNC_DIR_TO_ES: return "cassandra -> elasticsearch";
    case SYNC_DIR_TO_CASSANDRA: return "elasticsearch -> cassandra";
    default: return "both ways";
    }
}

static const char *read_mode_text(sync_read_mode m)
{
    static const char *const names[] = {"auto", "filter", "buckets", "full_scan", "all"};
    return (unsigned)m < sizeof names / sizeof names[0] ? names[m] : "?";
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

int cli_cmd_check(const cli_opts *o)
{
    sync_config cfg;
    int rc = cli_config_load(o, &cfg, false, NULL);
    if (rc != CLI_EXIT_OK)
        return rc;
    printf("%s: valid, %zu sync%s, a pass every %g s\n", cfg.config_path, cfg.nsyncs, cfg.nsyncs == 1 ? "" : "s",
           cfg.period_s);
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
        printf("  sync %s: %s.%s <-> index %s, %s, key %s, version %s, read %s\n", s->name, s->keyspace, s->table,
               s->index, direction_text(s->direction), s->id_col, s->version_col, read_mode_text(s->read_mode));
    }
    if (o->effective)
        print_effective(&cfg);
    sync_config_free(&cfg);
    return CLI_EXIT_OK;
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
