/* How clients reach instances (issue 4): a table of functions per mode, one
 * file each — fwd_nat.c (iptables DNAT through libiptc), fwd_route.c (policy
 * routing through libnl), later the balancer. The manager computes the
 * partition and calls apply with the whole desired state each time; a mode
 * swaps its kernel state to it in one step (one libiptc commit; routes
 * added before the old ones go) and can remove everything it owns. */
#ifndef PP_FORWARDING_H
#define PP_FORWARDING_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include "partition.h"

/* Where block k's clients are sent: instance k's address and port. */
struct fwd_target {
    int instance_id;
    struct in_addr addr;
    uint16_t port;
};

struct fwd_config {
    const char *prefix; /* names of chains, tables, rules: "pp" -> chain PP-DNAT */
    struct in_addr vip; /* the service address clients send to */
    uint16_t vip_port;  /* 3128 */
    const char *bridge; /* the container bridge (route: its rp_filter); may be NULL */
};

struct fwd {
    const struct fwd_ops *ops;
    struct fwd_config cfg;
    void *priv;
    size_t rules;         /* rules installed by the last apply */
    int64_t last_swap_us; /* how long the last apply took */
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
};

extern const struct fwd_ops fwd_nat_ops;
extern const struct fwd_ops fwd_route_ops;

#endif
