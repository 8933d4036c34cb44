/* test_cql_types.c - cql_type trees: schema-text and marshal-class parsing, formatting,
 * deep copies, fixed sizes (as Cassandra 5's VectorType sees them), consistency and
 * error-code names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cql/cql.h"

/* Parse text, format it, compare with want (NULL = must fail to parse). */
static void pf(const char *text, const char *want)
{
    cql_type *t = NULL;
    ce_err e = cql_type_parse(text, &t);
    if (!want) {
        if (e == CE_OK)
            fail_msg("'%s' parsed but should not", text);
        assert_null(t);
        return;
    }
    if (e)
        fail_msg("'%s' did not parse: %s", text, ce_errname(e));
    ce_buf b = CE_BUF_INIT;
    assert_int_equal(cql_type_format(t, &b), CE_OK);
    if (strcmp(ce_buf_cstr(&b), want) != 0)
        fail_msg("'%s' formatted as '%s', want '%s'", text, ce_buf_cstr(&b), want);
    /* a clone formats the same */
    cql_type *c = cql_type_clone(t);
    assert_non_null(c);
    ce_buf b2 = CE_BUF_INIT;
    assert_int_equal(cql_type_format(c, &b2), CE_OK);
    assert_string_equal(ce_buf_cstr(&b), ce_buf_cstr(&b2));
    /* and the formatted text parses back to the same text */
    cql_type *t2 = NULL;
    assert_int_equal(cql_type_parse(ce_buf_cstr(&b), &t2), CE_OK);
    ce_buf_reset(&b2);
    assert_int_equal(cql_type_format(t2, &b2), CE_OK);
    assert_string_equal(ce_buf_cstr(&b), ce_buf_cstr(&b2));
    ce_buf_free(&b);
    ce_buf_free(&b2);
    cql_type_free(t);
    cql_type_free(c);
    cql_type_free(t2);
}

