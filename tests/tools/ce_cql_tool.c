/*
 * ce_cql_tool - a small command-line client over the casselastic CQL library, used by
 * the integration tests (pytest) and by hand. Rows are printed as JSON lines (one
 * object per row, values in the conv_value_to_json forms); errors as one JSON object
 * {"error": "CE_...", "code": N, "name": "...", "message": "..."} and exit status 2
 * (1 for connection/usage failures).
 *
 * Usage: ce_cql_tool [options] COMMAND ...
 *   options: --host H (repeatable)  --port P  --proto 4|5  --compression
 *            --user U --password P  --tls --ca F [--cert C --key K] [--no-verify]
 *            --keyspace K  --page-size N  --consistency NAME  --serial NAME
 *            --timeout MS  --no-discover  --no-token-aware  --stats  --concurrency N
 *            --timestamp USEC  --routing-token T (route to T's replicas)  --log debug|info|warn|error
 *            --prepare-lazily (PREPARE only where executed: exercises Unprepared)
 *   query CQL [JSON]         run CQL (all pages); JSON array binds by position, JSON
 *                            object binds by name (prepared when JSON is given)
 *   exec CQL                 prepare CQL, then execute it once per stdin line (a JSON
 *                            array of values), pipelined; prints {"executed":N,"errors":E}
 *   scan KS TABLE N          read the whole table by about N token ranges in parallel,
 *                            printing rows; summary {"ranges":R,"rows":N} on stderr
 *   ranges N                 print the token ranges as [start, end] lines
 *   hosts                    print the known hosts {"addr","up","requests"}
 *   meta KS TABLE            print the table metadata as JSON
 *   write-loop KS TABLE COUNT MS   insert ids 0..COUNT-1 (INSERT INTO KS.TABLE (id, v)
 *                            VALUES (?, ?), id int, v text) paced over MS milliseconds;
 *                            prints a per-second {"t":..,"hosts":{..},"done":..} line
 *                            and a final {"written":N,"errors":E,"hosts":{..}}
 *   --stats prints {"hosts":[...]} (per-host request counters) on stderr at the end.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conv/conv.h"
#include "cql/cql.h"
#include "util/jsonw.h"
#include "util/log.h"

static cql_session_opts g_opts;
static cql_query_opts g_q;
static const char *g_hosts[16];
static size_t g_nhosts;
static bool g_stats;
static int g_concurrency = 256;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void print_error(ce_err e, const cql_error_info *info, const char *msg)
{
    ce_buf b = CE_BUF_INIT;
    ce_buf_printf(&b, "{\"error\":\"%s\",\"code\":%d,\"name\":", ce_errname(e),
                  e == CE_ESERVER && info ? (int)info->code : 0);
    jsonw_cstr(&b, e == CE_ESERVER && info ? cql_error_code_name(info->code) : "");
    ce_buf_append_str(&b, ",\"message\":");
    jsonw_cstr(&b, msg ? msg : "");
    ce_buf_append_str(&b, "}\n");
    fwrite(b.data, 1, b.len, stdout);
    fflush(stdout);
    ce_buf_free(&b);
}

static void print_hosts(cql_session *s, FILE *out, bool as_object)
{
    ce_buf b = CE_BUF_INIT;
    ce_buf_append_str(&b, as_object ? "{" : "[");
    size_t n = cql_session_host_count(s, false);
    for (size_t i = 0; i < n; i++) {
        const char *addr;
        bool up;
        uint64_t req;
        cql_session_host_info(s, i, &addr, &up, &req);
        if (i)
            ce_buf_append_byte(&b, ',');
        if (as_object) {
            jsonw_cstr(&b, addr);
            ce_buf_printf(&b, ":%" PRIu64, req);
        } else {
            ce_buf_append_str(&b, "{\"addr\":");
            jsonw_cstr(&b, addr);
            ce_buf_printf(&b, ",\"up\":%s,\"requests\":%" PRIu64 "}", up ? "true" : "false", req);
        }
    }
    ce_buf_append_str(&b, as_object ? "}" : "]");
    fwrite(b.data, 1, b.len, out);
    ce_buf_free(&b);
}

static int print_rows(const cql_result *r, ce_buf *b)
{
    size_t nc = cql_result_column_count(r), nr = cql_result_row_count(r);
    for (size_t i = 0; i < nr; i++) {
        b->len = 0;
        ce_buf_append_byte(b, '{');
        for (size_t c = 0; c < nc; c++) {
            if (c)
                ce_buf_append_byte(b, ',');
            jsonw_cstr(b, cql_result_column_name(r, c));
            ce_buf_append_byte(b, ':');
            cql_value v = cql_result_cell(r, i, c);
            ce_err e = conv_value_to_json(cql_result_column_type(r, c), v.ptr, v.len, b);
            if (e) {
                fprintf(stderr, "cannot convert column %s: %s\n", cql_result_column_name(r, c), ce_strerror(e));
                return -1;
            }
        }
        ce_buf_append_str(b, "}\n");
        fwrite(b->data, 1, b->len, stdout);
    }
    return 0;
}

static void print_nonrows(const cql_result *r)
{
    switch (cql_result_kind_of(r)) {
    case CQL_RESULT_VOID: printf("{\"result\":\"void\"}\n"); break;
    case CQL_RESULT_SET_KEYSPACE: printf("{\"result\":\"set_keyspace\",\"keyspace\":\"%s\"}\n", cql_result_keyspace(r)); break;
    case CQL_RESULT_SCHEMA_CHANGE: {
        const char *target, *object;
        const char *ct = cql_result_schema_change(r, &target, &object);
        printf("{\"result\":\"schema_change\",\"change\":\"%s\",\"target\":\"%s\",\"keyspace\":\"%s\",\"object\":\"%s\"}\n",
               ct, target, cql_result_keyspace(r), object);
        break;
    }
    default: printf("{\"result\":\"other\"}\n"); break;
    }
}

/* Convert a JSON array/object into values for prepared p. */
static int bind_json(cql_prepared *p, json_t *j, ce_buf *store, cql_value *vals, const char **names, size_t *n)
{
    size_t np = cql_prepared_param_count(p);
    size_t cnt = json_is_array(j) ? json_array_size(j) : json_object_size(j);
    if (cnt > 256 || (json_is_array(j) && cnt != np)) {
        fprintf(stderr, "expected %zu values, got %zu\n", np, cnt);
        return -1;
    }
    size_t offs[256];
    ce_buf err = CE_BUF_INIT;
    store->len = 0;
    size_t k = 0;
    if (json_is_array(j)) {
        for (size_t i = 0; i < cnt; i++) {
            bool is_null = false;
            offs[k] = store->len;
            if (conv_value_from_json(cql_prepared_param_type(p, i), json_array_get(j, i), store, &is_null, &err)) {
                fprintf(stderr, "value %zu: %s\n", i, ce_buf_cstr(&err));
                ce_buf_free(&err);
                return -1;
            }
            vals[k].len = is_null ? CQL_NULL : (int32_t)(store->len - offs[k]);
            k++;
        }
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v) {
            size_t idx = np;
            for (size_t i = 0; i < np; i++)
                if (!strcmp(cql_prepared_param_name(p, i), key))
                    idx = i;
            if (idx == np) {
                fprintf(stderr, "no bind marker named %s\n", key);
                return -1;
            }
            bool is_null = false;
            offs[k] = store->len;
            if (conv_value_from_json(cql_prepared_param_type(p, idx), v, store, &is_null, &err)) {
                fprintf(stderr, "value %s: %s\n", key, ce_buf_cstr(&err));
                ce_buf_free(&err);
                return -1;
            }
            vals[k].len = is_null ? CQL_NULL : (int32_t)(store->len - offs[k]);
            names[k] = key;
            k++;
        }
    }
    for (size_t i = 0; i < k; i++)
        vals[i].ptr = (const uint8_t *)store->data + offs[i];
    ce_buf_free(&err);
    *n = k;
    return 0;
}

