/*
 * mapping.c - the Elasticsearch mapping of a Cassandra table, and the CQL type of an
 * Elasticsearch field (pure: builds JSON text, reads jansson objects).
 *
 * CQL -> ES (index creation, docs/sync.md has the table; a scalar's property is the es
 * column of cql/type_table.h, server differences come from es_caps): text -> text with a keyword
 * subfield (key columns -> keyword), integers -> long/integer/short/byte, varint and
 * decimal -> keyword (every digit kept), float/double -> float/double (ignore_malformed
 * so NaN/Infinity stay in _source), timestamp/date -> date, time/duration/uuid/timeuuid
 * -> keyword, inet -> ip, blob -> binary, list/set -> the element's mapping,
 * vector<float,n> -> knn_vector (OpenSearch) / dense_vector (Elasticsearch), UDT -> object
 * with typed properties, map/tuple -> object with enabled:false (kept in _source, not
 * indexed). The source field -> keyword, the version column -> long.
 *
 * ES -> CQL (new fields): long -> bigint, integer -> int, short -> smallint, byte ->
 * tinyint, unsigned_long -> varint, double/scaled_float -> double, float/half_float ->
 * float, boolean -> boolean, date/date_nanos -> timestamp, keyword/text/... -> text,
 * binary -> blob, ip -> inet, dense_vector/knn_vector -> list<float>, objects and
 * anything else -> text holding the value's JSON.
 */
#include "sync/mapping.h"

#include "sync/sync_int.h"

#include <jansson.h>
#include <string.h>
#include "util/jsonw.h"

static ce_err prop_str(ce_buf *b, const char *type) { return ce_buf_printf(b, "{\"type\":\"%s\"}", type); }

/* The es column of the type table: a scalar kind's property, NULL for the kinds whose
 * property is derived from their parameters. */
static const char *table_property(cql_type_kind k)
{
    switch (k) {
#define ES_CASE(NAME, id, cql, marshal, form, fixed, es, stem) \
    case CQL_T_##NAME:                                         \
        return es;
        CQL_TYPE_TABLE(ES_CASE)
#undef ES_CASE
    default:
        return CQL_ES_OPAQUE;
    }
}

static bool is_float_vector(const cql_type *t)
{
    return t->kind == CQL_T_VECTOR && t->nsub == 1 && t->sub[0]->kind == CQL_T_FLOAT &&
           t->dimension > 0;
}

static ce_err vector_property(const cql_type *t, const es_caps *caps, ce_buf *b)
{
    if (is_float_vector(t)) {
        if (caps->flavor == ES_FLAVOR_OPENSEARCH && caps->knn_plugin)
            return ce_buf_printf(b, "{\"type\":\"knn_vector\",\"dimension\":%u}", t->dimension);
        if (caps->dense_vector_max_dims > 0 && t->dimension <= (unsigned)caps->dense_vector_max_dims)
            return ce_buf_printf(b,
                                 "{\"type\":\"dense_vector\",\"dims\":%u,\"index\":true,"
                                 "\"similarity\":\"l2_norm\"}",
                                 t->dimension);
    }
    if (t->nsub == 1)
        return sync_mapping_property(t->sub[0], false, caps, b);
    return prop_str(b, "float");
}

static ce_err udt_property(const cql_type *t, const es_caps *caps, ce_buf *b)
{
    ce_err e = ce_buf_append_str(b, "{\"type\":\"object\",\"properties\":{");
    for (size_t i = 0; i < t->nsub && !e; i++) {
        if (i)
            e = ce_buf_append_byte(b, ',');
        const char *fn = t->field_names ? t->field_names[i] : "";
        if (!e)
            e = jsonw_key(b, fn, strlen(fn));
        if (!e)
            e = sync_mapping_property(t->sub[i], false, caps, b);
    }
    return e ? e : ce_buf_append_str(b, "}}");
}

ce_err sync_mapping_property(const cql_type *t, bool is_key, const es_caps *caps, ce_buf *b)
{
    switch (t->kind) {
    case CQL_T_ASCII:
    case CQL_T_VARCHAR:
        if (is_key)
            return prop_str(b, "keyword");
        break;
    case CQL_T_LIST:
    case CQL_T_SET:
        if (t->nsub == 1)
            return sync_mapping_property(t->sub[0], false, caps, b);
        return prop_str(b, "keyword");
    case CQL_T_VECTOR:
        return vector_property(t, caps, b);
    case CQL_T_UDT:
        return udt_property(t, caps, b);
    default:
        break;
    }
    const char *prop = table_property(t->kind);
    return ce_buf_append_str(b, prop ? prop : CQL_ES_OPAQUE);
}

