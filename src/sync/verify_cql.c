/*
 * verify_cql.c - verify, Cassandra side: keys and versions by token range.
 *
 *   SELECT <key columns>, <version>, <source>, <deleted_col>, WRITETIME(<version>) FROM ks.t
 *     WHERE token(pk) > ? AND token(pk) <= ?
 *
 * The ranges, the statement's WHERE, the routing of each range to its replicas and the
 * paged reader thread are the full scan's (readplan.c, reader.c): this file only gives
 * them another column list and folds the rows into summaries (or, for ranges that
 * differ, into the descent's table). Token values are not selected: each range's rows
 * come from its own request.
 *
 * Summaries are computed by Cassandra when it can (an integer version column, no
 * deleted_col to leave out): no row travels, one row of aggregates a range:
 *
 *   SELECT count(v), sum(v), sum(token(pk) % P * (v % P) % P) FROM ks.t WHERE <range>
 *
 * (sum of a bigint wraps modulo 2^64 as ours does; the mix terms are below 2^31).
 */
#include "sync/verify_int.h"

#include <stdlib.h>
#include <string.h>

static ce_err fail(verify_job *j, ce_err e, const char *fmt, const char *detail)
{
    sync_pass_fail(&j->ctx, e, fmt, detail);
    return e;
}

/* The partition key columns must all be _id parts: the _id then gives the token. */
static ce_err map_partition_key(verify_job *j)
{
    const cql_table_meta *m = j->tp.meta;
    j->npk = m->npartition_keys;
    for (size_t i = 0; i < j->npk; i++) {
        j->pk_part[i] = -1;
        for (size_t k = 0; k < j->tp.nid; k++)
            if (j->tp.id_idx[k] == (int)i)
                j->pk_part[i] = (int)k;
        if (j->pk_part[i] < 0)
            return fail(j, CE_ECONFIG, "partition key column \"%s\" is not in the _id (id_col): "
                                       "the _id cannot be placed on the ring", m->columns[i].name);
    }
    if (j->npk == 0 || j->npk > SYNC_MAX_KEY_PARTS)
        return fail(j, CE_ECONFIG, "%s", "table without a usable partition key");
    return CE_OK;
}

static ce_err add_column(verify_job *j, size_t *n, const cql_column_meta *cm, bool writetime)
{
    ce_err e = ce_buf_append_str(&j->select, *n ? "," : "SELECT ");
    e = e ? e : (writetime ? ce_buf_append_str(&j->select, "WRITETIME(") : CE_OK);
    e = e ? e : cql_quote_ident(&j->select, cm->name);
    e = e ? e : (writetime ? ce_buf_append_byte(&j->select, ')') : CE_OK);
    j->names[*n] = cm->name;
    j->types[*n] = cm->type;
    (*n)++;
    return e;
}

/* v, or cast(v as bigint) for the smaller integer types (whose sum would wrap at their size) */
static ce_err version_expr(ce_buf *b, const cql_column_meta *ver)
{
    bool wide = ver->type->kind == CQL_T_BIGINT || ver->type->kind == CQL_T_COUNTER;
    ce_err e = wide ? CE_OK : ce_buf_append_str(b, "cast(");
    e = e ? e : cql_quote_ident(b, ver->name);
    return e || wide ? e : ce_buf_append_str(b, " as bigint)");
}

/* SELECT count(v),sum(v),sum(token(pk) % P * (v % P) % P) FROM ks.t, when Cassandra can
 * compute the summary: an integer version, and no deleted_col (marked rows count as absent,
 * which an aggregate cannot leave out without filtering). Else select_agg stays empty. */
