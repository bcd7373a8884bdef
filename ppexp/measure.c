/* The measurement of one run: the instances' caches filled and checked as
 * hits first (steady state, as the paper measures it), then loadgen spawned
 * in the clients' cgroup and polled, never waited on blindly, while the
 * intermediate host's memory is sampled; its JSON read back into a run
 * record (with its Little's-law check and the intermediate host's CPU time
 * per request); then the manager's metrics saved beside it. A `direct` run
 * has the origin on the intermediate host's CPUs, the budget a proxy has.
 * Stress started here is stopped here, by its pid. */
#include "measure.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cJSON.h>

#include "child.h"
#include "loadgen_summary.h"
#include "log.h"

#define LOADGEN_STOP_TIMEOUT_MS (15 * 1000)
/* Memory is sampled this often while loadgen runs. */
#define SAMPLE_INTERVAL_MS 100
/* A loadgen run is given warm-up + this + its bytes at this rate, at most an hour. */
#define LOADGEN_SLACK_S 60
#define LOADGEN_MIN_RATE_BPS (4.0 * 1024 * 1024)
#define LOADGEN_MAX_S 3600
/* Filling the caches: one request per client a pass; the first fills, the
 * next must be all hits. A cold instance (a balancer's pick missing it)
 * gets filled by the pass that finds it cold, so a few passes suffice. */
#define PRIME_PASSES_MAX 4
#define PRIME_TIMEOUT_S 120

void ppexp_measure_stress_stop(struct ppexp_measure_ctx *mc)
{
    if (mc->stress > 0)
        ppexp_child_stop(mc->stress, SIGTERM, 3000);
    mc->stress = 0;
}