static bool has_opensearch_knn(const cql_table_meta *m, const es_caps *caps)
{
    if (caps->flavor != ES_FLAVOR_OPENSEARCH || !caps->knn_plugin)
        return false;
    for (size_t i = 0; i < m->ncolumns; i++) {
        const cql_type *t = m->columns[i].type;
        if (t && t->kind == CQL_T_VECTOR && t->nsub == 1 && t->sub[0]->kind == CQL_T_FLOAT)
            return true;
    }
    return false;
}

static bool is_id_col(const sync_def *d, const char *name)
{
    for (size_t i = 0; i < d->nid_cols; i++)
        if (strcmp(d->id_cols[i], name) == 0)
            return true;
    return false;
}

ce_err sync_mapping_build(const cql_table_meta *m, const sync_def *d, const es_caps *caps,
                          ce_buf *b)
{
    ce_err e = ce_buf_append_str(b, "{");
    if (!e && has_opensearch_knn(m, caps))
        e = ce_buf_append_str(b, "\"settings\":{\"index\":{\"knn\":true}},");
    if (!e)
        e = ce_buf_append_str(b, "\"mappings\":{");
    if (!e && caps->has_types) {
        e = jsonw_cstr(b, d->type && *d->type ? d->type : "_doc");
        if (!e)
            e = ce_buf_append_str(b, ":{");
    }
    if (!e)
        e = ce_buf_append_str(b, "\"properties\":{");
    bool source_seen = false;
    for (size_t i = 0; i < m->ncolumns && !e; i++) {
        const cql_column_meta *c = &m->columns[i];
        if (i)
            e = ce_buf_append_byte(b, ',');
        if (!e)
            e = jsonw_key(b, c->name, strlen(c->name));
        if (e)
            break;
        bool is_key = c->role == CQL_COL_PARTITION_KEY || c->role == CQL_COL_CLUSTERING ||
                      is_id_col(d, c->name);
        const cql_type_kind k = c->type->kind;
        bool integral = k == CQL_T_BIGINT || k == CQL_T_INT || k == CQL_T_SMALLINT ||
                        k == CQL_T_TINYINT || k == CQL_T_VARINT || k == CQL_T_COUNTER;
        if (d->source_field && strcmp(c->name, d->source_field) == 0) {
            source_seen = true;
            e = prop_str(b, "keyword");
        } else if (d->version_col && strcmp(c->name, d->version_col) == 0 && integral) {
            e = prop_str(b, "long");
        } else if (d->date_col && strcmp(c->name, d->date_col) == 0 && integral) {
            e = ce_buf_append_str(b, "{\"type\":\"date\",\"format\":\"epoch_millis||strict_date_optional_time\"}");
        } else {
            e = sync_mapping_property(c->type, is_key, caps, b);
        }
    }
    if (!e && d->token_field && *d->token_field) {
        e = m->ncolumns ? ce_buf_append_byte(b, ',') : CE_OK;
        e = e ? e : jsonw_key(b, d->token_field, strlen(d->token_field));
        e = e ? e : prop_str(b, "long");
    }
    if (!e && !source_seen && d->source_field) {
        if (m->ncolumns)
            e = ce_buf_append_byte(b, ',');
        if (!e)
            e = jsonw_key(b, d->source_field, strlen(d->source_field));
        if (!e)
            e = prop_str(b, "keyword");
    }
    if (!e)
        e = ce_buf_append_str(b, caps->has_types ? "}}}}" : "}}}");
    return e;
}

const char *sync_es_prop_type(const struct json_t *prop)
{
    const char *t = json_string_value(json_object_get(prop, "type"));
    if (t)
        return t;
    if (json_object_get(prop, "properties"))
        return "object";
    return "object";
}

