/* Peak-EWMA latency estimate (Finagle's and Linkerd's): a slower sample than
 * the estimate replaces it at once (peak-sensitive), a faster one pulls it
 * down with weight 1 - exp(-dt/tau), and with no sample the estimate decays
 * toward zero over tau, so a backend avoided for being slow is tried again.
 * Before the first sample the estimate is an explicit prior. */
#ifndef PP_BALANCER_EWMA_H
#define PP_BALANCER_EWMA_H

#include <stdint.h>

struct ewma {
    double value_us;  /* estimate at stamp_us */
    int64_t stamp_us; /* monotonic time of the last sample (or of the prior) */
    int measured;     /* 0 while value_us is the prior */
};

void ewma_init(struct ewma *e, double prior_us, int64_t now_us);
void ewma_observe(struct ewma *e, double sample_us, int64_t now_us, double tau_us);
/* The estimate now, decayed since the last sample; e is not changed. */
double ewma_get(const struct ewma *e, int64_t now_us, double tau_us);

#endif
