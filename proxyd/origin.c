/* Origin connections: resolve, connect, and keep idle persistent connections
 * for reuse. An idle connection that the origin closes, or that says
 * anything unasked, is dropped at once. */
#include "origin.h"
#include "timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

TAILQ_HEAD(origin_conn_list, origin_conn);

struct origin_pool {
    struct event_base *base;
    struct evdns_base *dns;
    struct origin_conn_list idle;
    size_t nidle;
};

struct resolve_ctx {
    origin_resolve_cb cb;
    void *ctx;
    int port;
};

struct origin_pool *origin_pool_new(struct event_base *base, struct evdns_base *dns)
{
    struct origin_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->base = base;
    p->dns = dns;
    TAILQ_INIT(&p->idle);
    return p;
}

static void origin_conn_free(struct origin_conn *c)
{
    if (c->bev)
        bufferevent_free(c->bev);
    free(c);
}

void origin_pool_free(struct origin_pool *p)
{
    if (!p)
        return;
    struct origin_conn *c;
    while ((c = TAILQ_FIRST(&p->idle))) {
        TAILQ_REMOVE(&p->idle, c, link);
        origin_conn_free(c);
    }
    free(p);
}

size_t origin_pool_idle(const struct origin_pool *p)
{
    return p->nidle;
}

static void resolve_done(int result, struct evutil_addrinfo *res, void *arg)
{
    struct resolve_ctx *rc = arg;
    struct addr a;
    int ok = 0;
    if (result == 0 && res) {
        if (addr_from_sockaddr(&a, res->ai_addr, (socklen_t)res->ai_addrlen) == 0) {
            addr_set_port(&a, rc->port);
            ok = 1;
        }
    }
    if (res)
        evutil_freeaddrinfo(res);
    /* A cancelled request still calls back (EVUTIL_EAI_CANCEL) and must not
     * reach its owner, which is gone. */
    if (result != EVUTIL_EAI_CANCEL)
        rc->cb(ok, ok ? &a : NULL, rc->ctx);
    free(rc);
}

int origin_resolve(struct origin_pool *p, const char *host, int port, struct addr *out,
                   origin_resolve_cb cb, void *ctx, struct evdns_getaddrinfo_request **req)
{
    *req = NULL;
    /* Literal addresses, with or without IPv6 brackets, need no lookup. */
    char lit[128];
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' && hl - 2 < sizeof(lit)) {
        memcpy(lit, host + 1, hl - 2);
        lit[hl - 2] = '\0';
    } else if (hl < sizeof(lit)) {
        memcpy(lit, host, hl + 1);
    } else {
        return -1;
    }
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    memset(&sin, 0, sizeof(sin));
    memset(&sin6, 0, sizeof(sin6));
    if (inet_pton(AF_INET, lit, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)port);
        addr_from_sockaddr(out, (struct sockaddr *)&sin, sizeof(sin));
        return 1;
    }
    if (inet_pton(AF_INET6, lit, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((uint16_t)port);
        addr_from_sockaddr(out, (struct sockaddr *)&sin6, sizeof(sin6));
        return 1;
    }
    if (strcasecmp(lit, "localhost") == 0) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)port);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr_from_sockaddr(out, (struct sockaddr *)&sin, sizeof(sin));
        return 1;
    }
    if (!p->dns)
        return -1;
    struct resolve_ctx *rc = malloc(sizeof(*rc));
    if (!rc)
        return -1;
    rc->cb = cb;
    rc->ctx = ctx;
    rc->port = port;
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
    /* The callback may run before this returns (hosts file, errors): then the
     * returned request is NULL and rc is already freed. */
    *req = evdns_getaddrinfo(p->dns, lit, NULL, &hints, resolve_done, rc);
    return 0;
}

void origin_resolve_cancel(struct evdns_getaddrinfo_request *req)
{
    if (req)
        evdns_getaddrinfo_cancel(req);
}

struct verify_ctx {
    origin_verify_cb cb;
    void *ctx;
    struct addr want;
};

