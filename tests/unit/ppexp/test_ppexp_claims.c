/* Unit tests for ppexp/claims.c and ppexp/stopping.c: verdicts from constructed block data (a
 * true 10% difference holds, its reverse is inverted, identical series are
 * equivalent, a 3% difference under large noise is inconclusive), the
 * claims table's cells, and the adaptive stopping rule (stops at the first
 * block where every measured claim is decided, never before min). */
#include <check.h>
#include <math.h>
#include <string.h>

#include "../../../ppexp/claims.h"
#include "../../../ppexp/stopping.h"
#include "../check_main.h"

/* Block-to-block drift both configurations of a block share (a shared
 * machine speeding up and slowing down): large, and cancelled by pairing. */
static const double drift[8] = {1.00, 1.08, 0.95, 1.12, 0.97, 1.03, 0.92, 1.05};
/* Each run's own noise, +-1%. */
static const double own_a[8] = {0.010, -0.006, 0.004, -0.010, 0.008, -0.002, 0.006, -0.008};
static const double own_b[8] = {-0.004, 0.009, -0.010, 0.003, -0.007, 0.010, -0.003, 0.005};

static struct ppexp_obs run(int replicas, int block, double mean_ms)
{
    struct ppexp_obs o;
    memset(&o, 0, sizeof(o));
    o.level[PPEXP_F_FORWARDING] = PPEXP_FWD_NAT;
    o.level[PPEXP_F_REPLICAS] = replicas;
    o.level[PPEXP_F_WORKER] = PPEXP_WORKER_PROXYD;
    o.level[PPEXP_F_RUNTIME] = PPEXP_RUNTIME_CONTAINER;
    o.level[PPEXP_F_CACHE] = 1;
    o.block = block;
    o.mean_ms = mean_ms;
    return o;
}

/* C3 data: one proxy (A) at a_ms, two (B) at b_ms, with drift and noise
 * scaled by noise_scale, over nblocks. Returns the number of runs. */
static size_t c3_data(struct ppexp_obs *obs, int nblocks, double a_ms, double b_ms,
                      double noise_scale)
{
    size_t n = 0;
    for (int k = 0; k < nblocks; k++) {
        obs[n++] = run(1, k + 1, a_ms * drift[k] * (1 + noise_scale * own_a[k]));
        obs[n++] = run(2, k + 1, b_ms * drift[k] * (1 + noise_scale * own_b[k]));
    }
    return n;
}

static const struct ppexp_claim_result *c3(const struct ppexp_obs *obs, size_t n,
                                           struct ppexp_claims_eval *ev)
{
    struct ppexp_claims_opts o;
    ppexp_claims_opts_from_spec(NULL, PPEXP_CLAIMS_ALPHA, &o);
    ck_assert_int_eq(ppexp_claims_evaluate(obs, n, &o, ev), 0);
    int i = ppexp_claim_index("C3");
    ck_assert_int_ge(i, 0);
    return &ev->r[i];
}

START_TEST(test_ppexp_claims_true_ten_percent_difference_holds)
{
    struct ppexp_obs obs[16];
    size_t n = c3_data(obs, 8, 110, 100, 1);
    struct ppexp_claims_eval ev;
    const struct ppexp_claim_result *r = c3(obs, n, &ev);
    ck_assert_int_eq(r->verdict, PPEXP_HOLDS);
    ck_assert_uint_eq(r->ncells, 1);
    ck_assert_uint_eq(r->pooled.n, 8);
    ck_assert_double_eq_tol(r->pooled.ratio, 1.10, 0.01);
    ck_assert(r->pooled.lo > 1.05 && r->pooled.hi < 1.15);
    /* The drift (+-12%) would swamp 10% between unpaired means; pairing
     * removes it: the interval is a few percent wide. */
    ck_assert(r->pooled.hi - r->pooled.lo < 0.05);
    /* Claims about other factors have no cell here. */
    ck_assert_int_eq(ev.r[ppexp_claim_index("C2")].verdict, PPEXP_NOT_MEASURED);
}
END_TEST

