/* test_jsonw.c - the hot-path JSON writer: escaping, invalid UTF-8, numbers, base64. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "util/jsonw.h"

static void check_json_string(const char *in, size_t n, const char *want)
{
    ce_buf b = CE_BUF_INIT;
    assert_int_equal(jsonw_string(&b, in, n), CE_OK);
    assert_string_equal(ce_buf_cstr(&b), want);
    /* Whatever went in, what comes out must parse as JSON. */
    json_error_t jerr;
    json_t *j = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    assert_non_null(j);
    json_decref(j);
    ce_buf_free(&b);
}

static void test_plain_and_escapes(void **st)
{
    (void)st;
    check_json_string("abc", 3, "\"abc\"");
    check_json_string("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    check_json_string("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
    check_json_string("\x01\x1f", 2, "\"\\u0001\\u001f\"");
    check_json_string("nul\0in", 6, "\"nul\\u0000in\"");
}

/* Strings of random pieces, each with its known escaped form, of every length around the
 * eight-byte steps of the scan: the output is the pieces' forms in order. */
static void test_escape_pieces_at_every_offset(void **st)
{
    (void)st;
    static const char *const piece[][2] = {
        {"a", "a"}, {"~", "~"}, {" ", " "}, {"\"", "\\\""}, {"\\", "\\\\"}, {"\n", "\\n"},
        {"\x01", "\\u0001"}, {"\x1f", "\\u001f"}, {"\x7f", "\\u007f"}, {"\xc3\xa9", "\xc3\xa9"},
        {"\xe2\x82\xac", "\xe2\x82\xac"}, {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
        {"\x80", "\xef\xbf\xbd"}, {"\xff", "\xef\xbf\xbd"}, {"0123456789", "0123456789"},
    };
    const size_t np = sizeof piece / sizeof piece[0];
    unsigned seed = 12345;
    for (int round = 0; round < 4000; round++) {
        char in[512], want[2048];
        size_t ni = 0, nw = 0;
        int pieces = round % 40;
        for (int k = 0; k < pieces; k++) {
            seed = seed * 1103515245u + 12345u;
            /* mostly plain pieces, so that long clean runs meet one odd byte */
            size_t pi = (seed >> 16) % 4 ? (seed >> 20) % 3 : (seed >> 20) % np;
            size_t li = strlen(piece[pi][0]), lw = strlen(piece[pi][1]);
            memcpy(in + ni, piece[pi][0], li);
            memcpy(want + nw, piece[pi][1], lw);
            ni += li;
            nw += lw;
        }
        want[nw] = '\0';
        ce_buf b = CE_BUF_INIT;
        assert_int_equal(jsonw_string_body(&b, in, ni), CE_OK);
        assert_int_equal(b.len, nw);
        assert_memory_equal(b.data, want, nw);
        ce_buf_free(&b);
    }
}

static void test_utf8(void **st)
{
    (void)st;
    check_json_string("caf\xc3\xa9", 5, "\"caf\xc3\xa9\"");
    check_json_string("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");
    /* Broken sequences become U+FFFD. */
    check_json_string("\xc3", 1, "\"\xef\xbf\xbd\"");
    check_json_string("\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"");     /* overlong */
    check_json_string("\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* surrogate */
    check_json_string("\xf4\x90\x80\x80", 4,
                  "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");    /* > U+10FFFF */
    check_json_string("\xff", 1, "\"\xef\xbf\xbd\"");
}

static void test_numbers(void **st)
{
    (void)st;
    ce_buf b = CE_BUF_INIT;
    jsonw_int64(&b, INT64_MIN);
    ce_buf_append_byte(&b, ' ');
    jsonw_int64(&b, INT64_MAX);
    ce_buf_append_byte(&b, ' ');
    jsonw_uint64(&b, UINT64_MAX);
    ce_buf_append_byte(&b, ' ');
    jsonw_double(&b, 0.1);
    ce_buf_append_byte(&b, ' ');
    jsonw_float(&b, 0.1f);
    ce_buf_append_byte(&b, ' ');
    jsonw_double(&b, 1e300);
    assert_string_equal(ce_buf_cstr(&b),
                        "-9223372036854775808 9223372036854775807 18446744073709551615 0.1 0.1 1e+300");
    ce_buf_free(&b);
}

/* Fewest %g digits that read back as v: the reference for "shortest". */
static int reference_digits(double v, bool is_float)
{
    char t[64];
    for (int p = 1; p <= 17; p++) {
        snprintf(t, sizeof t, "%.*g", p, v);
        if (is_float ? strtof(t, NULL) == (float)v : strtod(t, NULL) == v)
            return p;
    }
    return 17;
}

static int significant_digits(const char *s)
{
    char d[64];
    int k = 0;
    bool started = false;
    for (const char *q = s; *q && *q != 'e' && *q != 'E'; q++)
        if (*q >= '0' && *q <= '9' && (*q != '0' || started) && k < 63) {
            started = true;
            d[k++] = *q;
        }
    while (k > 0 && d[k - 1] == '0')
        k--;
    return k ? k : 1;
}

/* Integer digits against printf: every value below 100 000, each power of ten and its
 * neighbours, and a million pseudo-random values of every magnitude. */
static void test_integer_digits_match_printf(void **st)
{
    (void)st;
    char got[32], want[32];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (uint64_t k = 0; k < 1100000; k++) {
        uint64_t v;
        if (k < 100000) {
            v = k;
        } else if (k < 100060) {
            uint64_t p = 1;
            for (uint64_t j = 0; j < (k - 100000) / 3; j++)
                p *= 10;
            v = p + (k % 3) - 1;
        } else {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            v = x >> (x % 64);
        }
        size_t n = jsonw_fmt_uint64(got, v);
        snprintf(want, sizeof want, "%llu", (unsigned long long)v);
        assert_string_equal(got, want);
        assert_int_equal(n, strlen(want));
        int64_t sv = (int64_t)x;
        n = jsonw_fmt_int64(got, sv);
        snprintf(want, sizeof want, "%lld", (long long)sv);
        assert_string_equal(got, want);
        assert_int_equal(n, strlen(want));
    }
}

static void test_shortest_roundtrip(void **st)
{
    (void)st;
    static const double fixed[] = {0.1, 1.0 / 3, 2.0 / 7, 5e-324, 2.2250738585072014e-308, 1e300,
                                   9007199254740992.0, 9007199254740993.0, 123456.789, 1e-7,
                                   1e21, 1e22, 0.30000000000000004, 1.7976931348623157e308};
    ce_buf b = CE_BUF_INIT;
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 40000; i++) {
        double v;
        if (i < (int)(sizeof fixed / sizeof fixed[0])) {
            v = fixed[i];
        } else {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17; /* xorshift64 */
            if (i % 3 == 0)
                memcpy(&v, &x, sizeof v);          /* any bit pattern */
            else if (i % 3 == 1)
                v = (double)(x % 1000000) / 7.0;   /* 16-17 digit values */
            else
                v = (double)(x % 100000) / 1000.0; /* human-looking values */
            if (!isfinite(v))
                continue;
        }
        b.len = 0;
        assert_int_equal(jsonw_double(&b, v), CE_OK);
        const char *s = ce_buf_cstr(&b);
        if (strtod(s, NULL) != v)
            fail_msg("double %a written as %s does not read back", v, s);
        if (v != 0 && significant_digits(s) > reference_digits(v, false))
            fail_msg("double %.17g written as %s is not the shortest", v, s);
        float f = (float)v;
        if (!isfinite(f))
            continue;
        b.len = 0;
        assert_int_equal(jsonw_float(&b, f), CE_OK);
        s = ce_buf_cstr(&b);
        if (strtof(s, NULL) != f)
            fail_msg("float %a written as %s does not read back", (double)f, s);
        if (f != 0 && significant_digits(s) > reference_digits(f, true))
            fail_msg("float %.9g written as %s is not the shortest", (double)f, s);
    }
    ce_buf_free(&b);
}

static void test_base64(void **st)
{
    (void)st;
    ce_buf b = CE_BUF_INIT;
    jsonw_base64(&b, (const uint8_t *)"", 0);
    jsonw_base64(&b, (const uint8_t *)"f", 1);
    jsonw_base64(&b, (const uint8_t *)"fo", 2);
    jsonw_base64(&b, (const uint8_t *)"foo", 3);
    jsonw_base64(&b, (const uint8_t *)"foob", 4);
    assert_string_equal(ce_buf_cstr(&b), "\"\"\"Zg==\"\"Zm8=\"\"Zm9v\"\"Zm9vYg==\"");
    ce_buf_free(&b);
}

static void test_buf_cap(void **st)
{
    (void)st;
    ce_buf b;
    ce_buf_init(&b, 8);
    assert_int_equal(ce_buf_append(&b, "12345678", 8), CE_OK);
    assert_int_equal(ce_buf_append(&b, "9", 1), CE_ELIMIT);
    assert_int_equal(b.len, 8);
    ce_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_escapes),
        cmocka_unit_test(test_escape_pieces_at_every_offset),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_integer_digits_match_printf),
        cmocka_unit_test(test_shortest_roundtrip),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_buf_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
