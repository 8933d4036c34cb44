/*
 * docmap.c - Cassandra rows <-> Elasticsearch documents (pure: no I/O).
 *
 * C->E: a row becomes one JSON object with every column in its lossless JSON form
 * (conv_value_to_json), written straight into the bulk buffer; its _id is built from
 * the key columns (encoding below) and its external version from the version column.
 * E->C: a search hit becomes the bound values of the prepared INSERT; missing fields
 * are UNSET so partial documents never erase columns; key columns missing from
 * _source are decoded from _id.
 *
 * _id encoding (docs/sync.md): one key part -> its text form unchanged (PyCassElastic's
 * str(id)); several parts -> each text form with '\' and ':' escaped by '\', joined
 * with ':'. Reversible by sync_id_split.
 */
#include "sync/sync_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "util/jsonw.h"

ce_err sync_id_append_part(ce_buf *id, const char *text, size_t n, bool composite)
{
    if (!composite)
        return ce_buf_append(id, text, n);
    ce_err e = CE_OK;
    for (size_t i = 0; i < n && !e; i++) {
        if (text[i] == ':' || text[i] == '\\')
            e = ce_buf_append_byte(id, '\\');
        if (!e)
            e = ce_buf_append_byte(id, (uint8_t)text[i]);
    }
    return e;
}

static bool kind_is_text(cql_type_kind k) { return k == CQL_T_VARCHAR || k == CQL_T_ASCII; }

ce_err sync_value_text(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *out, ce_buf *scratch)
{
    if (len < 0)
        return CE_EINVAL;
    if (kind_is_text(t->kind))
        return ce_buf_append(out, p, (size_t)len);
    ce_buf_reset(scratch);
    ce_err e = conv_value_to_json(t, p, len, scratch);
    if (e)
        return e;
    const char *s = scratch->data;
    size_t n = scratch->len;
    if (n >= 2 && s[0] == '"') {
        if (!memchr(s, '\\', n))
            return ce_buf_append(out, s + 1, n - 2);
        json_error_t je;
        json_t *j = json_loadb(s, n, JSON_DECODE_ANY, &je);
        if (!j || !json_is_string(j)) {
            json_decref(j);
            return CE_EJSON;
        }
        e = ce_buf_append(out, json_string_value(j), json_string_length(j));
        json_decref(j);
        return e;
    }
    return ce_buf_append(out, s, n);
}

ce_err sync_id_split(const char *id, size_t n, size_t nparts, ce_buf *storage, size_t *offs)
{
    ce_buf_reset(storage);
    if (nparts == 0)
        return CE_EINVAL;
    if (nparts == 1) {
        offs[0] = 0;
        ce_err e = ce_buf_append(storage, id, n);
        if (!e)
            e = ce_buf_append_byte(storage, 0);
        return e;
    }
    size_t part = 0;
    offs[0] = 0;
    ce_err e = CE_OK;
    for (size_t i = 0; i < n && !e; i++) {
        char c = id[i];
        if (c == '\\') {
            if (i + 1 >= n)
                return CE_EINVAL;
            e = ce_buf_append_byte(storage, (uint8_t)id[++i]);
        } else if (c == ':') {
            if (part + 1 >= nparts)
                return CE_EINVAL;
            e = ce_buf_append_byte(storage, 0);
            offs[++part] = storage->len;
        } else {
            e = ce_buf_append_byte(storage, (uint8_t)c);
        }
    }
    if (!e)
        e = ce_buf_append_byte(storage, 0);
    if (e)
        return e;
    return part + 1 == nparts ? CE_OK : CE_EINVAL;
}

