/* Unit tests for common/addr.c: parsing and formatting "ADDR:PORT" and
 * CIDR networks, matching addresses against networks, and opening real
 * listening and connecting sockets on loopback. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "../check_main.h"

static char err[256];

static struct addr parse_ok(const char *s, int default_port)
{
    struct addr a;
    ck_assert_msg(addr_parse(s, default_port, &a, err, sizeof(err)) == 0, "%s: %s", s, err);
    return a;
}

static void assert_formats(const char *in, int default_port, const char *want)
{
    char out[ADDR_STRLEN];
    struct addr a = parse_ok(in, default_port);
    addr_format(&a, out, sizeof(out));
    ck_assert_str_eq(out, want);
}

static struct sockaddr_storage sa_of(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1)
        sin->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1)
        sin6->sin6_family = AF_INET6;
    else
        ck_abort_msg("bad test address %s", ip);
    return ss;
}

static int contains(const char *net, const char *ip)
{
    struct cidr c;
    ck_assert_msg(cidr_parse(net, &c, err, sizeof(err)) == 0, "%s: %s", net, err);
    struct sockaddr_storage ss = sa_of(ip);
    return cidr_contains(&c, (struct sockaddr *)&ss);
}

START_TEST(test_addr_parses_ipv4_with_port)
{
    struct addr a = parse_ok("127.0.0.1:3128", -1);
    ck_assert_int_eq(a.ss.ss_family, AF_INET);
    ck_assert_int_eq(a.len, sizeof(struct sockaddr_in));
    ck_assert_int_eq(addr_port(&a), 3128);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.ss;
    ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), 0x7f000001);
}
END_TEST

START_TEST(test_addr_parses_bracketed_ipv6)
{
    struct addr a = parse_ok("[::1]:8080", -1);
    ck_assert_int_eq(a.ss.ss_family, AF_INET6);
    ck_assert_int_eq(a.len, sizeof(struct sockaddr_in6));
    ck_assert_int_eq(addr_port(&a), 8080);
    assert_formats("[2001:db8::1]:80", -1, "[2001:db8::1]:80");
}
END_TEST

START_TEST(test_addr_star_and_empty_host_mean_ipv4_any)
{
    assert_formats("*:3128", -1, "0.0.0.0:3128");
    assert_formats(":3128", -1, "0.0.0.0:3128");
}
END_TEST

START_TEST(test_addr_localhost_is_ipv4_loopback)
{
    assert_formats("localhost:9090", -1, "127.0.0.1:9090");
    assert_formats("LOCALHOST:9090", -1, "127.0.0.1:9090");
}
END_TEST

START_TEST(test_addr_default_port_fills_missing_port)
{
    assert_formats("10.0.0.1", 3128, "10.0.0.1:3128");
    assert_formats("[::1]", 80, "[::1]:80");
    assert_formats("localhost", 8080, "127.0.0.1:8080");
    assert_formats("10.0.0.1:81", 3128, "10.0.0.1:81"); /* an explicit port wins */
}
END_TEST

