/*
 * readplan.c - C->E read plans: one table entry per Cassandra read mode, read by one
 * generic planner (sync_scan_plan): resolve the mode, check the config against the table,
 * build "SELECT ... WHERE <unit> [AND <window> [ALLOW FILTERING]]", prepare it, and make
 * one scan task per unit (token range, time bucket) with its binds.
 *
 * A new mode is one more entry: its WHERE text, its units and whether the window goes
 * into the WHERE (served by an index or filtered by Cassandra) or is filtered as rows
 * arrive. `check` asks the same table what a pass would read (sync_read_forecast).
 */
#include "sync/c2e_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"

/* A bucket walk from the epoch would visit every bucket ever: scan instead. */
#define SYNC_MAX_BUCKETS 20000

static sync_read_mode resolve_auto(const sync_def *d, const sync_window *w, const sync_table_plan *tp)
{
    (void)w;
    if (!d->filter_date)
        return SYNC_READ_ALL;
    return tp && tp->version_index ? SYNC_READ_INDEX : SYNC_READ_FILTER;
}

static sync_read_mode resolve_buckets(const sync_def *d, const sync_window *w, const sync_table_plan *tp)
{
    (void)tp;
    if (w->initial || sync_bucket_count(w->start_ms, w->end_ms, d->bucket_seconds) > SYNC_MAX_BUCKETS)
        return SYNC_READ_FULL_SCAN;
    return SYNC_READ_BUCKETS;
}

static ce_err check_buckets(sync_pass_ctx *ctx, const sync_table_plan *tp)
{
    const sync_def *d = ctx->def;
    const cql_table_meta *m = tp->meta;
    if (sync_table_column(m, d->bucket_col) == 0 && m->npartition_keys == 1 && d->bucket_format &&
        d->bucket_seconds > 0)
        return CE_OK;
    sync_pass_fail(ctx, CE_ECONFIG, "read_mode buckets needs bucket_col as the only partition key, "
                                    "bucket_format and bucket_seconds%s", "");
    return CE_ECONFIG;
}

/* The statement that makes the index read_mode index needs, into out. */
static ce_err create_index_text(ce_buf *out, const char *keyspace, const sync_def *d)
{
    ce_err e = ce_buf_append_str(out, "CREATE INDEX ON ");
    e = e ? e : cql_ident_append(out, keyspace);
    e = e ? e : ce_buf_append_byte(out, '.');
    e = e ? e : cql_ident_append(out, d->table);
    e = e ? e : ce_buf_append_str(out, " (");
    e = e ? e : cql_ident_append(out, d->version_col);
    e = e ? e : ce_buf_append_str(out, ") USING 'sai'");
    return e ? e : (ce_buf_cstr(out) ? CE_OK : CE_ENOMEM);
}

