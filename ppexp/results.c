/* summary.csv -> results.csv and stats.csv. Statistics are over replicate
 * values (one per run), n stated on every row. results.csv's columns are
 * exactly the issue's; what else a reader needs (the median's interval and
 * its coverage, sd, CV, intervals of rps, CPU and memory, the intermediate
 * host's CPU time per request, how many runs broke Little's law) is in
 * stats.csv. summary.csv has each run's Little's-law ratio (in flight / mean
 * time against rps; 1 in one steady run) and whether it held within 10%. */
#include "results.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stats.h"

/* Longest line in our CSVs: a summary row is ~400 bytes. */
#define CSV_LINE_MAX 4096
#define CSV_COLS_MAX 64

const char *const ppexp_results_factor_cols[PPEXP_NFACTORS] = {
    "forwarding", "replicas", "worker", "runtime", "cache", "stress", "placement"};

int ppexp_write_file(const char *dir, const char *name, const char *text, char *err, size_t errlen)
{
    char path[1024], tmp[1100];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    int bad = fputs(text, f) == EOF;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* A growing string. */
struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *np = realloc(b->p, cap);
        if (!np)
            return;
        b->p = np;
        b->cap = cap;
    }
}

/* A number for a CSV cell: empty when not finite. */
static void sb_num(struct sbuf *b, double v, const char *sep)
{
    if (isfinite(v))
        sb_printf(b, "%.4f%s", v, sep);
    else
        sb_printf(b, "%s", sep);
}

static void sb_factors(struct sbuf *b, const struct ppexp_config *c)
{
    char buf[16];
    for (int f = 0; f < PPEXP_NFACTORS; f++) {
        if (c->baseline && f != PPEXP_F_FORWARDING && f != PPEXP_F_STRESS &&
            f != PPEXP_F_PLACEMENT) {
            /* A baseline has no proxies: replicas 0, the rest "none". */
            sb_printf(b, "%s,", f == PPEXP_F_REPLICAS ? "0" : "none");
            continue;
        }
        sb_printf(b, "%s,", ppexp_level_str((enum ppexp_factor)f, c->level[f], buf, sizeof(buf)));
    }
}

int ppexp_results_write_summary(const char *dir, const struct ppexp_plan *plan,
                                const struct ppexp_run_record *runs, size_t nruns, char *err,
                                size_t errlen)
{
    struct sbuf b = {0};
    sb_printf(&b, "replicate,seq,config,");
    for (int f = 0; f < PPEXP_NFACTORS; f++)
        sb_printf(&b, "%s,", ppexp_results_factor_cols[f]);
    sb_printf(&b, "requests,ok,errors,mean_ms,p50_ms,p90_ms,p99_ms,max_ms,ttfb_mean_ms,rps,mbps,"
                  "duration_s,cpu_pct,cpu_pct_all,mem_pct,mem_max_pct,loadgen_cpu_pct,saturated,"
                  "in_flight,little_ratio,little_ok,cpu_ms_per_req,primed,json,csv\n");
    for (size_t i = 0; i < nruns; i++) {
        const struct ppexp_run_record *r = &runs[i];
        const struct ppexp_config *c = &plan->configs[r->config];
        sb_printf(&b, "%d,%d,%s,", r->replicate, r->seq, c->id);
        sb_factors(&b, c);
        sb_printf(&b, "%ld,%ld,%ld,", r->requests, r->ok, r->errors);
        const double v[] = {r->mean_ms,     r->p50_ms,         r->p90_ms,      r->p99_ms,
                            r->max_ms,      r->ttfb_ms,        r->rps,         r->mbps,
                            r->duration_s,  r->cpu_pct,        r->cpu_pct_all, r->mem_pct,
                            r->mem_max_pct, r->loadgen_cpu_pct};
        for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
            sb_num(&b, v[k], ",");
        sb_printf(&b, "%d,", r->saturated);
        sb_num(&b, r->in_flight, ",");
        sb_num(&b, r->little_ratio, ",");
        if (r->little_ok < 0)
            sb_printf(&b, ",");
        else
            sb_printf(&b, "%d,", r->little_ok);
        sb_num(&b, r->cpu_ms_per_req, ",");
        sb_printf(&b, "%d,%s,%s\n", r->primed, r->json, r->csv);
    }
    if (!b.p) {
        snprintf(err, errlen, "out of memory writing summary.csv");
        return -1;
    }
    int rc = ppexp_write_file(dir, "summary.csv", b.p, err, errlen);
    free(b.p);
    return rc;
}

/* ---------------------------------------------------------------- reader */

