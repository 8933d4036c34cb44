/* test_sync_docmap.c - _id encoding and splitting, row -> document, document -> values,
 * versions and the echo rule of the sync engine (pure code, fixtures only). */
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

static void be64(uint8_t *p, int64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v = (int64_t)((uint64_t)v >> 8);
    }
}

static void test_id_single_and_composite(void **st)
{
    (void)st;
    ce_buf id = CE_BUF_INIT;
    assert_int_equal(sync_id_append_part(&id, "a:b\\c", 5, false), CE_OK);
    assert_string_equal(ce_buf_cstr(&id), "a:b\\c");
    ce_buf_reset(&id);
    assert_int_equal(sync_id_append_part(&id, "a:b\\c", 5, true), CE_OK);
    assert_int_equal(ce_buf_append_byte(&id, ':'), CE_OK);
    assert_int_equal(sync_id_append_part(&id, "42", 2, true), CE_OK);
    assert_string_equal(ce_buf_cstr(&id), "a\\:b\\\\c:42");

    ce_buf parts = CE_BUF_INIT;
    size_t offs[SYNC_MAX_KEY_PARTS];
    assert_int_equal(sync_id_split(id.data, id.len, 2, &parts, offs), CE_OK);
    assert_string_equal(parts.data + offs[0], "a:b\\c");
    assert_string_equal(parts.data + offs[1], "42");
    /* wrong part counts and a dangling escape are refused */
    assert_int_equal(sync_id_split(id.data, id.len, 3, &parts, offs), CE_EINVAL);
    assert_int_equal(sync_id_split("a:b:c", 5, 2, &parts, offs), CE_EINVAL);
    assert_int_equal(sync_id_split("a\\", 2, 2, &parts, offs), CE_EINVAL);
    /* one part: the id as is, colons included */
    assert_int_equal(sync_id_split("x:y", 3, 1, &parts, offs), CE_OK);
    assert_string_equal(parts.data + offs[0], "x:y");
    /* empty components survive */
    assert_int_equal(sync_id_split(":", 1, 2, &parts, offs), CE_OK);
    assert_string_equal(parts.data + offs[0], "");
    assert_string_equal(parts.data + offs[1], "");
    ce_buf_free(&id);
    ce_buf_free(&parts);
}

static void test_value_text(void **st)
{
    (void)st;
    ce_buf out = CE_BUF_INIT, scratch = CE_BUF_INIT;
    cql_type *t_text = ty("text"), *t_big = ty("bigint"), *t_uuid = ty("uuid"), *t_ts = ty("timestamp");
    assert_int_equal(sync_value_text(t_text, (const uint8_t *)"h\"i", 3, &out, &scratch), CE_OK);
    assert_string_equal(ce_buf_cstr(&out), "h\"i");
    ce_buf_reset(&out);
    uint8_t b[8];
    be64(b, -12345);
    assert_int_equal(sync_value_text(t_big, b, 8, &out, &scratch), CE_OK);
    assert_string_equal(ce_buf_cstr(&out), "-12345");
    ce_buf_reset(&out);
    uint8_t u[16];
    for (int i = 0; i < 16; i++)
        u[i] = (uint8_t)(0x10 + i);
    assert_int_equal(sync_value_text(t_uuid, u, 16, &out, &scratch), CE_OK);
    assert_string_equal(ce_buf_cstr(&out), "10111213-1415-1617-1819-1a1b1c1d1e1f");
    ce_buf_reset(&out);
    be64(b, 1764064800123LL);
    assert_int_equal(sync_value_text(t_ts, b, 8, &out, &scratch), CE_OK);
    assert_string_equal(ce_buf_cstr(&out), "2025-11-25T10:00:00.123Z");
    assert_int_equal(sync_value_text(t_big, NULL, -1, &out, &scratch), CE_EINVAL);
    cql_type_free(t_text);
    cql_type_free(t_big);
    cql_type_free(t_uuid);
    cql_type_free(t_ts);
    ce_buf_free(&out);
    ce_buf_free(&scratch);
}

