/*
 * test_cql_result.c - response body decoding from byte fixtures: RESULT rows (global
 * and per-column specs, nulls, paging state, collection/UDT/tuple/vector types),
 * skip-metadata rows, PREPARED for v4 and v5 (partition-key indexes, metadata id),
 * SET_KEYSPACE, SCHEMA_CHANGE, every ERROR detail layout (v4 and v5), SUPPORTED,
 * EVENT; every truncation of a fixture must fail cleanly, never crash; request
 * encoders produce the documented layouts; the schema-agreement judgement over the
 * hosts' schema_version cells.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cql/cql_int.h"

static void put_str(ce_buf *b, const char *s)
{
    ce_buf_put_u16(b, (uint16_t)strlen(s));
    ce_buf_append_str(b, s);
}

static void put_bytes(ce_buf *b, const void *p, int32_t n)
{
    ce_buf_put_u32(b, (uint32_t)n);
    if (n > 0)
        ce_buf_append(b, p, (size_t)n);
}

static cql_msg msg_of(const ce_buf *b, uint8_t opcode)
{
    cql_msg m = {.version = 5, .opcode = opcode};
    m.body = malloc(b->len ? b->len : 1);
    if (b->len)
        memcpy(m.body, b->data, b->len);
    m.len = b->len;
    return m;
}

/* rows: (id int, name text, tags list<int>) x 3 rows, global spec, paging state */
static void build_rows(ce_buf *b)
{
    ce_buf_put_u32(b, CQL_RESULT_ROWS);
    ce_buf_put_u32(b, 0x0001 | 0x0002); /* global spec + has more pages */
    ce_buf_put_u32(b, 3);
    put_bytes(b, "PS", 2);
    put_str(b, "ks");
    put_str(b, "tab");
    put_str(b, "id");
    ce_buf_put_u16(b, CQL_T_INT);
    put_str(b, "name");
    ce_buf_put_u16(b, CQL_T_VARCHAR);
    put_str(b, "tags");
    ce_buf_put_u16(b, CQL_T_LIST);
    ce_buf_put_u16(b, CQL_T_INT);
    ce_buf_put_u32(b, 3);
    for (int r = 0; r < 3; r++) {
        uint8_t id[4] = {0, 0, 0, (uint8_t)(r + 1)};
        put_bytes(b, id, 4);
        if (r == 1)
            ce_buf_put_u32(b, (uint32_t)-1); /* null */
        else
            put_bytes(b, r ? "bob" : "alice", r ? 3 : 5);
        uint8_t list[] = {0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 42};
        put_bytes(b, list, sizeof list);
    }
}

static void test_rows(void **st)
{
    (void)st;
    ce_buf b = CE_BUF_INIT;
    build_rows(&b);
    cql_msg m = msg_of(&b, CQL_OP_RESULT);
    cql_result *r;
    char err[128] = "";
    assert_int_equal(cql_result_parse(&m, 5, NULL, &r, err, sizeof err), CE_OK);
    assert_null(m.body);
    assert_int_equal(cql_result_kind_of(r), CQL_RESULT_ROWS);
    assert_int_equal(cql_result_column_count(r), 3);
    assert_string_equal(cql_result_column_name(r, 1), "name");
    assert_int_equal(cql_result_column_index(r, "tags"), 2);
    assert_int_equal(cql_result_column_index(r, "nope"), -1);
    assert_int_equal(cql_result_column_type(r, 2)->kind, CQL_T_LIST);
    assert_int_equal(cql_result_column_type(r, 2)->sub[0]->kind, CQL_T_INT);
    assert_int_equal(cql_result_row_count(r), 3);
    cql_value v = cql_result_cell(r, 0, 1);
    assert_int_equal(v.len, 5);
    assert_memory_equal(v.ptr, "alice", 5);
    v = cql_result_cell(r, 1, 1);
    assert_int_equal(v.len, CQL_NULL);
    v = cql_result_cell(r, 2, 0);
    assert_int_equal(v.len, 4);
    assert_int_equal(v.ptr[3], 3);
    v = cql_result_cell(r, 9, 0); /* out of range: null */
    assert_int_equal(v.len, CQL_NULL);
    assert_true(cql_result_has_more_pages(r));
    v = cql_result_paging_state(r);
    assert_int_equal(v.len, 2);
    assert_memory_equal(v.ptr, "PS", 2);
    cql_result_free(r);
    ce_buf_free(&b);
}

