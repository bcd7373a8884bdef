/* The balancer object (see balancer.h): accepting, health verdicts, the
 * backend set's changes, draining and the graceful stop. */
#include "balancer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "health.h"
#include "log.h"
#include "relay.h"
#include "timeutil.h"

/* Accepting paused this long when the process is out of descriptors, so a
 * listener that stays readable does not spin (HAProxy does the same). */
#define ACCEPT_RETRY_MS 100
/* How often drain deadlines and the stop are looked at. */
#define TICK_MS 100

static double tau_us(const struct balancer *bal)
{
    return (double)bal->cfg->ewma_decay_ms * 1000.0;
}

static double prior_us(const struct balancer *bal)
{
    return (double)bal->cfg->ewma_initial_us;
}

void balancer_set_changed(struct balancer *bal)
{
    bal->set->generation++;
}

struct backend *balancer_pick(struct balancer *bal, const struct sockaddr *client,
                              struct backend *const *exclude, size_t nexclude)
{
    if (bal->pick_generation != bal->set->generation) {
        if (bal->pick->update)
            bal->pick->update(bal->pick_priv, bal->set->b, bal->set->n);
        bal->pick_generation = bal->set->generation;
    }
    struct pick_ctx ctx = {
        .now_us = balancer_now_us(),
        .ewma_tau_us = tau_us(bal),
        .slowstart_us = (int64_t)bal->cfg->slowstart_ms * 1000,
        .client = client,
        .rng = &bal->rng,
    };
    for (size_t i = 0; i < nexclude && i < PICK_MAX_EXCLUDE; i++)
        ctx.exclude[ctx.nexclude++] = exclude[i];
    return bal->pick->pick(bal->pick_priv, bal->set->b, bal->set->n, &ctx);
}

/* ----------------------------------------------------------------- health */

static void go_down(struct balancer *bal, struct backend *b, const char *cause)
{
    log_warn("backend %s (%s) is down: %s", b->spec.name,
             b->spec.has_health ? "checked by GET /healthz" : "checked by TCP connect", cause);
    backend_transition(b, BACKEND_DOWN, cause);
    balancer_set_changed(bal);
}

void balancer_check_passed(struct balancer *bal, struct backend *b, const char *detail)
{
    snprintf(b->last_check, sizeof(b->last_check), "passed: %s", detail);
    b->fail_streak = 0;
    b->ok_streak++;
    if (b->state == BACKEND_DOWN && b->ok_streak >= bal->cfg->rise) {
        char cause[112];
        snprintf(cause, sizeof(cause), "%d checks passed (%s)", b->ok_streak, detail);
        log_info("backend %s is up: %s", b->spec.name, cause);
        backend_transition(b, BACKEND_UP, cause);
        b->up_since_us = balancer_now_us();
        b->slowstart = bal->cfg->slowstart_ms > 0;
        balancer_set_changed(bal);
    }
}

static void count_failure(struct balancer *bal, struct backend *b, const char *what,
                          const char *detail)
{
    b->ok_streak = 0;
    b->fail_streak++;
    if (b->state == BACKEND_UP && b->fail_streak >= bal->cfg->fall) {
        char cause[112];
        snprintf(cause, sizeof(cause), "%d consecutive failures, last %s: %s", b->fail_streak, what,
                 detail);
        go_down(bal, b, cause);
        /* Checks now watch for it to come back. */
        health_soon(bal, b);
    }
}

void balancer_check_failed(struct balancer *bal, struct backend *b, const char *detail)
{
    snprintf(b->last_check, sizeof(b->last_check), "failed: %s", detail);
    count_failure(bal, b, "check", detail);
}

void balancer_traffic_failed(struct balancer *bal, struct backend *b, const char *detail)
{
    /* A failed connection is as bad as waiting out a connect timeout: the
     * peak-EWMA jumps there and decays, so p2c-ewma avoids a backend that
     * fails on traffic even while its (layer 4) checks still pass. */
    ewma_observe(&b->ewma, (double)bal->cfg->connect_timeout_ms * 1000.0, balancer_now_us(),
                 tau_us(bal));
    count_failure(bal, b, "on traffic", detail);
    /* Confirm quickly rather than wait a whole interval (HAProxy's
     * on-error fastinter). */
    if (b->state == BACKEND_UP)
        health_soon(bal, b);
}

void balancer_traffic_ok(struct balancer *bal, struct backend *b)
{
    (void)bal;
    if (b->state == BACKEND_UP)
        b->fail_streak = 0;
}

/* -------------------------------------------------------------- the set */

void balancer_drain(struct balancer *bal, struct backend *b, const char *cause)
{
    if (b->state == BACKEND_DRAINING)
        return;
    log_info("backend %s draining (%s), %llu connections open", b->spec.name, cause,
             (unsigned long long)b->active);
    backend_transition(b, BACKEND_DRAINING, cause);
    b->drain_deadline_us = balancer_now_us() + (int64_t)bal->cfg->drain_timeout_ms * 1000;
    balancer_set_changed(bal);
}

