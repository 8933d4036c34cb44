/* config.c - releasing a sync_config (the loader lives in src/cli/config_load.c). */
#include "sync/config.h"

#include <stdlib.h>

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
    char **fields[] = {&s->name, &s->comments, &s->id_col, &s->date_col, &s->version_col,
                       &s->source_field, &s->keyspace, &s->table, &s->cassandra_source_id,
                       &s->bucket_col, &s->bucket_format, &s->index, &s->type, &s->es_source_id};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
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
    char **kf[] = {&k->keyspace, &k->username, &k->password, &k->tls_ca_file, &k->tls_cert_file,
                   &k->tls_key_file, &k->read_consistency, &k->write_consistency};
    for (size_t i = 0; i < sizeof kf / sizeof kf[0]; i++)
        free(*kf[i]);
    sync_es_conf *e = &c->es;
    free_strv(e->urls, e->nurls);
    char **ef[] = {&e->username, &e->password, &e->api_key, &e->bearer_token, &e->tls_ca_file,
                   &e->tls_cert_file, &e->tls_key_file};
    for (size_t i = 0; i < sizeof ef / sizeof ef[0]; i++)
        free(*ef[i]);
    free(c->state_dir);
    free(c->dead_letter_path);
    free(c->log_file);
    free(c->log_level);
    free(c->config_path);
    *c = (sync_config){0};
}
