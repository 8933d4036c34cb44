/*
 * search_parse.c - the answers of a read, from bytes (codec, no I/O): one page of
 * a search, scroll or point-in-time read; the answer that opens a point in time;
 * "index not found" answers. search.c sends the requests and keeps the read's
 * state; everything it learns from an answer comes from here, so the parsing is
 * tested from byte fixtures and fuzzed (tests/fuzz/fuzz_es_search_page.c).
 *
 * A page is refused (never half-read) when it is not JSON, not an object, has no
 * hits array where one is due, has a hit that is not an object, lacks the sort
 * values a search_after read continues from, or reports failed shards: a shard
 * that did not answer means missing hits, and a read that went on would skip them.
 */
#include "es/es_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void es_search_page_free(es_search_page *p)
{
    if (!p)
        return;
    json_decref(p->root);
    memset(p, 0, sizeof *p);
    p->total = -1;
}

/* Refuse the page: keep nothing of it, only the reason (already in p->error when
 * text is NULL). */
static ce_err page_fail(es_search_page *p, ce_err e, const char *text)
{
    if (text)
        snprintf(p->error, sizeof p->error, "%s", text);
    json_decref(p->root);
    p->root = NULL;
    p->hits = p->last_sort = NULL;
    p->scroll_id = p->pit_id = NULL;
    return e;
}

/* The hits array; a lean answer (filter_path) leaves out an empty one, "hits" with it. */
static ce_err page_hits(es_search_page *p, unsigned flags)
{
    json_t *outer = json_object_get(p->root, "hits");
    json_t *hh = json_object_get(outer, "hits");
    if (!hh && (flags & ES_PAGE_LEAN)) {
        if (!outer) {
            outer = json_object();
            if (!outer || json_object_set_new(p->root, "hits", outer))
                return page_fail(p, CE_ENOMEM, "out of memory");
        }
        if (!json_is_object(outer))
            return page_fail(p, CE_EPROTO, "malformed answer: hits is not an object");
        hh = json_array();
        if (!hh || json_object_set_new(outer, "hits", hh))
            return page_fail(p, CE_ENOMEM, "out of memory");
    }
    if (!json_is_array(hh))
        return page_fail(p, CE_EPROTO, "malformed answer: no hits array");
    size_t i;
    json_t *h;
    json_array_foreach(hh, i, h)
    {
        if (!json_is_object(h)) {
            snprintf(p->error, sizeof p->error, "malformed answer: hit #%zu is not an object", i);
            return page_fail(p, CE_EPROTO, NULL);
        }
    }
    p->hits = hh;
    return CE_OK;
}

/* _shards.failed > 0: some shard did not answer, so the page may miss hits. */
static ce_err page_shards(es_search_page *p)
{
    json_t *sh = json_object_get(p->root, "_shards");
    json_t *failed = json_object_get(sh, "failed");
    if (!json_is_integer(failed) || json_integer_value(failed) <= 0)
        return CE_OK;
    json_t *first = json_array_get(json_object_get(sh, "failures"), 0);
    json_t *reason = json_object_get(first, "reason");
    const char *type = json_string_value(json_object_get(reason, "type"));
    const char *why = json_string_value(json_object_get(reason, "reason"));
    if (!why)
        why = json_string_value(reason);
    p->shards_failed = (int)(json_integer_value(failed) > 1000000 ? 1000000
                                                                  : json_integer_value(failed));
    snprintf(p->error, sizeof p->error, "%d shard(s) failed: %.60s%s%.300s", p->shards_failed,
             type ? type : "", type ? ": " : "", why ? why : "no reason given");
    return page_fail(p, CE_ESERVER, NULL);
}

static int64_t page_total(json_t *root)
{
    json_t *t = json_object_get(json_object_get(root, "hits"), "total");
    if (json_is_object(t))
        t = json_object_get(t, "value");
    return json_is_integer(t) ? json_integer_value(t) : -1;
}

/* ---- cutting the page into hits (json_exact.c's scanner) */

