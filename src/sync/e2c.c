/*
 * e2c.c - the Elasticsearch -> Cassandra pass.
 *
 * 1. Schema: fields of the index mapping missing from the table are added with a typed
 *    ALTER TABLE ADD (mapping.c picks the type); a field whose mapping cannot be written
 *    into the existing column's type is reported and skipped.
 * 2. Read the documents whose version field is in the window (point in time +
 *    search_after), excluding those whose source is Cassandra (ignore_same_source).
 * 3. Each document -> values of a prepared
 *      INSERT INTO ks.t (every column) VALUES (...) USING TIMESTAMP ?
 *    with timestamp = version x version_unit_us: Cassandra's last-write-wins keeps the
 *    newest copy whatever the order. Missing fields are UNSET. Up to write_concurrency
 *    writes in flight (token-aware). Unconvertible documents and writes the server
 *    refuses as invalid go to the dead-letter file; timeouts/unavailability fail the
 *    pass (the checkpoint stays).
 * 4. Version guard: when the version column is a regular column, each page first reads
 *    the rows' current version and WRITETIME (pipelined, by primary key). A document whose
 *    version is not newer than the row's is skipped (no write: nothing to do, and no echo);
 *    a newer one is written with max(version x unit, WRITETIME + 1), so the newer version
 *    wins even against rows written with other timestamps (PyCassElastic wrote milli-
 *    seconds as USING TIMESTAMP; plain writes use the clock). Versions decide, not clocks.
 */
#include "sync/sync_int.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "util/log.h"

static const char *dir_name = "to_cassandra";

/* Cassandra warns about unlogged batches over more than 10 partitions and over 5 KiB
 * (batch_size_warn_threshold; it refuses them over 50 KiB): a group goes out at 10
 * rows or 4 KiB of values, whichever comes first. */
#define WRITE_BATCH_MAX 10
#define WRITE_BATCH_BYTES 4096

/* A write in flight: one INSERT, or an unlogged batch of INSERTs bound for one replica. */
typedef struct {
    cql_future *f;
    size_t n;
    json_t *hit[WRITE_BATCH_MAX];
    int64_t ts[WRITE_BATCH_MAX];   /* each one's USING TIMESTAMP (the guard may raise it) */
} pending_write;

/* Writes waiting to go out together to one replica. */
typedef struct {
    size_t n;
    json_t *hit[WRITE_BATCH_MAX];
    int64_t ts[WRITE_BATCH_MAX];
    ce_buf bytes;                  /* value bytes of the n statements, in order */
    int32_t *lens;                 /* WRITE_BATCH_MAX x (ncols + 1) lengths */
} write_group;

typedef struct {
    sync_pass_ctx *ctx;
    const sync_def *d;
    cql_table_meta *meta;
    cql_prepared *ins;
    size_t ncols;
    const char **names;
    const cql_type **types;
    bool *skip, *is_key;
    sync_docmap dm;
    pending_write *ring;
    size_t window, head, count;
    size_t batch_rows;             /* 1 = one INSERT a request */
    write_group *groups;           /* [0] unknown replica, [1 + host index] */
    size_t ngroups;
    cql_value *gvals;              /* WRITE_BATCH_MAX x (ncols + 1), to send a group */
    bool dl_failed;
    ce_err write_err;
    /* version guard (see top and guard.c): NULL when the version column is not a
     * regular column; the primary key columns are INSERT parameters 0..n-1 */
    sync_guard *guard;
} e2c;

static void set_error(e2c *c, const char *fmt, const char *detail)
{
    sync_result_set_error(c->ctx->res, fmt, detail);
}

static const char *hit_id(const json_t *hit)
{
    const char *id = json_string_value(json_object_get(hit, "_id"));
    return id ? id : "";
}

