/* manager: parse the configuration, adopt what an earlier run left serving
 * (and clean up the rest), bring the pool to --replicas, serve the REST API;
 * on SIGTERM or SIGINT drain and stop every instance and remove what was
 * made before exiting, on SIGUSR2 (or with --keep-on-exit) exit leaving the
 * pool serving for the next manager to adopt. */
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "api.h"
#include "autoscale.h"
#include "caps.h"
#include "config.h"
#include "crashpoint.h"
#include "features.h"
#include "log.h"
#include "pool.h"
#include "registry.h"
#include "scale.h"
#include "spawn.h"
#include "statedir.h"
#include "steer.h"

/* What main wires, in the order it is made (and unmade in reverse). */
static struct spawn_reaper *reaper;
static struct pool *pool;
static struct steer *steer;
static struct scale *scale;
static struct autoscale *autoscale;
static struct api *api;
static int keep_on_exit; /* --keep-on-exit: SIGTERM and SIGINT act as SIGUSR2 */

static void on_stopped(void *arg)
{
    log_info("every instance stopped; exiting");
    event_base_loopexit(arg, NULL);
}

static void on_forwarding_removed(void *arg, int ok, const char *message)
{
    (void)ok;
    (void)message;
    pool_shutdown(pool, on_stopped, arg);
}

/* Exit leaving the pool serving: instances, forwarding rules and pid
 * files stay for the next manager to adopt (an upgrade: stop this one,
 * start the new one). Nothing is drained or removed. */
static void leave_serving(int sig, struct event_base *base)
{
    log_info("%s: exiting and leaving %zu instance%s and the %s forwarding in place for the "
             "next manager to adopt",
             strsignal(sig), pool_count_state(pool, INSTANCE_READY),
             pool_count_state(pool, INSTANCE_READY) == 1 ? "" : "s", steer_mode(steer));
    api_set_stopping(api);
    autoscale_stop(autoscale);
    scale_stop(scale);
    api_set_steer(api, NULL);
    steer_leave_installed(steer);
    event_base_loopexit(base, NULL);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    static int once;
    if (sig == SIGUSR2 || keep_on_exit) {
        if (!once++)
            leave_serving((int)sig, arg);
        return;
    }
    if (once++) {
        log_warn("%s again: still waiting for instances to drain", strsignal((int)sig));
        return;
    }
    log_info("%s: draining and stopping every instance", strsignal((int)sig));
    api_set_stopping(api);
    autoscale_stop(autoscale);
    scale_stop(scale);
    /* Forwarding rules go first: no new client is sent to an instance that
     * is about to stop (established flows keep their mapping); the
     * instances drain once they are gone (the balancer stopped). */
    api_set_steer(api, NULL);
    steer_shutdown(steer, on_forwarding_removed, arg);
}

static void on_initial_scale(void *ctx, int ok, const char *message)
{
    (void)ctx;
    if (ok)
        log_info("pool ready at %d", pool_desired(pool));
    else
        log_warn("pool not ready: %s", message);
}

/* What the manager uses, and for what; every other capability (module
 * loading, raw I/O, time, mknod, BPF, ...) leaves the bounding set at start,
 * so neither the manager nor anything it starts can hold it. Instances get
 * this set at exec and cut it further: proxyd to nothing after its bind, the
 * container runtime to what a worker needs before it drops to its user. */
static const int manager_caps[] = {
    CAP_NET_ADMIN,        /* DNAT rules, conntrack, veths, bridges, routes, ip rules */
    CAP_NET_RAW,          /* libiptc's raw socket */
    CAP_SYS_ADMIN,        /* namespaces, mounts in a container, setns for route mode */
    CAP_SYS_PTRACE,       /* /proc/PID/ns of an instance that changed its user */
    CAP_KILL,             /* signals to instances running as their own users */
    CAP_SETUID,           /* workers become their users (proxyd, Squid, nginx) */
    CAP_SETGID,           /* ... and their groups */
    CAP_SETPCAP,          /* workers cut their bounding set */
    CAP_CHOWN,            /* a worker's log and cache directories to its user */
    CAP_DAC_OVERRIDE,     /* reading and removing what workers wrote as their users */
    CAP_FOWNER,           /* ... and changing its modes */
    CAP_NET_BIND_SERVICE, /* instances and the balancer on ports below 1024 */
    CAP_SYS_RESOURCE,     /* descriptor limits above the hard limit */
};

/* --features: the JSON object on stdout; 0, or 1 when it could not be built. */
static int print_features(void)
{
    char err[128];
    char *json = manager_features_json(err, sizeof(err));
    if (!json) {
        fprintf(stderr, "manager: %s\n", err);
        return 1;
    }
    printf("%s\n", json);
    free(json);
    return 0;
}

/* The modules, each given what it uses: the reaper first (every child's
 * exit goes through it), the pool, the forwarding (which reads the pool),
 * the scale step (which drives both), the API last. 0, or -1 logged. */
