/* Statistics over replicate values (one value per replicate, never pooled
 * requests: pooling would be pseudo-replication). Mean with a Student-t 95%
 * interval, median with a distribution-free order-statistic interval, and
 * the paired comparison of two configurations inside randomized blocks:
 * a geometric-mean ratio with a t interval on per-block log-ratios, and its
 * verdict against a declared equivalence margin (TOST). */
#ifndef PPEXP_STATS_H
#define PPEXP_STATS_H

#include <stddef.h>

struct ppexp_summary {
    size_t n;
    double mean, sd;
    /* mean +- t(0.975, n-1) sd / sqrt(n); NAN when n < 2. For values that
     * cannot be negative (times, rates, percentages: every x >= 0) a lower
     * bound below 0 is clamped to 0 and ci_clamped set: the interval then
     * only says the mean is below ci_hi. */
    double ci_lo, ci_hi;
    int ci_clamped;
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

/* Student t: P(T <= t) with df degrees of freedom, and its inverse (p in
 * (0, 1); NAN for df < 1). Regularized incomplete beta by continued
 * fraction; accurate to ~1e-10, far past what a verdict needs. */
double ppexp_stats_t_cdf(double t, double df);
double ppexp_stats_t_quantile(double p, double df);
/* Standard normal P(Z <= z). */
double ppexp_stats_norm_cdf(double z);

/* The four answers a comparison "A is slower than B" can get. */
enum ppexp_verdict {
    PPEXP_HOLDS = 0,    /* A slower: the (1 - alpha) interval of A/B lies above 1 */
    PPEXP_INVERTED,     /* A faster: it lies below 1 */
    PPEXP_EQUIVALENT,   /* TOST: the (1 - 2 alpha) interval lies inside the margin */
    PPEXP_INCONCLUSIVE, /* none of these, or fewer than 2 blocks */
    PPEXP_NOT_MEASURED  /* no pair of configurations to compare */
};
const char *ppexp_verdict_name(enum ppexp_verdict v);

/* A paired comparison over blocks: x[i] = log(A_i / B_i), the log-ratio of
 * the two configurations' means in block i. */
struct ppexp_paired {
    size_t n;            /* blocks */
    double mean_log;     /* mean of the log-ratios */
    double sd_log;       /* their sample standard deviation */
    double alpha;        /* the level used */
    double ratio;        /* exp(mean_log): the geometric mean of A_i / B_i */
    double lo, hi;       /* exp(mean_log -+ t(1 - alpha/2, n-1) sd/sqrt n); NAN when n < 2 */
    double eq_lo, eq_hi; /* the same at t(1 - alpha, n-1): the TOST interval */
};
/* Fills p from n log-ratios at level alpha (0.05: a 95% interval and a
 * TOST at 5%, i.e. the 90% interval). */
void ppexp_stats_paired(const double *log_ratios, size_t n, double alpha, struct ppexp_paired *p);
/* The verdict for "A is slower than B" with equivalence margin m (0.05 =
 * +-5%; the band is [1/(1+m), 1+m], symmetric in log space so that swapping
 * A and B swaps holds and inverted and keeps equivalent). Equivalence is
 * checked first: a difference smaller than the declared margin is
 * equivalent even when its direction is distinguishable (the caller says
 * so beside the verdict). */
enum ppexp_verdict ppexp_stats_verdict(const struct ppexp_paired *p, double margin);

/* The constant z boundary of a Pocock-style group-sequential design: the
 * |z| that, applied at every look (sample sizes looks[0..k), increasing),
 * keeps the chance that any look crosses it under no difference at alpha
 * (two-sided). Brownian-motion model, numerical recursion on a grid. With
 * looks 1..K it reproduces Pocock's constants (K = 5, alpha 0.05: 2.413).
 * NAN when k == 0. */
double ppexp_stats_pocock_z(const double *looks, size_t k, double alpha);

#endif
