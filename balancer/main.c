/* balancer: options, the event loop, signals; the work is in balancer.c
 * (accepting, health verdicts, the set), relay.c (the data path),
 * health.c (active checks), pick_*.c (algorithms) and admin.c (REST). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>

#include "admin.h"
#include "balancer.h"
#include "config.h"
#include "log.h"

/* Descriptors wanted: two sockets and up to four pipe ends per connection,
 * with room for the admin API and checks. */
static void raise_fd_limit(long max_conns)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t want = (rlim_t)max_conns * 6 + 1024;
    if (rl.rlim_max < want) {
        struct rlimit hard = {want, want};
        if (setrlimit(RLIMIT_NOFILE, &hard) == 0)
            rl = hard;
    }
    rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        log_warn("cannot raise the descriptor limit: %s", strerror(errno));
    if (rl.rlim_cur < want)
        log_info("descriptor limit %llu: room for about %llu busy connections (each holds two "
                 "sockets and, while bytes move, two pipes); --max-conns is %ld",
                 (unsigned long long)rl.rlim_cur, (unsigned long long)(rl.rlim_cur - 1024) / 6,
                 max_conns);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    struct balancer *bal = arg;
    log_info("signal %d: stopping", (int)sig);
    balancer_stop(bal);
}

int main(int argc, char **argv)
{
    static struct balancer_config cfg;
    char err[512];
    int rc = balancer_config_load(&cfg, argc, argv, err, sizeof(err));
    if (rc == 1)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "balancer: %s\n", err);
        return 2;
    }
    log_init("balancer", NULL);
    log_set_level(cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit(cfg.max_conns);

    struct event_base *base = event_base_new();
    if (!base) {
        log_error("cannot create the event loop");
        return 1;
    }
    struct balancer *bal = balancer_new(base, &cfg, err, sizeof(err));
    if (!bal) {
        log_error("%s", err);
        return 1;
    }
    struct admin *admin = admin_new(base, bal, err, sizeof(err));
    if (!admin || balancer_listen(bal, err, sizeof(err)) < 0) {
        log_error("%s", err);
        admin_free(admin);
        balancer_free(bal);
        event_base_free(base);
        return 1;
    }
    char a[ADDR_STRLEN];
    addr_format(&cfg.admin, a, sizeof(a));
    log_info("admin API on %s (port %d); algorithm %s; %zu backends", a, admin_port(admin),
             cfg.algo, cfg.nbackends);

    struct event *ev_term = evsignal_new(base, SIGTERM, on_stop_signal, bal);
    struct event *ev_int = evsignal_new(base, SIGINT, on_stop_signal, bal);
    evsignal_add(ev_term, NULL);
    evsignal_add(ev_int, NULL);

    event_base_dispatch(base);

    event_free(ev_term);
    event_free(ev_int);
    admin_free(admin);
    balancer_free(bal);
    event_base_free(base);
    log_info("stopped");
    return 0;
}
