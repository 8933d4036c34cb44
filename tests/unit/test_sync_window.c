/* test_sync_window.c - pass windows, version units, buckets, name lists, and the
 * Elasticsearch mapping <-> CQL type tables of the sync engine. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "sync/sync_int.h"

static void test_window(void **st)
{
    (void)st;
    sync_window w;
    /* checkpoint: start = checkpoint - overlap, end = now - lag */
    sync_window_compute(false, 0, true, 100000, false, 0, 60000, 2000, 500000, &w);
    assert_int_equal(w.start_ms, 40000);
    assert_int_equal(w.end_ms, 498000);
    assert_false(w.initial);
    /* since wins over everything, without overlap */
    sync_window_compute(true, 300000, true, 100000, true, 5, 60000, 2000, 500000, &w);
    assert_int_equal(w.start_ms, 300000);
    /* lastruntime when there is no checkpoint */
    sync_window_compute(false, 0, false, 0, true, 200000, 60000, 2000, 500000, &w);
    assert_int_equal(w.start_ms, 140000);
    assert_false(w.initial);
    /* nothing: initial load from the epoch */
    sync_window_compute(false, 0, false, 0, false, 0, 60000, 2000, 500000, &w);
    assert_int_equal(w.start_ms, 0);
    assert_true(w.initial);
    /* overlap larger than the checkpoint clamps to 0 */
    sync_window_compute(false, 0, true, 1000, false, 0, 60000, 2000, 500000, &w);
    assert_int_equal(w.start_ms, 0);
    /* end never before start (clock behind the checkpoint) */
    sync_window_compute(false, 0, true, 900000, false, 0, 0, 2000, 500000, &w);
    assert_int_equal(w.end_ms, w.start_ms);
}

static void test_version_units(void **st)
{
    (void)st;
    assert_int_equal(sync_version_floor(1500, 1000), 1500);
    assert_int_equal(sync_version_floor(1500, 1000000), 1); /* seconds */
    assert_int_equal(sync_version_ceil(1500, 1000000), 2);
    assert_int_equal(sync_version_ceil(2000, 1000000), 2);
    assert_int_equal(sync_version_floor(1500, 1), 1500000); /* microseconds */
    assert_int_equal(sync_version_ceil(1500, 1), 1500000);
    assert_int_equal(sync_version_floor(-1500, 1000000), -2);
    assert_int_equal(sync_version_floor(7, 0), 7);
}

static void test_buckets(void **st)
{
    (void)st;
    assert_int_equal(sync_bucket_floor(7199, 3600), 3600);
    assert_int_equal(sync_bucket_floor(-1, 3600), -3600);
    /* [00:30, 02:00) touches the buckets 00:00 and 01:00 */
    assert_int_equal(sync_bucket_count(1800 * 1000, 7200 * 1000, 3600), 2);
    assert_int_equal(sync_bucket_count(1800 * 1000, 7200 * 1000 + 1, 3600), 3);
    assert_int_equal(sync_bucket_count(5, 5, 3600), 0);
    char out[32];
    assert_int_equal(sync_bucket_format("%Y%m%d%H", 1764064800, out, sizeof out), CE_OK);
    assert_string_equal(out, "2025112510");
    assert_int_equal(sync_bucket_format("%Y%m%d%H", 1764064800, out, 4), CE_EINVAL);
}

static void test_split_names(void **st)
{
    (void)st;
    sync_def d = {0};
    d.id_col = strdup(" a , b,c ");
    assert_int_equal(sync_def_split_ids(&d), CE_OK);
    assert_int_equal(d.nid_cols, 3);
    assert_string_equal(d.id_cols[0], "a");
    assert_string_equal(d.id_cols[1], "b");
    assert_string_equal(d.id_cols[2], "c");
    free(d.id_col);
    d.id_col = strdup("a,,b");
    assert_int_equal(sync_def_split_ids(&d), CE_EINVAL);
    assert_int_equal(d.nid_cols, 0);
    free(d.id_col);
    d.id_col = strdup("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q");
    assert_int_equal(sync_def_split_ids(&d), CE_EINVAL);
    free(d.id_col);
    d.id_col = NULL;
    assert_int_equal(sync_def_split_ids(&d), CE_OK);
    assert_int_equal(d.nid_cols, 0);
    sync_def_free(&d);
}

static json_t *prop(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    return j;
}

