/* The JSON summary (cJSON) and the human one. Rates are over the measured
 * time: from the end of the warm-up to the last finished request. */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "config.h"
#include "histogram.h"
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

static cJSON *latency_json(const struct histogram *h)
{
    struct loadgen_latency l;
    loadgen_latency_of(h, &l);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "mean", round_to(l.mean_ms, 0.001));
    cJSON_AddNumberToObject(o, "p50", l.p50_ms);
    cJSON_AddNumberToObject(o, "p90", l.p90_ms);
    cJSON_AddNumberToObject(o, "p99", l.p99_ms);
    cJSON_AddNumberToObject(o, "max", l.max_ms);
    return o;
}

static cJSON *errors_json(const struct loadgen_tally *t)
{
    cJSON *o = cJSON_CreateObject();
    for (int e = LOADGEN_ERR_NONE + 1; e < LOADGEN_ERR_COUNT; e++)
        cJSON_AddNumberToObject(o, loadgen_error_name((enum loadgen_error)e), (double)t->errors[e]);
    cJSON_AddNumberToObject(o, "total", (double)loadgen_tally_errors(t));
    return o;
}

static void add_rates(cJSON *o, const struct loadgen_tally *t, double secs)
{
    cJSON_AddNumberToObject(o, "rps", round_to(per_second(t->responses, secs), 0.01));
    cJSON_AddNumberToObject(o, "mbps", round_to(per_second(t->bytes_in, secs) / 1e6, 0.001));
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

char *loadgen_report_json(const struct loadgen_config *cfg, const struct loadgen_tallies *ts)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    const struct loadgen_tally *all = &ts->all;
    cJSON_AddStringToObject(root, "label", cfg->label);
    cJSON_AddStringToObject(root, "url", cfg->url);
    if (cfg->proxy[0])
        cJSON_AddStringToObject(root, "proxy", cfg->proxy);
    else
        cJSON_AddNullToObject(root, "proxy");
    cJSON_AddStringToObject(root, "mode", cfg->rate > 0 ? "open" : "closed");
    if (cfg->rate > 0)
        cJSON_AddNumberToObject(root, "rate", cfg->rate);
    else
        cJSON_AddNullToObject(root, "rate");
    cJSON_AddNumberToObject(root, "clients", (double)ts->nclients);
    cJSON_AddNumberToObject(
        root, "concurrency",
        (double)(ts->concurrency ? ts->concurrency : (uint32_t)cfg->concurrency));
    cJSON_AddNumberToObject(root, "concurrency_requested", (double)cfg->concurrency);
    cJSON_AddBoolToObject(root, "keepalive", cfg->keepalive);
    cJSON_AddNumberToObject(root, "requests", (double)all->requests);
    cJSON_AddNumberToObject(root, "ok", (double)all->ok);
    cJSON_AddNumberToObject(root, "responses", (double)all->responses);
    cJSON_AddItemToObject(root, "errors", errors_json(all));
    cJSON_AddNumberToObject(root, "warmup_requests", (double)ts->warmup_requests);
    cJSON_AddNumberToObject(root, "unfinished", (double)ts->unfinished);
    cJSON_AddNumberToObject(root, "unsent", (double)ts->unsent);
    cJSON_AddNumberToObject(root, "connections", (double)ts->connections);
    cJSON_AddNumberToObject(root, "duration_s", round_to(ts->measured_s, 0.0001));
    cJSON_AddNumberToObject(root, "elapsed_s", round_to(ts->elapsed_s, 0.0001));
    add_rates(root, all, ts->measured_s);
    cJSON_AddNumberToObject(root, "bytes_in", (double)all->bytes_in);
    cJSON_AddNumberToObject(root, "body_bytes", (double)all->body_bytes);
    cJSON_AddItemToObject(root, "latency_ms", latency_json(all->total));
    cJSON_AddItemToObject(root, "ttfb_ms", latency_json(all->ttfb));

    cJSON *proxies = cJSON_AddObjectToObject(root, "per_proxy");
    for (size_t i = 0; i < ts->nproxies; i++) {
        const struct loadgen_tally *t = &ts->proxies[i].t;
        cJSON *p = cJSON_AddObjectToObject(proxies, ts->proxies[i].name);
        cJSON_AddNumberToObject(p, "requests", (double)t->requests);
        cJSON_AddNumberToObject(p, "hits", (double)t->hits);
        cJSON_AddNumberToObject(p, "misses", (double)t->misses);
        cJSON_AddNumberToObject(p, "errors", (double)loadgen_tally_errors(t));
        cJSON_AddItemToObject(p, "latency_ms", latency_json(t->total));
        cJSON_AddItemToObject(p, "ttfb_ms", latency_json(t->ttfb));
    }
    cJSON *clients = cJSON_AddArrayToObject(root, "per_client");
    for (size_t i = 0; i < ts->nclients; i++) {
        const struct loadgen_tally *t = &ts->clients[i];
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "client", (double)(i + 1));
        cJSON_AddStringToObject(c, "source", ts->client_sources ? ts->client_sources[i] : "");
        cJSON_AddNumberToObject(c, "requests", (double)t->requests);
        cJSON_AddNumberToObject(c, "ok", (double)t->ok);
        cJSON_AddItemToObject(c, "errors", errors_json(t));
        add_rates(c, t, ts->measured_s);
        cJSON_AddItemToObject(c, "latency_ms", latency_json(t->total));
        cJSON_AddItemToObject(c, "ttfb_ms", latency_json(t->ttfb));
        cJSON_AddItemToArray(clients, c);
    }
    cJSON *inf = cJSON_AddObjectToObject(root, "in_flight");
    if (ts->in_flight_target)
        cJSON_AddNumberToObject(inf, "target", (double)ts->in_flight_target);
    else
        cJSON_AddNullToObject(inf, "target");
    cJSON_AddNumberToObject(inf, "mean", round_to(ts->in_flight_mean, 0.01));
    cJSON *little = cJSON_AddObjectToObject(root, "littles_law");
    double ratio = loadgen_report_littles_ratio(ts);
    if (isfinite(ratio))
        cJSON_AddNumberToObject(little, "ratio", round_to(ratio, 0.0001));
    else
        cJSON_AddNullToObject(little, "ratio");
    cJSON_AddBoolToObject(little, "ok", loadgen_report_littles_ok(ratio));
    cJSON_AddNumberToObject(root, "loadgen_cpu_pct", round_to(ts->cpu_pct, 0.1));
    cJSON *lag = cJSON_AddObjectToObject(root, "loop_lag_ms");
    cJSON_AddNumberToObject(lag, "p99", (double)ts->lag_p99_us / 1000.0);
    cJSON_AddNumberToObject(lag, "max", (double)ts->lag_max_us / 1000.0);
    cJSON_AddBoolToObject(root, "saturated", ts->saturated);
    cJSON_AddBoolToObject(root, "interrupted", ts->interrupted);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
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
    fprintf(out, ", %s, %llu opened%s\n", cfg->keepalive ? "keep-alive" : "no keep-alive",
            (unsigned long long)ts->connections,
            ts->concurrency && ts->concurrency < cfg->concurrency
                ? " (fewer than -c: descriptor limit)"
                : "");
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
