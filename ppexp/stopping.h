/* The adaptive replication rule: how many randomized blocks an experiment
 * runs, decided after each whole block from the claims' verdicts, and the
 * stricter per-look level that keeps repeated looking honest. Declared in
 * meta.json before the first run. */
#ifndef PPEXP_STOPPING_H
#define PPEXP_STOPPING_H

#include <stddef.h>

#include "claims.h"

/* The adaptive replication rule: at least min blocks, at most max; after
 * each whole block from min on, stop when every claim the data measures is
 * decided (not inconclusive), or when the next block would pass the budget.
 * Every look uses the same stricter level (Pocock's constant boundary for
 * the looks min..max) so that looking after every block keeps a claim's
 * overall error near alpha. */
struct ppexp_stopping {
    int min, max;
    double budget_s;   /* 0: none */
    double alpha;      /* overall, per claim */
    double alpha_look; /* two-sided, at each look; alpha when min == max */
    double z_look;     /* Pocock's boundary behind it */
};
enum ppexp_stop {
    PPEXP_GO_ON = 0,
    PPEXP_STOP_DECIDED, /* every measured claim decided */
    PPEXP_STOP_NOTHING, /* no claim measured: nothing to wait for past min */
    PPEXP_STOP_MAX,
    PPEXP_STOP_BUDGET
};
void ppexp_stopping_init(struct ppexp_stopping *st, int min, int max, double budget_s,
                         double alpha);
/* After `blocks` whole blocks, elapsed_s into the run, the next block
 * expected to take next_block_s: whether (and why) to stop. Never before min. */
enum ppexp_stop ppexp_stopping_check(const struct ppexp_stopping *st, int blocks, double elapsed_s,
                                     double next_block_s, const struct ppexp_claims_eval *ev);
const char *ppexp_stop_reason(enum ppexp_stop why);
/* The rule and what it does to the error rate, in words (meta.json,
 * claims.md). */
void ppexp_stopping_describe(const struct ppexp_stopping *st, char *buf, size_t len);

#endif
