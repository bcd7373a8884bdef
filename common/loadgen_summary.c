/* Writes and reads loadgen's JSON summary. Its numbers are stattab tables
 * (the top level before and after the per-proxy and per-client parts, a
 * proxy, a client), so the writer and the reader walk the same keys. */
#include "loadgen_summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "stattab.h"

/* A JSON-only field of a summary struct. */
#define J(key, kind, type, member)                                                                 \
    {                                                                                              \
        key, NULL, PROM_UNTYPED, NULL, NULL, NULL, kind, offsetof(type, member)                    \
    }

#define LATENCY(key, type, member)                                                                 \
    J(key ".mean", STATTAB_DOUBLE, type, member.mean),                                             \
        J(key ".p50", STATTAB_DOUBLE, type, member.p50),                                           \
        J(key ".p90", STATTAB_DOUBLE, type, member.p90),                                           \
        J(key ".p99", STATTAB_DOUBLE, type, member.p99),                                           \
        J(key ".max", STATTAB_DOUBLE, type, member.max)

#define ERRORS(type, member)                                                                       \
    J("errors.connect", STATTAB_U64, type, member.connect),                                        \
        J("errors.timeout", STATTAB_U64, type, member.timeout),                                    \
        J("errors.reset", STATTAB_U64, type, member.reset),                                        \
        J("errors.status", STATTAB_U64, type, member.status),                                      \
        J("errors.short_body", STATTAB_U64, type, member.short_body),                              \
        J("errors.bad_response", STATTAB_U64, type, member.bad_response),                          \
        J("errors.total", STATTAB_U64, type, member.total)

#define SUM struct loadgen_summary
/* After "label", "url", "proxy" and "mode"; before "per_proxy". */
static const struct stattab_field head_fields[] = {
    J("rate", STATTAB_OPT, SUM, rate),
    J("clients", STATTAB_U64, SUM, clients),
    J("concurrency", STATTAB_U64, SUM, concurrency),
    J("concurrency_requested", STATTAB_U64, SUM, concurrency_requested),
    J("keepalive", STATTAB_BOOL, SUM, keepalive),
    J("requests", STATTAB_U64, SUM, requests),
    J("ok", STATTAB_U64, SUM, ok),
    J("responses", STATTAB_U64, SUM, responses),
    ERRORS(SUM, errors),
    J("warmup_requests", STATTAB_U64, SUM, warmup_requests),
    J("unfinished", STATTAB_U64, SUM, unfinished),
    J("unsent", STATTAB_U64, SUM, unsent),
    J("connections", STATTAB_U64, SUM, connections),
    J("stale_retries", STATTAB_U64, SUM, stale_retries),
    J("duration_s", STATTAB_DOUBLE, SUM, duration_s),
    J("elapsed_s", STATTAB_DOUBLE, SUM, elapsed_s),
    J("rps", STATTAB_DOUBLE, SUM, rps),
    J("mbps", STATTAB_DOUBLE, SUM, mbps),
    J("bytes_in", STATTAB_U64, SUM, bytes_in),
    J("body_bytes", STATTAB_U64, SUM, body_bytes),
    LATENCY("latency_ms", SUM, latency_ms),
    LATENCY("ttfb_ms", SUM, ttfb_ms),
};

/* After "per_client". */
static const struct stattab_field tail_fields[] = {
    J("in_flight.target", STATTAB_OPT, SUM, in_flight_target),
    J("in_flight.mean", STATTAB_DOUBLE, SUM, in_flight_mean),
    J("littles_law.ratio", STATTAB_OPT, SUM, littles_ratio),
    J("littles_law.ok", STATTAB_BOOL, SUM, littles_ok),
    J("loadgen_cpu_pct", STATTAB_DOUBLE, SUM, loadgen_cpu_pct),
    J("loop_lag_ms.p99", STATTAB_DOUBLE, SUM, loop_lag_p99_ms),
    J("loop_lag_ms.max", STATTAB_DOUBLE, SUM, loop_lag_max_ms),
    J("saturated", STATTAB_BOOL, SUM, saturated),
    J("interrupted", STATTAB_BOOL, SUM, interrupted),
};

#define PROXY struct loadgen_summary_proxy
/* A proxy's object, under its name in "per_proxy". */
static const struct stattab_field proxy_fields[] = {
    J("requests", STATTAB_U64, PROXY, requests), J("hits", STATTAB_U64, PROXY, hits),
    J("misses", STATTAB_U64, PROXY, misses),     J("errors", STATTAB_U64, PROXY, errors),
    LATENCY("latency_ms", PROXY, latency_ms),    LATENCY("ttfb_ms", PROXY, ttfb_ms),
};