static void dead_letter(e2c *c, const json_t *hit, const char *reason)
{
    c->ctx->res->e2c_rejected++;
    ce_warn("sync=%s dir=to_cassandra msg=\"document rejected\" id=\"%s\" reason=\"%s\"", c->d->name,
            hit_id(hit), reason);
    if (!c->ctx->dl)
        return;
    const json_t *src = json_object_get(hit, "_source");
    char *doc = src ? json_dumps(src, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (sync_deadletter_write(c->ctx->dl, c->d->name, dir_name, hit_id(hit), reason, doc,
                              doc ? strlen(doc) : 0) != CE_OK)
        c->dl_failed = true;
    free(doc);
}

static bool is_invalid_request(int32_t code)
{
    /* Syntax, Invalid, ConfigError: the same write would fail again */
    return code == 0x2000 || code == 0x2200 || code == 0x2300;
}

/* Put ts as the big-endian bound value v (bytes: its storage). */
static void set_ts(cql_value *v, uint8_t bytes[8], int64_t ts)
{
    for (int k = 0; k < 8; k++)
        bytes[k] = (uint8_t)((uint64_t)ts >> (56 - 8 * k));
    v->ptr = bytes;
    v->len = 8;
}

/* Write one document now (blocking), with timestamp ts. */
static ce_err write_one_now(e2c *c, const json_t *hit, int64_t ts, cql_error_info *info)
{
    ce_buf storage = CE_BUF_INIT, err = CE_BUF_INIT;
    cql_value *vals = calloc(c->ncols + 1, sizeof *vals);
    int64_t version;
    uint8_t tsb[8];
    ce_err e = vals ? sync_doc_values(&c->dm, hit, &storage, vals, &version, &err) : CE_ENOMEM;
    if (!e) {
        set_ts(&vals[c->ncols], tsb, ts);
        cql_query_opts qo;
        cql_query_opts_init(&qo);
        qo.consistency = c->ctx->write_cl;
        e = cql_session_execute(c->ctx->cql, c->ins, vals, c->ncols + 1, &qo, NULL, info);
    }
    free(vals);
    ce_buf_free(&storage);
    ce_buf_free(&err);
    return e;
}

/* A node that has not applied a just-added column yet: write again (blocking) for a
 * few seconds. true when the write finally went through. */
static bool retry_write_after_schema_lag(e2c *c, const json_t *hit, int64_t ts)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        struct timespec sl = {0, 200 * 1000000L};
        nanosleep(&sl, NULL);
        cql_error_info info;
        memset(&info, 0, sizeof info);
        ce_err e = write_one_now(c, hit, ts, &info);
        if (e == CE_OK)
            return true;
        if (!(e == CE_ESERVER && strstr(info.message, "Undefined column")))
            return false;
    }
    return false;
}

/* Account for the outcome of one document's write. */
static void account_write(e2c *c, const json_t *hit, int64_t ts, ce_err e, const cql_error_info *info,
                          const char *msg)
{
    if (e == CE_ESERVER && info && strstr(info->message, "Undefined column") &&
        retry_write_after_schema_lag(c, hit, ts))
        e = CE_OK;
    if (e == CE_OK) {
        c->ctx->res->e2c_written++;
        return;
    }
    if (e == CE_ESERVER && info && is_invalid_request(info->code) && !strstr(info->message, "Undefined column")) {
        char reason[600];
        snprintf(reason, sizeof reason, "cassandra refused the write: %s", info->message);
        dead_letter(c, hit, reason);
        return;
    }
    c->ctx->res->e2c_failed++;
    if (!c->write_err)
        c->write_err = e;
    if (c->ctx->res->e2c_failed <= 5)
        ce_warn("sync=%s dir=to_cassandra msg=\"write failed\" id=\"%s\" error=\"%s\"", c->d->name,
                hit_id(hit), msg && *msg ? msg : ce_strerror(e));
}

/* Wait for the oldest write and account for it. A failed batch is written again one
 * document at a time, so each gets its own verdict (dead letter, failure or success). */
static void complete_oldest(e2c *c)
{
    pending_write *p = &c->ring[c->head];
    ce_err e = cql_future_wait(p->f, NULL);
    if (p->n == 1 || e == CE_OK) {
        for (size_t k = 0; k < p->n; k++)
            account_write(c, p->hit[k], p->ts[k], e, e ? cql_future_error(p->f) : NULL,
                          e ? cql_future_errmsg(p->f) : NULL);
    } else {
        ce_debug("sync=%s dir=to_cassandra msg=\"batch failed, writing its documents one by one\" "
                 "error=\"%s\"", c->d->name, cql_future_errmsg(p->f));
        for (size_t k = 0; k < p->n; k++) {
            cql_error_info info;
            memset(&info, 0, sizeof info);
            ce_err ek = write_one_now(c, p->hit[k], p->ts[k], &info);
            account_write(c, p->hit[k], p->ts[k], ek, &info, ek == CE_ESERVER ? info.message : NULL);
        }
    }
    cql_future_free(p->f);
    for (size_t k = 0; k < p->n; k++)
        json_decref(p->hit[k]);
    p->f = NULL;
    p->n = 0;
    c->head = (c->head + 1) % c->window;
    c->count--;
}

/* Let completions flow without blocking (each poll is a syscall: call now and then). */
static void poll_writes(e2c *c)
{
    (void)cql_session_run(c->ctx->cql, 0);
    while (c->count > 0 && cql_future_done(c->ring[c->head].f))
        complete_oldest(c);
}

