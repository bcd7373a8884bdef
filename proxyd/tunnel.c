/* CONNECT tunnels. The client's bufferevent and the origin's are joined:
 * each side's input moves to the other's output; past a high watermark the
 * reading side pauses until the other drains (le-proxy). EOF on one side is
 * passed on as a shutdown of the other's write half once its output is out;
 * the tunnel ends when both directions are closed, or on error or timeout. */
#include "tunnel.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>

#include "acl.h"
#include "client.h"
#include "log.h"
#include "origin.h"
#include "timeutil.h"
#include "worker.h"

#define TUNNEL_MAGIC 0x7a44e1u
/* Relay watermarks: at most this much waits in one direction. */
#define TUNNEL_HIGH_BYTES (256 * 1024)

struct tunnel {
    unsigned magic;
    struct client *c;
    struct bufferevent *up; /* to the origin */
    struct evdns_getaddrinfo_request *dns_req;
    int client_eof, up_eof; /* that side sent EOF */
    int up_connected;
    /* One idle timer for the whole tunnel, reset by bytes in either
     * direction (HAProxy's "timeout tunnel"): a download the client never
     * answers is not idle. */
    struct event *idle_ev;
};

/* Ends the tunnel and the client connection (after what is queued to the
 * client has been written, when flush is set). */
static void tunnel_end(struct tunnel *t, int flush)
{
    client_tunnel_done(t->c, flush);
}

void tunnel_free(void *arg)
{
    struct tunnel *t = arg;
    if (!t)
        return;
    if (t->dns_req)
        origin_resolve_cancel(t->dns_req);
    if (t->up)
        bufferevent_free(t->up);
    if (t->idle_ev)
        event_free(t->idle_ev);
    t->c->tunnel = NULL;
    t->magic = 0;
    free(t);
}

static void tunnel_touch(struct tunnel *t)
{
    if (!t->idle_ev)
        return;
    uint64_t ms = t->c->w->cfg->client_timeout_ms;
    struct timeval tv = tv_from_ms(ms);
    evtimer_add(t->idle_ev, &tv);
}

/* Moves what one side read to the other; pauses the reader when the other
 * side's output is full. */
static void relay(struct tunnel *t, struct bufferevent *from, struct bufferevent *to)
{
    tunnel_touch(t);
    struct evbuffer *in = bufferevent_get_input(from);
    struct evbuffer *out = bufferevent_get_output(to);
    evbuffer_add_buffer(out, in);
    if (evbuffer_get_length(out) >= TUNNEL_HIGH_BYTES) {
        bufferevent_disable(from, EV_READ);
        bufferevent_setwatermark(to, EV_WRITE, TUNNEL_HIGH_BYTES / 2, 0);
    }
}

static void half_close(struct bufferevent *bev)
{
    shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void tunnel_check_done(struct tunnel *t)
{
    struct bufferevent *cb = t->c->bev;
    /* Pass an EOF on once everything before it has been written. */
    if (t->client_eof && evbuffer_get_length(bufferevent_get_output(t->up)) == 0)
        half_close(t->up);
    if (t->up_eof && evbuffer_get_length(bufferevent_get_output(cb)) == 0)
        half_close(cb);
    if (t->client_eof && t->up_eof && evbuffer_get_length(bufferevent_get_output(t->up)) == 0 &&
        evbuffer_get_length(bufferevent_get_output(cb)) == 0)
        tunnel_end(t, 0);
}

static void tunnel_idle_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tunnel *t = arg;
    (void)fd;
    (void)what;
    tunnel_end(t, 0); /* nothing moved either way for client_timeout */
}

static void client_side_read(struct bufferevent *bev, void *arg)
{
    struct tunnel *t = arg;
    if (t->up_connected)
        relay(t, bev, t->up);
}

static void up_side_read(struct bufferevent *bev, void *arg)
{
    struct tunnel *t = arg;
    relay(t, bev, t->c->bev);
}

/* The other side drained: resume the reader it held back. */
static void client_side_write(struct bufferevent *bev, void *arg)
{
    struct tunnel *t = arg;
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    if (!t->up_eof)
        bufferevent_enable(t->up, EV_READ);
    tunnel_check_done(t);
}

static void up_side_write(struct bufferevent *bev, void *arg)
{
    struct tunnel *t = arg;
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    if (!t->client_eof)
        bufferevent_enable(t->c->bev, EV_READ);
    tunnel_check_done(t);
}

