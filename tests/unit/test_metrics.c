/* test_metrics.c - the Prometheus registry: text exposition (counters, histogram,
 * gauges, label escaping, line syntax), the health rule, the listen address parser and
 * the HTTP server (/metrics, /healthz) fetched with libcurl on a free port. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <regex.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "cli/metrics.h"
#include "util/log.h"
#include "version.h"

#define T0 1700000000000LL /* a fixed wall clock for the pure tests */

static char *render(metrics *m, int64_t now_ms)
{
    ce_buf b = CE_BUF_INIT;
    assert_int_equal(metrics_render(m, now_ms, &b), CE_OK);
    char *s = ce_buf_steal(&b, NULL);
    assert_non_null(s);
    return s;
}

/* The exact line `want` (without its newline) is in the text. */
static void assert_line(const char *text, const char *want)
{
    size_t n = strlen(want);
    for (const char *p = text; (p = strstr(p, want)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return;
    fail_msg("line not found: %s\n--- in ---\n%s", want, text);
}

/* Every line is a comment (# HELP / # TYPE) or `name{labels} value` per format 0.0.4. */
static void assert_syntax(const char *text)
{
    regex_t sample, comment;
    assert_int_equal(regcomp(&sample,
                             "^[a-zA-Z_:][a-zA-Z0-9_:]*"
                             "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\[\\\\\"n])*\""
                             "(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\[\\\\\"n])*\")*\\})?"
                             " ([-+]?[0-9.eE+-]+|\\+Inf|-Inf|NaN)$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    assert_int_equal(regcomp(&comment, "^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* "
                                       "(counter|gauge|histogram))$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    assert_true(text[0] && text[strlen(text) - 1] == '\n');
    char *copy = strdup(text), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        regex_t *re = line[0] == '#' ? &comment : &sample;
        if (regexec(re, line, 0, NULL, 0) != 0)
            fail_msg("bad exposition line: %s", line);
    }
    free(copy);
    regfree(&sample);
    regfree(&comment);
}

static void test_listen_parse(void **st)
{
    (void)st;
    char host[64];
    int port = -1;
    assert_int_equal(metrics_listen_parse("127.0.0.1:9464", host, sizeof host, &port), CE_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9464);
    assert_int_equal(metrics_listen_parse("[::1]:0", host, sizeof host, &port), CE_OK);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(metrics_listen_parse(":9464", host, sizeof host, &port), CE_OK);
    assert_string_equal(host, "");
    assert_int_equal(metrics_listen_parse("*:80", host, sizeof host, &port), CE_OK);
    assert_string_equal(host, "");
    assert_int_equal(metrics_listen_parse("localhost:65535", host, sizeof host, &port), CE_OK);
    assert_int_equal(port, 65535);
    const char *bad[] = {"", "9464", "host:", "host:65536", "host:12a", "::1:80", "[::1]80", "[]:80", "h:123456",
                         NULL};
    for (size_t i = 0; bad[i]; i++)
        if (metrics_listen_parse(bad[i], host, sizeof host, &port) != CE_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(metrics_listen_parse("a-very-long-host-name:1", host, 8, &port), CE_EINVAL);
}

static void test_counters(void **st)
{
    (void)st;
    metrics *m = NULL;
    assert_int_equal(metrics_new(NULL, 60, &m), CE_OK);
    assert_int_equal(metrics_port(m), 0);
    metrics_retry r1[] = {{"timeout", 2}, {"overloaded", 1}};
    metrics_pass_counts c = {.read = 100, .written = 90, .conflicts = 5, .dead_letters = 3, .deletes = 7,
                             .retries = r1, .nretries = 2};
    assert_int_equal(metrics_record_pass(m, "orders", METRICS_TO_ES, &c, 1.5, true, T0 - 5000, T0), CE_OK);
    metrics_retry r2[] = {{"timeout", 4}};
    metrics_pass_counts c2 = {.read = 1, .written = 1, .retries = r2, .nretries = 1, .error = "boom"};
    assert_int_equal(metrics_record_pass(m, "orders", METRICS_TO_ES, &c2, 0.5, false, T0, T0 + 1000), CE_OK);
    assert_int_equal(metrics_record_pass(m, "orders", METRICS_TO_CASSANDRA, NULL, 0.2, true, T0, T0 + 1000), CE_OK);
    char *text = render(m, T0 + 10000);
    assert_syntax(text);
    assert_line(text, "casselastic_build_info{version=\"" CE_VERSION "\"} 1");
    assert_line(text, "# TYPE casselastic_records_read_total counter");
    assert_line(text, "casselastic_records_read_total{sync=\"orders\",direction=\"to_es\"} 101");
    assert_line(text, "casselastic_records_read_total{sync=\"orders\",direction=\"to_cassandra\"} 0");
    assert_line(text, "casselastic_records_written_total{sync=\"orders\",direction=\"to_es\"} 91");
    assert_line(text, "casselastic_conflicts_total{sync=\"orders\",direction=\"to_es\"} 5");
    assert_line(text, "casselastic_dead_letters_total{sync=\"orders\",direction=\"to_es\"} 3");
    assert_line(text, "casselastic_deletes_total{sync=\"orders\",direction=\"to_es\"} 7");
    assert_line(text, "casselastic_pass_failures_total{sync=\"orders\",direction=\"to_es\"} 1");
    assert_line(text, "casselastic_pass_failures_total{sync=\"orders\",direction=\"to_cassandra\"} 0");
    assert_line(text, "casselastic_retries_total{sync=\"orders\",direction=\"to_es\",cause=\"timeout\"} 6");
    assert_line(text, "casselastic_retries_total{sync=\"orders\",direction=\"to_es\",cause=\"overloaded\"} 1");
    /* The failed pass does not move the checkpoint: lag counts from the first pass's window end. */
    assert_line(text, "casselastic_checkpoint_lag_seconds{sync=\"orders\",direction=\"to_es\"} 15");
    assert_line(text, "casselastic_last_success_timestamp_seconds{sync=\"orders\",direction=\"to_es\"} 1700000000");
    assert_line(text, "casselastic_checkpoint_lag_seconds{sync=\"orders\",direction=\"to_cassandra\"} 10");
    assert_line(text, "# TYPE process_cpu_seconds_total counter");
    assert_line(text, "# TYPE process_resident_memory_bytes gauge");
    assert_null(strstr(text, "process_resident_memory_bytes 0\n")); /* read from /proc/self/statm */
    free(text);
    metrics_free(m);
    metrics_free(NULL);
}

/* Declared directions and known retry causes are shown from the first scrape, at 0; a
 * declared direction without a pass is not "reported" and does not change the health rule. */
static void test_declared_series_and_causes(void **st)
{
    (void)st;
    metrics *m = NULL;
    assert_int_equal(metrics_new(NULL, 60, &m), CE_OK);
    const char *to_es[] = {"es_bulk", "es_429"}, *to_c[] = {"es_429"};
    assert_int_equal(metrics_retry_causes_set(m, METRICS_TO_ES, to_es, 2), CE_OK);
    assert_int_equal(metrics_retry_causes_set(m, METRICS_TO_CASSANDRA, to_c, 1), CE_OK);
    assert_int_equal(metrics_direction_declare(m, "orders", METRICS_TO_ES, T0), CE_OK);
    assert_int_equal(metrics_direction_declare(m, "orders", METRICS_TO_CASSANDRA, T0), CE_OK);
    assert_int_equal(metrics_direction_declare(m, "orders", METRICS_TO_ES, T0 + 5), CE_OK); /* idempotent */
    assert_int_equal(metrics_direction_declare(m, "orders", (metrics_direction)7, T0), CE_EINVAL);
    char *text = render(m, T0 + 1000);
    assert_syntax(text);
    assert_line(text, "casselastic_records_read_total{sync=\"orders\",direction=\"to_es\"} 0");
    assert_line(text, "casselastic_records_read_total{sync=\"orders\",direction=\"to_cassandra\"} 0");
    assert_line(text, "casselastic_retries_total{sync=\"orders\",direction=\"to_es\",cause=\"es_bulk\"} 0");
    assert_line(text, "casselastic_retries_total{sync=\"orders\",direction=\"to_es\",cause=\"es_429\"} 0");
    assert_line(text, "casselastic_retries_total{sync=\"orders\",direction=\"to_cassandra\",cause=\"es_429\"} 0");
    assert_null(strstr(text, "direction=\"to_cassandra\",cause=\"es_bulk\""));
    assert_line(text, "casselastic_pass_duration_seconds_count{sync=\"orders\",direction=\"to_es\"} 0");
    assert_null(strstr(text, "casselastic_last_success_timestamp_seconds{"));
    free(text);
    metrics_direction_state ds;
    metrics_direction_get(m, "orders", METRICS_TO_ES, &ds);
    assert_false(ds.reported);
    assert_int_equal(ds.registered_ms, T0);
    /* health: the grace from registration, as for a sync not declared */
    assert_true(metrics_health(m, T0 + 179000, NULL));
    ce_buf j = CE_BUF_INIT;
    assert_false(metrics_health(m, T0 + 181000, &j));
    assert_non_null(strstr(ce_buf_cstr(&j), "no pass finished"));
    ce_buf_free(&j);

    /* counted causes add up; a cause the list lacks gets its own line; a series made later
     * gets the causes too, and a new list reaches existing series */
    metrics_retry r[] = {{"es_429", 2}, {"other", 1}};
    metrics_pass_counts c = {.retries = r, .nretries = 2};
    assert_int_equal(metrics_record_pass(m, "orders", METRICS_TO_ES, &c, 1, true, T0, T0 + 2000), CE_OK);
    assert_int_equal(metrics_record_pass(m, "new", METRICS_TO_ES, NULL, 1, true, T0, T0 + 2000), CE_OK);
    const char *more[] = {"es_bulk", "es_429", "es_5xx"};
    assert_int_equal(metrics_retry_causes_set(m, METRICS_TO_ES, more, 3), CE_OK);
    text = render(m, T0 + 3000);
    assert_syntax(text);
    assert_line(text, "casselastic_retries_total{sync=\"orders\",direction=\"to_es\",cause=\"es_429\"} 2");
    assert_line(text, "casselastic_retries_total{sync=\"orders\",direction=\"to_es\",cause=\"other\"} 1");
    assert_line(text, "casselastic_retries_total{sync=\"orders\",direction=\"to_es\",cause=\"es_5xx\"} 0");
    assert_line(text, "casselastic_retries_total{sync=\"new\",direction=\"to_es\",cause=\"es_bulk\"} 0");
    assert_line(text, "casselastic_retries_total{sync=\"new\",direction=\"to_es\",cause=\"es_5xx\"} 0");
    free(text);
    metrics_direction_get(m, "orders", METRICS_TO_ES, &ds);
    assert_true(ds.reported);
    metrics_free(m);
}

/* process_start_time_seconds is when the process started (/proc), not the registry's birth. */
static void test_process_start_time(void **st)
{
    (void)st;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    metrics *m = NULL;
    assert_int_equal(metrics_new(NULL, 60, &m), CE_OK);
    char *text = render(m, T0);
    const char *p = strstr(text, "\nprocess_start_time_seconds ");
    assert_non_null(p);
    double start = strtod(p + strlen("\nprocess_start_time_seconds "), NULL);
    /* started before this test (1 s: the boot time and the clock ticks are coarse), not long ago */
    assert_true(start <= (double)now.tv_sec + 1.0);
    assert_true(start > (double)now.tv_sec - 600.0);
    free(text);
    metrics_free(m);
}

static void test_histogram(void **st)
{
    (void)st;
    metrics *m = NULL;
    assert_int_equal(metrics_new("", 60, &m), CE_OK);
    const double d[] = {0.03, 0.7, 1.0, 7, 5000};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        assert_int_equal(metrics_record_pass(m, "s", METRICS_TO_ES, NULL, d[i], true, 0, T0), CE_OK);
    char *text = render(m, T0);
    assert_syntax(text);
    assert_line(text, "# TYPE casselastic_pass_duration_seconds histogram");
#define B(le, n) "casselastic_pass_duration_seconds_bucket{sync=\"s\",direction=\"to_es\",le=\"" le "\"} " #n
    assert_line(text, B("0.05", 1));
    assert_line(text, B("0.1", 1));
    assert_line(text, B("0.5", 1));
    assert_line(text, B("1", 3)); /* le is inclusive */
    assert_line(text, B("5", 3));
    assert_line(text, B("10", 4));
    assert_line(text, B("3600", 4));
    assert_line(text, B("+Inf", 5));
#undef B
    assert_line(text, "casselastic_pass_duration_seconds_sum{sync=\"s\",direction=\"to_es\"} 5008.73");
    assert_line(text, "casselastic_pass_duration_seconds_count{sync=\"s\",direction=\"to_es\"} 5");
    /* Buckets never decrease. */
    unsigned long long prev = 0, v;
    for (const char *p = text; (p = strstr(p, "_bucket{")) != NULL; p++) {
        assert_int_equal(sscanf(strstr(p, "} ") + 2, "%llu", &v), 1);
        assert_true(v >= prev);
        prev = v;
    }
    /* No checkpoint was given: no lag sample, but the success time is there. */
    assert_null(strstr(text, "casselastic_checkpoint_lag_seconds{"));
    assert_non_null(strstr(text, "casselastic_last_success_timestamp_seconds{"));
    free(text);
    metrics_free(m);
}

static void test_label_escaping(void **st)
{
    (void)st;
    metrics *m = NULL;
    assert_int_equal(metrics_new(NULL, 60, &m), CE_OK);
    metrics_retry r[] = {{"http \"429\"", 1}};
    metrics_pass_counts c = {.read = 1, .retries = r, .nretries = 1};
    assert_int_equal(metrics_record_pass(m, "we\"ird\\name\nx", METRICS_TO_CASSANDRA, &c, 1, true, 0, T0), CE_OK);
    char *text = render(m, T0);
    assert_syntax(text);
    assert_line(text, "casselastic_records_read_total{sync=\"we\\\"ird\\\\name\\nx\",direction=\"to_cassandra\"} 1");
    assert_line(text, "casselastic_retries_total{sync=\"we\\\"ird\\\\name\\nx\",direction=\"to_cassandra\","
                      "cause=\"http \\\"429\\\"\"} 1");
    free(text);
    metrics_free(m);
}

static json_t *health_json(metrics *m, int64_t now_ms, bool *ok)
{
    ce_buf b = CE_BUF_INIT;
    *ok = metrics_health(m, now_ms, &b);
    json_error_t jerr;
    json_t *j = json_loadb(b.data, b.len, 0, &jerr);
    if (!j)
        fail_msg("health JSON does not parse: %s: %.*s", jerr.text, (int)b.len, b.data);
    ce_buf_free(&b);
    return j;
}

static void test_health_rule(void **st)
{
    (void)st;
    metrics *m = NULL;
    bool ok;
    assert_int_equal(metrics_new(NULL, 10, &m), CE_OK);
    assert_true(metrics_health(m, T0, NULL)); /* no sync: healthy */
    assert_int_equal(metrics_sync_register(m, "a", T0), CE_OK);
    assert_int_equal(metrics_sync_register(m, "b", T0), CE_OK);
    assert_int_equal(metrics_sync_register(m, "a", T0 + 5000), CE_OK); /* idempotent: keeps T0 */
    assert_true(metrics_health(m, T0 + 30000, NULL)); /* grace: three periods from registration */
    json_t *j = health_json(m, T0 + 30001, &ok);
    assert_false(ok);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "failing");
    assert_int_equal(json_integer_value(json_object_get(j, "syncs")), 2);
    assert_int_equal(json_array_size(json_object_get(j, "failing")), 2);
    json_decref(j);

    /* a passes (both directions) at T0+20s; b's to_es fails. */
    metrics_pass_counts fail = {.error = "OpenSearch unreachable"};
    metrics_record_pass(m, "a", METRICS_TO_ES, NULL, 1, true, T0, T0 + 20000);
    metrics_record_pass(m, "a", METRICS_TO_CASSANDRA, NULL, 1, true, T0, T0 + 20000);
    metrics_record_pass(m, "b", METRICS_TO_ES, &fail, 1, false, 0, T0 + 20000);
    j = health_json(m, T0 + 40000, &ok);
    assert_false(ok);
    json_t *f = json_object_get(j, "failing");
    assert_int_equal(json_array_size(f), 1);
    json_t *f0 = json_array_get(f, 0);
    assert_string_equal(json_string_value(json_object_get(f0, "sync")), "b");
    assert_string_equal(json_string_value(json_object_get(f0, "direction")), "to_es");
    assert_string_equal(json_string_value(json_object_get(f0, "last_error")), "OpenSearch unreachable");
    assert_non_null(strstr(json_string_value(json_object_get(f0, "reason")), "no successful pass"));
    json_decref(j);

    /* b recovers; at T0+50s a (last success T0+20s) is exactly at the limit, then past it. */
    metrics_record_pass(m, "b", METRICS_TO_ES, NULL, 1, true, T0, T0 + 45000);
    j = health_json(m, T0 + 50000, &ok);
    assert_true(ok);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    json_decref(j);
    j = health_json(m, T0 + 50001, &ok);
    assert_false(ok);
    f = json_object_get(j, "failing");
    assert_int_equal(json_array_size(f), 2); /* a in both directions */
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(f, 0), "reason")), "last successful"));
    assert_true(json_is_null(json_object_get(json_array_get(f, 0), "last_error")));
    json_decref(j);

    /* A pass longer than the period stretches the limit to three of its durations. */
    metrics_record_pass(m, "a", METRICS_TO_ES, NULL, 40, true, T0, T0 + 60000);
    metrics_record_pass(m, "a", METRICS_TO_CASSANDRA, NULL, 40, true, T0, T0 + 60000);
    assert_true(metrics_health(m, T0 + 60000 + 100000, NULL) == false); /* b is stale by then */
    metrics_sync_unregister(m, "b");
    /* A failed pass, however long, does not stretch it: the limit is that of passes that work. */
    metrics_record_pass(m, "a", METRICS_TO_ES, &fail, 1000, false, 0, T0 + 60000 + 1000);
    assert_true(metrics_health(m, T0 + 60000 + 120000, NULL));
    assert_false(metrics_health(m, T0 + 60000 + 120001, NULL));
    /* A longer period (set at reload) relaxes the rule. */
    metrics_set_period(m, 100);
    assert_true(metrics_health(m, T0 + 60000 + 300000, NULL));
    char *text = render(m, T0);
    assert_null(strstr(text, "sync=\"b\"")); /* unregistered: its series are gone */
    free(text);
    metrics_free(m);
}

