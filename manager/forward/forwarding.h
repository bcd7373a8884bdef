/* How clients reach instances: a table of functions per
 * mode, one file each — fwd_nat.c (iptables DNAT through libiptc),
 * fwd_route.c (policy routing through libnl), fwd_balancer.c (the balancer
 * program on the VIP, told its backend set over its admin API). The manager
 * computes the partition and calls apply with the whole desired state each
 * time; a mode swaps its state to it in one step (one libiptc commit; routes
 * added before the old ones go; one PUT of the backend set) and can remove
 * everything it owns.
 *
 * Nothing here blocks the manager's loop: init, apply, clear, refresh and
 * reconcile answer 0 (done), -1 (failed, err filled) or PP_AGAIN (under way: call
 * again with the same arguments in a few milliseconds until it is done).
 * A mode that waits on something (the xtables lock, the balancer's start,
 * stop or admin replies) keeps its own deadline and fails when it passes. */
#ifndef PP_FORWARDING_H
#define PP_FORWARDING_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/types.h>
#include "../again.h"
#include "../partition.h"

/* Where block k's clients are sent: instance k's address and port (and,
 * for the balancer, its name and the admin address it is checked on). */
struct fwd_target {
    int instance_id;
    struct in_addr addr;
    uint16_t port;
    char name[32];             /* the instance's name: the balancer's backend name */
    struct in_addr admin_addr; /* its proxyd admin endpoint (GET /healthz) */
    uint16_t admin_port;
    pid_t pid; /* a process in its network namespace (route: the VIP on its lo); 0: none */
};

struct event_base;
struct manager_config;
struct spawn_reaper;

struct fwd_config {
    const char *prefix; /* names of chains, tables, rules: "pp" -> chain PP-DNAT */
    struct in_addr vip; /* the service address clients send to */
    uint16_t vip_port;  /* 3128 */
    const char *bridge; /* the container bridge (route: its rp_filter); may be NULL */
    /* balancer: its binary, options, state dir; the loop that supervises it */
    const struct manager_config *manager;
    struct event_base *base;
    struct spawn_reaper *reaper; /* tells the mode its child's exit */
    /* init keeps what an earlier run installed: the pool adopted that run's
     * instances, and the first apply replaces its rules in one step, so
     * clients are sent to them throughout. */
    int adopt;
};

/* What a mode measures of one target (balancer: its backend's state and
 * latency, as the balancer's GET /v1/backends shows them). */
#define FWD_UNMEASURED (-1.0) /* a latency with no sample yet (JSON null) */
struct fwd_observation {
    char name[32];  /* the target's name (the instance's) */
    char state[16]; /* "up", "down", "draining" */
    int removed;    /* no longer in the set; listed until its last connection ends */
    uint64_t active, total;
    double ewma_ms; /* peak-EWMA of time to first byte (the initial estimate until measured) */
    double p50_ms, p90_ms, p99_ms; /* FWD_UNMEASURED when nothing was measured */
    char last_check[96];           /* "passed: ...", "failed: ...", "" when not given */
};

/* What a reconcile found different in the kernel (or the balancer) from
 * what apply would install, per kind, and put right; all zero when they
 * matched and nothing was written. The kinds are /metrics labels
 * (manager_reconcile_repairs_total{what=...}): a fixed set, so a mode
 * that finds something new adds a kind here rather than inventing a label. */
enum fwd_drift_kind {
    FWD_DRIFT_RULE,    /* nat: a DNAT rule missing from its chain, extra or different;
                          route: a policy rule, or a rule of a pin chain */
    FWD_DRIFT_JUMP,    /* nat: a hook without exactly one jump to the chain;
                          route: the same for a pin chain */
    FWD_DRIFT_ROUTE,   /* route: a route of an instance's table */
    FWD_DRIFT_ADDRESS, /* route: the VIP on an instance's lo */
    FWD_DRIFT_BACKEND, /* balancer: a backend missing from its set, extra or different */
    FWD_DRIFT_KINDS,
};
struct fwd_drift {
    unsigned count[FWD_DRIFT_KINDS];
};

