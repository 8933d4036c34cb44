/*
 * engine.c - the sync engine: connects to both sides and runs passes (see engine.h).
 *
 * A pass runs every sync of the config in turn, each in its directions (Elasticsearch ->
 * Cassandra first, then Cassandra -> Elasticsearch), each direction over its own window:
 *   [checkpoint - overlap, now - safety_lag)
 * (start: --since, else the checkpoint, else PyCassElastic's lastruntime.log, else 0).
 * The checkpoint moves to the window end only when the direction's pass succeeded,
 * i.e. every item got a final acknowledgement; a failed or stopped pass leaves it.
 * One summary log line per sync and direction; docs/sync.md explains the whole.
 */
#include "sync/engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "sync/checkpoint.h"
#include "sync/sync_int.h"
#include "util/log.h"
#include "util/clock.h"

struct sync_engine {
    const sync_config *cfg;
    cql_session *cql;
    es_client *es;
    sync_deadletter *dl;
    sync_pass_result *results;
    cql_consistency read_cl, write_cl;
    char config_dir[1024];
    char errmsg[512];
};

bool sync_stop_requested(const sync_pass_ctx *ctx)
{
    return ctx->opts && ctx->opts->stop && *ctx->opts->stop;
}

const char *sync_keyspace(const sync_pass_ctx *ctx)
{
    if (ctx->def->keyspace && *ctx->def->keyspace)
        return ctx->def->keyspace;
    return ctx->cfg->cassandra.keyspace ? ctx->cfg->cassandra.keyspace : "";
}

void sync_progress(sync_pass_ctx *ctx, const char *dir, uint64_t read, uint64_t done, double fraction,
                   bool final)
{
    if (!ctx->opts || !ctx->opts->progress)
        return;
    sync_progress_info p = {ctx->def->name, dir, read, done, fraction,
                            (double)(sync_now_ms() - ctx->pass_started_ms) / 1000.0, final};
    ctx->opts->progress(&p, ctx->opts->progress_ud);
}

static void set_err(sync_engine *e, const char *what, const char *detail)
{
    snprintf(e->errmsg, sizeof e->errmsg, "%s: %s", what, detail ? detail : "");
}

static int default_port(int p) { return p > 0 ? p : 9042; }

static void mkdir_p(const char *dir)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            (void)mkdir(tmp, 0755);
            *p = '/';
        }
    }
    (void)mkdir(tmp, 0755);
}

static const char *state_dir(const sync_engine *e)
{
    if (e->cfg->state_dir && *e->cfg->state_dir)
        return e->cfg->state_dir;
    return e->config_dir[0] ? e->config_dir : ".";
}

