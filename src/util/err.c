/* err.c - messages and names for the ce_err list in err.h. */
#include "util/err.h"

const char *ce_strerror(ce_err err)
{
    switch (err) {
#define CE_ERR_MSG(name, code, msg) case name: return msg;
    CE_ERROR_LIST(CE_ERR_MSG)
#undef CE_ERR_MSG
    }
    return "unknown error";
}

const char *ce_errname(ce_err err)
{
    switch (err) {
#define CE_ERR_NAME(name, code, msg) case name: return #name;
    CE_ERROR_LIST(CE_ERR_NAME)
#undef CE_ERR_NAME
    }
    return "CE_EUNKNOWN";
}
