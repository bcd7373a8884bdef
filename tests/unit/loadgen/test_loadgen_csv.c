/* Unit tests for loadgen/csv.c: the header the issue names, rows exactly as
 * written (failed, warm-up and open-loop rows too), and the file written
 * whole. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check_main.h"
#include "../../../loadgen/csv.h"

START_TEST(test_loadgen_csv_header_has_the_issue_columns)
{
    ck_assert_str_eq(LOADGEN_CSV_HEADER,
                     "ts_start_us,client,conn,req,status,ok,error,connect_us,ttfb_us,total_us,"
                     "bytes_in,proxy,cache,intended_us,warmup\n");
}
END_TEST

START_TEST(test_loadgen_csv_row_of_a_hit)
{
    struct loadgen_result r = {
        .ts_start_us = 1795620094486123,
        .client = 3,
        .conn = 17,
        .req = 42,
        .status = 200,
        .connect_us = 0,
        .ttfb_us = 812,
        .total_us = 251234,
        .bytes_in = 1048913,
        .proxy = "edge1",
        .cache = "HIT",
        .complete = 1,
    };
    char row[LOADGEN_CSV_ROW_MAX + 1];
    size_t n = loadgen_csv_format_row(row, sizeof(row) - 1, &r);
    row[n] = '\0';
    ck_assert_str_eq(row, "1795620094486123,3,17,42,200,1,,0,812,251234,1048913,edge1,HIT,,0\n");
}
END_TEST

START_TEST(test_loadgen_csv_row_of_a_failure_in_open_loop_warmup)
{
    struct loadgen_result r = {
        .ts_start_us = 1000,
        .intended_us = 990,
        .client = 1,
        .error = LOADGEN_ERR_CONNECT,
        .total_us = 55,
        .proxy = "",
        .cache = "",
        .warmup = 1,
    };
    char row[LOADGEN_CSV_ROW_MAX + 1];
    size_t n = loadgen_csv_format_row(row, sizeof(row) - 1, &r);
    row[n] = '\0';
    ck_assert_str_eq(row, "1000,1,0,0,0,0,connect,0,0,55,0,,,990,1\n");
}
END_TEST

START_TEST(test_loadgen_csv_status_error_is_not_ok)
{
    struct loadgen_result r = {.status = 503, .error = LOADGEN_ERR_STATUS, .complete = 1};
    char row[LOADGEN_CSV_ROW_MAX + 1];
    size_t n = loadgen_csv_format_row(row, sizeof(row) - 1, &r);
    row[n] = '\0';
    ck_assert_str_eq(row, "0,0,0,0,503,0,status,0,0,0,0,,,,0\n");
}
END_TEST

START_TEST(test_loadgen_csv_file_has_header_and_every_row)
{
    char path[] = "/tmp/test_loadgen_csv.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    char err[256];
    struct loadgen_csv *csv = loadgen_csv_open(path, err, sizeof(err));
    ck_assert_ptr_nonnull(csv);
    for (uint64_t i = 0; i < 5000; i++) {
        struct loadgen_result r = {
            .req = i, .status = 200, .complete = 1, .proxy = "", .cache = ""};
        loadgen_csv_write(csv, &r);
    }
    ck_assert_int_eq(loadgen_csv_close(csv, err, sizeof(err)), 0);
    FILE *f = fopen(path, "r");
    char line[512];
    int lines = 0;
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    ck_assert_str_eq(line, LOADGEN_CSV_HEADER);
    while (fgets(line, sizeof(line), f))
        lines++;
    fclose(f);
    unlink(path);
    ck_assert_int_eq(lines, 5000);
}
END_TEST

START_TEST(test_loadgen_csv_unwritable_path_says_so)
{
    char err[256] = "";
    ck_assert_ptr_null(loadgen_csv_open("/nonexistent-dir/x.csv", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent-dir/x.csv"));
    ck_assert_int_eq(loadgen_csv_close(NULL, err, sizeof(err)), 0);
}
END_TEST

static Suite *loadgen_csv_suite(void)
{
    Suite *s = suite_create("loadgen_csv");
    TCase *tc = tcase_create("csv");
    tcase_add_test(tc, test_loadgen_csv_header_has_the_issue_columns);
    tcase_add_test(tc, test_loadgen_csv_row_of_a_hit);
    tcase_add_test(tc, test_loadgen_csv_row_of_a_failure_in_open_loop_warmup);
    tcase_add_test(tc, test_loadgen_csv_status_error_is_not_ok);
    tcase_add_test(tc, test_loadgen_csv_file_has_header_and_every_row);
    tcase_add_test(tc, test_loadgen_csv_unwritable_path_says_so);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(loadgen_csv_suite)
