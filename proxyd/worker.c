/* Worker threads: each owns an event loop with its listeners, cache, table
 * of fetches in flight and origin pool, and serves every connection it
 * accepts from start to end. Graceful stop: close the listeners, let
 * in-flight requests finish and idle connections go, leave the loop when no
 * client is left or the shutdown timeout passes. */
#include "worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/time.h>
#include <time.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "accesslog.h"
#include "cache.h"
#include "client.h"
#include "log.h"
#include "object.h"
#include "origin.h"
#include "timeutil.h"

/* Listen backlog: 1000 clients may connect at once (the paper's load). */
#define WORKER_BACKLOG 4096

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    struct worker *w = arg;
    const struct listen_spec *ls = NULL;
    for (size_t i = 0; i < w->nlisteners; i++)
        if (w->listeners[i] == l)
            ls = w->listen_specs[i];
    client_accept(w, ls, fd, sa, len);
}

static void listener_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    evconnlistener_enable(arg);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    struct worker *w = arg;
    int err = EVUTIL_SOCKET_ERROR();
    log_warn("worker %d: accept failed: %s", w->id, evutil_socket_error_to_string(err));
    if (err == EMFILE || err == ENFILE) {
        /* Out of descriptors: pause accepting for a moment rather than spin
         * on a listener that stays readable. Existing clients go on. */
        evconnlistener_disable(l);
        struct timeval tv = tv_from_ms(100);
        event_base_once(w->base, -1, EV_TIMEOUT, listener_resume_cb, l, &tv);
    }
}

static void worker_maybe_exit(struct worker *w)
{
    if (w->stopping && TAILQ_EMPTY(&w->clients))
        event_base_loopexit(w->base, NULL);
}

void worker_client_gone(struct worker *w)
{
    worker_maybe_exit(w);
}

static void stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    size_t n = 0;
    struct client *c;
    TAILQ_FOREACH(c, &w->clients, link)
    n++;
    log_warn("worker %d: shutdown timeout, closing %zu connections still open", w->id, n);
    while ((c = TAILQ_FIRST(&w->clients)))
        client_close(c);
    event_base_loopexit(w->base, NULL);
}

static void stop_ev_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    if (w->stopping)
        return;
    w->stopping = 1;
    for (size_t i = 0; i < w->nlisteners; i++) {
        evconnlistener_free(w->listeners[i]);
        w->listeners[i] = NULL;
    }
    w->nlisteners = 0;
    struct client *c, *next;
    for (c = TAILQ_FIRST(&w->clients); c; c = next) {
        next = TAILQ_NEXT(c, link);
        client_drain(c);
    }
    uint64_t ms = w->cfg->shutdown_timeout_ms;
    struct timeval tv = tv_from_ms(ms);
    evtimer_add(w->stop_timer, &tv);
    worker_maybe_exit(w);
}

void worker_request_stop(struct worker *w)
{
    event_active(w->stop_ev, EV_READ, 0);
}

static int worker_open_listeners(struct worker *w, int nworkers, char *err, size_t errlen)
{
    const struct proxyd_config *cfg = w->cfg;
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        const struct listen_spec *ls = &cfg->listeners[i];
        int fd = addr_listen_tcp(&ls->addr, WORKER_BACKLOG, nworkers > 1, err, errlen);
        if (fd < 0)
            return -1;
        struct evconnlistener *l = evconnlistener_new(
            w->base, accept_cb, w, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
        if (!l) {
            close(fd);
            snprintf(err, errlen, "evconnlistener_new failed");
            return -1;
        }
        evconnlistener_set_error_cb(l, accept_error_cb);
        w->listeners[w->nlisteners] = l;
        w->listen_specs[w->nlisteners] = ls;
        w->nlisteners++;
    }
    return 0;
}

struct worker *worker_new(int id, const struct proxyd_config *cfg, int nworkers, char *err,
                          size_t errlen)
{
    struct worker *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->id = id;
    w->cfg = cfg;
    TAILQ_INIT(&w->clients);
    /* The changelist folds the add/remove pairs of one loop pass into one
     * epoll_ctl (a body streamed to a client toggles its write event). */
    struct event_config *ecfg = event_config_new();
    if (ecfg) {
        event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
        w->base = event_base_new_with_config(ecfg);
        event_config_free(ecfg);
    }
    if (!w->base) {
        snprintf(err, errlen, "event_base_new failed");
        goto fail;
    }
    /* Name resolution from /etc/resolv.conf and /etc/hosts; a host without
     * nameservers still resolves literals and hosts-file names. */
    w->dns = evdns_base_new(w->base, 0);
    if (w->dns) {
        evdns_base_resolv_conf_parse(w->dns, DNS_OPTIONS_ALL, "/etc/resolv.conf");
        evdns_base_load_hosts(w->dns, NULL);
    }
    if (cfg->cache_enabled) {
        /* Each worker caches on its own: the memory budget is split. */
        /* --max-object-size bounds the body (fetch.c enforces it); the
         * cache's per-object bound also allows for the stored head and
         * bookkeeping, so an object of exactly the limit is cached. */
        w->cache = cache_new(cfg->cache_mem_bytes / (uint64_t)nworkers,
                             cfg->max_object_bytes + OBJECT_OVERHEAD_BYTES, object_release_cb);
        if (!w->cache) {
            snprintf(err, errlen, "out of memory for the cache");
            goto fail;
        }
        cache_set_vary_limits(w->cache, (size_t)cfg->max_variants, (size_t)cfg->max_vary_bytes);
    }
    w->inflight = object_table_new();
    w->origins = origin_pool_new(w->base, w->dns);
    w->latency = histogram_new();
    w->stop_ev = event_new(w->base, -1, 0, stop_ev_cb, w);
    w->stop_timer = evtimer_new(w->base, stop_timer_cb, w);
    if (!w->inflight || !w->origins || !w->latency || !w->stop_ev || !w->stop_timer) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    w->log = accesslog_new(w->base);
    if (worker_open_listeners(w, nworkers, err, errlen) < 0)
        goto fail;
    return w;
fail:
    worker_free(w);
    return NULL;
}

void worker_free(struct worker *w)
{
    if (!w)
        return;
    struct client *c;
    while ((c = TAILQ_FIRST(&w->clients)))
        client_close(c);
    for (size_t i = 0; i < w->nlisteners; i++)
        if (w->listeners[i])
            evconnlistener_free(w->listeners[i]);
    accesslog_free(w->log);
    cache_free(w->cache);
    object_table_free(w->inflight);
    origin_pool_free(w->origins);
    histogram_free(w->latency);
    if (w->stop_ev)
        event_free(w->stop_ev);
    if (w->stop_timer)
        event_free(w->stop_timer);
    if (w->dns)
        evdns_base_free(w->dns, 0);
    if (w->base)
        event_base_free(w->base);
    free(w);
}

void worker_run(struct worker *w)
{
    event_base_dispatch(w->base);
}

static void *worker_thread(void *arg)
{
    worker_run(arg);
    return NULL;
}

int worker_start(struct worker *w)
{
    return pthread_create(&w->thread, NULL, worker_thread, w) == 0 ? 0 : -1;
}

void worker_join(struct worker *w)
{
    pthread_join(w->thread, NULL);
}

int64_t worker_now_us(struct worker *w)
{
    /* The real clock, not the loop's cached one: a hit is served within one
     * loop iteration and its latency would read as zero. (vDSO: no syscall.) */
    (void)w;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t worker_now_s(struct worker *w)
{
    return worker_now_us(w) / 1000000;
}

size_t origin_pool_idle_count(struct worker *w)
{
    return origin_pool_idle(w->origins);
}
