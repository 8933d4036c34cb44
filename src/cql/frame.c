/*
 * frame.c - the CQL wire codec below message bodies: envelopes and v5 frames.
 *
 * An envelope is a message with the 9-byte header (version, flags, stream, opcode,
 * length). Protocol v4 sends envelopes back to back, a body optionally LZ4-compressed
 * (4-byte big-endian uncompressed length + LZ4 block). Protocol v5 sends the first
 * exchange (OPTIONS, STARTUP -> READY/AUTHENTICATE) as bare envelopes and then wraps
 * envelopes in frames:
 *   CRC frame:  3-byte LE header (17-bit payload length, bit 17 = self-contained),
 *               3-byte LE CRC24 of it, payload, 4-byte LE CRC32 of the payload.
 *   LZ4 frame:  5-byte LE header (17-bit compressed length, 17-bit uncompressed
 *               length, bit 34 = self-contained), 3-byte LE CRC24 of those 5 bytes,
 *               payload (raw when uncompressed length is 0), CRC32 of the payload.
 * A self-contained frame holds one or more whole envelopes; a larger envelope is cut
 * over several non-self-contained frames.
 *
 * The decoder is fed bytes and hands back whole messages: it works whether bytes
 * arrive whole, one at a time, or split anywhere. It never touches a socket.
 */
#include "cql/cql_int.h"

#include <assert.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>

void cql_msg_clear(cql_msg *m)
{
    if (!m)
        return;
    if (m->mem)
        ce_bigmem_put(m->mem, m->mem_cap);
    else
        free(m->body);
    m->body = m->mem = NULL;
    m->len = m->mem_cap = 0;
}

/* Room for a body of n bytes in m: a large one from the ce_bigmem free list. */
static bool msg_body_alloc(cql_msg *m, size_t n)
{
    if (n >= CQL_BIGMEM_MIN) {
        m->mem = ce_bigmem_get(n, &m->mem_cap);
        m->body = m->mem;
    } else {
        m->body = malloc(n ? n : 1);
    }
    return m->body != NULL;
}

/* The whole of src (one envelope, header first) becomes m's body without a copy: a large
 * message assembled from frames. */
static void msg_body_steal(cql_msg *m, ce_buf *src, size_t len)
{
    m->mem = (uint8_t *)src->data;
    m->mem_cap = src->cap;
    m->body = m->mem + src->off + CQL_HEADER_LEN;
    m->len = len;
    ce_buf_init(src, src->max);
}

static uint32_t get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

/* ---------------------------------------------------------------- decoder */

void cql_decoder_init(cql_decoder *d, size_t max_body)
{
    memset(d, 0, sizeof *d);
    ce_buf_init(&d->in, 0);
    ce_buf_init(&d->payload, 0);
    ce_buf_init(&d->large, 0);
    d->max_body = max_body ? max_body : CQL_DEFAULT_MAX_BODY;
}

void cql_decoder_free(cql_decoder *d)
{
    if (!d)
        return;
    ce_buf_free(&d->in);
    ce_buf_free(&d->payload);
    ce_buf_free(&d->large);
}

void cql_decoder_set_mode(cql_decoder *d, cql_wire_mode mode, bool lz4)
{
    d->mode = mode;
    d->lz4 = lz4;
}

static void in_compact(ce_buf *b)
{
    if (b->off == b->len) {
        b->off = b->len = 0;
    } else if (b->off > 65536 && b->off > b->len / 2) {
        ce_buf_compact(b);
    }
}

ce_err cql_decoder_feed(cql_decoder *d, const uint8_t *p, size_t n)
{
    if (d->failed)
        return d->failed; /* a broken stream stays broken: nothing more is buffered */
    in_compact(&d->in);
    return ce_buf_append(&d->in, p, n);
}

uint8_t *cql_decoder_space(cql_decoder *d, size_t want)
{
    if (d->failed)
        return NULL; /* as feed: a broken stream takes no more bytes */
    in_compact(&d->in);
    if (ce_buf_reserve(&d->in, want))
        return NULL;
    return (uint8_t *)d->in.data + d->in.len;
}

