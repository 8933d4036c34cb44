/*
 * future.c - requests as futures: creating one (copies of the statement, values and
 * options, so the caller may reuse its own at once), encoding it onto a connection
 * (again on retry or after a re-prepare), reading its outcome, freeing it.
 *
 * Completing a future and the queues it waits in belong to the session (session.c);
 * a future freed by its owner while in flight is detached and released on completion.
 */
#include "cql/session_int.h"

#include <stdio.h>
#include <stdlib.h>

cql_future *cql_future_new(cql_session *s, future_kind kind)
{
    cql_future *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->s = s;
    f->kind = kind;
    f->pin_host = f->avoid_host = f->host = f->stream = -1;
    cql_query_opts_init(&f->q);
    ce_buf_init(&f->valbuf, 0);
    return f;
}

void cql_future_release(cql_future *f)
{
    cql_result_free(f->result);
    free(f->cql);
    ce_buf_free(&f->valbuf);
    free(f->values);
    if (f->names)
        for (size_t i = 0; i < f->nvalues; i++)
            free(f->names[i]);
    free(f->names);
    free(f->paging_copy);
    free(f->ks_copy);
    for (size_t i = 0; i < f->nbatch; i++)
        free(f->batch[i].cql);
    free(f->batch);
    free(f);
}

void cql_future_free(cql_future *f)
{
    if (!f)
        return;
    if (!f->done) {
        f->detached = true; /* freed when it completes (or with the session) */
        return;
    }
    cql_future_release(f);
}

bool cql_future_done(const cql_future *f) { return f->done; }
ce_err cql_future_status(const cql_future *f) { return f->done ? f->status : CE_EAGAIN; }
const cql_error_info *cql_future_error(const cql_future *f) { return &f->info; }
const char *cql_future_errmsg(const cql_future *f) { return f->errmsg; }
size_t cql_future_answer_bytes(const cql_future *f) { return f->answer_bytes; }

/* Copy values (and names) into the future. */
ce_err cql_future_copy_values(cql_future *f, const cql_value *values, size_t n, const char *const *names)
{
    if (!n)
        return CE_OK;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (values[i].len > 0)
            total += (size_t)values[i].len;
    if (ce_buf_reserve(&f->valbuf, total + 1))
        return CE_ENOMEM;
    f->values = calloc(n, sizeof *f->values);
    if (!f->values)
        return CE_ENOMEM;
    f->nvalues = n;
    for (size_t i = 0; i < n; i++) {
        f->values[i].len = values[i].len;
        if (values[i].len > 0) {
            f->values[i].ptr = (const uint8_t *)f->valbuf.data + f->valbuf.len;
            ce_buf_append(&f->valbuf, values[i].ptr, (size_t)values[i].len); /* reserved above */
        } else {
            f->values[i].ptr = (const uint8_t *)"";
        }
    }
    if (names) {
        f->names = calloc(n, sizeof *f->names);
        if (!f->names)
            return CE_ENOMEM;
        for (size_t i = 0; i < n; i++)
            if (!(f->names[i] = strdup(names[i])))
                return CE_ENOMEM;
    }
    return CE_OK;
}

ce_err cql_future_copy_opts(cql_future *f, const cql_query_opts *q)
{
    if (!q)
        return CE_OK;
    f->q = *q;
    f->q.names = NULL;
    f->q.paging_state.ptr = NULL;
    f->q.paging_state.len = 0;
    f->q.keyspace = NULL;
    if (q->paging_state.ptr && q->paging_state.len > 0) {
        f->paging_copy = malloc((size_t)q->paging_state.len);
        if (!f->paging_copy)
            return CE_ENOMEM;
        memcpy(f->paging_copy, q->paging_state.ptr, (size_t)q->paging_state.len);
        f->q.paging_state.ptr = f->paging_copy;
        f->q.paging_state.len = q->paging_state.len;
    }
    if (q->keyspace) {
        if (!(f->ks_copy = strdup(q->keyspace)))
            return CE_ENOMEM;
        f->q.keyspace = f->ks_copy;
    }
    return CE_OK;
}

