/* Unit tests for manager/worker*.c: the kinds by name, the cache settings
 * read from --proxy-arg, and the generated squid.conf and nginx.conf (the
 * paper's cache, the object-size allowance for Squid's headers, listeners,
 * names in X-Cache, state-dir paths, the probe's server). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../../../manager/config.h"
#include "../../../manager/worker/worker.h"
#include "../check_main.h"
#include "worker_fixture.h"

static struct worker_settings settings(const char *listen0, const char *listen1)
{
    return worker_test_settings("pp3", listen0, listen1);
}

START_TEST(test_worker_kinds_are_found_by_name)
{
    ck_assert_ptr_eq(worker_kind_find("proxyd"), &worker_kind_proxyd);
    ck_assert_ptr_eq(worker_kind_find("squid"), &worker_kind_squid);
    ck_assert_ptr_eq(worker_kind_find("nginx"), &worker_kind_nginx);
    ck_assert_ptr_null(worker_kind_find("varnish"));
    ck_assert_ptr_null(worker_kind_find(""));
    /* Only proxyd has an admin endpoint; nginx drains on SIGQUIT. */
    ck_assert_int_eq(worker_kind_proxyd.has_admin, 1);
    ck_assert_int_eq(worker_kind_squid.has_admin, 0);
    ck_assert_int_eq(worker_kind_nginx.has_admin, 0);
    ck_assert_int_eq(worker_kind_nginx.stop_signal, SIGQUIT);
    ck_assert_int_eq(worker_kind_squid.stop_signal, SIGTERM);
    ck_assert(worker_kind_is_exe("squid"));
    ck_assert(worker_kind_is_exe("nginx"));
    ck_assert(worker_kind_is_exe("proxyd"));
    ck_assert(!worker_kind_is_exe("bash"));
}
END_TEST

START_TEST(test_worker_readiness_squid_any_answer_nginx_200)
{
    ck_assert(worker_kind_squid.ready(400)); /* "Invalid URL" proves it serves */
    ck_assert(worker_kind_squid.ready(200));
    ck_assert(!worker_kind_squid.ready(0)); /* no answer */
    ck_assert(worker_kind_nginx.ready(200));
    ck_assert(!worker_kind_nginx.ready(404));
    ck_assert(!worker_kind_nginx.ready(0));
    ck_assert(worker_kind_proxyd.ready(200));
    ck_assert(!worker_kind_proxyd.ready(503));
}
END_TEST

START_TEST(test_worker_cache_args_default_to_the_paper)
{
    struct manager_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.worker, sizeof(cfg.worker), "squid");
    struct worker_settings s;
    char err[256];
    ck_assert_int_eq(worker_kind_cache_args(&cfg, &s, err, sizeof(err)), 0);
    ck_assert_int_eq(s.cache_on, 1);
    ck_assert_uint_eq(s.cache_mem_bytes, 260ull << 20);
    ck_assert_uint_eq(s.max_object_bytes, 1024ull << 10);
}
END_TEST

START_TEST(test_worker_cache_args_read_proxyd_options)
{
    struct manager_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.worker, sizeof(cfg.worker), "nginx");
    char a0[] = "--cache-mem=64M", a1[] = "--max-object-size=2M", a2[] = "--no-cache";
    cfg.proxy_args[0] = a0;
    cfg.proxy_args[1] = a1;
    cfg.proxy_args[2] = a2;
    cfg.nproxy_args = 3;
    struct worker_settings s;
    char err[256];
    ck_assert_int_eq(worker_kind_cache_args(&cfg, &s, err, sizeof(err)), 0);
    ck_assert_int_eq(s.cache_on, 0);
    ck_assert_uint_eq(s.cache_mem_bytes, 64ull << 20);
    ck_assert_uint_eq(s.max_object_bytes, 2ull << 20);
}
END_TEST

