/*
 * verify_es.c - verify, Elasticsearch side: every document's _id and version from doc
 * values, never a body.
 *
 *   POST /<index>/_search?scroll=..  {"size":N,"_source":false,
 *        "docvalue_fields":[<version>,<source>,<deleted_col>],"sort":["_doc"]}
 *
 * then the scroll's pages. Each _id is split into its key parts (sync_id_split), the
 * partition key's parts are serialized as their Cassandra types and hashed (Murmur3, as
 * Cassandra places the row), which gives the token range the document belongs to. The
 * page codec (verify_es_page) takes bytes and returns hits: no I/O.
 */
#include "sync/verify_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "util/jsonw.h"
#include "util/log.h"

#define VERIFY_ES_PAGE 10000
#define VERIFY_ES_KEEP_ALIVE "5m"

/* The doc-value name of a field: itself when it has doc values (keyword, numbers, dates),
 * its "keyword" sub-field for a text field that has one, else NULL. */
static char *docvalue_name(const json_t *props, const char *field)
{
    const json_t *f = json_object_get(props, field);
    const char *type = json_string_value(json_object_get(f, "type"));
    if (!f || !type)
        return NULL;
    if (strcmp(type, "text") != 0)
        return strdup(field);
    const json_t *kw = json_object_get(json_object_get(f, "fields"), "keyword");
    if (!kw)
        return NULL;
    size_t n = strlen(field) + sizeof ".keyword";
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s.keyword", field);
    return s;
}

/* The mapping type of a doc-value name ("f" or "f.keyword"); static storage. */
static const char *docvalue_type(const json_t *props, const char *field, const char *dv)
{
    const char *t = json_string_value(json_object_get(json_object_get(props, field), "type"));
    if (t && strcmp(t, "text") == 0 && strcmp(field, dv) != 0)
        return "keyword";
    static const char *const known[][2] = {
        {"boolean", "boolean"}, {"keyword", "keyword"}, {"constant_keyword", "keyword"},
        {"wildcard", "keyword"}, {"long", "integer"}, {"integer", "integer"}, {"short", "integer"},
        {"byte", "integer"}, {"unsigned_long", "integer"}, {"double", "real"}, {"float", "real"},
        {"half_float", "real"}, {"scaled_float", "real"},
    };
    for (size_t i = 0; t && i < sizeof known / sizeof *known; i++)
        if (strcmp(t, known[i][0]) == 0)
            return known[i][1];
    return "other";
}

/* deleted_col: its doc-value name and type. A field without doc values (a text field
 * without a keyword sub-field) cannot be read by verify: a configuration error. */
static ce_err plan_deleted(verify_job *j, const json_t *props)
{
    const char *f = j->ctx.def->deleted_col;
    if (!f || !*f || !json_object_get(props, f))
        return CE_OK; /* not set, or no document has it yet */
    j->es_deleted_field = docvalue_name(props, f);
    if (!j->es_deleted_field) {
        sync_pass_fail(&j->ctx, CE_ECONFIG, "deleted_col \"%s\" is a text field without a keyword "
                                            "sub-field: verify reads the mark from doc values", f);
        return CE_ECONFIG;
    }
    j->es_deleted_type = docvalue_type(props, f, j->es_deleted_field);
    return CE_OK;
}

/* Whether the server runs painless scripts in aggregations (GET /_script_language): a node
 * started without the lang-painless module (a minimal test bed) has none, and its token
 * field documents are then streamed like the others. */