static int cmd_query(cql_session *s, const char *cql, const char *json)
{
    cql_prepared *p = NULL;
    cql_value vals[256];
    const char *names[256];
    size_t n = 0;
    ce_buf store = CE_BUF_INIT, line = CE_BUF_INIT;
    json_t *j = NULL;
    cql_error_info info;
    cql_query_opts q = g_q;
    int rc = 0;
    if (json) {
        json_error_t je;
        j = json_loads(json, 0, &je);
        if (!j || (!json_is_array(j) && !json_is_object(j))) {
            fprintf(stderr, "values must be a JSON array or object: %s\n", je.text);
            return 1;
        }
        ce_err e = cql_session_prepare(s, cql, &p, &info);
        if (e) {
            print_error(e, &info, cql_session_errmsg(s));
            json_decref(j);
            return 2;
        }
        if (bind_json(p, j, &store, vals, names, &n)) {
            json_decref(j);
            ce_buf_free(&store);
            return 1;
        }
        if (json_is_object(j))
            q.names = names;
    }
    uint8_t *paging = NULL;
    for (;;) {
        cql_result *r = NULL;
        ce_err e = p ? cql_session_execute(s, p, vals, n, &q, &r, &info)
                     : cql_session_query(s, cql, NULL, 0, &q, &r, &info);
        if (e) {
            print_error(e, &info, cql_session_errmsg(s));
            rc = 2;
            break;
        }
        if (cql_result_kind_of(r) != CQL_RESULT_ROWS) {
            print_nonrows(r);
            cql_result_free(r);
            break;
        }
        if (print_rows(r, &line)) {
            cql_result_free(r);
            rc = 2;
            break;
        }
        bool more = cql_result_has_more_pages(r);
        if (more) {
            cql_value ps = cql_result_paging_state(r);
            free(paging);
            paging = malloc((size_t)ps.len);
            memcpy(paging, ps.ptr, (size_t)ps.len);
            q.paging_state.ptr = paging;
            q.paging_state.len = ps.len;
        }
        cql_result_free(r);
        if (!more)
            break;
    }
    free(paging);
    json_decref(j);
    ce_buf_free(&store);
    ce_buf_free(&line);
    return rc;
}

