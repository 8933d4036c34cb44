/*
 * config_load.c - the key table (config_keys.c) applied to the config's JSON: every default
 * from the table first, then each key of the file checked against its row (type, bounds,
 * enum values, aliases, secrets from the environment) and stored; unknown keys get a "did
 * you mean". The text format is config_jsonc.c's, the checks across keys config_check.c's.
 * Only cli_config_load_file touches the file system.
 */
#include "cli/config_int.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef cfg_loader loader;

void *cfg_field_addr(loader *L, const cli_config_key *k, size_t sync_i)
{
    if (k->size == 0)
        return NULL;
    char *base = (k->flags & CFG_F_IN_SYNC) ? (char *)&L->cfg->syncs[sync_i] : (char *)L->cfg;
    return base + k->offset;
}

static cfg_set_record *set_find(const loader *L, const void *addr)
{
    for (size_t i = 0; i < L->nset; i++)
        if (L->set[i].addr == addr)
            return &L->set[i];
    return NULL;
}

bool cfg_was_set(const loader *L, const void *addr) { return addr && set_find(L, addr) != NULL; }

/* Record that `disp` set the field at addr. False (with an error) when another key
 * already set it to something else (a legacy alias and its key, a secret and its _env). */
static bool set_mark(loader *L, void *addr, const char *disp, const char *new_text)
{
    cfg_set_record *r = set_find(L, addr);
    if (r) {
        const char *old = *(char **)addr;
        if (new_text && old && strcmp(old, new_text) == 0)
            return false; /* same value twice: nothing to do */
        cfg_err(L, disp, "conflicts with %s (set only one of them)", r->path);
        return false;
    }
    if (L->nset == L->capset) {
        size_t cap = L->capset ? L->capset * 2 : 32;
        cfg_set_record *v = realloc(L->set, cap * sizeof *v);
        if (!v) {
            L->oom = true;
            return false;
        }
        L->set = v;
        L->capset = cap;
    }
    L->set[L->nset].addr = addr;
    L->set[L->nset].path = strdup(disp);
    L->nset++;
    return true;
}

static void store_string(loader *L, char **field, const char *s)
{
    char *d = strdup(s);
    if (!d) {
        L->oom = true;
        return;
    }
    free(*field);
    *field = d;
}

static void store_int(void *addr, size_t size, int64_t v)
{
    if (size == sizeof(int64_t))
        *(int64_t *)addr = v;
    else
        *(int *)addr = (int)v;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static bool is_abs(const char *p) { return p[0] == '/'; }

char *cfg_resolve_path(const char *base, const char *p)
{
    if (is_abs(p) || !base)
        return strdup(p);
    if (p[0] == '.' && p[1] == '/')
        p += 2;
    return cfg_strf("%s/%s", base, p);
}

/* Optimal string alignment distance (typo = one edit, swapped letters too). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t m = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < m)
                m = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < m)
                m = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < m)
                m = d[i - 2][j - 2] + 1;
            d[i][j] = m;
        }
    return d[la][lb];
}

static const char *last_component(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

static bool parent_is(const char *path, const char *parent)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        return parent[0] == '\0';
    size_t n = (size_t)(dot - path);
    return strlen(parent) == n && strncmp(path, parent, n) == 0;
}

static bool in_syncs(const char *path) { return strncmp(path, "syncs[]", 7) == 0; }

static void report_unknown(loader *L, const char *schema_parent, const char *key, const char *disp)
{
    size_t n;
    const cli_config_key *keys = cli_config_keys(&n);
    size_t limit = strlen(key) / 3;
    if (limit < 2)
        limit = 2;
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (!parent_is(keys[i].path, schema_parent) || (keys[i].flags & CFG_F_LEGACY))
            continue;
        size_t d = edit_distance(key, last_component(keys[i].path));
        if (d < best_d) {
            best_d = d;
            best = last_component(keys[i].path);
        }
    }
    if (best && best_d <= limit) {
        cfg_err(L, disp, "unknown key (did you mean \"%s\"?)", best);
        return;
    }
    /* A known key in the wrong object: name where it belongs. */
    for (size_t i = 0; i < n; i++) {
        if ((keys[i].flags & CFG_F_LEGACY) || in_syncs(keys[i].path) != in_syncs(schema_parent) ||
            strcmp(last_component(keys[i].path), key) != 0)
            continue;
        const char *where = keys[i].path;
        if (in_syncs(where))
            where += strlen("syncs[].");
        cfg_err(L, disp, "unknown key here (did you mean \"%s\"?)", where);
        return;
    }
    cfg_err(L, disp, "unknown key");
}

