/*
 * config_load.c - JSON text -> validated sync_config, driven by the key table of
 * config_keys.c (see config_load.h).
 *
 * Steps: strip '#' comments (positions kept), parse with jansson (duplicate keys
 * refused), apply the table's defaults, walk the JSON object by object checking every
 * key against the table (unknown keys get a "did you mean"), then cross-key checks
 * (host:port, keyspace.table, duplicate names, secrets from the environment, computed
 * paths). Problems are collected, never printed: the CLI prints them.
 */
#include "cli/config_load.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_SYNC_NAME 100

typedef struct {
    void *addr;
    char *path;       /* display path that set it */
} set_record;

typedef struct {
    sync_config *cfg;
    cli_config_problems *probs;
    const char *base_dir;
    set_record *set;
    size_t nset, capset;
    bool oom;
} loader;

/* ------------------------------------------------------------------ problems */

static char *vstrf(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

static char *strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *strf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vstrf(fmt, ap);
    va_end(ap);
    return s;
}

static void problem_add(cli_config_problems *p, bool warning, const char *path, int line, int col,
                        char *message /* owned */)
{
    if (!message)
        return;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        cli_config_problem *v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            free(message);
            return;
        }
        p->v = v;
        p->cap = cap;
    }
    cli_config_problem *e = &p->v[p->n++];
    e->warning = warning;
    e->path = path ? strdup(path) : NULL;
    e->line = line;
    e->column = col;
    e->message = message;
    if (warning)
        p->nwarnings++;
    else
        p->nerrors++;
}

static void perr(loader *L, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void perr(loader *L, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    problem_add(L->probs, false, path, 0, 0, vstrf(fmt, ap));
    va_end(ap);
}

static void pwarn(loader *L, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pwarn(loader *L, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    problem_add(L->probs, true, path, 0, 0, vstrf(fmt, ap));
    va_end(ap);
}

void cli_config_problems_free(cli_config_problems *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].path);
        free(p->v[i].message);
    }
    free(p->v);
    memset(p, 0, sizeof *p);
}

ce_err cli_config_problem_format(const cli_config_problem *p, ce_buf *out)
{
    if (p->line > 0)
        return ce_buf_printf(out, "line %d, column %d: %s", p->line, p->column, p->message);
    if (p->path)
        return ce_buf_printf(out, "%s: %s", p->path, p->message);
    return ce_buf_append_str(out, p->message);
}

/* ------------------------------------------------------------------ comments */

void cli_jsonc_strip(char *text, size_t len, char *unclosed, size_t cap)
{
    char stack[64];
    size_t depth = 0;
    bool overflow = false, in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\' && i + 1 < len)
                i++;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '#') {
            while (i < len && text[i] != '\n' && text[i] != '\r')
                text[i++] = ' ';
            i--; /* the loop's i++ moves to the newline (or the end) */
        } else if (c == '{' || c == '[') {
            if (depth < sizeof stack)
                stack[depth] = c == '{' ? '}' : ']';
            else
                overflow = true;
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth > 0)
                depth--;
        }
    }
    if (!unclosed || cap == 0)
        return;
    unclosed[0] = '\0';
    if (in_string || overflow || depth >= cap)
        return;
    size_t k = 0;
    while (depth > 0)
        unclosed[k++] = stack[--depth];
    unclosed[k] = '\0';
}

/* ------------------------------------------------------------------ helpers */

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

static void *field_addr(loader *L, const cli_config_key *k, size_t sync_i)
{
    if (k->size == 0)
        return NULL;
    char *base = (k->flags & CFG_F_IN_SYNC) ? (char *)&L->cfg->syncs[sync_i] : (char *)L->cfg;
    return base + k->offset;
}

static set_record *set_find(loader *L, void *addr)
{
    for (size_t i = 0; i < L->nset; i++)
        if (L->set[i].addr == addr)
            return &L->set[i];
    return NULL;
}

/* Record that `disp` set the field at addr. False (with an error) when another key
 * already set it to something else (a legacy alias and its key, a secret and its _env). */
