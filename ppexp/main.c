/* ppexp: the experiment driver. Parses the command (run, list, plot) and
 * its options, loads the spec or preset, plans it, and hands it to the
 * runner; `plot` redraws a results directory from its CSVs. Exit status: 0
 * done, 1 failed, 2 usage or invalid spec (nothing run), 130 interrupted. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "claims.h"
#include "fdlimit.h"
#include "log.h"
#include "managerctl.h"
#include "options.h"
#include "plan.h"
#include "plot.h"
#include "presets.h"
#include "results.h"
#include "ramp_files.h"
#include "runner.h"
#include "size.h"
#include "spec.h"

#define VERSION "0.1.0"

enum { EXIT_DONE = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

struct ppexp_cli {
    struct ppexp_runner_opts run;
    uint64_t seed;
    int seed_set;
    int dry_run;
};

/* Custom: also records that a seed was given, which then wins over the
 * spec's. */
static int set_seed(void *cfg, const char *v, char *err, size_t errlen)
{
    struct ppexp_cli *c = cfg;
    long x;
    if (int_parse(v, 0, LONG_MAX, &x, err, errlen) < 0)
        return -1;
    c->seed = (uint64_t)x;
    c->seed_set = 1;
    return 0;
}

/* Custom: prefixes name namespaces, links and cgroups, so only [a-z0-9]. */
static int set_name(char *dst, size_t len, const char *v, const char *what, char *err,
                    size_t errlen)
{
    size_t n = strlen(v);
    if (n < 1 || n > 8 || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789") != n) {
        snprintf(err, errlen, "%s must be 1-8 of [a-z0-9], not '%s'", what, v);
        return -1;
    }
    snprintf(dst, len, "%s", v);
    return 0;
}

static int set_prefix(void *cfg, const char *v, char *err, size_t errlen)
{
    struct ppexp_cli *c = cfg;
    return set_name(c->run.prefix, sizeof(c->run.prefix), v, "--prefix", err, errlen);
}

static int set_mgr_prefix(void *cfg, const char *v, char *err, size_t errlen)
{
    struct ppexp_cli *c = cfg;
    return set_name(c->run.mgr_prefix, sizeof(c->run.mgr_prefix), v, "--manager-prefix", err,
                    errlen);
}

/* Custom: typed as a duration, kept as seconds with a fraction. */
static int set_budget(void *cfg, const char *v, char *err, size_t errlen)
{
    struct ppexp_cli *c = cfg;
    uint64_t ms;
    if (duration_parse_ms(v, &ms, err, errlen) < 0)
        return -1;
    c->run.budget_s = (double)ms / 1000.0;
    return 0;
}

#define FIELD(member) OPTION_FIELD(struct ppexp_cli, member)

static const struct option_def option_defs[] = {
    {"out", OPTION_STRING, FIELD(run.out), .arg = "DIR", .help = "run: the results directory",
     .deflt_text = "results/NAME-UTCSTAMP"},
    {"seed", .arg = "N", .help = "run: the seed of the run order (overrides the spec's)",
     .deflt_text = "the spec's seed", .set = set_seed},
    {"prefix", .arg = "P",
     .help = "deploy/testbed's --prefix: the testbed used (brought up if it is not, and then "
             "taken down at the end)",
     .deflt = "ppx", .set = set_prefix},
    {"manager-prefix", .arg = "P", .help = "the manager's --prefix (its links, chains, cgroups)",
     .deflt = "ppxm", .set = set_mgr_prefix},
    {"bin-dir", OPTION_STRING, FIELD(run.bin_dir), .arg = "DIR",
     .help = "where manager, loadgen, proxyd and balancer are",
     .deflt_text = "the directory of ppexp", .min = 1},
    {"testbed", OPTION_STRING, FIELD(run.testbed), .arg = "PATH", .help = "the testbed script",
     .deflt_text = "BIN_DIR/../../deploy/testbed", .min = 1},
    {"budget", .arg = "DURATION",
     .help = "run: with adaptive replicates ({\"min\": a, \"max\": b}), start no block that "
             "would end past this (10m, 90s, 1h); the minimum always runs",
     .deflt_text = "none", .set = set_budget},
    {"dry-run", OPTION_FLAG, FIELD(dry_run),
     .help = "run: validate and plan (configurations, skips, order), run nothing"},
};