static int stress_start(struct ppexp_measure_ctx *mc, int hogs, char *err, size_t errlen)
{
    char n[16], log[700];
    snprintf(n, sizeof(n), "%d", hogs);
    snprintf(log, sizeof(log), "%s/logs/stress.log", mc->dir);
    char *argv[] = {"/usr/bin/stress", "-c", n, NULL};
    struct ppexp_child_opts co = {0};
    co.netns = mc->netns_mid;
    co.log = log;
    co.ncgroups = ppexp_hostcg_procs_files(mc->cg, PPEXP_CG_MID, co.cgroup_procs, 3);
    mc->stress = ppexp_child_spawn(argv, &co, err, errlen);
    if (mc->stress < 0) {
        mc->stress = 0;
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

static struct loadgen_summary *read_summary(const char *path, char *err, size_t errlen);

/* Runs loadgen to its end, bounded. 0 done (exit 0), 1 interrupted, -1
 * failed (err). */
static int loadgen_sync(struct ppexp_measure_ctx *mc, char *const argv[], const char *log,
                        double bound_s, char *err, size_t errlen)
{
    struct ppexp_child_opts co = {0};
    co.log = log;
    co.ncgroups = ppexp_hostcg_procs_files(mc->cg, PPEXP_CG_CLI, co.cgroup_procs, 3);
    pid_t pid = ppexp_child_spawn(argv, &co, err, errlen);
    if (pid < 0)
        return -1;
    double t0 = ppexp_now_ms();
    int st = 0;
    while (!ppexp_child_poll(pid, &st)) {
        if (*mc->stop_requested) {
            ppexp_child_stop(pid, SIGINT, LOADGEN_STOP_TIMEOUT_MS);
            return 1;
        }
        if (ppexp_now_ms() - t0 > bound_s * 1000) {
            ppexp_child_stop(pid, SIGINT, LOADGEN_STOP_TIMEOUT_MS);
            snprintf(err, errlen, "loadgen did not finish in %.0f s (see %.300s)", bound_s, log);
            return -1;
        }
        ppexp_sleep_ms(20);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char tail[300];
        ppexp_child_log_tail(log, tail, sizeof(tail));
        snprintf(err, errlen, "loadgen failed (status %d): %s", st, tail);
        return -1;
    }
    return 0;
}

/* Steady state before a configuration is measured: every instance that
 * serves a client holds the object. A pass sends one request from every
 * client through the VIP; it must be answered in full, and (cache on) a
 * pass must find every instance a client reaches answering HIT (X-Cache
 * names it). rec->primed: the passes it took. 0 done, 1 interrupted, -1
 * failed (err). */
static int prime_caches(struct ppexp_measure_ctx *mc, const struct ppexp_config *c,
                        const char *stem, struct ppexp_run_record *rec, char *err, size_t errlen)
{
    char url[128], clients[16], json[1000], log[1000], lg[600];
    snprintf(url, sizeof(url), "http://%s/obj", PPEXP_ORIGIN_ADDR);
    snprintf(clients, sizeof(clients), "%d", mc->s->clients);
    snprintf(json, sizeof(json), "%s/runs/%s.prime.json", mc->dir, stem);
    snprintf(log, sizeof(log), "%s/runs/%s.prime.log", mc->dir, stem);
    snprintf(lg, sizeof(lg), "%s/loadgen", mc->bin_dir);
    char *argv[] = {lg,       url,  "--testbed", clients, "--testbed-prefix", (char *)mc->prefix,
                    "-n",     "1",  "-c",        "1",     "--proxy",          PPEXP_MANAGER_VIP,
                    "--json", json, "--label",   "prime", "--no-progress",    "--quiet",
                    NULL};
    int cache_on = c->level[PPEXP_F_CACHE] != 0;
    int replicas = c->level[PPEXP_F_REPLICAS];
    int want = replicas < mc->s->clients ? replicas : mc->s->clients;
    char cold[300] = "";
    for (int pass = 1; pass <= PRIME_PASSES_MAX; pass++) {
        int rc = loadgen_sync(mc, argv, log, PRIME_TIMEOUT_S, err, errlen);
        if (rc != 0)
            return rc;
        char why[256];
        struct loadgen_summary *sum = read_summary(json, why, sizeof(why));
        if (!sum) {
            snprintf(err, errlen, "priming: loadgen's JSON at %.300s: %s", json, why);
            return -1;
        }
        long ok = (long)sum->ok;
        if (ok != mc->s->clients) {
            snprintf(err, errlen, "priming pass %d: %ld of %d requests answered (see %.300s)", pass,
                     ok, mc->s->clients, json);
            loadgen_summary_free(sum);
            return -1;
        }
        int names = 0, all_hits = 1;
        size_t used = 0;
        cold[0] = '\0';
        for (size_t i = 0; i < sum->nproxies; i++) {
            const struct loadgen_summary_proxy *p = &sum->proxies[i];
            names++;
            double req = (double)p->requests, hits = (double)p->hits;
            if (hits != req) {
                all_hits = 0;
                if (used + 1 < sizeof(cold))
                    used += (size_t)snprintf(cold + used, sizeof(cold) - used, " %s (%.0f of %.0f)",
                                             p->name, req - hits, req);
            }
        }
        loadgen_summary_free(sum);
        if (!cache_on || (all_hits && names >= want)) {
            rec->primed = pass;
            return 0;
        }
        if (names < want && used + 1 < sizeof(cold))
            snprintf(cold + used, sizeof(cold) - used, "; %d of %d instances answered", names,
                     want);
    }
    snprintf(err, errlen, "caches not warm after %d passes: not HIT from%s", PRIME_PASSES_MAX,
             cold);
    return -1;
}

/* The origin's processes to `side` (a direct run puts them on the
 * intermediate host's CPUs, and takes them back after). */
static int origin_to(struct ppexp_measure_ctx *mc, enum ppexp_cg_side side, char *err,
                     size_t errlen)
{
    char srv[160];
    snprintf(srv, sizeof(srv), "/run/netns/%s-srv", mc->prefix);
    int n = ppexp_hostcg_move_netns(mc->cg, side, srv, err, errlen);
    if (n == 0) {
        snprintf(err, errlen, "no process in %s (the origin)", srv);
        return -1;
    }
    return n < 0 ? -1 : 0;
}

/* The run's figures from loadgen's summary into its record. */
static void record_summary(const struct loadgen_summary *sum, struct ppexp_run_record *rec)
{
    rec->requests = (long)sum->requests;
    rec->ok = (long)sum->ok;
    rec->errors = (long)sum->errors.total;
    rec->mean_ms = sum->latency_ms.mean;
    rec->p50_ms = sum->latency_ms.p50;
    rec->p90_ms = sum->latency_ms.p90;
    rec->p99_ms = sum->latency_ms.p99;
    rec->max_ms = sum->latency_ms.max;
    rec->ttfb_ms = sum->ttfb_ms.mean;
    rec->rps = sum->rps;
    rec->mbps = sum->mbps;
    rec->duration_s = sum->duration_s;
    rec->loadgen_cpu_pct = sum->loadgen_cpu_pct;
    rec->saturated = sum->saturated;
    rec->in_flight = sum->in_flight_mean;
    /* null (nothing to compare) is NAN in the record, and no verdict. */
    rec->little_ratio = sum->littles_ratio >= 0 ? sum->littles_ratio : NAN;
    rec->little_ok = sum->littles_ratio >= 0 ? sum->littles_ok : -1;
}

/* loadgen's --json file, read with the definition loadgen writes it with. */
static struct loadgen_summary *read_summary(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s", strerror(errno));
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    struct loadgen_summary *sum = NULL;
    char *buf = size > 0 && size < (64L << 20) ? malloc((size_t)size + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)size, f) == (size_t)size) {
        buf[size] = '\0';
        sum = loadgen_summary_read(buf, err, errlen);
    } else {
        snprintf(err, errlen, "cannot read it (%ld bytes)", size);
    }
    free(buf);
    fclose(f);
    return sum;
}

