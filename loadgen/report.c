/* The JSON summary (common/loadgen_summary) and the human one. Rates are over the measured
 * time: from the end of the warm-up to the last finished request. */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "config.h"
#include "histogram.h"
#include "loadgen_summary.h"
#include "selfwatch.h"
#include "tally.h"

/* Per-client lines in the human summary; the JSON has them all. */
#define TEXT_MAX_CLIENT_LINES 16

static double round_to(double v, double unit)
{
    return round(v / unit) * unit;
}

static double per_second(uint64_t n, double secs)
{
    return secs > 0 ? (double)n / secs : 0.0;
}

static void latency_of(const struct histogram *h, struct loadgen_summary_latency *out)
{
    struct loadgen_latency l;
    loadgen_latency_of(h, &l);
    out->mean = round_to(l.mean_ms, 0.001);
    out->p50 = l.p50_ms;
    out->p90 = l.p90_ms;
    out->p99 = l.p99_ms;
    out->max = l.max_ms;
}

static void errors_of(const struct loadgen_tally *t, struct loadgen_summary_errors *out)
{
    out->connect = t->errors[LOADGEN_ERR_CONNECT];
    out->timeout = t->errors[LOADGEN_ERR_TIMEOUT];
    out->reset = t->errors[LOADGEN_ERR_RESET];
    out->status = t->errors[LOADGEN_ERR_STATUS];
    out->short_body = t->errors[LOADGEN_ERR_SHORT_BODY];
    out->bad_response = t->errors[LOADGEN_ERR_BAD_RESPONSE];
    out->total = loadgen_tally_errors(t);
}

static double rps_of(const struct loadgen_tally *t, double secs)
{
    return round_to(per_second(t->responses, secs), 0.01);
}

static double mbps_of(const struct loadgen_tally *t, double secs)
{
    return round_to(per_second(t->bytes_in, secs) / 1e6, 0.001);
}

double loadgen_report_littles_ratio(const struct loadgen_tallies *ts)
{
    struct loadgen_latency l;
    loadgen_latency_of(ts->all.total, &l);
    double rps = per_second(ts->all.responses, ts->measured_s);
    double in_flight = ts->in_flight_target ? (double)ts->in_flight_target : ts->in_flight_mean;
    if (!(rps > 0) || !(l.mean_ms > 0) || !(in_flight > 0))
        return NAN;
    return in_flight / (l.mean_ms / 1000.0) / rps;
}

int loadgen_report_littles_ok(double ratio)
{
    return isfinite(ratio) && fabs(ratio - 1.0) <= LOADGEN_LITTLE_TOLERANCE;
}

static void proxy_of(const struct loadgen_proxy_tally *pt, struct loadgen_summary_proxy *p)
{
    snprintf(p->name, sizeof(p->name), "%s", pt->name);
    p->requests = pt->t.requests;
    p->hits = pt->t.hits;
    p->misses = pt->t.misses;
    p->errors = loadgen_tally_errors(&pt->t);
    latency_of(pt->t.total, &p->latency_ms);
    latency_of(pt->t.ttfb, &p->ttfb_ms);
}

static void client_of(const struct loadgen_tallies *ts, size_t i, struct loadgen_summary_client *c)
{
    const struct loadgen_tally *t = &ts->clients[i];
    c->client = i + 1;
    snprintf(c->source, sizeof(c->source), "%s", ts->client_sources ? ts->client_sources[i] : "");
    c->requests = t->requests;
    c->ok = t->ok;
    errors_of(t, &c->errors);
    c->rps = rps_of(t, ts->measured_s);
    c->mbps = mbps_of(t, ts->measured_s);
    latency_of(t->total, &c->latency_ms);
    latency_of(t->ttfb, &c->ttfb_ms);
}

