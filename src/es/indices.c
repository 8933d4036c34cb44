/*
 * indices.c - index administration: exists, create, delete, mapping properties
 * (typed and typeless), put mapping, refresh, and the temporary bulk-load settings
 * (refresh_interval -1, number_of_replicas 0) with the previous values saved so
 * they can be put back, also after a failure.
 */
#include "es/es_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonw.h"
#include "util/log.h"

struct es_index_settings {
    char *refresh_interval;   /* NULL: was not set explicitly */
    char *number_of_replicas; /* NULL: was not set explicitly */
};

/* "/<escaped index><suffix>", NUL-terminated. */
static ce_err ipath(ce_buf *p, const char *index, const char *suffix)
{
    if (!index || !index[0])
        return CE_EINVAL;
    ce_err e = ce_buf_append_byte(p, '/');
    if (!e)
        e = es_path_escape(p, index, strlen(index));
    if (!e && suffix)
        e = ce_buf_append_str(p, suffix);
    if (!e && !ce_buf_cstr(p))
        e = CE_ENOMEM;
    return e;
}

/* Run a request on an index path; *st and *resp filled. */
static ce_err run(es_client *c, const char *method, const char *index, const char *suffix,
                  const char *body, long *st, ce_buf *resp)
{
    ce_buf p = CE_BUF_INIT;
    ce_err e = ipath(&p, index, suffix);
    if (!e)
        e = es_client_request(c, method, p.data, body, body ? strlen(body) : 0, st, resp);
    ce_buf_free(&p);
    return e;
}

static ce_err http_fail(es_client *c, const char *what, const char *index, long st,
                        const ce_buf *resp)
{
    char w[300];
    snprintf(w, sizeof w, "%s %s", what, index);
    es_client_set_http_error(c, w, st, resp);
    if (st == 404)
        return CE_ENOTFOUND;
    if (st == 401 || st == 403)
        return CE_EAUTH;
    return CE_EHTTP;
}

ce_err es_index_exists(es_client *c, const char *index, bool *exists)
{
    long st = 0;
    ce_err e = run(c, "HEAD", index, NULL, NULL, &st, NULL);
    if (e)
        return e;
    if (st == 200 || st == 404) {
        *exists = st == 200;
        return CE_OK;
    }
    return http_fail(c, "index exists", index, st, NULL);
}

/* POST /<index>/_count with body (NULL: every document). */
static ce_err count_query(es_client *c, const char *index, const char *body, int64_t *count)
{
    long st = 0;
    ce_buf resp = CE_BUF_INIT;
    ce_err e = run(c, body ? "POST" : "GET", index, "/_count", body, &st, &resp);
    if (!e && st != 200)
        e = http_fail(c, "count", index, st, &resp);
    if (!e) {
        json_error_t jerr;
        json_t *r = json_loadb(resp.data, resp.len, 0, &jerr);
        json_t *n = json_object_get(r, "count");
        if (json_is_integer(n)) {
            *count = json_integer_value(n);
        } else {
            es_client_set_error(c, "count %s: malformed answer", index);
            e = CE_EJSON;
        }
        json_decref(r);
    }
    ce_buf_free(&resp);
    return e;
}

ce_err es_index_doc_count(es_client *c, const char *index, int64_t *count)
{
    return count_query(c, index, NULL, count);
}

ce_err es_index_count_missing(es_client *c, const char *index, const char *field, int64_t *count)
{
    ce_buf b = CE_BUF_INIT;
    ce_err e = ce_buf_append_str(&b, "{\"query\":{\"bool\":{\"must_not\":[{\"exists\":{\"field\":");
    e = e ? e : jsonw_cstr(&b, field);
    e = e ? e : ce_buf_append_str(&b, "}}]}}}");
    e = e ? e : (ce_buf_cstr(&b) ? CE_OK : CE_ENOMEM);
    e = e ? e : count_query(c, index, ce_buf_cstr(&b), count);
    ce_buf_free(&b);
    return e;
}

