/* Unit tests for proxyd/acl.c: client networks with their safe defaults,
 * denied destinations by host, domain and network, and Squid's Safe_ports and
 * SSL_ports rules for plain requests and CONNECT, and the local destinations
 * (loopback, link-local, the proxy's own ports) refused unless opened. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "../../../proxyd/acl.h"
#include "../check_main.h"

static char err[256];
static struct acl *acl;

static void setup(void)
{
    acl = acl_new();
    ck_assert_ptr_nonnull(acl);
}

static void teardown(void)
{
    acl_free(acl);
    acl = NULL;
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

static int client_ok(const char *ip)
{
    const char *reason = NULL;
    struct sockaddr_storage ss = sa_of(ip);
    int ok = acl_check_client(acl, (struct sockaddr *)&ss, &reason);
    if (!ok)
        ck_assert_ptr_nonnull(reason);
    return ok;
}

static int dest_ok(const char *host, int port, int is_connect, const char **reason)
{
    const char *ignored;
    return acl_check_dest(acl, host, strlen(host), port, is_connect,
                          reason != NULL ? reason : &ignored);
}

static void deny(const char *what)
{
    ck_assert_msg(acl_deny_dest(acl, what, err, sizeof(err)) == 0, "%s: %s", what, err);
}

START_TEST(test_acl_default_allows_loopback_client)
{
    ck_assert(client_ok("127.0.0.1"));
    ck_assert(client_ok("127.255.0.9"));
    ck_assert(client_ok("::1"));
}
END_TEST

START_TEST(test_acl_default_allows_private_and_benchmark_clients)
{
    const char *ok[] = {"10.0.0.1",    "172.16.0.1",  "172.31.255.254", "192.168.1.1",
                        "198.18.1.64", "198.19.0.10", "fd00::1",        "fe80::1"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        ck_assert_msg(client_ok(ok[i]), "refused %s", ok[i]);
}
END_TEST

START_TEST(test_acl_default_refuses_public_client)
{
    const char *bad[] = {"8.8.8.8",     "172.32.0.1", "198.20.0.1", "192.169.0.1",
                         "2001:db8::1", "fec0::1",    "0.0.0.0",    "::"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!client_ok(bad[i]), "allowed %s", bad[i]);
    const char *reason = NULL;
    struct sockaddr_storage ss = sa_of("8.8.8.8");
    acl_check_client(acl, (struct sockaddr *)&ss, &reason);
    ck_assert_ptr_nonnull(strstr(reason, "client"));
}
END_TEST

START_TEST(test_acl_matches_ipv4_mapped_client)
{
    ck_assert(client_ok("::ffff:127.0.0.1"));
    ck_assert(client_ok("::ffff:198.18.1.1"));
    ck_assert(!client_ok("::ffff:8.8.8.8"));
}
END_TEST

START_TEST(test_acl_first_allow_client_replaces_defaults)
{
    ck_assert_int_eq(acl_allow_client(acl, "203.0.113.0/24", err, sizeof(err)), 0);
    ck_assert(client_ok("203.0.113.7"));
    ck_assert(!client_ok("127.0.0.1"));
    ck_assert(!client_ok("10.0.0.1"));
    ck_assert_int_eq(acl_allow_client(acl, "127.0.0.1", err, sizeof(err)), 0);
    ck_assert(client_ok("127.0.0.1"));
    ck_assert(!client_ok("127.0.0.2"));
}
END_TEST

START_TEST(test_acl_allows_many_client_networks)
{
    char net[32];
    for (int i = 0; i < 100; i++) {
        snprintf(net, sizeof(net), "203.0.%d.0/24", i);
        ck_assert_int_eq(acl_allow_client(acl, net, err, sizeof(err)), 0);
    }
    ck_assert(client_ok("203.0.0.1"));
    ck_assert(client_ok("203.0.99.1"));
    ck_assert(!client_ok("203.0.100.1"));
}
END_TEST

START_TEST(test_acl_allow_client_rejects_bad_network)
{
    ck_assert_int_eq(acl_allow_client(acl, "10.0.0.1/8", err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "host bits"));
    ck_assert_int_eq(acl_allow_client(acl, "anywhere", err, sizeof(err)), -1);
    ck_assert(client_ok("127.0.0.1")); /* defaults still in force */
}
END_TEST

