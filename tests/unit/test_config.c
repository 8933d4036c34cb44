/* test_config.c - config loading: PyCassElastic's formats accepted unchanged, defaults,
 * our extensions, and every kind of refusal reported with its JSON path. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/config_load.h"
#include "sync/sync_int.h"

#define CONFIGS CE_TEST_DATA_DIR "/configs/"

/* Load a fixture; returns the error, problems in *p (caller frees). */
static ce_err load(const char *name, sync_config *c, cli_config_problems *p)
{
    char path[1024];
    snprintf(path, sizeof path, CONFIGS "%s", name);
    memset(p, 0, sizeof *p);
    return cli_config_load_file(path, NULL, c, p);
}

static ce_err load_str(const char *text, sync_config *c, cli_config_problems *p)
{
    memset(p, 0, sizeof *p);
    return cli_config_load_text(text, strlen(text), "/base", c, p);
}

/* Is there a problem whose formatted text contains every given fragment? */
static bool has_problem(const cli_config_problems *p, const char *path, const char *fragment)
{
    ce_buf b = CE_BUF_INIT;
    bool found = false;
    for (size_t i = 0; i < p->n && !found; i++) {
        ce_buf_reset(&b);
        cli_config_problem_format(&p->v[i], &b);
        const char *t = ce_buf_cstr(&b);
        found = (!path || (p->v[i].path && strcmp(p->v[i].path, path) == 0)) && strstr(t, fragment);
    }
    if (!found) {
        fprintf(stderr, "expected problem %s: ...%s... among:\n", path ? path : "(any)", fragment);
        for (size_t i = 0; i < p->n; i++) {
            ce_buf_reset(&b);
            cli_config_problem_format(&p->v[i], &b);
            fprintf(stderr, "  %s\n", ce_buf_cstr(&b));
        }
    }
    ce_buf_free(&b);
    return found;
}

static void test_pyce_readme_example(void **st)
{
    (void)st;
    sync_config c;
    cli_config_problems p;
    assert_int_equal(load("pyce_readme.json", &c, &p), CE_OK);
    assert_int_equal(p.nerrors, 0);
    /* The README's example lacks its final '}': accepted, with a warning. */
    assert_int_equal(p.nwarnings, 1);
    assert_true(has_problem(&p, NULL, "assumed the missing \"}\""));
    assert_true(c.period_s == 1.0);
    assert_int_equal(c.cassandra.nhosts, 1);
    assert_string_equal(c.cassandra.hosts[0], "localhost");
    assert_int_equal(c.cassandra.port, 9042);
    assert_string_equal(c.es.urls[0], "http://localhost:9200");
    assert_int_equal(c.nsyncs, 1);
    sync_def *s = &c.syncs[0];
    assert_string_equal(s->name, "sync_name1");
    assert_string_equal(s->comments, "from cassandra to elastic");
    assert_string_equal(s->id_col, "id");
    assert_string_equal(s->date_col, "date");
    assert_string_equal(s->version_col, "version");
    assert_true(s->filter_date);
    assert_true(s->ignore_same_source);
    assert_string_equal(s->keyspace, "test");
    assert_string_equal(s->table, "bogus");
    assert_string_equal(s->cassandra_source_id, "cassandra");
    assert_string_equal(s->index, "bogus_index");
    assert_string_equal(s->type, "bogusdoc");
    assert_string_equal(s->es_source_id, "Elastic");
    /* state lives beside the config, like lastruntime.log did */
    assert_non_null(strstr(c.state_dir, "/tests/unit/data/configs"));
    assert_non_null(strstr(c.dead_letter_path, "/tests/unit/data/configs/casselastic.deadletter.jsonl"));
    assert_non_null(c.config_path);
    sync_config_free(&c);
    cli_config_problems_free(&p);
}

static void test_pyce_old_test_config(void **st)
{
    (void)st;
    sync_config c;
    cli_config_problems p;
    assert_int_equal(load("pyce_test_config.json", &c, &p), CE_OK);
    assert_int_equal(p.n, 0);
    assert_true(c.period_s == 60.0);
    assert_int_equal(c.nsyncs, 2);
    for (size_t i = 0; i < 2; i++) {
        sync_def *s = &c.syncs[i];
        /* id_col/date_col/version_col inside "cassandra"; "table": "keyspace.table" */
        assert_string_equal(s->id_col, "id");
        assert_string_equal(s->date_col, "date");
        assert_string_equal(s->version_col, "version");
        assert_string_equal(s->keyspace, "test");
        assert_string_equal(s->table, i ? "bogus2" : "bogus");
        assert_string_equal(s->es_source_id, "elasticsearch");
        assert_string_equal(s->source_field, "source");
        assert_int_equal(s->direction, SYNC_DIR_BOTH);
        assert_int_equal(s->read_mode, SYNC_READ_AUTO);
        assert_int_equal(s->version_unit_us, 1000);
        assert_int_equal(s->page_size, 20000);
        assert_int_equal(s->bulk_max_bytes, 5 * 1024 * 1024);
        assert_int_equal(s->safety_lag_ms, 0);
        assert_int_equal(s->overlap_ms, 60000);
        assert_true(s->delete_old_versions && s->create_index && s->alter_table);
        assert_false(s->filter_date);
    }
    assert_string_equal(c.syncs[1].type, "bogusdoc2");
    assert_string_equal(c.cassandra.read_consistency, "local_quorum");
    assert_int_equal(c.cassandra.request_timeout_ms, 12000);
    assert_int_equal(c.es.request_timeout_ms, 60000);
    assert_string_equal(c.log_level, "info");
    assert_null(c.log_file);
    sync_config_free(&c);
    cli_config_problems_free(&p);
}