ce_err sync_engine_new(const sync_config *cfg, sync_engine **out)
{
    *out = NULL;
    sync_engine *e = calloc(1, sizeof *e);
    if (!e)
        return CE_ENOMEM;
    *out = e;
    e->cfg = cfg;
    if (cfg->config_path) {
        snprintf(e->config_dir, sizeof e->config_dir, "%s", cfg->config_path);
        char *slash = strrchr(e->config_dir, '/');
        if (slash && slash != e->config_dir)
            *slash = 0;
        else if (slash)
            slash[1] = 0;
        else
            snprintf(e->config_dir, sizeof e->config_dir, ".");
    }
    const sync_cassandra_conf *k = &cfg->cassandra;
    int rcl = cql_consistency_parse(k->read_consistency ? k->read_consistency : "local_quorum");
    int wcl = cql_consistency_parse(k->write_consistency ? k->write_consistency : "local_quorum");
    if (rcl < 0 || wcl < 0) {
        set_err(e, "cassandra", "unknown consistency level");
        return CE_ECONFIG;
    }
    e->read_cl = (cql_consistency)rcl;
    e->write_cl = (cql_consistency)wcl;

    /* Cassandra */
    static const char *const localhost[] = {"127.0.0.1"};
    cql_session_opts co;
    cql_session_opts_init(&co);
    co.contact_points = k->nhosts ? (const char *const *)k->hosts : localhost;
    co.ncontact_points = k->nhosts ? k->nhosts : 1;
    co.port = (uint16_t)default_port(k->port);
    co.username = k->username;
    co.password = k->password;
    co.tls = k->tls;
    co.tls_ca_file = k->tls_ca_file;
    co.tls_cert_file = k->tls_cert_file;
    co.tls_key_file = k->tls_key_file;
    co.tls_no_verify = k->tls_no_verify;
    co.protocol_version = k->protocol_version;
    co.compression = k->compression;
    if (k->request_timeout_ms > 0)
        co.request_timeout_ms = k->request_timeout_ms;
    ce_err rc = cql_session_connect(&co, &e->cql);
    if (rc) {
        set_err(e, "cassandra", e->cql ? cql_session_errmsg(e->cql) : ce_strerror(rc));
        return rc;
    }
    ce_info("msg=\"connected to cassandra\" hosts=%zu protocol=v%d", cql_session_host_count(e->cql, true),
            cql_session_protocol_version(e->cql));

    /* Elasticsearch / OpenSearch */
    static const char *const localurl[] = {"http://127.0.0.1:9200"};
    const sync_es_conf *s = &cfg->es;
    es_client_opts eo;
    es_client_opts_init(&eo);
    eo.urls = s->nurls ? (const char *const *)s->urls : localurl;
    eo.nurls = s->nurls ? s->nurls : 1;
    eo.username = s->username;
    eo.password = s->password;
    eo.api_key = s->api_key;
    eo.bearer_token = s->bearer_token;
    eo.tls_ca_file = s->tls_ca_file;
    eo.tls_cert_file = s->tls_cert_file;
    eo.tls_key_file = s->tls_key_file;
    eo.tls_no_verify = s->tls_no_verify;
    if (s->request_timeout_ms > 0)
        eo.request_timeout_ms = s->request_timeout_ms;
    rc = es_client_new(&eo, &e->es);
    if (rc) {
        set_err(e, "elasticsearch", e->es ? es_client_errmsg(e->es) : ce_strerror(rc));
        return rc;
    }
    ce_info("msg=\"connected to elasticsearch\" flavor=%s version=%s",
            es_client_flavor(e->es) == ES_FLAVOR_OPENSEARCH ? "opensearch" : "elasticsearch",
            es_client_version(e->es));

    /* dead letters */
    char dlpath[1200];
    if (cfg->dead_letter_path && *cfg->dead_letter_path)
        snprintf(dlpath, sizeof dlpath, "%s", cfg->dead_letter_path);
    else
        snprintf(dlpath, sizeof dlpath, "%s/casselastic.deadletter.jsonl", state_dir(e));
    char dldir[1200];
    snprintf(dldir, sizeof dldir, "%s", dlpath);
    char *slash = strrchr(dldir, '/');
    if (slash && slash != dldir) {
        *slash = 0;
        mkdir_p(dldir);
    }
    mkdir_p(state_dir(e));
    rc = sync_deadletter_open(dlpath, &e->dl);
    if (rc) {
        set_err(e, "dead-letter file", strerror(errno));
        return rc;
    }
    return CE_OK;
}

const char *sync_engine_errmsg(const sync_engine *e) { return e ? e->errmsg : "out of memory"; }

static void format_ms(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms < 0 || !gmtime_r(&t, &tm)) {
        snprintf(out, 32, "%lld", (long long)ms);
        return;
    }
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", base, (int)(ms % 1000));
}