/* A running pass that makes progress keeps its sync healthy past the limit (an initial load),
 * and the syncs waiting for their turn whose last pass succeeded; a failed sync is not
 * excused; stalled progress is no progress; recording the pass ends its own exemption. */
static void test_health_progress(void **st)
{
    (void)st;
    metrics *m = NULL;
    assert_int_equal(metrics_new(NULL, 10, &m), CE_OK);
    assert_int_equal(metrics_sync_register(m, "load", T0), CE_OK);
    assert_int_equal(metrics_sync_register(m, "other", T0), CE_OK);
    metrics_record_pass(m, "other", METRICS_TO_ES, NULL, 1, true, T0, T0 + 1000);
    assert_int_equal(metrics_progress_ms(m, "load"), 0);
    assert_false(metrics_health(m, T0 + 31000, NULL)); /* no pass of "load" within 30 s */
    metrics_note_progress(m, "load", T0 + 31000);
    assert_int_equal(metrics_progress_ms(m, "load"), T0 + 31000);
    /* "other" (last success T0+1s) waits for "load"'s pass: held back, not failing */
    assert_true(metrics_health(m, T0 + 32000, NULL));
    assert_true(metrics_health(m, T0 + 61000, NULL));  /* progress 30 s ago: at the limit */
    assert_false(metrics_health(m, T0 + 61001, NULL)); /* stalled: both fail */
    metrics_note_progress(m, "load", T0 + 3600000);    /* an hour-long load, still moving */
    assert_true(metrics_health(m, T0 + 3610000, NULL));
    /* a sync whose last pass failed is not excused by the others' work */
    metrics_pass_counts fail = {.error = "x"};
    metrics_record_pass(m, "other", METRICS_TO_ES, &fail, 1, false, 0, T0 + 3611000);
    assert_false(metrics_health(m, T0 + 3612000, NULL));
    metrics_record_pass(m, "other", METRICS_TO_ES, NULL, 1, true, T0, T0 + 3613000);
    assert_true(metrics_health(m, T0 + 3614000, NULL));
    /* "load" recorded (failed): its own exemption ends, and a failed pass is not excused */
    metrics_record_pass(m, "load", METRICS_TO_ES, &fail, 3600, false, 0, T0 + 3615000);
    assert_int_equal(metrics_progress_ms(m, "load"), 0);
    assert_false(metrics_health(m, T0 + 3616000, NULL));
    /* a scheduled verify notes progress for every sync: all held back, none failing */
    metrics_note_progress(m, NULL, T0 + 3700000);
    assert_int_equal(metrics_progress_ms(m, "load"), T0 + 3700000);
    assert_int_equal(metrics_progress_ms(m, "other"), T0 + 3700000);
    assert_true(metrics_health(m, T0 + 3701000, NULL));
    metrics_free(m);
}

