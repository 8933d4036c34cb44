/*
 * bulk_parse.c - the _bulk response codec: bytes in, one outcome per item out.
 *
 * Two paths, both validating the whole body before the first callback so that a
 * truncated or malformed answer reports nothing as done:
 *  - fast path, for the common `"errors":false` answer: a small non-allocating
 *    scanner walks the body once to check its structure, count the items and
 *    read each item's status and _id, then walks the items again for the callbacks;
 *  - full path (errors present, escaped ids, anything unusual): jansson.
 * Classification: 2xx (and a delete's 404 "not_found" without an error) is OK,
 * 409 a conflict (with the current version when the reason gives it), 408/429/5xx
 * and rejected-execution / circuit-breaker / unavailable-shard errors are retryable
 * (ES_ITEM_FAILED), any other status is a rejection.
 */
#include "es/es_int.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ fast scanner */

typedef struct {
    const char *p, *end;
} scan;

static void sc_ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

static bool sc_lit(scan *s, char c)
{
    sc_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return true;
    }
    return false;
}

/* A string token; the out-params get its raw contents, *esc whether it has escapes. */
static bool sc_string(scan *s, const char **str, size_t *n, bool *esc)
{
    sc_ws(s);
    if (s->p >= s->end || *s->p != '"')
        return false;
    const char *q = ++s->p;
    bool e = false;
    while (q < s->end) {
        unsigned char c = (unsigned char)*q;
        if (c == '"') {
            *str = s->p;
            *n = (size_t)(q - s->p);
            *esc = e;
            s->p = q + 1;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            e = true;
            q += 2;
            continue;
        }
        q++;
    }
    return false;
}

static bool sc_number(scan *s, int64_t *out)
{
    sc_ws(s);
    const char *q = s->p;
    bool neg = false;
    if (q < s->end && *q == '-') {
        neg = true;
        q++;
    }
    const char *digits = q;
    int64_t v = 0;
    while (q < s->end && *q >= '0' && *q <= '9') {
        if (v < INT64_MAX / 10)
            v = v * 10 + (*q - '0');
        q++;
    }
    if (q == digits)
        return false;
    bool integral = true;
    if (q < s->end && *q == '.') {
        integral = false;
        q++;
        const char *f = q;
        while (q < s->end && *q >= '0' && *q <= '9')
            q++;
        if (q == f)
            return false;
    }
    if (q < s->end && (*q == 'e' || *q == 'E')) {
        integral = false;
        q++;
        if (q < s->end && (*q == '+' || *q == '-'))
            q++;
        const char *f = q;
        while (q < s->end && *q >= '0' && *q <= '9')
            q++;
        if (q == f)
            return false;
    }
    s->p = q;
    if (out)
        *out = integral ? (neg ? -v : v) : INT64_MIN;
    return true;
}

static bool sc_value(scan *s, int depth)
{
    if (depth > 64)
        return false;
    sc_ws(s);
    if (s->p >= s->end)
        return false;
    char c = *s->p;
    const char *str;
    size_t n;
    bool esc;
    switch (c) {
    case '"':
        return sc_string(s, &str, &n, &esc);
    case '{':
        s->p++;
        if (sc_lit(s, '}'))
            return true;
        do {
            if (!sc_string(s, &str, &n, &esc) || !sc_lit(s, ':') || !sc_value(s, depth + 1))
                return false;
        } while (sc_lit(s, ','));
        return sc_lit(s, '}');
    case '[':
        s->p++;
        if (sc_lit(s, ']'))
            return true;
        do {
            if (!sc_value(s, depth + 1))
                return false;
        } while (sc_lit(s, ','));
        return sc_lit(s, ']');
    case 't':
        if (s->end - s->p >= 4 && memcmp(s->p, "true", 4) == 0) {
            s->p += 4;
            return true;
        }
        return false;
    case 'f':
        if (s->end - s->p >= 5 && memcmp(s->p, "false", 5) == 0) {
            s->p += 5;
            return true;
        }
        return false;
    case 'n':
        if (s->end - s->p >= 4 && memcmp(s->p, "null", 4) == 0) {
            s->p += 4;
            return true;
        }
        return false;
    default:
        return sc_number(s, NULL);
    }
}

static bool key_is(const char *k, size_t n, const char *want)
{
    size_t wl = strlen(want);
    return n == wl && memcmp(k, want, n) == 0;
}

