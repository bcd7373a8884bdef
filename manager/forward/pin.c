/* The mangle chains that pin route mode's connections to their instance
 * (pin.h): built with libiptc, each change one iptc_commit under the
 * xtables lock, as fwd_nat.c writes its nat chain. */
#include "pin.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libiptc/libiptc.h>
#include <linux/netfilter/xt_connmark.h>
#include <linux/netfilter/xt_realm.h>
#include <linux/netfilter/xt_tcpudp.h>

#include "forwarding.h"
#include "log.h"
#include "xtentry.h"
#include "xtlock.h"

#define PIN_TABLE "mangle"
#define PIN_RESTORE_SUFFIX "-PIN-RESTORE"
#define PIN_SAVE_SUFFIX "-PIN-SAVE"
/* Before routing (the mark must be there for the rule lookup), and once
 * the route (with its realm) is known. */
#define PIN_RESTORE_HOOK "PREROUTING"
#define PIN_SAVE_HOOK "FORWARD"
/* A route's realm in skb_dst's tclassid: the destination realm is its
 * low 16 bits (the source realm, which we never set, the high ones). */
#define PIN_REALM_MASK 0xffffu
/* Jumps removed in one pass; more means someone else writes our names. */
#define PIN_MAX_LEFTOVER_JUMPS 64

struct pin {
    xt_chainlabel restore, save;
    struct in_addr vip;
    uint16_t vip_port;
    struct xtlock lock;
    int installed; /* our chains and jumps are in the table as ids says */
    unsigned char ids[PIN_MAX_ID + 1];
    size_t count;
};

/* One part of a rule: a match or a target, by name and revision, with its
 * data as the kernel module reads it. */
struct pin_part {
    const char *name;
    uint8_t revision;
    const void *data;
    size_t size;
};

struct pin *pin_new(const struct fwd_config *cfg, char *err, size_t errlen)
{
    const char *prefix = cfg->prefix ? cfg->prefix : "";
    size_t n = strlen(prefix);
    if (n == 0 || n + strlen(PIN_RESTORE_SUFFIX) >= XT_EXTENSION_MAXNAMELEN) {
        snprintf(err, errlen, "route: prefix '%s' must be 1..%zu characters", prefix,
                 XT_EXTENSION_MAXNAMELEN - 1 - strlen(PIN_RESTORE_SUFFIX));
        return NULL;
    }
    struct pin *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "route: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)prefix[i];
        if (!isalnum(c) && c != '-' && c != '_') {
            snprintf(err, errlen, "route: prefix '%s': only letters, digits, '-' and '_'", prefix);
            free(p);
            return NULL;
        }
        p->restore[i] = p->save[i] = (char)toupper(c);
    }
    memcpy(p->restore + n, PIN_RESTORE_SUFFIX, sizeof(PIN_RESTORE_SUFFIX));
    memcpy(p->save + n, PIN_SAVE_SUFFIX, sizeof(PIN_SAVE_SUFFIX));
    p->vip = cfg->vip;
    p->vip_port = cfg->vip_port;
    return p;
}

void pin_free(struct pin *p)
{
    free(p);
}

size_t pin_count(const struct pin *p)
{
    return p->installed ? p->count : 0;
}

/* A rule of ip (may be NULL: any packet), the matches, and the target; the
 * caller frees. libiptc turns a target named after a user chain into a
 * jump (its verdict, zeroed here, is filled in at commit). */
static struct ipt_entry *pin_entry(const struct ipt_ip *ip, const struct pin_part *matches,
                                   size_t nmatches, const struct pin_part *target)
{
    size_t head = XT_ALIGN(sizeof(struct ipt_entry)), size = head;
    for (size_t i = 0; i < nmatches; i++)
        size += XT_ALIGN(sizeof(struct xt_entry_match) + matches[i].size);
    size_t target_size = XT_ALIGN(sizeof(struct xt_entry_target) + target->size);
    struct ipt_entry *e = calloc(1, size + target_size);
    if (!e)
        return NULL;
    if (ip)
        e->ip = *ip;
    e->target_offset = (uint16_t)size;
    e->next_offset = (uint16_t)(size + target_size);
    size_t off = head;
    for (size_t i = 0; i < nmatches; i++) {
        struct xt_entry_match *m = (struct xt_entry_match *)((char *)e + off);
        m->u.user.match_size = (uint16_t)XT_ALIGN(sizeof(*m) + matches[i].size);
        snprintf(m->u.user.name, sizeof(m->u.user.name), "%s", matches[i].name);
        m->u.user.revision = matches[i].revision;
        memcpy(m->data, matches[i].data, matches[i].size);
        off += m->u.user.match_size;
    }
    struct xt_entry_target *t = (struct xt_entry_target *)((char *)e + size);
    t->u.user.target_size = (uint16_t)target_size;
    snprintf(t->u.user.name, sizeof(t->u.user.name), "%s", target->name);
    t->u.user.revision = target->revision;
    if (target->data)
        memcpy(t->data, target->data, target->size);
    return e;
}

