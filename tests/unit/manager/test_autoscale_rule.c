/* Unit tests for manager/autoscale_rule.c: the decision rule sample by
 * sample (up at once, clamped by max step and MAX; down only when the whole
 * window wants fewer; tolerance; cooldown; idle to MIN; the overload
 * memory), the p99 of histogram buckets, the parsing of Prometheus text
 * and its deltas, and the option and PUT body parsers with their messages. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "../../../manager/autoscale_rule.h"
#include "../check_main.h"

static struct autoscale_settings p99_200ms(void)
{
    struct autoscale_settings s;
    autoscale_settings_default(&s);
    s.enabled = 1;
    s.min = 1;
    s.max = 8;
    s.metric = AUTOSCALE_METRIC_P99;
    s.target = 0.200;
    return s;
}

/* A decision with a full down window of recommendations rec[]. */
static int decide_full(const struct autoscale_settings *s, int current, int has, double measure,
                       const int *rec, size_t n, char *why, size_t whylen)
{
    struct autoscale_input in = {current, has, measure, rec, n, 1, -1, 0, 0, 0};
    return autoscale_decide(s, &in, why, whylen);
}

START_TEST(test_up_at_once_proportional)
{
    struct autoscale_settings s = p99_200ms();
    char why[200];
    /* 0.41 s against 0.2: ceil(2 * 2.05) = 5 */
    ck_assert_int_eq(decide_full(&s, 2, 1, 0.41, NULL, 0, why, sizeof(why)), 5);
    ck_assert_str_eq(why, "p99 0.410 s > target 0.200 s");
    /* Up does not wait for the down window. */
    struct autoscale_input in = {1, 1, 0.41, NULL, 0, 0, -1, 0, 0, 0};
    ck_assert_int_eq(autoscale_decide(&s, &in, why, sizeof(why)), 3);
}
END_TEST

START_TEST(test_up_clamped_by_step_and_max)
{
    struct autoscale_settings s = p99_200ms();
    char why[200];
    s.max_step = 2;
    ck_assert_int_eq(decide_full(&s, 1, 1, 5.0, NULL, 0, why, sizeof(why)), 3);
    s.max_step = 32;
    ck_assert_int_eq(decide_full(&s, 4, 1, 50.0, NULL, 0, why, sizeof(why)), 8);
    /* At MAX already: hold. */
    ck_assert_int_eq(decide_full(&s, 8, 1, 50.0, NULL, 0, why, sizeof(why)), 8);
}
END_TEST

START_TEST(test_tolerance_band_holds)
{
    struct autoscale_settings s = p99_200ms();
    char why[200];
    int rec[] = {4, 4, 4};
    ck_assert_int_eq(decide_full(&s, 4, 1, 0.219, rec, 3, why, sizeof(why)), 4);
    ck_assert_int_eq(decide_full(&s, 4, 1, 0.181, rec, 3, why, sizeof(why)), 4);
    ck_assert_int_eq(autoscale_recommend(&s, 4, 1, 0.219), 4);
    ck_assert_int_eq(autoscale_recommend(&s, 4, 1, 0.221), 5);
    ck_assert_int_eq(autoscale_recommend(&s, 4, 1, 0.179), 4); /* ceil(3.58) */
    ck_assert_int_eq(autoscale_recommend(&s, 4, 1, 0.149), 3);
}
END_TEST

START_TEST(test_down_takes_the_window_max)
{
    struct autoscale_settings s = p99_200ms();
    char why[200];
    /* Now 0.05 s at 4 (recommends 1), but the window once wanted 3. */
    int rec[] = {2, 3, 1, 1};
    ck_assert_int_eq(decide_full(&s, 4, 1, 0.05, rec, 4, why, sizeof(why)), 3);
    ck_assert_str_eq(why, "p99 0.050 s < target 0.200 s for the whole 60 s window");
    /* One sample that wanted 4 in the window: hold. */
    int rec4[] = {1, 4, 1};
    ck_assert_int_eq(decide_full(&s, 4, 1, 0.05, rec4, 3, why, sizeof(why)), 4);
    /* Not until the window is full. */
    struct autoscale_input in = {4, 1, 0.05, rec, 4, 0, -1, 0, 0, 0};
    ck_assert_int_eq(autoscale_decide(&s, &in, why, sizeof(why)), 4);
    ck_assert_str_eq(why, "hold: the down window is not full yet");
    /* At most max_step down. */
    s.max_step = 1;
    int low[] = {1, 1};
    ck_assert_int_eq(decide_full(&s, 8, 1, 0.01, low, 2, why, sizeof(why)), 7);
}
END_TEST

