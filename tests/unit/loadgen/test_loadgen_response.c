/* Unit tests for loadgen/response.c: the end of each response found exactly
 * whatever the read boundaries (Content-Length, chunked, close-delimited),
 * byte counts, keep-alive, X-Cache attribution, and the error class of each
 * way a response can go wrong. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check_main.h"
#include "../../../loadgen/response.h"

static struct loadgen_response r;

static void setup(void)
{
    loadgen_response_init(&r);
}

static void teardown(void)
{
    loadgen_response_release(&r);
}

/* Feeds text in pieces of `step` bytes; returns the bytes used in all. */
static size_t feed_in_steps(const char *text, size_t len, size_t step)
{
    size_t used = 0, off = 0;
    while (off < len && r.state != LOADGEN_RESPONSE_DONE && r.state != LOADGEN_RESPONSE_ERROR) {
        size_t n = len - off < step ? len - off : step;
        used += loadgen_response_feed(&r, text + off, n);
        off += n;
    }
    return used;
}

static const char LENGTH_RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"
                                      "X-Cache: HIT from edge1\r\n\r\n0123456789";

START_TEST(test_loadgen_response_length_at_every_split)
{
    size_t len = strlen(LENGTH_RESPONSE);
    for (size_t step = 1; step <= len; step++) {
        loadgen_response_reset(&r);
        size_t used = feed_in_steps(LENGTH_RESPONSE, len, step);
        ck_assert_int_eq(r.state, LOADGEN_RESPONSE_DONE);
        ck_assert_uint_eq(used, len);
        ck_assert_uint_eq(r.bytes_in, len);
        ck_assert_uint_eq(r.body_bytes, 10);
        ck_assert_int_eq(r.status, 200);
        ck_assert_int_eq(r.keep_alive, 1);
        ck_assert_str_eq(r.cache, "HIT");
        ck_assert_str_eq(r.proxy, "edge1");
    }
}
END_TEST

START_TEST(test_loadgen_response_stops_at_its_end)
{
    char two[256];
    snprintf(two, sizeof(two), "%s%s", LENGTH_RESPONSE, "HTTP/1.1 200 OK\r\n");
    size_t used = loadgen_response_feed(&r, two, strlen(two));
    ck_assert_int_eq(r.state, LOADGEN_RESPONSE_DONE);
    ck_assert_uint_eq(used, strlen(LENGTH_RESPONSE)); /* the rest is not ours */
}
END_TEST

static const char CHUNKED_RESPONSE[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                       "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n";

START_TEST(test_loadgen_response_chunked_at_every_split)
{
    size_t len = strlen(CHUNKED_RESPONSE);
    for (size_t step = 1; step <= len; step++) {
        loadgen_response_reset(&r);
        size_t used = feed_in_steps(CHUNKED_RESPONSE, len, step);
        ck_assert_msg(r.state == LOADGEN_RESPONSE_DONE, "step %zu: state %d", step, r.state);
        ck_assert_uint_eq(used, len);
        ck_assert_uint_eq(r.body_bytes, 11);
        ck_assert_uint_eq(r.bytes_in, len);
        ck_assert_str_eq(r.cache, "");
        ck_assert_str_eq(r.proxy, "");
    }
}
END_TEST

START_TEST(test_loadgen_response_close_delimited_completes_at_eof)
{
    const char *text = "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nabcdef";
    loadgen_response_feed(&r, text, strlen(text));
    ck_assert_int_eq(r.state, LOADGEN_RESPONSE_BODY);
    ck_assert_int_eq(r.keep_alive, 0);
    loadgen_response_feed(&r, "ghij", 4);
    loadgen_response_eof(&r, 0);
    ck_assert_int_eq(r.state, LOADGEN_RESPONSE_DONE);
    ck_assert_uint_eq(r.body_bytes, 10);
}
END_TEST

START_TEST(test_loadgen_response_close_delimited_reset_is_short)
{
    const char *text = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc";
    loadgen_response_feed(&r, text, strlen(text));
    loadgen_response_eof(&r, 1);
    ck_assert_int_eq(r.state, LOADGEN_RESPONSE_ERROR);
    ck_assert_int_eq(r.error, LOADGEN_ERR_SHORT_BODY);
}
END_TEST

START_TEST(test_loadgen_response_eof_mid_body_is_short_body)
{
    const char *text = "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\nabc";
    loadgen_response_feed(&r, text, strlen(text));
    loadgen_response_eof(&r, 0);
    ck_assert_int_eq(r.state, LOADGEN_RESPONSE_ERROR);
    ck_assert_int_eq(r.error, LOADGEN_ERR_SHORT_BODY);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_bytes, 3);
}
END_TEST

START_TEST(test_loadgen_response_eof_before_head_is_reset)
{
    loadgen_response_eof(&r, 0);
    ck_assert_int_eq(r.error, LOADGEN_ERR_RESET);
    loadgen_response_reset(&r);
    loadgen_response_feed(&r, "HTTP/1.1 200 OK\r\nContent-", 25);
    loadgen_response_eof(&r, 1);
    ck_assert_int_eq(r.error, LOADGEN_ERR_RESET);
}
END_TEST

START_TEST(test_loadgen_response_malformed_is_bad_response)
{
    const char *bad[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        "SMTP ready\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        loadgen_response_reset(&r);
        loadgen_response_feed(&r, bad[i], strlen(bad[i]));
        ck_assert_msg(r.state == LOADGEN_RESPONSE_ERROR, "case %zu", i);
        ck_assert_int_eq(r.error, LOADGEN_ERR_BAD_RESPONSE);
    }
}
END_TEST

