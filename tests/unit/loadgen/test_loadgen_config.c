/* Unit tests for loadgen/config.c: defaults, the short forms (-n, -c, -H),
 * the URL anywhere on the line, the JSON file, and usage errors that name
 * the option. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check_main.h"
#include "../../../loadgen/config.h"

static struct loadgen_config cfg;
static char err[512];

#define LOAD(...)                                                                                  \
    ({                                                                                             \
        char *argv_[] = {"loadgen", __VA_ARGS__, NULL};                                            \
        err[0] = '\0';                                                                             \
        loadgen_config_load(&cfg, (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, err,         \
                            sizeof(err));                                                          \
    })

static void teardown(void)
{
    loadgen_config_free(&cfg);
}

START_TEST(test_loadgen_config_defaults)
{
    ck_assert_int_eq(LOAD("http://127.0.0.1:8080/obj1m"), 0);
    ck_assert_str_eq(cfg.url, "http://127.0.0.1:8080/obj1m");
    ck_assert_int_eq(cfg.concurrency, 10);
    ck_assert_uint_eq(cfg.requests, 0);
    ck_assert_uint_eq(cfg.duration_ms, 10000); /* no -n: 10 s */
    ck_assert_uint_eq(cfg.timeout_ms, 60000);
    ck_assert_int_eq(cfg.keepalive, 1);
    ck_assert(cfg.rate == 0);
    ck_assert_str_eq(cfg.testbed_prefix, "pp");
    ck_assert_int_eq(cfg.progress, -1);
    ck_assert_uint_eq(loadgen_config_clients(&cfg), 1);
}
END_TEST

START_TEST(test_loadgen_config_short_forms_and_url_anywhere)
{
    ck_assert_int_eq(LOAD("-n", "1000", "http://127.0.0.1/x", "-c1000", "-H",
                          "Accept-Encoding: gzip", "--no-keepalive"),
                     0);
    ck_assert_uint_eq(cfg.requests, 1000);
    ck_assert_int_eq(cfg.concurrency, 1000);
    ck_assert_uint_eq(cfg.duration_ms, 0); /* -n given: no default duration */
    ck_assert_str_eq(cfg.headers, "Accept-Encoding: gzip\r\n");
    ck_assert_int_eq(cfg.keepalive, 0);
    ck_assert_str_eq(cfg.url, "http://127.0.0.1/x");
}
END_TEST

START_TEST(test_loadgen_config_long_forms_with_equals)
{
    ck_assert_int_eq(LOAD("--requests=5", "--rate=250.5", "--warmup=1.5s", "--timeout=500ms",
                          "--duration=2m", "--label=fig4 run 3", "http://[::1]:81/a?b=c"),
                     0);
    ck_assert_uint_eq(cfg.requests, 5);
    ck_assert(cfg.rate == 250.5);
    ck_assert_uint_eq(cfg.warmup_ms, 1500);
    ck_assert_uint_eq(cfg.timeout_ms, 500);
    ck_assert_uint_eq(cfg.duration_ms, 120000);
    ck_assert_str_eq(cfg.label, "fig4 run 3");
}
END_TEST

START_TEST(test_loadgen_config_sources_make_clients)
{
    ck_assert_int_eq(LOAD("--source", "127.0.0.2", "--source", "127.0.0.3", "--source", "::1",
                          "http://127.0.0.1/"),
                     0);
    ck_assert_uint_eq(cfg.nsources, 3);
    ck_assert_uint_eq(loadgen_config_clients(&cfg), 3);
}
END_TEST

START_TEST(test_loadgen_config_testbed_clients)
{
    ck_assert_int_eq(
        LOAD("--testbed", "64", "--testbed-prefix", "lg123", "http://198.19.1.2/obj1m"), 0);
    ck_assert_uint_eq(loadgen_config_clients(&cfg), 64);
    ck_assert_str_eq(cfg.testbed_prefix, "lg123");
}
END_TEST

START_TEST(test_loadgen_config_proxy_parsed)
{
    ck_assert_int_eq(LOAD("--proxy", "127.0.0.1:3128", "http://198.19.1.2/obj1m"), 0);
    ck_assert_str_eq(cfg.proxy, "127.0.0.1:3128");
    ck_assert_int_eq(addr_port(&cfg.proxy_addr), 3128);
}
END_TEST

