/* Unit tests for the balancer's picking algorithms (balancer/pick_*.c) and
 * its peak-EWMA: source splits a run of consecutive client addresses evenly
 * and a fifth backend moves only its share of them; roundrobin follows
 * weights smoothly; leastconn and p2c-ewma prefer the less loaded and the
 * faster backend; nothing picks a down, draining or excluded backend. */
#include <arpa/inet.h>
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../../balancer/backend.h"
#include "../../../balancer/ewma.h"
#include "../../../balancer/pick.h"
#include "../check_main.h"

#define MAXB 8

struct fixture {
    struct backend *b[MAXB];
    size_t n;
    const struct pick_ops *ops;
    void *priv;
    uint64_t rng;
};

static struct backend *mk(const char *name, int weight, uint64_t id)
{
    struct backend_spec spec;
    char err[128];
    char text[128];
    snprintf(text, sizeof(text), "%s=127.0.0.1:%d,weight=%d", name, 1000 + (int)id, weight);
    ck_assert_int_eq(backend_spec_parse(text, &spec, err, sizeof(err)), 0);
    struct backend *b = backend_new(&spec, id, 30000, 0);
    ck_assert_ptr_nonnull(b);
    return b;
}

static void setup(struct fixture *f, const char *algo, size_t n)
{
    memset(f, 0, sizeof(*f));
    f->ops = pick_find(algo);
    ck_assert_ptr_nonnull(f->ops);
    f->priv = f->ops->create ? f->ops->create() : NULL;
    for (size_t i = 0; i < n; i++) {
        char name[24];
        snprintf(name, sizeof(name), "b%zu", i);
        f->b[i] = mk(name, 1, i + 1);
    }
    f->n = n;
    f->rng = 42;
    if (f->ops->update)
        f->ops->update(f->priv, f->b, f->n);
}

static void teardown(struct fixture *f)
{
    for (size_t i = 0; i < f->n; i++)
        backend_free(f->b[i]);
    if (f->ops->destroy)
        f->ops->destroy(f->priv);
}

static void changed(struct fixture *f)
{
    if (f->ops->update)
        f->ops->update(f->priv, f->b, f->n);
}

static struct backend *pick_from(struct fixture *f, uint32_t ipv4, int64_t now)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(ipv4);
    struct pick_ctx ctx = {.now_us = now,
                           .ewma_tau_us = 10e6,
                           .slowstart_us = 0,
                           .client = (struct sockaddr *)&sin,
                           .rng = &f->rng};
    return f->ops->pick(f->priv, f->b, f->n, &ctx);
}

static size_t index_of(struct fixture *f, struct backend *b)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->b[i] == b)
            return i;
    ck_abort_msg("picked a backend not in the set");
    return 0;
}

#define CLIENT0 0xc6120101u /* 198.18.1.1, the testbed's first client */

START_TEST(test_source_splits_64_consecutive_clients_16_each_over_4)
{
    struct fixture f;
    setup(&f, "source", 4);
    size_t count[MAXB] = {0};
    for (uint32_t k = 0; k < 64; k++)
        count[index_of(&f, pick_from(&f, CLIENT0 + k, 0))]++;
    for (size_t i = 0; i < 4; i++)
        ck_assert_uint_eq(count[i], 16);
    /* Any other run of 64 too, e.g. starting mid-/24 elsewhere. */
    memset(count, 0, sizeof(count));
    for (uint32_t k = 0; k < 64; k++)
        count[index_of(&f, pick_from(&f, 0x0a000007u + k, 0))]++;
    for (size_t i = 0; i < 4; i++)
        ck_assert_uint_eq(count[i], 16);
    teardown(&f);
}
END_TEST