ce_err sync_value_int64(const cql_type *t, const uint8_t *p, int32_t len, int64_t *out)
{
    if (len < 0 || !p)
        return CE_ECONVERT;
    size_t want;
    switch (t->kind) {
    case CQL_T_BIGINT:
    case CQL_T_COUNTER:
    case CQL_T_TIMESTAMP: want = 8; break;
    case CQL_T_INT: want = 4; break;
    case CQL_T_SMALLINT: want = 2; break;
    case CQL_T_TINYINT: want = 1; break;
    case CQL_T_VARINT:
        if (len < 1 || len > 8)
            return CE_ECONVERT;
        want = (size_t)len;
        break;
    default: return CE_ECONVERT;
    }
    if ((size_t)len != want)
        return CE_ECONVERT;
    uint64_t u = (p[0] & 0x80) ? UINT64_MAX : 0; /* sign extension */
    for (size_t i = 0; i < want; i++)
        u = (u << 8) | p[i];
    *out = (int64_t)u;
    return CE_OK;
}

ce_err sync_row_id(const sync_rowmap *m, const cql_value *cells, ce_buf *id, ce_buf *scratch,
                   ce_buf *err)
{
    ce_buf_reset(id);
    bool composite = m->nid > 1;
    for (size_t k = 0; k < m->nid; k++) {
        int i = m->id_idx[k];
        if (cells[i].len < 0) {
            if (err)
                ce_buf_printf(err, "key column \"%s\" is null", m->names[i]);
            return CE_EINVAL;
        }
        if (k > 0) {
            ce_err e = ce_buf_append_byte(id, ':');
            if (e)
                return e;
        }
        if (!composite) {
            ce_err e = sync_value_text(m->types[i], cells[i].ptr, cells[i].len, id, scratch);
            if (e)
                return e;
            continue;
        }
        ce_buf part = CE_BUF_INIT;
        ce_err e = sync_value_text(m->types[i], cells[i].ptr, cells[i].len, &part, scratch);
        if (!e)
            e = sync_id_append_part(id, part.data ? part.data : "", part.len, true);
        ce_buf_free(&part);
        if (e)
            return e;
    }
    return CE_OK;
}

static ce_err writetime_at(const cql_value *cells, int idx, int64_t *out)
{
    if (idx < 0 || cells[idx].len != 8)
        return CE_ENOTFOUND;
    const uint8_t *p = cells[idx].ptr;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | p[i];
    *out = (int64_t)u;
    return CE_OK;
}

ce_err sync_row_version(const sync_rowmap *m, const cql_value *cells, int64_t *version,
                        bool *from_writetime)
{
    *from_writetime = false;
    if (m->version_idx >= 0 && cells[m->version_idx].len >= 0)
        return sync_value_int64(m->types[m->version_idx], cells[m->version_idx].ptr,
                                cells[m->version_idx].len, version);
    int64_t wt;
    if (writetime_at(cells, m->wt_version_idx, &wt) && writetime_at(cells, m->wt_any_idx, &wt) &&
        writetime_at(cells, m->wt_source_idx, &wt))
        return CE_ENOTFOUND;
    int64_t unit = sync_version_unit(m->version_unit_us);
    int64_t q = wt / unit;
    if (wt % unit && wt < 0)
        q--;
    *version = q;
    *from_writetime = true;
    return CE_OK;
}

bool sync_row_is_echo(const sync_rowmap *m, const cql_value *cells)
{
    if (m->source_idx < 0 || !m->es_source_id)
        return false;
    cql_value s = cells[m->source_idx];
    size_t n = strlen(m->es_source_id);
    if (s.len < 0 || (size_t)s.len != n || memcmp(s.ptr, m->es_source_id, n) != 0)
        return false;
    int64_t wts, wtv;
    if (writetime_at(cells, m->wt_source_idx, &wts) == CE_OK &&
        writetime_at(cells, m->wt_version_idx, &wtv) == CE_OK)
        return wts >= wtv;
    return true;
}

/*
 * The mark rule (docs/deletes.md, "The mark"): live when null / absent, empty, false, or a
 * number equal to zero, in any of its forms: an int flag column holding 0 / 1 marks 1 only.
 */

/* The text "false" (a boolean field's text form) marks nothing, on either side. */
static bool is_false_text(const void *p, size_t n) { return n == 5 && memcmp(p, "false", 5) == 0; }

