/* The autoscaler's rule and parsers: pure functions over numbers and text,
 * so that what it decides can be tested sample by sample. The rule is
 * Kubernetes HPA's (proportional, a tolerance band, a scale-down
 * stabilization window taking the largest recommendation in it) with
 * Knative's short window for scaling up, and one addition for latency: a
 * memory of the rate per replica that was last too much. */
#include "autoscale_rule.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "instance.h"

/* Bounds of the settable durations: a sample below 50 ms costs more than it
 * tells, and nobody waits an hour for a window. */
#define AUTOSCALE_SAMPLE_MIN_MS 50
#define AUTOSCALE_WINDOW_MAX_MS (3600 * 1000)
/* A p99 target above a minute is past every bucket of the histograms. */
#define AUTOSCALE_P99_MAX_S 60.0

void autoscale_settings_default(struct autoscale_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->enabled = 0;
    s->min = 1;
    s->max = 8;
    s->metric = AUTOSCALE_METRIC_NONE;
    s->target = 0;
    s->up_window_ms = 2000;
    s->down_window_ms = 60000;
    s->tolerance = 0.1;
    s->max_step = 4;
    s->cooldown_ms = 3000;
    s->sample_ms = 500;
}

const char *autoscale_metric_name(enum autoscale_metric m)
{
    switch (m) {
    case AUTOSCALE_METRIC_P99:
        return "p99";
    case AUTOSCALE_METRIC_CPU:
        return "cpu";
    default:
        return "none";
    }
}

const char *autoscale_metric_unit(enum autoscale_metric m)
{
    return m == AUTOSCALE_METRIC_CPU ? "ratio" : "s";
}

/* A whole number in 1..POOL_MAX_INSTANCES at *p, which moves past it. */
static int parse_count(const char **p, int *out)
{
    const char *s = *p;
    if (!isdigit((unsigned char)*s))
        return -1;
    long v = 0;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (*s - '0');
        if (v > POOL_MAX_INSTANCES)
            return -1;
        s++;
    }
    if (v < 1)
        return -1;
    *out = (int)v;
    *p = s;
    return 0;
}

int autoscale_parse_range(const char *text, int *min, int *max, char *why, size_t whylen)
{
    const char *p = text;
    int lo, hi;
    if (parse_count(&p, &lo) < 0 || strncmp(p, "..", 2) != 0 ||
        (p += 2, parse_count(&p, &hi)) < 0 || *p != '\0') {
        snprintf(why, whylen, "must be MIN..MAX with whole numbers from 1 to %d, not '%.40s'",
                 POOL_MAX_INSTANCES, text);
        return -1;
    }
    if (lo > hi) {
        snprintf(why, whylen, "MIN %d is above MAX %d in '%.40s'", lo, hi, text);
        return -1;
    }
    *min = lo;
    *max = hi;
    return 0;
}

/* A decimal number and what follows it; -1 when there is none. */
static int parse_number(const char *s, double *v, const char **rest)
{
    char *end;
    if (!isdigit((unsigned char)*s) && *s != '.')
        return -1;
    *v = strtod(s, &end);
    if (end == s || !isfinite(*v))
        return -1;
    *rest = end;
    return 0;
}

int autoscale_parse_target(const char *text, enum autoscale_metric *metric, double *value,
                           char *why, size_t whylen)
{
    const char *rest;
    double v;
    if (strncmp(text, "p99=", 4) == 0) {
        if (parse_number(text + 4, &v, &rest) < 0)
            goto bad;
        if (strcmp(rest, "ms") == 0)
            v /= 1000;
        else if (strcmp(rest, "us") == 0)
            v /= 1e6;
        else if (strcmp(rest, "s") != 0 && *rest != '\0')
            goto bad;
        if (!(v > 0) || v > AUTOSCALE_P99_MAX_S) {
            snprintf(why, whylen, "the p99 target must be above 0 and at most %gs, not '%.40s'",
                     AUTOSCALE_P99_MAX_S, text + 4);
            return -1;
        }
        *metric = AUTOSCALE_METRIC_P99;
        *value = v;
        return 0;
    }
    if (strncmp(text, "cpu=", 4) == 0) {
        if (parse_number(text + 4, &v, &rest) < 0)
            goto bad;
        if (strcmp(rest, "%") == 0)
            v /= 100;
        else if (*rest != '\0')
            goto bad;
        if (!(v > 0) || v > 1) {
            snprintf(why, whylen, "the cpu target must be above 0%% and at most 100%%, not '%.40s'",
                     text + 4);
            return -1;
        }
        *metric = AUTOSCALE_METRIC_CPU;
        *value = v;
        return 0;
    }
bad:
    snprintf(why, whylen,
             "must be p99=DURATION (e.g. p99=200ms) or cpu=PERCENT (e.g. cpu=70%%), not '%.40s'",
             text);
    return -1;
}

