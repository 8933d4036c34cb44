/*
 * search.c - sorted reads of a whole index (or a window of it): point in time +
 * search_after where the server has it, scroll elsewhere (or when forced), sliced
 * when asked. This file only builds and sends the requests and keeps the read's
 * state; the answers are parsed by search_parse.c.
 *
 * Every server difference comes from the client's capabilities (es_caps): whether
 * there is a point in time at all (caps.pit), its API (one row per flavor in
 * pit_dialects: Elasticsearch POST /<index>/_pit + DELETE /_pit {"id"}, OpenSearch
 * POST /<index>/_search/point_in_time + DELETE /_search/point_in_time {"pit_id":[..]}),
 * the unique tiebreaker after the caller's sort field ("_shard_doc" where
 * caps.shard_doc_sort, else "_id"; where _id fielddata is disabled
 * (indices.id_field_data.enabled: false) the first page is refused and the read
 * falls back to scroll), and track_total_hits. Scroll sorts on the field (or
 * "_doc"). A sort_unique read (a field unique among the hits, as _seq_no within one
 * shard) needs neither: it pages by search_after on that field alone, on the index path
 * (with the caller's preference, as a scroll). Hits carry _version ("version": true)
 * unless lean. The PIT or scroll is always closed by es_search_close, also after errors.
 *
 * An answer over the client's response limit (es_client_opts.max_response_bytes): the same
 * page again with half the hits, down to one (search_after pages and a scroll's first page
 * can change size). A scroll page still over it (a later one cannot change size) ends the
 * scroll: the read starts again from the beginning as a search_after read sorted on _id
 * (resort; the hits already handed out come again). Page sizes double back after pages
 * under a quarter of the limit. One hit alone still over it (search_after reads): the same
 * page without _source names it (_id, _version, sort) and it is handed over as a stand-in
 * (es_hit_error: "over the response limit"), so the caller dead-letters it and the read
 * moves past it.
 */
#include "es/es_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonw.h"
#include "util/log.h"

/* The point-in-time API of one flavor. */
typedef struct {
    const char *open_suffix;  /* after /<index>; the keep-alive ("120s") follows */
    const char *id_key;       /* the id's key in the open answer */
    const char *close_path;
    const char *close_head, *close_tail; /* DELETE body around the JSON string id */
} pit_dialect;

static const pit_dialect pit_elasticsearch = {"/_pit?keep_alive=", "id", "/_pit", "{\"id\":", "}"};
static const pit_dialect pit_opensearch = {"/_search/point_in_time?keep_alive=", "pit_id",
                                           "/_search/point_in_time", "{\"pit_id\":[", "]}"};

static const pit_dialect *pit_dialect_of(const es_caps *k)
{
    return k->flavor == ES_FLAVOR_OPENSEARCH ? &pit_opensearch : &pit_elasticsearch;
}

struct es_search {
    es_client *c;
    const es_caps *caps;
    es_search_opts o;
    char *index;
    char *sort_field;
    char *preference;
    es_query q;            /* strings owned by the copies below */
    char *q_range_field, *q_not_field, *q_not_value;
    bool pit;
    char *pit_id;
    char *scroll_id;
    es_search_page page;   /* last page; its hits are what es_search_next handed out */
    json_t *search_after;  /* sort values of the last hit */
    json_t *empty;
    int64_t total;
    bool first, done;
    size_t page_size_asked;  /* the caller's page size (halved pages grow back to it) */
    bool ids_only;         /* the next request asks for no _source (a hit over the limit) */
    bool resorted;         /* a scroll over the limit, read again by search_after on _id */
    size_t shrinks;        /* pages read again smaller */
    ce_buf resp;           /* the page answer's buffer, kept for the next page (see page_done) */
};

void es_search_opts_init(es_search_opts *o)
{
    memset(o, 0, sizeof *o);
    o->keep_alive_s = ES_KEEP_ALIVE_S_DEFAULT;
    o->refresh_first = true;
}

