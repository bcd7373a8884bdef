/* The arithmetic behind results.csv and claims.md. Small n is the normal
 * case (2 to 10 replicates), so the t quantiles are tabulated exactly rather
 * than approximated by the normal; other levels (the 90% of a TOST, the
 * stricter level of a look in an adaptive run) invert the t distribution. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* t(0.975, df) for df = 1..30 (standard tables; e.g. NIST/SEMATECH
 * e-Handbook, table 1.3.6.7.2), to 7 digits. */
static const double t975_table[30] = {
    12.7062047, 4.3026527, 3.1824463, 2.7764451, 2.5705818, 2.4469119, 2.3646243, 2.3060041,
    2.2621572,  2.2281389, 2.2009852, 2.1788128, 2.1603687, 2.1447867, 2.1314495, 2.1199053,
    2.1098155,  2.1009220, 2.0930241, 2.0859634, 2.0796138, 2.0738731, 2.0686576, 2.0638986,
    2.0595386,  2.0555294, 2.0518305, 2.0484071, 2.0452296, 2.0422725};

double ppexp_stats_mean(const double *x, size_t n)
{
    if (n == 0)
        return NAN;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s / (double)n;
}

double ppexp_stats_sd(const double *x, size_t n)
{
    if (n < 2)
        return 0;
    double m = ppexp_stats_mean(x, n), ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    return sqrt(ss / (double)(n - 1));
}

double ppexp_stats_t975(int df)
{
    if (df < 1)
        return NAN;
    if (df <= 30)
        return t975_table[df - 1];
    /* Cornish-Fisher expansion of the t quantile around z = 1.959964
     * (Abramowitz & Stegun 26.7.5). */
    double z = 1.959963985, v = df;
    double z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z;
    return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v) +
           (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * v * v * v);
}

double ppexp_stats_binom_half_cdf(int n, int k)
{
    if (k < 0)
        return 0;
    if (k >= n)
        return 1;
    /* sum C(n, i) / 2^n, with C built incrementally in doubles (exact to
     * n ~ 50, far past any replicate count). */
    double c = 1, s = 0;
    for (int i = 0; i <= k; i++) {
        s += c;
        c = c * (n - i) / (i + 1);
    }
    return s / ldexp(1.0, n);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double *sorted_copy(const double *x, size_t n)
{
    double *s = malloc(n * sizeof(*s));
    if (!s)
        return NULL;
    memcpy(s, x, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_double);
    return s;
}

double ppexp_stats_median(const double *x, size_t n)
{
    if (n == 0)
        return NAN;
    double *s = sorted_copy(x, n);
    if (!s)
        return NAN;
    double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    free(s);
    return m;
}

int ppexp_stats_median_interval(const double *x, size_t n, double *lo, double *hi, double *coverage)
{
    if (n == 0)
        return -1;
    double *s = sorted_copy(x, n);
    if (!s)
        return -1;
    /* Coverage of [x(k), x(n+1-k)]: the median lies outside only if at most
     * k-1 values fall below it or at most k-1 above: 1 - 2 P(B <= k-1). */
    int k = 1;
    for (int j = 2; j <= (int)(n + 1) / 2; j++) {
        if (1 - 2 * ppexp_stats_binom_half_cdf((int)n, j - 1) >= 0.95)
            k = j;
        else
            break;
    }
    *lo = s[k - 1];
    *hi = s[n - (size_t)k];
    *coverage = 1 - 2 * ppexp_stats_binom_half_cdf((int)n, k - 1);
    if (*coverage < 0)
        *coverage = 0;
    free(s);
    return 0;
}

void ppexp_stats_summarize(const double *x, size_t n, struct ppexp_summary *s)
{
    memset(s, 0, sizeof(*s));
    s->n = n;
    s->mean = ppexp_stats_mean(x, n);
    s->sd = ppexp_stats_sd(x, n);
    s->ci_lo = s->ci_hi = NAN;
    if (n >= 2) {
        double half = ppexp_stats_t975((int)n - 1) * s->sd / sqrt((double)n);
        s->ci_lo = s->mean - half;
        s->ci_hi = s->mean + half;
        int nonneg = 1;
        for (size_t i = 0; i < n; i++)
            if (!(x[i] >= 0))
                nonneg = 0;
        if (nonneg && s->ci_lo < 0) {
            s->ci_lo = 0;
            s->ci_clamped = 1;
        }
    }
    s->median = ppexp_stats_median(x, n);
    s->med_lo = s->med_hi = NAN;
    s->med_coverage = 0;
    if (n > 0)
        ppexp_stats_median_interval(x, n, &s->med_lo, &s->med_hi, &s->med_coverage);
}

/* ---------------------------------------------------------------- t, normal */

/* Continued fraction of the incomplete beta (modified Lentz; Press et al.,
 * Numerical Recipes, 2nd ed., section 6.4). */
static double beta_cf(double a, double b, double x)
{
    const double eps = 1e-15, tiny = 1e-300;
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny)
        d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 500; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        d = fabs(d) < tiny ? tiny : d;
        c = 1 + aa / c;
        c = fabs(c) < tiny ? tiny : c;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        d = fabs(d) < tiny ? tiny : d;
        c = 1 + aa / c;
        c = fabs(c) < tiny ? tiny : c;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < eps)
            break;
    }
    return h;
}

