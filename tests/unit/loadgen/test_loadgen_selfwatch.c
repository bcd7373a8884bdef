/* Unit tests for loadgen/selfwatch.c: the saturation rule, and a real event
 * loop blocked on purpose shows up as lag and as CPU. */
#include <check.h>
#include <time.h>
#include <event2/event.h>

#include "../check_main.h"
#include "../../../loadgen/selfwatch.h"

START_TEST(test_loadgen_selfwatch_saturation_rule)
{
    ck_assert_int_eq(loadgen_selfwatch_is_saturated(50.0, 500, 5000000), 0);
    ck_assert_int_eq(loadgen_selfwatch_is_saturated(95.0, 500, 5000000), 1);
    ck_assert_int_eq(loadgen_selfwatch_is_saturated(10.0, 12000, 5000000), 1);
    ck_assert_int_eq(loadgen_selfwatch_is_saturated(100.0, 12000, 1000), 0); /* too short to say */
}
END_TEST

static void busy_ms(long ms)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

static void on_block(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    busy_ms(60); /* the loop can run nothing else meanwhile */
}

START_TEST(test_loadgen_selfwatch_sees_a_blocked_loop)
{
    struct event_base *base = event_base_new();
    struct loadgen_selfwatch *w = loadgen_selfwatch_new(base);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(loadgen_selfwatch_start(w), 0);
    struct event *block = event_new(base, -1, EV_PERSIST, on_block, NULL);
    struct timeval every = {0, 100000}, stop = {0, 500000};
    event_add(block, &every);
    event_base_loopexit(base, &stop);
    event_base_dispatch(base);
    loadgen_selfwatch_stop(w);
    /* Four blocks of 60 ms in 0.5 s: the loop ran ~50 ms late each time and
     * spent about half its time on the CPU. */
    ck_assert_uint_ge(loadgen_selfwatch_lag_max_us(w), 40000);
    ck_assert(loadgen_selfwatch_cpu_pct(w) >= 10.0); /* ~48% unless the host preempts us */
    event_free(block);
    loadgen_selfwatch_free(w);
    event_base_free(base);
}
END_TEST

START_TEST(test_loadgen_selfwatch_idle_loop_is_on_time)
{
    struct event_base *base = event_base_new();
    struct loadgen_selfwatch *w = loadgen_selfwatch_new(base);
    loadgen_selfwatch_start(w);
    struct timeval stop = {0, 300000};
    event_base_loopexit(base, &stop);
    event_base_dispatch(base);
    loadgen_selfwatch_stop(w);
    ck_assert(loadgen_selfwatch_cpu_pct(w) < 50.0);
    loadgen_selfwatch_free(w);
    event_base_free(base);
}
END_TEST

static Suite *loadgen_selfwatch_suite(void)
{
    Suite *s = suite_create("loadgen_selfwatch");
    TCase *tc = tcase_create("selfwatch");
    tcase_add_test(tc, test_loadgen_selfwatch_saturation_rule);
    tcase_add_test(tc, test_loadgen_selfwatch_sees_a_blocked_loop);
    tcase_add_test(tc, test_loadgen_selfwatch_idle_loop_is_on_time);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(loadgen_selfwatch_suite)
