/* A relayed connection (see relay.h). The data path is libevent's
 * canonical relay (sample/le-proxy.c) without bufferevents: the bytes of a
 * direction sit in a pipe between splice(from -> pipe) and
 * splice(pipe -> to), so they never enter user space; a side is read only
 * while its pipe is empty or the other side can take more, which is the
 * backpressure. A pipe is taken from a pool when bytes first flow and given
 * back when it empties, so thousands of idle connections hold no pipe. */
#include "relay.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/event.h>

#include "addr.h"
#include "backend.h"
#include "balancer.h"
#include "histogram.h"
#include "log.h"
#include "timeutil.h"

#define RELAY_MAGIC 0x4e1a7e11u
/* Bytes moved per splice call: the default pipe capacity (16 pages). */
#define SPLICE_CHUNK 65536
/* Buffered path: one 64 KiB buffer per direction while bytes are in it. */
#define COPY_BUF 65536
/* Calls per event before yielding to other connections (fairness). */
#define PUMP_ROUNDS 8
/* Pipes kept for reuse: enough for the busy connections of a run, bounded
 * in descriptors (HAProxy's maxpipes plays the same role). */
#define PIPE_POOL_MAX 512

struct half {
    int from, to;        /* sockets */
    int pipe_r, pipe_w;  /* -1 when none is held */
    char *buf;           /* buffered path */
    size_t pending, off; /* bytes in the pipe or buffer; buffer read offset */
    int eof;             /* from said FIN */
    int shut;            /* FIN passed on to `to` */
    int drained;         /* the last read was short: wait to be readable */
    int copy;            /* 1: buffered path (no splice here) */
    uint64_t bytes;
    struct event *read_ev;  /* from readable */
    struct event *write_ev; /* to writable */
    int reading, writing;   /* whether those events are added */
};

struct relay {
    uint32_t magic;
    struct balancer *bal;
    struct backend *be;
    TAILQ_ENTRY(relay) by_backend; /* be->relays */
    TAILQ_ENTRY(relay) all;        /* bal->relays */
    int cfd, bfd;
    struct sockaddr_storage client;
    socklen_t client_len;
    struct event *ev_cr, *ev_cw, *ev_br, *ev_bw;
    struct event *ev_connect; /* backend writable while connecting */
    struct event *timer;      /* connect timeout, then idle timeout */
    struct half up;           /* client -> backend */
    struct half down;         /* backend -> client */
    int connected;
    struct backend *tried[PICK_MAX_EXCLUDE];
    size_t ntried;
    int64_t t_connect_start, t_first_up, t_first_down, last_activity;
};

static int pipe_pool[PIPE_POOL_MAX][2];
static size_t pipe_pool_n;

static int pipe_take(int fds[2])
{
    if (pipe_pool_n > 0) {
        pipe_pool_n--;
        fds[0] = pipe_pool[pipe_pool_n][0];
        fds[1] = pipe_pool[pipe_pool_n][1];
        return 0;
    }
    return pipe2(fds, O_NONBLOCK | O_CLOEXEC);
}

/* Only an empty pipe goes back to the pool. */
static void pipe_give(int r, int w)
{
    assert(r >= 0 && w >= 0 && r != w);
    if (pipe_pool_n < PIPE_POOL_MAX) {
        pipe_pool[pipe_pool_n][0] = r;
        pipe_pool[pipe_pool_n][1] = w;
        pipe_pool_n++;
        return;
    }
    close(r);
    close(w);
}

void relay_pipes_release(void)
{
    while (pipe_pool_n > 0) {
        pipe_pool_n--;
        close(pipe_pool[pipe_pool_n][0]);
        close(pipe_pool[pipe_pool_n][1]);
    }
}

static void half_release_pipe(struct half *h)
{
    if (h->pipe_r < 0)
        return;
    if (h->pending == 0) {
        pipe_give(h->pipe_r, h->pipe_w);
    } else {
        close(h->pipe_r);
        close(h->pipe_w);
    }
    h->pipe_r = h->pipe_w = -1;
}