START_TEST(test_idle_goes_to_min_after_the_window)
{
    struct autoscale_settings s = p99_200ms();
    char why[200];
    s.min = 2;
    ck_assert_int_eq(autoscale_recommend(&s, 6, 0, 0), 2);
    int idle[] = {2, 2, 2};
    ck_assert_int_eq(decide_full(&s, 6, 0, 0, idle, 3, why, sizeof(why)), 2);
    ck_assert_str_eq(why, "idle: no request for the whole 60 s window");
    /* An idle gap inside a busy window does not shrink the pool. */
    int mixed[] = {6, 2, 2};
    ck_assert_int_eq(decide_full(&s, 6, 0, 0, mixed, 3, why, sizeof(why)), 6);
    ck_assert_str_eq(why, "hold: no request in the window");
    /* Nor does it grow it. */
    ck_assert_int_eq(decide_full(&s, 2, 0, 0, NULL, 0, why, sizeof(why)), 2);
}
END_TEST

START_TEST(test_cooldown_and_bounds)
{
    struct autoscale_settings s = p99_200ms();
    char why[200];
    struct autoscale_input in = {2, 1, 0.9, NULL, 0, 1, 1000, 0, 0, 0};
    ck_assert_int_eq(autoscale_decide(&s, &in, why, sizeof(why)), 2);
    ck_assert_str_eq(why, "cooldown: 1.0 s since the last change");
    in.since_change_ms = 3000;
    ck_assert_int_eq(autoscale_decide(&s, &in, why, sizeof(why)), 6);
    /* Bounds changed under a running pool: back inside at once. */
    s.max = 3;
    in.current = 5;
    ck_assert_int_eq(autoscale_decide(&s, &in, why, sizeof(why)), 3);
    ck_assert_str_eq(why, "5 replicas is outside 1..3");
}
END_TEST

START_TEST(test_overload_memory_stops_flapping)
{
    struct autoscale_settings s = p99_200ms();
    char why[200];
    /* 4 replicas at 300 req/s: p99 low, the window wants 1; but 150 req/s
     * per replica overloaded them before: 300 / (150 * 0.9) = 2.2 -> 3. */
    int rec[] = {1, 1, 1};
    struct autoscale_input in = {4, 1, 0.05, rec, 3, 1, -1, 300, 150, 0};
    ck_assert_int_eq(autoscale_decide(&s, &in, why, sizeof(why)), 3);
    /* At 3, the same rate: hold, and say why. */
    in.current = 3;
    ck_assert_int_eq(autoscale_decide(&s, &in, why, sizeof(why)), 3);
    ck_assert_ptr_nonnull(strstr(why, "overloaded 150 req/s per replica"));
    /* With the load gone the memory does not hold the pool. */
    in.rate = 0;
    ck_assert_int_eq(autoscale_decide(&s, &in, why, sizeof(why)), 1);
    /* A load above anything the window saw: its low recommendations were
     * made under less load, so no scale-down. */
    in.rate = 450;
    in.current = 6;
    in.overload_rate = 0;
    in.window_peak_rate = 200;
    ck_assert_int_eq(autoscale_decide(&s, &in, why, sizeof(why)), 6);
    ck_assert_ptr_nonnull(strstr(why, "the load rises (450 req/s, at most 200 in the window)"));
    in.window_peak_rate = 420;
    ck_assert_int_eq(autoscale_decide(&s, &in, why, sizeof(why)), 2);
    in.window_peak_rate = 0;
    /* CPU is proportional: no memory applies. */
    s.metric = AUTOSCALE_METRIC_CPU;
    s.target = 0.7;
    in.rate = 300;
    in.current = 4;
    in.measure = 0.1;
    ck_assert_int_eq(autoscale_decide(&s, &in, why, sizeof(why)), 1);
    ck_assert_str_eq(why, "cpu 10% < target 70% for the whole 60 s window");
}
END_TEST

