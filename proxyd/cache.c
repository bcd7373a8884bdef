/* The memory cache index: cache key (absolute URL) -> stored variants, one
 * per distinct set of request values for the headers the response's Vary
 * names, with one LRU list across all variants and eviction bounded by
 * bytes. proxyd's request path looks up here before going to the origin and
 * inserts what freshness_storable accepts; values stay opaque. */
#include "cache.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Buckets to start with; the table doubles whenever keys outnumber buckets
 * (load factor 1), so this only avoids the first few regrowths. */
#define CACHE_INITIAL_BUCKETS 64

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
    uint64_t size_bytes;
    size_t nfields;
    struct vary_field fields[];
};

/* One cache key: a hash chain link and its variants, newest first, so the
 * first match is the most recent response (RFC 9111 §4.1). */
struct cache_key {
    struct cache_key *bucket_next;
    uint64_t hash;
    struct cache_entry *variants;
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
    void (*release)(void *value);
    uint64_t seed[2];
    struct cache_stats stats;
};

/* ---- hashing: SipHash-1-3, keyed per cache ----
 * Keys are URLs chosen by clients; a keyed hash keeps them from filling one
 * chain on purpose (the reason Redis's dict moved to SipHash). */

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

static uint64_t siphash13(const uint64_t k[2], const void *data, size_t len)
{
    const unsigned char *p = data;
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

static void seed_init(uint64_t seed[2])
{
    if (getrandom(seed, 2 * sizeof(seed[0]), GRND_NONBLOCK) == (ssize_t)(2 * sizeof(seed[0])))
        return;
    /* Only before the kernel's pool is ready (early boot): weaker, still
     * unknown to a remote client. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    seed[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)seed;
    seed[1] = (uint64_t)ts.tv_sec * 0xc2b2ae3d27d4eb4fULL ^ (uint64_t)(uintptr_t)&ts;
}

/* ---- Vary ---- */

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static struct http1_str str_trim(struct http1_str s)
{
    while (s.len > 0 && is_ows(s.p[0])) {
        s.p++;
        s.len--;
    }
    while (s.len > 0 && is_ows(s.p[s.len - 1]))
        s.len--;
    return s;
}

static int vary_has_star(const struct http1_str *vary)
{
    size_t pos = 0;
    struct http1_str name;
    while (vary && http1_list_next(*vary, &pos, &name)) {
        if (http1_str_eq(name, "*"))
            return 1;
    }
    return 0;
}

/* Bytes of the request's joined value for one header name; -1 if absent. */
static long request_value_len(const struct http1_header *h, size_t n, const char *name)
{
    long len = -1;
    for (const struct http1_header *f = http1_header_find(h, n, name); f;
         f = http1_header_next(h, n, f, name))
        len = (len < 0 ? 0 : len + 2) + (long)str_trim(f->value).len;
    return len;
}

static char *request_value_copy(const struct http1_header *h, size_t n, const char *name, char *out)
{
    int first = 1;
    for (const struct http1_header *f = http1_header_find(h, n, name); f;
         f = http1_header_next(h, n, f, name)) {
        struct http1_str v = str_trim(f->value);
        if (!first) {
            memcpy(out, ", ", 2);
            out += 2;
        }
        if (v.len > 0)
            memcpy(out, v.p, v.len);
        out += v.len;
        first = 0;
    }
    return out;
}

static char *name_copy_lower(struct http1_str name, char *out)
{
    for (size_t i = 0; i < name.len; i++) {
        char ch = name.p[i];
        out[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + ('a' - 'A')) : ch;
    }
    out[name.len] = '\0';
    return out + name.len + 1;
}

/* A new entry holding the request's values of the headers vary names. Two
 * passes over the list: sizes first, so the entry is one allocation. */
static struct cache_entry *entry_new(const struct http1_str *vary, const struct http1_header *h,
                                     size_t n)
{
    size_t nfields = 0, text_bytes = 0, pos = 0;
    struct http1_str name;
    char lname[256];

    while (vary && http1_list_next(*vary, &pos, &name)) {
        if (name.len >= sizeof(lname))
            return NULL; /* no real header name is this long */
        name_copy_lower(name, lname);
        long vlen = request_value_len(h, n, lname);
        nfields++;
        text_bytes += name.len + 1 + (vlen > 0 ? (size_t)vlen : 0);
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
        text = name_copy_lower(name, text);
        vf->present = http1_header_find(h, n, vf->name) != NULL;
        vf->value = text;
        text = request_value_copy(h, n, vf->name, text);
        vf->value_len = (size_t)(text - vf->value);
    }
    return e;
}

/* Compares without building the joined value: the hit path allocates
 * nothing. */
static int field_matches(const struct vary_field *vf, const struct http1_header *h, size_t n)
{
    size_t off = 0;
    int present = 0;
    for (const struct http1_header *f = http1_header_find(h, n, vf->name); f;
         f = http1_header_next(h, n, f, vf->name)) {
        struct http1_str v = str_trim(f->value);
        if (present) {
            if (vf->value_len - off < 2 || memcmp(vf->value + off, ", ", 2) != 0)
                return 0;
            off += 2;
        }
        if (vf->value_len - off < v.len || (v.len > 0 && memcmp(vf->value + off, v.p, v.len) != 0))
            return 0;
        off += v.len;
        present = 1;
    }
    return present == vf->present && off == vf->value_len;
}

static int entry_matches(const struct cache_entry *e, const struct http1_header *h, size_t n)
{
    for (size_t i = 0; i < e->nfields; i++) {
        if (!field_matches(&e->fields[i], h, n))
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
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = nb;
}

static struct cache_key *key_create(struct cache *c, const char *key, size_t keylen, uint64_t hash)
{
    struct cache_key *k = calloc(1, sizeof(*k) + keylen);
    if (!k)
        return NULL;
    k->hash = hash;
    k->keylen = keylen;
    if (keylen > 0)
        memcpy(k->key, key, keylen);
    if (c->nkeys + 1 > c->nbuckets)
        table_grow(c);
    struct cache_key **slot = &c->buckets[hash & (c->nbuckets - 1)];
    k->bucket_next = *slot;
    *slot = k;
    c->nkeys++;
    return k;
}

static void key_destroy(struct cache *c, struct cache_key *k)
{
    struct cache_key **pp = &c->buckets[k->hash & (c->nbuckets - 1)];
    while (*pp != k)
        pp = &(*pp)->bucket_next;
    *pp = k->bucket_next;
    c->nkeys--;
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
    lru_unlink(c, e);
    c->stats.bytes -= e->size_bytes;
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
    c->mem_limit_bytes = mem_limit_bytes;
    c->max_object_bytes = max_object_bytes;
    c->release = release;
    seed_init(c->seed);
    return c;
fail:
    free(c);
    return NULL;
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

int cache_insert(struct cache *c, const char *key, size_t keylen, const struct http1_str *vary,
                 const struct http1_header *req_h, size_t req_n, void *value, uint64_t size_bytes)
{
    if (size_bytes > c->max_object_bytes || size_bytes > c->mem_limit_bytes)
        return -1;
    if (vary_has_star(vary))
        return -1;
    struct cache_entry *e = entry_new(vary, req_h, req_n);
    if (!e)
        return -1;
    e->value = value;
    e->size_bytes = size_bytes;

    uint64_t hash = siphash13(c->seed, key, keylen);
    struct cache_key *k = key_find(c, key, keylen, hash);
    if (!k)
        k = key_create(c, key, keylen, hash);
    if (!k) {
        free(e);
        return -1;
    }

    /* Whatever this request would have been served is superseded by the
     * newer response (RFC 9111 §4.1: the most recent one is used). */
    struct cache_entry *v = k->variants, *vnext;
    for (; v; v = vnext) {
        vnext = v->variant_next;
        if (entry_matches(v, req_h, req_n))
            entry_drop(c, v, k);
    }
    /* bytes <= limit always holds, so the subtraction cannot wrap. */
    while (size_bytes > c->mem_limit_bytes - c->stats.bytes && c->lru_tail) {
        entry_drop(c, c->lru_tail, k);
        c->stats.evictions++;
    }

    e->key = k;
    e->variant_next = k->variants;
    k->variants = e;
    lru_push_head(c, e);
    c->stats.bytes += size_bytes;
    c->stats.objects++;
    c->stats.insertions++;
    return 0;
}

void *cache_lookup(struct cache *c, const char *key, size_t keylen,
                   const struct http1_header *req_h, size_t req_n)
{
    struct cache_key *k = key_find(c, key, keylen, siphash13(c->seed, key, keylen));
    if (!k)
        return NULL;
    for (struct cache_entry *e = k->variants; e; e = e->variant_next) {
        if (entry_matches(e, req_h, req_n)) {
            lru_unlink(c, e);
            lru_push_head(c, e);
            return e->value;
        }
    }
    return NULL;
}

int cache_remove_key(struct cache *c, const char *key, size_t keylen)
{
    struct cache_key *k = key_find(c, key, keylen, siphash13(c->seed, key, keylen));
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
    struct cache_key *k = key_find(c, key, keylen, siphash13(c->seed, key, keylen));
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
