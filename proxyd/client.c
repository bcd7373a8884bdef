/* Client connections: read a request head, decide how to serve it (cache
 * hit, join a fetch already in flight, start a fetch, tunnel), stream the
 * response as the object fills, then take the next request. Requests on one
 * connection are served one at a time in order (pipelining keeps its
 * order for free); input beyond the current request waits in the buffer,
 * bounded by the read watermark. */
#include "client.h"

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>

#include "accesslog.h"
#include "acl.h"
#include "fetch.h"
#include "histogram.h"
#include "log.h"
#include "origin.h"
#include "policy.h"
#include "timeutil.h"
#include "tunnel.h"
#include "worker.h"

/* Input held while a request is served (pipelined requests beyond it wait
 * here): enough for one maximal head. */
#define CLIENT_READ_HIGH_BYTES (64 * 1024)
/* Output backlog above which a client holds a pass-through fetch (bodies a
 * cache keeps are never held: their memory is bounded by the object limit). */
#define CLIENT_WRITE_HIGH_BYTES (1024 * 1024)
#define CLIENT_WRITE_LOW_BYTES (256 * 1024)

/* Lingering close (nginx's lingering_close on): after an answer that ends a
 * request we did not read to its end, closing with input unread or still on
 * its way makes the kernel send RST, and the client may lose the answer it
 * was sent. So: shut down writing, read and discard for at most
 * CLIENT_LINGER_READ_MS between reads (nginx lingering_timeout 5 s) and
 * CLIENT_LINGER_TOTAL_MS in all (lingering_time 30 s), and at most
 * CLIENT_LINGER_MAX_BYTES (a 1 MiB upload in flight; beyond that the client
 * is not listening), then close. */
#define CLIENT_LINGER_READ_MS 5000
#define CLIENT_LINGER_TOTAL_MS 30000
#define CLIENT_LINGER_MAX_BYTES (1024 * 1024)

/* Client connections open in all worker threads (--max-connections). */
static atomic_uint_fast64_t clients_open;

static void client_process_input(struct client *c);
static void client_dispatch(struct client *c);
static void client_dispatch_routed(struct client *c);
static void client_check_host(struct client *c);
static void client_sub_cb(struct subscriber *s, enum subscriber_event ev);
static void txn_end(struct client *c, int failed);

static void timer_arm(struct client *c, uint64_t ms)
{
    struct timeval tv = tv_from_ms(ms);
    evtimer_add(c->timer, &tv);
}

static void client_free(struct client *c)
{
    struct worker *w = c->w;
    if (c->in_txn) {
        origin_resolve_cancel(c->txn.host_check_req);
        struct object *o = c->txn.sub.obj;
        if (o) {
            object_ref(o);
            if (!c->txn.req_body_done)
                fetch_body_abandon(o);
            object_unsubscribe(&c->txn.sub);
            fetch_maybe_abandon(o);
            object_unref(o);
        }
        free(c->txn.head);
        free(c->txn.key);
    }
    if (c->tunnel)
        tunnel_free(c->tunnel);
    if (c->bev)
        bufferevent_free(c->bev);
    event_free(c->timer);
    event_free(c->next_ev);
    if (c->write_retry_ev)
        event_free(c->write_retry_ev);
    TAILQ_REMOVE(&w->clients, c, link);
    stats_sub(&w->stats.connections_open, 1);
    c->magic = 0;
    free(c);
    atomic_fetch_sub(&clients_open, 1);
    worker_client_gone(w);
}

void client_close(struct client *c)
{
    client_free(c);
}

static void client_linger_read_cb(struct bufferevent *bev, void *arg)
{
    struct client *c = arg;
    assert(c->magic == CLIENT_MAGIC);
    struct evbuffer *in = bufferevent_get_input(bev);
    c->linger_bytes += evbuffer_get_length(in);
    evbuffer_drain(in, evbuffer_get_length(in));
    if (c->linger_bytes > CLIENT_LINGER_MAX_BYTES)
        client_free(c);
}

static void client_linger_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct client *c = arg;
    assert(c->magic == CLIENT_MAGIC);
    (void)bev;
    (void)what;
    client_free(c); /* the client closed (EOF), went silent (timeout), or reset */
}

/* The answer is written: close now, or linger first when the client may
 * still be sending. */
