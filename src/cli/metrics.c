/*
 * metrics.c - Prometheus registry and HTTP endpoints of the daemon (see metrics.h).
 *
 * The registry is a flat list of series, one per (sync, direction), each holding its
 * counters, its pass-duration histogram and what the health rule needs. Rendering walks
 * tables of families (one row per family: name, help, how to read the value), so a new
 * counter is a new field and a new row. The HTTP side is libmicrohttpd with its own
 * polling thread; its handler renders under the registry's mutex into a fresh buffer.
 */
#include "cli/metrics.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "cli/textout.h"
#include "util/jsonw.h"
#include "util/log.h"
#include "version.h"

/* Upper bounds of the pass-duration histogram, seconds: passes run from well under a
 * second (an idle window) to hours (a first full copy). */
static const double duration_bounds[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
#define NBOUNDS (sizeof duration_bounds / sizeof duration_bounds[0])

#define HEALTH_PERIODS 3.0
#define HEALTH_MIN_PERIOD_S 1.0

typedef struct {
    char *cause;
    uint64_t n;
} retry_total;

typedef struct {
    char *sync;
    metrics_direction dir;
    uint64_t read, written, conflicts, dead_letters, deletes, failures;
    retry_total *retries;
    size_t nretries, retries_cap;
    uint64_t bucket[NBOUNDS]; /* passes that fell in each bound (not cumulative) */
    uint64_t passes;          /* histogram _count */
    double seconds_sum;       /* histogram _sum */
    double last_duration_s;
    double last_ok_duration_s; /* of the last successful pass: the health limit's unit */
    int64_t checkpoint_ms;    /* window end of the last successful pass; 0 = none */
    int64_t last_success_ms;  /* 0 = never */
    bool last_ok;
    char *last_error;
} series;

typedef struct {
    char *name;
    int64_t registered_ms;
    int64_t progress_ms;      /* last progress of a pass still running (Unix ms); 0 = none */
} registered_sync;

struct metrics {
    pthread_mutex_t lock;
    double period_s;
    series *v;
    size_t n, cap;
    registered_sync *syncs;
    size_t nsyncs, syncs_cap;
    int64_t progress_ms;      /* last progress of any running pass or verify (Unix ms) */
    struct MHD_Daemon *httpd;
    bool starting;            /* server_start runs: its log lines explain a failure */
    int port;
    int64_t start_ms;         /* process_start_time_seconds */
    char **causes[2];         /* per direction: the retry causes every series shows from 0 */
    size_t ncauses[2];
    char errmsg[512];
};

static const char *const direction_names[] = {"to_es", "to_cassandra"};

/* ------------------------------------------------------------------ registry */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The array v (n used of *cap) with room for one more element (doubling, 8 at first);
 * NULL when out of memory (v is then unchanged). */
static void *grow(void *v, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return v;
    size_t nc = *cap ? *cap * 2 : 8;
    void *nv = realloc(v, nc * elem);
    if (nv)
        *cap = nc;
    return nv;
}

static registered_sync *sync_find(metrics *m, const char *name)
{
    for (size_t i = 0; i < m->nsyncs; i++)
        if (strcmp(m->syncs[i].name, name) == 0)
            return &m->syncs[i];
    return NULL;
}

static ce_err sync_add_locked(metrics *m, const char *name, int64_t now_ms)
{
    if (sync_find(m, name))
        return CE_OK;
    registered_sync *v = grow(m->syncs, &m->syncs_cap, m->nsyncs, sizeof *v);
    if (!v)
        return CE_ENOMEM;
    m->syncs = v;
    char *copy = strdup(name);
    if (!copy)
        return CE_ENOMEM;
    m->syncs[m->nsyncs++] = (registered_sync){copy, now_ms, 0};
    return CE_OK;
}

static ce_err series_add_retry(series *s, const char *cause, uint64_t n);

static series *series_get(metrics *m, const char *sync, metrics_direction dir)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].dir == dir && strcmp(m->v[i].sync, sync) == 0)
            return &m->v[i];
    series *v = grow(m->v, &m->cap, m->n, sizeof *v);
    if (!v)
        return NULL;
    m->v = v;
    series *s = &m->v[m->n];
    memset(s, 0, sizeof *s);
    s->sync = strdup(sync);
    if (!s->sync)
        return NULL;
    s->dir = dir;
    m->n++;
    for (size_t i = 0; i < m->ncauses[dir]; i++)
        if (series_add_retry(s, m->causes[dir][i], 0) != CE_OK)
            return NULL;
    return s;
}

