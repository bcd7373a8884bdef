/* Origin fetches. One fetch fills one object: resolve → connect (or reuse an
 * idle connection) → send the request head and body → parse the response
 * head → read the body by its framing into the object → store it when it is
 * cacheable and complete. Failures become 502/504 for subscribers that have
 * not seen headers yet, and a closed connection for those that have. */
#include "fetch.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>

#include "acl.h"
#include "http1.h"
#include "log.h"
#include "object.h"
#include "origin.h"
#include "policy.h"
#include "timeutil.h"
#include "worker.h"

#define FETCH_MAGIC 0xfe7c4u

enum fetch_state { F_RESOLVING, F_CONNECTING, F_WAIT_HEAD, F_BODY, F_DONE };

struct fetch {
    unsigned magic;
    struct worker *w;
    struct object *obj; /* reference held */
    struct fetch_params p;
    char *req_head; /* owned copy; vreq points into it */
    size_t req_head_len;
    struct http1_request vreq; /* our own request, parsed: Vary and storability */
    char host[256];
    struct addr addr;
    struct origin_conn *conn;
    struct evdns_getaddrinfo_request *dns_req;
    enum fetch_state state;
    enum http1_body body;
    uint64_t remaining;
    struct http1_chunked chunked;
    int origin_keepalive;
    int64_t request_time;
    int retried;
    int got_response_bytes;
    struct object *stale;          /* reference held */
    struct evbuffer *body_pending; /* request body before the connection is up */
    int body_done;
    int starting;  /* inside fetch_start: failures must wait for the loop */
    int busy;      /* inside one of our callbacks: defer frees */
    int abandoned; /* the last subscriber left while busy */
    struct event *fail_ev;
    struct event *direct_ev; /* body reads straight into the object (see fetch_direct_arm) */
    int fail_status;
    const char *fail_kind;
};

static void fetch_free(struct fetch *f)
{
    if (f->dns_req)
        origin_resolve_cancel(f->dns_req);
    if (f->conn)
        origin_conn_release(f->conn, 0);
    if (f->fail_ev)
        event_free(f->fail_ev);
    if (f->direct_ev)
        event_free(f->direct_ev);
    if (f->body_pending)
        evbuffer_free(f->body_pending);
    if (f->obj)
        object_detach_fetch(f->obj, f);
    object_unref(f->stale);
    object_unref(f->obj);
    free(f->req_head);
    f->magic = 0;
    free(f);
}

/* Stops a fetch nobody wants any more. */
static void fetch_abort(struct fetch *f)
{
    struct object *o = f->obj;
    object_abandon(o);
    f->state = F_DONE;
    fetch_free(f);
}

void fetch_maybe_abandon(struct object *o)
{
    struct fetch *f = object_fetch(o);
    if (!f || object_subscriber_count(o) > 0)
        return;
    assert(f->magic == FETCH_MAGIC);
    if (f->busy)
        f->abandoned = 1;
    else
        fetch_abort(f);
}

/* Leaves a callback: frees the fetch if it finished or was abandoned in it. */
static int fetch_leave(struct fetch *f)
{
    if (--f->busy > 0)
        return 0;
    if (f->state == F_DONE) {
        fetch_free(f);
        return 1;
    }
    if (f->abandoned || object_subscriber_count(f->obj) == 0) {
        fetch_abort(f);
        return 1;
    }
    return 0;
}

static void count_error(struct worker *w, const char *kind)
{
    if (strcmp(kind, "denied") == 0)
        stats_add(&w->stats.denied, 1);
    else if (strcmp(kind, "connect") == 0)
        stats_add(&w->stats.origin_errors_connect, 1);
    else if (strcmp(kind, "timeout") == 0)
        stats_add(&w->stats.origin_errors_timeout, 1);
    else if (strcmp(kind, "protocol") == 0)
        stats_add(&w->stats.origin_errors_protocol, 1);
    else
        stats_add(&w->stats.origin_errors_closed, 1);
}

/* Fails the object now (we are in the event loop, never inside fetch_start). */
static void fetch_fail(struct fetch *f, int status, const char *kind, const char *why)
{
    count_error(f->w, kind);
    log_warn("origin %s:%d: %s (%s) for %s", f->host, f->p.port, why, kind, object_key(f->obj));
    if (f->direct_ev) {
        event_free(f->direct_ev);
        f->direct_ev = NULL;
    }
    if (f->conn) {
        origin_conn_release(f->conn, 0);
        f->conn = NULL;
    }
    f->state = F_DONE;
    object_fail(f->obj, status);
}

