/*
 * seqno.c - the seq_no capture mode of E->C (es_read_mode "seq_no"): every write since
 * the last pass, found by its per-shard sequence number, whatever its version says.
 *
 * A pass reads, before anything else, each shard's global checkpoint (every in-sync copy
 * has processed every operation up to it) and primary term, and the index UUID
 * (es_index_seqnos_get); then refreshes the index, so every write up to those bounds is
 * visible to search. For each shard N whose saved position is below its bound it then
 * searches _seq_no in (saved, bound], sorted by _seq_no, on that shard alone
 * (preference=_shards:N), paged by search_after on _seq_no: unique within a shard, and
 * a document overwritten during the read only leaves the range to reappear above the
 * bound at the next pass. No overlap and no safety lag: the bounds are exact.
 *
 * One full read of the index replaces the shard reads (and sets every position to its
 * bound) when there is no saved position, on --since, and when the index UUID, the
 * shard count or a shard's primary term differ from the saved ones; a log line says why.
 * Positions are the checkpoint's extra and move only when the pass succeeded, i.e. every
 * document read got Cassandra's acknowledgement (or a final refusal).
 */
#include "sync/e2c_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"

struct sync_seqno_pass {
    es_index_seqnos now;          /* the bounds, taken before the refresh */
    sync_seqno_checkpoint saved;  /* nshards 0: none */
    sync_seqno_start start;
    size_t *todo, ntodo;          /* by shard: the shards with something to read */
};

void sync_seqno_checkpoint_free(sync_seqno_checkpoint *cp)
{
    if (!cp)
        return;
    free(cp->shards);
    memset(cp, 0, sizeof *cp);
}

ce_err sync_seqno_checkpoint_encode(const sync_seqno_checkpoint *cp, ce_buf *out)
{
    json_t *root = json_object(), *arr = json_array();
    ce_err e = root && arr ? CE_OK : CE_ENOMEM;
    for (size_t i = 0; i < cp->nshards && !e; i++) {
        json_t *o = json_pack("{sIsI}", "seq_no", (json_int_t)cp->shards[i].seq_no, "primary_term",
                              (json_int_t)cp->shards[i].primary_term);
        e = o && json_array_append_new(arr, o) == 0 ? CE_OK : CE_ENOMEM;
    }
    if (!e && (json_object_set_new(root, "index_uuid", json_string(cp->index_uuid)) ||
               json_object_set(root, "shards", arr)))
        e = CE_ENOMEM;
    char *text = e ? NULL : json_dumps(root, JSON_COMPACT);
    if (!e)
        e = text ? ce_buf_append_str(out, text) : CE_ENOMEM;
    free(text);
    json_decref(arr);
    json_decref(root);
    return e;
}

ce_err sync_seqno_checkpoint_decode(const char *extra, sync_seqno_checkpoint *out)
{
    memset(out, 0, sizeof *out);
    if (!extra)
        return CE_ENOTFOUND;
    json_error_t jerr;
    json_t *root = json_loads(extra, JSON_DECODE_ANY, &jerr);
    if (!root)
        return CE_EJSON;
    json_t *arr = json_object_get(root, "shards");
    const char *uuid = json_string_value(json_object_get(root, "index_uuid"));
    ce_err e = CE_OK;
    if (!json_is_array(arr))
        e = CE_ENOTFOUND;
    else if (!uuid || strlen(uuid) >= sizeof out->index_uuid || json_array_size(arr) == 0)
        e = CE_EPROTO;
    if (!e && !(out->shards = calloc(json_array_size(arr), sizeof *out->shards)))
        e = CE_ENOMEM;
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        if (e)
            break;
        json_t *sn = json_object_get(o, "seq_no"), *pt = json_object_get(o, "primary_term");
        if (!json_is_integer(sn) || !json_is_integer(pt)) {
            e = CE_EPROTO;
            break;
        }
        out->shards[i] = (sync_shard_position){json_integer_value(sn), json_integer_value(pt)};
        out->nshards = i + 1;
    }
    if (!e)
        snprintf(out->index_uuid, sizeof out->index_uuid, "%s", uuid);
    json_decref(root);
    if (e)
        sync_seqno_checkpoint_free(out);
    return e;
}