static void series_clear(series *s)
{
    free(s->sync);
    for (size_t i = 0; i < s->nretries; i++)
        free(s->retries[i].cause);
    free(s->retries);
    free(s->last_error);
}

static ce_err series_add_retry(series *s, const char *cause, uint64_t n)
{
    for (size_t i = 0; i < s->nretries; i++)
        if (strcmp(s->retries[i].cause, cause) == 0) {
            s->retries[i].n += n;
            return CE_OK;
        }
    retry_total *v = grow(s->retries, &s->retries_cap, s->nretries, sizeof *v);
    if (!v)
        return CE_ENOMEM;
    s->retries = v;
    char *copy = strdup(cause);
    if (!copy)
        return CE_ENOMEM;
    s->retries[s->nretries++] = (retry_total){copy, n};
    return CE_OK;
}

static void series_add_duration(series *s, double seconds)
{
    if (!(seconds >= 0)) /* also NaN */
        seconds = 0;
    for (size_t i = 0; i < NBOUNDS; i++)
        if (seconds <= duration_bounds[i]) {
            s->bucket[i]++;
            break;
        }
    s->passes++;
    s->seconds_sum += seconds;
    s->last_duration_s = seconds;
}

ce_err metrics_sync_register(metrics *m, const char *sync, int64_t now_ms)
{
    pthread_mutex_lock(&m->lock);
    ce_err err = sync_add_locked(m, sync, now_ms);
    pthread_mutex_unlock(&m->lock);
    return err;
}

void metrics_sync_unregister(metrics *m, const char *sync)
{
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->nsyncs; i++)
        if (strcmp(m->syncs[i].name, sync) == 0) {
            free(m->syncs[i].name);
            m->syncs[i] = m->syncs[--m->nsyncs];
            break;
        }
    size_t keep = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->v[i].sync, sync) == 0)
            series_clear(&m->v[i]);
        else
            m->v[keep++] = m->v[i];
    }
    m->n = keep;
    pthread_mutex_unlock(&m->lock);
}

ce_err metrics_direction_declare(metrics *m, const char *sync, metrics_direction dir, int64_t now_ms)
{
    if ((unsigned)dir > METRICS_TO_CASSANDRA)
        return CE_EINVAL;
    pthread_mutex_lock(&m->lock);
    ce_err err = sync_add_locked(m, sync, now_ms);
    if (!err && !series_get(m, sync, dir))
        err = CE_ENOMEM;
    pthread_mutex_unlock(&m->lock);
    return err;
}

static void causes_free(metrics *m, metrics_direction dir)
{
    for (size_t i = 0; i < m->ncauses[dir]; i++)
        free(m->causes[dir][i]);
    free(m->causes[dir]);
    m->causes[dir] = NULL;
    m->ncauses[dir] = 0;
}

static ce_err causes_set_locked(metrics *m, metrics_direction dir, const char *const *causes, size_t n)
{
    causes_free(m, dir);
    m->causes[dir] = calloc(n ? n : 1, sizeof *m->causes[dir]);
    if (!m->causes[dir])
        return CE_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!(m->causes[dir][i] = strdup(causes[i])))
            return CE_ENOMEM;
        m->ncauses[dir]++;
    }
    ce_err err = CE_OK;
    for (size_t i = 0; i < m->n && !err; i++)
        for (size_t k = 0; k < n && !err && m->v[i].dir == dir; k++)
            err = series_add_retry(&m->v[i], causes[k], 0);
    return err;
}

ce_err metrics_retry_causes_set(metrics *m, metrics_direction dir, const char *const *causes, size_t n)
{
    if ((unsigned)dir > METRICS_TO_CASSANDRA)
        return CE_EINVAL;
    pthread_mutex_lock(&m->lock);
    ce_err err = causes_set_locked(m, dir, causes, n);
    pthread_mutex_unlock(&m->lock);
    return err;
}

