/* Unit tests for ppexp/ramp.c: the load-ramp summary's time to a new
 * replica, share over target after a step, and changes of direction. */
#include <check.h>
#include <math.h>

#include "../check_main.h"
#include "../../../ppexp/ramp.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

START_TEST(test_ppexp_ramp_time_to_replica)
{
    const struct ppexp_ramp_sample s[] = {{0, 1}, {1, 1}, {2, 1}, {2.5, 1}, {3.4, 2}, {4, 3}};
    /* Step at 2.2 s: at 2.2 one serves; two at 3.4 s. */
    ck_assert(fabs(ppexp_ramp_time_to_replica(s, N(s), 2.2, 10) - 1.2) < 1e-9);
    /* None before the next step. */
    ck_assert(ppexp_ramp_time_to_replica(s, N(s), 2.2, 3.0) == -1);
    /* Already at 3 after 4 s: no more come. */
    ck_assert(ppexp_ramp_time_to_replica(s, N(s), 4.0, 10) == -1);
    ck_assert(ppexp_ramp_time_to_replica(s, 0, 1.0, 10) == -1);
}
END_TEST

START_TEST(test_ppexp_ramp_over_counts_errors_as_over)
{
    struct ppexp_ramp_second series[20] = {0};
    for (size_t i = 0; i < 20; i++)
        series[i] = (struct ppexp_ramp_second){.offered = 100, .completed = 100};
    series[5].over = 7;
    series[6].completed = 98;
    series[6].errors = 2;
    series[15].over = 50; /* outside [5, 15) */
    uint64_t req, over;
    ppexp_ramp_over(series, N(series), 5, 10, &req, &over);
    ck_assert_uint_eq(req, 1000);
    ck_assert_uint_eq(over, 9);
    /* A window running past the end stops there. */
    ppexp_ramp_over(series, N(series), 15, 10, &req, &over);
    ck_assert_uint_eq(req, 500);
    ck_assert_uint_eq(over, 50);
}
END_TEST

START_TEST(test_ppexp_ramp_direction_changes)
{
    const struct ppexp_ramp_sample up_only[] = {{0, 1}, {1, 2}, {2, 2}, {3, 4}};
    ck_assert_int_eq(ppexp_ramp_direction_changes(up_only, N(up_only), 0, 10), 0);
    const struct ppexp_ramp_sample flap[] = {{0, 2}, {1, 3}, {2, 3}, {3, 2}, {4, 3}, {5, 3}};
    ck_assert_int_eq(ppexp_ramp_direction_changes(flap, N(flap), 0, 10), 2);
    /* Only the window's samples: from 3 s on, one move up. */
    ck_assert_int_eq(ppexp_ramp_direction_changes(flap, N(flap), 3, 10), 0);
    /* Up then down once (a load that ends) is one change. */
    const struct ppexp_ramp_sample ramp[] = {{0, 1}, {1, 4}, {2, 4}, {3, 1}};
    ck_assert_int_eq(ppexp_ramp_direction_changes(ramp, N(ramp), 0, 10), 1);
}
END_TEST

START_TEST(test_ppexp_ramp_summarize_judges_steps_up_only)
{
    const struct ppexp_ramp_step steps[] = {{0, 0, 30}, {10, 30, 150}, {30, 150, 30}};
    struct ppexp_ramp_second series[40];
    for (size_t i = 0; i < N(series); i++)
        series[i] = (struct ppexp_ramp_second){.offered = 30, .completed = 30};
    for (size_t i = 10; i < 30; i++)
        series[i] = (struct ppexp_ramp_second){.offered = 150, .completed = 150};
    series[10].over = 15; /* 15 of 1500 in [10, 20): 1% */
    const struct ppexp_ramp_sample s[] = {{0, 1}, {9.5, 1}, {10.6, 2}, {11.6, 3}, {35, 1}};
    struct ppexp_ramp_step_result out[3];
    ppexp_ramp_summarize(steps, N(steps), 40, series, N(series), s, N(s), out);
    /* The first step starts from nothing: a rise then would count; none came. */
    ck_assert(out[0].to_replica_s == -1);
    ck_assert(fabs(out[1].to_replica_s - 0.6) < 1e-9);
    ck_assert_uint_eq(out[1].requests, 1500);
    ck_assert(fabs(out[1].over_share - 0.01) < 1e-12);
    ck_assert(out[2].to_replica_s == -1); /* a step down */
    ck_assert_uint_eq(out[2].requests, 300);
    ck_assert(out[2].over_share == 0);
}
END_TEST

static Suite *ppexp_ramp_suite(void)
{
    Suite *s = suite_create("ppexp_ramp");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ppexp_ramp_time_to_replica);
    tcase_add_test(tc, test_ppexp_ramp_over_counts_errors_as_over);
    tcase_add_test(tc, test_ppexp_ramp_direction_changes);
    tcase_add_test(tc, test_ppexp_ramp_summarize_judges_steps_up_only);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(ppexp_ramp_suite)