START_TEST(test_ppexp_claims_reverse_difference_is_inverted)
{
    struct ppexp_obs obs[16];
    size_t n = c3_data(obs, 8, 100, 110, 1);
    struct ppexp_claims_eval ev;
    const struct ppexp_claim_result *r = c3(obs, n, &ev);
    ck_assert_int_eq(r->verdict, PPEXP_INVERTED);
    ck_assert(r->pooled.hi < 1 && r->pooled.lo > 0);
}
END_TEST

START_TEST(test_ppexp_claims_identical_series_are_equivalent)
{
    struct ppexp_obs obs[16];
    size_t n = c3_data(obs, 4, 100, 100, 0);
    struct ppexp_claims_eval ev;
    const struct ppexp_claim_result *r = c3(obs, n, &ev);
    ck_assert_int_eq(r->verdict, PPEXP_EQUIVALENT);
    ck_assert_double_eq_tol(r->pooled.ratio, 1.0, 1e-12);
    /* And with +-1% noise: the 90% interval still lies inside +-5%. */
    n = c3_data(obs, 8, 100, 100, 1);
    r = c3(obs, n, &ev);
    ck_assert_int_eq(r->verdict, PPEXP_EQUIVALENT);
}
END_TEST

START_TEST(test_ppexp_claims_small_difference_in_large_noise_is_inconclusive)
{
    /* 3% apart, each run with its own +-10-15% noise, 4 blocks. */
    static const double na[4] = {0.15, -0.12, 0.10, -0.14}, nb[4] = {-0.13, 0.14, -0.11, 0.12};
    struct ppexp_obs obs[8];
    size_t n = 0;
    for (int k = 0; k < 4; k++) {
        obs[n++] = run(1, k + 1, 103 * (1 + na[k]));
        obs[n++] = run(2, k + 1, 100 * (1 + nb[k]));
    }
    struct ppexp_claims_eval ev;
    const struct ppexp_claim_result *r = c3(obs, n, &ev);
    ck_assert_int_eq(r->verdict, PPEXP_INCONCLUSIVE);
    ck_assert(r->pooled.lo < 1 && r->pooled.hi > 1);
    ck_assert(r->pooled.lo > 0); /* a ratio's bound is never negative */
}
END_TEST

START_TEST(test_ppexp_claims_one_block_is_inconclusive)
{
    struct ppexp_obs obs[2];
    size_t n = c3_data(obs, 1, 150, 100, 0);
    struct ppexp_claims_eval ev;
    ck_assert_int_eq(c3(obs, n, &ev)->verdict, PPEXP_INCONCLUSIVE);
}
END_TEST

START_TEST(test_ppexp_claims_cells_pool_per_block_and_skip_partial_blocks)
{
    /* C3 over two workers: proxyd 10% slower with one proxy, Squid 30%;
     * the pooled ratio is the geometric mean, exp((log 1.1 + log 1.3) / 2).
     * Block 4 lacks Squid's two-proxy run: the pooled series leaves it out. */
    struct ppexp_obs obs[16];
    size_t n = 0;
    for (int k = 0; k < 4; k++) {
        obs[n++] = run(1, k + 1, 110 * drift[k]);
        obs[n++] = run(2, k + 1, 100 * drift[k]);
        struct ppexp_obs s1 = run(1, k + 1, 1300 * drift[k]), s2 = run(2, k + 1, 1000 * drift[k]);
        s1.level[PPEXP_F_WORKER] = s2.level[PPEXP_F_WORKER] = PPEXP_WORKER_SQUID;
        obs[n++] = s1;
        if (k < 3)
            obs[n++] = s2;
    }
    struct ppexp_claims_eval ev;
    const struct ppexp_claim_result *r = c3(obs, n, &ev);
    ck_assert_uint_eq(r->ncells, 2);
    ck_assert_uint_eq(r->pooled.n, 3);
    ck_assert_double_eq_tol(r->pooled.ratio, sqrt(1.1 * 1.3), 1e-9);
    ck_assert_int_eq(r->verdict, PPEXP_HOLDS);
    ck_assert_uint_eq(r->cells_by_verdict[PPEXP_HOLDS], 2);
}
END_TEST

