/* A keyed hash for tables indexed by strings clients choose (cache keys,
 * the in-flight table): SipHash-1-3 under a random key per table, so no one
 * outside the process can pick inputs that fall into one chain (the reason
 * Redis's dict moved to SipHash). */
#ifndef PP_KEYHASH_H
#define PP_KEYHASH_H

#include <stddef.h>
#include <stdint.h>

struct keyhash {
    uint64_t k[2];
};

/* A fresh random key, from getrandom(2). */
void keyhash_init(struct keyhash *kh);
uint64_t keyhash(const struct keyhash *kh, const void *data, size_t len);

#endif