/* -d VIP/32 -p tcp -m tcp --dport PORT -j chain */
static struct ipt_entry *pin_jump_entry(const struct pin *p, const char *chain)
{
    struct ipt_ip ip;
    memset(&ip, 0, sizeof(ip));
    ip.dst = p->vip;
    ip.dmsk.s_addr = 0xffffffffU;
    ip.proto = IPPROTO_TCP;
    struct xt_tcp tcp;
    memset(&tcp, 0, sizeof(tcp));
    tcp.spts[1] = 0xffff; /* ports in host order, as libxt_tcp writes them */
    tcp.dpts[0] = tcp.dpts[1] = p->vip_port;
    struct pin_part m = {"tcp", 0, &tcp, sizeof(tcp)};
    int verdict = 0;
    struct pin_part t = {chain, 0, &verdict, sizeof(verdict)};
    return pin_entry(&ip, &m, 1, &t);
}

/* CONNMARK is written as revision 2 (struct xt_connmark_tginfo2, shift 0,
 * kernel 4.14+), what iptables 1.8 itself writes: its iptables-save prints
 * revision 1 as "[unsupported revision]", which would hide our rules from
 * operators, as fwd_nat.c's DNAT revision 2 avoids. */
#define PIN_CONNMARK_REVISION 2

/* -j CONNMARK --restore-mark --nfmask MASK --ctmask MASK: our bits of the
 * packet's mark become the connection's (0 for a connection not pinned). */
static struct ipt_entry *pin_restore_entry(void)
{
    struct xt_connmark_tginfo2 info = {
        .ctmark = 0, .ctmask = PIN_MARK_MASK, .nfmask = PIN_MARK_MASK, .mode = XT_CONNMARK_RESTORE};
    struct pin_part t = {"CONNMARK", PIN_CONNMARK_REVISION, &info, sizeof(info)};
    return pin_entry(NULL, NULL, 0, &t);
}

/* -m connmark --mark 0/MASK -m realm --realm ID/0xffff
 * -j CONNMARK --set-xmark MARK(ID)/MASK */
static struct ipt_entry *pin_save_entry(unsigned id)
{
    /* Zeroed whole, padding included: the kernel hands the bytes back as
     * given, and pin_reconcile compares them. */
    struct xt_connmark_mtinfo1 unpinned;
    struct xt_realm_info realm;
    memset(&unpinned, 0, sizeof(unpinned));
    memset(&realm, 0, sizeof(realm));
    unpinned.mask = PIN_MARK_MASK;
    realm.id = id;
    realm.mask = PIN_REALM_MASK;
    struct pin_part m[2] = {{"connmark", 1, &unpinned, sizeof(unpinned)},
                            {"realm", 0, &realm, sizeof(realm)}};
    struct xt_connmark_tginfo2 info = {
        .ctmark = pin_mark(id), .ctmask = PIN_MARK_MASK, .nfmask = 0, .mode = XT_CONNMARK_SET};
    struct pin_part t = {"CONNMARK", PIN_CONNMARK_REVISION, &info, sizeof(info)};
    return pin_entry(NULL, m, 2, &t);
}

/* Deletes every rule of hook that jumps to chain, counting them. */
static int pin_remove_jumps(struct xtc_handle *h, const char *hook, const char *chain, int *removed,
                            char *err, size_t errlen)
{
    unsigned int nums[PIN_MAX_LEFTOVER_JUMPS];
    size_t n = 0;
    unsigned int num = 0; /* libiptc numbers rules from 0 */
    for (const struct ipt_entry *e = iptc_first_rule(hook, h); e; e = iptc_next_rule(e, h), num++) {
        const char *target = iptc_get_target(e, h);
        if (target && strcmp(target, chain) == 0) {
            if (n == PIN_MAX_LEFTOVER_JUMPS) {
                snprintf(err, errlen, "route: more than %d jumps from %s to %s",
                         PIN_MAX_LEFTOVER_JUMPS, hook, chain);
                return -1;
            }
            nums[n++] = num;
        }
    }
    while (n > 0) { /* last first, so the earlier numbers stay right */
        if (!iptc_delete_num_entry(hook, nums[--n], h)) {
            snprintf(err, errlen, "route: cannot delete rule %u of %s %s: %s", nums[n], PIN_TABLE,
                     hook, iptc_strerror(errno));
            return -1;
        }
        (*removed)++;
    }
    return 0;
}

/* Our jumps and chains out of the handle (not committed); *changed tells
 * whether there was anything. */
