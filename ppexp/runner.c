/* The experiment loop and everything it starts. Every wait is bounded;
 * every process started here is stopped here, by its pid; cgroups made here
 * are removed here; the testbed is taken down when this run brought it up.
 * Signals only set a flag: the loop notices it between steps (and while
 * loadgen runs), stops loadgen with SIGINT, and unwinds through cleanup. */
#include "runner.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cJSON.h>

#include "api.h"
#include "child.h"
#include "claims.h"
#include "hostcg.h"
#include "log.h"
#include "meta.h"
#include "plot.h"
#include "results.h"

#define VIP "198.19.255.10:3128"
#define ORIGIN "198.19.1.2"
#define MANAGER_API "http://127.0.0.1:9090"
#define MANAGER_API_ADDR "127.0.0.1:9090"
#define BALANCER_API "http://127.0.0.1:9101"
#define BALANCER_API_ADDR "127.0.0.1:9101"
/* The testbed's mid address on the client LAN: process instances listen there. */
#define MID_LAN_ADDR "198.18.0.1"
/* Bounds on the waits. Scaling to 32 containers takes seconds; a minute is
 * a broken manager. */
#define TESTBED_TIMEOUT_MS (180 * 1000)
#define MANAGER_READY_TIMEOUT_MS (60 * 1000)
#define MANAGER_PUT_TIMEOUT_MS (120 * 1000)
#define MANAGER_STOP_TIMEOUT_MS (40 * 1000)
#define LOADGEN_STOP_TIMEOUT_MS (15 * 1000)
/* Memory is sampled this often while loadgen runs. */
#define SAMPLE_INTERVAL_MS 100
/* A loadgen run is given warm-up + this + its bytes at this rate, at most an hour. */
#define LOADGEN_SLACK_S 60
#define LOADGEN_MIN_RATE_BPS (4.0 * 1024 * 1024)
#define LOADGEN_MAX_S 3600

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    stop_requested = sig;
}

struct runner {
    const struct ppexp_runner_opts *o;
    const struct ppexp_spec *s;
    const struct ppexp_plan *plan;
    struct ppexp_caps caps;
    char dir[600];
    char netns_mid[128], netns_srv[128];
    struct ppexp_hostcg cg;
    int cg_made;
    struct ppexp_api api;
    int api_open;
    pid_t manager;
    int mgr_level[PPEXP_NFACTORS]; /* what the running manager was started or set with */
    int mgr_starts;
    pid_t stress;
    int tb_was_up, tb_up;
    int placement; /* -1: not yet set */
    char placement_desc[2][160];
    struct ppexp_meta meta;
    struct ppexp_run_record *runs;
    size_t nruns;
    double mem_total_bytes;
    double t_start_ms;
};

/* ---------------------------------------------------------------- helpers */

static int run_logged(struct runner *r, char *const argv[], const char *log, int timeout_ms,
                      char *err, size_t errlen)
{
    struct ppexp_child_opts co = {0};
    co.log = log;
    pid_t pid = ppexp_child_spawn(argv, &co, err, errlen);
    if (pid < 0)
        return -1;
    double deadline = ppexp_now_ms() + timeout_ms;
    int st;
    while (!ppexp_child_poll(pid, &st)) {
        if (ppexp_now_ms() > deadline) {
            ppexp_child_stop(pid, SIGKILL, 1000);
            snprintf(err, errlen, "%s did not finish in %d s (see %s)", argv[0], timeout_ms / 1000,
                     log);
            return -1;
        }
        ppexp_sleep_ms(50);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(err, errlen, "%s %s failed (exit %d; see %s)", argv[0], argv[1] ? argv[1] : "",
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1, log);
        return -1;
    }
    return 0;
}

static int testbed(struct runner *r, const char *cmd, char *err, size_t errlen)
{
    char log[700], clients[16];
    snprintf(log, sizeof(log), "%.600s/logs/testbed.log", r->dir);
    snprintf(clients, sizeof(clients), "%d", r->s->clients);
    char *up[] = {(char *)r->o->testbed,
                  "--prefix",
                  (char *)r->o->prefix,
                  "up",
                  "--clients",
                  clients,
                  "--object-size",
                  (char *)r->s->object_size,
                  NULL};
    char *other[] = {(char *)r->o->testbed, "--prefix", (char *)r->o->prefix, (char *)cmd, NULL};
    return run_logged(r, strcmp(cmd, "up") == 0 ? up : other, log, TESTBED_TIMEOUT_MS, err, errlen);
}

