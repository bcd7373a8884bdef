/* Steering clients to instances: the partition of --clients over the ready
 * instances, installed by the forwarding mode in force (fwd_nat.c,
 * fwd_route.c; fwd_balancer.c takes the ready instances as its backend set
 * and picks one per connection), recomputed by the pool at each scale step.
 * A mode's operations may answer PP_AGAIN (forwarding.h): a switch, an exit
 * and a fresh observation are jobs a timer drives to their end, and the
 * pool polls steer_apply from its own tick; nothing here waits. */
#include "steer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include <event2/event.h>

#include "forward/backendset.h"
#include "config.h"
#include "forward/forwarding.h"
#include "log.h"
#include "pool.h"
#include "registry.h"

/* Polling cadence of a job under way: a mode's wait ends within a few
 * milliseconds of what it waits for (the pool ticks as often). */
#define STEER_POLL_MS 2

/* Someone waiting for a fresh observation (the API, for a GET). */
struct steer_waiter {
    steer_done_cb done;
    void *ctx;
    struct steer_waiter *next;
};

enum steer_job {
    STEER_JOB_NONE = 0,
    STEER_JOB_SWITCH,   /* init next, install it, clear the old mode */
    STEER_JOB_SHUTDOWN, /* clear the mode */
};

struct steer {
    const struct manager_config *cfg;
    struct pool *pool; /* read: the instances to send clients to */
    struct spawn_reaper *reaper;
    struct client_range ranges[MANAGER_MAX_CLIENT_RANGES];
    size_t nranges;
    uint32_t nclients;
    struct fwd *fwd; /* NULL in mode "none" */
    char mode[16];
    struct partition part;
    int have_part;
    /* Where part's instances were reached when it was installed or last
     * reconciled: a restarted instance found elsewhere (a Swarm task gets
     * new published ports) is reconciled at once, not a period later. */
    struct fwd_target installed[POOL_MAX_INSTANCES];
    int ninstalled;
    int64_t last_swap_at_ms;
    uint32_t last_moved;
    struct event *timer; /* drives the job and the refresh */
    struct {
        enum steer_job kind;
        int phase;        /* SWITCH: 0 init, 1 install, 2 clear the old */
        struct fwd *next; /* SWITCH: the new mode (NULL for "none") */
        int keep;         /* SWITCH to the mode in force: nothing to do */
        char mode[16];
        steer_done_cb done;
        void *ctx;
    } job;
    int applied;  /* steer_apply: installed; now observing */
    int stepping; /* steer_apply answered PP_AGAIN: a scale step is under way */
    struct {
        struct event *timer; /* every --reconcile-interval; NULL when 0 */
        int active;          /* a reconcile answered PP_AGAIN: polled until it ends */
        struct steer_reconcile_stats stats;
    } reconcile;
    struct {
        int pending; /* asked while a switch ran: starts when it ends */
        steer_done_cb done;
        void *ctx;
    } shutdown;
    struct steer_waiter *waiters;
    int adopting; /* steer_new, while the pool holds adopted instances */
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fwd_config_fill(const struct steer *s, struct fwd_config *fc)
{
    memset(fc, 0, sizeof(*fc));
    fc->prefix = s->cfg->prefix;
    const struct sockaddr_in *vip = (const struct sockaddr_in *)&s->cfg->vip.ss;
    fc->vip = vip->sin_addr;
    fc->vip_port = (uint16_t)addr_port(&s->cfg->vip);
    fc->bridge = s->cfg->bridge;
    fc->manager = s->cfg;
    fc->base = pool_event_base(s->pool);
    fc->reaper = s->reaper;
    fc->adopt = s->adopting;
}

static void fwd_free(struct fwd *f)
{
    if (!f)
        return;
    if (f->ops->free)
        f->ops->free(f);
    free(f);
}

/* Removes what f installed: 0 when done (a failure is logged: the mode
 * goes anyway), PP_AGAIN while it is at it. */
static int fwd_clear(struct fwd *f)
{
    char err[256];
    if (!f)
        return 0;
    int rc = f->ops->clear(f, err, sizeof(err));
    if (rc == PP_AGAIN)
        return PP_AGAIN;
    if (rc < 0)
        log_error("steer: removing %s rules failed: %s", f->ops->name, err);
    return 0;
}

static void steer_kick(struct steer *s)
{
    struct timeval tv = {0, STEER_POLL_MS * 1000};
    if (!evtimer_pending(s->timer, NULL))
        evtimer_add(s->timer, &tv);
}

/* Where instances 1..n are reached, as the modes take them: 0, or -1
 * with err. */
static int steer_targets(struct steer *s, int n, struct fwd_target *targets, char *err,
                         size_t errlen)
{
    for (int id = 1; id <= n; id++) {
        const struct instance *in = pool_instance(s->pool, id);
        memset(&targets[id - 1], 0, sizeof(targets[0]));
        targets[id - 1].instance_id = id;
        if (!in || in->address.ss.ss_family != AF_INET) {
            snprintf(err, errlen, "instance %d has no IPv4 address to send clients to", id);
            return -1;
        }
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&in->address.ss;
        targets[id - 1].addr = sin->sin_addr;
        targets[id - 1].port = (uint16_t)addr_port(&in->address);
        snprintf(targets[id - 1].name, sizeof(targets[0].name), "%s", in->name);
        targets[id - 1].pid = in->pid;
        if (in->admin.ss.ss_family == AF_INET) {
            const struct sockaddr_in *adm = (const struct sockaddr_in *)&in->admin.ss;
            targets[id - 1].admin_addr = adm->sin_addr;
            targets[id - 1].admin_port = (uint16_t)addr_port(&in->admin);
        }
    }
    return 0;
}

/* Installs a partition over instances 1..n with f: 0, -1 with err, or
 * PP_AGAIN while the mode is at it. */
static int steer_install(struct steer *s, struct fwd *f, int n, char *err, size_t errlen)
{
    struct partition next;
    memset(&next, 0, sizeof(next));
    if (partition_compute(s->ranges, s->nranges, n, &next, err, errlen) < 0)
        return -1;
    struct fwd_target targets[POOL_MAX_INSTANCES];
    if (steer_targets(s, n, targets, err, errlen) < 0) {
        partition_free(&next);
        return -1;
    }
    int rc = f->ops->apply(f, &next, targets, err, errlen);
    if (rc < 0) {
        partition_free(&next);
        return rc; /* -1, or PP_AGAIN: asked again with the same state */
    }
    s->last_moved = s->have_part ? partition_moved(&s->part, &next) : next.clients;
    if (s->have_part)
        partition_free(&s->part);
    s->part = next;
    s->have_part = 1;
    memcpy(s->installed, targets, sizeof(targets[0]) * (size_t)n);
    s->ninstalled = n;
    s->last_swap_at_ms = wall_ms();
    if (f->ops->per_connection)
        log_info("steer: %s: %d instances as its backends, set in %lld us", f->ops->name, n,
                 (long long)f->last_swap_us);
    else
        log_info("steer: %s: %u clients over %d instances in %zu rules, swapped in %lld us, "
                 "%u clients moved",
                 f->ops->name, next.clients, n, f->rules, (long long)f->last_swap_us,
                 s->last_moved);
    return 0;
}

static void steer_job_step(struct steer *s);
static void steer_refresh_step(struct steer *s);
static void steer_reconcile_step(struct steer *s);

static void steer_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct steer *s = arg;
    (void)fd;
    (void)what;
    /* A reconcile under way ends before a job touches the mode. */
    if (s->reconcile.active)
        steer_reconcile_step(s);
    if (s->job.kind != STEER_JOB_NONE && !s->reconcile.active)
        steer_job_step(s);
    if (s->waiters)
        steer_refresh_step(s);
    if (s->job.kind != STEER_JOB_NONE || s->waiters || s->reconcile.active)
        steer_kick(s);
}

