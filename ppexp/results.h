/* The results directory's files: one record per finished run (summary.csv),
 * the per-configuration statistics computed from those records (results.csv
 * with the columns, stats.csv with the intervals and spreads that do
 * not fit there), meta.json (what ran, where, on what), and a small CSV
 * reader so plots and claims are drawn from the files, never from memory. */
#ifndef PPEXP_RESULTS_H
#define PPEXP_RESULTS_H

#include <stddef.h>
#include <stdio.h>

#include "plan.h"
#include "spec.h"

struct ppexp_run_record {
    size_t config; /* index into the plan */
    int replicate; /* 1-based */
    int seq;       /* position in the whole run order, 1-based */
    long requests, ok, errors;
    double mean_ms, p50_ms, p90_ms, p99_ms, max_ms, ttfb_ms; /* from loadgen's JSON */
    double rps, mbps, duration_s;
    double cpu_pct;     /* intermediate host, % of one core (top's convention) */
    double cpu_pct_all; /* the same, % of the cores it may use */
    double mem_pct;     /* mean over the run, % of the machine's memory */
    double mem_max_pct;
    double loadgen_cpu_pct;
    int saturated;
    double in_flight;         /* loadgen's time-average over the measured window */
    double little_ratio;      /* (in flight / mean time) / rps; 1 in one steady run */
    int little_ok;            /* within 10%; -1 when there is nothing to check */
    double cpu_ms_per_req;    /* intermediate host's CPU time per request */
    int primed;               /* passes that filled and checked the caches; 0: none (direct) */
    char json[256], csv[256]; /* paths relative to the results directory */
};

/* summary.csv: one row per finished run, rewritten whole (tmp + rename)
 * after every run so the directory is consistent at any moment. */
int ppexp_results_write_summary(const char *dir, const struct ppexp_plan *plan,
                                const struct ppexp_run_record *runs, size_t nruns, char *err,
                                size_t errlen);
/* results.csv and stats.csv from summary.csv (read back from dir). */
int ppexp_results_write_tables(const char *dir, char *err, size_t errlen);

/* A CSV file as strings (no quoting: ppexp's files have no commas in fields). */
struct ppexp_table {
    size_t ncols, nrows;
    char **header;
    char **cells; /* nrows x ncols */
};
int ppexp_table_read(const char *path, struct ppexp_table *t, char *err, size_t errlen);
void ppexp_table_release(struct ppexp_table *t);
/* Column index by name, -1 if none. */
int ppexp_table_col(const struct ppexp_table *t, const char *name);
const char *ppexp_table_str(const struct ppexp_table *t, size_t row, int col);
/* NAN for an empty or missing cell. */
double ppexp_table_num(const struct ppexp_table *t, size_t row, int col);

/* The factor columns shared by summary.csv and results.csv, in order. */
extern const char *const ppexp_results_factor_cols[PPEXP_NFACTORS];

/* The results table (results.csv) for a terminal. */
int ppexp_results_print(const char *dir, FILE *out, char *err, size_t errlen);

/* Writes a string to dir/name atomically (tmp + rename). */
int ppexp_write_file(const char *dir, const char *name, const char *text, char *err, size_t errlen);

#endif