static void fail_ev_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fetch *f = arg;
    (void)fd;
    (void)what;
    f->busy++;
    fetch_fail(f, f->fail_status, f->fail_kind, "failed before connecting");
    fetch_leave(f);
}

/* Failures found while fetch_start is still on the stack go through the loop. */
static void fetch_fail_later(struct fetch *f, int status, const char *kind)
{
    f->fail_status = status;
    f->fail_kind = kind;
    event_active(f->fail_ev, EV_TIMEOUT, 0);
}

static void origin_read_cb(struct bufferevent *bev, void *arg);
static void origin_write_cb(struct bufferevent *bev, void *arg);
static void origin_event_cb(struct bufferevent *bev, short what, void *arg);

static void set_timeout(struct bufferevent *bev, uint64_t read_ms, uint64_t write_ms)
{
    struct timeval r = tv_from_ms(read_ms), wr = tv_from_ms(write_ms);
    bufferevent_set_timeouts(bev, read_ms ? &r : NULL, write_ms ? &wr : NULL);
}

static void fetch_send_request(struct fetch *f)
{
    struct bufferevent *bev = f->conn->bev;
    struct evbuffer *out = bufferevent_get_output(bev);
    evbuffer_add(out, f->req_head, f->req_head_len);
    if (f->body_pending)
        evbuffer_add_buffer(out, f->body_pending);
    f->state = F_WAIT_HEAD;
    bufferevent_setcb(bev, origin_read_cb, origin_write_cb, origin_event_cb, f);
    bufferevent_setwatermark(bev, EV_WRITE, FETCH_BODY_LOW_BYTES, 0);
    set_timeout(bev, f->w->cfg->origin_timeout_ms, f->w->cfg->origin_timeout_ms);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    stats_add(&f->w->stats.origin_fetches, 1);
}

/* Takes an idle connection or opens one. Returns 0, or -1 when a new
 * connection could not even be started. */
static int fetch_connect(struct fetch *f, int allow_reuse)
{
    char err[128];
    f->got_response_bytes = 0;
    if (allow_reuse) {
        f->conn = origin_conn_take_idle(f->w->origins, &f->addr);
        if (f->conn) {
            fetch_send_request(f);
            return 0;
        }
    }
    f->conn = origin_conn_open(f->w->origins, &f->addr, err, sizeof(err));
    if (!f->conn) {
        log_warn("origin %s:%d: %s", f->host, f->p.port, err);
        return -1;
    }
    f->state = F_CONNECTING;
    bufferevent_setcb(f->conn->bev, NULL, NULL, origin_event_cb, f);
    /* While connecting, libevent applies the write timeout to the connect. */
    set_timeout(f->conn->bev, 0, f->w->cfg->connect_timeout_ms);
    bufferevent_enable(f->conn->bev, EV_WRITE);
    return 0;
}

/* Denied networks apply to the address a name resolved to, not only to
 * literal addresses in the request (a name can point anywhere). */
static int fetch_dest_allowed(struct fetch *f, const struct addr *a)
{
    const char *reason;
    if (acl_check_dest_addr(f->w->cfg->acl, (const struct sockaddr *)&a->ss, &reason))
        return 1;
    log_info("origin %s:%d: resolved address refused: %s", f->host, f->p.port, reason);
    return 0;
}

static void resolved_cb(int ok, const struct addr *a, void *arg)
{
    struct fetch *f = arg;
    f->dns_req = NULL;
    if (ok && !fetch_dest_allowed(f, a)) {
        if (f->starting) {
            fetch_fail_later(f, 403, "denied");
        } else {
            f->busy++;
            fetch_fail(f, 403, "denied", "destination address denied");
            fetch_leave(f);
        }
        return;
    }
    if (f->starting) { /* answered from inside fetch_start (hosts file, error) */
        if (!ok || (f->addr = *a, fetch_connect(f, 1) < 0))
            fetch_fail_later(f, 502, "connect");
        return;
    }
    f->busy++;
    if (!ok) {
        fetch_fail(f, 502, "connect", "name did not resolve");
    } else {
        f->addr = *a;
        if (fetch_connect(f, 1) < 0)
            fetch_fail(f, 502, "connect", "could not connect");
    }
    fetch_leave(f);
}

