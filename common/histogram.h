/* Latency histograms shared by proxyd, the balancer and loadgen: log-linear
 * buckets over microseconds (HdrHistogram's layout, 64 sub-buckets per power
 * of two), 0 µs to ~19 hours with percentiles within 0.8%, in a fixed 16 KiB
 * and with no allocation or lock when recording. One writer per histogram (a
 * worker thread keeps its own); an admin thread may merge it at any time. */
#ifndef PP_HISTOGRAM_H
#define PP_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

/* Largest value told apart: 2^36 - 1 µs, about 19 hours, past any timeout.
 * Larger values count in the top bucket (their exact value still goes into
 * the sum and the maximum). */
#define HISTOGRAM_MAX_US ((UINT64_C(1) << 36) - 1)

struct histogram;

struct histogram *histogram_new(void); /* empty; NULL when out of memory */
void histogram_free(struct histogram *h);

/* Writer side: only the owning thread calls these. */
void histogram_record(struct histogram *h, uint64_t value_us);
void histogram_reset(struct histogram *h);

/* dst += src. src may be recorded into by its owner meanwhile (relaxed
 * atomic reads): the result is a near-snapshot whose count always equals the
 * sum of its buckets. dst must not be recorded into concurrently. */
void histogram_merge(struct histogram *dst, const struct histogram *src);

uint64_t histogram_count(const struct histogram *h);
uint64_t histogram_sum_us(const struct histogram *h);
uint64_t histogram_min_us(const struct histogram *h); /* 0 when empty */
uint64_t histogram_max_us(const struct histogram *h); /* 0 when empty */
double histogram_mean_us(const struct histogram *h);  /* 0 when empty */
/* The value below which percentile % of recorded values fall (0..100;
 * p50, p90, p99 = 50, 90, 99), as the middle of its bucket, clamped to the
 * recorded min and max: 0 gives the minimum, 100 the maximum. 0 when empty. */
uint64_t histogram_percentile_us(const struct histogram *h, double percentile);

/* For a Prometheus histogram: counts[i] = how many values are <= bounds_us[i]
 * (cumulative, as `le` buckets). A value counts under a bound when its bucket
 * starts at or below the bound, so a value equal to a bound always counts,
 * and one up to 1.6% above it may (the bucket width). Bounds in any order. */
void histogram_cumulative(const struct histogram *h, const uint64_t *bounds_us, size_t nbounds,
                          uint64_t *counts);

#endif