static int pin_remove_from(struct pin *p, struct xtc_handle *h, int log_leftovers, int *changed,
                           char *err, size_t errlen)
{
    const char *hooks[2] = {PIN_RESTORE_HOOK, PIN_SAVE_HOOK};
    const char *chains[2] = {p->restore, p->save};
    *changed = 0;
    for (size_t i = 0; i < 2; i++) {
        int removed = 0;
        if (pin_remove_jumps(h, hooks[i], chains[i], &removed, err, errlen) < 0)
            return -1;
        if (removed && log_leftovers)
            log_info("route: removing %d leftover jump%s from %s %s to %s", removed,
                     removed == 1 ? "" : "s", PIN_TABLE, hooks[i], chains[i]);
        *changed |= removed > 0;
    }
    for (size_t i = 0; i < 2; i++) {
        if (!iptc_is_chain(chains[i], h))
            continue;
        if (log_leftovers) {
            int rules = 0;
            for (const struct ipt_entry *e = iptc_first_rule(chains[i], h); e;
                 e = iptc_next_rule(e, h))
                rules++;
            log_info("route: removing leftover chain %s %s (%d rule%s)", PIN_TABLE, chains[i],
                     rules, rules == 1 ? "" : "s");
        }
        if (!iptc_flush_entries(chains[i], h) || !iptc_delete_chain(chains[i], h)) {
            snprintf(err, errlen, "route: cannot remove chain %s %s: %s", PIN_TABLE, chains[i],
                     iptc_strerror(errno));
            return -1;
        }
        *changed = 1;
    }
    return 0;
}

static struct xtc_handle *pin_open(char *err, size_t errlen)
{
    struct xtc_handle *h = iptc_init(PIN_TABLE);
    if (!h)
        snprintf(err, errlen, "route: cannot read the %s table: %s", PIN_TABLE,
                 iptc_strerror(errno));
    return h;
}

int pin_remove_all(struct pin *p, int log_leftovers, char *err, size_t errlen)
{
    int lock = xtlock_take(&p->lock, "route", err, errlen);
    if (lock < 0)
        return lock;
    int rc = -1, changed = 0;
    struct xtc_handle *h = pin_open(err, errlen);
    if (!h)
        goto fail;
    if (pin_remove_from(p, h, log_leftovers, &changed, err, errlen) < 0)
        goto fail;
    if (changed && !iptc_commit(h)) {
        snprintf(err, errlen, "route: commit of the %s table failed: %s", PIN_TABLE,
                 iptc_strerror(errno));
        goto fail;
    }
    p->installed = 0;
    memset(p->ids, 0, sizeof(p->ids));
    p->count = 0;
    rc = 0;
fail:
    if (h)
        iptc_free(h);
    xtlock_release(lock);
    return rc;
}

/* An empty chain of that name in the handle. */
static int pin_chain_empty(struct xtc_handle *h, const char *chain, char *err, size_t errlen)
{
    if (iptc_is_chain(chain, h) ? !iptc_flush_entries(chain, h) : !iptc_create_chain(chain, h)) {
        snprintf(err, errlen, "route: cannot prepare chain %s %s: %s", PIN_TABLE, chain,
                 iptc_strerror(errno));
        return -1;
    }
    return 0;
}

/* entry (freed here) appended to chain, or inserted first when first. */
static int pin_add(struct xtc_handle *h, const char *chain, struct ipt_entry *e, int first,
                   char *err, size_t errlen)
{
    if (!e) {
        snprintf(err, errlen, "route: out of memory");
        return -1;
    }
    int ok = first ? iptc_insert_entry(chain, e, 0, h) : iptc_append_entry(chain, e, h);
    free(e);
    if (!ok) {
        snprintf(err, errlen, "route: cannot add a rule to %s %s: %s", PIN_TABLE, chain,
                 iptc_strerror(errno));
        return -1;
    }
    return 0;
}

/* The whole state for want into the handle, then one commit. */
static int pin_write(struct pin *p, struct xtc_handle *h, const unsigned char *want, char *err,
                     size_t errlen)
{
    int removed = 0;
    if (pin_chain_empty(h, p->restore, err, errlen) < 0 ||
        pin_chain_empty(h, p->save, err, errlen) < 0)
        return -1;
    if (pin_add(h, p->restore, pin_restore_entry(), 0, err, errlen) < 0)
        return -1;
    for (unsigned id = 1; id <= PIN_MAX_ID; id++)
        if (want[id] && pin_add(h, p->save, pin_save_entry(id), 0, err, errlen) < 0)
            return -1;
    /* One jump per hook, first in it (as fwd_nat.c's). */
    if (pin_remove_jumps(h, PIN_RESTORE_HOOK, p->restore, &removed, err, errlen) < 0 ||
        pin_remove_jumps(h, PIN_SAVE_HOOK, p->save, &removed, err, errlen) < 0)
        return -1;
    if (pin_add(h, PIN_RESTORE_HOOK, pin_jump_entry(p, p->restore), 1, err, errlen) < 0 ||
        pin_add(h, PIN_SAVE_HOOK, pin_jump_entry(p, p->save), 1, err, errlen) < 0)
        return -1;
    if (!iptc_commit(h)) {
        snprintf(err, errlen, "route: commit of chains %s and %s failed: %s", p->restore, p->save,
                 iptc_strerror(errno));
        return -1;
    }
    return 0;
}