static ce_err record_locked(metrics *m, const char *sync, metrics_direction dir, const metrics_pass_counts *c,
                            double duration_s, bool ok, int64_t window_end_ms, int64_t now_ms)
{
    ce_err err = sync_add_locked(m, sync, now_ms);
    series *s = err ? NULL : series_get(m, sync, dir);
    if (!s)
        return CE_ENOMEM;
    sync_find(m, sync)->progress_ms = 0; /* the pass is over */
    s->read += c->read;
    s->written += c->written;
    s->conflicts += c->conflicts;
    s->dead_letters += c->dead_letters;
    s->deletes += c->deletes;
    for (size_t i = 0; i < c->nretries && !err; i++)
        if (c->retries[i].cause && c->retries[i].n)
            err = series_add_retry(s, c->retries[i].cause, c->retries[i].n);
    series_add_duration(s, duration_s);
    free(s->last_error);
    s->last_error = NULL;
    s->last_ok = ok;
    if (ok) {
        s->last_success_ms = now_ms;
        s->last_ok_duration_s = s->last_duration_s;
        if (window_end_ms > 0)
            s->checkpoint_ms = window_end_ms;
    } else {
        s->failures++;
        if (c->error && *c->error)
            s->last_error = strdup(c->error);
    }
    return err;
}

ce_err metrics_record_pass(metrics *m, const char *sync, metrics_direction dir, const metrics_pass_counts *c,
                           double duration_s, bool ok, int64_t window_end_ms, int64_t now_ms)
{
    static const metrics_pass_counts none;
    if ((unsigned)dir > METRICS_TO_CASSANDRA)
        return CE_EINVAL;
    pthread_mutex_lock(&m->lock);
    ce_err err = record_locked(m, sync, dir, c ? c : &none, duration_s, ok, window_end_ms, now_ms);
    pthread_mutex_unlock(&m->lock);
    return err;
}

void metrics_direction_get(metrics *m, const char *sync, metrics_direction dir, metrics_direction_state *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&m->lock);
    const registered_sync *rs = sync_find(m, sync);
    if (rs)
        out->registered_ms = rs->registered_ms;
    for (size_t i = 0; i < m->n; i++) {
        const series *s = &m->v[i];
        if (s->dir != dir || strcmp(s->sync, sync) != 0 || s->passes == 0)
            continue; /* a declared direction without a pass has nothing to report */
        out->reported = true;
        out->last_ok = s->last_ok;
        out->last_success_ms = s->last_success_ms;
        out->last_success_duration_s = s->last_ok_duration_s;
        out->passes = s->passes;
        out->failures = s->failures;
        out->read = s->read;
        out->written = s->written;
        out->conflicts = s->conflicts;
        out->dead_letters = s->dead_letters;
        out->deletes = s->deletes;
    }
    pthread_mutex_unlock(&m->lock);
}

void metrics_note_progress(metrics *m, const char *sync, int64_t now_ms)
{
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->nsyncs; i++)
        if (!sync || strcmp(m->syncs[i].name, sync) == 0)
            m->syncs[i].progress_ms = now_ms;
    if (now_ms > m->progress_ms)
        m->progress_ms = now_ms;
    pthread_mutex_unlock(&m->lock);
}

int64_t metrics_progress_ms(metrics *m, const char *sync)
{
    pthread_mutex_lock(&m->lock);
    const registered_sync *rs = sync_find(m, sync);
    int64_t v = rs ? rs->progress_ms : 0;
    pthread_mutex_unlock(&m->lock);
    return v;
}

void metrics_set_period(metrics *m, double period_s)
{
    pthread_mutex_lock(&m->lock);
    m->period_s = period_s;
    pthread_mutex_unlock(&m->lock);
}

/* ------------------------------------------------------------------ text exposition */

/* Label values escape backslash, double quote and newline; HELP text backslash and
 * newline (exposition format 0.0.4). */
static void put_escaped(cli_text_out *t, const char *s, bool quote)
{
    for (; *s && !t->err; s++) {
        if (*s == '\\')
            cli_text_put(t, "\\\\");
        else if (*s == '\n')
            cli_text_put(t, "\\n");
        else if (*s == '"' && quote)
            cli_text_put(t, "\\\"");
        else
            cli_text_byte(t, *s);
    }
}

