/*
 * verify_int.h - the parts of `verify` (verify.h) and what they share:
 *   verify.c        the driver: ranges, progress file, summaries compared, descent, report
 *   verify_cql.c    Cassandra side: keys and versions by token range (readplan/reader reused)
 *   verify_es.c     Elasticsearch side: ids and versions from doc values, hashed to ranges
 *   verify_map.c    the id -> (Cassandra record, Elasticsearch record) table of the descent
 *   verify_repair.c --repair: newest version wins, absences settled by provenance
 */
#ifndef CE_SYNC_VERIFY_INT_H
#define CE_SYNC_VERIFY_INT_H

#include <stdatomic.h>

#include "sync/c2e_int.h"
#include "sync/verify.h"

/* Order-independent summary of a set of (id, version) records. */
typedef struct {
    uint64_t count, vsum, hash;  /* vsum, hash: sums modulo 2^64 */
    int64_t mix;                 /* exact sum of verify_mix(token, version) (bounded terms) */
} verify_sum;

/* The prime of the token-version mix: terms below 2^31, so a sum of up to 2^22 of them
 * is exact in a double (Elasticsearch's sum aggregation) and in a bigint (Cassandra's). */
#define VERIFY_MIX_P 2147483647LL

/* ((token % P) * (version % P)) % P with C's (and Java's) truncating %: the same value
 * Cassandra (CQL arithmetic) and Elasticsearch (a painless script) compute. */
static inline int64_t verify_mix(int64_t token, int64_t version)
{
    return ((token % VERIFY_MIX_P) * (version % VERIFY_MIX_P)) % VERIFY_MIX_P;
}

/* A token range (start, end] and both sides' summaries. */
typedef struct {
    int64_t start, end;
    verify_sum c, e;
    uint64_t e_agg_count;        /* documents with the token field: counted by an aggregation ... */
    double e_agg_sum;            /* ... with the sum of their versions (a double: exact below 2^53) */
    double e_agg_lo, e_agg_hi;   /* integer versions: sums of version % P and version / P ... */
    double e_agg_mix;            /* ... and of verify_mix(token, version): each exact below 2^53 */
    bool c_done;                 /* Cassandra's summary is complete (maybe from the progress file) */
    bool differs;                /* summaries differ: descend */
    bool done;                   /* compared equal (or repaired): a resumed verify skips it */
} verify_range;

/* One record as the descent sees it. */
typedef struct {
    char *id;
    bool has_c, has_e;
    int64_t c_version, e_version;
    int64_t c_writetime;         /* WRITETIME(version column) in us, or INT64_MIN */
    char c_source[32], e_source[32];
    /* a record marked deleted (deleted_col) counts as absent (has_x false); its version is
     * kept so that the repair lets the newest of mark and live record win */
    bool c_marked, e_marked;
    int64_t c_mark_version, e_mark_version;
} verify_rec;

typedef struct verify_map verify_map;

/* Cells of the verify SELECT: key parts, version, source, deleted_col, WRITETIME(version). */
#define VERIFY_MAX_CELLS (SYNC_MAX_KEY_PARTS + 4)

/* The verify of one sync. */
typedef struct {
    sync_pass_ctx ctx;           /* a pass context for the shared parts (plan, reader, writer) */
    sync_pass_result res;        /* what those parts report into */
    const sync_verify_opts *opts;
    sync_verify_result *out;
    sync_table_plan tp;
    /* the Cassandra SELECT: key columns, version, source, deleted_col, WRITETIME(version) */
    ce_buf select;
    ce_buf select_agg;           /* the summary by CQL aggregates (empty: rows are read) */
    sync_rowmap rm;              /* for sync_row_id / sync_row_version / sync_rowmap_is_deleted */
    const char *names[VERIFY_MAX_CELLS];
    const cql_type *types[VERIFY_MAX_CELLS];
    int source_cell;             /* -1 when the table has no source column */
    int pk_part[SYNC_MAX_KEY_PARTS]; /* partition key column i -> its _id part */
    size_t npk;
    /* Elasticsearch: doc-value names of the version and source fields */
    char *es_version_field, *es_source_field;
    char *es_token_field;        /* token_field when the index maps it: aggregations per range */
    char *es_deleted_field;      /* doc-value name of deleted_col when mapped with doc values */
    const char *es_deleted_type; /* its class: "boolean", "keyword", "integer", "real", "other" */
    bool es_int_version;         /* the version field is an integer type: aggregations sum
                                  * version % P, version / P and the mix by scripts */
    verify_range *ranges;
    size_t nranges, want;
    int64_t started_ms, start_v; /* the verify's start (in version units: start_v) */
    verify_map *map;
    uint64_t rows;               /* progress */
    int64_t es_count;            /* documents in the index at the start (progress, ranges) */
    double t0, last_save, last_progress;
    const char *phase;
    char progress_path[1024];
    /* the Elasticsearch summaries run on a thread of their own beside the Cassandra read:
     * it alone uses ctx.es and the e-side fields until joined; errors wait in es_rc */
    bool es_threaded;
    atomic_bool es_done;           /* the Elasticsearch thread has finished (summaries) */
    ce_err es_rc;
    char es_error[256];
} verify_job;

