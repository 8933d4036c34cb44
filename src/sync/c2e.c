/*
 * c2e.c - the Cassandra -> Elasticsearch pass (the hot path).
 *
 * Plan: one prepared SELECT of every column (plus WRITETIME of the source and version
 * columns when they are regular columns) over a list of scan tasks: token ranges
 * (ALL, FILTER, FULL_SCAN) or time buckets (BUCKETS). Several tasks are in flight as
 * async futures; when the oldest page arrives, its next page is requested before its
 * rows are converted, so Cassandra works while we convert and bulk-index. Each row is
 * written straight into the bulk buffer (es_bulk_index_begin -> sync_row_doc ->
 * es_bulk_commit) with external version = the version column.
 *
 * Outcomes: 409 = Elasticsearch holds the same or a newer version (fine); 400 -> dead
 * letter; FAILED -> the pass fails and the checkpoint stays. With filter_date and the
 * PyCassElastic (id, version) layout, rows that lost to a newer version are deleted
 * from Cassandra after the pass (delete_old_versions).
 */
#include "sync/sync_int.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "util/clock.h"
#include "util/jsonw.h"
#include "util/log.h"

#define C2E_INFLIGHT 6

typedef struct {
    ce_buf binds;              /* bound values' bytes */
    size_t nvals;
    int32_t lens[4];
    size_t offs[4];
    ce_buf paging;
    bool has_paging;
    cql_future *f;
    int retries;               /* failed page requests sent again */
    bool routed;               /* token range: sent to the replicas of its end token */
    int64_t route_token;
    bool done;
    ce_buf last_id;            /* (id, version) layout: the partition being read ... */
    int64_t last_max;          /* ... and its highest version so far */
} scan_task;

typedef struct {
    char *id;
    int64_t version;
} old_version;

typedef struct {
    sync_pass_ctx *ctx;
    const sync_def *d;
    cql_table_meta *meta;
    sync_rowmap rm;
    const char **names;
    const cql_type **types;
    size_t ncells;             /* columns per row in the result */
    sync_read_mode mode;
    int64_t lo_v, hi_v;        /* window in version units */
    cql_prepared *select;
    scan_task *tasks;
    size_t ntasks, tasks_done;
    es_bulk *bulk;
    const char *type;
    ce_buf id, scratch, err;
    ce_buf keys;               /* the fields' "name": texts (rm.key_json points in) */
    ce_slice *key_json;
    bool cleanup_layout;       /* (id, version) layout: delete older versions after */
    old_version *olds;
    size_t nolds, capolds;
    bool dl_failed;
    uint64_t scanned;
    double cql_wait_s, es_wait_s;  /* time blocked on each side (debug log) */
} c2e;

static const char *dir_name = "to_es";

static void add_old(c2e *c, const char *id, size_t idlen, int64_t version)
{
    if (c->nolds == c->capolds) {
        size_t nc = c->capolds ? c->capolds * 2 : 64;
        old_version *no = realloc(c->olds, nc * sizeof *no);
        if (!no)
            return; /* best effort: a later pass gets another chance */
        c->olds = no;
        c->capolds = nc;
    }
    char *copy = malloc(idlen + 1);
    if (!copy)
        return;
    memcpy(copy, id, idlen);
    copy[idlen] = 0;
    c->olds[c->nolds].id = copy;
    c->olds[c->nolds].version = version;
    c->nolds++;
}

static void on_item(const es_bulk_item_result *r, void *ud)
{
    c2e *c = ud;
    sync_pass_result *res = c->ctx->res;
    switch (r->status) {
    case ES_ITEM_OK: res->c2e_indexed++; break;
    case ES_ITEM_CONFLICT:
        res->c2e_conflicts++;
        if (c->cleanup_layout && r->current_version > (int64_t)r->tag && r->id)
            add_old(c, r->id, strlen(r->id), (int64_t)r->tag);
        break;
    case ES_ITEM_REJECTED: {
        res->c2e_rejected++;
        char reason[600];
        snprintf(reason, sizeof reason, "elasticsearch rejected (%d %s): %s", r->http_status,
                 r->error_type ? r->error_type : "?", r->error_reason ? r->error_reason : "");
        ce_warn("sync=%s dir=to_es msg=\"document rejected\" id=\"%s\" status=%d type=%s", c->d->name,
                r->id ? r->id : "", r->http_status, r->error_type ? r->error_type : "?");
        if (c->ctx->dl && sync_deadletter_write(c->ctx->dl, c->d->name, dir_name, r->id, reason,
                                                r->doc, r->doc_len) != CE_OK)
            c->dl_failed = true;
        break;
    }
    case ES_ITEM_FAILED:
    default:
        res->c2e_failed++;
        if (res->c2e_failed <= 5)
            ce_warn("sync=%s dir=to_es msg=\"bulk item failed\" id=\"%s\" status=%d reason=\"%s\"",
                    c->d->name, r->id ? r->id : "", r->http_status,
                    r->error_reason ? r->error_reason : "");
        break;
    }
}

static void set_error(c2e *c, const char *fmt, const char *detail)
{
    sync_result_set_error(c->ctx->res, fmt, detail);
}

static bool is_scalar_regular(const cql_column_meta *cm)
{
    if (cm->role != CQL_COL_REGULAR && cm->role != CQL_COL_STATIC)
        return false;
    cql_type_kind k = cm->type->kind;
    if (k == CQL_T_LIST || k == CQL_T_SET || k == CQL_T_MAP)
        return cm->type->frozen;
    if (k == CQL_T_UDT)
        return cm->type->frozen;
    return k != CQL_T_COUNTER;
}

