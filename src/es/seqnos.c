/*
 * seqnos.c - where each shard of an index stands in its sequence numbers: the index's
 * UUID, its shard count, and per shard the global checkpoint (every in-sync copy has
 * processed every operation up to it) and the primary term. The sync engine's seq_no
 * capture mode reads documents by _seq_no between two such readings.
 *
 * Two requests, the same on Elasticsearch and OpenSearch:
 *   GET /_cluster/state/metadata/<index>   uuid, number_of_shards, primary_terms
 *   GET /<index>/_stats?level=shards       per shard copy: routing.primary, seq_no
 * The cluster state is read first: a primary promoted between the two shows as a new
 * term at the next reading. es_index_seqnos_parse is the codec (no I/O).
 */
#include "es/es_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEQNOS_MAX_SHARDS 4096

#define STATE_FILTER                                                                            \
    "metadata.indices.*.settings.index.uuid,metadata.indices.*.settings.index.number_of_shards," \
    "metadata.indices.*.primary_terms"
#define STATS_FILTER "indices.*.uuid,indices.*.shards.*.routing.primary,indices.*.shards.*.seq_no"

void es_index_seqnos_free(es_index_seqnos *s)
{
    if (!s)
        return;
    free(s->shards);
    memset(s, 0, sizeof *s);
}

static ce_err fail(char *why, size_t n, ce_err e, const char *text, const char *detail)
{
    snprintf(why, n, "%s%s", text, detail ? detail : "");
    return e;
}

/* The only member of obj (an object of exactly one member), else NULL. */
static json_t *only_member(json_t *obj)
{
    if (!json_is_object(obj) || json_object_size(obj) != 1)
        return NULL;
    void *it = json_object_iter(obj);
    return json_object_iter_value(it);
}

/* An integer given as a number or as a decimal string (settings are strings). */
static bool int_of(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    char *end = NULL;
    if (!s || !*s)
        return false;
    long long x = strtoll(s, &end, 10);
    *out = x;
    return *end == 0;
}

/* The cluster state part: uuid, shard count, primary terms. */
static ce_err parse_state(json_t *root, es_index_seqnos *out, char *why, size_t n)
{
    json_t *ix = only_member(json_object_get(json_object_get(root, "metadata"), "indices"));
    if (!ix)
        return fail(why, n, CE_EPROTO, "cluster state: not exactly one index", NULL);
    json_t *set = json_object_get(json_object_get(ix, "settings"), "index");
    const char *uuid = json_string_value(json_object_get(set, "uuid"));
    int64_t ns = 0;
    if (!uuid || strlen(uuid) >= sizeof out->uuid)
        return fail(why, n, CE_EPROTO, "cluster state: no index uuid", NULL);
    if (!int_of(json_object_get(set, "number_of_shards"), &ns) || ns < 1 || ns > SEQNOS_MAX_SHARDS)
        return fail(why, n, CE_EPROTO, "cluster state: no usable number_of_shards", NULL);
    snprintf(out->uuid, sizeof out->uuid, "%s", uuid);
    out->shards = calloc((size_t)ns, sizeof *out->shards);
    if (!out->shards)
        return fail(why, n, CE_ENOMEM, "out of memory", NULL);
    out->nshards = (size_t)ns;
    json_t *terms = json_object_get(ix, "primary_terms");
    for (size_t i = 0; i < out->nshards; i++) {
        char k[24];
        snprintf(k, sizeof k, "%zu", i);
        out->shards[i].global_checkpoint = -2; /* not seen yet */
        if (!int_of(json_object_get(terms, k), &out->shards[i].primary_term) || out->shards[i].primary_term < 0)
            return fail(why, n, CE_EPROTO, "cluster state: no primary term for shard ", k);
    }
    return CE_OK;
}