START_TEST(test_addr_requires_port_without_default)
{
    struct addr a;
    ck_assert_int_eq(addr_parse("10.0.0.1", -1, &a, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "missing port"));
    ck_assert_int_eq(addr_parse("[::1]", -1, &a, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_addr_rejects_port_zero)
{
    struct addr a;
    ck_assert_int_eq(addr_parse("127.0.0.1:0", -1, &a, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "1 to 65535"));
    ck_assert_int_eq(addr_parse("[::1]:0", 80, &a, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_addr_rejects_bad_ports)
{
    struct addr a;
    const char *bad[] = {"1.2.3.4:65536", "1.2.3.4:", "1.2.3.4:-1", "1.2.3.4:80x",
                         "1.2.3.4:+80",   "[::1]:",   "[::1]80",    "1.2.3.4:99999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(addr_parse(bad[i], 3128, &a, err, sizeof(err)) == -1, "accepted %s", bad[i]);
    struct addr ok = parse_ok("1.2.3.4:65535", -1);
    ck_assert_int_eq(addr_port(&ok), 65535);
}
END_TEST

START_TEST(test_addr_rejects_names_other_than_localhost)
{
    struct addr a;
    ck_assert_int_eq(addr_parse("example.com:80", -1, &a, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "not resolved"));
    ck_assert_int_eq(addr_parse("127.1:80", -1, &a, err, sizeof(err)), -1); /* inet_aton forms */
    ck_assert_int_eq(addr_parse("", 80, &a, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_addr_rejects_unbracketed_ipv6)
{
    struct addr a;
    ck_assert_int_eq(addr_parse("::1:3128", -1, &a, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "brackets"));
    ck_assert_int_eq(addr_parse("::1", 80, &a, err, sizeof(err)), -1);
    ck_assert_int_eq(addr_parse("[::1", 80, &a, err, sizeof(err)), -1);
    ck_assert_int_eq(addr_parse("[1.2.3.4]:80", 80, &a, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_addr_parses_ipv6_zone_index)
{
    struct addr a = parse_ok("[fe80::1%1]:80", -1);
    ck_assert_uint_eq(((struct sockaddr_in6 *)&a.ss)->sin6_scope_id, 1);
    char out[ADDR_STRLEN];
    addr_format(&a, out, sizeof(out));
    ck_assert_str_eq(out, "[fe80::1%1]:80");
    ck_assert_int_eq(addr_parse("[fe80::1%no-such-if0]:80", -1, &a, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_addr_format_host_omits_port)
{
    char out[ADDR_STRLEN];
    struct addr a = parse_ok("198.19.1.2:80", -1);
    addr_format_host(&a, out, sizeof(out));
    ck_assert_str_eq(out, "198.19.1.2");
    a = parse_ok("[::1]:80", -1);
    addr_format_host(&a, out, sizeof(out));
    ck_assert_str_eq(out, "::1");
}
END_TEST

START_TEST(test_addr_set_port_changes_only_port)
{
    struct addr a = parse_ok("10.1.2.3:80", -1);
    addr_set_port(&a, 8080);
    char out[ADDR_STRLEN];
    addr_format(&a, out, sizeof(out));
    ck_assert_str_eq(out, "10.1.2.3:8080");
    a = parse_ok("[::1]:80", -1);
    addr_set_port(&a, 443);
    ck_assert_int_eq(addr_port(&a), 443);
}
END_TEST

START_TEST(test_addr_equal_compares_address_and_port)
{
    struct addr a = parse_ok("10.0.0.1:80", -1), b = parse_ok("10.0.0.1:80", -1);
    struct addr c = parse_ok("10.0.0.1:81", -1), d = parse_ok("10.0.0.2:80", -1);
    struct addr e = parse_ok("[::ffff:10.0.0.1]:80", -1);
    ck_assert(addr_equal(&a, &b));
    ck_assert(!addr_equal(&a, &c));
    ck_assert(!addr_equal(&a, &d));
    ck_assert(!addr_equal(&a, &e));
    struct addr f = parse_ok("[::1]:80", -1), g = parse_ok("[0::1]:80", -1);
    ck_assert(addr_equal(&f, &g));
}
END_TEST

START_TEST(test_addr_from_sockaddr_copies_inet_and_rejects_others)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(53);
    sin.sin_addr.s_addr = htonl(0x0a000001);
    struct addr a;
    ck_assert_int_eq(addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof(sin)), 0);
    char out[ADDR_STRLEN];
    addr_format(&a, out, sizeof(out));
    ck_assert_str_eq(out, "10.0.0.1:53");
    ck_assert_int_eq(addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof(sin) - 1), -1);
    struct sockaddr un = {.sa_family = AF_UNIX};
    ck_assert_int_eq(addr_from_sockaddr(&a, &un, sizeof(un)), -1);
}
END_TEST

START_TEST(test_cidr_parses_and_formats_networks)
{
    struct cidr c;
    char out[64];
    ck_assert_int_eq(cidr_parse("10.0.0.0/8", &c, err, sizeof(err)), 0);
    ck_assert_int_eq(c.family, AF_INET);
    ck_assert_int_eq(c.prefix_len, 8);
    cidr_format(&c, out, sizeof(out));
    ck_assert_str_eq(out, "10.0.0.0/8");
    ck_assert_int_eq(cidr_parse("fc00::/7", &c, err, sizeof(err)), 0);
    ck_assert_int_eq(c.family, AF_INET6);
    cidr_format(&c, out, sizeof(out));
    ck_assert_str_eq(out, "fc00::/7");
    ck_assert_int_eq(cidr_parse("0.0.0.0/0", &c, err, sizeof(err)), 0);
    ck_assert_int_eq(c.prefix_len, 0);
}
END_TEST

START_TEST(test_cidr_bare_address_is_a_host)
{
    struct cidr c;
    ck_assert_int_eq(cidr_parse("198.19.1.2", &c, err, sizeof(err)), 0);
    ck_assert_int_eq(c.prefix_len, 32);
    ck_assert_int_eq(cidr_parse("::1", &c, err, sizeof(err)), 0);
    ck_assert_int_eq(c.prefix_len, 128);
}
END_TEST

START_TEST(test_cidr_rejects_host_bits_set)
{
    struct cidr c;
    ck_assert_int_eq(cidr_parse("10.0.0.1/8", &c, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "10.0.0.0/8"));
    ck_assert_int_eq(cidr_parse("172.17.0.0/12", &c, err, sizeof(err)), -1);
    ck_assert_int_eq(cidr_parse("fe80::1/10", &c, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_cidr_rejects_bad_prefix_lengths)
{
    struct cidr c;
    const char *bad[] = {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x",
                         "::/129",      "10.0.0/8",  "/8",          "example.com/8"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(cidr_parse(bad[i], &c, err, sizeof(err)) == -1, "accepted %s", bad[i]);
}
END_TEST

START_TEST(test_cidr_contains_matches_prefix_bits)
{
    ck_assert(contains("172.16.0.0/12", "172.31.255.255"));
    ck_assert(!contains("172.16.0.0/12", "172.32.0.0"));
    ck_assert(contains("198.18.0.0/15", "198.19.255.10"));
    ck_assert(!contains("198.18.0.0/15", "198.20.0.1"));
    ck_assert(contains("0.0.0.0/0", "8.8.8.8"));
    ck_assert(contains("10.1.2.3/32", "10.1.2.3"));
    ck_assert(!contains("10.1.2.3/32", "10.1.2.4"));
    ck_assert(contains("fc00::/7", "fd12:3456::1"));
    ck_assert(!contains("fc00::/7", "fe00::1"));
}
END_TEST

START_TEST(test_cidr_contains_never_crosses_families)
{
    ck_assert(!contains("0.0.0.0/0", "::1"));
    ck_assert(!contains("::/0", "10.0.0.1"));
}
END_TEST

START_TEST(test_cidr_matches_ipv4_mapped_ipv6)
{
    ck_assert(contains("127.0.0.0/8", "::ffff:127.0.0.1"));
    ck_assert(!contains("10.0.0.0/8", "::ffff:11.0.0.1"));
    ck_assert(contains("::ffff:10.0.0.0/104", "10.9.9.9"));
}
END_TEST

START_TEST(test_addr_listen_tcp_accepts_a_connection)
{
    struct addr a = parse_ok("127.0.0.1:1", -1);
    int lfd = -1;
    /* Find a free port by asking the kernel; addr_parse refuses port 0. */
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    ck_assert_int_eq(bind(probe, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(probe, (struct sockaddr *)&sin, &len), 0);
    close(probe);
    addr_set_port(&a, ntohs(sin.sin_port));

    lfd = addr_listen_tcp(&a, 16, 1, err, sizeof(err));
    ck_assert_msg(lfd >= 0, "%s", err);
    ck_assert(fcntl(lfd, F_GETFL) & O_NONBLOCK);
    ck_assert(fcntl(lfd, F_GETFD) & FD_CLOEXEC);

    int cfd = addr_connect_tcp(&a, err, sizeof(err));
    ck_assert_msg(cfd >= 0, "%s", err);
    struct pollfd pfd = {.fd = lfd, .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
    int afd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(afd, 0);
    close(afd);
    close(cfd);
    close(lfd);
}
END_TEST

START_TEST(test_addr_listen_tcp_reports_address_in_use)
{
    struct addr a = parse_ok("127.0.0.1:1", -1);
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    ck_assert_int_eq(bind(probe, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(probe, 1), 0);
    ck_assert_int_eq(getsockname(probe, (struct sockaddr *)&sin, &len), 0);
    addr_set_port(&a, ntohs(sin.sin_port));

    ck_assert_int_eq(addr_listen_tcp(&a, 16, 0, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "bind 127.0.0.1:") != NULL, "%s", err);
    ck_assert_msg(strstr(err, strerror(EADDRINUSE)) != NULL, "%s", err);
    close(probe);
}
END_TEST

START_TEST(test_addr_connect_tcp_reports_refusal)
{
    /* A port nobody listens on: bound but not listening. */
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    ck_assert_int_eq(bind(probe, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(probe, (struct sockaddr *)&sin, &len), 0);
    struct addr a;
    ck_assert_int_eq(addr_from_sockaddr(&a, (struct sockaddr *)&sin, len), 0);

    int fd = addr_connect_tcp(&a, err, sizeof(err));
    if (fd >= 0) { /* in progress: the refusal arrives as SO_ERROR */
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
        int so_error = 0;
        socklen_t sl = sizeof(so_error);
        ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &sl), 0);
        ck_assert_int_eq(so_error, ECONNREFUSED);
        close(fd);
    } else {
        ck_assert_msg(strstr(err, "connect to 127.0.0.1:") != NULL, "%s", err);
    }
    close(probe);
}
END_TEST

static Suite *addr_suite(void)
{
    Suite *s = suite_create("addr");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_addr_parses_ipv4_with_port);
    tcase_add_test(tc, test_addr_parses_bracketed_ipv6);
    tcase_add_test(tc, test_addr_star_and_empty_host_mean_ipv4_any);
    tcase_add_test(tc, test_addr_localhost_is_ipv4_loopback);
    tcase_add_test(tc, test_addr_default_port_fills_missing_port);
    tcase_add_test(tc, test_addr_requires_port_without_default);
    tcase_add_test(tc, test_addr_rejects_port_zero);
    tcase_add_test(tc, test_addr_rejects_bad_ports);
    tcase_add_test(tc, test_addr_rejects_names_other_than_localhost);
    tcase_add_test(tc, test_addr_rejects_unbracketed_ipv6);
    tcase_add_test(tc, test_addr_parses_ipv6_zone_index);
    suite_add_tcase(s, tc);

    tc = tcase_create("format");
    tcase_add_test(tc, test_addr_format_host_omits_port);
    tcase_add_test(tc, test_addr_set_port_changes_only_port);
    tcase_add_test(tc, test_addr_equal_compares_address_and_port);
    tcase_add_test(tc, test_addr_from_sockaddr_copies_inet_and_rejects_others);
    suite_add_tcase(s, tc);

    tc = tcase_create("cidr");
    tcase_add_test(tc, test_cidr_parses_and_formats_networks);
    tcase_add_test(tc, test_cidr_bare_address_is_a_host);
    tcase_add_test(tc, test_cidr_rejects_host_bits_set);
    tcase_add_test(tc, test_cidr_rejects_bad_prefix_lengths);
    tcase_add_test(tc, test_cidr_contains_matches_prefix_bits);
    tcase_add_test(tc, test_cidr_contains_never_crosses_families);
    tcase_add_test(tc, test_cidr_matches_ipv4_mapped_ipv6);
    suite_add_tcase(s, tc);

    tc = tcase_create("socket");
    tcase_add_test(tc, test_addr_listen_tcp_accepts_a_connection);
    tcase_add_test(tc, test_addr_listen_tcp_reports_address_in_use);
    tcase_add_test(tc, test_addr_connect_tcp_reports_refusal);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(addr_suite)
