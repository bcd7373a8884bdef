/* The claims table and the one loop that evaluates it. Runs are laid out
 * as a grid (configuration x block); a claim's cells are the pairs of
 * configurations (A, B) it compares; a cell's series is log(A/B) per block,
 * a claim's series the mean over its cells per block (blocks lacking a cell
 * are left out), and both get the same paired statistics and verdict. */
#include "claims.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "results.h"

/* Largest meta.json read back: the spec and run order of a long run. */
#define META_FILE_MAX (8 * 1024 * 1024)

static const char *const HERE =
    "one machine with 2 cores, not three 4-core PCs; veth pairs, not NICs; proxyd, Squid 5 "
    "and nginx workers, not Squid 3; loadgen, not 64 JMeters.";

static const struct ppexp_claim claims[] = {
    {"C2", "Fig. 2", "Docker-NAT is slightly slower than Docker-Routing",
     "\"Docker-NAT has a slightly longer processing time than Docker-Routing\", attributed to "
     "the bridge and NAT's higher CPU use (Table 2: 42.67% vs 40.75%).",
     "holds: NAT is slower by more than the margin allows to call equal; equivalent: any "
     "difference is smaller than the margin (the paper's \"slight\" difference is not "
     "distinguishable here at that size); inverted: routing is the slower.",
     "NAT here is one DNAT chain in the intermediate host's kernel, routing a few policy "
     "rules; no software bridge on NAT's path as in Docker.",
     PPEXP_F_FORWARDING, PPEXP_FWD_NAT, PPEXP_FWD_NAT, PPEXP_FWD_ROUTE, 1, 2,
     PPEXP_RUNTIME_CONTAINER},
    {"C3", "Figs. 2-4", "Two proxies beat one",
     "\"for all configurations, the average processing time drops when two proxies are "
     "employed\".",
     "holds: one proxy is slower than two; equivalent: no difference beyond the margin; "
     "inverted: two proxies are slower.",
     HERE, PPEXP_F_REPLICAS, 1, 1, 2, 0, 0, -1},
    {"C4", "Fig. 3 vs Fig. 2", "The cache lowers processing time considerably",
     "with the cache on, processing time is \"considerably\" lower.",
     "holds: cache off is slower than cache on.",
     "the origin is nginx on the same machine over veth, so a miss costs little more than a "
     "hit; 2 cores, not 4.",
     PPEXP_F_CACHE, 0, 0, 1, 1, PPEXP_REPLICAS_MAX, -1},
    {"C5a", "Fig. 4", "NAT is slower than routing with one proxy",
     "\"for one proxy, the processing time for the NAT configuration is higher than that for "
     "the routing configuration\".",
     "holds: NAT slower at one proxy.",
     "policy routing here is a few rules and tables in one kernel over veth, DNAT one chain.",
     PPEXP_F_FORWARDING, PPEXP_FWD_NAT, PPEXP_FWD_NAT, PPEXP_FWD_ROUTE, 1, 1, -1},
    {"C5b", "Fig. 4", "Routing is slower than NAT above two proxies",
     "\"for 64 clients and a higher number of proxies (i.e., more than two proxies), this "
     "situation is inverted\" (routing's larger memory and route tables, Table 2).",
     "holds: routing slower above two proxies.",
     "the routing table here does not grow with the clients (one rule per instance); with 2 "
     "cores the proxies, not forwarding, are the bottleneck.",
     PPEXP_F_FORWARDING, PPEXP_FWD_ROUTE, PPEXP_FWD_ROUTE, PPEXP_FWD_NAT, 3, PPEXP_REPLICAS_MAX,
     -1},
    {"C6", "Fig. 4", "No gain beyond two proxies",
     "\"the performance does not improve with more than two proxies. Additionally, at eight "
     "proxies, the processing time starts to increase\" (containers share CPU and memory).",
     "A = more than two proxies, B = two. holds: more proxies are slower (no gain, and the "
     "increase the paper sees); equivalent: no gain and no loss beyond the margin (also no "
     "gain: agrees with the first half of the claim); inverted: more proxies are faster, a "
     "gain the paper did not see.",
     HERE, PPEXP_F_REPLICAS, 3, PPEXP_REPLICAS_MAX, 2, 0, 0, -1},
};

/* Comparisons written to ratios.csv, every cell of them: not claims. The
 * first two are drawn in ratios.svg; the workers' compare proxyd with its
 * peers on the paper's metric, paired within blocks like the claims. */
