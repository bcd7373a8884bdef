/* Unit tests for manager/features.c: `manager --features` is one JSON object
 * whose lists match what the manager's own options accept, so a driver that
 * plans from it never asks for a mode the command line would refuse. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "../../../manager/config.h"
#include "../../../manager/features.h"
#include "../check_main.h"

static char err[512];

static cJSON *features(void)
{
    char *text = manager_features_json(err, sizeof(err));
    ck_assert_msg(text != NULL, "%s", err);
    cJSON *obj = cJSON_Parse(text);
    free(text);
    ck_assert_msg(cJSON_IsObject(obj), "not a JSON object");
    return obj;
}

/* Whether `manager --features --OPTION value` loads: --features skips the
 * checks of the host (binaries), so only the option's parser decides. */
static int option_accepts(const char *option, const char *value)
{
    static struct manager_config cfg;
    char *argv[] = {"manager", "--features", (char *)option, (char *)value, NULL};
    int rc = manager_config_load(&cfg, 4, argv, err, sizeof(err));
    manager_config_free(&cfg);
    return rc == 0;
}

static void assert_list_accepted(const cJSON *obj, const char *key, const char *option,
                                 size_t min_items)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key);
    ck_assert_msg(cJSON_IsArray(arr), "%s is not an array", key);
    ck_assert_uint_ge((size_t)cJSON_GetArraySize(arr), min_items);
    const cJSON *el;
    cJSON_ArrayForEach(el, arr)
    {
        ck_assert(cJSON_IsString(el));
        ck_assert_msg(option_accepts(option, el->valuestring), "%s %s refused: %s", option,
                      el->valuestring, err);
    }
}

START_TEST(test_features_lists_what_the_options_accept)
{
    cJSON *obj = features();
    assert_list_accepted(obj, "runtimes", "--runtime", 2);
    assert_list_accepted(obj, "forwarding", "--forwarding", 4);
    assert_list_accepted(obj, "forwarding_needs_container", "--forwarding", 1);
    assert_list_accepted(obj, "workers", "--worker", 3);
    assert_list_accepted(obj, "balancer_algos", "--balancer-algo", 4);
    cJSON_Delete(obj);
    ck_assert(!option_accepts("--forwarding", "teleport")); /* the check can fail */
}
END_TEST

START_TEST(test_features_names_the_program_and_its_limits)
{
    cJSON *obj = features();
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(obj, "program")->valuestring, "manager");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(obj, "version")->valuestring,
                     manager_version);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(obj, "format")->valueint, 1);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(obj, "max_replicas")->valueint, 32);
    char value[16];
    snprintf(value, sizeof(value), "%d",
             cJSON_GetObjectItemCaseSensitive(obj, "max_replicas")->valueint);
    ck_assert(option_accepts("--replicas", value));
    snprintf(value, sizeof(value), "%d",
             cJSON_GetObjectItemCaseSensitive(obj, "max_replicas")->valueint + 1);
    ck_assert(!option_accepts("--replicas", value));
    cJSON_Delete(obj);
}
END_TEST

static Suite *features_suite(void)
{
    Suite *s = suite_create("features");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, test_features_lists_what_the_options_accept);
    tcase_add_test(tc, test_features_names_the_program_and_its_limits);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(features_suite)
