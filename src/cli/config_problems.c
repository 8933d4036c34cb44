/*
 * config_problems.c - the problem list of a config load: every error and warning with the
 * JSON path (or line and column) it concerns, collected, never printed (the CLI prints them).
 */
#include "cli/config_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *cfg_vstrf(const char *fmt, va_list ap)
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

char *cfg_strf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = cfg_vstrf(fmt, ap);
    va_end(ap);
    return s;
}

void cfg_problem_add(cli_config_problems *p, bool warning, const char *path, int line, int col, char *message)
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

void cfg_err(cfg_loader *L, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_problem_add(L->probs, false, path, 0, 0, cfg_vstrf(fmt, ap));
    va_end(ap);
}

void cfg_warn(cfg_loader *L, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_problem_add(L->probs, true, path, 0, 0, cfg_vstrf(fmt, ap));
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

