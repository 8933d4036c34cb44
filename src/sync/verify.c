/*
 * verify.c - `verify`: the driver of one sync's compare, and the report (verify.h).
 *
 * Phases of a sync: plan (table, statement, doc-value fields, ranges; resume from the
 * progress file) -> Cassandra summaries by range (verify_cql.c; each finished range goes
 * into the progress file) -> Elasticsearch summaries (verify_es.c: one doc-value stream,
 * _ids hashed to ranges) -> compare -> descend into the ranges that differ (both sides
 * read again, id by id, verify_map.c) -> the differences, classified -> repair
 * (verify_repair.c) -> the progress file removed.
 *
 * A summary is (count, sum of versions, sum of mix(id, version)) modulo 2^64: independent
 * of the order the records arrive in. Records whose newer side is newer than the start of
 * the verify are "in flight" (written while it ran): listed, not counted as differences,
 * not repaired (docs/verify.md).
 */
#include "sync/verify_int.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sync/state.h"
#include "util/clock.h"
#include "util/log.h"

#define VERIFY_PROGRESS_MAX_AGE_MS (7LL * 86400 * 1000)
#define VERIFY_ROWS_PER_RANGE 1000
#define VERIFY_MAX_RANGES 16384
#define VERIFY_IN_FLIGHT_MIN_MS 60000

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void verify_sum_add(verify_sum *s, const char *id, size_t n, int64_t version, int64_t token)
{
    uint64_t h = sync_fnv1a(SYNC_HASH_SEED_VERIFY, id, n);
    s->count++;
    s->vsum += (uint64_t)version;
    s->hash += mix64(h ^ mix64((uint64_t)version));
    s->mix += verify_mix(token, version);
}

size_t verify_range_of(const verify_job *j, int64_t token)
{
    size_t lo = 0, hi = j->nranges; /* first range whose end >= token */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (j->ranges[mid].end < token)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < j->nranges ? lo : j->nranges - 1;
}

/* ---------------------------------------------------------------- deleted records */

bool verify_cql_row_deleted(const verify_job *j, const cql_value *cells)
{
    return sync_rowmap_is_deleted(&j->rm, cells);
}

bool verify_es_doc_deleted(const verify_job *j, const json_t *fields)
{
    if (!j->es_deleted_field)
        return false;
    return sync_json_is_deleted(json_array_get(json_object_get(fields, j->es_deleted_field), 0));
}

/* ---------------------------------------------------------------- progress */

bool verify_stop_requested(verify_job *j)
{
    return j->opts->stop && *j->opts->stop;
}

void verify_report_progress(verify_job *j, bool final)
{
    double now = ce_mono_s();
    if (!j->opts->progress || (!final && now - j->last_progress < 0.2))
        return;
    j->last_progress = now;
    size_t done = 0;
    for (size_t k = 0; k < j->nranges; k++)
        done += j->ranges[k].c_done;
    /* while the Elasticsearch thread runs its counters are its own: Cassandra's figures only */
    double f = j->nranges ? (double)done / (double)j->nranges : 0;
    uint64_t rows = j->es_threaded ? j->out->c_rows : j->rows;
    if (strcmp(j->phase, "cassandra") != 0)
        f = 1.0;
    sync_verify_progress p = {j->ctx.def->name, j->phase, done, j->nranges, rows, final ? 1.0 : f,
                              now - j->t0, final};
    j->opts->progress(&p, j->opts->progress_ud);
}

/* {"version":2,"started_ms":..,"want":..,"nranges":..,"first":..,"last":..,"agg":bool,
 *  "c":[[k,n,vsum,hash,mix],..],"done":[k,..]}: Cassandra summaries taken, ranges settled */
