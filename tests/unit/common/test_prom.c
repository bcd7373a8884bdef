/* Unit tests for common/prom.c: the exact text a scrape gets — HELP and TYPE
 * once per family, escaping, number formatting, histogram buckets — and the
 * errors that would make Prometheus reject a scrape. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "../check_main.h"
#include "histogram.h"
#include "prom.h"

static struct evbuffer *out;
static struct prom p;
static char err[256];

static void setup(void)
{
    out = evbuffer_new();
    ck_assert_ptr_nonnull(out);
    prom_init(&p, out);
}

static void teardown(void)
{
    evbuffer_free(out);
}

/* The buffer as a NUL-terminated string (owned by the buffer). */
static const char *text(void)
{
    evbuffer_add(out, "", 1);
    const char *s = (const char *)evbuffer_pullup(out, -1);
    return s;
}

static int count_occurrences(const char *haystack, const char *needle)
{
    int n = 0;
    for (const char *s = strstr(haystack, needle); s != NULL; s = strstr(s + 1, needle))
        n++;
    return n;
}

START_TEST(test_prom_writes_counter_with_help_and_type)
{
    ck_assert_int_eq(prom_counter(&p, "proxyd_requests_total", "Requests received.", NULL, 0, 42),
                     0);
    ck_assert_int_eq(prom_finish(&p, err, sizeof(err)), 0);
    ck_assert_str_eq(text(), "# HELP proxyd_requests_total Requests received.\n"
                             "# TYPE proxyd_requests_total counter\n"
                             "proxyd_requests_total 42\n");
}
END_TEST

START_TEST(test_prom_writes_gauge)
{
    ck_assert_int_eq(prom_gauge(&p, "proxyd_connections_open", "Open.", NULL, 0, 7), 0);
    ck_assert_str_eq(text(), "# HELP proxyd_connections_open Open.\n"
                             "# TYPE proxyd_connections_open gauge\n"
                             "proxyd_connections_open 7\n");
}
END_TEST

START_TEST(test_prom_writes_help_and_type_once_per_family)
{
    struct prom_label l200[] = {{"code", "200"}}, l404[] = {{"code", "404"}};
    prom_counter(&p, "http_responses_total", "Responses by status.", l200, 1, 10);
    prom_counter(&p, "http_responses_total", "Responses by status.", l404, 1, 2);
    prom_gauge(&p, "up", "Up.", NULL, 0, 1);
    ck_assert_int_eq(prom_finish(&p, err, sizeof(err)), 0);
    ck_assert_str_eq(text(), "# HELP http_responses_total Responses by status.\n"
                             "# TYPE http_responses_total counter\n"
                             "http_responses_total{code=\"200\"} 10\n"
                             "http_responses_total{code=\"404\"} 2\n"
                             "# HELP up Up.\n"
                             "# TYPE up gauge\n"
                             "up 1\n");
}
END_TEST

START_TEST(test_prom_family_then_samples)
{
    struct prom_label a[] = {{"instance", "p1"}, {"mode", "nat"}};
    ck_assert_int_eq(prom_family(&p, "pool_instances", PROM_GAUGE, NULL), 0);
    ck_assert_int_eq(prom_sample(&p, "pool_instances", a, 2, 3), 0);
    ck_assert_str_eq(text(), "# TYPE pool_instances gauge\n"
                             "pool_instances{instance=\"p1\",mode=\"nat\"} 3\n");
}
END_TEST

START_TEST(test_prom_escapes_label_values)
{
    struct prom_label l[] = {{"path", "a\\b\"c\nd"}};
    prom_counter(&p, "x_total", NULL, l, 1, 1);
    ck_assert_str_eq(text(), "# TYPE x_total counter\n"
                             "x_total{path=\"a\\\\b\\\"c\\nd\"} 1\n");
}
END_TEST

START_TEST(test_prom_escapes_help_backslash_and_newline_only)
{
    prom_counter(&p, "x_total", "say \"hi\"\\now\nthen", NULL, 0, 1);
    ck_assert_str_eq(text(), "# HELP x_total say \"hi\"\\\\now\\nthen\n"
                             "# TYPE x_total counter\n"
                             "x_total 1\n");
}
END_TEST

