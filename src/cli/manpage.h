/*
 * manpage.h - the configuration reference as roff, for casselastic.json(5).
 *
 * Generated from the key table that drives parsing (config_keys.c), so the manual
 * cannot drift from what the loader accepts. docs/man/gen_config_manpage.c splices it
 * into docs/man/casselastic.json.5.in at build time.
 */
#ifndef CE_CLI_MANPAGE_H
#define CE_CLI_MANPAGE_H

#include "util/buf.h"
#include "util/err.h"

/* Append the roff body describing every key (.SS per section, .TP per key) to out.
 * CE_OK, or the buffer's first failure (CE_ENOMEM / CE_ELIMIT); out may then hold
 * part of the text. */
ce_err cli_config_manpage(ce_buf *out);

#endif