/* One direction of one sync. */
static ce_err run_direction(sync_engine *e, const sync_pass_opts *o, const sync_def *d,
                            sync_pass_result *res, bool to_es)
{
    const char *dir = to_es ? "to_es" : "to_cassandra";
    sync_checkpoint cp;
    memset(&cp, 0, sizeof cp);
    ce_err rc = sync_checkpoint_load(state_dir(e), d->name, dir, &cp);
    bool has_cp = rc == CE_OK;
    if (rc && rc != CE_ENOTFOUND) {
        ce_error("sync=%s dir=%s msg=\"checkpoint unreadable; not running this direction\" error=%s",
                 d->name, dir, ce_errname(rc));
        snprintf(res->error, sizeof res->error, "%s: checkpoint file unreadable (%s)", dir, ce_errname(rc));
        sync_checkpoint_clear(&cp);
        return rc;
    }
    int64_t lastrun = 0;
    bool has_lastrun = !has_cp &&
                       sync_lastruntime_read(e->config_dir[0] ? e->config_dir : state_dir(e), &lastrun) == CE_OK;
    sync_pass_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.cql = e->cql;
    ctx.es = e->es;
    ctx.dl = e->dl;
    ctx.cfg = e->cfg;
    ctx.def = d;
    ctx.opts = o;
    ctx.read_cl = e->read_cl;
    ctx.write_cl = e->write_cl;
    ctx.res = res;
    ctx.pass_started_ms = sync_now_ms();
    ctx.state_dir = state_dir(e);
    sync_window_compute(o && o->has_since, o ? o->since_ms : 0, has_cp, cp.position_ms, has_lastrun,
                        lastrun, d->overlap_ms, d->safety_lag_ms, ctx.pass_started_ms, &ctx.win);
    ctx.has_checkpoint = has_cp;
    res->window_start_ms = ctx.win.start_ms;
    res->window_end_ms = ctx.win.end_ms;
    double t0 = ce_mono_s();
    rc = to_es ? sync_c2e_run(&ctx) : sync_e2c_run(&ctx);
    double secs = ce_mono_s() - t0;
    res->seconds += secs;
    *(to_es ? &res->c2e_seconds : &res->e2c_seconds) = secs;

    uint64_t nread = to_es ? res->c2e_read : res->e2c_read;
    uint64_t nwritten = to_es ? res->c2e_indexed : res->e2c_written;
    uint64_t nconf = to_es ? res->c2e_conflicts : 0;
    uint64_t nskip = to_es ? res->c2e_skipped : res->e2c_skipped;
    uint64_t nrej = to_es ? res->c2e_rejected : res->e2c_rejected;
    uint64_t nfail = to_es ? res->c2e_failed : res->e2c_failed;
    char ws[32], we[32];
    format_ms(ctx.win.start_ms, ws);
    format_ms(ctx.win.end_ms, we);
    if (rc == CE_OK) {
        cp.position_ms = ctx.win.end_ms;
        cp.updated_ms = sync_now_ms();
        cp.last_pass_started_ms = ctx.pass_started_ms;
        cp.last_pass_finished_ms = cp.updated_ms;
        cp.last_read = nread;
        cp.last_written = nwritten;
        cp.last_conflicts = nconf;
        cp.last_skipped = nskip;
        cp.last_rejected = nrej;
        ce_err se = sync_checkpoint_save(state_dir(e), d->name, dir, &cp);
        if (se) {
            ce_error("sync=%s dir=%s msg=\"checkpoint not saved\" error=%s", d->name, dir, ce_errname(se));
            snprintf(res->error, sizeof res->error, "%s: checkpoint not saved (%s)", dir, ce_errname(se));
            rc = se;
        }
    }
    if (rc == CE_ECANCELED && !res->error[0])
        snprintf(res->error, sizeof res->error, "%s: stopped before the end of the window", dir);
    ce_log(rc == CE_OK ? CE_LOG_INFO : rc == CE_ECANCELED ? CE_LOG_WARN : CE_LOG_ERROR,
           "sync=%s dir=%s msg=\"pass %s\" window_start=%s window_end=%s read=%llu %s=%llu "
           "conflicts=%llu skipped=%llu rejected=%llu failed=%llu seconds=%.3f rate=%.0f%s%s%s",
           d->name, dir,
           rc == CE_OK ? "done" : rc == CE_ECANCELED ? "stopped" : "failed", ws, we,
           (unsigned long long)nread, to_es ? "indexed" : "written", (unsigned long long)nwritten,
           (unsigned long long)nconf, (unsigned long long)nskip, (unsigned long long)nrej,
           (unsigned long long)nfail, secs, secs > 0 ? (double)nread / secs : 0.0,
           res->error[0] ? " error=\"" : "", res->error[0] ? res->error : "", res->error[0] ? "\"" : "");
    sync_checkpoint_clear(&cp);
    *(to_es ? &res->c2e_ok : &res->e2c_ok) = rc == CE_OK;
    return rc;
}