/* Set up the row map, the id parts and the SELECT text prefix. */
static ce_err plan_columns(c2e *c, ce_buf *sel)
{
    const sync_def *d = c->d;
    cql_table_meta *m = c->meta;
    c->names = calloc(m->ncolumns + 1, sizeof *c->names);
    c->types = calloc(m->ncolumns + 1, sizeof *c->types);
    if (!c->names || !c->types)
        return CE_ENOMEM;
    sync_rowmap *rm = &c->rm;
    rm->ncols = m->ncolumns;
    rm->version_idx = rm->source_idx = -1;
    rm->wt_source_idx = rm->wt_version_idx = rm->wt_any_idx = -1;
    rm->source_field = d->source_field;
    rm->cassandra_source_id = d->cassandra_source_id;
    rm->es_source_id = d->es_source_id;
    rm->version_unit_us = d->version_unit_us;
    ce_err e = ce_buf_append_str(sel, "SELECT ");
    for (size_t i = 0; i < m->ncolumns && !e; i++) {
        c->names[i] = m->columns[i].name;
        c->types[i] = m->columns[i].type;
        if (d->version_col && strcmp(m->columns[i].name, d->version_col) == 0)
            rm->version_idx = (int)i;
        if (d->source_field && strcmp(m->columns[i].name, d->source_field) == 0)
            rm->source_idx = (int)i;
        if (i)
            e = ce_buf_append_byte(sel, ',');
        if (!e)
            e = cql_quote_ident(sel, m->columns[i].name);
    }
    rm->names = c->names;
    rm->types = c->types;
    /* each field's "name": text, escaped once for the whole pass */
    c->key_json = calloc(m->ncolumns + 1, sizeof *c->key_json);
    if (!c->key_json)
        return CE_ENOMEM;
    for (size_t i = 0; i < m->ncolumns && !e; i++) {
        size_t before = c->keys.len;
        e = jsonw_key(&c->keys, c->names[i], strlen(c->names[i]));
        c->key_json[i].len = c->keys.len - before;
    }
    /* pointers once the buffer is complete (appends may move it) */
    const char *kp = c->keys.data;
    for (size_t i = 0; i < m->ncolumns && !e; i++) {
        c->key_json[i].ptr = kp;
        kp += c->key_json[i].len;
    }
    rm->key_json = c->key_json;
    size_t n = m->ncolumns;
    /* WRITETIME columns: source and version (echo rule), and any scalar regular column
     * as the fallback version of rows without one */
    const cql_column_meta *src = rm->source_idx >= 0 ? &m->columns[rm->source_idx] : NULL;
    const cql_column_meta *ver = rm->version_idx >= 0 ? &m->columns[rm->version_idx] : NULL;
    if (!e && src && is_scalar_regular(src)) {
        e = ce_buf_append_str(sel, ",WRITETIME(");
        if (!e)
            e = cql_quote_ident(sel, src->name);
        if (!e)
            e = ce_buf_append_byte(sel, ')');
        rm->wt_source_idx = (int)n++;
    }
    if (!e && ver && is_scalar_regular(ver)) {
        e = ce_buf_append_str(sel, ",WRITETIME(");
        if (!e)
            e = cql_quote_ident(sel, ver->name);
        if (!e)
            e = ce_buf_append_byte(sel, ')');
        rm->wt_version_idx = (int)n++;
    }
    for (size_t i = 0; i < m->ncolumns && !e; i++) {
        const cql_column_meta *cm = &m->columns[i];
        if (cm == src || cm == ver || !is_scalar_regular(cm))
            continue;
        e = ce_buf_append_str(sel, ",WRITETIME(");
        if (!e)
            e = cql_quote_ident(sel, cm->name);
        if (!e)
            e = ce_buf_append_byte(sel, ')');
        rm->wt_any_idx = (int)n++;
        break;
    }
    c->ncells = n;
    if (!e)
        e = ce_buf_append_str(sel, " FROM ");
    if (!e)
        e = cql_quote_table(sel, m->keyspace, m->table);
    if (e)
        return e;

    /* _id parts: id_col, else the primary key */
    char ids[SYNC_MAX_KEY_PARTS][128];
    int nid = d->id_col ? sync_split_names(d->id_col, ids, SYNC_MAX_KEY_PARTS) : 0;
    if (nid < 0) {
        set_error(c, "too many id columns%s", "");
        return CE_ECONFIG;
    }
    if (nid == 0) {
        size_t nk = m->npartition_keys + m->nclustering;
        if (nk > SYNC_MAX_KEY_PARTS)
            return CE_EUNSUPPORTED;
        for (size_t i = 0; i < nk; i++)
            rm->id_idx[i] = (int)i;
        rm->nid = nk;
    } else {
        for (int k = 0; k < nid; k++) {
            int found = -1;
            for (size_t i = 0; i < m->ncolumns; i++)
                if (strcmp(m->columns[i].name, ids[k]) == 0)
                    found = (int)i;
            if (found < 0) {
                set_error(c, "id column \"%s\" is not in the table", ids[k]);
                return CE_ECONFIG;
            }
            rm->id_idx[k] = found;
        }
        rm->nid = (size_t)nid;
    }
    /* PyCassElastic's layout: PRIMARY KEY (id, version) */
    c->cleanup_layout = d->filter_date && d->delete_old_versions && m->npartition_keys == 1 &&
                        m->nclustering == 1 && rm->version_idx == 1 && rm->nid == 1 &&
                        rm->id_idx[0] == 0;
    return CE_OK;
}

static ce_err append_token_expr(ce_buf *b, const cql_table_meta *m)
{
    ce_err e = ce_buf_append_str(b, "token(");
    for (size_t i = 0; i < m->npartition_keys && !e; i++) {
        if (i)
            e = ce_buf_append_byte(b, ',');
        if (!e)
            e = cql_quote_ident(b, m->columns[i].name);
    }
    return e ? e : ce_buf_append_byte(b, ')');
}

