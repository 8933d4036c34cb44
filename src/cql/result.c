/*
 * result.c - response body decoders: RESULT (void, rows, set_keyspace, prepared,
 * schema_change), ERROR with its details, SUPPORTED, AUTHENTICATE, EVENT, and the
 * cql_result accessors.
 *
 * A ROWS result keeps the message body and an index of cell offsets (one uint32 per
 * cell); cells are read in place, never copied. Column types become cql_type trees;
 * nesting is capped at CQL_MAX_TYPE_DEPTH. Every read is bounds-checked through
 * cql_rd, so malformed bodies give CE_EPROTO, never a crash.
 */
#include "cql/cql_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define RF_GLOBAL_SPEC 0x0001
#define RF_HAS_MORE 0x0002
#define RF_NO_METADATA 0x0004
#define RF_METADATA_CHANGED 0x0008

void cql_colset_free(cql_colset *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ncols && c->cols; i++) {
        free(c->cols[i].keyspace);
        free(c->cols[i].table);
        free(c->cols[i].name);
        cql_type_free(c->cols[i].type);
    }
    free(c->cols);
    free(c->pk_index);
    memset(c, 0, sizeof *c);
}

/* The scalar kind of a wire option id (cql/type_table.h); *ok false for others. */
static cql_type_kind simple_kind(uint16_t id, bool *ok)
{
    const cql_type_info *ti = cql_type_info_of((cql_type_kind)id);
    *ok = ti && ti->scalar;
    if (*ok)
        return ti->kind;
    if (id == 0x000A) { /* text in v1/v2, still seen as varchar */
        *ok = true;
        return CQL_T_VARCHAR;
    }
    return CQL_T_CUSTOM;
}

ce_err cql_type_read(cql_rd *r, int depth, cql_type **out)
{
    *out = NULL;
    if (depth > CQL_MAX_TYPE_DEPTH)
        return CE_ELIMIT;
    uint16_t id = cql_rd_u16(r);
    if (r->err)
        return CE_EPROTO;
    ce_err e = CE_OK;
    cql_type *t = NULL;
    switch (id) {
    case CQL_T_CUSTOM: {
        ce_slice cls = cql_rd_string(r);
        if (r->err)
            return CE_EPROTO;
        char *s = cql_slice_dup(cls);
        if (!s)
            return CE_ENOMEM;
        e = cql_type_parse_class(s, &t);
        free(s);
        if (e)
            return e == CE_ENOMEM ? e : CE_EPROTO;
        break;
    }
    case CQL_T_LIST:
    case CQL_T_SET:
    case CQL_T_MAP: {
        t = cql_type_new((cql_type_kind)id);
        if (!t)
            return CE_ENOMEM;
        int n = id == CQL_T_MAP ? 2 : 1;
        for (int i = 0; i < n && !e; i++) {
            cql_type *s;
            e = cql_type_read(r, depth + 1, &s);
            if (!e)
                e = cql_type_add_sub(t, s, NULL);
        }
        break;
    }
    case CQL_T_UDT: {
        ce_slice ks = cql_rd_string(r), name = cql_rd_string(r);
        uint16_t n = cql_rd_u16(r);
        if (r->err)
            return CE_EPROTO;
        t = cql_type_new(CQL_T_UDT);
        if (!t)
            return CE_ENOMEM;
        t->keyspace = cql_slice_dup(ks);
        t->name = cql_slice_dup(name);
        if (!t->keyspace || !t->name)
            e = CE_ENOMEM;
        for (size_t i = 0; i < n && !e; i++) {
            ce_slice fname = cql_rd_string(r);
            if (r->err) {
                e = CE_EPROTO;
                break;
            }
            char *fn = cql_slice_dup(fname);
            if (!fn) {
                e = CE_ENOMEM;
                break;
            }
            cql_type *s;
            e = cql_type_read(r, depth + 1, &s);
            if (!e)
                e = cql_type_add_sub(t, s, fn);
            free(fn);
        }
        break;
    }
    case CQL_T_TUPLE: {
        uint16_t n = cql_rd_u16(r);
        if (r->err)
            return CE_EPROTO;
        t = cql_type_new(CQL_T_TUPLE);
        if (!t)
            return CE_ENOMEM;
        for (size_t i = 0; i < n && !e; i++) {
            cql_type *s;
            e = cql_type_read(r, depth + 1, &s);
            if (!e)
                e = cql_type_add_sub(t, s, NULL);
        }
        break;
    }
    default: {
        bool ok;
        cql_type_kind k = simple_kind(id, &ok);
        if (!ok)
            return CE_EPROTO;
        t = cql_type_new(k);
        if (!t)
            return CE_ENOMEM;
    }
    }
    if (!e && r->err)
        e = CE_EPROTO;
    if (e) {
        cql_type_free(t);
        return e;
    }
    *out = t;
    return CE_OK;
}

