/*
 * manpage.c - roff rendering of the config key table (see manpage.h).
 *
 * One section per top-level object (the top-level scalars first), one tagged paragraph
 * per key: its path in bold, a line saying type, bounds, default and whether it is
 * required, then its help text. Help text is plain ASCII with `code` spans, which
 * become bold; roff's special characters are escaped on the way.
 */
#include "cli/manpage.h"

#include <stdbool.h>
#include <string.h>

#include "cli/config_load.h"
#include "cli/textout.h"

/* Text for one roff text line: backslash escaped, a leading dot or quote neutralised,
 * `code` in bold with its hyphens as \- (they are typed, not hyphenation). */
static void put_text(cli_text_out *o, const char *s)
{
    bool code = false;
    if (*s == '.' || *s == '\'')
        cli_text_put(o, "\\&");
    for (; *s; s++) {
        if (*s == '\\')
            cli_text_put(o, "\\e");
        else if (*s == '`')
            cli_text_put(o, (code = !code) ? "\\fB" : "\\fR");
        else if (*s == '-' && code)
            cli_text_put(o, "\\-");
        else
            cli_text_byte(o, *s);
    }
    if (code)
        cli_text_put(o, "\\fR");
}

static const char *type_text(const cli_config_key *k)
{
    switch (k->type) {
    case CFG_T_OBJECT: return (k->flags & CFG_F_BOOL_OBJECT) ? "object, or true/false for its enabled key" : "object";
    case CFG_T_SYNCS: return "array of sync objects";
    case CFG_T_STRING: return "string";
    case CFG_T_PATH: return "path (relative to the config file's folder)";
    case CFG_T_SECRET: return "string, secret (never printed)";
    case CFG_T_ENV: return "name of an environment variable";
    case CFG_T_BOOL: return "boolean";
    case CFG_T_INT:
    case CFG_T_INT64: return "integer";
    case CFG_T_SECONDS: return "number of seconds";
    case CFG_T_ENUM: return "one of";
    case CFG_T_HOSTS: return "list of strings, or one string";
    case CFG_T_KEYCOLS: return "column name, \"a,b\", or a list of names";
    }
    return "value";
}

/* "integer, 1 to 65535, default 9042, required" */
static void put_facts(cli_text_out *o, const cli_config_key *k)
{
    cli_text_put(o, type_text(k));
    for (const cfg_enum_value *e = k->enum_values; k->type == CFG_T_ENUM && e && e->name; e++)
        cli_text_printf(o, "%s\\fB%s\\fR", e == k->enum_values ? " " : ", ", e->name);
    if (k->min || k->max)
        cli_text_printf(o, "; %lld to %lld", (long long)k->min, (long long)k->max);
    const char *def = k->def_doc ? k->def_doc : k->def;
    if (def) {
        cli_text_put(o, "; default: ");
        put_text(o, def);
    }
    if (k->flags & CFG_F_REQUIRED)
        cli_text_put(o, "; required");
    cli_text_put(o, "\n");
}

static void put_key(cli_text_out *o, const cli_config_key *k)
{
    cli_text_printf(o, ".TP\n.B %s\n", k->path);
    put_facts(o, k);
    cli_text_put(o, ".br\n");
    put_text(o, k->help);
    cli_text_put(o, "\n");
    if (k->secret_of)
        cli_text_printf(o, "Fills \\fB%s\\fR.\n", k->secret_of);
    if (k->alias_of)
        cli_text_printf(o, "Deprecated: write \\fB%s\\fR instead.\n", k->alias_of);
}

ce_err cli_config_manpage(ce_buf *out)
{
    size_t n = 0;
    const cli_config_key *keys = cli_config_keys(&n);
    cli_text_out o = {out, CE_OK};
    cli_text_put(&o, ".SS Top-level keys\n");
    for (size_t i = 0; i < n; i++) {
        const cli_config_key *k = &keys[i];
        bool section = !strchr(k->path, '.') && (k->type == CFG_T_OBJECT || k->type == CFG_T_SYNCS);
        if (!section) {
            put_key(&o, k);
            continue;
        }
        cli_text_printf(&o, ".SS %s%s\n.PP\n", k->path, k->type == CFG_T_SYNCS ? "[]" : "");
        put_text(&o, k->help);
        cli_text_put(&o, "\n.br\n");
        put_facts(&o, k);
    }
    return o.err;
}
