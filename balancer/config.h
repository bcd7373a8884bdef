/* The balancer's configuration: one struct, defaults in one place, filled
 * from an optional JSON file (--config) and then the command line. A
 * backend is "NAME=ADDR:PORT[,health=ADDR:PORT][,weight=W]", the same
 * syntax on the command line, in the config file and (as JSON fields) in
 * PUT /v1/backends. */
#ifndef PP_BALANCER_CONFIG_H
#define PP_BALANCER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "log.h"

/* The manager's pool holds at most 32 instances; 256 leaves room for
 * standalone use without making any per-backend loop costly. */
#define BALANCER_MAX_BACKENDS 256
#define BALANCER_MAX_LISTEN 8
#define BALANCER_NAME_MAX 64
/* Largest weight, as HAProxy's (1..256). */
#define BALANCER_WEIGHT_MAX 256

struct backend_spec {
    char name[BALANCER_NAME_MAX];
    struct addr address;
    struct addr health; /* its admin address, checked with GET /healthz */
    int has_health;     /* 0: checks are a TCP connect to address */
    int weight;         /* 1..256, default 1 */
};

struct balancer_config {
    struct addr listen[BALANCER_MAX_LISTEN];
    size_t nlisten;
    int listen_from_default; /* private: the first --listen replaces the default */
    struct addr admin;
    char algo[16]; /* p2c-ewma, leastconn, roundrobin, source */
    struct backend_spec backends[BALANCER_MAX_BACKENDS];
    size_t nbackends;
    uint64_t check_interval_ms;  /* 2 s, HAProxy's inter */
    uint64_t check_timeout_ms;   /* 1 s */
    int rise;                    /* 2 */
    int fall;                    /* 3 */
    long max_conns;              /* client connections at once */
    uint64_t connect_timeout_ms; /* to a backend; then the next one is tried */
    uint64_t idle_timeout_ms;    /* no byte either way this long closes both sides */
    uint64_t drain_timeout_ms;   /* a removed backend's (or, at SIGTERM, every) connection */
    uint64_t slowstart_ms;       /* a backend back up ramps to full weight over this */
    uint64_t ewma_decay_ms;      /* peak-EWMA time constant, 10 s as Finagle and Linkerd */
    uint64_t ewma_initial_us;    /* the estimate of a backend never measured: 30 ms */
    int retries;                 /* other backends tried when a connect fails */
    char token_file[512];        /* admin writes need this bearer token ... */
    int no_auth;                 /* ... or --no-auth says they need none: one is required */
    enum log_level log_level;
};

/* 0; 1 after --help or --version; -1 with err. */
int balancer_config_load(struct balancer_config *cfg, int argc, char **argv, char *err,
                         size_t errlen);
/* Parses "NAME=ADDR:PORT[,health=ADDR:PORT][,weight=W]". */
int backend_spec_parse(const char *s, struct backend_spec *spec, char *err, size_t errlen);
/* Checks a name: 1..63 of [A-Za-z0-9._-]. */
int backend_name_valid(const char *name);
/* "p2c-ewma" etc. -> 0; -1 for an unknown algorithm. */
int balancer_algo_valid(const char *algo);

#endif