int autoscale_settings_check(const struct autoscale_settings *s, char *why, size_t whylen)
{
    if (s->min < 1 || s->min > POOL_MAX_INSTANCES) {
        snprintf(why, whylen, "min must be a whole number from 1 to %d", POOL_MAX_INSTANCES);
        return -1;
    }
    if (s->max < 1 || s->max > POOL_MAX_INSTANCES) {
        snprintf(why, whylen, "max must be a whole number from 1 to %d", POOL_MAX_INSTANCES);
        return -1;
    }
    if (s->min > s->max) {
        snprintf(why, whylen, "min (%d) must not be above max (%d)", s->min, s->max);
        return -1;
    }
    if (s->enabled && s->metric == AUTOSCALE_METRIC_NONE) {
        snprintf(why, whylen,
                 "target is missing: autoscaling needs one, e.g. \"p99=200ms\" or \"cpu=70%%\"");
        return -1;
    }
    if (s->sample_ms < AUTOSCALE_SAMPLE_MIN_MS) {
        snprintf(why, whylen, "the sample period must be at least %dms", AUTOSCALE_SAMPLE_MIN_MS);
        return -1;
    }
    if (s->up_window_ms < s->sample_ms || s->up_window_ms > AUTOSCALE_WINDOW_MAX_MS) {
        snprintf(why, whylen,
                 "up_window_s must be at least one sample period (%gs) and at most %ds "
                 "(--autoscale-up-window)",
                 (double)s->sample_ms / 1000, AUTOSCALE_WINDOW_MAX_MS / 1000);
        return -1;
    }
    if (s->down_window_ms < s->up_window_ms || s->down_window_ms > AUTOSCALE_WINDOW_MAX_MS) {
        snprintf(why, whylen,
                 "down_window_s must be at least up_window_s (%gs) and at most %ds "
                 "(--autoscale-down-window)",
                 (double)s->up_window_ms / 1000, AUTOSCALE_WINDOW_MAX_MS / 1000);
        return -1;
    }
    if (s->down_window_ms / s->sample_ms > AUTOSCALE_MAX_SAMPLES) {
        snprintf(why, whylen,
                 "down_window_s must be at most %d sample periods (%gs) "
                 "(--autoscale-down-window, --autoscale-sample)",
                 AUTOSCALE_MAX_SAMPLES, (double)s->sample_ms * AUTOSCALE_MAX_SAMPLES / 1000);
        return -1;
    }
    if (!(s->tolerance >= 0 && s->tolerance < 1)) {
        snprintf(why, whylen, "tolerance must be a ratio from 0 to below 1 (0.1 is 10%%)");
        return -1;
    }
    if (s->max_step < 1 || s->max_step > POOL_MAX_INSTANCES) {
        snprintf(why, whylen, "max_step must be a whole number from 1 to %d", POOL_MAX_INSTANCES);
        return -1;
    }
    if (s->cooldown_ms > AUTOSCALE_WINDOW_MAX_MS) {
        snprintf(why, whylen, "cooldown_s must be at most %ds (--autoscale-cooldown)",
                 AUTOSCALE_WINDOW_MAX_MS / 1000);
        return -1;
    }
    return 0;
}

/* ---- PUT /v1/autoscale ---- */

static int json_whole(const cJSON *j, const char *name, int lo, int hi, int *out, char *why,
                      size_t whylen)
{
    if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < lo ||
        j->valuedouble > hi) {
        snprintf(why, whylen, "%s must be a whole number from %d to %d", name, lo, hi);
        return -1;
    }
    *out = (int)j->valuedouble;
    return 0;
}

