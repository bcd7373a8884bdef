/* The balancer's backend set as JSON, one definition for both ends: the set
 * the manager PUTs to /v1/backends ({"backends": [MEMBER...]}) and the
 * per-backend status the balancer answers GET /v1/backends with, which the
 * manager reads back. Each document has one struct, one writer and one
 * reader here, so the two programs cannot disagree on a key. */
#ifndef PP_BACKENDSET_JSON_H
#define PP_BACKENDSET_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct cJSON;

/* Names are 1..63 of [A-Za-z0-9._-] (a label in logs and metrics). */
#define BACKENDSET_NAME_MAX 64
/* Weights are 1..256, as HAProxy's server weight. */
#define BACKENDSET_WEIGHT_MAX 256
/* "up", "down", "draining". */
#define BACKENDSET_STATE_MAX 16
/* The last health check's result, as the balancer keeps it. */
#define BACKENDSET_CHECK_MAX 112

/* One backend of the set: what is PUT, and the head of its status. */
struct backendset_member {
    char name[BACKENDSET_NAME_MAX];
    struct addr address;
    struct addr health; /* its admin address, checked with GET /healthz */
    int has_health;     /* 0: checks are a TCP connect to address */
    int weight;         /* 1..BACKENDSET_WEIGHT_MAX */
};

/* One backend as GET /v1/backends shows it. Latencies are in ms, negative
 * (null in JSON) while nothing was measured. */
struct backendset_status {
    struct backendset_member member;
    char state[BACKENDSET_STATE_MAX];
    int removed;   /* left the set; listed until its last connection ends */
    int slowstart; /* ramping up to its weight after coming back up */
    uint64_t active, total;
    uint64_t connect_failures, connect_timeouts, resets;
    uint64_t bytes_in, bytes_out; /* from the backend, to the backend */
    double ewma_ms;               /* peak-EWMA of time to first byte */
    int ewma_measured;            /* 0: ewma_ms is still the initial estimate */
    uint64_t samples;             /* first-byte times measured */
    double p50_ms, p90_ms, p99_ms;
    double connect_p50_ms, connect_p90_ms, connect_p99_ms;
    char last_check[BACKENDSET_CHECK_MAX];
};

/* 1 when name is a valid backend name. */
int backendset_name_valid(const char *name);

/* {"backends": [{"name", "address", "health" (absent without one),
 * "weight"}, ...]} as malloc'd text the caller frees, or NULL with err. */
char *backendset_json_write_set(const struct backendset_member *m, size_t n, char *err,
                                size_t errlen);

/* Parses an entry given as a string (the balancer's NAME=ADDR:PORT,...). */
typedef int (*backendset_text_fn)(const char *s, struct backendset_member *m, char *err,
                                  size_t errlen);

/* Reads a set: {"backends": [ENTRY...]} or [ENTRY...], an ENTRY being an
 * object as written above ("health" may be null, "weight" defaults to 1)
 * or, when parse_text is not NULL, a string it parses. Names must differ.
 * Fills m (room for max); returns the count, or -1 with err naming the bad
 * entry. */
int backendset_json_read_set(const struct cJSON *body, struct backendset_member *m, size_t max,
                             backendset_text_fn parse_text, char *err, size_t errlen);

/* {"name", "address", "health" (null without one), "weight", "state",
 * "removed", "slowstart", "active", "total", "connect_failures",
 * "connect_timeouts", "resets", "bytes_in", "bytes_out", "ewma_ms",
 * "ewma_measured", "samples", "p50_ms", "p90_ms", "p99_ms", "connect_ms":
 * {"p50", "p90", "p99"}, "last_check"}; the caller may add members after
 * (the balancer adds "transitions"). NULL when out of memory. */
struct cJSON *backendset_json_write_status(const struct backendset_status *s);

/* Reads one such object (other members ignored). 0, or -1 with err naming
 * the missing or mistyped field. */
int backendset_json_read_status(const struct cJSON *o, struct backendset_status *s, char *err,
                                size_t errlen);

/* Reads the "backends" array of a GET /v1/backends document: up to max
 * into out, their number in *n (a longer list: its first max). 0, or -1
 * with err (and *n 0) when the text is not such a document. */
int backendset_json_read_statuses(const char *text, struct backendset_status *out, size_t max,
                                  size_t *n, char *err, size_t errlen);

#endif