/* ---- reconcile: the mode's state against the partition last installed ---- */

static const char *const drift_names[FWD_DRIFT_KINDS] = {
    [FWD_DRIFT_RULE] = "rule",       [FWD_DRIFT_JUMP] = "jump",       [FWD_DRIFT_ROUTE] = "route",
    [FWD_DRIFT_ADDRESS] = "address", [FWD_DRIFT_BACKEND] = "backend",
};

_Static_assert(STEER_DRIFT_KINDS == FWD_DRIFT_KINDS, "steer.h counts every kind of drift");

const char *steer_drift_name(int kind)
{
    return kind >= 0 && kind < FWD_DRIFT_KINDS ? drift_names[kind] : NULL;
}

/* One call of the mode's reconcile with the desired state: the partition
 * it installed and the instances that partition names, as they are now.
 * Ends the run (counted, repairs logged) unless the mode answers
 * PP_AGAIN, when the poll timer asks again. */
static void steer_reconcile_step(struct steer *s)
{
    char err[400];
    struct fwd_drift drift;
    struct fwd_target targets[POOL_MAX_INSTANCES];
    memset(&drift, 0, sizeof(drift));
    int n = (int)s->part.nblocks;
    if (steer_targets(s, n, targets, err, sizeof(err)) < 0) {
        /* One is between a death and its restart: nothing to compare it
         * with yet; its ready (or the next period) looks again. */
        s->reconcile.active = 0;
        log_info("steer: reconcile of %s skipped: %s", s->fwd->ops->name, err);
        return;
    }
    int rc = s->fwd->ops->reconcile(s->fwd, &s->part, targets, &drift, err, sizeof(err));
    if (rc == PP_AGAIN) {
        s->reconcile.active = 1;
        return;
    }
    s->reconcile.active = 0;
    s->reconcile.stats.runs++;
    if (rc < 0) {
        s->reconcile.stats.failures++;
        log_error("steer: reconcile of %s failed: %s", s->fwd->ops->name, err);
        return;
    }
    memcpy(s->installed, targets, sizeof(targets[0]) * (size_t)n);
    s->ninstalled = n;
    char what[200] = "";
    size_t len = 0;
    for (int k = 0; k < FWD_DRIFT_KINDS; k++) {
        if (drift.count[k] == 0)
            continue;
        s->reconcile.stats.repairs[k] += drift.count[k];
        if (len < sizeof(what))
            len += (size_t)snprintf(what + len, sizeof(what) - len, "%s%u %s%s", len ? ", " : "",
                                    drift.count[k], drift_names[k], drift.count[k] == 1 ? "" : "s");
    }
    if (len)
        log_warn("steer: reconcile: %s had drifted (%s not as installed); repaired",
                 s->fwd->ops->name, what);
}

