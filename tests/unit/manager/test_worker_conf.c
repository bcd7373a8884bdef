/* Unit tests for the peers' generated configurations as fair peers
 * (manager/worker_nginx.c, worker_squid.c, worker.c): nginx set up as its
 * users set up a caching proxy (sendfile, tcp_nopush, one worker, HTTP/1.1
 * upstream connections kept alive to the origin named by --origin, Host and
 * cache key naming the origin, not the upstream group); Squid's memory-only
 * cache as its documentation has it (no cache_dir, cache_mem, the object
 * limits with the header allowance that makes 1024 KB bodies cacheable,
 * collapsed forwarding, persistent connections); --origin read and checked;
 * access rules in both: Squid's default http_access order
 * with to_localhost and to_linklocal denied, clients limited, nginx's
 * allow/deny and local destinations refused; --allow-dest read. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "../../../manager/config.h"
#include "../../../manager/worker/worker.h"
#include "../check_main.h"
#include "worker_fixture.h"

static struct worker_settings settings(void)
{
    return worker_test_settings("pp7", "198.18.0.1:3134", NULL);
}

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

/* The position of line in text, or -1. */
static long line_at(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return (long)(p - text);
    return -1;
}

START_TEST(test_worker_conf_squid_access_rules_in_squid_order)
{
    struct worker_settings s = settings();
    char conf[8192];
    ck_assert_int_gt(worker_kind_squid_conf(&s, conf, sizeof(conf)), 0);
    ck_assert_line(conf, "acl SSL_ports port 443");
    ck_assert_line(conf, "acl Safe_ports port 80 21 443 70 210 1025-65535 280 488 591 777");
    ck_assert_line(conf, "acl CONNECT method CONNECT");
    ck_assert_line(conf, "acl pp_to_local dst 127.0.0.0/8 0.0.0.0/8 ::1/128 ::/128 "
                         "169.254.0.0/16 fe80::/10");
    ck_assert_line(conf, "acl pp_clients src 127.0.0.0/8 ::1/128 10.0.0.0/8 172.16.0.0/12 "
                         "192.168.0.0/16 198.18.0.0/15 fc00::/7 fe80::/10");
    ck_assert_line(conf, "acl pp_self0 dst 198.18.0.1");
    ck_assert_line(conf, "acl pp_self0_port port 3134");
    /* Nothing opened: no allow before the local destinations are denied. */
    ck_assert_ptr_null(strstr(conf, "pp_opened"));
    const char *order[] = {
        "http_access deny !Safe_ports",
        "http_access deny CONNECT !SSL_ports",
        "http_access deny pp_self0 pp_self0_port",
        "http_access deny !pp_clients",
        "http_access deny pp_to_local",
        "http_access allow pp_clients",
        "http_access deny all",
    };
    long last = -1;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        long at = line_at(conf, order[i]);
        ck_assert_msg(at > last, "'%s' missing or out of order in:\n%s", order[i], conf);
        last = at;
    }
    ck_assert_ptr_null(strstr(conf + last + 1, "http_access"));
    ck_assert_ptr_null(strstr(conf, "http_access allow all"));
    ck_assert_ptr_null(strstr(conf, "cache_effective_user root"));
}
END_TEST

START_TEST(test_worker_conf_squid_opens_allow_dest_and_origin_only)
{
    struct worker_settings s = settings();
    snprintf(s.allow_dest[0], sizeof(s.allow_dest[0]), "127.0.0.1/32");
    s.nallow_dest = 1;
    snprintf(s.origin, sizeof(s.origin), "198.19.1.2:8080");
    char conf[8192];
    ck_assert_int_gt(worker_kind_squid_conf(&s, conf, sizeof(conf)), 0);
    ck_assert_line(conf, "acl pp_opened dst 127.0.0.1/32");
    ck_assert_line(conf, "acl pp_origin dst 198.19.1.2");
    ck_assert_line(conf, "acl pp_origin_port port 8080");
    long origin = line_at(conf, "http_access allow pp_origin pp_origin_port");
    ck_assert_int_gt(origin, line_at(conf, "http_access deny !pp_clients"));
    ck_assert_int_lt(origin, line_at(conf, "http_access deny pp_to_local"));
    long opened = line_at(conf, "http_access allow pp_opened");
    ck_assert_int_gt(opened, line_at(conf, "http_access deny !pp_clients"));
    ck_assert_int_gt(opened, line_at(conf, "http_access deny pp_self0 pp_self0_port"));
    ck_assert_int_lt(opened, line_at(conf, "http_access deny pp_to_local"));
}
END_TEST

START_TEST(test_worker_conf_nginx_limits_clients_and_refuses_local_destinations)
{
    struct worker_settings s = settings();
    char conf[8192];
    ck_assert_int_gt(worker_kind_nginx_conf(&s, conf, sizeof(conf)), 0);
    ck_assert_line(conf, "    allow 198.18.0.0/15;");
    ck_assert_line(conf, "    allow 127.0.0.0/8;");
    long deny_all = line_at(conf, "    deny all;");
    ck_assert_int_gt(deny_all, line_at(conf, "    allow fe80::/10;"));
    ck_assert_line(conf, "    geo $pp_dest_host $pp_dest_local {");
    const char *local[] = {"127.0.0.0/8", "0.0.0.0/8",      "::1/128",
                           "::/128",      "169.254.0.0/16", "fe80::/10"};
    for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
        char line[64];
        snprintf(line, sizeof(line), "        %s local;", local[i]);
        ck_assert_line(conf, line);
    }
    ck_assert_line(conf, "        \"198.18.0.1:3134\" \"destination is this proxy itself\";");
    ck_assert_line(conf, "        \"~*^localhost\\.?(:[0-9]*)?$\" \"destination is this host "
                         "(localhost)\";");
    /* Refused before the location proxies anything. */
    long refuse = line_at(conf, "        if ($pp_dest_refused) {");
    ck_assert_int_ge(refuse, 0);
    ck_assert_int_lt(refuse, line_at(conf, "        location / {"));
    ck_assert_line(conf, "            return 403 \"403 Forbidden: $pp_dest_refused\\n\";");
    ck_assert_ptr_null(strstr(conf, "user root"));
}
END_TEST

