/* Unit tests for common/backendset_json.c, the backend-set documents the
 * manager and the balancer share: what is written reads back equal (the set
 * the manager PUTs, the status the balancer answers), and a malformed
 * document is refused with the entry and the field named. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "addr.h"
#include "backendset_json.h"
#include "../check_main.h"

static struct backendset_member member(const char *name, const char *address, const char *health,
                                       int weight)
{
    struct backendset_member m;
    char err[128];
    memset(&m, 0, sizeof(m));
    snprintf(m.name, sizeof(m.name), "%s", name);
    ck_assert_int_eq(addr_parse(address, -1, &m.address, err, sizeof(err)), 0);
    if (health) {
        ck_assert_int_eq(addr_parse(health, -1, &m.health, err, sizeof(err)), 0);
        m.has_health = 1;
    }
    m.weight = weight;
    return m;
}

static void ck_member_eq(const struct backendset_member *a, const struct backendset_member *b)
{
    ck_assert_str_eq(a->name, b->name);
    ck_assert(addr_equal(&a->address, &b->address));
    ck_assert_int_eq(a->has_health, b->has_health);
    if (a->has_health)
        ck_assert(addr_equal(&a->health, &b->health));
    ck_assert_int_eq(a->weight, b->weight);
}

START_TEST(test_backendset_json_set_reads_back_equal)
{
    struct backendset_member in[3] = {member("pp1", "198.18.0.1:3129", "198.18.0.1:3229", 1),
                                      member("pp-2.b_c", "[::1]:8080", NULL, 256),
                                      member("x", "127.0.0.1:1", "127.0.0.1:2", 7)};
    char err[160] = "";
    char *text = backendset_json_write_set(in, 3, err, sizeof(err));
    ck_assert_ptr_nonnull(text);
    cJSON *doc = cJSON_Parse(text);
    struct backendset_member out[3];
    ck_assert_int_eq(backendset_json_read_set(doc, out, 3, NULL, err, sizeof(err)), 3);
    for (size_t i = 0; i < 3; i++)
        ck_member_eq(&in[i], &out[i]);
    cJSON_Delete(doc);
    free(text);
}
END_TEST

START_TEST(test_backendset_json_set_is_the_manager_wire_format)
{
    struct backendset_member in[2] = {member("pp1", "198.18.0.1:3129", "198.18.0.1:3229", 1),
                                      member("pp2", "198.19.0.3:3128", NULL, 1)};
    char err[160];
    char *text = backendset_json_write_set(in, 2, err, sizeof(err));
    ck_assert_str_eq(text, "{\"backends\":[{\"name\":\"pp1\",\"address\":\"198.18.0.1:3129\","
                           "\"health\":\"198.18.0.1:3229\",\"weight\":1},{\"name\":\"pp2\","
                           "\"address\":\"198.19.0.3:3128\",\"weight\":1}]}");
    free(text);
}
END_TEST

static int text_entry(const char *s, struct backendset_member *m, char *err, size_t errlen)
{
    if (strcmp(s, "t=127.0.0.1:9") != 0) {
        snprintf(err, errlen, "not the test's entry");
        return -1;
    }
    *m = member("t", "127.0.0.1:9", NULL, 1);
    return 0;
}

START_TEST(test_backendset_json_set_takes_strings_only_with_a_parser)
{
    cJSON *doc = cJSON_Parse("[\"t=127.0.0.1:9\", {\"name\": \"o\", \"address\": \"127.0.0.1:8\","
                             " \"health\": null}]");
    struct backendset_member out[2];
    char err[160] = "";
    ck_assert_int_eq(backendset_json_read_set(doc, out, 2, text_entry, err, sizeof(err)), 2);
    ck_assert_str_eq(out[0].name, "t");
    ck_assert_str_eq(out[1].name, "o");
    ck_assert_int_eq(out[1].has_health, 0);
    ck_assert_int_eq(out[1].weight, 1); /* the default */
    ck_assert_int_eq(backendset_json_read_set(doc, out, 2, NULL, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "backend 1: is not an object");
    cJSON_Delete(doc);
}
END_TEST