/* Column specs (after flags/count and the optional parts handled by the caller). */
static ce_err read_colspecs(cql_rd *r, uint32_t flags, size_t n, cql_colset *c)
{
    ce_slice gks = {NULL, 0}, gtab = {NULL, 0};
    if (flags & RF_GLOBAL_SPEC) {
        gks = cql_rd_string(r);
        gtab = cql_rd_string(r);
    }
    if (r->err)
        return CE_EPROTO;
    /* a column spec takes at least its strings' 2-byte lengths and a 2-byte type id: a
     * count the rest of the body cannot hold is refused before allocating for it */
    size_t min_spec = (flags & RF_GLOBAL_SPEC) ? 2 + 2 : 2 + 2 + 2 + 2;
    if (n > cql_rd_left(r) / min_spec)
        return CE_EPROTO;
    c->cols = calloc(n ? n : 1, sizeof *c->cols);
    if (!c->cols)
        return CE_ENOMEM;
    c->ncols = n;
    for (size_t i = 0; i < n; i++) {
        ce_slice ks = gks, tab = gtab;
        if (!(flags & RF_GLOBAL_SPEC)) {
            ks = cql_rd_string(r);
            tab = cql_rd_string(r);
        }
        ce_slice name = cql_rd_string(r);
        if (r->err)
            return CE_EPROTO;
        cql_colspec *cs = &c->cols[i];
        cs->keyspace = cql_slice_dup(ks);
        cs->table = cql_slice_dup(tab);
        cs->name = cql_slice_dup(name);
        if (!cs->keyspace || !cs->table || !cs->name)
            return CE_ENOMEM;
        ce_err e = cql_type_read(r, 0, &cs->type);
        if (e)
            return e;
    }
    return CE_OK;
}

/* Rows / result metadata. */
static ce_err read_rows_metadata(cql_rd *r, int version, cql_result *res, bool *no_metadata,
                                 size_t *ncols_out)
{
    uint32_t flags = (uint32_t)cql_rd_i32(r);
    int32_t n = cql_rd_i32(r);
    if (r->err || n < 0)
        return CE_EPROTO;
    *ncols_out = (size_t)n;
    if (flags & RF_HAS_MORE) {
        res->paging_state = cql_rd_bytes(r);
        res->has_more = res->paging_state.len > 0;
    }
    if (version >= 5 && (flags & RF_METADATA_CHANGED))
        res->new_metadata_id = cql_rd_short_bytes(r);
    if (r->err)
        return CE_EPROTO;
    *no_metadata = (flags & RF_NO_METADATA) != 0;
    if (*no_metadata)
        return CE_OK;
    return read_colspecs(r, flags, (size_t)n, &res->own_cols);
}

static ce_err read_rows(cql_rd *r, cql_result *res)
{
    int32_t nrows = cql_rd_i32(r);
    if (r->err || nrows < 0)
        return CE_EPROTO;
    size_t ncols = res->cols ? res->cols->ncols : 0;
    size_t ncells = (size_t)nrows * ncols;
    if (ncols && (size_t)nrows > cql_rd_left(r) / (4 * ncols))
        return CE_EPROTO; /* every cell needs at least its 4-byte length */
    if (!ncols && nrows > 0)
        return CE_EPROTO; /* rows without columns: a lie that would cost billions of iterations */
    res->nrows = (size_t)nrows;
    if (ncells == 0)
        return CE_OK;
    size_t bytes = ncells * sizeof *res->cell_off;
    if (bytes >= CQL_BIGMEM_MIN)
        res->cell_off = ce_bigmem_get(bytes, &res->cell_cap); /* reused page after page */
    else
        res->cell_off = malloc(bytes);
    if (!res->cell_off)
        return CE_ENOMEM;
    const uint8_t *base = res->body;
    const uint8_t *p = r->p, *end = r->end;
    for (size_t i = 0; i < ncells; i++) {
        if (end - p < 4)
            return CE_EPROTO;
        res->cell_off[i] = (uint32_t)(p - base);
        int32_t len = (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]);
        p += 4;
        if (len > 0) {
            if (end - p < len)
                return CE_EPROTO;
            p += len;
        }
    }
    r->p = p;
    return CE_OK;
}

