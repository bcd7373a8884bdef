/* The paper's claims C2-C6 (C1 and C7 need KVM) as data, and their verdicts
 * from paired comparisons inside the randomized blocks: per block the
 * log-ratio of two configurations' mean times, over the blocks a
 * geometric-mean ratio with a t interval, and one of four verdicts against
 * a declared margin. One evaluation serves the runner's after-each-block
 * stopping check (stopping.c, from runs in memory) and claims.md (from
 * summary.csv). */
#ifndef PPEXP_CLAIMS_H
#define PPEXP_CLAIMS_H

#include <stddef.h>

#include "spec.h"
#include "stats.h"

/* Claims in the table (C2, C3, C4, C5a, C5b, C6) with room to grow. */
#define PPEXP_CLAIMS_MAX 8
/* The overall error rate per claim: the paper's 95%. */
#define PPEXP_CLAIMS_ALPHA 0.05

/* One claim: "A is slower than B" between configurations that differ only
 * in `factor`, A's level in [a_lo, a_hi], B's b; the other factors
 * filtered by replicas (unless the claim is about replicas) and runtime. */
struct ppexp_claim {
    const char *id;      /* "C2" */
    const char *figure;  /* "Fig. 2" */
    const char *title;   /* one line */
    const char *paper;   /* what the paper says, with its reason */
    const char *reading; /* what holds / equivalent / inverted mean for it */
    const char *differs; /* where this setup differs from the paper's */
    enum ppexp_factor factor;
    int a_lo, a_hi, b;
    int replicas_lo, replicas_hi; /* of both, when factor is not replicas */
    int runtime;                  /* -1: any */
};

size_t ppexp_claims_count(void);
const struct ppexp_claim *ppexp_claim_at(size_t i);
/* Index of a claim by id ("C2"), -1 if none. */
int ppexp_claim_index(const char *id);

/* One finished run as the verdicts see it. */
struct ppexp_obs {
    int level[PPEXP_NFACTORS];
    int baseline;
    int block; /* the replicate, 1-based */
    double mean_ms;
};

struct ppexp_claims_opts {
    double alpha;                    /* per look: 0.05, or stricter in an adaptive run */
    double margin[PPEXP_CLAIMS_MAX]; /* fractions: 0.05 = +-5% */
    double margin_default;           /* for comparisons that are no claim (ratios.csv) */
};
/* The spec's margins (default PPEXP_MARGIN_DEFAULT_PCT) at level alpha. */
void ppexp_claims_opts_from_spec(const struct ppexp_spec *s, double alpha,
                                 struct ppexp_claims_opts *o);

struct ppexp_claim_result {
    enum ppexp_verdict verdict; /* NOT_MEASURED when no cell */
    struct ppexp_paired pooled; /* over blocks, the mean log-ratio of the cells */
    double margin;
    size_t ncells;
    size_t cells_by_verdict[PPEXP_NOT_MEASURED + 1];
};

struct ppexp_claims_eval {
    size_t n; /* = ppexp_claims_count() */
    struct ppexp_claim_result r[PPEXP_CLAIMS_MAX];
};

/* Every claim's verdict from obs; 0, or -1 out of memory. */
int ppexp_claims_evaluate(const struct ppexp_obs *obs, size_t nobs,
                          const struct ppexp_claims_opts *o, struct ppexp_claims_eval *ev);

/* One line per claim: "C3 1.21 [1.10, 1.33] +-5% holds" (progress). */
void ppexp_claims_progress(const struct ppexp_claims_eval *ev, char *buf, size_t len);

/* claims.md, claims_blocks.csv (the per-block data each verdict used),
 * ratios.csv (nat/route and N/1 for every cell) and points.csv (each
 * configuration's geometric mean with its paired interval, for the plots),
 * from summary.csv and meta.json (margins, per-look level) in dir. */
int ppexp_claims_write(const char *dir, char *err, size_t errlen);

#endif
