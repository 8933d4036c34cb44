/*
 * cql_int.h - internals shared by the CQL client's files (not part of the public API).
 *
 * Layering, bottom up:
 *   crc.c     CRC24 / CRC32 of protocol v5 framing
 *   frame.c   envelopes (the 9-byte header messages of v4/v5), v5 frames (CRC, LZ4),
 *             the incremental decoder fed bytes that returns whole messages, and the
 *             encoder that turns queued envelopes into wire bytes
 *   msg.c     request body encoders (STARTUP, QUERY, EXECUTE, ...)
 *   result.c  response body decoders (RESULT kinds, ERROR details, SUPPORTED, EVENT)
 *   conn.c    one non-blocking connection (socket + optional TLS + stream ids)
 *   session.c / cluster.c / schema.c   the public session API on top
 * Codecs (crc, frame, msg, result) never touch sockets.
 */
#ifndef CE_CQL_INT_H
#define CE_CQL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cql/cql.h"
#include "util/buf.h"

/* ---------------------------------------------------------------- opcodes */
enum {
    CQL_OP_ERROR = 0x00,
    CQL_OP_STARTUP = 0x01,
    CQL_OP_READY = 0x02,
    CQL_OP_AUTHENTICATE = 0x03,
    CQL_OP_OPTIONS = 0x05,
    CQL_OP_SUPPORTED = 0x06,
    CQL_OP_QUERY = 0x07,
    CQL_OP_RESULT = 0x08,
    CQL_OP_PREPARE = 0x09,
    CQL_OP_EXECUTE = 0x0A,
    CQL_OP_REGISTER = 0x0B,
    CQL_OP_EVENT = 0x0C,
    CQL_OP_BATCH = 0x0D,
    CQL_OP_AUTH_CHALLENGE = 0x0E,
    CQL_OP_AUTH_RESPONSE = 0x0F,
    CQL_OP_AUTH_SUCCESS = 0x10
};

/* envelope header flags */
#define CQL_FLAG_COMPRESSION 0x01
#define CQL_FLAG_TRACING 0x02
#define CQL_FLAG_CUSTOM_PAYLOAD 0x04
#define CQL_FLAG_WARNING 0x08

#define CQL_HEADER_LEN 9
/* Bodies and cell indexes from this size on come from the ce_bigmem free list. */
#define CQL_BIGMEM_MIN ((size_t)64 << 10)
#define CQL_DEFAULT_MAX_BODY CQL_MAX_MESSAGE_DEFAULT
/* v5 frame payloads carry at most 2^17 - 1 bytes (17-bit length field). */
#define CQL_V5_MAX_PAYLOAD 131071u
#define CQL_MAX_TYPE_DEPTH 32
#define CQL_MAX_STREAMS 32768

/* ---------------------------------------------------------------- CRC (crc.c) */

/* CRC24 of the first len (<= 8) bytes of v, least significant byte first, as v5
 * frame headers use it (init 0x875060, polynomial 0x1974F0B). */
uint32_t cql_crc24(uint64_t v, int len);
/* CRC32 (IEEE, reflected) of data, seeded with Cassandra's bytes FA 2D 55 CA. */
uint32_t cql_crc32_v5(const uint8_t *data, size_t len);
/* Plain CRC32 (IEEE) continuing from crc (0 to start). */
uint32_t cql_crc32_update(uint32_t crc, const uint8_t *data, size_t len);

/* ---------------------------------------------------------------- wire reading */

/* A bounds-checked reader over a body. Any overrun sets err and returns zero
 * values; callers check err once at the end. */
typedef struct {
    const uint8_t *p, *end;
    bool err;
} cql_rd;