static size_t zero_digits(const char *t, size_t n, size_t i)
{
    while (i < n && t[i] == '0')
        i++;
    return i;
}

/* The text of a number equal to zero ("0", "-0", "0.00", "0e5", ...): what a text column
 * holding a zero, and a zero Elasticsearch sent in the exact form (a number jansson cannot
 * hold kept as a string of its digits, docs/json.md), look like. */
static bool is_zero_text(const char *t, size_t n)
{
    size_t i = (n > 0 && t[0] == '-') ? 1 : 0, d = zero_digits(t, n, i);
    if (d == i)
        return false;
    if (d < n && t[d] == '.') {
        size_t f = zero_digits(t, n, d + 1);
        if (f == d + 1)
            return false;
        d = f;
    }
    if (d < n && (t[d] == 'e' || t[d] == 'E')) {
        size_t s = d + 1 + (d + 1 < n && (t[d + 1] == '+' || t[d + 1] == '-'));
        for (d = s; d < n && t[d] >= '0' && t[d] <= '9'; d++)
            ;
        if (d == s)
            return false;
    }
    return d == n;
}

static bool is_live_text(const char *t, size_t n) { return is_false_text(t, n) || is_zero_text(t, n); }

static bool bytes_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* A numeric cell equal to zero: integers all-zero bytes (two's complement), float / double
 * +0 and -0 (the sign bit aside), decimal a zero unscaled value (whatever its scale). */
static bool cell_is_zero(cql_type_kind k, const uint8_t *p, size_t n)
{
    switch (k) {
    case CQL_T_TINYINT:
    case CQL_T_SMALLINT:
    case CQL_T_INT:
    case CQL_T_BIGINT:
    case CQL_T_VARINT:
    case CQL_T_COUNTER:
        return bytes_zero(p, n);
    case CQL_T_FLOAT:
    case CQL_T_DOUBLE:
        return (p[0] & 0x7f) == 0 && bytes_zero(p + 1, n - 1);
    case CQL_T_DECIMAL:
        return n >= 4 && bytes_zero(p + 4, n - 4);
    default:
        return false;
    }
}

bool sync_row_is_deleted(const cql_type *t, const cql_value *cell)
{
    if (!t || !cell || cell->len <= 0)
        return false; /* null, unset or empty */
    if (t->kind == CQL_T_BOOLEAN)
        return cell->ptr[0] != 0;
    if (kind_is_text(t->kind))
        return !is_live_text((const char *)cell->ptr, (size_t)cell->len);
    return !cell_is_zero(t->kind, cell->ptr, (size_t)cell->len);
}

bool sync_rowmap_is_deleted(const sync_rowmap *m, const cql_value *cells)
{
    return m->deleted_idx >= 0 && sync_row_is_deleted(m->types[m->deleted_idx], &cells[m->deleted_idx]);
}

bool sync_doc_is_deleted(const json_t *src, const char *field)
{
    return sync_json_is_deleted(field ? json_object_get(src, field) : NULL);
}

bool sync_json_is_deleted(const json_t *v)
{
    if (!v || json_is_null(v) || json_is_false(v))
        return false;
    if (json_is_string(v))
        return json_string_length(v) > 0 && !is_live_text(json_string_value(v), json_string_length(v));
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    if (json_is_real(v))
        return json_real_value(v) != 0.0; /* -0.0 == 0.0 */
    return true;
}

ce_err sync_row_doc(const sync_rowmap *m, const cql_value *cells, ce_buf *doc)
{
    ce_err e = ce_buf_append_byte(doc, '{');
    for (size_t i = 0; i < m->ncols && !e; i++) {
        if (i > 0)
            e = ce_buf_append_byte(doc, ',');
        if (!e)
            e = m->key_json ? ce_buf_append(doc, m->key_json[i].ptr, m->key_json[i].len)
                            : jsonw_key(doc, m->names[i], strlen(m->names[i]));
        if (e)
            break;
        if ((int)i == m->source_idx && cells[i].len < 0)
            e = jsonw_cstr(doc, m->cassandra_source_id);
        else
            e = conv_value_to_json(m->types[i], cells[i].ptr, cells[i].len, doc);
    }
    int64_t token;
    if (!e && m->token_field && m->npk > 0 && cql_partition_token(cells, m->npk, &token)) {
        e = m->ncols > 0 ? ce_buf_append_byte(doc, ',') : CE_OK;
        e = e ? e : jsonw_key(doc, m->token_field, strlen(m->token_field));
        e = e ? e : ce_buf_printf(doc, "%lld", (long long)token);
    }
    if (!e && m->source_idx < 0 && m->source_field && m->cassandra_source_id) {
        if (m->ncols > 0)
            e = ce_buf_append_byte(doc, ',');
        if (!e)
            e = jsonw_key(doc, m->source_field, strlen(m->source_field));
        if (!e)
            e = jsonw_cstr(doc, m->cassandra_source_id);
    }
    if (!e)
        e = ce_buf_append_byte(doc, '}');
    return e;
}

/* ---------------------------------------------------------------- E->C */

static bool kind_is_structured(cql_type_kind k)
{
    return k == CQL_T_LIST || k == CQL_T_SET || k == CQL_T_MAP || k == CQL_T_TUPLE ||
           k == CQL_T_UDT || k == CQL_T_VECTOR;
}

static ce_err json_version(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return CE_OK;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d != d || d < -9.2e18 || d > 9.2e18)
            return CE_ECONVERT;
        *out = (int64_t)d;
        return CE_OK;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (errno || end == s || *end)
            return CE_ECONVERT;
        *out = x;
        return CE_OK;
    }
    return CE_ECONVERT;
}

