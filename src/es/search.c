/*
 * search.c - sorted reads of a whole index (or a window of it): point in time +
 * search_after where the server has it, scroll elsewhere (or when forced), sliced
 * when asked.
 *
 * Elasticsearch >= 7.10: POST /<index>/_pit?keep_alive=, searches carry
 * "pit":{"id","keep_alive"} and no index in the path, DELETE /_pit {"id"}.
 * OpenSearch >= 2.4: POST /<index>/_search/point_in_time?keep_alive=, searches
 * carry "pit":{"id","keep_alive"}, DELETE /_search/point_in_time {"pit_id":[..]}.
 * The sort is the caller's field then a unique tiebreaker: "_shard_doc" on
 * Elasticsearch; OpenSearch (2.19 still) has no "_shard_doc" and no implicit
 * tiebreaker, so it sorts on "_id" there, and where _id fielddata is disabled
 * (indices.id_field_data.enabled: false) the read falls back to scroll. Scroll sorts on the field (or "_doc"). Hits carry _version ("version":
 * true). The PIT or scroll is always closed by es_search_close, also after errors.
 */
#include "es/es_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonw.h"
#include "util/log.h"

struct es_search {
    es_client *c;
    es_search_opts o;
    char *index;
    char *sort_field;
    es_query q;            /* strings owned by the copies below */
    char *q_range_field, *q_not_field, *q_not_value;
    bool pit;
    char *pit_id;
    char *scroll_id;
    json_t *page;          /* last response */
    json_t *search_after;  /* sort values of the last hit */
    json_t *empty;
    int64_t total;
    bool first, done;
};

