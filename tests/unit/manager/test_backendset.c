/* Unit tests for manager/backendset.c: the backend set the manager PUTs to
 * the balancer (names, addresses, health addresses, weight), and reading the
 * balancer's GET /v1/backends document back (numbers, nulls, removed
 * backends, malformed documents refused with the field named, a long list
 * cut at max), and the drift between such a document and the desired set. The JSON both ends share
 * is common/backendset_json's. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "../../../manager/forward/backendset.h"
#include "../check_main.h"

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

/* Two backends as the balancer lists them (GET /v1/backends). */
#define ENTRY_PP1                                                                                  \
    "{\"name\": \"pp1\", \"address\": \"198.18.0.1:3129\", \"health\": \"198.18.0.1:3229\","       \
    " \"weight\": 1, \"state\": \"up\", \"removed\": false, \"slowstart\": false, \"active\": 1,"  \
    " \"total\": 40, \"connect_failures\": 0, \"connect_timeouts\": 0, \"resets\": 0,"             \
    " \"bytes_in\": 4000, \"bytes_out\": 400, \"ewma_ms\": 1.25, \"ewma_measured\": true,"         \
    " \"samples\": 40, \"p50_ms\": 0.9, \"p90_ms\": 2.5, \"p99_ms\": 7,"                           \
    " \"connect_ms\": {\"p50\": 0.1, \"p90\": 0.2, \"p99\": 0.3},"                                 \
    " \"last_check\": \"passed: 200\", \"transitions\": []}"
#define ENTRY_PP2                                                                                  \
    "{\"name\": \"pp2\", \"address\": \"198.18.0.1:3130\", \"health\": null, \"weight\": 1,"       \
    " \"state\": \"draining\", \"removed\": true, \"slowstart\": false, \"active\": 3,"            \
    " \"total\": 0, \"connect_failures\": 0, \"connect_timeouts\": 0, \"resets\": 0,"              \
    " \"bytes_in\": 0, \"bytes_out\": 0, \"ewma_ms\": 30, \"ewma_measured\": false,"               \
    " \"samples\": 0, \"p50_ms\": null, \"p90_ms\": null, \"p99_ms\": null,"                       \
    " \"connect_ms\": {\"p50\": null, \"p90\": null, \"p99\": null},"                              \
    " \"last_check\": \"not checked yet\"}"

static const char *doc_two = "{\"algo\": \"p2c-ewma\", \"connections\": {\"active\": 1},"
                             " \"backends\": [" ENTRY_PP1 ", " ENTRY_PP2 "]}";

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

/* doc_two with the first occurrence of from replaced by to. */
static char *doc_with(const char *from, const char *to)
{
    const char *at = strstr(doc_two, from);
    ck_assert_ptr_nonnull(at);
    size_t head = (size_t)(at - doc_two);
    char *s = malloc(strlen(doc_two) + strlen(to) + 1);
    memcpy(s, doc_two, head);
    strcpy(s + head, to);
    strcat(s, at + strlen(from));
    return s;
}

static void expect_refused(const char *text, const char *why)
{
    struct fwd_observation obs[2];
    size_t n = 7;
    char err[160] = "";
    ck_assert_msg(backendset_parse(text, obs, 2, &n, err, sizeof(err)) < 0, "accepted %s", text);
    ck_assert_msg(strstr(err, why) != NULL, "for %s: \"%s\" does not say \"%s\"", text, err, why);
    ck_assert_uint_eq(n, 0);
}

/* doc_two holds pp1 (198.18.0.1:3129, health :3229, weight 1) and pp2,
 * removed: the set in force is pp1 alone. */
START_TEST(test_backendset_drift_is_zero_for_the_set_in_force)
{
    struct fwd_target t = target(1, "198.18.0.1", 3129, "198.18.0.1", 3229);
    unsigned drift = 99;
    char err[128];
    ck_assert_int_eq(backendset_drift(doc_two, &t, 1, &drift, err, sizeof(err)), 0);
    ck_assert_uint_eq(drift, 0); /* pp2 is removed: not in the set, not extra */
}
END_TEST

START_TEST(test_backendset_drift_counts_missing_extra_and_changed_backends)
{
    struct fwd_target t[2] = {target(1, "198.18.0.1", 3129, "198.18.0.1", 3229),
                              target(2, "198.18.0.1", 3130, NULL, 0)};
    unsigned drift = 0;
    char err[128];
    /* pp2 wanted, listed only as removed: missing. */
    ck_assert_int_eq(backendset_drift(doc_two, t, 2, &drift, err, sizeof(err)), 0);
    ck_assert_uint_eq(drift, 1);
    /* No target: pp1 is extra. */
    ck_assert_int_eq(backendset_drift(doc_two, t, 0, &drift, err, sizeof(err)), 0);
    ck_assert_uint_eq(drift, 1);
    /* pp1 at another port, or without its health address: changed. */
    struct fwd_target moved = target(1, "198.18.0.1", 3139, "198.18.0.1", 3229);
    ck_assert_int_eq(backendset_drift(doc_two, &moved, 1, &drift, err, sizeof(err)), 0);
    ck_assert_uint_eq(drift, 1);
    struct fwd_target unchecked = target(1, "198.18.0.1", 3129, NULL, 0);
    ck_assert_int_eq(backendset_drift(doc_two, &unchecked, 1, &drift, err, sizeof(err)), 0);
    ck_assert_uint_eq(drift, 1);
}
END_TEST

START_TEST(test_backendset_drift_refuses_what_is_not_a_backends_document)
{
    struct fwd_target t = target(1, "198.18.0.1", 3129, NULL, 0);
    unsigned drift = 0;
    char err[128] = "";
    ck_assert_int_eq(backendset_drift("{\"backends\": 3}", &t, 1, &drift, err, sizeof(err)), -1);
    ck_assert_msg(err[0] != '\0', "no error text");
}
END_TEST

START_TEST(test_backendset_parse_refuses_malformed_documents)
{
    static const char *no_list[] = {"", "not json", "[]", "{\"backends\": {}}"};
    for (size_t i = 0; i < sizeof(no_list) / sizeof(no_list[0]); i++)
        expect_refused(no_list[i], "no \"backends\" array");
    expect_refused("{\"backends\": [1]}", "backend 1 of the list: is not an object");
    static const struct {
        const char *from, *to, *why;
    } bad[] = {
        {"\"name\": \"pp1\", ", "", "backend 1 of the list: \"name\" is missing"},
        {"\"slowstart\": false, \"active\": 1", "\"slowstart\": false, \"active\": -1",
         "\"active\" is not a count"},
        {"\"total\": 40", "\"total\": \"9\"", "\"total\" is not a count"},
        {"\"p50_ms\": 0.9", "\"p50_ms\": \"fast\"", "\"p50_ms\" is not a number >= 0"},
        {"\"removed\": false", "\"removed\": 1", "\"removed\" is not true or false"},
        {"\"state\": \"up\", ", "", "\"state\" is missing"},
        {"\"address\": \"198.18.0.1:3129\"", "\"address\": \"nowhere\"", "\"address\": "},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *text = doc_with(bad[i].from, bad[i].to);
        expect_refused(text, bad[i].why);
        free(text);
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
    tcase_add_test(tc, test_backendset_drift_is_zero_for_the_set_in_force);
    tcase_add_test(tc, test_backendset_drift_counts_missing_extra_and_changed_backends);
    tcase_add_test(tc, test_backendset_drift_refuses_what_is_not_a_backends_document);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(backendset_suite)
