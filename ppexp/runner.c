/* The experiment loop: the testbed, cgroups and API sockets it sets up, the
 * manager (managerctl.c) and each run's measurement (measure.c) it drives, and
 * the cleanup that undoes all of it; the testbed is taken down when this run
 * brought it up. Signals only set a flag: the loop and the modules it drives
 * notice it between steps (and while loadgen runs) and unwind through cleanup. */
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
#include "managerctl.h"
#include "measure.h"
#include "meta.h"
#include "plot.h"
#include "results.h"
#include "stopping.h"

#define MANAGER_API "http://" PPEXP_MANAGER_API_ADDR
#define BALANCER_API "http://" PPEXP_BALANCER_API_ADDR
/* Bounds on the waits here; the manager's are in managerctl.c, loadgen's in
 * measure.c. */
#define TESTBED_TIMEOUT_MS (180 * 1000)
/* deploy/dockerd waits at most 30 s for its API, and down 10 s per stop. */
#define DOCKERD_TIMEOUT_MS (90 * 1000)
/* deploy/images.sh: an import of proxyd and its libraries, seconds when
 * its stamp matches. */
#define IMAGES_TIMEOUT_MS (300 * 1000)

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
    struct ppexp_managerctl mgr;
    struct ppexp_measure_ctx meas;
    int tb_was_up, tb_up;
    int dockerd_was_up, dockerd_up; /* the private dockerd (docker runtime only) */
    char docker_socket[160];
    int placement; /* -1: not yet set */
    char placement_desc[2][160];
    struct ppexp_meta meta;
    struct ppexp_run_record *runs;
    size_t nruns;
    double t_start_ms;
    struct ppexp_stopping stop;
    struct ppexp_claims_opts copts;
    cJSON *looks; /* borrowed from meta.json's stopping_rule */
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

/* deploy/dockerd beside deploy/testbed, for the private daemon named after
 * the testbed's prefix (in its mid namespace). */
/* The path of deploy/NAME: the directory deploy/testbed is in. */
static void deploy_script(const struct runner *r, const char *name, char *buf, size_t len)
{
    const char *slash = strrchr(r->o->testbed, '/');
    int dirlen = slash ? (int)(slash - r->o->testbed) : 1;
    snprintf(buf, len, "%.*s/%s", dirlen, slash ? r->o->testbed : ".", name);
}

static int dockerd(struct runner *r, const char *cmd, char *err, size_t errlen)
{
    char log[700], script[600];
    snprintf(log, sizeof(log), "%.600s/logs/dockerd.log", r->dir);
    deploy_script(r, "dockerd", script, sizeof(script));
    char *argv[] = {script, "--name", (char *)r->o->prefix, (char *)cmd, NULL};
    return run_logged(r, argv, log, DOCKERD_TIMEOUT_MS, err, errlen);
}

/* For a spec with the docker runtime: the private dockerd up in the
 * testbed's intermediate host and proxyd's image in it (deploy/images.sh,
 * a no-op when its stamp matches). cleanup() takes the daemon down if this
 * brought it up. */