ce_err cql_decoder_commit(cql_decoder *d, size_t n)
{
    if (d->failed)
        return d->failed;
    assert(n <= d->in.cap - d->in.len);
    d->in.len += n;
    return CE_OK;
}

static ce_err dec_fail(cql_decoder *d, ce_err e, const char *why)
{
    d->failed = e;
    snprintf(d->errmsg, sizeof d->errmsg, "%s", why);
    return e;
}

/* LZ4 expands at most 255 times (plus a few bytes for the last literals): a larger
 * stated size is a lie, refused before anything is allocated for it. */
static bool lz4_size_plausible(uint64_t compressed, uint64_t uncompressed)
{
    return uncompressed <= 255 * compressed + 16;
}

/* The header fields of envelope h into m. */
static void msg_header(cql_msg *m, const uint8_t *h)
{
    m->version = h[0] & 0x7f;
    m->flags = h[1];
    m->stream = (int16_t)(uint16_t)((h[2] << 8) | h[3]);
    m->opcode = h[4];
}

/* An envelope whose body (len bytes) is over the limit: it comes out as a dropped message.
 * A body already whole in src is skipped; otherwise (v4, bytes still arriving) what is
 * here is dropped and the decoder drains the rest as it comes (cql_decoder_next). */
static ce_err drop_envelope(cql_decoder *d, ce_buf *src, const uint8_t *h, uint32_t len, cql_msg *m)
{
    size_t avail = src->len - src->off - CQL_HEADER_LEN;
    msg_header(m, h);
    m->dropped = len;
    if (avail >= len) {
        src->off += CQL_HEADER_LEN + len;
        return CE_OK;
    }
    if (src != &d->in) {
        memset(m, 0, sizeof *m);
        return CE_EAGAIN; /* a partial envelope inside a v5 frame: the caller refuses it */
    }
    d->drain_msg = *m;
    d->drain_left = len - avail;
    src->off = src->len;
    memset(m, 0, sizeof *m);
    return CE_EAGAIN;
}

/* v4: drop the next bytes of a body being drained; CE_OK with m once all of it is gone. */
static ce_err drain_step(cql_decoder *d, cql_msg *m)
{
    size_t avail = d->in.len - d->in.off, n = avail < d->drain_left ? avail : d->drain_left;
    d->in.off += n;
    d->drain_left -= n;
    in_compact(&d->in);
    if (d->drain_left)
        return CE_EAGAIN;
    *m = d->drain_msg;
    memset(&d->drain_msg, 0, sizeof d->drain_msg);
    return CE_OK;
}

/* Take one envelope from src (at src->off) if it is complete. allow_lz4: a body with
 * the compression flag is an LZ4 body (v4); otherwise the flag is an error (v5 frames
 * compress at the frame level). */
static ce_err take_envelope(cql_decoder *d, ce_buf *src, bool allow_lz4, cql_msg *m)
{
    size_t avail = src->len - src->off;
    if (avail < CQL_HEADER_LEN)
        return CE_EAGAIN;
    const uint8_t *h = (const uint8_t *)src->data + src->off;
    if (!(h[0] & 0x80))
        return dec_fail(d, CE_EPROTO, "envelope is not a response");
    uint8_t ver = h[0] & 0x7f;
    if (ver < 3 || ver > 6)
        return dec_fail(d, CE_EPROTO, "unknown protocol version in envelope");
    uint32_t len = get_be32(h + 5);
    if (len > d->max_body)
        return drop_envelope(d, src, h, len, m);
    if (avail - CQL_HEADER_LEN < len)
        return CE_EAGAIN;
    msg_header(m, h);
    const uint8_t *body = h + CQL_HEADER_LEN;
    if (m->flags & CQL_FLAG_COMPRESSION) {
        if (!allow_lz4)
            return dec_fail(d, CE_EPROTO, "compressed envelope inside a v5 frame");
        if (len < 4)
            return dec_fail(d, CE_EPROTO, "compressed body shorter than its length prefix");
        uint32_t ulen = get_be32(body);
        if (ulen > d->max_body || ulen > (uint32_t)INT32_MAX) {
            /* the compressed bytes are all here (len <= max_body): skip them */
            m->flags &= (uint8_t)~CQL_FLAG_COMPRESSION;
            m->dropped = ulen ? ulen : 1;
            src->off += CQL_HEADER_LEN + len;
            return CE_OK;
        }
        if (!lz4_size_plausible(len - 4, ulen))
            return dec_fail(d, CE_EPROTO, "LZ4 body claims more than its compressed size can hold");
        if (!msg_body_alloc(m, ulen))
            return dec_fail(d, CE_ENOMEM, "out of memory");
        if (len - 4 > (uint32_t)INT32_MAX)
            return dec_fail(d, CE_EPROTO, "bad compressed length");
        int r = LZ4_decompress_safe((const char *)body + 4, (char *)m->body, (int)(len - 4), (int)ulen);
        if (r < 0 || (uint32_t)r != ulen) {
            cql_msg_clear(m);
            return dec_fail(d, CE_EPROTO, "LZ4 body does not decompress to its stated length");
        }
        m->len = ulen;
        m->flags &= (uint8_t)~CQL_FLAG_COMPRESSION;
    } else if (src == &d->large) {
        msg_body_steal(m, src, len);
        return CE_OK;
    } else {
        if (!msg_body_alloc(m, len))
            return dec_fail(d, CE_ENOMEM, "out of memory");
        memcpy(m->body, body, len);
        m->len = len;
    }
    src->off += CQL_HEADER_LEN + len;
    return CE_OK;
}

