/* Unit tests for ppctl/table.c: the pool and instance documents of the REST
 * API rendered as aligned tables, written to memory and compared whole. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "../../../ppctl/table.h"
#include "../check_main.h"

/* What print wrote for the document text, or NULL when it returned -1. */
static char *render(int (*print)(FILE *, const cJSON *), const char *json)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cJSON *doc = cJSON_Parse(json);
    ck_assert_msg(doc != NULL, "bad test document: %s", json);
    int rc = print(out, doc);
    fclose(out);
    cJSON_Delete(doc);
    if (rc < 0) {
        ck_assert_uint_eq(len, 0); /* nothing printed on failure */
        free(text);
        return NULL;
    }
    return text;
}

START_TEST(test_table_prints_pool_with_aligned_columns)
{
    char *text = render(
        table_print_pool,
        "{\"runtime\":\"container\",\"replicas\":3,\"ready\":2,\"instances\":["
        "{\"id\":1,\"name\":\"pp1\",\"state\":\"ready\",\"address\":\"198.19.0.2:3128\","
        "\"admin\":\"198.19.0.2:8080\",\"pid\":4242,\"started_at\":\"2026-11-25T15:04:05.123Z\","
        "\"ready_ms\":41,\"restarts\":0},"
        "{\"id\":2,\"name\":\"pp2\",\"state\":\"ready\",\"address\":\"198.19.0.3:3128\","
        "\"pid\":4243,\"ready_ms\":1250,\"restarts\":12},"
        "{\"id\":10,\"name\":\"pp10\",\"state\":\"starting\",\"address\":\"198.19.0.11:3128\","
        "\"pid\":4301,\"ready_ms\":null,\"restarts\":0}]}");
    ck_assert_str_eq(text, "ID  NAME  STATE     ADDRESS           PID   READY_MS  RESTARTS\n"
                           "1   pp1   ready     198.19.0.2:3128   4242  41        0\n"
                           "2   pp2   ready     198.19.0.3:3128   4243  1250      12\n"
                           "10  pp10  starting  198.19.0.11:3128  4301  -         0\n"
                           "2 of 3 replicas ready (container runtime)\n");
    free(text);
}
END_TEST

START_TEST(test_table_prints_dash_for_null_and_missing_fields)
{
    char *text = render(table_print_pool,
                        "{\"runtime\":\"process\",\"replicas\":1,\"ready\":0,\"instances\":["
                        "{\"id\":1,\"name\":\"pp1\",\"state\":\"failed\",\"address\":null,"
                        "\"pid\":null}]}");
    ck_assert_str_eq(text, "ID  NAME  STATE   ADDRESS  PID  READY_MS  RESTARTS\n"
                           "1   pp1   failed  -        -    -         -\n"
                           "0 of 1 replicas ready (process runtime)\n");
    free(text);
}
END_TEST

START_TEST(test_table_prints_empty_pool_as_header_and_summary)
{
    char *text = render(table_print_pool,
                        "{\"runtime\":\"process\",\"replicas\":1,\"ready\":0,\"instances\":[]}");
    ck_assert_str_eq(text, "ID  NAME  STATE  ADDRESS  PID  READY_MS  RESTARTS\n"
                           "0 of 1 replicas ready (process runtime)\n");
    free(text);
}
END_TEST

START_TEST(test_table_replaces_control_bytes)
{
    char *text =
        render(table_print_instance, "{\"id\":1,\"name\":\"p\\u001b[2Jp\",\"state\":\"ready\"}");
    ck_assert_msg(strstr(text, "p?[2Jp") != NULL, "%s", text);
    free(text);
}
END_TEST

START_TEST(test_table_prints_one_instance)
{
    char *text = render(table_print_instance,
                        "{\"id\":3,\"name\":\"pp3\",\"state\":\"ready\",\"address\":"
                        "\"127.0.0.1:3131\",\"pid\":77,\"ready_ms\":12,\"restarts\":1}");
    ck_assert_str_eq(text, "ID  NAME  STATE  ADDRESS         PID  READY_MS  RESTARTS\n"
                           "3   pp3   ready  127.0.0.1:3131  77   12        1\n");
    free(text);
}
END_TEST

START_TEST(test_table_refuses_other_documents)
{
    ck_assert_ptr_null(render(table_print_pool, "{\"error\":\"no\"}"));
    ck_assert_ptr_null(render(table_print_pool, "{\"instances\":{}}"));
    ck_assert_ptr_null(render(table_print_pool, "[]"));
    ck_assert_ptr_null(render(table_print_instance, "[1]"));
}
END_TEST

static Suite *table_suite(void)
{
    Suite *s = suite_create("table");
    TCase *tc = tcase_create("render");
    tcase_add_test(tc, test_table_prints_pool_with_aligned_columns);
    tcase_add_test(tc, test_table_prints_dash_for_null_and_missing_fields);
    tcase_add_test(tc, test_table_prints_empty_pool_as_header_and_summary);
    tcase_add_test(tc, test_table_replaces_control_bytes);
    tcase_add_test(tc, test_table_prints_one_instance);
    tcase_add_test(tc, test_table_refuses_other_documents);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(table_suite)
