/* Forwarding by policy routing (fwd_ops "route"; the paper's
 * Docker-Routing, IPVS direct routing): per instance k a table T_k holding
 * "VIP/32 via <instance k's address> realm k", and per prefix of block k a
 * rule "from PREFIX lookup T_k". The instances own the VIP on their
 * loopback, so the packet is delivered unchanged. A connection stays with
 * the instance its first packet went to (pin.h: its conntrack mark says k,
 * and a rule "fwmark k lookup T_k" sorts before the blocks'), so a scale
 * step that moves its block moves only new connections; T_k and its fwmark
 * rule stay until instance k stopped (retire). Written with libnl-route-3;
 * the mangle chains with libiptc (pin.c). */
#include "fwd_route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include <netlink/netlink.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>

#include "conntrack.h"
#include "../crashpoint.h"
#include "log.h"
#include "pin.h"

#define ROUTE_RP_FILTER_PATH "/proc/sys/net/ipv4/conf/%s/rp_filter"

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct route_state *route_state_get(struct fwd *f, char *err, size_t errlen)
{
    if (f->priv)
        return f->priv;
    struct route_state *st = calloc(1, sizeof(*st));
    if (!st || !(st->sk = nl_socket_alloc())) {
        snprintf(err, errlen, "route: out of memory");
        free(st);
        return NULL;
    }
    int rc = nl_connect(st->sk, NETLINK_ROUTE);
    if (rc < 0) {
        snprintf(err, errlen, "route: netlink connect: %s", nl_geterror(rc));
        nl_socket_free(st->sk);
        free(st);
        return NULL;
    }
    st->pin = pin_new(&f->cfg, err, errlen);
    if (!st->pin) {
        nl_socket_free(st->sk);
        free(st);
        return NULL;
    }
    st->band = -1;
    f->priv = st;
    return st;
}

static struct nl_addr *route_addr(uint32_t addr_host, int prefix_len)
{
    uint32_t a = htonl(addr_host);
    struct nl_addr *na = nl_addr_build(AF_INET, &a, sizeof(a));
    if (na)
        nl_addr_set_prefixlen(na, prefix_len);
    return na;
}

void route_format_cidr(const struct cidr4 *c, char *out, size_t outlen)
{
    struct in_addr a = {.s_addr = htonl(c->addr)};
    char s[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, s, sizeof(s));
    snprintf(out, outlen, "%s/%d", s, c->len);
}

/* Requests in flight at once: every answer the kernel queues costs its
 * full buffer (~768 bytes of truesize), and a netlink socket's default
 * receive buffer (~208 KiB) silently drops answers past ~270; a dropped
 * answer would leave us waiting for it forever. */
#define ROUTE_BATCH_WINDOW 64

/* Sends one rule request without waiting for the answer. */
static int route_rule_send(struct route_state *st, const struct route_rule *r, uint32_t prio,
                           int add)
{
    struct rtnl_rule *rule = rtnl_rule_alloc();
    struct nl_addr *src = route_addr(r->src.addr, r->src.len);
    struct nl_msg *msg = NULL;
    int rc = -NLE_NOMEM;
    if (rule && src) {
        rtnl_rule_set_family(rule, AF_INET);
        rtnl_rule_set_prio(rule, prio);
        rtnl_rule_set_table(rule, r->table);
        rtnl_rule_set_action(rule, FR_ACT_TO_TBL);
        rc = rtnl_rule_set_src(rule, src);
        if (rc == 0)
            rc = add ? rtnl_rule_build_add_request(rule, NLM_F_EXCL, &msg)
                     : rtnl_rule_build_delete_request(rule, 0, &msg);
        if (rc == 0) {
            rc = nl_send_auto(st->sk, msg);
            rc = rc < 0 ? rc : 0;
        }
    }
    nlmsg_free(msg);
    nl_addr_put(src);
    rtnl_rule_put(rule);
    return rc;
}

/* Adds or deletes rules[0..n) at priority prio, pipelined: up to a window
 * of requests is sent, then their answers are read in order (libnl checks
 * the sequence numbers), so a scale step at 32 instances x 4096 clients
 * (some 500 rules) waits for a few round trips instead of one per rule. An
 * add finding the rule there, or a delete not finding it, counts as done.
 * Returns 0, or the first error (and its index in *failed_at). */
