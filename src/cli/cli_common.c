/*
 * cli_common.c - what every command shares: loading the config with its problems printed
 * (and --sync / --log-level applied), the exit code of an error, a human duration.
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/buf.h"
#include "util/log.h"

static void print_problems(const char *path, const cli_config_problems *p, bool quiet)
{
    ce_buf b = CE_BUF_INIT;
    for (size_t i = 0; i < p->n; i++) {
        if (quiet && p->v[i].warning)
            continue;
        ce_buf_reset(&b);
        cli_config_problem_format(&p->v[i], &b);
        fprintf(stderr, "%s: %s: %s\n", path, p->v[i].warning ? "warning" : "error", ce_buf_cstr(&b));
    }
    ce_buf_free(&b);
}

/* Keep only the syncs named by --sync, in config order. CLI_EXIT_CONFIG (why says which name)
 * for an unknown name. */
static int keep_named_syncs(const cli_opts *o, sync_config *cfg, char *why, size_t whycap)
{
    for (size_t j = 0; j < o->nsync_names; j++) {
        bool found = false;
        for (size_t i = 0; i < cfg->nsyncs && !found; i++)
            found = strcmp(cfg->syncs[i].name, o->sync_names[j]) == 0;
        if (!found) {
            snprintf(why, whycap, "--sync: no sync named \"%s\" in %s", o->sync_names[j], o->config_path);
            return CLI_EXIT_CONFIG;
        }
    }
    size_t kept = 0;
    for (size_t i = 0; i < cfg->nsyncs; i++) {
        bool keep = false;
        for (size_t j = 0; j < o->nsync_names && !keep; j++)
            keep = strcmp(cfg->syncs[i].name, o->sync_names[j]) == 0;
        if (keep)
            cfg->syncs[kept++] = cfg->syncs[i];
        else
            sync_def_free(&cfg->syncs[i]);
    }
    cfg->nsyncs = kept;
    return CLI_EXIT_OK;
}

/* --log-level and --sync on a loaded config. */
static int apply_options(const cli_opts *o, sync_config *cfg, char *why, size_t whycap)
{
    if (o->log_level) {
        free(cfg->log_level);
        cfg->log_level = strdup(o->log_level);
        if (!cfg->log_level) {
            snprintf(why, whycap, "out of memory");
            return CLI_EXIT_FAILED;
        }
    }
    return o->nsync_names > 0 ? keep_named_syncs(o, cfg, why, whycap) : CLI_EXIT_OK;
}

int cli_config_load_quiet(const cli_opts *o, sync_config *cfg, cli_config_problems *probs, char *why,
                          size_t whycap)
{
    memset(cfg, 0, sizeof *cfg);
    memset(probs, 0, sizeof *probs);
    why[0] = '\0';
    if (!o->config_path) {
        snprintf(why, whycap, "a config file is needed (-c CONFIG)");
        return CLI_EXIT_CONFIG;
    }
    if (o->log_level && ce_log_level_parse(o->log_level) < 0) {
        snprintf(why, whycap, "--log-level: bad level \"%s\" (debug, info, warn, error, off)", o->log_level);
        return CLI_EXIT_CONFIG;
    }
    ce_err err = cli_config_load_file(o->config_path, o->state_dir, cfg, probs);
    if (err == CE_ENOMEM && !probs->nerrors)
        snprintf(why, whycap, "out of memory");
    if (err)
        return err == CE_ENOMEM && !probs->nerrors ? CLI_EXIT_FAILED : CLI_EXIT_CONFIG;
    int rc = apply_options(o, cfg, why, whycap);
    if (rc != CLI_EXIT_OK)
        sync_config_free(cfg);
    return rc;
}

int cli_config_load(const cli_opts *o, sync_config *cfg, bool quiet, cli_config_problems *warnings)
{
    cli_config_problems probs;
    char why[512];
    int rc = cli_config_load_quiet(o, cfg, &probs, why, sizeof why);
    print_problems(o->config_path, &probs, quiet);
    if (probs.nerrors)
        fprintf(stderr, "%s: %zu error%s: configuration refused\n", o->config_path, probs.nerrors,
                probs.nerrors == 1 ? "" : "s");
    if (why[0])
        fprintf(stderr, "casselastic: %s\n", why);
    if (rc == CLI_EXIT_OK && warnings) {
        *warnings = probs;
        memset(&probs, 0, sizeof probs);
    } else if (warnings) {
        memset(warnings, 0, sizeof *warnings);
    }
    cli_config_problems_free(&probs);
    return rc;
}

int cli_exit_code_for(ce_err err)
{
    switch (err) {
    case CE_OK: return CLI_EXIT_OK;
    case CE_ENOHOST:
    case CE_ECLOSED:
    case CE_ETIMEOUT:
    case CE_EIO:
    case CE_ETLS:
    case CE_EHTTP: return CLI_EXIT_UNAVAILABLE;
    case CE_ECONFIG: return CLI_EXIT_CONFIG;
    default: return CLI_EXIT_FAILED;
    }
}

void cli_format_duration(int64_t ms, char *out, size_t cap)
{
    const char *sign = ms < 0 ? "-" : "";
    if (ms < 0)
        ms = -ms;
    if (ms < 60000)
        snprintf(out, cap, "%s%.1fs", sign, (double)ms / 1000.0);
    else if (ms < 3600000)
        snprintf(out, cap, "%s%lldm%02llds", sign, (long long)(ms / 60000), (long long)(ms / 1000 % 60));
    else if (ms < 86400000LL * 2)
        snprintf(out, cap, "%s%lldh%02lldm", sign, (long long)(ms / 3600000), (long long)(ms / 60000 % 60));
    else
        snprintf(out, cap, "%s%lldd%02lldh", sign, (long long)(ms / 86400000), (long long)(ms / 3600000 % 24));
}
