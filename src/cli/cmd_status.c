/*
 * cmd_status.c - `status` (checkpoints, lag, last pass counts, daemon liveness, health by the
 * rule of /healthz: exit 5 when failing) and `stop` (SIGTERM to the pidfile's process, wait
 * for it to exit).
 *
 * Both read only files in the state folder: the checkpoints, casselastic.pid and
 * casselastic.status.json (status_file.c). Neither connects to a server.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "sync/checkpoint.h"
#include "sync/state.h"
#include "util/buf.h"
#include "util/jsonw.h"

static const char *const dir_names[] = {"to_es", "to_cassandra"};

static bool direction_used(const sync_def *s, int d)
{
    if (s->direction == SYNC_DIR_BOTH)
        return true;
    return (d == 0) == (s->direction == SYNC_DIR_TO_ES);
}

static json_t *status_sync(json_t *status, const char *name)
{
    json_t *arr = json_object_get(status, "syncs");
    size_t i;
    json_t *s;
    json_array_foreach(arr, i, s)
    {
        if (json_is_string(json_object_get(s, "name")) && strcmp(json_string_value(json_object_get(s, "name")), name) == 0)
            return s;
    }
    return NULL;
}

/* Each sync's last verify (casselastic.verify.json), NULL when none was recorded. */
static json_t *verify_load(const char *state_dir)
{
    char path[1024];
    json_error_t je;
    if (sync_state_path_fixed(path, sizeof path, state_dir, SYNC_STATE_VERIFY_LAST, NULL, NULL))
        return NULL;
    json_t *v = json_load_file(path, 0, &je);
    if (!json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static void print_verify(json_t *verify, const char *name)
{
    json_t *v = json_object_get(verify, name);
    if (!v)
        return;
    char iso[32] = "?";
    sync_format_iso_ms((int64_t)json_integer_value(json_object_get(v, "finished_ms")), iso);
    const char *e = json_string_value(json_object_get(v, "error"));
    printf("  last verify: %s %s (%lld differences, %lld in flight)%s%s\n", iso,
           json_string_value(json_object_get(v, "result")), (long long)json_integer_value(json_object_get(v, "differences")),
           (long long)json_integer_value(json_object_get(v, "in_flight")), e && *e ? ": " : "", e && *e ? e : "");
}

static void print_text(const sync_config *cfg, bool running, long pid, json_t *status, int64_t now)
{
    json_t *verify = verify_load(cfg->state_dir);
    if (running)
        printf("daemon: running (pid %ld)\n", pid);
    else
        printf("daemon: not running\n");
    printf("state dir: %s\n", cfg->state_dir);
    const char *last = json_string_value(json_object_get(status, "last_result"));
    if (last && strcmp(last, "none") == 0) {
        const char *mode = json_string_value(json_object_get(status, "mode"));
        const char *started = json_string_value(json_object_get(status, "started"));
        printf("last pass: none yet (`%s` started %s)\n", mode ? mode : "?", started ? started : "?");
    } else if (status) {
        const char *when = json_string_value(json_object_get(status, "last_pass_finished"));
        const char *res = json_string_value(json_object_get(status, "last_result"));
        const char *mode = json_string_value(json_object_get(status, "mode"));
        const char *errm = json_string_value(json_object_get(status, "last_error"));
        printf("last pass: %s (%s, by `%s`, %lld ms)%s%s\n", when ? when : "?", res ? res : "?", mode ? mode : "?",
               (long long)json_integer_value(json_object_get(status, "last_pass_ms")), errm ? ": " : "",
               errm ? errm : "");
    } else {
        printf("last pass: none recorded\n");
    }
    for (size_t i = 0; i < cfg->nsyncs; i++) {
        const sync_def *s = &cfg->syncs[i];
        printf("sync %s:\n", s->name);
        for (int d = 0; d < 2; d++) {
            if (!direction_used(s, d))
                continue;
            sync_checkpoint cp;
            ce_err err = sync_checkpoint_load(cfg->state_dir, s->name, dir_names[d], &cp);
            if (err == CE_ENOTFOUND) {
                printf("  %-13s no checkpoint yet\n", dir_names[d]);
                continue;
            }
            if (err) {
                printf("  %-13s checkpoint unreadable: %s\n", dir_names[d], ce_strerror(err));
                continue;
            }
            char iso[32], lag[32];
            sync_format_iso_ms(cp.position_ms, iso);
            cli_format_duration(now - cp.position_ms, lag, sizeof lag);
            printf("  %-13s position %s  lag %s  last pass: read %llu, written %llu, conflicts %llu, skipped "
                   "%llu, rejected %llu\n",
                   dir_names[d], iso, lag, (unsigned long long)cp.last_read, (unsigned long long)cp.last_written,
                   (unsigned long long)cp.last_conflicts, (unsigned long long)cp.last_skipped,
                   (unsigned long long)cp.last_rejected);
            sync_checkpoint_clear(&cp);
        }
        json_t *ss = status_sync(status, s->name);
        if (ss && json_is_boolean(json_object_get(ss, "ok"))) {
            const char *e = json_string_value(json_object_get(ss, "error"));
            printf("  last result: %s%s%s\n", json_is_true(json_object_get(ss, "ok")) ? "ok" : "failed", e ? ": " : "",
                   e ? e : "");
        }
        if (ss && s->deleted_col) /* soft deletes: the last pass's counts (status.json) */
            printf("  soft deletes (%s), last pass: to_es %lld, to_cassandra %lld\n", s->deleted_col,
                   (long long)json_integer_value(json_object_get(json_object_get(ss, "to_es"), "deleted")),
                   (long long)json_integer_value(json_object_get(json_object_get(ss, "to_cassandra"), "deleted")));
        print_verify(verify, s->name);
    }
    json_decref(verify);
}

/* The health verdict (cli_status_health's JSON) as text. */
static void print_health(json_t *health)
{
    if (!health) {
        printf("health: unknown (no pass recorded in this state folder)\n");
        return;
    }
    json_t *failing = json_object_get(health, "failing"), *f;
    if (json_array_size(failing) == 0) {
        printf("health: ok\n");
        return;
    }
    printf("health: FAILING (exit %d)\n", CLI_EXIT_UNHEALTHY);
    size_t i;
    json_array_foreach(failing, i, f)
    {
        const char *dir = json_string_value(json_object_get(f, "direction"));
        const char *err = json_string_value(json_object_get(f, "last_error"));
        printf("  %s%s%s: %s%s%s\n", json_string_value(json_object_get(f, "sync")), dir ? " " : "", dir ? dir : "",
               json_string_value(json_object_get(f, "reason")), err ? "; last error: " : "", err ? err : "");
    }
}

static void print_json(const sync_config *cfg, bool running, long pid, json_t *status, json_t *health, int64_t now)
{
    ce_buf b = CE_BUF_INIT;
    ce_buf_printf(&b, "{\"daemon\":{\"running\":%s,\"pid\":", running ? "true" : "false");
    if (running)
        ce_buf_printf(&b, "%ld", pid);
    else
        jsonw_null(&b);
    ce_buf_append_str(&b, "},\"state_dir\":");
    jsonw_cstr(&b, cfg->state_dir);
    ce_buf_append_str(&b, ",\"last_pass\":");
    if (status) {
        char *s = json_dumps(status, JSON_COMPACT);
        ce_buf_append_str(&b, s ? s : "null");
        free(s);
    } else {
        jsonw_null(&b);
    }
    ce_buf_append_str(&b, ",\"health\":");
    char *hs = health ? json_dumps(health, JSON_COMPACT) : NULL;
    ce_buf_append_str(&b, hs ? hs : "null");
    free(hs);
    ce_buf_append_str(&b, ",\"syncs\":[");
    json_t *verify = verify_load(cfg->state_dir);
    for (size_t i = 0; i < cfg->nsyncs; i++) {
        const sync_def *s = &cfg->syncs[i];
        ce_buf_append_str(&b, i ? ",{\"name\":" : "{\"name\":");
        jsonw_cstr(&b, s->name);
        ce_buf_append_str(&b, ",\"directions\":{");
        bool first = true;
        for (int d = 0; d < 2; d++) {
            if (!direction_used(s, d))
                continue;
            ce_buf_printf(&b, "%s\"%s\":", first ? "" : ",", dir_names[d]);
            first = false;
            sync_checkpoint cp;
            ce_err err = sync_checkpoint_load(cfg->state_dir, s->name, dir_names[d], &cp);
            if (err) {
                ce_buf_printf(&b, "{\"checkpoint\":null,\"error\":%s}",
                              err == CE_ENOTFOUND ? "null" : "\"checkpoint unreadable\"");
                continue;
            }
            char iso[32];
            sync_format_iso_ms(cp.position_ms, iso);
            ce_buf_printf(&b,
                          "{\"checkpoint\":{\"position_ms\":%lld,\"position\":\"%s\",\"lag_ms\":%lld,"
                          "\"updated_ms\":%lld,\"last_read\":%llu,\"last_written\":%llu,\"last_conflicts\":%llu,"
                          "\"last_skipped\":%llu,\"last_rejected\":%llu},\"error\":null}",
                          (long long)cp.position_ms, iso, (long long)(now - cp.position_ms),
                          (long long)cp.updated_ms, (unsigned long long)cp.last_read,
                          (unsigned long long)cp.last_written, (unsigned long long)cp.last_conflicts,
                          (unsigned long long)cp.last_skipped, (unsigned long long)cp.last_rejected);
            sync_checkpoint_clear(&cp);
        }
        char *vs = json_dumps(json_object_get(verify, s->name), JSON_COMPACT);
        ce_buf_printf(&b, "},\"verify\":%s}", vs ? vs : "null");
        free(vs);
    }
    json_decref(verify);
    ce_buf_append_str(&b, "]}\n");
    fwrite(b.data, 1, b.len, stdout);
    ce_buf_free(&b);
}

/* The rule of /healthz applied to the status file (NULL when there is none: nothing has run
 * in this state folder, nothing to judge). Caller decrefs. */
static json_t *status_health(json_t *status, int64_t now)
{
    if (!status)
        return NULL;
    ce_buf b = CE_BUF_INIT;
    cli_status_health(status, now, &b);
    json_error_t e;
    json_t *h = json_loadb((const char *)b.data, b.len, 0, &e);
    ce_buf_free(&b);
    if (!h) /* cannot happen short of memory: judge it failing rather than hide it */
        h = json_pack("{s:s,s:[{s:s,s:n,s:s,s:n}]}", "status", "failing", "failing", "sync", "?", "direction",
                      "reason", "health could not be computed", "last_error");
    return h;
}

int cli_cmd_status(const cli_opts *o)
{
    sync_config cfg;
    int rc = cli_config_load(o, &cfg, true, NULL);
    if (rc != CLI_EXIT_OK)
        return rc;
    long pid = 0;
    bool running = cli_daemon_running(cfg.state_dir, &pid);
    json_t *status = cli_status_load(cfg.state_dir);
    int64_t now = cli_now_ms();
    json_t *health = status_health(status, now);
    bool healthy = !health || json_array_size(json_object_get(health, "failing")) == 0;
    if (o->json) {
        print_json(&cfg, running, pid, status, health, now);
    } else {
        print_text(&cfg, running, pid, status, now);
        print_health(health);
    }
    json_decref(health);
    json_decref(status);
    sync_config_free(&cfg);
    return healthy ? CLI_EXIT_OK : CLI_EXIT_UNHEALTHY;
}

int cli_cmd_stop(const cli_opts *o)
{
    sync_config cfg;
    int rc = cli_config_load(o, &cfg, true, NULL);
    if (rc != CLI_EXIT_OK)
        return rc;
    long pid = 0;
    if (!cli_daemon_running(cfg.state_dir, &pid) || pid <= 0) {
        printf("casselastic: no daemon running (state folder %s)\n", cfg.state_dir);
        sync_config_free(&cfg);
        return CLI_EXIT_NOT_RUNNING;
    }
    if (kill((pid_t)pid, SIGTERM) != 0) {
        if (errno == ESRCH) {
            printf("casselastic: no daemon running (pid %ld is gone)\n", pid);
            sync_config_free(&cfg);
            return CLI_EXIT_NOT_RUNNING;
        }
        fprintf(stderr, "casselastic: cannot signal pid %ld: %s\n", pid, strerror(errno));
        sync_config_free(&cfg);
        return CLI_EXIT_FAILED;
    }
    printf("casselastic: sent SIGTERM to pid %ld; waiting for it to finish the requests in flight\n", pid);
    fflush(stdout);
    int64_t start = cli_mono_ms(), last_note = start;
    rc = CLI_EXIT_FAILED;
    for (;;) {
        long p2 = 0;
        bool alive = cli_daemon_running(cfg.state_dir, &p2) && p2 == pid;
        if (!alive || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
            printf("casselastic: stopped (pid %ld) after %.1f s\n", pid, (double)(cli_mono_ms() - start) / 1000.0);
            rc = CLI_EXIT_OK;
            break;
        }
        int64_t now = cli_mono_ms();
        if (now - start >= (int64_t)o->timeout_s * 1000) {
            fprintf(stderr, "casselastic: pid %ld still running after %d s; giving up (send SIGTERM again or SIGKILL)\n",
                    pid, o->timeout_s);
            break;
        }
        if (now - last_note >= 5000) {
            printf("casselastic: still waiting for pid %ld (%lld s)\n", pid, (long long)((now - start) / 1000));
            fflush(stdout);
            last_note = now;
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    sync_config_free(&cfg);
    return rc;
}
