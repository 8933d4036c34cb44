/*
 * fuzz_sync_id_split.c - libFuzzer target for splitting a document _id into its key parts
 * (sync_id_split) on arbitrary bytes.
 *
 * The first byte picks the number of parts (1..SYNC_MAX_KEY_PARTS); the rest is the _id.
 * It must not crash. When it splits, joining the parts again (sync_id_append_part) must
 * give back an _id that splits into the same parts (the encoding round-trips).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/sync_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t nparts = (size_t)(data[0] % SYNC_MAX_KEY_PARTS) + 1;
    const char *id = (const char *)data + 1;
    size_t n = size - 1;
    ce_buf st = CE_BUF_INIT, again = CE_BUF_INIT, st2 = CE_BUF_INIT;
    size_t offs[SYNC_MAX_KEY_PARTS], offs2[SYNC_MAX_KEY_PARTS];
    if (sync_id_split(id, n, nparts, &st, offs) == CE_OK) {
        for (size_t i = 0; i < nparts; i++) {
            if (i > 0 && ce_buf_append_byte(&again, ':') != CE_OK)
                abort();
            const char *part = st.data + offs[i];
            if (sync_id_append_part(&again, part, strlen(part), nparts > 1) != CE_OK)
                abort();
        }
        if (sync_id_split(again.data ? again.data : "", again.len, nparts, &st2, offs2) != CE_OK) {
            fprintf(stderr, "re-joined _id does not split\n");
            abort();
        }
        for (size_t i = 0; i < nparts; i++) {
            if (strcmp(st.data + offs[i], st2.data + offs2[i]) != 0) {
                fprintf(stderr, "part %zu differs after a round trip\n", i);
                abort();
            }
        }
    }
    ce_buf_free(&st);
    ce_buf_free(&again);
    ce_buf_free(&st2);
    return 0;
}
