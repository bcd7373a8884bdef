/* Route mode's reconcile (fwd_ops.reconcile, called by steer.c every
 * --reconcile-interval): the pin chains, our tables' routes, the rules at
 * our priorities and the VIP on each instance's lo, compared with what
 * fwd_route.c's apply installed; only what differs is written, and
 * counted by kind in struct fwd_drift. */
#include "fwd_route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/fib_rules.h>

#include <netlink/netlink.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>

#include "../netdev.h"
#include "log.h"
#include "pin.h"

/* lo is the first link of every network namespace. */
#define ROUTE_LO_IFINDEX 1

/* What apply left for p and targets: each block rule (band st->band), the
 * gateway of each table (the used ones' from targets, the draining ones'
 * as installed) and the fwmark rules. */
struct route_want {
    struct route_rule *rules;
    size_t nrules;
    unsigned char *seen; /* per rule: found in the kernel's dump */
    struct in_addr gateway[ROUTE_MAX_INSTANCES + 1];
    unsigned char pinned[ROUTE_MAX_INSTANCES + 1];
    unsigned char pin_seen[ROUTE_MAX_INSTANCES + 1];
    unsigned char route_ok[ROUTE_MAX_INSTANCES + 1];
};

static int route_want_fill(const struct route_state *st, const struct partition *p,
                           const struct fwd_target *targets, struct route_want *w)
{
    memset(w, 0, sizeof(*w));
    size_t n = 0;
    for (size_t i = 0; i < p->nblocks; i++)
        n += p->blocks[i].nprefixes;
    w->rules = calloc(n ? n : 1, sizeof(*w->rules));
    w->seen = calloc(n ? n : 1, 1);
    if (!w->rules || !w->seen)
        return -1;
    memcpy(w->gateway, st->gateway, sizeof(w->gateway));
    memcpy(w->pinned, st->pinned, sizeof(w->pinned));
    for (size_t i = 0; i < p->nblocks; i++) {
        const struct partition_block *b = &p->blocks[i];
        unsigned id = (unsigned)targets[i].instance_id;
        for (size_t j = 0; j < b->nprefixes; j++) {
            w->rules[w->nrules].src = b->prefixes[j];
            w->rules[w->nrules++].table = ROUTE_TABLE_BASE + id;
        }
        if (b->nprefixes) {
            w->gateway[id] = targets[i].addr;
            w->pinned[id] = 1;
        }
    }
    return 0;
}

static void route_want_release(struct route_want *w)
{
    free(w->rules);
    free(w->seen);
}

/* Whether the kernel's rule at a block band is wanted rule i (not yet
 * matched: a duplicate is extra). */
static int route_rule_wanted(struct route_want *w, struct rtnl_rule *rule)
{
    struct nl_addr *src = rtnl_rule_get_src(rule);
    if (!src || nl_addr_get_len(src) != 4 || rtnl_rule_get_action(rule) != FR_ACT_TO_TBL)
        return 0;
    uint32_t a;
    memcpy(&a, nl_addr_get_binary_addr(src), sizeof(a));
    a = ntohl(a);
    int len = (int)nl_addr_get_prefixlen(src);
    uint32_t table = rtnl_rule_get_table(rule);
    for (size_t i = 0; i < w->nrules; i++) {
        const struct route_rule *r = &w->rules[i];
        if (!w->seen[i] && r->src.addr == a && r->src.len == len && r->table == table) {
            w->seen[i] = 1;
            return 1;
        }
    }
    return 0;
}

/* Whether the kernel's fwmark rule is a wanted one (not yet matched). */
static int route_pin_rule_wanted(struct route_want *w, struct rtnl_rule *rule)
{
    uint32_t table = rtnl_rule_get_table(rule);
    if (!is_our_table(table) || rtnl_rule_get_src(rule) ||
        rtnl_rule_get_action(rule) != FR_ACT_TO_TBL)
        return 0;
    unsigned id = table - ROUTE_TABLE_BASE;
    if (!w->pinned[id] || w->pin_seen[id] || rtnl_rule_get_mark(rule) != pin_mark(id) ||
        rtnl_rule_get_mask(rule) != PIN_MARK_MASK)
        return 0;
    w->pin_seen[id] = 1;
    return 1;
}