typedef struct {
    cql_future *f;
} slot;

static int cmd_exec(cql_session *s, const char *cql)
{
    cql_prepared *p;
    cql_error_info info;
    ce_err e = cql_session_prepare(s, cql, &p, &info);
    if (e) {
        print_error(e, &info, cql_session_errmsg(s));
        return 2;
    }
    cql_future **win = calloc((size_t)g_concurrency, sizeof *win);
    size_t nwin = 0, executed = 0, errors = 0;
    char *linebuf = NULL;
    size_t cap = 0;
    ce_buf store = CE_BUF_INIT;
    cql_value vals[256];
    const char *names[256];
    char first_err[600] = "";
    ssize_t len;
    bool eof = false;
    while (!eof || nwin) {
        while (!eof && nwin < (size_t)g_concurrency) {
            len = getline(&linebuf, &cap, stdin);
            if (len < 0) {
                eof = true;
                break;
            }
            if (len <= 1)
                continue;
            json_error_t je;
            json_t *j = json_loads(linebuf, 0, &je);
            size_t n;
            if (!j || bind_json(p, j, &store, vals, names, &n)) {
                fprintf(stderr, "bad line: %s", linebuf);
                json_decref(j);
                errors++;
                continue;
            }
            cql_query_opts q = g_q;
            if (json_is_object(j))
                q.names = names;
            win[nwin++] = cql_session_execute_async(s, p, vals, n, &q);
            json_decref(j);
        }
        if (!nwin)
            break;
        cql_session_run(s, 50);
        for (size_t i = 0; i < nwin;) {
            if (!cql_future_done(win[i])) {
                i++;
                continue;
            }
            if (cql_future_status(win[i])) {
                errors++;
                if (!first_err[0])
                    snprintf(first_err, sizeof first_err, "%s", cql_future_errmsg(win[i]));
            } else {
                executed++;
            }
            cql_future_free(win[i]);
            win[i] = win[--nwin];
        }
    }
    printf("{\"executed\":%zu,\"errors\":%zu", executed, errors);
    if (first_err[0]) {
        ce_buf b = CE_BUF_INIT;
        jsonw_cstr(&b, first_err);
        printf(",\"first_error\":%s", ce_buf_cstr(&b));
        ce_buf_free(&b);
    }
    printf("}\n");
    free(win);
    free(linebuf);
    ce_buf_free(&store);
    return errors ? 2 : 0;
}