static const struct ppexp_claim views[] = {
    {"nat/route", "", "", "", "", "", PPEXP_F_FORWARDING, PPEXP_FWD_NAT, PPEXP_FWD_NAT,
     PPEXP_FWD_ROUTE, 1, PPEXP_REPLICAS_MAX, -1},
    {"N/1", "", "", "", "", "", PPEXP_F_REPLICAS, 2, PPEXP_REPLICAS_MAX, 1, 0, 0, -1},
    {"proxyd/squid", "", "", "", "", "", PPEXP_F_WORKER, PPEXP_WORKER_PROXYD, PPEXP_WORKER_PROXYD,
     PPEXP_WORKER_SQUID, 1, PPEXP_REPLICAS_MAX, -1},
    {"proxyd/nginx", "", "", "", "", "", PPEXP_F_WORKER, PPEXP_WORKER_PROXYD, PPEXP_WORKER_PROXYD,
     PPEXP_WORKER_NGINX, 1, PPEXP_REPLICAS_MAX, -1},
};

size_t ppexp_claims_count(void)
{
    return sizeof(claims) / sizeof(claims[0]);
}

const struct ppexp_claim *ppexp_claim_at(size_t i)
{
    return i < ppexp_claims_count() ? &claims[i] : NULL;
}

int ppexp_claim_index(const char *id)
{
    for (size_t i = 0; i < ppexp_claims_count(); i++)
        if (strcmp(claims[i].id, id) == 0)
            return (int)i;
    return -1;
}

void ppexp_claims_opts_from_spec(const struct ppexp_spec *s, double alpha,
                                 struct ppexp_claims_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->alpha = alpha;
    o->margin_default = (s ? s->margin_default_pct : PPEXP_MARGIN_DEFAULT_PCT) / 100.0;
    for (size_t i = 0; i < ppexp_claims_count(); i++)
        o->margin[i] = o->margin_default;
    for (int k = 0; s && k < s->nmargins; k++) {
        int i = ppexp_claim_index(s->margins[k].claim);
        if (i >= 0)
            o->margin[i] = s->margins[k].pct / 100.0;
    }
}

/* ---------------------------------------------------------------- grid */

struct grid {
    size_t ncfg, nblk;
    struct ppexp_obs *cfg; /* one per distinct configuration (block unused) */
    int *blocks;           /* distinct blocks, ascending */
    double *v;             /* ncfg x nblk mean times; NAN: no run */
};

static void grid_release(struct grid *g)
{
    free(g->cfg);
    free(g->blocks);
    free(g->v);
    memset(g, 0, sizeof(*g));
}

