/*
 * c2e_bulk.c - the Cassandra -> Elasticsearch pass's bulk (c2e.c runs the phases).
 *
 * The bulk's bodies take their share of the memory budget when it starts; each document's
 * verdict comes back through on_item: 409 = Elasticsearch holds the same or a newer
 * version (fine; the (id, version) cleanup notes it), 400 -> dead letter, FAILED -> the
 * pass fails and the checkpoint stays. Its tag is the scan ack's (scanack.c), with
 * C2E_TAG_DELETE set for deletes. Rows refused before they reach the bulk (no version, no
 * _id, no JSON, alone over the message limit) go to the dead letters here too.
 */
#include "sync/c2e_int.h"

#include <string.h>
#include "util/clock.h"
#include "util/log.h"

/* A bulk item's tag is its version; deletes also carry this bit (versions are >= 0). */
#define C2E_TAG_DELETE (UINT64_C(1) << 63)

static void on_rejected(sync_c2e *c, const es_bulk_item_result *r)
{
    sync_pass_ctx *ctx = c->ctx;
    ctx->res->c2e_rejected++;
    char reason[600];
    snprintf(reason, sizeof reason, "elasticsearch rejected (%d %s): %s", r->http_status,
             r->error_type ? r->error_type : "?", r->error_reason ? r->error_reason : "");
    if (!sync_pass_dead_letter(ctx, r->id, reason, r->doc, r->doc_len))
        ce_warn("sync=%s dir=to_es msg=\"document rejected\" id=%s status=%d type=%s", ctx->def->name,
                SYNC_LOGQ(r->id), r->http_status, SYNC_LOGQ(r->error_type ? r->error_type : "?"));
}

/* The bulk's verdict on one document. */
static void on_item(const es_bulk_item_result *r, void *ud)
{
    sync_c2e *c = ud;
    sync_pass_result *res = c->ctx->res;
    bool del = (r->tag & C2E_TAG_DELETE) != 0;
    if (r->status == ES_ITEM_REJECTED)
        on_rejected(c, r); /* first: a dead letter that cannot be written is no outcome */
    bool final = r->status != ES_ITEM_FAILED && !c->ctx->dl_failed;
    int64_t version = sync_scan_ack_outcome(&c->ack, r->tag & ~C2E_TAG_DELETE, final);
    switch (r->status) {
    case ES_ITEM_OK: ++*(del ? &res->c2e_deleted : &res->c2e_indexed); break;
    case ES_ITEM_CONFLICT:
        res->c2e_conflicts++;
        if (!del && c->cleanup.on && r->current_version > version && r->id)
            sync_cleanup_note(&c->cleanup, r->id, strlen(r->id), version);
        break;
    case ES_ITEM_REJECTED: break;
    case ES_ITEM_FAILED:
    default:
        res->c2e_failed++;
        if (res->c2e_failed <= 5)
            ce_warn("sync=%s dir=to_es msg=\"bulk item failed\" id=%s status=%d reason=%s",
                    c->ctx->def->name, SYNC_LOGQ(r->id), r->http_status, SYNC_LOGQ(r->error_reason));
        break;
    }
}

void sync_c2e_dead_letter_row(sync_pass_ctx *ctx, sync_c2e *c, const cql_value *cells, const char *id,
                              const char *reason)
{
    ctx->res->c2e_rejected++;
    ce_buf doc = CE_BUF_INIT;
    if (sync_row_doc(&c->rows.rm, cells, &doc) != CE_OK)
        ce_buf_reset(&doc);
    if (!sync_pass_dead_letter(ctx, id, reason, doc.len ? doc.data : NULL, doc.len))
        ce_warn("sync=%s dir=to_es msg=\"row rejected\" id=%s reason=%s", ctx->def->name, SYNC_LOGQ(id),
                SYNC_LOGQ(reason));
    ce_buf_free(&doc);
}

/* The bulk bodies' part of the budget: bulk_max_bytes x (bulk_concurrency + 1) (the
 * bodies in flight and the one being built), at most a quarter of the budget: a larger
 * bulk_max_bytes is lowered for the pass. Returns the body size to use. */
static size_t reserve_bulk(sync_pass_ctx *ctx, sync_c2e *c)
{
    size_t max = (size_t)ctx->def->bulk_max_bytes, bodies = (size_t)ctx->def->bulk_concurrency + 1;
    size_t limit = sync_budget_limit(ctx->budget);
    if (!ctx->budget)
        return max;
    if (max * bodies > limit / 4) {
        size_t fit = limit / 4 / bodies;
        ce_info("sync=%s dir=to_es msg=\"bulk_max_bytes lowered to fit memory_limit_mb\" bulk_max_bytes=%zu "
                "was=%zu", ctx->def->name, fit, max);
        max = fit;
    }
    c->bulk_reserved = max * bodies;
    sync_budget_reserve(ctx->budget, c->bulk_reserved);
    return max;
}

