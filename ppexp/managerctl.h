/* The manager as one experiment drives it: started in the intermediate host
 * with a configuration's command-line factors, waited on until its pool is
 * ready, changed live through its REST API where the factor allows, and
 * stopped by its pid. The runner owns the struct; this module owns the pid. */
#ifndef PPEXP_MANAGERCTL_H
#define PPEXP_MANAGERCTL_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>
#include <cJSON.h>

#include "api.h"
#include "hostcg.h"
#include "plan.h"
#include "spec.h"

/* The address the manager serves and loadgen is pointed at. */
#define PPEXP_MANAGER_VIP "198.19.255.10:3128"
/* The testbed's origin (deploy/testbed's server namespace). */
#define PPEXP_ORIGIN_ADDR "198.19.1.2"
/* Both APIs listen on loopback inside the intermediate host. */
#define PPEXP_MANAGER_API_ADDR "127.0.0.1:9090"
#define PPEXP_BALANCER_API_ADDR "127.0.0.1:9101"

struct ppexp_managerctl {
    /* Set by the caller before the first start; borrowed, not owned. */
    const char *bin_dir;    /* holds the manager binary */
    const char *prefix;     /* the testbed's, for the state directory */
    const char *mgr_prefix; /* the manager's --prefix */
    const char *dir;        /* results directory: logs/manager-N.log */
    const char *netns_mid;
    const char *docker_socket; /* the private dockerd's, for the docker runtime; NULL if none */
    int clients;
    int has_worker; /* the manager takes --worker */
    struct ppexp_api *api;
    const struct ppexp_hostcg *cg;
    const volatile sig_atomic_t *stop_requested; /* set by the runner's signal handler */
    /* The running manager. */
    pid_t pid;                 /* 0: none */
    int level[PPEXP_NFACTORS]; /* what it was started or set with */
    int starts;                /* numbers its log files */
};

/* Asks bin_dir/manager what it supports (`manager --features`). 0, or -1
 * with err filled when it cannot be run or answers with no features object
 * (a manager older than --features). */
int ppexp_managerctl_features(const char *bin_dir, struct ppexp_caps *caps, char *err,
                              size_t errlen);

/* Starts the manager for c's runtime, worker, cache and forwarding at
 * `replicas`; waits until that many are ready. *ready_ms: spawn to ready;
 * *pool_out (if not NULL): the ready pool's JSON, the caller's to free. */
int ppexp_managerctl_start(struct ppexp_managerctl *m, const struct ppexp_config *c, int replicas,
                           double *ready_ms, cJSON **pool_out, char *err, size_t errlen);
/* Stops the running manager, if any; bounded, then killed. */
void ppexp_managerctl_stop(struct ppexp_managerctl *m);

/* After the last stop: the manager's state directory
 * (/run/ppexp/PREFIX/state) has its instances' logs copied into the
 * results directory (logs/instances/) and is removed with its parent, so a
 * finished run leaves nothing in /run. Does nothing while a manager runs. */
void ppexp_managerctl_release_state(struct ppexp_managerctl *m);
/* Brings the manager to c, starting it if none runs. */
int ppexp_managerctl_apply(struct ppexp_managerctl *m, const struct ppexp_config *c, char *err,
                           size_t errlen);

#endif