ce_err sync_engine_pass(sync_engine *e, const sync_pass_opts *o, sync_pass_report *report)
{
    const sync_config *cfg = e->cfg;
    free(e->results);
    e->results = calloc(cfg->nsyncs ? cfg->nsyncs : 1, sizeof *e->results);
    if (!e->results)
        return CE_ENOMEM;
    report->nsyncs = cfg->nsyncs;
    report->syncs = e->results;
    e->errmsg[0] = 0;
    bool any_failed = false, canceled = false;
    for (size_t i = 0; i < cfg->nsyncs && !canceled; i++) {
        const sync_def *d = &cfg->syncs[i];
        sync_pass_result *res = &e->results[i];
        snprintf(res->name, sizeof res->name, "%s", d->name ? d->name : "");
        res->ok = true;
        /* Elasticsearch -> Cassandra first: Cassandra's last-write-wins then settles
         * which copy is newest even for documents indexed without external versions,
         * and the Cassandra -> Elasticsearch pass carries the result over. */
        if (d->direction == SYNC_DIR_BOTH || d->direction == SYNC_DIR_TO_CASSANDRA) {
            ce_err rc = run_direction(e, o, d, res, false);
            if (rc == CE_ECANCELED)
                canceled = true;
            else if (rc)
                res->ok = false;
        }
        if (!canceled && o && o->stop && *o->stop)
            canceled = true;
        if (!canceled && (d->direction == SYNC_DIR_BOTH || d->direction == SYNC_DIR_TO_ES)) {
            ce_err rc = run_direction(e, o, d, res, true);
            if (rc == CE_ECANCELED)
                canceled = true;
            else if (rc)
                res->ok = false;
        }
        if (canceled)
            res->ok = false;
        if (!res->ok) {
            any_failed = true;
            if (!e->errmsg[0])
                snprintf(e->errmsg, sizeof e->errmsg, "sync %s: %s", res->name,
                         res->error[0] ? res->error : (canceled ? "stopped" : "failed"));
        }
        if (!canceled && o && o->stop && *o->stop)
            canceled = true;
    }
    if (canceled) {
        for (size_t i = 0; i < cfg->nsyncs; i++)
            if (!e->results[i].name[0])
                snprintf(e->results[i].name, sizeof e->results[i].name, "%s",
                         cfg->syncs[i].name ? cfg->syncs[i].name : "");
        return CE_ECANCELED;
    }
    return any_failed ? CE_EPARTIAL : CE_OK;
}

void sync_engine_free(sync_engine *e)
{
    if (!e)
        return;
    sync_deadletter_close(e->dl);
    es_client_free(e->es);
    for (size_t i = 0; e->cql && i < cql_session_host_count(e->cql, false); i++) {
        const char *addr;
        bool up;
        uint64_t req;
        if (cql_session_host_info(e->cql, i, &addr, &up, &req))
            ce_debug("msg=\"cql host requests\" host=%s up=%d requests=%llu", addr, (int)up,
                     (unsigned long long)req);
    }
    cql_session_free(e->cql);
    free(e->results);
    free(e);
}

void sync_result_set_error(sync_pass_result *res, const char *fmt, const char *detail)
{
    if (res->error[0])
        return;
    char tmp[1024];
    snprintf(tmp, sizeof tmp, fmt, detail ? detail : "");
    size_t n = strlen(tmp);
    if (n >= sizeof res->error)
        n = sizeof res->error - 1;
    memcpy(res->error, tmp, n);
    res->error[n] = 0;
}
