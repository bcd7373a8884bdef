/* Unit tests for common/options.c: each kind of option parses into its
 * field, the table's one default sets the field and shows in --help, and a
 * bad value is one line naming the option, the value and the allowed range. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "../check_main.h"
#include "options.h"

struct demo_config {
    int verbose;
    int cache_enabled;
    char user[8];
    uint64_t mem_bytes;
    uint64_t timeout_ms;
    struct addr admin;
    int threads;
    int64_t big;
    int level;
    char mode[16];
    int customs;
};

static const char *const levels[] = {"debug", "info", "warn", NULL};
static const char *const modes[] = {"nat", "route", NULL};

static int set_custom(void *cfg, const char *v, char *err, size_t errlen)
{
    struct demo_config *c = cfg;
    if (strcmp(v, "bad") == 0) {
        snprintf(err, errlen, "custom says no");
        return -1;
    }
    c->customs++;
    return 0;
}

#define FIELD(member) OPTION_FIELD(struct demo_config, member)

static const struct option_def defs[] = {
    {"verbose", OPTION_FLAG, FIELD(verbose), .help = "talk"},
    {"no-cache", OPTION_FLAG_OFF, FIELD(cache_enabled), .help = "no cache", .deflt = "off"},
    {"user", OPTION_STRING, FIELD(user), .arg = "NAME", .help = "who", .deflt = "proxy", .min = 1},
    {"mem", OPTION_SIZE, FIELD(mem_bytes), .help = "memory", .deflt = "256M", .min = 1 << 20,
     .max = 1ll << 30, .limit_why = "what the box has"},
    {"timeout", OPTION_DURATION, FIELD(timeout_ms), .help = "wait", .deflt = "1.5s", .min = 1,
     .limit_why = "a timeout of 0 would fire at once"},
    {"admin", OPTION_ADDR, FIELD(admin), .help = "admin address", .deflt = "127.0.0.1:9100"},
    {"threads", OPTION_COUNT, FIELD(threads), .help = "threads", .deflt = "2", .min = 1, .max = 64},
    {"big", OPTION_COUNT, FIELD(big), .help = "a 64-bit count", .deflt = "5000000000", .min = 0,
     .max = 10000000000ll},
    {"level", OPTION_ENUM, FIELD(level), .help = "how loud", .deflt = "info", .names = levels},
    {"mode", OPTION_ENUM_NAME, FIELD(mode), .help = "how", .deflt = "nat", .names = modes},
    {"custom", .arg = "X", .help = "anything", .deflt_text = "nothing", .set = set_custom},
};

static const struct options_spec spec = {
    .program = "demo",
    .version = "1",
    .synopsis = "Usage: demo\n",
    .defs = defs,
    .ndefs = sizeof(defs) / sizeof(defs[0]),
};

static struct demo_config cfg;
static char err[256];

static int load(int argc, char **argv)
{
    memset(&cfg, 0, sizeof(cfg));
    ck_assert_msg(options_defaults(&spec, &cfg, err, sizeof(err)) == 0, "%s", err);
    err[0] = '\0';
    return options_load(&spec, &cfg, argc, argv, NULL, err, sizeof(err));
}

#define LOAD(...)                                                                                  \
    load((int)(sizeof((char *[]){"demo", __VA_ARGS__}) / sizeof(char *)),                          \
         (char *[]){"demo", __VA_ARGS__, NULL})

START_TEST(test_options_defaults_set_every_typed_field)
{
    char text[ADDR_STRLEN];
    ck_assert_int_eq(load(1, (char *[]){"demo", NULL}), 0);
    ck_assert_int_eq(cfg.verbose, 0);
    ck_assert_int_eq(cfg.cache_enabled, 1); /* --no-cache is off */
    ck_assert_str_eq(cfg.user, "proxy");
    ck_assert_uint_eq(cfg.mem_bytes, 256u << 20);
    ck_assert_uint_eq(cfg.timeout_ms, 1500);
    addr_format(&cfg.admin, text, sizeof(text));
    ck_assert_str_eq(text, "127.0.0.1:9100");
    ck_assert_int_eq(cfg.threads, 2);
    ck_assert(cfg.big == 5000000000ll);
    ck_assert_int_eq(cfg.level, 1);
    ck_assert_str_eq(cfg.mode, "nat");
    ck_assert_int_eq(cfg.customs, 0);
}
END_TEST

START_TEST(test_options_each_kind_parses_into_its_field)
{
    ck_assert_msg(LOAD("--verbose", "--no-cache", "--user", "nobody", "--mem", "512M", "--timeout",
                       "250ms", "--admin", "[::1]:8080", "--threads", "64", "--big", "0", "--level",
                       "WARN", "--mode", "Route", "--custom", "x", "--custom=y") == 0,
                  "%s", err);
    ck_assert_int_eq(cfg.verbose, 1);
    ck_assert_int_eq(cfg.cache_enabled, 0);
    ck_assert_str_eq(cfg.user, "nobody");
    ck_assert_uint_eq(cfg.mem_bytes, 512u << 20);
    ck_assert_uint_eq(cfg.timeout_ms, 250);
    ck_assert_int_eq(addr_port(&cfg.admin), 8080);
    ck_assert_int_eq(cfg.threads, 64);
    ck_assert(cfg.big == 0);
    ck_assert_int_eq(cfg.level, 2);
    ck_assert_str_eq(cfg.mode, "route"); /* the table's spelling, whatever the case typed */
    ck_assert_int_eq(cfg.customs, 2);
}
END_TEST

