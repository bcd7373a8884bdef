/* The load-ramp summary's inputs and output as files: loadgen's --series
 * CSV, the replica samples CSV (t_s,ready), the rate schedule as loadgen's
 * --rate-steps text, and the summary as text (`ppexp ramp-summary`). */
#ifndef PPEXP_RAMP_FILES_H
#define PPEXP_RAMP_FILES_H

#include <stddef.h>
#include <stdio.h>

#include "ramp.h"

#define PPEXP_RAMP_MAX_STEPS 64

/* loadgen --series rows (second,offered,completed,errors,p99_ms,over_slo),
 * indexed by second; over_slo must be present (loadgen ran with --slo).
 * 0, or -1 with err naming the file and line. *out is the caller's to free. */
int ppexp_ramp_read_series(const char *path, struct ppexp_ramp_second **out, size_t *n, char *err,
                           size_t errlen);
/* "t_s,ready" rows after a header, t_s rising. Same conventions. */
int ppexp_ramp_read_samples(const char *path, struct ppexp_ramp_sample **out, size_t *n, char *err,
                            size_t errlen);
/* RATE:DURATION,... as loadgen's --rate-steps: the steps' start times and
 * rates; *end_s the schedule's length. */
int ppexp_ramp_parse_steps(const char *text, struct ppexp_ramp_step *out, size_t *n, double *end_s,
                           char *err, size_t errlen);
/* The summary: one line per step, then the changes of direction in each
 * step's settled part (from 10 s after it to the next) and their total. */
void ppexp_ramp_print(FILE *f, const struct ppexp_ramp_step *steps, size_t nsteps, double end_s,
                      const struct ppexp_ramp_step_result *res,
                      const struct ppexp_ramp_sample *samples, size_t nsamples);

#endif