static void test_rows_truncated_everywhere(void **st)
{
    (void)st;
    ce_buf b = CE_BUF_INIT;
    build_rows(&b);
    for (size_t n = 0; n < b.len; n++) {
        ce_buf t = CE_BUF_INIT;
        ce_buf_append(&t, b.data, n);
        cql_msg m = msg_of(&t, CQL_OP_RESULT);
        cql_result *r = NULL;
        assert_int_not_equal(cql_result_parse(&m, 5, NULL, &r, NULL, 0), CE_OK);
        assert_null(r);
        ce_buf_free(&t);
    }
    ce_buf_free(&b);
}

/* Issue 11: a column count the rest of the body cannot hold is refused (CE_EPROTO)
 * before anything is allocated for it, with and without a global table spec. */
static void test_rows_column_count_bound(void **st)
{
    (void)st;
    const uint32_t counts[] = {0x7fffffff, 1000000, 6};
    for (int global = 0; global < 2; global++) {
        for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
            ce_buf b = CE_BUF_INIT;
            ce_buf_put_u32(&b, CQL_RESULT_ROWS);
            ce_buf_put_u32(&b, global ? 0x0001 : 0);
            ce_buf_put_u32(&b, counts[k]);
            if (global) {
                put_str(&b, "ks");
                put_str(&b, "tab");
            }
            /* 24 bytes: what 6 columns need with a global spec (4 each), not without (8) */
            for (int i = 0; i < 6; i++) {
                put_str(&b, "");
                ce_buf_put_u16(&b, CQL_T_INT);
            }
            ce_buf_put_u32(&b, 0); /* no rows */
            cql_msg m = msg_of(&b, CQL_OP_RESULT);
            cql_result *r = NULL;
            ce_err e = cql_result_parse(&m, 5, NULL, &r, NULL, 0);
            if (global && counts[k] == 6) {
                assert_int_equal(e, CE_OK);
                assert_int_equal(cql_result_column_count(r), 6);
                cql_result_free(r);
            } else {
                assert_int_equal(e, CE_EPROTO);
                assert_null(r);
            }
            ce_buf_free(&b);
        }
    }
}

static void test_rows_skip_metadata(void **st)
{
    (void)st;
    /* prepared metadata from a rows fixture, then a no-metadata page */
    ce_buf b = CE_BUF_INIT;
    build_rows(&b);
    cql_msg m = msg_of(&b, CQL_OP_RESULT);
    cql_result *full;
    assert_int_equal(cql_result_parse(&m, 5, NULL, &full, NULL, 0), CE_OK);
    ce_buf_reset(&b);
    ce_buf_put_u32(&b, CQL_RESULT_ROWS);
    ce_buf_put_u32(&b, 0x0004);
    ce_buf_put_u32(&b, 3);
    ce_buf_put_u32(&b, 1);
    put_bytes(&b, "\0\0\0\x09", 4);
    put_bytes(&b, "x", 1);
    ce_buf_put_u32(&b, (uint32_t)-1);
    m = msg_of(&b, CQL_OP_RESULT);
    cql_result *r;
    assert_int_equal(cql_result_parse(&m, 5, full->cols, &r, NULL, 0), CE_OK);
    assert_int_equal(cql_result_row_count(r), 1);
    assert_string_equal(cql_result_column_name(r, 0), "id");
    assert_int_equal(cql_result_cell(r, 0, 0).ptr[3], 9);
    assert_false(cql_result_has_more_pages(r));
    cql_result_free(r);
    /* without metadata to use it is an error */
    m = msg_of(&b, CQL_OP_RESULT);
    char err[128] = "";
    assert_int_equal(cql_result_parse(&m, 5, NULL, &r, err, sizeof err), CE_EPROTO);
    assert_true(strlen(err) > 0);
    cql_result_free(full);
    ce_buf_free(&b);
}