/* A key part of the _id as the JSON value conv_value_from_json expects. */
static json_t *part_json(const cql_type *t, const char *part)
{
    if (kind_is_structured(t->kind)) {
        json_error_t je;
        json_t *j = json_loads(part, JSON_DECODE_ANY, &je);
        if (j)
            return j;
    }
    return json_string(part);
}

ce_err sync_id_part_value(const cql_type *t, const char *part, ce_buf *out, bool *is_null)
{
    json_t *j = part_json(t, part);
    if (!j)
        return CE_ENOMEM;
    ce_err e = conv_value_from_json(t, j, out, is_null, NULL);
    json_decref(j);
    return e;
}

/* The document's version, checked against the range a USING TIMESTAMP can hold. */
static ce_err doc_version(const sync_docmap *m, const json_t *src, int64_t unit, int64_t *version, ce_buf *err)
{
    if (!json_is_object(src)) {
        ce_buf_printf(err, "document has no _source");
        return CE_EINVAL;
    }
    const json_t *jv = json_object_get(src, m->version_field);
    if (!jv || json_is_null(jv)) {
        ce_buf_printf(err, "document has no version field \"%s\"", m->version_field);
        return CE_EINVAL;
    }
    if (json_version(jv, version)) {
        ce_buf_printf(err, "version field \"%s\" is not an integer", m->version_field);
        return CE_ECONVERT;
    }
    if (*version < 0 || *version > INT64_MAX / unit) {
        ce_buf_printf(err, "version %lld out of range", (long long)*version);
        return CE_ECONVERT;
    }
    return CE_OK;
}

/* The _id split into its key parts, once per document and only when needed. */
typedef struct {
    const json_t *jid;
    ce_buf parts;
    size_t offs[SYNC_MAX_KEY_PARTS];
    bool split;
} id_parts;

/*
 * The JSON value column i gets: the field, else (a key column) its part of the _id, else
 * (the source column) es_source_id; non-string values into text columns as their JSON
 * text. *v NULL = leave the column UNSET. *owned is a reference the caller drops.
 */