START_TEST(test_worker_cache_args_refuse_what_only_proxyd_knows)
{
    struct manager_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.worker, sizeof(cfg.worker), "squid");
    char a0[] = "--collapse-timeout=5s";
    cfg.proxy_args[0] = a0;
    cfg.nproxy_args = 1;
    struct worker_settings s;
    char err[256] = "";
    ck_assert_int_eq(worker_kind_cache_args(&cfg, &s, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "--collapse-timeout=5s"));
    ck_assert_ptr_nonnull(strstr(err, "squid"));
    char a1[] = "--cache-mem=lots";
    cfg.proxy_args[0] = a1;
    ck_assert_int_eq(worker_kind_cache_args(&cfg, &s, err, sizeof(err)), -1);
    char a2[] = "--no-cache=yes";
    cfg.proxy_args[0] = a2;
    ck_assert_int_eq(worker_kind_cache_args(&cfg, &s, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_worker_squid_conf_keeps_the_papers_cache)
{
    struct worker_settings s = settings("198.19.0.4:3128", "198.19.255.10:3128");
    char conf[8192];
    ck_assert_int_gt(worker_kind_squid_conf(&s, conf, sizeof(conf)), 0);
    ck_assert_line(conf, "http_port 198.19.0.4:3128");
    ck_assert_line(conf, "http_port 198.19.255.10:3128");
    ck_assert_line(conf, "cache_mem 260 MB");
    /* 1024 KB plus 16 KB for the headers Squid 5 counts in the limit. */
    ck_assert_line(conf, "maximum_object_size_in_memory 1040 KB");
    ck_assert_line(conf, "maximum_object_size 1040 KB");
    ck_assert_ptr_null(strstr(conf, "cache_dir")); /* memory only */
    ck_assert_ptr_null(strstr(conf, "cache deny"));
    ck_assert_line(conf, "visible_hostname pp3");
    ck_assert_line(conf, "cache_effective_user someone");
    ck_assert_line(conf, "pid_filename /run/proxypool/pp3/squid.pid");
    ck_assert_line(conf, "cache_log /run/proxypool/pp3/cache.log");
    ck_assert_line(conf, "coredump_dir /run/proxypool/pp3");
    /* Clients as proxyd's default --allow (test_worker_conf has the rest). */
    ck_assert_line(conf, "acl pp_clients src 127.0.0.0/8 ::1/128 10.0.0.0/8 172.16.0.0/12 "
                         "192.168.0.0/16 198.18.0.0/15 fc00::/7 fe80::/10");
    ck_assert_line(conf, "http_access allow pp_clients");
    ck_assert_line(conf, "http_access deny all");
    ck_assert_line(conf, "icp_port 0");
    ck_assert_line(conf, "htcp_port 0");
    ck_assert_line(conf, "snmp_port 0");
    ck_assert_line(conf, "shutdown_lifetime 1 seconds");
    ck_assert_line(conf, "max_filedescriptors 65536");
    /* Only the ports given: no default 3128 on every address. */
    ck_assert_ptr_null(strstr(conf, "http_port 3128"));
}
END_TEST

START_TEST(test_worker_squid_conf_without_cache_denies_it)
{
    struct worker_settings s = settings("127.0.0.1:3129", NULL);
    s.cache_on = 0;
    s.cache_mem_bytes = 16ull << 20;
    s.max_object_bytes = 1000; /* rounds up to whole KB */
    char conf[8192];
    ck_assert_int_gt(worker_kind_squid_conf(&s, conf, sizeof(conf)), 0);
    ck_assert_line(conf, "cache deny all");
    ck_assert_line(conf, "cache_mem 16 MB");
    ck_assert_line(conf, "maximum_object_size 17 KB");
    ck_assert_line(conf, "http_port 127.0.0.1:3129");
}
END_TEST

START_TEST(test_worker_squid_conf_too_small_a_buffer_fails)
{
    struct worker_settings s = settings("127.0.0.1:3129", NULL);
    char conf[64];
    ck_assert_int_eq(worker_kind_squid_conf(&s, conf, sizeof(conf)), -1);
}
END_TEST

START_TEST(test_worker_squid_service_name_is_alphanumeric)
{
    char svc[32];
    worker_kind_squid_service("pp-a12", svc, sizeof(svc));
    ck_assert_str_eq(svc, "ppa12");
    worker_kind_squid_service("pp3", svc, sizeof(svc));
    ck_assert_str_eq(svc, "pp3");
}
END_TEST

START_TEST(test_worker_nginx_conf_is_a_caching_forward_proxy)
{
    struct worker_settings s = settings("198.19.0.4:3128", "198.19.255.10:3128");
    char conf[8192];
    ck_assert_int_gt(worker_kind_nginx_conf(&s, conf, sizeof(conf)), 0);
    ck_assert_line(conf, "daemon off;");
    ck_assert_line(conf, "worker_processes 1;");
    ck_assert_line(conf, "events { worker_connections 65536; }");
    ck_assert_line(conf, "user someone;");
    ck_assert_line(conf, "pid /run/proxypool/pp3/nginx.pid;");
    ck_assert_line(conf, "    client_body_temp_path /run/proxypool/pp3/client_body;");
    ck_assert_line(conf, "    proxy_temp_path /run/proxypool/pp3/proxy_temp;");
    /* 260 MB on tmpfs: max_size in KB. */
    ck_assert_line(conf, "    proxy_cache_path /dev/shm/pp-pp3 levels=1:2 keys_zone=pp3:16m "
                         "max_size=266240k inactive=1h use_temp_path=off;");
    ck_assert_line(conf, "            proxy_cache pp3;");
    ck_assert_line(conf, "            proxy_cache_lock on;");
    ck_assert_line(conf, "            proxy_cache_valid 200 301 302 10m;");
    ck_assert_line(conf, "            proxy_pass http://$pp_upstream$request_uri;");
    ck_assert_line(conf, "            add_header X-Cache \"$pp_cache_status from pp3\" always;");
    ck_assert_line(conf, "        listen 198.19.0.4:3128 default_server;");
    ck_assert_line(conf, "        listen 198.19.255.10:3128 default_server;");
    ck_assert_line(conf, "        server_name proxyd;");
    ck_assert_line(conf, "        location = /healthz { return 200; }");
    ck_assert_ptr_null(strstr(conf, "resolver")); /* IP-literal origins need none */
}
END_TEST

START_TEST(test_worker_nginx_conf_without_cache_has_no_cache)
{
    struct worker_settings s = settings("127.0.0.1:3129", NULL);
    s.cache_on = 0;
    char conf[8192];
    ck_assert_int_gt(worker_kind_nginx_conf(&s, conf, sizeof(conf)), 0);
    ck_assert_ptr_null(strstr(conf, "proxy_cache"));
    ck_assert_line(conf, "            add_header X-Cache \"$pp_cache_status from pp3\" always;");
    ck_assert_ptr_null(strstr(conf, "198.19.255.10"));
}
END_TEST

START_TEST(test_worker_cmd_add_stops_when_full)
{
    static struct worker_cmd cmd;
    memset(&cmd, 0, sizeof(cmd));
    char err[128];
    size_t added = 0;
    while (worker_cmd_add(&cmd, "--x", err, sizeof(err)) == 0)
        added++;
    ck_assert_uint_eq(added, WORKER_ARGV_MAX);
    ck_assert_ptr_null(cmd.argv[WORKER_ARGV_MAX]);
    ck_assert_str_eq(cmd.argv[0], "--x");
}
END_TEST

static Suite *worker_suite(void)
{
    Suite *s = suite_create("worker");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_worker_kinds_are_found_by_name);
    tcase_add_test(tc, test_worker_readiness_squid_any_answer_nginx_200);
    tcase_add_test(tc, test_worker_cache_args_default_to_the_paper);
    tcase_add_test(tc, test_worker_cache_args_read_proxyd_options);
    tcase_add_test(tc, test_worker_cache_args_refuse_what_only_proxyd_knows);
    tcase_add_test(tc, test_worker_squid_conf_keeps_the_papers_cache);
    tcase_add_test(tc, test_worker_squid_conf_without_cache_denies_it);
    tcase_add_test(tc, test_worker_squid_conf_too_small_a_buffer_fails);
    tcase_add_test(tc, test_worker_squid_service_name_is_alphanumeric);
    tcase_add_test(tc, test_worker_nginx_conf_is_a_caching_forward_proxy);
    tcase_add_test(tc, test_worker_nginx_conf_without_cache_has_no_cache);
    tcase_add_test(tc, test_worker_cmd_add_stops_when_full);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(worker_suite)