#define CLIENT struct loadgen_summary_client
/* A client's object in "per_client": "client", then "source", then these. */
static const struct stattab_field client_id_field[] = {
    J("client", STATTAB_U64, CLIENT, client),
};
static const struct stattab_field client_fields[] = {
    J("requests", STATTAB_U64, CLIENT, requests),
    J("ok", STATTAB_U64, CLIENT, ok),
    ERRORS(CLIENT, errors),
    J("rps", STATTAB_DOUBLE, CLIENT, rps),
    J("mbps", STATTAB_DOUBLE, CLIENT, mbps),
    LATENCY("latency_ms", CLIENT, latency_ms),
    LATENCY("ttfb_ms", CLIENT, ttfb_ms),
};

struct loadgen_summary *loadgen_summary_new(size_t nproxies, size_t nclients)
{
    struct loadgen_summary *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    /* calloc(0) may return NULL: always ask for one. */
    s->proxies = calloc(nproxies ? nproxies : 1, sizeof(*s->proxies));
    s->per_client = calloc(nclients ? nclients : 1, sizeof(*s->per_client));
    if (!s->proxies || !s->per_client) {
        loadgen_summary_free(s);
        return NULL;
    }
    s->nproxies = nproxies;
    s->nclients = nclients;
    return s;
}

void loadgen_summary_free(struct loadgen_summary *s)
{
    if (!s)
        return;
    free(s->proxies);
    free(s->per_client);
    free(s);
}

static int write_head(cJSON *root, const struct loadgen_summary *s)
{
    int ok = cJSON_AddStringToObject(root, "label", s->label) != NULL;
    ok = ok && cJSON_AddStringToObject(root, "url", s->url) != NULL;
    ok = ok && (s->proxy[0] ? cJSON_AddStringToObject(root, "proxy", s->proxy)
                            : cJSON_AddNullToObject(root, "proxy")) != NULL;
    ok = ok && cJSON_AddStringToObject(root, "mode", s->rate >= 0 ? "open" : "closed") != NULL;
    return ok ? stattab_write_json(root, head_fields, STATTAB_COUNT(head_fields), s) : -1;
}

static int write_proxies(cJSON *root, const struct loadgen_summary *s)
{
    cJSON *proxies = cJSON_AddObjectToObject(root, "per_proxy");
    for (size_t i = 0; proxies && i < s->nproxies; i++) {
        const struct loadgen_summary_proxy *p = &s->proxies[i];
        cJSON *o = cJSON_AddObjectToObject(proxies, p->name);
        if (!o || stattab_write_json(o, proxy_fields, STATTAB_COUNT(proxy_fields), p) < 0)
            return -1;
    }
    return proxies ? 0 : -1;
}

static int write_clients(cJSON *root, const struct loadgen_summary *s)
{
    cJSON *clients = cJSON_AddArrayToObject(root, "per_client");
    for (size_t i = 0; clients && i < s->nclients; i++) {
        const struct loadgen_summary_client *c = &s->per_client[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(clients, o) ||
            stattab_write_json(o, client_id_field, 1, c) < 0 ||
            !cJSON_AddStringToObject(o, "source", c->source) ||
            stattab_write_json(o, client_fields, STATTAB_COUNT(client_fields), c) < 0)
            return -1;
    }
    return clients ? 0 : -1;
}

char *loadgen_summary_write(const struct loadgen_summary *s)
{
    cJSON *root = cJSON_CreateObject();
    char *text = NULL;
    if (root && write_head(root, s) == 0 && write_proxies(root, s) == 0 &&
        write_clients(root, s) == 0 &&
        stattab_write_json(root, tail_fields, STATTAB_COUNT(tail_fields), s) == 0)
        text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

/* A string member into out; "" for null when null_ok. */
static int read_text(const cJSON *o, const char *key, int null_ok, char *out, size_t outlen,
                     char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (null_ok && cJSON_IsNull(v)) {
        out[0] = '\0';
        return 0;
    }
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= outlen) {
        snprintf(err, errlen, "\"%s\" is %s", key,
                 !v                  ? "missing"
                 : cJSON_IsString(v) ? "too long"
                                     : (null_ok ? "not a string or null" : "not a string"));
        return -1;
    }
    memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
    return 0;
}