/* Seconds, as a number (0.5 allowed), into milliseconds. */
static int json_seconds(const cJSON *j, const char *name, uint64_t *out_ms, char *why,
                        size_t whylen)
{
    if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble) || j->valuedouble < 0 ||
        j->valuedouble > AUTOSCALE_WINDOW_MAX_MS / 1000) {
        snprintf(why, whylen, "%s must be a number of seconds from 0 to %d", name,
                 AUTOSCALE_WINDOW_MAX_MS / 1000);
        return -1;
    }
    *out_ms = (uint64_t)llround(j->valuedouble * 1000);
    return 0;
}

/* "p99=200ms", or {"metric": "p99", "value": 0.2} (a "unit", if given,
 * must be the metric's). */
static int json_target(const cJSON *j, struct autoscale_settings *s, char *why, size_t whylen)
{
    if (cJSON_IsString(j)) {
        char inner[200];
        if (autoscale_parse_target(j->valuestring, &s->metric, &s->target, inner, sizeof(inner)) <
            0) {
            snprintf(why, whylen, "target %s", inner);
            return -1;
        }
        return 0;
    }
    if (!cJSON_IsObject(j)) {
        snprintf(why, whylen,
                 "target must be \"p99=200ms\", \"cpu=70%%\" or {\"metric\": \"p99\", \"value\": "
                 "0.2}");
        return -1;
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "metric");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "value");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "unit");
    const cJSON *item;
    cJSON_ArrayForEach(item, j)
    {
        if (strcmp(item->string, "metric") != 0 && strcmp(item->string, "value") != 0 &&
            strcmp(item->string, "unit") != 0) {
            snprintf(why, whylen, "target has an unknown field \"%.40s\"", item->string);
            return -1;
        }
    }
    enum autoscale_metric metric;
    if (cJSON_IsString(m) && strcmp(m->valuestring, "p99") == 0)
        metric = AUTOSCALE_METRIC_P99;
    else if (cJSON_IsString(m) && strcmp(m->valuestring, "cpu") == 0)
        metric = AUTOSCALE_METRIC_CPU;
    else {
        snprintf(why, whylen, "target.metric must be \"p99\" or \"cpu\"");
        return -1;
    }
    double hi = metric == AUTOSCALE_METRIC_P99 ? AUTOSCALE_P99_MAX_S : 1.0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || v->valuedouble > hi) {
        snprintf(why, whylen, "target.value must be a number above 0 and at most %g (%s)", hi,
                 metric == AUTOSCALE_METRIC_P99 ? "seconds" : "a ratio: 0.7 is 70%");
        return -1;
    }
    if (u != NULL &&
        (!cJSON_IsString(u) || strcmp(u->valuestring, autoscale_metric_unit(metric)) != 0)) {
        snprintf(why, whylen, "target.unit must be \"%s\" for %s", autoscale_metric_unit(metric),
                 autoscale_metric_name(metric));
        return -1;
    }
    s->metric = metric;
    s->target = v->valuedouble;
    return 0;
}

int autoscale_settings_from_json(const cJSON *body, struct autoscale_settings *out, char *why,
                                 size_t whylen)
{
    if (!cJSON_IsObject(body)) {
        snprintf(why, whylen,
                 "the body must be a JSON object such as {\"enabled\": true, \"min\": 1, \"max\": "
                 "8, \"target\": \"p99=200ms\"}");
        return -1;
    }
    struct autoscale_settings s = *out;
    const cJSON *item;
    cJSON_ArrayForEach(item, body)
    {
        const char *k = item->string;
        int rc = 0;
        if (strcmp(k, "enabled") == 0) {
            if (!cJSON_IsBool(item)) {
                snprintf(why, whylen, "enabled must be true or false");
                return -1;
            }
            s.enabled = cJSON_IsTrue(item);
        } else if (strcmp(k, "min") == 0) {
            rc = json_whole(item, "min", 1, POOL_MAX_INSTANCES, &s.min, why, whylen);
        } else if (strcmp(k, "max") == 0) {
            rc = json_whole(item, "max", 1, POOL_MAX_INSTANCES, &s.max, why, whylen);
        } else if (strcmp(k, "max_step") == 0) {
            rc = json_whole(item, "max_step", 1, POOL_MAX_INSTANCES, &s.max_step, why, whylen);
        } else if (strcmp(k, "target") == 0) {
            rc = json_target(item, &s, why, whylen);
        } else if (strcmp(k, "up_window_s") == 0) {
            rc = json_seconds(item, "up_window_s", &s.up_window_ms, why, whylen);
        } else if (strcmp(k, "down_window_s") == 0) {
            rc = json_seconds(item, "down_window_s", &s.down_window_ms, why, whylen);
        } else if (strcmp(k, "cooldown_s") == 0) {
            rc = json_seconds(item, "cooldown_s", &s.cooldown_ms, why, whylen);
        } else if (strcmp(k, "tolerance") == 0) {
            if (!cJSON_IsNumber(item) || !(item->valuedouble >= 0 && item->valuedouble < 1)) {
                snprintf(why, whylen, "tolerance must be a ratio from 0 to below 1 (0.1 is 10%%)");
                return -1;
            }
            s.tolerance = item->valuedouble;
        } else if (strcmp(k, "measure") == 0 || strcmp(k, "desired") == 0 ||
                   strcmp(k, "decisions") == 0) {
            snprintf(why, whylen, "%s is measured, not set", k);
            return -1;
        } else {
            snprintf(why, whylen,
                     "unknown field \"%.40s\": the settable fields are enabled, min, max, target, "
                     "up_window_s, down_window_s, tolerance, max_step and cooldown_s",
                     k);
            return -1;
        }
        if (rc < 0)
            return -1;
    }
    if (autoscale_settings_check(&s, why, whylen) < 0)
        return -1;
    *out = s;
    return 0;
}

