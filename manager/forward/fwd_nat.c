/* Forwarding by DNAT (fwd_ops "nat"): one chain of our own in the
 * legacy nat table, <PREFIX>-DNAT, reached by one jump each from PREROUTING
 * (clients' traffic) and OUTPUT (local traffic) for VIP:port, holding one
 * DNAT rule per prefix of each block. Written with libiptc: every change is
 * one iptc_commit (the table is replaced whole), under the xtables lock. */
#include "forwarding.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libiptc/libiptc.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_tcpudp.h>

#include "conntrack.h"
#include "log.h"
#include "../crashpoint.h"
#include "xtentry.h"
#include "xtlock.h"

#define NAT_TABLE "nat"
#define NAT_CHAIN_SUFFIX "-DNAT"
/* The hooks that jump to our chain: forwarded client traffic, and traffic
 * the host itself sends to the VIP. */
static const xt_chainlabel nat_hooks[] = {"PREROUTING", "OUTPUT"};
/* Rule numbers of leftover jumps removed in one pass; more than this in one
 * hook means something else is writing our chain's name. */
#define NAT_MAX_LEFTOVER_JUMPS 64

struct nat_state {
    xt_chainlabel chain; /* "PP-DNAT"; libiptc reads chain names as xt_chainlabel */
    struct xtlock lock;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The chain name from the configured prefix: "pp" -> "PP-DNAT". */
static struct nat_state *nat_state_get(struct fwd *f, char *err, size_t errlen)
{
    if (f->priv)
        return f->priv;
    const char *prefix = f->cfg.prefix;
    size_t n = prefix ? strlen(prefix) : 0;
    if (n == 0 || n + strlen(NAT_CHAIN_SUFFIX) >= XT_EXTENSION_MAXNAMELEN) {
        snprintf(err, errlen, "nat: prefix '%s' must be 1..%zu characters", prefix ? prefix : "",
                 XT_EXTENSION_MAXNAMELEN - 1 - strlen(NAT_CHAIN_SUFFIX));
        return NULL;
    }
    struct nat_state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "nat: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)prefix[i];
        if (!isalnum(c) && c != '-' && c != '_') {
            snprintf(err, errlen, "nat: prefix '%s': only letters, digits, '-' and '_'", prefix);
            free(st);
            return NULL;
        }
        st->chain[i] = (char)toupper(c);
    }
    memcpy(st->chain + n, NAT_CHAIN_SUFFIX, sizeof(NAT_CHAIN_SUFFIX));
    f->priv = st;
    return st;
}

static struct xtc_handle *nat_open(char *err, size_t errlen)
{
    struct xtc_handle *h = iptc_init(NAT_TABLE);
    if (!h)
        snprintf(err, errlen, "nat: cannot read the %s table: %s", NAT_TABLE, iptc_strerror(errno));
    return h;
}

static int nat_commit(struct xtc_handle *h, const char *chain, char *err, size_t errlen)
{
    if (!iptc_commit(h)) {
        snprintf(err, errlen, "nat: commit of chain %s failed: %s", chain, iptc_strerror(errno));
        return -1;
    }
    return 0;
}

/* -d VIP/32 -p tcp -m tcp --dport PORT -j CHAIN. libiptc turns a target
 * named after a user chain into a jump. The caller frees. */
static struct ipt_entry *nat_jump_entry(const struct fwd_config *cfg, const char *chain)
{
    size_t match_size = XT_ALIGN(sizeof(struct xt_entry_match) + sizeof(struct xt_tcp));
    size_t target_size = XT_ALIGN(sizeof(struct xt_standard_target));
    size_t head = XT_ALIGN(sizeof(struct ipt_entry));
    struct ipt_entry *e = calloc(1, head + match_size + target_size);
    if (!e)
        return NULL;
    e->ip.dst = cfg->vip;
    e->ip.dmsk.s_addr = 0xffffffffU;
    e->ip.proto = IPPROTO_TCP;
    e->target_offset = (uint16_t)(head + match_size);
    e->next_offset = (uint16_t)(head + match_size + target_size);

