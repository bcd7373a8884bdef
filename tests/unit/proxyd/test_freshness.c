/* Unit tests for proxyd/freshness.c: Cache-Control and HTTP-date parsing,
 * storability, freshness lifetime and age, usability for a request, and
 * client conditionals. Headers are built from string literals. */
#include <check.h>
#include <stdarg.h>
#include <string.h>

#include "../../../proxyd/freshness.h"

/* RFC 9110's example date: Sun, 06 Nov 1994 08:49:37 GMT. */
#define T0 784111777LL

struct hdrs {
    struct http1_header h[16];
    size_t n;
};

static struct http1_str str_lit(const char *s)
{
    struct http1_str r = {s, strlen(s)};
    return r;
}

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
        ck_assert_uint_lt(r.n, 16);
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        r.h[r.n].name.p = line;
        r.h[r.n].name.len = (size_t)(colon - line);
        r.h[r.n].value = str_lit(v);
        r.n++;
    }
    va_end(ap);
    return r;
}
#define HDRS(...) hdrs_make(__VA_ARGS__, (const char *)NULL)
#define NO_HDRS hdrs_make(NULL)

static struct cache_control cc_of(struct hdrs h, int is_request)
{
    struct cache_control cc;
    cache_control_parse(h.h, h.n, is_request, &cc);
    return cc;
}

static int storable(const char *method, struct hdrs req, int status, struct hdrs resp,
                    const char **why)
{
    return freshness_storable(str_lit(method), req.h, req.n, status, resp.h, resp.n, why);
}

static struct freshness fresh_of(int status, struct hdrs resp, int64_t req_t, int64_t resp_t)
{
    struct freshness f;
    freshness_compute(status, resp.h, resp.n, req_t, resp_t, &f);
    return f;
}

/* ---- Cache-Control ---- */

START_TEST(test_cache_control_absent_means_nothing)
{
    struct cache_control cc = cc_of(NO_HDRS, 0);
    ck_assert(!cc.no_store && !cc.no_cache && !cc.private_ && !cc.public_);
    ck_assert_int_eq(cc.max_age_s, -1);
    ck_assert_int_eq(cc.s_maxage_s, -1);
    ck_assert_int_eq(cc.max_stale_s, -1);
    ck_assert_int_eq(cc.min_fresh_s, -1);
}
END_TEST

START_TEST(test_cache_control_combines_headers)
{
    struct cache_control cc = cc_of(HDRS("Cache-Control: public", "Content-Type: text/plain",
                                         "cache-control: max-age=60, "
                                         "Must-Revalidate"),
                                    0);
    ck_assert(cc.public_);
    ck_assert(cc.must_revalidate);
    ck_assert_int_eq(cc.max_age_s, 60);
}
END_TEST

START_TEST(test_cache_control_quoted_argument_accepted)
{
    struct cache_control cc = cc_of(HDRS("Cache-Control: max-age=\"120\", s-maxage=\"30\""), 0);
    ck_assert_int_eq(cc.max_age_s, 120);
    ck_assert_int_eq(cc.s_maxage_s, 30);
}
END_TEST

START_TEST(test_cache_control_quoted_list_does_not_split)
{
    /* The comma inside the quotes must not make "max-age=5" a directive. */
    struct cache_control cc =
        cc_of(HDRS("Cache-Control: no-cache=\"Set-Cookie, max-age=5\", public"), 0);
    ck_assert(cc.no_cache);
    ck_assert(cc.public_);
    ck_assert_int_eq(cc.max_age_s, -1);
}
END_TEST

START_TEST(test_cache_control_malformed_max_age_in_response_is_stale)
{
    ck_assert_int_eq(cc_of(HDRS("Cache-Control: max-age=abc"), 0).max_age_s, 0);
    ck_assert_int_eq(cc_of(HDRS("Cache-Control: max-age"), 0).max_age_s, 0);
    ck_assert_int_eq(cc_of(HDRS("Cache-Control: s-maxage=-5"), 0).s_maxage_s, 0);
}
END_TEST