void balancer_remove(struct balancer *bal, struct backend *b, const char *cause)
{
    if (b->removed)
        return;
    int64_t deadline = balancer_now_us() + (int64_t)bal->cfg->drain_timeout_ms * 1000;
    log_info("backend %s removed (%s), %llu connections left to finish", b->spec.name, cause,
             (unsigned long long)b->active);
    health_stop(bal, b);
    backend_set_remove(bal->set, b, deadline, cause);
    backend_set_reap(bal->set);
}

int balancer_replace(struct balancer *bal, const struct backend_spec *specs, size_t n, char *err,
                     size_t errlen)
{
    /* Room check first, so a refused PUT changes nothing. */
    size_t added = 0;
    for (size_t i = 0; i < n; i++)
        added += backend_set_find(bal->set, specs[i].name) == NULL;
    if (bal->set->n + added > sizeof(bal->set->b) / sizeof(bal->set->b[0])) {
        snprintf(err, errlen, "too many backends still draining to add %zu more", added);
        return -1;
    }
    int64_t now = balancer_now_us();
    /* Members not named again leave: picked out first, because a removal
     * may free (reap) a backend and so shift the set's array under a loop. */
    struct backend *leaving[sizeof(bal->set->b) / sizeof(bal->set->b[0])];
    size_t nleaving = 0;
    for (size_t i = 0; i < bal->set->n; i++) {
        struct backend *b = bal->set->b[i];
        if (b->removed)
            continue;
        int named = 0;
        for (size_t k = 0; k < n && !named; k++)
            named = strcmp(specs[k].name, b->spec.name) == 0;
        if (!named)
            leaving[nleaving++] = b;
    }
    for (size_t i = 0; i < nleaving; i++)
        balancer_remove(bal, leaving[i], "not in the new backend set (PUT)");
    for (size_t k = 0; k < n; k++) {
        struct backend *b = backend_set_find(bal->set, specs[k].name);
        if (b) {
            if (!addr_equal(&b->spec.address, &specs[k].address))
                log_info("backend %s moves to a new address; open connections stay", b->spec.name);
            b->spec = specs[k];
            if (b->state == BACKEND_DRAINING) {
                backend_transition(b, BACKEND_UP, "in the backend set again (PUT)");
                b->drain_deadline_us = 0;
            }
            health_start(bal, b); /* the health address may have changed */
            continue;
        }
        b = backend_set_add(bal->set, &specs[k], prior_us(bal), now);
        if (!b) {
            snprintf(err, errlen, "out of memory adding backend %s", specs[k].name);
            return -1;
        }
        char a[ADDR_STRLEN];
        addr_format(&b->spec.address, a, sizeof(a));
        log_info("backend %s at %s added", b->spec.name, a);
        health_start(bal, b);
    }
    balancer_set_changed(bal);
    return 0;
}

void balancer_reset_stats(struct balancer *bal)
{
    int64_t now = balancer_now_us();
    for (size_t i = 0; i < bal->set->n; i++)
        backend_reset_stats(bal->set->b[i], prior_us(bal), now);
    bal->accepted = bal->refused_max_conns = bal->refused_no_backend = bal->redispatched = 0;
    bal->epoch_started_ms = balancer_wall_ms();
    log_info("statistics reset: a new measurement epoch starts");
}

/* ------------------------------------------------------------ accepting */

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    struct balancer *bal = arg;
    bal->accepted++;
    if (bal->nrelays >= (uint64_t)bal->cfg->max_conns) {
        /* Refused at once, not queued: the client can go elsewhere. */
        bal->refused_max_conns++;
        close(fd);
        return;
    }
    relay_start(bal, fd, sa, (socklen_t)salen);
}

static void set_accepting(struct balancer *bal, int on)
{
    for (size_t i = 0; i < bal->nlisteners; i++) {
        if (on)
            evconnlistener_enable(bal->listeners[i]);
        else
            evconnlistener_disable(bal->listeners[i]);
    }
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    struct balancer *bal = arg;
    int err = EVUTIL_SOCKET_ERROR();
    log_warn("accept failed: %s; pausing accepts for %d ms", evutil_socket_error_to_string(err),
             ACCEPT_RETRY_MS);
    set_accepting(bal, 0);
    struct timeval tv = tv_from_ms(ACCEPT_RETRY_MS);
    event_add(bal->accept_retry, &tv);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    struct balancer *bal = arg;
    if (!bal->stopping)
        set_accepting(bal, 1);
}

