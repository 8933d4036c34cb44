/*
 * cql_bench - throughput of the casselastic CQL client against a real cluster (run by
 * hand, never in CI; bench/cql/README.md explains and bench/cql/py_bench.py compares
 * with the Python driver in the same run).
 *
 *   cql_bench [--host H] [--proto 4|5] [--compression] read KS TABLE PAGE_SIZE
 *       read the whole table page by page; every cell converted to JSON (what the sync
 *       engine does); prints rows, CPU seconds of this process, rows per CPU-second
 *   cql_bench [...] decode KS TABLE PAGE_SIZE
 *       the same, cells only located (decoded in place), no JSON; --pace MS pauses after
 *       each page (a client consuming at another side's pace)
 *   cql_bench [...] scan KS TABLE PAGE_SIZE RANGES COLUMNS
 *       the engine's query shape for measuring Cassandra's side of a scan: the prepared
 *       "SELECT COLUMNS FROM KS.TABLE WHERE token(id)>? AND token(id)<=?" over RANGES
 *       token ranges (0: no WHERE, one prepared full scan), one page in flight, cells
 *       only located; COLUMNS is the select list text (e.g. "*" or "*,WRITETIME(name)")
 *   cql_bench [...] insert KS TABLE N CONCURRENCY
 *       N prepared INSERTs (id int, a text, b bigint, c double), CONCURRENCY in flight;
 *       prints rows per wall-second and CPU seconds
 *   cql_bench [...] [--now MS] [--bucketed] rows KS TABLE N CONCURRENCY WIDTH
 *       the same pipelined INSERTs with rows of bench_sync.big's shape (id, version, name,
 *       qty, price, tags, updated; --bucketed: the hourly `bucket` key first, big_b's shape),
 *       documents of about WIDTH bytes, versions over ten days before MS (default: now
 *       minus two minutes). bench/suite prepares its data with it and measures Cassandra's
 *       CPU for the same rows as the E->C bound.
 * Output: one JSON object per run on stdout.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conv/conv.h"
#include "cql/cql.h"

static int pace_ms; /* --pace: a pause after each page (a client that consumes slowly) */

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench_read(cql_session *s, const char *ks, const char *table, int page, bool to_json)
{
    char q[512];
    snprintf(q, sizeof q, "SELECT * FROM \"%s\".\"%s\"", ks, table);
    cql_query_opts o;
    cql_query_opts_init(&o);
    o.page_size = page;
    o.consistency = CQL_CONSISTENCY_ONE;
    ce_buf json = CE_BUF_INIT;
    uint8_t *paging = NULL;
    size_t rows = 0, bytes = 0;
    double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
    for (;;) {
        cql_result *r;
        cql_error_info info;
        ce_err e = cql_session_query(s, q, NULL, 0, &o, &r, &info);
        if (e) {
            fprintf(stderr, "query failed: %s\n", cql_session_errmsg(s));
            return 1;
        }
        size_t nr = cql_result_row_count(r), nc = cql_result_column_count(r);
        for (size_t i = 0; i < nr; i++) {
            json.len = 0;
            for (size_t c = 0; c < nc; c++) {
                cql_value v = cql_result_cell(r, i, c);
                if (!to_json) {
                    bytes += v.len > 0 ? (size_t)v.len : 0; /* decoded: located and sized */
                    continue;
                }
                if (conv_value_to_json(cql_result_column_type(r, c), v.ptr, v.len, &json)) {
                    fprintf(stderr, "bad value\n");
                    return 1;
                }
            }
            bytes += json.len;
        }
        rows += nr;
        bool more = cql_result_has_more_pages(r);
        if (more) {
            cql_value ps = cql_result_paging_state(r);
            free(paging);
            paging = malloc((size_t)ps.len);
            memcpy(paging, ps.ptr, (size_t)ps.len);
            o.paging_state.ptr = paging;
            o.paging_state.len = ps.len;
        }
        cql_result_free(r);
        if (!more)
            break;
        if (pace_ms > 0)
            nanosleep(&(struct timespec){pace_ms / 1000, (long)(pace_ms % 1000) * 1000000L}, NULL);
    }
    double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = clock_s(CLOCK_MONOTONIC) - w0;
    printf("{\"op\":\"%s\",\"rows\":%zu,\"cpu_s\":%.3f,\"wall_s\":%.3f,\"rows_per_cpu_s\":%.0f,\"bytes\":%zu}\n",
           to_json ? "read" : "decode", rows, cpu, wall, cpu > 0 ? (double)rows / cpu : 0.0, bytes);
    free(paging);
    ce_buf_free(&json);
    return 0;
}