static ce_err progress_text(const verify_job *j, ce_buf *b)
{
    ce_err e = ce_buf_printf(b, "{\"version\":2,\"started_ms\":%lld,\"want\":%zu,\"nranges\":%zu,\"first\":%lld,"
                             "\"last\":%lld,\"agg\":%s,\"c\":[", (long long)j->started_ms, j->want, j->nranges,
                             (long long)(j->nranges ? j->ranges[0].start : 0),
                             (long long)(j->nranges ? j->ranges[j->nranges - 1].end : 0),
                             j->select_agg.len ? "true" : "false");
    const char *sep = "";
    for (size_t k = 0; k < j->nranges && !e; k++) {
        const verify_range *r = &j->ranges[k];
        if (!r->c_done)
            continue;
        e = ce_buf_printf(b, "%s[%zu,%lld,%lld,%lld,%lld]", sep, k, (long long)r->c.count, (long long)r->c.vsum,
                          (long long)r->c.hash, (long long)r->c.mix);
        sep = ",";
    }
    e = e ? e : ce_buf_append_str(b, "],\"done\":[");
    sep = "";
    for (size_t k = 0; k < j->nranges && !e; k++) {
        if (!j->ranges[k].done)
            continue;
        e = ce_buf_printf(b, "%s%zu", sep, k);
        sep = ",";
    }
    return e ? e : ce_buf_append_str(b, "]}\n");
}

void verify_progress_save(verify_job *j, bool force)
{
    double now = ce_mono_s();
    if (!j->progress_path[0] || (!force && now - j->last_save < 1.0))
        return;
    j->last_save = now;
    ce_buf b = CE_BUF_INIT;
    ce_err e = progress_text(j, &b);
    if (!e)
        e = sync_state_write_atomic(j->progress_path, b.data, b.len, 0);
    if (e)
        ce_warn("sync=%s msg=\"verify progress not saved\" path=\"%s\" error=%s", j->ctx.def->name,
                j->progress_path, ce_errname(e));
    ce_buf_free(&b);
}

/* The progress file of an earlier verify: its start and range count (before the ranges). */
static json_t *progress_load(verify_job *j)
{
    json_error_t je;
    json_t *p = json_load_file(j->progress_path, 0, &je);
    int64_t started = (int64_t)json_integer_value(json_object_get(p, "started_ms"));
    size_t want = (size_t)json_integer_value(json_object_get(p, "want"));
    if (!p || json_integer_value(json_object_get(p, "version")) != 2 || want == 0 ||
        sync_now_ms() - started > VERIFY_PROGRESS_MAX_AGE_MS) {
        json_decref(p);
        return NULL;
    }
    j->started_ms = started;
    j->want = want;
    return p;
}

/* The ranges the progress file holds, when its ring and its Cassandra mode are this one's:
 * Cassandra summaries taken (not read again) and ranges settled (not compared again). */
static void progress_apply(verify_job *j, json_t *p)
{
    size_t n = (size_t)json_integer_value(json_object_get(p, "nranges"));
    if (n != j->nranges || !n || json_integer_value(json_object_get(p, "first")) != j->ranges[0].start ||
        json_integer_value(json_object_get(p, "last")) != j->ranges[n - 1].end ||
        json_is_true(json_object_get(p, "agg")) != (j->select_agg.len > 0)) {
        ce_info("sync=%s msg=\"verify: progress file of another ring; starting over\"", j->ctx.def->name);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(p, "c"), i, v)
    {
        size_t k = (size_t)json_integer_value(json_array_get(v, 0));
        if (k >= n || json_array_size(v) != 5)
            continue;
        verify_range *r = &j->ranges[k];
        r->c.count = (uint64_t)json_integer_value(json_array_get(v, 1));
        r->c.vsum = (uint64_t)json_integer_value(json_array_get(v, 2));
        r->c.hash = (uint64_t)json_integer_value(json_array_get(v, 3));
        r->c.mix = (int64_t)json_integer_value(json_array_get(v, 4));
        r->c_done = true;
        j->out->ranges_resumed++;
    }
    json_array_foreach(json_object_get(p, "done"), i, v)
    {
        size_t k = (size_t)json_integer_value(v);
        if (k < n && j->ranges[k].c_done)
            j->ranges[k].done = true;
    }
    ce_info("sync=%s msg=\"verify resumed\" ranges_done=%zu ranges=%zu", j->ctx.def->name, j->out->ranges_resumed,
            n);
}

