/*
 * budget.c - the memory budget of a sync (budget.h): a byte counter under one mutex and
 * one condition variable. Items are pages (a handful a pass at a time), so the lock is
 * taken a few times a page, never per row.
 */
#include "sync/budget.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

struct sync_budget {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t limit, reserved;
    size_t used, peak;         /* items' bytes */
};

ce_err sync_budget_new(size_t limit, sync_budget **out)
{
    *out = NULL;
    if (limit == 0)
        return CE_EINVAL;
    sync_budget *b = calloc(1, sizeof *b);
    if (!b)
        return CE_ENOMEM;
    b->limit = limit;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    *out = b;
    return CE_OK;
}

void sync_budget_free(sync_budget *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b);
}

size_t sync_budget_limit(const sync_budget *b) { return b ? b->limit : SIZE_MAX; }

/* Caller holds the lock. */
static size_t share_locked(const sync_budget *b)
{
    return b->reserved < b->limit ? b->limit - b->reserved : 0;
}

size_t sync_budget_share(const sync_budget *b)
{
    if (!b)
        return SIZE_MAX;
    pthread_mutex_lock((pthread_mutex_t *)&b->mu);
    size_t s = share_locked(b);
    pthread_mutex_unlock((pthread_mutex_t *)&b->mu);
    return s;
}

void sync_budget_reserve(sync_budget *b, size_t n)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->reserved = n > SIZE_MAX - b->reserved ? SIZE_MAX : b->reserved + n;
    pthread_mutex_unlock(&b->mu);
}

void sync_budget_unreserve(sync_budget *b, size_t n)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->reserved = n > b->reserved ? 0 : b->reserved - n;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* Caller holds the lock: whether n more bytes may be taken now. */
static bool fits_locked(const sync_budget *b, size_t n)
{
    size_t share = share_locked(b);
    return b->used == 0 || (b->used <= share && n <= share - b->used);
}

/* Caller holds the lock. */
static void take_locked(sync_budget *b, size_t n)
{
    b->used = n > SIZE_MAX - b->used ? SIZE_MAX : b->used + n;
    if (b->used > b->peak)
        b->peak = b->used;
}

void sync_budget_acquire(sync_budget *b, size_t n)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    while (!fits_locked(b, n))
        pthread_cond_wait(&b->cv, &b->mu);
    take_locked(b, n);
    pthread_mutex_unlock(&b->mu);
}

bool sync_budget_try_acquire(sync_budget *b, size_t n)
{
    if (!b)
        return true;
    pthread_mutex_lock(&b->mu);
    bool ok = fits_locked(b, n);
    if (ok)
        take_locked(b, n);
    pthread_mutex_unlock(&b->mu);
    return ok;
}

void sync_budget_force(sync_budget *b, size_t n)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    take_locked(b, n);
    pthread_mutex_unlock(&b->mu);
}

void sync_budget_release(sync_budget *b, size_t n)
{
    if (!b || n == 0)
        return;
    pthread_mutex_lock(&b->mu);
    b->used = n > b->used ? 0 : b->used - n;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

size_t sync_budget_used(const sync_budget *b)
{
    if (!b)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&b->mu);
    size_t n = b->used;
    pthread_mutex_unlock((pthread_mutex_t *)&b->mu);
    return n;
}

size_t sync_budget_peak(const sync_budget *b)
{
    if (!b)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&b->mu);
    size_t n = b->peak;
    pthread_mutex_unlock((pthread_mutex_t *)&b->mu);
    return n;
}