/* The pages of one prepared read (vals: its binds) counted into *rows and *bytes. */
static int scan_pages(cql_session *s, cql_prepared *p, const cql_value *vals, size_t nvals, int page,
                      size_t *rows, size_t *bytes)
{
    cql_query_opts o;
    cql_query_opts_init(&o);
    o.page_size = page;
    o.consistency = CQL_CONSISTENCY_ONE;
    ce_buf paging = CE_BUF_INIT;
    int rc = 0;
    for (;;) {
        cql_result *r;
        cql_error_info info;
        if (cql_session_execute(s, p, vals, nvals, &o, &r, &info)) {
            fprintf(stderr, "query failed: %s\n", cql_session_errmsg(s));
            rc = 1;
            break;
        }
        size_t nr = cql_result_row_count(r), nc = cql_result_column_count(r);
        for (size_t i = 0; i < nr; i++)
            for (size_t c = 0; c < nc; c++) {
                cql_value v = cql_result_cell(r, i, c);
                *bytes += v.len > 0 ? (size_t)v.len : 0;
            }
        *rows += nr;
        bool more = cql_result_has_more_pages(r);
        if (more) {
            cql_value ps = cql_result_paging_state(r);
            paging.len = 0;
            ce_buf_append(&paging, ps.ptr, (size_t)ps.len);
            o.paging_state.ptr = (const uint8_t *)paging.data;
            o.paging_state.len = ps.len;
        }
        cql_result_free(r);
        if (!more)
            break;
    }
    ce_buf_free(&paging);
    return rc;
}

static int bench_scan(cql_session *s, const char *ks, const char *table, int page, int nranges, const char *cols)
{
    char q[1024];
    snprintf(q, sizeof q, "SELECT %s FROM \"%s\".\"%s\"%s", cols, ks, table,
             nranges > 0 ? " WHERE token(id)>? AND token(id)<=?" : "");
    cql_prepared *p;
    cql_error_info info;
    if (cql_session_prepare(s, q, &p, &info)) {
        fprintf(stderr, "prepare failed: %s\n", cql_session_errmsg(s));
        return 1;
    }
    cql_token_range one = {INT64_MIN, INT64_MAX}, *ranges = &one;
    size_t nr = 1, rows = 0, bytes = 0;
    if (nranges > 0 && cql_session_token_ranges(s, (size_t)nranges, &ranges, &nr))
        return 1;
    double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
    int rc = 0;
    for (size_t k = 0; k < nr && !rc; k++) {
        uint8_t tok[2][8];
        int64_t t[2] = {ranges[k].start, ranges[k].end};
        cql_value vals[2];
        for (int j = 0; j < 2; j++) {
            for (int b = 0; b < 8; b++)
                tok[j][b] = (uint8_t)((uint64_t)t[j] >> (56 - 8 * b));
            vals[j].ptr = tok[j];
            vals[j].len = 8;
        }
        rc = scan_pages(s, p, vals, nranges > 0 ? 2 : 0, page, &rows, &bytes);
    }
    if (ranges != &one)
        free(ranges);
    double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = clock_s(CLOCK_MONOTONIC) - w0;
    printf("{\"op\":\"scan\",\"ranges\":%zu,\"rows\":%zu,\"cpu_s\":%.3f,\"wall_s\":%.3f,\"bytes\":%zu}\n",
           nranges > 0 ? nr : 0, rows, cpu, wall, bytes);
    return rc;
}

/* One row's bound values: fills v (at most MAX_VALUES) for row i, using the row's own
 * scratch bytes; returns how many values were filled. */
#define MAX_VALUES 8
typedef struct {
    uint8_t bytes[4096]; /* every value of the row points in here */
    cql_value v[MAX_VALUES];
} row_buf;
typedef size_t (*row_encoder)(const void *ctx, long i, row_buf *row);

static void put_be(uint8_t *p, uint64_t x, int n)
{
    for (int k = 0; k < n; k++)
        p[k] = (uint8_t)(x >> (8 * (n - 1 - k)));
}

