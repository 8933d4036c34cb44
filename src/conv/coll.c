/*
 * coll.c - values built from other values, both ways: list and set, map, tuple, user
 * types (udt) and vectors. Elements go back through the dispatcher (conv.c) one level
 * deeper, so nesting is capped at CONV_MAX_DEPTH in both directions.
 */
#include "conv/conv_int.h"

#include <string.h>

#include "util/jsonw.h"

/* ------------------------------------------------------------------ shared */

/* Reads [int len][bytes] at *off of a value of n bytes. */
static ce_err read_elem(const uint8_t *p, size_t n, size_t *off, const uint8_t **ep, int32_t *elen)
{
    if (n - *off < 4)
        return CE_EPROTO;
    int32_t l = (int32_t)conv_rd32(p + *off);
    *off += 4;
    if (l < 0) {
        *ep = NULL;
        *elen = CQL_NULL;
        return CE_OK;
    }
    if ((size_t)l > n - *off)
        return CE_EPROTO;
    *ep = p + *off;
    *elen = l;
    *off += (size_t)l;
    return CE_OK;
}

static bool text_like(const cql_type *t)
{
    return t->kind == CQL_T_VARCHAR || t->kind == CQL_T_ASCII;
}

static ce_err collection_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b,
                              int depth)
{
    size_t n = (size_t)len, off = 0;
    bool is_map = t->kind == CQL_T_MAP;
    if (t->nsub != (is_map ? 2u : 1u) || n < 4)
        return CE_EPROTO;
    int32_t count = (int32_t)conv_rd32(p);
    off = 4;
    if (count < 0 || (size_t)count > (n - 4) / (is_map ? 8 : 4))
        return CE_EPROTO; /* each element needs at least its 4-byte length */
    bool as_object = is_map && text_like(t->sub[0]);
    ce_err e = ce_buf_append_byte(b, as_object ? '{' : '[');
    for (int32_t i = 0; i < count && !e; i++) {
        const uint8_t *ep;
        int32_t el;
        if (i)
            e = ce_buf_append_byte(b, ',');
        if (!e)
            e = read_elem(p, n, &off, &ep, &el);
        if (e)
            break;
        if (!is_map) {
            e = conv_to_json_at(t->sub[0], ep, el, b, depth + 1);
            continue;
        }
        if (as_object) {
            if (el < 0)
                return CE_EPROTO; /* a null key cannot be an object key */
            e = jsonw_string(b, (const char *)ep, (size_t)el);
            if (!e)
                e = ce_buf_append_byte(b, ':');
        } else {
            e = ce_buf_append_byte(b, '[');
            if (!e)
                e = conv_to_json_at(t->sub[0], ep, el, b, depth + 1);
            if (!e)
                e = ce_buf_append_byte(b, ',');
        }
        if (!e)
            e = read_elem(p, n, &off, &ep, &el);
        if (!e)
            e = conv_to_json_at(t->sub[1], ep, el, b, depth + 1);
        if (!e && !as_object)
            e = ce_buf_append_byte(b, ']');
    }
    if (!e && off != n)
        e = CE_EPROTO;
    if (!e)
        e = ce_buf_append_byte(b, as_object ? '}' : ']');
    return e;
}

/* Tuples and UDTs: [bytes] per field; a value may stop early (fields added later). */
static ce_err fields_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    bool udt = t->kind == CQL_T_UDT;
    size_t n = (size_t)len, off = 0;
    if (udt && !t->field_names && t->nsub)
        return CE_EPROTO;
    ce_err e = ce_buf_append_byte(b, udt ? '{' : '[');
    for (size_t i = 0; i < t->nsub && !e; i++) {
        const uint8_t *ep = NULL;
        int32_t el = CQL_NULL;
        if (i)
            e = ce_buf_append_byte(b, ',');
        if (!e && udt) {
            const char *fn = t->field_names[i] ? t->field_names[i] : "";
            e = jsonw_key(b, fn, strlen(fn));
        }
        if (!e && off < n)
            e = read_elem(p, n, &off, &ep, &el);
        if (!e)
            e = conv_to_json_at(t->sub[i], ep, el, b, depth + 1);
    }
    if (!e && off != n)
        e = CE_EPROTO;
    if (!e)
        e = ce_buf_append_byte(b, udt ? '}' : ']');
    return e;
}


