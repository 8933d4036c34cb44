/*
 * sdnotify.h - telling systemd how the daemon is doing (Type=notify units).
 *
 * READY=1 once the daemon can work, STATUS= lines for `systemctl status`, RELOADING=1
 * around a config reload, STOPPING=1 on the way out, and WATCHDOG=1 kicks when the unit
 * sets WatchdogSec=. Sent with libsystemd's sd_notify to $NOTIFY_SOCKET. Outside systemd
 * (no $NOTIFY_SOCKET) every call is a cheap no-op, and so is every call on a NULL handle.
 */
#ifndef CE_CLI_SDNOTIFY_H
#define CE_CLI_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sdnotify sdnotify;

/* Read $NOTIFY_SOCKET and the watchdog settings ($WATCHDOG_USEC for this pid) once.
 * Returns a handle whether or not systemd is there; NULL only when out of memory (the
 * functions below accept NULL). Free with sdnotify_free. */
sdnotify *sdnotify_new(void);
void sdnotify_free(sdnotify *n);

/* Is a notification socket set (are we a Type=notify service)? */
bool sdnotify_enabled(const sdnotify *n);
/* The watchdog interval in microseconds; 0 when the unit has no WatchdogSec. */
uint64_t sdnotify_watchdog_usec(const sdnotify *n);

/* READY=1 with an optional STATUS text (may be NULL). */
void sdnotify_ready(sdnotify *n, const char *status);
/* STATUS=<printf text>, shown by `systemctl status`. */
void sdnotify_status(sdnotify *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* RELOADING=1 (with MONOTONIC_USEC, as Type=notify-reload wants); follow with
 * sdnotify_ready when the reload is done or refused. */
void sdnotify_reloading(sdnotify *n);
/* STOPPING=1 with an optional STATUS text. */
void sdnotify_stopping(sdnotify *n, const char *status);
/* EXTEND_TIMEOUT_USEC: ask for more time to start (e.g. while retrying the servers):
 * systemd then waits usec more for the next message (READY=1 or another extension)
 * before it gives up on the start (TimeoutStartSec). */
void sdnotify_extend_timeout(sdnotify *n, uint64_t usec);

/* The least time to wait while retrying the servers before READY=1. */
#define SDNOTIFY_RETRY_MARGIN_MS 120000

/* The extension (µs) to ask for after a failed start attempt that took attempt_ms, before
 * sleeping backoff_ms: the sleep plus the next attempt, counted as twice this one but at
 * least SDNOTIFY_RETRY_MARGIN_MS (an attempt refused at once may time out next time). */
uint64_t sdnotify_retry_extension_usec(int64_t backoff_ms, int64_t attempt_ms);

/* Kick the watchdog when half its interval has passed since the last kick. Cheap and
 * thread-safe: call it from every loop that may run long (the sleep between passes, the
 * pass's progress callback). mono_ms: a monotonic clock in ms (util/clock.h). */
void sdnotify_watchdog(sdnotify *n, int64_t mono_ms);

#endif
