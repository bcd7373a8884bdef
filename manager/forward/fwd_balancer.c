/* Forwarding by the balancer (fwd_ops "balancer"): the manager runs
 * the balancer program as its child on VIP:port in its own network namespace
 * (the VIP added to lo, labelled so a later run finds it), tells it the
 * ready instances as its whole backend set in one PUT /v1/backends at each
 * scale step, restarts it with backoff when it dies (and tells it the set
 * again), and reads each backend's state, connections and latency back for
 * GET /v1/pool and for the pool's drain accounting.
 *
 * Every wait is a state of the balancer's supervisor driven by a timer and
 * by libevent's HTTP client, never a sleep or a blocking call: the ops
 * answer PP_AGAIN until the state they wait for is reached. */
#include "forwarding.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <event2/event.h>

#include "backendset.h"
#include "../config.h"
#include "../exchange.h"
#include "httpcall.h"
#include "log.h"
#include "../crashpoint.h"
#include "../netdev.h"
#include "../spawn.h"
#include "../statedir.h"

#define LB_MAGIC 0x6c62666du
/* One admin call to a balancer on this host answers in well under a
 * millisecond; a stuck one fails after this. */
#define LB_CALL_TIMEOUT_MS 2000
/* Spawn to the admin API answering: the balancer binds and serves in a few
 * milliseconds; three seconds is a thousand times that. */
#define LB_READY_TIMEOUT_MS 3000
#define LB_READY_POLL_MS 10
#define LB_READY_CALL_TIMEOUT_MS 200
/* Leaving the mode: the balancer gets SIGTERM and lets its connections
 * finish; after this long it is killed. */
#define LB_STOP_WAIT_MS 5000
/* A balancer that ran this long starts its crash count again. */
#define LB_STABLE_MS 10000
/* While a removed backend still has connections, the observation is asked
 * anew this often, so a drain's count at its deadline is this fresh. */
#define LB_DRAIN_OBSERVE_MS 100

enum lb_phase {
    LB_IDLE,           /* not started */
    LB_CHECKING_ADMIN, /* is someone else on the admin address? */
    LB_STARTING,       /* spawned; probing its /healthz */
    LB_TELLING,        /* restarted and ready; being told the set it had */
    LB_SERVING,
    LB_BACKOFF,  /* died; restarted when the timer fires */
    LB_FAILED,   /* the first start failed: init reports err */
    LB_STOPPING, /* SIGTERM sent; waiting for its exit */
    LB_STOPPED,
};

struct lb_state {
    unsigned magic;
    struct fwd *f;
    enum lb_phase phase;
    pid_t pid;           /* the balancer, 0 while not running */
    int64_t started_us;  /* monotonic, of the last spawn */
    int64_t deadline_us; /* of the start or the stop under way */
    unsigned crash_streak;
    int first_start; /* a failure of this start fails init instead of retrying */
    int vip_added;
    struct httpcall_target admin;
    char log_path[600];
    char err[512];  /* why LB_FAILED */
    char *set_json; /* the backend set last told, told again after a restart */
    size_t set_size;
    /* apply: the PUT of put_json is in flight (put_busy) or answered */
    char *put_json;
    int put_answered, put_ok;
    int64_t put_sent_us;
    char put_err[256];
    /* refresh: the observation, its sequence number, the one asked for */
    struct fwd_observation obs[BACKENDSET_MAX];
    size_t nobs;
    int obs_ok;
    char obs_err[256];
    uint64_t obs_seq, obs_wanted;
    /* reconcile: its GET of the set in force, then (on a difference) the
     * PUT of the desired one through put/put_json, as apply sends it */
    enum { LB_CHECK_IDLE, LB_CHECK_ASKED, LB_CHECK_ANSWERED, LB_CHECK_PUTTING } check_phase;
    int check_status;
    char *check_body;
    unsigned check_drift;
    struct exchange probe, put, get, check; /* with the balancer's admin API */
    struct event *timer;                    /* the supervisor's: probes, backoff, stop deadline */
    struct event *obs_timer;                /* asks again while removed backends drain */
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void arm_ms(struct event *ev, int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    evtimer_add(ev, &tv);
}

static void lb_log_path(const struct fwd_config *cfg, char *log_path, size_t loglen)
{
    snprintf(log_path, loglen, "%s/%s-balancer.log", cfg->manager->state_dir, cfg->prefix);
}

/* The VIP's label on lo: "lo:<prefix>lb" (a label must start with the
 * link's name; the prefix is at most 7 characters, the label 15). */
static void lb_label(const struct fwd_config *cfg, char *out, size_t outlen)
{
    snprintf(out, outlen, "lo:%slb", cfg->prefix);
}

/* The last line of the balancer's log, for an error message. */
static void log_tail(const char *path, char *out, size_t outlen)
{
    out[0] = '\0';
    FILE *fp = fopen(path, "re");
    if (!fp)
        return;
    char line[256];
    while (fgets(line, sizeof(line), fp))
        if (line[0] != '\n')
            snprintf(out, outlen, "%.*s", (int)strcspn(line, "\n"), line);
    fclose(fp);
}

static void log_removed_address(void *ctx, const char *addr)
{
    log_info("balancer: removing address %s (label %s) from lo", addr, (const char *)ctx);
}

/* Deletes our labelled addresses from lo; how many, or -1 with err. */
static int lb_vip_remove(const struct fwd_config *cfg, int log_each, char *err, size_t errlen)
{
    char label[16], nerr[200];
    lb_label(cfg, label, sizeof(label));
    struct netdev *nd = netdev_open(nerr, sizeof(nerr));
    if (!nd) {
        snprintf(err, errlen, "balancer: %s", nerr);
        return -1;
    }
    int lo = netdev_link_index(nd, "lo", nerr, sizeof(nerr));
    int rc = lo < 0 ? -1
                    : netdev_addr_del_labelled(nd, lo, label, log_each ? log_removed_address : NULL,
                                               label, nerr, sizeof(nerr));
    netdev_free(nd);
    if (rc < 0)
        snprintf(err, errlen, "balancer: removing the VIP from lo: %s", nerr);
    return rc;
}

static int lb_vip_add(struct lb_state *st, char *err, size_t errlen)
{
    char label[16], nerr[200];
    lb_label(&st->f->cfg, label, sizeof(label));
    struct netdev *nd = netdev_open(nerr, sizeof(nerr));
    int lo = nd ? netdev_link_index(nd, "lo", nerr, sizeof(nerr)) : -1;
    int rc = lo < 0
                 ? -1
                 : netdev_addr_add_labelled(nd, lo, st->f->cfg.vip, 32, label, nerr, sizeof(nerr));
    netdev_free(nd);
    if (rc < 0) {
        snprintf(err, errlen, "balancer: adding the VIP to lo: %s", nerr);
        return -1;
    }
    st->vip_added = 1;
    char vip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &st->f->cfg.vip, vip, sizeof(vip));
    log_info("balancer: %s/32 on lo (label %s)", vip, label);
    return 0;
}

