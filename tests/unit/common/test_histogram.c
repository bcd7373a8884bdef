/* Unit tests for common/histogram.c: counting, percentiles within the
 * promised relative error from 1 µs to an hour, merging (also while the owner
 * records), reset, and cumulative counts for Prometheus buckets. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "../check_main.h"
#include "histogram.h"

#define HOUR_US (3600ULL * 1000 * 1000)

static struct histogram *h;

static void setup(void)
{
    h = histogram_new();
    ck_assert_ptr_nonnull(h);
}

static void teardown(void)
{
    histogram_free(h);
    h = NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The exact percentile by the histogram's definition: the smallest value
 * with at least p % of all values at or below it. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double p)
{
    size_t rank = (size_t)ceil(p * (double)n / 100.0 - 1e-6); /* p * n is near an integer */
    if (rank < 1)
        rank = 1;
    return sorted[rank - 1];
}

static double rel_error(uint64_t got, uint64_t want)
{
    return fabs((double)got - (double)want) / (double)want;
}

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

/* Log-uniform between 1 µs and an hour: every decade equally represented. */
static uint64_t random_latency_us(void)
{
    double u = (double)(rng() >> 11) / 9007199254740992.0;
    return (uint64_t)exp(u * log((double)HOUR_US));
}

START_TEST(test_histogram_starts_empty)
{
    ck_assert_uint_eq(histogram_count(h), 0);
    ck_assert_uint_eq(histogram_sum_us(h), 0);
    ck_assert_uint_eq(histogram_min_us(h), 0);
    ck_assert_uint_eq(histogram_max_us(h), 0);
    ck_assert_uint_eq(histogram_percentile_us(h, 50), 0);
    ck_assert(histogram_mean_us(h) == 0.0);
}
END_TEST

START_TEST(test_histogram_counts_and_sums_values)
{
    histogram_record(h, 100);
    histogram_record(h, 250);
    histogram_record(h, 1000000);
    ck_assert_uint_eq(histogram_count(h), 3);
    ck_assert_uint_eq(histogram_sum_us(h), 1000350);
    ck_assert_uint_eq(histogram_min_us(h), 100);
    ck_assert_uint_eq(histogram_max_us(h), 1000000);
    ck_assert(fabs(histogram_mean_us(h) - 1000350.0 / 3) < 1e-6);
}
END_TEST

START_TEST(test_histogram_small_values_are_exact)
{
    for (uint64_t v = 1; v <= 100; v++)
        histogram_record(h, v);
    ck_assert_uint_eq(histogram_percentile_us(h, 50), 50);
    ck_assert_uint_eq(histogram_percentile_us(h, 90), 90);
    ck_assert_uint_eq(histogram_percentile_us(h, 99), 99);
    ck_assert_uint_eq(histogram_percentile_us(h, 1), 1);
}
END_TEST

START_TEST(test_histogram_p99_within_relative_error)
{
    enum { N = 200000 };
    uint64_t *values = malloc(N * sizeof(*values));
    ck_assert_ptr_nonnull(values);
    for (size_t i = 0; i < N; i++) {
        values[i] = random_latency_us();
        histogram_record(h, values[i]);
    }
    qsort(values, N, sizeof(*values), cmp_u64);
    const double ps[] = {50, 90, 99, 99.9};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        uint64_t want = exact_percentile(values, N, ps[i]);
        uint64_t got = histogram_percentile_us(h, ps[i]);
        ck_assert_msg(rel_error(got, want) <= 0.01, "p%g: got %llu, want %llu", ps[i],
                      (unsigned long long)got, (unsigned long long)want);
    }
    free(values);
}
END_TEST

/* Known data, known answers: 1..100000 µs once each has p50 = 50000,
 * p90 = 90000, p99 = 99000 exactly; a bimodal set (90% at 2 ms, 10% at
 * 250 ms, loadgen's hits and transfers) has p50 = 2000 and p99 = 250000. */
START_TEST(test_histogram_known_data_exact_percentiles)
{
    for (uint64_t v = 1; v <= 100000; v++)
        histogram_record(h, v);
    ck_assert(rel_error(histogram_percentile_us(h, 50), 50000) <= 0.01);
    ck_assert(rel_error(histogram_percentile_us(h, 90), 90000) <= 0.01);
    ck_assert(rel_error(histogram_percentile_us(h, 99), 99000) <= 0.01);
    ck_assert_uint_eq(histogram_max_us(h), 100000);
    ck_assert(fabs(histogram_mean_us(h) - 50000.5) < 1e-9);
    histogram_reset(h);
    for (int i = 0; i < 1000; i++)
        histogram_record(h, i % 10 == 9 ? 250000 : 2000);
    ck_assert(rel_error(histogram_percentile_us(h, 50), 2000) <= 0.01);
    ck_assert(rel_error(histogram_percentile_us(h, 90), 2000) <= 0.01);
    ck_assert(rel_error(histogram_percentile_us(h, 91), 250000) <= 0.01);
    ck_assert(rel_error(histogram_percentile_us(h, 99), 250000) <= 0.01);
}
END_TEST

