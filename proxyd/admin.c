/* Admin HTTP endpoint on libevent's evhttp: health, Prometheus metrics and a
 * JSON view of the same counters, summed over the worker threads. */
#include "admin.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "cache.h"
#include "histogram.h"
#include "jsonhttp.h"
#include "object.h"
#include "prom.h"
#include "stats.h"
#include "stattab.h"
#include "worker.h"

struct admin {
    struct evhttp *http;
    struct worker **workers;
    size_t nworkers;
    int64_t started_s;
    int stopping;
};

/* Everything one scrape reports, summed over workers. */
struct admin_view {
    struct proxyd_stats st;
    struct cache_stats cache;
    struct histogram *latency;
    uint64_t inflight;
    uint64_t origin_idle;
    int cache_enabled;
    uint64_t cache_limit_bytes; /* 0 with the cache off */
    uint64_t max_object_bytes;
};

#define ST(field) offsetof(struct admin_view, st.field)
#define VIEW(field) offsetof(struct admin_view, field)

/* The figures /metrics and /stats both show, in the order both write them;
 * a field with no JSON key is a metric only, one with no family is in
 * /stats only. Requests by status code and latency are written apart:
 * their labels and keys are not fixed. */
static const struct stattab_field admin_fields[] = {
    {"hits", "proxyd_cache_hits_total", PROM_COUNTER, "Requests served from the cache.", NULL, NULL,
     STATTAB_U64, ST(hits)},
    {"misses", "proxyd_cache_misses_total", PROM_COUNTER, "Requests that needed an origin fetch.",
     NULL, NULL, STATTAB_U64, ST(misses)},
    {"collapsed", "proxyd_collapsed_total", PROM_COUNTER,
     "Requests that joined another request's origin fetch (fetches saved).", NULL, NULL,
     STATTAB_U64, ST(collapsed)},
    {"refreshes", "proxyd_refreshes_total", PROM_COUNTER,
     "Revalidations the origin answered 304 Not Modified.", NULL, NULL, STATTAB_U64, ST(refreshes)},
    {"not_modified", "proxyd_not_modified_total", PROM_COUNTER,
     "304 responses sent to clients from cache.", NULL, NULL, STATTAB_U64, ST(not_modified)},
    {"denied", "proxyd_denied_total", PROM_COUNTER, "Requests refused by access rules.", NULL, NULL,
     STATTAB_U64, ST(denied)},
    {"bad_requests", "proxyd_bad_requests_total", PROM_COUNTER,
     "Malformed, oversized or timed-out requests.", NULL, NULL, STATTAB_U64, ST(bad_requests)},
    {"sendfile_retries", "proxyd_sendfile_retries_total", PROM_COUNTER,
     "Client writes retried after sendfile would block on a socket that polled writable.", NULL,
     NULL, STATTAB_U64, ST(sendfile_retries)},
    {"bytes.client_in", "proxyd_client_bytes_received_total", PROM_COUNTER,
     "Bytes received from clients.", NULL, NULL, STATTAB_U64, ST(client_bytes_in)},
    {"bytes.client_out", "proxyd_client_bytes_sent_total", PROM_COUNTER, "Bytes queued to clients.",
     NULL, NULL, STATTAB_U64, ST(client_bytes_out)},
    {"bytes.origin_in", "proxyd_origin_bytes_received_total", PROM_COUNTER,
     "Bytes received from origins.", NULL, NULL, STATTAB_U64, ST(origin_bytes_in)},
    {"origin_fetches", "proxyd_origin_fetches_total", PROM_COUNTER,
     "Requests sent to origin servers.", NULL, NULL, STATTAB_U64, ST(origin_fetches)},
    {"origin_errors.connect", "proxyd_origin_errors_total", PROM_COUNTER,
     "Origin failures, by kind.", "kind", "connect", STATTAB_U64, ST(origin_errors_connect)},
    {"origin_errors.timeout", "proxyd_origin_errors_total", PROM_COUNTER,
     "Origin failures, by kind.", "kind", "timeout", STATTAB_U64, ST(origin_errors_timeout)},
    {"origin_errors.protocol", "proxyd_origin_errors_total", PROM_COUNTER,
     "Origin failures, by kind.", "kind", "protocol", STATTAB_U64, ST(origin_errors_protocol)},
    {"origin_errors.closed", "proxyd_origin_errors_total", PROM_COUNTER,
     "Origin failures, by kind.", "kind", "closed", STATTAB_U64, ST(origin_errors_closed)},
    {"connections.open", "proxyd_connections_open", PROM_GAUGE, "Client connections open.", NULL,
     NULL, STATTAB_U64, ST(connections_open)},
    {"connections.total", "proxyd_connections_total", PROM_COUNTER, "Client connections accepted.",
     NULL, NULL, STATTAB_U64, ST(connections_total)},
    {"connections.tunnels", "proxyd_tunnels_total", PROM_COUNTER, "CONNECT tunnels opened.", NULL,
     NULL, STATTAB_U64, ST(tunnels_total)},
    {"cache.enabled", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_BOOL, VIEW(cache_enabled)},
    {"cache.bytes", "proxyd_cache_bytes", PROM_GAUGE, "Bytes held by the memory cache.", NULL, NULL,
     STATTAB_U64, VIEW(cache.bytes)},
    {"cache.limit_bytes", "proxyd_cache_limit_bytes", PROM_GAUGE,
     "The memory cache's limit (--cache-mem).", NULL, NULL, STATTAB_U64, VIEW(cache_limit_bytes)},
    {"cache.objects", "proxyd_cache_objects", PROM_GAUGE, "Objects (variants) in the memory cache.",
     NULL, NULL, STATTAB_U64, VIEW(cache.objects)},
    {"cache.evictions", "proxyd_cache_evictions_total", PROM_COUNTER,
     "Objects evicted to make room.", NULL, NULL, STATTAB_U64, VIEW(cache.evictions)},
    {"cache.max_object_bytes", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_U64,
     VIEW(max_object_bytes)},
    {"fetches_in_flight", "proxyd_fetches_in_flight", PROM_GAUGE,
     "Origin fetches other requests may join.", NULL, NULL, STATTAB_U64, VIEW(inflight)},
    {NULL, "proxyd_origin_idle_connections", PROM_GAUGE, "Idle persistent origin connections.",
     NULL, NULL, STATTAB_U64, VIEW(origin_idle)},
};

