/*
 * query.c - structured queries (es_query) written as Query DSL with jsonw (codec).
 * Field names and values are always escaped JSON strings, never pasted text.
 */
#include "es/es_int.h"

#include <string.h>

#include "util/jsonw.h"

ce_err es_query_write(ce_buf *b, const es_query *q)
{
    bool range = q->range_field && (q->has_gte || q->has_lt);
    bool not = q->must_not_field && q->must_not_value;
    ce_err e;
    if (!range && !not)
        return ce_buf_append_str(b, "{\"match_all\":{}}");
    e = ce_buf_append_str(b, "{\"bool\":{");
    if (!e && range) {
        e = ce_buf_append_str(b, "\"filter\":[{\"range\":{");
        if (!e)
            e = jsonw_key(b, q->range_field, strlen(q->range_field));
        if (!e)
            e = ce_buf_append_byte(b, '{');
        bool comma = false;
        if (!e && q->has_gte) {
            e = ce_buf_append_str(b, "\"gte\":");
            if (!e)
                e = jsonw_int64(b, q->gte);
            comma = true;
        }
        if (!e && q->has_lt) {
            e = ce_buf_append_str(b, comma ? ",\"lt\":" : "\"lt\":");
            if (!e)
                e = jsonw_int64(b, q->lt);
        }
        if (!e && q->range_is_date)
            e = ce_buf_append_str(b, ",\"format\":\"epoch_millis\"");
        if (!e)
            e = ce_buf_append_str(b, "}}}]");
    }
    if (!e && not) {
        e = ce_buf_append_str(b, range ? ",\"must_not\":[{\"term\":{" : "\"must_not\":[{\"term\":{");
        if (!e)
            e = jsonw_key(b, q->must_not_field, strlen(q->must_not_field));
        if (!e)
            e = jsonw_cstr(b, q->must_not_value);
        if (!e)
            e = ce_buf_append_str(b, "}}]");
    }
    if (!e)
        e = ce_buf_append_str(b, "}}");
    return e;
}