/* Every --reconcile-interval: a run starts when the mode has a reconcile,
 * has installed something, and no switch, scale step or run is under way
 * (those install the desired state themselves; the next period checks). */
static void steer_reconcile_cb(evutil_socket_t fd, short what, void *arg)
{
    struct steer *s = arg;
    (void)fd;
    (void)what;
    if (!s->fwd || !s->fwd->ops->reconcile || !s->have_part || s->reconcile.active || s->stepping ||
        s->job.kind != STEER_JOB_NONE)
        return;
    steer_reconcile_step(s);
    if (s->reconcile.active)
        steer_kick(s);
}

static int target_moved(const struct fwd_target *was, const struct fwd_target *now)
{
    return was->addr.s_addr != now->addr.s_addr || was->port != now->port ||
           was->admin_addr.s_addr != now->admin_addr.s_addr || was->admin_port != now->admin_port;
}

void steer_instances_changed(struct steer *s)
{
    if (!s->fwd || !s->fwd->ops->reconcile || !s->have_part || s->reconcile.active || s->stepping ||
        s->job.kind != STEER_JOB_NONE || s->ninstalled != (int)s->part.nblocks)
        return;
    struct fwd_target now[POOL_MAX_INSTANCES];
    char err[200];
    if (steer_targets(s, s->ninstalled, now, err, sizeof(err)) < 0)
        return; /* one is not placed yet: its ready or the period looks again */
    for (int i = 0; i < s->ninstalled; i++) {
        if (!target_moved(&s->installed[i], &now[i]))
            continue;
        char a[ADDR_STRLEN];
        const struct instance *in = pool_instance(s->pool, i + 1);
        addr_format(&in->address, a, sizeof(a));
        log_info("steer: %s is now at %s: reconciling %s now", now[i].name, a, s->fwd->ops->name);
        steer_reconcile_step(s);
        if (s->reconcile.active)
            steer_kick(s);
        return;
    }
}

const struct steer_reconcile_stats *steer_reconcile_stats(const struct steer *s)
{
    return &s->reconcile.stats;
}

/* Runs the loop until the job under way ends: at start, before the API
 * serves, and at exit after a failure, when there is nothing else to do. */
static void steer_finish_job(struct steer *s)
{
    struct event_base *base = pool_event_base(s->pool);
    while (s->job.kind != STEER_JOB_NONE)
        event_base_loop(base, EVLOOP_ONCE);
}

struct steer_sync {
    int ok;
    char msg[512];
};

static void on_sync_done(void *ctx, int ok, const char *message)
{
    struct steer_sync *r = ctx;
    r->ok = ok;
    snprintf(r->msg, sizeof(r->msg), "%s", message ? message : "");
}

