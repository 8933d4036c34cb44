/* test_sync_verify.c - the pure parts of `verify`: order-independent summaries, tokens to
 * ranges, _id -> partition key token, the token field of C->E documents, the progress
 * file's path, records marked deleted (fixtures only, no server). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include "sync/state.h"
#include "sync/verify_int.h"

static void test_sum_is_order_independent(void **st)
{
    (void)st;
    verify_sum a = {0}, b = {0}, c = {0};
    verify_sum_add(&a, "1", 1, 10, 1);
    verify_sum_add(&a, "2", 1, 20, 2);
    verify_sum_add(&a, "3", 1, 30, 3);
    verify_sum_add(&b, "3", 1, 30, 3);
    verify_sum_add(&b, "1", 1, 10, 1);
    verify_sum_add(&b, "2", 1, 20, 2);
    assert_memory_equal(&a, &b, sizeof a);
    /* same count and version sum, versions swapped between ids: the hash tells */
    verify_sum_add(&c, "1", 1, 20, 1);
    verify_sum_add(&c, "2", 1, 10, 2);
    verify_sum_add(&c, "3", 1, 30, 3);
    assert_int_equal(a.count, c.count);
    assert_int_equal(a.vsum, c.vsum);
    assert_true(a.hash != c.hash);
    assert_true(a.mix != c.mix); /* and so does the token-version mix (aggregated ranges) */
}

/* verify_mix is Java's (Cassandra's CQL arithmetic, painless) truncating %: the values a
 * Cassandra 5 node answered for SELECT token(id) % P * (version % P) % P. */
static void test_mix_matches_cassandra(void **st)
{
    (void)st;
    assert_int_equal(verify_mix(-4069959284402364209LL, 9223372036854775000LL), -1670574880);
    assert_int_equal(verify_mix(-3248873570005575792LL, 9223372036854775000LL), -1332428731);
    assert_int_equal(verify_mix(9010454139840013625LL, -5), -1493359912);
    assert_int_equal(verify_mix(INT64_MIN, INT64_MIN), verify_mix(INT64_MIN % VERIFY_MIX_P, INT64_MIN));
    /* one id replaced by another with the same version: the token changes the mix */
    verify_sum a = {0}, b = {0};
    verify_sum_add(&a, "1", 1, 10, 111);
    verify_sum_add(&b, "2", 1, 10, 222);
    assert_true(a.mix != b.mix);
}

static void test_range_of(void **st)
{
    (void)st;
    verify_range r[3] = {{.start = INT64_MIN, .end = -100}, {.start = -100, .end = 0}, {.start = 0, .end = INT64_MAX}};
    verify_job j = {.ranges = r, .nranges = 3};
    assert_int_equal(verify_range_of(&j, INT64_MIN + 1), 0);
    assert_int_equal(verify_range_of(&j, -100), 0);
    assert_int_equal(verify_range_of(&j, -99), 1);
    assert_int_equal(verify_range_of(&j, 0), 1);
    assert_int_equal(verify_range_of(&j, 1), 2);
    assert_int_equal(verify_range_of(&j, INT64_MAX), 2);
}

static cql_type *ty(const char *text)
{
    cql_type *t = NULL;
    assert_int_equal(cql_type_parse(text, &t), CE_OK);
    return t;
}

static void test_id_token(void **st)
{
    (void)st;
    char na[] = "a", nb[] = "b", nc[] = "c";
    cql_column_meta cols[3] = {{.name = na, .role = CQL_COL_PARTITION_KEY},
                               {.name = nb, .role = CQL_COL_PARTITION_KEY},
                               {.name = nc, .role = CQL_COL_CLUSTERING}};
    cols[0].type = ty("text");
    cols[1].type = ty("int");
    cols[2].type = ty("int");
    cql_table_meta m = {.ncolumns = 3, .columns = cols, .npartition_keys = 2, .nclustering = 1};
    verify_job j = {0};
    j.tp.meta = &m;
    j.tp.nid = 3; /* _id = c:a:b (parts in id_col order) */
    j.npk = 2;
    j.pk_part[0] = 1;
    j.pk_part[1] = 2;
    ce_buf scratch = CE_BUF_INIT;
    int64_t tok = 0;
    assert_true(verify_id_token(&j, "5:x\\:y:7", 8, &tok, &scratch));
    const uint8_t seven[4] = {0, 0, 0, 7};
    cql_value comp[2] = {{(const uint8_t *)"x:y", 3}, {seven, 4}};
    int64_t want = 0;
    assert_true(cql_partition_token(comp, 2, &want));
    assert_true(tok == want);
    assert_false(verify_id_token(&j, "5:x", 3, &tok, &scratch));        /* too few parts */
    assert_false(verify_id_token(&j, "5:x:notanint", 12, &tok, &scratch));
    ce_buf_free(&scratch);
    for (int i = 0; i < 3; i++)
        cql_type_free(cols[i].type);
}

