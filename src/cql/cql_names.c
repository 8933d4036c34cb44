/*
 * cql_names.c - names of protocol enumerations: consistency levels (parsed from
 * config text and printed in logs) and server error codes (native protocol v5
 * spec, section 9).
 */
#include "cql/cql.h"

#include <strings.h>

static const struct {
    const char *name;
    cql_consistency level;
} consistency_names[] = {
    {"any", CQL_CONSISTENCY_ANY},
    {"one", CQL_CONSISTENCY_ONE},
    {"two", CQL_CONSISTENCY_TWO},
    {"three", CQL_CONSISTENCY_THREE},
    {"quorum", CQL_CONSISTENCY_QUORUM},
    {"all", CQL_CONSISTENCY_ALL},
    {"local_quorum", CQL_CONSISTENCY_LOCAL_QUORUM},
    {"each_quorum", CQL_CONSISTENCY_EACH_QUORUM},
    {"serial", CQL_CONSISTENCY_SERIAL},
    {"local_serial", CQL_CONSISTENCY_LOCAL_SERIAL},
    {"local_one", CQL_CONSISTENCY_LOCAL_ONE},
};

int cql_consistency_parse(const char *s)
{
    if (!s)
        return -1;
    char norm[32];
    size_t n = 0;
    for (; s[n] && n < sizeof norm - 1; n++)
        norm[n] = s[n] == '-' ? '_' : s[n]; /* "local-quorum" too */
    if (s[n])
        return -1;
    norm[n] = '\0';
    for (size_t i = 0; i < sizeof consistency_names / sizeof consistency_names[0]; i++)
        if (strcasecmp(norm, consistency_names[i].name) == 0)
            return (int)consistency_names[i].level;
    return -1;
}

const char *cql_consistency_name(int level)
{
    for (size_t i = 0; i < sizeof consistency_names / sizeof consistency_names[0]; i++)
        if ((int)consistency_names[i].level == level)
            return consistency_names[i].name;
    return "unknown";
}

const char *cql_error_code_name(int32_t code)
{
    switch (code) {
    case 0x0000: return "ServerError";
    case 0x000A: return "ProtocolError";
    case 0x0100: return "AuthenticationError";
    case 0x1000: return "Unavailable";
    case 0x1001: return "Overloaded";
    case 0x1002: return "IsBootstrapping";
    case 0x1003: return "TruncateError";
    case 0x1100: return "WriteTimeout";
    case 0x1200: return "ReadTimeout";
    case 0x1300: return "ReadFailure";
    case 0x1400: return "FunctionFailure";
    case 0x1500: return "WriteFailure";
    case 0x1600: return "CDCWriteFailure";
    case 0x1700: return "CASWriteUnknown";
    case 0x2000: return "SyntaxError";
    case 0x2100: return "Unauthorized";
    case 0x2200: return "Invalid";
    case 0x2300: return "ConfigError";
    case 0x2400: return "AlreadyExists";
    case 0x2500: return "Unprepared";
    default: return "Unknown";
    }
}
