/* The memory cache index: cache key (absolute URL) -> stored variants, one
 * per distinct set of request values for the headers the response's Vary
 * names, with one LRU list across all variants and eviction bounded by
 * bytes: the values' sizes as the caller accounts them plus every
 * allocation of the index itself, at its real size (memsize.h). proxyd's
 * request path looks up here before going to the origin and inserts what
 * freshness_storable accepts; values stay opaque. */
#include "cache.h"

#include <stdlib.h>
#include <string.h>

#include "keyhash.h"
#include "memsize.h"
#include "vary.h"

/* Buckets to start with; the table doubles whenever keys outnumber buckets
 * (load factor 1), so this only avoids the first few regrowths. */
#define CACHE_INITIAL_BUCKETS 64

/* glibc returns freed heap memory to the kernel only from the top of the
 * heap: once a cache full of small objects has been replaced by one of
 * 64 KiB blocks, the pages the small ones held stay resident beside the new
 * (scenario 15: RSS grew by 1.5x --cache-mem without trimming, 0.93x with
 * it). So after dropping an eighth
 * of the limit (at least 1 MiB), the cache has malloc_trim(3) hand every
 * whole free page back: at most eight walks of the free lists per cache-full
 * of churn. */
#define CACHE_TRIM_DIVISOR 8
#define CACHE_TRIM_MIN_BYTES (1u << 20)

/* One header a variant was selected on: the request's value as the cache
 * compares it (every same-name header trimmed and joined with ", "). */
struct vary_field {
    const char *name; /* lower case, NUL-terminated, for http1_header_next */
    const char *value;
    size_t value_len;
    int present; /* a request without the header matches only its absence */
};

/* One stored variant: on the LRU list and on its key's variant list. The
 * names and values of fields[] live in the same allocation, after it. */
struct cache_entry {
    struct cache_entry *lru_prev; /* towards more recently used */
    struct cache_entry *lru_next; /* towards less recently used */
    struct cache_entry *variant_next;
    struct cache_key *key;
    void *value;
    uint64_t size_bytes;  /* the value's, as the caller accounts it */
    uint64_t index_bytes; /* this entry's own allocation */
    uint64_t last_used;   /* c->tick at insertion or last hit */
    size_t nfields;
    struct vary_field fields[];
};

/* One cache key: a hash chain link and its variants, newest first, so the
 * first match is the most recent response (RFC 9111 §4.1). */
struct cache_key {
    struct cache_key *bucket_next;
    uint64_t hash;
    struct cache_entry *variants;
    size_t nvariants;
    uint64_t index_bytes; /* this key's own allocation */
    size_t keylen;
    char key[];
};

struct cache {
    struct cache_key **buckets;
    size_t nbuckets; /* a power of two */
    size_t nkeys;
    struct cache_entry *lru_head; /* most recently used */
    struct cache_entry *lru_tail; /* next to evict */
    uint64_t mem_limit_bytes;
    uint64_t max_object_bytes;
    size_t max_variants;
    size_t max_vary_bytes;
    uint64_t tick;          /* counts insertions and hits: orders one key's variants by use */
    uint64_t dropped_bytes; /* accounted bytes dropped since the last trim */
    void (*release)(void *value);
    struct keyhash seed;
    struct cache_stats stats;
};

/* Index allocations come and go through these, so stats.bytes follows
 * what is really held. */
static void charge(struct cache *c, uint64_t bytes)
{
    c->stats.bytes += bytes;
    c->stats.index_bytes += bytes;
}

static void uncharge(struct cache *c, uint64_t bytes)
{
    c->stats.bytes -= bytes;
    c->stats.index_bytes -= bytes;
}

/* ---- Vary (the matching rule itself is vary.c's) ---- */

/* A new entry holding the request's values of the headers vary names, or
 * NULL when those values (or the names) take more than max_vary_bytes. Two
 * passes over the list: sizes first, so the entry is one allocation. */