/* One token range being scanned. */
typedef struct {
    cql_token_range r;
    cql_future *f;
    uint8_t *paging;
    int32_t plen;
    bool done;
} scan_range;

static cql_future *scan_next(cql_session *s, cql_prepared *p, scan_range *sr)
{
    cql_value v[2];
    uint8_t a[8], b[8];
    for (int i = 0; i < 8; i++) {
        a[i] = (uint8_t)((uint64_t)sr->r.start >> (56 - 8 * i));
        b[i] = (uint8_t)((uint64_t)sr->r.end >> (56 - 8 * i));
    }
    v[0].ptr = a;
    v[0].len = 8;
    v[1].ptr = b;
    v[1].len = 8;
    cql_query_opts q = g_q;
    if (q.page_size <= 0)
        q.page_size = 5000;
    q.paging_state.ptr = sr->paging;
    q.paging_state.len = sr->plen;
    q.has_routing_token = true; /* to the replicas of the range */
    q.routing_token = sr->r.end;
    return cql_session_execute_async(s, p, v, 2, &q);
}

static int cmd_scan(cql_session *s, const char *ks, const char *table, size_t n)
{
    cql_table_meta *m;
    ce_err e = cql_session_table_meta(s, ks, table, &m);
    if (e) {
        print_error(e, NULL, cql_session_errmsg(s));
        return 2;
    }
    ce_buf pk = CE_BUF_INIT, q = CE_BUF_INIT;
    for (size_t i = 0; i < m->npartition_keys; i++) {
        if (i)
            ce_buf_append_str(&pk, ", ");
        cql_quote_ident(&pk, m->columns[i].name);
    }
    ce_buf_append_str(&q, "SELECT * FROM ");
    cql_quote_ident(&q, ks);
    ce_buf_append_byte(&q, '.');
    cql_quote_ident(&q, table);
    ce_buf_printf(&q, " WHERE token(%s) > ? AND token(%s) <= ?", ce_buf_cstr(&pk), ce_buf_cstr(&pk));
    cql_table_meta_free(m);
    cql_prepared *p;
    cql_error_info info;
    e = cql_session_prepare(s, ce_buf_cstr(&q), &p, &info);
    ce_buf_free(&pk);
    ce_buf_free(&q);
    if (e) {
        print_error(e, &info, cql_session_errmsg(s));
        return 2;
    }
    cql_token_range *ranges;
    size_t nr;
    if (cql_session_token_ranges(s, n, &ranges, &nr))
        return 1;
    scan_range *sr = calloc(nr, sizeof *sr);
    for (size_t i = 0; i < nr; i++)
        sr[i].r = ranges[i];
    free(ranges);
    size_t next = 0, active = 0, rows = 0;
    int rc = 0;
    ce_buf line = CE_BUF_INIT;
    while ((next < nr || active) && !rc) {
        while (next < nr && active < (size_t)g_concurrency) {
            sr[next].f = scan_next(s, p, &sr[next]);
            next++;
            active++;
        }
        cql_session_run(s, 50);
        for (size_t i = 0; i < next; i++) {
            if (!sr[i].f || !cql_future_done(sr[i].f))
                continue;
            cql_result *r = NULL;
            e = cql_future_wait(sr[i].f, &r);
            if (e) {
                print_error(e, cql_future_error(sr[i].f), cql_future_errmsg(sr[i].f));
                rc = 2;
                break;
            }
            cql_future_free(sr[i].f);
            sr[i].f = NULL;
            print_rows(r, &line);
            rows += cql_result_row_count(r);
            free(sr[i].paging);
            sr[i].paging = NULL;
            if (cql_result_has_more_pages(r)) {
                cql_value ps = cql_result_paging_state(r);
                sr[i].paging = malloc((size_t)ps.len);
                memcpy(sr[i].paging, ps.ptr, (size_t)ps.len);
                sr[i].plen = ps.len;
                sr[i].f = scan_next(s, p, &sr[i]);
            } else {
                active--;
            }
            cql_result_free(r);
        }
    }
    fprintf(stderr, "{\"ranges\":%zu,\"rows\":%zu}\n", nr, rows);
    for (size_t i = 0; i < nr; i++) {
        cql_future_free(sr[i].f);
        free(sr[i].paging);
    }
    free(sr);
    ce_buf_free(&line);
    return rc;
}

