/* The load-ramp summary's computations (see ramp.h). */
#include "ramp.h"

/* The count serving at t: the last sample at or before it; the first
 * sample's when t is before every sample; 0 with none. */
static int ready_at(const struct ppexp_ramp_sample *samples, size_t n, double t_s)
{
    int ready = n > 0 ? samples[0].ready : 0;
    for (size_t i = 0; i < n && samples[i].t_s <= t_s; i++)
        ready = samples[i].ready;
    return ready;
}

double ppexp_ramp_time_to_replica(const struct ppexp_ramp_sample *samples, size_t n, double at_s,
                                  double until_s)
{
    int before = ready_at(samples, n, at_s);
    for (size_t i = 0; i < n && samples[i].t_s < until_s; i++) {
        if (samples[i].t_s > at_s && samples[i].ready > before)
            return samples[i].t_s - at_s;
    }
    return -1;
}

void ppexp_ramp_over(const struct ppexp_ramp_second *series, size_t nseconds, size_t from,
                     size_t len, uint64_t *requests, uint64_t *over)
{
    *requests = 0;
    *over = 0;
    for (size_t s = from; s < from + len && s < nseconds; s++) {
        *requests += series[s].completed + series[s].errors;
        *over += series[s].over + series[s].errors;
    }
}

int ppexp_ramp_direction_changes(const struct ppexp_ramp_sample *samples, size_t n, double from_s,
                                 double to_s)
{
    int changes = 0, last_dir = 0, have_prev = 0, prev = 0;
    for (size_t i = 0; i < n; i++) {
        if (samples[i].t_s < from_s || samples[i].t_s >= to_s)
            continue;
        if (have_prev && samples[i].ready != prev) {
            int dir = samples[i].ready > prev ? 1 : -1;
            if (last_dir != 0 && dir != last_dir)
                changes++;
            last_dir = dir;
        }
        prev = samples[i].ready;
        have_prev = 1;
    }
    return changes;
}

void ppexp_ramp_summarize(const struct ppexp_ramp_step *steps, size_t nsteps, double end_s,
                          const struct ppexp_ramp_second *series, size_t nseconds,
                          const struct ppexp_ramp_sample *samples, size_t nsamples,
                          struct ppexp_ramp_step_result *out)
{
    for (size_t k = 0; k < nsteps; k++) {
        const struct ppexp_ramp_step *st = &steps[k];
        double until = k + 1 < nsteps ? steps[k + 1].at_s : end_s;
        struct ppexp_ramp_step_result *r = &out[k];
        r->to_replica_s = st->rate > st->rate_before
                              ? ppexp_ramp_time_to_replica(samples, nsamples, st->at_s, until)
                              : -1;
        size_t from = st->at_s > 0 ? (size_t)st->at_s : 0;
        ppexp_ramp_over(series, nseconds, from, PPEXP_RAMP_AFTER_STEP_S, &r->requests, &r->over);
        r->over_share = r->requests ? (double)r->over / (double)r->requests : 0;
    }
}
