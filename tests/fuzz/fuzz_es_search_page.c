/*
 * fuzz_es_search_page.c - libFuzzer target for the read answers codec
 * (src/es/search_parse.c): search / scroll / PIT pages, the PIT open answer and the
 * "index not found" check.
 *
 * The first byte picks the page flags (lean, need sort); the rest is the body, in an
 * exact-size copy so any overread shows. Checks the codec's promises: on failure
 * nothing is kept and a reason is given; on success the hits are an array of
 * objects, the last sort values are an array that belongs to the last hit, ids are
 * strings, and a search_after read never gets a last hit without sort values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "es/es_int.h"

static void check_page(const char *body, size_t len, unsigned flags)
{
    es_search_page pg;
    ce_err e = es_search_page_parse(body, len, flags, &pg);
    if (e != CE_OK) {
        if (pg.root || pg.hits || pg.last_sort || pg.scroll_id || pg.pit_id || !pg.error[0])
            abort();
        return;
    }
    if (!pg.root || !json_is_array(pg.hits))
        abort();
    size_t n = json_array_size(pg.hits), i;
    json_t *h;
    json_array_foreach(pg.hits, i, h)
    {
        if (!json_is_object(h))
            abort();
    }
    if (pg.last_sort) {
        if (n == 0 || !json_is_array(pg.last_sort) ||
            json_object_get(json_array_get(pg.hits, n - 1), "sort") != pg.last_sort)
            abort();
    } else if (n > 0 && (flags & ES_PAGE_NEED_SORT)) {
        abort();
    }
    if (pg.scroll_id)
        (void)strlen(pg.scroll_id);
    if (pg.pit_id)
        (void)strlen(pg.pit_id);
    es_search_page_free(&pg);
    if (pg.root || pg.total != -1)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0] & (ES_PAGE_LEAN | ES_PAGE_NEED_SORT);
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    if (!body)
        return 0;
    memcpy(body, data + 1, len);
    check_page(body, len, flags);
    char *id = NULL;
    ce_err e = es_search_parse_pit_open(body, len, data[0] & 4 ? "pit_id" : "id", &id);
    if ((e == CE_OK) != (id != NULL) || (id && !id[0]))
        abort();
    free(id);
    (void)es_answer_is_index_not_found(404, body, len);
    free(body);
    return 0;
}