int fetch_start(struct worker *w, struct object *obj, const struct fetch_params *p)
{
    struct fetch *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->magic = FETCH_MAGIC;
    f->w = w;
    f->p = *p;
    f->req_head = malloc(p->req_head_len);
    f->fail_ev = event_new(w->base, -1, 0, fail_ev_cb, f);
    if (!f->req_head || !f->fail_ev || strlen(p->host) >= sizeof(f->host))
        goto fail;
    memcpy(f->req_head, p->req_head, p->req_head_len);
    f->req_head_len = p->req_head_len;
    struct http1_limits lim;
    http1_limits_default(&lim);
    char err[128];
    if (http1_parse_request(f->req_head, f->req_head_len, &lim, &f->vreq, err, sizeof(err)) <= 0)
        goto fail; /* we built it; a failure here is our bug */
    snprintf(f->host, sizeof(f->host), "%s", p->host);
    if (p->has_body) {
        f->body_pending = evbuffer_new();
        if (!f->body_pending)
            goto fail;
    } else {
        f->body_done = 1;
    }
    object_ref(obj);
    f->obj = obj;
    object_attach_fetch(obj, f);
    if (p->stale) {
        object_ref(p->stale);
        f->stale = p->stale;
    }
    f->request_time = worker_now_s(w);
    f->starting = 1;
    if (p->dst) {
        f->addr = *p->dst;
        if (fetch_connect(f, 1) < 0)
            fetch_fail_later(f, 502, "connect");
    } else {
        f->state = F_RESOLVING;
        struct evdns_getaddrinfo_request *req = NULL;
        int rc = origin_resolve(w->origins, f->host, p->port, &f->addr, resolved_cb, f, &req);
        if (rc == 1 && !fetch_dest_allowed(f, &f->addr)) {
            fetch_fail_later(f, 403, "denied");
        } else if (rc == 1) {
            if (fetch_connect(f, 1) < 0)
                fetch_fail_later(f, 502, "connect");
        } else if (rc < 0) {
            fetch_fail_later(f, 502, "connect");
        } else if (f->state == F_RESOLVING) {
            f->dns_req = req; /* still pending */
        }
    }
    f->starting = 0;
    return 0;
fail:
    if (f->fail_ev)
        event_free(f->fail_ev);
    free(f->req_head);
    free(f);
    return -1;
}

/* What the cache policy needs to know of this fetch. */
static struct policy_fetch fetch_policy(const struct fetch *f)
{
    return (struct policy_fetch){
        .cache = f->w->cache,
        .req = &f->vreq,
        .store_candidate = f->p.cache_candidate,
        .invalidates = f->p.invalidates,
        .stale = f->stale,
        .max_object_bytes = f->w->cfg->max_object_bytes,
        .now = worker_now_s(f->w),
    };
}