/* A steady load whose measure wobbles inside the band, sample after
 * sample, never changes the pool. */
START_TEST(test_steady_wobble_never_changes)
{
    struct autoscale_settings s = p99_200ms();
    char why[200];
    int rec[120];
    size_t n = 0;
    for (int i = 0; i < 1000; i++) {
        double m = 0.2 * (1 + 0.09 * sin(i * 0.7));
        int r = autoscale_recommend(&s, 4, 1, m);
        struct autoscale_input in = {4, 1, m, rec, n, i >= 120, -1, 200, 50, 0};
        ck_assert_int_eq(autoscale_decide(&s, &in, why, sizeof(why)), 4);
        if (n < 120)
            rec[n++] = r;
        else {
            memmove(rec, rec + 1, sizeof(rec) - sizeof(rec[0]));
            rec[119] = r;
        }
    }
}
END_TEST

START_TEST(test_quantile_interpolates)
{
    double b[] = {0.1, 0.25, 0.5};
    uint64_t none[] = {0, 0, 0, 0};
    ck_assert(autoscale_quantile(b, none, 3, 0.99) < 0);
    /* 100 in [0, 0.1]: rank 99 -> 0.099 */
    uint64_t c1[] = {100, 100, 100, 100};
    ck_assert(fabs(autoscale_quantile(b, c1, 3, 0.99) - 0.099) < 1e-9);
    /* 90 under 0.1, 10 in (0.1, 0.25]: rank 99 is the 9th of 10 -> 0.235 */
    uint64_t c2[] = {90, 100, 100, 100};
    ck_assert(fabs(autoscale_quantile(b, c2, 3, 0.99) - 0.235) < 1e-9);
    /* Past the last bound: the highest finite bound. */
    uint64_t c3[] = {0, 0, 0, 10};
    ck_assert(fabs(autoscale_quantile(b, c3, 3, 0.99) - 0.5) < 1e-9);
}
END_TEST

static const char metrics_a[] =
    "# HELP balancer_backend_ttfb_seconds time to first byte\n"
    "# TYPE balancer_backend_ttfb_seconds histogram\n"
    "balancer_backend_ttfb_seconds_bucket{backend=\"pp1\",le=\"0.1\"} 10\n"
    "balancer_backend_ttfb_seconds_bucket{backend=\"pp1\",le=\"0.25\"} 12\n"
    "balancer_backend_ttfb_seconds_bucket{backend=\"pp1\",le=\"+Inf\"} 12\n"
    "balancer_backend_ttfb_seconds_sum{backend=\"pp1\"} 0.9\n"
    "balancer_backend_ttfb_seconds_count{backend=\"pp1\"} 12\n"
    "balancer_backend_connect_seconds_bucket{backend=\"pp1\",le=\"0.1\"} 99\n";
static const char metrics_b[] =
    "balancer_backend_ttfb_seconds_bucket{backend=\"pp1\",le=\"0.1\"} 15\n"
    "balancer_backend_ttfb_seconds_bucket{backend=\"pp1\",le=\"0.25\"} 20\n"
    "balancer_backend_ttfb_seconds_bucket{backend=\"pp1\",le=\"+Inf\"} 21\n"
    "balancer_backend_ttfb_seconds_bucket{backend=\"pp2\",le=\"0.1\"} 3\n"
    "balancer_backend_ttfb_seconds_bucket{backend=\"pp2\",le=\"0.25\"} 3\n"
    "balancer_backend_ttfb_seconds_bucket{backend=\"pp2\",le=\"+Inf\"} 3\n";