    struct xt_entry_match *m = (struct xt_entry_match *)((char *)e + head);
    m->u.user.match_size = (uint16_t)match_size;
    strcpy(m->u.user.name, "tcp");
    struct xt_tcp *tcp = (struct xt_tcp *)m->data;
    tcp->spts[0] = 0; /* ports in host order, as libxt_tcp writes them */
    tcp->spts[1] = 0xffff;
    tcp->dpts[0] = tcp->dpts[1] = cfg->vip_port;

    struct xt_standard_target *t = (struct xt_standard_target *)((char *)e + e->target_offset);
    t->target.u.user.target_size = (uint16_t)target_size;
    /* nat_state_get kept the name shorter than this field; calloc put the NUL. */
    memcpy(t->target.u.user.name, chain, strnlen(chain, sizeof(t->target.u.user.name) - 1));
    return e;
}

/* -s PREFIX -p tcp -j DNAT --to-destination ADDR:PORT; the dport is matched
 * by the jump already. DNAT revision 2 (struct nf_nat_range2, kernel 4.18+)
 * is what iptables 1.8 itself writes: iptables-save prints revision 0 rules
 * as "[unsupported revision]", which would make our state unreadable to
 * operators and un-restorable. Built into e, NAT_DNAT_ENTRY_SIZE bytes. */
#define NAT_DNAT_TARGET_SIZE XT_ALIGN(sizeof(struct xt_entry_target) + sizeof(struct nf_nat_range2))
#define NAT_DNAT_ENTRY_SIZE (XT_ALIGN(sizeof(struct ipt_entry)) + NAT_DNAT_TARGET_SIZE)
static void nat_dnat_entry(struct ipt_entry *e, const struct cidr4 *src,
                           const struct fwd_target *to)
{
    size_t head = XT_ALIGN(sizeof(struct ipt_entry));
    memset(e, 0, NAT_DNAT_ENTRY_SIZE);
    uint32_t mask = src->len == 0 ? 0 : 0xffffffffU << (32 - src->len);
    e->ip.src.s_addr = htonl(src->addr);
    e->ip.smsk.s_addr = htonl(mask);
    e->ip.proto = IPPROTO_TCP;
    e->target_offset = (uint16_t)head;
    e->next_offset = (uint16_t)NAT_DNAT_ENTRY_SIZE;

    struct xt_entry_target *t = (struct xt_entry_target *)((char *)e + head);
    t->u.user.target_size = (uint16_t)NAT_DNAT_TARGET_SIZE;
    strcpy(t->u.user.name, "DNAT");
    t->u.user.revision = 2;
    struct nf_nat_range2 *r = (struct nf_nat_range2 *)t->data;
    r->flags = NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED;
    r->min_addr.ip = r->max_addr.ip = to->addr.s_addr;
    r->min_proto.tcp.port = r->max_proto.tcp.port = htons(to->port);
}

/* Deletes every rule of a built-in chain that jumps to ours (a crashed
 * run's, or the previous apply's), counting them in *removed. */
static int nat_remove_jumps(struct xtc_handle *h, const xt_chainlabel hook,
                            const xt_chainlabel chain, int *removed, char *err, size_t errlen)
{
    unsigned int nums[NAT_MAX_LEFTOVER_JUMPS];
    size_t n = 0;
    unsigned int num = 0; /* libiptc numbers rules from 0 (iptables -D N passes N-1) */
    for (const struct ipt_entry *e = iptc_first_rule(hook, h); e; e = iptc_next_rule(e, h), num++) {
        const char *target = iptc_get_target(e, h);
        if (target && strcmp(target, chain) == 0) {
            if (n == NAT_MAX_LEFTOVER_JUMPS) {
                snprintf(err, errlen, "nat: more than %d jumps from %s to %s",
                         NAT_MAX_LEFTOVER_JUMPS, hook, chain);
                return -1;
            }
            nums[n++] = num;
        }
    }
    while (n > 0) { /* last first, so the earlier numbers stay right */
        if (!iptc_delete_num_entry(hook, nums[--n], h)) {
            snprintf(err, errlen, "nat: cannot delete rule %u of %s: %s", nums[n], hook,
                     iptc_strerror(errno));
            return -1;
        }
        (*removed)++;
    }
    return 0;
}