static const char *set_error(const char *text)
{
    static char err[192];
    struct backendset_member out[2];
    cJSON *doc = cJSON_Parse(text);
    ck_assert_msg(doc != NULL, "test document does not parse: %s", text);
    err[0] = '\0';
    ck_assert_int_eq(backendset_json_read_set(doc, out, 2, text_entry, err, sizeof(err)), -1);
    cJSON_Delete(doc);
    return err;
}

START_TEST(test_backendset_json_set_refuses_malformed_bodies)
{
    ck_assert_str_eq(set_error("{\"backends\": [], \"colour\": 1}"),
                     "unknown field \"colour\" (the body is {\"backends\": [...]})");
    ck_assert_str_eq(set_error("{\"backends\": {}}"),
                     "the body is {\"backends\": [...]} or an array of backends");
    ck_assert_str_eq(set_error("[{\"name\": \"a b\", \"address\": \"127.0.0.1:1\"}]"),
                     "backend 1: \"name\" is not 1..63 of [A-Za-z0-9._-]");
    ck_assert_str_eq(set_error("[{\"name\": \"a\"}]"), "backend 1: needs \"name\" and \"address\"");
    ck_assert_str_eq(set_error("[{\"name\": \"a\", \"address\": 7}]"),
                     "backend 1: \"address\": is not an ADDR:PORT string");
    ck_assert_str_eq(
        set_error("[{\"name\": \"a\", \"address\": \"127.0.0.1:1\", \"weight\": 1e300}]"),
        "backend 1: \"weight\" is not an integer in 1..256");
    ck_assert_str_eq(set_error("[{\"name\": \"a\", \"address\": \"127.0.0.1:1\", \"port\": 1}]"),
                     "backend 1: unknown field \"port\" (name, address, health, weight)");
    ck_assert_str_eq(set_error("[{\"name\": \"a\", \"address\": \"127.0.0.1:1\"},"
                               " {\"name\": \"a\", \"address\": \"127.0.0.1:2\"}]"),
                     "backend name 'a' given twice");
    ck_assert_str_eq(set_error("[\"t=127.0.0.1:9\", 5]"),
                     "backend 2: is neither an object nor a NAME=ADDR:PORT string");
    ck_assert_str_eq(
        set_error("[\"t=127.0.0.1:9\", {\"name\": \"b\", \"address\": \"127.0.0.1:1\"},"
                  " {\"name\": \"c\", \"address\": \"127.0.0.1:1\"}]"),
        "more than 2 backends");
}
END_TEST

static struct backendset_status status_sample(void)
{
    struct backendset_status s;
    memset(&s, 0, sizeof(s));
    s.member = member("pp7", "10.0.0.7:3128", "10.0.0.7:3228", 3);
    snprintf(s.state, sizeof(s.state), "draining");
    s.removed = 1;
    s.active = 2;
    s.total = 12345678901ULL;
    s.connect_failures = 3;
    s.connect_timeouts = 4;
    s.resets = 5;
    s.bytes_in = 1 << 20;
    s.bytes_out = 999;
    s.ewma_ms = 1.234;
    s.ewma_measured = 1;
    s.samples = 17;
    s.p50_ms = 0.5;
    s.p90_ms = 2;
    s.p99_ms = -1; /* unmeasured: null */
    s.connect_p50_ms = 0.125;
    s.connect_p90_ms = -1;
    s.connect_p99_ms = 30;
    snprintf(s.last_check, sizeof(s.last_check), "passed: 200 in 1 ms");
    return s;
}

