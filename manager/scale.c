/* The scale step, in the order it must keep: new instances serve before
 * any client is sent to them, and clients leave an instance before it
 * stops, so no client is ever sent to an instance that is not serving.
 * A timer drives it (the forwarding mode may answer PP_AGAIN) and the pool
 * wakes it when an instance became ready or exited. */
#include "scale.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

#include "crashpoint.h"
#include "log.h"
#include "pool.h"
#include "steer.h"

#define SCALE_MAGIC 0x7363616cu
/* Polling cadence while the forwarding mode is at its rules (PP_AGAIN);
 * the pool's readiness probes tick as often. */
#define SCALE_POLL_MS 2

enum scale_phase {
    SCALE_IDLE = 0,
    SCALE_WAIT_READY,   /* instances 1..n start */
    SCALE_RULES,        /* the forwarding mode spreads clients over 1..n */
    SCALE_WAIT_STOPPED, /* instances above n drain and stop */
    SCALE_RETIRE,       /* the forwarding mode forgets them */
    SCALE_WAIT_RESTART, /* a restarted instance comes back */
};

struct scale {
    unsigned magic;
    struct pool *pool;
    struct steer *steer;
    struct event *timer;
    int stopping;
    enum scale_phase phase;
    int target; /* replicas, or the instance id */
    int from;   /* replicas before the step */
    int64_t started_us;
    uint64_t drained0, cut0; /* the pool's drain counts when the step began */
    struct pool_step step;
    scale_done_cb done;
    void *ctx;
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t since_start_ms(const struct scale *sc)
{
    return (mono_us() - sc->started_us) / 1000;
}

static void scale_poll_soon(struct scale *sc)
{
    struct timeval tv = {0, SCALE_POLL_MS * 1000};
    evtimer_add(sc->timer, &tv);
}

static void scale_finish(struct scale *sc, int ok, const char *message)
{
    scale_done_cb done = sc->done;
    void *ctx = sc->ctx;
    sc->phase = SCALE_IDLE;
    sc->done = NULL;
    evtimer_del(sc->timer);
    if (done)
        done(ctx, ok, message);
}

/* What the step measured so far, for GET /v1/pool while it runs and after. */
static void scale_publish(struct scale *sc)
{
    uint64_t drained, cut;
    pool_drain_counts(sc->pool, &drained, &cut);
    sc->step.drained = drained - sc->drained0;
    sc->step.cut = cut - sc->cut0;
    pool_set_last_step(sc->pool, &sc->step);
}

/* The scale step, from wherever it stands to its end or its next wait:
 *   grow (scale_to) -> wait until 1..n serve -> rules for 1..n ->
 *   drain the instances above n -> wait until they stopped.
 * Growing has nothing to drain; shrinking has nothing to wait for before
 * its rules, which take the clients off the instances that go. */
static void scale_step(struct scale *sc)
{
    char why[400], msg[512];
    int n = sc->target;
    int rc;
    switch (sc->phase) {
    case SCALE_WAIT_READY:
        rc = pool_ready_upto(sc->pool, n, why, sizeof(why));
        if (rc == 0)
            return; /* the pool wakes us at the next ready or exit */
        if (rc < 0) {
            scale_finish(sc, 0, why);
            return;
        }
        if (n > sc->from)
            sc->step.ready_ms = since_start_ms(sc);
        sc->phase = SCALE_RULES;
        /* fall through */
    case SCALE_RULES:
        rc = steer_apply(sc->steer, n, why, sizeof(why));
        if (rc == PP_AGAIN) {
            scale_poll_soon(sc);
            return;
        }
        sc->step.rules_ms = since_start_ms(sc);
        scale_publish(sc);
        if (rc < 0) {
            if (n < sc->from)
                snprintf(msg, sizeof(msg),
                         "the forwarding rules could not be changed, so no instance was "
                         "stopped: %s",
                         why);
            else
                snprintf(msg, sizeof(msg),
                         "the instances are ready but the forwarding rules could not be "
                         "installed: %s",
                         why);
            scale_finish(sc, 0, msg);
            return;
        }
        if (n > sc->from)
            PP_CRASH_POINT("up.forward_applied");
        else if (n < sc->from)
            PP_CRASH_POINT("down.forward_applied");
        pool_drain_above(sc->pool, n);
        sc->phase = SCALE_WAIT_STOPPED;
        /* fall through */
    case SCALE_WAIT_STOPPED:
        if (!pool_stopped_above(sc->pool, n))
            return;
        if (n < sc->from)
            sc->step.drain_ms = since_start_ms(sc);
        sc->phase = SCALE_RETIRE;
        /* fall through */
    case SCALE_RETIRE:
        /* Only now: until an instance stopped, the connections it still
         * serves are sent to it (route mode pins them). */
        rc = steer_retire(sc->steer, n, why, sizeof(why));
        if (rc == PP_AGAIN) {
            scale_poll_soon(sc);
            return;
        }
        if (rc < 0) /* the instances stopped; clear or the next start removes the rest */
            log_warn("pool: %s", why);
        if (n < sc->from)
            PP_CRASH_POINT("down.retired");
        scale_publish(sc);
        scale_finish(sc, 1, NULL);
        return;
    case SCALE_WAIT_RESTART:
        rc = pool_restarted(sc->pool, n, sc->started_us, why, sizeof(why));
        if (rc != 0)
            scale_finish(sc, rc > 0, rc > 0 ? NULL : why);
        return;
    case SCALE_IDLE:
        return;
    }
}

static void scale_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct scale *sc = arg;
    (void)fd;
    (void)what;
    assert(sc->magic == SCALE_MAGIC);
    scale_step(sc);
}