int pin_set(struct pin *p, const unsigned char *ids, unsigned max_id, char *err, size_t errlen)
{
    unsigned char want[PIN_MAX_ID + 1] = {0};
    size_t count = 0;
    for (unsigned id = 1; id <= max_id && id <= PIN_MAX_ID; id++)
        if (ids[id]) {
            want[id] = 1;
            count++;
        }
    if (p->installed && memcmp(want, p->ids, sizeof(want)) == 0)
        return 0;
    int lock = xtlock_take(&p->lock, "route", err, errlen);
    if (lock < 0)
        return lock;
    int rc = -1;
    struct xtc_handle *h = pin_open(err, errlen);
    if (!h || pin_write(p, h, want, err, errlen) < 0)
        goto fail;
    memcpy(p->ids, want, sizeof(want));
    p->count = count;
    p->installed = 1;
    rc = 0;
fail:
    if (h)
        iptc_free(h); /* uncommitted changes die here */
    xtlock_release(lock);
    return rc;
}

/* ---- reconcile: the mangle table against what pin_set wrote ---- */

/* Rules of our two chains not as pin_set writes them for p->ids, in
 * order: the wanted ones missing plus the ones there not wanted. */
static unsigned pin_rules_drift(const struct pin *p, struct xtc_handle *h)
{
    unsigned drift = 0;
    if (!iptc_is_chain(p->restore, h))
        drift++;
    else {
        struct ipt_entry *want = pin_restore_entry();
        unsigned n = 0;
        for (const struct ipt_entry *e = iptc_first_rule(p->restore, h); e;
             e = iptc_next_rule(e, h), n++)
            drift += n > 0 || !xtentry_same(e, want, 0);
        drift += n == 0;
        free(want);
    }
    if (!iptc_is_chain(p->save, h))
        return drift + (unsigned)(p->count ? p->count : 1);
    const struct ipt_entry *e = iptc_first_rule(p->save, h);
    for (unsigned id = 1; id <= PIN_MAX_ID; id++) {
        if (!p->ids[id])
            continue;
        struct ipt_entry *want = pin_save_entry(id);
        if (e && xtentry_same(e, want, 0))
            e = iptc_next_rule(e, h);
        else
            drift++;
        free(want);
    }
    for (; e; e = iptc_next_rule(e, h))
        drift++;
    return drift;
}

/* Hooks without exactly one jump to our chain as pin_set writes it
 * (where in the hook is not checked, as fwd_nat.c's). */
static unsigned pin_jumps_drift(const struct pin *p, struct xtc_handle *h)
{
    const char *hooks[2] = {PIN_RESTORE_HOOK, PIN_SAVE_HOOK};
    const char *chains[2] = {p->restore, p->save};
    unsigned drift = 0;
    for (size_t i = 0; i < 2; i++) {
        struct ipt_entry *jump = pin_jump_entry(p, chains[i]);
        unsigned ours = 0, same = 0;
        for (const struct ipt_entry *e = iptc_first_rule(hooks[i], h); e;
             e = iptc_next_rule(e, h)) {
            const char *target = iptc_get_target(e, h);
            if (!target || strcmp(target, chains[i]) != 0)
                continue;
            ours++;
            same += xtentry_same(e, jump, 1);
        }
        free(jump);
        drift += !(ours == 1 && same == 1);
    }
    return drift;
}

int pin_reconcile(struct pin *p, unsigned *rules, unsigned *jumps, char *err, size_t errlen)
{
    *rules = *jumps = 0;
    if (!p->installed)
        return 0; /* nothing of ours is meant to be there */
    /* Read under the lock too: what is read is what a repair replaces. */
    int lock = xtlock_take(&p->lock, "route", err, errlen);
    if (lock < 0)
        return lock;
    int rc = -1;
    struct xtc_handle *h = pin_open(err, errlen);
    if (!h)
        goto fail;
    unsigned r = pin_rules_drift(p, h), j = pin_jumps_drift(p, h);
    if ((r || j) && pin_write(p, h, p->ids, err, errlen) < 0)
        goto fail;
    *rules = r;
    *jumps = j;
    rc = 0;
fail:
    if (h)
        iptc_free(h);
    xtlock_release(lock);
    return rc;
}