static ce_err task_add_value(scan_task *t, const cql_type *ty, const json_t *j, ce_buf *err)
{
    bool is_null = false;
    size_t before = t->binds.len;
    ce_err e = cql_value_from_json(ty, j, &t->binds, &is_null, err);
    if (e)
        return e;
    t->offs[t->nvals] = before;
    t->lens[t->nvals] = is_null ? CQL_NULL : (int32_t)(t->binds.len - before);
    t->nvals++;
    return CE_OK;
}

static ce_err task_add_int(scan_task *t, const cql_type *ty, int64_t v, ce_buf *err)
{
    json_t *j = json_integer((json_int_t)v);
    if (!j)
        return CE_ENOMEM;
    ce_err e = task_add_value(t, ty, j, err);
    json_decref(j);
    return e;
}

static ce_err plan_tasks(c2e *c, const char *select_prefix)
{
    sync_pass_ctx *ctx = c->ctx;
    const sync_def *d = c->d;
    const cql_table_meta *m = c->meta;
    ce_buf q = CE_BUF_INIT;
    ce_err e = ce_buf_append_str(&q, select_prefix);
    bool version_filter = c->mode == SYNC_READ_FILTER || c->mode == SYNC_READ_BUCKETS;
    if (version_filter && c->rm.version_idx < 0) {
        set_error(c, "version column \"%s\" is not in the table", d->version_col);
        ce_buf_free(&q);
        return CE_ECONFIG;
    }
    int bucket_idx = -1;
    if (c->mode == SYNC_READ_BUCKETS) {
        for (size_t i = 0; i < m->ncolumns; i++)
            if (d->bucket_col && strcmp(m->columns[i].name, d->bucket_col) == 0)
                bucket_idx = (int)i;
        if (bucket_idx != 0 || m->npartition_keys != 1 || !d->bucket_format || d->bucket_seconds <= 0) {
            set_error(c, "read_mode buckets needs bucket_col as the only partition key, "
                         "bucket_format and bucket_seconds%s", "");
            ce_buf_free(&q);
            return CE_ECONFIG;
        }
        e = e ? e : ce_buf_append_str(&q, " WHERE ");
        e = e ? e : cql_quote_ident(&q, d->bucket_col);
        e = e ? e : ce_buf_append_str(&q, "=?");
    } else {
        e = e ? e : ce_buf_append_str(&q, " WHERE ");
        e = e ? e : append_token_expr(&q, m);
        e = e ? e : ce_buf_append_str(&q, ">? AND ");
        e = e ? e : append_token_expr(&q, m);
        e = e ? e : ce_buf_append_str(&q, "<=?");
    }
    if (version_filter) {
        e = e ? e : ce_buf_append_str(&q, " AND ");
        e = e ? e : cql_quote_ident(&q, d->version_col);
        e = e ? e : ce_buf_append_str(&q, ">=? AND ");
        e = e ? e : cql_quote_ident(&q, d->version_col);
        e = e ? e : ce_buf_append_str(&q, "<? ALLOW FILTERING");
    }
    if (e) {
        ce_buf_free(&q);
        return e;
    }
    cql_error_info info;
    e = cql_session_prepare(ctx->cql, ce_buf_cstr(&q), &c->select, &info);
    if (e) {
        ce_error("sync=%s dir=to_es msg=\"prepare failed\" error=\"%s\" cql=\"%s\"", d->name,
                 e == CE_ESERVER ? info.message : cql_session_errmsg(ctx->cql), ce_buf_cstr(&q));
        set_error(c, "prepare SELECT failed: %s", e == CE_ESERVER ? info.message : ce_strerror(e));
        ce_buf_free(&q);
        return e;
    }
    ce_debug("sync=%s dir=to_es msg=\"select\" cql=\"%s\"", d->name, ce_buf_cstr(&q));
    ce_buf_free(&q);

    size_t np = cql_prepared_param_count(c->select);
    const cql_type *vtype = version_filter ? cql_prepared_param_type(c->select, np - 1) : NULL;
    if (c->mode == SYNC_READ_BUCKETS) {
        int64_t first = sync_bucket_floor(ctx->win.start_ms / 1000, d->bucket_seconds);
        int64_t n = sync_bucket_count(ctx->win.start_ms, ctx->win.end_ms, d->bucket_seconds);
        c->tasks = calloc(n > 0 ? (size_t)n : 1, sizeof *c->tasks);
        if (!c->tasks)
            return CE_ENOMEM;
        const cql_type *btype = cql_prepared_param_type(c->select, 0);
        for (int64_t k = 0; k < n && !e; k++) {
            scan_task *t = &c->tasks[c->ntasks++];
            char text[128];
            e = sync_bucket_format(d->bucket_format, first + k * d->bucket_seconds, text, sizeof text);
            if (e)
                break;
            json_t *j = json_string(text);
            e = j ? task_add_value(t, btype, j, &c->err) : CE_ENOMEM;
            json_decref(j);
            if (!e)
                e = task_add_int(t, vtype, c->lo_v, &c->err);
            if (!e)
                e = task_add_int(t, vtype, c->hi_v, &c->err);
        }
        if (e)
            set_error(c, "cannot bind bucket values: %s", ce_buf_cstr(&c->err));
        return e;
    }
    size_t nhosts = cql_session_host_count(ctx->cql, true);
    size_t want = d->scan_ranges > 0 ? (size_t)d->scan_ranges : 64 * (nhosts ? nhosts : 1);
    cql_token_range *ranges = NULL;
    size_t nr = 0;
    e = cql_session_token_ranges(ctx->cql, want, &ranges, &nr);
    if (e) {
        set_error(c, "token ranges: %s", cql_session_errmsg(ctx->cql));
        return e;
    }
    c->tasks = calloc(nr ? nr : 1, sizeof *c->tasks);
    if (!c->tasks) {
        free(ranges);
        return CE_ENOMEM;
    }
    for (size_t k = 0; k < nr && !e; k++) {
        scan_task *t = &c->tasks[c->ntasks++];
        int64_t tok[2] = {ranges[k].start, ranges[k].end};
        t->routed = true; /* read where the range lives: no coordinator hop */
        t->route_token = ranges[k].end;
        for (int j = 0; j < 2 && !e; j++) {
            t->offs[t->nvals] = t->binds.len;
            e = ce_buf_put_u64(&t->binds, (uint64_t)tok[j]);
            t->lens[t->nvals++] = 8;
        }
        if (!e && version_filter)
            e = task_add_int(t, vtype, c->lo_v, &c->err);
        if (!e && version_filter)
            e = task_add_int(t, vtype, c->hi_v, &c->err);
    }
    free(ranges);
    if (e)
        set_error(c, "cannot bind window values: %s", ce_buf_cstr(&c->err));
    return e;
}

