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

ce_err es_search_page_parse(const char *body, size_t len, unsigned flags, es_search_page *out)
{
    memset(out, 0, sizeof *out);
    out->total = -1;
    json_error_t jerr;
    out->root = json_loadb(body, len, 0, &jerr);
    if (!out->root) {
        snprintf(out->error, sizeof out->error, "malformed answer: %s", jerr.text);
        return page_fail(out, CE_EJSON, NULL);
    }
    if (!json_is_object(out->root))
        return page_fail(out, CE_EPROTO, "malformed answer: not an object");
    ce_err e = page_hits(out, flags);
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