/* Removes our jumps and our chain from the handle (not yet committed);
 * *changed tells whether there was anything. */
static int nat_remove_all(struct xtc_handle *h, const xt_chainlabel chain, int log_leftovers,
                          int *changed, char *err, size_t errlen)
{
    *changed = 0;
    for (size_t i = 0; i < sizeof(nat_hooks) / sizeof(nat_hooks[0]); i++) {
        int removed = 0;
        if (nat_remove_jumps(h, nat_hooks[i], chain, &removed, err, errlen) < 0)
            return -1;
        if (removed && log_leftovers)
            log_info("nat: removing %d leftover jump%s from %s to %s", removed,
                     removed == 1 ? "" : "s", nat_hooks[i], chain);
        *changed |= removed > 0;
    }
    if (iptc_is_chain(chain, h)) {
        if (log_leftovers) {
            int rules = 0;
            for (const struct ipt_entry *e = iptc_first_rule(chain, h); e; e = iptc_next_rule(e, h))
                rules++;
            log_info("nat: removing leftover chain %s (%d rule%s)", chain, rules,
                     rules == 1 ? "" : "s");
        }
        if (!iptc_flush_entries(chain, h) || !iptc_delete_chain(chain, h)) {
            snprintf(err, errlen, "nat: cannot remove chain %s: %s", chain, iptc_strerror(errno));
            return -1;
        }
        *changed = 1;
    }
    return 0;
}

/* iptables-nft writes nft tables, not these: if the legacy nat table is
 * not there after we read it, someone else's rules are elsewhere. */
static void nat_warn_if_not_legacy(void)
{
    char line[64];
    int found = 0;
    FILE *fp = fopen("/proc/net/ip_tables_names", "re");
    if (fp) {
        while (!found && fgets(line, sizeof(line), fp))
            found = strcmp(line, NAT_TABLE "\n") == 0;
        fclose(fp);
    }
    if (!found)
        log_warn("nat: /proc/net/ip_tables_names does not list %s: this host may use "
                 "iptables-nft; our legacy rules may not be what its tools show",
                 NAT_TABLE);
}

static int nat_init(struct fwd *f, char *err, size_t errlen)
{
    struct nat_state *st = nat_state_get(f, err, errlen);
    if (!st)
        return -1;
    int lock = xtlock_take(&st->lock, "nat", err, errlen);
    if (lock < 0)
        return lock;
    int rc = -1, changed = 0;
    struct xtc_handle *h = nat_open(err, errlen);
    if (!h)
        goto fail;
    if (f->cfg.adopt && iptc_is_chain(st->chain, h))
        log_info("nat: keeping chain %s of an earlier run until the first apply replaces it",
                 st->chain);
    else if (nat_remove_all(h, st->chain, 1, &changed, err, errlen) < 0)
        goto fail;
    if (changed && nat_commit(h, st->chain, err, errlen) < 0)
        goto fail;
    nat_warn_if_not_legacy();
    f->rules = 0;
    rc = 0;
fail:
    if (h)
        iptc_free(h);
    xtlock_release(lock);
    return rc;
}

static int nat_check_targets(const struct partition *p, const struct fwd_target *targets, char *err,
                             size_t errlen)
{
    for (size_t i = 0; i < p->nblocks; i++) {
        if (p->blocks[i].nprefixes == 0)
            continue; /* an empty block needs no target */
        if (targets[i].port == 0 || targets[i].addr.s_addr == 0) {
            char a[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &targets[i].addr, a, sizeof(a));
            snprintf(err, errlen, "nat: block %zu has no usable target (%s:%u)", i + 1, a,
                     targets[i].port);
            return -1;
        }
    }
    return 0;
}

