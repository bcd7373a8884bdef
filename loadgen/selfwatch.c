/* The self-watch: a persistent 10 ms timer compares each firing with when
 * it was due; getrusage brackets the run for CPU. */
#include "selfwatch.h"

#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <event2/event.h>

#include "histogram.h"
#include "timeutil.h"

struct loadgen_selfwatch {
    struct event_base *base;
    struct event *tick;
    struct histogram *lag;
    uint64_t due_us;
    uint64_t start_us, stop_us;
    uint64_t cpu_start_us, cpu_stop_us;
    int running;
};

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return 0;
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct loadgen_selfwatch *w = arg;
    uint64_t now = mono_us();
    histogram_record(w->lag, now > w->due_us ? now - w->due_us : 0);
    /* libevent re-arms a persistent timer a period after it was due, or a
     * period from now when that is already past. */
    w->due_us += LOADGEN_LAG_TICK_US;
    if (w->due_us < now)
        w->due_us = now + LOADGEN_LAG_TICK_US;
}

struct loadgen_selfwatch *loadgen_selfwatch_new(struct event_base *base)
{
    struct loadgen_selfwatch *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->base = base;
    w->lag = histogram_new();
    w->tick = event_new(base, -1, EV_PERSIST, on_tick, w);
    if (!w->lag || !w->tick) {
        loadgen_selfwatch_free(w);
        return NULL;
    }
    return w;
}

void loadgen_selfwatch_free(struct loadgen_selfwatch *w)
{
    if (!w)
        return;
    if (w->tick)
        event_free(w->tick);
    histogram_free(w->lag);
    free(w);
}

int loadgen_selfwatch_start(struct loadgen_selfwatch *w)
{
    struct timeval tv = tv_from_us(LOADGEN_LAG_TICK_US);
    w->start_us = mono_us();
    w->cpu_start_us = cpu_us();
    w->due_us = w->start_us + LOADGEN_LAG_TICK_US;
    w->running = 1;
    return event_add(w->tick, &tv);
}

void loadgen_selfwatch_stop(struct loadgen_selfwatch *w)
{
    if (!w->running)
        return;
    event_del(w->tick);
    w->stop_us = mono_us();
    w->cpu_stop_us = cpu_us();
    w->running = 0;
}

double loadgen_selfwatch_cpu_pct(const struct loadgen_selfwatch *w)
{
    uint64_t wall = (w->running ? mono_us() : w->stop_us) - w->start_us;
    uint64_t cpu = (w->running ? cpu_us() : w->cpu_stop_us) - w->cpu_start_us;
    return wall > 0 ? 100.0 * (double)cpu / (double)wall : 0.0;
}

uint64_t loadgen_selfwatch_lag_p99_us(const struct loadgen_selfwatch *w)
{
    return histogram_percentile_us(w->lag, 99);
}

uint64_t loadgen_selfwatch_lag_max_us(const struct loadgen_selfwatch *w)
{
    return histogram_max_us(w->lag);
}

int loadgen_selfwatch_is_saturated(double cpu_pct, uint64_t lag_p99_us, uint64_t run_us)
{
    if (run_us < LOADGEN_SATURATED_MIN_RUN_US)
        return 0;
    return cpu_pct >= LOADGEN_SATURATED_CPU_PCT || lag_p99_us >= LOADGEN_SATURATED_LAG_US;
}
