/*
 * conv.h - public face of the JSON <-> CQL value conversion (library ce_conv).
 *
 * The CQL client (src/cql) moves values as bytes; this module gives them their JSON
 * form for Elasticsearch documents and reads JSON back into bytes for writes into
 * Cassandra. It is the only part of the Cassandra side that knows JSON (jansson).
 * docs/types.md is the reference of every form; cql/type_table.h lists the types and
 * names each one's conversion functions.
 */
#ifndef CE_CONV_H
#define CE_CONV_H

#include <stdbool.h>
#include <stdint.h>

#include "cql/cql.h"
#include "util/buf.h"
#include "util/err.h"

struct json_t; /* jansson's value type */

/*
 * Most decimal digits of a varint, or of a decimal's unscaled value, converted either
 * way. Beyond it conversion is refused (text <-> binary is quadratic in the digits: the
 * cap keeps one value under a millisecond). On the wire that is about 4 KiB.
 */
#define CONV_MAX_DIGITS 10000

/*
 * Append the JSON form of one serialized value of type t (len < 0 = null -> null).
 * No allocation except growth of b. Forms (docs/types.md is the reference):
 *   ascii/text -> string; bigint/counter/int/smallint/tinyint -> number;
 *   varint/decimal -> number with every digit (decimal as unscaled*10^-scale, e.g. 12.345);
 *   float/double -> shortest round-trip number, NaN/Inf as strings;
 *   boolean -> true/false; blob -> base64 string; uuid/timeuuid -> "8-4-4-4-12";
 *   inet -> "1.2.3.4" / "::1"; timestamp -> "2026-11-25T10:00:00.123Z";
 *   date -> "2026-11-25"; time -> "10:00:00.123456789"; duration -> "1mo2d3ns"
 *   (ISO-like CQL duration text); list/set/vector -> array; map -> object when keys
 *   are text-like else array of [key, value] pairs; tuple -> array; udt -> object.
 * Edge forms: decimal with scale < 0 or > 64 -> 12345E+2 / 1E-100; timestamps outside
 * years 0000-9999 -> epoch ms number; dates outside them -> "+010000-01-01"; empty
 * (0-byte) non-string values -> null; custom types -> base64 like blob.
 * CE_EPROTO when the bytes do not match the type; CE_ECONVERT for a varint or decimal
 * of more than CONV_MAX_DIGITS digits; CE_ENOMEM/CE_ELIMIT when b cannot grow. On any
 * failure b is unchanged.
 */
ce_err conv_value_to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_buf *b);

/*
 * Serialize a JSON value as type t, appending the bytes to out. Accepts the forms
 * written by conv_value_to_json plus natural alternatives (numbers for timestamps = ms
 * since epoch, numeric strings for numbers, "true"/"false"). JSON null -> *is_null =
 * true and nothing appended. On CE_ECONVERT, err (if not NULL) gets a reason such as
 * "value 300 out of range for tinyint"; on any failure out is unchanged. CE_EINVAL
 * when t, json or out is NULL. json is only read.
 */
ce_err conv_value_from_json(const cql_type *t, const struct json_t *json, ce_buf *out,
                            bool *is_null, ce_buf *err);

#endif