static const struct options_spec cli_spec = {
    .program = "ppexp",
    .version = VERSION,
    .synopsis = "Usage: ppexp run SPEC.json|PRESET [--out DIR] [--seed N] [--budget 10m] "
                "[OPTION]...\n"
                "       ppexp list\n"
                "       ppexp plot DIR\n"
                "       ppexp ramp-summary SERIES.csv REPLICAS.csv RATE:DURATION,...\n"
                "Runs the paper's experiments (and yours) through the manager's REST API, the\n"
                "testbed and loadgen: every configuration of a spec's factors, replicated in\n"
                "seeded random order with a direct-to-origin baseline in every block; writes\n"
                "meta.json, each run's loadgen JSON and CSV, summary.csv, results.csv (mean\n"
                "with a Student-t 95% CI over replicate means, median, p99, rps, errors, the\n"
                "intermediate host's CPU and memory), stats.csv, gnuplot plots (SVG, PNG) and\n"
                "claims.md (the paper's claims C2-C6 from paired per-block ratios: holds,\n"
                "inverted, equivalent within a declared margin, or inconclusive) with\n"
                "claims_blocks.csv, the per-block data each verdict used.\n"
                "`plot DIR` redraws the plots and claims.md from a directory's CSVs.\n"
                "`ramp-summary` judges an autoscaler under a load ramp: from loadgen's --series\n"
                "(with --slo at the target), replica samples (t_s,ready; t from loadgen's\n"
                "start) and the --rate-steps schedule, per step the time to one more replica\n"
                "serving, the share of requests over target (or failed) in the 10 s after it,\n"
                "and the replica count's changes of direction once the step has settled.\n"
                "Needs root (namespaces, cgroups).\n",
    .epilog =
        "Spec (JSON): {\"name\", \"clients\", \"object_size\", \"requests\", \"concurrency\",\n"
        "  \"replicates\": N | {\"min\": a, \"max\": b}, \"warmup_s\", \"seed\", \"baseline\",\n"
        "  \"measure\": \"requests\"|\"instantiate\", \"margins_pct\": 5 | {\"default\": 5, "
        "\"C2\": 3},\n"
        "  \"factors\": {\"forwarding\": [nat, route, balancer], \"replicas\": [1..32],\n"
        "  \"worker\": [proxyd, squid, nginx], \"runtime\": [process, container, docker],\n"
        "  \"cache\": [true, false], \"stress\": [0..64], \"placement\": [split, shared]}}.\n"
        "requests and concurrency are per client. runtime docker runs proxyd only (a\n"
        "spec listing another worker with it is refused); ppexp then brings up a private\n"
        "dockerd in the testbed's intermediate host (deploy/dockerd) and proxyd's image\n"
        "(deploy/images.sh), and takes the daemon down at the end. Invalid combinations\n"
        "are skipped and\n"
        "listed: route with the process runtime; a mode, runtime or worker that\n"
        "`manager --features` does not list. placement split: the intermediate host\n"
        "(manager, proxies, balancer, stress) on the first CPU, loadgen and the origin on\n"
        "the others; shared: all\n"
        "on all. Presets (`ppexp list`): fig2, fig3, fig4, table2, table3 at the paper's\n"
        "sizes and each -quick (small, no stress; fig4-quick is the demo's design, sized\n"
        "for --budget 9m on 2 cores), fig4-balancer and fig4-docker (real Docker).\n"
        "Adaptive replicates: after min blocks, one more whole block at a time until every\n"
        "claim the spec measures is decided, max is reached or --budget would be passed;\n"
        "every look uses a stricter level (Pocock) so the error stays near 5% (meta.json's\n"
        "stopping_rule says how).\n"
        "Ctrl-C stops the run: the directory keeps what finished, the testbed is cleaned.\n"
        "Example: ppexp run fig4-quick --budget 9m && ppexp plot results/fig4-quick-*/\n",
    .defs = option_defs,
    .ndefs = sizeof(option_defs) / sizeof(option_defs[0]),
    .positional = 0,
};

