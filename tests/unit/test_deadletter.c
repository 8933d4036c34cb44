/* test_deadletter.c - dead-letter lines are valid JSON with every field, whatever the
 * document (valid JSON, pretty-printed, not JSON, NULL), also from several threads; a
 * torn last line is cut at open; lines are synced on demand (the checkpoint's). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "sync/deadletter.h"

static char path[256];

static int setup(void **st)
{
    (void)st;
    snprintf(path, sizeof path, "/tmp/ce-test-dl-%ld.jsonl", (long)getpid());
    unlink(path);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    unlink(path);
    return 0;
}

/* Parse every line; returns how many, and the parsed lines in out (caller decrefs). */
static size_t read_lines(json_t **out, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *line = NULL;
    size_t n = 0, lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) > 0) {
        assert_int_equal(line[len - 1], '\n');
        json_error_t jerr;
        json_t *j = json_loadb(line, (size_t)len, 0, &jerr);
        if (!j)
            fprintf(stderr, "bad line: %s (%s)\n", line, jerr.text);
        assert_non_null(j);
        assert_true(json_is_object(j));
        const char *keys[] = {"ts", "sync", "direction", "id", "reason", "doc"};
        for (size_t k = 0; k < 6; k++)
            assert_non_null(json_object_get(j, keys[k]));
        if (n < cap)
            out[n] = j;
        else
            json_decref(j);
        n++;
    }
    free(line);
    fclose(f);
    return n;
}

static void test_lines(void **st)
{
    (void)st;
    sync_deadletter *d;
    assert_int_equal(sync_deadletter_open(path, &d), CE_OK);
    const char *doc = "{\"a\": 1, \"b\": [true, null]}";
    assert_int_equal(sync_deadletter_write(d, "orders", "to_es", "42", "mapper_parsing_exception: bad",
                                           doc, strlen(doc)), CE_OK);
    const char *pretty = "{\n  \"x\": \"y\"\n}";
    assert_int_equal(sync_deadletter_write(d, "orders", "to_cassandra", "k\"1", "convert", pretty,
                                           strlen(pretty)), CE_OK);
    const char *notjson = "not json\n\"at all";
    assert_int_equal(sync_deadletter_write(d, "orders", "to_es", NULL, "x", notjson, strlen(notjson)), CE_OK);
    assert_int_equal(sync_deadletter_write(d, "o", "to_es", "1", "r", NULL, 0), CE_OK);
    assert_int_equal(sync_deadletter_count(d), 4);
    sync_deadletter_close(d);

    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    json_t *l[8];
    assert_int_equal(read_lines(l, 8), 4);
    assert_string_equal(json_string_value(json_object_get(l[0], "sync")), "orders");
    assert_string_equal(json_string_value(json_object_get(l[0], "direction")), "to_es");
    assert_string_equal(json_string_value(json_object_get(l[0], "id")), "42");
    assert_string_equal(json_string_value(json_object_get(l[0], "reason")), "mapper_parsing_exception: bad");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(l[0], "doc"), "a")), 1);
    const char *ts = json_string_value(json_object_get(l[0], "ts"));
    assert_int_equal(strlen(ts), 24);
    assert_int_equal(ts[23], 'Z');
    assert_string_equal(json_string_value(json_object_get(l[1], "id")), "k\"1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(l[1], "doc"), "x")), "y");
    assert_true(json_is_null(json_object_get(l[2], "id")));
    assert_string_equal(json_string_value(json_object_get(l[2], "doc")), notjson);
    assert_true(json_is_null(json_object_get(l[3], "doc")));
    for (int i = 0; i < 4; i++)
        json_decref(l[i]);

    /* reopening appends */
    assert_int_equal(sync_deadletter_open(path, &d), CE_OK);
    assert_int_equal(sync_deadletter_write(d, "o", "to_es", "2", "r", "3", 1), CE_OK);
    sync_deadletter_close(d);
    assert_int_equal(read_lines(NULL, 0), 5);
    assert_int_equal(sync_deadletter_open("/nonexistent-ce-dir/x.jsonl", &d), CE_ENOTFOUND);
    sync_deadletter_close(NULL);
}