static long grid_find(const struct grid *g, const int *level, int baseline)
{
    for (size_t i = 0; i < g->ncfg; i++)
        if (g->cfg[i].baseline == baseline &&
            memcmp(g->cfg[i].level, level, sizeof(g->cfg[i].level)) == 0)
            return (long)i;
    return -1;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

static int grid_build(const struct ppexp_obs *obs, size_t nobs, struct grid *g)
{
    memset(g, 0, sizeof(*g));
    size_t cap = nobs ? nobs : 1;
    g->cfg = calloc(cap, sizeof(*g->cfg));
    g->blocks = calloc(cap, sizeof(*g->blocks));
    if (!g->cfg || !g->blocks)
        goto oom;
    for (size_t i = 0; i < nobs; i++) {
        if (grid_find(g, obs[i].level, obs[i].baseline) < 0)
            g->cfg[g->ncfg++] = obs[i];
        size_t k;
        for (k = 0; k < g->nblk && g->blocks[k] != obs[i].block; k++)
            ;
        if (k == g->nblk)
            g->blocks[g->nblk++] = obs[i].block;
    }
    qsort(g->blocks, g->nblk, sizeof(int), cmp_int);
    size_t cells = g->ncfg * g->nblk;
    g->v = malloc((cells ? cells : 1) * sizeof(double));
    if (!g->v)
        goto oom;
    for (size_t i = 0; i < g->ncfg * g->nblk; i++)
        g->v[i] = NAN;
    for (size_t i = 0; i < nobs; i++) {
        long c = grid_find(g, obs[i].level, obs[i].baseline);
        int *b = bsearch(&obs[i].block, g->blocks, g->nblk, sizeof(int), cmp_int);
        if (c >= 0 && b && isfinite(obs[i].mean_ms) && obs[i].mean_ms > 0)
            g->v[(size_t)c * g->nblk + (size_t)(b - g->blocks)] = obs[i].mean_ms;
    }
    return 0;
oom:
    grid_release(g);
    return -1;
}

struct cell {
    size_t a, b; /* grid configurations */
};

/* The claim's pairs present in the grid; returns how many (<= g->ncfg). */
static size_t claim_cells(const struct ppexp_claim *c, const struct grid *g, struct cell *cells)
{
    size_t n = 0;
    for (size_t i = 0; i < g->ncfg; i++) {
        const struct ppexp_obs *a = &g->cfg[i];
        int la = a->level[c->factor];
        if (a->baseline || la < c->a_lo || la > c->a_hi)
            continue;
        if (c->factor != PPEXP_F_REPLICAS && (a->level[PPEXP_F_REPLICAS] < c->replicas_lo ||
                                              a->level[PPEXP_F_REPLICAS] > c->replicas_hi))
            continue;
        if (c->runtime >= 0 && a->level[PPEXP_F_RUNTIME] != c->runtime)
            continue;
        int lb[PPEXP_NFACTORS];
        memcpy(lb, a->level, sizeof(lb));
        lb[c->factor] = c->b;
        long j = grid_find(g, lb, 0);
        if (j >= 0)
            cells[n++] = (struct cell){i, (size_t)j};
    }
    return n;
}

/* log(A/B) in block k, NAN when either run is missing. */
static double cell_log(const struct grid *g, const struct cell *c, size_t k)
{
    double a = g->v[c->a * g->nblk + k], b = g->v[c->b * g->nblk + k];
    return isfinite(a) && isfinite(b) ? log(a / b) : NAN;
}

/* The pooled series: per block, the mean over cells; blocks lacking one
 * are left out (a partial block would weigh its cells differently). */
static double pooled_log(const struct grid *g, const struct cell *cells, size_t ncells, size_t k)
{
    double s = 0;
    for (size_t i = 0; i < ncells; i++) {
        double x = cell_log(g, &cells[i], k);
        if (!isfinite(x))
            return NAN;
        s += x;
    }
    return ncells ? s / (double)ncells : NAN;
}

static void cell_paired(const struct grid *g, const struct cell *cells, size_t ncells, long which,
                        double alpha, double *buf, struct ppexp_paired *p)
{
    size_t n = 0;
    for (size_t k = 0; k < g->nblk; k++) {
        double x = which < 0 ? pooled_log(g, cells, ncells, k) : cell_log(g, &cells[which], k);
        if (isfinite(x))
            buf[n++] = x;
    }
    ppexp_stats_paired(buf, n, alpha, p);
}

static void evaluate_one(const struct ppexp_claim *c, const struct grid *g, double alpha,
                         double margin, struct cell *cells, double *buf,
                         struct ppexp_claim_result *r)
{
    memset(r, 0, sizeof(*r));
    r->margin = margin;
    r->ncells = claim_cells(c, g, cells);
    if (r->ncells == 0) {
        r->verdict = PPEXP_NOT_MEASURED;
        return;
    }
    for (size_t i = 0; i < r->ncells; i++) {
        struct ppexp_paired p;
        cell_paired(g, cells, r->ncells, (long)i, alpha, buf, &p);
        r->cells_by_verdict[ppexp_stats_verdict(&p, margin)]++;
    }
    cell_paired(g, cells, r->ncells, -1, alpha, buf, &r->pooled);
    r->verdict = ppexp_stats_verdict(&r->pooled, margin);
}

int ppexp_claims_evaluate(const struct ppexp_obs *obs, size_t nobs,
                          const struct ppexp_claims_opts *o, struct ppexp_claims_eval *ev)
{
    memset(ev, 0, sizeof(*ev));
    struct grid g;
    if (grid_build(obs, nobs, &g) < 0)
        return -1;
    struct cell *cells = calloc(g.ncfg ? g.ncfg : 1, sizeof(*cells));
    double *buf = calloc(g.nblk ? g.nblk : 1, sizeof(*buf));
    int rc = cells && buf ? 0 : -1;
    ev->n = ppexp_claims_count();
    for (size_t i = 0; rc == 0 && i < ev->n; i++)
        evaluate_one(&claims[i], &g, o->alpha, o->margin[i], cells, buf, &ev->r[i]);
    free(cells);
    free(buf);
    grid_release(&g);
    return rc;
}

void ppexp_claims_progress(const struct ppexp_claims_eval *ev, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ev->n && off + 1 < len; i++) {
        const struct ppexp_claim_result *r = &ev->r[i];
        if (r->verdict == PPEXP_NOT_MEASURED)
            continue;
        int w;
        if (isfinite(r->pooled.lo))
            w = snprintf(buf + off, len - off, "  %-4s A/B %.3f [%.3f, %.3f] n=%zu, +-%.0f%%: %s\n",
                         claims[i].id, r->pooled.ratio, r->pooled.lo, r->pooled.hi, r->pooled.n,
                         100 * r->margin, ppexp_verdict_name(r->verdict));
        else
            w = snprintf(buf + off, len - off, "  %-4s A/B %.3f (n=%zu, no interval yet): %s\n",
                         claims[i].id, r->pooled.ratio, r->pooled.n,
                         ppexp_verdict_name(r->verdict));
        if (w < 0)
            break;
        off += (size_t)w;
        if (off >= len)
            break;
    }
}

