/* Plots drawn from results.csv only (never from memory of a run): gnuplot
 * scripts written next to the CSVs and run there, each producing SVG and
 * PNG. time_vs_proxies: mean time per request against proxies on a log2
 * axis with 95% CI bars, one line per forwarding x worker (x runtime, cache,
 * stress, placement when they vary), the baseline dashed (the paper's
 * Fig. 4); bars: every configuration's mean with its CI (Figs. 2 and 3). */
#ifndef PPEXP_PLOT_H
#define PPEXP_PLOT_H

#include <stddef.h>

int ppexp_plot_dir(const char *dir, char *err, size_t errlen);

#endif