static inline void cql_rd_init(cql_rd *r, const uint8_t *p, size_t n)
{
    r->p = p;
    r->end = p ? p + n : p; /* an empty value may come as NULL (no offset on a null pointer) */
    r->err = false;
}
static inline size_t cql_rd_left(const cql_rd *r) { return (size_t)(r->end - r->p); }
static inline bool cql_rd_need(cql_rd *r, size_t n)
{
    if (r->err || cql_rd_left(r) < n) {
        r->err = true;
        return false;
    }
    return true;
}
static inline uint8_t cql_rd_u8(cql_rd *r)
{
    if (!cql_rd_need(r, 1))
        return 0;
    return *r->p++;
}
static inline uint16_t cql_rd_u16(cql_rd *r)
{
    if (!cql_rd_need(r, 2))
        return 0;
    uint16_t v = (uint16_t)((r->p[0] << 8) | r->p[1]);
    r->p += 2;
    return v;
}
static inline int32_t cql_rd_i32(cql_rd *r)
{
    if (!cql_rd_need(r, 4))
        return 0;
    uint32_t v = ((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) | ((uint32_t)r->p[2] << 8) | r->p[3];
    r->p += 4;
    return (int32_t)v;
}
static inline int64_t cql_rd_i64(cql_rd *r)
{
    uint64_t hi = (uint32_t)cql_rd_i32(r);
    uint64_t lo = (uint32_t)cql_rd_i32(r);
    return (int64_t)((hi << 32) | lo);
}
static inline const uint8_t *cql_rd_raw(cql_rd *r, size_t n)
{
    if (!cql_rd_need(r, n))
        return NULL;
    const uint8_t *p = r->p;
    if (n) /* an empty body may be NULL */
        r->p += n;
    return p;
}
/* [string]: slice (not NUL-terminated). */
static inline ce_slice cql_rd_string(cql_rd *r)
{
    ce_slice s = {NULL, 0};
    size_t n = cql_rd_u16(r);
    const uint8_t *p = cql_rd_raw(r, n);
    if (p) {
        s.ptr = (const char *)p;
        s.len = n;
    }
    return s;
}
/* [long string] */
static inline ce_slice cql_rd_long_string(cql_rd *r)
{
    ce_slice s = {NULL, 0};
    int32_t n = cql_rd_i32(r);
    if (n < 0) {
        r->err = true;
        return s;
    }
    const uint8_t *p = cql_rd_raw(r, (size_t)n);
    if (p) {
        s.ptr = (const char *)p;
        s.len = (size_t)n;
    }
    return s;
}
/* [bytes]: negative length = null (len -1). */
static inline cql_value cql_rd_bytes(cql_rd *r)
{
    cql_value v = {NULL, CQL_NULL};
    int32_t n = cql_rd_i32(r);
    if (r->err || n < 0)
        return v;
    const uint8_t *p = cql_rd_raw(r, (size_t)n);
    if (p) {
        v.ptr = p;
        v.len = n;
    }
    return v;
}
/* [short bytes] */
static inline cql_value cql_rd_short_bytes(cql_rd *r)
{
    cql_value v = {NULL, 0};
    size_t n = cql_rd_u16(r);
    const uint8_t *p = cql_rd_raw(r, n);
    if (p) {
        v.ptr = p;
        v.len = (int32_t)n;
    }
    return v;
}
/* NUL-terminated malloc'd copy of a slice; NULL on allocation failure. */
char *cql_slice_dup(ce_slice s);
/* Copy slice into fixed buffer, truncating, always NUL-terminated. */
void cql_slice_copy(char *dst, size_t cap, ce_slice s);

/* ---------------------------------------------------------------- wire writing (msg.c) */
ce_err cql_wr_string(ce_buf *b, const char *s, size_t n);
ce_err cql_wr_long_string(ce_buf *b, const char *s, size_t n);
ce_err cql_wr_value(ce_buf *b, cql_value v);
ce_err cql_wr_short_bytes(ce_buf *b, const uint8_t *p, size_t n);

/* ---------------------------------------------------------------- envelopes + frames (frame.c) */

/* One decoded message (envelope). body is owned by whoever holds the message; free with
 * cql_msg_clear. A large body lives in a block of the ce_bigmem free list (mem, mem_cap:
 * body points into it) and goes back there; otherwise mem is NULL and body is malloc'd. */
typedef struct {
    uint8_t version; /* without the direction bit */
    uint8_t flags;
    int16_t stream;
    uint8_t opcode;
    uint8_t *body;
    size_t len;
    uint8_t *mem;
    size_t mem_cap;
    size_t dropped;  /* > 0: the body (this many bytes) was over the limit: read and
                        dropped without being kept; body is NULL, len 0 */
} cql_msg;

void cql_msg_clear(cql_msg *m);

/* Decoder modes. */
typedef enum {
    CQL_WIRE_ENVELOPES = 0, /* v4, or v5 before STARTUP completes: bare 9-byte-header messages */
    CQL_WIRE_V5_FRAMES = 1  /* v5 after READY/AUTHENTICATE: CRC frames (LZ4 frames when lz4) */
} cql_wire_mode;

typedef struct {
    ce_buf in;               /* bytes not yet consumed (read offset = in.off) */
    cql_wire_mode mode;
    bool lz4;                /* v4: compressed bodies; v5 frames: LZ4 frame format */
    size_t max_body;         /* hard cap on one message body */
    /* v5: payload of the current self-contained frame, consumed by offset */
    ce_buf payload;
    /* v5: a large message spread over non-self-contained frames */
    ce_buf large;
    size_t large_need;       /* total envelope bytes expected (header + body), 0 = none */
    bool large_drop;         /* that message is over max_body: only its header is kept */
    size_t large_got;        /* ... and the bytes of it received so far */
    size_t drain_left;       /* v4: bytes of an over-limit body still to read and drop */
    cql_msg drain_msg;       /* ... and its header (dropped = its body length) */
    ce_err failed;           /* sticky error */
    char errmsg[128];
} cql_decoder;

/* max_body 0 = CQL_DEFAULT_MAX_BODY. */
void cql_decoder_init(cql_decoder *d, size_t max_body);
void cql_decoder_free(cql_decoder *d);
/* Switch mode (between messages). lz4 applies to both modes as described above. */
void cql_decoder_set_mode(cql_decoder *d, cql_wire_mode mode, bool lz4);
/* Append received bytes. Once the decoder has failed it refuses more input and returns
 * its first error again (nothing is buffered). */
ce_err cql_decoder_feed(cql_decoder *d, const uint8_t *p, size_t n);
/* Room to receive into directly: returns a pointer to at least `want` writable bytes;
 * call cql_decoder_commit with how many were written. NULL on allocation failure and,
 * as feed refuses input, once the decoder has failed (d->failed then says so). */
uint8_t *cql_decoder_space(cql_decoder *d, size_t want);
/* Take n bytes written into the space: CE_OK, or once the decoder has failed its first
 * error again (nothing is taken). */
ce_err cql_decoder_commit(cql_decoder *d, size_t n);
/* Next whole message: CE_OK (m filled, caller owns m->body), CE_EAGAIN (need more
 * bytes), or an error (CE_EPROTO malformed/CRC mismatch, CE_ENOMEM); errors are sticky,
 * details in d->errmsg. A message whose body is over max_body is not an error: its bytes
 * are read and dropped as they arrive (never held), then it comes out with body NULL and
 * m->dropped = its body length, and the stream goes on with the next message. */
ce_err cql_decoder_next(cql_decoder *d, cql_msg *m);

/* Encoder: requests are appended as envelopes; for v5 framing they wait in `env`
 * until cql_encoder_flush wraps them into frames in `out`. */
typedef struct {
    int version;             /* 4 or 5 */
    cql_wire_mode mode;
    bool lz4;
    ce_buf env;              /* v5 framed: envelopes not yet framed */
    ce_buf out;              /* wire bytes ready to send (read offset out.off) */
} cql_encoder;

void cql_encoder_init(cql_encoder *e, int version);
void cql_encoder_free(cql_encoder *e);
void cql_encoder_set_mode(cql_encoder *e, cql_wire_mode mode, bool lz4);
/* Start an envelope: writes the header with a placeholder length into the right
 * buffer and returns it; append the body to it, then call cql_encoder_end. */
ce_buf *cql_encoder_begin(cql_encoder *e, int16_t stream, uint8_t opcode, size_t *mark);
/* Finish the envelope begun at mark (patches length, compresses for v4 lz4). */
ce_err cql_encoder_end(cql_encoder *e, size_t mark);
/* Drop a half-written envelope (encoding failed). */
void cql_encoder_abort(cql_encoder *e, size_t mark);
/* v5 framed: move queued envelopes into frames in `out`. No-op otherwise. */
ce_err cql_encoder_flush(cql_encoder *e);
/* Bytes waiting in out. */
static inline size_t cql_encoder_pending(const cql_encoder *e) { return e->out.len - e->out.off; }

/* Build one v5 frame from payload (used by the encoder and tests). */
ce_err cql_frame_v5_write(ce_buf *out, const uint8_t *payload, size_t n, bool self_contained, bool lz4);

/* Body start after optional tracing id / warnings / custom payload of a response.
 * warnings (if not NULL) receives the number of warnings. Returns false if malformed. */
bool cql_msg_body_skip_prefix(const cql_msg *m, cql_rd *r, size_t *nwarnings);

/* ---------------------------------------------------------------- request bodies (msg.c) */

/* Parameters for QUERY / EXECUTE bodies. */
typedef struct {
    const cql_value *values;
    size_t nvalues;
    const char *const *names;   /* bound by name when not NULL */
    bool skip_metadata;
    const cql_query_opts *q;    /* may be NULL: ONE, no paging */
} cql_params;

ce_err cql_msg_startup(ce_buf *b, bool lz4);
ce_err cql_msg_auth_plain(ce_buf *b, const char *user, const char *pass);
ce_err cql_msg_query(ce_buf *b, int version, const char *cql, size_t len, const cql_params *p);
ce_err cql_msg_prepare(ce_buf *b, int version, const char *cql, size_t len, const char *keyspace);
ce_err cql_msg_execute(ce_buf *b, int version, const uint8_t *id, size_t idlen, const uint8_t *mdid,
                       size_t mdidlen, const cql_params *p);
/* BATCH entry: prepared (id) or a query text. */
typedef struct {
    const uint8_t *id; size_t idlen;     /* prepared when id != NULL */
    const char *cql;                     /* else query text */
    const cql_value *values;
    size_t nvalues;
} cql_batch_entry;
ce_err cql_msg_batch(ce_buf *b, int version, int type, const cql_batch_entry *e, size_t n,
                     const cql_query_opts *q);
ce_err cql_msg_register(ce_buf *b, const char *const *events, size_t n);

/* ---------------------------------------------------------------- responses (result.c) */

typedef struct {
    char *keyspace, *table, *name;
    cql_type *type;
} cql_colspec;

typedef struct {
    size_t ncols;
    cql_colspec *cols;
    size_t npk;
    uint16_t *pk_index;     /* prepared bind metadata only */
} cql_colset;

void cql_colset_free(cql_colset *c);

struct cql_result {
    cql_result_kind kind;
    uint8_t *body;          /* the response body: cells point into it */
    size_t body_len;
    uint8_t *mem;           /* the body's ce_bigmem block (NULL: body is malloc'd) */
    size_t mem_cap;
    size_t cell_cap;        /* cell_off's ce_bigmem block size (0: malloc'd) */
    /* rows */
    cql_colset own_cols;    /* metadata from this result */
    const cql_colset *cols; /* = &own_cols, or a prepared statement's (skip-metadata) */
    size_t nrows;
    uint32_t *cell_off;     /* nrows * ncols offsets of each cell's [bytes] length */
    bool has_more;
    cql_value paging_state;
    cql_value new_metadata_id; /* v5 metadata changed */
    /* prepared */
    cql_value prepared_id, result_metadata_id;
    cql_colset bind_cols;   /* parameters (with pk indexes) */
    /* set_keyspace / schema_change */
    char *keyspace, *change_type, *target, *object;
    size_t nwarnings;
};

/* Parse a RESULT message; takes ownership of m->body on success and on failure
 * (the message is cleared either way). skip_cols: metadata to use when the server
 * omitted it (skip-metadata). CE_EPROTO with a reason in err (may be NULL). */
ce_err cql_result_parse(cql_msg *m, int version, const cql_colset *skip_cols, cql_result **out,
                        char *err, size_t errcap);
/* Parse an ERROR body into info. */
ce_err cql_error_parse(const cql_msg *m, int version, cql_error_info *info, cql_value *unprepared_id);
/* Parse column type option (recursive, depth-capped). */
ce_err cql_type_read(cql_rd *r, int depth, cql_type **out);

/* SUPPORTED: does option key list value v? */
bool cql_supported_has(const cql_msg *m, const char *key, const char *value);
/* AUTHENTICATE: authenticator class name into buf. */
ce_err cql_authenticate_parse(const cql_msg *m, char *buf, size_t cap);

typedef struct {
    char type[32];          /* TOPOLOGY_CHANGE, STATUS_CHANGE, SCHEMA_CHANGE */
    char change[32];        /* NEW_NODE, UP, DOWN, ... */
    char addr[64];          /* textual IP for topology/status */
    int port;
} cql_event;
ce_err cql_event_parse(const cql_msg *m, cql_event *ev);

/* Text of an [inet] address bytes (4 or 16) into buf. */
void cql_inet_format(const uint8_t *p, size_t n, char *buf, size_t cap);

/* ---------------------------------------------------------------- schema.c (pure part) */

/* Whether n schema_version cells (one per host asked) agree: n > 0 and every cell is a
 * value equal to the first (a null or missing cell, len < 0, never agrees). */
bool cql_schema_versions_agree(const cql_value *vs, size_t n);

#endif
