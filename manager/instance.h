/* One proxy instance of the pool as the manager sees it: its slot, name,
 * state, addresses, process and timings. The runtime (process or container)
 * fills in how it lives; the pool moves it through its states:
 * starting -> ready -> draining -> stopped, or -> failed. */
#ifndef PP_INSTANCE_H
#define PP_INSTANCE_H

#include <stdint.h>
#include <sys/types.h>
#include "addr.h"

#define POOL_MAX_INSTANCES 32

enum instance_state {
    INSTANCE_STARTING = 0,
    INSTANCE_READY,
    INSTANCE_DRAINING,
    INSTANCE_STOPPED,
    INSTANCE_FAILED,
};

const char *instance_state_name(enum instance_state s);

struct instance {
    int id;        /* 1..POOL_MAX_INSTANCES: the slot, stable across restarts */
    char name[32]; /* "pp<id>": proxyd's --name, the container's hostname */
    enum instance_state state;
    pid_t pid;                    /* in the manager's PID namespace; 0 when not running */
    struct addr address;          /* where clients send proxy requests */
    struct addr admin;            /* proxyd's admin endpoint (/healthz, /metrics); none for
                                   * squid and nginx workers */
    struct addr probe;            /* where the readiness probe asks GET /healthz */
    int64_t started_at_ms;        /* wall clock of the last spawn */
    int64_t spawn_mono_us;        /* monotonic clock of the last spawn */
    int64_t ready_ms;             /* spawn to first healthy answer, -1 until then */
    unsigned restarts;            /* crashes and explicit restarts */
    int64_t last_exit_at_ms;      /* wall clock of its last crash or restart; 0: none yet */
    char last_exit[64];           /* how that process ended: "signal 9", "exit status 1" */
    int64_t next_restart_mono_us; /* backoff: not before this */
    unsigned crash_streak;        /* consecutive crashes before becoming ready */
    char log_path[600];           /* stdout and stderr of the instance */
    void *rt;                     /* runtime-private state (container: veth, cgroup) */
    int spawn_gate_fd; /* the runtime's child waits here for its pid file (spawn.h); -1: none */
};

#endif
