/* Log-linear latency histogram: values below 128 µs each have their own
 * bucket; above, every power of two [2^m, 2^(m+1)) is split into 64 equal
 * buckets, so a bucket is never wider than 1/64 of its lowest value. Counters
 * are written by one thread with relaxed atomic stores and read by others
 * with relaxed atomic loads: no lock, no torn values. */
#include "histogram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 2^SUB_BITS buckets per power of two: relative width <= 2^-SUB_BITS = 1.6%,
 * reported error (bucket middle) <= 0.8%. */
#define SUB_BITS 6
#define SUB_COUNT (1u << SUB_BITS)  /* 64 */
#define LINEAR_MAX (2u * SUB_COUNT) /* values below 128 are exact */
#define MAX_MSB 35                  /* HISTOGRAM_MAX_US = 2^(MAX_MSB+1) - 1 */
#define NBUCKETS ((MAX_MSB - SUB_BITS + 1) * SUB_COUNT + SUB_COUNT) /* 1984 */

struct histogram {
    uint64_t count;
    uint64_t sum_us;
    uint64_t min_us; /* UINT64_MAX when empty */
    uint64_t max_us;
    uint64_t buckets[NBUCKETS];
};

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

static size_t bucket_index(uint64_t v)
{
    if (v > HISTOGRAM_MAX_US)
        v = HISTOGRAM_MAX_US;
    if (v < LINEAR_MAX)
        return (size_t)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - SUB_BITS;
    return (size_t)shift * SUB_COUNT + (size_t)(v >> shift);
}

static uint64_t bucket_low(size_t i)
{
    if (i < LINEAR_MAX)
        return i;
    unsigned shift = (unsigned)(i / SUB_COUNT) - 1;
    return (uint64_t)(i % SUB_COUNT + SUB_COUNT) << shift;
}

static uint64_t bucket_width(size_t i)
{
    if (i < LINEAR_MAX)
        return 1;
    return UINT64_C(1) << ((unsigned)(i / SUB_COUNT) - 1);
}

struct histogram *histogram_new(void)
{
    struct histogram *h = malloc(sizeof(*h));
    if (h == NULL)
        return NULL;
    histogram_reset(h);
    return h;
}

void histogram_free(struct histogram *h)
{
    free(h);
}

void histogram_reset(struct histogram *h)
{
    for (size_t i = 0; i < NBUCKETS; i++)
        STORE(&h->buckets[i], 0);
    STORE(&h->count, 0);
    STORE(&h->sum_us, 0);
    STORE(&h->min_us, UINT64_MAX);
    STORE(&h->max_us, 0);
}

/* The single writer reads its own counters plainly; only stores must be
 * atomic for concurrent readers. */
void histogram_record(struct histogram *h, uint64_t value_us)
{
    size_t i = bucket_index(value_us);
    STORE(&h->buckets[i], h->buckets[i] + 1);
    STORE(&h->count, h->count + 1);
    STORE(&h->sum_us, h->sum_us + value_us);
    if (value_us < h->min_us)
        STORE(&h->min_us, value_us);
    if (value_us > h->max_us)
        STORE(&h->max_us, value_us);
}

void histogram_merge(struct histogram *dst, const struct histogram *src)
{
    uint64_t added = 0;
    for (size_t i = 0; i < NBUCKETS; i++) {
        uint64_t n = LOAD(&src->buckets[i]);
        added += n;
        STORE(&dst->buckets[i], dst->buckets[i] + n);
    }
    if (added == 0)
        return;
    STORE(&dst->count, dst->count + added);
    STORE(&dst->sum_us, dst->sum_us + LOAD(&src->sum_us));
    uint64_t mn = LOAD(&src->min_us), mx = LOAD(&src->max_us);
    if (mn < dst->min_us)
        STORE(&dst->min_us, mn);
    if (mx > dst->max_us)
        STORE(&dst->max_us, mx);
}

uint64_t histogram_count(const struct histogram *h)
{
    return LOAD(&h->count);
}

uint64_t histogram_sum_us(const struct histogram *h)
{
    return LOAD(&h->sum_us);
}

uint64_t histogram_min_us(const struct histogram *h)
{
    uint64_t mn = LOAD(&h->min_us);
    return mn == UINT64_MAX ? 0 : mn;
}

uint64_t histogram_max_us(const struct histogram *h)
{
    return LOAD(&h->max_us);
}

double histogram_mean_us(const struct histogram *h)
{
    uint64_t n = histogram_count(h);
    return n == 0 ? 0.0 : (double)histogram_sum_us(h) / (double)n;
}

uint64_t histogram_percentile_us(const struct histogram *h, double percentile)
{
    uint64_t n = histogram_count(h);
    if (n == 0)
        return 0;
    uint64_t mn = histogram_min_us(h), mx = histogram_max_us(h);
    if (!(percentile > 0.0)) /* also NaN */
        return mn;
    if (percentile >= 100.0)
        return mx;

    /* The rank of the value wanted, 1-based: the smallest value with at least
     * percentile % of all values at or below it. 99.9 is not exact in binary:
     * 99.9 / 100 * 1000 is 999.0000000000001, so a relative nudge down keeps
     * ceil from skipping to the next rank. */
    double exact = percentile / 100.0 * (double)n;
    uint64_t rank = (uint64_t)ceil(exact - exact * 1e-12);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < NBUCKETS; i++) {
        seen += LOAD(&h->buckets[i]);
        if (seen >= rank) {
            uint64_t v = bucket_low(i) + (bucket_width(i) - 1) / 2;
            return v < mn ? mn : v > mx ? mx : v;
        }
    }
    return mx; /* a writer raced count ahead of its buckets */
}

void histogram_cumulative(const struct histogram *h, const uint64_t *bounds_us, size_t nbounds,
                          uint64_t *counts)
{
    for (size_t b = 0; b < nbounds; b++) {
        size_t last = bucket_index(bounds_us[b]);
        uint64_t sum = 0;
        for (size_t i = 0; i <= last; i++)
            sum += LOAD(&h->buckets[i]);
        counts[b] = sum;
    }
}
