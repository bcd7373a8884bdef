/* The balancer's backend set as JSON, both ways: what fwd_balancer.c PUTs,
 * and the per-backend state and latency it reads back for the pool view and
 * for counting a draining instance's connections. */
#include "backendset.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

static void endpoint_text(struct in_addr a, uint16_t port, char *out, size_t outlen)
{
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, ip, sizeof(ip));
    snprintf(out, outlen, "%s:%u", ip, (unsigned)port);
}

char *backendset_json(const struct fwd_target *targets, size_t n, char *err, size_t errlen)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "backends") : NULL;
    int ok = arr != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        const struct fwd_target *t = &targets[i];
        if (!t->name[0] || t->addr.s_addr == 0 || t->port == 0) {
            snprintf(err, errlen, "backend %zu (instance %d) has no name or address", i + 1,
                     t->instance_id);
            cJSON_Delete(o);
            return NULL;
        }
        char address[32], health[32];
        endpoint_text(t->addr, t->port, address, sizeof(address));
        cJSON *b = cJSON_CreateObject();
        ok = b != NULL && cJSON_AddItemToArray(arr, b);
        ok = ok && cJSON_AddStringToObject(b, "name", t->name) != NULL;
        ok = ok && cJSON_AddStringToObject(b, "address", address) != NULL;
        if (ok && t->admin_port != 0 && t->admin_addr.s_addr != 0) {
            endpoint_text(t->admin_addr, t->admin_port, health, sizeof(health));
            ok = cJSON_AddStringToObject(b, "health", health) != NULL;
        }
        ok = ok && cJSON_AddNumberToObject(b, "weight", 1) != NULL;
    }
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text)
        snprintf(err, errlen, "out of memory");
    return text;
}

static int read_count(const cJSON *b, const char *name, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, name);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 9.0e15)
        return -1;
    *out = (uint64_t)v->valuedouble;
    return 0;
}

/* A latency in ms: a number, or null (unmeasured); absent counts as null. */
static int read_ms(const cJSON *b, const char *name, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, name);
    if (!v || cJSON_IsNull(v)) {
        *out = FWD_UNMEASURED;
        return 0;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
        return -1;
    *out = v->valuedouble;
    return 0;
}

static int read_text(const cJSON *b, const char *name, char *out, size_t outlen, int required)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, name);
    if (!cJSON_IsString(v)) {
        out[0] = '\0';
        return required || (v && !cJSON_IsNull(v)) ? -1 : 0;
    }
    snprintf(out, outlen, "%s", v->valuestring);
    return 0;
}

int backendset_parse(const char *text, struct fwd_observation *out, size_t max, size_t *n,
                     char *err, size_t errlen)
{
    *n = 0;
    cJSON *doc = cJSON_Parse(text);
    const cJSON *arr =
        cJSON_IsObject(doc) ? cJSON_GetObjectItemCaseSensitive(doc, "backends") : NULL;
    if (!cJSON_IsArray(arr)) {
        snprintf(err, errlen, "not a backend list: no \"backends\" array");
        cJSON_Delete(doc);
        return -1;
    }
    size_t i = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, arr)
    {
        if (i == max)
            break;
        struct fwd_observation *o = &out[i];
        memset(o, 0, sizeof(*o));
        const cJSON *removed = cJSON_GetObjectItemCaseSensitive(b, "removed");
        if (!cJSON_IsObject(b) || read_text(b, "name", o->name, sizeof(o->name), 1) < 0 ||
            read_text(b, "state", o->state, sizeof(o->state), 1) < 0 ||
            read_count(b, "active", &o->active) < 0 || read_count(b, "total", &o->total) < 0 ||
            read_ms(b, "ewma_ms", &o->ewma_ms) < 0 || read_ms(b, "p50_ms", &o->p50_ms) < 0 ||
            read_ms(b, "p90_ms", &o->p90_ms) < 0 || read_ms(b, "p99_ms", &o->p99_ms) < 0 ||
            read_text(b, "last_check", o->last_check, sizeof(o->last_check), 0) < 0 ||
            (removed && !cJSON_IsBool(removed))) {
            snprintf(err, errlen, "backend %zu of the list is malformed", i + 1);
            cJSON_Delete(doc);
            return -1;
        }
        o->removed = cJSON_IsTrue(removed);
        i++;
    }
    *n = i;
    cJSON_Delete(doc);
    return 0;
}