static void *writer(void *arg)
{
    sync_deadletter *d = arg;
    char doc[64];
    for (int i = 0; i < 500; i++) {
        snprintf(doc, sizeof doc, "{\"n\": %d, \"pad\": \"%040d\"}", i, i);
        if (sync_deadletter_write(d, "t", "to_es", "id", "r", doc, strlen(doc)) != CE_OK)
            return arg;
    }
    return NULL;
}

static void test_threads(void **st)
{
    (void)st;
    sync_deadletter *d;
    assert_int_equal(sync_deadletter_open(path, &d), CE_OK);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, writer, d);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_null(r);
    }
    assert_int_equal(sync_deadletter_count(d), 2000);
    sync_deadletter_close(d);
    assert_int_equal(read_lines(NULL, 0), 2000);
}

/* Write raw bytes as the whole file. */
static void put_file(const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A torn last line (crash, full disk) is cut at open; complete lines stay. */
static void test_torn_line(void **st)
{
    (void)st;
    sync_deadletter *d;
    assert_int_equal(sync_deadletter_open(path, &d), CE_OK);
    assert_int_equal(sync_deadletter_write(d, "o", "to_es", "1", "r", "1", 1), CE_OK);
    assert_int_equal(sync_deadletter_write(d, "o", "to_es", "2", "r", "2", 1), CE_OK);
    sync_deadletter_close(d);
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    const char *torn = "{\"ts\":\"2026-12-01T00:00:00.000Z\",\"sync\":\"o\",\"dir";
    fputs(torn, f);
    fclose(f);
    assert_int_equal(sync_deadletter_open(path, &d), CE_OK);
    assert_int_equal(sync_deadletter_dropped(d), strlen(torn));
    assert_int_equal(sync_deadletter_write(d, "o", "to_es", "3", "r", "3", 1), CE_OK);
    sync_deadletter_close(d);
    json_t *l[4];
    assert_int_equal(read_lines(l, 4), 3);
    assert_string_equal(json_string_value(json_object_get(l[2], "id")), "3");
    for (int i = 0; i < 3; i++)
        json_decref(l[i]);

    /* a file that is nothing but a torn line becomes empty; a clean file is left alone */
    put_file("{\"ts\":");
    assert_int_equal(sync_deadletter_open(path, &d), CE_OK);
    assert_int_equal(sync_deadletter_dropped(d), 6);
    sync_deadletter_close(d);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    put_file("x\n");
    assert_int_equal(sync_deadletter_open(path, &d), CE_OK);
    assert_int_equal(sync_deadletter_dropped(d), 0);
    sync_deadletter_close(d);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 2);
}

/* A torn line longer than the repair's read chunk is found across chunks. */
static void test_torn_long_line(void **st)
{
    (void)st;
    size_t n = 10000;
    char *big = malloc(n + 8);
    assert_non_null(big);
    memcpy(big, "ok\n", 3);
    memset(big + 3, 'a', n);
    big[n + 3] = 0;
    put_file(big);
    free(big);
    sync_deadletter *d;
    assert_int_equal(sync_deadletter_open(path, &d), CE_OK);
    assert_int_equal(sync_deadletter_dropped(d), n);
    sync_deadletter_close(d);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 3);
}

/* Lines wait for sync_deadletter_sync (the checkpoint's), not one flush each. */
static void test_sync(void **st)
{
    (void)st;
    sync_deadletter *d;
    assert_int_equal(sync_deadletter_open(path, &d), CE_OK);
    assert_false(sync_deadletter_pending(d));
    assert_int_equal(sync_deadletter_sync(d), CE_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sync_deadletter_write(d, "o", "to_es", "1", "r", "1", 1), CE_OK);
    assert_true(sync_deadletter_pending(d));
    assert_int_equal(sync_deadletter_sync(d), CE_OK);
    assert_false(sync_deadletter_pending(d));
    assert_int_equal(sync_deadletter_sync(NULL), CE_OK);
    assert_false(sync_deadletter_pending(NULL));
    sync_deadletter_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_long_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
