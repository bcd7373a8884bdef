/* Comparing a rule the kernel holds with the one we write, for the modes
 * that keep iptables chains of their own (fwd_nat.c's DNAT chain, pin.c's
 * mangle chains) and put them back when they drift. */
#ifndef PP_XTENTRY_H
#define PP_XTENTRY_H

#include <libiptc/libiptc.h>

/* Whether the kernel's entry a is b as we write it: the ip part, the
 * offsets, each match and the target (size, name, revision, data); not the
 * counters, nor nfcache and comefrom, which the kernel and libiptc keep for
 * themselves, nor the bytes of a name past its NUL, where the kernel keeps
 * its own pointer (u.kernel). A jump's target is libiptc's offset to the
 * chain, so for a jump (upto_target) the target is left to the caller, who
 * checks it by name. A NULL b matches nothing. */
int xtentry_same(const struct ipt_entry *a, const struct ipt_entry *b, int upto_target);

#endif
