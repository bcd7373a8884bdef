/* A response as proxyd holds it: the origin's status and headers, and the
 * body as refcounted chunks that clients' output buffers reference instead of
 * copying. One object serves every client that wants it — a cache hit, the
 * waiters collapsed onto one origin fetch, or a single pass-through client —
 * through subscribers, which are woken (never polled) when headers arrive,
 * when body bytes arrive, and when the object completes or fails. */
#ifndef PP_OBJECT_H
#define PP_OBJECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include "http1.h"
#include "freshness.h"

struct evbuffer;

#define SUBSCRIBER_MAGIC 0x5ab5c1bu

enum subscriber_event {
    SUB_HEADERS = 1, /* status and headers are known */
    SUB_DATA,        /* more body bytes are available */
    SUB_DONE,        /* the body is complete */
    SUB_FAILED,      /* the fetch failed (before or after the headers) */
    SUB_RETRY,       /* the response cannot be shared with this subscriber
                        (uncacheable, or another Vary variant): it has been
                        unsubscribed and should fetch on its own */
};

struct subscriber;
typedef void (*subscriber_cb)(struct subscriber *sub, enum subscriber_event ev);

struct subscriber {
    unsigned magic;
    TAILQ_ENTRY(subscriber) link;
    struct object *obj; /* while subscribed */
    uint64_t pos;       /* body bytes already handed to this subscriber */
    subscriber_cb cb;
    void *ctx;
    /* The subscriber's request headers, for Vary checks on collapse. */
    const struct http1_header *req_h;
    size_t req_n;
    int throttling; /* this subscriber holds the object's throttle */
};
TAILQ_HEAD(subscriber_list, subscriber);

/* The object itself is object.c's (object_internal.h): the rest of proxyd
 * reads it through the functions below; only the cache policy (policy.c),
 * which owns its cache state, shares object.c's view. */
struct object;

/* Size of the body chunks when the length is not known in advance. */
#define OBJECT_CHUNK_BYTES (64 * 1024)

struct object *object_new(const char *key, size_t key_len);
void object_ref(struct object *o);
void object_unref(struct object *o); /* accepts NULL */
/* For the cache's release callback. */
void object_release_cb(void *value);

/* Takes the response head. raw is copied. hop-by-hop fields, fields listed in
 * Connection, Content-Length, Transfer-Encoding and Age are left out of the
 * stored head. Computes freshness. Wakes subscribers with SUB_HEADERS. */
int object_set_head(struct object *o, const struct http1_response *resp, int64_t request_time,
                    int64_t response_time);
/* Returns a buffer to receive up to *len body bytes in place (at most *len;
 * *len is set to what fits). The caller fills some of it then commits. */
char *object_body_space(struct object *o, size_t *len);
/* Commits n bytes written into the last object_body_space and wakes
 * subscribers with SUB_DATA. */
void object_body_commit(struct object *o, size_t n);
/* Wakes subscribers with SUB_DATA after object_body_append calls. */
void object_body_flush(struct object *o);
/* Appends a copy of data (convenience for small pieces). */
void object_body_append(struct object *o, const char *data, size_t n);
/* Completes the body: wakes subscribers with SUB_DONE. A retained body is
 * shrunk first (object_shrink_body). */
void object_complete(struct object *o);
/* Fits the last body chunk to the bytes it holds, so a 100-byte body of
 * unknown length does not keep a 64 KiB block; call before object_size is
 * handed to the cache. Chunks output buffers still send from stay alive
 * (they hold references); the object then keeps an exact copy. */
void object_shrink_body(struct object *o);
void object_fail(struct object *o, int status);
/* Stops retaining the body (too large to cache, or uncacheable): chunks every
 * current subscriber has received are dropped, and no one new may join. */
void object_stop_retaining(struct object *o);

/* Subscribers. subscribe only attaches: the caller then looks at what
 * already happened (object_head_known) and acts on it, on its own stack. Callbacks come later,
 * from the fetch. unsubscribe never calls back. */
void subscriber_init(struct subscriber *s, subscriber_cb cb, void *ctx);
void object_subscribe(struct object *o, struct subscriber *s);
/* Subscribes the request that starts o's fetch: the one its response is
 * for, which waiters are matched against and which feeds a request body. */
void object_subscribe_owner(struct object *o, struct subscriber *s);
void object_unsubscribe(struct subscriber *s);
/* Whether o's status and headers are known (streaming or complete). */
int object_head_known(const struct object *o);
/* Hands the subscriber's undelivered body bytes to out as references (no
 * copy), at most max bytes; returns the number of bytes added. */