/* "<prefix>-balancer.pid", in the state dir opened and checked anew
 * (statedir.h); -1 with err when the directory is refused. */
static int lb_pid_dir(const struct fwd_config *cfg, char *name, size_t namelen, char *err,
                      size_t errlen)
{
    snprintf(name, namelen, "%s-balancer.pid", cfg->prefix);
    char derr[400];
    int dirfd = statedir_open(cfg->manager->state_dir, derr, sizeof(derr));
    if (dirfd < 0)
        snprintf(err, errlen, "balancer: %s", derr);
    return dirfd;
}

static void lb_pid_remove(const struct lb_state *st)
{
    char name[64], err[512];
    int dirfd = lb_pid_dir(&st->f->cfg, name, sizeof(name), err, sizeof(err));
    if (dirfd < 0)
        return;
    unlinkat(dirfd, name, 0);
    close(dirfd);
}

static int balancer_exe(const char *base)
{
    return strncmp(base, "balancer", 8) == 0;
}

/* The balancer an earlier run left, when its pid file still names that
 * process (start time) running the balancer: its pid, or 0 (why filled). */
static pid_t lb_leftover(int dirfd, const char *name, char *why, size_t whylen)
{
    pid_t pid = 0;
    if (statedir_pidfile_check(dirfd, name, &pid, why, whylen) != 1)
        return 0;
    char exe[64], target[1024];
    snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
    ssize_t tl = readlink(exe, target, sizeof(target) - 1);
    if (tl <= 0) {
        snprintf(why, whylen, "cannot read the executable of pid %d", (int)pid);
        return 0;
    }
    target[tl] = '\0';
    const char *base = strrchr(target, '/');
    if (!balancer_exe(base ? base + 1 : target)) {
        snprintf(why, whylen, "pid %d runs %.200s, not the balancer", (int)pid, target);
        return 0;
    }
    return pid;
}

/* Balancer mode starting: the balancer an earlier run left is kept for
 * lb_init to adopt (with the VIP on lo it serves). */
static int lb_keep_for_adoption(const struct fwd_config *cfg, int dirfd, const char *name)
{
    char why[300];
    if (strcmp(cfg->manager->forwarding, "balancer") != 0)
        return 0;
    pid_t pid = lb_leftover(dirfd, name, why, sizeof(why));
    if (pid > 0)
        log_info("balancer: keeping pid %d of an earlier run to adopt it", (int)pid);
    return pid > 0;
}

int fwd_balancer_remove_leftovers(const struct fwd_config *cfg, char *err, size_t errlen)
{
    char name[64];
    int dirfd = lb_pid_dir(cfg, name, sizeof(name), err, errlen);
    if (dirfd < 0)
        return -1;
    if (lb_keep_for_adoption(cfg, dirfd, name)) {
        close(dirfd);
        return 0;
    }
    spawn_reclaim_leftover(dirfd, name, balancer_exe, "balancer");
    close(dirfd);
    return lb_vip_remove(cfg, 1, err, errlen) < 0 ? -1 : 0;
}