/* ---- the rule ---- */

static int clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

int autoscale_recommend(const struct autoscale_settings *s, int current, int has_measure,
                        double measure)
{
    if (!has_measure)
        return s->min;
    double ratio = measure / s->target;
    if (fabs(ratio - 1) <= s->tolerance)
        return clamp(current, s->min, s->max);
    /* A few hundred times the target (a queue of seconds) still asks only
     * for max: the double is clamped before it becomes an int. */
    double want = ceil((double)current * ratio - 1e-9);
    if (want > POOL_MAX_INSTANCES)
        want = POOL_MAX_INSTANCES;
    return clamp((int)want, s->min, s->max);
}

static const char *measure_text(const struct autoscale_settings *s, double v, char *out,
                                size_t outlen)
{
    if (s->metric == AUTOSCALE_METRIC_CPU)
        snprintf(out, outlen, "cpu %.0f%%", v * 100);
    else
        snprintf(out, outlen, "p99 %.3f s", v);
    return out;
}

int autoscale_decide(const struct autoscale_settings *s, const struct autoscale_input *in,
                     char *reason, size_t reasonlen)
{
    char m[48], t[48];
    int cur = in->current;
    measure_text(s, in->measure, m, sizeof(m));
    measure_text(s, s->target, t, sizeof(t));
    const char *tname = strchr(t, ' ') + 1;

    /* Outside min..max (a change of the settings) comes back at once. */
    if (cur < s->min || cur > s->max) {
        int to = clamp(cur, s->min, s->max);
        snprintf(reason, reasonlen, "%d replicas is outside %d..%d", cur, s->min, s->max);
        return to;
    }
    if (in->since_change_ms >= 0 && (uint64_t)in->since_change_ms < s->cooldown_ms) {
        snprintf(reason, reasonlen, "cooldown: %.1f s since the last change",
                 (double)in->since_change_ms / 1000);
        return cur;
    }
    int rec = autoscale_recommend(s, cur, in->has_measure, in->measure);
    if (in->has_measure && rec > cur) {
        int to = rec > cur + s->max_step ? cur + s->max_step : rec;
        snprintf(reason, reasonlen, "%s > target %s", m, tname);
        return to;
    }
    /* Down: the largest recommendation of the whole window. */
    if (!in->window_full) {
        snprintf(reason, reasonlen, "hold: the down window is not full yet");
        return cur;
    }
    int most = rec;
    for (size_t i = 0; i < in->nrecent; i++)
        if (in->recent[i] > most)
            most = in->recent[i];
    if (most >= cur) {
        if (in->has_measure)
            snprintf(reason, reasonlen, "hold: %s, target %s", m, tname);
        else
            snprintf(reason, reasonlen, "hold: no request in the window");
        return cur;
    }
    /* Latency below target says nothing about a load larger than the one
     * it was measured under. */
    if (s->metric == AUTOSCALE_METRIC_P99 && in->window_peak_rate > 0 &&
        in->rate > in->window_peak_rate * (1 + s->tolerance)) {
        snprintf(reason, reasonlen,
                 "hold: %s is under target %s, but the load rises (%.0f req/s, at most %.0f in "
                 "the window)",
                 m, tname, in->rate, in->window_peak_rate);
        return cur;
    }
    int to = most < cur - s->max_step ? cur - s->max_step : most;
    /* Latency is not proportional to replicas below the knee: the rate that
     * overloaded the pool last time says how few replicas are too few. */
    if (s->metric == AUTOSCALE_METRIC_P99 && in->overload_rate > 0 && in->rate > 0) {
        double safe = in->rate / (in->overload_rate * (1 - s->tolerance));
        int floor_n = clamp((int)floor(safe) + 1, s->min, s->max);
        if (floor_n > to)
            to = floor_n;
        if (to >= cur) {
            snprintf(reason, reasonlen,
                     "hold: %s is under target %s, but %.0f req/s overloaded %.0f req/s per "
                     "replica before",
                     m, tname, in->rate, in->overload_rate);
            return cur;
        }
    }
    if (in->has_measure)
        snprintf(reason, reasonlen, "%s < target %s for the whole %.0f s window", m, tname,
                 (double)s->down_window_ms / 1000);
    else
        snprintf(reason, reasonlen, "idle: no request for the whole %.0f s window",
                 (double)s->down_window_ms / 1000);
    return to;
}

