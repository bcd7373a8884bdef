/* loadgen's configuration: one struct, defaults set in one place, filled from
 * an optional JSON file (--config) and then the command line, which wins.
 * The URL is the one positional argument; -n, -c and -H are short forms of
 * --requests, --concurrency and --header. */
#ifndef PP_LOADGEN_CONFIG_H
#define PP_LOADGEN_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "schedule.h"

/* Client count limits: the testbed numbers at most 64770 clients; a source
 * address per client outside it. */
#define LOADGEN_MAX_CLIENTS 64770
/* Connections per client: 1000 is the paper's; 100000 leaves room. */
#define LOADGEN_MAX_CONCURRENCY 100000
/* Extra request headers (-H), all together. */
#define LOADGEN_HEADERS_MAX_BYTES 4096

struct loadgen_config {
    char url[2048];
    char proxy[256]; /* "HOST:PORT" as given; empty without --proxy */
    struct addr proxy_addr;
    uint64_t requests;    /* -n per client; 0 = not given (then --duration bounds) */
    long concurrency;     /* -c per client */
    uint64_t duration_ms; /* measured part; 0 = not given */
    double rate;          /* --rate per client per second; 0 = closed loop */
    /* --rate-steps: open loop on this schedule (then rate is its highest
     * step's, duration_ms its length); nsteps 0 = not given */
    struct loadgen_schedule steps;
    uint64_t warmup_ms;
    uint64_t timeout_ms; /* per request */
    int keepalive;
    int retry_stale;      /* --no-retry-stale turns it off */
    long testbed_clients; /* --testbed N; 0 = not in a testbed */
    char testbed_prefix[16];
    struct addr *sources; /* --source, one client each */
    size_t nsources;
    char csv_path[1024];
    char json_path[1024];
    char series_path[1024]; /* --series: one row per second */
    uint64_t slo_ms;        /* --slo: the series counts requests slower than this */
    char label[256];
    char headers[LOADGEN_HEADERS_MAX_BYTES]; /* "Name: value\r\n" lines */
    size_t headers_len;
    int progress; /* -1 when stderr is a terminal, 1 always (--progress), 0 never */
    int quiet;    /* no human summary on stdout */
};

/* Fills defaults, then the JSON file named by --config (if any), then the
 * command line; checks the combination. Returns 0; 1 when --help or
 * --version was printed; -1 with err filled (one line naming the option) on
 * a usage error. Release with loadgen_config_free. */
int loadgen_config_load(struct loadgen_config *cfg, int argc, char **argv, char *err,
                        size_t errlen);
void loadgen_config_free(struct loadgen_config *cfg);
void loadgen_config_usage(FILE *out);

/* How many clients the run has: --testbed N, one per --source, else 1. */
size_t loadgen_config_clients(const struct loadgen_config *cfg);

#endif