int route_rules_batch(struct route_state *st, const struct route_rule *rules, size_t n,
                      uint32_t prio, int add, size_t *failed_at)
{
    int first_rc = 0;
    for (size_t base = 0; base < n && first_rc == 0; base += ROUTE_BATCH_WINDOW) {
        size_t end = base + ROUTE_BATCH_WINDOW < n ? base + ROUTE_BATCH_WINDOW : n;
        size_t sent = 0;
        for (size_t i = base; i < end; i++) {
            int rc = route_rule_send(st, &rules[i], prio, add);
            if (rc < 0) {
                first_rc = rc;
                *failed_at = i;
                break;
            }
            sent++;
        }
        /* Every request sent gets its answer read, even after a failure,
         * so the socket's sequence stays in step for the next call. */
        for (size_t i = 0; i < sent; i++) {
            int rc = nl_wait_for_ack(st->sk);
            int benign = add ? rc == -NLE_EXIST : (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NOADDR);
            if (rc < 0 && !benign && first_rc == 0) {
                first_rc = rc;
                *failed_at = base + i;
            }
        }
    }
    return first_rc;
}

/* In instance id's table: "VIP/32 via gateway realm id", replacing what
 * was there. The device is left to the kernel, which finds the bridge from
 * the gateway; the realm tells pin.c's save rule which instance a
 * forwarded packet was routed to. */
int route_vip_set(struct route_state *st, const struct fwd_config *cfg, unsigned id,
                  struct in_addr gateway)
{
    uint32_t table = ROUTE_TABLE_BASE + id;
    struct rtnl_route *route = rtnl_route_alloc();
    struct nl_addr *dst = route_addr(ntohl(cfg->vip.s_addr), 32);
    struct nl_addr *gw = route_addr(ntohl(gateway.s_addr), 32);
    struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
    int rc = -NLE_NOMEM;
    if (route && dst && gw && nh) {
        rtnl_route_set_family(route, AF_INET);
        rtnl_route_set_table(route, table);
        rtnl_route_set_protocol(route, RTPROT_STATIC);
        rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
        rc = rtnl_route_set_dst(route, dst);
        if (rc == 0) {
            rtnl_route_nh_set_gateway(nh, gw);
            rtnl_route_nh_set_realms(nh, id);  /* the destination realm: low 16 bits */
            rtnl_route_add_nexthop(route, nh); /* the route owns it now */
            nh = NULL;
            rc = rtnl_route_add(st->sk, route, NLM_F_CREATE | NLM_F_REPLACE);
        }
    }
    if (nh)
        rtnl_route_nh_free(nh);
    nl_addr_put(gw);
    nl_addr_put(dst);
    rtnl_route_put(route);
    return rc;
}

static int route_vip_del(struct route_state *st, const struct fwd_config *cfg, uint32_t table)
{
    struct rtnl_route *route = rtnl_route_alloc();
    struct nl_addr *dst = route_addr(ntohl(cfg->vip.s_addr), 32);
    int rc = -NLE_NOMEM;
    if (route && dst) {
        rtnl_route_set_family(route, AF_INET);
        rtnl_route_set_table(route, table);
        /* As route_vip_set made it: left unset, libnl guesses link scope
         * for a route without a next hop, and the kernel finds nothing. */
        rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
        rc = rtnl_route_set_dst(route, dst);
        if (rc == 0)
            rc = rtnl_route_delete(st->sk, route, 0);
    }
    nl_addr_put(dst);
    rtnl_route_put(route);
    return rc;
}

/* "fwmark MARK(id)/MASK lookup T_id" at ROUTE_PIN_PRIO: added (an
 * existing one counts) or deleted (a missing one counts). */
int route_pin_rule(struct route_state *st, unsigned id, int add)
{
    struct rtnl_rule *rule = rtnl_rule_alloc();
    if (!rule)
        return -NLE_NOMEM;
    rtnl_rule_set_family(rule, AF_INET);
    rtnl_rule_set_prio(rule, ROUTE_PIN_PRIO);
    rtnl_rule_set_table(rule, ROUTE_TABLE_BASE + id);
    rtnl_rule_set_action(rule, FR_ACT_TO_TBL);
    rtnl_rule_set_mark(rule, pin_mark(id));
    rtnl_rule_set_mask(rule, PIN_MARK_MASK);
    int rc = add ? rtnl_rule_add(st->sk, rule, NLM_F_EXCL) : rtnl_rule_delete(st->sk, rule, 0);
    rtnl_rule_put(rule);
    if (add ? rc == -NLE_EXIST : (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NOADDR))
        rc = 0;
    return rc;
}

