/* test_sync_budget.c - the memory budget (memory_limit_mb): items share what reservations
 * leave, an item that does not fit waits until bytes come back, an item larger than the
 * whole budget passes alone, NULL is no budget. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <pthread.h>
#include <time.h>
#include <cmocka.h>

#include "sync/budget.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_share_and_reserve(void **st)
{
    (void)st;
    sync_budget *b;
    assert_int_equal(sync_budget_new(1000, &b), CE_OK);
    assert_int_equal(sync_budget_limit(b), 1000);
    sync_budget_reserve(b, 300);
    assert_int_equal(sync_budget_share(b), 700);
    assert_true(sync_budget_try_acquire(b, 500));
    assert_false(sync_budget_try_acquire(b, 201)); /* 701 > 700 */
    assert_true(sync_budget_try_acquire(b, 200));
    assert_int_equal(sync_budget_used(b), 700);
    sync_budget_release(b, 700);
    sync_budget_unreserve(b, 300);
    assert_int_equal(sync_budget_share(b), 1000);
    sync_budget_force(b, 5000); /* already allocated: counted, never refused */
    assert_int_equal(sync_budget_used(b), 5000);
    assert_int_equal(sync_budget_peak(b), 5000);
    sync_budget_release(b, 9999); /* more than held: clamps at 0 */
    assert_int_equal(sync_budget_used(b), 0);
    sync_budget_reserve(b, 5000); /* reservations beyond the limit leave a share of 0 */
    assert_int_equal(sync_budget_share(b), 0);
    sync_budget_free(b);
    assert_int_equal(sync_budget_new(0, &b), CE_EINVAL);
}

/* One item larger than the whole budget passes, but only alone. */
static void test_big_item_alone(void **st)
{
    (void)st;
    sync_budget *b;
    assert_int_equal(sync_budget_new(100, &b), CE_OK);
    assert_true(sync_budget_try_acquire(b, 1000));
    assert_false(sync_budget_try_acquire(b, 1));
    sync_budget_release(b, 1000);
    sync_budget_acquire(b, 1000); /* nothing in flight: does not wait */
    sync_budget_release(b, 1000);
    sync_budget_free(b);
}

typedef struct {
    sync_budget *b;
    atomic_int done;
} waiter;

static void *acquire_60(void *arg)
{
    waiter *w = arg;
    sync_budget_acquire(w->b, 60);
    atomic_store(&w->done, 1);
    return NULL;
}

/* An acquire that does not fit waits for a release. */
static void test_wait_for_release(void **st)
{
    (void)st;
    waiter w = {0};
    assert_int_equal(sync_budget_new(100, &w.b), CE_OK);
    sync_budget_acquire(w.b, 50);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, acquire_60, &w), 0);
    sleep_ms(50);
    assert_int_equal(atomic_load(&w.done), 0);
    sync_budget_release(w.b, 50);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&w.done), 1);
    assert_int_equal(sync_budget_used(w.b), 60);
    sync_budget_free(w.b);
}

static void test_null_is_no_budget(void **st)
{
    (void)st;
    sync_budget_acquire(NULL, 1u << 30);
    assert_true(sync_budget_try_acquire(NULL, 1u << 30));
    sync_budget_force(NULL, 1);
    sync_budget_release(NULL, 1);
    sync_budget_reserve(NULL, 1);
    sync_budget_unreserve(NULL, 1);
    assert_int_equal(sync_budget_used(NULL), 0);
    assert_int_equal(sync_budget_share(NULL), SIZE_MAX);
    sync_budget_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_share_and_reserve), cmocka_unit_test(test_big_item_alone),
        cmocka_unit_test(test_wait_for_release),  cmocka_unit_test(test_null_is_no_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