static void test_issue_example(void **st)
{
    (void)st;
    sync_config c;
    cli_config_problems p;
    assert_int_equal(load("issue_example.json", &c, &p), CE_OK);
    assert_int_equal(p.n, 0);
    assert_string_equal(c.syncs[0].es_source_id, "elastic");
    assert_string_equal(c.syncs[0].table, "bogus");
    assert_string_equal(c.syncs[0].keyspace, "test");
    sync_config_free(&c);
    cli_config_problems_free(&p);
}

static void test_full_extensions(void **st)
{
    (void)st;
    setenv("CE_TEST_CASS_PW", "s3cret", 1);
    setenv("CE_TEST_ES_KEY", "k3y", 1);
    sync_config c;
    cli_config_problems p;
    assert_int_equal(load("full.json", &c, &p), CE_OK);
    assert_int_equal(p.nerrors, 0);
    assert_true(c.period_s == 30.5);
    assert_int_equal(c.cassandra.nhosts, 2);
    assert_string_equal(c.cassandra.hosts[1], "10.0.0.2");
    assert_int_equal(c.cassandra.port, 9142);
    assert_string_equal(c.cassandra.password, "s3cret");
    assert_true(c.cassandra.tls);
    assert_true(c.cassandra.tls_no_verify);
    assert_non_null(strstr(c.cassandra.tls_ca_file, "/tests/unit/data/configs/certs/ca.pem"));
    assert_string_equal(c.cassandra.read_consistency, "local_one");
    assert_int_equal(c.cassandra.protocol_version, 4);
    assert_true(c.cassandra.compression);
    assert_string_equal(c.es.urls[0], "https://es.example.com:9200");
    assert_string_equal(c.es.api_key, "k3y");
    assert_false(c.es.tls_no_verify);
    assert_non_null(strstr(c.state_dir, "/tests/unit/data/configs/state"));
    assert_non_null(strstr(c.dead_letter_path, "/configs/state/casselastic.deadletter.jsonl"));
    assert_non_null(strstr(c.log_file, "/configs/logs/casselastic.log"));
    sync_def *s = &c.syncs[0];
    assert_string_equal(s->id_col, "tenant,order_id");
    assert_int_equal(s->direction, SYNC_DIR_TO_ES);
    assert_int_equal(s->read_mode, SYNC_READ_BUCKETS);
    assert_string_equal(s->bucket_col, "hour");
    assert_int_equal(s->bucket_seconds, 3600);
    assert_int_equal(s->version_unit_us, 1);
    assert_string_equal(s->keyspace, "other_ks");
    assert_string_equal(s->table, "orders");
    assert_int_equal(s->scan_ranges, 128);
    assert_false(s->delete_old_versions || s->create_index || s->alter_table);
    assert_string_equal(s->source_field, "origin");
    assert_string_equal(c.syncs[1].id_col, "a,b");
    assert_string_equal(c.syncs[1].keyspace, "crm");
    sync_config_free(&c);
    cli_config_problems_free(&p);

    /* --state-dir moves the state and the default dead-letter file with it */
    memset(&p, 0, sizeof p);
    assert_int_equal(cli_config_load_file(CONFIGS "full.json", "/tmp/ce-state-x", &c, &p), CE_OK);
    assert_string_equal(c.state_dir, "/tmp/ce-state-x");
    assert_string_equal(c.dead_letter_path, "/tmp/ce-state-x/casselastic.deadletter.jsonl");
    sync_config_free(&c);
    cli_config_problems_free(&p);
    unsetenv("CE_TEST_CASS_PW");
    unsetenv("CE_TEST_ES_KEY");
}

static void test_syntax_error_line_column(void **st)
{
    (void)st;
    sync_config c;
    cli_config_problems p;
    assert_int_equal(load("err_syntax.json", &c, &p), CE_ECONFIG);
    assert_int_equal(p.nerrors, 1);
    assert_int_equal(p.v[0].line, 5);
    assert_int_equal(p.v[0].column, 9);
    assert_true(has_problem(&p, NULL, "line 5, column 9: JSON syntax error"));
    cli_config_problems_free(&p);

    /* Comments do not move positions: the error after a comment keeps its column. */
    assert_int_equal(load_str("{ # comment with \"quote\n  \"period\": 1,, \n}", &c, &p), CE_ECONFIG);
    assert_int_equal(p.v[0].line, 2);
    assert_int_equal(p.v[0].column, 15);
    cli_config_problems_free(&p);

    /* Duplicate keys are refused by the parser. */
    assert_int_equal(load_str("{\"period\": 1, \"period\": 2}", &c, &p), CE_ECONFIG);
    assert_true(has_problem(&p, NULL, "duplicate"));
    cli_config_problems_free(&p);

    /* A '#' inside a string is data, not a comment. */
    assert_int_equal(load_str("[\"a#b\"]", &c, &p), CE_ECONFIG);
    assert_true(has_problem(&p, NULL, "expected an object"));
    cli_config_problems_free(&p);

    /* A file cut inside a string is not "repaired". */
    assert_int_equal(load_str("{\"period\": 1, \"cassandra\": {\"url\": \"loc", &c, &p), CE_ECONFIG);
    assert_int_equal(p.nwarnings, 0);
    cli_config_problems_free(&p);
}

static void test_strip_comments(void **st)
{
    (void)st;
    char t[] = "{\"a#\": 1, # x \"y\"\n \"b\": [2 # ]\n]";
    char unclosed[8];
    cli_jsonc_strip(t, strlen(t), unclosed, sizeof unclosed);
    assert_string_equal(t, "{\"a#\": 1, "
                          "       "
                          "\n \"b\": [2    \n]");
    assert_string_equal(unclosed, "}");
    char t2[] = "{\"s\": \"esc\\\"#not\"} # c";
    cli_jsonc_strip(t2, strlen(t2), unclosed, sizeof unclosed);
    assert_string_equal(t2, "{\"s\": \"esc\\\"#not\"}    ");
    assert_string_equal(unclosed, "");
}