/* ---- admin exchanges ---- */

static struct lb_state *lb_from(void *ctx)
{
    struct lb_state *st = ctx;
    assert(st->magic == LB_MAGIC);
    return st;
}

/* method path to the balancer's admin (body and the manager's token when
 * given); done(st, status, body) from the loop. -1 when not sent. */
static int lb_ask(struct lb_state *st, struct exchange *x, const char *method, const char *path,
                  const char *body, const char *token, int timeout_ms, exchange_cb done)
{
    struct exchange_request rq = {method, path, st->admin.authority, body, token, timeout_ms};
    return exchange_start(x, st->f->cfg.base, st->admin.host, (uint16_t)atoi(st->admin.port), &rq,
                          done, st);
}

/* ---- the supervisor ---- */

static void lb_start(struct lb_state *st);
static void lb_exited(void *ctx, pid_t pid, int status);

static void lb_pid_write(struct lb_state *st)
{
    char name[64], perr[512];
    int dirfd = lb_pid_dir(&st->f->cfg, name, sizeof(name), perr, sizeof(perr));
    if (dirfd < 0 || statedir_pidfile_write(dirfd, name, st->pid, perr, sizeof(perr)) < 0)
        log_warn("balancer: %s (a crash of the manager would leave it running)", perr);
    if (dirfd >= 0)
        close(dirfd);
}

static int lb_fork(struct lb_state *st, char *err, size_t errlen)
{
    const struct fwd_config *fc = &st->f->cfg;
    const struct manager_config *mc = fc->manager;
    char vip[INET_ADDRSTRLEN], listen[INET_ADDRSTRLEN + 8], admin[ADDR_STRLEN], drain[32];
    inet_ntop(AF_INET, &fc->vip, vip, sizeof(vip));
    snprintf(listen, sizeof(listen), "%s:%u", vip, (unsigned)fc->vip_port);
    addr_format(&mc->balancer_admin, admin, sizeof(admin));
    /* Removed backends get as long as the pool gives a draining instance. */
    snprintf(drain, sizeof(drain), "%llums", (unsigned long long)mc->drain_timeout_ms);
    char *argv[14 + MANAGER_MAX_BALANCER_ARGS];
    size_t n = 0;
    argv[n++] = (char *)mc->balancer_path;
    argv[n++] = "--listen";
    argv[n++] = listen;
    argv[n++] = "--admin";
    argv[n++] = admin;
    argv[n++] = "--algo";
    argv[n++] = (char *)mc->balancer_algo;
    argv[n++] = "--drain-timeout";
    argv[n++] = drain;
    /* The manager's own token guards the balancer's admin writes. */
    argv[n++] = "--token-file";
    argv[n++] = (char *)mc->token_file;
    for (size_t i = 0; i < mc->nbalancer_args; i++)
        argv[n++] = mc->balancer_args[i];
    argv[n] = NULL;
    int gate[2], release_fd;
    if (spawn_gate_new(gate, err, errlen) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "balancer: fork: %s", strerror(errno));
        close(gate[0]);
        close(gate[1]);
        return -1;
    }
    if (pid == 0) {
        /* Until its pid file is written: a balancer no pid file names
         * would hold the VIP's port against the next manager's. */
        spawn_gate_wait(gate);
        spawn_child_prepare(st->log_path);
        execv(mc->balancer_path, argv);
        dprintf(2, "manager: exec %s: %s\n", mc->balancer_path, strerror(errno));
        _exit(127);
    }
    spawn_gate_keep(gate, &release_fd);
    st->pid = pid;
    st->started_us = now_us();
    spawn_reaper_watch(fc->reaper, pid, lb_exited, st);
    PP_CRASH_POINT("balancer.spawned");
    lb_pid_write(st);
    PP_CRASH_POINT("balancer.pidfile_written");
    spawn_gate_release(&release_fd);
    log_info("balancer: started pid %d on %s (admin %s, %s), log %s", (int)pid, listen, admin,
             mc->balancer_algo, st->log_path);
    return 0;
}

/* The first start failed: init reports why; nothing of it stays (the
 * process is killed, the pool reaps it; the VIP goes). */
static void lb_fail_first(struct lb_state *st, const char *why)
{
    snprintf(st->err, sizeof(st->err), "%s", why);
    st->phase = LB_FAILED;
    evtimer_del(st->timer);
    exchange_retire(&st->probe);
    if (st->pid > 0) {
        spawn_reaper_forget(st->f->cfg.reaper, st->pid); /* reaped unwatched */
        spawn_kill_group(st->pid);
        lb_pid_remove(st);
        st->pid = 0;
    }
    char cerr[200];
    if (st->vip_added && lb_vip_remove(&st->f->cfg, 0, cerr, sizeof(cerr)) < 0)
        log_error("%s", cerr);
    st->vip_added = 0;
}