/* The run's figures as the shared summary, rounded as the JSON shows them. */
static void summary_of(const struct loadgen_config *cfg, const struct loadgen_tallies *ts,
                       struct loadgen_summary *s)
{
    const struct loadgen_tally *all = &ts->all;
    snprintf(s->label, sizeof(s->label), "%s", cfg->label);
    snprintf(s->url, sizeof(s->url), "%s", cfg->url);
    snprintf(s->proxy, sizeof(s->proxy), "%s", cfg->proxy);
    s->rate = cfg->rate > 0 ? cfg->rate : -1;
    s->clients = ts->nclients;
    s->concurrency = ts->concurrency ? ts->concurrency : (uint32_t)cfg->concurrency;
    s->concurrency_requested = (uint64_t)cfg->concurrency;
    s->keepalive = cfg->keepalive;
    s->requests = all->requests;
    s->ok = all->ok;
    s->responses = all->responses;
    errors_of(all, &s->errors);
    s->warmup_requests = ts->warmup_requests;
    s->unfinished = ts->unfinished;
    s->unsent = ts->unsent;
    s->connections = ts->connections;
    s->stale_retries = ts->stale_retries;
    s->duration_s = round_to(ts->measured_s, 0.0001);
    s->elapsed_s = round_to(ts->elapsed_s, 0.0001);
    s->rps = rps_of(all, ts->measured_s);
    s->mbps = mbps_of(all, ts->measured_s);
    s->bytes_in = all->bytes_in;
    s->body_bytes = all->body_bytes;
    latency_of(all->total, &s->latency_ms);
    latency_of(all->ttfb, &s->ttfb_ms);
    for (size_t i = 0; i < s->nproxies; i++)
        proxy_of(&ts->proxies[i], &s->proxies[i]);
    for (size_t i = 0; i < s->nclients; i++)
        client_of(ts, i, &s->per_client[i]);
    s->in_flight_target = ts->in_flight_target ? (double)ts->in_flight_target : -1;
    s->in_flight_mean = round_to(ts->in_flight_mean, 0.01);
    double ratio = loadgen_report_littles_ratio(ts);
    s->littles_ratio = isfinite(ratio) ? round_to(ratio, 0.0001) : -1;
    s->littles_ok = loadgen_report_littles_ok(ratio);
    s->loadgen_cpu_pct = round_to(ts->cpu_pct, 0.1);
    s->loop_lag_p99_ms = (double)ts->lag_p99_us / 1000.0;
    s->loop_lag_max_ms = (double)ts->lag_max_us / 1000.0;
    s->saturated = ts->saturated;
    s->interrupted = ts->interrupted;
}

char *loadgen_report_json(const struct loadgen_config *cfg, const struct loadgen_tallies *ts)
{
    struct loadgen_summary *s = loadgen_summary_new(ts->nproxies, ts->nclients);
    if (!s)
        return NULL;
    summary_of(cfg, ts, s);
    char *text = loadgen_summary_write(s);
    loadgen_summary_free(s);
    return text;
}

