/* test_sync_names.c - names and values from outside: which index field names may become
 * Cassandra columns, and log values (SYNC_LOGQ) that cannot forge a line or a field. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sync/e2c_int.h"

static void test_column_names(void **st)
{
    (void)st;
    assert_null(sync_column_name_refusal("qty"));
    assert_null(sync_column_name_refusal("Total_2"));
    char name[200];
    memset(name, 'a', sizeof name);
    name[128] = 0;
    assert_null(sync_column_name_refusal(name)); /* 128 bytes: the limit */
    name[128] = 'a';
    name[129] = 0;
    assert_non_null(sync_column_name_refusal(name));
    assert_non_null(sync_column_name_refusal(""));
    const char *bad[] = {"a-b", "a b", "a.b", "a\"b", "a\nb", "\xc3\xa9t\xc3\xa9", "x;DROP"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_non_null(sync_column_name_refusal(bad[i]));
}

/* An _id with a newline and a fake pair stays one quoted value on one line. */
static void test_log_values(void **st)
{
    (void)st;
    char line[1024];
    snprintf(line, sizeof line, "msg=\"document rejected\" id=%s reason=%s",
             SYNC_LOGQ("x1\nlevel=error msg=forged"), SYNC_LOGQ("bad \"qty\""));
    assert_null(strchr(line, '\n'));
    assert_string_equal(line, "msg=\"document rejected\" id=\"x1\\nlevel=error msg=forged\" "
                              "reason=\"bad \\\"qty\\\"\"");
    snprintf(line, sizeof line, "index=%s", SYNC_LOGQ("orders"));
    assert_string_equal(line, "index=orders");
    snprintf(line, sizeof line, "id=%s", SYNC_LOGQ(NULL));
    assert_string_equal(line, "id=\"\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_column_names),
        cmocka_unit_test(test_log_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
