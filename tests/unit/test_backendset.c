/* Unit tests for manager/backendset.c: the backend set the manager PUTs to
 * the balancer (names, addresses, health addresses, weight), and reading the
 * balancer's GET /v1/backends document back (numbers, nulls, removed
 * backends, malformed documents refused, a long list cut at max). */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "../../manager/forward/backendset.h"
#include "check_main.h"

static struct fwd_target target(int id, const char *addr, int port, const char *admin,
                                int admin_port)
{
    struct fwd_target t;
    memset(&t, 0, sizeof(t));
    t.instance_id = id;
    snprintf(t.name, sizeof(t.name), "pp%d", id);
    ck_assert_int_eq(inet_pton(AF_INET, addr, &t.addr), 1);
    t.port = (uint16_t)port;
    if (admin) {
        ck_assert_int_eq(inet_pton(AF_INET, admin, &t.admin_addr), 1);
        t.admin_port = (uint16_t)admin_port;
    }
    return t;
}

START_TEST(test_backendset_json_names_every_instance_with_its_health_address)
{
    struct fwd_target t[2] = {target(1, "198.18.0.1", 3129, "198.18.0.1", 3229),
                              target(2, "198.19.0.3", 3128, NULL, 0)};
    char err[128];
    char *text = backendset_json(t, 2, err, sizeof(err));
    ck_assert_ptr_nonnull(text);
    cJSON *doc = cJSON_Parse(text);
    ck_assert_ptr_nonnull(doc);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "backends");
    ck_assert_int_eq(cJSON_GetArraySize(arr), 2);
    const cJSON *b0 = cJSON_GetArrayItem(arr, 0), *b1 = cJSON_GetArrayItem(arr, 1);
    ck_assert_str_eq(cJSON_GetObjectItem(b0, "name")->valuestring, "pp1");
    ck_assert_str_eq(cJSON_GetObjectItem(b0, "address")->valuestring, "198.18.0.1:3129");
    ck_assert_str_eq(cJSON_GetObjectItem(b0, "health")->valuestring, "198.18.0.1:3229");
    ck_assert_int_eq(cJSON_GetObjectItem(b0, "weight")->valueint, 1);
    ck_assert_str_eq(cJSON_GetObjectItem(b1, "address")->valuestring, "198.19.0.3:3128");
    ck_assert_ptr_null(cJSON_GetObjectItem(b1, "health")); /* no admin: a TCP check */
    cJSON_Delete(doc);
    free(text);
}
END_TEST

START_TEST(test_backendset_json_of_no_instance_is_an_empty_set)
{
    char err[128];
    char *text = backendset_json(NULL, 0, err, sizeof(err));
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, "{\"backends\":[]}");
    free(text);
}
END_TEST

START_TEST(test_backendset_json_refuses_a_target_without_address)
{
    struct fwd_target t = target(3, "198.18.0.1", 3131, NULL, 0);
    t.port = 0;
    char err[128] = "";
    ck_assert_ptr_null(backendset_json(&t, 1, err, sizeof(err)));
    ck_assert_msg(strstr(err, "instance 3") != NULL, "%s", err);
}
END_TEST

static const char *doc_two =
    "{\"algo\": \"p2c-ewma\", \"connections\": {\"active\": 1},"
    " \"backends\": ["
    "  {\"name\": \"pp1\", \"address\": \"198.18.0.1:3129\", \"state\": \"up\","
    "   \"removed\": false, \"active\": 1, \"total\": 40, \"ewma_ms\": 1.25,"
    "   \"p50_ms\": 0.9, \"p90_ms\": 2.5, \"p99_ms\": 7, \"last_check\": \"passed: 200\","
    "   \"transitions\": []},"
    "  {\"name\": \"pp2\", \"address\": \"198.18.0.1:3130\", \"state\": \"draining\","
    "   \"removed\": true, \"active\": 3, \"total\": 0, \"ewma_ms\": 30,"
    "   \"p50_ms\": null, \"p90_ms\": null, \"p99_ms\": null, \"last_check\": \"not checked yet\"}"
    "]}";

START_TEST(test_backendset_parse_reads_state_counts_and_latency)
{
    struct fwd_observation obs[4];
    size_t n = 99;
    char err[128];
    ck_assert_int_eq(backendset_parse(doc_two, obs, 4, &n, err, sizeof(err)), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(obs[0].name, "pp1");
    ck_assert_str_eq(obs[0].state, "up");
    ck_assert_int_eq(obs[0].removed, 0);
    ck_assert_uint_eq(obs[0].active, 1);
    ck_assert_uint_eq(obs[0].total, 40);
    ck_assert_double_eq_tol(obs[0].ewma_ms, 1.25, 1e-9);
    ck_assert_double_eq_tol(obs[0].p99_ms, 7, 1e-9);
    ck_assert_str_eq(obs[0].last_check, "passed: 200");
    ck_assert_str_eq(obs[1].state, "draining");
    ck_assert_int_eq(obs[1].removed, 1);
    ck_assert_uint_eq(obs[1].active, 3);
    ck_assert_double_eq(obs[1].p50_ms, FWD_UNMEASURED);
    ck_assert_double_eq(obs[1].p99_ms, FWD_UNMEASURED);
}
END_TEST

START_TEST(test_backendset_parse_keeps_the_first_max)
{
    struct fwd_observation obs[1];
    size_t n = 0;
    char err[128];
    ck_assert_int_eq(backendset_parse(doc_two, obs, 1, &n, err, sizeof(err)), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(obs[0].name, "pp1");
}
END_TEST

START_TEST(test_backendset_parse_refuses_malformed_documents)
{
    static const char *bad[] = {
        "",
        "not json",
        "[]",
        "{\"backends\": {}}",
        "{\"backends\": [1]}",
        "{\"backends\": [{\"state\": \"up\", \"active\": 0, \"total\": 0}]}",
        "{\"backends\": [{\"name\": \"a\", \"state\": \"up\", \"active\": -1, \"total\": 0}]}",
        "{\"backends\": [{\"name\": \"a\", \"state\": \"up\", \"active\": 0, \"total\": \"9\"}]}",
        "{\"backends\": [{\"name\": \"a\", \"state\": \"up\", \"active\": 0, \"total\": 0,"
        " \"p50_ms\": \"fast\"}]}",
        "{\"backends\": [{\"name\": \"a\", \"state\": \"up\", \"active\": 0, \"total\": 0,"
        " \"removed\": 1}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fwd_observation obs[2];
        size_t n = 7;
        char err[128] = "";
        ck_assert_msg(backendset_parse(bad[i], obs, 2, &n, err, sizeof(err)) < 0, "accepted %s",
                      bad[i]);
        ck_assert_msg(err[0] != '\0', "no error for %s", bad[i]);
        ck_assert_uint_eq(n, 0);
    }
}
END_TEST


static Suite *backendset_suite(void)
{
    Suite *s = suite_create("backendset");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_backendset_json_names_every_instance_with_its_health_address);
    tcase_add_test(tc, test_backendset_json_of_no_instance_is_an_empty_set);
    tcase_add_test(tc, test_backendset_json_refuses_a_target_without_address);
    tcase_add_test(tc, test_backendset_parse_reads_state_counts_and_latency);
    tcase_add_test(tc, test_backendset_parse_keeps_the_first_max);
    tcase_add_test(tc, test_backendset_parse_refuses_malformed_documents);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(backendset_suite)
