/* The pool as the REST API shows it: JSON documents for GET /v1/pool and
 * /v1/pool/instances/{id} (fields documented in docs/api.md),
 * and the pool's samples for /metrics. Everything is read through pool.h at
 * the moment of the request; nothing is cached (in balancer mode, each
 * document asks the balancer once for its backends' state and latency). */
#include "poolview.h"

#include <arpa/inet.h>
#include "steer.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "addr.h"
#include "forward/backendset.h"
#include "forward/forwarding.h"
#include "histogram.h"
#include "instance.h"
#include "pool.h"
#include "prom.h"
#include "stattab.h"

/* Every instance state, for /metrics: the enum's last value plus one. */
#define POOLVIEW_NSTATES (INSTANCE_FAILED + 1)

/* The pool's size as both GET /v1/pool and /metrics show it. */
struct pool_figures {
    uint64_t desired, ready;
};

static const struct stattab_field pool_fields[] = {
    {"replicas", "manager_replicas_desired", PROM_GAUGE, "Instances the pool is asked to run.",
     NULL, NULL, STATTAB_U64, offsetof(struct pool_figures, desired)},
    {"ready", "manager_replicas_ready", PROM_GAUGE, "Instances answering their health check.", NULL,
     NULL, STATTAB_U64, offsetof(struct pool_figures, ready)},
};

static void pool_figures_of(const struct pool *p, struct pool_figures *f)
{
    f->desired = (uint64_t)pool_desired(p);
    f->ready = pool_ready_count(p);
}

/* "2026-11-25T15:04:05.123Z" */
static void format_rfc3339(int64_t ms, char *out, size_t outlen)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char date[32];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03dZ", date, (int)(ms % 1000));
}

static cJSON *add_address(cJSON *o, const char *name, const struct addr *a)
{
    if (a->len == 0 || (a->ss.ss_family != AF_INET && a->ss.ss_family != AF_INET6))
        return cJSON_AddNullToObject(o, name);
    char text[ADDR_STRLEN];
    addr_format(a, text, sizeof(text));
    return cJSON_AddStringToObject(o, name, text);
}

/* What the mode measured of the instances, asked once per document. */
struct poolview_obs {
    int asked;  /* the mode measures something (balancer) */
    int failed; /* ... but could not be asked */
    size_t n;
    struct fwd_observation list[BACKENDSET_MAX];
};

static void obs_fetch(const struct steer *st, struct poolview_obs *obs)
{
    obs->asked = st && steer_observes(st);
    obs->failed = 0;
    obs->n = 0;
    char err[256];
    if (obs->asked && steer_observe(st, obs->list, BACKENDSET_MAX, &obs->n, err, sizeof(err)) < 0)
        obs->failed = 1;
}

static cJSON *add_ms(cJSON *o, const char *name, double ms)
{
    return ms < 0 ? cJSON_AddNullToObject(o, name) : cJSON_AddNumberToObject(o, name, ms);
}

/* "balancer": the backend named as the instance, null when the balancer
 * does not list it (not yet in the set) or could not be asked. A removed
 * backend still listed is the draining one (the set names each instance
 * once, so a later one of the same name is the current). */
static int add_observation(cJSON *o, const struct instance *in, const struct poolview_obs *obs)
{
    const struct fwd_observation *b = NULL;
    for (size_t i = 0; !obs->failed && i < obs->n; i++)
        if (strcmp(obs->list[i].name, in->name) == 0 && (!b || !obs->list[i].removed))
            b = &obs->list[i];
    if (!b)
        return cJSON_AddNullToObject(o, "balancer") != NULL;
    cJSON *j = cJSON_AddObjectToObject(o, "balancer");
    int ok = j != NULL;
    ok = ok && cJSON_AddStringToObject(j, "state", b->state) != NULL;
    ok = ok && cJSON_AddBoolToObject(j, "removed", b->removed) != NULL;
    ok = ok && cJSON_AddNumberToObject(j, "active", (double)b->active) != NULL;
    ok = ok && cJSON_AddNumberToObject(j, "total", (double)b->total) != NULL;
    ok = ok && add_ms(j, "ewma_ms", b->ewma_ms) != NULL;
    ok = ok && add_ms(j, "p50_ms", b->p50_ms) != NULL;
    ok = ok && add_ms(j, "p90_ms", b->p90_ms) != NULL;
    ok = ok && add_ms(j, "p99_ms", b->p99_ms) != NULL;
    ok = ok && (b->last_check[0] ? cJSON_AddStringToObject(j, "last_check", b->last_check)
                                 : cJSON_AddNullToObject(j, "last_check")) != NULL;
    return ok;
}

