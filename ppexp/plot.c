/* gnuplot script generation. The scripts select rows of results.csv with
 * string tests on its factor columns, so rerunning one by hand redraws the
 * same figure from the same file. */
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

struct line {
    char key[PPEXP_NFACTORS][24]; /* factor values except replicas */
    int points;
};

static int same_line(const struct line *l, const struct ppexp_table *t, size_t row)
{
    for (int f = 0; f < PPEXP_NFACTORS; f++)
        if (f != PPEXP_F_REPLICAS && strcmp(l->key[f], ppexp_table_str(t, row, f)) != 0)
            return 0;
    return 1;
}

/* Which factors besides forwarding and worker vary among the lines: they go
 * into the titles only then. */
static void line_title(const struct line *l, const int *varies, char *buf, size_t len)
{
    snprintf(buf, len, "%.23s %.23s", l->key[PPEXP_F_FORWARDING], l->key[PPEXP_F_WORKER]);
    for (int f = 0; f < PPEXP_NFACTORS; f++) {
        if (!varies[f] || f == PPEXP_F_FORWARDING || f == PPEXP_F_WORKER || f == PPEXP_F_REPLICAS)
            continue;
        size_t n = strlen(buf);
        if (f == PPEXP_F_CACHE)
            snprintf(buf + n, len - n, " %s", strcmp(l->key[f], "true") == 0 ? "cache" : "nocache");
        else if (f == PPEXP_F_STRESS)
            snprintf(buf + n, len - n, " stress%s", l->key[f]);
        else
            snprintf(buf + n, len - n, " %.23s", l->key[f]);
    }
}

static void write_select(FILE *f, const struct line *l)
{
    /* (cond ? $2 : NaN): gnuplot skips points whose x is NaN. */
    fputc('(', f);
    int first = 1;
    for (int k = 0; k < PPEXP_NFACTORS; k++) {
        if (k == PPEXP_F_REPLICAS)
            continue;
        fprintf(f, "%sstrcol(%d) eq \"%s\"", first ? "" : " && ", k + 1, l->key[k]);
        first = 0;
    }
    fprintf(f, " ? $%d : NaN)", PPEXP_F_REPLICAS + 1);
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

static int plot_lines(const char *dir, const struct ppexp_table *t, char *err, size_t errlen)
{
    struct line lines[PLOT_LINES_MAX];
    int nlines = 0, any_multi = 0;
    double baselines[8];
    char base_title[8][64];
    int nbase = 0;
    for (size_t row = 0; row < t->nrows; row++) {
        if (strcmp(ppexp_table_str(t, row, PPEXP_F_FORWARDING), "direct") == 0) {
            if (nbase < 8) {
                baselines[nbase] = ppexp_table_num(t, row, COL_MEAN - 1);
                snprintf(base_title[nbase], sizeof(base_title[0]), "direct (stress %s, %s)",
                         ppexp_table_str(t, row, PPEXP_F_STRESS),
                         ppexp_table_str(t, row, PPEXP_F_PLACEMENT));
                nbase++;
            }
            continue;
        }
        int found = -1;
        for (int i = 0; i < nlines; i++)
            if (same_line(&lines[i], t, row))
                found = i;
        if (found < 0 && nlines < PLOT_LINES_MAX) {
            found = nlines++;
            lines[found].points = 0;
            for (int f = 0; f < PPEXP_NFACTORS; f++)
                snprintf(lines[found].key[f], sizeof(lines[found].key[f]), "%s",
                         ppexp_table_str(t, row, f));
        }
        if (found >= 0 && ++lines[found].points > 1)
            any_multi = 1;
    }
    if (!any_multi)
        return 0; /* one proxy count: nothing to draw against proxies */
    int varies[PPEXP_NFACTORS] = {0};
    for (int i = 1; i < nlines; i++)
        for (int f = 0; f < PPEXP_NFACTORS; f++)
            if (strcmp(lines[i].key[f], lines[0].key[f]) != 0)
                varies[f] = 1;
    char path[800];
    snprintf(path, sizeof(path), "%s/time_vs_proxies.gp", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    fprintf(f,
            "# Drawn by ppexp from results.csv (rerun: cd to this directory, gnuplot %s).\n"
            "# Mean time per request against the number of proxies, 95%% CI bars\n"
            "# (Student t over replicate means), one line per configuration.\n",
            "time_vs_proxies.gp");
    fprintf(f, "set datafile separator ','\nset datafile missing ''\n"
               "set logscale x 2\nset xlabel 'proxies'\n"
               "set ylabel 'mean time per request (ms), 95%% CI'\n"
               "set key outside right top\nset grid\nset yrange [0:*]\n"
               "set title 'Processing time vs number of proxies (n per point in results.csv)'\n");
    fprintf(f, "lo(c) = valid(%d) ? column(%d) : column(%d)\n", COL_LO, COL_LO, COL_MEAN);
    fprintf(f, "hi(c) = valid(%d) ? column(%d) : column(%d)\n", COL_HI, COL_HI, COL_MEAN);
    fprintf(f, "do for [fmt in \"svg png\"] {\n"
               "  if (fmt eq \"svg\") { set terminal svg size 960,560 dynamic enhanced font "
               "'sans,11'; set output 'time_vs_proxies.svg' }\n"
               "  if (fmt eq \"png\") { set terminal pngcairo size 960,560 font 'sans,10'; "
               "set output 'time_vs_proxies.png' }\n  plot \\\n");
    for (int i = 0; i < nlines; i++) {
        char title[200];
        line_title(&lines[i], varies, title, sizeof(title));
        fprintf(f, "    'results.csv' every ::1 using ");
        write_select(f, &lines[i]);
        fprintf(f, ":%d:(lo(0)):(hi(0)) with yerrorlines lw 2 title '%s'%s\n", COL_MEAN, title,
                i + 1 < nlines || nbase ? ", \\" : "");
    }
    for (int i = 0; i < nbase; i++)
        if (isfinite(baselines[i]))
            fprintf(f, "    %.4f with lines dt 2 lc rgb 'gray40' title '%s'%s\n", baselines[i],
                    base_title[i], i + 1 < nbase ? ", \\" : "");
    fprintf(f, "  unset output\n}\n");
    fclose(f);
    return run_gnuplot(dir, "time_vs_proxies.gp", err, errlen);
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
    fprintf(f, "label(c) = strcol(1) eq 'direct' ? 'direct (baseline)' : "
               "strcol(1).' '.strcol(4).' '.strcol(3).' x'.strcol(2).(strcol(5) eq 'true' ? '' "
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
    } else if (plot_lines(dir, &t, err, errlen) < 0 || plot_bars(dir, &t, err, errlen) < 0) {
        rc = -1;
    }
    ppexp_table_release(&t);
    return rc;
}