static void set_err(char *err, size_t cap, const char *why)
{
    if (err && cap)
        snprintf(err, cap, "%s", why);
}

ce_err cql_result_parse(cql_msg *m, int version, const cql_colset *skip_cols, cql_result **out,
                        char *err, size_t errcap)
{
    *out = NULL;
    cql_result *res = calloc(1, sizeof *res);
    if (!res) {
        cql_msg_clear(m);
        return CE_ENOMEM;
    }
    res->body = m->body;
    res->body_len = m->len;
    res->mem = m->mem;
    res->mem_cap = m->mem_cap;
    res->cols = &res->own_cols;
    m->body = m->mem = NULL;
    m->len = m->mem_cap = 0;
    cql_msg tmp = {.flags = m->flags, .body = res->body, .len = res->body_len};
    cql_rd r;
    ce_err e = CE_OK;
    if (!cql_msg_body_skip_prefix(&tmp, &r, &res->nwarnings)) {
        set_err(err, errcap, "malformed response prefix");
        cql_result_free(res);
        return CE_EPROTO;
    }
    int32_t kind = cql_rd_i32(&r);
    res->kind = (cql_result_kind)kind;
    switch (kind) {
    case CQL_RESULT_VOID:
        break;
    case CQL_RESULT_ROWS: {
        bool nomd;
        size_t ncols;
        e = read_rows_metadata(&r, version, res, &nomd, &ncols);
        if (!e && nomd) {
            if (!skip_cols || skip_cols->ncols != ncols) {
                set_err(err, errcap, "rows without metadata and no prepared metadata to use");
                e = CE_EPROTO;
            } else {
                res->cols = skip_cols;
            }
        }
        if (!e)
            e = read_rows(&r, res);
        if (e && err && !err[0])
            set_err(err, errcap, "malformed rows result");
        break;
    }
    case CQL_RESULT_SET_KEYSPACE: {
        ce_slice ks = cql_rd_string(&r);
        if (r.err)
            e = CE_EPROTO;
        else if (!(res->keyspace = cql_slice_dup(ks)))
            e = CE_ENOMEM;
        break;
    }
    case CQL_RESULT_PREPARED: {
        res->prepared_id = cql_rd_short_bytes(&r);
        if (version >= 5)
            res->result_metadata_id = cql_rd_short_bytes(&r);
        uint32_t flags = (uint32_t)cql_rd_i32(&r);
        int32_t n = cql_rd_i32(&r);
        int32_t npk = cql_rd_i32(&r);
        if (r.err || n < 0 || npk < 0 || (size_t)npk > cql_rd_left(&r) / 2) {
            e = CE_EPROTO;
            break;
        }
        if (npk) {
            res->bind_cols.pk_index = malloc((size_t)npk * sizeof(uint16_t));
            if (!res->bind_cols.pk_index) {
                e = CE_ENOMEM;
                break;
            }
            res->bind_cols.npk = (size_t)npk;
            for (int32_t i = 0; i < npk; i++)
                res->bind_cols.pk_index[i] = cql_rd_u16(&r);
        }
        e = read_colspecs(&r, flags, (size_t)n, &res->bind_cols);
        if (!e) {
            bool nomd;
            size_t ncols;
            e = read_rows_metadata(&r, version, res, &nomd, &ncols);
        }
        break;
    }
    case CQL_RESULT_SCHEMA_CHANGE: {
        ce_slice ct = cql_rd_string(&r), tg = cql_rd_string(&r), ks = cql_rd_string(&r);
        ce_slice obj = {"", 0};
        if (!r.err && !(tg.len == 8 && !memcmp(tg.ptr, "KEYSPACE", 8)))
            obj = cql_rd_string(&r);
        if (r.err) {
            e = CE_EPROTO;
            break;
        }
        res->change_type = cql_slice_dup(ct);
        res->target = cql_slice_dup(tg);
        res->keyspace = cql_slice_dup(ks);
        res->object = cql_slice_dup(obj);
        if (!res->change_type || !res->target || !res->keyspace || !res->object)
            e = CE_ENOMEM;
        break;
    }
    default:
        e = CE_EPROTO;
    }
    if (!e && r.err)
        e = CE_EPROTO;
    if (e) {
        if (err && !err[0])
            set_err(err, errcap, e == CE_ENOMEM ? "out of memory" : "malformed RESULT body");
        cql_result_free(res);
        return e;
    }
    *out = res;
    return CE_OK;
}

