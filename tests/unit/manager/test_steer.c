/* Unit tests for manager/steer.c's reconcile loop, against a scripted pool
 * and forwarding mode defined below (the linker takes them before
 * libmanager.a, so pool.o and the real modes are never linked): runs every
 * --reconcile-interval with the partition last installed, counts repairs by
 * kind and failures, polls a run that answers PP_AGAIN, makes a scale step
 * wait for a run under way, and never runs for a mode without reconcile or
 * with the interval 0. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <event2/event.h>

#include "../../../manager/config.h"
#include "../../../manager/forward/forwarding.h"
#include "../../../manager/instance.h"
#include "../../../manager/pool.h"
#include "../../../manager/registry.h"
#include "../../../manager/steer.h"
#include "../check_main.h"

static struct event_base *base;

/* ---- the scripted pool and forwarding ---- */

static struct {
    struct instance inst[4];
    int applies;         /* apply calls */
    int reconciles;      /* reconcile calls */
    int again;           /* reconcile answers PP_AGAIN this many times first */
    int fail;            /* then -1 */
    unsigned drift_rule; /* found on the next call that answers 0 (then cleared) */
    unsigned drift_jump;
    size_t seen_blocks;   /* what the last reconcile was given */
    uint16_t seen_port_2; /* targets[1].port */
} fake;

struct event_base *pool_event_base(const struct pool *p)
{
    (void)p;
    return base;
}

int pool_desired(const struct pool *p)
{
    (void)p;
    return 2;
}

const struct instance *pool_instance(const struct pool *p, int id)
{
    (void)p;
    return id >= 1 && id <= 3 ? &fake.inst[id] : NULL;
}

const struct runtime_ops *pool_runtime(const struct pool *p)
{
    (void)p;
    return NULL;
}

/* A pool started fresh: nothing adopted from an earlier run. */
size_t pool_adopted(const struct pool *p)
{
    (void)p;
    return 0;
}

int fwd_balancer_remove_leftovers(const struct fwd_config *cfg, char *err, size_t errlen)
{
    (void)cfg;
    (void)err;
    (void)errlen;
    return 0;
}

static int fake_init(struct fwd *f, char *err, size_t errlen)
{
    (void)f;
    (void)err;
    (void)errlen;
    return 0;
}

static int fake_apply(struct fwd *f, const struct partition *p, const struct fwd_target *targets,
                      char *err, size_t errlen)
{
    (void)f;
    (void)p;
    (void)targets;
    (void)err;
    (void)errlen;
    fake.applies++;
    return 0;
}

static int fake_clear(struct fwd *f, char *err, size_t errlen)
{
    (void)f;
    (void)err;
    (void)errlen;
    return 0;
}

static int fake_reconcile(struct fwd *f, const struct partition *p,
                          const struct fwd_target *targets, struct fwd_drift *drift, char *err,
                          size_t errlen)
{
    (void)f;
    fake.reconciles++;
    fake.seen_blocks = p->nblocks;
    fake.seen_port_2 = p->nblocks >= 2 ? targets[1].port : 0;
    if (fake.again > 0) {
        fake.again--;
        return PP_AGAIN;
    }
    if (fake.fail) {
        snprintf(err, errlen, "scripted failure");
        return -1;
    }
    drift->count[FWD_DRIFT_RULE] += fake.drift_rule;
    drift->count[FWD_DRIFT_JUMP] += fake.drift_jump;
    fake.drift_rule = fake.drift_jump = 0;
    return 0;
}

static struct fwd_ops fake_ops = {
    .name = "fake",
    .init = fake_init,
    .apply = fake_apply,
    .clear = fake_clear,
    .reconcile = fake_reconcile,
};

int registry_forwarding(const char *name, const struct fwd_ops **ops)
{
    *ops = strcmp(name, "fake") == 0 ? &fake_ops : NULL;
    return 0;
}

/* ---- helpers ---- */

static struct manager_config cfg;

static void setup(void)
{
    memset(&fake, 0, sizeof(fake));
    fake_ops.reconcile = fake_reconcile;
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.prefix, sizeof(cfg.prefix), "ut");
    snprintf(cfg.forwarding, sizeof(cfg.forwarding), "fake");
    char err[128];
    ck_assert_int_eq(addr_parse("198.19.255.10:3128", 3128, &cfg.vip, err, sizeof(err)), 0);
    ck_assert_int_eq(
        client_range_parse("198.18.1.1-198.18.1.64", &cfg.client_ranges[0], err, sizeof(err)), 0);
    cfg.nclient_ranges = 1;
    cfg.reconcile_interval_ms = 10;
    for (int id = 1; id <= 3; id++) {
        char a[32];
        fake.inst[id].id = id;
        snprintf(fake.inst[id].name, sizeof(fake.inst[id].name), "ut%d", id);
        snprintf(a, sizeof(a), "198.18.0.1:%d", 3128 + id);
        ck_assert_int_eq(addr_parse(a, -1, &fake.inst[id].address, err, sizeof(err)), 0);
    }
}

static void teardown(void)
{
    event_base_free(base);
    base = NULL;
}

static struct steer *steer_started(void)
{
    char err[256] = "";
    struct steer *s = steer_new(&cfg, NULL, NULL, err, sizeof(err));
    ck_assert_msg(s != NULL, "steer_new: %s", err);
    ck_assert_int_eq(fake.applies, 1); /* the partition over pool_desired's 2 */
    return s;
}