START_TEST(test_histogram_every_value_within_relative_error)
{
    /* One value between 0 and the top: p50 is that value's bucket, so this
     * walks the error bound across the whole range. */
    for (uint64_t v = 1; v <= HISTOGRAM_MAX_US; v += v / 97 + 1) {
        histogram_reset(h);
        histogram_record(h, 0);
        histogram_record(h, v);
        histogram_record(h, HISTOGRAM_MAX_US);
        uint64_t got = histogram_percentile_us(h, 50);
        ck_assert_msg(rel_error(got, v) <= 1.0 / 128, "value %llu read back as %llu",
                      (unsigned long long)v, (unsigned long long)got);
    }
}
END_TEST

START_TEST(test_histogram_percentile_rank_is_exact_at_boundaries)
{
    /* p99.9 of 1000 values is the 999th: here 10, not the 1000th (100). */
    for (int i = 0; i < 999; i++)
        histogram_record(h, 10);
    histogram_record(h, 100);
    ck_assert_uint_eq(histogram_percentile_us(h, 99.9), 10);
    ck_assert_uint_eq(histogram_percentile_us(h, 99.95), 100);
}
END_TEST

START_TEST(test_histogram_percentile_extremes_are_min_and_max)
{
    histogram_record(h, 12345);
    histogram_record(h, 777777);
    histogram_record(h, 3);
    ck_assert_uint_eq(histogram_percentile_us(h, 0), 3);
    ck_assert_uint_eq(histogram_percentile_us(h, 100), 777777);
    ck_assert_uint_eq(histogram_percentile_us(h, 150), 777777);
    ck_assert_uint_eq(histogram_percentile_us(h, -1), 3);
    ck_assert_uint_eq(histogram_percentile_us(h, NAN), 3);
}
END_TEST

START_TEST(test_histogram_single_value_reads_back_exactly)
{
    histogram_record(h, 123457);
    ck_assert_uint_eq(histogram_percentile_us(h, 50), 123457);
    ck_assert_uint_eq(histogram_percentile_us(h, 99), 123457);
}
END_TEST

START_TEST(test_histogram_records_an_hour)
{
    for (int i = 0; i < 99; i++)
        histogram_record(h, 1000);
    histogram_record(h, HOUR_US);
    ck_assert_uint_eq(histogram_max_us(h), HOUR_US);
    ck_assert(rel_error(histogram_percentile_us(h, 99), 1000) <= 0.01);
    ck_assert_uint_eq(histogram_percentile_us(h, 100), HOUR_US);
    ck_assert(rel_error(histogram_percentile_us(h, 99.5), HOUR_US) <= 0.01);
}
END_TEST

START_TEST(test_histogram_clamps_values_beyond_max)
{
    uint64_t huge = 1ULL << 45;
    histogram_record(h, 1);
    histogram_record(h, huge);
    ck_assert_uint_eq(histogram_count(h), 2);
    ck_assert_uint_eq(histogram_sum_us(h), huge + 1);
    ck_assert_uint_eq(histogram_max_us(h), huge);
    uint64_t p = histogram_percentile_us(h, 99);
    ck_assert_uint_ge(p, HISTOGRAM_MAX_US - HISTOGRAM_MAX_US / 64);
    ck_assert_uint_le(p, huge);
}
END_TEST

START_TEST(test_histogram_merge_adds_counts)
{
    struct histogram *a = histogram_new(), *b = histogram_new(), *all = histogram_new();
    for (int i = 0; i < 10000; i++) {
        uint64_t v = random_latency_us();
        histogram_record(i % 3 ? a : b, v);
        histogram_record(all, v);
    }
    histogram_merge(h, a);
    histogram_merge(h, b);
    ck_assert_uint_eq(histogram_count(h), histogram_count(all));
    ck_assert_uint_eq(histogram_sum_us(h), histogram_sum_us(all));
    ck_assert_uint_eq(histogram_min_us(h), histogram_min_us(all));
    ck_assert_uint_eq(histogram_max_us(h), histogram_max_us(all));
    ck_assert_uint_eq(histogram_percentile_us(h, 50), histogram_percentile_us(all, 50));
    ck_assert_uint_eq(histogram_percentile_us(h, 99), histogram_percentile_us(all, 99));
    histogram_free(a);
    histogram_free(b);
    histogram_free(all);
}
END_TEST

START_TEST(test_histogram_merge_of_empty_changes_nothing)
{
    struct histogram *empty = histogram_new();
    histogram_record(h, 500);
    histogram_merge(h, empty);
    ck_assert_uint_eq(histogram_count(h), 1);
    ck_assert_uint_eq(histogram_min_us(h), 500);
    histogram_merge(empty, h);
    ck_assert_uint_eq(histogram_min_us(empty), 500);
    ck_assert_uint_eq(histogram_max_us(empty), 500);
    histogram_free(empty);
}
END_TEST

struct writer_arg {
    struct histogram *h;
    int done;
};

