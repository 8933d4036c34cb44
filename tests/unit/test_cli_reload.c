/*
 * test_cli_reload.c - the reload plan (reload.c): which top-level changes take a new engine
 * (every key sync_engine_new reads, memory_limit_mb included), which apply in place, which
 * are refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli_int.h"

static void test_engine_keys_take_a_new_engine(void **st)
{
    (void)st;
    sync_config a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.memory_limit_mb = b.memory_limit_mb = 256;
    a.period_s = b.period_s = 60;
    cli_reload_plan plan;
    cli_reload_plan_make(&a, &b, false, &plan);
    assert_false(plan.connection_changed);
    assert_string_equal(plan.refused, "");

    b.period_s = 5; /* applied in place */
    cli_reload_plan_make(&a, &b, false, &plan);
    assert_false(plan.connection_changed);

    b.memory_limit_mb = 512; /* the budget and the answer limits are made with the engine */
    cli_reload_plan_make(&a, &b, false, &plan);
    assert_true(plan.connection_changed);
    assert_string_equal(plan.refused, "");

    b.memory_limit_mb = 256;
    char dl[] = "/tmp/dl.jsonl";
    b.dead_letter_path = dl;
    cli_reload_plan_make(&a, &b, false, &plan);
    assert_true(plan.connection_changed);
    b.dead_letter_path = NULL;

    b.cassandra.request_timeout_ms = 1234;
    cli_reload_plan_make(&a, &b, false, &plan);
    assert_true(plan.connection_changed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_engine_keys_take_a_new_engine)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
