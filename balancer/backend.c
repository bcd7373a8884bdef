/* Backends and the backend set (see backend.h). */
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "histogram.h"

int64_t balancer_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t balancer_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *backend_state_name(enum backend_state s)
{
    switch (s) {
    case BACKEND_UP:
        return "up";
    case BACKEND_DOWN:
        return "down";
    case BACKEND_DRAINING:
        return "draining";
    }
    return "?";
}

struct backend *backend_new(const struct backend_spec *spec, uint64_t id, double ewma_prior_us,
                            int64_t now)
{
    struct backend *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->magic = BACKEND_MAGIC;
    b->id = id;
    b->spec = *spec;
    b->connect_us = histogram_new();
    b->ttfb_us = histogram_new();
    if (!b->connect_us || !b->ttfb_us) {
        backend_free(b);
        return NULL;
    }
    /* A new backend starts up, as HAProxy's servers do: the manager adds
     * instances it has already seen healthy, and checks take it down within
     * fall intervals if it is not. */
    b->state = BACKEND_UP;
    b->up_since_us = now;
    ewma_init(&b->ewma, ewma_prior_us, now);
    snprintf(b->last_check, sizeof(b->last_check), "not checked yet");
    TAILQ_INIT(&b->relays);
    return b;
}

void backend_free(struct backend *b)
{
    if (!b)
        return;
    histogram_free(b->connect_us);
    histogram_free(b->ttfb_us);
    b->magic = 0;
    free(b);
}

void backend_transition(struct backend *b, enum backend_state to, const char *cause)
{
    struct backend_transition *t = &b->history[b->nhistory % BACKEND_HISTORY];
    t->at_ms = balancer_wall_ms();
    t->from = b->state;
    t->to = to;
    snprintf(t->cause, sizeof(t->cause), "%s", cause);
    b->nhistory++;
    b->state = to;
}

double backend_effective_weight(struct backend *b, int64_t now, int64_t slowstart_us)
{
    double w = b->spec.weight;
    if (!b->slowstart)
        return w;
    int64_t elapsed = now - b->up_since_us;
    if (slowstart_us <= 0 || elapsed >= slowstart_us) {
        b->slowstart = 0;
        return w;
    }
    /* HAProxy ramps linearly from almost nothing; starting at 10% keeps a
     * recovering backend in rotation enough to be measured. */
    double f = 0.1 + 0.9 * (double)elapsed / (double)slowstart_us;
    return w * f;
}

void backend_reset_stats(struct backend *b, double ewma_prior_us, int64_t now)
{
    b->total = 0;
    b->connect_failures = b->resets = b->timeouts = 0;
    b->bytes_in = b->bytes_out = 0;
    histogram_reset(b->connect_us);
    histogram_reset(b->ttfb_us);
    ewma_init(&b->ewma, ewma_prior_us, now);
}

struct backend_set *backend_set_new(void)
{
    struct backend_set *set = calloc(1, sizeof(*set));
    if (set)
        set->next_id = 1;
    return set;
}

void backend_set_free(struct backend_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        backend_free(set->b[i]);
    free(set);
}

struct backend *backend_set_find(const struct backend_set *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++)
        if (!set->b[i]->removed && strcmp(set->b[i]->spec.name, name) == 0)
            return set->b[i];
    return NULL;
}

size_t backend_set_members(const struct backend_set *set)
{
    size_t m = 0;
    for (size_t i = 0; i < set->n; i++)
        m += !set->b[i]->removed;
    return m;
}

struct backend *backend_set_add(struct backend_set *set, const struct backend_spec *spec,
                                double ewma_prior_us, int64_t now)
{
    if (backend_set_members(set) >= BALANCER_MAX_BACKENDS ||
        set->n >= sizeof(set->b) / sizeof(set->b[0]))
        return NULL;
    struct backend *b = backend_new(spec, set->next_id, ewma_prior_us, now);
    if (!b)
        return NULL;
    set->next_id++;
    set->b[set->n++] = b;
    set->generation++;
    return b;
}

void backend_set_remove(struct backend_set *set, struct backend *b, int64_t deadline_us,
                        const char *cause)
{
    if (b->removed)
        return;
    if (b->state != BACKEND_DRAINING)
        backend_transition(b, BACKEND_DRAINING, cause);
    b->removed = 1;
    if (!b->drain_deadline_us || deadline_us < b->drain_deadline_us)
        b->drain_deadline_us = deadline_us;
    set->generation++;
}

size_t backend_set_reap(struct backend_set *set)
{
    size_t freed = 0, j = 0;
    for (size_t i = 0; i < set->n; i++) {
        struct backend *b = set->b[i];
        if (b->removed && b->active == 0 && TAILQ_EMPTY(&b->relays)) {
            backend_free(b);
            freed++;
        } else {
            set->b[j++] = b;
        }
    }
    set->n = j;
    if (freed)
        set->generation++;
    return freed;
}
