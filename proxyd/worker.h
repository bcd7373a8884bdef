/* A worker: one thread with its own event loop, listening sockets
 * (SO_REUSEPORT when there are several workers), cache, table of objects in
 * flight, origin connection pool and counters. Workers share nothing but the
 * configuration: a request is served start to end by the worker that
 * accepted it. */
#ifndef PP_WORKER_H
#define PP_WORKER_H

#include <pthread.h>
#include <stdint.h>
#include <sys/queue.h>
#include "config.h"
#include "histogram.h"
#include "stats.h"

struct event_base;
struct evdns_base;
struct evconnlistener;
struct event;
struct cache;
struct object_table;
struct origin_pool;
struct client;
struct accesslog;

TAILQ_HEAD(client_list, client);

struct worker {
    int id;
    const struct proxyd_config *cfg;
    struct event_base *base;
    struct evdns_base *dns;
    struct cache *cache; /* NULL with --no-cache */
    struct object_table *inflight;
    struct origin_pool *origins;
    struct evconnlistener *listeners[PROXYD_MAX_LISTENERS];
    const struct listen_spec *listen_specs[PROXYD_MAX_LISTENERS];
    size_t nlisteners;
    struct client_list clients;
    struct proxyd_stats stats;
    struct histogram *latency; /* request duration, microseconds */
    struct accesslog *log;
    struct event *stop_ev;    /* cross-thread: begin graceful stop */
    struct event *stop_timer; /* hard deadline for the stop */
    int stopping;
    pthread_t thread;
};

/* Creates the worker's loop and opens its listeners (reuseport when
 * nworkers > 1). Returns NULL with err filled. */
struct worker *worker_new(int id, const struct proxyd_config *cfg, int nworkers, char *err,
                          size_t errlen);
void worker_free(struct worker *w);
/* Runs the loop in a new thread (worker_start) or in the caller's. */
int worker_start(struct worker *w);
void worker_run(struct worker *w);
void worker_join(struct worker *w);
/* Thread-safe: stop accepting, let in-flight requests finish (or the
 * shutdown timeout pass), then leave the loop. */
void worker_request_stop(struct worker *w);
/* Called by a client when it goes away, so a stopping worker can finish. */
void worker_client_gone(struct worker *w);
/* Idle origin connections (for the admin view). */
size_t origin_pool_idle_count(struct worker *w);
/* Wall clock in seconds and microseconds, from the loop's cached time. */
int64_t worker_now_s(struct worker *w);
int64_t worker_now_us(struct worker *w);

#endif
