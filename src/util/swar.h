/*
 * swar.h - eight bytes at a time: yes/no tests on a 64-bit word of text, for the string
 * scanners of the JSON writer (jsonw.c) and the hit loader (es/json_load.c), whose clean
 * runs (no quote, backslash, control or non-ASCII byte) are most of a document's bytes.
 * Each test is exact as a yes/no for the whole word (which byte matched is not given:
 * callers finish the word byte by byte).
 */
#ifndef CE_UTIL_SWAR_H
#define CE_UTIL_SWAR_H

#include <stdint.h>
#include <string.h>

#define CE_SWAR_ONES UINT64_C(0x0101010101010101)
#define CE_SWAR_HIGHS UINT64_C(0x8080808080808080)

/* The eight bytes at p (any alignment). */
static inline uint64_t ce_swar_load(const void *p)
{
    uint64_t x;
    memcpy(&x, p, sizeof x);
    return x;
}

/* Non-zero when some byte of x is zero. */
static inline uint64_t ce_swar_has_zero(uint64_t x) { return (x - CE_SWAR_ONES) & ~x & CE_SWAR_HIGHS; }

/* Non-zero when some byte of x equals c. */
static inline uint64_t ce_swar_has_byte(uint64_t x, uint8_t c) { return ce_swar_has_zero(x ^ (CE_SWAR_ONES * c)); }

/* Non-zero when some byte of x is 0x80 or above. */
static inline uint64_t ce_swar_has_high(uint64_t x) { return x & CE_SWAR_HIGHS; }

/* Non-zero when some byte of x is below n (n <= 0x80), or some byte is 0x80 or above
 * (the borrow trick cannot tell those apart; callers test high bytes anyway). */
static inline uint64_t ce_swar_has_below_or_high(uint64_t x, uint8_t n)
{
    return ((x - CE_SWAR_ONES * n) & ~x & CE_SWAR_HIGHS) | ce_swar_has_high(x);
}

/* Non-zero when some byte of x ends or interrupts a plain JSON string run: a control
 * character, '"', '\\' or a non-ASCII byte. */
static inline uint64_t ce_swar_json_special(uint64_t x)
{
    return ce_swar_has_below_or_high(x, 0x20) | ce_swar_has_byte(x, '"') | ce_swar_has_byte(x, '\\');
}

#endif
