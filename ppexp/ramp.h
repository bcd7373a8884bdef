/* The load-ramp experiment's summary: from loadgen's per-second series
 * (--series with --slo) and the replica count sampled once a second, per
 * rate step up the time until one more replica served and the share of
 * requests over the target in the 10 s after the step, and over a steady
 * phase the changes of direction of the replica count (the autoscaler's
 * flapping). Pure computations, so they are tested without a testbed. */
#ifndef PPEXP_RAMP_H
#define PPEXP_RAMP_H

#include <stddef.h>
#include <stdint.h>

/* How long after a step its requests are judged (the 10 s). */
#define PPEXP_RAMP_AFTER_STEP_S 10

/* One second of loadgen's series: requests due in it. */
struct ppexp_ramp_second {
    uint64_t offered, completed, errors, over; /* over: completed slower than the target */
};

/* The replica count serving (ready) at t seconds from loadgen's start. */
struct ppexp_ramp_sample {
    double t_s;
    int ready;
};

struct ppexp_ramp_step {
    double at_s;        /* the step's start, from loadgen's start */
    double rate_before; /* the rate before it (0 for the first) */
    double rate;
};

struct ppexp_ramp_step_result {
    double to_replica_s; /* step to the first sample with more replicas; -1 none before the next
                            step (or the end) */
    uint64_t requests;   /* finished in the 10 s after the step (completed + errors) */
    uint64_t over;       /* of those, over the target or failed */
    double over_share;   /* over / requests; 0 with no requests */
};

/* For a step up (rate > rate_before): the first sample after at_s whose
 * count exceeds the count at at_s (the last sample at or before it), before
 * `until_s`; -1 when none. */
double ppexp_ramp_time_to_replica(const struct ppexp_ramp_sample *samples, size_t n, double at_s,
                                  double until_s);
/* Seconds [from, from + len) of the series: requests that finished and those
 * over the target (an error counts as over: the user did not get a timely
 * answer). */
void ppexp_ramp_over(const struct ppexp_ramp_second *series, size_t nseconds, size_t from,
                     size_t len, uint64_t *requests, uint64_t *over);
/* Changes of direction of the replica count among the samples in
 * [from_s, to_s): an increase followed (after any number of equal samples)
 * by a decrease, or the other way round. A single move up (or down) is 0. */
int ppexp_ramp_direction_changes(const struct ppexp_ramp_sample *samples, size_t n, double from_s,
                                 double to_s);
/* Every step's result: to_replica for steps up only (-1 for the others),
 * the over share for all. out has nsteps entries; end_s is the run's end. */
void ppexp_ramp_summarize(const struct ppexp_ramp_step *steps, size_t nsteps, double end_s,
                          const struct ppexp_ramp_second *series, size_t nseconds,
                          const struct ppexp_ramp_sample *samples, size_t nsamples,
                          struct ppexp_ramp_step_result *out);

#endif
