/* Unit tests for ppexp/stats.c: the Student-t interval over replicate
 * means and the order-statistic interval of the median, against values
 * worked out by hand (below, next to each test). */
#include <check.h>
#include <math.h>

#include "../../ppexp/stats.h"
#include "check_main.h"

START_TEST(test_ppexp_stats_t_interval_of_three_replicates)
{
    /* x = 10, 12, 14: mean 12; deviations -2, 0, 2, sum of squares 8,
     * s^2 = 8 / (3 - 1) = 4, s = 2; se = 2 / sqrt(3) = 1.1547005;
     * t(0.975, 2) = 4.3026527; half-width = 4.3026527 * 1.1547005 = 4.9682754;
     * CI = [12 - 4.9682754, 12 + 4.9682754] = [7.0317246, 16.9682754]. */
    const double x[] = {10, 12, 14};
    struct ppexp_summary s;
    ppexp_stats_summarize(x, 3, &s);
    ck_assert_uint_eq(s.n, 3);
    ck_assert_double_eq_tol(s.mean, 12.0, 1e-12);
    ck_assert_double_eq_tol(s.sd, 2.0, 1e-12);
    ck_assert_double_eq_tol(s.ci_lo, 7.0317246, 1e-6);
    ck_assert_double_eq_tol(s.ci_hi, 16.9682754, 1e-6);
}
END_TEST

START_TEST(test_ppexp_stats_t_interval_of_ten_replicates)
{
    /* x = 1..10: mean 5.5; sum of (i - 5.5)^2 = 82.5, s^2 = 82.5 / 9 =
     * 9.1666667, s = 3.0276504; se = s / sqrt(10) = 0.9574271;
     * t(0.975, 9) = 2.2621572 (the 2.262 of the notes: half = 0.715 s);
     * half-width = 2.1658506; CI = [3.3341494, 7.6658506]. */
    double x[10];
    for (int i = 0; i < 10; i++)
        x[i] = i + 1;
    struct ppexp_summary s;
    ppexp_stats_summarize(x, 10, &s);
    ck_assert_double_eq_tol(s.sd, 3.0276504, 1e-6);
    ck_assert_double_eq_tol(s.ci_lo, 3.3341494, 1e-6);
    ck_assert_double_eq_tol(s.ci_hi, 7.6658506, 1e-6);
    ck_assert_double_eq_tol((s.ci_hi - s.mean) / s.sd, 0.7153, 1e-4);
}
END_TEST

START_TEST(test_ppexp_stats_one_replicate_has_no_interval)
{
    const double x[] = {42};
    struct ppexp_summary s;
    ppexp_stats_summarize(x, 1, &s);
    ck_assert_double_eq(s.mean, 42);
    ck_assert(isnan(s.ci_lo) && isnan(s.ci_hi));
}
END_TEST

START_TEST(test_ppexp_stats_t_quantiles)
{
    /* Table values, and above df 30 the expansion against a numerical
     * inversion of the t CDF (Simpson integration of the density):
     * t(0.975, 31) = 2.03951, t(0.975, 40) = 2.02108, t(0.975, 100) = 1.98397. */
    ck_assert_double_eq_tol(ppexp_stats_t975(1), 12.7062047, 1e-6);
    ck_assert_double_eq_tol(ppexp_stats_t975(4), 2.7764451, 1e-6);
    ck_assert_double_eq_tol(ppexp_stats_t975(30), 2.0422725, 1e-6);
    ck_assert_double_eq_tol(ppexp_stats_t975(31), 2.03951, 2e-4);
    ck_assert_double_eq_tol(ppexp_stats_t975(40), 2.02108, 2e-4);
    ck_assert_double_eq_tol(ppexp_stats_t975(100), 1.98397, 2e-4);
    ck_assert(isnan(ppexp_stats_t975(0)));
}
END_TEST

START_TEST(test_ppexp_stats_median_interval_of_ten)
{
    /* Sorted: 1 1 2 3 3 4 5 5 6 9; median (3 + 4) / 2 = 3.5.
     * [x(k), x(11-k)] covers the median with 1 - 2 P(B(10, 1/2) <= k-1):
     * k = 2: 1 - 2 (1 + 10) / 1024 = 1 - 22/1024 = 0.978515625 >= 0.95;
     * k = 3: 1 - 2 (1 + 10 + 45) / 1024 = 0.890625 < 0.95.
     * So [x(2), x(9)] = [1, 6] with coverage 0.978515625 (Nair's 97.9%). */
    const double x[] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3};
    double lo, hi, cov;
    ck_assert_double_eq(ppexp_stats_median(x, 10), 3.5);
    ck_assert_int_eq(ppexp_stats_median_interval(x, 10, &lo, &hi, &cov), 0);
    ck_assert_double_eq(lo, 1);
    ck_assert_double_eq(hi, 6);
    ck_assert_double_eq_tol(cov, 0.978515625, 1e-12);
    ck_assert_double_eq_tol(ppexp_stats_binom_half_cdf(10, 1), 11.0 / 1024, 1e-15);
}
END_TEST

START_TEST(test_ppexp_stats_median_interval_small_n_is_the_range)
{
    /* n = 5: even k = 1 covers only 1 - 2/32 = 0.9375 < 0.95: [min, max]
     * with that coverage. n = 6: k = 1 covers 1 - 2/64 = 0.96875; k = 2
     * 1 - 2 (1 + 6)/64 = 0.78125: [min, max] with 0.96875. */
    const double five[] = {5, 3, 8, 1, 4};
    double lo, hi, cov;
    ppexp_stats_median_interval(five, 5, &lo, &hi, &cov);
    ck_assert_double_eq(lo, 1);
    ck_assert_double_eq(hi, 8);
    ck_assert_double_eq_tol(cov, 0.9375, 1e-12);
    const double six[] = {6, 2, 7, 1, 3, 9};
    ppexp_stats_median_interval(six, 6, &lo, &hi, &cov);
    ck_assert_double_eq(lo, 1);
    ck_assert_double_eq(hi, 9);
    ck_assert_double_eq_tol(cov, 0.96875, 1e-12);
    ck_assert_double_eq(ppexp_stats_median(six, 6), 4.5);
}
END_TEST

static Suite *ppexp_stats_suite(void)
{
    Suite *s = suite_create("ppexp_stats");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ppexp_stats_t_interval_of_three_replicates);
    tcase_add_test(tc, test_ppexp_stats_t_interval_of_ten_replicates);
    tcase_add_test(tc, test_ppexp_stats_one_replicate_has_no_interval);
    tcase_add_test(tc, test_ppexp_stats_t_quantiles);
    tcase_add_test(tc, test_ppexp_stats_median_interval_of_ten);
    tcase_add_test(tc, test_ppexp_stats_median_interval_small_n_is_the_range);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(ppexp_stats_suite)
