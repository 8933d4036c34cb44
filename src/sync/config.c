/* config.c - the config model's own helpers: id_col split into its list, secrets wiped and
 * every string released (the loader lives in src/cli/config_load.c). */
#include "sync/config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void sync_def_free(sync_def *s)
{
    if (!s)
        return;
    free_strv(s->id_cols, s->nid_cols);
    s->id_cols = NULL;
    s->nid_cols = 0;
    char **fields[] = {&s->name, &s->comments, &s->id_col, &s->date_col, &s->version_col,
                       &s->source_field, &s->token_field, &s->keyspace, &s->table, &s->cassandra_source_id,
                       &s->bucket_col, &s->bucket_format, &s->index, &s->type, &s->es_source_id,
                       &s->deleted_col};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
}

/* Overwrite a secret before its memory goes back to the allocator. */
static void wipe_free(char **s)
{
    if (*s)
        explicit_bzero(*s, strlen(*s));
    free(*s);
    *s = NULL;
}

void sync_config_free(sync_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nsyncs; i++)
        sync_def_free(&c->syncs[i]);
    free(c->syncs);
    sync_cassandra_conf *k = &c->cassandra;
    free_strv(k->hosts, k->nhosts);
    wipe_free(&k->password);
    char **kf[] = {&k->keyspace, &k->username, &k->tls_ca_file, &k->tls_cert_file,
                   &k->tls_key_file, &k->read_consistency, &k->write_consistency};
    for (size_t i = 0; i < sizeof kf / sizeof kf[0]; i++)
        free(*kf[i]);
    sync_es_conf *e = &c->es;
    free_strv(e->urls, e->nurls);
    wipe_free(&e->password);
    wipe_free(&e->api_key);
    wipe_free(&e->bearer_token);
    char **ef[] = {&e->username, &e->tls_ca_file,
                   &e->tls_cert_file, &e->tls_key_file};
    for (size_t i = 0; i < sizeof ef / sizeof ef[0]; i++)
        free(*ef[i]);
    free(c->state_dir);
    free(c->dead_letter_path);
    free(c->log_file);
    free(c->log_level);
    free(c->log_format);
    free(c->metrics_listen);
    free(c->config_path);
    *c = (sync_config){0};
}

ce_err sync_def_split_ids(sync_def *s)
{
    free_strv(s->id_cols, s->nid_cols);
    s->id_cols = NULL;
    s->nid_cols = 0;
    if (!s->id_col)
        return CE_OK;
    char **v = calloc(SYNC_MAX_ID_COLS, sizeof *v);
    if (!v)
        return CE_ENOMEM;
    size_t n = 0;
    ce_err err = CE_OK;
    for (const char *p = s->id_col; !err;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        while (p < end && isspace((unsigned char)*p))
            p++;
        while (end > p && isspace((unsigned char)end[-1]))
            end--;
        if (end == p || n == SYNC_MAX_ID_COLS)
            err = CE_EINVAL;
        else if (!(v[n++] = strndup(p, (size_t)(end - p))))
            err = CE_ENOMEM;
        if (!comma)
            break;
        p = comma + 1;
    }
    if (err) {
        free_strv(v, n);
        return err;
    }
    s->id_cols = v;
    s->nid_cols = n;
    return CE_OK;
}