/* "mode" says what "rate" implies: open loop exactly when a rate is given. */
static int read_mode(const cJSON *root, const struct loadgen_summary *s, char *err, size_t errlen)
{
    char mode[16];
    if (read_text(root, "mode", 0, mode, sizeof(mode), err, errlen) < 0)
        return -1;
    if (strcmp(mode, s->rate >= 0 ? "open" : "closed") != 0) {
        snprintf(err, errlen, "\"mode\" is \"%.15s\" but \"rate\" is %s", mode,
                 s->rate >= 0 ? "given (open loop)" : "null (closed loop)");
        return -1;
    }
    return 0;
}

static int read_proxies(const cJSON *list, struct loadgen_summary *s, char *err, size_t errlen)
{
    size_t i = 0;
    for (const cJSON *o = list->child; o; o = o->next, i++) {
        struct loadgen_summary_proxy *p = &s->proxies[i];
        char why[160];
        if (strlen(o->string) >= sizeof(p->name)) {
            snprintf(err, errlen, "\"per_proxy\": a proxy name is too long");
            return -1;
        }
        memcpy(p->name, o->string, strlen(o->string) + 1);
        if (!cJSON_IsObject(o) || stattab_read_json(o, proxy_fields, STATTAB_COUNT(proxy_fields), p,
                                                    why, sizeof(why)) < 0) {
            snprintf(err, errlen, "\"per_proxy\" \"%.64s\": %s", p->name,
                     cJSON_IsObject(o) ? why : "is not an object");
            return -1;
        }
    }
    return 0;
}

static int read_clients(const cJSON *list, struct loadgen_summary *s, char *err, size_t errlen)
{
    size_t i = 0;
    for (const cJSON *o = list->child; o; o = o->next, i++) {
        struct loadgen_summary_client *c = &s->per_client[i];
        char why[160] = "is not an object";
        if (!cJSON_IsObject(o) ||
            stattab_read_json(o, client_id_field, 1, c, why, sizeof(why)) < 0 ||
            read_text(o, "source", 0, c->source, sizeof(c->source), why, sizeof(why)) < 0 ||
            stattab_read_json(o, client_fields, STATTAB_COUNT(client_fields), c, why, sizeof(why)) <
                0) {
            snprintf(err, errlen, "\"per_client\" %zu: %s", i + 1, why);
            return -1;
        }
    }
    return 0;
}

/* The per-proxy object and the per-client array, sized for the summary. */
static struct loadgen_summary *new_for(const cJSON *root, const cJSON **proxies,
                                       const cJSON **clients, char *err, size_t errlen)
{
    *proxies = cJSON_GetObjectItemCaseSensitive(root, "per_proxy");
    *clients = cJSON_GetObjectItemCaseSensitive(root, "per_client");
    if (!cJSON_IsObject(*proxies) || !cJSON_IsArray(*clients)) {
        snprintf(err, errlen, "%s",
                 !cJSON_IsObject(*proxies) ? "\"per_proxy\" is not an object"
                                           : "\"per_client\" is not an array");
        return NULL;
    }
    struct loadgen_summary *s = loadgen_summary_new((size_t)cJSON_GetArraySize(*proxies),
                                                    (size_t)cJSON_GetArraySize(*clients));
    if (!s)
        snprintf(err, errlen, "out of memory");
    return s;
}

struct loadgen_summary *loadgen_summary_read(const char *text, char *err, size_t errlen)
{
    cJSON *root = cJSON_Parse(text);
    const cJSON *proxies, *clients;
    struct loadgen_summary *s = NULL;
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "not a JSON object");
        goto fail;
    }
    s = new_for(root, &proxies, &clients, err, errlen);
    if (!s || read_text(root, "label", 0, s->label, sizeof(s->label), err, errlen) < 0 ||
        read_text(root, "url", 0, s->url, sizeof(s->url), err, errlen) < 0 ||
        read_text(root, "proxy", 1, s->proxy, sizeof(s->proxy), err, errlen) < 0 ||
        stattab_read_json(root, head_fields, STATTAB_COUNT(head_fields), s, err, errlen) < 0 ||
        read_mode(root, s, err, errlen) < 0 || read_proxies(proxies, s, err, errlen) < 0 ||
        read_clients(clients, s, err, errlen) < 0 ||
        stattab_read_json(root, tail_fields, STATTAB_COUNT(tail_fields), s, err, errlen) < 0)
        goto fail;
    cJSON_Delete(root);
    return s;
fail:
    loadgen_summary_free(s);
    cJSON_Delete(root);
    return NULL;
}
