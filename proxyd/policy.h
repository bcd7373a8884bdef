/* proxyd's cache policy in one place, Varnish's HSH_Lookup shape: for a
 * request, one decision (hit, miss, collapse onto a fetch in flight,
 * revalidate, pass, refuse) from the request, the cache and the in-flight
 * table; for a fetch's response, whether it is stored and which collapsed
 * waiters may share it. client.c acts on the decision, fetch.c calls the
 * response rules; neither decides. RFC 9111's own rules are freshness.c's,
 * Vary's are vary.c's. */
#ifndef PP_POLICY_H
#define PP_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include "http1.h"

struct cache;
struct object;
struct object_table;

enum policy_action {
    POLICY_HIT,        /* serve the stored object, fresh enough for the request */
    POLICY_MISS,       /* fetch; store the response if it may be */
    POLICY_COLLAPSE,   /* join the fetch in flight for the same response */
    POLICY_REVALIDATE, /* stored but stale: a conditional fetch */
    POLICY_PASS,       /* fetch, neither stored nor shared */
    POLICY_REFUSE,     /* only-if-cached and nothing usable is stored: 504 */
};

/* A request as the policy sees it. */
struct policy_request {
    const struct http1_request *req;
    const char *key; /* cache key (absolute URL) */
    size_t key_len;
    int host_mismatch; /* intercepted, and Host does not lead where it went */
    int no_collapse;   /* a fetch it joined could not be shared with it */
};

struct policy_decision {
    enum policy_action action;
    /* HIT: the stored object; COLLAPSE: the object in flight; REVALIDATE:
     * the stale stored one. No reference is taken: use it before the next
     * cache call. */
    struct object *obj;
    int store_candidate; /* MISS, REVALIDATE: the response may be stored */
    int collapsible;     /* MISS, REVALIDATE: later requests may join the fetch */
    int no_collapse;     /* a hit-for-miss marker says: this key does not collapse */
    const char *why;     /* REFUSE: the reason, for the 504 */
};

/* Decides how to serve r. cache NULL: everything passes. */
void policy_lookup(struct cache *cache, struct object_table *inflight, int64_t now,
                   const struct policy_request *r, struct policy_decision *d);

/* What a fetch tells the policy about itself when its response arrives. */
struct policy_fetch {
    struct cache *cache;             /* NULL when there is none */
    const struct http1_request *req; /* the request sent: Vary and storability */
    int store_candidate;
    int invalidates;      /* an unsafe method: success invalidates the key */
    struct object *stale; /* the stored object being revalidated, or NULL */
    uint64_t max_object_bytes;
    int64_t now;
};

/* A final response head for o (not a 304 to a revalidation): decides
 * whether o is stored when complete and who may share it; waiters that may
 * not are sent SUB_RETRY, to fetch their own in parallel. An uncacheable
 * response leaves the in-flight table and leaves a hit-for-miss marker. */
void policy_on_response(const struct policy_fetch *pf, struct object *o,
                        const struct http1_response *resp);
/* A 304 to a revalidation: waiters of another variant are sent SUB_RETRY;
 * o (to be refreshed from pf->stale) is stored as the stale one was. */
void policy_on_not_modified(const struct policy_fetch *pf, struct object *o,
                            const struct http1_response *resp);
/* o is complete (or refreshed): invalidates the key after a successful
 * unsafe request, stores o if it was judged storable. */
void policy_on_complete(const struct policy_fetch *pf, struct object *o);

/* Whether a client's GET is answered 304 from o's head (its If-None-Match
 * or If-Modified-Since says its copy is current, freshness.c): only for a
 * 200 that a cache may reuse. */
int policy_not_modified(const struct object *o, const struct http1_request *req);

#endif