/* Deletes every rule in our priority range and every route in our tables
 * (whatever their destination: a crashed run may have had another VIP).
 * Logs each when log_leftovers. Returns 0, or -1 with err on the first
 * failure (the rest is still tried). */
static int route_remove_all(struct route_state *st, int log_leftovers, char *err, size_t errlen)
{
    struct nl_cache *cache = NULL;
    int rc = rtnl_rule_alloc_cache(st->sk, AF_INET, &cache), result = 0;
    if (rc < 0) {
        snprintf(err, errlen, "route: cannot list rules: %s", nl_geterror(rc));
        return -1;
    }
    char s[128];
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_rule *rule = (struct rtnl_rule *)o;
        uint32_t prio = rtnl_rule_get_prio(rule);
        if (!is_our_prio(prio))
            continue;
        struct nl_addr *src = rtnl_rule_get_src(rule);
        if (src)
            nl_addr2str(src, s, sizeof(s));
        else
            snprintf(s, sizeof(s), "all");
        uint32_t mark = rtnl_rule_get_mark(rule);
        if (log_leftovers && mark && mark != 0xffffffffu)
            log_info("route: removing leftover rule %u: from %s fwmark 0x%x/0x%x lookup %u", prio,
                     s, mark, rtnl_rule_get_mask(rule), rtnl_rule_get_table(rule));
        else if (log_leftovers)
            log_info("route: removing leftover rule %u: from %s lookup %u", prio, s,
                     rtnl_rule_get_table(rule));
        rc = rtnl_rule_delete(st->sk, rule, 0);
        if (rc < 0 && rc != -NLE_OBJ_NOTFOUND && result == 0) {
            snprintf(err, errlen, "route: cannot delete rule %u from %s: %s", prio, s,
                     nl_geterror(rc));
            result = -1;
        }
    }
    nl_cache_free(cache);

    cache = NULL;
    rc = rtnl_route_alloc_cache(st->sk, AF_INET, 0, &cache);
    if (rc < 0) {
        if (result == 0)
            snprintf(err, errlen, "route: cannot list routes: %s", nl_geterror(rc));
        return -1;
    }
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_route *route = (struct rtnl_route *)o;
        uint32_t table = rtnl_route_get_table(route);
        if (!is_our_table(table))
            continue;
        nl_addr2str(rtnl_route_get_dst(route), s, sizeof(s));
        if (log_leftovers)
            log_info("route: removing leftover route %s in table %u", s, table);
        rc = rtnl_route_delete(st->sk, route, 0);
        if (rc < 0 && rc != -NLE_OBJ_NOTFOUND && result == 0) {
            snprintf(err, errlen, "route: cannot delete route %s in table %u: %s", s, table,
                     nl_geterror(rc));
            result = -1;
        }
    }
    nl_cache_free(cache);
    memset(st->gateway, 0, sizeof(st->gateway));
    memset(st->pinned, 0, sizeof(st->pinned));
    free(st->rules);
    st->rules = NULL;
    st->nrules = 0;
    st->band = -1;
    return result;
}

/* Reads and writes a sysctl file of this network namespace (/proc/sys/net
 * shows the namespace of the process reading it). */
static int sysctl_read(const char *path, char *out, size_t outlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, out, outlen - 1);
    close(fd);
    if (n <= 0)
        return -1;
    out[n] = '\0';
    out[strcspn(out, "\n")] = '\0';
    return 0;
}

static int sysctl_write(const char *path, const char *value)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = strlen(value);
    ssize_t n = write(fd, value, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)len ? 0 : -1;
}

/* Replies from the instances carry the VIP as their source and arrive on
 * the bridge; this namespace's main table has no route to the VIP. The
 * reverse-path lookup finds one only through our per-block rules, so under
 * strict filtering a reply to anyone outside the blocks, or while a mode
 * switch has removed our rules, would be dropped. The kernel uses the
 * larger of "all" and the device's value, so both go to 0. Only this
 * namespace's files: the manager runs in the host (or testbed mid) it
 * routes for; clear puts the old values back. */