/* The (id int, a text, b bigint, c double) rows of the `insert` op. */
static size_t encode_abc(const void *ctx, long i, row_buf *row)
{
    (void)ctx;
    uint8_t *b = row->bytes;
    put_be(b, (uint64_t)i, 4);
    int al = snprintf((char *)b + 4, 32, "name-%ld", i);
    put_be(b + 36, (uint64_t)i * 1000, 8);
    double d = (double)i / 7.0;
    uint64_t dv;
    memcpy(&dv, &d, 8);
    put_be(b + 44, dv, 8);
    row->v[0] = (cql_value){b, 4};
    row->v[1] = (cql_value){b + 4, al};
    row->v[2] = (cql_value){b + 36, 8};
    row->v[3] = (cql_value){b + 44, 8};
    return 4;
}

/* The rows of bench/sync and bench/suite (bench_sync.big's shape): id int, version bigint,
 * name text (padded so that the document is about `width` bytes), qty int, price double,
 * tags set<text>, updated timestamp (= version); with `bucketed`, the hourly bucket text of
 * the version first (the big_b shape). Versions spread over ten days before `now_ms`, as
 * bench/sync/bench.py's loader spreads them. */
typedef struct {
    int64_t now_ms;
    int width;
    bool bucketed;
} sync_rows;

static size_t encode_sync_row(const void *ctx, long i, row_buf *row)
{
    const sync_rows *g = ctx;
    const int64_t span = 10LL * 86400 * 1000;
    int64_t version = g->now_ms - span + ((int64_t)i * 7919) % span;
    uint8_t *b = row->bytes, *p = b;
    size_t nv = 0;
    if (g->bucketed) {
        time_t t = (time_t)(version / 1000 / 3600 * 3600);
        struct tm tm;
        gmtime_r(&t, &tm);
        size_t bl = strftime((char *)p, 16, "%Y%m%d%H", &tm);
        row->v[nv++] = (cql_value){p, (int32_t)bl};
        p += 16;
    }
    put_be(p, (uint64_t)i, 4);
    row->v[nv++] = (cql_value){p, 4};
    put_be(p + 4, (uint64_t)version, 8);
    row->v[nv++] = (cql_value){p + 4, 8};
    p += 12;
    int nl = snprintf((char *)p, 64, "item number %ld with a name", i);
    int pad = g->width - 150; /* the narrow document is about 150 bytes */
    if (pad > (int)sizeof row->bytes - 256)
        pad = (int)sizeof row->bytes - 256;
    for (int k = 0; k < pad; k++)
        p[nl + k] = (uint8_t)('a' + (i + k) % 26);
    nl += pad > 0 ? pad : 0;
    row->v[nv++] = (cql_value){p, nl};
    p += nl;
    put_be(p, (uint64_t)(i % 1000), 4);
    row->v[nv++] = (cql_value){p, 4};
    double price = (double)i / 7.0;
    uint64_t pv;
    memcpy(&pv, &price, 8);
    put_be(p + 4, pv, 8);
    row->v[nv++] = (cql_value){p + 4, 8};
    p += 12;
    /* set<text> {"all", "t<i%10>"}, elements in CQL's sorted order */
    uint8_t *set = p;
    put_be(p, 2, 4);
    put_be(p + 4, 3, 4);
    memcpy(p + 8, "all", 3);
    put_be(p + 11, 2, 4);
    p[15] = 't';
    p[16] = (uint8_t)('0' + i % 10);
    p += 17;
    row->v[nv++] = (cql_value){set, (int32_t)(p - set)};
    put_be(p, (uint64_t)version, 8);
    row->v[nv++] = (cql_value){p, 8};
    return nv;
}

/* n rows encoded by `enc`, executed with the prepared statement p, conc in flight (one send
 * per loop turn); prints one JSON line (rows, errors, wall, rows/s, CPU seconds). */