static char *sdup(const char *s, bool *fail)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *fail = true;
    return d;
}

static ce_err index_path(ce_buf *p, const char *index, const char *suffix)
{
    ce_err e = ce_buf_append_byte(p, '/');
    if (!e)
        e = es_path_escape(p, index, strlen(index));
    if (!e)
        e = ce_buf_append_str(p, suffix);
    if (!e && !ce_buf_cstr(p))
        e = CE_ENOMEM;
    return e;
}

/* The error of a non-200 answer: "index not found" when it says so (and the request
 * named the index), else the server's text. */
static ce_err answer_error(es_search *s, const char *what, long st, const ce_buf *resp,
                           bool names_index)
{
    if (names_index && es_answer_is_index_not_found(st, resp->data, resp->len)) {
        es_client_set_error(s->c, "index %s not found", s->index);
        return CE_ENOTFOUND;
    }
    es_client_set_http_error(s->c, what, st, resp);
    return CE_EHTTP;
}

static ce_err open_pit(es_search *s)
{
    const pit_dialect *d = pit_dialect_of(s->caps);
    ce_buf p = CE_BUF_INIT, resp = CE_BUF_INIT;
    char suffix[96];
    snprintf(suffix, sizeof suffix, "%s%ds", d->open_suffix, s->o.keep_alive_s);
    ce_err e = index_path(&p, s->index, suffix);
    long st = 0;
    if (!e)
        e = es_client_request(s->c, "POST", p.data, NULL, 0, &st, &resp);
    if (!e && st != 200)
        e = answer_error(s, "open point in time", st, &resp, true);
    if (!e) {
        e = es_search_parse_pit_open(resp.data, resp.len, d->id_key, &s->pit_id);
        if (e)
            es_client_set_error(s->c, "open point in time: no id in the answer: %.200s",
                                resp.len ? resp.data : "");
    }
    ce_buf_free(&resp);
    ce_buf_free(&p);
    return e;
}

/* DELETE the point in time or the scroll, whichever the read holds. */
static void close_pit_or_scroll(es_search *s)
{
    const char *path, *head, *tail, *id;
    if (s->pit_id) {
        const pit_dialect *d = pit_dialect_of(s->caps);
        path = d->close_path, head = d->close_head, tail = d->close_tail, id = s->pit_id;
    } else if (s->scroll_id) {
        path = "/_search/scroll", head = "{\"scroll_id\":[", tail = "]}", id = s->scroll_id;
    } else {
        return;
    }
    ce_buf body = CE_BUF_INIT;
    long st = 0;
    ce_err e = ce_buf_append_str(&body, head);
    if (!e)
        e = jsonw_cstr(&body, id);
    if (!e)
        e = ce_buf_append_str(&body, tail);
    if (!e)
        e = es_client_request(s->c, "DELETE", path, body.data, body.len, &st, NULL);
    const char *what = s->pit_id ? "point in time" : "scroll";
    if (e || (st != 200 && st != 404))
        ce_warn("msg=\"es could not close %s\" status=%ld error=%s", what, st, ce_errname(e));
    else
        ce_debug("msg=\"es closed %s\"", what);
    ce_buf_free(&body);
}

/* A read paged by search_after on its sort values (a PIT read, a sort_unique one, or a
 * scroll read again sorted by _id). */
static bool paged_by_sort(const es_search *s)
{
    return s->pit || s->resorted || (s->o.sort_unique && s->sort_field);
}