static void route_rp_filter_off(struct route_state *st, const struct fwd_config *cfg)
{
    const char *devs[2] = {"all", cfg->bridge};
    for (size_t i = 0; i < 2; i++) {
        struct route_sysctl *rp = &st->rp[i];
        if (!devs[i] || !devs[i][0] || rp->changed)
            continue;
        char path[128];
        snprintf(path, sizeof(path), ROUTE_RP_FILTER_PATH, devs[i]);
        if (sysctl_read(path, rp->old, sizeof(rp->old)) < 0) {
            log_warn("route: cannot read %s: %s", path, strerror(errno));
            continue;
        }
        if (strcmp(rp->old, "0") == 0)
            continue;
        if (sysctl_write(path, "0") < 0) {
            log_warn("route: cannot turn off reverse-path filtering in %s: %s", path,
                     strerror(errno));
            continue;
        }
        snprintf(rp->dev, sizeof(rp->dev), "%s", devs[i]);
        rp->changed = 1;
        log_info("route: rp_filter of %s %s -> 0 (replies come from the VIP)", devs[i], rp->old);
    }
}

static void route_rp_filter_restore(struct route_state *st)
{
    for (size_t i = 0; i < 2; i++) {
        struct route_sysctl *rp = &st->rp[i];
        if (!rp->changed)
            continue;
        char path[128];
        snprintf(path, sizeof(path), ROUTE_RP_FILTER_PATH, rp->dev);
        /* ENOENT: the bridge went first; nothing to restore on it. */
        if (sysctl_write(path, rp->old) < 0 && errno != ENOENT)
            log_warn("route: cannot restore %s to %s: %s", path, rp->old, strerror(errno));
        rp->changed = 0;
    }
}

/* The rules an earlier run left, taken as the band installed when they
 * are all in one band: the first apply adds its own in the other band
 * before they go, so every client has a rule throughout. 0 when taken (or
 * there were none), -1 when they cannot be (both bands in use, a rule of
 * another shape, listing failed): the caller removes them instead. */
/* The VIP routes of our tables an earlier run left ("VIP/32 via G" in
 * T_k): st->gateway[k] = G, so retire removes T_k's once instance k is not
 * in use, as it would have had that run lived. Without this, a run killed
 * in the middle of a retire left the table of a stopped instance for good
 * (the next apply only adds, and retire only removes what it knows). */
static void route_adopt_tables(struct route_state *st, const struct fwd_config *cfg)
{
    struct nl_cache *cache = NULL;
    if (rtnl_route_alloc_cache(st->sk, AF_INET, 0, &cache) < 0)
        return; /* then retire knows none: a leftover table at worst */
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_route *route = (struct rtnl_route *)o;
        uint32_t table = rtnl_route_get_table(route);
        struct nl_addr *dst = rtnl_route_get_dst(route);
        if (!is_our_table(table) || !dst || nl_addr_get_len(dst) != sizeof(uint32_t) ||
            nl_addr_get_prefixlen(dst) != 32 ||
            memcmp(nl_addr_get_binary_addr(dst), &cfg->vip.s_addr, sizeof(uint32_t)) != 0 ||
            rtnl_route_get_nnexthops(route) < 1)
            continue;
        struct nl_addr *gw = rtnl_route_nh_get_gateway(rtnl_route_nexthop_n(route, 0));
        uint32_t id = table - ROUTE_TABLE_BASE;
        if (gw && nl_addr_get_len(gw) == sizeof(uint32_t) && id >= 1 && id <= ROUTE_MAX_INSTANCES)
            memcpy(&st->gateway[id].s_addr, nl_addr_get_binary_addr(gw), sizeof(uint32_t));
    }
    nl_cache_free(cache);
}