static bool painless_aggs(verify_job *j)
{
    ce_buf resp = CE_BUF_INIT;
    long st = 0;
    bool ok = false;
    if (es_client_request(j->ctx.es, "GET", "/_script_language", NULL, 0, &st, &resp) == CE_OK && st == 200) {
        json_error_t je;
        json_t *root = json_loadb(resp.data, resp.len, 0, &je);
        size_t i;
        json_t *lc;
        json_array_foreach(json_object_get(root, "language_contexts"), i, lc)
        {
            const char *lang = json_string_value(json_object_get(lc, "language"));
            size_t k;
            json_t *ctx;
            json_array_foreach(json_object_get(lc, "contexts"), k, ctx)
            {
                const char *c = json_string_value(ctx);
                ok = ok || (lang && c && strcmp(lang, "painless") == 0 && strcmp(c, "aggs") == 0);
            }
        }
        json_decref(root);
    }
    ce_buf_free(&resp);
    return ok;
}

ce_err verify_es_plan(verify_job *j)
{
    const sync_def *d = j->ctx.def;
    bool exists = false;
    ce_err e = es_index_exists(j->ctx.es, d->index, &exists);
    if (e || !exists) {
        if (e)
            sync_pass_fail(&j->ctx, e, "elasticsearch: %s", es_client_errmsg(j->ctx.es));
        return e;
    }
    json_t *props = NULL;
    e = es_index_get_properties(j->ctx.es, d->index, &props);
    if (e) {
        sync_pass_fail(&j->ctx, e, "elasticsearch: %s", es_client_errmsg(j->ctx.es));
        return e;
    }
    j->es_version_field = docvalue_name(props, d->version_col);
    const char *vt = json_string_value(json_object_get(json_object_get(props, d->version_col), "type"));
    j->es_int_version = vt && (strcmp(vt, "long") == 0 || strcmp(vt, "integer") == 0 ||
                               strcmp(vt, "short") == 0 || strcmp(vt, "byte") == 0);
    j->es_source_field = d->source_field ? docvalue_name(props, d->source_field) : NULL;
    if (d->token_field && *d->token_field && json_object_get(props, d->token_field)) {
        if (painless_aggs(j))
            j->es_token_field = strdup(d->token_field);
        else
            ce_warn("sync=%s msg=\"verify: the server has no painless scripts for aggregations; documents with "
                    "the token field are streamed\"", d->name);
    }
    e = plan_deleted(j, props);
    json_decref(props);
    if (e)
        return e;
    if (!j->es_version_field)
        j->es_version_field = strdup(d->version_col); /* not mapped yet: no document has it */
    return j->es_version_field ? CE_OK : CE_ENOMEM;
}

bool verify_id_token(const verify_job *j, const char *id, size_t n, int64_t *token, ce_buf *scratch)
{
    size_t offs[SYNC_MAX_KEY_PARTS];
    ce_buf parts = CE_BUF_INIT;
    cql_value comp[SYNC_MAX_KEY_PARTS];
    size_t lens[SYNC_MAX_KEY_PARTS];
    bool ok = sync_id_split(id, n, j->tp.nid, &parts, offs) == CE_OK;
    ce_buf_reset(scratch);
    for (size_t i = 0; ok && i < j->npk; i++) {
        size_t before = scratch->len;
        bool is_null = false;
        ok = sync_id_part_value(j->tp.meta->columns[i].type, parts.data + offs[j->pk_part[i]], scratch,
                                &is_null) == CE_OK && !is_null;
        lens[i] = scratch->len - before;
    }
    size_t off = 0;
    for (size_t i = 0; ok && i < j->npk; i++) {
        comp[i].ptr = (const uint8_t *)scratch->data + off;
        comp[i].len = (int32_t)lens[i];
        off += lens[i];
    }
    ok = ok && cql_partition_token(comp, j->npk, token);
    ce_buf_free(&parts);
    return ok;
}

/* An integer doc value (numbers, or numeric strings as dates may come). */
static bool field_int(const json_t *fields, const char *name, int64_t *out)
{
    const json_t *v = json_array_get(json_object_get(fields, name), 0);
    if (json_is_integer(v))
        *out = (int64_t)json_integer_value(v);
    else if (json_is_real(v))
        *out = (int64_t)json_real_value(v);
    else if (json_is_string(v))
        *out = strtoll(json_string_value(v), NULL, 10);
    else
        return false;
    return true;
}

