/*
 * engine.c - the sync engine: connects to both sides and drives passes (see engine.h).
 *
 * A pass runs every sync of the config in turn, each in its directions (Elasticsearch ->
 * Cassandra first, then Cassandra -> Elasticsearch); pass.c runs one direction of one
 * sync (window, phases, checkpoint, summary line). The engine owns the connections, the
 * dead-letter file and the results; it prints nothing (ce_log and the progress callback
 * are the caller's).
 */
#include "sync/engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sync/state.h"
#include "sync/c2e_int.h"
#include "util/log.h"

#define SYNC_BUDGET_BASE ((size_t)16 << 20) /* memory_limit_mb's part for the process itself */

struct sync_engine {
    const sync_config *cfg;
    cql_session *cql;
    es_client *es;
    sync_deadletter *dl;
    sync_budget *budget;           /* memory_limit_mb; NULL: none */
    sync_pass_result *results;
    cql_consistency read_cl, write_cl;
    char config_dir[1024];
    char errmsg[512];
};

static void set_err(sync_engine *e, const char *what, const char *detail)
{
    snprintf(e->errmsg, sizeof e->errmsg, "%s: %s", what, detail ? detail : "");
}

static const char *state_dir(const sync_engine *e)
{
    if (e->cfg->state_dir && *e->cfg->state_dir)
        return e->cfg->state_dir;
    return e->config_dir[0] ? e->config_dir : ".";
}

/* The folder of the config file ("." when it has none). */
static void set_config_dir(sync_engine *e, const char *config_path)
{
    if (!config_path)
        return;
    snprintf(e->config_dir, sizeof e->config_dir, "%s", config_path);
    char *slash = strrchr(e->config_dir, '/');
    if (slash && slash != e->config_dir)
        *slash = 0;
    else if (slash)
        slash[1] = 0;
    else
        snprintf(e->config_dir, sizeof e->config_dir, ".");
}

/* Consistency levels: a name the loader did not fill keeps the client's default. */
static ce_err parse_consistency(const char *name, cql_consistency *cl)
{
    if (!name)
        return CE_OK;
    int v = cql_consistency_parse(name);
    if (v < 0)
        return CE_ECONFIG;
    *cl = (cql_consistency)v;
    return CE_OK;
}

/* timeout_ms > 0: the connect and request time-outs (a quick look such as `check`);
 * 0: the config's. */
/* The largest answer a client keeps in one piece: half of memory_limit_mb (128 MiB at
 * the default, above Elasticsearch's 100 MB request limit, so any document it took can
 * be read back; docs/sync.md), never more than the client's own default (client_max);
 * 0 (the default) without a budget. */
static size_t answer_limit(const sync_config *cfg, size_t client_max)
{
    if (cfg->memory_limit_mb <= 0)
        return 0;
    size_t half = ((size_t)cfg->memory_limit_mb << 20) / 2;
    return half < client_max ? half : 0;
}

static ce_err connect_cassandra(sync_engine *e, int timeout_ms)
{
    const sync_cassandra_conf *k = &e->cfg->cassandra;
    cql_session_opts co;
    cql_session_opts_init(&co);
    co.contact_points = (const char *const *)k->hosts;
    co.ncontact_points = k->nhosts;
    if (k->port > 0)
        co.port = (uint16_t)k->port;
    co.username = k->username;
    co.password = k->password;
    co.tls = k->tls;
    co.tls_ca_file = k->tls_ca_file;
    co.tls_cert_file = k->tls_cert_file;
    co.tls_key_file = k->tls_key_file;
    co.tls_no_verify = k->tls_no_verify;
    co.protocol_version = k->protocol_version;
    co.compression = k->compression;
    co.max_message_bytes = answer_limit(e->cfg, CQL_MAX_MESSAGE_DEFAULT);
    if (k->request_timeout_ms > 0)
        co.request_timeout_ms = k->request_timeout_ms;
    if (timeout_ms > 0)
        co.connect_timeout_ms = co.request_timeout_ms = timeout_ms;
    ce_err rc = cql_session_connect(&co, &e->cql);
    if (rc) {
        set_err(e, "cassandra", e->cql ? cql_session_errmsg(e->cql) : ce_strerror(rc));
        return rc;
    }
    ce_info("msg=\"connected to cassandra\" hosts=%zu protocol=v%d", cql_session_host_count(e->cql, true),
            cql_session_protocol_version(e->cql));
    return CE_OK;
}

