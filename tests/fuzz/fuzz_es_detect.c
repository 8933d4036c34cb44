/*
 * fuzz_es_detect.c - libFuzzer target for the server detection codecs (bodies of
 * GET / and GET /_nodes/_local): no crash, and on success a version string that
 * es_version_split accepts and a known flavor.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "es/es_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = malloc(size ? size : 1);
    if (!body)
        return 0;
    memcpy(body, data, size);
    for (int which = 0; which < 2; which++) {
        es_flavor f = ES_FLAVOR_UNKNOWN;
        char v[64];
        ce_err e = which ? es_detect_parse_nodes(body, size, &f, v, sizeof v)
                         : es_detect_parse_root(body, size, &f, v, sizeof v);
        if (e == CE_OK) {
            int ma, mi;
            if (!es_version_split(v, &ma, &mi) || f == ES_FLAVOR_UNKNOWN || strlen(v) >= sizeof v)
                abort();
        }
    }
    free(body);
    return 0;
}
