/* The xtables lock every iptables binary takes (flock on /run/xtables.lock),
 * for the modes that write tables through libiptc (fwd_nat.c's nat chain,
 * pin.c's mangle chains). Taken without waiting: the loop never sleeps on
 * it; a caller that gets PP_AGAIN tries again in a few milliseconds. */
#ifndef PP_XTLOCK_H
#define PP_XTLOCK_H

#include <stddef.h>
#include <stdint.h>
#include "../again.h"

/* iptables -w waits forever by default; the manager must not hang on a
 * stuck holder, and a normal holder (one iptables-restore) keeps it for
 * milliseconds, so 5 s is generous. */
#define XTLOCK_WAIT_MS 5000

struct xtlock {
    int64_t wait_since_us; /* first try for a lock held by someone else; 0 = none */
};

/* The descriptor holding the lock; PP_AGAIN while another holder has it;
 * -1 with err ("<who>: ...") once it was held for XTLOCK_WAIT_MS. */
int xtlock_take(struct xtlock *l, const char *who, char *err, size_t errlen);
/* Releases what xtlock_take returned (a negative fd is ignored). */
void xtlock_release(int fd);

#endif