void verify_es_fail(verify_job *j, ce_err e, const char *fmt, const char *detail)
{
    if (!j->es_threaded) {
        sync_pass_fail(&j->ctx, e, fmt, detail);
        return;
    }
    if (!j->es_rc) { /* the main thread reports it after the join */
        j->es_rc = e;
        snprintf(j->es_error, sizeof j->es_error, fmt, detail ? detail : "");
    }
}

/* One hit: its range's summary, or (a differing range) the descent's table. */
static ce_err take_hit(verify_job *j, const json_t *hit, bool collect, ce_buf *scratch)
{
    const json_t *jid = json_object_get(hit, "_id");
    const json_t *fields = json_object_get(hit, "fields");
    int64_t version, token;
    if (!json_is_string(jid) || !field_int(fields, j->es_version_field, &version))
        return CE_OK; /* no version: E->C cannot write it either (dead letter) */
    const char *id = json_string_value(jid);
    size_t n = json_string_length(jid);
    bool marked = verify_es_doc_deleted(j, fields);
    if (marked && !collect)
        return CE_OK;
    if (!verify_id_token(j, id, n, &token, scratch)) {
        ce_debug("sync=%s msg=\"verify: _id does not decode into the key\" id=\"%s\"", j->ctx.def->name, id);
        return CE_OK;
    }
    verify_range *r = &j->ranges[verify_range_of(j, token)];
    if (!collect) {
        verify_sum_add(&r->e, id, n, version, token);
        j->out->e_docs++;
        return CE_OK;
    }
    if (!r->differs)
        return CE_OK;
    j->rows++;
    j->out->e_docs_descended++;
    verify_rec *rec = verify_map_get(j->map, id, n);
    if (!rec)
        return CE_ENOMEM;
    if (marked) { /* absent; its version settles the repair (docs/verify.md) */
        rec->e_marked = true;
        rec->e_mark_version = version;
        return CE_OK;
    }
    rec->has_e = true;
    rec->e_version = version;
    const char *src = j->es_source_field
                          ? json_string_value(json_array_get(json_object_get(fields, j->es_source_field), 0))
                          : NULL;
    snprintf(rec->e_source, sizeof rec->e_source, "%s", src ? src : "");
    return CE_OK;
}

/* Codec: one scroll page -> its hits (borrowed from *root) and scroll id. */
static ce_err verify_es_page(const char *body, size_t len, json_t **root, const json_t **hits, const char **sid)
{
    json_error_t je;
    *root = json_loadb(body, len, 0, &je);
    if (!json_is_object(*root))
        return CE_EJSON;
    /* filter_path drops an empty hits list: no hits, the end */
    *hits = json_object_get(json_object_get(*root, "hits"), "hits");
    *sid = json_string_value(json_object_get(*root, "_scroll_id"));
    return !*hits || json_is_array(*hits) ? CE_OK : CE_EJSON;
}

/* {"range":{TF:{"gt":start,"lte":end}}} */
static ce_err range_query(const verify_job *j, const verify_range *r, ce_buf *b)
{
    ce_err e = ce_buf_append_str(b, "{\"range\":{");
    e = e ? e : jsonw_cstr(b, j->es_token_field);
    return e ? e : ce_buf_printf(b, ":{\"gt\":%lld,\"lte\":%lld}}}", (long long)r->start, (long long)r->end);
}

#define VERIFY_MAX_CLAUSES 1000 /* below the servers' default max_clause_count (1024) */

/* With a token field: the documents without it (summaries), or those and the ones of the
 * differing ranges (descent; every document when too many ranges differ). */
