/* Unit tests for common/size.c: sizes, durations and bounded integers as
 * config files and command lines spell them. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "../check_main.h"
#include "size.h"

static char err[256];

START_TEST(test_size_parses_plain_bytes)
{
    uint64_t v = 1;
    ck_assert_int_eq(size_parse("512", &v, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 512);
    ck_assert_int_eq(size_parse("0", &v, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(size_parse("100B", &v, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 100);
}
END_TEST

START_TEST(test_size_parses_binary_suffixes)
{
    uint64_t v;
    ck_assert_int_eq(size_parse("1024K", &v, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 1024 * 1024);
    ck_assert_int_eq(size_parse("256M", &v, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 256ULL << 20);
    ck_assert_int_eq(size_parse("1G", &v, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 1ULL << 30);
    ck_assert_int_eq(size_parse("2T", &v, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 2ULL << 40);
}
END_TEST

START_TEST(test_size_accepts_long_suffixes_in_any_case)
{
    uint64_t v;
    const char *ok[] = {"260MB", "260mb", "260MiB", "260mib", "260m", "260Mb"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ck_assert_msg(size_parse(ok[i], &v, err, sizeof(err)) == 0, "%s: %s", ok[i], err);
        ck_assert_uint_eq(v, 260ULL << 20);
    }
    ck_assert_int_eq(size_parse("4kib", &v, err, sizeof(err)), 0);
    ck_assert_uint_eq(v, 4096);
}
END_TEST

START_TEST(test_size_rejects_empty_sign_and_garbage)
{
    uint64_t v = 7;
    const char *bad[] = {"", "-1", "+1", " 1", "1 ", "1 K", "1KX", "1.5G", "K", "1Q", "0x10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(size_parse(bad[i], &v, err, sizeof(err)) == -1, "accepted \"%s\"", bad[i]);
        ck_assert_msg(err[0] != '\0', "no message for \"%s\"", bad[i]);
    }
    ck_assert_uint_eq(v, 7); /* untouched on error */
    ck_assert_int_eq(size_parse(NULL, &v, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_size_rejects_values_over_2_pow_62)
{
    uint64_t v;
    ck_assert_int_eq(size_parse("4611686018427387904", &v, err, sizeof(err)), 0); /* 2^62 */
    ck_assert_uint_eq(v, 1ULL << 62);
    ck_assert_int_eq(size_parse("4611686018427387905", &v, err, sizeof(err)), -1);
    ck_assert_int_eq(size_parse("4194304T", &v, err, sizeof(err)), 0); /* 2^62 */
    ck_assert_int_eq(size_parse("4194305T", &v, err, sizeof(err)), -1);
    ck_assert_int_eq(size_parse("99999999999999999999999999999", &v, err, sizeof(err)), -1);
    ck_assert_int_eq(size_parse("18446744073709551616", &v, err, sizeof(err)), -1); /* 2^64 */
    ck_assert_int_eq(size_parse("18446744073709551617K", &v, err, sizeof(err)), -1);
    ck_assert_int_eq(size_parse("36893488147419103232", &v, err, sizeof(err)), -1); /* 2^65 */
    ck_assert_ptr_nonnull(strstr(err, "2^62"));
}
END_TEST

START_TEST(test_size_format_uses_largest_exact_suffix)
{
    char out[32];
    size_format(268435456, out, sizeof(out));
    ck_assert_str_eq(out, "256M");
    size_format(1024 * 1024, out, sizeof(out));
    ck_assert_str_eq(out, "1M");
    size_format(1536, out, sizeof(out));
    ck_assert_str_eq(out, "1536");
    size_format(3ULL << 30, out, sizeof(out));
    ck_assert_str_eq(out, "3G");
    size_format(5ULL << 40, out, sizeof(out));
    ck_assert_str_eq(out, "5T");
    size_format(1536ULL << 10, out, sizeof(out));
    ck_assert_str_eq(out, "1536K");
    size_format(0, out, sizeof(out));
    ck_assert_str_eq(out, "0");
}
END_TEST

START_TEST(test_size_format_round_trips_through_parse)
{
    const uint64_t values[] = {1, 1000, 4096, 260ULL << 20, (1ULL << 62), 12345678901ULL};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char out[32];
        uint64_t back;
        size_format(values[i], out, sizeof(out));
        ck_assert_int_eq(size_parse(out, &back, err, sizeof(err)), 0);
        ck_assert_uint_eq(back, values[i]);
    }
}
END_TEST

START_TEST(test_size_format_truncates_to_buffer)
{
    char out[3] = "xx";
    size_format(268435456, out, sizeof(out));
    ck_assert_str_eq(out, "25");
}
END_TEST

START_TEST(test_duration_parses_units)
{
    uint64_t ms;
    ck_assert_int_eq(duration_parse_ms("500ms", &ms, err, sizeof(err)), 0);
    ck_assert_uint_eq(ms, 500);
    ck_assert_int_eq(duration_parse_ms("10s", &ms, err, sizeof(err)), 0);
    ck_assert_uint_eq(ms, 10000);
    ck_assert_int_eq(duration_parse_ms("2m", &ms, err, sizeof(err)), 0);
    ck_assert_uint_eq(ms, 120000);
    ck_assert_int_eq(duration_parse_ms("1h", &ms, err, sizeof(err)), 0);
    ck_assert_uint_eq(ms, 3600000);
    ck_assert_int_eq(duration_parse_ms("0s", &ms, err, sizeof(err)), 0);
    ck_assert_uint_eq(ms, 0);
}
END_TEST