/* ---- histograms ---- */

double autoscale_quantile(const double *bounds, const uint64_t *cum, size_t nbounds, double q)
{
    uint64_t total = cum[nbounds];
    if (total == 0)
        return -1;
    double rank = q * (double)total;
    for (size_t i = 0; i < nbounds; i++) {
        if ((double)cum[i] >= rank) {
            double lo = i == 0 ? 0 : bounds[i - 1];
            uint64_t below = i == 0 ? 0 : cum[i - 1];
            uint64_t in = cum[i] - below;
            if (in == 0)
                return bounds[i];
            return lo + (bounds[i] - lo) * ((rank - (double)below) / (double)in);
        }
    }
    return nbounds > 0 ? bounds[nbounds - 1] : -1;
}

/* One "<family>_bucket{...le="X"...} N" line: the labels without le, le and N. */
static int parse_bucket_line(const char *line, size_t len, char *labels, size_t labelslen,
                             double *le, uint64_t *count)
{
    const char *open = memchr(line, '{', len);
    const char *close = open ? memchr(open, '}', len - (size_t)(open - line)) : NULL;
    if (!close)
        return -1;
    size_t o = 0;
    int have_le = 0;
    const char *p = open + 1;
    while (p < close) {
        const char *eq = memchr(p, '=', (size_t)(close - p));
        if (!eq || eq + 1 >= close || eq[1] != '"')
            return -1;
        const char *v = eq + 2, *e = v;
        while (e < close && *e != '"') {
            if (*e == '\\' && e + 1 < close)
                e++;
            e++;
        }
        if (e >= close)
            return -1;
        if (eq - p == 2 && strncmp(p, "le", 2) == 0) {
            char num[32];
            size_t n = (size_t)(e - v);
            if (n == 0 || n >= sizeof(num))
                return -1;
            memcpy(num, v, n);
            num[n] = '\0';
            if (strcmp(num, "+Inf") == 0) {
                *le = INFINITY;
            } else {
                char *end;
                *le = strtod(num, &end);
                if (*end != '\0')
                    return -1;
            }
            have_le = 1;
        } else {
            size_t n = (size_t)(e + 1 - p);
            if (o + n + 2 > labelslen)
                return -1;
            if (o > 0)
                labels[o++] = ',';
            memcpy(labels + o, p, n);
            o += n;
        }
        p = e + 1;
        if (p < close && *p == ',')
            p++;
    }
    labels[o] = '\0';
    if (!have_le)
        return -1;
    p = close + 1;
    while (p < line + len && *p == ' ')
        p++;
    char num[32];
    size_t n = 0;
    while (p + n < line + len && p[n] != ' ' && n < sizeof(num) - 1) {
        num[n] = p[n];
        n++;
    }
    num[n] = '\0';
    char *end;
    double c = strtod(num, &end);
    if (n == 0 || *end != '\0' || !(c >= 0) || c > 1e18)
        return -1;
    *count = (uint64_t)c;
    return 0;
}