/* ------------------------------------------------------------------ values */

static bool enum_lookup(const cli_config_key *k, const char *s, const cfg_enum_value **out)
{
    for (const cfg_enum_value *e = k->enum_values; e->name; e++)
        if (strcasecmp(e->name, s) == 0) {
            *out = e;
            return true;
        }
    return false;
}

static void enum_error(loader *L, const cli_config_key *k, const char *disp, const char *s)
{
    ce_buf b = CE_BUF_INIT;
    const char *close = NULL;
    size_t close_d = 3;
    for (const cfg_enum_value *e = k->enum_values; e->name; e++) {
        ce_buf_printf(&b, "%s%s", e == k->enum_values ? "" : ", ", e->name);
        size_t d = edit_distance(s, e->name);
        if (d < close_d) {
            close_d = d;
            close = e->name;
        }
    }
    if (close)
        cfg_err(L, disp, "bad value \"%s\" (did you mean \"%s\"? expected one of: %s)", s, close, ce_buf_cstr(&b));
    else
        cfg_err(L, disp, "bad value \"%s\" (expected one of: %s)", s, ce_buf_cstr(&b));
    ce_buf_free(&b);
}

static char *trim_dup(const char *s, size_t n)
{
    while (n > 0 && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* "a, b" or ["a","b"] -> "a,b"; NULL (with an error) when malformed. */
static char *keycols_parse(loader *L, const json_t *v, const char *disp)
{
    ce_buf out = CE_BUF_INIT;
    size_t ncols = 0;
    bool bad = false;
    const char *parts[64];
    size_t nparts = 0;
    if (json_is_string(v)) {
        parts[nparts++] = json_string_value(v);
    } else if (json_is_array(v) && json_array_size(v) > 0 && json_array_size(v) <= 64) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (!json_is_string(e)) {
                cfg_err(L, disp, "expected a list of column names, item %zu is %s", i, cfg_json_type_name(e));
                return NULL;
            }
            parts[nparts++] = json_string_value(e);
        }
    } else {
        cfg_err(L, disp, "expected a column name or a list of column names, got %s", cfg_json_type_name(v));
        return NULL;
    }
    for (size_t p = 0; p < nparts && !bad; p++) {
        const char *s = parts[p];
        for (;;) {
            const char *comma = strchr(s, ',');
            size_t len = comma ? (size_t)(comma - s) : strlen(s);
            char *col = trim_dup(s, len);
            if (!col) {
                L->oom = true;
                bad = true;
                break;
            }
            if (!*col)
                bad = true;
            else
                ce_buf_printf(&out, "%s%s", ncols++ ? "," : "", col);
            free(col);
            if (!comma)
                break;
            s = comma + 1;
        }
    }
    if (bad || ncols == 0) {
        if (!L->oom)
            cfg_err(L, disp, "empty column name");
        ce_buf_free(&out);
        return NULL;
    }
    return ce_buf_steal(&out, NULL);
}