static void test_complex_types(void **st)
{
    (void)st;
    ce_buf b = CE_BUF_INIT;
    ce_buf_put_u32(&b, CQL_RESULT_ROWS);
    ce_buf_put_u32(&b, 0x0001);
    ce_buf_put_u32(&b, 4);
    put_str(&b, "ks");
    put_str(&b, "t");
    put_str(&b, "m");
    ce_buf_put_u16(&b, CQL_T_MAP);
    ce_buf_put_u16(&b, CQL_T_VARCHAR);
    ce_buf_put_u16(&b, CQL_T_SET);
    ce_buf_put_u16(&b, CQL_T_UUID);
    put_str(&b, "u");
    ce_buf_put_u16(&b, CQL_T_UDT);
    put_str(&b, "ks");
    put_str(&b, "addr");
    ce_buf_put_u16(&b, 2);
    put_str(&b, "street");
    ce_buf_put_u16(&b, CQL_T_VARCHAR);
    put_str(&b, "zip");
    ce_buf_put_u16(&b, CQL_T_INT);
    put_str(&b, "tu");
    ce_buf_put_u16(&b, CQL_T_TUPLE);
    ce_buf_put_u16(&b, 2);
    ce_buf_put_u16(&b, CQL_T_BIGINT);
    ce_buf_put_u16(&b, CQL_T_BLOB);
    put_str(&b, "vec");
    ce_buf_put_u16(&b, CQL_T_CUSTOM);
    put_str(&b, "org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.FloatType, 3)");
    ce_buf_put_u32(&b, 0);
    cql_msg m = msg_of(&b, CQL_OP_RESULT);
    cql_result *r;
    assert_int_equal(cql_result_parse(&m, 5, NULL, &r, NULL, 0), CE_OK);
    const cql_type *t = cql_result_column_type(r, 0);
    assert_int_equal(t->kind, CQL_T_MAP);
    assert_int_equal(t->nsub, 2);
    assert_int_equal(t->sub[1]->kind, CQL_T_SET);
    assert_int_equal(t->sub[1]->sub[0]->kind, CQL_T_UUID);
    t = cql_result_column_type(r, 1);
    assert_int_equal(t->kind, CQL_T_UDT);
    assert_string_equal(t->name, "addr");
    assert_string_equal(t->keyspace, "ks");
    assert_int_equal(t->nsub, 2);
    assert_string_equal(t->field_names[1], "zip");
    t = cql_result_column_type(r, 2);
    assert_int_equal(t->kind, CQL_T_TUPLE);
    assert_int_equal(t->sub[1]->kind, CQL_T_BLOB);
    t = cql_result_column_type(r, 3);
    assert_int_equal(t->kind, CQL_T_VECTOR);
    assert_int_equal(t->dimension, 3);
    assert_int_equal(t->sub[0]->kind, CQL_T_FLOAT);
    assert_int_equal(cql_result_row_count(r), 0);
    cql_result_free(r);
    ce_buf_free(&b);
}

static void test_type_depth_limit(void **st)
{
    (void)st;
    ce_buf b = CE_BUF_INIT;
    for (int i = 0; i < 100; i++)
        ce_buf_put_u16(&b, CQL_T_LIST);
    ce_buf_put_u16(&b, CQL_T_INT);
    cql_rd r;
    cql_rd_init(&r, (const uint8_t *)b.data, b.len);
    cql_type *t = NULL;
    assert_int_equal(cql_type_read(&r, 0, &t), CE_ELIMIT);
    assert_null(t);
    /* unknown type id */
    ce_buf_reset(&b);
    ce_buf_put_u16(&b, 0x0077);
    cql_rd_init(&r, (const uint8_t *)b.data, b.len);
    assert_int_equal(cql_type_read(&r, 0, &t), CE_EPROTO);
    ce_buf_free(&b);
}

static void build_prepared(ce_buf *b, int version)
{
    ce_buf_put_u32(b, CQL_RESULT_PREPARED);
    ce_buf_put_u16(b, 4);
    ce_buf_append(b, "\x01\x02\x03\x04", 4);
    if (version >= 5) {
        ce_buf_put_u16(b, 2);
        ce_buf_append(b, "\xaa\xbb", 2);
    }
    ce_buf_put_u32(b, 0x0001);
    ce_buf_put_u32(b, 2);
    ce_buf_put_u32(b, 2); /* two pk components: bind markers 1 and 0 */
    ce_buf_put_u16(b, 1);
    ce_buf_put_u16(b, 0);
    put_str(b, "ks");
    put_str(b, "t");
    put_str(b, "b");
    ce_buf_put_u16(b, CQL_T_VARCHAR);
    put_str(b, "a");
    ce_buf_put_u16(b, CQL_T_INT);
    /* result metadata: one column */
    ce_buf_put_u32(b, 0x0001);
    ce_buf_put_u32(b, 1);
    put_str(b, "ks");
    put_str(b, "t");
    put_str(b, "v");
    ce_buf_put_u16(b, CQL_T_DOUBLE);
}

