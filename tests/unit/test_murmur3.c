/* test_murmur3.c - partition tokens (Murmur3Partitioner) and routing keys.
 * Every expected token below was read from Cassandra 5.0.6 with SELECT token(k)
 * (tests/integration/test_cql_types.py checks the same vectors against the live
 * server): int, bigint, text of lengths 1..20 (every tail length), uuid, blobs
 * whose tail bytes are >= 0x80 (Cassandra's signed-byte tail quirk) and a
 * composite (int, text) key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cql/cql.h"

static const struct {
    const char *what;
    const char *hex; /* serialized key */
    int64_t token;
} vectors[] = {
    {"int 0", "00000000", INT64_C(-3485513579396041028)},
    {"int 1", "00000001", INT64_C(-4069959284402364209)},
    {"int -1", "ffffffff", INT64_C(7297452126230313552)},
    {"int 2147483647", "7fffffff", INT64_C(-765994672030311617)},
    {"int -2147483648", "80000000", INT64_C(-420533958509279465)},
    {"bigint 0", "0000000000000000", INT64_C(2945182322382062539)},
    {"bigint 1", "0000000000000001", INT64_C(6292367497774912474)},
    {"bigint -1", "ffffffffffffffff", INT64_C(7071048584287372947)},
    {"bigint 9223372036854775807", "7fffffffffffffff", INT64_C(-1722304415079482439)},
    {"text 'a'", "61", INT64_C(-8839064797231613815)},
    {"text 'ab'", "6162", INT64_C(-7815133031266706642)},
    {"text 'abc'", "616263", INT64_C(-5434086359492102041)},
    {"text 'abcd'", "61626364", INT64_C(-5153323217664422577)},
    {"text 'abcde'", "6162636465", INT64_C(2321271983248423864)},
    {"text 'abcdef'", "616263646566", INT64_C(-1982280103179862187)},
    {"text 'abcdefg'", "61626364656667", INT64_C(-6427428730009885543)},
    {"text 'abcdefgh'", "6162636465666768", INT64_C(-3708139591217214462)},
    {"text 'abcdefghi'", "616263646566676869", INT64_C(380484692874131812)},
    {"text 'abcdefghij'", "6162636465666768696a", INT64_C(-5277837174909203303)},
    {"text 'abcdefghijk'", "6162636465666768696a6b", INT64_C(-6298899011365987070)},
    {"text 'abcdefghijkl'", "6162636465666768696a6b6c", INT64_C(-8145996112604765804)},
    {"text 'abcdefghijklm'", "6162636465666768696a6b6c6d", INT64_C(1605577856027523699)},
    {"text 'abcdefghijklmn'", "6162636465666768696a6b6c6d6e", INT64_C(-7939682693950507552)},
    {"text 'abcdefghijklmno'", "6162636465666768696a6b6c6d6e6f", INT64_C(-8449275918290243589)},
    {"text 'abcdefghijklmnop'", "6162636465666768696a6b6c6d6e6f70", INT64_C(-4266531025627334877)},
    {"text 'abcdefghijklmnopq'", "6162636465666768696a6b6c6d6e6f7071", INT64_C(8459014091212432983)},
    {"text 'abcdefghijklmnopqr'", "6162636465666768696a6b6c6d6e6f707172", INT64_C(8642562632588429904)},
    {"text 'abcdefghijklmnopqrs'", "6162636465666768696a6b6c6d6e6f70717273", INT64_C(1553948733687623048)},
    {"text 'abcdefghijklmnopqrst'", "6162636465666768696a6b6c6d6e6f7071727374", INT64_C(3533978973131760369)},
    {"uuid 00112233-4455-6677-8899-aabbccddeeff", "00112233445566778899aabbccddeeff", INT64_C(5713842290320563023)},
    {"blob 0x80", "80", INT64_C(-5284281814142962636)},
    {"blob 0x8081", "8081", INT64_C(3479874077480803178)},
    {"blob 0x808182", "808182", INT64_C(4805209697930042770)},
    {"blob 0x80818283", "80818283", INT64_C(-3443090708941767951)},
    {"blob 0x8081828384", "8081828384", INT64_C(5082927503400334641)},
    {"blob 0x808182838485", "808182838485", INT64_C(2501425557546660757)},
    {"blob 0x80818283848586", "80818283848586", INT64_C(690902581674979450)},
    {"blob 0x8081828384858687", "8081828384858687", INT64_C(-6062263109623760877)},
    {"blob 0x808182838485868788", "808182838485868788", INT64_C(7770289513489161555)},
    {"blob 0x80818283848586878889", "80818283848586878889", INT64_C(-7623170703309721106)},
    {"blob 0x808182838485868788898a", "808182838485868788898a", INT64_C(4237241090754518618)},
    {"blob 0x808182838485868788898a8b", "808182838485868788898a8b", INT64_C(-5351185824061215367)},
    {"blob 0x808182838485868788898a8b8c", "808182838485868788898a8b8c", INT64_C(255722452590173982)},
    {"blob 0x808182838485868788898a8b8c8d", "808182838485868788898a8b8c8d", INT64_C(-3501484581142773634)},
    {"blob 0x808182838485868788898a8b8c8d8e", "808182838485868788898a8b8c8d8e", INT64_C(63099782945186636)},
    {"blob 0x808182838485868788898a8b8c8d8e8f", "808182838485868788898a8b8c8d8e8f", INT64_C(7217206371623098675)},
    {"blob 0x808182838485868788898a8b8c8d8e8f90", "808182838485868788898a8b8c8d8e8f90", INT64_C(-3616694464407856223)},
    {"blob 0xffffffffffffffffffffffffffffff", "ffffffffffffffffffffffffffffff", INT64_C(-2195530867418009455)},
};

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

