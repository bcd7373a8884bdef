/* SipHash-1-3 (Aumasson and Bernstein; the variant Rust's HashMap and
 * Redis's dict use) for proxyd's hash tables: the cache index and the table
 * of objects in flight. */
#include "keyhash.h"

#include <sys/random.h>
#include <sys/types.h>
#include <time.h>

static uint64_t rotl64(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static void sip_round(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = rotl64(v[1], 13);
    v[1] ^= v[0];
    v[0] = rotl64(v[0], 32);
    v[2] += v[3];
    v[3] = rotl64(v[3], 16);
    v[3] ^= v[2];
    v[0] += v[3];
    v[3] = rotl64(v[3], 21);
    v[3] ^= v[0];
    v[2] += v[1];
    v[1] = rotl64(v[1], 17);
    v[1] ^= v[2];
    v[2] = rotl64(v[2], 32);
}

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t m = 0;
    for (int i = 7; i >= 0; i--)
        m = (m << 8) | p[i];
    return m;
}

uint64_t keyhash(const struct keyhash *kh, const void *data, size_t len)
{
    const unsigned char *p = data;
    const uint64_t *k = kh->k;
    uint64_t v[4] = {0x736f6d6570736575ULL ^ k[0], 0x646f72616e646f6dULL ^ k[1],
                     0x6c7967656e657261ULL ^ k[0], 0x7465646279746573ULL ^ k[1]};
    size_t end = len - len % 8;
    for (size_t i = 0; i < end; i += 8) {
        uint64_t m = load_le64(p + i);
        v[3] ^= m;
        sip_round(v);
        v[0] ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++)
        b |= (uint64_t)p[end + i] << (8 * i);
    v[3] ^= b;
    sip_round(v);
    v[0] ^= b;
    v[2] ^= 0xff;
    sip_round(v);
    sip_round(v);
    sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

void keyhash_init(struct keyhash *kh)
{
    if (getrandom(kh->k, sizeof(kh->k), GRND_NONBLOCK) == (ssize_t)sizeof(kh->k))
        return;
    /* Only before the kernel's pool is ready (early boot): weaker, still
     * unknown to a remote client. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    kh->k[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)kh;
    kh->k[1] = (uint64_t)ts.tv_sec * 0xc2b2ae3d27d4eb4fULL ^ (uint64_t)(uintptr_t)&ts;
}
