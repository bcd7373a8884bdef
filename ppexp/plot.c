/* gnuplot script generation. The scripts select rows of results.csv,
 * points.csv and ratios.csv (claims.c writes the last two) with string
 * tests on their factor columns, so rerunning one by hand redraws the same
 * figure from the same file. */
#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "results.h"
#include "spec.h"

/* At most this many lines in one plot: past it a legend is unreadable. */
#define PLOT_LINES_MAX 24
#define GNUPLOT_TIMEOUT_MS 60000

/* results.csv columns (1-based for gnuplot): the factors, then n, mean... */
enum { COL_N = PPEXP_NFACTORS + 1, COL_MEAN, COL_LO, COL_HI };
/* points.csv: the factors, n, gm_ms, lo_ms, hi_ms, interval. */
enum { PT_GM = PPEXP_NFACTORS + 2, PT_LO, PT_HI };
/* ratios.csv: comparison, the factors, n, ratio, lo, hi, eq_lo, eq_hi,
 * band_lo, band_hi, verdict. */
enum {
    RA_OFF = 1,
    RA_RATIO = PPEXP_NFACTORS + 3,
    RA_LO,
    RA_HI,
    RA_BAND_LO = RA_HI + 3,
    RA_BAND_HI
};

struct line {
    char key[PPEXP_NFACTORS][24]; /* factor values except replicas */
    int points;
};

/* A table's factor columns start at column `off` (0-based). */
static int same_line(const struct line *l, const struct ppexp_table *t, size_t row, int off)
{
    for (int f = 0; f < PPEXP_NFACTORS; f++)
        if (f != PPEXP_F_REPLICAS && strcmp(l->key[f], ppexp_table_str(t, row, off + f)) != 0)
            return 0;
    return 1;
}

/* Which factors besides the panel's vary among the lines: they go into the
 * titles only then. */
/* The paper's names for forwarding on real Docker: Docker-NAT, Docker-Routing. */
static const char *docker_forwarding_name(const char *fwd)
{
    return strcmp(fwd, "nat") == 0     ? "Docker-NAT"
           : strcmp(fwd, "route") == 0 ? "Docker-Routing"
                                       : NULL;
}

static void line_title(const struct line *l, const int *varies, int skip, char *buf, size_t len)
{
    buf[0] = '\0';
    const char *docker = strcmp(l->key[PPEXP_F_RUNTIME], "docker") == 0
                             ? docker_forwarding_name(l->key[PPEXP_F_FORWARDING])
                             : NULL;
    for (int f = 0; f < PPEXP_NFACTORS; f++) {
        if (f == skip || f == PPEXP_F_REPLICAS || (docker && f == PPEXP_F_RUNTIME))
            continue;
        if (docker && f == PPEXP_F_FORWARDING) {
            size_t n = strlen(buf);
            snprintf(buf + n, len - n, "%s%s", n ? " " : "", docker);
            continue;
        }
        if (!varies[f] && f != PPEXP_F_FORWARDING && f != PPEXP_F_WORKER)
            continue;
        size_t n = strlen(buf);
        const char *sp = n ? " " : "";
        if (f == PPEXP_F_CACHE)
            snprintf(buf + n, len - n, "%s%s", sp,
                     strcmp(l->key[f], "true") == 0 ? "cache" : "nocache");
        else if (f == PPEXP_F_STRESS)
            snprintf(buf + n, len - n, "%sstress%s", sp, l->key[f]);
        else
            snprintf(buf + n, len - n, "%s%.23s", sp, l->key[f]);
    }
}

/* (cond ? $replicas : NaN): gnuplot skips points whose x is NaN. */
static void write_select(FILE *f, const struct line *l, int off, const char *extra)
{
    fputc('(', f);
    int first = 1;
    if (extra) {
        fputs(extra, f);
        first = 0;
    }
    for (int k = 0; k < PPEXP_NFACTORS; k++) {
        if (k == PPEXP_F_REPLICAS)
            continue;
        fprintf(f, "%sstrcol(%d) eq \"%s\"", first ? "" : " && ", off + k + 1, l->key[k]);
        first = 0;
    }
    fprintf(f, " ? $%d : NaN)", off + PPEXP_F_REPLICAS + 1);
}