static int insert_pipelined(cql_session *s, cql_prepared *p, long n, int conc, row_encoder enc, const void *ctx)
{
    cql_query_opts o;
    cql_query_opts_init(&o);
    o.consistency = CQL_CONSISTENCY_ONE;
    cql_future **win = calloc((size_t)conc, sizeof *win);
    row_buf *row = malloc(sizeof *row);
    if (!win || !row) {
        free(win);
        free(row);
        return 1;
    }
    size_t nwin = 0;
    long sent = 0, done = 0, errors = 0;
    double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
    while (done + errors < n) {
        while (sent < n && nwin < (size_t)conc) {
            size_t nv = enc(ctx, sent, row);
            win[nwin++] = cql_session_execute_async(s, p, row->v, nv, &o);
            sent++;
        }
        cql_session_run(s, 100);
        for (size_t i = 0; i < nwin;) {
            if (!cql_future_done(win[i])) {
                i++;
                continue;
            }
            if (cql_future_status(win[i])) {
                if (!errors)
                    fprintf(stderr, "insert failed: %s\n", cql_future_errmsg(win[i]));
                errors++;
            } else {
                done++;
            }
            cql_future_free(win[i]);
            win[i] = win[--nwin];
        }
    }
    double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = clock_s(CLOCK_MONOTONIC) - w0;
    printf("{\"op\":\"insert\",\"rows\":%ld,\"errors\":%ld,\"wall_s\":%.3f,\"rows_per_s\":%.0f,\"cpu_s\":%.3f}\n", done,
           errors, wall, (double)done / wall, cpu);
    free(row);
    free(win);
    return errors ? 1 : 0;
}

static int bench_insert(cql_session *s, const char *q, long n, int conc, row_encoder enc, const void *ctx)
{
    cql_prepared *p;
    cql_error_info info;
    if (cql_session_prepare(s, q, &p, &info)) {
        fprintf(stderr, "prepare failed: %s\n", cql_session_errmsg(s));
        return 1;
    }
    return insert_pipelined(s, p, n, conc, enc, ctx);
}

int main(int argc, char **argv)
{
    cql_session_opts so;
    cql_session_opts_init(&so);
    const char *hosts[8];
    size_t nh = 0;
    sync_rows rows = {.now_ms = (int64_t)(clock_s(CLOCK_REALTIME) * 1000) - 120000, .width = 150};
    int i = 1;
    for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
        if (!strcmp(argv[i], "--host") && i + 1 < argc && nh < 8)
            hosts[nh++] = argv[++i];
        else if (!strcmp(argv[i], "--proto") && i + 1 < argc)
            so.protocol_version = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--compression"))
            so.compression = true;
        else if (!strcmp(argv[i], "--now") && i + 1 < argc)
            rows.now_ms = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--pace") && i + 1 < argc)
            pace_ms = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bucketed"))
            rows.bucketed = true;
    }
    if (!nh)
        hosts[nh++] = "127.0.0.1";
    so.contact_points = hosts;
    so.ncontact_points = nh;
    if (argc - i < 4) {
        fprintf(stderr, "usage: cql_bench [--host H] [--proto 4|5] [--compression] read|decode KS TABLE PAGE | scan KS TABLE PAGE RANGES COLUMNS | insert KS TABLE N CONC | [--now MS] [--bucketed] rows KS TABLE N CONC WIDTH\n");
        return 2;
    }
    cql_session *s;
    if (cql_session_connect(&so, &s)) {
        fprintf(stderr, "connect: %s\n", cql_session_errmsg(s));
        cql_session_free(s);
        return 1;
    }
    int rc;
    if (!strcmp(argv[i], "read") || !strcmp(argv[i], "decode"))
        rc = bench_read(s, argv[i + 1], argv[i + 2], atoi(argv[i + 3]), !strcmp(argv[i], "read"));
    else if (!strcmp(argv[i], "scan") && argc - i >= 6)
        rc = bench_scan(s, argv[i + 1], argv[i + 2], atoi(argv[i + 3]), atoi(argv[i + 4]), argv[i + 5]);
    else if (!strcmp(argv[i], "insert") && argc - i >= 5) {
        char q[512];
        snprintf(q, sizeof q, "INSERT INTO \"%s\".\"%s\" (id, a, b, c) VALUES (?, ?, ?, ?)", argv[i + 1], argv[i + 2]);
        rc = bench_insert(s, q, atol(argv[i + 3]), atoi(argv[i + 4]), encode_abc, NULL);
    } else if (!strcmp(argv[i], "rows") && argc - i >= 6) {
        char q[512];
        rows.width = atoi(argv[i + 5]);
        snprintf(q, sizeof q, "INSERT INTO \"%s\".\"%s\" (%sid, version, name, qty, price, tags, updated) "
                 "VALUES (%s?, ?, ?, ?, ?, ?, ?)", argv[i + 1], argv[i + 2], rows.bucketed ? "bucket, " : "",
                 rows.bucketed ? "?, " : "");
        rc = bench_insert(s, q, atol(argv[i + 3]), atoi(argv[i + 4]), encode_sync_row, &rows);
    }
    else
        rc = 2;
    cql_session_free(s);
    return rc;
}
