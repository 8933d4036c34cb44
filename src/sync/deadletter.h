/*
 * deadletter.h - documents that could not be converted or were refused go here, one
 * JSON line each: {"ts":"...","sync":"...","direction":"to_es","id":"...",
 * "reason":"...","doc":<the document or null>}. Each line is one write(2), so a crash
 * of the process loses none; sync_deadletter_sync puts them on disk (the pass calls it
 * before saving a checkpoint that passes them). Thread-safe.
 *
 * One bad item costs one line: a line equal to one of the last 64k lines written or found
 * at open in the last 4 MiB of the file (compared without its "ts") is not written again,
 * and the write says it was a repeat. The same item with another document or reason is a
 * new line.
 */
#ifndef CE_SYNC_DEADLETTER_H
#define CE_SYNC_DEADLETTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/err.h"

typedef struct sync_deadletter sync_deadletter;

/* Open (create/append) the file; the folder must exist. A torn last line (the file does
 * not end with '\n': a full disk, a crash) is cut off first, with a warning saying how
 * many bytes were dropped (sync_deadletter_dropped). CE_ENOTFOUND without the folder,
 * CE_EIO when the file cannot be opened or repaired. */
ce_err sync_deadletter_open(const char *path, sync_deadletter **out);
/* sync_deadletter_open remembering the last `lines` lines (default 65536), reading the
 * last tail_bytes of the file at open (default 4 MiB) to find them. CE_EINVAL for 0 lines. */
ce_err sync_deadletter_open_sized(const char *path, size_t lines, size_t tail_bytes, sync_deadletter **out);
/* doc: JSON text of the document (written raw when valid JSON, else as a string);
 * NULL = null. A line the writer remembers (same sync, direction, id, reason and doc) is
 * not written: CE_OK with *repeat true (repeat may be NULL). Otherwise one append. */
ce_err sync_deadletter_write(sync_deadletter *d, const char *sync, const char *direction,
                             const char *id, const char *reason, const char *doc, size_t doc_len,
                             bool *repeat);
/* fdatasync the lines written since the last call (nothing to do: CE_OK at once).
 * CE_EIO when the disk refuses: the lines may be lost, do not pass them. NULL: CE_OK. */
ce_err sync_deadletter_sync(sync_deadletter *d);
/* Whether lines were written that sync_deadletter_sync has not put on disk yet. */
bool sync_deadletter_pending(const sync_deadletter *d);
/* Bytes of a torn last line cut off when the file was opened (0: none). */
uint64_t sync_deadletter_dropped(const sync_deadletter *d);
/* Lines written by this writer; repeats (writes left out as repeats). */
size_t sync_deadletter_count(const sync_deadletter *d);
size_t sync_deadletter_repeats(const sync_deadletter *d);
void sync_deadletter_close(sync_deadletter *d);

#endif
