/* The plan of an experiment: the cross product of a spec's factors, the
 * combinations that cannot run (each with its reason), the direct-to-origin
 * baselines, and per replicate a seeded random order of all of them
 * (randomized interleaved blocks: slow drift on a shared machine then
 * spreads over every configuration instead of masquerading as an effect). */
#ifndef PPEXP_PLAN_H
#define PPEXP_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "fdlimit.h"
#include "spec.h"

/* 3 x 32 x 3 x 2 x 2 x 32 x 2 levels would be 73728; a run of that many
 * configurations is no experiment anyone waits for. */
#define PPEXP_CONFIGS_MAX 4096

struct ppexp_config {
    int level[PPEXP_NFACTORS]; /* values, not indices; forwarding DIRECT for a baseline */
    int baseline;              /* clients fetch from the origin directly */
    char id[96];               /* "nat-r4-proxyd-container-cache-s0-split", "direct-s0-split" */
};

struct ppexp_skip {
    struct ppexp_config config;
    char reason[128];
};

/* What the manager at hand can do, read from `manager --features`. Each
 * set has bit (1 << level) for a level of its factor (spec.h's enums). */
struct ppexp_caps {
    int has_worker;           /* the manager takes --worker */
    unsigned workers;         /* enum ppexp_worker */
    unsigned forwarding;      /* enum ppexp_forwarding */
    unsigned needs_container; /* forwarding modes only the container runtime runs */
    unsigned runtimes;        /* enum ppexp_runtime */
};

struct ppexp_plan {
    struct ppexp_config *configs; /* runnable: the product's, then the baselines */
    size_t nconfigs;
    struct ppexp_skip *skips;
    size_t nskips;
};

/* Reads capabilities from the JSON object `manager --features` prints.
 * Names ppexp does not know (a newer manager's modes) are ignored. 0, or -1
 * with err filled when the text is no such object. */
int ppexp_caps_from_features(const char *json, struct ppexp_caps *caps, char *err, size_t errlen);
/* What every manager has had: proxyd workers, nat and route forwarding
 * (route on containers only), both runtimes. For a --dry-run without a
 * manager binary to ask. */
void ppexp_caps_minimal(struct ppexp_caps *caps);

/* Expands s; 0, or -1 with err (too many configurations, nothing runnable,
 * out of memory). The plan is freed with ppexp_plan_release. */
int ppexp_plan_build(const struct ppexp_spec *s, const struct ppexp_caps *caps,
                     struct ppexp_plan *plan, char *err, size_t errlen);
void ppexp_plan_release(struct ppexp_plan *plan);

/* order[0..nconfigs) = a permutation of the configuration indices for this
 * replicate (1-based), a pure function of (seed, replicate, nconfigs). */
void ppexp_plan_order(const struct ppexp_plan *plan, uint64_t seed, int replicate, size_t *order);

/* What the plan's busiest process needs of the descriptor limit, which every
 * process ppexp starts (loadgen, the manager, its instances, the balancer)
 * inherits from it. */
struct ppexp_fd_need {
    uint64_t needed;    /* at the spec's concurrency; 0: no requests (instantiate) */
    uint64_t reachable; /* simultaneous requests per client that fit a limit */
    char who[160];      /* the process that needs the most, and its arithmetic */
};
/* Over every configuration of the plan: loadgen (every client's sockets),
 * one proxy instance (its share of the clients, a client and an origin
 * socket per request) and the balancer (every request: two sockets and up to
 * four pipe ends). reachable is the least any of them allows within limit. */
void ppexp_plan_fd_need(const struct ppexp_spec *s, const struct ppexp_plan *plan, uint64_t limit,
                        struct ppexp_fd_need *need);

/* The id of a configuration from its levels (fills c->id). */
void ppexp_config_name(struct ppexp_config *c);
/* Whether two configurations differ only in factor f (and neither is a baseline). */
int ppexp_config_differs_only_in(const struct ppexp_config *a, const struct ppexp_config *b,
                                 enum ppexp_factor f);

#endif
