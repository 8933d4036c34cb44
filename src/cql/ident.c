/* ident.c - the one helper that quotes CQL identifiers ("a""b"). */
#include "cql/cql.h"

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
