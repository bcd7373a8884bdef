/* The pool: desired vs actual proxy instances. It starts instances through
 * the runtime, waits until each answers /healthz (ready: proxyd's admin
 * endpoint, Squid's or nginx's service port), restarts crashed ones with
 * backoff and drains the ones it is told to. In which order a change does
 * these (grow, rules, drain) is scale.c's; the pool says what state its
 * instances are in. */
#ifndef PP_POOL_H
#define PP_POOL_H

#include <stddef.h>
#include <stdint.h>
#include "instance.h"
#include "runtime/runtime.h"

struct event_base;
struct histogram;
struct manager_config;
struct pool;
struct spawn_reaper;

struct pool *pool_new(struct event_base *base, const struct manager_config *cfg,
                      const struct runtime_ops *ops, struct spawn_reaper *reaper, char *err,
                      size_t errlen);
/* Stops every instance (drain, bounded by the drain timeout), releases them,
 * shuts the runtime down, then calls done. */
void pool_shutdown(struct pool *p, void (*done)(void *ctx), void *ctx);
void pool_free(struct pool *p);

/* The verbs of a change (scale.c). Growing: slots 1..n not in use start;
 * one still draining for good starts again after its exit. */
void pool_grow(struct pool *p, int n);
/* Shrinking: the instances above n drain (the worker's stop signal; killed
 * at the drain deadline) and their slots free once they exited. */
void pool_drain_above(struct pool *p, int n);
/* 1 when instances 1..n all serve, 0 while some still start, -1 with why
 * when one failed to become ready several times in a row. */
int pool_ready_upto(const struct pool *p, int n, char *why, size_t whylen);
/* Whether every instance above n is gone. */
int pool_stopped_above(const struct pool *p, int n);
/* Stops instance id and starts it again in the same slot; -1 when there
 * is no such instance (or it is draining for good). */
int pool_restart_instance(struct pool *p, int id);
/* 1 once instance id serves again, started at or after since_us
 * (monotonic), 0 while not yet, -1 with why when it will not. */
int pool_restarted(const struct pool *p, int id, int64_t since_us, char *why, size_t whylen);
/* fn is called (from the loop) whenever an instance became ready or
 * exited: a change waiting on the pool looks again. */
void pool_set_listener(struct pool *p, void (*fn)(void *ctx), void *ctx);

/* How the forwarding mode counts connections still sent to an instance
 * (nat: conntrack entries); drains report them as drained or cut. */
void pool_set_flow_counter(struct pool *p,
                           int (*fn)(void *ctx, const struct instance *in, uint64_t *count),
                           void *ctx);
/* Connections that drains for good let finish, and that they cut at the
 * deadline, since the pool started. */
void pool_drain_counts(const struct pool *p, uint64_t *drained, uint64_t *cut);

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
/* What scale.c measured of the step under way (shown by pool_last_step). */
void pool_set_last_step(struct pool *p, const struct pool_step *step);

const char *pool_runtime_name(const struct pool *p);
const struct runtime_ops *pool_runtime(const struct pool *p);
/* What the instances run: "proxyd", "squid" or "nginx" (--worker). */
const char *pool_worker_name(const struct pool *p);
int pool_desired(const struct pool *p);
/* Instances an earlier run left that this pool adopted at its start. */
size_t pool_adopted(const struct pool *p);
size_t pool_ready_count(const struct pool *p);
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
