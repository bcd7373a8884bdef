/* Backends and the backend set: what each backend is (address, health
 * address, weight), its state (up, down, draining) with the history of its
 * transitions and their causes, and what was measured on it (connections,
 * bytes, peak-EWMA and histograms of connect time and time to first byte).
 * The set is replaced whole from the admin API; a backend that leaves it
 * drains: it takes no new connection and is freed when its last one ends. */
#ifndef PP_BALANCER_BACKEND_H
#define PP_BALANCER_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "addr.h"
#include "config.h"
#include "ewma.h"

struct histogram;
struct relay;

#define BACKEND_MAGIC 0x42acbe01u
/* Transitions kept per backend: enough to see a flap, bounded. */
#define BACKEND_HISTORY 32

enum backend_state { BACKEND_UP = 0, BACKEND_DOWN, BACKEND_DRAINING };

struct backend_transition {
    int64_t at_ms; /* wall clock, ms since the epoch */
    enum backend_state from, to;
    char cause[112];
};

TAILQ_HEAD(relay_list, relay);

struct backend {
    uint32_t magic;
    uint64_t id; /* unique for the process's life: pickers key on it */
    struct backend_spec spec;
    enum backend_state state;
    int removed;               /* left the set; freed when its last connection ends */
    int64_t drain_deadline_us; /* draining: connections still open then are cut */
    int64_t up_since_us;       /* slow start runs from here after a down -> up */
    int slowstart;             /* 1 while ramping */

    /* Health: consecutive results, active checks and passive observations. */
    int ok_streak, fail_streak;
    char last_check[112]; /* the last active check's result, for the API */
    void *check;          /* health.c's per-backend state */

    /* Measured; reset by POST /v1/stats/reset (except active). */
    uint64_t active, total;
    uint64_t connect_failures, resets, timeouts;
    uint64_t bytes_in, bytes_out; /* from the backend, to the backend */
    struct ewma ewma;             /* first-byte time, the p2c-ewma score */
    struct histogram *connect_us, *ttfb_us;

    struct backend_transition history[BACKEND_HISTORY];
    size_t nhistory; /* total ever; the last BACKEND_HISTORY are kept */

    struct relay_list relays; /* its open connections */
};

struct backend_set {
    struct backend *b[BALANCER_MAX_BACKENDS * 2]; /* members, then removed ones draining */
    size_t n;
    uint64_t generation; /* bumped on any change a picker must see */
    uint64_t next_id;
};

const char *backend_state_name(enum backend_state s);

struct backend *backend_new(const struct backend_spec *spec, uint64_t id, double ewma_prior_us,
                            int64_t now_us);
void backend_free(struct backend *b);

/* Takes a new connection: up and still in the set. */
static inline int backend_eligible(const struct backend *b)
{
    return b->state == BACKEND_UP && !b->removed;
}

/* Records a state change with its cause (logged by the caller). */
void backend_transition(struct backend *b, enum backend_state to, const char *cause);

/* Weight now, slow start applied: from 10% to 100% over slowstart_us. */
double backend_effective_weight(struct backend *b, int64_t now_us, int64_t slowstart_us);

void backend_reset_stats(struct backend *b, double ewma_prior_us, int64_t now_us);

struct backend_set *backend_set_new(void);
void backend_set_free(struct backend_set *set); /* frees every backend */
struct backend *backend_set_find(const struct backend_set *set, const char *name);
/* Adds a new member; NULL when the set is full. */
struct backend *backend_set_add(struct backend_set *set, const struct backend_spec *spec,
                                double ewma_prior_us, int64_t now_us);
/* Takes b out of the set: it drains until now_us + drain_timeout_us. The
 * caller frees it (backend_set_reap) once it has no connection. */
void backend_set_remove(struct backend_set *set, struct backend *b, int64_t deadline_us,
                        const char *cause);
/* Frees removed backends with no connection left; returns how many. */
size_t backend_set_reap(struct backend_set *set);
/* Members (not removed) count. */
size_t backend_set_members(const struct backend_set *set);

int64_t balancer_now_us(void);  /* monotonic */
int64_t balancer_wall_ms(void); /* wall clock */

#endif