/* The rules at our priorities against w: the extra ones deleted, then
 * the missing ones added (fwmark rules first, as apply does). */
static int route_reconcile_rules(struct route_state *st, struct route_want *w, unsigned *repaired,
                                 char *err, size_t errlen)
{
    struct nl_cache *cache = NULL;
    int rc = rtnl_rule_alloc_cache(st->sk, AF_INET, &cache);
    if (rc < 0) {
        snprintf(err, errlen, "route: cannot list rules: %s", nl_geterror(rc));
        return -1;
    }
    uint32_t band_prio = ROUTE_PRIO_BASE + (uint32_t)st->band;
    char s[64];
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_rule *rule = (struct rtnl_rule *)o;
        uint32_t prio = rtnl_rule_get_prio(rule);
        if (!is_our_prio(prio) || rtnl_rule_get_family(rule) != AF_INET)
            continue;
        if (prio == ROUTE_PIN_PRIO ? route_pin_rule_wanted(w, rule)
                                   : prio == band_prio && route_rule_wanted(w, rule))
            continue;
        struct nl_addr *src = rtnl_rule_get_src(rule);
        if (src)
            nl_addr2str(src, s, sizeof(s));
        else
            snprintf(s, sizeof(s), "all");
        log_info("route: reconcile: removing rule %u from %s lookup %u (not as installed)", prio, s,
                 rtnl_rule_get_table(rule));
        rc = rtnl_rule_delete(st->sk, rule, 0);
        if (rc < 0 && rc != -NLE_OBJ_NOTFOUND) {
            snprintf(err, errlen, "route: cannot delete rule %u from %s: %s", prio, s,
                     nl_geterror(rc));
            nl_cache_free(cache);
            return -1;
        }
        (*repaired)++;
    }
    nl_cache_free(cache);

    for (unsigned id = 1; id <= ROUTE_MAX_INSTANCES; id++) {
        if (!w->pinned[id] || w->pin_seen[id])
            continue;
        rc = route_pin_rule(st, id, 1);
        if (rc < 0) {
            snprintf(err, errlen, "route: cannot add rule %u fwmark 0x%x lookup %u: %s",
                     ROUTE_PIN_PRIO, pin_mark(id), ROUTE_TABLE_BASE + id, nl_geterror(rc));
            return -1;
        }
        st->pinned[id] = 1;
        (*repaired)++;
    }
    size_t nmissing = 0;
    for (size_t i = 0; i < w->nrules; i++)
        if (!w->seen[i])
            w->rules[nmissing++] = w->rules[i]; /* compacted: w->seen no longer lines up */
    if (nmissing == 0)
        return 0;
    size_t at = 0;
    rc = route_rules_batch(st, w->rules, nmissing, band_prio, 1, &at);
    if (rc < 0) {
        route_format_cidr(&w->rules[at].src, s, sizeof(s));
        snprintf(err, errlen, "route: cannot add rule %u from %s lookup %u: %s", band_prio, s,
                 w->rules[at].table, nl_geterror(rc));
        return -1;
    }
    *repaired += (unsigned)nmissing;
    return 0;
}

/* Whether the kernel's route in table id is the one route_vip_set wrote:
 * VIP/32, one next hop via the gateway with realm id. */
