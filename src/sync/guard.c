/*
 * guard.c - the E->C version guard: before a page of documents is written, read the
 * current version and WRITETIME of the rows they would overwrite (see e2c.c, step 4).
 *
 * Two ways to read, chosen from the table's key:
 *  - one partition-key column and no clustering columns (the common case): the page's
 *    keys are grouped by their first replica and read with
 *      SELECT key, version, WRITETIME(version) FROM ks.t WHERE key IN ?
 *    GUARD_IN keys a request, each request sent to that replica (routing token of its
 *    first key): the reads cost Cassandra one request per group instead of one per
 *    document, and no coordinator hop. The answers go into a hash table by key bytes.
 *  - any other primary key: one SELECT ... WHERE k1 = ? AND k2 = ? ... per document,
 *    token-aware, all of a page in flight at once.
 * A failed read fails the verdict of every document it covered: the caller counts them
 * failed (the pass fails, its checkpoint stays).
 */
#include "sync/sync_int.h"

#include <stdlib.h>
#include <string.h>
#include "util/log.h"

#define GUARD_IN 128

typedef struct {
    uint64_t h;
    size_t off;              /* key bytes in g->rows_keys */
    int32_t len;             /* -1: empty slot */
    bool has_version, has_wt;
    int64_t version, wt;
} gslot;

typedef struct {
    size_t off;              /* key bytes in g->keys */
    int32_t len;             /* -1: not guarded */
    int owner;               /* first replica's host index, -1 unknown */
    int64_t token;
    ce_err err;              /* its read failed (IN mode) ... */
    bool refused;            /* ... because the server refused the key as invalid */
} gkey;

typedef struct {
    size_t start, count;
} gspan;

struct sync_guard {
    cql_session *s;
    cql_consistency cl;
    const char *sync_name;
    cql_prepared *stmt;
    size_t nkeys;            /* bound key values per read */
    bool in_mode;
    /* the current page */
    size_t n;                /* documents */
    gkey *k;                 /* IN mode: one per document */
    size_t kcap;
    ce_buf keys, vbuf;
    cql_future **f;          /* per-row mode: one per document; IN mode: one per group */
    size_t nf, fcap;
    size_t *gidx;            /* IN mode: documents of the groups, group after group */
    gspan *grp;              /* IN mode: group j = gidx[grp[j].start .. + grp[j].count] */
    size_t gidx_cap, gcap;
    bool collected;
    gslot *slots;            /* IN mode: rows found, by key */
    size_t nslots, used;
    ce_buf rows_keys;
};

static const char *errmsg_of(cql_future *f, ce_err e)
{
    const char *m = cql_future_errmsg(f);
    return m && *m ? m : ce_strerror(e);
}

ce_err sync_guard_new(cql_session *s, const cql_table_meta *m, const char *version_col, cql_consistency cl,
                      const char *sync_name, sync_guard **out)
{
    *out = NULL;
    const cql_column_meta *vc = version_col ? cql_table_meta_column(m, version_col) : NULL;
    size_t nkeys = m->npartition_keys + m->nclustering;
    if (!vc || vc->role != CQL_COL_REGULAR || nkeys == 0 || nkeys > m->ncolumns)
        return CE_OK; /* versions live in the key (or nowhere): timestamps decide */
    bool in_mode = m->npartition_keys == 1 && m->nclustering == 0;
    ce_buf q = CE_BUF_INIT;
    ce_err e = ce_buf_append_str(&q, "SELECT ");
    if (in_mode) {
        e = e ? e : cql_quote_ident(&q, m->columns[0].name);
        e = e ? e : ce_buf_append_str(&q, ", ");
    }
    e = e ? e : cql_quote_ident(&q, vc->name);
    e = e ? e : ce_buf_append_str(&q, ", WRITETIME(");
    e = e ? e : cql_quote_ident(&q, vc->name);
    e = e ? e : ce_buf_append_str(&q, ") FROM ");
    e = e ? e : cql_quote_table(&q, m->keyspace, m->table);
    for (size_t i = 0; i < nkeys && !e; i++) {
        e = ce_buf_append_str(&q, i ? " AND " : " WHERE ");
        e = e ? e : cql_quote_ident(&q, m->columns[i].name);
        e = e ? e : ce_buf_append_str(&q, in_mode ? " IN ?" : " = ?");
    }
    cql_prepared *p = NULL;
    cql_error_info info;
    memset(&info, 0, sizeof info);
    if (!e && !ce_buf_cstr(&q))
        e = CE_ENOMEM;
    if (!e)
        e = cql_session_prepare(s, ce_buf_cstr(&q), &p, &info);
    ce_buf_free(&q);
    if (e == CE_ENOMEM)
        return e;
    if (e) {
        ce_warn("sync=%s dir=to_cassandra msg=\"version guard unavailable: writes rely on timestamps\" "
                "error=%s", sync_name, SYNC_LOGQ(e == CE_ESERVER ? info.message : ce_strerror(e)));
        return CE_OK;
    }
    sync_guard *g = calloc(1, sizeof *g);
    if (!g)
        return CE_ENOMEM;
    g->s = s;
    g->cl = cl;
    g->sync_name = sync_name;
    g->stmt = p;
    g->nkeys = nkeys;
    g->in_mode = in_mode;
    *out = g;
    return CE_OK;
}