static void apply_hosts(loader *L, const cli_config_key *k, void *addr, const json_t *v, const char *disp)
{
    size_t n = json_is_string(v) ? 1 : json_is_array(v) ? json_array_size(v) : 0;
    if (!json_is_string(v) && !json_is_array(v)) {
        cfg_err(L, disp, "expected a list of hosts or one host, got %s", cfg_json_type_name(v));
        return;
    }
    if (n == 0) {
        cfg_err(L, disp, "at least one host is needed");
        return;
    }
    char **hv = calloc(n, sizeof *hv);
    if (!hv) {
        L->oom = true;
        return;
    }
    bool bad = false;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_is_string(v) ? v : json_array_get(v, i);
        if (!json_is_string(e)) {
            cfg_err(L, disp, "item %zu: expected a host string, got %s", i, cfg_json_type_name(e));
            bad = true;
            break;
        }
        hv[i] = trim_dup(json_string_value(e), json_string_length(e));
        if (!hv[i] || !hv[i][0]) {
            cfg_err(L, disp, "item %zu: empty host", i);
            bad = true;
            break;
        }
    }
    if (bad) {
        strv_free(hv, n);
        return;
    }
    (void)k;
    char ***field = (char ***)addr;
    size_t *count = (size_t *)((char *)addr + sizeof(char **));
    strv_free(*field, *count);
    *field = hv;
    *count = n;
}

static void apply_string(loader *L, const cli_config_key *k, void *addr, const json_t *v, const char *disp)
{
    if (!json_is_string(v)) {
        cfg_err(L, disp, "expected a string, got %s", cfg_json_type_name(v));
        return;
    }
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v)) {
        cfg_err(L, disp, "NUL character inside the string");
        return;
    }
    if (k->type == CFG_T_PATH && !*s) {
        cfg_err(L, disp, "empty path");
        return;
    }
    char *val = k->type == CFG_T_PATH ? cfg_resolve_path(L->base_dir, s) : strdup(s);
    if (!val) {
        L->oom = true;
        return;
    }
    if (set_mark(L, addr, disp, val))
        store_string(L, (char **)addr, val);
    free(val);
}

/* A *_env key: the secret it names is read from the environment into its target key. */
static void apply_env(loader *L, const cli_config_key *k, const json_t *v, const char *disp, size_t sync_i)
{
    if (!json_is_string(v) || !json_string_value(v)[0]) {
        cfg_err(L, disp, "expected the name of an environment variable, got %s",
                json_is_string(v) ? "\"\"" : cfg_json_type_name(v));
        return;
    }
    const char *name = json_string_value(v);
    const char *val = getenv(name);
    if (!val) {
        cfg_err(L, disp, "environment variable %s is not set", name);
        return;
    }
    const cli_config_key *target = cli_config_key_find(k->secret_of);
    void *taddr = cfg_field_addr(L, target, sync_i);
    if (set_mark(L, taddr, disp, val))
        store_string(L, (char **)taddr, val);
}

/* "90s", "30m", "24h", "7d" (a number and one unit) -> seconds. Refuses NaN and infinity
 * (strtod reads "nan" and "inf"), which no bounds check would catch. */
