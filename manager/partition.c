/* The partition of clients over instances: parsing --clients,
 * splitting the clients into N contiguous blocks of near-equal size, each as
 * its exact CIDR cover, and counting what a scale step moves. Pure
 * arithmetic on host-order addresses; the forwarding modes turn blocks into
 * kernel state. */
#include "partition.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "A.B.C.D" -> host order; strict dotted quad (inet_pton rejects "1.2.3"). */
static int parse_ipv4(const char *s, size_t n, uint32_t *out)
{
    char buf[INET_ADDRSTRLEN];
    struct in_addr a;
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, &a) != 1)
        return -1;
    *out = ntohl(a.s_addr);
    return 0;
}

int client_range_parse(const char *s, struct client_range *r, char *err, size_t errlen)
{
    const char *dash = strchr(s, '-'), *slash = strchr(s, '/');
    size_t n = strlen(s);
    if (dash && slash) {
        snprintf(err, errlen, "clients '%s': a range or a CIDR, not both", s);
        return -1;
    }
    if (dash) {
        uint32_t a, b;
        if (parse_ipv4(s, (size_t)(dash - s), &a) < 0 ||
            parse_ipv4(dash + 1, n - (size_t)(dash - s) - 1, &b) < 0) {
            snprintf(err, errlen, "clients '%s': expected A.B.C.D-E.F.G.H", s);
            return -1;
        }
        if (a > b) {
            snprintf(err, errlen, "clients '%s': first address after last", s);
            return -1;
        }
        r->first = a;
        r->last = b;
        return 0;
    }
    if (slash) {
        uint32_t a;
        char *end;
        if (parse_ipv4(s, (size_t)(slash - s), &a) < 0) {
            snprintf(err, errlen, "clients '%s': expected A.B.C.D/len", s);
            return -1;
        }
        if (slash[1] < '0' || slash[1] > '9') {
            snprintf(err, errlen, "clients '%s': prefix length must be 0..32", s);
            return -1;
        }
        long len = strtol(slash + 1, &end, 10);
        if (*end != '\0' || len < 0 || len > 32) {
            snprintf(err, errlen, "clients '%s': prefix length must be 0..32", s);
            return -1;
        }
        uint32_t host = len == 32 ? 0 : (uint32_t)(0xffffffffULL >> len);
        if (a & host) {
            snprintf(err, errlen, "clients '%s': host bits set (as iproute2, this is an error)", s);
            return -1;
        }
        r->first = a;
        r->last = a | host;
        return 0;
    }
    if (parse_ipv4(s, n, &r->first) < 0) {
        snprintf(err, errlen, "clients '%s': expected A.B.C.D, A.B.C.D-E.F.G.H or A.B.C.D/len", s);
        return -1;
    }
    r->last = r->first;
    return 0;
}

size_t cidr_cover(uint32_t first, uint32_t last, struct cidr4 *out)
{
    size_t n = 0;
    uint64_t lo = first, hi = (uint64_t)last + 1; /* [lo, hi): no overflow at 255.255.255.255 */
    while (lo < hi) {
        /* The largest aligned block at lo that still fits below hi. */
        int bits = lo == 0 ? 32 : __builtin_ctzll(lo);
        if (bits > 32)
            bits = 32;
        while ((1ULL << bits) > hi - lo)
            bits--;
        out[n].addr = (uint32_t)lo;
        out[n].len = 32 - bits;
        n++;
        lo += 1ULL << bits;
    }
    return n;
}

/* Appends the cover of [first, last] to a block's prefixes, growing them. */
static int block_add_run(struct partition_block *b, size_t *cap, uint32_t first, uint32_t last)
{
    struct cidr4 tmp[64];
    size_t k = cidr_cover(first, last, tmp);
    if (b->nprefixes + k > *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        while (ncap < b->nprefixes + k)
            ncap *= 2;
        struct cidr4 *p = realloc(b->prefixes, ncap * sizeof(*p));
        if (!p)
            return -1;
        b->prefixes = p;
        *cap = ncap;
    }
    memcpy(b->prefixes + b->nprefixes, tmp, k * sizeof(*tmp));
    b->nprefixes += k;
    return 0;
}