struct steer *steer_new(const struct manager_config *cfg, struct pool *pool,
                        struct spawn_reaper *reaper, char *err, size_t errlen)
{
    struct steer *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    s->pool = pool;
    s->reaper = reaper;
    for (size_t i = 0; i < cfg->nclient_ranges; i++) {
        s->ranges[i] = cfg->client_ranges[i];
        s->nclients += cfg->client_ranges[i].last - cfg->client_ranges[i].first + 1;
    }
    s->nranges = cfg->nclient_ranges;
    snprintf(s->mode, sizeof(s->mode), "none");
    s->timer = evtimer_new(pool_event_base(pool), steer_timer_cb, s);
    if (!s->timer) {
        snprintf(err, errlen, "out of memory");
        free(s);
        return NULL;
    }
    if (cfg->reconcile_interval_ms > 0) {
        s->reconcile.timer =
            event_new(pool_event_base(pool), -1, EV_PERSIST, steer_reconcile_cb, s);
        struct timeval tv = {(time_t)(cfg->reconcile_interval_ms / 1000),
                             (suseconds_t)(cfg->reconcile_interval_ms % 1000 * 1000)};
        if (!s->reconcile.timer || evtimer_add(s->reconcile.timer, &tv) < 0) {
            snprintf(err, errlen, "out of memory");
            if (s->reconcile.timer)
                event_free(s->reconcile.timer);
            event_free(s->timer);
            free(s);
            return NULL;
        }
    }
    /* A balancer (and the VIP on lo) a crashed run left would take the
     * clients' packets whatever the mode now is. */
    struct fwd_config fc;
    fwd_config_fill(s, &fc);
    if (fwd_balancer_remove_leftovers(&fc, err, errlen) < 0) {
        if (s->reconcile.timer)
            event_free(s->reconcile.timer);
        event_free(s->timer);
        free(s);
        return NULL;
    }
    const struct fwd_ops *ops;
    if (registry_forwarding(cfg->forwarding, &ops) < 0) {
        snprintf(err, errlen, "no forwarding mode '%s'", cfg->forwarding);
        steer_free(s);
        return NULL;
    }
    if (ops) {
        int status;
        struct steer_sync r = {0, ""};
        s->adopting = pool_adopted(pool) > 0;
        if (steer_set_mode(s, ops, on_sync_done, &r, &status, err, errlen) < 0) {
            steer_free(s);
            return NULL;
        }
        steer_finish_job(s);
        s->adopting = 0;
        if (!r.ok) {
            snprintf(err, errlen, "%s", r.msg);
            steer_free(s);
            return NULL;
        }
    }
    return s;
}

void steer_free(struct steer *s)
{
    if (!s)
        return;
    /* No run starts now; one under way ends before the shutdown clears. */
    if (s->reconcile.timer)
        event_del(s->reconcile.timer);
    if (s->job.kind == STEER_JOB_NONE && s->fwd)
        steer_shutdown(s, NULL, NULL);
    steer_finish_job(s);
    if (s->have_part)
        partition_free(&s->part);
    for (struct steer_waiter *w = s->waiters, *next; w; w = next) {
        next = w->next;
        w->done(w->ctx, 0, "the manager is shutting down");
        free(w);
    }
    if (s->reconcile.timer)
        event_free(s->reconcile.timer);
    event_free(s->timer);
    free(s);
}

void steer_leave_installed(struct steer *s)
{
    /* A switch under way stops where it is: what it installed stays too,
     * and the next manager's init of another mode removes it. */
    fwd_free(s->job.next);
    s->job.next = NULL;
    s->job.kind = STEER_JOB_NONE;
    s->shutdown.pending = 0;
    if (s->fwd)
        s->fwd->keep = 1;
    fwd_free(s->fwd);
    s->fwd = NULL;
}

int steer_busy(const struct steer *s)
{
    return s->job.kind != STEER_JOB_NONE;
}

static void steer_job_end(struct steer *s, int ok, const char *message)
{
    steer_done_cb done = s->job.done;
    void *ctx = s->job.ctx;
    s->job.kind = STEER_JOB_NONE;
    s->job.next = NULL;
    if (done)
        done(ctx, ok, message);
    if (s->shutdown.pending) {
        s->shutdown.pending = 0;
        steer_shutdown(s, s->shutdown.done, s->shutdown.ctx);
    }
}

/* A switch: the new mode is set up and installed for the pool as it is
 * before the old one goes, so clients are always sent somewhere. */