static int cmd_ranges(cql_session *s, size_t n)
{
    cql_token_range *r;
    size_t nr;
    if (cql_session_token_ranges(s, n, &r, &nr))
        return 1;
    for (size_t i = 0; i < nr; i++)
        printf("[%" PRId64 ",%" PRId64 "]\n", r[i].start, r[i].end);
    free(r);
    return 0;
}

static int cmd_meta(cql_session *s, const char *ks, const char *table)
{
    cql_table_meta *m;
    ce_err e = cql_session_table_meta(s, ks, table, &m);
    if (e) {
        print_error(e, NULL, cql_session_errmsg(s));
        return 2;
    }
    static const char *roles[] = {"partition_key", "clustering", "regular", "static"};
    ce_buf b = CE_BUF_INIT;
    ce_buf_printf(&b, "{\"keyspace\":\"%s\",\"table\":\"%s\",\"partition_keys\":%zu,\"clustering\":%zu,\"columns\":[",
                  m->keyspace, m->table, m->npartition_keys, m->nclustering);
    for (size_t i = 0; i < m->ncolumns; i++) {
        const cql_column_meta *c = &m->columns[i];
        ce_buf_append_str(&b, i ? ",{\"name\":" : "{\"name\":");
        jsonw_cstr(&b, c->name);
        ce_buf_append_str(&b, ",\"type\":");
        jsonw_cstr(&b, c->type_text);
        ce_buf t = CE_BUF_INIT;
        cql_type_format(c->type, &t);
        ce_buf_append_str(&b, ",\"resolved\":");
        jsonw_cstr(&b, ce_buf_cstr(&t));
        ce_buf_free(&t);
        ce_buf_printf(&b, ",\"role\":\"%s\",\"position\":%d,\"desc\":%s}", roles[c->role], c->position,
                      c->clustering_desc ? "true" : "false");
    }
    ce_buf_append_str(&b, "]}\n");
    fwrite(b.data, 1, b.len, stdout);
    ce_buf_free(&b);
    cql_table_meta_free(m);
    return 0;
}