/* ------------------------------------------------------------------ over HTTP */

typedef struct {
    long status;
    char *content_type;
    ce_buf body;
} http_reply;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    ce_buf_append(&((http_reply *)ud)->body, p, size * n);
    return size * n;
}

static void http_do(int port, const char *method, const char *path, http_reply *r)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("GET %s: %s", url, curl_easy_strerror(rc));
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    r->content_type = ct ? strdup(ct) : NULL;
    curl_easy_cleanup(c);
    ce_buf_cstr(&r->body);
}

static void http_reply_free(http_reply *r)
{
    free(r->content_type);
    ce_buf_free(&r->body);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_http_server(void **st)
{
    (void)st;
    metrics *m = NULL;
    assert_int_equal(metrics_new("127.0.0.1:0", 60, &m), CE_OK);
    int port = metrics_port(m);
    assert_true(port > 0);
    metrics_pass_counts c = {.read = 42, .written = 41};
    metrics_record_pass(m, "orders", METRICS_TO_ES, &c, 2, true, now_ms() - 3000, now_ms());

    http_reply r;
    http_do(port, "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert_syntax(r.body.data);
    assert_line(r.body.data, "casselastic_records_read_total{sync=\"orders\",direction=\"to_es\"} 42");
    http_reply_free(&r);

    http_do(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/json");
    assert_non_null(strstr(r.body.data, "\"status\":\"ok\""));
    http_reply_free(&r);

    /* A sync registered an hour ago that never passed: 503 naming it. */
    metrics_sync_register(m, "stale", now_ms() - 3600 * 1000);
    http_do(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 503);
    json_error_t jerr;
    json_t *j = json_loads(r.body.data, 0, &jerr);
    assert_non_null(j);
    json_t *f0 = json_array_get(json_object_get(j, "failing"), 0);
    assert_string_equal(json_string_value(json_object_get(f0, "sync")), "stale");
    json_decref(j);
    http_reply_free(&r);

    http_do(port, "GET", "/nope", &r);
    assert_int_equal(r.status, 404);
    http_reply_free(&r);
    http_do(port, "POST", "/metrics", &r);
    assert_int_equal(r.status, 405);
    http_reply_free(&r);

    /* The same port again: refused with a reason. */
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    metrics *m2 = NULL;
    assert_int_equal(metrics_new(addr, 60, &m2), CE_EIO);
    assert_non_null(strstr(metrics_errmsg(m2), "cannot listen on"));
    metrics_free(m2);
    assert_int_equal(metrics_new("nonsense", 60, &m2), CE_EINVAL);
    assert_non_null(strstr(metrics_errmsg(m2), "bad listen address"));
    metrics_free(m2);
    metrics_free(m);
}

int main(void)
{
    ce_log_set_level(CE_LOG_OFF);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_parse),   cmocka_unit_test(test_counters),
        cmocka_unit_test(test_histogram),      cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_health_progress),
        cmocka_unit_test(test_health_rule),    cmocka_unit_test(test_http_server),
        cmocka_unit_test(test_declared_series_and_causes), cmocka_unit_test(test_process_start_time),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
