/* Pinning established flows to their instance in route mode (fwd_route.c):
 * source rules route every packet by its client's block, so a connection
 * whose block moved to another instance would see its next packets land
 * there (and a reset). As kube-proxy and IPVS setups do, the connection
 * remembers its instance in its conntrack mark: two chains of ours in the
 * mangle table, written with libiptc under the xtables lock:
 *   <PREFIX>-PIN-RESTORE, jumped to from PREROUTING for VIP:port, copies the
 *     connection's mark into the packet's (our bits only), so a "fwmark"
 *     rule of fwd_route.c sends the packet to its instance's table;
 *   <PREFIX>-PIN-SAVE, jumped to from FORWARD for VIP:port, holds per
 *     pinned instance k "connmark 0 and route realm k -> connmark k": a
 *     connection not yet pinned takes the instance its first packet was
 *     routed to (table 7100+k's route carries realm k). */
#ifndef PP_PIN_H
#define PP_PIN_H

#include <stddef.h>
#include <stdint.h>
#include "../again.h"

/* Our bits of the packet and connection marks: instance k is k << 16.
 * Others' marks keep their bits (kube-proxy uses 0x4000 and 0x8000, Docker
 * none in the mangle table); 8 bits hold the pool's ids (at most 64). */
#define PIN_MARK_SHIFT 16
#define PIN_MARK_MASK 0x00ff0000u
#define PIN_MAX_ID 255u

struct fwd_config;
struct pin;

/* Chain names from cfg's prefix ("pp" -> PP-PIN-RESTORE, PP-PIN-SAVE). */
struct pin *pin_new(const struct fwd_config *cfg, char *err, size_t errlen);
void pin_free(struct pin *p);

static inline uint32_t pin_mark(unsigned id)
{
    return (uint32_t)id << PIN_MARK_SHIFT;
}

/* Makes the mangle table pin new connections to the instances whose ids
 * are set in ids[1..max_id] (and restore every connection's pin), in one
 * commit; nothing is written when that is already so. 0, -1 with err, or
 * PP_AGAIN (the xtables lock is held by someone else: call again). */
int pin_set(struct pin *p, const unsigned char *ids, unsigned max_id, char *err, size_t errlen);
/* Removes our jumps and chains (a crashed run's too: logged when
 * log_leftovers). 0, -1 with err, or PP_AGAIN. */
int pin_remove_all(struct pin *p, int log_leftovers, char *err, size_t errlen);
/* Compares the mangle table with what the last pin_set installed (our
 * chains' rules, one jump per hook) and, where they differ, writes it
 * again in one commit; where they match nothing is written. *rules and
 * *jumps count what differed. 0, -1 with err, or PP_AGAIN. */
int pin_reconcile(struct pin *p, unsigned *rules, unsigned *jumps, char *err, size_t errlen);
/* How many save rules the last pin_set installed. */
size_t pin_count(const struct pin *p);

#endif
