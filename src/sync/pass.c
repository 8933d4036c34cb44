/*
 * pass.c - a pass of one direction of one sync, and the helpers its phases share.
 *
 * sync_pass_run builds the pass context (checkpoint, window, sizes), then hands it from
 * phase to phase of the direction's list (sync_direction_ops) until DONE: each phase is
 * a function of its own that says where to go next. The shared CHECKPOINT phase moves
 * the checkpoint only when the pass succeeded, i.e. every item got a final
 * acknowledgement; a failed or stopped pass leaves it. One summary log line ends it.
 * The directions call the helpers here; nothing here calls a direction but through its
 * list, and nothing here prints (progress goes to opts->progress, logs to ce_log).
 */
#include "sync/sync_int.h"

#include <stdlib.h>
#include <string.h>
#include "util/clock.h"
#include "util/log.h"

bool sync_stop_requested(sync_pass_ctx *ctx)
{
    const sync_pass_opts *o = ctx->opts;
    if (o && o->stop && *o->stop)
        ctx->stopped = true;
    else if (!ctx->stopped && o && o->retire && o->retire(ctx->def->name, o->retire_ud))
        ctx->stopped = ctx->res->retired = true;
    return ctx->stopped;
}

const char *sync_keyspace(const sync_pass_ctx *ctx)
{
    if (ctx->def->keyspace && *ctx->def->keyspace)
        return ctx->def->keyspace;
    return ctx->cfg->cassandra.keyspace ? ctx->cfg->cassandra.keyspace : "";
}

void sync_progress(sync_pass_ctx *ctx, uint64_t read, uint64_t done, double fraction, bool final)
{
    if (!ctx->opts || !ctx->opts->progress)
        return;
    sync_progress_info p = {ctx->def->name, ctx->dir->name, read, done, fraction,
                            (double)(sync_now_ms() - ctx->pass_started_ms) / 1000.0, final};
    ctx->opts->progress(&p, ctx->opts->progress_ud);
}

void sync_result_set_error(sync_pass_result *res, const char *fmt, const char *detail)
{
    if (res->error[0])
        return;
    char tmp[1024];
    snprintf(tmp, sizeof tmp, fmt, detail ? detail : "");
    size_t n = strlen(tmp);
    if (n >= sizeof res->error)
        n = sizeof res->error - 1;
    memcpy(res->error, tmp, n);
    res->error[n] = 0;
}

void sync_pass_fail(sync_pass_ctx *ctx, ce_err rc, const char *fmt, const char *detail)
{
    if (ctx->rc)
        return;
    ctx->rc = rc;
    if (fmt)
        sync_result_set_error(ctx->res, fmt, detail);
}

void sync_pass_settle(sync_pass_ctx *ctx, bool failures, const char *failure_text)
{
    if (failures)
        sync_pass_fail(ctx, CE_EPARTIAL, "%s", failure_text);
    if (ctx->dl_failed)
        sync_pass_fail(ctx, CE_EIO, "%s", "dead-letter file could not be written");
    if (ctx->stopped)
        sync_pass_fail(ctx, CE_ECANCELED, NULL, NULL);
}

sync_phase sync_phase_checkpoint(sync_pass_ctx *ctx, void *state)
{
    (void)state;
    if (ctx->rc)
        return SYNC_PHASE_DONE;
    sync_pass_figures f;
    ctx->dir->figures(ctx->res, &f);
    sync_checkpoint *cp = &ctx->cp;
    cp->position_ms = ctx->win.end_ms;
    cp->updated_ms = sync_now_ms();
    cp->last_pass_started_ms = ctx->pass_started_ms;
    cp->last_pass_finished_ms = cp->updated_ms;
    cp->last_read = f.read;
    cp->last_written = f.written;
    cp->last_conflicts = f.conflicts;
    cp->last_skipped = f.skipped;
    cp->last_rejected = f.rejected;
    /* The dead letters of the items this checkpoint passes reach the disk first: one
     * fdatasync per checkpoint, only when lines were written. */
    if (sync_deadletter_sync(ctx->dl) != CE_OK) {
        ce_error("sync=%s dir=%s msg=\"dead-letter file not synced; checkpoint kept\"", ctx->def->name,
                 ctx->dir->name);
        snprintf(ctx->res->error, sizeof ctx->res->error, "%s: dead-letter file could not be synced",
                 ctx->dir->name);
        ctx->rc = CE_EIO;
        return SYNC_PHASE_DONE;
    }
    ce_err se = sync_checkpoint_save(ctx->state_dir, ctx->def->name, ctx->dir->name, cp);
    if (se) {
        ce_error("sync=%s dir=%s msg=\"checkpoint not saved\" error=%s", ctx->def->name, ctx->dir->name,
                 ce_errname(se));
        snprintf(ctx->res->error, sizeof ctx->res->error, "%s: checkpoint not saved (%s)", ctx->dir->name,
                 ce_errname(se));
        ctx->rc = se;
    }
    return SYNC_PHASE_DONE;
}