static ce_err stream_query(const verify_job *j, bool collect, ce_buf *b)
{
    size_t ndiff = 0;
    for (size_t k = 0; collect && k < j->nranges; k++)
        ndiff += j->ranges[k].differs;
    if (!j->es_token_field || ndiff > VERIFY_MAX_CLAUSES)
        return CE_OK;
    ce_err e = ce_buf_append_str(b, ",\"query\":{\"bool\":{\"should\":[{\"bool\":{\"must_not\":{\"exists\":{\"field\":");
    e = e ? e : jsonw_cstr(b, j->es_token_field);
    e = e ? e : ce_buf_append_str(b, "}}}}");
    for (size_t k = 0; collect && k < j->nranges && !e; k++) {
        if (!j->ranges[k].differs)
            continue;
        e = ce_buf_append_byte(b, ',');
        e = e ? e : range_query(j, &j->ranges[k], b);
    }
    return e ? e : ce_buf_append_str(b, "],\"minimum_should_match\":1}}");
}

static ce_err first_request(verify_job *j, bool collect, ce_buf *path, ce_buf *body)
{
    ce_err e = ce_buf_printf(path, "/%s/_search?scroll=%s&filter_path=_scroll_id,hits.hits._id,hits.hits.fields",
                             j->ctx.def->index, VERIFY_ES_KEEP_ALIVE);
    e = e ? e : ce_buf_printf(body, "{\"size\":%d,\"_source\":false,\"docvalue_fields\":[", VERIFY_ES_PAGE);
    e = e ? e : jsonw_cstr(body, j->es_version_field);
    if (!e && j->es_source_field && collect) { /* the summaries need no provenance */
        e = ce_buf_append_byte(body, ',');
        e = e ? e : jsonw_cstr(body, j->es_source_field);
    }
    if (!e && j->es_deleted_field) {
        e = ce_buf_append_byte(body, ',');
        e = e ? e : jsonw_cstr(body, j->es_deleted_field);
    }
    e = e ? e : ce_buf_append_str(body, "],\"sort\":[\"_doc\"]");
    e = e ? e : stream_query(j, collect, body);
    return e ? e : ce_buf_append_byte(body, '}');
}

static ce_err next_request(const char *sid, ce_buf *path, ce_buf *body)
{
    ce_err e = ce_buf_append_str(path, "/_search/scroll?filter_path=_scroll_id,hits.hits._id,hits.hits.fields");
    e = e ? e : ce_buf_append_str(body, "{\"scroll\":\"" VERIFY_ES_KEEP_ALIVE "\",\"scroll_id\":");
    e = e ? e : jsonw_cstr(body, sid);
    return e ? e : ce_buf_append_byte(body, '}');
}

static void close_scroll(verify_job *j, const char *sid)
{
    ce_buf body = CE_BUF_INIT;
    long st = 0;
    if (!ce_buf_append_str(&body, "{\"scroll_id\":[") && !jsonw_cstr(&body, sid) && !ce_buf_append_str(&body, "]}"))
        (void)es_client_request(j->ctx.es, "DELETE", "/_search/scroll", body.data, body.len, &st, NULL);
    ce_buf_free(&body);
}

/* One request of the scroll; *root owns the page. */
static ce_err fetch(verify_job *j, bool collect, const char *sid, json_t **root, const json_t **hits,
                    const char **next_sid)
{
    ce_buf path = CE_BUF_INIT, body = CE_BUF_INIT, resp = CE_BUF_INIT;
    long st = 0;
    ce_err e = sid ? next_request(sid, &path, &body) : first_request(j, collect, &path, &body);
    e = e ? e : (ce_buf_cstr(&path) ? CE_OK : CE_ENOMEM);
    if (!e && !sid)
        ce_debug("sync=%s msg=\"verify search\" path=\"%s\" body=%.*s", j->ctx.def->name, path.data,
                 (int)body.len, body.data);
    e = e ? e : es_client_request(j->ctx.es, "POST", path.data, body.data, body.len, &st, &resp);
    j->out->es_requests++;
    if (!e && st != 200) {
        ce_error("sync=%s msg=\"verify search failed\" status=%ld answer=%.300s", j->ctx.def->name, st,
                 resp.data ? resp.data : "");
        e = CE_EHTTP;
    }
    e = e ? e : verify_es_page(resp.data, resp.len, root, hits, next_sid);
    if (e)
        verify_es_fail(j, e, "elasticsearch search: %s", st && st != 200 ? "HTTP error" : es_client_errmsg(j->ctx.es));
    ce_buf_free(&path);
    ce_buf_free(&body);
    ce_buf_free(&resp);
    return e;
}