/* Regularized incomplete beta I_x(a, b). */
static double beta_inc(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double bt = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    if (x < (a + 1) / (a + b + 2))
        return bt * beta_cf(a, b, x) / a;
    return 1 - bt * beta_cf(b, a, 1 - x) / b;
}

double ppexp_stats_t_cdf(double t, double df)
{
    if (!(df > 0) || isnan(t))
        return NAN;
    double tail = 0.5 * beta_inc(df / 2, 0.5, df / (df + t * t));
    return t > 0 ? 1 - tail : tail;
}

double ppexp_stats_t_quantile(double p, double df)
{
    if (!(df >= 1) || !(p > 0 && p < 1))
        return NAN;
    if (p == 0.5)
        return 0;
    if (p < 0.5)
        return -ppexp_stats_t_quantile(1 - p, df);
    double lo = 0, hi = 1;
    while (ppexp_stats_t_cdf(hi, df) < p && hi < 1e12)
        hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
        double mid = (lo + hi) / 2;
        if (ppexp_stats_t_cdf(mid, df) < p)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

double ppexp_stats_norm_cdf(double z)
{
    return 0.5 * erfc(-z / sqrt(2.0));
}

/* ---------------------------------------------------------------- paired */

const char *ppexp_verdict_name(enum ppexp_verdict v)
{
    switch (v) {
    case PPEXP_HOLDS:
        return "holds";
    case PPEXP_INVERTED:
        return "inverted";
    case PPEXP_EQUIVALENT:
        return "equivalent";
    case PPEXP_INCONCLUSIVE:
        return "inconclusive";
    default:
        return "not measured";
    }
}

void ppexp_stats_paired(const double *log_ratios, size_t n, double alpha, struct ppexp_paired *p)
{
    memset(p, 0, sizeof(*p));
    p->n = n;
    p->alpha = alpha;
    p->mean_log = ppexp_stats_mean(log_ratios, n);
    p->sd_log = ppexp_stats_sd(log_ratios, n);
    p->ratio = exp(p->mean_log);
    p->lo = p->hi = p->eq_lo = p->eq_hi = NAN;
    if (n < 2)
        return;
    double se = p->sd_log / sqrt((double)n), df = (double)n - 1;
    double t2 = ppexp_stats_t_quantile(1 - alpha / 2, df);
    double t1 = ppexp_stats_t_quantile(1 - alpha, df);
    /* exp of a log-space interval: a ratio's bounds are never negative. */
    p->lo = exp(p->mean_log - t2 * se);
    p->hi = exp(p->mean_log + t2 * se);
    p->eq_lo = exp(p->mean_log - t1 * se);
    p->eq_hi = exp(p->mean_log + t1 * se);
}

enum ppexp_verdict ppexp_stats_verdict(const struct ppexp_paired *p, double margin)
{
    if (p->n < 2 || !isfinite(p->lo) || !isfinite(p->eq_lo))
        return PPEXP_INCONCLUSIVE;
    double band = log1p(margin);
    if (margin > 0 && log(p->eq_lo) > -band && log(p->eq_hi) < band)
        return PPEXP_EQUIVALENT;
    if (p->lo > 1)
        return PPEXP_HOLDS;
    if (p->hi < 1)
        return PPEXP_INVERTED;
    return PPEXP_INCONCLUSIVE;
}

/* ---------------------------------------------------------------- Pocock */

/* Grid step of the recursion, in units of one look's increment sd: the
 * integrands are Gaussians of sd >= 1 sampled at 10 points per sd, where the
 * midpoint rule is accurate far past the 3 digits a boundary is quoted to. */
#define POCOCK_STEP 0.1
/* The increment kernel is cut at 8 sd (its mass beyond is < 1e-15). */
#define POCOCK_KERNEL_SD 8.0

/* P(some look has |S_n| >= c sqrt(n)) for a Gaussian random walk with unit
 * variance per observation. Grid cells at i h, weighted by the part of the
 * cell inside the continuation region. */
static double pocock_cross(const double *looks, size_t k, double c, double *f, double *g, double *w,
                           long half)
{
    const double h = POCOCK_STEP;
    long npts = 2 * half + 1;
    double bound = c * sqrt(looks[0]), sd0 = sqrt(looks[0]);
    for (long i = 0; i < npts; i++) {
        double s = (double)(i - half) * h;
        double in = fmin(s + h / 2, bound) - fmax(s - h / 2, -bound);
        w[i] = in <= 0 ? 0 : in / h;
        f[i] = exp(-s * s / (2 * looks[0])) / (sd0 * sqrt(2 * M_PI));
    }
    for (size_t j = 1; j < k; j++) {
        double var = looks[j] - looks[j - 1], sd = sqrt(var);
        long kw = (long)ceil(POCOCK_KERNEL_SD * sd / h);
        bound = c * sqrt(looks[j]);
        for (long i = 0; i < npts; i++) {
            double y = (double)(i - half) * h, acc = 0;
            long a = i - kw < 0 ? 0 : i - kw, b = i + kw >= npts ? npts - 1 : i + kw;
            for (long x = a; x <= b; x++)
                if (w[x] > 0) {
                    double d = y - (double)(x - half) * h;
                    acc += f[x] * w[x] * exp(-d * d / (2 * var));
                }
            g[i] = acc * h / (sd * sqrt(2 * M_PI));
        }
        for (long i = 0; i < npts; i++) {
            double s = (double)(i - half) * h;
            double in = fmin(s + h / 2, bound) - fmax(s - h / 2, -bound);
            w[i] = in <= 0 ? 0 : in / h;
            f[i] = g[i];
        }
    }
    double stay = 0;
    for (long i = 0; i < npts; i++)
        stay += f[i] * w[i] * h;
    return 1 - stay;
}

double ppexp_stats_pocock_z(const double *looks, size_t k, double alpha)
{
    if (k == 0 || !(alpha > 0 && alpha < 1))
        return NAN;
    for (size_t j = 0; j < k; j++)
        if (!(looks[j] > 0) || (j && looks[j] <= looks[j - 1]))
            return NAN;
    /* Between the one-look z and a boundary no sensible design exceeds. */
    double lo = 1.0, hi = 6.0;
    long half = (long)ceil(hi * sqrt(looks[k - 1]) / POCOCK_STEP) + 1;
    size_t npts = (size_t)(2 * half + 1);
    double *f = malloc(npts * sizeof(*f)), *g = malloc(npts * sizeof(*g)),
           *w = malloc(npts * sizeof(*w));
    double z = NAN;
    if (f && g && w) {
        while (hi - lo > 1e-4) {
            double mid = (lo + hi) / 2;
            if (pocock_cross(looks, k, mid, f, g, w, half) > alpha)
                lo = mid;
            else
                hi = mid;
        }
        z = (lo + hi) / 2;
    }
    free(f);
    free(g);
    free(w);
    return z;
}
