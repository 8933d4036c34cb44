/*
 * status_file.c - <state_dir>/casselastic.status.json: written atomically (0600) by `run` and
 * `once` after each pass, read by `status`. Its path comes from sync/state.c, here only.
 *
 * Format 1: {"format":1, "pid", "mode", "started", "last_pass_started", "last_pass_finished",
 * "last_pass_ms", "passes", "failed_passes", "last_result", "last_error", "syncs":[...]}.
 */
#include "cli/cli_int.h"

#include <jansson.h>
#include <limits.h>
#include <unistd.h>

#include "sync/checkpoint.h"
#include "sync/state.h"
#include "util/buf.h"
#include "util/jsonw.h"
#include "util/log.h"

static const char *result_text(ce_err err)
{
    switch (err) {
    case CE_OK: return "ok";
    case CE_EPARTIAL: return "partial";
    case CE_ECANCELED: return "canceled";
    default: return "failed";
    }
}

static void put_iso(ce_buf *b, const char *key, int64_t ms)
{
    char iso[32];
    ce_buf_printf(b, ",\"%s\":", key);
    if (ms > 0) {
        sync_format_iso_ms(ms, iso);
        jsonw_cstr(b, iso);
    } else {
        jsonw_null(b);
    }
}

static void put_sync(ce_buf *b, const sync_pass_result *r, bool first)
{
    ce_buf_append_str(b, first ? "{\"name\":" : ",{\"name\":");
    jsonw_cstr(b, r->name);
    ce_buf_printf(b,
                  ",\"ok\":%s,\"seconds\":%.3f,\"window_start_ms\":%lld,\"window_end_ms\":%lld"
                  ",\"to_es\":{\"read\":%llu,\"indexed\":%llu,\"conflicts\":%llu,\"skipped\":%llu"
                  ",\"rejected\":%llu,\"failed\":%llu,\"deleted_old\":%llu}"
                  ",\"to_cassandra\":{\"read\":%llu,\"written\":%llu,\"skipped\":%llu,\"rejected\":%llu"
                  ",\"failed\":%llu,\"columns_added\":%llu},\"error\":",
                  r->ok ? "true" : "false", r->seconds, (long long)r->window_start_ms, (long long)r->window_end_ms,
                  (unsigned long long)r->c2e_read, (unsigned long long)r->c2e_indexed,
                  (unsigned long long)r->c2e_conflicts, (unsigned long long)r->c2e_skipped,
                  (unsigned long long)r->c2e_rejected, (unsigned long long)r->c2e_failed,
                  (unsigned long long)r->c2e_deleted_old, (unsigned long long)r->e2c_read,
                  (unsigned long long)r->e2c_written, (unsigned long long)r->e2c_skipped,
                  (unsigned long long)r->e2c_rejected, (unsigned long long)r->e2c_failed,
                  (unsigned long long)r->e2c_columns_added);
    if (r->error[0])
        jsonw_cstr(b, r->error);
    else
        jsonw_null(b);
    ce_buf_append_byte(b, '}');
}

ce_err cli_status_write(const char *state_dir, const cli_pass_stats *st, const cli_pass_outcome *po)
{
    ce_buf b = CE_BUF_INIT;
    ce_buf_printf(&b, "{\"format\":1,\"pid\":%ld,\"mode\":\"%s\"", (long)getpid(), st->mode);
    put_iso(&b, "started", st->started_ms);
    put_iso(&b, "last_pass_started", po->started_ms);
    put_iso(&b, "last_pass_finished", po->finished_ms);
    ce_buf_printf(&b, ",\"last_pass_ms\":%lld,\"passes\":%llu,\"failed_passes\":%llu,\"last_result\":\"%s\"",
                  (long long)(po->finished_ms - po->started_ms), (unsigned long long)st->passes,
                  (unsigned long long)st->failed_passes, result_text(po->err));
    ce_buf_append_str(&b, ",\"last_error\":");
    if (po->err && po->errmsg && *po->errmsg)
        jsonw_cstr(&b, po->errmsg);
    else
        jsonw_null(&b);
    ce_buf_append_str(&b, ",\"syncs\":[");
    for (size_t i = 0; po->report && i < po->report->nsyncs; i++)
        put_sync(&b, &po->report->syncs[i], i == 0);
    ce_err err = ce_buf_append_str(&b, "]}\n");
    char path[PATH_MAX] = "";
    if (!err)
        err = sync_state_path_fixed(path, sizeof path, state_dir, SYNC_STATE_STATUS, NULL, NULL);
    if (!err)
        err = sync_state_write_atomic(path, b.data, b.len, 0);
    if (err) {
        char qp[512];
        ce_warn("msg=\"cannot write the status file\" path=%s err=%s", ce_log_quote(qp, sizeof qp, path),
                ce_errname(err));
    }
    ce_buf_free(&b);
    return err;
}

json_t *cli_status_load(const char *state_dir)
{
    char path[PATH_MAX];
    if (sync_state_path_fixed(path, sizeof path, state_dir, SYNC_STATE_STATUS, NULL, NULL) != CE_OK)
        return NULL;
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}