START_TEST(test_source_fifth_backend_moves_only_its_share)
{
    struct fixture f;
    setup(&f, "source", 4);
    struct backend *before[1024];
    for (uint32_t k = 0; k < 1024; k++)
        before[k] = pick_from(&f, CLIENT0 + k, 0);
    f.b[4] = mk("b4", 1, 5);
    f.n = 5;
    changed(&f);
    size_t moved = 0, to_new = 0, count[MAXB] = {0};
    for (uint32_t k = 0; k < 1024; k++) {
        struct backend *now = pick_from(&f, CLIENT0 + k, 0);
        count[index_of(&f, now)]++;
        if (now != before[k]) {
            moved++;
            to_new += now == f.b[4];
        }
    }
    /* Ideal: 1024/5 = 204.8, all of them to the new backend. */
    ck_assert_uint_eq(moved, to_new);
    ck_assert_uint_ge(moved, 195);
    ck_assert_uint_le(moved, 215);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_uint_ge(count[i], 195);
        ck_assert_uint_le(count[i], 215);
    }
    /* The first 64 (the testbed's clients): 12 or 13 move. */
    size_t moved64 = 0;
    for (uint32_t k = 0; k < 64; k++)
        moved64 += pick_from(&f, CLIENT0 + k, 0) != before[k];
    ck_assert_uint_ge(moved64, 11);
    ck_assert_uint_le(moved64, 14);
    teardown(&f);
}
END_TEST

START_TEST(test_source_down_backend_clients_are_dealt_to_the_rest_only)
{
    struct fixture f;
    setup(&f, "source", 4);
    struct backend *before[256];
    for (uint32_t k = 0; k < 256; k++)
        before[k] = pick_from(&f, CLIENT0 + k, 0);
    f.b[2]->state = BACKEND_DOWN;
    changed(&f);
    size_t count[MAXB] = {0};
    for (uint32_t k = 0; k < 256; k++) {
        struct backend *now = pick_from(&f, CLIENT0 + k, 0);
        ck_assert_ptr_ne(now, f.b[2]);
        if (before[k] != f.b[2])
            ck_assert_ptr_eq(now, before[k]); /* only the down one's clients move */
        count[index_of(&f, now)]++;
    }
    for (size_t i = 0; i < 4; i++)
        if (i != 2) {
            ck_assert_uint_ge(count[i], 80);
            ck_assert_uint_le(count[i], 91);
        }
    /* Back up: it gets a full share again, taken evenly from the others. */
    f.b[2]->state = BACKEND_UP;
    changed(&f);
    memset(count, 0, sizeof(count));
    for (uint32_t k = 0; k < 256; k++)
        count[index_of(&f, pick_from(&f, CLIENT0 + k, 0))]++;
    for (size_t i = 0; i < 4; i++) {
        ck_assert_uint_ge(count[i], 60);
        ck_assert_uint_le(count[i], 68);
    }
    teardown(&f);
}
END_TEST

START_TEST(test_source_weights_give_proportional_shares)
{
    struct fixture f;
    setup(&f, "source", 2);
    f.b[1]->spec.weight = 3;
    changed(&f);
    size_t count[MAXB] = {0};
    for (uint32_t k = 0; k < 400; k++)
        count[index_of(&f, pick_from(&f, CLIENT0 + k, 0))]++;
    ck_assert_uint_ge(count[0], 90);
    ck_assert_uint_le(count[0], 110);
    teardown(&f);
}
END_TEST

START_TEST(test_roundrobin_is_smooth_and_weighted)
{
    struct fixture f;
    setup(&f, "roundrobin", 3);
    f.b[0]->spec.weight = 5;
    changed(&f);
    char seq[8] = {0};
    for (int i = 0; i < 7; i++)
        seq[i] = (char)('a' + index_of(&f, pick_from(&f, CLIENT0, 0)));
    /* nginx's smooth weighted round robin: 5,1,1 -> a a b a c a a */
    ck_assert_str_eq(seq, "aabacaa");
    teardown(&f);
}
END_TEST

START_TEST(test_roundrobin_skips_down_draining_and_excluded)
{
    struct fixture f;
    setup(&f, "roundrobin", 4);
    f.b[1]->state = BACKEND_DOWN;
    f.b[2]->state = BACKEND_DRAINING;
    changed(&f);
    for (int i = 0; i < 10; i++) {
        struct backend *b = pick_from(&f, CLIENT0, 0);
        ck_assert(b == f.b[0] || b == f.b[3]);
    }
    struct pick_ctx ctx = {.rng = &f.rng, .exclude = {f.b[0], f.b[3]}, .nexclude = 2};
    ck_assert_ptr_null(f.ops->pick(f.priv, f.b, f.n, &ctx));
    teardown(&f);
}
END_TEST