static void run_ms(int ms)
{
    struct timeval tv = {0, ms * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

/* Runs the loop in 5 ms slices until cond holds, for at most 5 s: on a
 * loaded machine a 10 ms timer may fire far fewer times than the wall time
 * allows, so a test waits for the runs it needs rather than for a time. */
#define RUN_UNTIL(cond)                                                                            \
    do {                                                                                           \
        for (int slice_ = 0; slice_ < 1000 && !(cond); slice_++)                                   \
            run_ms(5);                                                                             \
    } while (0)

/* ---- tests ---- */

START_TEST(test_steer_reconcile_runs_each_interval_with_the_installed_partition)
{
    struct steer *s = steer_started();
    const struct steer_reconcile_stats *st = steer_reconcile_stats(s);
    RUN_UNTIL(st->runs >= 3);
    ck_assert_uint_ge(st->runs, 3);
    ck_assert_uint_eq(st->failures, 0);
    for (int k = 0; k < STEER_DRIFT_KINDS; k++)
        ck_assert_uint_eq(st->repairs[k], 0);
    ck_assert_uint_eq(fake.seen_blocks, 2);
    ck_assert_uint_eq(fake.seen_port_2, 3130); /* instance 2's address, as now */
    ck_assert_int_eq(fake.applies, 1);         /* no drift: nothing installed again */
    steer_free(s);
}
END_TEST

START_TEST(test_steer_reconcile_counts_repairs_by_kind)
{
    struct steer *s = steer_started();
    fake.drift_rule = 2;
    fake.drift_jump = 1;
    const struct steer_reconcile_stats *st = steer_reconcile_stats(s);
    RUN_UNTIL(st->runs >= 3);
    run_ms(20); /* and any repair a later run would (wrongly) count */
    ck_assert_uint_eq(st->repairs[FWD_DRIFT_RULE], 2);
    ck_assert_uint_eq(st->repairs[FWD_DRIFT_JUMP], 1);
    ck_assert_uint_eq(st->repairs[FWD_DRIFT_BACKEND], 0);
    ck_assert_str_eq(steer_drift_name(FWD_DRIFT_RULE), "rule");
    ck_assert_str_eq(steer_drift_name(FWD_DRIFT_BACKEND), "backend");
    ck_assert_ptr_null(steer_drift_name(STEER_DRIFT_KINDS));
    steer_free(s);
}
END_TEST

START_TEST(test_steer_reconcile_failure_is_counted)
{
    fake.fail = 1; /* from the start: steer_new's loop may run one */
    struct steer *s = steer_started();
    const struct steer_reconcile_stats *st = steer_reconcile_stats(s);
    RUN_UNTIL(st->failures >= 2);
    ck_assert_uint_ge(st->failures, 1);
    ck_assert_uint_eq(st->failures, st->runs);
    steer_free(s);
}
END_TEST

START_TEST(test_steer_apply_waits_for_a_reconcile_under_way)
{
    /* Set before the start: on a loaded machine steer_new's own loop can
     * outlast the 10 ms period and finish a run before the test says so. */
    fake.again = 1000000; /* a run that stays under way */
    struct steer *s = steer_started();
    RUN_UNTIL(fake.reconciles >= 2);
    ck_assert_int_ge(fake.reconciles, 2); /* polled while it answers PP_AGAIN */
    ck_assert_uint_eq(steer_reconcile_stats(s)->runs, 0);
    char err[128];
    ck_assert_int_eq(steer_apply(s, 3, err, sizeof(err)), PP_AGAIN);
    ck_assert_int_eq(fake.applies, 1); /* the step's rules wait */
    fake.again = 0;
    RUN_UNTIL(steer_reconcile_stats(s)->runs >= 1);
    ck_assert_uint_ge(steer_reconcile_stats(s)->runs, 1);
    int reconciles = fake.reconciles;
    ck_assert_int_eq(steer_apply(s, 3, err, sizeof(err)), 0);
    ck_assert_int_eq(fake.applies, 2);
    RUN_UNTIL(fake.reconciles > reconciles);
    ck_assert_int_gt(fake.reconciles, reconciles);
    ck_assert_uint_eq(fake.seen_blocks, 3); /* the new partition is the desired state now */
    steer_free(s);
}
END_TEST

START_TEST(test_steer_mode_without_reconcile_is_never_checked)
{
    fake_ops.reconcile = NULL;
    struct steer *s = steer_started();
    run_ms(35);
    ck_assert_uint_eq(steer_reconcile_stats(s)->runs, 0);
    steer_free(s);
}
END_TEST

START_TEST(test_steer_reconcile_interval_zero_never_runs)
{
    cfg.reconcile_interval_ms = 0;
    struct steer *s = steer_started();
    run_ms(35);
    ck_assert_int_eq(fake.reconciles, 0);
    ck_assert_uint_eq(steer_reconcile_stats(s)->runs, 0);
    steer_free(s);
}
END_TEST

static Suite *steer_suite(void)
{
    Suite *su = suite_create("steer");
    TCase *tc = tcase_create("reconcile");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_steer_reconcile_runs_each_interval_with_the_installed_partition);
    tcase_add_test(tc, test_steer_reconcile_counts_repairs_by_kind);
    tcase_add_test(tc, test_steer_reconcile_failure_is_counted);
    tcase_add_test(tc, test_steer_apply_waits_for_a_reconcile_under_way);
    tcase_add_test(tc, test_steer_mode_without_reconcile_is_never_checked);
    tcase_add_test(tc, test_steer_reconcile_interval_zero_never_runs);
    suite_add_tcase(su, tc);
    return su;
}

PP_CHECK_MAIN(steer_suite)
