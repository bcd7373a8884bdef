/* The partition of clients over instances: C clients, given as
 * IPv4 ranges in order, split into N contiguous blocks whose sizes differ by
 * at most one (64 over 4 -> 16 each), each block written as the fewest CIDR
 * prefixes that cover it exactly, and how many clients changed instance
 * between two partitions (what a scale step costs in cache). Pure: no
 * kernel, no I/O. */
#ifndef PP_PARTITION_H
#define PP_PARTITION_H

#include <stddef.h>
#include <stdint.h>

/* Clients: from --clients A-B (198.18.1.1-198.18.1.64) or CIDR, repeatable.
 * Addresses in host byte order; ranges inclusive and non-overlapping. */
struct client_range {
    uint32_t first, last;
};

/* Parses "A.B.C.D-E.F.G.H", "A.B.C.D" or "A.B.C.D/len" (a CIDR means all
 * its addresses, network and broadcast included). */
int client_range_parse(const char *s, struct client_range *r, char *err, size_t errlen);

struct cidr4 {
    uint32_t addr; /* host byte order, host bits zero */
    int len;
};

/* One instance's share: a run of clients, as prefixes. */
struct partition_block {
    int instance_id;        /* 1..N */
    uint32_t first, last;   /* first and last client address of the block */
    uint32_t count;         /* clients in the block */
    struct cidr4 *prefixes; /* exact cover, fewest prefixes, in address order */
    size_t nprefixes;
};

struct partition {
    struct partition_block *blocks; /* nblocks = the instance count */
    size_t nblocks;
    uint32_t clients; /* total */
};

/* Splits the clients of ranges[0..nranges) over instances 1..n (n >= 1):
 * block k gets the k-th run of floor(C/n) or ceil(C/n) clients, larger
 * blocks first. A block may span ranges. With more instances than clients,
 * the last blocks are empty (count 0). Returns 0 or -1 (no memory, no
 * clients, n < 1) with err filled. */
int partition_compute(const struct client_range *ranges, size_t nranges, int n,
                      struct partition *out, char *err, size_t errlen);
void partition_free(struct partition *p); /* the blocks' storage; accepts zeroed */

/* The instance a client address belongs to, or 0 if it is no client. */
int partition_lookup(const struct partition *p, uint32_t addr);

/* Clients whose instance differs between a and b (a client present in only
 * one of them counts as moved). */
uint32_t partition_moved(const struct partition *a, const struct partition *b);

/* The fewest prefixes covering [first, last] exactly, in address order;
 * out must hold 64 entries (the worst case for a 32-bit range is 62).
 * Returns how many were written. */
size_t cidr_cover(uint32_t first, uint32_t last, struct cidr4 *out);

#endif
