/* buf.c - growable byte buffer (see buf.h). */
#include "util/buf.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ce_buf_init(ce_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = b->off = 0;
    b->max = max;
}

void ce_buf_free(ce_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = b->off = 0;
}

ce_err ce_buf_reserve_slow(ce_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return CE_ELIMIT;
    size_t need = b->len + extra + 1; /* +1 keeps room for ce_buf_cstr's NUL */
    if (b->max && b->len + extra > b->max)
        return CE_ELIMIT;
    if (need <= b->cap)
        return CE_OK;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    char *nd = realloc(b->data, ncap);
    if (!nd)
        return CE_ENOMEM;
    b->data = nd;
    b->cap = ncap;
    return CE_OK;
}

ce_err ce_buf_append_str(ce_buf *b, const char *s)
{
    return ce_buf_append(b, s, strlen(s));
}

ce_err ce_buf_append_byte_slow(ce_buf *b, uint8_t c)
{
    if (b->len + 1 >= b->cap || (b->max && b->len + 1 > b->max)) {
        ce_err e = ce_buf_reserve(b, 1);
        if (e)
            return e;
    }
    b->data[b->len++] = (char)c;
    return CE_OK;
}

ce_err ce_buf_vprintf(ce_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return CE_EINVAL;
    if ((size_t)n < sizeof small)
        return ce_buf_append(b, small, (size_t)n);
    ce_err e = ce_buf_reserve(b, (size_t)n);
    if (e)
        return e;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return CE_OK;
}

ce_err ce_buf_printf(ce_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ce_err e = ce_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return e;
}

const char *ce_buf_cstr(ce_buf *b)
{
    if (!b->data) {
        if (ce_buf_reserve(b, 0))
            return NULL;
    }
    b->data[b->len] = '\0';
    return b->data;
}

void ce_buf_compact(ce_buf *b)
{
    if (b->off == 0)
        return;
    if (b->off >= b->len) {
        b->len = b->off = 0;
        return;
    }
    memmove(b->data, b->data + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
}

char *ce_buf_steal(ce_buf *b, size_t *len_out)
{
    if (!ce_buf_cstr(b))
        return NULL;
    char *p = b->data;
    if (len_out)
        *len_out = b->len;
    b->data = NULL;
    b->len = b->cap = b->off = 0;
    return p;
}

ce_err ce_buf_put_u8(ce_buf *b, uint8_t v) { return ce_buf_append_byte(b, v); }

ce_err ce_buf_put_u16(ce_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return ce_buf_append(b, x, 2);
}

ce_err ce_buf_put_u32(ce_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return ce_buf_append(b, x, 4);
}

ce_err ce_buf_put_u64(ce_buf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (56 - 8 * i));
    return ce_buf_append(b, x, 8);
}

/* ---------------------------------------------------------------- large blocks */

#define BIGMEM_MIN ((size_t)128 << 10)
#define BIGMEM_MAX ((size_t)16 << 20)
#define BIGMEM_KEEP 8
#define BIGMEM_KEEP_BYTES ((size_t)16 << 20)

static struct {
    pthread_mutex_t mu;
    void *p[BIGMEM_KEEP];
    size_t cap[BIGMEM_KEEP];
    size_t n, bytes;
} bigmem = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* The smallest kept block of at least need bytes, taken out of the list (NULL: none). */
static void *bigmem_take(size_t need, size_t *cap)
{
    void *p = NULL;
    pthread_mutex_lock(&bigmem.mu);
    size_t best = BIGMEM_KEEP;
    for (size_t i = 0; i < bigmem.n; i++)
        if (bigmem.cap[i] >= need && (best == BIGMEM_KEEP || bigmem.cap[i] < bigmem.cap[best]))
            best = i;
    if (best < BIGMEM_KEEP) {
        p = bigmem.p[best];
        *cap = bigmem.cap[best];
        bigmem.bytes -= *cap;
        bigmem.n--;
        bigmem.p[best] = bigmem.p[bigmem.n];
        bigmem.cap[best] = bigmem.cap[bigmem.n];
    }
    pthread_mutex_unlock(&bigmem.mu);
    return p;
}

void *ce_bigmem_get(size_t need, size_t *cap)
{
    if (need >= BIGMEM_MIN / 2 && need <= BIGMEM_MAX) {
        void *p = bigmem_take(need, cap);
        if (p)
            return p;
        size_t c = BIGMEM_MIN;
        while (c < need)
            c *= 2;
        need = c;
    }
    void *p = malloc(need ? need : 1);
    *cap = p ? need : 0;
    return p;
}

void ce_bigmem_put(void *p, size_t cap)
{
    if (!p)
        return;
    if (cap >= BIGMEM_MIN && cap <= BIGMEM_MAX) {
        pthread_mutex_lock(&bigmem.mu);
        bool kept = bigmem.n < BIGMEM_KEEP && bigmem.bytes + cap <= BIGMEM_KEEP_BYTES;
        if (kept) {
            bigmem.p[bigmem.n] = p;
            bigmem.cap[bigmem.n++] = cap;
            bigmem.bytes += cap;
        }
        pthread_mutex_unlock(&bigmem.mu);
        if (kept)
            return;
    }
    free(p);
}

void ce_bigmem_trim(void)
{
    pthread_mutex_lock(&bigmem.mu);
    for (size_t i = 0; i < bigmem.n; i++)
        free(bigmem.p[i]);
    bigmem.n = bigmem.bytes = 0;
    pthread_mutex_unlock(&bigmem.mu);
}
