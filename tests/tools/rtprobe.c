/* rtprobe: drives a manager runtime (container by default, or process for
 * the bare-process floor) the way the pool does,
 * without the pool: init, spawn N instances, wait until each answers its
 * admin /healthz over the bridge, print timings, optionally hold them up
 * (until stdin closes) so a scenario can send traffic through them, then
 * stop, reap, release and shut down. Exits non-zero on any failure. Run it
 * inside a test network namespace: the bridge it makes lives there. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../manager/config.h"
#include "../../manager/runtime/runtime.h"
#include "../../manager/spawn.h"
#include "../../manager/worker/worker.h"
#include "log.h"
#include "size.h"

#define DEFAULT_COUNT 3
#define DEFAULT_READY_TIMEOUT_MS 10000
/* Between two /healthz rounds; the finer, the closer the ready time is to
 * the moment proxyd started answering. */
#define PROBE_INTERVAL_US 1000
#define PROBE_TIMEOUT_MS 200
/* proxyd drains in-flight requests on SIGTERM; idle ones exit at once. */
#define STOP_TIMEOUT_MS 10000

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rtprobe [options]\n"
            "  --runtime R           container (default) or process\n"
            "  --base-port N         process runtime: instance k on N+k (default 20000)\n"
            "  --count N             instances (default %d, at most %d)\n"
            "  --subnet CIDR         instance addresses (default 198.19.0.0/24)\n"
            "  --prefix P            name prefix of links and cgroups (default pp)\n"
            "  --bridge NAME         bridge (default <prefix>-br0)\n"
            "  --state-dir DIR       instance logs (default /tmp/rtprobe)\n"
            "  --proxyd PATH         proxyd binary (default build/bin/proxyd)\n"
            "  --cpus N              CPU limit per instance (default 4)\n"
            "  --memory SIZE         memory limit per instance (default 4G)\n"
            "  --proxy-arg ARG       passed to every proxyd; repeatable\n"
            "  --ready-timeout-ms N  (default %d)\n"
            "  --hold                when ready, wait until stdin closes before stopping\n"
            "  --verbose             debug log (the runtime's per-spawn timings)\n",
            DEFAULT_COUNT, POOL_MAX_INSTANCES, DEFAULT_READY_TIMEOUT_MS);
}

/* One HTTP/1.0 GET /healthz: 1 when it answered 200. */
static int healthz_ok(const struct addr *admin)
{
    char err[128];
    int fd = addr_connect_tcp(admin, err, sizeof(err));
    if (fd < 0)
        return 0;
    int ok = 0;
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    if (poll(&pfd, 1, PROBE_TIMEOUT_MS) != 1)
        goto out;
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0)
        goto out;
    static const char req[] = "GET /healthz HTTP/1.0\r\nHost: rtprobe\r\n\r\n";
    if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1)
        goto out;
    char buf[64];
    size_t got = 0;
    int64_t deadline = now_us() + PROBE_TIMEOUT_MS * 1000LL;
    while (got < 12 && now_us() < deadline) {
        pfd.events = POLLIN;
        if (poll(&pfd, 1, PROBE_TIMEOUT_MS) != 1)
            break;
        ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    ok = strncmp(buf, "HTTP/1.1 200", 12) == 0 || strncmp(buf, "HTTP/1.0 200", 12) == 0;
out:
    close(fd);
    return ok;
}

struct probe {
    struct instance inst;
    int spawned;
    int ready;
    int reaped;
    int64_t spawn_start_us, spawn_end_us, ready_us;
};

static void print_log_tail(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    fprintf(stderr, "---- %s\n", path);
    while (fgets(line, sizeof(line), f))
        fputs(line, stderr);
    fclose(f);
}