int loadgen_report_write_json(const char *path, const struct loadgen_config *cfg,
                              const struct loadgen_tallies *ts, char *err, size_t errlen)
{
    char *text = loadgen_report_json(cfg, ts);
    if (!text) {
        snprintf(err, errlen, "out of memory formatting the JSON summary");
        return -1;
    }
    FILE *f = fopen(path, "w");
    int rc = 0;
    if (!f || fputs(text, f) == EOF || fputc('\n', f) == EOF) {
        snprintf(err, errlen, "cannot write JSON %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (f && fclose(f) != 0 && rc == 0) {
        snprintf(err, errlen, "cannot write JSON %s: %s", path, strerror(errno));
        rc = -1;
    }
    cJSON_free(text);
    return rc;
}

static void print_latency(FILE *out, const char *what, const struct histogram *h)
{
    struct loadgen_latency l;
    loadgen_latency_of(h, &l);
    fprintf(out, "  %-11s mean %.2f  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", what, l.mean_ms,
            l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms);
}

static void print_errors(FILE *out, const struct loadgen_tally *t)
{
    fprintf(out, "errors %llu", (unsigned long long)loadgen_tally_errors(t));
    if (loadgen_tally_errors(t) == 0)
        return;
    const char *sep = ": ";
    for (int e = LOADGEN_ERR_NONE + 1; e < LOADGEN_ERR_COUNT; e++) {
        if (t->errors[e] == 0)
            continue;
        fprintf(out, "%s%s %llu", sep, loadgen_error_name((enum loadgen_error)e),
                (unsigned long long)t->errors[e]);
        sep = ", ";
    }
}

void loadgen_report_text(FILE *out, const struct loadgen_config *cfg,
                         const struct loadgen_tallies *ts)
{
    const struct loadgen_tally *all = &ts->all;
    fprintf(out, "loadgen%s%s: %s%s%s\n", cfg->label[0] ? " " : "", cfg->label, cfg->url,
            cfg->proxy[0] ? " via " : "", cfg->proxy);
    if (cfg->rate > 0)
        fprintf(out, "  open loop at %g req/s per client, %zu client%s x at most %u connections",
                cfg->rate, ts->nclients, ts->nclients == 1 ? "" : "s",
                ts->concurrency ? ts->concurrency : (uint32_t)cfg->concurrency);
    else
        fprintf(out, "  closed loop, %zu client%s x %u connections", ts->nclients,
                ts->nclients == 1 ? "" : "s",
                ts->concurrency ? ts->concurrency : (uint32_t)cfg->concurrency);
    fprintf(out, ", %s, %llu opened%s", cfg->keepalive ? "keep-alive" : "no keep-alive",
            (unsigned long long)ts->connections,
            ts->concurrency && ts->concurrency < cfg->concurrency
                ? " (fewer than -c: descriptor limit)"
                : "");
    if (ts->stale_retries)
        fprintf(out, ", %llu sent again (kept-alive connection closed under them)",
                (unsigned long long)ts->stale_retries);
    fputc('\n', out);
    fprintf(out, "  requests    %llu, ok %llu, ", (unsigned long long)all->requests,
            (unsigned long long)all->ok);
    print_errors(out, all);
    fputc('\n', out);
    fprintf(out, "  time        %.2f s measured", ts->measured_s);
    if (ts->warmup_requests)
        fprintf(out, " after a warm-up of %.2f s (%llu requests, not counted)",
                (double)cfg->warmup_ms / 1000.0, (unsigned long long)ts->warmup_requests);
    if (ts->unfinished)
        fprintf(out, "; %llu unfinished at the end", (unsigned long long)ts->unfinished);
    if (ts->unsent)
        fprintf(out, "; %llu never sent (late)", (unsigned long long)ts->unsent);
    fputc('\n', out);
    fprintf(out, "  throughput  %.1f req/s, %.2f MB/s\n",
            per_second(all->responses, ts->measured_s),
            per_second(all->bytes_in, ts->measured_s) / 1e6);
    print_latency(out, "latency ms", all->total);
    print_latency(out, "ttfb ms", all->ttfb);
    double ratio = loadgen_report_littles_ratio(ts);
    if (isfinite(ratio)) {
        struct loadgen_latency l;
        loadgen_latency_of(all->total, &l);
        double in_flight = ts->in_flight_target ? (double)ts->in_flight_target : ts->in_flight_mean;
        fprintf(
            out,
            "  in flight   %.1f on average (%s %.0f): %.0f / %.3f s = %.1f req/s, %.2fx the "
            "measured%s\n",
            ts->in_flight_mean, ts->in_flight_target ? "claimed" : "open loop", in_flight,
            in_flight, l.mean_ms / 1000.0, in_flight / (l.mean_ms / 1000.0), ratio,
            loadgen_report_littles_ok(ratio)
                ? ""
                : " (NOT one steady run: Little's law off by more than 10%; a ramp or a tail?)");
    }
    for (size_t i = 0; i < ts->nproxies; i++) {
        const struct loadgen_tally *t = &ts->proxies[i].t;
        struct loadgen_latency l;
        loadgen_latency_of(t->total, &l);
        fprintf(out,
                "  proxy %-12s %llu requests, %llu hits, %llu misses, p50 %.2f ms, p99 %.2f ms\n",
                ts->proxies[i].name, (unsigned long long)t->requests, (unsigned long long)t->hits,
                (unsigned long long)t->misses, l.p50_ms, l.p99_ms);
    }
    if (ts->nclients > 1) {
        for (size_t i = 0; i < ts->nclients && i < TEXT_MAX_CLIENT_LINES; i++) {
            const struct loadgen_tally *t = &ts->clients[i];
            struct loadgen_latency l;
            loadgen_latency_of(t->total, &l);
            fprintf(out, "  client %-4zu %-26s %llu requests, ", i + 1, ts->client_sources[i],
                    (unsigned long long)t->requests);
            print_errors(out, t);
            fprintf(out, ", p50 %.2f ms, p99 %.2f ms\n", l.p50_ms, l.p99_ms);
        }
        if (ts->nclients > TEXT_MAX_CLIENT_LINES)
            fprintf(out, "  ... %zu more clients in the JSON summary\n",
                    ts->nclients - TEXT_MAX_CLIENT_LINES);
    }
    fprintf(out, "  loadgen     CPU %.0f%% of one core, event-loop lag p99 %.2f ms, max %.2f ms\n",
            ts->cpu_pct, (double)ts->lag_p99_us / 1000.0, (double)ts->lag_max_us / 1000.0);
    if (ts->interrupted)
        fprintf(out, "  INTERRUPTED: stopped by a signal; the figures cover what finished\n");
    if (ts->saturated)
        fprintf(out,
                "  WARNING: loadgen was saturated (CPU >= %.0f%% of a core or loop lag p99 >= "
                "%d ms):\n           its latencies include its own queueing, not only the "
                "system's\n",
                LOADGEN_SATURATED_CPU_PCT, LOADGEN_SATURATED_LAG_US / 1000);
}
