/*
 * config_int.h - internals shared by the parts of the config loader (not for the commands).
 *
 * The loader is split by job:
 *   config_problems.c   the problem list and the formatted-text helpers
 *   config_jsonc.c      JSON with '#' comments -> a jansson object (syntax problems)
 *   config_load.c       the key table applied to the JSON: defaults, types, bounds, unknown keys
 *   config_check.c      checks across keys (hosts and ports, names, secrets, TLS warnings, paths)
 *   config_reference.c  the Markdown reference and the effective values of `check --effective`
 * config_load.h is the public face; this header is what those files share.
 */
#ifndef CE_CLI_CONFIG_INT_H
#define CE_CLI_CONFIG_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include "cli/config_load.h"

struct json_t;

/* Which key set a field, so aliases and *_env keys cannot set it twice. */
typedef struct {
    void *addr;
    char *path;       /* display path that set it */
} cfg_set_record;

/* The state of one load: the config being filled and the problems found. */
typedef struct {
    sync_config *cfg;
    cli_config_problems *probs;
    const char *base_dir;     /* folder relative paths resolve against; may be NULL */
    cfg_set_record *set;
    size_t nset, capset;
    bool oom;
} cfg_loader;

/* ------------------------------------------------------------ config_problems.c */

/* printf into a new string (caller frees); NULL when out of memory. */
char *cfg_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *cfg_vstrf(const char *fmt, va_list ap);
/* Append a problem; takes ownership of message (NULL: nothing is added). path is copied. */
void cfg_problem_add(cli_config_problems *p, bool warning, const char *path, int line, int col, char *message);
/* An error / a warning about the key at path (display path, e.g. "syncs[0].name"). */
void cfg_err(cfg_loader *L, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void cfg_warn(cfg_loader *L, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------ config_jsonc.c */

/* Parse text (len bytes, '#' comments allowed) into a JSON object (caller decrefs). NULL
 * with a problem added for a syntax error or a top level that is not an object; NULL and
 * *oom set when out of memory. A text cut right after a complete value with only closing
 * brackets missing is closed, with a warning. */
struct json_t *cfg_jsonc_parse(const char *text, size_t len, cli_config_problems *probs, bool *oom);

/* "an object", "a list", ... for messages. */
const char *cfg_json_type_name(const struct json_t *v);

/* ------------------------------------------------------------ config_load.c */

/* Address of the field a key fills (in cfg, or in syncs[sync_i] for CFG_F_IN_SYNC); NULL
 * for keys without a field. */
void *cfg_field_addr(cfg_loader *L, const cli_config_key *k, size_t sync_i);
/* Was the field at addr set by a key of the file (not a default)? */
bool cfg_was_set(const cfg_loader *L, const void *addr);
/* base/p for a relative p (a leading "./" dropped), p itself when absolute or base is NULL.
 * Caller frees; NULL when out of memory. */
char *cfg_resolve_path(const char *base, const char *p);

/* ------------------------------------------------------------ config_check.c */

/* Every check across keys, run after the walk (also after errors, so that every problem is
 * reported at once); then the computed paths (state_dir, dead_letter_path) are filled.
 * state_dir_override (absolute) replaces state_dir when not NULL. */
void cfg_check_all(cfg_loader *L, const char *state_dir_override);

#endif
