/*
 * config_reference.c - the key table as text: the Markdown reference of docs/config.md
 * (`casselastic config-reference`) and each key's effective value (`check --effective`).
 * Secrets print as "***" and URLs without their user:password@.
 */
#include "cli/config_int.h"

#include <stdint.h>
#include <string.h>

#include "es/es.h"

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
        for (size_t i = 0; i < n && !err; i++) {
            char shown[1024];
            es_url_redact(v[i], shown, sizeof shown);
            err = ce_buf_printf(out, "%s\"%s\"", i ? ", " : "", shown);
        }
        return err ? err : ce_buf_append_byte(out, ']');
    }
    case CFG_T_OBJECT:
    case CFG_T_SYNCS:
    case CFG_T_ENV:
        break;
    }
    return CE_OK;
}