ce_err es_index_create(es_client *c, const char *index, const char *body, bool *created)
{
    long st = 0;
    ce_buf resp = CE_BUF_INIT;
    if (created)
        *created = false;
    ce_err e = run(c, "PUT", index, NULL, body ? body : "{}", &st, &resp);
    if (e)
        goto out;
    if (st == 200 || st == 201) {
        if (created)
            *created = true;
        ce_info("msg=\"es index created\" index=%s", ES_LOGQ(index));
        goto out;
    }
    if (st == 400) {
        json_error_t jerr;
        json_t *r = json_loadb(resp.data, resp.len, 0, &jerr);
        const char *t = json_string_value(json_object_get(json_object_get(r, "error"), "type"));
        bool exists = t && (strcmp(t, "resource_already_exists_exception") == 0 ||
                            strcmp(t, "index_already_exists_exception") == 0);
        json_decref(r);
        if (exists)
            goto out;
    }
    e = http_fail(c, "create index", index, st, &resp);
out:
    ce_buf_free(&resp);
    return e;
}

ce_err es_index_delete(es_client *c, const char *index)
{
    long st = 0;
    ce_buf resp = CE_BUF_INIT;
    ce_err e = run(c, "DELETE", index, NULL, NULL, &st, &resp);
    if (!e && st != 200)
        e = http_fail(c, "delete index", index, st, &resp);
    ce_buf_free(&resp);
    return e;
}

ce_err es_index_get_properties(es_client *c, const char *index, json_t **properties)
{
    *properties = NULL;
    long st = 0;
    ce_buf resp = CE_BUF_INIT;
    ce_err e = run(c, "GET", index, "/_mapping", NULL, &st, &resp);
    if (e)
        goto out;
    if (st != 200) {
        e = http_fail(c, "get mapping", index, st, &resp);
        goto out;
    }
    json_error_t jerr;
    json_t *r = json_loadb(resp.data, resp.len, 0, &jerr);
    if (!json_is_object(r)) {
        json_decref(r);
        es_client_set_error(c, "get mapping %s: malformed answer", index);
        e = CE_EJSON;
        goto out;
    }
    /* {"<name>":{"mappings":{"properties":{..}}}} or, with types,
     * {"<name>":{"mappings":{"<type>":{"properties":{..}}}}}; an alias answers with
     * the real index name, so take the first entry. */
    json_t *idx = json_object_iter_value(json_object_iter(r));
    json_t *m = json_object_get(idx, "mappings");
    json_t *props = json_object_get(m, "properties");
    if (!props && json_is_object(m)) {
        const char *k;
        json_t *v;
        json_object_foreach(m, k, v)
        {
            json_t *p = json_object_get(v, "properties");
            if (json_is_object(p)) {
                props = p;
                break;
            }
        }
    }
    if (json_is_object(props))
        *properties = json_incref(props);
    else
        *properties = json_object();
    json_decref(r);
    if (!*properties)
        e = CE_ENOMEM;
out:
    ce_buf_free(&resp);
    return e;
}

ce_err es_index_put_mapping(es_client *c, const char *index, const char *type, const char *body)
{
    long st = 0;
    ce_buf resp = CE_BUF_INIT, suffix = CE_BUF_INIT;
    ce_err e = ce_buf_append_str(&suffix, "/_mapping");
    if (!e && c->caps.has_types) {
        const char *t = type ? type : "_doc";
        e = ce_buf_append_byte(&suffix, '/');
        if (!e)
            e = es_path_escape(&suffix, t, strlen(t));
    }
    if (!e && !ce_buf_cstr(&suffix))
        e = CE_ENOMEM;
    if (!e)
        e = run(c, "PUT", index, suffix.data, body, &st, &resp);
    if (!e && st != 200)
        e = http_fail(c, "put mapping", index, st, &resp);
    ce_buf_free(&resp);
    ce_buf_free(&suffix);
    return e;
}

