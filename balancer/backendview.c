/* Documents of the balancer's state (see backendview.h). */
#include "backendview.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "backend.h"
#include "backendset_json.h"
#include "balancer.h"
#include "histogram.h"
#include "prom.h"
#include "stattab.h"

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

/* A percentile of h in ms, or -1 (null) when nothing was measured. */
static double percentile_ms(const struct histogram *h, double pct)
{
    return histogram_count(h) == 0 ? -1 : ms3((double)histogram_percentile_us(h, pct));
}

/* The balancer's own connection figures: the "connections" object of the
 * set document and the first families of /metrics. */
struct conn_figures {
    uint64_t active, accepted, refused_max_conns, refused_no_backend, redispatched;
};

#define CF(field) offsetof(struct conn_figures, field)

static const struct stattab_field conn_fields[] = {
    {"connections.active", "balancer_connections_active", PROM_GAUGE, "client connections open",
     NULL, NULL, STATTAB_U64, CF(active)},
    {"connections.accepted", "balancer_connections_accepted_total", PROM_COUNTER,
     "client connections accepted", NULL, NULL, STATTAB_U64, CF(accepted)},
    {"connections.refused_max_conns", "balancer_connections_refused_total", PROM_COUNTER,
     "client connections closed at once: over --max-conns, or no backend up", "reason", "max_conns",
     STATTAB_U64, CF(refused_max_conns)},
    {"connections.refused_no_backend", "balancer_connections_refused_total", PROM_COUNTER,
     "client connections closed at once: over --max-conns, or no backend up", "reason",
     "no_backend", STATTAB_U64, CF(refused_no_backend)},
    {"connections.redispatched", "balancer_redispatched_total", PROM_COUNTER,
     "connections sent to another backend after a connect failed", NULL, NULL, STATTAB_U64,
     CF(redispatched)},
};

static void conn_figures_of(const struct balancer *bal, struct conn_figures *cf)
{
    cf->active = bal->nrelays;
    cf->accepted = bal->accepted;
    cf->refused_max_conns = bal->refused_max_conns;
    cf->refused_no_backend = bal->refused_no_backend;
    cf->redispatched = bal->redispatched;
}

/* A backend's figures for /metrics: those the status document carries,
 * plus the ones only /metrics shows (in its units: seconds, not ms). */
struct backend_figures {
    struct backendset_status st;
    double up;                 /* takes new connections */
    uint64_t connect_failures; /* refused, failed or timed out */
    double ewma_s;
};

#define BF(field) offsetof(struct backend_figures, field)

static const struct stattab_field backend_fields[] = {
    {NULL, "balancer_backend_up", PROM_GAUGE, "1 when taking new connections", NULL, NULL,
     STATTAB_DOUBLE, BF(up)},
    {NULL, "balancer_backend_active", PROM_GAUGE, "connections open", NULL, NULL, STATTAB_U64,
     BF(st.active)},
    {NULL, "balancer_backend_connections_total", PROM_COUNTER, "connections sent to the backend",
     NULL, NULL, STATTAB_U64, BF(st.total)},
    {NULL, "balancer_backend_connect_failures_total", PROM_COUNTER,
     "connects refused, failed or timed out", NULL, NULL, STATTAB_U64, BF(connect_failures)},
    {NULL, "balancer_backend_resets_total", PROM_COUNTER,
     "connections reset by the backend before any answer", NULL, NULL, STATTAB_U64, BF(st.resets)},
    {NULL, "balancer_backend_bytes_in_total", PROM_COUNTER, "bytes from the backend", NULL, NULL,
     STATTAB_U64, BF(st.bytes_in)},
    {NULL, "balancer_backend_bytes_out_total", PROM_COUNTER, "bytes to the backend", NULL, NULL,
     STATTAB_U64, BF(st.bytes_out)},
    {NULL, "balancer_backend_ewma_seconds", PROM_GAUGE, "peak-EWMA of time to first byte", NULL,
     NULL, STATTAB_DOUBLE, BF(ewma_s)},
};

static void backend_status(const struct balancer *bal, const struct backend *b,
                           struct backendset_status *s);

static void backend_figures_of(const struct balancer *bal, const struct backend *b,
                               struct backend_figures *f)
{
    backend_status(bal, b, &f->st);
    f->up = backend_eligible(b);
    f->connect_failures = b->connect_failures + b->timeouts;
    /* Unrounded, unlike the document's ms. */
    f->ewma_s =
        ewma_get(&b->ewma, balancer_now_us(), (double)bal->cfg->ewma_decay_ms * 1000.0) / 1e6;
}

/* A backend_spec is the shared backendset_member under the balancer's
 * name; the two must keep the same limits. */
_Static_assert(sizeof(((struct backend_spec *)0)->name) == BACKENDSET_NAME_MAX,
               "backend names: balancer and common/backendset_json disagree");
_Static_assert(BALANCER_WEIGHT_MAX == BACKENDSET_WEIGHT_MAX,
               "backend weights: balancer and common/backendset_json disagree");

