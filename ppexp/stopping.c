/* Pocock's constant boundary (stats.c) for the looks min..max, computed
 * once per run; the check after each block; the rule in words. */
#include "stopping.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ppexp_stopping_init(struct ppexp_stopping *st, int min, int max, double budget_s, double alpha)
{
    memset(st, 0, sizeof(*st));
    st->min = min < 1 ? 1 : min;
    st->max = max < st->min ? st->min : max;
    st->budget_s = budget_s;
    st->alpha = alpha;
    st->alpha_look = alpha;
    st->z_look = NAN;
    /* A verdict needs two blocks: looks at max(min, 2) .. max. */
    int first = st->min < 2 ? 2 : st->min;
    if (st->max > first) {
        size_t k = (size_t)(st->max - first + 1);
        double *looks = calloc(k, sizeof(*looks));
        if (looks) {
            for (size_t j = 0; j < k; j++)
                looks[j] = first + (double)j;
            double z = ppexp_stats_pocock_z(looks, k, alpha);
            if (isfinite(z)) {
                st->z_look = z;
                st->alpha_look = 2 * (1 - ppexp_stats_norm_cdf(z));
            }
            free(looks);
        }
    }
}

enum ppexp_stop ppexp_stopping_check(const struct ppexp_stopping *st, int blocks, double elapsed_s,
                                     double next_block_s, const struct ppexp_claims_eval *ev)
{
    if (blocks < st->min)
        return PPEXP_GO_ON;
    size_t measured = 0, undecided = 0;
    for (size_t i = 0; ev && i < ev->n; i++) {
        if (ev->r[i].verdict == PPEXP_NOT_MEASURED)
            continue;
        measured++;
        undecided += ev->r[i].verdict == PPEXP_INCONCLUSIVE;
    }
    if (measured == 0)
        return PPEXP_STOP_NOTHING;
    if (undecided == 0)
        return PPEXP_STOP_DECIDED;
    if (blocks >= st->max)
        return PPEXP_STOP_MAX;
    if (st->budget_s > 0 && elapsed_s + (next_block_s > 0 ? next_block_s : 0) > st->budget_s)
        return PPEXP_STOP_BUDGET;
    return PPEXP_GO_ON;
}

const char *ppexp_stop_reason(enum ppexp_stop why)
{
    switch (why) {
    case PPEXP_STOP_DECIDED:
        return "every measured claim decided";
    case PPEXP_STOP_NOTHING:
        return "no claim measured by this spec: nothing to decide past the minimum";
    case PPEXP_STOP_MAX:
        return "maximum number of blocks reached";
    case PPEXP_STOP_BUDGET:
        return "time budget reached (the next block would pass it)";
    default:
        return "not stopped";
    }
}

void ppexp_stopping_describe(const struct ppexp_stopping *st, char *buf, size_t len)
{
    if (st->min >= st->max) {
        snprintf(buf, len,
                 "fixed: %d blocks, one look at the end; each claim tested at alpha = %.2f "
                 "(95%% intervals; TOST at %.2f, i.e. the 90%% interval)%s",
                 st->max, st->alpha, st->alpha,
                 st->budget_s > 0 ? "; the budget does not apply to a fixed design" : "");
        return;
    }
    char budget[64] = "";
    if (st->budget_s > 0)
        snprintf(budget, sizeof(budget), ", or when the next block would pass %.0f s",
                 st->budget_s);
    snprintf(buf, len,
             "adaptive: at least %d and at most %d blocks; after every whole block from %d on, "
             "stop when every claim the spec measures is decided (holds, inverted or "
             "equivalent)%s. Looking after every block and stopping at the first decided look "
             "would inflate the error rate (optional stopping: a difference between identical "
             "configurations is declared far more often than 5%% of the time). It is kept near "
             "alpha = %.2f per claim by: a fixed maximum, looks only after whole blocks, the "
             "rule declared before the run (here), and one stricter level at every look: "
             "Pocock's constant boundary for the %d possible looks, |z| = %.3f, i.e. "
             "alpha = %.4f per look (two-sided interval at %.2f%%, TOST at %.4f per side). "
             "Pocock's boundary assumes normal statistics with known variance; it is applied "
             "through t quantiles on the per-block log-ratios, an approximation. Stopping "
             "early for the budget only removes looks, which cannot raise the error. No "
             "correction across the claims.",
             st->min, st->max, st->min < 2 ? 2 : st->min, budget, st->alpha,
             st->max - (st->min < 2 ? 2 : st->min) + 1, st->z_look, st->alpha_look,
             100 * (1 - st->alpha_look), st->alpha_look);
}
