/* The operation tables by name: the one place a runtime's or a forwarding
 * mode's name is compared (config.c checks the spelling of the options). */
#include "registry.h"

#include <stddef.h>
#include <string.h>

#include "forward/forwarding.h"
#include "runtime/runtime.h"

static const struct runtime_ops *const runtimes[] = {
    &runtime_process_ops,
    &runtime_container_ops,
    &runtime_docker_ops,
    &runtime_swarm_ops,
};

static const struct fwd_ops *const modes[] = {
    &fwd_nat_ops,
    &fwd_route_ops,
    &fwd_balancer_ops,
};

const struct runtime_ops *registry_runtime(const char *name)
{
    for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++)
        if (strcmp(runtimes[i]->name, name) == 0)
            return runtimes[i];
    return NULL;
}

int registry_forwarding(const char *name, const struct fwd_ops **ops)
{
    *ops = NULL;
    if (strcmp(name, "none") == 0)
        return 0;
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(modes[i]->name, name) == 0) {
            *ops = modes[i];
            return 0;
        }
    }
    return -1;
}

const char *registry_forwarding_names(void)
{
    return "none, nat, route or balancer";
}