static void set_event(struct event *ev, int *added, int want)
{
    if (want && !*added) {
        event_add(ev, NULL);
        *added = 1;
    } else if (!want && *added) {
        event_del(ev);
        *added = 0;
    }
}

/* ------------------------------------------------------------------ close */

static void relay_free(struct relay *r, int reset_client, const char *why)
{
    struct balancer *bal = r->bal;
    struct backend *b = r->be;
    if (b && r->connected) {
        /* A request sent and no byte back when the connection ends: what the
         * client waited counts as a latency sample, so a backend that
         * accepts and never answers scores as slow, not as unmeasured. */
        if (r->t_first_up && !r->t_first_down) {
            int64_t now = balancer_now_us();
            ewma_observe(&b->ewma, (double)(now - r->t_first_up), now,
                         (double)bal->cfg->ewma_decay_ms * 1000.0);
        }
    }
    log_debug("relay: connection from client fd %d to %s closed (%s), %llu bytes up, %llu down",
              r->cfd, b ? b->spec.name : "-", why, (unsigned long long)r->up.bytes,
              (unsigned long long)r->down.bytes);
    if (r->ev_cr)
        event_free(r->ev_cr);
    if (r->ev_cw)
        event_free(r->ev_cw);
    if (r->ev_br)
        event_free(r->ev_br);
    if (r->ev_bw)
        event_free(r->ev_bw);
    if (r->timer)
        event_free(r->timer);
    if (r->ev_connect)
        event_free(r->ev_connect);
    half_release_pipe(&r->up);
    half_release_pipe(&r->down);
    free(r->up.buf);
    free(r->down.buf);
    if (reset_client) {
        /* The backend reset: so does the client's side, as a TCP relay
         * should pass it on (linger 0 sends RST). */
        struct linger lg = {1, 0};
        setsockopt(r->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(r->cfd);
    if (r->bfd >= 0)
        close(r->bfd);
    if (b) {
        TAILQ_REMOVE(&b->relays, r, by_backend);
        b->active--;
    }
    TAILQ_REMOVE(&bal->relays, r, all);
    bal->nrelays--;
    r->magic = 0;
    free(r);
}

void relay_cut(struct relay *r, const char *why)
{
    relay_free(r, 0, why);
}

/* ------------------------------------------------------------------ pump */

/* Errors say which socket failed: the one read (from) or written (to). */
enum pump_result {
    PUMP_OK,
    PUMP_DONE,
    PUMP_ERROR_FROM,
    PUMP_RESET_FROM,
    PUMP_ERROR_TO,
    PUMP_RESET_TO
};

static ssize_t half_fill(struct half *h)
{
    if (!h->copy && h->pipe_r < 0) {
        int fds[2];
        if (pipe_take(fds) < 0) {
            h->copy = 1; /* out of descriptors: the buffered path still works */
        } else {
            h->pipe_r = fds[0];
            h->pipe_w = fds[1];
        }
    }
    if (!h->copy) {
        ssize_t n =
            splice(h->from, NULL, h->pipe_w, NULL, SPLICE_CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n >= 0 || errno != EINVAL)
            return n;
        h->copy = 1; /* this socket pair cannot splice */
        half_release_pipe(h);
    }
    if (!h->buf && !(h->buf = malloc(COPY_BUF))) {
        errno = ENOMEM;
        return -1;
    }
    h->off = 0;
    return read(h->from, h->buf, COPY_BUF);
}

static ssize_t half_flush(struct half *h)
{
    if (!h->copy)
        return splice(h->pipe_r, NULL, h->to, NULL, h->pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    return send(h->to, h->buf + h->off, h->pending, MSG_NOSIGNAL);
}

static enum pump_result pump(struct relay *r, struct half *h, int upward)
{
    for (int round = 0; round < PUMP_ROUNDS; round++) {
        while (h->pending > 0) {
            ssize_t n = half_flush(h);
            if (n > 0) {
                h->pending -= (size_t)n;
                h->off += (size_t)n;
                h->bytes += (uint64_t)n;
                if (upward) {
                    r->be->bytes_out += (uint64_t)n;
                    if (!r->t_first_up)
                        r->t_first_up = balancer_now_us();
                } else {
                    r->be->bytes_in += (uint64_t)n;
                }
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                /* The other side is full: wait for it, stop reading. */
                set_event(h->write_ev, &h->writing, 1);
                set_event(h->read_ev, &h->reading, 0);
                return PUMP_OK;
            }
            if (n < 0 && errno == EINTR)
                continue;
            return errno == ECONNRESET || errno == EPIPE ? PUMP_RESET_TO : PUMP_ERROR_TO;
        }
        set_event(h->write_ev, &h->writing, 0);
        if (h->drained && !h->eof) {
            /* A read shorter than asked emptied the socket: wait for the
             * (level-triggered) read event rather than spend a system call
             * on the EAGAIN — 4 instead of 6 per small request. */
            h->drained = 0;
            half_release_pipe(h);
            set_event(h->read_ev, &h->reading, 1);
            return PUMP_OK;
        }
        if (h->eof) {
            if (!h->shut) {
                shutdown(h->to, SHUT_WR);
                h->shut = 1;
            }
            half_release_pipe(h);
            set_event(h->read_ev, &h->reading, 0);
            return PUMP_DONE;
        }
        ssize_t n = half_fill(h);
        if (n > 0) {
            h->pending = (size_t)n;
            h->drained = (size_t)n < (h->copy ? COPY_BUF : SPLICE_CHUNK);
            r->last_activity = balancer_now_us();
            if (!upward && !r->t_first_down) {
                r->t_first_down = r->last_activity;
                if (r->t_first_up) {
                    int64_t ttfb = r->t_first_down - r->t_first_up;
                    histogram_record(r->be->ttfb_us, (uint64_t)ttfb);
                    ewma_observe(&r->be->ewma, (double)ttfb, r->t_first_down,
                                 (double)r->bal->cfg->ewma_decay_ms * 1000.0);
                }
            }
            continue;
        }
        if (n == 0) {
            h->eof = 1;
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            half_release_pipe(h);
            set_event(h->read_ev, &h->reading, 1);
            return PUMP_OK;
        }
        if (errno == EINTR)
            continue;
        return errno == ECONNRESET ? PUMP_RESET_FROM : PUMP_ERROR_FROM;
    }
    /* Yield to other connections: come back when the other side can take
     * what is pending (it may be all there is, on a kept-alive connection),
     * or when more can be read. */
    set_event(h->write_ev, &h->writing, h->pending > 0);
    set_event(h->read_ev, &h->reading, h->pending == 0);
    return PUMP_OK;
}

static void after_pump(struct relay *r, enum pump_result res, int upward)
{
    if (res != PUMP_OK && res != PUMP_DONE) {
        int err = errno;
        int on_from = res == PUMP_ERROR_FROM || res == PUMP_RESET_FROM;
        int reset = res == PUMP_RESET_FROM || res == PUMP_RESET_TO;
        /* The backend's socket is the one written going up, read coming down. */
        int backend_side = upward ? !on_from : on_from;
        /* A reset from the backend before it answered anything is a failure
         * of the backend (passive check); after that, it is its business. */
        if (backend_side && !r->t_first_down && r->be) {
            r->be->resets++;
            balancer_traffic_failed(r->bal, r->be, "reset by backend before any answer");
        }
        relay_free(r, reset && backend_side, err ? strerror(err) : "error");
        return;
    }
    if (r->up.eof && r->up.shut && r->down.eof && r->down.shut && !r->up.pending &&
        !r->down.pending)
        relay_free(r, 0, "both sides closed");
}

static void on_client_read(evutil_socket_t fd, short what, void *arg)
{
    struct relay *r = arg;
    assert(r->magic == RELAY_MAGIC);
    after_pump(r, pump(r, &r->up, 1), 1);
}

static void on_backend_write(evutil_socket_t fd, short what, void *arg)
{
    struct relay *r = arg;
    assert(r->magic == RELAY_MAGIC);
    after_pump(r, pump(r, &r->up, 1), 1);
}

static void on_backend_read(evutil_socket_t fd, short what, void *arg)
{
    struct relay *r = arg;
    assert(r->magic == RELAY_MAGIC);
    after_pump(r, pump(r, &r->down, 0), 0);
}

static void on_client_write(evutil_socket_t fd, short what, void *arg)
{
    struct relay *r = arg;
    assert(r->magic == RELAY_MAGIC);
    after_pump(r, pump(r, &r->down, 0), 0);
}

/* One timer per connection: the connect timeout while connecting, then the
 * idle timeout — armed once and re-armed for the remainder when it fires
 * early, so moving bytes costs no timer update. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct relay *r = arg;
    assert(r->magic == RELAY_MAGIC);
    struct balancer *bal = r->bal;
    if (!r->connected)
        return; /* the connect path owns the timer then; see on_connect */
    int64_t idle_us = (int64_t)bal->cfg->idle_timeout_ms * 1000;
    int64_t quiet = balancer_now_us() - r->last_activity;
    if (quiet < idle_us) {
        int64_t left = idle_us - quiet;
        struct timeval tv = tv_from_us((uint64_t)left);
        event_add(r->timer, &tv);
        return;
    }
    relay_free(r, 0, "idle timeout");
}

/* --------------------------------------------------------------- connect */

static void try_connect(struct relay *r);

static void connect_failed(struct relay *r, const char *why, int timed_out)
{
    struct backend *b = r->be;
    if (timed_out)
        b->timeouts++;
    else
        b->connect_failures++;
    char detail[160];
    snprintf(detail, sizeof(detail), "connect to %s: %s", b->spec.name, why);
    log_info("relay: %s", detail);
    event_free(r->ev_connect);
    r->ev_connect = NULL;
    close(r->bfd);
    r->bfd = -1;
    TAILQ_REMOVE(&b->relays, r, by_backend);
    b->active--;
    r->be = NULL;
    balancer_traffic_failed(r->bal, b, detail);
    if (r->ntried <= (size_t)r->bal->cfg->retries && r->ntried < PICK_MAX_EXCLUDE) {
        r->bal->redispatched++;
        try_connect(r);
        return;
    }
    relay_free(r, 0, "no backend could be reached");
}

static void on_connect(evutil_socket_t fd, short what, void *arg)
{
    struct relay *r = arg;
    assert(r->magic == RELAY_MAGIC);
    if (what & EV_TIMEOUT) {
        connect_failed(r, "timed out", 1);
        return;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(r->bfd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == EINPROGRESS || err == EALREADY)
        return; /* spurious wake-up */
    if (err != 0) {
        connect_failed(r, strerror(err), 0);
        return;
    }
    struct balancer *bal = r->bal;
    int64_t now = balancer_now_us();
    histogram_record(r->be->connect_us, (uint64_t)(now - r->t_connect_start));
    balancer_traffic_ok(bal, r->be);
    r->connected = 1;
    r->last_activity = now;
    event_free(r->ev_connect);
    r->ev_connect = NULL;
    r->ev_cr = event_new(bal->base, r->cfd, EV_READ | EV_PERSIST, on_client_read, r);
    r->ev_cw = event_new(bal->base, r->cfd, EV_WRITE | EV_PERSIST, on_client_write, r);
    r->ev_br = event_new(bal->base, r->bfd, EV_READ | EV_PERSIST, on_backend_read, r);
    r->ev_bw = event_new(bal->base, r->bfd, EV_WRITE | EV_PERSIST, on_backend_write, r);
    if (!r->ev_cr || !r->ev_cw || !r->ev_br || !r->ev_bw) {
        relay_free(r, 0, "out of memory");
        return;
    }
    r->up = (struct half){.from = r->cfd,
                          .to = r->bfd,
                          .pipe_r = -1,
                          .pipe_w = -1,
                          .read_ev = r->ev_cr,
                          .write_ev = r->ev_bw};
    r->down = (struct half){.from = r->bfd,
                            .to = r->cfd,
                            .pipe_r = -1,
                            .pipe_w = -1,
                            .read_ev = r->ev_br,
                            .write_ev = r->ev_cw};
    set_event(r->ev_cr, &r->up.reading, 1);
    set_event(r->ev_br, &r->down.reading, 1);
    event_del(r->timer);
    struct timeval tv = tv_from_ms(bal->cfg->idle_timeout_ms);
    event_add(r->timer, &tv);
}

static void try_connect(struct relay *r)
{
    struct balancer *bal = r->bal;
    for (;;) {
        struct backend *b = balancer_pick(bal, (struct sockaddr *)&r->client, r->tried, r->ntried);
        if (!b) {
            if (r->ntried == 0)
                bal->refused_no_backend++;
            relay_free(r, 0, r->ntried ? "every backend tried failed" : "no backend up");
            return;
        }
        r->tried[r->ntried++] = b;
        r->be = b;
        b->active++;
        b->total++;
        TAILQ_INSERT_TAIL(&b->relays, r, by_backend);
        r->t_connect_start = balancer_now_us();
        char err[160];
        r->bfd = addr_connect_tcp(&b->spec.address, err, sizeof(err));
        if (r->bfd < 0) {
            /* Failed at once (no route, no descriptor): as a refused connect. */
            b->connect_failures++;
            TAILQ_REMOVE(&b->relays, r, by_backend);
            b->active--;
            r->be = NULL;
            balancer_traffic_failed(bal, b, err);
            if (r->ntried > (size_t)bal->cfg->retries || r->ntried >= PICK_MAX_EXCLUDE) {
                relay_free(r, 0, "no backend could be reached");
                return;
            }
            bal->redispatched++;
            continue;
        }
        r->ev_connect = event_new(bal->base, r->bfd, EV_WRITE, on_connect, r);
        if (!r->ev_connect) {
            relay_free(r, 0, "out of memory");
            return;
        }
        struct timeval tv = tv_from_ms(bal->cfg->connect_timeout_ms);
        event_add(r->ev_connect, &tv);
        return;
    }
}

void relay_start(struct balancer *bal, int client_fd, const struct sockaddr *client,
                 socklen_t client_len)
{
    struct relay *r = calloc(1, sizeof(*r));
    if (!r) {
        close(client_fd);
        return;
    }
    r->magic = RELAY_MAGIC;
    r->bal = bal;
    r->cfd = client_fd;
    r->bfd = -1;
    /* No pipe yet: a relay freed before it connects (no backend up, every
     * connect refused) must not give descriptor 0 to the pool as a pipe,
     * which every later connection would then take and fail on. */
    r->up.pipe_r = r->up.pipe_w = r->down.pipe_r = r->down.pipe_w = -1;
    if (client_len > sizeof(r->client))
        client_len = sizeof(r->client);
    memcpy(&r->client, client, client_len);
    r->client_len = client_len;
    TAILQ_INSERT_TAIL(&bal->relays, r, all);
    bal->nrelays++;
    int one = 1;
    setsockopt(client_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    r->timer = evtimer_new(bal->base, on_timer, r);
    if (!r->timer) {
        relay_free(r, 0, "out of memory");
        return;
    }
    try_connect(r);
}
