/* loadgen's JSON summary of a run (--json), one definition for both ends:
 * loadgen fills the struct from its tallies and writes it; ppexp reads it
 * back to record the run. The keys, their order and their nulls are here
 * and nowhere else. */
#ifndef PP_LOADGEN_SUMMARY_H
#define PP_LOADGEN_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

/* Sizes of loadgen's own fields: --label, the URL, --proxy, a client's
 * source ("198.18.1.1 (pp-c1)"), and a proxy name from X-Cache (proxyd's
 * --name is at most 63 bytes). */
#define LOADGEN_SUMMARY_LABEL_MAX 256
#define LOADGEN_SUMMARY_URL_MAX 2048
#define LOADGEN_SUMMARY_PROXY_MAX 256
#define LOADGEN_SUMMARY_SOURCE_MAX 64
#define LOADGEN_SUMMARY_NAME_MAX 64

/* A latency distribution, in ms. */
struct loadgen_summary_latency {
    double mean, p50, p90, p99, max;
};

/* Failed requests by class (loadgen_error_name's spelling), and all. */
struct loadgen_summary_errors {
    uint64_t connect, timeout, reset, status, short_body, bad_response, total;
};

struct loadgen_summary_proxy {
    char name[LOADGEN_SUMMARY_NAME_MAX];
    uint64_t requests, hits, misses, errors;
    struct loadgen_summary_latency latency_ms, ttfb_ms;
};

struct loadgen_summary_client {
    uint64_t client; /* 1-based */
    char source[LOADGEN_SUMMARY_SOURCE_MAX];
    uint64_t requests, ok;
    struct loadgen_summary_errors errors;
    double rps, mbps;
    struct loadgen_summary_latency latency_ms, ttfb_ms;
};

/* Numbers written as null when absent are negative here (rate in closed
 * loop, in_flight_target in open loop, littles_ratio with nothing to
 * compare); "mode" is "open" exactly when rate is given. */
struct loadgen_summary {
    char label[LOADGEN_SUMMARY_LABEL_MAX];
    char url[LOADGEN_SUMMARY_URL_MAX];
    char proxy[LOADGEN_SUMMARY_PROXY_MAX]; /* "" without --proxy: null */
    double rate;                           /* per client, open loop; -1: closed loop */
    uint64_t clients, concurrency, concurrency_requested;
    int keepalive;
    uint64_t requests, ok, responses;
    struct loadgen_summary_errors errors;
    uint64_t warmup_requests, unfinished, unsent, connections;
    uint64_t stale_retries; /* sent again on a new connection: the kept-alive one was closed */
    double duration_s, elapsed_s, rps, mbps;
    uint64_t bytes_in, body_bytes;
    struct loadgen_summary_latency latency_ms, ttfb_ms;
    struct loadgen_summary_proxy *proxies; /* [nproxies], owned */
    size_t nproxies;
    struct loadgen_summary_client *per_client; /* [nclients], owned */
    size_t nclients;
    double in_flight_target, in_flight_mean;
    double littles_ratio;
    int littles_ok;
    double loadgen_cpu_pct;
    double loop_lag_p99_ms, loop_lag_max_ms;
    int saturated, interrupted;
};

/* A zeroed summary with room for nproxies proxies and nclients clients
 * (both may be 0), or NULL when out of memory. */
struct loadgen_summary *loadgen_summary_new(size_t nproxies, size_t nclients);
void loadgen_summary_free(struct loadgen_summary *s);

/* The summary as indented JSON text (the caller frees it with cJSON_free),
 * or NULL when out of memory. */
char *loadgen_summary_write(const struct loadgen_summary *s);

/* Reads such a text. The summary (free it with loadgen_summary_free), or
 * NULL with err naming the first field missing or of the wrong kind. */
struct loadgen_summary *loadgen_summary_read(const char *text, char *err, size_t errlen);

#endif