ce_err verify_es_read(verify_job *j, bool collect)
{
    if (!j->es_version_field)
        return CE_OK; /* no index: no document */
    ce_buf scratch = CE_BUF_INIT;
    char *sid = NULL;
    ce_err e = CE_OK;
    for (bool more = true; more && !e;) {
        json_t *root = NULL;
        const json_t *hits = NULL;
        const char *next = NULL;
        e = fetch(j, collect, sid, &root, &hits, &next);
        size_t nh = e ? 0 : json_array_size(hits);
        for (size_t i = 0; i < nh && !e; i++)
            e = take_hit(j, json_array_get(hits, i), collect, &scratch);
        more = nh > 0;
        if (next && (!sid || strcmp(sid, next) != 0)) {
            free(sid);
            sid = strdup(next);
        }
        json_decref(root);
        if (!j->es_threaded)
            verify_report_progress(j, false);
        if (!e && verify_stop_requested(j))
            e = CE_ECANCELED;
    }
    if (sid)
        close_scroll(j, sid);
    free(sid);
    ce_buf_free(&scratch);
    return e;
}

/* ---------------------------------------------------------------- aggregations */

/*
 * Documents with the token field are summed by one aggregation over every range: a terms
 * aggregation whose key is the document's range, found by a binary search of the ranges'
 * ends (exact long compares, O(documents x log ranges); a filters aggregation with a range
 * filter per range costs documents x ranges, and a range aggregation compares doubles).
 */
static const char agg_range_script[] =
    "long t = doc[params.t].value; def e = params.e; int lo = 0, hi = e.size(); "
    "while (lo < hi) { int mid = (lo + hi) >>> 1; if (e.get(mid) < t) lo = mid + 1; else hi = mid; } "
    "return lo;";

/* The live values of the deleted field by its class (docvalue_type) besides absent, as
 * should clauses {head, tail} around the field name: what sync_json_is_deleted calls live. */
static const struct {
    const char *type, *clause[2][2];
} live_values[] = {
    {"boolean", {{"{\"terms\":{", ":[false]}}"}}},
    {"keyword",
     {{"{\"terms\":{", ":[\"false\",\"\"]}}"}, /* and the text of a zero */
      {"{\"regexp\":{", ":\"-?0+(\\\\.0+)?([eE](\\\\+|-)?[0-9]+)?\"}}"}}},
    {"integer", {{"{\"term\":{", ":0}}"}}},
    {"real", {{"{\"range\":{", ":{\"gte\":-0.0,\"lte\":0.0}}}"}}}, /* +0 and -0 */
};

static ce_err live_clauses(const verify_job *j, ce_buf *b)
{
    ce_err e = CE_OK;
    for (size_t i = 0; i < sizeof live_values / sizeof *live_values; i++) {
        if (strcmp(j->es_deleted_type, live_values[i].type) != 0)
            continue;
        for (size_t c = 0; c < 2 && live_values[i].clause[c][0] && !e; c++) {
            e = ce_buf_append_byte(b, ',');
            e = e ? e : ce_buf_append_str(b, live_values[i].clause[c][0]);
            e = e ? e : jsonw_cstr(b, j->es_deleted_field);
            e = e ? e : ce_buf_append_str(b, live_values[i].clause[c][1]);
        }
    }
    return e;
}

