/*
 * scanack.c - C->E: which token ranges of a resumable scan are acknowledged, and their
 * progress saved in the checkpoint while the pass runs.
 *
 * Every document sent gets a sequence number as its bulk tag; a ring of the documents
 * without a final outcome maps the number back to its range (and its version, which the
 * (id, version) cleanup needs). A range is acknowledged when its last page was converted
 * and every document of it got its final outcome: indexed, conflict, or rejected into the
 * dead letters. A document that FAILED keeps its range from ever being acknowledged in
 * this pass. The acknowledged ranges go into the checkpoint (resume.c codec) as soon as
 * the first range is acknowledged, then at most every SYNC_RESUME_SAVE_S seconds, and once more when a pass fails or is stopped; the
 * window position does not move until the pass completes. Single-threaded: the bulk
 * calls its item callback on the pass's thread.
 */
#include "sync/c2e_int.h"

#include <stdlib.h>
#include <string.h>
#include "util/clock.h"
#include "util/log.h"

/* A small file written (with fsync, 0.3-0.9 ms on the test machine) at most this often: in
 * practice after each bulk answer, so what a kill loses is about the documents in flight
 * (0.2 s let a busy machine re-send a whole extra bulk after a kill). */
#define SYNC_RESUME_SAVE_S 0.05

#define TASK_READ_DONE 1u
#define TASK_FAILED 2u
#define SLOT_FREE UINT32_MAX

/* The identity of this pass: window, ring split, read mode, table, index. */
static ce_err identity(sync_pass_ctx *ctx, const sync_scan *s, sync_resume *r)
{
    ce_err e = sync_resume_init(r, s->ntasks);
    if (e)
        return e;
    r->window_start_ms = ctx->win.start_ms;
    r->window_end_ms = ctx->win.end_ms;
    r->has_position = ctx->has_checkpoint;
    uint64_t h = SYNC_FNV1A_INIT;
    for (size_t k = 0; k < s->ntasks; k++) /* ranges are contiguous: their ends say it all */
        h = sync_fnv1a(h, &s->tasks[k].route_token, sizeof s->tasks[k].route_token);
    r->ring = h;
    const char *parts[] = {s->plan->name, sync_keyspace(ctx), ctx->def->table, ctx->def->index};
    h = SYNC_FNV1A_INIT;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        h = sync_fnv1a(h, parts[i] ? parts[i] : "", strlen(parts[i] ? parts[i] : "") + 1);
    r->target = h;
    return CE_OK;
}

/* Saved progress that fits this pass: its ranges skipped, its window end and echo rule. */
static void adopt(sync_pass_ctx *ctx, sync_scan *s, sync_scan_ack *a, const sync_resume *saved)
{
    size_t at = 0;
    for (size_t k = 0; k < s->ntasks; k++) {
        if (sync_resume_is_done(saved, k)) {
            sync_resume_mark(&a->prog, k);
            s->tasks[k].skip = true;
        } else if (saved->at[k] != INT64_MIN) {
            sync_resume_advance(&a->prog, k, saved->at[k]);
            sync_scan_task_start_after(&s->tasks[k], saved->at[k]);
            at++;
        }
    }
    a->skipped = a->prog.ndone;
    a->prog.window_end_ms = saved->window_end_ms;
    a->prog.send_echoes = saved->send_echoes;
    a->resumed = true;
    ctx->win.end_ms = saved->window_end_ms; /* finish the pass that was cut short */
    ctx->res->window_end_ms = saved->window_end_ms;
    s->hi_v = sync_version_ceil(saved->window_end_ms, ctx->def->version_unit_us);
    ce_info("sync=%s dir=to_es msg=\"resuming an interrupted load\" mode=%s ranges=%zu ranges_done=%zu "
            "ranges_left=%zu ranges_at_position=%zu", ctx->def->name, s->plan->name, s->ntasks, a->skipped,
            s->ntasks - a->skipped, at);
}

