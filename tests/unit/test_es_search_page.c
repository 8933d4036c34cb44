/*
 * test_es_search_page.c - the read answers codec (src/es/search_parse.c) from byte
 * fixtures: PIT pages of Elasticsearch 8 and OpenSearch 2, scroll pages of
 * Elasticsearch 6 and 7, lean (filter_path) pages with and without hits, and the
 * answers a page must be refused for: not JSON, truncated at every byte, no hits
 * array, a hit that is not an object, missing sort values, failed shards. Also the
 * answer that opens a point in time and "index not found".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "es/es_int.h"

/* Elasticsearch 8.17, PIT + search_after, version:true. */
static const char ES8_PIT_PAGE[] =
    "{\"pit_id\":\"gcSHBAEJdF9lc19iaWcWT3JxR0\",\"took\":3,\"timed_out\":false,"
    "\"_shards\":{\"total\":3,\"successful\":3,\"skipped\":0,\"failed\":0},"
    "\"hits\":{\"total\":{\"value\":100000,\"relation\":\"eq\"},\"max_score\":null,\"hits\":["
    "{\"_index\":\"t\",\"_id\":\"0\",\"_version\":1000000,\"_score\":null,"
    "\"_source\":{\"id\":0,\"version\":1000000,\"name\":\"0\"},\"sort\":[1000000,12]},"
    "{\"_index\":\"t\",\"_id\":\"1\",\"_version\":1000001,\"_score\":null,"
    "\"_source\":{\"id\":1,\"version\":1000001,\"name\":\"1\"},\"sort\":[1000001,4294967309]}]}}";

/* OpenSearch 2.19, PIT sorted on _id. */
static const char OS2_PIT_PAGE[] =
    "{\"pit_id\":\"o463QQEJdF9vc19iaWcW\",\"took\":2,\"timed_out\":false,"
    "\"_shards\":{\"total\":3,\"successful\":3,\"skipped\":0,\"failed\":0},"
    "\"hits\":{\"total\":{\"value\":3,\"relation\":\"eq\"},\"max_score\":null,\"hits\":["
    "{\"_index\":\"t\",\"_id\":\"a\",\"_version\":5,\"_score\":null,\"_source\":{\"x\":1},\"sort\":[\"a\"]},"
    "{\"_index\":\"t\",\"_id\":\"b\",\"_version\":6,\"_score\":null,\"_source\":{\"x\":2},\"sort\":[\"b\"]},"
    "{\"_index\":\"t\",\"_id\":\"c\",\"_version\":7,\"_score\":null,\"_source\":{\"x\":3},\"sort\":[\"c\"]}]}}";

/* Elasticsearch 6.8, scroll: total is a number, hits carry _type. */
static const char ES6_SCROLL_PAGE[] =
    "{\"_scroll_id\":\"DXF1ZXJ5QW5kRmV0Y2gBAAAAAAAAAD4WYm9laVYtZndUQlNsdDcwakFMNjU1QQ==\","
    "\"took\":1,\"timed_out\":false,\"_shards\":{\"total\":5,\"successful\":5,\"skipped\":0,\"failed\":0},"
    "\"hits\":{\"total\":2,\"max_score\":null,\"hits\":["
    "{\"_index\":\"t\",\"_type\":\"_doc\",\"_id\":\"1\",\"_version\":3,\"_score\":null,\"_source\":{},\"sort\":[0]},"
    "{\"_index\":\"t\",\"_type\":\"_doc\",\"_id\":\"2\",\"_version\":4,\"_score\":null,\"_source\":{},\"sort\":[1]}]}}";

/* A lean page (filter_path) of a scroll read: no score, no version, no shards. */
static const char LEAN_SCROLL_PAGE[] =
    "{\"_scroll_id\":\"FGluY2x1ZGVfY29udGV4dF91dWlk\",\"hits\":{\"total\":{\"value\":1},"
    "\"hits\":[{\"_id\":\"k1\",\"_source\":{\"v\":17},\"sort\":[0]}]}}";

static void parse_ok(const char *body, unsigned flags, es_search_page *pg)
{
    ce_err e = es_search_page_parse(body, strlen(body), flags, pg);
    if (e)
        fail_msg("parse failed: %s: %s", ce_errname(e), pg->error);
    assert_non_null(pg->root);
    assert_true(json_is_array(pg->hits));
}

