/* One HTTP exchange at a time with one peer, through libevent's HTTP client:
 * how the manager asks other processes without waiting on them (an
 * instance's /healthz while it starts, in pool.c; the balancer's admin API,
 * in forward/fwd_balancer.c). The reply comes to a callback from the loop. */
#ifndef PP_EXCHANGE_H
#define PP_EXCHANGE_H

#include <stdint.h>

struct event_base;
struct evhttp_connection;

/* status: the reply's, or -1 when none came (refused, reset, timed out);
 * body: NUL-terminated, NULL when there was none or it was too large. */
typedef void (*exchange_cb)(void *ctx, int status, const char *body);

/* Zeroed before first use; the connection is kept between exchanges
 * (libevent reconnects when the peer closed it). */
struct exchange {
    struct evhttp_connection *conn;
    int busy;    /* a request is in flight */
    int retired; /* conn is dropped before the next exchange */
    exchange_cb done;
    void *ctx;
};

struct exchange_request {
    const char *method; /* "GET" or "PUT" */
    const char *path;
    const char *host;  /* the Host header */
    const char *body;  /* JSON, or NULL */
    const char *token; /* Authorization: Bearer, or NULL */
    int timeout_ms;
};

/* Sends rq to host:port; done(ctx, ...) later, from the loop. -1 when it
 * could not be sent (out of memory; done is not called then). */
int exchange_start(struct exchange *x, struct event_base *base, const char *host, uint16_t port,
                   const struct exchange_request *rq, exchange_cb done, void *ctx);
/* Done with this peer (it was restarted, or it goes): the connection is
 * dropped before the next exchange. Safe inside the exchange's own reply,
 * where freeing the connection is not; a reply still in flight may come. */
void exchange_retire(struct exchange *x);
/* Drops the connection and whatever is in flight on it, uncalled. Never
 * inside the exchange's own reply. */
void exchange_free(struct exchange *x);

#endif