static int route_is_wanted(const struct fwd_config *cfg, const struct route_want *w, unsigned id,
                           struct rtnl_route *route)
{
    struct nl_addr *dst = rtnl_route_get_dst(route);
    if (w->gateway[id].s_addr == 0 || w->route_ok[id] || !dst || nl_addr_get_len(dst) != 4 ||
        nl_addr_get_prefixlen(dst) != 32 ||
        memcmp(nl_addr_get_binary_addr(dst), &cfg->vip, 4) != 0 ||
        rtnl_route_get_nnexthops(route) != 1)
        return 0;
    struct rtnl_nexthop *nh = rtnl_route_nexthop_n(route, 0);
    struct nl_addr *gw = nh ? rtnl_route_nh_get_gateway(nh) : NULL;
    return gw && nl_addr_get_len(gw) == 4 &&
           memcmp(nl_addr_get_binary_addr(gw), &w->gateway[id], 4) == 0 &&
           (rtnl_route_nh_get_realms(nh) & 0xffffu) == id;
}

/* Our tables against w: a route not as route_vip_set writes it deleted
 * (only in our tables), a missing one added. */
static int route_reconcile_routes(struct route_state *st, const struct fwd_config *cfg,
                                  struct route_want *w, unsigned *repaired, char *err,
                                  size_t errlen)
{
    struct nl_cache *cache = NULL;
    int rc = rtnl_route_alloc_cache(st->sk, AF_INET, 0, &cache);
    if (rc < 0) {
        snprintf(err, errlen, "route: cannot list routes: %s", nl_geterror(rc));
        return -1;
    }
    char s[64];
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_route *route = (struct rtnl_route *)o;
        uint32_t table = rtnl_route_get_table(route);
        if (!is_our_table(table))
            continue;
        unsigned id = table - ROUTE_TABLE_BASE;
        if (route_is_wanted(cfg, w, id, route)) {
            w->route_ok[id] = 1;
            continue;
        }
        nl_addr2str(rtnl_route_get_dst(route), s, sizeof(s));
        log_info("route: reconcile: removing route %s in table %u (not as installed)", s, table);
        rc = rtnl_route_delete(st->sk, route, 0);
        if (rc < 0 && rc != -NLE_OBJ_NOTFOUND) {
            snprintf(err, errlen, "route: cannot delete route %s in table %u: %s", s, table,
                     nl_geterror(rc));
            nl_cache_free(cache);
            return -1;
        }
        (*repaired)++;
    }
    nl_cache_free(cache);
    for (unsigned id = 1; id <= ROUTE_MAX_INSTANCES; id++) {
        if (w->gateway[id].s_addr == 0 || w->route_ok[id])
            continue;
        rc = route_vip_set(st, cfg, id, w->gateway[id]);
        if (rc < 0) {
            inet_ntop(AF_INET, &w->gateway[id], s, sizeof(s));
            snprintf(err, errlen, "route: cannot route the VIP via %s in table %u: %s", s,
                     ROUTE_TABLE_BASE + id, nl_geterror(rc));
            return -1;
        }
        st->gateway[id] = w->gateway[id];
        (*repaired)++;
    }
    return 0;
}

/* A netlink socket in the network namespace of pid, made by a thread of
 * its own that enters it: the loop's thread never changes namespace (a
 * failed return would leave the manager writing in the wrong one). */
struct route_netns_job {
    int ns_fd;
    int sock_fd;
    int err_no;
};

static void *route_netns_thread(void *arg)
{
    struct route_netns_job *job = arg;
    if (setns(job->ns_fd, CLONE_NEWNET) < 0) {
        job->err_no = errno;
        return NULL;
    }
    job->sock_fd = netdev_socket_bound();
    if (job->sock_fd < 0)
        job->err_no = errno;
    return NULL;
}

/* 1 with *nd; 0 when pid shares our namespace (no container: nothing to
 * check) or has just exited (its restart puts the VIP back); -1 with err. */