static void parse_fails(const char *body, unsigned flags, ce_err want, const char *want_text)
{
    es_search_page pg;
    ce_err e = es_search_page_parse(body, strlen(body), flags, &pg);
    assert_int_equal(e, want);
    assert_null(pg.root);
    assert_null(pg.hits);
    assert_null(pg.last_sort);
    assert_true(pg.error[0] != '\0');
    if (want_text && !strstr(pg.error, want_text))
        fail_msg("error text \"%s\" lacks \"%s\"", pg.error, want_text);
    es_search_page_free(&pg);
}

static void test_pit_pages(void **st)
{
    (void)st;
    es_search_page pg;
    parse_ok(ES8_PIT_PAGE, ES_PAGE_NEED_SORT, &pg);
    assert_int_equal(json_array_size(pg.hits), 2);
    assert_string_equal(pg.pit_id, "gcSHBAEJdF9lc19iaWcWT3JxR0");
    assert_null(pg.scroll_id);
    assert_int_equal(pg.total, 100000);
    assert_int_equal(json_array_size(pg.last_sort), 2);
    assert_int_equal(json_integer_value(json_array_get(pg.last_sort, 1)), 4294967309LL);
    json_t *h0 = json_array_get(pg.hits, 0);
    assert_string_equal(json_string_value(json_object_get(h0, "_id")), "0");
    assert_int_equal(json_integer_value(json_object_get(h0, "_version")), 1000000);
    es_search_page_free(&pg);
    assert_null(pg.root);
    assert_int_equal(pg.total, -1);

    parse_ok(OS2_PIT_PAGE, ES_PAGE_NEED_SORT, &pg);
    assert_int_equal(json_array_size(pg.hits), 3);
    assert_string_equal(pg.pit_id, "o463QQEJdF9vc19iaWcW");
    assert_int_equal(pg.total, 3);
    assert_string_equal(json_string_value(json_array_get(pg.last_sort, 0)), "c");
    es_search_page_free(&pg);
}

static void test_scroll_pages(void **st)
{
    (void)st;
    es_search_page pg;
    parse_ok(ES6_SCROLL_PAGE, 0, &pg);
    assert_int_equal(json_array_size(pg.hits), 2);
    assert_int_equal(pg.total, 2);
    assert_null(pg.pit_id);
    assert_string_equal(pg.scroll_id, "DXF1ZXJ5QW5kRmV0Y2gBAAAAAAAAAD4WYm9laVYtZndUQlNsdDcwakFMNjU1QQ==");
    es_search_page_free(&pg);

    parse_ok(LEAN_SCROLL_PAGE, ES_PAGE_LEAN, &pg);
    assert_int_equal(json_array_size(pg.hits), 1);
    assert_int_equal(pg.total, 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(pg.hits, 0), "_id")), "k1");
    es_search_page_free(&pg);

    /* A later scroll page: no total (track_total_hits false), no sort needed. */
    parse_ok("{\"_scroll_id\":\"s2\",\"hits\":{\"hits\":[{\"_id\":\"9\",\"_source\":{}}]}}", 0, &pg);
    assert_int_equal(pg.total, -1);
    assert_null(pg.last_sort);
    assert_string_equal(pg.scroll_id, "s2");
    es_search_page_free(&pg);
}

static void test_lean_empty_pages(void **st)
{
    (void)st;
    /* filter_path drops an empty hits array, and "hits" with it when total is not asked. */
    static const char *const empty[] = {
        "{\"_scroll_id\":\"x\"}",
        "{\"pit_id\":\"p\",\"hits\":{\"total\":{\"value\":0,\"relation\":\"eq\"}}}",
        "{\"pit_id\":\"p\",\"_shards\":{\"failed\":0}}",
        "{}",
    };
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        es_search_page pg;
        parse_ok(empty[i], ES_PAGE_LEAN | ES_PAGE_NEED_SORT, &pg);
        assert_int_equal(json_array_size(pg.hits), 0);
        assert_null(pg.last_sort);
        es_search_page_free(&pg);
    }
    /* Not lean: a missing hits array is a malformed answer. */
    parse_fails("{\"_scroll_id\":\"x\"}", 0, CE_EPROTO, "hits");
    parse_fails("{\"hits\":{\"total\":0}}", 0, CE_EPROTO, "hits");
    /* Lean, but "hits" is there and is not an object. */
    parse_fails("{\"hits\":[]}", ES_PAGE_LEAN, CE_EPROTO, "hits");
}

