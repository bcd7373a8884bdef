/* Active health checks (see health.h): a small non-blocking HTTP/1.0 client
 * on the balancer's event loop, one check in flight per backend. */
#include "health.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "addr.h"
#include "backend.h"
#include "balancer.h"
#include "timeutil.h"

#define CHECK_MAGIC 0xc4ec4ec4u
/* A failure seen on traffic is confirmed by a check this soon (HAProxy's
 * fastinter idea), bounding checks to a few per second per backend. */
#define HEALTH_SOON_MS 100

struct check {
    uint32_t magic;
    struct balancer *bal;
    struct backend *be;
    struct event *timer; /* next check */
    struct event *io;    /* the check's socket */
    int fd;
    int sent;
    char buf[256];
    size_t len;
    int64_t started_us, due_us;
};

static void schedule(struct check *c, int64_t delay_us)
{
    if (delay_us < 0)
        delay_us = 0;
    struct timeval tv = tv_from_us((uint64_t)delay_us);
    c->due_us = balancer_now_us() + delay_us;
    event_add(c->timer, &tv);
}

static int64_t interval_us(const struct check *c)
{
    return (int64_t)c->bal->cfg->check_interval_ms * 1000;
}

static void finish(struct check *c, int passed, const char *detail)
{
    if (c->io) {
        event_free(c->io);
        c->io = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    /* The verdict may change the set; the check stays ours either way. */
    if (passed)
        balancer_check_passed(c->bal, c->be, detail);
    else
        balancer_check_failed(c->bal, c->be, detail);
    /* At a fixed rate, an interval after this check started (as HAProxy's
     * inter): a backend that never answers is down after fall x interval
     * (plus the last timeout), not fall x (interval + timeout). A check that
     * outlasted the interval is followed at once. */
    schedule(c, c->started_us + interval_us(c) - balancer_now_us());
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    struct check *c = arg;
    assert(c->magic == CHECK_MAGIC);
    char detail[112];
    int64_t ms = (balancer_now_us() - c->started_us) / 1000;
    if (what & EV_TIMEOUT) {
        snprintf(detail, sizeof(detail), "no answer within %llu ms",
                 (unsigned long long)c->bal->cfg->check_timeout_ms);
        finish(c, 0, detail);
        return;
    }
    if (!c->sent) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == EINPROGRESS)
            return;
        if (err) {
            snprintf(detail, sizeof(detail), "connect: %s", strerror(err));
            finish(c, 0, detail);
            return;
        }
        if (!c->be->spec.has_health) {
            snprintf(detail, sizeof(detail), "TCP connect in %lld ms", (long long)ms);
            finish(c, 1, detail);
            return;
        }
        static const char req[] = "GET /healthz HTTP/1.0\r\nHost: balancer\r\n"
                                  "User-Agent: proxypool-balancer\r\n\r\n";
        if (send(c->fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(req) - 1)) {
            snprintf(detail, sizeof(detail), "send: %s", strerror(errno));
            finish(c, 0, detail);
            return;
        }
        c->sent = 1;
        /* Now wait to read, within what is left of the timeout. */
        event_free(c->io);
        c->io = event_new(c->bal->base, c->fd, EV_READ | EV_PERSIST, on_io, c);
        int64_t left =
            (int64_t)c->bal->cfg->check_timeout_ms * 1000 - (balancer_now_us() - c->started_us);
        if (left < 1000)
            left = 1000;
        struct timeval tv = tv_from_us((uint64_t)left);
        if (!c->io || event_add(c->io, &tv) < 0)
            finish(c, 0, "out of memory");
        return;
    }
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0)
        c->len += (size_t)n;
    c->buf[c->len] = '\0';
    char *eol = strstr(c->buf, "\r\n");
    if (!eol && n > 0 && c->len < sizeof(c->buf) - 1)
        return; /* the status line is not complete yet */
    int status = 0;
    if (sscanf(c->buf, "HTTP/1.%*1[01] %3d", &status) != 1 || status < 100 || status > 599) {
        snprintf(detail, sizeof(detail), "GET /healthz: %s",
                 n == 0 && c->len == 0 ? "closed without an answer"
                 : n < 0               ? strerror(errno)
                                       : "not an HTTP answer");
        finish(c, 0, detail);
        return;
    }
    snprintf(detail, sizeof(detail), "GET /healthz: %d in %lld ms", status, (long long)ms);
    finish(c, status >= 200 && status < 300, detail);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct check *c = arg;
    assert(c->magic == CHECK_MAGIC);
    if (c->io)
        return; /* one in flight */
    const struct addr *target = c->be->spec.has_health ? &c->be->spec.health : &c->be->spec.address;
    char err[160];
    c->started_us = balancer_now_us();
    c->sent = 0;
    c->len = 0;
    c->fd = addr_connect_tcp(target, err, sizeof(err));
    if (c->fd < 0) {
        char detail[112];
        snprintf(detail, sizeof(detail), "connect: %.100s", err);
        finish(c, 0, detail);
        return;
    }
    c->io = event_new(c->bal->base, c->fd, EV_WRITE, on_io, c);
    struct timeval tv = tv_from_ms(c->bal->cfg->check_timeout_ms);
    if (!c->io || event_add(c->io, &tv) < 0)
        finish(c, 0, "out of memory");
}

void health_stop(struct balancer *bal, struct backend *b)
{
    struct check *c = b->check;
    (void)bal;
    if (!c)
        return;
    if (c->io)
        event_free(c->io);
    if (c->fd >= 0)
        close(c->fd);
    if (c->timer)
        event_free(c->timer);
    c->magic = 0;
    free(c);
    b->check = NULL;
}

int health_start(struct balancer *bal, struct backend *b)
{
    health_stop(bal, b);
    struct check *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->magic = CHECK_MAGIC;
    c->bal = bal;
    c->be = b;
    c->fd = -1;
    c->timer = evtimer_new(bal->base, on_timer, c);
    if (!c->timer) {
        free(c);
        return -1;
    }
    b->check = c;
    schedule(c, (int64_t)(pick_random(&bal->rng) % (uint64_t)interval_us(c)));
    return 0;
}

void health_soon(struct balancer *bal, struct backend *b)
{
    struct check *c = b->check;
    (void)bal;
    if (!c || c->io)
        return;
    int64_t soon = (int64_t)HEALTH_SOON_MS * 1000;
    if (c->due_us - balancer_now_us() > soon)
        schedule(c, soon);
}
