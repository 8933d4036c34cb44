/*
 * test_es_bulk.c - the bulk codecs from byte fixtures: action lines with tricky
 * strings, and _bulk responses (all ok, mixed outcomes, truncated or malformed
 * input, item count mismatch) - never a false success.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "es/es_int.h"
#include "util/jsonw.h"

/* ------------------------------------------------------------ collected outcomes */

typedef struct {
    size_t i;
    es_item_status st;
    int http;
    char id[64];
    char type[64];
    char reason[256];
    int64_t cur;
} outcome;

typedef struct {
    outcome v[16];
    size_t n;
} outcomes;

static void collect(size_t i, es_item_status st, int http_status, const char *id,
                    const char *error_type, const char *reason, int64_t cur, void *ud)
{
    outcomes *o = ud;
    assert_true(o->n < 16);
    outcome *x = &o->v[o->n++];
    memset(x, 0, sizeof *x);
    x->i = i;
    x->st = st;
    x->http = http_status;
    snprintf(x->id, sizeof x->id, "%s", id ? id : "(null)");
    snprintf(x->type, sizeof x->type, "%s", error_type ? error_type : "");
    snprintf(x->reason, sizeof x->reason, "%s", reason ? reason : "");
    x->cur = cur;
}

static void count_only(size_t i, es_item_status st, int http_status, const char *id,
                       const char *error_type, const char *reason, int64_t cur, void *ud)
{
    (void)i, (void)st, (void)http_status, (void)id, (void)error_type, (void)reason, (void)cur;
    (*(size_t *)ud)++;
}

static const char ALL_OK_FILTERED[] =
    "{\"errors\":false,\"items\":[{\"index\":{\"_id\":\"1\",\"status\":201}},"
    "{\"index\":{\"_id\":\"2\",\"status\":200}},{\"delete\":{\"_id\":\"3\",\"status\":200}}]}";

static const char ALL_OK_FULL[] =
    "{\n  \"took\" : 30,\n  \"errors\" : false,\n  \"items\" : [\n"
    "    {\"index\":{\"_index\":\"t\",\"_id\":\"a\",\"_version\":5,\"result\":\"created\","
    "\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0},\"_seq_no\":0,\"_primary_term\":1,"
    "\"status\":201}},\n"
    "    {\"index\":{\"_index\":\"t\",\"_id\":\"b\",\"_version\":6,\"result\":\"updated\","
    "\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0},\"_seq_no\":1,\"_primary_term\":1,"
    "\"status\":200}}\n  ]\n}\n";

static const char MIXED[] =
    "{\"took\":3,\"errors\":true,\"items\":["
    "{\"index\":{\"_index\":\"t\",\"_id\":\"ok\",\"status\":201}},"
    "{\"index\":{\"_index\":\"t\",\"_id\":\"old\",\"status\":409,\"error\":{\"type\":"
    "\"version_conflict_engine_exception\",\"reason\":\"[old]: version conflict, current version "
    "[17] is higher or equal to the one provided [3]\",\"index\":\"t\"}}},"
    "{\"index\":{\"_index\":\"t\",\"_id\":\"busy\",\"status\":429,\"error\":{\"type\":"
    "\"es_rejected_execution_exception\",\"reason\":\"rejected execution of coordinating operation\"}}},"
    "{\"index\":{\"_index\":\"t\",\"_id\":\"bad\",\"status\":400,\"error\":{\"type\":"
    "\"mapper_parsing_exception\",\"reason\":\"failed to parse field [n] of type [long]\","
    "\"caused_by\":{\"type\":\"illegal_argument_exception\",\"reason\":\"For input string\"}}}},"
    "{\"delete\":{\"_index\":\"t\",\"_id\":\"gone\",\"status\":404,\"result\":\"not_found\"}},"
    "{\"index\":{\"_index\":\"t\",\"_id\":\"unavail\",\"status\":503,\"error\":{\"type\":"
    "\"unavailable_shards_exception\",\"reason\":\"primary shard is not active\"}}},"
    "{\"index\":{\"_index\":\"t\",\"_id\":\"rej200\",\"status\":400,\"error\":{\"type\":"
    "\"es_rejected_execution_exception\",\"reason\":\"odd status, type says retry\"}}},"
    "{\"index\":{\"_id\":\"noidx\",\"status\":404,\"error\":{\"type\":\"index_not_found_exception\","
    "\"reason\":\"no such index [t]\"}}}"
    "]}";