static int route_adopt_rules(struct route_state *st)
{
    struct nl_cache *cache = NULL;
    if (rtnl_rule_alloc_cache(st->sk, AF_INET, &cache) < 0)
        return -1;
    size_t n = 0, k = 0;
    int band = -1, odd = 0;
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        uint32_t prio = rtnl_rule_get_prio((struct rtnl_rule *)o);
        if (!is_our_prio(prio) || prio == ROUTE_PIN_PRIO)
            continue; /* the pins' rules are counted below, not a band */
        odd |= band >= 0 && band != (int)(prio - ROUTE_PRIO_BASE);
        band = (int)(prio - ROUTE_PRIO_BASE);
        n++;
    }
    struct route_rule *rules = calloc(n ? n : 1, sizeof(*rules));
    unsigned char pinned_found[ROUTE_MAX_INSTANCES + 1] = {0};
    for (struct nl_object *o = nl_cache_get_first(cache); o && rules && !odd;
         o = nl_cache_get_next(o)) {
        struct rtnl_rule *rule = (struct rtnl_rule *)o;
        struct nl_addr *src = rtnl_rule_get_src(rule);
        if (!is_our_prio(rtnl_rule_get_prio(rule)))
            continue;
        if (rtnl_rule_get_prio(rule) == ROUTE_PIN_PRIO) {
            /* An adopted instance's pinned connections keep their rule. */
            uint32_t id = rtnl_rule_get_table(rule) - ROUTE_TABLE_BASE;
            if (id >= 1 && id <= ROUTE_MAX_INSTANCES)
                pinned_found[id] = 1;
            continue;
        }
        if (!src || nl_addr_get_len(src) != sizeof(uint32_t)) {
            odd = 1;
            break;
        }
        uint32_t a;
        memcpy(&a, nl_addr_get_binary_addr(src), sizeof(a));
        rules[k].src.addr = ntohl(a);
        rules[k].src.len = (int)nl_addr_get_prefixlen(src);
        rules[k].table = rtnl_rule_get_table(rule);
        k++;
    }
    nl_cache_free(cache);
    if (!rules || odd) {
        free(rules);
        return -1;
    }
    free(st->rules);
    st->rules = rules;
    st->nrules = n;
    st->band = n ? band : -1;
    memcpy(st->pinned, pinned_found, sizeof(st->pinned));
    if (n)
        log_info("route: keeping %zu rules of an earlier run (priority %u) until the first apply "
                 "replaces them",
                 n, ROUTE_PRIO_BASE + (unsigned)band);
    return 0;
}

static int route_init(struct fwd *f, char *err, size_t errlen)
{
    struct route_state *st = route_state_get(f, err, errlen);
    if (!st)
        return -1;
    if (f->cfg.vip.s_addr == 0) {
        snprintf(err, errlen, "route: no VIP");
        return -1;
    }
    /* Adopted instances keep their rules, tables and pins until the first
     * apply replaces them; otherwise whatever an earlier run left goes. */
    if (f->cfg.adopt && route_adopt_rules(st) == 0) {
        route_adopt_tables(st, &f->cfg);
    } else {
        int rc = pin_remove_all(st->pin, 1, err, errlen);
        if (rc != 0)
            return rc; /* -1, or PP_AGAIN: the xtables lock */
        if (route_remove_all(st, 1, err, errlen) < 0)
            return -1;
    }
    route_rp_filter_off(st, &f->cfg);
    f->rules = 0;
    return 0;
}

int route_check_targets(const struct partition *p, const struct fwd_target *targets, char *err,
                        size_t errlen)
{
    for (size_t i = 0; i < p->nblocks; i++) {
        if (p->blocks[i].nprefixes == 0)
            continue; /* an empty block needs no target */
        int id = targets[i].instance_id;
        if (id < 1 || (unsigned)id > ROUTE_MAX_INSTANCES || targets[i].addr.s_addr == 0) {
            char a[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &targets[i].addr, a, sizeof(a));
            snprintf(err, errlen, "route: block %zu has no usable target (instance %d at %s)",
                     i + 1, id, a);
            return -1;
        }
    }
    return 0;
}

/* Deletes rules[0..n) from band prio; failures are logged, not fatal: the
 * rules are redundant by then, and the next init removes them. */
static void route_rules_delete(struct route_state *st, const struct route_rule *rules, size_t n,
                               uint32_t prio)
{
    size_t at = 0;
    int rc = route_rules_batch(st, rules, n, prio, 0, &at);
    if (rc < 0) {
        char s[32];
        route_format_cidr(&rules[at].src, s, sizeof(s));
        log_warn("route: cannot delete rule %u from %s lookup %u: %s", prio, s, rules[at].table,
                 nl_geterror(rc));
    }
}

