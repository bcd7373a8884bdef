/* The memory cache: an index from cache key (the absolute URL) to stored
 * responses, several variants per key when the response has Vary, with
 * least-recently-used eviction bounded by bytes. Values are opaque to the
 * cache (proxyd stores refcounted objects); the cache accounts the size the
 * caller gives for each plus what its own index really allocates (key
 * copies, entries with the stored Vary values, the bucket array), and calls
 * release() when it lets one go. Single-threaded: each worker thread owns
 * one cache. */
#ifndef PP_CACHE_H
#define PP_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include "http1.h"

struct cache;

/* Variants one key may have: without a cap, one URL with Vary on a header
 * clients choose freely (User-Agent, a made-up one) fills the cache with
 * copies of itself. Past it, the key's least recently used variant makes
 * room, so new variants are still served and the cap never locks one in. */
#define CACHE_DEFAULT_MAX_VARIANTS 32
/* Bytes of request values one variant may store for its Vary match (the
 * joined values of the headers Vary names): Accept-*, User-Agent and most
 * Cookie headers fit; a response varying on larger values is not stored. */
#define CACHE_DEFAULT_MAX_VARY_BYTES 4096

struct cache_stats {
    uint64_t bytes;       /* all accounted: stored sizes plus index_bytes; <= the limit */
    uint64_t index_bytes; /* the index's own allocations: keys, entries, Vary values, buckets */
    uint64_t objects;     /* stored variants */
    uint64_t evictions;   /* variants dropped to make room */
    uint64_t insertions;
};

/* mem_limit_bytes bounds the sum of stored sizes and of the index's own
 * allocations (the bucket array from the start); max_object_bytes bounds
 * one stored size (an object of exactly the limit is accepted).
 * release(value) is called whenever the cache drops a value: eviction,
 * replacement, removal, free. The Vary limits start at the defaults above. */
struct cache *cache_new(uint64_t mem_limit_bytes, uint64_t max_object_bytes,
                        void (*release)(void *value));
void cache_free(struct cache *c); /* accepts NULL */
/* max_variants >= 1 per key; max_vary_bytes of stored request values per
 * variant. */
void cache_set_vary_limits(struct cache *c, size_t max_variants, size_t max_vary_bytes);

/* Stores value under key for the request that fetched it. vary is the
 * response's Vary header value (NULL or empty when none; "*" is refused):
 * the request's values of the headers it names are kept with the entry and
 * later requests match only the variant with equal values (whitespace
 * trimmed, several same-name headers joined with ", "). An existing variant
 * with the same values is replaced; a key at its variant limit loses its
 * least recently used variant. Least recently used variants are evicted
 * until the new one and its index entry fit. Returns 0, or -1 (size over
 * the object limit, more than the memory limit even in an empty cache,
 * Vary values over their limit, or Vary: *) in which case release is NOT
 * called and the caller keeps its value. */
int cache_insert(struct cache *c, const char *key, size_t keylen, const struct http1_str *vary,
                 const struct http1_header *req_h, size_t req_n, void *value, uint64_t size_bytes);

/* The variant of key matching the request, marked most recently used, or
 * NULL. The cache keeps its reference: callers that hold on to the value
 * past the next cache call take their own. */
void *cache_lookup(struct cache *c, const char *key, size_t keylen,
                   const struct http1_header *req_h, size_t req_n);

/* Drops every variant of key (RFC 9111 §4.4: a successful unsafe request
 * invalidates the URL). Returns how many were dropped. */
int cache_remove_key(struct cache *c, const char *key, size_t keylen);
/* Drops one stored value (found by identity), e.g. when an object turns out
 * stale and uncacheable on revalidation. Returns 0 if found, -1 if not. */
int cache_remove_value(struct cache *c, const char *key, size_t keylen, const void *value);

void cache_get_stats(const struct cache *c, struct cache_stats *st);

#endif
