/* How an instance lives: a table of functions per runtime, one file each
 * (runtime_process.c, runtime_container.c), as IPVS schedulers are. The pool
 * calls spawn and stop; the exit is reaped by spawn.c's reaper, and the pool
 * then calls release so the runtime removes what the instance had (veth,
 * cgroup). */
#ifndef PP_RUNTIME_H
#define PP_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include "../instance.h"

struct event_base;
struct manager_config;
struct worker_kind;

struct runtime {
    const struct runtime_ops *ops;
    const struct manager_config *cfg;
    const struct worker_kind *worker; /* what instances run (worker.h) */
    void *priv;
    /* Slots (bit id) whose instance an earlier run left and the pool
     * adopted before init: init keeps what they have in the kernel, and
     * release removes it once they exit. */
    uint64_t adopted;
    /* The manager's loop (a runtime whose spawn finishes later, docker,
     * waits on it) and how such a spawn reports its end: err NULL with
     * inst->pid, address, admin and probe set, or the reason it failed
     * (nothing left behind). Called from the loop, never from spawn. */
    struct event_base *base;
    void (*spawned)(void *ctx, struct instance *inst, const char *err);
    void *spawned_ctx;
    /* How a remote runtime (ops->remote) reports that a started instance
     * ended, with a wait status as waitpid's (the pool then calls
     * release). Called from the loop. */
    void (*exited)(void *ctx, struct instance *inst, int status);
    void *exited_ctx;
};

struct runtime_ops {
    const char *name; /* "process", "container", "docker" or "swarm" */
    /* Prepares the host side (container: the bridge and its address; the
     * cgroup parent). Removes what an earlier run that crashed left behind
     * (its namespaces, veths, cgroups; processes are the pool's), logging
     * each removal. */
    int (*init)(struct runtime *rt, char *err, size_t errlen);
    /* Starts the instance's worker (proxyd, Squid or nginx) at the
     * addresses the runtime gives it: sets inst->pid, address, admin and
     * probe, with stdout and stderr to inst->log_path. Returns 0 or -1 with
     * err filled (and nothing left behind), or PP_AGAIN (again.h): started,
     * inst->pid still 0, and rt->spawned tells how it ended. An instance
     * whose spawn is under way gets neither stop nor release, only
     * detach_instance (which abandons it). */
    int (*spawn)(struct runtime *rt, struct instance *inst, char *err, size_t errlen);
    /* Optional, before init: takes over inst->pid, a worker an earlier run
     * started in slot inst->id and left running (the pool checked its pid
     * file and executable; container: it is in the slot's cgroup): sets
     * address, admin and probe as spawn would, starting nothing and
     * allocating nothing. 0, or -1 with err (not adopted: the pool removes
     * it). Without it, leftovers are always removed. */
    int (*adopt)(struct runtime *rt, struct instance *inst, char *err, size_t errlen);
    /* Asks it to stop (the worker's drain signal: it finishes in-flight
     * requests). */
    void (*stop)(struct runtime *rt, struct instance *inst);
    /* After the process was reaped: removes the instance's veth, cgroup,
     * processes its main one left (process runtime; a PID namespace ends
     * with its init) and the worker's files. Safe to call twice. */
    void (*release)(struct runtime *rt, struct instance *inst);
    /* On manager exit, after every instance was released: removes the
     * host-side state init made (the bridge). */
    void (*shutdown)(struct runtime *rt);
    /* On an exit that leaves the pool serving (SIGUSR2, --keep-on-exit):
     * frees what init, spawn and adopt allocated for rt and inst, changing
     * nothing in the kernel (the next manager adopts it). May be NULL. */
    void (*detach_instance)(struct runtime *rt, struct instance *inst);
    void (*detach)(struct runtime *rt);
    /* Each instance has its own network namespace and address, so it can
     * own the VIP (what route forwarding needs). */
    int own_network;
    /* Instances are no process of this host (swarm: tasks on any node):
     * inst->pid stays 0, the pool writes no pid file and watches no pid;
     * the runtime reports each end through rt->exited, and kill (required
     * then) ends one at once. */
    int remote;
    void (*kill)(struct runtime *rt, struct instance *inst);
};

extern const struct runtime_ops runtime_process_ops;
extern const struct runtime_ops runtime_container_ops;
extern const struct runtime_ops runtime_docker_ops;
extern const struct runtime_ops runtime_swarm_ops;

#endif