/* ---------------------------------------------------------------- plan */

/* How many ranges: scan_ranges, else about VERIFY_ROWS_PER_RANGE documents each (a
 * difference then costs a small descent), at least the full scan's default. */
static size_t ranges_wanted(verify_job *j)
{
    const sync_def *d = j->ctx.def;
    if (d->scan_ranges > 0)
        return (size_t)d->scan_ranges;
    size_t nhosts = cql_session_host_count(j->ctx.cql, true);
    size_t n = 64 * (nhosts ? nhosts : 1);
    size_t by_size = j->es_count > 0 ? (size_t)(j->es_count / VERIFY_ROWS_PER_RANGE) : 0;
    n = by_size > n ? by_size : n;
    return n > VERIFY_MAX_RANGES ? VERIFY_MAX_RANGES : n;
}

static ce_err plan(verify_job *j)
{
    const sync_def *d = j->ctx.def;
    ce_err e = sync_state_path_fixed(j->progress_path, sizeof j->progress_path, j->ctx.state_dir, SYNC_STATE_VERIFY,
                                     d->name, NULL);
    if (e)
        j->progress_path[0] = 0;
    e = verify_cql_plan(j);
    e = e ? e : verify_es_plan(j);
    if (!e && j->es_version_field && es_index_doc_count(j->ctx.es, d->index, &j->es_count) != CE_OK)
        j->es_count = 0;
    json_t *p = e || !j->progress_path[0] ? NULL : progress_load(j);
    if (!p) {
        j->started_ms = sync_now_ms();
        j->want = ranges_wanted(j);
    }
    /* in flight: newer than the start less what a running sync may not have carried over yet */
    int64_t margin = (int64_t)(2000.0 * j->ctx.cfg->period_s) + d->safety_lag_ms;
    margin = margin > VERIFY_IN_FLIGHT_MIN_MS ? margin : VERIFY_IN_FLIGHT_MIN_MS;
    j->start_v = sync_version_floor(j->started_ms - margin, d->version_unit_us);
    e = e ? e : verify_cql_ranges(j);
    if (!e && p)
        progress_apply(j, p);
    json_decref(p);
    j->out->ranges = j->nranges;
    if (!e)
        ce_info("sync=%s msg=\"verify\" ranges=%zu resumed=%zu es_docs=%lld select=\"%s\"", d->name, j->nranges,
                j->out->ranges_resumed, (long long)j->es_count, j->select.data);
    return e;
}

/* ---------------------------------------------------------------- differences */

static bool same_source(const char *a, const char *b) { return b && *a && strcmp(a, b) == 0; }

/* The fix of one difference (provenance rules: docs/verify.md). An absence that is a
 * mark (deleted_col) on the other side is settled by versions, not provenance: the mark
 * as new as the live record or newer deletes it; an older mark is overwritten by a copy. */
static sync_fix choose_fix(const verify_job *j, const sync_diff *df)
{
    const sync_def *d = j->ctx.def;
    if (df->marked && df->kind == SYNC_DIFF_ONLY_CASSANDRA)
        return df->mark_version >= df->c_version ? SYNC_FIX_DELETE_CASSANDRA : SYNC_FIX_COPY_TO_ES;
    if (df->marked && df->kind == SYNC_DIFF_ONLY_ES)
        return df->mark_version >= df->e_version ? SYNC_FIX_DELETE_ES : SYNC_FIX_COPY_TO_CASSANDRA;
    switch (df->kind) {
    case SYNC_DIFF_ONLY_CASSANDRA:
        return same_source(df->c_source, d->es_source_id) ? SYNC_FIX_DELETE_CASSANDRA : SYNC_FIX_COPY_TO_ES;
    case SYNC_DIFF_ONLY_ES:
        return same_source(df->e_source, d->cassandra_source_id) ? SYNC_FIX_DELETE_ES : SYNC_FIX_COPY_TO_CASSANDRA;
    case SYNC_DIFF_OLDER_CASSANDRA: return SYNC_FIX_COPY_TO_CASSANDRA;
    case SYNC_DIFF_OLDER_ES:
    default: return SYNC_FIX_COPY_TO_ES;
    }
}

