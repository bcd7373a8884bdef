/* Plots drawn from the CSVs only (never from memory of a run): gnuplot
 * scripts written next to the CSVs and run there, each producing SVG and
 * PNG. time_vs_proxies (points.csv): the paper's Fig. 4, geometric-mean
 * time per request against proxies, log2 x and log y, one panel per worker,
 * one line per forwarding (x runtime, cache, stress, placement when they
 * vary), bars from the paired intervals, the baseline dashed; ratios
 * (ratios.csv): nat/route and N/1 with their paired intervals and the
 * equivalence band; bars (results.csv): every configuration's mean with its
 * CI (Figs. 2 and 3). claims.c writes points.csv and ratios.csv first. */
#ifndef PPEXP_PLOT_H
#define PPEXP_PLOT_H

#include <stddef.h>

int ppexp_plot_dir(const char *dir, char *err, size_t errlen);

#endif
