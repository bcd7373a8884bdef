/* Unit tests for ppexp/spec.c: a spec is validated whole, and every kind of
 * mistake (bad JSON, an unknown key or factor, an empty level list, a value
 * out of range, a wrong type, a duplicate level) is refused with a message
 * naming it. Every shipped preset parses. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../../ppexp/presets.h"
#include "../../../ppexp/spec.h"
#include "../check_main.h"

static char err[512];

static void expect_refused(const char *json, const char *needle)
{
    struct ppexp_spec s;
    err[0] = '\0';
    ck_assert_msg(ppexp_spec_parse(json, &s, err, sizeof(err)) == -1, "accepted: %s", json);
    ck_assert_msg(strstr(err, needle) != NULL, "error \"%s\" lacks \"%s\" for %s", err, needle,
                  json);
}

START_TEST(test_ppexp_spec_parses_the_issue_example)
{
    struct ppexp_spec s;
    const char *json =
        "{\"name\": \"x\", \"clients\": 64, \"object_size\": \"1M\", \"requests\": 1000,"
        " \"concurrency\": 1000, \"replicates\": 10, \"warmup_s\": 2, \"seed\": 7,"
        " \"factors\": {\"forwarding\": [\"nat\", \"route\", \"balancer\"],"
        " \"replicas\": [1, 2, 4, 8, 16, 32], \"worker\": [\"proxyd\", \"squid\", \"nginx\"],"
        " \"runtime\": [\"container\"], \"cache\": [true], \"stress\": [0, 12],"
        " \"placement\": [\"split\"]}, \"baseline\": true}";
    ck_assert_msg(ppexp_spec_parse(json, &s, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(s.clients, 64);
    ck_assert_uint_eq(s.object_bytes, 1048576);
    ck_assert_int_eq(s.replicates, 10);
    ck_assert_uint_eq(s.seed, 7);
    ck_assert_int_eq(s.factors[PPEXP_F_FORWARDING].n, 3);
    ck_assert_int_eq(s.factors[PPEXP_F_FORWARDING].v[2], PPEXP_FWD_BALANCER);
    ck_assert_int_eq(s.factors[PPEXP_F_REPLICAS].n, 6);
    ck_assert_int_eq(s.factors[PPEXP_F_REPLICAS].v[5], 32);
    ck_assert_int_eq(s.factors[PPEXP_F_STRESS].v[1], 12);
    ck_assert_int_eq(s.baseline, 1);
}
END_TEST

START_TEST(test_ppexp_spec_defaults_fill_missing_factors)
{
    struct ppexp_spec s;
    ck_assert_int_eq(ppexp_spec_parse("{\"name\": \"d\"}", &s, err, sizeof(err)), 0);
    for (int f = 0; f < PPEXP_NFACTORS; f++)
        ck_assert_int_eq(s.factors[f].n, 1);
    ck_assert_int_eq(s.factors[PPEXP_F_RUNTIME].v[0], PPEXP_RUNTIME_CONTAINER);
}
END_TEST

START_TEST(test_ppexp_spec_refuses_bad_json)
{
    expect_refused("{\"name\": \"x\", ", "invalid JSON");
    expect_refused("", "invalid JSON");
    expect_refused("[1, 2]", "JSON object");
}
END_TEST

START_TEST(test_ppexp_spec_refuses_unknown_key_and_factor)
{
    expect_refused("{\"name\": \"x\", \"replicatse\": 3}", "unknown key \"replicatse\"");
    expect_refused("{\"name\": \"x\", \"factors\": {\"proxies\": [1]}}",
                   "unknown factor \"proxies\"");
}
END_TEST

START_TEST(test_ppexp_spec_refuses_empty_level_list)
{
    expect_refused("{\"name\": \"x\", \"factors\": {\"replicas\": []}}",
                   "factor \"replicas\" has no levels");
    expect_refused("{\"name\": \"x\", \"factors\": {\"forwarding\": []}}", "no levels");
}
END_TEST

START_TEST(test_ppexp_spec_refuses_out_of_range_values)
{
    expect_refused("{\"name\": \"x\", \"factors\": {\"replicas\": [1, 33]}}", "outside 1..32");
    expect_refused("{\"name\": \"x\", \"factors\": {\"replicas\": [0]}}", "outside 1..32");
    expect_refused("{\"name\": \"x\", \"clients\": 0}", "\"clients\" is 0");
    expect_refused("{\"name\": \"x\", \"replicates\": 101}", "replicates");
    expect_refused("{\"name\": \"x\", \"requests\": 2.5}", "whole number");
    expect_refused("{\"name\": \"x\", \"warmup_s\": -1}", "warmup_s");
    expect_refused("{\"name\": \"x\", \"object_size\": \"1Q\"}", "object_size");
    expect_refused("{\"name\": \"x\", \"object_size\": \"1G\"}", "outside");
    expect_refused("{\"name\": \"x\", \"factors\": {\"stress\": [65]}}", "stress");
}
END_TEST

START_TEST(test_ppexp_spec_refuses_wrong_types_and_levels)
{
    expect_refused("{\"clients\": 4}", "\"name\" is required");
    expect_refused("{\"name\": \"a/b\"}", "\"name\" must be");
    expect_refused("{\"name\": \"x\", \"factors\": {\"forwarding\": [\"dnat\"]}}",
                   "unknown level \"dnat\"");
    expect_refused("{\"name\": \"x\", \"factors\": {\"forwarding\": [\"direct\"]}}",
                   "unknown level \"direct\"");
    expect_refused("{\"name\": \"x\", \"factors\": {\"cache\": [\"yes\"]}}", "true or false");
    expect_refused("{\"name\": \"x\", \"factors\": {\"replicas\": 4}}", "array of levels");
    expect_refused("{\"name\": \"x\", \"factors\": {\"replicas\": [2, 2]}}", "given twice");
    expect_refused("{\"name\": \"x\", \"baseline\": 1}", "baseline");
    expect_refused("{\"name\": \"x\", \"measure\": \"instantiate\"}", "baseline");
}
END_TEST

START_TEST(test_ppexp_spec_every_preset_parses)
{
    ck_assert_uint_ge(ppexp_preset_count(), 12);
    const char *must[] = {"fig2",         "fig3",         "fig4",          "table2",
                          "table3",       "fig2-quick",   "fig3-quick",    "fig4-quick",
                          "table2-quick", "table3-quick", "fig4-balancer", "fig4-host"};
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
        ck_assert_msg(ppexp_preset_find(must[i]) != NULL, "no preset %s", must[i]);
    for (size_t i = 0; i < ppexp_preset_count(); i++) {
        struct ppexp_spec s;
        const struct ppexp_preset *p = ppexp_preset_at(i);
        ck_assert_msg(ppexp_spec_parse(p->json, &s, err, sizeof(err)) == 0, "%s: %s", p->name, err);
        ck_assert_str_eq(s.name, p->name);
    }
    ck_assert_ptr_null(ppexp_preset_find("fig5"));
}
END_TEST

START_TEST(test_ppexp_spec_adaptive_replicates_and_margins)
{
    struct ppexp_spec s;
    ck_assert_msg(ppexp_spec_parse("{\"name\": \"a\", \"replicates\": {\"min\": 3, \"max\": 30},"
                                   " \"margins_pct\": {\"default\": 4, \"C2\": 2.5}}",
                                   &s, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_int_eq(s.replicates_min, 3);
    ck_assert_int_eq(s.replicates, 30);
    ck_assert_double_eq(s.margin_default_pct, 4);
    ck_assert_int_eq(s.nmargins, 1);
    ck_assert_str_eq(s.margins[0].claim, "C2");
    ck_assert_double_eq(s.margins[0].pct, 2.5);
    /* The spec as meta.json keeps it round-trips. */
    char *json = ppexp_spec_to_json(&s);
    struct ppexp_spec t;
    ck_assert_msg(ppexp_spec_parse(json, &t, err, sizeof(err)) == 0, "%s", err);
    free(json);
    ck_assert_int_eq(t.replicates_min, 3);
    ck_assert_int_eq(t.replicates, 30);
    ck_assert_double_eq(t.margins[0].pct, 2.5);
    /* A plain integer keeps working: min = max. */
    ck_assert_int_eq(ppexp_spec_parse("{\"name\": \"f\", \"replicates\": 7, \"margins_pct\": 3}",
                                      &s, err, sizeof(err)),
                     0);
    ck_assert_int_eq(s.replicates_min, 7);
    ck_assert_int_eq(s.replicates, 7);
    ck_assert_double_eq(s.margin_default_pct, 3);
    ck_assert_int_eq(ppexp_spec_parse("{\"name\": \"d\"}", &s, err, sizeof(err)), 0);
    ck_assert_double_eq(s.margin_default_pct, PPEXP_MARGIN_DEFAULT_PCT);
}
END_TEST

