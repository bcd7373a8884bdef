/* The pool: slots 1..32, each holding an instance or nothing. A tick runs
 * while anything is in motion: it probes starting instances' /healthz (the
 * admin endpoint's for proxyd, the service port's for Squid and nginx),
 * respawns crashed ones when their backoff has passed, and kills instances
 * that overstay a drain or a start. Exits come from spawn.c's reaper. What
 * a change does in which order (grow, rules, drain) is scale.c's; it is
 * told whenever an instance became ready or exited. */
#include "pool.h"
#include "spawn.h"
#include "statedir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <event2/event.h>

#include "again.h"
#include "config.h"
#include "crashpoint.h"
#include "exchange.h"
#include "histogram.h"
#include "httpcall.h"
#include "log.h"
#include "worker/worker.h"

/* Probing cadence while an instance starts: the instantiation time is
 * measured to this resolution (a refused probe costs ~50 us). */
#define POOL_TICK_MS 2
/* Probe timeout: a refused probe answers at once; an instance that
 * accepted but does not answer within this is not ready yet. */
#define POOL_PROBE_TIMEOUT_MS 1000
/* A change fails once an instance of it crashed this many times in a row
 * without becoming ready. */
#define POOL_CHANGE_MAX_CRASHES 3
/* An instance left by an earlier run answers its probe at once when it
 * serves; this bounds the wait on one that accepted and hangs, per
 * instance, before the loop runs (32 x 1 s at worst). */
#define POOL_ADOPT_PROBE_TIMEOUT_MS 1000

struct slot {
    struct instance inst;
    int used;
    struct exchange probe;   /* GET /healthz while the instance starts */
    int spawning;            /* the runtime's spawn is under way (PP_AGAIN): no pid yet */
    int remote_live;         /* a remote runtime's instance runs (it has no pid here) */
    int remove;              /* draining for good: free the slot after the exit */
    int restart_pending;     /* explicit restart: spawn again right after the exit */
    int64_t deadline_us;     /* drain or ready deadline (monotonic) */
    uint64_t flows_at_drain; /* tracked connections when the drain began */
    uint64_t flows_cut;      /* still open when the drain deadline passed */
    struct pool *pool;
};