static ce_err connect_es(sync_engine *e)
{
    const sync_es_conf *s = &e->cfg->es;
    es_client_opts eo;
    es_client_opts_init(&eo);
    eo.urls = (const char *const *)s->urls;
    eo.nurls = s->nurls;
    eo.username = s->username;
    eo.password = s->password;
    eo.api_key = s->api_key;
    eo.bearer_token = s->bearer_token;
    eo.tls_ca_file = s->tls_ca_file;
    eo.tls_cert_file = s->tls_cert_file;
    eo.tls_key_file = s->tls_key_file;
    eo.tls_no_verify = s->tls_no_verify;
    if (answer_limit(e->cfg, ES_RESPONSE_MAX_DEFAULT))
        eo.max_response_bytes = answer_limit(e->cfg, ES_RESPONSE_MAX_DEFAULT);
    if (s->request_timeout_ms > 0)
        eo.request_timeout_ms = s->request_timeout_ms;
    ce_err rc = es_client_new(&eo, &e->es);
    if (rc) {
        set_err(e, "elasticsearch", e->es ? es_client_errmsg(e->es) : ce_strerror(rc));
        return rc;
    }
    ce_info("msg=\"connected to elasticsearch\" flavor=%s version=%s",
            es_client_flavor(e->es) == ES_FLAVOR_OPENSEARCH ? "opensearch" : "elasticsearch",
            es_client_version(e->es));
    return CE_OK;
}

/* The state folder, and the dead-letter file (by default in it). */
static ce_err open_state(sync_engine *e)
{
    ce_buf dlpath = CE_BUF_INIT;
    const char *dp = e->cfg->dead_letter_path;
    ce_err rc = sync_state_mkdir(state_dir(e));
    if (rc) {
        set_err(e, "state folder", strerror(errno));
        return rc;
    }
    rc = dp && *dp ? ce_buf_append_str(&dlpath, dp)
                   : sync_state_path(&dlpath, state_dir(e), SYNC_STATE_DEADLETTER, NULL, NULL);
    rc = rc ? rc : (ce_buf_cstr(&dlpath) ? CE_OK : CE_ENOMEM);
    char *slash = rc ? NULL : strrchr(dlpath.data, '/');
    if (slash && slash != dlpath.data) {
        *slash = 0;
        (void)sync_state_mkdir(dlpath.data); /* a failure shows when the file is opened */
        *slash = '/';
    }
    rc = rc ? rc : sync_deadletter_open(dlpath.data, &e->dl);
    if (rc)
        set_err(e, "dead-letter file", rc == CE_ENOMEM ? ce_strerror(rc) : strerror(errno));
    ce_buf_free(&dlpath);
    return rc;
}

ce_err sync_engine_new(const sync_config *cfg, sync_engine **out)
{
    *out = NULL;
    sync_engine *e = calloc(1, sizeof *e);
    if (!e)
        return CE_ENOMEM;
    *out = e;
    e->cfg = cfg;
    if (cfg->memory_limit_mb > 0) {
        size_t limit = (size_t)cfg->memory_limit_mb << 20;
        if (sync_budget_new(limit, &e->budget) != CE_OK)
            return CE_ENOMEM;
        /* the process itself: code, libraries, connection and TLS buffers */
        sync_budget_reserve(e->budget, SYNC_BUDGET_BASE < limit / 4 ? SYNC_BUDGET_BASE : limit / 4);
    }
    set_config_dir(e, cfg->config_path);
    e->read_cl = e->write_cl = CQL_CONSISTENCY_LOCAL_QUORUM;
    if (parse_consistency(cfg->cassandra.read_consistency, &e->read_cl) ||
        parse_consistency(cfg->cassandra.write_consistency, &e->write_cl)) {
        set_err(e, "cassandra", "unknown consistency level");
        return CE_ECONFIG;
    }
    ce_err rc = connect_cassandra(e, 0);
    rc = rc ? rc : connect_es(e);
    rc = rc ? rc : open_state(e);
    return rc;
}

const char *sync_engine_errmsg(const sync_engine *e) { return e ? e->errmsg : "out of memory"; }

/* The forecast of every sync of cfg that goes to Elasticsearch, over session cql; returns how
 * many a pass would refuse. */
static size_t forecast_all(cql_session *cql, cql_consistency read_cl, const sync_config *cfg,
                           sync_read_forecast *out)
{
    memset(out, 0, cfg->nsyncs * sizeof *out);
    /* The window of a pass after the first: the read mode a running sync settles in. */
    int64_t now = sync_now_ms();
    size_t refused = 0;
    for (size_t i = 0; i < cfg->nsyncs; i++) {
        const sync_def *d = &cfg->syncs[i];
        if (d->direction == SYNC_DIR_TO_CASSANDRA)
            continue;
        sync_pass_result res = {.ok = true};
        sync_pass_ctx ctx = {.cql = cql, .cfg = cfg, .def = d, .dir = &sync_dir_to_es, .res = &res,
                             .read_cl = read_cl, .win = {now - 60000, now, false}};
        sync_read_forecast_fill(&ctx, &out[i]);
        refused += out[i].refused;
    }
    return refused;
}

