/*
 * config_check.c - checks across keys, run once the key table has been applied: host and
 * port forms, URLs, credentials and TLS (errors, and warnings for settings that weaken
 * security), sync names, table and index names, the metrics address, then the computed paths
 * of the state folder.
 * Texts never carry a URL's user:password@ (es_url_redact).
 */
#include "cli/config_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/metrics.h"
#include "es/es.h"
#include "sync/state.h"

#define MAX_SYNC_NAME 100
#define MAX_INDEX_NAME_BYTES 255

/* "host", "host:port", "[v6]:port", "v6addr" -> host (owned) and port (0 = none). */
static bool split_host_port(const char *s, char **host, int *port)
{
    *port = 0;
    const char *colon = NULL;
    size_t hlen = strlen(s);
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb)
            return false;
        *host = strndup(s + 1, (size_t)(rb - s - 1));
        if (rb[1] == ':')
            colon = rb + 1;
        else if (rb[1] != '\0')
            return free(*host), *host = NULL, false;
    } else {
        colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':')) /* bare IPv6 address */
            colon = NULL;
        *host = strndup(s, colon ? (size_t)(colon - s) : hlen);
    }
    if (!*host)
        return false;
    if (colon) {
        char *end;
        errno = 0;
        long p = strtol(colon + 1, &end, 10);
        if (errno || *end || end == colon + 1 || p < 1 || p > 65535) {
            free(*host);
            *host = NULL;
            return false;
        }
        *port = (int)p;
    }
    if ((*host)[0] == '\0') { /* ":9042" or "[]:9042": no host */
        free(*host);
        *host = NULL;
        return false;
    }
    return true;
}

static void check_cassandra_hosts(cfg_loader *L)
{
    sync_cassandra_conf *c = &L->cfg->cassandra;
    const cli_config_key *pk = cli_config_key_find("cassandra.port");
    bool port_set = cfg_was_set(L, cfg_field_addr(L, pk, 0));
    int seen_port = 0;
    for (size_t i = 0; i < c->nhosts; i++) {
        char *host = NULL, shown[512], d[64];
        int port = 0;
        snprintf(d, sizeof d, "cassandra.url[%zu]", i);
        if (!split_host_port(c->hosts[i], &host, &port)) {
            es_url_redact(c->hosts[i], shown, sizeof shown);
            cfg_err(L, d, "bad host \"%s\" (expected host, host:port or [address]:port)", shown);
            continue;
        }
        if (port) {
            if ((seen_port && port != seen_port) || (port_set && port != c->port))
                cfg_err(L, d, "port %d differs from %d: all hosts use one port", port, seen_port ? seen_port : c->port);
            seen_port = port;
        }
        free(c->hosts[i]);
        c->hosts[i] = host;
    }
    if (seen_port)
        c->port = seen_port;
}

static void check_cassandra(cfg_loader *L)
{
    sync_cassandra_conf *c = &L->cfg->cassandra;
    check_cassandra_hosts(L);
    if (c->protocol_version != 0 && c->protocol_version != 4 && c->protocol_version != 5)
        cfg_err(L, "cassandra.protocol_version", "must be 4, 5 or 0 (auto: v5, then v4), got %d",
                c->protocol_version);
    if ((c->tls_cert_file != NULL) != (c->tls_key_file != NULL))
        cfg_err(L, c->tls_cert_file ? "cassandra.tls.key_file" : "cassandra.tls.cert_file",
                "cert_file and key_file go together");
    if (c->password && !c->username)
        cfg_warn(L, "cassandra.username", "a password is set but no username: no authentication will be tried");
    if (c->password && c->username && !c->tls)
        cfg_warn(L, "cassandra.password", "sent without TLS: anyone on the network path can read it "
                                          "(set cassandra.tls)");
    if (c->tls_no_verify)
        cfg_warn(L, "cassandra.tls.verify", "false: the server's certificate and host name are not checked, "
                                            "anyone on the network path can pose as the server");
}

/* One entry of elasticsearch.url in its normal form "http(s)://host:port" (no trailing '/');
 * NULL (with an error, or L->oom) when malformed. */