typedef struct {
    verify_job *j;
    ce_err e;
} diff_walk;

static void add_diff(verify_rec *r, void *ud)
{
    diff_walk *w = ud;
    sync_verify_result *out = w->j->out;
    if ((r->has_c && r->has_e && r->c_version == r->e_version) || (!r->has_c && !r->has_e) || w->e)
        return; /* the same, or absent (or marked) on both sides */
    sync_diff *v = realloc(out->diffs, (out->ndiffs + 1) * sizeof *v);
    if (!v) {
        w->e = CE_ENOMEM;
        return;
    }
    out->diffs = v;
    sync_diff *df = &v[out->ndiffs++];
    memset(df, 0, sizeof *df);
    df->id = r->id;
    r->id = NULL; /* the diff owns it now; the map frees the rest */
    df->has_c = r->has_c;
    df->has_e = r->has_e;
    df->c_version = r->c_version;
    df->e_version = r->e_version;
    df->c_writetime = r->c_writetime;
    memcpy(df->c_source, r->c_source, sizeof df->c_source);
    memcpy(df->e_source, r->e_source, sizeof df->e_source);
    df->kind = !r->has_e ? SYNC_DIFF_ONLY_CASSANDRA : !r->has_c ? SYNC_DIFF_ONLY_ES
             : r->c_version < r->e_version ? SYNC_DIFF_OLDER_CASSANDRA : SYNC_DIFF_OLDER_ES;
    df->marked = df->kind == SYNC_DIFF_ONLY_CASSANDRA ? r->e_marked : df->kind == SYNC_DIFF_ONLY_ES && r->c_marked;
    df->mark_version = df->kind == SYNC_DIFF_ONLY_CASSANDRA ? r->e_mark_version : r->c_mark_version;
    int64_t newest = r->has_c && (!r->has_e || r->c_version > r->e_version) ? r->c_version : r->e_version;
    if (df->marked && df->mark_version > newest)
        newest = df->mark_version;
    df->in_flight = newest >= w->j->start_v;
    df->fix = choose_fix(w->j, df);
    if (df->in_flight)
        out->in_flight++;
    else
        out->counts[df->kind]++;
}

static int diff_cmp(const void *a, const void *b)
{
    return strcmp(((const sync_diff *)a)->id, ((const sync_diff *)b)->id);
}

#define VERIFY_EXACT 9007199254740992.0 /* 2^53: doubles hold every integer below */
#define VERIFY_AGG_MAX_COUNT (1u << 20) /* terms below 2^32: their sum stays below 2^52 */

static bool exact(double x) { return x > -VERIFY_EXACT && x < VERIFY_EXACT; }

/* The aggregated documents of r (token field): their version sum modulo 2^64 and their mix
 * sum, from the doubles of the aggregation. false when they cannot be trusted exact. */
static bool agg_sums(const verify_job *j, const verify_range *r, uint64_t *vsum, int64_t *mix, bool *has_mix)
{
    *has_mix = j->es_int_version;
    if (!j->es_int_version) { /* a plain sum of the field: exact below 2^53 */
        *vsum = (uint64_t)r->e_agg_sum;
        return r->e_agg_sum >= 0 && r->e_agg_sum < VERIFY_EXACT;
    }
    if (r->e_agg_count > VERIFY_AGG_MAX_COUNT || !exact(r->e_agg_lo) || !exact(r->e_agg_hi) || !exact(r->e_agg_mix))
        return false;
    /* version = P * (version / P) + version % P, term by term, so for the sums too */
    *vsum = (uint64_t)(int64_t)r->e_agg_hi * (uint64_t)VERIFY_MIX_P + (uint64_t)(int64_t)r->e_agg_lo;
    *mix = (int64_t)r->e_agg_mix;
    return true;
}

