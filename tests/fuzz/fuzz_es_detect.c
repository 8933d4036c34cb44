/*
 * fuzz_es_detect.c - libFuzzer target for the server detection codecs (bodies of
 * GET / and GET /_nodes/_local, GET /_cat/plugins): no crash, on success a version
 * string that es_version_split accepts and a known flavor, and capabilities that
 * agree with each other (no _shard_doc without a point in time, no mapping types on
 * a server that has one).
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
            es_caps k;
            es_caps_from_version(f, ma, mi, &k);
            if (k.flavor != f || k.major != ma || k.minor != mi || k.knn_plugin ||
                (k.shard_doc_sort && !k.pit) || (k.has_types && k.pit) ||
                (k.pit && !k.track_total_hits))
                abort();
        }
    }
    bool knn = true;
    ce_err e = es_detect_parse_plugins(body, size, &knn);
    if (e != CE_OK && knn)
        abort();
    free(body);
    return 0;
}