static void test_malformed_pages(void **st)
{
    (void)st;
    parse_fails("", 0, CE_EJSON, "malformed");
    parse_fails("not json", 0, CE_EJSON, NULL);
    parse_fails("<html>502 Bad Gateway</html>", ES_PAGE_LEAN, CE_EJSON, NULL);
    parse_fails("[1,2]", ES_PAGE_LEAN, CE_EPROTO, "not an object");
    parse_fails("{\"hits\":{\"hits\":{}}}", 0, CE_EPROTO, "hits");
    parse_fails("{\"hits\":{\"hits\":[{\"_id\":\"1\"},7]}}", 0, CE_EPROTO, "hit #1");
    parse_fails("{\"hits\":{\"hits\":[null]}}", ES_PAGE_LEAN, CE_EPROTO, "hit #0");
    /* search_after needs the last hit's sort values; other hits may lack them. */
    parse_fails("{\"hits\":{\"hits\":[{\"_id\":\"1\",\"sort\":[1]},{\"_id\":\"2\"}]}}", ES_PAGE_NEED_SORT,
                CE_EPROTO, "sort");
    parse_fails("{\"hits\":{\"hits\":[{\"_id\":\"2\",\"sort\":5}]}}", ES_PAGE_NEED_SORT, CE_EPROTO, "sort");
    es_search_page pg;
    parse_ok("{\"hits\":{\"hits\":[{\"_id\":\"1\"},{\"_id\":\"2\",\"sort\":[3]}]}}", ES_PAGE_NEED_SORT, &pg);
    assert_int_equal(json_integer_value(json_array_get(pg.last_sort, 0)), 3);
    es_search_page_free(&pg);
    /* Ids of the wrong type are ignored, not trusted. */
    parse_ok("{\"_scroll_id\":5,\"pit_id\":null,\"hits\":{\"total\":\"7\",\"hits\":[]}}", 0, &pg);
    assert_null(pg.scroll_id);
    assert_null(pg.pit_id);
    assert_int_equal(pg.total, -1);
    es_search_page_free(&pg);
}

static void test_truncated_pages(void **st)
{
    (void)st;
    static const char *const pages[] = {ES8_PIT_PAGE, OS2_PIT_PAGE, ES6_SCROLL_PAGE, LEAN_SCROLL_PAGE};
    for (size_t p = 0; p < sizeof pages / sizeof pages[0]; p++) {
        size_t len = strlen(pages[p]);
        for (size_t cut = 0; cut < len; cut++) {
            /* An exact-size copy, so that ASan sees any read past the end. */
            char *b = malloc(cut ? cut : 1);
            assert_non_null(b);
            memcpy(b, pages[p], cut);
            es_search_page pg;
            ce_err e = es_search_page_parse(b, cut, ES_PAGE_LEAN | ES_PAGE_NEED_SORT, &pg);
            if (e == CE_OK)
                fail_msg("page %zu cut at %zu of %zu was accepted", p, cut, len);
            assert_null(pg.root);
            free(b);
        }
    }
}

static void test_shard_failures(void **st)
{
    (void)st;
    /* A scroll whose context expired on one shard: 200, but hits are missing. */
    parse_fails("{\"_scroll_id\":\"s\",\"_shards\":{\"total\":3,\"successful\":2,\"skipped\":0,\"failed\":1,"
                "\"failures\":[{\"shard\":-1,\"index\":null,\"reason\":{\"type\":\"search_context_missing_exception\","
                "\"reason\":\"No search context found for id [93]\"}}]},"
                "\"hits\":{\"hits\":[{\"_id\":\"1\",\"_source\":{}}]}}",
                0, CE_ESERVER, "1 shard(s) failed: search_context_missing_exception: No search context found");
    /* Lean filter_path keeps _shards.failed and the failures. */
    parse_fails("{\"_shards\":{\"failed\":2,\"failures\":[{\"reason\":\"plain text\"}]}}", ES_PAGE_LEAN,
                CE_ESERVER, "2 shard(s) failed: plain text");
    parse_fails("{\"_shards\":{\"failed\":1},\"hits\":{\"hits\":[]}}", 0, CE_ESERVER, "no reason given");
    es_search_page pg;
    parse_ok("{\"_shards\":{\"failed\":0,\"failures\":[]},\"hits\":{\"hits\":[]}}", 0, &pg);
    es_search_page_free(&pg);
}

