/*
 * config_keys.c - THE table of configuration keys.
 *
 * Every key the loader accepts is one row here: JSON path, type, where it is stored,
 * default, bounds, help text. config_load.c walks JSON with it (unknown keys, type and
 * range checks, defaults, required keys), `check --effective` prints it and
 * `casselastic config-reference` turns it into the reference table of docs/config.md.
 * Defaults live here only: the loader writes every one of them into sync_config, so no
 * consumer repeats a default (no `x > 0 ? x : N`).
 * Adding a key = adding a row (and, if new, a field in sync/config.h).
 */
#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "cli/config_load.h"

#define R(field) .offset = offsetof(sync_config, field), .size = sizeof(((sync_config *)0)->field)
#define S(field) .offset = offsetof(sync_def, field), .size = sizeof(((sync_def *)0)->field)
#define NOFIELD .size = 0

/* Host lists are stored as (char **v, size_t n) pairs laid out back to back. */
static_assert(offsetof(sync_cassandra_conf, nhosts) == offsetof(sync_cassandra_conf, hosts) + sizeof(char **),
              "hosts/nhosts adjacent");
static_assert(offsetof(sync_es_conf, nurls) == offsetof(sync_es_conf, urls) + sizeof(char **),
              "urls/nurls adjacent");
static_assert(sizeof(sync_direction) == sizeof(int) && sizeof(sync_read_mode) == sizeof(int),
              "enums stored as int");
static_assert(sizeof(sync_es_read_mode) == sizeof(int), "enums stored as int");

static const cfg_enum_value consistency_values[] = {
    {"any", 0},          {"one", 1},         {"two", 2},         {"three", 3},       {"quorum", 4},
    {"all", 5},          {"local_quorum", 6}, {"each_quorum", 7}, {"local_one", 10},  {NULL, 0}};
static const cfg_enum_value log_level_values[] = {
    {"debug", 0}, {"info", 1}, {"warn", 2}, {"error", 3}, {"off", 4}, {NULL, 0}};
static const cfg_enum_value log_format_values[] = {{"logfmt", 0}, {"json", 1}, {NULL, 0}};
static const cfg_enum_value direction_values[] = {
    {"both", SYNC_DIR_BOTH}, {"to_es", SYNC_DIR_TO_ES}, {"to_cassandra", SYNC_DIR_TO_CASSANDRA}, {NULL, 0}};
static const cfg_enum_value read_mode_values[] = {
    {"auto", SYNC_READ_AUTO},           {"filter", SYNC_READ_FILTER}, {"buckets", SYNC_READ_BUCKETS},
    {"full_scan", SYNC_READ_FULL_SCAN}, {"all", SYNC_READ_ALL},       {"index", SYNC_READ_INDEX},
    {NULL, 0}};
static const cfg_enum_value es_read_mode_values[] = {
    {"version", SYNC_ES_READ_VERSION}, {"seq_no", SYNC_ES_READ_SEQ_NO}, {NULL, 0}};
static const cfg_enum_value version_unit_values[] = {{"ms", 1000}, {"us", 1}, {"s", 1000000}, {NULL, 0}};

#define TIMEOUT_MIN 100
#define TIMEOUT_MAX 3600000

