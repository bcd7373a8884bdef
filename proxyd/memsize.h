/* What one heap allocation really takes, for the cache's accounting: the
 * allocator's usable size (glibc rounds a request up to 16 bytes, with a
 * minimum of 24) plus its per-chunk header. --cache-mem bounds these sums,
 * not the byte counts that were asked for (a 100-byte chunked body once
 * held a 64 KiB block the accounting never saw). */
#ifndef PP_MEMSIZE_H
#define PP_MEMSIZE_H

#include <malloc.h>
#include <stdint.h>

/* glibc's header of an in-use chunk is 8 bytes (16 for an mmapped one):
 * 16 is an upper bound for both. */
#define MEMSIZE_HEADER_BYTES 16

static inline uint64_t memsize(const void *p)
{
    return p ? (uint64_t)malloc_usable_size((void *)p) + MEMSIZE_HEADER_BYTES : 0;
}

#endif