/* Copy the options the read keeps; defaults for what the caller left at 0. */
static ce_err search_copy_opts(es_search *s, const es_search_opts *o)
{
    s->o = *o;
    if (s->o.page_size == 0)
        s->o.page_size = ES_PAGE_SIZE_DEFAULT;
    if (s->o.page_size > ES_PAGE_SIZE_MAX)
        s->o.page_size = ES_PAGE_SIZE_MAX;
    s->page_size_asked = s->o.page_size;
    if (s->o.keep_alive_s <= 0)
        s->o.keep_alive_s = ES_KEEP_ALIVE_S_DEFAULT;
    bool fail = false;
    s->index = sdup(o->index, &fail);
    s->sort_field = sdup(o->sort_field, &fail);
    s->preference = sdup(o->preference, &fail);
    s->q = o->query;
    s->q.range_field = s->q_range_field = sdup(o->query.range_field, &fail);
    s->q.must_not_field = s->q_not_field = sdup(o->query.must_not_field, &fail);
    s->q.must_not_value = s->q_not_value = sdup(o->query.must_not_value, &fail);
    s->empty = json_array();
    return fail || !s->empty ? CE_ENOMEM : CE_OK;
}

ce_err es_search_open(es_client *c, const es_search_opts *o, es_search **out)
{
    *out = NULL;
    if (!o->index || !o->index[0]) {
        es_client_set_error(c, "search: no index given");
        return CE_EINVAL;
    }
    es_search *s = calloc(1, sizeof *s);
    if (!s)
        return CE_ENOMEM;
    s->c = c;
    s->caps = es_client_caps(c);
    s->total = -1;
    s->page.total = -1;
    s->first = true;
    ce_err e = search_copy_opts(s, o);
    if (!e && o->refresh_first)
        e = es_index_refresh(c, s->index);
    /* Without a "_shard_doc" tiebreaker a PIT page sorts on _id, visiting every match
     * per page: an unordered read without a sort field is cheaper as a scroll. */
    s->pit = s->caps->pit && !o->force_scroll && !o->preference && !(o->sort_unique && o->sort_field) &&
             !(o->unordered && !o->sort_field && !s->caps->shard_doc_sort);
    if (!e && s->pit)
        e = open_pit(s);
    if (e) {
        es_search_close(s);
        return e;
    }
    ce_debug("msg=\"es search opened\" index=\"%s\" mode=%s slice=%d/%d", s->index,
             s->pit ? "pit" : paged_by_sort(s) ? "search_after" : "scroll", o->slice_id, o->slice_max);
    *out = s;
    return CE_OK;
}

/* The "sort" value: the caller's field, then the unique tiebreaker of a PIT read or of a
 * scroll read again by search_after (_id: no _shard_doc without a PIT). */
static ce_err write_sort(es_search *s, ce_buf *b)
{
    bool tiebreak = s->pit || s->resorted;
    ce_err e = ce_buf_append_str(b, ",\"sort\":[");
    if (!e && s->sort_field) {
        e = ce_buf_append_byte(b, '{');
        if (!e)
            e = jsonw_key(b, s->sort_field, strlen(s->sort_field));
        if (!e)
            e = ce_buf_append_str(b, "\"asc\"}");
        if (!e && tiebreak)
            e = ce_buf_append_byte(b, ',');
    }
    if (!e && tiebreak)
        e = ce_buf_append_str(b, s->pit && s->caps->shard_doc_sort ? "{\"_shard_doc\":\"asc\"}"
                                                                   : "{\"_id\":\"asc\"}");
    else if (!e && !s->sort_field)
        e = ce_buf_append_str(b, "\"_doc\"");
    if (!e)
        e = ce_buf_append_byte(b, ']');
    return e;
}

/* The body of a first scroll page or of any PIT page, without its closing brace. */
static ce_err write_common(es_search *s, ce_buf *b)
{
    ce_err e = ce_buf_printf(b, "{\"size\":%zu,%s%s\"query\":", s->o.page_size,
                             s->o.lean && !s->ids_only ? "" : "\"version\":true,",
                             s->ids_only ? "\"_source\":false," : "");
    if (!e)
        e = es_query_write(b, &s->q);
    if (!e)
        e = write_sort(s, b);
    if (!e && s->o.slice_max > 1)
        e = ce_buf_printf(b, ",\"slice\":{\"id\":%d,\"max\":%d}", s->o.slice_id, s->o.slice_max);
    if (!e && s->caps->track_total_hits)
        e = ce_buf_append_str(b, s->first ? ",\"track_total_hits\":true"
                                          : ",\"track_total_hits\":false");
    return e;
}

