/* The process runtime: proxyd children in the manager's own network
 * namespace, instance k on port base+k (the paper's native Linux: one Squid
 * per port), admin on base+100+k. Each child gets its own session so a ^C at
 * the manager's terminal reaches the manager only, which then drains them. */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "spawn.h"

static int process_init(struct runtime *rt, char *err, size_t errlen)
{
    (void)rt;
    (void)err;
    (void)errlen;
    return 0; /* nothing host-wide: leftover processes are the pool's */
}

static int process_spawn(struct runtime *rt, struct instance *inst, char *err, size_t errlen)
{
    const struct manager_config *cfg = rt->cfg;
    inst->address = cfg->process_addr;
    addr_set_port(&inst->address, cfg->base_port + inst->id);
    inst->admin = cfg->process_addr;
    addr_set_port(&inst->admin, cfg->base_port + 100 + inst->id);
    char listen[ADDR_STRLEN], admin[ADDR_STRLEN];
    addr_format(&inst->address, listen, sizeof(listen));
    addr_format(&inst->admin, admin, sizeof(admin));
    const char *fixed[] = {"--name", inst->name, "--listen", listen, "--admin", admin};
    char *argv[4 + 6 + MANAGER_MAX_PROXY_ARGS];
    size_t argc = spawn_proxyd_argv(cfg, fixed, 6, argv, sizeof(argv) / sizeof(argv[0]));
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        spawn_child_prepare(inst->log_path);
        execv(cfg->proxyd_path, argv);
        dprintf(2, "manager: exec %s: %s\n", cfg->proxyd_path, strerror(errno));
        _exit(127);
    }
    (void)argc;
    inst->pid = pid;
    return 0;
}

static void process_stop(struct runtime *rt, struct instance *inst)
{
    (void)rt;
    if (inst->pid > 0)
        kill(inst->pid, SIGTERM);
}

static void process_release(struct runtime *rt, struct instance *inst)
{
    (void)rt;
    (void)inst;
}

static void process_shutdown(struct runtime *rt)
{
    (void)rt;
}

const struct runtime_ops runtime_process_ops = {
    .name = "process",
    .init = process_init,
    .spawn = process_spawn,
    .stop = process_stop,
    .release = process_release,
    .shutdown = process_shutdown,
};