/* One line: the option, the value as typed, the range and why. */
START_TEST(test_options_range_errors_name_option_value_and_range)
{
    static const struct {
        const char *opt, *value, *want;
    } cases[] = {
        {"--threads", "65", "--threads: 65 is out of range 1..64"},
        {"--threads", "0", "--threads: 0 is out of range 1..64"},
        {"--big", "10000000001", "--big: 10000000001 is out of range 0..10000000000"},
        {"--mem", "2G", "--mem: 2G is out of range 1M..1G (what the box has)"},
        {"--mem", "1K", "--mem: 1K is out of range 1M..1G (what the box has)"},
        {"--timeout", "0",
         "--timeout: 0 is out of range (at least 1ms) (a timeout of 0 would fire at once)"},
        {"--user", "", "--user: must be 1 to 7 characters"},
        {"--user", "too-long-name", "--user: must be 1 to 7 characters"},
        {"--level", "loud", "--level: is debug, info or warn, not 'loud'"},
        {"--mode", "x", "--mode: is nat or route, not 'x'"},
        {"--custom", "bad", "--custom: custom says no"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(LOAD((char *)cases[i].opt, (char *)cases[i].value) == -1, "%s %s accepted",
                      cases[i].opt, cases[i].value);
        ck_assert_str_eq(err, cases[i].want);
    }
}
END_TEST

START_TEST(test_options_parse_errors_keep_the_parser_message)
{
    ck_assert_int_eq(LOAD("--threads", "two"), -1);
    ck_assert_str_eq(err, "--threads: invalid number \"two\"");
    ck_assert_int_eq(LOAD("--mem", "12X"), -1);
    ck_assert_ptr_nonnull(strstr(err, "--mem: invalid size"));
    ck_assert_int_eq(LOAD("--admin", "127.0.0.1"), -1);
    ck_assert_ptr_nonnull(strstr(err, "--admin: "));
}
END_TEST

START_TEST(test_options_help_shows_each_default_once)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    options_usage(&spec, f);
    fclose(f);
    static const char *const want[] = {
        "  --verbose\n",        "  --no-cache\n        no cache (default: off)",
        "  --user NAME\n",      "(default: proxy)",
        "  --mem SIZE\n",       "(default: 256M)",
        "  --timeout DURATION", "(default: 1.5s)",
        "  --admin ADDR:PORT",  "(default: 127.0.0.1:9100)",
        "  --threads N\n",      "  --level debug|info|warn\n",
        "(default: info)",      "  --mode nat|route\n",
        "  --custom X\n",       "anything (default: nothing)",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        ck_assert_msg(strstr(text, want[i]) != NULL, "--help lacks '%s':\n%s", want[i], text);
    ck_assert_ptr_null(strstr(text, "talk (default"));
    free(text);
}
END_TEST

START_TEST(test_options_bad_table_default_is_reported)
{
    static const struct option_def bad[] = {
        {"threads", OPTION_COUNT, FIELD(threads), .help = "t", .deflt = "100", .min = 1, .max = 64},
    };
    const struct options_spec s = {.program = "demo", .defs = bad, .ndefs = 1};
    ck_assert_int_eq(options_defaults(&s, &cfg, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "--threads: bad default: 100 is out of range 1..64");
}
END_TEST

START_TEST(test_options_json_values_go_through_the_same_kinds)
{
    char path[] = "/tmp/pp_test_options.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *json = "{\"threads\": 8, \"mem\": \"64M\", \"timeout\": 0.5, \"verbose\": true, "
                       "\"mode\": \"route\"}";
    ck_assert_int_eq(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    int rc = LOAD("--config", path);
    unlink(path);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_int_eq(cfg.threads, 8);
    ck_assert_uint_eq(cfg.mem_bytes, 64u << 20);
    ck_assert_uint_eq(cfg.timeout_ms, 500);
    ck_assert_int_eq(cfg.verbose, 1);
    ck_assert_str_eq(cfg.mode, "route");
}
END_TEST

static Suite *options_suite(void)
{
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("kinds");
    tcase_add_test(tc, test_options_defaults_set_every_typed_field);
    tcase_add_test(tc, test_options_each_kind_parses_into_its_field);
    tcase_add_test(tc, test_options_range_errors_name_option_value_and_range);
    tcase_add_test(tc, test_options_parse_errors_keep_the_parser_message);
    tcase_add_test(tc, test_options_help_shows_each_default_once);
    tcase_add_test(tc, test_options_bad_table_default_is_reported);
    tcase_add_test(tc, test_options_json_values_go_through_the_same_kinds);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(options_suite)