START_TEST(test_leastconn_prefers_fewest_active_and_shares_ties)
{
    struct fixture f;
    setup(&f, "leastconn", 3);
    f.b[0]->active = 5;
    f.b[1]->active = 2;
    f.b[2]->active = 5;
    ck_assert_ptr_eq(pick_from(&f, CLIENT0, 0), f.b[1]);
    f.b[1]->active = 5;
    size_t count[MAXB] = {0};
    for (int i = 0; i < 30; i++)
        count[index_of(&f, pick_from(&f, CLIENT0, 0))]++;
    for (size_t i = 0; i < 3; i++)
        ck_assert_uint_eq(count[i], 10);
    teardown(&f);
}
END_TEST

START_TEST(test_p2c_ewma_avoids_the_slow_backend)
{
    struct fixture f;
    setup(&f, "p2c-ewma", 3);
    int64_t now = 1000000;
    ewma_observe(&f.b[0]->ewma, 1000, now, 10e6);  /* 1 ms */
    ewma_observe(&f.b[1]->ewma, 1000, now, 10e6);  /* 1 ms */
    ewma_observe(&f.b[2]->ewma, 50000, now, 10e6); /* 50 ms */
    size_t count[MAXB] = {0};
    for (int i = 0; i < 3000; i++)
        count[index_of(&f, pick_from(&f, CLIENT0, now))]++;
    /* The slow one wins no draw (it always meets a faster one). */
    ck_assert_uint_eq(count[2], 0);
    ck_assert_uint_ge(count[0], 1300);
    ck_assert_uint_ge(count[1], 1300);
    /* Load counts too: a fast backend with many open connections loses. */
    f.b[0]->active = 100;
    memset(count, 0, sizeof(count));
    for (int i = 0; i < 3000; i++)
        count[index_of(&f, pick_from(&f, CLIENT0, now))]++;
    ck_assert_uint_lt(count[0], count[1] / 10);
    teardown(&f);
}
END_TEST

START_TEST(test_p2c_new_backend_is_assumed_average_not_starved)
{
    struct fixture f;
    setup(&f, "p2c-ewma", 3);
    int64_t now = 1000000;
    /* Two measured at 1 ms; the third never measured (prior 30 ms). */
    ewma_observe(&f.b[0]->ewma, 1000, now, 10e6);
    ewma_observe(&f.b[1]->ewma, 1000, now, 10e6);
    size_t count[MAXB] = {0};
    for (int i = 0; i < 3000; i++)
        count[index_of(&f, pick_from(&f, CLIENT0, now))]++;
    /* Assumed as fast as the others: ties go to the first drawn, so it
     * gets about its third. */
    ck_assert_uint_ge(count[2], 700);
    teardown(&f);
}
END_TEST

START_TEST(test_p2c_single_usable_backend_is_picked)
{
    struct fixture f;
    setup(&f, "p2c-ewma", 3);
    f.b[0]->state = BACKEND_DOWN;
    f.b[1]->removed = 1;
    for (int i = 0; i < 20; i++)
        ck_assert_ptr_eq(pick_from(&f, CLIENT0, 0), f.b[2]);
    f.b[2]->state = BACKEND_DOWN;
    ck_assert_ptr_null(pick_from(&f, CLIENT0, 0));
    teardown(&f);
}
END_TEST

