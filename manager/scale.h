/* Changes of the pool, one at a time: the scale step (grow, wait until the
 * new instances serve, install the forwarding rules, drain the instances
 * that go, wait until they stopped) and the restart of one instance. The
 * order lives here, in one function; the pool, the forwarding mode and the
 * runtime only do what each step asks. */
#ifndef PP_SCALE_H
#define PP_SCALE_H

#include <stddef.h>

struct event_base;
struct pool;
struct steer;
struct scale;

/* How a change ended: ok, and a one-sentence message when not. */
typedef void (*scale_done_cb)(void *ctx, int ok, const char *message);

/* Refusals of scale_to / scale_restart. */
#define SCALE_ERR_RANGE (-1)    /* replicas outside 1..32, unknown instance */
#define SCALE_ERR_BUSY (-2)     /* another change is running */
#define SCALE_ERR_STOPPING (-3) /* the manager is shutting down */

/* Drives pool and steer (both outlive it); counts the flows of draining
 * instances through steer. NULL with err when out of memory. */
struct scale *scale_new(struct event_base *base, struct pool *pool, struct steer *steer, char *err,
                        size_t errlen);
void scale_free(struct scale *sc);

/* Scale to n instances. done is called (from the loop, never inside this
 * call) when all n are ready and the rules installed and the others
 * stopped, or when a step failed. Returns 0 when started, or a
 * SCALE_ERR_* with err filled. */
int scale_to(struct scale *sc, int n, scale_done_cb done, void *ctx, char *err, size_t errlen);
/* Restarts one instance (drain, then start again in the same slot). */
int scale_restart(struct scale *sc, int id, scale_done_cb done, void *ctx, char *err,
                  size_t errlen);
int scale_busy(const struct scale *sc);
/* Fails the change under way ("the manager is shutting down") and refuses
 * every later one. */
void scale_stop(struct scale *sc);

#endif