static void test_es_to_cql(void **st)
{
    (void)st;
    static const char *pairs[][2] = {
        {"{\"type\":\"long\"}", "bigint"},       {"{\"type\":\"integer\"}", "int"},
        {"{\"type\":\"short\"}", "smallint"},    {"{\"type\":\"byte\"}", "tinyint"},
        {"{\"type\":\"double\"}", "double"},     {"{\"type\":\"float\"}", "float"},
        {"{\"type\":\"boolean\"}", "boolean"},   {"{\"type\":\"date\"}", "timestamp"},
        {"{\"type\":\"keyword\"}", "text"},      {"{\"type\":\"text\"}", "text"},
        {"{\"type\":\"binary\"}", "blob"},       {"{\"type\":\"ip\"}", "inet"},
        {"{\"properties\":{\"a\":{}}}", "text"}, {"{\"type\":\"geo_point\"}", "text"},
        {"{\"type\":\"knn_vector\",\"dimension\":3}", "list<float>"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        json_t *p = prop(pairs[i][0]);
        assert_string_equal(sync_cql_type_for_es(p), pairs[i][1]);
        json_decref(p);
    }
    cql_type *t_int = NULL, *t_text = NULL, *t_uuid = NULL, *t_map = NULL;
    assert_int_equal(cql_type_parse("int", &t_int), CE_OK);
    assert_int_equal(cql_type_parse("text", &t_text), CE_OK);
    assert_int_equal(cql_type_parse("uuid", &t_uuid), CE_OK);
    assert_int_equal(cql_type_parse("map<text, int>", &t_map), CE_OK);
    json_t *lng = prop("{\"type\":\"long\"}"), *kw = prop("{\"type\":\"keyword\"}"),
           *obj = prop("{\"properties\":{}}"), *bl = prop("{\"type\":\"boolean\"}");
    assert_true(sync_es_compatible(lng, t_int));
    assert_true(sync_es_compatible(lng, t_text));
    assert_false(sync_es_compatible(lng, t_uuid));
    assert_true(sync_es_compatible(kw, t_uuid));
    assert_false(sync_es_compatible(kw, t_map));
    assert_true(sync_es_compatible(obj, t_map));
    assert_false(sync_es_compatible(obj, t_int));
    assert_false(sync_es_compatible(bl, t_int));
    /* any field may hold an array: lists/sets of a compatible element fit */
    cql_type *t_list = NULL, *t_uset = NULL;
    assert_int_equal(cql_type_parse("list<int>", &t_list), CE_OK);
    assert_int_equal(cql_type_parse("set<uuid>", &t_uset), CE_OK);
    assert_true(sync_es_compatible(lng, t_list));
    assert_true(sync_es_compatible(kw, t_uset));
    assert_false(sync_es_compatible(bl, t_list));
    assert_false(sync_es_compatible(lng, t_uset));
    cql_type_free(t_list);
    cql_type_free(t_uset);
    json_decref(lng);
    json_decref(kw);
    json_decref(obj);
    json_decref(bl);
    cql_type_free(t_int);
    cql_type_free(t_text);
    cql_type_free(t_uuid);
    cql_type_free(t_map);
}

static const char *mapping_of(const char *cql, bool key, es_flavor fl, ce_buf *b)
{
    cql_type *t = NULL;
    assert_int_equal(cql_type_parse(cql, &t), CE_OK);
    bool os = fl == ES_FLAVOR_OPENSEARCH; /* OpenSearch 2 with k-NN, or Elasticsearch 8 */
    es_caps caps = {.flavor = fl, .major = os ? 2 : 8, .knn_plugin = os, .dense_vector_max_dims = os ? 0 : 4096};
    ce_buf_reset(b);
    assert_int_equal(sync_mapping_property(t, key, &caps, b), CE_OK);
    cql_type_free(t);
    json_error_t je;
    json_t *j = json_loadb(b->data, b->len, 0, &je);
    assert_non_null(j); /* always valid JSON */
    json_decref(j);
    return ce_buf_cstr(b);
}

static void test_cql_to_es(void **st)
{
    (void)st;
    ce_buf b = CE_BUF_INIT;
    assert_string_equal(mapping_of("text", true, ES_FLAVOR_ELASTICSEARCH, &b), "{\"type\":\"keyword\"}");
    assert_non_null(strstr(mapping_of("text", false, ES_FLAVOR_ELASTICSEARCH, &b), "\"type\":\"text\""));
    assert_string_equal(mapping_of("bigint", false, ES_FLAVOR_ELASTICSEARCH, &b), "{\"type\":\"long\"}");
    assert_string_equal(mapping_of("varint", false, ES_FLAVOR_ELASTICSEARCH, &b), "{\"type\":\"keyword\"}");
    assert_string_equal(mapping_of("inet", false, ES_FLAVOR_ELASTICSEARCH, &b), "{\"type\":\"ip\"}");
    assert_string_equal(mapping_of("set<int>", false, ES_FLAVOR_ELASTICSEARCH, &b), "{\"type\":\"integer\"}");
    assert_non_null(strstr(mapping_of("timestamp", false, ES_FLAVOR_ELASTICSEARCH, &b), "date"));
    assert_non_null(strstr(mapping_of("vector<float, 3>", false, ES_FLAVOR_OPENSEARCH, &b), "knn_vector"));
    assert_non_null(strstr(mapping_of("vector<float, 3>", false, ES_FLAVOR_ELASTICSEARCH, &b), "dense_vector"));
    assert_non_null(strstr(mapping_of("vector<float, 4096>", false, ES_FLAVOR_ELASTICSEARCH, &b), "dense_vector"));
    /* Over the server's most dims: a plain float array. */
    assert_string_equal(mapping_of("vector<float, 4097>", false, ES_FLAVOR_ELASTICSEARCH, &b),
                        "{\"type\":\"float\",\"ignore_malformed\":true}");
    assert_non_null(strstr(mapping_of("map<int, text>", false, ES_FLAVOR_ELASTICSEARCH, &b), "\"enabled\":false"));
    assert_non_null(strstr(mapping_of("frozen<tuple<int, text>>", false, ES_FLAVOR_OPENSEARCH, &b), "\"enabled\":false"));
    ce_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window),      cmocka_unit_test(test_version_units),
        cmocka_unit_test(test_buckets),     cmocka_unit_test(test_split_names),
        cmocka_unit_test(test_es_to_cql),   cmocka_unit_test(test_cql_to_es),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