sync_seqno_start sync_seqno_decide(const sync_seqno_checkpoint *saved, bool since, const es_index_seqnos *now,
                                   size_t *shard)
{
    *shard = 0;
    if (!saved || saved->nshards == 0)
        return SYNC_SEQNO_FULL_NO_CHECKPOINT;
    if (since)
        return SYNC_SEQNO_FULL_SINCE;
    if (strcmp(saved->index_uuid, now->uuid) != 0)
        return SYNC_SEQNO_FULL_NEW_INDEX;
    if (saved->nshards != now->nshards)
        return SYNC_SEQNO_FULL_SHARD_COUNT;
    for (size_t i = 0; i < now->nshards; i++) {
        if (saved->shards[i].primary_term != now->shards[i].primary_term) {
            *shard = i;
            return SYNC_SEQNO_FULL_PRIMARY_TERM;
        }
    }
    return SYNC_SEQNO_BY_SHARD;
}

const char *sync_seqno_start_text(sync_seqno_start s)
{
    switch (s) {
    case SYNC_SEQNO_BY_SHARD: return "";
    case SYNC_SEQNO_FULL_NO_CHECKPOINT: return "no saved per-shard positions";
    case SYNC_SEQNO_FULL_SINCE: return "a re-sync from a time (--since)";
    case SYNC_SEQNO_FULL_NEW_INDEX: return "the index UUID changed (index re-created)";
    case SYNC_SEQNO_FULL_SHARD_COUNT: return "the shard count changed";
    case SYNC_SEQNO_FULL_PRIMARY_TERM: return "a shard has a new primary term";
    }
    return "?";
}

/* The shards whose saved position is below their bound (a by-shard pass). */
static ce_err list_todo(sync_seqno_pass *sp)
{
    sp->todo = calloc(sp->now.nshards, sizeof *sp->todo);
    if (!sp->todo)
        return CE_ENOMEM;
    for (size_t i = 0; i < sp->now.nshards; i++)
        if (sp->saved.shards[i].seq_no < sp->now.shards[i].global_checkpoint)
            sp->todo[sp->ntodo++] = i;
    return CE_OK;
}

/* Log how the pass reads: by shard (with the shards to read) or a full read and why. */
static void log_start(const sync_pass_ctx *ctx, const sync_seqno_pass *sp, size_t shard)
{
    const sync_def *d = ctx->def;
    if (sp->start == SYNC_SEQNO_BY_SHARD) {
        ce_info("sync=%s dir=to_cassandra msg=\"reading by sequence number\" index_uuid=%s shards=%zu "
                "shards_changed=%zu",
                d->name, sp->now.uuid, sp->now.nshards, sp->ntodo);
        return;
    }
    char extra[96] = "";
    if (sp->start == SYNC_SEQNO_FULL_NEW_INDEX)
        snprintf(extra, sizeof extra, " saved_uuid=%s", sp->saved.index_uuid);
    else if (sp->start == SYNC_SEQNO_FULL_SHARD_COUNT)
        snprintf(extra, sizeof extra, " saved_shards=%zu", sp->saved.nshards);
    else if (sp->start == SYNC_SEQNO_FULL_PRIMARY_TERM)
        snprintf(extra, sizeof extra, " shard=%zu saved_term=%lld term=%lld", shard,
                 (long long)sp->saved.shards[shard].primary_term, (long long)sp->now.shards[shard].primary_term);
    ce_info("sync=%s dir=to_cassandra msg=\"seq_no: full read of the index\" reason=\"%s\" index_uuid=%s "
            "shards=%zu%s",
            d->name, sync_seqno_start_text(sp->start), sp->now.uuid, sp->now.nshards, extra);
}