static int manager_wire(struct event_base *base, struct manager_config *cfg)
{
    char err[512];
    const struct runtime_ops *ops = registry_runtime(cfg->runtime);
    if (!ops) { /* config.c accepts known names only */
        log_error("no runtime '%s'", cfg->runtime);
        return -1;
    }
    if (!(reaper = spawn_reaper_new(base, err, sizeof(err)))) {
        log_error("%s", err);
        return -1;
    }
    if (!(pool = pool_new(base, cfg, ops, reaper, err, sizeof(err)))) {
        log_error("%s runtime: %s", ops->name, err);
        return -1;
    }
    /* After pool_new made the state dir, before the balancer needs it. */
    if (api_token_prepare(cfg, err, sizeof(err)) < 0) {
        log_error("REST API: %s", err);
        return -1;
    }
    if (!(steer = steer_new(cfg, pool, reaper, err, sizeof(err)))) {
        log_error("forwarding %s: %s", cfg->forwarding, err);
        return -1;
    }
    if (!(scale = scale_new(base, pool, steer, err, sizeof(err))) ||
        !(api = api_new(base, pool, scale, cfg, err, sizeof(err)))) {
        log_error("REST API: %s", err);
        return -1;
    }
    api_set_steer(api, steer);
    if (!(autoscale = autoscale_new(base, cfg, pool, scale, steer, err, sizeof(err)))) {
        log_error("autoscale: %s", err);
        return -1;
    }
    api_set_autoscale(api, autoscale);
    return 0;
}

static void manager_unwire(void)
{
    api_free(api);
    autoscale_free(autoscale);
    scale_free(scale);
    steer_free(steer);
    pool_free(pool);
    spawn_reaper_free(reaper);
}

int main(int argc, char **argv)
{
    static struct manager_config cfg;
    char err[512];
    if (crashpoint_list_if_asked()) /* test builds only: the scenario's list */
        return 0;
    int rc = manager_config_load(&cfg, argc, argv, err, sizeof(err));
    if (rc == 1)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "manager: %s\n", err);
        return 2;
    }
    if (cfg.print_features)
        return print_features();
    log_init("manager", NULL);
    log_set_level(cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    if (geteuid() == 0 &&
        caps_limit_to(manager_caps, sizeof(manager_caps) / sizeof(manager_caps[0]), err,
                      sizeof(err)) < 0) {
        log_error("capabilities: %s", err);
        manager_config_free(&cfg);
        return 1;
    }
    /* Checked once here for a clear line; each module opens it again. */
    int state_dirfd = statedir_open(cfg.state_dir, err, sizeof(err));
    if (state_dirfd < 0) {
        log_error("%s", err);
        manager_config_free(&cfg);
        return 1;
    }
    /* Before anything is touched: a second manager over a live one's state
     * would take its instances for leftovers and kill them. Held to exit. */
    int locks[2];
    if (statedir_lock_manager(state_dirfd, cfg.state_dir, cfg.prefix, locks, err, sizeof(err)) <
        0) {
        log_error("%s", err);
        close(state_dirfd);
        manager_config_free(&cfg);
        return 1;
    }
    close(state_dirfd);
    struct event_base *base = event_base_new();
    if (!base) {
        log_error("event_base_new failed");
        manager_config_free(&cfg);
        return 1;
    }
    if (manager_wire(base, &cfg) < 0) {
        manager_unwire();
        event_base_free(base);
        manager_config_free(&cfg);
        return 1;
    }
    char a[ADDR_STRLEN];
    addr_format(&cfg.api, a, sizeof(a));
    log_info("REST API on http://%s/v1/pool, %s runtime, state in %s", a, pool_runtime_name(pool),
             cfg.state_dir);
    /* The autoscaler starts from --replicas, within its bounds. */
    if (cfg.autoscale.enabled && cfg.replicas < cfg.autoscale.min)
        cfg.replicas = cfg.autoscale.min;
    if (cfg.autoscale.enabled && cfg.replicas > cfg.autoscale.max)
        cfg.replicas = cfg.autoscale.max;
    if (scale_to(scale, cfg.replicas, on_initial_scale, NULL, err, sizeof(err)) < 0)
        log_error("initial scale: %s", err);
    struct event *ev_term = evsignal_new(base, SIGTERM, on_stop_signal, base);
    struct event *ev_int = evsignal_new(base, SIGINT, on_stop_signal, base);
    struct event *ev_usr2 = evsignal_new(base, SIGUSR2, on_stop_signal, base);
    keep_on_exit = cfg.keep_on_exit;
    evsignal_add(ev_term, NULL);
    evsignal_add(ev_int, NULL);
    evsignal_add(ev_usr2, NULL);
    event_base_dispatch(base);
    event_free(ev_term);
    event_free(ev_int);
    event_free(ev_usr2);
    manager_unwire();
    event_base_free(base);
    explicit_bzero(cfg.token, sizeof(cfg.token));
    manager_config_free(&cfg);
    return 0;
}
