/*
 * murmur3.c - partition tokens as Cassandra's Murmur3Partitioner computes them.
 *
 * MurmurHash3_x64_128 with seed 0, keeping the first 64-bit half. Cassandra's Java
 * port reads the 1..15 tail bytes as signed bytes (sign-extended before shifting),
 * which differs from the reference C implementation for bytes >= 0x80; this file
 * reproduces that quirk. The token Long.MIN_VALUE is reserved as the ring's minimum
 * and maps to Long.MAX_VALUE; only the empty key has it. Composite partition keys are hashed over the routing
 * key <u16 length><bytes><0x00> per component (cql_routing_key).
 */
#include "cql/cql.h"

static inline uint64_t rotl64(uint64_t v, int r) { return (v << r) | (v >> (64 - r)); }

static inline uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= UINT64_C(0xff51afd7ed558ccd);
    k ^= k >> 33;
    k *= UINT64_C(0xc4ceb9fe1a85ec53);
    k ^= k >> 33;
    return k;
}

/* Little-endian 64-bit block (unsigned bytes, as Cassandra's getBlock does). */
static inline uint64_t block64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* A tail byte as Java's (long) of a signed byte. */
static inline uint64_t sbyte(uint8_t b) { return (uint64_t)(int64_t)(int8_t)b; }

int64_t cql_murmur3_token(const uint8_t *key, size_t len)
{
    const uint64_t c1 = UINT64_C(0x87c37b91114253d5);
    const uint64_t c2 = UINT64_C(0x4cf5ad432745937f);
    uint64_t h1 = 0, h2 = 0;
    if (len == 0)
        return INT64_MIN; /* Cassandra: the empty key is the ring minimum */
    size_t nblocks = len / 16;
    for (size_t i = 0; i < nblocks; i++) {
        uint64_t k1 = block64(key + i * 16);
        uint64_t k2 = block64(key + i * 16 + 8);
        k1 *= c1;
        k1 = rotl64(k1, 31);
        k1 *= c2;
        h1 ^= k1;
        h1 = rotl64(h1, 27);
        h1 += h2;
        h1 = h1 * 5 + 0x52dce729;
        k2 *= c2;
        k2 = rotl64(k2, 33);
        k2 *= c1;
        h2 ^= k2;
        h2 = rotl64(h2, 31);
        h2 += h1;
        h2 = h2 * 5 + 0x38495ab5;
    }
    const uint8_t *tail = key + nblocks * 16;
    size_t rest = len & 15;
    uint64_t k1 = 0, k2 = 0;
    if (rest > 8) {
        for (size_t i = rest; i-- > 8;)
            k2 ^= sbyte(tail[i]) << (8 * (i - 8));
        k2 *= c2;
        k2 = rotl64(k2, 33);
        k2 *= c1;
        h2 ^= k2;
    }
    if (rest > 0) {
        size_t top = rest > 8 ? 8 : rest;
        for (size_t i = top; i-- > 0;)
            k1 ^= sbyte(tail[i]) << (8 * i);
        k1 *= c1;
        k1 = rotl64(k1, 31);
        k1 *= c2;
        h1 ^= k1;
    }
    h1 ^= (uint64_t)len;
    h2 ^= (uint64_t)len;
    h1 += h2;
    h2 += h1;
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 += h2;
    int64_t tok = (int64_t)h1;
    return tok == INT64_MIN ? INT64_MAX : tok;
}

bool cql_partition_token(const cql_value *components, size_t n, int64_t *token)
{
    if (n == 1 && components[0].len >= 0) {
        *token = cql_murmur3_token(components[0].ptr, (size_t)components[0].len);
        return true;
    }
    ce_buf key = CE_BUF_INIT;
    bool ok = cql_routing_key(components, n, &key) == CE_OK;
    if (ok)
        *token = cql_murmur3_token((const uint8_t *)key.data, key.len);
    ce_buf_free(&key);
    return ok;
}

ce_err cql_routing_key(const cql_value *components, size_t n, ce_buf *out)
{
    if (n == 0 || !components)
        return CE_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (components[i].len < 0 || (n > 1 && components[i].len > 0xFFFF))
            return CE_EINVAL; /* null/unset keys have no token */
    if (n == 1)
        return ce_buf_append(out, components[0].ptr, (size_t)components[0].len);
    size_t mark = out->len;
    ce_err e = CE_OK;
    for (size_t i = 0; i < n && !e; i++) {
        e = ce_buf_put_u16(out, (uint16_t)components[i].len);
        if (!e)
            e = ce_buf_append(out, components[i].ptr, (size_t)components[i].len);
        if (!e)
            e = ce_buf_append_byte(out, 0);
    }
    if (e)
        out->len = mark;
    return e;
}