/* A sample value and the end of its line. */
static void put_value(cli_text_out *t, double v)
{
    if (isnan(v))
        cli_text_put(t, "NaN\n");
    else if (isinf(v))
        cli_text_put(t, v > 0 ? "+Inf\n" : "-Inf\n");
    else
        cli_text_printf(t, "%.15g\n", v);
}

static void put_count(cli_text_out *t, uint64_t v) { cli_text_printf(t, "%llu\n", (unsigned long long)v); }

static void put_family(cli_text_out *t, const char *name, const char *type, const char *help)
{
    cli_text_printf(t, "# HELP %s ", name);
    put_escaped(t, help, false);
    cli_text_printf(t, "\n# TYPE %s %s\n", name, type);
}

/* name{sync="..",direction=".."[,extra="value"]} and the space before the value. */
static void put_labels(cli_text_out *t, const char *name, const series *s, const char *extra, const char *value)
{
    cli_text_printf(t, "%s{sync=\"", name);
    put_escaped(t, s->sync, true);
    cli_text_printf(t, "\",direction=\"%s\"", direction_names[s->dir]);
    if (extra) {
        cli_text_printf(t, ",%s=\"", extra);
        put_escaped(t, value, true);
        cli_text_put(t, "\"");
    }
    cli_text_put(t, "} ");
}

typedef struct {
    const char *name;
    const char *help;
    size_t offset; /* of a uint64_t in series */
} counter_family;

static const counter_family counters[] = {
    {"casselastic_records_read_total", "Records read from the source side of a direction.", offsetof(series, read)},
    {"casselastic_records_written_total", "Records written to the target side of a direction.",
     offsetof(series, written)},
    {"casselastic_conflicts_total", "Writes skipped because the target already held a newer version.",
     offsetof(series, conflicts)},
    {"casselastic_dead_letters_total", "Records sent to the dead-letter file (not convertible or refused).",
     offsetof(series, dead_letters)},
    {"casselastic_deletes_total", "Deletes applied: soft deletes (deleted_col) on the target side; to_es also old versions removed.",
     offsetof(series, deletes)},
    {"casselastic_pass_failures_total", "Passes that failed.", offsetof(series, failures)},
};

static void render_counters(const metrics *m, cli_text_out *t)
{
    for (size_t f = 0; f < sizeof counters / sizeof counters[0]; f++) {
        put_family(t, counters[f].name, "counter", counters[f].help);
        for (size_t i = 0; i < m->n; i++) {
            uint64_t v;
            memcpy(&v, (const char *)&m->v[i] + counters[f].offset, sizeof v);
            put_labels(t, counters[f].name, &m->v[i], NULL, NULL);
            put_count(t, v);
        }
    }
    put_family(t, "casselastic_retries_total", "counter",
               "Work sent again, by cause: es_bulk documents re-sent in bulk requests, cassandra_read pages "
               "read again (to_es); es_429, es_5xx, es_connection HTTP requests the Elasticsearch client "
               "retried; cassandra_overloaded, cassandra_connection, cassandra_unprepared CQL requests the "
               "Cassandra session retried.");
    for (size_t i = 0; i < m->n; i++)
        for (size_t r = 0; r < m->v[i].nretries; r++) {
            put_labels(t, "casselastic_retries_total", &m->v[i], "cause", m->v[i].retries[r].cause);
            put_count(t, m->v[i].retries[r].n);
        }
}

static void render_histogram(const metrics *m, cli_text_out *t)
{
    put_family(t, "casselastic_pass_duration_seconds", "histogram", "Wall time of one pass of one direction.");
    for (size_t i = 0; i < m->n; i++) {
        const series *s = &m->v[i];
        uint64_t cumulative = 0;
        char le[32];
        for (size_t k = 0; k < NBOUNDS; k++) {
            cumulative += s->bucket[k];
            snprintf(le, sizeof le, "%.15g", duration_bounds[k]);
            put_labels(t, "casselastic_pass_duration_seconds_bucket", s, "le", le);
            put_count(t, cumulative);
        }
        put_labels(t, "casselastic_pass_duration_seconds_bucket", s, "le", "+Inf");
        put_count(t, s->passes);
        put_labels(t, "casselastic_pass_duration_seconds_sum", s, NULL, NULL);
        put_value(t, s->seconds_sum);
        put_labels(t, "casselastic_pass_duration_seconds_count", s, NULL, NULL);
        put_count(t, s->passes);
    }
}