int balancer_listen(struct balancer *bal, char *err, size_t errlen)
{
    for (size_t i = 0; i < bal->cfg->nlisten; i++) {
        char e[160], a[ADDR_STRLEN];
        addr_format(&bal->cfg->listen[i], a, sizeof(a));
        int fd = addr_listen_tcp(&bal->cfg->listen[i], 0, 0, e, sizeof(e));
        if (fd < 0) {
            snprintf(err, errlen, "listen on %s: %s", a, e);
            return -1;
        }
        struct evconnlistener *l = evconnlistener_new(
            bal->base, on_accept, bal, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
        if (!l) {
            close(fd);
            snprintf(err, errlen, "listen on %s: evconnlistener_new failed", a);
            return -1;
        }
        evconnlistener_set_error_cb(l, on_accept_error);
        bal->listeners[bal->nlisteners++] = l;
        log_info("listening on %s", a);
    }
    return 0;
}

/* ------------------------------------------------------------------ tick */

static void cut_relays_of(struct backend *b, const char *why)
{
    struct relay *r;
    while ((r = TAILQ_FIRST(&b->relays)) != NULL)
        relay_cut(r, why);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct balancer *bal = arg;
    int64_t now = balancer_now_us();
    for (size_t i = 0; i < bal->set->n; i++) {
        struct backend *b = bal->set->b[i];
        if (b->state == BACKEND_DRAINING && b->drain_deadline_us && now >= b->drain_deadline_us &&
            !TAILQ_EMPTY(&b->relays)) {
            log_warn("backend %s: drain timeout, cutting %llu connections", b->spec.name,
                     (unsigned long long)b->active);
            cut_relays_of(b, "drain timeout");
        }
    }
    if (backend_set_reap(bal->set))
        balancer_set_changed(bal);
    if (bal->stopping) {
        if (bal->nrelays == 0) {
            log_info("every connection finished; exiting");
            event_base_loopbreak(bal->base);
        } else if (now >= bal->stop_deadline_us) {
            log_warn("stop: drain timeout, cutting %llu connections",
                     (unsigned long long)bal->nrelays);
            struct relay *r;
            while ((r = TAILQ_FIRST(&bal->relays)) != NULL)
                relay_cut(r, "stop deadline");
            event_base_loopbreak(bal->base);
        }
    }
}

void balancer_stop(struct balancer *bal)
{
    if (bal->stopping)
        return;
    bal->stopping = 1;
    bal->stop_deadline_us = balancer_now_us() + (int64_t)bal->cfg->drain_timeout_ms * 1000;
    /* Unbind, not just stop accepting: the kernel would otherwise keep
     * completing handshakes into the backlog that no one will serve. */
    for (size_t i = 0; i < bal->nlisteners; i++)
        evconnlistener_free(bal->listeners[i]);
    bal->nlisteners = 0;
    log_info("stopping: listeners closed; %llu connections to finish (up to %llu ms)",
             (unsigned long long)bal->nrelays, (unsigned long long)bal->cfg->drain_timeout_ms);
    on_tick(-1, 0, bal);
}

/* ------------------------------------------------------------ lifecycle */

struct balancer *balancer_new(struct event_base *base, const struct balancer_config *cfg, char *err,
                              size_t errlen)
{
    struct balancer *bal = calloc(1, sizeof(*bal));
    if (!bal) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    bal->magic = BALANCER_MAGIC;
    bal->base = base;
    bal->cfg = cfg;
    TAILQ_INIT(&bal->relays);
    bal->epoch_started_ms = balancer_wall_ms();
    bal->rng = (uint64_t)balancer_now_us() ^ ((uint64_t)getpid() << 32);
    bal->pick = pick_find(cfg->algo);
    bal->set = backend_set_new();
    bal->accept_retry = evtimer_new(base, on_accept_retry, bal);
    bal->tick = event_new(base, -1, EV_PERSIST, on_tick, bal);
    if (!bal->pick || !bal->set || !bal->accept_retry || !bal->tick) {
        snprintf(err, errlen, "out of memory (or unknown algorithm %s)", cfg->algo);
        goto fail;
    }
    if (bal->pick->create && !(bal->pick_priv = bal->pick->create())) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    struct timeval tv = tv_from_ms(TICK_MS);
    event_add(bal->tick, &tv);
    if (balancer_replace(bal, cfg->backends, cfg->nbackends, err, errlen) < 0)
        goto fail;
    return bal;
fail:
    balancer_free(bal);
    return NULL;
}

void balancer_free(struct balancer *bal)
{
    if (!bal)
        return;
    struct relay *r;
    while ((r = TAILQ_FIRST(&bal->relays)) != NULL)
        relay_cut(r, "exit");
    for (size_t i = 0; i < bal->nlisteners; i++)
        evconnlistener_free(bal->listeners[i]);
    if (bal->set) {
        for (size_t i = 0; i < bal->set->n; i++)
            health_stop(bal, bal->set->b[i]);
        backend_set_free(bal->set);
    }
    if (bal->pick && bal->pick->destroy && bal->pick_priv)
        bal->pick->destroy(bal->pick_priv);
    if (bal->accept_retry)
        event_free(bal->accept_retry);
    if (bal->tick)
        event_free(bal->tick);
    relay_pipes_release();
    bal->magic = 0;
    free(bal);
}