void cql_result_free(cql_result *r)
{
    if (!r)
        return;
    cql_colset_free(&r->own_cols);
    cql_colset_free(&r->bind_cols);
    if (r->cell_cap)
        ce_bigmem_put(r->cell_off, r->cell_cap);
    else
        free(r->cell_off);
    if (r->mem)
        ce_bigmem_put(r->mem, r->mem_cap);
    else
        free(r->body);
    free(r->keyspace);
    free(r->change_type);
    free(r->target);
    free(r->object);
    free(r);
}

cql_result_kind cql_result_kind_of(const cql_result *r) { return r->kind; }

size_t cql_result_column_count(const cql_result *r) { return r->cols ? r->cols->ncols : 0; }

const char *cql_result_column_name(const cql_result *r, size_t col)
{
    return col < cql_result_column_count(r) ? r->cols->cols[col].name : NULL;
}

const cql_type *cql_result_column_type(const cql_result *r, size_t col)
{
    return col < cql_result_column_count(r) ? r->cols->cols[col].type : NULL;
}

int cql_result_column_index(const cql_result *r, const char *name)
{
    size_t n = cql_result_column_count(r);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(r->cols->cols[i].name, name))
            return (int)i;
    return -1;
}

size_t cql_result_row_count(const cql_result *r) { return r->nrows; }

size_t cql_result_size(const cql_result *r)
{
    if (!r)
        return 0;
    return sizeof *r + r->body_len + r->nrows * cql_result_column_count(r) * sizeof(uint32_t);
}

cql_value cql_result_cell(const cql_result *r, size_t row, size_t col)
{
    cql_value v = {NULL, CQL_NULL};
    size_t ncols = cql_result_column_count(r);
    if (row >= r->nrows || col >= ncols)
        return v;
    const uint8_t *p = r->body + r->cell_off[row * ncols + col];
    int32_t len = (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]);
    if (len >= 0) {
        v.ptr = p + 4;
        v.len = len;
    }
    return v;
}

bool cql_result_has_more_pages(const cql_result *r) { return r->has_more; }

cql_value cql_result_paging_state(const cql_result *r)
{
    if (!r->has_more) {
        cql_value none = {NULL, 0};
        return none;
    }
    return r->paging_state;
}

const char *cql_result_keyspace(const cql_result *r) { return r->keyspace; }

const char *cql_result_schema_change(const cql_result *r, const char **target, const char **object)
{
    if (target)
        *target = r->target;
    if (object)
        *object = r->object;
    return r->change_type;
}

/* ---------------------------------------------------------------- ERROR */

void cql_inet_format(const uint8_t *p, size_t n, char *buf, size_t cap)
{
    if (n == 4 || n == 16) {
        if (inet_ntop(n == 4 ? AF_INET : AF_INET6, p, buf, (socklen_t)cap))
            return;
    }
    snprintf(buf, cap, "?");
}

static void read_reason_map(cql_rd *r, cql_error_info *info)
{
    int32_t n = cql_rd_i32(r);
    if (r->err || n < 0) {
        r->err = true;
        return;
    }
    for (int32_t i = 0; i < n && !r->err; i++) {
        uint8_t alen = cql_rd_u8(r);
        cql_rd_raw(r, alen);
        cql_rd_u16(r);
    }
    info->num_failures = n;
}

