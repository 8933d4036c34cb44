/*
 * crc.c - checksums of CQL native protocol v5 framing.
 *
 * Frame headers carry a CRC24 (init 0x875060, polynomial 0x1974F0B, not reflected)
 * over the little-endian header bytes; frame payloads carry a standard IEEE CRC32
 * (reflected, polynomial 0xEDB88320) that Cassandra seeds by first feeding the four
 * bytes FA 2D 55 CA. CRC32 is table-driven, slicing by 8 (tables built once, lazily).
 */
#include "cql/cql_int.h"

#define CRC24_INIT 0x875060u
#define CRC24_POLY 0x1974F0Bu

uint32_t cql_crc24(uint64_t v, int len)
{
    uint32_t crc = CRC24_INIT;
    for (int i = 0; i < len; i++) {
        crc ^= (uint32_t)(v & 0xff) << 16;
        v >>= 8;
        for (int bit = 0; bit < 8; bit++) {
            crc <<= 1;
            if (crc & 0x1000000u)
                crc ^= CRC24_POLY;
        }
    }
    return crc & 0xffffffu;
}

/* Slicing-by-8 tables: t[0] is the classic byte table, t[k][i] advances t[k-1][i]
 * by one more zero byte, so eight input bytes are folded per step. */
static uint32_t crc32_t[8][256];
static bool crc32_ready;

static void crc32_init_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc32_t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int k = 1; k < 8; k++)
            crc32_t[k][i] = (crc32_t[k - 1][i] >> 8) ^ crc32_t[0][crc32_t[k - 1][i] & 0xff];
    crc32_ready = true; /* idempotent: racing initialisers write the same values */
}

uint32_t cql_crc32_update(uint32_t crc, const uint8_t *data, size_t len)
{
    if (!crc32_ready)
        crc32_init_table();
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)data[0] | ((uint32_t)data[1] << 8) | ((uint32_t)data[2] << 16) |
                             ((uint32_t)data[3] << 24));
        uint32_t hi = (uint32_t)data[4] | ((uint32_t)data[5] << 8) | ((uint32_t)data[6] << 16) |
                      ((uint32_t)data[7] << 24);
        crc = crc32_t[7][lo & 0xff] ^ crc32_t[6][(lo >> 8) & 0xff] ^ crc32_t[5][(lo >> 16) & 0xff] ^
              crc32_t[4][lo >> 24] ^ crc32_t[3][hi & 0xff] ^ crc32_t[2][(hi >> 8) & 0xff] ^
              crc32_t[1][(hi >> 16) & 0xff] ^ crc32_t[0][hi >> 24];
        data += 8;
        len -= 8;
    }
    while (len--)
        crc = crc32_t[0][(crc ^ *data++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint32_t cql_crc32_v5(const uint8_t *data, size_t len)
{
    static const uint8_t seed[4] = {0xFA, 0x2D, 0x55, 0xCA};
    return cql_crc32_update(cql_crc32_update(0, seed, 4), data, len);
}
