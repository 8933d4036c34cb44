/*
 * hex.h - hexadecimal digits, for the decoders of outside text (blob literals, escapes).
 */
#ifndef CE_UTIL_HEX_H
#define CE_UTIL_HEX_H

/* Value of one hex digit (either case), -1 for any other character. */
static inline int ce_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
