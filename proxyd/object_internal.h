/* struct object as object.c keeps it. Included only by object.c, by the
 * cache policy (policy.c: collapsibility, storability, hit-for-miss markers
 * are its state) and by object.c's unit test; everything else goes through
 * object.h's functions. */
#ifndef PP_OBJECT_INTERNAL_H
#define PP_OBJECT_INTERNAL_H

#include "object.h"

#define OBJECT_MAGIC 0x0b1ec7u

enum object_state {
    OBJECT_PENDING = 0, /* waiting for the origin's response head */
    OBJECT_STREAMING,   /* head known, body arriving */
    OBJECT_COMPLETE,    /* whole body here */
    OBJECT_FAILED,      /* the fetch failed; see fail_status */
};

struct body_chunk;

struct object {
    unsigned magic;
    int refs;
    enum object_state state;
    int fail_status; /* 502, 504 ... when FAILED */
    char *key;       /* cache key (absolute URL), owned */
    size_t key_len;

    /* Head, once known. raw_head holds the header fields as received;
     * headers[] point into it. stored_head is what is sent to clients:
     * the fields minus hop-by-hop and framing ones, ready to copy. */
    int status;
    char *raw_head;
    struct http1_header *headers;
    size_t nheaders;
    char *stored_head;
    size_t stored_head_len;
    struct http1_str vary; /* into raw_head; len 0 when none */
    struct freshness fresh;
    int64_t content_length; /* -1: not known until complete */

    /* Body. */
    struct body_chunk **chunks;
    size_t nchunks, chunks_cap;
    uint64_t body_bytes;    /* received so far */
    uint64_t dropped_bytes; /* body bytes before chunks[0] no longer held */
    int retain;             /* keep the whole body for later subscribers (cacheable) */
    int cacheable;          /* may be stored when complete */
    int in_cache;           /* the cache holds a reference */
    int collapsible;        /* new requests may join while it is in flight */
    int refreshed;          /* completed from a 304 to a revalidation */
    int hit_for_miss;       /* marker: requests for this key skip collapsing */
    int64_t marker_expires; /* for hit_for_miss markers */

    struct subscriber_list subs;
    size_t nsubs;
    struct subscriber *owner; /* the request that started the fetch, while subscribed */
    /* Flow control for bodies not retained: subscribers whose output is
     * backed up hold the fetch's reading until they drain. */
    int throttled;
    void (*on_unthrottle)(void *fetch);
    void *fetch;                /* the origin fetch filling it, NULL once done */
    struct object_table *table; /* the in-flight table listing it, if any */
};

#endif
