/* Unit tests for proxyd/config.c: the defaults, the JSON file (--config) and
 * the command line over it, the errors for unknown or bad options and keys,
 * --reverse parsing, the default listener and the cache-size cross-check.
 * Each test builds an argv, writes its JSON files into a mkdtemp directory
 * (one per test case, removed by the parent even when a test fails), and
 * loads into one config that teardown frees. */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../proxyd/acl.h"
#include "../../../proxyd/config.h"
#include "../check_main.h"

#define MAX_ARGS 64
#define MAX_FILES 8

static char dir[64];
static char files[MAX_FILES][128];
static size_t nfiles;
static struct proxyd_config cfg;
static int loaded;
static char err[512];

/* The directory is made and removed in the parent, once per test case, so
 * that a failing test (whose child exits at once) leaves nothing behind. */
static void dir_create(void)
{
    snprintf(dir, sizeof(dir), "/tmp/pp_test_config.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
}

static void dir_remove(void)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[sizeof(dir) + 256];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

static void setup(void)
{
    nfiles = 0;
    loaded = 0;
}

static void teardown(void)
{
    if (loaded)
        config_free(&cfg);
    loaded = 0;
}

/* Writes text to dir/name and returns the path (valid until teardown). */
static const char *write_file(const char *name, const char *text)
{
    ck_assert_uint_lt(nfiles, MAX_FILES);
    char *path = files[nfiles++];
    snprintf(path, sizeof(files[0]), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

/* config_load with argv = "proxyd" then the arguments; NULL ends them. The
 * strings are copied: getopt_long may permute argv. */
static int load_args(const char *arg, ...)
{
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    va_list ap;
    argv[argc++] = strdup("proxyd");
    va_start(ap, arg);
    for (; arg; arg = va_arg(ap, const char *)) {
        ck_assert_int_lt(argc, MAX_ARGS);
        argv[argc++] = strdup(arg);
    }
    va_end(ap);
    argv[argc] = NULL;
    if (loaded)
        config_free(&cfg);
    err[0] = '\0';
    int rc = config_load(&cfg, argc, argv, err, sizeof(err));
    loaded = 1;
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return rc;
}
#define LOAD(...) load_args(__VA_ARGS__, (const char *)NULL)
#define LOAD_NOTHING() load_args((const char *)NULL)

/* Loading must fail with an error that mentions `needle`. */
#define ASSERT_REJECTED(needle, ...)                                                               \
    do {                                                                                           \
        int rc_ = LOAD(__VA_ARGS__);                                                               \
        ck_assert_msg(rc_ == -1, "accepted (rc %d), wanted an error about '%s'", rc_, needle);     \
        ck_assert_msg(strstr(err, needle) != NULL, "error '%s' does not mention '%s'", err,        \
                      needle);                                                                     \
    } while (0)

/* Loading the JSON text as the only source must fail mentioning `needle`. */
static void assert_json_rejected(const char *json, const char *needle)
{
    const char *path = write_file("reject.json", json);
    int rc = LOAD("--config", path);
    ck_assert_msg(rc == -1, "%s: accepted (rc %d)", json, rc);
    ck_assert_msg(strstr(err, needle) != NULL, "%s: error '%s' does not mention '%s'", json, err,
                  needle);
    unlink(path);
    nfiles--;
}

static const char *listener_text(size_t i)
{
    static char buf[ADDR_STRLEN];
    ck_assert_uint_lt(i, cfg.nlisteners);
    addr_format(&cfg.listeners[i].addr, buf, sizeof(buf));
    return buf;
}

static int client_allowed(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    sin->sin_family = AF_INET;
    ck_assert_int_eq(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
    const char *reason = NULL;
    return acl_check_client(cfg.acl, (struct sockaddr *)&ss, &reason);
}

static int dest_allowed(const char *host, int port, int is_connect)
{
    const char *reason = NULL;
    return acl_check_dest(cfg.acl, host, strlen(host), port, is_connect, &reason);
}

/* Runs config_load with stdout going to a file; returns what was printed. */
static char *load_capturing_stdout(const char *arg, int *rc)
{
    static char out[16384];
    char path[128];
    snprintf(path, sizeof(path), "%s/stdout", dir);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(fd, 0);
    dup2(fd, STDOUT_FILENO);
    close(fd);
    *rc = LOAD(arg);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    fclose(f);
    return out;
}

/* ---- defaults and the command line ---- */

START_TEST(test_config_defaults)
{
    ck_assert_int_eq(LOAD_NOTHING(), 0);
    ck_assert_uint_eq(cfg.nlisteners, 1);
    ck_assert_int_eq(cfg.listeners[0].mode, LISTEN_FORWARD);
    ck_assert_str_eq(listener_text(0), "127.0.0.1:3128");
    ck_assert_int_eq(cfg.have_admin, 0);
    ck_assert_uint_gt(strlen(cfg.name), 0);
    ck_assert_uint_eq(cfg.cache_mem_bytes, 256ull << 20);
    ck_assert_uint_eq(cfg.max_object_bytes, 1ull << 20);
    ck_assert_int_eq(cfg.cache_enabled, 1);
    ck_assert_int_eq(cfg.threads, 1);
    ck_assert_str_eq(cfg.access_log, "");
    ck_assert_ptr_nonnull(cfg.acl);
    ck_assert_uint_eq(cfg.connect_timeout_ms, 5000);
    ck_assert_uint_eq(cfg.origin_timeout_ms, 60000);
    ck_assert_uint_eq(cfg.header_timeout_ms, 10000);
    ck_assert_uint_eq(cfg.idle_timeout_ms, 30000);
    ck_assert_uint_eq(cfg.client_timeout_ms, 60000);
    ck_assert_uint_eq(cfg.shutdown_timeout_ms, 30000);
    ck_assert_uint_eq(cfg.max_connections, 16384);
    ck_assert_int_eq(cfg.log_level, LOG_LEVEL_INFO);
    /* The default ACL: loopback and private networks, not the world. */
    ck_assert(client_allowed("127.0.0.1"));
    ck_assert(client_allowed("10.1.2.3"));
    ck_assert(!client_allowed("8.8.8.8"));
    ck_assert(dest_allowed("example.com", 443, 1));
    ck_assert(!dest_allowed("example.com", 25, 0));
}
END_TEST

START_TEST(test_config_command_line_sets_each_option)
{
    ck_assert_int_eq(
        LOAD("--listen", "0.0.0.0:8080", "--admin", "127.0.0.1:9101", "--name", "p1.test_x",
             "--cache-mem", "64M", "--max-object-size", "512K", "--threads", "4", "--access-log",
             "/var/log/proxyd.log", "--connect-timeout", "500ms", "--origin-timeout", "2m",
             "--header-timeout", "3s", "--idle-timeout", "1.5s", "--client-timeout", "90",
             "--shutdown-timeout", "1h", "--max-connections", "100", "--log-level", "debug"),
        0);
    ck_assert_uint_eq(cfg.nlisteners, 1);
    ck_assert_str_eq(listener_text(0), "0.0.0.0:8080");
    ck_assert_int_eq(cfg.have_admin, 1);
    char admin[ADDR_STRLEN];
    addr_format(&cfg.admin, admin, sizeof(admin));
    ck_assert_str_eq(admin, "127.0.0.1:9101");
    ck_assert_str_eq(cfg.name, "p1.test_x");
    ck_assert_uint_eq(cfg.cache_mem_bytes, 64ull << 20);
    ck_assert_uint_eq(cfg.max_object_bytes, 512ull << 10);
    ck_assert_int_eq(cfg.cache_enabled, 1);
    ck_assert_int_eq(cfg.threads, 4);
    ck_assert_str_eq(cfg.access_log, "/var/log/proxyd.log");
    ck_assert_uint_eq(cfg.connect_timeout_ms, 500);
    ck_assert_uint_eq(cfg.origin_timeout_ms, 120000);
    ck_assert_uint_eq(cfg.header_timeout_ms, 3000);
    ck_assert_uint_eq(cfg.idle_timeout_ms, 1500);
    ck_assert_uint_eq(cfg.client_timeout_ms, 90000);
    ck_assert_uint_eq(cfg.shutdown_timeout_ms, 3600000);
    ck_assert_uint_eq(cfg.max_connections, 100);
    ck_assert_int_eq(cfg.log_level, LOG_LEVEL_DEBUG);
}
END_TEST

START_TEST(test_config_no_cache_flag_turns_cache_off)
{
    ck_assert_int_eq(LOAD("--no-cache"), 0);
    ck_assert_int_eq(cfg.cache_enabled, 0);
}
END_TEST

START_TEST(test_config_option_value_after_equals_sign)
{
    ck_assert_int_eq(LOAD("--threads=8", "--cache-mem=1G"), 0);
    ck_assert_int_eq(cfg.threads, 8);
    ck_assert_uint_eq(cfg.cache_mem_bytes, 1ull << 30);
}
END_TEST

START_TEST(test_config_last_of_a_single_option_wins)
{
    ck_assert_int_eq(LOAD("--threads", "2", "--threads", "3"), 0);
    ck_assert_int_eq(cfg.threads, 3);
}
END_TEST

START_TEST(test_config_acl_options_reach_the_acl)
{
    ck_assert_int_eq(LOAD("--allow", "192.0.2.0/24", "--allow", "198.51.100.7", "--deny-dest",
                          ".blocked.test", "--allow-port", "8080", "--connect-port", "8443-8444"),
                     0);
    ck_assert(client_allowed("192.0.2.77"));
    ck_assert(client_allowed("198.51.100.7"));
    ck_assert(!client_allowed("127.0.0.1")); /* the first --allow replaced the defaults */
    ck_assert(!dest_allowed("www.blocked.test", 8080, 0));
    ck_assert(dest_allowed("open.test", 8080, 0));
    ck_assert(!dest_allowed("open.test", 80, 0));
    ck_assert(dest_allowed("open.test", 8444, 1));
    ck_assert(!dest_allowed("open.test", 443, 1));
}
END_TEST

/* ---- listeners ---- */

START_TEST(test_config_default_listener_only_when_none_given)
{
    ck_assert_int_eq(LOAD("--admin", "127.0.0.1:9101"), 0);
    ck_assert_uint_eq(cfg.nlisteners, 1);
    ck_assert_str_eq(listener_text(0), "127.0.0.1:3128");

    ck_assert_int_eq(LOAD("--intercept", "127.0.0.1:3129"), 0);
    ck_assert_uint_eq(cfg.nlisteners, 1);
    ck_assert_int_eq(cfg.listeners[0].mode, LISTEN_INTERCEPT);
    ck_assert_str_eq(listener_text(0), "127.0.0.1:3129");
}
END_TEST

START_TEST(test_config_listeners_keep_order_and_mode)
{
    ck_assert_int_eq(LOAD("--listen", "127.0.0.1:3128", "--reverse",
                          "127.0.0.1:8080=http://origin.test:8081", "--intercept", "[::1]:3129",
                          "--listen", "*:3130"),
                     0);
    ck_assert_uint_eq(cfg.nlisteners, 4);
    ck_assert_int_eq(cfg.listeners[0].mode, LISTEN_FORWARD);
    ck_assert_int_eq(cfg.listeners[1].mode, LISTEN_REVERSE);
    ck_assert_int_eq(cfg.listeners[2].mode, LISTEN_INTERCEPT);
    ck_assert_int_eq(cfg.listeners[3].mode, LISTEN_FORWARD);
    ck_assert_str_eq(listener_text(0), "127.0.0.1:3128");
    ck_assert_str_eq(listener_text(1), "127.0.0.1:8080");
    ck_assert_str_eq(listener_text(2), "[::1]:3129");
    ck_assert_str_eq(listener_text(3), "0.0.0.0:3130");
}
END_TEST

START_TEST(test_config_rejects_more_than_16_listeners)
{
    char ports[PROXYD_MAX_LISTENERS + 1][32];
    for (int i = 0; i <= PROXYD_MAX_LISTENERS; i++)
        snprintf(ports[i], sizeof(ports[i]), "--listen=127.0.0.1:%d", 4000 + i);
    ck_assert_int_eq(LOAD(ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6],
                          ports[7], ports[8], ports[9], ports[10], ports[11], ports[12], ports[13],
                          ports[14], ports[15]),
                     0);
    ck_assert_uint_eq(cfg.nlisteners, PROXYD_MAX_LISTENERS);
    ASSERT_REJECTED("at most 16", ports[0], ports[1], ports[2], ports[3], ports[4], ports[5],
                    ports[6], ports[7], ports[8], ports[9], ports[10], ports[11], ports[12],
                    ports[13], ports[14], ports[15], ports[16]);
}
END_TEST

START_TEST(test_config_rejects_bad_port)
{
    ASSERT_REJECTED("--listen", "--listen", "127.0.0.1:70000");
    ASSERT_REJECTED("--listen", "--listen", "127.0.0.1:0");
    ASSERT_REJECTED("--listen", "--listen", "127.0.0.1"); /* the port is required */
    ASSERT_REJECTED("--listen", "--listen", "127.0.0.1:http");
    ASSERT_REJECTED("--intercept", "--intercept", "127.0.0.1:-1");
    ASSERT_REJECTED("--admin", "--admin", "127.0.0.1:99999");
    ASSERT_REJECTED("--admin", "--admin", "::1:9101"); /* IPv6 needs brackets */
}
END_TEST

START_TEST(test_config_reverse_parses_origin)
{
    ck_assert_int_eq(LOAD("--reverse", "127.0.0.1:8080=http://origin.example:8081"), 0);
    ck_assert_uint_eq(cfg.nlisteners, 1); /* no default forward listener beside it */
    const struct listen_spec *ls = &cfg.listeners[0];
    ck_assert_int_eq(ls->mode, LISTEN_REVERSE);
    ck_assert_str_eq(listener_text(0), "127.0.0.1:8080");
    ck_assert_str_eq(ls->origin_host, "origin.example");
    ck_assert_int_eq(ls->origin_port, 8081);
}
END_TEST

START_TEST(test_config_reverse_origin_port_defaults_to_80)
{
    ck_assert_int_eq(LOAD("--reverse", "127.0.0.1:8080=http://origin.example", "--reverse",
                          "127.0.0.1:8081=http://10.0.0.5/"),
                     0);
    ck_assert_str_eq(cfg.listeners[0].origin_host, "origin.example");
    ck_assert_int_eq(cfg.listeners[0].origin_port, 80);
    ck_assert_str_eq(cfg.listeners[1].origin_host, "10.0.0.5");
    ck_assert_int_eq(cfg.listeners[1].origin_port, 80);
}
END_TEST

START_TEST(test_config_reverse_ipv6_origin)
{
    ck_assert_int_eq(LOAD("--reverse", "[::1]:8080=http://[::1]:9000", "--reverse",
                          "127.0.0.1:8081=http://[2001:db8::1]"),
                     0);
    ck_assert_str_eq(listener_text(0), "[::1]:8080");
    ck_assert_str_eq(cfg.listeners[0].origin_host, "[::1]");
    ck_assert_int_eq(cfg.listeners[0].origin_port, 9000);
    ck_assert_str_eq(cfg.listeners[1].origin_host, "[2001:db8::1]");
    ck_assert_int_eq(cfg.listeners[1].origin_port, 80);
}
END_TEST

START_TEST(test_config_reverse_rejects_malformed_specs)
{
    ASSERT_REJECTED("ADDR:PORT=http://HOST:PORT", "--reverse", "127.0.0.1:8080");
    ASSERT_REJECTED("http://HOST:PORT", "--reverse", "127.0.0.1:8080=https://origin:443");
    ASSERT_REJECTED("http://HOST:PORT", "--reverse", "127.0.0.1:8080=origin:80");
    ASSERT_REJECTED("http://HOST:PORT", "--reverse", "127.0.0.1:8080=http://");
    ASSERT_REJECTED("http://HOST:PORT", "--reverse", "127.0.0.1:8080=http://:80");
    ASSERT_REJECTED("http://HOST:PORT", "--reverse", "127.0.0.1:8080=http://origin/path");
    ASSERT_REJECTED("origin port", "--reverse", "127.0.0.1:8080=http://origin:0");
    ASSERT_REJECTED("origin port", "--reverse", "127.0.0.1:8080=http://origin:65536");
    ASSERT_REJECTED("origin port", "--reverse", "127.0.0.1:8080=http://origin:");
    ASSERT_REJECTED("origin port", "--reverse", "127.0.0.1:8080=http://origin:80/x");
    ASSERT_REJECTED("listening address", "--reverse", "127.0.0.1=http://origin:80");
    ASSERT_REJECTED("listening address", "--reverse", "=http://origin:80");
}
END_TEST

/* ---- bad values ---- */

START_TEST(test_config_rejects_bad_size)
{
    ASSERT_REJECTED("--cache-mem", "--cache-mem", "12X");
    ASSERT_REJECTED("--cache-mem", "--cache-mem", "-1");
    ASSERT_REJECTED("--cache-mem", "--cache-mem", "");
    ASSERT_REJECTED("--cache-mem", "--cache-mem", "64M extra");
    ASSERT_REJECTED("--max-object-size", "--max-object-size", "1Q");
    ASSERT_REJECTED("--max-object-size", "--max-object-size", "99999999999T");
}
END_TEST

START_TEST(test_config_rejects_bad_duration)
{
    ASSERT_REJECTED("--connect-timeout", "--connect-timeout", "5 parsecs");
    ASSERT_REJECTED("--origin-timeout", "--origin-timeout", "-1s");
    ASSERT_REJECTED("--header-timeout", "--header-timeout", "31d");
    ASSERT_REJECTED("--idle-timeout", "--idle-timeout", "800h"); /* over 30 days */
    ASSERT_REJECTED("fire at once", "--client-timeout", "0");
    ASSERT_REJECTED("fire at once", "--shutdown-timeout", "0ms");
}
END_TEST

START_TEST(test_config_rejects_threads_out_of_range)
{
    ASSERT_REJECTED("--threads", "--threads", "0");
    ASSERT_REJECTED("--threads", "--threads", "65");
    ASSERT_REJECTED("--threads", "--threads", "-2");
    ASSERT_REJECTED("--threads", "--threads", "two");
    ASSERT_REJECTED("--threads", "--threads", "4.5");
    ck_assert_int_eq(LOAD("--threads", "64"), 0);
    ck_assert_int_eq(cfg.threads, 64);
}
END_TEST

START_TEST(test_config_rejects_bad_max_connections)
{
    ASSERT_REJECTED("--max-connections", "--max-connections", "0");
    ASSERT_REJECTED("--max-connections", "--max-connections", "10000001");
    ASSERT_REJECTED("--max-connections", "--max-connections", "lots");
}
END_TEST

START_TEST(test_config_rejects_bad_name)
{
    ASSERT_REJECTED("--name", "--name", "");
    ASSERT_REJECTED("--name", "--name", "has space");
    ASSERT_REJECTED("--name", "--name", "semi;colon");
    ASSERT_REJECTED("--name", "--name",
                    "0123456789012345678901234567890123456789012345678901234567890123");
    ck_assert_int_eq(
        LOAD("--name", "012345678901234567890123456789012345678901234567890123456789012"), 0);
    ck_assert_uint_eq(strlen(cfg.name), 63);
}
END_TEST

START_TEST(test_config_rejects_bad_log_level)
{
    ASSERT_REJECTED("--log-level", "--log-level", "loud");
    ck_assert_int_eq(LOAD("--log-level", "WARN"), 0);
    ck_assert_int_eq(cfg.log_level, LOG_LEVEL_WARN);
}
END_TEST

START_TEST(test_config_rejects_bad_acl_entries)
{
    ASSERT_REJECTED("--allow", "--allow", "10.0.0.1/8");
    ASSERT_REJECTED("--allow", "--allow", "not-a-network");
    ASSERT_REJECTED("--allow-port", "--allow-port", "0");
    ASSERT_REJECTED("--allow-port", "--allow-port", "90-80");
    ASSERT_REJECTED("--connect-port", "--connect-port", "70000");
    ASSERT_REJECTED("--deny-dest", "--deny-dest", "");
}
END_TEST

START_TEST(test_config_rejects_overlong_access_log)
{
    char path[1100];
    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    ASSERT_REJECTED("--access-log", "--access-log", path);
}
END_TEST

START_TEST(test_config_rejects_unknown_option)
{
    ASSERT_REJECTED("--bogus", "--bogus");
    ASSERT_REJECTED("--listen-here", "--listen-here", "127.0.0.1:1");
}
END_TEST

START_TEST(test_config_rejects_missing_value)
{
    ASSERT_REJECTED("--threads", "--threads");
    ASSERT_REJECTED("--config", "--config");
}
END_TEST

START_TEST(test_config_rejects_value_for_flag)
{
    ASSERT_REJECTED("--no-cache", "--no-cache=yes");
}
END_TEST

START_TEST(test_config_rejects_unexpected_argument)
{
    ASSERT_REJECTED("stray", "--threads", "2", "stray");
    ASSERT_REJECTED("stray", "stray", "--threads", "2");
}
END_TEST

/* ---- the JSON file ---- */

START_TEST(test_config_json_file_sets_options)
{
    const char *path =
        write_file("proxyd.json", "{\n"
                                  "  \"listen\": [\"127.0.0.1:4001\", \"127.0.0.1:4002\"],\n"
                                  "  \"reverse\": \"127.0.0.1:4003=http://origin.test:81\",\n"
                                  "  \"admin\": \"127.0.0.1:9101\",\n"
                                  "  \"name\": \"from-file\",\n"
                                  "  \"cache_mem\": \"32M\",\n"
                                  "  \"max-object-size\": \"2M\",\n"
                                  "  \"threads\": 3,\n"
                                  "  \"connect_timeout\": \"250ms\",\n"
                                  "  \"allow\": [\"192.0.2.0/24\"],\n"
                                  "  \"log_level\": \"error\"\n"
                                  "}\n");
    ck_assert_int_eq(LOAD("--config", path), 0);
    ck_assert_uint_eq(cfg.nlisteners, 3);
    ck_assert_str_eq(listener_text(0), "127.0.0.1:4001");
    ck_assert_str_eq(listener_text(1), "127.0.0.1:4002");
    ck_assert_int_eq(cfg.listeners[2].mode, LISTEN_REVERSE);
    ck_assert_str_eq(cfg.listeners[2].origin_host, "origin.test");
    ck_assert_int_eq(cfg.listeners[2].origin_port, 81);
    ck_assert_int_eq(cfg.have_admin, 1);
    ck_assert_str_eq(cfg.name, "from-file");
    ck_assert_uint_eq(cfg.cache_mem_bytes, 32ull << 20);
    ck_assert_uint_eq(cfg.max_object_bytes, 2ull << 20);
    ck_assert_int_eq(cfg.threads, 3);
    ck_assert_uint_eq(cfg.connect_timeout_ms, 250);
    ck_assert(client_allowed("192.0.2.1"));
    ck_assert(!client_allowed("127.0.0.1"));
    ck_assert_int_eq(cfg.log_level, LOG_LEVEL_ERROR);
    ck_assert_int_eq(cfg.cache_enabled, 1);
}
END_TEST

START_TEST(test_config_json_flag_true_sets_it_false_leaves_it)
{
    const char *on = write_file("on.json", "{\"no_cache\": true}");
    const char *off = write_file("off.json", "{\"no-cache\": false}");
    ck_assert_int_eq(LOAD("--config", on), 0);
    ck_assert_int_eq(cfg.cache_enabled, 0);
    ck_assert_int_eq(LOAD("--config", off), 0);
    ck_assert_int_eq(cfg.cache_enabled, 1);
}
END_TEST

START_TEST(test_config_json_numbers_as_values)
{
    const char *path = write_file("n.json", "{\"cache_mem\": 1048576, \"max_object_size\": 4096, "
                                            "\"max_connections\": 500, \"idle_timeout\": 45}");
    ck_assert_int_eq(LOAD("--config", path), 0);
    ck_assert_uint_eq(cfg.cache_mem_bytes, 1048576);
    ck_assert_uint_eq(cfg.max_object_bytes, 4096);
    ck_assert_uint_eq(cfg.max_connections, 500);
    ck_assert_uint_eq(cfg.idle_timeout_ms, 45000);
}
END_TEST

/* A duration may have a fraction ("1.5s"); as a JSON number it must keep it. */
START_TEST(test_config_json_fractional_duration_kept)
{
    const char *path = write_file("d.json", "{\"connect_timeout\": 1.5}");
    int rc = LOAD("--config", path);
    ck_assert_msg(rc == 0, "rejected: %s", err);
    ck_assert_uint_eq(cfg.connect_timeout_ms, 1500);
}
END_TEST

/* "threads": 2.5 is no more a whole number than "--threads 2.5" is. */
START_TEST(test_config_json_fractional_integer_rejected)
{
    const char *path = write_file("t.json", "{\"threads\": 2.5}");
    int rc = LOAD("--config", path);
    ck_assert_msg(rc == -1, "accepted as threads = %d", cfg.threads);
    ck_assert_ptr_nonnull(strstr(err, "threads"));
}
END_TEST

/* Flags are given as true (or false); a string or a number is a type error,
 * never a silent "on" ("no_cache": "false" must not turn the cache off). */
START_TEST(test_config_json_flag_takes_only_booleans)
{
    static const char *const texts[] = {"{\"no_cache\": \"false\"}", "{\"no_cache\": 0}"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        const char *path = write_file("f.json", texts[i]);
        int rc = LOAD("--config", path);
        ck_assert_msg(rc == -1, "%s: accepted, cache_enabled = %d", texts[i], cfg.cache_enabled);
        ck_assert_ptr_nonnull(strstr(err, "wrong type"));
        unlink(path);
        nfiles--;
    }
}
END_TEST

START_TEST(test_config_json_file_then_command_line_wins)
{
    const char *path =
        write_file("p.json", "{\"threads\": 8, \"cache_mem\": \"128M\", \"name\": \"file\", "
                             "\"log_level\": \"warn\", \"idle_timeout\": \"5s\"}");
    ck_assert_int_eq(LOAD("--threads", "2", "--config", path, "--name", "cli"), 0);
    ck_assert_int_eq(cfg.threads, 2);  /* before --config on the line: still wins */
    ck_assert_str_eq(cfg.name, "cli"); /* after it */
    ck_assert_uint_eq(cfg.cache_mem_bytes, 128ull << 20); /* only in the file */
    ck_assert_int_eq(cfg.log_level, LOG_LEVEL_WARN);
    ck_assert_uint_eq(cfg.idle_timeout_ms, 5000);
    ck_assert_uint_eq(cfg.header_timeout_ms, 10000); /* in neither: default */
}
END_TEST

START_TEST(test_config_rejects_unknown_key)
{
    assert_json_rejected("{\"threads\": 2, \"bogus\": 1}", "'bogus'");
    assert_json_rejected("{\"config\": \"other.json\"}", "'config'");
    assert_json_rejected("{\"Threads\": 2}", "'Threads'");
    assert_json_rejected("{\"no__cache\": true}", "'no__cache'");
}
END_TEST

START_TEST(test_config_rejects_wrong_json_type)
{
    assert_json_rejected("{\"threads\": true}", "wrong type");
    assert_json_rejected("{\"name\": {\"a\": 1}}", "wrong type");
    assert_json_rejected("{\"listen\": [[\"127.0.0.1:1\"]]}", "wrong type");
    assert_json_rejected("{\"cache_mem\": null}", "wrong type");
}
END_TEST

START_TEST(test_config_rejects_bad_value_in_file)
{
    assert_json_rejected("{\"cache_mem\": \"lots\"}", "--cache-mem");
    assert_json_rejected("{\"threads\": 0}", "--threads");
    assert_json_rejected("{\"listen\": [\"127.0.0.1:1\", \"127.0.0.1:70000\"]}", "--listen");
    assert_json_rejected("{\"reverse\": \"127.0.0.1:1=ftp://x\"}", "--reverse");
}
END_TEST

START_TEST(test_config_rejects_malformed_json)
{
    assert_json_rejected("{\"threads\": 2", "not a JSON object");
    assert_json_rejected("[\"--threads\", \"2\"]", "not a JSON object");
    assert_json_rejected("\"threads\"", "not a JSON object");
    assert_json_rejected("   ", "not a JSON object");
    assert_json_rejected("", "empty");
}
END_TEST

START_TEST(test_config_rejects_missing_config_file)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/absent.json", dir);
    ASSERT_REJECTED("cannot open", "--config", path);
}
END_TEST

/* ---- the cache-size cross-check ---- */

START_TEST(test_config_max_object_larger_than_cache_rejected)
{
    ASSERT_REJECTED("--max-object-size", "--cache-mem", "1M", "--max-object-size", "2M");
    ASSERT_REJECTED("larger than --cache-mem", "--cache-mem", "512K");
}
END_TEST

START_TEST(test_config_max_object_equal_to_cache_accepted)
{
    ck_assert_int_eq(LOAD("--cache-mem", "1M", "--max-object-size", "1M"), 0);
    ck_assert_uint_eq(cfg.max_object_bytes, cfg.cache_mem_bytes);
}
END_TEST

START_TEST(test_config_max_object_check_skipped_without_cache)
{
    ck_assert_int_eq(LOAD("--cache-mem", "1M", "--max-object-size", "2M", "--no-cache"), 0);
    ck_assert_int_eq(cfg.cache_enabled, 0);
}
END_TEST

START_TEST(test_config_max_object_check_uses_final_values)
{
    const char *path = write_file("s.json", "{\"cache_mem\": \"1M\", \"max_object_size\": \"2M\"}");
    ASSERT_REJECTED("larger than --cache-mem", "--config", path);
    ck_assert_int_eq(LOAD("--config", path, "--cache-mem", "4M"), 0);
    ck_assert_uint_eq(cfg.cache_mem_bytes, 4ull << 20);
    ck_assert_uint_eq(cfg.max_object_bytes, 2ull << 20);
}
END_TEST

/* ---- help, version, reloading ---- */

START_TEST(test_config_help_prints_usage_and_returns_1)
{
    int rc;
    const char *out = load_capturing_stdout("--help", &rc);
    ck_assert_int_eq(rc, 1);
    ck_assert_ptr_nonnull(strstr(out, "Usage: proxyd"));
    ck_assert_ptr_nonnull(strstr(out, "--cache-mem SIZE"));
    ck_assert_ptr_nonnull(strstr(out, "(default: 256M)"));
}
END_TEST

START_TEST(test_config_version_prints_version_and_returns_1)
{
    int rc;
    const char *out = load_capturing_stdout("--version", &rc);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strncmp(out, "proxyd ", 7) == 0, "printed '%s'", out);
}
END_TEST

START_TEST(test_config_usage_lists_every_option)
{
    static const char *const names[] = {
        "--config FILE",        "--listen ADDR:PORT", "--intercept ADDR:PORT",
        "--reverse ADDR:PORT=", "--admin ADDR:PORT",  "--name NAME",
        "--cache-mem SIZE",     "--max-object-size",  "--no-cache",
        "--allow CIDR",         "--deny-dest",        "--allow-port",
        "--connect-port",       "--threads N",        "--access-log FILE",
        "--connect-timeout",    "--origin-timeout",   "--header-timeout",
        "--idle-timeout",       "--client-timeout",   "--shutdown-timeout",
        "--max-connections N",  "--log-level LEVEL",  "--help",
    };
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    config_usage(f);
    fclose(f);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        ck_assert_msg(strstr(text, names[i]) != NULL, "--help lacks '%s'", names[i]);
    free(text);
}
END_TEST

START_TEST(test_config_loads_twice_in_one_process)
{
    ck_assert_int_eq(LOAD("--threads", "5", "--name", "first"), 0);
    ck_assert_int_eq(LOAD("--cache-mem", "8M"), 0);
    ck_assert_int_eq(cfg.threads, 1); /* nothing carried over */
    ck_assert_str_ne(cfg.name, "first");
    ck_assert_uint_eq(cfg.cache_mem_bytes, 8ull << 20);
    ASSERT_REJECTED("--bogus", "--bogus");
    ck_assert_int_eq(LOAD("--threads", "6"), 0);
    ck_assert_int_eq(cfg.threads, 6);
}
END_TEST

START_TEST(test_config_free_twice_is_harmless)
{
    ck_assert_int_eq(LOAD_NOTHING(), 0);
    config_free(&cfg);
    ck_assert_ptr_null(cfg.acl);
    config_free(&cfg);
    loaded = 0;
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("command line");
    tcase_add_unchecked_fixture(tc, dir_create, dir_remove);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_config_defaults);
    tcase_add_test(tc, test_config_command_line_sets_each_option);
    tcase_add_test(tc, test_config_no_cache_flag_turns_cache_off);
    tcase_add_test(tc, test_config_option_value_after_equals_sign);
    tcase_add_test(tc, test_config_last_of_a_single_option_wins);
    tcase_add_test(tc, test_config_acl_options_reach_the_acl);
    suite_add_tcase(s, tc);

    tc = tcase_create("listeners");
    tcase_add_unchecked_fixture(tc, dir_create, dir_remove);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_config_default_listener_only_when_none_given);
    tcase_add_test(tc, test_config_listeners_keep_order_and_mode);
    tcase_add_test(tc, test_config_rejects_more_than_16_listeners);
    tcase_add_test(tc, test_config_rejects_bad_port);
    tcase_add_test(tc, test_config_reverse_parses_origin);
    tcase_add_test(tc, test_config_reverse_origin_port_defaults_to_80);
    tcase_add_test(tc, test_config_reverse_ipv6_origin);
    tcase_add_test(tc, test_config_reverse_rejects_malformed_specs);
    suite_add_tcase(s, tc);

    tc = tcase_create("bad values");
    tcase_add_unchecked_fixture(tc, dir_create, dir_remove);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_config_rejects_bad_size);
    tcase_add_test(tc, test_config_rejects_bad_duration);
    tcase_add_test(tc, test_config_rejects_threads_out_of_range);
    tcase_add_test(tc, test_config_rejects_bad_max_connections);
    tcase_add_test(tc, test_config_rejects_bad_name);
    tcase_add_test(tc, test_config_rejects_bad_log_level);
    tcase_add_test(tc, test_config_rejects_bad_acl_entries);
    tcase_add_test(tc, test_config_rejects_overlong_access_log);
    tcase_add_test(tc, test_config_rejects_unknown_option);
    tcase_add_test(tc, test_config_rejects_missing_value);
    tcase_add_test(tc, test_config_rejects_value_for_flag);
    tcase_add_test(tc, test_config_rejects_unexpected_argument);
    suite_add_tcase(s, tc);

    tc = tcase_create("json");
    tcase_add_unchecked_fixture(tc, dir_create, dir_remove);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_config_json_file_sets_options);
    tcase_add_test(tc, test_config_json_flag_true_sets_it_false_leaves_it);
    tcase_add_test(tc, test_config_json_numbers_as_values);
    tcase_add_test(tc, test_config_json_fractional_duration_kept);
    tcase_add_test(tc, test_config_json_fractional_integer_rejected);
    tcase_add_test(tc, test_config_json_flag_takes_only_booleans);
    tcase_add_test(tc, test_config_json_file_then_command_line_wins);
    tcase_add_test(tc, test_config_rejects_unknown_key);
    tcase_add_test(tc, test_config_rejects_wrong_json_type);
    tcase_add_test(tc, test_config_rejects_bad_value_in_file);
    tcase_add_test(tc, test_config_rejects_malformed_json);
    tcase_add_test(tc, test_config_rejects_missing_config_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("cache sizes");
    tcase_add_unchecked_fixture(tc, dir_create, dir_remove);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_config_max_object_larger_than_cache_rejected);
    tcase_add_test(tc, test_config_max_object_equal_to_cache_accepted);
    tcase_add_test(tc, test_config_max_object_check_skipped_without_cache);
    tcase_add_test(tc, test_config_max_object_check_uses_final_values);
    suite_add_tcase(s, tc);

    tc = tcase_create("help");
    tcase_add_unchecked_fixture(tc, dir_create, dir_remove);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_config_help_prints_usage_and_returns_1);
    tcase_add_test(tc, test_config_version_prints_version_and_returns_1);
    tcase_add_test(tc, test_config_usage_lists_every_option);
    tcase_add_test(tc, test_config_loads_twice_in_one_process);
    tcase_add_test(tc, test_config_free_twice_is_harmless);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(config_suite)
