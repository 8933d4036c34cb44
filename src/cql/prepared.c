/*
 * prepared.c - the session's prepared-statement cache: PREPARE once per statement text
 * (and on every other host that is up, unless prepare_lazily), the statement's bind and
 * result metadata, updates after a re-prepare or a v5 metadata change, and the
 * cql_prepared accessors. Entries live as long as the session.
 */
#include "cql/session_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/log.h"

static ce_err colset_clone(const cql_colset *src, cql_colset **out)
{
    cql_colset *c = calloc(1, sizeof *c);
    if (!c)
        return CE_ENOMEM;
    c->cols = calloc(src->ncols ? src->ncols : 1, sizeof *c->cols);
    if (!c->cols) {
        free(c);
        return CE_ENOMEM;
    }
    c->ncols = src->ncols;
    bool fail = false;
    for (size_t i = 0; i < src->ncols; i++) {
        c->cols[i].keyspace = strdup(src->cols[i].keyspace);
        c->cols[i].table = strdup(src->cols[i].table);
        c->cols[i].name = strdup(src->cols[i].name);
        c->cols[i].type = cql_type_clone(src->cols[i].type);
        if (!c->cols[i].keyspace || !c->cols[i].table || !c->cols[i].name || !c->cols[i].type)
            fail = true;
    }
    if (fail) {
        cql_colset_free(c);
        free(c);
        return CE_ENOMEM;
    }
    *out = c;
    return CE_OK;
}

static ce_err set_bytes(uint8_t **dst, size_t *dlen, cql_value v)
{
    uint8_t *n = malloc(v.len > 0 ? (size_t)v.len : 1);
    if (!n)
        return CE_ENOMEM;
    if (v.len > 0)
        memcpy(n, v.ptr, (size_t)v.len);
    free(*dst);
    *dst = n;
    *dlen = v.len > 0 ? (size_t)v.len : 0;
    return CE_OK;
}

/* Replace p's result metadata (the old one stays alive: results may point to it). */
static ce_err prepared_set_result(cql_prepared *p, cql_colset *cols)
{
    if (p->result) {
        cql_colset **no = realloc(p->old, (p->nold + 1) * sizeof *no);
        if (!no) {
            cql_colset_free(cols);
            free(cols);
            return CE_ENOMEM;
        }
        p->old = no;
        p->old[p->nold++] = p->result;
    }
    p->result = cols;
    return CE_OK;
}

/* Update a prepared statement from a PREPARED result (id, metadata id, columns). */
ce_err cql_prepared_update(cql_prepared *p, cql_result *r)
{
    ce_err e = set_bytes(&p->id, &p->idlen, r->prepared_id);
    if (!e && r->result_metadata_id.ptr)
        e = set_bytes(&p->mdid, &p->mdidlen, r->result_metadata_id);
    if (e)
        return e;
    cql_colset_free(&p->bind);
    p->bind = r->bind_cols;
    memset(&r->bind_cols, 0, sizeof r->bind_cols);
    cql_colset *rc = calloc(1, sizeof *rc);
    if (!rc)
        return CE_ENOMEM;
    *rc = r->own_cols;
    memset(&r->own_cols, 0, sizeof r->own_cols);
    r->cols = &r->own_cols;
    return prepared_set_result(p, rc);
}

size_t cql_prepared_param_count(const cql_prepared *p) { return p->bind.ncols; }
const cql_type *cql_prepared_param_type(const cql_prepared *p, size_t i)
{
    return i < p->bind.ncols ? p->bind.cols[i].type : NULL;
}
const char *cql_prepared_param_name(const cql_prepared *p, size_t i)
{
    return i < p->bind.ncols ? p->bind.cols[i].name : NULL;
}
size_t cql_prepared_column_count(const cql_prepared *p) { return p->result ? p->result->ncols : 0; }
const char *cql_prepared_column_name(const cql_prepared *p, size_t i)
{
    return i < cql_prepared_column_count(p) ? p->result->cols[i].name : NULL;
}
const cql_type *cql_prepared_column_type(const cql_prepared *p, size_t i)
{
    return i < cql_prepared_column_count(p) ? p->result->cols[i].type : NULL;
}


