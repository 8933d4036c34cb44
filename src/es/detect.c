/*
 * detect.c - what server is this? Parses the body of GET / and, where / is not
 * served, of GET /_nodes/_local into a flavor and a version string (codecs, no I/O).
 *
 * OpenSearch says version.distribution = "opensearch" on / (also in its
 * Elasticsearch-compatibility mode, which reports 7.10.2). On /_nodes/_local a node
 * of Elasticsearch >= 6.3 carries build_flavor; OpenSearch nodes do not, and their
 * majors (1..3) never overlap a flavorless Elasticsearch (5 and older).
 */
#include "es/es_int.h"

#include <stdlib.h>
#include <string.h>

bool es_version_split(const char *v, int *major, int *minor)
{
    char *end;
    if (!v || *v < '0' || *v > '9')
        return false;
    long ma = strtol(v, &end, 10);
    long mi = 0;
    if (*end == '.')
        mi = strtol(end + 1, &end, 10);
    if (ma < 0 || ma > 1000 || mi < 0 || mi > 1000)
        return false;
    *major = (int)ma;
    *minor = (int)mi;
    return true;
}

static ce_err copy_version(const char *num, char *version, size_t version_n)
{
    int ma, mi;
    if (!es_version_split(num, &ma, &mi))
        return CE_EPROTO;
    size_t l = strlen(num);
    if (l >= version_n)
        return CE_EPROTO;
    memcpy(version, num, l + 1);
    return CE_OK;
}

ce_err es_detect_parse_root(const char *body, size_t len, es_flavor *flavor, char *version,
                            size_t version_n)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!root)
        return CE_EJSON;
    ce_err e = CE_EPROTO;
    json_t *ver = json_object_get(root, "version");
    const char *num = json_string_value(json_object_get(ver, "number"));
    if (num) {
        const char *dist = json_string_value(json_object_get(ver, "distribution"));
        *flavor = (dist && strcmp(dist, "opensearch") == 0) ? ES_FLAVOR_OPENSEARCH
                                                            : ES_FLAVOR_ELASTICSEARCH;
        e = copy_version(num, version, version_n);
    }
    json_decref(root);
    return e;
}

ce_err es_detect_parse_nodes(const char *body, size_t len, es_flavor *flavor, char *version,
                             size_t version_n)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!root)
        return CE_EJSON;
    ce_err e = CE_EPROTO;
    json_t *nodes = json_object_get(root, "nodes");
    const char *key;
    json_t *node;
    json_object_foreach(nodes, key, node)
    {
        const char *num = json_string_value(json_object_get(node, "version"));
        if (!num)
            continue;
        int ma, mi;
        if (!es_version_split(num, &ma, &mi))
            break;
        const char *dist = json_string_value(json_object_get(node, "distribution"));
        bool has_flavor = json_object_get(node, "build_flavor") != NULL;
        if (dist)
            *flavor = strcmp(dist, "opensearch") == 0 ? ES_FLAVOR_OPENSEARCH
                                                      : ES_FLAVOR_ELASTICSEARCH;
        else if (has_flavor || ma >= 5)
            *flavor = ES_FLAVOR_ELASTICSEARCH;
        else
            *flavor = ES_FLAVOR_OPENSEARCH;
        e = copy_version(num, version, version_n);
        break;
    }
    json_decref(root);
    return e;
}