void es_search_opts_init(es_search_opts *o)
{
    memset(o, 0, sizeof *o);
    o->page_size = 1000;
    o->keep_alive_s = 120;
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

static bool is_not_found(long st, json_t *body)
{
    if (st != 404)
        return false;
    const char *t = json_string_value(json_object_get(json_object_get(body, "error"), "type"));
    return !t || strcmp(t, "index_not_found_exception") == 0;
}

static ce_err open_pit(es_search *s)
{
    es_client *c = s->c;
    ce_buf p = CE_BUF_INIT;
    char suffix[80];
    if (c->flavor == ES_FLAVOR_OPENSEARCH)
        snprintf(suffix, sizeof suffix, "/_search/point_in_time?keep_alive=%ds", s->o.keep_alive_s);
    else
        snprintf(suffix, sizeof suffix, "/_pit?keep_alive=%ds", s->o.keep_alive_s);
    ce_err e = index_path(&p, s->index, suffix);
    long st = 0;
    json_t *r = NULL;
    if (!e)
        e = es_client_json(c, "POST", p.data, NULL, &st, &r);
    if (!e) {
        const char *id = json_string_value(
            json_object_get(r, c->flavor == ES_FLAVOR_OPENSEARCH ? "pit_id" : "id"));
        if (st == 200 && id) {
            s->pit_id = strdup(id);
            e = s->pit_id ? CE_OK : CE_ENOMEM;
        } else if (is_not_found(st, r)) {
            es_client_set_error(c, "index %s not found", s->index);
            e = CE_ENOTFOUND;
        } else {
            ce_buf tmp = CE_BUF_INIT;
            char *txt = r ? json_dumps(r, JSON_COMPACT) : NULL;
            if (txt)
                ce_buf_append_str(&tmp, txt);
            free(txt);
            es_client_set_http_error(c, "open point in time", st, &tmp);
            ce_buf_free(&tmp);
            e = CE_EHTTP;
        }
    }
    json_decref(r);
    ce_buf_free(&p);
    return e;
}

static void close_pit_or_scroll(es_search *s)
{
    es_client *c = s->c;
    ce_buf body = CE_BUF_INIT;
    long st = 0;
    ce_err e = CE_OK;
    const char *method = "DELETE", *path = NULL;
    if (s->pit_id) {
        if (c->flavor == ES_FLAVOR_OPENSEARCH) {
            path = "/_search/point_in_time";
            e = ce_buf_append_str(&body, "{\"pit_id\":[");
            if (!e)
                e = jsonw_cstr(&body, s->pit_id);
            if (!e)
                e = ce_buf_append_str(&body, "]}");
        } else {
            path = "/_pit";
            e = ce_buf_append_str(&body, "{\"id\":");
            if (!e)
                e = jsonw_cstr(&body, s->pit_id);
            if (!e)
                e = ce_buf_append_byte(&body, '}');
        }
    } else if (s->scroll_id) {
        path = "/_search/scroll";
        e = ce_buf_append_str(&body, "{\"scroll_id\":[");
        if (!e)
            e = jsonw_cstr(&body, s->scroll_id);
        if (!e)
            e = ce_buf_append_str(&body, "]}");
    }
    if (path && !e) {
        e = es_client_request(c, method, path, body.data, body.len, &st, NULL);
        if (e || (st != 200 && st != 404))
            ce_warn("msg=\"es could not close %s\" status=%ld error=%s",
                    s->pit_id ? "point in time" : "scroll", st, ce_errname(e));
        else
            ce_debug("msg=\"es closed %s\"", s->pit_id ? "point in time" : "scroll");
    }
    ce_buf_free(&body);
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
    s->o = *o;
    if (s->o.page_size == 0)
        s->o.page_size = 1000;
    if (s->o.page_size > 10000)
        s->o.page_size = 10000;
    if (s->o.keep_alive_s <= 0)
        s->o.keep_alive_s = 120;
    bool fail = false;
    s->index = sdup(o->index, &fail);
    s->sort_field = sdup(o->sort_field, &fail);
    s->q = o->query;
    s->q.range_field = s->q_range_field = sdup(o->query.range_field, &fail);
    s->q.must_not_field = s->q_not_field = sdup(o->query.must_not_field, &fail);
    s->q.must_not_value = s->q_not_value = sdup(o->query.must_not_value, &fail);
    s->empty = json_array();
    s->total = -1;
    s->first = true;
    if (fail || !s->empty) {
        es_search_close(s);
        return CE_ENOMEM;
    }
    ce_err e = CE_OK;
    if (o->refresh_first) {
        e = es_index_refresh(c, s->index);
        if (e) {
            es_search_close(s);
            return e;
        }
    }
    s->pit = c->has_pit && !o->force_scroll &&
             !(o->unordered && !o->sort_field && c->flavor == ES_FLAVOR_OPENSEARCH);
    if (s->pit) {
        e = open_pit(s);
        if (e) {
            es_search_close(s);
            return e;
        }
    }
    ce_debug("msg=\"es search opened\" index=\"%s\" mode=%s slice=%d/%d", s->index,
             s->pit ? "pit" : "scroll", o->slice_id, o->slice_max);
    *out = s;
    return CE_OK;
}

/* What a lean page keeps of the answer (errors included, to report them). */
#define LEAN_FILTER "_scroll_id,pit_id,hits.total,hits.hits._id,hits.hits._source,hits.hits.sort,error,status"

static ce_err write_common(es_search *s, ce_buf *b)
{
    es_client *c = s->c;
    ce_err e = ce_buf_printf(b, "{\"size\":%zu,%s\"query\":", s->o.page_size,
                             s->o.lean ? "" : "\"version\":true,");
    if (!e)
        e = es_query_write(b, &s->q);
    if (!e)
        e = ce_buf_append_str(b, ",\"sort\":[");
    if (!e && s->sort_field) {
        e = ce_buf_append_byte(b, '{');
        if (!e)
            e = jsonw_key(b, s->sort_field, strlen(s->sort_field));
        if (!e)
            e = ce_buf_append_str(b, "\"asc\"}");
        if (!e && s->pit)
            e = ce_buf_append_byte(b, ',');
    }
    if (!e) {
        if (s->pit)
            e = ce_buf_append_str(b, c->flavor == ES_FLAVOR_OPENSEARCH ? "{\"_id\":\"asc\"}"
                                                                       : "{\"_shard_doc\":\"asc\"}");
        else if (!s->sort_field)
            e = ce_buf_append_str(b, "\"_doc\"");
    }
    if (!e)
        e = ce_buf_append_byte(b, ']');
    if (!e && s->o.slice_max > 1)
        e = ce_buf_printf(b, ",\"slice\":{\"id\":%d,\"max\":%d}", s->o.slice_id, s->o.slice_max);
    bool tth = c->flavor == ES_FLAVOR_OPENSEARCH || c->major >= 7;
    if (!e && tth)
        e = ce_buf_append_str(b, s->first ? ",\"track_total_hits\":true" : ",\"track_total_hits\":false");
    return e;
}

static ce_err page_request(es_search *s, ce_buf *path, ce_buf *body)
{
    es_client *c = s->c;
    ce_err e = CE_OK;
    if (s->pit) {
        e = ce_buf_append_str(path, "/_search");
        if (!e)
            e = write_common(s, body);
        if (!e)
            e = ce_buf_append_str(body, ",\"pit\":{\"id\":");
        if (!e)
            e = jsonw_cstr(body, s->pit_id);
        if (!e)
            e = ce_buf_printf(body, ",\"keep_alive\":\"%ds\"}", s->o.keep_alive_s);
        if (!e && s->search_after) {
            char *sa = json_dumps(s->search_after, JSON_COMPACT | JSON_ENCODE_ANY);
            e = sa ? ce_buf_printf(body, ",\"search_after\":%s", sa) : CE_ENOMEM;
            free(sa);
        }
        if (!e)
            e = ce_buf_append_byte(body, '}');
    } else if (s->first) {
        e = index_path(path, s->index, "");
        if (!e)
            e = ce_buf_printf(path, "/_search?scroll=%ds", s->o.keep_alive_s);
        if (!e)
            e = write_common(s, body);
        if (!e)
            e = ce_buf_append_byte(body, '}');
    } else {
        e = ce_buf_append_str(path, "/_search/scroll");
        if (!e)
            e = ce_buf_printf(body, "{\"scroll\":\"%ds\",\"scroll_id\":", s->o.keep_alive_s);
        if (!e)
            e = jsonw_cstr(body, s->scroll_id);
        if (!e)
            e = ce_buf_append_byte(body, '}');
    }
    (void)c;
    if (!e && s->o.lean)
        e = ce_buf_printf(path, "%cfilter_path=%s", strchr(ce_buf_cstr(path) ? path->data : "", '?') ? '&' : '?',
                          LEAN_FILTER);
    if (!e && (!ce_buf_cstr(path) || !ce_buf_cstr(body)))
        e = CE_ENOMEM;
    return e;
}

ce_err es_search_next(es_search *s, void **hits)
{
    *hits = s->empty;
    if (s->done)
        return CE_OK;
    es_client *c = s->c;
    ce_buf path = CE_BUF_INIT, body = CE_BUF_INIT, resp = CE_BUF_INIT;
    long st = 0;
    ce_err e = page_request(s, &path, &body);
    if (!e)
        e = es_client_request(c, "POST", path.data, body.data, body.len, &st, &resp);
    if (e)
        goto out;
    json_error_t jerr;
    json_t *r = json_loadb(resp.data, resp.len, 0, &jerr);
    if (st == 400 && s->first && s->pit && c->flavor == ES_FLAVOR_OPENSEARCH) {
        /* Sorting on _id refused: read with scroll instead. */
        ce_warn("msg=\"es point in time read refused, falling back to scroll\" index=\"%s\" "
                "status=%ld",
                s->index, st);
        json_decref(r);
        close_pit_or_scroll(s);
        free(s->pit_id);
        s->pit_id = NULL;
        s->pit = false;
        ce_buf_free(&path);
        ce_buf_free(&body);
        ce_buf_free(&resp);
        return es_search_next(s, hits);
    }
    if (st != 200) {
        if (s->first && !s->pit && is_not_found(st, r)) {
            es_client_set_error(c, "index %s not found", s->index);
            e = CE_ENOTFOUND;
        } else {
            es_client_set_http_error(c, "search", st, &resp);
            e = CE_EHTTP;
        }
        json_decref(r);
        goto out;
    }
    json_t *hh = json_object_get(json_object_get(r, "hits"), "hits");
    if (r && !hh && s->o.lean && json_is_object(r)) {
        /* filter_path leaves out an empty hits array (and "hits" with it) */
        json_t *outer = json_object_get(r, "hits");
        if (!json_is_object(outer)) {
            outer = json_object();
            if (!outer || json_object_set_new(r, "hits", outer))
                outer = NULL;
        }
        hh = outer ? json_array() : NULL;
        if (!hh || json_object_set_new(outer, "hits", hh)) {
            json_decref(r);
            e = CE_ENOMEM;
            goto out;
        }
    }
    if (!r || !json_is_array(hh)) {
        es_client_set_error(c, "search: malformed answer");
        json_decref(r);
        e = r ? CE_EPROTO : CE_EJSON;
        goto out;
    }
    /* Keep the newest PIT / scroll id: the server may hand out a new one. */
    const char *nid = json_string_value(json_object_get(r, s->pit ? "pit_id" : "_scroll_id"));
    char **slot = s->pit ? &s->pit_id : &s->scroll_id;
    if (nid && (!*slot || strcmp(nid, *slot) != 0)) {
        char *d = strdup(nid);
        if (!d) {
            json_decref(r);
            e = CE_ENOMEM;
            goto out;
        }
        free(*slot);
        *slot = d;
    }
    if (s->first) {
        json_t *t = json_object_get(json_object_get(r, "hits"), "total");
        if (json_is_integer(t))
            s->total = json_integer_value(t);
        else if (json_is_integer(json_object_get(t, "value")))
            s->total = json_integer_value(json_object_get(t, "value"));
    }
    s->first = false;
    size_t n = json_array_size(hh);
    if (n > 0 && s->pit) {
        json_t *sort = json_object_get(json_array_get(hh, n - 1), "sort");
        if (!json_is_array(sort)) {
            es_client_set_error(c, "search: hit without sort values");
            json_decref(r);
            e = CE_EPROTO;
            goto out;
        }
        json_decref(s->search_after);
        s->search_after = json_incref(sort);
    }
    if (n == 0 || (s->pit && n < s->o.page_size))
        s->done = true; /* with search_after a short page is the last one */
    json_decref(s->page);
    s->page = r;
    *hits = hh;
out:
    ce_buf_free(&path);
    ce_buf_free(&body);
    ce_buf_free(&resp);
    return e;
}

void es_search_close(es_search *s)
{
    if (!s)
        return;
    close_pit_or_scroll(s);
    json_decref(s->page);
    json_decref(s->search_after);
    json_decref(s->empty);
    free(s->pit_id);
    free(s->scroll_id);
    free(s->index);
    free(s->sort_field);
    free(s->q_range_field);
    free(s->q_not_field);
    free(s->q_not_value);
    free(s);
}

int64_t es_search_total(const es_search *s) { return s->total; }
