/* Unit tests for manager/scale.c: the order of a scale step against a
 * scripted pool and forwarding defined below (the linker takes them before
 * libmanager.a, so pool.o and steer.o are never linked). Every call is
 * written to a log, and a test asserts on the order it saw: new instances
 * serve before the rules name them, the rules leave an instance before it
 * drains, a rules step that answers PP_AGAIN is asked again, a failed one
 * stops nothing, one change at a time. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "../../../manager/pool.h"
#include "../../../manager/scale.h"
#include "../../../manager/steer.h"
#include "../check_main.h"
#include "log.h"

static struct event_base *base;

/* ---- the scripted pool and forwarding ---- */

static struct {
    int desired;
    int ready;       /* pool_ready_upto answers this */
    int stopped;     /* pool_stopped_above answers this */
    int rules_again; /* steer_apply answers PP_AGAIN this many times first */
    int rules_fail;  /* then -1 instead of 0 */
    char log[512];   /* "grow 4, rules 4, drain 4, " ... */
    void (*listener)(void *ctx);
    void *listener_ctx;
} fake;

static void note(const char *fmt, int n)
{
    size_t len = strlen(fake.log);
    snprintf(fake.log + len, sizeof(fake.log) - len, fmt, n);
}

void pool_grow(struct pool *p, int n)
{
    (void)p;
    fake.desired = n;
    note("grow %d, ", n);
}

void pool_drain_above(struct pool *p, int n)
{
    (void)p;
    fake.desired = n;
    note("drain %d, ", n);
}

int pool_ready_upto(const struct pool *p, int n, char *why, size_t whylen)
{
    (void)p;
    (void)n;
    if (fake.ready < 0)
        snprintf(why, whylen, "instance failed");
    return fake.ready;
}

int pool_stopped_above(const struct pool *p, int n)
{
    (void)p;
    (void)n;
    return fake.stopped;
}

int pool_restart_instance(struct pool *p, int id)
{
    (void)p;
    note("restart %d, ", id);
    return 0;
}

int pool_restarted(const struct pool *p, int id, int64_t since_us, char *why, size_t whylen)
{
    (void)p;
    (void)id;
    (void)since_us;
    (void)why;
    (void)whylen;
    return fake.ready;
}

void pool_set_listener(struct pool *p, void (*fn)(void *ctx), void *ctx)
{
    (void)p;
    fake.listener = fn;
    fake.listener_ctx = ctx;
}

void pool_set_flow_counter(struct pool *p,
                           int (*fn)(void *ctx, const struct instance *in, uint64_t *count),
                           void *ctx)
{
    (void)p;
    (void)fn;
    (void)ctx;
}

void pool_drain_counts(const struct pool *p, uint64_t *drained, uint64_t *cut)
{
    (void)p;
    *drained = 0;
    *cut = 0;
}

void pool_set_last_step(struct pool *p, const struct pool_step *step)
{
    (void)p;
    (void)step;
}

size_t pool_adopted(const struct pool *p)
{
    (void)p;
    return 0;
}

int pool_desired(const struct pool *p)
{
    (void)p;
    return fake.desired;
}

int steer_apply(struct steer *s, int n, char *err, size_t errlen)
{
    (void)s;
    if (fake.rules_again > 0) {
        fake.rules_again--;
        note("rules again %d, ", n);
        return PP_AGAIN;
    }
    note("rules %d, ", n);
    if (fake.rules_fail) {
        snprintf(err, errlen, "commit failed");
        return -1;
    }
    return 0;
}

int steer_retire(struct steer *s, int n, char *err, size_t errlen)
{
    (void)s;
    (void)n;
    (void)err;
    (void)errlen;
    return 0;
}

int steer_count_flows(struct steer *s, const struct instance *in, uint64_t *count)
{
    (void)s;
    (void)in;
    (void)count;
    return -1;
}

/* Outside a step the pool's news goes to the steering (tested in test_steer). */
static int instances_changed_calls;
void steer_instances_changed(struct steer *s)
{
    (void)s;
    instances_changed_calls++;
}

/* The pool's news, as pool.c gives it: something became ready or exited. */
static void pool_moves(int ready, int stopped)
{
    fake.ready = ready;
    fake.stopped = stopped;
    if (fake.listener)
        fake.listener(fake.listener_ctx);
}

/* ---- fixture ---- */

static struct scale *sc;
static struct {
    int calls, ok;
    char message[256];
} done;

static void on_done(void *ctx, int ok, const char *message)
{
    (void)ctx;
    done.calls++;
    done.ok = ok;
    snprintf(done.message, sizeof(done.message), "%s", message ? message : "");
}

