/* Forwarding by the balancer (issue 5, fwd_ops "balancer"): the manager runs
 * the balancer program as its child on VIP:port in its own network namespace
 * (the VIP added to lo, labelled so a later run finds it), tells it the
 * ready instances as its whole backend set in one PUT /v1/backends at each
 * scale step, restarts it with backoff when it dies (and tells it the set
 * again), and reads each backend's state, connections and latency back for
 * GET /v1/pool and for the pool's drain accounting. */
#include "forwarding.h"

#include <arpa/inet.h>
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
#include "config.h"
#include "httpcall.h"
#include "log.h"
#include "netdev.h"
#include "spawn.h"
#include "statedir.h"

#define LB_MAGIC 0x6c62666du
/* One admin call to a balancer on this host answers in well under a
 * millisecond; a stuck one must not hold the manager's loop for long. */
#define LB_CALL_TIMEOUT_MS 2000
/* Spawn to the admin API answering: the balancer binds and serves in a few
 * milliseconds; a second is a hundred times that. */
#define LB_READY_TIMEOUT_MS 3000
#define LB_READY_POLL_US 10000
#define LB_READY_CALL_TIMEOUT_MS 200
/* Leaving the mode: the balancer gets SIGTERM and lets its connections
 * finish; the manager's loop waits this long, then kills it. */
#define LB_STOP_WAIT_MS 5000
#define LB_STOP_POLL_US 10000
/* Restart backoff, as the pool's for instances: 100 ms doubling, at most
 * 30 s; a balancer that ran this long starts the count again. */
#define LB_BACKOFF_FIRST_MS 100
#define LB_BACKOFF_MAX_MS 30000
#define LB_STABLE_MS 10000
/* A leftover balancer of an earlier run gets SIGKILL and this long to go. */
#define LB_LEFTOVER_WAIT_MS 1000

