/* What a finished run tells its reader: the JSON summary an experiment
 * driver reads (--json) and the short human summary on stdout. Both come
 * from the tallies only, never from the CSV. */
#ifndef PP_LOADGEN_REPORT_H
#define PP_LOADGEN_REPORT_H

#include <stddef.h>
#include <stdio.h>

struct loadgen_config;
struct loadgen_tallies;

/* The JSON text (caller frees), or NULL when out of memory. Shape:
 * {"label", "url", "proxy", "mode", "rate", "clients", "concurrency",
 *  "keepalive", "requests", "ok", "responses", "errors": {"connect", ...,
 *  "total"}, "warmup_requests", "unfinished", "unsent", "connections",
 *  "stale_retries",
 *  "duration_s", "elapsed_s", "rps", "mbps", "bytes_in", "body_bytes",
 *  "latency_ms": {"mean", "p50", "p90", "p99", "max"}, "ttfb_ms": {...},
 *  "per_proxy": {"NAME": {"requests", "hits", "misses", "errors",
 *  "latency_ms", "ttfb_ms"}}, "per_client": [{"client", "source",
 *  "requests", "ok", "errors", "rps", "mbps", "latency_ms", "ttfb_ms"}],
 *  "in_flight": {"target", "mean"}, "littles_law": {"ratio", "ok"},
 *  "loadgen_cpu_pct", "loop_lag_ms": {"p99", "max"}, "saturated",
 *  "interrupted"} */
char *loadgen_report_json(const struct loadgen_config *cfg, const struct loadgen_tallies *ts);
/* Little's law, L = throughput x mean time, as a check that the figures
 * describe one steady run: (in flight / mean latency) / rps, in flight being
 * the closed loop's connections (what the run claims) or, in open loop, the
 * measured time-average. NAN when there is nothing to compare. A ramp, a
 * tail, or time a request spends outside its timed span moves it off 1. */
#define LOADGEN_LITTLE_TOLERANCE 0.10
double loadgen_report_littles_ratio(const struct loadgen_tallies *ts);
int loadgen_report_littles_ok(double ratio);

/* Writes the JSON to path; 0 or -1 with err filled. */
int loadgen_report_write_json(const char *path, const struct loadgen_config *cfg,
                              const struct loadgen_tallies *ts, char *err, size_t errlen);
/* The human summary: a dozen lines, the saturation warning last. */
void loadgen_report_text(FILE *out, const struct loadgen_config *cfg,
                         const struct loadgen_tallies *ts);

#endif
