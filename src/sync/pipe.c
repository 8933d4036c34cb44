/*
 * pipe.c - the bounded producer/consumer queue and its thread (pipe.h).
 *
 * A ring of fixed-size slots under one mutex and one condition variable: the queue is a
 * handful of pages deep and each item is a page, so contention is per page, not per row.
 */
#include "sync/pipe.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sync_pipe {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *slots;      /* capacity x item_size */
    size_t item_size, capacity;
    size_t head, n;
    bool done, stopped;        /* producer returned / consumer stopped it */
    ce_err result;             /* the producer's */
    sync_pipe_produce_fn produce;
    sync_pipe_drop_fn drop;
    void *ud;
};

static void *pipe_main(void *arg)
{
    sync_pipe *p = arg;
    ce_err rc = p->produce(p, p->ud);
    pthread_mutex_lock(&p->mu);
    p->result = rc;
    p->done = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void pipe_free(sync_pipe *p)
{
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->slots);
    free(p);
}

ce_err sync_pipe_start(size_t item_size, size_t capacity, sync_pipe_produce_fn produce, void *ud,
                       sync_pipe_drop_fn drop, sync_pipe **out)
{
    *out = NULL;
    if (item_size == 0 || capacity == 0 || !produce || capacity > SIZE_MAX / item_size)
        return CE_EINVAL;
    sync_pipe *p = calloc(1, sizeof *p);
    if (!p)
        return CE_ENOMEM;
    p->slots = malloc(item_size * capacity);
    if (!p->slots) {
        free(p);
        return CE_ENOMEM;
    }
    p->item_size = item_size;
    p->capacity = capacity;
    p->produce = produce;
    p->drop = drop;
    p->ud = ud;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, pipe_main, p) != 0) {
        pipe_free(p);
        return CE_ENOMEM;
    }
    *out = p;
    return CE_OK;
}

static unsigned char *slot(sync_pipe *p, size_t k) { return p->slots + (k % p->capacity) * p->item_size; }

bool sync_pipe_push(sync_pipe *p, const void *item)
{
    pthread_mutex_lock(&p->mu);
    while (p->n == p->capacity && !p->stopped)
        pthread_cond_wait(&p->cv, &p->mu);
    bool ok = !p->stopped;
    if (ok) {
        memcpy(slot(p, p->head + p->n), item, p->item_size);
        p->n++;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (!ok && p->drop)
        p->drop((void *)item);
    return ok;
}

bool sync_pipe_stopped(sync_pipe *p)
{
    pthread_mutex_lock(&p->mu);
    bool s = p->stopped;
    pthread_mutex_unlock(&p->mu);
    return s;
}

ce_err sync_pipe_pop(sync_pipe *p, void *item, bool *got)
{
    pthread_mutex_lock(&p->mu);
    while (p->n == 0 && !p->done)
        pthread_cond_wait(&p->cv, &p->mu);
    ce_err e = CE_OK;
    *got = p->n > 0;
    if (*got) {
        memcpy(item, slot(p, p->head), p->item_size);
        p->head = (p->head + 1) % p->capacity;
        p->n--;
        pthread_cond_broadcast(&p->cv);
    } else {
        e = p->result;
    }
    pthread_mutex_unlock(&p->mu);
    return e;
}

void sync_pipe_stop(sync_pipe *p)
{
    pthread_mutex_lock(&p->mu);
    /* Items not taken are released now, not at join: what they hold (budget bytes) may
     * be what the producer waits for before it can see the stop. */
    for (; p->drop && p->n > 0; p->n--, p->head = (p->head + 1) % p->capacity)
        p->drop(slot(p, p->head));
    p->stopped = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

ce_err sync_pipe_join(sync_pipe *p)
{
    if (!p)
        return CE_OK;
    sync_pipe_stop(p);
    pthread_join(p->thread, NULL);
    for (size_t k = 0; p->drop && k < p->n; k++)
        p->drop(slot(p, p->head + k));
    ce_err rc = p->result;
    pipe_free(p);
    return rc;
}