/* ---------------------------------------------------------------- files */

/* summary.csv's runs as observations (the baseline's factors are "none"). */
static int obs_from_summary(const char *dir, struct ppexp_obs **out, size_t *nout, char *err,
                            size_t errlen)
{
    char path[800];
    snprintf(path, sizeof(path), "%s/summary.csv", dir);
    struct ppexp_table t;
    if (ppexp_table_read(path, &t, err, errlen) < 0)
        return -1;
    int c_rep = ppexp_table_col(&t, "replicate"), c_mean = ppexp_table_col(&t, "mean_ms");
    int c_f[PPEXP_NFACTORS];
    for (int f = 0; f < PPEXP_NFACTORS; f++)
        c_f[f] = ppexp_table_col(&t, ppexp_results_factor_cols[f]);
    if (c_rep < 0 || c_mean < 0) {
        snprintf(err, errlen, "%s lacks the replicate or mean_ms column", path);
        ppexp_table_release(&t);
        return -1;
    }
    struct ppexp_obs *obs = calloc(t.nrows ? t.nrows : 1, sizeof(*obs));
    if (!obs) {
        snprintf(err, errlen, "out of memory");
        ppexp_table_release(&t);
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < t.nrows; i++) {
        struct ppexp_obs *o = &obs[n];
        for (int f = 0; f < PPEXP_NFACTORS; f++)
            if (ppexp_level_parse((enum ppexp_factor)f, ppexp_table_str(&t, i, c_f[f]),
                                  &o->level[f]) < 0)
                o->level[f] = 0;
        o->baseline = o->level[PPEXP_F_FORWARDING] == PPEXP_FWD_DIRECT;
        o->block = (int)ppexp_table_num(&t, i, c_rep);
        o->mean_ms = ppexp_table_num(&t, i, c_mean);
        n++;
    }
    ppexp_table_release(&t);
    *out = obs;
    *nout = n;
    return 0;
}

/* Margins and the per-look level as the run declared them in meta.json;
 * the defaults (and a note) when it cannot be read. */
static void opts_from_meta(const char *dir, struct ppexp_claims_opts *o, char *rule, size_t len)
{
    ppexp_claims_opts_from_spec(NULL, PPEXP_CLAIMS_ALPHA, o);
    snprintf(rule, len,
             "meta.json could not be read: defaults used (alpha = 0.05, margins +-%.0f%%)",
             PPEXP_MARGIN_DEFAULT_PCT);
    char path[800];
    snprintf(path, sizeof(path), "%s/meta.json", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char *text = malloc(META_FILE_MAX + 1);
    size_t n = text ? fread(text, 1, META_FILE_MAX, f) : 0;
    fclose(f);
    if (!text)
        return;
    text[n] = '\0';
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root)
        return;
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(root, "spec");
    char *spec_text = spec ? cJSON_PrintUnformatted(spec) : NULL;
    struct ppexp_spec s;
    char err[256];
    double alpha = PPEXP_CLAIMS_ALPHA;
    const cJSON *sr = cJSON_GetObjectItemCaseSensitive(root, "stopping_rule");
    const cJSON *al = cJSON_GetObjectItemCaseSensitive(sr, "alpha_per_look");
    const cJSON *tx = cJSON_GetObjectItemCaseSensitive(sr, "rule");
    if (cJSON_IsNumber(al) && al->valuedouble > 0 && al->valuedouble < 1)
        alpha = al->valuedouble;
    if (spec_text && ppexp_spec_parse(spec_text, &s, err, sizeof(err)) == 0) {
        ppexp_claims_opts_from_spec(&s, alpha, o);
        snprintf(rule, len, "%s",
                 cJSON_IsString(tx) ? tx->valuestring
                                    : "fixed (meta.json names no stopping "
                                      "rule): alpha = 0.05");
    }
    free(spec_text);
    cJSON_Delete(root);
}