ce_err cql_error_parse(const cql_msg *m, int version, cql_error_info *info, cql_value *unprepared_id)
{
    cql_error_info tmp;
    if (!info)
        info = &tmp;
    memset(info, 0, sizeof *info);
    cql_rd r;
    if (!cql_msg_body_skip_prefix(m, &r, NULL))
        return CE_EPROTO;
    info->code = cql_rd_i32(&r);
    ce_slice msg = cql_rd_string(&r);
    if (r.err)
        return CE_EPROTO;
    cql_slice_copy(info->message, sizeof info->message, msg);
    switch (info->code) {
    case 0x1000: /* Unavailable */
        info->consistency = cql_rd_u16(&r);
        info->required = cql_rd_i32(&r);
        info->received = cql_rd_i32(&r);
        break;
    case 0x1100: { /* Write timeout */
        info->consistency = cql_rd_u16(&r);
        info->received = cql_rd_i32(&r);
        info->block_for = cql_rd_i32(&r);
        cql_slice_copy(info->write_type, sizeof info->write_type, cql_rd_string(&r));
        break;
    }
    case 0x1200: /* Read timeout */
        info->consistency = cql_rd_u16(&r);
        info->received = cql_rd_i32(&r);
        info->block_for = cql_rd_i32(&r);
        info->data_present = cql_rd_u8(&r) != 0;
        break;
    case 0x1300: /* Read failure */
        info->consistency = cql_rd_u16(&r);
        info->received = cql_rd_i32(&r);
        info->block_for = cql_rd_i32(&r);
        if (version >= 5)
            read_reason_map(&r, info);
        else
            info->num_failures = cql_rd_i32(&r);
        info->data_present = cql_rd_u8(&r) != 0;
        break;
    case 0x1400: /* Function failure: keyspace, function, arg types */
        cql_slice_copy(info->keyspace, sizeof info->keyspace, cql_rd_string(&r));
        cql_slice_copy(info->table, sizeof info->table, cql_rd_string(&r));
        break;
    case 0x1500: /* Write failure */
        info->consistency = cql_rd_u16(&r);
        info->received = cql_rd_i32(&r);
        info->block_for = cql_rd_i32(&r);
        if (version >= 5)
            read_reason_map(&r, info);
        else
            info->num_failures = cql_rd_i32(&r);
        cql_slice_copy(info->write_type, sizeof info->write_type, cql_rd_string(&r));
        break;
    case 0x1700: /* CAS write unknown */
        info->consistency = cql_rd_u16(&r);
        info->received = cql_rd_i32(&r);
        info->block_for = cql_rd_i32(&r);
        break;
    case 0x2400: /* Already exists */
        cql_slice_copy(info->keyspace, sizeof info->keyspace, cql_rd_string(&r));
        cql_slice_copy(info->table, sizeof info->table, cql_rd_string(&r));
        break;
    case 0x2500: { /* Unprepared */
        cql_value id = cql_rd_short_bytes(&r);
        if (unprepared_id)
            *unprepared_id = id;
        break;
    }
    default:
        break;
    }
    return r.err ? CE_EPROTO : CE_OK;
}

/* ---------------------------------------------------------------- SUPPORTED, AUTHENTICATE, EVENT */

bool cql_supported_has(const cql_msg *m, const char *key, const char *value)
{
    cql_rd r;
    if (!cql_msg_body_skip_prefix(m, &r, NULL))
        return false;
    size_t n = cql_rd_u16(&r), kl = strlen(key), vl = strlen(value);
    for (size_t i = 0; i < n && !r.err; i++) {
        ce_slice k = cql_rd_string(&r);
        size_t nv = cql_rd_u16(&r);
        bool match = k.len == kl && !memcmp(k.ptr, key, kl);
        for (size_t j = 0; j < nv && !r.err; j++) {
            ce_slice v = cql_rd_string(&r);
            if (match && !r.err && v.len == vl && !strncasecmp(v.ptr, value, vl))
                return true;
        }
    }
    return false;
}

ce_err cql_authenticate_parse(const cql_msg *m, char *buf, size_t cap)
{
    cql_rd r;
    if (!cql_msg_body_skip_prefix(m, &r, NULL))
        return CE_EPROTO;
    ce_slice s = cql_rd_string(&r);
    if (r.err)
        return CE_EPROTO;
    cql_slice_copy(buf, cap, s);
    return CE_OK;
}

ce_err cql_event_parse(const cql_msg *m, cql_event *ev)
{
    memset(ev, 0, sizeof *ev);
    cql_rd r;
    if (!cql_msg_body_skip_prefix(m, &r, NULL))
        return CE_EPROTO;
    cql_slice_copy(ev->type, sizeof ev->type, cql_rd_string(&r));
    cql_slice_copy(ev->change, sizeof ev->change, cql_rd_string(&r));
    if (!strcmp(ev->type, "TOPOLOGY_CHANGE") || !strcmp(ev->type, "STATUS_CHANGE")) {
        uint8_t n = cql_rd_u8(&r);
        const uint8_t *a = cql_rd_raw(&r, n);
        ev->port = cql_rd_i32(&r);
        if (!r.err)
            cql_inet_format(a, n, ev->addr, sizeof ev->addr);
    }
    return r.err ? CE_EPROTO : CE_OK;
}