static int admin_collect(struct admin *a, struct admin_view *v)
{
    const struct proxyd_config *cfg = a->workers[0]->cfg;
    memset(v, 0, sizeof(*v));
    v->latency = histogram_new();
    if (!v->latency)
        return -1;
    v->cache_enabled = cfg->cache_enabled;
    v->cache_limit_bytes = cfg->cache_enabled ? cfg->cache_mem_bytes : 0;
    v->max_object_bytes = cfg->max_object_bytes;
    for (size_t i = 0; i < a->nworkers; i++) {
        struct worker *w = a->workers[i];
        stats_sum(&v->st, &w->stats);
        histogram_merge(v->latency, w->latency);
        if (w->cache) {
            /* Read from another thread: figures may be a moment old. */
            struct cache_stats cs;
            cache_get_stats(w->cache, &cs);
            v->cache.bytes += cs.bytes;
            v->cache.objects += cs.objects;
            v->cache.evictions += cs.evictions;
            v->cache.insertions += cs.insertions;
        }
        v->inflight += object_table_count(w->inflight);
        v->origin_idle += origin_pool_idle_count(w);
    }
    return 0;
}

/* "200" for by_code[i], or "other" for the last slot. */
static void code_text(size_t i, char *out, size_t outlen)
{
    int c = stats_code_at(i);
    snprintf(out, outlen, c ? "%d" : "other", c);
}

static void healthz_cb(struct evhttp_request *req, void *arg)
{
    struct admin *a = arg;
    if (jsonhttp_check_method(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD) < 0)
        return;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", a->stopping ? "stopping" : "ok");
    cJSON_AddStringToObject(j, "name", a->workers[0]->cfg->name);
    jsonhttp_send(req, a->stopping ? 503 : 200, j);
    cJSON_Delete(j);
}

static void metrics_cb(struct evhttp_request *req, void *arg)
{
    struct admin *a = arg;
    if (jsonhttp_check_method(req, EVHTTP_REQ_GET) < 0)
        return;
    struct admin_view v;
    if (admin_collect(a, &v) < 0) {
        jsonhttp_send_error(req, 500, "out of memory");
        return;
    }
    const struct proxyd_config *cfg = a->workers[0]->cfg;
    struct evbuffer *out = evbuffer_new();
    struct prom p;
    prom_init(&p, out);
    struct prom_label inst = {"instance_name", cfg->name};
    prom_family(&p, "proxyd_requests_total", PROM_COUNTER, "Requests answered, by status code.");
    for (size_t i = 0; i <= STATS_NCODES; i++) {
        if (v.st.by_code[i] == 0)
            continue;
        char code[16];
        code_text(i, code, sizeof(code));
        struct prom_label l = {"code", code};
        prom_sample(&p, "proxyd_requests_total", &l, 1, (double)v.st.by_code[i]);
    }
    stattab_write_prom(&p, admin_fields, STATTAB_COUNT(admin_fields), &v);
    prom_gauge(&p, "proxyd_info", "Constant 1, labelled with the instance name.", &inst, 1, 1);
    prom_histogram(&p, "proxyd_request_duration_seconds",
                   "Time from a request's head to its last byte queued.", NULL, 0, v.latency,
                   prom_latency_bounds_s, prom_latency_nbounds);
    char err[128];
    if (prom_finish(&p, err, sizeof(err)) < 0)
        fprintf(stderr, "proxyd: metrics: %s\n", err);
    jsonhttp_send_prom(req, out);
    evbuffer_free(out);
    histogram_free(v.latency);
}

