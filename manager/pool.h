/* The pool: desired vs actual proxy instances. Scaling starts or drains
 * instances through the runtime, waits until each answers /healthz (ready:
 * proxyd's admin endpoint, Squid's or nginx's service port), restarts crashed ones with backoff, and reports when the
 * pool has reached what was asked. One change at a time: a second one while
 * the first runs is refused (the API answers 409). */
#ifndef PP_POOL_H
#define PP_POOL_H

#include <stddef.h>
#include <stdint.h>
#include "again.h"
#include "instance.h"
#include "runtime.h"

struct event_base;
struct histogram;
struct manager_config;
struct pool;

/* How a change ended: ok, and a one-sentence message when not. */
typedef void (*pool_done_cb)(void *ctx, int ok, const char *message);

/* Refusals of pool_scale / pool_restart. */
#define POOL_ERR_RANGE (-1)    /* replicas outside 1..32, unknown instance */
#define POOL_ERR_BUSY (-2)     /* another change is running */
#define POOL_ERR_STOPPING (-3) /* the manager is shutting down */

struct pool *pool_new(struct event_base *base, const struct manager_config *cfg,
                      const struct runtime_ops *ops, char *err, size_t errlen);
/* Stops every instance (drain, bounded by the drain timeout), releases them,
 * shuts the runtime down, then calls done. */
void pool_shutdown(struct pool *p, void (*done)(void *ctx), void *ctx);
void pool_free(struct pool *p);

/* Scale to n instances. done is called (from the loop, never inside this
 * call) when all n are ready, or when some failed or the ready timeout
 * passed. Returns 0 when started, or a POOL_ERR_* with err filled. */
int pool_scale(struct pool *p, int n, pool_done_cb done, void *ctx, char *err, size_t errlen);
/* Restarts one instance (stop, then spawn again in the same slot). */
int pool_restart(struct pool *p, int id, pool_done_cb done, void *ctx, char *err, size_t errlen);

/* Called with the new instance count at each scale step: after the new
 * instances are ready (growing) or before any instance stops (shrinking),
 * so the forwarding rules never name an instance that is not serving; on
 * PP_AGAIN, called again at the next tick. A failure fails the change (and,
 * shrinking, stops nothing). */
void pool_set_steer(struct pool *p, int (*fn)(void *ctx, int n, char *err, size_t errlen),
                    void *ctx);

/* How the forwarding mode counts connections still sent to an instance
 * (nat: conntrack entries); drains report them as drained or cut. */
void pool_set_flow_counter(struct pool *p,
                           int (*fn)(void *ctx, const struct instance *in, uint64_t *count),
                           void *ctx);

/* The pool reaps every child of the manager (SIGCHLD, waitpid(-1)): those
 * that are not instances (the balancer) are told to fn with their status. */
void pool_set_other_exit(struct pool *p, void (*fn)(void *ctx, pid_t pid, int status), void *ctx);

/* The loop the pool runs on (for modules that supervise children too). */
struct event_base *pool_event_base(const struct pool *p);

/* The timings of the last scale step, from its start: every new instance
 * ready, the forwarding rules committed, the last drained instance stopped
 * (-1 when the step had none), and the connections its drains let finish
 * or cut at the deadline. */
struct pool_step {
    int64_t ready_ms;
    int64_t rules_ms;
    int64_t drain_ms;
    uint64_t drained;
    uint64_t cut;
};
const struct pool_step *pool_last_step(const struct pool *p);

const char *pool_runtime_name(const struct pool *p);
/* What the instances run: "proxyd", "squid" or "nginx" (--worker). */
const char *pool_worker_name(const struct pool *p);
int pool_desired(const struct pool *p);
size_t pool_ready_count(const struct pool *p);
int pool_busy(const struct pool *p);
/* The instance in slot id (1..32), or NULL when the slot is unused. */
const struct instance *pool_instance(const struct pool *p, int id);
/* Instances in use, by id; returns how many were written to out. */
size_t pool_list(const struct pool *p, const struct instance **out, size_t max);
/* Instances by state, restarts in total, and instantiation times
 * (spawn to first healthy answer, microseconds). */
size_t pool_count_state(const struct pool *p, enum instance_state s);
uint64_t pool_restarts_total(const struct pool *p);
const struct histogram *pool_ready_histogram(const struct pool *p);

#endif