static void drop_futures(sync_guard *g)
{
    for (size_t i = 0; i < g->nf; i++)
        cql_future_free(g->f[i]);
    g->nf = 0;
}

void sync_guard_free(sync_guard *g)
{
    if (!g)
        return;
    drop_futures(g);
    free(g->f);
    free(g->k);
    free(g->gidx);
    free(g->grp);
    free(g->slots);
    ce_buf_free(&g->keys);
    ce_buf_free(&g->vbuf);
    ce_buf_free(&g->rows_keys);
    free(g);
}

static ce_err grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return CE_OK;
    size_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np)
        return CE_ENOMEM;
    *p = np;
    *cap = nc;
    return CE_OK;
}

ce_err sync_guard_begin(sync_guard *g, size_t n)
{
    drop_futures(g);
    g->n = n;
    g->collected = false;
    ce_buf_reset(&g->keys);
    ce_buf_reset(&g->rows_keys);
    /* per-row mode: one future per document; IN mode: one key per document (futures
     * are grown per group by send_group) */
    ce_err e = g->in_mode ? grow((void **)&g->k, &g->kcap, n ? n : 1, sizeof *g->k)
                          : grow((void **)&g->f, &g->fcap, n ? n : 1, sizeof *g->f);
    if (e)
        return e;
    if (g->in_mode) {
        for (size_t i = 0; i < n; i++) {
            g->k[i].len = -1;
            g->k[i].err = CE_OK;
            g->k[i].refused = false;
        }
        size_t ns = 16;
        while (ns < 2 * n)
            ns *= 2;
        if (ns > g->nslots) {
            gslot *nsl = realloc(g->slots, ns * sizeof *nsl);
            if (!nsl)
                return CE_ENOMEM;
            g->slots = nsl;
            g->nslots = ns;
        }
    } else {
        for (size_t i = 0; i < n; i++)
            g->f[i] = NULL;
        g->nf = n;
    }
    return CE_OK;
}

ce_err sync_guard_add(sync_guard *g, size_t i, const cql_value *keyvals)
{
    if (i >= g->n)
        return CE_EINVAL;
    for (size_t k = 0; k < g->nkeys; k++)
        if (keyvals[k].len < 0)
            return CE_OK; /* a null key part: the write itself will be refused */
    if (!g->in_mode) {
        cql_query_opts qo;
        cql_query_opts_init(&qo);
        qo.consistency = g->cl;
        g->f[i] = cql_session_execute_async(g->s, g->stmt, keyvals, g->nkeys, &qo);
        return g->f[i] ? CE_OK : CE_ENOMEM;
    }
    gkey *k = &g->k[i];
    k->off = g->keys.len;
    ce_err e = ce_buf_append(&g->keys, keyvals[0].ptr, (size_t)keyvals[0].len);
    if (e)
        return e;
    k->len = keyvals[0].len;
    (void)cql_partition_token(keyvals, 1, &k->token); /* one bound key: always a token */
    k->owner = cql_session_token_owner(g->s, k->token);
    return CE_OK;
}

static int by_owner(const void *a, const void *b, void *ud)
{
    const gkey *k = ud;
    const gkey *x = &k[*(const size_t *)a], *y = &k[*(const size_t *)b];
    if (x->owner != y->owner)
        return x->owner < y->owner ? -1 : 1;
    return x->token < y->token ? -1 : x->token > y->token;
}