static void test_server_vectors(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        uint8_t key[64];
        size_t n = unhex(vectors[i].hex, key);
        int64_t got = cql_murmur3_token(key, n);
        if (got != vectors[i].token)
            fail_msg("%s: token %lld, Cassandra says %lld", vectors[i].what, (long long)got,
                     (long long)vectors[i].token);
    }
}

static void test_composite(void **st)
{
    (void)st;
    /* PRIMARY KEY ((a int, b text)) with a = 1, b = 'x' */
    cql_value parts[2] = {{(const uint8_t *)"\0\0\0\1", 4}, {(const uint8_t *)"x", 1}};
    ce_buf rk = CE_BUF_INIT;
    assert_int_equal(cql_routing_key(parts, 2, &rk), CE_OK);
    assert_int_equal(rk.len, 2 + 4 + 1 + 2 + 1 + 1);
    assert_memory_equal(rk.data, "\0\4\0\0\0\1\0\0\1x\0", rk.len);
    assert_int_equal(cql_murmur3_token((const uint8_t *)rk.data, rk.len), INT64_C(746584927563629270));
    /* a single component is the value itself */
    ce_buf_reset(&rk);
    assert_int_equal(cql_routing_key(parts, 1, &rk), CE_OK);
    assert_int_equal(rk.len, 4);
    assert_int_equal(cql_murmur3_token((const uint8_t *)rk.data, rk.len), INT64_C(-4069959284402364209));
    /* null components have no token */
    cql_value withnull[2] = {{NULL, CQL_NULL}, {(const uint8_t *)"x", 1}};
    ce_buf_reset(&rk);
    assert_int_equal(cql_routing_key(withnull, 2, &rk), CE_EINVAL);
    assert_int_equal(rk.len, 0);
    ce_buf_free(&rk);
}

static void test_edges(void **st)
{
    (void)st;
    /* the empty key is the ring minimum (Murmur3Partitioner.getToken) */
    assert_true(cql_murmur3_token((const uint8_t *)"", 0) == INT64_MIN);
    /* long keys: several blocks plus a tail; just stable and not the reserved minimum */
    uint8_t big[1000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    int64_t a = cql_murmur3_token(big, sizeof big);
    assert_true(a == cql_murmur3_token(big, sizeof big));
    assert_true(a != INT64_MIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_vectors),
        cmocka_unit_test(test_composite),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
