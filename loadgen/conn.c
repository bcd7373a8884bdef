/* The connection state machine: CLOSED -> CONNECTING -> SENDING -> READING
 * -> IDLE (kept alive) or CLOSED, and FAILED for a request that failed
 * before any event could report it. Every path ends in finish(), once per
 * request, from an event callback, so the run may start the next request on
 * this connection from inside env->done without recursion. */
#include "conn.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "source.h"

/* recv calls per read event before letting other connections run: 8 x 256
 * KiB is a 1 MiB body per turn, and no connection starves the others. */
#define READS_PER_EVENT 8

uint64_t loadgen_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);

void loadgen_conn_init(struct loadgen_conn *c, struct loadgen_conn_env *env, void *owner,
                       const struct loadgen_source *source, uint32_t client_id, uint32_t id)
{
    memset(c, 0, sizeof(*c));
    c->magic = LOADGEN_CONN_MAGIC;
    c->env = env;
    c->owner = owner;
    c->source = source;
    c->client_id = client_id;
    c->id = id;
    c->fd = -1;
    c->state = LOADGEN_CONN_CLOSED;
    loadgen_response_init(&c->resp);
    /* Assigned once with no socket, so event_del is always legal. */
    event_assign(&c->rev, env->base, -1, 0, on_read, c);
    event_assign(&c->wev, env->base, -1, 0, on_write, c);
}

static void close_socket(struct loadgen_conn *c)
{
    event_del(&c->rev);
    event_del(&c->wev);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = LOADGEN_CONN_CLOSED;
}

/* Reports the request in flight and hands the connection back to the run. */
static void finish(struct loadgen_conn *c, enum loadgen_error error, int complete)
{
    const struct loadgen_conn_env *env = c->env;
    uint64_t now = loadgen_now_us();
    struct loadgen_result r = {
        .ts_start_us = c->start_us + env->wall_offset_us,
        .intended_us = c->intended_us ? c->intended_us + env->wall_offset_us : 0,
        .client = c->client_id,
        .conn = c->id,
        .req = c->seq,
        .status = c->resp.status,
        .error = error,
        .connect_us = c->connect_us,
        .ttfb_us = c->first_byte_us ? c->first_byte_us - c->base_us : 0,
        .total_us = now - c->base_us,
        .bytes_in = c->resp.bytes_in,
        .body_bytes = c->resp.body_bytes,
        .proxy = c->resp.proxy,
        .cache = c->resp.cache,
        .warmup = 0, /* the run's to say: it knows when the warm-up ends */
        .complete = complete,
    };
    if (complete && error == LOADGEN_ERR_NONE && r.status >= 400)
        r.error = LOADGEN_ERR_STATUS;
    c->busy = 0;
    env->done(c, &r);
}

/* A failure found before any event: reported from the next loop turn. */
static void fail_soon(struct loadgen_conn *c, enum loadgen_error error, int err_no)
{
    close_socket(c);
    c->state = LOADGEN_CONN_FAILED;
    c->failed_class = error;
    c->failed_errno = err_no;
    event_assign(&c->wev, c->env->base, -1, 0, on_write, c);
    event_active(&c->wev, EV_TIMEOUT, 1);
}

static void open_and_connect(struct loadgen_conn *c, uint64_t now_us);

/* The server closed a kept-alive socket while this request was on its way
 * (its FIN raced the request: a proxy that restarted, or its idle timeout).
 * Sent again once on a new connection, as HTTP clients do for a GET that got
 * no byte of answer; the time taken stays in the request's. Returns 0 when
 * the failure is the request's to report. */
static int retry_on_new_connection(struct loadgen_conn *c)
{
    struct loadgen_conn_env *env = c->env;
    if (!env->retry_stale || !c->reused || c->first_byte_us || c->resp.bytes_in)
        return 0;
    close_socket(c);
    c->reused = 0;
    c->sent = 0;
    loadgen_response_reset(&c->resp);
    env->stale_retries++;
    open_and_connect(c, loadgen_now_us());
    return 1;
}

static void send_request(struct loadgen_conn *c)
{
    const struct loadgen_conn_env *env = c->env;
    while (c->sent < env->request_len) {
        ssize_t n = send(c->fd, env->request + c->sent, env->request_len - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            event_add(&c->wev, NULL);
            return;
        }
        if (!retry_on_new_connection(c))
            fail_soon(c, LOADGEN_ERR_RESET, n < 0 ? errno : EPIPE);
        return;
    }
    c->state = LOADGEN_CONN_READING;
}

static void open_and_connect(struct loadgen_conn *c, uint64_t now_us)
{
    struct loadgen_conn_env *env = c->env;
    int err_no = 0;
    c->connect_start_us = now_us;
    int fd = loadgen_source_connect(c->source, env->home_ns_fd, env->connect_to, &err_no);
    if (fd < 0) {
        fail_soon(c, LOADGEN_ERR_CONNECT, err_no);
        return;
    }
    env->connections_opened++;
    c->fd = fd;
    event_assign(&c->rev, env->base, fd, EV_READ | EV_PERSIST, on_read, c);
    event_assign(&c->wev, env->base, fd, EV_WRITE, on_write, c);
    c->state = LOADGEN_CONN_CONNECTING;
    if (event_add(&c->wev, NULL) < 0 || event_add(&c->rev, NULL) < 0)
        fail_soon(c, LOADGEN_ERR_CONNECT, ENOMEM);
}

