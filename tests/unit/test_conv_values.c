/* test_conv_values.c - CQL values <-> JSON (src/conv): every type's JSON form, byte-exact round
 * trips (bytes -> JSON -> bytes), malformed bytes (CE_EPROTO, never a crash) and
 * from_json conversions and their error messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <jansson.h>

#include "conv/conv.h"
#include "cql/cql.h"

static cql_type *ty(const char *text)
{
    cql_type *t = NULL;
    ce_err e = cql_type_parse(text, &t);
    if (e)
        fail_msg("cannot parse type %s", text);
    return t;
}

/* hex digits (spaces ignored) into out; returns the length. */
static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    int hi = -1;
    for (; *h; h++) {
        if (*h == ' ')
            continue;
        int v = (*h >= '0' && *h <= '9') ? *h - '0' : (*h | 32) - 'a' + 10;
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (uint8_t)(hi * 16 + v);
            hi = -1;
        }
    }
    return n;
}

static char *tohex(const uint8_t *p, size_t n)
{
    char *s = malloc(n * 2 + 1);
    for (size_t i = 0; i < n; i++)
        sprintf(s + 2 * i, "%02x", p[i]);
    s[2 * n] = '\0';
    return s;
}

static char *to_json(const cql_type *t, const uint8_t *p, int32_t len, ce_err want)
{
    ce_buf b = CE_BUF_INIT;
    ce_buf_append_str(&b, "#"); /* failure must leave existing content alone */
    ce_err e = conv_value_to_json(t, p, len, &b);
    if (e != want) {
        char *h = tohex(p, len > 0 ? (size_t)len : 0);
        fail_msg("to_json of %s: got %s want %s (output %s)", h, ce_errname(e), ce_errname(want),
                 ce_buf_cstr(&b));
    }
    if (e) {
        assert_string_equal(ce_buf_cstr(&b), "#");
        ce_buf_free(&b);
        return NULL;
    }
    char *s = strdup(ce_buf_cstr(&b) + 1);
    ce_buf_free(&b);
    return s;
}

/* JSON text to bytes of type t; returns hex (caller frees) or NULL with *err set. */
static char *from_json_text(const cql_type *t, const char *jtext, ce_err *err, char *msg, size_t msgn)
{
    json_error_t je;
    json_t *j = json_loads(jtext, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j) /* integers beyond int64 (jansson's limit): pass the digits as a string */
        j = json_string(jtext);
    ce_buf out = CE_BUF_INIT, eb = CE_BUF_INIT;
    bool is_null = false;
    *err = conv_value_from_json(t, j, &out, &is_null, &eb);
    json_decref(j);
    char *r = NULL;
    if (!*err)
        r = is_null ? strdup("null") : tohex((const uint8_t *)out.data, out.len);
    if (msg)
        snprintf(msg, msgn, "%s", eb.len ? ce_buf_cstr(&eb) : "");
    ce_buf_free(&out);
    ce_buf_free(&eb);
    return r;
}

