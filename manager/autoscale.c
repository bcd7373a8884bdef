/* The autoscaler's loop: a timer takes a sample every sample period (the
 * histograms' counts since the last sample, or each instance's CPU time),
 * keeps a ring of samples as long as the down window, and each sample asks
 * autoscale_decide what the pool should be. A change goes through
 * scale_to, so growing adds only ready instances and shrinking drains. */
#include "autoscale.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <event2/event.h>

#include "addr.h"
#include "config.h"
#include "exchange.h"
#include "instance.h"
#include "log.h"
#include "pool.h"
#include "prom.h"
#include "scale.h"
#include "steer.h"

#define AUTOSCALE_MAGIC 0x61757473u
/* A /metrics fetch on this host answers in a millisecond; one that takes
 * longer than this is dropped and the sample goes without it. */
#define AUTOSCALE_FETCH_TIMEOUT_MS 400
#define AUTOSCALE_DECISIONS 20
/* The families the latency comes from. */
#define BALANCER_FAMILY "balancer_backend_ttfb_seconds"
#define PROXYD_FAMILY "proxyd_request_duration_seconds"

struct decision {
    time_t at;
    int from, to;
    int has_measure;
    double measure;
    char reason[200];
};

/* One sample period's worth of what happened. */
struct sample {
    int64_t at_us;
    uint64_t buckets[AUTOSCALE_MAX_BUCKETS + 1]; /* latency: cumulative counts, this period */
    double cpu_used_s, cpu_capacity_s;           /* cpu: used, and what the limits allowed */
    double rate;                                 /* requests/s over the up window then */
    int valid;                                   /* the sources answered */
    int rec;                                     /* what the decision rule recommended */
};

/* One instance's CPU time at the last sample. */
struct cpu_mark {
    pid_t pid;
    uint64_t ticks;
    int64_t at_us;
};

struct autoscale;
/* Which source an exchange's reply is from. */
struct reply_ctx {
    struct autoscale *as;
    int id; /* 0: the balancer, else the instance */
};

struct autoscale {
    unsigned magic;
    struct event_base *base;
    const struct manager_config *cfg;
    struct pool *pool;
    struct scale *scale;
    struct steer *steer;
    struct event *timer;
    struct autoscale_settings set;
    int stopping;

    /* The sample being fetched. */
    int pending;   /* exchanges still to answer */
    int fetch_ok;  /* every exchange answered with histograms */
    int in_flight; /* a sample is being gathered */
    int gen;       /* bumps when the windows start afresh: late replies are dropped */
    struct exchange lb_x;
    struct exchange inst_x[POOL_MAX_INSTANCES + 1];
    int inst_gen[POOL_MAX_INSTANCES + 1];
    struct reply_ctx replies[POOL_MAX_INSTANCES + 1];
    double cpu_used_s, cpu_capacity_s; /* the CPU sample being taken */
    struct autoscale_histograms *prev, *cur, *tmp;
    int primed;      /* prev holds a snapshot to subtract */
    char source[16]; /* "balancer", "proxyd" or "" (which prev came from) */
    struct cpu_mark cpu[POOL_MAX_INSTANCES + 1];

    /* The windows. */
    double bounds[AUTOSCALE_MAX_BUCKETS];
    size_t nbounds;
    struct sample *ring;
    size_t ring_cap, ring_len, ring_head; /* head: where the next goes */
    int64_t window_start_us;              /* samples since then are in the ring */
    int64_t last_change_us;               /* when the last change ended; -1 none */
    double overload_rate;                 /* per replica, last seen over target */
    int has_measure;
    double measure;
    int desired;
    int changing; /* a change of ours runs */
    char last_warning[200];

