/*
 * fuzz_checkpoint.c - libFuzzer target for the checkpoint reader (sync_checkpoint_parse,
 * what sync_checkpoint_load reads from the state folder) on arbitrary bytes.
 *
 * It must not crash or leak; a checkpoint it accepts has its extra (when any) as valid
 * JSON text.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sync_checkpoint cp;
    if (sync_checkpoint_parse((const char *)data, size, &cp) == CE_OK) {
        if (cp.extra) {
            json_t *j = json_loads(cp.extra, JSON_DECODE_ANY, NULL);
            if (!j) {
                fprintf(stderr, "extra is not JSON: %s\n", cp.extra);
                abort();
            }
            json_decref(j);
        }
        sync_checkpoint_clear(&cp);
    }
    return 0;
}