/* The whole message's room at once, in a block of the ce_bigmem free list (reused from
 * one page to the next, never grown by doubling). CE_ENOMEM. */
static ce_err large_room(cql_decoder *d)
{
    size_t want = d->large_need + 1; /* ce_buf keeps room for a NUL */
    if (d->large.cap >= want)
        return CE_OK;
    size_t cap = 0;
    char *p = ce_bigmem_get(want, &cap);
    if (!p)
        return CE_ENOMEM;
    if (d->large.len)
        memcpy(p, d->large.data, d->large.len);
    free(d->large.data);
    d->large.data = p;
    d->large.cap = cap;
    return CE_OK;
}

/* After a frame of a large message: on its first frame, the envelope header says how long
 * the message is (over the limit: only the header is kept, the rest dropped as it comes). */
static ce_err large_track(cql_decoder *d)
{
    if (!d->large_need) {
        if (d->large.len < CQL_HEADER_LEN)
            return dec_fail(d, CE_EPROTO, "first frame of a large message lacks its header");
        const uint8_t *lh = (const uint8_t *)d->large.data;
        if (!(lh[0] & 0x80) || (lh[0] & 0x7f) < 3 || (lh[0] & 0x7f) > 6)
            return dec_fail(d, CE_EPROTO, "large message header is not a response");
        uint32_t blen = get_be32(lh + 5);
        d->large_need = CQL_HEADER_LEN + (size_t)blen;
        if (blen > d->max_body) {
            d->large_drop = true;
            d->large_got = d->large.len;
            d->large.len = CQL_HEADER_LEN;
            if (d->large_got > d->large_need)
                return dec_fail(d, CE_EPROTO, "large message frames overrun the message");
            return CE_OK;
        }
        /* sized at once up to 16 MiB; a larger claim grows as its bytes arrive */
        if (d->large.len <= d->large_need && d->large_need <= ((size_t)16 << 20) && large_room(d))
            return dec_fail(d, CE_ENOMEM, "out of memory");
    }
    if (d->large.len > d->large_need)
        return dec_fail(d, CE_EPROTO, "large message frames overrun the message");
    return CE_OK;
}

