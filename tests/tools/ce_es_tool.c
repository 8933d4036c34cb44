/*
 * ce_es_tool.c - command-line driver of the es client for the integration tests.
 *
 *   ce_es_tool [global options] COMMAND [options]
 * Global: --url U (repeatable), --user U, --password P (or env CE_ES_PASSWORD),
 *   --api-key K, --bearer T, --ca FILE, --cert FILE, --key FILE, --insecure, --no-gzip, --gzip-loopback, --retries N, --retry-base-ms N,
 *   --timeout-ms N, --log-level L
 * Commands:
 *   detect                                   flavor=.. version=.. major=.. minor=.. and
 *                                            the capabilities: types= pit= shard_doc_sort=
 *                                            track_total_hits= knn_plugin= seq_no= (0|1)
 *   create-index --index I [--body JSON]     created=true|false
 *   delete-index --index I
 *   exists --index I                         exists=true|false
 *   properties --index I                     the mapping properties as JSON
 *   put-mapping --index I --body JSON
 *   refresh --index I
 *   bulk-load --index I --count N [--start S] [--version-base V] [--version V]
 *             [--gte] [--delete] [--concurrency C] [--max-docs M] [--max-bytes B]
 *             [--pad N] [--refresh wait_for]
 *   bulk-file FILE --index I                 NDJSON documents with "id" and "version"
 *   search --index I [--field F] [--gte A] [--lt B] [--date] [--sort F]
 *          [--must-not-field F --must-not-value V] [--scroll] [--slices N]
 *          [--page N] [--no-refresh] [--with-version] [--lean] [--unordered]
 *                                            prints ids, one per line
 *   settings-roundtrip --index I [--wait]    bulk-load settings on, (wait for a stdin
 *                                            line), restore
 * Bulk commands print one line per item that is not OK and a final summary line
 *   ok=N conflict=N rejected=N failed=N requests=N retries=N
 * Exit status: 0 success, 1 usage, 2 client error, 3 bulk items failed.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "es/es.h"
#include "util/jsonw.h"
#include "util/log.h"

#define MAX_URLS 8

typedef struct {
    const char *argv[64];
    int argc;
} args_t;

static const char *opt(const args_t *a, const char *name)
{
    for (int i = 0; i + 1 < a->argc; i++)
        if (strcmp(a->argv[i], name) == 0)
            return a->argv[i + 1];
    return NULL;
}

static bool flag(const args_t *a, const char *name)
{
    for (int i = 0; i < a->argc; i++)
        if (strcmp(a->argv[i], name) == 0)
            return true;
    return false;
}

static long long opt_ll(const args_t *a, const char *name, long long def)
{
    const char *v = opt(a, name);
    return v ? strtoll(v, NULL, 10) : def;
}

static void print_item(const es_bulk_item_result *r, void *ud)
{
    (void)ud;
    if (r->status == ES_ITEM_OK)
        return;
    static const char *names[] = {"ok", "conflict", "rejected", "failed"};
    printf("%s id=%s http=%d type=%s current_version=%lld reason=\"%s\"\n", names[r->status],
           r->id ? r->id : "", r->http_status, r->error_type ? r->error_type : "",
           (long long)r->current_version, r->error_reason ? r->error_reason : "");
}

static int bulk_summary(es_bulk *b, ce_err e)
{
    es_bulk_stats st;
    es_bulk_get_stats(b, &st);
    printf("ok=%llu conflict=%llu rejected=%llu failed=%llu requests=%llu retries=%llu bytes=%llu\n",
           (unsigned long long)st.items_ok, (unsigned long long)st.items_conflict,
           (unsigned long long)st.items_rejected, (unsigned long long)st.items_failed,
           (unsigned long long)st.requests, (unsigned long long)st.retries,
           (unsigned long long)st.bytes_sent);
    if (e)
        fprintf(stderr, "bulk: %s: %s\n", ce_errname(e), es_bulk_errmsg(b));
    return e ? 3 : 0;
}

static void bulk_opts_from(const args_t *a, es_bulk_opts *bo)
{
    es_bulk_opts_init(bo);
    bo->concurrency = (int)opt_ll(a, "--concurrency", 2);
    bo->max_docs = (size_t)opt_ll(a, "--max-docs", 5000);
    bo->max_bytes = (size_t)opt_ll(a, "--max-bytes", 5 << 20);
    bo->refresh = opt(a, "--refresh");
    bo->on_result = print_item;
}

static int cmd_bulk_load(es_client *c, const args_t *a)
{
    const char *index = opt(a, "--index");
    if (!index)
        return 1;
    long long count = opt_ll(a, "--count", 1000), start = opt_ll(a, "--start", 0);
    long long vbase = opt_ll(a, "--version-base", 1), fixed = opt_ll(a, "--version", -1);
    long long pad = opt_ll(a, "--pad", 0);
    es_version_type vt = flag(a, "--gte") ? ES_VERSION_EXTERNAL_GTE : ES_VERSION_EXTERNAL;
    bool del = flag(a, "--delete");
    es_bulk_opts bo;
    bulk_opts_from(a, &bo);
    es_bulk *b;
    ce_err e = es_bulk_new(c, &bo, &b);
    if (e)
        return 2;
    char *padding = NULL;
    if (pad > 0) {
        padding = malloc((size_t)pad);
        for (long long i = 0; i < pad; i++)
            padding[i] = (char)('a' + i % 26);
    }
    for (long long i = start; i < start + count && !e; i++) {
        char id[32];
        int il = snprintf(id, sizeof id, "%lld", i);
        long long v = fixed >= 0 ? fixed : vbase + i;
        if (del) {
            e = es_bulk_delete(b, index, NULL, id, (size_t)il, vt, v, (uint64_t)i);
            continue;
        }
        ce_buf *d = es_bulk_index_begin(b, index, NULL, id, (size_t)il, vt, v);
        if (!d) {
            e = CE_ENOMEM;
            break;
        }
        ce_buf_append_str(d, "{\"id\":");
        jsonw_int64(d, i);
        ce_buf_append_str(d, ",\"version\":");
        jsonw_int64(d, v);
        ce_buf_append_str(d, ",\"name\":");
        jsonw_string(d, id, (size_t)il);
        if (padding) {
            ce_buf_append_str(d, ",\"pad\":");
            jsonw_string(d, padding, (size_t)pad);
        }
        ce_buf_append_byte(d, '}');
        e = es_bulk_commit(b, (uint64_t)i);
    }
    ce_err fe = es_bulk_finish(b);
    int rc = bulk_summary(b, e ? e : fe);
    es_bulk_free(b);
    free(padding);
    return rc;
}

static int cmd_bulk_file(es_client *c, const args_t *a, const char *file)
{
    const char *index = opt(a, "--index");
    FILE *f = file ? fopen(file, "r") : NULL;
    if (!index || !f) {
        if (f)
            fclose(f);
        return 1;
    }
    es_bulk_opts bo;
    bulk_opts_from(a, &bo);
    es_bulk *b;
    if (es_bulk_new(c, &bo, &b)) {
        fclose(f);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t tag = 0;
    ce_err e = CE_OK;
    while (!e && (n = getline(&line, &cap, f)) > 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        json_error_t jerr;
        json_t *doc = json_loadb(line, (size_t)n, 0, &jerr);
        json_t *idv = json_object_get(doc, "id");
        char id[64];
        if (json_is_string(idv))
            snprintf(id, sizeof id, "%s", json_string_value(idv));
        else
            snprintf(id, sizeof id, "%lld", (long long)json_integer_value(idv));
        long long v = json_integer_value(json_object_get(doc, "version"));
        json_decref(doc);
        ce_buf *d = es_bulk_index_begin(b, index, NULL, id, strlen(id), ES_VERSION_EXTERNAL, v);
        if (!d) {
            e = CE_ENOMEM;
            break;
        }
        ce_buf_append(d, line, (size_t)n);
        e = es_bulk_commit(b, tag++);
    }
    free(line);
    fclose(f);
    ce_err fe = es_bulk_finish(b);
    int rc = bulk_summary(b, e ? e : fe);
    es_bulk_free(b);
    return rc;
}

static int read_slice(es_client *c, const args_t *a, int slice_id, int slice_max, long long *n)
{
    es_search_opts so;
    es_search_opts_init(&so);
    so.index = opt(a, "--index");
    so.query.range_field = opt(a, "--field");
    so.query.has_gte = opt(a, "--gte") != NULL;
    so.query.gte = opt_ll(a, "--gte", 0);
    so.query.has_lt = opt(a, "--lt") != NULL;
    so.query.lt = opt_ll(a, "--lt", 0);
    so.query.range_is_date = flag(a, "--date");
    so.query.must_not_field = opt(a, "--must-not-field");
    so.query.must_not_value = opt(a, "--must-not-value");
    so.sort_field = opt(a, "--sort");
    so.page_size = (size_t)opt_ll(a, "--page", 0); /* 0: the es layer's default */
    so.refresh_first = !flag(a, "--no-refresh");
    so.force_scroll = flag(a, "--scroll");
    so.lean = flag(a, "--lean");
    so.unordered = flag(a, "--unordered");
    so.slice_id = slice_id;
    so.slice_max = slice_max;
    bool with_version = flag(a, "--with-version");
    es_search *s;
    ce_err e = es_search_open(c, &so, &s);
    if (e) {
        fprintf(stderr, "search: %s: %s\n", ce_errname(e), es_client_errmsg(c));
        return e == CE_ENOTFOUND ? 4 : 2;
    }
    for (;;) {
        json_t *hits;
        e = es_search_next(s, &hits);
        if (e)
            break;
        if (json_array_size(hits) == 0)
            break;
        size_t i;
        json_t *h;
        json_array_foreach(hits, i, h)
        {
            const char *id = json_string_value(json_object_get(h, "_id"));
            if (with_version)
                printf("%s %lld\n", id ? id : "", (long long)json_integer_value(json_object_get(h, "_version")));
            else
                printf("%s\n", id ? id : "");
            (*n)++;
        }
    }
    if (e)
        fprintf(stderr, "search: %s: %s\n", ce_errname(e), es_client_errmsg(c));
    else
        fprintf(stderr, "slice=%d total=%lld\n", slice_id, (long long)es_search_total(s));
    es_search_close(s);
    return e ? 2 : 0;
}

