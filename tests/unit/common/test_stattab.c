/* Unit tests for common/stattab.c: one table of figures gives the same
 * names and values in Prometheus text and in JSON, reads its JSON back, and
 * refuses a document whose figures are missing or of the wrong kind. */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <event2/buffer.h>

#include "../check_main.h"
#include "prom.h"
#include "stattab.h"

struct figures {
    uint64_t hits;
    uint64_t err_connect, err_timeout;
    uint64_t open;
    int enabled;
    double ratio;
    double p99_ms;
};

#define F(x) offsetof(struct figures, x)

static const struct stattab_field fields[] = {
    {"hits", "t_hits_total", PROM_COUNTER, "Hits.", NULL, NULL, STATTAB_U64, F(hits)},
    {"errors.connect", "t_errors_total", PROM_COUNTER, "Errors, by kind.", "kind", "connect",
     STATTAB_U64, F(err_connect)},
    {"errors.timeout", "t_errors_total", PROM_COUNTER, "Errors, by kind.", "kind", "timeout",
     STATTAB_U64, F(err_timeout)},
    {NULL, "t_open", PROM_GAUGE, "Open now.", NULL, NULL, STATTAB_U64, F(open)},
    {"enabled", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_BOOL, F(enabled)},
    {"ratio", "t_ratio", PROM_GAUGE, "A ratio.", NULL, NULL, STATTAB_DOUBLE, F(ratio)},
    {"p99_ms", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_OPT, F(p99_ms)},
};

static const struct figures sample = {.hits = 7,
                                      .err_connect = 2,
                                      .err_timeout = 0,
                                      .open = 3,
                                      .enabled = 1,
                                      .ratio = 0.25,
                                      .p99_ms = -1};

static char *prom_text(const struct figures *f)
{
    struct evbuffer *out = evbuffer_new();
    struct prom p;
    char err[128];
    prom_init(&p, out);
    stattab_write_prom(&p, fields, STATTAB_COUNT(fields), f);
    ck_assert_int_eq(prom_finish(&p, err, sizeof(err)), 0);
    size_t len = evbuffer_get_length(out);
    char *s = malloc(len + 1);
    evbuffer_remove(out, s, len);
    s[len] = '\0';
    evbuffer_free(out);
    return s;
}

START_TEST(test_stattab_writes_prometheus_families_once)
{
    char *s = prom_text(&sample);
    ck_assert_str_eq(s, "# HELP t_hits_total Hits.\n"
                        "# TYPE t_hits_total counter\n"
                        "t_hits_total 7\n"
                        "# HELP t_errors_total Errors, by kind.\n"
                        "# TYPE t_errors_total counter\n"
                        "t_errors_total{kind=\"connect\"} 2\n"
                        "t_errors_total{kind=\"timeout\"} 0\n"
                        "# HELP t_open Open now.\n"
                        "# TYPE t_open gauge\n"
                        "t_open 3\n"
                        "# HELP t_ratio A ratio.\n"
                        "# TYPE t_ratio gauge\n"
                        "t_ratio 0.25\n");
    free(s);
}
END_TEST

START_TEST(test_stattab_writes_json_with_nested_objects)
{
    cJSON *o = cJSON_CreateObject();
    ck_assert_int_eq(stattab_write_json(o, fields, STATTAB_COUNT(fields), &sample), 0);
    char *s = cJSON_PrintUnformatted(o);
    ck_assert_str_eq(s, "{\"hits\":7,\"errors\":{\"connect\":2,\"timeout\":0},\"enabled\":true,"
                        "\"ratio\":0.25,\"p99_ms\":null}");
    cJSON_free(s);
    cJSON_Delete(o);
}
END_TEST

