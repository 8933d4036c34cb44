/* test_deadletter.c - dead-letter lines are valid JSON with every field, whatever the
 * document (valid JSON, pretty-printed, not JSON, NULL), also from several threads; a
 * torn last line is cut at open; lines are synced on demand (the checkpoint's); one bad
 * item costs one line (repeats are known, also after a reopen, within the memory's bound). */
#include <stdarg.h>
#include <stdbool.h>
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
                                           doc, strlen(doc), NULL), CE_OK);
    const char *pretty = "{\n  \"x\": \"y\"\n}";
    assert_int_equal(sync_deadletter_write(d, "orders", "to_cassandra", "k\"1", "convert", pretty,
                                           strlen(pretty), NULL), CE_OK);
    const char *notjson = "not json\n\"at all";
    assert_int_equal(sync_deadletter_write(d, "orders", "to_es", NULL, "x", notjson, strlen(notjson), NULL), CE_OK);
    assert_int_equal(sync_deadletter_write(d, "o", "to_es", "1", "r", NULL, 0, NULL), CE_OK);
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
    assert_int_equal(sync_deadletter_write(d, "o", "to_es", "2", "r", "3", 1, NULL), CE_OK);
    sync_deadletter_close(d);
    assert_int_equal(read_lines(NULL, 0), 5);
    assert_int_equal(sync_deadletter_open("/nonexistent-ce-dir/x.jsonl", &d), CE_ENOTFOUND);
    sync_deadletter_close(NULL);
}

typedef struct {
    sync_deadletter *d;
    int thread;
    int repeats;
} writer_arg;

/* 500 lines of its own, then 100 of thread 0's (repeats, unless thread 0 is slower). */
static void *writer(void *arg)
{
    writer_arg *a = arg;
    char doc[80];
    for (int i = 0; i < 600; i++) {
        int t = i < 500 ? a->thread : 0;
        snprintf(doc, sizeof doc, "{\"t\": %d, \"n\": %d, \"pad\": \"%040d\"}", t, i % 500, i);
        bool rep;
        if (sync_deadletter_write(a->d, "t", "to_es", "id", "r", doc, strlen(doc), &rep) != CE_OK)
            return arg;
        a->repeats += rep;
    }
    return NULL;
}

static void test_threads(void **st)
{
    (void)st;
    sync_deadletter *d;
    assert_int_equal(sync_deadletter_open(path, &d), CE_OK);
    pthread_t t[4];
    writer_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (writer_arg){d, i, 0};
        pthread_create(&t[i], NULL, writer, &a[i]);
    }
    int repeats = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_null(r);
        repeats += a[i].repeats;
    }
    /* thread 0's last 100 lines and the others' copies of them: each written once */
    assert_int_equal(sync_deadletter_count(d), 2000 + 100);
    assert_int_equal(repeats, 4 * 600 - 2100);
    assert_int_equal(sync_deadletter_repeats(d), (size_t)repeats);
    sync_deadletter_close(d);
    assert_int_equal(read_lines(NULL, 0), 2100);
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
    assert_int_equal(sync_deadletter_write(d, "o", "to_es", "1", "r", "1", 1, NULL), CE_OK);
    assert_int_equal(sync_deadletter_write(d, "o", "to_es", "2", "r", "2", 1, NULL), CE_OK);
    sync_deadletter_close(d);
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    const char *torn = "{\"ts\":\"2026-12-01T00:00:00.000Z\",\"sync\":\"o\",\"dir";
    fputs(torn, f);
    fclose(f);
    assert_int_equal(sync_deadletter_open(path, &d), CE_OK);
    assert_int_equal(sync_deadletter_dropped(d), strlen(torn));
    assert_int_equal(sync_deadletter_write(d, "o", "to_es", "3", "r", "3", 1, NULL), CE_OK);
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
        assert_int_equal(sync_deadletter_write(d, "o", "to_es", "1", "r", "1", 1, NULL), CE_OK);
    assert_true(sync_deadletter_pending(d));
    assert_int_equal(sync_deadletter_sync(d), CE_OK);
    assert_false(sync_deadletter_pending(d));
    assert_int_equal(sync_deadletter_sync(NULL), CE_OK);
    assert_false(sync_deadletter_pending(NULL));
    sync_deadletter_close(d);
}

/* Lines in the file, whatever they hold. */
static size_t count_lines(void)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static bool write_rep(sync_deadletter *d, const char *id, const char *reason, const char *doc)
{
    bool rep = true;
    assert_int_equal(sync_deadletter_write(d, "o", "to_cassandra", id, reason, doc, doc ? strlen(doc) : 0, &rep),
                     CE_OK);
    return rep;
}

/* The same item twice: one line, the second write a repeat; another doc or reason (or
 * sync, direction, id) is a new line; the time of the line does not count. */