static void lb_schedule_restart(struct lb_state *st)
{
    int64_t backoff_ms = spawn_backoff_ms(st->crash_streak);
    st->phase = LB_BACKOFF;
    arm_ms(st->timer, backoff_ms);
    log_warn("balancer: restarting in %lld ms (failure %u in a row)", (long long)backoff_ms,
             st->crash_streak);
}

/* A start (or a restart's telling) failed: the first start fails init; a
 * restart is tried again after its backoff (once the process is gone). */
static void lb_start_failed(struct lb_state *st, const char *why)
{
    if (st->first_start) {
        lb_fail_first(st, why);
        return;
    }
    log_error("%s", why);
    st->crash_streak++;
    exchange_retire(&st->probe);
    if (st->pid > 0) {
        st->phase = LB_BACKOFF;
        evtimer_del(st->timer);
        spawn_kill_group(st->pid); /* its exit schedules the restart */
    } else {
        lb_schedule_restart(st);
    }
}

static void lb_serving(struct lb_state *st)
{
    st->phase = LB_SERVING;
    evtimer_del(st->timer);
    exchange_retire(&st->probe);
    if (!st->first_start)
        log_info("balancer: pid %d serving again with the %zu backends it had", (int)st->pid,
                 st->set_size);
    st->first_start = 0;
}

static void on_told_again(void *ctx, int status, const char *body)
{
    struct lb_state *st = lb_from(ctx);
    if (st->phase != LB_TELLING)
        return;
    if (status == 200) {
        lb_serving(st);
        return;
    }
    char why[400];
    snprintf(why, sizeof(why), "balancer: PUT /v1/backends after its restart answered %d: %.160s",
             status, body ? body : "no reply");
    lb_start_failed(st, why);
}

static void on_probe(void *ctx, int status, const char *body)
{
    struct lb_state *st = lb_from(ctx);
    if (st->phase != LB_STARTING || status != 200)
        return; /* not yet: the next tick probes again */
    if (!st->set_json) {
        lb_serving(st);
        return;
    }
    st->phase = LB_TELLING;
    if (lb_ask(st, &st->put, "PUT", "/v1/backends", st->set_json, st->f->cfg.manager->token,
               LB_CALL_TIMEOUT_MS, on_told_again) < 0)
        lb_start_failed(st, "balancer: cannot send its backend set again");
}

/* Anyone answering on the admin address (another manager's balancer in
 * this namespace) would take our PUTs while ours fails to bind: refuse
 * rather than steer someone else's. No answer means it is free. */
static void on_admin_checked(void *ctx, int status, const char *body)
{
    struct lb_state *st = lb_from(ctx);
    if (st->phase != LB_CHECKING_ADMIN)
        return;
    char why[700];
    if (status > 0) {
        snprintf(why, sizeof(why),
                 "balancer: something already serves its admin address %s (another "
                 "balancer?); see --balancer-admin",
                 st->admin.url);
        lb_start_failed(st, why);
        return;
    }
    exchange_retire(&st->probe); /* a fresh connection for the new process */
    if (lb_fork(st, why, sizeof(why)) < 0) {
        lb_start_failed(st, why);
        return;
    }
    st->phase = LB_STARTING;
    st->deadline_us = st->started_us + (int64_t)LB_READY_TIMEOUT_MS * 1000;
    arm_ms(st->timer, LB_READY_POLL_MS);
}

static void lb_start(struct lb_state *st)
{
    st->phase = LB_CHECKING_ADMIN;
    if (lb_ask(st, &st->probe, "GET", "/healthz", NULL, NULL, LB_READY_CALL_TIMEOUT_MS,
               on_admin_checked) < 0)
        lb_start_failed(st, "balancer: cannot ask its admin address (out of memory)");
}

static void lb_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct lb_state *st = arg;
    (void)fd;
    (void)what;
    if (st->magic != LB_MAGIC)
        return;
    char why[600];
    switch (st->phase) {
    case LB_STARTING:
        if (now_us() >= st->deadline_us) {
            snprintf(why, sizeof(why), "balancer: its admin %s did not answer within %d ms",
                     st->admin.url, LB_READY_TIMEOUT_MS);
            lb_start_failed(st, why);
            return;
        }
        if (!st->probe.busy && lb_ask(st, &st->probe, "GET", "/healthz", NULL, NULL,
                                      LB_READY_CALL_TIMEOUT_MS, on_probe) < 0)
            log_warn("balancer: cannot probe its admin (out of memory)");
        arm_ms(st->timer, LB_READY_POLL_MS);
        break;
    case LB_BACKOFF:
        if (st->pid <= 0)
            lb_start(st);
        break;
    case LB_STOPPING:
        if (st->pid > 0) {
            log_warn("balancer: pid %d still running %d ms after SIGTERM; killing it", (int)st->pid,
                     LB_STOP_WAIT_MS);
            spawn_kill_group(st->pid);
        }
        break;
    default:
        break;
    }
}