static void tail_file(const char *path, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > (long)len - 1 ? size - (long)len + 1 : 0;
    fseek(f, from, SEEK_SET);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    for (char *p = out; *p; p++)
        if (*p == '\n')
            *p = ' ';
    fclose(f);
}

/* The pids of processes in network namespace nsfile (by inode). */
static size_t pids_in_netns(const char *nsfile, pid_t *pids, size_t max)
{
    struct stat st;
    if (stat(nsfile, &st) < 0)
        return 0;
    char want[64];
    snprintf(want, sizeof(want), "net:[%lu]", (unsigned long)st.st_ino);
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], link[64];
        snprintf(path, sizeof(path), "/proc/%s/ns/net", e->d_name);
        ssize_t k = readlink(path, link, sizeof(link) - 1);
        if (k <= 0)
            continue;
        link[k] = '\0';
        if (strcmp(link, want) == 0)
            pids[n++] = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    return n;
}

static void client_addr(int k, char *buf, size_t len)
{
    snprintf(buf, len, "198.18.%d.%d", 1 + (k - 1) / 254, 1 + (k - 1) % 254);
}

static void fmt_duration(double s, char *buf, size_t len)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, len, "?");
    else if (s >= 3600)
        snprintf(buf, len, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else
        snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

/* ---------------------------------------------------------------- manager */

static int manager_get_pool(struct runner *r, cJSON **pool, char *err, size_t errlen)
{
    struct httpcall_reply rep;
    *pool = NULL;
    if (ppexp_api_call(&r->api, &r->api.manager, "GET", "/v1/pool", NULL, 5000, &rep, err, errlen) <
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

static void manager_stop(struct runner *r)
{
    if (r->manager <= 0)
        return;
    /* SIGTERM to the manager alone: it drains its instances and removes
     * its rules, links and cgroups; only if that hangs, the group gets KILL. */
    kill(r->manager, SIGTERM);
    double deadline = ppexp_now_ms() + MANAGER_STOP_TIMEOUT_MS;
    int st;
    int done = 0;
    while (!(done = ppexp_child_poll(r->manager, &st)) && ppexp_now_ms() < deadline)
        ppexp_sleep_ms(20);
    if (!done) {
        log_error("manager (pid %d) did not stop in %d s; killing it", (int)r->manager,
                  MANAGER_STOP_TIMEOUT_MS / 1000);
        ppexp_child_stop(r->manager, SIGKILL, 2000);
    }
    r->manager = 0;
}

/* Starts the manager for c's runtime, worker, cache and forwarding at
 * `replicas`; waits until that many are ready. *ready_ms: spawn to ready. */
static int manager_start(struct runner *r, const struct ppexp_config *c, int replicas,
                         double *ready_ms, cJSON **pool_out, char *err, size_t errlen)
{
    char replicas_s[16], clients_s[64], last[32], state[300], bridge[32], log[700];
    char fwd_b[16], rt_b[16], wk_b[16];
    snprintf(replicas_s, sizeof(replicas_s), "%d", replicas);
    client_addr(r->s->clients, last, sizeof(last));
    snprintf(clients_s, sizeof(clients_s), "198.18.1.1-%s", last);
    snprintf(state, sizeof(state), "/run/ppexp/%s/state", r->o->prefix);
    snprintf(bridge, sizeof(bridge), "%sbr", r->o->mgr_prefix);
    snprintf(log, sizeof(log), "%s/logs/manager-%d.log", r->dir, ++r->mgr_starts);
    char mgr[600];
    snprintf(mgr, sizeof(mgr), "%s/manager", r->o->bin_dir);
    mkdir("/run/ppexp", 0755);
    char parent[200];
    snprintf(parent, sizeof(parent), "/run/ppexp/%s", r->o->prefix);
    mkdir(parent, 0755);
    mkdir(state, 0755);
    char *argv[40];
    int n = 0;
    argv[n++] = mgr;
    argv[n++] = "--runtime";
    argv[n++] = (char *)ppexp_level_str(PPEXP_F_RUNTIME, c->level[PPEXP_F_RUNTIME], rt_b, 16);
    argv[n++] = "--replicas";
    argv[n++] = replicas_s;
    argv[n++] = "--api";
    argv[n++] = MANAGER_API_ADDR;
    argv[n++] = "--state-dir";
    argv[n++] = state;
    argv[n++] = "--prefix";
    argv[n++] = (char *)r->o->mgr_prefix;
    argv[n++] = "--forwarding";
    argv[n++] =
        (char *)ppexp_level_str(PPEXP_F_FORWARDING, c->level[PPEXP_F_FORWARDING], fwd_b, 16);
    argv[n++] = "--vip";
    argv[n++] = VIP;
    argv[n++] = "--clients";
    argv[n++] = clients_s;
    argv[n++] = "--drain-timeout";
    argv[n++] = "2s";
    argv[n++] = "--ready-timeout";
    argv[n++] = "20s";
    argv[n++] = "--balancer-admin";
    argv[n++] = BALANCER_API_ADDR;
    if (c->level[PPEXP_F_RUNTIME] == PPEXP_RUNTIME_PROCESS) {
        argv[n++] = "--process-addr";
        argv[n++] = MID_LAN_ADDR;
        argv[n++] = "--base-port";
        argv[n++] = "3128";
    } else {
        argv[n++] = "--bridge";
        argv[n++] = bridge;
    }
    /* The paper's cache: 260 MB of memory, objects up to 1024 KB. */
    if (c->level[PPEXP_F_CACHE]) {
        argv[n++] = "--proxy-arg=--cache-mem=260M";
        argv[n++] = "--proxy-arg=--max-object-size=1024K";
    } else {
        argv[n++] = "--proxy-arg=--no-cache";
    }
    if (r->caps.has_worker) {
        argv[n++] = "--worker";
        argv[n++] = (char *)ppexp_level_str(PPEXP_F_WORKER, c->level[PPEXP_F_WORKER], wk_b, 16);
    }
    argv[n] = NULL;

    struct ppexp_child_opts co = {0};
    co.netns = r->netns_mid;
    co.log = log;
    co.ncgroups = ppexp_hostcg_procs_files(&r->cg, PPEXP_CG_MID, co.cgroup_procs, 3);
    double t0 = ppexp_now_ms();
    r->manager = ppexp_child_spawn(argv, &co, err, errlen);
    if (r->manager < 0) {
        r->manager = 0;
        return -1;
    }
    memcpy(r->mgr_level, c->level, sizeof(r->mgr_level));
    r->mgr_level[PPEXP_F_REPLICAS] = replicas;
    /* Poll until ready: 5 ms apart, so an instantiation time is not
     * rounded up by much. */
    double deadline = t0 + MANAGER_READY_TIMEOUT_MS;
    while (ppexp_now_ms() < deadline && !stop_requested) {
        int st;
        if (ppexp_child_poll(r->manager, &st)) {
            char tail[400];
            tail_file(log, tail, sizeof(tail));
            snprintf(err, errlen, "the manager exited at start (status %d): %s", st, tail);
            r->manager = 0;
            return -1;
        }
        cJSON *pool;
        char e2[256];
        if (manager_get_pool(r, &pool, e2, sizeof(e2)) == 0) {
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
             stop_requested ? "interrupted while the manager started"
                            : "the manager was not ready in 60 s");
    manager_stop(r);
    return -1;
}

static int manager_put(struct runner *r, const char *path, const char *body, char *err,
                       size_t errlen)
{
    struct httpcall_reply rep;
    if (ppexp_api_call(&r->api, &r->api.manager, "PUT", path, body, MANAGER_PUT_TIMEOUT_MS, &rep,
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
static int manager_apply(struct runner *r, const struct ppexp_config *c, char *err, size_t errlen)
{
    int restart = r->manager <= 0;
    const int cmd_line[] = {PPEXP_F_RUNTIME, PPEXP_F_WORKER, PPEXP_F_CACHE};
    for (size_t i = 0; i < 3 && !restart; i++)
        restart = r->mgr_level[cmd_line[i]] != c->level[cmd_line[i]];
    if (restart) {
        manager_stop(r);
        return manager_start(r, c, c->level[PPEXP_F_REPLICAS], NULL, NULL, err, errlen);
    }
    char body[64], b[16];
    if (r->mgr_level[PPEXP_F_FORWARDING] != c->level[PPEXP_F_FORWARDING]) {
        snprintf(body, sizeof(body), "{\"mode\": \"%s\"}",
                 ppexp_level_str(PPEXP_F_FORWARDING, c->level[PPEXP_F_FORWARDING], b, sizeof(b)));
        if (manager_put(r, "/v1/forwarding", body, err, errlen) < 0)
            return -1;
        r->mgr_level[PPEXP_F_FORWARDING] = c->level[PPEXP_F_FORWARDING];
    }
    if (r->mgr_level[PPEXP_F_REPLICAS] != c->level[PPEXP_F_REPLICAS]) {
        snprintf(body, sizeof(body), "{\"replicas\": %d}", c->level[PPEXP_F_REPLICAS]);
        if (manager_put(r, "/v1/pool", body, err, errlen) < 0)
            return -1;
        r->mgr_level[PPEXP_F_REPLICAS] = c->level[PPEXP_F_REPLICAS];
    }
    cJSON *pool;
    if (manager_get_pool(r, &pool, err, errlen) < 0)
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

/* ---------------------------------------------------------------- one run */

static void stress_stop(struct runner *r)
{
    if (r->stress > 0)
        ppexp_child_stop(r->stress, SIGTERM, 3000);
    r->stress = 0;
}

static int stress_start(struct runner *r, int hogs, char *err, size_t errlen)
{
    char n[16], log[700];
    snprintf(n, sizeof(n), "%d", hogs);
    snprintf(log, sizeof(log), "%s/logs/stress.log", r->dir);
    char *argv[] = {"/usr/bin/stress", "-c", n, NULL};
    struct ppexp_child_opts co = {0};
    co.netns = r->netns_mid;
    co.log = log;
    co.ncgroups = ppexp_hostcg_procs_files(&r->cg, PPEXP_CG_MID, co.cgroup_procs, 3);
    r->stress = ppexp_child_spawn(argv, &co, err, errlen);
    if (r->stress < 0) {
        r->stress = 0;
        return -1;
    }
    return 0;
}

static double json_num(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b)
        x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static cJSON *read_json_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    cJSON *j = NULL;
    char *buf = size > 0 && size < (64L << 20) ? malloc((size_t)size + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)size, f) == (size_t)size) {
        buf[size] = '\0';
        j = cJSON_Parse(buf);
    }
    free(buf);
    fclose(f);
    return j;
}

static void collect_metrics(struct runner *r, const struct ppexp_config *c, const char *stem)
{
    char path[800], err[256];
    if (c->baseline || r->manager <= 0)
        return;
    snprintf(path, sizeof(path), "%s/runs/%s.metrics.txt", r->dir, stem);
    if (ppexp_api_save(&r->api, &r->api.manager, "/metrics", path, err, sizeof(err)) < 0)
        log_warn("metrics of %s: %s", stem, err);
    snprintf(path, sizeof(path), "%s/runs/%s.pool.json", r->dir, stem);
    if (ppexp_api_save(&r->api, &r->api.manager, "/v1/pool", path, err, sizeof(err)) < 0)
        log_warn("pool of %s: %s", stem, err);
    if (c->level[PPEXP_F_FORWARDING] == PPEXP_FWD_BALANCER) {
        snprintf(path, sizeof(path), "%s/runs/%s.backends.json", r->dir, stem);
        if (ppexp_api_save(&r->api, &r->api.balancer, "/v1/backends", path, err, sizeof(err)) < 0)
            log_warn("balancer backends of %s: %s", stem, err);
    }
}

/* 0 done (rec filled), 1 interrupted, -1 failed. */
static int run_requests(struct runner *r, const struct ppexp_config *c, const char *stem,
                        struct ppexp_run_record *rec, char *err, size_t errlen)
{
    char url[128], n[16], conc[16], clients[16], warm[32], json[1000], csv[1000], log[1000];
    snprintf(url, sizeof(url), "http://%s/obj", ORIGIN);
    snprintf(n, sizeof(n), "%d", r->s->requests);
    snprintf(conc, sizeof(conc), "%d", r->s->concurrency);
    snprintf(clients, sizeof(clients), "%d", r->s->clients);
    snprintf(warm, sizeof(warm), "%gs", r->s->warmup_s);
    snprintf(rec->json, sizeof(rec->json), "runs/%s.json", stem);
    snprintf(rec->csv, sizeof(rec->csv), "runs/%s.csv", stem);
    snprintf(json, sizeof(json), "%s/%s", r->dir, rec->json);
    snprintf(csv, sizeof(csv), "%s/%s", r->dir, rec->csv);
    snprintf(log, sizeof(log), "%s/runs/%s.log", r->dir, stem);
    char lg[600];
    snprintf(lg, sizeof(lg), "%s/loadgen", r->o->bin_dir);
    char *argv[32];
    int k = 0;
    argv[k++] = lg;
    argv[k++] = url;
    argv[k++] = "--testbed";
    argv[k++] = clients;
    argv[k++] = "--testbed-prefix";
    argv[k++] = (char *)r->o->prefix;
    argv[k++] = "-n";
    argv[k++] = n;
    argv[k++] = "-c";
    argv[k++] = conc;
    argv[k++] = "--warmup";
    argv[k++] = warm;
    argv[k++] = "--json";
    argv[k++] = json;
    argv[k++] = "--csv";
    argv[k++] = csv;
    argv[k++] = "--label";
    argv[k++] = (char *)c->id;
    argv[k++] = "--no-progress";
    argv[k++] = "--quiet";
    if (!c->baseline) {
        argv[k++] = "--proxy";
        argv[k++] = VIP;
    }
    argv[k] = NULL;

    if (c->level[PPEXP_F_STRESS] > 0 && stress_start(r, c->level[PPEXP_F_STRESS], err, errlen) < 0)
        return -1;
    double bytes = (double)r->s->object_bytes * r->s->requests * r->s->clients;
    double bound_s = r->s->warmup_s + LOADGEN_SLACK_S + bytes / LOADGEN_MIN_RATE_BPS;
    if (bound_s > LOADGEN_MAX_S)
        bound_s = LOADGEN_MAX_S;
    struct ppexp_child_opts co = {0};
    co.log = log;
    co.ncgroups = ppexp_hostcg_procs_files(&r->cg, PPEXP_CG_CLI, co.cgroup_procs, 3);
    uint64_t cpu0 = ppexp_hostcg_mid_cpu_ns(&r->cg);
    double t0 = ppexp_now_ms();
    pid_t pid = ppexp_child_spawn(argv, &co, err, errlen);
    if (pid < 0) {
        stress_stop(r);
        return -1;
    }
    double mem_sum = 0, mem_max = 0;
    long samples = 0;
    int st = 0, interrupted = 0, timed_out = 0;
    for (;;) {
        if (ppexp_child_poll(pid, &st))
            break;
        if (stop_requested && !interrupted) {
            interrupted = 1;
            kill(pid, SIGINT);
        }
        if (ppexp_now_ms() - t0 > bound_s * 1000 && !timed_out) {
            timed_out = 1;
            kill(pid, SIGINT);
        }
        if ((interrupted || timed_out) &&
            ppexp_now_ms() - t0 > bound_s * 1000 + LOADGEN_STOP_TIMEOUT_MS) {
            st = ppexp_child_stop(pid, SIGKILL, 1000);
            break;
        }
        double m = (double)ppexp_hostcg_mid_mem_bytes(&r->cg);
        mem_sum += m;
        mem_max = m > mem_max ? m : mem_max;
        samples++;
        ppexp_sleep_ms(SAMPLE_INTERVAL_MS);
    }
    double wall_ms = ppexp_now_ms() - t0;
    uint64_t cpu1 = ppexp_hostcg_mid_cpu_ns(&r->cg);
    stress_stop(r);
    if (interrupted) {
        /* A partial run would bias its configuration: it leaves no file. */
        unlink(json);
        unlink(csv);
        return 1;
    }
    if (timed_out) {
        snprintf(err, errlen, "loadgen did not finish in %.0f s (see %.300s)", bound_s, log);
        return -1;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char tail[300];
        tail_file(log, tail, sizeof(tail));
        snprintf(err, errlen, "loadgen failed (status %d): %s", st, tail);
        return -1;
    }
    cJSON *j = read_json_file(json);
    if (!j) {
        snprintf(err, errlen, "loadgen wrote no readable JSON at %.300s", json);
        return -1;
    }
    rec->requests = (long)json_num(j, "requests", NULL);
    rec->ok = (long)json_num(j, "ok", NULL);
    rec->errors = (long)json_num(j, "errors", "total");
    rec->mean_ms = json_num(j, "latency_ms", "mean");
    rec->p50_ms = json_num(j, "latency_ms", "p50");
    rec->p90_ms = json_num(j, "latency_ms", "p90");
    rec->p99_ms = json_num(j, "latency_ms", "p99");
    rec->max_ms = json_num(j, "latency_ms", "max");
    rec->ttfb_ms = json_num(j, "ttfb_ms", "mean");
    rec->rps = json_num(j, "rps", NULL);
    rec->mbps = json_num(j, "mbps", NULL);
    rec->duration_s = json_num(j, "duration_s", NULL);
    rec->loadgen_cpu_pct = json_num(j, "loadgen_cpu_pct", NULL);
    rec->saturated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "saturated"));
    cJSON_Delete(j);
    double mid_cpus = r->placement == PPEXP_PLACEMENT_SPLIT ? 1 : (r->cg.ncpus ? r->cg.ncpus : 1);
    rec->cpu_pct = wall_ms > 0 ? 100.0 * (double)(cpu1 - cpu0) / (wall_ms * 1e6) : NAN;
    rec->cpu_pct_all = rec->cpu_pct / mid_cpus;
    rec->mem_pct = samples ? 100.0 * mem_sum / samples / r->mem_total_bytes : NAN;
    rec->mem_max_pct = 100.0 * mem_max / r->mem_total_bytes;
    collect_metrics(r, c, stem);
    return 0;
}

static double cmp_median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n == 0 ? NAN : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Table 3: a fresh manager asked for N instances at once; the time from its
 * spawn until all N answer their health checks, and each one's ready_ms. */
static int run_instantiate(struct runner *r, const struct ppexp_config *c, const char *stem,
                           struct ppexp_run_record *rec, char *err, size_t errlen)
{
    manager_stop(r);
    double total_ms;
    cJSON *pool = NULL;
    if (manager_start(r, c, c->level[PPEXP_F_REPLICAS], &total_ms, &pool, err, errlen) < 0)
        return stop_requested ? 1 : -1;
    double ready[PPEXP_REPLICAS_MAX];
    int n = 0;
    const cJSON *inst;
    cJSON_ArrayForEach(inst, cJSON_GetObjectItemCaseSensitive(pool, "instances"))
    {
        double v = json_num(inst, "ready_ms", NULL);
        if (isfinite(v) && n < PPEXP_REPLICAS_MAX)
            ready[n++] = v;
    }
    char *text = cJSON_Print(pool);
    snprintf(rec->json, sizeof(rec->json), "runs/%s.pool.json", stem);
    if (text) {
        char path[800], e2[256];
        snprintf(path, sizeof(path), "%s", rec->json);
        if (ppexp_write_file(r->dir, path, text, e2, sizeof(e2)) < 0)
            log_warn("%s", e2);
        free(text);
    }
    cJSON_Delete(pool);
    double sum = 0, max = 0;
    for (int i = 0; i < n; i++) {
        sum += ready[i];
        max = ready[i] > max ? ready[i] : max;
    }
    rec->requests = c->level[PPEXP_F_REPLICAS];
    rec->ok = n;
    rec->errors = c->level[PPEXP_F_REPLICAS] - n;
    rec->mean_ms = total_ms;          /* the batch: spawn of the manager to all N ready */
    rec->ttfb_ms = n ? sum / n : NAN; /* per instance: spawn to health */
    rec->p50_ms = cmp_median(ready, n);
    rec->p90_ms = rec->p99_ms = rec->max_ms = max;
    rec->rps = rec->mbps = rec->cpu_pct = rec->cpu_pct_all = NAN;
    rec->mem_pct = 100.0 * (double)ppexp_hostcg_mid_mem_bytes(&r->cg) / r->mem_total_bytes;
    rec->mem_max_pct = rec->mem_pct;
    rec->loadgen_cpu_pct = NAN;
    rec->duration_s = total_ms / 1000.0;
    collect_metrics(r, c, stem);
    manager_stop(r);
    return 0;
}

static int run_one(struct runner *r, const struct ppexp_config *c, int replicate, int seq,
                   char *err, size_t errlen)
{
    if (r->placement != c->level[PPEXP_F_PLACEMENT]) {
        int p = c->level[PPEXP_F_PLACEMENT];
        if (ppexp_hostcg_place(&r->cg, (enum ppexp_placement)p, r->placement_desc[p],
                               sizeof(r->placement_desc[p]), err, errlen) < 0)
            return -1;
        r->placement = p;
    }
    char stem[160];
    snprintf(stem, sizeof(stem), "r%02d-%s", replicate, c->id);
    struct ppexp_run_record rec;
    memset(&rec, 0, sizeof(rec));
    rec.config = (size_t)(c - r->plan->configs);
    rec.replicate = replicate;
    rec.seq = seq;
    int rc;
    if (r->s->measure == PPEXP_MEASURE_INSTANTIATE) {
        rc = run_instantiate(r, c, stem, &rec, err, errlen);
    } else {
        if (!c->baseline && manager_apply(r, c, err, errlen) < 0)
            return stop_requested ? 1 : -1;
        if (stop_requested)
            return 1;
        rc = run_requests(r, c, stem, &rec, err, errlen);
    }
    if (rc != 0)
        return rc;
    r->runs[r->nruns++] = rec;
    return 0;
}

/* ---------------------------------------------------------------- setup */

static int mkdirs(const char *path)
{
    char buf[700];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static void progress(struct runner *r, size_t done, size_t total, int replicate, size_t k,
                     const struct ppexp_config *c)
{
    double el = (ppexp_now_ms() - r->t_start_ms) / 1000.0;
    double eta = done ? el / (double)done * (double)(total - done) : NAN;
    char e1[32], e2[32];
    fmt_duration(el, e1, sizeof(e1));
    fmt_duration(eta, e2, sizeof(e2));
    int tty = isatty(2);
    fprintf(stderr, "%sconfiguration %zu of %zu, replicate %d of %d: %-40s elapsed %s, ETA %s%s",
            tty ? "\r\033[K" : "", k, r->plan->nconfigs, replicate, r->s->replicates, c->id, e1, e2,
            tty ? "" : "\n");
    fflush(stderr);
}

static void cleanup(struct runner *r)
{
    stress_stop(r);
    manager_stop(r);
    char err[512];
    if (r->tb_up && !r->tb_was_up) {
        if (testbed(r, "down", err, sizeof(err)) < 0)
            log_error("testbed down: %s", err);
        r->tb_up = 0;
    }
    if (r->cg_made)
        ppexp_hostcg_destroy(&r->cg);
    r->cg_made = 0;
    if (r->api_open)
        ppexp_api_close(&r->api);
    r->api_open = 0;
}

/* Statistics, plots and claims from what finished. */
static int finish_files(struct runner *r)
{
    char err[512];
    int rc = 0;
    if (r->nruns == 0)
        return 0;
    if (ppexp_results_write_tables(r->dir, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return -1;
    }
    if (ppexp_plot_dir(r->dir, err, sizeof(err)) < 0) {
        log_error("plots: %s", err);
        rc = -1;
    }
    if (ppexp_claims_write(r->dir, err, sizeof(err)) < 0) {
        log_error("claims: %s", err);
        rc = -1;
    }
    return rc;
}

int ppexp_runner_run(const struct ppexp_runner_opts *o, const struct ppexp_spec *s,
                     const struct ppexp_plan *plan, char *dir_out, size_t dir_len)
{
    struct runner rr, *r = &rr;
    memset(r, 0, sizeof(*r));
    r->o = o;
    r->s = s;
    r->plan = plan;
    r->placement = -1;
    r->t_start_ms = ppexp_now_ms();
    char err[1024];
    int rc = -1;

    char help[16384], mgr[600];
    snprintf(mgr, sizeof(mgr), "%s/manager", o->bin_dir);
    char *hargv[] = {mgr, "--help", NULL};
    if (ppexp_child_capture(hargv, help, sizeof(help), 5000) != 0) {
        log_error("cannot run %s --help", mgr);
        return -1;
    }
    ppexp_caps_from_help(help, &r->caps);

    if (o->out[0]) {
        snprintf(r->dir, sizeof(r->dir), "%s", o->out);
    } else {
        char stamp[32];
        ppexp_utc_now(stamp, sizeof(stamp), 1);
        snprintf(r->dir, sizeof(r->dir), "results/%s-%s", s->name, stamp);
    }
    snprintf(dir_out, dir_len, "%s", r->dir);
    char sub[700];
    snprintf(sub, sizeof(sub), "%.600s/runs", r->dir);
    int mk = mkdirs(sub);
    snprintf(sub, sizeof(sub), "%.600s/logs", r->dir);
    if (mk < 0 || mkdirs(sub) < 0) {
        log_error("cannot make %s: %s", sub, strerror(errno));
        return -1;
    }
    r->runs = calloc(plan->nconfigs * (size_t)s->replicates, sizeof(*r->runs));
    if (!r->runs)
        return -1;
    snprintf(r->netns_mid, sizeof(r->netns_mid), "/run/netns/%s-mid", o->prefix);
    snprintf(r->netns_srv, sizeof(r->netns_srv), "/run/netns/%s-srv", o->prefix);
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    r->mem_total_bytes = (double)pages * (double)psize;

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    stop_requested = 0;

    /* The testbed: up (converging to our clients and object), and down at
     * the end only if it was not up before. */
    char st_log[700];
    snprintf(st_log, sizeof(st_log), "%.600s/logs/testbed.log", r->dir);
    char *status_argv[] = {(char *)o->testbed, "--prefix", (char *)o->prefix, "status", NULL};
    r->tb_was_up = run_logged(r, status_argv, st_log, 30000, err, sizeof(err)) == 0;
    log_info("testbed %s: %s", o->prefix,
             r->tb_was_up ? "already up (left up at the end)" : "bringing it up");
    r->tb_up = 1; /* from here on, cleanup takes it down if it was not up */
    if (testbed(r, "up", err, sizeof(err)) < 0) {
        log_error("testbed up: %s", err);
        goto out;
    }
    if (ppexp_hostcg_create(&r->cg, o->prefix, o->mgr_prefix, err, sizeof(err)) < 0) {
        log_error("cgroups: %s", err);
        goto out;
    }
    r->cg_made = 1;
    /* The origin joins the clients' side. */
    pid_t pids[256];
    size_t np = pids_in_netns(r->netns_srv, pids, 256);
    for (size_t i = 0; i < np; i++)
        if (ppexp_hostcg_move(&r->cg, PPEXP_CG_CLI, pids[i], err, sizeof(err)) < 0)
            log_warn("origin pid %d: %s", (int)pids[i], err);
    if (ppexp_api_open(&r->api, r->netns_mid, MANAGER_API, BALANCER_API, err, sizeof(err)) < 0) {
        log_error("%s", err);
        goto out;
    }
    r->api_open = 1;
    if (ppexp_meta_init(&r->meta, s, plan, r->netns_mid, o->repo, o->argv_line) < 0) {
        log_error("out of memory");
        goto out;
    }
    ppexp_meta_set_str(&r->meta, "cgroup_mode", ppexp_hostcg_mode(&r->cg));
    ppexp_meta_set_str(&r->meta, "testbed_prefix", o->prefix);
    ppexp_meta_set_str(&r->meta, "manager_prefix", o->mgr_prefix);
    ppexp_meta_set_str(&r->meta, "manager_has_worker", r->caps.has_worker ? "yes" : "no");
    ppexp_meta_set_str(&r->meta, "cpu_pct_definition",
                       "intermediate host CPU time over the run (cgroup accounting, manager, "
                       "proxies, balancer and stress) per wall time, % of one core; "
                       "cpu_pct_all: % of the cores it may use");
    ppexp_meta_set_str(&r->meta, "mem_pct_definition",
                       "intermediate host memory in use (cgroup, page cache included), mean "
                       "of samples every 100 ms over the run, % of the machine's memory");
    if (ppexp_meta_write(&r->meta, r->dir, err, sizeof(err)) < 0)
        log_warn("%s", err);

    size_t total = plan->nconfigs * (size_t)s->replicates, done = 0;
    size_t *order = calloc(plan->nconfigs, sizeof(*order));
    if (!order)
        goto out;
    int failed = 0;
    for (int rep = 1; rep <= s->replicates && !stop_requested && !failed; rep++) {
        ppexp_plan_order(plan, s->seed, rep, order);
        for (size_t k = 0; k < plan->nconfigs && !stop_requested; k++) {
            const struct ppexp_config *c = &plan->configs[order[k]];
            progress(r, done, total, rep, k + 1, c);
            int one = run_one(r, c, rep, (int)done + 1, err, sizeof(err));
            if (one == 1 || (one < 0 && stop_requested)) {
                ppexp_meta_add_run(&r->meta, (int)done + 1, rep, c->id, "interrupted");
                break;
            }
            if (one < 0) {
                if (isatty(2))
                    fputc('\n', stderr);
                log_error("%s, replicate %d: %s", c->id, rep, err);
                ppexp_meta_add_run(&r->meta, (int)done + 1, rep, c->id, "failed");
                failed = 1;
                break;
            }
            ppexp_meta_add_run(&r->meta, (int)done + 1, rep, c->id, "done");
            done++;
            if (ppexp_results_write_summary(r->dir, plan, r->runs, r->nruns, err, sizeof(err)) <
                    0 ||
                ppexp_meta_write(&r->meta, r->dir, err, sizeof(err)) < 0)
                log_warn("%s", err);
        }
    }
    free(order);
    if (isatty(2))
        fputc('\n', stderr);
    rc = stop_requested ? 1 : failed ? -1 : 0;
out:
    cleanup(r);
    /* summary.csv exists even when nothing finished: a header. */
    if (ppexp_results_write_summary(r->dir, plan, r->runs, r->nruns, err, sizeof(err)) < 0)
        log_error("%s", err);
    if (finish_files(r) < 0 && rc == 0)
        rc = -1;
    if (r->meta.root) {
        char now[32];
        ppexp_utc_now(now, sizeof(now), 0);
        ppexp_meta_set_str(&r->meta, "end", now);
        ppexp_meta_set_str(&r->meta, "status",
                           rc == 0   ? "complete"
                           : rc == 1 ? "interrupted"
                                     : "failed");
        ppexp_meta_set_num(&r->meta, "runs_finished", (double)r->nruns);
        ppexp_meta_set_num(&r->meta, "runs_planned",
                           (double)(plan->nconfigs * (size_t)s->replicates));
        cJSON *pl = cJSON_CreateObject();
        for (int p = 0; p < 2; p++)
            if (r->placement_desc[p][0])
                cJSON_AddStringToObject(pl, p ? "shared" : "split", r->placement_desc[p]);
        cJSON_DeleteItemFromObjectCaseSensitive(r->meta.root, "placement");
        cJSON_AddItemToObject(r->meta.root, "placement", pl);
        if (ppexp_meta_write(&r->meta, r->dir, err, sizeof(err)) < 0)
            log_error("%s", err);
        ppexp_meta_release(&r->meta);
    }
    free(r->runs);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    return rc;
}
