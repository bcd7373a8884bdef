/* Admin HTTP endpoint on libevent's evhttp: health, Prometheus metrics and a
 * JSON view of the same counters, summed over the worker threads. */
#include "admin.h"

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
};

static int admin_collect(struct admin *a, struct admin_view *v)
{
    memset(v, 0, sizeof(*v));
    v->latency = histogram_new();
    if (!v->latency)
        return -1;
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
        int c = stats_code_at(i);
        if (c)
            snprintf(code, sizeof(code), "%d", c);
        else
            snprintf(code, sizeof(code), "other");
        struct prom_label l = {"code", code};
        prom_sample(&p, "proxyd_requests_total", &l, 1, (double)v.st.by_code[i]);
    }
    prom_counter(&p, "proxyd_cache_hits_total", "Requests served from the cache.", NULL, 0,
                 (double)v.st.hits);
    prom_counter(&p, "proxyd_cache_misses_total", "Requests that needed an origin fetch.", NULL, 0,
                 (double)v.st.misses);
    prom_counter(&p, "proxyd_collapsed_total",
                 "Requests that joined another request's origin fetch (fetches saved).", NULL, 0,
                 (double)v.st.collapsed);
    prom_counter(&p, "proxyd_refreshes_total",
                 "Revalidations the origin answered 304 Not Modified.", NULL, 0,
                 (double)v.st.refreshes);
    prom_counter(&p, "proxyd_not_modified_total", "304 responses sent to clients from cache.", NULL,
                 0, (double)v.st.not_modified);
    prom_counter(&p, "proxyd_denied_total", "Requests refused by access rules.", NULL, 0,
                 (double)v.st.denied);
    prom_counter(&p, "proxyd_bad_requests_total", "Malformed, oversized or timed-out requests.",
                 NULL, 0, (double)v.st.bad_requests);
    prom_counter(&p, "proxyd_client_bytes_received_total", "Bytes received from clients.", NULL, 0,
                 (double)v.st.client_bytes_in);
    prom_counter(&p, "proxyd_client_bytes_sent_total", "Bytes queued to clients.", NULL, 0,
                 (double)v.st.client_bytes_out);
    prom_counter(&p, "proxyd_origin_bytes_received_total", "Bytes received from origins.", NULL, 0,
                 (double)v.st.origin_bytes_in);
    prom_counter(&p, "proxyd_origin_fetches_total", "Requests sent to origin servers.", NULL, 0,
                 (double)v.st.origin_fetches);
    prom_family(&p, "proxyd_origin_errors_total", PROM_COUNTER, "Origin failures, by kind.");
    struct prom_label k;
    k.name = "kind";
    k.value = "connect";
    prom_sample(&p, "proxyd_origin_errors_total", &k, 1, (double)v.st.origin_errors_connect);
    k.value = "timeout";
    prom_sample(&p, "proxyd_origin_errors_total", &k, 1, (double)v.st.origin_errors_timeout);
    k.value = "protocol";
    prom_sample(&p, "proxyd_origin_errors_total", &k, 1, (double)v.st.origin_errors_protocol);
    k.value = "closed";
    prom_sample(&p, "proxyd_origin_errors_total", &k, 1, (double)v.st.origin_errors_closed);
    prom_gauge(&p, "proxyd_connections_open", "Client connections open.", NULL, 0,
               (double)v.st.connections_open);
    prom_counter(&p, "proxyd_connections_total", "Client connections accepted.", NULL, 0,
                 (double)v.st.connections_total);
    prom_counter(&p, "proxyd_tunnels_total", "CONNECT tunnels opened.", NULL, 0,
                 (double)v.st.tunnels_total);
    prom_gauge(&p, "proxyd_cache_bytes", "Bytes held by the memory cache.", NULL, 0,
               (double)v.cache.bytes);
    prom_gauge(&p, "proxyd_cache_limit_bytes", "The memory cache's limit (--cache-mem).", NULL, 0,
               (double)(cfg->cache_enabled ? cfg->cache_mem_bytes : 0));
    prom_gauge(&p, "proxyd_cache_objects", "Objects (variants) in the memory cache.", NULL, 0,
               (double)v.cache.objects);
    prom_counter(&p, "proxyd_cache_evictions_total", "Objects evicted to make room.", NULL, 0,
                 (double)v.cache.evictions);
    prom_gauge(&p, "proxyd_fetches_in_flight", "Origin fetches other requests may join.", NULL, 0,
               (double)v.inflight);
    prom_gauge(&p, "proxyd_origin_idle_connections", "Idle persistent origin connections.", NULL, 0,
               (double)v.origin_idle);
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
        int c = stats_code_at(i);
        snprintf(code, sizeof(code), c ? "%d" : "other", c);
        cJSON_AddNumberToObject(bc, code, (double)v.st.by_code[i]);
    }
    cJSON_AddNumberToObject(j, "hits", (double)v.st.hits);
    cJSON_AddNumberToObject(j, "misses", (double)v.st.misses);
    cJSON_AddNumberToObject(j, "collapsed", (double)v.st.collapsed);
    cJSON_AddNumberToObject(j, "refreshes", (double)v.st.refreshes);
    cJSON_AddNumberToObject(j, "not_modified", (double)v.st.not_modified);
    cJSON_AddNumberToObject(j, "denied", (double)v.st.denied);
    cJSON_AddNumberToObject(j, "bad_requests", (double)v.st.bad_requests);
    cJSON_AddNumberToObject(j, "origin_fetches", (double)v.st.origin_fetches);
    cJSON *oe = cJSON_AddObjectToObject(j, "origin_errors");
    cJSON_AddNumberToObject(oe, "connect", (double)v.st.origin_errors_connect);
    cJSON_AddNumberToObject(oe, "timeout", (double)v.st.origin_errors_timeout);
    cJSON_AddNumberToObject(oe, "protocol", (double)v.st.origin_errors_protocol);
    cJSON_AddNumberToObject(oe, "closed", (double)v.st.origin_errors_closed);
    cJSON *b = cJSON_AddObjectToObject(j, "bytes");
    cJSON_AddNumberToObject(b, "client_in", (double)v.st.client_bytes_in);
    cJSON_AddNumberToObject(b, "client_out", (double)v.st.client_bytes_out);
    cJSON_AddNumberToObject(b, "origin_in", (double)v.st.origin_bytes_in);
    cJSON *cn = cJSON_AddObjectToObject(j, "connections");
    cJSON_AddNumberToObject(cn, "open", (double)v.st.connections_open);
    cJSON_AddNumberToObject(cn, "total", (double)v.st.connections_total);
    cJSON_AddNumberToObject(cn, "tunnels", (double)v.st.tunnels_total);
    cJSON *ca = cJSON_AddObjectToObject(j, "cache");
    cJSON_AddBoolToObject(ca, "enabled", cfg->cache_enabled);
    cJSON_AddNumberToObject(ca, "bytes", (double)v.cache.bytes);
    cJSON_AddNumberToObject(ca, "limit_bytes",
                            (double)(cfg->cache_enabled ? cfg->cache_mem_bytes : 0));
    cJSON_AddNumberToObject(ca, "objects", (double)v.cache.objects);
    cJSON_AddNumberToObject(ca, "evictions", (double)v.cache.evictions);
    cJSON_AddNumberToObject(ca, "max_object_bytes", (double)cfg->max_object_bytes);
    cJSON_AddNumberToObject(j, "fetches_in_flight", (double)v.inflight);
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
