/*
 * verify_map.c - the descent's table: _id -> what each side holds of it (verify_rec).
 *
 * Open addressing with linear probing, grown at 1/2 load. Only the records of ranges whose
 * summaries differ go in, so its size follows the differences, not the table.
 */
#include "sync/verify_int.h"

#include <stdlib.h>
#include <string.h>

struct verify_map {
    verify_rec *slots;
    size_t cap, n;
};

static uint64_t hash_id(const char *s, size_t n)
{
    return sync_fnv1a(SYNC_HASH_SEED_VERIFY, s, n);
}

ce_err verify_map_new(verify_map **out)
{
    verify_map *m = calloc(1, sizeof *m);
    if (m) {
        m->cap = 1024;
        m->slots = calloc(m->cap, sizeof *m->slots);
    }
    if (!m || !m->slots) {
        free(m);
        *out = NULL;
        return CE_ENOMEM;
    }
    *out = m;
    return CE_OK;
}

void verify_map_free(verify_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].id);
    free(m->slots);
    free(m);
}

static verify_rec *probe(verify_rec *slots, size_t cap, const char *id, size_t n)
{
    size_t i = (size_t)hash_id(id, n) & (cap - 1);
    while (slots[i].id && (strlen(slots[i].id) != n || memcmp(slots[i].id, id, n) != 0))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static ce_err grow(verify_map *m)
{
    size_t cap = m->cap * 2;
    verify_rec *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return CE_ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].id)
            *probe(slots, cap, m->slots[i].id, strlen(m->slots[i].id)) = m->slots[i];
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return CE_OK;
}

verify_rec *verify_map_get(verify_map *m, const char *id, size_t n)
{
    if (m->n * 2 >= m->cap && grow(m))
        return NULL;
    verify_rec *r = probe(m->slots, m->cap, id, n);
    if (r->id)
        return r;
    r->id = malloc(n + 1);
    if (!r->id)
        return NULL;
    memcpy(r->id, id, n);
    r->id[n] = 0;
    r->c_writetime = INT64_MIN;
    m->n++;
    return r;
}

void verify_map_each(verify_map *m, void (*fn)(verify_rec *r, void *ud), void *ud)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].id)
            fn(&m->slots[i], ud);
}
