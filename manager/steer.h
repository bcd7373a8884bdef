/* Steering: which forwarding mode sends clients to instances and the client
 * partition it installs for the instances it reads from the pool (scale.c
 * says when: after new instances are ready, before drained ones stop).
 * Owns the mode's kernel state (and the balancer) and removes it on a mode
 * switch and at exit. */
#ifndef PP_STEER_H
#define PP_STEER_H

#include <stddef.h>
#include <stdint.h>
#include "again.h"
#include "partition.h"

struct manager_config;
struct pool;
struct steer;

/* How a job of steer's ended (a switch, an exit, a fresh observation). */
typedef void (*steer_done_cb)(void *ctx, int ok, const char *message);

/* Parses --clients and --vip; sets the mode from --forwarding ("none" when
 * not given; the loop runs until it is in place, before the API serves) and
 * removes what a crashed earlier run of that mode left. */
struct spawn_reaper;
struct steer *steer_new(const struct manager_config *cfg, struct pool *pool,
                        struct spawn_reaper *reaper, char *err, size_t errlen);
/* Removes the installed rules when steer_shutdown did not (running the
 * loop until they are gone), then frees. */
void steer_free(struct steer *s);

/* Switches the mode (ops from registry_forwarding; NULL: none) live: sets the
 * new mode up and installs its rules for the pool, then removes the old
 * mode's; done is called from the loop when it is over (not ok: nothing
 * changed, message says why). Returns 0 when started, or -1 with err and
 * *status (400: a mode that cannot be used here; 409: another switch runs;
 * 500: out of memory). */
struct fwd_ops;
int steer_set_mode(struct steer *s, const struct fwd_ops *ops, steer_done_cb done, void *ctx,
                   int *status, char *err, size_t errlen);
/* Removes the mode's rules (and stops the balancer); done (may be NULL)
 * from the loop once they are gone. At exit, before the pool stops. */
void steer_shutdown(struct steer *s, steer_done_cb done, void *ctx);
/* At an exit that leaves the pool serving (--keep-on-exit, SIGUSR2): the
 * mode's kernel state stays installed for the next manager to adopt;
 * steer_free then removes nothing. */
void steer_leave_installed(struct steer *s);
/* A switch or a shutdown is under way. */
int steer_busy(const struct steer *s);

/* Recomputes the partition for instances 1..n and installs it (scale.c
 * calls this at each scale step, again while it answers PP_AGAIN, with the
 * same n); a mode that observes its targets then asks them anew, so the
 * drains that follow count fresh flows. 0, -1 with err, or PP_AGAIN. */
int steer_apply(struct steer *s, int n, char *err, size_t errlen);

/* Instances above n stopped (scale.c, once a step's drains are over): the
 * mode forgets what still sent their established connections to them
 * (route: their tables and pins). 0, -1 with err, or PP_AGAIN. */
int steer_retire(struct steer *s, int n, char *err, size_t errlen);

/* Asks the mode to measure its targets anew (balancer: GET /v1/backends);
 * done from the loop once steer_observe shows the answer. 1 when the mode
 * measures nothing (done is not called), 0 when asked, -1 out of memory. */
int steer_refresh(struct steer *s, steer_done_cb done, void *ctx);

/* Connections still pinned to an instance by the mode (nat: conntrack
 * entries whose reply comes from it; route: those marked with its pin;
 * balancer: its active connections to that backend, 0 once it is gone): 0
 * with *count, -1 when the mode cannot tell (none). */
struct instance;
int steer_count_flows(struct steer *s, const struct instance *in, uint64_t *count);

/* What the mode measures per instance (balancer: each backend's state and
 * latency, as last asked by steer_refresh or a scale step; never waits): 0
 * with up to max in out, -1 (with err) when the mode measures nothing or
 * could not be asked. */
struct fwd_observation;
int steer_observes(const struct steer *s);
int steer_observe(const struct steer *s, struct fwd_observation *out, size_t max, size_t *n,
                  char *err, size_t errlen);

/* What the periodic reconcile (--reconcile-interval) did since start:
 * runs that ended, how many failed, and what drifted and was put right,
 * per kind (forwarding.h's enum fwd_drift_kind; steer_drift_name gives the
 * label: "rule", "jump", ...). */
#define STEER_DRIFT_KINDS 5
struct steer_reconcile_stats {
    uint64_t runs, failures;
    uint64_t repairs[STEER_DRIFT_KINDS];
};
const struct steer_reconcile_stats *steer_reconcile_stats(const struct steer *s);
/* An instance became ready or exited: when one of those installed now has
 * another address (a restarted Swarm task's new ports), a reconcile runs
 * at once instead of at the next period. */
void steer_instances_changed(struct steer *s);
/* NULL past the last kind. */
const char *steer_drift_name(int kind);

const char *steer_mode(const struct steer *s);
/* NULL in "none" and "balancer" (which picks per connection). */
const struct partition *steer_partition(const struct steer *s);
size_t steer_rules(const struct steer *s);
int64_t steer_last_swap_us(const struct steer *s);
int64_t steer_last_swap_at_ms(const struct steer *s); /* wall clock; 0 = never */
uint32_t steer_last_moved(const struct steer *s);     /* clients moved by the last step */
uint32_t steer_clients(const struct steer *s);
/* The block of instance id in the current partition, or NULL. */
const struct partition_block *steer_block(const struct steer *s, int id);

#endif