static int route_netns_open(pid_t pid, struct netdev **nd, char *err, size_t errlen)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
    struct route_netns_job job = {.ns_fd = open(path, O_RDONLY | O_CLOEXEC), .sock_fd = -1};
    struct stat theirs, ours;
    if (job.ns_fd < 0 && (errno == ENOENT || errno == ESRCH))
        return 0;
    if (job.ns_fd < 0 || fstat(job.ns_fd, &theirs) < 0 || stat("/proc/self/ns/net", &ours) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (job.ns_fd >= 0)
            close(job.ns_fd);
        return -1;
    }
    if (theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino) {
        close(job.ns_fd);
        return 0;
    }
    pthread_t t;
    int rc = pthread_create(&t, NULL, route_netns_thread, &job);
    if (rc == 0)
        pthread_join(t, NULL);
    else
        job.err_no = rc;
    close(job.ns_fd);
    if (job.sock_fd < 0) {
        snprintf(err, errlen, "netlink socket in %s: %s", path, strerror(job.err_no));
        return -1;
    }
    *nd = netdev_open_fd(job.sock_fd, err, errlen);
    return *nd ? 1 : -1;
}

/* The VIP on the lo of each used target's namespace, added where gone
 * (the container runtime put it there at spawn). */
static int route_reconcile_addresses(const struct fwd_config *cfg, const struct partition *p,
                                     const struct fwd_target *targets, unsigned *repaired,
                                     char *err, size_t errlen)
{
    char e[192];
    for (size_t i = 0; i < p->nblocks; i++) {
        const struct fwd_target *t = &targets[i];
        if (p->blocks[i].nprefixes == 0 || t->pid <= 0)
            continue;
        struct netdev *nd = NULL;
        int rc = route_netns_open(t->pid, &nd, e, sizeof(e));
        if (rc == 0)
            continue;
        if (rc > 0)
            rc = netdev_addr_has(nd, ROUTE_LO_IFINDEX, cfg->vip, 32, e, sizeof(e));
        if (rc == 0) {
            rc = netdev_addr_add(nd, ROUTE_LO_IFINDEX, cfg->vip, 32, e, sizeof(e));
            if (rc == 0) {
                log_info("route: reconcile: the VIP was gone from %s's lo: added", t->name);
                (*repaired)++;
            }
        }
        netdev_free(nd);
        if (rc < 0) {
            snprintf(err, errlen, "route: the VIP on %s's lo: %s", t->name, e);
            return -1;
        }
    }
    return 0;
}

/* What apply installed, checked in apply's order: the pin chains (the
 * only part behind the xtables lock: a held lock ends the call before
 * anything else is read), the tables' routes, the rules, the VIP on each
 * instance's lo. Netlink reads are dumps of this namespace (and of each
 * container's), answered at once. */
int fwd_route_reconcile(struct fwd *f, const struct partition *p, const struct fwd_target *targets,
                        struct fwd_drift *drift, char *err, size_t errlen)
{
    struct route_state *st = route_state_get(f, err, errlen);
    if (!st)
        return -1;
    if (st->band < 0)
        return 0; /* nothing installed yet: apply's to do */
    if (route_check_targets(p, targets, err, errlen) < 0)
        return -1;
    unsigned pin_rules = 0, pin_jumps = 0;
    int rc = pin_reconcile(st->pin, &pin_rules, &pin_jumps, err, errlen);
    if (rc != 0)
        return rc; /* -1, or PP_AGAIN: the xtables lock */
    drift->count[FWD_DRIFT_RULE] += pin_rules;
    drift->count[FWD_DRIFT_JUMP] += pin_jumps;
    struct route_want w;
    if (route_want_fill(st, p, targets, &w) < 0) {
        route_want_release(&w);
        snprintf(err, errlen, "route: out of memory");
        return -1;
    }
    unsigned routes = 0, rules = 0, addresses = 0;
    rc = route_reconcile_routes(st, &f->cfg, &w, &routes, err, errlen);
    if (rc == 0)
        rc = route_reconcile_rules(st, &w, &rules, err, errlen);
    if (rc == 0)
        rc = route_reconcile_addresses(&f->cfg, p, targets, &addresses, err, errlen);
    route_want_release(&w);
    drift->count[FWD_DRIFT_ROUTE] += routes;
    drift->count[FWD_DRIFT_RULE] += rules;
    drift->count[FWD_DRIFT_ADDRESS] += addresses;
    return rc;
}