static void cfg_desc(const struct ppexp_obs *c, char *buf, size_t len)
{
    char b[PPEXP_NFACTORS][16];
    const char *v[PPEXP_NFACTORS];
    for (int f = 0; f < PPEXP_NFACTORS; f++)
        v[f] = ppexp_level_str((enum ppexp_factor)f, c->level[f], b[f], sizeof(b[f]));
    snprintf(buf, len, "%s/%s/%s x%s%s%s%s%s%s", v[PPEXP_F_FORWARDING], v[PPEXP_F_RUNTIME],
             v[PPEXP_F_WORKER], v[PPEXP_F_REPLICAS], c->level[PPEXP_F_CACHE] ? "" : " nocache",
             c->level[PPEXP_F_STRESS] ? " stress" : "",
             c->level[PPEXP_F_STRESS] ? v[PPEXP_F_STRESS] : "",
             c->level[PPEXP_F_PLACEMENT] == PPEXP_PLACEMENT_SPLIT ? "" : " ",
             c->level[PPEXP_F_PLACEMENT] == PPEXP_PLACEMENT_SPLIT ? "" : v[PPEXP_F_PLACEMENT]);
}

static void paired_text(const struct ppexp_paired *p, double margin, char *buf, size_t len)
{
    if (!isfinite(p->lo)) {
        snprintf(buf, len, "A/B = %.3f (n = %zu block%s: no interval)", p->ratio, p->n,
                 p->n == 1 ? "" : "s");
        return;
    }
    snprintf(buf, len,
             "A/B = %.3f [%.3f, %.3f] (%.1f%%), TOST interval [%.3f, %.3f] (%.1f%%) against "
             "[%.3f, %.3f], n = %zu blocks",
             p->ratio, p->lo, p->hi, 100 * (1 - p->alpha), p->eq_lo, p->eq_hi,
             100 * (1 - 2 * p->alpha), 1 / (1 + margin), 1 + margin, p->n);
}

/* A note when equivalence hid a distinguishable direction. */
static const char *direction_note(const struct ppexp_paired *p, enum ppexp_verdict v)
{
    if (v != PPEXP_EQUIVALENT || !isfinite(p->lo))
        return "";
    if (p->lo > 1)
        return " (A is distinguishably slower, by less than the margin)";
    if (p->hi < 1)
        return " (A is distinguishably faster, by less than the margin)";
    return "";
}

struct writers {
    FILE *md, *blocks;
};

