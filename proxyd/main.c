/* proxyd: parse the configuration, open listeners in N worker threads, start
 * the admin endpoint, drop root for an unprivileged user before any thread
 * runs, and turn signals into a graceful stop (SIGTERM, SIGINT) or a log
 * reopen (SIGHUP). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "accesslog.h"
#include "admin.h"
#include "config.h"
#include "log.h"
#include "privs.h"
#include "worker.h"

static struct worker **workers;
static int nworkers;
static struct admin *admin;

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    (void)arg;
    log_info("%s: finishing in-flight requests, then exiting", strsignal((int)sig));
    admin_set_stopping(admin);
    for (int i = 0; i < nworkers; i++)
        worker_request_stop(workers[i]);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    (void)arg;
    char err[256];
    if (accesslog_reopen(err, sizeof(err)) < 0)
        log_error("%s", err);
    else
        log_info("SIGHUP: access log reopened");
}

/* 1000 clients, each with an origin connection, need more descriptors than
 * the usual soft limit of 1024: take the hard limit. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warn("could not raise the descriptor limit to %llu",
                     (unsigned long long)rl.rlim_max);
    }
}

#ifdef PP_TEST_HOOKS
/* Test builds only (make asan adds -DPP_TEST_HOOKS; the product has no trace
 * of this). PP_TEST_HEAP_OVERFLOW=1 plants a one-byte heap overflow, once,
 * in a forked copy of this proxyd at start, so the sanitizer's report lands
 * in this instance's log while the instance itself goes on serving: then
 * only the log scan can notice, which is what scenario 63 proves it does for
 * instances the manager starts. Called before any thread exists. */
static void testhook_heap_overflow(void)
{
    const char *v = getenv("PP_TEST_HEAP_OVERFLOW");
    if (!v || strcmp(v, "1") != 0)
        return;
    log_warn("PP_TEST_HEAP_OVERFLOW=1: a forked copy overflows a heap buffer (test build)");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* volatile: the compiler can neither drop the store nor know the
         * size (UBSan's object-size check would then stop it before ASan) */
        volatile size_t size_bytes = 16;
        volatile char *buf = malloc(size_bytes);
        if (buf)
            buf[size_bytes] = 'x';
        free((void *)buf);
        _exit(0);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}
#else
static void testhook_heap_overflow(void)
{
}
#endif

/* Root only to bind: from here on, the chosen user with no capability. */
static int drop_privileges(const struct privs_target *t)
{
    char err[256];
    if (privs_drop(t, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return -1;
    }
    if (t->keep_root)
        log_warn("--user root: running as root with every capability, as asked");
    else
        log_info("running as user %s (uid %u, gid %u), no capabilities", t->user, (unsigned)t->uid,
                 (unsigned)t->gid);
    return 0;
}

int main(int argc, char **argv)
{
    static struct proxyd_config cfg;
    char err[512];
    int rc = config_load(&cfg, argc, argv, err, sizeof(err));
    if (rc == 1)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "proxyd: %s\n", err);
        return 2;
    }
    log_init("proxyd", cfg.name);
    log_set_level(cfg.log_level);
    testhook_heap_overflow();
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    evthread_use_pthreads();
    struct privs_target privs;
    if (privs_choose(cfg.user[0] ? cfg.user : NULL, &privs, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return 1;
    }
    if (cfg.access_log[0] && (accesslog_open_file(cfg.access_log, err, sizeof(err)) < 0 ||
                              privs_give_file(&privs, cfg.access_log, err, sizeof(err)) < 0)) {
        log_error("%s", err);
        return 1;
    }
    nworkers = cfg.threads;
    workers = calloc((size_t)nworkers, sizeof(*workers));
    if (!workers) {
        log_error("out of memory");
        return 1;
    }
    for (int i = 0; i < nworkers; i++) {
        workers[i] = worker_new(i, &cfg, nworkers, err, sizeof(err));
        if (!workers[i]) {
            log_error("worker %d: %s", i, err);
            return 1;
        }
    }
    if (cfg.have_admin) {
        admin = admin_new(workers, (size_t)nworkers, err, sizeof(err));
        if (!admin) {
            log_error("admin endpoint: %s", err);
            return 1;
        }
    }
    if (drop_privileges(&privs) < 0)
        return 1;
    struct event_base *base = workers[0]->base;
    struct event *ev_term = evsignal_new(base, SIGTERM, on_stop_signal, NULL);
    struct event *ev_int = evsignal_new(base, SIGINT, on_stop_signal, NULL);
    struct event *ev_hup = evsignal_new(base, SIGHUP, on_hup, NULL);
    evsignal_add(ev_term, NULL);
    evsignal_add(ev_int, NULL);
    evsignal_add(ev_hup, NULL);

    for (size_t i = 0; i < cfg.nlisteners; i++) {
        static const char *modes[] = {"forward", "intercept", "reverse"};
        char a[ADDR_STRLEN];
        addr_format(&cfg.listeners[i].addr, a, sizeof(a));
        if (cfg.listeners[i].mode == LISTEN_REVERSE)
            log_info("listening on %s (%s to http://%s:%d)", a, modes[cfg.listeners[i].mode],
                     cfg.listeners[i].origin_host, cfg.listeners[i].origin_port);
        else
            log_info("listening on %s (%s)", a, modes[cfg.listeners[i].mode]);
    }
    if (cfg.have_admin) {
        char a[ADDR_STRLEN];
        addr_format(&cfg.admin, a, sizeof(a));
        log_info("admin on %s", a);
    }
    log_info("cache %s, %d thread%s", cfg.cache_enabled ? "on" : "off", nworkers,
             nworkers == 1 ? "" : "s");

    for (int i = 1; i < nworkers; i++) {
        if (worker_start(workers[i]) < 0) {
            log_error("cannot start worker thread %d", i);
            return 1;
        }
    }
    worker_run(workers[0]);
    for (int i = 1; i < nworkers; i++)
        worker_join(workers[i]);
    log_info("stopped");
    event_free(ev_term);
    event_free(ev_int);
    event_free(ev_hup);
    admin_free(admin);
    for (int i = 0; i < nworkers; i++)
        worker_free(workers[i]);
    free(workers);
    accesslog_close_file();
    config_free(&cfg);
    return 0;
}