/* A future that failed before it could be submitted (allocation failures). */
cql_future *cql_future_failed(cql_future *f, ce_err e)
{
    f->done = true;
    f->status = e;
    snprintf(f->errmsg, sizeof f->errmsg, "%s", ce_strerror(e));
    return f;
}

cql_future *cql_future_new_query(cql_session *s, const char *cql, const cql_value *values, size_t n,
                                 const cql_query_opts *q)
{
    cql_future *f = cql_future_new(s, FK_QUERY);
    if (!f)
        return NULL;
    f->cql_len = strlen(cql);
    f->cql = strdup(cql);
    if (!f->cql)
        return cql_future_failed(f, CE_ENOMEM);
    ce_err e = cql_future_copy_values(f, values, n, q ? q->names : NULL);
    if (!e)
        e = cql_future_copy_opts(f, q);
    return e ? cql_future_failed(f, e) : f;
}

ce_err cql_future_encode(cql_future *f, cql_conn *c, int stream)
{
    uint8_t op;
    if (f->reprepare)
        op = CQL_OP_PREPARE;
    else
        switch (f->kind) {
        case FK_QUERY: op = CQL_OP_QUERY; break;
        case FK_PREPARE: op = CQL_OP_PREPARE; break;
        case FK_EXECUTE: op = CQL_OP_EXECUTE; break;
        case FK_BATCH: op = CQL_OP_BATCH; break;
        case FK_REGISTER: op = CQL_OP_REGISTER; break;
        default: op = CQL_OP_OPTIONS; break;
        }
    size_t mark;
    ce_buf *b = cql_encoder_begin(&c->enc, (int16_t)stream, op, &mark);
    if (!b)
        return CE_ENOMEM;
    cql_params p = {f->values, f->nvalues, (const char *const *)f->names, false, &f->q};
    ce_err e = CE_OK;
    if (f->reprepare) {
        e = cql_msg_prepare(b, c->version, f->reprep->cql, f->reprep->cql_len, NULL);
    } else {
        switch (f->kind) {
        case FK_QUERY:
            e = cql_msg_query(b, c->version, f->cql, f->cql_len, &p);
            break;
        case FK_PREPARE:
            e = cql_msg_prepare(b, c->version, f->cql, f->cql_len, f->ks_copy);
            break;
        case FK_EXECUTE:
            p.skip_metadata = f->prep->result && f->prep->result->ncols > 0;
            e = cql_msg_execute(b, c->version, f->prep->id, f->prep->idlen, f->prep->mdid, f->prep->mdidlen, &p);
            break;
        case FK_BATCH: {
            cql_batch_entry *en = calloc(f->nbatch ? f->nbatch : 1, sizeof *en);
            if (!en) {
                e = CE_ENOMEM;
                break;
            }
            for (size_t i = 0; i < f->nbatch; i++) {
                batch_stmt *bs = &f->batch[i];
                if (bs->prep) {
                    en[i].id = bs->prep->id;
                    en[i].idlen = bs->prep->idlen;
                } else {
                    en[i].cql = bs->cql;
                }
                en[i].values = f->values ? f->values + bs->first : NULL;
                en[i].nvalues = bs->n;
            }
            e = cql_msg_batch(b, c->version, f->batch_type, en, f->nbatch, &f->q);
            free(en);
            break;
        }
        default:
            break;
        }
    }
    if (e) {
        cql_encoder_abort(&c->enc, mark);
        return e;
    }
    return cql_encoder_end(&c->enc, mark);
}

cql_prepared *cql_future_prepared_by_id(cql_future *f, cql_value id)
{
    if (f->prep && f->prep->idlen == (size_t)id.len && !memcmp(f->prep->id, id.ptr, (size_t)id.len))
        return f->prep;
    for (size_t i = 0; i < f->nbatch; i++) {
        cql_prepared *p = f->batch[i].prep;
        if (p && p->idlen == (size_t)id.len && !memcmp(p->id, id.ptr, (size_t)id.len))
            return p;
    }
    return f->prep;
}