static void client_finish_close(struct client *c)
{
    if (!c->linger || c->w->stopping) {
        client_free(c);
        return;
    }
    c->state = CLIENT_LINGERING;
    if (shutdown(bufferevent_getfd(c->bev), SHUT_WR) < 0) {
        client_free(c);
        return;
    }
    struct evbuffer *in = bufferevent_get_input(c->bev);
    c->linger_bytes = evbuffer_get_length(in);
    evbuffer_drain(in, evbuffer_get_length(in));
    bufferevent_setcb(c->bev, client_linger_read_cb, NULL, client_linger_event_cb, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
    struct timeval rt = tv_from_ms(CLIENT_LINGER_READ_MS);
    bufferevent_set_timeouts(c->bev, &rt, NULL);
    bufferevent_disable(c->bev, EV_WRITE);
    bufferevent_enable(c->bev, EV_READ);
    timer_arm(c, CLIENT_LINGER_TOTAL_MS);
}

/* Closes once everything queued has been written. */
static void client_close_after_flush(struct client *c)
{
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
        c->linger = 1; /* unread input: closing now would reset */
    c->state = CLIENT_CLOSING;
    c->keep_alive = 0;
    bufferevent_disable(c->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        event_active(c->next_ev, EV_TIMEOUT, 0); /* not from under a caller */
}

void client_drain(struct client *c)
{
    if (c->state == CLIENT_LINGERING) {
        client_free(c); /* its answer is out; stopping does not wait on it */
        return;
    }
    c->keep_alive = 0;
    if (c->state == CLIENT_READ_HEAD && !c->in_txn) {
        if (evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)
            client_close_after_flush(c);
    }
}

static void log_request(struct client *c)
{
    struct worker *w = c->w;
    struct txn *t = &c->txn;
    int64_t now = worker_now_us(w);
    int64_t elapsed_us = now - t->start_us;
    histogram_record(w->latency, elapsed_us > 0 ? (uint64_t)elapsed_us : 0);
    stats_count_status(&w->stats, t->status);
    if (!w->log)
        return;
    char peer[ADDR_STRLEN];
    addr_format_host(&c->peer, peer, sizeof(peer));
    const struct object *o = t->sub.obj;
    const struct http1_header *ct = o ? object_header(o, "Content-Type") : NULL;
    const char *url = t->key ? t->key : "-";
    size_t url_len = t->key ? t->key_len : 1;
    if (!t->key && t->req.target.len) {
        url = t->req.target.p;
        url_len = t->req.target.len;
    }
    accesslog_write(w->log, now, elapsed_us / 1000, peer, t->log_tag ? t->log_tag : "NONE",
                    t->status, t->bytes_out, t->req.method.p ? t->req.method.p : "-",
                    t->req.method.p ? t->req.method.len : 1, url, url_len,
                    t->hit || !t->hier[0] ? "HIER_NONE/-" : t->hier, ct ? ct->value.p : "-",
                    ct ? ct->value.len : 1);
}

/* A whole response is queued and no further request waits behind it: write
 * it now, from this pass of the loop, as nginx does, rather than wait for the
 * socket's write event. Going through the event costs two epoll_ctl calls
 * per request (the write interest added, then removed once the buffer is
 * empty) and an extra loop pass: 40% of proxyd's system calls on 16 KiB
 * hits. When everything went out, the write event the bufferevent added in
 * this pass is removed in this pass too (what its own write callback does
 * on an empty buffer), and libevent's changelist folds the two into no
 * system call. Whatever did not fit, or an error, is left to the
 * bufferevent as before. Pipelined requests keep their batching: with input
 * waiting, their responses go out together. */
static void client_write_now(struct client *c)
{
    struct bufferevent *bev = c->bev;
    struct evbuffer *out = bufferevent_get_output(bev);
    if (evbuffer_get_length(out) == 0 || evbuffer_get_length(bufferevent_get_input(bev)) > 0)
        return;
    if (!(bufferevent_get_enabled(bev) & EV_WRITE))
        return;
    /* A socket bufferevent freezes the front of its output so that only it
     * drains it; its own write callback thaws it the same way around its
     * write. Two calls: a head in memory and a body in a file segment are
     * two writes (writev, then sendfile). */
    evbuffer_unfreeze(out, 1);
    for (int i = 0; i < 2 && evbuffer_get_length(out) > 0; i++)
        if (evbuffer_write(out, bufferevent_getfd(bev)) <= 0)
            break;
    evbuffer_freeze(out, 1);
    if (evbuffer_get_length(out) == 0)
        event_del(&bev->ev_write);
}

/* The current request is over (its response is queued, or failed). */
static void txn_end(struct client *c, int failed)
{
    struct txn *t = &c->txn;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (t->done)
        return;
    t->done = 1;
    if (!failed && t->framing == OUT_CHUNKED) {
        evbuffer_add(out, "0\r\n\r\n", 5);
        t->bytes_out += 5;
    }
    if (failed || t->framing == OUT_CLOSE || !t->req_body_done)
        c->keep_alive = 0;
    if (!t->req_body_done)
        c->linger = 1; /* answered before the body was all read */
    log_request(c);
    struct object *o = t->sub.obj;
    if (o) {
        object_ref(o);
        if (!t->req_body_done)
            fetch_body_abandon(o);
        object_unsubscribe(&t->sub);
        fetch_maybe_abandon(o);
        object_unref(o);
    }
    stats_add(&c->w->stats.client_bytes_out, t->bytes_out);
    free(t->head);
    free(t->key);
    memset(t, 0, sizeof(*t));
    c->in_txn = 0;
    bufferevent_set_timeouts(c->bev, NULL, NULL);
    struct timeval wt = tv_from_ms(c->w->cfg->client_timeout_ms);
    bufferevent_set_timeouts(c->bev, NULL, &wt);
    client_write_now(c);
    if (!c->keep_alive || c->w->stopping) {
        client_close_after_flush(c);
        return;
    }
    c->state = CLIENT_READ_HEAD;
    c->head_timer_armed = 0;
    timer_arm(c, c->w->cfg->idle_timeout_ms);
    bufferevent_enable(c->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
        event_active(c->next_ev, EV_TIMEOUT, 0);
}

static void send_error_and_end(struct client *c, int status, const char *reason, int close)
{
    if (close)
        c->linger = 1; /* the rest of the request (body, next bytes) may be in flight */
    respond_error(c, status, reason, close);
    txn_end(c, 0);
}

/* Body bytes the subscriber has not had yet go out with this response's
 * framing. */
static void client_deliver(struct client *c)
{
    struct txn *t = &c->txn;
    struct object *o = t->sub.obj;
    if (!o || !t->head_sent || !t->body_wanted || t->framing == OUT_NONE)
        return;
    uint64_t pending = object_pending(&t->sub);
    if (pending == 0)
        return;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t n;
    if (t->framing == OUT_CHUNKED) {
        char hdr[24];
        int hl = snprintf(hdr, sizeof(hdr), "%llx\r\n", (unsigned long long)pending);
        evbuffer_add(out, hdr, (size_t)hl);
        n = object_deliver(&t->sub, out, (size_t)pending);
        evbuffer_add(out, "\r\n", 2);
        t->bytes_out += (size_t)hl + 2;
    } else {
        n = object_deliver(&t->sub, out, SIZE_MAX);
    }
    t->bytes_out += n;
    if (!object_retains(o) && evbuffer_get_length(out) > CLIENT_WRITE_HIGH_BYTES) {
        if (object_subscriber_count(o) > 1) {
            /* Others read this fetch too (collapsed onto a body that then
             * outgrew the cache): holding it for this client would stall
             * them all. A slow client costs only itself: its response ends
             * here, unframed, and the connection closes. */
            char peer[ADDR_STRLEN];
            addr_format(&c->peer, peer, sizeof(peer));
            log_info("client %s: too slow for a shared uncached body, closing", peer);
            txn_end(c, 1);
            return;
        }
        object_throttle(&t->sub, 1);
    }
}

/* The object's head is known: answer the client's conditionals from it, or
 * send it with the body to follow. */
static void client_on_headers(struct client *c)
{
    struct txn *t = &c->txn;
    struct object *o = t->sub.obj;
    int status = object_status(o);
    if (object_refreshed(o) && !t->hit) {
        t->hit = 1;
        t->log_tag = "TCP_REFRESH_UNMODIFIED";
    }
    if (policy_not_modified(o, &t->req)) {
        status = 304;
        stats_add(&c->w->stats.not_modified, 1);
        if (t->hit && !object_refreshed(o))
            t->log_tag = "TCP_IMS_HIT";
    }
    respond_object_head(c, o, status);
    client_deliver(c);
}

static void client_sub_cb(struct subscriber *s, enum subscriber_event ev)
{
    struct client *c = s->ctx;
    assert(c->magic == CLIENT_MAGIC);
    struct txn *t = &c->txn;
    switch (ev) {
    case SUB_HEADERS:
        client_on_headers(c);
        break;
    case SUB_DATA:
        client_deliver(c);
        break;
    case SUB_DONE:
        if (!t->head_sent)
            client_on_headers(c);
        client_deliver(c);
        if (c->in_txn) /* not already ended as too slow */
            txn_end(c, 0);
        break;
    case SUB_FAILED:
        if (!t->head_sent) {
            int st = object_fail_status(s->obj) ? object_fail_status(s->obj) : 502;
            send_error_and_end(c, st,
                               st == 504   ? "the origin server did not answer in time"
                               : st == 403 ? "the destination's address is denied by access rules"
                                           : "the origin server could not be reached or "
                                             "sent an invalid response",
                               0);
        } else {
            /* Headers are out: the only honest signal left is to close
             * without completing the framing. */
            txn_end(c, 1);
        }
        break;
    case SUB_RETRY:
        /* The response cannot be shared with us: fetch our own. */
        t->no_collapse = 1;
        t->hit = 0;
        client_dispatch(c);
        break;
    }
}

static void client_pump_body(struct client *c);

static void client_body_drain(void *arg)
{
    struct client *c = arg;
    if (c->magic != CLIENT_MAGIC || !c->in_txn)
        return;
    if (c->txn.req_body_paused) {
        c->txn.req_body_paused = 0;
        bufferevent_enable(c->bev, EV_READ);
        client_pump_body(c);
    }
}

/* Moves request body bytes from the client to the fetch, de-framed. */
static void client_pump_body(struct client *c)
{
    struct txn *t = &c->txn;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (!t->req_body_done && evbuffer_get_length(in) > 0) {
        /* Only the request that started the fetch feeds its body. */
        struct object *o = object_is_owner(&t->sub) ? t->sub.obj : NULL;
        if (o && fetch_body_backlog(o) > FETCH_BODY_HIGH_BYTES) {
            t->req_body_paused = 1;
            bufferevent_disable(c->bev, EV_READ);
            return;
        }
        struct evbuffer_iovec vec;
        if (evbuffer_peek(in, -1, NULL, &vec, 1) < 1)
            return;
        const char *p = vec.iov_base;
        if (t->req_body == HTTP1_BODY_LENGTH) {
            size_t n = vec.iov_len;
            if (n > t->req_remaining)
                n = (size_t)t->req_remaining;
            if (o)
                fetch_body_write(o, p, n);
            evbuffer_drain(in, n);
            stats_add(&c->w->stats.client_bytes_in, n);
            t->req_remaining -= n;
            if (t->req_remaining == 0)
                t->req_body_done = 1;
        } else {
            size_t off = 0;
            while (off < vec.iov_len && !t->req_chunked.done) {
                size_t doff, dlen;
                char err[128];
                long used = http1_chunked_feed(&t->req_chunked, p + off, vec.iov_len - off, &doff,
                                               &dlen, err, sizeof(err));
                if (used < 0) {
                    stats_add(&c->w->stats.bad_requests, 1);
                    log_info("client: bad chunked request body: %s", err);
                    if (!t->head_sent) {
                        send_error_and_end(c, 400, err, 1);
                    } else {
                        txn_end(c, 1);
                    }
                    return;
                }
                if (dlen && o)
                    fetch_body_write(o, p + off + doff, dlen);
                off += (size_t)used;
                if (used == 0)
                    break;
            }
            evbuffer_drain(in, off);
            stats_add(&c->w->stats.client_bytes_in, off);
            if (t->req_chunked.done)
                t->req_body_done = 1;
        }
    }
    if (t->req_body_done) {
        if (object_is_owner(&t->sub))
            fetch_body_end(t->sub.obj);
        bufferevent_set_timeouts(c->bev, NULL, NULL);
        struct timeval wt = tv_from_ms(c->w->cfg->client_timeout_ms);
        bufferevent_set_timeouts(c->bev, NULL, &wt);
    }
}

/* Starts an origin fetch for the current request, shaped by the policy's
 * decision (stored or not, open to collapsing or not, conditional on a
 * stale object or not), and subscribes to it. */
static void client_start_fetch(struct client *c, const struct policy_decision *d)
{
    struct worker *w = c->w;
    struct txn *t = &c->txn;
    struct object *stale = d->action == POLICY_REVALIDATE ? d->obj : NULL;
    int fill = d->store_candidate;
    struct object *o = object_new(t->key, t->key_len);
    struct evbuffer *head = evbuffer_new();
    if (!o || !head) {
        object_unref(o);
        if (head)
            evbuffer_free(head);
        send_error_and_end(c, 500, "out of memory", 1);
        return;
    }
    if (d->collapsible)
        object_table_add(w->inflight, o);
    subscriber_init(&t->sub, client_sub_cb, c);
    t->sub.req_h = t->req.headers;
    t->sub.req_n = t->req.nheaders;
    object_subscribe_owner(o, &t->sub);
    object_unref(o); /* the subscription holds it */

    request_build(c, head, fill, stale);
    size_t head_len = evbuffer_get_length(head);
    struct fetch_params p = {
        .host = t->host,
        .port = t->port,
        .dst = c->have_orig_dst ? &c->orig_dst : NULL,
        .req_head = (const char *)evbuffer_pullup(head, -1),
        .req_head_len = head_len,
        .is_head = t->is_head,
        .cache_candidate = fill,
        /* A request whose Host does not lead where it went must not
         * touch the entries of the site it names. */
        .invalidates = t->host_check != HOST_CHECK_MISMATCH &&
                       !(t->is_get || t->is_head || http1_str_eq(t->req.method, "OPTIONS") ||
                         http1_str_eq(t->req.method, "TRACE")),
        .has_body = t->req_body != HTTP1_BODY_NONE,
        .body_chunked = t->req_body == HTTP1_BODY_CHUNKED,
        .stale = stale,
        .on_body_drain = client_body_drain,
        .body_ctx = c,
    };
    t->log_tag = stale ? "TCP_REFRESH_MODIFIED" : "TCP_MISS";
    stats_add(&w->stats.misses, 1);
    int rc = fetch_start(w, o, &p);
    evbuffer_free(head);
    if (rc < 0) {
        object_unsubscribe(&t->sub);
        send_error_and_end(c, 500, "could not start the origin request", 1);
        return;
    }
    if (t->req_body != HTTP1_BODY_NONE) {
        struct timeval rt = tv_from_ms(w->cfg->client_timeout_ms);
        bufferevent_set_timeouts(c->bev, &rt, &rt);
        client_pump_body(c);
    }
}

/* Serves a complete object now: hit. */
static void client_serve_complete(struct client *c, struct object *o)
{
    struct txn *t = &c->txn;
    subscriber_init(&t->sub, client_sub_cb, c);
    object_subscribe(o, &t->sub);
    client_on_headers(c);
    txn_end(c, 0);
}

/* Waits on a fetch in flight, woken as its head and each body chunk arrive
 * (collapsed forwarding; Squid logs TCP_CF_HIT). */
static void client_join(struct client *c, struct object *inf)
{
    struct txn *t = &c->txn;
    t->hit = 1;
    t->log_tag = "TCP_CF_HIT";
    stats_add(&c->w->stats.collapsed, 1);
    subscriber_init(&t->sub, client_sub_cb, c);
    t->sub.req_h = t->req.headers;
    t->sub.req_n = t->req.nheaders;
    object_subscribe(inf, &t->sub);
    if (object_head_known(inf))
        client_on_headers(c);
}

/* Asks the cache policy how to serve the request, and does it. */
static void client_serve(struct client *c)
{
    struct worker *w = c->w;
    struct txn *t = &c->txn;
    struct policy_request pr = {
        .req = &t->req,
        .key = t->key,
        .key_len = t->key_len,
        .host_mismatch = t->host_check == HOST_CHECK_MISMATCH,
        .no_collapse = t->no_collapse,
    };
    struct policy_decision d;
    policy_lookup(w->cache, w->inflight, worker_now_s(w), &pr, &d);
    if (d.no_collapse)
        t->no_collapse = 1;
    switch (d.action) {
    case POLICY_HIT:
        t->hit = 1;
        t->log_tag = "TCP_MEM_HIT";
        stats_add(&w->stats.hits, 1);
        client_serve_complete(c, d.obj);
        break;
    case POLICY_COLLAPSE:
        client_join(c, d.obj);
        break;
    case POLICY_REFUSE:
        send_error_and_end(c, 504, d.why, 0);
        break;
    case POLICY_MISS:
    case POLICY_REVALIDATE:
    case POLICY_PASS:
        client_start_fetch(c, &d);
        break;
    }
}

/* Allow lines for OPTIONS and the 405 that refuses TRACE. */
#define CLIENT_ALLOW "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, CONNECT\r\n"
#define CLIENT_ALLOW_TRACE "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, CONNECT\r\n"

static void client_answer_locally(struct client *c)
{
    struct txn *t = &c->txn;
    if (http1_str_eq(t->req.method, "OPTIONS")) {
        respond_local(c, 200, c->w->cfg->allow_trace ? CLIENT_ALLOW_TRACE : CLIENT_ALLOW, "", 0);
    } else { /* TRACE: the request as received, as RFC 9110 §9.3.8 says */
        respond_local(c, 200, "Content-Type: message/http\r\n", t->head, t->head_len);
    }
    t->log_tag = "TCP_MISS";
    txn_end(c, 0);
}

static void client_deny(struct client *c, const char *reason)
{
    stats_add(&c->w->stats.denied, 1);
    c->txn.log_tag = "TCP_DENIED";
    /* Close when what follows is not a next request: an unread body, or the
     * bytes a client sends for the tunnel right after CONNECT (TLS). */
    send_error_and_end(c, 403, reason,
                       c->txn.req_body != HTTP1_BODY_NONE ||
                           http1_str_eq(c->txn.req.method, "CONNECT"));
}

static void client_dispatch(struct client *c)
{
    struct worker *w = c->w;
    struct txn *t = &c->txn;
    struct http1_request *r = &t->req;
    const char *reason = NULL;
    int status;

    t->is_get = http1_str_eq(r->method, "GET");
    t->is_head = http1_str_eq(r->method, "HEAD");
    t->body_wanted = !t->is_head;
    if (!acl_check_client(w->cfg->acl, (struct sockaddr *)&c->peer.ss, &reason)) {
        client_deny(c, reason);
        return;
    }
    if (http1_str_eq(r->method, "TRACE") && !w->cfg->allow_trace) {
        /* TRACE echoes the request, Cookie and Authorization included, to
         * whatever sent it (cross-site tracing): neither here nor at the
         * origin unless asked for (nginx answers 405, Squid's docs advise
         * denying it). A TRACE has no body to skip, so a body closes. */
        char body[160];
        int n = snprintf(body, sizeof(body),
                         "405 %s: TRACE is refused by this proxy (proxyd --allow-trace)\n",
                         http1_reason(405));
        if (r->body != HTTP1_BODY_NONE)
            c->keep_alive = 0;
        t->log_tag = "TCP_DENIED";
        respond_local(c, 405,
                      CLIENT_ALLOW "Content-Type: text/plain; charset=utf-8\r\n"
                                   "Cache-Control: no-store\r\n",
                      body, (size_t)n);
        txn_end(c, 0);
        return;
    }
    if (http1_str_eq(r->method, "CONNECT")) {
        if (c->ls->mode != LISTEN_FORWARD) {
            send_error_and_end(c, 405, "CONNECT is only served on forward-proxy ports", 1);
            return;
        }
        struct http1_str host;
        if (http1_split_authority(r->target, -1, &host, &t->port) < 0 || t->port <= 0 ||
            host.len >= sizeof(t->host)) {
            send_error_and_end(c, 400, "CONNECT needs host:port", 1);
            return;
        }
        memcpy(t->host, host.p, host.len);
        t->host[host.len] = '\0';
        if (!acl_check_dest(w->cfg->acl, t->host, host.len, t->port, 1, &reason)) {
            client_deny(c, reason);
            return;
        }
        t->log_tag = "TCP_TUNNEL";
        snprintf(t->hier, sizeof(t->hier), "HIER_DIRECT/%s", t->host);
        c->state = CLIENT_TUNNEL;
        stats_add(&w->stats.tunnels_total, 1);
        tunnel_start(c);
        return;
    }
    if (request_route(c, &status, &reason) < 0) {
        send_error_and_end(c, status, reason, 1);
        return;
    }
    if (request_is_loop(c)) {
        send_error_and_end(c, 508, "forwarding loop: the request already passed this proxy", 1);
        return;
    }
    if (!acl_check_dest(w->cfg->acl, t->host, strlen(t->host), t->port, 0, &reason) ||
        (c->have_orig_dst &&
         !acl_check_dest_addr(w->cfg->acl, (struct sockaddr *)&c->orig_dst.ss, &reason))) {
        client_deny(c, reason);
        return;
    }
    if (t->host_check == HOST_CHECK_RESOLVE) {
        client_check_host(c); /* dispatches when DNS has answered */
        return;
    }
    client_dispatch_routed(c);
}

/* Intercepted, Host a name: does it resolve to the original destination?
 * (request.c's intercept_check_authority says why it matters.) */
static void client_host_checked(int match, void *arg)
{
    struct client *c = arg;
    assert(c->magic == CLIENT_MAGIC);
    struct txn *t = &c->txn;
    t->host_check_req = NULL;
    t->host_check = match ? HOST_CHECK_MATCH : HOST_CHECK_MISMATCH;
    if (!t->host_check_sync)
        client_dispatch_routed(c);
}

static void client_check_host(struct client *c)
{
    struct txn *t = &c->txn;
    t->host_check_sync = 1;
    if (origin_verify_host(c->w->origins, t->host, &c->orig_dst, client_host_checked, c,
                           &t->host_check_req) < 0)
        t->host_check = HOST_CHECK_MISMATCH; /* cannot tell: do not trust it */
    t->host_check_sync = 0;
    if (t->host_check != HOST_CHECK_RESOLVE)
        client_dispatch_routed(c); /* answered at once (hosts file, error) */
}

/* A routed request whose origin and key are settled: answer it. */
static void client_dispatch_routed(struct client *c)
{
    struct txn *t = &c->txn;
    struct http1_request *r = &t->req;
    if (t->host_check == HOST_CHECK_MISMATCH) {
        char peer[ADDR_STRLEN], dst[ADDR_STRLEN];
        addr_format(&c->peer, peer, sizeof(peer));
        addr_format(&c->orig_dst, dst, sizeof(dst));
        log_info("client %s: Host %s does not lead to the original destination %s: "
                 "served from there, neither cached nor shared",
                 peer, t->host, dst);
    }
    if ((http1_str_eq(r->method, "OPTIONS") || http1_str_eq(r->method, "TRACE")) &&
        t->max_forwards == 0) {
        client_answer_locally(c);
        return;
    }
    if (r->expect_continue && r->body != HTTP1_BODY_NONE) {
        /* We will take the body: say so now rather than make the client wait
         * for the origin's interim answer. */
        evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
    }
    client_serve(c);
}

/* Parses the next request head, if it is all here, and serves it. */
static void client_process_input(struct client *c)
{
    struct worker *w = c->w;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    if (c->state != CLIENT_READ_HEAD || c->in_txn)
        return;
    size_t len = evbuffer_get_length(in);
    if (len == 0)
        return;
    if (!c->head_timer_armed) {
        /* The whole head must arrive within header_timeout of its first
         * byte, however it trickles (slowloris). */
        c->head_timer_armed = 1;
        timer_arm(c, w->cfg->header_timeout_ms);
    }
    struct http1_limits lim;
    http1_limits_default(&lim);
    /* One byte past the limit, so the parser can tell a head that is too
     * large (431) from one still arriving. */
    size_t look = len <= lim.max_head_bytes ? len : lim.max_head_bytes + 1;
    const char *buf = (const char *)evbuffer_pullup(in, (ssize_t)look);
    struct txn *t = &c->txn;
    char err[160];
    memset(t, 0, sizeof(*t));
    int n = http1_parse_request(buf, look, &lim, &t->req, err, sizeof(err));
    if (n == HTTP1_INCOMPLETE)
        return;
    c->in_txn = 1;
    c->state = CLIENT_SERVING;
    c->requests++;
    t->start_us = worker_now_us(w);
    evtimer_del(c->timer);
    stats_add(&w->stats.requests, 1);
    if (n < 0) {
        int st = t->req.error_status ? t->req.error_status : 400;
        memset(&t->req, 0, sizeof(t->req));
        t->req_body_done = 1;
        stats_add(&w->stats.bad_requests, 1);
        char peer[ADDR_STRLEN];
        addr_format(&c->peer, peer, sizeof(peer));
        log_info("client %s: rejected request: %s", peer, err);
        t->log_tag = "NONE";
        /* Never try to find the next message after a malformed one
         * (Varnish VSV00015): answer and close. */
        send_error_and_end(c, st, err, 1);
        return;
    }
    t->head = malloc((size_t)n);
    if (!t->head) {
        t->req_body_done = 1;
        send_error_and_end(c, 500, "out of memory", 1);
        return;
    }
    memcpy(t->head, buf, (size_t)n);
    http1_request_rebase(&t->req, buf, t->head); /* before the drain frees buf */
    evbuffer_drain(in, (size_t)n);
    stats_add(&w->stats.client_bytes_in, (uint64_t)n);
    t->head_len = (size_t)n;
    t->req_body = t->req.body;
    t->req_remaining = t->req.content_length;
    t->req_body_done = t->req.body == HTTP1_BODY_NONE ||
                       (t->req.body == HTTP1_BODY_LENGTH && t->req.content_length == 0);
    if (t->req.body == HTTP1_BODY_CHUNKED)
        http1_chunked_init(&t->req_chunked);
    c->keep_alive = t->req.keep_alive && !w->stopping;
    client_dispatch(c);
}

static void client_read_cb(struct bufferevent *bev, void *arg)
{
    struct client *c = arg;
    assert(c->magic == CLIENT_MAGIC);
    (void)bev;
    if (c->state == CLIENT_READ_HEAD)
        client_process_input(c);
    else if (c->state == CLIENT_SERVING && c->in_txn && !c->txn.req_body_done &&
             c->txn.host_check != HOST_CHECK_RESOLVE) /* no fetch to feed yet */
        client_pump_body(c);
}

static void client_write_cb(struct bufferevent *bev, void *arg)
{
    struct client *c = arg;
    assert(c->magic == CLIENT_MAGIC);
    struct evbuffer *out = bufferevent_get_output(bev);
    if (c->state == CLIENT_CLOSING && evbuffer_get_length(out) == 0) {
        client_finish_close(c);
        return;
    }
    if (c->in_txn && c->txn.sub.throttling && evbuffer_get_length(out) <= CLIENT_WRITE_LOW_BYTES)
        object_throttle(&c->txn.sub, 0);
}

static void client_write_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    (void)fd;
    (void)what;
    bufferevent_enable(c->bev, EV_WRITE);
}

/* libevent 2.1 reports a sendfile(2) that would block as end of file
 * (evbuffer_write_sendfile returns 0 on EAGAIN, and the bufferevent reads a
 * 0-byte write as EOF) and disables writing. A socket can poll writable and
 * still refuse a sendfile when the kernel cannot charge socket memory (a
 * container's memory limit; seen with 32 proxies priming a 1 MiB object at
 * once); a write never returns 0 otherwise. So: the body is not lost, try
 * again in a millisecond (a timer, not the next poll, which would say
 * writable at once and spin). The write timeout still bounds a client that
 * never drains. Returns 1 when the event was this. */
static int client_retry_blocked_sendfile(struct client *c, short what)
{
    if (!(what & BEV_EVENT_WRITING) || !(what & BEV_EVENT_EOF) ||
        evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        return 0;
    if (!c->write_retry_ev)
        c->write_retry_ev = evtimer_new(c->w->base, client_write_retry_cb, c);
    if (!c->write_retry_ev)
        return 0;
    struct timeval tv = tv_from_ms(1);
    evtimer_add(c->write_retry_ev, &tv);
    stats_add(&c->w->stats.sendfile_retries, 1);
    char peer[ADDR_STRLEN];
    addr_format(&c->peer, peer, sizeof(peer));
    log_debug("client %s: sendfile would block on a socket that polled writable; retrying in 1 ms",
              peer);
    return 1;
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct client *c = arg;
    assert(c->magic == CLIENT_MAGIC);
    (void)bev;
    if (client_retry_blocked_sendfile(c, what))
        return;
    if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING) && c->state == CLIENT_SERVING &&
        c->in_txn && c->txn.req_body_done) {
        /* Half-close after a complete request: answer it, then close. */
        c->keep_alive = 0;
        bufferevent_disable(c->bev, EV_READ);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        char peer[ADDR_STRLEN];
        addr_format(&c->peer, peer, sizeof(peer));
        log_info("client %s: %s timed out, closing", peer,
                 (what & BEV_EVENT_WRITING) ? "sending" : "receiving");
    }
    client_free(c); /* gone, or timed out: the fetch goes on for others */
}

void client_tunnel_done(struct client *c, int flush)
{
    if (c->tunnel)
        tunnel_free(c->tunnel);
    bufferevent_setcb(c->bev, client_read_cb, client_write_cb, client_event_cb, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, CLIENT_WRITE_LOW_BYTES, 0);
    bufferevent_enable(c->bev, EV_WRITE);
    c->state = CLIENT_SERVING;
    c->keep_alive = 0;
    txn_end(c, 0); /* logs it; closes after the flush */
    if (!flush)
        client_free(c);
}

static void client_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    (void)fd;
    (void)what;
    if (c->state == CLIENT_LINGERING) {
        client_free(c); /* lingered CLIENT_LINGER_TOTAL_MS in all */
        return;
    }
    if (c->state != CLIENT_READ_HEAD || c->in_txn)
        return;
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
        /* A head that did not arrive in time: 408 and close. */
        struct txn *t = &c->txn;
        memset(t, 0, sizeof(*t));
        c->in_txn = 1;
        c->state = CLIENT_SERVING;
        t->req_body_done = 1;
        t->start_us = worker_now_us(c->w);
        t->log_tag = "NONE";
        stats_add(&c->w->stats.requests, 1);
        stats_add(&c->w->stats.bad_requests, 1);
        send_error_and_end(c, 408, "the request head did not arrive in time", 1);
        return;
    }
    client_free(c);
}