START_TEST(test_loadgen_response_head_over_limit_is_bad_response)
{
    char line[1024];
    memset(line, 'a', sizeof(line));
    loadgen_response_feed(&r, "HTTP/1.1 200 OK\r\n", 17);
    for (int i = 0; i < 40 && r.state == LOADGEN_RESPONSE_HEAD; i++) {
        loadgen_response_feed(&r, "X-Big: ", 7);
        loadgen_response_feed(&r, line, sizeof(line));
        loadgen_response_feed(&r, "\r\n", 2);
    }
    ck_assert_int_eq(r.state, LOADGEN_RESPONSE_ERROR);
    ck_assert_int_eq(r.error, LOADGEN_ERR_BAD_RESPONSE);
}
END_TEST

START_TEST(test_loadgen_response_skips_informational)
{
    const char *text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\n"
                       "Content-Length: 3\r\n\r\nno!";
    size_t used = loadgen_response_feed(&r, text, strlen(text));
    ck_assert_uint_eq(used, strlen(text));
    ck_assert_int_eq(r.state, LOADGEN_RESPONSE_DONE);
    ck_assert_int_eq(r.status, 404);
    ck_assert_uint_eq(r.body_bytes, 3);
}
END_TEST

START_TEST(test_loadgen_response_no_body_statuses)
{
    const char *text = "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n";
    loadgen_response_feed(&r, text, strlen(text));
    ck_assert_int_eq(r.state, LOADGEN_RESPONSE_DONE);
    ck_assert_uint_eq(r.body_bytes, 0);
    loadgen_response_reset(&r);
    text = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    loadgen_response_feed(&r, text, strlen(text));
    ck_assert_int_eq(r.state, LOADGEN_RESPONSE_DONE);
}
END_TEST

START_TEST(test_loadgen_response_last_xcache_is_the_nearest_proxy)
{
    const char *text = "HTTP/1.1 200 OK\r\nX-Cache: MISS from origin-side\r\n"
                       "X-Cache: HIT from near\r\nContent-Length: 0\r\n\r\n";
    loadgen_response_feed(&r, text, strlen(text));
    ck_assert_str_eq(r.cache, "HIT");
    ck_assert_str_eq(r.proxy, "near");
}
END_TEST

START_TEST(test_loadgen_response_xcache_parsing)
{
    char cache[16], proxy[64];
    const char *v = "MISS from p1";
    loadgen_response_parse_xcache(v, strlen(v), cache, sizeof(cache), proxy, sizeof(proxy));
    ck_assert_str_eq(cache, "MISS");
    ck_assert_str_eq(proxy, "p1");
    v = "  HIT   FROM  squid.example:3128  ";
    loadgen_response_parse_xcache(v, strlen(v), cache, sizeof(cache), proxy, sizeof(proxy));
    ck_assert_str_eq(cache, "HIT");
    ck_assert_str_eq(proxy, "squid.example:3128");
    v = "HIT";
    loadgen_response_parse_xcache(v, strlen(v), cache, sizeof(cache), proxy, sizeof(proxy));
    ck_assert_str_eq(cache, "HIT");
    ck_assert_str_eq(proxy, "");
    v = "HIT from a,b\"c";
    loadgen_response_parse_xcache(v, strlen(v), cache, sizeof(cache), proxy, sizeof(proxy));
    ck_assert_str_eq(proxy, "a_b_c"); /* nothing that breaks a CSV field */
    v = "HIT from an-extremely-long-proxy-name-that-goes-on-and-on-and-on-past-64-bytes";
    loadgen_response_parse_xcache(v, strlen(v), cache, sizeof(cache), proxy, sizeof(proxy));
    ck_assert_uint_eq(strlen(proxy), sizeof(proxy) - 1);
}
END_TEST

START_TEST(test_loadgen_response_reset_keeps_going_on_keepalive)
{
    for (int i = 0; i < 3; i++) {
        loadgen_response_reset(&r);
        loadgen_response_feed(&r, LENGTH_RESPONSE, strlen(LENGTH_RESPONSE));
        ck_assert_int_eq(r.state, LOADGEN_RESPONSE_DONE);
        ck_assert_uint_eq(r.bytes_in, strlen(LENGTH_RESPONSE));
    }
}
END_TEST

static Suite *loadgen_response_suite(void)
{
    Suite *s = suite_create("loadgen_response");
    TCase *tc = tcase_create("framing");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_loadgen_response_length_at_every_split);
    tcase_add_test(tc, test_loadgen_response_stops_at_its_end);
    tcase_add_test(tc, test_loadgen_response_chunked_at_every_split);
    tcase_add_test(tc, test_loadgen_response_close_delimited_completes_at_eof);
    tcase_add_test(tc, test_loadgen_response_no_body_statuses);
    tcase_add_test(tc, test_loadgen_response_skips_informational);
    tcase_add_test(tc, test_loadgen_response_reset_keeps_going_on_keepalive);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_loadgen_response_close_delimited_reset_is_short);
    tcase_add_test(tc, test_loadgen_response_eof_mid_body_is_short_body);
    tcase_add_test(tc, test_loadgen_response_eof_before_head_is_reset);
    tcase_add_test(tc, test_loadgen_response_malformed_is_bad_response);
    tcase_add_test(tc, test_loadgen_response_head_over_limit_is_bad_response);
    suite_add_tcase(s, tc);
    tc = tcase_create("xcache");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_loadgen_response_last_xcache_is_the_nearest_proxy);
    tcase_add_test(tc, test_loadgen_response_xcache_parsing);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(loadgen_response_suite)