START_TEST(test_backendset_json_status_reads_back_equal)
{
    struct backendset_status in = status_sample(), out;
    cJSON *o = backendset_json_write_status(&in);
    ck_assert_ptr_nonnull(o);
    char *text = cJSON_PrintUnformatted(o);
    char doc[4096], err[160] = "";
    snprintf(doc, sizeof(doc), "{\"algo\": \"p2c-ewma\", \"backends\": [%s]}", text);
    size_t n = 0;
    ck_assert_int_eq(backendset_json_read_statuses(doc, &out, 1, &n, err, sizeof(err)), 0);
    ck_assert_uint_eq(n, 1);
    ck_member_eq(&in.member, &out.member);
    ck_assert_str_eq(out.state, in.state);
    ck_assert_str_eq(out.last_check, in.last_check);
    /* Every figure: the struct holds nothing else but these and the
     * strings and member checked above. */
    ck_assert_int_eq(out.removed, in.removed);
    ck_assert_int_eq(out.slowstart, in.slowstart);
    ck_assert_uint_eq(out.active, in.active);
    ck_assert_uint_eq(out.total, in.total);
    ck_assert_uint_eq(out.connect_failures, in.connect_failures);
    ck_assert_uint_eq(out.connect_timeouts, in.connect_timeouts);
    ck_assert_uint_eq(out.resets, in.resets);
    ck_assert_uint_eq(out.bytes_in, in.bytes_in);
    ck_assert_uint_eq(out.bytes_out, in.bytes_out);
    ck_assert(out.ewma_ms == in.ewma_ms);
    ck_assert_int_eq(out.ewma_measured, in.ewma_measured);
    ck_assert_uint_eq(out.samples, in.samples);
    ck_assert(out.p50_ms == in.p50_ms && out.p90_ms == in.p90_ms);
    ck_assert(out.p99_ms < 0);
    ck_assert(out.connect_p50_ms == in.connect_p50_ms && out.connect_p99_ms == in.connect_p99_ms);
    ck_assert(out.connect_p90_ms < 0);
    cJSON_free(text);
    cJSON_Delete(o);
}
END_TEST

START_TEST(test_backendset_json_status_is_the_balancer_wire_format)
{
    struct backendset_status s = status_sample();
    s.member.has_health = 0;
    cJSON *o = backendset_json_write_status(&s);
    char *text = cJSON_PrintUnformatted(o);
    ck_assert_str_eq(text, "{\"name\":\"pp7\",\"address\":\"10.0.0.7:3128\",\"health\":null,"
                           "\"weight\":3,\"state\":\"draining\",\"removed\":true,"
                           "\"slowstart\":false,\"active\":2,\"total\":12345678901,"
                           "\"connect_failures\":3,\"connect_timeouts\":4,\"resets\":5,"
                           "\"bytes_in\":1048576,\"bytes_out\":999,\"ewma_ms\":1.234,"
                           "\"ewma_measured\":true,\"samples\":17,\"p50_ms\":0.5,\"p90_ms\":2,"
                           "\"p99_ms\":null,\"connect_ms\":{\"p50\":0.125,\"p90\":null,"
                           "\"p99\":30},\"last_check\":\"passed: 200 in 1 ms\"}");
    cJSON_free(text);
    cJSON_Delete(o);
}
END_TEST

START_TEST(test_backendset_json_status_refuses_a_missing_figure)
{
    struct backendset_status s = status_sample(), out;
    cJSON *o = backendset_json_write_status(&s);
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItem(o, "connect_ms"), "p50");
    cJSON_ReplaceItemInObjectCaseSensitive(o, "bytes_out", cJSON_CreateString("999"));
    char err[160] = "";
    ck_assert_int_eq(backendset_json_read_status(o, &out, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "\"bytes_out\" is not a count (an integer from 0 to 2^53)");
    cJSON_ReplaceItemInObjectCaseSensitive(o, "bytes_out", cJSON_CreateNumber(999));
    /* An absent latency reads as unmeasured, as null does. */
    ck_assert_int_eq(backendset_json_read_status(o, &out, err, sizeof(err)), 0);
    ck_assert(out.connect_p50_ms < 0);
    cJSON_DeleteItemFromObjectCaseSensitive(o, "last_check");
    ck_assert_int_eq(backendset_json_read_status(o, &out, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "\"last_check\" is missing");
    cJSON_Delete(o);
}
END_TEST

static Suite *backendset_json_suite(void)
{
    Suite *s = suite_create("backendset_json");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_backendset_json_set_reads_back_equal);
    tcase_add_test(tc, test_backendset_json_set_is_the_manager_wire_format);
    tcase_add_test(tc, test_backendset_json_set_takes_strings_only_with_a_parser);
    tcase_add_test(tc, test_backendset_json_set_refuses_malformed_bodies);
    tcase_add_test(tc, test_backendset_json_status_reads_back_equal);
    tcase_add_test(tc, test_backendset_json_status_is_the_balancer_wire_format);
    tcase_add_test(tc, test_backendset_json_status_refuses_a_missing_figure);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(backendset_json_suite)
