/*
 * schema.c - E->C schema evolution: fields of the index mapping missing from the table
 * are added with a typed ALTER TABLE ADD (mapping.c picks the type); a field whose
 * mapping cannot be written into the existing column's type is reported and skipped.
 * After ALTERs every connected node must report the same schema version (bounded wait,
 * cql_session_wait_schema_agreement), and the table is read again until the new columns
 * show, so none is left out of the INSERT.
 *
 * Field names come from outside: one becomes a column only when it is 1 to
 * SYNC_COLUMN_NAME_MAX bytes of ASCII letters, digits and '_', and one pass adds at most
 * max_new_columns columns. The fields refused are listed for the pass (their documents go
 * to the dead letters, e2c.c) and left out of the mapping the pass works with.
 */
#include "sync/e2c_int.h"

#include <jansson.h>
#include <string.h>
#include <time.h>
#include "util/clock.h"
#include "util/log.h"

#define SCHEMA_WAIT_ATTEMPTS 100   /* x 100 ms */
#define SYNC_COLUMN_NAME_MAX 128   /* bytes of a field name that becomes a column */

/* After ALTER TABLE: wait (at most ~10 s) until every connected node reports the same
 * schema version, as drivers do, so that no statement naming the new columns (this
 * pass's INSERT, the C->E SELECT after it) lands on a node without them. */
static void wait_schema_agreement(sync_pass_ctx *ctx)
{
    if (cql_session_wait_schema_agreement(ctx->cql, SCHEMA_WAIT_ATTEMPTS * 100) != CE_OK)
        ce_warn("sync=%s dir=%s msg=\"no schema agreement after ALTER TABLE; continuing\" error=%s",
                ctx->def->name, ctx->dir->name, SYNC_LOGQ(cql_session_errmsg(ctx->cql)));
}

void sync_schema_settle(sync_pass_ctx *ctx)
{
    if (cql_session_schema_unsettled(ctx->cql))
        wait_schema_agreement(ctx);
}

/* Whether the table has every field of props that is to become a column, and the source
 * column. */
static bool meta_has_fields(const cql_table_meta *m, const sync_def *d, json_t *props)
{
    const char *key;
    json_t *prop;
    json_object_foreach(props, key, prop) {
        if (d->token_field && strcmp(key, d->token_field) == 0)
            continue;
        if (json_is_object(prop) && !cql_table_meta_column(m, key))
            return false;
    }
    const char *sf = d->source_field;
    return !sf || !*sf || cql_table_meta_column(m, sf);
}

/* Read the table plan again after ALTERs. The node answering may not have applied the
 * last ALTER yet (schema agreement is judged from gossip, which lags): read again, for up
 * to 10 s, until every field of props is a column. */
static ce_err reload_plan(sync_pass_ctx *ctx, sync_table_plan *tp, json_t *props)
{
    for (int attempt = 0; attempt < SCHEMA_WAIT_ATTEMPTS; attempt++) {
        ce_err e = sync_table_plan_load(ctx, tp);
        if (e || !props || meta_has_fields(tp->meta, ctx->def, props))
            return e;
        ce_sleep_ms(100);
    }
    ce_warn("sync=%s dir=to_cassandra msg=\"new columns not visible yet; their fields are left out this pass\"",
            ctx->def->name);
    return CE_OK;
}

/* ALTER TABLE ADD one column for field key; true when the table has it afterwards. */
static bool add_column(sync_pass_ctx *ctx, const cql_table_meta *m, const char *key, const json_t *prop)
{
    const char *ty = sync_cql_type_for_es(prop);
    ce_buf q = CE_BUF_INIT;
    ce_err e = ce_buf_append_str(&q, "ALTER TABLE ");
    e = e ? e : cql_quote_table(&q, m->keyspace, m->table);
    e = e ? e : ce_buf_append_str(&q, " ADD ");
    e = e ? e : cql_quote_ident(&q, key);
    e = e ? e : ce_buf_printf(&q, " %s", ty);
    e = e ? e : (ce_buf_cstr(&q) ? CE_OK : CE_ENOMEM);
    cql_result *r = NULL;
    cql_error_info info;
    memset(&info, 0, sizeof info);
    cql_query_opts qo;
    cql_query_opts_init(&qo);
    qo.consistency = CQL_CONSISTENCY_ONE;
    if (!e)
        e = cql_session_query(ctx->cql, ce_buf_cstr(&q), NULL, 0, &qo, &r, &info);
    cql_result_free(r);
    ce_buf_free(&q);
    if (e == CE_OK) {
        ctx->res->e2c_columns_added++;
        ce_info("sync=%s dir=to_cassandra msg=\"column added\" table=%s.%s column=%s type=%s es_type=%s",
                ctx->def->name, SYNC_LOGQ(m->keyspace), SYNC_LOGQ(m->table), SYNC_LOGQ(key), ty,
                SYNC_LOGQ(sync_es_prop_type(prop)));
        return true;
    }
    if (e == CE_ESERVER && strstr(info.message, "already exist"))
        return true; /* added concurrently */
    ce_warn("sync=%s dir=to_cassandra msg=\"cannot add column\" column=%s type=%s error=%s",
            ctx->def->name, SYNC_LOGQ(key), ty, SYNC_LOGQ(e == CE_ESERVER ? info.message : ce_strerror(e)));
    return false;
}

