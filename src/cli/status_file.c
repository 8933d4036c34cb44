/*
 * status_file.c - <state_dir>/casselastic.status.json: written atomically (0600) by `run` and
 * `once` at start and after each pass, read by `status`. Its path comes from sync/state.c,
 * here only. It also carries what the health rule needs (metrics.h), so that `status` judges
 * health exactly as /healthz does: cli_status_health rebuilds a registry from it.
 *
 * Format 1: {"format":1, "pid", "mode", "period_s", "started", "last_pass_started",
 * "last_pass_finished", "last_pass_ms", "passes", "failed_passes", "last_result" ("none"
 * before the first pass), "last_error", "syncs":[{"name", "registered_ms", the last pass's
 * "ok", "seconds", window and per-direction counts (absent before the first pass), "error",
 * "directions":{"to_es"|"to_cassandra": {"ok", "seconds" (of the last successful pass), "last_success_ms",
 * "last_success", "passes", "failures", "<counter>_total"...}} (directions that have run),
 * "progress_ms" (while a pass of the sync runs: when it last made progress; the health rule
 * counts it)}]}.
 */
#include "cli/cli_int.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/metrics.h"
#include "sync/checkpoint.h"
#include "sync/state.h"
#include "util/buf.h"
#include "util/jsonw.h"
#include "util/log.h"

static const char *const dir_names[] = {"to_es", "to_cassandra"};