static bool parse_duration(const char *s, double *out)
{
    char *end;
    double d = strtod(s, &end);
    if (end == s || !(d >= 0) || d > 1e300)
        return false;
    static const struct {
        char unit;
        double seconds;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (end[0] == units[i].unit && end[1] == 0) {
            *out = d * units[i].seconds;
            return true;
        }
    return false;
}

static void apply_number(loader *L, const cli_config_key *k, void *addr, const json_t *v, const char *disp)
{
    double d;
    if (json_is_integer(v)) {
        d = (double)json_integer_value(v);
    } else if (json_is_real(v) && k->type == CFG_T_SECONDS) {
        d = json_real_value(v);
    } else if (json_is_string(v) && k->type == CFG_T_SECONDS && parse_duration(json_string_value(v), &d)) {
        /* a duration: seconds already */
    } else if (json_is_string(v) && k->type == CFG_T_SECONDS) {
        cfg_err(L, disp, "expected a number, got a string that is not a duration (\"%s\"; a number and one of "
                "s, m, h, d, such as \"24h\")", json_string_value(v));
        return;
    } else {
        cfg_err(L, disp, "expected %s, got %s", k->type == CFG_T_SECONDS ? "a number" : "an integer",
                cfg_json_type_name(v));
        return;
    }
    if ((k->min || k->max) && (d < (double)k->min || d > (double)k->max)) {
        if (json_is_integer(v))
            cfg_err(L, disp, "must be between %lld and %lld (got %lld)", (long long)k->min, (long long)k->max,
                    (long long)json_integer_value(v));
        else
            cfg_err(L, disp, "must be between %lld and %lld (got %g)", (long long)k->min, (long long)k->max, d);
        return;
    }
    set_mark(L, addr, disp, NULL);
    if (k->type == CFG_T_SECONDS)
        *(double *)addr = d;
    else
        store_int(addr, k->size, json_integer_value(v));
}

static void apply_enum(loader *L, const cli_config_key *k, void *addr, const json_t *v, const char *disp)
{
    if (!json_is_string(v)) {
        cfg_err(L, disp, "expected a string, got %s", cfg_json_type_name(v));
        return;
    }
    const cfg_enum_value *e;
    if (!enum_lookup(k, json_string_value(v), &e)) {
        enum_error(L, k, disp, json_string_value(v));
        return;
    }
    if (k->flags & CFG_F_ENUM_STRING) {
        if (set_mark(L, addr, disp, e->name))
            store_string(L, (char **)addr, e->name);
    } else {
        set_mark(L, addr, disp, NULL);
        store_int(addr, k->size, e->value);
    }
}

static void apply_keycols(loader *L, void *addr, const json_t *v, const char *disp)
{
    char *cols = keycols_parse(L, v, disp);
    if (!cols)
        return;
    if (set_mark(L, addr, disp, cols)) {
        free(*(char **)addr);
        *(char **)addr = cols;
    } else {
        free(cols);
    }
}

/* One key's value from the file, checked against its row and stored. */
static void apply_value(loader *L, const cli_config_key *k, const json_t *v, const char *disp, size_t sync_i)
{
    void *addr = cfg_field_addr(L, k, sync_i);
    if ((k->flags & CFG_F_LEGACY) && !k->alias_of) {
        cfg_warn(L, disp, "ignored by casselastic (%s)", k->help);
        return;
    }
    switch (k->type) {
    case CFG_T_STRING:
    case CFG_T_SECRET:
    case CFG_T_PATH: apply_string(L, k, addr, v, disp); return;
    case CFG_T_ENV: apply_env(L, k, v, disp, sync_i); return;
    case CFG_T_BOOL:
        if (!json_is_boolean(v)) {
            cfg_err(L, disp, "expected true or false, got %s", cfg_json_type_name(v));
            return;
        }
        set_mark(L, addr, disp, NULL);
        *(bool *)addr = json_is_true(v) ^ ((k->flags & CFG_F_INVERT) != 0);
        return;
    case CFG_T_INT:
    case CFG_T_INT64:
    case CFG_T_SECONDS: apply_number(L, k, addr, v, disp); return;
    case CFG_T_ENUM: apply_enum(L, k, addr, v, disp); return;
    case CFG_T_HOSTS:
        set_mark(L, addr, disp, NULL);
        apply_hosts(L, k, addr, v, disp);
        return;
    case CFG_T_KEYCOLS: apply_keycols(L, addr, v, disp); return;
    case CFG_T_OBJECT:
    case CFG_T_SYNCS: break;
    }
}

/* ------------------------------------------------------------------ defaults */

static void apply_defaults(loader *L, bool in_sync, size_t sync_i)
{
    size_t n;
    const cli_config_key *keys = cli_config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const cli_config_key *k = &keys[i];
        if (!k->def || k->size == 0 || ((k->flags & CFG_F_IN_SYNC) != 0) != in_sync)
            continue;
        void *addr = cfg_field_addr(L, k, sync_i);
        switch (k->type) {
        case CFG_T_BOOL:
            *(bool *)addr = (strcmp(k->def, "true") == 0) ^ ((k->flags & CFG_F_INVERT) != 0);
            break;
        case CFG_T_INT:
        case CFG_T_INT64:
            store_int(addr, k->size, strtoll(k->def, NULL, 10));
            break;
        case CFG_T_SECONDS:
            *(double *)addr = strtod(k->def, NULL);
            break;
        case CFG_T_ENUM: {
            const cfg_enum_value *e = NULL;
            bool found = enum_lookup(k, k->def, &e);
            assert(found);
            (void)found;
            if (k->flags & CFG_F_ENUM_STRING)
                store_string(L, (char **)addr, e->name);
            else
                store_int(addr, k->size, e->value);
            break;
        }
        default:
            store_string(L, (char **)addr, k->def);
            break;
        }
    }
}

