/* Prometheus text format 0.0.4 writer: validates names, escapes HELP text
 * and label values, prints floats so they parse back exactly, and writes
 * histograms as cumulative le buckets from common/histogram. See
 * https://prometheus.io/docs/instrumenting/exposition_formats/ */
#include "prom.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "histogram.h"

const double prom_latency_bounds_s[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                        0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                        1,      2.5,     5,      10,    30,     60};
const size_t prom_latency_nbounds =
    sizeof(prom_latency_bounds_s) / sizeof(prom_latency_bounds_s[0]);

/* Most bounds a histogram may have: le buckets past a few dozen cost every
 * scrape and every query without adding resolution anyone reads. */
#define PROM_MAX_BOUNDS 64

static const char *const type_names[] = {"counter", "gauge", "histogram", "untyped"};

static void fail(struct prom *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct prom *p, const char *fmt, ...)
{
    if (p->failed++ > 0)
        return; /* keep the first: later ones are often its consequence */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof(p->err), fmt, ap);
    va_end(ap);
}

static void add(struct prom *p, const char *s, size_t len)
{
    if (len > 0 && evbuffer_add(p->out, s, len) < 0)
        fail(p, "out of memory writing metrics");
}

static void add_str(struct prom *p, const char *s)
{
    add(p, s, strlen(s));
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; labels exclude ':'. */
static int valid_name(const char *s, int colon_ok)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > PROM_NAME_MAX)
        return 0;
    for (size_t i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (colon_ok && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

/* HELP escapes backslash and newline; label values also the double quote. */
static void add_escaped(struct prom *p, const char *s, int quote)
{
    const char *run = s;
    for (; *s != '\0'; s++) {
        const char *rep = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : NULL;
        if (quote && *s == '"')
            rep = "\\\"";
        if (rep != NULL) {
            add(p, run, (size_t)(s - run));
            add_str(p, rep);
            run = s + 1;
        }
    }
    add(p, run, (size_t)(s - run));
}

/* Shortest text that parses back to the same double; integers without an
 * exponent up to 2^53; NaN and infinities as Prometheus spells them. */
static void format_value(double v, char *out, size_t outlen)
{
    if (isnan(v)) {
        snprintf(out, outlen, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, outlen, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(out, outlen, "%.0f", v);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, outlen, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= UINT64_C(1099511628211);
    }
    return h;
}

void prom_init(struct prom *p, struct evbuffer *out)
{
    memset(p, 0, sizeof(*p));
    p->out = out;
}

int prom_family(struct prom *p, const char *name, enum prom_type type, const char *help)
{
    if (!valid_name(name, 1)) {
        fail(p, "invalid metric name \"%.64s\"", name != NULL ? name : "(null)");
        return -1;
    }
    if (strcmp(name, p->family) == 0)
        return 0;
    if (p->family[0] != '\0' && p->nseen < PROM_MAX_FAMILIES)
        p->seen[p->nseen++] = hash_name(p->family);
    uint64_t hash = hash_name(name);
    for (size_t i = 0; i < p->nseen; i++) {
        if (p->seen[i] == hash) {
            fail(p, "metric family \"%.64s\" written in two places", name);
            return -1;
        }
    }
    snprintf(p->family, sizeof(p->family), "%s", name);
    int failed_before = p->failed;

    if (help != NULL) {
        add_str(p, "# HELP ");
        add_str(p, name);
        add_str(p, " ");
        add_escaped(p, help, 0);
        add_str(p, "\n");
    }
    if ((unsigned)type > PROM_UNTYPED)
        type = PROM_UNTYPED;
    add_str(p, "# TYPE ");
    add_str(p, name);
    add_str(p, " ");
    add_str(p, type_names[type]);
    add_str(p, "\n");
    return p->failed == failed_before ? 0 : -1;
}

static int valid_labels(struct prom *p, const struct prom_label *labels, size_t nlabels)
{
    for (size_t i = 0; i < nlabels; i++) {
        const char *n = labels[i].name;
        if (!valid_name(n, 0) || strncmp(n, "__", 2) == 0) {
            fail(p, "invalid label name \"%.64s\"", n != NULL ? n : "(null)");
            return 0;
        }
        if (labels[i].value == NULL) {
            fail(p, "label \"%.64s\" has no value", n);
            return 0;
        }
    }
    return 1;
}

/* name{a="x",b="y",extra_name="extra_value"} value\n; extra (the histogram's
 * le) may be NULL. */
static void write_sample(struct prom *p, const char *name, const char *suffix,
                         const struct prom_label *labels, size_t nlabels, const char *extra_name,
                         const char *extra_value, double value)
{
    char num[64];
    add_str(p, name);
    add_str(p, suffix);
    if (nlabels > 0 || extra_name != NULL) {
        add_str(p, "{");
        for (size_t i = 0; i < nlabels; i++) {
            if (i > 0)
                add_str(p, ",");
            add_str(p, labels[i].name);
            add_str(p, "=\"");
            add_escaped(p, labels[i].value, 1);
            add_str(p, "\"");
        }
        if (extra_name != NULL) {
            if (nlabels > 0)
                add_str(p, ",");
            add_str(p, extra_name);
            add_str(p, "=\"");
            add_str(p, extra_value);
            add_str(p, "\"");
        }
        add_str(p, "}");
    }
    format_value(value, num, sizeof(num));
    add_str(p, " ");
    add_str(p, num);
    add_str(p, "\n");
}

int prom_sample(struct prom *p, const char *name, const struct prom_label *labels, size_t nlabels,
                double value)
{
    if (!valid_name(name, 1)) {
        fail(p, "invalid metric name \"%.64s\"", name != NULL ? name : "(null)");
        return -1;
    }
    if (!valid_labels(p, labels, nlabels))
        return -1;
    int failed_before = p->failed;
    write_sample(p, name, "", labels, nlabels, NULL, NULL, value);
    return p->failed == failed_before ? 0 : -1;
}

int prom_counter(struct prom *p, const char *name, const char *help,
                 const struct prom_label *labels, size_t nlabels, double value)
{
    if (prom_family(p, name, PROM_COUNTER, help) < 0)
        return -1;
    return prom_sample(p, name, labels, nlabels, value);
}

int prom_gauge(struct prom *p, const char *name, const char *help, const struct prom_label *labels,
               size_t nlabels, double value)
{
    if (prom_family(p, name, PROM_GAUGE, help) < 0)
        return -1;
    return prom_sample(p, name, labels, nlabels, value);
}

int prom_histogram(struct prom *p, const char *name, const char *help,
                   const struct prom_label *labels, size_t nlabels, const struct histogram *h,
                   const double *bounds_s, size_t nbounds)
{
    uint64_t bounds_us[PROM_MAX_BOUNDS], counts[PROM_MAX_BOUNDS];
    char le[64];

    if (nbounds > PROM_MAX_BOUNDS) {
        fail(p, "histogram \"%.64s\": %zu bounds, at most %d", name, nbounds, PROM_MAX_BOUNDS);
        return -1;
    }
    for (size_t i = 0; i < nbounds; i++) {
        if (!(bounds_s[i] >= 0 && bounds_s[i] < 1e9) || (i > 0 && bounds_s[i] <= bounds_s[i - 1])) {
            fail(p, "histogram \"%.64s\": bounds must be ascending seconds", name);
            return -1;
        }
        bounds_us[i] = (uint64_t)llround(bounds_s[i] * 1e6);
    }
    for (size_t i = 0; i < nlabels; i++) {
        if (labels[i].name != NULL && strcmp(labels[i].name, "le") == 0) {
            fail(p, "histogram \"%.64s\": label \"le\" is reserved", name);
            return -1;
        }
    }
    if (!valid_labels(p, labels, nlabels) || prom_family(p, name, PROM_HISTOGRAM, help) < 0)
        return -1;
    int failed_before = p->failed;

    histogram_cumulative(h, bounds_us, nbounds, counts);
    uint64_t total = histogram_count(h);
    for (size_t i = 0; i < nbounds; i++) {
        format_value(bounds_s[i], le, sizeof(le));
        /* Never above +Inf, whatever a racing writer did. */
        write_sample(p, name, "_bucket", labels, nlabels, "le", le,
                     (double)(counts[i] < total ? counts[i] : total));
    }
    write_sample(p, name, "_bucket", labels, nlabels, "le", "+Inf", (double)total);
    write_sample(p, name, "_sum", labels, nlabels, NULL, NULL, (double)histogram_sum_us(h) / 1e6);
    write_sample(p, name, "_count", labels, nlabels, NULL, NULL, (double)total);
    return p->failed == failed_before ? 0 : -1;
}

int prom_finish(struct prom *p, char *err, size_t errlen)
{
    if (!p->failed)
        return 0;
    snprintf(err, errlen, "%s", p->err);
    return -1;
}
