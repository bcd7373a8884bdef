/* The proxyd worker (the default): proxyd told its name, listeners and
 * admin endpoint on the command line, then the operator's --proxy-arg ones.
 * Ready when its admin /healthz answers 200; SIGTERM drains it. */
#include "worker.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../config.h"
#include "../instance.h"

static int proxyd_check(const struct manager_config *cfg, char *err, size_t errlen)
{
    if (access(cfg->proxyd_path, X_OK) != 0) {
        snprintf(err, errlen, "proxyd not found or not executable at %s (see --proxyd)",
                 cfg->proxyd_path);
        return -1;
    }
    return 0;
}

static int proxyd_prepare(const struct manager_config *cfg, const struct instance *inst,
                          const struct worker_endpoints *ep, const char *dir,
                          struct worker_cmd *cmd, char *err, size_t errlen)
{
    (void)dir; /* proxyd keeps nothing on disk */
    char a[ADDR_STRLEN];
    if (worker_cmd_add(cmd, cfg->proxyd_path, err, errlen) < 0 ||
        worker_cmd_add(cmd, "--name", err, errlen) < 0 ||
        worker_cmd_add(cmd, inst->name, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < ep->nlisten; i++) {
        addr_format(&ep->listen[i], a, sizeof(a));
        if (worker_cmd_add(cmd, "--listen", err, errlen) < 0 ||
            worker_cmd_add(cmd, a, err, errlen) < 0)
            return -1;
    }
    addr_format(&ep->admin, a, sizeof(a));
    if (worker_cmd_add(cmd, "--admin", err, errlen) < 0 || worker_cmd_add(cmd, a, err, errlen) < 0)
        return -1;
    /* Never the manager's API or the balancer's admin, whatever an
     * --allow-dest below opens (proxyd's ADDR:PORT denial wins over it). */
    struct addr refused[WORKER_MAX_REFUSED];
    size_t nrefused = worker_kind_manager_endpoints(cfg, refused);
    for (size_t i = 0; i < nrefused; i++) {
        addr_format(&refused[i], a, sizeof(a));
        if (worker_cmd_add(cmd, "--deny-dest", err, errlen) < 0 ||
            worker_cmd_add(cmd, a, err, errlen) < 0)
            return -1;
    }
    for (size_t i = 0; i < cfg->nproxy_args; i++)
        if (worker_cmd_add(cmd, cfg->proxy_args[i], err, errlen) < 0)
            return -1;
    return 0;
}

static int proxyd_ready(int status)
{
    return status == 200;
}

static void proxyd_release(const struct manager_config *cfg, const struct instance *inst,
                           const char *dir)
{
    (void)cfg;
    (void)inst;
    rmdir(dir); /* made by worker_kind_prepare, empty */
}

static void proxyd_remove_leftovers(const struct manager_config *cfg)
{
    (void)cfg; /* proxyd leaves no files; its processes are the pool's */
}

const struct worker_kind worker_kind_proxyd = {
    .name = "proxyd",
    .exe = "proxyd",
    .stop_signal = SIGTERM,
    .forks = 0,
    .has_admin = 1,
    .check = proxyd_check,
    .prepare = proxyd_prepare,
    .ready = proxyd_ready,
    .release = proxyd_release,
    .remove_leftovers = proxyd_remove_leftovers,
};
