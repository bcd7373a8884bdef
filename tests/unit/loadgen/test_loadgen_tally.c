/* Unit tests for loadgen/tally.c: counts per client and per proxy, warm-up
 * left out, error classes, and summary percentiles against the exact
 * percentiles of known data (within the histogram's stated 1%). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check_main.h"
#include "histogram.h"
#include "../../../loadgen/tally.h"

static struct loadgen_result ok_result(uint32_t client, uint64_t total_us, const char *proxy,
                                       const char *cache)
{
    struct loadgen_result r = {
        .client = client,
        .status = 200,
        .total_us = total_us,
        .ttfb_us = total_us / 2,
        .bytes_in = 1000,
        .body_bytes = 900,
        .proxy = proxy,
        .cache = cache,
        .complete = 1,
    };
    return r;
}

START_TEST(test_loadgen_tally_counts_per_client_and_proxy)
{
    struct loadgen_tallies *ts = loadgen_tallies_new(3);
    ck_assert_ptr_nonnull(ts);
    for (int i = 0; i < 10; i++) {
        struct loadgen_result r =
            ok_result(1 + i % 3, 1000, i < 6 ? "p1" : "p2", i == 0 || i == 6 ? "MISS" : "HIT");
        loadgen_tallies_add(ts, &r);
    }
    ck_assert_uint_eq(ts->all.requests, 10);
    ck_assert_uint_eq(ts->all.ok, 10);
    ck_assert_uint_eq(ts->all.hits, 8);
    ck_assert_uint_eq(ts->all.misses, 2);
    ck_assert_uint_eq(ts->all.bytes_in, 10000);
    ck_assert_uint_eq(ts->all.body_bytes, 9000);
    ck_assert_uint_eq(ts->clients[0].requests, 4);
    ck_assert_uint_eq(ts->clients[1].requests, 3);
    ck_assert_uint_eq(ts->clients[2].requests, 3);
    ck_assert_uint_eq(ts->nproxies, 2);
    ck_assert_str_eq(ts->proxies[0].name, "p1");
    ck_assert_uint_eq(ts->proxies[0].t.requests, 6);
    ck_assert_uint_eq(ts->proxies[0].t.hits, 5);
    ck_assert_uint_eq(ts->proxies[1].t.requests, 4);
    ck_assert_uint_eq(ts->proxies[1].t.misses, 1);
    loadgen_tallies_free(ts);
}
END_TEST

START_TEST(test_loadgen_tally_leaves_warmup_out)
{
    struct loadgen_tallies *ts = loadgen_tallies_new(1);
    struct loadgen_result r = ok_result(1, 5000000, "p1", "MISS");
    r.warmup = 1;
    loadgen_tallies_add(ts, &r);
    r = ok_result(1, 1000, "p1", "HIT");
    loadgen_tallies_add(ts, &r);
    ck_assert_uint_eq(ts->warmup_requests, 1);
    ck_assert_uint_eq(ts->all.requests, 1);
    ck_assert_uint_eq(ts->all.misses, 0);
    ck_assert_uint_eq(histogram_max_us(ts->all.total), 1000);
    ck_assert_uint_eq(ts->proxies[0].t.requests, 1);
    loadgen_tallies_free(ts);
}
END_TEST

START_TEST(test_loadgen_tally_errors_counted_never_timed)
{
    struct loadgen_tallies *ts = loadgen_tallies_new(1);
    struct loadgen_result r = {.client = 1, .error = LOADGEN_ERR_CONNECT, .total_us = 50};
    loadgen_tallies_add(ts, &r);
    r.error = LOADGEN_ERR_SHORT_BODY;
    r.status = 200;
    loadgen_tallies_add(ts, &r);
    /* A whole 503 is a response (timed) and a status error. */
    r = ok_result(1, 2000, "", "");
    r.status = 503;
    r.error = LOADGEN_ERR_STATUS;
    loadgen_tallies_add(ts, &r);
    ck_assert_uint_eq(ts->all.requests, 3);
    ck_assert_uint_eq(ts->all.ok, 0);
    ck_assert_uint_eq(ts->all.responses, 1);
    ck_assert_uint_eq(loadgen_tally_errors(&ts->all), 3);
    ck_assert_uint_eq(ts->all.errors[LOADGEN_ERR_CONNECT], 1);
    ck_assert_uint_eq(ts->all.errors[LOADGEN_ERR_SHORT_BODY], 1);
    ck_assert_uint_eq(ts->all.errors[LOADGEN_ERR_STATUS], 1);
    ck_assert_uint_eq(histogram_count(ts->all.total), 1);
    ck_assert_uint_eq(ts->nproxies, 0); /* no X-Cache: no proxy */
    loadgen_tallies_free(ts);
}
END_TEST

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double p)
{
    size_t rank = (size_t)ceil(p * (double)n / 100.0 - 1e-9);
    return sorted[rank < 1 ? 0 : rank - 1];
}

