/* Unit tests for proxyd/vary.c: the one Vary rule the cache index and
 * collapsing share. Two requests are the same variant when, for every name
 * Vary lists, their field lines of that name, trimmed and joined with ", ",
 * are equal; and a request's match against the value the cache stored from
 * another agrees with matching the two requests directly. */
#include <check.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../../../proxyd/vary.h"

struct hdrs {
    struct http1_header h[8];
    size_t n;
};

/* Each argument is one "Name: value" line; NULL ends the list. */
static struct hdrs hdrs_make(const char *line, ...)
{
    struct hdrs r;
    va_list ap;
    memset(&r, 0, sizeof(r));
    va_start(ap, line);
    for (; line; line = va_arg(ap, const char *)) {
        const char *colon = strchr(line, ':');
        ck_assert_ptr_nonnull(colon);
        ck_assert_uint_lt(r.n, 8);
        r.h[r.n].name = (struct http1_str){line, (size_t)(colon - line)};
        r.h[r.n].value = (struct http1_str){colon + 1, strlen(colon + 1)};
        r.n++;
    }
    va_end(ap);
    return r;
}
#define HDRS(...) hdrs_make(__VA_ARGS__, (const char *)NULL)

static const struct http1_str AE = {"Accept-Encoding", 15};

/* Both ways of asking: a against b directly, and b against what a cache
 * would store from a. They must agree, and the answer is returned. */
static int same_variant(struct hdrs a, struct hdrs b)
{
    int direct = vary_requests_match(AE, a.h, a.n, b.h, b.n);
    ck_assert_int_eq(direct, vary_requests_match(AE, b.h, b.n, a.h, a.n));
    char stored[256];
    long len = vary_value_len(a.h, a.n, "accept-encoding");
    ck_assert_int_lt(len, (long)sizeof(stored));
    char *end = vary_value_copy(a.h, a.n, "accept-encoding", stored);
    ck_assert_int_eq(end - stored, len < 0 ? 0 : len);
    int via_store =
        vary_value_matches(b.h, b.n, "accept-encoding", stored, (size_t)(end - stored), len >= 0);
    ck_assert_int_eq(direct, via_store);
    return direct;
}

START_TEST(test_vary_differs_after_first_field_line)
{
    ck_assert(!same_variant(HDRS("Accept-Encoding: gzip", "Accept-Encoding: br"),
                            HDRS("Accept-Encoding: gzip", "Accept-Encoding: deflate")));
    ck_assert(!same_variant(HDRS("Accept-Encoding: gzip", "Accept-Encoding: br"),
                            HDRS("Accept-Encoding: gzip")));
}
END_TEST

START_TEST(test_vary_field_lines_equal_their_joined_line)
{
    ck_assert(same_variant(HDRS("Accept-Encoding: gzip", "Accept-Encoding: br"),
                           HDRS("Accept-Encoding: gzip, br")));
    ck_assert(same_variant(HDRS("accept-encoding:  gzip ", "X-Other: 1", "ACCEPT-ENCODING: br\t"),
                           HDRS("Accept-Encoding: gzip, br")));
}
END_TEST

START_TEST(test_vary_absent_header_differs_from_empty)
{
    ck_assert(!same_variant(HDRS("Accept-Encoding: "), HDRS("X-Other: 1")));
    ck_assert(same_variant(HDRS("X-Other: 1"), HDRS("X-Other: 2")));
    ck_assert(same_variant(HDRS("Accept-Encoding:"), HDRS("Accept-Encoding:  ")));
    ck_assert(!same_variant(HDRS("Accept-Encoding: gzip", "Accept-Encoding: "),
                            HDRS("Accept-Encoding: gzip")));
}
END_TEST

START_TEST(test_vary_every_listed_name_must_agree)
{
    struct hdrs a = HDRS("Accept-Encoding: gzip", "Accept-Language: en");
    struct hdrs b = HDRS("Accept-Encoding: gzip", "Accept-Language: fr");
    struct http1_str v = {"accept-encoding, Accept-Language", 32};
    ck_assert(!vary_requests_match(v, a.h, a.n, b.h, b.n));
    ck_assert(vary_requests_match(AE, a.h, a.n, b.h, b.n));
    struct http1_str star = {"*", 1};
    ck_assert(!vary_requests_match(star, a.h, a.n, a.h, a.n));
    ck_assert(vary_has_star(&star));
}
END_TEST

static Suite *vary_suite(void)
{
    Suite *s = suite_create("vary");
    TCase *tc = tcase_create("match");
    tcase_add_test(tc, test_vary_differs_after_first_field_line);
    tcase_add_test(tc, test_vary_field_lines_equal_their_joined_line);
    tcase_add_test(tc, test_vary_absent_header_differs_from_empty);
    tcase_add_test(tc, test_vary_every_listed_name_must_agree);
    suite_add_tcase(s, tc);
    return s;
}

#include "../check_main.h"
PP_CHECK_MAIN(vary_suite)