static void split_line(char *line, char **cells, size_t *n)
{
    *n = 0;
    char *p = line;
    for (;;) {
        if (*n < CSV_COLS_MAX)
            cells[(*n)++] = p;
        char *comma = strchr(p, ',');
        if (!comma)
            break;
        *comma = '\0';
        p = comma + 1;
    }
}

int ppexp_table_read(const char *path, struct ppexp_table *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char line[CSV_LINE_MAX];
    char *cells[CSV_COLS_MAX];
    size_t n, cap = 0;
    int rc = -1;
    if (!fgets(line, sizeof(line), f)) {
        snprintf(err, errlen, "%s is empty", path);
        goto out;
    }
    line[strcspn(line, "\r\n")] = '\0';
    split_line(line, cells, &n);
    t->ncols = n;
    t->header = calloc(n, sizeof(char *));
    if (!t->header)
        goto oom;
    for (size_t i = 0; i < n; i++)
        if (!(t->header[i] = strdup(cells[i])))
            goto oom;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        split_line(line, cells, &n);
        if (n != t->ncols) {
            snprintf(err, errlen, "%s: row %zu has %zu columns, the header %zu", path, t->nrows + 2,
                     n, t->ncols);
            goto out;
        }
        if (t->nrows == cap) {
            cap = cap ? cap * 2 : 64;
            char **nc = realloc(t->cells, cap * t->ncols * sizeof(char *));
            if (!nc)
                goto oom;
            t->cells = nc;
        }
        for (size_t i = 0; i < n; i++)
            if (!(t->cells[t->nrows * t->ncols + i] = strdup(cells[i])))
                goto oom;
        t->nrows++;
    }
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "out of memory reading %s", path);
out:
    fclose(f);
    if (rc < 0)
        ppexp_table_release(t);
    return rc;
}

void ppexp_table_release(struct ppexp_table *t)
{
    if (t->header)
        for (size_t i = 0; i < t->ncols; i++)
            free(t->header[i]);
    if (t->cells)
        for (size_t i = 0; i < t->nrows * t->ncols; i++)
            free(t->cells[i]);
    free(t->header);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

int ppexp_table_col(const struct ppexp_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (t->header[i] && strcmp(t->header[i], name) == 0)
            return (int)i;
    return -1;
}

const char *ppexp_table_str(const struct ppexp_table *t, size_t row, int col)
{
    if (col < 0 || (size_t)col >= t->ncols || row >= t->nrows)
        return "";
    const char *s = t->cells[row * t->ncols + (size_t)col];
    return s ? s : "";
}

double ppexp_table_num(const struct ppexp_table *t, size_t row, int col)
{
    const char *s = ppexp_table_str(t, row, col);
    if (!*s)
        return NAN;
    char *end;
    double v = strtod(s, &end);
    return *end ? NAN : v;
}

/* ---------------------------------------------------------------- tables */

/* Order of summary rows: forwarding, worker, runtime, cache, stress,
 * placement as text, then replicas as a number, then the replicate. */
static int cmp_rows(const void *a, const void *b, void *ctx)
{
    const struct ppexp_table *t = ctx;
    size_t ra = *(const size_t *)a, rb = *(const size_t *)b;
    static const int order[] = {PPEXP_F_FORWARDING, PPEXP_F_WORKER, PPEXP_F_RUNTIME,
                                PPEXP_F_CACHE,      PPEXP_F_STRESS, PPEXP_F_PLACEMENT};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        int col = ppexp_table_col(t, ppexp_results_factor_cols[order[i]]);
        int c = strcmp(ppexp_table_str(t, ra, col), ppexp_table_str(t, rb, col));
        if (c)
            return c;
    }
    int col = ppexp_table_col(t, "replicas");
    double x = ppexp_table_num(t, ra, col), y = ppexp_table_num(t, rb, col);
    if (x != y)
        return x < y ? -1 : 1;
    col = ppexp_table_col(t, "replicate");
    x = ppexp_table_num(t, ra, col);
    y = ppexp_table_num(t, rb, col);
    return x < y ? -1 : x > y;
}