static void write_claim(struct writers *w, size_t ci, const struct ppexp_claim *c,
                        const struct grid *g, const struct ppexp_claims_opts *o, struct cell *cells,
                        double *buf)
{
    struct ppexp_claim_result r;
    evaluate_one(c, g, o->alpha, o->margin[ci], cells, buf, &r);
    char la[16], lb[16], lc[16], text[320];
    fprintf(w->md, "## %s (%s): %s\n\nPaper: %s\n\n", c->id, c->figure, c->title, c->paper);
    const char *a_lo = ppexp_level_str(c->factor, c->a_lo, la, sizeof(la));
    const char *a_hi = ppexp_level_str(c->factor, c->a_hi, lc, sizeof(lc));
    fprintf(w->md, "Compared: A = %s %s%s%s, B = %s %s", ppexp_factor_name(c->factor), a_lo,
            c->a_hi != c->a_lo ? " to " : "", c->a_hi != c->a_lo ? a_hi : "",
            ppexp_factor_name(c->factor), ppexp_level_str(c->factor, c->b, lb, sizeof(lb)));
    if (c->factor != PPEXP_F_REPLICAS && c->replicas_lo == c->replicas_hi)
        fprintf(w->md, ", %d prox%s", c->replicas_lo, c->replicas_lo == 1 ? "y" : "ies");
    else if (c->factor != PPEXP_F_REPLICAS)
        fprintf(w->md, ", %d to %d proxies", c->replicas_lo, c->replicas_hi);
    if (c->runtime >= 0)
        fprintf(w->md, ", %s runtime",
                ppexp_level_str(PPEXP_F_RUNTIME, c->runtime, la, sizeof(la)));
    fprintf(w->md, ", everything else equal; margin +-%.1f%%. Reading: %s\n\n", 100 * r.margin,
            c->reading);
    if (r.verdict == PPEXP_NOT_MEASURED) {
        fprintf(w->md, "Verdict: **not measured in this run** (no pair of configurations that "
                       "differ only in what the claim is about).\n\n");
        return;
    }
    paired_text(&r.pooled, r.margin, text, sizeof(text));
    fprintf(w->md,
            "Verdict: **%s**%s: %s, over %zu cell%s (%zu holds, %zu inverted, %zu "
            "equivalent, %zu inconclusive).\n\n",
            ppexp_verdict_name(r.verdict), direction_note(&r.pooled, r.verdict), text, r.ncells,
            r.ncells == 1 ? "" : "s", r.cells_by_verdict[PPEXP_HOLDS],
            r.cells_by_verdict[PPEXP_INVERTED], r.cells_by_verdict[PPEXP_EQUIVALENT],
            r.cells_by_verdict[PPEXP_INCONCLUSIVE]);
    fprintf(w->md, "Cells:\n\n");
    for (size_t i = 0; i < r.ncells; i++) {
        struct ppexp_paired p;
        cell_paired(g, cells, r.ncells, (long)i, o->alpha, buf, &p);
        enum ppexp_verdict v = ppexp_stats_verdict(&p, r.margin);
        char da[128];
        cfg_desc(&g->cfg[cells[i].a], da, sizeof(da));
        paired_text(&p, r.margin, text, sizeof(text));
        fprintf(w->md, "- A %s vs B %s %s: %s: %s%s\n", da, ppexp_factor_name(c->factor),
                ppexp_level_str(c->factor, g->cfg[cells[i].b].level[c->factor], lb, sizeof(lb)),
                text, ppexp_verdict_name(v), direction_note(&p, v));
        char db[128];
        cfg_desc(&g->cfg[cells[i].b], db, sizeof(db));
        for (size_t k = 0; k < g->nblk; k++) {
            double x = cell_log(g, &cells[i], k);
            if (isfinite(x))
                fprintf(w->blocks, "%s,%s,%s,%d,%.4f,%.4f,%.6f\n", c->id, da, db, g->blocks[k],
                        g->v[cells[i].a * g->nblk + k], g->v[cells[i].b * g->nblk + k], x);
        }
    }
    for (size_t k = 0; k < g->nblk; k++) {
        double x = pooled_log(g, cells, r.ncells, k);
        if (isfinite(x))
            fprintf(w->blocks, "%s,all,all,%d,,,%.6f\n", c->id, g->blocks[k], x);
    }
    fprintf(w->md, "\nWhere we differ: %s\n\n", c->differs);
}

/* Line order for the plots: every factor but replicas, then replicas, so
 * that a line through the file goes 1, 2, 4, ... proxies. */
static int cmp_cfg(const void *a, const void *b, void *ctx)
{
    const struct grid *g = ctx;
    const struct ppexp_obs *x = &g->cfg[*(const size_t *)a], *y = &g->cfg[*(const size_t *)b];
    if (x->baseline != y->baseline)
        return x->baseline - y->baseline;
    for (int k = 0; k < PPEXP_NFACTORS; k++)
        if (k != PPEXP_F_REPLICAS && x->level[k] != y->level[k])
            return x->level[k] < y->level[k] ? -1 : 1;
    return x->level[PPEXP_F_REPLICAS] - y->level[PPEXP_F_REPLICAS];
}