/* Whether a range's summaries differ: count, version sum and mix always; the id hash too
 * when Cassandra's rows were read (not aggregated) and no document was aggregated. A sum
 * that cannot be trusted exact counts as a difference: the range is read id by id. */
static bool range_differs(const verify_job *j, const verify_range *r)
{
    bool hashed = j->select_agg.len == 0;
    if (r->e_agg_count == 0)
        return r->c.count != r->e.count || r->c.vsum != r->e.vsum || r->c.mix != r->e.mix ||
               (hashed && r->c.hash != r->e.hash);
    uint64_t vsum = 0;
    int64_t mix = 0;
    bool has_mix = false;
    if (r->c.count != r->e.count + r->e_agg_count || !agg_sums(j, r, &vsum, &mix, &has_mix))
        return true;
    return r->c.vsum - r->e.vsum != vsum || (has_mix && r->c.mix - r->e.mix != mix);
}

/* Read both sides of the ranges that differ, id by id, and list what differs. */
static ce_err descend(verify_job *j)
{
    for (size_t k = 0; k < j->nranges; k++) {
        verify_range *r = &j->ranges[k];
        r->differs = !r->done && range_differs(j, r);
        r->done = !r->differs;
        j->out->ranges_differing += r->differs;
    }
    verify_progress_save(j, true); /* the equal ranges are settled: a resumed verify skips them */
    if (!j->out->ranges_differing)
        return CE_OK;
    j->phase = "descend";
    ce_err e = verify_map_new(&j->map);
    e = e ? e : verify_cql_read(j, true);
    e = e ? e : verify_es_read(j, true);
    diff_walk w = {j, CE_OK};
    if (!e)
        verify_map_each(j->map, add_diff, &w);
    e = e ? e : w.e;
    if (j->out->ndiffs > 1)
        qsort(j->out->diffs, j->out->ndiffs, sizeof *j->out->diffs, diff_cmp);
    return e;
}

/* ---------------------------------------------------------------- one sync */

static void job_init(verify_job *j, const sync_pass_env *env, const sync_def *d, const sync_verify_opts *o,
                     sync_verify_result *out)
{
    sync_pass_ctx *c = &j->ctx;
    c->cql = env->cql;
    c->es = env->es;
    c->dl = env->dl;
    c->cfg = env->cfg;
    sync_def_sizes(d, &c->sized);
    c->def = &c->sized;
    c->dir = &sync_dir_to_es; /* the reader's log lines and retries are C->E's */
    c->read_cl = env->read_cl;
    c->write_cl = env->write_cl;
    c->res = &j->res;
    c->state_dir = env->state_dir;
    c->pass_started_ms = sync_now_ms();
    snprintf(j->res.name, sizeof j->res.name, "%s", d->name);
    j->opts = o;
    j->out = out;
    j->phase = "plan";
    j->t0 = ce_mono_s();
    snprintf(out->name, sizeof out->name, "%s", d->name);
}

static void job_free(verify_job *j)
{
    verify_map_free(j->map);
    sync_table_plan_free(&j->tp);
    ce_buf_free(&j->select);
    ce_buf_free(&j->select_agg);
    free(j->ranges);
    free(j->es_version_field);
    free(j->es_source_field);
    free(j->es_deleted_field);
    free(j->es_token_field);
}

/* The Elasticsearch summaries (aggregations, then the doc-value stream), on their own
 * thread while the main one reads Cassandra: the two sides are read at the same time. */