START_TEST(test_cache_control_malformed_in_request_is_ignored)
{
    struct cache_control cc = cc_of(HDRS("Cache-Control: max-age=x, min-fresh=, max-stale=1y"), 1);
    ck_assert_int_eq(cc.max_age_s, -1);
    ck_assert_int_eq(cc.min_fresh_s, -1);
    ck_assert_int_eq(cc.max_stale_s, -1);
    ck_assert(!cc.max_stale_any);
}
END_TEST

START_TEST(test_cache_control_conflicting_max_age_is_stale)
{
    ck_assert_int_eq(
        cc_of(HDRS("Cache-Control: max-age=60", "Cache-Control: max-age=10"), 0).max_age_s, 0);
    ck_assert_int_eq(cc_of(HDRS("Cache-Control: max-age=60, max-age=60"), 0).max_age_s, 60);
}
END_TEST

START_TEST(test_cache_control_delta_seconds_saturate)
{
    ck_assert_int_eq(cc_of(HDRS("Cache-Control: max-age=99999999999999999999999"), 0).max_age_s,
                     2147483648LL);
}
END_TEST

START_TEST(test_cache_control_request_directives)
{
    struct cache_control cc =
        cc_of(HDRS("Cache-Control: max-stale, min-fresh=5, only-if-cached, no-store"), 1);
    ck_assert(cc.max_stale_any);
    ck_assert_int_eq(cc.min_fresh_s, 5);
    ck_assert(cc.only_if_cached);
    ck_assert(cc.no_store);
    cc = cc_of(HDRS("Cache-Control: max-stale=30"), 1);
    ck_assert(!cc.max_stale_any);
    ck_assert_int_eq(cc.max_stale_s, 30);
}
END_TEST

START_TEST(test_cache_control_pragma_no_cache_in_request)
{
    ck_assert(cc_of(HDRS("Pragma: no-cache"), 1).no_cache);
    ck_assert(!cc_of(HDRS("Pragma: no-cache"), 0).no_cache);
}
END_TEST

START_TEST(test_cache_control_pragma_ignored_with_cache_control)
{
    ck_assert(!cc_of(HDRS("Pragma: no-cache", "Cache-Control: max-age=10"), 1).no_cache);
}
END_TEST

/* ---- HTTP-date ---- */

START_TEST(test_http_date_three_formats)
{
    ck_assert_int_eq(http_date_parse(str_lit("Sun, 06 Nov 1994 08:49:37 GMT")), T0);
    ck_assert_int_eq(http_date_parse(str_lit("Sunday, 06-Nov-94 08:49:37 GMT")), T0);
    ck_assert_int_eq(http_date_parse(str_lit("Sun Nov  6 08:49:37 1994")), T0);
    ck_assert_int_eq(http_date_parse(str_lit("Thu Feb 29 12:00:00 2024")), 1709208000LL);
}
END_TEST

START_TEST(test_http_date_rfc850_two_digit_year)
{
    ck_assert_int_eq(http_date_parse(str_lit("Thursday, 01-Jan-70 00:00:00 GMT")), 0);
    ck_assert_int_eq(http_date_parse(str_lit("Friday, 31-Dec-99 23:59:59 GMT")), 946684799LL);
    ck_assert_int_eq(http_date_parse(str_lit("Tuesday, 01-Jan-69 00:00:00 GMT")), 0);
    ck_assert_int_eq(http_date_parse(str_lit("Tuesday, 01-Jan-68 00:00:00 GMT")),
                     3124224000LL - 86400LL * 366);
}
END_TEST