static int cmd_write_loop(cql_session *s, const char *ks, const char *table, long count, long ms)
{
    ce_buf q = CE_BUF_INIT;
    ce_buf_append_str(&q, "INSERT INTO ");
    cql_quote_ident(&q, ks);
    ce_buf_append_byte(&q, '.');
    cql_quote_ident(&q, table);
    ce_buf_append_str(&q, " (id, v) VALUES (?, ?)");
    cql_prepared *p;
    cql_error_info info;
    ce_err e = cql_session_prepare(s, ce_buf_cstr(&q), &p, &info);
    ce_buf_free(&q);
    if (e) {
        print_error(e, &info, cql_session_errmsg(s));
        return 2;
    }
    cql_future **win = calloc((size_t)g_concurrency, sizeof *win);
    size_t nwin = 0;
    long sent = 0, written = 0, errors = 0;
    int64_t t0 = now_ms(), last_report = t0;
    char first_err[600] = "";
    while (sent < count || nwin) {
        int64_t now = now_ms();
        long due = ms > 0 ? (long)((double)(now - t0) / (double)ms * (double)count) + 1 : count;
        if (due > count)
            due = count;
        while (sent < due && nwin < (size_t)g_concurrency) {
            uint8_t idb[4] = {(uint8_t)(sent >> 24), (uint8_t)(sent >> 16), (uint8_t)(sent >> 8), (uint8_t)sent};
            char v[32];
            int vl = snprintf(v, sizeof v, "value-%ld", sent);
            cql_value vals[2] = {{idb, 4}, {(const uint8_t *)v, vl}};
            win[nwin++] = cql_session_execute_async(s, p, vals, 2, &g_q);
            sent++;
        }
        cql_session_run(s, 20);
        for (size_t i = 0; i < nwin;) {
            if (!cql_future_done(win[i])) {
                i++;
                continue;
            }
            if (cql_future_status(win[i])) {
                errors++;
                if (!first_err[0])
                    snprintf(first_err, sizeof first_err, "%s", cql_future_errmsg(win[i]));
            } else {
                written++;
            }
            cql_future_free(win[i]);
            win[i] = win[--nwin];
        }
        now = now_ms();
        if (now - last_report >= 1000) {
            last_report = now;
            printf("{\"t\":%" PRId64 ",\"done\":%ld,\"errors\":%ld,\"up\":%zu,\"hosts\":", now - t0, written, errors,
                   cql_session_host_count(s, true));
            print_hosts(s, stdout, true);
            printf("}\n");
            fflush(stdout);
        }
    }
    printf("{\"written\":%ld,\"errors\":%ld,\"hosts\":", written, errors);
    print_hosts(s, stdout, true);
    if (first_err[0]) {
        ce_buf b = CE_BUF_INIT;
        jsonw_cstr(&b, first_err);
        printf(",\"first_error\":%s", ce_buf_cstr(&b));
        ce_buf_free(&b);
    }
    printf("}\n");
    free(win);
    return errors ? 2 : 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: ce_cql_tool [--host H] [--port P] [--proto 4|5] [--compression] [--user U --password P]\n"
                    "  [--tls --ca F [--cert C --key K] [--no-verify]] [--keyspace K] [--page-size N]\n"
                    "  [--consistency C] [--serial C] [--timeout MS] [--no-discover] [--no-token-aware] [--stats] [--routing-token T]\n"
                    "  [--concurrency N] [--timestamp USEC] [--log LEVEL] [--prepare-lazily]\n"
                    "  query CQL [JSON] | exec CQL | scan KS TABLE N | ranges N | hosts | meta KS TABLE |\n"
                    "  write-loop KS TABLE COUNT MS\n");
    return 1;
}