/* Send the writes of a group: one INSERT, or an unlogged batch (one replica's rows). */
static ce_err send_group(e2c *c, write_group *g)
{
    if (g->n == 0)
        return CE_OK;
    size_t nv = c->ncols + 1;
    const cql_value *rows[WRITE_BATCH_MAX];
    size_t nvals[WRITE_BATCH_MAX];
    cql_prepared *stmts[WRITE_BATCH_MAX];
    size_t off = 0;
    for (size_t r = 0; r < g->n; r++) {
        for (size_t j = 0; j < nv; j++) {
            cql_value *v = &c->gvals[r * nv + j];
            v->len = g->lens[r * nv + j];
            v->ptr = v->len >= 0 ? (const uint8_t *)g->bytes.data + off : NULL;
            if (v->len > 0)
                off += (size_t)v->len;
        }
        rows[r] = &c->gvals[r * nv];
        nvals[r] = nv;
        stmts[r] = c->ins;
    }
    while (c->count >= c->window)
        complete_oldest(c);
    cql_query_opts qo;
    cql_query_opts_init(&qo);
    qo.consistency = c->ctx->write_cl;
    cql_future *f = g->n == 1 ? cql_session_execute_async(c->ctx->cql, c->ins, rows[0], nv, &qo)
                              : cql_session_batch_async(c->ctx->cql, 1, stmts, rows, nvals, g->n, &qo);
    if (!f)
        return CE_ENOMEM;
    pending_write *p = &c->ring[(c->head + c->count) % c->window];
    p->f = f;
    p->n = g->n;
    memcpy(p->hit, g->hit, g->n * sizeof *g->hit);
    memcpy(p->ts, g->ts, g->n * sizeof *g->ts);
    c->count++;
    g->n = 0;
    ce_buf_reset(&g->bytes);
    return CE_OK;
}

static ce_err flush_groups(e2c *c)
{
    ce_err e = CE_OK;
    for (size_t k = 0; k < c->ngroups && !e; k++)
        e = send_group(c, &c->groups[k]);
    return e;
}

/* Queue one document's write with its group: the replica of its partition key. */
static ce_err queue_write(e2c *c, json_t *hit, const cql_value *vals, int64_t ts)
{
    size_t gi = 0;
    size_t npk = c->meta->npartition_keys;
    int64_t token;
    /* an unroutable key (a null part) goes with the unknown replica's group: its write
     * is refused and the batch rewritten one by one */
    if (c->batch_rows > 1 && npk > 0 && cql_partition_token(vals, npk, &token)) {
        int owner = cql_session_token_owner(c->ctx->cql, token);
        if (owner >= 0 && (size_t)owner + 1 < c->ngroups)
            gi = (size_t)owner + 1;
    }
    write_group *g = &c->groups[gi];
    size_t nv = c->ncols + 1;
    for (size_t j = 0; j < nv; j++) {
        g->lens[g->n * nv + j] = vals[j].len;
        if (vals[j].len > 0) {
            ce_err e = ce_buf_append(&g->bytes, vals[j].ptr, (size_t)vals[j].len);
            if (e)
                return e;
        }
    }
    g->hit[g->n] = json_incref(hit);
    g->ts[g->n] = ts;
    g->n++;
    return g->n >= c->batch_rows || g->bytes.len >= WRITE_BATCH_BYTES ? send_group(c, g) : CE_OK;
}

/* Collect the schema versions of one RESULT into vs (up to max); returns the count. */
static size_t schema_versions(cql_session *s, const char *q, char vs[][40], size_t n, size_t max)
{
    cql_result *r = NULL;
    cql_query_opts qo;
    cql_query_opts_init(&qo);
    qo.consistency = CQL_CONSISTENCY_ONE;
    if (cql_session_query(s, q, NULL, 0, &qo, &r, NULL) != CE_OK)
        return n;
    ce_buf b = CE_BUF_INIT;
    for (size_t row = 0; row < cql_result_row_count(r) && n < max; row++) {
        cql_value v = cql_result_cell(r, row, 0);
        if (v.len <= 0)
            continue;
        ce_buf_reset(&b);
        if (conv_value_to_json(cql_result_column_type(r, 0), v.ptr, v.len, &b) == CE_OK)
            snprintf(vs[n++], 40, "%.*s", (int)b.len, b.data);
    }
    ce_buf_free(&b);
    cql_result_free(r);
    return n;
}

/* After ALTER TABLE: wait (at most ~10 s) until the nodes agree on the schema, as
 * drivers do, so the next PREPARE sees the new columns wherever it lands. */
static void wait_schema_agreement(cql_session *s)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        char vs[64][40];
        size_t n = schema_versions(s, "SELECT schema_version FROM system.local", vs, 0, 64);
        n = schema_versions(s, "SELECT schema_version FROM system.peers", vs, n, 64);
        bool agree = n > 0;
        for (size_t i = 1; i < n && agree; i++)
            agree = strcmp(vs[i], vs[0]) == 0;
        if (agree)
            return;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    ce_warn("msg=\"no schema agreement after ALTER TABLE; continuing\"");
}

/* Whether the table metadata has every field of props that is to become a column, and the
 * source column. */
static bool meta_has_fields(const e2c *c, json_t *props)
{
    const char *key;
    json_t *prop;
    json_object_foreach(props, key, prop) {
        if (json_is_object(prop) && !cql_table_meta_column(c->meta, key))
            return false;
    }
    /* the source column is added too when missing (evolve_schema) */
    const char *sf = c->d->source_field;
    return !sf || !*sf || cql_table_meta_column(c->meta, sf);
}