typedef struct {
    const char *id;
    size_t id_len;
    int64_t status;
} fast_item;

/* One item {"<action>":{...}}; false when malformed or when the fast path cannot
 * represent it (error object, escaped id, missing status). *simple tells the latter. */
static bool sc_item(scan *s, fast_item *it, bool *simple)
{
    const char *k, *str;
    size_t kn, n;
    bool esc;
    it->id = NULL;
    it->id_len = 0;
    it->status = -1;
    if (!sc_lit(s, '{') || !sc_string(s, &k, &kn, &esc) || !sc_lit(s, ':') || !sc_lit(s, '{'))
        return false;
    if (!sc_lit(s, '}')) {
        do {
            if (!sc_string(s, &k, &kn, &esc) || !sc_lit(s, ':'))
                return false;
            if (key_is(k, kn, "_id")) {
                sc_ws(s);
                if (s->p < s->end && *s->p == '"') {
                    if (!sc_string(s, &str, &n, &esc))
                        return false;
                    it->id = str;
                    it->id_len = n;
                    if (esc)
                        *simple = false;
                } else if (!sc_value(s, 1)) {
                    return false;
                }
            } else if (key_is(k, kn, "status")) {
                int64_t v;
                sc_ws(s);
                if (s->p < s->end && (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))) {
                    if (!sc_number(s, &v))
                        return false;
                    it->status = v;
                } else if (!sc_value(s, 1)) {
                    return false;
                }
            } else {
                if (key_is(k, kn, "error"))
                    *simple = false;
                if (!sc_value(s, 2))
                    return false;
            }
        } while (sc_lit(s, ','));
        if (!sc_lit(s, '}'))
            return false;
    }
    if (!sc_lit(s, '}'))
        return false;
    if (it->status < 200 || it->status > 299 || !it->id)
        *simple = false;
    return true;
}

/* Walk the items array starting at '['; counts items; calls fn when non-NULL. */
static bool sc_items(scan *s, size_t *count, bool *simple, es_bulk_parse_fn fn, void *ud,
                     ce_buf *scratch)
{
    *count = 0;
    if (!sc_lit(s, '['))
        return false;
    if (sc_lit(s, ']'))
        return true;
    do {
        fast_item it;
        if (!sc_item(s, &it, simple))
            return false;
        if (fn) {
            ce_buf_reset(scratch);
            if (ce_buf_append(scratch, it.id, it.id_len) || !ce_buf_cstr(scratch))
                return false;
            fn(*count, ES_ITEM_OK, (int)it.status, scratch->data, NULL, NULL, -1, ud);
        }
        (*count)++;
    } while (sc_lit(s, ','));
    return sc_lit(s, ']');
}

/* 1 = handled by the fast path, 0 = use the full path, -1 = malformed. */
static int parse_fast(const char *body, size_t len, size_t expected, es_bulk_parse_fn fn,
                      void *ud, ce_err *err)
{
    scan s = {body, body + len};
    const char *k;
    size_t kn;
    bool esc;
    int errors = -1;
    const char *items_at = NULL;
    size_t count = 0;
    bool simple = true;
    if (!sc_lit(&s, '{'))
        return -1;
    if (!sc_lit(&s, '}')) {
        do {
            if (!sc_string(&s, &k, &kn, &esc) || !sc_lit(&s, ':'))
                return -1;
            sc_ws(&s);
            if (key_is(k, kn, "errors")) {
                if (s.end - s.p >= 5 && memcmp(s.p, "false", 5) == 0) {
                    errors = 0;
                    s.p += 5;
                } else if (s.end - s.p >= 4 && memcmp(s.p, "true", 4) == 0) {
                    errors = 1;
                    s.p += 4;
                } else {
                    return 0;
                }
            } else if (key_is(k, kn, "items")) {
                items_at = s.p;
                if (!sc_items(&s, &count, &simple, NULL, NULL, NULL))
                    return -1;
            } else if (!sc_value(&s, 1)) {
                return -1;
            }
        } while (sc_lit(&s, ','));
        if (!sc_lit(&s, '}'))
            return -1;
    }
    sc_ws(&s);
    if (s.p != s.end)
        return -1;
    if (errors != 0 || !items_at || !simple)
        return 0;
    if (count != expected) {
        *err = CE_EPROTO;
        return 1;
    }
    scan s2 = {items_at, body + len};
    ce_buf scratch = CE_BUF_INIT;
    bool ok = sc_items(&s2, &count, &simple, fn, ud, &scratch);
    ce_buf_free(&scratch);
    *err = ok ? CE_OK : CE_ENOMEM;
    return 1;
}