int main(int argc, char **argv)
{
    cql_session_opts_init(&g_opts);
    cql_query_opts_init(&g_q);
    g_q.consistency = CQL_CONSISTENCY_ONE;
    ce_log_set_level(CE_LOG_WARN);
    int i = 1;
    for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV() do { if (!v) return usage(); i++; } while (0)
        if (!strcmp(a, "--host")) { NEEDV(); if (g_nhosts < 16) g_hosts[g_nhosts++] = v; }
        else if (!strcmp(a, "--port")) { NEEDV(); g_opts.port = (uint16_t)atoi(v); }
        else if (!strcmp(a, "--proto")) { NEEDV(); g_opts.protocol_version = atoi(v); }
        else if (!strcmp(a, "--compression")) g_opts.compression = true;
        else if (!strcmp(a, "--user")) { NEEDV(); g_opts.username = v; }
        else if (!strcmp(a, "--password")) { NEEDV(); g_opts.password = v; }
        else if (!strcmp(a, "--tls")) g_opts.tls = true;
        else if (!strcmp(a, "--ca")) { NEEDV(); g_opts.tls_ca_file = v; }
        else if (!strcmp(a, "--cert")) { NEEDV(); g_opts.tls_cert_file = v; }
        else if (!strcmp(a, "--key")) { NEEDV(); g_opts.tls_key_file = v; }
        else if (!strcmp(a, "--no-verify")) g_opts.tls_no_verify = true;
        else if (!strcmp(a, "--keyspace")) { NEEDV(); g_opts.keyspace = v; }
        else if (!strcmp(a, "--page-size")) { NEEDV(); g_q.page_size = atoi(v); }
        else if (!strcmp(a, "--consistency")) { NEEDV(); int c = cql_consistency_parse(v); if (c < 0) return usage(); g_q.consistency = (cql_consistency)c; }
        else if (!strcmp(a, "--serial")) { NEEDV(); int c = cql_consistency_parse(v); if (c < 0) return usage(); g_q.serial_consistency = (cql_consistency)c; }
        else if (!strcmp(a, "--timeout")) { NEEDV(); g_opts.request_timeout_ms = atoi(v); }
        else if (!strcmp(a, "--timestamp")) { NEEDV(); g_q.timestamp = strtoll(v, NULL, 10); }
        else if (!strcmp(a, "--routing-token")) { NEEDV(); g_q.has_routing_token = true; g_q.routing_token = strtoll(v, NULL, 10); }
        else if (!strcmp(a, "--no-discover")) g_opts.discover = false;
        else if (!strcmp(a, "--no-token-aware")) g_opts.token_aware = false;
        else if (!strcmp(a, "--prepare-lazily")) g_opts.prepare_lazily = true;
        else if (!strcmp(a, "--stats")) g_stats = true;
        else if (!strcmp(a, "--concurrency")) { NEEDV(); g_concurrency = atoi(v) > 0 ? atoi(v) : 1; }
        else if (!strcmp(a, "--log")) { NEEDV(); int l = ce_log_level_parse(v); if (l >= 0) ce_log_set_level((ce_log_level)l); }
        else return usage();
#undef NEEDV
    }
    if (i >= argc)
        return usage();
    if (!g_nhosts) {
        const char *h = getenv("CE_CASSANDRA_HOST");
        g_hosts[g_nhosts++] = h && *h ? h : "127.0.0.1";
    }
    g_opts.contact_points = g_hosts;
    g_opts.ncontact_points = g_nhosts;
    const char *cmd = argv[i++];
    int left = argc - i;
    cql_session *s = NULL;
    ce_err e = cql_session_connect(&g_opts, &s);
    if (e) {
        print_error(e, NULL, cql_session_errmsg(s));
        cql_session_free(s);
        return 1;
    }
    int rc;
    if (!strcmp(cmd, "query") && left >= 1)
        rc = cmd_query(s, argv[i], left >= 2 ? argv[i + 1] : NULL);
    else if (!strcmp(cmd, "exec") && left >= 1)
        rc = cmd_exec(s, argv[i]);
    else if (!strcmp(cmd, "scan") && left >= 3)
        rc = cmd_scan(s, argv[i], argv[i + 1], (size_t)atol(argv[i + 2]));
    else if (!strcmp(cmd, "ranges") && left >= 1)
        rc = cmd_ranges(s, (size_t)atol(argv[i]));
    else if (!strcmp(cmd, "hosts")) {
        print_hosts(s, stdout, false);
        printf("\n{\"protocol\":%d}\n", cql_session_protocol_version(s));
        rc = 0;
    } else if (!strcmp(cmd, "meta") && left >= 2)
        rc = cmd_meta(s, argv[i], argv[i + 1]);
    else if (!strcmp(cmd, "write-loop") && left >= 4)
        rc = cmd_write_loop(s, argv[i], argv[i + 1], atol(argv[i + 2]), atol(argv[i + 3]));
    else
        rc = usage();
    if (g_stats) {
        fprintf(stderr, "{\"protocol\":%d,\"hosts\":", cql_session_protocol_version(s));
        print_hosts(s, stderr, false);
        fprintf(stderr, "}\n");
    }
    fflush(stdout);
    cql_session_free(s);
    return rc;
}
