/*
 * ce_types_tool - the CQL type and value layer (src/cql types, value_json, value_parse,
 * murmur3) from the command line, for the integration tests. No server connection:
 * pytest compares what this prints with what Cassandra itself computes.
 *
 * Reads one JSON object per stdin line and prints one JSON line per input:
 *   {"token": ["int", "text"], "values": [1, "x"]}
 *       -> {"token": -123}   the Murmur3 token of that partition key (values
 *          serialized with conv_value_from_json, composite keys as Cassandra builds them)
 *   {"type": "map<text, int>", "json": {...}}
 *       -> {"hex": "..."}    the serialized bytes
 *   {"type": "list<int>", "hex": "0000..."}
 *       -> {"json": ...}     the conv_value_to_json form
 * Failures print {"error": "CE_...", "message": "..."} for that line and go on.
 * Exit status 0 unless stdin could not be read.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv/conv.h"
#include "cql/cql.h"
#include "util/jsonw.h"

static void print_error(ce_err e, const char *msg)
{
    ce_buf b = CE_BUF_INIT;
    ce_buf_printf(&b, "{\"error\":\"%s\",\"message\":", ce_errname(e));
    jsonw_cstr(&b, msg ? msg : "");
    ce_buf_append_str(&b, "}\n");
    fwrite(b.data, 1, b.len, stdout);
    ce_buf_free(&b);
}

static void print_hex(const char *key, const uint8_t *p, size_t n)
{
    printf("{\"%s\":\"", key);
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\"}\n");
}

static int unhex(const char *h, ce_buf *out)
{
    size_t n = strlen(h);
    if (n % 2)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        unsigned v;
        if (sscanf(h + i, "%2x", &v) != 1)
            return -1;
        ce_buf_append_byte(out, (uint8_t)v);
    }
    return 0;
}

static void do_token(json_t *types, json_t *values)
{
    size_t n = json_array_size(types);
    if (!n || n != json_array_size(values) || n > 16) {
        print_error(CE_EINVAL, "token needs equal non-empty arrays of types and values");
        return;
    }
    ce_buf store = CE_BUF_INIT, err = CE_BUF_INIT, rk = CE_BUF_INIT;
    size_t offs[16];
    cql_value parts[16];
    ce_err e = CE_OK;
    for (size_t i = 0; i < n && !e; i++) {
        cql_type *t = NULL;
        bool is_null = false;
        e = cql_type_parse(json_string_value(json_array_get(types, i)), &t);
        if (e) {
            print_error(e, "bad type");
            break;
        }
        offs[i] = store.len;
        e = conv_value_from_json(t, json_array_get(values, i), &store, &is_null, &err);
        cql_type_free(t);
        if (e) {
            print_error(e, ce_buf_cstr(&err));
            break;
        }
        parts[i].len = is_null ? CQL_NULL : (int32_t)(store.len - offs[i]);
    }
    if (!e) {
        for (size_t i = 0; i < n; i++)
            parts[i].ptr = (const uint8_t *)store.data + offs[i];
        e = cql_routing_key(parts, n, &rk);
        if (e)
            print_error(e, "no routing key");
        else
            printf("{\"token\":%lld}\n",
                   (long long)cql_murmur3_token((const uint8_t *)rk.data, rk.len));
    }
    ce_buf_free(&store);
    ce_buf_free(&err);
    ce_buf_free(&rk);
}

static void do_convert(const char *type, json_t *json, const char *hex)
{
    cql_type *t = NULL;
    ce_err e = cql_type_parse(type, &t);
    if (e) {
        print_error(e, "bad type");
        return;
    }
    ce_buf b = CE_BUF_INIT, err = CE_BUF_INIT;
    if (json) {
        bool is_null = false;
        e = conv_value_from_json(t, json, &b, &is_null, &err);
        if (e)
            print_error(e, ce_buf_cstr(&err));
        else if (is_null)
            printf("{\"hex\":null}\n");
        else
            print_hex("hex", (const uint8_t *)b.data, b.len);
    } else {
        ce_buf raw = CE_BUF_INIT;
        if (unhex(hex, &raw)) {
            print_error(CE_EINVAL, "bad hex");
        } else {
            ce_buf_append_str(&b, "{\"json\":");
            e = conv_value_to_json(t, (const uint8_t *)raw.data, (int32_t)raw.len, &b);
            if (e) {
                print_error(e, "cannot convert");
            } else {
                ce_buf_append_str(&b, "}\n");
                fwrite(b.data, 1, b.len, stdout);
            }
        }
        ce_buf_free(&raw);
    }
    ce_buf_free(&b);
    ce_buf_free(&err);
    cql_type_free(t);
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (n <= 1)
            continue;
        json_error_t je;
        json_t *j = json_loads(line, JSON_ALLOW_NUL, &je);
        if (!j || !json_is_object(j)) {
            print_error(CE_EJSON, je.text);
        } else if (json_object_get(j, "token")) {
            do_token(json_object_get(j, "token"), json_object_get(j, "values"));
        } else if (json_is_string(json_object_get(j, "type"))) {
            json_t *hex = json_object_get(j, "hex");
            do_convert(json_string_value(json_object_get(j, "type")),
                       hex ? NULL : json_object_get(j, "json"), json_string_value(hex));
        } else {
            print_error(CE_EINVAL, "expected token/values or type/json or type/hex");
        }
        json_decref(j);
        fflush(stdout);
    }
    free(line);
    return 0;
}
