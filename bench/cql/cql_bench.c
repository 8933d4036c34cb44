/*
 * cql_bench - throughput of the casselastic CQL client against a real cluster (run by
 * hand, never in CI; bench/cql/README.md explains and bench/cql/py_bench.py compares
 * with the Python driver in the same run).
 *
 *   cql_bench [--host H] [--proto 4|5] [--compression] read KS TABLE PAGE_SIZE
 *       read the whole table page by page; every cell converted to JSON (what the sync
 *       engine does); prints rows, CPU seconds of this process, rows per CPU-second
 *   cql_bench [...] decode KS TABLE PAGE_SIZE
 *       the same, cells only located (decoded in place), no JSON
 *   cql_bench [...] insert KS TABLE N CONCURRENCY
 *       N prepared INSERTs (id int, a text, b bigint, c double), CONCURRENCY in flight;
 *       prints rows per wall-second and CPU seconds
 * Output: one JSON object per run on stdout.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conv/conv.h"
#include "cql/cql.h"

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
    }
    double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = clock_s(CLOCK_MONOTONIC) - w0;
    printf("{\"op\":\"%s\",\"rows\":%zu,\"cpu_s\":%.3f,\"wall_s\":%.3f,\"rows_per_cpu_s\":%.0f,\"bytes\":%zu}\n",
           to_json ? "read" : "decode", rows, cpu, wall, cpu > 0 ? (double)rows / cpu : 0.0, bytes);
    free(paging);
    ce_buf_free(&json);
    return 0;
}

static int bench_insert(cql_session *s, const char *ks, const char *table, long n, int conc)
{
    char q[512];
    snprintf(q, sizeof q, "INSERT INTO \"%s\".\"%s\" (id, a, b, c) VALUES (?, ?, ?, ?)", ks, table);
    cql_prepared *p;
    cql_error_info info;
    if (cql_session_prepare(s, q, &p, &info)) {
        fprintf(stderr, "prepare failed: %s\n", cql_session_errmsg(s));
        return 1;
    }
    cql_query_opts o;
    cql_query_opts_init(&o);
    o.consistency = CQL_CONSISTENCY_ONE;
    cql_future **win = calloc((size_t)conc, sizeof *win);
    size_t nwin = 0;
    long sent = 0, done = 0, errors = 0;
    double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
    while (done + errors < n) {
        while (sent < n && nwin < (size_t)conc) {
            uint8_t id[4] = {(uint8_t)(sent >> 24), (uint8_t)(sent >> 16), (uint8_t)(sent >> 8), (uint8_t)sent};
            char a[32];
            int al = snprintf(a, sizeof a, "name-%ld", sent);
            uint8_t b[8], c[8];
            uint64_t bv = (uint64_t)sent * 1000, cv;
            double d = (double)sent / 7.0;
            memcpy(&cv, &d, 8);
            for (int i = 0; i < 8; i++) {
                b[i] = (uint8_t)(bv >> (56 - 8 * i));
                c[i] = (uint8_t)(cv >> (56 - 8 * i));
            }
            cql_value v[4] = {{id, 4}, {(const uint8_t *)a, al}, {b, 8}, {c, 8}};
            win[nwin++] = cql_session_execute_async(s, p, v, 4, &o);
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
    free(win);
    return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    cql_session_opts so;
    cql_session_opts_init(&so);
    const char *hosts[8];
    size_t nh = 0;
    int i = 1;
    for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
        if (!strcmp(argv[i], "--host") && i + 1 < argc && nh < 8)
            hosts[nh++] = argv[++i];
        else if (!strcmp(argv[i], "--proto") && i + 1 < argc)
            so.protocol_version = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--compression"))
            so.compression = true;
    }
    if (!nh)
        hosts[nh++] = "127.0.0.1";
    so.contact_points = hosts;
    so.ncontact_points = nh;
    if (argc - i < 4) {
        fprintf(stderr, "usage: cql_bench [--host H] [--proto 4|5] [--compression] read|decode KS TABLE PAGE | insert KS TABLE N CONC\n");
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
    else if (!strcmp(argv[i], "insert") && argc - i >= 5)
        rc = bench_insert(s, argv[i + 1], argv[i + 2], atol(argv[i + 3]), atoi(argv[i + 4]));
    else
        rc = 2;
    cql_session_free(s);
    return rc;
}