/* Parse the next v5 frame from d->in. Sets *got when a frame was consumed. */
static ce_err take_frame(cql_decoder *d, bool *got)
{
    *got = false;
    size_t hlen = d->lz4 ? 8 : 6;
    size_t avail = d->in.len - d->in.off;
    if (avail < hlen)
        return CE_EAGAIN;
    const uint8_t *h = (const uint8_t *)d->in.data + d->in.off;
    size_t plen, ulen = 0;
    bool self;
    if (d->lz4) {
        uint64_t h5 = get_le(h, 5);
        uint32_t crc = (uint32_t)get_le(h + 5, 3);
        if (cql_crc24(h5, 5) != crc)
            return dec_fail(d, CE_EPROTO, "v5 frame header CRC24 mismatch");
        plen = (size_t)(h5 & 0x1ffff);
        ulen = (size_t)((h5 >> 17) & 0x1ffff);
        self = (h5 >> 34) & 1;
    } else {
        uint64_t h3 = get_le(h, 3);
        uint32_t crc = (uint32_t)get_le(h + 3, 3);
        if (cql_crc24(h3, 3) != crc)
            return dec_fail(d, CE_EPROTO, "v5 frame header CRC24 mismatch");
        plen = (size_t)(h3 & 0x1ffff);
        self = (h3 >> 17) & 1;
    }
    if (avail < hlen + plen + 4)
        return CE_EAGAIN;
    const uint8_t *payload = h + hlen;
    uint32_t want_crc = (uint32_t)get_le(payload + plen, 4);
    if (cql_crc32_v5(payload, plen) != want_crc)
        return dec_fail(d, CE_EPROTO, "v5 frame payload CRC32 mismatch");
    ce_buf *dst;
    if (self) {
        if (d->large_need)
            return dec_fail(d, CE_EPROTO, "self-contained frame inside a large message");
        if (d->payload.off != d->payload.len)
            return dec_fail(d, CE_EPROTO, "frame payload left over");
        ce_buf_reset(&d->payload);
        dst = &d->payload;
    } else {
        dst = &d->large;
    }
    if (ulen && !lz4_size_plausible(plen, ulen))
        return dec_fail(d, CE_EPROTO, "LZ4 frame claims more than its compressed size can hold");
    size_t add = ulen ? ulen : plen;
    if (!self && d->large_drop) {
        /* a message over the limit: its frames are checked and counted, never kept */
        d->large_got += add;
        d->in.off += hlen + plen + 4;
        *got = true;
        if (d->large_got > d->large_need)
            return dec_fail(d, CE_EPROTO, "large message frames overrun the message");
        return CE_OK;
    }
    /* A frame holds at most 128 KiB; the envelopes in it are checked one by one. */
    if (!self && d->large_need && dst->len + add > d->max_body + CQL_HEADER_LEN)
        return dec_fail(d, CE_ELIMIT, "message larger than the limit");
    if (ce_buf_reserve(dst, add))
        return dec_fail(d, CE_ENOMEM, "out of memory");
    if (ulen) {
        int r = LZ4_decompress_safe((const char *)payload, dst->data + dst->len, (int)plen, (int)ulen);
        if (r < 0 || (size_t)r != ulen)
            return dec_fail(d, CE_EPROTO, "LZ4 frame does not decompress to its stated length");
    } else if (plen) {
        memcpy(dst->data + dst->len, payload, plen);
    }
    dst->len += add;
    d->in.off += hlen + plen + 4;
    *got = true;
    return self ? CE_OK : large_track(d);
}

ce_err cql_decoder_next(cql_decoder *d, cql_msg *m)
{
    memset(m, 0, sizeof *m);
    if (d->failed)
        return d->failed;
    if (d->mode == CQL_WIRE_ENVELOPES) {
        if (d->drain_left)
            return drain_step(d, m);
        ce_err e = take_envelope(d, &d->in, true, m);
        in_compact(&d->in);
        return e;
    }
    for (;;) {
        if (d->large_drop && d->large_got == d->large_need) {
            msg_header(m, (const uint8_t *)d->large.data);
            m->dropped = d->large_need - CQL_HEADER_LEN;
            ce_buf_reset(&d->large);
            d->large_need = d->large_got = 0;
            d->large_drop = false;
            return CE_OK;
        }
        if (d->payload.off < d->payload.len) {
            ce_err e = take_envelope(d, &d->payload, false, m);
            if (e == CE_EAGAIN)
                return dec_fail(d, CE_EPROTO, "self-contained frame holds a partial envelope");
            if (d->payload.off == d->payload.len)
                ce_buf_reset(&d->payload);
            return e;
        }
        if (d->large_need && d->large.len == d->large_need) {
            ce_err e = take_envelope(d, &d->large, false, m);
            if (e == CE_EAGAIN)
                return dec_fail(d, CE_EPROTO, "large message incomplete");
            ce_buf_reset(&d->large);
            d->large_need = 0;
            if (d->large.cap > (1u << 20))
                ce_buf_free(&d->large); /* do not keep a huge buffer around */
            return e;
        }
        bool got;
        ce_err e = take_frame(d, &got);
        in_compact(&d->in);
        if (e)
            return e;
    }
}