int ppexp_results_write_tables(const char *dir, char *err, size_t errlen)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/summary.csv", dir);
    struct ppexp_table s;
    if (ppexp_table_read(path, &s, err, errlen) < 0)
        return -1;
    int c_config = ppexp_table_col(&s, "config");
    int c_fac[PPEXP_NFACTORS];
    for (int f = 0; f < PPEXP_NFACTORS; f++)
        c_fac[f] = ppexp_table_col(&s, ppexp_results_factor_cols[f]);
    const char *vals[] = {"mean_ms", "p99_ms",      "rps",       "errors",        "cpu_pct",
                          "mem_pct", "cpu_pct_all", "little_ok", "cpu_ms_per_req"};
    enum { V_MEAN, V_P99, V_RPS, V_ERR, V_CPU, V_MEM, V_CPUALL, V_LITTLE, V_CPUREQ, V_N };
    int c_val[V_N];
    for (int i = 0; i < V_N; i++)
        c_val[i] = ppexp_table_col(&s, vals[i]);
    if (c_config < 0 || c_val[V_MEAN] < 0) {
        snprintf(err, errlen, "%s lacks the config or mean_ms column", path);
        ppexp_table_release(&s);
        return -1;
    }
    struct sbuf r = {0}, st = {0};
    for (int f = 0; f < PPEXP_NFACTORS; f++) {
        sb_printf(&r, "%s,", ppexp_results_factor_cols[f]);
        sb_printf(&st, "%s,", ppexp_results_factor_cols[f]);
    }
    sb_printf(&r, "n,mean_ms,ci95_lo_ms,ci95_hi_ms,median_ms,p99_ms,rps,errors,cpu_pct,mem_pct\n");
    sb_printf(&st, "config,n,sd_ms,cv_pct,median_lo_ms,median_hi_ms,median_coverage,rps_ci95_lo,"
                   "rps_ci95_hi,cpu_pct_ci95_lo,cpu_pct_ci95_hi,cpu_pct_all,mem_pct_ci95_lo,"
                   "mem_pct_ci95_hi,p99_ci95_lo_ms,p99_ci95_hi_ms,cpu_ms_per_req,"
                   "cpu_ms_per_req_ci95_lo,cpu_ms_per_req_ci95_hi,little_broken\n");
    double *x[V_N];
    for (int i = 0; i < V_N; i++)
        x[i] = calloc(s.nrows ? s.nrows : 1, sizeof(double));
    char *done = calloc(s.nrows ? s.nrows : 1, 1);
    int rc = 0;
    for (int i = 0; i < V_N; i++)
        if (!x[i])
            rc = -1;
    if (!done)
        rc = -1;
    /* Configurations sorted by their factors (replicas numerically), so a
     * plot's line through results.csv goes 1, 2, 4, ... in order. */
    size_t *idx = calloc(s.nrows ? s.nrows : 1, sizeof(*idx));
    if (!idx)
        rc = -1;
    for (size_t i = 0; idx && i < s.nrows; i++)
        idx[i] = i;
    if (idx)
        qsort_r(idx, s.nrows, sizeof(*idx), cmp_rows, &s);
    for (size_t ii = 0; rc == 0 && ii < s.nrows; ii++) {
        size_t row = idx[ii];
        if (done[row])
            continue;
        const char *id = ppexp_table_str(&s, row, c_config);
        size_t n = 0;
        for (size_t k = 0; k < s.nrows; k++) {
            if (strcmp(ppexp_table_str(&s, k, c_config), id) != 0)
                continue;
            done[k] = 1;
            for (int i = 0; i < V_N; i++)
                x[i][n] = ppexp_table_num(&s, k, c_val[i]);
            n++;
        }
        struct ppexp_summary m, p99, rps, cpu, mem, cpureq;
        ppexp_stats_summarize(x[V_MEAN], n, &m);
        ppexp_stats_summarize(x[V_P99], n, &p99);
        ppexp_stats_summarize(x[V_RPS], n, &rps);
        ppexp_stats_summarize(x[V_CPU], n, &cpu);
        ppexp_stats_summarize(x[V_MEM], n, &mem);
        ppexp_stats_summarize(x[V_CPUREQ], n, &cpureq);
        double errors = 0;
        int broken = 0;
        for (size_t k = 0; k < n; k++) {
            errors += isfinite(x[V_ERR][k]) ? x[V_ERR][k] : 0;
            broken += x[V_LITTLE][k] == 0; /* NAN (nothing to check) is not 0 */
        }
        for (int f = 0; f < PPEXP_NFACTORS; f++) {
            sb_printf(&r, "%s,", ppexp_table_str(&s, row, c_fac[f]));
            sb_printf(&st, "%s,", ppexp_table_str(&s, row, c_fac[f]));
        }
        sb_printf(&r, "%zu,", n);
        sb_num(&r, m.mean, ",");
        sb_num(&r, m.ci_lo, ",");
        sb_num(&r, m.ci_hi, ",");
        sb_num(&r, m.median, ",");
        sb_num(&r, p99.mean, ",");
        sb_num(&r, rps.mean, ",");
        sb_printf(&r, "%.0f,", errors);
        sb_num(&r, cpu.mean, ",");
        sb_num(&r, mem.mean, "\n");
        sb_printf(&st, "%s,%zu,", id, n);
        sb_num(&st, m.sd, ",");
        sb_num(&st, m.mean != 0 ? 100.0 * m.sd / m.mean : NAN, ",");
        sb_num(&st, m.med_lo, ",");
        sb_num(&st, m.med_hi, ",");
        sb_num(&st, m.med_coverage, ",");
        sb_num(&st, rps.ci_lo, ",");
        sb_num(&st, rps.ci_hi, ",");
        sb_num(&st, cpu.ci_lo, ",");
        sb_num(&st, cpu.ci_hi, ",");
        sb_num(&st, ppexp_stats_mean(x[V_CPUALL], n), ",");
        sb_num(&st, mem.ci_lo, ",");
        sb_num(&st, mem.ci_hi, ",");
        sb_num(&st, p99.ci_lo, ",");
        sb_num(&st, p99.ci_hi, ",");
        sb_num(&st, cpureq.mean, ",");
        sb_num(&st, cpureq.ci_lo, ",");
        sb_num(&st, cpureq.ci_hi, ",");
        sb_printf(&st, "%d\n", broken);
    }
    if (rc < 0 || !r.p || !st.p)
        snprintf(err, errlen, "out of memory computing results.csv");
    else if (ppexp_write_file(dir, "results.csv", r.p, err, errlen) < 0 ||
             ppexp_write_file(dir, "stats.csv", st.p, err, errlen) < 0)
        rc = -1;
    for (int i = 0; i < V_N; i++)
        free(x[i]);
    free(idx);
    free(done);
    free(r.p);
    free(st.p);
    ppexp_table_release(&s);
    return rc < 0 ? -1 : 0;
}

