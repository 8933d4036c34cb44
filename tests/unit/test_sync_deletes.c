/* test_sync_deletes.c - the soft-delete mark (deleted_col, docs/deletes.md): which rows
 * and documents it marks deleted, by type: boolean, timestamp, text, null, empty, absent. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

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
    v = val(zero, 4);
    assert_true(sync_row_is_deleted(i, &v));
    assert_false(sync_row_is_deleted(NULL, &v));
    assert_false(sync_row_is_deleted(i, NULL));
    cql_type_free(ts);
    cql_type_free(txt);
    cql_type_free(i);
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

static void test_doc(void **st)
{
    (void)st;
    assert_true(doc_deleted("{\"deleted\":true}", "deleted"));
    assert_true(doc_deleted("{\"deleted\":\"true\"}", "deleted"));
    assert_true(doc_deleted("{\"deleted_at\":\"2026-12-01T23:00:00.000Z\"}", "deleted_at"));
    assert_true(doc_deleted("{\"deleted_at\":1764630000000}", "deleted_at"));
    assert_true(doc_deleted("{\"deleted_at\":0}", "deleted_at"));
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
        cmocka_unit_test(test_rowmap),
        cmocka_unit_test(test_doc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
