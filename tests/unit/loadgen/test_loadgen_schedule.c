/* Unit tests for loadgen/schedule.c (--rate-steps) and loadgen/series.c
 * (--series): the parser's strictness, the due times across steps, and the
 * per-second rows. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check_main.h"
#include "../../../loadgen/config.h"
#include "../../../loadgen/schedule.h"
#include "../../../loadgen/series.h"

static char err[512];

START_TEST(test_loadgen_schedule_parses_the_issue_example)
{
    struct loadgen_schedule s;
    ck_assert_int_eq(loadgen_schedule_parse("30:10s,150:20s,300:20s,30:30s", &s, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(s.nsteps, 4);
    ck_assert_uint_eq(s.total_us, 80000000u);
    ck_assert_uint_eq(s.steps[0].count, 300);
    ck_assert_uint_eq(s.steps[1].count, 3000);
    ck_assert_uint_eq(s.steps[2].first, 3300);
    ck_assert_uint_eq(s.steps[2].start_us, 30000000u);
    ck_assert_uint_eq(s.total_count, 300 + 3000 + 6000 + 900);
}
END_TEST

START_TEST(test_loadgen_schedule_due_times_follow_the_steps)
{
    struct loadgen_schedule s;
    ck_assert_int_eq(loadgen_schedule_parse("10:1s,0:500ms,100:1", &s, err, sizeof(err)), 0);
    ck_assert_uint_eq(loadgen_schedule_offset_us(&s, 0), 0);
    ck_assert_uint_eq(loadgen_schedule_offset_us(&s, 9), 900000u);
    /* The pause sends nothing: request 10 is the third step's first. */
    ck_assert_uint_eq(loadgen_schedule_offset_us(&s, 10), 1500000u);
    ck_assert_uint_eq(loadgen_schedule_offset_us(&s, 11), 1510000u);
    ck_assert_uint_eq(s.total_count, 110);
    ck_assert_uint_eq(loadgen_schedule_due_by(&s, 0), 1);
    ck_assert_uint_eq(loadgen_schedule_due_by(&s, 99999), 1);
    ck_assert_uint_eq(loadgen_schedule_due_by(&s, 100000), 2);
    ck_assert_uint_eq(loadgen_schedule_due_by(&s, 1200000), 10); /* in the pause */
    ck_assert_uint_eq(loadgen_schedule_due_by(&s, 1500000), 11);
    ck_assert_uint_eq(loadgen_schedule_due_by(&s, 99000000), 110);
    ck_assert(loadgen_schedule_rate_at(&s, 1700000) == 100);
    ck_assert(loadgen_schedule_rate_at(&s, 2600000) == 0);
    /* due_by agrees with the offsets everywhere, also at fractional rates. */
    ck_assert_int_eq(loadgen_schedule_parse("3:1s,7.5:2s", &s, err, sizeof(err)), 0);
    for (uint64_t i = 0; i < s.total_count; i++) {
        uint64_t t = loadgen_schedule_offset_us(&s, i);
        ck_assert_uint_eq(loadgen_schedule_due_by(&s, t), i + 1);
        if (t > 0)
            ck_assert_uint_eq(loadgen_schedule_due_by(&s, t - 1), i);
    }
}
END_TEST

START_TEST(test_loadgen_schedule_rejects_bad_steps_clearly)
{
    static const char *const bad[][2] = {
        {"", "empty step"},
        {"30:10s,", "empty step"},
        {"30:10s,,5:1s", "empty step"},
        {"30", "not RATE:DURATION"},
        {"abc:10s", "rate 'abc'"},
        {"-5:10s", "rate '-5'"},
        {"2e6:1s", "rate '2e6'"},
        {"30:soon", "step '30:soon'"},
        {"30:0s", "from 1ms to 24h"},
        {"30:25h", "from 1ms to 24h"},
        {"0:1s,0:2s", "nothing would be sent"},
    };
    struct loadgen_schedule s;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(loadgen_schedule_parse(bad[i][0], &s, err, sizeof(err)) == -1, "'%s'",
                      bad[i][0]);
        ck_assert_msg(strstr(err, bad[i][1]) != NULL, "'%s' -> '%s'", bad[i][0], err);
        ck_assert_uint_eq(s.nsteps, 0);
    }
    char many[1024] = "";
    for (int i = 0; i < LOADGEN_SCHEDULE_MAX_STEPS + 1; i++)
        strcat(many, i ? ",1:1s" : "1:1s");
    ck_assert_int_eq(loadgen_schedule_parse(many, &s, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "more than"));
}
END_TEST

