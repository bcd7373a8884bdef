/* Documents of the balancer's state (see backendview.h). */
#include "backendview.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "backend.h"
#include "balancer.h"
#include "histogram.h"
#include "prom.h"

static void iso_time(int64_t ms, char *out, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char day[32];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", day, (int)(ms % 1000));
}

static double ms3(double us)
{
    /* Milliseconds to the microsecond: readable, and exact enough. */
    return (double)(long long)(us + 0.5) / 1000.0;
}

/* p50/p90/p99 of h in ms, or null when nothing was measured. */
static void add_percentile(cJSON *o, const char *name, const struct histogram *h, double pct)
{
    if (histogram_count(h) == 0)
        cJSON_AddNullToObject(o, name);
    else
        cJSON_AddNumberToObject(o, name, ms3((double)histogram_percentile_us(h, pct)));
}

cJSON *backendview_backend(const struct balancer *bal, const struct backend *b)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    char a[ADDR_STRLEN];
    cJSON_AddStringToObject(o, "name", b->spec.name);
    addr_format(&b->spec.address, a, sizeof(a));
    cJSON_AddStringToObject(o, "address", a);
    if (b->spec.has_health) {
        addr_format(&b->spec.health, a, sizeof(a));
        cJSON_AddStringToObject(o, "health", a);
    } else {
        cJSON_AddNullToObject(o, "health");
    }
    cJSON_AddNumberToObject(o, "weight", b->spec.weight);
    cJSON_AddStringToObject(o, "state", backend_state_name(b->state));
    cJSON_AddBoolToObject(o, "removed", b->removed);
    cJSON_AddBoolToObject(o, "slowstart", b->slowstart);
    cJSON_AddNumberToObject(o, "active", (double)b->active);
    cJSON_AddNumberToObject(o, "total", (double)b->total);
    cJSON_AddNumberToObject(o, "connect_failures", (double)b->connect_failures);
    cJSON_AddNumberToObject(o, "connect_timeouts", (double)b->timeouts);
    cJSON_AddNumberToObject(o, "resets", (double)b->resets);
    cJSON_AddNumberToObject(o, "bytes_in", (double)b->bytes_in);
    cJSON_AddNumberToObject(o, "bytes_out", (double)b->bytes_out);
    int64_t now = balancer_now_us();
    cJSON_AddNumberToObject(
        o, "ewma_ms", ms3(ewma_get(&b->ewma, now, (double)bal->cfg->ewma_decay_ms * 1000.0)));
    cJSON_AddBoolToObject(o, "ewma_measured", b->ewma.measured);
    cJSON_AddNumberToObject(o, "samples", (double)histogram_count(b->ttfb_us));
    add_percentile(o, "p50_ms", b->ttfb_us, 50);
    add_percentile(o, "p90_ms", b->ttfb_us, 90);
    add_percentile(o, "p99_ms", b->ttfb_us, 99);
    cJSON *c = cJSON_AddObjectToObject(o, "connect_ms");
    if (c) {
        add_percentile(c, "p50", b->connect_us, 50);
        add_percentile(c, "p90", b->connect_us, 90);
        add_percentile(c, "p99", b->connect_us, 99);
    }
    cJSON_AddStringToObject(o, "last_check", b->last_check);
    cJSON *t = cJSON_AddArrayToObject(o, "transitions");
    size_t kept = b->nhistory < BACKEND_HISTORY ? b->nhistory : BACKEND_HISTORY;
    for (size_t i = b->nhistory - kept; t && i < b->nhistory; i++) {
        const struct backend_transition *tr = &b->history[i % BACKEND_HISTORY];
        cJSON *e = cJSON_CreateObject();
        if (!e)
            break;
        char at[40];
        iso_time(tr->at_ms, at, sizeof(at));
        cJSON_AddStringToObject(e, "at", at);
        cJSON_AddStringToObject(e, "from", backend_state_name(tr->from));
        cJSON_AddStringToObject(e, "to", backend_state_name(tr->to));
        cJSON_AddStringToObject(e, "cause", tr->cause);
        cJSON_AddItemToArray(t, e);
    }
    return o;
}

