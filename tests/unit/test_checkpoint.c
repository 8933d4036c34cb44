/* test_checkpoint.c - checkpoint files: round trip, atomic save (no temp files left),
 * missing and corrupt files, odd sync names; lastruntime.log and --since parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "sync/checkpoint.h"
#include "sync/state.h"

static char dir[256];

static int setup(void **st)
{
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/ce-test-checkpoint-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[600];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' || (e->d_name[1] && strcmp(e->d_name, "..") != 0)) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(dir);
    return 0;
}

static size_t count_files(const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    while ((e = readdir(d)))
        if (strstr(e->d_name, needle))
            n++;
    closedir(d);
    return n;
}

static void write_file(const char *name, const char *text)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_round_trip(void **st)
{
    (void)st;
    sync_checkpoint cp = {0}, got;
    assert_int_equal(sync_checkpoint_load(dir, "orders", "to_es", &got), CE_ENOTFOUND);
    cp.position_ms = 1764108000123LL;
    cp.updated_ms = 1764108001000LL;
    cp.last_pass_started_ms = 1764107999000LL;
    cp.last_pass_finished_ms = 1764108000999LL;
    cp.last_read = 10;
    cp.last_written = 9;
    cp.last_conflicts = 1;
    cp.last_skipped = 2;
    cp.last_rejected = 3;
    cp.extra = strdup("{\"ranges_done\": [[-9223372036854775808, 0]]}");
    assert_int_equal(sync_checkpoint_save(dir, "orders", "to_es", &cp), CE_OK);
    assert_int_equal(sync_checkpoint_load(dir, "orders", "to_es", &got), CE_OK);
    assert_int_equal(got.position_ms, cp.position_ms);
    assert_int_equal(got.updated_ms, cp.updated_ms);
    assert_int_equal(got.last_pass_started_ms, cp.last_pass_started_ms);
    assert_int_equal(got.last_pass_finished_ms, cp.last_pass_finished_ms);
    assert_int_equal(got.last_read, 10);
    assert_int_equal(got.last_written, 9);
    assert_int_equal(got.last_conflicts, 1);
    assert_int_equal(got.last_skipped, 2);
    assert_int_equal(got.last_rejected, 3);
    /* extra comes back compact (same JSON value) */
    assert_string_equal(got.extra, "{\"ranges_done\":[[-9223372036854775808,0]]}");
    assert_null(got.target); /* none saved: a file from before targets were kept */
    sync_checkpoint_clear(&got);
    /* the target (table and index) round-trips, quoted */
    cp.target = strdup("ks.t \"ix\"");
    assert_int_equal(sync_checkpoint_save(dir, "orders", "to_es", &cp), CE_OK);
    assert_int_equal(sync_checkpoint_load(dir, "orders", "to_es", &got), CE_OK);
    assert_string_equal(got.target, "ks.t \"ix\"");
    sync_checkpoint_clear(&got);
    free(cp.target);
    cp.target = NULL;
    /* the other direction is a separate file */
    assert_int_equal(sync_checkpoint_load(dir, "orders", "to_cassandra", &got), CE_ENOTFOUND);
    /* overwrite: the new value wins, no temp file remains */
    free(cp.extra);
    cp.extra = NULL;
    cp.position_ms = 5;
    for (int i = 0; i < 20; i++)
        assert_int_equal(sync_checkpoint_save(dir, "orders", "to_es", &cp), CE_OK);
    assert_int_equal(sync_checkpoint_load(dir, "orders", "to_es", &got), CE_OK);
    assert_int_equal(got.position_ms, 5);
    assert_null(got.extra);
    sync_checkpoint_clear(&got);
    assert_int_equal(count_files(".tmp"), 0);
    assert_int_equal(count_files("orders.to_es.checkpoint.json"), 1);
    /* the file is readable JSON with an ISO position for humans */
    char p[600];
    snprintf(p, sizeof p, "%s/orders.to_es.checkpoint.json", dir);
    json_error_t jerr;
    json_t *j = json_load_file(p, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "position")), "1970-01-01T00:00:00.005Z");
    assert_string_equal(json_string_value(json_object_get(j, "sync")), "orders");
    json_decref(j);
    /* invalid extra is refused and the old file is kept */
    cp.extra = (char *)"{not json";
    assert_int_equal(sync_checkpoint_save(dir, "orders", "to_es", &cp), CE_EINVAL);
    assert_int_equal(sync_checkpoint_load(dir, "orders", "to_es", &got), CE_OK);
    assert_int_equal(got.position_ms, 5);
    sync_checkpoint_clear(&got);
}