START_TEST(test_ewma_is_peak_sensitive_and_decays)
{
    struct ewma e;
    double tau = 10e6;
    ewma_init(&e, 30000, 0);
    ck_assert(!e.measured);
    /* The first sample replaces the prior, whatever its size. */
    ewma_observe(&e, 1000, 0, tau);
    ck_assert_double_eq_tol(ewma_get(&e, 0, tau), 1000, 1e-6);
    /* A slower sample is taken at once (peak). */
    ewma_observe(&e, 8000, 1000, tau);
    ck_assert_double_eq_tol(ewma_get(&e, 1000, tau), 8000, 1e-6);
    /* A faster one pulls it down by 1 - exp(-dt/tau): dt = tau -> 63%. */
    ewma_observe(&e, 1000, 1000 + 10000000, tau);
    double expect = 8000 * exp(-1.0) + 1000 * (1 - exp(-1.0));
    ck_assert_double_eq_tol(ewma_get(&e, 1000 + 10000000, tau), expect, 1e-6);
    /* With no sample it decays toward zero: halved after tau * ln 2. */
    int64_t t = 1000 + 10000000 + (int64_t)(tau * log(2.0));
    ck_assert_double_eq_tol(ewma_get(&e, t, tau), expect / 2, 1e-3);
}
END_TEST

START_TEST(test_slowstart_ramps_weight_from_a_tenth)
{
    struct backend *b = mk("s", 10, 1);
    b->slowstart = 1;
    b->up_since_us = 0;
    ck_assert_double_eq_tol(backend_effective_weight(b, 0, 1000000), 1.0, 1e-9);
    ck_assert_double_eq_tol(backend_effective_weight(b, 500000, 1000000), 5.5, 1e-9);
    ck_assert_double_eq_tol(backend_effective_weight(b, 1000000, 1000000), 10.0, 1e-9);
    ck_assert(!b->slowstart);
    backend_free(b);
}
END_TEST

START_TEST(test_backend_spec_parsing)
{
    struct backend_spec s;
    char err[256];
    ck_assert_int_eq(backend_spec_parse("p1=127.0.0.1:3129,health=127.0.0.1:3229,weight=7", &s, err,
                                        sizeof(err)),
                     0);
    ck_assert_str_eq(s.name, "p1");
    ck_assert_int_eq(s.has_health, 1);
    ck_assert_int_eq(s.weight, 7);
    ck_assert_int_eq(backend_spec_parse("p1=127.0.0.1:3129", &s, err, sizeof(err)), 0);
    ck_assert_int_eq(s.has_health, 0);
    ck_assert_int_eq(s.weight, 1);
    static const char *const bad[] = {
        "p1",
        "=127.0.0.1:1",
        "p 1=127.0.0.1:1",
        "p1=",
        "p1=127.0.0.1",
        "p1=127.0.0.1:0",
        "p1=127.0.0.1:1,weight=0",
        "p1=127.0.0.1:1,weight=257",
        "p1=127.0.0.1:1,health=x",
        "p1=127.0.0.1:1,colour=blue",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(backend_spec_parse(bad[i], &s, err, sizeof(err)) < 0, "accepted '%s'",
                      bad[i]);
        ck_assert_msg(err[0] != '\0', "no message for '%s'", bad[i]);
    }
}
END_TEST

static Suite *pick_suite(void)
{
    Suite *s = suite_create("pick");
    TCase *tc = tcase_create("pick");
    tcase_add_test(tc, test_source_splits_64_consecutive_clients_16_each_over_4);
    tcase_add_test(tc, test_source_fifth_backend_moves_only_its_share);
    tcase_add_test(tc, test_source_down_backend_clients_are_dealt_to_the_rest_only);
    tcase_add_test(tc, test_source_weights_give_proportional_shares);
    tcase_add_test(tc, test_roundrobin_is_smooth_and_weighted);
    tcase_add_test(tc, test_roundrobin_skips_down_draining_and_excluded);
    tcase_add_test(tc, test_leastconn_prefers_fewest_active_and_shares_ties);
    tcase_add_test(tc, test_p2c_ewma_avoids_the_slow_backend);
    tcase_add_test(tc, test_p2c_new_backend_is_assumed_average_not_starved);
    tcase_add_test(tc, test_p2c_single_usable_backend_is_picked);
    tcase_add_test(tc, test_ewma_is_peak_sensitive_and_decays);
    tcase_add_test(tc, test_slowstart_ramps_weight_from_a_tenth);
    tcase_add_test(tc, test_backend_spec_parsing);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(pick_suite)