static void test_all_ok_fast(void **st)
{
    (void)st;
    outcomes o = {.n = 0};
    assert_int_equal(es_bulk_parse_response(ALL_OK_FILTERED, strlen(ALL_OK_FILTERED), 3, collect, &o),
                     CE_OK);
    assert_int_equal(o.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(o.v[i].i, i);
        assert_int_equal(o.v[i].st, ES_ITEM_OK);
    }
    assert_string_equal(o.v[0].id, "1");
    assert_int_equal(o.v[0].http, 201);
    assert_string_equal(o.v[2].id, "3");

    o.n = 0;
    assert_int_equal(es_bulk_parse_response(ALL_OK_FULL, strlen(ALL_OK_FULL), 2, collect, &o), CE_OK);
    assert_int_equal(o.n, 2);
    assert_string_equal(o.v[1].id, "b");
    assert_int_equal(o.v[1].http, 200);
}

static void test_mixed(void **st)
{
    (void)st;
    outcomes o = {.n = 0};
    assert_int_equal(es_bulk_parse_response(MIXED, strlen(MIXED), 8, collect, &o), CE_OK);
    assert_int_equal(o.n, 8);
    assert_int_equal(o.v[0].st, ES_ITEM_OK);
    assert_string_equal(o.v[0].id, "ok");

    assert_int_equal(o.v[1].st, ES_ITEM_CONFLICT);
    assert_int_equal(o.v[1].http, 409);
    assert_int_equal(o.v[1].cur, 17);
    assert_string_equal(o.v[1].type, "version_conflict_engine_exception");

    assert_int_equal(o.v[2].st, ES_ITEM_FAILED);
    assert_int_equal(o.v[2].http, 429);

    assert_int_equal(o.v[3].st, ES_ITEM_REJECTED);
    assert_int_equal(o.v[3].http, 400);
    assert_string_equal(o.v[3].type, "mapper_parsing_exception");
    assert_string_equal(o.v[3].reason, "failed to parse field [n] of type [long]");

    assert_int_equal(o.v[4].st, ES_ITEM_OK); /* delete of a missing document */
    assert_int_equal(o.v[5].st, ES_ITEM_FAILED);
    assert_int_equal(o.v[6].st, ES_ITEM_FAILED);
    assert_int_equal(o.v[7].st, ES_ITEM_REJECTED);
    assert_string_equal(o.v[7].type, "index_not_found_exception");
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(o.v[i].i, i);
}

/* Every strict prefix of a valid answer is an error and reports nothing. */
static void check_prefixes(const char *body, size_t expected)
{
    size_t len = strlen(body);
    /* Trailing whitespace may be cut without harm; stop at the last '}'. */
    size_t full = len;
    while (full && body[full - 1] != '}')
        full--;
    for (size_t n = 0; n < full; n++) {
        size_t calls = 0;
        char *copy = malloc(n ? n : 1); /* exact-size copy: ASan catches overreads */
        memcpy(copy, body, n);
        ce_err e = es_bulk_parse_response(copy, n, expected, count_only, &calls);
        free(copy);
        if (e == CE_OK)
            fail_msg("prefix of %zu/%zu bytes parsed as success", n, len);
        assert_int_equal(calls, 0);
    }
}

static void test_truncated(void **st)
{
    (void)st;
    check_prefixes(ALL_OK_FILTERED, 3);
    check_prefixes(ALL_OK_FULL, 2);
    check_prefixes(MIXED, 8);
}

