/*
 * mapping.h - the Elasticsearch mapping of a Cassandra table and the CQL type of an
 * Elasticsearch field (mapping.c; pure: builds JSON text, reads jansson objects).
 * Scalar properties come from the type table (cql/type_table.h, its es column);
 * server differences come from es_caps.
 */
#ifndef CE_SYNC_MAPPING_H
#define CE_SYNC_MAPPING_H

#include <stdbool.h>

#include "cql/cql.h"
#include "es/es.h"
#include "sync/config.h"
#include "util/buf.h"
#include "util/err.h"

struct json_t; /* jansson's value type */

/* Index creation body {"settings":{...},"mappings":{...}} for a table, appended to body.
 * Servers with mapping types get d->type (default "_doc"); OpenSearch with the k-NN
 * plugin (caps->knn_plugin) gets index.knn and knn_vector fields. CE_ENOMEM/CE_ELIMIT
 * when body cannot grow. */
ce_err sync_mapping_build(const cql_table_meta *m, const sync_def *d, const es_caps *caps,
                          ce_buf *body);
/* The property object for one CQL type, appended to b (is_key: text ids become
 * keywords). */
ce_err sync_mapping_property(const cql_type *t, bool is_key, const es_caps *caps, ce_buf *b);
/* CQL type text for an ES mapping property (a JSON object). Static, never NULL. */
const char *sync_cql_type_for_es(const struct json_t *prop);
/* Whether values of an ES property can be written into a column of type t. */
bool sync_es_compatible(const struct json_t *prop, const cql_type *t);
/* ES "type" of a property ("object" when it has none). Owned by prop, never NULL. */
const char *sync_es_prop_type(const struct json_t *prop);

#endif
