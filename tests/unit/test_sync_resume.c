/* test_sync_resume.c - the saved progress of a resumable load: the codec in the
 * checkpoint's extra (round trip, other keys kept, malformed input refused), the validity
 * rule, and the acknowledgement of ranges from out-of-order bulk outcomes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "sync/c2e_int.h"

static void make(sync_resume *r, size_t n)
{
    assert_int_equal(sync_resume_init(r, n), CE_OK);
    r->window_start_ms = 0;
    r->window_end_ms = 1764600000000;
    r->ring = 0x0123456789abcdefULL;
    r->target = 0xfedcba9876543210ULL;
    r->has_position = false;
    r->send_echoes = true;
}

static void test_round_trip(void **st)
{
    (void)st;
    size_t sizes[] = {0, 1, 7, 8, 9, 128, 1000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        sync_resume r, back;
        make(&r, n);
        for (size_t k = 0; k < n; k += 3)
            sync_resume_mark(&r, k);
        sync_resume_mark(&r, 0); /* twice: counted once */
        sync_resume_mark(&r, n); /* out of range: ignored */
        char *text = NULL;
        assert_int_equal(sync_resume_encode(&r, NULL, &text), CE_OK);
        assert_non_null(text);
        assert_int_equal(sync_resume_decode(text, &back), CE_OK);
        assert_int_equal(back.nranges, n);
        assert_int_equal(back.ndone, r.ndone);
        assert_int_equal(back.ndone, (n + 2) / 3);
        for (size_t k = 0; k < n; k++)
            assert_int_equal(sync_resume_is_done(&back, k), k % 3 == 0);
        assert_true(back.window_end_ms == r.window_end_ms);
        assert_true(back.ring == r.ring && back.target == r.target);
        assert_false(back.has_position);
        assert_true(back.send_echoes);
        assert_false(sync_resume_has_position(text));
        char why[128];
        assert_true(sync_resume_matches(&back, &r, why, sizeof why));
        free(text);
        sync_resume_free(&r);
        sync_resume_free(&back);
    }
}

static void test_compact(void **st)
{
    (void)st;
    sync_resume r;
    make(&r, 128);
    for (size_t k = 0; k < 64; k++)
        sync_resume_mark(&r, k);
    char *text = NULL;
    assert_int_equal(sync_resume_encode(&r, NULL, &text), CE_OK);
    /* 128 ranges: 32 hex digits; range k is bit k % 8 of byte k / 8 */
    assert_non_null(strstr(text, "\"done\":\"ffffffffffffffff0000000000000000\""));
    assert_true(strlen(text) < 400);
    free(text);
    sync_resume_free(&r);
}

static void test_other_keys_kept(void **st)
{
    (void)st;
    sync_resume r;
    make(&r, 4);
    sync_resume_mark(&r, 2);
    char *text = NULL, *gone = NULL;
    assert_int_equal(sync_resume_encode(&r, "{\"verify\":{\"a\":1}}", &text), CE_OK);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(json_object_get(j, "verify"));
    assert_non_null(json_object_get(j, SYNC_RESUME_KEY));
    json_decref(j);
    /* dropped: the other key stays; nothing left: NULL */
    assert_int_equal(sync_resume_encode(NULL, text, &gone), CE_OK);
    assert_string_equal(gone, "{\"verify\":{\"a\":1}}");
    free(text);
    text = NULL;
    assert_int_equal(sync_resume_encode(&r, "[1,2]", &text), CE_OK); /* not an object: replaced */
    char *none = NULL;
    assert_int_equal(sync_resume_encode(NULL, text, &none), CE_OK);
    assert_null(none);
    assert_true(sync_resume_has_position(gone)); /* no progress: a real checkpoint */
    assert_true(sync_resume_has_position(NULL));
    free(text);
    free(gone);
    sync_resume_free(&r);
}

