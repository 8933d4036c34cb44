/* test_log.c - util/log: ce_log_quote keeps a value from outside inside one logfmt field
 * (no forged line, no forged field), and cuts long values cleanly; ce_log_json_line turns
 * a logfmt line into one JSON object (log_format "json"), checked with jansson. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "util/log.h"

/* The JSON object of one line, parsed back with jansson (NULL when not valid JSON). */
static json_t *json_of(const char *line)
{
    ce_buf b = CE_BUF_INIT;
    assert_int_equal(ce_log_json_line(&b, "2026-01-02T03:04:05.678Z", "warn", line), CE_OK);
    json_error_t e;
    json_t *j = json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
    if (!j)
        fprintf(stderr, "not JSON (%s): %.*s\n", e.text, (int)b.len, (const char *)b.data);
    assert_null(memchr(b.data, '\n', b.len)); /* one line */
    ce_buf_free(&b);
    return j;
}

static const char *str_field(json_t *j, const char *k)
{
    const char *v = json_string_value(json_object_get(j, k));
    if (!v)
        fprintf(stderr, "field %s missing or not a string\n", k);
    assert_non_null(v);
    return v;
}

static void test_json_fields_numbers_and_order(void **st)
{
    (void)st;
    json_t *j = json_of("sync=orders msg=\"pass done\" seconds=0.125 read=20000 rate=1e3 id=007 neg=-3 "
                        "v=1.2.3 empty=\"\"");
    assert_non_null(j);
    assert_string_equal(str_field(j, "ts"), "2026-01-02T03:04:05.678Z");
    assert_string_equal(str_field(j, "level"), "warn");
    assert_string_equal(str_field(j, "sync"), "orders");
    assert_string_equal(str_field(j, "msg"), "pass done");
    assert_true(json_is_real(json_object_get(j, "seconds")));
    assert_int_equal(json_integer_value(json_object_get(j, "read")), 20000);
    assert_true(json_is_number(json_object_get(j, "rate")));
    assert_int_equal(json_integer_value(json_object_get(j, "neg")), -3);
    assert_string_equal(str_field(j, "id"), "007"); /* not a JSON number: kept as text */
    assert_string_equal(str_field(j, "v"), "1.2.3");
    assert_string_equal(str_field(j, "empty"), "");
    json_decref(j);
    /* the keys keep the line's order, after ts and level */
    ce_buf b = CE_BUF_INIT;
    assert_int_equal(ce_log_json_line(&b, "T", "info", "msg=x a=1 b=2"), CE_OK);
    assert_string_equal(ce_buf_cstr(&b), "{\"ts\":\"T\",\"level\":\"info\",\"msg\":\"x\",\"a\":1,\"b\":2}");
    ce_buf_free(&b);
}

/* What ce_log_quote writes comes back unchanged: escapes, forged fields, control bytes, UTF-8. */
static void test_json_round_trips_quoted_values(void **st)
{
    (void)st;
    const char *values[] = {"two words", "k=v", "1\nts=x level=error msg=\"forged\"", "a\\b\r\t\x01\x1b\x7f",
                            "\xc3\xa9t\xc3\xa9 \"q\"", "\\x41 not an escape", "trailing\\"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char q[CE_LOG_QUOTE_MAX], line[1024];
        snprintf(line, sizeof line, "msg=\"m\" detail=%s after=1", ce_log_quote(q, sizeof q, values[i]));
        json_t *j = json_of(line);
        assert_non_null(j);
        assert_string_equal(str_field(j, "detail"), values[i]);
        assert_int_equal(json_integer_value(json_object_get(j, "after")), 1);
        assert_int_equal(json_object_size(j), 5);
        json_decref(j);
    }
}

