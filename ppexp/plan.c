/* Cross product, skips with reasons, and the seeded per-replicate order.
 * The random source is splitmix64 (Steele et al., 2014): tiny, well mixed,
 * the same sequence on every machine, so a seed reproduces a run order. */
#include "plan.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

void ppexp_caps_minimal(struct ppexp_caps *caps)
{
    memset(caps, 0, sizeof(*caps));
    caps->workers = 1u << PPEXP_WORKER_PROXYD;
    caps->forwarding = 1u << PPEXP_FWD_NAT | 1u << PPEXP_FWD_ROUTE;
    caps->needs_container = 1u << PPEXP_FWD_ROUTE;
    caps->runtimes = 1u << PPEXP_RUNTIME_PROCESS | 1u << PPEXP_RUNTIME_CONTAINER;
}

/* The set of f's levels named in the array obj[key]; -1 when the key is
 * missing or not an array of strings. */
static int caps_levels(const cJSON *obj, const char *key, enum ppexp_factor f, unsigned *set,
                       char *err, size_t errlen)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key);
    *set = 0;
    if (!cJSON_IsArray(arr)) {
        snprintf(err, errlen, "manager features: \"%s\" is missing or not an array", key);
        return -1;
    }
    const cJSON *el;
    cJSON_ArrayForEach(el, arr)
    {
        int v;
        if (!cJSON_IsString(el)) {
            snprintf(err, errlen, "manager features: \"%s\" holds a non-string", key);
            return -1;
        }
        if (ppexp_level_parse(f, el->valuestring, &v) == 0 && v >= 0 && v < 32)
            *set |= 1u << v;
    }
    return 0;
}

int ppexp_caps_from_features(const char *json, struct ppexp_caps *caps, char *err, size_t errlen)
{
    memset(caps, 0, sizeof(*caps));
    cJSON *obj = cJSON_Parse(json ? json : "");
    int rc = -1;
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "manager features: not a JSON object");
        goto out;
    }
    if (caps_levels(obj, "runtimes", PPEXP_F_RUNTIME, &caps->runtimes, err, errlen) < 0 ||
        caps_levels(obj, "forwarding", PPEXP_F_FORWARDING, &caps->forwarding, err, errlen) < 0 ||
        caps_levels(obj, "workers", PPEXP_F_WORKER, &caps->workers, err, errlen) < 0)
        goto out;
    /* Optional: a manager that lists none runs every mode on either runtime. */
    if (cJSON_GetObjectItemCaseSensitive(obj, "forwarding_needs_container") &&
        caps_levels(obj, "forwarding_needs_container", PPEXP_F_FORWARDING, &caps->needs_container,
                    err, errlen) < 0)
        goto out;
    /* --features came with --worker: every manager that answers takes it. */
    caps->has_worker = 1;
    rc = 0;
out:
    cJSON_Delete(obj);
    return rc;
}

void ppexp_config_name(struct ppexp_config *c)
{
    char b1[16], b2[16];
    const int *l = c->level;
    const char *placement =
        ppexp_level_str(PPEXP_F_PLACEMENT, l[PPEXP_F_PLACEMENT], b1, sizeof(b1));
    if (c->baseline) {
        snprintf(c->id, sizeof(c->id), "direct-s%d-%s", l[PPEXP_F_STRESS], placement);
        return;
    }
    snprintf(c->id, sizeof(c->id), "%s-r%d-%s-%s-%s-s%d-%s",
             ppexp_level_str(PPEXP_F_FORWARDING, l[PPEXP_F_FORWARDING], b2, sizeof(b2)),
             l[PPEXP_F_REPLICAS],
             ppexp_level_str(PPEXP_F_WORKER, l[PPEXP_F_WORKER], b2, sizeof(b2)),
             ppexp_level_str(PPEXP_F_RUNTIME, l[PPEXP_F_RUNTIME], b2, sizeof(b2)),
             l[PPEXP_F_CACHE] ? "cache" : "nocache", l[PPEXP_F_STRESS], placement);
}

int ppexp_config_differs_only_in(const struct ppexp_config *a, const struct ppexp_config *b,
                                 enum ppexp_factor f)
{
    if (a->baseline || b->baseline || a->level[f] == b->level[f])
        return 0;
    for (int i = 0; i < PPEXP_NFACTORS; i++)
        if (i != (int)f && a->level[i] != b->level[i])
            return 0;
    return 1;
}