/* ---------------------------------------------------------------- encoder */

void cql_encoder_init(cql_encoder *e, int version)
{
    memset(e, 0, sizeof *e);
    e->version = version;
    ce_buf_init(&e->env, 0);
    ce_buf_init(&e->out, 0);
}

void cql_encoder_free(cql_encoder *e)
{
    if (!e)
        return;
    ce_buf_free(&e->env);
    ce_buf_free(&e->out);
}

void cql_encoder_set_mode(cql_encoder *e, cql_wire_mode mode, bool lz4)
{
    e->mode = mode;
    e->lz4 = lz4;
}

static ce_buf *enc_target(cql_encoder *e)
{
    return e->mode == CQL_WIRE_V5_FRAMES ? &e->env : &e->out;
}

ce_buf *cql_encoder_begin(cql_encoder *e, int16_t stream, uint8_t opcode, size_t *mark)
{
    ce_buf *b = enc_target(e);
    if (b == &e->out && b->off == b->len)
        b->off = b->len = 0;
    *mark = b->len;
    uint8_t h[CQL_HEADER_LEN] = {(uint8_t)e->version, 0, (uint8_t)((uint16_t)stream >> 8),
                                 (uint8_t)((uint16_t)stream & 0xff), opcode, 0, 0, 0, 0};
    if (ce_buf_append(b, h, sizeof h))
        return NULL;
    return b;
}

void cql_encoder_abort(cql_encoder *e, size_t mark)
{
    ce_buf *b = enc_target(e);
    if (mark <= b->len)
        b->len = mark;
}

ce_err cql_encoder_end(cql_encoder *e, size_t mark)
{
    ce_buf *b = enc_target(e);
    size_t blen = b->len - mark - CQL_HEADER_LEN;
    uint8_t *h = (uint8_t *)b->data + mark;
    if (blen > CQL_DEFAULT_MAX_BODY) {
        b->len = mark;
        return CE_ELIMIT;
    }
    if (e->lz4 && e->mode == CQL_WIRE_ENVELOPES && blen > 0 && h[4] != CQL_OP_STARTUP &&
        h[4] != CQL_OP_OPTIONS) {
        /* v4 compressed body: [u32 BE uncompressed length][LZ4 block] */
        int bound = LZ4_compressBound((int)blen);
        uint8_t *tmp = malloc((size_t)bound + 4);
        if (!tmp) {
            b->len = mark;
            return CE_ENOMEM;
        }
        tmp[0] = (uint8_t)(blen >> 24);
        tmp[1] = (uint8_t)(blen >> 16);
        tmp[2] = (uint8_t)(blen >> 8);
        tmp[3] = (uint8_t)blen;
        int c = LZ4_compress_default((const char *)h + CQL_HEADER_LEN, (char *)tmp + 4, (int)blen, bound);
        if (c <= 0) {
            free(tmp);
            b->len = mark;
            return CE_EIO;
        }
        b->len = mark + CQL_HEADER_LEN;
        ce_err err = ce_buf_append(b, tmp, (size_t)c + 4);
        free(tmp);
        if (err) {
            b->len = mark;
            return err;
        }
        h = (uint8_t *)b->data + mark;
        h[1] |= CQL_FLAG_COMPRESSION;
        blen = (size_t)c + 4;
    }
    h[5] = (uint8_t)(blen >> 24);
    h[6] = (uint8_t)(blen >> 16);
    h[7] = (uint8_t)(blen >> 8);
    h[8] = (uint8_t)blen;
    return CE_OK;
}