static void *es_summaries(void *arg)
{
    verify_job *j = arg;
    double t = ce_mono_s();
    ce_err e = verify_es_aggregate(j);
    e = e ? e : verify_es_read(j, false);
    if (e && !j->es_rc)
        verify_es_fail(j, e, "elasticsearch: %s", ce_strerror(e));
    ce_debug("sync=%s msg=\"verify: elasticsearch summaries\" seconds=%.3f streamed=%llu aggregated=%llu",
             j->ctx.def->name, ce_mono_s() - t, (unsigned long long)j->out->e_docs,
             (unsigned long long)j->out->e_docs_aggregated);
    atomic_store(&j->es_done, true);
    return NULL;
}

/* Wait for the Elasticsearch thread, reporting progress meanwhile (a daemon's watchdog is fed
 * by the progress callback, and the thread may stream for long after Cassandra is read). */
static void wait_es_thread(verify_job *j, pthread_t th)
{
    j->phase = "elasticsearch";
    while (!atomic_load(&j->es_done)) {
        verify_report_progress(j, false);
        ce_sleep_ms(100);
    }
    pthread_join(th, NULL);
}

static ce_err summaries(verify_job *j)
{
    pthread_t th;
    atomic_store(&j->es_done, false);
    j->es_threaded = pthread_create(&th, NULL, es_summaries, j) == 0;
    if (!j->es_threaded)
        es_summaries(j); /* no thread: one after the other */
    j->phase = "cassandra";
    double t = ce_mono_s();
    ce_err e = verify_cql_read(j, false);
    if (!e)
        verify_progress_save(j, true);
    ce_debug("sync=%s msg=\"verify: cassandra summaries\" seconds=%.3f rows=%llu", j->ctx.def->name, ce_mono_s() - t,
             (unsigned long long)j->out->c_rows);
    if (e == CE_ECANCELED || e)
        ce_debug("sync=%s msg=\"verify: waiting for the elasticsearch reader\"", j->ctx.def->name);
    if (j->es_threaded)
        wait_es_thread(j, th);
    j->es_threaded = false;
    j->rows = j->out->c_rows + j->out->e_docs;
    if (!e && j->es_rc)
        sync_pass_fail(&j->ctx, j->es_rc, "%s", j->es_error);
    return e ? e : j->es_rc;
}

static ce_err run_phases(verify_job *j)
{
    ce_err e = plan(j);
    e = e ? e : summaries(j);
    e = e ? e : descend(j);
    j->phase = "repair";
    e = e || !j->opts->repair ? e : verify_repair_run(j);
    return e;
}

static ce_err verify_one(const sync_pass_env *env, const sync_def *d, const sync_verify_opts *o,
                         sync_verify_result *out)
{
    verify_job *j = calloc(1, sizeof *j);
    if (!j)
        return CE_ENOMEM;
    job_init(j, env, d, o, out);
    ce_err e = run_phases(j);
    if (e && !j->ctx.rc)
        sync_pass_fail(&j->ctx, e, NULL, NULL);
    if (!e && j->progress_path[0])
        unlink(j->progress_path);
    else if (e && e != CE_ECONFIG && j->nranges)
        verify_progress_save(j, true);
    out->rc = e;
    snprintf(out->error, sizeof out->error, "%s", j->res.error[0] ? j->res.error : e ? ce_strerror(e) : "");
    out->seconds = ce_mono_s() - j->t0;
    verify_report_progress(j, true);
    ce_log(e ? CE_LOG_ERROR : CE_LOG_INFO,
           "sync=%s msg=\"verify %s\" ranges=%zu differing=%zu only_cassandra=%zu only_es=%zu older_cassandra=%zu "
           "older_es=%zu in_flight=%zu fixed=%zu seconds=%.3f%s%s%s", d->name, e ? "failed" : "done", out->ranges,
           out->ranges_differing, out->counts[0], out->counts[1], out->counts[2], out->counts[3], out->in_flight,
           out->fixed, out->seconds, out->error[0] ? " error=\"" : "", out->error, out->error[0] ? "\"" : "");
    job_free(j);
    free(j);
    return e;
}