START_TEST(test_prom_formats_numbers_to_parse_back_exactly)
{
    const double values[] = {0.1, 1.0 / 3, 1e-7, 123456.789, 2.5e300, -0.25};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        prom_sample(&p, "v", NULL, 0, values[i]);
    const char *s = text();
    const char *line = s;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        ck_assert_msg(strncmp(line, "v ", 2) == 0, "line %zu: %s", i, line);
        char *end;
        double back = strtod(line + 2, &end);
        ck_assert_msg(back == values[i], "%.17g printed as %.*s", values[i], (int)(end - line - 2),
                      line + 2);
        ck_assert_int_eq(*end, '\n');
        line = end + 1;
    }
    ck_assert_ptr_nonnull(strstr(s, "v 0.1\n"));
}
END_TEST

START_TEST(test_prom_prints_integers_without_exponent)
{
    prom_sample(&p, "big", NULL, 0, 1e15);
    prom_sample(&p, "zero", NULL, 0, 0);
    prom_sample(&p, "neg", NULL, 0, -3);
    ck_assert_str_eq(text(), "big 1000000000000000\nzero 0\nneg -3\n");
}
END_TEST

START_TEST(test_prom_formats_special_values)
{
    prom_sample(&p, "a", NULL, 0, NAN);
    prom_sample(&p, "b", NULL, 0, INFINITY);
    prom_sample(&p, "c", NULL, 0, -INFINITY);
    ck_assert_str_eq(text(), "a NaN\nb +Inf\nc -Inf\n");
}
END_TEST

START_TEST(test_prom_histogram_writes_cumulative_buckets)
{
    struct histogram *h = histogram_new();
    histogram_record(h, 500);     /* 0.0005 s */
    histogram_record(h, 2000);    /* 0.002 s */
    histogram_record(h, 2000);    /* 0.002 s */
    histogram_record(h, 3000000); /* 3 s */
    const double bounds[] = {0.001, 0.005, 1};
    ck_assert_int_eq(
        prom_histogram(&p, "request_duration_seconds", "Request time.", NULL, 0, h, bounds, 3), 0);
    ck_assert_int_eq(prom_finish(&p, err, sizeof(err)), 0);
    ck_assert_str_eq(text(), "# HELP request_duration_seconds Request time.\n"
                             "# TYPE request_duration_seconds histogram\n"
                             "request_duration_seconds_bucket{le=\"0.001\"} 1\n"
                             "request_duration_seconds_bucket{le=\"0.005\"} 3\n"
                             "request_duration_seconds_bucket{le=\"1\"} 3\n"
                             "request_duration_seconds_bucket{le=\"+Inf\"} 4\n"
                             "request_duration_seconds_sum 3.0045\n"
                             "request_duration_seconds_count 4\n");
    histogram_free(h);
}
END_TEST