static void test_prepared_v4_v5(void **st)
{
    (void)st;
    for (int v = 4; v <= 5; v++) {
        ce_buf b = CE_BUF_INIT;
        build_prepared(&b, v);
        cql_msg m = msg_of(&b, CQL_OP_RESULT);
        cql_result *r;
        assert_int_equal(cql_result_parse(&m, v, NULL, &r, NULL, 0), CE_OK);
        assert_int_equal(r->kind, CQL_RESULT_PREPARED);
        assert_int_equal(r->prepared_id.len, 4);
        assert_int_equal(r->prepared_id.ptr[3], 4);
        if (v == 5)
            assert_int_equal(r->result_metadata_id.len, 2);
        else
            assert_null(r->result_metadata_id.ptr);
        assert_int_equal(r->bind_cols.ncols, 2);
        assert_int_equal(r->bind_cols.npk, 2);
        assert_int_equal(r->bind_cols.pk_index[0], 1);
        assert_string_equal(r->bind_cols.cols[1].name, "a");
        assert_int_equal(r->own_cols.ncols, 1);
        assert_int_equal(r->own_cols.cols[0].type->kind, CQL_T_DOUBLE);
        cql_result_free(r);
        for (size_t n = 0; n < b.len; n++) {
            ce_buf t = CE_BUF_INIT;
            ce_buf_append(&t, b.data, n);
            m = msg_of(&t, CQL_OP_RESULT);
            assert_int_not_equal(cql_result_parse(&m, v, NULL, &r, NULL, 0), CE_OK);
            ce_buf_free(&t);
        }
        ce_buf_free(&b);
    }
}

static void test_keyspace_and_schema_change(void **st)
{
    (void)st;
    ce_buf b = CE_BUF_INIT;
    ce_buf_put_u32(&b, CQL_RESULT_SET_KEYSPACE);
    put_str(&b, "shop");
    cql_msg m = msg_of(&b, CQL_OP_RESULT);
    cql_result *r;
    assert_int_equal(cql_result_parse(&m, 4, NULL, &r, NULL, 0), CE_OK);
    assert_string_equal(cql_result_keyspace(r), "shop");
    cql_result_free(r);
    ce_buf_reset(&b);
    ce_buf_put_u32(&b, CQL_RESULT_SCHEMA_CHANGE);
    put_str(&b, "CREATED");
    put_str(&b, "TABLE");
    put_str(&b, "shop");
    put_str(&b, "orders");
    m = msg_of(&b, CQL_OP_RESULT);
    assert_int_equal(cql_result_parse(&m, 4, NULL, &r, NULL, 0), CE_OK);
    const char *target, *object;
    assert_string_equal(cql_result_schema_change(r, &target, &object), "CREATED");
    assert_string_equal(target, "TABLE");
    assert_string_equal(object, "orders");
    cql_result_free(r);
    ce_buf_reset(&b);
    ce_buf_put_u32(&b, CQL_RESULT_SCHEMA_CHANGE);
    put_str(&b, "DROPPED");
    put_str(&b, "KEYSPACE");
    put_str(&b, "shop");
    m = msg_of(&b, CQL_OP_RESULT);
    assert_int_equal(cql_result_parse(&m, 4, NULL, &r, NULL, 0), CE_OK);
    cql_result_schema_change(r, &target, &object);
    assert_string_equal(object, "");
    cql_result_free(r);
    /* void with a warning and tracing prefix */
    ce_buf_reset(&b);
    ce_buf_append(&b, "0123456789abcdef", 16);
    ce_buf_put_u16(&b, 1);
    put_str(&b, "batch too large");
    ce_buf_put_u32(&b, CQL_RESULT_VOID);
    m = msg_of(&b, CQL_OP_RESULT);
    m.flags = CQL_FLAG_TRACING | CQL_FLAG_WARNING;
    assert_int_equal(cql_result_parse(&m, 4, NULL, &r, NULL, 0), CE_OK);
    assert_int_equal(cql_result_kind_of(r), CQL_RESULT_VOID);
    assert_int_equal(r->nwarnings, 1);
    cql_result_free(r);
    /* unknown kind */
    ce_buf_reset(&b);
    ce_buf_put_u32(&b, 99);
    m = msg_of(&b, CQL_OP_RESULT);
    assert_int_equal(cql_result_parse(&m, 4, NULL, &r, NULL, 0), CE_EPROTO);
    ce_buf_free(&b);
}