/* Whether c cannot run with this manager; 1 with why filled, or 0. */
static int skip_reason(const struct ppexp_config *c, const struct ppexp_caps *caps, char *why,
                       size_t whylen)
{
    char b[16];
    int fwd = c->level[PPEXP_F_FORWARDING], rt = c->level[PPEXP_F_RUNTIME];
    int wk = c->level[PPEXP_F_WORKER];
    const char *fwd_name = ppexp_level_str(PPEXP_F_FORWARDING, fwd, b, sizeof(b));
    if (!(caps->forwarding & 1u << fwd)) {
        snprintf(why, whylen, "the manager has no %s forwarding", fwd_name);
        return 1;
    }
    if (!(caps->runtimes & 1u << rt)) {
        snprintf(why, whylen, "the manager has no %s runtime",
                 ppexp_level_str(PPEXP_F_RUNTIME, rt, b, sizeof(b)));
        return 1;
    }
    if ((caps->needs_container & 1u << fwd) && rt == PPEXP_RUNTIME_PROCESS) {
        snprintf(why, whylen,
                 "%s needs a container runtime, container or docker (each container owns the "
                 "VIP on its loopback; processes share one)",
                 fwd_name);
        return 1;
    }
    if (wk != PPEXP_WORKER_PROXYD && !caps->has_worker) {
        snprintf(why, whylen, "the manager has no --worker yet");
        return 1;
    }
    if (!(caps->workers & 1u << wk) && wk != PPEXP_WORKER_PROXYD) {
        snprintf(why, whylen, "the manager has no %s worker",
                 ppexp_level_str(PPEXP_F_WORKER, wk, b, sizeof(b)));
        return 1;
    }
    return 0;
}

int ppexp_plan_build(const struct ppexp_spec *s, const struct ppexp_caps *caps,
                     struct ppexp_plan *plan, char *err, size_t errlen)
{
    memset(plan, 0, sizeof(*plan));
    size_t product = 1;
    for (int f = 0; f < PPEXP_NFACTORS; f++) {
        product *= (size_t)s->factors[f].n;
        if (product > PPEXP_CONFIGS_MAX) {
            snprintf(err, errlen, "the factors make more than %d configurations",
                     PPEXP_CONFIGS_MAX);
            return -1;
        }
    }
    /* One baseline per (stress, placement): both change what "direct" means. */
    size_t nbase =
        s->baseline ? (size_t)(s->factors[PPEXP_F_STRESS].n * s->factors[PPEXP_F_PLACEMENT].n) : 0;
    plan->configs = calloc(product + nbase, sizeof(*plan->configs));
    plan->skips = calloc(product, sizeof(*plan->skips));
    if (!plan->configs || !plan->skips) {
        ppexp_plan_release(plan);
        snprintf(err, errlen, "out of memory planning %zu configurations", product);
        return -1;
    }
    /* Odometer over the level indices, the last factor fastest. */
    int idx[PPEXP_NFACTORS] = {0};
    for (size_t k = 0; k < product; k++) {
        struct ppexp_config c;
        memset(&c, 0, sizeof(c));
        for (int f = 0; f < PPEXP_NFACTORS; f++)
            c.level[f] = s->factors[f].v[idx[f]];
        ppexp_config_name(&c);
        struct ppexp_skip *skip = &plan->skips[plan->nskips];
        if (skip_reason(&c, caps, skip->reason, sizeof(skip->reason))) {
            skip->config = c;
            plan->nskips++;
        } else {
            plan->configs[plan->nconfigs++] = c;
        }
        for (int f = PPEXP_NFACTORS - 1; f >= 0; f--) {
            if (++idx[f] < s->factors[f].n)
                break;
            idx[f] = 0;
        }
    }
    if (plan->nconfigs == 0) {
        snprintf(err, errlen, "every configuration is skipped (first: %s: %s)",
                 plan->skips[0].config.id, plan->skips[0].reason);
        ppexp_plan_release(plan);
        return -1;
    }
    for (int i = 0; i < s->factors[PPEXP_F_STRESS].n && nbase; i++)
        for (int j = 0; j < s->factors[PPEXP_F_PLACEMENT].n; j++) {
            struct ppexp_config *c = &plan->configs[plan->nconfigs++];
            memset(c, 0, sizeof(*c));
            c->baseline = 1;
            c->level[PPEXP_F_FORWARDING] = PPEXP_FWD_DIRECT;
            c->level[PPEXP_F_REPLICAS] = 0;
            c->level[PPEXP_F_WORKER] = PPEXP_WORKER_PROXYD;
            c->level[PPEXP_F_RUNTIME] = PPEXP_RUNTIME_PROCESS;
            c->level[PPEXP_F_CACHE] = 0;
            c->level[PPEXP_F_STRESS] = s->factors[PPEXP_F_STRESS].v[i];
            c->level[PPEXP_F_PLACEMENT] = s->factors[PPEXP_F_PLACEMENT].v[j];
            ppexp_config_name(c);
        }
    return 0;
}

