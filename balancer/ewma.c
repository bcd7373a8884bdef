/* Peak-EWMA (see ewma.h): the latency score p2c-ewma picks by. */
#include "ewma.h"

#include <math.h>

void ewma_init(struct ewma *e, double prior_us, int64_t now_us)
{
    e->value_us = prior_us;
    e->stamp_us = now_us;
    e->measured = 0;
}

static double decay_weight(int64_t dt_us, double tau_us)
{
    if (dt_us <= 0)
        return 1.0;
    return exp(-(double)dt_us / tau_us);
}

void ewma_observe(struct ewma *e, double sample_us, int64_t now_us, double tau_us)
{
    if (sample_us < 0)
        sample_us = 0;
    /* The prior is only for a backend never measured: its first sample is
     * the best estimate there is (a 30 ms prior would otherwise keep a new
     * 1 ms backend out of rotation for half a minute). */
    if (!e->measured || sample_us > e->value_us) {
        e->value_us = sample_us;
    } else {
        double w = decay_weight(now_us - e->stamp_us, tau_us);
        e->value_us = e->value_us * w + sample_us * (1.0 - w);
    }
    e->measured = 1;
    if (now_us > e->stamp_us)
        e->stamp_us = now_us;
}

double ewma_get(const struct ewma *e, int64_t now_us, double tau_us)
{
    return e->value_us * decay_weight(now_us - e->stamp_us, tau_us);
}