ce_err sync_scan_ack_plan(sync_pass_ctx *ctx, sync_scan *s, sync_scan_ack *a)
{
    memset(a, 0, sizeof *a);
    a->last_save_s = ce_mono_s() - SYNC_RESUME_SAVE_S; /* the first acknowledged range is saved at once */
    if (!s->plan->resumable)
        return CE_OK;
    a->pending = calloc(s->ntasks ? s->ntasks : 1, sizeof *a->pending);
    a->flags = calloc(s->ntasks ? s->ntasks : 1, 1);
    a->pages = calloc(s->ntasks ? s->ntasks : 1, sizeof *a->pages);
    a->npages = s->ntasks;
    ce_err e = a->pending && a->flags && a->pages ? identity(ctx, s, &a->prog) : CE_ENOMEM;
    if (e) {
        sync_pass_fail(ctx, e, "%s", "out of memory");
        return e;
    }
    a->on = true;
    sync_resume saved;
    ce_err de = sync_resume_decode(ctx->cp.extra, &saved);
    char why[128];
    if (de == CE_OK && sync_resume_matches(&saved, &a->prog, why, sizeof why))
        adopt(ctx, s, a, &saved);
    else if (de == CE_OK)
        ce_info("sync=%s dir=to_es msg=\"progress of an interrupted load does not fit this pass; starting "
                "over\" reason=\"%s\" ranges_done=%zu", ctx->def->name, why, saved.ndone);
    else if (de != CE_ENOTFOUND)
        ce_warn("sync=%s dir=to_es msg=\"progress of an interrupted load unreadable; starting over\" error=%s",
                ctx->def->name, ce_errname(de));
    sync_resume_free(&saved);
    return CE_OK;
}

/* A copy of the count elements (elem bytes each) of a circular buffer of cap starting at
 * head, oldest first, in a new buffer of newcap elements; NULL when out of memory. */
static void *ring_unwrap(const void *ring, size_t elem, size_t head, size_t count, size_t cap, size_t newcap)
{
    char *n = malloc(newcap * elem);
    if (!n)
        return NULL;
    size_t first = count < cap - head ? count : cap - head; /* head .. the end of the buffer */
    if (count > 0) {
        memcpy(n, (const char *)ring + head * elem, first * elem);
        memcpy(n + first * elem, ring, (count - first) * elem);
    }
    return n;
}

/* Room for one more slot in the ring (doubling, oldest first). */
static ce_err ring_grow(sync_scan_ack *a)
{
    if (a->count < a->cap)
        return CE_OK;
    size_t cap = a->cap ? a->cap * 2 : 1024;
    sync_ack_slot *n = ring_unwrap(a->ring, sizeof *n, a->head, a->count, a->cap, cap);
    if (!n)
        return CE_ENOMEM;
    free(a->ring);
    a->ring = n;
    a->cap = cap;
    a->head = 0;
    return CE_OK;
}

/* Page seq of range P (it must be in the ring). */
static sync_ack_page *page_at(sync_ack_pages *P, uint32_t seq)
{
    return &P->p[(P->head + (seq - P->seq)) % P->cap];
}

/* The range's page being converted: the newest when still open, else a new one. NULL
 * when out of memory. *seq: its sequence number. */
static sync_ack_page *page_open(sync_ack_pages *P, uint32_t *seq)
{
    if (P->count > 0 && !page_at(P, P->seq + P->count - 1)->closed) {
        *seq = P->seq + P->count - 1;
        return page_at(P, *seq);
    }
    if (P->count == P->cap) {
        uint32_t cap = P->cap ? P->cap * 2 : 4;
        sync_ack_page *n = ring_unwrap(P->p, sizeof *n, P->head, P->count, P->cap, cap);
        if (!n)
            return NULL;
        free(P->p);
        P->p = n;
        P->cap = cap;
        P->head = 0;
    }
    *seq = P->seq + P->count++;
    sync_ack_page *pg = page_at(P, *seq);
    *pg = (sync_ack_page){INT64_MIN, 0, false, false};
    return pg;
}

/* Move range k's position over its oldest pages that are acknowledged. */
static void page_advance(sync_scan_ack *a, size_t k)
{
    sync_ack_pages *P = &a->pages[k];
    while (P->count > 0) {
        sync_ack_page *pg = &P->p[P->head];
        if (!pg->closed || pg->pending > 0 || pg->failed)
            return;
        if (pg->at > a->prog.at[k] && !sync_resume_is_done(&a->prog, k)) {
            sync_resume_advance(&a->prog, k, pg->at);
            a->unsaved++;
        }
        P->head = (P->head + 1) % P->cap;
        P->count--;
        P->seq++;
    }
}

ce_err sync_scan_ack_commit(sync_scan_ack *a, size_t task, int64_t version, uint64_t *tag)
{
    if (!a->on) {
        *tag = (uint64_t)version;
        return CE_OK;
    }
    uint32_t seq = 0;
    sync_ack_page *pg = page_open(&a->pages[task], &seq);
    ce_err e = pg ? ring_grow(a) : CE_ENOMEM;
    if (e)
        return e;
    a->ring[(a->head + a->count) % a->cap] = (sync_ack_slot){(uint32_t)task, seq, version};
    *tag = a->base + a->count++;
    a->pending[task]++;
    pg->pending++;
    return CE_OK;
}