static void test_malformed(void **st)
{
    (void)st;
    sync_resume r;
    assert_int_equal(sync_resume_decode(NULL, &r), CE_ENOTFOUND);
    assert_int_equal(sync_resume_decode("{\"other\":1}", &r), CE_ENOTFOUND);
    assert_int_equal(sync_resume_decode("null", &r), CE_ENOTFOUND);
    const char *bad[] = {
        "{\"scan_resume\":5}",
        /* bitmap too short, bad digit, a bit beyond the ranges */
        "{\"scan_resume\":{\"format\":1,\"window_start_ms\":0,\"window_end_ms\":5,\"ranges\":9,\"ring\":"
        "\"0000000000000001\",\"target\":\"0000000000000002\",\"position\":true,\"send_echoes\":false,"
        "\"done\":\"ff\"}}",
        "{\"scan_resume\":{\"format\":1,\"window_start_ms\":0,\"window_end_ms\":5,\"ranges\":9,\"ring\":"
        "\"0000000000000001\",\"target\":\"0000000000000002\",\"position\":true,\"send_echoes\":false,"
        "\"done\":\"ffxx\"}}",
        "{\"scan_resume\":{\"format\":1,\"window_start_ms\":0,\"window_end_ms\":5,\"ranges\":9,\"ring\":"
        "\"0000000000000001\",\"target\":\"0000000000000002\",\"position\":true,\"send_echoes\":false,"
        "\"done\":\"ff02\"}}",
        /* unknown format, short hash, missing field, negative count */
        "{\"scan_resume\":{\"format\":2,\"window_start_ms\":0,\"window_end_ms\":5,\"ranges\":9,\"ring\":"
        "\"0000000000000001\",\"target\":\"0000000000000002\",\"position\":true,\"send_echoes\":false,"
        "\"done\":\"ff01\"}}",
        "{\"scan_resume\":{\"format\":1,\"window_start_ms\":0,\"window_end_ms\":5,\"ranges\":9,\"ring\":"
        "\"01\",\"target\":\"0000000000000002\",\"position\":true,\"send_echoes\":false,\"done\":\"ff01\"}}",
        "{\"scan_resume\":{\"format\":1,\"window_start_ms\":0,\"ranges\":9,\"ring\":"
        "\"0000000000000001\",\"target\":\"0000000000000002\",\"position\":true,\"send_echoes\":false,"
        "\"done\":\"ff01\"}}",
        "{\"scan_resume\":{\"format\":1,\"window_start_ms\":0,\"window_end_ms\":5,\"ranges\":-1,\"ring\":"
        "\"0000000000000001\",\"target\":\"0000000000000002\",\"position\":true,\"send_echoes\":false,"
        "\"done\":\"\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sync_resume_decode(bad[i], &r), CE_EJSON);
    const char *good = "{\"scan_resume\":{\"format\":1,\"window_start_ms\":0,\"window_end_ms\":5,\"ranges\":9,"
                       "\"ring\":\"0000000000000001\",\"target\":\"0000000000000002\",\"position\":true,"
                       "\"send_echoes\":false,\"done\":\"ff01\"}}";
    assert_int_equal(sync_resume_decode(good, &r), CE_OK);
    assert_int_equal(r.ndone, 9);
    sync_resume_free(&r);
    assert_true(sync_resume_has_position(good));
}

static void test_validity(void **st)
{
    (void)st;
    sync_resume saved, now;
    make(&saved, 8);
    make(&now, 8);
    now.window_end_ms = saved.window_end_ms + 60000; /* a later pass: its own end is later */
    char why[128] = "";
    assert_true(sync_resume_matches(&saved, &now, why, sizeof why));
    now.window_start_ms = 1000;
    assert_false(sync_resume_matches(&saved, &now, why, sizeof why));
    assert_non_null(strstr(why, "window start"));
    now.window_start_ms = 0;
    now.ring ^= 1;
    assert_false(sync_resume_matches(&saved, &now, why, sizeof why));
    assert_non_null(strstr(why, "token ring"));
    now.ring ^= 1;
    sync_resume_free(&now);
    make(&now, 9);
    now.window_end_ms = saved.window_end_ms;
    assert_false(sync_resume_matches(&saved, &now, why, sizeof why));
    assert_non_null(strstr(why, "token ring"));
    sync_resume_free(&now);
    make(&now, 8);
    now.target = 7;
    assert_false(sync_resume_matches(&saved, &now, why, sizeof why));
    assert_non_null(strstr(why, "index"));
    now.target = saved.target;
    now.window_end_ms = saved.window_end_ms - 1; /* saved end after this pass's end: refused */
    assert_false(sync_resume_matches(&saved, &now, why, sizeof why));
    sync_resume_free(&saved);
    sync_resume_free(&now);
}

/* A tracker over n ranges, as sync_scan_ack_plan makes it for a resumable plan. */
static void ack_make(sync_scan_ack *a, size_t n)
{
    memset(a, 0, sizeof *a);
    a->on = true;
    a->pending = calloc(n, sizeof *a->pending);
    a->flags = calloc(n, 1);
    a->pages = calloc(n, sizeof *a->pages);
    a->npages = n;
    assert_int_equal(sync_resume_init(&a->prog, n), CE_OK);
}

/* Positions inside a range: a page's position counts once it and the range's earlier
 * pages are acknowledged; a FAILED document stops it; they survive the codec. */
static void test_ack_positions(void **st)
{
    (void)st;
    sync_scan_ack a;
    ack_make(&a, 2);
    uint64_t t[6];
    /* range 0: page A (2 docs, position 100), page B (2 docs, position 200) */
    assert_int_equal(sync_scan_ack_commit(&a, 0, 1, &t[0]), CE_OK);
    assert_int_equal(sync_scan_ack_commit(&a, 0, 2, &t[1]), CE_OK);
    sync_scan_ack_page_done(&a, 0, 100);
    assert_int_equal(sync_scan_ack_commit(&a, 0, 3, &t[2]), CE_OK);
    assert_int_equal(sync_scan_ack_commit(&a, 0, 4, &t[3]), CE_OK);
    sync_scan_ack_page_done(&a, 0, 200);
    /* range 1: one page, one document that fails */
    assert_int_equal(sync_scan_ack_commit(&a, 1, 5, &t[4]), CE_OK);
    sync_scan_ack_page_done(&a, 1, 300);
    /* page B acknowledged first: no move while A waits */
    sync_scan_ack_outcome(&a, t[2], true);
    sync_scan_ack_outcome(&a, t[3], true);
    assert_true(a.prog.at[0] == INT64_MIN);
    sync_scan_ack_outcome(&a, t[0], true);
    assert_true(a.prog.at[0] == INT64_MIN);
    sync_scan_ack_outcome(&a, t[1], true);
    assert_true(a.prog.at[0] == 200);
    assert_true(a.unsaved > 0);
    sync_scan_ack_outcome(&a, t[4], false);
    assert_true(a.prog.at[1] == INT64_MIN);
    /* a page without documents (rows filtered out) moves at once; never backwards */
    sync_scan_ack_page_done(&a, 0, 250);
    sync_scan_ack_page_done(&a, 0, 150);
    assert_true(a.prog.at[0] == 250);
    char *text = NULL;
    assert_int_equal(sync_resume_encode(&a.prog, NULL, &text), CE_OK);
    assert_non_null(strstr(text, "\"at\":{\"0\":\"00000000000000fa\"}"));
    sync_resume back;
    assert_int_equal(sync_resume_decode(text, &back), CE_OK);
    assert_true(back.at[0] == 250 && back.at[1] == INT64_MIN);
    sync_resume_free(&back);
    free(text);
    /* a done range keeps no position; negative tokens round-trip */
    sync_resume_advance(&a.prog, 1, -5);
    sync_scan_ack_read_done(&a, 0);
    assert_true(sync_resume_is_done(&a.prog, 0));
    assert_int_equal(sync_resume_encode(&a.prog, NULL, &text), CE_OK);
    assert_non_null(strstr(text, "\"at\":{\"1\":\"fffffffffffffffb\"}"));
    assert_int_equal(sync_resume_decode(text, &back), CE_OK);
    assert_true(back.at[1] == -5);
    sync_resume_free(&back);
    free(text);
    /* malformed positions: index out of range, bad token */
    const char *head = "{\"scan_resume\":{\"format\":1,\"window_start_ms\":0,\"window_end_ms\":5,\"ranges\":2,"
                       "\"ring\":\"0000000000000001\",\"target\":\"0000000000000002\",\"position\":true,"
                       "\"send_echoes\":false,\"done\":\"00\",\"at\":";
    const char *bad[] = {"{\"2\":\"0000000000000001\"}", "{\"0\":\"01\"}", "{\"x\":\"0000000000000001\"}", "[]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char doc[512];
        snprintf(doc, sizeof doc, "%s%s}}", head, bad[i]);
        assert_int_equal(sync_resume_decode(doc, &back), CE_EJSON);
    }
    sync_scan_ack_free(&a);
}

static void test_ack_out_of_order(void **st)
{
    (void)st;
    sync_scan_ack a;
    ack_make(&a, 3);
    enum { N = 3000 };
    uint64_t tags[N];
    /* range k gets documents i with i % 3 == k, version 1000 + i */
    for (size_t i = 0; i < N; i++)
        assert_int_equal(sync_scan_ack_commit(&a, i % 3, 1000 + (int64_t)i, &tags[i]), CE_OK);
    sync_scan_ack_read_done(&a, 0);
    sync_scan_ack_read_done(&a, 1);
    /* outcomes of the second half first (requests completing out of order) */
    for (size_t i = N / 2; i < N; i++)
        assert_int_equal(sync_scan_ack_outcome(&a, tags[i], i != N - 2), 1000 + (int64_t)i);
    assert_int_equal(a.prog.ndone, 0);
    assert_int_equal(a.count, N); /* the oldest still pending holds the ring */
    for (size_t i = 0; i < N / 2; i++)
        assert_int_equal(sync_scan_ack_outcome(&a, tags[i], true), 1000 + (int64_t)i);
    assert_int_equal(a.count, 0);
    /* range 0: done; range 1: document N-2 (1 mod 3) failed; range 2: not read to its end */
    assert_true(sync_resume_is_done(&a.prog, 0));
    assert_false(sync_resume_is_done(&a.prog, 1));
    assert_false(sync_resume_is_done(&a.prog, 2));
    sync_scan_ack_read_done(&a, 2);
    assert_true(sync_resume_is_done(&a.prog, 2));
    assert_int_equal(a.prog.ndone, 2);
    assert_int_equal(a.unsaved, 2);
    /* a range with no document at all is done when read */
    sync_scan_ack_free(&a);
    ack_make(&a, 1);
    sync_scan_ack_read_done(&a, 0);
    assert_true(sync_resume_is_done(&a.prog, 0));
    sync_scan_ack_free(&a);
    /* off: the tag is the version */
    memset(&a, 0, sizeof a);
    uint64_t tag = 0;
    assert_int_equal(sync_scan_ack_commit(&a, 0, 4242, &tag), CE_OK);
    assert_int_equal(tag, 4242);
    assert_int_equal(sync_scan_ack_outcome(&a, tag, true), 4242);
    sync_scan_ack_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),      cmocka_unit_test(test_compact),
        cmocka_unit_test(test_other_keys_kept), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_validity),        cmocka_unit_test(test_ack_out_of_order),
        cmocka_unit_test(test_ack_positions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
