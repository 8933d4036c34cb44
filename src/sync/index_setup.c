/*
 * index_setup.c - C->E: the index a pass writes into.
 *
 * Creation (when missing and create_index allows) with the mapping of the table
 * (mapping.c; OpenSearch without the k-NN plugin, as es_caps says, gets vectors as float
 * arrays), and for an initial load the bulk-load settings (no refresh, no replicas) put
 * back afterwards. A marker file in the state folder (SYNC_STATE_BULKLOAD) is present
 * while the index is in bulk-load settings: a process killed in between leaves it behind,
 * and the next pass then resets the two settings to the server defaults (the saved values
 * died with the process). When the marker cannot be written the load goes on without the
 * bulk-load settings: better slower than an index left without replicas unnoticed.
 */
#include "sync/c2e_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "sync/state.h"
#include "util/log.h"

static bool has_vector_column(const cql_table_meta *m)
{
    for (size_t i = 0; i < m->ncolumns; i++)
        if (m->columns[i].type && m->columns[i].type->kind == CQL_T_VECTOR)
            return true;
    return false;
}

/* Create the index with the table's mapping. */
static ce_err create_index(sync_pass_ctx *ctx, const sync_table_plan *tp, bool *created)
{
    const es_caps *caps = es_client_caps(ctx->es);
    if (caps->flavor == ES_FLAVOR_OPENSEARCH && !caps->knn_plugin && has_vector_column(tp->meta))
        ce_warn("sync=%s dir=to_es msg=\"no k-NN plugin: vector columns mapped as float arrays\"",
                ctx->def->name);
    ce_buf body = CE_BUF_INIT;
    ce_err e = sync_mapping_build(tp->meta, ctx->def, caps, &body);
    e = e ? e : (ce_buf_cstr(&body) ? CE_OK : CE_ENOMEM);
    if (!e)
        e = es_index_create(ctx->es, ctx->def->index, ce_buf_cstr(&body), created);
    ce_buf_free(&body);
    return e;
}

static ce_err ensure_index(sync_pass_ctx *ctx, const sync_table_plan *tp, bool *created)
{
    const sync_def *d = ctx->def;
    bool exists = false;
    *created = false;
    ce_err e = es_index_exists(ctx->es, d->index, &exists);
    if (e) {
        sync_pass_fail(ctx, e, "index check failed: %s", es_client_errmsg(ctx->es));
        return e;
    }
    if (exists || !d->create_index)
        return CE_OK;
    e = create_index(ctx, tp, created);
    if (e) {
        ce_error("sync=%s dir=to_es msg=\"index creation failed\" index=%s error=%s", d->name,
                 SYNC_LOGQ(d->index), SYNC_LOGQ(es_client_errmsg(ctx->es)));
        sync_pass_fail(ctx, e, "index creation failed: %s", es_client_errmsg(ctx->es));
    } else if (*created) {
        ce_info("sync=%s dir=to_es msg=\"index created\" index=%s", d->name, SYNC_LOGQ(d->index));
    }
    return e;
}

static ce_err marker_path(const sync_pass_ctx *ctx, ce_buf *path)
{
    return sync_state_path(path, ctx->state_dir, SYNC_STATE_BULKLOAD, ctx->def->name, NULL);
}

static bool marker_exists(const sync_pass_ctx *ctx)
{
    ce_buf path = CE_BUF_INIT;
    bool found = marker_path(ctx, &path) == CE_OK && access(path.data, F_OK) == 0;
    ce_buf_free(&path);
    return found;
}