/* A known, skewed latency set: 1 MiB transfers around 250 ms, a tail of
 * stalls, and a few fast hits. */
START_TEST(test_loadgen_tally_percentiles_match_exact_ones)
{
    enum { N = 10007 };
    uint64_t *v = malloc(N * sizeof(*v));
    struct loadgen_tallies *ts = loadgen_tallies_new(1);
    uint64_t sum = 0;
    for (size_t i = 0; i < N; i++) {
        if (i % 100 == 0)
            v[i] = 1000000 + i * 37; /* 1 % stalls over a second */
        else if (i % 10 == 0)
            v[i] = 150 + i % 50; /* hits */
        else
            v[i] = 250000 + (i * 7919) % 20000; /* transfers */
        sum += v[i];
        struct loadgen_result r = ok_result(1, v[i], "p", "HIT");
        loadgen_tallies_add(ts, &r);
    }
    qsort(v, N, sizeof(*v), cmp_u64);
    struct loadgen_latency l;
    loadgen_latency_of(ts->all.total, &l);
    const struct {
        double p, got_ms;
    } checks[] = {{50, l.p50_ms}, {90, l.p90_ms}, {99, l.p99_ms}};
    for (size_t i = 0; i < 3; i++) {
        double want = (double)exact_percentile(v, N, checks[i].p) / 1000.0;
        ck_assert_msg(fabs(checks[i].got_ms - want) <= 0.01 * want, "p%g: %f ms, exact %f ms",
                      checks[i].p, checks[i].got_ms, want);
    }
    ck_assert(fabs(l.mean_ms - (double)sum / N / 1000.0) < 1e-6); /* the mean is exact */
    ck_assert(fabs(l.max_ms - (double)v[N - 1] / 1000.0) < 1e-9); /* so is the max */
    free(v);
    loadgen_tallies_free(ts);
}
END_TEST

START_TEST(test_loadgen_tally_many_proxies_overflow_into_other)
{
    struct loadgen_tallies *ts = loadgen_tallies_new(1);
    char name[32];
    for (int i = 0; i < LOADGEN_MAX_PROXIES + 20; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        struct loadgen_result r = ok_result(1, 100, name, "HIT");
        loadgen_tallies_add(ts, &r);
    }
    ck_assert_uint_eq(ts->nproxies, LOADGEN_MAX_PROXIES);
    ck_assert_str_eq(ts->proxies[LOADGEN_MAX_PROXIES - 1].name, "other");
    ck_assert_uint_eq(ts->proxies[LOADGEN_MAX_PROXIES - 1].t.requests, 21);
    loadgen_tallies_free(ts);
}
END_TEST

static Suite *loadgen_tally_suite(void)
{
    Suite *s = suite_create("loadgen_tally");
    TCase *tc = tcase_create("tally");
    tcase_add_test(tc, test_loadgen_tally_counts_per_client_and_proxy);
    tcase_add_test(tc, test_loadgen_tally_leaves_warmup_out);
    tcase_add_test(tc, test_loadgen_tally_errors_counted_never_timed);
    tcase_add_test(tc, test_loadgen_tally_percentiles_match_exact_ones);
    tcase_add_test(tc, test_loadgen_tally_many_proxies_overflow_into_other);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(loadgen_tally_suite)
