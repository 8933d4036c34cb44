/* test_sync_pipe.c - the bounded queue both directions' reader threads use: items come
 * out in order, the producer waits at the bound, the producer's end and error reach the
 * consumer after the last item, and a stop ends the producer with the leftovers dropped;
 * a producer waiting on the memory budget for bytes queued items hold is freed by a stop
 * (the leftovers are dropped at once, giving their bytes back). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "sync/budget.h"
#include "sync/pipe.h"

typedef struct {
    int count;               /* items to push (-1: until stopped) */
    ce_err result;           /* returned at the end */
    atomic_int pushed;       /* pushes that returned true */
    atomic_int refused;      /* pushes that returned false */
} producer;

typedef struct {
    int seq;
    char pad[13];            /* an odd size: items are copied whole */
} item;

static atomic_int dropped;

static void drop(void *it)
{
    (void)it;
    atomic_fetch_add(&dropped, 1);
}

static ce_err produce(sync_pipe *p, void *ud)
{
    producer *pr = ud;
    for (int i = 0; pr->count < 0 || i < pr->count; i++) {
        item it = {.seq = i};
        if (!sync_pipe_push(p, &it)) {
            atomic_fetch_add(&pr->refused, 1);
            return CE_OK;
        }
        atomic_fetch_add(&pr->pushed, 1);
    }
    return pr->result;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait (at most 5 s: a loaded machine) until the producer pushed n items. */
static void wait_pushed(producer *pr, int n)
{
    for (int i = 0; i < 500 && atomic_load(&pr->pushed) < n; i++)
        sleep_ms(10);
    assert_int_equal(atomic_load(&pr->pushed), n);
}

static void test_order(void **st)
{
    (void)st;
    producer pr = {.count = 1000, .result = CE_OK};
    sync_pipe *p = NULL;
    assert_int_equal(sync_pipe_start(sizeof(item), 3, produce, &pr, drop, &p), CE_OK);
    item it;
    bool got;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(sync_pipe_pop(p, &it, &got), CE_OK);
        assert_true(got);
        assert_int_equal(it.seq, i);
    }
    assert_int_equal(sync_pipe_pop(p, &it, &got), CE_OK);
    assert_false(got);
    assert_int_equal(sync_pipe_join(p), CE_OK);
}

static void test_bound(void **st)
{
    (void)st;
    producer pr = {.count = 10, .result = CE_OK};
    sync_pipe *p = NULL;
    assert_int_equal(sync_pipe_start(sizeof(item), 2, produce, &pr, drop, &p), CE_OK);
    wait_pushed(&pr, 2);
    sleep_ms(50);
    assert_int_equal(atomic_load(&pr.pushed), 2); /* the third push waits */
    item it;
    bool got;
    assert_int_equal(sync_pipe_pop(p, &it, &got), CE_OK);
    assert_true(got);
    wait_pushed(&pr, 3);
    sleep_ms(50);
    assert_int_equal(atomic_load(&pr.pushed), 3);
    assert_int_equal(sync_pipe_join(p), CE_OK);
}

static void test_close_with_error(void **st)
{
    (void)st;
    producer pr = {.count = 3, .result = CE_EIO};
    sync_pipe *p = NULL;
    assert_int_equal(sync_pipe_start(sizeof(item), 8, produce, &pr, drop, &p), CE_OK);
    wait_pushed(&pr, 3);
    sleep_ms(20); /* the producer has ended: its items still come first */
    item it;
    bool got;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sync_pipe_pop(p, &it, &got), CE_OK);
        assert_true(got);
        assert_int_equal(it.seq, i);
    }
    assert_int_equal(sync_pipe_pop(p, &it, &got), CE_EIO);
    assert_false(got);
    assert_int_equal(sync_pipe_pop(p, &it, &got), CE_EIO); /* and it stays ended */
    assert_false(got);
    assert_int_equal(sync_pipe_join(p), CE_EIO);
}

static void test_stop(void **st)
{
    (void)st;
    atomic_store(&dropped, 0);
    producer pr = {.count = -1, .result = CE_OK};
    sync_pipe *p = NULL;
    assert_int_equal(sync_pipe_start(sizeof(item), 4, produce, &pr, drop, &p), CE_OK);
    item it;
    bool got;
    assert_int_equal(sync_pipe_pop(p, &it, &got), CE_OK);
    assert_true(got);
    sleep_ms(50);
    sync_pipe_stop(p);
    sync_pipe_stop(p); /* idempotent */
    assert_int_equal(sync_pipe_join(p), CE_OK);
    /* the endless producer returned; every item pushed and not popped was dropped, and
     * the push refused by the stop released its own item */
    assert_int_equal(atomic_load(&pr.refused), 1);
    assert_int_equal(atomic_load(&dropped), (atomic_load(&pr.pushed) - 1) + atomic_load(&pr.refused));
}

/* Items holding budget bytes: the producer takes 40 of a 100-byte budget per item before
 * it pushes, so the third waits on the budget, not on the queue. */
typedef struct {
    sync_budget *b;
    atomic_int pushed;
} budget_producer;

static sync_budget *drop_budget;

static void drop_bytes(void *it)
{
    (void)it;
    sync_budget_release(drop_budget, 40);
}

static ce_err produce_bytes(sync_pipe *p, void *ud)
{
    budget_producer *pr = ud;
    for (int i = 0;; i++) {
        sync_budget_acquire(pr->b, 40);
        item it = {.seq = i};
        if (!sync_pipe_push(p, &it))
            return CE_OK;
        atomic_fetch_add(&pr->pushed, 1);
    }
}

static void test_stop_frees_budget_waiter(void **st)
{
    (void)st;
    budget_producer pr = {0};
    assert_int_equal(sync_budget_new(100, &pr.b), CE_OK);
    drop_budget = pr.b;
    sync_pipe *p = NULL;
    assert_int_equal(sync_pipe_start(sizeof(item), 8, produce_bytes, &pr, drop_bytes, &p), CE_OK);
    for (int i = 0; i < 500 && atomic_load(&pr.pushed) < 2; i++)
        sleep_ms(10);
    sleep_ms(50);
    assert_int_equal(atomic_load(&pr.pushed), 2); /* the third waits for bytes */
    assert_int_equal(sync_budget_used(pr.b), 80);
    sync_pipe_stop(p); /* drops the two queued items: their bytes come back, the producer goes on */
    assert_int_equal(sync_pipe_join(p), CE_OK);
    assert_int_equal(sync_budget_used(pr.b), 0);
    sync_budget_free(pr.b);
}

static void test_invalid(void **st)
{
    (void)st;
    producer pr = {.count = 0};
    sync_pipe *p = (sync_pipe *)&pr;
    assert_int_equal(sync_pipe_start(0, 2, produce, &pr, drop, &p), CE_EINVAL);
    assert_null(p);
    assert_int_equal(sync_pipe_start(sizeof(item), 0, produce, &pr, drop, &p), CE_EINVAL);
    assert_int_equal(sync_pipe_join(NULL), CE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order), cmocka_unit_test(test_bound), cmocka_unit_test(test_close_with_error),
        cmocka_unit_test(test_stop),  cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_stop_frees_budget_waiter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