static cJSON *instance_json(const struct instance *in, const struct steer *st,
                            const struct poolview_obs *obs)
{
    char started[48];
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    ok = ok && cJSON_AddNumberToObject(o, "id", in->id) != NULL;
    ok = ok && cJSON_AddStringToObject(o, "name", in->name) != NULL;
    ok = ok && cJSON_AddStringToObject(o, "state", instance_state_name(in->state)) != NULL;
    ok = ok && add_address(o, "address", &in->address) != NULL;
    ok = ok && add_address(o, "admin", &in->admin) != NULL;
    if (in->pid > 0)
        ok = ok && cJSON_AddNumberToObject(o, "pid", in->pid) != NULL;
    else
        ok = ok && cJSON_AddNullToObject(o, "pid") != NULL;
    if (in->started_at_ms > 0) {
        format_rfc3339(in->started_at_ms, started, sizeof(started));
        ok = ok && cJSON_AddStringToObject(o, "started_at", started) != NULL;
    } else {
        ok = ok && cJSON_AddNullToObject(o, "started_at") != NULL;
    }
    if (in->ready_ms >= 0)
        ok = ok && cJSON_AddNumberToObject(o, "ready_ms", (double)in->ready_ms) != NULL;
    else
        ok = ok && cJSON_AddNullToObject(o, "ready_ms") != NULL;
    ok = ok && cJSON_AddNumberToObject(o, "restarts", in->restarts) != NULL;
    /* The last crash or restart: when, and how the process ended. */
    if (ok && in->last_exit_at_ms > 0) {
        char at[48];
        format_rfc3339(in->last_exit_at_ms, at, sizeof(at));
        cJSON *e = cJSON_AddObjectToObject(o, "last_exit");
        ok = e != NULL && cJSON_AddStringToObject(e, "at", at) != NULL &&
             cJSON_AddStringToObject(e, "how", in->last_exit) != NULL;
    } else {
        ok = ok && cJSON_AddNullToObject(o, "last_exit") != NULL;
    }
    /* Its block of clients, when a forwarding mode partitions them. */
    const struct partition_block *b = st ? steer_block(st, in->id) : NULL;
    if (ok && b) {
        char first[INET_ADDRSTRLEN] = "", last[INET_ADDRSTRLEN] = "";
        struct in_addr fa = {htonl(b->first)}, la = {htonl(b->last)};
        inet_ntop(AF_INET, &fa, first, sizeof(first));
        inet_ntop(AF_INET, &la, last, sizeof(last));
        cJSON *c = cJSON_AddObjectToObject(o, "clients");
        ok = c != NULL;
        ok = ok && (b->count ? cJSON_AddStringToObject(c, "first", first)
                             : cJSON_AddNullToObject(c, "first")) != NULL;
        ok = ok && (b->count ? cJSON_AddStringToObject(c, "last", last)
                             : cJSON_AddNullToObject(c, "last")) != NULL;
        ok = ok && cJSON_AddNumberToObject(c, "count", b->count) != NULL;
    }
    if (ok && obs->asked)
        ok = add_observation(o, in, obs);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

struct cJSON *poolview_instance_json(const struct instance *in, const struct steer *st)
{
    static struct poolview_obs obs; /* ~25 KiB: off the stack; the loop is single-threaded */
    obs_fetch(st, &obs);
    return instance_json(in, st, &obs);
}

struct cJSON *poolview_json(const struct pool *p, const struct steer *st)
{
    const struct instance *list[POOL_MAX_INSTANCES];
    size_t n = pool_list(p, list, POOL_MAX_INSTANCES);
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    ok = ok && cJSON_AddStringToObject(o, "runtime", pool_runtime_name(p)) != NULL;
    ok = ok && cJSON_AddStringToObject(o, "worker", pool_worker_name(p)) != NULL;
    struct pool_figures f;
    pool_figures_of(p, &f);
    ok = ok && stattab_write_json(o, pool_fields, STATTAB_COUNT(pool_fields), &f) == 0;
    /* The last scale step's timings (ms from its start; null when the step
     * had no such phase) and its drains. */
    const struct pool_step *step = pool_last_step(p);
    cJSON *ls = ok ? cJSON_AddObjectToObject(o, "last_step") : NULL;
    ok = ls != NULL;
    const struct {
        const char *name;
        int64_t v;
    } phases[] = {
        {"ready_ms", step->ready_ms}, {"rules_ms", step->rules_ms}, {"drain_ms", step->drain_ms}};
    for (size_t i = 0; ok && i < sizeof(phases) / sizeof(phases[0]); i++)
        ok = (phases[i].v >= 0 ? cJSON_AddNumberToObject(ls, phases[i].name, (double)phases[i].v)
                               : cJSON_AddNullToObject(ls, phases[i].name)) != NULL;
    /* How long the rule swap itself took (the forwarding mode's apply). */
    if (ok && st && step->rules_ms >= 0)
        ok =
            cJSON_AddNumberToObject(ls, "swap_ms", (double)steer_last_swap_us(st) / 1000.0) != NULL;
    ok = ok && cJSON_AddNumberToObject(ls, "drained", (double)step->drained) != NULL;
    ok = ok && cJSON_AddNumberToObject(ls, "cut", (double)step->cut) != NULL;
    static struct poolview_obs obs;
    obs_fetch(st, &obs);
    cJSON *arr = ok ? cJSON_AddArrayToObject(o, "instances") : NULL;
    ok = arr != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        cJSON *in = instance_json(list[i], st, &obs);
        ok = in != NULL && cJSON_AddItemToArray(arr, in);
        if (!ok)
            cJSON_Delete(in);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

void poolview_prom(const struct pool *p, struct prom *out)
{
    struct pool_figures f;
    pool_figures_of(p, &f);
    stattab_write_prom(out, pool_fields, STATTAB_COUNT(pool_fields), &f);
    prom_family(out, "manager_instances", PROM_GAUGE, "Instances by state.");
    for (int s = 0; s < POOLVIEW_NSTATES; s++) {
        struct prom_label l = {"state", instance_state_name((enum instance_state)s)};
        prom_sample(out, "manager_instances", &l, 1,
                    (double)pool_count_state(p, (enum instance_state)s));
    }
    prom_counter(out, "manager_restarts_total",
                 "Instance restarts, after crashes and when asked through the API.", NULL, 0,
                 (double)pool_restarts_total(p));
    const struct histogram *h = pool_ready_histogram(p);
    if (h != NULL)
        prom_histogram(out, "manager_instance_ready_seconds",
                       "Instantiation time: from spawn to the first healthy answer.", NULL, 0, h,
                       prom_latency_bounds_s, prom_latency_nbounds);
}