static bool set_mark(loader *L, void *addr, const char *disp, const char *new_text)
{
    set_record *r = set_find(L, addr);
    if (r) {
        const char *old = *(char **)addr;
        if (new_text && old && strcmp(old, new_text) == 0)
            return false; /* same value twice: nothing to do */
        perr(L, disp, "conflicts with %s (set only one of them)", r->path);
        return false;
    }
    if (L->nset == L->capset) {
        size_t cap = L->capset ? L->capset * 2 : 32;
        set_record *v = realloc(L->set, cap * sizeof *v);
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

static char *resolve_path(const char *base, const char *p)
{
    if (is_abs(p) || !base)
        return strdup(p);
    if (p[0] == '.' && p[1] == '/')
        p += 2;
    return strf("%s/%s", base, p);
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
        perr(L, disp, "unknown key (did you mean \"%s\"?)", best);
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
        perr(L, disp, "unknown key here (did you mean \"%s\"?)", where);
        return;
    }
    perr(L, disp, "unknown key");
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
        perr(L, disp, "bad value \"%s\" (did you mean \"%s\"? expected one of: %s)", s, close, ce_buf_cstr(&b));
    else
        perr(L, disp, "bad value \"%s\" (expected one of: %s)", s, ce_buf_cstr(&b));
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
                perr(L, disp, "expected a list of column names, item %zu is %s", i, type_name(e));
                return NULL;
            }
            parts[nparts++] = json_string_value(e);
        }
    } else {
        perr(L, disp, "expected a column name or a list of column names, got %s", type_name(v));
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
            perr(L, disp, "empty column name");
        ce_buf_free(&out);
        return NULL;
    }
    return ce_buf_steal(&out, NULL);
}