struct lb_state {
    unsigned magic;
    struct fwd *f;
    pid_t pid;          /* the balancer, 0 while not running */
    int64_t started_us; /* monotonic, of the last spawn */
    unsigned crash_streak;
    int vip_added;
    struct httpcall_target admin;
    char log_path[600];
    char *set_json; /* the backend set last told, told again after a restart */
    size_t set_size;
    struct event *restart_ev;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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

static void describe_status(int status, char *out, size_t outlen)
{
    if (WIFEXITED(status))
        snprintf(out, outlen, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, outlen, "signal %d", WTERMSIG(status));
    else
        snprintf(out, outlen, "status %d", status);
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

int fwd_balancer_remove_leftovers(const struct fwd_config *cfg, char *err, size_t errlen)
{
    char name[64], why[160];
    int dirfd = lb_pid_dir(cfg, name, sizeof(name), err, errlen);
    if (dirfd < 0)
        return -1;
    pid_t pid = 0;
    int ours = statedir_pidfile_check(dirfd, name, &pid, why, sizeof(why));
    if (ours == 0 && pid > 1 && spawn_process_alive(pid))
        log_warn("balancer: not stopping pid %d named by %s: %s", (int)pid, name, why);
    if (ours == 1) {
        char exe[64], target[1024];
        snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
        ssize_t tl = readlink(exe, target, sizeof(target) - 1);
        if (tl > 0) {
            target[tl] = '\0';
            const char *base = strrchr(target, '/');
            base = base ? base + 1 : target;
            if (strncmp(base, "balancer", 8) == 0) {
                log_info("balancer: stopping balancer pid %d left by an earlier run (%s/%s)",
                         (int)pid, cfg->manager->state_dir, name);
                kill(pid, SIGKILL);
                for (int i = 0; i < LB_LEFTOVER_WAIT_MS / 10 && spawn_process_alive(pid); i++)
                    usleep(10000);
            }
        }
    }
    if (ours >= 0)
        unlinkat(dirfd, name, 0);
    close(dirfd);
    return lb_vip_remove(cfg, 1, err, errlen) < 0 ? -1 : 0;
}

/* Something already answering on the admin address (another manager's
 * balancer in this namespace) would take our PUTs while ours fails to bind:
 * refuse rather than steer someone else's. */
static int lb_admin_free(struct lb_state *st, char *err, size_t errlen)
{
    struct httpcall_reply r;
    char cerr[200];
    if (httpcall_run(&st->admin, "GET", "/healthz", NULL, NULL, LB_READY_CALL_TIMEOUT_MS, &r, cerr,
                     sizeof(cerr)) == -1)
        return 0; /* nothing there */
    httpcall_reply_free(&r);
    snprintf(err, errlen,
             "balancer: something already serves its admin address %s (another balancer?); "
             "see --balancer-admin",
             st->admin.url);
    return -1;
}

static int lb_spawn(struct lb_state *st, char *err, size_t errlen)
{
    if (lb_admin_free(st, err, errlen) < 0)
        return -1;
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
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "balancer: fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        spawn_child_prepare(st->log_path);
        execv(mc->balancer_path, argv);
        dprintf(2, "manager: exec %s: %s\n", mc->balancer_path, strerror(errno));
        _exit(127);
    }
    st->pid = pid;
    st->started_us = now_us();
    char name[64], perr[512];
    int dirfd = lb_pid_dir(fc, name, sizeof(name), perr, sizeof(perr));
    if (dirfd < 0 || statedir_pidfile_write(dirfd, name, pid, perr, sizeof(perr)) < 0)
        log_warn("balancer: %s (a crash of the manager would leave it running)", perr);
    if (dirfd >= 0)
        close(dirfd);
    log_info("balancer: started pid %d on %s (admin %s, %s), log %s", (int)pid, listen, admin,
             mc->balancer_algo, st->log_path);
    return 0;
}

/* Waits (blocking, bounded) until the balancer's admin answers /healthz.
 * When it exits meanwhile it is reaped here and pid goes to 0. */
static int lb_wait_ready(struct lb_state *st, char *err, size_t errlen)
{
    int64_t deadline = now_us() + (int64_t)LB_READY_TIMEOUT_MS * 1000;
    char cerr[200] = "";
    for (;;) {
        int status;
        if (waitpid(st->pid, &status, WNOHANG) == st->pid) {
            char how[64], tail[200];
            describe_status(status, how, sizeof(how));
            log_tail(st->log_path, tail, sizeof(tail));
            snprintf(err, errlen, "balancer: pid %d exited (%s) before it served: %s", (int)st->pid,
                     how, tail[0] ? tail : "(empty log)");
            st->pid = 0;
            lb_pid_remove(st);
            return -1;
        }
        struct httpcall_reply r;
        if (httpcall_run(&st->admin, "GET", "/healthz", NULL, NULL, LB_READY_CALL_TIMEOUT_MS, &r,
                         cerr, sizeof(cerr)) == 0) {
            int status_code = r.status;
            httpcall_reply_free(&r);
            if (status_code == 200)
                return 0;
            snprintf(cerr, sizeof(cerr), "GET /healthz answered %d", status_code);
        }
        if (now_us() >= deadline) {
            snprintf(err, errlen, "balancer: its admin %s did not answer within %d ms: %s",
                     st->admin.url, LB_READY_TIMEOUT_MS, cerr);
            return -1;
        }
        usleep(LB_READY_POLL_US);
    }
}

/* PUT /v1/backends with the set; 0, or -1 with err. */
static int lb_put_set(struct lb_state *st, const char *json, char *err, size_t errlen)
{
    struct httpcall_reply r;
    char cerr[256];
    if (httpcall_run(&st->admin, "PUT", "/v1/backends", json, st->f->cfg.manager->token,
                     LB_CALL_TIMEOUT_MS, &r, cerr, sizeof(cerr)) < 0) {
        snprintf(err, errlen, "balancer: PUT /v1/backends: %s", cerr);
        return -1;
    }
    int rc = 0;
    if (r.status != 200) {
        snprintf(err, errlen, "balancer: PUT /v1/backends answered %d: %.160s", r.status,
                 r.body ? r.body : "");
        rc = -1;
    }
    httpcall_reply_free(&r);
    return rc;
}

/* SIGTERM, then a bounded wait (the balancer finishes its connections),
 * then SIGKILL. */
static void lb_stop(struct lb_state *st)
{
    if (st->pid <= 0)
        return;
    pid_t pid = st->pid;
    kill(pid, SIGTERM);
    int64_t deadline = now_us() + (int64_t)LB_STOP_WAIT_MS * 1000;
    int status = 0;
    pid_t r;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && now_us() < deadline)
        usleep(LB_STOP_POLL_US);
    if (r == 0) {
        log_warn("balancer: pid %d still running %d ms after SIGTERM; killing it", (int)pid,
                 LB_STOP_WAIT_MS);
        kill(pid, SIGKILL);
        r = waitpid(pid, &status, 0);
    }
    char how[64] = "already reaped";
    if (r == pid)
        describe_status(status, how, sizeof(how));
    log_info("balancer: pid %d stopped (%s)", (int)pid, how);
    st->pid = 0;
    lb_pid_remove(st);
}

static void lb_schedule_restart(struct lb_state *st)
{
    int64_t backoff_ms = LB_BACKOFF_FIRST_MS;
    for (unsigned i = 1; i < st->crash_streak && backoff_ms < LB_BACKOFF_MAX_MS; i++)
        backoff_ms *= 2;
    if (backoff_ms > LB_BACKOFF_MAX_MS)
        backoff_ms = LB_BACKOFF_MAX_MS;
    struct timeval tv = {(time_t)(backoff_ms / 1000), (suseconds_t)((backoff_ms % 1000) * 1000)};
    evtimer_add(st->restart_ev, &tv);
    log_warn("balancer: restarting in %lld ms (failure %u in a row)", (long long)backoff_ms,
             st->crash_streak);
}

static void lb_restart_cb(evutil_socket_t fd, short what, void *arg)
{
    struct lb_state *st = arg;
    (void)fd;
    (void)what;
    if (st->magic != LB_MAGIC || st->pid > 0)
        return;
    char err[512];
    if (lb_spawn(st, err, sizeof(err)) < 0 || lb_wait_ready(st, err, sizeof(err)) < 0 ||
        (st->set_json && lb_put_set(st, st->set_json, err, sizeof(err)) < 0)) {
        log_error("%s", err);
        st->crash_streak++;
        if (st->pid > 0)
            kill(st->pid, SIGKILL); /* the pool reaps it and we come back here */
        else
            lb_schedule_restart(st);
        return;
    }
    log_info("balancer: pid %d serving again with the %zu backends it had", (int)st->pid,
             st->set_size);
}

