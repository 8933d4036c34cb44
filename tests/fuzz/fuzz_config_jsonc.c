/*
 * fuzz_config_jsonc.c - libFuzzer target for the config reader on arbitrary bytes: the
 * JSONC parser (cfg_jsonc_parse, '#' comments, closing brackets added to a cut text) and
 * the whole loader (cli_config_load_text: key table, types, bounds, checks).
 *
 * Neither may crash or leak; the loader either succeeds with a config (freed here) or
 * fails with at least one problem saying why.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/config_int.h"
#include "cli/config_load.h"
#include "sync/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cli_config_problems probs = {0};
    bool oom = false;
    json_t *j = cfg_jsonc_parse((const char *)data, size, &probs, &oom);
    if (!j && !oom && probs.n == 0) {
        fprintf(stderr, "jsonc: no object and no problem\n");
        abort();
    }
    json_decref(j);
    cli_config_problems_free(&probs);

    cli_config_problems lp = {0};
    sync_config cfg;
    memset(&cfg, 0, sizeof cfg);
    ce_err e = cli_config_load_text((const char *)data, size, "/nonexistent-ce-fuzz", &cfg, &lp);
    if (e == CE_ECONFIG && lp.n == 0) {
        fprintf(stderr, "loader: CE_ECONFIG without a problem\n");
        abort();
    }
    if (e == CE_OK)
        sync_config_free(&cfg);
    cli_config_problems_free(&lp);
    return 0;
}
