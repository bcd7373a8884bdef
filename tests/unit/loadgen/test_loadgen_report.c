/* Unit tests for loadgen/report.c: the JSON summary has the shape
 * and values computed from the tallies (rates over the measured time,
 * latency in ms, per proxy and per client); the human summary says what
 * matters, the saturation warning included. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "../check_main.h"
#include "../../../loadgen/config.h"
#include "../../../loadgen/report.h"
#include "../../../loadgen/tally.h"

static struct loadgen_config cfg;
static struct loadgen_tallies *ts;

static void setup(void)
{
    char err[256];
    char *argv[] = {"loadgen",
                    "--proxy",
                    "127.0.0.1:3128",
                    "--label",
                    "fig4",
                    "-n",
                    "4",
                    "-c",
                    "2",
                    "--source",
                    "127.0.0.2",
                    "--source",
                    "127.0.0.3",
                    "http://198.19.1.2/obj1m",
                    NULL};
    ck_assert_int_eq(loadgen_config_load(&cfg, 14, argv, err, sizeof(err)), 0);
    ts = loadgen_tallies_new(2);
    snprintf(ts->client_sources[0], sizeof(ts->client_sources[0]), "127.0.0.2");
    snprintf(ts->client_sources[1], sizeof(ts->client_sources[1]), "127.0.0.3");
    /* Client 1: two hits from p1 (100 and 300 ms); client 2: a miss from p2
     * (200 ms) and a reset. Plus one warm-up request. */
    const struct {
        uint32_t client;
        uint64_t total_us;
        const char *proxy, *cache;
        enum loadgen_error error;
        int warmup;
    } rows[] = {
        {1, 100000, "p1", "HIT", LOADGEN_ERR_NONE, 0},
        {1, 300000, "p1", "HIT", LOADGEN_ERR_NONE, 0},
        {2, 200000, "p2", "MISS", LOADGEN_ERR_NONE, 0},
        {2, 5000, "", "", LOADGEN_ERR_RESET, 0},
        {1, 900000, "p1", "MISS", LOADGEN_ERR_NONE, 1},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int ok = rows[i].error == LOADGEN_ERR_NONE;
        struct loadgen_result r = {
            .client = rows[i].client,
            .status = ok ? 200 : 0,
            .error = rows[i].error,
            .ttfb_us = ok ? rows[i].total_us / 10 : 0,
            .total_us = rows[i].total_us,
            .bytes_in = ok ? 1000000 : 0,
            .body_bytes = ok ? 999700 : 0,
            .proxy = rows[i].proxy,
            .cache = rows[i].cache,
            .warmup = rows[i].warmup,
            .complete = ok,
        };
        loadgen_tallies_add(ts, &r);
    }
    ts->measured_s = 2.0;
    ts->elapsed_s = 3.0;
    ts->connections = 4;
    ts->cpu_pct = 12.34;
    ts->lag_p99_us = 1500;
    ts->lag_max_us = 4000;
}

static void teardown(void)
{
    loadgen_tallies_free(ts);
    loadgen_config_free(&cfg);
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsNumber(v), "%s is not a number", key);
    return v->valuedouble;
}