cJSON *backendview_set(const struct balancer *bal)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "algo", bal->cfg->algo);
    char at[40];
    iso_time(bal->epoch_started_ms, at, sizeof(at));
    cJSON_AddStringToObject(o, "epoch_started", at);
    cJSON *c = cJSON_AddObjectToObject(o, "connections");
    if (c) {
        cJSON_AddNumberToObject(c, "active", (double)bal->nrelays);
        cJSON_AddNumberToObject(c, "accepted", (double)bal->accepted);
        cJSON_AddNumberToObject(c, "refused_max_conns", (double)bal->refused_max_conns);
        cJSON_AddNumberToObject(c, "refused_no_backend", (double)bal->refused_no_backend);
        cJSON_AddNumberToObject(c, "redispatched", (double)bal->redispatched);
    }
    cJSON *arr = cJSON_AddArrayToObject(o, "backends");
    for (size_t i = 0; arr && i < bal->set->n; i++) {
        cJSON *b = backendview_backend(bal, bal->set->b[i]);
        if (!b) {
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddItemToArray(arr, b);
    }
    if (!arr) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

typedef double (*backend_value_fn)(const struct balancer *, const struct backend *);

static double v_up(const struct balancer *bal, const struct backend *b)
{
    return backend_eligible(b);
}
static double v_active(const struct balancer *bal, const struct backend *b)
{
    return (double)b->active;
}
static double v_total(const struct balancer *bal, const struct backend *b)
{
    return (double)b->total;
}
static double v_failures(const struct balancer *bal, const struct backend *b)
{
    return (double)(b->connect_failures + b->timeouts);
}
static double v_resets(const struct balancer *bal, const struct backend *b)
{
    return (double)b->resets;
}
static double v_bytes_in(const struct balancer *bal, const struct backend *b)
{
    return (double)b->bytes_in;
}
static double v_bytes_out(const struct balancer *bal, const struct backend *b)
{
    return (double)b->bytes_out;
}
static double v_ewma(const struct balancer *bal, const struct backend *b)
{
    return ewma_get(&b->ewma, balancer_now_us(), (double)bal->cfg->ewma_decay_ms * 1000.0) / 1e6;
}

static void per_backend(const struct balancer *bal, struct prom *p, const char *name,
                        enum prom_type type, const char *help, backend_value_fn fn)
{
    prom_family(p, name, type, help);
    for (size_t i = 0; i < bal->set->n; i++) {
        const struct backend *b = bal->set->b[i];
        struct prom_label l = {"backend", b->spec.name};
        prom_sample(p, name, &l, 1, fn(bal, b));
    }
}

void backendview_prom(const struct balancer *bal, struct prom *p)
{
    prom_gauge(p, "balancer_connections_active", "client connections open", NULL, 0,
               (double)bal->nrelays);
    prom_counter(p, "balancer_connections_accepted_total", "client connections accepted", NULL,
                 0, (double)bal->accepted);
    struct prom_label why[2] = {{"reason", "max_conns"}, {"reason", "no_backend"}};
    prom_family(p, "balancer_connections_refused_total", PROM_COUNTER,
                "client connections closed at once: over --max-conns, or no backend up");
    prom_sample(p, "balancer_connections_refused_total", &why[0], 1,
                (double)bal->refused_max_conns);
    prom_sample(p, "balancer_connections_refused_total", &why[1], 1,
                (double)bal->refused_no_backend);
    prom_counter(p, "balancer_redispatched_total",
                 "connections sent to another backend after a connect failed", NULL, 0,
                 (double)bal->redispatched);
    per_backend(bal, p, "balancer_backend_up", PROM_GAUGE, "1 when taking new connections",
                v_up);
    per_backend(bal, p, "balancer_backend_active", PROM_GAUGE, "connections open", v_active);
    per_backend(bal, p, "balancer_backend_connections_total", PROM_COUNTER,
                "connections sent to the backend", v_total);
    per_backend(bal, p, "balancer_backend_connect_failures_total", PROM_COUNTER,
                "connects refused, failed or timed out", v_failures);
    per_backend(bal, p, "balancer_backend_resets_total", PROM_COUNTER,
                "connections reset by the backend before any answer", v_resets);
    per_backend(bal, p, "balancer_backend_bytes_in_total", PROM_COUNTER,
                "bytes from the backend", v_bytes_in);
    per_backend(bal, p, "balancer_backend_bytes_out_total", PROM_COUNTER,
                "bytes to the backend", v_bytes_out);
    per_backend(bal, p, "balancer_backend_ewma_seconds", PROM_GAUGE,
                "peak-EWMA of time to first byte", v_ewma);
    for (size_t i = 0; i < bal->set->n; i++) {
        const struct backend *b = bal->set->b[i];
        struct prom_label l = {"backend", b->spec.name};
        prom_histogram(p, "balancer_backend_ttfb_seconds",
                       "time from the first byte sent to the backend to its first byte back", &l,
                       1, b->ttfb_us, prom_latency_bounds_s, prom_latency_nbounds);
    }
    for (size_t i = 0; i < bal->set->n; i++) {
        const struct backend *b = bal->set->b[i];
        struct prom_label l = {"backend", b->spec.name};
        prom_histogram(p, "balancer_backend_connect_seconds", "time to connect to the backend",
                       &l, 1, b->connect_us, prom_latency_bounds_s, prom_latency_nbounds);
    }
}

static int parse_entry(const cJSON *e, struct backend_spec *spec, char *err, size_t errlen)
{
    if (cJSON_IsString(e))
        return backend_spec_parse(e->valuestring, spec, err, errlen);
    if (!cJSON_IsObject(e)) {
        snprintf(err, errlen, "is neither an object nor a NAME=ADDR:PORT string");
        return -1;
    }
    memset(spec, 0, sizeof(*spec));
    spec->weight = 1;
    char e2[128];
    for (const cJSON *f = e->child; f; f = f->next) {
        if (strcmp(f->string, "name") == 0) {
            if (!cJSON_IsString(f) || !backend_name_valid(f->valuestring)) {
                snprintf(err, errlen, "\"name\" is not 1..63 of [A-Za-z0-9._-]");
                return -1;
            }
            snprintf(spec->name, sizeof(spec->name), "%s", f->valuestring);
        } else if (strcmp(f->string, "address") == 0 || strcmp(f->string, "health") == 0) {
            int health = f->string[0] == 'h';
            if (health && cJSON_IsNull(f))
                continue;
            if (!cJSON_IsString(f) ||
                addr_parse(f->valuestring, -1, health ? &spec->health : &spec->address, e2,
                           sizeof(e2)) < 0) {
                snprintf(err, errlen, "\"%s\": %s", f->string,
                         cJSON_IsString(f) ? e2 : "is not an ADDR:PORT string");
                return -1;
            }
            if (health)
                spec->has_health = 1;
        } else if (strcmp(f->string, "weight") == 0) {
            /* The range first: a cast to int of a double beyond INT_MAX
             * ({"weight": 1e300}) is undefined behaviour. */
            if (!cJSON_IsNumber(f) || !(f->valuedouble >= 1) ||
                f->valuedouble > BALANCER_WEIGHT_MAX ||
                f->valuedouble != (double)(int)f->valuedouble) {
                snprintf(err, errlen, "\"weight\" is not an integer in 1..%d",
                         BALANCER_WEIGHT_MAX);
                return -1;
            }
            spec->weight = (int)f->valuedouble;
        } else {
            snprintf(err, errlen, "unknown field \"%s\" (name, address, health, weight)",
                     f->string);
            return -1;
        }
    }
    if (!spec->name[0] || spec->address.len == 0) {
        snprintf(err, errlen, "needs \"name\" and \"address\"");
        return -1;
    }
    return 0;
}

int backendview_parse_set(const cJSON *body, struct backend_spec *specs, size_t max, char *err,
                          size_t errlen)
{
    const cJSON *arr = body;
    if (cJSON_IsObject(body)) {
        arr = cJSON_GetObjectItemCaseSensitive(body, "backends");
        for (const cJSON *f = body->child; f; f = f->next)
            if (strcmp(f->string, "backends") != 0) {
                snprintf(err, errlen, "unknown field \"%s\" (the body is {\"backends\": [...]})",
                         f->string);
                return -1;
            }
    }
    if (!cJSON_IsArray(arr)) {
        snprintf(err, errlen, "the body is {\"backends\": [...]} or an array of backends");
        return -1;
    }
    size_t n = 0;
    for (const cJSON *e = arr->child; e; e = e->next) {
        if (n == max) {
            snprintf(err, errlen, "more than %zu backends", max);
            return -1;
        }
        char why[192];
        if (parse_entry(e, &specs[n], why, sizeof(why)) < 0) {
            snprintf(err, errlen, "backend %zu: %s", n + 1, why);
            return -1;
        }
        for (size_t k = 0; k < n; k++)
            if (strcmp(specs[k].name, specs[n].name) == 0) {
                snprintf(err, errlen, "backend name '%s' given twice", specs[n].name);
                return -1;
            }
        n++;
    }
    return (int)n;
}