static int lb_child_exited(struct fwd *f, int pid, int status)
{
    struct lb_state *st = f->priv;
    if (!st || st->pid <= 0 || pid != st->pid)
        return 0;
    char how[64];
    describe_status(status, how, sizeof(how));
    if (now_us() - st->started_us > (int64_t)LB_STABLE_MS * 1000)
        st->crash_streak = 0;
    st->crash_streak++;
    log_warn("balancer: pid %d died (%s); see %s", pid, how, st->log_path);
    st->pid = 0;
    lb_schedule_restart(st);
    return 1;
}

static int lb_init(struct fwd *f, char *err, size_t errlen)
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
    /* The admin address as the manager reaches it: a wildcard means loopback. */
    char host[ADDR_STRLEN], url[ADDR_STRLEN + 16];
    addr_format_host(&mc->balancer_admin, host, sizeof(host));
    snprintf(url, sizeof(url), "http://%s:%d", strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1" : host,
             addr_port(&mc->balancer_admin));
    if (httpcall_parse_url(url, &st->admin, err, errlen) < 0)
        return -1;
    snprintf(st->admin.agent, sizeof(st->admin.agent), "manager");
    st->restart_ev = evtimer_new(f->cfg.base, lb_restart_cb, st);
    if (!st->restart_ev) {
        snprintf(err, errlen, "balancer: out of memory");
        return -1;
    }
    if (fwd_balancer_remove_leftovers(&f->cfg, err, errlen) < 0 ||
        lb_vip_add(st, err, errlen) < 0 || lb_spawn(st, err, errlen) < 0 ||
        lb_wait_ready(st, err, errlen) < 0) {
        /* steer calls free, not clear, after a failed init. */
        char cerr[200];
        lb_stop(st);
        if (st->vip_added && lb_vip_remove(&f->cfg, 0, cerr, sizeof(cerr)) < 0)
            log_error("%s", cerr);
        st->vip_added = 0;
        return -1;
    }
    f->rules = 0;
    return 0;
}

static int lb_apply(struct fwd *f, const struct partition *p, const struct fwd_target *targets,
                    char *err, size_t errlen)
{
    struct lb_state *st = f->priv;
    int64_t start = now_us();
    size_t n = p->nblocks;
    char *json = backendset_json(targets, n, err, errlen);
    if (!json)
        return -1;
    if (st->pid <= 0) {
        snprintf(err, errlen, "balancer: not running (restarting after a failure; see %s)",
                 st->log_path);
        free(json);
        return -1;
    }
    if (lb_put_set(st, json, err, errlen) < 0) {
        free(json);
        return -1;
    }
    free(st->set_json);
    st->set_json = json;
    st->set_size = n;
    f->rules = n;
    f->last_swap_us = now_us() - start;
    return 0;
}

static int lb_observe(struct fwd *f, struct fwd_observation *out, size_t max, size_t *n, char *err,
                      size_t errlen)
{
    struct lb_state *st = f->priv;
    *n = 0;
    if (!st || st->pid <= 0) {
        snprintf(err, errlen, "balancer: not running");
        return -1;
    }
    struct httpcall_reply r;
    char cerr[256];
    if (httpcall_run(&st->admin, "GET", "/v1/backends", NULL, NULL, LB_CALL_TIMEOUT_MS, &r, cerr,
                     sizeof(cerr)) < 0) {
        snprintf(err, errlen, "balancer: GET /v1/backends: %s", cerr);
        return -1;
    }
    int rc = -1;
    if (r.status != 200)
        snprintf(err, errlen, "balancer: GET /v1/backends answered %d", r.status);
    else if (backendset_parse(r.body, out, max, n, cerr, sizeof(cerr)) < 0)
        snprintf(err, errlen, "balancer: GET /v1/backends: %s", cerr);
    else
        rc = 0;
    httpcall_reply_free(&r);
    return rc;
}

static int lb_clear(struct fwd *f, char *err, size_t errlen)
{
    struct lb_state *st = f->priv;
    if (!st)
        return 0;
    if (st->restart_ev)
        evtimer_del(st->restart_ev);
    lb_stop(st);
    free(st->set_json);
    st->set_json = NULL;
    st->set_size = 0;
    f->rules = 0;
    /* Only once the balancer is gone: its last connections still arrive
     * on the VIP. */
    int rc = lb_vip_remove(&f->cfg, 0, err, errlen);
    st->vip_added = 0;
    return rc < 0 ? -1 : 0;
}

static void lb_free(struct fwd *f)
{
    struct lb_state *st = f ? f->priv : NULL;
    if (!st)
        return;
    if (st->restart_ev)
        event_free(st->restart_ev);
    free(st->set_json);
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
    .child_exited = lb_child_exited,
    .per_connection = 1,
};