    struct decision decisions[AUTOSCALE_DECISIONS];
    size_t ndecisions, decision_head;
    uint64_t ups, downs;
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A problem with a source, logged once until it changes. */
static void warn_once(struct autoscale *as, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void warn_once(struct autoscale *as, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (strcmp(msg, as->last_warning) == 0)
        return;
    snprintf(as->last_warning, sizeof(as->last_warning), "%s", msg);
    log_warn("autoscale: %s", msg);
}

/* ---- the windows ---- */

static void windows_restart(struct autoscale *as)
{
    as->ring_len = as->ring_head = 0;
    as->window_start_us = mono_us();
    as->primed = 0;
    as->has_measure = 0;
    as->overload_rate = 0;
    as->gen++;
    as->desired = pool_desired(as->pool);
    memset(as->cpu, 0, sizeof(as->cpu));
}

static int ring_resize(struct autoscale *as)
{
    size_t cap = (size_t)(as->set.down_window_ms / as->set.sample_ms) + 2;
    struct sample *r = calloc(cap, sizeof(*r));
    if (!r)
        return -1;
    free(as->ring);
    as->ring = r;
    as->ring_cap = cap;
    return 0;
}

static struct sample *ring_push(struct autoscale *as)
{
    struct sample *s = &as->ring[as->ring_head];
    memset(s, 0, sizeof(*s));
    as->ring_head = (as->ring_head + 1) % as->ring_cap;
    if (as->ring_len < as->ring_cap)
        as->ring_len++;
    return s;
}

/* The i-th newest sample (0: the newest). */
static struct sample *ring_at(struct autoscale *as, size_t i)
{
    return &as->ring[(as->ring_head + as->ring_cap - 1 - i) % as->ring_cap];
}

/* The measure over the up window: p99 of the summed buckets, or the CPU
 * used over the CPU allowed. *rate: requests per second. */
static int window_measure(struct autoscale *as, int64_t now, double *measure, double *rate)
{
    uint64_t sum[AUTOSCALE_MAX_BUCKETS + 1] = {0};
    double used = 0, capacity = 0;
    int64_t from = now - (int64_t)as->set.up_window_ms * 1000;
    /* Samples from before the last change measured another pool: counting
     * them would grow it again for a load it already answered. */
    if (as->last_change_us > from)
        from = as->last_change_us;
    int64_t oldest = now;
    for (size_t i = 0; i < as->ring_len; i++) {
        struct sample *s = ring_at(as, i);
        if (s->at_us <= from)
            break;
        if (!s->valid)
            continue;
        oldest = s->at_us - (int64_t)as->set.sample_ms * 1000;
        for (size_t b = 0; b <= as->nbounds; b++)
            sum[b] += s->buckets[b];
        used += s->cpu_used_s;
        capacity += s->cpu_capacity_s;
    }
    double span_s = (double)(now - (oldest < from ? from : oldest)) / 1e6;
    *rate = span_s > 0 ? (double)sum[as->nbounds] / span_s : 0;
    if (as->set.metric == AUTOSCALE_METRIC_CPU) {
        if (!(capacity > 0))
            return 0;
        *measure = used / capacity;
        return 1;
    }
    double q = autoscale_quantile(as->bounds, sum, as->nbounds, 0.99);
    if (q < 0)
        return 0;
    *measure = q;
    return 1;
}

/* ---- decisions ---- */

static void record_decision(struct autoscale *as, int from, int to, const char *reason)
{
    struct decision *d = &as->decisions[as->decision_head];
    d->at = time(NULL);
    d->from = from;
    d->to = to;
    d->has_measure = as->has_measure;
    d->measure = as->measure;
    snprintf(d->reason, sizeof(d->reason), "%s", reason);
    as->decision_head = (as->decision_head + 1) % AUTOSCALE_DECISIONS;
    if (as->ndecisions < AUTOSCALE_DECISIONS)
        as->ndecisions++;
}

static void on_scaled(void *ctx, int ok, const char *message)
{
    struct autoscale *as = ctx;
    assert(as->magic == AUTOSCALE_MAGIC);
    as->changing = 0;
    as->last_change_us = mono_us();
    if (ok)
        log_info("autoscale: pool at %d", pool_desired(as->pool));
    else if (as->stopping)
        log_info("autoscale: the change to %d stopped with the manager", as->desired);
    else
        log_warn("autoscale: the change to %d did not complete: %s", as->desired,
                 message ? message : "no reason given");
}

static void decide(struct autoscale *as, int64_t now, double rate)
{
    int current = pool_desired(as->pool);
    int recent[AUTOSCALE_MAX_SAMPLES + 2];
    size_t n = 0;
    int64_t from = now - (int64_t)as->set.down_window_ms * 1000;
    double peak = 0;
    for (size_t i = as->ring_len; i-- > 1 && n < AUTOSCALE_MAX_SAMPLES;) {
        struct sample *s = ring_at(as, i); /* oldest first; the newest is being decided */
        if (s->at_us > from) {
            recent[n++] = s->rec;
            if (s->rate > peak)
                peak = s->rate;
        }
    }
    struct autoscale_input in = {
        .current = current,
        .has_measure = as->has_measure,
        .measure = as->measure,
        .recent = recent,
        .nrecent = n,
        .window_full = now - as->window_start_us >= (int64_t)as->set.down_window_ms * 1000,
        .since_change_ms = as->last_change_us < 0 ? -1 : (now - as->last_change_us) / 1000,
        .rate = rate,
        .overload_rate = as->overload_rate,
        .window_peak_rate = peak,
    };
    char reason[200];
    ring_at(as, 0)->rec = autoscale_recommend(&as->set, current, as->has_measure, as->measure);
    int to = autoscale_decide(&as->set, &in, reason, sizeof(reason));
    as->desired = to;
    if (to == current) {
        log_debug("autoscale: %d: %s", current, reason);
        return;
    }
    if (to > current && as->set.metric == AUTOSCALE_METRIC_P99 && rate > 0 &&
        as->measure > as->set.target)
        as->overload_rate = rate / current;
    char err[256];
    if (scale_to(as->scale, to, on_scaled, as, err, sizeof(err)) < 0) {
        log_debug("autoscale: %d -> %d put off: %s", current, to, err);
        return;
    }
    as->changing = 1;
    if (to > current)
        as->ups++;
    else
        as->downs++;
    record_decision(as, current, to, reason);
    if (as->has_measure && as->set.metric == AUTOSCALE_METRIC_P99)
        log_info("autoscale: %d -> %d replicas: %s (measured over %.1f s, %.0f req/s)", current, to,
                 reason, (double)as->set.up_window_ms / 1000, rate);
    else if (as->has_measure)
        log_info("autoscale: %d -> %d replicas: %s (measured over %.1f s)", current, to, reason,
                 (double)as->set.up_window_ms / 1000);
    else
        log_info("autoscale: %d -> %d replicas: %s", current, to, reason);
}

/* The sample is complete (every exchange answered or failed). */
static void sample_done(struct autoscale *as)
{
    int64_t now = mono_us();
    as->in_flight = 0;
    struct sample *s = ring_push(as);
    s->at_us = now;
    if (as->set.metric == AUTOSCALE_METRIC_P99) {
        uint64_t delta[AUTOSCALE_MAX_BUCKETS + 1];
        struct autoscale_histograms *t;
        if (as->fetch_ok && as->primed &&
            autoscale_histograms_delta(as->prev, as->cur, delta) == 0 &&
            (as->nbounds == 0 ||
             (as->nbounds == as->cur->nbounds &&
              memcmp(as->bounds, as->cur->bounds, as->nbounds * sizeof(double)) == 0))) {
            as->nbounds = as->cur->nbounds;
            memcpy(as->bounds, as->cur->bounds, as->nbounds * sizeof(double));
            memcpy(s->buckets, delta, (as->nbounds + 1) * sizeof(uint64_t));
            s->valid = 1;
        }
        if (as->fetch_ok) { /* cur becomes what the next sample subtracts */
            t = as->prev;
            as->prev = as->cur;
            as->cur = t;
            as->primed = 1;
        }
    } else {
        s->valid = as->fetch_ok;
        s->cpu_used_s = as->cpu_used_s;
        s->cpu_capacity_s = as->cpu_capacity_s;
    }
    double rate = 0;
    as->has_measure = window_measure(as, now, &as->measure, &rate);
    s->rate = rate;
    if (!as->set.enabled || as->stopping)
        return;
    if (as->changing || scale_busy(as->scale)) {
        s->rec = pool_desired(as->pool);
        return;
    }
    decide(as, now, rate);
}

/* ---- the sources ---- */

static void add_instance_series(struct autoscale *as, int id)
{
    struct autoscale_histograms *h = as->cur;
    if (h->nseries > 0 && (h->nbounds != as->tmp->nbounds ||
                           memcmp(h->bounds, as->tmp->bounds, h->nbounds * sizeof(double)) != 0)) {
        as->fetch_ok = 0;
        return;
    }
    h->nbounds = as->tmp->nbounds;
    memcpy(h->bounds, as->tmp->bounds, h->nbounds * sizeof(double));
    for (size_t i = 0; i < as->tmp->nseries && h->nseries < AUTOSCALE_MAX_SERIES; i++) {
        struct autoscale_series *s = &h->series[h->nseries++];
        *s = as->tmp->series[i];
        char id_label[24];
        snprintf(id_label, sizeof(id_label), "instance=\"%d\",", id);
        size_t k = strlen(id_label), rest = strlen(as->tmp->series[i].labels);
        if (k + rest >= sizeof(s->labels))
            rest = sizeof(s->labels) - k - 1;
        memcpy(s->labels, id_label, k);
        memcpy(s->labels + k, as->tmp->series[i].labels, rest);
        s->labels[k + rest] = '\0';
    }
}

static void on_metrics(void *ctx, int status, const char *body)
{
    struct reply_ctx *rc = ctx;
    struct autoscale *as = rc->as;
    assert(as->magic == AUTOSCALE_MAGIC);
    if (as->inst_gen[rc->id] != as->gen) /* from before the windows started afresh */
        return;
    const char *family = rc->id == 0 ? BALANCER_FAMILY : PROXYD_FAMILY;
    char why[200];
    if (status != 200 || !body) {
        warn_once(as, "%s /metrics answered %d: this sample goes without it",
                  rc->id == 0 ? "the balancer's" : "an instance's", status);
        as->fetch_ok = 0;
    } else if (autoscale_parse_histograms(body, family, rc->id == 0 ? as->cur : as->tmp, why,
                                          sizeof(why)) < 0) {
        warn_once(as, "%s", why);
        as->fetch_ok = 0;
    } else if (rc->id > 0) {
        add_instance_series(as, rc->id);
    }
    if (--as->pending == 0)
        sample_done(as);
}

static int fetch(struct autoscale *as, struct exchange *x, int id, const struct addr *where)
{
    char host[ADDR_STRLEN], authority[ADDR_STRLEN];
    addr_format_host(where, host, sizeof(host));
    addr_format(where, authority, sizeof(authority));
    struct exchange_request rq = {"GET", "/metrics", authority,
                                  NULL,  NULL,       AUTOSCALE_FETCH_TIMEOUT_MS};
    as->replies[id].as = as;
    as->replies[id].id = id;
    as->inst_gen[id] = as->gen;
    if (exchange_start(x, as->base, host, (uint16_t)addr_port(where), &rq, on_metrics,
                       &as->replies[id]) < 0)
        return -1;
    as->pending++;
    return 0;
}

/* utime + stime of pid, in clock ticks; -1 when it is gone. */
static int read_cpu_ticks(pid_t pid, uint64_t *ticks)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: fields count from
     * the last ')'. utime and stime are fields 14 and 15. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut, st;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    *ticks = ut + st;
    return 0;
}

/* Each ready instance's CPU time since the last sample, against what its
 * limit allowed over that time: the container's --cpus, or one CPU (a
 * proxyd process runs one event loop). */
static void sample_cpu(struct autoscale *as, int64_t now)
{
    const struct instance *list[POOL_MAX_INSTANCES];
    size_t n = pool_list(as->pool, list, POOL_MAX_INSTANCES);
    double hz = (double)sysconf(_SC_CLK_TCK);
    double limit =
        strcmp(as->cfg->runtime, "container") == 0 && as->cfg->cpus > 0 ? as->cfg->cpus : 1.0;
    as->cpu_used_s = as->cpu_capacity_s = 0;
    for (size_t i = 0; i < n; i++) {
        const struct instance *in = list[i];
        struct cpu_mark *m = &as->cpu[in->id];
        uint64_t ticks;
        if (in->state != INSTANCE_READY || in->pid <= 0 || read_cpu_ticks(in->pid, &ticks) < 0) {
            m->pid = 0;
            continue;
        }
        if (m->pid == in->pid && ticks >= m->ticks && now > m->at_us) {
            as->cpu_used_s += (double)(ticks - m->ticks) / hz;
            as->cpu_capacity_s += limit * (double)(now - m->at_us) / 1e6;
        }
        m->pid = in->pid;
        m->ticks = ticks;
        m->at_us = now;
    }
}

static void take_sample(struct autoscale *as)
{
    if (as->in_flight) /* the last one has not answered: never two at once */
        return;
    if (as->set.metric == AUTOSCALE_METRIC_CPU) {
        sample_cpu(as, mono_us());
        as->fetch_ok = as->cpu_capacity_s > 0;
        as->in_flight = 1;
        sample_done(as);
        return;
    }
    memset(as->cur, 0, sizeof(*as->cur));
    as->fetch_ok = 1;
    as->pending = 0;
    as->in_flight = 1;
    const char *mode = as->steer ? steer_mode(as->steer) : "none";
    const char *source = strcmp(mode, "balancer") == 0 ? "balancer" : "proxyd";
    if (strcmp(source, as->source) != 0) { /* a switch of mode: other counts */
        snprintf(as->source, sizeof(as->source), "%s", source);
        as->primed = 0;
    }
    if (strcmp(source, "balancer") == 0) {
        if (fetch(as, &as->lb_x, 0, &as->cfg->balancer_admin) < 0)
            as->fetch_ok = 0;
    } else if (strcmp(pool_worker_name(as->pool), "proxyd") != 0) {
        warn_once(as,
                  "p99 needs proxyd's /metrics or the balancer: %s workers have neither; use "
                  "--forwarding balancer or a cpu target",
                  pool_worker_name(as->pool));
        as->fetch_ok = 0;
    } else {
        const struct instance *list[POOL_MAX_INSTANCES];
        size_t n = pool_list(as->pool, list, POOL_MAX_INSTANCES);
        for (size_t i = 0; i < n; i++) {
            const struct instance *in = list[i];
            if (in->state != INSTANCE_READY && in->state != INSTANCE_DRAINING)
                continue;
            /* One still busy with an earlier sample would leave its counts
             * out and count them whole next time: the sample goes. */
            if (as->inst_x[in->id].busy || fetch(as, &as->inst_x[in->id], in->id, &in->admin) < 0)
                as->fetch_ok = 0;
        }
    }
    if (as->pending == 0)
        sample_done(as);
}

static void arm(struct autoscale *as)
{
    struct timeval tv = {(time_t)(as->set.sample_ms / 1000),
                         (suseconds_t)(as->set.sample_ms % 1000) * 1000};
    evtimer_add(as->timer, &tv);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct autoscale *as = arg;
    (void)fd;
    (void)what;
    assert(as->magic == AUTOSCALE_MAGIC);
    if (as->stopping || !as->set.enabled)
        return;
    arm(as);
    take_sample(as);
}

/* ---- setup and views ---- */

struct autoscale *autoscale_new(struct event_base *base, const struct manager_config *cfg,
                                struct pool *pool, struct scale *scale, struct steer *steer,
                                char *err, size_t errlen)
{
    struct autoscale *as = calloc(1, sizeof(*as));
    if (!as)
        goto oom;
    as->magic = AUTOSCALE_MAGIC;
    as->base = base;
    as->cfg = cfg;
    as->pool = pool;
    as->scale = scale;
    as->steer = steer;
    as->set = cfg->autoscale;
    as->last_change_us = -1;
    as->prev = calloc(1, sizeof(*as->prev));
    as->cur = calloc(1, sizeof(*as->cur));
    as->tmp = calloc(1, sizeof(*as->tmp));
    as->timer = evtimer_new(base, on_tick, as);
    if (!as->prev || !as->cur || !as->tmp || !as->timer || ring_resize(as) < 0)
        goto oom;
    windows_restart(as);
    if (as->set.enabled) {
        log_info("autoscale: %d..%d replicas on %s %g %s (up window %.1f s, down window %.1f s, "
                 "tolerance %.0f%%, steps of at most %d, cooldown %.1f s)",
                 as->set.min, as->set.max, autoscale_metric_name(as->set.metric), as->set.target,
                 autoscale_metric_unit(as->set.metric), (double)as->set.up_window_ms / 1000,
                 (double)as->set.down_window_ms / 1000, as->set.tolerance * 100, as->set.max_step,
                 (double)as->set.cooldown_ms / 1000);
        arm(as);
    }
    return as;
oom:
    autoscale_free(as);
    snprintf(err, errlen, "out of memory");
    return NULL;
}

void autoscale_free(struct autoscale *as)
{
    if (!as)
        return;
    exchange_free(&as->lb_x);
    for (size_t i = 0; i <= POOL_MAX_INSTANCES; i++)
        exchange_free(&as->inst_x[i]);
    if (as->timer)
        event_free(as->timer);
    free(as->prev);
    free(as->cur);
    free(as->tmp);
    free(as->ring);
    as->magic = 0;
    free(as);
}

void autoscale_stop(struct autoscale *as)
{
    if (!as)
        return;
    as->stopping = 1;
    evtimer_del(as->timer);
}

int autoscale_enabled(const struct autoscale *as)
{
    return as->set.enabled;
}

const struct autoscale_settings *autoscale_settings(const struct autoscale *as)
{
    return &as->set;
}

void autoscale_configure(struct autoscale *as, const struct autoscale_settings *s)
{
    struct autoscale_settings old = as->set;
    as->set = *s;
    if (s->down_window_ms / s->sample_ms + 2 != as->ring_cap && ring_resize(as) < 0) {
        log_warn("autoscale: out of memory resizing the windows; the settings stay as they were");
        as->set = old;
        return;
    }
    /* Samples of another metric or other windows mean nothing now. */
    windows_restart(as);
    as->in_flight = 0;
    as->pending = 0;
    log_info("autoscale: %s, %d..%d replicas on %s %g %s (up window %.1f s, down window %.1f s, "
             "tolerance %.0f%%, steps of at most %d, cooldown %.1f s)",
             s->enabled ? "on" : "off", s->min, s->max, autoscale_metric_name(s->metric), s->target,
             autoscale_metric_unit(s->metric), (double)s->up_window_ms / 1000,
             (double)s->down_window_ms / 1000, s->tolerance * 100, s->max_step,
             (double)s->cooldown_ms / 1000);
    evtimer_del(as->timer);
    if (s->enabled && !as->stopping)
        arm(as);
}

static void rfc3339(time_t t, char *out, size_t outlen)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Three decimals are what the measures mean (a millisecond, a tenth of a
 * percent); more would be noise in the document. */
static double round3(double v)
{
    return round(v * 1000) / 1000;
}

cJSON *autoscale_json(const struct autoscale *as)
{
    const struct autoscale_settings *s = &as->set;
    cJSON *j = cJSON_CreateObject();
    cJSON *t = NULL, *d = NULL;
    if (!j)
        return NULL;
    cJSON_AddBoolToObject(j, "enabled", s->enabled);
    cJSON_AddNumberToObject(j, "min", s->min);
    cJSON_AddNumberToObject(j, "max", s->max);
    if (s->metric == AUTOSCALE_METRIC_NONE) {
        cJSON_AddNullToObject(j, "target");
    } else if ((t = cJSON_AddObjectToObject(j, "target")) != NULL) {
        cJSON_AddStringToObject(t, "metric", autoscale_metric_name(s->metric));
        cJSON_AddNumberToObject(t, "value", s->target);
        cJSON_AddStringToObject(t, "unit", autoscale_metric_unit(s->metric));
    }
    if (s->enabled && as->has_measure)
        cJSON_AddNumberToObject(j, "measure", round3(as->measure));
    else
        cJSON_AddNullToObject(j, "measure");
    /* Before the first decision (the initial scale still running) the pool's own. */
    cJSON_AddNumberToObject(j, "desired",
                            s->enabled && as->desired > 0 ? as->desired : pool_desired(as->pool));
    cJSON_AddNumberToObject(j, "up_window_s", (double)s->up_window_ms / 1000);
    cJSON_AddNumberToObject(j, "down_window_s", (double)s->down_window_ms / 1000);
    cJSON_AddNumberToObject(j, "tolerance", s->tolerance);
    cJSON_AddNumberToObject(j, "max_step", s->max_step);
    cJSON_AddNumberToObject(j, "cooldown_s", (double)s->cooldown_ms / 1000);
    d = cJSON_AddArrayToObject(j, "decisions");
    for (size_t i = 0; d && i < as->ndecisions; i++) {
        const struct decision *x =
            &as->decisions[(as->decision_head + AUTOSCALE_DECISIONS - 1 - i) % AUTOSCALE_DECISIONS];
        cJSON *o = cJSON_CreateObject();
        char at[32];
        if (!o || !cJSON_AddItemToArray(d, o))
            break;
        rfc3339(x->at, at, sizeof(at));
        cJSON_AddStringToObject(o, "at", at);
        cJSON_AddNumberToObject(o, "from", x->from);
        cJSON_AddNumberToObject(o, "to", x->to);
        if (x->has_measure)
            cJSON_AddNumberToObject(o, "measure", round3(x->measure));
        else
            cJSON_AddNullToObject(o, "measure");
        cJSON_AddStringToObject(o, "reason", x->reason);
    }
    return j;
}

void autoscale_prom(const struct autoscale *as, struct prom *p)
{
    const struct autoscale_settings *s = &as->set;
    prom_gauge(p, "manager_autoscale_enabled", "1 when the autoscaler changes the pool.", NULL, 0,
               s->enabled);
    prom_gauge(p, "manager_autoscale_min_replicas", "The autoscaler's lower bound.", NULL, 0,
               s->min);
    prom_gauge(p, "manager_autoscale_max_replicas", "The autoscaler's upper bound.", NULL, 0,
               s->max);
    if (s->metric != AUTOSCALE_METRIC_NONE) {
        struct prom_label l = {"metric", autoscale_metric_name(s->metric)};
        prom_gauge(p, "manager_autoscale_target",
                   "The autoscaler's target: p99 in seconds, cpu as a ratio of the limit.", &l, 1,
                   s->target);
        if (s->enabled && as->has_measure)
            prom_gauge(p, "manager_autoscale_measure",
                       "The target's metric over the up window (absent when nothing was measured).",
                       &l, 1, as->measure);
    }
    static const char name[] = "manager_autoscale_decisions_total";
    prom_family(p, name, PROM_COUNTER, "Changes of the pool the autoscaler started, by direction.");
    struct prom_label up = {"direction", "up"}, down = {"direction", "down"};
    prom_sample(p, name, &up, 1, (double)as->ups);
    prom_sample(p, name, &down, 1, (double)as->downs);
}