START_TEST(test_ppexp_spec_refuses_bad_replicates_and_margins)
{
    expect_refused("{\"name\": \"x\", \"replicates\": {\"min\": 5, \"max\": 3}}", "below min");
    expect_refused("{\"name\": \"x\", \"replicates\": {\"min\": 3}}", "both");
    expect_refused("{\"name\": \"x\", \"replicates\": {\"min\": 3, \"max\": 4, \"mx\": 1}}",
                   "replicates.mx");
    expect_refused("{\"name\": \"x\", \"replicates\": \"3\"}", "replicates");
    expect_refused("{\"name\": \"x\", \"margins_pct\": {\"C9\": 3}}", "no such claim");
    expect_refused("{\"name\": \"x\", \"margins_pct\": 0}", "above 0");
    expect_refused("{\"name\": \"x\", \"margins_pct\": {\"C2\": 60}}", "below 50");
}
END_TEST

/* Docker runs proxyd only: another worker with it is refused, naming both,
 * in either order and also through the default worker list; proxyd alone
 * (or docker absent) passes, and the spec knows it uses docker. */
START_TEST(test_ppexp_spec_docker_runs_proxyd_only)
{
    expect_refused("{\"name\": \"x\", \"factors\": {\"runtime\": [\"docker\"], "
                   "\"worker\": [\"proxyd\", \"squid\"]}}",
                   "docker runs the proxyd worker only (there is no squid image");
    expect_refused("{\"name\": \"x\", \"factors\": {\"worker\": [\"nginx\"], "
                   "\"runtime\": [\"container\", \"docker\"]}}",
                   "\"worker\" lists nginx");
    struct ppexp_spec s;
    ck_assert_msg(ppexp_spec_parse("{\"name\": \"x\", \"factors\": {\"runtime\": "
                                   "[\"docker\"], \"worker\": [\"proxyd\"]}}",
                                   &s, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_int_eq(s.factors[PPEXP_F_RUNTIME].v[0], PPEXP_RUNTIME_DOCKER);
    ck_assert_int_eq(ppexp_spec_uses_docker(&s), 1);
    /* The default worker is proxyd. */
    ck_assert_int_eq(ppexp_spec_parse("{\"name\": \"x\", \"factors\": {\"runtime\": [\"docker\"]}}",
                                      &s, err, sizeof(err)),
                     0);
    ck_assert_msg(ppexp_spec_parse("{\"name\": \"x\", \"factors\": {\"runtime\": "
                                   "[\"container\"], \"worker\": [\"squid\"]}}",
                                   &s, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_int_eq(ppexp_spec_uses_docker(&s), 0);
}
END_TEST

static Suite *ppexp_spec_suite(void)
{
    Suite *s = suite_create("ppexp_spec");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ppexp_spec_parses_the_issue_example);
    tcase_add_test(tc, test_ppexp_spec_defaults_fill_missing_factors);
    tcase_add_test(tc, test_ppexp_spec_refuses_bad_json);
    tcase_add_test(tc, test_ppexp_spec_refuses_unknown_key_and_factor);
    tcase_add_test(tc, test_ppexp_spec_refuses_empty_level_list);
    tcase_add_test(tc, test_ppexp_spec_refuses_out_of_range_values);
    tcase_add_test(tc, test_ppexp_spec_refuses_wrong_types_and_levels);
    tcase_add_test(tc, test_ppexp_spec_every_preset_parses);
    tcase_add_test(tc, test_ppexp_spec_adaptive_replicates_and_margins);
    tcase_add_test(tc, test_ppexp_spec_refuses_bad_replicates_and_margins);
    tcase_add_test(tc, test_ppexp_spec_docker_runs_proxyd_only);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(ppexp_spec_suite)
