/* Capability sets of the calling process, cut to a list: the bounding set
 * (what anything it executes could ever hold) and the effective, permitted
 * and inheritable sets. Raw capget/capset and prctl, no libcap: three calls
 * do not need a library. Used by proxyd (drops all), the manager (keeps what
 * its runtimes and forwarding modes use) and the container runtime (what a
 * worker needs before it drops to its user). */
#ifndef PP_CAPS_H
#define PP_CAPS_H

#include <stddef.h>
#include <stdint.h>

/* Drops from the bounding set every capability not in keep[0..nkeep) (up to
 * the kernel's last one). Needs CAP_SETPCAP. 0, or -1 with err filled. */
int caps_bound_to(const int *keep, size_t nkeep, char *err, size_t errlen);

/* The effective and permitted sets become what they held of keep, and the
 * inheritable and ambient sets are emptied; the bounding set is left as it
 * is (changing it needs CAP_SETPCAP, which a process that changed its user
 * no longer has). 0, or -1 with err filled. */
int caps_set_to(const int *keep, size_t nkeep, char *err, size_t errlen);

/* caps_bound_to, then caps_set_to. 0, or -1. */
int caps_limit_to(const int *keep, size_t nkeep, char *err, size_t errlen);

/* The calling thread's sets as bit masks (bit N = capability N); 0, or -1. */
int caps_get(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable);

#endif