static void test_pit_open(void **st)
{
    (void)st;
    char *id = (char *)"x";
    const char *es = "{\"id\":\"46ToAwMDaWR5BXV1aWQy\"}";
    assert_int_equal(es_search_parse_pit_open(es, strlen(es), "id", &id), CE_OK);
    assert_string_equal(id, "46ToAwMDaWR5BXV1aWQy");
    free(id);
    const char *os = "{\"pit_id\":\"o463QQEJ\",\"_shards\":{\"total\":3,\"successful\":3,\"skipped\":0,"
                     "\"failed\":0},\"creation_time\":1733312345678}";
    assert_int_equal(es_search_parse_pit_open(os, strlen(os), "pit_id", &id), CE_OK);
    assert_string_equal(id, "o463QQEJ");
    free(id);
    assert_int_equal(es_search_parse_pit_open(os, strlen(os), "id", &id), CE_EPROTO);
    assert_null(id);
    assert_int_equal(es_search_parse_pit_open("{\"id\":\"\"}", 9, "id", &id), CE_EPROTO);
    assert_int_equal(es_search_parse_pit_open("{\"id\":1}", 8, "id", &id), CE_EPROTO);
    assert_int_equal(es_search_parse_pit_open("{\"id\":\"a\"", 9, "id", &id), CE_EJSON);
    assert_null(id);
}

static void test_not_found(void **st)
{
    (void)st;
    const char *nf = "{\"error\":{\"root_cause\":[{\"type\":\"index_not_found_exception\",\"reason\":\"no such "
                     "index [x]\"}],\"type\":\"index_not_found_exception\",\"reason\":\"no such index [x]\"},"
                     "\"status\":404}";
    assert_true(es_answer_is_index_not_found(404, nf, strlen(nf)));
    assert_false(es_answer_is_index_not_found(400, nf, strlen(nf)));
    assert_true(es_answer_is_index_not_found(404, "", 0));
    assert_true(es_answer_is_index_not_found(404, "<html>", 6));
    const char *other = "{\"error\":{\"type\":\"search_context_missing_exception\"},\"status\":404}";
    assert_false(es_answer_is_index_not_found(404, other, strlen(other)));
}

