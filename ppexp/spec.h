/* An experiment specification: what to vary (factors and their levels), how
 * much load, how many replicates. Parsed from JSON (a file or a preset) and
 * validated whole before anything runs: a spec that parses is one ppexp can
 * run. The plan (plan.c) expands it into configurations. */
#ifndef PPEXP_SPEC_H
#define PPEXP_SPEC_H

#include <stddef.h>
#include <stdint.h>

/* Levels per factor: replicas 1..32 is the longest sensible list. */
#define PPEXP_LEVELS_MAX 32
/* The testbed's client LAN holds 64770 clients; loadgen opens every client's
 * sockets in one process, so a thousand is already far past the paper's 64. */
#define PPEXP_CLIENTS_MAX 1024
/* The manager's limit (1..32 instances). */
#define PPEXP_REPLICAS_MAX 32
/* An object larger than the proxies' cache (260 MB) would test nothing more. */
#define PPEXP_OBJECT_MAX (256ULL << 20)
#define PPEXP_REQUESTS_MAX 100000
#define PPEXP_CONCURRENCY_MAX 10000
#define PPEXP_REPLICATES_MAX 100
#define PPEXP_WARMUP_MAX_S 600
/* A time-based run's measured part: an hour is past any sensible cell. */
#define PPEXP_DURATION_MAX_S 3600
/* stress -c N: the paper used 12 hogs on 4 cores; 64 is past any use. */
#define PPEXP_STRESS_MAX 64

enum ppexp_factor {
    PPEXP_F_FORWARDING = 0,
    PPEXP_F_REPLICAS,
    PPEXP_F_WORKER,
    PPEXP_F_RUNTIME,
    PPEXP_F_CACHE,
    PPEXP_F_STRESS,
    PPEXP_F_PLACEMENT,
    PPEXP_NFACTORS
};

/* Values of the enumerated factors (stored as ints in a level list). */
enum ppexp_forwarding { PPEXP_FWD_NAT = 0, PPEXP_FWD_ROUTE, PPEXP_FWD_BALANCER, PPEXP_FWD_DIRECT };
enum ppexp_worker { PPEXP_WORKER_PROXYD = 0, PPEXP_WORKER_SQUID, PPEXP_WORKER_NGINX };
/* docker: real Docker containers through a private dockerd in the testbed's
 * intermediate host (deploy/dockerd), which the runner brings up. */
enum ppexp_runtime { PPEXP_RUNTIME_PROCESS = 0, PPEXP_RUNTIME_CONTAINER, PPEXP_RUNTIME_DOCKER };
enum ppexp_placement { PPEXP_PLACEMENT_SPLIT = 0, PPEXP_PLACEMENT_SHARED };

/* What one run measures: loadgen's request times, or how long the manager
 * takes to bring `replicas` instances up (the paper's Table 3). */
enum ppexp_measure { PPEXP_MEASURE_REQUESTS = 0, PPEXP_MEASURE_INSTANTIATE };

/* A claim's equivalence margin when the spec names none: differences under
 * 5% are within what two runs of one configuration differ by on a shared
 * 2-core machine (the default). */
#define PPEXP_MARGIN_DEFAULT_PCT 5.0
/* Margins are per claim, and there are six claims. */
#define PPEXP_MARGINS_MAX 8
/* A margin of 50% or more would call a 1.5x difference "equivalent". */
#define PPEXP_MARGIN_MAX_PCT 50.0

struct ppexp_margin {
    char claim[8]; /* "C2" */
    double pct;
};

struct ppexp_levels {
    int n;
    int v[PPEXP_LEVELS_MAX];
};

struct ppexp_spec {
    char name[64];
    char description[256];
    int clients;
    uint64_t object_bytes;
    char object_size[32]; /* as given, for the testbed's --object-size */
    int requests;         /* per client */
    int concurrency;      /* per client */
    int replicates;       /* the most blocks: "replicates": N, or {"min": a, "max": N} */
    int replicates_min;   /* = replicates unless adaptive (stopping.h) */
    double warmup_s;
    double duration_s; /* > 0: each run measures this long after the warm-up (time-based);
                          0: "requests" per client */
    uint64_t seed;
    int baseline;
    enum ppexp_measure measure;
    struct ppexp_levels factors[PPEXP_NFACTORS];
    /* Equivalence margins of the claims (claims.h), in percent: "margins_pct":
     * N for all, or {"default": N, "C2": M, ...}. */
    double margin_default_pct;
    int nmargins;
    struct ppexp_margin margins[PPEXP_MARGINS_MAX];
};

/* "forwarding", "replicas", ... as in the JSON and in the CSV header. */
const char *ppexp_factor_name(enum ppexp_factor f);
/* A level's text: "nat", "4", "true", "split"; buf for the numeric ones. */
const char *ppexp_level_str(enum ppexp_factor f, int v, char *buf, size_t buflen);
/* The inverse, for CSV readers: 0, or -1 when text is no level of f. */
int ppexp_level_parse(enum ppexp_factor f, const char *text, int *v);

void ppexp_spec_defaults(struct ppexp_spec *s);
/* Parses and validates a whole spec; 0, or -1 with err naming what is wrong
 * and where (the key, the level). s is left in an unspecified state on error. */
int ppexp_spec_parse(const char *json, struct ppexp_spec *s, char *err, size_t errlen);
/* Whether any configuration of s runs on the docker runtime. */
int ppexp_spec_uses_docker(const struct ppexp_spec *s);
/* Reads and parses a spec file. */
int ppexp_spec_load(const char *path, struct ppexp_spec *s, char *err, size_t errlen);
/* The spec as JSON (for meta.json); the caller frees it with free(). */
char *ppexp_spec_to_json(const struct ppexp_spec *s);

#endif