static void side_event(struct tunnel *t, int is_client, short what)
{
    if (what & BEV_EVENT_EOF) {
        struct bufferevent *from = is_client ? t->c->bev : t->up;
        struct bufferevent *to = is_client ? t->up : t->c->bev;
        relay(t, from, to);
        bufferevent_disable(from, EV_READ);
        if (is_client)
            t->client_eof = 1;
        else
            t->up_eof = 1;
        tunnel_check_done(t);
        return;
    }
    tunnel_end(t, 0); /* error or idle timeout */
}

static void client_side_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    side_event(arg, 1, what);
}

static void up_side_event(struct bufferevent *bev, short what, void *arg)
{
    struct tunnel *t = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        struct worker *w = t->c->w;
        t->up_connected = 1;
        t->c->txn.status = 200;
        struct evbuffer *out = bufferevent_get_output(t->c->bev);
        evbuffer_add_printf(out,
                            "HTTP/1.1 200 Connection established\r\nVia: 1.1 %s (proxyd)\r\n\r\n",
                            w->cfg->name);
        (void)w;
        bufferevent_set_timeouts(t->up, NULL, NULL);
        bufferevent_set_timeouts(t->c->bev, NULL, NULL);
        t->idle_ev = evtimer_new(bufferevent_get_base(t->up), tunnel_idle_cb, t);
        tunnel_touch(t);
        bufferevent_enable(t->up, EV_READ | EV_WRITE);
        bufferevent_enable(t->c->bev, EV_READ | EV_WRITE);
        /* Bytes the client sent right after CONNECT (TLS ClientHello). */
        relay(t, t->c->bev, t->up);
        return;
    }
    if (!t->up_connected) {
        struct client *c = t->c;
        int timeout = (what & BEV_EVENT_TIMEOUT) != 0;
        log_warn("tunnel to %s:%d: %s", c->txn.host, c->txn.port,
                 timeout ? "connect timed out" : "connect failed");
        bufferevent_free(t->up);
        t->up = NULL;
        c->state = CLIENT_SERVING;
        respond_error(c, timeout ? 504 : 502,
                      timeout ? "the tunnel's destination did not answer in time"
                              : "the tunnel's destination refused or could not be reached",
                      1);
        tunnel_end(t, 1);
        return;
    }
    side_event(t, 0, what);
}

static void tunnel_connect(struct tunnel *t, const struct addr *a)
{
    struct client *c = t->c;
    const char *reason;
    if (!acl_check_dest_addr(c->w->cfg->acl, (const struct sockaddr *)&a->ss, &reason)) {
        respond_error(c, 403, reason, 1);
        tunnel_end(t, 1);
        return;
    }
    char err[128];
    struct origin_conn *oc = origin_conn_open(c->w->origins, a, err, sizeof(err));
    if (!oc) {
        respond_error(c, 502, err, 1);
        tunnel_end(t, 1);
        return;
    }
    /* The tunnel owns the bufferevent; the pool's wrapper is not needed. */
    t->up = oc->bev;
    oc->bev = NULL;
    origin_conn_release(oc, 0);
    struct timeval ct = tv_from_ms(c->w->cfg->connect_timeout_ms);
    bufferevent_set_timeouts(t->up, NULL, &ct);
    bufferevent_setcb(t->up, up_side_read, up_side_write, up_side_event, t);
    bufferevent_enable(t->up, EV_WRITE);
}

static void tunnel_resolved(int ok, const struct addr *a, void *arg)
{
    struct tunnel *t = arg;
    t->dns_req = NULL;
    if (!ok) {
        respond_error(t->c, 502, "the tunnel's destination did not resolve", 1);
        tunnel_end(t, 1);
        return;
    }
    tunnel_connect(t, a);
}

void tunnel_start(struct client *c)
{
    struct tunnel *t = calloc(1, sizeof(*t));
    if (!t) {
        respond_error(c, 500, "out of memory", 1);
        client_tunnel_done(c, 1);
        return;
    }
    t->magic = TUNNEL_MAGIC;
    t->c = c;
    c->tunnel = t;
    bufferevent_disable(c->bev, EV_READ);
    bufferevent_setcb(c->bev, client_side_read, client_side_write, client_side_event, t);
    bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    struct addr a;
    struct evdns_getaddrinfo_request *req = NULL;
    int rc = origin_resolve(c->w->origins, c->txn.host, c->txn.port, &a, tunnel_resolved, t, &req);
    if (rc == 1) {
        tunnel_connect(t, &a);
    } else if (rc < 0) {
        respond_error(c, 502, "the tunnel's destination did not resolve", 1);
        tunnel_end(t, 1);
    } else if (rc == 0 && req) {
        t->dns_req = req; /* still resolving (else it already called back) */
    }
}
