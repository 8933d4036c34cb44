/* test_sync_deletes.c - the soft-delete mark (deleted_col, docs/deletes.md): which rows
 * and documents it marks deleted, by type: boolean, timestamp, text, null, empty, absent,
 * and every numeric type (a zero is live, any other number deleted), on both sides. */
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
#include "sync/sync_int.h"

static cql_type *ty(const char *text)
{
    cql_type *t = NULL;
    assert_int_equal(cql_type_parse(text, &t), CE_OK);
    return t;
}

static cql_value val(const void *p, int32_t len) { return (cql_value){(const uint8_t *)p, len}; }

static void test_row_boolean(void **st)
{
    (void)st;
    cql_type *t = ty("boolean");
    uint8_t yes = 1, no = 0;
    cql_value v = val(&yes, 1);
    assert_true(sync_row_is_deleted(t, &v));
    v = val(&no, 1);
    assert_false(sync_row_is_deleted(t, &v));
    v = val(NULL, CQL_NULL);
    assert_false(sync_row_is_deleted(t, &v));
    v = val(NULL, CQL_UNSET);
    assert_false(sync_row_is_deleted(t, &v));
    v = val("", 0); /* an empty value: as null */
    assert_false(sync_row_is_deleted(t, &v));
    cql_type_free(t);
}

static void test_row_timestamp_and_others(void **st)
{
    (void)st;
    cql_type *ts = ty("timestamp"), *txt = ty("text"), *i = ty("int");
    uint8_t when[8] = {0, 0, 1, 0x8b, 0xcf, 0xe5, 0x68, 0};
    uint8_t zero[8] = {0};
    cql_value v = val(when, 8);
    assert_true(sync_row_is_deleted(ts, &v));
    v = val(zero, 8); /* the epoch is a time like any other: marked */
    assert_true(sync_row_is_deleted(ts, &v));
    v = val(NULL, CQL_NULL);
    assert_false(sync_row_is_deleted(ts, &v));
    v = val("2026-01-01", 10);
    assert_true(sync_row_is_deleted(txt, &v));
    v = val("false", 5);
    assert_false(sync_row_is_deleted(txt, &v));
    v = val("", 0);
    assert_false(sync_row_is_deleted(txt, &v));
    v = val("0", 1); /* the text of a zero: live, as the text "false" */
    assert_false(sync_row_is_deleted(txt, &v));
    v = val("-0.00", 5);
    assert_false(sync_row_is_deleted(txt, &v));
    v = val("0.01", 4);
    assert_true(sync_row_is_deleted(txt, &v));
    v = val("0x", 2);
    assert_true(sync_row_is_deleted(txt, &v));
    v = val("10", 2);
    assert_true(sync_row_is_deleted(txt, &v));
    v = val(zero, 4);
    assert_false(sync_row_is_deleted(i, &v));
    assert_false(sync_row_is_deleted(NULL, &v));
    assert_false(sync_row_is_deleted(i, NULL));
    cql_type_free(ts);
    cql_type_free(txt);
    cql_type_free(i);
}

/* One cell of type `type` with the given bytes: is it marked deleted? */
static bool row_deleted(const char *type, const void *bytes, int32_t len)
{
    cql_type *t = ty(type);
    cql_value v = val(bytes, len);
    bool d = sync_row_is_deleted(t, &v);
    cql_type_free(t);
    return d;
}