START_TEST(test_duration_bare_number_is_seconds)
{
    uint64_t ms;
    ck_assert_int_eq(duration_parse_ms("3", &ms, err, sizeof(err)), 0);
    ck_assert_uint_eq(ms, 3000);
}
END_TEST

START_TEST(test_duration_accepts_fractions)
{
    uint64_t ms;
    ck_assert_int_eq(duration_parse_ms("1.5s", &ms, err, sizeof(err)), 0);
    ck_assert_uint_eq(ms, 1500);
    ck_assert_int_eq(duration_parse_ms("0.25", &ms, err, sizeof(err)), 0);
    ck_assert_uint_eq(ms, 250);
    ck_assert_int_eq(duration_parse_ms("1.5m", &ms, err, sizeof(err)), 0);
    ck_assert_uint_eq(ms, 90000);
    ck_assert_int_eq(duration_parse_ms("0.001s", &ms, err, sizeof(err)), 0);
    ck_assert_uint_eq(ms, 1);
    ck_assert_int_eq(duration_parse_ms("2.5ms", &ms, err, sizeof(err)), 0); /* rounds half up */
    ck_assert_uint_eq(ms, 3);
    ck_assert_int_eq(duration_parse_ms("0.1234567891234s", &ms, err, sizeof(err)), 0);
    ck_assert_uint_eq(ms, 123);
}
END_TEST

START_TEST(test_duration_rejects_negative_and_garbage)
{
    uint64_t ms = 9;
    const char *bad[] = {"", "-1s", "+1s", "1.", ".5s", "1..5s", "10x", "1 s", "s", "1e3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(duration_parse_ms(bad[i], &ms, err, sizeof(err)) == -1, "accepted \"%s\"",
                      bad[i]);
        ck_assert_msg(err[0] != '\0', "no message for \"%s\"", bad[i]);
    }
    ck_assert_uint_eq(ms, 9);
}
END_TEST

START_TEST(test_duration_rejects_over_30_days)
{
    uint64_t ms;
    ck_assert_int_eq(duration_parse_ms("720h", &ms, err, sizeof(err)), 0);
    ck_assert_uint_eq(ms, 30ULL * 24 * 3600 * 1000);
    ck_assert_int_eq(duration_parse_ms("720.001h", &ms, err, sizeof(err)), -1);
    ck_assert_int_eq(duration_parse_ms("2592001s", &ms, err, sizeof(err)), -1);
    ck_assert_int_eq(duration_parse_ms("99999999999999999999999h", &ms, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "30 days"));
}
END_TEST

START_TEST(test_int_parse_accepts_within_range)
{
    long v;
    ck_assert_int_eq(int_parse("32", 1, 32, &v, err, sizeof(err)), 0);
    ck_assert_int_eq(v, 32);
    ck_assert_int_eq(int_parse("-5", -10, 10, &v, err, sizeof(err)), 0);
    ck_assert_int_eq(v, -5);
}
END_TEST

START_TEST(test_int_parse_rejects_out_of_range_and_trailing_text)
{
    long v = 4;
    ck_assert_int_eq(int_parse("33", 1, 32, &v, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "[1, 32]"));
    ck_assert_int_eq(int_parse("0", 1, 32, &v, err, sizeof(err)), -1);
    ck_assert_int_eq(int_parse("12abc", 0, 100, &v, err, sizeof(err)), -1);
    ck_assert_int_eq(int_parse("", 0, 100, &v, err, sizeof(err)), -1);
    ck_assert_int_eq(int_parse(" 1", 0, 100, &v, err, sizeof(err)), -1);
    ck_assert_int_eq(int_parse("+1", 0, 100, &v, err, sizeof(err)), -1);
    ck_assert_int_eq(int_parse("99999999999999999999999", 0, 100, &v, err, sizeof(err)), -1);
    ck_assert_int_eq(v, 4);
}
END_TEST

static Suite *size_suite(void)
{
    Suite *s = suite_create("size");
    TCase *tc = tcase_create("size");
    tcase_add_test(tc, test_size_parses_plain_bytes);
    tcase_add_test(tc, test_size_parses_binary_suffixes);
    tcase_add_test(tc, test_size_accepts_long_suffixes_in_any_case);
    tcase_add_test(tc, test_size_rejects_empty_sign_and_garbage);
    tcase_add_test(tc, test_size_rejects_values_over_2_pow_62);
    tcase_add_test(tc, test_size_format_uses_largest_exact_suffix);
    tcase_add_test(tc, test_size_format_round_trips_through_parse);
    tcase_add_test(tc, test_size_format_truncates_to_buffer);
    suite_add_tcase(s, tc);

    tc = tcase_create("duration");
    tcase_add_test(tc, test_duration_parses_units);
    tcase_add_test(tc, test_duration_bare_number_is_seconds);
    tcase_add_test(tc, test_duration_accepts_fractions);
    tcase_add_test(tc, test_duration_rejects_negative_and_garbage);
    tcase_add_test(tc, test_duration_rejects_over_30_days);
    suite_add_tcase(s, tc);

    tc = tcase_create("int");
    tcase_add_test(tc, test_int_parse_accepts_within_range);
    tcase_add_test(tc, test_int_parse_rejects_out_of_range_and_trailing_text);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(size_suite)
