/* Unit tests for ppexp/stats.c: the Student-t interval over replicate
 * means and the order-statistic interval of the median, against values
 * worked out by hand (below, next to each test). */
#include <check.h>
#include <math.h>

#include "../../../ppexp/stats.h"
#include "../check_main.h"

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

START_TEST(test_ppexp_stats_time_interval_never_negative)
{
    /* 1, 1, 40: mean 14, s = 22.5167, half = 4.3026527 * 22.5167 / sqrt 3 =
     * 55.93: the t interval would start at -41.9 ms; times cannot be
     * negative, so the lower bound is clamped to 0 and flagged. */
    const double x[] = {1, 1, 40};
    struct ppexp_summary s;
    ppexp_stats_summarize(x, 3, &s);
    ck_assert_double_eq(s.ci_lo, 0);
    ck_assert_int_eq(s.ci_clamped, 1);
    ck_assert_double_eq_tol(s.ci_hi, 14 + 55.93, 0.01);
    /* A series with negative values keeps its interval as computed. */
    const double y[] = {-1, -1, 40};
    ppexp_stats_summarize(y, 3, &s);
    ck_assert(s.ci_lo < 0);
    ck_assert_int_eq(s.ci_clamped, 0);
}
END_TEST

START_TEST(test_ppexp_stats_t_quantile_any_level)
{
    /* Table values (NIST/SEMATECH 1.3.6.7.2): t(0.95, 2) = 2.920,
     * t(0.95, 4) = 2.132, t(0.995, 5) = 4.032; and the tabulated 0.975. */
    ck_assert_double_eq_tol(ppexp_stats_t_quantile(0.95, 2), 2.919986, 1e-5);
    ck_assert_double_eq_tol(ppexp_stats_t_quantile(0.95, 4), 2.131847, 1e-5);
    ck_assert_double_eq_tol(ppexp_stats_t_quantile(0.995, 5), 4.032143, 1e-5);
    for (int df = 1; df <= 30; df++)
        ck_assert_double_eq_tol(ppexp_stats_t_quantile(0.975, df), ppexp_stats_t975(df), 1e-5);
    ck_assert_double_eq_tol(ppexp_stats_t_quantile(0.025, 9), -ppexp_stats_t975(9), 1e-6);
    ck_assert_double_eq_tol(ppexp_stats_t_cdf(0, 3), 0.5, 1e-12);
    ck_assert(isnan(ppexp_stats_t_quantile(0.95, 0)));
}
END_TEST

START_TEST(test_ppexp_stats_paired_ratio_and_interval)
{
    /* log-ratios 0.1, 0.2, 0.3: mean 0.2, s = 0.1, se = 0.057735;
     * 95%: t(0.975, 2) = 4.3026527 -> 0.2 -+ 0.248414 = [-0.048414, 0.448414]
     * -> exp: [0.952739, 1.565826];
     * TOST at 5%: t(0.95, 2) = 2.919986 -> 0.2 -+ 0.168585 = [0.031415, 0.368585]
     * -> exp: [1.031913, 1.445688];
     * ratio exp(0.2) = 1.221403. */
    const double x[] = {0.1, 0.2, 0.3};
    struct ppexp_paired p;
    ppexp_stats_paired(x, 3, 0.05, &p);
    ck_assert_double_eq_tol(p.ratio, 1.221403, 1e-6);
    ck_assert_double_eq_tol(p.lo, 0.952739, 1e-5);
    ck_assert_double_eq_tol(p.hi, 1.565826, 1e-5);
    ck_assert_double_eq_tol(p.eq_lo, 1.031913, 1e-5);
    ck_assert_double_eq_tol(p.eq_hi, 1.445688, 1e-5);
    ck_assert_int_eq(ppexp_stats_verdict(&p, 0.05), PPEXP_INCONCLUSIVE);
}
END_TEST

START_TEST(test_ppexp_stats_verdicts_are_symmetric)
{
    /* Swapping A and B negates the log-ratios: holds <-> inverted,
     * equivalent stays. */
    const double up[] = {0.09, 0.11, 0.10, 0.095}, down[] = {-0.09, -0.11, -0.10, -0.095};
    const double flat[] = {0.01, -0.01, 0.005, -0.004};
    struct ppexp_paired p;
    ppexp_stats_paired(up, 4, 0.05, &p);
    ck_assert_int_eq(ppexp_stats_verdict(&p, 0.05), PPEXP_HOLDS);
    ppexp_stats_paired(down, 4, 0.05, &p);
    ck_assert_int_eq(ppexp_stats_verdict(&p, 0.05), PPEXP_INVERTED);
    ppexp_stats_paired(flat, 4, 0.05, &p);
    ck_assert_int_eq(ppexp_stats_verdict(&p, 0.05), PPEXP_EQUIVALENT);
    ck_assert_str_eq(ppexp_verdict_name(PPEXP_EQUIVALENT), "equivalent");
}
END_TEST

START_TEST(test_ppexp_stats_pocock_reproduces_the_published_constants)
{
    /* Pocock (1977); Jennison & Turnbull (2000), Table 2.1, alpha = 0.05:
     * K = 2: 2.178, K = 3: 2.289, K = 5: 2.413, K = 10: 2.555. */
    double looks[10];
    for (int i = 0; i < 10; i++)
        looks[i] = i + 1;
    ck_assert_double_eq_tol(ppexp_stats_pocock_z(looks, 1, 0.05), 1.960, 2e-3);
    ck_assert_double_eq_tol(ppexp_stats_pocock_z(looks, 2, 0.05), 2.178, 3e-3);
    ck_assert_double_eq_tol(ppexp_stats_pocock_z(looks, 3, 0.05), 2.289, 3e-3);
    ck_assert_double_eq_tol(ppexp_stats_pocock_z(looks, 5, 0.05), 2.413, 3e-3);
    ck_assert_double_eq_tol(ppexp_stats_pocock_z(looks, 10, 0.05), 2.555, 3e-3);
    ck_assert(isnan(ppexp_stats_pocock_z(looks, 0, 0.05)));
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
    tcase_add_test(tc, test_ppexp_stats_time_interval_never_negative);
    tcase_add_test(tc, test_ppexp_stats_t_quantile_any_level);
    tcase_add_test(tc, test_ppexp_stats_paired_ratio_and_interval);
    tcase_add_test(tc, test_ppexp_stats_verdicts_are_symmetric);
    tcase_add_test(tc, test_ppexp_stats_pocock_reproduces_the_published_constants);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(ppexp_stats_suite)
