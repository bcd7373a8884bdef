/* The cache policy: how a request is served (policy_lookup) and what
 * becomes of a fetched response (policy_on_response, _on_not_modified,
 * _on_complete). It reads and writes objects' cache state and the
 * hit-for-miss markers; it sends nothing and fetches nothing. policy_lookup
 * is on every hit: it allocates nothing and parses the request's
 * Cache-Control once. */
#include "policy.h"

#include <stddef.h>

#include "cache.h"
#include "freshness.h"
#include "object_internal.h"
#include "vary.h"

/* How long a "do not collapse" marker lasts for an uncacheable response
 * (Varnish's builtin hit-for-miss: 120 s). */
#define HIT_FOR_MISS_S 120

/* ---- serving a request ---- */

/* Whether the request may be answered from the cache at all: GET or HEAD,
 * no Authorization (RFC 9111 §3.5: a shared cache does not reuse those by
 * default), a Host that leads where the request went, and no no-store (its
 * Cache-Control, parsed only for requests that pass the rest, goes to cc). */
static int request_cacheable(const struct policy_request *r, struct cache_control *cc)
{
    const struct http1_request *q = r->req;
    if (r->host_mismatch || !(http1_str_eq(q->method, "GET") || http1_str_eq(q->method, "HEAD")) ||
        http1_header_find(q->headers, q->nheaders, "Authorization"))
        return 0;
    cache_control_parse(q->headers, q->nheaders, 1, cc);
    return !cc->no_store;
}

/* Whether a new request may wait on this fetch rather than start its own:
 * before its head is known (policy_on_response then decides who shares
 * it), or while a stored, Vary-free body streams in. A Vary'd response
 * already on its way has passed the point where a waiter of another
 * variant could be sent off. */
static int may_join(const struct object *inf)
{
    return inf && inf->collapsible &&
           (inf->state == OBJECT_PENDING ||
            (inf->state == OBJECT_STREAMING && inf->retain && inf->vary.len == 0));
}

static void decide(struct policy_decision *d, enum policy_action action, struct object *o)
{
    d->action = action;
    d->obj = o;
}

/* The stored variant for r, or NULL. A live hit-for-miss marker is no
 * answer but says the fetch must not collapse; an expired one is dropped. */
static struct object *lookup_stored(struct cache *cache, int64_t now,
                                    const struct policy_request *r, struct policy_decision *d)
{
    const struct http1_request *q = r->req;
    struct object *o = cache_lookup(cache, r->key, r->key_len, q->headers, q->nheaders);
    if (!o || !o->hit_for_miss)
        return o;
    if (o->marker_expires > now)
        d->no_collapse = 1;
    else
        cache_remove_value(cache, r->key, r->key_len, o);
    return NULL;
}

void policy_lookup(struct cache *cache, struct object_table *inflight, int64_t now,
                   const struct policy_request *r, struct policy_decision *d)
{
    const struct http1_request *q = r->req;
    struct cache_control cc;
    *d = (struct policy_decision){.action = POLICY_PASS};
    if (!cache || !request_cacheable(r, &cc))
        return;

    int is_get = http1_str_eq(q->method, "GET");
    struct object *o = lookup_stored(cache, now, r, d);
    /* A request with a body never shares a fetch: the body is its own, and
     * another client's bytes must never reach its origin connection
     * (request smuggling). HEAD misses are neither stored nor shared. */
    int collapse = is_get && !r->no_collapse && !d->no_collapse && q->body == HTTP1_BODY_NONE;
    d->store_candidate = is_get;
    d->collapsible = collapse;

    if (o) {
        if (freshness_usable(&o->fresh, &cc, now)) {
            decide(d, POLICY_HIT, o);
            return;
        }
        if (cc.only_if_cached) {
            d->why = "only-if-cached and the stored response is stale";
            decide(d, POLICY_REFUSE, NULL);
            return;
        }
        if (is_get && (object_header(o, "ETag") || object_header(o, "Last-Modified"))) {
            /* Join a revalidation already under way, or start one. */
            struct object *inf = object_table_find(inflight, r->key, r->key_len);
            if (collapse && inf && inf->collapsible && inf->state == OBJECT_PENDING)
                decide(d, POLICY_COLLAPSE, inf);
            else
                decide(d, POLICY_REVALIDATE, o);
            return;
        }
        /* Stale and nothing to validate with: a plain miss. */
    } else if (cc.only_if_cached) {
        d->why = "only-if-cached and nothing is stored";
        decide(d, POLICY_REFUSE, NULL);
        return;
    }
    if (collapse) {
        struct object *inf = object_table_find(inflight, r->key, r->key_len);
        if (may_join(inf)) {
            decide(d, POLICY_COLLAPSE, inf);
            return;
        }
    }
    decide(d, POLICY_MISS, NULL);
}