int partition_compute(const struct client_range *ranges, size_t nranges, int n,
                      struct partition *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (n < 1) {
        snprintf(err, errlen, "partition: instance count %d, need at least 1", n);
        return -1;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < nranges; i++) {
        if (ranges[i].first > ranges[i].last) {
            snprintf(err, errlen, "partition: range %zu has first after last", i + 1);
            return -1;
        }
        /* A client in two ranges would belong to two blocks. */
        for (size_t j = 0; j < i; j++) {
            if (ranges[i].first <= ranges[j].last && ranges[j].first <= ranges[i].last) {
                snprintf(err, errlen, "partition: client ranges %zu and %zu overlap", j + 1, i + 1);
                return -1;
            }
        }
        total += (uint64_t)ranges[i].last - ranges[i].first + 1;
    }
    if (total == 0) {
        snprintf(err, errlen, "partition: no clients");
        return -1;
    }
    if (total > UINT32_MAX) {
        snprintf(err, errlen, "partition: %llu clients, at most %u", (unsigned long long)total,
                 UINT32_MAX);
        return -1;
    }
    out->blocks = calloc((size_t)n, sizeof(*out->blocks));
    if (!out->blocks) {
        snprintf(err, errlen, "partition: out of memory");
        return -1;
    }
    out->nblocks = (size_t)n;
    out->clients = (uint32_t)total;

    uint32_t q = out->clients / (uint32_t)n, rem = out->clients % (uint32_t)n;
    size_t ri = 0;                                 /* current range */
    uint64_t next = nranges ? ranges[0].first : 0; /* next unassigned client in it */
    for (int k = 0; k < n; k++) {
        struct partition_block *b = &out->blocks[k];
        size_t cap = 0;
        b->instance_id = k + 1;
        b->count = q + ((uint32_t)k < rem ? 1 : 0);
        uint32_t want = b->count;
        while (want > 0) {
            uint64_t avail = (uint64_t)ranges[ri].last - next + 1;
            uint64_t take = avail < want ? avail : want;
            uint32_t first = (uint32_t)next, last = (uint32_t)(next + take - 1);
            if (b->nprefixes == 0)
                b->first = first;
            b->last = last;
            if (block_add_run(b, &cap, first, last) < 0) {
                snprintf(err, errlen, "partition: out of memory");
                partition_free(out);
                return -1;
            }
            want -= (uint32_t)take;
            next += take;
            if (next > ranges[ri].last && ri + 1 < nranges)
                next = ranges[++ri].first;
        }
    }
    return 0;
}

void partition_free(struct partition *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nblocks; i++)
        free(p->blocks[i].prefixes);
    free(p->blocks);
    memset(p, 0, sizeof(*p));
}

static int prefix_contains(const struct cidr4 *c, uint32_t addr)
{
    uint32_t mask = c->len == 0 ? 0 : 0xffffffffU << (32 - c->len);
    return (addr & mask) == c->addr;
}

int partition_lookup(const struct partition *p, uint32_t addr)
{
    for (size_t i = 0; i < p->nblocks; i++) {
        const struct partition_block *b = &p->blocks[i];
        for (size_t j = 0; j < b->nprefixes; j++)
            if (prefix_contains(&b->prefixes[j], addr))
                return b->instance_id;
    }
    return 0;
}

/* One prefix as an interval with its instance, for the sweep in moved. */
struct span {
    uint64_t lo, hi; /* inclusive */
    int id;
};

static int span_cmp(const void *x, const void *y)
{
    const struct span *a = x, *b = y;
    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

static struct span *partition_spans(const struct partition *p, size_t *n)
{
    size_t total = 0, k = 0;
    for (size_t i = 0; i < p->nblocks; i++)
        total += p->blocks[i].nprefixes;
    struct span *s = malloc((total ? total : 1) * sizeof(*s));
    if (!s)
        return NULL;
    for (size_t i = 0; i < p->nblocks; i++) {
        const struct partition_block *b = &p->blocks[i];
        for (size_t j = 0; j < b->nprefixes; j++) {
            s[k].lo = b->prefixes[j].addr;
            s[k].hi = s[k].lo + (1ULL << (32 - b->prefixes[j].len)) - 1;
            s[k].id = b->instance_id;
            k++;
        }
    }
    qsort(s, total, sizeof(*s), span_cmp);
    *n = total;
    return s;
}

uint32_t partition_moved(const struct partition *a, const struct partition *b)
{
    /* moved = |A u B| - |clients in both with the same instance|
     *       = |A| + |B| - |A n B| - same. Prefixes never overlap within one
     * partition, so a two-pointer sweep over sorted spans finds both. */
    size_t na, nb;
    struct span *sa = partition_spans(a, &na), *sb = partition_spans(b, &nb);
    if (!sa || !sb) {
        /* No memory for the sweep: the worst case, everyone moved. */
        free(sa);
        free(sb);
        uint64_t all = (uint64_t)a->clients + b->clients;
        return all > UINT32_MAX ? UINT32_MAX : (uint32_t)all;
    }
    uint64_t both = 0, same = 0;
    size_t i = 0, j = 0;
    while (i < na && j < nb) {
        uint64_t lo = sa[i].lo > sb[j].lo ? sa[i].lo : sb[j].lo;
        uint64_t hi = sa[i].hi < sb[j].hi ? sa[i].hi : sb[j].hi;
        if (lo <= hi) {
            both += hi - lo + 1;
            if (sa[i].id == sb[j].id)
                same += hi - lo + 1;
        }
        if (sa[i].hi < sb[j].hi)
            i++;
        else
            j++;
    }
    free(sa);
    free(sb);
    uint64_t moved = (uint64_t)a->clients + b->clients - both - same;
    return moved > UINT32_MAX ? UINT32_MAX : (uint32_t)moved;
}