/* Lines that are not clean logfmt still give one valid object. */
static void test_json_odd_input(void **st)
{
    (void)st;
    json_t *j = json_of("msg=\"unclosed value");
    assert_non_null(j);
    assert_string_equal(str_field(j, "msg"), "unclosed value");
    json_decref(j);
    j = json_of("loose words msg=x level=debug ts=1 msg=y =z");
    assert_non_null(j);
    assert_string_equal(str_field(j, "level"), "warn"); /* the writer's, not the line's */
    assert_string_equal(str_field(j, "level_2"), "debug");
    assert_int_equal(json_integer_value(json_object_get(j, "ts_2")), 1);
    assert_string_equal(str_field(j, "msg"), "x");
    assert_string_equal(str_field(j, "msg_2"), "y");
    assert_string_equal(str_field(j, "text"), "loose words =z");
    json_decref(j);
    j = json_of("");
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 2);
    json_decref(j);
    j = json_of("bad=\"\\xZZ\\q\xff\"");
    assert_non_null(j); /* invalid UTF-8 replaced, unknown escapes kept */
    assert_non_null(strstr(str_field(j, "bad"), "\\xZZ\\q"));
    json_decref(j);
    assert_int_equal(ce_log_format_parse("json"), CE_LOG_FORMAT_JSON);
    assert_int_equal(ce_log_format_parse("logfmt"), CE_LOG_FORMAT_LOGFMT);
    assert_int_equal(ce_log_format_parse("text"), -1);
}

static void test_plain_words_stay_bare(void **st)
{
    (void)st;
    char q[64];
    assert_string_equal(ce_log_quote(q, sizeof q, "orders"), "orders");
    assert_string_equal(ce_log_quote(q, sizeof q, "a-b_c.1/2:3"), "a-b_c.1/2:3");
    assert_string_equal(ce_log_quote(q, sizeof q, "\xc3\xa9t\xc3\xa9"), "\xc3\xa9t\xc3\xa9"); /* UTF-8 kept */
}

static void test_escapes(void **st)
{
    (void)st;
    char q[128];
    assert_string_equal(ce_log_quote(q, sizeof q, ""), "\"\"");
    assert_string_equal(ce_log_quote(q, sizeof q, NULL), "\"\"");
    assert_string_equal(ce_log_quote(q, sizeof q, "two words"), "\"two words\"");
    assert_string_equal(ce_log_quote(q, sizeof q, "k=v"), "\"k=v\"");
    /* an _id with a newline cannot start a forged line */
    assert_string_equal(ce_log_quote(q, sizeof q, "1\nts=x level=error msg=\"forged\""),
                        "\"1\\nts=x level=error msg=\\\"forged\\\"\"");
    assert_string_equal(ce_log_quote(q, sizeof q, "a\\b\r\t\x01\x1b\x7f"), "\"a\\\\b\\r\\t\\x01\\x1b\\x7f\"");
    assert_null(strchr(ce_log_quote(q, sizeof q, "x\ny\rz"), '\n'));
}

static void test_cut_and_small_buffers(void **st)
{
    (void)st;
    char q[16];
    /* long plain word: quoted and cut, never cut inside an escape */
    assert_string_equal(ce_log_quote(q, sizeof q, "abcdefghijklmnopqrstuvwxyz"), "\"abcdefghij...\"");
    assert_int_equal(strlen(q), sizeof q - 1);
    assert_string_equal(ce_log_quote(q, sizeof q, "\n\n\n\n\n\n\n\n"), "\"\\n\\n\\n\\n\\n...\"");
    /* exactly fitting values are not cut */
    assert_string_equal(ce_log_quote(q, sizeof q, "a b c d e f g"), "\"a b c d e f g\"");
    char tiny[4] = "xyz";
    assert_string_equal(ce_log_quote(tiny, sizeof tiny, "a b"), "");
    /* every prefix length of every cap: NUL-terminated, within cap, balanced quotes */
    const char *v = "a\"b\\c\nd e\x02";
    for (size_t cap = 8; cap < 40; cap++) {
        char out[40];
        memset(out, 'Z', sizeof out);
        ce_log_quote(out, cap, v);
        size_t n = strlen(out);
        assert_true(n < cap);
        assert_int_equal(out[0], '"');
        assert_int_equal(out[n - 1], '"');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_words_stay_bare),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_cut_and_small_buffers),
        cmocka_unit_test(test_json_fields_numbers_and_order),
        cmocka_unit_test(test_json_round_trips_quoted_values),
        cmocka_unit_test(test_json_odd_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
