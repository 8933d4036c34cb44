/*
 * msg.c - request body encoders (STARTUP, AUTH_RESPONSE, QUERY, PREPARE, EXECUTE,
 * BATCH, REGISTER) for protocol v4 and v5. Pure byte building into a ce_buf; the
 * envelope header around the body is written by frame.c.
 */
#include "cql/cql_int.h"

#include <stdlib.h>
#include "version.h"

/* query parameter flags */
#define QF_VALUES 0x01
#define QF_SKIP_METADATA 0x02
#define QF_PAGE_SIZE 0x04
#define QF_PAGING_STATE 0x08
#define QF_SERIAL 0x10
#define QF_TIMESTAMP 0x20
#define QF_NAMES 0x40
#define QF_KEYSPACE 0x80

char *cql_slice_dup(ce_slice s)
{
    char *d = malloc(s.len + 1);
    if (!d)
        return NULL;
    if (s.len)
        memcpy(d, s.ptr, s.len);
    d[s.len] = '\0';
    return d;
}

void cql_slice_copy(char *dst, size_t cap, ce_slice s)
{
    if (!cap)
        return;
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n)
        memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

ce_err cql_wr_string(ce_buf *b, const char *s, size_t n)
{
    if (n > 0xffff)
        return CE_ELIMIT;
    ce_err e = ce_buf_put_u16(b, (uint16_t)n);
    return e ? e : ce_buf_append(b, s, n);
}

ce_err cql_wr_long_string(ce_buf *b, const char *s, size_t n)
{
    if (n > (size_t)INT32_MAX)
        return CE_ELIMIT;
    ce_err e = ce_buf_put_u32(b, (uint32_t)n);
    return e ? e : ce_buf_append(b, s, n);
}

ce_err cql_wr_value(ce_buf *b, cql_value v)
{
    if (v.len < 0) {
        if (v.len != CQL_NULL && v.len != CQL_UNSET)
            return CE_EINVAL;
        return ce_buf_put_u32(b, (uint32_t)v.len);
    }
    ce_err e = ce_buf_put_u32(b, (uint32_t)v.len);
    return e ? e : ce_buf_append(b, v.ptr, (size_t)v.len);
}

ce_err cql_wr_short_bytes(ce_buf *b, const uint8_t *p, size_t n)
{
    if (n > 0xffff)
        return CE_ELIMIT;
    ce_err e = ce_buf_put_u16(b, (uint16_t)n);
    return e ? e : ce_buf_append(b, p, n);
}

static ce_err wr_cstr(ce_buf *b, const char *s)
{
    return cql_wr_string(b, s, strlen(s));
}

ce_err cql_msg_startup(ce_buf *b, bool lz4)
{
    ce_err e = ce_buf_put_u16(b, lz4 ? 4 : 3);
    if (!e) e = wr_cstr(b, "CQL_VERSION");
    if (!e) e = wr_cstr(b, "3.0.0");
    if (!e) e = wr_cstr(b, "DRIVER_NAME");
    if (!e) e = wr_cstr(b, "casselastic");
    if (!e) e = wr_cstr(b, "DRIVER_VERSION");
    if (!e) e = wr_cstr(b, CE_VERSION);
    if (!e && lz4) {
        e = wr_cstr(b, "COMPRESSION");
        if (!e) e = wr_cstr(b, "lz4");
    }
    return e;
}

ce_err cql_msg_auth_plain(ce_buf *b, const char *user, const char *pass)
{
    size_t ul = strlen(user), pl = strlen(pass);
    if (ul + pl + 2 > (size_t)INT32_MAX)
        return CE_ELIMIT;
    ce_err e = ce_buf_put_u32(b, (uint32_t)(ul + pl + 2));
    if (!e) e = ce_buf_append_byte(b, 0);
    if (!e) e = ce_buf_append(b, user, ul);
    if (!e) e = ce_buf_append_byte(b, 0);
    if (!e) e = ce_buf_append(b, pass, pl);
    return e;
}

static ce_err wr_flags(ce_buf *b, int version, uint32_t flags)
{
    return version >= 5 ? ce_buf_put_u32(b, flags) : ce_buf_put_u8(b, (uint8_t)flags);
}

