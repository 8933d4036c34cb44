/*
 * test_es_codecs.c - the es module's small codecs from fixtures: server detection
 * (GET / of OpenSearch 1/2/3 and Elasticsearch 6/7/8/9, GET /_nodes/_local), the
 * capabilities each version has and the k-NN plugin in GET /_cat/plugins, URL
 * normalization and redaction, structured queries, path escaping, gzip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>
#include <jansson.h>
#include <zlib.h>

#include "es/es_int.h"

static void check_root(const char *body, es_flavor want_flavor, const char *want_version)
{
    es_flavor f = ES_FLAVOR_UNKNOWN;
    char v[64] = "";
    assert_int_equal(es_detect_parse_root(body, strlen(body), &f, v, sizeof v), CE_OK);
    assert_int_equal(f, want_flavor);
    assert_string_equal(v, want_version);
}

static void test_detect_root(void **st)
{
    (void)st;
    check_root("{\"name\":\"n\",\"cluster_name\":\"c\",\"version\":{\"distribution\":\"opensearch\","
               "\"number\":\"1.3.20\",\"build_type\":\"tar\",\"lucene_version\":\"8.10.1\"},"
               "\"tagline\":\"The OpenSearch Project: https://opensearch.org/\"}",
               ES_FLAVOR_OPENSEARCH, "1.3.20");
    check_root("{\n  \"name\" : \"Node 1\",\n  \"version\" : {\n    \"distribution\" : \"opensearch\",\n"
               "    \"number\" : \"2.19.1\",\n    \"build_type\" : \"unknown\"\n  },\n"
               "  \"tagline\" : \"The OpenSearch Project: https://opensearch.org/\"\n}\n",
               ES_FLAVOR_OPENSEARCH, "2.19.1");
    check_root("{\"version\":{\"distribution\":\"opensearch\",\"number\":\"3.0.0\"}}",
               ES_FLAVOR_OPENSEARCH, "3.0.0");
    /* OpenSearch in compatibility mode pretends to be 7.10.2 but keeps its distribution. */
    check_root("{\"version\":{\"distribution\":\"opensearch\",\"number\":\"7.10.2\"}}",
               ES_FLAVOR_OPENSEARCH, "7.10.2");
    check_root("{\"name\":\"x\",\"version\":{\"number\":\"6.8.23\",\"build_flavor\":\"default\","
               "\"build_type\":\"tar\",\"lucene_version\":\"7.7.3\"},\"tagline\":\"You Know, for Search\"}",
               ES_FLAVOR_ELASTICSEARCH, "6.8.23");
    check_root("{\"version\":{\"number\":\"7.17.25\",\"build_flavor\":\"default\"},\"tagline\":\"You Know, for Search\"}",
               ES_FLAVOR_ELASTICSEARCH, "7.17.25");
    check_root("{\"name\":\"es\",\"cluster_name\":\"docker-cluster\",\"version\":{\"number\":\"8.17.0\","
               "\"build_flavor\":\"default\",\"build_type\":\"docker\",\"lucene_version\":\"9.12.0\","
               "\"minimum_wire_compatibility_version\":\"7.17.0\"},\"tagline\":\"You Know, for Search\"}",
               ES_FLAVOR_ELASTICSEARCH, "8.17.0");
    check_root("{\"version\":{\"number\":\"9.0.0\",\"build_flavor\":\"default\"}}",
               ES_FLAVOR_ELASTICSEARCH, "9.0.0");

    es_flavor f;
    char v[64];
    assert_int_not_equal(es_detect_parse_root("{\"version\":{}}", 14, &f, v, sizeof v), CE_OK);
    assert_int_not_equal(es_detect_parse_root("not json", 8, &f, v, sizeof v), CE_OK);
    assert_int_not_equal(es_detect_parse_root("{\"version\":{\"number\":\"x.y\"}}", 28, &f, v, sizeof v),
                         CE_OK);
    const char *t = "{\"version\":{\"number\":\"8.17.0\"";
    assert_int_not_equal(es_detect_parse_root(t, strlen(t), &f, v, sizeof v), CE_OK);
}

