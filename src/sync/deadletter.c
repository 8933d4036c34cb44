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
 *
 * One bad item costs one line: the writer remembers a fingerprint (64-bit FNV-1a) of
 * each line's bytes after its "ts" field (sync, direction, id, reason, doc) for the last
 * DL_MEMORY_LINES lines, fed at open from the last DL_TAIL_BYTES of the file, so a line
 * equal to one remembered is not written again (a "repeat": the windows' overlap reads
 * the same poison item pass after pass). The memory is a ring of fingerprints in write
 * order (the oldest is forgotten first) indexed by an open-addressing table of ring
 * positions (linear probing, deletion by backward shift): 1 MiB in all.
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
#include "sync/sync_int.h"
#include "util/buf.h"
#include "util/jsonw.h"
#include "util/log.h"

#define DL_MEMORY_LINES ((size_t)1 << 16) /* fingerprints remembered */
#define DL_TAIL_BYTES ((size_t)4 << 20)    /* read at open to remember the file's lines */

/* The fingerprints of the last cap lines: ring in write order, slot -> ring position + 1. */
typedef struct {
    uint64_t *ring;
    uint32_t *slot;            /* 2 x cap (a power of two), 0 = empty */
    size_t cap, n, next;       /* ring: capacity, used, where the next goes */
} dl_memory;

struct sync_deadletter {
    int fd;
    pthread_mutex_t mu;
    dl_memory mem;
    size_t count;
    size_t repeats;            /* writes not done: the line was in the memory */
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

/* ---------------------------------------------------------------- the memory */

static size_t mem_home(const dl_memory *m, uint64_t fp)
{
    uint64_t h = fp ^ (fp >> 29); /* FNV's low bits alone spread poorly */
    h *= 0xbf58476d1ce4e5b9ULL;
    return (size_t)(h ^ (h >> 32)) & (2 * m->cap - 1);
}

static ce_err mem_init(dl_memory *m, size_t cap)
{
    size_t c = 1;
    while (c < cap)
        c <<= 1;
    m->cap = c;
    m->ring = malloc(c * sizeof *m->ring);
    m->slot = calloc(2 * c, sizeof *m->slot);
    return m->ring && m->slot ? CE_OK : CE_ENOMEM;
}

static void mem_free(dl_memory *m)
{
    free(m->ring);
    free(m->slot);
}

/* The table slot holding fp, or the empty slot where it would go. */
static size_t mem_find(const dl_memory *m, uint64_t fp)
{
    size_t mask = 2 * m->cap - 1, i = mem_home(m, fp);
    while (m->slot[i] && m->ring[m->slot[i] - 1] != fp)
        i = (i + 1) & mask;
    return i;
}

static bool mem_has(const dl_memory *m, uint64_t fp)
{
    return m->slot[mem_find(m, fp)] != 0;
}

/* Empty slot i, moving later entries of its probe run back (no tombstones). */
static void mem_unslot(dl_memory *m, size_t i)
{
    size_t mask = 2 * m->cap - 1, j = i;
    m->slot[i] = 0;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->slot[j])
            return;
        size_t home = mem_home(m, m->ring[m->slot[j] - 1]);
        /* the entry at j may move to i when its home is not in (i, j] (cyclically) */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->slot[i] = m->slot[j];
            m->slot[j] = 0;
            i = j;
        }
    }
}

/* Remember fp (known or not); a full ring forgets its oldest first. */
static void mem_add(dl_memory *m, uint64_t fp)
{
    if (mem_has(m, fp))
        return;
    if (m->n == m->cap)
        mem_unslot(m, mem_find(m, m->ring[m->next]));
    else
        m->n++;
    m->ring[m->next] = fp;
    m->slot[mem_find(m, fp)] = (uint32_t)(m->next + 1);
    m->next = (m->next + 1) % m->cap;
}

/* The part of a line its fingerprint covers: after {"ts":"...", up to the '\n'
 * (excluded). false for a line that does not start so (not one of ours). */
static bool line_body(const char *line, size_t len, const char **body, size_t *blen)
{
    static const char head[] = "{\"ts\":\"";
    size_t hl = sizeof head - 1;
    if (len < hl || memcmp(line, head, hl) != 0)
        return false;
    const char *q = memchr(line + hl, '"', len - hl);
    if (!q || (size_t)(q - line) + 2 > len || q[1] != ',')
        return false;
    *body = q + 2;
    *blen = len - (size_t)(q + 2 - line);
    if (*blen > 0 && (*body)[*blen - 1] == '\n')
        (*blen)--;
    return true;
}

static uint64_t fingerprint(const char *body, size_t len)
{
    return sync_fnv1a(SYNC_FNV1A_INIT, body, len);
}

/* Remember the complete lines of the last tail bytes of fd (repaired: ends with '\n');
 * a line cut by the start of that tail is skipped. */