static void render_gauges(const metrics *m, int64_t now_ms, cli_text_out *t)
{
    static const char lag[] = "casselastic_checkpoint_lag_seconds";
    static const char last[] = "casselastic_last_success_timestamp_seconds";
    put_family(t, lag, "gauge", "Seconds between now and the checkpoint of the last successful pass.");
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].checkpoint_ms > 0) {
            put_labels(t, lag, &m->v[i], NULL, NULL);
            put_value(t, (double)(now_ms - m->v[i].checkpoint_ms) / 1000.0);
        }
    put_family(t, last, "gauge", "Unix time of the end of the last successful pass.");
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].last_success_ms > 0) {
            put_labels(t, last, &m->v[i], NULL, NULL);
            put_value(t, (double)m->v[i].last_success_ms / 1000.0);
        }
}

/* When the process started (Unix ms): /proc/self/stat's starttime (clock ticks after boot,
 * field 22) plus /proc/stat's btime; fallback when either cannot be read. */
static int64_t process_start_ms(int64_t fallback)
{
    char buf[1024];
    unsigned long long ticks = 0, btime = 0;
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    int field = 2;
    while (p && *p && field < 22)
        if (*p++ == ' ')
            field++;
    if (!p || sscanf(p, "%llu", &ticks) != 1)
        return fallback;
    f = fopen("/proc/stat", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "btime %llu", &btime) == 1)
            break;
    if (f)
        fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (!btime || hz <= 0)
        return fallback;
    return (int64_t)btime * 1000 + (int64_t)(ticks * 1000 / (unsigned long long)hz);
}

/* Resident set size from /proc/self/statm (second field, in pages); 0 when unreadable. */
static double process_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    if (!f)
        return 0;
    int got = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return got == 2 && page > 0 ? (double)resident * (double)page : 0;
}

/* CPU from getrusage: the same counters as /proc/self/stat, in microseconds rather than
 * clock ticks. The names and help texts are those of the Prometheus client libraries. */
