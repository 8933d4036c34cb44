/*
 * pidfile.c - <state_dir>/casselastic.pid (path from sync/state.c), both a record (the pid,
 * for `status` and `stop`) and a lock: the owner holds flock(LOCK_EX) on it for its whole
 * life, so a pidfile left by a crashed process is recognised as stale even when its pid was
 * reused. Created 0600 like every file of the state folder.
 */
#include "cli/cli_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sync/state.h"

struct cli_pidfile {
    int fd;
    char path[PATH_MAX];
};

static long read_pid_fd(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    return pid > 0 ? pid : 0;
}

/* Locked fd: is it still the file at p->path (the previous owner may have unlinked it
 * between our open and flock)? If so, record our pid in it. */
static ce_err claim(cli_pidfile *p, bool *retry)
{
    struct stat a, b;
    *retry = false;
    if (fstat(p->fd, &a) != 0 || stat(p->path, &b) != 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
        *retry = true;
        return CE_EIO;
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(p->fd, 0) != 0 || pwrite(p->fd, buf, (size_t)n, 0) != n)
        return CE_EIO;
    return CE_OK;
}

ce_err cli_pidfile_acquire(const char *state_dir, cli_pidfile **out, long *holder_pid)
{
    *out = NULL;
    if (holder_pid)
        *holder_pid = 0;
    cli_pidfile *p = calloc(1, sizeof *p);
    if (!p)
        return CE_ENOMEM;
    ce_err err = sync_state_path_fixed(p->path, sizeof p->path, state_dir, SYNC_STATE_PIDFILE, NULL, NULL);
    for (int attempt = 0; !err && attempt < 3; attempt++) {
        p->fd = open(p->path, O_RDWR | O_CREAT | O_CLOEXEC, SYNC_STATE_FILE_MODE);
        if (p->fd < 0)
            break;
        if (flock(p->fd, LOCK_EX | LOCK_NB) != 0) {
            if (holder_pid)
                *holder_pid = read_pid_fd(p->fd);
            close(p->fd);
            free(p);
            return CE_ECONFLICT;
        }
        bool retry;
        err = claim(p, &retry);
        if (!err) {
            *out = p;
            return CE_OK;
        }
        close(p->fd);
        if (retry)
            err = CE_OK;
        else
            break;
    }
    free(p);
    return err ? err : CE_EIO;
}

void cli_pidfile_release(cli_pidfile *p)
{
    if (!p)
        return;
    unlink(p->path);
    close(p->fd); /* releases the lock */
    free(p);
}

bool cli_daemon_running(const char *state_dir, long *pid)
{
    if (pid)
        *pid = 0;
    char path[PATH_MAX];
    if (sync_state_path_fixed(path, sizeof path, state_dir, SYNC_STATE_PIDFILE, NULL, NULL) != CE_OK)
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    long p = read_pid_fd(fd);
    bool locked = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    if (pid)
        *pid = p;
    if (!locked)
        return false;
    /* The lock says someone holds it; kill(pid, 0) confirms the recorded pid. */
    return p <= 0 || kill((pid_t)p, 0) == 0 || errno == EPERM;
}