static int cmd_search(es_client *c, const args_t *a)
{
    if (!opt(a, "--index"))
        return 1;
    int slices = (int)opt_ll(a, "--slices", 1);
    long long n = 0;
    for (int i = 0; i < (slices > 1 ? slices : 1); i++) {
        int rc = read_slice(c, a, i, slices, &n);
        if (rc)
            return rc;
    }
    fprintf(stderr, "read=%lld\n", n);
    return 0;
}

static int cmd_settings(es_client *c, const args_t *a)
{
    const char *index = opt(a, "--index");
    if (!index)
        return 1;
    es_index_settings *saved = NULL;
    ce_err e = es_index_bulk_load_begin(c, index, &saved);
    if (e) {
        fprintf(stderr, "bulk_load_begin: %s: %s\n", ce_errname(e), es_client_errmsg(c));
        return 2;
    }
    printf("begun\n");
    fflush(stdout);
    if (flag(a, "--wait")) {
        char line[64];
        if (!fgets(line, sizeof line, stdin))
            line[0] = '\0';
    }
    e = es_index_restore_settings(c, index, saved);
    es_index_settings_free(saved);
    if (e) {
        fprintf(stderr, "restore: %s: %s\n", ce_errname(e), es_client_errmsg(c));
        return 2;
    }
    printf("restored\n");
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: ce_es_tool [--url U]... [auth options] COMMAND [options] "
                    "(see the comment at the top of tests/tools/ce_es_tool.c)\n");
    return 1;
}