const char *sync_column_name_refusal(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > SYNC_COLUMN_NAME_MAX)
        return "field name empty or longer than 128 bytes";
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return "field name has characters other than letters, digits and _";
    }
    return NULL;
}

/* A field that will not become a column this pass: listed in *refused with why. */
static void refuse_field(sync_pass_ctx *ctx, json_t **refused, const char *key, const char *why)
{
    if (!*refused)
        *refused = json_object();
    if (*refused)
        json_object_set_new(*refused, key, json_string(why));
    ce_warn("sync=%s dir=to_cassandra msg=\"field not added as a column; its documents go to the dead "
            "letters\" field=%s reason=%s", ctx->def->name, SYNC_LOGQ(key), SYNC_LOGQ(why));
}

/* Add columns for the index fields the table lacks (within the name rules and
 * max_new_columns; the others into *refused); true when any was added. */
static bool add_missing_columns(sync_pass_ctx *ctx, const cql_table_meta *m, json_t *props, json_t **refused)
{
    /* the source column makes echo suppression work: add it like a keyword field */
    json_t *with_source = NULL;
    const char *sf = ctx->def->source_field;
    if (sf && *sf && !json_object_get(props, sf) && !cql_table_meta_column(m, sf)) {
        with_source = json_deep_copy(props);
        if (with_source) {
            json_object_set_new(with_source, sf, json_pack("{s:s}", "type", "keyword"));
            props = with_source;
        }
    }
    bool changed = false;
    int added = 0;
    const char *key;
    json_t *prop;
    const char *tf = ctx->def->token_field;
    json_object_foreach(props, key, prop) {
        if (tf && strcmp(key, tf) == 0)
            continue; /* casselastic's own field: never a column */
        if (!json_is_object(prop) || cql_table_meta_column(m, key) || !ctx->def->alter_table)
            continue;
        bool own = sf && strcmp(key, sf) == 0; /* the source column is ours, not a field's */
        const char *why = own ? NULL : sync_column_name_refusal(key);
        if (!why && !own && added >= ctx->def->max_new_columns)
            why = "more new fields than max_new_columns in one pass";
        if (why) {
            refuse_field(ctx, refused, key, why);
            continue;
        }
        added += !own;
        changed |= add_column(ctx, m, key, prop);
    }
    json_decref(with_source);
    return changed;
}

ce_err sync_schema_evolve(sync_pass_ctx *ctx, sync_table_plan *tp, json_t **props, json_t **refused)
{
    *props = NULL;
    *refused = NULL;
    if (es_index_get_properties(ctx->es, ctx->def->index, props) != CE_OK) {
        ce_warn("sync=%s dir=to_cassandra msg=\"cannot read the index mapping\" error=%s", ctx->def->name,
                SYNC_LOGQ(es_client_errmsg(ctx->es)));
        return CE_OK;
    }
    if (!json_is_object(*props))
        return CE_OK;
    bool changed = add_missing_columns(ctx, tp->meta, *props, refused);
    const char *key;
    json_t *why;
    json_object_foreach(*refused, key, why)
        json_object_del(*props, key);
    if (!changed)
        return CE_OK;
    wait_schema_agreement(ctx);
    return reload_plan(ctx, tp, ctx->def->alter_table ? *props : NULL);
}

void sync_schema_note_conflicts(sync_pass_ctx *ctx, const json_t *props, const sync_docmap *dm, bool *skip)
{
    for (size_t i = 0; props && i < dm->ncols; i++) {
        json_t *prop = json_object_get(props, dm->names[i]);
        if (!prop || sync_es_compatible(prop, dm->types[i]))
            continue;
        skip[i] = true;
        char what[400];
        snprintf(what, sizeof what, "field \"%s\" (%s) does not fit column type", dm->names[i],
                 sync_es_prop_type(prop));
        ce_warn("sync=%s dir=to_cassandra msg=\"type conflict: field skipped\" field=%s es_type=%s",
                ctx->def->name, SYNC_LOGQ(dm->names[i]), SYNC_LOGQ(sync_es_prop_type(prop)));
        sync_result_set_error(ctx->res, "type conflict: %s; field skipped", what);
    }
}
