/* Prometheus text exposition (format 0.0.4) into a libevent evbuffer, for
 * every program's /metrics: HELP and TYPE once per family, counters, gauges,
 * labelled samples and histograms from common/histogram. A writer struct
 * lives on the caller's stack for one scrape; errors (bad names, a family
 * split in two, no memory) are remembered and reported once by prom_finish. */
#ifndef PP_PROM_H
#define PP_PROM_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct histogram;

/* Longest metric family name accepted. */
#define PROM_NAME_MAX 128
/* Families remembered to catch one emitted twice (Prometheus rejects the
 * whole scrape then); beyond this many, repeats go undetected. */
#define PROM_MAX_FAMILIES 256

struct prom_label {
    const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" */
    const char *value; /* any UTF-8; backslash, quote and newline are escaped */
};

enum prom_type { PROM_COUNTER, PROM_GAUGE, PROM_HISTOGRAM, PROM_UNTYPED };

/* Treat as opaque; on the stack so a scrape allocates nothing of its own. */
struct prom {
    struct evbuffer *out;
    char family[PROM_NAME_MAX + 1];   /* family whose samples are being written */
    uint64_t seen[PROM_MAX_FAMILIES]; /* hashes of finished families */
    size_t nseen;
    int failed;    /* errors so far */
    char err[128]; /* the first one */
};

void prom_init(struct prom *p, struct evbuffer *out);

/* Every call below returns 0, or -1 when it wrote nothing (invalid name or
 * label, family repeated) or ran out of memory; the error is also kept for
 * prom_finish, so a scrape handler may ignore these and check once. */

/* Starts family name (HELP, TYPE) unless it is the one being written: call it
 * before each sample, or once before several labelled samples of one family.
 * A family must be written in one run; returning to an earlier one is an
 * error. help may be NULL (no HELP line). */
int prom_family(struct prom *p, const char *name, enum prom_type type, const char *help);

/* One sample line: name{labels} value. name is the family's name, or for
 * custom layouts any valid metric name. nlabels may be 0 (labels NULL). */
int prom_sample(struct prom *p, const char *name, const struct prom_label *labels, size_t nlabels,
                double value);

/* prom_family + prom_sample in one call, for the common unlabelled or
 * labelled counter and gauge. A counter's name should end in _total. */
int prom_counter(struct prom *p, const char *name, const char *help,
                 const struct prom_label *labels, size_t nlabels, double value);
int prom_gauge(struct prom *p, const char *name, const char *help, const struct prom_label *labels,
               size_t nlabels, double value);

/* A histogram family sample set: name_bucket{labels,le="..."} for each bound
 * (seconds, ascending) and le="+Inf", then name_sum (seconds) and
 * name_count. h holds microseconds and must not be recorded into meanwhile:
 * merge the per-thread histograms into one first. */
int prom_histogram(struct prom *p, const char *name, const char *help,
                   const struct prom_label *labels, size_t nlabels, const struct histogram *h,
                   const double *bounds_s, size_t nbounds);

/* 0 when everything was written, else -1 with the first error in err. */
int prom_finish(struct prom *p, char *err, size_t errlen);

/* Latency bounds in seconds, 100 µs to 60 s, for request durations: finer
 * than Prometheus's defaults at the low end, where a LAN proxy lives. */
extern const double prom_latency_bounds_s[];
extern const size_t prom_latency_nbounds;

#endif