static void test_malformed(void **st)
{
    (void)st;
    static const char *bad[] = {
        "",
        "null",
        "[]",
        "{}",
        "{\"errors\":false}",
        "{\"errors\":false,\"items\":{}}",
        "{\"errors\":false,\"items\":[{\"index\":{\"_id\":\"1\"}}]}",            /* no status */
        "{\"errors\":false,\"items\":[{\"index\":{\"_id\":\"1\",\"status\":\"201\"}}]}",
        "{\"errors\":false,\"items\":[{\"index\":{\"_id\":\"1\",\"status\":201}}]}garbage",
        "{\"errors\":false,\"items\":[{\"index\":{\"_id\":\"1\",\"status\":201}},]}",
        "{\"errors\":false,\"items\":[[\"index\"]]}",
        "{\"errors\":true,\"items\":[{\"index\":{\"_id\":\"1\",\"status\":201},\"x\":{}}]}",
        "{\"errors\":false,\"items\":[{\"index\":{\"_id\":\"1\",\"status\":201}}]",
        "<html>502 Bad Gateway</html>",
        "{\"error\":{\"type\":\"x\"},\"status\":500}",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        size_t calls = 0;
        ce_err e = es_bulk_parse_response(bad[k], strlen(bad[k]), 1, count_only, &calls);
        if (e == CE_OK)
            fail_msg("malformed fixture %zu parsed as success: %s", k, bad[k]);
        assert_int_equal(calls, 0);
    }
}

static void test_count_mismatch(void **st)
{
    (void)st;
    size_t calls = 0;
    assert_int_equal(es_bulk_parse_response(ALL_OK_FILTERED, strlen(ALL_OK_FILTERED), 4, count_only,
                                            &calls),
                     CE_EPROTO);
    assert_int_equal(es_bulk_parse_response(ALL_OK_FILTERED, strlen(ALL_OK_FILTERED), 2, count_only,
                                            &calls),
                     CE_EPROTO);
    assert_int_equal(es_bulk_parse_response(MIXED, strlen(MIXED), 7, count_only, &calls), CE_EPROTO);
    assert_int_equal(calls, 0);
}

static void test_errors_false_but_item_failed(void **st)
{
    (void)st;
    /* An inconsistent answer: trust the item, not the summary flag. */
    const char *b = "{\"errors\":false,\"items\":[{\"index\":{\"_id\":\"x\",\"status\":429,"
                    "\"error\":{\"type\":\"es_rejected_execution_exception\",\"reason\":\"r\"}}},"
                    "{\"index\":{\"_id\":\"y\",\"status\":201}}]}";
    outcomes o = {.n = 0};
    assert_int_equal(es_bulk_parse_response(b, strlen(b), 2, collect, &o), CE_OK);
    assert_int_equal(o.n, 2);
    assert_int_equal(o.v[0].st, ES_ITEM_FAILED);
    assert_int_equal(o.v[1].st, ES_ITEM_OK);
}

static void test_escaped_id(void **st)
{
    (void)st;
    const char *b = "{\"errors\":false,\"items\":[{\"index\":{\"_id\":\"a\\\"b\\\\c\\u00e9\","
                    "\"status\":201}}]}";
    outcomes o = {.n = 0};
    assert_int_equal(es_bulk_parse_response(b, strlen(b), 1, collect, &o), CE_OK);
    assert_int_equal(o.n, 1);
    assert_string_equal(o.v[0].id, "a\"b\\c\xc3\xa9");
}

/* ------------------------------------------------------------ action + document lines */