static ce_err task_start(c2e *c, scan_task *t)
{
    cql_value vals[4];
    for (size_t i = 0; i < t->nvals; i++) {
        vals[i].ptr = (const uint8_t *)t->binds.data + t->offs[i];
        vals[i].len = t->lens[i];
    }
    cql_query_opts q;
    cql_query_opts_init(&q);
    q.consistency = c->ctx->read_cl;
    q.page_size = c->d->page_size > 0 ? c->d->page_size : 5000;
    q.has_routing_token = t->routed;
    q.routing_token = t->route_token;
    if (t->has_paging) {
        q.paging_state.ptr = (const uint8_t *)t->paging.data;
        q.paging_state.len = (int32_t)t->paging.len;
    }
    t->f = cql_session_execute_async(c->ctx->cql, c->select, vals, t->nvals, &q);
    return t->f ? CE_OK : CE_ENOMEM;
}

static void dead_letter_row(c2e *c, const cql_value *cells, const char *id, const char *reason)
{
    sync_pass_result *res = c->ctx->res;
    res->c2e_rejected++;
    ce_buf doc = CE_BUF_INIT;
    if (sync_row_doc(&c->rm, cells, &doc) != CE_OK)
        ce_buf_reset(&doc);
    ce_warn("sync=%s dir=to_es msg=\"row rejected\" id=\"%s\" reason=\"%s\"", c->d->name,
            id ? id : "", reason);
    if (c->ctx->dl && sync_deadletter_write(c->ctx->dl, c->d->name, dir_name, id, reason,
                                            doc.len ? doc.data : NULL, doc.len) != CE_OK)
        c->dl_failed = true;
    ce_buf_free(&doc);
}

/* (id, version) layout: rows of one partition arrive together in clustering order, so
 * every version below the partition's highest one is an old version (deleted after a
 * successful pass: by then Elasticsearch acknowledged the newest). */
static void track_versions(c2e *c, scan_task *t, int64_t version)
{
    if (t->last_id.len == c->id.len && memcmp(t->last_id.data, c->id.data, c->id.len) == 0) {
        if (version > t->last_max) {
            add_old(c, c->id.data, c->id.len, t->last_max);
            t->last_max = version;
        } else if (version < t->last_max) {
            add_old(c, c->id.data, c->id.len, version);
        }
        return;
    }
    ce_buf_reset(&t->last_id);
    if (ce_buf_append(&t->last_id, c->id.data, c->id.len) != CE_OK)
        ce_buf_reset(&t->last_id);
    t->last_max = version;
}

static ce_err process_rows(c2e *c, scan_task *t, cql_result *r)
{
    sync_pass_result *res = c->ctx->res;
    size_t nrows = cql_result_row_count(r);
    cql_value cells[c->ncells > 0 ? c->ncells : 1];
    const char *index = c->d->index;
    for (size_t row = 0; row < nrows; row++) {
        for (size_t i = 0; i < c->ncells; i++)
            cells[i] = cql_result_cell(r, row, i);
        c->scanned++;
        int64_t version;
        bool from_wt;
        ce_err e = sync_row_version(&c->rm, cells, &version, &from_wt);
        if (c->mode == SYNC_READ_FULL_SCAN &&
            (e || version < c->lo_v || version >= c->hi_v))
            continue;
        res->c2e_read++;
        if (e) {
            ce_buf_reset(&c->id);
            ce_buf_reset(&c->err);
            const char *id = sync_row_id(&c->rm, cells, &c->id, &c->scratch, &c->err) ? NULL
                                                                                         : ce_buf_cstr(&c->id);
            dead_letter_row(c, cells, id,
                            e == CE_ENOTFOUND ? "row has no version and no WRITETIME"
                                              : "version column is not an integer");
            continue;
        }
        if (sync_row_is_echo(&c->rm, cells)) {
            res->c2e_skipped++;
            continue;
        }
        ce_buf_reset(&c->err);
        e = sync_row_id(&c->rm, cells, &c->id, &c->scratch, &c->err);
        if (e) {
            if (e == CE_ENOMEM)
                return e;
            dead_letter_row(c, cells, NULL, ce_buf_cstr(&c->err));
            continue;
        }
        if (c->cleanup_layout)
            track_versions(c, t, version);
        ce_buf *doc = es_bulk_index_begin(c->bulk, index, c->type, c->id.data, c->id.len,
                                          ES_VERSION_EXTERNAL, version);
        if (!doc)
            return CE_ENOMEM;
        e = sync_row_doc(&c->rm, cells, doc);
        if (e) {
            es_bulk_abort(c->bulk);
            if (e == CE_ENOMEM)
                return e;
            dead_letter_row(c, cells, ce_buf_cstr(&c->id), "row cannot be converted to JSON");
            continue;
        }
        e = es_bulk_commit(c->bulk, (uint64_t)version);
        if (e) {
            set_error(c, "bulk request failed: %s", es_bulk_errmsg(c->bulk));
            return e;
        }
    }
    return CE_OK;
}