/* ,"search_after":[...] after the first page. */
static ce_err write_search_after(const es_search *s, ce_buf *body)
{
    if (!s->search_after)
        return CE_OK;
    char *sa = json_dumps(s->search_after, JSON_COMPACT | JSON_ENCODE_ANY);
    ce_err e = sa ? ce_buf_printf(body, ",\"search_after\":%s", sa) : CE_ENOMEM;
    free(sa);
    return e;
}

static ce_err pit_page_request(es_search *s, ce_buf *path, ce_buf *body)
{
    ce_err e = ce_buf_append_str(path, "/_search");
    if (!e)
        e = write_common(s, body);
    if (!e)
        e = ce_buf_append_str(body, ",\"pit\":{\"id\":");
    if (!e)
        e = jsonw_cstr(body, s->pit_id);
    if (!e)
        e = ce_buf_printf(body, ",\"keep_alive\":\"%ds\"}", s->o.keep_alive_s);
    if (!e)
        e = write_search_after(s, body);
    if (!e)
        e = ce_buf_append_byte(body, '}');
    return e;
}

/* A page of a sort_unique read: the index path, search_after on the sort field. */
static ce_err unique_page_request(es_search *s, ce_buf *path, ce_buf *body)
{
    ce_err e = index_path(path, s->index, "/_search");
    if (!e)
        e = write_common(s, body);
    if (!e)
        e = write_search_after(s, body);
    if (!e)
        e = ce_buf_append_byte(body, '}');
    return e;
}

static ce_err scroll_page_request(es_search *s, ce_buf *path, ce_buf *body)
{
    ce_err e;
    if (s->first) {
        e = index_path(path, s->index, "");
        if (!e)
            e = ce_buf_printf(path, "/_search?scroll=%ds", s->o.keep_alive_s);
        if (!e)
            e = write_common(s, body);
        if (!e)
            e = ce_buf_append_byte(body, '}');
        return e;
    }
    e = ce_buf_append_str(path, "/_search/scroll");
    if (!e)
        e = ce_buf_printf(body, "{\"scroll\":\"%ds\",\"scroll_id\":", s->o.keep_alive_s);
    if (!e)
        e = jsonw_cstr(body, s->scroll_id);
    if (!e)
        e = ce_buf_append_byte(body, '}');
    return e;
}

/* Send the request for the next page; *st and resp get the answer. */
static ce_err page_fetch(es_search *s, long *st, ce_buf *resp)
{
    ce_buf path = CE_BUF_INIT, body = CE_BUF_INIT;
    ce_err e = s->pit ? pit_page_request(s, &path, &body)
               : paged_by_sort(s) ? unique_page_request(s, &path, &body)
                                  : scroll_page_request(s, &path, &body);
    /* No filter_path, not even for a lean read: with one, OpenSearch 2.19 and
     * Elasticsearch 8.17 re-render _source and round a 38-digit decimal to a double;
     * without it the hits carry the text indexed, and the page comes faster (measured in
     * docs/json.md) for some 16% more bytes. */
    /* the preference goes with the requests that name the index */
    if (!e && s->preference && !s->pit && (s->first || paged_by_sort(s))) {
        e = ce_buf_printf(&path, "%cpreference=", memchr(path.data, '?', path.len) ? '&' : '?');
        e = e ? e : es_path_escape(&path, s->preference, strlen(s->preference));
    }
    if (!e && (!ce_buf_cstr(&path) || !ce_buf_cstr(&body)))
        e = CE_ENOMEM;
    if (!e)
        e = es_client_request(s->c, "POST", path.data, body.data, body.len, st, resp);
    ce_buf_free(&path);
    ce_buf_free(&body);
    return e;
}