/* The reaper's news of our balancer (watched from its fork). */
static void lb_exited(void *ctx, pid_t pid, int status)
{
    struct lb_state *st = ctx;
    if (st->magic != LB_MAGIC || st->pid <= 0 || pid != st->pid)
        return;
    char how[64], tail[200], why[512];
    spawn_describe_status(status, how, sizeof(how));
    st->pid = 0;
    lb_pid_remove(st);
    switch (st->phase) {
    case LB_STOPPING:
        log_info("balancer: pid %d stopped (%s)", pid, how);
        st->phase = LB_STOPPED;
        evtimer_del(st->timer);
        return;
    case LB_BACKOFF: /* killed after a failed restart */
        lb_schedule_restart(st);
        return;
    case LB_STARTING:
    case LB_TELLING:
        if (st->first_start) {
            log_tail(st->log_path, tail, sizeof(tail));
            snprintf(why, sizeof(why), "balancer: pid %d exited (%s) before it served: %s", pid,
                     how, tail[0] ? tail : "(empty log)");
            lb_fail_first(st, why);
            return;
        }
        break;
    default:
        break;
    }
    if (now_us() - st->started_us > (int64_t)LB_STABLE_MS * 1000)
        st->crash_streak = 0;
    st->crash_streak++;
    log_warn("balancer: pid %d died (%s); see %s", pid, how, st->log_path);
    exchange_retire(&st->probe);
    lb_schedule_restart(st);
    return;
}

/* ---- the operations ---- */

static int lb_state_new(struct fwd *f, char *err, size_t errlen)
{
    const struct manager_config *mc = f->cfg.manager;
    if (!mc || !f->cfg.base || f->cfg.vip.s_addr == 0) {
        snprintf(err, errlen, "balancer: no VIP or no manager configuration");
        return -1;
    }
    if (access(mc->balancer_path, X_OK) != 0) {
        snprintf(err, errlen, "balancer: not found or not executable at %s (see --balancer)",
                 mc->balancer_path);
        return -1;
    }
    struct lb_state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "balancer: out of memory");
        return -1;
    }
    st->magic = LB_MAGIC;
    st->f = f;
    f->priv = st;
    lb_log_path(&f->cfg, st->log_path, sizeof(st->log_path));
    snprintf(st->obs_err, sizeof(st->obs_err), "balancer: not asked yet");
    /* The admin address as the manager reaches it: a wildcard means loopback. */
    char host[ADDR_STRLEN], url[ADDR_STRLEN + 16];
    addr_format_host(&mc->balancer_admin, host, sizeof(host));
    snprintf(url, sizeof(url), "http://%s:%d", strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1" : host,
             addr_port(&mc->balancer_admin));
    if (httpcall_parse_url(url, &st->admin, err, errlen) < 0)
        return -1;
    st->timer = evtimer_new(f->cfg.base, lb_timer_cb, st);
    if (!st->timer) {
        snprintf(err, errlen, "balancer: out of memory");
        return -1;
    }
    return 0;
}

/* The balancer an earlier run left serving (kept by remove_leftovers) is
 * adopted when its admin answers: it keeps its connections and its backend
 * set until the first apply tells it the new one, and is watched through a
 * pidfd. 1 when adopted; 0 when there was none or it was removed. */
static int lb_adopt(struct lb_state *st)
{
    char name[64], why[700], err[512];
    int dirfd = lb_pid_dir(&st->f->cfg, name, sizeof(name), err, sizeof(err));
    if (dirfd < 0)
        return 0;
    pid_t pid = lb_leftover(dirfd, name, why, sizeof(why));
    int adopted = 0;
    if (pid > 0) {
        struct httpcall_reply r = {0, NULL, 0};
        int rc = httpcall_run(&st->admin, "GET", "/healthz", NULL, NULL, LB_CALL_TIMEOUT_MS, &r,
                              err, sizeof(err));
        if (rc < 0 || r.status != 200)
            snprintf(why, sizeof(why), "its admin %s did not answer /healthz: %s", st->admin.url,
                     rc < 0 ? err : "not 200");
        else if (spawn_reaper_watch_adopted(st->f->cfg.reaper, pid, lb_exited, st, err,
                                            sizeof(err)) < 0)
            snprintf(why, sizeof(why), "%s", err);
        else
            adopted = 1;
        httpcall_reply_free(&r);
    }
    if (adopted) {
        st->pid = pid;
        st->started_us = now_us();
        st->vip_added = 1; /* the earlier run's, kept */
        st->phase = LB_SERVING;
        log_info("balancer: adopted pid %d: same process (start time as recorded), admin %s "
                 "answered",
                 (int)pid, st->admin.url);
    } else if (pid > 0) {
        log_info("balancer: removed pid %d left by an earlier run: %s", (int)pid, why);
        spawn_reclaim_leftover(dirfd, name, balancer_exe, "balancer");
    }
    close(dirfd);
    return adopted;
}

