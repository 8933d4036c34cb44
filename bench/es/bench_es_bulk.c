/*
 * bench_es_bulk.c - benchmarks of the es client's hot path (run by hand, see README.md).
 *
 *   bench_es_bulk load --url U --index I [--count N] [--concurrency C] [--max-docs M]
 *                      [--no-gzip]
 *       bulk-indexes N small documents (the same ones bench/es/run_bench.py gives the
 *       curl and Python loaders) with external versions; prints docs/s and the process
 *       CPU seconds as one JSON line.
 *   bench_es_bulk parse [--items N] [--rounds R]
 *       times the _bulk response codec on an all-ok answer (fast path) and on the same
 *       answer with "errors":true (jansson path).
 *   bench_es_bulk page [--hits N] [--rounds R]
 *       times the search page codec (es_search_page_parse) on a page of N hits against
 *       one json_loadb of the same page
 *       (the E->C read), as MB/s and ns per hit: the baseline for any other parser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "es/es.h"
#include "es/es_int.h"
#include "util/jsonw.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static const char *arg(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

static int has(int argc, char **argv, const char *name)
{
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

static size_t failed;
static void on_result(const es_bulk_item_result *r, void *ud)
{
    (void)ud;
    if (r->status != ES_ITEM_OK)
        failed++;
}

/* The benchmark document for i; keep in sync with run_bench.py's doc(). */
static void write_doc(ce_buf *d, long i)
{
    char name[32];
    int nl = snprintf(name, sizeof name, "doc-%ld", i);
    ce_buf_append_str(d, "{\"id\":");
    jsonw_int64(d, i);
    ce_buf_append_str(d, ",\"version\":");
    jsonw_int64(d, 1000 + i);
    ce_buf_append_str(d, ",\"name\":");
    jsonw_string(d, name, (size_t)nl);
    ce_buf_append_str(d, ",\"value\":");
    jsonw_int64(d, i * 3);
    ce_buf_append_str(d, ",\"tag\":\"t");
    jsonw_int64(d, i % 100);
    ce_buf_append_str(d, "\"}");
}

static int cmd_load(int argc, char **argv)
{
    const char *url = arg(argc, argv, "--url", "http://127.0.0.1:9200");
    const char *index = arg(argc, argv, "--index", "bench_es");
    long count = atol(arg(argc, argv, "--count", "200000"));
    es_client_opts o;
    es_client_opts_init(&o);
    o.urls = &url;
    o.nurls = 1;
    o.gzip = !has(argc, argv, "--no-gzip");
    o.gzip_loopback = o.gzip; /* the benchmark runs on loopback: measure gzip anyway */
    es_client *c;
    if (es_client_new(&o, &c)) {
        fprintf(stderr, "connect: %s\n", es_client_errmsg(c));
        es_client_free(c);
        return 2;
    }
    es_bulk_opts bo;
    es_bulk_opts_init(&bo);
    bo.concurrency = atoi(arg(argc, argv, "--concurrency", "2"));
    bo.max_docs = (size_t)atol(arg(argc, argv, "--max-docs", "5000"));
    bo.on_result = on_result;
    es_bulk *b;
    es_bulk_new(c, &bo, &b);
    double t0 = now_s(), c0 = cpu_s();
    char id[24];
    for (long i = 0; i < count; i++) {
        int il = snprintf(id, sizeof id, "%ld", i);
        ce_buf *d = es_bulk_index_begin(b, index, NULL, id, (size_t)il, ES_VERSION_EXTERNAL, 1000 + i);
        write_doc(d, i);
        if (es_bulk_commit(b, (uint64_t)i))
            return 2;
    }
    ce_err e = es_bulk_finish(b);
    double t1 = now_s(), c1 = cpu_s();
    es_bulk_stats st;
    es_bulk_get_stats(b, &st);
    printf("{\"docs\":%ld,\"seconds\":%.3f,\"docs_per_s\":%.0f,\"cpu_s\":%.3f,\"ok\":%llu,"
           "\"failed\":%zu,\"requests\":%llu,\"gzip\":%s,\"err\":\"%s\"}\n",
           count, t1 - t0, (double)count / (t1 - t0), c1 - c0, (unsigned long long)st.items_ok,
           failed, (unsigned long long)st.requests, o.gzip ? "true" : "false", ce_errname(e));
    es_bulk_free(b);
    es_client_free(c);
    return e || failed ? 3 : 0;
}

static size_t parsed;
static void on_parsed(size_t i, es_item_status st, int http_status, const char *id,
                      const char *error_type, const char *reason, int64_t cur, void *ud)
{
    (void)i, (void)st, (void)http_status, (void)id, (void)error_type, (void)reason, (void)cur;
    (void)ud;
    parsed++;
}

