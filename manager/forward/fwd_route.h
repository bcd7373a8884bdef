/* Route mode's state and the helpers its two files share: fwd_route.c
 * (init, apply, retire, clear) and fwd_route_reconcile.c (the kernel's
 * rules, routes and addresses checked against what apply installed). Not
 * for other modules: they reach route mode through fwd_route_ops. */
#ifndef PP_FWD_ROUTE_H
#define PP_FWD_ROUTE_H

#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>

#include "forwarding.h"

struct nl_sock;
struct pin;

/* Reserved numbers, in the manager's network namespace only: instance k's
 * table is ROUTE_TABLE_BASE + k (k = 1..ROUTE_MAX_INSTANCES; the pool has at
 * most 32), and the rules of band b have priority ROUTE_PRIO_BASE + b. Both
 * lie far from the kernel's own (local 255, main 254, default 253; rule
 * priorities 0, 32766, 32767) and below main's rule, so ours are consulted
 * first. Two managers in one namespace would share them: the testbed and
 * deployments run one per host. */
#define ROUTE_TABLE_BASE 7100u
#define ROUTE_MAX_INSTANCES 64u
#define ROUTE_PRIO_BASE 7100u
/* Two bands: an apply adds the new rules in the band not in use, then
 * deletes the old band, so every client has a rule at every moment. */
#define ROUTE_BANDS 2u
/* The pinned connections' rules ("fwmark k lookup T_k"), consulted before
 * either band. */
#define ROUTE_PIN_PRIO (ROUTE_PRIO_BASE - 1u)

struct route_rule {
    struct cidr4 src;
    uint32_t table;
};

/* An rp_filter value we changed, to put back on clear. */
struct route_sysctl {
    char dev[IF_NAMESIZE];
    char old[16];
    int changed;
};

struct route_state {
    struct nl_sock *sk;
    int band; /* band of the installed rules, -1 while none are */
    struct route_rule *rules;
    size_t nrules;
    /* Gateway of the route installed in table k (0: no route). */
    struct in_addr gateway[ROUTE_MAX_INSTANCES + 1];
    struct route_sysctl rp[2];                     /* "all" and the bridge */
    struct pin *pin;                               /* the mangle chains that pin connections */
    unsigned char pinned[ROUTE_MAX_INSTANCES + 1]; /* "fwmark k lookup T_k" installed */
};

static inline int is_our_table(uint32_t table)
{
    return table > ROUTE_TABLE_BASE && table <= ROUTE_TABLE_BASE + ROUTE_MAX_INSTANCES;
}

static inline int is_our_prio(uint32_t prio)
{
    return prio >= ROUTE_PIN_PRIO && prio < ROUTE_PRIO_BASE + ROUTE_BANDS;
}

/* The mode's state, made on first use: NULL with err when it cannot be. */
struct route_state *route_state_get(struct fwd *f, char *err, size_t errlen);
/* 0, or -1 with err when a block with clients has no usable target. */
int route_check_targets(const struct partition *p, const struct fwd_target *targets, char *err,
                        size_t errlen);
/* Adds (add) or deletes rules[0..n) at prio, pipelined; an add finding the
 * rule, or a delete not finding it, counts as done. 0, or the first libnl
 * error (its index in *failed_at). */
int route_rules_batch(struct route_state *st, const struct route_rule *rules, size_t n,
                      uint32_t prio, int add, size_t *failed_at);
/* "VIP/32 via gateway realm id" in table id, replacing what was there: 0,
 * or a libnl error. */
int route_vip_set(struct route_state *st, const struct fwd_config *cfg, unsigned id,
                  struct in_addr gateway);
/* "fwmark MARK(id)/MASK lookup T_id" added or deleted: 0, or a libnl error. */
int route_pin_rule(struct route_state *st, unsigned id, int add);
void route_format_cidr(const struct cidr4 *c, char *out, size_t outlen);

/* fwd_ops.reconcile of route mode (fwd_route_reconcile.c). */
int fwd_route_reconcile(struct fwd *f, const struct partition *p, const struct fwd_target *targets,
                        struct fwd_drift *drift, char *err, size_t errlen);

#endif