/* [int len][bytes] of j (null -> -1 when allow_null). */
static ce_err enc_elem(conv_ctx *c, const cql_type *parent, const cql_type *t, const json_t *j,
                       int depth, bool allow_null)
{
    ce_err e;
    if (json_is_null(j)) {
        if (!allow_null)
            return conv_fail_msg(c, parent, "null is not allowed inside ");
        return conv_put_be(c->out, 0xFFFFFFFFu, 4);
    }
    size_t mark = c->out->len;
    if ((e = conv_put_be(c->out, 0, 4)))
        return e;
    if ((e = conv_from_json_at(c, t, j, depth + 1)))
        return e;
    size_t l = c->out->len - mark - 4;
    if (l > INT32_MAX)
        return CE_ELIMIT;
    uint8_t *q = (uint8_t *)c->out->data + mark;
    q[0] = (uint8_t)(l >> 24);
    q[1] = (uint8_t)(l >> 16);
    q[2] = (uint8_t)(l >> 8);
    q[3] = (uint8_t)l;
    return CE_OK;
}

/* ------------------------------------------------------------------ list */

ce_err conv_list_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    return collection_json(t, p, len, b, depth);
}

ce_err conv_list_from_json(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    if (!json_is_array(j))
        return conv_fail_msg(c, t, "expected an array for ");
    if (t->nsub != 1)
        return conv_fail_msg(c, t, "incomplete type ");
    size_t n = json_array_size(j);
    ce_err e = conv_put_be(c->out, (uint32_t)n, 4);
    for (size_t i = 0; i < n && !e; i++)
        e = enc_elem(c, t, t->sub[0], json_array_get(j, i), depth, false);
    return e;
}

/* ------------------------------------------------------------------ map */

ce_err conv_map_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    return collection_json(t, p, len, b, depth);
}

ce_err conv_map_from_json(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    if (t->nsub != 2)
        return conv_fail_msg(c, t, "incomplete type ");
    ce_err e;
    if (json_is_object(j)) {
        if ((e = conv_put_be(c->out, (uint32_t)json_object_size(j), 4)))
            return e;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            json_t *kj = json_string(k);
            if (!kj)
                return CE_ENOMEM;
            e = enc_elem(c, t, t->sub[0], kj, depth, false);
            json_decref(kj);
            if (!e)
                e = enc_elem(c, t, t->sub[1], v, depth, false);
            if (e)
                return e;
        }
        return CE_OK;
    }
    if (!json_is_array(j))
        return conv_fail_msg(c, t, "expected an object or an array of [key, value] pairs for ");
    size_t n = json_array_size(j);
    if ((e = conv_put_be(c->out, (uint32_t)n, 4)))
        return e;
    for (size_t i = 0; i < n; i++) {
        json_t *pair = json_array_get(j, i);
        if (!json_is_array(pair) || json_array_size(pair) != 2)
            return conv_fail_msg(c, t, "expected [key, value] pairs for ");
        if ((e = enc_elem(c, t, t->sub[0], json_array_get(pair, 0), depth, false)) ||
            (e = enc_elem(c, t, t->sub[1], json_array_get(pair, 1), depth, false)))
            return e;
    }
    return CE_OK;
}

/* ------------------------------------------------------------------ tuple */

ce_err conv_tuple_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    return fields_json(t, p, len, b, depth);
}