static void apply_hosts(loader *L, const cli_config_key *k, void *addr, const json_t *v, const char *disp)
{
    size_t n = json_is_string(v) ? 1 : json_is_array(v) ? json_array_size(v) : 0;
    if (!json_is_string(v) && !json_is_array(v)) {
        perr(L, disp, "expected a list of hosts or one host, got %s", type_name(v));
        return;
    }
    if (n == 0) {
        perr(L, disp, "at least one host is needed");
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
            perr(L, disp, "item %zu: expected a host string, got %s", i, type_name(e));
            bad = true;
            break;
        }
        hv[i] = trim_dup(json_string_value(e), json_string_length(e));
        if (!hv[i] || !hv[i][0]) {
            perr(L, disp, "item %zu: empty host", i);
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

static void apply_value(loader *L, const cli_config_key *k, const json_t *v, const char *disp, size_t sync_i)
{
    void *addr = field_addr(L, k, sync_i);
    if (k->flags & CFG_F_LEGACY) {
        if (!k->alias_of) {
            pwarn(L, disp, "ignored by casselastic (%s)", k->help);
            return;
        }
    }
    switch (k->type) {
    case CFG_T_STRING:
    case CFG_T_SECRET:
    case CFG_T_PATH: {
        if (!json_is_string(v)) {
            perr(L, disp, "expected a string, got %s", type_name(v));
            return;
        }
        const char *s = json_string_value(v);
        if (strlen(s) != json_string_length(v)) {
            perr(L, disp, "NUL character inside the string");
            return;
        }
        if (k->type == CFG_T_PATH && !*s) {
            perr(L, disp, "empty path");
            return;
        }
        char *val = k->type == CFG_T_PATH ? resolve_path(L->base_dir, s) : strdup(s);
        if (!val) {
            L->oom = true;
            return;
        }
        if (set_mark(L, addr, disp, val))
            store_string(L, (char **)addr, val);
        free(val);
        return;
    }
    case CFG_T_ENV: {
        if (!json_is_string(v) || !json_string_value(v)[0]) {
            perr(L, disp, "expected the name of an environment variable, got %s",
                 json_is_string(v) ? "\"\"" : type_name(v));
            return;
        }
        const char *name = json_string_value(v);
        const char *val = getenv(name);
        if (!val) {
            perr(L, disp, "environment variable %s is not set", name);
            return;
        }
        const cli_config_key *target = cli_config_key_find(k->secret_of);
        void *taddr = field_addr(L, target, sync_i);
        if (set_mark(L, taddr, disp, val))
            store_string(L, (char **)taddr, val);
        return;
    }
    case CFG_T_BOOL:
        if (!json_is_boolean(v)) {
            perr(L, disp, "expected true or false, got %s", type_name(v));
            return;
        }
        set_mark(L, addr, disp, NULL);
        *(bool *)addr = json_is_true(v) ^ ((k->flags & CFG_F_INVERT) != 0);
        return;
    case CFG_T_INT:
    case CFG_T_INT64:
    case CFG_T_SECONDS: {
        double d;
        if (json_is_integer(v))
            d = (double)json_integer_value(v);
        else if (json_is_real(v) && k->type == CFG_T_SECONDS)
            d = json_real_value(v);
        else {
            perr(L, disp, "expected %s, got %s", k->type == CFG_T_SECONDS ? "a number" : "an integer",
                 type_name(v));
            return;
        }
        if ((k->min || k->max) && (d < (double)k->min || d > (double)k->max)) {
            if (json_is_integer(v))
                perr(L, disp, "must be between %lld and %lld (got %lld)", (long long)k->min, (long long)k->max,
                     (long long)json_integer_value(v));
            else
                perr(L, disp, "must be between %lld and %lld (got %g)", (long long)k->min, (long long)k->max, d);
            return;
        }
        set_mark(L, addr, disp, NULL);
        if (k->type == CFG_T_SECONDS)
            *(double *)addr = d;
        else
            store_int(addr, k->size, json_integer_value(v));
        return;
    }
    case CFG_T_ENUM: {
        if (!json_is_string(v)) {
            perr(L, disp, "expected a string, got %s", type_name(v));
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
        return;
    }
    case CFG_T_HOSTS:
        set_mark(L, addr, disp, NULL);
        apply_hosts(L, k, addr, v, disp);
        return;
    case CFG_T_KEYCOLS: {
        char *cols = keycols_parse(L, v, disp);
        if (!cols)
            return;
        if (set_mark(L, addr, disp, cols)) {
            free(*(char **)addr);
            *(char **)addr = cols;
        } else {
            free(cols);
        }
        return;
    }
    case CFG_T_OBJECT:
    case CFG_T_SYNCS:
        break;
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
        void *addr = field_addr(L, k, sync_i);
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
    return parent[0] ? strf("%s.%s", parent, key) : strdup(key);
}

static void walk_syncs(loader *L, const json_t *v, const char *disp)
{
    if (!json_is_array(v)) {
        perr(L, disp, "expected a list of syncs, got %s", type_name(v));
        return;
    }
    size_t n = json_array_size(v);
    if (n == 0) {
        perr(L, disp, "at least one sync is needed");
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
        char *d = strf("%s[%zu]", disp, i);
        if (!d) {
            L->oom = true;
            return;
        }
        const json_t *e = json_array_get(v, i);
        if (!json_is_object(e))
            perr(L, d, "expected an object, got %s", type_name(e));
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
            char *child = strf("%s.enabled", schema);
            const cli_config_key *ek = child ? cli_config_key_find(child) : NULL;
            free(child);
            if (ek)
                apply_value(L, ek, v, disp, sync_i);
        } else {
            perr(L, disp, "expected an object%s, got %s", (k->flags & CFG_F_BOOL_OBJECT) ? " or true/false" : "",
                 type_name(v));
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
        bool present = k->size ? set_find(L, field_addr(L, k, sync_i)) != NULL : json_object_get(obj, name) != NULL;
        if (present)
            continue;
        char *cd = join_path(disp, name);
        if (k->type == CFG_T_SYNCS || k->type == CFG_T_OBJECT || !json_object_get(obj, name))
            perr(L, cd ? cd : name, "missing required key");
        free(cd);
    }
}

/* ------------------------------------------------------------------ cross-key checks */

/* "host", "host:port", "[v6]:port", "v6addr" -> host (owned) and port (0 = none). */
static bool split_host_port(const char *s, char **host, int *port)
{
    *port = 0;
    const char *colon = NULL;
    size_t hlen = strlen(s);
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb)
            return false;
        *host = strndup(s + 1, (size_t)(rb - s - 1));
        if (rb[1] == ':')
            colon = rb + 1;
        else if (rb[1] != '\0')
            return free(*host), *host = NULL, false;
    } else {
        colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':')) /* bare IPv6 address */
            colon = NULL;
        *host = strndup(s, colon ? (size_t)(colon - s) : hlen);
    }
    if (!*host)
        return false;
    if (colon) {
        char *end;
        errno = 0;
        long p = strtol(colon + 1, &end, 10);
        if (errno || *end || end == colon + 1 || p < 1 || p > 65535) {
            free(*host);
            *host = NULL;
            return false;
        }
        *port = (int)p;
    }
    return (*host)[0] != '\0';
}

