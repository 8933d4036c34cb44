/*
 * textout.h - a text writer that keeps its first failure, for outputs built from many
 * small appends (the Prometheus exposition in metrics.c, the roff page in manpage.c).
 *
 * Each append is skipped once one has failed, so a renderer stays a straight list of
 * appends and reports one error at the end (cli_text_out.err).
 */
#ifndef CE_CLI_TEXTOUT_H
#define CE_CLI_TEXTOUT_H

#include <stdarg.h>
#include <stdint.h>
#include "util/buf.h"

typedef struct {
    ce_buf *b;
    ce_err err; /* CE_OK, or the first failure (CE_ENOMEM / CE_ELIMIT) */
} cli_text_out;

static inline void cli_text_put(cli_text_out *t, const char *s)
{
    if (!t->err)
        t->err = ce_buf_append_str(t->b, s);
}

static inline void cli_text_byte(cli_text_out *t, char c)
{
    if (!t->err)
        t->err = ce_buf_append_byte(t->b, (uint8_t)c);
}

static inline void cli_text_printf(cli_text_out *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void cli_text_printf(cli_text_out *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!t->err)
        t->err = ce_buf_vprintf(t->b, fmt, ap);
    va_end(ap);
}

#endif