/* ratios.csv: every cell of the views (nat/route, N/1, proxyd/squid, proxyd/nginx). */
static void write_ratios(FILE *f, const struct grid *g, const struct ppexp_claims_opts *o,
                         struct cell *cells, double *buf)
{
    fprintf(f, "comparison");
    for (int k = 0; k < PPEXP_NFACTORS; k++)
        fprintf(f, ",%s", ppexp_results_factor_cols[k]);
    fprintf(f, ",n,ratio,lo,hi,eq_lo,eq_hi,band_lo,band_hi,verdict\n");
    for (size_t vi = 0; vi < sizeof(views) / sizeof(views[0]); vi++) {
        size_t n = claim_cells(&views[vi], g, cells);
        /* cells come in grid order; sort them by A for the plot's lines. */
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && cmp_cfg(&cells[j].a, &cells[j - 1].a, (void *)g) < 0; j--) {
                struct cell t = cells[j];
                cells[j] = cells[j - 1];
                cells[j - 1] = t;
            }
        for (size_t i = 0; i < n; i++) {
            struct ppexp_paired p;
            cell_paired(g, cells, n, (long)i, o->alpha, buf, &p);
            fprintf(f, "%s", views[vi].id);
            for (int k = 0; k < PPEXP_NFACTORS; k++) {
                char b[16];
                fprintf(f, ",%s",
                        ppexp_level_str((enum ppexp_factor)k, g->cfg[cells[i].a].level[k], b,
                                        sizeof(b)));
            }
            fprintf(f, ",%zu,%.6f,", p.n, p.ratio);
            if (isfinite(p.lo))
                fprintf(f, "%.6f,%.6f,%.6f,%.6f,", p.lo, p.hi, p.eq_lo, p.eq_hi);
            else
                fprintf(f, ",,,,");
            fprintf(f, "%.6f,%.6f,%s\n", 1 / (1 + o->margin_default), 1 + o->margin_default,
                    ppexp_verdict_name(ppexp_stats_verdict(&p, o->margin_default)));
        }
    }
}

/* points.csv: per configuration the geometric mean over blocks; its
 * interval is the paired one of its ratio to the same line's 1-proxy
 * configuration (gm(1) x [lo, hi] of N/1: block-to-block drift both share
 * cancels), and for a configuration with no such reference its own t
 * interval on log times. Bounds are exponentials: never negative. */
static void write_points(FILE *f, const struct grid *g, double alpha, double *buf)
{
    for (int k = 0; k < PPEXP_NFACTORS; k++)
        fprintf(f, "%s,", ppexp_results_factor_cols[k]);
    fprintf(f, "n,gm_ms,lo_ms,hi_ms,interval\n");
    size_t *order = calloc(g->ncfg ? g->ncfg : 1, sizeof(*order));
    if (!order)
        return;
    for (size_t i = 0; i < g->ncfg; i++)
        order[i] = i;
    qsort_r(order, g->ncfg, sizeof(*order), cmp_cfg, (void *)g);
    for (size_t oi = 0; oi < g->ncfg; oi++) {
        size_t i = order[oi];
        size_t n = 0;
        for (size_t k = 0; k < g->nblk; k++)
            if (isfinite(g->v[i * g->nblk + k]))
                buf[n++] = log(g->v[i * g->nblk + k]);
        if (n == 0)
            continue;
        struct ppexp_paired own, rel;
        ppexp_stats_paired(buf, n, alpha, &own);
        double lo = own.lo, hi = own.hi;
        const char *how = "own log-t";
        const struct ppexp_obs *c = &g->cfg[i];
        long ref = -1;
        if (!c->baseline && c->level[PPEXP_F_REPLICAS] != 1) {
            int l1[PPEXP_NFACTORS];
            memcpy(l1, c->level, sizeof(l1));
            l1[PPEXP_F_REPLICAS] = 1;
            ref = grid_find(g, l1, 0);
        }
        if (ref >= 0) {
            struct cell cl = {i, (size_t)ref};
            cell_paired(g, &cl, 1, 0, alpha, buf, &rel);
            size_t m = 0;
            for (size_t k = 0; k < g->nblk; k++)
                if (isfinite(g->v[(size_t)ref * g->nblk + k]))
                    buf[m++] = log(g->v[(size_t)ref * g->nblk + k]);
            double gm1 = exp(ppexp_stats_mean(buf, m));
            if (isfinite(rel.lo)) {
                lo = gm1 * rel.lo;
                hi = gm1 * rel.hi;
                how = "paired vs 1 proxy";
            }
        }
        for (int k = 0; k < PPEXP_NFACTORS; k++) {
            char b[16];
            int base_none = c->baseline && k != PPEXP_F_FORWARDING && k != PPEXP_F_STRESS &&
                            k != PPEXP_F_PLACEMENT;
            fprintf(f, "%s,",
                    base_none ? (k == PPEXP_F_REPLICAS ? "0" : "none")
                              : ppexp_level_str((enum ppexp_factor)k, c->level[k], b, sizeof(b)));
        }
        fprintf(f, "%zu,%.4f,", n, own.ratio);
        if (isfinite(lo))
            fprintf(f, "%.4f,%.4f,%s\n", lo, hi, how);
        else
            fprintf(f, ",,none\n");
    }
    free(order);
}

static FILE *open_tmp(const char *dir, const char *name, char *path, size_t len)
{
    snprintf(path, len, "%s/%s.tmp", dir, name);
    return fopen(path, "w");
}