START_TEST(test_http_date_rejects_invalid)
{
    static const char *const bad[] = {
        "",
        "0",
        "-1",
        "Sun, 06 Nov 1994 08:49:37",       /* no GMT */
        "Sun, 06 Nov 1994 08:49:37 UTC",   /* not GMT */
        "Sun, 06 Nov 1994 08:49:37 GMT ",  /* trailing bytes */
        "Sun, 6 Nov 1994 08:49:37 GMT",    /* one-digit day */
        "Sun, 30 Feb 1994 08:49:37 GMT",   /* no such day */
        "Sun, 06 Nov 1994 24:00:00 GMT",   /* hour */
        "Sun, 06 Nov 1994 08:60:00 GMT",   /* minute */
        "Sun, 06 Foo 1994 08:49:37 GMT",   /* month */
        "sun, 06 nov 1994 08:49:37 gmt",   /* case-sensitive */
        "Sun, 06 Nov 94 08:49:37 GMT",     /* two-digit year in IMF */
        "Sun, 06-Nov-94 08:49:37 GMT",     /* RFC 850 needs the long day name */
        "Sun Nov 6 08:49:37 1994",         /* asctime day is padded */
        "Sunday, 06 Nov 1994 08:49:37 GMT" /* mixed forms */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(http_date_parse(str_lit(bad[i])) == -1, "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(test_http_date_accepts_leap_second_and_leap_day)
{
    ck_assert_int_eq(http_date_parse(str_lit("Sat, 31 Dec 2016 23:59:60 GMT")),
                     http_date_parse(str_lit("Sun, 01 Jan 2017 00:00:00 GMT")));
    ck_assert_int_eq(http_date_parse(str_lit("Thu, 29 Feb 2024 12:00:00 GMT")), 1709208000LL);
    ck_assert_int_eq(http_date_parse(str_lit("Thu, 29 Feb 2023 12:00:00 GMT")), -1);
}
END_TEST

START_TEST(test_http_date_before_epoch_clamps_to_zero)
{
    ck_assert_int_eq(http_date_parse(str_lit("Wed, 31 Dec 1969 23:59:59 GMT")), 0);
}
END_TEST

START_TEST(test_http_date_format_imf_fixdate)
{
    char out[30];
    http_date_format(T0, out, sizeof(out));
    ck_assert_str_eq(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    http_date_format(0, out, sizeof(out));
    ck_assert_str_eq(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    http_date_format(1709208000LL, out, sizeof(out));
    ck_assert_str_eq(out, "Thu, 29 Feb 2024 12:00:00 GMT");
    ck_assert_int_eq(http_date_parse(str_lit(out)), 1709208000LL);
}
END_TEST

/* ---- storability ---- */

START_TEST(test_freshness_plain_200_storable)
{
    const char *why = NULL;
    ck_assert_int_eq(storable("GET", NO_HDRS, 200, NO_HDRS, &why), 1);
}
END_TEST

START_TEST(test_freshness_only_get_storable)
{
    const char *why = NULL;
    ck_assert_int_eq(storable("POST", NO_HDRS, 200, HDRS("Cache-Control: max-age=60"), &why), 0);
    ck_assert_str_eq(why, "method");
    ck_assert_int_eq(storable("get", NO_HDRS, 200, NO_HDRS, &why), 0);
}
END_TEST

START_TEST(test_freshness_private_not_storable)
{
    const char *why = NULL;
    ck_assert_int_eq(
        storable("GET", NO_HDRS, 200, HDRS("Cache-Control: private, max-age=600"), &why), 0);
    ck_assert_str_eq(why, "private");
    ck_assert_int_eq(storable("GET", NO_HDRS, 200, HDRS("Cache-Control: private=\"X-Foo\""), &why),
                     0);
}
END_TEST

START_TEST(test_freshness_no_store_in_request)
{
    const char *why = NULL;
    ck_assert_int_eq(storable("GET", HDRS("Cache-Control: no-store"), 200,
                              HDRS("Cache-Control: public, max-age=60"), &why),
                     0);
    ck_assert_str_eq(why, "no-store");
}
END_TEST

START_TEST(test_freshness_no_store_in_response)
{
    const char *why = NULL;
    ck_assert_int_eq(
        storable("GET", NO_HDRS, 200, HDRS("Cache-Control: max-age=60, no-store"), &why), 0);
    ck_assert_str_eq(why, "no-store");
}
END_TEST

START_TEST(test_freshness_must_understand_overrides_no_store)
{
    const char *why = NULL;
    ck_assert_int_eq(storable("GET", NO_HDRS, 200,
                              HDRS("Cache-Control: must-understand, no-store, max-age=60"), &why),
                     1);
    ck_assert_int_eq(storable("GET", NO_HDRS, 299,
                              HDRS("Cache-Control: must-understand, no-store, max-age=60"), &why),
                     0);
}
END_TEST

START_TEST(test_freshness_authorization_needs_public)
{
    const char *why = NULL;
    struct hdrs req = HDRS("Authorization: Bearer x");
    ck_assert_int_eq(storable("GET", req, 200, HDRS("Cache-Control: max-age=60"), &why), 0);
    ck_assert_str_eq(why, "authorization");
    ck_assert_int_eq(storable("GET", req, 200, HDRS("Cache-Control: public, max-age=60"), &why), 1);
    ck_assert_int_eq(storable("GET", req, 200, HDRS("Cache-Control: s-maxage=60"), &why), 1);
    ck_assert_int_eq(storable("GET", req, 200, HDRS("Cache-Control: must-revalidate"), &why), 1);
}
END_TEST

START_TEST(test_freshness_vary_star_not_storable)
{
    const char *why = NULL;
    ck_assert_int_eq(storable("GET", NO_HDRS, 200, HDRS("Vary: Accept, *"), &why), 0);
    ck_assert_str_eq(why, "vary-star");
    ck_assert_int_eq(storable("GET", NO_HDRS, 200, HDRS("Vary: Accept-Encoding"), &why), 1);
}
END_TEST

START_TEST(test_freshness_other_status_needs_explicit_freshness)
{
    const char *why = NULL;
    ck_assert_int_eq(storable("GET", NO_HDRS, 302, NO_HDRS, &why), 0);
    ck_assert_str_eq(why, "no-freshness");
    ck_assert_int_eq(storable("GET", NO_HDRS, 302, HDRS("Cache-Control: max-age=60"), &why), 1);
    ck_assert_int_eq(storable("GET", NO_HDRS, 302, HDRS("Cache-Control: public"), &why), 1);
    ck_assert_int_eq(storable("GET", NO_HDRS, 503, HDRS("Expires: 0"), &why), 1);
}
END_TEST

START_TEST(test_freshness_partial_and_interim_not_storable)
{
    const char *why = NULL;
    struct hdrs resp = HDRS("Cache-Control: max-age=60");
    ck_assert_int_eq(storable("GET", NO_HDRS, 206, resp, &why), 0);
    ck_assert_int_eq(storable("GET", NO_HDRS, 304, resp, &why), 0);
    ck_assert_int_eq(storable("GET", NO_HDRS, 101, resp, &why), 0);
    ck_assert_str_eq(why, "status");
}
END_TEST

/* ---- lifetime ---- */

START_TEST(test_freshness_s_maxage_beats_max_age)
{
    struct freshness f = fresh_of(200, HDRS("Cache-Control: max-age=600, s-maxage=30"), T0, T0);
    ck_assert_int_eq(f.lifetime_s, 30);
    ck_assert(f.must_revalidate); /* s-maxage implies proxy-revalidate */
}
END_TEST

START_TEST(test_freshness_max_age_beats_expires)
{
    struct freshness f =
        fresh_of(200,
                 HDRS("Date: Sun, 06 Nov 1994 08:49:37 GMT",
                      "Expires: Sun, 06 Nov 1994 09:49:37 GMT", "Cache-Control: max-age=5"),
                 T0, T0);
    ck_assert_int_eq(f.lifetime_s, 5);
}
END_TEST

START_TEST(test_freshness_expires_minus_date)
{
    struct freshness f = fresh_of(
        200, HDRS("Date: Sun, 06 Nov 1994 08:49:37 GMT", "Expires: Sun, 06 Nov 1994 09:49:37 GMT"),
        T0 + 100, T0 + 100);
    ck_assert_int_eq(f.lifetime_s, 3600);
}
END_TEST

START_TEST(test_freshness_expires_without_date_uses_response_time)
{
    struct freshness f =
        fresh_of(200, HDRS("Expires: Sun, 06 Nov 1994 09:49:37 GMT"), T0 + 600, T0 + 600);
    ck_assert_int_eq(f.lifetime_s, 3000);
}
END_TEST

START_TEST(test_freshness_invalid_expires_is_expired)
{
    struct freshness f = fresh_of(200,
                                  HDRS("Date: Sun, 06 Nov 1994 08:49:37 GMT", "Expires: 0",
                                       "Last-Modified: Sun, 06 Nov 1994 00:00:00 GMT"),
                                  T0, T0);
    ck_assert_int_eq(f.lifetime_s, 0);
}
END_TEST

START_TEST(test_freshness_heuristic_from_last_modified)
{
    /* Date - Last-Modified = 10000 s -> 1000 s. */
    struct freshness f = fresh_of(
        200,
        HDRS("Date: Sun, 06 Nov 1994 08:49:37 GMT", "Last-Modified: Sun, 06 Nov 1994 06:02:57 GMT"),
        T0, T0);
    ck_assert_int_eq(f.lifetime_s, 1000);
}
END_TEST

START_TEST(test_freshness_heuristic_capped_at_one_day)
{
    struct freshness f = fresh_of(
        404,
        HDRS("Date: Sun, 06 Nov 1994 08:49:37 GMT", "Last-Modified: Mon, 01 Jan 1990 00:00:00 GMT"),
        T0, T0);
    ck_assert_int_eq(f.lifetime_s, 86400);
}
END_TEST

START_TEST(test_freshness_no_heuristic_for_other_status)
{
    struct freshness f = fresh_of(
        302,
        HDRS("Date: Sun, 06 Nov 1994 08:49:37 GMT", "Last-Modified: Sun, 06 Nov 1994 06:03:57 GMT"),
        T0, T0);
    ck_assert_int_eq(f.lifetime_s, 0);
    f = fresh_of(200, HDRS("Date: Sun, 06 Nov 1994 08:49:37 GMT"), T0, T0);
    ck_assert_int_eq(f.lifetime_s, 0);
}
END_TEST

START_TEST(test_freshness_revalidation_flags)
{
    ck_assert(
        fresh_of(200, HDRS("Cache-Control: max-age=5, must-revalidate"), T0, T0).must_revalidate);
    ck_assert(
        fresh_of(200, HDRS("Cache-Control: max-age=5, proxy-revalidate"), T0, T0).must_revalidate);
    ck_assert(!fresh_of(200, HDRS("Cache-Control: max-age=5"), T0, T0).must_revalidate);
    ck_assert(fresh_of(200, HDRS("Cache-Control: max-age=5, no-cache"), T0, T0).no_cache);
}
END_TEST

/* ---- age ---- */

START_TEST(test_freshness_age_header_counts)
{
    struct freshness f =
        fresh_of(200, HDRS("Date: Sun, 06 Nov 1994 08:49:37 GMT", "Age: 40"), T0, T0);
    ck_assert_int_eq(f.corrected_age_s, 40);
    ck_assert_int_eq(freshness_age(&f, T0), 40);
    ck_assert_int_eq(freshness_age(&f, T0 + 20), 60);
}
END_TEST

START_TEST(test_freshness_age_list_uses_first_member)
{
    ck_assert_int_eq(fresh_of(200, HDRS("Age: 7, 90"), T0, T0).corrected_age_s, 7);
    ck_assert_int_eq(fresh_of(200, HDRS("Age: -3"), T0, T0).corrected_age_s, 0);
    ck_assert_int_eq(fresh_of(200, HDRS("Age: soon"), T0, T0).corrected_age_s, 0);
}
END_TEST

START_TEST(test_freshness_apparent_age_from_date)
{
    /* Response generated 30 s before it arrived, no Age: apparent age 30. */
    struct freshness f =
        fresh_of(200, HDRS("Date: Sun, 06 Nov 1994 08:49:37 GMT", "Age: 10"), T0 + 29, T0 + 30);
    ck_assert_int_eq(f.corrected_age_s, 30);
    /* A Date in the future gives no negative age. */
    f = fresh_of(200, HDRS("Date: Sun, 06 Nov 1994 08:49:37 GMT"), T0 - 50, T0 - 50);
    ck_assert_int_eq(f.corrected_age_s, 0);
}
END_TEST

START_TEST(test_freshness_response_delay_counts)
{
    /* Age 10 plus 5 s in flight. */
    struct freshness f = fresh_of(200, HDRS("Age: 10"), T0, T0 + 5);
    ck_assert_int_eq(f.corrected_age_s, 15);
    ck_assert_int_eq(f.response_time, T0 + 5);
}
END_TEST

/* ---- usability ---- */

START_TEST(test_freshness_usable_until_lifetime_ends)
{
    struct freshness f = fresh_of(200, HDRS("Cache-Control: max-age=60"), T0, T0);
    struct cache_control none = cc_of(NO_HDRS, 1);
    ck_assert(freshness_usable(&f, &none, T0 + 59));
    ck_assert(!freshness_usable(&f, &none, T0 + 60));
    ck_assert(freshness_usable(&f, NULL, T0 + 1));
}
END_TEST

START_TEST(test_freshness_request_no_cache_not_usable)
{
    struct freshness f = fresh_of(200, HDRS("Cache-Control: max-age=60"), T0, T0);
    struct cache_control cc = cc_of(HDRS("Pragma: no-cache"), 1);
    ck_assert(!freshness_usable(&f, &cc, T0));
    cc = cc_of(HDRS("Cache-Control: no-cache"), 1);
    ck_assert(!freshness_usable(&f, &cc, T0));
}
END_TEST

START_TEST(test_freshness_response_no_cache_not_usable)
{
    struct freshness f = fresh_of(200, HDRS("Cache-Control: max-age=60, no-cache"), T0, T0);
    ck_assert(!freshness_usable(&f, NULL, T0));
}
END_TEST

START_TEST(test_freshness_request_max_age_limits_age)
{
    struct freshness f = fresh_of(200, HDRS("Cache-Control: max-age=600"), T0, T0);
    struct cache_control cc = cc_of(HDRS("Cache-Control: max-age=10"), 1);
    ck_assert(freshness_usable(&f, &cc, T0 + 10));
    ck_assert(!freshness_usable(&f, &cc, T0 + 11));
}
END_TEST

START_TEST(test_freshness_min_fresh)
{
    struct freshness f = fresh_of(200, HDRS("Cache-Control: max-age=60"), T0, T0);
    struct cache_control cc = cc_of(HDRS("Cache-Control: min-fresh=20"), 1);
    ck_assert(freshness_usable(&f, &cc, T0 + 40));
    ck_assert(!freshness_usable(&f, &cc, T0 + 41));
}
END_TEST

START_TEST(test_freshness_max_stale_allows_stale)
{
    struct freshness f = fresh_of(200, HDRS("Cache-Control: max-age=60"), T0, T0);
    struct cache_control cc = cc_of(HDRS("Cache-Control: max-stale=30"), 1);
    ck_assert(freshness_usable(&f, &cc, T0 + 90));
    ck_assert(!freshness_usable(&f, &cc, T0 + 91));
    cc = cc_of(HDRS("Cache-Control: max-stale"), 1);
    ck_assert(freshness_usable(&f, &cc, T0 + 100000));
}
END_TEST

START_TEST(test_freshness_must_revalidate_blocks_max_stale)
{
    struct freshness f = fresh_of(200, HDRS("Cache-Control: max-age=60, must-revalidate"), T0, T0);
    struct cache_control cc = cc_of(HDRS("Cache-Control: max-stale"), 1);
    ck_assert(freshness_usable(&f, &cc, T0 + 59));
    ck_assert(!freshness_usable(&f, &cc, T0 + 61));
}
END_TEST

/* ---- conditionals ---- */

static int not_modified(struct hdrs req, struct hdrs resp)
{
    return freshness_not_modified(req.h, req.n, resp.h, resp.n);
}

START_TEST(test_freshness_if_none_match_weak)
{
    ck_assert(not_modified(HDRS("If-None-Match: W/\"v1\""), HDRS("ETag: \"v1\"")));
    ck_assert(not_modified(HDRS("If-None-Match: \"v1\""), HDRS("ETag: W/\"v1\"")));
    ck_assert(not_modified(HDRS("If-None-Match: W/\"v1\""), HDRS("ETag: W/\"v1\"")));
}
END_TEST

START_TEST(test_freshness_if_none_match_list_and_star)
{
    ck_assert(not_modified(HDRS("If-None-Match: \"a\", \"b,c\" , W/\"v1\""), HDRS("ETag: \"v1\"")));
    ck_assert(
        not_modified(HDRS("If-None-Match: \"a\"", "If-None-Match: \"v1\""), HDRS("ETag: \"v1\"")));
    ck_assert(not_modified(HDRS("If-None-Match: \"b,c\""), HDRS("ETag: \"b,c\"")));
    ck_assert(not_modified(HDRS("If-None-Match: *"), HDRS("Content-Type: text/plain")));
}
END_TEST

START_TEST(test_freshness_if_none_match_mismatch)
{
    ck_assert(!not_modified(HDRS("If-None-Match: \"v2\""), HDRS("ETag: \"v1\"")));
    ck_assert(!not_modified(HDRS("If-None-Match: \"V1\""), HDRS("ETag: \"v1\"")));
    ck_assert(!not_modified(HDRS("If-None-Match: \"v1\""), NO_HDRS));
    ck_assert(!not_modified(HDRS("If-None-Match: v1"), HDRS("ETag: \"v1\"")));
}
END_TEST

START_TEST(test_freshness_ims_ignored_when_inm_present)
{
    struct hdrs resp = HDRS("ETag: \"v1\"", "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT");
    ck_assert(!not_modified(
        HDRS("If-None-Match: \"v2\"", "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT"), resp));
}
END_TEST

START_TEST(test_freshness_ims_against_last_modified)
{
    struct hdrs resp =
        HDRS("Date: Sun, 06 Nov 1994 10:00:00 GMT", "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT");
    ck_assert(not_modified(HDRS("If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT"), resp));
    ck_assert(not_modified(HDRS("If-Modified-Since: Sun, 06 Nov 1994 09:00:00 GMT"), resp));
    ck_assert(!not_modified(HDRS("If-Modified-Since: Sun, 06 Nov 1994 08:49:36 GMT"), resp));
}
END_TEST

START_TEST(test_freshness_ims_falls_back_to_date)
{
    struct hdrs resp = HDRS("Date: Sun, 06 Nov 1994 08:49:37 GMT");
    ck_assert(not_modified(HDRS("If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT"), resp));
    ck_assert(!not_modified(HDRS("If-Modified-Since: Sun, 06 Nov 1994 08:00:00 GMT"), resp));
    ck_assert(!not_modified(HDRS("If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT"), NO_HDRS));
}
END_TEST

START_TEST(test_freshness_ims_invalid_date_ignored)
{
    struct hdrs resp = HDRS("Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT");
    ck_assert(!not_modified(HDRS("If-Modified-Since: yesterday"), resp));
    ck_assert(!not_modified(HDRS("If-Modified-Since: Sun, 06 Nov 1994 09:00:00 GMT",
                                 "If-Modified-Since: Sun, 06 Nov 1994 09:00:00 GMT"),
                            resp));
}
END_TEST

START_TEST(test_freshness_no_conditionals_not_modified_false)
{
    ck_assert(!not_modified(NO_HDRS, HDRS("ETag: \"v1\"")));
}
END_TEST

static Suite *freshness_suite(void)
{
    Suite *s = suite_create("freshness");
    TCase *tc = tcase_create("cache_control");
    tcase_add_test(tc, test_cache_control_absent_means_nothing);
    tcase_add_test(tc, test_cache_control_combines_headers);
    tcase_add_test(tc, test_cache_control_quoted_argument_accepted);
    tcase_add_test(tc, test_cache_control_quoted_list_does_not_split);
    tcase_add_test(tc, test_cache_control_malformed_max_age_in_response_is_stale);
    tcase_add_test(tc, test_cache_control_malformed_in_request_is_ignored);
    tcase_add_test(tc, test_cache_control_conflicting_max_age_is_stale);
    tcase_add_test(tc, test_cache_control_delta_seconds_saturate);
    tcase_add_test(tc, test_cache_control_request_directives);
    tcase_add_test(tc, test_cache_control_pragma_no_cache_in_request);
    tcase_add_test(tc, test_cache_control_pragma_ignored_with_cache_control);
    suite_add_tcase(s, tc);

    tc = tcase_create("http_date");
    tcase_add_test(tc, test_http_date_three_formats);
    tcase_add_test(tc, test_http_date_rfc850_two_digit_year);
    tcase_add_test(tc, test_http_date_rejects_invalid);
    tcase_add_test(tc, test_http_date_accepts_leap_second_and_leap_day);
    tcase_add_test(tc, test_http_date_before_epoch_clamps_to_zero);
    tcase_add_test(tc, test_http_date_format_imf_fixdate);
    suite_add_tcase(s, tc);

    tc = tcase_create("storable");
    tcase_add_test(tc, test_freshness_plain_200_storable);
    tcase_add_test(tc, test_freshness_only_get_storable);
    tcase_add_test(tc, test_freshness_private_not_storable);
    tcase_add_test(tc, test_freshness_no_store_in_request);
    tcase_add_test(tc, test_freshness_no_store_in_response);
    tcase_add_test(tc, test_freshness_must_understand_overrides_no_store);
    tcase_add_test(tc, test_freshness_authorization_needs_public);
    tcase_add_test(tc, test_freshness_vary_star_not_storable);
    tcase_add_test(tc, test_freshness_other_status_needs_explicit_freshness);
    tcase_add_test(tc, test_freshness_partial_and_interim_not_storable);
    suite_add_tcase(s, tc);

    tc = tcase_create("lifetime");
    tcase_add_test(tc, test_freshness_s_maxage_beats_max_age);
    tcase_add_test(tc, test_freshness_max_age_beats_expires);
    tcase_add_test(tc, test_freshness_expires_minus_date);
    tcase_add_test(tc, test_freshness_expires_without_date_uses_response_time);
    tcase_add_test(tc, test_freshness_invalid_expires_is_expired);
    tcase_add_test(tc, test_freshness_heuristic_from_last_modified);
    tcase_add_test(tc, test_freshness_heuristic_capped_at_one_day);
    tcase_add_test(tc, test_freshness_no_heuristic_for_other_status);
    tcase_add_test(tc, test_freshness_revalidation_flags);
    suite_add_tcase(s, tc);

    tc = tcase_create("age");
    tcase_add_test(tc, test_freshness_age_header_counts);
    tcase_add_test(tc, test_freshness_age_list_uses_first_member);
    tcase_add_test(tc, test_freshness_apparent_age_from_date);
    tcase_add_test(tc, test_freshness_response_delay_counts);
    suite_add_tcase(s, tc);

    tc = tcase_create("usable");
    tcase_add_test(tc, test_freshness_usable_until_lifetime_ends);
    tcase_add_test(tc, test_freshness_request_no_cache_not_usable);
    tcase_add_test(tc, test_freshness_response_no_cache_not_usable);
    tcase_add_test(tc, test_freshness_request_max_age_limits_age);
    tcase_add_test(tc, test_freshness_min_fresh);
    tcase_add_test(tc, test_freshness_max_stale_allows_stale);
    tcase_add_test(tc, test_freshness_must_revalidate_blocks_max_stale);
    suite_add_tcase(s, tc);

    tc = tcase_create("conditionals");
    tcase_add_test(tc, test_freshness_if_none_match_weak);
    tcase_add_test(tc, test_freshness_if_none_match_list_and_star);
    tcase_add_test(tc, test_freshness_if_none_match_mismatch);
    tcase_add_test(tc, test_freshness_ims_ignored_when_inm_present);
    tcase_add_test(tc, test_freshness_ims_against_last_modified);
    tcase_add_test(tc, test_freshness_ims_falls_back_to_date);
    tcase_add_test(tc, test_freshness_ims_invalid_date_ignored);
    tcase_add_test(tc, test_freshness_no_conditionals_not_modified_false);
    suite_add_tcase(s, tc);
    return s;
}

#include "../check_main.h"
PP_CHECK_MAIN(freshness_suite)
