/* test_sync_seqno.c - the seq_no capture mode's pure parts: the per-shard positions kept in
 * the checkpoint's extra (encode/decode, malformed texts), the decision between a by-shard
 * read and a full read, and the codec of the servers' shard answers (es_index_seqnos_parse)
 * from fixtures shaped like OpenSearch 2.19's and Elasticsearch 8.17's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sync/e2c_int.h"

static void test_checkpoint_round_trip(void **st)
{
    (void)st;
    sync_shard_position sh[3] = {{-1, 1}, {41, 2}, {9007199254740993LL, 7}};
    sync_seqno_checkpoint cp = {.nshards = 3, .shards = sh};
    strcpy(cp.index_uuid, "Vlegi7GtRe6aDKSJmqS1cA");
    ce_buf b = CE_BUF_INIT;
    assert_int_equal(sync_seqno_checkpoint_encode(&cp, &b), CE_OK);
    assert_string_equal(ce_buf_cstr(&b), "{\"index_uuid\":\"Vlegi7GtRe6aDKSJmqS1cA\",\"shards\":[{\"seq_no\":-1,"
                                         "\"primary_term\":1},{\"seq_no\":41,\"primary_term\":2},{\"seq_no\":"
                                         "9007199254740993,\"primary_term\":7}]}");
    sync_seqno_checkpoint back;
    assert_int_equal(sync_seqno_checkpoint_decode(ce_buf_cstr(&b), &back), CE_OK);
    assert_string_equal(back.index_uuid, cp.index_uuid);
    assert_int_equal(back.nshards, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(back.shards[i].seq_no, sh[i].seq_no);
        assert_int_equal(back.shards[i].primary_term, sh[i].primary_term);
    }
    sync_seqno_checkpoint_free(&back);
    sync_seqno_checkpoint_free(NULL);
    ce_buf_free(&b);
}

static void test_checkpoint_malformed(void **st)
{
    (void)st;
    static const struct {
        const char *text;
        ce_err want;
    } cases[] = {
        {NULL, CE_ENOTFOUND},
        {"{}", CE_ENOTFOUND},                                  /* another mode's extra */
        {"{\"ranges\":[1,2]}", CE_ENOTFOUND},
        {"{\"index_uuid\":\"u\",\"shards\":{}}", CE_ENOTFOUND},
        {"{\"index_uuid\":\"u\",\"shards\":[{\"seq_no\":1,\"primary_term\":1}", CE_EJSON}, /* cut */
        {"[1", CE_EJSON},
        {"{\"shards\":[{\"seq_no\":1,\"primary_term\":1}]}", CE_EPROTO},           /* no uuid */
        {"{\"index_uuid\":\"u\",\"shards\":[]}", CE_EPROTO},
        {"{\"index_uuid\":\"u\",\"shards\":[{\"seq_no\":\"1\",\"primary_term\":1}]}", CE_EPROTO},
        {"{\"index_uuid\":\"u\",\"shards\":[{\"seq_no\":1}]}", CE_EPROTO},
        {"{\"index_uuid\":\"u\",\"shards\":[{\"seq_no\":1,\"primary_term\":1},7]}", CE_EPROTO},
        {"{\"index_uuid\":\"0123456789012345678901234567890123456789012345678901234567890123456789\","
         "\"shards\":[{\"seq_no\":1,\"primary_term\":1}]}",
         CE_EPROTO},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sync_seqno_checkpoint cp;
        ce_err e = sync_seqno_checkpoint_decode(cases[i].text, &cp);
        if (e != cases[i].want)
            fail_msg("case %zu (%s): got %s, want %s", i, cases[i].text ? cases[i].text : "NULL", ce_errname(e),
                     ce_errname(cases[i].want));
        assert_int_equal(cp.nshards, 0);
        assert_null(cp.shards);
    }
}

static void test_decide(void **st)
{
    (void)st;
    sync_shard_position saved_sh[3] = {{10, 1}, {20, 1}, {30, 2}};
    sync_seqno_checkpoint saved = {.nshards = 3, .shards = saved_sh};
    strcpy(saved.index_uuid, "A");
    es_shard_seqno now_sh[3] = {{15, 1}, {20, 1}, {31, 2}};
    es_index_seqnos now = {.nshards = 3, .shards = now_sh};
    strcpy(now.uuid, "A");
    size_t shard = 99;
    assert_int_equal(sync_seqno_decide(&saved, false, &now, &shard), SYNC_SEQNO_BY_SHARD);
    assert_int_equal(sync_seqno_decide(NULL, false, &now, &shard), SYNC_SEQNO_FULL_NO_CHECKPOINT);
    sync_seqno_checkpoint none = {.nshards = 0};
    assert_int_equal(sync_seqno_decide(&none, false, &now, &shard), SYNC_SEQNO_FULL_NO_CHECKPOINT);
    assert_int_equal(sync_seqno_decide(&saved, true, &now, &shard), SYNC_SEQNO_FULL_SINCE);
    /* a new primary term on shard 2 */
    now_sh[2].primary_term = 3;
    assert_int_equal(sync_seqno_decide(&saved, false, &now, &shard), SYNC_SEQNO_FULL_PRIMARY_TERM);
    assert_int_equal(shard, 2);
    /* a changed shard count wins over terms; a new uuid over both */
    now.nshards = 2;
    assert_int_equal(sync_seqno_decide(&saved, false, &now, &shard), SYNC_SEQNO_FULL_SHARD_COUNT);
    strcpy(now.uuid, "B");
    assert_int_equal(sync_seqno_decide(&saved, false, &now, &shard), SYNC_SEQNO_FULL_NEW_INDEX);
    assert_string_equal(sync_seqno_start_text(SYNC_SEQNO_BY_SHARD), "");
    assert_non_null(strstr(sync_seqno_start_text(SYNC_SEQNO_FULL_NEW_INDEX), "re-created"));
}

