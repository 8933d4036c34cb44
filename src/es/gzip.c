/* gzip.c - gzip (RFC 1952) compression of request bodies with zlib (codec, no I/O). */
#include "es/es_int.h"

#include <zlib.h>

ce_err es_gzip(const char *in, size_t n, ce_buf *out, int level)
{
    if (n > (size_t)UINT32_MAX)
        return CE_ELIMIT;
    z_stream z = {0};
    /* windowBits 15 + 16 = gzip wrapper; memLevel 8 is zlib's default. */
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return CE_ENOMEM;
    uLong bound = deflateBound(&z, (uLong)n);
    ce_err e = ce_buf_reserve(out, (size_t)bound + 32);
    if (e) {
        deflateEnd(&z);
        return e;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out->data + out->len;
    z.avail_out = (uInt)(out->cap - out->len - 1);
    int rc = deflate(&z, Z_FINISH);
    if (rc != Z_STREAM_END) {
        deflateEnd(&z);
        return CE_EIO;
    }
    out->len += (size_t)z.total_out;
    deflateEnd(&z);
    return CE_OK;
}