void ppexp_plan_release(struct ppexp_plan *plan)
{
    if (!plan)
        return;
    free(plan->configs);
    free(plan->skips);
    memset(plan, 0, sizeof(*plan));
}

/* Descriptors per process apart from the requests': loadgen's own slack
 * (loadgen/run.c's FD_SLACK); a daemon's listeners, admin API, logs, health
 * checks and the manager's instances, the room balancer/main.c keeps. */
#define PPEXP_FD_LOADGEN_FIXED 64
#define PPEXP_FD_DAEMON_FIXED 1024
/* Per simultaneous request: a proxy holds the client's socket and, on a
 * miss, the origin's; the balancer two sockets and up to four pipe ends
 * (balancer/main.c). */
#define PPEXP_FD_PROXY_PER_REQUEST 2
#define PPEXP_FD_BALANCER_PER_REQUEST 6

static void fd_consider(const struct fdlimit_budget *b, uint64_t concurrency, uint64_t limit,
                        const char *what, struct ppexp_fd_need *need)
{
    uint64_t needed = fdlimit_needed(b, concurrency);
    uint64_t reachable = fdlimit_reachable(b, limit);
    if (reachable < need->reachable)
        need->reachable = reachable;
    if (needed <= need->needed)
        return;
    need->needed = needed;
    snprintf(need->who, sizeof(need->who),
             "%s (%" PRIu64 " clients x %" PRIu64 " simultaneous requests x %" PRIu64 " + %" PRIu64
             "%s)",
             what, b->units, concurrency, b->per_conn, b->fixed,
             b->per_unit ? " + 1 per client" : "");
}

void ppexp_plan_fd_need(const struct ppexp_spec *s, const struct ppexp_plan *plan, uint64_t limit,
                        struct ppexp_fd_need *need)
{
    memset(need, 0, sizeof(*need));
    need->reachable = UINT64_MAX;
    if (s->measure == PPEXP_MEASURE_INSTANTIATE || s->clients < 1 || s->concurrency < 1)
        return;
    uint64_t clients = (uint64_t)s->clients, conc = (uint64_t)s->concurrency;
    const struct fdlimit_budget loadgen = {PPEXP_FD_LOADGEN_FIXED, clients, 1, 1};
    fd_consider(&loadgen, conc, limit, "loadgen", need);
    for (size_t i = 0; i < plan->nconfigs; i++) {
        const struct ppexp_config *c = &plan->configs[i];
        int r = c->level[PPEXP_F_REPLICAS];
        if (c->baseline || r < 1)
            continue;
        /* The manager gives an instance ceil(clients / replicas) of them. */
        const struct fdlimit_budget proxy = {PPEXP_FD_DAEMON_FIXED,
                                             (clients + (uint64_t)r - 1) / (uint64_t)r, 0,
                                             PPEXP_FD_PROXY_PER_REQUEST};
        char what[64];
        if (r == 1)
            snprintf(what, sizeof(what), "the one proxy instance");
        else
            snprintf(what, sizeof(what), "one of %d proxy instances", r);
        fd_consider(&proxy, conc, limit, what, need);
        if (c->level[PPEXP_F_FORWARDING] == PPEXP_FWD_BALANCER) {
            const struct fdlimit_budget bal = {PPEXP_FD_DAEMON_FIXED, clients, 0,
                                               PPEXP_FD_BALANCER_PER_REQUEST};
            fd_consider(&bal, conc, limit, "the balancer", need);
        }
    }
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) without modulo bias (rejection of the short tail). */
static size_t uniform_below(uint64_t *state, size_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do {
        r = splitmix64(state);
    } while (r >= limit);
    return (size_t)(r % n);
}

void ppexp_plan_order(const struct ppexp_plan *plan, uint64_t seed, int replicate, size_t *order)
{
    uint64_t state = seed ^ ((uint64_t)replicate * 0xd1b54a32d192ed03ULL);
    for (size_t i = 0; i < plan->nconfigs; i++)
        order[i] = i;
    /* Fisher-Yates. */
    for (size_t i = plan->nconfigs; i > 1; i--) {
        size_t j = uniform_below(&state, i);
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}