ce_err sync_c2e_bulk_start(sync_pass_ctx *ctx, sync_c2e *c)
{
    es_bulk_opts bo;
    es_bulk_opts_init(&bo);
    bo.max_bytes = reserve_bulk(ctx, c);
    bo.max_docs = (size_t)ctx->def->bulk_max_docs;
    bo.concurrency = ctx->def->bulk_concurrency;
    bo.on_result = on_item;
    bo.ud = c;
    ce_err e = es_bulk_new(ctx->es, &bo, &c->bulk);
    if (e)
        sync_pass_fail(ctx, e, "bulk: %s", es_client_errmsg(ctx->es));
    return e;
}

ce_err sync_c2e_bulk_delete(sync_pass_ctx *ctx, sync_c2e *c, size_t task, int64_t version)
{
    uint64_t tag = 0;
    ce_err e = sync_scan_ack_commit(&c->ack, task, version, &tag);
    if (e)
        return e;
    e = es_bulk_delete(c->bulk, ctx->def->index, c->type, c->id.data, c->id.len, ES_VERSION_EXTERNAL, version,
                       tag | C2E_TAG_DELETE);
    if (e)
        sync_pass_fail(ctx, e, "bulk request failed: %s", es_bulk_errmsg(c->bulk));
    return e;
}

/* "256 MiB" (or the bytes when not whole MiB). */
static void format_limit(size_t bytes, char out[32])
{
    if (bytes % ((size_t)1 << 20) == 0)
        snprintf(out, 32, "%zu MiB", bytes >> 20);
    else
        snprintf(out, 32, "%zu bytes", bytes);
}

void sync_c2e_convert_poison(sync_pass_ctx *ctx, sync_c2e *c, bool filter)
{
    const sync_scan *s = &c->scan;
    cql_value cells[c->rows.ncells > 0 ? c->rows.ncells : 1];
    for (size_t i = 0; i < c->rows.ncells; i++)
        cells[i] = (cql_value){NULL, CQL_NULL};
    for (size_t k = 0; k < s->nkey_cols; k++)
        cells[s->key_cols[k]] = cql_result_cell(c->page.result, 0, k);
    int64_t version;
    bool from_wt;
    ce_err e = sync_row_version(&c->rows.rm, cells, &version, &from_wt);
    if (filter && !e && (version < s->lo_v || version >= s->hi_v))
        return;
    c->scanned++;
    ctx->res->c2e_read++;
    ctx->res->c2e_rejected++;
    ce_buf_reset(&c->err);
    bool no_id = sync_row_id(&c->rows.rm, cells, &c->id, &c->scratch, &c->err) != CE_OK;
    char limit[32], reason[128];
    format_limit(cql_session_max_message_bytes(ctx->cql), limit);
    snprintf(reason, sizeof reason, "row of %zu bytes over the %s message limit", c->page.poison_bytes, limit);
    if (!sync_pass_dead_letter(ctx, no_id ? NULL : ce_buf_cstr(&c->id), reason, NULL, 0))
        ce_warn("sync=%s dir=to_es msg=\"row rejected\" id=%s reason=%s", ctx->def->name,
                SYNC_LOGQ(no_id ? "" : ce_buf_cstr(&c->id)), SYNC_LOGQ(reason));
}

void sync_c2e_bulk_finish(sync_pass_ctx *ctx, sync_c2e *c)
{
    double t0 = ce_mono_s();
    ce_err fe = es_bulk_finish(c->bulk);
    es_bulk_stats bst;
    es_bulk_get_stats(c->bulk, &bst);
    ctx->res->c2e_bulk_retries += bst.retries;
    c->es_wait_s += bst.wait_s + (ce_mono_s() - t0);
    ce_debug("sync=%s dir=to_es msg=\"pipeline\" cql_wait_s=%.3f es_wait_s=%.3f scanned=%llu", ctx->def->name,
             c->reader.cql_wait_s, c->es_wait_s, (unsigned long long)c->scanned);
    if (fe)
        sync_pass_fail(ctx, fe, "bulk: %s", es_bulk_errmsg(c->bulk));
}

void sync_c2e_bulk_free(sync_pass_ctx *ctx, sync_c2e *c)
{
    es_bulk_free(c->bulk);
    c->bulk = NULL;
    sync_budget_unreserve(ctx->budget, c->bulk_reserved);
    c->bulk_reserved = 0;
}