/* 1 when the instance's process has exited (and is now reaped). */
static int probe_exited(struct probe *p)
{
    int status;
    if (p->reaped || p->inst.pid <= 0)
        return 1;
    pid_t r = waitpid(p->inst.pid, &status, WNOHANG);
    if (r == p->inst.pid || (r < 0 && errno == ECHILD)) {
        p->reaped = 1;
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct manager_config cfg;
    static struct probe probes[POOL_MAX_INSTANCES + 1];
    char err[512];
    long count = DEFAULT_COUNT, ready_timeout_ms = DEFAULT_READY_TIMEOUT_MS;
    int hold = 0, verbose = 0, failed = 0;
    const char *subnet = "198.19.0.0/24", *bridge = NULL;
    long base_port = 20000;

    snprintf(cfg.prefix, sizeof(cfg.prefix), "pp");
    snprintf(cfg.state_dir, sizeof(cfg.state_dir), "/tmp/rtprobe");
    snprintf(cfg.proxyd_path, sizeof(cfg.proxyd_path), "build/bin/proxyd");
    snprintf(cfg.runtime, sizeof(cfg.runtime), "container");
    snprintf(cfg.worker, sizeof(cfg.worker), "proxyd");
    cfg.cpus = 4;
    cfg.memory_bytes = 4ULL << 30;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (strcmp(o, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(o, "--hold") == 0) {
            hold = 1;
            takes = 0;
        } else if (strcmp(o, "--verbose") == 0) {
            verbose = 1;
            takes = 0;
        } else if (!v) {
            fprintf(stderr, "rtprobe: %s needs a value (or is unknown)\n", o);
            usage(stderr);
            return 2;
        } else if (strcmp(o, "--count") == 0) {
            if (int_parse(v, 1, POOL_MAX_INSTANCES, &count, err, sizeof(err)) < 0)
                goto bad;
        } else if (strcmp(o, "--runtime") == 0) {
            if (strcmp(v, "container") != 0 && strcmp(v, "process") != 0) {
                snprintf(err, sizeof(err), "container or process");
                goto bad;
            }
            snprintf(cfg.runtime, sizeof(cfg.runtime), "%s", v);
        } else if (strcmp(o, "--base-port") == 0) {
            if (int_parse(v, 1, 65000 - 200, &base_port, err, sizeof(err)) < 0)
                goto bad;
        } else if (strcmp(o, "--subnet") == 0) {
            subnet = v;
        } else if (strcmp(o, "--prefix") == 0) {
            if (strlen(v) >= sizeof(cfg.prefix)) {
                snprintf(err, sizeof(err), "prefix longer than %zu", sizeof(cfg.prefix) - 1);
                goto bad;
            }
            snprintf(cfg.prefix, sizeof(cfg.prefix), "%s", v);
        } else if (strcmp(o, "--bridge") == 0) {
            bridge = v;
        } else if (strcmp(o, "--state-dir") == 0) {
            snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", v);
        } else if (strcmp(o, "--proxyd") == 0) {
            snprintf(cfg.proxyd_path, sizeof(cfg.proxyd_path), "%s", v);
        } else if (strcmp(o, "--cpus") == 0) {
            cfg.cpus = atof(v);
        } else if (strcmp(o, "--memory") == 0) {
            if (size_parse(v, &cfg.memory_bytes, err, sizeof(err)) < 0)
                goto bad;
        } else if (strcmp(o, "--proxy-arg") == 0) {
            if (cfg.nproxy_args == MANAGER_MAX_PROXY_ARGS) {
                snprintf(err, sizeof(err), "more than %d proxy args", MANAGER_MAX_PROXY_ARGS);
                goto bad;
            }
            cfg.proxy_args[cfg.nproxy_args++] = (char *)v;
        } else if (strcmp(o, "--ready-timeout-ms") == 0) {
            if (int_parse(v, 1, 600000, &ready_timeout_ms, err, sizeof(err)) < 0)
                goto bad;
        } else {
            fprintf(stderr, "rtprobe: unknown option %s\n", o);
            usage(stderr);
            return 2;
        }
        i += takes;
        continue;
    bad:
        fprintf(stderr, "rtprobe: %s %s: %s\n", o, v ? v : "", err);
        return 2;
    }
    if (cidr_parse(subnet, &cfg.subnet, err, sizeof(err)) < 0) {
        fprintf(stderr, "rtprobe: --subnet %s: %s\n", subnet, err);
        return 2;
    }
    if (bridge && strlen(bridge) >= sizeof(cfg.bridge)) {
        fprintf(stderr, "rtprobe: --bridge %s: longer than %zu\n", bridge, sizeof(cfg.bridge) - 1);
        return 2;
    }
    if (bridge)
        snprintf(cfg.bridge, sizeof(cfg.bridge), "%s", bridge);
    else
        snprintf(cfg.bridge, sizeof(cfg.bridge), "%s-br0", cfg.prefix);
    cfg.log_level = verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO;
    log_init("rtprobe", NULL);
    log_set_level(cfg.log_level);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: waits return EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    cfg.base_port = (int)base_port;
    if (addr_parse("127.0.0.1:1", -1, &cfg.process_addr, err, sizeof(err)) < 0) {
        fprintf(stderr, "rtprobe: %s\n", err);
        return 2;
    }
    int container = strcmp(cfg.runtime, "container") == 0;
    struct runtime rt = {.ops = container ? &runtime_container_ops : &runtime_process_ops,
                         .cfg = &cfg,
                         .worker = worker_kind_find(cfg.worker)};
    int64_t t0 = now_us();
    if (rt.ops->init(&rt, err, sizeof(err)) < 0) {
        fprintf(stderr, "rtprobe: init: %s\n", err);
        return 1;
    }
    int64_t t_init = now_us();
    printf("init_ms %.1f\n", (double)(t_init - t0) / 1000.0);
    fflush(stdout);

    /* Spawn all, as the pool does on a scale-up, then wait for all. */
    for (int id = 1; id <= count && !interrupted; id++) {
        struct probe *p = &probes[id];
        p->inst.id = id;
        snprintf(p->inst.name, sizeof(p->inst.name), "%s%d", cfg.prefix, id);
        snprintf(p->inst.log_path, sizeof(p->inst.log_path), "%s/%s%d.log", cfg.state_dir,
                 cfg.prefix, id);
        p->spawn_start_us = now_us();
        p->inst.spawn_gate_fd = -1;
        if (rt.ops->spawn(&rt, &p->inst, err, sizeof(err)) < 0) {
            fprintf(stderr, "rtprobe: spawn %s: %s\n", p->inst.name, err);
            failed = 1;
            break;
        }
        /* The pool lets a process-runtime child exec once its pid file
         * is written (spawn.h, the gate); this probe keeps no pid files. */
        spawn_gate_release(&p->inst.spawn_gate_fd);
        p->spawn_end_us = now_us();
        p->spawned = 1;
    }
    int64_t t_spawned = now_us();
    int64_t deadline = t_spawned + ready_timeout_ms * 1000LL;
    int pending = 1;
    while (!failed && pending && !interrupted) {
        pending = 0;
        for (int id = 1; id <= count; id++) {
            struct probe *p = &probes[id];
            if (!p->spawned || p->ready)
                continue;
            if (healthz_ok(&p->inst.admin)) {
                p->ready = 1;
                p->ready_us = now_us();
                continue;
            }
            if (probe_exited(p)) {
                fprintf(stderr, "rtprobe: %s (pid %d) exited before it was ready\n", p->inst.name,
                        (int)p->inst.pid);
                print_log_tail(p->inst.log_path);
                failed = 1;
                break;
            }
            pending = 1;
        }
        if (pending && now_us() > deadline) {
            fprintf(stderr, "rtprobe: not all ready within %ld ms\n", ready_timeout_ms);
            failed = 1;
        }
        if (pending && !failed)
            sleep_us(PROBE_INTERVAL_US);
    }
    int64_t t_ready = now_us();
    double spawn_total_ms = 0;
    int nready = 0;
    for (int id = 1; id <= count; id++) {
        struct probe *p = &probes[id];
        if (!p->spawned)
            continue;
        char a[ADDR_STRLEN], m[ADDR_STRLEN];
        addr_format(&p->inst.address, a, sizeof(a));
        addr_format(&p->inst.admin, m, sizeof(m));
        double spawn_ms = (double)(p->spawn_end_us - p->spawn_start_us) / 1000.0;
        spawn_total_ms += spawn_ms;
        nready += p->ready;
        printf("instance %d %s pid %d address %s admin %s spawn_ms %.2f ready_ms %.1f\n",
               p->inst.id, p->inst.name, (int)p->inst.pid, a, m, spawn_ms,
               p->ready ? (double)(p->ready_us - p->spawn_start_us) / 1000.0 : -1.0);
    }
    if (!failed && !interrupted)
        printf("ready %d instances in %.1f ms (spawn calls %.1f ms in all, %.2f ms each; "
               "init %.1f ms before)\n",
               nready, (double)(t_ready - t_init) / 1000.0, spawn_total_ms,
               nready ? spawn_total_ms / nready : 0.0, (double)(t_init - t0) / 1000.0);
    fflush(stdout);

    if (hold && !failed && !interrupted) {
        printf("holding (close stdin to stop)\n");
        fflush(stdout);
        for (;;) {
            struct pollfd pfd = {.fd = 0, .events = POLLIN};
            int rc = poll(&pfd, 1, 100);
            if (interrupted)
                break;
            if (rc == 1) {
                char buf[256];
                ssize_t n = read(0, buf, sizeof(buf));
                if (n <= 0)
                    break;
            }
            for (int id = 1; id <= count; id++) {
                if (probes[id].spawned && probe_exited(&probes[id])) {
                    fprintf(stderr, "rtprobe: %s (pid %d) died while held\n", probes[id].inst.name,
                            (int)probes[id].inst.pid);
                    print_log_tail(probes[id].inst.log_path);
                    failed = 1;
                }
            }
            if (failed)
                break;
        }
    }

    /* Stop, reap (the pool's job), release twice (it must be idempotent). */
    int64_t t_stop = now_us();
    for (int id = 1; id <= count; id++)
        if (probes[id].spawned && !probes[id].reaped)
            rt.ops->stop(&rt, &probes[id].inst);
    int64_t stop_deadline = t_stop + STOP_TIMEOUT_MS * 1000LL;
    for (;;) {
        int alive = 0;
        for (int id = 1; id <= count; id++)
            if (probes[id].spawned && !probe_exited(&probes[id]))
                alive++;
        if (!alive)
            break;
        if (now_us() > stop_deadline) {
            fprintf(stderr, "rtprobe: %d instances ignored SIGTERM for %d ms; killing\n", alive,
                    STOP_TIMEOUT_MS);
            failed = 1;
            for (int id = 1; id <= count; id++)
                if (probes[id].spawned && !probes[id].reaped)
                    kill(probes[id].inst.pid, SIGKILL);
            stop_deadline = now_us() + STOP_TIMEOUT_MS * 1000LL;
        }
        sleep_us(PROBE_INTERVAL_US);
    }
    int64_t t_reaped = now_us();
    for (int id = 1; id <= count; id++) {
        if (!probes[id].spawned)
            continue;
        rt.ops->release(&rt, &probes[id].inst);
        if (probes[id].inst.rt) {
            fprintf(stderr, "rtprobe: release of %s left something behind\n", probes[id].inst.name);
            failed = 1;
        }
        rt.ops->release(&rt, &probes[id].inst);
    }
    int64_t t_released = now_us();
    rt.ops->shutdown(&rt);
    int64_t t_shutdown = now_us();
    printf("stopped in %.1f ms, released in %.1f ms, shut down in %.1f ms\n",
           (double)(t_reaped - t_stop) / 1000.0, (double)(t_released - t_reaped) / 1000.0,
           (double)(t_shutdown - t_released) / 1000.0);
    if (interrupted) {
        fprintf(stderr, "rtprobe: interrupted\n");
        failed = 1;
    }
    printf("%s\n", failed ? "FAILED" : "OK");
    return failed ? 1 : 0;
}