/* First call: the VIP on lo (an earlier one of ours goes first) and the
 * start, or the adoption of a balancer an earlier run left; then PP_AGAIN
 * until the balancer serves, or -1 when it cannot. */
static int lb_init(struct fwd *f, char *err, size_t errlen)
{
    struct lb_state *st = f->priv;
    if (!st) {
        if (lb_state_new(f, err, errlen) < 0)
            return -1;
        st = f->priv;
        if (lb_adopt(st)) {
            f->rules = 0;
            return 0;
        }
        if (lb_vip_remove(&f->cfg, 1, err, errlen) < 0 || lb_vip_add(st, err, errlen) < 0)
            return -1;
        st->first_start = 1;
        f->rules = 0;
        lb_start(st);
    }
    if (st->phase == LB_SERVING)
        return 0;
    if (st->phase == LB_FAILED) {
        snprintf(err, errlen, "%s", st->err);
        return -1;
    }
    return PP_AGAIN;
}

static void on_put(void *ctx, int status, const char *body)
{
    struct lb_state *st = lb_from(ctx);
    st->put_answered = 1;
    st->put_ok = status == 200;
    if (status < 0)
        snprintf(st->put_err, sizeof(st->put_err),
                 "balancer: PUT /v1/backends: no answer within %d ms", LB_CALL_TIMEOUT_MS);
    else if (status != 200)
        snprintf(st->put_err, sizeof(st->put_err), "balancer: PUT /v1/backends answered %d: %.160s",
                 status, body ? body : "");
}

/* Sends the set as one PUT /v1/backends; 0 or -1 with err. */
static int lb_send_set(struct lb_state *st, char *json, char *err, size_t errlen)
{
    st->put_answered = 0;
    st->put_sent_us = now_us();
    if (lb_ask(st, &st->put, "PUT", "/v1/backends", json, st->f->cfg.manager->token,
               LB_CALL_TIMEOUT_MS, on_put) < 0) {
        free(json);
        snprintf(err, errlen, "balancer: cannot send PUT /v1/backends (out of memory)");
        return -1;
    }
    st->put_json = json;
    return 0;
}

/* One PUT of the whole set: sent on the first call, PP_AGAIN until it is
 * answered. A PUT of another set still in flight (a step given up) is
 * answered first, then this set is sent. */
static int lb_apply(struct fwd *f, const struct partition *p, const struct fwd_target *targets,
                    char *err, size_t errlen)
{
    struct lb_state *st = f->priv;
    if (st->phase != LB_SERVING) {
        free(st->put_json); /* a PUT to the process that died is nobody's now */
        st->put_json = NULL;
        snprintf(err, errlen, "balancer: not running (restarting after a failure; see %s)",
                 st->log_path);
        return -1;
    }
    char *json = backendset_json(targets, p->nblocks, err, errlen);
    if (!json)
        return -1;
    if (st->put_json && strcmp(st->put_json, json) != 0) {
        if (!st->put_answered) {
            free(json);
            return PP_AGAIN;
        }
        free(st->put_json); /* another set's answer, asked for by no one now */
        st->put_json = NULL;
    }
    if (!st->put_json)
        return lb_send_set(st, json, err, errlen) < 0 ? -1 : PP_AGAIN;
    free(json); /* the same as in flight */
    if (!st->put_answered)
        return PP_AGAIN;
    json = st->put_json;
    st->put_json = NULL;
    if (!st->put_ok) {
        snprintf(err, errlen, "%s", st->put_err);
        free(json);
        return -1;
    }
    PP_CRASH_POINT("balancer.set_taken"); /* the balancer serves the new set */
    free(st->set_json);
    st->set_json = json;
    st->set_size = p->nblocks;
    f->rules = p->nblocks;
    f->last_swap_us = now_us() - st->put_sent_us;
    return 0;
}

static void lb_ask_backends(struct lb_state *st);

/* A removed backend still holding connections: its drain is being
 * counted, so the count is kept fresh until it ends. */
static int lb_draining(const struct lb_state *st)
{
    for (size_t i = 0; i < st->nobs; i++)
        if ((st->obs[i].removed || strcmp(st->obs[i].state, "draining") == 0) &&
            st->obs[i].active > 0)
            return 1;
    return 0;
}

static void on_backends(void *ctx, int status, const char *body)
{
    struct lb_state *st = lb_from(ctx);
    char cerr[200];
    size_t n = 0;
    st->obs_ok = 0;
    if (status < 0)
        snprintf(st->obs_err, sizeof(st->obs_err),
                 "balancer: GET /v1/backends: no answer within %d ms", LB_CALL_TIMEOUT_MS);
    else if (status != 200)
        snprintf(st->obs_err, sizeof(st->obs_err), "balancer: GET /v1/backends answered %d",
                 status);
    else if (!body || backendset_parse(body, st->obs, BACKENDSET_MAX, &n, cerr, sizeof(cerr)) < 0)
        snprintf(st->obs_err, sizeof(st->obs_err), "balancer: GET /v1/backends: %s",
                 body ? cerr : "unreadable reply");
    else
        st->obs_ok = 1;
    st->nobs = st->obs_ok ? n : 0;
    st->obs_seq++;
    if (st->obs_ok && lb_draining(st))
        arm_ms(st->obs_timer, LB_DRAIN_OBSERVE_MS);
}