static void test_odd_names_and_missing_dir(void **st)
{
    (void)st;
    sync_checkpoint cp = {.position_ms = 42}, got;
    assert_int_equal(sync_checkpoint_save(dir, "../a b/ç", "to_es", &cp), CE_OK);
    /* no path traversal: the file is inside dir, '/' and the leading '.' encoded */
    assert_int_equal(count_files("%2E.%2Fa%20b%2F%C3%A7.to_es.checkpoint.json"), 1);
    assert_int_equal(sync_checkpoint_load(dir, "../a b/ç", "to_es", &got), CE_OK);
    assert_int_equal(got.position_ms, 42);
    sync_checkpoint_clear(&got);
    assert_int_equal(sync_checkpoint_save("/nonexistent-ce-dir", "x", "to_es", &cp), CE_ENOTFOUND);
    assert_int_equal(sync_checkpoint_save(dir, "", "to_es", &cp), CE_EINVAL);
}

static void test_corrupt(void **st)
{
    (void)st;
    sync_checkpoint got;
    const char *bad[] = {"", "{", "[]", "{\"position_ms\": \"x\"}", "{\"updated_ms\": 1}",
                         "{\"position_ms\": 1, \"target\": 5}",
                         "{\"position_ms\": 1, \"last_read\": -1}", "garbage"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file("c.to_es.checkpoint.json", bad[i]);
        assert_int_equal(sync_checkpoint_load(dir, "c", "to_es", &got), CE_EJSON);
    }
    /* the corrupt file is left in place for a human */
    assert_int_equal(count_files("c.to_es.checkpoint.json"), 1);
    write_file("c.to_es.checkpoint.json", "{\"position_ms\": 7}");
    assert_int_equal(sync_checkpoint_load(dir, "c", "to_es", &got), CE_OK);
    assert_int_equal(got.position_ms, 7);
    sync_checkpoint_clear(&got);
}

static void test_lastruntime(void **st)
{
    (void)st;
    int64_t ms = 0;
    assert_int_equal(sync_lastruntime_read(dir, &ms), CE_ENOTFOUND);
    write_file("lastruntime.log", "20150812 17:45");
    assert_int_equal(sync_lastruntime_read(dir, &ms), CE_OK);
    assert_int_equal(ms, 1439401500000LL); /* 2015-08-12T17:45:00Z */
    write_file("lastruntime.log", "20150812 17:45\n");
    assert_int_equal(sync_lastruntime_read(dir, &ms), CE_OK);
    assert_int_equal(ms, 1439401500000LL);
    write_file("lastruntime.log", "2015-08-12 17:45");
    assert_int_equal(sync_lastruntime_read(dir, &ms), CE_OK);
    write_file("lastruntime.log", "yesterday");
    assert_int_equal(sync_lastruntime_read(dir, &ms), CE_EINVAL);
}

static void test_parse_since(void **st)
{
    (void)st;
    int64_t ms;
    assert_int_equal(sync_parse_since("19700101 00:00", &ms), CE_OK);
    assert_int_equal(ms, 0);
    assert_int_equal(sync_parse_since("20240229 23:59", &ms), CE_OK);
    assert_int_equal(ms, 1709251140000LL);
    assert_int_equal(sync_parse_since("2024-02-29T23:59:30Z", &ms), CE_OK);
    assert_int_equal(ms, 1709251170000LL);
    assert_int_equal(sync_parse_since("2024-02-29", &ms), CE_OK);
    assert_int_equal(ms, 1709164800000LL);
    const char *bad[] = {"", "20230229 00:00", "20231301 00:00", "20230101 24:00", "20230101 00:60",
                         "2023010 00:00", "20230101T00:00", "2023-01-01T00", "2023-01-01Z1", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (sync_parse_since(bad[i], &ms) != CE_EINVAL) {
            fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
            fail();
        }
    }
    char iso[32];
    sync_format_iso_ms(1709251170123LL, iso);
    assert_string_equal(iso, "2024-02-29T23:59:30.123Z");
}

static void test_atomic_write(void **st)
{
    (void)st;
    char p[600];
    snprintf(p, sizeof p, "%s/status.json", dir);
    assert_int_equal(sync_state_write_atomic(p, "{\"a\":1}\n", 8, 0), CE_OK);
    assert_int_equal(sync_state_write_atomic(p, "{\"a\":2}\n", 8, 0600), CE_OK);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, 8);
    assert_int_equal(count_files(".tmp"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_odd_names_and_missing_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lastruntime, setup, teardown),
        cmocka_unit_test(test_parse_since),
        cmocka_unit_test_setup_teardown(test_atomic_write, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