static void fetch_complete(struct fetch *f)
{
    struct object *o = f->obj;
    int reusable = f->origin_keepalive && f->body != HTTP1_BODY_CLOSE && f->body_done;
    if (f->direct_ev) {
        event_free(f->direct_ev);
        f->direct_ev = NULL;
        /* Direct reads take exactly the body: bytes past it (an origin
         * sending more than its Content-Length) still sit in the socket and
         * would be read as the next request's response. */
        char b;
        if (reusable && f->conn &&
            !(recv(bufferevent_getfd(f->conn->bev), &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
              (errno == EAGAIN || errno == EWOULDBLOCK)))
            reusable = 0;
    }
    if (f->conn) {
        origin_conn_release(f->conn, reusable);
        f->conn = NULL;
    }
    f->state = F_DONE;
    /* Before storing: the cache accounts the body's blocks as they are. */
    if (object_retains(o))
        object_shrink_body(o);
    struct policy_fetch pf = fetch_policy(f);
    policy_on_complete(&pf, o);
    object_complete(o);
}

static void fetch_direct_arm(struct fetch *f);

static void fetch_unthrottle(void *arg)
{
    struct fetch *f = arg;
    if (f->direct_ev && f->state == F_BODY) {
        fetch_direct_arm(f);
        return;
    }
    if (f->conn && f->state == F_BODY) {
        bufferevent_enable(f->conn->bev, EV_READ);
        /* Bytes may already wait in the input buffer: have the loop call the
         * read callback (never from here: we may be inside an unsubscribe). */
        bufferevent_trigger(f->conn->bev, EV_READ,
                            BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
    }
}

/* The response head is here: the policy decides storability and who may
 * share it; the fetch then reads the body by its framing. */
static void fetch_on_head(struct fetch *f, struct http1_response *resp)
{
    struct object *o = f->obj;
    struct worker *w = f->w;
    int64_t now = worker_now_s(w);
    struct policy_fetch pf = fetch_policy(f);

    if (f->stale && resp->status == 304) {
        stats_add(&w->stats.refreshes, 1);
        policy_on_not_modified(&pf, o, resp);
        f->body = HTTP1_BODY_NONE;
        f->state = F_DONE;
        if (f->conn) {
            origin_conn_release(f->conn, f->origin_keepalive && f->body_done);
            f->conn = NULL;
        }
        if (object_refresh(o, f->stale, resp, f->request_time, now) < 0) {
            object_fail(o, 500);
            return;
        }
        /* The refreshed object replaces the stale variant in the cache. */
        policy_on_complete(&pf, o);
        return;
    }
    policy_on_response(&pf, o, resp);

    f->body = f->p.is_head ? HTTP1_BODY_NONE : resp->body;
    f->remaining = resp->content_length;
    if (f->body == HTTP1_BODY_CHUNKED)
        http1_chunked_init(&f->chunked);
    object_set_unthrottle(o, fetch_unthrottle);
    f->state = F_BODY;
    if (object_set_head(o, resp, f->request_time, now) < 0) {
        fetch_fail(f, 500, "protocol", "out of memory storing the head");
        return;
    }
    if (f->body == HTTP1_BODY_NONE || (f->body == HTTP1_BODY_LENGTH && f->remaining == 0))
        fetch_complete(f);
}

/* How far past a chunked response's head the first chunk-size line is
 * looked for before the head is passed on anyway (a size line with
 * extensions is far shorter in practice). */
#define FIRST_CHUNK_LOOK_BYTES 4096

/* A chunked response's head is passed on only once the first chunk-size line
 * after it has parsed, so a response whose framing is broken from its first
 * byte becomes a 502 rather than a 200 cut short. 1 valid (or not decidable
 * within the look-ahead), 0 not all here yet, -1 broken (err says why). */
static int fetch_first_chunk_ok(struct evbuffer *in, size_t head_len, char *err, size_t errlen)
{
    size_t avail = evbuffer_get_length(in) - head_len;
    if (avail > FIRST_CHUNK_LOOK_BYTES)
        avail = FIRST_CHUNK_LOOK_BYTES;
    const char *p = (const char *)evbuffer_pullup(in, (ssize_t)(head_len + avail)) + head_len;
    struct http1_chunked ch;
    http1_chunked_init(&ch);
    size_t off = 0;
    while (off < avail) {
        size_t doff, dlen;
        long used = http1_chunked_feed(&ch, p + off, avail - off, &doff, &dlen, err, errlen);
        if (used < 0)
            return -1;
        if (dlen > 0 || ch.remaining > 0 || ch.done)
            return 1;
        if (used == 0)
            break;
        off += (size_t)used;
    }
    return avail == FIRST_CHUNK_LOOK_BYTES ? 1 : 0;
}

/* Returns 1 when a head was consumed (or a 1xx skipped), 0 when more bytes
 * are needed, -1 after failing the fetch. */
static int fetch_read_head(struct fetch *f, struct evbuffer *in)
{
    size_t avail = evbuffer_get_length(in);
    struct http1_limits lim;
    http1_limits_default(&lim);
    /* One byte past the limit, so the parser can tell a head that is too
     * large (431) from one still arriving. */
    size_t look = avail <= lim.max_head_bytes ? avail : lim.max_head_bytes + 1;
    const char *buf = (const char *)evbuffer_pullup(in, (ssize_t)look);
    struct http1_response resp;
    char err[128];
    int n = http1_parse_response(buf, look, &lim, f->p.is_head, &resp, err, sizeof(err));
    if (n == HTTP1_INCOMPLETE)
        return 0;
    if (n > 0 && resp.body == HTTP1_BODY_CHUNKED) {
        int first = fetch_first_chunk_ok(in, (size_t)n, err, sizeof(err));
        if (first == 0)
            return 0;
        if (first < 0) {
            fetch_fail(f, 502, "protocol", err);
            return -1;
        }
        buf = (const char *)evbuffer_pullup(in, (ssize_t)look); /* may have moved */
    }
    /* Parse again from a copy so the input can be drained before the head
     * is acted on (acting on it may release the connection). */
    char *head = NULL;
    if (n > 0) {
        head = malloc((size_t)n);
        if (!head) {
            fetch_fail(f, 502, "protocol", "out of memory");
            return -1;
        }
        memcpy(head, buf, (size_t)n);
        evbuffer_drain(in, (size_t)n);
        n = http1_parse_response(head, (size_t)n, &lim, f->p.is_head, &resp, err, sizeof(err));
    }
    if (n < 0) {
        free(head);
        fetch_fail(f, 502, "protocol", err);
        return -1;
    }
    if (resp.status >= 100 && resp.status < 200) {
        free(head);
        if (resp.status == 101) {
            fetch_fail(f, 502, "protocol", "origin switched protocols");
            return -1;
        }
        return 1; /* interim response: wait for the final one */
    }
    f->origin_keepalive = resp.keep_alive;
    fetch_on_head(f, &resp);
    free(head);
    return 1;
}

/* Decodes chunked framing in p[0..len) into the object, waking its
 * subscribers when payload arrived. Returns the bytes consumed (short of
 * len once the body's end is reached), or -1 after failing the fetch. */
static long fetch_take_chunked(struct fetch *f, const char *p, size_t len)
{
    struct object *o = f->obj;
    size_t off = 0, got = 0;
    while (off < len && !f->chunked.done) {
        size_t doff, dlen;
        char err[128];
        long used =
            http1_chunked_feed(&f->chunked, p + off, len - off, &doff, &dlen, err, sizeof(err));
        if (used < 0) {
            fetch_fail(f, 502, "protocol", err);
            return -1;
        }
        if (dlen) {
            object_retain_within(o, dlen, f->w->cfg->max_object_bytes);
            object_body_append(o, p + off + doff, dlen);
            got += dlen;
        }
        if (used == 0)
            break;
        off += (size_t)used;
    }
    if (got)
        object_body_flush(o);
    return (long)off;
}

/* Room in the object for up to *want body bytes (Content-Length and
 * close-delimited bodies), after giving up retaining a body that outgrew
 * the object limit; NULL after failing the fetch. */
static char *fetch_body_room(struct fetch *f, size_t *want)
{
    struct object *o = f->obj;
    object_retain_within(o, *want, f->w->cfg->max_object_bytes);
    char *space = object_body_space(o, want);
    if (!space)
        fetch_fail(f, 502, "protocol", "out of memory for the body");
    return space;
}

/* Moves body bytes from the connection into the object. Returns 0 to go on,
 * -1 when the fetch ended (completed or failed). */
static int fetch_read_body(struct fetch *f, struct evbuffer *in)
{
    struct object *o = f->obj;
    while (f->state == F_BODY && evbuffer_get_length(in) > 0) {
        if (object_reading_held(o)) {
            bufferevent_disable(f->conn->bev, EV_READ);
            return 0;
        }
        size_t avail = evbuffer_get_length(in);
        if (f->body == HTTP1_BODY_CHUNKED) {
            struct evbuffer_iovec vec;
            if (evbuffer_peek(in, -1, NULL, &vec, 1) < 1)
                return 0;
            long off = fetch_take_chunked(f, vec.iov_base, vec.iov_len);
            if (off < 0)
                return -1;
            evbuffer_drain(in, (size_t)off);
            stats_add(&f->w->stats.origin_bytes_in, (uint64_t)off);
            if (f->chunked.done) {
                fetch_complete(f);
                return -1;
            }
            continue;
        }
        size_t want = avail;
        if (f->body == HTTP1_BODY_LENGTH && want > f->remaining)
            want = (size_t)f->remaining;
        char *space = fetch_body_room(f, &want);
        if (!space)
            return -1;
        int n = evbuffer_remove(in, space, want);
        if (n <= 0)
            return 0;
        stats_add(&f->w->stats.origin_bytes_in, (uint64_t)n);
        if (f->body == HTTP1_BODY_LENGTH)
            f->remaining -= (uint64_t)n;
        object_body_commit(o, (size_t)n);
        if (f->state != F_BODY)
            return -1;
        if (f->body == HTTP1_BODY_LENGTH && f->remaining == 0) {
            fetch_complete(f);
            return -1;
        }
    }
    return 0;
}

/* Body bytes read per direct-read callback before yielding to other
 * connections on the loop. */
#define DIRECT_READ_BUDGET_BYTES (1024 * 1024)
/* Scratch for chunked framing read from the socket. */
#define DIRECT_SCRATCH_BYTES (64 * 1024)

/* Reads the body straight from the socket: into the object's own chunk for
 * Content-Length and close-delimited bodies (one copy, kernel to object),
 * through a scratch buffer and the chunked decoder otherwise. libevent 2.1
 * reads at most 4 KiB per call (EVBUFFER_MAX_READ), which made a 1 MiB body
 * cost some 260 reads and as many epoll changes; this path reads as much as
 * the socket holds. */
static void direct_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fetch *f = arg;
    assert(f->magic == FETCH_MAGIC);
    struct object *o = f->obj;
    f->busy++;
    if (what & EV_TIMEOUT) {
        fetch_fail(f, 504, "timeout", "body stalled");
        fetch_leave(f);
        return;
    }
    size_t budget = DIRECT_READ_BUDGET_BYTES;
    int again = 1;
    while (f->state == F_BODY && budget > 0 && !f->abandoned) {
        if (object_reading_held(o)) {
            again = 0; /* fetch_unthrottle re-arms */
            break;
        }
        ssize_t n;
        if (f->body == HTTP1_BODY_CHUNKED) {
            char scratch[DIRECT_SCRATCH_BYTES];
            n = recv(fd, scratch, sizeof(scratch), 0);
            if (n > 0) {
                stats_add(&f->w->stats.origin_bytes_in, (uint64_t)n);
                long off = fetch_take_chunked(f, scratch, (size_t)n);
                if (off < 0 || f->state != F_BODY)
                    break;
                if (f->chunked.done) {
                    if (off < n)
                        f->origin_keepalive = 0; /* bytes after the body: not reusable */
                    fetch_complete(f);
                    break;
                }
                budget = (size_t)n < budget ? budget - (size_t)n : 0;
                continue;
            }
        } else {
            size_t want = DIRECT_READ_BUDGET_BYTES;
            if (f->body == HTTP1_BODY_LENGTH && want > f->remaining)
                want = (size_t)f->remaining;
            char *space = fetch_body_room(f, &want);
            if (!space)
                break;
            n = recv(fd, space, want, 0);
            if (n > 0) {
                stats_add(&f->w->stats.origin_bytes_in, (uint64_t)n);
                if (f->body == HTTP1_BODY_LENGTH)
                    f->remaining -= (uint64_t)n;
                object_body_commit(o, (size_t)n);
                if (f->state != F_BODY)
                    break;
                if (f->body == HTTP1_BODY_LENGTH && f->remaining == 0) {
                    fetch_complete(f);
                    break;
                }
                budget = (size_t)n < budget ? budget - (size_t)n : 0;
                continue;
            }
        }
        if (n == 0) {
            if (f->body == HTTP1_BODY_CLOSE)
                fetch_complete(f);
            else
                fetch_fail(f, 502, "closed", "closed in the middle of the body");
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            fetch_fail(f, 502, "closed", strerror(errno));
        break;
    }
    if (again && f->state == F_BODY && !f->abandoned)
        fetch_direct_arm(f);
    fetch_leave(f);
}

/* Switches body reading from the bufferevent to direct reads (once what the
 * bufferevent already holds has been consumed), or re-arms them. */
static void fetch_direct_arm(struct fetch *f)
{
    if (!f->conn)
        return;
    struct bufferevent *bev = f->conn->bev;
    if (!f->direct_ev) {
        f->direct_ev = event_new(f->w->base, bufferevent_getfd(bev), EV_READ, direct_read_cb, f);
        if (!f->direct_ev)
            return; /* stay on the bufferevent path */
        bufferevent_disable(bev, EV_READ);
    }
    uint64_t ms = f->w->cfg->origin_timeout_ms;
    struct timeval tv = tv_from_ms(ms);
    event_add(f->direct_ev, &tv);
}

static void origin_read_cb(struct bufferevent *bev, void *arg)
{
    struct fetch *f = arg;
    assert(f->magic == FETCH_MAGIC);
    struct evbuffer *in = bufferevent_get_input(bev);
    f->busy++;
    if (evbuffer_get_length(in) > 0)
        f->got_response_bytes = 1;
    while (f->state == F_WAIT_HEAD && evbuffer_get_length(in) > 0) {
        if (fetch_read_head(f, in) <= 0)
            break;
    }
    if (f->state == F_BODY && !f->abandoned)
        fetch_read_body(f, in);
    if (f->state == F_BODY && !f->abandoned && evbuffer_get_length(in) == 0 &&
        !object_reading_held(f->obj))
        fetch_direct_arm(f);
    fetch_leave(f);
}

static void origin_write_cb(struct bufferevent *bev, void *arg)
{
    struct fetch *f = arg;
    (void)bev;
    if (f->p.on_body_drain && !f->body_done)
        f->p.on_body_drain(f->p.body_ctx);
}

static void origin_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct fetch *f = arg;
    assert(f->magic == FETCH_MAGIC);
    f->busy++;
    if (what & BEV_EVENT_CONNECTED) {
        fetch_send_request(f);
        fetch_leave(f);
        return;
    }
    int timeout = (what & BEV_EVENT_TIMEOUT) != 0;
    int eof = (what & BEV_EVENT_EOF) != 0;
    switch (f->state) {
    case F_CONNECTING:
        if (timeout)
            fetch_fail(f, 504, "timeout", "connect timed out");
        else
            fetch_fail(f, 502, "connect", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        break;
    case F_WAIT_HEAD:
        if (!timeout && f->conn && f->conn->reused && !f->got_response_bytes && !f->p.has_body &&
            !f->retried) {
            /* A pooled connection the origin closed meanwhile: try once more on
             * a new one (nginx does the same for idempotent requests). */
            f->retried = 1;
            origin_conn_release(f->conn, 0);
            f->conn = NULL;
            if (fetch_connect(f, 0) < 0)
                fetch_fail(f, 502, "connect", "could not reconnect");
            break;
        }
        if (timeout)
            fetch_fail(f, 504, "timeout", "no response in time");
        else
            fetch_fail(f, 502, "closed", "closed before the response head");
        break;
    case F_BODY:
        if (eof && f->body == HTTP1_BODY_CLOSE) {
            /* Drain what came with the close first. */
            fetch_read_body(f, bufferevent_get_input(bev));
            if (f->state == F_BODY)
                fetch_complete(f);
        } else if (timeout) {
            fetch_fail(f, 504, "timeout", "body stalled");
        } else {
            fetch_read_body(f, bufferevent_get_input(bev));
            if (f->state == F_BODY)
                fetch_fail(f, 502, "closed", "closed in the middle of the body");
        }
        break;
    default:
        break;
    }
    fetch_leave(f);
}

static struct fetch *fetch_of(struct object *o)
{
    struct fetch *f = o ? object_fetch(o) : NULL;
    assert(!f || f->magic == FETCH_MAGIC);
    return f;
}

static struct evbuffer *body_target(struct fetch *f)
{
    if (f->conn && (f->state == F_WAIT_HEAD || f->state == F_BODY))
        return bufferevent_get_output(f->conn->bev);
    return f->body_pending;
}

void fetch_body_write(struct object *o, const char *data, size_t len)
{
    struct fetch *f = fetch_of(o);
    if (!f || f->body_done || len == 0)
        return;
    struct evbuffer *out = body_target(f);
    if (!out)
        return;
    if (f->p.body_chunked)
        evbuffer_add_printf(out, "%zx\r\n", len);
    evbuffer_add(out, data, len);
    if (f->p.body_chunked)
        evbuffer_add(out, "\r\n", 2);
}

void fetch_body_end(struct object *o)
{
    struct fetch *f = fetch_of(o);
    if (!f || f->body_done)
        return;
    struct evbuffer *out = body_target(f);
    if (out && f->p.body_chunked)
        evbuffer_add(out, "0\r\n\r\n", 5);
    f->body_done = 1;
}

size_t fetch_body_backlog(struct object *o)
{
    struct fetch *f = fetch_of(o);
    if (!f)
        return 0;
    size_t n = f->body_pending ? evbuffer_get_length(f->body_pending) : 0;
    if (f->conn)
        n += evbuffer_get_length(bufferevent_get_output(f->conn->bev));
    return n;
}

void fetch_body_abandon(struct object *o)
{
    struct fetch *f = fetch_of(o);
    if (!f)
        return;
    /* The origin expects body bytes that will never come: this connection
     * can never be reused (ATS CVE-2025-31699). */
    f->origin_keepalive = 0;
    fetch_maybe_abandon(o);
}