static void test_many_errors_with_paths(void **st)
{
    (void)st;
    sync_config c;
    cli_config_problems p;
    assert_int_equal(load("err_many.json", &c, &p), CE_ECONFIG);
    assert_true(has_problem(&p, "period", "expected a number, got a string"));
    assert_true(has_problem(&p, "cassandra.port", "between 1 and 65535 (got 70000)"));
    assert_true(has_problem(&p, "elasticsearch.tls", "expected an object or true/false"));
    assert_true(has_problem(&p, "sycns", "unknown key (did you mean \"syncs\"?)"));
    assert_true(has_problem(&p, "syncs[0].direction", "bad value \"to_elastic\""));
    assert_true(has_problem(&p, "syncs[0].read_mode", "did you mean \"full_scan\"?"));
    assert_true(has_problem(&p, "syncs[0].cassandra.tabel", "unknown key (did you mean \"table\"?)"));
    assert_true(has_problem(&p, "syncs[0].cassandra.table", "missing required key"));
    assert_true(has_problem(&p, "syncs[1].version_col", "expected a string, got an integer"));
    assert_true(has_problem(&p, "syncs[1].table", "did you mean \"cassandra.table\"?"));
    assert_true(has_problem(&p, "syncs[1].id_col", "missing required key"));
    assert_true(has_problem(&p, "syncs[1].name", "duplicate sync name \"a\""));
    assert_true(has_problem(&p, "syncs[1].elasticsearch.source_id", "must differ"));
    assert_int_equal(p.nerrors, 13);
    /* refused config is zeroed */
    assert_null(c.syncs);
    assert_int_equal(c.nsyncs, 0);
    cli_config_problems_free(&p);
}

static void test_missing_keys(void **st)
{
    (void)st;
    sync_config c;
    cli_config_problems p;
    assert_int_equal(load("err_missing.json", &c, &p), CE_ECONFIG);
    assert_true(has_problem(&p, "elasticsearch", "missing required key"));
    assert_true(has_problem(&p, "cassandra.url", "missing required key"));
    assert_true(has_problem(&p, "syncs[0].name", "missing required key"));
    assert_true(has_problem(&p, "syncs[0].id_col", "missing required key"));
    assert_true(has_problem(&p, "syncs[0].version_col", "missing required key"));
    assert_true(has_problem(&p, "syncs[0].cassandra.table", "missing required key"));
    assert_true(has_problem(&p, "syncs[0].elasticsearch.index", "missing required key"));
    cli_config_problems_free(&p);

    assert_int_equal(load_str("{\"cassandra\": {\"url\": []}, \"elasticsearch\": {\"url\": \"x\"}, \"syncs\": []}", &c, &p),
                     CE_ECONFIG);
    assert_true(has_problem(&p, "cassandra.url", "at least one host"));
    assert_true(has_problem(&p, "syncs", "at least one sync"));
    cli_config_problems_free(&p);
}

#define BASE_PREFIX "{\"cassandra\": {\"url\": \"h\", \"keyspace\": \"k\"}, \"elasticsearch\": {\"url\": \"e\"}, "
#define ONE_SYNC(extra) \
    BASE_PREFIX "\"syncs\": [{\"name\": \"s\", \"id_col\": \"id\", \"version_col\": \"v\", " extra \
    "\"cassandra\": {\"table\": \"t\"}, \"elasticsearch\": {\"index\": \"i\"}}]}"

