/*
 * detect.c - what server is this? Parses the body of GET / and, where / is not
 * served, of GET /_nodes/_local into a flavor and a version string (codecs, no I/O).
 *
 * OpenSearch says version.distribution = "opensearch" on / (also in its
 * Elasticsearch-compatibility mode, which reports 7.10.2). On /_nodes/_local a node
 * of Elasticsearch >= 6.3 carries build_flavor; OpenSearch nodes do not, and their
 * majors (1..3) never overlap a flavorless Elasticsearch (5 and older).
 *
 * The capabilities (es_caps) follow from flavor and version by the rule table
 * below, except the k-NN plugin, which the server lists in GET /_cat/plugins.
 */
#include "es/es_int.h"

#include <limits.h>
#include <stddef.h>
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

/* ---------------------------------------------------------------- capabilities */

typedef struct {
    int major, minor;
} es_since;

#define SINCE_ALWAYS {0, 0}
#define SINCE_NEVER {INT_MAX, 0}

/* One row per version-given capability: the first Elasticsearch and the first
 * OpenSearch version that has it. A new flavor difference is a new row (and field). */
static const struct {
    size_t field; /* offsetof a bool in es_caps */
    es_since es, os;
} caps_rules[] = {
    {offsetof(es_caps, pit), {7, 10}, {2, 4}},
    {offsetof(es_caps, shard_doc_sort), {7, 12}, SINCE_NEVER}, /* OpenSearch 2.19 still has none */
    {offsetof(es_caps, track_total_hits), {7, 0}, SINCE_ALWAYS},
    {offsetof(es_caps, seq_no), {6, 7}, SINCE_ALWAYS},
};

static bool at_least(int major, int minor, es_since s)
{
    return major > s.major || (major == s.major && minor >= s.minor);
}

void es_caps_from_version(es_flavor flavor, int major, int minor, es_caps *out)
{
    bool os = flavor == ES_FLAVOR_OPENSEARCH;
    *out = (es_caps){.flavor = flavor, .major = major, .minor = minor};
    /* OpenSearch 1.x in compatibility mode reports 7.10.2: judge it as 1.0. */
    int rmajor = os && major >= 7 ? 1 : major, rminor = os && major >= 7 ? 0 : minor;
    for (size_t i = 0; i < sizeof caps_rules / sizeof caps_rules[0]; i++) {
        bool *f = (bool *)((char *)out + caps_rules[i].field);
        *f = at_least(rmajor, rminor, os ? caps_rules[i].os : caps_rules[i].es);
    }
    /* The one capability that went away: mapping types, removed in Elasticsearch 7. */
    out->has_types = !os && major > 0 && major < 7;
    /* Indexed dense_vector (kNN search) mappings: Elasticsearch 8. */
    out->dense_vector_max_dims = flavor == ES_FLAVOR_ELASTICSEARCH && major >= 8 ? 4096 : 0;
}

/* Component names of the k-NN plugin in GET /_cat/plugins: the plugin's name in an
 * installed distribution, its class where the plugin is loaded from the class path. */
static bool is_knn_component(const char *c)
{
    return strcmp(c, "opensearch-knn") == 0 || strcmp(c, "org.opensearch.knn.plugin.KNNPlugin") == 0;
}

ce_err es_detect_parse_plugins(const char *body, size_t len, bool *knn)
{
    *knn = false;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!root)
        return CE_EJSON;
    ce_err e = json_is_array(root) ? CE_OK : CE_EPROTO;
    size_t i;
    json_t *row;
    json_array_foreach(root, i, row)
    {
        const char *comp = json_string_value(json_object_get(row, "component"));
        if (comp && is_knn_component(comp))
            *knn = true;
    }
    json_decref(root);
    return e;
}
