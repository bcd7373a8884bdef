/* Manager control for the runner: the manager's command line from a
 * configuration, its readiness through GET /v1/pool, live changes through
 * PUT, and its stop. Every wait is bounded; the manager started here is
 * stopped here, by its pid. */
#include "managerctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"
#include "log.h"

/* The testbed's mid address on the client LAN: process instances listen there. */
#define MID_LAN_ADDR "198.18.0.1"
/* Bounds on the waits. Scaling to 32 containers takes seconds; a minute is
 * a broken manager. */
#define MANAGER_READY_TIMEOUT_MS (60 * 1000)
#define MANAGER_PUT_TIMEOUT_MS (120 * 1000)
#define MANAGER_STOP_TIMEOUT_MS (40 * 1000)

static void client_addr(int k, char *buf, size_t len)
{
    snprintf(buf, len, "198.18.%d.%d", 1 + (k - 1) / 254, 1 + (k - 1) % 254);
}

static int get_pool(struct ppexp_managerctl *m, cJSON **pool, char *err, size_t errlen)
{
    struct httpcall_reply rep;
    *pool = NULL;
    if (ppexp_api_call(m->api, &m->api->manager, "GET", "/v1/pool", NULL, 5000, &rep, err, errlen) <
        0)
        return -1;
    if (rep.status == 200)
        *pool = cJSON_Parse(rep.body);
    if (!*pool)
        snprintf(err, errlen, "GET /v1/pool: status %d", rep.status);
    httpcall_reply_free(&rep);
    return *pool ? 0 : -1;
}

static int pool_ready(const cJSON *pool)
{
    const cJSON *ready = cJSON_GetObjectItemCaseSensitive(pool, "ready");
    return cJSON_IsNumber(ready) ? ready->valueint : -1;
}

/* The features object is well under 1 KiB; this leaves room for growth. */
#define MANAGER_FEATURES_MAX_BYTES 16384
/* Printing a JSON object and exiting; anything slower is a hung binary. */
#define MANAGER_FEATURES_TIMEOUT_MS 5000

int ppexp_managerctl_features(const char *bin_dir, struct ppexp_caps *caps, char *err,
                              size_t errlen)
{
    char mgr[600], out[MANAGER_FEATURES_MAX_BYTES], inner[256];
    snprintf(mgr, sizeof(mgr), "%.590s/manager", bin_dir);
    char *argv[] = {mgr, "--features", NULL};
    int status = ppexp_child_capture(argv, out, sizeof(out), MANAGER_FEATURES_TIMEOUT_MS);
    if (status != 0) {
        snprintf(err, errlen, "%s --features failed (status %d)", mgr, status);
        return -1;
    }
    if (ppexp_caps_from_features(out, caps, inner, sizeof(inner)) < 0) {
        snprintf(err, errlen, "%s --features: %s", mgr, inner);
        return -1;
    }
    return 0;
}

void ppexp_managerctl_stop(struct ppexp_managerctl *m)
{
    if (m->pid <= 0)
        return;
    /* SIGTERM to the manager alone: it drains its instances and removes
     * its rules, links and cgroups; only if that hangs, the group gets KILL. */
    kill(m->pid, SIGTERM);
    double deadline = ppexp_now_ms() + MANAGER_STOP_TIMEOUT_MS;
    int st;
    int done = 0;
    while (!(done = ppexp_child_poll(m->pid, &st)) && ppexp_now_ms() < deadline)
        ppexp_sleep_ms(20);
    if (!done) {
        log_error("manager (pid %d) did not stop in %d s; killing it", (int)m->pid,
                  MANAGER_STOP_TIMEOUT_MS / 1000);
        ppexp_child_stop(m->pid, SIGKILL, 2000);
    }
    m->pid = 0;
}

/* Copies one regular file; 0, or -1 (the caller logs). */
static int copy_file(int from_dir, const char *name, const char *to_path)
{
    int in = openat(from_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(to_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n) {
            rc = -1;
            break;
        }
    if (n < 0)
        rc = -1;
    close(in);
    if (close(out) < 0)
        rc = -1;
    return rc;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0)
        log_warn("cannot remove %s: %s", path, strerror(errno));
    return 0;
}

void ppexp_managerctl_release_state(struct ppexp_managerctl *m)
{
    if (m->pid > 0 || !m->prefix || !m->dir)
        return;
    char parent[200], state[300], dest[800], path[1100];
    snprintf(parent, sizeof(parent), "/run/ppexp/%s", m->prefix);
    snprintf(state, sizeof(state), "%s/state", parent);
    DIR *d = opendir(state);
    if (!d)
        return; /* no manager was started */
    snprintf(dest, sizeof(dest), "%s/logs/instances", m->dir);
    mkdir(dest, 0755);
    int copied = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (e->d_type != DT_REG || len < 5 || strcmp(e->d_name + len - 4, ".log") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dest, e->d_name);
        if (copy_file(dirfd(d), e->d_name, path) < 0)
            log_warn("cannot copy %s/%s to %s: %s", state, e->d_name, dest, strerror(errno));
        else
            copied++;
    }
    closedir(d);
    /* FTW_PHYS: a link is removed, never followed; FTW_MOUNT: never leave
     * /run's file system. */
    nftw(parent, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    log_info("manager state %s removed; its %d instance logs are in %s", state, copied, dest);
}

