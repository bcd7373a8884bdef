/* Names of the error classes, shared by the CSV, the JSON and the summary. */
#include "result.h"

const char *loadgen_error_name(enum loadgen_error e)
{
    switch (e) {
    case LOADGEN_ERR_NONE:
        return "";
    case LOADGEN_ERR_CONNECT:
        return "connect";
    case LOADGEN_ERR_TIMEOUT:
        return "timeout";
    case LOADGEN_ERR_RESET:
        return "reset";
    case LOADGEN_ERR_STATUS:
        return "status";
    case LOADGEN_ERR_SHORT_BODY:
        return "short_body";
    case LOADGEN_ERR_BAD_RESPONSE:
        return "bad_response";
    case LOADGEN_ERR_COUNT:
        break;
    }
    return "unknown";
}

int loadgen_result_ok(const struct loadgen_result *r)
{
    return r->complete && r->error == LOADGEN_ERR_NONE && r->status < 400;
}