/* Bytes (hex) of type t have this JSON form, and the JSON reads back to the same bytes. */
static void rt_t(const cql_type *t, const char *hex, const char *json)
{
    uint8_t buf[4096];
    size_t n = unhex(hex, buf);
    char *s = to_json(t, buf, (int32_t)n, CE_OK);
    if (strcmp(s, json) != 0)
        fail_msg("to_json of %s: got %s want %s", hex, s, json);
    /* must be valid JSON (big integers are valid JSON but beyond jansson's int64) */
    json_error_t je;
    json_t *j = json_loads(s, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
    if (!j && json_error_code(&je) != json_error_numeric_overflow)
        fail_msg("not valid JSON: %s (%s)", s, je.text);
    json_decref(j);
    /* varint/decimal keep every digit and the scale only through text */
    const char *back = s;
    char quoted[4200];
    if ((t->kind == CQL_T_VARINT || t->kind == CQL_T_DECIMAL) && s[0] != '"') {
        snprintf(quoted, sizeof quoted, "\"%s\"", s);
        back = quoted;
    }
    ce_err e;
    char msg[256];
    char *h = from_json_text(t, back, &e, msg, sizeof msg);
    if (e)
        fail_msg("from_json of %s failed: %s (%s)", back, ce_errname(e), msg);
    char *want = tohex(buf, n);
    if (strcmp(h, want) != 0)
        fail_msg("round trip of %s via %s gave %s", want, back, h);
    free(want);
    free(h);
    free(s);
}

static void rt(const char *type, const char *hex, const char *json)
{
    cql_type *t = ty(type);
    rt_t(t, hex, json);
    cql_type_free(t);
}

/* JSON text converts to these bytes. */
static void fj(const char *type, const char *json, const char *want_hex)
{
    cql_type *t = ty(type);
    ce_err e;
    char msg[256];
    char *h = from_json_text(t, json, &e, msg, sizeof msg);
    if (e)
        fail_msg("from_json %s as %s: %s (%s)", json, type, ce_errname(e), msg);
    uint8_t buf[1024];
    char *want = tohex(buf, unhex(want_hex, buf));
    if (strcmp(h, want) != 0)
        fail_msg("from_json %s as %s: got %s want %s", json, type, h, want);
    free(want);
    free(h);
    cql_type_free(t);
}

/* JSON text is rejected with this message. */
static void fj_err(const char *type, const char *json, const char *want_msg)
{
    cql_type *t = ty(type);
    ce_err e;
    char msg[256];
    char *h = from_json_text(t, json, &e, msg, sizeof msg);
    if (!e)
        fail_msg("from_json %s as %s unexpectedly gave %s", json, type, h);
    assert_int_equal(e, CE_ECONVERT);
    if (strcmp(msg, want_msg) != 0)
        fail_msg("from_json %s as %s: message '%s', want '%s'", json, type, msg, want_msg);
    cql_type_free(t);
}

static void bad(const char *type, const char *hex)
{
    cql_type *t = ty(type);
    uint8_t buf[1024];
    size_t n = unhex(hex, buf);
    to_json(t, buf, (int32_t)n, CE_EPROTO);
    cql_type_free(t);
}

/* ------------------------------------------------------------------ scalars */

static void test_text(void **st)
{
    (void)st;
    rt("text", "616263", "\"abc\"");
    rt("varchar", "636166c3a9", "\"caf\xc3\xa9\"");
    rt("text", "", "\"\"");
    rt("text", "22 5c 0a 00", "\"\\\"\\\\\\n\\u0000\"");
    rt("ascii", "41", "\"A\"");
    fj("text", "42", "3432");
    fj("text", "true", "74727565");
    fj_err("ascii", "\"caf\xc3\xa9\"", "'caf\xc3\xa9' is not a valid ascii");
    fj_err("text", "[1]", "an array is not a valid text");
}

static void test_integers(void **st)
{
    (void)st;
    rt("bigint", "8000000000000000", "-9223372036854775808");
    rt("bigint", "7fffffffffffffff", "9223372036854775807");
    rt("counter", "0000000000000005", "5");
    rt("int", "ffffffff", "-1");
    rt("int", "7fffffff", "2147483647");
    rt("smallint", "8000", "-32768");
    rt("tinyint", "80", "-128");
    rt("tinyint", "7f", "127");
    fj("int", "\"42\"", "0000002a");
    fj("int", "42.0", "0000002a");
    /* a real a search page hands over as a string (docs/json.md), taken like the real */
    fj("int", "\"42.0\"", "0000002a");
    fj("bigint", "\"1234567890123456.0\"", "000462d53c8abac0");
    fj_err("int", "\"1.5\"", "'1.5' is not a valid int");
    fj("bigint", "\"-9223372036854775808\"", "8000000000000000");
    fj_err("tinyint", "300", "value 300 out of range for tinyint");
    fj_err("smallint", "\"40000\"", "value '40000' out of range for smallint");
    fj_err("int", "2147483648", "value 2147483648 out of range for int");
    fj_err("bigint", "\"9223372036854775808\"", "value '9223372036854775808' out of range for bigint");
    fj_err("int", "1.5", "1.5 is not a valid int");
    fj_err("int", "\"12a\"", "'12a' is not a valid int");
    fj_err("int", "true", "true is not a valid int");
}

static void test_boolean(void **st)
{
    (void)st;
    rt("boolean", "01", "true");
    rt("boolean", "00", "false");
    fj("boolean", "\"true\"", "01");
    fj("boolean", "\"FALSE\"", "00");
    fj("boolean", "1", "01");
    fj_err("boolean", "\"yes\"", "'yes' is not a valid boolean");
}

static void test_blob(void **st)
{
    (void)st;
    rt("blob", "", "\"\"");
    rt("blob", "0001 02ff", "\"AAEC/w==\"");
    rt("blob", "fbff", "\"+/8=\"");
    fj("blob", "\"-_8\"", "fbff");    /* URL-safe, no padding */
    fj("blob", "\"+/8\"", "fbff");
    fj("blob", "\"0xCAFE00\"", "cafe00");
    fj("blob", "\"0x\"", "");
    fj_err("blob", "\"0xabc\"", "'0xabc' is not a valid blob");
    fj_err("blob", "\"a*b=\"", "'a*b=' is not a valid blob");
    fj_err("blob", "12", "expected a base64 or 0x-hex string for blob");
}

static void test_varint(void **st)
{
    (void)st;
    rt("varint", "00", "0");
    rt("varint", "7f", "127");
    rt("varint", "0080", "128");
    rt("varint", "ff", "-1");
    rt("varint", "80", "-128");
    rt("varint", "ff7f", "-129");
    rt("varint", "7fffffffffffffff", "9223372036854775807");
    rt("varint", "8000000000000000", "-9223372036854775808");
    rt("varint", "008000000000000000", "9223372036854775808");
    rt("varint", "ff7fffffffffffffff", "-9223372036854775809");
    rt("varint", "010000000000000000", "18446744073709551616");
    /* 2^100 and -2^100 */
    rt("varint", "10000000000000000000000000", "1267650600228229401496703205376");
    rt("varint", "f0000000000000000000000000", "-1267650600228229401496703205376");
    /* 10^27 + 1: a chunk boundary with inner zeros */
    rt("varint", "033b2e3c9fd0803ce8000001", "1000000000000000000000000001");
    /* redundant sign bytes are accepted on read */
    cql_type *t = ty("varint");
    uint8_t b[3] = {0, 0, 5};
    char *s = to_json(t, b, 3, CE_OK);
    assert_string_equal(s, "5");
    free(s);
    cql_type_free(t);
    fj("varint", "12345678901234567890123", "029d42b64e76714244cb");
    fj("varint", "\"1.0000000000000000e3\"", "03e8");
    fj_err("varint", "\"1e-400\"", "'1e-400' is not a valid varint");
    fj("varint", "\"-12345678901234567890123\"", "fd62bd49b1898ebdbb35");
    fj("varint", "1e20", "056bc75e2d63100000");
    fj_err("varint", "\"12.5\"", "'12.5' is not a valid varint");
    fj_err("varint", "1.5", "1.5 is not a valid varint");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* JSON string holding `lead` zeros then n digits cycling 1..9, with an optional sign. */
static json_t *digit_string(const char *sign, size_t lead, size_t n)
{
    size_t sl = strlen(sign);
    char *s = malloc(sl + lead + n + 1);
    memcpy(s, sign, sl);
    memset(s + sl, '0', lead);
    for (size_t i = 0; i < n; i++)
        s[sl + lead + i] = (char)('1' + i % 9);
    s[sl + lead + n] = '\0';
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* Issue 11: varint/decimal <-> text is fast up to CONV_MAX_DIGITS digits and refused
 * beyond with a clear reason; a 1 MiB varint (minutes before) is refused at once. */
static void test_varint_limits(void **st)
{
    (void)st;
    double t0 = now_s();
    cql_type *vt = ty("varint"), *dt = ty("decimal");
    ce_buf out = CE_BUF_INIT, js = CE_BUF_INIT, eb = CE_BUF_INIT;
    bool is_null;
    /* the largest accepted value, both signs, leading zeros ignored: exact round trip */
    const char *signs[] = {"", "-"};
    for (int k = 0; k < 2; k++) {
        json_t *j = digit_string(signs[k], 500, CONV_MAX_DIGITS);
        ce_buf_reset(&out);
        ce_buf_reset(&js);
        assert_int_equal(conv_value_from_json(vt, j, &out, &is_null, &eb), CE_OK);
        assert_int_equal(conv_value_to_json(vt, (const uint8_t *)out.data, (int32_t)out.len, &js), CE_OK);
        const char *want = json_string_value(j);
        assert_int_equal(js.len, strlen(signs[k]) + CONV_MAX_DIGITS);
        assert_memory_equal(js.data, signs[k], strlen(signs[k]));
        assert_memory_equal(js.data + strlen(signs[k]), want + strlen(signs[k]) + 500, CONV_MAX_DIGITS);
        json_decref(j);
    }
    /* one digit more is refused with the reason */
    json_t *j = digit_string("", 0, CONV_MAX_DIGITS + 1);
    ce_buf_reset(&out);
    assert_int_equal(conv_value_from_json(vt, j, &out, &is_null, &eb), CE_ECONVERT);
    assert_int_equal(out.len, 0);
    assert_string_equal(ce_buf_cstr(&eb), "value of 10001 digits exceeds the limit of 10000 digits for varint");
    assert_int_equal(conv_value_from_json(dt, j, &out, &is_null, &eb), CE_ECONVERT);
    assert_string_equal(ce_buf_cstr(&eb), "value of 10001 digits exceeds the limit of 10000 digits for decimal");
    json_decref(j);
    /* bytes -> text -> bytes across many limbs, both signs */
    uint8_t big[3000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(0x5a ^ (i * 37));
    for (int k = 0; k < 2; k++) {
        big[0] = k ? 0xa5 : 0x5a;
        ce_buf_reset(&js);
        ce_buf_reset(&out);
        assert_int_equal(conv_value_to_json(vt, big, sizeof big, &js), CE_OK);
        json_t *back = json_stringn(js.data, js.len);
        assert_int_equal(conv_value_from_json(vt, back, &out, &is_null, &eb), CE_OK);
        assert_int_equal(out.len, sizeof big);
        assert_memory_equal(out.data, big, sizeof big);
        json_decref(back);
    }
    /* 1 MiB varint and decimal on the wire: refused, output untouched */
    size_t n = 1u << 20;
    uint8_t *huge = malloc(n + 4);
    memset(huge, 0x11, n + 4);
    ce_buf_reset(&js);
    ce_buf_append_str(&js, "#");
    assert_int_equal(conv_value_to_json(vt, huge, (int32_t)n, &js), CE_ECONVERT);
    huge[0] = huge[1] = huge[2] = 0;
    huge[3] = 2; /* scale 2 */
    assert_int_equal(conv_value_to_json(dt, huge, (int32_t)n + 4, &js), CE_ECONVERT);
    assert_string_equal(ce_buf_cstr(&js), "#");
    free(huge);
    ce_buf_free(&out);
    ce_buf_free(&js);
    ce_buf_free(&eb);
    cql_type_free(vt);
    cql_type_free(dt);
    double took = now_s() - t0;
    if (took > 2.0) /* about 10 ms in a plain build; generous for sanitizers */
        fail_msg("varint limits took %.2f s", took);
}

static void test_decimal(void **st)
{
    (void)st;
    rt("decimal", "00000003 3039", "12.345");
    rt("decimal", "00000003 ff", "-0.001");
    rt("decimal", "00000000 2a", "42");
    rt("decimal", "00000002 00", "0.00");
    rt("decimal", "fffffffe 3039", "12345E+2");
    rt("decimal", "00000064 01", "1E-100");
    rt("decimal", "00000005 cfc7", "-0.12345");
    rt("decimal", "00000002 10000000000000000000000000", "12676506002282294014967032053.76");
    rt("decimal", "80000000 01", "1E+2147483648");
    fj("decimal", "\"1.2E+5\"", "fffffffc 0c");
    fj("decimal", "12.5", "00000001 7d");
    fj("decimal", "\"-0.00100\"", "00000005 9c");
    fj("decimal", "7", "00000000 07");
    fj_err("decimal", "\"1.2.3\"", "'1.2.3' is not a valid decimal");
    fj_err("decimal", "\"NaN\"", "'NaN' is not a valid decimal");
}

static void test_floating(void **st)
{
    (void)st;
    rt("double", "3fb999999999999a", "0.1");
    rt("double", "7ff8000000000000", "\"NaN\"");
    rt("double", "7ff0000000000000", "\"Infinity\"");
    rt("double", "fff0000000000000", "\"-Infinity\"");
    rt("double", "8000000000000000", "-0.0");
    rt("float", "80000000", "-0.0");
    rt("double", "7fefffffffffffff", "1.7976931348623157e+308");
    rt("float", "3dcccccd", "0.1");
    rt("float", "3fc00000", "1.5");
    rt("float", "7f800000", "\"Infinity\"");
    fj("double", "\"2.5\"", "4004000000000000");
    fj("double", "3", "4008000000000000");
    fj_err("float", "1e300", "value 1.0000000000000001e+300 out of range for float");
    fj_err("double", "\"abc\"", "'abc' is not a valid double");
}

static void test_uuid_inet(void **st)
{
    (void)st;
    rt("uuid", "00112233445566778899aabbccddeeff", "\"00112233-4455-6677-8899-aabbccddeeff\"");
    rt("timeuuid", "85d85a90e92011f1809a331b531084f4", "\"85d85a90-e920-11f1-809a-331b531084f4\"");
    fj("uuid", "\"00112233445566778899AABBCCDDEEFF\"", "00112233445566778899aabbccddeeff");
    fj_err("uuid", "\"abc\"", "'abc' is not a valid uuid");
    fj_err("timeuuid", "\"00112233-4455-6677-8899-aabbccddeeff\"",
           "'00112233-4455-6677-8899-aabbccddeeff' is not a time-based (version 1) uuid for timeuuid");
    rt("inet", "7f000001", "\"127.0.0.1\"");
    rt("inet", "00000000000000000000000000000001", "\"::1\"");
    rt("inet", "20010db8000000000000000000000001", "\"2001:db8::1\"");
    rt("inet", "00000000000000000000ffff01020304", "\"::ffff:1.2.3.4\"");
    fj_err("inet", "\"1.2.3\"", "'1.2.3' is not a valid inet");
}

static void test_timestamp(void **st)
{
    (void)st;
    rt("timestamp", "0000000000000000", "\"1970-01-01T00:00:00.000Z\"");
    rt("timestamp", "ffffffffffffffff", "\"1969-12-31T23:59:59.999Z\"");
    rt("timestamp", "000001a21225d97b", "\"2026-11-25T10:00:00.123Z\"");
    rt("timestamp", "ffffc77590fba000", "\"0000-01-01T00:00:00.000Z\"");
    rt("timestamp", "0000e677d21fdbff", "\"9999-12-31T23:59:59.999Z\"");
    rt("timestamp", "ffffc77590fb9fff", "-62167219200001"); /* year -1: epoch ms */
    rt("timestamp", "0000e677d21fdc00", "253402300800000");  /* year 10000 */
    rt("timestamp", "8000000000000000", "-9223372036854775808");
    rt("timestamp", "fffffdfdae01dc00", "\"1900-01-01T00:00:00.000Z\"");
    rt("timestamp", "000000dd9aa6e000", "\"2000-02-29T00:00:00.000Z\"");
    const char *w = "000001a21225d900"; /* 2026-11-25T10:00:00.000Z */
    fj("timestamp", "\"2026-11-25T10:00:00Z\"", w);
    fj("timestamp", "\"2026-11-25 10:00:00\"", w);
    fj("timestamp", "\"2026-11-25T10:00\"", w);
    fj("timestamp", "\"2026-11-25T12:00:00+02:00\"", w);
    fj("timestamp", "\"2026-11-25T05:30:00-0430\"", w);
    fj("timestamp", "\"2026-11-25T10:00:00.123+02:00\"", "000001a211b7fc7b");
    fj("timestamp", "\"2026-11-25T10:00:00.123456\"", "000001a21225d97b");
    fj("timestamp", "\"2026-11-25T10:00:00,1\"", "000001a21225d964");
    fj("timestamp", "1795600800000", w);
    fj("timestamp", "\"1795600800000\"", w);
    fj("timestamp", "\"2026-11-25\"", "000001a210008800");
    fj("timestamp", "\"+010000-01-01T00:00:00Z\"", "0000e677d21fdc00");
    fj_err("timestamp", "\"2026-02-30T00:00:00Z\"", "'2026-02-30T00:00:00Z' is not a valid timestamp");
    fj_err("timestamp", "\"2026-11-25T24:00:00Z\"", "'2026-11-25T24:00:00Z' is not a valid timestamp");
    fj_err("timestamp", "\"yesterday\"", "'yesterday' is not a valid timestamp");
    fj_err("timestamp", "1.5", "1.5 is not a valid timestamp");
}

static void test_date_time(void **st)
{
    (void)st;
    rt("date", "80000000", "\"1970-01-01\"");
    rt("date", "8000512e", "\"2026-11-25\"");
    rt("date", "7fffffff", "\"1969-12-31\"");
    rt("date", "7ff50558", "\"0000-01-01\"");
    rt("date", "00000000", "\"-5877641-06-23\"");
    rt("date", "ffffffff", "\"+5881580-07-11\"");
    fj("date", "\"2026-11-25T00:00:00Z\"", "8000512e");
    fj("date", "20782", "8000512e");
    fj("date", "-1", "7fffffff");
    fj_err("date", "\"2026-11-25T10:00:00Z\"", "'2026-11-25T10:00:00Z' has a time of day, not a valid date");
    fj_err("date", "3000000000", "value 3000000000 out of range for date");
    rt("time", "0000000000000000", "\"00:00:00.000000000\"");
    rt("time", "00004e94914effff", "\"23:59:59.999999999\"");
    rt("time", "000020bdee920de7", "\"10:00:00.123456999\"");
    fj("time", "\"10:00\"", "000020bde7364000");
    fj("time", "\"10:00:00.5\"", "000020be0503a500");
    fj("time", "36000000000000", "000020bde7364000");
    fj_err("time", "\"24:00:00\"", "'24:00:00' is not a valid time");
    fj_err("time", "86400000000000", "value 86400000000000 out of range for time");
}

static void test_duration(void **st)
{
    (void)st;
    rt("duration", "02 04 06", "\"1mo2d3ns\"");
    rt("duration", "01 03 05", "\"-1mo2d3ns\"");
    rt("duration", "00 00 00", "\"0s\"");
    rt("duration", "1c 00 00", "\"1y2mo\"");
    /* 1h30m = 5400e9 ns; zigzag 10800e9 -> 7-byte vint */
    rt("duration", "00 00 fc 09 d2 92 29 e0 00", "\"1h30m\"");
    rt("duration", "00 00 fc 06 8c 61 71 3f ff", "\"-1h\"");
    fj("duration", "\"P1M2DT0.000000003S\"", "02 04 06");
    fj("duration", "\"-P1M2DT0.000000003S\"", "01 03 05");
    fj("duration", "\"1w\"", "00 0e 00");
    fj("duration", "\"2d1mo3ns\"", "02 04 06");
    fj("duration", "\"1\xc2\xb5s\"", "00 00 87 d0");
    fj_err("duration", "\"1x\"", "'1x' is not a valid duration");
    fj_err("duration", "\"P\"", "'P' is not a valid duration");
    bad("duration", "02 03 00"); /* mixed signs */
    bad("duration", "02 04");    /* truncated */
}

/* ------------------------------------------------------------------ collections */

static void test_collections(void **st)
{
    (void)st;
    rt("list<int>", "00000003 00000004 00000001 00000004 00000002 00000004 00000003", "[1,2,3]");
    rt("list<int>", "00000000", "[]");
    rt("set<text>", "00000002 00000001 61 00000001 62", "[\"a\",\"b\"]");
    rt("map<text, int>", "00000002 00000001 61 00000004 00000001 00000001 22 00000004 00000002",
       "{\"a\":1,\"\\\"\":2}");
    rt("map<int, text>", "00000001 00000004 00000001 00000001 61", "[[1,\"a\"]]");
    rt("frozen<map<text, frozen<list<int>>>>",
       "00000001 00000001 6b 00000014 00000002 00000004 00000001 00000004 00000002",
       "{\"k\":[1,2]}");
    rt("list<frozen<set<frozen<list<text>>>>>",
       "00000001 00000011 00000001 00000009 00000001 00000001 78", "[[[\"x\"]]]");
    rt("map<timestamp, boolean>", "00000001 00000008 0000000000000000 00000001 01",
       "[[\"1970-01-01T00:00:00.000Z\",true]]");
    fj("map<int, text>", "{\"1\": \"a\"}", "00000001 00000004 00000001 00000001 61");
    fj("map<text, int>", "[[\"a\", 1]]", "00000001 00000001 61 00000004 00000001");
    fj_err("list<int>", "{\"a\":1}", "expected an array for list<int>");
    fj_err("list<int>", "[1, null]", "null is not allowed inside list<int>");
    fj_err("list<tinyint>", "[1, 300]", "value 300 out of range for tinyint");
    fj_err("map<int, text>", "{\"x\": \"a\"}", "'x' is not a valid int");
    fj_err("map<int, text>", "[[1]]", "expected [key, value] pairs for map<int, text>");
    fj_err("map<int, text>", "3", "expected an object or an array of [key, value] pairs for map<int, text>");
    /* malformed */
    bad("list<int>", "00000002 00000004 00000001");                 /* missing element */
    bad("list<int>", "00000001 00000008 00000001");                 /* element longer than value */
    bad("list<int>", "00000001 00000004 00000001 00");              /* trailing byte */
    bad("list<int>", "000000");                                      /* short count */
    bad("list<int>", "ffffffff");                                    /* negative count */
    bad("list<int>", "7fffffff 00000004 00000001");                  /* huge count */
    bad("list<int>", "00000001 00000003 000001");                    /* wrong int length */
    bad("map<text, int>", "00000001 ffffffff 00000004 00000001");    /* null key */
    bad("map<int, int>", "00000001 00000004 00000001");              /* missing value */
}

static cql_type *udt_address(void)
{
    cql_type *t = cql_type_new(CQL_T_UDT);
    t->keyspace = strdup("ks");
    t->name = strdup("address");
    assert_int_equal(cql_type_add_sub(t, ty("text"), "street"), CE_OK);
    assert_int_equal(cql_type_add_sub(t, ty("int"), "zip"), CE_OK);
    assert_int_equal(cql_type_add_sub(t, ty("list<text>"), "tags"), CE_OK);
    return t;
}

static void test_tuple_udt(void **st)
{
    (void)st;
    rt("tuple<int, text, boolean>", "00000004 00000007 00000002 6869 ffffffff", "[7,\"hi\",null]");
    rt("frozen<tuple<int, frozen<tuple<text>>>>", "00000004 00000001 00000005 00000001 61", "[1,[\"a\"]]");
    fj_err("tuple<int, text>", "[1]", "expected 2 elements, got 1, for tuple<int, text>");
    fj_err("tuple<int, text>", "{}", "expected an array for tuple<int, text>");
    bad("tuple<int>", "00000004 00000001 00000004 00000001"); /* more fields than the type */

    cql_type *u = udt_address();
    rt_t(u, "00000003 616263 00000004 0000007b 0000000e 00000002 00000001 78 00000001 79",
         "{\"street\":\"abc\",\"zip\":123,\"tags\":[\"x\",\"y\"]}");
    rt_t(u, "ffffffff 00000004 0000007b ffffffff", "{\"street\":null,\"zip\":123,\"tags\":null}");
    /* a value written before fields were added: missing trailing fields are null */
    char *s = to_json(u, (const uint8_t *)"\x00\x00\x00\x01z", 5, CE_OK);
    assert_string_equal(s, "{\"street\":\"z\",\"zip\":null,\"tags\":null}");
    free(s);
    json_t *j = json_loads("{\"zip\": 5, \"nope\": 1}", 0, NULL);
    ce_buf out = CE_BUF_INIT, eb = CE_BUF_INIT;
    bool isnull;
    assert_int_equal(conv_value_from_json(u, j, &out, &isnull, &eb), CE_ECONVERT);
    assert_string_equal(ce_buf_cstr(&eb), "unknown field 'nope' for ks.address");
    assert_int_equal(out.len, 0);
    json_decref(j);
    j = json_loads("{\"zip\": 5}", 0, NULL);
    assert_int_equal(conv_value_from_json(u, j, &out, &isnull, &eb), CE_OK);
    char *h = tohex((const uint8_t *)out.data, out.len);
    assert_string_equal(h, "ffffffff0000000400000005ffffffff");
    free(h);
    json_decref(j);
    ce_buf_free(&out);
    ce_buf_free(&eb);
    cql_type_free(u);
}

static void test_vector(void **st)
{
    (void)st;
    rt("vector<float, 3>", "3f800000 40000000 40400000", "[1,2,3]");
    rt("vector<double, 1>", "3ff8000000000000", "[1.5]");
    /* variable-size elements: unsigned vint length before each */
    rt("vector<text, 2>", "01 61 02 6263", "[\"a\",\"bc\"]");
    /* tinyint/smallint/date/time are variable-size for Cassandra's VectorType */
    rt("vector<smallint, 2>", "02 0001 02 0001", "[1,1]");
    rt("vector<vector<float, 2>, 2>", "3fc00000 3fc00000 3fc00000 3fc00000", "[[1.5,1.5],[1.5,1.5]]");
    rt("vector<list<int>, 1>", "0c 00000001 00000004 00000001", "[[1]]");
    /* an element of 200 bytes needs a 2-byte vint */
    char hex[1000] = "80c8";
    for (int i = 0; i < 200; i++)
        strcat(hex, "61");
    char json[300] = "[\"";
    for (int i = 0; i < 200; i++)
        strcat(json, "a");
    strcat(json, "\"]");
    rt("vector<text, 1>", hex, json);
    fj_err("vector<float, 3>", "[1, 2]", "expected 3 elements, got 2, for vector<float, 3>");
    fj_err("vector<float, 2>", "[1, null]", "null is not allowed inside vector<float, 2>");
    bad("vector<float, 3>", "3f800000 40000000");   /* short */
    bad("vector<text, 2>", "01 61");                 /* missing element */
    bad("vector<text, 1>", "05 61");                 /* length beyond value */
}

static void test_nulls_and_empty(void **st)
{
    (void)st;
    cql_type *t = ty("int");
    char *s = to_json(t, NULL, CQL_NULL, CE_OK);
    assert_string_equal(s, "null");
    free(s);
    s = to_json(t, (const uint8_t *)"", 0, CE_OK); /* empty non-text value reads as null */
    assert_string_equal(s, "null");
    free(s);
    json_t *n = json_null();
    ce_buf out = CE_BUF_INIT;
    bool is_null = false;
    assert_int_equal(conv_value_from_json(t, n, &out, &is_null, NULL), CE_OK);
    assert_true(is_null);
    assert_int_equal(out.len, 0);
    cql_type_free(t);
    ce_buf_free(&out);
}

static void test_malformed_scalars(void **st)
{
    (void)st;
    bad("int", "000001");
    bad("bigint", "00");
    bad("smallint", "000000");
    bad("tinyint", "0000");
    bad("boolean", "0000");
    bad("double", "00000000");
    bad("float", "0000000000");
    bad("uuid", "0011");
    bad("inet", "0102030405");
    bad("timestamp", "01");
    bad("date", "000000");
    bad("time", "ffffffffffffffff");   /* negative */
    bad("time", "00004e94914f0000");   /* 86400 s */
    bad("decimal", "000000");
    bad("decimal", "00000001");        /* no unscaled bytes */
}

static void test_deep_nesting(void **st)
{
    (void)st;
    /* 80 nested lists: beyond the depth limit -> CE_EPROTO, no stack exhaustion */
    cql_type *t = ty("int");
    for (int i = 0; i < 80; i++) {
        cql_type *l = cql_type_new(CQL_T_LIST);
        cql_type_add_sub(l, t, NULL);
        t = l;
    }
    uint8_t buf[80 * 8 + 16];
    size_t n = 0;
    for (int i = 0; i < 80; i++) {
        uint32_t rest = (uint32_t)((80 - i - 1) * 8 + 8);
        uint8_t hdr[8] = {0, 0, 0, 1, (uint8_t)(rest >> 24), (uint8_t)(rest >> 16), (uint8_t)(rest >> 8), (uint8_t)rest};
        memcpy(buf + n, hdr, 8);
        n += 8;
    }
    memcpy(buf + n, "\0\0\0\1", 4);
    n += 4;
    to_json(t, buf, (int32_t)n, CE_EPROTO);
    cql_type_free(t);
}

static void test_buffer_cap(void **st)
{
    (void)st;
    /* a capped buffer that overflows reports CE_ELIMIT and is restored */
    cql_type *t = ty("text");
    ce_buf b;
    ce_buf_init(&b, 8);
    assert_int_equal(conv_value_to_json(t, (const uint8_t *)"0123456789", 10, &b), CE_ELIMIT);
    assert_int_equal(b.len, 0);
    ce_buf_free(&b);
    cql_type_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),          cmocka_unit_test(test_integers),
        cmocka_unit_test(test_boolean),       cmocka_unit_test(test_blob),
        cmocka_unit_test(test_varint),        cmocka_unit_test(test_decimal),
        cmocka_unit_test(test_varint_limits),
        cmocka_unit_test(test_floating),      cmocka_unit_test(test_uuid_inet),
        cmocka_unit_test(test_timestamp),     cmocka_unit_test(test_date_time),
        cmocka_unit_test(test_duration),      cmocka_unit_test(test_collections),
        cmocka_unit_test(test_tuple_udt),     cmocka_unit_test(test_vector),
        cmocka_unit_test(test_nulls_and_empty), cmocka_unit_test(test_malformed_scalars),
        cmocka_unit_test(test_deep_nesting),  cmocka_unit_test(test_buffer_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