START_TEST(test_stattab_reads_back_what_it_wrote)
{
    struct figures in = sample, out;
    in.p99_ms = 12.5;
    cJSON *o = cJSON_CreateObject();
    ck_assert_int_eq(stattab_write_json(o, fields, STATTAB_COUNT(fields), &in), 0);
    memset(&out, 0, sizeof(out));
    char err[128] = "";
    ck_assert_int_eq(stattab_read_json(o, fields, STATTAB_COUNT(fields), &out, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(out.hits, in.hits);
    ck_assert_uint_eq(out.err_connect, in.err_connect);
    ck_assert_uint_eq(out.err_timeout, in.err_timeout);
    ck_assert_uint_eq(out.open, 0); /* not in JSON */
    ck_assert_int_eq(out.enabled, 1);
    ck_assert(out.ratio == in.ratio);
    ck_assert(out.p99_ms == in.p99_ms);
    cJSON_Delete(o);
}
END_TEST

static const char *read_error(const char *doc)
{
    static char err[128];
    struct figures f;
    cJSON *o = cJSON_Parse(doc);
    ck_assert_ptr_nonnull(o);
    err[0] = '\0';
    int rc = stattab_read_json(o, fields, STATTAB_COUNT(fields), &f, err, sizeof(err));
    cJSON_Delete(o);
    ck_assert_int_eq(rc, -1);
    return err;
}

START_TEST(test_stattab_refuses_missing_or_mistyped_figures)
{
    ck_assert_str_eq(read_error("{\"errors\":{\"connect\":1,\"timeout\":1},\"enabled\":true,"
                                "\"ratio\":1}"),
                     "\"hits\" is missing");
    ck_assert_str_eq(read_error("{\"hits\":1.5,\"errors\":{\"connect\":1,\"timeout\":1},"
                                "\"enabled\":true,\"ratio\":1}"),
                     "\"hits\" is not a count (an integer from 0 to 2^53)");
    ck_assert_str_eq(read_error("{\"hits\":-1,\"errors\":{}}"),
                     "\"hits\" is not a count (an integer from 0 to 2^53)");
    ck_assert_str_eq(read_error("{\"hits\":1,\"errors\":[1,2]}"), "\"errors.connect\" is missing");
    ck_assert_str_eq(read_error("{\"hits\":1,\"errors\":{\"connect\":1,\"timeout\":1},"
                                "\"enabled\":1,\"ratio\":1}"),
                     "\"enabled\" is not true or false");
    ck_assert_str_eq(read_error("{\"hits\":1,\"errors\":{\"connect\":1,\"timeout\":1},"
                                "\"enabled\":false,\"ratio\":1,\"p99_ms\":\"fast\"}"),
                     "\"p99_ms\" is not a number >= 0 or null");
}
END_TEST

START_TEST(test_stattab_writes_each_family_over_all_views)
{
    static const struct stattab_field per[] = {
        {NULL, "t_active", PROM_GAUGE, "Active.", NULL, NULL, STATTAB_U64, F(open)},
        {NULL, "t_hits_total", PROM_COUNTER, "Hits.", NULL, NULL, STATTAB_U64, F(hits)},
    };
    struct figures a = {.hits = 1, .open = 2}, b = {.hits = 3, .open = 4};
    const void *views[] = {&a, &b};
    const char *names[] = {"x", "y"};
    struct evbuffer *out = evbuffer_new();
    struct prom p;
    char err[128];
    prom_init(&p, out);
    stattab_write_prom_each(&p, per, 2, views, names, 2, "backend");
    ck_assert_int_eq(prom_finish(&p, err, sizeof(err)), 0);
    evbuffer_add(out, "", 1);
    ck_assert_str_eq((const char *)evbuffer_pullup(out, -1),
                     "# HELP t_active Active.\n# TYPE t_active gauge\n"
                     "t_active{backend=\"x\"} 2\nt_active{backend=\"y\"} 4\n"
                     "# HELP t_hits_total Hits.\n# TYPE t_hits_total counter\n"
                     "t_hits_total{backend=\"x\"} 1\nt_hits_total{backend=\"y\"} 3\n");
    evbuffer_free(out);
}
END_TEST

static Suite *stattab_suite(void)
{
    Suite *s = suite_create("stattab");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_stattab_writes_prometheus_families_once);
    tcase_add_test(tc, test_stattab_writes_json_with_nested_objects);
    tcase_add_test(tc, test_stattab_reads_back_what_it_wrote);
    tcase_add_test(tc, test_stattab_refuses_missing_or_mistyped_figures);
    tcase_add_test(tc, test_stattab_writes_each_family_over_all_views);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(stattab_suite)
