/*
 * fuzz_es_bulk_response.c - libFuzzer target for the _bulk response codec.
 *
 * The first byte picks the expected item count; the rest is the body. Checks the
 * codec's promises: no crash or overread (the body is an exact-size copy), no
 * callback on failure (validation comes first), exactly `expected` callbacks in
 * order on success, and no OK outcome for an item whose status says otherwise.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "es/es.h"

typedef struct {
    size_t calls, next;
} seen;

static void on_item(size_t i, es_item_status st, int http_status, const char *id,
                    const char *error_type, const char *reason, int64_t cur, void *ud)
{
    seen *s = ud;
    if (i != s->next)
        abort();
    s->next++;
    s->calls++;
    if (!id)
        abort();
    (void)strlen(id);
    if (error_type)
        (void)strlen(error_type);
    if (reason)
        (void)strlen(reason);
    if (st == ES_ITEM_OK && http_status >= 300 && http_status != 404)
        abort(); /* never a false success */
    (void)cur;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t expected = data[0] % 16;
    char *body = malloc(size - 1 ? size - 1 : 1);
    if (!body)
        return 0;
    memcpy(body, data + 1, size - 1);
    seen s = {0, 0};
    ce_err e = es_bulk_parse_response(body, size - 1, expected, on_item, &s);
    if (e != CE_OK && s.calls != 0)
        abort();
    if (e == CE_OK && s.calls != expected)
        abort();
    free(body);
    return 0;
}