START_TEST(test_worker_conf_nginx_opens_allow_dest_and_origin)
{
    struct worker_settings s = settings();
    snprintf(s.allow_dest[0], sizeof(s.allow_dest[0]), "127.0.0.1/32");
    s.nallow_dest = 1;
    snprintf(s.origin, sizeof(s.origin), "127.0.0.2:8080");
    char conf[8192];
    ck_assert_int_gt(worker_kind_nginx_conf(&s, conf, sizeof(conf)), 0);
    /* geo takes the longest prefix: the /32 wins over 127.0.0.0/8. */
    ck_assert_line(conf, "        127.0.0.1/32 \"\";");
    ck_assert_line(conf, "        \"127.0.0.2:8080\" \"\";");
}
END_TEST

START_TEST(test_worker_conf_manager_endpoints_refused_by_every_kind)
{
    struct manager_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    char err[64];
    ck_assert_int_eq(addr_parse("0.0.0.0:9090", -1, &cfg.api, err, sizeof(err)), 0);
    ck_assert_int_eq(addr_parse("127.0.0.1:9101", -1, &cfg.balancer_admin, err, sizeof(err)), 0);
    snprintf(cfg.forwarding, sizeof(cfg.forwarding), "nat");
    struct addr out[WORKER_MAX_REFUSED];
    char a[ADDR_STRLEN];
    struct manager_config none;
    memset(&none, 0, sizeof(none)); /* no API at all (tests/tools/rtprobe): nothing */
    ck_assert_uint_eq(worker_kind_manager_endpoints(&none, out), 0);
    ck_assert_uint_eq(worker_kind_manager_endpoints(&cfg, out), 1);
    addr_format(&out[0], a, sizeof(a));
    ck_assert_str_eq(a, "127.0.0.1:9090"); /* a wildcard API: reached on loopback */
    snprintf(cfg.forwarding, sizeof(cfg.forwarding), "balancer");
    ck_assert_uint_eq(worker_kind_manager_endpoints(&cfg, out), 2);
    addr_format(&out[1], a, sizeof(a));
    ck_assert_str_eq(a, "127.0.0.1:9101");

    struct worker_settings s = settings();
    s.refused[0] = out[0];
    s.refused[1] = out[1];
    s.nrefused = 2;
    snprintf(s.allow_dest[0], sizeof(s.allow_dest[0]), "127.0.0.1/32");
    s.nallow_dest = 1;
    char conf[8192];
    ck_assert_int_gt(worker_kind_squid_conf(&s, conf, sizeof(conf)), 0);
    ck_assert_line(conf, "acl pp_manager0 dst 127.0.0.1");
    ck_assert_line(conf, "acl pp_manager0_port port 9090");
    ck_assert_line(conf, "acl pp_manager1_port port 9101");
    long deny = line_at(conf, "http_access deny pp_manager0 pp_manager0_port");
    ck_assert_int_ge(deny, 0);
    ck_assert_int_lt(deny, line_at(conf, "http_access allow pp_opened")); /* wins over it */
    ck_assert_line(conf, "http_access deny pp_manager1 pp_manager1_port");
    ck_assert_int_gt(worker_kind_nginx_conf(&s, conf, sizeof(conf)), 0);
    ck_assert_line(conf, "        \"127.0.0.1:9090\" \"destination is the pool manager\";");
    ck_assert_line(conf, "        \"127.0.0.1:9101\" \"destination is the pool manager\";");
}
END_TEST

START_TEST(test_worker_conf_allow_dest_read_from_proxy_args)
{
    struct manager_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.worker, sizeof(cfg.worker), "squid");
    char a0[] = "--allow-dest=127.0.0.1/32", a1[] = "--allow-dest=::1";
    cfg.proxy_args[0] = a0;
    cfg.proxy_args[1] = a1;
    cfg.nproxy_args = 2;
    struct worker_settings s;
    memset(&s, 0, sizeof(s));
    char err[256];
    ck_assert_int_eq(worker_kind_cache_args(&cfg, &s, err, sizeof(err)), 0);
    ck_assert_uint_eq(s.nallow_dest, 2);
    ck_assert_str_eq(s.allow_dest[0], "127.0.0.1/32");
    ck_assert_str_eq(s.allow_dest[1], "::1/128");
    char bad[] = "--allow-dest=127.0.0.1/8;deny all";
    cfg.proxy_args[0] = bad;
    ck_assert_int_eq(worker_kind_cache_args(&cfg, &s, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "--allow-dest"));
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
    tc = tcase_create("access");
    tcase_add_test(tc, test_worker_conf_squid_access_rules_in_squid_order);
    tcase_add_test(tc, test_worker_conf_squid_opens_allow_dest_and_origin_only);
    tcase_add_test(tc, test_worker_conf_nginx_limits_clients_and_refuses_local_destinations);
    tcase_add_test(tc, test_worker_conf_nginx_opens_allow_dest_and_origin);
    tcase_add_test(tc, test_worker_conf_allow_dest_read_from_proxy_args);
    tcase_add_test(tc, test_worker_conf_manager_endpoints_refused_by_every_kind);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(worker_conf_suite)
