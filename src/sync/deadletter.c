/*
 * deadletter.c - the dead-letter file: one JSON line per document that could not be
 * converted or was refused (see deadletter.h).
 *
 * Each line is built in memory and appended with a single write(2) on an O_APPEND
 * descriptor, so a crash of the process loses no line and concurrent writers never
 * interleave. Durability is the checkpoint's business: sync_deadletter_sync (one
 * fdatasync, only when lines were written since the last one) runs before a checkpoint
 * that passes those items is saved, so a burst of rejected documents costs one disk
 * flush per pass, not one per line; close syncs too. A line torn by a full disk or a
 * crash (the file does not end with '\n') is cut off at the next open, with a warning.
 */
#include "sync/deadletter.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sync/checkpoint.h"
#include "util/buf.h"
#include "util/jsonw.h"
#include "util/log.h"

struct sync_deadletter {
    int fd;
    pthread_mutex_t mu;
    size_t count;
    uint64_t dropped;          /* bytes of a torn last line cut at open */
    bool dirty;                /* lines written since the last fdatasync */
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Offset just past the last '\n' in the first size bytes of fd (0 when none). */
static ce_err last_line_end(int fd, off_t size, off_t *end)
{
    char chunk[4096];
    off_t pos = size;
    while (pos > 0) {
        size_t n = pos < (off_t)sizeof chunk ? (size_t)pos : sizeof chunk;
        ssize_t r = pread(fd, chunk, n, pos - (off_t)n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r != (ssize_t)n)
            return CE_EIO;
        for (size_t i = n; i > 0; i--) {
            if (chunk[i - 1] == '\n') {
                *end = pos - (off_t)n + (off_t)i;
                return CE_OK;
            }
        }
        pos -= (off_t)n;
    }
    *end = 0;
    return CE_OK;
}

/* Cut a torn last line (no final '\n') so that the next line starts on its own. */
static ce_err repair_tail(int fd, const char *path, uint64_t *dropped)
{
    struct stat sb;
    char last;
    *dropped = 0;
    if (fstat(fd, &sb) != 0)
        return CE_EIO;
    if (sb.st_size == 0)
        return CE_OK;
    if (pread(fd, &last, 1, sb.st_size - 1) != 1)
        return CE_EIO;
    if (last == '\n')
        return CE_OK;
    off_t end;
    ce_err rc = last_line_end(fd, sb.st_size, &end);
    if (rc)
        return rc;
    if (ftruncate(fd, end) != 0 || fdatasync(fd) != 0)
        return CE_EIO;
    *dropped = (uint64_t)(sb.st_size - end);
    char qp[CE_LOG_QUOTE_MAX];
    ce_warn("msg=\"dead-letter file ended with a torn line; cut it\" path=%s dropped_bytes=%llu",
            ce_log_quote(qp, sizeof qp, path), (unsigned long long)*dropped);
    return CE_OK;
}

ce_err sync_deadletter_open(const char *path, sync_deadletter **out)
{
    if (!path || !out)
        return CE_EINVAL;
    *out = NULL;
    sync_deadletter *d = calloc(1, sizeof *d);
    if (!d)
        return CE_ENOMEM;
    /* 0600: rejected documents may hold anything the tables hold. */
    d->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (d->fd < 0) {
        int e = errno;
        free(d);
        return e == ENOENT ? CE_ENOTFOUND : CE_EIO;
    }
    ce_err rc = repair_tail(d->fd, path, &d->dropped);
    if (rc) {
        close(d->fd);
        free(d);
        return rc;
    }
    pthread_mutex_init(&d->mu, NULL);
    *out = d;
    return CE_OK;
}

static ce_err opt_string(ce_buf *b, const char *s)
{
    return s ? jsonw_cstr(b, s) : jsonw_null(b);
}

ce_err sync_deadletter_write(sync_deadletter *d, const char *sync, const char *direction,
                             const char *id, const char *reason, const char *doc, size_t doc_len)
{
    if (!d)
        return CE_EINVAL;
    ce_buf b = CE_BUF_INIT;
    char iso[32];
    sync_format_iso_ms(wall_ms(), iso);
    ce_err err = ce_buf_printf(&b, "{\"ts\":\"%s\",\"sync\":", iso);
    if (!err)
        err = opt_string(&b, sync);
    if (!err)
        err = ce_buf_append_str(&b, ",\"direction\":");
    if (!err)
        err = opt_string(&b, direction);
    if (!err)
        err = ce_buf_append_str(&b, ",\"id\":");
    if (!err)
        err = opt_string(&b, id);
    if (!err)
        err = ce_buf_append_str(&b, ",\"reason\":");
    if (!err)
        err = opt_string(&b, reason);
    if (!err)
        err = ce_buf_append_str(&b, ",\"doc\":");
    if (!err) {
        if (!doc) {
            err = jsonw_null(&b);
        } else {
            /* Raw only when it is one valid JSON value: the line must stay parseable. */
            json_error_t jerr;
            json_t *v = json_loadb(doc, doc_len, JSON_DECODE_ANY, &jerr);
            if (!v) {
                err = jsonw_string(&b, doc, doc_len);
            } else if (!memchr(doc, '\n', doc_len) && !memchr(doc, '\r', doc_len)) {
                err = jsonw_raw(&b, doc, doc_len);
            } else { /* pretty-printed: re-encode on one line */
                char *one = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                err = one ? ce_buf_append_str(&b, one) : CE_ENOMEM;
                free(one);
            }
            json_decref(v);
        }
    }
    if (!err)
        err = ce_buf_append_str(&b, "}\n");
    if (err) {
        ce_buf_free(&b);
        return err;
    }
    pthread_mutex_lock(&d->mu);
    const char *p = b.data;
    size_t n = b.len;
    while (n > 0 && !err) {
        ssize_t w = write(d->fd, p, n);
        if (w < 0) {
            if (errno != EINTR)
                err = CE_EIO;
            continue;
        }
        p += w;
        n -= (size_t)w;
    }
    if (!err) {
        d->count++;
        d->dirty = true;
    }
    pthread_mutex_unlock(&d->mu);
    ce_buf_free(&b);
    return err;
}

ce_err sync_deadletter_sync(sync_deadletter *d)
{
    if (!d)
        return CE_OK;
    pthread_mutex_lock(&d->mu);
    ce_err err = CE_OK;
    if (d->dirty) {
        if (fdatasync(d->fd) != 0)
            err = CE_EIO;
        else
            d->dirty = false;
    }
    pthread_mutex_unlock(&d->mu);
    return err;
}

bool sync_deadletter_pending(const sync_deadletter *d)
{
    if (!d)
        return false;
    pthread_mutex_lock((pthread_mutex_t *)&d->mu);
    bool p = d->dirty;
    pthread_mutex_unlock((pthread_mutex_t *)&d->mu);
    return p;
}

uint64_t sync_deadletter_dropped(const sync_deadletter *d)
{
    return d ? d->dropped : 0;
}

size_t sync_deadletter_count(const sync_deadletter *d)
{
    if (!d)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&d->mu);
    size_t n = d->count;
    pthread_mutex_unlock((pthread_mutex_t *)&d->mu);
    return n;
}

void sync_deadletter_close(sync_deadletter *d)
{
    if (!d)
        return;
    if (d->dirty)
        fdatasync(d->fd);
    close(d->fd);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