/* Write (on) or remove (off) the marker. Failures are logged and returned. */
static ce_err marker_set(const sync_pass_ctx *ctx, bool on)
{
    ce_buf path = CE_BUF_INIT, text = CE_BUF_INIT;
    ce_err e = marker_path(ctx, &path);
    if (!e && on) {
        e = ce_buf_printf(&text, "%s\n", ctx->def->index);
        e = e ? e : sync_state_write_atomic(path.data, text.data, text.len, 0);
    } else if (!e && remove(path.data) != 0 && errno != ENOENT) {
        e = CE_EIO;
    }
    if (e)
        ce_warn("sync=%s dir=to_es msg=\"bulk-load marker not %s\" path=%s error=%s", ctx->def->name,
                on ? "written" : "removed", SYNC_LOGQ(path.data), ce_errname(e));
    ce_buf_free(&path);
    ce_buf_free(&text);
    return e;
}

/* An initial load: bulk-load settings, the marker first. */
static void begin_bulk_load(sync_pass_ctx *ctx, sync_index_setup *ix)
{
    const sync_def *d = ctx->def;
    if (marker_set(ctx, true) != CE_OK) {
        ce_warn("sync=%s dir=to_es msg=\"loading without bulk-load settings\" index=%s", d->name, SYNC_LOGQ(d->index));
        return;
    }
    if (es_index_bulk_load_begin(ctx->es, d->index, &ix->saved) != CE_OK) {
        ce_warn("sync=%s dir=to_es msg=\"could not switch the index to bulk-load settings\" error=%s",
                d->name, SYNC_LOGQ(es_client_errmsg(ctx->es)));
        ix->saved = NULL;
        (void)marker_set(ctx, false);
    }
}

ce_err sync_index_prepare(sync_pass_ctx *ctx, const sync_table_plan *tp, sync_index_setup *ix)
{
    ce_err e = ensure_index(ctx, tp, &ix->created);
    ix->recover = marker_exists(ctx);
    if (!e && ctx->win.initial && !ix->recover)
        begin_bulk_load(ctx, ix);
    return e;
}

bool sync_index_starts_empty(sync_pass_ctx *ctx, const sync_index_setup *ix)
{
    if (ix->created)
        return true;
    if (!ctx->win.initial)
        return false;
    int64_t n = -1;
    if (es_index_refresh(ctx->es, ctx->def->index) != CE_OK ||
        es_index_doc_count(ctx->es, ctx->def->index, &n) != CE_OK)
        return false;
    return n == 0;
}

/* After an interrupted load: the two settings back to the server defaults. */
static void reset_index_settings(sync_pass_ctx *ctx)
{
    static const char body[] = "{\"index\":{\"refresh_interval\":null,\"number_of_replicas\":null}}";
    const sync_def *d = ctx->def;
    ce_buf path = CE_BUF_INIT;
    long status = 0;
    ce_err e = ce_buf_printf(&path, "/%s/_settings", d->index);
    e = e ? e : (ce_buf_cstr(&path) ? CE_OK : CE_ENOMEM);
    e = e ? e : es_client_request(ctx->es, "PUT", path.data, body, sizeof body - 1, &status, NULL);
    if (e || status >= 300)
        ce_warn("sync=%s dir=to_es msg=\"could not reset index settings after an interrupted load\" "
                "index=%s status=%ld", d->name, SYNC_LOGQ(d->index), status);
    else
        ce_info("sync=%s dir=to_es msg=\"index settings reset after an interrupted initial load\" index=%s",
                d->name, SYNC_LOGQ(d->index));
    ce_buf_free(&path);
}

void sync_index_restore(sync_pass_ctx *ctx, sync_index_setup *ix)
{
    const sync_def *d = ctx->def;
    if (ix->saved) {
        if (es_index_restore_settings(ctx->es, d->index, ix->saved) != CE_OK)
            ce_warn("sync=%s dir=to_es msg=\"could not restore index settings\" index=%s error=%s", d->name,
                    SYNC_LOGQ(d->index), SYNC_LOGQ(es_client_errmsg(ctx->es)));
        else
            (void)marker_set(ctx, false);
        es_index_settings_free(ix->saved);
        ix->saved = NULL;
    }
    if (ix->recover) {
        reset_index_settings(ctx);
        (void)marker_set(ctx, false);
        ix->recover = false;
    }
}
