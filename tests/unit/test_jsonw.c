/* test_jsonw.c - the hot-path JSON writer: escaping, invalid UTF-8, numbers, base64. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "util/jsonw.h"

static void check_json_string(const char *in, size_t n, const char *want)
{
    ce_buf b = CE_BUF_INIT;
    assert_int_equal(jsonw_string(&b, in, n), CE_OK);
    assert_string_equal(ce_buf_cstr(&b), want);
    /* Whatever went in, what comes out must parse as JSON. */
    json_error_t jerr;
    json_t *j = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    assert_non_null(j);
    json_decref(j);
    ce_buf_free(&b);
}

static void test_plain_and_escapes(void **st)
{
    (void)st;
    check_json_string("abc", 3, "\"abc\"");
    check_json_string("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    check_json_string("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
    check_json_string("\x01\x1f", 2, "\"\\u0001\\u001f\"");
    check_json_string("nul\0in", 6, "\"nul\\u0000in\"");
}

static void test_utf8(void **st)
{
    (void)st;
    check_json_string("caf\xc3\xa9", 5, "\"caf\xc3\xa9\"");
    check_json_string("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");
    /* Broken sequences become U+FFFD. */
    check_json_string("\xc3", 1, "\"\xef\xbf\xbd\"");
    check_json_string("\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"");     /* overlong */
    check_json_string("\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* surrogate */
    check_json_string("\xf4\x90\x80\x80", 4,
                  "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");    /* > U+10FFFF */
    check_json_string("\xff", 1, "\"\xef\xbf\xbd\"");
}

static void test_numbers(void **st)
{
    (void)st;
    ce_buf b = CE_BUF_INIT;
    jsonw_int64(&b, INT64_MIN);
    ce_buf_append_byte(&b, ' ');
    jsonw_int64(&b, INT64_MAX);
    ce_buf_append_byte(&b, ' ');
    jsonw_uint64(&b, UINT64_MAX);
    ce_buf_append_byte(&b, ' ');
    jsonw_double(&b, 0.1);
    ce_buf_append_byte(&b, ' ');
    jsonw_float(&b, 0.1f);
    ce_buf_append_byte(&b, ' ');
    jsonw_double(&b, 1e300);
    assert_string_equal(ce_buf_cstr(&b),
                        "-9223372036854775808 9223372036854775807 18446744073709551615 0.1 0.1 1e+300");
    ce_buf_free(&b);
}

static void test_base64(void **st)
{
    (void)st;
    ce_buf b = CE_BUF_INIT;
    jsonw_base64(&b, (const uint8_t *)"", 0);
    jsonw_base64(&b, (const uint8_t *)"f", 1);
    jsonw_base64(&b, (const uint8_t *)"fo", 2);
    jsonw_base64(&b, (const uint8_t *)"foo", 3);
    jsonw_base64(&b, (const uint8_t *)"foob", 4);
    assert_string_equal(ce_buf_cstr(&b), "\"\"\"Zg==\"\"Zm8=\"\"Zm9v\"\"Zm9vYg==\"");
    ce_buf_free(&b);
}

static void test_buf_cap(void **st)
{
    (void)st;
    ce_buf b;
    ce_buf_init(&b, 8);
    assert_int_equal(ce_buf_append(&b, "12345678", 8), CE_OK);
    assert_int_equal(ce_buf_append(&b, "9", 1), CE_ELIMIT);
    assert_int_equal(b.len, 8);
    ce_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_escapes),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_buf_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