/* Which numbers jansson holds exactly, and which travel as strings of their digits. */
static void test_number_exact(void **st)
{
    (void)st;
    static const char *const exact[] = {"0", "-0", "7", "9223372036854775807", "-9223372036854775808",
                                        "000000000000000000001", "0.1", "1.5", "-2.25e10", "123456789012345",
                                        "1.23456789012345", "0.000000000000000000001", "1e279", "1e-279",
                                        "0.0", "0e99999"};
    static const char *const inexact[] = {"9223372036854775808", "-9223372036854775809",
                                          "1267650600228229401496703205376", "1234567890123456.0",
                                          "0.30000000000000004", "1.000000000000000000",
                                          "-12345678901234567890.123456789012345678", "1e400", "1e-400",
                                          "1e99999999999", "1e281"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (!es_json_number_exact(exact[i], strlen(exact[i])))
            fail_msg("%s taken as inexact", exact[i]);
    for (size_t i = 0; i < sizeof inexact / sizeof inexact[0]; i++)
        if (es_json_number_exact(inexact[i], strlen(inexact[i])))
            fail_msg("%s taken as exact", inexact[i]);
}

/* The hit loader and jansson (reading es_json_copy_exact's copy) agree on text[0..n). */
static void load_same_as_jansson(const char *text, size_t n, ce_buf *scratch, ce_buf *copy)
{
    json_error_t e1, e2;
    json_t *ours = es_json_load_exact(text, n, scratch, &e1);
    ce_buf_reset(copy);
    assert_int_equal(es_json_copy_exact(text, n, copy), CE_OK);
    json_t *ref = json_loadb(copy->len ? (const char *)copy->data : "", copy->len, JSON_DECODE_ANY, &e2);
    if (!ours != !ref)
        fail_msg("%.*s: ours %s (%s), jansson %s (%s)", (int)n, text, ours ? "read" : "refused", e1.text,
                 ref ? "read" : "refused", e2.text);
    if (ours && !json_equal(ours, ref))
        fail_msg("%.*s: trees differ", (int)n, text);
    json_decref(ours);
    json_decref(ref);
}

/* Strings of random pieces (plain runs, escapes, raw control bytes, quotes, valid and broken
 * UTF-8) of every length around the loader's eight-byte steps: read as jansson reads them. */
static void test_load_strings_at_every_offset(void **st)
{
    (void)st;
    static const char *const piece[] = {"a", "0123456789", " ", "\\n", "\\\"", "\\u00e9", "\x01", "\x1f",
                                        "\x7f", "\"", "\xc3\xa9", "\xe2\x82\xac", "\x80", "\xff", "\xc3"};
    const size_t np = sizeof piece / sizeof piece[0];
    ce_buf scratch = CE_BUF_INIT, copy = CE_BUF_INIT;
    unsigned seed = 777;
    for (int round = 0; round < 3000; round++) {
        char text[1024];
        size_t n = 0;
        text[n++] = '"';
        for (int k = 0; k < round % 40; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pi = (seed >> 16) % 5 ? (seed >> 20) % 3 : (seed >> 20) % np; /* mostly plain */
            memcpy(text + n, piece[pi], strlen(piece[pi]));
            n += strlen(piece[pi]);
        }
        text[n++] = '"';
        load_same_as_jansson(text, n, &scratch, &copy);
        load_same_as_jansson(text, n - 1, &scratch, &copy); /* cut before the closing quote */
    }
    ce_buf_free(&scratch);
    ce_buf_free(&copy);
}

/* The hit loader (json_load.c) against jansson reading es_json_copy_exact's copy: the same
 * tree for what jansson reads, a refusal for what it refuses. */
static void test_load_exact_matches_jansson(void **st)
{
    (void)st;
    static const char *const texts[] = {
        "{}", "[]", " {\"a\" : 1 , \"b\":[true,false,null,\"x\"]} ", "\"\"", "0", "-0", "-12", "1.5", "-2.25e10",
        "1E3", "0e99999", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "1e400",
        "0.30000000000000004", "{\"n\":1267650600228229401496703205376}", "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
        "\"\\u00e9\\u20ac\\ud83d\\ude00\"", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", "{\"a\":1,\"a\":2}",
        "{\"k\\u0041\":{\"x\":[[],[{}]]}}", "[1,2,3", "[1,]", "{,}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "01",
        "-", "1.", ".5", "1e", "+1", "tru", "truex", "nul", "[1]x", "", "  ", "\"abc", "\"\\u0000\"",
        "{\"a\\u0000b\":1}", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\x\"", "\"\\u12g4\"",
        "\"\x01\"", "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"",
        "[\"\\", "1 2", "{\"a\":1 \"b\":2}", "[1 2]", "-01", "1.2.3", "2.", "[-]", "{\"a\":-1e-3}"};
    ce_buf scratch = CE_BUF_INIT, copy = CE_BUF_INIT;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        load_same_as_jansson(texts[i], strlen(texts[i]), &scratch, &copy);
    /* nesting: jansson's limit, not one level more */
    ce_buf deep = CE_BUF_INIT;
    for (int d = 0; d < JSON_PARSER_MAX_DEPTH + 1; d++)
        assert_int_equal(ce_buf_append_byte(&deep, '['), CE_OK);
    for (int d = 0; d < JSON_PARSER_MAX_DEPTH + 1; d++)
        assert_int_equal(ce_buf_append_byte(&deep, ']'), CE_OK);
    json_error_t e;
    assert_null(es_json_load_exact(deep.data, deep.len, &scratch, &e));
    json_t *ok = es_json_load_exact((const char *)deep.data + 1, deep.len - 2, &scratch, &e);
    assert_non_null(ok);
    json_decref(ok);
    ce_buf_free(&deep);
    ce_buf_free(&scratch);
    ce_buf_free(&copy);
}

static json_t *hit_source(const es_search_page *pg, size_t i, const char *field)
{
    return json_object_get(json_object_get(json_array_get(pg->hits, i), "_source"), field);
}

static void test_big_numbers(void **st)
{
    (void)st;
    const char *body =
        "{\"_scroll_id\":\"s\",\"hits\":{\"total\":{\"value\":3},\"hits\":["
        "{\"_id\":\"a\",\"_source\":{\"v\":1267650600228229401496703205376,"
        "\"d\":-12345678901234567890.123456789012345678,\"i\":-9223372036854775808,\"r\":0.1,"
        "\"s\":\"99999999999999999999\",\"big\":1e400,\"l\":[1,18446744073709551616,{\"x\":2.50000000000000000}]},"
        "\"sort\":[5]},\n"
        " {\"_id\":\"b\",\"_source\":{\"k\\\"1e999\":12},\"sort\":[6]} ,"
        "{\"_id\":\"c\",\"_source\":{},\"sort\":[7]}]}}";
    es_search_page pg;
    parse_ok(body, ES_PAGE_NEED_SORT, &pg);
    assert_int_equal(json_array_size(pg.hits), 3);
    assert_string_equal(json_string_value(hit_source(&pg, 0, "v")), "1267650600228229401496703205376");
    assert_string_equal(json_string_value(hit_source(&pg, 0, "d")), "-12345678901234567890.123456789012345678");
    assert_true(json_integer_value(hit_source(&pg, 0, "i")) == INT64_MIN);
    assert_true(json_is_real(hit_source(&pg, 0, "r")));
    assert_string_equal(json_string_value(hit_source(&pg, 0, "s")), "99999999999999999999");
    assert_string_equal(json_string_value(hit_source(&pg, 0, "big")), "1e400");
    json_t *l = hit_source(&pg, 0, "l");
    assert_int_equal(json_integer_value(json_array_get(l, 0)), 1);
    assert_string_equal(json_string_value(json_array_get(l, 1)), "18446744073709551616");
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 2), "x")), "2.50000000000000000");
    /* digits inside a key or a string are not numbers */
    assert_int_equal(json_integer_value(hit_source(&pg, 1, "k\"1e999")), 12);
    for (size_t i = 0; i < 3; i++)
        assert_null(es_hit_error(json_array_get(pg.hits, i)));
    assert_int_equal(json_integer_value(json_array_get(pg.last_sort, 0)), 7);
    assert_int_equal(pg.total, 3);
    es_search_page_free(&pg);
}

