/* Unit tests for the peers' generated configurations as fair peers
 * (manager/worker_nginx.c, worker_squid.c, worker.c): nginx set up as its
 * users set up a caching proxy (sendfile, tcp_nopush, one worker, HTTP/1.1
 * upstream connections kept alive to the origin named by --origin, Host and
 * cache key naming the origin, not the upstream group); Squid's memory-only
 * cache as its documentation has it (no cache_dir, cache_mem, the object
 * limits with the header allowance that makes 1024 KB bodies cacheable,
 * collapsed forwarding, persistent connections); --origin read and checked. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "../../manager/config.h"
#include "../../manager/worker.h"
#include "check_main.h"

static struct worker_settings settings(void)
{
    struct worker_settings s;
    memset(&s, 0, sizeof(s));
    s.name = "pp7";
    s.dir = "/run/proxypool/pp7";
    s.cache_dir = "/dev/shm/pp-pp7";
    s.user = "someone";
    char err[64];
    ck_assert_int_eq(addr_parse("198.18.0.1:3134", -1, &s.listen[0], err, sizeof(err)), 0);
    s.nlisten = 1;
    s.cache_on = 1;
    s.cache_mem_bytes = 260ull << 20;
    s.max_object_bytes = 1024ull << 10;
    return s;
}

static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return 1;
    return 0;
}

#define ck_assert_line(text, line)                                                                 \
    ck_assert_msg(has_line(text, line), "no line '%s' in:\n%s", line, text)

/* The text between "upstream NAME {" and its "}". */
static const char *block(const char *text, const char *open)
{
    const char *p = strstr(text, open);
    ck_assert_msg(p != NULL, "no '%s' in:\n%s", open, text);
    return p;
}

START_TEST(test_worker_conf_nginx_sends_files_as_nginx_users_do)
{
    struct worker_settings s = settings();
    char conf[8192];
    ck_assert_int_gt(worker_kind_nginx_conf(&s, conf, sizeof(conf)), 0);
    ck_assert_line(conf, "    sendfile on;");
    ck_assert_line(conf, "    tcp_nopush on;");
    ck_assert_line(conf, "worker_processes 1;"); /* one worker, as proxyd's one thread */
    /* Upstream HTTP/1.1 without Connection: close, whatever the origin. */
    ck_assert_line(conf, "            proxy_http_version 1.1;");
    ck_assert_line(conf, "            proxy_set_header Connection \"\";");
    ck_assert_line(conf, "            proxy_set_header Host $pp_origin;");
    ck_assert_line(conf, "            proxy_cache_key $scheme://$pp_origin$request_uri;");
    /* Without --origin there is no group to keep connections in. */
    ck_assert_ptr_null(strstr(conf, "upstream pp_origin"));
    ck_assert_line(conf, "        default $pp_origin;");
}
END_TEST

START_TEST(test_worker_conf_nginx_keeps_upstream_connections_to_the_origin)
{
    struct worker_settings s = settings();
    snprintf(s.origin, sizeof(s.origin), "198.19.1.2");
    char conf[8192];
    ck_assert_int_gt(worker_kind_nginx_conf(&s, conf, sizeof(conf)), 0);
    const char *up = block(conf, "    upstream pp_origin {\n");
    ck_assert_ptr_nonnull(
        strstr(up, "        server 198.19.1.2:80;\n        keepalive 64;\n    }\n"));
    /* Both spellings of the origin's authority go to the group. */
    ck_assert_line(conf, "        \"198.19.1.2\" pp_origin;");
    ck_assert_line(conf, "        \"198.19.1.2:80\" pp_origin;");
    ck_assert_line(conf, "            proxy_pass http://$pp_upstream$request_uri;");
    ck_assert_line(conf, "            proxy_http_version 1.1;");
    ck_assert_line(conf, "            proxy_set_header Connection \"\";");
    /* The group is declared before the map that names it is used. */
    ck_assert(strstr(conf, "upstream pp_origin") < strstr(conf, "proxy_pass"));
}
END_TEST

START_TEST(test_worker_conf_nginx_origin_on_another_port)
{
    struct worker_settings s = settings();
    snprintf(s.origin, sizeof(s.origin), "127.0.0.1:8080");
    char conf[8192];
    ck_assert_int_gt(worker_kind_nginx_conf(&s, conf, sizeof(conf)), 0);
    ck_assert_line(conf, "        server 127.0.0.1:8080;");
    ck_assert_line(conf, "        \"127.0.0.1:8080\" pp_origin;");
    ck_assert(!has_line(conf, "        \"127.0.0.1\" pp_origin;"));
}
END_TEST

START_TEST(test_worker_conf_squid_memory_only_as_documented)
{
    struct worker_settings s = settings();
    char conf[8192];
    ck_assert_int_gt(worker_kind_squid_conf(&s, conf, sizeof(conf)), 0);
    ck_assert_ptr_null(strstr(conf, "cache_dir")); /* memory only */
    ck_assert_line(conf, "cache_mem 260 MB");
    ck_assert_line(conf, "memory_cache_mode always");
    /* 1024 KB + 16 KB: Squid 5 counts the stored headers in the limit, so a
     * 1024 KB body under a 1024 KB limit would never be cached. */
    ck_assert_line(conf, "maximum_object_size_in_memory 1040 KB");
    ck_assert_line(conf, "maximum_object_size 1040 KB");
    ck_assert_line(conf, "collapsed_forwarding on");
    ck_assert_line(conf, "server_persistent_connections on");
    ck_assert_line(conf, "client_persistent_connections on");
    ck_assert_ptr_null(strstr(conf, "workers")); /* one process (-N), as nginx's one worker */
}
END_TEST

START_TEST(test_worker_conf_origin_read_from_proxy_args)
{
    struct manager_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.worker, sizeof(cfg.worker), "nginx");
    char a0[] = "--origin=198.19.1.2", a1[] = "--cache-mem=260M";
    cfg.proxy_args[0] = a0;
    cfg.proxy_args[1] = a1;
    cfg.nproxy_args = 2;
    struct worker_settings s;
    memset(&s, 0, sizeof(s));
    char err[256];
    ck_assert_int_eq(worker_kind_cache_args(&cfg, &s, err, sizeof(err)), 0);
    ck_assert_str_eq(s.origin, "198.19.1.2");
    char bad[] = "--origin=not an address";
    cfg.proxy_args[0] = bad;
    ck_assert_int_eq(worker_kind_cache_args(&cfg, &s, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "--origin"));
}
END_TEST

static Suite *worker_conf_suite(void)
{
    Suite *s = suite_create("worker_conf");
    TCase *tc = tcase_create("peers");
    tcase_add_test(tc, test_worker_conf_nginx_sends_files_as_nginx_users_do);
    tcase_add_test(tc, test_worker_conf_nginx_keeps_upstream_connections_to_the_origin);
    tcase_add_test(tc, test_worker_conf_nginx_origin_on_another_port);
    tcase_add_test(tc, test_worker_conf_squid_memory_only_as_documented);
    tcase_add_test(tc, test_worker_conf_origin_read_from_proxy_args);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(worker_conf_suite)
