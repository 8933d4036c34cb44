/*
 * pipe.h - one bounded producer/consumer queue with its producer thread.
 *
 * Both directions read on a helper thread while the pass's thread converts and writes:
 * C->E the Cassandra page reader, E->C the Elasticsearch page prefetch. Each is a
 * sync_pipe: a producer function runs on its own thread and pushes fixed-size items
 * (copied in, so no allocation per item) into a queue of at most `capacity` items; the
 * pass pops them in order. Either side can end it: the producer by returning (its error,
 * if any, is reported after the last item is popped), the consumer by stopping it (the
 * producer's pushes then fail and it should return soon). Joining frees what was left.
 */
#ifndef CE_SYNC_PIPE_H
#define CE_SYNC_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include "util/err.h"

typedef struct sync_pipe sync_pipe;

/* The producer: push items until done, then return CE_OK or the error that ended it. */
typedef ce_err (*sync_pipe_produce_fn)(sync_pipe *p, void *ud);
/* Releases one item that was pushed but never popped (may be NULL: nothing to release). */
typedef void (*sync_pipe_drop_fn)(void *item);

/*
 * Make a pipe of `capacity` (>= 1) items of item_size bytes and start produce(p, ud) on a
 * thread of its own. CE_EINVAL for a zero size or capacity; CE_ENOMEM when the memory or
 * the thread cannot be had (nothing is left running then). *out is owned by the caller:
 * end it with sync_pipe_join.
 */
ce_err sync_pipe_start(size_t item_size, size_t capacity, sync_pipe_produce_fn produce, void *ud,
                       sync_pipe_drop_fn drop, sync_pipe **out);

/*
 * Producer side: copy item in, waiting while the queue is full. false when the consumer
 * stopped the pipe (the item is then released with drop): the producer should return.
 */
bool sync_pipe_push(sync_pipe *p, const void *item);

/* Producer side: whether the consumer stopped the pipe (a cheap check between requests). */
bool sync_pipe_stopped(sync_pipe *p);

/*
 * Consumer side: copy the oldest item out, waiting while the queue is empty and the
 * producer runs. *got = true with CE_OK for an item; *got = false at the end: CE_OK when
 * the producer finished, else its error.
 */
ce_err sync_pipe_pop(sync_pipe *p, void *item, bool *got);

/* Consumer side: ask the producer to quit (its pushes fail from now on); the items not
 * popped yet are released (drop) at once. Idempotent. */
void sync_pipe_stop(sync_pipe *p);

/*
 * Stop, wait for the producer's thread, release the items left (drop) and free the pipe.
 * Returns the producer's result. NULL is a no-op (CE_OK).
 */
ce_err sync_pipe_join(sync_pipe *p);

#endif