static ce_err field_value(const sync_docmap *m, size_t i, const json_t *src, id_parts *ip, const json_t **v,
                          json_t **owned, ce_buf *err)
{
    const cql_type *t = m->types[i];
    *owned = NULL;
    *v = json_object_get(src, m->names[i]);
    if (!*v && i < 256 && m->key_part[i] >= 0) {
        if (!ip->split && (!json_is_string(ip->jid) || sync_id_split(json_string_value(ip->jid),
                                                                    json_string_length(ip->jid), m->nid,
                                                                    &ip->parts, ip->offs))) {
            ce_buf_printf(err, "key column \"%s\" missing and _id does not hold %zu parts", m->names[i], m->nid);
            return CE_EINVAL;
        }
        ip->split = true;
        *owned = part_json(t, ip->parts.data + ip->offs[m->key_part[i]]);
    } else if ((int)i == m->source_col && (!*v || json_is_null(*v))) {
        *owned = json_string(m->es_source_id);
    } else if (!*v) {
        if (m->is_key && m->is_key[i]) {
            ce_buf_printf(err, "key column \"%s\" missing", m->names[i]);
            return CE_EINVAL;
        }
        return CE_OK;
    } else if (kind_is_text(t->kind) && !json_is_string(*v) && !json_is_null(*v)) {
        /* objects, arrays, numbers into a text column: their compact JSON text */
        char *txt = json_dumps(*v, JSON_COMPACT | JSON_ENCODE_ANY);
        *owned = txt ? json_string(txt) : NULL;
        free(txt);
    } else {
        return CE_OK;
    }
    *v = *owned;
    return *owned ? CE_OK : CE_ENOMEM;
}

/* Serialize v as column i's value at the end of storage; its length (or CQL_NULL) in *len. */
static ce_err bind_field(const sync_docmap *m, size_t i, const json_t *v, ce_buf *storage, int32_t *len,
                         ce_buf *err)
{
    bool is_null = false;
    size_t before = storage->len;
    ce_buf why = CE_BUF_INIT;
    ce_err e = conv_value_from_json(m->types[i], v, storage, &is_null, &why);
    if (e) {
        ce_buf_printf(err, "field \"%s\": %.*s", m->names[i], (int)why.len, why.data ? why.data : "");
        if (!why.len)
            ce_buf_printf(err, "%s", ce_strerror(e));
        ce_buf_free(&why);
        return e == CE_ENOMEM ? e : CE_ECONVERT;
    }
    ce_buf_free(&why);
    if (is_null && m->is_key && m->is_key[i]) {
        ce_buf_printf(err, "key column \"%s\" is null", m->names[i]);
        return CE_EINVAL;
    }
    *len = is_null ? CQL_NULL : (int32_t)(storage->len - before);
    return CE_OK;
}

ce_err sync_doc_values(const sync_docmap *m, const json_t *hit, ce_buf *storage, cql_value *vals,
                       int64_t *version, ce_buf *err)
{
    ce_buf_reset(storage);
    const json_t *src = json_object_get(hit, "_source");
    int64_t unit = sync_version_unit(m->version_unit_us);
    ce_err rc = doc_version(m, src, unit, version, err);
    id_parts ip = {.jid = json_object_get(hit, "_id")};
    for (size_t i = 0; i < m->ncols && !rc; i++) {
        vals[i].ptr = NULL;
        vals[i].len = CQL_UNSET;
        if (m->skip && m->skip[i])
            continue;
        const json_t *v;
        json_t *owned;
        rc = field_value(m, i, src, &ip, &v, &owned, err);
        if (!rc && v)
            rc = bind_field(m, i, v, storage, &vals[i].len, err);
        json_decref(owned);
    }
    ce_buf_free(&ip.parts);
    if (!rc) {
        rc = ce_buf_put_u64(storage, (uint64_t)(*version * unit));
        vals[m->ncols].len = 8;
    }
    /* the values lie one after the other in storage (nulls and unset take no bytes) */
    size_t off = 0;
    for (size_t i = 0; !rc && i <= m->ncols; i++) {
        if (vals[i].len < 0)
            continue;
        vals[i].ptr = (const uint8_t *)storage->data + off;
        off += (size_t)vals[i].len;
    }
    return rc;
}
