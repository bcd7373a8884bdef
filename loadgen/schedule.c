/* The rate schedule: parsing, and the due time of each request. Times are
 * whole microseconds from the run's start, as the run's own clock. */
#include "schedule.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "size.h"

/* Requests in a step: the j with j/rate < dur, i.e. ceil(rate x dur); the
 * slack keeps 30/s x 10 s at 300, not 301, through rounding. */
static uint64_t step_count(double rate, uint64_t dur_us)
{
    if (rate <= 0)
        return 0;
    return (uint64_t)ceil(rate * (double)dur_us / 1e6 - 1e-9);
}

static int parse_pair(const char *pair, size_t len, double *rate, uint64_t *dur_ms, char *err,
                      size_t errlen)
{
    char buf[64];
    if (len == 0) {
        snprintf(err, errlen, "an empty step (two commas, or one at an end)");
        return -1;
    }
    if (len >= sizeof(buf)) {
        snprintf(err, errlen, "step '%.*s...' is too long", 20, pair);
        return -1;
    }
    memcpy(buf, pair, len);
    buf[len] = '\0';
    char *colon = strchr(buf, ':');
    if (!colon) {
        snprintf(err, errlen, "step '%s' is not RATE:DURATION", buf);
        return -1;
    }
    *colon = '\0';
    char *end;
    double r = strtod(buf, &end);
    if (end == buf || *end != '\0' || !(r >= 0) || r > LOADGEN_SCHEDULE_MAX_RATE) {
        snprintf(err, errlen, "step '%s:%s': rate '%s' is not a number in [0, %g] per second", buf,
                 colon + 1, buf, LOADGEN_SCHEDULE_MAX_RATE);
        return -1;
    }
    char inner[128];
    if (duration_parse_ms(colon + 1, dur_ms, inner, sizeof(inner)) < 0) {
        snprintf(err, errlen, "step '%s:%s': %s", buf, colon + 1, inner);
        return -1;
    }
    if (*dur_ms == 0 || *dur_ms > LOADGEN_SCHEDULE_MAX_STEP_MS) {
        snprintf(err, errlen, "step '%s:%s': a step lasts from 1ms to 24h", buf, colon + 1);
        return -1;
    }
    *rate = r;
    return 0;
}

int loadgen_schedule_parse(const char *text, struct loadgen_schedule *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (s->nsteps == LOADGEN_SCHEDULE_MAX_STEPS) {
            snprintf(err, errlen, "more than %d steps", LOADGEN_SCHEDULE_MAX_STEPS);
            goto fail;
        }
        double rate;
        uint64_t dur_ms;
        if (parse_pair(p, len, &rate, &dur_ms, err, errlen) < 0)
            goto fail;
        struct loadgen_step *st = &s->steps[s->nsteps++];
        st->rate = rate;
        st->start_us = s->total_us;
        st->dur_us = dur_ms * 1000u;
        st->first = s->total_count;
        st->count = step_count(rate, st->dur_us);
        s->total_us += st->dur_us;
        s->total_count += st->count;
        if (!comma)
            break;
        p = comma + 1;
    }
    if (s->total_count == 0) {
        snprintf(err, errlen, "every step has rate 0: nothing would be sent");
        goto fail;
    }
    return 0;
fail:
    memset(s, 0, sizeof(*s));
    return -1;
}

uint64_t loadgen_schedule_offset_us(const struct loadgen_schedule *s, uint64_t i)
{
    for (size_t k = 0; k < s->nsteps; k++) {
        const struct loadgen_step *st = &s->steps[k];
        if (i < st->first + st->count)
            return st->start_us + (uint64_t)((double)(i - st->first) * 1e6 / st->rate);
    }
    return s->total_us;
}

uint64_t loadgen_schedule_due_by(const struct loadgen_schedule *s, uint64_t offset_us)
{
    for (size_t k = 0; k < s->nsteps; k++) {
        const struct loadgen_step *st = &s->steps[k];
        if (offset_us >= st->start_us + st->dur_us)
            continue;
        if (st->count == 0)
            return st->first;
        /* Due at start + j/rate <= offset: j <= (offset - start) x rate. */
        uint64_t j = (uint64_t)floor((double)(offset_us - st->start_us) * st->rate / 1e6) + 1;
        /* The offsets are truncated to whole microseconds: step j back or on
         * until it agrees with them exactly. */
        while (j > 0 && loadgen_schedule_offset_us(s, st->first + j - 1) > offset_us)
            j--;
        while (j < st->count && loadgen_schedule_offset_us(s, st->first + j) <= offset_us)
            j++;
        return st->first + (j < st->count ? j : st->count);
    }
    return s->total_count;
}

double loadgen_schedule_rate_at(const struct loadgen_schedule *s, uint64_t offset_us)
{
    for (size_t k = 0; k < s->nsteps; k++) {
        if (offset_us < s->steps[k].start_us + s->steps[k].dur_us)
            return s->steps[k].rate;
    }
    return 0;
}