/*
 * The Cassandra side runs in a reader thread: it keeps C2E_INFLIGHT page requests in
 * flight (the oldest first: when a page arrives its next page is requested at once) and
 * hands finished pages to this thread through a small queue, so waiting for Cassandra
 * never stalls the bulk requests (and the other way round). The reader is the only user
 * of the cql session until it is joined.
 */
#define C2E_QUEUE 3

typedef struct {
    scan_task *t;
    cql_result *r;
} page_item;

typedef struct {
    c2e *c;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    page_item q[C2E_QUEUE];
    size_t head, n;
    bool done, quit;
    ce_err err;
    char errmsg[400];
    size_t tasks_done;
} page_reader;

static bool reader_quitting(page_reader *rd)
{
    pthread_mutex_lock(&rd->mu);
    bool q = rd->quit;
    pthread_mutex_unlock(&rd->mu);
    return q;
}

/* Hand a page over; false (and the result freed) when the consumer quit. */
static bool reader_push(page_reader *rd, scan_task *t, cql_result *r, bool task_done)
{
    pthread_mutex_lock(&rd->mu);
    while (rd->n == C2E_QUEUE && !rd->quit)
        pthread_cond_wait(&rd->cv, &rd->mu);
    bool ok = !rd->quit;
    if (ok) {
        rd->q[(rd->head + rd->n++) % C2E_QUEUE] = (page_item){t, r};
        if (task_done)
            rd->tasks_done++;
        pthread_cond_broadcast(&rd->cv);
    }
    pthread_mutex_unlock(&rd->mu);
    if (!ok)
        cql_result_free(r);
    return ok;
}

static void *reader_main(void *arg)
{
    page_reader *rd = arg;
    c2e *c = rd->c;
    size_t next = 0;
    size_t fifo[C2E_INFLIGHT];
    size_t head = 0, count = 0;
    ce_err rc = CE_OK;
    bool stopping = false;
    while (count > 0 || (next < c->ntasks && !stopping && !rc)) {
        while (!stopping && !rc && count < C2E_INFLIGHT && next < c->ntasks) {
            rc = task_start(c, &c->tasks[next]);
            if (rc)
                break;
            fifo[(head + count) % C2E_INFLIGHT] = next++;
            count++;
        }
        if (count == 0)
            break;
        scan_task *t = &c->tasks[fifo[head]];
        cql_result *r = NULL;
        double t0 = ce_mono_s();
        ce_err e = cql_future_wait(t->f, &r);
        c->cql_wait_s += ce_mono_s() - t0;
        head = (head + 1) % C2E_INFLIGHT;
        count--;
        if (e && !rc && !stopping && t->retries < 3 && e != CE_ENOMEM &&
            !(e == CE_ESERVER && cql_future_error(t->f) &&
              (cql_future_error(t->f)->code & 0xff00) == 0x2200)) {
            /* reads are idempotent: ask for the same page again (timeouts, a node going away) */
            ce_warn("sync=%s dir=to_es msg=\"page read failed; retrying\" error=\"%s\" attempt=%d", c->d->name,
                    cql_future_errmsg(t->f) ? cql_future_errmsg(t->f) : ce_strerror(e), t->retries + 1);
            t->retries++;
            c->ctx->res->c2e_read_retries++;
            cql_future_free(t->f);
            t->f = NULL;
            rc = task_start(c, t);
            if (!rc) {
                fifo[(head + count) % C2E_INFLIGHT] = (size_t)(t - c->tasks);
                count++;
            }
            continue;
        }
        if (e) {
            if (!rc) {
                const char *msg = cql_future_errmsg(t->f);
                ce_error("sync=%s dir=to_es msg=\"read failed\" error=\"%s\"", c->d->name,
                         msg ? msg : ce_strerror(e));
                snprintf(rd->errmsg, sizeof rd->errmsg, "read failed: %s", msg ? msg : ce_strerror(e));
                rc = e;
            }
            cql_future_free(t->f);
            t->f = NULL;
            continue;
        }
        cql_future_free(t->f);
        t->f = NULL;
        if (!stopping && reader_quitting(rd))
            stopping = true;
        bool more = cql_result_has_more_pages(r);
        if (more && !rc && !stopping) {
            cql_value ps = cql_result_paging_state(r);
            ce_buf_reset(&t->paging);
            e = ce_buf_append(&t->paging, ps.ptr, ps.len > 0 ? (size_t)ps.len : 0);
            t->has_paging = true;
            if (!e)
                e = task_start(c, t);
            if (e) {
                rc = e;
            } else {
                /* the task stays in flight at the back of the queue */
                fifo[(head + count) % C2E_INFLIGHT] = (size_t)(t - c->tasks);
                count++;
            }
        } else if (!more) {
            t->done = true;
        }
        if (rc || stopping) {
            cql_result_free(r);
            continue;
        }
        if (!reader_push(rd, t, r, !more))
            stopping = true;
    }
    pthread_mutex_lock(&rd->mu);
    rd->err = rc;
    rd->done = true;
    pthread_cond_broadcast(&rd->cv);
    pthread_mutex_unlock(&rd->mu);
    return NULL;
}