START_TEST(test_loadgen_report_json_shape_and_values)
{
    char *text = loadgen_report_json(&cfg, ts);
    ck_assert_ptr_nonnull(text);
    cJSON *root = cJSON_Parse(text);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(cJSON_GetObjectItem(root, "label")->valuestring, "fig4");
    ck_assert_str_eq(cJSON_GetObjectItem(root, "url")->valuestring, "http://198.19.1.2/obj1m");
    ck_assert_str_eq(cJSON_GetObjectItem(root, "proxy")->valuestring, "127.0.0.1:3128");
    ck_assert_str_eq(cJSON_GetObjectItem(root, "mode")->valuestring, "closed");
    ck_assert(num(root, "clients") == 2);
    ck_assert(num(root, "requests") == 4);
    ck_assert(num(root, "ok") == 3);
    ck_assert(num(root, "warmup_requests") == 1);
    const cJSON *errors = cJSON_GetObjectItem(root, "errors");
    ck_assert(num(errors, "reset") == 1);
    ck_assert(num(errors, "connect") == 0);
    ck_assert(num(errors, "short_body") == 0);
    ck_assert(num(errors, "total") == 1);
    ck_assert(num(root, "rps") == 1.5);  /* 3 responses in 2 s */
    ck_assert(num(root, "mbps") == 1.5); /* 3 MB in 2 s */
    const cJSON *lat = cJSON_GetObjectItem(root, "latency_ms");
    ck_assert(fabs(num(lat, "mean") - 200.0) < 1e-9);
    ck_assert(fabs(num(lat, "p50") - 200.0) <= 2.0);
    ck_assert(fabs(num(lat, "max") - 300.0) < 1e-9);
    ck_assert(fabs(num(cJSON_GetObjectItem(root, "ttfb_ms"), "max") - 30.0) < 1e-9);
    const cJSON *p1 = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "per_proxy"), "p1");
    ck_assert_ptr_nonnull(p1);
    ck_assert(num(p1, "requests") == 2);
    ck_assert(num(p1, "hits") == 2);
    ck_assert(fabs(num(cJSON_GetObjectItem(p1, "latency_ms"), "max") - 300.0) < 1e-9);
    const cJSON *p2 = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "per_proxy"), "p2");
    ck_assert(num(p2, "misses") == 1);
    const cJSON *clients = cJSON_GetObjectItem(root, "per_client");
    ck_assert_int_eq(cJSON_GetArraySize(clients), 2);
    const cJSON *c2 = cJSON_GetArrayItem(clients, 1);
    ck_assert(num(c2, "client") == 2);
    ck_assert_str_eq(cJSON_GetObjectItem(c2, "source")->valuestring, "127.0.0.3");
    ck_assert(num(c2, "requests") == 2);
    ck_assert(num(cJSON_GetObjectItem(c2, "errors"), "reset") == 1);
    ck_assert(num(root, "loadgen_cpu_pct") == 12.3);
    ck_assert(num(cJSON_GetObjectItem(root, "loop_lag_ms"), "p99") == 1.5);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(root, "saturated")));
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(root, "interrupted")));
    cJSON_Delete(root);
    cJSON_free(text);
}
END_TEST

static char *text_summary(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    loadgen_report_text(f, &cfg, ts);
    fclose(f);
    return buf;
}

START_TEST(test_loadgen_report_text_summary)
{
    char *s = text_summary();
    ck_assert_ptr_nonnull(strstr(s, "loadgen fig4: http://198.19.1.2/obj1m via 127.0.0.1:3128"));
    ck_assert_ptr_nonnull(strstr(s, "requests    4, ok 3, errors 1: reset 1"));
    ck_assert_ptr_nonnull(strstr(s, "1 requests, not counted"));
    ck_assert_ptr_nonnull(strstr(s, "throughput  1.5 req/s, 1.50 MB/s"));
    ck_assert_ptr_nonnull(strstr(s, "proxy p1"));
    ck_assert_ptr_nonnull(strstr(s, "client 2"));
    ck_assert_ptr_null(strstr(s, "WARNING"));
    free(s);
}
END_TEST

START_TEST(test_loadgen_report_flags_saturation_and_interruption)
{
    ts->saturated = 1;
    ts->interrupted = 1;
    char *s = text_summary();
    ck_assert_ptr_nonnull(strstr(s, "WARNING: loadgen was saturated"));
    ck_assert_ptr_nonnull(strstr(s, "INTERRUPTED"));
    free(s);
    char *text = loadgen_report_json(&cfg, ts);
    cJSON *root = cJSON_Parse(text);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(root, "saturated")));
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(root, "interrupted")));
    cJSON_Delete(root);
    cJSON_free(text);
}
END_TEST

START_TEST(test_loadgen_report_empty_run_has_zero_rates)
{
    loadgen_tallies_free(ts);
    ts = loadgen_tallies_new(1);
    char *text = loadgen_report_json(&cfg, ts);
    cJSON *root = cJSON_Parse(text);
    ck_assert(num(root, "rps") == 0);
    ck_assert(num(cJSON_GetObjectItem(root, "latency_ms"), "p99") == 0);
    cJSON_Delete(root);
    cJSON_free(text);
}
END_TEST

static Suite *loadgen_report_suite(void)
{
    Suite *s = suite_create("loadgen_report");
    TCase *tc = tcase_create("report");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_loadgen_report_json_shape_and_values);
    tcase_add_test(tc, test_loadgen_report_text_summary);
    tcase_add_test(tc, test_loadgen_report_flags_saturation_and_interruption);
    tcase_add_test(tc, test_loadgen_report_empty_run_has_zero_rates);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(loadgen_report_suite)
