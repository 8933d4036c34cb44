/*
 * fuzz_es_seqnos.c - libFuzzer target for the shard sequence numbers codec
 * (es_index_seqnos_parse, src/es/seqnos.c) and the seq_no mode's checkpoint positions
 * (sync_seqno_checkpoint_decode, src/sync/seqno.c).
 *
 * The input is split at its first NUL byte into the cluster state answer and the shard
 * stats answer, each in an exact-size copy so any overread shows; the whole input is also
 * decoded as a checkpoint extra text. Checks the promises: on failure nothing is kept and
 * a reason is given; on success every shard has a primary term and a global checkpoint,
 * and a decoded checkpoint encodes and decodes back to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "es/es_int.h"
#include "sync/e2c_int.h"

static void check_answers(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t a = nul ? (size_t)(nul - data) : size, b = nul ? size - a - 1 : 0;
    char *state = malloc(a ? a : 1), *stats = malloc(b ? b : 1);
    if (!state || !stats)
        abort();
    memcpy(state, data, a);
    if (b)
        memcpy(stats, nul + 1, b);
    es_index_seqnos s;
    char why[200] = "";
    ce_err e = es_index_seqnos_parse(state, a, stats, b, &s, why, sizeof why);
    if (e != CE_OK && (s.shards || s.nshards || !why[0]))
        abort();
    for (size_t i = 0; e == CE_OK && i < s.nshards; i++)
        if (s.shards[i].global_checkpoint == -2 || !s.uuid[0])
            abort();
    es_index_seqnos_free(&s);
    free(state);
    free(stats);
}

static void check_extra(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = 0;
    sync_seqno_checkpoint cp, back;
    if (sync_seqno_checkpoint_decode(text, &cp) == CE_OK) {
        ce_buf b = CE_BUF_INIT;
        if (sync_seqno_checkpoint_encode(&cp, &b) != CE_OK || sync_seqno_checkpoint_decode(ce_buf_cstr(&b), &back))
            abort();
        if (back.nshards != cp.nshards || strcmp(back.index_uuid, cp.index_uuid) ||
            memcmp(back.shards, cp.shards, cp.nshards * sizeof *cp.shards))
            abort();
        sync_seqno_checkpoint_free(&back);
        ce_buf_free(&b);
    } else if (cp.shards || cp.nshards) {
        abort();
    }
    sync_seqno_checkpoint_free(&cp);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_answers(data, size);
    check_extra(data, size);
    return 0;
}
