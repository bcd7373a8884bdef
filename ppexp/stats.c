/* The arithmetic behind results.csv and claims.md. Small n is the normal
 * case (2 to 10 replicates), so the t quantiles are tabulated exactly rather
 * than approximated by the normal. */
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
    }
    s->median = ppexp_stats_median(x, n);
    s->med_lo = s->med_hi = NAN;
    s->med_coverage = 0;
    if (n > 0)
        ppexp_stats_median_interval(x, n, &s->med_lo, &s->med_hi, &s->med_coverage);
}