static struct cache_entry *entry_new(const struct http1_str *vary, const struct http1_header *h,
                                     size_t n, size_t max_vary_bytes)
{
    size_t nfields = 0, text_bytes = 0, pos = 0;
    struct http1_str name;
    char lname[VARY_MAX_NAME_BYTES + 1];

    while (vary && http1_list_next(*vary, &pos, &name)) {
        if (!vary_name_copy(name, lname))
            return NULL; /* no real header name is this long */
        long vlen = vary_value_len(h, n, lname);
        nfields++;
        text_bytes += name.len + 1 + (vlen > 0 ? (size_t)vlen : 0);
        if (text_bytes > max_vary_bytes)
            return NULL;
    }

    struct cache_entry *e =
        calloc(1, sizeof(*e) + nfields * sizeof(struct vary_field) + text_bytes);
    if (!e)
        return NULL;
    char *text = (char *)&e->fields[nfields];
    pos = 0;
    while (vary && http1_list_next(*vary, &pos, &name)) {
        struct vary_field *vf = &e->fields[e->nfields++];
        vf->name = text;
        text = vary_name_copy(name, text);
        vf->present = http1_header_find(h, n, vf->name) != NULL;
        vf->value = text;
        text = vary_value_copy(h, n, vf->name, text);
        vf->value_len = (size_t)(text - vf->value);
    }
    return e;
}

static int entry_matches(const struct cache_entry *e, const struct http1_header *h, size_t n)
{
    for (size_t i = 0; i < e->nfields; i++) {
        const struct vary_field *vf = &e->fields[i];
        if (!vary_value_matches(h, n, vf->name, vf->value, vf->value_len, vf->present))
            return 0;
    }
    return 1;
}

/* ---- LRU ---- */

