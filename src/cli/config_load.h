/*
 * config_load.h - loading and validating the JSON configuration into a sync_config.
 *
 * One table (config_keys.c) describes every key: JSON path, type, default, bounds,
 * help. It drives parsing, defaults, `casselastic check --effective` and the reference
 * in docs/config.md (`casselastic config-reference` prints it).
 *
 * The loader is a codec: cli_config_load_text takes bytes and returns a config plus a
 * list of problems; only cli_config_load_file touches the file system (reading the
 * file; relative paths resolve against its folder). Every problem is collected, each
 * with the JSON path it concerns ("syncs[0].cassandra.tabel: unknown key (did you
 * mean \"table\"?)"); a JSON syntax error carries its line and column.
 */
#ifndef CE_CLI_CONFIG_LOAD_H
#define CE_CLI_CONFIG_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sync/config.h"
#include "util/buf.h"
#include "util/err.h"

typedef enum {
    CFG_T_OBJECT = 0,   /* a JSON object holding other keys */
    CFG_T_SYNCS,        /* the array of sync objects */
    CFG_T_STRING,
    CFG_T_PATH,         /* string; relative paths resolve against the config folder */
    CFG_T_SECRET,       /* string never printed */
    CFG_T_ENV,          /* name of an environment variable holding a secret */
    CFG_T_BOOL,
    CFG_T_INT,          /* stored in an int */
    CFG_T_INT64,        /* stored in an int64_t */
    CFG_T_SECONDS,      /* number (may be fractional), stored in a double */
    CFG_T_ENUM,         /* one of enum_names */
    CFG_T_HOSTS,        /* list of strings, or one string */
    CFG_T_KEYCOLS       /* "id", "a,b" or ["a","b"]; stored as "a,b" */
} cfg_type;

enum {
    CFG_F_REQUIRED = 1 << 0,
    CFG_F_IN_SYNC = 1 << 1,     /* field lives in sync_def (path under syncs[]) */
    CFG_F_BOOL_OBJECT = 1 << 2, /* object that also accepts true/false for its "enabled" */
    CFG_F_ENUM_STRING = 1 << 3, /* enum stored as its name (char *) rather than a number */
    CFG_F_LEGACY = 1 << 4,      /* PyCassElastic's old place for a key (alias_of is the real one) */
    CFG_F_INVERT = 1 << 5       /* bool stored negated (tls.verify -> tls_no_verify) */
};

typedef struct {
    const char *name;
    int64_t value;
} cfg_enum_value;

typedef struct {
    const char *path;         /* "cassandra.port", "syncs[].cassandra.table" */
    cfg_type type;
    unsigned flags;
    size_t offset, size;      /* field in sync_config or (CFG_F_IN_SYNC) sync_def; size 0 = none */
    const char *def;          /* default as text ("9042", "true", "local_quorum"); NULL = none */
    const char *def_doc;      /* default as shown in docs when it is computed; NULL = def */
    int64_t min, max;         /* bounds for numbers (both 0 = unbounded) */
    const cfg_enum_value *enum_values; /* CFG_T_ENUM: terminated by {NULL, 0} */
    const char *alias_of;     /* CFG_F_LEGACY: the path of the key it stands for */
    const char *secret_of;    /* CFG_T_ENV: the path of the secret it fills */
    const char *help;
} cli_config_key;

/* The key table (static storage). */
const cli_config_key *cli_config_keys(size_t *n);
const cli_config_key *cli_config_key_find(const char *schema_path);

typedef struct {
    bool warning;             /* false: error (the config is refused) */
    char *path;               /* JSON path or NULL (syntax errors) */
    int line, column;         /* syntax errors: 1-based; 0 otherwise */
    char *message;
} cli_config_problem;

typedef struct {
    cli_config_problem *v;
    size_t n, cap;
    size_t nerrors, nwarnings;
} cli_config_problems;

void cli_config_problems_free(cli_config_problems *p);
/* "path: message" / "line 3, column 7: message" into buf (one problem, no newline). */
ce_err cli_config_problem_format(const cli_config_problem *p, ce_buf *out);

/* Replace '#' comments outside strings with spaces (newlines kept, so line and column
 * numbers stay right). In place. *unclosed gets the closing brackets that are missing
 * at the end of the text (innermost first, e.g. "]}"), at most cap-1 bytes; empty when
 * balanced or not computable (inside a string at the end). */
void cli_jsonc_strip(char *text, size_t len, char *unclosed, size_t cap);

/* Parse and validate `text` (len bytes; comments allowed). base_dir: folder that
 * relative paths resolve against (absolute); may be NULL (then relative paths stay as
 * written). On CE_OK *out is a complete config (caller frees with sync_config_free) and
 * probs may hold warnings. CE_ECONFIG when any error was found (*out is zeroed, probs
 * says why); CE_ENOMEM. probs is appended to; the caller frees it. */
ce_err cli_config_load_text(const char *text, size_t len, const char *base_dir, sync_config *out,
                            cli_config_problems *probs);

/* Read and load a file. state_dir_override (from --state-dir, relative to the current
 * folder) replaces "state_dir". Sets out->config_path to the absolute path. CE_ENOTFOUND /
 * CE_EIO when the file cannot be read (a problem says so), else as cli_config_load_text. */
ce_err cli_config_load_file(const char *path, const char *state_dir_override, sync_config *out,
                            cli_config_problems *probs);

/* Markdown table of every key (the reference in docs/config.md). */
ce_err cli_config_reference(ce_buf *out);

/* Effective value of one key as text ("9042", "\"local_quorum\"", "***" for secrets,
 * "(none)"), for `check --effective`. sync_index is used for keys under syncs[]. */
ce_err cli_config_value_format(const sync_config *c, const cli_config_key *k, size_t sync_index,
                               ce_buf *out);

#endif