static void test_row_numbers(void **st)
{
    (void)st;
    static const struct {
        const char *type;
        uint8_t zero[8], one[8]; /* big-endian wire forms */
        int32_t len;
    } ints[] = {
        {"tinyint", {0}, {1}, 1},
        {"smallint", {0, 0}, {0, 1}, 2},
        {"int", {0, 0, 0, 0}, {0, 0, 0, 1}, 4},
        {"bigint", {0}, {0, 0, 0, 0, 0, 0, 0, 1}, 8},
        {"counter", {0}, {0, 0, 0, 0, 0, 0, 0, 1}, 8},
        {"varint", {0}, {1}, 1},
    };
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
        assert_false(row_deleted(ints[k].type, ints[k].zero, ints[k].len));
        assert_true(row_deleted(ints[k].type, ints[k].one, ints[k].len));
    }
    static const uint8_t minus_one[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t min_int[4] = {0x80, 0, 0, 0}; /* -2^31: the sign bit alone is not zero */
    assert_true(row_deleted("int", minus_one, 4));
    assert_true(row_deleted("int", min_int, 4));
    assert_true(row_deleted("bigint", minus_one, 8));
    static const uint8_t vzero2[2] = {0, 0}, v256[2] = {1, 0}, vneg[1] = {0xff};
    assert_false(row_deleted("varint", vzero2, 2)); /* a longer zero: still zero */
    assert_true(row_deleted("varint", v256, 2));
    assert_true(row_deleted("varint", vneg, 1));

    static const uint8_t fpz[4] = {0}, fnz[4] = {0x80, 0, 0, 0}, fone[4] = {0x3f, 0x80, 0, 0},
                         ftiny[4] = {0x80, 0, 0, 1}; /* -1.4e-45: not zero */
    assert_false(row_deleted("float", fpz, 4));
    assert_false(row_deleted("float", fnz, 4));
    assert_true(row_deleted("float", fone, 4));
    assert_true(row_deleted("float", ftiny, 4));
    static const uint8_t dpz[8] = {0}, dnz[8] = {0x80}, done[8] = {0x3f, 0xf0},
                         dnan[8] = {0x7f, 0xf8};
    assert_false(row_deleted("double", dpz, 8));
    assert_false(row_deleted("double", dnz, 8));
    assert_true(row_deleted("double", done, 8));
    assert_true(row_deleted("double", dnan, 8));

    /* decimal: a 4-byte scale, then the unscaled varint; zero at any scale is zero */
    static const uint8_t dec0[5] = {0, 0, 0, 0, 0}, dec000[5] = {0, 0, 0, 2, 0},
                         dec1[5] = {0, 0, 0, 0, 1}, dec_scale_only[5] = {0, 0, 0, 5, 1},
                         dec_neg[5] = {0xff, 0xff, 0xff, 0xfe, 0}; /* 0E+2 */
    assert_false(row_deleted("decimal", dec0, 5));
    assert_false(row_deleted("decimal", dec000, 5));
    assert_false(row_deleted("decimal", dec_neg, 5));
    assert_true(row_deleted("decimal", dec1, 5));
    assert_true(row_deleted("decimal", dec_scale_only, 5)); /* 0.00001 */

    /* not numbers: a zero there is a value like any other */
    static const uint8_t z8[8] = {0};
    assert_true(row_deleted("timestamp", z8, 8));
    assert_true(row_deleted("time", z8, 8));
}

static void test_rowmap(void **st)
{
    (void)st;
    cql_type *types[2] = {ty("int"), ty("boolean")};
    uint8_t id[4] = {0, 0, 0, 7}, yes = 1;
    cql_value cells[2] = {val(id, 4), val(&yes, 1)};
    sync_rowmap m;
    memset(&m, 0, sizeof m);
    m.ncols = 2;
    m.types = (const cql_type *const *)types;
    m.deleted_idx = -1;
    assert_false(sync_rowmap_is_deleted(&m, cells)); /* soft deletes off */
    m.deleted_idx = 1;
    assert_true(sync_rowmap_is_deleted(&m, cells));
    cells[1] = val(NULL, CQL_NULL);
    assert_false(sync_rowmap_is_deleted(&m, cells));
    cql_type_free(types[0]);
    cql_type_free(types[1]);
}

static bool doc_deleted(const char *src_json, const char *field)
{
    json_error_t je;
    json_t *src = json_loads(src_json, 0, &je);
    assert_non_null(src);
    bool d = sync_doc_is_deleted(src, field);
    json_decref(src);
    return d;
}

