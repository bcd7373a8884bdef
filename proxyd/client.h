/* A client connection and the request it is being served: reading and
 * parsing request heads (persistent and pipelined, one at a time, in order),
 * choosing hit, collapsed miss, new fetch or tunnel, and writing the response
 * as the object streams in. request.c and respond.c hold the parts that turn
 * a request into an origin request and an object into a response. */
#ifndef PP_CLIENT_H
#define PP_CLIENT_H

#include <stdint.h>
#include <sys/queue.h>
#include "addr.h"
#include "config.h"
#include "http1.h"
#include "object.h"

struct worker;
struct bufferevent;
struct event;
struct evdns_getaddrinfo_request;

#define CLIENT_MAGIC 0xc11e47u

enum client_state {
    CLIENT_READ_HEAD = 0, /* waiting for (the rest of) a request head */
    CLIENT_SERVING,       /* a request is being answered */
    CLIENT_TUNNEL,        /* CONNECT: tunnel.c owns the connection */
    CLIENT_CLOSING,       /* flushing the last bytes, then close */
    CLIENT_LINGERING,     /* written and shut down; discarding input until the client closes */
};

enum out_framing { OUT_LENGTH = 0, OUT_CHUNKED, OUT_CLOSE, OUT_NONE };

enum host_check {
    HOST_CHECK_NONE = 0, /* nothing to check: forward, reverse, or routed intercept */
    HOST_CHECK_RESOLVE,  /* a name: client.c resolves it, then MATCH or MISMATCH */
    HOST_CHECK_MATCH,    /* the authority leads to the original destination */
    HOST_CHECK_MISMATCH, /* it does not: served from there, but never cached or shared */
};

/* One request/response exchange. */
struct txn {
    char *head; /* owned copy of the request head; req points into it */
    size_t head_len;
    struct http1_request req;
    char host[256]; /* origin host as named by the request (lower case) */
    int port;
    struct http1_str path; /* origin-form target, into head */
    char *key;             /* cache key: http://host[:port]/path */
    size_t key_len;
    int is_get, is_head;
    int64_t start_us;
    struct subscriber sub;
    const char *log_tag; /* Squid's result code: TCP_HIT, TCP_MISS, ... */
    int hit;             /* X-Cache: HIT */
    int status;          /* sent to the client */
    uint64_t bytes_out;  /* head and body bytes queued to the client */
    int head_sent;
    int body_wanted; /* 0 for HEAD and 304 */
    enum out_framing framing;
    int no_collapse; /* fetch alone (after SUB_RETRY or a marker) */
    int done;
    /* Request body, streamed to the fetch. */
    enum http1_body req_body;
    uint64_t req_remaining;
    struct http1_chunked req_chunked;
    int req_body_done;
    int req_body_paused;
    char hier[300];       /* Squid's hierarchy field: HIER_DIRECT/addr or HIER_NONE/- */
    int64_t max_forwards; /* the request's Max-Forwards, checked; -1 without one */
    /* Intercept with an original destination: does Host (or the URL) lead
     * there? See request.c's intercept_check_authority. */
    enum host_check host_check;
    struct evdns_getaddrinfo_request *host_check_req; /* HOST_CHECK_RESOLVE in flight */
    int host_check_sync; /* inside the resolver call: its callback must not dispatch */
};

struct client {
    unsigned magic;
    TAILQ_ENTRY(client) link;
    struct worker *w;
    const struct listen_spec *ls;
    struct bufferevent *bev;
    struct addr peer;
    struct addr local;
    struct addr orig_dst; /* intercept: where the client meant to go */
    int have_orig_dst;
    enum client_state state;
    int keep_alive; /* serve another request after this one */
    int head_timer_armed;
    struct event *timer;          /* idle and header deadlines */
    struct event *next_ev;        /* deferred: parse the next pipelined request */
    struct event *write_retry_ev; /* made at first use: see client_event_cb */
    struct txn txn;
    int in_txn;
    uint64_t requests;
    void *tunnel;
    int linger;            /* input may still be on its way: close by lingering */
    uint64_t linger_bytes; /* discarded while lingering */
};

/* Accepted connection: takes ownership of fd. */
void client_accept(struct worker *w, const struct listen_spec *ls, int fd,
                   const struct sockaddr *peer, int peer_len);
/* Ends the connection now (worker shutdown, tunnel end). */
void client_close(struct client *c);
/* A CONNECT tunnel is over: log it and close (after flushing what is
 * queued to the client when flush is set). */
void client_tunnel_done(struct client *c, int flush);
/* Stop after the current request; close at once when idle. */
void client_drain(struct client *c);

/* request.c: works out the origin and cache key of c->txn from the target
 * and the listener's mode; 0, or -1 with *status and *reason for the error
 * response. */
int request_route(struct client *c, int *status, const char **reason);
/* request.c: the request head to send to the origin. strip_conditionals for
 * cache fills (the cache answers the client's conditionals itself);
 * validators from a stale object for a revalidation. */
int request_build(struct client *c, struct evbuffer *out, int strip_conditionals,
                  const struct object *stale);
/* request.c: Via names this proxy already: a forwarding loop. */
int request_is_loop(const struct client *c);

/* respond.c: writes the head of a response for the current txn from an
 * object (status, stored fields, framing, Age, Via, X-Cache, Connection). */
void respond_object_head(struct client *c, const struct object *o, int status);
/* respond.c: a complete locally generated response with a one-line reason;
 * close: the connection ends after it. */
void respond_error(struct client *c, int status, const char *reason, int close);
/* respond.c: any complete local response with the given extra header lines
 * (each ending in CRLF) and body. */
void respond_local(struct client *c, int status, const char *extra_headers, const char *body,
                   size_t body_len);

#endif
