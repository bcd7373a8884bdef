/* Statistics over replicate values (one value per replicate, never pooled
 * requests: pooling would be pseudo-replication). Mean with a Student-t 95%
 * interval, median with a distribution-free order-statistic interval. */
#ifndef PPEXP_STATS_H
#define PPEXP_STATS_H

#include <stddef.h>

struct ppexp_summary {
    size_t n;
    double mean, sd;
    double ci_lo, ci_hi; /* mean +- t(0.975, n-1) sd / sqrt(n); NAN when n < 2 */
    double median;
    double med_lo, med_hi; /* [x(k), x(n+1-k)] */
    double med_coverage;   /* its exact coverage (>= 0.95 when n >= 6) */
};

double ppexp_stats_mean(const double *x, size_t n);
/* Sample standard deviation (n - 1 in the denominator); 0 when n < 2. */
double ppexp_stats_sd(const double *x, size_t n);
/* t(0.975, df): exact to 4 decimals (table) for df 1..30, a Cornish-Fisher
 * expansion above (error < 1e-4 there). NAN for df < 1. */
double ppexp_stats_t975(int df);
/* P(X <= k) for X ~ Binomial(n, 1/2). */
double ppexp_stats_binom_half_cdf(int n, int k);
/* Median of x (not modified). NAN when n == 0. */
double ppexp_stats_median(const double *x, size_t n);
/* The order-statistic interval [x(k), x(n+1-k)] for the median with the
 * largest k whose coverage 1 - 2 P(B(n,1/2) <= k-1) is still >= 0.95; when
 * no k reaches 0.95 (n <= 5) it is [min, max] with its lower coverage.
 * 0, or -1 when n == 0. */
int ppexp_stats_median_interval(const double *x, size_t n, double *lo, double *hi,
                                double *coverage);
/* Everything above at once. */
void ppexp_stats_summarize(const double *x, size_t n, struct ppexp_summary *s);

#endif