static void test_bad_values(void **st)
{
    (void)st;
    sync_config c;
    cli_config_problems p;
    struct {
        const char *text, *path, *fragment;
    } cases[] = {
        {ONE_SYNC("\"version_unit\": \"ns\","), "syncs[0].version_unit", "bad value \"ns\""},
        {ONE_SYNC("\"page_size\": 0,"), "syncs[0].page_size", "between 1 and 100000 (got 0)"},
        {ONE_SYNC("\"page_size\": 1.5,"), "syncs[0].page_size", "expected an integer, got a number"},
        {ONE_SYNC("\"filter_date\": \"yes\","), "syncs[0].filter_date", "expected true or false"},
        {ONE_SYNC("\"read_mode\": \"buckets\","), "syncs[0].bucket.column", "read_mode \"buckets\""},
        {ONE_SYNC("\"bucket\": {\"colum\": \"h\"},"), "syncs[0].bucket.colum", "did you mean \"column\"?"},
        {ONE_SYNC("\"bucket\": {\"format\": \"hours\"},"), "syncs[0].bucket.format", "no % conversion"},
        {BASE_PREFIX "\"syncs\": [{\"name\": \"s\", \"id_col\": \"a,,b\", \"version_col\": \"v\"}]}",
         "syncs[0].id_col", "empty column name"},
        {BASE_PREFIX "\"syncs\": [{\"name\": \"s\", \"id_col\": [], \"version_col\": \"v\"}]}", "syncs[0].id_col",
         "expected a column name or a list"},
        {BASE_PREFIX "\"syncs\": [{\"name\": \"s\", \"id_col\": \"id\", \"version_col\": \"v\", \"cassandra\": "
                     "{\"table\": \"t\", \"id_col\": \"other\"}, \"elasticsearch\": {\"index\": \"i\"}}]}",
         "syncs[0].cassandra.id_col", "conflicts with syncs[0].id_col (set only one"},
        {ONE_SYNC("\"direction\": 3,"), "syncs[0].direction", "expected a string"},
        {ONE_SYNC("\"name\": \"s\","), NULL, "duplicate"},
        {BASE_PREFIX "\"syncs\": {}}", "syncs", "expected a list of syncs"},
        {BASE_PREFIX "\"syncs\": [3]}", "syncs[0]", "expected an object, got an integer"},
        {BASE_PREFIX "\"period\": -1, \"syncs\": [3]}", "period", "between 0 and 604800"},
        {BASE_PREFIX "\"log_level\": \"verbose\", \"syncs\": [3]}", "log_level", "bad value \"verbose\""},
        /* token_field and deleted_col: a field of their own, not one the sync gives a job */
        {ONE_SYNC("\"token_field\": \"v\","), "syncs[0].token_field", "\"v\" is already the version_col"},
        {ONE_SYNC("\"token_field\": \"id\","), "syncs[0].token_field", "\"id\" is already the id_col"},
        {ONE_SYNC("\"token_field\": \"source\","), "syncs[0].token_field", "is already the source_field"},
        {ONE_SYNC("\"deleted_col\": \"gone\", \"token_field\": \"gone\","), "syncs[0].token_field",
         "\"gone\" is already the deleted_col"},
        {ONE_SYNC("\"deleted_col\": \"v\","), "syncs[0].deleted_col", "\"v\" is already the version_col"},
        {ONE_SYNC("\"deleted_col\": \"\","), "syncs[0].deleted_col", "must name a column"},
        /* durations: a bad unit is named as such; strtod's "nan" / "inf" are no durations */
        {BASE_PREFIX "\"verify_every\": \"2x\", \"syncs\": [3]}", "verify_every", "not a duration (\"2x\""},
        {BASE_PREFIX "\"period\": \"nans\", \"syncs\": [3]}", "period", "not a duration (\"nans\""},
        {BASE_PREFIX "\"verify_every\": \"nanh\", \"syncs\": [3]}", "verify_every", "not a duration"},
        {BASE_PREFIX "\"verify_every\": \"infd\", \"syncs\": [3]}", "verify_every", "not a duration"},
        {BASE_PREFIX "\"verify_every\": \"-1h\", \"syncs\": [3]}", "verify_every", "not a duration"},
        {"{\"cassandra\": {\"url\": [\"a:1\", \"b:2\"]}, \"elasticsearch\": {\"url\": \"e\"}, \"syncs\": [3]}",
         "cassandra.url[1]", "all hosts use one port"},
        {"{\"cassandra\": {\"url\": \"a:x\"}, \"elasticsearch\": {\"url\": \"ftp://e\"}, \"syncs\": [3]}",
         "cassandra.url[0]", "bad host"},
        {"{\"cassandra\": {\"url\": \"a\"}, \"elasticsearch\": {\"url\": \"ftp://e\"}, \"syncs\": [3]}",
         "elasticsearch.url[0]", "bad URL"},
        {"{\"cassandra\": {\"url\": \"a\", \"protocol_version\": 2}, \"elasticsearch\": {\"url\": \"e\"}, \"syncs\": [3]}",
         "cassandra.protocol_version", "must be 4, 5 or 0 (auto"},
        /* v3 is refused by the client at connect: check refuses it first */
        {"{\"cassandra\": {\"url\": \"a\", \"protocol_version\": 3}, \"elasticsearch\": {\"url\": \"e\"}, \"syncs\": [3]}",
         "cassandra.protocol_version", "must be 4, 5 or 0 (auto: v5, then v4), got 3"},
        {"{\"cassandra\": {\"url\": \"a\"}, \"elasticsearch\": {\"url\": \"e\"}, \"syncs\": [{\"name\": \"s\", "
         "\"id_col\": \"id\", \"version_col\": \"v\", \"cassandra\": {\"table\": \"t\"}, \"elasticsearch\": "
         "{\"index\": \"i\"}}]}",
         "syncs[0].cassandra.table", "no keyspace"},
        {"{\"cassandra\": {\"url\": \"a\", \"tls\": {\"cert_file\": \"c.pem\"}}, \"elasticsearch\": {\"url\": \"e\"}, "
         "\"syncs\": [3]}",
         "cassandra.tls.key_file", "go together"},
        {"{\"cassandra\": {\"url\": \"a\"}, \"elasticsearch\": {\"url\": \"e\", \"api_key\": \"k\", \"bearer_token\": "
         "\"t\"}, \"syncs\": [3]}",
         "elasticsearch", "choose one"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ce_err err = load_str(cases[i].text, &c, &p);
        if (err != CE_ECONFIG || !has_problem(&p, cases[i].path, cases[i].fragment)) {
            fprintf(stderr, "case %zu failed: %s\n", i, cases[i].text);
            fail();
        }
        cli_config_problems_free(&p);
    }
    /* durations with a unit, fractions included */
    assert_int_equal(load_str(BASE_PREFIX "\"verify_every\": \"1.5h\", \"period\": \"2m\", "
                                          "\"syncs\": [{\"name\": \"s\", \"id_col\": \"id\", \"version_col\": \"v\", "
                                          "\"cassandra\": {\"table\": \"t\"}, \"elasticsearch\": {\"index\": \"i\"}}]}",
                              &c, &p),
                     CE_OK);
    assert_true(c.verify_every_s == 5400.0);
    assert_true(c.period_s == 120.0);
    sync_config_free(&c);
    cli_config_problems_free(&p);
    /* The fixed example itself is valid: the cases fail for their one reason. */
    assert_int_equal(load_str(ONE_SYNC(""), &c, &p), CE_OK);
    assert_string_equal(c.cassandra.hosts[0], "h");
    assert_string_equal(c.es.urls[0], "http://e:9200");
    assert_string_equal(c.state_dir, "/base");
    sync_config_free(&c);
    cli_config_problems_free(&p);
}

static void test_urls_and_tls_shorthand(void **st)
{
    (void)st;
    sync_config c;
    cli_config_problems p;
    const char *t = "{\"cassandra\": {\"url\": [\"[::1]:9043\", \"host2\"], \"keyspace\": \"k\", \"tls\": true},"
                    " \"elasticsearch\": {\"url\": [\"http://a:9201/\", \"b:9300\", \"HTTPS://c\", \"::1\"]},"
                    " \"syncs\": [{\"name\": \"s\", \"id_col\": [\"a\", \" b \"], \"version_col\": \"v\","
                    " \"cassandra\": {\"table\": \"t\"}, \"elasticsearch\": {\"index\": \"i\"}}]}";
    assert_int_equal(load_str(t, &c, &p), CE_OK);
    assert_string_equal(c.cassandra.hosts[0], "::1");
    assert_string_equal(c.cassandra.hosts[1], "host2");
    assert_int_equal(c.cassandra.port, 9043);
    assert_true(c.cassandra.tls);
    assert_string_equal(c.es.urls[0], "http://a:9201");
    assert_string_equal(c.es.urls[1], "http://b:9300");
    assert_string_equal(c.es.urls[2], "HTTPS://c");
    assert_string_equal(c.es.urls[3], "http://[::1]:9200");
    assert_string_equal(c.syncs[0].id_col, "a,b");
    sync_config_free(&c);
    cli_config_problems_free(&p);
}

static void test_env_secrets(void **st)
{
    (void)st;
    sync_config c;
    cli_config_problems p;
    unsetenv("CE_TEST_UNIT_PW");
    unsetenv("CE_TEST_UNIT_ES_PW");
    assert_int_equal(load("env_secret.json", &c, &p), CE_ECONFIG);
    assert_true(has_problem(&p, "cassandra.password_env", "environment variable CE_TEST_UNIT_PW is not set"));
    assert_true(has_problem(&p, "elasticsearch.password_env", "CE_TEST_UNIT_ES_PW is not set"));
    cli_config_problems_free(&p);

    setenv("CE_TEST_UNIT_PW", "pw1", 1);
    setenv("CE_TEST_UNIT_ES_PW", "pw2", 1);
    assert_int_equal(load("env_secret.json", &c, &p), CE_OK);
    assert_string_equal(c.cassandra.password, "pw1");
    assert_string_equal(c.es.password, "pw2");
    assert_string_equal(c.es.urls[0], "http://127.0.0.1:9200");
    /* secrets never printed by check --effective */
    ce_buf b = CE_BUF_INIT;
    assert_int_equal(cli_config_value_format(&c, cli_config_key_find("cassandra.password"), 0, &b), CE_OK);
    assert_string_equal(ce_buf_cstr(&b), "***");
    ce_buf_free(&b);
    sync_config_free(&c);
    cli_config_problems_free(&p);

    /* a password and a password_env: refused */
    assert_int_equal(load_str("{\"cassandra\": {\"url\": \"a\", \"password\": \"x\", \"password_env\": "
                              "\"CE_TEST_UNIT_PW\"}, \"elasticsearch\": {\"url\": \"e\"}, \"syncs\": [3]}",
                              &c, &p),
                     CE_ECONFIG);
    assert_true(has_problem(&p, "cassandra.password_env", "conflicts with cassandra.password"));
    cli_config_problems_free(&p);
    unsetenv("CE_TEST_UNIT_PW");
    unsetenv("CE_TEST_UNIT_ES_PW");
}

static void test_legacy_ignored_key_warns(void **st)
{
    (void)st;
    sync_config c;
    cli_config_problems p;
    const char *t = BASE_PREFIX "\"syncs\": [{\"name\": \"s\", \"cassandra\": {\"table\": \"t\", \"fields_list\": "
                                "\"*\", \"id_col\": \"id\", \"version_col\": \"v\"}, \"elasticsearch\": {\"index\": "
                                "\"i\"}}]}";
    assert_int_equal(load_str(t, &c, &p), CE_OK);
    assert_int_equal(p.nwarnings, 1);
    assert_true(has_problem(&p, "syncs[0].cassandra.fields_list", "ignored"));
    sync_config_free(&c);
    cli_config_problems_free(&p);
}

static void test_reference_covers_every_key(void **st)
{
    (void)st;
    ce_buf ref = CE_BUF_INIT;
    assert_int_equal(cli_config_reference(&ref), CE_OK);
    const char *r = ce_buf_cstr(&ref);
    FILE *f = fopen(CE_TEST_DATA_DIR "/../../../docs/config.md", "rb");
    assert_non_null(f);
    ce_buf doc = CE_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ce_buf_append(&doc, chunk, n);
    fclose(f);
    const char *d = ce_buf_cstr(&doc);
    size_t nkeys;
    const cli_config_key *keys = cli_config_keys(&nkeys);
    for (size_t i = 0; i < nkeys; i++) {
        char needle[160];
        snprintf(needle, sizeof needle, "| `%s` |", keys[i].path);
        assert_non_null(strstr(r, needle));
        if (!strstr(d, needle)) {
            fprintf(stderr, "docs/config.md lacks %s: regenerate with `casselastic config-reference`\n",
                    keys[i].path);
            fail();
        }
    }
    /* The generated table is in the doc verbatim. */
    assert_non_null(strstr(d, r));
    ce_buf_free(&ref);
    ce_buf_free(&doc);
}

/* Every prefix of a valid config must be refused or accepted without crashing or
 * leaking (ASan build), as must byte flips. */
static void test_truncations_and_flips(void **st)
{
    (void)st;
    const char *t = ONE_SYNC("\"bucket\": {\"column\": \"h\"}, \"tls\": 1, # c\n");
    size_t len = strlen(t);
    for (size_t i = 0; i <= len; i++) {
        sync_config c;
        cli_config_problems p = {0};
        if (cli_config_load_text(t, i, NULL, &c, &p) == CE_OK)
            sync_config_free(&c);
        cli_config_problems_free(&p);
    }
    char *m = strdup(t);
    for (size_t i = 0; i < len; i++) {
        char saved = m[i];
        const char flips[] = {'"', '{', '}', '[', ']', ',', ':', '#', '1', 'x'};
        for (size_t j = 0; j < sizeof flips; j++) {
            m[i] = flips[j];
            sync_config c;
            cli_config_problems p = {0};
            if (cli_config_load_text(m, len, "/b", &c, &p) == CE_OK)
                sync_config_free(&c);
            cli_config_problems_free(&p);
        }
        m[i] = saved;
    }
    free(m);
}

/* A config with one sync whose index is `index` (JSON-escaped by the caller). */
static ce_err load_index(const char *index, sync_config *c, cli_config_problems *p)
{
    char text[1024];
    snprintf(text, sizeof text,
             BASE_PREFIX "\"syncs\": [{\"name\": \"s\", \"id_col\": \"id\", \"version_col\": \"v\", "
                         "\"cassandra\": {\"table\": \"t\"}, \"elasticsearch\": {\"index\": \"%s\"}}]}",
             index);
    return load_str(text, c, p);
}

/* Elasticsearch's index name rules, checked at load with the field named. */
static void test_index_names(void **st)
{
    (void)st;
    sync_config c;
    cli_config_problems p;
    struct {
        const char *index, *fragment;
    } bad[] = {
        {"Orders", "must be lowercase"}, {"a*", "cannot contain"},   {"a,b", "cannot contain"},
        {"a\\\\b", "cannot contain"},    {"a/b", "cannot contain"},  {"a?", "cannot contain"},
        {"a\\\"b", "cannot contain"},    {"a<b", "cannot contain"},  {"a>b", "cannot contain"},
        {"a|b", "cannot contain"},       {"a b", "cannot contain"},  {"a#b", "cannot contain"},
        {"-a", "cannot start with"},     {"_a", "cannot start with"}, {"+a", "cannot start with"},
        {".", "cannot be"},              {"..", "cannot be"},        {"", "empty index name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ce_err err = load_index(bad[i].index, &c, &p);
        if (err != CE_ECONFIG || !has_problem(&p, "syncs[0].elasticsearch.index", bad[i].fragment)) {
            fprintf(stderr, "index case %zu (%s) not refused as expected\n", i, bad[i].index);
            fail();
        }
        cli_config_problems_free(&p);
    }
    char name[300];
    memset(name, 'a', 256);
    name[256] = '\0';
    assert_int_equal(load_index(name, &c, &p), CE_ECONFIG);
    assert_true(has_problem(&p, "syncs[0].elasticsearch.index", "longer than 255 bytes"));
    cli_config_problems_free(&p);
    name[255] = '\0'; /* 255 bytes: the limit itself is fine */
    const char *good[] = {name, "orders", "orders-2026.11", ".hidden", "a_b+c", "\xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(load_index(good[i], &c, &p), CE_OK);
        assert_int_equal(p.nerrors, 0);
        sync_config_free(&c);
        cli_config_problems_free(&p);
    }
}

/* No user:password@ in any problem text or in `check --effective` values. */
static void test_url_credentials_redacted(void **st)
{
    (void)st;
    sync_config c;
    cli_config_problems p;
    const char *bad = "{\"cassandra\": {\"url\": \"u:s3cr3t@h:x\"}, \"elasticsearch\": {\"url\": "
                      "[\"ftp://u:s3cr3t@e\", \"u:s3cr3t@e/x\"]}, \"syncs\": [3]}";
    assert_int_equal(load_str(bad, &c, &p), CE_ECONFIG);
    assert_true(has_problem(&p, "elasticsearch.url[0]", "bad URL \"ftp://e\""));
    ce_buf b = CE_BUF_INIT;
    for (size_t i = 0; i < p.n; i++) {
        ce_buf_reset(&b);
        cli_config_problem_format(&p.v[i], &b);
        if (strstr(ce_buf_cstr(&b), "s3cr3t")) {
            fprintf(stderr, "secret in: %s\n", ce_buf_cstr(&b));
            fail();
        }
    }
    cli_config_problems_free(&p);
    const char *good = BASE_PREFIX "\"syncs\": [{\"name\": \"s\", \"id_col\": \"id\", \"version_col\": \"v\", "
                                   "\"cassandra\": {\"table\": \"t\"}, \"elasticsearch\": {\"index\": \"i\"}}]}";
    char text[1024];
    snprintf(text, sizeof text, "%s", good);
    char *e = strstr(text, "\"url\": \"e\"");
    assert_non_null(e);
    /* swap the ES url for one with credentials */
    char rest[1024];
    snprintf(rest, sizeof rest, "%s", e + strlen("\"url\": \"e\""));
    snprintf(e, sizeof text - (size_t)(e - text), "\"url\": \"https://u:s3cr3t@e:9200\"%s", rest);
    assert_int_equal(load_str(text, &c, &p), CE_OK);
    ce_buf_reset(&b);
    assert_int_equal(cli_config_value_format(&c, cli_config_key_find("elasticsearch.url"), 0, &b), CE_OK);
    assert_string_equal(ce_buf_cstr(&b), "[\"https://e:9200\"]");
    ce_buf_free(&b);
    sync_config_free(&c);
    cli_config_problems_free(&p);
}

/* tls.verify false and credentials without TLS: accepted, with a warning naming the key. */
static void test_security_warnings(void **st)
{
    (void)st;
    sync_config c;
    cli_config_problems p;
    const char *sync = "\"syncs\": [{\"name\": \"s\", \"id_col\": \"id\", \"version_col\": \"v\", \"cassandra\": "
                       "{\"table\": \"t\"}, \"elasticsearch\": {\"index\": \"i\"}}]}";
    char text[2048];
    snprintf(text, sizeof text,
             "{\"cassandra\": {\"url\": \"h\", \"keyspace\": \"k\", \"username\": \"u\", \"password\": \"pw\", "
             "\"tls\": {\"enabled\": false, \"verify\": false}}, \"elasticsearch\": {\"url\": "
             "[\"http://e:9200\", \"https://f:9200\"], \"api_key\": \"k\", \"tls\": {\"verify\": false}}, %s",
             sync);
    assert_int_equal(load_str(text, &c, &p), CE_OK);
    assert_int_equal(p.nerrors, 0);
    assert_true(has_problem(&p, "cassandra.tls.verify", "not checked"));
    assert_true(has_problem(&p, "elasticsearch.tls.verify", "not checked"));
    assert_true(has_problem(&p, "cassandra.password", "sent without TLS"));
    assert_true(has_problem(&p, "elasticsearch.api_key", "sent without TLS to http://e:9200"));
    assert_int_equal(p.nwarnings, 4); /* nothing about the https:// URL */
    sync_config_free(&c);
    cli_config_problems_free(&p);

    /* user:password@ in an http:// URL */
    snprintf(text, sizeof text,
             "{\"cassandra\": {\"url\": \"h\", \"keyspace\": \"k\"}, \"elasticsearch\": {\"url\": "
             "\"http://u:pw@e:9200\"}, %s", sync);
    assert_int_equal(load_str(text, &c, &p), CE_OK);
    assert_true(has_problem(&p, "elasticsearch.url[0]", "user:password in an http:// URL (http://e:9200)"));
    sync_config_free(&c);
    cli_config_problems_free(&p);

    /* with TLS on both sides and verification on: no warning */
    snprintf(text, sizeof text,
             "{\"cassandra\": {\"url\": \"h\", \"keyspace\": \"k\", \"username\": \"u\", \"password\": \"pw\", "
             "\"tls\": true}, \"elasticsearch\": {\"url\": \"e\", \"username\": \"u\", \"password\": \"pw\", "
             "\"tls\": true}, %s", sync);
    assert_int_equal(load_str(text, &c, &p), CE_OK);
    assert_int_equal(p.n, 0);
    assert_string_equal(c.es.urls[0], "https://e:9200");
    sync_config_free(&c);
    cli_config_problems_free(&p);
}

/* Every key with a default has it in a config that does not set it: the table is the only
 * place defaults live, and the loader fills each one. */
static void test_defaults_from_table(void **st)
{
    (void)st;
    sync_config c;
    cli_config_problems p;
    assert_int_equal(load_str(ONE_SYNC(""), &c, &p), CE_OK);
    size_t n;
    const cli_config_key *keys = cli_config_keys(&n);
    ce_buf b = CE_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        const cli_config_key *k = &keys[i];
        if (!k->def || k->size == 0 || (k->flags & CFG_F_LEGACY))
            continue;
        ce_buf_reset(&b);
        assert_int_equal(cli_config_value_format(&c, k, 0, &b), CE_OK);
        const char *v = ce_buf_cstr(&b);
        size_t vl = strlen(v);
        bool quoted = vl >= 2 && v[0] == '"' && v[vl - 1] == '"';
        bool same = quoted ? (strlen(k->def) == vl - 2 && strncmp(v + 1, k->def, vl - 2) == 0)
                           : strcmp(v, k->def) == 0;
        if (!same) {
            fprintf(stderr, "%s: default %s, loaded %s\n", k->path, k->def, v);
            fail();
        }
    }
    ce_buf_free(&b);
    sync_config_free(&c);
    cli_config_problems_free(&p);
}

/* The engine's fallback sizes (sync_def_sizes, for a sync_def with zeros, as the library's
 * own callers may build) are the key table's defaults: they are written in two places. */
static void test_engine_sizes_match_key_table(void **st)
{
    (void)st;
    static const struct {
        const char *path;
        size_t off;
    } f[] = {
        {"syncs[].page_size", offsetof(sync_def, page_size)},
        {"syncs[].es_page_size", offsetof(sync_def, es_page_size)},
        {"syncs[].bulk_max_docs", offsetof(sync_def, bulk_max_docs)},
        {"syncs[].bulk_max_bytes", offsetof(sync_def, bulk_max_bytes)},
        {"syncs[].bulk_concurrency", offsetof(sync_def, bulk_concurrency)},
        {"syncs[].write_concurrency", offsetof(sync_def, write_concurrency)},
        {"syncs[].write_batch_rows", offsetof(sync_def, write_batch_rows)},
        {"syncs[].max_new_columns", offsetof(sync_def, max_new_columns)},
    };
    sync_def zero, sized;
    memset(&zero, 0, sizeof zero);
    sync_def_sizes(&zero, &sized);
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        const cli_config_key *k = cli_config_key_find(f[i].path);
        assert_non_null(k);
        assert_non_null(k->def);
        int got = *(const int *)((const char *)&sized + f[i].off);
        if (got != atoi(k->def)) {
            fprintf(stderr, "%s: key table %s, sync_def_sizes %d\n", f[i].path, k->def, got);
            fail();
        }
    }
}

