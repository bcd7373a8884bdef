/* Connections to origin servers: name resolution (libevent's evdns, numeric
 * hosts without a lookup), new connections with a connect timeout, and a pool
 * of idle persistent connections per origin address, reused before opening
 * new ones. A fetch borrows a connection and gives it back when the exchange
 * ended cleanly, or closes it. */
#ifndef PP_ORIGIN_H
#define PP_ORIGIN_H

#include <sys/queue.h>
#include "addr.h"

struct event_base;
struct evdns_base;
struct bufferevent;
struct evdns_getaddrinfo_request;

/* Idle origin connections kept per worker (nginx keepalive is per upstream
 * and counts cached connections; 1024 covers 1000 concurrent clients of one
 * origin), and how long one may sit idle (nginx keepalive_timeout 60 s). */
#define ORIGIN_MAX_IDLE 1024
#define ORIGIN_IDLE_TIMEOUT_MS 60000

struct origin_conn {
    struct bufferevent *bev;
    struct addr addr;
    int reused; /* taken from the idle pool: may have been closed meanwhile */
    TAILQ_ENTRY(origin_conn) link;
    struct origin_pool *pool;
};

struct origin_pool;
struct origin_pool *origin_pool_new(struct event_base *base, struct evdns_base *dns);
void origin_pool_free(struct origin_pool *p);
size_t origin_pool_idle(const struct origin_pool *p);

/* Resolution: cb(ok, addr, ctx) with the first address. Numeric hosts are
 * answered at once: then the call returns 1 with *out set and no callback.
 * Otherwise it returns 0 and *req (cancellable) until the callback, or -1. */
typedef void (*origin_resolve_cb)(int ok, const struct addr *a, void *ctx);
int origin_resolve(struct origin_pool *p, const char *host, int port, struct addr *out,
                   origin_resolve_cb cb, void *ctx, struct evdns_getaddrinfo_request **req);
void origin_resolve_cancel(struct evdns_getaddrinfo_request *req);

/* Whether the name host has want's address (port ignored) among all the
 * addresses it resolves to: cb(match, ctx), from the event loop, or before
 * this returns when the answer is at hand (hosts file, an error). Returns 0
 * with *req cancellable until the callback (NULL once it has run), or -1. */
typedef void (*origin_verify_cb)(int match, void *ctx);
int origin_verify_host(struct origin_pool *p, const char *host, const struct addr *want,
                       origin_verify_cb cb, void *ctx, struct evdns_getaddrinfo_request **req);

/* An idle connection to a, or NULL. */
struct origin_conn *origin_conn_take_idle(struct origin_pool *p, const struct addr *a);
/* A new connection being connected (BEV_EVENT_CONNECTED arrives on the
 * caller's event callback), or NULL with err filled. */
struct origin_conn *origin_conn_open(struct origin_pool *p, const struct addr *a, char *err,
                                     size_t errlen);
/* Gives the connection back: kept idle when reusable and the pool has room,
 * closed otherwise. */
void origin_conn_release(struct origin_conn *c, int reusable);

#endif
