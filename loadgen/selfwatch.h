/* loadgen watching itself: its CPU time over the run (getrusage) and how
 * late its event loop runs (a 10 ms timer records how late each tick
 * fires). Either near its limit means the latencies measure loadgen, not
 * the system under test, and the run is flagged as saturated. */
#ifndef PP_LOADGEN_SELFWATCH_H
#define PP_LOADGEN_SELFWATCH_H

#include <stdint.h>

struct event_base;

/* The tick that measures the loop's lag. */
#define LOADGEN_LAG_TICK_US 10000
/* Saturated at 90% of one core (the notes' 80% is for a shared client box;
 * a single-threaded loop at 90% already queues events), or when the loop
 * runs one whole tick late at p99. */
#define LOADGEN_SATURATED_CPU_PCT 90.0
#define LOADGEN_SATURATED_LAG_US 10000
/* Shorter runs are mostly start-up: their CPU share says nothing. */
#define LOADGEN_SATURATED_MIN_RUN_US 500000

struct loadgen_selfwatch;

struct loadgen_selfwatch *loadgen_selfwatch_new(struct event_base *base);
void loadgen_selfwatch_free(struct loadgen_selfwatch *w);
/* Starts the clock, the CPU count and the tick; 0 or -1. */
int loadgen_selfwatch_start(struct loadgen_selfwatch *w);
/* Stops the tick; the figures below then cover start..stop. */
void loadgen_selfwatch_stop(struct loadgen_selfwatch *w);
double loadgen_selfwatch_cpu_pct(const struct loadgen_selfwatch *w); /* % of one core */
uint64_t loadgen_selfwatch_lag_p99_us(const struct loadgen_selfwatch *w);
uint64_t loadgen_selfwatch_lag_max_us(const struct loadgen_selfwatch *w);

/* The rule above, on its own so it can be tested. */
int loadgen_selfwatch_is_saturated(double cpu_pct, uint64_t lag_p99_us, uint64_t run_us);

#endif