/* qsort_r is not C11: a small insertion/merge sort on indices is enough for one page. */
static void sort_idx(size_t *idx, size_t n, const gkey *k, size_t *tmp)
{
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi)
                tmp[o++] = by_owner(&idx[b], &idx[a], (void *)k) < 0 ? idx[b++] : idx[a++];
            while (a < mid)
                tmp[o++] = idx[a++];
            while (b < hi)
                tmp[o++] = idx[b++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
}

static bool invalid_code(int32_t code)
{
    return code == 0x2000 || code == 0x2200 || code == 0x2300; /* Syntax, Invalid, ConfigError */
}

static cql_future *send_in(sync_guard *g, const size_t *idx, size_t n)
{
    ce_buf_reset(&g->vbuf);
    ce_err e = ce_buf_put_u32(&g->vbuf, (uint32_t)n);
    for (size_t j = 0; j < n && !e; j++) {
        const gkey *k = &g->k[idx[j]];
        e = ce_buf_put_u32(&g->vbuf, (uint32_t)k->len);
        if (!e)
            e = ce_buf_append(&g->vbuf, g->keys.data + k->off, (size_t)k->len);
    }
    if (e)
        return NULL;
    cql_value v = {(const uint8_t *)g->vbuf.data, (int32_t)g->vbuf.len};
    cql_query_opts qo;
    cql_query_opts_init(&qo);
    qo.consistency = g->cl;
    qo.has_routing_token = true;
    qo.routing_token = g->k[idx[0]].token;
    return cql_session_execute_async(g->s, g->stmt, &v, 1, &qo);
}

/* Send the read of group idx[0..n) (idx points into g->gidx). */
static ce_err send_group(sync_guard *g, const size_t *idx, size_t n)
{
    if (grow((void **)&g->f, &g->fcap, g->nf + 1, sizeof *g->f) ||
        grow((void **)&g->grp, &g->gcap, g->nf + 1, sizeof *g->grp))
        return CE_ENOMEM;
    cql_future *f = send_in(g, idx, n);
    if (!f)
        return CE_ENOMEM;
    g->grp[g->nf].start = (size_t)(idx - g->gidx);
    g->grp[g->nf].count = n;
    g->f[g->nf++] = f;
    return CE_OK;
}

ce_err sync_guard_send(sync_guard *g)
{
    if (!g->in_mode || g->n == 0)
        return CE_OK;
    if (grow((void **)&g->gidx, &g->gidx_cap, 2 * g->n, sizeof *g->gidx))
        return CE_ENOMEM;
    size_t *idx = g->gidx;
    size_t m = 0;
    for (size_t i = 0; i < g->n; i++)
        if (g->k[i].len >= 0)
            idx[m++] = i;
    sort_idx(idx, m, g->k, idx + g->n);
    ce_err e = CE_OK;
    for (size_t a = 0; a < m && !e;) {
        size_t b = a + 1;
        while (b < m && b - a < GUARD_IN && g->k[idx[b]].owner == g->k[idx[a]].owner)
            b++;
        e = send_group(g, idx + a, b - a);
        a = b;
    }
    return e;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = sync_fnv1a(SYNC_HASH_SEED_VERIFY, p, n);
    return h ^ (h >> 29);
}

static gslot *find_slot(sync_guard *g, const uint8_t *key, int32_t len, uint64_t h)
{
    size_t mask = g->nslots - 1;
    for (size_t s = (size_t)h & mask;; s = (s + 1) & mask) {
        gslot *sl = &g->slots[s];
        if (sl->len < 0)
            return sl;
        if (sl->h == h && sl->len == len && memcmp(g->rows_keys.data + sl->off, key, (size_t)len) == 0)
            return sl;
    }
}

/* Integer cell col of row (the version: bigint, int, timestamp...; WRITETIME: bigint). */
static bool cell_i64(const sync_guard *g, cql_result *r, size_t row, size_t col, int64_t *out)
{
    cql_value v = cql_result_cell(r, row, col);
    const cql_type *t = cql_prepared_column_type(g->stmt, col);
    return t && sync_value_int64(t, v.ptr, v.len, out) == CE_OK;
}