static char *es_url_normalise(cfg_loader *L, size_t i, const char *u, bool tls)
{
    char d[64], shown[1024];
    snprintf(d, sizeof d, "elasticsearch.url[%zu]", i);
    es_url_redact(u, shown, sizeof shown);
    char *norm = NULL;
    const char *sep = strstr(u, "://");
    if (sep) {
        size_t sl = (size_t)(sep - u);
        if (!((sl == 4 && strncasecmp(u, "http", 4) == 0) || (sl == 5 && strncasecmp(u, "https", 5) == 0)) ||
            !sep[3]) {
            cfg_err(L, d, "bad URL \"%s\" (expected http://host:port or https://host:port)", shown);
            return NULL;
        }
        norm = strdup(u);
    } else {
        char *host = NULL;
        int port = 0;
        if (!split_host_port(u, &host, &port) || strchr(host, '/')) {
            cfg_err(L, d, "bad host \"%s\"", shown);
            free(host);
            return NULL;
        }
        bool v6 = strchr(host, ':') != NULL;
        norm = cfg_strf("%s://%s%s%s:%d", tls ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "",
                        port ? port : 9200);
        free(host);
    }
    if (!norm) {
        L->oom = true;
        return NULL;
    }
    size_t n = strlen(norm);
    while (n > 0 && norm[n - 1] == '/')
        norm[--n] = '\0';
    return norm;
}

/* Does the URL carry user:password@ in its authority? */
static bool url_has_userinfo(const char *u)
{
    const char *sep = strstr(u, "://");
    const char *host = sep ? sep + 3 : u;
    const char *at = strchr(host, '@'), *slash = strchr(host, '/');
    return at && (!slash || at < slash);
}

/* Credentials over http:// cross the network in clear: a warning naming the credential. */
static void check_es_plain_credentials(cfg_loader *L)
{
    sync_es_conf *e = &L->cfg->es;
    const char *cred = e->password ? "elasticsearch.password" : e->api_key ? "elasticsearch.api_key"
                                                               : e->bearer_token ? "elasticsearch.bearer_token"
                                                                                 : NULL;
    for (size_t i = 0; i < e->nurls; i++) {
        if (strncasecmp(e->urls[i], "http://", 7) != 0)
            continue;
        char d[64], shown[1024];
        es_url_redact(e->urls[i], shown, sizeof shown);
        snprintf(d, sizeof d, "elasticsearch.url[%zu]", i);
        if (url_has_userinfo(e->urls[i]))
            cfg_warn(L, d, "user:password in an http:// URL (%s) is sent without TLS: anyone on the network "
                           "path can read it (use https://)", shown);
        if (cred)
            cfg_warn(L, cred, "sent without TLS to %s: anyone on the network path can read it (use https://)",
                     shown);
    }
}

static void check_es(cfg_loader *L)
{
    sync_es_conf *e = &L->cfg->es;
    for (size_t i = 0; i < e->nurls; i++) {
        char *norm = es_url_normalise(L, i, e->urls[i], e->tls);
        if (!norm)
            continue;
        free(e->urls[i]);
        e->urls[i] = norm;
    }
    if ((e->tls_cert_file != NULL) != (e->tls_key_file != NULL))
        cfg_err(L, e->tls_cert_file ? "elasticsearch.tls.key_file" : "elasticsearch.tls.cert_file",
                "cert_file and key_file go together");
    int auths = (e->password != NULL) + (e->api_key != NULL) + (e->bearer_token != NULL);
    if (auths > 1)
        cfg_err(L, "elasticsearch", "choose one of password, api_key and bearer_token");
    if (e->password && !e->username)
        cfg_err(L, "elasticsearch.username", "needed with a password");
    check_es_plain_credentials(L);
    if (e->tls_no_verify)
        cfg_warn(L, "elasticsearch.tls.verify", "false: the server's certificate and host name are not checked, "
                                                "anyone on the network path can pose as the server");
}