static void client_next_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    (void)fd;
    (void)what;
    if (c->state == CLIENT_CLOSING) {
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
            client_finish_close(c);
        return;
    }
    client_process_input(c);
}

static void client_find_original_dst(struct client *c, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    int level = c->local.ss.ss_family == AF_INET6 ? SOL_IPV6 : SOL_IP;
    /* SO_ORIGINAL_DST (and IP6T_SO_ORIGINAL_DST, the same number) asks
     * conntrack where a DNATed connection was going. */
    if (getsockopt(fd, level, SO_ORIGINAL_DST, &ss, &len) < 0)
        return; /* not NATed (or no conntrack): routed to an address we own */
    struct addr a;
    if (addr_from_sockaddr(&a, (struct sockaddr *)&ss, len) < 0)
        return;
    if (addr_equal(&a, &c->local))
        return; /* arrived at us as addressed: the Host header names the origin */
    c->orig_dst = a;
    c->have_orig_dst = 1;
}

void client_accept(struct worker *w, const struct listen_spec *ls, int fd,
                   const struct sockaddr *peer, int peer_len)
{
    /* HAProxy maxconn: refuse rather than fall over. One count for all
     * threads, so --max-connections means what it says whatever --threads. */
    if (atomic_fetch_add(&clients_open, 1) >= w->cfg->max_connections) {
        atomic_fetch_sub(&clients_open, 1);
        close(fd);
        return;
    }
    struct client *c = calloc(1, sizeof(*c));
    if (!c) {
        atomic_fetch_sub(&clients_open, 1);
        close(fd);
        return;
    }
    c->magic = CLIENT_MAGIC;
    c->w = w;
    c->ls = ls;
    addr_from_sockaddr(&c->peer, peer, (socklen_t)peer_len);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        addr_from_sockaddr(&c->local, (struct sockaddr *)&ss, sl);
    if (ls->mode == LISTEN_INTERCEPT)
        client_find_original_dst(c, fd);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    evutil_make_socket_nonblocking(fd);
    c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->timer = evtimer_new(w->base, client_timer_cb, c);
    c->next_ev = event_new(w->base, -1, 0, client_next_cb, c);
    if (!c->bev || !c->timer || !c->next_ev) {
        if (c->bev)
            bufferevent_free(c->bev);
        else
            close(fd);
        if (c->timer)
            event_free(c->timer);
        if (c->next_ev)
            event_free(c->next_ev);
        free(c);
        atomic_fetch_sub(&clients_open, 1);
        return;
    }
    TAILQ_INSERT_TAIL(&w->clients, c, link);
    stats_add(&w->stats.connections_open, 1);
    stats_add(&w->stats.connections_total, 1);
    /* Large writes: a 1 MiB hit goes out in as few writev calls as the
     * socket buffer allows, not libevent's default 16 KiB at a time. */
    bufferevent_set_max_single_write(c->bev, 4 * 1024 * 1024);
    bufferevent_setwatermark(c->bev, EV_READ, 0, CLIENT_READ_HIGH_BYTES);
    bufferevent_setwatermark(c->bev, EV_WRITE, CLIENT_WRITE_LOW_BYTES, 0);
    bufferevent_setcb(c->bev, client_read_cb, client_write_cb, client_event_cb, c);
    struct timeval wt = tv_from_ms(w->cfg->client_timeout_ms);
    bufferevent_set_timeouts(c->bev, NULL, &wt);
    c->keep_alive = 1;
    c->state = CLIENT_READ_HEAD;
    timer_arm(c, w->cfg->header_timeout_ms);
    c->head_timer_armed = 1;
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}
