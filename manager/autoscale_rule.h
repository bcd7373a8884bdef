/* The autoscaler's arithmetic, without clocks or sockets: its settings and
 * how they are parsed (--autoscale, --autoscale-target, PUT /v1/autoscale),
 * the decision rule (a window of measures in, a replica count out) and the
 * p99 of Prometheus histogram buckets. autoscale.c feeds it from the loop;
 * the unit tests feed it directly. */
#ifndef PP_AUTOSCALE_RULE_H
#define PP_AUTOSCALE_RULE_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;

enum autoscale_metric {
    AUTOSCALE_METRIC_NONE = 0, /* no target set yet */
    AUTOSCALE_METRIC_P99,      /* seconds: the 99th percentile of time to first byte */
    AUTOSCALE_METRIC_CPU,      /* ratio: CPU used over the instances' CPU limit */
};

/* Samples one down window may hold: the ring is sized by it. */
#define AUTOSCALE_MAX_SAMPLES 4096

struct autoscale_settings {
    int enabled;
    int min, max; /* replicas, 1 <= min <= max <= POOL_MAX_INSTANCES */
    enum autoscale_metric metric;
    double target;           /* seconds (p99) or a ratio (cpu) */
    uint64_t up_window_ms;   /* the measure is taken over this much of the past */
    uint64_t down_window_ms; /* a scale-down needs this long of wanting fewer */
    double tolerance;        /* no change while measure/target is within 1 +- this */
    int max_step;            /* replicas added or removed by one decision */
    uint64_t cooldown_ms;    /* no decision this long after a change ended */
    uint64_t sample_ms;      /* how often the measure is sampled */
};

/* Defaults: off, 1..8, windows 2 s up and 60 s down, tolerance 10%, steps of
 * at most 4, a 3 s cooldown, a sample every 500 ms. */
void autoscale_settings_default(struct autoscale_settings *s);
/* "1..8" into min and max; 0, or -1 with why. */
int autoscale_parse_range(const char *text, int *min, int *max, char *why, size_t whylen);
/* "p99=200ms" (also "p99=0.2s", "p99=0.2") or "cpu=70%" ("cpu=0.7"); 0, or
 * -1 with why. */
int autoscale_parse_target(const char *text, enum autoscale_metric *metric, double *value,
                           char *why, size_t whylen);
/* Whether the settings hang together; 0, or -1 with why naming the field. */
int autoscale_settings_check(const struct autoscale_settings *s, char *why, size_t whylen);
/* A PUT /v1/autoscale body applied over *s (only the fields it names
 * change); 0, or -1 with why naming the field, *s untouched then. */
int autoscale_settings_from_json(const struct cJSON *body, struct autoscale_settings *s, char *why,
                                 size_t whylen);

const char *autoscale_metric_name(enum autoscale_metric m); /* "p99", "cpu", "none" */
const char *autoscale_metric_unit(enum autoscale_metric m); /* "s", "ratio" */

/* What one sample suggests: ceil(current * measure / target) clamped to
 * min..max, or current while measure/target is within the tolerance band.
 * has_measure 0 (no request in the window) suggests min: an idle pool
 * shrinks to min once the whole down window was idle, and never grows. */
int autoscale_recommend(const struct autoscale_settings *s, int current, int has_measure,
                        double measure);

/* One decision's inputs: the pool now, the measure over the up window, the
 * recommendations of every sample in the down window (oldest first), and
 * what the overload memory knows. */
struct autoscale_input {
    int current;
    int has_measure;
    double measure;
    const int *recent; /* recommendations over the down window */
    size_t nrecent;
    int window_full;         /* recent covers the whole down window */
    int64_t since_change_ms; /* since the last change ended; -1 when none yet */
    double rate;             /* requests per second over the up window (p99 only) */
    double overload_rate;    /* per replica, last seen over target; 0 when unknown */
    double window_peak_rate; /* the highest rate the down window's samples saw */
};

/* desired (== current: hold) and the sentence saying why. Up at once (the
 * up window's measure), down only to the largest recommendation of the
 * whole down window and, for latency, not while the rate is above what the
 * window saw (its recommendations were made under less load) nor below the
 * replica count at which the current rate overloaded them last time; at
 * most max_step either way; nothing during the cooldown. */
int autoscale_decide(const struct autoscale_settings *s, const struct autoscale_input *in,
                     char *reason, size_t reasonlen);

/* The q-quantile (0..1) of a histogram given as cumulative counts per
 * upper bound (bounds ascending, seconds; the last count is +Inf's, i.e.
 * the total), by linear interpolation inside the bucket as Prometheus'
 * histogram_quantile does; a rank in the +Inf bucket gives the highest
 * finite bound. -1 when the total is 0. */
double autoscale_quantile(const double *bounds, const uint64_t *cumulative, size_t nbounds,
                          double q);

/* The buckets of one histogram family in a Prometheus text exposition,
 * one series per label set (le aside). */
#define AUTOSCALE_MAX_BUCKETS 32
#define AUTOSCALE_MAX_SERIES 64
struct autoscale_series {
    char labels[160];                               /* the label set without le, as written */
    uint64_t cumulative[AUTOSCALE_MAX_BUCKETS + 1]; /* the last is +Inf */
};
struct autoscale_histograms {
    double bounds[AUTOSCALE_MAX_BUCKETS]; /* finite le values, ascending */
    size_t nbounds;
    struct autoscale_series series[AUTOSCALE_MAX_SERIES];
    size_t nseries;
};
/* Reads family's _bucket lines from text into h; 0, or -1 with why (a
 * malformed line, bounds that differ between series, too many). */
int autoscale_parse_histograms(const char *text, const char *family, struct autoscale_histograms *h,
                               char *why, size_t whylen);
/* What happened between prev and now, summed over the series in now
 * (a series new since prev counts whole; one whose counts fell was reset
 * and counts from zero): cumulative counts per bound into delta
 * (nbounds + 1). -1 when the two have different bounds. */
int autoscale_histograms_delta(const struct autoscale_histograms *prev,
                               const struct autoscale_histograms *now, uint64_t *delta);

#endif