static ce_err plan_aggregate(verify_job *j)
{
    const cql_table_meta *m = j->tp.meta;
    const cql_column_meta *ver = &m->columns[j->tp.version_idx];
    cql_type_kind k = ver->type->kind;
    if (j->tp.deleted_idx >= 0 || !(k == CQL_T_BIGINT || k == CQL_T_COUNTER || k == CQL_T_INT ||
                                     k == CQL_T_SMALLINT || k == CQL_T_TINYINT))
        return CE_OK;
    ce_buf *b = &j->select_agg;
    ce_err e = ce_buf_append_str(b, "SELECT count(");
    e = e ? e : cql_quote_ident(b, ver->name);
    e = e ? e : ce_buf_append_str(b, "),sum(");
    e = e ? e : version_expr(b, ver);
    e = e ? e : ce_buf_append_str(b, "),sum(token(");
    for (size_t i = 0; i < j->npk && !e; i++) {
        e = i ? ce_buf_append_byte(b, ',') : CE_OK;
        e = e ? e : cql_quote_ident(b, m->columns[i].name);
    }
    e = e ? e : ce_buf_printf(b, ") %% %lld * (", VERIFY_MIX_P);
    e = e ? e : version_expr(b, ver);
    e = e ? e : ce_buf_printf(b, " %% %lld) %% %lld) FROM ", VERIFY_MIX_P, VERIFY_MIX_P);
    e = e ? e : cql_quote_table(b, m->keyspace, m->table);
    return e ? e : (ce_buf_cstr(b) ? CE_OK : CE_ENOMEM);
}

ce_err verify_cql_plan(verify_job *j)
{
    ce_err e = sync_table_plan_load(&j->ctx, &j->tp);
    e = e ? e : sync_table_check_columns(&j->ctx, &j->tp); /* deleted_col, token_field: as a pass */
    if (e)
        return e;
    const cql_table_meta *m = j->tp.meta;
    if (j->tp.version_idx < 0)
        return fail(j, CE_ECONFIG, "version column \"%s\" is not in the table: nothing to compare",
                    j->ctx.def->version_col);
    const cql_column_meta *ver = &m->columns[j->tp.version_idx];
    if (ver->role != CQL_COL_REGULAR && ver->role != CQL_COL_STATIC)
        return fail(j, CE_ECONFIG, "%s", "the version column is a key column (PyCassElastic's (id, version) "
                                         "layout): verify compares one version per _id");
    e = map_partition_key(j);
    size_t n = 0;
    for (size_t k = 0; k < j->tp.nid && !e; k++)
        e = add_column(j, &n, &m->columns[j->tp.id_idx[k]], false);
    sync_rowmap *rm = &j->rm;
    *rm = (sync_rowmap){.nid = j->tp.nid, .version_idx = (int)n, .source_idx = -1, .wt_source_idx = -1,
                        .deleted_idx = -1, .wt_version_idx = -1, .wt_any_idx = -1, .version_unit_us = j->ctx.def->version_unit_us};
    for (size_t k = 0; k < j->tp.nid; k++)
        rm->id_idx[k] = (int)k;
    e = e ? e : add_column(j, &n, ver, false);
    j->source_cell = j->tp.source_idx >= 0 ? (int)n : -1;
    e = e || j->tp.source_idx < 0 ? e : add_column(j, &n, &m->columns[j->tp.source_idx], false);
    rm->deleted_idx = j->tp.deleted_idx >= 0 ? (int)n : -1; /* marked rows count as absent */
    e = e || j->tp.deleted_idx < 0 ? e : add_column(j, &n, &m->columns[j->tp.deleted_idx], false);
    rm->wt_version_idx = (int)n;
    e = e ? e : add_column(j, &n, ver, true);
    e = e ? e : ce_buf_append_str(&j->select, " FROM ");
    e = e ? e : cql_quote_table(&j->select, m->keyspace, m->table);
    e = e ? e : (ce_buf_cstr(&j->select) ? CE_OK : CE_ENOMEM);
    rm->ncols = n;
    rm->names = j->names;
    rm->types = j->types;
    return e ? e : plan_aggregate(j);
}