/* The table's defaults, then the directory of this binary (--bin-dir). */
static int defaults(struct ppexp_cli *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    if (options_defaults(&cli_spec, c, err, errlen) < 0)
        return -1;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        snprintf(c->run.bin_dir, sizeof(c->run.bin_dir), "%.400s", exe);
    } else {
        snprintf(c->run.bin_dir, sizeof(c->run.bin_dir), ".");
    }
    return 0;
}

/* The options apart from the words: options may come anywhere ("ppexp run
 * fig4 --out d"); options_load sees them alone. */
static int split_args(int argc, char **argv, char **opts, int *nopts, char **words, int *nwords)
{
    *nopts = 0;
    *nwords = 0;
    opts[(*nopts)++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) {
            opts[(*nopts)++] = argv[i];
            if (strncmp(argv[i], "--", 2) == 0 && !strchr(argv[i], '=')) {
                const char *name = argv[i] + 2;
                int takes = !strcmp(name, "config");
                for (size_t k = 0; k < cli_spec.ndefs; k++)
                    if (!strcmp(name, cli_spec.defs[k].name) && cli_spec.defs[k].arg)
                        takes = 1;
                if (takes && i + 1 < argc)
                    opts[(*nopts)++] = argv[++i];
            }
        } else {
            words[(*nwords)++] = argv[i];
        }
    }
    opts[*nopts] = NULL;
    return 0;
}

static int cmd_list(void)
{
    for (size_t i = 0; i < ppexp_preset_count(); i++) {
        const struct ppexp_preset *p = ppexp_preset_at(i);
        printf("%-14s %s\n", p->name, p->paper);
    }
    return EXIT_DONE;
}

static int cmd_plot(const char *dir)
{
    char err[512];
    int rc = EXIT_DONE;
    /* Claims first: the plots read their ratios.csv and points.csv. */
    if (ppexp_claims_write(dir, err, sizeof(err)) < 0) {
        log_error("claims %s: %s", dir, err);
        rc = EXIT_FAILED;
    }
    if (ppexp_plot_dir(dir, err, sizeof(err)) < 0) {
        log_error("plot %s: %s", dir, err);
        rc = EXIT_FAILED;
    }
    if (rc == EXIT_DONE)
        printf("%s/time_vs_proxies.svg and %s/ratios.svg (if more than one proxy count), "
               "%s/bars.svg, %s/claims.md\n",
               dir, dir, dir, dir);
    return rc;
}

static void print_plan(const struct ppexp_spec *s, const struct ppexp_plan *plan)
{
    if (s->replicates_min < s->replicates)
        printf("%s: %zu configurations x %d to %d replicates (adaptive) = %zu to %zu runs "
               "(seed %llu)\n",
               s->name, plan->nconfigs, s->replicates_min, s->replicates,
               plan->nconfigs * (size_t)s->replicates_min, plan->nconfigs * (size_t)s->replicates,
               (unsigned long long)s->seed);
    else
        printf("%s: %zu configurations x %d replicates = %zu runs (seed %llu)\n", s->name,
               plan->nconfigs, s->replicates, plan->nconfigs * (size_t)s->replicates,
               (unsigned long long)s->seed);
    for (size_t i = 0; i < plan->nconfigs; i++)
        printf("  run   %s\n", plan->configs[i].id);
    for (size_t i = 0; i < plan->nskips; i++)
        printf("  skip  %s: %s\n", plan->skips[i].config.id, plan->skips[i].reason);
}