static struct autoscale_series *series_for(struct autoscale_histograms *h, const char *labels)
{
    for (size_t i = 0; i < h->nseries; i++)
        if (strcmp(h->series[i].labels, labels) == 0)
            return &h->series[i];
    if (h->nseries == AUTOSCALE_MAX_SERIES)
        return NULL;
    struct autoscale_series *s = &h->series[h->nseries++];
    memset(s, 0, sizeof(*s));
    snprintf(s->labels, sizeof(s->labels), "%s", labels);
    return s;
}

/* Bucket index of le among the family's bounds (learned from the first
 * series, which must be complete); -1 when it is not one of them. */
static int bound_index(struct autoscale_histograms *h, double le, int learning)
{
    if (isinf(le))
        return AUTOSCALE_MAX_BUCKETS;
    for (size_t i = 0; i < h->nbounds; i++)
        if (h->bounds[i] == le)
            return (int)i;
    if (!learning || h->nbounds == AUTOSCALE_MAX_BUCKETS ||
        (h->nbounds > 0 && le <= h->bounds[h->nbounds - 1]))
        return -1;
    h->bounds[h->nbounds] = le;
    return (int)h->nbounds++;
}

int autoscale_parse_histograms(const char *text, const char *family, struct autoscale_histograms *h,
                               char *why, size_t whylen)
{
    char prefix[160];
    snprintf(prefix, sizeof(prefix), "%s_bucket{", family);
    size_t plen = strlen(prefix);
    memset(h, 0, sizeof(*h));
    int learning = 1; /* the bounds are those of the first series */
    char first[160] = "";
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len > plen && strncmp(line, prefix, plen) == 0) {
            char labels[160];
            double le = 0;
            uint64_t count = 0;
            if (parse_bucket_line(line, len, labels, sizeof(labels), &le, &count) < 0) {
                snprintf(why, whylen, "malformed line '%.*s'", (int)(len > 80 ? 80 : len), line);
                return -1;
            }
            if (learning && first[0] == '\0' && h->nseries == 0)
                snprintf(first, sizeof(first), "%s", labels);
            if (learning && strcmp(labels, first) != 0)
                learning = 0;
            int idx = bound_index(h, le, learning);
            struct autoscale_series *s = idx >= 0 ? series_for(h, labels) : NULL;
            if (idx < 0) {
                snprintf(why, whylen, "%s: bucket le=%g is not one of the family's bounds", family,
                         le);
                return -1;
            }
            if (!s) {
                snprintf(why, whylen, "%s: more than %d series", family, AUTOSCALE_MAX_SERIES);
                return -1;
            }
            s->cumulative[idx == AUTOSCALE_MAX_BUCKETS ? AUTOSCALE_MAX_BUCKETS : idx] = count;
        }
        line = nl ? nl + 1 : line + len;
    }
    /* +Inf is stored at the end of the array; move it behind the bounds. */
    for (size_t i = 0; i < h->nseries; i++)
        h->series[i].cumulative[h->nbounds] = h->series[i].cumulative[AUTOSCALE_MAX_BUCKETS];
    return 0;
}

int autoscale_histograms_delta(const struct autoscale_histograms *prev,
                               const struct autoscale_histograms *now, uint64_t *delta)
{
    size_t nb = now->nbounds;
    memset(delta, 0, (nb + 1) * sizeof(*delta));
    if (now->nseries == 0)
        return 0;
    if (prev->nseries > 0 &&
        (prev->nbounds != nb || memcmp(prev->bounds, now->bounds, nb * sizeof(double)) != 0))
        return -1;
    for (size_t i = 0; i < now->nseries; i++) {
        const struct autoscale_series *s = &now->series[i];
        const struct autoscale_series *p = NULL;
        for (size_t j = 0; j < prev->nseries && !p; j++)
            if (strcmp(prev->series[j].labels, s->labels) == 0)
                p = &prev->series[j];
        int reset = 0;
        for (size_t b = 0; p && b <= nb; b++)
            if (s->cumulative[b] < p->cumulative[b])
                reset = 1;
        for (size_t b = 0; b <= nb; b++)
            delta[b] += s->cumulative[b] - (p && !reset ? p->cumulative[b] : 0);
    }
    return 0;
}
