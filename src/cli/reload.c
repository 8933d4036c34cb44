/*
 * reload.c - what a config reload (SIGHUP to `run`) changes: the running config and the new
 * one compared key by key, driven by the key table (config_keys.c), so a new key is
 * compared without a line here. cmd_run.c applies the plan between passes.
 *
 * Key groups: what the engine reads when it is made (cassandra.*, elasticsearch.*,
 * dead_letter_path, memory_limit_mb: engine_keys below; a change means a new engine),
 * logging (log_file, log_level, log_format), keys a reload cannot change (state_dir: the
 * pidfile is held there; metrics_listen: the server keeps its socket), and the keys of each
 * sync (syncs[]..., matched by name: added, removed, changed).
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>

#include "util/log.h"

static const void *key_addr(const sync_config *c, size_t sync_i, const cli_config_key *k)
{
    const char *base = (k->flags & CFG_F_IN_SYNC) ? (const char *)&c->syncs[sync_i] : (const char *)c;
    return base + k->offset;
}

static bool str_equal(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

/* Has key k the same value in a (sync ia) and b (sync ib)? Keys without a field: yes. */
static bool key_equal(const sync_config *a, size_t ia, const sync_config *b, size_t ib, const cli_config_key *k)
{
    if (k->size == 0)
        return true;
    const void *pa = key_addr(a, ia, k), *pb = key_addr(b, ib, k);
    switch (k->type) {
    case CFG_T_STRING:
    case CFG_T_PATH:
    case CFG_T_SECRET:
    case CFG_T_KEYCOLS: return str_equal(*(char *const *)pa, *(char *const *)pb);
    case CFG_T_ENUM:
        if (k->flags & CFG_F_ENUM_STRING)
            return str_equal(*(char *const *)pa, *(char *const *)pb);
        return memcmp(pa, pb, k->size) == 0;
    case CFG_T_HOSTS: {
        char *const *va = *(char **const *)pa, *const *vb = *(char **const *)pb;
        size_t na = *(const size_t *)((const char *)pa + sizeof(char **));
        size_t nb = *(const size_t *)((const char *)pb + sizeof(char **));
        bool same = na == nb;
        for (size_t i = 0; same && i < na; i++)
            same = str_equal(va[i], vb[i]);
        return same;
    }
    default: return memcmp(pa, pb, k->size) == 0;
    }
}

static bool has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* The top-level keys sync_engine_new reads (engine.c: the connections, the dead-letter file,
 * the memory budget and the answer limits it sets the clients): a change takes a new engine.
 * An entry ending in '.' is a prefix. */
static const char *const engine_keys[] = {"cassandra.", "elasticsearch.", "dead_letter_path", "memory_limit_mb"};

static bool engine_key(const char *path)
{
    for (size_t i = 0; i < sizeof engine_keys / sizeof engine_keys[0]; i++) {
        size_t n = strlen(engine_keys[i]);
        if (engine_keys[i][n - 1] == '.' ? has_prefix(path, engine_keys[i]) : strcmp(path, engine_keys[i]) == 0)
            return true;
    }
    return false;
}

/* The top-level keys: connection, logging, the keys a reload refuses to change. */
static void plan_top_level(const sync_config *old, const sync_config *nw, bool listen_from_flag,
                           cli_reload_plan *plan)
{
    size_t n;
    const cli_config_key *keys = cli_config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const cli_config_key *k = &keys[i];
        if ((k->flags & CFG_F_IN_SYNC) || key_equal(old, 0, nw, 0, k))
            continue;
        const char *p = k->path;
        if (engine_key(p))
            plan->connection_changed = true;
        else if (has_prefix(p, "log_"))
            plan->logging_changed = true;
        else if ((strcmp(p, "state_dir") == 0 || (strcmp(p, "metrics_listen") == 0 && !listen_from_flag)) &&
                 !plan->refused[0])
            snprintf(plan->refused, sizeof plan->refused, "%s cannot change without a restart", p);
    }
}

static size_t sync_index(const sync_config *c, const char *name)
{
    for (size_t i = 0; i < c->nsyncs; i++)
        if (strcmp(c->syncs[i].name, name) == 0)
            return i;
    return (size_t)-1;
}

/* The first key of the sync that differs (NULL: none). */
static const char *sync_changed_key(const sync_config *old, size_t io, const sync_config *nw, size_t in)
{
    size_t n;
    const cli_config_key *keys = cli_config_keys(&n);
    for (size_t i = 0; i < n; i++)
        if ((keys[i].flags & CFG_F_IN_SYNC) && !(keys[i].flags & CFG_F_LEGACY) &&
            !key_equal(old, io, nw, in, &keys[i]))
            return keys[i].path;
    return NULL;
}

bool cli_reload_sync_touched(const sync_config *old, const sync_config *nw, const char *name)
{
    size_t io = sync_index(old, name), in = sync_index(nw, name);
    if (io == (size_t)-1)
        return false; /* not running */
    return in == (size_t)-1 || sync_changed_key(old, io, nw, in) != NULL;
}

void cli_reload_plan_make(const sync_config *old, const sync_config *nw, bool listen_from_flag, cli_reload_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    plan_top_level(old, nw, listen_from_flag, plan);
    if (plan->refused[0])
        return;
    char q[CE_LOG_QUOTE_MAX];
    for (size_t i = 0; i < nw->nsyncs; i++) {
        size_t io = sync_index(old, nw->syncs[i].name);
        ce_log_quote(q, sizeof q, nw->syncs[i].name);
        if (io == (size_t)-1) {
            plan->nadded++;
            ce_info("sync=%s msg=\"reload: sync added\"", q);
            continue;
        }
        const char *key = sync_changed_key(old, io, nw, i);
        if (key) {
            plan->nchanged++;
            ce_info("sync=%s msg=\"reload: sync changed\" first_key=%s", q, key);
        }
    }
    for (size_t i = 0; i < old->nsyncs; i++)
        if (sync_index(nw, old->syncs[i].name) == (size_t)-1) {
            plan->nremoved++;
            ce_info("sync=%s msg=\"reload: sync removed\"", ce_log_quote(q, sizeof q, old->syncs[i].name));
        }
}