/* read_mode index: a range on the version column served by an SAI index, never a scan. */
static ce_err check_index(sync_pass_ctx *ctx, const sync_table_plan *tp)
{
    if (tp->version_index)
        return CE_OK;
    const sync_def *d = ctx->def;
    ce_buf stmt = CE_BUF_INIT;
    ce_err e = create_index_text(&stmt, sync_keyspace(ctx), d);
    char why[700];
    snprintf(why, sizeof why, "read_mode index needs a storage-attached index on column %s of table %s.%s, "
             "and it has none (create it with: %s)", d->version_col, sync_keyspace(ctx), d->table,
             e ? ce_strerror(e) : stmt.data);
    ce_buf_free(&stmt);
    sync_pass_fail(ctx, CE_ECONFIG, "%s", why);
    return CE_ECONFIG;
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

static ce_err where_token_range(ce_buf *q, const sync_def *d, const cql_table_meta *m)
{
    (void)d;
    ce_err e = ce_buf_append_str(q, " WHERE ");
    e = e ? e : append_token_expr(q, m);
    e = e ? e : ce_buf_append_str(q, ">? AND ");
    e = e ? e : append_token_expr(q, m);
    return e ? e : ce_buf_append_str(q, "<=?");
}

static ce_err where_bucket(ce_buf *q, const sync_def *d, const cql_table_meta *m)
{
    (void)m;
    ce_err e = ce_buf_append_str(q, " WHERE ");
    e = e ? e : cql_quote_ident(q, d->bucket_col);
    return e ? e : ce_buf_append_str(q, "=?");
}

static ce_err where_window(ce_buf *q, const sync_def *d, bool allow_filtering)
{
    ce_err e = ce_buf_append_str(q, " AND ");
    e = e ? e : cql_quote_ident(q, d->version_col);
    e = e ? e : ce_buf_append_str(q, ">=? AND ");
    e = e ? e : cql_quote_ident(q, d->version_col);
    e = e ? e : ce_buf_append_str(q, "<?");
    return e || !allow_filtering ? e : ce_buf_append_str(q, " ALLOW FILTERING");
}

/* Bind one JSON value of type ty as the task's next value. */
static ce_err task_bind_json(sync_scan_task *t, const cql_type *ty, const json_t *j, ce_buf *err)
{
    bool is_null = false;
    size_t before = t->binds.len;
    if (t->nvals == SYNC_SCAN_MAX_BINDS)
        return CE_EINVAL;
    ce_err e = conv_value_from_json(ty, j, &t->binds, &is_null, err);
    if (e)
        return e;
    t->offs[t->nvals] = before;
    t->lens[t->nvals] = is_null ? CQL_NULL : (int32_t)(t->binds.len - before);
    t->nvals++;
    return CE_OK;
}

static ce_err task_bind_int(sync_scan_task *t, const cql_type *ty, int64_t v, ce_buf *err)
{
    json_t *j = json_integer((json_int_t)v);
    ce_err e = j ? task_bind_json(t, ty, j, err) : CE_ENOMEM;
    json_decref(j);
    return e;
}

/* One task a token range (about want of them, scan_ranges when set), sent to the range's
 * replicas. */
static ce_err token_range_tasks(sync_pass_ctx *ctx, sync_scan *s, size_t want)
{
    if (ctx->def->scan_ranges > 0)
        want = (size_t)ctx->def->scan_ranges;
    cql_token_range *ranges = NULL;
    size_t nr = 0;
    ce_err e = cql_session_token_ranges(ctx->cql, want, &ranges, &nr);
    if (e) {
        sync_pass_fail(ctx, e, "token ranges: %s", cql_session_errmsg(ctx->cql));
        return e;
    }
    s->tasks = calloc(nr ? nr : 1, sizeof *s->tasks);
    for (size_t k = 0; k < nr && s->tasks && !e; k++) {
        sync_scan_task *t = &s->tasks[s->ntasks++];
        int64_t tok[2] = {ranges[k].start, ranges[k].end};
        t->routed = true; /* read where the range lives: no coordinator hop */
        t->route_token = ranges[k].end;
        for (int j = 0; j < 2 && !e; j++) {
            t->offs[t->nvals] = t->binds.len;
            e = ce_buf_put_u64(&t->binds, (uint64_t)tok[j]);
            t->lens[t->nvals++] = 8;
        }
    }
    free(ranges);
    return s->tasks ? e : CE_ENOMEM;
}

/* Scans: the ring's own ranges, split only when there are fewer than
 * SYNC_SCAN_MIN_RANGES (the reader keeps 6 requests in flight, one a range: a few more
 * ranges keep them going until the last ones). Each range is a read command of its own
 * on the server, and fewer, longer reads cost Cassandra less per row
 * (docs/performance.md); a killed load resumes inside a range (scanack.c), so long ranges
 * cost a resume nothing. */
#define SYNC_SCAN_MIN_RANGES 16
static ce_err tasks_token_ranges(sync_pass_ctx *ctx, sync_scan *s)
{
    return token_range_tasks(ctx, s, SYNC_SCAN_MIN_RANGES);
}

/* Index reads: each range's read is an index search on every SSTable of its replica, a
 * cost per read whatever the range holds (bench/suite/index_mode.py: 128 ranges cost about
 * twice what 32 do for 100 changed rows), so only the ring's own ranges. */
static ce_err tasks_ring_ranges(sync_pass_ctx *ctx, sync_scan *s) { return token_range_tasks(ctx, s, 1); }

/* One task a time bucket overlapping the window. */
static ce_err tasks_buckets(sync_pass_ctx *ctx, sync_scan *s)
{
    const sync_def *d = ctx->def;
    int64_t first = sync_bucket_floor(ctx->win.start_ms / 1000, d->bucket_seconds);
    int64_t n = sync_bucket_count(ctx->win.start_ms, ctx->win.end_ms, d->bucket_seconds);
    s->tasks = calloc(n > 0 ? (size_t)n : 1, sizeof *s->tasks);
    if (!s->tasks)
        return CE_ENOMEM;
    const cql_type *btype = cql_prepared_param_type(s->select, 0);
    ce_err e = CE_OK;
    for (int64_t k = 0; k < n && !e; k++) {
        sync_scan_task *t = &s->tasks[s->ntasks++];
        char text[128];
        e = sync_bucket_format(d->bucket_format, first + k * d->bucket_seconds, text, sizeof text);
        json_t *j = e ? NULL : json_string(text);
        if (!e)
            e = j ? task_bind_json(t, btype, j, &s->err) : CE_ENOMEM;
        json_decref(j);
    }
    if (e && e != CE_ENOMEM)
        sync_pass_fail(ctx, e, "cannot bind bucket values: %s", ce_buf_cstr(&s->err));
    return e;
}

static const sync_read_plan read_plans[] = {
    {SYNC_READ_AUTO, "auto", resolve_auto, NULL, NULL, NULL, false, false, false, false},
    {SYNC_READ_FILTER, "filter", NULL, NULL, where_token_range, tasks_token_ranges, true, false, true, false},
    {SYNC_READ_ALL, "all", NULL, NULL, where_token_range, tasks_token_ranges, false, false, false, true},
    {SYNC_READ_BUCKETS, "buckets", resolve_buckets, check_buckets, where_bucket, tasks_buckets, true, false, true, false},
    {SYNC_READ_FULL_SCAN, "full_scan", NULL, NULL, where_token_range, tasks_token_ranges, false, true, false, true},
    {SYNC_READ_INDEX, "index", NULL, check_index, where_token_range, tasks_ring_ranges, true, false, false, false},
};

static const sync_read_plan *plan_of(sync_read_mode mode)
{
    for (size_t i = 0; i < sizeof read_plans / sizeof read_plans[0]; i++)
        if (read_plans[i].mode == mode)
            return &read_plans[i];
    return &read_plans[0];
}

const sync_read_plan *sync_read_plan_for(const sync_def *d, const sync_window *w, const sync_table_plan *tp)
{
    const sync_read_plan *p = plan_of(d->read_mode);
    for (int hop = 0; hop < 4 && p->resolve; hop++) {
        const sync_read_plan *next = plan_of(p->resolve(d, w, tp));
        if (next == p)
            break;
        p = next;
    }
    return p;
}

/* The plan's WHERE text (and the window's) after q. */
static ce_err append_where(ce_buf *q, const sync_def *d, const sync_table_plan *tp, const sync_scan *s)
{
    ce_err e = s->plan->where(q, d, tp->meta);
    e = e ? e : (s->plan->window ? where_window(q, d, s->plan->allow_filtering) : CE_OK);
    return e ? e : (ce_buf_cstr(q) ? CE_OK : CE_ENOMEM);
}

/* Column i into the key SELECT once. */
static ce_err add_key_col(sync_scan *s, ce_buf *q, const cql_table_meta *m, int i)
{
    for (size_t k = 0; k < s->nkey_cols; k++)
        if (s->key_cols[k] == i)
            return CE_OK;
    if (s->nkey_cols >= SYNC_SCAN_MAX_KEY_COLS)
        return CE_EUNSUPPORTED;
    ce_err e = s->nkey_cols ? ce_buf_append_byte(q, ',') : CE_OK;
    s->key_cols[s->nkey_cols++] = i;
    return e ? e : cql_quote_ident(q, m->columns[i].name);
}

/* The key SELECT (primary key, _id and version columns, the same WHERE). Without it a
 * row over the message limit fails the pass as before: a failure here is only logged. */
static void prepare_keys(sync_pass_ctx *ctx, const sync_table_plan *tp, sync_scan *s)
{
    const cql_table_meta *m = tp->meta;
    ce_buf q = CE_BUF_INIT;
    ce_err e = ce_buf_append_str(&q, "SELECT ");
    for (size_t i = 0; i < m->ncolumns && !e; i++)
        if (m->columns[i].role == CQL_COL_PARTITION_KEY || m->columns[i].role == CQL_COL_CLUSTERING)
            e = add_key_col(s, &q, m, (int)i);
    for (size_t k = 0; k < tp->nid && !e; k++)
        e = add_key_col(s, &q, m, tp->id_idx[k]);
    if (!e && tp->version_idx >= 0)
        e = add_key_col(s, &q, m, tp->version_idx);
    e = e ? e : ce_buf_append_str(&q, " FROM ");
    e = e ? e : cql_quote_table(&q, m->keyspace, m->table);
    e = e ? e : append_where(&q, ctx->def, tp, s);
    cql_error_info info;
    e = e ? e : cql_session_prepare(ctx->cql, ce_buf_cstr(&q), &s->keys_select, &info);
    if (e) {
        ce_debug("sync=%s dir=to_es msg=\"no key select: a row over the message limit will fail the pass\" "
                 "error=%s", ctx->def->name, ce_errname(e));
        s->keys_select = NULL;
        s->nkey_cols = 0;
    }
    ce_buf_free(&q);
}

#define SCHEMA_SETTLE_MS 10000
#define CQL_ERR_INVALID 0x2200

/* Whether a PREPARE failed because a column it names is unknown to the node that answered. */
static bool undefined_column(ce_err e, const cql_error_info *info)
{
    return e == CE_ESERVER && info->code == CQL_ERR_INVALID && strstr(info->message, "Undefined column name");
}

/* Prepare select_prefix + the plan's WHERE text; a node without a column of the SELECT
 * (a schema change not yet everywhere) gets one more try after the nodes agree. */
static ce_err prepare_select(sync_pass_ctx *ctx, const sync_table_plan *tp, const char *select_prefix,
                             sync_scan *s)
{
    const sync_def *d = ctx->def;
    ce_buf q = CE_BUF_INIT;
    ce_err e = ce_buf_append_str(&q, select_prefix);
    e = e ? e : append_where(&q, d, tp, s);
    cql_error_info info;
    if (!e) {
        e = cql_session_prepare(ctx->cql, ce_buf_cstr(&q), &s->select, &info);
        if (undefined_column(e, &info)) {
            /* the metadata came from a node that has a new column, the PREPARE went to
             * one that does not yet (someone else's ALTER): once, after agreement */
            ce_warn("sync=%s dir=to_es msg=\"prepare met a column a node lacks; waiting for schema agreement "
                    "and preparing again\" error=%s", d->name, SYNC_LOGQ(info.message));
            if (cql_session_wait_schema_agreement(ctx->cql, SCHEMA_SETTLE_MS) != CE_OK)
                ce_warn("sync=%s dir=to_es msg=\"no schema agreement\" error=%s", d->name,
                        SYNC_LOGQ(cql_session_errmsg(ctx->cql)));
            e = cql_session_prepare(ctx->cql, ce_buf_cstr(&q), &s->select, &info);
        }
        if (e) {
            ce_error("sync=%s dir=to_es msg=\"prepare failed\" error=%s cql=%s", d->name,
                     SYNC_LOGQ(e == CE_ESERVER ? info.message : cql_session_errmsg(ctx->cql)),
                     SYNC_LOGQ(ce_buf_cstr(&q)));
            sync_pass_fail(ctx, e, "prepare SELECT failed: %s", e == CE_ESERVER ? info.message : ce_strerror(e));
        } else {
            ce_debug("sync=%s dir=to_es msg=\"select\" cql=%s", d->name, SYNC_LOGQ(ce_buf_cstr(&q)));
        }
    }
    ce_buf_free(&q);
    return e;
}

/* The window's two binds after each task's own (plans with the window in the WHERE). */
static ce_err bind_window(sync_pass_ctx *ctx, sync_scan *s)
{
    size_t np = cql_prepared_param_count(s->select);
    const cql_type *vtype = np ? cql_prepared_param_type(s->select, np - 1) : NULL;
    ce_err e = vtype ? CE_OK : CE_EPROTO;
    for (size_t k = 0; k < s->ntasks && !e; k++) {
        e = task_bind_int(&s->tasks[k], vtype, s->lo_v, &s->err);
        e = e ? e : task_bind_int(&s->tasks[k], vtype, s->hi_v, &s->err);
    }
    if (e && e != CE_ENOMEM)
        sync_pass_fail(ctx, e, "cannot bind window values: %s", ce_buf_cstr(&s->err));
    return e;
}

ce_err sync_scan_plan(sync_pass_ctx *ctx, const sync_table_plan *tp, const char *select_prefix, sync_scan *s)
{
    const sync_def *d = ctx->def;
    s->plan = sync_read_plan_for(d, &ctx->win, tp);
    if (d->read_mode == SYNC_READ_AUTO && s->plan->mode == SYNC_READ_INDEX)
        ce_info("sync=%s dir=to_es msg=\"read_mode auto: a storage-attached index serves the version column, "
                "reading by index\" table=%s.%s column=%s", d->name, sync_keyspace(ctx), d->table, d->version_col);
    s->lo_v = sync_version_floor(ctx->win.start_ms, d->version_unit_us);
    s->hi_v = sync_version_ceil(ctx->win.end_ms, d->version_unit_us);
    if (s->plan->window && tp->version_idx < 0) {
        sync_pass_fail(ctx, CE_ECONFIG, "version column \"%s\" is not in the table", d->version_col);
        return CE_ECONFIG;
    }
    ce_err e = s->plan->check ? s->plan->check(ctx, tp) : CE_OK;
    e = e ? e : prepare_select(ctx, tp, select_prefix, s);
    if (!e)
        prepare_keys(ctx, tp, s);
    e = e ? e : s->plan->tasks(ctx, s);
    e = e ? e : (s->plan->window ? bind_window(ctx, s) : CE_OK);
    return e;
}

void sync_read_forecast_fill(sync_pass_ctx *ctx, sync_read_forecast *out)
{
    const sync_def *d = ctx->def;
    sync_table_plan tp = {0};
    memset(out, 0, sizeof *out);
    if (sync_table_plan_load(ctx, &tp) != CE_OK) {
        snprintf(out->problem, sizeof out->problem, "%s", ctx->res->error);
        return;
    }
    const sync_read_plan *p = sync_read_plan_for(d, &ctx->win, &tp);
    if (p->window && tp.version_idx < 0) { /* the pass fails the same way (sync_scan_plan) */
        snprintf(out->problem, sizeof out->problem, "version column \"%s\" is not in table %s.%s", d->version_col,
                 sync_keyspace(ctx), d->table);
        sync_table_plan_free(&tp);
        return;
    }
    snprintf(out->mode, sizeof out->mode, "%s", p->name);
    out->version_index = tp.version_index;
    out->scans_table = !p->window || (p->allow_filtering && !tp.version_index && p->mode == SYNC_READ_FILTER);
    if ((p->check && p->check(ctx, &tp) != CE_OK) || sync_table_check_columns(ctx, &tp) != CE_OK) {
        out->refused = true;
        snprintf(out->problem, sizeof out->problem, "%s", ctx->res->error);
    }
    ce_buf stmt = CE_BUF_INIT;
    if (!tp.version_index && tp.version_idx >= 0 && create_index_text(&stmt, sync_keyspace(ctx), d) == CE_OK)
        snprintf(out->create_index, sizeof out->create_index, "%s", stmt.data);
    ce_buf_free(&stmt);
    sync_table_plan_free(&tp);
}

void sync_scan_task_start_after(sync_scan_task *t, int64_t after)
{
    uint8_t *p = (uint8_t *)t->binds.data + t->offs[0];
    if (t->nvals < 2 || t->lens[0] != 8)
        return;
    uint64_t start = 0;
    for (int i = 0; i < 8; i++)
        start = start << 8 | p[i];
    if ((int64_t)start >= after)
        return;
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)((uint64_t)after >> (56 - 8 * i));
}

void sync_scan_free(sync_scan *s)
{
    for (size_t i = 0; i < s->ntasks; i++) {
        sync_scan_task *t = &s->tasks[i];
        if (t->f) {
            cql_future_wait(t->f, NULL);
            cql_future_free(t->f);
        }
        ce_buf_free(&t->binds);
        ce_buf_free(&t->paging);
        ce_buf_free(&t->last_id);
    }
    free(s->tasks);
    ce_buf_free(&s->err);
    memset(s, 0, sizeof *s);
}