static int route_apply(struct fwd *f, const struct partition *p, const struct fwd_target *targets,
                       char *err, size_t errlen)
{
    int64_t start = now_us();
    struct route_state *st = route_state_get(f, err, errlen);
    if (!st)
        return -1;
    if (route_check_targets(p, targets, err, errlen) < 0)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < p->nblocks; i++)
        n += p->blocks[i].nprefixes;
    struct route_rule *next = calloc(n ? n : 1, sizeof(*next));
    if (!next) {
        snprintf(err, errlen, "route: out of memory");
        return -1;
    }
    int used[ROUTE_MAX_INSTANCES + 1] = {0};
    size_t k = 0;
    for (size_t i = 0; i < p->nblocks; i++) {
        const struct partition_block *b = &p->blocks[i];
        for (size_t j = 0; j < b->nprefixes; j++) {
            next[k].src = b->prefixes[j];
            next[k].table = ROUTE_TABLE_BASE + (uint32_t)targets[i].instance_id;
            k++;
        }
        if (b->nprefixes)
            used[targets[i].instance_id] = 1;
    }

    /* 0. New connections are pinned to whichever instance they are routed
     * to: the used tables' and those kept for instances still draining. A
     * held xtables lock ends the call here, before anything changed. */
    unsigned char pins[ROUTE_MAX_INSTANCES + 1] = {0};
    for (unsigned id = 1; id <= ROUTE_MAX_INSTANCES; id++)
        pins[id] = used[id] || st->gateway[id].s_addr != 0;
    int rc_pin = pin_set(st->pin, pins, ROUTE_MAX_INSTANCES, err, errlen);
    if (rc_pin != 0) {
        free(next);
        return rc_pin; /* -1, or PP_AGAIN: called again with the same state */
    }
    PP_CRASH_POINT("route.pins_set");

    /* 1. Each used table routes the VIP to its instance, and the
     * connections pinned to it are sent there before any block rule is
     * read. Instance k keeps its address for life, so this changes nothing
     * already in use. */
    for (unsigned id = 1; id <= ROUTE_MAX_INSTANCES; id++) {
        if (!used[id])
            continue;
        struct in_addr gw = {0};
        for (size_t i = 0; i < p->nblocks; i++)
            if (targets[i].instance_id == (int)id)
                gw = targets[i].addr;
        if (st->gateway[id].s_addr == gw.s_addr)
            continue;
        int rc = route_vip_set(st, &f->cfg, id, gw);
        if (rc < 0) {
            char a[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &gw, a, sizeof(a));
            snprintf(err, errlen, "route: cannot route the VIP via %s in table %u: %s", a,
                     ROUTE_TABLE_BASE + id, nl_geterror(rc));
            goto fail; /* tables are only read through rules: a new one is harmless */
        }
        st->gateway[id] = gw;
        PP_CRASH_POINT("route.table_routed");
    }
    for (unsigned id = 1; id <= ROUTE_MAX_INSTANCES; id++) {
        if (!used[id] || st->pinned[id])
            continue;
        int rc = route_pin_rule(st, id, 1);
        if (rc < 0) {
            snprintf(err, errlen, "route: cannot add rule %u fwmark 0x%x lookup %u: %s",
                     ROUTE_PIN_PRIO, pin_mark(id), ROUTE_TABLE_BASE + id, nl_geterror(rc));
            goto fail; /* only pinned connections read it: they go where they went */
        }
        st->pinned[id] = 1;
        PP_CRASH_POINT("route.fwmark_rule_added");
    }

    /* 2. The new rules in the other band, beside the old ones: a client
     * matched by both goes by whichever band sorts first, either is right
     * for the moment. */
    int band = st->band < 0 ? 0 : (st->band + 1) % (int)ROUTE_BANDS;
    uint32_t prio = ROUTE_PRIO_BASE + (uint32_t)band;
    size_t at = 0;
    int rc_add = route_rules_batch(st, next, n, prio, 1, &at);
    if (rc_add < 0) {
        char s[32];
        route_format_cidr(&next[at].src, s, sizeof(s));
        snprintf(err, errlen, "route: cannot add rule %u from %s lookup %u: %s", prio, s,
                 next[at].table, nl_geterror(rc_add));
        route_rules_delete(st, next, n, prio); /* back to the old band alone */
        goto fail;
    }

    PP_CRASH_POINT("route.band_added");

    /* 3. Only now the old band goes. The tables no block uses stay, with
     * their fwmark rules: their instances' established connections still
     * go there until retire says the instance stopped. */
    if (st->band >= 0) {
        route_rules_delete(st, st->rules, st->nrules, ROUTE_PRIO_BASE + (uint32_t)st->band);
        PP_CRASH_POINT("route.old_band_removed");
    }
    free(st->rules);
    st->rules = next;
    st->nrules = n;
    st->band = band;
    f->rules = n;
    f->last_swap_us = now_us() - start;
    return 0;