/* Read the table's schema again after ALTERs. The node answering may not have applied the
 * last ALTER yet (schema agreement is judged from gossip, which lags): read again, for up to
 * 10 s, until every field of props is a column, so no new column is left out of the INSERT
 * (its values would silently stay null). */
static ce_err reload_meta(e2c *c, json_t *props)
{
    ce_err e = CE_OK;
    for (int attempt = 0; attempt < 100; attempt++) {
        cql_table_meta_free(c->meta);
        c->meta = NULL;
        e = cql_session_table_meta(c->ctx->cql, sync_keyspace(c->ctx), c->d->table, &c->meta);
        if (e || !props || meta_has_fields(c, props))
            return e;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    ce_warn("sync=%s dir=to_cassandra msg=\"new columns not visible yet; their fields are left out this pass\"",
            c->d->name);
    return e;
}

/* Add columns for index fields the table lacks; mark conflicting fields skipped. */
static ce_err evolve_schema(e2c *c, json_t *props, bool *changed)
{
    sync_pass_ctx *ctx = c->ctx;
    const char *key;
    json_t *prop;
    *changed = false;
    /* the source column makes echo suppression work: add it like a keyword field */
    json_t *with_source = NULL;
    const char *sf = c->d->source_field;
    if (sf && *sf && !json_object_get(props, sf) && !cql_table_meta_column(c->meta, sf)) {
        with_source = json_deep_copy(props);
        if (with_source)
            json_object_set_new(with_source, sf, json_pack("{s:s}", "type", "keyword"));
        if (with_source)
            props = with_source;
    }
    json_object_foreach(props, key, prop) {
        if (!json_is_object(prop))
            continue;
        const cql_column_meta *cm = cql_table_meta_column(c->meta, key);
        if (cm)
            continue;
        if (!c->d->alter_table)
            continue;
        ce_buf q = CE_BUF_INIT;
        const char *ty = sync_cql_type_for_es(prop);
        ce_err e = ce_buf_append_str(&q, "ALTER TABLE ");
        e = e ? e : cql_quote_table(&q, c->meta->keyspace, c->meta->table);
        e = e ? e : ce_buf_append_str(&q, " ADD ");
        e = e ? e : cql_quote_ident(&q, key);
        e = e ? e : ce_buf_printf(&q, " %s", ty);
        cql_result *r = NULL;
        cql_error_info info;
        memset(&info, 0, sizeof info);
        cql_query_opts qo;
        cql_query_opts_init(&qo);
        qo.consistency = CQL_CONSISTENCY_ONE;
        if (!e)
            e = cql_session_query(ctx->cql, ce_buf_cstr(&q), NULL, 0, &qo, &r, &info);
        cql_result_free(r);
        if (e == CE_OK) {
            ctx->res->e2c_columns_added++;
            *changed = true;
            ce_info("sync=%s dir=to_cassandra msg=\"column added\" table=%s.%s column=\"%s\" type=%s "
                    "es_type=%s",
                    c->d->name, c->meta->keyspace, c->meta->table, key, ty, sync_es_prop_type(prop));
        } else if (e == CE_ESERVER && strstr(info.message, "already exist")) {
            *changed = true; /* added concurrently */
        } else {
            ce_warn("sync=%s dir=to_cassandra msg=\"cannot add column\" column=\"%s\" type=%s error=\"%s\"",
                    c->d->name, key, ty, e == CE_ESERVER ? info.message : ce_strerror(e));
        }
        ce_buf_free(&q);
    }
    json_decref(with_source);
    return CE_OK;
}

static void note_conflicts(e2c *c, json_t *props)
{
    for (size_t i = 0; i < c->ncols; i++) {
        json_t *prop = props ? json_object_get(props, c->names[i]) : NULL;
        if (!prop || sync_es_compatible(prop, c->types[i]))
            continue;
        c->skip[i] = true;
        char what[400];
        snprintf(what, sizeof what, "field \"%s\" (%s) does not fit column type", c->names[i],
                 sync_es_prop_type(prop));
        ce_warn("sync=%s dir=to_cassandra msg=\"type conflict: field skipped\" field=\"%s\" es_type=%s",
                c->d->name, c->names[i], sync_es_prop_type(prop));
        set_error(c, "type conflict: %s; field skipped", what);
    }
}

static ce_err prepare_insert(e2c *c)
{
    const cql_table_meta *m = c->meta;
    ce_buf q = CE_BUF_INIT;
    ce_err e = ce_buf_append_str(&q, "INSERT INTO ");
    e = e ? e : cql_quote_table(&q, m->keyspace, m->table);
    e = e ? e : ce_buf_append_str(&q, " (");
    for (size_t i = 0; i < m->ncolumns && !e; i++) {
        if (m->columns[i].type->kind == CQL_T_COUNTER) {
            ce_buf_free(&q);
            set_error(c, "%s", "counter tables cannot be written from Elasticsearch");
            return CE_EUNSUPPORTED;
        }
        if (i)
            e = ce_buf_append_byte(&q, ',');
        if (!e)
            e = cql_quote_ident(&q, m->columns[i].name);
    }
    e = e ? e : ce_buf_append_str(&q, ") VALUES (");
    for (size_t i = 0; i < m->ncolumns && !e; i++)
        e = ce_buf_append_str(&q, i ? ",?" : "?");
    e = e ? e : ce_buf_append_str(&q, ") USING TIMESTAMP ?");
    cql_error_info info;
    memset(&info, 0, sizeof info);
    for (int attempt = 0; !e && attempt < 50; attempt++) {
        e = cql_session_prepare(c->ctx->cql, ce_buf_cstr(&q), &c->ins, &info);
        /* a node that has not seen a just-added column yet */
        if (e != CE_ESERVER || !strstr(info.message, "Undefined column"))
            break;
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
        e = CE_OK;
        if (attempt == 49)
            e = CE_ESERVER;
    }
    if (e) {
        ce_error("sync=%s dir=to_cassandra msg=\"prepare failed\" error=\"%s\"", c->d->name,
                 e == CE_ESERVER ? info.message : cql_session_errmsg(c->ctx->cql));
        set_error(c, "prepare INSERT failed: %s", e == CE_ESERVER ? info.message : ce_strerror(e));
    }
    ce_buf_free(&q);
    if (e)
        return e;
    c->ncols = m->ncolumns;
    c->names = calloc(c->ncols + 1, sizeof *c->names);
    c->types = calloc(c->ncols + 1, sizeof *c->types);
    c->skip = calloc(c->ncols + 1, sizeof *c->skip);
    c->is_key = calloc(c->ncols + 1, sizeof *c->is_key);
    if (!c->names || !c->types || !c->skip || !c->is_key)
        return CE_ENOMEM;
    if (cql_prepared_param_count(c->ins) != c->ncols + 1) {
        set_error(c, "%s", "unexpected parameter count of the INSERT");
        return CE_EPROTO;
    }
    for (size_t i = 0; i < c->ncols; i++) {
        c->names[i] = m->columns[i].name;
        /* copies: a re-preparation on another node replaces the statement's metadata */
        const cql_type *pt = cql_prepared_param_type(c->ins, i);
        c->types[i] = cql_type_clone(pt ? pt : m->columns[i].type);
        if (!c->types[i])
            return CE_ENOMEM;
        c->is_key[i] = m->columns[i].role == CQL_COL_PARTITION_KEY || m->columns[i].role == CQL_COL_CLUSTERING;
    }
    /* the doc map */
    sync_docmap *dm = &c->dm;
    memset(dm, 0, sizeof *dm);
    dm->ncols = c->ncols;
    dm->names = c->names;
    dm->types = c->types;
    dm->skip = c->skip;
    dm->is_key = c->is_key;
    dm->source_col = -1;
    dm->version_field = c->d->version_col;
    dm->es_source_id = c->d->es_source_id;
    dm->version_unit_us = c->d->version_unit_us;
    for (size_t i = 0; i < 256; i++)
        dm->key_part[i] = -1;
    if (c->ncols > 256) {
        set_error(c, "%s", "tables with more than 256 columns are not supported");
        return CE_EUNSUPPORTED;
    }
    char ids[SYNC_MAX_KEY_PARTS][128];
    int nid = c->d->id_col ? sync_split_names(c->d->id_col, ids, SYNC_MAX_KEY_PARTS) : 0;
    if (nid < 0)
        return CE_ECONFIG;
    if (nid == 0) {
        nid = (int)(m->npartition_keys + m->nclustering);
        if (nid > SYNC_MAX_KEY_PARTS)
            return CE_EUNSUPPORTED;
        for (int k = 0; k < nid; k++)
            snprintf(ids[k], sizeof ids[k], "%s", m->columns[k].name);
    }
    dm->nid = (size_t)nid;
    for (size_t i = 0; i < c->ncols; i++) {
        for (int k = 0; k < nid; k++)
            if (strcmp(c->names[i], ids[k]) == 0)
                dm->key_part[i] = k;
        if (c->d->source_field && strcmp(c->names[i], c->d->source_field) == 0)
            dm->source_col = (int)i;
    }
    return CE_OK;
}

/* true when the table holds no row (one LIMIT 1 read; any error says "not known empty"). */
static bool table_is_empty(e2c *c)
{
    const cql_table_meta *m = c->meta;
    ce_buf q = CE_BUF_INIT;
    ce_err e = ce_buf_append_str(&q, "SELECT ");
    e = e ? e : cql_quote_ident(&q, m->columns[0].name);
    e = e ? e : ce_buf_append_str(&q, " FROM ");
    e = e ? e : cql_quote_table(&q, m->keyspace, m->table);
    e = e ? e : ce_buf_append_str(&q, " LIMIT 1");
    cql_result *r = NULL;
    cql_query_opts qo;
    cql_query_opts_init(&qo);
    qo.consistency = c->ctx->read_cl;
    if (!e && ce_buf_cstr(&q))
        e = cql_session_query(c->ctx->cql, ce_buf_cstr(&q), NULL, 0, &qo, &r, NULL);
    else if (!e)
        e = CE_ENOMEM;
    bool empty = !e && r && cql_result_row_count(r) == 0;
    cql_result_free(r);
    ce_buf_free(&q);
    return empty;
}

/* Send the guard reads of a page: one per convertible hit. */
static ce_err send_guards(e2c *c, json_t *hits, ce_buf *storage, cql_value *vals, ce_buf *err)
{
    size_t n = json_array_size(hits);
    ce_err e = sync_guard_begin(c->guard, n);
    for (size_t i = 0; i < n && !e; i++) {
        int64_t version = 0;
        ce_buf_reset(err);
        if (sync_doc_values(&c->dm, json_array_get(hits, i), storage, vals, &version, err) != CE_OK)
            continue; /* write_hits dead-letters it */
        e = sync_guard_add(c->guard, i, vals);
    }
    return e ? e : sync_guard_send(c->guard);
}

/*
 * The guard's verdict for hit i: false = skip (the row's version is the same or newer);
 * true = write, with *ts raised above the row's WRITETIME when needed. A failed read
 * fails the write the same way (the pass fails, the checkpoint stays).
 */
static bool guard_allows(e2c *c, size_t i, int64_t version, int64_t *ts, ce_err *read_err)
{
    *read_err = CE_OK;
    if (!c->guard)
        return true;
    bool found, has_v, has_wt, refused;
    int64_t row_version, row_ts;
    *read_err = sync_guard_get(c->guard, i, &found, &row_version, &has_v, &row_ts, &has_wt, &refused);
    if (refused)
        *read_err = CE_OK; /* the key itself is invalid: the write says why (dead letter) */
    if (*read_err || !found)
        return true;
    if (has_v && row_version >= version)
        return false;
    if (has_wt && row_ts >= *ts)
        *ts = row_ts + 1;
    return true;
}

static ce_err write_hits(e2c *c, json_t *hits, ce_buf *storage, cql_value *vals, ce_buf *err)
{
    sync_pass_ctx *ctx = c->ctx;
    if (c->guard) {
        ce_err ge = send_guards(c, hits, storage, vals, err);
        if (ge)
            return ge;
    }
    size_t i;
    json_t *hit;
    json_array_foreach(hits, i, hit) {
        ctx->res->e2c_read++;
        int64_t version = 0;
        ce_buf_reset(err);
        ce_err e = sync_doc_values(&c->dm, hit, storage, vals, &version, err);
        if (e == CE_ENOMEM)
            return e;
        if (e) {
            dead_letter(c, hit, ce_buf_cstr(err));
            continue;
        }
        uint8_t ts_bytes[8];
        int64_t ts; /* the bound USING TIMESTAMP (bigint) */
        const cql_type *tst = cql_prepared_param_type(c->ins, c->ncols);
        if (!tst || sync_value_int64(tst, vals[c->ncols].ptr, vals[c->ncols].len, &ts) != CE_OK)
            ts = 0;
        int64_t ts0 = ts;
        ce_err read_err;
        if (!guard_allows(c, i, version, &ts, &read_err)) {
            ctx->res->e2c_skipped++;
            continue;
        }
        if (read_err) {
            ctx->res->e2c_failed++;
            if (!c->write_err)
                c->write_err = read_err;
            continue;
        }
        if (ts != ts0)
            set_ts(&vals[c->ncols], ts_bytes, ts);
        e = queue_write(c, hit, vals, ts);
        if (e)
            return e;
        if ((i & 63) == 63)
            poll_writes(c);
    }
    /* a page's writes all go out before the next page is read */
    return flush_groups(c);
}

/*
 * Search pages are fetched by a helper thread while this one writes to Cassandra, so
 * Elasticsearch and Cassandra work at the same time. The thread is the only user of the
 * es_search (and so of the es client) until it is joined; pages are handed over as
 * references (jansson reference counts are atomic).
 */
#define PREFETCH_PAGES 2

typedef struct {
    es_search *s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    json_t *q[PREFETCH_PAGES];
    size_t head, n;
    bool done, quit;
    ce_err err;
    int64_t total;
} prefetch;

static void *prefetch_main(void *arg)
{
    prefetch *pf = arg;
    for (;;) {
        void *hv = NULL;
        ce_err e = es_search_next(pf->s, &hv);
        json_t *hits = e ? NULL : json_incref((json_t *)hv);
        int64_t total = es_search_total(pf->s);
        pthread_mutex_lock(&pf->mu);
        pf->total = total;
        while (pf->n == PREFETCH_PAGES && !pf->quit)
            pthread_cond_wait(&pf->cv, &pf->mu);
        if (pf->quit) {
            pthread_mutex_unlock(&pf->mu);
            json_decref(hits);
            return NULL;
        }
        bool end = e || !hits || json_array_size(hits) == 0;
        if (e)
            pf->err = e;
        else
            pf->q[(pf->head + pf->n++) % PREFETCH_PAGES] = hits;
        if (end)
            pf->done = true;
        pthread_cond_broadcast(&pf->cv);
        pthread_mutex_unlock(&pf->mu);
        if (end)
            return NULL;
    }
}

/* Next page (owned reference; an empty array at the end) or the search error. */
static ce_err prefetch_pop(prefetch *pf, json_t **hits)
{
    *hits = NULL;
    pthread_mutex_lock(&pf->mu);
    while (pf->n == 0 && !pf->done)
        pthread_cond_wait(&pf->cv, &pf->mu);
    ce_err e = CE_OK;
    if (pf->n > 0) {
        *hits = pf->q[pf->head];
        pf->head = (pf->head + 1) % PREFETCH_PAGES;
        pf->n--;
        pthread_cond_broadcast(&pf->cv);
    } else {
        e = pf->err;
    }
    pthread_mutex_unlock(&pf->mu);
    return e;
}

ce_err sync_e2c_run(sync_pass_ctx *ctx)
{
    e2c c;
    memset(&c, 0, sizeof c);
    c.ctx = ctx;
    c.d = ctx->def;
    const sync_def *d = c.d;
    bool exists = false;
    ce_err rc = es_index_exists(ctx->es, d->index, &exists);
    if (rc) {
        set_error(&c, "index check failed: %s", es_client_errmsg(ctx->es));
        return rc;
    }
    if (!exists) {
        ce_info("sync=%s dir=to_cassandra msg=\"index does not exist: nothing to read\" index=%s",
                d->name, d->index);
        return CE_OK;
    }
    rc = cql_session_table_meta(ctx->cql, sync_keyspace(ctx), d->table, &c.meta);
    if (rc) {
        char what[300];
        snprintf(what, sizeof what, "%s.%s: %s", sync_keyspace(ctx), d->table,
                 rc == CE_ENOTFOUND ? "no such table" : cql_session_errmsg(ctx->cql));
        set_error(&c, "table %s", what);
        return rc;
    }
    json_t *props = NULL;
    void *pv = NULL;
    if (es_index_get_properties(ctx->es, d->index, &pv) == CE_OK)
        props = pv;
    else
        ce_warn("sync=%s dir=to_cassandra msg=\"cannot read the index mapping\" error=\"%s\"", d->name,
                es_client_errmsg(ctx->es));
    if (props && json_is_object(props)) {
        bool changed = false;
        evolve_schema(&c, props, &changed);
        if (changed) {
            wait_schema_agreement(ctx->cql);
            rc = reload_meta(&c, c.d->alter_table ? props : NULL);
        }
    }
    if (!rc)
        rc = prepare_insert(&c);
    if (!rc)
        rc = sync_guard_new(ctx->cql, c.meta, d->version_col, ctx->read_cl, d->name, &c.guard);
    if (!rc && c.guard && (ctx->win.initial || !ctx->has_checkpoint) && table_is_empty(&c)) {
        /* nothing to guard against: a first load into an empty table reads nothing
         * (asked before the first checkpoint only: later passes find rows, and a table
         * full of tombstones would make the probe itself costly) */
        ce_info("sync=%s dir=to_cassandra msg=\"table empty at pass start: no version reads\"", d->name);
        sync_guard_free(c.guard);
        c.guard = NULL;
    }
    if (!rc && props)
        note_conflicts(&c, props);
    json_decref(props);

    es_search *s = NULL;
    ce_buf storage = CE_BUF_INIT, err = CE_BUF_INIT;
    cql_value *vals = NULL;
    if (!rc) {
        c.window = d->write_concurrency > 0 ? (size_t)d->write_concurrency : 256;
        c.batch_rows = d->write_batch_rows > 0 ? (size_t)d->write_batch_rows : WRITE_BATCH_MAX;
        if (c.batch_rows > WRITE_BATCH_MAX)
            c.batch_rows = WRITE_BATCH_MAX;
        c.ngroups = c.batch_rows > 1 ? 1 + cql_session_host_count(ctx->cql, false) : 1;
        c.ring = calloc(c.window, sizeof *c.ring);
        c.groups = calloc(c.ngroups, sizeof *c.groups);
        c.gvals = calloc(WRITE_BATCH_MAX * (c.ncols + 1), sizeof *c.gvals);
        vals = calloc(c.ncols + 1, sizeof *vals);
        if (!c.ring || !vals || !c.groups || !c.gvals)
            rc = CE_ENOMEM;
        for (size_t k = 0; !rc && k < c.ngroups; k++)
            if (!(c.groups[k].lens = calloc(WRITE_BATCH_MAX * (c.ncols + 1), sizeof *c.groups[k].lens)))
                rc = CE_ENOMEM;
    }
    if (!rc) {
        es_search_opts so;
        es_search_opts_init(&so);
        so.index = d->index;
        so.query.range_field = d->version_col;
        so.query.has_gte = so.query.has_lt = true;
        so.query.gte = sync_version_floor(ctx->win.start_ms, d->version_unit_us);
        so.query.lt = sync_version_ceil(ctx->win.end_ms, d->version_unit_us);
        if (d->ignore_same_source && d->source_field && d->cassandra_source_id) {
            so.query.must_not_field = d->source_field;
            so.query.must_not_value = d->cassandra_source_id;
        }
        if (d->es_page_size > 0)
            so.page_size = (size_t)d->es_page_size;
        so.unordered = true; /* pages are written in any order; versions decide */
        so.lean = true;      /* _id, _source and sort are all we read of a hit */
        rc = es_search_open(ctx->es, &so, &s);
        if (rc)
            set_error(&c, "search failed: %s", es_client_errmsg(ctx->es));
        else
            ce_info("sync=%s dir=to_cassandra msg=\"reading\" version_gte=%lld version_lt=%lld total=%lld",
                    d->name, (long long)so.query.gte, (long long)so.query.lt,
                    (long long)es_search_total(s));
    }
    bool stopped = false;
    prefetch pf;
    memset(&pf, 0, sizeof pf);
    bool threaded = false;
    if (!rc) {
        pf.s = s;
        pthread_mutex_init(&pf.mu, NULL);
        pthread_cond_init(&pf.cv, NULL);
        threaded = pthread_create(&pf.thread, NULL, prefetch_main, &pf) == 0;
        if (!threaded) {
            pthread_mutex_destroy(&pf.mu);
            pthread_cond_destroy(&pf.cv);
        }
    }
    while (!rc) {
        json_t *hits = NULL;
        ce_err se = threaded ? prefetch_pop(&pf, &hits) : CE_OK;
        if (!threaded) {
            void *hv = NULL;
            se = es_search_next(s, &hv);
            hits = json_incref((json_t *)hv);
        }
        if (se) {
            rc = se;
            break;
        }
        if (!hits || json_array_size(hits) == 0) {
            json_decref(hits);
            break;
        }
        rc = write_hits(&c, hits, &storage, vals, &err);
        json_decref(hits);
        sync_progress(ctx, dir_name, ctx->res->e2c_read, ctx->res->e2c_written,
                      pf.total > 0 ? (double)ctx->res->e2c_read / (double)pf.total : -1.0, false);
        if (!rc && sync_stop_requested(ctx)) {
            stopped = true;
            break;
        }
    }
    if (threaded) {
        pthread_mutex_lock(&pf.mu);
        pf.quit = true;
        pthread_cond_broadcast(&pf.cv);
        pthread_mutex_unlock(&pf.mu);
        pthread_join(pf.thread, NULL);
        for (size_t k = 0; k < pf.n; k++)
            json_decref(pf.q[(pf.head + k) % PREFETCH_PAGES]);
        pthread_mutex_destroy(&pf.mu);
        pthread_cond_destroy(&pf.cv);
    }
    /* the search is only touched by this thread again from here on */
    if (rc && rc != CE_ENOMEM && !ctx->res->error[0])
        set_error(&c, "search failed: %s", es_client_errmsg(ctx->es));
    if (c.groups && flush_groups(&c) != CE_OK && !rc)
        rc = CE_ENOMEM;
    while (c.count > 0)
        complete_oldest(&c);
    es_search_close(s);
    sync_progress(ctx, dir_name, ctx->res->e2c_read, ctx->res->e2c_written, 1.0, true);
    if (!rc && c.write_err) {
        set_error(&c, "%s", "some writes to Cassandra failed");
        rc = CE_EPARTIAL;
    }
    if (!rc && c.dl_failed) {
        set_error(&c, "%s", "dead-letter file could not be written");
        rc = CE_EIO;
    }
    if (!rc && stopped)
        rc = CE_ECANCELED;
    ce_buf_free(&storage);
    ce_buf_free(&err);
    free(vals);
    sync_guard_free(c.guard);
    free(c.ring);
    for (size_t k = 0; c.groups && k < c.ngroups; k++) {
        for (size_t j = 0; j < c.groups[k].n; j++)
            json_decref(c.groups[k].hit[j]);
        free(c.groups[k].lens);
        ce_buf_free(&c.groups[k].bytes);
    }
    free(c.groups);
    free(c.gvals);
    free(c.names);
    for (size_t i = 0; c.types && i < c.ncols; i++)
        cql_type_free((cql_type *)c.types[i]);
    free(c.types);
    free(c.skip);
    free(c.is_key);
    cql_table_meta_free(c.meta);
    return rc;
}