/* The pool's news: looked at from the loop, not inside the pool's own
 * callback (a step may drain instances). */
static void on_pool_moved(void *ctx)
{
    struct scale *sc = ctx;
    if (sc->phase != SCALE_IDLE)
        event_active(sc->timer, EV_TIMEOUT, 0);
    else
        steer_instances_changed(sc->steer);
}

static int count_flows(void *ctx, const struct instance *in, uint64_t *count)
{
    return steer_count_flows(ctx, in, count);
}

struct scale *scale_new(struct event_base *base, struct pool *pool, struct steer *steer, char *err,
                        size_t errlen)
{
    struct scale *sc = calloc(1, sizeof(*sc));
    if (sc)
        sc->timer = evtimer_new(base, scale_timer_cb, sc);
    if (!sc || !sc->timer) {
        free(sc);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    sc->magic = SCALE_MAGIC;
    sc->pool = pool;
    sc->steer = steer;
    pool_set_listener(pool, on_pool_moved, sc);
    pool_set_flow_counter(pool, count_flows, steer);
    return sc;
}

void scale_free(struct scale *sc)
{
    if (!sc)
        return;
    pool_set_listener(sc->pool, NULL, NULL);
    pool_set_flow_counter(sc->pool, NULL, NULL);
    event_free(sc->timer);
    sc->magic = 0;
    free(sc);
}

/* Refuses a change while another runs or the manager stops. */
static int scale_refuse(const struct scale *sc, char *err, size_t errlen)
{
    if (sc->stopping) {
        snprintf(err, errlen, "the manager is shutting down");
        return SCALE_ERR_STOPPING;
    }
    if (sc->phase != SCALE_IDLE) {
        snprintf(err, errlen, "another change of the pool is in progress; try again when it ends");
        return SCALE_ERR_BUSY;
    }
    return 0;
}

static void scale_begin(struct scale *sc, enum scale_phase phase, int target, scale_done_cb done,
                        void *ctx)
{
    sc->phase = phase;
    sc->target = target;
    sc->from = pool_desired(sc->pool);
    sc->started_us = mono_us();
    sc->done = done;
    sc->ctx = ctx;
    /* Answered from the loop, never inside the caller's call. */
    event_active(sc->timer, EV_TIMEOUT, 0);
}

int scale_to(struct scale *sc, int n, scale_done_cb done, void *ctx, char *err, size_t errlen)
{
    int rc = scale_refuse(sc, err, errlen);
    if (rc < 0)
        return rc;
    if (n < 1 || n > POOL_MAX_INSTANCES) {
        snprintf(err, errlen, "replicas must be an integer from 1 to %d", POOL_MAX_INSTANCES);
        return SCALE_ERR_RANGE;
    }
    log_info("pool: scaling from %d to %d", pool_desired(sc->pool), n);
    scale_begin(sc, SCALE_WAIT_READY, n, done, ctx);
    pool_drain_counts(sc->pool, &sc->drained0, &sc->cut0);
    sc->step = (struct pool_step){-1, -1, -1, 0, 0};
    pool_set_last_step(sc->pool, &sc->step);
    if (n >= sc->from)
        pool_grow(sc->pool, n);
    return 0;
}

int scale_restart(struct scale *sc, int id, scale_done_cb done, void *ctx, char *err, size_t errlen)
{
    int rc = scale_refuse(sc, err, errlen);
    if (rc < 0)
        return rc;
    int64_t asked_us = mono_us(); /* before a start that may happen at once */
    if (pool_restart_instance(sc->pool, id) < 0) {
        snprintf(err, errlen, "no instance with id %d", id);
        return SCALE_ERR_RANGE;
    }
    scale_begin(sc, SCALE_WAIT_RESTART, id, done, ctx);
    sc->started_us = asked_us;
    return 0;
}

int scale_busy(const struct scale *sc)
{
    return sc->phase != SCALE_IDLE;
}

void scale_stop(struct scale *sc)
{
    sc->stopping = 1;
    if (sc->phase != SCALE_IDLE)
        scale_finish(sc, 0, "the manager is shutting down");
}