static void steer_switch_step(struct steer *s)
{
    char err[400] = "", msg[512];
    struct fwd *next = s->job.next;
    int rc = 0;
    if (s->job.keep) {
        steer_job_end(s, 1, NULL);
        return;
    }
    if (s->job.phase == 0 && next) {
        rc = next->ops->init(next, err, sizeof(err));
        if (rc == 0)
            s->job.phase = 1;
    }
    if (rc == 0 && s->job.phase == 1 && next) {
        int n = pool_desired(s->pool);
        rc = n > 0 ? steer_install(s, next, n, err, sizeof(err)) : 0;
        if (rc == 0)
            s->job.phase = 2;
    }
    if (rc == PP_AGAIN)
        return;
    if (rc < 0) {
        /* Nothing changed: the old mode still steers. */
        if (next && next->ops->clear(next, msg, sizeof(msg)) == PP_AGAIN)
            return; /* a half-started mode is taken down first */
        fwd_free(next);
        snprintf(msg, sizeof(msg), "%s", err);
        steer_job_end(s, 0, msg);
        return;
    }
    s->job.phase = 2;
    if (fwd_clear(s->fwd) == PP_AGAIN)
        return;
    /* The new mode is in place and the old one gone. */
    fwd_free(s->fwd);
    s->fwd = next;
    if (!next && s->have_part) {
        partition_free(&s->part);
        s->have_part = 0;
    }
    log_info("steer: forwarding %s -> %s", s->mode, s->job.mode);
    if (next && s->reconcile.timer && !next->ops->reconcile)
        log_info("steer: %s mode has no reconcile: its state is not checked for drift",
                 next->ops->name);
    snprintf(s->mode, sizeof(s->mode), "%s", s->job.mode);
    steer_job_end(s, 1, NULL);
}

static void steer_job_step(struct steer *s)
{
    if (s->job.kind == STEER_JOB_SWITCH) {
        steer_switch_step(s);
    } else if (s->job.kind == STEER_JOB_SHUTDOWN) {
        if (fwd_clear(s->fwd) == PP_AGAIN)
            return;
        fwd_free(s->fwd);
        s->fwd = NULL;
        snprintf(s->mode, sizeof(s->mode), "none");
        steer_job_end(s, 1, NULL);
    }
}

static void steer_job_start(struct steer *s, enum steer_job kind, struct fwd *next,
                            const char *mode, steer_done_cb done, void *ctx)
{
    s->job.kind = kind;
    s->job.phase = 0;
    s->job.keep = 0;
    s->job.next = next;
    snprintf(s->job.mode, sizeof(s->job.mode), "%s", mode);
    s->job.done = done;
    s->job.ctx = ctx;
    steer_kick(s);
}

int steer_set_mode(struct steer *s, const struct fwd_ops *ops, steer_done_cb done, void *ctx,
                   int *status, char *err, size_t errlen)
{
    const char *mode = ops ? ops->name : "none";
    *status = 400;
    if (s->job.kind != STEER_JOB_NONE) {
        *status = 409;
        snprintf(err, errlen, "a change of the forwarding is in progress; try again when it ends");
        return -1;
    }
    if (strcmp(mode, s->mode) == 0) {
        /* Already so: answered from the loop like any switch. */
        steer_job_start(s, STEER_JOB_SWITCH, NULL, mode, done, ctx);
        s->job.keep = 1;
        return 0;
    }
    if (ops && ops->needs_containers && !pool_runtime(s->pool)->own_network) {
        snprintf(err, errlen, "%s mode needs the container runtime", mode);
        return -1;
    }
    struct fwd *next = NULL;
    if (ops) {
        *status = 500;
        next = calloc(1, sizeof(*next));
        if (!next) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        next->ops = ops;
        fwd_config_fill(s, &next->cfg);
    }
    steer_job_start(s, STEER_JOB_SWITCH, next, mode, done, ctx);
    return 0;
}

void steer_shutdown(struct steer *s, steer_done_cb done, void *ctx)
{
    if (s->job.kind != STEER_JOB_NONE) {
        s->shutdown.pending = 1;
        s->shutdown.done = done;
        s->shutdown.ctx = ctx;
        return;
    }
    steer_job_start(s, STEER_JOB_SHUTDOWN, NULL, "none", done, ctx);
}