static void test_action_line_tricky(void **st)
{
    (void)st;
    static const struct {
        const char *s;
        size_t n;
        const char *want; /* id after a JSON round trip */
    } ids[] = {
        {"plain", 5, "plain"},
        {"q\"uo\"te", 7, "q\"uo\"te"},
        {"back\\slash", 10, "back\\slash"},
        {"new\nline\ttab\r", 13, "new\nline\ttab\r"},
        {"ctl\x01\x1f", 5, "ctl\x01\x1f"},
        {"bad\xff\xfe", 5, "bad\xef\xbf\xbd\xef\xbf\xbd"},
        {"trunc\xe2\x82", 7, "trunc\xef\xbf\xbd\xef\xbf\xbd"},
        {"caf\xc3\xa9", 5, "caf\xc3\xa9"},
    };
    for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) {
        ce_buf b = CE_BUF_INIT;
        assert_int_equal(es_bulk_write_action(&b, "{\"index\":{", "idx\"x", "t", ids[k].s, ids[k].n,
                                              ES_VERSION_EXTERNAL_GTE, 1234567890123LL, false),
                         CE_OK);
        /* The document line, written with jsonw like the engine does. */
        size_t doc_off = b.len;
        ce_buf_append_str(&b, "{\"v\":");
        jsonw_string(&b, ids[k].s, ids[k].n);
        ce_buf_append_str(&b, "}\n");
        /* Exactly two lines: no raw newline can leak from the strings. */
        size_t nl = 0;
        for (size_t i = 0; i < b.len; i++)
            nl += b.data[i] == '\n';
        assert_int_equal(nl, 2);
        json_error_t jerr;
        json_t *a = json_loadb(b.data, doc_off - 1, 0, &jerr);
        if (!a)
            fail_msg("case %zu: action line does not parse: %s: %.*s", k, jerr.text,
                     (int)(doc_off - 1), b.data);
        json_t *meta = json_object_get(a, "index");
        assert_string_equal(json_string_value(json_object_get(meta, "_index")), "idx\"x");
        assert_null(json_object_get(meta, "_type")); /* no types on this server */
        assert_int_equal(json_integer_value(json_object_get(meta, "version")), 1234567890123LL);
        assert_string_equal(json_string_value(json_object_get(meta, "version_type")), "external_gte");
        const char *got = json_string_value(json_object_get(meta, "_id"));
        assert_non_null(got);
        assert_memory_equal(got, ids[k].want, strlen(ids[k].want) + 1);
        json_t *d = json_loadb(b.data + doc_off, b.len - doc_off - 1, 0, &jerr);
        assert_non_null(d);
        assert_string_equal(json_string_value(json_object_get(d, "v")), ids[k].want);
        json_decref(a);
        json_decref(d);
        ce_buf_free(&b);
    }
}

static void test_action_line_types_delete(void **st)
{
    (void)st;
    ce_buf b = CE_BUF_INIT;
    assert_int_equal(es_bulk_write_action(&b, "{\"delete\":{", "i", "doc", "7", 1, ES_VERSION_EXTERNAL,
                                          9, true),
                     CE_OK);
    assert_string_equal(ce_buf_cstr(&b), "{\"delete\":{\"_index\":\"i\",\"_type\":\"doc\",\"_id\":\"7\","
                                         "\"version\":9,\"version_type\":\"external\"}}\n");
    ce_buf_reset(&b);
    assert_int_equal(es_bulk_write_action(&b, "{\"index\":{", "i", NULL, NULL, 0, ES_VERSION_NONE, 0,
                                          false),
                     CE_OK);
    assert_string_equal(ce_buf_cstr(&b), "{\"index\":{\"_index\":\"i\"}}\n");
    ce_buf_reset(&b);
    assert_int_equal(es_bulk_write_action(&b, "{\"index\":{", "i", NULL, "1", 1, ES_VERSION_NONE, 0,
                                          true),
                     CE_OK);
    assert_string_equal(ce_buf_cstr(&b), "{\"index\":{\"_index\":\"i\",\"_type\":\"_doc\",\"_id\":\"1\"}}\n");
    ce_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_ok_fast),
        cmocka_unit_test(test_mixed),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_count_mismatch),
        cmocka_unit_test(test_errors_false_but_item_failed),
        cmocka_unit_test(test_escaped_id),
        cmocka_unit_test(test_action_line_tricky),
        cmocka_unit_test(test_action_line_types_delete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