static void test_value_int64(void **st)
{
    (void)st;
    cql_type *t_int = ty("int"), *t_var = ty("varint"), *t_text = ty("text");
    int64_t v = 0;
    uint8_t i4[4] = {0xff, 0xff, 0xff, 0xfe};
    assert_int_equal(sync_value_int64(t_int, i4, 4, &v), CE_OK);
    assert_int_equal(v, -2);
    uint8_t vi[3] = {0x01, 0x00, 0x00};
    assert_int_equal(sync_value_int64(t_var, vi, 3, &v), CE_OK);
    assert_int_equal(v, 65536);
    assert_int_equal(sync_value_int64(t_int, i4, 3, &v), CE_ECONVERT);
    assert_int_equal(sync_value_int64(t_text, i4, 4, &v), CE_ECONVERT);
    assert_int_equal(sync_value_int64(t_int, NULL, -1, &v), CE_ECONVERT);
    cql_type_free(t_int);
    cql_type_free(t_var);
    cql_type_free(t_text);
}

/* Table (id int, version bigint, text varchar, source varchar) + WRITETIME(source),
 * WRITETIME(version). */
typedef struct {
    cql_type *types[4];
    const char *names[4];
    sync_rowmap m;
    uint8_t id[4], ver[8], wts[8], wtv[8];
    cql_value cells[6];
} row_fixture;

static void row_setup(row_fixture *f, const char *source, int64_t wt_src, int64_t wt_ver)
{
    memset(f, 0, sizeof *f);
    f->types[0] = ty("int");
    f->types[1] = ty("bigint");
    f->types[2] = ty("text");
    f->types[3] = ty("text");
    f->names[0] = "id";
    f->names[1] = "version";
    f->names[2] = "text";
    f->names[3] = "source";
    sync_rowmap *m = &f->m;
    m->ncols = 4;
    m->names = f->names;
    m->types = (const cql_type *const *)f->types;
    m->nid = 1;
    m->id_idx[0] = 0;
    m->version_idx = 1;
    m->source_idx = 3;
    m->deleted_idx = -1;
    m->wt_source_idx = 4;
    m->wt_version_idx = 5;
    m->wt_any_idx = -1;
    m->source_field = "source";
    m->cassandra_source_id = "cassandra";
    m->es_source_id = "elasticsearch";
    m->version_unit_us = 1000;
    f->id[3] = 7;
    be64(f->ver, 1700000000000LL);
    be64(f->wts, wt_src);
    be64(f->wtv, wt_ver);
    f->cells[0] = (cql_value){f->id, 4};
    f->cells[1] = (cql_value){f->ver, 8};
    f->cells[2] = (cql_value){(const uint8_t *)"h\xc3\xa9\"", 4};
    f->cells[3] = source ? (cql_value){(const uint8_t *)source, (int32_t)strlen(source)}
                         : (cql_value){NULL, CQL_NULL};
    f->cells[4] = source ? (cql_value){f->wts, 8} : (cql_value){NULL, CQL_NULL};
    f->cells[5] = (cql_value){f->wtv, 8};
}

static void row_teardown(row_fixture *f)
{
    for (int i = 0; i < 4; i++)
        cql_type_free(f->types[i]);
}