static void check_cassandra(loader *L)
{
    sync_cassandra_conf *c = &L->cfg->cassandra;
    const cli_config_key *pk = cli_config_key_find("cassandra.port");
    bool port_set = set_find(L, field_addr(L, pk, 0)) != NULL;
    int seen_port = 0;
    for (size_t i = 0; i < c->nhosts; i++) {
        char *host = NULL;
        int port = 0;
        if (!split_host_port(c->hosts[i], &host, &port)) {
            char *d = strf("cassandra.url[%zu]", i);
            perr(L, d, "bad host \"%s\" (expected host, host:port or [address]:port)", c->hosts[i]);
            free(d);
            continue;
        }
        if (port) {
            if ((seen_port && port != seen_port) || (port_set && port != c->port)) {
                char *d = strf("cassandra.url[%zu]", i);
                perr(L, d, "port %d differs from %d: all hosts use one port", port, seen_port ? seen_port : c->port);
                free(d);
            }
            seen_port = port;
        }
        free(c->hosts[i]);
        c->hosts[i] = host;
    }
    if (seen_port)
        c->port = seen_port;
    if (c->protocol_version == 1 || c->protocol_version == 2)
        perr(L, "cassandra.protocol_version", "must be 0 (negotiate), 3, 4 or 5 (got %d)", c->protocol_version);
    if ((c->tls_cert_file != NULL) != (c->tls_key_file != NULL))
        perr(L, c->tls_cert_file ? "cassandra.tls.key_file" : "cassandra.tls.cert_file",
             "cert_file and key_file go together");
    if (c->password && !c->username)
        pwarn(L, "cassandra.username", "a password is set but no username: no authentication will be tried");
}

static void check_es(loader *L)
{
    sync_es_conf *e = &L->cfg->es;
    for (size_t i = 0; i < e->nurls; i++) {
        char *u = e->urls[i], *norm = NULL;
        const char *sep = strstr(u, "://");
        if (sep) {
            size_t sl = (size_t)(sep - u);
            if (!((sl == 4 && strncasecmp(u, "http", 4) == 0) || (sl == 5 && strncasecmp(u, "https", 5) == 0)) ||
                !sep[3]) {
                char *d = strf("elasticsearch.url[%zu]", i);
                perr(L, d, "bad URL \"%s\" (expected http://host:port or https://host:port)", u);
                free(d);
                continue;
            }
            norm = strdup(u);
        } else {
            char *host = NULL;
            int port = 0;
            if (!split_host_port(u, &host, &port) || strchr(host, '/')) {
                char *d = strf("elasticsearch.url[%zu]", i);
                perr(L, d, "bad host \"%s\"", u);
                free(d);
                free(host);
                continue;
            }
            bool v6 = strchr(host, ':') != NULL;
            norm = strf("%s://%s%s%s:%d", e->tls ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "",
                        port ? port : 9200);
            free(host);
        }
        if (!norm) {
            L->oom = true;
            continue;
        }
        size_t n = strlen(norm);
        while (n > 0 && norm[n - 1] == '/')
            norm[--n] = '\0';
        free(e->urls[i]);
        e->urls[i] = norm;
    }
    if ((e->tls_cert_file != NULL) != (e->tls_key_file != NULL))
        perr(L, e->tls_cert_file ? "elasticsearch.tls.key_file" : "elasticsearch.tls.cert_file",
             "cert_file and key_file go together");
    int auths = (e->password != NULL) + (e->api_key != NULL) + (e->bearer_token != NULL);
    if (auths > 1)
        perr(L, "elasticsearch", "choose one of password, api_key and bearer_token");
    if (e->password && !e->username)
        perr(L, "elasticsearch.username", "needed with a password");
}