/* ------------------------------------------------------------ full path */

static bool type_is_retryable(const char *t)
{
    return t && (strcmp(t, "es_rejected_execution_exception") == 0 ||
                 strcmp(t, "rejected_execution_exception") == 0 ||
                 strcmp(t, "circuit_breaking_exception") == 0 ||
                 strcmp(t, "unavailable_shards_exception") == 0 ||
                 strcmp(t, "node_not_connected_exception") == 0 ||
                 strcmp(t, "node_closed_exception") == 0 ||
                 strcmp(t, "no_shard_available_action_exception") == 0 ||
                 strcmp(t, "process_cluster_event_timeout_exception") == 0);
}

static int64_t reason_current_version(const char *reason)
{
    if (!reason)
        return -1;
    const char *p = strstr(reason, "current version [");
    if (!p)
        return -1;
    p += strlen("current version [");
    char *end;
    long long v = strtoll(p, &end, 10);
    if (end == p || *end != ']')
        return -1;
    return (int64_t)v;
}

static ce_err parse_full(const char *body, size_t len, size_t expected, es_bulk_parse_fn fn,
                         void *ud)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!root)
        return CE_EJSON;
    ce_err e = CE_OK;
    json_t *items = json_object_get(root, "items");
    if (!json_is_object(root) || !json_is_array(items)) {
        e = CE_EPROTO;
        goto out;
    }
    if (json_array_size(items) != expected) {
        e = CE_EPROTO;
        goto out;
    }
    /* Validate everything before reporting anything. */
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        if (!json_is_object(it) || json_object_size(it) != 1) {
            e = CE_EPROTO;
            goto out;
        }
        json_t *res = json_object_iter_value(json_object_iter(it));
        if (!json_is_object(res) || !json_is_integer(json_object_get(res, "status"))) {
            e = CE_EPROTO;
            goto out;
        }
        json_t *idv = json_object_get(res, "_id");
        if (idv && !json_is_string(idv) && !json_is_null(idv)) {
            e = CE_EPROTO;
            goto out;
        }
    }
    json_array_foreach(items, i, it)
    {
        const char *action = json_object_iter_key(json_object_iter(it));
        json_t *res = json_object_iter_value(json_object_iter(it));
        json_int_t st = json_integer_value(json_object_get(res, "status"));
        const char *id = json_string_value(json_object_get(res, "_id"));
        json_t *err = json_object_get(res, "error");
        const char *type = NULL, *reason = NULL;
        if (json_is_object(err)) {
            type = json_string_value(json_object_get(err, "type"));
            reason = json_string_value(json_object_get(err, "reason"));
            json_t *cause = json_object_get(err, "caused_by");
            if (!reason && cause)
                reason = json_string_value(json_object_get(cause, "reason"));
        } else if (json_is_string(err)) {
            reason = json_string_value(err);
            type = "error";
        }
        es_item_status s;
        int64_t cur = -1;
        if (st >= 200 && st <= 299 && !err) {
            s = ES_ITEM_OK;
        } else if (st == 404 && !err && strcmp(action, "delete") == 0) {
            s = ES_ITEM_OK; /* nothing to delete: the goal is reached */
        } else if (st == 409) {
            s = ES_ITEM_CONFLICT;
            cur = reason_current_version(reason);
        } else if (st == 408 || st == 429 || st >= 500 || type_is_retryable(type)) {
            s = ES_ITEM_FAILED;
        } else {
            s = ES_ITEM_REJECTED;
        }
        if (s != ES_ITEM_OK && !type)
            type = "error";
        fn(i, s, (int)st, id ? id : "", type, reason, cur, ud);
    }
out:
    json_decref(root);
    return e;
}

ce_err es_bulk_parse_response(const char *body, size_t len, size_t expected_items,
                              es_bulk_parse_fn fn, void *ud)
{
    if (!body || len == 0)
        return CE_EJSON;
    ce_err e = CE_OK;
    int r = parse_fast(body, len, expected_items, fn, ud, &e);
    if (r < 0)
        return CE_EJSON;
    if (r > 0)
        return e;
    return parse_full(body, len, expected_items, fn, ud);
}