int ppexp_managerctl_start(struct ppexp_managerctl *m, const struct ppexp_config *c, int replicas,
                           double *ready_ms, cJSON **pool_out, char *err, size_t errlen)
{
    char replicas_s[16], clients_s[64], last[32], state[300], bridge[32], log[700];
    char fwd_b[16], rt_b[16], wk_b[16];
    snprintf(replicas_s, sizeof(replicas_s), "%d", replicas);
    client_addr(m->clients, last, sizeof(last));
    snprintf(clients_s, sizeof(clients_s), "198.18.1.1-%s", last);
    snprintf(state, sizeof(state), "/run/ppexp/%s/state", m->prefix);
    snprintf(bridge, sizeof(bridge), "%sbr", m->mgr_prefix);
    snprintf(log, sizeof(log), "%s/logs/manager-%d.log", m->dir, ++m->starts);
    char mgr[600];
    snprintf(mgr, sizeof(mgr), "%s/manager", m->bin_dir);
    mkdir("/run/ppexp", 0755);
    char parent[200];
    snprintf(parent, sizeof(parent), "/run/ppexp/%s", m->prefix);
    mkdir(parent, 0755);
    /* The manager refuses a state dir others may write. */
    mkdir(state, 0700);
    char *argv[40];
    int n = 0;
    argv[n++] = mgr;
    argv[n++] = "--runtime";
    argv[n++] = (char *)ppexp_level_str(PPEXP_F_RUNTIME, c->level[PPEXP_F_RUNTIME], rt_b, 16);
    argv[n++] = "--replicas";
    argv[n++] = replicas_s;
    argv[n++] = "--api";
    argv[n++] = PPEXP_MANAGER_API_ADDR;
    argv[n++] = "--state-dir";
    argv[n++] = state;
    argv[n++] = "--prefix";
    argv[n++] = (char *)m->mgr_prefix;
    argv[n++] = "--forwarding";
    argv[n++] =
        (char *)ppexp_level_str(PPEXP_F_FORWARDING, c->level[PPEXP_F_FORWARDING], fwd_b, 16);
    argv[n++] = "--vip";
    argv[n++] = PPEXP_MANAGER_VIP;
    argv[n++] = "--clients";
    argv[n++] = clients_s;
    argv[n++] = "--drain-timeout";
    argv[n++] = "2s";
    argv[n++] = "--ready-timeout";
    argv[n++] = "20s";
    argv[n++] = "--balancer-admin";
    argv[n++] = PPEXP_BALANCER_API_ADDR;
    if (c->level[PPEXP_F_RUNTIME] == PPEXP_RUNTIME_PROCESS) {
        argv[n++] = "--process-addr";
        argv[n++] = MID_LAN_ADDR;
        argv[n++] = "--base-port";
        argv[n++] = "3128";
    } else {
        argv[n++] = "--bridge";
        argv[n++] = bridge;
    }
    if (c->level[PPEXP_F_RUNTIME] == PPEXP_RUNTIME_DOCKER) {
        if (!m->docker_socket) {
            snprintf(err, errlen, "%s needs the docker runtime, but no dockerd was brought up",
                     c->id);
            return -1;
        }
        argv[n++] = "--docker-socket";
        argv[n++] = (char *)m->docker_socket;
    }
    /* The paper's cache: 260 MB of memory, objects up to 1024 KB. */
    if (c->level[PPEXP_F_CACHE]) {
        argv[n++] = "--proxy-arg=--cache-mem=260M";
        argv[n++] = "--proxy-arg=--max-object-size=1024K";
    } else {
        argv[n++] = "--proxy-arg=--no-cache";
    }
    if (m->has_worker) {
        argv[n++] = "--worker";
        argv[n++] = (char *)ppexp_level_str(PPEXP_F_WORKER, c->level[PPEXP_F_WORKER], wk_b, 16);
        /* nginx keeps upstream connections alive only to an origin it was
         * told of (docs/peers.md); proxyd and Squid do it unasked. */
        if (c->level[PPEXP_F_WORKER] == PPEXP_WORKER_NGINX)
            argv[n++] = "--proxy-arg=--origin=" PPEXP_ORIGIN_ADDR;
    }
    argv[n] = NULL;

    struct ppexp_child_opts co = {0};
    co.netns = m->netns_mid;
    co.log = log;
    co.ncgroups = ppexp_hostcg_procs_files(m->cg, PPEXP_CG_MID, co.cgroup_procs, 3);
    double t0 = ppexp_now_ms();
    m->pid = ppexp_child_spawn(argv, &co, err, errlen);
    if (m->pid < 0) {
        m->pid = 0;
        return -1;
    }
    memcpy(m->level, c->level, sizeof(m->level));
    m->level[PPEXP_F_REPLICAS] = replicas;
    char token_path[400];
    snprintf(token_path, sizeof(token_path), "%s/%s", state, APIAUTH_TOKEN_NAME);
    int have_token = 0;
    /* Poll until ready: 5 ms apart, so an instantiation time is not
     * rounded up by much. */
    double deadline = t0 + MANAGER_READY_TIMEOUT_MS;
    while (ppexp_now_ms() < deadline && !*m->stop_requested) {
        int st;
        if (ppexp_child_poll(m->pid, &st)) {
            char tail[400];
            ppexp_child_log_tail(log, tail, sizeof(tail));
            snprintf(err, errlen, "the manager exited at start (status %d): %s", st, tail);
            m->pid = 0;
            return -1;
        }
        cJSON *pool;
        char e2[256];
        if (get_pool(m, &pool, e2, sizeof(e2)) == 0) {
            /* The manager writes its token before its API answers; the
             * changes ppexp makes later carry it. */
            if (!have_token) {
                if (ppexp_api_load_token(m->api, token_path, e2, sizeof(e2)) < 0) {
                    snprintf(err, errlen, "the manager's token: %s", e2);
                    cJSON_Delete(pool);
                    ppexp_managerctl_stop(m);
                    return -1;
                }
                have_token = 1;
            }
            int ready = pool_ready(pool);
            if (ready == replicas) {
                if (ready_ms)
                    *ready_ms = ppexp_now_ms() - t0;
                if (pool_out)
                    *pool_out = pool;
                else
                    cJSON_Delete(pool);
                return 0;
            }
            cJSON_Delete(pool);
        }
        ppexp_sleep_ms(5);
    }
    snprintf(err, errlen, "%s",
             *m->stop_requested ? "interrupted while the manager started"
                                : "the manager was not ready in 60 s");
    ppexp_managerctl_stop(m);
    return -1;
}