int main(int argc, char **argv)
{
    const char *urls[MAX_URLS];
    size_t nurls = 0;
    args_t a = {.argc = 0};
    const char *cmd = NULL, *pos = NULL;
    es_client_opts o;
    es_client_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        bool has_val = i + 1 < argc;
        if (strcmp(s, "--url") == 0 && has_val && nurls < MAX_URLS) {
            urls[nurls++] = argv[++i];
        } else if (strcmp(s, "--user") == 0 && has_val) {
            o.username = argv[++i];
        } else if (strcmp(s, "--password") == 0 && has_val) {
            o.password = argv[++i];
        } else if (strcmp(s, "--api-key") == 0 && has_val) {
            o.api_key = argv[++i];
        } else if (strcmp(s, "--bearer") == 0 && has_val) {
            o.bearer_token = argv[++i];
        } else if (strcmp(s, "--ca") == 0 && has_val) {
            o.tls_ca_file = argv[++i];
        } else if (strcmp(s, "--cert") == 0 && has_val) {
            o.tls_cert_file = argv[++i];
        } else if (strcmp(s, "--key") == 0 && has_val) {
            o.tls_key_file = argv[++i];
        } else if (strcmp(s, "--insecure") == 0) {
            o.tls_no_verify = true;
        } else if (strcmp(s, "--no-gzip") == 0) {
            o.gzip = false;
        } else if (strcmp(s, "--gzip-loopback") == 0) {
            o.gzip_loopback = true;
        } else if (strcmp(s, "--retries") == 0 && has_val) {
            o.max_retries = atoi(argv[++i]);
        } else if (strcmp(s, "--retry-base-ms") == 0 && has_val) {
            o.retry_base_ms = atoi(argv[++i]);
        } else if (strcmp(s, "--timeout-ms") == 0 && has_val) {
            o.request_timeout_ms = atoi(argv[++i]);
        } else if (strcmp(s, "--log-level") == 0 && has_val) {
            int l = ce_log_level_parse(argv[++i]);
            if (l >= 0)
                ce_log_set_level((ce_log_level)l);
        } else if (s[0] == '-' && s[1] == '-') {
            if (a.argc + 2 > 64)
                return usage();
            a.argv[a.argc++] = s;
            if (has_val && !(argv[i + 1][0] == '-' && argv[i + 1][1] == '-'))
                a.argv[a.argc++] = argv[++i];
        } else if (!cmd) {
            cmd = s;
        } else if (!pos) {
            pos = s;
        } else {
            return usage();
        }
    }
    if (!o.password && o.username)
        o.password = getenv("CE_ES_PASSWORD");
    if (nurls == 0) {
        const char *u = getenv("CE_ES_URL");
        urls[nurls++] = u ? u : "http://127.0.0.1:9200";
    }
    if (!cmd)
        return usage();
    o.urls = urls;
    o.nurls = nurls;
    es_client *c = NULL;
    ce_err e = es_client_new(&o, &c);
    if (e) {
        fprintf(stderr, "connect: %s: %s\n", ce_errname(e), es_client_errmsg(c));
        es_client_free(c);
        return 2;
    }
    int rc = 0;
    const char *index = opt(&a, "--index");
    if (strcmp(cmd, "detect") == 0) {
        const es_caps *k = es_client_caps(c);
        printf("flavor=%s version=%s major=%d minor=%d types=%d pit=%d shard_doc_sort=%d "
               "track_total_hits=%d knn_plugin=%d seq_no=%d\n",
               k->flavor == ES_FLAVOR_OPENSEARCH ? "opensearch" : "elasticsearch",
               es_client_version(c), k->major, k->minor, (int)k->has_types, (int)k->pit,
               (int)k->shard_doc_sort, (int)k->track_total_hits, (int)k->knn_plugin,
               (int)k->seq_no);
    } else if (strcmp(cmd, "create-index") == 0 && index) {
        bool created = false;
        e = es_index_create(c, index, opt(&a, "--body"), &created);
        if (!e)
            printf("created=%s\n", created ? "true" : "false");
    } else if (strcmp(cmd, "delete-index") == 0 && index) {
        e = es_index_delete(c, index);
    } else if (strcmp(cmd, "exists") == 0 && index) {
        bool ex = false;
        e = es_index_exists(c, index, &ex);
        if (!e)
            printf("exists=%s\n", ex ? "true" : "false");
    } else if (strcmp(cmd, "properties") == 0 && index) {
        json_t *p = NULL;
        e = es_index_get_properties(c, index, &p);
        if (!e) {
            char *s = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
            printf("%s\n", s ? s : "");
            free(s);
            json_decref(p);
        }
    } else if (strcmp(cmd, "put-mapping") == 0 && index && opt(&a, "--body")) {
        e = es_index_put_mapping(c, index, NULL, opt(&a, "--body"));
    } else if (strcmp(cmd, "refresh") == 0 && index) {
        e = es_index_refresh(c, index);
    } else if (strcmp(cmd, "bulk-load") == 0) {
        rc = cmd_bulk_load(c, &a);
    } else if (strcmp(cmd, "bulk-file") == 0) {
        rc = cmd_bulk_file(c, &a, pos);
    } else if (strcmp(cmd, "search") == 0) {
        rc = cmd_search(c, &a);
    } else if (strcmp(cmd, "settings-roundtrip") == 0) {
        rc = cmd_settings(c, &a);
    } else {
        rc = usage();
    }
    if (e) {
        fprintf(stderr, "%s: %s: %s\n", cmd, ce_errname(e), es_client_errmsg(c));
        rc = e == CE_ENOTFOUND ? 4 : 2;
    }
    es_client_free(c);
    return rc;
}