ce_err sync_seqno_plan(sync_pass_ctx *ctx, sync_capture *cap)
{
    const sync_def *d = ctx->def;
    sync_seqno_pass *sp = cap->seqno = calloc(1, sizeof *sp);
    if (!sp) {
        sync_pass_fail(ctx, CE_ENOMEM, "%s", "out of memory");
        return CE_ENOMEM;
    }
    if (!es_client_caps(ctx->es)->seq_no) {
        sync_pass_fail(ctx, CE_ECONFIG, "%s",
                       "es_read_mode seq_no needs sequence numbers (Elasticsearch 6.7 or later, OpenSearch)");
        return CE_ECONFIG;
    }
    ce_err e = es_index_seqnos_get(ctx->es, d->index, &sp->now);
    if (!e)
        e = es_index_refresh(ctx->es, d->index); /* after the bounds: all up to them is visible */
    if (e) {
        sync_pass_fail(ctx, e, "shard sequence numbers: %s", es_client_errmsg(ctx->es));
        return e;
    }
    ce_err de = sync_seqno_checkpoint_decode(ctx->has_checkpoint ? ctx->cp.extra : NULL, &sp->saved);
    if (de && de != CE_ENOTFOUND)
        ce_warn("sync=%s dir=to_cassandra msg=\"checkpoint positions unreadable; full read\" error=%s", d->name,
                ce_errname(de));
    size_t shard = 0;
    sp->start = sync_seqno_decide(&sp->saved, ctx->opts && ctx->opts->has_since, &sp->now, &shard);
    e = sp->start == SYNC_SEQNO_BY_SHARD ? list_todo(sp) : CE_OK;
    if (e) {
        sync_pass_fail(ctx, e, "%s", "out of memory");
        return e;
    }
    cap->nreads = sp->start == SYNC_SEQNO_BY_SHARD ? sp->ntodo : 1;
    log_start(ctx, sp, shard);
    return CE_OK;
}

void sync_seqno_query(const sync_pass_ctx *ctx, sync_capture *cap, size_t i, es_search_opts *so)
{
    const sync_seqno_pass *sp = cap->seqno;
    so->refresh_first = false; /* the plan refreshed after taking the bounds */
    sync_capture_skip_echoes(ctx->def, so);
    if (sp->start != SYNC_SEQNO_BY_SHARD) {
        so->unordered = true; /* the whole index, in any order */
        return;
    }
    size_t n = sp->todo[i];
    snprintf(cap->preference, sizeof cap->preference, "_shards:%zu", n);
    so->preference = cap->preference;
    so->query.range_field = "_seq_no";
    so->query.has_gte = so->query.has_lt = true;
    so->query.gte = sp->saved.shards[n].seq_no + 1; /* (saved, bound] */
    so->query.lt = sp->now.shards[n].global_checkpoint + 1;
    so->sort_field = "_seq_no";
    so->sort_unique = true;
}

ce_err sync_seqno_settle(sync_pass_ctx *ctx, sync_capture *cap)
{
    const sync_seqno_pass *sp = cap->seqno;
    sync_seqno_checkpoint next = {.nshards = sp->now.nshards};
    snprintf(next.index_uuid, sizeof next.index_uuid, "%s", sp->now.uuid);
    next.shards = calloc(next.nshards, sizeof *next.shards);
    if (!next.shards)
        return CE_ENOMEM;
    bool by_shard = sp->start == SYNC_SEQNO_BY_SHARD;
    for (size_t i = 0; i < next.nshards; i++) {
        int64_t bound = sp->now.shards[i].global_checkpoint;
        if (by_shard && sp->saved.shards[i].seq_no > bound)
            bound = sp->saved.shards[i].seq_no; /* never back */
        next.shards[i] = (sync_shard_position){bound, sp->now.shards[i].primary_term};
    }
    ce_buf text = CE_BUF_INIT;
    ce_err e = sync_seqno_checkpoint_encode(&next, &text);
    e = e ? e : (ce_buf_cstr(&text) ? CE_OK : CE_ENOMEM);
    if (!e) {
        free(ctx->cp.extra);
        ctx->cp.extra = strdup(ce_buf_cstr(&text));
        e = ctx->cp.extra ? CE_OK : CE_ENOMEM;
    }
    ce_buf_free(&text);
    sync_seqno_checkpoint_free(&next);
    return e;
}

void sync_seqno_done(sync_capture *cap)
{
    sync_seqno_pass *sp = cap->seqno;
    if (!sp)
        return;
    es_index_seqnos_free(&sp->now);
    sync_seqno_checkpoint_free(&sp->saved);
    free(sp->todo);
    free(sp);
    cap->seqno = NULL;
}