static int same_host_address(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return 0;
    if (a->sa_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                      &((const struct sockaddr_in *)b)->sin_addr, sizeof(struct in_addr)) == 0;
    if (a->sa_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
    return 0;
}

static void verify_done(int result, struct evutil_addrinfo *res, void *arg)
{
    struct verify_ctx *vc = arg;
    int match = 0;
    for (struct evutil_addrinfo *ai = result == 0 ? res : NULL; ai && !match; ai = ai->ai_next)
        match = same_host_address(ai->ai_addr, (const struct sockaddr *)&vc->want.ss);
    if (res)
        evutil_freeaddrinfo(res);
    if (result != EVUTIL_EAI_CANCEL) /* a cancelled request's owner is gone */
        vc->cb(match, vc->ctx);
    free(vc);
}

int origin_verify_host(struct origin_pool *p, const char *host, const struct addr *want,
                       origin_verify_cb cb, void *ctx, struct evdns_getaddrinfo_request **req)
{
    *req = NULL;
    if (!p->dns)
        return -1;
    struct verify_ctx *vc = malloc(sizeof(*vc));
    if (!vc)
        return -1;
    vc->cb = cb;
    vc->ctx = ctx;
    vc->want = *want;
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = want->ss.ss_family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    *req = evdns_getaddrinfo(p->dns, host, NULL, &hints, verify_done, vc);
    return 0;
}

/* Events on an idle connection: the origin closed it, timed it out, or sent
 * bytes nobody asked for. Any of them ends it. */
static void idle_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct origin_conn *c = arg;
    (void)bev;
    (void)what;
    TAILQ_REMOVE(&c->pool->idle, c, link);
    c->pool->nidle--;
    origin_conn_free(c);
}

static void idle_read_cb(struct bufferevent *bev, void *arg)
{
    idle_event_cb(bev, BEV_EVENT_READING, arg);
}

struct origin_conn *origin_conn_take_idle(struct origin_pool *p, const struct addr *a)
{
    struct origin_conn *c;
    TAILQ_FOREACH(c, &p->idle, link)
    {
        if (addr_equal(&c->addr, a)) {
            TAILQ_REMOVE(&p->idle, c, link);
            p->nidle--;
            c->reused = 1;
            bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
            bufferevent_set_timeouts(c->bev, NULL, NULL);
            return c;
        }
    }
    return NULL;
}

struct origin_conn *origin_conn_open(struct origin_pool *p, const struct addr *a, char *err,
                                     size_t errlen)
{
    struct origin_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->pool = p;
    c->addr = *a;
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        free(c);
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->bev = bufferevent_socket_new(p->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        close(fd);
        snprintf(err, errlen, "bufferevent: out of memory");
        free(c);
        return NULL;
    }
    /* Read in large pieces: bodies arrive at memory speed on one host. */
    bufferevent_set_max_single_read(c->bev, 256 * 1024);
    bufferevent_set_max_single_write(c->bev, 256 * 1024);
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&a->ss, (int)a->len) < 0) {
        snprintf(err, errlen, "connect: %s", strerror(errno));
        origin_conn_free(c);
        return NULL;
    }
    return c;
}

void origin_conn_release(struct origin_conn *c, int reusable)
{
    struct origin_pool *p = c->pool;
    if (!reusable || p->nidle >= ORIGIN_MAX_IDLE ||
        evbuffer_get_length(bufferevent_get_input(c->bev)) > 0 ||
        evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
        origin_conn_free(c);
        return;
    }
    struct timeval idle = tv_from_ms(ORIGIN_IDLE_TIMEOUT_MS);
    bufferevent_setcb(c->bev, idle_read_cb, NULL, idle_event_cb, c);
    bufferevent_set_timeouts(c->bev, &idle, NULL);
    bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
    bufferevent_enable(c->bev, EV_READ);
    TAILQ_INSERT_HEAD(&p->idle, c, link);
    p->nidle++;
}