static void lb_ask_backends(struct lb_state *st)
{
    if (st->get.busy || st->phase != LB_SERVING)
        return;
    if (lb_ask(st, &st->get, "GET", "/v1/backends", NULL, NULL, LB_CALL_TIMEOUT_MS, on_backends) <
        0) {
        snprintf(st->obs_err, sizeof(st->obs_err), "balancer: cannot ask GET /v1/backends");
        st->obs_ok = 0;
        st->obs_seq++;
    }
}

static void lb_obs_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct lb_state *st = arg;
    (void)fd;
    (void)what;
    if (st->magic == LB_MAGIC)
        lb_ask_backends(st);
}

/* Asks GET /v1/backends (or joins the ask in flight); PP_AGAIN until an
 * answer, or a failure, is in. */
static int lb_refresh(struct fwd *f, char *err, size_t errlen)
{
    struct lb_state *st = f->priv;
    if (!st || st->phase != LB_SERVING) {
        if (st)
            st->obs_wanted = 0;
        snprintf(err, errlen, "balancer: not running");
        return -1;
    }
    if (!st->obs_timer && !(st->obs_timer = evtimer_new(f->cfg.base, lb_obs_timer_cb, st))) {
        snprintf(err, errlen, "balancer: out of memory");
        return -1;
    }
    if (st->obs_wanted == 0) {
        st->obs_wanted = st->obs_seq + 1;
        lb_ask_backends(st);
    }
    if (st->obs_seq < st->obs_wanted)
        return PP_AGAIN;
    st->obs_wanted = 0;
    if (!st->obs_ok) {
        snprintf(err, errlen, "%s", st->obs_err);
        return -1;
    }
    return 0;
}

static int lb_observe(struct fwd *f, struct fwd_observation *out, size_t max, size_t *n, char *err,
                      size_t errlen)
{
    struct lb_state *st = f->priv;
    *n = 0;
    if (!st || st->phase != LB_SERVING) {
        snprintf(err, errlen, "balancer: not running");
        return -1;
    }
    if (!st->obs_ok) {
        snprintf(err, errlen, "%s", st->obs_err);
        return -1;
    }
    *n = st->nobs < max ? st->nobs : max;
    memcpy(out, st->obs, *n * sizeof(*out));
    return 0;
}

/* The balancer's own count of its connections to the instance, as last
 * observed; a backend no longer listed has none left. */
static int lb_count_flows(struct fwd *f, const struct fwd_target *t, uint64_t *count)
{
    struct lb_state *st = f->priv;
    if (!st || !st->obs_ok)
        return -1;
    *count = 0;
    for (size_t i = 0; i < st->nobs; i++)
        if (strcmp(st->obs[i].name, t->name) == 0)
            *count = st->obs[i].active;
    return 0;
}

/* ---- reconcile: the set in force against the desired one ---- */

static void lb_check_reset(struct lb_state *st)
{
    st->check_phase = LB_CHECK_IDLE;
    free(st->check_body);
    st->check_body = NULL;
    st->check_drift = 0;
}

static void on_checked(void *ctx, int status, const char *body)
{
    struct lb_state *st = lb_from(ctx);
    if (st->check_phase != LB_CHECK_ASKED)
        return;
    st->check_phase = LB_CHECK_ANSWERED;
    st->check_status = status;
    free(st->check_body);
    st->check_body = body ? strdup(body) : NULL;
}

/* GET /v1/backends; the same set as targets: 0, nothing sent. Another:
 * one PUT of the desired set, as apply sends it (a PUT of a step still in
 * flight is answered first). PP_AGAIN until the answers are in. A
 * balancer that is not serving is its supervisor's to tell the set when
 * it serves again: 0, nothing done. */