START_TEST(test_ppexp_claims_margin_comes_from_the_spec)
{
    /* 3% slower, +-1% noise: not equivalent within +-2% (holds), equivalent
     * within the default +-5%. */
    struct ppexp_obs obs[16];
    size_t n = c3_data(obs, 8, 103, 100, 1);
    struct ppexp_spec s;
    char err[256];
    ck_assert_int_eq(
        ppexp_spec_parse("{\"name\": \"m\", \"margins_pct\": {\"C3\": 2}}", &s, err, sizeof(err)),
        0);
    struct ppexp_claims_opts o;
    struct ppexp_claims_eval ev;
    int i = ppexp_claim_index("C3");
    ppexp_claims_opts_from_spec(&s, PPEXP_CLAIMS_ALPHA, &o);
    ck_assert_double_eq_tol(o.margin[i], 0.02, 1e-12);
    ck_assert_int_eq(ppexp_claims_evaluate(obs, n, &o, &ev), 0);
    ck_assert_int_eq(ev.r[i].verdict, PPEXP_HOLDS);
    ppexp_claims_opts_from_spec(NULL, PPEXP_CLAIMS_ALPHA, &o);
    ck_assert_int_eq(ppexp_claims_evaluate(obs, n, &o, &ev), 0);
    ck_assert_int_eq(ev.r[i].verdict, PPEXP_EQUIVALENT);
}
END_TEST

/* An evaluation with one measured claim in state v (others not measured). */
static struct ppexp_claims_eval one_claim(enum ppexp_verdict v)
{
    struct ppexp_claims_eval ev;
    memset(&ev, 0, sizeof(ev));
    ev.n = ppexp_claims_count();
    for (size_t i = 0; i < ev.n; i++)
        ev.r[i].verdict = PPEXP_NOT_MEASURED;
    ev.r[ppexp_claim_index("C2")].verdict = v;
    return ev;
}

START_TEST(test_ppexp_claims_stops_at_first_decided_block_never_before_min)
{
    struct ppexp_stopping st;
    ppexp_stopping_init(&st, 3, 10, 0, PPEXP_CLAIMS_ALPHA);
    /* Decided at blocks 1 and 2 (before min), undecided at 3 and 4,
     * decided at 5: the rule stops at 5. */
    const enum ppexp_verdict seq[] = {PPEXP_HOLDS,        PPEXP_EQUIVALENT, PPEXP_INCONCLUSIVE,
                                      PPEXP_INCONCLUSIVE, PPEXP_INVERTED,   PPEXP_HOLDS};
    int stopped = 0;
    for (int b = 1; b <= 6 && !stopped; b++) {
        struct ppexp_claims_eval ev = one_claim(seq[b - 1]);
        enum ppexp_stop why = ppexp_stopping_check(&st, b, 10.0 * b, 10, &ev);
        if (why != PPEXP_GO_ON) {
            ck_assert_int_eq(why, PPEXP_STOP_DECIDED);
            stopped = b;
        }
    }
    ck_assert_int_eq(stopped, 5);
    /* Two claims: both must be decided. */
    struct ppexp_claims_eval ev = one_claim(PPEXP_HOLDS);
    ev.r[ppexp_claim_index("C3")].verdict = PPEXP_INCONCLUSIVE;
    ck_assert_int_eq(ppexp_stopping_check(&st, 5, 50, 10, &ev), PPEXP_GO_ON);
    ev.r[ppexp_claim_index("C3")].verdict = PPEXP_EQUIVALENT;
    ck_assert_int_eq(ppexp_stopping_check(&st, 5, 50, 10, &ev), PPEXP_STOP_DECIDED);
}
END_TEST