/* A key's default as a number ("true"/"false" as 1/0). */
static long long key_default(const char *path)
{
    const cli_config_key *k = cli_config_key_find(path);
    assert_non_null(k);
    assert_non_null(k->def);
    if (strcmp(k->def, "true") == 0 || strcmp(k->def, "false") == 0)
        return k->def[0] == 't';
    char *end;
    long long v = strtoll(k->def, &end, 10);
    assert_true(*end == '\0');
    return v;
}

/* The libraries' own defaults (es.h's ES_*_DEFAULT, what es_client_opts_init,
 * es_bulk_opts_init and cql_session_opts_init fill in) for what has a config key are the
 * key table's defaults: the table is the source, the libraries' fallbacks must not drift. */
static void test_library_defaults_match_key_table(void **st)
{
    (void)st;
    es_client_opts eo;
    es_client_opts_init(&eo);
    es_bulk_opts bo;
    es_bulk_opts_init(&bo);
    cql_session_opts co;
    cql_session_opts_init(&co);
    const struct {
        const char *path;
        long long lib;
        const char *what;
    } f[] = {
        {"syncs[].es_page_size", ES_PAGE_SIZE_DEFAULT, "ES_PAGE_SIZE_DEFAULT"},
        {"syncs[].bulk_max_docs", ES_BULK_MAX_DOCS_DEFAULT, "ES_BULK_MAX_DOCS_DEFAULT"},
        {"syncs[].bulk_max_bytes", ES_BULK_MAX_BYTES_DEFAULT, "ES_BULK_MAX_BYTES_DEFAULT"},
        {"syncs[].bulk_concurrency", ES_BULK_CONCURRENCY_DEFAULT, "ES_BULK_CONCURRENCY_DEFAULT"},
        {"elasticsearch.request_timeout_ms", ES_REQUEST_TIMEOUT_MS_DEFAULT, "ES_REQUEST_TIMEOUT_MS_DEFAULT"},
        {"syncs[].bulk_max_docs", (long long)bo.max_docs, "es_bulk_opts_init max_docs"},
        {"syncs[].bulk_max_bytes", (long long)bo.max_bytes, "es_bulk_opts_init max_bytes"},
        {"syncs[].bulk_concurrency", bo.concurrency, "es_bulk_opts_init concurrency"},
        {"elasticsearch.request_timeout_ms", eo.request_timeout_ms, "es_client_opts_init request_timeout_ms"},
        {"cassandra.port", co.port, "cql_session_opts_init port"},
        {"cassandra.request_timeout_ms", co.request_timeout_ms, "cql_session_opts_init request_timeout_ms"},
        {"cassandra.protocol_version", co.protocol_version, "cql_session_opts_init protocol_version"},
        {"cassandra.compression", co.compression, "cql_session_opts_init compression"},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        long long def = key_default(f[i].path);
        if (def != f[i].lib) {
            fprintf(stderr, "%s: key table %lld, %s %lld\n", f[i].path, def, f[i].what, f[i].lib);
            fail();
        }
    }
}

