/*
 * fuzz_cql_decoder.c - libFuzzer target for the CQL response decoder: the input is
 * fed to the incremental decoder (v4 envelopes or v5 frames, with or without LZ4,
 * chosen by the first byte) whole and again split at a point taken from the input;
 * every message that comes out goes through the RESULT / ERROR / EVENT / SUPPORTED
 * parsers, and rows are walked cell by cell. Both feedings must yield the same
 * number of messages (the decoder does not depend on how bytes arrive).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cql/cql_int.h"

static void parse_msg(cql_msg *m, int version)
{
    switch (m->opcode) {
    case CQL_OP_RESULT: {
        cql_result *r = NULL;
        char err[64];
        if (cql_result_parse(m, version, NULL, &r, err, sizeof err) == CE_OK) {
            size_t nc = cql_result_column_count(r);
            for (size_t i = 0; i < cql_result_row_count(r); i++)
                for (size_t c = 0; c < nc; c++)
                    (void)cql_result_cell(r, i, c);
            cql_result_free(r);
        }
        return;
    }
    case CQL_OP_ERROR: {
        cql_error_info info;
        cql_value id;
        (void)cql_error_parse(m, version, &info, &id);
        break;
    }
    case CQL_OP_EVENT: {
        cql_event ev;
        (void)cql_event_parse(m, &ev);
        break;
    }
    case CQL_OP_SUPPORTED:
        (void)cql_supported_has(m, "COMPRESSION", "lz4");
        break;
    default:
        break;
    }
    cql_msg_clear(m);
}

static size_t run(const uint8_t *data, size_t size, size_t cut, uint8_t mode)
{
    cql_decoder d;
    cql_decoder_init(&d, 1u << 20);
    cql_decoder_set_mode(&d, (mode & 1) ? CQL_WIRE_V5_FRAMES : CQL_WIRE_ENVELOPES, (mode & 2) != 0);
    int version = (mode & 1) ? 5 : 4;
    size_t count = 0;
    size_t pieces[2][2] = {{0, cut}, {cut, size - cut}};
    for (int k = 0; k < 2; k++) {
        if (cql_decoder_feed(&d, data + pieces[k][0], pieces[k][1]))
            break;
        for (;;) {
            cql_msg m;
            ce_err e = cql_decoder_next(&d, &m);
            if (e)
                break;
            count++;
            parse_msg(&m, version);
        }
    }
    cql_decoder_free(&d);
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t mode = data[0];
    size_t cut = data[1] % (size - 1);
    data += 2;
    size -= 2;
    if (cut > size)
        cut = size;
    size_t whole = run(data, size, size, mode);
    size_t split = run(data, size, cut, mode);
    if (whole != split)
        abort();
    return 0;
}
