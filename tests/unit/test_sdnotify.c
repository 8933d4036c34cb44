/* test_sdnotify.c - systemd notifications: the datagrams that reach a fake
 * $NOTIFY_SOCKET, the watchdog interval and its rate limit, no-ops outside systemd. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/sdnotify.h"
#include "util/log.h"

typedef struct {
    char dir[64];
    char path[96];
    int fd;
} fake_systemd;

static int setup(void **st)
{
    fake_systemd *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ce_sdnotify_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/notify", f->dir);
    f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(f->fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", f->path);
    assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    setenv("NOTIFY_SOCKET", f->path, 1);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    fake_systemd *f = *st;
    close(f->fd);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    return 0;
}

/* The next datagram, or "" when none is waiting. */
static const char *next_message(fake_systemd *f)
{
    static char buf[512];
    ssize_t n = recv(f->fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void test_states(void **st)
{
    fake_systemd *f = *st;
    sdnotify *n = sdnotify_new();
    assert_true(sdnotify_enabled(n));
    assert_int_equal(sdnotify_watchdog_usec(n), 0);
    sdnotify_ready(n, "2 syncs, period 60 s");
    assert_string_equal(next_message(f), "READY=1\nSTATUS=2 syncs, period 60 s");
    sdnotify_ready(n, NULL);
    assert_string_equal(next_message(f), "READY=1");
    sdnotify_status(n, "pass %d done in %.1f s", 3, 1.25);
    assert_string_equal(next_message(f), "STATUS=pass 3 done in 1.2 s");
    sdnotify_reloading(n);
    assert_non_null(strstr(next_message(f), "RELOADING=1\nMONOTONIC_USEC="));
    sdnotify_extend_timeout(n, 30000000);
    assert_string_equal(next_message(f), "EXTEND_TIMEOUT_USEC=30000000");
    sdnotify_stopping(n, "signal");
    assert_string_equal(next_message(f), "STOPPING=1\nSTATUS=signal");
    sdnotify_watchdog(n, 1000); /* no WatchdogSec: nothing */
    assert_string_equal(next_message(f), "");
    sdnotify_free(n);
}

static void test_watchdog(void **st)
{
    fake_systemd *f = *st;
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("WATCHDOG_USEC", "2000000", 1);
    setenv("WATCHDOG_PID", pid, 1);
    sdnotify *n = sdnotify_new();
    assert_int_equal(sdnotify_watchdog_usec(n), 2000000);
    sdnotify_watchdog(n, 10000);
    assert_string_equal(next_message(f), "WATCHDOG=1");
    sdnotify_watchdog(n, 10999); /* within half the interval: skipped */
    assert_string_equal(next_message(f), "");
    sdnotify_watchdog(n, 11000);
    assert_string_equal(next_message(f), "WATCHDOG=1");
    sdnotify_free(n);
    /* The watchdog is meant for another process: off for us. */
    setenv("WATCHDOG_PID", "1", 1);
    n = sdnotify_new();
    assert_int_equal(sdnotify_watchdog_usec(n), 0);
    sdnotify_free(n);
}

/* After a failed start attempt: the backoff plus twice the attempt, at least the margin. */
static void test_retry_extension(void **st)
{
    fake_systemd *f = *st;
    assert_int_equal(sdnotify_retry_extension_usec(1000, 5), (1000 + SDNOTIFY_RETRY_MARGIN_MS) * 1000ULL);
    assert_int_equal(sdnotify_retry_extension_usec(60000, 100000), (60000 + 200000) * 1000ULL);
    assert_int_equal(sdnotify_retry_extension_usec(0, -3), SDNOTIFY_RETRY_MARGIN_MS * 1000ULL);
    sdnotify *n = sdnotify_new();
    sdnotify_extend_timeout(n, sdnotify_retry_extension_usec(4000, 10));
    char want[64];
    snprintf(want, sizeof want, "EXTEND_TIMEOUT_USEC=%llu", (4000ULL + SDNOTIFY_RETRY_MARGIN_MS) * 1000ULL);
    assert_string_equal(next_message(f), want);
    sdnotify_free(n);
}

static void test_outside_systemd(void **st)
{
    fake_systemd *f = *st;
    unsetenv("NOTIFY_SOCKET");
    sdnotify *n = sdnotify_new();
    assert_non_null(n);
    assert_false(sdnotify_enabled(n));
    sdnotify_ready(n, "x");
    sdnotify_status(n, "y");
    sdnotify_watchdog(n, 1);
    sdnotify_stopping(n, NULL);
    assert_string_equal(next_message(f), "");
    sdnotify_free(n);
    /* A NULL handle (allocation failed) is a no-op everywhere. */
    sdnotify_ready(NULL, "x");
    sdnotify_status(NULL, "x");
    sdnotify_reloading(NULL);
    sdnotify_stopping(NULL, "x");
    sdnotify_extend_timeout(NULL, 1);
    sdnotify_watchdog(NULL, 1);
    assert_false(sdnotify_enabled(NULL));
    assert_int_equal(sdnotify_watchdog_usec(NULL), 0);
    sdnotify_free(NULL);
}

int main(void)
{
    ce_log_set_level(CE_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_states, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_extension, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outside_systemd, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