static void lru_unlink(struct cache *c, struct cache_entry *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        c->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        c->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_head(struct cache *c, struct cache_entry *e)
{
    e->lru_prev = NULL;
    e->lru_next = c->lru_head;
    if (c->lru_head)
        c->lru_head->lru_prev = e;
    else
        c->lru_tail = e;
    c->lru_head = e;
}

/* ---- hash table of keys ---- */

static struct cache_key *key_find(const struct cache *c, const char *key, size_t keylen,
                                  uint64_t hash)
{
    for (struct cache_key *k = c->buckets[hash & (c->nbuckets - 1)]; k; k = k->bucket_next) {
        if (k->hash == hash && k->keylen == keylen &&
            (keylen == 0 || memcmp(k->key, key, keylen) == 0))
            return k;
    }
    return NULL;
}

/* Doubles the bucket array. On allocation failure the table stays as it is:
 * chains get longer, nothing breaks. */
static void table_grow(struct cache *c)
{
    size_t nb = c->nbuckets * 2;
    struct cache_key **b = calloc(nb, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        struct cache_key *k = c->buckets[i], *next;
        for (; k; k = next) {
            next = k->bucket_next;
            k->bucket_next = b[k->hash & (nb - 1)];
            b[k->hash & (nb - 1)] = k;
        }
    }
    uncharge(c, memsize(c->buckets));
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = nb;
    charge(c, memsize(b));
}

/* A key not yet in the table (cache_insert checks it fits first). */
static struct cache_key *key_alloc(const char *key, size_t keylen, uint64_t hash)
{
    struct cache_key *k = calloc(1, sizeof(*k) + keylen);
    if (!k)
        return NULL;
    k->hash = hash;
    k->keylen = keylen;
    if (keylen > 0)
        memcpy(k->key, key, keylen);
    k->index_bytes = memsize(k);
    return k;
}

static void key_link(struct cache *c, struct cache_key *k)
{
    charge(c, k->index_bytes);
    if (c->nkeys + 1 > c->nbuckets)
        table_grow(c);
    struct cache_key **slot = &c->buckets[k->hash & (c->nbuckets - 1)];
    k->bucket_next = *slot;
    *slot = k;
    c->nkeys++;
}

static void key_destroy(struct cache *c, struct cache_key *k)
{
    struct cache_key **pp = &c->buckets[k->hash & (c->nbuckets - 1)];
    while (*pp != k)
        pp = &(*pp)->bucket_next;
    *pp = k->bucket_next;
    c->nkeys--;
    uncharge(c, k->index_bytes);
    free(k);
}

/* Unlinks and releases one variant. Its key goes with its last variant,
 * unless it is `keep` (cache_insert is about to add to it). */
static void entry_drop(struct cache *c, struct cache_entry *e, struct cache_key *keep)
{
    struct cache_key *k = e->key;
    struct cache_entry **pp = &k->variants;
    while (*pp != e)
        pp = &(*pp)->variant_next;
    *pp = e->variant_next;
    k->nvariants--;
    lru_unlink(c, e);
    c->stats.bytes -= e->size_bytes;
    uncharge(c, e->index_bytes);
    c->dropped_bytes += e->size_bytes + e->index_bytes;
    c->stats.objects--;
    if (c->release)
        c->release(e->value);
    free(e);
    if (!k->variants && k != keep)
        key_destroy(c, k);
}

/* ---- API ---- */

struct cache *cache_new(uint64_t mem_limit_bytes, uint64_t max_object_bytes,
                        void (*release)(void *value))
{
    struct cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->buckets = calloc(CACHE_INITIAL_BUCKETS, sizeof(*c->buckets));
    if (!c->buckets)
        goto fail;
    c->nbuckets = CACHE_INITIAL_BUCKETS;
    charge(c, memsize(c->buckets));
    c->mem_limit_bytes = mem_limit_bytes;
    c->max_object_bytes = max_object_bytes;
    c->max_variants = CACHE_DEFAULT_MAX_VARIANTS;
    c->max_vary_bytes = CACHE_DEFAULT_MAX_VARY_BYTES;
    c->release = release;
    keyhash_init(&c->seed);
    return c;
fail:
    free(c);
    return NULL;
}

void cache_set_vary_limits(struct cache *c, size_t max_variants, size_t max_vary_bytes)
{
    c->max_variants = max_variants > 0 ? max_variants : 1;
    c->max_vary_bytes = max_vary_bytes;
}

void cache_free(struct cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        struct cache_key *k = c->buckets[i], *knext;
        for (; k; k = knext) {
            knext = k->bucket_next;
            struct cache_entry *e = k->variants, *enext;
            for (; e; e = enext) {
                enext = e->variant_next;
                if (c->release)
                    c->release(e->value);
                free(e);
            }
            free(k);
        }
    }
    free(c->buckets);
    free(c);
}

/* Hands whole free pages back to the kernel once enough was dropped (see
 * CACHE_TRIM_DIVISOR). Values still referenced elsewhere (a hit being sent)
 * are freed later, and trimmed by a later call. */
static void cache_maybe_trim(struct cache *c)
{
    uint64_t step = c->mem_limit_bytes / CACHE_TRIM_DIVISOR;
    if (step < CACHE_TRIM_MIN_BYTES)
        step = CACHE_TRIM_MIN_BYTES;
    if (c->dropped_bytes < step)
        return;
    c->dropped_bytes = 0;
    malloc_trim(0);
}

/* The key's least recently used variant. */
static struct cache_entry *key_lru_variant(const struct cache_key *k)
{
    struct cache_entry *oldest = k->variants;
    for (struct cache_entry *v = k->variants; v; v = v->variant_next) {
        if (v->last_used < oldest->last_used)
            oldest = v;
    }
    return oldest;
}