static int docker_up(struct runner *r, char *err, size_t errlen)
{
    r->dockerd_was_up = dockerd(r, "status", err, errlen) == 0;
    r->dockerd_up = 1;
    log_info("dockerd %s: %s", r->o->prefix,
             r->dockerd_was_up ? "already up (left up at the end)" : "bringing it up");
    if (dockerd(r, "up", err, errlen) < 0)
        return -1;
    snprintf(r->docker_socket, sizeof(r->docker_socket), "/run/proxypool/dockerd-%s.sock",
             r->o->prefix);
    char log[700], script[600], build[600];
    snprintf(log, sizeof(log), "%.600s/logs/images.log", r->dir);
    deploy_script(r, "images.sh", script, sizeof(script));
    snprintf(build, sizeof(build), "%.500s/..", r->o->bin_dir);
    char *argv[] = {script, "--socket", r->docker_socket, "--build", build, NULL};
    if (run_logged(r, argv, log, IMAGES_TIMEOUT_MS, err, errlen) < 0)
        return -1;
    r->mgr.docker_socket = r->docker_socket;
    log_info("dockerd %s: %s has proxyd's image", r->o->prefix, r->docker_socket);
    return 0;
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

static void fmt_duration(double s, char *buf, size_t len)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, len, "?");
    else if (s >= 3600)
        snprintf(buf, len, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else
        snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
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
        rc = ppexp_measure_instantiate(&r->meas, c, stem, &rec, err, errlen);
    } else {
        if (!c->baseline && ppexp_managerctl_apply(&r->mgr, c, err, errlen) < 0)
            return stop_requested ? 1 : -1;
        if (stop_requested)
            return 1;
        rc = ppexp_measure_requests(&r->meas, c, r->placement, stem, &rec, err, errlen);
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
    ppexp_measure_stress_stop(&r->meas);
    ppexp_managerctl_stop(&r->mgr);
    ppexp_managerctl_release_state(&r->mgr);
    char err[512];
    /* The daemon before its namespace goes. */
    if (r->dockerd_up && !r->dockerd_was_up) {
        if (dockerd(r, "down", err, sizeof(err)) < 0)
            log_error("dockerd down: %s", err);
        else
            log_info("dockerd %s: down", r->o->prefix);
    }
    r->dockerd_up = 0;
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

/* The verdicts after a whole block, from the runs in memory (the same
 * evaluation claims.md makes from summary.csv at the end); printed per
 * claim and recorded as a look in meta.json. */
static int block_check(struct runner *r, int blocks, struct ppexp_claims_eval *ev)
{
    struct ppexp_obs *obs = calloc(r->nruns ? r->nruns : 1, sizeof(*obs));
    if (!obs)
        return -1;
    for (size_t i = 0; i < r->nruns; i++) {
        const struct ppexp_config *c = &r->plan->configs[r->runs[i].config];
        memcpy(obs[i].level, c->level, sizeof(obs[i].level));
        obs[i].baseline = c->baseline;
        obs[i].block = r->runs[i].replicate;
        obs[i].mean_ms = r->runs[i].mean_ms;
    }
    int rc = ppexp_claims_evaluate(obs, r->nruns, &r->copts, ev);
    free(obs);
    if (rc < 0)
        return -1;
    char lines[2048], el[32];
    ppexp_claims_progress(ev, lines, sizeof(lines));
    fmt_duration((ppexp_now_ms() - r->t_start_ms) / 1000.0, el, sizeof(el));
    if (lines[0]) {
        if (isatty(2))
            fputc('\n', stderr);
        fprintf(stderr, "after block %d (%s), claims at %.1f%% per look:\n%s", blocks, el,
                100 * (1 - r->stop.alpha_look), lines);
    }
    if (r->looks) {
        cJSON *look = cJSON_CreateObject();
        cJSON_AddNumberToObject(look, "blocks", blocks);
        cJSON_AddNumberToObject(look, "elapsed_s", (ppexp_now_ms() - r->t_start_ms) / 1000.0);
        cJSON *v = cJSON_AddObjectToObject(look, "verdicts");
        for (size_t i = 0; i < ev->n; i++)
            if (ev->r[i].verdict != PPEXP_NOT_MEASURED)
                cJSON_AddStringToObject(v, ppexp_claim_at(i)->id,
                                        ppexp_verdict_name(ev->r[i].verdict));
        cJSON_AddItemToArray(r->looks, look);
    }
    return 0;
}

/* meta.json's stopping_rule, declared before the first run. */
static void declare_stopping(struct runner *r)
{
    const struct ppexp_stopping *st = &r->stop;
    char rule[2048];
    ppexp_stopping_describe(st, rule, sizeof(rule));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", st->min < st->max ? "adaptive" : "fixed");
    cJSON_AddNumberToObject(o, "min_blocks", st->min);
    cJSON_AddNumberToObject(o, "max_blocks", st->max);
    cJSON_AddNumberToObject(o, "budget_s", st->budget_s);
    cJSON_AddNumberToObject(o, "alpha", st->alpha);
    cJSON_AddNumberToObject(o, "alpha_per_look", st->alpha_look);
    if (isfinite(st->z_look))
        cJSON_AddNumberToObject(o, "pocock_z", st->z_look);
    cJSON_AddStringToObject(o, "rule", rule);
    r->looks = cJSON_AddArrayToObject(o, "looks");
    ppexp_meta_set_item(&r->meta, "stopping_rule", o);
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
    /* Claims first: the plots read their ratios.csv and points.csv. */
    if (ppexp_claims_write(r->dir, err, sizeof(err)) < 0) {
        log_error("claims: %s", err);
        rc = -1;
    }
    if (ppexp_plot_dir(r->dir, err, sizeof(err)) < 0) {
        log_error("plots: %s", err);
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

    if (ppexp_managerctl_features(o->bin_dir, &r->caps, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return -1;
    }

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
    r->mgr = (struct ppexp_managerctl){
        .bin_dir = o->bin_dir,
        .prefix = o->prefix,
        .mgr_prefix = o->mgr_prefix,
        .dir = r->dir,
        .netns_mid = r->netns_mid,
        .clients = s->clients,
        .has_worker = r->caps.has_worker,
        .api = &r->api,
        .cg = &r->cg,
        .stop_requested = &stop_requested,
    };
    r->meas = (struct ppexp_measure_ctx){
        .s = s,
        .bin_dir = o->bin_dir,
        .prefix = o->prefix,
        .dir = r->dir,
        .netns_mid = r->netns_mid,
        .cg = &r->cg,
        .api = &r->api,
        .mgr = &r->mgr,
        .stop_requested = &stop_requested,
        .mem_total_bytes = (double)pages * (double)psize,
    };

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
    if (ppexp_spec_uses_docker(s) && docker_up(r, err, sizeof(err)) < 0) {
        log_error("docker runtime: %s", err);
        goto out;
    }
    if (ppexp_hostcg_create(&r->cg, o->prefix, o->mgr_prefix, err, sizeof(err)) < 0) {
        log_error("cgroups: %s", err);
        goto out;
    }
    r->cg_made = 1;
    if (ppexp_spec_uses_docker(s)) {
        /* deploy/dockerd's --cgroup-parent: the containers' CPU is the
         * intermediate host's, as the container runtime's is. */
        char also[64];
        snprintf(also, sizeof(also), "proxypool-dockerd-%.40s", o->prefix);
        ppexp_hostcg_count_also(&r->cg, also);
    }
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
    ppexp_stopping_init(&r->stop, s->replicates_min, s->replicates, o->budget_s,
                        PPEXP_CLAIMS_ALPHA);
    ppexp_claims_opts_from_spec(s, r->stop.alpha_look, &r->copts);
    declare_stopping(r);
    if (ppexp_meta_write(&r->meta, r->dir, err, sizeof(err)) < 0)
        log_warn("%s", err);

    size_t total = plan->nconfigs * (size_t)s->replicates, done = 0;
    size_t *order = calloc(plan->nconfigs, sizeof(*order));
    if (!order)
        goto out;
    int failed = 0, blocks = 0;
    enum ppexp_stop why = PPEXP_GO_ON;
    double blocks_ms = 0;
    for (int rep = 1; rep <= s->replicates && !stop_requested && !failed && !why; rep++) {
        ppexp_plan_order(plan, s->seed, rep, order);
        double t_block = ppexp_now_ms();
        size_t k;
        for (k = 0; k < plan->nconfigs && !stop_requested; k++) {
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
        if (k < plan->nconfigs || failed || stop_requested)
            break; /* a partial block is no look */
        blocks = rep;
        blocks_ms += ppexp_now_ms() - t_block;
        struct ppexp_claims_eval ev;
        if (block_check(r, rep, &ev) < 0) {
            log_error("out of memory evaluating the claims");
            failed = 1;
            break;
        }
        why = ppexp_stopping_check(&r->stop, rep, (ppexp_now_ms() - r->t_start_ms) / 1000.0,
                                   blocks_ms / 1000.0 / rep, &ev);
        if (ppexp_meta_write(&r->meta, r->dir, err, sizeof(err)) < 0)
            log_warn("%s", err);
    }
    free(order);
    if (why) {
        if (isatty(2))
            fputc('\n', stderr);
        log_info("stopped after %d of %d..%d blocks: %s", blocks, r->stop.min, r->stop.max,
                 ppexp_stop_reason(why));
    }
    cJSON *sr = cJSON_GetObjectItemCaseSensitive(r->meta.root, "stopping_rule");
    if (sr) {
        cJSON_AddNumberToObject(sr, "blocks_run", blocks);
        cJSON_AddStringToObject(sr, "stopped",
                                why              ? ppexp_stop_reason(why)
                                : stop_requested ? "interrupted"
                                : failed         ? "a run failed"
                                                 : "not stopped");
    }
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