/* Run every scan task; pages are converted and indexed here as the reader delivers them. */
static ce_err run_tasks(c2e *c)
{
    sync_pass_ctx *ctx = c->ctx;
    page_reader rd;
    memset(&rd, 0, sizeof rd);
    rd.c = c;
    pthread_mutex_init(&rd.mu, NULL);
    pthread_cond_init(&rd.cv, NULL);
    if (pthread_create(&rd.thread, NULL, reader_main, &rd) != 0) {
        pthread_mutex_destroy(&rd.mu);
        pthread_cond_destroy(&rd.cv);
        return CE_ENOMEM;
    }
    ce_err rc = CE_OK;
    bool stopped = false;
    for (;;) {
        pthread_mutex_lock(&rd.mu);
        while (rd.n == 0 && !rd.done)
            pthread_cond_wait(&rd.cv, &rd.mu);
        if (rd.n == 0) {
            pthread_mutex_unlock(&rd.mu);
            break;
        }
        page_item it = rd.q[rd.head];
        rd.head = (rd.head + 1) % C2E_QUEUE;
        rd.n--;
        size_t tasks_done = rd.tasks_done;
        pthread_cond_broadcast(&rd.cv);
        pthread_mutex_unlock(&rd.mu);
        if (!rc)
            rc = process_rows(c, it.t, it.r);
        cql_result_free(it.r);
        c->tasks_done = tasks_done;
        if (!rc && sync_stop_requested(ctx))
            stopped = true;
        if (rc || stopped) {
            pthread_mutex_lock(&rd.mu);
            rd.quit = true;
            pthread_cond_broadcast(&rd.cv);
            pthread_mutex_unlock(&rd.mu);
        }
        sync_progress(ctx, dir_name, ctx->res->c2e_read, ctx->res->c2e_indexed + ctx->res->c2e_conflicts,
                      c->ntasks ? (double)c->tasks_done / (double)c->ntasks : -1.0, false);
    }
    pthread_mutex_lock(&rd.mu);
    rd.quit = true;
    pthread_cond_broadcast(&rd.cv);
    pthread_mutex_unlock(&rd.mu);
    pthread_join(rd.thread, NULL);
    for (size_t k = 0; k < rd.n; k++)
        cql_result_free(rd.q[(rd.head + k) % C2E_QUEUE].r);
    pthread_mutex_destroy(&rd.mu);
    pthread_cond_destroy(&rd.cv);
    if (!rc && rd.err) {
        set_error(c, "%s", rd.errmsg[0] ? rd.errmsg : ce_strerror(rd.err));
        rc = rd.err;
    }
    if (!rc && stopped)
        rc = CE_ECANCELED;
    return rc;
}

/* true when the index holds no document at the start of an initial pass (created by it,
 * or found empty after a refresh). Later passes keep the echo rule whatever the count. */
static bool index_starts_empty(c2e *c, bool created)
{
    if (created)
        return true;
    if (!c->ctx->win.initial)
        return false;
    int64_t n = -1;
    if (es_index_refresh(c->ctx->es, c->d->index) != CE_OK ||
        es_index_doc_count(c->ctx->es, c->d->index, &n) != CE_OK)
        return false;
    return n == 0;
}

static ce_err ensure_index(c2e *c, bool *created)
{
    sync_pass_ctx *ctx = c->ctx;
    bool exists = false;
    *created = false;
    ce_err e = es_index_exists(ctx->es, c->d->index, &exists);
    if (e) {
        set_error(c, "index check failed: %s", es_client_errmsg(ctx->es));
        return e;
    }
    if (exists || !c->d->create_index)
        return CE_OK;
    sync_es_target tg = {es_client_flavor(ctx->es), es_client_major_version(ctx->es),
                         es_client_has_types(ctx->es), c->type, false};
    ce_buf body = CE_BUF_INIT;
    e = sync_mapping_build(c->meta, c->d, &tg, &body);
    if (!e)
        e = es_index_create(ctx->es, c->d->index, ce_buf_cstr(&body), created);
    if (e && strstr(es_client_errmsg(ctx->es), "index.knn")) {
        /* OpenSearch without the k-NN plugin: vectors become float arrays */
        ce_warn("sync=%s dir=to_es msg=\"no k-NN plugin: vector columns mapped as float arrays\"",
                c->d->name);
        tg.no_knn = true;
        ce_buf_reset(&body);
        e = sync_mapping_build(c->meta, c->d, &tg, &body);
        if (!e)
            e = es_index_create(ctx->es, c->d->index, ce_buf_cstr(&body), created);
    }
    if (e) {
        ce_error("sync=%s dir=to_es msg=\"index creation failed\" index=%s error=\"%s\"", c->d->name,
                 c->d->index, es_client_errmsg(ctx->es));
        set_error(c, "index creation failed: %s", es_client_errmsg(ctx->es));
    } else if (*created) {
        ce_info("sync=%s dir=to_es msg=\"index created\" index=%s", c->d->name, c->d->index);
    }
    ce_buf_free(&body);
    return e;
}