int ppexp_results_print(const char *dir, FILE *out, char *err, size_t errlen)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/results.csv", dir);
    struct ppexp_table t;
    if (ppexp_table_read(path, &t, err, errlen) < 0)
        return -1;
    fprintf(out, "%-10s %-6s %-9s %-5s %-7s %-6s %-3s %9s %21s %9s %9s %8s %6s %6s %6s\n",
            "forwarding", "worker", "runtime", "proxy", "cache", "stress", "n", "mean_ms", "95% CI",
            "median", "p99_ms", "rps", "errors", "cpu%", "mem%");
    int col[PPEXP_NFACTORS];
    for (int f = 0; f < PPEXP_NFACTORS; f++)
        col[f] = ppexp_table_col(&t, ppexp_results_factor_cols[f]);
    for (size_t r = 0; r < t.nrows; r++) {
        char ci[48];
        double lo = ppexp_table_num(&t, r, ppexp_table_col(&t, "ci95_lo_ms"));
        double hi = ppexp_table_num(&t, r, ppexp_table_col(&t, "ci95_hi_ms"));
        if (isfinite(lo))
            snprintf(ci, sizeof(ci), "[%.2f, %.2f]", lo, hi);
        else
            snprintf(ci, sizeof(ci), "-");
        fprintf(
            out,
            "%-10s %-6s %-9s %-5s %-7s %-6s %-3s %9.2f %21s %9.2f %9.2f %8.1f %6.0f %6.1f %6.2f\n",
            ppexp_table_str(&t, r, col[PPEXP_F_FORWARDING]),
            ppexp_table_str(&t, r, col[PPEXP_F_WORKER]),
            ppexp_table_str(&t, r, col[PPEXP_F_RUNTIME]),
            ppexp_table_str(&t, r, col[PPEXP_F_REPLICAS]),
            ppexp_table_str(&t, r, col[PPEXP_F_CACHE]), ppexp_table_str(&t, r, col[PPEXP_F_STRESS]),
            ppexp_table_str(&t, r, ppexp_table_col(&t, "n")),
            ppexp_table_num(&t, r, ppexp_table_col(&t, "mean_ms")), ci,
            ppexp_table_num(&t, r, ppexp_table_col(&t, "median_ms")),
            ppexp_table_num(&t, r, ppexp_table_col(&t, "p99_ms")),
            ppexp_table_num(&t, r, ppexp_table_col(&t, "rps")),
            ppexp_table_num(&t, r, ppexp_table_col(&t, "errors")),
            ppexp_table_num(&t, r, ppexp_table_col(&t, "cpu_pct")),
            ppexp_table_num(&t, r, ppexp_table_col(&t, "mem_pct")));
    }
    ppexp_table_release(&t);
    return 0;
}