static int lb_reconcile(struct fwd *f, const struct partition *p, const struct fwd_target *targets,
                        struct fwd_drift *drift, char *err, size_t errlen)
{
    struct lb_state *st = f->priv;
    if (!st || st->phase != LB_SERVING) {
        if (st) {
            if (st->check_phase == LB_CHECK_PUTTING) { /* to the process that died */
                free(st->put_json);
                st->put_json = NULL;
            }
            exchange_retire(&st->check);
            lb_check_reset(st);
        }
        return 0;
    }
    switch (st->check_phase) {
    case LB_CHECK_IDLE:
        if (st->put_json && !st->put_answered)
            return PP_AGAIN; /* a step's PUT: what it sets is what is checked */
        if (lb_ask(st, &st->check, "GET", "/v1/backends", NULL, NULL, LB_CALL_TIMEOUT_MS,
                   on_checked) < 0) {
            snprintf(err, errlen, "balancer: cannot ask GET /v1/backends (out of memory)");
            return -1;
        }
        st->check_phase = LB_CHECK_ASKED;
        return PP_AGAIN;
    case LB_CHECK_ASKED:
        return PP_AGAIN;
    case LB_CHECK_ANSWERED: {
        char cerr[200];
        int rc = 0;
        if (st->check_status != 200 || !st->check_body) {
            if (st->check_status < 0)
                snprintf(err, errlen, "balancer: GET /v1/backends: no answer within %d ms",
                         LB_CALL_TIMEOUT_MS);
            else
                snprintf(err, errlen, "balancer: GET /v1/backends answered %d", st->check_status);
            rc = -1;
        } else if (backendset_drift(st->check_body, targets, p->nblocks, &st->check_drift, cerr,
                                    sizeof(cerr)) < 0) {
            snprintf(err, errlen, "balancer: GET /v1/backends: %s", cerr);
            rc = -1;
        }
        if (rc < 0 || st->check_drift == 0) {
            lb_check_reset(st);
            return rc; /* as told: nothing is sent */
        }
        if (st->put_json) { /* answered: a step given up, asked for by no one now */
            free(st->put_json);
            st->put_json = NULL;
        }
        char *json = backendset_json(targets, p->nblocks, err, errlen);
        if (!json || lb_send_set(st, json, err, errlen) < 0) {
            lb_check_reset(st);
            return -1;
        }
        st->check_phase = LB_CHECK_PUTTING;
        return PP_AGAIN;
    }
    case LB_CHECK_PUTTING:
        break;
    }
    if (!st->put_answered)
        return PP_AGAIN;
    char *json = st->put_json;
    st->put_json = NULL;
    if (!st->put_ok) {
        snprintf(err, errlen, "%s", st->put_err);
        free(json);
        lb_check_reset(st);
        return -1;
    }
    free(st->set_json);
    st->set_json = json;
    st->set_size = p->nblocks;
    f->rules = p->nblocks;
    f->last_swap_us = now_us() - st->put_sent_us;
    drift->count[FWD_DRIFT_BACKEND] += st->check_drift;
    lb_check_reset(st);
    return 0;
}

/* SIGTERM (the balancer finishes its connections), SIGKILL after
 * LB_STOP_WAIT_MS; PP_AGAIN until it exited, then the VIP goes. */
static int lb_clear(struct fwd *f, char *err, size_t errlen)
{
    struct lb_state *st = f->priv;
    if (!st)
        return 0;
    if (st->phase != LB_STOPPING && st->phase != LB_STOPPED) {
        if (st->timer)
            evtimer_del(st->timer);
        if (st->obs_timer)
            evtimer_del(st->obs_timer);
        exchange_retire(&st->probe);
        exchange_retire(&st->put);
        exchange_retire(&st->get);
        exchange_retire(&st->check);
        lb_check_reset(st);
        free(st->put_json);
        st->put_json = NULL;
        if (st->pid > 0) {
            kill(st->pid, SIGTERM);
            st->phase = LB_STOPPING;
            arm_ms(st->timer, LB_STOP_WAIT_MS);
        } else {
            st->phase = LB_STOPPED;
        }
    }
    if (st->phase == LB_STOPPING)
        return PP_AGAIN;
    free(st->set_json);
    st->set_json = NULL;
    st->set_size = 0;
    f->rules = 0;
    /* Only once the balancer is gone: its last connections still arrive
     * on the VIP. */
    int rc = 0;
    if (st->vip_added)
        rc = lb_vip_remove(&f->cfg, 0, err, errlen);
    st->vip_added = 0;
    return rc < 0 ? -1 : 0;
}

static void lb_free(struct fwd *f)
{
    struct lb_state *st = f ? f->priv : NULL;
    if (!st)
        return;
    exchange_free(&st->probe);
    exchange_free(&st->put);
    exchange_free(&st->get);
    exchange_free(&st->check);
    if (st->pid > 0) { /* freed without a clear (at exit after a failure) */
        spawn_reaper_forget(f->cfg.reaper, st->pid);
        if (!f->keep) { /* kept: an exit that leaves the pool serving */
            spawn_kill_group(st->pid);
            lb_pid_remove(st);
        }
    }
    if (st->timer)
        event_free(st->timer);
    if (st->obs_timer)
        event_free(st->obs_timer);
    free(st->set_json);
    free(st->put_json);
    free(st->check_body);
    st->magic = 0;
    free(st);
    f->priv = NULL;
}

const struct fwd_ops fwd_balancer_ops = {
    .name = "balancer",
    .init = lb_init,
    .apply = lb_apply,
    .clear = lb_clear,
    .free = lb_free,
    .observe = lb_observe,
    .refresh = lb_refresh,
    .count_flows = lb_count_flows,
    .reconcile = lb_reconcile,
    .per_connection = 1,
};