#define LOAD(cfg, ...)                                                                             \
    ({                                                                                             \
        char *argv_[] = {"loadgen", "http://127.0.0.1:1/", __VA_ARGS__, NULL};                     \
        err[0] = '\0';                                                                             \
        loadgen_config_load(cfg, (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, err,          \
                            sizeof(err));                                                          \
    })

START_TEST(test_loadgen_config_rate_steps_set_the_run)
{
    struct loadgen_config cfg;
    ck_assert_int_eq(
        LOAD(&cfg, "--rate-steps", "30:10s,150:20s", "--series", "/tmp/x.csv", "--slo", "200ms"),
        0);
    ck_assert_uint_eq(cfg.steps.nsteps, 2);
    ck_assert(cfg.rate == 150);
    ck_assert_uint_eq(cfg.duration_ms, 30000);
    ck_assert_uint_eq(cfg.slo_ms, 200);
    loadgen_config_free(&cfg);
    ck_assert_int_eq(LOAD(&cfg, "--rate-steps", "30:10s", "--rate", "5"), -1);
    ck_assert_ptr_nonnull(strstr(err, "--rate-steps and --rate exclude each other"));
    loadgen_config_free(&cfg);
    ck_assert_int_eq(LOAD(&cfg, "--rate-steps", "30:10s", "--duration", "5s"), -1);
    ck_assert_ptr_nonnull(strstr(err, "--duration"));
    loadgen_config_free(&cfg);
    ck_assert_int_eq(LOAD(&cfg, "--rate-steps", "30:1O s"), -1);
    ck_assert_ptr_nonnull(strstr(err, "--rate-steps"));
    loadgen_config_free(&cfg);
    ck_assert_int_eq(LOAD(&cfg, "--slo", "200ms"), -1);
    ck_assert_ptr_nonnull(strstr(err, "--series"));
    loadgen_config_free(&cfg);
}
END_TEST

START_TEST(test_loadgen_series_p99_is_nearest_rank)
{
    uint32_t v[200];
    for (uint32_t i = 0; i < 200; i++)
        v[i] = 200 - i; /* 200 .. 1, unsorted */
    ck_assert_uint_eq(loadgen_series_p99(v, 200), 198);
    uint32_t one[1] = {7};
    ck_assert_uint_eq(loadgen_series_p99(one, 1), 7);
    ck_assert_uint_eq(loadgen_series_p99(NULL, 0), 0);
    uint32_t hundred[100];
    for (uint32_t i = 0; i < 100; i++)
        hundred[i] = i + 1;
    ck_assert_uint_eq(loadgen_series_p99(hundred, 100), 99);
}
END_TEST

START_TEST(test_loadgen_series_rows_per_second)
{
    char path[] = "/tmp/test_series_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct loadgen_series *s = loadgen_series_new(100000); /* over 100 ms */
    ck_assert_ptr_nonnull(s);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(loadgen_series_add(s, 0, 1, (uint64_t)(i + 1) * 20000), 0);
    ck_assert_int_eq(loadgen_series_add(s, 0, 0, 5000), 0);
    ck_assert_int_eq(loadgen_series_add(s, 2, 1, 1000), 0);
    ck_assert_int_eq(loadgen_series_set_offered(s, 2, 40), 0);
    ck_assert_int_eq(loadgen_series_add(s, 2, 0, 1000), 0); /* offered stays the schedule's */
    ck_assert_int_eq(loadgen_series_write(s, path, err, sizeof(err)), 0);
    loadgen_series_free(s);
    FILE *f = fopen(path, "r");
    char text[512] = "";
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(path);
    ck_assert_str_eq(text, "second,offered,completed,errors,p99_ms,over_slo\n"
                           "0,11,10,1,200.000,5\n"
                           "1,0,0,0,,0\n"
                           "2,40,1,1,1.000,0\n");
    s = loadgen_series_new(0);
    ck_assert_int_eq(loadgen_series_write(s, "/nonexistent/dir/x.csv", err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/dir/x.csv"));
    loadgen_series_free(s);
}
END_TEST

static Suite *loadgen_schedule_suite(void)
{
    Suite *s = suite_create("loadgen_schedule");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_loadgen_schedule_parses_the_issue_example);
    tcase_add_test(tc, test_loadgen_schedule_due_times_follow_the_steps);
    tcase_add_test(tc, test_loadgen_schedule_rejects_bad_steps_clearly);
    tcase_add_test(tc, test_loadgen_config_rate_steps_set_the_run);
    tcase_add_test(tc, test_loadgen_series_p99_is_nearest_rank);
    tcase_add_test(tc, test_loadgen_series_rows_per_second);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(loadgen_schedule_suite)
