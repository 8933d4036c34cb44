/*
 * type_table.h - the one list of CQL types: adding a type is one row here plus its
 * conversion functions in src/conv/ (docs/types.md, "Adding a type").
 *
 * Each consumer expands only the columns it needs:
 *   cql.h          the cql_type_kind enum (CQL_T_<NAME> = id)
 *   types.c        names, marshal classes, fixed sizes (cql_type_info_of)
 *   result.c       which wire ids are scalar types
 *   conv/conv.c    the JSON conversion functions conv_<stem>_to_json / _from_json
 *   sync/mapping.c the Elasticsearch mapping property of a scalar column
 *
 * Columns of X(NAME, id, cql, marshal, form, fixed, es, stem):
 *   NAME     the kind is CQL_T_<NAME>
 *   id       protocol option id; 0x1000 and up are not on the wire (vector arrives as
 *            a custom VectorType class)
 *   cql      the name in CQL schema text
 *   marshal  Cassandra's marshal class (short name, org.apache.cassandra.db.marshal.*);
 *            NULL for custom
 *   form     SCALAR (a value of its own) or PARAM (built from type parameters or a class
 *            name: the codecs handle its structure)
 *   fixed    Cassandra's valueLengthIfFixed (-1 = variable; vector: computed). Note that
 *            tinyint, smallint, date and time are variable there although their values
 *            always have 1, 2, 4 and 8 bytes: vector elements of them carry a length.
 *   es       the Elasticsearch mapping property (JSON text) of a non-key column; NULL
 *            when it is derived from the type's parameters (list, set, vector, udt)
 *   stem     conversion functions conv_<stem>_to_json and conv_<stem>_from_json
 */
#ifndef CE_CQL_TYPE_TABLE_H
#define CE_CQL_TYPE_TABLE_H

#define CQL_ES_KEYWORD "{\"type\":\"keyword\"}"
#define CQL_ES_DATE "{\"type\":\"date\",\"format\":\"strict_date_optional_time||epoch_millis\"}"
#define CQL_ES_OPAQUE "{\"type\":\"object\",\"enabled\":false}"
#define CQL_ES_TEXT \
    "{\"type\":\"text\",\"fields\":{\"keyword\":{\"type\":\"keyword\",\"ignore_above\":256}}}"

/* clang-format off */
#define CQL_TYPE_TABLE(X)                                                                                  \
    X(CUSTOM,    0x0000, "custom",    NULL,                PARAM,  -1, CQL_ES_OPAQUE,             blob)     \
    X(ASCII,     0x0001, "ascii",     "AsciiType",         SCALAR, -1, CQL_ES_TEXT,               text)     \
    X(BIGINT,    0x0002, "bigint",    "LongType",          SCALAR,  8, "{\"type\":\"long\"}",     int)      \
    X(BLOB,      0x0003, "blob",      "BytesType",         SCALAR, -1, "{\"type\":\"binary\"}",   blob)     \
    X(BOOLEAN,   0x0004, "boolean",   "BooleanType",       SCALAR,  1, "{\"type\":\"boolean\"}",  bool)     \
    X(COUNTER,   0x0005, "counter",   "CounterColumnType", SCALAR,  8, "{\"type\":\"long\"}",     int)      \
    X(DECIMAL,   0x0006, "decimal",   "DecimalType",       SCALAR, -1, CQL_ES_KEYWORD,            decimal)  \
    X(DOUBLE,    0x0007, "double",    "DoubleType",        SCALAR,  8,                                      \
      "{\"type\":\"double\",\"ignore_malformed\":true}",                                       floating) \
    X(FLOAT,     0x0008, "float",     "FloatType",         SCALAR,  4,                                      \
      "{\"type\":\"float\",\"ignore_malformed\":true}",                                        floating) \
    X(INT,       0x0009, "int",       "Int32Type",         SCALAR,  4, "{\"type\":\"integer\"}",  int)      \
    X(TIMESTAMP, 0x000B, "timestamp", "TimestampType",     SCALAR,  8, CQL_ES_DATE,               timestamp)\
    X(UUID,      0x000C, "uuid",      "UUIDType",          SCALAR, 16, CQL_ES_KEYWORD,            uuid)     \
    X(VARCHAR,   0x000D, "text",      "UTF8Type",          SCALAR, -1, CQL_ES_TEXT,               text)     \
    X(VARINT,    0x000E, "varint",    "IntegerType",       SCALAR, -1, CQL_ES_KEYWORD,            varint)   \
    X(TIMEUUID,  0x000F, "timeuuid",  "TimeUUIDType",      SCALAR, 16, CQL_ES_KEYWORD,            uuid)     \
    X(INET,      0x0010, "inet",      "InetAddressType",   SCALAR, -1, "{\"type\":\"ip\"}",       inet)     \
    X(DATE,      0x0011, "date",      "SimpleDateType",    SCALAR, -1, CQL_ES_DATE,               date)     \
    X(TIME,      0x0012, "time",      "TimeType",          SCALAR, -1, CQL_ES_KEYWORD,            time)     \
    X(SMALLINT,  0x0013, "smallint",  "ShortType",         SCALAR, -1, "{\"type\":\"short\"}",    int)      \
    X(TINYINT,   0x0014, "tinyint",   "ByteType",          SCALAR, -1, "{\"type\":\"byte\"}",     int)      \
    X(DURATION,  0x0015, "duration",  "DurationType",      SCALAR, -1, CQL_ES_KEYWORD,            duration) \
    X(LIST,      0x0020, "list",      "ListType",          PARAM,  -1, NULL,                      list)     \
    X(MAP,       0x0021, "map",       "MapType",           PARAM,  -1, CQL_ES_OPAQUE,             map)      \
    X(SET,       0x0022, "set",       "SetType",           PARAM,  -1, NULL,                      list)     \
    X(UDT,       0x0030, "udt",       "UserType",          PARAM,  -1, NULL,                      udt)      \
    X(TUPLE,     0x0031, "tuple",     "TupleType",         PARAM,  -1, CQL_ES_OPAQUE,             tuple)    \
    X(VECTOR,    0x1000, "vector",    "VectorType",        PARAM,  -1, NULL,                      vector)
/* clang-format on */

#endif