/* Elasticsearch's rules for index names (a name like "a*" would match other indexes). */
static const char *index_name_problem(const char *s)
{
    static const char forbidden[] = "\\/*?\"<>| ,#:";
    size_t n = strlen(s);
    if (n == 0)
        return "empty index name";
    if (n > MAX_INDEX_NAME_BYTES)
        return "longer than 255 bytes";
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return "cannot be \".\" or \"..\"";
    if (s[0] == '-' || s[0] == '_' || s[0] == '+')
        return "cannot start with '-', '_' or '+'";
    for (const char *p = s; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            return "must be lowercase";
        if (strchr(forbidden, *p))
            return "cannot contain \\, /, *, ?, \", <, >, |, space, ',', '#' or ':'";
        if ((unsigned char)*p < 0x20)
            return "cannot contain control characters";
    }
    return NULL;
}

/* "keyspace.table" -> keyspace and table; the sync's keyspace from the global one. */
static void check_table(cfg_loader *L, size_t i, sync_def *s)
{
    char p[96];
    snprintf(p, sizeof p, "syncs[%zu].cassandra.table", i);
    char *dot = strchr(s->table, '.');
    if (dot) {
        char *ks = strndup(s->table, (size_t)(dot - s->table));
        char *tb = strdup(dot + 1);
        if (!ks || !tb) {
            L->oom = true;
        } else if (!ks[0] || !tb[0] || strchr(tb, '.')) {
            cfg_err(L, p, "bad table name \"%s\" (expected table or keyspace.table)", s->table);
        } else if (s->keyspace && strcmp(s->keyspace, ks) != 0) {
            cfg_err(L, p, "keyspace \"%s\" differs from syncs[%zu].cassandra.keyspace \"%s\"", ks, i, s->keyspace);
        } else {
            free(s->keyspace);
            s->keyspace = ks;
            ks = NULL;
            free(s->table);
            s->table = tb;
            tb = NULL;
        }
        free(ks);
        free(tb);
    } else if (!s->table[0]) {
        cfg_err(L, p, "empty table name");
    }
    if (!s->keyspace && L->cfg->cassandra.keyspace && !(s->keyspace = strdup(L->cfg->cassandra.keyspace)))
        L->oom = true;
    if (!s->keyspace)
        cfg_err(L, p, "no keyspace: set cassandra.keyspace or write \"keyspace.table\"");
}

static void check_sync_name(cfg_loader *L, size_t i, const sync_def *s)
{
    char p[96];
    snprintf(p, sizeof p, "syncs[%zu].name", i);
    if (!s->name[0] || strlen(s->name) > MAX_SYNC_NAME)
        cfg_err(L, p, "must be 1 to %d characters", MAX_SYNC_NAME);
    for (size_t j = 0; j < i; j++)
        if (L->cfg->syncs[j].name && strcmp(L->cfg->syncs[j].name, s->name) == 0) {
            cfg_err(L, p, "duplicate sync name \"%s\" (also syncs[%zu].name)", s->name, j);
            break;
        }
}

/* deleted_col and token_field: a column / field of its own, not one the sync already gives a
 * job (whether the table has it is checked when a pass reads the table). key names the key,
 * name its value. */
static void check_own_column(cfg_loader *L, size_t i, const sync_def *s, const char *key, const char *name)
{
    if (!name)
        return;
    bool is_deleted_col = strcmp(key, "deleted_col") == 0;
    char p[96];
    snprintf(p, sizeof p, "syncs[%zu].%s", i, key);
    if (!name[0]) {
        if (is_deleted_col) /* an empty token_field means off */
            cfg_err(L, p, "must name a column");
        return;
    }
    const char *clash = s->version_col && strcmp(name, s->version_col) == 0       ? "version_col"
                        : s->source_field && strcmp(name, s->source_field) == 0 ? "source_field"
                        : !is_deleted_col && s->deleted_col && strcmp(name, s->deleted_col) == 0
                            ? "deleted_col"
                            : NULL;
    for (size_t k = 0; !clash && k < s->nid_cols; k++)
        if (strcmp(name, s->id_cols[k]) == 0)
            clash = "id_col";
    if (clash)
        cfg_err(L, p, "\"%s\" is already the %s", name, clash);
}