static int cmd_parse(int argc, char **argv)
{
    size_t items = (size_t)atol(arg(argc, argv, "--items", "5000"));
    int rounds = atoi(arg(argc, argv, "--rounds", "200"));
    for (int variant = 0; variant < 3; variant++) {
        ce_buf b = CE_BUF_INIT;
        ce_buf_append_str(&b, variant == 1 ? "{\"errors\":true,\"items\":[" : "{\"took\":12,\"errors\":false,\"items\":[");
        for (size_t i = 0; i < items; i++) {
            if (variant == 2) /* unfiltered answer, as without filter_path */
                ce_buf_printf(&b, "%s{\"index\":{\"_index\":\"bench_es\",\"_id\":\"%zu\",\"_version\":%zu,"
                                  "\"result\":\"created\",\"_shards\":{\"total\":2,\"successful\":1,"
                                  "\"failed\":0},\"_seq_no\":%zu,\"_primary_term\":1,\"status\":201}}",
                              i ? "," : "", i, 1000 + i, i);
            else
                ce_buf_printf(&b, "%s{\"index\":{\"_id\":\"%zu\",\"status\":201}}", i ? "," : "", i);
        }
        ce_buf_append_str(&b, "]}");
        double t0 = now_s();
        parsed = 0;
        for (int r = 0; r < rounds; r++)
            if (es_bulk_parse_response(b.data, b.len, items, on_parsed, NULL))
                return 2;
        double dt = now_s() - t0;
        printf("{\"variant\":\"%s\",\"items\":%zu,\"bytes\":%zu,\"ns_per_item\":%.1f}\n",
               variant == 0 ? "fast (errors:false, filter_path)"
               : variant == 1 ? "jansson (errors:true, filter_path)"
                              : "fast (errors:false, full answer)",
               items, b.len, dt * 1e9 / (double)parsed);
        ce_buf_free(&b);
    }
    return 0;
}

/* The page of `hits` hits of the E->C read, as the server writes it without filter_path. */
static void page_body(ce_buf *b, size_t hits)
{
    ce_buf_append_str(b, "{\"_scroll_id\":\"FGluY2x1ZGVfY29udGV4dF91dWlkDXF1ZXJ5QW5kRmV0Y2g\",\"took\":3,"
                         "\"timed_out\":false,\"_shards\":{\"total\":1,\"successful\":1,\"skipped\":0,"
                         "\"failed\":0},\"hits\":{\"total\":{\"value\":1000000,\"relation\":\"eq\"},"
                         "\"max_score\":null,\"hits\":[");
    for (size_t i = 0; i < hits; i++)
        ce_buf_printf(b, "%s{\"_index\":\"bench_es\",\"_id\":\"%zu\",\"_score\":null,\"_source\":{\"id\":%zu,"
                         "\"version\":%zu,\"name\":\"name-%zu\",\"value\":%zu.25,\"tag\":\"t%zu\",\"flag\":true,"
                         "\"ts\":\"2024-05-01T10:00:00.000Z\",\"tags\":[\"a\",\"b\"]},\"sort\":[%zu]}",
                      i ? "," : "", i, i, 1700000000000 + i, i, i, i % 97, i);
    ce_buf_append_str(b, "]}}");
}

/* Parse the page `rounds` times with the codec (0: es_search_page_parse, 1: one
 * json_loadb of the whole page, the codec before json_exact.c); one JSON line. */
static int time_page(const ce_buf *b, size_t hits, int rounds, int codec)
{
    double t0 = now_s(), c0 = cpu_s();
    for (int r = 0; r < rounds; r++) {
        if (codec == 0) {
            es_search_page pg;
            if (es_search_page_parse((const char *)b->data, b->len, ES_PAGE_LEAN, &pg) ||
                json_array_size(pg.hits) != hits)
                return 2;
            es_search_page_free(&pg);
        } else {
            json_error_t jerr;
            json_t *root = json_loadb((const char *)b->data, b->len, 0, &jerr);
            if (!root)
                return 2;
            json_decref(root);
        }
    }
    double dt = now_s() - t0, dc = cpu_s() - c0;
    printf("{\"codec\":\"%s\",\"hits\":%zu,\"bytes\":%zu,\"MB_per_s\":%.1f,\"MB_per_cpu_s\":%.1f,"
           "\"ns_per_hit\":%.1f,\"cpu_s\":%.3f}\n",
           codec == 0 ? "es_search_page_parse (exact scanner + jansson per hit)" : "json_loadb (whole page)",
           hits, b->len, (double)b->len * rounds / dt / 1e6, (double)b->len * rounds / dc / 1e6,
           dt * 1e9 / ((double)hits * rounds), dc);
    return 0;
}

static int cmd_page(int argc, char **argv)
{
    size_t hits = (size_t)atol(arg(argc, argv, "--hits", "2000"));
    int rounds = atoi(arg(argc, argv, "--rounds", "200"));
    ce_buf b = CE_BUF_INIT;
    page_body(&b, hits);
    int rc = time_page(&b, hits, rounds, 1);
    rc = rc ? rc : time_page(&b, hits, rounds, 0);
    ce_buf_free(&b);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "page") == 0)
        return cmd_page(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "load") == 0)
        return cmd_load(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "parse") == 0)
        return cmd_parse(argc, argv);
    fprintf(stderr, "usage: bench_es_bulk load|parse|page [options] (see bench/es/README.md)\n");
    return 1;
}