static ce_err wr_params(ce_buf *b, int version, const cql_params *p)
{
    const cql_query_opts *q = p->q;
    uint32_t flags = 0;
    if (p->nvalues)
        flags |= QF_VALUES;
    if (p->nvalues && p->names)
        flags |= QF_NAMES;
    if (p->skip_metadata)
        flags |= QF_SKIP_METADATA;
    if (q) {
        if (q->page_size > 0)
            flags |= QF_PAGE_SIZE;
        if (q->paging_state.ptr && q->paging_state.len > 0)
            flags |= QF_PAGING_STATE;
        if (q->serial_consistency)
            flags |= QF_SERIAL;
        if (q->timestamp != INT64_MIN)
            flags |= QF_TIMESTAMP;
        if (q->keyspace && version >= 5)
            flags |= QF_KEYSPACE;
    }
    if (p->nvalues > 0xffff)
        return CE_ELIMIT;
    ce_err e = ce_buf_put_u16(b, (uint16_t)(q ? q->consistency : CQL_CONSISTENCY_ONE));
    if (!e) e = wr_flags(b, version, flags);
    if (!e && (flags & QF_VALUES)) {
        e = ce_buf_put_u16(b, (uint16_t)p->nvalues);
        for (size_t i = 0; i < p->nvalues && !e; i++) {
            if (flags & QF_NAMES)
                e = wr_cstr(b, p->names[i]);
            if (!e)
                e = cql_wr_value(b, p->values[i]);
        }
    }
    if (!e && (flags & QF_PAGE_SIZE))
        e = ce_buf_put_u32(b, (uint32_t)q->page_size);
    if (!e && (flags & QF_PAGING_STATE))
        e = cql_wr_value(b, q->paging_state);
    if (!e && (flags & QF_SERIAL))
        e = ce_buf_put_u16(b, (uint16_t)q->serial_consistency);
    if (!e && (flags & QF_TIMESTAMP))
        e = ce_buf_put_u64(b, (uint64_t)q->timestamp);
    if (!e && (flags & QF_KEYSPACE))
        e = wr_cstr(b, q->keyspace);
    return e;
}

ce_err cql_msg_query(ce_buf *b, int version, const char *cql, size_t len, const cql_params *p)
{
    ce_err e = cql_wr_long_string(b, cql, len);
    return e ? e : wr_params(b, version, p);
}

ce_err cql_msg_prepare(ce_buf *b, int version, const char *cql, size_t len, const char *keyspace)
{
    ce_err e = cql_wr_long_string(b, cql, len);
    if (!e && version >= 5) {
        e = ce_buf_put_u32(b, keyspace ? 0x01 : 0);
        if (!e && keyspace)
            e = wr_cstr(b, keyspace);
    }
    return e;
}

ce_err cql_msg_execute(ce_buf *b, int version, const uint8_t *id, size_t idlen, const uint8_t *mdid,
                       size_t mdidlen, const cql_params *p)
{
    ce_err e = cql_wr_short_bytes(b, id, idlen);
    if (!e && version >= 5)
        e = cql_wr_short_bytes(b, mdid, mdidlen);
    return e ? e : wr_params(b, version, p);
}

ce_err cql_msg_batch(ce_buf *b, int version, int type, const cql_batch_entry *en, size_t n,
                     const cql_query_opts *q)
{
    if (n > 0xffff)
        return CE_ELIMIT;
    ce_err e = ce_buf_put_u8(b, (uint8_t)type);
    if (!e) e = ce_buf_put_u16(b, (uint16_t)n);
    for (size_t i = 0; i < n && !e; i++) {
        if (en[i].id) {
            e = ce_buf_put_u8(b, 1);
            if (!e) e = cql_wr_short_bytes(b, en[i].id, en[i].idlen);
        } else {
            e = ce_buf_put_u8(b, 0);
            if (!e) e = cql_wr_long_string(b, en[i].cql, strlen(en[i].cql));
        }
        if (!e && en[i].nvalues > 0xffff)
            e = CE_ELIMIT;
        if (!e) e = ce_buf_put_u16(b, (uint16_t)en[i].nvalues);
        for (size_t k = 0; k < en[i].nvalues && !e; k++)
            e = cql_wr_value(b, en[i].values[k]);
    }
    uint32_t flags = 0;
    if (q && q->serial_consistency)
        flags |= QF_SERIAL;
    if (q && q->timestamp != INT64_MIN)
        flags |= QF_TIMESTAMP;
    if (q && q->keyspace && version >= 5)
        flags |= QF_KEYSPACE;
    if (!e) e = ce_buf_put_u16(b, (uint16_t)(q ? q->consistency : CQL_CONSISTENCY_ONE));
    if (!e) e = wr_flags(b, version, flags);
    if (!e && (flags & QF_SERIAL))
        e = ce_buf_put_u16(b, (uint16_t)q->serial_consistency);
    if (!e && (flags & QF_TIMESTAMP))
        e = ce_buf_put_u64(b, (uint64_t)q->timestamp);
    if (!e && (flags & QF_KEYSPACE))
        e = wr_cstr(b, q->keyspace);
    return e;
}

ce_err cql_msg_register(ce_buf *b, const char *const *events, size_t n)
{
    ce_err e = ce_buf_put_u16(b, (uint16_t)n);
    for (size_t i = 0; i < n && !e; i++)
        e = wr_cstr(b, events[i]);
    return e;
}