void sync_scan_ack_page_done(sync_scan_ack *a, size_t task, int64_t at)
{
    if (!a->on)
        return;
    uint32_t seq = 0;
    sync_ack_page *pg = page_open(&a->pages[task], &seq);
    if (!pg)
        return; /* out of memory: the position stays where it is (safe) */
    pg->at = at;
    pg->closed = true;
    page_advance(a, task);
}

/* Range k is acknowledged when read to its end, nothing pending and nothing failed. */
static void check_done(sync_scan_ack *a, size_t k)
{
    if (a->flags[k] == TASK_READ_DONE && a->pending[k] == 0 && !sync_resume_is_done(&a->prog, k)) {
        sync_resume_mark(&a->prog, k);
        a->unsaved++;
    }
}

int64_t sync_scan_ack_outcome(sync_scan_ack *a, uint64_t tag, bool final)
{
    if (!a->on)
        return (int64_t)tag;
    if (tag < a->base || tag - a->base >= a->count)
        return 0; /* not ours: cannot happen */
    sync_ack_slot *sl = &a->ring[(a->head + (tag - a->base)) % a->cap];
    int64_t version = sl->version;
    uint32_t k = sl->task;
    sl->task = SLOT_FREE;
    if (k != SLOT_FREE) {
        a->pending[k]--;
        sync_ack_page *pg = page_at(&a->pages[k], sl->page);
        pg->pending--;
        if (!final) {
            a->flags[k] |= TASK_FAILED;
            pg->failed = true;
        }
        check_done(a, k);
        page_advance(a, k);
    }
    while (a->count > 0 && a->ring[a->head].task == SLOT_FREE) {
        a->head = (a->head + 1) % a->cap;
        a->count--;
        a->base++;
    }
    return version;
}

void sync_scan_ack_read_done(sync_scan_ack *a, size_t task)
{
    if (!a->on)
        return;
    a->flags[task] |= TASK_READ_DONE;
    check_done(a, task);
}

/* The checkpoint as loaded, with this pass's progress in extra (or without it). */
static ce_err save(sync_pass_ctx *ctx, const sync_resume *r)
{
    char *extra = NULL;
    ce_err e = sync_resume_encode(r, ctx->cp.extra, &extra);
    if (e)
        return e;
    free(ctx->cp.extra);
    ctx->cp.extra = extra;
    return r ? sync_checkpoint_save(ctx->state_dir, ctx->def->name, ctx->dir->name, &ctx->cp) : CE_OK;
}

void sync_scan_ack_save(sync_pass_ctx *ctx, sync_scan_ack *a, bool force)
{
    if (!a->on || a->unsaved == 0 || ctx->dl_failed)
        return;
    double now = ce_mono_s();
    if (!force && now - a->last_save_s < SYNC_RESUME_SAVE_S)
        return;
    a->last_save_s = now;
    ce_err e = save(ctx, &a->prog);
    if (e) {
        if (!a->save_failed)
            ce_warn("sync=%s dir=to_es msg=\"load progress not saved\" error=%s", ctx->def->name, ce_errname(e));
        a->save_failed = true;
        return;
    }
    a->unsaved = 0;
    ce_debug("sync=%s dir=to_es msg=\"load progress saved\" ranges_done=%zu ranges=%zu", ctx->def->name,
             a->prog.ndone, a->prog.nranges);
}

void sync_scan_ack_end(sync_pass_ctx *ctx, sync_scan_ack *a)
{
    if (ctx->rc == CE_OK) {
        /* complete: the checkpoint phase moves the window; no progress is left behind */
        if (ctx->cp.extra && save(ctx, NULL) != CE_OK)
            sync_pass_fail(ctx, CE_ENOMEM, "%s", "out of memory");
        return;
    }
    sync_scan_ack_save(ctx, a, true);
    if (a->on && a->prog.ndone > a->skipped)
        ce_info("sync=%s dir=to_es msg=\"load progress kept for the next pass\" ranges_done=%zu ranges=%zu",
                ctx->def->name, a->prog.ndone, a->prog.nranges);
}

void sync_scan_ack_free(sync_scan_ack *a)
{
    sync_resume_free(&a->prog);
    free(a->pending);
    free(a->flags);
    for (size_t k = 0; a->pages && k < a->npages; k++)
        free(a->pages[k].p);
    free(a->pages);
    free(a->ring);
    memset(a, 0, sizeof *a);
}
