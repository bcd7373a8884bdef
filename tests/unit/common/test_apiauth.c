/* Unit tests for common/apiauth.c: the Host, Content-Type and bearer token
 * checks the manager's API and the balancer's admin make, and token files. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "apiauth.h"
#include "../check_main.h"

START_TEST(test_apiauth_host_accepts_addresses_and_localhost)
{
    const char *good[] = {"127.0.0.1",    "127.0.0.1:9090", "10.0.0.7:1", "localhost",
                          "LocalHost:80", "[::1]",          "[::1]:9090", "[fe80::1]:8"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(apiauth_host_ok(good[i]), "%s refused", good[i]);
    ck_assert(apiauth_host_ok(NULL)); /* HTTP/1.0 without Host: no browser */
}
END_TEST

START_TEST(test_apiauth_host_refuses_names)
{
    const char *bad[] = {"evil.example",
                         "evil.example:9090",
                         "127.0.0.1.nip.io",
                         "localhost.",
                         "localhost.evil",
                         "::1",
                         "[::1",
                         "[::1]x",
                         "127.0.0.1:",
                         "127.0.0.1:123456",
                         "127.1",
                         "",
                         ":80",
                         "0x7f.0.0.1",
                         "127.0.0.1 :80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!apiauth_host_ok(bad[i]), "%s accepted", bad[i]);
}
END_TEST

START_TEST(test_apiauth_json_type)
{
    ck_assert(apiauth_json_type_ok("application/json"));
    ck_assert(apiauth_json_type_ok("Application/JSON; charset=utf-8"));
    ck_assert(!apiauth_json_type_ok(NULL));
    ck_assert(!apiauth_json_type_ok("text/plain"));
    ck_assert(!apiauth_json_type_ok("application/x-www-form-urlencoded"));
    ck_assert(!apiauth_json_type_ok("application/jsonx"));
    ck_assert(!apiauth_json_type_ok("multipart/form-data; boundary=application/json"));
}
END_TEST

START_TEST(test_apiauth_bearer)
{
    const char t[] = "abc123";
    ck_assert(apiauth_bearer_matches("Bearer abc123", t, 6));
    ck_assert(apiauth_bearer_matches("bearer   abc123 ", t, 6));
    ck_assert(!apiauth_bearer_matches(NULL, t, 6));
    ck_assert(!apiauth_bearer_matches("Bearer abc12", t, 6));
    ck_assert(!apiauth_bearer_matches("Bearer abc1234", t, 6));
    ck_assert(!apiauth_bearer_matches("Basic abc123", t, 6));
    ck_assert(!apiauth_bearer_matches("Bearerabc123", t, 6));
    ck_assert(!apiauth_bearer_matches("Bearer ", "", 0)); /* no empty token */
}
END_TEST

START_TEST(test_apiauth_ensure_generates_then_reads_and_refuses_symlinks)
{
    char dir[] = "/tmp/test_apiauth.XXXXXX", err[256], tok[APIAUTH_TOKEN_MAX + 1], path[64];
    char again[APIAUTH_TOKEN_MAX + 1];
    size_t len = 0, len2 = 0;
    int created = 0;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(dfd, 0);
    ck_assert_msg(apiauth_token_ensure(dfd, dir, "t", tok, &len, &created, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_int_eq(created, 1);
    ck_assert_uint_eq(len, 2 * APIAUTH_TOKEN_RANDOM_BYTES);
    ck_assert_int_eq(apiauth_token_ensure(dfd, dir, "t", again, &len2, &created, err, sizeof(err)),
                     0);
    ck_assert_int_eq(created, 0);
    ck_assert_str_eq(again, tok);

    /* A symlink where the token goes is refused, and its target untouched. */
    snprintf(path, sizeof(path), "%s/victim", dir);
    FILE *f = fopen(path, "w");
    fputs("precious\n", f);
    fclose(f);
    ck_assert_int_eq(symlinkat("victim", dfd, "link"), 0);
    ck_assert_int_eq(apiauth_token_ensure(dfd, dir, "link", tok, &len, &created, err, sizeof(err)),
                     -1);
    ck_assert_msg(strstr(err, "symlink") != NULL, "%s", err);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 9);

    /* Readable by others: refused. */
    ck_assert_int_eq(fchmodat(dfd, "t", 0640, 0), 0);
    ck_assert_int_eq(apiauth_token_ensure(dfd, dir, "t", tok, &len, &created, err, sizeof(err)),
                     -1);
    ck_assert_msg(strstr(err, "mode 0640") != NULL, "%s", err);
    unlinkat(dfd, "t", 0);
    unlinkat(dfd, "link", 0);
    unlinkat(dfd, "victim", 0);
    close(dfd);
    rmdir(dir);
}
END_TEST

static Suite *apiauth_suite(void)
{
    Suite *s = suite_create("apiauth");
    TCase *tc = tcase_create("checks");
    tcase_add_test(tc, test_apiauth_host_accepts_addresses_and_localhost);
    tcase_add_test(tc, test_apiauth_host_refuses_names);
    tcase_add_test(tc, test_apiauth_json_type);
    tcase_add_test(tc, test_apiauth_bearer);
    tcase_add_test(tc, test_apiauth_ensure_generates_then_reads_and_refuses_symlinks);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(apiauth_suite)