static int64_t be64(const char *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | (uint8_t)p[i];
    return (int64_t)u;
}

/* The full scan's plan over j->want ranges (read_mode full_scan, its WHERE and tasks) for
 * the SELECT prefix given. */
static ce_err plan_scan(verify_job *j, sync_scan *s, const ce_buf *select)
{
    j->ctx.sized.read_mode = SYNC_READ_FULL_SCAN;
    j->ctx.sized.scan_ranges = (int)j->want;
    return sync_scan_plan(&j->ctx, &j->tp, ce_buf_cstr((ce_buf *)select), s);
}

ce_err verify_cql_ranges(verify_job *j)
{
    sync_scan s = {0};
    ce_err e = plan_scan(j, &s, &j->select);
    free(j->ranges);
    j->ranges = e ? NULL : calloc(s.ntasks ? s.ntasks : 1, sizeof *j->ranges);
    e = e ? e : (j->ranges ? CE_OK : CE_ENOMEM);
    for (size_t k = 0; !e && k < s.ntasks; k++) {
        j->ranges[k].start = be64(s.tasks[k].binds.data);
        j->ranges[k].end = be64(s.tasks[k].binds.data + 8);
    }
    j->nranges = e ? 0 : s.ntasks;
    sync_scan_free(&s);
    return e;
}

/* Keep the tasks of the ranges wanted (first, in order); orig[i] = range of task i. */
static ce_err keep_tasks(verify_job *j, sync_scan *s, bool collect, size_t *orig)
{
    if (s->ntasks != j->nranges)
        return fail(j, CE_EIO, "%s", "the token ring changed during the verify; run it again");
    size_t kept = 0;
    for (size_t k = 0; k < s->ntasks; k++) {
        sync_scan_task *t = &s->tasks[k];
        if (be64(t->binds.data) != j->ranges[k].start || be64(t->binds.data + 8) != j->ranges[k].end)
            return fail(j, CE_EIO, "%s", "the token ring changed during the verify; run it again");
        bool want = collect ? j->ranges[k].differs : !j->ranges[k].c_done;
        if (!want) {
            ce_buf_free(&t->binds);
            continue;
        }
        orig[kept] = k;
        if (kept != k)
            s->tasks[kept] = *t;
        kept++;
    }
    s->ntasks = kept;
    return CE_OK;
}

/* One row: into its range's summary, or into the descent's table. */
static ce_err take_row(verify_job *j, const cql_value *cells, size_t range, bool collect, ce_buf *id,
                       ce_buf *scratch)
{
    int64_t version;
    bool from_wt;
    if (sync_row_version(&j->rm, cells, &version, &from_wt) || from_wt)
        return CE_OK; /* no version: C->E cannot send it either (dead letter) */
    bool marked = verify_cql_row_deleted(j, cells);
    if ((marked && !collect) || sync_row_id(&j->rm, cells, id, scratch, NULL))
        return CE_OK;
    if (!collect) {
        cql_value pk[SYNC_MAX_KEY_PARTS];
        int64_t token = 0;
        for (size_t i = 0; i < j->npk; i++)
            pk[i] = cells[j->pk_part[i]]; /* id part k is cell k */
        if (!cql_partition_token(pk, j->npk, &token))
            return CE_OK;
        verify_sum_add(&j->ranges[range].c, id->data, id->len, version, token);
        j->out->c_rows++;
        return CE_OK;
    }
    j->rows++;
    j->out->c_rows_descended++;
    verify_rec *r = verify_map_get(j->map, id->data, id->len);
    if (!r)
        return CE_ENOMEM;
    cql_value wt = cells[j->rm.wt_version_idx];
    r->c_writetime = wt.len == 8 ? be64((const char *)wt.ptr) : INT64_MIN;
    if (marked) { /* absent; its version and write time settle the repair (docs/verify.md) */
        r->c_marked = true;
        r->c_mark_version = version;
        return CE_OK;
    }
    r->has_c = true;
    r->c_version = version;
    if (j->source_cell >= 0 && cells[j->source_cell].len > 0) {
        size_t n = (size_t)cells[j->source_cell].len;
        n = n < sizeof r->c_source - 1 ? n : sizeof r->c_source - 1;
        memcpy(r->c_source, cells[j->source_cell].ptr, n);
        r->c_source[n] = 0;
    }
    return CE_OK;
}