size_t sync_verify_remaining(const sync_verify_result *r, bool repair)
{
    size_t n = 0;
    for (int k = 0; k < SYNC_DIFF_KINDS; k++)
        n += r->counts[k];
    return repair ? (n > r->fixed ? n - r->fixed : 0) : n;
}

const char *sync_verify_outcome(const sync_verify_result *r, bool repair)
{
    if (r->rc)
        return r->rc == CE_ECANCELED ? "stopped" : "failed";
    return sync_verify_remaining(r, repair) ? "different" : "equal";
}

/* Each finished sync's outcome into casselastic.verify.json (the other syncs' kept). */
static void record_outcomes(const char *state_dir, const sync_verify_report *rep, bool repair)
{
    char path[1024];
    if (sync_state_path_fixed(path, sizeof path, state_dir, SYNC_STATE_VERIFY_LAST, NULL, NULL))
        return;
    json_error_t je;
    json_t *all = json_load_file(path, 0, &je);
    if (!json_is_object(all)) {
        json_decref(all);
        all = json_object();
    }
    for (size_t i = 0; all && i < rep->nsyncs; i++) {
        const sync_verify_result *r = &rep->syncs[i];
        if (r->rc == CE_ECANCELED)
            continue;
        json_object_set_new(all, r->name,
                            json_pack("{s:I,s:s,s:I,s:I,s:I,s:s}", "finished_ms", (json_int_t)sync_now_ms(), "result",
                                      sync_verify_outcome(r, repair), "differences",
                                      (json_int_t)sync_verify_remaining(r, repair), "in_flight",
                                      (json_int_t)r->in_flight, "fixed", (json_int_t)r->fixed, "error", r->error));
    }
    char *text = all ? json_dumps(all, JSON_COMPACT) : NULL;
    if (!text || sync_state_write_atomic(path, text, strlen(text), 0))
        ce_warn("msg=\"verify outcome not recorded\" path=\"%s\"", path);
    free(text);
    json_decref(all);
}

ce_err sync_engine_verify(sync_engine *eng, const sync_verify_opts *o, sync_verify_report *report)
{
    sync_pass_env env;
    sync_engine_env(eng, &env);
    const sync_config *cfg = env.cfg;
    memset(report, 0, sizeof *report);
    report->syncs = calloc(cfg->nsyncs ? cfg->nsyncs : 1, sizeof *report->syncs);
    if (!report->syncs)
        return CE_ENOMEM;
    ce_err first = CE_OK;
    for (size_t i = 0; i < cfg->nsyncs; i++) {
        report->nsyncs++;
        ce_err e = verify_one(&env, &cfg->syncs[i], o, &report->syncs[i]);
        if (e && !first)
            first = e;
        if (e == CE_ECANCELED)
            break;
    }
    record_outcomes(env.state_dir, report, o->repair);
    return first;
}

void sync_verify_report_free(sync_verify_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nsyncs; i++) {
        for (size_t k = 0; k < r->syncs[i].ndiffs; k++)
            free(r->syncs[i].diffs[k].id);
        free(r->syncs[i].diffs);
    }
    free(r->syncs);
    memset(r, 0, sizeof *r);
}

const char *sync_diff_kind_name(sync_diff_kind k)
{
    static const char *const names[] = {"only_cassandra", "only_es", "older_cassandra", "older_es"};
    return k < SYNC_DIFF_KINDS ? names[k] : "?";
}

const char *sync_fix_name(sync_fix f)
{
    static const char *const names[] = {"none", "copy_to_es", "copy_to_cassandra", "delete_cassandra",
                                        "delete_es"};
    return f <= SYNC_FIX_DELETE_ES ? names[f] : "?";
}