int cache_insert(struct cache *c, const char *key, size_t keylen, const struct http1_str *vary,
                 const struct http1_header *req_h, size_t req_n, void *value, uint64_t size_bytes)
{
    if (size_bytes > c->max_object_bytes || size_bytes > c->mem_limit_bytes)
        return -1;
    if (vary_has_star(vary))
        return -1;
    struct cache_entry *e = entry_new(vary, req_h, req_n, c->max_vary_bytes);
    if (!e)
        return -1;
    e->value = value;
    e->size_bytes = size_bytes;
    e->index_bytes = memsize(e);

    uint64_t hash = keyhash(&c->seed, key, keylen);
    struct cache_key *k = key_find(c, key, keylen, hash), *fresh = NULL;
    if (!k && !(fresh = key_alloc(key, keylen, hash))) {
        free(e);
        return -1;
    }
    /* What it takes even in an otherwise empty cache: refused before
     * anything is evicted for it. */
    uint64_t need = size_bytes + e->index_bytes;
    uint64_t floor = need + memsize(c->buckets) + (k ? k->index_bytes : fresh->index_bytes);
    if (floor < need || floor > c->mem_limit_bytes) {
        free(fresh);
        free(e);
        return -1;
    }
    if (fresh) {
        key_link(c, fresh); /* may grow the table: the evictions below make room */
        k = fresh;
    }

    /* Whatever this request would have been served is superseded by the
     * newer response (RFC 9111 §4.1: the most recent one is used). */
    struct cache_entry *v = k->variants, *vnext;
    for (; v; v = vnext) {
        vnext = v->variant_next;
        if (entry_matches(v, req_h, req_n))
            entry_drop(c, v, k);
    }
    while (k->nvariants >= c->max_variants) {
        entry_drop(c, key_lru_variant(k), k);
        c->stats.evictions++;
    }
    while (c->stats.bytes + need > c->mem_limit_bytes && c->lru_tail) {
        entry_drop(c, c->lru_tail, k);
        c->stats.evictions++;
    }
    if (c->stats.bytes + need > c->mem_limit_bytes) {
        /* Only the key, the buckets and the rounding are left, and still
         * it does not fit. */
        if (!k->variants)
            key_destroy(c, k);
        free(e);
        return -1;
    }

    e->key = k;
    e->last_used = ++c->tick;
    e->variant_next = k->variants;
    k->variants = e;
    k->nvariants++;
    lru_push_head(c, e);
    c->stats.bytes += size_bytes;
    charge(c, e->index_bytes);
    c->stats.objects++;
    c->stats.insertions++;
    cache_maybe_trim(c);
    return 0;
}

void *cache_lookup(struct cache *c, const char *key, size_t keylen,
                   const struct http1_header *req_h, size_t req_n)
{
    struct cache_key *k = key_find(c, key, keylen, keyhash(&c->seed, key, keylen));
    if (!k)
        return NULL;
    for (struct cache_entry *e = k->variants; e; e = e->variant_next) {
        if (entry_matches(e, req_h, req_n)) {
            e->last_used = ++c->tick;
            lru_unlink(c, e);
            lru_push_head(c, e);
            return e->value;
        }
    }
    return NULL;
}

int cache_remove_key(struct cache *c, const char *key, size_t keylen)
{
    struct cache_key *k = key_find(c, key, keylen, keyhash(&c->seed, key, keylen));
    int dropped = 0;
    if (!k)
        return 0;
    while (k->variants) {
        entry_drop(c, k->variants, k);
        dropped++;
    }
    key_destroy(c, k);
    return dropped;
}

int cache_remove_value(struct cache *c, const char *key, size_t keylen, const void *value)
{
    struct cache_key *k = key_find(c, key, keylen, keyhash(&c->seed, key, keylen));
    if (!k)
        return -1;
    for (struct cache_entry *e = k->variants; e; e = e->variant_next) {
        if (e->value == value) {
            entry_drop(c, e, NULL);
            return 0;
        }
    }
    return -1;
}

void cache_get_stats(const struct cache *c, struct cache_stats *st)
{
    *st = c->stats;
}