START_TEST(test_acl_denies_exact_host)
{
    const char *reason = NULL;
    deny("example.com");
    ck_assert(!dest_ok("example.com", 80, 0, &reason));
    ck_assert_ptr_nonnull(strstr(reason, "denied"));
    ck_assert(dest_ok("www.example.com", 80, 0, NULL));
    ck_assert(dest_ok("example.org", 80, 0, NULL));
}
END_TEST

START_TEST(test_acl_denies_subdomain)
{
    deny(".example.com");
    ck_assert(!dest_ok("example.com", 80, 0, NULL));
    ck_assert(!dest_ok("www.example.com", 80, 0, NULL));
    ck_assert(!dest_ok("a.b.example.com", 443, 1, NULL));
    ck_assert(dest_ok("example.org", 80, 0, NULL));
}
END_TEST

START_TEST(test_acl_domain_needs_a_dot_boundary)
{
    deny(".example.com");
    ck_assert(dest_ok("badexample.com", 80, 0, NULL));
    ck_assert(dest_ok("example.com.evil.net", 80, 0, NULL));
    ck_assert(dest_ok("xample.com", 80, 0, NULL));
}
END_TEST

START_TEST(test_acl_host_match_ignores_case_and_trailing_dot)
{
    deny("Example.COM");
    deny(".Tracker.Net.");
    ck_assert(!dest_ok("EXAMPLE.com", 80, 0, NULL));
    ck_assert(!dest_ok("example.com.", 80, 0, NULL));
    ck_assert(!dest_ok("ads.TRACKER.net", 80, 0, NULL));
}
END_TEST

START_TEST(test_acl_denies_literal_in_denied_network)
{
    const char *reason = NULL;
    deny("10.1.0.0/16");
    ck_assert(!dest_ok("10.1.2.3", 80, 0, &reason));
    ck_assert_ptr_nonnull(strstr(reason, "network"));
    ck_assert(dest_ok("10.2.0.1", 80, 0, NULL));
    ck_assert(!dest_ok("[::ffff:10.1.2.3]", 80, 0, NULL));
}
END_TEST

START_TEST(test_acl_denies_bracketed_ipv6_literal)
{
    deny("2001:db8::/32");
    ck_assert(!dest_ok("[2001:db8::1]", 443, 1, NULL));
    ck_assert(!dest_ok("2001:DB8::1", 80, 0, NULL));
    ck_assert(dest_ok("[2001:db9::1]", 80, 0, NULL));
}
END_TEST

START_TEST(test_acl_denied_single_address_is_a_host_network)
{
    deny("198.19.1.2");
    ck_assert(!dest_ok("198.19.1.2", 80, 0, NULL));
    ck_assert(dest_ok("198.19.1.3", 80, 0, NULL));
}
END_TEST

START_TEST(test_acl_denies_resolved_address_in_denied_network)
{
    const char *reason = NULL;
    deny("169.254.0.0/16");
    struct sockaddr_storage ss = sa_of("169.254.169.254");
    ck_assert(!acl_check_dest_addr(acl, (struct sockaddr *)&ss, &reason));
    ck_assert_ptr_nonnull(strstr(reason, "network"));
    ss = sa_of("93.184.216.34");
    ck_assert(acl_check_dest_addr(acl, (struct sockaddr *)&ss, &reason));
}
END_TEST

START_TEST(test_acl_names_are_not_matched_against_networks)
{
    deny("10.0.0.0/8");
    ck_assert(dest_ok("internal.example", 80, 0, NULL)); /* resolved later: check_dest_addr */
}
END_TEST

