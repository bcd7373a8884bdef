/* Unit tests for common/fdlimit.c: the descriptors a concurrency needs and
 * the concurrency a limit allows (each the other's inverse, saturating
 * rather than wrapping), and the raise: soft to hard, and a limit that
 * cannot cover the need said so in err. Fork mode keeps the limits each
 * test sets inside its own process. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "../../../common/fdlimit.h"
#include "../check_main.h"

START_TEST(test_fdlimit_needed_counts_fixed_units_and_connections)
{
    /* loadgen: 1 client x 400 connections, its namespace fd, 64 spare. */
    const struct fdlimit_budget loadgen = {64, 1, 1, 1};
    ck_assert_uint_eq(fdlimit_needed(&loadgen, 400), 465);
    /* A proxy holding 64 clients x 1000 requests, two sockets each. */
    const struct fdlimit_budget proxy = {1024, 64, 0, 2};
    ck_assert_uint_eq(fdlimit_needed(&proxy, 1000), 129024);
    ck_assert_uint_eq(fdlimit_needed(&proxy, 0), 1024);
}
END_TEST

START_TEST(test_fdlimit_reachable_is_the_most_that_fits)
{
    const struct fdlimit_budget budgets[] = {
        {64, 1, 1, 1}, {64, 64, 1, 1}, {1024, 64, 0, 2}, {1024, 64, 0, 6}, {0, 3, 2, 5}};
    const uint64_t limits[] = {256, 465, 1024, 4096, 20000, 1048576};
    for (size_t i = 0; i < sizeof(budgets) / sizeof(budgets[0]); i++)
        for (size_t j = 0; j < sizeof(limits) / sizeof(limits[0]); j++) {
            const struct fdlimit_budget *b = &budgets[i];
            uint64_t c = fdlimit_reachable(b, limits[j]);
            if (c > 0)
                ck_assert_uint_le(fdlimit_needed(b, c), limits[j]);
            ck_assert_uint_gt(fdlimit_needed(b, c + 1), limits[j]);
        }
    /* ulimit -n 256 for loadgen's one client: 256 - 64 - 1 = 191. */
    const struct fdlimit_budget loadgen = {64, 1, 1, 1};
    ck_assert_uint_eq(fdlimit_reachable(&loadgen, 256), 191);
}
END_TEST

START_TEST(test_fdlimit_reachable_is_zero_when_the_fixed_part_fills_it)
{
    const struct fdlimit_budget loadgen = {64, 1, 1, 1};
    ck_assert_uint_eq(fdlimit_reachable(&loadgen, 50), 0);
    ck_assert_uint_eq(fdlimit_reachable(&loadgen, 65), 0);
    ck_assert_uint_eq(fdlimit_reachable(&loadgen, 66), 1);
}
END_TEST

START_TEST(test_fdlimit_needed_saturates)
{
    const struct fdlimit_budget huge = {10, UINT64_MAX / 2, 0, 4};
    ck_assert_uint_eq(fdlimit_needed(&huge, UINT64_MAX), UINT64_MAX);
    ck_assert_uint_eq(fdlimit_needed(&huge, 1), UINT64_MAX);
    ck_assert_uint_eq(fdlimit_reachable(&huge, 1000), 0);
}
END_TEST

START_TEST(test_fdlimit_raise_lifts_the_soft_limit_to_the_hard)
{
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max < 256)
        return; /* nothing to lift on a host this tight */
    rl.rlim_cur = 128;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    struct fdlimit got;
    char err[256] = "";
    ck_assert_int_eq(fdlimit_raise(200, &got, err, sizeof(err)), 0);
    ck_assert_uint_eq(got.soft_before, 128);
    ck_assert_uint_eq(got.soft, (uint64_t)rl.rlim_max);
    ck_assert_uint_eq(got.hard, (uint64_t)rl.rlim_max);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    ck_assert_uint_eq((uint64_t)rl.rlim_cur, (uint64_t)rl.rlim_max);
}
END_TEST

START_TEST(test_fdlimit_raise_says_when_the_need_is_out_of_reach)
{
    /* Above fs.nr_open no process gets it, privileged or not. */
    unsigned long long nr_open = 0;
    FILE *f = fopen("/proc/sys/fs/nr_open", "re");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%llu", &nr_open), 1);
    fclose(f);
    uint64_t needed = (uint64_t)nr_open + 1;
    struct fdlimit got;
    char err[256] = "", want[64];
    ck_assert_int_eq(fdlimit_raise(needed, &got, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "is below the %llu needed", (unsigned long long)needed);
    ck_assert_msg(strstr(err, want) != NULL, "%s", err);
    ck_assert_msg(strstr(err, "hard limit") != NULL, "%s", err);
    ck_assert_uint_lt(got.soft, needed);
    ck_assert_uint_eq(got.soft, got.hard);
}
END_TEST

static Suite *fdlimit_suite(void)
{
    Suite *s = suite_create("fdlimit");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_fdlimit_needed_counts_fixed_units_and_connections);
    tcase_add_test(tc, test_fdlimit_reachable_is_the_most_that_fits);
    tcase_add_test(tc, test_fdlimit_reachable_is_zero_when_the_fixed_part_fills_it);
    tcase_add_test(tc, test_fdlimit_needed_saturates);
    tcase_add_test(tc, test_fdlimit_raise_lifts_the_soft_limit_to_the_hard);
    tcase_add_test(tc, test_fdlimit_raise_says_when_the_need_is_out_of_reach);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(fdlimit_suite)
