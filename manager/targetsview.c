/* Prometheus' HTTP service discovery document: see targetsview.h. The
 * labels start with __meta_ so Prometheus drops them after relabelling;
 * deploy/prometheus/prometheus.yml turns them into the labels it keeps. */
#include "targetsview.h"

#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "addr.h"
#include "instance.h"
#include "pool.h"
#include "steer.h"

/* {"targets": [address], "labels": {}}, added to arr; its labels object, or
 * NULL when out of memory. */
static cJSON *add_group(cJSON *arr, const struct addr *address)
{
    char text[ADDR_STRLEN];
    addr_format(address, text, sizeof(text));
    cJSON *g = cJSON_CreateObject();
    if (g == NULL)
        return NULL;
    if (!cJSON_AddItemToArray(arr, g)) {
        cJSON_Delete(g);
        return NULL;
    }
    cJSON *targets = cJSON_AddArrayToObject(g, "targets");
    cJSON *t = cJSON_CreateString(text);
    if (targets == NULL || t == NULL || !cJSON_AddItemToArray(targets, t)) {
        cJSON_Delete(t);
        return NULL;
    }
    return cJSON_AddObjectToObject(g, "labels");
}

static int has_address(const struct addr *a)
{
    return a->len > 0 && (a->ss.ss_family == AF_INET || a->ss.ss_family == AF_INET6);
}

static int add_instance(cJSON *arr, const struct instance *in, const char *runtime)
{
    char id[16];
    snprintf(id, sizeof(id), "%d", in->id);
    cJSON *l = add_group(arr, &in->admin);
    int ok = l != NULL;
    ok = ok && cJSON_AddStringToObject(l, "__meta_proxypool_role", "proxyd") != NULL;
    ok = ok && cJSON_AddStringToObject(l, "__meta_proxypool_instance", in->name) != NULL;
    ok = ok && cJSON_AddStringToObject(l, "__meta_proxypool_instance_id", id) != NULL;
    ok = ok && cJSON_AddStringToObject(l, "__meta_proxypool_state",
                                       instance_state_name(in->state)) != NULL;
    ok = ok && cJSON_AddStringToObject(l, "__meta_proxypool_runtime", runtime) != NULL;
    return ok;
}

struct cJSON *targetsview_json(const struct pool *p, const struct steer *st,
                               const struct addr *balancer_admin)
{
    const struct instance *list[POOL_MAX_INSTANCES];
    size_t n = pool_list(p, list, POOL_MAX_INSTANCES);
    cJSON *arr = cJSON_CreateArray();
    int ok = arr != NULL;
    for (size_t i = 0; ok && i < n; i++)
        if (has_address(&list[i]->admin))
            ok = add_instance(arr, list[i], pool_runtime_name(p));
    if (ok && st != NULL && strcmp(steer_mode(st), "balancer") == 0 &&
        has_address(balancer_admin)) {
        cJSON *l = add_group(arr, balancer_admin);
        ok = l != NULL && cJSON_AddStringToObject(l, "__meta_proxypool_role", "balancer") != NULL;
    }
    if (!ok) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}