static int commit_tmp(const char *dir, const char *name, FILE *f, char *err, size_t errlen)
{
    char tmp[800], final[800];
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
    snprintf(final, sizeof(final), "%s/%s", dir, name);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, final) < 0) {
        snprintf(err, errlen, "cannot write %s", final);
        remove(tmp);
        return -1;
    }
    return 0;
}

int ppexp_claims_write(const char *dir, char *err, size_t errlen)
{
    struct ppexp_obs *obs = NULL;
    size_t nobs = 0;
    if (obs_from_summary(dir, &obs, &nobs, err, errlen) < 0)
        return -1;
    struct ppexp_claims_opts o;
    char rule[2048];
    opts_from_meta(dir, &o, rule, sizeof(rule));
    struct grid g;
    int rc = grid_build(obs, nobs, &g);
    free(obs);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct cell *cells = calloc(g.ncfg ? g.ncfg : 1, sizeof(*cells));
    double *buf = calloc(g.nblk ? g.nblk : 1, sizeof(*buf));
    char path[800];
    struct writers w = {0};
    FILE *fr = NULL, *fp = NULL;
    rc = -1;
    if (!cells || !buf) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    w.md = open_tmp(dir, "claims.md", path, sizeof(path));
    w.blocks = open_tmp(dir, "claims_blocks.csv", path, sizeof(path));
    fr = open_tmp(dir, "ratios.csv", path, sizeof(path));
    fp = open_tmp(dir, "points.csv", path, sizeof(path));
    if (!w.md || !w.blocks || !fr || !fp) {
        snprintf(err, errlen, "cannot write %s", path);
        goto out;
    }
    fprintf(w.md,
            "# The paper's claims against this run\n\n"
            "Each claim is \"A is slower than B\" between configurations that differ only in "
            "what the claim is about. The runs came in randomized blocks (one run of every "
            "configuration per block, in a seeded random order), so each comparison is "
            "paired: per block, the log-ratio log(A/B) of the two configurations' mean times "
            "per request. Over the n blocks: the geometric-mean ratio A/B = exp(mean "
            "log-ratio) with a Student-t interval on the log-ratios, exponentiated (a ratio's "
            "bounds are never negative). Where a claim covers several cells (workers, "
            "forwarding modes, proxy counts), its per-block value is the mean log-ratio over "
            "the cells (a block lacking a cell is left out) and each cell is listed with its "
            "own interval. The per-block data every verdict used is in claims_blocks.csv "
            "(cell \"all\" = the claim's pooled series).\n\n"
            "Verdicts, with the margin m declared in the spec (\"margins_pct\", default "
            "%.0f%%): **equivalent** within +-m when the two one-sided tests (TOST) at level "
            "alpha pass, i.e. the (1 - 2 alpha) interval lies inside [1/(1+m), 1+m] "
            "(symmetric in log space); otherwise **holds** when the (1 - alpha) interval lies "
            "above 1, **inverted** when below; **inconclusive** otherwise. Equivalence is "
            "tested first: a difference smaller than the declared margin is called "
            "equivalent, and a note says when its direction is nevertheless distinguishable. "
            "C1 (native < Docker-Routing < Docker-NAT < KVM) and C7 (Docker instantiates 13x "
            "faster than KVM) need KVM: not measured by ppexp.\n\n"
            "Level and stopping rule: %s\n\n",
            PPEXP_MARGIN_DEFAULT_PCT, rule);
    fprintf(w.blocks, "claim,a,b,block,a_mean_ms,b_mean_ms,log_ratio\n");
    for (size_t i = 0; i < ppexp_claims_count(); i++)
        write_claim(&w, i, &claims[i], &g, &o, cells, buf);
    write_ratios(fr, &g, &o, cells, buf);
    write_points(fp, &g, o.alpha, buf);
    rc = 0;
out:
    if (w.md && commit_tmp(dir, "claims.md", w.md, err, errlen) < 0)
        rc = -1;
    if (w.blocks && commit_tmp(dir, "claims_blocks.csv", w.blocks, err, errlen) < 0)
        rc = -1;
    if (fr && commit_tmp(dir, "ratios.csv", fr, err, errlen) < 0)
        rc = -1;
    if (fp && commit_tmp(dir, "points.csv", fp, err, errlen) < 0)
        rc = -1;
    free(cells);
    free(buf);
    grid_release(&g);
    return rc;
}
