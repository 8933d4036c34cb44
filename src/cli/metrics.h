/*
 * metrics.h - the daemon's Prometheus registry, /metrics and /healthz.
 *
 * A registry of per-(sync, direction) series fed once per pass by the daemon loop
 * (metrics_record_pass), rendered in the Prometheus text exposition format 0.0.4, and
 * served over HTTP by libmicrohttpd in its own thread. The registry knows nothing of the
 * engine: the caller maps its pass results into metrics_pass_counts.
 *
 * Health rule (shared by GET /healthz and `casselastic status`, which rebuilds a registry
 * from the status file): every registered sync, in every direction it has reported, has
 * had a successful pass within three periods (three times the larger of the period and
 * the duration of that direction's last successful pass, at least 3 s). A sync registered but not yet
 * reported gets the same grace counted from its registration. A sync whose pass is running
 * and made progress within three periods (metrics_note_progress) is healthy meanwhile, and
 * while any pass or verify makes progress so is every sync whose last pass succeeded or that
 * has not run yet (it waits for its turn).
 *
 * Every function is thread-safe (one mutex); metrics_free must not race the others.
 */
#ifndef CE_CLI_METRICS_H
#define CE_CLI_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/buf.h"
#include "util/err.h"

typedef struct metrics metrics;

typedef enum { METRICS_TO_ES = 0, METRICS_TO_CASSANDRA = 1 } metrics_direction;

/* Retries of one cause during a pass ("timeout", "overloaded", "http_429", ...). */
typedef struct {
    const char *cause;
    uint64_t n;
} metrics_retry;

/* What one pass of one direction did. Counts are added to the totals whether or not the
 * pass succeeded (a failed pass may have written records). */
typedef struct {
    uint64_t read;           /* records read from the source side */
    uint64_t written;        /* records written to the target side */
    uint64_t conflicts;      /* writes refused because the target held a newer version */
    uint64_t dead_letters;   /* records sent to the dead-letter file */
    uint64_t deletes;        /* deletes applied (e.g. old versions removed) */
    const metrics_retry *retries; /* may be NULL */
    size_t nretries;
    const char *error;       /* failed pass: why (shown by /healthz); may be NULL */
} metrics_pass_counts;

/* Split "host:port", "[v6addr]:port" or ":port" (any address). host gets "" for any
 * address (at most hostcap-1 bytes). Pure: resolves nothing. CE_EINVAL when malformed,
 * the port is not 0-65535 or the host does not fit. */
ce_err metrics_listen_parse(const char *addr, char *host, size_t hostcap, int *port);

/* Create the registry and, when listen_addr is neither NULL nor "", start the HTTP
 * server on it (port 0 picks a free port: see metrics_port). period_s is the health
 * rule's period (metrics_set_period changes it). On failure (CE_EINVAL: bad address,
 * CE_EIO: cannot listen, CE_ENOMEM) *out may still be set: metrics_errmsg says why;
 * free it in every case. */
ce_err metrics_new(const char *listen_addr, double period_s, metrics **out);
/* Detail of the last failure of metrics_new; "" when none. */
const char *metrics_errmsg(const metrics *m);
/* The TCP port the server listens on; 0 without a server. */
int metrics_port(const metrics *m);
/* Stop the server (waits for its thread) and free everything. NULL is a no-op. */
void metrics_free(metrics *m);

/* The period between passes, in seconds (the health rule's unit). */
void metrics_set_period(metrics *m, double period_s);
/* Declare a sync (idempotent): from now_ms it must pass within three periods. */
ce_err metrics_sync_register(metrics *m, const char *sync, int64_t now_ms);
/* Declare one direction of a sync (registering the sync at now_ms when new): its series are
 * shown from now on, at 0 until a pass is recorded (Prometheus practice); a direction
 * without a recorded pass counts for health as not reported. Idempotent. CE_ENOMEM. */
ce_err metrics_direction_declare(metrics *m, const char *sync, metrics_direction dir, int64_t now_ms);
/* The retry causes (copied) every series of direction dir shows, at 0 until counted: those
 * of existing series are added now, new series get them when made. A cause a pass reports
 * that is not among them gets its own line from then on. CE_ENOMEM. */
ce_err metrics_retry_causes_set(metrics *m, metrics_direction dir, const char *const *causes, size_t n);
/* Forget a sync and its series (a sync removed from the config). Unknown: no-op. */
void metrics_sync_unregister(metrics *m, const char *sync);

/* Record one pass of one direction of a sync (registering the sync when new).
 * duration_s: the pass's wall time; ok: it succeeded; window_end_ms: the checkpoint the
 * successful pass reached (Unix ms, 0 = unknown; ignored when !ok); now_ms: wall clock
 * (Unix ms) at the end of the pass. CE_ENOMEM leaves the registry consistent. */
ce_err metrics_record_pass(metrics *m, const char *sync, metrics_direction dir, const metrics_pass_counts *c,
                           double duration_s, bool ok, int64_t window_end_ms, int64_t now_ms);

/* The health inputs of one direction of a sync, for the status file (status_file.c writes
 * them, `status` rebuilds a registry from them and asks metrics_health). */
typedef struct {
    int64_t registered_ms;     /* when the sync was registered; 0 = unknown sync */
    bool reported;             /* a pass of this direction was recorded */
    bool last_ok;              /* the last recorded pass succeeded */
    int64_t last_success_ms;   /* end of the last successful pass (Unix ms); 0 = never */
    double last_success_duration_s; /* wall time of the last successful pass */
    uint64_t passes, failures; /* passes recorded, failed ones */
    uint64_t read, written, conflicts, dead_letters, deletes; /* totals, as /metrics shows them */
} metrics_direction_state;
void metrics_direction_get(metrics *m, const char *sync, metrics_direction dir, metrics_direction_state *out);

/* A pass of sync is running and made progress at now_ms (a page read, a batch written): the
 * health rule counts the sync healthy while such progress is within the limit (three
 * periods), until the pass is recorded. sync NULL: every sync (a scheduled verify, which
 * holds every sync's next pass back). metrics_progress_ms: that time, 0 when no pass of
 * the sync runs (the status file keeps it for `status`). */
void metrics_note_progress(metrics *m, const char *sync, int64_t now_ms);
int64_t metrics_progress_ms(metrics *m, const char *sync);

/* Append the text exposition (format 0.0.4) as of now_ms to out. */
ce_err metrics_render(metrics *m, int64_t now_ms, ce_buf *out);

/* The health rule at now_ms. Appends to json (when not NULL) one object:
 * {"status":"ok"|"failing","limit_seconds":N,"syncs":N,"failing":[{"sync":..,
 * "direction":..|null,"reason":..,"last_error":..|null}, ...]}. True when healthy. */
bool metrics_health(metrics *m, int64_t now_ms, ce_buf *json);

#endif