struct fwd {
    const struct fwd_ops *ops;
    struct fwd_config cfg;
    void *priv;
    size_t rules;         /* rules installed by the last apply */
    int64_t last_swap_us; /* how long the last apply took */
    int keep;             /* free leaves what the mode runs (the balancer) running */
};

struct fwd_ops {
    const char *name; /* "nat", "route" */
    /* Removes what a crashed earlier run left (chains, jumps, rules, tables
     * of this prefix), logging each, and prepares empty state. */
    int (*init)(struct fwd *f, char *err, size_t errlen);
    /* Makes the kernel state send each block's clients to its target, in one
     * step; on failure the previous state stays whole. targets[i] serves
     * p->blocks[i]. */
    int (*apply)(struct fwd *f, const struct partition *p, const struct fwd_target *targets,
                 char *err, size_t errlen);
    /* Removes everything this mode installed. */
    int (*clear)(struct fwd *f, char *err, size_t errlen);
    void (*free)(struct fwd *f);
    /* Optional (balancer): what the mode measured of its targets when last
     * asked (refresh), by name: up to max written to out, their number in
     * *n. Never waits. 0, or -1 with err (not asked yet, or the last ask
     * failed). */
    int (*observe)(struct fwd *f, struct fwd_observation *out, size_t max, size_t *n, char *err,
                   size_t errlen);
    /* Optional, with observe: asks the targets' state anew; PP_AGAIN until
     * the answer (or the failure) is in, then what observe now shows. */
    int (*refresh)(struct fwd *f, char *err, size_t errlen);
    /* Optional (route): instances above n stopped (their drains are over):
     * what still sent their established connections to them goes. Called
     * at the end of each scale step. 0, -1 with err, or PP_AGAIN. */
    int (*retire)(struct fwd *f, int n, char *err, size_t errlen);
    /* Optional: connections the mode still sends to an instance (nat: the
     * conntrack entries whose reply comes from it; route: those whose mark
     * pins them to it; balancer: its active
     * connections to that backend, as last observed). 0 with *count, or -1
     * when the mode cannot tell. Never waits. */
    int (*count_flows)(struct fwd *f, const struct fwd_target *t, uint64_t *count);
    /* Optional (NULL: the mode's state is never checked): compares what is
     * in force (the kernel's tables, the balancer's set) with what apply
     * would install for the same p and targets — the last partition the
     * manager installed — and, where they differ, installs it as apply
     * does, in one step. Where they match it writes NOTHING (no commit,
     * no PUT): a rewrite would reset counters and cost a swap every
     * period. drift (zeroed by the caller before each call) says, on the
     * call that answers 0, what differed and was put right. 0, -1 with
     * err, or PP_AGAIN (asked again with the same arguments). The manager
     * calls it every --reconcile-interval, never during a scale step or a
     * switch (kube-proxy's lesson: rules are applied again not only on
     * change, since others' tools and crashes change them behind our
     * back). */
    int (*reconcile)(struct fwd *f, const struct partition *p, const struct fwd_target *targets,
                     struct fwd_drift *drift, char *err, size_t errlen);
    /* The mode picks an instance per connection: clients are not
     * partitioned, so no block is shown for an instance. */
    int per_connection;
    /* The instances must own the VIP (route: no address is rewritten),
     * which only the container runtime gives them. */
    int needs_containers;
};

extern const struct fwd_ops fwd_nat_ops;
extern const struct fwd_ops fwd_route_ops;
extern const struct fwd_ops fwd_balancer_ops;

/* What a manager of this prefix that crashed in balancer mode left (its
 * balancer, found by its pid file; the VIP it added to lo, found by its
 * label): removed whatever the mode now is, since a VIP on lo would take
 * the clients' packets from nat and route. Logs each removal. 0, or -1. */
int fwd_balancer_remove_leftovers(const struct fwd_config *cfg, char *err, size_t errlen);

#endif