/* Runs the loop until nothing is left to run now (a 2 ms poll included). */
static void run_loop(void)
{
    for (int i = 0; i < 20; i++) {
        struct timeval tv = {0, 5000};
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
}

static void setup(void)
{
    log_set_level(LOG_LEVEL_ERROR);
    memset(&fake, 0, sizeof(fake));
    memset(&done, 0, sizeof(done));
    instances_changed_calls = 0;
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    char err[128];
    sc = scale_new(base, (struct pool *)&fake, (struct steer *)&fake, err, sizeof(err));
    ck_assert_ptr_nonnull(sc);
}

static void teardown(void)
{
    scale_free(sc);
    event_base_free(base);
}

/* ---- tests ---- */

START_TEST(test_scale_grow_installs_rules_only_once_every_instance_serves)
{
    char err[128];
    fake.desired = 1;
    fake.stopped = 1;
    ck_assert_int_eq(scale_to(sc, 4, on_done, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(done.calls, 0); /* never inside the call */
    run_loop();
    ck_assert_str_eq(fake.log, "grow 4, ");
    ck_assert_int_eq(done.calls, 0);
    pool_moves(1, 1);
    run_loop();
    ck_assert_str_eq(fake.log, "grow 4, rules 4, drain 4, ");
    ck_assert_int_eq(done.calls, 1);
    ck_assert_int_eq(done.ok, 1);
    /* The step's own news is the step's; news after it (an instance
     * restarted in place) goes to the steering. */
    ck_assert_int_eq(instances_changed_calls, 0);
    pool_moves(4, 0);
    ck_assert_int_eq(instances_changed_calls, 1);
}
END_TEST

START_TEST(test_scale_shrink_moves_clients_before_instances_stop)
{
    char err[128];
    fake.desired = 4;
    fake.ready = 1;
    ck_assert_int_eq(scale_to(sc, 2, on_done, NULL, err, sizeof(err)), 0);
    run_loop();
    ck_assert_str_eq(fake.log, "rules 2, drain 2, ");
    ck_assert_int_eq(done.calls, 0); /* instances 3 and 4 still drain */
    pool_moves(1, 1);
    run_loop();
    ck_assert_int_eq(done.calls, 1);
    ck_assert_int_eq(done.ok, 1);
}
END_TEST

START_TEST(test_scale_asks_the_rules_again_while_they_answer_again)
{
    char err[128];
    fake.desired = 2;
    fake.ready = 1;
    fake.stopped = 1;
    fake.rules_again = 2;
    ck_assert_int_eq(scale_to(sc, 3, on_done, NULL, err, sizeof(err)), 0);
    run_loop();
    ck_assert_str_eq(fake.log, "grow 3, rules again 3, rules again 3, rules 3, drain 3, ");
    ck_assert_int_eq(done.ok, 1);
}
END_TEST

START_TEST(test_scale_failed_rules_stop_no_instance)
{
    char err[128];
    fake.desired = 4;
    fake.ready = 1;
    fake.rules_fail = 1;
    ck_assert_int_eq(scale_to(sc, 1, on_done, NULL, err, sizeof(err)), 0);
    run_loop();
    ck_assert_str_eq(fake.log, "rules 1, ");
    ck_assert_int_eq(done.calls, 1);
    ck_assert_int_eq(done.ok, 0);
    ck_assert_msg(strstr(done.message, "no instance was stopped: commit failed") != NULL, "%s",
                  done.message);
}
END_TEST

START_TEST(test_scale_fails_when_an_instance_never_becomes_ready)
{
    char err[128];
    fake.desired = 1;
    ck_assert_int_eq(scale_to(sc, 2, on_done, NULL, err, sizeof(err)), 0);
    run_loop();
    pool_moves(-1, 1);
    run_loop();
    ck_assert_str_eq(fake.log, "grow 2, ");
    ck_assert_int_eq(done.ok, 0);
    ck_assert_str_eq(done.message, "instance failed");
}
END_TEST

START_TEST(test_scale_takes_one_change_at_a_time)
{
    char err[128];
    fake.desired = 1;
    ck_assert_int_eq(scale_to(sc, 2, on_done, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(scale_busy(sc), 1);
    ck_assert_int_eq(scale_to(sc, 3, on_done, NULL, err, sizeof(err)), SCALE_ERR_BUSY);
    ck_assert_int_eq(scale_restart(sc, 1, on_done, NULL, err, sizeof(err)), SCALE_ERR_BUSY);
    ck_assert_int_eq(scale_to(sc, 0, on_done, NULL, err, sizeof(err)), SCALE_ERR_BUSY);
    scale_stop(sc);
    ck_assert_int_eq(done.calls, 1);
    ck_assert_str_eq(done.message, "the manager is shutting down");
    ck_assert_int_eq(scale_to(sc, 2, on_done, NULL, err, sizeof(err)), SCALE_ERR_STOPPING);
}
END_TEST

START_TEST(test_scale_refuses_replicas_out_of_range)
{
    char err[128];
    ck_assert_int_eq(scale_to(sc, 0, on_done, NULL, err, sizeof(err)), SCALE_ERR_RANGE);
    ck_assert_int_eq(scale_to(sc, POOL_MAX_INSTANCES + 1, on_done, NULL, err, sizeof(err)),
                     SCALE_ERR_RANGE);
    ck_assert_str_eq(fake.log, "");
}
END_TEST

START_TEST(test_scale_restart_ends_when_the_instance_serves_again)
{
    char err[128];
    ck_assert_int_eq(scale_restart(sc, 2, on_done, NULL, err, sizeof(err)), 0);
    run_loop();
    ck_assert_int_eq(done.calls, 0);
    pool_moves(1, 1);
    run_loop();
    ck_assert_str_eq(fake.log, "restart 2, ");
    ck_assert_int_eq(done.ok, 1);
}
END_TEST

static Suite *scale_suite(void)
{
    Suite *s = suite_create("scale");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_scale_grow_installs_rules_only_once_every_instance_serves);
    tcase_add_test(tc, test_scale_shrink_moves_clients_before_instances_stop);
    tcase_add_test(tc, test_scale_asks_the_rules_again_while_they_answer_again);
    tcase_add_test(tc, test_scale_failed_rules_stop_no_instance);
    tcase_add_test(tc, test_scale_fails_when_an_instance_never_becomes_ready);
    tcase_add_test(tc, test_scale_takes_one_change_at_a_time);
    tcase_add_test(tc, test_scale_refuses_replicas_out_of_range);
    tcase_add_test(tc, test_scale_restart_ends_when_the_instance_serves_again);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(scale_suite)