static int run_gnuplot(const char *dir, const char *script, char *err, size_t errlen)
{
    char *argv[] = {"sh",        "-c",           "cd \"$0\" && exec gnuplot \"$1\" 2>&1",
                    (char *)dir, (char *)script, NULL};
    char out[1024];
    int rc = ppexp_child_capture(argv, out, sizeof(out), GNUPLOT_TIMEOUT_MS);
    if (rc != 0) {
        snprintf(err, errlen, "gnuplot %s/%s failed (exit %d): %.300s", dir, script, rc, out);
        return -1;
    }
    return 0;
}

/* The lines of a table (factor columns from off), the rows passing `keep`
 * (column kcol equal to kval; kcol < 0: all) and not the baseline. */
static int collect_lines(const struct ppexp_table *t, int off, int kcol, const char *kval,
                         struct line *lines, int *any_multi)
{
    int nlines = 0;
    for (size_t row = 0; row < t->nrows; row++) {
        if (strcmp(ppexp_table_str(t, row, off + PPEXP_F_FORWARDING), "direct") == 0)
            continue;
        if (kcol >= 0 && strcmp(ppexp_table_str(t, row, kcol), kval) != 0)
            continue;
        int found = -1;
        for (int i = 0; i < nlines; i++)
            if (same_line(&lines[i], t, row, off))
                found = i;
        if (found < 0 && nlines < PLOT_LINES_MAX) {
            found = nlines++;
            lines[found].points = 0;
            for (int f = 0; f < PPEXP_NFACTORS; f++)
                snprintf(lines[found].key[f], sizeof(lines[found].key[f]), "%s",
                         ppexp_table_str(t, row, off + f));
        }
        if (found >= 0 && ++lines[found].points > 1)
            *any_multi = 1;
    }
    return nlines;
}

static void lines_vary(const struct line *lines, int nlines, int *varies)
{
    memset(varies, 0, PPEXP_NFACTORS * sizeof(int));
    for (int i = 1; i < nlines; i++)
        for (int f = 0; f < PPEXP_NFACTORS; f++)
            if (strcmp(lines[i].key[f], lines[0].key[f]) != 0)
                varies[f] = 1;
}

/* The distinct values of column col (non-baseline rows), up to max. */
static int distinct(const struct ppexp_table *t, int col, int fwd_col, char vals[][24], int max)
{
    int n = 0;
    for (size_t row = 0; row < t->nrows; row++) {
        if (fwd_col >= 0 && strcmp(ppexp_table_str(t, row, fwd_col), "direct") == 0)
            continue;
        const char *v = ppexp_table_str(t, row, col);
        int i;
        for (i = 0; i < n && strcmp(vals[i], v) != 0; i++)
            ;
        if (i == n && n < max)
            snprintf(vals[n++], 24, "%s", v);
    }
    return n;
}

/* Fig. 4: time per request against proxies, one panel per worker, log y
 * (Squid and proxyd differ by 10x), from points.csv. */