static void render_process(const metrics *m, cli_text_out *t)
{
    struct rusage ru;
    double cpu = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
              ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    put_family(t, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
    cli_text_put(t, "process_cpu_seconds_total ");
    put_value(t, cpu);
    put_family(t, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    cli_text_put(t, "process_resident_memory_bytes ");
    put_value(t, process_rss_bytes());
    put_family(t, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
    cli_text_put(t, "process_start_time_seconds ");
    put_value(t, (double)m->start_ms / 1000.0);
}

ce_err metrics_render(metrics *m, int64_t now_ms, ce_buf *out)
{
    size_t start = out->len;
    cli_text_out t = {out, CE_OK};
    pthread_mutex_lock(&m->lock);
    put_family(&t, "casselastic_build_info", "gauge", "Always 1; the version label says which casselastic runs.");
    cli_text_put(&t, "casselastic_build_info{version=\"");
    put_escaped(&t, CE_VERSION, true);
    cli_text_put(&t, "\"} 1\n");
    render_counters(m, &t);
    render_histogram(m, &t);
    render_gauges(m, now_ms, &t);
    pthread_mutex_unlock(&m->lock);
    render_process(m, &t);
    if (t.err)
        out->len = start;
    return t.err;
}

/* ------------------------------------------------------------------ health */

/* Three periods, stretched for a direction whose successful passes outlast the period (a
 * failing pass, however slow, does not stretch it: it is what the rule should catch). */
static double health_limit_s(const metrics *m, const series *s)
{
    double p = m->period_s;
    if (s && s->last_ok_duration_s > p)
        p = s->last_ok_duration_s;
    if (!(p >= HEALTH_MIN_PERIOD_S))
        p = HEALTH_MIN_PERIOD_S;
    return HEALTH_PERIODS * p;
}

static void health_failing(ce_buf *json, size_t *nfail, const char *sync, const series *s, const char *reason)
{
    if (!json)
        return;
    ce_buf_append_str(json, (*nfail)++ ? ",{\"sync\":" : "{\"sync\":");
    jsonw_cstr(json, sync);
    ce_buf_append_str(json, ",\"direction\":");
    if (s)
        jsonw_cstr(json, direction_names[s->dir]);
    else
        jsonw_null(json);
    ce_buf_append_str(json, ",\"reason\":");
    jsonw_cstr(json, reason);
    ce_buf_append_str(json, ",\"last_error\":");
    if (s && s->last_error)
        jsonw_cstr(json, s->last_error);
    else
        jsonw_null(json);
    ce_buf_append_byte(json, '}');
}

static bool recent(const metrics *m, int64_t at_ms, int64_t now_ms)
{
    return at_ms && (double)(now_ms - at_ms) / 1000.0 <= health_limit_s(m, NULL);
}

/* One registered sync: is each of its directions recent enough? Returns the failures. Work
 * that keeps moving is no failure: a pass of this sync still running that made progress
 * within the limit (an initial load, a burst longer than three periods) keeps it healthy,
 * and while any pass or verify makes progress, a sync whose last pass succeeded, or that has
 * not run yet, is only waiting for its turn (the syncs run one after the other). The rule
 * catches passes that fail or stall. */
static size_t health_sync(const metrics *m, const registered_sync *rs, int64_t now_ms, ce_buf *json, size_t *nfail)
{
    size_t failed = 0, seen = 0;
    char reason[160];
    if (recent(m, rs->progress_ms, now_ms))
        return 0;
    bool busy = recent(m, m->progress_ms, now_ms);
    for (size_t i = 0; i < m->n; i++) {
        const series *s = &m->v[i];
        if (strcmp(s->sync, rs->name) != 0 || s->passes == 0)
            continue;
        seen++;
        double limit = health_limit_s(m, s);
        double age = (double)(now_ms - (s->last_success_ms ? s->last_success_ms : rs->registered_ms)) / 1000.0;
        if (age <= limit || (busy && s->last_ok))
            continue;
        if (s->last_success_ms)
            snprintf(reason, sizeof reason, "last successful pass %.0f s ago (limit %.0f s)", age, limit);
        else
            snprintf(reason, sizeof reason, "no successful pass in the %.0f s since start (limit %.0f s)", age,
                     limit);
        health_failing(json, nfail, rs->name, s, reason);
        failed++;
    }
    double age = (double)(now_ms - rs->registered_ms) / 1000.0;
    if (!seen && !busy && age > health_limit_s(m, NULL)) {
        snprintf(reason, sizeof reason, "no pass finished in the %.0f s since start (limit %.0f s)", age,
                 health_limit_s(m, NULL));
        health_failing(json, nfail, rs->name, NULL, reason);
        failed++;
    }
    return failed;
}

bool metrics_health(metrics *m, int64_t now_ms, ce_buf *json)
{
    size_t failed = 0, nfail = 0;
    ce_buf list = CE_BUF_INIT;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->nsyncs; i++)
        failed += health_sync(m, &m->syncs[i], now_ms, json ? &list : NULL, &nfail);
    if (json) {
        ce_buf_printf(json, "{\"status\":\"%s\",\"limit_seconds\":", failed ? "failing" : "ok");
        jsonw_double(json, health_limit_s(m, NULL));
        ce_buf_printf(json, ",\"syncs\":%zu,\"failing\":[", m->nsyncs);
        ce_buf_append(json, list.data, list.len);
        ce_buf_append_str(json, "]}");
    }
    pthread_mutex_unlock(&m->lock);
    ce_buf_free(&list);
    return failed == 0;
}

/* ------------------------------------------------------------------ HTTP */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type, ce_buf *body)
{
    size_t len = 0;
    char *data = ce_buf_steal(body, &len);
    if (!data)
        return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* GET /metrics, GET /healthz; anything else 404 (405 for other methods). A request
 * body is not expected: the answer is queued on the first call. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **req)
{
    (void)version;
    (void)upload_data;
    (void)req;
    metrics *m = cls;
    ce_buf body = CE_BUF_INIT;
    *upload_size = 0;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        ce_buf_append_str(&body, "method not allowed\n");
        return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", &body);
    }
    int64_t now = wall_ms();
    if (strcmp(url, "/metrics") == 0) {
        if (metrics_render(m, now, &body) != CE_OK)
            return MHD_NO;
        return respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &body);
    }
    if (strcmp(url, "/healthz") == 0) {
        bool ok = metrics_health(m, now, &body);
        ce_buf_append_byte(&body, '\n');
        return respond(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", &body);
    }
    ce_buf_append_str(&body, strcmp(url, "/") == 0 ? "casselastic: see /metrics and /healthz\n" : "not found\n");
    return respond(conn, strcmp(url, "/") == 0 ? MHD_HTTP_OK : MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8",
                   &body);
}