static void test_row_doc_token_field(void **st)
{
    (void)st;
    cql_type *it = ty("int");
    const char *names[] = {"id", "v"};
    const cql_type *types[] = {it, it};
    const uint8_t id[4] = {0, 0, 0, 42}, v[4] = {0, 0, 0, 1};
    cql_value cells[2] = {{id, 4}, {v, 4}};
    sync_rowmap m = {.ncols = 2, .names = names, .types = types, .nid = 1, .version_idx = 1, .source_idx = -1,
                     .wt_source_idx = -1, .wt_version_idx = -1, .wt_any_idx = -1, .token_field = "_t", .npk = 1};
    ce_buf doc = CE_BUF_INIT;
    assert_int_equal(sync_row_doc(&m, cells, &doc), CE_OK);
    char want[128];
    snprintf(want, sizeof want, "{\"id\":42,\"v\":1,\"_t\":%lld}", (long long)cql_murmur3_token(id, 4));
    assert_string_equal(ce_buf_cstr(&doc), want);
    ce_buf_free(&doc);
    cql_type_free(it);
}

static void test_progress_path(void **st)
{
    (void)st;
    ce_buf p = CE_BUF_INIT;
    assert_int_equal(sync_state_path(&p, "/s", SYNC_STATE_VERIFY, "a/b", NULL), CE_OK);
    assert_string_equal(ce_buf_cstr(&p), "/s/a%2Fb.verify.json");
    ce_buf_reset(&p);
    assert_int_equal(sync_state_path(&p, "/s", SYNC_STATE_VERIFY, NULL, NULL), CE_EINVAL);
    ce_buf_free(&p);
}

/* deleted_col: the mark as verify reads it, from doc values ({"f":[v]}) and from a row. */
static bool es_marked(const char *field, const char *fields_json)
{
    json_error_t je;
    json_t *fields = json_loads(fields_json, 0, &je);
    assert_non_null(fields);
    verify_job j = {.es_deleted_field = (char *)field};
    bool d = verify_es_doc_deleted(&j, fields);
    json_decref(fields);
    return d;
}

static void test_marked_records(void **st)
{
    (void)st;
    assert_true(es_marked("deleted", "{\"deleted\":[true]}"));
    assert_true(es_marked("deleted", "{\"deleted\":[\"true\"]}"));
    assert_true(es_marked("deleted_at", "{\"deleted_at\":[\"2026-12-01T23:00:00.000Z\"]}"));
    assert_true(es_marked("deleted_at", "{\"deleted_at\":[1764630000000]}"));
    assert_false(es_marked("deleted", "{\"deleted\":[false]}"));
    assert_false(es_marked("deleted", "{\"deleted\":[\"false\"]}"));
    assert_false(es_marked("deleted", "{\"deleted\":[\"\"]}"));
    assert_false(es_marked("deleted", "{\"deleted\":[]}"));
    assert_false(es_marked("deleted", "{\"version\":[3]}"));
    assert_false(es_marked(NULL, "{\"deleted\":[true]}")); /* no deleted_col: nothing marked */

    cql_type *b = ty("boolean");
    const cql_type *types[2] = {b, b};
    uint8_t t = 1, f = 0;
    cql_value cells[2] = {{.ptr = &f, .len = 1}, {.ptr = &t, .len = 1}};
    verify_job j = {.rm = {.ncols = 2, .types = types, .deleted_idx = -1}};
    assert_false(verify_cql_row_deleted(&j, cells));
    j.rm.deleted_idx = 1;
    assert_true(verify_cql_row_deleted(&j, cells));
    j.rm.deleted_idx = 0;
    assert_false(verify_cql_row_deleted(&j, cells));
    cql_type_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_is_order_independent),
        cmocka_unit_test(test_mix_matches_cassandra),
        cmocka_unit_test(test_range_of),
        cmocka_unit_test(test_id_token),
        cmocka_unit_test(test_row_doc_token_field),
        cmocka_unit_test(test_progress_path),
        cmocka_unit_test(test_marked_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
