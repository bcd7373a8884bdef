/* Unit tests for loadgen/target.c: URL splitting and the request head sent
 * straight to an origin or in absolute form to a proxy. */
#include <check.h>
#include <string.h>

#include "../check_main.h"
#include "../../../loadgen/config.h"
#include "../../../loadgen/target.h"

START_TEST(test_loadgen_url_splits_host_port_path)
{
    struct loadgen_url u;
    char err[128];
    ck_assert_int_eq(loadgen_url_parse("http://127.0.0.1:8080/obj1m?x=1", &u, err, sizeof(err)), 0);
    ck_assert_str_eq(u.host, "127.0.0.1");
    ck_assert_int_eq(u.port, 8080);
    ck_assert_str_eq(u.path, "/obj1m?x=1");
    ck_assert_int_eq(loadgen_url_parse("http://198.19.1.2", &u, err, sizeof(err)), 0);
    ck_assert_int_eq(u.port, 80);
    ck_assert_str_eq(u.path, "/");
    ck_assert_int_eq(loadgen_url_parse("http://[::1]:81?q", &u, err, sizeof(err)), 0);
    ck_assert_str_eq(u.host, "[::1]");
    ck_assert_int_eq(u.port, 81);
    ck_assert_str_eq(u.path, "/?q");
}
END_TEST

START_TEST(test_loadgen_url_refuses_what_it_cannot_send)
{
    const char *bad[] = {"https://a/",   "a/b",         "http://",         "http://:80/",
                         "http://a:/",   "http://a:x/", "http://a:70000/", "http://u:p@a/",
                         "http://a/b c", "http://a/#f", "http://[::1/",    "http://[::1]x/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct loadgen_url u;
        char err[128] = "";
        ck_assert_msg(loadgen_url_parse(bad[i], &u, err, sizeof(err)) == -1, "%s accepted", bad[i]);
        ck_assert_msg(err[0] != '\0', "%s: no reason", bad[i]);
    }
}
END_TEST

START_TEST(test_loadgen_request_origin_form_keepalive)
{
    struct loadgen_url u;
    char err[128], out[1024];
    ck_assert_int_eq(loadgen_url_parse("http://198.19.1.2/obj1m", &u, err, sizeof(err)), 0);
    int n = loadgen_target_format_request(out, sizeof(out), &u, 0, 1, "");
    ck_assert_int_eq(n, (int)strlen(out));
    ck_assert_str_eq(out, "GET /obj1m HTTP/1.1\r\nHost: 198.19.1.2\r\n"
                          "User-Agent: loadgen/0.1 (proxypool)\r\nAccept: */*\r\n\r\n");
}
END_TEST

START_TEST(test_loadgen_request_absolute_form_via_proxy)
{
    struct loadgen_url u;
    char err[128], out[1024];
    ck_assert_int_eq(loadgen_url_parse("http://127.0.0.1:8080/obj1m", &u, err, sizeof(err)), 0);
    loadgen_target_format_request(out, sizeof(out), &u, 1, 0, "X-Run: 3\r\n");
    ck_assert_str_eq(out, "GET http://127.0.0.1:8080/obj1m HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
                          "User-Agent: loadgen/0.1 (proxypool)\r\nAccept: */*\r\n"
                          "Connection: close\r\nX-Run: 3\r\n\r\n");
}
END_TEST

START_TEST(test_loadgen_request_too_long_is_refused)
{
    struct loadgen_url u;
    char err[128], out[32];
    ck_assert_int_eq(loadgen_url_parse("http://127.0.0.1/obj1m", &u, err, sizeof(err)), 0);
    ck_assert_int_eq(loadgen_target_format_request(out, sizeof(out), &u, 0, 1, ""), -1);
}
END_TEST

START_TEST(test_loadgen_target_connects_to_proxy_or_origin)
{
    static struct loadgen_config cfg;
    char err[256];
    char *argv[] = {"loadgen", "http://127.0.0.1:8080/obj1m", NULL};
    ck_assert_int_eq(loadgen_config_load(&cfg, 2, argv, err, sizeof(err)), 0);
    struct loadgen_target t;
    ck_assert_int_eq(loadgen_target_init(&t, &cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(addr_port(&t.connect_to), 8080);
    ck_assert_uint_eq(t.request_len, strlen(t.request));
    loadgen_target_release(&t);
    loadgen_config_free(&cfg);

    char *argv2[] = {"loadgen", "--proxy", "127.0.0.1:3128", "http://198.19.1.2/obj1m", NULL};
    ck_assert_int_eq(loadgen_config_load(&cfg, 4, argv2, err, sizeof(err)), 0);
    ck_assert_int_eq(loadgen_target_init(&t, &cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(addr_port(&t.connect_to), 3128);
    ck_assert(strncmp(t.request, "GET http://198.19.1.2/obj1m HTTP/1.1\r\n", 38) == 0);
    loadgen_target_release(&t);
    loadgen_config_free(&cfg);
}
END_TEST

static Suite *loadgen_target_suite(void)
{
    Suite *s = suite_create("loadgen_target");
    TCase *tc = tcase_create("url");
    tcase_add_test(tc, test_loadgen_url_splits_host_port_path);
    tcase_add_test(tc, test_loadgen_url_refuses_what_it_cannot_send);
    suite_add_tcase(s, tc);
    tc = tcase_create("request");
    tcase_add_test(tc, test_loadgen_request_origin_form_keepalive);
    tcase_add_test(tc, test_loadgen_request_absolute_form_via_proxy);
    tcase_add_test(tc, test_loadgen_request_too_long_is_refused);
    tcase_add_test(tc, test_loadgen_target_connects_to_proxy_or_origin);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(loadgen_target_suite)