/* ------------------------------------------------------------------ walking */

static void walk_object(loader *L, const json_t *obj, const char *schema, const char *disp, size_t sync_i);

static char *join_path(const char *parent, const char *key)
{
    return parent[0] ? cfg_strf("%s.%s", parent, key) : strdup(key);
}

static void walk_syncs(loader *L, const json_t *v, const char *disp)
{
    if (!json_is_array(v)) {
        cfg_err(L, disp, "expected a list of syncs, got %s", cfg_json_type_name(v));
        return;
    }
    size_t n = json_array_size(v);
    if (n == 0) {
        cfg_err(L, disp, "at least one sync is needed");
        return;
    }
    L->cfg->syncs = calloc(n, sizeof *L->cfg->syncs);
    if (!L->cfg->syncs) {
        L->oom = true;
        return;
    }
    L->cfg->nsyncs = n;
    for (size_t i = 0; i < n; i++) {
        apply_defaults(L, true, i);
        char *d = cfg_strf("%s[%zu]", disp, i);
        if (!d) {
            L->oom = true;
            return;
        }
        const json_t *e = json_array_get(v, i);
        if (!json_is_object(e))
            cfg_err(L, d, "expected an object, got %s", cfg_json_type_name(e));
        else
            walk_object(L, e, "syncs[]", d, i);
        free(d);
    }
}

static void walk_key(loader *L, const cli_config_key *k, const json_t *v, const char *schema, const char *disp,
                     size_t sync_i)
{
    if (k->type == CFG_T_OBJECT) {
        if (json_is_object(v)) {
            walk_object(L, v, schema, disp, sync_i);
        } else if ((k->flags & CFG_F_BOOL_OBJECT) && json_is_boolean(v)) {
            char *child = cfg_strf("%s.enabled", schema);
            const cli_config_key *ek = child ? cli_config_key_find(child) : NULL;
            free(child);
            if (ek)
                apply_value(L, ek, v, disp, sync_i);
        } else {
            cfg_err(L, disp, "expected an object%s, got %s", (k->flags & CFG_F_BOOL_OBJECT) ? " or true/false" : "",
                 cfg_json_type_name(v));
        }
    } else if (k->type == CFG_T_SYNCS) {
        walk_syncs(L, v, disp);
    } else {
        apply_value(L, k, v, disp, sync_i);
    }
}

static void walk_object(loader *L, const json_t *obj, const char *schema, const char *disp, size_t sync_i)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        char *cs = join_path(schema, key), *cd = join_path(disp, key);
        if (!cs || !cd) {
            L->oom = true;
        } else {
            const cli_config_key *k = cli_config_key_find(cs);
            if (!k)
                report_unknown(L, schema, key, cd);
            else
                walk_key(L, k, v, cs, cd, sync_i);
        }
        free(cs);
        free(cd);
    }
    /* Required keys of this object, checked after every key (aliases included) was seen. */
    size_t n;
    const cli_config_key *keys = cli_config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const cli_config_key *k = &keys[i];
        if (!(k->flags & CFG_F_REQUIRED) || !parent_is(k->path, schema))
            continue;
        const char *name = last_component(k->path);
        bool present = k->size ? set_find(L, cfg_field_addr(L, k, sync_i)) != NULL : json_object_get(obj, name) != NULL;
        if (present)
            continue;
        char *cd = join_path(disp, name);
        if (k->type == CFG_T_SYNCS || k->type == CFG_T_OBJECT || !json_object_get(obj, name))
            cfg_err(L, cd ? cd : name, "missing required key");
        free(cd);
    }
}