/* Keep the newest PIT / scroll id: the server may hand out a new one. */
static ce_err keep_read_id(char **slot, const char *nid)
{
    if (!nid || (*slot && strcmp(nid, *slot) == 0))
        return CE_OK;
    char *d = strdup(nid);
    if (!d)
        return CE_ENOMEM;
    free(*slot);
    *slot = d;
    return CE_OK;
}

/* Take a parsed page as the read's current one: ids, total, search_after, end. */
static ce_err page_take(es_search *s, es_search_page *pg, json_t **hits)
{
    ce_err e = s->pit ? keep_read_id(&s->pit_id, pg->pit_id)
                      : keep_read_id(&s->scroll_id, pg->scroll_id);
    if (e) {
        es_search_page_free(pg);
        return e;
    }
    if (s->first)
        s->total = pg->total;
    s->first = false;
    size_t n = json_array_size(pg->hits);
    if (n > 0 && paged_by_sort(s)) {
        json_decref(s->search_after);
        s->search_after = json_incref(pg->last_sort);
    }
    if (n == 0 || (paged_by_sort(s) && n < s->o.page_size))
        s->done = true; /* with search_after a short page is the last one */
    es_search_page_free(&s->page);
    s->page = *pg;
    *hits = pg->hits;
    return CE_OK;
}

/* A PIT read whose first page was refused with 400 while sorting on _id (fielddata
 * on _id disabled): continue as a scroll. */
static bool pit_refused(const es_search *s, long st)
{
    return st == 400 && s->first && s->pit && !s->caps->shard_doc_sort;
}

/* A page over the response limit: the same page again, smaller (search_after pages and a
 * scroll's first page can change size; a scroll's later pages cannot: see resort). At one
 * hit, a search_after read asks for the page without _source: its hit becomes a stand-in. */
static ce_err fetch_smaller(es_search *s, long *st, ce_buf *resp, bool *over)
{
    ce_err e = CE_ELIMIT;
    while (e == CE_ELIMIT && (paged_by_sort(s) || s->first) && s->o.page_size > 1) {
        s->o.page_size /= 2;
        s->shrinks++;
        ce_warn("msg=\"es page over the response limit, reading smaller pages\" index=\"%s\" page_size=%zu "
                "limit=%zu", s->index, s->o.page_size, es_client_response_max(s->c));
        ce_buf_reset(resp);
        e = page_fetch(s, st, resp);
    }
    if (e == CE_ELIMIT && paged_by_sort(s) && s->o.page_size == 1) {
        s->ids_only = true;
        ce_buf_reset(resp);
        e = page_fetch(s, st, resp);
        s->ids_only = false;
        *over = e == CE_OK;
    }
    return e;
}

/* A scroll page still over the response limit (a later page, which cannot change size, or
 * a first page of one hit): close the scroll and read the same query again from its start,
 * sorted on [field,] _id and paged by search_after (OpenSearch 2.19 sorts on _id on the
 * index path without a PIT), at half the failing page size; from then on every page can
 * shrink and a hit alone over the limit becomes a stand-in. The hits the scroll handed out
 * are handed out again: the E->C writes carry the document's version as their timestamp,
 * so writing them twice changes nothing. That read is no snapshot (each page sees the index
 * as it is then), but a hit keeps its _id: none comes twice from it. A sliced scroll cannot
 * (a slice needs a scroll or a PIT) and fails as before. False when the read cannot be
 * resorted. */
static bool resort(es_search *s)
{
    if (paged_by_sort(s) || s->o.slice_max > 1)
        return false;
    size_t failed = s->o.page_size;
    close_pit_or_scroll(s);
    free(s->scroll_id);
    s->scroll_id = NULL;
    s->resorted = true;
    s->o.page_size = failed > 1 ? failed / 2 : 1;
    s->shrinks++;
    ce_warn("msg=\"es scroll page over the response limit, re-reading the window sorted by _id\" index=\"%s\" "
            "page_size=%zu limit=%zu", s->index, s->o.page_size, es_client_response_max(s->c));
    return true;
}