/* Raises the descriptor limit for what the plan needs (every process ppexp
 * starts inherits it), and says so when it cannot: the requests beyond it
 * would fail on EMFILE and read as the system's errors. */
static void fd_limit_check(const struct ppexp_spec *s, const struct ppexp_plan *plan)
{
    struct ppexp_fd_need need;
    ppexp_plan_fd_need(s, plan, 0, &need);
    if (need.needed == 0)
        return;
    struct fdlimit lim;
    char err[256];
    if (fdlimit_raise(need.needed, &lim, err, sizeof(err)) == 0) {
        if (lim.hard_before < need.needed)
            log_info("hard descriptor limit raised from %llu to %llu for %s",
                     (unsigned long long)lim.hard_before, (unsigned long long)lim.hard, need.who);
        return;
    }
    ppexp_plan_fd_need(s, plan, lim.soft, &need);
    log_warn("%s by %s: at most %llu simultaneous requests per client are reachable, not %d", err,
             need.who, (unsigned long long)need.reachable, s->concurrency);
}

/* The manager's features decide the skips. A --dry-run may plan without a
 * manager binary: then it assumes what every manager has had. */
static int manager_caps(const struct ppexp_cli *cli, struct ppexp_caps *caps)
{
    char mgr[600], err[800];
    snprintf(mgr, sizeof(mgr), "%.590s/manager", cli->run.bin_dir);
    if (access(mgr, X_OK) != 0) {
        if (cli->dry_run) {
            ppexp_caps_minimal(caps);
            return 0;
        }
        fprintf(stderr, "ppexp: no manager at %s (--bin-dir)\n", mgr);
        return -1;
    }
    if (ppexp_managerctl_features(cli->run.bin_dir, caps, err, sizeof(err)) < 0) {
        fprintf(stderr, "ppexp: %s\n", err);
        return -1;
    }
    return 0;
}

static int cmd_run(struct ppexp_cli *cli, const char *what, int argc, char **argv)
{
    char err[512];
    struct ppexp_spec s;
    const struct ppexp_preset *p = ppexp_preset_find(what);
    int rc = p ? ppexp_spec_parse(p->json, &s, err, sizeof(err))
               : ppexp_spec_load(what, &s, err, sizeof(err));
    if (rc < 0) {
        if (!p && access(what, F_OK) != 0)
            fprintf(stderr, "ppexp: '%s' is neither a preset (ppexp list) nor a file\n", what);
        else
            fprintf(stderr, "ppexp: invalid spec: %s\n", err);
        return EXIT_USAGE;
    }
    if (cli->seed_set)
        s.seed = cli->seed;
    if (!cli->run.testbed[0])
        snprintf(cli->run.testbed, sizeof(cli->run.testbed), "%.400s/../../deploy/testbed",
                 cli->run.bin_dir);
    snprintf(cli->run.repo, sizeof(cli->run.repo), "%.400s/../..", cli->run.bin_dir);
    size_t len = 0;
    for (int i = 0; i < argc && len + 2 < sizeof(cli->run.argv_line); i++)
        len += (size_t)snprintf(cli->run.argv_line + len, sizeof(cli->run.argv_line) - len, "%s%s",
                                i ? " " : "", argv[i]);
    /* Capabilities of the manager decide the skips. */
    struct ppexp_caps caps;
    if (manager_caps(cli, &caps) < 0)
        return EXIT_FAILED;
    struct ppexp_plan plan;
    if (ppexp_plan_build(&s, &caps, &plan, err, sizeof(err)) < 0) {
        fprintf(stderr, "ppexp: %s\n", err);
        return EXIT_USAGE;
    }
    print_plan(&s, &plan);
    fflush(stdout);
    fd_limit_check(&s, &plan);
    if (cli->dry_run) {
        ppexp_plan_release(&plan);
        return EXIT_DONE;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "ppexp: run needs root (network namespaces, cgroups)\n");
        ppexp_plan_release(&plan);
        return EXIT_FAILED;
    }
    char dir[600];
    rc = ppexp_runner_run(&cli->run, &s, &plan, dir, sizeof(dir));
    ppexp_plan_release(&plan);
    if (ppexp_results_print(dir, stdout, err, sizeof(err)) == 0) {
        printf("\nresults: %s/results.csv  plots: %s/time_vs_proxies.svg %s/bars.svg  claims: "
               "%s/claims.md\n",
               dir, dir, dir, dir);
    }
    if (rc == 1) {
        fprintf(stderr, "ppexp: interrupted; %s holds what finished\n", dir);
        return EXIT_INTERRUPTED;
    }
    return rc == 0 ? EXIT_DONE : EXIT_FAILED;
}