static void check_syncs(loader *L)
{
    sync_config *c = L->cfg;
    for (size_t i = 0; i < c->nsyncs; i++) {
        sync_def *s = &c->syncs[i];
        char p[96];
        snprintf(p, sizeof p, "syncs[%zu].id_col", i);
        ce_err idr = sync_def_split_ids(s);
        if (idr == CE_ENOMEM)
            L->oom = true;
        else if (idr)
            perr(L, p, "expected 1 to %d column names", SYNC_MAX_ID_COLS);
        if (s->name) {
            snprintf(p, sizeof p, "syncs[%zu].name", i);
            if (!s->name[0] || strlen(s->name) > MAX_SYNC_NAME)
                perr(L, p, "must be 1 to %d characters", MAX_SYNC_NAME);
            for (size_t j = 0; j < i; j++)
                if (c->syncs[j].name && strcmp(c->syncs[j].name, s->name) == 0) {
                    perr(L, p, "duplicate sync name \"%s\" (also syncs[%zu].name)", s->name, j);
                    break;
                }
        }
        snprintf(p, sizeof p, "syncs[%zu].cassandra.table", i);
        if (s->table) {
            char *dot = strchr(s->table, '.');
            if (dot) {
                char *ks = strndup(s->table, (size_t)(dot - s->table));
                char *tb = strdup(dot + 1);
                if (!ks || !tb) {
                    L->oom = true;
                } else if (!ks[0] || !tb[0] || strchr(tb, '.')) {
                    perr(L, p, "bad table name \"%s\" (expected table or keyspace.table)", s->table);
                } else if (s->keyspace && strcmp(s->keyspace, ks) != 0) {
                    perr(L, p, "keyspace \"%s\" differs from syncs[%zu].cassandra.keyspace \"%s\"", ks, i, s->keyspace);
                } else {
                    free(s->keyspace);
                    s->keyspace = ks;
                    ks = NULL;
                    free(s->table);
                    s->table = tb;
                    tb = NULL;
                }
                free(ks);
                free(tb);
            } else if (!s->table[0]) {
                perr(L, p, "empty table name");
            }
            if (!s->keyspace && c->cassandra.keyspace)
                s->keyspace = strdup(c->cassandra.keyspace);
            if (!s->keyspace)
                perr(L, p, "no keyspace: set cassandra.keyspace or write \"keyspace.table\"");
        }
        if (s->index && !s->index[0]) {
            snprintf(p, sizeof p, "syncs[%zu].elasticsearch.index", i);
            perr(L, p, "empty index name");
        }
        if (s->read_mode == SYNC_READ_BUCKETS && !s->bucket_col) {
            snprintf(p, sizeof p, "syncs[%zu].bucket.column", i);
            perr(L, p, "missing: read_mode \"buckets\" needs the bucket column");
        }
        if (s->bucket_format && !strchr(s->bucket_format, '%')) {
            snprintf(p, sizeof p, "syncs[%zu].bucket.format", i);
            perr(L, p, "\"%s\" has no %% conversion (e.g. \"%%Y%%m%%d%%H\")", s->bucket_format);
        }
        if (s->cassandra_source_id && s->es_source_id && strcmp(s->cassandra_source_id, s->es_source_id) == 0) {
            snprintf(p, sizeof p, "syncs[%zu].elasticsearch.source_id", i);
            perr(L, p, "must differ from cassandra.source_id (\"%s\")", s->es_source_id);
        }
        if (s->overlap_ms < s->safety_lag_ms) {
            snprintf(p, sizeof p, "syncs[%zu].overlap_ms", i);
            pwarn(L, p, "smaller than safety_lag_ms: late writes may be missed");
        }
    }
}

static void finish_paths(loader *L, const char *state_dir_override)
{
    sync_config *c = L->cfg;
    if (state_dir_override) {
        free(c->state_dir);
        c->state_dir = strdup(state_dir_override);
    }
    if (!c->state_dir)
        c->state_dir = strdup(L->base_dir ? L->base_dir : ".");
    if (!c->state_dir) {
        L->oom = true;
        return;
    }
    if (!c->dead_letter_path)
        c->dead_letter_path = strf("%s/casselastic.deadletter.jsonl", c->state_dir);
    if (!c->dead_letter_path)
        L->oom = true;
}

