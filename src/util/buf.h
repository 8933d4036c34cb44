/*
 * buf.h - growable byte buffer and {ptr,len} slices.
 *
 * A ce_buf owns its memory, grows geometrically and may carry a size cap
 * (max; 0 = unlimited): an append that would pass the cap fails with
 * CE_ELIMIT and leaves the buffer unchanged. Data is not NUL-terminated
 * unless ce_buf_cstr() is asked for. Reading by offset with lazy compaction:
 * consumers advance `off` and call ce_buf_compact() when convenient.
 */
#ifndef CE_BUF_H
#define CE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <string.h>
#include "util/err.h"

typedef struct {
    const char *ptr;
    size_t len;
} ce_slice;

typedef struct {
    char *data;
    size_t len;   /* bytes used */
    size_t cap;   /* bytes allocated */
    size_t max;   /* cap on len, 0 = none */
    size_t off;   /* read offset for consumers that drain from the front */
} ce_buf;

#define CE_BUF_INIT {NULL, 0, 0, 0, 0}

/* Initialise an empty buffer with an optional cap (0 = unlimited). No allocation. */
void ce_buf_init(ce_buf *b, size_t max);
/* Release the memory; the buffer is empty and reusable afterwards. NULL is a no-op. */
void ce_buf_free(ce_buf *b);
/* Forget the contents but keep the memory. */
static inline void ce_buf_reset(ce_buf *b) { b->len = 0; b->off = 0; }
ce_err ce_buf_reserve_slow(ce_buf *b, size_t extra);
/* Room for `extra` more bytes already there (and the cap not passed): the common case of
 * the hot writers, kept inline (it was 4-5 % of C->E's CPU as a call). */
static inline int ce_buf_has_room(const ce_buf *b, size_t extra)
{
    return b->cap > b->len && extra < b->cap - b->len && (!b->max || (b->len <= b->max && extra <= b->max - b->len));
}
/* Make room for `extra` more bytes. CE_ENOMEM or CE_ELIMIT on failure, buffer unchanged. */
static inline ce_err ce_buf_reserve(ce_buf *b, size_t extra)
{
    return ce_buf_has_room(b, extra) ? CE_OK : ce_buf_reserve_slow(b, extra);
}
/* Append bytes. Failure leaves the buffer unchanged. */
static inline ce_err ce_buf_append(ce_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return CE_OK;
    ce_err e = ce_buf_reserve(b, n);
    if (e)
        return e;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return CE_OK;
}
ce_err ce_buf_append_str(ce_buf *b, const char *s);
ce_err ce_buf_append_byte_slow(ce_buf *b, uint8_t c);
/* One byte: the common case (room left, no cap reached) inline, hot in the JSON writers. */
static inline ce_err ce_buf_append_byte(ce_buf *b, uint8_t c)
{
    if (b->len + 1 < b->cap && (!b->max || b->len + 1 <= b->max)) {
        b->data[b->len++] = (char)c;
        return CE_OK;
    }
    return ce_buf_append_byte_slow(b, c);
}
/* printf-style append. */
ce_err ce_buf_printf(ce_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
ce_err ce_buf_vprintf(ce_buf *b, const char *fmt, va_list ap);
/* NUL-terminate (not counted in len) and return data; "" for an empty, unallocated
 * buffer. NULL on allocation failure. The pointer is valid until the next append. */
const char *ce_buf_cstr(ce_buf *b);
/* Drop the bytes before `off` (moves the rest to the front). */
void ce_buf_compact(ce_buf *b);
/* Take the memory out of the buffer: caller frees the returned pointer (NUL-terminated).
 * The buffer is left empty. NULL on allocation failure. */
char *ce_buf_steal(ce_buf *b, size_t *len_out);

/* Large blocks (page bodies, frame assembly): a small process-wide free list, so that a
 * block of a size seen before is reused instead of being mapped afresh and faulted in
 * page by page. ce_bigmem_get returns a malloc'd block of at least `need` bytes (its size
 * in *cap; sizes from 128 KiB to 16 MiB are rounded up to a power of two), or NULL.
 * ce_bigmem_put gives it back (kept when the list has room: at most 8 blocks, 16 MiB; else
 * freed); a block from ce_bigmem_get may also be free()d or realloc()ed like any other.
 * NULL is a no-op. Thread-safe. */
void *ce_bigmem_get(size_t need, size_t *cap);
void ce_bigmem_put(void *p, size_t cap);
/* Free every block the list keeps (tests, leak checks). */
void ce_bigmem_trim(void);

/* Big-endian appends for protocol encoders. */
ce_err ce_buf_put_u8(ce_buf *b, uint8_t v);
ce_err ce_buf_put_u16(ce_buf *b, uint16_t v);
ce_err ce_buf_put_u32(ce_buf *b, uint32_t v);
ce_err ce_buf_put_u64(ce_buf *b, uint64_t v);

#endif