START_TEST(test_prom_histogram_with_labels_puts_le_last)
{
    struct histogram *h = histogram_new();
    histogram_record(h, 100);
    struct prom_label p1[] = {{"backend", "p1"}}, p2[] = {{"backend", "p2"}};
    const double bounds[] = {0.001};
    prom_histogram(&p, "lat_seconds", "L.", p1, 1, h, bounds, 1);
    prom_histogram(&p, "lat_seconds", "L.", p2, 1, h, bounds, 1);
    ck_assert_int_eq(prom_finish(&p, err, sizeof(err)), 0);
    const char *s = text();
    ck_assert_ptr_nonnull(strstr(s, "lat_seconds_bucket{backend=\"p1\",le=\"0.001\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(s, "lat_seconds_bucket{backend=\"p2\",le=\"+Inf\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(s, "lat_seconds_sum{backend=\"p2\"} 0.0001\n"));
    ck_assert_ptr_nonnull(strstr(s, "lat_seconds_count{backend=\"p1\"} 1\n"));
    ck_assert_int_eq(count_occurrences(s, "# TYPE lat_seconds histogram\n"), 1);
    histogram_free(h);
}
END_TEST

START_TEST(test_prom_histogram_empty_has_zero_buckets)
{
    struct histogram *h = histogram_new();
    prom_histogram(&p, "d_seconds", NULL, NULL, 0, h, prom_latency_bounds_s, prom_latency_nbounds);
    const char *s = text();
    ck_assert_int_eq(count_occurrences(s, "d_seconds_bucket{"), (int)prom_latency_nbounds + 1);
    ck_assert_int_eq(count_occurrences(s, "} 0\n"), (int)prom_latency_nbounds + 1);
    ck_assert_ptr_nonnull(strstr(s, "d_seconds_bucket{le=\"0.0001\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(s, "d_seconds_bucket{le=\"60\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(s, "d_seconds_sum 0\nd_seconds_count 0\n"));
    histogram_free(h);
}
END_TEST

START_TEST(test_prom_histogram_rejects_le_label_and_unsorted_bounds)
{
    struct histogram *h = histogram_new();
    struct prom_label le[] = {{"le", "1"}};
    const double ok[] = {1}, unsorted[] = {1, 0.5}, negative[] = {-1};
    ck_assert_int_eq(prom_histogram(&p, "a_seconds", NULL, le, 1, h, ok, 1), -1);
    ck_assert_int_eq(prom_histogram(&p, "b_seconds", NULL, NULL, 0, h, unsorted, 2), -1);
    ck_assert_int_eq(prom_histogram(&p, "c_seconds", NULL, NULL, 0, h, negative, 1), -1);
    ck_assert_uint_eq(evbuffer_get_length(out), 0);
    ck_assert_int_eq(prom_finish(&p, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "\"le\" is reserved"));
    histogram_free(h);
}
END_TEST

START_TEST(test_prom_rejects_invalid_metric_name)
{
    ck_assert_int_eq(prom_counter(&p, "2xx_total", NULL, NULL, 0, 1), -1);
    ck_assert_int_eq(prom_counter(&p, "bad-name", NULL, NULL, 0, 1), -1);
    ck_assert_int_eq(prom_sample(&p, "", NULL, 0, 1), -1);
    ck_assert_int_eq(prom_sample(&p, NULL, NULL, 0, 1), -1);
    ck_assert_uint_eq(evbuffer_get_length(out), 0);
    ck_assert_int_eq(prom_sample(&p, "ns:sub_total", NULL, 0, 1), 0); /* colons are fine */
    ck_assert_int_eq(prom_finish(&p, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "2xx_total"));
}
END_TEST

START_TEST(test_prom_rejects_reserved_and_invalid_label_names)
{
    struct prom_label reserved[] = {{"__name__", "x"}}, colon[] = {{"a:b", "x"}},
                      novalue[] = {{"a", NULL}};
    ck_assert_int_eq(prom_sample(&p, "m", reserved, 1, 1), -1);
    ck_assert_int_eq(prom_sample(&p, "m", colon, 1, 1), -1);
    ck_assert_int_eq(prom_sample(&p, "m", novalue, 1, 1), -1);
    ck_assert_uint_eq(evbuffer_get_length(out), 0);
}
END_TEST

START_TEST(test_prom_detects_family_written_twice)
{
    prom_counter(&p, "a_total", NULL, NULL, 0, 1);
    prom_counter(&p, "b_total", NULL, NULL, 0, 1);
    ck_assert_int_eq(prom_counter(&p, "a_total", NULL, NULL, 0, 2), -1);
    ck_assert_int_eq(prom_finish(&p, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "a_total"));
    ck_assert_int_eq(count_occurrences(text(), "# TYPE a_total"), 1);
}
END_TEST

START_TEST(test_prom_finish_reports_first_error)
{
    prom_sample(&p, "1bad", NULL, 0, 1);
    prom_sample(&p, "2bad", NULL, 0, 1);
    ck_assert_int_eq(prom_finish(&p, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "1bad"));
    ck_assert_ptr_null(strstr(err, "2bad"));
}
END_TEST

static Suite *prom_suite(void)
{
    Suite *s = suite_create("prom");
    TCase *tc = tcase_create("samples");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_prom_writes_counter_with_help_and_type);
    tcase_add_test(tc, test_prom_writes_gauge);
    tcase_add_test(tc, test_prom_writes_help_and_type_once_per_family);
    tcase_add_test(tc, test_prom_family_then_samples);
    tcase_add_test(tc, test_prom_escapes_label_values);
    tcase_add_test(tc, test_prom_escapes_help_backslash_and_newline_only);
    tcase_add_test(tc, test_prom_formats_numbers_to_parse_back_exactly);
    tcase_add_test(tc, test_prom_prints_integers_without_exponent);
    tcase_add_test(tc, test_prom_formats_special_values);
    suite_add_tcase(s, tc);

    tc = tcase_create("histogram");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_prom_histogram_writes_cumulative_buckets);
    tcase_add_test(tc, test_prom_histogram_with_labels_puts_le_last);
    tcase_add_test(tc, test_prom_histogram_empty_has_zero_buckets);
    tcase_add_test(tc, test_prom_histogram_rejects_le_label_and_unsorted_bounds);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_prom_rejects_invalid_metric_name);
    tcase_add_test(tc, test_prom_rejects_reserved_and_invalid_label_names);
    tcase_add_test(tc, test_prom_detects_family_written_twice);
    tcase_add_test(tc, test_prom_finish_reports_first_error);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(prom_suite)