static void test_row_doc_and_id(void **st)
{
    (void)st;
    row_fixture f;
    row_setup(&f, NULL, 0, 5);
    ce_buf doc = CE_BUF_INIT, id = CE_BUF_INIT, scratch = CE_BUF_INIT, err = CE_BUF_INIT;
    assert_int_equal(sync_row_doc(&f.m, f.cells, &doc), CE_OK);
    assert_string_equal(ce_buf_cstr(&doc),
                        "{\"id\":7,\"version\":1700000000000,\"text\":\"h\xc3\xa9\\\"\",\"source\":\"cassandra\"}");
    /* the same document from keys escaped beforehand (the C->E hot path) */
    const ce_slice keys[4] = {{"\"id\":", 5}, {"\"version\":", 10}, {"\"text\":", 7}, {"\"source\":", 9}};
    f.m.key_json = keys;
    ce_buf doc2 = CE_BUF_INIT;
    assert_int_equal(sync_row_doc(&f.m, f.cells, &doc2), CE_OK);
    assert_string_equal(ce_buf_cstr(&doc2), ce_buf_cstr(&doc));
    ce_buf_free(&doc2);
    f.m.key_json = NULL;
    assert_int_equal(sync_row_id(&f.m, f.cells, &id, &scratch, &err), CE_OK);
    assert_string_equal(ce_buf_cstr(&id), "7");
    int64_t v;
    bool wt;
    assert_int_equal(sync_row_version(&f.m, f.cells, &v, &wt), CE_OK);
    assert_int_equal(v, 1700000000000LL);
    assert_false(wt);
    /* null version: WRITETIME (us) in version units */
    f.cells[1] = (cql_value){NULL, CQL_NULL};
    be64(f.wtv, 1700000000123456LL);
    assert_int_equal(sync_row_version(&f.m, f.cells, &v, &wt), CE_OK);
    assert_int_equal(v, 1700000000123LL);
    assert_true(wt);
    f.cells[5] = (cql_value){NULL, CQL_NULL};
    assert_int_equal(sync_row_version(&f.m, f.cells, &v, &wt), CE_ENOTFOUND);
    /* composite id: "7:h\xc3\xa9\"" */
    f.m.nid = 2;
    f.m.id_idx[1] = 2;
    assert_int_equal(sync_row_id(&f.m, f.cells, &id, &scratch, &err), CE_OK);
    assert_string_equal(ce_buf_cstr(&id), "7:h\xc3\xa9\"");
    /* null key part */
    f.m.id_idx[1] = 3;
    assert_int_equal(sync_row_id(&f.m, f.cells, &id, &scratch, &err), CE_EINVAL);
    assert_non_null(strstr(ce_buf_cstr(&err), "source"));
    /* table without a source column: the field is added */
    f.m.source_idx = -1;
    f.m.ncols = 3;
    ce_buf_reset(&doc);
    f.cells[1] = (cql_value){f.ver, 8};
    assert_int_equal(sync_row_doc(&f.m, f.cells, &doc), CE_OK);
    json_error_t je;
    json_t *j = json_loadb(doc.data, doc.len, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "source")), "cassandra");
    json_decref(j);
    row_teardown(&f);
    ce_buf_free(&doc);
    ce_buf_free(&id);
    ce_buf_free(&scratch);
    ce_buf_free(&err);
}

static void test_echo_rule(void **st)
{
    (void)st;
    row_fixture f;
    /* written by E->C: every column with the same timestamp -> echo */
    row_setup(&f, "elasticsearch", 1000, 1000);
    assert_true(sync_row_is_echo(&f.m, f.cells));
    row_teardown(&f);
    /* later Cassandra update that left source untouched -> not an echo */
    row_setup(&f, "elasticsearch", 1000, 2000);
    assert_false(sync_row_is_echo(&f.m, f.cells));
    /* no WRITETIMEs known (e.g. version is a clustering column) -> source decides */
    f.m.wt_version_idx = -1;
    assert_true(sync_row_is_echo(&f.m, f.cells));
    row_teardown(&f);
    row_setup(&f, "cassandra", 1000, 1000);
    assert_false(sync_row_is_echo(&f.m, f.cells));
    row_teardown(&f);
    row_setup(&f, "elasticsearchX", 1000, 1000);
    assert_false(sync_row_is_echo(&f.m, f.cells));
    row_teardown(&f);
}

/* Document -> INSERT values for (id int, k text, version bigint, text varchar, source
 * varchar, tags list<int>), key (id, k), + the timestamp. */
typedef struct {
    cql_type *types[6];
    const char *names[6];
    bool is_key[6];
    sync_docmap m;
} doc_fixture;

static void doc_setup(doc_fixture *f)
{
    memset(f, 0, sizeof *f);
    const char *tt[6] = {"int", "text", "bigint", "text", "text", "list<int>"};
    const char *nn[6] = {"id", "k", "version", "text", "source", "tags"};
    for (int i = 0; i < 6; i++) {
        f->types[i] = ty(tt[i]);
        f->names[i] = nn[i];
    }
    f->is_key[0] = f->is_key[1] = true;
    sync_docmap *m = &f->m;
    m->ncols = 6;
    m->names = f->names;
    m->types = (const cql_type *const *)f->types;
    m->is_key = f->is_key;
    for (int i = 0; i < 256; i++)
        m->key_part[i] = -1;
    m->key_part[0] = 0;
    m->key_part[1] = 1;
    m->nid = 2;
    m->source_col = 4;
    m->version_field = "version";
    m->es_source_id = "elasticsearch";
    m->version_unit_us = 1000;
}

static void doc_teardown(doc_fixture *f)
{
    for (int i = 0; i < 6; i++)
        cql_type_free(f->types[i]);
}

static json_t *hit(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    return j;
}

static int64_t rd64(const cql_value *v)
{
    assert_int_equal(v->len, 8);
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | v->ptr[i];
    return (int64_t)u;
}