size_t object_deliver(struct subscriber *s, struct evbuffer *out, size_t max);
/* Body bytes available to s but not yet delivered. */
uint64_t object_pending(const struct subscriber *s);
/* A subscriber's output is backed up (1) or drained again (0). Only bodies
 * not retained are throttled; each subscriber calls with 1 and 0 in pairs. */
void object_throttle(struct subscriber *s, int on);

/* Completes a pending object from a 304 to its revalidation: the stored
 * object's body (shared chunks, no copy) with the stored headers updated by
 * the 304's (RFC 9111 §4.3.4). Wakes subscribers with HEADERS then DONE. */
int object_refresh(struct object *o, struct object *stored,
                   const struct http1_response *not_modified, int64_t request_time,
                   int64_t response_time);
/* Unsubscribes s and tells it SUB_RETRY. */
void object_send_retry(struct subscriber *s);
/* The stored header value, or NULL. */
const struct http1_header *object_header(const struct object *o, const char *name);

/* Reading an object. */
int object_status(const struct object *o);      /* the response status, once the head is known */
int object_fail_status(const struct object *o); /* 502, 504 ... once failed; 0 if none was set */
int object_refreshed(const struct object *o);   /* completed from a 304 to a revalidation */
const char *object_key(const struct object *o); /* NUL-terminated */
/* The head as sent to clients (object_set_head says what is left out). */
const char *object_stored_head(const struct object *o, size_t *len);
int64_t object_age(const struct object *o, int64_t now); /* RFC 9111 §4.2.3 current_age */
int64_t object_content_length(const struct object *o);   /* -1 until known */
size_t object_subscriber_count(const struct object *o);
/* Whether the whole body is kept for later subscribers (cacheable), so
 * subscribers never hold the fetch back (object_throttle). */
int object_retains(const struct object *o);
/* Whether the fetch must stop reading: a body not retained whose
 * subscribers are backed up (object_throttle). */
int object_reading_held(const struct object *o);
/* Whether s subscribed as the owner of its object's fetch. */
int object_is_owner(const struct subscriber *s);

/* The fetch filling an object. */
/* Attaches the fetch (an opaque pointer for fetch.c), no unthrottle yet. */
void object_attach_fetch(struct object *o, void *fetch);
void *object_fetch(const struct object *o);
/* Detaches the fetch if it is the one attached. */
void object_detach_fetch(struct object *o, const void *fetch);
/* Called when no subscriber holds the fetch back any more. */
void object_set_unthrottle(struct object *o, void (*on_unthrottle)(void *fetch));
/* The fetch was stopped for lack of subscribers: the object leaves the
 * in-flight table and, unless complete, counts as failed. */
void object_abandon(struct object *o);
/* Stops retaining the body (object_stop_retaining) when more_bytes more
 * would take a retained body past max_bytes. */
void object_retain_within(struct object *o, uint64_t more_bytes, uint64_t max_bytes);

/* Objects in flight, by key, so concurrent misses collapse onto one fetch. */
struct object_table;
struct object_table *object_table_new(void);
void object_table_free(struct object_table *t);
struct object *object_table_find(struct object_table *t, const char *key, size_t key_len);
/* Lists o: new requests for its key may collapse onto it (policy.c reads
 * that as o's collapsible flag, which this sets). */
void object_table_add(struct object_table *t, struct object *o);
void object_table_remove(struct object *o); /* if listed */
size_t object_table_count(const struct object_table *t);

/* Room for an object's head and bookkeeping above its body, as object_size
 * counts them: two copies of a head of at most 32 KiB (http1's limit), its
 * field array (100 fields of 32 bytes), the key (a request line, 8 KiB),
 * the structs, and the body's rounding (a page for a memfd, a few bytes
 * for each 64 KiB block of a 1 MiB body): 82 KiB at most, rounded up. */
#define OBJECT_OVERHEAD_BYTES (96 * 1024)

/* Memory an object really holds, for the cache's accounting: every
 * allocation at its allocator's size (memsize.h) — the struct, the key,
 * both head copies, the field array, the chunk array and each body chunk at
 * its capacity (a memfd's in whole pages). Chunks shared with another
 * object (object_refresh) count in both: an over-count, never an under. */
uint64_t object_size(const struct object *o);

#endif