static void test_detect_nodes(void **st)
{
    (void)st;
    es_flavor f = ES_FLAVOR_UNKNOWN;
    char v[64];
    const char *es8 = "{\"nodes\":{\"R9UDsqWORp29__Tf96Ji2w\":{\"version\":\"8.17.0\",\"build_flavor\":\"default\"}}}";
    assert_int_equal(es_detect_parse_nodes(es8, strlen(es8), &f, v, sizeof v), CE_OK);
    assert_int_equal(f, ES_FLAVOR_ELASTICSEARCH);
    assert_string_equal(v, "8.17.0");
    const char *os2 = "{\"nodes\":{\"ayaXydHFSfyDcIv_9KHGrA\":{\"version\":\"2.19.1\"}}}";
    assert_int_equal(es_detect_parse_nodes(os2, strlen(os2), &f, v, sizeof v), CE_OK);
    assert_int_equal(f, ES_FLAVOR_OPENSEARCH);
    assert_string_equal(v, "2.19.1");
    const char *es5 = "{\"nodes\":{\"a\":{\"version\":\"5.6.16\"}}}";
    assert_int_equal(es_detect_parse_nodes(es5, strlen(es5), &f, v, sizeof v), CE_OK);
    assert_int_equal(f, ES_FLAVOR_ELASTICSEARCH);
    assert_int_not_equal(es_detect_parse_nodes("{\"nodes\":{}}", 12, &f, v, sizeof v), CE_OK);
    assert_int_not_equal(es_detect_parse_nodes("{}", 2, &f, v, sizeof v), CE_OK);

    int ma, mi;
    assert_true(es_version_split("7.10.2", &ma, &mi));
    assert_int_equal(ma, 7);
    assert_int_equal(mi, 10);
    assert_false(es_version_split("v7", &ma, &mi));
}

/* The capabilities of a server from the bytes of its GET / answer. */
static es_caps caps_of(const char *root_body)
{
    es_flavor f = ES_FLAVOR_UNKNOWN;
    char v[64];
    int ma = -1, mi = -1;
    assert_int_equal(es_detect_parse_root(root_body, strlen(root_body), &f, v, sizeof v), CE_OK);
    assert_true(es_version_split(v, &ma, &mi));
    es_caps k;
    memset(&k, 0xA5, sizeof k); /* every field must be written */
    es_caps_from_version(f, ma, mi, &k);
    return k;
}

/* want: flavor major minor has_types pit shard_doc_sort track_total_hits seq_no */
static void check_caps(const char *body, es_flavor fl, int ma, int mi, bool types, bool pit,
                       bool shard_doc, bool tth, bool seq_no)
{
    es_caps k = caps_of(body);
    assert_int_equal(k.flavor, fl);
    assert_int_equal(k.major, ma);
    assert_int_equal(k.minor, mi);
    assert_int_equal(k.has_types, types);
    assert_int_equal(k.pit, pit);
    assert_int_equal(k.shard_doc_sort, shard_doc);
    assert_int_equal(k.track_total_hits, tth);
    assert_int_equal(k.seq_no, seq_no);
    assert_false(k.knn_plugin); /* only the plugin list says so */
}

