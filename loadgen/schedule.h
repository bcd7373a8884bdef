/* An open-loop rate schedule (--rate-steps RATE:DURATION,...): the rate
 * steps up and down through the run, each step a fixed rate for a fixed
 * time, one after another from the start. Request i of a client is due at a
 * fixed offset from the run's start, as with a plain --rate; a step of rate
 * 0 is a pause. */
#ifndef PP_LOADGEN_SCHEDULE_H
#define PP_LOADGEN_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

/* Enough for a ramp up, a plateau and a ramp down in fine steps. */
#define LOADGEN_SCHEDULE_MAX_STEPS 64
/* As --rate's: a request every microsecond, per client. */
#define LOADGEN_SCHEDULE_MAX_RATE 1e6
/* One step at most a day: the run has to end. */
#define LOADGEN_SCHEDULE_MAX_STEP_MS (24u * 3600u * 1000u)

struct loadgen_step {
    double rate;       /* requests per second per client; 0 = a pause */
    uint64_t start_us; /* offset from the run's start */
    uint64_t dur_us;
    uint64_t first; /* the index of the step's first request */
    uint64_t count; /* requests due in the step: those at start + j/rate < its end */
};

struct loadgen_schedule {
    struct loadgen_step steps[LOADGEN_SCHEDULE_MAX_STEPS];
    size_t nsteps;
    uint64_t total_us;    /* the sum of the steps' durations */
    uint64_t total_count; /* requests per client over the whole schedule */
};

/* Parses "30:10s,150:20s,300:20s,30:30s" (rate:duration pairs, the
 * durations as --duration's: 500ms, 10s, 2m, a bare number is seconds).
 * 0, or -1 with err naming the bad pair and why; *s is then empty. */
int loadgen_schedule_parse(const char *text, struct loadgen_schedule *s, char *err, size_t errlen);
/* Request i's due time from the run's start; i < total_count. */
uint64_t loadgen_schedule_offset_us(const struct loadgen_schedule *s, uint64_t i);
/* How many requests are due at or before offset_us (at most total_count). */
uint64_t loadgen_schedule_due_by(const struct loadgen_schedule *s, uint64_t offset_us);
/* The rate in force at offset_us (0 past the end). */
double loadgen_schedule_rate_at(const struct loadgen_schedule *s, uint64_t offset_us);

#endif