/* libmicrohttpd's messages go to our log (and the last one explains a failed start). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    metrics *m = cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    for (char *p = line; *p; p++)
        if (*p == '"' || *p == '\n')
            *p = *p == '"' ? '\'' : ' ';
    if (m->starting)
        snprintf(m->errmsg, sizeof m->errmsg, "%s", line);
    ce_warn("msg=\"metrics server\" detail=\"%s\"", line);
}

ce_err metrics_listen_parse(const char *addr, char *host, size_t hostcap, int *port)
{
    const char *h = addr, *colon;
    size_t hl;
    if (!addr)
        return CE_EINVAL;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':' || close == addr + 1)
            return CE_EINVAL;
        h = addr + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
            return CE_EINVAL; /* no port, or an IPv6 address without brackets */
        hl = (size_t)(colon - addr);
    }
    const char *p = colon + 1;
    size_t digits = strspn(p, "0123456789");
    if (digits == 0 || digits > 5 || p[digits] || atol(p) > 65535 || hl >= hostcap)
        return CE_EINVAL;
    *port = (int)atol(p);
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (strcmp(host, "*") == 0)
        host[0] = '\0';
    return CE_OK;
}

static ce_err server_start(metrics *m, const char *addr)
{
    char host[128], portstr[8];
    int port;
    if (metrics_listen_parse(addr, host, sizeof host, &port)) {
        snprintf(m->errmsg, sizeof m->errmsg, "bad listen address \"%.200s\" (expected host:port, [v6]:port or :port)",
                 addr);
        return CE_EINVAL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res = NULL;
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host[0] ? host : NULL, portstr, &hints, &res);
    if (rc) {
        snprintf(m->errmsg, sizeof m->errmsg, "cannot resolve \"%s\": %s", host, gai_strerror(rc));
        return CE_EINVAL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (res->ai_family == AF_INET6)
        flags |= host[0] ? MHD_USE_IPv6 : MHD_USE_DUAL_STACK;
    m->starting = true;
    m->httpd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR, res->ai_addr,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned)16, MHD_OPTION_CONNECTION_TIMEOUT,
                                (unsigned)10, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, m, MHD_OPTION_END);
    freeaddrinfo(res);
    m->starting = false;
    if (!m->httpd) {
        char why[sizeof m->errmsg];
        snprintf(why, sizeof why, "%s", m->errmsg[0] ? m->errmsg : "unknown error");
        snprintf(m->errmsg, sizeof m->errmsg, "cannot listen on %.200s: %.200s", addr, why);
        return CE_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->httpd, MHD_DAEMON_INFO_BIND_PORT);
    m->port = info && info->port ? info->port : port;
    m->errmsg[0] = '\0';
    ce_info("msg=\"metrics server listening\" addr=\"%s\" port=%d", addr, m->port);
    return CE_OK;
}

/* ------------------------------------------------------------------ lifecycle */

ce_err metrics_new(const char *listen_addr, double period_s, metrics **out)
{
    metrics *m = calloc(1, sizeof *m);
    *out = m;
    if (!m)
        return CE_ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    m->period_s = period_s;
    m->start_ms = process_start_ms(wall_ms());
    if (!listen_addr || !*listen_addr)
        return CE_OK;
    return server_start(m, listen_addr);
}

const char *metrics_errmsg(const metrics *m) { return m ? m->errmsg : "out of memory"; }

int metrics_port(const metrics *m) { return m->port; }

void metrics_free(metrics *m)
{
    if (!m)
        return;
    if (m->httpd)
        MHD_stop_daemon(m->httpd);
    for (size_t i = 0; i < m->n; i++)
        series_clear(&m->v[i]);
    free(m->v);
    for (size_t i = 0; i < m->nsyncs; i++)
        free(m->syncs[i].name);
    free(m->syncs);
    causes_free(m, METRICS_TO_ES);
    causes_free(m, METRICS_TO_CASSANDRA);
    pthread_mutex_destroy(&m->lock);
    free(m);
}
