/* One run of one configuration, measured: loadgen from the clients through
 * the manager's VIP (with stress beside the proxies if asked) while the
 * intermediate host's CPU time and memory are read, or a fresh manager's
 * instantiation time (Table 3); then the manager's metrics and pool. */
#ifndef PPEXP_MEASURE_H
#define PPEXP_MEASURE_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "api.h"
#include "hostcg.h"
#include "managerctl.h"
#include "plan.h"
#include "results.h"
#include "spec.h"

struct ppexp_measure_ctx {
    /* Set by the caller before the first run; borrowed, not owned. */
    const struct ppexp_spec *s;
    const char *bin_dir; /* holds loadgen */
    const char *prefix;  /* the testbed's */
    const char *dir;     /* results directory: runs/ and logs/ */
    const char *netns_mid;
    const struct ppexp_hostcg *cg;
    struct ppexp_api *api;
    struct ppexp_managerctl *mgr;
    const volatile sig_atomic_t *stop_requested; /* set by the runner's signal handler */
    double mem_total_bytes;                      /* the machine's, for mem_pct */
    /* stress, while a run has it. */
    pid_t stress; /* 0: none */
};

/* Loadgen for c with the CPUs placed as `placement`; its files go under
 * runs/STEM.*. 0 done (rec filled), 1 interrupted, -1 failed (err). */
int ppexp_measure_requests(struct ppexp_measure_ctx *mc, const struct ppexp_config *c,
                           int placement, const char *stem, struct ppexp_run_record *rec, char *err,
                           size_t errlen);
/* A fresh manager asked for c's replicas at once; stopped again after.
 * Returns as ppexp_measure_requests. */
int ppexp_measure_instantiate(struct ppexp_measure_ctx *mc, const struct ppexp_config *c,
                              const char *stem, struct ppexp_run_record *rec, char *err,
                              size_t errlen);
/* Stops stress if it runs. */
void ppexp_measure_stress_stop(struct ppexp_measure_ctx *mc);

#endif