/* Hits jansson refuses fail alone: a stand-in with the reason, the _id and sort values. */
static void test_broken_hits(void **st)
{
    (void)st;
    const char *body = "{\"hits\":{\"hits\":["
                       "{\"_id\":\"good1\",\"_source\":{\"a\":1},\"sort\":[1]},"
                       "{\"_id\":\"utf8\",\"_source\":{\"a\":\"\xff\xfe\"},\"sort\":[2]},"
                       "{\"_source\":{\"a\\u0000b\":1},\"_id\":\"nul\",\"sort\":[3]},"
                       "{\"_id\":\"good2\",\"_source\":{\"a\":tru},\"sort\":[4]},"
                       "{\"_id\":\"good3\",\"_source\":{\"a\":[[[]]]},\"sort\":[5]},"
                       "{\"_id\":\"bad\\ud800\",\"_source\":{\"a\":1},\"sort\":[6]}]}}";
    es_search_page pg;
    parse_ok(body, ES_PAGE_NEED_SORT, &pg);
    assert_int_equal(json_array_size(pg.hits), 6);
    static const char *const ids[] = {"good1", "utf8", "nul", "good2", "good3", NULL};
    static const bool broken[] = {false, true, true, true, false, true};
    for (size_t i = 0; i < 6; i++) {
        json_t *h = json_array_get(pg.hits, i);
        if (broken[i] != (es_hit_error(h) != NULL))
            fail_msg("hit %zu: error \"%s\"", i, es_hit_error(h) ? es_hit_error(h) : "(none)");
        if (ids[i])
            assert_string_equal(json_string_value(json_object_get(h, "_id")), ids[i]);
        else
            assert_null(json_object_get(h, "_id")); /* an _id that does not read stays out */
        assert_int_equal(json_integer_value(json_array_get(json_object_get(h, "sort"), 0)), (json_int_t)i + 1);
    }
    /* The last hit was broken: its sort values still continue the read. */
    assert_int_equal(json_integer_value(json_array_get(pg.last_sort, 0)), 6);
    es_search_page_free(&pg);
    /* Brackets that do not match are the server's text broken, not a hit: the page fails. */
    parse_fails("{\"hits\":{\"hits\":[{\"_id\":\"1\",\"_source\":{\"a\":[1}},{\"_id\":\"2\"}]}}", 0, CE_EJSON,
                "malformed");
    parse_fails("{\"hits\":{\"hits\":[{\"_id\":\"1\"}]}} trailing", 0, CE_EJSON, "malformed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pit_pages),       cmocka_unit_test(test_scroll_pages),
        cmocka_unit_test(test_lean_empty_pages), cmocka_unit_test(test_malformed_pages),
        cmocka_unit_test(test_truncated_pages), cmocka_unit_test(test_shard_failures),
        cmocka_unit_test(test_pit_open),        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_number_exact),    cmocka_unit_test(test_big_numbers),
        cmocka_unit_test(test_broken_hits),
        cmocka_unit_test(test_load_exact_matches_jansson),
        cmocka_unit_test(test_load_strings_at_every_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
