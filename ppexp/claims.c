/* Each claim is a set of comparisons between rows of results.csv that
 * differ in exactly the factor the claim is about; the claim's verdict
 * aggregates them: all hold -> holds, all inverted -> inverted, anything
 * else -> inconclusive (with how many went which way). */
#include "claims.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results.h"
#include "spec.h"

struct row {
    char f[PPEXP_NFACTORS][24];
    int replicas;
    double n, mean, lo, hi, cpu, mem;
};

enum ppexp_verdict ppexp_claims_compare(double a_lo, double a_hi, double b_lo, double b_hi)
{
    if (!isfinite(a_lo) || !isfinite(a_hi) || !isfinite(b_lo) || !isfinite(b_hi))
        return PPEXP_INCONCLUSIVE;
    if (a_lo > b_hi)
        return PPEXP_HOLDS;
    if (a_hi < b_lo)
        return PPEXP_INVERTED;
    return PPEXP_INCONCLUSIVE;
}

const char *ppexp_verdict_name(enum ppexp_verdict v)
{
    return v == PPEXP_HOLDS ? "holds" : v == PPEXP_INVERTED ? "inverted" : "inconclusive";
}

/* Rows equal in every factor but `f`. */
static int differ_only(const struct row *a, const struct row *b, int f)
{
    for (int k = 0; k < PPEXP_NFACTORS; k++)
        if (k != f && strcmp(a->f[k], b->f[k]) != 0)
            return 0;
    return strcmp(a->f[f], b->f[f]) != 0;
}

static void desc(const struct row *r, char *buf, size_t len)
{
    snprintf(buf, len, "%.23s/%.23s/%.23s x%d%s%s%s", r->f[PPEXP_F_FORWARDING],
             r->f[PPEXP_F_RUNTIME], r->f[PPEXP_F_WORKER], r->replicas,
             strcmp(r->f[PPEXP_F_CACHE], "true") == 0 ? "" : " nocache",
             strcmp(r->f[PPEXP_F_STRESS], "0") == 0 ? "" : " stress",
             strcmp(r->f[PPEXP_F_PLACEMENT], "split") == 0 ? "" : " shared");
}

static void num(const struct row *r, char *buf, size_t len)
{
    if (isfinite(r->lo))
        snprintf(buf, len, "%.2f ms [%.2f, %.2f] (n=%.0f)", r->mean, r->lo, r->hi, r->n);
    else
        snprintf(buf, len, "%.2f ms (n=%.0f, no interval)", r->mean, r->n);
}

struct tally {
    int holds, inverted, inconclusive;
};

/* One comparison line: "a slower than b". */
static void compare_line(FILE *f, const struct row *a, const struct row *b, struct tally *t)
{
    enum ppexp_verdict v = ppexp_claims_compare(a->lo, a->hi, b->lo, b->hi);
    char da[160], db[160], na[96], nb[96];
    desc(a, da, sizeof(da));
    desc(b, db, sizeof(db));
    num(a, na, sizeof(na));
    num(b, nb, sizeof(nb));
    fprintf(f, "- %s %s vs %s %s: **%s**\n", da, na, db, nb, ppexp_verdict_name(v));
    if (v == PPEXP_HOLDS)
        t->holds++;
    else if (v == PPEXP_INVERTED)
        t->inverted++;
    else
        t->inconclusive++;
}

static void verdict(FILE *f, const struct tally *t, const char *differ)
{
    int total = t->holds + t->inverted + t->inconclusive;
    if (total == 0) {
        fprintf(f, "\nVerdict: **not measured in this run** (no pair of configurations that "
                   "differ only in what the claim is about).\n\n");
        return;
    }
    const char *v = t->holds == total      ? "holds"
                    : t->inverted == total ? "inverted"
                                           : "inconclusive";
    fprintf(f,
            "\nVerdict: **%s** (%d comparison%s: %d hold, %d inverted, %d with overlapping "
            "intervals).\n",
            v, total, total == 1 ? "" : "s", t->holds, t->inverted, t->inconclusive);
    if (strcmp(v, "holds") != 0)
        fprintf(f, "Where we differ: %s\n", differ);
    fputc('\n', f);
}

