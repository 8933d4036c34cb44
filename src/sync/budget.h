/*
 * budget.h - one memory budget for everything a sync has in flight (memory_limit_mb).
 *
 * Cassandra pages being read and queued (C->E), Elasticsearch pages prefetched (E->C),
 * bulk bodies: each takes its bytes from one sync_budget before it allocates them and
 * gives them back when it frees them. Two kinds of use:
 *   reserve   a fixed part for the whole pass (bulk bodies in flight: bulk_max_bytes x
 *             (bulk_concurrency + 1)); never waits: what is left is the share of items
 *   acquire   an item (a page): waits while the items in flight and this one would pass
 *             the share, unless no item is in flight at all: a single item larger than
 *             the whole budget still goes through, alone (so nothing can wait forever
 *             for bytes nobody holds).
 * Only producers that hold nothing the consumer needs may block (the readers, between
 * requests); a consumer only releases. Every function takes NULL for "no budget":
 * nothing is counted and nothing waits. Thread-safe.
 */
#ifndef CE_SYNC_BUDGET_H
#define CE_SYNC_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include "util/err.h"

typedef struct sync_budget sync_budget;

/* A budget of limit bytes (> 0). CE_ENOMEM / CE_EINVAL; *out is the caller's (free it). */
ce_err sync_budget_new(size_t limit, sync_budget **out);
/* Frees b (nothing may be waiting on it). NULL is a no-op. */
void sync_budget_free(sync_budget *b);

/* The whole budget in bytes (SIZE_MAX for NULL). */
size_t sync_budget_limit(const sync_budget *b);
/* The bytes items may share: limit minus the reserved part (SIZE_MAX for NULL). */
size_t sync_budget_share(const sync_budget *b);

/* Set aside n bytes for the pass (never waits; the share may reach 0). */
void sync_budget_reserve(sync_budget *b, size_t n);
/* Give a reservation back. */
void sync_budget_unreserve(sync_budget *b, size_t n);

/* Take n bytes for an item, waiting while the items in flight plus n would pass the share
 * and some item is in flight. */
void sync_budget_acquire(sync_budget *b, size_t n);
/* Take n bytes if they fit now (or nothing is in flight); false: nothing taken. */
bool sync_budget_try_acquire(sync_budget *b, size_t n);
/* Count n bytes already allocated (an item bigger than its estimate): never waits. */
void sync_budget_force(sync_budget *b, size_t n);
/* Give n bytes back (wakes the waiters). */
void sync_budget_release(sync_budget *b, size_t n);

/* Bytes of items in flight now, and the most there ever were (reservations excluded). */
size_t sync_budget_used(const sync_budget *b);
size_t sync_budget_peak(const sync_budget *b);

#endif