/* DELETE the versions Elasticsearch refused as older (PyCassElastic's cleanup). */
static ce_err delete_old_versions(c2e *c)
{
    sync_pass_ctx *ctx = c->ctx;
    if (c->nolds == 0)
        return CE_OK;
    ce_buf q = CE_BUF_INIT;
    ce_err e = ce_buf_append_str(&q, "DELETE FROM ");
    e = e ? e : cql_quote_table(&q, c->meta->keyspace, c->meta->table);
    e = e ? e : ce_buf_append_str(&q, " WHERE ");
    e = e ? e : cql_quote_ident(&q, c->meta->columns[0].name);
    e = e ? e : ce_buf_append_str(&q, "=? AND ");
    e = e ? e : cql_quote_ident(&q, c->meta->columns[1].name);
    e = e ? e : ce_buf_append_str(&q, "=?");
    cql_prepared *del = NULL;
    cql_error_info info;
    if (!e)
        e = cql_session_prepare(ctx->cql, ce_buf_cstr(&q), &del, &info);
    ce_buf_free(&q);
    if (e) {
        ce_warn("sync=%s dir=to_es msg=\"cannot prepare delete of old versions\"", c->d->name);
        return e;
    }
    size_t window = ctx->def->write_concurrency > 0 ? (size_t)ctx->def->write_concurrency : 256;
    cql_future **ring = calloc(window, sizeof *ring);
    if (!ring)
        return CE_ENOMEM;
    size_t head = 0, count = 0;
    ce_buf vb = CE_BUF_INIT;
    ce_err rc = CE_OK;
    for (size_t k = 0; k <= c->nolds; k++) {
        while (count > 0 && (count == window || k == c->nolds)) {
            cql_future *f = ring[head];
            ce_err fe = cql_future_wait(f, NULL);
            if (fe == CE_OK)
                ctx->res->c2e_deleted_old++;
            else if (!rc)
                rc = fe;
            cql_future_free(f);
            head = (head + 1) % window;
            count--;
        }
        if (k == c->nolds)
            break;
        ce_buf_reset(&vb);
        size_t off[2];
        int32_t len[2];
        bool nul = false;
        json_t *jid = json_string(c->olds[k].id);
        json_t *jv = json_integer(c->olds[k].version);
        off[0] = 0;
        ce_err ve = (jid && jv) ? cql_value_from_json(cql_prepared_param_type(del, 0), jid, &vb, &nul, NULL)
                                : CE_ENOMEM;
        len[0] = (int32_t)vb.len;
        off[1] = vb.len;
        if (!ve)
            ve = cql_value_from_json(cql_prepared_param_type(del, 1), jv, &vb, &nul, NULL);
        len[1] = (int32_t)(vb.len - off[1]);
        json_decref(jid);
        json_decref(jv);
        if (ve || nul)
            continue;
        cql_value vals[2] = {{(const uint8_t *)vb.data + off[0], len[0]},
                             {(const uint8_t *)vb.data + off[1], len[1]}};
        cql_query_opts qo;
        cql_query_opts_init(&qo);
        qo.consistency = ctx->write_cl;
        cql_future *f = cql_session_execute_async(ctx->cql, del, vals, 2, &qo);
        if (!f) {
            rc = CE_ENOMEM;
            break;
        }
        ring[(head + count) % window] = f;
        count++;
    }
    while (count > 0) {
        cql_future_wait(ring[head], NULL);
        cql_future_free(ring[head]);
        head = (head + 1) % window;
        count--;
    }
    ce_buf_free(&vb);
    free(ring);
    if (rc)
        ce_warn("sync=%s dir=to_es msg=\"some old versions were not deleted\" error=%s", c->d->name,
                ce_errname(rc));
    return CE_OK; /* cleanup is best effort: the next pass retries */
}

/* "<state_dir>/<sync>.to_es.bulkload": present while an initial load has the index in
 * bulk-load settings. A process killed in between leaves it behind; the next pass then
 * resets the two settings to the server defaults (the saved values died with it). */
static void bulkload_marker_path(const sync_pass_ctx *ctx, char *out, size_t n)
{
    char name[200];
    snprintf(name, sizeof name, "%s", ctx->def->name ? ctx->def->name : "sync");
    for (char *p = name; *p; p++)
        if (*p == '/')
            *p = '_';
    snprintf(out, n, "%s/%s.to_es.bulkload", ctx->state_dir ? ctx->state_dir : ".", name);
}

