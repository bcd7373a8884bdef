/* The --features object, built from the same tables the manager runs on
 * (runtime_ops, fwd_ops, worker kinds, the option value lists), so it cannot
 * claim a mode the build does not have. Bump MANAGER_FEATURES_FORMAT when a
 * key changes meaning; adding a key does not. */
#include "features.h"

#include <stdio.h>
#include <stdlib.h>
#include <cJSON.h>

#include "config.h"
#include "forward/forwarding.h"
#include "instance.h"
#include "runtime/runtime.h"
#include "worker/worker.h"

#define MANAGER_FEATURES_FORMAT 1

/* Adds key: [names...] from a NULL-terminated list; 0 or -1. */
static int add_names(cJSON *obj, const char *key, const char *const *names)
{
    cJSON *arr = cJSON_AddArrayToObject(obj, key);
    if (!arr)
        return -1;
    for (size_t i = 0; names[i]; i++)
        if (!cJSON_AddItemToArray(arr, cJSON_CreateString(names[i])))
            return -1;
    return 0;
}

static int add_runtimes(cJSON *obj)
{
    const char *names[] = {runtime_process_ops.name, runtime_container_ops.name,
                           runtime_docker_ops.name, runtime_swarm_ops.name, NULL};
    return add_names(obj, "runtimes", names);
}

/* "none" is no fwd_ops: the pool alone, clients use instance addresses. */
static int add_forwarding(cJSON *obj)
{
    const char *names[] = {"none", fwd_nat_ops.name, fwd_route_ops.name, fwd_balancer_ops.name,
                           NULL};
    if (add_names(obj, "forwarding", names) < 0)
        return -1;
    /* Route mode needs instances that own the VIP, which only containers
     * can (steer.c refuses it otherwise): a driver skips route+process. */
    const char *container_only[] = {fwd_route_ops.name, NULL};
    return add_names(obj, "forwarding_needs_container", container_only);
}

static int add_workers(cJSON *obj)
{
    cJSON *arr = cJSON_AddArrayToObject(obj, "workers");
    if (!arr)
        return -1;
    for (size_t i = 0; worker_kind_at(i); i++)
        if (!cJSON_AddItemToArray(arr, cJSON_CreateString(worker_kind_at(i)->name)))
            return -1;
    return 0;
}

char *manager_features_json(char *err, size_t errlen)
{
    char *text = NULL;
    cJSON *obj = cJSON_CreateObject();
    if (!obj || !cJSON_AddStringToObject(obj, "program", "manager") ||
        !cJSON_AddStringToObject(obj, "version", manager_version) ||
        !cJSON_AddNumberToObject(obj, "format", MANAGER_FEATURES_FORMAT) || add_runtimes(obj) < 0 ||
        add_forwarding(obj) < 0 || add_workers(obj) < 0 ||
        add_names(obj, "balancer_algos", manager_balancer_algos) < 0 ||
        !cJSON_AddNumberToObject(obj, "max_replicas", POOL_MAX_INSTANCES))
        goto fail;
    text = cJSON_Print(obj);
    if (!text)
        goto fail;
    cJSON_Delete(obj);
    return text;
fail:
    cJSON_Delete(obj);
    snprintf(err, errlen, "out of memory building the features object");
    return NULL;
}