int steer_apply(struct steer *s, int n, char *err, size_t errlen)
{
    if (!s->fwd)
        return 0;
    /* A reconcile under way writes the previous desired state: it ends
     * first (milliseconds; at most the mode's own deadline). */
    if (s->reconcile.active) {
        s->stepping = 1;
        return PP_AGAIN;
    }
    if (!s->applied) {
        int rc = steer_install(s, s->fwd, n, err, errlen);
        s->stepping = rc == PP_AGAIN;
        if (rc != 0)
            return rc;
        s->applied = 1;
        s->stepping = 1; /* observing anew */
    }
    /* A mode that counts its flows by what it observes: counted anew now,
     * before the drains that follow read it. */
    if (s->fwd->ops->refresh) {
        char rerr[256];
        int rc = s->fwd->ops->refresh(s->fwd, rerr, sizeof(rerr));
        if (rc == PP_AGAIN)
            return PP_AGAIN;
        if (rc < 0)
            log_warn("steer: %s", rerr);
    }
    s->applied = 0;
    s->stepping = 0;
    return 0;
}

int steer_retire(struct steer *s, int n, char *err, size_t errlen)
{
    if (!s->fwd || !s->fwd->ops->retire || s->job.kind != STEER_JOB_NONE)
        return 0; /* a switch or an exit clears the mode whole */
    return s->fwd->ops->retire(s->fwd, n, err, errlen);
}

/* The fresh observation the waiters asked for is in (or failed): each is
 * answered; what they show is read through steer_observe. */
static void steer_refresh_step(struct steer *s)
{
    char err[256];
    int ok = 1;
    if (s->fwd && s->fwd->ops->refresh) {
        int rc = s->fwd->ops->refresh(s->fwd, err, sizeof(err));
        if (rc == PP_AGAIN)
            return;
        ok = rc == 0;
    }
    struct steer_waiter *w = s->waiters;
    s->waiters = NULL;
    while (w) {
        struct steer_waiter *next = w->next;
        w->done(w->ctx, ok, ok ? NULL : err);
        free(w);
        w = next;
    }
}

int steer_refresh(struct steer *s, steer_done_cb done, void *ctx)
{
    if (!s->fwd || !s->fwd->ops->refresh)
        return 1;
    struct steer_waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return -1;
    w->done = done;
    w->ctx = ctx;
    w->next = s->waiters;
    s->waiters = w;
    steer_kick(s);
    return 0;
}

const char *steer_mode(const struct steer *s)
{
    return s->mode;
}

/* A mode that picks per connection partitions nothing the clients see. */
static int steer_partitions(const struct steer *s)
{
    return s->have_part && s->fwd && !s->fwd->ops->per_connection;
}

const struct partition *steer_partition(const struct steer *s)
{
    return steer_partitions(s) ? &s->part : NULL;
}

size_t steer_rules(const struct steer *s)
{
    return s->fwd ? s->fwd->rules : 0;
}

int64_t steer_last_swap_us(const struct steer *s)
{
    return s->fwd ? s->fwd->last_swap_us : 0;
}

int64_t steer_last_swap_at_ms(const struct steer *s)
{
    return s->last_swap_at_ms;
}

uint32_t steer_last_moved(const struct steer *s)
{
    return s->last_moved;
}

uint32_t steer_clients(const struct steer *s)
{
    return s->nclients;
}

const struct partition_block *steer_block(const struct steer *s, int id)
{
    if (!steer_partitions(s))
        return NULL;
    for (size_t i = 0; i < s->part.nblocks; i++)
        if (s->part.blocks[i].instance_id == id)
            return &s->part.blocks[i];
    return NULL;
}

int steer_observes(const struct steer *s)
{
    return s->fwd && s->fwd->ops->observe;
}

int steer_observe(const struct steer *s, struct fwd_observation *out, size_t max, size_t *n,
                  char *err, size_t errlen)
{
    *n = 0;
    if (!s->fwd || !s->fwd->ops->observe) {
        snprintf(err, errlen, "the %s forwarding mode measures nothing per instance", s->mode);
        return -1;
    }
    return s->fwd->ops->observe(s->fwd, out, max, n, err, errlen);
}

int steer_count_flows(struct steer *s, const struct instance *in, uint64_t *count)
{
    if (!s->fwd || !s->fwd->ops->count_flows || in->address.ss.ss_family != AF_INET)
        return -1;
    struct fwd_target t;
    memset(&t, 0, sizeof(t));
    t.instance_id = in->id;
    t.addr = ((const struct sockaddr_in *)&in->address.ss)->sin_addr;
    t.port = (uint16_t)addr_port(&in->address);
    snprintf(t.name, sizeof(t.name), "%s", in->name);
    return s->fwd->ops->count_flows(s->fwd, &t, count);
}