void cql_prepared_free(cql_prepared *p)
{
    free(p->cql);
    free(p->id);
    free(p->mdid);
    cql_colset_free(&p->bind);
    if (p->result) {
        cql_colset_free(p->result);
        free(p->result);
    }
    for (size_t i = 0; i < p->nold; i++) {
        cql_colset_free(p->old[i]);
        free(p->old[i]);
    }
    free(p->old);
    free(p->keyspace);
    free(p);
}

/* PREPARE on every other host that is up, so executions routed there do not meet
 * Unprepared. Failures are ignored: Unprepared is handled when met. */
static void prepare_elsewhere(cql_session *s, const char *cql, int skip_host)
{
    cql_future *fs[64];
    size_t n = 0;
    for (size_t i = 0; i < s->nhosts && n < 64; i++) {
        if ((int)i == skip_host || !s->hosts[i].conn || s->hosts[i].conn->state != CS_READY)
            continue;
        cql_future *f = cql_future_new(s, FK_PREPARE);
        if (!f)
            break;
        f->cql_len = strlen(cql);
        if (!(f->cql = strdup(cql))) {
            cql_future_release(f);
            break;
        }
        f->pin_host = (int)i;
        cql_session_submit(s, f);
        fs[n++] = f;
    }
    for (size_t i = 0; i < n; i++) {
        if (cql_future_wait(fs[i], NULL))
            ce_debug("msg=\"cql prepare on another host failed\" err=\"%s\"", fs[i]->errmsg);
        cql_future_free(fs[i]);
    }
}

ce_err cql_session_prepare(cql_session *s, const char *cql, cql_prepared **out, cql_error_info *info)
{
    *out = NULL;
    for (cql_prepared *p = s->prepared; p; p = p->next)
        if (!strcmp(p->cql, cql)) {
            *out = p;
            return CE_OK;
        }
    cql_future *f = cql_future_new(s, FK_PREPARE);
    if (!f)
        return CE_ENOMEM;
    f->cql_len = strlen(cql);
    f->cql = strdup(cql);
    if (!f->cql) {
        cql_future_release(f);
        return CE_ENOMEM;
    }
    cql_session_submit(s, f);
    cql_result *r = NULL;
    ce_err e = cql_future_wait(f, &r);
    int first_host = f->host;
    if (e) {
        if (info)
            *info = f->info;
        cql_session_set_err(s, "%s", f->errmsg);
        cql_future_free(f);
        return e;
    }
    cql_future_free(f);
    if (!s->o.prepare_lazily)
        prepare_elsewhere(s, cql, first_host);
    if (r->kind != CQL_RESULT_PREPARED) {
        cql_result_free(r);
        cql_session_set_err(s, "PREPARE did not return a prepared statement");
        return CE_EPROTO;
    }
    cql_prepared *p = calloc(1, sizeof *p);
    if (!p || !(p->cql = strdup(cql))) {
        free(p);
        cql_result_free(r);
        return CE_ENOMEM;
    }
    p->cql_len = strlen(cql);
    e = cql_prepared_update(p, r);
    cql_result_free(r);
    if (e) {
        cql_prepared_free(p);
        return e;
    }
    const char *ks = p->bind.ncols ? p->bind.cols[0].keyspace
                                   : (p->result && p->result->ncols ? p->result->cols[0].keyspace : NULL);
    if (ks && *ks) {
        p->keyspace = strdup(ks);
        if (s->o.token_aware && s->nring)
            p->rf = cql_cluster_keyspace_rf(s, ks); /* bound keys or a caller's routing token */
    }
    p->next = s->prepared;
    s->prepared = p;
    *out = p;
    return CE_OK;
}

ce_err cql_prepared_set_metadata(cql_prepared *p, const cql_result *r)
{
    cql_colset *nc = NULL;
    ce_err e = colset_clone(&r->own_cols, &nc);
    if (!e)
        e = set_bytes(&p->mdid, &p->mdidlen, r->new_metadata_id);
    if (e) {
        if (nc) {
            cql_colset_free(nc);
            free(nc);
        }
        return e;
    }
    return prepared_set_result(p, nc);
}
