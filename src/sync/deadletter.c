/*
 * deadletter.c - the dead-letter file: one JSON line per document that could not be
 * converted or was refused (see deadletter.h).
 *
 * Each line is built in memory and appended with a single write(2) on an O_APPEND
 * descriptor, so a crash of the process loses no line and concurrent writers never
 * interleave. fdatasync runs at most every DL_SYNC_INTERVAL_MS (a burst of rejected
 * documents must not cost one disk flush each) and always on close.
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
#include <time.h>
#include <unistd.h>

#include "sync/checkpoint.h"
#include "util/buf.h"
#include "util/jsonw.h"
#include "util/clock.h"

#define DL_SYNC_INTERVAL_MS 100

struct sync_deadletter {
    int fd;
    pthread_mutex_t mu;
    size_t count;
    int64_t last_sync_ms;
    bool dirty;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
    d->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (d->fd < 0) {
        int e = errno;
        free(d);
        return e == ENOENT ? CE_ENOTFOUND : CE_EIO;
    }
    pthread_mutex_init(&d->mu, NULL);
    d->last_sync_ms = ce_mono_ms();
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
        int64_t now = ce_mono_ms();
        if (now - d->last_sync_ms >= DL_SYNC_INTERVAL_MS) {
            if (fdatasync(d->fd) != 0)
                err = CE_EIO;
            d->dirty = false;
            d->last_sync_ms = now;
        }
    }
    pthread_mutex_unlock(&d->mu);
    ce_buf_free(&b);
    return err;
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
