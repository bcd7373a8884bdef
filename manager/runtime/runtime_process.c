/* The process runtime: worker children (proxyd, Squid or nginx) in the
 * manager's own network namespace, instance k on port base+k (the paper's
 * native Linux: one Squid per port), proxyd's admin on base+100+k. Each child
 * leads its own session, so a ^C at the manager's terminal reaches the
 * manager only, which then drains them, and its process group holds every
 * process the worker forks (nginx's worker, cache manager and loader). */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config.h"
#include "log.h"
#include "../spawn.h"
#include "../worker/worker.h"

static int process_init(struct runtime *rt, char *err, size_t errlen)
{
    (void)rt;
    (void)err;
    (void)errlen;
    return 0; /* nothing host-wide: leftover processes are the pool's */
}

/* Where instance id listens: base+id, its admin on base+100+id. */
static void process_endpoints(const struct manager_config *cfg, int id, struct worker_endpoints *ep)
{
    memset(ep, 0, sizeof(*ep));
    ep->listen[0] = cfg->process_addr;
    addr_set_port(&ep->listen[0], cfg->base_port + id);
    ep->nlisten = 1;
    ep->admin = cfg->process_addr;
    addr_set_port(&ep->admin, cfg->base_port + 100 + id);
}

static int process_spawn(struct runtime *rt, struct instance *inst, char *err, size_t errlen)
{
    const struct manager_config *cfg = rt->cfg;
    struct worker_endpoints ep;
    process_endpoints(cfg, inst->id, &ep);
    static struct worker_cmd cmd; /* ~4.5 KiB: off the stack; the loop is single-threaded */
    if (worker_kind_prepare(rt->worker, cfg, inst, &ep, &cmd, err, errlen) < 0)
        return -1;
    int gate[2];
    if (spawn_gate_new(gate, err, errlen) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(gate[0]);
        close(gate[1]);
        return -1;
    }
    if (pid == 0) {
        spawn_gate_wait(gate); /* until the pool wrote its pid file */
        spawn_child_prepare(inst->log_path);
        execv(cmd.argv[0], cmd.argv);
        dprintf(2, "manager: exec %s: %s\n", cmd.argv[0], strerror(errno));
        _exit(127);
    }
    spawn_gate_keep(gate, &inst->spawn_gate_fd);
    inst->pid = pid;
    return 0;
}

/* The process is the pool's to verify (pid file, start time, executable,
 * /healthz); here only where it listens, which follows from its slot. */
static int process_adopt(struct runtime *rt, struct instance *inst, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    struct worker_endpoints ep;
    process_endpoints(rt->cfg, inst->id, &ep);
    worker_kind_place(rt->worker, inst, &ep);
    return 0;
}

static void process_stop(struct runtime *rt, struct instance *inst)
{
    worker_kind_stop(rt->worker, inst);
}

static void process_release(struct runtime *rt, struct instance *inst)
{
    /* The group's other processes, which no PID namespace ends here. */
    worker_kind_release(rt->worker, rt->cfg, inst, 1);
}

static void process_shutdown(struct runtime *rt)
{
    (void)rt;
}

const struct runtime_ops runtime_process_ops = {
    .name = "process",
    .init = process_init,
    .spawn = process_spawn,
    .adopt = process_adopt,
    .stop = process_stop,
    .release = process_release,
    .shutdown = process_shutdown,
};