/* Run the direction's phases from PLAN to DONE over its zeroed state. */
static void drive(sync_pass_ctx *ctx)
{
    void *state = calloc(1, ctx->dir->state_size);
    if (!state) {
        sync_pass_fail(ctx, CE_ENOMEM, "%s", "out of memory");
        return;
    }
    sync_phase p = SYNC_PHASE_PLAN;
    while (p < SYNC_PHASE_DONE) {
        sync_phase_fn fn = ctx->dir->phase[p];
        p = fn ? fn(ctx, state) : (sync_phase)(p + 1);
    }
    ctx->dir->release(ctx, state);
    free(state);
}

static void format_ms(int64_t ms, char out[32])
{
    if (ms < 0 || sync_format_iso_ms(ms, out) != CE_OK)
        snprintf(out, 32, "%lld", (long long)ms);
}

/* The one summary line of a direction's pass. */
static void log_summary(const sync_pass_ctx *ctx, double secs)
{
    const sync_pass_result *res = ctx->res;
    sync_pass_figures f;
    ctx->dir->figures(res, &f);
    char ws[32], we[32];
    format_ms(ctx->win.start_ms, ws);
    format_ms(ctx->win.end_ms, we);
    ce_err rc = ctx->rc;
    char shrinks[96] = "";
    if (f.page_shrinks) /* only when it happened: pages read again smaller */
        snprintf(shrinks, sizeof shrinks, " page_shrinks=%llu", (unsigned long long)f.page_shrinks);
    if (ctx->dl_repeats) /* only when it happened: dead letters the file had already */
        snprintf(shrinks + strlen(shrinks), sizeof shrinks - strlen(shrinks), " dead_letter_repeats=%llu",
                 (unsigned long long)ctx->dl_repeats);
    ce_log(rc == CE_OK ? CE_LOG_INFO : rc == CE_ECANCELED ? CE_LOG_WARN : CE_LOG_ERROR,
           "sync=%s dir=%s msg=\"pass %s\" window_start=%s window_end=%s read=%llu %s=%llu "
           "deleted=%llu conflicts=%llu skipped=%llu rejected=%llu failed=%llu seconds=%.3f rate=%.0f%s%s%s",
           ctx->def->name, ctx->dir->name, rc == CE_OK ? "done" : rc == CE_ECANCELED ? "stopped" : "failed",
           ws, we, (unsigned long long)f.read, f.written_name, (unsigned long long)f.written,
           (unsigned long long)f.deleted, (unsigned long long)f.conflicts, (unsigned long long)f.skipped, (unsigned long long)f.rejected,
           (unsigned long long)f.failed, secs, secs > 0 ? (double)f.read / secs : 0.0, shrinks,
           res->error[0] ? " error=" : "", res->error[0] ? SYNC_LOGQ(res->error) : "");
}

/* What a checkpoint's position is about: "keyspace.table index" (malloc'd; NULL: out of
 * memory). */
static char *checkpoint_target(const sync_def *d)
{
    const char *ks = d->keyspace ? d->keyspace : "", *t = d->table ? d->table : "";
    const char *ix = d->index ? d->index : "";
    size_t n = strlen(ks) + strlen(t) + strlen(ix) + 3;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s.%s %s", ks, t, ix);
    return s;
}