static void test_parse_simple(void **st)
{
    (void)st;
    const char *names[] = {"ascii", "bigint", "blob", "boolean", "counter", "decimal", "double",
                           "float", "int", "smallint", "tinyint", "varint", "timestamp", "date",
                           "time", "duration", "uuid", "timeuuid", "inet", "text"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        pf(names[i], names[i]);
    pf("varchar", "text");
    pf("  BIGINT ", "bigint");
    cql_type *t;
    assert_int_equal(cql_type_parse("varchar", &t), CE_OK);
    assert_int_equal(t->kind, CQL_T_VARCHAR);
    cql_type_free(t);
}

static void test_parse_nested(void **st)
{
    (void)st;
    pf("list<int>", "list<int>");
    pf("set<frozen<list<text>>>", "set<frozen<list<text>>>");
    pf("frozen<map<text, frozen<list<int>>>>", "frozen<map<text, frozen<list<int>>>>");
    pf("map<text,int>", "map<text, int>");
    pf("tuple<int, text, frozen<tuple<boolean>>>", "tuple<int, text, frozen<tuple<boolean>>>");
    pf("vector<float, 3>", "vector<float, 3>");
    pf("vector<vector<float,2>,4>", "vector<vector<float, 2>, 4>");
    pf("map<frozen<tuple<int, vector<float, 2>>>, blob>",
       "map<frozen<tuple<int, vector<float, 2>>>, blob>");
    cql_type *t;
    assert_int_equal(cql_type_parse("frozen<map<text, frozen<list<int>>>>", &t), CE_OK);
    assert_int_equal(t->kind, CQL_T_MAP);
    assert_true(t->frozen);
    assert_int_equal(t->nsub, 2);
    assert_int_equal(t->sub[1]->kind, CQL_T_LIST);
    assert_true(t->sub[1]->frozen);
    cql_type_free(t);
    assert_int_equal(cql_type_parse("vector<float, 3>", &t), CE_OK);
    assert_int_equal(t->kind, CQL_T_VECTOR);
    assert_int_equal(t->dimension, 3);
    assert_int_equal(t->sub[0]->kind, CQL_T_FLOAT);
    cql_type_free(t);
}

static void test_parse_udt_custom(void **st)
{
    (void)st;
    pf("address", "address");
    pf("frozen<address>", "frozen<address>");
    pf("\"MyType\"", "\"MyType\"");
    pf("\"my\"\"type\"", "\"my\"\"type\"");
    pf("ks.address", "ks.address");
    pf("list<frozen<\"Addr Ess\">>", "list<frozen<\"Addr Ess\">>");
    cql_type *t;
    assert_int_equal(cql_type_parse("frozen<\"MyType\">", &t), CE_OK);
    assert_int_equal(t->kind, CQL_T_UDT);
    assert_string_equal(t->name, "MyType");
    assert_int_equal(t->nsub, 0);
    cql_type_free(t);
    /* a custom class string: known classes become their type, others stay custom */
    pf("'org.apache.cassandra.db.marshal.DynamicCompositeType(s=>org.apache.cassandra.db.marshal.UTF8Type)'",
       "'org.apache.cassandra.db.marshal.DynamicCompositeType(s=>org.apache.cassandra.db.marshal.UTF8Type)'");
    pf("'org.apache.cassandra.db.marshal.LongType'", "bigint");
    pf("'com.example.It''s'", "'com.example.It''s'");
    assert_int_equal(cql_type_parse("'org.example.Custom'", &t), CE_OK);
    assert_int_equal(t->kind, CQL_T_CUSTOM);
    assert_string_equal(t->custom_class, "org.example.Custom");
    cql_type_free(t);
}

static void test_parse_errors(void **st)
{
    (void)st;
    pf("", NULL);
    pf("list<int", NULL);
    pf("list<>", NULL);
    pf("list<int, int>", NULL);
    pf("map<int>", NULL);
    pf("map<int, int, int>", NULL);
    pf("frozen<int", NULL);
    pf("vector<float>", NULL);
    pf("vector<float, 0>", NULL);
    pf("vector<float, -1>", NULL);
    pf("vector<float, x>", NULL);
    pf("int int", NULL);
    pf("\"unterminated", NULL);
    pf("'unterminated", NULL);
    pf("list<int>>", NULL);
    /* nesting beyond the cap is refused instead of exhausting the stack */
    char deep[2000] = "";
    for (int i = 0; i < 200; i++)
        strcat(deep, "list<");
    strcat(deep, "int");
    for (int i = 0; i < 200; i++)
        strcat(deep, ">");
    pf(deep, NULL);
    cql_type *t = (cql_type *)1;
    assert_int_equal(cql_type_parse(NULL, &t), CE_EINVAL);
}

static void test_parse_class(void **st)
{
    (void)st;
    struct {
        const char *cls, *want;
    } cases[] = {
        {"org.apache.cassandra.db.marshal.UTF8Type", "text"},
        {"org.apache.cassandra.db.marshal.DateType", "timestamp"},
        {"org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.FloatType,3)",
         "vector<float, 3>"},
        {"org.apache.cassandra.db.marshal.ListType(org.apache.cassandra.db.marshal.Int32Type)", "list<int>"},
        {"org.apache.cassandra.db.marshal.FrozenType(org.apache.cassandra.db.marshal.MapType(org.apache.cassandra.db.marshal.UTF8Type,org.apache.cassandra.db.marshal.LongType))",
         "frozen<map<text, bigint>>"},
        {"org.apache.cassandra.db.marshal.ReversedType(org.apache.cassandra.db.marshal.TimeUUIDType)", "timeuuid"},
        {"org.apache.cassandra.db.marshal.TupleType(org.apache.cassandra.db.marshal.Int32Type,org.apache.cassandra.db.marshal.BytesType)",
         "tuple<int, blob>"},
        {"org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.DoubleType,2),2)",
         "vector<vector<double, 2>, 2>"},
        {"com.example.MyType", "'com.example.MyType'"},
        {"org.apache.cassandra.db.marshal.ListType(", "'org.apache.cassandra.db.marshal.ListType('"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cql_type *t = NULL;
        assert_int_equal(cql_type_parse_class(cases[i].cls, &t), CE_OK);
        ce_buf b = CE_BUF_INIT;
        assert_int_equal(cql_type_format(t, &b), CE_OK);
        if (strcmp(ce_buf_cstr(&b), cases[i].want) != 0)
            fail_msg("%s -> %s, want %s", cases[i].cls, ce_buf_cstr(&b), cases[i].want);
        ce_buf_free(&b);
        cql_type_free(t);
    }
    /* UserType(keyspace, hex name, hex field:type...) */
    cql_type *t = NULL;
    assert_int_equal(
        cql_type_parse_class("org.apache.cassandra.db.marshal.UserType(ks,61646472657373,"
                             "737472656574:org.apache.cassandra.db.marshal.UTF8Type,"
                             "7a6970:org.apache.cassandra.db.marshal.Int32Type)",
                             &t),
        CE_OK);
    assert_int_equal(t->kind, CQL_T_UDT);
    assert_string_equal(t->keyspace, "ks");
    assert_string_equal(t->name, "address");
    assert_int_equal(t->nsub, 2);
    assert_string_equal(t->field_names[0], "street");
    assert_string_equal(t->field_names[1], "zip");
    assert_int_equal(t->sub[1]->kind, CQL_T_INT);
    cql_type *c = cql_type_clone(t);
    assert_string_equal(c->field_names[1], "zip");
    assert_ptr_not_equal(c->field_names[1], t->field_names[1]);
    cql_type_free(c);
    cql_type_free(t);
    /* the vector keeps its class text for re-encoding */
    assert_int_equal(cql_type_parse_class("org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.FloatType,3)", &t), CE_OK);
    assert_non_null(t->custom_class);
    cql_type_free(t);
}

static void test_fixed_size(void **st)
{
    (void)st;
    struct {
        const char *type;
        int size;
    } cases[] = {
        {"boolean", 1},  {"int", 4},       {"float", 4},        {"bigint", 8},
        {"double", 8},   {"timestamp", 8}, {"uuid", 16},        {"timeuuid", 16},
        {"counter", 8},  {"tinyint", -1},  {"smallint", -1},    {"date", -1},
        {"time", -1},    {"text", -1},     {"varint", -1},      {"decimal", -1},
        {"inet", -1},    {"duration", -1}, {"list<int>", -1},   {"vector<float, 3>", 12},
        {"vector<vector<float, 2>, 2>", 16}, {"vector<text, 2>", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cql_type *t = NULL;
        assert_int_equal(cql_type_parse(cases[i].type, &t), CE_OK);
        if (cql_type_fixed_size(t) != cases[i].size)
            fail_msg("%s: fixed size %d want %d", cases[i].type, cql_type_fixed_size(t), cases[i].size);
        cql_type_free(t);
    }
    assert_int_equal(cql_type_fixed_size(NULL), -1);
}

static void test_build_and_free(void **st)
{
    (void)st;
    cql_type_free(NULL);
    assert_null(cql_type_clone(NULL));
    cql_type *u = cql_type_new(CQL_T_UDT);
    u->name = strdup("point");
    assert_int_equal(cql_type_add_sub(u, cql_type_new(CQL_T_DOUBLE), "x"), CE_OK);
    assert_int_equal(cql_type_add_sub(u, cql_type_new(CQL_T_DOUBLE), "y"), CE_OK);
    cql_type *l = cql_type_new(CQL_T_LIST);
    assert_int_equal(cql_type_add_sub(l, u, NULL), CE_OK);
    ce_buf b = CE_BUF_INIT;
    assert_int_equal(cql_type_format(l, &b), CE_OK);
    assert_string_equal(ce_buf_cstr(&b), "list<point>");
    cql_type *c = cql_type_clone(l);
    assert_string_equal(c->sub[0]->field_names[1], "y");
    cql_type_free(c);
    cql_type_free(l);
    ce_buf_free(&b);
}

static void test_names(void **st)
{
    (void)st;
    assert_int_equal(cql_consistency_parse("local_quorum"), CQL_CONSISTENCY_LOCAL_QUORUM);
    assert_int_equal(cql_consistency_parse("LOCAL_ONE"), CQL_CONSISTENCY_LOCAL_ONE);
    assert_int_equal(cql_consistency_parse("Each-Quorum"), CQL_CONSISTENCY_EACH_QUORUM);
    assert_int_equal(cql_consistency_parse("any"), CQL_CONSISTENCY_ANY);
    assert_int_equal(cql_consistency_parse("serial"), CQL_CONSISTENCY_SERIAL);
    assert_int_equal(cql_consistency_parse("quorumx"), -1);
    assert_int_equal(cql_consistency_parse(""), -1);
    assert_int_equal(cql_consistency_parse(NULL), -1);
    assert_string_equal(cql_consistency_name(CQL_CONSISTENCY_LOCAL_SERIAL), "local_serial");
    assert_string_equal(cql_consistency_name(99), "unknown");
    for (int c = 0; c <= 0x0A; c++)
        assert_int_equal(cql_consistency_parse(cql_consistency_name(c)), c);
    struct {
        int32_t code;
        const char *name;
    } codes[] = {{0x0000, "ServerError"},     {0x000A, "ProtocolError"},  {0x0100, "AuthenticationError"},
                 {0x1000, "Unavailable"},     {0x1001, "Overloaded"},     {0x1002, "IsBootstrapping"},
                 {0x1003, "TruncateError"},   {0x1100, "WriteTimeout"},   {0x1200, "ReadTimeout"},
                 {0x1300, "ReadFailure"},     {0x1400, "FunctionFailure"}, {0x1500, "WriteFailure"},
                 {0x1600, "CDCWriteFailure"}, {0x1700, "CASWriteUnknown"}, {0x2000, "SyntaxError"},
                 {0x2100, "Unauthorized"},    {0x2200, "Invalid"},        {0x2300, "ConfigError"},
                 {0x2400, "AlreadyExists"},   {0x2500, "Unprepared"},     {0x7777, "Unknown"}};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        assert_string_equal(cql_error_code_name(codes[i].code), codes[i].name);
    assert_string_equal(cql_type_kind_name(CQL_T_VARCHAR), "text");
    assert_string_equal(cql_type_kind_name(CQL_T_VECTOR), "vector");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_simple),   cmocka_unit_test(test_parse_nested),
        cmocka_unit_test(test_parse_udt_custom), cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_class),    cmocka_unit_test(test_fixed_size),
        cmocka_unit_test(test_build_and_free), cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