#define STATE_OK                                                                                         \
    "{\"metadata\":{\"indices\":{\"ix\":{\"settings\":{\"index\":{\"number_of_shards\":\"3\",\"uuid\":" \
    "\"U1\"}},\"primary_terms\":{\"0\":1,\"1\":3,\"2\":1}}}}}"

static ce_err parse(const char *state, const char *stats, es_index_seqnos *out, char *why)
{
    return es_index_seqnos_parse(state, strlen(state), stats, strlen(stats), out, why, 200);
}

static void test_shard_answers(void **st)
{
    (void)st;
    /* a replica listed first: the primary's global checkpoint counts */
    const char *stats =
        "{\"indices\":{\"ix\":{\"uuid\":\"U1\",\"shards\":{"
        "\"0\":[{\"routing\":{\"primary\":true},\"seq_no\":{\"max_seq_no\":1,\"local_checkpoint\":1,"
        "\"global_checkpoint\":1}}],"
        "\"1\":[{\"routing\":{\"primary\":false},\"seq_no\":{\"global_checkpoint\":5}},"
        "{\"routing\":{\"primary\":true},\"seq_no\":{\"global_checkpoint\":6}}],"
        "\"2\":[{\"routing\":{\"primary\":true},\"seq_no\":{\"max_seq_no\":-1,\"global_checkpoint\":-1}}]}}}}";
    es_index_seqnos s;
    char why[200];
    assert_int_equal(parse(STATE_OK, stats, &s, why), CE_OK);
    assert_string_equal(s.uuid, "U1");
    assert_int_equal(s.nshards, 3);
    assert_int_equal(s.shards[0].global_checkpoint, 1);
    assert_int_equal(s.shards[1].global_checkpoint, 6);
    assert_int_equal(s.shards[1].primary_term, 3);
    assert_int_equal(s.shards[2].global_checkpoint, -1);
    es_index_seqnos_free(&s);
    es_index_seqnos_free(NULL);
}

static void test_shard_answers_refused(void **st)
{
    (void)st;
    const char *good_stats = "{\"indices\":{\"ix\":{\"uuid\":\"U1\",\"shards\":{"
                             "\"0\":[{\"routing\":{\"primary\":true},\"seq_no\":{\"global_checkpoint\":1}}],"
                             "\"1\":[{\"routing\":{\"primary\":true},\"seq_no\":{\"global_checkpoint\":1}}],"
                             "\"2\":[{\"routing\":{\"primary\":true},\"seq_no\":{\"global_checkpoint\":1}}]}}}}";
    static const struct {
        const char *state, *stats;
        ce_err want;
        const char *why;
    } cases[] = {
        {"{}", NULL, CE_EPROTO, "not exactly one index"},
        {"{\"metadata\":{\"indices\":{\"a\":{},\"b\":{}}}}", NULL, CE_EPROTO, "not exactly one index"},
        {"{\"metadata\":", NULL, CE_EJSON, "malformed"},
        {"{\"metadata\":{\"indices\":{\"ix\":{\"settings\":{\"index\":{\"number_of_shards\":\"x\",\"uuid\":\"U1\"}}}}}}",
         NULL, CE_EPROTO, "number_of_shards"},
        {"{\"metadata\":{\"indices\":{\"ix\":{\"settings\":{\"index\":{\"number_of_shards\":\"3\",\"uuid\":\"U1\"}},"
         "\"primary_terms\":{\"0\":1,\"1\":1}}}}}",
         NULL, CE_EPROTO, "primary term for shard 2"},
        {STATE_OK, "{\"indices\":{\"ix\":{\"uuid\":\"U2\",\"shards\":{}}}}", CE_EPROTO, "another index uuid"},
        {STATE_OK,
         "{\"indices\":{\"ix\":{\"uuid\":\"U1\",\"shards\":{"
         "\"0\":[{\"routing\":{\"primary\":true},\"seq_no\":{\"global_checkpoint\":1}}],"
         "\"1\":[{\"routing\":{\"primary\":false},\"seq_no\":{\"global_checkpoint\":1}}],"
         "\"2\":[{\"routing\":{\"primary\":true},\"seq_no\":{\"global_checkpoint\":1}}]}}}}",
         CE_EPROTO, "for shard 1"},
        {STATE_OK,
         "{\"indices\":{\"ix\":{\"uuid\":\"U1\",\"shards\":{"
         "\"0\":[{\"routing\":{\"primary\":true},\"seq_no\":{\"global_checkpoint\":1}}],"
         "\"1\":[{\"routing\":{\"primary\":true},\"seq_no\":{\"global_checkpoint\":-2}}],"
         "\"2\":[{\"routing\":{\"primary\":true},\"seq_no\":{\"global_checkpoint\":1}}]}}}}",
         CE_EPROTO, "for shard 1"},
        {STATE_OK, "{\"indices\":{}}", CE_EPROTO, "not exactly one index"},
        {STATE_OK, "[", CE_EJSON, "malformed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        es_index_seqnos s;
        char why[200] = "";
        ce_err e = parse(cases[i].state, cases[i].stats ? cases[i].stats : good_stats, &s, why);
        if (e != cases[i].want || !strstr(why, cases[i].why))
            fail_msg("case %zu: got %s (%s), want %s (%s)", i, ce_errname(e), why, ce_errname(cases[i].want),
                     cases[i].why);
        assert_int_equal(s.nshards, 0);
        assert_null(s.shards);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint_round_trip), cmocka_unit_test(test_checkpoint_malformed),
        cmocka_unit_test(test_decide),                cmocka_unit_test(test_shard_answers),
        cmocka_unit_test(test_shard_answers_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