START_TEST(test_histograms_parse_and_delta)
{
    static struct autoscale_histograms a, b, r;
    char why[200];
    ck_assert_int_eq(autoscale_parse_histograms(metrics_a, "balancer_backend_ttfb_seconds", &a, why,
                                                sizeof(why)),
                     0);
    ck_assert_uint_eq(a.nbounds, 2);
    ck_assert_uint_eq(a.nseries, 1);
    ck_assert_str_eq(a.series[0].labels, "backend=\"pp1\"");
    ck_assert_uint_eq(a.series[0].cumulative[2], 12);
    ck_assert_int_eq(autoscale_parse_histograms(metrics_b, "balancer_backend_ttfb_seconds", &b, why,
                                                sizeof(why)),
                     0);
    uint64_t d[3];
    ck_assert_int_eq(autoscale_histograms_delta(&a, &b, d), 0);
    /* pp1: +5, +8, +9; pp2 is new: whole. */
    ck_assert_uint_eq(d[0], 8);
    ck_assert_uint_eq(d[1], 11);
    ck_assert_uint_eq(d[2], 12);
    /* A series whose counts fell was reset: it counts from zero. */
    ck_assert_int_eq(autoscale_histograms_delta(&b, &a, d), 0);
    ck_assert_uint_eq(d[2], 12);
    /* Bounds that differ from the first series' are refused. */
    ck_assert_int_eq(autoscale_parse_histograms("f_bucket{a=\"1\",le=\"0.1\"} 1\n"
                                                "f_bucket{a=\"1\",le=\"+Inf\"} 1\n"
                                                "f_bucket{a=\"2\",le=\"0.2\"} 1\n",
                                                "f", &r, why, sizeof(why)),
                     -1);
    ck_assert_ptr_nonnull(strstr(why, "le=0.2"));
    ck_assert_int_eq(
        autoscale_parse_histograms("f_bucket{le=\"0.1\"} many\n", "f", &r, why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "malformed line"));
}
END_TEST

START_TEST(test_parse_range_and_target)
{
    int lo, hi;
    enum autoscale_metric m;
    double v;
    char why[200];
    ck_assert_int_eq(autoscale_parse_range("1..8", &lo, &hi, why, sizeof(why)), 0);
    ck_assert_int_eq(lo, 1);
    ck_assert_int_eq(hi, 8);
    ck_assert_int_eq(autoscale_parse_range("8..2", &lo, &hi, why, sizeof(why)), -1);
    ck_assert_str_eq(why, "MIN 8 is above MAX 2 in '8..2'");
    ck_assert_int_eq(autoscale_parse_range("0..4", &lo, &hi, why, sizeof(why)), -1);
    ck_assert_int_eq(autoscale_parse_range("1..33", &lo, &hi, why, sizeof(why)), -1);
    ck_assert_int_eq(autoscale_parse_range("1-4", &lo, &hi, why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "MIN..MAX"));
    ck_assert_int_eq(autoscale_parse_target("p99=200ms", &m, &v, why, sizeof(why)), 0);
    ck_assert_int_eq(m, AUTOSCALE_METRIC_P99);
    ck_assert(fabs(v - 0.2) < 1e-12);
    ck_assert_int_eq(autoscale_parse_target("p99=0.5s", &m, &v, why, sizeof(why)), 0);
    ck_assert(fabs(v - 0.5) < 1e-12);
    ck_assert_int_eq(autoscale_parse_target("cpu=70%", &m, &v, why, sizeof(why)), 0);
    ck_assert_int_eq(m, AUTOSCALE_METRIC_CPU);
    ck_assert(fabs(v - 0.7) < 1e-12);
    ck_assert_int_eq(autoscale_parse_target("cpu=170%", &m, &v, why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "at most 100%"));
    ck_assert_int_eq(autoscale_parse_target("p99=0ms", &m, &v, why, sizeof(why)), -1);
    ck_assert_int_eq(autoscale_parse_target("p99=200 parsecs", &m, &v, why, sizeof(why)), -1);
    ck_assert_int_eq(autoscale_parse_target("rps=100", &m, &v, why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "p99=DURATION"));
}
END_TEST

static int put(const char *json, struct autoscale_settings *s, char *why, size_t whylen)
{
    cJSON *body = cJSON_Parse(json);
    ck_assert_ptr_nonnull(body);
    int rc = autoscale_settings_from_json(body, s, why, whylen);
    cJSON_Delete(body);
    return rc;
}