ce_err cql_frame_v5_write(ce_buf *out, const uint8_t *payload, size_t n, bool self_contained, bool lz4)
{
    if (n > CQL_V5_MAX_PAYLOAD)
        return CE_EINVAL;
    if (!lz4) {
        ce_err err = ce_buf_reserve(out, n + 10);
        if (err)
            return err;
        uint64_t h3 = n | (self_contained ? (1u << 17) : 0);
        uint8_t *p = (uint8_t *)out->data + out->len;
        put_le(p, h3, 3);
        put_le(p + 3, cql_crc24(h3, 3), 3);
        if (n)
            memcpy(p + 6, payload, n);
        put_le(p + 6 + n, cql_crc32_v5(payload, n), 4);
        out->len += n + 10;
        return CE_OK;
    }
    int bound = LZ4_compressBound((int)n);
    size_t room = (size_t)bound > n ? (size_t)bound : n;
    ce_err err = ce_buf_reserve(out, room + 12);
    if (err)
        return err;
    uint8_t *p = (uint8_t *)out->data + out->len;
    int c = n ? LZ4_compress_default((const char *)payload, (char *)p + 8, (int)n, bound) : 0;
    size_t clen, ulen;
    if (c <= 0 || (size_t)c >= n) {
        /* not worth it: store raw, uncompressed length 0 says so */
        if (n)
            memcpy(p + 8, payload, n);
        clen = n;
        ulen = 0;
    } else {
        clen = (size_t)c;
        ulen = n;
    }
    uint64_t h5 = (uint64_t)clen | ((uint64_t)ulen << 17) | (self_contained ? (1ull << 34) : 0);
    put_le(p, h5, 5);
    put_le(p + 5, cql_crc24(h5, 5), 3);
    put_le(p + 8 + clen, cql_crc32_v5(p + 8, clen), 4);
    out->len += clen + 12;
    return CE_OK;
}

ce_err cql_encoder_flush(cql_encoder *e)
{
    if (e->mode != CQL_WIRE_V5_FRAMES || e->env.len == 0)
        return CE_OK;
    if (e->out.off == e->out.len)
        e->out.off = e->out.len = 0;
    const uint8_t *base = (const uint8_t *)e->env.data;
    size_t pos = 0, total = e->env.len;
    ce_err err = CE_OK;
    while (pos < total && !err) {
        size_t envlen = CQL_HEADER_LEN + get_be32(base + pos + 5);
        if (envlen > CQL_V5_MAX_PAYLOAD) {
            /* large envelope: consecutive non-self-contained frames */
            size_t done = 0;
            while (done < envlen && !err) {
                size_t n = envlen - done > CQL_V5_MAX_PAYLOAD ? CQL_V5_MAX_PAYLOAD : envlen - done;
                err = cql_frame_v5_write(&e->out, base + pos + done, n, false, e->lz4);
                done += n;
            }
            pos += envlen;
            continue;
        }
        /* pack as many whole envelopes as fit in one self-contained frame */
        size_t start = pos, n = 0;
        while (pos < total) {
            size_t l = CQL_HEADER_LEN + get_be32(base + pos + 5);
            if (n + l > CQL_V5_MAX_PAYLOAD)
                break;
            n += l;
            pos += l;
        }
        err = cql_frame_v5_write(&e->out, base + start, n, true, e->lz4);
    }
    ce_buf_reset(&e->env);
    if (e->env.cap > (4u << 20))
        ce_buf_free(&e->env);
    return err;
}

/* ---------------------------------------------------------------- response prefix */

bool cql_msg_body_skip_prefix(const cql_msg *m, cql_rd *r, size_t *nwarnings)
{
    cql_rd_init(r, m->body, m->len);
    if (nwarnings)
        *nwarnings = 0;
    if (m->flags & CQL_FLAG_TRACING)
        cql_rd_raw(r, 16);
    if (m->flags & CQL_FLAG_WARNING) {
        size_t n = cql_rd_u16(r);
        for (size_t i = 0; i < n && !r->err; i++)
            cql_rd_string(r);
        if (nwarnings)
            *nwarnings = n;
    }
    if (m->flags & CQL_FLAG_CUSTOM_PAYLOAD) {
        size_t n = cql_rd_u16(r);
        for (size_t i = 0; i < n && !r->err; i++) {
            cql_rd_string(r);
            cql_rd_bytes(r);
        }
    }
    return !r->err;
}
