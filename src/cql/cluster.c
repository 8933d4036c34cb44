/*
 * cluster.c - what the session knows about the cluster: node discovery from
 * system.local and system.peers_v2 (system.peers as fallback), the token ring,
 * replica lookup for token-aware routing, replication factors per keyspace, and the
 * split of the ring into token ranges for parallel scans.
 *
 * Replica placement is approximated by walking the ring clockwise from the token and
 * taking the first RF distinct hosts (exact for SimpleStrategy and for
 * NetworkTopologyStrategy in one data center, which is what we route for; with
 * several DCs a non-replica may be picked, which costs a hop, not correctness).
 */
#include "cql/session_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/log.h"

/* ---------------------------------------------------------------- cell helpers */

static bool cell_text(cql_value v, char *out, size_t cap)
{
    if (v.len < 0 || !cap)
        return false;
    size_t n = (size_t)v.len < cap - 1 ? (size_t)v.len : cap - 1;
    memcpy(out, v.ptr, n);
    out[n] = '\0';
    return true;
}

static bool cell_inet(cql_value v, char *out, size_t cap)
{
    if (v.len != 4 && v.len != 16)
        return false;
    cql_inet_format(v.ptr, (size_t)v.len, out, cap);
    return true;
}

static int32_t cell_int(cql_value v, int32_t dflt)
{
    if (v.len != 4)
        return dflt;
    return (int32_t)(((uint32_t)v.ptr[0] << 24) | ((uint32_t)v.ptr[1] << 16) | ((uint32_t)v.ptr[2] << 8) | v.ptr[3]);
}

static cql_value col(const cql_result *r, size_t row, const char *name)
{
    int i = cql_result_column_index(r, name);
    if (i < 0) {
        cql_value none = {NULL, CQL_NULL};
        return none;
    }
    return cql_result_cell(r, row, (size_t)i);
}

/* set<text> of decimal tokens -> array */
static ce_err cell_tokens(cql_value v, int64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (v.len < 4)
        return CE_OK;
    cql_rd r;
    cql_rd_init(&r, v.ptr, (size_t)v.len);
    int32_t cnt = cql_rd_i32(&r);
    if (cnt <= 0 || (size_t)cnt > cql_rd_left(&r) / 4)
        return cnt == 0 ? CE_OK : CE_EPROTO;
    int64_t *t = malloc((size_t)cnt * sizeof *t);
    if (!t)
        return CE_ENOMEM;
    size_t k = 0;
    for (int32_t i = 0; i < cnt && !r.err; i++) {
        cql_value e = cql_rd_bytes(&r);
        char buf[32];
        if (r.err || !cell_text(e, buf, sizeof buf))
            break;
        t[k++] = strtoll(buf, NULL, 10);
    }
    if (r.err) {
        free(t);
        return CE_EPROTO;
    }
    *out = t;
    *n = k;
    return CE_OK;
}

static void host_set_meta(cql_host *h, const cql_result *r, size_t row)
{
    cell_text(col(r, row, "data_center"), h->dc, sizeof h->dc);
    cell_text(col(r, row, "rack"), h->rack, sizeof h->rack);
    int64_t *t;
    size_t n;
    if (cell_tokens(col(r, row, "tokens"), &t, &n) == CE_OK && n) {
        free(h->tokens);
        h->tokens = t;
        h->ntokens = n;
    }
}

/* ---------------------------------------------------------------- discovery */

static ce_err pinned_query(cql_session *s, int host, const char *cql, cql_result **out, cql_error_info *info)
{
    cql_future *f = cql_future_new_query(s, cql, NULL, 0, NULL);
    if (!f)
        return CE_ENOMEM;
    f->pin_host = host;
    f->q.consistency = CQL_CONSISTENCY_ONE;
    cql_session_submit(s, f);
    return cql_session_wait_result(s, f, out, info);
}

