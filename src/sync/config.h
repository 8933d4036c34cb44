/*
 * config.h - the configuration model shared by the CLI (which loads and validates it,
 * src/cli/config_load.c) and the engine (which runs it). Plain data: the loader fills it,
 * sync_config_free releases every string it owns.
 *
 * PyCassElastic's config is accepted unchanged; every extension has a default that
 * works (see docs/config.md; the loader's key table is src/cli/config_keys.c).
 */
#ifndef CE_SYNC_CONFIG_H
#define CE_SYNC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/err.h"

typedef enum { SYNC_DIR_BOTH = 0, SYNC_DIR_TO_ES, SYNC_DIR_TO_CASSANDRA } sync_direction;

typedef enum {
    SYNC_READ_AUTO = 0,     /* index (or filter without one) when filter_date, else every row */
    SYNC_READ_FILTER,       /* range on the window column (index or ALLOW FILTERING) */
    SYNC_READ_BUCKETS,      /* partition key is a time bucket: read overlapping buckets */
    SYNC_READ_FULL_SCAN,    /* token-range parallel scan, rows filtered client-side */
    SYNC_READ_ALL,          /* every row (PyCassElastic without filter_date) */
    SYNC_READ_INDEX         /* range on the window column served by its SAI index, or refuse */
} sync_read_mode;

/* How E->C finds the documents of a pass (the capture modes, src/sync/capture.c). */
typedef enum {
    SYNC_ES_READ_VERSION = 0, /* a window on the version field (default) */
    SYNC_ES_READ_SEQ_NO       /* per shard, by _seq_no above the saved checkpoint */
} sync_es_read_mode;

typedef struct {
    char *name;
    char *comments;
    char *id_col;           /* key column(s): "id" or "a,b" for composite keys */
    char **id_cols;         /* id_col split and trimmed (sync_def_split_ids); NULL = primary key */
    size_t nid_cols;
    char *date_col;         /* may be NULL */
    char *version_col;      /* Unix time in version_unit; window column */
    bool filter_date;
    bool ignore_same_source;
    sync_direction direction;
    sync_read_mode read_mode;
    sync_es_read_mode es_read_mode;
    char *source_field;     /* default "source" */
    char *token_field;      /* C->E documents carry the partition key's Murmur3 token under
                               this name (a long; `verify` aggregates over it); NULL/"" = off */
    int64_t version_unit_us;/* microseconds per version unit: 1000 for ms (default) */
    /* Cassandra side */
    char *keyspace;         /* from sync, else from "table" = ks.table, else global */
    char *table;
    char *cassandra_source_id;   /* default "cassandra" */
    /* date buckets (read_mode = BUCKETS) */
    char *bucket_col;
    char *bucket_format;    /* strftime format of the bucket value, e.g. "%Y%m%d%H" */
    int64_t bucket_seconds; /* bucket width, e.g. 3600 */
    /* Elasticsearch side */
    char *index;
    char *type;             /* sent only to servers with mapping types */
    char *es_source_id;     /* default "elasticsearch" */
    /* window */
    int64_t safety_lag_ms;  /* default 2000 */
    int64_t overlap_ms;     /* default 60000 */
    /* sizes */
    int page_size;          /* Cassandra page size, default 20000 */
    int es_page_size;       /* ES read page size, default 2000 */
    int bulk_max_docs;      /* default 5000 */
    int bulk_max_bytes;     /* default 5 MiB */
    int bulk_concurrency;   /* default 2 */
    int write_concurrency;  /* Cassandra writes in flight, default 256 */
    int write_batch_rows;   /* rows of one replica per unlogged batch, default 10; 1 = none */
    int scan_ranges;        /* token ranges for full scans; 0 (default) = the ring's, >= 16 */
    bool delete_old_versions;   /* PyCassElastic (id, version) layout cleanup; default true */
    bool create_index;      /* default true */
    bool alter_table;       /* add columns for new ES fields; default true */
    int max_new_columns;    /* columns one E->C pass may add, default 20 */
    char *deleted_col;      /* soft-delete mark (docs/deletes.md); NULL = none */
} sync_def;

typedef struct {
    char **hosts;              /* host names or addresses, without ports */
    size_t nhosts;
    int port;                  /* default 9042; or the port given as "host:port" in url */
    char *keyspace;
    char *username, *password; /* password may come from env: "password_env" */
    bool tls;
    char *tls_ca_file, *tls_cert_file, *tls_key_file;
    bool tls_no_verify;
    char *read_consistency;    /* default "local_quorum" */
    char *write_consistency;   /* default "local_quorum" */
    int protocol_version;      /* 0 = negotiate */
    bool compression;          /* default false */
    int request_timeout_ms;    /* default 12000 */
} sync_cassandra_conf;

typedef struct {
    char **urls;               /* normalised: "http(s)://host:port", no trailing '/' */
    size_t nurls;
    char *username, *password, *api_key, *bearer_token;
    bool tls;                  /* tls.enabled: bare hosts get https:// (added by cli) */
    char *tls_ca_file, *tls_cert_file, *tls_key_file;
    bool tls_no_verify;
    int request_timeout_ms;    /* default 60000 */
} sync_es_conf;

typedef struct {
    double period_s;           /* seconds between passes, default 60 */
    double verify_every_s;     /* `run` verifies every sync this often; 0 (default) = never */
    sync_cassandra_conf cassandra;
    sync_es_conf es;
    sync_def *syncs;
    size_t nsyncs;
    char *state_dir;           /* default: the config file's folder */
    char *dead_letter_path;    /* default: <state_dir>/casselastic.deadletter.jsonl */
    char *log_file;            /* NULL = stderr */
    char *log_level;           /* default "info" */
    char *log_format;          /* "logfmt" (default) or "json" */
    char *metrics_listen;      /* "host:port" of /metrics and /healthz; NULL = no server */
    int memory_limit_mb;       /* budget of what a sync has in flight, default 256; 0 = none */
    char *config_path;         /* absolute path of the file loaded */
} sync_config;

/* Release every string the config owns and zero it. NULL is a no-op. */
void sync_config_free(sync_config *c);
/* Release the strings of one sync (the struct itself is not freed). NULL is a no-op. */
void sync_def_free(sync_def *s);
/* Fill id_cols/nid_cols from id_col ("a, b" -> {"a","b"}; NULL id_col -> none), replacing
 * any previous list. CE_EINVAL for an empty name or more than SYNC_MAX_ID_COLS names,
 * CE_ENOMEM. The loader calls it once; the engine reads the list. */
#define SYNC_MAX_ID_COLS 16
ce_err sync_def_split_ids(sync_def *s);

#endif