static ce_err load_text(const char *text, size_t len, const char *base_dir, const char *state_dir_override,
                        sync_config *out, cli_config_problems *probs)
{
    memset(out, 0, sizeof *out);
    char *copy = malloc(len + 1);
    if (!copy)
        return CE_ENOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';
    char unclosed[32];
    cli_jsonc_strip(copy, len, unclosed, sizeof unclosed);

    json_error_t jerr;
    json_t *root = json_loadb(copy, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root && unclosed[0]) {
        /* PyCassElastic's README example ends without its final '}': when the text stops
         * right after a complete value, close what is open and say so. */
        size_t end = len;
        while (end > 0 && isspace((unsigned char)copy[end - 1]))
            end--;
        if ((size_t)jerr.position >= end) {
            size_t ul = strlen(unclosed);
            char *fixed = realloc(copy, len + ul + 1);
            if (!fixed) {
                free(copy);
                return CE_ENOMEM;
            }
            copy = fixed;
            memcpy(copy + len, unclosed, ul + 1);
            json_error_t jerr2;
            root = json_loadb(copy, len + ul, JSON_REJECT_DUPLICATES, &jerr2);
            if (root)
                problem_add(probs, true, NULL, jerr.line > 0 ? jerr.line : 1, jerr.column > 0 ? jerr.column : 1,
                            strf("end of file with %zu bracket(s) still open: assumed the missing \"%s\"", ul,
                                 unclosed));
        }
    }
    free(copy);
    if (!root) {
        problem_add(probs, false, NULL, jerr.line > 0 ? jerr.line : 1, jerr.column > 0 ? jerr.column : 1,
                    strf("JSON syntax error: %s", jerr.text));
        return CE_ECONFIG;
    }
    if (!json_is_object(root)) {
        problem_add(probs, false, "(top level)", 0, 0, strf("expected an object, got %s", type_name(root)));
        json_decref(root);
        return CE_ECONFIG;
    }

    size_t errors_before = probs->nerrors;
    loader L = {.cfg = out, .probs = probs, .base_dir = base_dir};
    apply_defaults(&L, false, 0);
    walk_object(&L, root, "", "", 0);
    json_decref(root);
    /* Cross-key checks run even after errors: every problem is reported at once. */
    check_cassandra(&L);
    check_es(&L);
    check_syncs(&L);
    finish_paths(&L, state_dir_override);
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
        problem_add(probs, false, NULL, 0, 0, strf("cannot read %s: %s", path, strerror(e)));
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
        problem_add(probs, false, NULL, 0, 0,
                    strf("cannot read %s: %s", path, err == CE_ELIMIT ? "larger than 16 MiB" : "read error"));
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
            override = resolve_path(cwd, state_dir_override);
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

/* ------------------------------------------------------------------ reference and effective values */

static ce_err type_text(const cli_config_key *k, ce_buf *out)
{
    switch (k->type) {
    case CFG_T_OBJECT:
        return ce_buf_append_str(out, (k->flags & CFG_F_BOOL_OBJECT) ? "object or boolean" : "object");
    case CFG_T_SYNCS: return ce_buf_append_str(out, "list of objects");
    case CFG_T_STRING: return ce_buf_append_str(out, "string");
    case CFG_T_PATH: return ce_buf_append_str(out, "path");
    case CFG_T_SECRET: return ce_buf_append_str(out, "string (secret)");
    case CFG_T_ENV: return ce_buf_append_str(out, "environment variable name");
    case CFG_T_BOOL: return ce_buf_append_str(out, "boolean");
    case CFG_T_INT:
    case CFG_T_INT64: return ce_buf_append_str(out, "integer");
    case CFG_T_SECONDS: return ce_buf_append_str(out, "number");
    case CFG_T_HOSTS: return ce_buf_append_str(out, "string or list of strings");
    case CFG_T_KEYCOLS: return ce_buf_append_str(out, "column, \"a,b\" or list of columns");
    case CFG_T_ENUM: {
        ce_err err = CE_OK;
        for (const cfg_enum_value *e = k->enum_values; e->name && !err; e++)
            err = ce_buf_printf(out, "%s`%s`", e == k->enum_values ? "" : " \\| ", e->name);
        return err;
    }
    }
    return CE_OK;
}

ce_err cli_config_reference(ce_buf *out)
{
    size_t n;
    const cli_config_key *keys = cli_config_keys(&n);
    ce_err err = ce_buf_append_str(out, "| Key | Type | Default | Bounds | Meaning |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < n && !err; i++) {
        const cli_config_key *k = &keys[i];
        err = ce_buf_printf(out, "| `%s` | ", k->path);
        if (!err)
            err = type_text(k, out);
        if (!err) {
            if (k->flags & CFG_F_REQUIRED)
                err = ce_buf_append_str(out, " | required");
            else if (k->def_doc)
                err = ce_buf_printf(out, " | %s", k->def_doc);
            else if (k->def)
                err = ce_buf_printf(out, " | `%s`", k->def);
            else
                err = ce_buf_append_str(out, " | none");
        }
        if (!err)
            err = (k->min || k->max) ? ce_buf_printf(out, " | %lld to %lld", (long long)k->min, (long long)k->max)
                                     : ce_buf_append_str(out, " | ");
        if (!err) {
            err = ce_buf_append_str(out, " | ");
            for (const char *h = k->help; !err && *h; h++)
                err = *h == '|' ? ce_buf_append_str(out, "\\|") : ce_buf_append_byte(out, (uint8_t)*h);
        }
        if (!err && k->alias_of)
            err = ce_buf_printf(out, " Same as `%s`.", k->alias_of);
        if (!err)
            err = ce_buf_append_str(out, " |\n");
    }
    return err;
}

ce_err cli_config_value_format(const sync_config *c, const cli_config_key *k, size_t sync_index, ce_buf *out)
{
    if (k->size == 0)
        return ce_buf_append_str(out, k->type == CFG_T_ENV ? "(read into its secret)" : "");
    if ((k->flags & CFG_F_IN_SYNC) && sync_index >= c->nsyncs)
        return CE_EINVAL;
    const char *base = (k->flags & CFG_F_IN_SYNC) ? (const char *)&c->syncs[sync_index] : (const char *)c;
    const void *addr = base + k->offset;
    switch (k->type) {
    case CFG_T_STRING:
    case CFG_T_PATH:
    case CFG_T_KEYCOLS: {
        const char *s = *(char *const *)addr;
        return s ? ce_buf_printf(out, "\"%s\"", s) : ce_buf_append_str(out, "(none)");
    }
    case CFG_T_SECRET:
        return ce_buf_append_str(out, *(char *const *)addr ? "***" : "(none)");
    case CFG_T_BOOL:
        return ce_buf_append_str(out, (*(const bool *)addr ^ ((k->flags & CFG_F_INVERT) != 0)) ? "true" : "false");
    case CFG_T_INT:
        return ce_buf_printf(out, "%d", *(const int *)addr);
    case CFG_T_INT64:
        return ce_buf_printf(out, "%lld", (long long)*(const int64_t *)addr);
    case CFG_T_SECONDS:
        return ce_buf_printf(out, "%g", *(const double *)addr);
    case CFG_T_ENUM: {
        if (k->flags & CFG_F_ENUM_STRING) {
            const char *s = *(char *const *)addr;
            return s ? ce_buf_printf(out, "\"%s\"", s) : ce_buf_append_str(out, "(none)");
        }
        int64_t v = k->size == sizeof(int64_t) ? *(const int64_t *)addr : *(const int *)addr;
        for (const cfg_enum_value *e = k->enum_values; e->name; e++)
            if (e->value == v)
                return ce_buf_printf(out, "\"%s\"", e->name);
        return ce_buf_printf(out, "%lld", (long long)v);
    }
    case CFG_T_HOSTS: {
        char *const *v = *(char **const *)addr;
        size_t n = *(const size_t *)((const char *)addr + sizeof(char **));
        ce_err err = ce_buf_append_byte(out, '[');
        for (size_t i = 0; i < n && !err; i++)
            err = ce_buf_printf(out, "%s\"%s\"", i ? ", " : "", v[i]);
        return err ? err : ce_buf_append_byte(out, ']');
    }
    case CFG_T_OBJECT:
    case CFG_T_SYNCS:
    case CFG_T_ENV:
        break;
    }
    return CE_OK;
}