static const char *result_text(const cli_pass_outcome *po)
{
    if (!po)
        return "none";
    switch (po->err) {
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

/* The requests the clients sent again on their own during one direction, by cause. */
static void put_client_retries(ce_buf *b, const struct sync_client_retries *c)
{
    ce_buf_printf(b,
                  ",\"es_429\":%llu,\"es_5xx\":%llu,\"es_connection\":%llu,\"cassandra_overloaded\":%llu"
                  ",\"cassandra_connection\":%llu,\"cassandra_unprepared\":%llu}",
                  (unsigned long long)c->es_429, (unsigned long long)c->es_5xx, (unsigned long long)c->es_connection,
                  (unsigned long long)c->cassandra_overloaded, (unsigned long long)c->cassandra_connection,
                  (unsigned long long)c->cassandra_unprepared);
}

/* The last pass of one sync: its counts as the pass lines show them. */
static void put_pass_counts(ce_buf *b, const sync_pass_result *r)
{
    ce_buf_printf(b,
                  ",\"ok\":%s,\"seconds\":%.3f,\"window_start_ms\":%lld,\"window_end_ms\":%lld"
                  ",\"to_es\":{\"read\":%llu,\"indexed\":%llu,\"conflicts\":%llu,\"skipped\":%llu"
                  ",\"rejected\":%llu,\"failed\":%llu,\"deleted_old\":%llu,\"deleted\":%llu"
                  ",\"retries\":{\"es_bulk\":%llu,\"cassandra_read\":%llu",
                  r->ok ? "true" : "false", r->seconds, (long long)r->window_start_ms, (long long)r->window_end_ms,
                  (unsigned long long)r->c2e_read, (unsigned long long)r->c2e_indexed,
                  (unsigned long long)r->c2e_conflicts, (unsigned long long)r->c2e_skipped,
                  (unsigned long long)r->c2e_rejected, (unsigned long long)r->c2e_failed,
                  (unsigned long long)r->c2e_deleted_old, (unsigned long long)r->c2e_deleted,
                  (unsigned long long)r->c2e_bulk_retries, (unsigned long long)r->c2e_read_retries);
    put_client_retries(b, &r->c2e_client_retries);
    ce_buf_printf(b,
                  "},\"to_cassandra\":{\"read\":%llu,\"written\":%llu,\"skipped\":%llu,\"rejected\":%llu"
                  ",\"failed\":%llu,\"columns_added\":%llu,\"no_version\":%llu,\"deleted\":%llu,\"retries\":{",
                  (unsigned long long)r->e2c_read, (unsigned long long)r->e2c_written, (unsigned long long)r->e2c_skipped,
                  (unsigned long long)r->e2c_rejected, (unsigned long long)r->e2c_failed,
                  (unsigned long long)r->e2c_columns_added, (unsigned long long)r->e2c_no_version,
                  (unsigned long long)r->e2c_deleted);
    ce_buf_append_str(b, "\"es_bulk\":0,\"cassandra_read\":0");
    put_client_retries(b, &r->e2c_client_retries);
    ce_buf_append_str(b, "},\"error\":");
    if (r->error[0])
        jsonw_cstr(b, r->error);
    else
        jsonw_null(b);
}

/* "directions": what the registry holds for each direction that has run. */
static void put_directions(ce_buf *b, metrics *m, const char *name)
{
    ce_buf_append_str(b, ",\"directions\":{");
    bool first = true;
    for (int d = 0; d < 2; d++) {
        metrics_direction_state ds;
        metrics_direction_get(m, name, (metrics_direction)d, &ds);
        if (!ds.reported)
            continue;
        ce_buf_printf(b, "%s\"%s\":{\"ok\":%s,\"seconds\":%.3f,\"last_success_ms\":", first ? "" : ",", dir_names[d],
                      ds.last_ok ? "true" : "false", ds.last_success_duration_s);
        first = false;
        if (ds.last_success_ms > 0)
            ce_buf_printf(b, "%lld", (long long)ds.last_success_ms);
        else
            jsonw_null(b);
        put_iso(b, "last_success", ds.last_success_ms);
        ce_buf_printf(b,
                      ",\"passes\":%llu,\"failures\":%llu,\"read_total\":%llu,\"written_total\":%llu"
                      ",\"conflicts_total\":%llu,\"dead_letters_total\":%llu,\"deletes_total\":%llu}",
                      (unsigned long long)ds.passes, (unsigned long long)ds.failures, (unsigned long long)ds.read,
                      (unsigned long long)ds.written, (unsigned long long)ds.conflicts,
                      (unsigned long long)ds.dead_letters, (unsigned long long)ds.deletes);
    }
    ce_buf_append_byte(b, '}');
}

/* One sync of the running config, with its last pass when the report has it. */
static void put_sync(ce_buf *b, const char *name, const sync_pass_report *rep, metrics *m, bool first)
{
    ce_buf_append_str(b, first ? "{\"name\":" : ",{\"name\":");
    jsonw_cstr(b, name);
    metrics_direction_state ds;
    metrics_direction_get(m, name, METRICS_TO_ES, &ds);
    ce_buf_printf(b, ",\"registered_ms\":%lld", (long long)ds.registered_ms);
    for (size_t i = 0; rep && i < rep->nsyncs; i++)
        if (strcmp(rep->syncs[i].name, name) == 0) {
            put_pass_counts(b, &rep->syncs[i]);
            break;
        }
    put_directions(b, m, name);
    ce_buf_append_byte(b, '}');
}

static void put_header(ce_buf *b, const sync_config *cfg, const cli_pass_stats *st, const cli_pass_outcome *po)
{
    ce_buf_printf(b, "{\"format\":1,\"pid\":%ld,\"mode\":\"%s\",\"period_s\":", (long)getpid(), st->mode);
    jsonw_double(b, cfg->period_s);
    put_iso(b, "started", st->started_ms);
    put_iso(b, "last_pass_started", po ? po->started_ms : 0);
    put_iso(b, "last_pass_finished", po ? po->finished_ms : 0);
    ce_buf_append_str(b, ",\"last_pass_ms\":");
    if (po)
        ce_buf_printf(b, "%lld", (long long)(po->finished_ms - po->started_ms));
    else
        jsonw_null(b);
    ce_buf_printf(b, ",\"passes\":%llu,\"failed_passes\":%llu,\"last_result\":\"%s\"", (unsigned long long)st->passes,
                  (unsigned long long)st->failed_passes, result_text(po));
    ce_buf_append_str(b, ",\"last_error\":");
    if (po && po->err && po->errmsg && *po->errmsg)
        jsonw_cstr(b, po->errmsg);
    else
        jsonw_null(b);
}

ce_err cli_status_write(const sync_config *cfg, const cli_pass_stats *st, const cli_pass_outcome *po, metrics *m)
{
    ce_buf b = CE_BUF_INIT;
    put_header(&b, cfg, st, po);
    ce_buf_append_str(&b, ",\"syncs\":[");
    for (size_t i = 0; i < cfg->nsyncs; i++)
        put_sync(&b, cfg->syncs[i].name, po ? po->report : NULL, m, i == 0);
    ce_err err = ce_buf_append_str(&b, "]}\n");
    char path[PATH_MAX] = "";
    if (!err)
        err = sync_state_path_fixed(path, sizeof path, cfg->state_dir, SYNC_STATE_STATUS, NULL, NULL);
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

/* One direction of the file into the registry: its last success, then its last failure
 * (with the sync's error text). */
static void health_direction(metrics *m, json_t *sync, metrics_direction d, json_t *dj, int64_t now_ms)
{
    const char *name = json_string_value(json_object_get(sync, "name"));
    double secs = json_number_value(json_object_get(dj, "seconds"));
    json_t *ls = json_object_get(dj, "last_success_ms");
    if (json_is_integer(ls))
        metrics_record_pass(m, name, d, NULL, secs, true, 0, (int64_t)json_integer_value(ls));
    if (!json_is_true(json_object_get(dj, "ok"))) {
        metrics_pass_counts c = {.error = json_string_value(json_object_get(sync, "error"))};
        metrics_record_pass(m, name, d, &c, secs, false, 0, now_ms);
    }
}

bool cli_status_health(json_t *status, int64_t now_ms, ce_buf *json)
{
    metrics *m = NULL;
    if (metrics_new(NULL, json_number_value(json_object_get(status, "period_s")), &m) != CE_OK) {
        metrics_free(m);
        return false;
    }
    json_t *arr = json_object_get(status, "syncs"), *s;
    size_t i;
    json_array_foreach(arr, i, s)
    {
        const char *name = json_string_value(json_object_get(s, "name"));
        if (!name)
            continue;
        metrics_sync_register(m, name, (int64_t)json_integer_value(json_object_get(s, "registered_ms")));
        json_t *progress = json_object_get(s, "progress_ms");
        json_t *dirs = json_object_get(s, "directions");
        for (int d = 0; d < 2; d++) {
            json_t *dj = json_object_get(dirs, dir_names[d]);
            if (json_is_object(dj))
                health_direction(m, s, (metrics_direction)d, dj, now_ms);
        }
        if (json_is_integer(progress)) /* after the directions: recording a pass clears it */
            metrics_note_progress(m, name, (int64_t)json_integer_value(progress));
    }
    bool ok = metrics_health(m, now_ms, json);
    metrics_free(m);
    return ok;
}

/* The "directions" object put_directions writes, as a JSON value (NULL: out of memory). */
static json_t *directions_json(metrics *m, const char *name)
{
    ce_buf b = CE_BUF_INIT;
    ce_err err = ce_buf_append_byte(&b, '{');
    put_directions(&b, m, name); /* ,"directions":{...} */
    err = err ? err : ce_buf_append_byte(&b, '}');
    json_t *j = NULL;
    if (!err && b.len > 2) {
        b.data[1] = ' '; /* the leading comma */
        json_error_t jerr;
        j = json_loadb(b.data, b.len, 0, &jerr);
    }
    ce_buf_free(&b);
    json_t *dirs = j ? json_incref(json_object_get(j, "directions")) : NULL;
    json_decref(j);
    return dirs;
}

ce_err cli_status_update_sync(const char *state_dir, const char *sync, int64_t progress_ms, metrics *m)
{
    char path[PATH_MAX];
    ce_err err = sync_state_path_fixed(path, sizeof path, state_dir, SYNC_STATE_STATUS, NULL, NULL);
    json_t *st = err ? NULL : cli_status_load(state_dir);
    if (!st)
        return err ? err : CE_ENOTFOUND;
    json_t *arr = json_object_get(st, "syncs"), *s;
    size_t i;
    json_array_foreach(arr, i, s)
    {
        const char *name = json_string_value(json_object_get(s, "name"));
        if (!name || (sync && strcmp(name, sync) != 0))
            continue;
        if (progress_ms > 0)
            json_object_set_new(s, "progress_ms", json_integer((json_int_t)progress_ms));
        json_t *dirs = m ? directions_json(m, name) : NULL;
        if (dirs) { /* a pass recorded: no progress of a running one any more */
            json_object_set_new(s, "directions", dirs);
            json_object_del(s, "progress_ms");
        }
    }
    char *text = json_dumps(st, JSON_COMPACT);
    json_decref(st);
    if (!text)
        return CE_ENOMEM;
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return CE_ENOMEM;
    }
    memcpy(line + n, "\n", 2);
    err = sync_state_write_atomic(path, line, n + 1, 0);
    free(line);
    return err;
}

ce_err cli_status_note_progress(const char *state_dir, const char *sync, int64_t progress_ms)
{
    return cli_status_update_sync(state_dir, sync, progress_ms, NULL);
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
