/* Unit tests for common/timeutil.c: milliseconds and microseconds become a
 * struct timeval with nothing below the second lost. */
#include <check.h>
#include <stdint.h>

#include "../check_main.h"
#include "timeutil.h"

START_TEST(test_tv_from_ms_keeps_the_sub_second_part)
{
    struct timeval tv = tv_from_ms(500);
    ck_assert_int_eq(tv.tv_sec, 0);
    ck_assert_int_eq(tv.tv_usec, 500000);
    tv = tv_from_ms(1500);
    ck_assert_int_eq(tv.tv_sec, 1);
    ck_assert_int_eq(tv.tv_usec, 500000);
    tv = tv_from_ms(1);
    ck_assert_int_eq(tv.tv_sec, 0);
    ck_assert_int_eq(tv.tv_usec, 1000);
}
END_TEST

START_TEST(test_tv_from_ms_whole_seconds_and_zero)
{
    struct timeval tv = tv_from_ms(60000);
    ck_assert_int_eq(tv.tv_sec, 60);
    ck_assert_int_eq(tv.tv_usec, 0);
    tv = tv_from_ms(0);
    ck_assert_int_eq(tv.tv_sec, 0);
    ck_assert_int_eq(tv.tv_usec, 0);
}
END_TEST

START_TEST(test_tv_from_ms_large_values_do_not_wrap)
{
    /* 30 days, the longest duration size.c accepts, and far beyond. */
    struct timeval tv = tv_from_ms(30ull * 86400 * 1000 + 999);
    ck_assert_int_eq(tv.tv_sec, 30 * 86400);
    ck_assert_int_eq(tv.tv_usec, 999000);
    tv = tv_from_ms(UINT64_C(1) << 40);
    ck_assert_int_eq(tv.tv_sec, (int64_t)((UINT64_C(1) << 40) / 1000));
    ck_assert_int_eq(tv.tv_usec, (int64_t)((UINT64_C(1) << 40) % 1000) * 1000);
}
END_TEST

START_TEST(test_tv_from_us_splits_seconds_and_microseconds)
{
    struct timeval tv = tv_from_us(1);
    ck_assert_int_eq(tv.tv_sec, 0);
    ck_assert_int_eq(tv.tv_usec, 1);
    tv = tv_from_us(2999999);
    ck_assert_int_eq(tv.tv_sec, 2);
    ck_assert_int_eq(tv.tv_usec, 999999);
    tv = tv_from_us(1000000);
    ck_assert_int_eq(tv.tv_sec, 1);
    ck_assert_int_eq(tv.tv_usec, 0);
}
END_TEST

static Suite *timeutil_suite(void)
{
    Suite *s = suite_create("timeutil");
    TCase *tc = tcase_create("convert");
    tcase_add_test(tc, test_tv_from_ms_keeps_the_sub_second_part);
    tcase_add_test(tc, test_tv_from_ms_whole_seconds_and_zero);
    tcase_add_test(tc, test_tv_from_ms_large_values_do_not_wrap);
    tcase_add_test(tc, test_tv_from_us_splits_seconds_and_microseconds);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(timeutil_suite)
