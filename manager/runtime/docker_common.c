/* The docker and swarm runtimes' shared Engine API helpers (see the header). */
#include "docker_common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "../config.h"
#include "dockerapi.h"
#include "log.h"

cJSON *docker_get_json(struct dockerapi *api, const char *path, long *status, char *err,
                       size_t errlen)
{
    char *body = NULL;
    *status = -1;
    if (dockerapi_call(api, "GET", path, NULL, DOCKER_SYNC_TIMEOUT_MS, status, &body, err, errlen) <
        0)
        return NULL;
    cJSON *j = NULL;
    if (*status != 200)
        dockerapi_error_text(body, err, errlen);
    else if (!(j = cJSON_Parse(body)))
        snprintf(err, errlen, "GET %s: not JSON", path);
    free(body);
    return j;
}

long docker_call_status(struct dockerapi *api, const char *method, const char *path,
                        const char *json, char **out, char *err, size_t errlen)
{
    char *body = NULL;
    long status = -1;
    if (dockerapi_call(api, method, path, json, DOCKER_SYNC_TIMEOUT_MS, &status, &body, err,
                       errlen) < 0)
        return -1;
    if (status >= 300)
        dockerapi_error_text(body, err, errlen);
    if (out)
        *out = body;
    else
        free(body);
    return status;
}

const char *docker_label_of(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "Spec"), "Labels"),
        key);
    if (!v)
        v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "Labels"), key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* POST /networks/create's body; NULL when out of memory. */
static char *network_body(const struct manager_config *cfg, const char *driver, const char *subnet,
                          const char *gateway)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *labels = cJSON_AddObjectToObject(root, "Labels");
    cJSON *ipam = cJSON_AddObjectToObject(root, "IPAM");
    cJSON *config = cJSON_AddArrayToObject(ipam, "Config");
    cJSON *pool = cJSON_CreateObject();
    int ok = root && labels && ipam && config && pool && cJSON_AddItemToArray(config, pool) &&
             cJSON_AddStringToObject(root, "Name", cfg->bridge) &&
             cJSON_AddStringToObject(root, "Driver", driver) &&
             cJSON_AddBoolToObject(root, "CheckDuplicate", 1) &&
             cJSON_AddStringToObject(labels, DOCKER_LABEL_PREFIX, cfg->prefix) &&
             cJSON_AddStringToObject(pool, "Subnet", subnet) &&
             cJSON_AddStringToObject(pool, "Gateway", gateway);
    if (!ok && pool && !cJSON_IsArray(config))
        cJSON_Delete(pool);
    if (ok && strcmp(driver, "bridge") == 0) {
        /* The Linux bridge takes the network's name, so ip link shows it. */
        cJSON *opts = cJSON_AddObjectToObject(root, "Options");
        ok = opts && cJSON_AddStringToObject(opts, "com.docker.network.bridge.name", cfg->bridge);
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

int docker_network_ensure(struct dockerapi *api, const struct manager_config *cfg,
                          const char *driver, const char *log_as, char *err, size_t errlen)
{
    char path[128], e[256];
    long status;
    snprintf(path, sizeof(path), "/networks/%s", cfg->bridge);
    cJSON *net = docker_get_json(api, path, &status, e, sizeof(e));
    if (net) {
        const char *owner = docker_label_of(net, DOCKER_LABEL_PREFIX);
        int ours = owner && strcmp(owner, cfg->prefix) == 0;
        cJSON_Delete(net);
        if (!ours) {
            snprintf(err, errlen, "network %s exists and is not labelled %s=%s", cfg->bridge,
                     DOCKER_LABEL_PREFIX, cfg->prefix);
            return -1;
        }
        log_info("%s: adopted %s network %s", log_as, driver, cfg->bridge);
        return 0;
    }
    if (status != 404) {
        snprintf(err, errlen, "GET %s on %s: %s", path, cfg->docker_socket, e);
        return -1;
    }
    char subnet[64], gateway[INET_ADDRSTRLEN];
    cidr_format(&cfg->subnet, subnet, sizeof(subnet));
    uint32_t base;
    memcpy(&base, cfg->subnet.bytes, sizeof(base));
    struct in_addr gw = {htonl(ntohl(base) + 1)};
    inet_ntop(AF_INET, &gw, gateway, sizeof(gateway));
    char *text = network_body(cfg, driver, subnet, gateway);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    status = docker_call_status(api, "POST", "/networks/create", text, NULL, e, sizeof(e));
    free(text);
    if (status != 201) {
        snprintf(err, errlen, "creating %s network %s (%s) on %s: %s", driver, cfg->bridge, subnet,
                 cfg->docker_socket, e);
        return -1;
    }
    log_info("%s: created %s network %s: %s, gateway %s", log_as, driver, cfg->bridge, subnet,
             gateway);
    return 0;
}