/* The whole chain for p in the handle: created, or emptied, then one DNAT
 * rule per prefix of each block; *rules counts them. */
static int nat_fill_chain(struct xtc_handle *h, const struct nat_state *st,
                          const struct partition *p, const struct fwd_target *targets,
                          size_t *rules, char *err, size_t errlen)
{
    union {
        struct ipt_entry e;
        unsigned char bytes[NAT_DNAT_ENTRY_SIZE];
    } dnat;
    *rules = 0;
    if (iptc_is_chain(st->chain, h) ? !iptc_flush_entries(st->chain, h)
                                    : !iptc_create_chain(st->chain, h)) {
        snprintf(err, errlen, "nat: cannot prepare chain %s: %s", st->chain, iptc_strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < p->nblocks; i++) {
        const struct partition_block *b = &p->blocks[i];
        for (size_t j = 0; j < b->nprefixes; j++) {
            nat_dnat_entry(&dnat.e, &b->prefixes[j], &targets[i]);
            if (!iptc_append_entry(st->chain, &dnat.e, h)) {
                snprintf(err, errlen, "nat: cannot append rule %zu to %s: %s", *rules + 1,
                         st->chain, iptc_strerror(errno));
                return -1;
            }
            (*rules)++;
        }
    }
    return 0;
}

/* Exactly one jump per hook, first in the hook (as kube-proxy's), so
 * earlier rules of others cannot shadow the VIP. */
static int nat_fill_jumps(struct xtc_handle *h, const struct nat_state *st,
                          const struct ipt_entry *jump, char *err, size_t errlen)
{
    int removed = 0;
    for (size_t i = 0; i < sizeof(nat_hooks) / sizeof(nat_hooks[0]); i++) {
        if (nat_remove_jumps(h, nat_hooks[i], st->chain, &removed, err, errlen) < 0)
            return -1;
        if (!iptc_insert_entry(nat_hooks[i], jump, 0, h)) {
            snprintf(err, errlen, "nat: cannot add the jump from %s to %s: %s", nat_hooks[i],
                     st->chain, iptc_strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int nat_apply(struct fwd *f, const struct partition *p, const struct fwd_target *targets,
                     char *err, size_t errlen)
{
    int64_t start = now_us();
    struct nat_state *st = nat_state_get(f, err, errlen);
    if (!st)
        return -1;
    if (nat_check_targets(p, targets, err, errlen) < 0)
        return -1;
    struct ipt_entry *jump = nat_jump_entry(&f->cfg, st->chain);
    if (!jump) {
        snprintf(err, errlen, "nat: out of memory");
        return -1;
    }
    int rc = -1;
    size_t rules = 0;
    struct xtc_handle *h = NULL;
    int lock = xtlock_take(&st->lock, "nat", err, errlen);
    if (lock < 0) {
        free(jump);
        return lock;
    }
    h = nat_open(err, errlen);
    if (!h)
        goto fail;

    /* The whole desired state in the handle, then one commit: until it,
     * the kernel keeps the previous table; after it, the new one. */
    if (nat_fill_chain(h, st, p, targets, &rules, err, errlen) < 0 ||
        nat_fill_jumps(h, st, jump, err, errlen) < 0)
        goto fail;
    if (nat_commit(h, st->chain, err, errlen) < 0)
        goto fail;
    PP_CRASH_POINT("nat.committed");
    f->rules = rules;
    rc = 0;
fail:
    if (h)
        iptc_free(h); /* uncommitted changes die here: the kernel never saw them */
    xtlock_release(lock);
    free(jump);
    if (rc == 0)
        f->last_swap_us = now_us() - start;
    return rc;
}

/* ---- reconcile: the kernel's chain and jumps against what apply writes ---- */

/* The DNAT rules apply would write for p, in order: n entries of
 * NAT_DNAT_ENTRY_SIZE bytes, malloc'd (NULL with *n 0 for none, or -1
 * when out of memory). */
static int nat_desired_rules(const struct partition *p, const struct fwd_target *targets,
                             unsigned char **out, size_t *n)
{
    size_t total = 0;
    for (size_t i = 0; i < p->nblocks; i++)
        total += p->blocks[i].nprefixes;
    *out = NULL;
    *n = 0;
    if (total == 0)
        return 0;
    unsigned char *buf = calloc(total, NAT_DNAT_ENTRY_SIZE);
    if (!buf)
        return -1;
    for (size_t i = 0, k = 0; i < p->nblocks; i++)
        for (size_t j = 0; j < p->blocks[i].nprefixes; j++, k++)
            nat_dnat_entry((struct ipt_entry *)(buf + k * NAT_DNAT_ENTRY_SIZE),
                           &p->blocks[i].prefixes[j], &targets[i]);
    *out = buf;
    *n = total;
    return 0;
}

/* Rules of our chain not as apply writes them: the wanted ones missing
 * plus the ones there that are not wanted (a rule changed counts once as
 * each); the same rules in another order count as one. 0, or -1 when out
 * of memory. */
static int nat_rules_drift(struct xtc_handle *h, const char *chain, const unsigned char *want,
                           size_t nwant, unsigned *drift)
{
    *drift = 0;
    if (!iptc_is_chain(chain, h)) {
        *drift = nwant > 0 ? (unsigned)nwant : 1; /* an empty chain is still ours to have */
        return 0;
    }
    size_t nhave = 0;
    for (const struct ipt_entry *e = iptc_first_rule(chain, h); e; e = iptc_next_rule(e, h))
        nhave++;
    const struct ipt_entry **have = calloc(nhave + 1, sizeof(*have));
    unsigned char *used = calloc(nhave + 1, 1);
    if (!have || !used) {
        free(have);
        free(used);
        return -1;
    }
    size_t k = 0;
    for (const struct ipt_entry *e = iptc_first_rule(chain, h); e && k < nhave;
         e = iptc_next_rule(e, h))
        have[k++] = e;
    unsigned missing = 0, extra = 0, moved = 0;
    for (size_t i = 0; i < nwant; i++) {
        const struct ipt_entry *w = (const struct ipt_entry *)(want + i * NAT_DNAT_ENTRY_SIZE);
        size_t j = 0;
        while (j < nhave && (used[j] || !xtentry_same(have[j], w, 0)))
            j++;
        if (j == nhave) {
            missing++;
            continue;
        }
        used[j] = 1;
        moved |= j != i;
    }
    for (size_t j = 0; j < nhave; j++)
        extra += !used[j];
    *drift = missing + extra;
    if (*drift == 0 && moved)
        *drift = 1; /* first match wins: the order is part of the state */
    free(have);
    free(used);
    return 0;
}

/* Hooks that do not hold exactly one jump to our chain as apply writes
 * it. Where in the hook is not checked (kube-proxy checks its jumps the
 * same way, with iptables -C): apply puts ours first, but another
 * manager's apply in this namespace puts its own first, and insisting on
 * first place would have the two move their jumps every period. */
static unsigned nat_jumps_drift(struct xtc_handle *h, const char *chain,
                                const struct ipt_entry *jump)
{
    unsigned drift = 0;
    for (size_t i = 0; i < sizeof(nat_hooks) / sizeof(nat_hooks[0]); i++) {
        unsigned ours = 0, same = 0;
        for (const struct ipt_entry *e = iptc_first_rule(nat_hooks[i], h); e;
             e = iptc_next_rule(e, h)) {
            const char *target = iptc_get_target(e, h);
            if (!target || strcmp(target, chain) != 0)
                continue;
            ours++;
            same += xtentry_same(e, jump, 1);
        }
        drift += !(ours == 1 && same == 1);
    }
    return drift;
}

static int nat_reconcile(struct fwd *f, const struct partition *p, const struct fwd_target *targets,
                         struct fwd_drift *drift, char *err, size_t errlen)
{
    int64_t start = now_us();
    struct nat_state *st = nat_state_get(f, err, errlen);
    if (!st)
        return -1;
    if (nat_check_targets(p, targets, err, errlen) < 0)
        return -1;
    struct ipt_entry *jump = nat_jump_entry(&f->cfg, st->chain);
    unsigned char *want = NULL;
    size_t nwant = 0;
    if (!jump || nat_desired_rules(p, targets, &want, &nwant) < 0) {
        free(jump);
        snprintf(err, errlen, "nat: out of memory");
        return -1;
    }
    int rc = -1;
    size_t rules = 0;
    struct xtc_handle *h = NULL;
    unsigned rules_drift = 0, jumps_drift = 0;
    /* Read under the lock too: what is read is what a repair replaces. */
    int lock = xtlock_take(&st->lock, "nat", err, errlen);
    if (lock < 0) {
        rc = lock; /* -1, or PP_AGAIN while another holds it */
        goto fail;
    }
    h = nat_open(err, errlen);
    if (!h)
        goto fail;
    if (nat_rules_drift(h, st->chain, want, nwant, &rules_drift) < 0) {
        snprintf(err, errlen, "nat: out of memory");
        goto fail;
    }
    /* The jumps are read before the chain is rewritten (libiptc's
     * offsets of a jump change with it). */
    jumps_drift = nat_jumps_drift(h, st->chain, jump);
    if (rules_drift == 0 && jumps_drift == 0) {
        rc = 0; /* as installed: nothing is written */
        goto fail;
    }
    if (rules_drift && nat_fill_chain(h, st, p, targets, &rules, err, errlen) < 0)
        goto fail;
    if (jumps_drift && nat_fill_jumps(h, st, jump, err, errlen) < 0)
        goto fail;
    if (nat_commit(h, st->chain, err, errlen) < 0)
        goto fail;
    drift->count[FWD_DRIFT_RULE] += rules_drift;
    drift->count[FWD_DRIFT_JUMP] += jumps_drift;
    f->rules = nwant;
    f->last_swap_us = now_us() - start;
    rc = 0;
fail:
    if (h)
        iptc_free(h);
    xtlock_release(lock);
    free(jump);
    free(want);
    return rc;
}

static int nat_clear(struct fwd *f, char *err, size_t errlen)
{
    struct nat_state *st = nat_state_get(f, err, errlen);
    if (!st)
        return -1;
    int lock = xtlock_take(&st->lock, "nat", err, errlen);
    if (lock < 0)
        return lock;
    int rc = -1, changed = 0;
    struct xtc_handle *h = nat_open(err, errlen);
    if (!h)
        goto fail;
    if (nat_remove_all(h, st->chain, 0, &changed, err, errlen) < 0)
        goto fail;
    if (changed && nat_commit(h, st->chain, err, errlen) < 0)
        goto fail;
    f->rules = 0;
    rc = 0;
fail:
    if (h)
        iptc_free(h);
    xtlock_release(lock);
    return rc;
}

/* A DNAT rule is consulted for a flow's first packet only: a target taken
 * out of the rules keeps its established flows, which conntrack counts. */
static int nat_count_flows(struct fwd *f, const struct fwd_target *t, uint64_t *count)
{
    char err[160];
    if (conntrack_count_flows_to(t->addr, t->port, count, err, sizeof(err)) < 0) {
        log_warn("nat: counting the flows of %s: %s", t->name, err);
        return -1;
    }
    return 0;
}

static void nat_free(struct fwd *f)
{
    if (!f)
        return;
    free(f->priv);
    f->priv = NULL;
}

const struct fwd_ops fwd_nat_ops = {
    .name = "nat",
    .init = nat_init,
    .apply = nat_apply,
    .clear = nat_clear,
    .free = nat_free,
    .count_flows = nat_count_flows,
    .reconcile = nat_reconcile,
};
