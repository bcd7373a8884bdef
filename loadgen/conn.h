/* One client connection and the request on it: connect (or reuse a kept-
 * alive socket), send the request, read the response by its framing, and
 * time each phase. Raw non-blocking sockets under libevent: a persistent
 * read event for the socket's life, a write event only while connecting or
 * when the kernel's buffer is full, and reads straight into one large
 * buffer (libevent 2.1's bufferevents read 4 KiB per call). What to send
 * next is the run's business: a finished request is handed to env->done. */
#ifndef PP_LOADGEN_CONN_H
#define PP_LOADGEN_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event_struct.h>

#include "addr.h"
#include "response.h"
#include "result.h"

struct loadgen_conn;
struct loadgen_source;

/* What every connection of a run shares. */
struct loadgen_conn_env {
    struct event_base *base;
    const char *request; /* the request head, sent unchanged */
    size_t request_len;
    const struct addr *connect_to;
    int keepalive;
    int home_ns_fd;
    uint64_t timeout_us;
    uint64_t wall_offset_us; /* wall clock minus monotonic, for the results' timestamps */
    char *rbuf;              /* the one receive buffer */
    size_t rbuf_size;
    /* Called once per request, from an event callback (never from inside
     * loadgen_conn_start), with the connection idle (kept alive) or closed. */
    void (*done)(struct loadgen_conn *c, struct loadgen_result *r);
    uint64_t connections_opened;
    /* A request whose kept-alive socket turns out closed by the server
     * before any response byte is sent again, once, on a new connection
     * (RFC 9112 9.3.1: curl, browsers and Go's client do so for a GET). */
    int retry_stale;
    uint64_t stale_retries;
};

enum loadgen_conn_state {
    LOADGEN_CONN_CLOSED = 0, /* no socket */
    LOADGEN_CONN_IDLE,       /* kept alive, no request */
    LOADGEN_CONN_CONNECTING,
    LOADGEN_CONN_SENDING,
    LOADGEN_CONN_READING,
    LOADGEN_CONN_FAILED, /* a request failed at once; reported from the next loop turn */
};

#define LOADGEN_CONN_MAGIC 0x4c47434eu /* "LGCN" */

struct loadgen_conn {
    unsigned magic;
    struct loadgen_conn_env *env;
    void *owner; /* the client */
    const struct loadgen_source *source;
    uint32_t client_id, id;
    int fd;
    enum loadgen_conn_state state;
    struct event rev, wev;
    int busy;   /* a request is in flight (any state but CLOSED/IDLE) */
    int reused; /* the request in flight went out on a kept-alive socket */
    /* The request in flight: */
    uint64_t seq;
    uint64_t intended_us; /* monotonic; 0 in closed loop */
    uint64_t start_us;    /* monotonic: when it was started here */
    uint64_t base_us;     /* what times count from: intended (open loop) or start */
    uint64_t connect_start_us, connect_us, first_byte_us, deadline_us;
    size_t sent;
    int failed_errno;
    enum loadgen_error failed_class;
    struct loadgen_response resp;
};

void loadgen_conn_init(struct loadgen_conn *c, struct loadgen_conn_env *env, void *owner,
                       const struct loadgen_source *source, uint32_t client_id, uint32_t id);
/* Starts request seq on this idle or closed connection: sends at once on a
 * kept-alive socket, else connects first; the connect is inside the timed
 * span. intended_us is the monotonic time it was scheduled for (0 in closed
 * loop: times count from now). */
void loadgen_conn_start(struct loadgen_conn *c, uint64_t seq, uint64_t intended_us);
/* The request has passed its deadline: fail it as a timeout. Returns 1 if
 * it did (env->done was called). */
int loadgen_conn_check_timeout(struct loadgen_conn *c, uint64_t now_us);
/* Closes the socket; an in-flight request is dropped without a result. */
void loadgen_conn_close(struct loadgen_conn *c);
void loadgen_conn_release(struct loadgen_conn *c);

/* The monotonic clock loadgen times with, in µs. */
uint64_t loadgen_now_us(void);

#endif