/* ,"query":<documents with the token field and a version, live ones only> (deleted_col:
 * the rule of docs/deletes.md as a query). Live: the field absent, or boolean false, or the
 * keyword "false" / "" / the text of a zero, or a number equal to zero. Any value of any
 * other type (a date) marks the document deleted. */
static ce_err live_query(const verify_job *j, ce_buf *b)
{
    ce_err e = ce_buf_append_str(b, ",\"query\":{\"bool\":{\"filter\":[{\"exists\":{\"field\":");
    e = e ? e : jsonw_cstr(b, j->es_token_field);
    e = e ? e : ce_buf_append_str(b, "}},{\"exists\":{\"field\":");
    e = e ? e : jsonw_cstr(b, j->es_version_field);
    e = e ? e : ce_buf_append_str(b, "}}]");
    if (!j->es_deleted_field)
        return e ? e : ce_buf_append_str(b, "}}");
    e = e ? e : ce_buf_append_str(b, ",\"should\":[{\"bool\":{\"must_not\":{\"exists\":{\"field\":");
    e = e ? e : jsonw_cstr(b, j->es_deleted_field);
    e = e ? e : ce_buf_append_str(b, "}}}}");
    e = e ? e : live_clauses(j, b);
    return e ? e : ce_buf_append_str(b, "],\"minimum_should_match\":1}}");
}

/* The mix and the two halves of the version, summed by scripts (same truncating % as
 * Cassandra's and ours: verify_mix): "lo" version % P, "hi" version / P, "m" the mix. */
#define VERIFY_PAINLESS_V "long v = doc[params.v].value; "
static const char *const agg_scripts[][2] = {
    {"lo", VERIFY_PAINLESS_V "return v % params.p;"},
    {"hi", VERIFY_PAINLESS_V "return v / params.p;"},
    {"m", VERIFY_PAINLESS_V "return (doc[params.t].value % params.p) * (v % params.p) % params.p;"},
};

/* ,"lo":{"sum":{"script":{...}}},"hi":...,"m":... */
static ce_err agg_script_sums(const verify_job *j, ce_buf *b)
{
    ce_err e = CE_OK;
    for (size_t i = 0; i < sizeof agg_scripts / sizeof *agg_scripts && !e; i++) {
        e = ce_buf_printf(b, ",\"%s\":{\"sum\":{\"script\":{\"lang\":\"painless\",\"source\":", agg_scripts[i][0]);
        e = e ? e : jsonw_cstr(b, agg_scripts[i][1]);
        e = e ? e : ce_buf_append_str(b, ",\"params\":{\"v\":");
        e = e ? e : jsonw_cstr(b, j->es_version_field);
        e = e ? e : ce_buf_append_str(b, ",\"t\":");
        e = e ? e : jsonw_cstr(b, j->es_token_field);
        e = e ? e : ce_buf_printf(b, ",\"p\":%lld}}}}", VERIFY_MIX_P);
    }
    return e;
}

/* {"size":0,<live>,"aggs":{"r":{"terms":{"script":<range of the document>,"size":R,
 *  "shard_size":R},"aggs":{"v":{"sum":{"field":V}} (,"lo","hi","m" for an integer version)}}}} */
static ce_err agg_body(const verify_job *j, ce_buf *b)
{
    ce_err e = ce_buf_append_str(b, "{\"size\":0");
    e = e ? e : live_query(j, b);
    e = e ? e : ce_buf_append_str(b, ",\"aggs\":{\"r\":{\"terms\":{\"script\":{\"lang\":\"painless\",\"source\":");
    e = e ? e : jsonw_cstr(b, agg_range_script);
    e = e ? e : ce_buf_append_str(b, ",\"params\":{\"t\":");
    e = e ? e : jsonw_cstr(b, j->es_token_field);
    e = e ? e : ce_buf_append_str(b, ",\"e\":[");
    for (size_t k = 0; k < j->nranges && !e; k++)
        e = ce_buf_printf(b, "%s%lld", k ? "," : "", (long long)j->ranges[k].end);
    e = e ? e : ce_buf_printf(b, "]}},\"size\":%zu,\"shard_size\":%zu},\"aggs\":{\"v\":{\"sum\":{\"field\":",
                              j->nranges, j->nranges);
    e = e ? e : jsonw_cstr(b, j->es_version_field);
    e = e ? e : ce_buf_append_str(b, "}}");
    e = e || !j->es_int_version ? e : agg_script_sums(j, b);
    return e ? e : ce_buf_append_str(b, "}}}}");
}