/* The stand-in of each hit of an ids-only page (one hit over the response limit). */
static void mark_oversized(es_search *s, json_t *hits)
{
    char why[160];
    size_t limit = es_client_response_max(s->c);
    if (limit % ((size_t)1 << 20) == 0)
        snprintf(why, sizeof why, "hit over the %zu MiB response limit", limit >> 20);
    else
        snprintf(why, sizeof why, "hit over the response limit of %zu bytes", limit);
    for (size_t i = 0; i < json_array_size(hits); i++) {
        json_t *h = json_array_get(hits, i);
        ce_warn("msg=\"es hit over the response limit\" index=\"%s\" id=\"%s\" limit=%zu", s->index,
                json_string_value(json_object_get(h, "_id")) ? json_string_value(json_object_get(h, "_id")) : "?",
                limit);
        es_hit_set_error(h, why);
    }
}

/* After a page well under the response limit, halved pages grow back. */
static void grow_back(es_search *s, size_t resp_len)
{
    if (s->o.page_size >= s->page_size_asked || !paged_by_sort(s) || resp_len >= es_client_response_max(s->c) / 4)
        return;
    s->o.page_size = s->o.page_size * 2 < s->page_size_asked ? s->o.page_size * 2 : s->page_size_asked;
}

/* A page's answer buffer is kept for the next page: a fresh one per page was grown by
 * doubling and faulted in page by page each time (some 14 % of E->C's CPU with 1.5 KB
 * documents). One over 16 MiB (a rare huge page) is let go, so it does not stay resident. */
static void page_done(ce_buf *resp)
{
    if (resp->cap > ((size_t)16 << 20))
        ce_buf_free(resp);
    else
        ce_buf_reset(resp);
}

ce_err es_search_next(es_search *s, json_t **hits)
{
    *hits = s->empty;
    if (s->done)
        return CE_OK;
    ce_buf *resp = &s->resp;
    ce_buf_reset(resp);
    long st = 0;
    bool over = false;
    ce_err e = page_fetch(s, &st, resp);
    if (e == CE_ELIMIT)
        e = fetch_smaller(s, &st, resp, &over);
    if (e == CE_ELIMIT && resort(s))
        return es_search_next(s, hits); /* which starts with an empty answer buffer */
    if (!e && pit_refused(s, st)) {
        ce_warn("msg=\"es point in time read refused, falling back to scroll\" index=\"%s\" "
                "status=%ld",
                s->index, st);
        close_pit_or_scroll(s);
        free(s->pit_id);
        s->pit_id = NULL;
        s->pit = false;
        return es_search_next(s, hits);
    }
    if (!e && st != 200)
        e = answer_error(s, s->resorted ? "search sorted by _id (a scroll page was over the response limit)" : "search",
                         st, resp, !s->pit && (s->first || paged_by_sort(s)));
    if (!e) {
        unsigned flags = (s->o.lean ? ES_PAGE_LEAN : 0) | (paged_by_sort(s) ? ES_PAGE_NEED_SORT : 0);
        es_search_page pg;
        e = es_search_page_parse(resp->data, resp->len, flags, &pg);
        if (e)
            es_client_set_error(s->c, "search: %s", pg.error);
        else
            e = page_take(s, &pg, hits);
        if (!e && over)
            mark_oversized(s, *hits);
        else if (!e)
            grow_back(s, resp->len);
    }
    page_done(resp);
    return e;
}

void es_search_close(es_search *s)
{
    if (!s)
        return;
    close_pit_or_scroll(s);
    es_search_page_free(&s->page);
    ce_buf_free(&s->resp);
    json_decref(s->search_after);
    json_decref(s->empty);
    free(s->pit_id);
    free(s->scroll_id);
    free(s->index);
    free(s->sort_field);
    free(s->preference);
    free(s->q_range_field);
    free(s->q_not_field);
    free(s->q_not_value);
    free(s);
}

int64_t es_search_total(const es_search *s) { return s->total; }
size_t es_search_page_shrinks(const es_search *s) { return s ? s->shrinks : 0; }
