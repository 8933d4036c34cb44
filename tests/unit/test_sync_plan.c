/* test_sync_plan.c - the read-plan table (how each read mode resolves for a window, its
 * name, whether the window is in the WHERE or filtered as rows arrive) and the sizes a
 * hand-built sync_def gets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sync/c2e_int.h"

static void test_read_plans(void **st)
{
    (void)st;
    sync_def d;
    memset(&d, 0, sizeof d);
    sync_window later = {3600000, 7200000, false}, initial = {0, 7200000, true};
    d.read_mode = SYNC_READ_AUTO;
    d.filter_date = true;
    const sync_read_plan *p = sync_read_plan_for(&d, &later, NULL);
    assert_string_equal(p->name, "filter");
    assert_true(p->window);
    assert_false(p->filter_rows);
    d.filter_date = false;
    assert_string_equal(sync_read_plan_for(&d, &later, NULL)->name, "all");
    d.read_mode = SYNC_READ_FULL_SCAN;
    p = sync_read_plan_for(&d, &later, NULL);
    assert_string_equal(p->name, "full_scan");
    assert_false(p->window);
    assert_true(p->filter_rows);
    /* buckets: the window's buckets, but a scan for an initial load or too many buckets */
    d.read_mode = SYNC_READ_BUCKETS;
    d.bucket_seconds = 3600;
    p = sync_read_plan_for(&d, &later, NULL);
    assert_string_equal(p->name, "buckets");
    assert_true(p->window);
    assert_string_equal(sync_read_plan_for(&d, &initial, NULL)->name, "full_scan");
    sync_window wide = {1, 3600000LL * 30000, false};
    assert_string_equal(sync_read_plan_for(&d, &wide, NULL)->name, "full_scan");
    /* every resolved plan can plan a read */
    for (int m = SYNC_READ_AUTO; m <= SYNC_READ_INDEX; m++) {
        d.read_mode = (sync_read_mode)m;
        p = sync_read_plan_for(&d, &later, NULL);
        assert_non_null(p->where);
        assert_non_null(p->tasks);
        assert_int_not_equal(p->mode, SYNC_READ_AUTO);
    }
}

/* read_mode index: the window in the WHERE without ALLOW FILTERING, a check that refuses
 * a table without the index; auto picks it when filter_date and the index is there. */
static void test_index_plan(void **st)
{
    (void)st;
    sync_def d;
    memset(&d, 0, sizeof d);
    sync_table_plan with, without;
    memset(&with, 0, sizeof with);
    memset(&without, 0, sizeof without);
    with.version_index = true;
    sync_window later = {3600000, 7200000, false}, initial = {0, 7200000, true};
    d.read_mode = SYNC_READ_INDEX;
    const sync_read_plan *p = sync_read_plan_for(&d, &later, &without);
    assert_string_equal(p->name, "index");
    assert_int_equal(p->mode, SYNC_READ_INDEX);
    assert_true(p->window);
    assert_false(p->allow_filtering);
    assert_false(p->filter_rows);
    assert_non_null(p->check);   /* refuses without the index, never turns into a scan */
    assert_non_null(p->where);
    assert_non_null(p->tasks);
    /* an initial load reads by index too: the range is the whole version axis */
    assert_string_equal(sync_read_plan_for(&d, &initial, &without)->name, "index");
    /* auto: index when filter_date and the index serves the column, else filter / all */
    d.read_mode = SYNC_READ_AUTO;
    d.filter_date = true;
    assert_string_equal(sync_read_plan_for(&d, &later, &with)->name, "index");
    assert_string_equal(sync_read_plan_for(&d, &later, &without)->name, "filter");
    assert_string_equal(sync_read_plan_for(&d, &later, NULL)->name, "filter");
    d.filter_date = false;
    assert_string_equal(sync_read_plan_for(&d, &later, &with)->name, "all");
    /* filter keeps ALLOW FILTERING (a scan without the index); an explicit filter stays filter */
    d.read_mode = SYNC_READ_FILTER;
    p = sync_read_plan_for(&d, &later, &with);
    assert_string_equal(p->name, "filter");
    assert_true(p->allow_filtering);
}

static void test_sizes(void **st)
{
    (void)st;
    sync_def d, s;
    memset(&d, 0, sizeof d);
    sync_def_sizes(&d, &s);
    assert_true(s.page_size > 0 && s.es_page_size > 0 && s.bulk_max_docs > 0 && s.bulk_max_bytes > 0);
    assert_true(s.bulk_concurrency > 0 && s.write_concurrency > 0 && s.write_batch_rows > 0);
    assert_int_equal(s.version_unit_us, 1000);
    assert_int_equal(s.scan_ranges, 0); /* 0 means "by the number of nodes", not a default */
    /* values set are kept */
    d.page_size = 7;
    d.write_batch_rows = 1;
    d.version_unit_us = 1;
    sync_def_sizes(&d, &s);
    assert_int_equal(s.page_size, 7);
    assert_int_equal(s.write_batch_rows, 1);
    assert_int_equal(s.version_unit_us, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_read_plans), cmocka_unit_test(test_index_plan),
                                       cmocka_unit_test(test_sizes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