/* ---- a fetched response ---- */

/* Whether the response may be stored: RFC 9111 §3 (freshness_storable),
 * and proxyd's own rules on top. */
static int response_storable(const struct policy_fetch *pf, const struct http1_response *resp)
{
    const struct http1_request *q = pf->req;
    if (!pf->store_candidate || !pf->cache ||
        !freshness_storable(q->method, q->headers, q->nheaders, resp->status, resp->headers,
                            resp->nheaders, NULL))
        return 0;
    /* Responses that set cookies are personal: never stored, never shared
     * (Varnish's builtin VCL makes them hit-for-miss too). */
    if (http1_header_find(resp->headers, resp->nheaders, "Set-Cookie"))
        return 0;
    return !(resp->body == HTTP1_BODY_LENGTH && resp->content_length > pf->max_object_bytes);
}

/* Sends SUB_RETRY to every waiter but the owner that may not share this
 * response: all of them when it is not storable (Squid GHSA-96r9-hr2x-h9g7
 * served private responses to collapsed clients), those of another Vary
 * variant otherwise. */
static void release_unshareable(struct object *o, int storable, struct http1_str vary,
                                const struct http1_request *req)
{
    struct subscriber *s, *next;
    for (s = TAILQ_FIRST(&o->subs); s; s = next) {
        next = TAILQ_NEXT(s, link);
        if (s == o->owner)
            continue;
        if (!storable || (vary.len && !vary_requests_match(vary, req->headers, req->nheaders,
                                                           s->req_h, s->req_n)))
            object_send_retry(s);
    }
}

/* Hands o to the cache under its key and the request it was fetched for;
 * the cache takes a reference of its own, or none when it refuses. */
static void cache_put(const struct policy_fetch *pf, struct object *o, const struct http1_str *vary)
{
    object_ref(o);
    if (cache_insert(pf->cache, o->key, o->key_len, vary, pf->req->headers, pf->req->nheaders, o,
                     object_size(o)) == 0)
        o->in_cache = 1;
    else
        object_unref(o);
}

/* Later requests for the key skip collapsing for a while, so an uncacheable
 * URL does not serialize its requests behind one another. */
static void mark_hit_for_miss(const struct policy_fetch *pf, const struct object *o)
{
    struct object *m = object_new(o->key, o->key_len);
    if (!m)
        return;
    m->hit_for_miss = 1;
    m->state = OBJECT_COMPLETE;
    m->marker_expires = pf->now + HIT_FOR_MISS_S;
    cache_put(pf, m, NULL);
    object_unref(m); /* the cache holds it now, if it took it */
}

void policy_on_response(const struct policy_fetch *pf, struct object *o,
                        const struct http1_response *resp)
{
    int storable = response_storable(pf, resp);
    if (pf->stale && !storable && pf->cache)
        cache_remove_value(pf->cache, o->key, o->key_len, pf->stale);
    o->cacheable = storable;
    o->retain = storable;
    if (!o->collapsible)
        return;
    /* Who may share it: with an uncacheable response, only the request that
     * asked for it; with Vary, only requests of the same variant. The others
     * fetch on their own, in parallel (never serialized). */
    const struct http1_header *vh = http1_header_find(resp->headers, resp->nheaders, "Vary");
    release_unshareable(o, storable, vh ? vh->value : (struct http1_str){NULL, 0}, pf->req);
    if (!storable) {
        o->collapsible = 0;
        object_table_remove(o);
        if (pf->store_candidate && pf->cache)
            mark_hit_for_miss(pf, o);
    }
}

void policy_on_not_modified(const struct policy_fetch *pf, struct object *o,
                            const struct http1_response *resp)
{
    /* Requests that joined this revalidation share its answer only when
     * they are of the revalidated variant. */
    if (o->collapsible) {
        const struct http1_header *vh = http1_header_find(resp->headers, resp->nheaders, "Vary");
        release_unshareable(o, pf->stale->cacheable, vh ? vh->value : pf->stale->vary, pf->req);
    }
    object_table_remove(o);
    o->cacheable = pf->stale->cacheable;
}

void policy_on_complete(const struct policy_fetch *pf, struct object *o)
{
    if (!pf->cache)
        return;
    /* RFC 9111 §4.4: a successful unsafe request invalidates the URL. */
    if (pf->invalidates && o->status < 400)
        cache_remove_key(pf->cache, o->key, o->key_len);
    if (o->cacheable && !o->in_cache)
        cache_put(pf, o, o->vary.len ? &o->vary : NULL);
}

int policy_not_modified(const struct object *o, const struct http1_request *req)
{
    return o->status == 200 && o->cacheable && http1_str_eq(req->method, "GET") &&
           freshness_not_modified(req->headers, req->nheaders, o->headers, o->nheaders);
}