/* A checkpoint made for another table or index (the config changed them since) is no
 * position for this pair: the direction starts over as a first pass would. True when so. */
static bool target_changed(sync_pass_ctx *ctx, const char *target)
{
    if (!ctx->cp.target || strcmp(ctx->cp.target, target) == 0)
        return false; /* same pair, or a file from before the target was kept */
    ce_warn("sync=%s dir=%s msg=\"checkpoint was made for another table or index; starting over\" "
            "was=%s now=%s", ctx->def->name, ctx->dir->name, SYNC_LOGQ(ctx->cp.target), SYNC_LOGQ(target));
    sync_checkpoint_clear(&ctx->cp);
    return true;
}

/* Checkpoint and window of the pass. CE_OK also when there is no checkpoint yet. */
static ce_err start_window(sync_pass_ctx *ctx, const sync_pass_env *env)
{
    const sync_def *d = ctx->def;
    char *target = checkpoint_target(d);
    if (!target)
        return CE_ENOMEM;
    ce_err rc = sync_checkpoint_load(ctx->state_dir, d->name, ctx->dir->name, &ctx->cp);
    bool changed = rc == CE_OK && target_changed(ctx, target);
    if (changed)
        rc = CE_ENOTFOUND;
    free(ctx->cp.target);
    ctx->cp.target = target; /* every save from now on says what it is about */
    /* progress saved during a first load is no position: the window starts as before it */
    ctx->has_checkpoint = rc == CE_OK && sync_resume_has_position(ctx->cp.extra);
    if (rc && rc != CE_ENOTFOUND) {
        ce_error("sync=%s dir=%s msg=\"checkpoint unreadable; not running this direction\" error=%s",
                 d->name, ctx->dir->name, ce_errname(rc));
        snprintf(ctx->res->error, sizeof ctx->res->error, "%s: checkpoint file unreadable (%s)",
                 ctx->dir->name, ce_errname(rc));
        return rc;
    }
    int64_t lastrun = 0;
    bool has_lastrun = !ctx->has_checkpoint && !changed &&
                       sync_lastruntime_read(env->lastrun_dir, &lastrun) == CE_OK;
    const sync_pass_opts *o = ctx->opts;
    sync_window_compute(o && o->has_since, o ? o->since_ms : 0, ctx->has_checkpoint, ctx->cp.position_ms,
                        has_lastrun, lastrun, d->overlap_ms, d->safety_lag_ms, ctx->pass_started_ms,
                        &ctx->win);
    ctx->res->window_start_ms = ctx->win.start_ms;
    ctx->res->window_end_ms = ctx->win.end_ms;
    return CE_OK;
}

ce_err sync_pass_run(const sync_pass_env *env, const sync_def *d, const sync_direction_ops *dir,
                     const sync_pass_opts *opts, sync_pass_result *res)
{
    sync_pass_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return CE_ENOMEM;
    ctx->cql = env->cql;
    ctx->es = env->es;
    ctx->dl = env->dl;
    ctx->cfg = env->cfg;
    sync_def_sizes(d, &ctx->sized);
    ctx->def = &ctx->sized;
    ctx->opts = opts;
    ctx->dir = dir;
    ctx->read_cl = env->read_cl;
    ctx->write_cl = env->write_cl;
    ctx->res = res;
    ctx->state_dir = env->state_dir;
    ctx->budget = env->budget;
    ctx->pass_started_ms = sync_now_ms();
    ce_err rc = start_window(ctx, env);
    if (rc == CE_OK) {
        double t0 = ce_mono_s();
        drive(ctx);
        double secs = ce_mono_s() - t0;
        res->seconds += secs;
        dir->outcome(res, secs, ctx->rc == CE_OK);
        if (ctx->rc == CE_ECANCELED && !res->error[0])
            snprintf(res->error, sizeof res->error, "%s: stopped before the end of the window", dir->name);
        log_summary(ctx, secs);
        rc = ctx->rc;
    }
    sync_checkpoint_clear(&ctx->cp);
    free(ctx);
    return rc;
}