ce_err cql_cluster_discover(cql_session *s)
{
    int ctl = -1;
    for (size_t i = 0; i < s->nhosts; i++)
        if (s->hosts[i].conn && s->hosts[i].conn->state == CS_READY) {
            ctl = (int)i;
            break;
        }
    if (ctl < 0)
        return CE_ENOHOST;
    cql_result *r = NULL;
    ce_err e = pinned_query(s, ctl, "SELECT * FROM system.local", &r, NULL);
    if (e)
        return e;
    if (cql_result_row_count(r) > 0)
        host_set_meta(&s->hosts[ctl], r, 0);
    cql_result_free(r);

    bool v2 = true;
    cql_error_info info;
    e = pinned_query(s, ctl, "SELECT * FROM system.peers_v2", &r, &info);
    if (e == CE_ESERVER) {
        v2 = false;
        e = pinned_query(s, ctl, "SELECT * FROM system.peers", &r, NULL);
    }
    if (e)
        return e;
    for (size_t row = 0; row < cql_result_row_count(r); row++) {
        char addr[64] = "";
        int port = s->o.port;
        if (v2) {
            if (!cell_inet(col(r, row, "native_address"), addr, sizeof addr))
                cell_inet(col(r, row, "peer"), addr, sizeof addr);
            port = cell_int(col(r, row, "native_port"), s->o.port);
        } else if (!cell_inet(col(r, row, "rpc_address"), addr, sizeof addr) || !strcmp(addr, "0.0.0.0")) {
            cell_inet(col(r, row, "peer"), addr, sizeof addr);
        }
        if (!addr[0] || !strcmp(addr, "0.0.0.0") || !strcmp(addr, "::"))
            cell_inet(col(r, row, "peer"), addr, sizeof addr);
        if (!addr[0])
            continue;
        int h = cql_session_add_host(s, addr, addr, (uint16_t)port);
        if (h < 0) {
            cql_result_free(r);
            return CE_ENOMEM;
        }
        host_set_meta(&s->hosts[h], r, row);
        ce_info("msg=\"cql peer discovered\" host=%s port=%d dc=%s tokens=%zu", addr, port, s->hosts[h].dc,
                s->hosts[h].ntokens);
    }
    cql_result_free(r);
    cql_cluster_build_ring(s);
    return CE_OK;
}

static int ring_cmp(const void *a, const void *b)
{
    const ring_entry *x = a, *y = b;
    return x->token < y->token ? -1 : x->token > y->token ? 1 : 0;
}

void cql_cluster_build_ring(cql_session *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nhosts; i++)
        n += s->hosts[i].ntokens;
    ring_entry *ring = n ? malloc(n * sizeof *ring) : NULL;
    if (n && !ring)
        return;
    size_t k = 0;
    for (size_t i = 0; i < s->nhosts; i++)
        for (size_t j = 0; j < s->hosts[i].ntokens; j++) {
            ring[k].token = s->hosts[i].tokens[j];
            ring[k].host = (int)i;
            k++;
        }
    if (k)
        qsort(ring, k, sizeof *ring, ring_cmp);
    free(s->ring);
    s->ring = ring;
    s->nring = k;
}

/* ---------------------------------------------------------------- replication */

int cql_cluster_keyspace_rf(cql_session *s, const char *ks)
{
    for (size_t i = 0; i < s->nrfs; i++)
        if (!strcmp(s->rfs[i].name, ks))
            return s->rfs[i].rf;
    cql_value v = {(const uint8_t *)ks, (int32_t)strlen(ks)};
    cql_result *r = NULL;
    int rf = 0;
    if (cql_session_query(s, "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?", &v, 1,
                          NULL, &r, NULL) == CE_OK &&
        cql_result_row_count(r) == 1) {
        cql_value m = cql_result_cell(r, 0, 0);
        if (m.len >= 4) {
            cql_rd rd;
            cql_rd_init(&rd, m.ptr, (size_t)m.len);
            int32_t n = cql_rd_i32(&rd);
            for (int32_t i = 0; i < n && !rd.err; i++) {
                char k[64] = "", val[64] = "";
                cell_text(cql_rd_bytes(&rd), k, sizeof k);
                cell_text(cql_rd_bytes(&rd), val, sizeof val);
                if (rd.err)
                    break;
                if (!strcmp(k, "class"))
                    continue;
                rf += atoi(val); /* replication_factor, or one entry per data center */
            }
        }
    }
    cql_result_free(r);
    ks_rf *nr = realloc(s->rfs, (s->nrfs + 1) * sizeof *nr);
    if (nr) {
        s->rfs = nr;
        if ((s->rfs[s->nrfs].name = strdup(ks))) {
            s->rfs[s->nrfs].rf = rf;
            s->nrfs++;
        }
    }
    return rf;
}

/* ---------------------------------------------------------------- routing */

static bool usable(const cql_session *s, int h)
{
    const cql_conn *c = s->hosts[h].conn;
    return c && c->state == CS_READY && c->nfree > 0;
}

static size_t ring_lower_bound(const cql_session *s, int64_t t)
{
    size_t lo = 0, hi = s->nring;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->ring[mid].token < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == s->nring ? 0 : lo;
}

/* Token of the routing key of a future's bound values; false if unroutable. */
static bool future_token(cql_future *f, int64_t *token)
{
    cql_prepared *p = f->prep;
    if (!p || !p->bind.npk || !f->values)
        return false;
    if (f->kind == FK_BATCH && f->nbatch && f->batch[0].n < p->bind.npk)
        return false;
    cql_value comps[16];
    size_t n = p->bind.npk;
    if (n > 16)
        return false;
    for (size_t i = 0; i < n; i++) {
        size_t idx = p->bind.pk_index[i];
        if (idx >= f->nvalues || f->values[idx].len < 0)
            return false;
        comps[i] = f->values[idx];
    }
    return cql_partition_token(comps, n, token);
}

