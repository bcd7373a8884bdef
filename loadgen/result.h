/* One request's record, as the CSV writes it and the tallies count it: when
 * it started (and was meant to), who sent it on which connection, what came
 * back, how long each phase took, and which proxy served it. */
#ifndef PP_LOADGEN_RESULT_H
#define PP_LOADGEN_RESULT_H

#include <stdint.h>

/* X-Cache verdicts are short ("HIT", "MISS"); proxy names as proxyd's --name
 * (63 bytes) or a Squid visible_hostname. */
#define LOADGEN_CACHE_MAX 16
#define LOADGEN_PROXY_NAME_MAX 64

enum loadgen_error {
    LOADGEN_ERR_NONE = 0,
    LOADGEN_ERR_CONNECT,      /* refused, unreachable, no socket */
    LOADGEN_ERR_TIMEOUT,      /* --timeout passed */
    LOADGEN_ERR_RESET,        /* reset or closed before a whole response head */
    LOADGEN_ERR_STATUS,       /* a whole response with status >= 400 */
    LOADGEN_ERR_SHORT_BODY,   /* closed or reset mid-body */
    LOADGEN_ERR_BAD_RESPONSE, /* malformed head or chunked body */
    LOADGEN_ERR_COUNT
};

struct loadgen_result {
    uint64_t
        ts_start_us; /* wall clock (µs since the epoch) when it was sent or its connect began */
    uint64_t intended_us; /* wall clock it was scheduled for (open loop); 0 in closed loop */
    uint32_t client;      /* 1-based */
    uint32_t conn;        /* 0-based within the client */
    uint64_t req;         /* 0-based within the client, in start order */
    int status;           /* 0 when no response head arrived */
    enum loadgen_error error;
    uint64_t connect_us; /* 0 on a reused connection */
    uint64_t ttfb_us;    /* to the first response byte; 0 if none came */
    uint64_t total_us;   /* to the last byte (or the failure) */
    uint64_t bytes_in;   /* head and body as received */
    uint64_t body_bytes; /* payload */
    const char *proxy;   /* from X-Cache; "" when absent */
    const char *cache;   /* "HIT", "MISS", ...; "" when absent */
    int warmup;
    int complete; /* a whole response arrived (any status) */
};

/* "connect", "timeout", "reset", "status", "short_body", "bad_response"; ""
 * for none. */
const char *loadgen_error_name(enum loadgen_error e);
/* JMeter's success: a whole response with a status below 400. */
int loadgen_result_ok(const struct loadgen_result *r);

#endif