void loadgen_conn_start(struct loadgen_conn *c, uint64_t seq, uint64_t intended_us)
{
    assert(c->magic == LOADGEN_CONN_MAGIC && !c->busy);
    uint64_t now = loadgen_now_us();
    c->busy = 1;
    c->seq = seq;
    c->intended_us = intended_us;
    c->start_us = now;
    c->base_us = intended_us ? intended_us : now;
    c->deadline_us = now + c->env->timeout_us;
    c->connect_us = 0;
    c->first_byte_us = 0;
    c->sent = 0;
    loadgen_response_reset(&c->resp);
    c->reused = c->state == LOADGEN_CONN_IDLE;
    if (c->reused) {
        c->state = LOADGEN_CONN_SENDING;
        send_request(c);
        return;
    }
    open_and_connect(c, now);
}

static void handle_connect(struct loadgen_conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err != 0) {
        close_socket(c);
        finish(c, LOADGEN_ERR_CONNECT, 0);
        return;
    }
    event_del(&c->wev); /* when the read side saw it first */
    c->connect_us = loadgen_now_us() - c->connect_start_us;
    c->state = LOADGEN_CONN_SENDING;
    send_request(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct loadgen_conn *c = arg;
    assert(c->magic == LOADGEN_CONN_MAGIC);
    switch (c->state) {
    case LOADGEN_CONN_FAILED:
        c->state = LOADGEN_CONN_CLOSED;
        finish(c, c->failed_class, 0);
        break;
    case LOADGEN_CONN_CONNECTING:
        handle_connect(c);
        break;
    case LOADGEN_CONN_SENDING:
        send_request(c);
        break;
    default:
        break;
    }
}

/* The response is whole: keep the socket when both sides agree. */
static void complete(struct loadgen_conn *c, int leftover)
{
    int reuse =
        c->env->keepalive && c->resp.keep_alive && !leftover && c->state == LOADGEN_CONN_READING;
    if (reuse)
        c->state = LOADGEN_CONN_IDLE;
    else
        close_socket(c);
    finish(c, LOADGEN_ERR_NONE, 1);
}

static void end_of_stream(struct loadgen_conn *c, int reset)
{
    if (retry_on_new_connection(c))
        return;
    loadgen_response_eof(&c->resp, reset);
    close_socket(c);
    if (c->resp.state == LOADGEN_RESPONSE_DONE)
        finish(c, LOADGEN_ERR_NONE, 1);
    else
        finish(c, c->resp.error, 0);
}

/* A kept-alive socket spoke without a request: the server closed it (or
 * sent garbage). Either way it is not reused. */
static void idle_read(struct loadgen_conn *c)
{
    char b[512];
    ssize_t n = recv(c->fd, b, sizeof(b), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    close_socket(c);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct loadgen_conn *c = arg;
    assert(c->magic == LOADGEN_CONN_MAGIC);
    struct loadgen_conn_env *env = c->env;
    switch (c->state) {
    case LOADGEN_CONN_CONNECTING:
        handle_connect(c);
        return;
    case LOADGEN_CONN_IDLE:
        idle_read(c);
        return;
    case LOADGEN_CONN_SENDING:
    case LOADGEN_CONN_READING:
        break;
    default:
        return;
    }
    for (int i = 0; i < READS_PER_EVENT; i++) {
        ssize_t n = recv(fd, env->rbuf, env->rbuf_size, 0);
        if (n > 0) {
            if (!c->first_byte_us)
                c->first_byte_us = loadgen_now_us();
            size_t used = loadgen_response_feed(&c->resp, env->rbuf, (size_t)n);
            if (c->resp.state == LOADGEN_RESPONSE_DONE) {
                complete(c, used < (size_t)n);
                return;
            }
            if (c->resp.state == LOADGEN_RESPONSE_ERROR) {
                close_socket(c);
                finish(c, c->resp.error, 0);
                return;
            }
            if ((size_t)n < env->rbuf_size)
                return; /* drained: saves the recv that would say EAGAIN */
            continue;
        }
        if (n == 0) {
            end_of_stream(c, 0);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        end_of_stream(c, 1);
        return;
    }
}

int loadgen_conn_check_timeout(struct loadgen_conn *c, uint64_t now_us)
{
    if (!c->busy || now_us < c->deadline_us)
        return 0;
    enum loadgen_error e;
    switch (c->state) {
    case LOADGEN_CONN_CONNECTING:
        e = LOADGEN_ERR_CONNECT;
        break;
    case LOADGEN_CONN_SENDING:
    case LOADGEN_CONN_READING:
        e = LOADGEN_ERR_TIMEOUT;
        break;
    default:
        return 0;
    }
    close_socket(c);
    finish(c, e, 0);
    return 1;
}

void loadgen_conn_close(struct loadgen_conn *c)
{
    if (c->state == LOADGEN_CONN_FAILED)
        event_del(&c->wev);
    close_socket(c);
    c->busy = 0;
}

void loadgen_conn_release(struct loadgen_conn *c)
{
    loadgen_conn_close(c);
    loadgen_response_release(&c->resp);
    c->magic = 0;
}
