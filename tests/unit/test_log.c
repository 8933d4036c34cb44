/* test_log.c - util/log: ce_log_quote keeps a value from outside inside one logfmt field
 * (no forged line, no forged field), and cuts long values cleanly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "util/log.h"

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