START_TEST(test_put_body)
{
    struct autoscale_settings s;
    autoscale_settings_default(&s);
    char why[300];
    /* On without a target: refused, naming it. */
    ck_assert_int_eq(put("{\"enabled\": true}", &s, why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "target is missing"));
    ck_assert_int_eq(s.enabled, 0);
    ck_assert_int_eq(put("{\"enabled\": true, \"min\": 2, \"max\": 6, \"target\": {\"metric\": "
                         "\"p99\", \"value\": 0.15, \"unit\": \"s\"}, \"down_window_s\": 8, "
                         "\"cooldown_s\": 1.5, \"tolerance\": 0.2, \"max_step\": 2}",
                         &s, why, sizeof(why)),
                     0);
    ck_assert_int_eq(s.enabled, 1);
    ck_assert_int_eq(s.min, 2);
    ck_assert_int_eq(s.max, 6);
    ck_assert(fabs(s.target - 0.15) < 1e-12);
    ck_assert_uint_eq(s.down_window_ms, 8000);
    ck_assert_uint_eq(s.cooldown_ms, 1500);
    ck_assert_int_eq(s.max_step, 2);
    struct autoscale_settings before = s;
    /* Each bad field is named, and nothing changes. */
    static const struct {
        const char *body, *says;
    } bad[] = {
        {"{\"min\": 0}", "min must be"},
        {"{\"max\": 40}", "max must be"},
        {"{\"min\": 7}", "min (7) must not be above max (6)"},
        {"{\"max\": 2.5}", "max must be a whole number"},
        {"{\"tolerance\": 1.5}", "tolerance must be"},
        {"{\"max_step\": 0}", "max_step must be"},
        {"{\"up_window_s\": \"2\"}", "up_window_s must be"},
        {"{\"down_window_s\": 0.1}", "down_window_s must be at least up_window_s"},
        {"{\"target\": \"cpu=0%\"}", "target the cpu target must be above 0%"},
        {"{\"target\": {\"metric\": \"p99\", \"value\": 0.2, \"unit\": \"ratio\"}}",
         "target.unit must be \"s\""},
        {"{\"target\": {\"metric\": \"rps\", \"value\": 3}}", "target.metric must be"},
        {"{\"enabled\": 1}", "enabled must be true or false"},
        {"{\"measure\": 3}", "measure is measured, not set"},
        {"{\"replicas\": 3}", "unknown field \"replicas\""},
        {"[1]", "must be a JSON object"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(put(bad[i].body, &s, why, sizeof(why)), -1);
        ck_assert_msg(strstr(why, bad[i].says) != NULL, "%s: got '%s'", bad[i].body, why);
        ck_assert_int_eq(memcmp(&s, &before, sizeof(s)), 0);
    }
    ck_assert_int_eq(put("{\"enabled\": false}", &s, why, sizeof(why)), 0);
    ck_assert_int_eq(s.enabled, 0);
    ck_assert_int_eq(s.max, 6);
}
END_TEST

static Suite *autoscale_rule_suite(void)
{
    Suite *s = suite_create("autoscale_rule");
    TCase *tc = tcase_create("rule");
    tcase_add_test(tc, test_up_at_once_proportional);
    tcase_add_test(tc, test_up_clamped_by_step_and_max);
    tcase_add_test(tc, test_tolerance_band_holds);
    tcase_add_test(tc, test_down_takes_the_window_max);
    tcase_add_test(tc, test_idle_goes_to_min_after_the_window);
    tcase_add_test(tc, test_cooldown_and_bounds);
    tcase_add_test(tc, test_overload_memory_stops_flapping);
    tcase_add_test(tc, test_steady_wobble_never_changes);
    suite_add_tcase(s, tc);
    TCase *th = tcase_create("histograms");
    tcase_add_test(th, test_quantile_interpolates);
    tcase_add_test(th, test_histograms_parse_and_delta);
    suite_add_tcase(s, th);
    TCase *tp = tcase_create("parsing");
    tcase_add_test(tp, test_parse_range_and_target);
    tcase_add_test(tp, test_put_body);
    suite_add_tcase(s, tp);
    return s;
}

PP_CHECK_MAIN(autoscale_rule_suite)
