/*
 * checkpoint.h - per sync and direction progress, saved atomically.
 *
 * A checkpoint says "everything whose window column is below position_ms was read and
 * acknowledged by the other side". It only moves after the other side acknowledged
 * (bulk items final, Cassandra writes confirmed). Files live in the state directory:
 *   <state_dir>/<sync name>.<direction>.checkpoint.json      (direction: to_es | to_cassandra)
 * written with sync_state_write_atomic (state.h). `extra` carries engine data
 * (e.g. finished token ranges of a full scan) as a JSON text the engine owns.
 */
#ifndef CE_SYNC_CHECKPOINT_H
#define CE_SYNC_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/err.h"

typedef struct {
    int64_t position_ms;        /* window start for the next pass */
    int64_t updated_ms;         /* wall clock when saved */
    /* last pass figures (for status) */
    int64_t last_pass_started_ms, last_pass_finished_ms;
    uint64_t last_read, last_written, last_conflicts, last_skipped, last_rejected;
    char *extra;                /* JSON text or NULL; owned by the struct */
    char *target;               /* what the position is about ("keyspace.table index"), or
                                   NULL (files written before it was kept); owned */
} sync_checkpoint;

/* Load. CE_ENOTFOUND when no checkpoint exists; CE_EJSON when the file is corrupt
 * (the caller decides; the file is left in place). */
ce_err sync_checkpoint_load(const char *state_dir, const char *sync, const char *direction,
                            sync_checkpoint *out);
/* The checkpoint of a JSON text (what sync_checkpoint_load reads from the file): CE_EJSON
 * when it is not an object with a position_ms and well-typed counters. *out is owned by
 * the caller (sync_checkpoint_clear) on CE_OK and zeroed otherwise. */
ce_err sync_checkpoint_parse(const char *text, size_t len, sync_checkpoint *out);
/* Save atomically (temp, fsync, rename, fsync dir). */
ce_err sync_checkpoint_save(const char *state_dir, const char *sync, const char *direction,
                            const sync_checkpoint *cp);
void sync_checkpoint_clear(sync_checkpoint *cp);

/* PyCassElastic's start point: "<dir>/lastruntime.log" holding "YYYYMMDD HH:MM" (UTC).
 * CE_ENOTFOUND if absent, CE_EINVAL if unparsable. */
ce_err sync_lastruntime_read(const char *dir, int64_t *ms_out);
/* Parse "YYYYMMDD HH:MM" (UTC) -> ms. Also accepts ISO 8601 in UTC:
 * "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS][Z]" (space instead of T allowed). CE_EINVAL otherwise. */
ce_err sync_parse_since(const char *text, int64_t *ms_out);

/* "2026-11-25T22:00:00.123Z" for a Unix time in ms (UTC). */
ce_err sync_format_iso_ms(int64_t ms, char out[32]);

#endif