static const char *const HERE =
    "one machine with 2 cores, not three 4-core PCs; veth pairs, not NICs; proxyd (Squid 5, "
    "not Squid 3, where the manager has --worker); loadgen, not 64 JMeters.";

int ppexp_claims_write(const char *dir, char *err, size_t errlen)
{
    char path[800];
    snprintf(path, sizeof(path), "%s/results.csv", dir);
    struct ppexp_table t;
    if (ppexp_table_read(path, &t, err, errlen) < 0)
        return -1;
    struct row *rows = calloc(t.nrows ? t.nrows : 1, sizeof(*rows));
    if (!rows) {
        ppexp_table_release(&t);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = 0;
    int c_n = ppexp_table_col(&t, "n"), c_mean = ppexp_table_col(&t, "mean_ms"),
        c_lo = ppexp_table_col(&t, "ci95_lo_ms"), c_hi = ppexp_table_col(&t, "ci95_hi_ms"),
        c_cpu = ppexp_table_col(&t, "cpu_pct"), c_mem = ppexp_table_col(&t, "mem_pct");
    for (size_t i = 0; i < t.nrows; i++) {
        struct row *r = &rows[n];
        for (int k = 0; k < PPEXP_NFACTORS; k++)
            snprintf(r->f[k], sizeof(r->f[k]), "%s",
                     ppexp_table_str(&t, i, ppexp_table_col(&t, ppexp_results_factor_cols[k])));
        if (strcmp(r->f[PPEXP_F_FORWARDING], "direct") == 0)
            continue;
        r->replicas = atoi(r->f[PPEXP_F_REPLICAS]);
        r->n = ppexp_table_num(&t, i, c_n);
        r->mean = ppexp_table_num(&t, i, c_mean);
        r->lo = ppexp_table_num(&t, i, c_lo);
        r->hi = ppexp_table_num(&t, i, c_hi);
        r->cpu = ppexp_table_num(&t, i, c_cpu);
        r->mem = ppexp_table_num(&t, i, c_mem);
        n++;
    }
    ppexp_table_release(&t);
    snprintf(path, sizeof(path), "%s/claims.md.tmp", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        free(rows);
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    fprintf(f, "# The paper's claims against this run\n\n"
               "Numbers: mean time per request over the replicate means, 95%% confidence "
               "interval by Student t over those means, n = replicates (results.csv). A claim "
               "\"A is slower than B\" holds when A's interval lies wholly above B's, is "
               "inverted when wholly below, and is inconclusive when they overlap.\n\n"
               "C1 (order native < Docker-Routing < Docker-NAT < KVM) and C7 (Docker "
               "instantiates 13x faster than KVM) need KVM: not measured by ppexp.\n\n");

    struct tally tl = {0};
    fprintf(f, "## C2 (Fig. 2): Docker-NAT is slightly slower than Docker-Routing\n\n"
               "Paper: \"slightly longer\" processing time with NAT than with routing, "
               "attributed to the bridge and NAT's higher CPU use (Table 2: 42.67%% vs "
               "40.75%%).\n\nHere (container runtime, nat vs route, everything else equal):\n\n");
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (differ_only(&rows[i], &rows[j], PPEXP_F_FORWARDING) &&
                strcmp(rows[i].f[PPEXP_F_FORWARDING], "nat") == 0 &&
                strcmp(rows[j].f[PPEXP_F_FORWARDING], "route") == 0 &&
                strcmp(rows[i].f[PPEXP_F_RUNTIME], "container") == 0 && rows[i].replicas <= 2) {
                compare_line(f, &rows[i], &rows[j], &tl);
                if (isfinite(rows[i].cpu) && isfinite(rows[j].cpu))
                    fprintf(f,
                            "  - intermediate host CPU: nat %.1f%%, route %.1f%% of a core; "
                            "memory nat %.2f%%, route %.2f%%\n",
                            rows[i].cpu, rows[j].cpu, rows[i].mem, rows[j].mem);
            }
    verdict(f, &tl, HERE);

    memset(&tl, 0, sizeof(tl));
    fprintf(f, "## C3 (Figs. 2-4): two proxies beat one\n\n"
               "Paper: \"for every configuration\" 2 proxies give a shorter processing time "
               "than 1; with 2 proxies Docker is about as fast as native.\n\n"
               "Here (1 vs 2 proxies, everything else equal):\n\n");
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (differ_only(&rows[i], &rows[j], PPEXP_F_REPLICAS) && rows[i].replicas == 1 &&
                rows[j].replicas == 2)
                compare_line(f, &rows[i], &rows[j], &tl);
    verdict(f, &tl, HERE);

    memset(&tl, 0, sizeof(tl));
    fprintf(f, "## C4 (Fig. 3 vs Fig. 2): the cache lowers processing time considerably\n\n"
               "Paper: with the cache on, processing time is \"considerably\" lower.\n\n"
               "Here (cache off vs on, everything else equal):\n\n");
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (differ_only(&rows[i], &rows[j], PPEXP_F_CACHE) &&
                strcmp(rows[i].f[PPEXP_F_CACHE], "false") == 0)
                compare_line(f, &rows[i], &rows[j], &tl);
    verdict(f, &tl,
            "the origin is nginx on the same machine over veth, so a miss costs "
            "little more than a hit; 2 cores, not 4.");

    memset(&tl, 0, sizeof(tl));
    struct tally tl2 = {0};
    fprintf(f, "## C5 (Fig. 4): NAT slower than routing at 1 proxy, inverted above 2\n\n"
               "Paper: with 64 clients, NAT's processing time exceeds routing's with one "
               "proxy, and routing's exceeds NAT's with more than two (routing's larger "
               "memory and route tables, Table 2).\n\nHere, one proxy (nat slower than "
               "route?):\n\n");
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (differ_only(&rows[i], &rows[j], PPEXP_F_FORWARDING) &&
                strcmp(rows[i].f[PPEXP_F_FORWARDING], "nat") == 0 &&
                strcmp(rows[j].f[PPEXP_F_FORWARDING], "route") == 0 && rows[i].replicas == 1)
                compare_line(f, &rows[i], &rows[j], &tl);
    fprintf(f, "\nMore than two proxies (route slower than nat?):\n\n");
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (differ_only(&rows[i], &rows[j], PPEXP_F_FORWARDING) &&
                strcmp(rows[i].f[PPEXP_F_FORWARDING], "route") == 0 &&
                strcmp(rows[j].f[PPEXP_F_FORWARDING], "nat") == 0 && rows[i].replicas > 2)
                compare_line(f, &rows[i], &rows[j], &tl2);
    tl.holds += tl2.holds;
    tl.inverted += tl2.inverted;
    tl.inconclusive += tl2.inconclusive;
    verdict(f, &tl,
            "policy routing here is a few rules and tables in one kernel over veth, "
            "DNAT one chain; with 2 cores the proxies, not forwarding, are the "
            "bottleneck.");

    memset(&tl, 0, sizeof(tl));
    fprintf(f, "## C6 (Fig. 4): no gain beyond 2 proxies; slower from 8 on\n\n"
               "Paper: no improvement beyond two proxies, and from eight proxies on the "
               "processing time increases (the containers share CPU and memory).\n\n"
               "Here (8, 16, 32 proxies slower than 2?):\n\n");
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (differ_only(&rows[i], &rows[j], PPEXP_F_REPLICAS) && rows[i].replicas >= 8 &&
                rows[j].replicas == 2)
                compare_line(f, &rows[i], &rows[j], &tl);
    verdict(f, &tl, HERE);
    fclose(f);
    free(rows);
    char final[800];
    snprintf(final, sizeof(final), "%s/claims.md", dir);
    if (rename(path, final) < 0) {
        snprintf(err, errlen, "cannot write %s", final);
        return -1;
    }
    return 0;
}