/* The global checkpoint of the started primary copy among a shard's copies. */
static bool primary_checkpoint(json_t *copies, int64_t *gcp)
{
    size_t i;
    json_t *c;
    json_array_foreach(copies, i, c)
    {
        if (!json_is_true(json_object_get(json_object_get(c, "routing"), "primary")))
            continue;
        return int_of(json_object_get(json_object_get(c, "seq_no"), "global_checkpoint"), gcp) && *gcp >= -1;
    }
    return false;
}

/* The shard stats part: the same uuid, a global checkpoint for every shard. */
static ce_err parse_stats(json_t *root, es_index_seqnos *out, char *why, size_t n)
{
    json_t *ix = only_member(json_object_get(root, "indices"));
    if (!ix)
        return fail(why, n, CE_EPROTO, "shard stats: not exactly one index", NULL);
    const char *uuid = json_string_value(json_object_get(ix, "uuid"));
    if (!uuid || strcmp(uuid, out->uuid) != 0)
        return fail(why, n, CE_EPROTO, "shard stats: another index uuid than the cluster state's", NULL);
    json_t *shards = json_object_get(ix, "shards");
    for (size_t i = 0; i < out->nshards; i++) {
        char k[24];
        snprintf(k, sizeof k, "%zu", i);
        if (!primary_checkpoint(json_object_get(shards, k), &out->shards[i].global_checkpoint))
            return fail(why, n, CE_EPROTO, "shard stats: no started primary with a global checkpoint for shard ",
                        k);
    }
    return CE_OK;
}

ce_err es_index_seqnos_parse(const char *state, size_t state_len, const char *stats, size_t stats_len,
                             es_index_seqnos *out, char *why, size_t n)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *a = json_loadb(state, state_len, 0, &jerr);
    json_t *b = a ? json_loadb(stats, stats_len, 0, &jerr) : NULL;
    ce_err e = b ? CE_OK : fail(why, n, CE_EJSON, "malformed answer: ", jerr.text);
    e = e ? e : parse_state(a, out, why, n);
    e = e ? e : parse_stats(b, out, why, n);
    json_decref(a);
    json_decref(b);
    if (e)
        es_index_seqnos_free(out);
    return e;
}

/* GET prefix<escaped index>suffix into resp; CE_ENOTFOUND on an index not found. */
static ce_err get(es_client *c, const char *prefix, const char *index, const char *suffix, ce_buf *resp)
{
    ce_buf p = CE_BUF_INIT;
    long st = 0;
    ce_err e = ce_buf_append_str(&p, prefix);
    e = e ? e : es_path_escape(&p, index, strlen(index));
    e = e ? e : ce_buf_append_str(&p, suffix);
    e = e ? e : (ce_buf_cstr(&p) ? CE_OK : CE_ENOMEM);
    e = e ? e : es_client_request(c, "GET", p.data, NULL, 0, &st, resp);
    if (!e && es_answer_is_index_not_found(st, resp->data, resp->len)) {
        es_client_set_error(c, "index %s not found", index);
        e = CE_ENOTFOUND;
    } else if (!e && st != 200) {
        es_client_set_http_error(c, "shard sequence numbers", st, resp);
        e = CE_EHTTP;
    }
    ce_buf_free(&p);
    return e;
}

ce_err es_index_seqnos_get(es_client *c, const char *index, es_index_seqnos *out)
{
    memset(out, 0, sizeof *out);
    if (!index || !index[0])
        return CE_EINVAL;
    ce_buf state = CE_BUF_INIT, stats = CE_BUF_INIT;
    ce_err e = get(c, "/_cluster/state/metadata/", index, "?filter_path=" STATE_FILTER, &state);
    e = e ? e : get(c, "/", index, "/_stats?level=shards&filter_path=" STATS_FILTER, &stats);
    if (!e) {
        char why[256];
        e = es_index_seqnos_parse(state.data, state.len, stats.data, stats.len, out, why, sizeof why);
        if (e)
            es_client_set_error(c, "index %s: %s", index, why);
    }
    ce_buf_free(&state);
    ce_buf_free(&stats);
    return e;
}