START_TEST(test_ppexp_claims_stop_from_data_waits_for_min)
{
    /* Identical series are equivalent from block 2 on; with min 3 the
     * rule stops at block 3, not before; evaluated from the runs of the
     * blocks so far as the runner does. */
    struct ppexp_stopping st;
    ppexp_stopping_init(&st, 3, 8, 0, PPEXP_CLAIMS_ALPHA);
    struct ppexp_claims_opts o;
    ppexp_claims_opts_from_spec(NULL, st.alpha_look, &o);
    struct ppexp_obs obs[16];
    int stopped = 0;
    for (int b = 1; b <= 8 && !stopped; b++) {
        size_t n = c3_data(obs, b, 100, 100, 0);
        struct ppexp_claims_eval ev;
        ck_assert_int_eq(ppexp_claims_evaluate(obs, n, &o, &ev), 0);
        if (ppexp_stopping_check(&st, b, b, 1, &ev) != PPEXP_GO_ON)
            stopped = b;
    }
    ck_assert_int_eq(stopped, 3);
}
END_TEST

START_TEST(test_ppexp_claims_stops_at_max_or_budget)
{
    struct ppexp_stopping st;
    ppexp_stopping_init(&st, 3, 6, 100, PPEXP_CLAIMS_ALPHA);
    struct ppexp_claims_eval ev = one_claim(PPEXP_INCONCLUSIVE);
    ck_assert_int_eq(ppexp_stopping_check(&st, 4, 40, 10, &ev), PPEXP_GO_ON);
    /* The next block (10 s) would end past the 100 s budget. */
    ck_assert_int_eq(ppexp_stopping_check(&st, 4, 95, 10, &ev), PPEXP_STOP_BUDGET);
    /* The budget never cuts the minimum. */
    ck_assert_int_eq(ppexp_stopping_check(&st, 2, 500, 10, &ev), PPEXP_GO_ON);
    ck_assert_int_eq(ppexp_stopping_check(&st, 6, 60, 10, &ev), PPEXP_STOP_MAX);
    /* Nothing measured: nothing to wait for past min. */
    struct ppexp_claims_eval none = one_claim(PPEXP_NOT_MEASURED);
    ck_assert_int_eq(ppexp_stopping_check(&st, 3, 30, 10, &none), PPEXP_STOP_NOTHING);
}
END_TEST

START_TEST(test_ppexp_claims_adaptive_looks_are_stricter)
{
    /* Fixed: one look at 5%. Adaptive 3..30: Pocock's constant boundary for
     * 28 looks, about 2.67 (between K = 20's 2.672 and the recursion's
     * value for the uneven start), per look ~0.0077 two-sided. */
    struct ppexp_stopping st;
    ppexp_stopping_init(&st, 5, 5, 0, PPEXP_CLAIMS_ALPHA);
    ck_assert_double_eq(st.alpha_look, PPEXP_CLAIMS_ALPHA);
    ppexp_stopping_init(&st, 3, 30, 0, PPEXP_CLAIMS_ALPHA);
    ck_assert_double_eq_tol(st.z_look, 2.667, 0.01);
    ck_assert(st.alpha_look > 0.006 && st.alpha_look < 0.009);
    char text[2048];
    ppexp_stopping_describe(&st, text, sizeof(text));
    ck_assert_ptr_nonnull(strstr(text, "Pocock"));
    ck_assert_ptr_nonnull(strstr(text, "at least 3 and at most 30"));
}
END_TEST

static Suite *ppexp_claims_suite(void)
{
    Suite *s = suite_create("ppexp_claims");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ppexp_claims_true_ten_percent_difference_holds);
    tcase_add_test(tc, test_ppexp_claims_reverse_difference_is_inverted);
    tcase_add_test(tc, test_ppexp_claims_identical_series_are_equivalent);
    tcase_add_test(tc, test_ppexp_claims_small_difference_in_large_noise_is_inconclusive);
    tcase_add_test(tc, test_ppexp_claims_one_block_is_inconclusive);
    tcase_add_test(tc, test_ppexp_claims_cells_pool_per_block_and_skip_partial_blocks);
    tcase_add_test(tc, test_ppexp_claims_margin_comes_from_the_spec);
    tcase_add_test(tc, test_ppexp_claims_stops_at_first_decided_block_never_before_min);
    tcase_add_test(tc, test_ppexp_claims_stop_from_data_waits_for_min);
    tcase_add_test(tc, test_ppexp_claims_stops_at_max_or_budget);
    tcase_add_test(tc, test_ppexp_claims_adaptive_looks_are_stricter);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(ppexp_claims_suite)