static int put(struct ppexp_managerctl *m, const char *path, const char *body, char *err,
               size_t errlen)
{
    struct httpcall_reply rep;
    if (ppexp_api_call(m->api, &m->api->manager, "PUT", path, body, MANAGER_PUT_TIMEOUT_MS, &rep,
                       err, errlen) < 0)
        return -1;
    int rc = 0;
    if (rep.status != 200) {
        snprintf(err, errlen, "PUT %s %s: status %d: %.200s", path, body, rep.status,
                 rep.body ? rep.body : "");
        rc = -1;
    }
    httpcall_reply_free(&rep);
    return rc;
}

/* Brings the manager to c: a restart when runtime, worker or cache differ
 * (they are command-line options), else live changes through the API. */
int ppexp_managerctl_apply(struct ppexp_managerctl *m, const struct ppexp_config *c, char *err,
                           size_t errlen)
{
    int restart = m->pid <= 0;
    const int cmd_line[] = {PPEXP_F_RUNTIME, PPEXP_F_WORKER, PPEXP_F_CACHE};
    for (size_t i = 0; i < 3 && !restart; i++)
        restart = m->level[cmd_line[i]] != c->level[cmd_line[i]];
    if (restart) {
        ppexp_managerctl_stop(m);
        return ppexp_managerctl_start(m, c, c->level[PPEXP_F_REPLICAS], NULL, NULL, err, errlen);
    }
    char body[64], b[16];
    if (m->level[PPEXP_F_FORWARDING] != c->level[PPEXP_F_FORWARDING]) {
        snprintf(body, sizeof(body), "{\"mode\": \"%s\"}",
                 ppexp_level_str(PPEXP_F_FORWARDING, c->level[PPEXP_F_FORWARDING], b, sizeof(b)));
        if (put(m, "/v1/forwarding", body, err, errlen) < 0)
            return -1;
        m->level[PPEXP_F_FORWARDING] = c->level[PPEXP_F_FORWARDING];
    }
    if (m->level[PPEXP_F_REPLICAS] != c->level[PPEXP_F_REPLICAS]) {
        snprintf(body, sizeof(body), "{\"replicas\": %d}", c->level[PPEXP_F_REPLICAS]);
        if (put(m, "/v1/pool", body, err, errlen) < 0)
            return -1;
        m->level[PPEXP_F_REPLICAS] = c->level[PPEXP_F_REPLICAS];
    }
    cJSON *pool;
    if (get_pool(m, &pool, err, errlen) < 0)
        return -1;
    int ready = pool_ready(pool);
    cJSON_Delete(pool);
    if (ready != c->level[PPEXP_F_REPLICAS]) {
        snprintf(err, errlen, "the manager reports %d ready, not %d", ready,
                 c->level[PPEXP_F_REPLICAS]);
        return -1;
    }
    return 0;
}