/* Index the rows of one IN answer by key. */
static ce_err add_rows(sync_guard *g, cql_result *r)
{
    size_t rows = cql_result_row_count(r);
    for (size_t row = 0; row < rows; row++) {
        cql_value key = cql_result_cell(r, row, 0);
        if (key.len < 0)
            continue;
        uint64_t h = hash_bytes(key.ptr, (size_t)key.len);
        gslot *sl = find_slot(g, key.ptr, key.len, h);
        if (sl->len < 0) {
            if (g->used >= g->nslots / 2)
                continue; /* more rows than keys asked: not ours */
            sl->off = g->rows_keys.len;
            if (ce_buf_append(&g->rows_keys, key.ptr, (size_t)key.len))
                return CE_ENOMEM;
            sl->len = key.len;
            sl->h = h;
            g->used++;
        }
        sl->has_version = cell_i64(g, r, row, 1, &sl->version);
        sl->has_wt = cell_i64(g, r, row, 2, &sl->wt);
    }
    return CE_OK;
}

/* A failed read marks the keys it covered. A group refused as invalid is read again key
 * by key, so only the key the server refuses is marked (its write will be refused too,
 * and dead-lettered with the server's reason). */
static void fail_keys(sync_guard *g, const size_t *idx, size_t n, cql_future *f, ce_err e)
{
    const cql_error_info *info = cql_future_error(f);
    bool refused = e == CE_ESERVER && info && invalid_code(info->code);
    if (refused && n > 1) {
        for (size_t j = 0; j < n; j++) {
            cql_future *one = send_in(g, &idx[j], 1);
            cql_result *r = NULL;
            ce_err e1 = one ? cql_future_wait(one, &r) : CE_ENOMEM;
            if (!e1)
                e1 = add_rows(g, r);
            if (e1)
                fail_keys(g, &idx[j], 1, one, e1);
            cql_result_free(r);
            cql_future_free(one);
        }
        return;
    }
    if (!refused)
        ce_warn("sync=%s dir=to_cassandra msg=\"version read failed\" error=%s", g->sync_name,
                SYNC_LOGQ(f ? errmsg_of(f, e) : ce_strerror(e)));
    for (size_t j = 0; j < n; j++) {
        g->k[idx[j]].err = e;
        g->k[idx[j]].refused = refused;
    }
}

/* IN mode: wait for every group and index the rows found by key. */
static void collect(sync_guard *g)
{
    g->collected = true;
    g->used = 0;
    for (size_t s = 0; s < g->nslots; s++)
        g->slots[s].len = -1;
    size_t nf = g->nf;
    g->nf = 0; /* fail_keys may send again: the futures are ours here */
    for (size_t j = 0; j < nf; j++) {
        cql_result *r = NULL;
        ce_err e = cql_future_wait(g->f[j], &r);
        if (!e)
            e = add_rows(g, r);
        if (e)
            fail_keys(g, g->gidx + g->grp[j].start, g->grp[j].count, g->f[j], e);
        cql_result_free(r);
        cql_future_free(g->f[j]);
    }
}

ce_err sync_guard_get(sync_guard *g, size_t i, bool *found, int64_t *version, bool *has_version,
                      int64_t *wt, bool *has_wt, bool *refused)
{
    *found = *has_version = *has_wt = *refused = false;
    *version = *wt = 0;
    if (i >= g->n)
        return CE_OK;
    if (!g->in_mode) {
        cql_future *f = g->f[i];
        if (!f)
            return CE_OK;
        cql_result *r = NULL;
        ce_err e = cql_future_wait(f, &r);
        const cql_error_info *info = e ? cql_future_error(f) : NULL;
        *refused = e == CE_ESERVER && info && invalid_code(info->code);
        if (e && !*refused)
            ce_warn("sync=%s dir=to_cassandra msg=\"version read failed\" error=%s", g->sync_name,
                    SYNC_LOGQ(errmsg_of(f, e)));
        cql_future_free(f);
        g->f[i] = NULL;
        if (!e && r && cql_result_row_count(r) > 0) {
            *found = true;
            *has_version = cell_i64(g, r, 0, 0, version);
            *has_wt = cell_i64(g, r, 0, 1, wt);
        }
        cql_result_free(r);
        return e;
    }
    if (g->k[i].len < 0)
        return CE_OK;
    if (!g->collected)
        collect(g);
    const gkey *k = &g->k[i];
    if (k->err) {
        *refused = k->refused;
        return k->err;
    }
    const uint8_t *key = (const uint8_t *)g->keys.data + k->off;
    gslot *sl = find_slot(g, key, k->len, hash_bytes(key, (size_t)k->len));
    if (sl->len < 0)
        return CE_OK;
    *found = true;
    *has_version = sl->has_version;
    *version = sl->version;
    *has_wt = sl->has_wt;
    *wt = sl->wt;
    return CE_OK;
}
