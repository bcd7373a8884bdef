/* Picking a backend for a new connection: a table of functions per
 * algorithm, one file each (pick_p2c.c, pick_leastconn.c,
 * pick_roundrobin.c, pick_source.c), as IPVS's schedulers and HAProxy's
 * lb_*.c. The caller passes the whole backend array; an algorithm may keep
 * derived state and is told when the set or a state changes. */
#ifndef PP_BALANCER_PICK_H
#define PP_BALANCER_PICK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct backend;

/* Backends a connection has already failed to reach: not picked again. */
#define PICK_MAX_EXCLUDE 12

struct pick_ctx {
    int64_t now_us;
    double ewma_tau_us;
    int64_t slowstart_us;
    const struct sockaddr *client; /* the client's address (source) */
    struct backend *exclude[PICK_MAX_EXCLUDE];
    size_t nexclude;
    uint64_t *rng; /* xorshift state, owned by the caller */
};

struct pick_ops {
    const char *name;
    void *(*create)(void);
    void (*destroy)(void *priv);
    /* The set's membership, weights or states changed. May be NULL. */
    void (*update)(void *priv, struct backend *const *b, size_t n);
    /* A backend for the connection, or NULL when none can take it. */
    struct backend *(*pick)(void *priv, struct backend *const *b, size_t n,
                            const struct pick_ctx *ctx);
};

extern const struct pick_ops pick_p2c_ewma_ops;
extern const struct pick_ops pick_leastconn_ops;
extern const struct pick_ops pick_roundrobin_ops;
extern const struct pick_ops pick_source_ops;

const struct pick_ops *pick_find(const char *name); /* NULL when unknown */

/* Shared by the algorithms: eligible (up, in the set) and not excluded. */
int pick_usable(const struct backend *b, const struct pick_ctx *ctx);
uint64_t pick_random(uint64_t *state);

#endif
