/*
 * deadletter.h - documents that could not be converted or were refused go here, one
 * JSON line each: {"ts":"...","sync":"...","direction":"to_es","id":"...",
 * "reason":"...","doc":<the document or null>}. Appends are flushed per line so a
 * crash loses none. Thread-safe.
 */
#ifndef CE_SYNC_DEADLETTER_H
#define CE_SYNC_DEADLETTER_H

#include <stddef.h>
#include "util/err.h"

typedef struct sync_deadletter sync_deadletter;

/* Open (create/append) the file; the folder must exist. */
ce_err sync_deadletter_open(const char *path, sync_deadletter **out);
/* doc: JSON text of the document (written raw when valid JSON, else as a string);
 * NULL = null. */
ce_err sync_deadletter_write(sync_deadletter *d, const char *sync, const char *direction,
                             const char *id, const char *reason, const char *doc, size_t doc_len);
size_t sync_deadletter_count(const sync_deadletter *d);
void sync_deadletter_close(sync_deadletter *d);

#endif