static void test_repeat(void **st)
{
    (void)st;
    sync_deadletter *d;
    assert_int_equal(sync_deadletter_open(path, &d), CE_OK);
    assert_false(write_rep(d, "1", "bad value", "{\"v\": \"x\"}"));
    usleep(2000); /* another ts */
    assert_true(write_rep(d, "1", "bad value", "{\"v\": \"x\"}"));
    assert_true(write_rep(d, "1", "bad value", "{\"v\": \"x\"}"));
    assert_false(write_rep(d, "1", "bad value", "{\"v\": \"y\"}"));  /* changed body */
    assert_false(write_rep(d, "1", "other reason", "{\"v\": \"y\"}")); /* another reason */
    assert_false(write_rep(d, "2", "bad value", "{\"v\": \"y\"}"));   /* another id */
    assert_false(write_rep(d, NULL, "bad value", NULL));
    assert_true(write_rep(d, NULL, "bad value", NULL));
    bool rep = true;
    assert_int_equal(sync_deadletter_write(d, "o", "to_es", "1", "bad value", "{\"v\": \"x\"}", 10, &rep), CE_OK);
    assert_false(rep); /* another direction */
    assert_int_equal(sync_deadletter_write(d, "o", "to_es", "1", "bad value", "{\"v\": \"x\"}", 10, NULL), CE_OK);
    assert_int_equal(sync_deadletter_count(d), 6);
    assert_int_equal(sync_deadletter_repeats(d), 4);
    assert_true(sync_deadletter_pending(d));
    sync_deadletter_close(d);
    assert_int_equal(read_lines(NULL, 0), 6);
}

/* A reopened file (a restarted process) still knows its lines; a torn last line is cut,
 * not remembered; a line that is not one of ours is ignored. */
static void test_repeat_reopen(void **st)
{
    (void)st;
    sync_deadletter *d;
    assert_int_equal(sync_deadletter_open(path, &d), CE_OK);
    assert_false(write_rep(d, "1", "r", "{\"a\":1}"));
    assert_false(write_rep(d, "2", "r", "\"multi\nline\""));
    sync_deadletter_close(d);
    /* the torn line would be id 3's */
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    fputs("garbage line\n{\"ts\":\"2026-12-01T00:00:00.000Z\",\"sync\":\"o\",\"direction\":\"to_cassandra\","
          "\"id\":\"3\",\"reason\":\"r\",\"doc\":{\"a\":3}",
          f);
    fclose(f);
    assert_int_equal(sync_deadletter_open(path, &d), CE_OK);
    assert_true(sync_deadletter_dropped(d) > 0);
    assert_true(write_rep(d, "1", "r", "{\"a\":1}"));
    assert_true(write_rep(d, "2", "r", "\"multi\nline\""));
    assert_false(write_rep(d, "3", "r", "{\"a\":3}")); /* torn: not in the file */
    assert_false(write_rep(d, "4", "r", NULL));
    sync_deadletter_close(d);
    assert_int_equal(count_lines(), 5); /* the garbage line, 1, 2, 3, 4 */
}

/* The memory holds the last `lines` lines: the oldest is forgotten first; at open, only
 * the tail of the file is read (a line cut by the tail's start is not remembered). */
static void test_repeat_bound(void **st)
{
    (void)st;
    sync_deadletter *d;
    char id[16];
    assert_int_equal(sync_deadletter_open_sized(path, 0, 100, &d), CE_EINVAL);
    assert_int_equal(sync_deadletter_open_sized(path, 8, 1 << 20, &d), CE_OK);
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "%d", i);
        assert_false(write_rep(d, id, "r", NULL));
    }
    for (int i = 19; i >= 12; i--) { /* the last 8: known */
        snprintf(id, sizeof id, "%d", i);
        assert_true(write_rep(d, id, "r", NULL));
    }
    assert_false(write_rep(d, "11", "r", NULL)); /* forgotten: written again, 12 forgotten */
    assert_false(write_rep(d, "12", "r", NULL));
    assert_true(write_rep(d, "11", "r", NULL));
    sync_deadletter_close(d);
    assert_int_equal(read_lines(NULL, 0), 22);

    /* at open: the last 8 lines of the file (ids 14..19, 11, 12; 13 is forgotten) */
    assert_int_equal(sync_deadletter_open_sized(path, 8, 1 << 20, &d), CE_OK);
    assert_true(write_rep(d, "12", "r", NULL));
    assert_true(write_rep(d, "14", "r", NULL));
    assert_false(write_rep(d, "13", "r", NULL));
    sync_deadletter_close(d);

    /* a tail of about 1.5 lines (the first line, id 0, is one byte shorter than the last,
     * id 13): only the last line is remembered */
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, f); /* every line here has the same length */
    free(line);
    fclose(f);
    assert_true(len > 0);
    assert_int_equal(sync_deadletter_open_sized(path, 8, (size_t)len * 3 / 2, &d), CE_OK);
    assert_true(write_rep(d, "13", "r", NULL));
    assert_false(write_rep(d, "12", "r", NULL));
    sync_deadletter_close(d);
}

/* Many lines through a full memory: every remembered line is still found (the table's
 * deletions keep its probe runs whole). */
static void test_repeat_eviction_many(void **st)
{
    (void)st;
    sync_deadletter *d;
    char id[16];
    assert_int_equal(sync_deadletter_open_sized(path, 1000, 1 << 20, &d), CE_OK);
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "%d", i);
        assert_false(write_rep(d, id, "r", NULL));
        if (i % 97 == 0) /* the last 1000 (1024: the memory rounds up) are known */
            for (int k = i; k >= 0 && k > i - 1000; k -= 7) {
                snprintf(id, sizeof id, "%d", k);
                assert_true(write_rep(d, id, "r", NULL));
            }
    }
    snprintf(id, sizeof id, "%d", 5000 - 1025);
    assert_false(write_rep(d, id, "r", NULL));
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
        cmocka_unit_test_setup_teardown(test_repeat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeat_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeat_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeat_eviction_many, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