/* Indexed dense_vector mappings: Elasticsearch 8 only (OpenSearch has knn_vector). */
static void test_caps_dense_vector(void **st)
{
    (void)st;
    static const struct {
        const char *root;
        int max_dims;
    } cases[] = {
        {"{\"version\":{\"number\":\"6.8.23\"}}", 0},
        {"{\"version\":{\"number\":\"7.17.25\",\"build_flavor\":\"default\"}}", 0},
        {"{\"version\":{\"number\":\"8.0.0\",\"build_flavor\":\"default\"}}", 4096},
        {"{\"version\":{\"number\":\"8.17.0\",\"build_flavor\":\"default\"}}", 4096},
        {"{\"version\":{\"number\":\"9.0.0\"}}", 4096},
        {"{\"version\":{\"distribution\":\"opensearch\",\"number\":\"2.19.1\"}}", 0},
        {"{\"version\":{\"distribution\":\"opensearch\",\"number\":\"7.10.2\"}}", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        es_caps k = caps_of(cases[i].root);
        if (k.dense_vector_max_dims != cases[i].max_dims)
            fail_msg("%s: dense_vector_max_dims %d, want %d", cases[i].root, k.dense_vector_max_dims,
                     cases[i].max_dims);
    }
}

static void test_caps(void **st)
{
    (void)st;
    const es_flavor E = ES_FLAVOR_ELASTICSEARCH, O = ES_FLAVOR_OPENSEARCH;
    check_caps("{\"name\":\"x\",\"version\":{\"number\":\"6.8.23\",\"build_flavor\":\"default\","
               "\"build_type\":\"tar\",\"lucene_version\":\"7.7.3\"},\"tagline\":\"You Know, for Search\"}",
               E, 6, 8, true, false, false, false, true);
    check_caps("{\"name\":\"n\",\"version\":{\"number\":\"7.9.3\",\"build_flavor\":\"default\","
               "\"build_type\":\"docker\",\"lucene_version\":\"8.6.2\"},\"tagline\":\"You Know, for Search\"}",
               E, 7, 9, false, false, false, true, true);
    check_caps("{\"version\":{\"number\":\"7.17.25\",\"build_flavor\":\"default\"},\"tagline\":\"You Know, for Search\"}",
               E, 7, 17, false, true, true, true, true);
    check_caps("{\"name\":\"es\",\"cluster_name\":\"docker-cluster\",\"version\":{\"number\":\"8.17.0\","
               "\"build_flavor\":\"default\",\"build_type\":\"docker\",\"lucene_version\":\"9.12.0\","
               "\"minimum_wire_compatibility_version\":\"7.17.0\"},\"tagline\":\"You Know, for Search\"}",
               E, 8, 17, false, true, true, true, true);
    check_caps("{\"name\":\"n\",\"cluster_name\":\"c\",\"version\":{\"distribution\":\"opensearch\","
               "\"number\":\"1.3.20\",\"build_type\":\"tar\",\"lucene_version\":\"8.10.1\"},"
               "\"tagline\":\"The OpenSearch Project: https://opensearch.org/\"}",
               O, 1, 3, false, false, false, true, true);
    check_caps("{\n  \"name\" : \"Node 1\",\n  \"version\" : {\n    \"distribution\" : \"opensearch\",\n"
               "    \"number\" : \"2.19.1\",\n    \"build_type\" : \"unknown\"\n  },\n"
               "  \"tagline\" : \"The OpenSearch Project: https://opensearch.org/\"\n}\n",
               O, 2, 19, false, true, false, true, true);
    /* The edges of each rule. */
    check_caps("{\"version\":{\"number\":\"6.6.2\"}}", E, 6, 6, true, false, false, false, false);
    check_caps("{\"version\":{\"number\":\"7.10.2\"}}", E, 7, 10, false, true, false, true, true);
    check_caps("{\"version\":{\"number\":\"7.12.0\"}}", E, 7, 12, false, true, true, true, true);
    check_caps("{\"version\":{\"distribution\":\"opensearch\",\"number\":\"2.3.0\"}}", O, 2, 3,
               false, false, false, true, true);
    check_caps("{\"version\":{\"distribution\":\"opensearch\",\"number\":\"2.4.0\"}}", O, 2, 4,
               false, true, false, true, true);
    check_caps("{\"version\":{\"distribution\":\"opensearch\",\"number\":\"3.0.0\"}}", O, 3, 0,
               false, true, false, true, true);
    /* OpenSearch 1.x in compatibility mode says 7.10.2: no point in time. */
    check_caps("{\"version\":{\"distribution\":\"opensearch\",\"number\":\"7.10.2\"}}", O, 7, 10,
               false, false, false, true, true);
}

static void check_plugins(const char *body, ce_err want_e, bool want_knn)
{
    bool knn = !want_knn;
    assert_int_equal(es_detect_parse_plugins(body, strlen(body), &knn), want_e);
    assert_int_equal(knn, want_knn);
}

static void test_plugins(void **st)
{
    (void)st;
    /* An OpenSearch distribution with its bundled plugins. */
    check_plugins("[{\"component\":\"opensearch-alerting\"},{\"component\":\"opensearch-knn\"},"
                  "{\"component\":\"opensearch-security\"}]",
                  CE_OK, true);
    /* Plugins loaded from the class path are listed by class (the test bed's OpenSearch). */
    check_plugins("[{\"name\":\"Node 1\",\"component\":\"org.opensearch.geo.GeoModulePlugin\"},"
                  "{\"name\":\"Node 1\",\"component\":\"org.opensearch.transport.Netty4Plugin\"}]",
                  CE_OK, false);
    check_plugins("[{\"component\":\"org.opensearch.knn.plugin.KNNPlugin\"}]", CE_OK, true);
    check_plugins("[]", CE_OK, false);
    check_plugins("[{\"component\":\"opensearch-knn-extra\"},{\"component\":7},{},1]", CE_OK, false);
    check_plugins("{\"error\":\"forbidden\"}", CE_EPROTO, false);
    check_plugins("[{\"component\":\"opensearch-knn\"}", CE_EJSON, false);
    check_plugins("", CE_EJSON, false);
}

static void check_norm(const char *in, const char *want)
{
    char *got = es_url_normalize(in);
    if (!want) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_url_normalize(void **st)
{
    (void)st;
    check_norm("localhost", "http://localhost:9200");
    check_norm("127.0.0.1:9201", "http://127.0.0.1:9201");
    check_norm("es.example.com/", "http://es.example.com:9200");
    check_norm("[::1]", "http://[::1]:9200");
    check_norm("[::1]:9300", "http://[::1]:9300");
    check_norm("https://es.example.com:9243/", "https://es.example.com:9243");
    check_norm("http://u:p@h:9200/prefix/", "http://u:p@h:9200/prefix");
    check_norm("  host  ", "http://host:9200");
    check_norm("", NULL);
    assert_true(es_url_is_loopback("http://localhost:9200"));
    assert_true(es_url_is_loopback("http://u:p@127.0.0.1:9200/x"));
    assert_true(es_url_is_loopback("https://[::1]:9200"));
    assert_false(es_url_is_loopback("http://localhost.example.com:9200"));
    assert_false(es_url_is_loopback("http://10.0.0.1:9200"));
    check_norm("///", NULL);
}

static void check_redact(const char *in, const char *want)
{
    char out[256];
    es_url_redact(in, out, sizeof out);
    assert_string_equal(out, want);
}

static void test_redact(void **st)
{
    (void)st;
    check_redact("http://user:secret@h:9200/_bulk", "http://h:9200/_bulk");
    check_redact("https://user@h/", "https://h/");
    check_redact("http://h:9200/a@b", "http://h:9200/a@b");
    check_redact("user:pw@host:9200", "host:9200");
    check_redact("http://h:9200", "http://h:9200");
    /* A password with an unencoded '@' (or ':' and '/'-free oddities) goes whole. */
    check_redact("http://user:p@ss@w0rd@h:9200/x", "http://h:9200/x");
    check_redact("https://u:p@h:9243?pretty=a@b", "https://h:9243?pretty=a@b");
    check_redact("http://h:9200?q=a@b", "http://h:9200?q=a@b");
    check_redact("http://h:9200#a@b", "http://h:9200#a@b");
    check_redact("http://u:p@h", "http://h");
    check_redact("h:9200/p://u:p@x", "h:9200/p://u:p@x");
    check_redact("", "");
    assert_true(es_url_has_userinfo("http://u:p@h:9200"));
    assert_true(es_url_has_userinfo("u@h"));
    assert_false(es_url_has_userinfo("http://h:9200/a@b"));
    assert_false(es_url_has_userinfo("https://h"));
    assert_string_equal(es_url_host("http://a:b@c@h:1/x"), "h:1/x");
    assert_true(es_url_is_loopback("http://u:p@ss@127.0.0.1:9200"));
    assert_false(es_url_is_loopback("http://127.0.0.1:pw@10.0.0.1:9200"));
    char small[8];
    es_url_redact("http://u:p@hostname:9200", small, sizeof small);
    assert_int_equal(strlen(small), 7);
    assert_null(strstr(small, "p@"));
}

static void check_query(const es_query *q, const char *want)
{
    ce_buf b = CE_BUF_INIT;
    assert_int_equal(es_query_write(&b, q), CE_OK);
    assert_string_equal(ce_buf_cstr(&b), want);
    json_error_t jerr;
    json_t *j = json_loadb(b.data, b.len, 0, &jerr);
    assert_non_null(j);
    json_decref(j);
    ce_buf_free(&b);
}

static void test_query(void **st)
{
    (void)st;
    es_query q = {0};
    check_query(&q, "{\"match_all\":{}}");
    q.range_field = "version";
    q.has_gte = q.has_lt = true;
    q.gte = 100;
    q.lt = -5;
    check_query(&q, "{\"bool\":{\"filter\":[{\"range\":{\"version\":{\"gte\":100,\"lt\":-5}}}]}}");
    q.has_gte = false;
    q.range_is_date = true;
    check_query(&q, "{\"bool\":{\"filter\":[{\"range\":{\"version\":{\"lt\":-5,\"format\":\"epoch_millis\"}}}]}}");
    q.must_not_field = "orig\"in";
    q.must_not_value = "cass\\andra";
    check_query(&q, "{\"bool\":{\"filter\":[{\"range\":{\"version\":{\"lt\":-5,\"format\":\"epoch_millis\"}}}],"
                    "\"must_not\":[{\"term\":{\"orig\\\"in\":\"cass\\\\andra\"}}]}}");
    es_query q2 = {.must_not_field = "f", .must_not_value = "v"};
    check_query(&q2, "{\"bool\":{\"must_not\":[{\"term\":{\"f\":\"v\"}}]}}");
}

static void test_path_escape(void **st)
{
    (void)st;
    ce_buf b = CE_BUF_INIT;
    assert_int_equal(es_path_escape(&b, "my-index_1.x,logs-*", 19), CE_OK);
    assert_string_equal(ce_buf_cstr(&b), "my-index_1.x,logs-*");
    ce_buf_reset(&b);
    assert_int_equal(es_path_escape(&b, "a/b?c d#e+f%", 12), CE_OK);
    assert_string_equal(ce_buf_cstr(&b), "a%2Fb%3Fc%20d%23e%2Bf%25");
    ce_buf_free(&b);
}

static void test_gzip(void **st)
{
    (void)st;
    ce_buf in = CE_BUF_INIT, out = CE_BUF_INIT;
    for (int i = 0; i < 5000; i++)
        ce_buf_printf(&in, "{\"index\":{\"_id\":\"%d\"}}\n{\"n\":%d}\n", i, i * 7);
    assert_int_equal(es_gzip(in.data, in.len, &out, 1), CE_OK);
    assert_true(out.len < in.len / 3);
    assert_int_equal((unsigned char)out.data[0], 0x1f);
    assert_int_equal((unsigned char)out.data[1], 0x8b);
    /* Inflate it back. */
    char *back = malloc(in.len + 16);
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (Bytef *)out.data;
    z.avail_in = (uInt)out.len;
    z.next_out = (Bytef *)back;
    z.avail_out = (uInt)(in.len + 16);
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, in.len);
    assert_memory_equal(back, in.data, in.len);
    inflateEnd(&z);
    free(back);
    ce_buf_free(&in);
    ce_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_root),   cmocka_unit_test(test_detect_nodes),
        cmocka_unit_test(test_caps),          cmocka_unit_test(test_caps_dense_vector),
        cmocka_unit_test(test_plugins),
        cmocka_unit_test(test_url_normalize), cmocka_unit_test(test_redact),
        cmocka_unit_test(test_query),         cmocka_unit_test(test_path_escape),
        cmocka_unit_test(test_gzip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