static void spec_to_member(const struct backend_spec *spec, struct backendset_member *m)
{
    memcpy(m->name, spec->name, sizeof(m->name));
    m->address = spec->address;
    m->health = spec->health;
    m->has_health = spec->has_health;
    m->weight = spec->weight;
}

static void member_to_spec(const struct backendset_member *m, struct backend_spec *spec)
{
    memset(spec, 0, sizeof(*spec));
    memcpy(spec->name, m->name, sizeof(spec->name));
    spec->address = m->address;
    spec->health = m->health;
    spec->has_health = m->has_health;
    spec->weight = m->weight;
}

/* The backend's figures as the shared status document carries them. */
static void backend_status(const struct balancer *bal, const struct backend *b,
                           struct backendset_status *s)
{
    memset(s, 0, sizeof(*s));
    spec_to_member(&b->spec, &s->member);
    snprintf(s->state, sizeof(s->state), "%s", backend_state_name(b->state));
    s->removed = b->removed;
    s->slowstart = b->slowstart;
    s->active = b->active;
    s->total = b->total;
    s->connect_failures = b->connect_failures;
    s->connect_timeouts = b->timeouts;
    s->resets = b->resets;
    s->bytes_in = b->bytes_in;
    s->bytes_out = b->bytes_out;
    s->ewma_ms =
        ms3(ewma_get(&b->ewma, balancer_now_us(), (double)bal->cfg->ewma_decay_ms * 1000.0));
    s->ewma_measured = b->ewma.measured;
    s->samples = histogram_count(b->ttfb_us);
    s->p50_ms = percentile_ms(b->ttfb_us, 50);
    s->p90_ms = percentile_ms(b->ttfb_us, 90);
    s->p99_ms = percentile_ms(b->ttfb_us, 99);
    s->connect_p50_ms = percentile_ms(b->connect_us, 50);
    s->connect_p90_ms = percentile_ms(b->connect_us, 90);
    s->connect_p99_ms = percentile_ms(b->connect_us, 99);
    snprintf(s->last_check, sizeof(s->last_check), "%s", b->last_check);
}

cJSON *backendview_backend(const struct balancer *bal, const struct backend *b)
{
    struct backendset_status s;
    backend_status(bal, b, &s);
    cJSON *o = backendset_json_write_status(&s);
    if (!o)
        return NULL;
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
    struct conn_figures cf;
    conn_figures_of(bal, &cf);
    if (stattab_write_json(o, conn_fields, STATTAB_COUNT(conn_fields), &cf) < 0) {
        cJSON_Delete(o);
        return NULL;
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

void backendview_prom(const struct balancer *bal, struct prom *p)
{
    struct conn_figures cf;
    conn_figures_of(bal, &cf);
    stattab_write_prom(p, conn_fields, STATTAB_COUNT(conn_fields), &cf);

    /* Off the stack: two sets' worth of figures; the loop is single-threaded. */
    static struct backend_figures figs[BALANCER_MAX_BACKENDS * 2];
    static const void *views[BALANCER_MAX_BACKENDS * 2];
    static const char *names[BALANCER_MAX_BACKENDS * 2];
    size_t n = bal->set->n;
    for (size_t i = 0; i < n; i++) {
        backend_figures_of(bal, bal->set->b[i], &figs[i]);
        views[i] = &figs[i];
        names[i] = bal->set->b[i]->spec.name;
    }
    stattab_write_prom_each(p, backend_fields, STATTAB_COUNT(backend_fields), views, names, n,
                            "backend");
    for (size_t i = 0; i < n; i++) {
        const struct backend *b = bal->set->b[i];
        struct prom_label l = {"backend", b->spec.name};
        prom_histogram(p, "balancer_backend_ttfb_seconds",
                       "time from the first byte sent to the backend to its first byte back", &l, 1,
                       b->ttfb_us, prom_latency_bounds_s, prom_latency_nbounds);
    }
    for (size_t i = 0; i < n; i++) {
        const struct backend *b = bal->set->b[i];
        struct prom_label l = {"backend", b->spec.name};
        prom_histogram(p, "balancer_backend_connect_seconds", "time to connect to the backend", &l,
                       1, b->connect_us, prom_latency_bounds_s, prom_latency_nbounds);
    }
}

/* A string entry: the command line's syntax, which config.c owns. */
static int parse_text(const char *text, struct backendset_member *m, char *err, size_t errlen)
{
    struct backend_spec spec;
    if (backend_spec_parse(text, &spec, err, errlen) < 0)
        return -1;
    spec_to_member(&spec, m);
    return 0;
}

int backendview_parse_set(const cJSON *body, struct backend_spec *specs, size_t max, char *err,
                          size_t errlen)
{
    static struct backendset_member members[BALANCER_MAX_BACKENDS];
    if (max > BALANCER_MAX_BACKENDS)
        max = BALANCER_MAX_BACKENDS;
    int n = backendset_json_read_set(body, members, max, parse_text, err, errlen);
    for (int i = 0; i < n; i++)
        member_to_spec(&members[i], &specs[i]);
    return n;
}