static double bucket_sum(const json_t *bk, const char *name)
{
    return json_number_value(json_object_get(json_object_get(bk, name), "value"));
}

/* A bucket's key: the index of its range ("17" or 17 as the servers give it); -1 if none. */
static long long bucket_key(const json_t *bk)
{
    const json_t *k = json_object_get(bk, "key");
    if (json_is_integer(k))
        return (long long)json_integer_value(k);
    char *end = NULL;
    long long v = json_is_string(k) ? strtoll(json_string_value(k), &end, 10) : -1;
    return end && *end == 0 ? v : -1;
}

/* Codec: the buckets of the answer into their ranges (the ranges settled by the verify this
 * one resumes are left out: they are not compared again). */
static ce_err agg_parse(verify_job *j, const char *body, size_t len)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    const json_t *buckets = json_object_get(json_object_get(json_object_get(root, "aggregations"), "r"), "buckets");
    ce_err e = json_is_array(buckets) ? CE_OK : CE_EJSON;
    for (size_t i = 0; i < json_array_size(buckets) && !e; i++) {
        const json_t *bk = json_array_get(buckets, i);
        long long k = bucket_key(bk);
        if (k < 0 || (size_t)k >= j->nranges) {
            e = CE_EJSON;
            break;
        }
        verify_range *r = &j->ranges[k];
        if (r->done)
            continue;
        r->e_agg_count = (uint64_t)json_integer_value(json_object_get(bk, "doc_count"));
        r->e_agg_sum = bucket_sum(bk, "v");
        r->e_agg_lo = bucket_sum(bk, "lo");
        r->e_agg_hi = bucket_sum(bk, "hi");
        r->e_agg_mix = bucket_sum(bk, "m");
        j->out->e_docs_aggregated += r->e_agg_count;
    }
    json_decref(root);
    return e;
}

ce_err verify_es_aggregate(verify_job *j)
{
    if (!j->es_token_field || !j->nranges)
        return CE_OK;
    ce_buf path = CE_BUF_INIT, body = CE_BUF_INIT, resp = CE_BUF_INIT;
    long st = 0;
    ce_err e = ce_buf_printf(&path, "/%s/_search?filter_path=aggregations,_shards.failures", j->ctx.def->index);
    e = e ? e : (ce_buf_cstr(&path) ? CE_OK : CE_ENOMEM);
    e = e ? e : agg_body(j, &body);
    if (!e)
        ce_debug("sync=%s msg=\"verify aggregation\" bytes=%zu", j->ctx.def->name, body.len);
    e = e ? e : es_client_request(j->ctx.es, "POST", path.data, body.data, body.len, &st, &resp);
    j->out->es_requests++;
    if (!e && (st != 200 || strstr(ce_buf_cstr(&resp) ? resp.data : "", "\"failures\""))) {
        ce_error("sync=%s msg=\"verify aggregation failed\" status=%ld answer=%.300s", j->ctx.def->name, st,
                 resp.data ? resp.data : "");
        e = CE_EHTTP;
    }
    e = e ? e : agg_parse(j, resp.data, resp.len);
    if (e)
        verify_es_fail(j, e, "elasticsearch aggregation: %s", ce_strerror(e));
    ce_buf_free(&path);
    ce_buf_free(&body);
    ce_buf_free(&resp);
    return e;
}