static bool bulkload_marker_exists(const sync_pass_ctx *ctx)
{
    char path[1400];
    bulkload_marker_path(ctx, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

static void bulkload_marker_set(const sync_pass_ctx *ctx, bool on)
{
    char path[1400];
    bulkload_marker_path(ctx, path, sizeof path);
    if (!on) {
        (void)remove(path);
        return;
    }
    FILE *f = fopen(path, "wb");
    if (f) {
        fprintf(f, "%s\n", ctx->def->index);
        fflush(f);
        (void)fsync(fileno(f));
        fclose(f);
    }
}

static void reset_index_settings(sync_pass_ctx *ctx)
{
    static const char body[] = "{\"index\":{\"refresh_interval\":null,\"number_of_replicas\":null}}";
    char path[600];
    snprintf(path, sizeof path, "/%s/_settings", ctx->def->index);
    long status = 0;
    ce_err e = es_client_request(ctx->es, "PUT", path, body, sizeof body - 1, &status, NULL);
    if (e || status >= 300)
        ce_warn("sync=%s dir=to_es msg=\"could not reset index settings after an interrupted load\" "
                "index=%s status=%ld", ctx->def->name, ctx->def->index, status);
    else
        ce_info("sync=%s dir=to_es msg=\"index settings reset after an interrupted initial load\" index=%s",
                ctx->def->name, ctx->def->index);
}

ce_err sync_c2e_run(sync_pass_ctx *ctx)
{
    c2e c;
    memset(&c, 0, sizeof c);
    c.ctx = ctx;
    c.d = ctx->def;
    const sync_def *d = c.d;
    sync_read_mode mode = d->read_mode;
    if (mode == SYNC_READ_AUTO)
        mode = d->filter_date ? SYNC_READ_FILTER : SYNC_READ_ALL;
    /* a bucket walk from the epoch would visit every bucket ever: scan instead */
    if (mode == SYNC_READ_BUCKETS &&
        (ctx->win.initial ||
         sync_bucket_count(ctx->win.start_ms, ctx->win.end_ms, d->bucket_seconds) > 20000))
        mode = SYNC_READ_FULL_SCAN;
    c.mode = mode;
    c.lo_v = sync_version_floor(ctx->win.start_ms, d->version_unit_us);
    c.hi_v = sync_version_ceil(ctx->win.end_ms, d->version_unit_us);
    bool has_types = es_client_has_types(ctx->es);
    c.type = d->type && *d->type ? d->type : (has_types ? "_doc" : NULL);

    ce_err rc = cql_session_table_meta(ctx->cql, sync_keyspace(ctx), d->table, &c.meta);
    if (rc) {
        char what[300];
        snprintf(what, sizeof what, "%s.%s: %s", sync_keyspace(ctx), d->table,
                 rc == CE_ENOTFOUND ? "no such table" : cql_session_errmsg(ctx->cql));
        set_error(&c, "table %s", what);
        return rc;
    }
    ce_buf sel = CE_BUF_INIT;
    es_index_settings *saved = NULL;
    bool created = false;
    rc = plan_columns(&c, &sel);
    if (!rc)
        rc = plan_tasks(&c, ce_buf_cstr(&sel));
    if (!rc)
        rc = ensure_index(&c, &created);
    if (!rc && index_starts_empty(&c, created)) {
        /* Nothing in the index can echo: rows that came from Elasticsearch once (the index
         * was deleted and is being rebuilt, say) belong in it like every other row. */
        c.rm.es_source_id = NULL;
        ce_info("sync=%s dir=to_es msg=\"index new or empty: rows that came from Elasticsearch are "
                "sent too\" index=%s", d->name, d->index);
    }
    bool recover_settings = bulkload_marker_exists(ctx);
    if (!rc && ctx->win.initial && !recover_settings) {
        bulkload_marker_set(ctx, true);
        if (es_index_bulk_load_begin(ctx->es, d->index, &saved) != CE_OK) {
            ce_warn("sync=%s dir=to_es msg=\"could not switch the index to bulk-load settings\" "
                    "error=\"%s\"", d->name, es_client_errmsg(ctx->es));
            saved = NULL;
            bulkload_marker_set(ctx, false);
        }
    }
    if (!rc) {
        es_bulk_opts bo;
        es_bulk_opts_init(&bo);
        if (d->bulk_max_bytes > 0)
            bo.max_bytes = (size_t)d->bulk_max_bytes;
        if (d->bulk_max_docs > 0)
            bo.max_docs = (size_t)d->bulk_max_docs;
        if (d->bulk_concurrency > 0)
            bo.concurrency = d->bulk_concurrency;
        bo.on_result = on_item;
        bo.ud = &c;
        rc = es_bulk_new(ctx->es, &bo, &c.bulk);
        if (rc)
            set_error(&c, "bulk: %s", es_client_errmsg(ctx->es));
    }
    if (!rc) {
        ce_info("sync=%s dir=to_es msg=\"reading\" mode=%s tasks=%zu version_gte=%lld version_lt=%lld",
                d->name,
                mode == SYNC_READ_FILTER ? "filter"
                : mode == SYNC_READ_BUCKETS ? "buckets"
                : mode == SYNC_READ_FULL_SCAN ? "full_scan" : "all",
                c.ntasks, (long long)c.lo_v, (long long)c.hi_v);
        rc = run_tasks(&c);
    }
    if (c.bulk) {
        /* whatever happened, wait for every request in flight: acknowledged work counts */
        double t0 = ce_mono_s();
        ce_err fe = es_bulk_finish(c.bulk);
        es_bulk_stats bst;
        es_bulk_get_stats(c.bulk, &bst);
        ctx->res->c2e_bulk_retries += bst.retries;
        c.es_wait_s += bst.wait_s + (ce_mono_s() - t0);
        ce_debug("sync=%s dir=to_es msg=\"pipeline\" cql_wait_s=%.3f es_wait_s=%.3f scanned=%llu",
                 d->name, c.cql_wait_s, c.es_wait_s, (unsigned long long)c.scanned);
        if (fe && !rc) {
            set_error(&c, "bulk: %s", es_bulk_errmsg(c.bulk));
            rc = fe;
        }
    }
    if (!rc && ctx->res->c2e_failed > 0) {
        set_error(&c, "%s", "some documents were not acknowledged by Elasticsearch");
        rc = CE_EPARTIAL;
    }
    if (!rc && c.dl_failed) {
        set_error(&c, "%s", "dead-letter file could not be written");
        rc = CE_EIO;
    }
    if (saved) {
        if (es_index_restore_settings(ctx->es, d->index, saved) != CE_OK)
            ce_warn("sync=%s dir=to_es msg=\"could not restore index settings\" index=%s error=\"%s\"",
                    d->name, d->index, es_client_errmsg(ctx->es));
        else
            bulkload_marker_set(ctx, false);
        es_index_settings_free(saved);
    }
    if (recover_settings) {
        reset_index_settings(ctx);
        bulkload_marker_set(ctx, false);
    }
    if (c.bulk && ctx->res->c2e_indexed > 0)
        (void)es_index_refresh(ctx->es, d->index);
    if (!rc && c.cleanup_layout)
        delete_old_versions(&c);
    sync_progress(ctx, dir_name, ctx->res->c2e_read, ctx->res->c2e_indexed + ctx->res->c2e_conflicts,
                  1.0, true);

    es_bulk_free(c.bulk);
    for (size_t i = 0; i < c.ntasks; i++) {
        if (c.tasks[i].f) {
            cql_future_wait(c.tasks[i].f, NULL);
            cql_future_free(c.tasks[i].f);
        }
        ce_buf_free(&c.tasks[i].binds);
        ce_buf_free(&c.tasks[i].paging);
        ce_buf_free(&c.tasks[i].last_id);
    }
    free(c.tasks);
    for (size_t i = 0; i < c.nolds; i++)
        free(c.olds[i].id);
    free(c.olds);
    ce_buf_free(&sel);
    ce_buf_free(&c.id);
    ce_buf_free(&c.scratch);
    ce_buf_free(&c.err);
    ce_buf_free(&c.keys);
    free(c.key_json);
    free(c.names);
    free(c.types);
    cql_table_meta_free(c.meta);
    return rc;
}