static cql_error_info parse_err(const ce_buf *b, int version, ce_err want)
{
    cql_msg m = msg_of(b, CQL_OP_ERROR);
    cql_error_info info;
    cql_value id = {NULL, 0};
    assert_int_equal(cql_error_parse(&m, version, &info, &id), want);
    if (info.code == 0x2500 && want == CE_OK) {
        assert_int_equal(id.len, 3);
    }
    cql_msg_clear(&m);
    return info;
}

static void test_errors(void **st)
{
    (void)st;
    ce_buf b = CE_BUF_INIT;
    /* Unavailable */
    ce_buf_put_u32(&b, 0x1000);
    put_str(&b, "Cannot achieve consistency level QUORUM");
    ce_buf_put_u16(&b, CQL_CONSISTENCY_QUORUM);
    ce_buf_put_u32(&b, 2);
    ce_buf_put_u32(&b, 1);
    cql_error_info i = parse_err(&b, 5, CE_OK);
    assert_int_equal(i.code, 0x1000);
    assert_int_equal(i.consistency, CQL_CONSISTENCY_QUORUM);
    assert_int_equal(i.required, 2);
    assert_int_equal(i.received, 1);
    assert_string_equal(i.message, "Cannot achieve consistency level QUORUM");
    /* Write timeout */
    ce_buf_reset(&b);
    ce_buf_put_u32(&b, 0x1100);
    put_str(&b, "wt");
    ce_buf_put_u16(&b, CQL_CONSISTENCY_ONE);
    ce_buf_put_u32(&b, 0);
    ce_buf_put_u32(&b, 1);
    put_str(&b, "SIMPLE");
    i = parse_err(&b, 5, CE_OK);
    assert_string_equal(i.write_type, "SIMPLE");
    assert_int_equal(i.block_for, 1);
    /* Read timeout */
    ce_buf_reset(&b);
    ce_buf_put_u32(&b, 0x1200);
    put_str(&b, "rt");
    ce_buf_put_u16(&b, CQL_CONSISTENCY_ALL);
    ce_buf_put_u32(&b, 1);
    ce_buf_put_u32(&b, 3);
    ce_buf_put_u8(&b, 1);
    i = parse_err(&b, 4, CE_OK);
    assert_true(i.data_present);
    assert_int_equal(i.block_for, 3);
    /* Read failure, v5 reason map */
    ce_buf_reset(&b);
    ce_buf_put_u32(&b, 0x1300);
    put_str(&b, "rf");
    ce_buf_put_u16(&b, CQL_CONSISTENCY_ONE);
    ce_buf_put_u32(&b, 0);
    ce_buf_put_u32(&b, 1);
    ce_buf_put_u32(&b, 2);
    ce_buf_put_u8(&b, 4);
    ce_buf_append(&b, "\x7f\0\0\x01", 4);
    ce_buf_put_u16(&b, 1);
    ce_buf_put_u8(&b, 16);
    ce_buf_append(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    ce_buf_put_u16(&b, 2);
    ce_buf_put_u8(&b, 0);
    i = parse_err(&b, 5, CE_OK);
    assert_int_equal(i.num_failures, 2);
    assert_false(i.data_present);
    /* Write failure, v4 */
    ce_buf_reset(&b);
    ce_buf_put_u32(&b, 0x1500);
    put_str(&b, "wf");
    ce_buf_put_u16(&b, CQL_CONSISTENCY_ONE);
    ce_buf_put_u32(&b, 0);
    ce_buf_put_u32(&b, 1);
    ce_buf_put_u32(&b, 1);
    put_str(&b, "BATCH");
    i = parse_err(&b, 4, CE_OK);
    assert_int_equal(i.num_failures, 1);
    assert_string_equal(i.write_type, "BATCH");
    /* Already exists */
    ce_buf_reset(&b);
    ce_buf_put_u32(&b, 0x2400);
    put_str(&b, "exists");
    put_str(&b, "shop");
    put_str(&b, "orders");
    i = parse_err(&b, 5, CE_OK);
    assert_string_equal(i.keyspace, "shop");
    assert_string_equal(i.table, "orders");
    /* Unprepared */
    ce_buf_reset(&b);
    ce_buf_put_u32(&b, 0x2500);
    put_str(&b, "unprepared");
    ce_buf_put_u16(&b, 3);
    ce_buf_append(&b, "abc", 3);
    i = parse_err(&b, 5, CE_OK);
    assert_int_equal(i.code, 0x2500);
    /* Syntax error, no details; Overloaded */
    ce_buf_reset(&b);
    ce_buf_put_u32(&b, 0x2000);
    put_str(&b, "line 1:0 no viable alternative");
    i = parse_err(&b, 5, CE_OK);
    assert_int_equal(i.code, 0x2000);
    /* truncated: every prefix of a detailed error fails cleanly */
    ce_buf_reset(&b);
    ce_buf_put_u32(&b, 0x1000);
    put_str(&b, "x");
    ce_buf_put_u16(&b, 1);
    ce_buf_put_u32(&b, 2);
    ce_buf_put_u32(&b, 1);
    for (size_t n = 0; n < b.len; n++) {
        ce_buf t = CE_BUF_INIT;
        ce_buf_append(&t, b.data, n);
        parse_err(&t, 5, CE_EPROTO);
        ce_buf_free(&t);
    }
    ce_buf_free(&b);
}

static void test_supported_event_authenticate(void **st)
{
    (void)st;
    ce_buf b = CE_BUF_INIT;
    ce_buf_put_u16(&b, 2);
    put_str(&b, "CQL_VERSION");
    ce_buf_put_u16(&b, 1);
    put_str(&b, "3.4.7");
    put_str(&b, "COMPRESSION");
    ce_buf_put_u16(&b, 2);
    put_str(&b, "snappy");
    put_str(&b, "lz4");
    cql_msg m = msg_of(&b, CQL_OP_SUPPORTED);
    assert_true(cql_supported_has(&m, "COMPRESSION", "lz4"));
    assert_false(cql_supported_has(&m, "COMPRESSION", "zstd"));
    cql_msg_clear(&m);
    ce_buf_reset(&b);
    put_str(&b, "STATUS_CHANGE");
    put_str(&b, "DOWN");
    ce_buf_put_u8(&b, 4);
    ce_buf_append(&b, "\x7f\0\0\x02", 4);
    ce_buf_put_u32(&b, 9042);
    m = msg_of(&b, CQL_OP_EVENT);
    cql_event ev;
    assert_int_equal(cql_event_parse(&m, &ev), CE_OK);
    assert_string_equal(ev.type, "STATUS_CHANGE");
    assert_string_equal(ev.change, "DOWN");
    assert_string_equal(ev.addr, "127.0.0.2");
    assert_int_equal(ev.port, 9042);
    cql_msg_clear(&m);
    ce_buf_reset(&b);
    put_str(&b, "org.apache.cassandra.auth.PasswordAuthenticator");
    m = msg_of(&b, CQL_OP_AUTHENTICATE);
    char cls[128];
    assert_int_equal(cql_authenticate_parse(&m, cls, sizeof cls), CE_OK);
    assert_string_equal(cls, "org.apache.cassandra.auth.PasswordAuthenticator");
    cql_msg_clear(&m);
    ce_buf_free(&b);
}

static void test_request_encoders(void **st)
{
    (void)st;
    ce_buf b = CE_BUF_INIT;
    /* QUERY v4: long string, consistency, byte flags, values, page size, paging, serial, timestamp */
    uint8_t v1[] = {0, 0, 0, 7};
    cql_value vals[3] = {{v1, 4}, {NULL, CQL_NULL}, {NULL, CQL_UNSET}};
    cql_query_opts q;
    cql_query_opts_init(&q);
    q.consistency = CQL_CONSISTENCY_QUORUM;
    q.page_size = 100;
    q.paging_state.ptr = (const uint8_t *)"ps";
    q.paging_state.len = 2;
    q.serial_consistency = CQL_CONSISTENCY_LOCAL_SERIAL;
    q.timestamp = 1234567;
    cql_params p = {vals, 3, NULL, false, &q};
    assert_int_equal(cql_msg_query(&b, 4, "SELECT 1", 8, &p), CE_OK);
    static const uint8_t want4[] = {0, 0, 0, 8, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0, 4, 0x01 | 0x04 | 0x08 | 0x10 | 0x20,
                                    0, 3, 0, 0, 0, 4, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                                    0, 0, 0, 100, 0, 0, 0, 2, 'p', 's', 0, 9, 0, 0, 0, 0, 0, 0x12, 0xd6, 0x87};
    assert_int_equal(b.len, sizeof want4);
    assert_memory_equal(b.data, want4, sizeof want4);
    /* v5: int flags, keyspace flag, names */
    ce_buf_reset(&b);
    const char *names[1] = {"id"};
    cql_query_opts q5;
    cql_query_opts_init(&q5);
    q5.keyspace = "ks";
    cql_params p5 = {vals, 1, names, true, &q5};
    assert_int_equal(cql_msg_query(&b, 5, "X", 1, &p5), CE_OK);
    static const uint8_t want5[] = {0, 0, 0, 1, 'X', 0, CQL_CONSISTENCY_LOCAL_ONE, 0, 0, 0, 0x01 | 0x02 | 0x40 | 0x80,
                                    0, 1, 0, 2, 'i', 'd', 0, 0, 0, 4, 0, 0, 0, 7, 0, 2, 'k', 's'};
    assert_int_equal(b.len, sizeof want5);
    assert_memory_equal(b.data, want5, sizeof want5);
    /* EXECUTE v5 carries the result metadata id */
    ce_buf_reset(&b);
    cql_params pe = {NULL, 0, NULL, false, NULL};
    assert_int_equal(cql_msg_execute(&b, 5, (const uint8_t *)"ID", 2, (const uint8_t *)"M", 1, &pe), CE_OK);
    static const uint8_t wante[] = {0, 2, 'I', 'D', 0, 1, 'M', 0, 1, 0, 0, 0, 0};
    assert_int_equal(b.len, sizeof wante);
    assert_memory_equal(b.data, wante, sizeof wante);
    /* BATCH v4 */
    ce_buf_reset(&b);
    cql_batch_entry en[2] = {{(const uint8_t *)"ID", 2, NULL, vals, 1}, {NULL, 0, "Q", NULL, 0}};
    assert_int_equal(cql_msg_batch(&b, 4, 1, en, 2, NULL), CE_OK);
    static const uint8_t wantb[] = {1, 0, 2, 1, 0, 2, 'I', 'D', 0, 1, 0, 0, 0, 4, 0, 0, 0, 7,
                                    0, 0, 0, 0, 1, 'Q', 0, 0, 0, 1, 0};
    assert_int_equal(b.len, sizeof wantb);
    assert_memory_equal(b.data, wantb, sizeof wantb);
    /* AUTH_RESPONSE PLAIN */
    ce_buf_reset(&b);
    assert_int_equal(cql_msg_auth_plain(&b, "u", "pw"), CE_OK);
    assert_memory_equal(b.data, "\0\0\0\x05\0u\0pw", 9);
    /* invalid value length */
    ce_buf_reset(&b);
    cql_value bad = {NULL, -5};
    assert_int_equal(cql_wr_value(&b, bad), CE_EINVAL);
    ce_buf_free(&b);
}

/* Agreement: every host answered, with the same version; a null, missing or different one
 * (or no host at all) is not agreement. */
static void test_schema_versions_agree(void **state)
{
    (void)state;
    static const uint8_t a[16] = {1, 2, 3}, a2[16] = {1, 2, 3}, b[16] = {1, 2, 4};
    cql_value same[3] = {{a, 16}, {a2, 16}, {a, 16}};
    assert_true(cql_schema_versions_agree(same, 3));
    assert_true(cql_schema_versions_agree(same, 1));
    assert_false(cql_schema_versions_agree(same, 0));
    cql_value differ[3] = {{a, 16}, {a2, 16}, {b, 16}};
    assert_false(cql_schema_versions_agree(differ, 3));
    cql_value missing[2] = {{a, 16}, {NULL, -1}};
    assert_false(cql_schema_versions_agree(missing, 2));
    cql_value first_null[2] = {{NULL, -1}, {NULL, -1}};
    assert_false(cql_schema_versions_agree(first_null, 2));
    cql_value shorter[2] = {{a, 16}, {a, 15}};
    assert_false(cql_schema_versions_agree(shorter, 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_rows_truncated_everywhere),
        cmocka_unit_test(test_rows_column_count_bound),
        cmocka_unit_test(test_rows_skip_metadata),
        cmocka_unit_test(test_complex_types),
        cmocka_unit_test(test_type_depth_limit),
        cmocka_unit_test(test_prepared_v4_v5),
        cmocka_unit_test(test_keyspace_and_schema_change),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_supported_event_authenticate),
        cmocka_unit_test(test_request_encoders),
        cmocka_unit_test(test_schema_versions_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
