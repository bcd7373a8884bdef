/* An origin fetch: sends one request to an origin and fills an object with
 * the response as it streams in — resolve, borrow or open a connection, write
 * the request (and stream its body, if any), parse the response head,
 * decide whether it may be cached, read the body by its framing, store the
 * complete object. Subscribers of the object are the clients; the fetch does
 * not know them, and stops when the last one leaves. */
#ifndef PP_FETCH_H
#define PP_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include "addr.h"

struct worker;
struct object;
struct evbuffer;

struct fetch_params {
    const char *host; /* origin host (name or literal), for resolution */
    int port;
    const struct addr *dst; /* connect here instead of resolving (intercept) */
    const char *req_head;   /* the complete request head to send */
    size_t req_head_len;
    int is_head;          /* HEAD: the response has no body */
    int cache_candidate;  /* a cacheable request: store the response if it may be */
    int invalidates;      /* unsafe method: a success invalidates the key */
    int has_body;         /* a request body follows through fetch_body_* */
    int body_chunked;     /* ... and is sent chunked (else Content-Length) */
    struct object *stale; /* revalidation of this stored object, or NULL */
    /* Request body flow control: called when the body backlog drains. */
    void (*on_body_drain)(void *ctx);
    void *body_ctx;
};

/* Starts filling obj (which the caller has created and subscribed to).
 * Failures, even immediate ones, reach subscribers from the event loop, never
 * from inside this call. Returns 0, or -1 when nothing could be started (the
 * caller answers 500). */
int fetch_start(struct worker *w, struct object *obj, const struct fetch_params *p);

/* Request body, already de-framed by the client; re-framed here. */
void fetch_body_write(struct object *obj, const char *data, size_t len);
void fetch_body_end(struct object *obj);
/* Bytes of request body queued towards the origin. */
size_t fetch_body_backlog(struct object *obj);
/* The client sending the body is gone: stop the fetch if nobody else waits. */
void fetch_body_abandon(struct object *obj);

/* Call after unsubscribing from obj: if nobody is left and the object is
 * still being fetched, the fetch stops and its connection is closed. */
void fetch_maybe_abandon(struct object *obj);

/* Backlog above which a client stops reading request body bytes, and below
 * which it resumes (le-proxy style watermarks). */
#define FETCH_BODY_HIGH_BYTES (256 * 1024)
#define FETCH_BODY_LOW_BYTES (64 * 1024)

#endif
