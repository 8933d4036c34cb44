/*
 * engine.c - the sync engine: connects to both sides and runs passes (see engine.h).
 *
 * First landing: a placeholder that keeps the CLI linkable while the Cassandra and
 * Elasticsearch clients land; passes report every sync as not run.
 */
#include "sync/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sync_engine {
    const sync_config *cfg;
    sync_pass_result *results;
    char errmsg[256];
};

ce_err sync_engine_new(const sync_config *cfg, sync_engine **out)
{
    *out = NULL;
    sync_engine *e = calloc(1, sizeof *e);
    if (!e)
        return CE_ENOMEM;
    e->cfg = cfg;
    *out = e;
    return CE_OK;
}

const char *sync_engine_errmsg(const sync_engine *e) { return e ? e->errmsg : "out of memory"; }

ce_err sync_engine_pass(sync_engine *e, const sync_pass_opts *o, sync_pass_report *report)
{
    (void)o;
    free(e->results);
    e->results = calloc(e->cfg->nsyncs ? e->cfg->nsyncs : 1, sizeof *e->results);
    if (!e->results)
        return CE_ENOMEM;
    for (size_t i = 0; i < e->cfg->nsyncs; i++) {
        snprintf(e->results[i].name, sizeof e->results[i].name, "%s",
                 e->cfg->syncs[i].name ? e->cfg->syncs[i].name : "");
        snprintf(e->results[i].error, sizeof e->results[i].error, "engine not available yet");
    }
    report->nsyncs = e->cfg->nsyncs;
    report->syncs = e->results;
    snprintf(e->errmsg, sizeof e->errmsg, "engine not available yet");
    return e->cfg->nsyncs ? CE_EPARTIAL : CE_OK;
}

void sync_engine_free(sync_engine *e)
{
    if (!e)
        return;
    free(e->results);
    free(e);
}
