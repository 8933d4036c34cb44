/*
 * state.c - every path in the state folder, mkdir -p and the atomic file write (state.h).
 *
 * Sync names become parts of file names, so they are percent-encoded here and only here.
 * The atomic write is the one crash-safe way a state file changes: a crash leaves either
 * the old or the new content, never a torn file.
 */
#include "sync/state.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static atomic_uint tmp_counter;

static ce_err append_escaped(ce_buf *b, const char *name)
{
    ce_err err = CE_OK;
    for (const unsigned char *p = (const unsigned char *)name; !err && *p; p++) {
        bool plain = isalnum(*p) || *p == '_' || *p == '-' || (*p == '.' && p != (const unsigned char *)name);
        err = plain ? ce_buf_append_byte(b, *p) : ce_buf_printf(b, "%%%02X", *p);
    }
    return err;
}

ce_err sync_state_path(ce_buf *out, const char *state_dir, sync_state_file kind, const char *sync,
                       const char *direction)
{
    if (!state_dir || !*state_dir)
        return CE_EINVAL;
    bool needs_sync = kind == SYNC_STATE_CHECKPOINT || kind == SYNC_STATE_BULKLOAD || kind == SYNC_STATE_VERIFY;
    if (needs_sync && (!sync || !*sync))
        return CE_EINVAL;
    if (kind == SYNC_STATE_CHECKPOINT && (!direction || !*direction))
        return CE_EINVAL;
    ce_err err = ce_buf_printf(out, "%s/", state_dir);
    if (!err && needs_sync)
        err = append_escaped(out, sync);
    if (err)
        return err;
    switch (kind) {
    case SYNC_STATE_CHECKPOINT: err = ce_buf_printf(out, ".%s.checkpoint.json", direction); break;
    case SYNC_STATE_BULKLOAD: err = ce_buf_append_str(out, ".to_es.bulkload"); break;
    case SYNC_STATE_STATUS: err = ce_buf_append_str(out, "casselastic.status.json"); break;
    case SYNC_STATE_PIDFILE: err = ce_buf_append_str(out, "casselastic.pid"); break;
    case SYNC_STATE_DEADLETTER: err = ce_buf_append_str(out, "casselastic.deadletter.jsonl"); break;
    case SYNC_STATE_LASTRUNTIME: err = ce_buf_append_str(out, "lastruntime.log"); break;
    case SYNC_STATE_VERIFY: err = ce_buf_append_str(out, ".verify.json"); break;
    case SYNC_STATE_VERIFY_LAST: err = ce_buf_append_str(out, "casselastic.verify.json"); break;
    default: return CE_EINVAL;
    }
    if (err)
        return err;
    return ce_buf_cstr(out) ? CE_OK : CE_ENOMEM;
}

ce_err sync_state_path_fixed(char *out, size_t n, const char *state_dir, sync_state_file kind,
                             const char *sync, const char *direction)
{
    ce_buf b = CE_BUF_INIT;
    ce_err err = sync_state_path(&b, state_dir, kind, sync, direction);
    if (!err && b.len >= n)
        err = CE_EINVAL;
    if (!err)
        memcpy(out, ce_buf_cstr(&b), b.len + 1);
    ce_buf_free(&b);
    return err;
}

ce_err sync_state_mkdir(const char *dir)
{
    char path[PATH_MAX];
    size_t n = dir ? strlen(dir) : 0;
    if (n == 0 || n >= sizeof path)
        return CE_EINVAL;
    memcpy(path, dir, n + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, SYNC_STATE_DIR_MODE) != 0 && errno != EEXIST)
            return CE_EIO;
        *p = '/';
    }
    if (mkdir(path, SYNC_STATE_DIR_MODE) != 0 && errno != EEXIST)
        return CE_EIO;
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? CE_OK : CE_EIO;
}

static ce_err write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return CE_EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return CE_OK;
}

/* fsync the folder holding `path` so the rename itself is durable. */
static ce_err fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n == 0)
            n = 1; /* "/file" */
        if (n >= sizeof dir)
            return CE_EINVAL;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return CE_EIO;
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? CE_OK : CE_EIO;
}

ce_err sync_state_write_atomic(const char *path, const char *data, size_t len, int mode)
{
    char tmp[PATH_MAX + 64];
    unsigned n = atomic_fetch_add(&tmp_counter, 1);
    int k = snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(), n);
    if (k < 0 || (size_t)k >= sizeof tmp)
        return CE_EINVAL;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode ? mode : SYNC_STATE_FILE_MODE);
    if (fd < 0)
        return errno == ENOENT ? CE_ENOTFOUND : CE_EIO;
    ce_err err = write_all(fd, data, len);
    if (!err && fsync(fd) != 0)
        err = CE_EIO;
    if (close(fd) != 0 && !err)
        err = CE_EIO;
    if (!err && rename(tmp, path) != 0)
        err = CE_EIO;
    if (err) {
        unlink(tmp);
        return err;
    }
    return fsync_parent(path);
}
