/*
 * cleanup.c - C->E: PyCassElastic's PRIMARY KEY (id, version) layout.
 *
 * With that layout (and filter_date, delete_old_versions) every version of a document is
 * a row of its own; the versions that lost - older than the one Elasticsearch holds, or
 * than a newer row of the same partition read in this pass - are deleted from Cassandra
 * after a successful pass (by then Elasticsearch acknowledged the newest). Best effort:
 * what is not deleted now is found again by a later pass.
 */
#include "sync/c2e_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"

void sync_cleanup_init(sync_cleanup *c, const sync_def *d, const sync_table_plan *tp)
{
    const cql_table_meta *m = tp->meta;
    c->on = d->filter_date && d->delete_old_versions && m->npartition_keys == 1 && m->nclustering == 1 &&
            tp->version_idx == 1 && tp->nid == 1 && tp->id_idx[0] == 0;
}

void sync_cleanup_note(sync_cleanup *c, const char *id, size_t idlen, int64_t version)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        sync_old_version *no = realloc(c->olds, nc * sizeof *no);
        if (!no)
            return; /* best effort: a later pass gets another chance */
        c->olds = no;
        c->cap = nc;
    }
    char *copy = malloc(idlen + 1);
    if (!copy)
        return;
    memcpy(copy, id, idlen);
    copy[idlen] = 0;
    c->olds[c->n].id = copy;
    c->olds[c->n].version = version;
    c->n++;
}

void sync_cleanup_track(sync_cleanup *c, sync_scan_task *t, const ce_buf *id, int64_t version)
{
    if (t->last_id.len == id->len && memcmp(t->last_id.data, id->data, id->len) == 0) {
        if (version > t->last_max) {
            sync_cleanup_note(c, id->data, id->len, t->last_max);
            t->last_max = version;
        } else if (version < t->last_max) {
            sync_cleanup_note(c, id->data, id->len, version);
        }
        return;
    }
    ce_buf_reset(&t->last_id);
    if (ce_buf_append(&t->last_id, id->data, id->len) != CE_OK)
        ce_buf_reset(&t->last_id);
    t->last_max = version;
}

static cql_prepared *prepare_delete(sync_pass_ctx *ctx, const cql_table_meta *m)
{
    ce_buf q = CE_BUF_INIT;
    ce_err e = ce_buf_append_str(&q, "DELETE FROM ");
    e = e ? e : cql_quote_table(&q, m->keyspace, m->table);
    e = e ? e : ce_buf_append_str(&q, " WHERE ");
    e = e ? e : cql_quote_ident(&q, m->columns[0].name);
    e = e ? e : ce_buf_append_str(&q, "=? AND ");
    e = e ? e : cql_quote_ident(&q, m->columns[1].name);
    e = e ? e : ce_buf_append_str(&q, "=?");
    e = e ? e : (ce_buf_cstr(&q) ? CE_OK : CE_ENOMEM);
    cql_prepared *del = NULL;
    cql_error_info info;
    if (!e)
        e = cql_session_prepare(ctx->cql, ce_buf_cstr(&q), &del, &info);
    ce_buf_free(&q);
    if (e)
        ce_warn("sync=%s dir=to_es msg=\"cannot prepare delete of old versions\"", ctx->def->name);
    return e ? NULL : del;
}

/* The bound (id, version) of one old version into vb; false when they do not convert. */
static bool bind_old(const cql_prepared *del, const sync_old_version *o, ce_buf *vb, cql_value vals[2])
{
    ce_buf_reset(vb);
    bool nul = false;
    json_t *j[2] = {json_string(o->id), json_integer(o->version)};
    size_t off[3] = {0, 0, 0};
    ce_err e = (j[0] && j[1]) ? CE_OK : CE_ENOMEM;
    for (size_t k = 0; k < 2 && !e && !nul; k++) {
        e = conv_value_from_json(cql_prepared_param_type(del, k), j[k], vb, &nul, NULL);
        off[k + 1] = vb->len;
    }
    json_decref(j[0]);
    json_decref(j[1]);
    if (e || nul)
        return false;
    for (size_t k = 0; k < 2; k++)
        vals[k] = (cql_value){(const uint8_t *)vb->data + off[k], (int32_t)(off[k + 1] - off[k])};
    return true;
}

/* The ring of deletes in flight: wait for the oldest, count it. */
typedef struct {
    cql_future **f;
    size_t window, head, count;
    ce_err rc;
    uint64_t deleted;
} delete_ring;

static void ring_complete_oldest(delete_ring *r)
{
    cql_future *f = r->f[r->head];
    ce_err fe = cql_future_wait(f, NULL);
    if (fe == CE_OK)
        r->deleted++;
    else if (!r->rc)
        r->rc = fe;
    cql_future_free(f);
    r->head = (r->head + 1) % r->window;
    r->count--;
}

void sync_cleanup_run(sync_pass_ctx *ctx, const sync_table_plan *tp, sync_cleanup *c)
{
    if (!c->on || c->n == 0)
        return;
    cql_prepared *del = prepare_delete(ctx, tp->meta);
    delete_ring ring = {.window = (size_t)ctx->def->write_concurrency};
    ring.f = del ? calloc(ring.window, sizeof *ring.f) : NULL;
    if (!ring.f)
        return;
    ce_buf vb = CE_BUF_INIT;
    cql_query_opts qo;
    cql_query_opts_init(&qo);
    qo.consistency = ctx->write_cl;
    for (size_t k = 0; k < c->n; k++) {
        cql_value vals[2];
        if (!bind_old(del, &c->olds[k], &vb, vals))
            continue;
        if (ring.count == ring.window)
            ring_complete_oldest(&ring);
        cql_future *f = cql_session_execute_async(ctx->cql, del, vals, 2, &qo);
        if (!f) {
            ring.rc = CE_ENOMEM;
            break;
        }
        ring.f[(ring.head + ring.count++) % ring.window] = f;
    }
    while (ring.count > 0)
        ring_complete_oldest(&ring);
    ctx->res->c2e_deleted_old += ring.deleted;
    ce_buf_free(&vb);
    free(ring.f);
    if (ring.rc)
        ce_warn("sync=%s dir=to_es msg=\"some old versions were not deleted\" error=%s", ctx->def->name,
                ce_errname(ring.rc));
}

void sync_cleanup_free(sync_cleanup *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->olds[i].id);
    free(c->olds);
    memset(c, 0, sizeof *c);
}