static ce_err remember_tail(sync_deadletter *d, size_t tail)
{
    struct stat sb;
    if (fstat(d->fd, &sb) != 0)
        return CE_EIO;
    size_t size = (size_t)sb.st_size, n = size < tail ? size : tail;
    if (n == 0)
        return CE_OK;
    char *buf = malloc(n);
    if (!buf)
        return CE_ENOMEM;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(d->fd, buf + got, n - got, (off_t)(size - n + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    const char *p = buf, *end = buf + got;
    if (n < size || got < n) { /* the first line may be cut: start after its '\n' */
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) /* only when the read came short: not a complete line */
            break;
        const char *body;
        size_t blen;
        if (line_body(p, (size_t)(nl - p), &body, &blen))
            mem_add(&d->mem, fingerprint(body, blen));
        p = nl + 1;
    }
    free(buf);
    return got == n ? CE_OK : CE_EIO;
}

/* ---------------------------------------------------------------- the file */

ce_err sync_deadletter_open(const char *path, sync_deadletter **out)
{
    return sync_deadletter_open_sized(path, DL_MEMORY_LINES, DL_TAIL_BYTES, out);
}

ce_err sync_deadletter_open_sized(const char *path, size_t lines, size_t tail_bytes, sync_deadletter **out)
{
    if (!path || !out || lines == 0 || lines > UINT32_MAX / 4)
        return CE_EINVAL;
    *out = NULL;
    sync_deadletter *d = calloc(1, sizeof *d);
    if (!d)
        return CE_ENOMEM;
    if (mem_init(&d->mem, lines) != CE_OK) {
        mem_free(&d->mem);
        free(d);
        return CE_ENOMEM;
    }
    /* 0600: rejected documents may hold anything the tables hold. */
    d->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (d->fd < 0) {
        int e = errno;
        mem_free(&d->mem);
        free(d);
        return e == ENOENT ? CE_ENOTFOUND : CE_EIO;
    }
    ce_err rc = repair_tail(d->fd, path, &d->dropped);
    rc = rc ? rc : remember_tail(d, tail_bytes);
    if (rc) {
        close(d->fd);
        mem_free(&d->mem);
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

/* The line of one dead letter, '\n' included, into b. */
static ce_err build_line(ce_buf *b, const char *sync, const char *direction, const char *id,
                         const char *reason, const char *doc, size_t doc_len)
{
    char iso[32];
    sync_format_iso_ms(wall_ms(), iso);
    ce_err err = ce_buf_printf(b, "{\"ts\":\"%s\",\"sync\":", iso);
    if (!err)
        err = opt_string(b, sync);
    if (!err)
        err = ce_buf_append_str(b, ",\"direction\":");
    if (!err)
        err = opt_string(b, direction);
    if (!err)
        err = ce_buf_append_str(b, ",\"id\":");
    if (!err)
        err = opt_string(b, id);
    if (!err)
        err = ce_buf_append_str(b, ",\"reason\":");
    if (!err)
        err = opt_string(b, reason);
    if (!err)
        err = ce_buf_append_str(b, ",\"doc\":");
    if (!err) {
        if (!doc) {
            err = jsonw_null(b);
        } else {
            /* Raw only when it is one valid JSON value: the line must stay parseable. */
            json_error_t jerr;
            json_t *v = json_loadb(doc, doc_len, JSON_DECODE_ANY, &jerr);
            if (!v) {
                err = jsonw_string(b, doc, doc_len);
            } else if (!memchr(doc, '\n', doc_len) && !memchr(doc, '\r', doc_len)) {
                err = jsonw_raw(b, doc, doc_len);
            } else { /* pretty-printed: re-encode on one line */
                char *one = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                err = one ? ce_buf_append_str(b, one) : CE_ENOMEM;
                free(one);
            }
            json_decref(v);
        }
    }
    return err ? err : ce_buf_append_str(b, "}\n");
}

/* Append n bytes with write(2) (one call unless the kernel takes less). */
static ce_err append(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno != EINTR)
                return CE_EIO;
            continue;
        }
        p += w;
        n -= (size_t)w;
    }
    return CE_OK;
}

ce_err sync_deadletter_write(sync_deadletter *d, const char *sync, const char *direction,
                             const char *id, const char *reason, const char *doc, size_t doc_len,
                             bool *repeat)
{
    if (repeat)
        *repeat = false;
    if (!d)
        return CE_EINVAL;
    ce_buf b = CE_BUF_INIT;
    ce_err err = build_line(&b, sync, direction, id, reason, doc, doc_len);
    const char *body;
    size_t blen;
    if (err || !line_body(b.data, b.len, &body, &blen)) {
        ce_buf_free(&b);
        return err ? err : CE_EINVAL;
    }
    uint64_t fp = fingerprint(body, blen);
    pthread_mutex_lock(&d->mu);
    if (mem_has(&d->mem, fp)) {
        d->repeats++;
        if (repeat)
            *repeat = true;
    } else {
        err = append(d->fd, b.data, b.len);
        if (!err) {
            mem_add(&d->mem, fp);
            d->count++;
            d->dirty = true;
        }
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

/* One of the writer's counters, read under its lock (0 without a writer). */
static size_t counter(const sync_deadletter *d, const size_t *field)
{
    if (!d)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&d->mu);
    size_t n = *field;
    pthread_mutex_unlock((pthread_mutex_t *)&d->mu);
    return n;
}

size_t sync_deadletter_count(const sync_deadletter *d)
{
    return counter(d, d ? &d->count : NULL);
}

size_t sync_deadletter_repeats(const sync_deadletter *d)
{
    return counter(d, d ? &d->repeats : NULL);
}

void sync_deadletter_close(sync_deadletter *d)
{
    if (!d)
        return;
    if (d->dirty)
        fdatasync(d->fd);
    close(d->fd);
    pthread_mutex_destroy(&d->mu);
    mem_free(&d->mem);
    free(d);
}