START_TEST(test_acl_deny_dest_rejects_invalid_entries)
{
    const char *bad[] = {"",         ".",       "a..b",      "exa mple.com", "10.0.0.1/8",
                         "http://x", "host:80", "..example", "a/b",          "ex*ample.com"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(acl_deny_dest(acl, bad[i], err, sizeof(err)) == -1, "accepted \"%s\"",
                      bad[i]);
        ck_assert_msg(err[0] != '\0', "no message for \"%s\"", bad[i]);
    }
}
END_TEST

START_TEST(test_acl_rejects_missing_or_overlong_host)
{
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ck_assert(!dest_ok("", 80, 0, NULL));
    ck_assert(!dest_ok("[]", 80, 0, NULL));
    ck_assert(!dest_ok(longname, 80, 0, NULL));
    const char *reason = NULL;
    ck_assert(!acl_check_dest(acl, "a\0b", 3, 80, 0, &reason));
    ck_assert_ptr_nonnull(reason);
}
END_TEST

static struct sockaddr_storage sa_port_of(const char *ip, int port)
{
    struct sockaddr_storage ss = sa_of(ip);
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
    return ss;
}

static int addr_ok(const char *ip, int port, const char **reason)
{
    const char *ignored;
    struct sockaddr_storage ss = sa_port_of(ip, port);
    return acl_check_dest_addr(acl, (struct sockaddr *)&ss, reason != NULL ? reason : &ignored);
}

START_TEST(test_acl_refuses_local_destinations_by_default)
{
    const char *local[] = {"127.0.0.1",
                           "127.9.9.9",
                           "[::1]",
                           "0.0.0.0",
                           "[::]",
                           "169.254.169.254",
                           "[fe80::1]",
                           "[::ffff:127.0.0.1]",
                           "[::ffff:169.254.169.254]"};
    for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
        const char *reason = NULL;
        ck_assert_msg(!dest_ok(local[i], 80, 0, &reason), "%s allowed", local[i]);
        ck_assert_ptr_nonnull(strstr(reason, "--allow-dest"));
        ck_assert_msg(!dest_ok(local[i], 443, 1, NULL), "CONNECT %s allowed", local[i]);
    }
    const char *reason = NULL;
    ck_assert(!addr_ok("127.0.0.1", 9090, &reason)); /* a name that resolved there */
    ck_assert_ptr_nonnull(strstr(reason, "loopback"));
    ck_assert(!addr_ok("::1", 9090, NULL));
    ck_assert(!addr_ok("169.254.169.254", 80, NULL));
    ck_assert(addr_ok("93.184.216.34", 80, NULL));
    ck_assert(addr_ok("10.0.0.1", 80, NULL)); /* private is not local */
    ck_assert(addr_ok("198.19.1.2", 80, NULL));
    ck_assert(dest_ok("198.19.1.2", 80, 0, NULL));
}
END_TEST