static const cli_config_key keys[] = {
    /* ------------------------------------------------------------ top level */
    {.path = "period", .type = CFG_T_SECONDS, R(period_s), .def = "60", .min = 0, .max = 604800,
     .help = "Seconds between the starts of two passes in `run` (the daemon sleeps period minus the "
             "pass time, never less than 0). PyCassElastic's code multiplied it by 60; casselastic "
             "uses seconds, as PyCassElastic's README said."},
    {.path = "verify_every", .type = CFG_T_SECONDS, R(verify_every_s), .def = "0", .def_doc = "0 (off)", .min = 0,
     .max = 31622400,
     .help = "`run` runs `verify` (without repair) of every sync this often, between passes: seconds or a "
             "duration such as \"24h\", \"30m\", \"7d\"; 0 = never. The result shows in `status` "
             "(docs/verify.md)."},
    {.path = "state_dir", .type = CFG_T_PATH, R(state_dir), .def_doc = "the config file's folder",
     .help = "Folder for checkpoints, the pidfile, the status file and the dead-letter file "
             "(created when missing). `--state-dir` overrides it."},
    {.path = "dead_letter_path", .type = CFG_T_PATH, R(dead_letter_path),
     .def_doc = "<state_dir>/casselastic.deadletter.jsonl",
     .help = "JSON-lines file receiving documents that could not be converted or were refused."},
    {.path = "log_file", .type = CFG_T_PATH, R(log_file), .def_doc = "standard error",
     .help = "Log file (one line per event, appended; reopened on SIGHUP)."},
    {.path = "log_level", .type = CFG_T_ENUM, .flags = CFG_F_ENUM_STRING, R(log_level), .def = "info",
     .enum_values = log_level_values, .help = "Least severe level logged. `--log-level` overrides it."},
    {.path = "log_format", .type = CFG_T_ENUM, .flags = CFG_F_ENUM_STRING, R(log_format), .def = "logfmt",
     .enum_values = log_format_values,
     .help = "logfmt: `ts=... level=info msg=\"...\" key=value` lines; json: one JSON object a line with "
             "ts, level, msg and the other pairs as fields (unquoted numbers as JSON numbers)."},
    {.path = "memory_limit_mb", .type = CFG_T_INT, R(memory_limit_mb), .def = "256", .min = 16, .max = 1048576,
     .help = "MiB for everything a sync has in flight together: Cassandra pages being read and queued, "
             "Elasticsearch pages prefetched, bulk bodies. Page sizes shrink (by measured row and "
             "document bytes) and readers wait to stay under it. Half of it (at most 256 MiB for "
             "Cassandra, 1 GiB for Elasticsearch) is "
             "the largest Cassandra answer and the largest Elasticsearch response taken: a page over "
             "it is read again with half the rows, and a row or document alone over it goes to the "
             "dead letters. The process's own code and libraries come on top."},
    {.path = "metrics_listen", .type = CFG_T_STRING, R(metrics_listen), .def_doc = "none: no HTTP server",
     .help = "Address of the Prometheus /metrics and the /healthz probe of `run`: \"host:port\", "
             "\"[v6addr]:port\" or \":port\" (every address). `run --metrics-listen` overrides it; "
             "a reload (SIGHUP) cannot change it."},

    /* ------------------------------------------------------------ cassandra */
    {.path = "cassandra", .type = CFG_T_OBJECT, .flags = CFG_F_REQUIRED, NOFIELD, .help = "Cassandra connection."},
    {.path = "cassandra.url", .type = CFG_T_HOSTS, .flags = CFG_F_REQUIRED, R(cassandra.hosts),
     .help = "Contact points: a list of host names or addresses (or one string). \"host:port\" and "
             "\"[v6addr]:port\" set the port (the same for all hosts)."},
    {.path = "cassandra.port", .type = CFG_T_INT, R(cassandra.port), .def = "9042", .min = 1, .max = 65535,
     .help = "Native protocol port."},
    {.path = "cassandra.keyspace", .type = CFG_T_STRING, R(cassandra.keyspace),
     .def_doc = "none: each sync then names it",
     .help = "Keyspace of the tables (a sync may override it with cassandra.keyspace or a "
             "\"keyspace.table\" name)."},
    {.path = "cassandra.username", .type = CFG_T_STRING, R(cassandra.username),
     .help = "User for password authentication."},
    {.path = "cassandra.password", .type = CFG_T_SECRET, R(cassandra.password),
     .help = "Password (prefer password_env)."},
    {.path = "cassandra.password_env", .type = CFG_T_ENV, NOFIELD, .secret_of = "cassandra.password",
     .help = "Name of an environment variable holding the password; refused when the variable is not set."},
    {.path = "cassandra.tls", .type = CFG_T_OBJECT, .flags = CFG_F_BOOL_OBJECT, NOFIELD,
     .help = "TLS settings; `true`/`false` is short for {\"enabled\": ...}."},
    {.path = "cassandra.tls.enabled", .type = CFG_T_BOOL, R(cassandra.tls), .def = "false",
     .help = "Connect with TLS."},
    {.path = "cassandra.tls.ca_file", .type = CFG_T_PATH, R(cassandra.tls_ca_file),
     .def_doc = "system CA store", .help = "PEM file of CA certificates to trust."},
    {.path = "cassandra.tls.cert_file", .type = CFG_T_PATH, R(cassandra.tls_cert_file),
     .help = "PEM client certificate (with key_file)."},
    {.path = "cassandra.tls.key_file", .type = CFG_T_PATH, R(cassandra.tls_key_file),
     .help = "PEM private key of the client certificate."},
    {.path = "cassandra.tls.verify", .type = CFG_T_BOOL, .flags = CFG_F_INVERT, R(cassandra.tls_no_verify),
     .def = "true", .help = "Check the server certificate and host name (false: warned at check and every start)."},
    {.path = "cassandra.read_consistency", .type = CFG_T_ENUM, .flags = CFG_F_ENUM_STRING, R(cassandra.read_consistency),
     .def = "local_quorum", .enum_values = consistency_values, .help = "Consistency level of reads."},
    {.path = "cassandra.write_consistency", .type = CFG_T_ENUM, .flags = CFG_F_ENUM_STRING,
     R(cassandra.write_consistency), .def = "local_quorum", .enum_values = consistency_values,
     .help = "Consistency level of writes."},
    {.path = "cassandra.protocol_version", .type = CFG_T_INT, R(cassandra.protocol_version), .def = "0",
     .min = 0, .max = 5, .help = "Native protocol version: 0 negotiates (v5, then v4), or 4 or 5 (1 to 3 are refused)."},
    {.path = "cassandra.compression", .type = CFG_T_BOOL, R(cassandra.compression), .def = "false",
     .help = "LZ4-compress frames when the server supports it."},
    {.path = "cassandra.request_timeout_ms", .type = CFG_T_INT, R(cassandra.request_timeout_ms),
     .def = "12000", .min = TIMEOUT_MIN, .max = TIMEOUT_MAX, .help = "Timeout of one request."},

    /* ------------------------------------------------------------ elasticsearch */
    {.path = "elasticsearch", .type = CFG_T_OBJECT, .flags = CFG_F_REQUIRED, NOFIELD,
     .help = "Elasticsearch or OpenSearch connection."},
    {.path = "elasticsearch.url", .type = CFG_T_HOSTS, .flags = CFG_F_REQUIRED, R(es.urls),
     .help = "Nodes: a list (or one string) of \"http(s)://host:port\" URLs or bare hosts; a bare "
             "\"host\" means http://host:9200 (https with tls.enabled)."},
    {.path = "elasticsearch.username", .type = CFG_T_STRING, R(es.username), .help = "User for basic authentication."},
    {.path = "elasticsearch.password", .type = CFG_T_SECRET, R(es.password),
     .help = "Basic authentication password (prefer password_env)."},
    {.path = "elasticsearch.password_env", .type = CFG_T_ENV, NOFIELD, .secret_of = "elasticsearch.password",
     .help = "Environment variable holding the password."},
    {.path = "elasticsearch.api_key", .type = CFG_T_SECRET, R(es.api_key),
     .help = "API key, sent as \"Authorization: ApiKey ...\" (prefer api_key_env)."},
    {.path = "elasticsearch.api_key_env", .type = CFG_T_ENV, NOFIELD, .secret_of = "elasticsearch.api_key",
     .help = "Environment variable holding the API key."},
    {.path = "elasticsearch.bearer_token", .type = CFG_T_SECRET, R(es.bearer_token),
     .help = "Token sent as \"Authorization: Bearer ...\" (prefer bearer_token_env)."},
    {.path = "elasticsearch.bearer_token_env", .type = CFG_T_ENV, NOFIELD,
     .secret_of = "elasticsearch.bearer_token", .help = "Environment variable holding the bearer token."},
    {.path = "elasticsearch.tls", .type = CFG_T_OBJECT, .flags = CFG_F_BOOL_OBJECT, NOFIELD,
     .help = "TLS settings; `true`/`false` is short for {\"enabled\": ...}."},
    {.path = "elasticsearch.tls.enabled", .type = CFG_T_BOOL, R(es.tls), .def = "false",
     .help = "Bare hosts in url get https:// (URLs with a scheme keep theirs)."},
    {.path = "elasticsearch.tls.ca_file", .type = CFG_T_PATH, R(es.tls_ca_file), .def_doc = "system CA store",
     .help = "PEM file of CA certificates to trust."},
    {.path = "elasticsearch.tls.cert_file", .type = CFG_T_PATH, R(es.tls_cert_file),
     .help = "PEM client certificate (with key_file)."},
    {.path = "elasticsearch.tls.key_file", .type = CFG_T_PATH, R(es.tls_key_file),
     .help = "PEM private key of the client certificate."},
    {.path = "elasticsearch.tls.verify", .type = CFG_T_BOOL, .flags = CFG_F_INVERT, R(es.tls_no_verify), .def = "true",
     .help = "Check the server certificate and host name (false: warned at check and every start)."},
    {.path = "elasticsearch.request_timeout_ms", .type = CFG_T_INT, R(es.request_timeout_ms), .def = "60000",
     .min = TIMEOUT_MIN, .max = TIMEOUT_MAX, .help = "Timeout of one request."},

    /* ------------------------------------------------------------ syncs */
    {.path = "syncs", .type = CFG_T_SYNCS, .flags = CFG_F_REQUIRED, NOFIELD,
     .help = "The table/index pairs to keep in sync (at least one)."},
    {.path = "syncs[].name", .type = CFG_T_STRING, .flags = CFG_F_REQUIRED | CFG_F_IN_SYNC, S(name),
     .help = "Unique name; appears in logs (sync=NAME) and checkpoint file names."},
    {.path = "syncs[].comments", .type = CFG_T_STRING, .flags = CFG_F_IN_SYNC, S(comments), .help = "Free text, unused."},
    {.path = "syncs[].id_col", .type = CFG_T_KEYCOLS, .flags = CFG_F_REQUIRED | CFG_F_IN_SYNC, S(id_col),
     .help = "Key column; its value becomes the document _id. Composite keys: a list or \"a,b\"."},
    {.path = "syncs[].date_col", .type = CFG_T_STRING, .flags = CFG_F_IN_SYNC, S(date_col),
     .help = "Timestamp column of the row (copied like any column)."},
    {.path = "syncs[].version_col", .type = CFG_T_STRING, .flags = CFG_F_REQUIRED | CFG_F_IN_SYNC, S(version_col),
     .help = "Version column: Unix time (version_unit) deciding which copy is newest; also the "
             "column the time window of each pass reads."},
    {.path = "syncs[].filter_date", .type = CFG_T_BOOL, .flags = CFG_F_IN_SYNC, S(filter_date), .def = "false",
     .help = "With read_mode auto: true reads Cassandra rows by a range on the window column (read_mode "
             "index when a storage-attached index serves it, else filter); false reads every row of the table "
             "and sends every row again at every pass (read_mode all)."},
    {.path = "syncs[].ignore_same_source", .type = CFG_T_BOOL, .flags = CFG_F_IN_SYNC, S(ignore_same_source),
     .def = "true",
     .help = "Do not copy back to a side the documents that came from it (by source_field)."},
    {.path = "syncs[].direction", .type = CFG_T_ENUM, .flags = CFG_F_IN_SYNC, S(direction), .def = "both",
     .enum_values = direction_values, .help = "Which way to copy."},
    {.path = "syncs[].read_mode", .type = CFG_T_ENUM, .flags = CFG_F_IN_SYNC, S(read_mode), .def = "auto",
     .enum_values = read_mode_values,
     .help = "How Cassandra is read (docs/sync.md): auto (index or filter when filter_date, else all), "
             "index (range on version_col served by its SAI index; without it `check`, `once` and `run` "
             "exit 2 before reading), filter "
             "(range on version_col, ALLOW FILTERING: a scan of the table without an index), buckets "
             "(time-bucket partition key, see bucket), full_scan (parallel token-range scan, filtered in "
             "casselastic), all (every row)."},
    {.path = "syncs[].es_read_mode", .type = CFG_T_ENUM, .flags = CFG_F_IN_SYNC, S(es_read_mode), .def = "version",
     .enum_values = es_read_mode_values,
     .help = "How Elasticsearch is read (to Cassandra): version (a window on version_col, with overlap "
             "and safety lag) or seq_no (per shard, every write since the last pass by its sequence "
             "number, whatever its version says; see docs/sync.md)."},
    {.path = "syncs[].bucket", .type = CFG_T_OBJECT, .flags = CFG_F_IN_SYNC, NOFIELD,
     .help = "Time-bucket partition key for read_mode buckets."},
    {.path = "syncs[].bucket.column", .type = CFG_T_STRING, .flags = CFG_F_IN_SYNC, S(bucket_col),
     .help = "Partition key column holding the bucket (required by read_mode buckets)."},
    {.path = "syncs[].bucket.format", .type = CFG_T_STRING, .flags = CFG_F_IN_SYNC, S(bucket_format), .def = "%Y%m%d%H",
     .help = "strftime format (UTC) of the bucket value."},
    {.path = "syncs[].bucket.seconds", .type = CFG_T_INT64, .flags = CFG_F_IN_SYNC, S(bucket_seconds), .def = "3600",
     .min = 1, .max = 31622400, .help = "Width of one bucket in seconds."},
    {.path = "syncs[].source_field", .type = CFG_T_STRING, .flags = CFG_F_IN_SYNC, S(source_field), .def = "source",
     .help = "Column/field recording which side wrote the row (holds a source_id)."},
    {.path = "syncs[].token_field", .type = CFG_T_STRING, .flags = CFG_F_IN_SYNC, S(token_field), .def_doc = "(off)",
     .help = "Cassandra -> Elasticsearch: add the partition key's Murmur3 token to each document as a long field "
             "of this name, so `verify` compares by aggregations instead of streaming ids (docs/verify.md). A name of "
             "its own: not a column of the table, version_col, source_field, deleted_col or an id column."},
    {.path = "syncs[].version_unit", .type = CFG_T_ENUM, .flags = CFG_F_IN_SYNC, S(version_unit_us), .def = "ms",
     .enum_values = version_unit_values, .help = "Unit of version_col: ms, us or s since the Unix epoch."},
    {.path = "syncs[].safety_lag_ms", .type = CFG_T_INT64, .flags = CFG_F_IN_SYNC, S(safety_lag_ms), .def = "0",
     .min = 0, .max = 3600000,
     .help = "A pass reads versions up to now minus this lag. Writes still in flight when a pass ends are "
             "read again by the next pass's overlap, so a lag is needed only with a small overlap_ms."},
    {.path = "syncs[].overlap_ms", .type = CFG_T_INT64, .flags = CFG_F_IN_SYNC, S(overlap_ms), .def = "60000", .min = 0,
     .max = 86400000, .help = "Each window starts this much before the checkpoint (late writes, clock skew)."},
    {.path = "syncs[].page_size", .type = CFG_T_INT, .flags = CFG_F_IN_SYNC, S(page_size), .def = "20000", .min = 1,
     .max = 100000, .help = "Cassandra rows per page at most (fewer when rows are large: pages are sized by "
                               "their measured bytes to fit memory_limit_mb, and a page's body stays under 2 MiB)."},
    {.path = "syncs[].es_page_size", .type = CFG_T_INT, .flags = CFG_F_IN_SYNC, S(es_page_size), .def = "2000", .min = 1,
     .max = 10000, .help = "Documents per Elasticsearch search page at most (fewer when documents are large: a probe of "
             "a few documents sizes the page to fit memory_limit_mb)."},
    {.path = "syncs[].bulk_max_docs", .type = CFG_T_INT, .flags = CFG_F_IN_SYNC, S(bulk_max_docs), .def = "5000",
     .min = 1, .max = 100000, .help = "Documents per bulk request at most."},
    {.path = "syncs[].bulk_max_bytes", .type = CFG_T_INT, .flags = CFG_F_IN_SYNC, S(bulk_max_bytes), .def = "5242880",
     .min = 1024, .max = 104857600, .help = "Bytes per bulk request at most."},
    {.path = "syncs[].bulk_concurrency", .type = CFG_T_INT, .flags = CFG_F_IN_SYNC, S(bulk_concurrency), .def = "2",
     .min = 1, .max = 64, .help = "Bulk requests in flight."},
    {.path = "syncs[].write_concurrency", .type = CFG_T_INT, .flags = CFG_F_IN_SYNC, S(write_concurrency), .def = "256",
     .min = 1, .max = 4096, .help = "Cassandra writes in flight."},
    {.path = "syncs[].write_batch_rows", .type = CFG_T_INT, .flags = CFG_F_IN_SYNC, S(write_batch_rows), .def = "10",
     .min = 1, .max = 10,
     .help = "Elasticsearch -> Cassandra: rows of one replica sent as one unlogged batch (1 = one INSERT a request)."},
    {.path = "syncs[].scan_ranges", .type = CFG_T_INT, .flags = CFG_F_IN_SYNC, S(scan_ranges), .def = "0",
     .def_doc = "0 (= the ring's own ranges, at least 16)", .min = 0, .max = 65536,
     .help = "Token ranges of a full scan; 0 takes the ring's own ranges (a killed load resumes inside a range)."},
    {.path = "syncs[].delete_old_versions", .type = CFG_T_BOOL, .flags = CFG_F_IN_SYNC, S(delete_old_versions),
     .def = "true",
     .help = "Delete older copies left by PyCassElastic's (id, version) key layout once the newest is copied."},
    {.path = "syncs[].create_index", .type = CFG_T_BOOL, .flags = CFG_F_IN_SYNC, S(create_index), .def = "true",
     .help = "Create the index when it does not exist."},
    {.path = "syncs[].alter_table", .type = CFG_T_BOOL, .flags = CFG_F_IN_SYNC, S(alter_table), .def = "true",
     .help = "Add Cassandra columns for new Elasticsearch fields."},
    {.path = "syncs[].max_new_columns", .type = CFG_T_INT, .flags = CFG_F_IN_SYNC, S(max_new_columns), .def = "20",
     .min = 1, .max = 1000,
     .help = "Elasticsearch -> Cassandra: columns one pass may add (alter_table). Fields beyond it, and "
             "field names that cannot be columns (longer than 128 bytes, or other characters than "
             "letters, digits and _), are not added: the documents carrying them go to the dead "
             "letters with the reason; the others sync."},
    {.path = "syncs[].deleted_col", .type = CFG_T_STRING, .flags = CFG_F_IN_SYNC, S(deleted_col),
     .def_doc = "none: deletes do not travel",
     .help = "Column/field marking a record deleted (soft delete): boolean true, a non-zero number or "
             "any other value (a deletion timestamp); null, absent, empty, false, \"false\" and a number "
             "equal to zero (0, 0.0, -0, a zero decimal, the text \"0\") are live, so a 0/1 int flag "
             "works. A row so marked "
             "deletes its document (external version = its version; the row stays); a document so "
             "marked deletes its row (USING TIMESTAMP of its version; the document stays). For "
             "Cassandra -> Elasticsearch it must be a column of the table. See docs/deletes.md."},
    {.path = "syncs[].cassandra", .type = CFG_T_OBJECT, .flags = CFG_F_REQUIRED | CFG_F_IN_SYNC, NOFIELD,
     .help = "The Cassandra side of the sync."},
    {.path = "syncs[].cassandra.table", .type = CFG_T_STRING, .flags = CFG_F_REQUIRED | CFG_F_IN_SYNC, S(table),
     .help = "Table name, or \"keyspace.table\"."},
    {.path = "syncs[].cassandra.keyspace", .type = CFG_T_STRING, .flags = CFG_F_IN_SYNC, S(keyspace),
     .def_doc = "cassandra.keyspace", .help = "Keyspace of this table."},
    {.path = "syncs[].cassandra.source_id", .type = CFG_T_STRING, .flags = CFG_F_IN_SYNC, S(cassandra_source_id),
     .def = "cassandra", .help = "Value of source_field for rows written on the Cassandra side."},
    {.path = "syncs[].cassandra.id_col", .type = CFG_T_KEYCOLS, .flags = CFG_F_IN_SYNC | CFG_F_LEGACY, S(id_col),
     .alias_of = "syncs[].id_col", .help = "PyCassElastic's old place for id_col."},
    {.path = "syncs[].cassandra.date_col", .type = CFG_T_STRING, .flags = CFG_F_IN_SYNC | CFG_F_LEGACY, S(date_col),
     .alias_of = "syncs[].date_col", .help = "PyCassElastic's old place for date_col."},
    {.path = "syncs[].cassandra.version_col", .type = CFG_T_STRING, .flags = CFG_F_IN_SYNC | CFG_F_LEGACY,
     S(version_col), .alias_of = "syncs[].version_col", .help = "PyCassElastic's old place for version_col."},
    {.path = "syncs[].cassandra.fields_list", .type = CFG_T_STRING, .flags = CFG_F_IN_SYNC | CFG_F_LEGACY, NOFIELD,
     .help = "PyCassElastic's column list; ignored with a warning (every column is synced)."},
    {.path = "syncs[].elasticsearch", .type = CFG_T_OBJECT, .flags = CFG_F_REQUIRED | CFG_F_IN_SYNC, NOFIELD,
     .help = "The Elasticsearch side of the sync."},
    {.path = "syncs[].elasticsearch.index", .type = CFG_T_STRING, .flags = CFG_F_REQUIRED | CFG_F_IN_SYNC, S(index),
     .help = "Index name, by Elasticsearch's rules: lowercase, at most 255 bytes, none of \\ / * ? \" < > | "
             "space , # :, not starting with - _ +, not . or .. (checked by `check`)."},
    {.path = "syncs[].elasticsearch.type", .type = CFG_T_STRING, .flags = CFG_F_IN_SYNC, S(type),
     .help = "Mapping type; sent only to servers that still have types (Elasticsearch 6 and older)."},
    {.path = "syncs[].elasticsearch.source_id", .type = CFG_T_STRING, .flags = CFG_F_IN_SYNC, S(es_source_id),
     .def = "elasticsearch", .help = "Value of source_field for documents written on the Elasticsearch side."},
};

const cli_config_key *cli_config_keys(size_t *n)
{
    *n = sizeof keys / sizeof keys[0];
    return keys;
}

const cli_config_key *cli_config_key_find(const char *schema_path)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(keys[i].path, schema_path) == 0)
            return &keys[i];
    return NULL;
}