static ce_err load_text(const char *text, size_t len, const char *base_dir, const char *state_dir_override,
                        sync_config *out, cli_config_problems *probs)
{
    memset(out, 0, sizeof *out);
    bool oom = false;
    json_t *root = cfg_jsonc_parse(text, len, probs, &oom);
    if (!root)
        return oom ? CE_ENOMEM : CE_ECONFIG;
    size_t errors_before = probs->nerrors;
    loader L = {.cfg = out, .probs = probs, .base_dir = base_dir};
    apply_defaults(&L, false, 0);
    walk_object(&L, root, "", "", 0);
    json_decref(root);
    cfg_check_all(&L, state_dir_override);
    for (size_t i = 0; i < L.nset; i++)
        free(L.set[i].path);
    free(L.set);
    if (L.oom || probs->nerrors > errors_before) {
        sync_config_free(out);
        return L.oom ? CE_ENOMEM : CE_ECONFIG;
    }
    return CE_OK;
}

ce_err cli_config_load_text(const char *text, size_t len, const char *base_dir, sync_config *out,
                            cli_config_problems *probs)
{
    if (!text || !out || !probs)
        return CE_EINVAL;
    return load_text(text, len, base_dir, NULL, out, probs);
}

#define CONFIG_MAX_BYTES (16u << 20)

ce_err cli_config_load_file(const char *path, const char *state_dir_override, sync_config *out,
                            cli_config_problems *probs)
{
    if (!path || !out || !probs)
        return CE_EINVAL;
    memset(out, 0, sizeof *out);
    char *abs = realpath(path, NULL);
    FILE *f = abs ? fopen(abs, "rb") : NULL;
    if (!f) {
        int e = errno;
        cfg_problem_add(probs, false, NULL, 0, 0, cfg_strf("cannot read %s: %s", path, strerror(e)));
        free(abs);
        return e == ENOENT ? CE_ENOTFOUND : CE_EIO;
    }
    ce_buf b = CE_BUF_INIT;
    ce_buf_init(&b, CONFIG_MAX_BYTES);
    char chunk[8192];
    size_t n;
    ce_err err = CE_OK;
    while (!err && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        err = ce_buf_append(&b, chunk, n);
    bool rerr = ferror(f);
    fclose(f);
    if (err || rerr) {
        cfg_problem_add(probs, false, NULL, 0, 0,
                    cfg_strf("cannot read %s: %s", path, err == CE_ELIMIT ? "larger than 16 MiB" : "read error"));
        ce_buf_free(&b);
        free(abs);
        return err ? err : CE_EIO;
    }
    char *dir = strdup(abs);
    char *override = NULL;
    if (!dir) {
        ce_buf_free(&b);
        free(abs);
        return CE_ENOMEM;
    }
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    if (state_dir_override) {
        char cwd[PATH_MAX];
        if (is_abs(state_dir_override) || !getcwd(cwd, sizeof cwd))
            override = strdup(state_dir_override);
        else
            override = cfg_resolve_path(cwd, state_dir_override);
    }
    err = load_text(b.data ? b.data : "", b.len, dir, override, out, probs);
    if (!err) {
        out->config_path = abs;
        abs = NULL;
    }
    free(override);
    free(dir);
    free(abs);
    ce_buf_free(&b);
    return err;
}