/* A hit's _source read as the engine reads it (es_json_load_exact: numbers jansson cannot
 * hold exactly arrive as strings of their digits, docs/json.md). */
static bool hit_deleted(const char *src_json, const char *field)
{
    ce_buf scratch = CE_BUF_INIT;
    json_error_t je;
    json_t *src = es_json_load_exact(src_json, strlen(src_json), &scratch, &je);
    assert_non_null(src);
    bool d = sync_doc_is_deleted(src, field);
    json_decref(src);
    ce_buf_free(&scratch);
    return d;
}

static void test_doc_numbers(void **st)
{
    (void)st;
    static const char *const zeros[] = {"0", "-0", "0.0", "-0.0", "0e5", "0.000E-3"};
    static const char *const others[] = {"1", "-1", "0.5", "-0.001", "1e-300", "2e10"};
    char doc[64];
    for (size_t k = 0; k < sizeof zeros / sizeof zeros[0]; k++) {
        snprintf(doc, sizeof doc, "{\"d\":%s}", zeros[k]);
        assert_false(doc_deleted(doc, "d"));
        assert_false(hit_deleted(doc, "d"));
        snprintf(doc, sizeof doc, "{\"d\":\"%s\"}", zeros[k]); /* the text of a zero */
        assert_false(doc_deleted(doc, "d"));
    }
    for (size_t k = 0; k < sizeof others / sizeof others[0]; k++) {
        snprintf(doc, sizeof doc, "{\"d\":%s}", others[k]);
        assert_true(doc_deleted(doc, "d"));
        assert_true(hit_deleted(doc, "d"));
        snprintf(doc, sizeof doc, "{\"d\":\"%s\"}", others[k]);
        assert_true(doc_deleted(doc, "d"));
    }
    /* numbers jansson cannot hold exactly: the exact form (a string of the digits) */
    char big[400];
    int n = snprintf(big, sizeof big, "{\"d\":0.");
    memset(big + n, '0', 300);
    snprintf(big + n + 300, sizeof big - (size_t)n - 300, "}");
    assert_false(hit_deleted(big, "d")); /* 0.000...0 beyond a double's range of scales */
    big[n + 299] = '1';
    assert_true(hit_deleted(big, "d"));
    assert_false(hit_deleted("{\"d\":0.0000000000000000000000}", "d")); /* 22-digit scale */
    assert_true(hit_deleted("{\"d\":100000000000000000000000000000}", "d"));
    assert_true(hit_deleted("{\"d\":0.1234567890123456789}", "d"));
    assert_true(hit_deleted("{\"d\":-99999999999999999999}", "d"));
}

static void test_doc(void **st)
{
    (void)st;
    assert_true(doc_deleted("{\"deleted\":true}", "deleted"));
    assert_true(doc_deleted("{\"deleted\":\"true\"}", "deleted"));
    assert_true(doc_deleted("{\"deleted_at\":\"2026-12-01T23:00:00.000Z\"}", "deleted_at"));
    assert_true(doc_deleted("{\"deleted_at\":1764630000000}", "deleted_at"));
    assert_true(doc_deleted("{\"deleted\":1}", "deleted"));
    assert_false(doc_deleted("{\"deleted\":false}", "deleted"));
    assert_false(doc_deleted("{\"deleted\":\"false\"}", "deleted"));
    assert_false(doc_deleted("{\"deleted\":\"\"}", "deleted"));
    assert_false(doc_deleted("{\"deleted\":null}", "deleted"));
    assert_false(doc_deleted("{\"other\":true}", "deleted"));
    assert_false(doc_deleted("{\"deleted\":true}", NULL));
    assert_false(sync_doc_is_deleted(NULL, "deleted"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row_boolean),
        cmocka_unit_test(test_row_timestamp_and_others),
        cmocka_unit_test(test_row_numbers),
        cmocka_unit_test(test_rowmap),
        cmocka_unit_test(test_doc),
        cmocka_unit_test(test_doc_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