static void test_doc_values(void **st)
{
    (void)st;
    doc_fixture f;
    doc_setup(&f);
    ce_buf storage = CE_BUF_INIT, err = CE_BUF_INIT;
    cql_value vals[7];
    int64_t version = 0;
    /* key from _id (escaped colon), missing text -> UNSET, no source -> es_source_id,
     * object into a text column -> JSON text */
    json_t *h = hit("{\"_id\":\"12:a\\\\:b\",\"_source\":{\"version\":1700000000001,\"tags\":[1,2],"
                    "\"text\":{\"x\":1}}}");
    assert_int_equal(sync_doc_values(&f.m, h, &storage, vals, &version, &err), CE_OK);
    assert_int_equal(version, 1700000000001LL);
    assert_int_equal(vals[0].len, 4);
    assert_int_equal(vals[0].ptr[3], 12);
    assert_int_equal(vals[1].len, 3);
    assert_memory_equal(vals[1].ptr, "a:b", 3);
    assert_int_equal(rd64(&vals[2]), 1700000000001LL);
    assert_int_equal(vals[3].len, 7);
    assert_memory_equal(vals[3].ptr, "{\"x\":1}", 7);
    assert_int_equal(vals[4].len, 13);
    assert_memory_equal(vals[4].ptr, "elasticsearch", 13);
    assert_true(vals[5].len > 0);
    assert_int_equal(rd64(&vals[6]), 1700000000001000LL);
    json_decref(h);

    /* explicit null -> NULL (erases), fields win over _id */
    h = hit("{\"_id\":\"zzz\",\"_source\":{\"id\":3,\"k\":\"q\",\"version\":\"5\",\"text\":null,"
            "\"source\":\"other\"}}");
    assert_int_equal(sync_doc_values(&f.m, h, &storage, vals, &version, &err), CE_OK);
    assert_int_equal(version, 5);
    assert_int_equal(vals[0].ptr[3], 3);
    assert_int_equal(vals[3].len, CQL_NULL);
    assert_int_equal(vals[5].len, CQL_UNSET);
    assert_memory_equal(vals[4].ptr, "other", 5);
    json_decref(h);

    /* no version -> refused with a reason */
    ce_buf_reset(&err);
    h = hit("{\"_id\":\"1:a\",\"_source\":{\"text\":\"x\"}}");
    assert_int_equal(sync_doc_values(&f.m, h, &storage, vals, &version, &err), CE_EINVAL);
    assert_non_null(strstr(ce_buf_cstr(&err), "version"));
    json_decref(h);
    /* unconvertible value -> CE_ECONVERT naming the field */
    ce_buf_reset(&err);
    h = hit("{\"_id\":\"1:a\",\"_source\":{\"version\":1,\"tags\":[\"abc\"]}}");
    assert_int_equal(sync_doc_values(&f.m, h, &storage, vals, &version, &err), CE_ECONVERT);
    assert_non_null(strstr(ce_buf_cstr(&err), "tags"));
    json_decref(h);
    /* key missing and _id has the wrong shape */
    ce_buf_reset(&err);
    h = hit("{\"_id\":\"nocolon\",\"_source\":{\"version\":1}}");
    assert_int_equal(sync_doc_values(&f.m, h, &storage, vals, &version, &err), CE_EINVAL);
    json_decref(h);
    /* negative version */
    ce_buf_reset(&err);
    h = hit("{\"_id\":\"1:a\",\"_source\":{\"version\":-4}}");
    assert_int_equal(sync_doc_values(&f.m, h, &storage, vals, &version, &err), CE_ECONVERT);
    json_decref(h);
    /* skipped (conflicting) field stays UNSET */
    bool skip[6] = {false, false, false, true, false, false};
    f.m.skip = skip;
    h = hit("{\"_id\":\"1:a\",\"_source\":{\"version\":2,\"text\":\"t\"}}");
    assert_int_equal(sync_doc_values(&f.m, h, &storage, vals, &version, &err), CE_OK);
    assert_int_equal(vals[3].len, CQL_UNSET);
    json_decref(h);
    doc_teardown(&f);
    ce_buf_free(&storage);
    ce_buf_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_single_and_composite),
        cmocka_unit_test(test_value_text),
        cmocka_unit_test(test_value_int64),
        cmocka_unit_test(test_row_doc_and_id),
        cmocka_unit_test(test_echo_rule),
        cmocka_unit_test(test_doc_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
