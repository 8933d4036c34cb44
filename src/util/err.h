/*
 * err.h - the one error enum of casselastic.
 *
 * Every layer (cql, es, sync, cli) returns ce_err. The list below is the single
 * source: name, numeric code, message. 0 is success. Detail text (a server's
 * message, a JSON path) lives on the object that failed, not in this enum;
 * CQL server errors keep their protocol code on the cql future/result.
 */
#ifndef CE_ERR_H
#define CE_ERR_H

#define CE_ERROR_LIST(X)                                                   \
    X(CE_OK,          0,  "success")                                       \
    X(CE_ENOMEM,      1,  "out of memory")                                 \
    X(CE_EINVAL,      2,  "invalid argument")                              \
    X(CE_EIO,         3,  "I/O error")                                     \
    X(CE_ETIMEOUT,    4,  "timed out")                                     \
    X(CE_EPROTO,      5,  "protocol violation")                            \
    X(CE_ECLOSED,     6,  "connection closed")                             \
    X(CE_ETLS,        7,  "TLS error")                                     \
    X(CE_EAUTH,       8,  "authentication failed")                         \
    X(CE_ESERVER,     9,  "server returned an error")                      \
    X(CE_ENOHOST,     10, "no host available")                             \
    X(CE_ECONFIG,     11, "invalid configuration")                         \
    X(CE_EJSON,       12, "malformed JSON")                                \
    X(CE_ECONVERT,    13, "value does not fit the target type")            \
    X(CE_EHTTP,       14, "HTTP error")                                    \
    X(CE_ENOTFOUND,   15, "not found")                                     \
    X(CE_EUNSUPPORTED,16, "not supported")                                 \
    X(CE_EAGAIN,      17, "incomplete, more input needed")                 \
    X(CE_ELIMIT,      18, "size limit exceeded")                           \
    X(CE_ECONFLICT,   19, "version conflict")                              \
    X(CE_ECANCELED,   20, "canceled")                                      \
    X(CE_EPARTIAL,    21, "partly failed")

typedef enum {
#define CE_ERR_ENUM(name, code, msg) name = code,
    CE_ERROR_LIST(CE_ERR_ENUM)
#undef CE_ERR_ENUM
} ce_err;

/* Static message for an error code; never NULL (unknown codes give a generic text). */
const char *ce_strerror(ce_err err);

/* Symbolic name ("CE_ETIMEOUT") for logs; never NULL. */
const char *ce_errname(ce_err err);

#endif