/* metrics_listen and log_format: defaults, accepted forms, and refusals naming the key. */
static void test_metrics_listen_and_log_format(void **st)
{
    (void)st;
    sync_config c;
    cli_config_problems p;
    assert_int_equal(load_str(ONE_SYNC(""), &c, &p), CE_OK);
    assert_null(c.metrics_listen);
    assert_string_equal(c.log_format, "logfmt");
    sync_config_free(&c);
    cli_config_problems_free(&p);
    const char *good[] = {"127.0.0.1:9464", ":9464", "[::1]:0", "*:9464", "localhost:65535"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, BASE_PREFIX "\"metrics_listen\": \"%s\", \"log_format\": \"json\", "
                 "\"syncs\": [{\"name\": \"s\", \"id_col\": \"id\", \"version_col\": \"v\", "
                 "\"cassandra\": {\"table\": \"t\"}, \"elasticsearch\": {\"index\": \"i\"}}]}", good[i]);
        assert_int_equal(load_str(text, &c, &p), CE_OK);
        assert_string_equal(c.metrics_listen, good[i]);
        assert_string_equal(c.log_format, "json");
        sync_config_free(&c);
        cli_config_problems_free(&p);
    }
    const char *bad[] = {"9464", "host:", "host:65536", "::1:80", "[::1]", "h:12a", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, BASE_PREFIX "\"metrics_listen\": \"%s\", \"syncs\": [3]}", bad[i]);
        assert_int_equal(load_str(text, &c, &p), CE_ECONFIG);
        assert_true(has_problem(&p, "metrics_listen", "bad address"));
        cli_config_problems_free(&p);
    }
    assert_int_equal(load_str(BASE_PREFIX "\"log_format\": \"text\", \"syncs\": [3]}", &c, &p), CE_ECONFIG);
    assert_true(has_problem(&p, "log_format", "bad value \"text\""));
    cli_config_problems_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pyce_readme_example),
        cmocka_unit_test(test_pyce_old_test_config),
        cmocka_unit_test(test_issue_example),
        cmocka_unit_test(test_full_extensions),
        cmocka_unit_test(test_syntax_error_line_column),
        cmocka_unit_test(test_strip_comments),
        cmocka_unit_test(test_many_errors_with_paths),
        cmocka_unit_test(test_missing_keys),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_urls_and_tls_shorthand),
        cmocka_unit_test(test_env_secrets),
        cmocka_unit_test(test_legacy_ignored_key_warns),
        cmocka_unit_test(test_reference_covers_every_key),
        cmocka_unit_test(test_truncations_and_flips),
        cmocka_unit_test(test_index_names),
        cmocka_unit_test(test_url_credentials_redacted),
        cmocka_unit_test(test_security_warnings),
        cmocka_unit_test(test_defaults_from_table),
        cmocka_unit_test(test_engine_sizes_match_key_table),
        cmocka_unit_test(test_library_defaults_match_key_table),
        cmocka_unit_test(test_metrics_listen_and_log_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