fail:
    free(next);
    return -1;
}

/* Instances above n stopped: their tables, fwmark rules and save rules
 * go (a connection still pinned to one has nowhere to go; the block rules
 * send its next packet to the block's instance, which resets it). */
static int route_retire(struct fwd *f, int n, char *err, size_t errlen)
{
    struct route_state *st = route_state_get(f, err, errlen);
    if (!st)
        return -1;
    unsigned char keep[ROUTE_MAX_INSTANCES + 1] = {0};
    int any = 0;
    for (unsigned id = 1; id <= ROUTE_MAX_INSTANCES; id++) {
        int have = st->gateway[id].s_addr != 0 || st->pinned[id];
        if ((int)id <= n)
            keep[id] = have;
        else
            any |= have;
    }
    if (!any)
        return 0;
    int rc = pin_set(st->pin, keep, ROUTE_MAX_INSTANCES, err, errlen);
    if (rc != 0)
        return rc; /* -1, or PP_AGAIN: the xtables lock */
    PP_CRASH_POINT("route.retire_pins_set");
    for (unsigned id = (unsigned)(n < 0 ? 0 : n) + 1; id <= ROUTE_MAX_INSTANCES; id++) {
        if (st->pinned[id]) {
            rc = route_pin_rule(st, id, 0);
            if (rc < 0)
                log_warn("route: cannot delete rule %u fwmark 0x%x lookup %u: %s", ROUTE_PIN_PRIO,
                         pin_mark(id), ROUTE_TABLE_BASE + id, nl_geterror(rc));
            st->pinned[id] = 0;
            PP_CRASH_POINT("route.retire_fwmark_rule_removed");
        }
        if (st->gateway[id].s_addr != 0) {
            rc = route_vip_del(st, &f->cfg, ROUTE_TABLE_BASE + id);
            if (rc < 0 && rc != -NLE_OBJ_NOTFOUND)
                log_warn("route: cannot delete the VIP route in table %u: %s",
                         ROUTE_TABLE_BASE + id, nl_geterror(rc));
            st->gateway[id].s_addr = 0;
            PP_CRASH_POINT("route.retire_table_removed");
            log_info("route: instance %u stopped: table %u and its pinned connections' rule "
                     "removed",
                     id, ROUTE_TABLE_BASE + id);
        }
    }
    return 0;
}

static int route_clear(struct fwd *f, char *err, size_t errlen)
{
    struct route_state *st = route_state_get(f, err, errlen);
    if (!st)
        return -1;
    char perr[256] = "";
    int rc_pin = pin_remove_all(st->pin, 0, perr, sizeof(perr));
    if (rc_pin == PP_AGAIN)
        return PP_AGAIN; /* nothing removed yet: called again */
    int rc = route_remove_all(st, 0, err, errlen);
    route_rp_filter_restore(st);
    f->rules = 0;
    if (rc_pin < 0) {
        snprintf(err, errlen, "%s", perr);
        return -1;
    }
    return rc;
}

/* The connections pinned to the instance (its mark in their conntrack
 * entry), which its table and fwmark rule keep sending to it. */
static int route_count_flows(struct fwd *f, const struct fwd_target *t, uint64_t *count)
{
    (void)f;
    char err[160];
    if (t->instance_id < 1 || (unsigned)t->instance_id > ROUTE_MAX_INSTANCES)
        return -1;
    if (conntrack_count_flows_marked(pin_mark((unsigned)t->instance_id), PIN_MARK_MASK, count, err,
                                     sizeof(err)) < 0) {
        log_warn("route: counting the flows of %s: %s", t->name, err);
        return -1;
    }
    return 0;
}

static void route_free(struct fwd *f)
{
    if (!f || !f->priv)
        return;
    struct route_state *st = f->priv;
    nl_socket_free(st->sk);
    pin_free(st->pin);
    free(st->rules);
    free(st);
    f->priv = NULL;
}

const struct fwd_ops fwd_route_ops = {
    .name = "route",
    .init = route_init,
    .apply = route_apply,
    .clear = route_clear,
    .free = route_free,
    .retire = route_retire,
    .count_flows = route_count_flows,
    .reconcile = fwd_route_reconcile,
    .needs_containers = 1,
};