START_TEST(test_acl_allow_dest_opens_only_its_network)
{
    ck_assert_int_eq(acl_allow_dest(acl, "127.0.0.1/32", err, sizeof(err)), 0);
    ck_assert(dest_ok("127.0.0.1", 8080, 0, NULL));
    ck_assert(addr_ok("127.0.0.1", 9090, NULL));
    ck_assert(addr_ok("::ffff:127.0.0.1", 9090, NULL));
    ck_assert(!dest_ok("127.0.0.2", 8080, 0, NULL));
    ck_assert(!addr_ok("::1", 8080, NULL));
    ck_assert(!addr_ok("169.254.169.254", 80, NULL));
    ck_assert_int_eq(acl_allow_dest(acl, "127.0.0.1/8", err, sizeof(err)), -1);
    ck_assert_int_eq(acl_allow_dest(acl, "localhost", err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_acl_deny_dest_wins_over_allow_dest)
{
    ck_assert_int_eq(acl_allow_dest(acl, "127.0.0.0/8", err, sizeof(err)), 0);
    deny("127.0.0.1");
    ck_assert(!dest_ok("127.0.0.1", 80, 0, NULL));
    ck_assert(dest_ok("127.0.0.2", 80, 0, NULL));
}
END_TEST

START_TEST(test_acl_refuses_own_address_whatever_is_opened)
{
    struct sockaddr_storage self = sa_port_of("127.0.0.1", 3128);
    struct sockaddr_storage admin = sa_port_of("198.18.0.5", 9101);
    ck_assert_int_eq(acl_deny_self(acl, (struct sockaddr *)&self, err, sizeof(err)), 0);
    ck_assert_int_eq(acl_deny_self(acl, (struct sockaddr *)&admin, err, sizeof(err)), 0);
    ck_assert_int_eq(acl_allow_dest(acl, "127.0.0.0/8", err, sizeof(err)), 0);
    const char *reason = NULL;
    ck_assert(!dest_ok("127.0.0.1", 3128, 0, &reason));
    ck_assert_ptr_nonnull(strstr(reason, "itself"));
    ck_assert(!addr_ok("127.0.0.1", 3128, NULL));
    ck_assert(!addr_ok("::ffff:127.0.0.1", 3128, NULL));
    ck_assert(dest_ok("127.0.0.1", 3129, 0, NULL)); /* opened, and not ours */
    ck_assert(!addr_ok("198.18.0.5", 9101, NULL));
    ck_assert(addr_ok("198.18.0.5", 80, NULL));
}
END_TEST

START_TEST(test_acl_denied_address_and_port_wins_over_allow_dest)
{
    ck_assert_int_eq(acl_allow_dest(acl, "127.0.0.1/32", err, sizeof(err)), 0);
    deny("127.0.0.1:9090");
    deny("[::1]:9101");
    const char *reason = NULL;
    ck_assert(!dest_ok("127.0.0.1", 9090, 0, &reason));
    ck_assert_ptr_nonnull(strstr(reason, "port"));
    ck_assert(!addr_ok("127.0.0.1", 9090, NULL));
    ck_assert(!addr_ok("::ffff:127.0.0.1", 9090, NULL));
    ck_assert(dest_ok("127.0.0.1", 8080, 0, NULL)); /* the opened origin's port */
    ck_assert(!addr_ok("::1", 9101, NULL));
    ck_assert_int_eq(acl_deny_dest(acl, "0.0.0.0:9090", err, sizeof(err)), -1);
    ck_assert_int_eq(acl_deny_dest(acl, "*:9090", err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_acl_wildcard_own_address_covers_loopback)
{
    struct sockaddr_storage any = sa_port_of("0.0.0.0", 3128);
    ck_assert_int_eq(acl_deny_self(acl, (struct sockaddr *)&any, err, sizeof(err)), 0);
    ck_assert_int_eq(acl_allow_dest(acl, "127.0.0.0/8", err, sizeof(err)), 0);
    ck_assert(!addr_ok("127.0.0.1", 3128, NULL)); /* lo's address, read from the interfaces */
    ck_assert(addr_ok("127.0.0.1", 3129, NULL));
}
END_TEST

START_TEST(test_acl_allow_origin_opens_its_port_only)
{
    ck_assert_int_eq(acl_allow_origin(acl, "127.0.0.1", 8080, err, sizeof(err)), 0);
    ck_assert_int_eq(acl_allow_origin(acl, "[::1]", 8081, err, sizeof(err)), 0);
    ck_assert(dest_ok("127.0.0.1", 8080, 0, NULL));
    ck_assert(addr_ok("127.0.0.1", 8080, NULL));
    ck_assert(!addr_ok("127.0.0.1", 9090, NULL));
    ck_assert(addr_ok("::1", 8081, NULL));
    ck_assert(!addr_ok("::1", 8080, NULL));
    /* A name that does not resolve opens nothing, and is no error. */
    ck_assert_int_eq(acl_allow_origin(acl, "no-such-host.invalid", 80, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_acl_set_defaults_forgets_opened_and_own)
{
    struct sockaddr_storage self = sa_port_of("198.18.0.5", 3128);
    ck_assert_int_eq(acl_deny_self(acl, (struct sockaddr *)&self, err, sizeof(err)), 0);
    ck_assert_int_eq(acl_allow_dest(acl, "127.0.0.1/32", err, sizeof(err)), 0);
    acl_set_defaults(acl);
    ck_assert(!addr_ok("127.0.0.1", 80, NULL));
    ck_assert(addr_ok("198.18.0.5", 3128, NULL));
}
END_TEST

START_TEST(test_acl_default_safe_ports)
{
    const int ok[] = {80, 21, 443, 70, 210, 280, 488, 591, 777, 1025, 3128, 8080, 65535};
    const int bad[] = {22, 25, 23, 110, 1024, 1, 0, -1, 65536};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        ck_assert_msg(dest_ok("example.com", ok[i], 0, NULL), "refused port %d", ok[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!dest_ok("example.com", bad[i], 0, NULL), "allowed port %d", bad[i]);
}
END_TEST

START_TEST(test_acl_connect_only_443_by_default)
{
    const char *reason = NULL;
    ck_assert(dest_ok("example.com", 443, 1, NULL));
    ck_assert(!dest_ok("example.com", 80, 1, &reason));
    ck_assert_ptr_nonnull(strstr(reason, "CONNECT"));
    ck_assert(!dest_ok("example.com", 8443, 1, NULL));
    ck_assert(!dest_ok("example.com", 22, 1, NULL));
}
END_TEST

START_TEST(test_acl_first_allow_port_replaces_safe_ports)
{
    ck_assert_int_eq(acl_allow_port(acl, "8080", err, sizeof(err)), 0);
    ck_assert(dest_ok("example.com", 8080, 0, NULL));
    ck_assert(!dest_ok("example.com", 80, 0, NULL));
    ck_assert(!dest_ok("example.com", 8081, 0, NULL));
    ck_assert_int_eq(acl_allow_port(acl, "9000-9010", err, sizeof(err)), 0);
    ck_assert(dest_ok("example.com", 9000, 0, NULL));
    ck_assert(dest_ok("example.com", 9010, 0, NULL));
    ck_assert(!dest_ok("example.com", 9011, 0, NULL));
    ck_assert(dest_ok("example.com", 443, 1, NULL)); /* CONNECT ports unchanged */
}
END_TEST

START_TEST(test_acl_first_allow_connect_port_replaces_443)
{
    ck_assert_int_eq(acl_allow_connect_port(acl, "8443-8444", err, sizeof(err)), 0);
    ck_assert(dest_ok("example.com", 8443, 1, NULL));
    ck_assert(dest_ok("example.com", 8444, 1, NULL));
    ck_assert(!dest_ok("example.com", 443, 1, NULL));
    ck_assert(dest_ok("example.com", 443, 0, NULL)); /* plain Safe_ports unchanged */
}
END_TEST

START_TEST(test_acl_allow_port_rejects_bad_ranges)
{
    const char *bad[] = {"", "0", "65536", "2-1", "a", "1-", "-5", "80 ", "1-2-3", "+80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(acl_allow_port(acl, bad[i], err, sizeof(err)) == -1, "accepted \"%s\"",
                      bad[i]);
        ck_assert_msg(acl_allow_connect_port(acl, bad[i], err, sizeof(err)) == -1,
                      "accepted \"%s\"", bad[i]);
    }
    ck_assert(dest_ok("example.com", 80, 0, NULL)); /* defaults still in force */
    ck_assert(dest_ok("example.com", 443, 1, NULL));
}
END_TEST

START_TEST(test_acl_set_defaults_restores_defaults)
{
    ck_assert_int_eq(acl_allow_client(acl, "203.0.113.0/24", err, sizeof(err)), 0);
    ck_assert_int_eq(acl_allow_port(acl, "8080", err, sizeof(err)), 0);
    ck_assert_int_eq(acl_allow_connect_port(acl, "22", err, sizeof(err)), 0);
    deny(".example.com");
    acl_set_defaults(acl);
    ck_assert(client_ok("127.0.0.1"));
    ck_assert(!client_ok("203.0.113.1"));
    ck_assert(dest_ok("www.example.com", 80, 0, NULL));
    ck_assert(!dest_ok("example.org", 22, 1, NULL));
    ck_assert(dest_ok("example.org", 443, 1, NULL));
}
END_TEST

START_TEST(test_acl_free_accepts_null)
{
    acl_free(NULL);
}
END_TEST

static Suite *acl_suite(void)
{
    Suite *s = suite_create("acl");
    TCase *tc = tcase_create("client");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_acl_default_allows_loopback_client);
    tcase_add_test(tc, test_acl_default_allows_private_and_benchmark_clients);
    tcase_add_test(tc, test_acl_default_refuses_public_client);
    tcase_add_test(tc, test_acl_matches_ipv4_mapped_client);
    tcase_add_test(tc, test_acl_first_allow_client_replaces_defaults);
    tcase_add_test(tc, test_acl_allows_many_client_networks);
    tcase_add_test(tc, test_acl_allow_client_rejects_bad_network);
    suite_add_tcase(s, tc);

    tc = tcase_create("dest");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_acl_denies_exact_host);
    tcase_add_test(tc, test_acl_denies_subdomain);
    tcase_add_test(tc, test_acl_domain_needs_a_dot_boundary);
    tcase_add_test(tc, test_acl_host_match_ignores_case_and_trailing_dot);
    tcase_add_test(tc, test_acl_denies_literal_in_denied_network);
    tcase_add_test(tc, test_acl_denies_bracketed_ipv6_literal);
    tcase_add_test(tc, test_acl_denied_single_address_is_a_host_network);
    tcase_add_test(tc, test_acl_denies_resolved_address_in_denied_network);
    tcase_add_test(tc, test_acl_names_are_not_matched_against_networks);
    tcase_add_test(tc, test_acl_deny_dest_rejects_invalid_entries);
    tcase_add_test(tc, test_acl_rejects_missing_or_overlong_host);
    suite_add_tcase(s, tc);

    tc = tcase_create("local");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_acl_refuses_local_destinations_by_default);
    tcase_add_test(tc, test_acl_allow_dest_opens_only_its_network);
    tcase_add_test(tc, test_acl_deny_dest_wins_over_allow_dest);
    tcase_add_test(tc, test_acl_refuses_own_address_whatever_is_opened);
    tcase_add_test(tc, test_acl_denied_address_and_port_wins_over_allow_dest);
    tcase_add_test(tc, test_acl_wildcard_own_address_covers_loopback);
    tcase_add_test(tc, test_acl_allow_origin_opens_its_port_only);
    tcase_add_test(tc, test_acl_set_defaults_forgets_opened_and_own);
    suite_add_tcase(s, tc);

    tc = tcase_create("ports");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_acl_default_safe_ports);
    tcase_add_test(tc, test_acl_connect_only_443_by_default);
    tcase_add_test(tc, test_acl_first_allow_port_replaces_safe_ports);
    tcase_add_test(tc, test_acl_first_allow_connect_port_replaces_443);
    tcase_add_test(tc, test_acl_allow_port_rejects_bad_ranges);
    tcase_add_test(tc, test_acl_set_defaults_restores_defaults);
    tcase_add_test(tc, test_acl_free_accepts_null);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(acl_suite)