const char *sync_cql_type_for_es(const struct json_t *prop)
{
    static const struct {
        const char *es, *cql;
    } map[] = {
        {"long", "bigint"},          {"integer", "int"},          {"short", "smallint"},
        {"byte", "tinyint"},         {"unsigned_long", "varint"}, {"double", "double"},
        {"scaled_float", "double"},  {"float", "float"},          {"half_float", "float"},
        {"boolean", "boolean"},      {"date", "timestamp"},       {"date_nanos", "timestamp"},
        {"keyword", "text"},         {"text", "text"},            {"constant_keyword", "text"},
        {"wildcard", "text"},        {"match_only_text", "text"}, {"binary", "blob"},
        {"ip", "inet"},              {"dense_vector", "list<float>"}, {"knn_vector", "list<float>"},
    };
    const char *t = sync_es_prop_type(prop);
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].es, t) == 0)
            return map[i].cql;
    return "text";
}

static bool kind_in(cql_type_kind k, const cql_type_kind *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == k)
            return true;
    return false;
}

#define KIND_IN(k, ...)                                                                      \
    kind_in((k), (const cql_type_kind[]){__VA_ARGS__},                                       \
            sizeof((const cql_type_kind[]){__VA_ARGS__}) / sizeof(cql_type_kind))

bool sync_es_compatible(const struct json_t *prop, const cql_type *t)
{
    const char *cql = sync_cql_type_for_es(prop);
    const char *es = sync_es_prop_type(prop);
    cql_type_kind k = t->kind;
    if (k == CQL_T_VARCHAR || k == CQL_T_ASCII)
        return true; /* anything can be kept as text (JSON for structured values) */
    /* every Elasticsearch field may hold an array: lists, sets and vectors of a
     * compatible element type fit */
    if ((k == CQL_T_LIST || k == CQL_T_SET || k == CQL_T_VECTOR) && t->nsub == 1 &&
        strcmp(cql, "text") != 0 && sync_es_compatible(prop, t->sub[0]))
        return true;
    if ((k == CQL_T_LIST || k == CQL_T_SET || k == CQL_T_VECTOR) && t->nsub == 1 &&
        strcmp(cql, "text") == 0 && strcmp(es, "object") != 0 && strcmp(es, "nested") != 0 &&
        strcmp(es, "flattened") != 0 && strcmp(es, "flat_object") != 0)
        return sync_es_compatible(prop, t->sub[0]);
    if (strcmp(cql, "bigint") == 0 || strcmp(cql, "int") == 0 || strcmp(cql, "smallint") == 0 ||
        strcmp(cql, "tinyint") == 0 || strcmp(cql, "varint") == 0)
        return KIND_IN(k, CQL_T_BIGINT, CQL_T_INT, CQL_T_SMALLINT, CQL_T_TINYINT, CQL_T_VARINT,
                       CQL_T_COUNTER, CQL_T_DECIMAL, CQL_T_DOUBLE, CQL_T_FLOAT, CQL_T_TIMESTAMP);
    if (strcmp(cql, "double") == 0 || strcmp(cql, "float") == 0)
        return KIND_IN(k, CQL_T_DOUBLE, CQL_T_FLOAT, CQL_T_DECIMAL);
    if (strcmp(cql, "boolean") == 0)
        return k == CQL_T_BOOLEAN;
    if (strcmp(cql, "timestamp") == 0)
        return KIND_IN(k, CQL_T_TIMESTAMP, CQL_T_DATE, CQL_T_BIGINT);
    if (strcmp(cql, "inet") == 0)
        return k == CQL_T_INET;
    if (strcmp(cql, "blob") == 0)
        return k == CQL_T_BLOB;
    if (strcmp(cql, "list<float>") == 0)
        return KIND_IN(k, CQL_T_LIST, CQL_T_SET, CQL_T_VECTOR);
    if (strcmp(es, "keyword") == 0 || strcmp(es, "text") == 0 || strcmp(es, "constant_keyword") == 0 ||
        strcmp(es, "wildcard") == 0 || strcmp(es, "match_only_text") == 0)
        /* strings parse into most scalar types (uuid, inet, time, numbers as text, ...) */
        return !KIND_IN(k, CQL_T_LIST, CQL_T_SET, CQL_T_MAP, CQL_T_UDT, CQL_T_TUPLE, CQL_T_VECTOR);
    /* objects, nested, geo, flattened...: structured columns */
    return KIND_IN(k, CQL_T_MAP, CQL_T_UDT, CQL_T_LIST, CQL_T_SET, CQL_T_TUPLE);
}