int cql_cluster_route(cql_session *s, cql_future *f)
{
    if (f->pin_host >= 0)
        return (size_t)f->pin_host < s->nhosts && usable(s, f->pin_host) ? f->pin_host : -1;
    int64_t token = 0;
    int rf = f->prep && f->prep->rf > 0 ? f->prep->rf : 1;
    bool routed = s->o.token_aware && s->nring &&
                  (f->q.has_routing_token ? (token = f->q.routing_token, true)
                                          : f->prep && f->prep->rf > 0 && future_token(f, &token));
    if (routed) {
        size_t start = ring_lower_bound(s, token);
        int fallback = -1, found = 0;
        bool seen_stack[64] = {0};
        for (size_t step = 0; step < s->nring && found < rf; step++) {
            int h = s->ring[(start + step) % s->nring].host;
            if (h < 64 && seen_stack[h])
                continue;
            if (h < 64)
                seen_stack[h] = true;
            found++;
            if (!usable(s, h))
                continue;
            if (h != f->avoid_host)
                return h;
            if (fallback < 0)
                fallback = h;
        }
        if (fallback >= 0)
            return fallback;
    }
    int fallback = -1;
    for (size_t k = 0; k < s->nhosts; k++) {
        int h = (int)(s->rr++ % s->nhosts);
        if (!usable(s, h))
            continue;
        if (h != f->avoid_host)
            return h;
        fallback = h;
    }
    return fallback;
}

int cql_session_token_owner(const cql_session *s, int64_t token)
{
    if (!s->o.token_aware || !s->nring)
        return -1;
    return s->ring[ring_lower_bound(s, token)].host;
}

/* ---------------------------------------------------------------- token ranges */

static int tok_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

ce_err cql_session_token_ranges(cql_session *s, size_t n, cql_token_range **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (n == 0)
        n = 1;
    /* distinct sorted ring tokens */
    int64_t *t = malloc((s->nring + 1) * sizeof *t);
    if (!t)
        return CE_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < s->nring; i++)
        t[k++] = s->ring[i].token;
    qsort(t, k, sizeof *t, tok_cmp);
    size_t d = 0;
    for (size_t i = 0; i < k; i++)
        if (d == 0 || t[d - 1] != t[i])
            t[d++] = t[i];
    /* base ranges aligned on the ring: (MIN, t0], (t0, t1], ..., (t_last, MAX] */
    size_t nb = 0;
    cql_token_range *base = malloc((d + 2) * sizeof *base);
    if (!base) {
        free(t);
        return CE_ENOMEM;
    }
    int64_t prev = INT64_MIN;
    for (size_t i = 0; i < d; i++) {
        if (t[i] == INT64_MIN)
            continue;
        base[nb].start = prev;
        base[nb].end = t[i];
        nb++;
        prev = t[i];
    }
    if (prev != INT64_MAX) {
        base[nb].start = prev;
        base[nb].end = INT64_MAX;
        nb++;
    }
    free(t);
    if (n <= nb) {
        *out = base;
        *nout = nb;
        return CE_OK;
    }
    /* split each base range in proportion to its width */
    size_t *parts = malloc(nb * sizeof *parts);
    if (!parts) {
        free(base);
        return CE_ENOMEM;
    }
    size_t total = 0;
    const double ring = 18446744073709551615.0;
    for (size_t i = 0; i < nb; i++) {
        uint64_t w = (uint64_t)base[i].end - (uint64_t)base[i].start;
        double share = (double)w / ring * (double)n;
        size_t p = (size_t)(share + 0.5);
        if (p < 1)
            p = 1;
        if ((uint64_t)p > w)
            p = (size_t)w;
        parts[i] = p;
        total += p;
    }
    cql_token_range *res = malloc(total * sizeof *res);
    if (!res) {
        free(parts);
        free(base);
        return CE_ENOMEM;
    }
    size_t r = 0;
    for (size_t i = 0; i < nb; i++) {
        uint64_t w = (uint64_t)base[i].end - (uint64_t)base[i].start;
        uint64_t step = w / parts[i];
        int64_t cur = base[i].start;
        for (size_t j = 0; j < parts[i]; j++) {
            int64_t end = j + 1 == parts[i] ? base[i].end : (int64_t)((uint64_t)cur + step);
            res[r].start = cur;
            res[r].end = end;
            r++;
            cur = end;
        }
    }
    free(parts);
    free(base);
    *out = res;
    *nout = r;
    return CE_OK;
}