/* Each bad argument: exit 2 in main, one line naming the option. */
START_TEST(test_loadgen_config_errors_name_the_option)
{
    static const struct {
        const char *args[6];
        const char *want;
    } cases[] = {
        {{"-n", "-5", "http://a/"}, "-n/--requests:"},
        {{"-n", "0", "http://a/"}, "-n/--requests:"},
        {{"-c", "0", "http://a/"}, "-c/--concurrency:"},
        {{"-c", "many", "http://a/"}, "-c/--concurrency:"},
        {{"--rate", "-1", "http://a/"}, "--rate:"},
        {{"--duration", "0", "http://a/"}, "--duration:"},
        {{"--timeout", "0", "http://a/"}, "--timeout:"},
        {{"--warmup", "-2", "http://a/"}, "--warmup:"},
        {{"--proxy", "nohost", "http://a/"}, "--proxy:"},
        {{"--source", "1.2.3.4:80", "http://a/"}, "--source:"},
        {{"--testbed", "0", "http://a/"}, "--testbed:"},
        {{"--testbed-prefix", "Bad", "http://a/"}, "--testbed-prefix:"},
        {{"-H", "no colon", "http://a/"}, "-H/--header:"},
        {{"-H", "Host: x", "http://a/"}, "-H/--header:"},
        {{"--bogus", "http://a/"}, "unknown option"},
        {{"-x", "http://a/"}, "unknown option"},
        {{"ftp://a/"}, "not an http:// URL"},
        {{"https://a/"}, "https is not supported"},
        {{"http://a:0/"}, "port"},
        {{"http://a/#frag"}, "fragment"},
        {{"http://u@a/"}, "user"},
        {{"http://a/", "http://b/"}, "unexpected argument 'http://b/'"},
        {{"--csv", "x.csv"}, "no URL"},
        {{"--testbed", "2", "--source", "127.0.0.1", "http://a/"}, "exclude each other"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *argv[8] = {"loadgen"};
        int argc = 1;
        for (int k = 0; k < 6 && cases[i].args[k]; k++)
            argv[argc++] = (char *)cases[i].args[k];
        argv[argc] = NULL;
        err[0] = '\0';
        int rc = loadgen_config_load(&cfg, argc, argv, err, sizeof(err));
        ck_assert_msg(rc == -1, "case %zu (%s): rc %d", i, cases[i].want, rc);
        ck_assert_msg(strstr(err, cases[i].want) != NULL, "case %zu: '%s' lacks '%s'", i, err,
                      cases[i].want);
        ck_assert_msg(strchr(err, '\n') == NULL, "case %zu: one line", i);
        loadgen_config_free(&cfg);
    }
}
END_TEST

START_TEST(test_loadgen_config_json_file_and_command_line_wins)
{
    char path[] = "/tmp/test_loadgen_config.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *json = "{\"url\": \"http://127.0.0.1:8080/obj1m\", \"requests\": 1000, "
                       "\"concurrency\": 1000, \"label\": \"from file\", \"source\": "
                       "[\"127.0.0.2\", \"127.0.0.3\"], \"no_keepalive\": true}";
    ck_assert_int_eq(write(fd, json, strlen(json)), (int)strlen(json));
    close(fd);
    ck_assert_int_eq(LOAD("--config", path, "-c", "5"), 0);
    unlink(path);
    ck_assert_str_eq(cfg.url, "http://127.0.0.1:8080/obj1m");
    ck_assert_uint_eq(cfg.requests, 1000);
    ck_assert_int_eq(cfg.concurrency, 5); /* the command line wins */
    ck_assert_str_eq(cfg.label, "from file");
    ck_assert_uint_eq(cfg.nsources, 2);
    ck_assert_int_eq(cfg.keepalive, 0);
}
END_TEST

START_TEST(test_loadgen_config_help_returns_one)
{
    FILE *saved = stdout;
    stdout = fopen("/dev/null", "w");
    int rc = LOAD("--help");
    fclose(stdout);
    stdout = saved;
    ck_assert_int_eq(rc, 1);
}
END_TEST

static Suite *loadgen_config_suite(void)
{
    Suite *s = suite_create("loadgen_config");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_loadgen_config_defaults);
    tcase_add_test(tc, test_loadgen_config_short_forms_and_url_anywhere);
    tcase_add_test(tc, test_loadgen_config_long_forms_with_equals);
    tcase_add_test(tc, test_loadgen_config_sources_make_clients);
    tcase_add_test(tc, test_loadgen_config_testbed_clients);
    tcase_add_test(tc, test_loadgen_config_proxy_parsed);
    tcase_add_test(tc, test_loadgen_config_errors_name_the_option);
    tcase_add_test(tc, test_loadgen_config_json_file_and_command_line_wins);
    tcase_add_test(tc, test_loadgen_config_help_returns_one);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(loadgen_config_suite)