/* ppexp ramp-summary SERIES REPLICAS STEPS: see --help. */
static int cmd_ramp_summary(const char *series_path, const char *samples_path, const char *text)
{
    char err[512];
    struct ppexp_ramp_step steps[PPEXP_RAMP_MAX_STEPS];
    struct ppexp_ramp_step_result res[PPEXP_RAMP_MAX_STEPS];
    size_t nsteps, nseconds, nsamples;
    double end_s;
    struct ppexp_ramp_second *series = NULL;
    struct ppexp_ramp_sample *samples = NULL;
    if (ppexp_ramp_parse_steps(text, steps, &nsteps, &end_s, err, sizeof(err)) < 0) {
        fprintf(stderr, "ppexp: ramp-summary: %s\n", err);
        return EXIT_USAGE;
    }
    if (ppexp_ramp_read_series(series_path, &series, &nseconds, err, sizeof(err)) < 0 ||
        ppexp_ramp_read_samples(samples_path, &samples, &nsamples, err, sizeof(err)) < 0) {
        fprintf(stderr, "ppexp: ramp-summary: %s\n", err);
        free(series);
        return EXIT_FAILED;
    }
    ppexp_ramp_summarize(steps, nsteps, end_s, series, nseconds, samples, nsamples, res);
    ppexp_ramp_print(stdout, steps, nsteps, end_s, res, samples, nsamples);
    free(series);
    free(samples);
    return EXIT_DONE;
}

int main(int argc, char **argv)
{
    log_init("ppexp", NULL);
    struct ppexp_cli cli;
    char err[512];
    if (defaults(&cli, err, sizeof(err)) < 0) {
        fprintf(stderr, "ppexp: %s\n", err);
        return EXIT_FAILED;
    }
    char **opts = calloc((size_t)argc + 1, sizeof(char *));
    char **words = calloc((size_t)argc + 1, sizeof(char *));
    if (!opts || !words)
        return EXIT_FAILED;
    int nopts, nwords;
    split_args(argc, argv, opts, &nopts, words, &nwords);
    int rc = options_load(&cli_spec, &cli, nopts, opts, NULL, err, sizeof(err));
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "ppexp: %s\n", err);
        free(opts);
        free(words);
        return rc < 0 ? EXIT_USAGE : EXIT_DONE;
    }
    int out = EXIT_USAGE;
    if (nwords == 0)
        fprintf(stderr, "ppexp: no command (run, list, plot, ramp-summary; see --help)\n");
    else if (!strcmp(words[0], "list") && nwords == 1)
        out = cmd_list();
    else if (!strcmp(words[0], "plot") && nwords == 2)
        out = cmd_plot(words[1]);
    else if (!strcmp(words[0], "ramp-summary") && nwords == 4)
        out = cmd_ramp_summary(words[1], words[2], words[3]);
    else if (!strcmp(words[0], "run") && nwords == 2)
        out = cmd_run(&cli, words[1], argc, argv);
    else
        fprintf(stderr, "ppexp: usage: ppexp run SPEC|PRESET, ppexp list, ppexp plot DIR, "
                        "ppexp ramp-summary SERIES REPLICAS STEPS "
                        "(see --help)\n");
    free(opts);
    free(words);
    return out;
}
