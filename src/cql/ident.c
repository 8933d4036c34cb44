/* ident.c - the one helper that quotes CQL identifiers ("a""b"), and the form Cassandra
 * shows them in (quoted only when they have to be). */
#include "cql/cql.h"

#include <ctype.h>

ce_err cql_quote_ident(ce_buf *b, const char *ident)
{
    ce_err e = ce_buf_append_byte(b, '"');
    for (const char *p = ident; !e && *p; p++) {
        if (*p == '"')
            e = ce_buf_append_byte(b, '"');
        if (!e)
            e = ce_buf_append_byte(b, (uint8_t)*p);
    }
    if (!e)
        e = ce_buf_append_byte(b, '"');
    return e;
}

ce_err cql_quote_table(ce_buf *b, const char *keyspace, const char *table)
{
    ce_err e = cql_quote_ident(b, keyspace);
    if (!e)
        e = ce_buf_append_byte(b, '.');
    return e ? e : cql_quote_ident(b, table);
}

ce_err cql_ident_append(ce_buf *b, const char *ident)
{
    bool quote = !*ident || isdigit((unsigned char)*ident);
    for (const char *c = ident; *c && !quote; c++)
        quote = !(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '_');
    return quote ? cql_quote_ident(b, ident) : ce_buf_append_str(b, ident);
}
