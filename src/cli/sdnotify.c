/*
 * sdnotify.c - systemd notifications through libsystemd (see sdnotify.h).
 *
 * libsystemd rather than writing the datagram protocol ourselves: it is on every
 * systemd host anyway (libsystemd0), and it handles the details that are easy to get
 * wrong (abstract socket names, $NOTIFY_SOCKET in vsock form, fd passing, the
 * $WATCHDOG_PID check). The handle only caches what never changes for the process
 * (is there a socket, the watchdog interval) and when the watchdog was last kicked.
 */
#include "cli/sdnotify.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "util/log.h"

struct sdnotify {
    bool enabled;
    uint64_t watchdog_usec;
    _Atomic int64_t last_kick_ms; /* monotonic; kicks may come from several threads */
};

sdnotify *sdnotify_new(void)
{
    sdnotify *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    const char *sock = getenv("NOTIFY_SOCKET");
    n->enabled = sock && *sock;
    uint64_t usec = 0;
    /* > 0 only when $WATCHDOG_USEC is set and $WATCHDOG_PID (if set) is our pid. */
    if (n->enabled && sd_watchdog_enabled(0, &usec) > 0)
        n->watchdog_usec = usec;
    atomic_init(&n->last_kick_ms, 0);
    if (n->enabled)
        ce_debug("msg=\"systemd notification socket\" watchdog_usec=%llu", (unsigned long long)n->watchdog_usec);
    return n;
}

void sdnotify_free(sdnotify *n) { free(n); }

bool sdnotify_enabled(const sdnotify *n) { return n && n->enabled; }

uint64_t sdnotify_watchdog_usec(const sdnotify *n) { return n ? n->watchdog_usec : 0; }

/* One datagram; a failure is logged and otherwise ignored (systemd may be gone while
 * we stop, and nothing the daemon does depends on it). */
static void send_state(const sdnotify *n, const char *state)
{
    if (!sdnotify_enabled(n))
        return;
    int rc = sd_notify(0, state);
    if (rc < 0)
        ce_warn("msg=\"sd_notify failed\" errno=%d", -rc);
}

/* "<head>\nSTATUS=<status>" or just head; the status is cut at 200 bytes. */
static void send_with_status(const sdnotify *n, const char *head, const char *status)
{
    char msg[256];
    if (status && *status)
        snprintf(msg, sizeof msg, "%s\nSTATUS=%.200s", head, status);
    else
        snprintf(msg, sizeof msg, "%s", head);
    send_state(n, msg);
}

void sdnotify_ready(sdnotify *n, const char *status) { send_with_status(n, "READY=1", status); }

void sdnotify_stopping(sdnotify *n, const char *status) { send_with_status(n, "STOPPING=1", status); }

void sdnotify_status(sdnotify *n, const char *fmt, ...)
{
    if (!sdnotify_enabled(n))
        return;
    char text[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char msg[220];
    snprintf(msg, sizeof msg, "STATUS=%s", text);
    send_state(n, msg);
}

void sdnotify_reloading(sdnotify *n)
{
    if (!sdnotify_enabled(n))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char msg[64];
    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL);
    send_state(n, msg);
}

void sdnotify_extend_timeout(sdnotify *n, uint64_t usec)
{
    char msg[48];
    snprintf(msg, sizeof msg, "EXTEND_TIMEOUT_USEC=%llu", (unsigned long long)usec);
    send_state(n, msg);
}

uint64_t sdnotify_retry_extension_usec(int64_t backoff_ms, int64_t attempt_ms)
{
    int64_t next = attempt_ms > 0 ? 2 * attempt_ms : 0;
    if (next < SDNOTIFY_RETRY_MARGIN_MS)
        next = SDNOTIFY_RETRY_MARGIN_MS;
    return (uint64_t)((backoff_ms > 0 ? backoff_ms : 0) + next) * 1000u;
}

void sdnotify_watchdog(sdnotify *n, int64_t mono_ms)
{
    if (!n || !n->watchdog_usec)
        return;
    int64_t last = atomic_load(&n->last_kick_ms);
    if (last && mono_ms - last < (int64_t)(n->watchdog_usec / 2000))
        return;
    /* One thread wins the kick; the others see the new time and skip. */
    if (atomic_compare_exchange_strong(&n->last_kick_ms, &last, mono_ms))
        send_state(n, "WATCHDOG=1");
}