static void collect_metrics(struct ppexp_measure_ctx *mc, const struct ppexp_config *c,
                            const char *stem)
{
    char path[800], err[256];
    if (c->baseline || mc->mgr->pid <= 0)
        return;
    snprintf(path, sizeof(path), "%s/runs/%s.metrics.txt", mc->dir, stem);
    if (ppexp_api_save(mc->api, &mc->api->manager, "/metrics", path, err, sizeof(err)) < 0)
        log_warn("metrics of %s: %s", stem, err);
    snprintf(path, sizeof(path), "%s/runs/%s.pool.json", mc->dir, stem);
    if (ppexp_api_save(mc->api, &mc->api->manager, "/v1/pool", path, err, sizeof(err)) < 0)
        log_warn("pool of %s: %s", stem, err);
    if (c->level[PPEXP_F_FORWARDING] == PPEXP_FWD_BALANCER) {
        snprintf(path, sizeof(path), "%s/runs/%s.backends.json", mc->dir, stem);
        if (ppexp_api_save(mc->api, &mc->api->balancer, "/v1/backends", path, err, sizeof(err)) < 0)
            log_warn("balancer backends of %s: %s", stem, err);
    }
}

int ppexp_measure_requests(struct ppexp_measure_ctx *mc, const struct ppexp_config *c,
                           int placement, const char *stem, struct ppexp_run_record *rec, char *err,
                           size_t errlen)
{
    char url[128], n[16], conc[16], clients[16], warm[32], json[1000], csv[1000], log[1000];
    char dur[32];
    snprintf(url, sizeof(url), "http://%s/obj", PPEXP_ORIGIN_ADDR);
    snprintf(n, sizeof(n), "%d", mc->s->requests);
    snprintf(dur, sizeof(dur), "%gs", mc->s->duration_s);
    snprintf(conc, sizeof(conc), "%d", mc->s->concurrency);
    snprintf(clients, sizeof(clients), "%d", mc->s->clients);
    snprintf(warm, sizeof(warm), "%gs", mc->s->warmup_s);
    snprintf(rec->json, sizeof(rec->json), "runs/%s.json", stem);
    snprintf(rec->csv, sizeof(rec->csv), "runs/%s.csv", stem);
    snprintf(json, sizeof(json), "%s/%s", mc->dir, rec->json);
    snprintf(csv, sizeof(csv), "%s/%s", mc->dir, rec->csv);
    snprintf(log, sizeof(log), "%s/runs/%s.log", mc->dir, stem);
    char lg[600];
    snprintf(lg, sizeof(lg), "%s/loadgen", mc->bin_dir);
    char *argv[32];
    int k = 0;
    argv[k++] = lg;
    argv[k++] = url;
    argv[k++] = "--testbed";
    argv[k++] = clients;
    argv[k++] = "--testbed-prefix";
    argv[k++] = (char *)mc->prefix;
    /* Time-based (the spec's duration_s): the window after the warm-up is
     * steady, and rps is its completions over its length. */
    argv[k++] = mc->s->duration_s > 0 ? "--duration" : "-n";
    argv[k++] = mc->s->duration_s > 0 ? dur : n;
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
        argv[k++] = PPEXP_MANAGER_VIP;
    }
    argv[k] = NULL;

    if (!c->baseline) {
        int rc = prime_caches(mc, c, stem, rec, err, errlen);
        if (rc != 0)
            return rc;
    } else if (origin_to(mc, PPEXP_CG_MID, err, errlen) < 0) {
        return -1;
    }
    if (c->level[PPEXP_F_STRESS] > 0 && stress_start(mc, c->level[PPEXP_F_STRESS], err, errlen) < 0)
        goto fail_origin;
    double bytes = (double)mc->s->object_bytes * mc->s->requests * mc->s->clients;
    double bound_s = mc->s->duration_s > 0
                         ? mc->s->warmup_s + mc->s->duration_s + LOADGEN_SLACK_S
                         : mc->s->warmup_s + LOADGEN_SLACK_S + bytes / LOADGEN_MIN_RATE_BPS;
    if (bound_s > LOADGEN_MAX_S)
        bound_s = LOADGEN_MAX_S;
    struct ppexp_child_opts co = {0};
    co.log = log;
    co.ncgroups = ppexp_hostcg_procs_files(mc->cg, PPEXP_CG_CLI, co.cgroup_procs, 3);
    uint64_t cpu0 = ppexp_hostcg_mid_cpu_ns(mc->cg);
    double t0 = ppexp_now_ms();
    pid_t pid = ppexp_child_spawn(argv, &co, err, errlen);
    if (pid < 0) {
        ppexp_measure_stress_stop(mc);
        goto fail_origin;
    }
    double mem_sum = 0, mem_max = 0;
    long samples = 0;
    int st = 0, interrupted = 0, timed_out = 0;
    for (;;) {
        if (ppexp_child_poll(pid, &st))
            break;
        if (*mc->stop_requested && !interrupted) {
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
        double m = (double)ppexp_hostcg_mid_mem_bytes(mc->cg);
        mem_sum += m;
        mem_max = m > mem_max ? m : mem_max;
        samples++;
        ppexp_sleep_ms(SAMPLE_INTERVAL_MS);
    }
    double wall_ms = ppexp_now_ms() - t0;
    uint64_t cpu1 = ppexp_hostcg_mid_cpu_ns(mc->cg);
    ppexp_measure_stress_stop(mc);
    if (c->baseline) {
        char e2[256];
        if (origin_to(mc, PPEXP_CG_CLI, e2, sizeof(e2)) < 0)
            log_warn("the origin back beside the clients: %s", e2);
    }
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
        ppexp_child_log_tail(log, tail, sizeof(tail));
        snprintf(err, errlen, "loadgen failed (status %d): %s", st, tail);
        return -1;
    }
    char why[256];
    struct loadgen_summary *sum = read_summary(json, why, sizeof(why));
    if (!sum) {
        snprintf(err, errlen, "loadgen's JSON at %.300s: %s", json, why);
        return -1;
    }
    record_summary(sum, rec);
    double finished = (double)(sum->requests + sum->warmup_requests);
    loadgen_summary_free(sum);
    if (rec->little_ok == 0)
        log_warn("%s: Little's law off by more than 10%% (in flight / mean time = %.2f x rps): "
                 "not one steady run",
                 stem, rec->little_ratio);
    /* The intermediate host's CPU over loadgen's whole life, per request
     * finished in it (warm-up included: it ran under the same load). */
    rec->cpu_ms_per_req = finished > 0 ? (double)(cpu1 - cpu0) / 1e6 / finished : NAN;
    double mid_cpus = placement == PPEXP_PLACEMENT_SPLIT ? 1 : (mc->cg->ncpus ? mc->cg->ncpus : 1);
    rec->cpu_pct = wall_ms > 0 ? 100.0 * (double)(cpu1 - cpu0) / (wall_ms * 1e6) : NAN;
    rec->cpu_pct_all = rec->cpu_pct / mid_cpus;
    rec->mem_pct = samples ? 100.0 * mem_sum / samples / mc->mem_total_bytes : NAN;
    rec->mem_max_pct = 100.0 * mem_max / mc->mem_total_bytes;
    collect_metrics(mc, c, stem);
    return 0;
