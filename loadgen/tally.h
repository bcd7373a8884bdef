/* What loadgen adds up while it runs: one tally overall, one per client and
 * one per proxy (named by X-Cache), each with request and error counts,
 * bytes, and histograms of total time and time to first byte. Warm-up
 * requests (those that finished before the warm-up ended) are counted apart
 * and enter no tally. */
#ifndef PP_LOADGEN_TALLY_H
#define PP_LOADGEN_TALLY_H

#include <stddef.h>
#include <stdint.h>

#include "result.h"

struct histogram;

/* Distinct proxy names tracked; more are added up under "other". */
#define LOADGEN_MAX_PROXIES 256

struct loadgen_tally {
    uint64_t requests;  /* measured (not warm-up), finished, failed or not */
    uint64_t ok;        /* JMeter's success */
    uint64_t responses; /* a whole response arrived (any status): what rps counts */
    uint64_t errors[LOADGEN_ERR_COUNT];
    uint64_t hits, misses;
    uint64_t bytes_in, body_bytes;
    struct histogram *total; /* µs, requests with a whole response */
    struct histogram *ttfb;
};

struct loadgen_latency {
    double mean_ms, p50_ms, p90_ms, p99_ms, max_ms;
};

int loadgen_tally_init(struct loadgen_tally *t); /* 0, or -1 out of memory */
void loadgen_tally_release(struct loadgen_tally *t);
void loadgen_tally_add(struct loadgen_tally *t, const struct loadgen_result *r);
uint64_t loadgen_tally_errors(const struct loadgen_tally *t); /* all classes */
void loadgen_latency_of(const struct histogram *h, struct loadgen_latency *out);

struct loadgen_proxy_tally {
    char name[LOADGEN_PROXY_NAME_MAX];
    struct loadgen_tally t;
};

/* Everything a run measured, and how it went, for the writers. */
struct loadgen_tallies {
    struct loadgen_tally all;
    struct loadgen_tally *clients; /* [nclients], client K at K-1 */
    size_t nclients;
    char (*client_sources)[64]; /* "198.18.1.1 (pp-c1)", an address, or "" */
    struct loadgen_proxy_tally *proxies;
    size_t nproxies;
    uint64_t warmup_requests;
    /* Filled by the run: */
    uint32_t concurrency;      /* connections per client actually used */
    uint64_t connections;      /* opened */
    uint64_t stale_retries;    /* requests sent again: their kept-alive socket was closed */
    uint64_t unfinished;       /* in flight when the run stopped */
    uint64_t unsent;           /* open loop: due but never sent before the end */
    double measured_s;         /* from the end of the warm-up to the end */
    double in_flight_mean;     /* requests in flight, time-averaged over the measured window */
    uint64_t in_flight_target; /* closed loop: every connection busy; 0 in open loop */
    double elapsed_s;          /* the whole run */
    double cpu_pct;            /* loadgen's CPU over the run, % of one core */
    uint64_t lag_p99_us, lag_max_us;
    int saturated;
    int interrupted; /* SIGINT or SIGTERM */
};

struct loadgen_tallies *loadgen_tallies_new(size_t nclients);
void loadgen_tallies_free(struct loadgen_tallies *ts);
/* Counts r (in no tally when r->warmup) under its client and its proxy. */
void loadgen_tallies_add(struct loadgen_tallies *ts, const struct loadgen_result *r);
/* The tally of a proxy name, added on first sight; NULL when out of memory. */
struct loadgen_tally *loadgen_tallies_proxy(struct loadgen_tallies *ts, const char *name);

#endif