/* A range's summary computed by Cassandra: count, sum(v), sum(mix) (bigints). */
static ce_err take_aggregate(verify_job *j, const sync_page *pg, size_t range)
{
    if (cql_result_row_count(pg->result) != 1)
        return fail(j, CE_EPROTO, "%s", "cassandra: an aggregate answered no row");
    verify_sum *c = &j->ranges[range].c;
    int64_t v[3] = {0, 0, 0};
    for (size_t i = 0; i < 3; i++) {
        cql_value cell = cql_result_cell(pg->result, 0, i);
        if (cell.len == 8)
            v[i] = be64((const char *)cell.ptr);
        else if (cell.len >= 0)
            return fail(j, CE_EPROTO, "%s", "cassandra: an aggregate is not a bigint");
    }
    c->count = (uint64_t)v[0];
    c->vsum = (uint64_t)v[1];
    c->mix = v[2];
    j->out->c_rows += c->count;
    return CE_OK;
}

static ce_err take_page(verify_job *j, const sync_page *pg, size_t range, bool collect)
{
    if (!collect && j->select_agg.len) {
        ce_err e = take_aggregate(j, pg, range);
        if (!e && pg->task_done) {
            j->ranges[range].c_done = true;
            verify_progress_save(j, false);
        }
        return e;
    }
    ce_buf id = CE_BUF_INIT, scratch = CE_BUF_INIT;
    size_t nrows = cql_result_row_count(pg->result), ncells = j->rm.ncols;
    cql_value cells[VERIFY_MAX_CELLS];
    ce_err e = CE_OK;
    for (size_t row = 0; row < nrows && !e; row++) {
        for (size_t i = 0; i < ncells; i++)
            cells[i] = cql_result_cell(pg->result, row, i);
        e = take_row(j, cells, range, collect, &id, &scratch);
    }
    ce_buf_free(&id);
    ce_buf_free(&scratch);
    if (!e && pg->task_done && !collect) {
        j->ranges[range].c_done = true;
        verify_progress_save(j, false);
    }
    return e;
}

ce_err verify_cql_read(verify_job *j, bool collect)
{
    sync_scan s = {0};
    sync_reader rd = {0};
    size_t *orig = calloc(j->nranges ? j->nranges : 1, sizeof *orig);
    const ce_buf *select = !collect && j->select_agg.len ? &j->select_agg : &j->select;
    ce_err e = orig ? plan_scan(j, &s, select) : CE_ENOMEM;
    e = e ? e : keep_tasks(j, &s, collect, orig);
    e = e || s.ntasks == 0 ? e : sync_reader_start(&j->ctx, &s, &rd);
    while (!e && s.ntasks > 0) {
        sync_page pg;
        bool got = false;
        ce_err re = sync_reader_next(&rd, &pg, &got);
        if (!got) {
            e = re ? fail(j, re, "cassandra: %s", rd.errmsg[0] ? rd.errmsg : ce_strerror(re)) : CE_OK;
            break;
        }
        e = take_page(j, &pg, orig[pg.task - s.tasks], collect);
        cql_result_free(pg.result);
        verify_report_progress(j, false);
        if (!e && verify_stop_requested(j))
            e = CE_ECANCELED;
        if (e)
            sync_reader_stop(&rd);
    }
    if (rd.pipe)
        (void)sync_reader_join(&rd);
    sync_scan_free(&s);
    free(orig);
    return e;
}