fail_origin:
    if (c->baseline) {
        char e2[256];
        if (origin_to(mc, PPEXP_CG_CLI, e2, sizeof(e2)) < 0)
            log_warn("the origin back beside the clients: %s", e2);
    }
    return -1;
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
int ppexp_measure_instantiate(struct ppexp_measure_ctx *mc, const struct ppexp_config *c,
                              const char *stem, struct ppexp_run_record *rec, char *err,
                              size_t errlen)
{
    ppexp_managerctl_stop(mc->mgr);
    double total_ms;
    cJSON *pool = NULL;
    if (ppexp_managerctl_start(mc->mgr, c, c->level[PPEXP_F_REPLICAS], &total_ms, &pool, err,
                               errlen) < 0)
        return *mc->stop_requested ? 1 : -1;
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
        if (ppexp_write_file(mc->dir, path, text, e2, sizeof(e2)) < 0)
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
    rec->mem_pct = 100.0 * (double)ppexp_hostcg_mid_mem_bytes(mc->cg) / mc->mem_total_bytes;
    rec->mem_max_pct = rec->mem_pct;
    rec->loadgen_cpu_pct = NAN;
    rec->in_flight = rec->little_ratio = rec->cpu_ms_per_req = NAN;
    rec->little_ok = -1;
    rec->duration_s = total_ms / 1000.0;
    collect_metrics(mc, c, stem);
    ppexp_managerctl_stop(mc->mgr);
    return 0;
}