static void stats_cb(struct evhttp_request *req, void *arg)
{
    struct admin *a = arg;
    if (jsonhttp_check_method(req, EVHTTP_REQ_GET) < 0)
        return;
    struct admin_view v;
    if (admin_collect(a, &v) < 0) {
        jsonhttp_send_error(req, 500, "out of memory");
        return;
    }
    const struct proxyd_config *cfg = a->workers[0]->cfg;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", cfg->name);
    cJSON_AddNumberToObject(j, "uptime_s", (double)(time(NULL) - a->started_s));
    cJSON_AddNumberToObject(j, "threads", (double)a->nworkers);
    cJSON *r = cJSON_AddObjectToObject(j, "requests");
    cJSON_AddNumberToObject(r, "total", (double)v.st.requests);
    cJSON *bc = cJSON_AddObjectToObject(r, "by_code");
    for (size_t i = 0; i <= STATS_NCODES; i++) {
        if (v.st.by_code[i] == 0)
            continue;
        char code[16];
        code_text(i, code, sizeof(code));
        cJSON_AddNumberToObject(bc, code, (double)v.st.by_code[i]);
    }
    stattab_write_json(j, admin_fields, STATTAB_COUNT(admin_fields), &v);
    cJSON *lat = cJSON_AddObjectToObject(j, "latency_ms");
    cJSON_AddNumberToObject(lat, "count", (double)histogram_count(v.latency));
    cJSON_AddNumberToObject(lat, "mean", histogram_mean_us(v.latency) / 1000.0);
    cJSON_AddNumberToObject(lat, "p50", (double)histogram_percentile_us(v.latency, 50) / 1000.0);
    cJSON_AddNumberToObject(lat, "p90", (double)histogram_percentile_us(v.latency, 90) / 1000.0);
    cJSON_AddNumberToObject(lat, "p99", (double)histogram_percentile_us(v.latency, 99) / 1000.0);
    cJSON_AddNumberToObject(lat, "max", (double)histogram_max_us(v.latency) / 1000.0);
    jsonhttp_send(req, 200, j);
    cJSON_Delete(j);
    histogram_free(v.latency);
}

static void notfound_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    jsonhttp_send_error(req, 404, "no such endpoint: try /healthz, /metrics or /stats");
}

struct admin *admin_new(struct worker **workers, size_t nworkers, char *err, size_t errlen)
{
    const struct proxyd_config *cfg = workers[0]->cfg;
    struct admin *a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->workers = workers;
    a->nworkers = nworkers;
    a->started_s = time(NULL);
    a->http = evhttp_new(workers[0]->base);
    if (!a->http) {
        snprintf(err, errlen, "evhttp_new failed");
        free(a);
        return NULL;
    }
    int fd = addr_listen_tcp(&cfg->admin, 128, 0, err, errlen);
    if (fd < 0 || !evhttp_accept_socket_with_handle(a->http, fd)) {
        if (fd >= 0)
            snprintf(err, errlen, "admin: cannot accept on the socket");
        evhttp_free(a->http);
        free(a);
        return NULL;
    }
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
    evhttp_set_max_headers_size(a->http, 16 * 1024);
    evhttp_set_max_body_size(a->http, 64 * 1024);
    evhttp_set_timeout(a->http, 10);
    evhttp_set_cb(a->http, "/healthz", healthz_cb, a);
    evhttp_set_cb(a->http, "/metrics", metrics_cb, a);
    evhttp_set_cb(a->http, "/stats", stats_cb, a);
    evhttp_set_gencb(a->http, notfound_cb, a);
    return a;
}

void admin_free(struct admin *a)
{
    if (!a)
        return;
    evhttp_free(a->http);
    free(a);
}

void admin_set_stopping(struct admin *a)
{
    if (a)
        a->stopping = 1;
}