struct pool {
    struct event_base *base;
    const struct manager_config *cfg;
    int state_dirfd; /* cfg->state_dir, checked and held open: files go through it */
    struct runtime rt;
    struct slot slots[POOL_MAX_INSTANCES + 1]; /* [0] unused: ids are 1-based */
    int desired;
    struct event *tick;
    struct histogram *ready_hist;
    uint64_t restarts_total;
    struct spawn_reaper *reaper;
    void (*listener)(void *ctx);
    void *listener_ctx;
    int (*flows)(void *ctx, const struct instance *in, uint64_t *count);
    void *flows_ctx;
    uint64_t drained_total, cut_total; /* connections, over every drain for good */
    struct pool_step last_step;
    int stopping;
    size_t adopted; /* instances an earlier run left that this one took over */
    void (*shutdown_done)(void *ctx);
    void *shutdown_ctx;
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pool_kick(struct pool *p)
{
    struct timeval tv = {0, POOL_TICK_MS * 1000};
    if (!evtimer_pending(p->tick, NULL))
        evtimer_add(p->tick, &tv);
}

/* "<prefix><id>.pid" in the state dir. */
static void pidfile_name(const struct pool *p, int id, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s%d.pid", p->cfg->prefix, id);
}

/* With the child's start time, so a later run stops it only while it is
 * still this process (statedir.h). */
static void pidfile_write(const struct pool *p, const struct instance *inst)
{
    char name[64], err[256];
    pidfile_name(p, inst->id, name, sizeof(name));
    if (statedir_pidfile_write(p->state_dirfd, name, inst->pid, err, sizeof(err)) < 0)
        log_warn("pool: %s in %s (a crash of the manager would leave %s running)", err,
                 p->cfg->state_dir, inst->name);
}

static void probe_close(struct slot *s)
{
    exchange_free(&s->probe);
}

/* Something a change may wait for happened (an instance became ready or
 * exited). */
static void pool_notify(struct pool *p)
{
    if (p->listener)
        p->listener(p->listener_ctx);
}

static void slot_exited(void *ctx, pid_t pid, int status);

/* Whether the instance runs: its process, or for a runtime whose instances
 * are no process of this host (swarm), what the runtime reported. */
static int slot_running(const struct pool *p, const struct slot *s)
{
    return s->inst.pid > 0 || (p->rt.ops->remote && s->remote_live);
}

/* Ends the instance at once: SIGKILL to its process group, or the remote
 * runtime's way. */
static void slot_kill(struct pool *p, struct slot *s)
{
    if (p->rt.ops->remote)
        p->rt.ops->kill(&p->rt, &s->inst);
    else
        worker_kind_kill(&s->inst);
}

/* The start failed: the slot waits out the longest backoff before trying
 * again (a change waiting on it gives up after its crashes). */
static void slot_spawn_failed(struct pool *p, struct slot *s, const char *err)
{
    struct instance *inst = &s->inst;
    log_error("pool: cannot start %s: %s", inst->name, err);
    inst->state = s->remove ? INSTANCE_STOPPED : INSTANCE_FAILED;
    inst->pid = 0;
    inst->crash_streak++;
    inst->next_restart_mono_us = mono_us() + SPAWN_BACKOFF_MAX_MS * 1000;
    pool_notify(p); /* a change waiting on it may have to give up */
}

/* The worker runs as inst->pid: recorded for the next run, supervised. A
 * runtime whose spawn finished later (docker) runs it in a container whose
 * init is not our child: it is watched through a pidfd, as an adopted one. */
static void slot_started(struct pool *p, struct slot *s, int ours)
{
    struct instance *inst = &s->inst;
    char err[256];
    PP_CRASH_POINT("up.spawned");
    if (p->rt.ops->remote) { /* no process here: the runtime reports its end */
        s->remote_live = 1;
        char a[ADDR_STRLEN];
        addr_format(&inst->address, a, sizeof(a));
        log_info("pool: started %s (%s runtime) on %s", inst->name, p->rt.ops->name, a);
        return;
    }
    pidfile_write(p, inst);
    PP_CRASH_POINT("up.pidfile_written");
    /* Only now, with its pid file there for the next run to find, the
     * child may exec: a manager killed before this point leaves no
     * unrecorded worker holding the slot's port (spawn.h, the gate). A
     * spawn that finished later (docker) has no gate: its container runs
     * already, and init finds it by its label. */
    spawn_gate_release(&inst->spawn_gate_fd);
    if (ours)
        spawn_reaper_watch(p->reaper, inst->pid, slot_exited, s);
    else if (spawn_reaper_watch_adopted(p->reaper, inst->pid, slot_exited, s, err, sizeof(err)) < 0)
        log_error("pool: %s (pid %d) goes unwatched: %s", inst->name, (int)inst->pid, err);
    char a[ADDR_STRLEN];
    addr_format(&inst->address, a, sizeof(a));
    log_info("pool: started %s (pid %d) on %s", inst->name, (int)inst->pid, a);
}

static int slot_spawn(struct pool *p, struct slot *s)
{
    struct instance *inst = &s->inst;
    char err[256];
    probe_close(s);
    inst->state = INSTANCE_STARTING;
    inst->ready_ms = -1;
    inst->started_at_ms = wall_ms();
    inst->spawn_mono_us = mono_us();
    s->deadline_us = inst->spawn_mono_us + (int64_t)p->cfg->ready_timeout_ms * 1000;
    inst->spawn_gate_fd = -1;
    int rc = p->rt.ops->spawn(&p->rt, inst, err, sizeof(err));
    if (rc == PP_AGAIN) {
        s->spawning = 1;
        log_info("pool: starting %s (%s runtime: under way)", inst->name, p->rt.ops->name);
        return 0;
    }
    if (rc < 0) {
        slot_spawn_failed(p, s, err);
        return -1;
    }
    slot_started(p, s, 1);
    return 0;
}

static void slot_drain(struct pool *p, struct slot *s);

/* A spawn that returned PP_AGAIN ended (rt->spawned). */
static void slot_spawned(void *ctx, struct instance *inst, const char *err)
{
    struct pool *p = ctx;
    struct slot *s = &p->slots[inst->id];
    if (inst != &s->inst || !s->used || !s->spawning)
        return; /* not a spawn the pool waits for */
    s->spawning = 0;
    /* The ready deadline counts from now: the runtime's calls are bounded
     * by their own timeouts. */
    s->deadline_us = mono_us() + (int64_t)p->cfg->ready_timeout_ms * 1000;
    if (err)
        slot_spawn_failed(p, s, err);
    else
        slot_started(p, s, 0);
    if (!err && s->remove) /* drained while it started */
        slot_drain(p, s);
    pool_kick(p);
}

static void slot_open(struct pool *p, int id)
{
    struct slot *s = &p->slots[id];
    memset(s, 0, sizeof(*s));
    s->used = 1;
    s->pool = p;
    s->inst.id = id;
    snprintf(s->inst.name, sizeof(s->inst.name), "%s%d", p->cfg->prefix, id);
    snprintf(s->inst.log_path, sizeof(s->inst.log_path), "%s/%s%d.log", p->cfg->state_dir,
             p->cfg->prefix, id);
    slot_spawn(p, s);
}

/* Connections the forwarding mode still sends to inst (nat: conntrack
 * entries whose reply comes from it), or 0 when it cannot tell. */
static uint64_t slot_flows(struct pool *p, const struct instance *inst)
{
    uint64_t n = 0;
    if (p->flows && p->flows(p->flows_ctx, inst, &n) < 0)
        n = 0;
    return n;
}

/* The forwarding rules no longer send new clients here: SIGTERM makes
 * proxyd stop accepting, finish what is in flight, close idle keep-alive
 * connections and exit; the deadline bounds it. */
static void slot_drain(struct pool *p, struct slot *s)
{
    struct instance *inst = &s->inst;
    s->remove = 1;
    if (s->spawning) { /* drained once its spawn ends (slot_spawned) */
        inst->state = INSTANCE_DRAINING;
        return;
    }
    if (!slot_running(p, s)) { /* not running (failed, waiting for a restart) */
        inst->state = INSTANCE_STOPPED;
        return;
    }
    inst->state = INSTANCE_DRAINING;
    s->deadline_us = mono_us() + (int64_t)p->cfg->drain_timeout_ms * 1000;
    s->flows_at_drain = slot_flows(p, inst);
    s->flows_cut = 0;
    probe_close(s);
    p->rt.ops->stop(&p->rt, inst);
    if (p->rt.ops->remote)
        log_info("pool: draining %s (%s runtime, %llu tracked connections)", inst->name,
                 p->rt.ops->name, (unsigned long long)s->flows_at_drain);
    else
        log_info("pool: draining %s (pid %d, %llu tracked connections)", inst->name, (int)inst->pid,
                 (unsigned long long)s->flows_at_drain);
    PP_CRASH_POINT("down.drain_started");
}

static void slot_free(struct pool *p, struct slot *s)
{
    char name[64];
    pidfile_name(p, s->inst.id, name, sizeof(name));
    unlinkat(p->state_dirfd, name, 0);
    probe_close(s);
    memset(s, 0, sizeof(*s));
    PP_CRASH_POINT("down.slot_freed");
}

static void probe_done(void *arg, int status, const char *body)
{
    struct slot *s = arg;
    struct pool *p = s->pool;
    (void)body;
    if (!s->used || s->inst.state != INSTANCE_STARTING)
        return;
    if (status > 0 && p->rt.worker->ready(status)) {
        struct instance *inst = &s->inst;
        int64_t us = mono_us() - inst->spawn_mono_us;
        inst->ready_ms = us / 1000;
        inst->state = INSTANCE_READY;
        inst->crash_streak = 0;
        histogram_record(p->ready_hist, (uint64_t)us);
        log_info("pool: %s ready in %.1f ms", inst->name, (double)us / 1000.0);
        PP_CRASH_POINT("up.ready");
        pool_notify(p); /* a waiting change looks now, not a tick later */
    }
}

static void slot_probe(struct slot *s)
{
    if (s->probe.busy)
        return;
    char host[ADDR_STRLEN];
    addr_format_host(&s->inst.probe, host, sizeof(host));
    struct exchange_request rq = {"GET", "/healthz", "proxyd", NULL, NULL, POOL_PROBE_TIMEOUT_MS};
    exchange_start(&s->probe, s->pool->base, host, (uint16_t)addr_port(&s->inst.probe), &rq,
                   probe_done, s); /* out of memory: the next tick tries again */
}

static int pool_in_motion(const struct pool *p)
{
    if (p->stopping)
        return 1;
    for (int id = 1; id <= POOL_MAX_INSTANCES; id++) {
        const struct slot *s = &p->slots[id];
        if (s->used && s->inst.state != INSTANCE_READY)
            return 1;
    }
    return 0;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct pool *p = arg;
    (void)fd;
    (void)what;
    int64_t now = mono_us();
    for (int id = 1; id <= POOL_MAX_INSTANCES; id++) {
        struct slot *s = &p->slots[id];
        if (!s->used)
            continue;
        struct instance *inst = &s->inst;
        switch (inst->state) {
        case INSTANCE_STARTING:
            if (s->spawning) {
                break; /* no pid nor address yet */
            } else if (now > s->deadline_us && slot_running(p, s)) {
                log_warn("pool: %s not healthy %llu ms after its start; killing it", inst->name,
                         (unsigned long long)p->cfg->ready_timeout_ms);
                s->deadline_us = INT64_MAX;
                slot_kill(p, s);
                s->deadline_us = INT64_MAX;
            } else {
                slot_probe(s);
            }
            break;
        case INSTANCE_DRAINING:
            if (now > s->deadline_us && slot_running(p, s)) {
                s->flows_cut = slot_flows(p, inst);
                log_warn("pool: %s still running %llu ms into its drain; killing it (%llu "
                         "connections cut)",
                         inst->name, (unsigned long long)p->cfg->drain_timeout_ms,
                         (unsigned long long)s->flows_cut);
                s->deadline_us = INT64_MAX;
                slot_kill(p, s);
            }
            break;
        case INSTANCE_FAILED:
            if (!s->remove && !slot_running(p, s) && now >= inst->next_restart_mono_us) {
                inst->restarts++;
                p->restarts_total++;
                slot_spawn(p, s);
            }
            break;
        case INSTANCE_STOPPED:
            if (s->remove && !slot_running(p, s) && !s->spawning) {
                slot_free(p, s);
                pool_notify(p); /* a shrink waits for the slot to be free */
            }
            break;
        default:
            break;
        }
    }
    if (p->stopping && p->shutdown_done) {
        int left = 0;
        for (int id = 1; id <= POOL_MAX_INSTANCES; id++)
            left += p->slots[id].used;
        if (!left) {
            void (*done)(void *) = p->shutdown_done;
            p->shutdown_done = NULL;
            p->rt.ops->shutdown(&p->rt);
            done(p->shutdown_ctx);
            return;
        }
    }
    if (pool_in_motion(p))
        pool_kick(p);
}

static void on_exit_of(struct pool *p, struct slot *s, int status)
{
    struct instance *inst = &s->inst;
    char how[64];
    spawn_describe_status(status, how, sizeof(how));
    if (s->remove)
        PP_CRASH_POINT("down.exited");
    p->rt.ops->release(&p->rt, inst);
    inst->pid = 0;
    s->remote_live = 0;
    if (s->remove) {
        PP_CRASH_POINT("down.released");
        uint64_t cut = s->flows_cut < s->flows_at_drain ? s->flows_cut : s->flows_at_drain;
        log_info("pool: %s stopped (%s): %llu connections drained, %llu cut", inst->name, how,
                 (unsigned long long)(s->flows_at_drain - cut), (unsigned long long)cut);
        p->drained_total += s->flows_at_drain - cut;
        p->cut_total += cut;
        inst->state = INSTANCE_STOPPED;
        return;
    }
    /* Kept for the API: a crash replaced within a second is otherwise
     * invisible to anyone who polls (the status page does, once a second). */
    inst->last_exit_at_ms = wall_ms();
    snprintf(inst->last_exit, sizeof(inst->last_exit), "%s", how);
    if (s->restart_pending) {
        s->restart_pending = 0;
        inst->restarts++;
        p->restarts_total++;
        log_info("pool: %s restarting (%s)", inst->name, how);
        slot_spawn(p, s);
        return;
    }
    /* A crash: back off 100 ms, 200 ms, ... up to 30 s, then try again. */
    inst->crash_streak++;
    int64_t backoff_ms = spawn_backoff_ms(inst->crash_streak);
    inst->next_restart_mono_us = mono_us() + backoff_ms * 1000;
    inst->state = INSTANCE_FAILED;
    probe_close(s);
    log_warn("pool: %s died (%s); restarting in %lld ms", inst->name, how, (long long)backoff_ms);
}

static void slot_exited(void *ctx, pid_t pid, int status)
{
    struct slot *s = ctx;
    struct pool *p = s->pool;
    if (s->used && s->inst.pid == pid)
        on_exit_of(p, s, status);
    pool_kick(p);
    pool_notify(p);
}

/* A remote runtime's instance ended (rt->exited). */
static void slot_remote_exited(void *ctx, struct instance *inst, int status)
{
    struct pool *p = ctx;
    if (inst->id < 1 || inst->id > POOL_MAX_INSTANCES)
        return;
    struct slot *s = &p->slots[inst->id];
    if (inst != &s->inst || !s->used || !s->remote_live)
        return;
    on_exit_of(p, s, status);
    pool_kick(p);
    pool_notify(p);
}

/* An instance's pid file: "<prefix><id>.pid". Another prefix that starts
 * with ours ("pp-a"), or the balancer's "<prefix>-balancer.pid", is not. */
static int is_instance_pidfile(const struct pool *p, const char *name)
{
    size_t n = strlen(name), plen = strlen(p->cfg->prefix);
    return n >= plen + 5 && strncmp(name, p->cfg->prefix, plen) == 0 &&
           strcmp(name + n - 4, ".pid") == 0 && strspn(name + plen, "0123456789") == n - plen - 4;
}

/* Whether pid runs the executable of the kind the pool runs (its base name,
 * " (deleted)" after an upgrade replaced the binary included). */
static int exe_is_worker(const struct pool *p, pid_t pid, char *why, size_t whylen)
{
    char exe[64], target[1024];
    snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
    ssize_t tl = readlink(exe, target, sizeof(target) - 1);
    if (tl <= 0) {
        snprintf(why, whylen, "cannot read its executable: %s", strerror(errno));
        return 0;
    }
    target[tl] = '\0';
    const char *base = strrchr(target, '/');
    base = base ? base + 1 : target;
    const char *want = p->rt.worker->exe;
    if (strncmp(base, want, strlen(want)) != 0) {
        snprintf(why, whylen, "it runs %.200s, not %s", base, want);
        return 0;
    }
    return 1;
}

/* GET /healthz on the instance's probe address, blocking (before the loop
 * runs): whether the worker judges the answer ready. */
static int probe_now(const struct pool *p, const struct instance *inst, char *why, size_t whylen)
{
    char a[ADDR_STRLEN], url[ADDR_STRLEN + 16], err[256];
    struct httpcall_target t;
    struct httpcall_reply r = {0, NULL, 0};
    addr_format(&inst->probe, a, sizeof(a));
    snprintf(url, sizeof(url), "http://%s", a);
    if (httpcall_parse_url(url, &t, err, sizeof(err)) < 0) {
        snprintf(why, whylen, "probe address %s: %s", a, err);
        return 0;
    }
    snprintf(t.agent, sizeof(t.agent), "manager");
    /* The Host the loop's probe sends: a worker that proxies by Host
     * (nginx) answers /healthz itself only for it. */
    snprintf(t.authority, sizeof(t.authority), "proxyd");
    if (httpcall_run(&t, "GET", "/healthz", NULL, NULL, POOL_ADOPT_PROBE_TIMEOUT_MS, &r, err,
                     sizeof(err)) < 0) {
        snprintf(why, whylen, "its readiness probe on %s did not answer: %s", a, err);
        return 0;
    }
    int ready = p->rt.worker->ready(r.status);
    if (!ready)
        snprintf(why, whylen, "its readiness probe on %s answered %d", a, r.status);
    else
        snprintf(why, whylen,
                 "same process (start time as recorded), %s, /healthz on %s "
                 "answered %d",
                 p->rt.worker->exe, a, r.status);
    httpcall_reply_free(&r);
    return ready;
}

/* The instance of slot id that an earlier run left, named by its pid file,
 * is adopted when it is the process that run started (the start time in
 * the pid file), runs our worker's executable and answers its readiness
 * probe: it keeps serving and is supervised through a pidfd from now on.
 * 1 when adopted; 0 when not (the slot stays free, why says why). */
static int slot_adopt(struct pool *p, const char *pidfile, int id, char *why, size_t whylen)
{
    pid_t pid = 0;
    int ours = statedir_pidfile_check(p->state_dirfd, pidfile, &pid, why, whylen);
    if (ours != 1)
        return 0;
    if (!p->rt.ops->adopt) {
        snprintf(why, whylen, "the %s runtime does not adopt instances", p->rt.ops->name);
        return 0;
    }
    if (id < 1 || id > POOL_MAX_INSTANCES) {
        snprintf(why, whylen, "no slot %d", id);
        return 0;
    }
    if (!exe_is_worker(p, pid, why, whylen))
        return 0;
    struct slot *s = &p->slots[id];
    memset(s, 0, sizeof(*s));
    s->pool = p;
    struct instance *inst = &s->inst;
    inst->id = id;
    inst->pid = pid;
    snprintf(inst->name, sizeof(inst->name), "%s%d", p->cfg->prefix, id);
    snprintf(inst->log_path, sizeof(inst->log_path), "%s/%s%d.log", p->cfg->state_dir,
             p->cfg->prefix, id);
    char err[256];
    if (p->rt.ops->adopt(&p->rt, inst, err, sizeof(err)) < 0) {
        snprintf(why, whylen, "%s", err);
        goto fail;
    }
    if (!probe_now(p, inst, why, whylen))
        goto fail;
    if (spawn_reaper_watch_adopted(p->reaper, pid, slot_exited, s, err, sizeof(err)) < 0) {
        snprintf(why, whylen, "%s", err);
        goto fail;
    }
    s->used = 1;
    p->rt.adopted |= (uint64_t)1 << id;
    inst->state = INSTANCE_READY;
    inst->ready_ms = 0;
    inst->started_at_ms = wall_ms();
    inst->spawn_mono_us = mono_us();
    return 1;
fail:
    memset(s, 0, sizeof(*s));
    return 0;
}

/* A manager that crashed, or left on purpose (--keep-on-exit, SIGUSR2),
 * leaves its instances running (fail-static: they keep serving). The next
 * one finds them by their pid files: each that is still the process that
 * run started and answers its probe is adopted; any other (gone, its pid
 * reused, unhealthy, a runtime that does not adopt) is removed, every
 * process of it (its process group) stopped. When none was adopted, every
 * worker kind then removes the files they left (caches on tmpfs, pid
 * files, shared memory). Runs before the loop does. */
static void pool_adopt_or_remove(struct pool *p)
{
    int fd = dup(p->state_dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    rewinddir(d); /* the dup shares its offset with every other reader */
    struct dirent *e;
    size_t plen = strlen(p->cfg->prefix);
    while ((e = readdir(d))) {
        if (!is_instance_pidfile(p, e->d_name))
            continue;
        int id = atoi(e->d_name + plen);
        char why[400];
        if (slot_adopt(p, e->d_name, id, why, sizeof(why))) {
            const struct instance *inst = &p->slots[id].inst;
            log_info("pool: adopted %s (pid %d): %s", inst->name, (int)inst->pid, why);
            p->adopted++;
            continue;
        }
        log_info("pool: removed %s%d left by an earlier run (%s): %s", p->cfg->prefix, id,
                 e->d_name, why);
        spawn_reclaim_leftover(p->state_dirfd, e->d_name, worker_kind_is_exe, "pool");
    }
    closedir(d);
    /* What a scale step starts from: the adopted instances 1..n with no
     * gap (one adopted above a gap is drained, or kept, by the first step). */
    while (p->desired < POOL_MAX_INSTANCES && p->slots[p->desired + 1].used)
        p->desired++;
    if (p->adopted == 0)
        worker_kind_remove_leftovers(p->cfg);
}

struct pool *pool_new(struct event_base *base, const struct manager_config *cfg,
                      const struct runtime_ops *ops, struct spawn_reaper *reaper, char *err,
                      size_t errlen)
{
    int dirfd = statedir_open(cfg->state_dir, err, errlen);
    if (dirfd < 0)
        return NULL;
    struct pool *p = calloc(1, sizeof(*p));
    if (!p) {
        close(dirfd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->state_dirfd = dirfd;
    p->base = base;
    p->reaper = reaper;
    p->cfg = cfg;
    p->rt.ops = ops;
    p->rt.cfg = cfg;
    p->rt.base = base;
    p->rt.spawned = slot_spawned;
    p->rt.spawned_ctx = p;
    p->rt.exited = slot_remote_exited;
    p->rt.exited_ctx = p;
    p->rt.worker = worker_kind_find(cfg->worker);
    if (!p->rt.worker) { /* config.c accepts known kinds only */
        snprintf(err, errlen, "unknown worker '%s'", cfg->worker);
        close(dirfd);
        free(p);
        return NULL;
    }
    p->tick = evtimer_new(base, tick_cb, p);
    p->ready_hist = histogram_new();
    p->last_step = (struct pool_step){-1, -1, -1, 0, 0};
    if (!p->tick || !p->ready_hist) {
        snprintf(err, errlen, "out of memory");
        pool_free(p);
        return NULL;
    }
    pool_adopt_or_remove(p);
    if (ops->init(&p->rt, err, errlen) < 0) {
        pool_free(p);
        return NULL;
    }
    return p;
}

void pool_free(struct pool *p)
{
    if (!p)
        return;
    for (int id = 1; id <= POOL_MAX_INSTANCES; id++) {
        if (p->slots[id].used) {
            probe_close(&p->slots[id]);
            if (p->slots[id].inst.pid > 0)
                spawn_reaper_forget(p->reaper, p->slots[id].inst.pid);
            /* Still running: an exit that leaves the pool serving. */
            if (p->slots[id].inst.rt && p->rt.ops->detach_instance)
                p->rt.ops->detach_instance(&p->rt, &p->slots[id].inst);
        }
    }
    if (p->rt.priv && p->rt.ops->detach) /* shutdown did not run */
        p->rt.ops->detach(&p->rt);
    if (p->tick)
        event_free(p->tick);
    histogram_free(p->ready_hist);
    if (p->state_dirfd >= 0)
        close(p->state_dirfd);
    free(p);
}

void pool_grow(struct pool *p, int n)
{
    p->desired = n;
    for (int id = 1; id <= n; id++) {
        struct slot *s = &p->slots[id];
        if (!s->used) {
            slot_open(p, id);
        } else if (s->remove) {
            /* Asked back while draining: let it finish, then respawn. */
            s->remove = 0;
            s->restart_pending = 1;
        }
    }
    pool_kick(p);
}

void pool_drain_above(struct pool *p, int n)
{
    p->desired = n;
    for (int id = n + 1; id <= POOL_MAX_INSTANCES; id++)
        if (p->slots[id].used && !p->slots[id].remove)
            slot_drain(p, &p->slots[id]);
    pool_kick(p);
}

int pool_ready_upto(const struct pool *p, int n, char *why, size_t whylen)
{
    for (int id = 1; id <= n; id++) {
        const struct slot *s = &p->slots[id];
        if (!s->used)
            return 0;
        if (s->inst.crash_streak >= POOL_CHANGE_MAX_CRASHES) {
            snprintf(why, whylen, "instance %s failed to become ready %u times in a row; see %s",
                     s->inst.name, s->inst.crash_streak, s->inst.log_path);
            return -1;
        }
        if (s->inst.state != INSTANCE_READY)
            return 0;
    }
    return 1;
}

int pool_stopped_above(const struct pool *p, int n)
{
    for (int id = n + 1; id <= POOL_MAX_INSTANCES; id++)
        if (p->slots[id].used)
            return 0;
    return 1;
}

int pool_restart_instance(struct pool *p, int id)
{
    if (id < 1 || id > POOL_MAX_INSTANCES || !p->slots[id].used || p->slots[id].remove)
        return -1;
    struct slot *s = &p->slots[id];
    if (s->spawning)
        return 0; /* it is starting afresh already */
    log_info("pool: restarting %s", s->inst.name);
    if (slot_running(p, s)) {
        s->restart_pending = 1;
        s->inst.state = INSTANCE_DRAINING;
        s->deadline_us = mono_us() + (int64_t)p->cfg->drain_timeout_ms * 1000;
        probe_close(s);
        p->rt.ops->stop(&p->rt, &s->inst);
    } else {
        s->inst.restarts++;
        p->restarts_total++;
        slot_spawn(p, s);
    }
    pool_kick(p);
    return 0;
}

int pool_restarted(const struct pool *p, int id, int64_t since_us, char *why, size_t whylen)
{
    const struct slot *s = &p->slots[id];
    if (!s->used) {
        snprintf(why, whylen, "the instance went away during its restart");
        return -1;
    }
    if (s->inst.crash_streak >= POOL_CHANGE_MAX_CRASHES) {
        snprintf(why, whylen, "instance %s failed to come back; see %s", s->inst.name,
                 s->inst.log_path);
        return -1;
    }
    return s->inst.state == INSTANCE_READY && !s->restart_pending &&
           s->inst.spawn_mono_us >= since_us;
}

void pool_set_listener(struct pool *p, void (*fn)(void *ctx), void *ctx)
{
    p->listener = fn;
    p->listener_ctx = ctx;
}

void pool_drain_counts(const struct pool *p, uint64_t *drained, uint64_t *cut)
{
    *drained = p->drained_total;
    *cut = p->cut_total;
}

void pool_set_last_step(struct pool *p, const struct pool_step *step)
{
    p->last_step = *step;
}

void pool_shutdown(struct pool *p, void (*done)(void *ctx), void *ctx)
{
    p->stopping = 1;
    p->shutdown_done = done;
    p->shutdown_ctx = ctx;
    p->desired = 0;
    for (int id = 1; id <= POOL_MAX_INSTANCES; id++) {
        struct slot *s = &p->slots[id];
        s->restart_pending = 0;
        if (s->used && !s->remove)
            slot_drain(p, s);
    }
    pool_kick(p);
}

void pool_set_flow_counter(struct pool *p,
                           int (*fn)(void *ctx, const struct instance *in, uint64_t *count),
                           void *ctx)
{
    p->flows = fn;
    p->flows_ctx = ctx;
}

struct event_base *pool_event_base(const struct pool *p)
{
    return p->base;
}

const struct pool_step *pool_last_step(const struct pool *p)
{
    return &p->last_step;
}

const char *pool_runtime_name(const struct pool *p)
{
    return p->rt.ops->name;
}

const struct runtime_ops *pool_runtime(const struct pool *p)
{
    return p->rt.ops;
}

const char *pool_worker_name(const struct pool *p)
{
    return p->rt.worker->name;
}

size_t pool_adopted(const struct pool *p)
{
    return p->adopted;
}

int pool_desired(const struct pool *p)
{
    return p->desired;
}

size_t pool_ready_count(const struct pool *p)
{
    return pool_count_state(p, INSTANCE_READY);
}

const struct instance *pool_instance(const struct pool *p, int id)
{
    if (id < 1 || id > POOL_MAX_INSTANCES || !p->slots[id].used)
        return NULL;
    return &p->slots[id].inst;
}

size_t pool_list(const struct pool *p, const struct instance **out, size_t max)
{
    size_t n = 0;
    for (int id = 1; id <= POOL_MAX_INSTANCES && n < max; id++)
        if (p->slots[id].used)
            out[n++] = &p->slots[id].inst;
    return n;
}

size_t pool_count_state(const struct pool *p, enum instance_state st)
{
    size_t n = 0;
    for (int id = 1; id <= POOL_MAX_INSTANCES; id++)
        if (p->slots[id].used && p->slots[id].inst.state == st)
            n++;
    return n;
}

uint64_t pool_restarts_total(const struct pool *p)
{
    return p->restarts_total;
}

const struct histogram *pool_ready_histogram(const struct pool *p)
{
    return p->ready_hist;
}