static void check_sync(cfg_loader *L, size_t i, sync_def *s)
{
    char p[96];
    snprintf(p, sizeof p, "syncs[%zu].id_col", i);
    ce_err idr = sync_def_split_ids(s);
    if (idr == CE_ENOMEM)
        L->oom = true;
    else if (idr)
        cfg_err(L, p, "expected 1 to %d column names", SYNC_MAX_ID_COLS);
    if (s->name)
        check_sync_name(L, i, s);
    if (s->table)
        check_table(L, i, s);
    const char *why = s->index ? index_name_problem(s->index) : NULL;
    if (why) {
        snprintf(p, sizeof p, "syncs[%zu].elasticsearch.index", i);
        cfg_err(L, p, "%s (Elasticsearch's rules for index names)", why);
    }
    if (s->read_mode == SYNC_READ_BUCKETS && !s->bucket_col) {
        snprintf(p, sizeof p, "syncs[%zu].bucket.column", i);
        cfg_err(L, p, "missing: read_mode \"buckets\" needs the bucket column");
    }
    if (s->bucket_format && !strchr(s->bucket_format, '%')) {
        snprintf(p, sizeof p, "syncs[%zu].bucket.format", i);
        cfg_err(L, p, "\"%s\" has no %% conversion (e.g. \"%%Y%%m%%d%%H\")", s->bucket_format);
    }
    if (s->cassandra_source_id && s->es_source_id && strcmp(s->cassandra_source_id, s->es_source_id) == 0) {
        snprintf(p, sizeof p, "syncs[%zu].elasticsearch.source_id", i);
        cfg_err(L, p, "must differ from cassandra.source_id (\"%s\")", s->es_source_id);
    }
    check_own_column(L, i, s, "deleted_col", s->deleted_col);
    check_own_column(L, i, s, "token_field", s->token_field);
    if (s->overlap_ms < s->safety_lag_ms) {
        snprintf(p, sizeof p, "syncs[%zu].overlap_ms", i);
        cfg_warn(L, p, "smaller than safety_lag_ms: late writes may be missed");
    } else if (s->overlap_ms == 0 && s->safety_lag_ms == 0) {
        snprintf(p, sizeof p, "syncs[%zu].overlap_ms", i);
        cfg_warn(L, p, "0 with safety_lag_ms 0: a write still in flight when a pass ends may be missed");
    }
}

static void finish_paths(cfg_loader *L, const char *state_dir_override)
{
    sync_config *c = L->cfg;
    if (state_dir_override) {
        free(c->state_dir);
        c->state_dir = strdup(state_dir_override);
    }
    if (!c->state_dir)
        c->state_dir = strdup(L->base_dir ? L->base_dir : ".");
    if (!c->state_dir) {
        L->oom = true;
        return;
    }
    if (c->dead_letter_path)
        return;
    ce_buf b = CE_BUF_INIT;
    if (sync_state_path(&b, c->state_dir, SYNC_STATE_DEADLETTER, NULL, NULL) != CE_OK ||
        !(c->dead_letter_path = ce_buf_steal(&b, NULL)))
        L->oom = true;
    ce_buf_free(&b);
}

/* metrics_listen: the same parser the server uses, so `check` refuses what `run` would. */
static void check_metrics_listen(cfg_loader *L)
{
    const char *a = L->cfg->metrics_listen;
    char host[128];
    int port;
    if (a && metrics_listen_parse(a, host, sizeof host, &port) != CE_OK)
        cfg_err(L, "metrics_listen", "bad address \"%s\" (expected host:port, [v6addr]:port or :port)", a);
}

void cfg_check_all(cfg_loader *L, const char *state_dir_override)
{
    check_metrics_listen(L);
    check_cassandra(L);
    check_es(L);
    for (size_t i = 0; i < L->cfg->nsyncs; i++)
        check_sync(L, i, &L->cfg->syncs[i]);
    finish_paths(L, state_dir_override);
}