static void *writer_main(void *p)
{
    struct writer_arg *w = p;
    for (uint64_t i = 0; i < 2000000; i++)
        histogram_record(w->h, 1 + i % 5000);
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

START_TEST(test_histogram_merge_while_recording_is_consistent)
{
    struct writer_arg w = {.h = histogram_new()};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, writer_main, &w), 0);
    uint64_t last = 0;
    const uint64_t top = HISTOGRAM_MAX_US;
    do {
        struct histogram *snap = histogram_new();
        histogram_merge(snap, w.h);
        uint64_t under_top;
        histogram_cumulative(snap, &top, 1, &under_top);
        ck_assert_uint_eq(under_top, histogram_count(snap)); /* count = sum of buckets */
        ck_assert_uint_ge(histogram_count(snap), last);      /* never goes back */
        last = histogram_count(snap);
        histogram_free(snap);
    } while (!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE));
    pthread_join(t, NULL);
    ck_assert_uint_eq(histogram_count(w.h), 2000000);
    histogram_free(w.h);
}
END_TEST

START_TEST(test_histogram_reset_empties)
{
    histogram_record(h, 42);
    histogram_record(h, 4200000);
    histogram_reset(h);
    ck_assert_uint_eq(histogram_count(h), 0);
    ck_assert_uint_eq(histogram_sum_us(h), 0);
    ck_assert_uint_eq(histogram_min_us(h), 0);
    ck_assert_uint_eq(histogram_max_us(h), 0);
    histogram_record(h, 7);
    ck_assert_uint_eq(histogram_min_us(h), 7);
    ck_assert_uint_eq(histogram_percentile_us(h, 50), 7);
}
END_TEST

START_TEST(test_histogram_cumulative_counts_at_bounds)
{
    const uint64_t values[] = {100, 900, 4000, 9000, 20000, 2000000};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        histogram_record(h, values[i]);
    const uint64_t bounds[] = {1000, 5000, 10000, 1000000, 10000000};
    uint64_t counts[5];
    histogram_cumulative(h, bounds, 5, counts);
    ck_assert_uint_eq(counts[0], 2);
    ck_assert_uint_eq(counts[1], 3);
    ck_assert_uint_eq(counts[2], 4);
    ck_assert_uint_eq(counts[3], 5);
    ck_assert_uint_eq(counts[4], 6);
}
END_TEST

START_TEST(test_histogram_cumulative_counts_value_equal_to_bound)
{
    histogram_record(h, 5000);
    histogram_record(h, 250000);
    const uint64_t bounds[] = {4900, 5000, 250000}; /* 4900: the bucket below */
    uint64_t counts[3];
    histogram_cumulative(h, bounds, 3, counts);
    ck_assert_uint_eq(counts[0], 0);
    ck_assert_uint_eq(counts[1], 1);
    ck_assert_uint_eq(counts[2], 2);
}
END_TEST

START_TEST(test_histogram_cumulative_is_exact_below_128_us)
{
    for (uint64_t v = 0; v < 128; v++)
        histogram_record(h, v);
    for (uint64_t b = 0; b < 128; b++) {
        uint64_t c;
        histogram_cumulative(h, &b, 1, &c);
        ck_assert_uint_eq(c, b + 1);
    }
}
END_TEST

START_TEST(test_histogram_free_accepts_null)
{
    histogram_free(NULL);
}
END_TEST

static Suite *histogram_suite(void)
{
    Suite *s = suite_create("histogram");
    TCase *tc = tcase_create("record");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_histogram_starts_empty);
    tcase_add_test(tc, test_histogram_counts_and_sums_values);
    tcase_add_test(tc, test_histogram_small_values_are_exact);
    tcase_add_test(tc, test_histogram_p99_within_relative_error);
    tcase_add_test(tc, test_histogram_known_data_exact_percentiles);
    tcase_add_test(tc, test_histogram_every_value_within_relative_error);
    tcase_add_test(tc, test_histogram_percentile_rank_is_exact_at_boundaries);
    tcase_add_test(tc, test_histogram_percentile_extremes_are_min_and_max);
    tcase_add_test(tc, test_histogram_single_value_reads_back_exactly);
    tcase_add_test(tc, test_histogram_records_an_hour);
    tcase_add_test(tc, test_histogram_clamps_values_beyond_max);
    tcase_add_test(tc, test_histogram_reset_empties);
    tcase_add_test(tc, test_histogram_free_accepts_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("merge");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30); /* the concurrent test, under sanitizers */
    tcase_add_test(tc, test_histogram_merge_adds_counts);
    tcase_add_test(tc, test_histogram_merge_of_empty_changes_nothing);
    tcase_add_test(tc, test_histogram_merge_while_recording_is_consistent);
    suite_add_tcase(s, tc);

    tc = tcase_create("cumulative");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_histogram_cumulative_counts_at_bounds);
    tcase_add_test(tc, test_histogram_cumulative_counts_value_equal_to_bound);
    tcase_add_test(tc, test_histogram_cumulative_is_exact_below_128_us);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(histogram_suite)