static size_t ws(const char *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

/* Step to the next member of an object whose '{' is behind p[*i]: 1 with its key (raw,
 * escapes kept) and *i at its value, 0 past the closing '}', -1 when malformed. */
static int member_next(const char *p, size_t n, size_t *i, bool first, const char **key, size_t *klen)
{
    size_t j = ws(p, n, *i);
    if (j < n && p[j] == '}') {
        *i = j + 1;
        return 0;
    }
    if (!first && (j >= n || p[j++] != ','))
        return -1;
    j = ws(p, n, j);
    size_t k = j;
    ce_buf none = CE_BUF_INIT;
    if (j >= n || p[j] != '"' || !es_json_skip(p, n, &k, &none))
        return -1;
    *key = p + j + 1;
    *klen = k - j - 2;
    j = ws(p, n, k);
    if (j >= n || p[j] != ':')
        return -1;
    *i = ws(p, n, j + 1);
    return 1;
}

static bool key_is(const char *k, size_t kl, const char *want)
{
    return kl == strlen(want) && memcmp(k, want, kl) == 0;
}

/* The value of member `want` of the object at p[*i] (stepped over): its span in *vs and *ve,
 * when found. Where `inner` is set, the member's value is an object searched for `inner`
 * in turn. False when the text is not a well-formed object. */
static bool object_find(const char *p, size_t n, size_t *i, const char *want, const char *inner,
                        size_t *vs, size_t *ve, ce_buf *stk)
{
    if (*i >= n || p[*i] != '{')
        return es_json_skip(p, n, i, stk);
    (*i)++;
    const char *k;
    size_t kl;
    int r;
    for (bool first = true; (r = member_next(p, n, i, first, &k, &kl)) == 1; first = false) {
        size_t at = *i;
        bool hit = key_is(k, kl, want);
        if (hit && inner && !object_find(p, n, i, inner, NULL, vs, ve, stk))
            return false;
        if ((!hit || inner) && at == *i && !es_json_skip(p, n, i, stk))
            return false;
        if (hit && !inner) {
            *vs = at;
            if (!es_json_skip(p, n, i, stk))
                return false;
            *ve = *i;
        }
    }
    return r == 0;
}

#define HIT_ERROR_KEY "_casselastic_error"

const char *es_hit_error(const json_t *hit)
{
    return json_string_value(json_object_get(hit, HIT_ERROR_KEY));
}

ce_err es_hit_set_error(json_t *hit, const char *why)
{
    return json_object_set_new(hit, HIT_ERROR_KEY, json_string(why)) ? CE_ENOMEM : CE_OK;
}

/* Member `key` of the hit text p[0..n), parsed alone; NULL when absent or unreadable. */
static json_t *hit_member(const char *p, size_t n, const char *key, ce_buf *scratch, ce_buf *stk)
{
    size_t i = 0, vs = 0, ve = 0;
    if (!object_find(p, n, &i, key, NULL, &vs, &ve, stk) || ve == 0)
        return NULL;
    json_error_t jerr;
    return es_json_load_exact(p + vs, ve - vs, scratch, &jerr);
}

/* The stand-in of a hit jansson refused: why, and its _id and sort values when they read. */
static json_t *broken_hit(const char *p, size_t n, const char *why, ce_buf *scratch, ce_buf *stk)
{
    char text[200];
    size_t k = 0;
    for (; why[k] && k + 1 < sizeof text; k++)
        text[k] = (why[k] < 0x20 || (unsigned char)why[k] >= 0x7f) ? '?' : why[k];
    text[k] = 0;
    json_t *h = json_object();
    if (!h || json_object_set_new(h, HIT_ERROR_KEY, json_string(text))) {
        json_decref(h);
        return NULL;
    }
    json_t *id = hit_member(p, n, "_id", scratch, stk);
    if (json_is_string(id))
        json_object_set(h, "_id", id);
    json_decref(id);
    json_t *sort = hit_member(p, n, "sort", scratch, stk);
    if (json_is_array(sort))
        json_object_set(h, "sort", sort);
    json_decref(sort);
    return h;
}

/* Parse each element of the hits array p[hs..he) alone into arr. */
static ce_err page_read_hits(es_search_page *p, const char *b, size_t hs, size_t he, json_t *arr, ce_buf *scratch,
                             ce_buf *stk)
{
    size_t i = hs + 1;
    for (size_t nth = 0;; nth++) {
        i = ws(b, he, i);
        if (i < he && b[i] == ']')
            return CE_OK;
        if (nth > 0)
            i = ws(b, he, i + 1); /* the ',' (the scanner checked the array) */
        size_t at = i;
        if (b[at] != '{' || !es_json_skip(b, he, &i, stk)) {
            snprintf(p->error, sizeof p->error, "malformed answer: hit #%zu is not an object", nth);
            return CE_EPROTO;
        }
        json_error_t jerr;
        json_t *h = es_json_load_exact(b + at, i - at, scratch, &jerr);
        if (!h)
            h = broken_hit(b + at, i - at, jerr.text, scratch, stk);
        if (!h || json_array_append_new(arr, h)) {
            snprintf(p->error, sizeof p->error, "out of memory");
            return CE_ENOMEM;
        }
    }
}

/* The answer without its hits, then each hit alone. */
static ce_err page_load(es_search_page *p, const char *body, size_t len)
{
    ce_buf stk = CE_BUF_INIT, env = CE_BUF_INIT, scratch = CE_BUF_INIT;
    size_t i = ws(body, len, 0), hs = 0, he = 0;
    ce_err e = CE_OK;
    if (!object_find(body, len, &i, "hits", "hits", &hs, &he, &stk) || ws(body, len, i) != len) {
        snprintf(p->error, sizeof p->error, "malformed answer: not JSON");
        e = CE_EJSON;
    }
    bool arr = he > hs && body[hs] == '[';
    if (!e && arr)
        e = es_json_copy_exact(body, hs, &env);
    e = e ? e : (arr ? ce_buf_append_str(&env, "[]") : CE_OK);
    e = e ? e : es_json_copy_exact(body + (arr ? he : 0), len - (arr ? he : 0), &env);
    json_error_t jerr;
    if (!e && !(p->root = json_loadb(env.len ? (const char *)env.data : "", env.len, 0, &jerr))) {
        snprintf(p->error, sizeof p->error, "malformed answer: %s", jerr.text);
        e = CE_EJSON;
    }
    if (!e && arr)
        e = page_read_hits(p, body, hs, he, json_object_get(json_object_get(p->root, "hits"), "hits"),
                           &scratch, &stk);
    if (e == CE_ENOMEM)
        snprintf(p->error, sizeof p->error, "out of memory");
    ce_buf_free(&stk);
    ce_buf_free(&env);
    ce_buf_free(&scratch);
    return e;
}

ce_err es_search_page_parse(const char *body, size_t len, unsigned flags, es_search_page *out)
{
    memset(out, 0, sizeof *out);
    out->total = -1;
    size_t first = ws(body, len, 0);
    if (first < len && body[first] != '{') {
        json_error_t jerr;
        json_t *any = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
        json_decref(any);
        return page_fail(out, any ? CE_EPROTO : CE_EJSON,
                         any ? "malformed answer: not an object" : "malformed answer: not JSON");
    }
    es_json_arena *arena = es_json_arena_open(); /* the page's values die together */
    ce_err e = page_load(out, body, len);
    es_json_arena_close(arena);
    if (e)
        return page_fail(out, e, NULL);
    if (!json_is_object(out->root))
        return page_fail(out, CE_EPROTO, "malformed answer: not an object");
    e = page_hits(out, flags);
    if (!e)
        e = page_shards(out);
    if (e)
        return e;
    out->scroll_id = json_string_value(json_object_get(out->root, "_scroll_id"));
    out->pit_id = json_string_value(json_object_get(out->root, "pit_id"));
    out->total = page_total(out->root);
    size_t n = json_array_size(out->hits);
    if (n > 0) {
        json_t *sort = json_object_get(json_array_get(out->hits, n - 1), "sort");
        out->last_sort = json_is_array(sort) ? sort : NULL;
        if (!out->last_sort && (flags & ES_PAGE_NEED_SORT))
            return page_fail(out, CE_EPROTO, "hit without sort values");
    }
    return CE_OK;
}

ce_err es_search_parse_pit_open(const char *body, size_t len, const char *id_key, char **id)
{
    *id = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!root)
        return CE_EJSON;
    const char *v = json_string_value(json_object_get(root, id_key));
    ce_err e = CE_EPROTO;
    if (v && *v) {
        *id = strdup(v);
        e = *id ? CE_OK : CE_ENOMEM;
    }
    json_decref(root);
    return e;
}

bool es_answer_is_index_not_found(long status, const char *body, size_t len)
{
    if (status != 404)
        return false;
    json_error_t jerr;
    json_t *root = len ? json_loadb(body, len, 0, &jerr) : NULL;
    const char *t = json_string_value(json_object_get(json_object_get(root, "error"), "type"));
    bool nf = !t || strcmp(t, "index_not_found_exception") == 0;
    json_decref(root);
    return nf;
}
