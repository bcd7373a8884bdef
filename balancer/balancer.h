/* The balancer as one object: its event loop, configuration, backend set
 * and picking algorithm, its listeners and connections, and the decisions
 * that tie them together — a backend's health verdict (from active checks
 * in health.c and from what connections in relay.c observe), the set's
 * replacement from the admin API, draining, and the graceful stop. */
#ifndef PP_BALANCER_BALANCER_H
#define PP_BALANCER_BALANCER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "backend.h"
#include "config.h"
#include "pick.h"

struct event_base;
struct event;
struct evconnlistener;
struct relay;

#define BALANCER_MAGIC 0xba1a0ce1u

struct balancer {
    uint32_t magic;
    struct event_base *base;
    const struct balancer_config *cfg;
    struct backend_set *set;
    const struct pick_ops *pick;
    void *pick_priv;
    uint64_t pick_generation; /* set->generation the picker last saw */
    uint64_t rng;

    struct evconnlistener *listeners[BALANCER_MAX_LISTEN];
    size_t nlisteners;
    struct event *accept_retry; /* re-enables accepting after EMFILE */
    struct event *tick;         /* drain deadlines, reaping, stop */

    struct relay_list relays; /* every open connection */
    uint64_t nrelays;

    /* Counters since start or the last stats reset. */
    uint64_t accepted, refused_max_conns, refused_no_backend, redispatched;
    int64_t epoch_started_ms; /* wall clock of the last reset (or start) */

    int stopping; /* SIGTERM seen: no accepting, exit when idle */
    int64_t stop_deadline_us;
};

struct balancer *balancer_new(struct event_base *base, const struct balancer_config *cfg, char *err,
                              size_t errlen);
void balancer_free(struct balancer *bal);

/* Opens the --listen sockets and starts accepting. */
int balancer_listen(struct balancer *bal, char *err, size_t errlen);

/* Graceful stop: stop accepting now, let connections finish up to
 * --drain-timeout, then break the event loop. */
void balancer_stop(struct balancer *bal);

/* The backend for a new connection (NULL when none can take it). */
struct backend *balancer_pick(struct balancer *bal, const struct sockaddr *client,
                              struct backend *const *exclude, size_t nexclude);

/* Health verdicts. A passed active check, a failed one, or a failure seen
 * on client traffic (connect refused or timed out, reset before any answer),
 * which counts as a failed check toward --fall (HAProxy's observe layer4
 * with on-error fail-check). */
void balancer_check_passed(struct balancer *bal, struct backend *b, const char *detail);
void balancer_check_failed(struct balancer *bal, struct backend *b, const char *detail);
void balancer_traffic_failed(struct balancer *bal, struct backend *b, const char *detail);
void balancer_traffic_ok(struct balancer *bal, struct backend *b);

/* The set changed (state, membership): pickers must rebuild. */
void balancer_set_changed(struct balancer *bal);

/* Replaces the whole backend set (PUT /v1/backends): members named again
 * keep their stats and state (a draining one is back in the set), new ones
 * start up, the others drain. specs are already validated. */
int balancer_replace(struct balancer *bal, const struct backend_spec *specs, size_t n, char *err,
                     size_t errlen);
/* Draining: no new connection; removing: drain, then forget. */
void balancer_drain(struct balancer *bal, struct backend *b, const char *cause);
void balancer_remove(struct balancer *bal, struct backend *b, const char *cause);
/* New measurement epoch: counters, histograms and EWMAs start again. */
void balancer_reset_stats(struct balancer *bal);

#endif