ce_err sync_engine_forecast(const sync_config *cfg, int timeout_ms, sync_read_forecast *out, char *errmsg,
                            size_t errmsg_size)
{
    sync_engine e = {.cfg = cfg, .read_cl = CQL_CONSISTENCY_LOCAL_QUORUM};
    memset(out, 0, cfg->nsyncs * sizeof *out);
    ce_err rc = parse_consistency(cfg->cassandra.read_consistency, &e.read_cl) ? CE_ECONFIG : CE_OK;
    rc = rc ? rc : connect_cassandra(&e, timeout_ms);
    snprintf(errmsg, errmsg_size, "%s", rc ? e.errmsg : "");
    if (!rc)
        forecast_all(e.cql, e.read_cl, cfg, out);
    cql_session_free(e.cql);
    return rc;
}

size_t sync_engine_check_tables(sync_engine *e, const sync_config *cfg, sync_read_forecast *out)
{
    return forecast_all(e->cql, e->read_cl, cfg, out);
}

void sync_engine_env(sync_engine *e, sync_pass_env *env)
{
    *env = (sync_pass_env){e->cql, e->es, e->dl, e->cfg, e->read_cl, e->write_cl, state_dir(e),
                           e->config_dir[0] ? e->config_dir : state_dir(e), e->budget};
}

/* The clients' retry counters (monotonic: es_client_retries, cql_session_retries). */
typedef struct {
    uint64_t es[ES_RETRY_CAUSES], cql[CQL_RETRY_CAUSES];
} client_retry_counts;

static void client_retries_read(const sync_engine *e, client_retry_counts *out)
{
    es_client_retries(e->es, out->es);
    cql_session_retries(e->cql, out->cql);
}

/* What the clients retried since *before: the share of the direction that just ran (the
 * directions of an engine run one at a time). */
static void client_retries_since(const sync_engine *e, const client_retry_counts *before,
                                 struct sync_client_retries *out)
{
    client_retry_counts now;
    client_retries_read(e, &now);
    out->es_429 += now.es[ES_RETRY_429] - before->es[ES_RETRY_429];
    out->es_5xx += now.es[ES_RETRY_5XX] - before->es[ES_RETRY_5XX];
    out->es_connection += now.es[ES_RETRY_CONNECTION] - before->es[ES_RETRY_CONNECTION];
    out->cassandra_overloaded += now.cql[CQL_RETRY_OVERLOADED] - before->cql[CQL_RETRY_OVERLOADED];
    out->cassandra_connection += now.cql[CQL_RETRY_CONNECTION] - before->cql[CQL_RETRY_CONNECTION];
    out->cassandra_unprepared += now.cql[CQL_RETRY_UNPREPARED] - before->cql[CQL_RETRY_UNPREPARED];
}

/* Both directions of one sync that its config asks for. CE_ECANCELED when stopped. */
static ce_err run_sync(sync_engine *e, const sync_pass_opts *o, const sync_def *d, sync_pass_result *res)
{
    /* Elasticsearch -> Cassandra first: Cassandra's last-write-wins then settles which copy
     * is newest even for documents indexed without external versions, and the Cassandra ->
     * Elasticsearch pass carries the result over. */
    static const struct {
        const sync_direction_ops *ops;
        sync_direction only;
    } order[] = {{&sync_dir_to_cassandra, SYNC_DIR_TO_CASSANDRA}, {&sync_dir_to_es, SYNC_DIR_TO_ES}};
    sync_pass_env env;
    sync_engine_env(e, &env);
    for (size_t k = 0; k < 2; k++) {
        if (k > 0 && o && o->stop && *o->stop)
            return CE_ECANCELED;
        if (d->direction != SYNC_DIR_BOTH && d->direction != order[k].only)
            continue;
        if (!res->retired && o && o->retire && o->retire(d->name, o->retire_ud))
            res->retired = true;
        if (res->retired)
            return CE_OK; /* retired (a reload): the next sync goes on */
        client_retry_counts before;
        client_retries_read(e, &before);
        ce_err rc = sync_pass_run(&env, d, order[k].ops, o, res);
        client_retries_since(e, &before, k == 0 ? &res->e2c_client_retries : &res->c2e_client_retries);
        if (rc == CE_ECANCELED && res->retired)
            return CE_OK;
        if (rc == CE_ECANCELED)
            return rc;
        if (rc)
            res->ok = false;
    }
    return CE_OK;
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
        canceled = run_sync(e, o, d, res) == CE_ECANCELED;
        if (canceled)
            res->ok = false;
        else if (!res->retired && o && o->sync_done)
            o->sync_done(i, res, o->sync_done_ud);
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
    sync_budget_free(e->budget);
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
