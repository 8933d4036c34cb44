/*
 * fuzz_es_search_page.c - libFuzzer target for the read answers codec
 * (src/es/search_parse.c): search / scroll / PIT pages, the PIT open answer and the
 * "index not found" check.
 *
 * The first byte picks the page flags (lean, need sort); the rest is the body, in an
 * exact-size copy so any overread shows. Checks the codec's promises: on failure
 * nothing is kept and a reason is given; on success the hits are an array of
 * objects, the last sort values are an array that belongs to the last hit, ids are
 * strings, and a search_after read never gets a last hit without sort values; a hit
 * that could not be read is a stand-in with a reason and nothing but _id and sort; the
 * scanner of json_exact.c never steps past the end and its exact copy of a text
 * jansson reads is read the same way (numbers jansson holds exactly are left alone); the
 * hit loader (json_load.c) builds the tree jansson builds from that copy, or refuses both.
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
        const char *why = es_hit_error(h);
        if (why && (json_object_size(h) > 3 || json_object_get(h, "_source") || !why[0]))
            abort();
        json_t *id = json_object_get(h, "_id");
        if (why && id && !json_is_string(id))
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

/* The scanner stays inside the text; where jansson reads the text, the exact copy reads
 * too, an object or array as the same (a number may become a string). */
static void check_exact(const char *body, size_t len)
{
    ce_buf stk = CE_BUF_INIT, copy = CE_BUF_INIT;
    size_t pos = 0;
    if (es_json_skip(body, len, &pos, &stk) && (pos > len || pos == 0))
        abort();
    if (stk.len != 0)
        abort();
    json_error_t jerr;
    /* jansson reads a number followed by a NUL byte as the number alone but refuses a
     * string followed by one: with a NUL outside a string (never valid JSON) the two may
     * differ, as the copy turns a big number into a string. */
    json_t *plain = memchr(body, '\0', len) ? NULL : json_loadb(body, len, JSON_DECODE_ANY, &jerr);
    json_t *exact = es_json_load_exact(body, len, &copy, &jerr);
    if (plain && !exact)
        abort();
    if (plain && (json_is_object(plain) || json_is_array(plain)) && json_typeof(plain) != json_typeof(exact))
        abort();
    /* the hit loader (json_load.c) against jansson reading the exact copy: the same tree, or
     * both refusing (NUL bytes outside strings aside, as above). Where the copy quoted a big
     * number the loader may refuse what jansson reads of the copy: a number as an object
     * key is not JSON, though quoted it becomes a key. */
    ce_buf cp = CE_BUF_INIT;
    if (!memchr(body, '\0', len) && es_json_copy_exact(body, len, &cp) == CE_OK) {
        json_t *ref = json_loadb(cp.len ? (const char *)cp.data : "", cp.len, JSON_DECODE_ANY, &jerr);
        bool quoted = cp.len != len || (len > 0 && memcmp(cp.data, body, len) != 0);
        if ((exact && (!ref || !json_equal(ref, exact))) || (!exact && ref && !quoted))
            abort();
        json_decref(ref);
    }
    ce_buf_free(&cp);
    json_decref(plain);
    json_decref(exact);
    ce_buf_free(&stk);
    ce_buf_free(&copy);
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
    check_exact(body, len);
    char *id = NULL;
    ce_err e = es_search_parse_pit_open(body, len, data[0] & 4 ? "pit_id" : "id", &id);
    if ((e == CE_OK) != (id != NULL) || (id && !id[0]))
        abort();
    free(id);
    (void)es_answer_is_index_not_found(404, body, len);
    free(body);
    return 0;
}
