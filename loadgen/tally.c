/* Adding up requests: counters and the common/ histograms (log-linear,
 * within 0.8%), never a sample. A proxy's tally is found by name, the last
 * one found first (a connection usually stays with one proxy). */
#include "tally.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"

int loadgen_tally_init(struct loadgen_tally *t)
{
    memset(t, 0, sizeof(*t));
    t->total = histogram_new();
    t->ttfb = histogram_new();
    if (!t->total || !t->ttfb) {
        loadgen_tally_release(t);
        return -1;
    }
    return 0;
}

void loadgen_tally_release(struct loadgen_tally *t)
{
    histogram_free(t->total);
    histogram_free(t->ttfb);
    t->total = t->ttfb = NULL;
}

void loadgen_tally_add(struct loadgen_tally *t, const struct loadgen_result *r)
{
    t->requests++;
    t->errors[r->error]++;
    if (loadgen_result_ok(r))
        t->ok++;
    t->bytes_in += r->bytes_in;
    t->body_bytes += r->body_bytes;
    if (r->cache && r->cache[0] == 'H')
        t->hits++;
    else if (r->cache && r->cache[0] == 'M')
        t->misses++;
    if (r->complete) {
        t->responses++;
        histogram_record(t->total, r->total_us);
        histogram_record(t->ttfb, r->ttfb_us);
    }
}

uint64_t loadgen_tally_errors(const struct loadgen_tally *t)
{
    uint64_t sum = 0;
    for (int e = LOADGEN_ERR_NONE + 1; e < LOADGEN_ERR_COUNT; e++)
        sum += t->errors[e];
    return sum;
}

void loadgen_latency_of(const struct histogram *h, struct loadgen_latency *out)
{
    out->mean_ms = histogram_mean_us(h) / 1000.0;
    out->p50_ms = (double)histogram_percentile_us(h, 50) / 1000.0;
    out->p90_ms = (double)histogram_percentile_us(h, 90) / 1000.0;
    out->p99_ms = (double)histogram_percentile_us(h, 99) / 1000.0;
    out->max_ms = (double)histogram_max_us(h) / 1000.0;
}

struct loadgen_tallies *loadgen_tallies_new(size_t nclients)
{
    struct loadgen_tallies *ts = calloc(1, sizeof(*ts));
    if (!ts)
        return NULL;
    ts->clients = calloc(nclients, sizeof(*ts->clients));
    ts->client_sources = calloc(nclients, sizeof(*ts->client_sources));
    ts->proxies = calloc(LOADGEN_MAX_PROXIES, sizeof(*ts->proxies));
    if (!ts->clients || !ts->client_sources || !ts->proxies || loadgen_tally_init(&ts->all) < 0)
        goto fail;
    for (size_t i = 0; i < nclients; i++) {
        if (loadgen_tally_init(&ts->clients[i]) < 0)
            goto fail;
        ts->nclients = i + 1;
    }
    return ts;
fail:
    loadgen_tallies_free(ts);
    return NULL;
}

void loadgen_tallies_free(struct loadgen_tallies *ts)
{
    if (!ts)
        return;
    loadgen_tally_release(&ts->all);
    for (size_t i = 0; i < ts->nclients; i++)
        loadgen_tally_release(&ts->clients[i]);
    for (size_t i = 0; i < ts->nproxies; i++)
        loadgen_tally_release(&ts->proxies[i].t);
    free(ts->clients);
    free(ts->client_sources);
    free(ts->proxies);
    free(ts);
}

struct loadgen_tally *loadgen_tallies_proxy(struct loadgen_tallies *ts, const char *name)
{
    static size_t last; /* index of the last name found */
    if (last < ts->nproxies && strcmp(ts->proxies[last].name, name) == 0)
        return &ts->proxies[last].t;
    for (size_t i = 0; i < ts->nproxies; i++) {
        if (strcmp(ts->proxies[i].name, name) == 0) {
            last = i;
            return &ts->proxies[i].t;
        }
    }
    if (ts->nproxies >= LOADGEN_MAX_PROXIES - 1 && strcmp(name, "other") != 0)
        return loadgen_tallies_proxy(ts, "other");
    struct loadgen_proxy_tally *p = &ts->proxies[ts->nproxies];
    if (loadgen_tally_init(&p->t) < 0)
        return NULL;
    snprintf(p->name, sizeof(p->name), "%s", name);
    last = ts->nproxies++;
    return &p->t;
}

void loadgen_tallies_add(struct loadgen_tallies *ts, const struct loadgen_result *r)
{
    if (r->warmup) {
        ts->warmup_requests++;
        return;
    }
    loadgen_tally_add(&ts->all, r);
    if (r->client >= 1 && r->client <= ts->nclients)
        loadgen_tally_add(&ts->clients[r->client - 1], r);
    if (r->proxy && r->proxy[0]) {
        struct loadgen_tally *p = loadgen_tallies_proxy(ts, r->proxy);
        if (p)
            loadgen_tally_add(p, r);
    }
}
