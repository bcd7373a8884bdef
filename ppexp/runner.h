/* Runs a planned experiment end to end: testbed up (if needed), cgroups
 * for placement and accounting, the manager in the intermediate host, per
 * replicate every configuration in its seeded order (manager set through its
 * REST API, loadgen from the clients, the host's CPU and memory over the
 * run, metrics), then statistics, plots and claims; and on the way out
 * (also after Ctrl-C) a clean testbed and a consistent results directory. */
#ifndef PPEXP_RUNNER_H
#define PPEXP_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "plan.h"
#include "spec.h"

struct ppexp_runner_opts {
    char out[512];        /* results directory; "" = results/NAME-UTCSTAMP */
    char prefix[16];      /* deploy/testbed's --prefix */
    char mgr_prefix[16];  /* the manager's --prefix */
    char bin_dir[512];    /* manager, loadgen, proxyd, balancer */
    char testbed[512];    /* deploy/testbed */
    char repo[512];       /* for git facts */
    char argv_line[1024]; /* the command as typed, for meta.json */
    double budget_s;      /* adaptive runs: no block is started that would end past it; 0 none */
};

/* 0 when every run finished, 1 when interrupted (SIGINT/SIGTERM; the
 * directory then holds what finished), -1 on a failure (logged). dir_out
 * receives the results directory. */
int ppexp_runner_run(const struct ppexp_runner_opts *o, const struct ppexp_spec *s,
                     const struct ppexp_plan *plan, char *dir_out, size_t dir_len);

#endif