/* ---------------------------------------------------------------- verify.c */

/* Add (id, version) of a record whose partition has that token to a summary. */
void verify_sum_add(verify_sum *s, const char *id, size_t n, int64_t version, int64_t token);
/* Index of the range holding token (ranges sorted, covering the ring). */
size_t verify_range_of(const verify_job *j, int64_t token);
/* Progress callback (throttled) and the progress file (throttled unless force). */
void verify_report_progress(verify_job *j, bool final);
void verify_progress_save(verify_job *j, bool force);
bool verify_stop_requested(verify_job *j);
/*
 * The one place where a record marked deleted (deleted_col, docs/deletes.md) counts as
 * absent: the row's deleted_col cell (sync_rowmap_is_deleted over j->rm), the document's
 * deleted field as doc values ({"f":[v]}: the rule of sync_json_is_deleted on v).
 */
bool verify_cql_row_deleted(const verify_job *j, const cql_value *cells);
bool verify_es_doc_deleted(const verify_job *j, const struct json_t *fields);

/* ---------------------------------------------------------------- verify_cql.c */

/* The SELECT of keys and versions, the row map, the partition key's _id parts. Fails
 * (CE_ECONFIG, j->out->error says why) when the table cannot be verified. */
ce_err verify_cql_plan(verify_job *j);
/* The token ranges (j->ranges) as the full scan splits the ring (j->want ranges asked). */
ce_err verify_cql_ranges(verify_job *j);
/* Read the ranges that need it: collect false -> summaries of ranges not c_done;
 * collect true -> every record of differing ranges into j->map. */
ce_err verify_cql_read(verify_job *j, bool collect);

/* ---------------------------------------------------------------- verify_es.c */

/* Doc-value names of the version and source fields (from the index mapping). */
ce_err verify_es_plan(verify_job *j);
/* Fail the verify (on the Elasticsearch thread: keep the error for the join). */
void verify_es_fail(verify_job *j, ce_err e, const char *fmt, const char *detail);
/* Documents with the token field: count and version sum per range by aggregations
 * (j->ranges[].e_agg_*). No-op without a token field. */
ce_err verify_es_aggregate(verify_job *j);
/* Stream every document's _id and version (only those without the token field when
 * there is one; for the descent also those in differing ranges): collect false -> summaries (j->ranges[].e);
 * collect true -> records of differing ranges into j->map. */
ce_err verify_es_read(verify_job *j, bool collect);
/* Token of an _id's partition key (its parts decoded as Cassandra types). false when the
 * _id does not decode. */
bool verify_id_token(const verify_job *j, const char *id, size_t n, int64_t *token, ce_buf *scratch);

/* ---------------------------------------------------------------- verify_map.c */

ce_err verify_map_new(verify_map **out);
void verify_map_free(verify_map *m);
/* The record of id (created empty when absent); NULL when out of memory. */
verify_rec *verify_map_get(verify_map *m, const char *id, size_t n);
/* Visit every record. */
void verify_map_each(verify_map *m, void (*fn)(verify_rec *r, void *ud), void *ud);

/* ---------------------------------------------------------------- verify_repair.c */

/* Apply the fixes of j->out->diffs (their fix chosen by verify.c); marks each fixed. */
ce_err verify_repair_run(verify_job *j);

#endif