static int plot_fig4(const char *dir, char *err, size_t errlen)
{
    char path[800];
    snprintf(path, sizeof(path), "%s/points.csv", dir);
    struct ppexp_table t;
    if (ppexp_table_read(path, &t, err, errlen) < 0)
        return -1;
    char workers[4][24];
    int nw = distinct(&t, PPEXP_F_WORKER, PPEXP_F_FORWARDING, workers, 4);
    struct line lines[4][PLOT_LINES_MAX];
    int nlines[4], any_multi = 0;
    for (int w = 0; w < nw; w++)
        nlines[w] = collect_lines(&t, 0, PPEXP_F_WORKER, workers[w], lines[w], &any_multi);
    double baselines[8];
    char base_title[8][64];
    int nbase = 0;
    for (size_t row = 0; row < t.nrows && nbase < 8; row++)
        if (strcmp(ppexp_table_str(&t, row, PPEXP_F_FORWARDING), "direct") == 0) {
            baselines[nbase] = ppexp_table_num(&t, row, PT_GM - 1);
            snprintf(base_title[nbase], sizeof(base_title[0]), "direct (stress %s, %s)",
                     ppexp_table_str(&t, row, PPEXP_F_STRESS),
                     ppexp_table_str(&t, row, PPEXP_F_PLACEMENT));
            nbase++;
        }
    ppexp_table_release(&t);
    if (!any_multi || nw == 0)
        return 0; /* one proxy count: nothing to draw against proxies */
    snprintf(path, sizeof(path), "%s/time_vs_proxies.gp", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    fprintf(f,
            "# Drawn by ppexp from points.csv (rerun: cd to this directory, gnuplot "
            "time_vs_proxies.gp).\n"
            "# Geometric mean time per request over the blocks against the number of proxies,\n"
            "# log y, one panel per worker. Bars: the paired 95%% interval of the point's ratio\n"
            "# to the same line's 1-proxy point, times that point (drift both share cancels);\n"
            "# at 1 proxy the point's own t interval on log times. Never negative.\n");
    int width = 80 + 460 * nw;
    fprintf(f, "set datafile separator ','\nset datafile missing ''\n"
               "set logscale x 2\nset logscale y\nset xlabel 'proxies'\n"
               "set ylabel 'time per request (ms, geometric mean), log scale'\n"
               "set key bottom right font ',8'\nset grid\n"
               "set autoscale yfix\nset offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05\n");
    /* Labelled tics at 1, 1.5, 2, 3, 5, 7 per decade: a log axis spanning
     * less than a decade would otherwise carry one label or none. */
    fprintf(f, "set ytics (");
    static const double steps[] = {1, 1.5, 2, 3, 5, 7};
    for (double dec = 0.1; dec < 2e5; dec *= 10)
        for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
            fprintf(f, "%s%g", dec == 0.1 && i == 0 ? "" : ", ", dec * steps[i]);
    fprintf(f, ")\n");
    fprintf(f, "lo(c) = valid(%d) ? column(%d) : column(%d)\n", PT_LO, PT_LO, PT_GM);
    fprintf(f, "hi(c) = valid(%d) ? column(%d) : column(%d)\n", PT_HI, PT_HI, PT_GM);
    fprintf(f,
            "do for [fmt in \"svg png\"] {\n"
            "  if (fmt eq \"svg\") { set terminal svg size %d,520 dynamic enhanced font "
            "'sans,11'; set output 'time_vs_proxies.svg' }\n"
            "  if (fmt eq \"png\") { set terminal pngcairo size %d,520 font 'sans,10'; "
            "set output 'time_vs_proxies.png' }\n"
            "  set multiplot layout 1,%d title 'Processing time vs number of proxies (paired "
            "95%% intervals; n blocks in points.csv)'\n",
            width, width, nw);
    for (int w = 0; w < nw; w++) {
        int varies[PPEXP_NFACTORS];
        lines_vary(lines[w], nlines[w], varies);
        fprintf(f, "  set title '%s'\n  plot \\\n", workers[w]);
        for (int i = 0; i < nlines[w]; i++) {
            char title[200];
            line_title(&lines[w][i], varies, PPEXP_F_WORKER, title, sizeof(title));
            fprintf(f, "    'points.csv' every ::1 using ");
            write_select(f, &lines[w][i], 0, NULL);
            fprintf(f, ":%d:(lo(0)):(hi(0)) with yerrorlines lw 2 title '%s'%s\n", PT_GM, title,
                    i + 1 < nlines[w] || nbase ? ", \\" : "");
        }
        for (int i = 0; i < nbase; i++)
            fprintf(f, "    %.4f with lines dt 2 lc rgb 'gray40' title '%s'%s\n", baselines[i],
                    base_title[i], i + 1 < nbase ? ", \\" : "");
    }
    fprintf(f, "  unset multiplot\n  unset output\n}\n");
    fclose(f);
    return run_gnuplot(dir, "time_vs_proxies.gp", err, errlen);
}

/* The ratios nat/route and N/1 with their paired intervals and the
 * equivalence band, one panel per comparison, from ratios.csv. */
static int plot_ratios(const char *dir, char *err, size_t errlen)
{
    char path[800];
    snprintf(path, sizeof(path), "%s/ratios.csv", dir);
    struct ppexp_table t;
    if (ppexp_table_read(path, &t, err, errlen) < 0)
        return -1;
    static const char *const comps[] = {"nat/route", "N/1"};
    struct line lines[2][PLOT_LINES_MAX];
    int nlines[2], any = 0, unused = 0;
    for (int c = 0; c < 2; c++) {
        nlines[c] = collect_lines(&t, RA_OFF, 0, comps[c], lines[c], &unused);
        any += nlines[c] > 0;
    }
    double band_lo = t.nrows ? ppexp_table_num(&t, 0, RA_BAND_LO - 1) : NAN;
    double band_hi = t.nrows ? ppexp_table_num(&t, 0, RA_BAND_HI - 1) : NAN;
    /* The y range: every bar and the band, with a little room (log
     * autoscaling would stretch to whole decades and flatten them). */
    double ymin = isfinite(band_lo) ? band_lo : 1, ymax = isfinite(band_hi) ? band_hi : 1;
    for (size_t row = 0; row < t.nrows; row++)
        for (int c = RA_RATIO; c <= RA_HI; c++) {
            double v = ppexp_table_num(&t, row, c - 1);
            if (isfinite(v) && v > 0) {
                ymin = fmin(ymin, v);
                ymax = fmax(ymax, v);
            }
        }
    ppexp_table_release(&t);
    if (!any)
        return 0;
    snprintf(path, sizeof(path), "%s/ratios.gp", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    fprintf(f, "# Drawn by ppexp from ratios.csv (rerun: cd to this directory, gnuplot "
               "ratios.gp).\n"
               "# Paired geometric-mean ratios with their intervals (t on per-block "
               "log-ratios);\n# the grey band is the equivalence margin.\n");
    fprintf(f, "set datafile separator ','\nset datafile missing ''\n"
               "set logscale x 2\nset logscale y\nset xlabel 'proxies'\nset grid\n"
               "set key bottom right font ',8'\nset offsets graph 0.05, graph 0.05, 0, 0\n");
    fprintf(f, "set yrange [%.6f:%.6f]\n", ymin / 1.03, ymax * 1.03);
    fprintf(f, "set ytics (0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1, 1.05, 1.1, 1.2, 1.3, 1.5, 2, "
               "3, 4)\n");
    fprintf(f, "lo(c) = valid(%d) ? column(%d) : column(%d)\n", RA_LO, RA_LO, RA_RATIO);
    fprintf(f, "hi(c) = valid(%d) ? column(%d) : column(%d)\n", RA_HI, RA_HI, RA_RATIO);
    if (isfinite(band_lo) && isfinite(band_hi))
        fprintf(f,
                "set object 1 rect from graph 0, first %.6f to graph 1, first %.6f behind "
                "fc rgb '#dddddd' fs solid noborder\n",
                band_lo, band_hi);
    fprintf(f,
            "do for [fmt in \"svg png\"] {\n"
            "  if (fmt eq \"svg\") { set terminal svg size %d,480 dynamic enhanced font "
            "'sans,11'; set output 'ratios.svg' }\n"
            "  if (fmt eq \"png\") { set terminal pngcairo size %d,480 font 'sans,10'; "
            "set output 'ratios.png' }\n"
            "  set multiplot layout 1,%d title 'Paired ratios with 95%% intervals; grey: "
            "equivalence band [%.3f, %.3f]'\n",
            80 + 480 * any, 80 + 480 * any, any, band_lo, band_hi);
    for (int c = 0; c < 2; c++) {
        if (!nlines[c])
            continue;
        int varies[PPEXP_NFACTORS];
        lines_vary(lines[c], nlines[c], varies);
        fprintf(f, "  set title '%s'\n  set ylabel '%s'\n  plot \\\n",
                c == 0 ? "NAT / routing, same proxies" : "N proxies / 1 proxy",
                c == 0 ? "time ratio nat / route" : "time ratio N / 1");
        for (int i = 0; i < nlines[c]; i++) {
            char title[200], extra[64];
            line_title(&lines[c][i], varies, c == 0 ? PPEXP_F_FORWARDING : -1, title,
                       sizeof(title));
            snprintf(extra, sizeof(extra), "strcol(1) eq \"%s\"", comps[c]);
            fprintf(f, "    'ratios.csv' every ::1 using ");
            write_select(f, &lines[c][i], RA_OFF, extra);
            fprintf(f, ":%d:(lo(0)):(hi(0)) with yerrorlines lw 2 title '%s', \\\n", RA_RATIO,
                    title);
        }
        fprintf(f, "    1 with lines lc rgb 'black' dt 2 notitle\n");
    }
    fprintf(f, "  unset multiplot\n  unset output\n}\n");
    fclose(f);
    return run_gnuplot(dir, "ratios.gp", err, errlen);
}

static int plot_bars(const char *dir, const struct ppexp_table *t, char *err, size_t errlen)
{
    char path[800];
    snprintf(path, sizeof(path), "%s/bars.gp", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    double width = 120 + 40.0 * (double)t->nrows;
    if (width < 640)
        width = 640;
    if (width > 4000)
        width = 4000;
    fprintf(f, "# Drawn by ppexp from results.csv (rerun: cd to this directory, gnuplot bars.gp).\n"
               "# Every configuration's mean time per request with its 95%% CI (Figs. 2, 3).\n");
    fprintf(f, "set datafile separator ','\nset datafile missing ''\n"
               "set style fill solid 0.6 border -1\nset boxwidth 0.7\n"
               "set ylabel 'mean time per request (ms), 95%% CI'\nset yrange [0:*]\n"
               "set xtics rotate by -45 font ',9' nomirror\nset grid ytics\nset key off\n"
               "set bmargin 12\n"
               "set title 'Processing time per configuration (forwarding runtime worker "
               "proxies)'\n");
    fprintf(f, "lo(c) = valid(%d) ? column(%d) : column(%d)\n", COL_LO, COL_LO, COL_MEAN);
    fprintf(f, "hi(c) = valid(%d) ? column(%d) : column(%d)\n", COL_HI, COL_HI, COL_MEAN);
    /* Real Docker's rows by the paper's names: Docker-NAT, Docker-Routing. */
    fprintf(f, "fwd(c) = strcol(4) ne 'docker' ? strcol(1).' '.strcol(4) : strcol(1) eq 'nat' ? "
               "'Docker-NAT' : strcol(1) eq 'route' ? 'Docker-Routing' : strcol(1).' docker'\n");
    fprintf(f, "label(c) = strcol(1) eq 'direct' ? 'direct (baseline)' : "
               "fwd(0).' '.strcol(3).' x'.strcol(2).(strcol(5) eq 'true' ? '' "
               ": ' nocache').(strcol(6) eq '0' ? '' : ' stress'.strcol(6)).' '.strcol(7)\n");
    fprintf(f,
            "do for [fmt in \"svg png\"] {\n"
            "  if (fmt eq \"svg\") { set terminal svg size %.0f,600 dynamic enhanced font "
            "'sans,11'; set output 'bars.svg' }\n"
            "  if (fmt eq \"png\") { set terminal pngcairo size %.0f,600 font 'sans,10'; "
            "set output 'bars.png' }\n",
            width, width);
    fprintf(f,
            "  plot 'results.csv' every ::1 using 0:%d:xtic(label(0)) with boxes lc rgb "
            "'#4a7ab5', \\\n       '' every ::1 using 0:%d:(lo(0)):(hi(0)) with yerrorbars "
            "lc rgb 'black' pt 0\n  unset output\n}\n",
            COL_MEAN, COL_MEAN);
    fclose(f);
    return run_gnuplot(dir, "bars.gp", err, errlen);
}

int ppexp_plot_dir(const char *dir, char *err, size_t errlen)
{
    char path[800];
    snprintf(path, sizeof(path), "%s/results.csv", dir);
    struct ppexp_table t;
    if (ppexp_table_read(path, &t, err, errlen) < 0)
        return -1;
    int rc = 0;
    if (t.ncols < COL_HI || ppexp_table_col(&t, "mean_ms") != COL_MEAN - 1) {
        snprintf(err, errlen, "%s does not have results.csv's columns", path);
        rc = -1;
    } else if (t.nrows == 0) {
        snprintf(err, errlen, "%s has no rows", path);
        rc = -1;
    } else if (plot_bars(dir, &t, err, errlen) < 0 || plot_fig4(dir, err, errlen) < 0 ||
               plot_ratios(dir, err, errlen) < 0) {
        rc = -1;
    }
    ppexp_table_release(&t);
    return rc;
}
