/*
 * state.h - the one owner of the state folder.
 *
 * Every file casselastic keeps between runs lives in one folder (`state_dir`): checkpoints,
 * the bulk-load marker, the status file, the pidfile, the default dead-letter file. This
 * module is the only place that names them, escapes sync names into file names, creates
 * the folder and writes files atomically. Nothing else builds a path into the folder.
 *
 * Layout (<sync> is the sync name with bytes outside [A-Za-z0-9_-] and a leading '.'
 * percent-encoded, e.g. "a/b" -> "a%2Fb"; <dir> is to_es or to_cassandra):
 *   <state_dir>/<sync>.<dir>.checkpoint.json   SYNC_STATE_CHECKPOINT
 *   <state_dir>/<sync>.to_es.bulkload          SYNC_STATE_BULKLOAD (index in bulk-load settings)
 *   <state_dir>/casselastic.status.json        SYNC_STATE_STATUS
 *   <state_dir>/casselastic.pid                SYNC_STATE_PIDFILE
 *   <state_dir>/casselastic.deadletter.jsonl   SYNC_STATE_DEADLETTER (default dead_letter_path)
 *   <state_dir>/lastruntime.log                SYNC_STATE_LASTRUNTIME (PyCassElastic's start point)
 *   <state_dir>/<sync>.verify.json             SYNC_STATE_VERIFY (progress of `verify`, resumable)
 *   <state_dir>/casselastic.verify.json        SYNC_STATE_VERIFY_LAST (each sync's last verify: `status`)
 * Files are created 0600 and folders 0700: checkpoints and status name hosts and indexes.
 */
#ifndef CE_SYNC_STATE_H
#define CE_SYNC_STATE_H

#include <stddef.h>
#include "util/buf.h"
#include "util/err.h"

typedef enum {
    SYNC_STATE_CHECKPOINT = 0, /* needs sync and direction */
    SYNC_STATE_BULKLOAD,       /* needs sync */
    SYNC_STATE_STATUS,
    SYNC_STATE_PIDFILE,
    SYNC_STATE_DEADLETTER,
    SYNC_STATE_LASTRUNTIME,
    SYNC_STATE_VERIFY,         /* needs sync */
    SYNC_STATE_VERIFY_LAST,
} sync_state_file;

/* Mode of every file in the state folder, and of the folders created for it. */
#define SYNC_STATE_FILE_MODE 0600
#define SYNC_STATE_DIR_MODE 0700

/*
 * Path of one state file, appended to out (NUL-terminated; reset it first to get the path
 * alone). sync is required for CHECKPOINT, BULKLOAD and VERIFY, direction for CHECKPOINT; both are
 * ignored otherwise. CE_EINVAL when state_dir is NULL/empty or a required name is missing;
 * CE_ENOMEM when the buffer cannot grow.
 */
ce_err sync_state_path(ce_buf *out, const char *state_dir, sync_state_file kind, const char *sync,
                       const char *direction);

/* The same into a fixed array: CE_EINVAL also when the path does not fit in n bytes. */
ce_err sync_state_path_fixed(char *out, size_t n, const char *state_dir, sync_state_file kind,
                             const char *sync, const char *direction);

/*
 * mkdir -p: create dir and its missing parents (new folders get SYNC_STATE_DIR_MODE). CE_OK
 * when dir exists as a folder afterwards; CE_EINVAL for an empty or too long path; CE_EIO
 * otherwise (errno tells why).
 */
ce_err sync_state_mkdir(const char *dir);

/*
 * Write a whole file atomically: a temp file beside it (O_EXCL), write, fsync, rename over
 * path, fsync of the folder. mode 0 = SYNC_STATE_FILE_MODE. On failure the old file (if any)
 * is untouched and no temp file is left. CE_ENOTFOUND when the folder does not exist,
 * CE_EIO otherwise.
 */
ce_err sync_state_write_atomic(const char *path, const char *data, size_t len, int mode);

#endif
