/* claims.md: the paper's claims C2-C6 (C1 and C7 need KVM) checked against
 * results.csv: for each, the paper's statement, our numbers with their 95%
 * intervals and n, and a verdict — holds, inverted, or inconclusive (when
 * the intervals overlap) — with what differs here; a claim the data cannot
 * test is listed as not measured in this run. */
#ifndef PPEXP_CLAIMS_H
#define PPEXP_CLAIMS_H

#include <stddef.h>

enum ppexp_verdict { PPEXP_HOLDS = 0, PPEXP_INVERTED, PPEXP_INCONCLUSIVE };

/* Claim "a is slower than b" from two means and their 95% intervals:
 * holds when a's interval lies wholly above b's, inverted when wholly
 * below, inconclusive when they overlap or an interval is missing (n < 2). */
enum ppexp_verdict ppexp_claims_compare(double a_lo, double a_hi, double b_lo, double b_hi);
const char *ppexp_verdict_name(enum ppexp_verdict v);

int ppexp_claims_write(const char *dir, char *err, size_t errlen);

#endif