ce_err conv_tuple_from_json(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    if (!json_is_array(j))
        return conv_fail_msg(c, t, "expected an array for ");
    if (json_array_size(j) != t->nsub)
        return conv_fail_msg(c, t, "expected %zu elements, got %zu, for ", t->nsub, json_array_size(j));
    ce_err e = CE_OK;
    for (size_t i = 0; i < t->nsub && !e; i++)
        e = enc_elem(c, t, t->sub[i], json_array_get(j, i), depth, true);
    return e;
}

/* ------------------------------------------------------------------ udt */

ce_err conv_udt_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    return fields_json(t, p, len, b, depth);
}

ce_err conv_udt_from_json(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    if (!json_is_object(j))
        return conv_fail_msg(c, t, "expected an object for ");
    if (!t->nsub || !t->field_names)
        return conv_fail_msg(c, t, "fields not known for user type ");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v) {
        bool known = false;
        for (size_t i = 0; i < t->nsub && !known; i++)
            known = t->field_names[i] && strcmp(t->field_names[i], k) == 0;
        if (!known)
            return conv_fail_msg(c, t, "unknown field '%.64s' for ", k);
    }
    ce_err e = CE_OK;
    for (size_t i = 0; i < t->nsub && !e; i++) {
        json_t *fv = json_object_get(j, t->field_names[i]);
        e = enc_elem(c, t, t->sub[i], fv ? fv : json_null(), depth, true);
    }
    return e;
}

/* ------------------------------------------------------------------ vector */

ce_err conv_vector_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b, int depth)
{
    if (t->nsub != 1 || t->dimension == 0)
        return CE_EPROTO;
    int es = cql_type_fixed_size(t->sub[0]);
    size_t n = (size_t)len, off = 0;
    if (es > 0 && (uint64_t)es * t->dimension != n)
        return CE_EPROTO;
    ce_err e = ce_buf_append_byte(b, '[');
    for (uint32_t i = 0; i < t->dimension && !e; i++) {
        if (i)
            e = ce_buf_append_byte(b, ',');
        if (e)
            break;
        if (es > 0) {
            e = conv_to_json_at(t->sub[0], p + off, es, b, depth + 1);
            off += (size_t)es;
            continue;
        }
        uint64_t el;
        size_t k = conv_uvint_read(p + off, n - off, &el);
        if (!k || el > n - off - k)
            return CE_EPROTO;
        off += k;
        e = conv_to_json_at(t->sub[0], p + off, (int32_t)el, b, depth + 1);
        off += (size_t)el;
    }
    if (!e && off != n)
        e = CE_EPROTO;
    if (!e)
        e = ce_buf_append_byte(b, ']');
    return e;
}

ce_err conv_vector_from_json(conv_ctx *c, const cql_type *t, const json_t *j, int depth)
{
    if (!json_is_array(j))
        return conv_fail_msg(c, t, "expected an array for ");
    if (t->nsub != 1)
        return conv_fail_msg(c, t, "incomplete type ");
    if (json_array_size(j) != t->dimension)
        return conv_fail_msg(c, t, "expected %u elements, got %zu, for ", (unsigned)t->dimension,
                        json_array_size(j));
    int fs = cql_type_fixed_size(t->sub[0]);
    for (size_t i = 0; i < t->dimension; i++) {
        json_t *ej = json_array_get(j, i);
        if (json_is_null(ej))
            return conv_fail_msg(c, t, "null is not allowed inside ");
        size_t mark = c->out->len;
        ce_err e = conv_from_json_at(c, t->sub[0], ej, depth + 1);
        if (e)
            return e;
        size_t l = c->out->len - mark;
        if (fs >= 0) {
            if (l != (size_t)fs)
                return conv_fail_msg(c, t, "element %zu has the wrong size for ", i);
            continue;
        }
        uint8_t vb[9];
        size_t k = conv_uvint_write(l, vb);
        if ((e = ce_buf_reserve(c->out, k)))
            return e;
        memmove(c->out->data + mark + k, c->out->data + mark, l);
        memcpy(c->out->data + mark, vb, k);
        c->out->len += k;
    }
    return CE_OK;
}