ce_err es_index_refresh(es_client *c, const char *index)
{
    long st = 0;
    ce_buf resp = CE_BUF_INIT;
    ce_err e = run(c, "POST", index, "/_refresh", NULL, &st, &resp);
    if (!e && st != 200)
        e = http_fail(c, "refresh", index, st, &resp);
    ce_buf_free(&resp);
    return e;
}

void es_index_settings_free(es_index_settings *s)
{
    if (!s)
        return;
    free(s->refresh_interval);
    free(s->number_of_replicas);
    free(s);
}

static char *setting_dup(json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v)) {
        char t[32];
        snprintf(t, sizeof t, "%lld", (long long)json_integer_value(v));
        return strdup(t);
    }
    return NULL;
}

static ce_err put_settings(es_client *c, const char *index, const char *ri, const char *nr)
{
    ce_buf b = CE_BUF_INIT, resp = CE_BUF_INIT;
    long st = 0;
    ce_err e = ce_buf_append_str(&b, "{\"index\":{\"refresh_interval\":");
    if (!e)
        e = ri ? jsonw_cstr(&b, ri) : jsonw_null(&b);
    if (!e)
        e = ce_buf_append_str(&b, ",\"number_of_replicas\":");
    if (!e)
        e = nr ? jsonw_cstr(&b, nr) : jsonw_null(&b);
    if (!e)
        e = ce_buf_append_str(&b, "}}");
    if (!e && !ce_buf_cstr(&b))
        e = CE_ENOMEM;
    if (!e)
        e = run(c, "PUT", index, "/_settings", b.data, &st, &resp);
    if (!e && st != 200)
        e = http_fail(c, "put settings", index, st, &resp);
    ce_buf_free(&b);
    ce_buf_free(&resp);
    return e;
}

ce_err es_index_bulk_load_begin(es_client *c, const char *index, es_index_settings **saved)
{
    *saved = NULL;
    long st = 0;
    ce_buf resp = CE_BUF_INIT;
    ce_err e = run(c, "GET", index, "/_settings?flat_settings=true", NULL, &st, &resp);
    if (e)
        goto out;
    if (st != 200) {
        e = http_fail(c, "get settings", index, st, &resp);
        goto out;
    }
    json_error_t jerr;
    json_t *r = json_loadb(resp.data, resp.len, 0, &jerr);
    json_t *set = json_object_get(json_object_iter_value(json_object_iter(r)), "settings");
    if (!json_is_object(set)) {
        json_decref(r);
        es_client_set_error(c, "get settings %s: malformed answer", index);
        e = CE_EJSON;
        goto out;
    }
    es_index_settings *s = calloc(1, sizeof *s);
    if (!s) {
        json_decref(r);
        e = CE_ENOMEM;
        goto out;
    }
    s->refresh_interval = setting_dup(json_object_get(set, "index.refresh_interval"));
    s->number_of_replicas = setting_dup(json_object_get(set, "index.number_of_replicas"));
    json_decref(r);
    e = put_settings(c, index, "-1", "0");
    if (e) {
        es_index_settings_free(s);
        goto out;
    }
    ce_info("msg=\"es bulk-load settings on\" index=%s saved_refresh_interval=%s "
            "saved_replicas=%s",
            ES_LOGQ(index), ES_LOGQ(s->refresh_interval ? s->refresh_interval : "default"),
            ES_LOGQ(s->number_of_replicas ? s->number_of_replicas : "default"));
    *saved = s;
out:
    ce_buf_free(&resp);
    return e;
}

ce_err es_index_restore_settings(es_client *c, const char *index, const es_index_settings *saved)
{
    if (!saved)
        return CE_OK;
    ce_err e = put_settings(c, index, saved->refresh_interval, saved->number_of_replicas);
    if (!e)
        ce_info("msg=\"es settings restored\" index=%s", ES_LOGQ(index));
    return e;
}
