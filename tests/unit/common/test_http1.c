/* Unit tests for common/http1.c, http1_chunked.c and http1_fields.c: what the
 * strict HTTP/1.1 parser accepts, every framing defect it must refuse (the
 * request-smuggling vectors of RFC 9112 §6 and §7.1), the limits that bound
 * what a client can make us buffer, and the header helpers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

#include "../check_main.h"

static struct http1_request req;
static struct http1_response resp;
static char err[256];

static int parse_req_n(const char *s, size_t n)
{
    err[0] = '\0';
    return http1_parse_request(s, n, NULL, &req, err, sizeof(err));
}

static int parse_req(const char *s)
{
    return parse_req_n(s, strlen(s));
}

static int parse_resp(const char *s, int req_was_head)
{
    err[0] = '\0';
    return http1_parse_response(s, strlen(s), NULL, req_was_head, &resp, err, sizeof(err));
}

/* The request is refused with `status` and a reason in err. */
static void assert_request_rejected(const char *s, int status)
{
    int r = parse_req(s);
    ck_assert_msg(r == HTTP1_ERROR, "accepted (%d): %s", r, s);
    ck_assert_int_eq(req.error_status, status);
    ck_assert_msg(err[0] != '\0', "no reason for: %s", s);
}

static void assert_response_rejected(const char *s)
{
    int r = parse_resp(s, 0);
    ck_assert_msg(r == HTTP1_ERROR, "accepted (%d): %s", r, s);
    ck_assert_msg(err[0] != '\0', "no reason for: %s", s);
}

static int str_is(struct http1_str s, const char *lit)
{
    return http1_str_eq(s, lit);
}

/* A big buffer for limit tests: `prefix`, then `fill` repeated to n bytes. */
static char big[70000];

static size_t big_fill(const char *prefix, char fill, size_t n)
{
    size_t p = strlen(prefix);
    memcpy(big, prefix, p);
    memset(big + p, fill, n - p);
    big[n] = '\0';
    return n;
}

/* Requests: what parses ---------------------------------------------------- */

START_TEST(test_request_parses_origin_form_get)
{
    const char *s = "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
    ck_assert_int_eq(parse_req(s), (int)strlen(s));
    ck_assert(str_is(req.method, "GET"));
    ck_assert(str_is(req.target, "/index.html?q=1"));
    ck_assert_int_eq(req.version_minor, 1);
    ck_assert_uint_eq(req.nheaders, 2);
    ck_assert(str_is(req.headers[0].name, "Host"));
    ck_assert(str_is(req.headers[0].value, "example.com"));
    ck_assert(str_is(req.headers[1].value, "*/*"));
    ck_assert_int_eq(req.body, HTTP1_BODY_NONE);
    ck_assert_int_eq(req.keep_alive, 1);
    ck_assert_int_eq(req.expect_continue, 0);
}
END_TEST

START_TEST(test_request_parses_absolute_form)
{
    const char *s = "GET http://example.com:8080/a/b?c HTTP/1.1\r\nHost: example.com:8080\r\n\r\n";
    ck_assert_int_eq(parse_req(s), (int)strlen(s));
    ck_assert(str_is(req.target, "http://example.com:8080/a/b?c"));
    struct http1_str host, path;
    int port;
    ck_assert_int_eq(http1_split_absolute(req.target, &host, &port, &path), 0);
    ck_assert(str_is(host, "example.com"));
    ck_assert_int_eq(port, 8080);
    ck_assert(str_is(path, "/a/b?c"));
}
END_TEST

START_TEST(test_request_parses_authority_form)
{
    const char *s = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    ck_assert_int_eq(parse_req(s), (int)strlen(s));
    ck_assert(str_is(req.method, "CONNECT"));
    ck_assert(str_is(req.target, "example.com:443"));
}
END_TEST

START_TEST(test_request_parses_asterisk_form)
{
    const char *s = "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";
    ck_assert_int_eq(parse_req(s), (int)strlen(s));
    ck_assert(str_is(req.target, "*"));
}
END_TEST

START_TEST(test_request_parses_pipelined_requests_from_head_length)
{
    const char *s = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
                    "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                    "GET /three HTTP/1.0\r\n\r\n";
    size_t len = strlen(s);
    int r = parse_req_n(s, len);
    ck_assert_int_gt(r, 0);
    ck_assert(str_is(req.target, "/one"));
    size_t off = (size_t)r;
    r = parse_req_n(s + off, len - off);
    ck_assert_int_gt(r, 0);
    ck_assert(str_is(req.target, "/two"));
    ck_assert_int_eq(req.body, HTTP1_BODY_LENGTH);
    ck_assert_uint_eq(req.content_length, 3);
    off += (size_t)r + req.content_length;
    r = parse_req_n(s + off, len - off);
    ck_assert_int_eq(r, (int)(len - off));
    ck_assert(str_is(req.target, "/three"));
    ck_assert_int_eq(req.version_minor, 0);
}
END_TEST

START_TEST(test_request_every_prefix_is_incomplete)
{
    const char *s = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
    size_t len = strlen(s);
    for (size_t n = 0; n < len; n++)
        ck_assert_msg(parse_req_n(s, n) == HTTP1_INCOMPLETE, "prefix %zu: %s", n, err);
    ck_assert_int_eq(parse_req_n(s, len), (int)len);
}
END_TEST

START_TEST(test_request_accepts_lf_only_line_endings)
{
    const char *s = "GET / HTTP/1.1\nHost: a\nX: y\r\n\n";
    ck_assert_int_eq(parse_req(s), (int)strlen(s));
    ck_assert_uint_eq(req.nheaders, 2);
    ck_assert(str_is(req.headers[0].value, "a"));
}
END_TEST

START_TEST(test_request_skips_leading_empty_lines)
{
    const char *s = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    ck_assert_int_eq(parse_req(s), (int)strlen(s));
    ck_assert(str_is(req.method, "GET"));
}
END_TEST

START_TEST(test_request_trims_whitespace_around_values)
{
    const char *s = "GET / HTTP/1.1\r\nX-A: \t  spaced value \t\r\nX-B:\r\nX-C:   \r\n\r\n";
    ck_assert_int_gt(parse_req(s), 0);
    ck_assert(str_is(req.headers[0].value, "spaced value"));
    ck_assert_uint_eq(req.headers[1].value.len, 0);
    ck_assert_uint_eq(req.headers[2].value.len, 0);
}
END_TEST

START_TEST(test_request_accepts_obs_text_in_values)
{
    const char *s = "GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9\r\n\r\n";
    ck_assert_int_gt(parse_req(s), 0);
}
END_TEST

START_TEST(test_request_content_length_sets_length_body)
{
    ck_assert_int_gt(parse_req("POST / HTTP/1.1\r\nContent-Length: 1234\r\n\r\n"), 0);
    ck_assert_int_eq(req.body, HTTP1_BODY_LENGTH);
    ck_assert_uint_eq(req.content_length, 1234);
}
END_TEST

START_TEST(test_request_content_length_zero_is_length_body)
{
    ck_assert_int_gt(parse_req("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), 0);
    ck_assert_int_eq(req.body, HTTP1_BODY_LENGTH);
    ck_assert_uint_eq(req.content_length, 0);
}
END_TEST

START_TEST(test_request_identical_content_lengths_collapse)
{
    ck_assert_int_gt(parse_req("POST / HTTP/1.1\r\nContent-Length: 42\r\n"
                               "Content-Length: 42\r\n\r\n"),
                     0);
    ck_assert_uint_eq(req.content_length, 42);
    ck_assert_int_gt(parse_req("POST / HTTP/1.1\r\nContent-Length: 42 , 42,42\r\n\r\n"), 0);
    ck_assert_int_eq(req.body, HTTP1_BODY_LENGTH);
    ck_assert_uint_eq(req.content_length, 42);
}
END_TEST

START_TEST(test_request_accepts_largest_content_length)
{
    ck_assert_int_gt(parse_req("POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n"),
                     0);
    ck_assert_uint_eq(req.content_length, 9223372036854775807ULL);
}
END_TEST

START_TEST(test_request_parses_chunked)
{
    ck_assert_int_gt(parse_req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
    ck_assert_int_eq(req.body, HTTP1_BODY_CHUNKED);
    ck_assert_int_gt(parse_req("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"), 0);
    ck_assert_int_eq(req.body, HTTP1_BODY_CHUNKED);
}
END_TEST

START_TEST(test_request_keep_alive_defaults_on_for_http11)
{
    ck_assert_int_gt(parse_req("GET / HTTP/1.1\r\n\r\n"), 0);
    ck_assert_int_eq(req.keep_alive, 1);
    ck_assert_int_gt(parse_req("GET / HTTP/1.1\r\nConnection: foo, Close\r\n\r\n"), 0);
    ck_assert_int_eq(req.keep_alive, 0);
}
END_TEST

START_TEST(test_request_keep_alive_defaults_off_for_http10)
{
    ck_assert_int_gt(parse_req("GET / HTTP/1.0\r\n\r\n"), 0);
    ck_assert_int_eq(req.keep_alive, 0);
    ck_assert_int_gt(parse_req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), 0);
    ck_assert_int_eq(req.keep_alive, 1);
    ck_assert_int_gt(parse_req("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"), 0);
    ck_assert_int_eq(req.keep_alive, 0);
}
END_TEST

START_TEST(test_request_expect_continue_on_http11_only)
{
    ck_assert_int_gt(parse_req("PUT / HTTP/1.1\r\nContent-Length: 5\r\n"
                               "Expect: 100-Continue\r\n\r\n"),
                     0);
    ck_assert_int_eq(req.expect_continue, 1);
    ck_assert_int_gt(parse_req("PUT / HTTP/1.0\r\nContent-Length: 5\r\n"
                               "Expect: 100-continue\r\n\r\n"),
                     0);
    ck_assert_int_eq(req.expect_continue, 0);
}
END_TEST

START_TEST(test_request_accepts_exactly_max_headers)
{
    char *p = big;
    p += sprintf(p, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP1_MAX_HEADERS; i++)
        p += sprintf(p, "X-%d: v\r\n", i);
    p += sprintf(p, "\r\n");
    ck_assert_int_eq(parse_req(big), (int)(p - big));
    ck_assert_uint_eq(req.nheaders, HTTP1_MAX_HEADERS);
}
END_TEST

START_TEST(test_request_accepts_line_of_exactly_max_line)
{
    struct http1_limits lim;
    http1_limits_default(&lim);
    /* "GET /aaa... HTTP/1.1" of exactly max_line_bytes, then CRLF CRLF. */
    size_t n = lim.max_line_bytes;
    memcpy(big, "GET /", 5);
    memset(big + 5, 'a', n - 5 - 9);
    memcpy(big + n - 9, " HTTP/1.1\r\n\r\n", 14);
    ck_assert_int_eq(parse_req(big), (int)(n + 4));
}
END_TEST

START_TEST(test_request_honours_custom_limits)
{
    struct http1_limits lim = {.max_line_bytes = 32, .max_head_bytes = 64, .max_headers = 2};
    const char *three = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    ck_assert_int_eq(http1_parse_request(three, strlen(three), &lim, &req, err, sizeof(err)),
                     HTTP1_ERROR);
    ck_assert_int_eq(req.error_status, 431);
    const char *two = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n";
    ck_assert_int_eq(http1_parse_request(two, strlen(two), &lim, &req, err, sizeof(err)),
                     (int)strlen(two));
}
END_TEST

/* Requests: framing rejections (smuggling) -------------------------------- */

START_TEST(test_request_rejects_cl_with_te)
{
    assert_request_rejected("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n",
                            400);
    assert_request_rejected("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                            "Content-Length: 5\r\n\r\n",
                            400);
}
END_TEST

START_TEST(test_request_rejects_differing_content_lengths)
{
    assert_request_rejected("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                            "Content-Length: 6\r\n\r\n",
                            400);
}
END_TEST

START_TEST(test_request_rejects_differing_content_length_list)
{
    assert_request_rejected("POST / HTTP/1.1\r\nContent-Length: 42, 43\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_empty_content_length)
{
    assert_request_rejected("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400);
    assert_request_rejected("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: \r\n\r\n",
                            400);
    assert_request_rejected("POST / HTTP/1.1\r\nContent-Length: 5,\r\n\r\n", 400);
    assert_request_rejected("POST / HTTP/1.1\r\nContent-Length: ,5\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_signed_content_length)
{
    assert_request_rejected("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400);
    assert_request_rejected("POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_non_digit_content_length)
{
    assert_request_rejected("POST / HTTP/1.1\r\nContent-Length: 5a\r\n\r\n", 400);
    assert_request_rejected("POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n", 400);
    assert_request_rejected("POST / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\n", 400);
    assert_request_rejected("POST / HTTP/1.1\r\nContent-Length: 5.0\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_overflowing_content_length)
{
    assert_request_rejected("POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", 400);
    assert_request_rejected("POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n", 400);
    assert_request_rejected("POST / HTTP/1.1\r\nContent-Length: "
                            "99999999999999999999999999999999999999\r\n\r\n",
                            400);
}
END_TEST

START_TEST(test_request_rejects_te_on_http10)
{
    assert_request_rejected("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_te_not_ending_in_chunked)
{
    assert_request_rejected("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400);
    assert_request_rejected("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400);
    assert_request_rejected("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                            "Transfer-Encoding: identity\r\n\r\n",
                            400);
    assert_request_rejected("POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", 400);
    assert_request_rejected("POST / HTTP/1.1\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_chunked_applied_twice)
{
    assert_request_rejected("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_chunked_with_parameters)
{
    assert_request_rejected("POST / HTTP/1.1\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_empty_te)
{
    assert_request_rejected("POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", 400);
    assert_request_rejected("POST / HTTP/1.1\r\nTransfer-Encoding: ,\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_answers_501_to_codings_before_chunked)
{
    assert_request_rejected("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
    assert_request_rejected("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n",
                            501);
}
END_TEST

START_TEST(test_request_rejects_duplicate_host)
{
    assert_request_rejected("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
}
END_TEST

/* Requests: syntax rejections ---------------------------------------------- */

START_TEST(test_request_rejects_obs_fold)
{
    assert_request_rejected("GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n", 400);
    assert_request_rejected("GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n", 400);
    assert_request_rejected("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_whitespace_before_colon)
{
    assert_request_rejected("POST / HTTP/1.1\r\nContent-Length : 5\r\n\r\n", 400);
    assert_request_rejected("POST / HTTP/1.1\r\nTransfer-Encoding\t: chunked\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_empty_header_name)
{
    assert_request_rejected("GET / HTTP/1.1\r\n: value\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_header_without_colon)
{
    assert_request_rejected("GET / HTTP/1.1\r\nNoColonHere\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_non_token_header_name)
{
    assert_request_rejected("GET / HTTP/1.1\r\nX(A): v\r\n\r\n", 400);
    assert_request_rejected("GET / HTTP/1.1\r\nX\xc3\xa9: v\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_nul)
{
    static const char nul_value[] = "GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n";
    ck_assert_int_eq(parse_req_n(nul_value, sizeof(nul_value) - 1), HTTP1_ERROR);
    ck_assert_int_eq(req.error_status, 400);
    static const char nul_target[] = "GET /a\0b HTTP/1.1\r\n\r\n";
    ck_assert_int_eq(parse_req_n(nul_target, sizeof(nul_target) - 1), HTTP1_ERROR);
    ck_assert_int_eq(req.error_status, 400);
    static const char nul_name[] = "GET / HTTP/1.1\r\nX\0A: b\r\n\r\n";
    ck_assert_int_eq(parse_req_n(nul_name, sizeof(nul_name) - 1), HTTP1_ERROR);
    ck_assert_int_eq(req.error_status, 400);
}
END_TEST

START_TEST(test_request_rejects_bare_cr_in_header)
{
    assert_request_rejected("GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", 400);
    assert_request_rejected("GET / HTTP/1.1\r\nX-A: a\r\r\n\r\n", 400);
    assert_request_rejected("GET / HTTP/1.1\r\nX-A: a\r\n\r\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_bare_cr_in_request_line)
{
    assert_request_rejected("GET /a\rb HTTP/1.1\r\n\r\n", 400);
    assert_request_rejected("GET / HTTP/1.1\r\r\n\r\n", 400);
    assert_request_rejected("\rGET / HTTP/1.1\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_control_characters)
{
    assert_request_rejected("GET / HTTP/1.1\r\nX-A: a\x01z\r\n\r\n", 400);
    assert_request_rejected("GET / HTTP/1.1\r\nX-A: a\x7fz\r\n\r\n", 400);
    assert_request_rejected("GET / HTTP/1.1\r\nX-A: a\x1bz\r\n\r\n", 400);
    assert_request_rejected("GET /a\x7f HTTP/1.1\r\n\r\n", 400);
    assert_request_rejected("GET /a\tb HTTP/1.1\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_non_token_method)
{
    assert_request_rejected("G(T / HTTP/1.1\r\n\r\n", 400);
    assert_request_rejected("GET\t/ HTTP/1.1\r\n\r\n", 400);
    assert_request_rejected(" GET / HTTP/1.1\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_extra_spaces_in_request_line)
{
    assert_request_rejected("GET  / HTTP/1.1\r\n\r\n", 400);
    assert_request_rejected("GET /  HTTP/1.1\r\n\r\n", 400);
    assert_request_rejected("GET / HTTP/1.1 \r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_space_in_target)
{
    assert_request_rejected("GET /a b HTTP/1.1\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_missing_version)
{
    assert_request_rejected("GET /\r\n\r\n", 400);
    assert_request_rejected("GET / \r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_rejects_malformed_version)
{
    assert_request_rejected("GET / http/1.1\r\n\r\n", 400);
    assert_request_rejected("GET / HTTP/1.1x\r\n\r\n", 400);
    assert_request_rejected("GET / HTTP/11\r\n\r\n", 400);
    assert_request_rejected("GET / HTTP/1.\r\n\r\n", 400);
}
END_TEST

START_TEST(test_request_answers_505_to_unsupported_version)
{
    assert_request_rejected("GET / HTTP/2.0\r\n\r\n", 505);
    assert_request_rejected("GET / HTTP/1.2\r\n\r\n", 505);
    assert_request_rejected("GET / HTTP/0.9\r\n\r\n", 505);
}
END_TEST

START_TEST(test_request_rejects_binary_before_line_ends)
{
    /* The start of a TLS ClientHello: no LF yet, but clearly not HTTP. */
    static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    ck_assert_int_eq(parse_req_n(tls, sizeof(tls) - 1), HTTP1_ERROR);
    ck_assert_int_eq(req.error_status, 400);
}
END_TEST

/* Requests: limits ---------------------------------------------------------- */

START_TEST(test_request_answers_414_to_long_request_line)
{
    size_t n = big_fill("GET /", 'a', 9000);
    memcpy(big + n, " HTTP/1.1\r\n\r\n", 14);
    ck_assert_int_eq(parse_req(big), HTTP1_ERROR);
    ck_assert_int_eq(req.error_status, 414);
}
END_TEST

START_TEST(test_request_answers_414_to_incomplete_long_request_line)
{
    size_t n = big_fill("GET /", 'a', 8193);
    ck_assert_int_eq(parse_req_n(big, n), HTTP1_ERROR);
    ck_assert_int_eq(req.error_status, 414);
    /* One byte less is still waiting for more. */
    ck_assert_int_eq(parse_req_n(big, 8192), HTTP1_INCOMPLETE);
}
END_TEST

START_TEST(test_request_answers_431_to_long_header_line)
{
    size_t n = big_fill("GET / HTTP/1.1\r\nX-Big: ", 'a', 9000);
    memcpy(big + n, "\r\n\r\n", 5);
    ck_assert_int_eq(parse_req(big), HTTP1_ERROR);
    ck_assert_int_eq(req.error_status, 431);
}
END_TEST

START_TEST(test_request_answers_431_to_incomplete_long_header_line)
{
    const char *prefix = "GET / HTTP/1.1\r\nX-Big: ";
    size_t start = strlen("GET / HTTP/1.1\r\n");
    size_t n = big_fill(prefix, 'a', start + 8193);
    ck_assert_int_eq(parse_req_n(big, n), HTTP1_ERROR);
    ck_assert_int_eq(req.error_status, 431);
    ck_assert_int_eq(parse_req_n(big, n - 1), HTTP1_INCOMPLETE);
}
END_TEST

START_TEST(test_request_answers_431_to_large_head)
{
    char *p = big;
    p += sprintf(p, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 50; i++)
        p += sprintf(p, "X-%02d: %01000d\r\n", i, 0);
    p += sprintf(p, "\r\n");
    ck_assert_int_eq(parse_req(big), HTTP1_ERROR);
    ck_assert_int_eq(req.error_status, 431);
}
END_TEST

START_TEST(test_request_answers_431_to_incomplete_large_head)
{
    char *p = big;
    p += sprintf(p, "GET / HTTP/1.1\r\n");
    while (p - big < 33000)
        p += sprintf(p, "X-Pad: %01000d\r\n", 0);
    /* No blank line: the head never ends, and we stop at 32 KiB. */
    ck_assert_int_eq(parse_req_n(big, (size_t)(p - big)), HTTP1_ERROR);
    ck_assert_int_eq(req.error_status, 431);
    ck_assert_int_eq(parse_req_n(big, 32768), HTTP1_INCOMPLETE);
}
END_TEST

START_TEST(test_request_answers_431_to_too_many_headers)
{
    char *p = big;
    p += sprintf(p, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= HTTP1_MAX_HEADERS; i++)
        p += sprintf(p, "X-%d: v\r\n", i);
    p += sprintf(p, "\r\n");
    ck_assert_int_eq(parse_req(big), HTTP1_ERROR);
    ck_assert_int_eq(req.error_status, 431);
}
END_TEST

START_TEST(test_request_answers_431_to_endless_empty_lines)
{
    size_t n = 0;
    while (n < 33000) {
        memcpy(big + n, "\r\n", 2);
        n += 2;
    }
    ck_assert_int_eq(parse_req_n(big, n), HTTP1_ERROR);
    ck_assert_int_eq(req.error_status, 431);
}
END_TEST

/* Responses ----------------------------------------------------------------- */

START_TEST(test_response_parses_status_and_reason)
{
    const char *s = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found";
    ck_assert_int_eq(parse_resp(s, 0), (int)strlen(s) - 9);
    ck_assert_int_eq(resp.status, 404);
    ck_assert(str_is(resp.reason, "Not Found"));
    ck_assert_int_eq(resp.version_minor, 1);
    ck_assert_int_eq(resp.body, HTTP1_BODY_LENGTH);
    ck_assert_uint_eq(resp.content_length, 9);
    ck_assert_int_eq(resp.keep_alive, 1);
}
END_TEST

START_TEST(test_response_accepts_empty_reason)
{
    ck_assert_int_gt(parse_resp("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", 0), 0);
    ck_assert_uint_eq(resp.reason.len, 0);
    ck_assert_int_gt(parse_resp("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0), 0);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_uint_eq(resp.reason.len, 0);
}
END_TEST

START_TEST(test_response_parses_chunked)
{
    ck_assert_int_gt(parse_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0), 0);
    ck_assert_int_eq(resp.body, HTTP1_BODY_CHUNKED);
    ck_assert_int_eq(resp.keep_alive, 1);
}
END_TEST

START_TEST(test_response_without_framing_is_close_delimited)
{
    ck_assert_int_gt(parse_resp("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", 0), 0);
    ck_assert_int_eq(resp.body, HTTP1_BODY_CLOSE);
    ck_assert_int_eq(resp.keep_alive, 0);
}
END_TEST

START_TEST(test_response_te_not_ending_in_chunked_is_close_delimited)
{
    ck_assert_int_gt(parse_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0), 0);
    ck_assert_int_eq(resp.body, HTTP1_BODY_CLOSE);
    ck_assert_int_eq(resp.keep_alive, 0);
}
END_TEST

START_TEST(test_response_to_head_has_no_body)
{
    ck_assert_int_gt(parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", 1), 0);
    ck_assert_int_eq(resp.body, HTTP1_BODY_NONE);
    ck_assert_int_eq(resp.keep_alive, 1);
    ck_assert_int_gt(parse_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 1), 0);
    ck_assert_int_eq(resp.body, HTTP1_BODY_NONE);
    ck_assert_int_gt(parse_resp("HTTP/1.1 200 OK\r\n\r\n", 1), 0);
    ck_assert_int_eq(resp.body, HTTP1_BODY_NONE);
}
END_TEST

START_TEST(test_response_304_has_no_body)
{
    ck_assert_int_gt(parse_resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 500\r\n\r\n", 0), 0);
    ck_assert_int_eq(resp.body, HTTP1_BODY_NONE);
    ck_assert_int_eq(resp.keep_alive, 1);
}
END_TEST

START_TEST(test_response_204_has_no_body)
{
    ck_assert_int_gt(parse_resp("HTTP/1.1 204 No Content\r\n\r\n", 0), 0);
    ck_assert_int_eq(resp.body, HTTP1_BODY_NONE);
    ck_assert_int_eq(resp.keep_alive, 1);
}
END_TEST

START_TEST(test_response_1xx_has_no_body)
{
    const char *s = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    int r = parse_resp(s, 0);
    ck_assert_int_eq(r, (int)strlen("HTTP/1.1 100 Continue\r\n\r\n"));
    ck_assert_int_eq(resp.status, 100);
    ck_assert_int_eq(resp.body, HTTP1_BODY_NONE);
    ck_assert_int_eq(parse_resp(s + r, 0), (int)strlen(s) - r);
    ck_assert_int_eq(resp.status, 200);
}
END_TEST

START_TEST(test_response_keep_alive_follows_version_and_connection)
{
    ck_assert_int_gt(parse_resp("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", 0), 0);
    ck_assert_int_eq(resp.keep_alive, 0);
    ck_assert_int_gt(parse_resp("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n"
                                "Connection: keep-alive\r\n\r\n",
                                0),
                     0);
    ck_assert_int_eq(resp.keep_alive, 1);
    ck_assert_int_gt(parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                                "Connection: close\r\n\r\n",
                                0),
                     0);
    ck_assert_int_eq(resp.keep_alive, 0);
}
END_TEST

START_TEST(test_response_every_prefix_is_incomplete)
{
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    size_t len = strlen(s);
    for (size_t n = 0; n < len; n++) {
        int r = http1_parse_response(s, n, NULL, 0, &resp, err, sizeof(err));
        ck_assert_msg(r == HTTP1_INCOMPLETE, "prefix %zu: %s", n, err);
    }
}
END_TEST

START_TEST(test_response_rejects_cl_with_te)
{
    assert_response_rejected("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n");
    /* Even where no body follows: the origin's framing is broken. */
    ck_assert_int_eq(parse_resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n",
                                0),
                     HTTP1_ERROR);
}
END_TEST

START_TEST(test_response_rejects_te_on_http10)
{
    assert_response_rejected("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
}
END_TEST

START_TEST(test_response_rejects_differing_content_lengths)
{
    assert_response_rejected("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                             "Content-Length: 50\r\n\r\n");
}
END_TEST

START_TEST(test_response_rejects_invalid_content_length)
{
    assert_response_rejected("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n");
    assert_response_rejected("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n");
    assert_response_rejected("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n");
}
END_TEST

START_TEST(test_response_rejects_codings_before_chunked)
{
    assert_response_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
}
END_TEST

START_TEST(test_response_rejects_chunked_not_last)
{
    assert_response_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
}
END_TEST

START_TEST(test_response_rejects_obs_fold)
{
    assert_response_rejected("HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n");
}
END_TEST

START_TEST(test_response_rejects_whitespace_before_colon)
{
    assert_response_rejected("HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n");
}
END_TEST

START_TEST(test_response_rejects_control_characters)
{
    assert_response_rejected("HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n");
    assert_response_rejected("HTTP/1.1 200 O\x01K\r\n\r\n");
    static const char nul[] = "HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n";
    ck_assert_int_eq(http1_parse_response(nul, sizeof(nul) - 1, NULL, 0, &resp, err, sizeof(err)),
                     HTTP1_ERROR);
}
END_TEST

START_TEST(test_response_rejects_bad_status_code)
{
    assert_response_rejected("HTTP/1.1 20 OK\r\n\r\n");
    assert_response_rejected("HTTP/1.1 2000 OK\r\n\r\n");
    assert_response_rejected("HTTP/1.1 099 OK\r\n\r\n");
    assert_response_rejected("HTTP/1.1 2x0 OK\r\n\r\n");
    assert_response_rejected("HTTP/1.1  200 OK\r\n\r\n");
    assert_response_rejected("HTTP/1.1 -200 OK\r\n\r\n");
}
END_TEST

START_TEST(test_response_rejects_unsupported_version)
{
    assert_response_rejected("HTTP/2.0 200 OK\r\n\r\n");
    assert_response_rejected("HTTP/1.2 200 OK\r\n\r\n");
    assert_response_rejected("http/1.1 200 OK\r\n\r\n");
    assert_response_rejected("ICY 200 OK\r\n\r\n");
}
END_TEST

START_TEST(test_response_rejects_garbage_before_line_ends)
{
    int r = http1_parse_response("<html>", 6, NULL, 0, &resp, err, sizeof(err));
    ck_assert_int_eq(r, HTTP1_ERROR);
}
END_TEST

START_TEST(test_response_rejects_oversized_incomplete_head)
{
    size_t n = big_fill("HTTP/1.1 200 OK\r\n", 'a', 9000);
    ck_assert_int_eq(http1_parse_response(big, n, NULL, 0, &resp, err, sizeof(err)), HTTP1_ERROR);
    char *p = big;
    p += sprintf(p, "HTTP/1.1 200 OK\r\n");
    while (p - big < 33000)
        p += sprintf(p, "X-Pad: %01000d\r\n", 0);
    ck_assert_int_eq(http1_parse_response(big, (size_t)(p - big), NULL, 0, &resp, err, sizeof(err)),
                     HTTP1_ERROR);
}
END_TEST

/* Chunked bodies ------------------------------------------------------------ */

static struct http1_chunked ch;
static char out[4096];
static size_t out_len;

/* Decodes `in` fed as a first piece of `first` bytes (0: none) and then
 * pieces of `step` bytes. Returns the bytes consumed or -1; payload in out. */
static long chunked_decode(const char *in, size_t len, size_t first, size_t step)
{
    http1_chunked_init(&ch);
    out_len = 0;
    size_t off = 0;
    while (off < len && !ch.done) {
        size_t piece = (off == 0 && first) ? first : step;
        if (piece > len - off)
            piece = len - off;
        size_t end = off + piece;
        while (off < end && !ch.done) {
            size_t doff, dlen;
            long r = http1_chunked_feed(&ch, in + off, end - off, &doff, &dlen, err, sizeof(err));
            if (r < 0)
                return -1;
            ck_assert_int_le(r, (long)(end - off));
            if (dlen > 0) {
                ck_assert_int_eq((long)(doff + dlen), r);
                ck_assert_uint_le(out_len + dlen, sizeof(out));
                memcpy(out + out_len, in + off + doff, dlen);
                out_len += dlen;
            }
            if (r == 0)
                ck_assert(ch.done);
            off += (size_t)r;
        }
    }
    return (long)off;
}

static long chunked_decode_str(const char *in)
{
    return chunked_decode(in, strlen(in), 0, strlen(in) ? strlen(in) : 1);
}

static void assert_chunked_rejected(const char *in)
{
    err[0] = '\0';
    long r = chunked_decode_str(in);
    ck_assert_msg(r == -1, "accepted (%ld): %s", r, in);
    ck_assert_msg(err[0] != '\0', "no reason for: %s", in);
}

static const char sample_body[] = "5\r\nhello\r\n"
                                  "7;name=value;q=\"a \\\"b\\\" ;c\"\r\n, world\r\n"
                                  "1A \t; ext\r\nabcdefghijklmnopqrstuvwxyz\r\n"
                                  "0\r\nTrailer-One: x\r\nTrailer-Two: y\r\n\r\n";
static const char sample_payload[] = "hello, worldabcdefghijklmnopqrstuvwxyz";

START_TEST(test_chunked_decodes_body)
{
    ck_assert_int_eq(chunked_decode_str(sample_body), (long)strlen(sample_body));
    ck_assert(ch.done);
    ck_assert_uint_eq(out_len, strlen(sample_payload));
    ck_assert(memcmp(out, sample_payload, out_len) == 0);
    ck_assert_uint_eq(ch.body_bytes, strlen(sample_payload));
}
END_TEST

START_TEST(test_chunked_decodes_at_every_split_point)
{
    size_t len = strlen(sample_body);
    for (size_t split = 1; split < len; split++) {
        ck_assert_msg(chunked_decode(sample_body, len, split, len) == (long)len, "split %zu: %s",
                      split, err);
        ck_assert(ch.done);
        ck_assert_uint_eq(out_len, strlen(sample_payload));
        ck_assert(memcmp(out, sample_payload, out_len) == 0);
    }
}
END_TEST

START_TEST(test_chunked_decodes_one_byte_at_a_time)
{
    size_t len = strlen(sample_body);
    for (size_t step = 1; step <= 7; step++) {
        ck_assert_int_eq(chunked_decode(sample_body, len, 0, step), (long)len);
        ck_assert(ch.done);
        ck_assert_uint_eq(out_len, strlen(sample_payload));
        ck_assert(memcmp(out, sample_payload, out_len) == 0);
    }
}
END_TEST

START_TEST(test_chunked_stops_after_last_chunk)
{
    const char *s = "3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n";
    long r = chunked_decode_str(s);
    ck_assert_int_eq(r, (long)strlen("3\r\nabc\r\n0\r\n\r\n"));
    ck_assert(ch.done);
    size_t doff, dlen;
    ck_assert_int_eq(http1_chunked_feed(&ch, "x", 1, &doff, &dlen, err, sizeof(err)), 0);
    ck_assert_uint_eq(dlen, 0);
}
END_TEST

START_TEST(test_chunked_reports_payload_span)
{
    struct http1_chunked c;
    size_t doff, dlen;
    http1_chunked_init(&c);
    const char *s = "4\r\nwxyz\r\n";
    long r = http1_chunked_feed(&c, s, strlen(s), &doff, &dlen, err, sizeof(err));
    ck_assert_int_eq(r, 7);
    ck_assert_uint_eq(doff, 3);
    ck_assert_uint_eq(dlen, 4);
    r = http1_chunked_feed(&c, s + 7, strlen(s) - 7, &doff, &dlen, err, sizeof(err));
    ck_assert_int_eq(r, 2);
    ck_assert_uint_eq(dlen, 0);
    ck_assert_int_eq(c.done, 0);
}
END_TEST

START_TEST(test_chunked_accepts_empty_body)
{
    ck_assert_int_eq(chunked_decode_str("0\r\n\r\n"), 5);
    ck_assert(ch.done);
    ck_assert_uint_eq(out_len, 0);
}
END_TEST

START_TEST(test_chunked_accepts_upper_and_lower_hex)
{
    char body[600];
    char *p = body;
    p += sprintf(p, "fF\r\n");
    memset(p, 'x', 255);
    p += 255;
    p += sprintf(p, "\r\n0\r\n\r\n");
    ck_assert_int_eq(chunked_decode(body, (size_t)(p - body), 0, 1000), (long)(p - body));
    ck_assert_uint_eq(out_len, 255);
}
END_TEST

START_TEST(test_chunked_accepts_sixteen_hex_digits)
{
    const char *s = "0000000000000003\r\nabc\r\n0\r\n\r\n";
    ck_assert_int_eq(chunked_decode_str(s), (long)strlen(s));
    ck_assert_uint_eq(out_len, 3);
}
END_TEST

START_TEST(test_chunked_accepts_extensions)
{
    ck_assert_int_gt(chunked_decode_str("3;a\r\nabc\r\n0;b=c;d=\"\"\r\n\r\n"), 0);
    ck_assert_int_gt(chunked_decode_str("3 ; a = b ; c\r\nabc\r\n0\r\n\r\n"), 0);
    ck_assert_int_gt(chunked_decode_str("3;a=\"x\\\\y\\\"\"\r\nabc\r\n0\r\n\r\n"), 0);
    ck_assert_int_gt(chunked_decode_str("3;a=\"caf\xc3\xa9\"\r\nabc\r\n0\r\n\r\n"), 0);
    ck_assert_uint_eq(out_len, 3);
}
END_TEST

START_TEST(test_chunked_discards_trailers)
{
    const char *s = "2\r\nhi\r\n0\r\nExpires: never\r\nX-Sum: abc def\r\n\r\n";
    ck_assert_int_eq(chunked_decode_str(s), (long)strlen(s));
    ck_assert(ch.done);
    ck_assert_uint_eq(out_len, 2);
    ck_assert(memcmp(out, "hi", 2) == 0);
}
END_TEST

START_TEST(test_chunked_rejects_oversized_hex)
{
    assert_chunked_rejected("00000000000000003\r\nabc\r\n0\r\n\r\n");
    assert_chunked_rejected("100000000000000004\r\nabcd\r\n0\r\n\r\n");
}
END_TEST

START_TEST(test_chunked_rejects_overflowing_total)
{
    assert_chunked_rejected("FFFFFFFFFFFFFFFF\r\nabc");
    assert_chunked_rejected("8000000000000000\r\nabc");
    /* Two chunks whose sum passes INT64_MAX. */
    struct http1_chunked c;
    size_t doff, dlen;
    http1_chunked_init(&c);
    c.body_bytes = 0x7ffffffffffffff0ULL;
    const char *s = "11\r\n";
    ck_assert_int_eq(http1_chunked_feed(&c, s, strlen(s), &doff, &dlen, err, sizeof(err)),
                     HTTP1_ERROR);
}
END_TEST

START_TEST(test_chunked_rejects_signed_size)
{
    assert_chunked_rejected("+3\r\nabc\r\n0\r\n\r\n");
    assert_chunked_rejected("-3\r\nabc\r\n0\r\n\r\n");
}
END_TEST

START_TEST(test_chunked_rejects_0x_prefix)
{
    assert_chunked_rejected("0x3\r\nabc\r\n0\r\n\r\n");
}
END_TEST

START_TEST(test_chunked_rejects_whitespace_around_size)
{
    assert_chunked_rejected(" 3\r\nabc\r\n0\r\n\r\n");
    assert_chunked_rejected("3 \r\nabc\r\n0\r\n\r\n");
    assert_chunked_rejected("3\t\r\nabc\r\n0\r\n\r\n");
    assert_chunked_rejected("3 4\r\nabc\r\n0\r\n\r\n");
}
END_TEST

START_TEST(test_chunked_rejects_empty_size)
{
    assert_chunked_rejected("\r\nabc\r\n0\r\n\r\n");
    assert_chunked_rejected(";a\r\nabc\r\n0\r\n\r\n");
}
END_TEST

START_TEST(test_chunked_rejects_non_hex_size)
{
    assert_chunked_rejected("3g\r\nabc\r\n0\r\n\r\n");
    assert_chunked_rejected("z\r\nabc\r\n0\r\n\r\n");
}
END_TEST

START_TEST(test_chunked_rejects_bare_lf_after_size)
{
    assert_chunked_rejected("3\nabc\r\n0\r\n\r\n");
    assert_chunked_rejected("3;a=b\nabc\r\n0\r\n\r\n");
}
END_TEST

START_TEST(test_chunked_rejects_bare_lf_after_data)
{
    assert_chunked_rejected("3\r\nabc\n0\r\n\r\n");
}
END_TEST

START_TEST(test_chunked_rejects_missing_crlf_after_data)
{
    assert_chunked_rejected("3\r\nabcd\r\n0\r\n\r\n");
    assert_chunked_rejected("3\r\nabc0\r\n\r\n");
}
END_TEST

START_TEST(test_chunked_rejects_bare_lf_in_last_chunk)
{
    assert_chunked_rejected("0\n\r\n");
    assert_chunked_rejected("0\r\n\n");
    assert_chunked_rejected("0\r\nX: y\n\r\n");
}
END_TEST

START_TEST(test_chunked_rejects_bare_cr)
{
    assert_chunked_rejected("3\rabc\r\n0\r\n\r\n");
    assert_chunked_rejected("3\r\nabc\rx0\r\n\r\n");
    assert_chunked_rejected("0\r\n\rx");
    assert_chunked_rejected("0\r\nX: y\rz\r\n\r\n");
}
END_TEST

START_TEST(test_chunked_rejects_control_chars_in_extension)
{
    assert_chunked_rejected("3;a\x01\r\nabc\r\n0\r\n\r\n");
    assert_chunked_rejected("3;a=b\x7f\r\nabc\r\n0\r\n\r\n");
    static const char nul[] = "3;a\0\r\nabc\r\n0\r\n\r\n";
    ck_assert_int_eq(chunked_decode(nul, sizeof(nul) - 1, 0, 100), -1);
}
END_TEST

START_TEST(test_chunked_rejects_control_chars_in_quoted_extension)
{
    assert_chunked_rejected("3;a=\"x\x01y\"\r\nabc\r\n0\r\n\r\n");
    assert_chunked_rejected("3;a=\"x\\\x01y\"\r\nabc\r\n0\r\n\r\n");
    static const char nul[] = "3;a=\"\0\"\r\nabc\r\n0\r\n\r\n";
    ck_assert_int_eq(chunked_decode(nul, sizeof(nul) - 1, 0, 100), -1);
}
END_TEST

START_TEST(test_chunked_rejects_unterminated_quoted_extension)
{
    assert_chunked_rejected("3;a=\"abc\r\nabc\r\n0\r\n\r\n");
    assert_chunked_rejected("3;a=\"abc\\\"\r\nabc\r\n0\r\n\r\n");
}
END_TEST

START_TEST(test_chunked_rejects_malformed_extension)
{
    assert_chunked_rejected("3;\r\nabc\r\n0\r\n\r\n");
    assert_chunked_rejected("3;=b\r\nabc\r\n0\r\n\r\n");
    assert_chunked_rejected("3;a=\r\nabc\r\n0\r\n\r\n");
    assert_chunked_rejected("3;a b\r\nabc\r\n0\r\n\r\n");
    assert_chunked_rejected("3;a=b c\r\nabc\r\n0\r\n\r\n");
    assert_chunked_rejected("3;a=\"b\"c\r\nabc\r\n0\r\n\r\n");
    assert_chunked_rejected("3;a ;\r\nabc\r\n0\r\n\r\n");
    assert_chunked_rejected("3;a(\r\nabc\r\n0\r\n\r\n");
}
END_TEST

START_TEST(test_chunked_rejects_long_size_line)
{
    static char body[6000];
    memcpy(body, "3;a=", 4);
    memset(body + 4, 'x', 5000);
    memcpy(body + 5004, "\r\nabc\r\n0\r\n\r\n", 13);
    assert_chunked_rejected(body);
}
END_TEST

START_TEST(test_chunked_rejects_long_trailers)
{
    static char body[40000];
    char *p = body;
    p += sprintf(p, "0\r\n");
    while (p - body < 34000)
        p += sprintf(p, "X-Pad: %0100d\r\n", 0);
    p += sprintf(p, "\r\n");
    assert_chunked_rejected(body);
}
END_TEST

START_TEST(test_chunked_rejects_malformed_trailers)
{
    assert_chunked_rejected("0\r\nX-A : b\r\n\r\n");
    assert_chunked_rejected("0\r\nX-A: b\r\n c\r\n\r\n");
    assert_chunked_rejected("0\r\n: b\r\n\r\n");
    assert_chunked_rejected("0\r\nNoColon\r\n\r\n");
    assert_chunked_rejected("0\r\nX-A: b\x01\r\n\r\n");
}
END_TEST

START_TEST(test_chunked_stays_failed_after_error)
{
    size_t doff, dlen;
    http1_chunked_init(&ch);
    ck_assert_int_eq(http1_chunked_feed(&ch, "x", 1, &doff, &dlen, err, sizeof(err)), HTTP1_ERROR);
    ck_assert_int_eq(http1_chunked_feed(&ch, "0\r\n\r\n", 5, &doff, &dlen, err, sizeof(err)),
                     HTTP1_ERROR);
}
END_TEST

/* Header helpers ------------------------------------------------------------ */

static struct http1_header hdr(const char *name, const char *value)
{
    struct http1_header h = {{name, strlen(name)}, {value, strlen(value)}};
    return h;
}

static struct http1_str str(const char *s)
{
    struct http1_str v = {s, strlen(s)};
    return v;
}

/* A head parsed once in one buffer and copied reads the same from the copy
 * as a second parse of the copy would give, and nothing points into the
 * first buffer any more. */
START_TEST(test_request_rebase_moves_every_field_to_the_copy)
{
    char first[] = "POST http://a.example/x?y HTTP/1.1\r\nHost: a.example\r\n"
                   "Content-Length: 3\r\nX-Empty:\r\n\r\n";
    int n = parse_req(first);
    ck_assert_int_gt(n, 0);
    char *copy = malloc((size_t)n);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, first, (size_t)n);
    http1_request_rebase(&req, first, copy);
    memset(first, 'Z', sizeof(first) - 1); /* a stale pointer now reads Zs */
    struct http1_request again;
    ck_assert_int_eq(http1_parse_request(copy, (size_t)n, NULL, &again, err, sizeof(err)), n);
    ck_assert_ptr_eq(req.method.p, again.method.p);
    ck_assert_uint_eq(req.method.len, again.method.len);
    ck_assert_ptr_eq(req.target.p, again.target.p);
    ck_assert_uint_eq(req.nheaders, again.nheaders);
    ck_assert_uint_eq(req.nheaders, 3);
    for (size_t i = 0; i < req.nheaders; i++) {
        ck_assert_ptr_eq(req.headers[i].name.p, again.headers[i].name.p);
        ck_assert_uint_eq(req.headers[i].name.len, again.headers[i].name.len);
        ck_assert_uint_eq(req.headers[i].value.len, again.headers[i].value.len);
        if (req.headers[i].value.len)
            ck_assert_ptr_eq(req.headers[i].value.p, again.headers[i].value.p);
    }
    ck_assert(http1_str_eq(req.method, "POST"));
    ck_assert_uint_eq(req.content_length, 3);
    free(copy);
}
END_TEST

START_TEST(test_limits_default_values)
{
    struct http1_limits lim;
    http1_limits_default(&lim);
    ck_assert_uint_eq(lim.max_line_bytes, 8192);
    ck_assert_uint_eq(lim.max_head_bytes, 32768);
    ck_assert_uint_eq(lim.max_headers, HTTP1_MAX_HEADERS);
}
END_TEST

START_TEST(test_str_eq_is_exact_and_caseeq_is_not)
{
    ck_assert(http1_str_eq(str("Host"), "Host"));
    ck_assert(!http1_str_eq(str("host"), "Host"));
    ck_assert(!http1_str_eq(str("Hos"), "Host"));
    ck_assert(http1_str_caseeq(str("hOsT"), "Host"));
    ck_assert(!http1_str_caseeq(str("Hosts"), "Host"));
    ck_assert(http1_str_eq(str(""), ""));
}
END_TEST

START_TEST(test_header_find_and_next_ignore_case)
{
    struct http1_header h[] = {hdr("Vary", "a"), hdr("host", "x"), hdr("VARY", "b")};
    const struct http1_header *f = http1_header_find(h, 3, "vary");
    ck_assert_ptr_eq(f, &h[0]);
    f = http1_header_next(h, 3, f, "Vary");
    ck_assert_ptr_eq(f, &h[2]);
    ck_assert_ptr_null(http1_header_next(h, 3, f, "Vary"));
    ck_assert_ptr_eq(http1_header_find(h, 3, "Host"), &h[1]);
    ck_assert_ptr_null(http1_header_find(h, 3, "Cookie"));
    ck_assert_ptr_null(http1_header_find(h, 0, "Vary"));
}
END_TEST

START_TEST(test_list_next_trims_and_skips_empty_elements)
{
    struct http1_str v = str(" , a ,b,, \t c d ,");
    size_t pos = 0;
    struct http1_str t;
    ck_assert(http1_list_next(v, &pos, &t));
    ck_assert(str_is(t, "a"));
    ck_assert(http1_list_next(v, &pos, &t));
    ck_assert(str_is(t, "b"));
    ck_assert(http1_list_next(v, &pos, &t));
    ck_assert(str_is(t, "c d"));
    ck_assert(!http1_list_next(v, &pos, &t));
    ck_assert(!http1_list_next(v, &pos, &t));
    pos = 0;
    ck_assert(!http1_list_next(str(""), &pos, &t));
}
END_TEST

START_TEST(test_list_next_keeps_commas_inside_quotes)
{
    struct http1_str v = str("no-cache=\"Set-Cookie, X-A\", max-age=5");
    size_t pos = 0;
    struct http1_str t;
    ck_assert(http1_list_next(v, &pos, &t));
    ck_assert(str_is(t, "no-cache=\"Set-Cookie, X-A\""));
    ck_assert(http1_list_next(v, &pos, &t));
    ck_assert(str_is(t, "max-age=5"));
    ck_assert(!http1_list_next(v, &pos, &t));
}
END_TEST

START_TEST(test_header_has_token_compares_name_before_equals)
{
    struct http1_header h[] = {hdr("Cache-Control", "public, max-age=60"),
                               hdr("cache-control", "No-Store"), hdr("Connection", "Upgrade")};
    ck_assert(http1_header_has_token(h, 3, "Cache-Control", "max-age"));
    ck_assert(http1_header_has_token(h, 3, "Cache-Control", "no-store"));
    ck_assert(http1_header_has_token(h, 3, "Cache-Control", "public"));
    ck_assert(!http1_header_has_token(h, 3, "Cache-Control", "max"));
    ck_assert(!http1_header_has_token(h, 3, "Cache-Control", "private"));
    ck_assert(!http1_header_has_token(h, 3, "Pragma", "no-cache"));
}
END_TEST

START_TEST(test_is_hop_by_hop_lists_rfc9110_fields)
{
    const char *hop[] = {"Connection",
                         "keep-alive",
                         "Proxy-Connection",
                         "proxy-authenticate",
                         "Proxy-Authorization",
                         "te",
                         "Trailer",
                         "TRANSFER-ENCODING",
                         "Upgrade"};
    for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
        ck_assert_msg(http1_is_hop_by_hop(str(hop[i])), "%s", hop[i]);
    ck_assert(!http1_is_hop_by_hop(str("Content-Length")));
    ck_assert(!http1_is_hop_by_hop(str("Trailers")));
    ck_assert(!http1_is_hop_by_hop(str("Host")));
}
END_TEST

START_TEST(test_connection_lists_named_fields)
{
    struct http1_header h[] = {hdr("Connection", "close, X-Secret"), hdr("connection", "foo")};
    ck_assert(http1_connection_lists(h, 2, str("x-secret")));
    ck_assert(http1_connection_lists(h, 2, str("Foo")));
    ck_assert(!http1_connection_lists(h, 2, str("X-Other")));
    ck_assert(!http1_connection_lists(h, 1, str("foo")));
}
END_TEST

START_TEST(test_split_absolute_defaults_port_and_path)
{
    struct http1_str host, path;
    int port;
    ck_assert_int_eq(http1_split_absolute(str("http://example.com"), &host, &port, &path), 0);
    ck_assert(str_is(host, "example.com"));
    ck_assert_int_eq(port, 80);
    ck_assert(str_is(path, "/"));
    ck_assert_int_eq(http1_split_absolute(str("HTTP://a.b:81/x?y=1"), &host, &port, &path), 0);
    ck_assert(str_is(host, "a.b"));
    ck_assert_int_eq(port, 81);
    ck_assert(str_is(path, "/x?y=1"));
}
END_TEST

START_TEST(test_split_absolute_keeps_ipv6_brackets)
{
    struct http1_str host, path;
    int port;
    ck_assert_int_eq(http1_split_absolute(str("http://[::1]:8080/p"), &host, &port, &path), 0);
    ck_assert(str_is(host, "[::1]"));
    ck_assert_int_eq(port, 8080);
    ck_assert(str_is(path, "/p"));
}
END_TEST

START_TEST(test_split_absolute_rejects_bad_targets)
{
    struct http1_str host, path;
    int port;
    const char *bad[] = {"https://a/",    "/relative",   "http://",      "http:///x",
                         "http://u:p@a/", "http://a@b/", "http://a:0/",  "http://a:65536/",
                         "http://a:x/",   "http://a:/",  "http://[::1/", "http://a b/",
                         "http://a?q",    "ftp://a/",    "http//a/",     "http://a#f"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(http1_split_absolute(str(bad[i]), &host, &port, &path) == -1, "%s", bad[i]);
}
END_TEST

START_TEST(test_split_authority_parses_host_and_port)
{
    struct http1_str host;
    int port;
    ck_assert_int_eq(http1_split_authority(str("example.com"), 80, &host, &port), 0);
    ck_assert(str_is(host, "example.com"));
    ck_assert_int_eq(port, 80);
    ck_assert_int_eq(http1_split_authority(str("example.com:443"), 80, &host, &port), 0);
    ck_assert_int_eq(port, 443);
    ck_assert_int_eq(http1_split_authority(str("10.0.0.1:65535"), 80, &host, &port), 0);
    ck_assert(str_is(host, "10.0.0.1"));
    ck_assert_int_eq(port, 65535);
    ck_assert_int_eq(http1_split_authority(str("[2001:db8::1]"), 443, &host, &port), 0);
    ck_assert(str_is(host, "[2001:db8::1]"));
    ck_assert_int_eq(port, 443);
}
END_TEST

START_TEST(test_split_authority_rejects_bad_values)
{
    struct http1_str host;
    int port;
    const char *bad[] = {"",    ":80",  "a:", "a:0", "a:123456", "a:-1", "a:+80",  "a b",    "a/b",
                         "a@b", "[::1", "[]", "[x]", "a:80:81",  "a\tb", "[::1]x", "a:080a", "a;b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(http1_split_authority(str(bad[i]), 80, &host, &port) == -1, "'%s'", bad[i]);
}
END_TEST

/* A value that is not NUL-terminated, in a buffer of its own size: reading
 * one byte past it is a heap overflow under ASan (the Max-Forwards bug). */
static struct http1_str heap_str(const char *lit, char **owned)
{
    size_t n = strlen(lit);
    *owned = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(*owned);
    memcpy(*owned, lit, n);
    return (struct http1_str){*owned, n};
}

START_TEST(test_parse_uint_reads_decimals_within_the_value)
{
    char *b;
    uint64_t v = 7;
    ck_assert_int_eq(http1_parse_uint(heap_str("0", &b), UINT64_MAX, &v), 0);
    ck_assert_uint_eq(v, 0);
    free(b);
    ck_assert_int_eq(http1_parse_uint(heap_str("10", &b), UINT64_MAX, &v), 0);
    ck_assert_uint_eq(v, 10);
    free(b);
    ck_assert_int_eq(http1_parse_uint(heap_str("18446744073709551615", &b), UINT64_MAX, &v), 0);
    ck_assert_uint_eq(v, UINT64_MAX);
    free(b);
    ck_assert_int_eq(http1_parse_uint(heap_str("007", &b), 7, &v), 0);
    ck_assert_uint_eq(v, 7);
    free(b);
    /* A value that ends where a digit would follow in memory stops there. */
    const char mem[] = "123456";
    struct http1_str three = {mem, 3};
    ck_assert_int_eq(http1_parse_uint(three, UINT64_MAX, &v), 0);
    ck_assert_uint_eq(v, 123);
}
END_TEST

START_TEST(test_parse_uint_rejects_empty_signed_spaced_and_overflowing_values)
{
    static const char *bad[] = {"",
                                " 1",
                                "1 ",
                                "+1",
                                "-1",
                                "0x10",
                                "1.0",
                                "1e3",
                                "1,2",
                                "18446744073709551616",
                                "99999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *b;
        uint64_t v = 7;
        ck_assert_msg(http1_parse_uint(heap_str(bad[i], &b), UINT64_MAX, &v) == -1, "'%s' accepted",
                      bad[i]);
        ck_assert_uint_eq(v, 7);
        free(b);
    }
    char *b;
    uint64_t v;
    ck_assert_int_eq(http1_parse_uint(heap_str("256", &b), 255, &v), -1);
    free(b);
    ck_assert_int_eq(http1_parse_uint(heap_str("255", &b), 255, &v), 0);
    free(b);
    ck_assert_int_eq(http1_parse_uint(heap_str("2147483648", &b), 0x7fffffff, &v), -1);
    free(b);
    ck_assert_int_eq(http1_parse_uint(heap_str("5", &b), 0, &v), -1);
    free(b);
}
END_TEST

/* The request that over-read in proxyd: an empty Max-Forwards as the last
 * header of a head copied into a buffer of exactly its size. */
START_TEST(test_parse_uint_on_empty_last_header_stays_inside_the_head)
{
    const char *lit = "TRACE / HTTP/1.1\r\nHost: x\r\nMax-Forwards:\r\n\r\n";
    size_t n = strlen(lit);
    char *head = malloc(n);
    memcpy(head, lit, n);
    ck_assert_int_eq(http1_parse_request(head, n, NULL, &req, err, sizeof(err)), (int)n);
    const struct http1_header *mf = http1_header_find(req.headers, req.nheaders, "Max-Forwards");
    ck_assert_ptr_nonnull(mf);
    ck_assert_uint_eq(mf->value.len, 0);
    uint64_t v;
    ck_assert_int_eq(http1_parse_uint(mf->value, UINT64_MAX, &v), -1);
    free(head);
}
END_TEST

START_TEST(test_reason_names_common_statuses)
{
    ck_assert_str_eq(http1_reason(200), "OK");
    ck_assert_str_eq(http1_reason(404), "Not Found");
    ck_assert_str_eq(http1_reason(414), "URI Too Long");
    ck_assert_str_eq(http1_reason(431), "Request Header Fields Too Large");
    ck_assert_str_eq(http1_reason(502), "Bad Gateway");
    ck_assert_str_eq(http1_reason(505), "HTTP Version Not Supported");
    ck_assert_str_eq(http1_reason(299), "Unknown");
}
END_TEST

static Suite *http1_suite(void)
{
    Suite *s = suite_create("http1");

    TCase *t = tcase_create("request");
    tcase_add_test(t, test_request_parses_origin_form_get);
    tcase_add_test(t, test_request_parses_absolute_form);
    tcase_add_test(t, test_request_parses_authority_form);
    tcase_add_test(t, test_request_parses_asterisk_form);
    tcase_add_test(t, test_request_parses_pipelined_requests_from_head_length);
    tcase_add_test(t, test_request_every_prefix_is_incomplete);
    tcase_add_test(t, test_request_accepts_lf_only_line_endings);
    tcase_add_test(t, test_request_skips_leading_empty_lines);
    tcase_add_test(t, test_request_trims_whitespace_around_values);
    tcase_add_test(t, test_request_accepts_obs_text_in_values);
    tcase_add_test(t, test_request_content_length_sets_length_body);
    tcase_add_test(t, test_request_content_length_zero_is_length_body);
    tcase_add_test(t, test_request_identical_content_lengths_collapse);
    tcase_add_test(t, test_request_accepts_largest_content_length);
    tcase_add_test(t, test_request_parses_chunked);
    tcase_add_test(t, test_request_keep_alive_defaults_on_for_http11);
    tcase_add_test(t, test_request_keep_alive_defaults_off_for_http10);
    tcase_add_test(t, test_request_expect_continue_on_http11_only);
    tcase_add_test(t, test_request_accepts_exactly_max_headers);
    tcase_add_test(t, test_request_accepts_line_of_exactly_max_line);
    tcase_add_test(t, test_request_honours_custom_limits);
    suite_add_tcase(s, t);

    t = tcase_create("request_framing");
    tcase_add_test(t, test_request_rejects_cl_with_te);
    tcase_add_test(t, test_request_rejects_differing_content_lengths);
    tcase_add_test(t, test_request_rejects_differing_content_length_list);
    tcase_add_test(t, test_request_rejects_empty_content_length);
    tcase_add_test(t, test_request_rejects_signed_content_length);
    tcase_add_test(t, test_request_rejects_non_digit_content_length);
    tcase_add_test(t, test_request_rejects_overflowing_content_length);
    tcase_add_test(t, test_request_rejects_te_on_http10);
    tcase_add_test(t, test_request_rejects_te_not_ending_in_chunked);
    tcase_add_test(t, test_request_rejects_chunked_applied_twice);
    tcase_add_test(t, test_request_rejects_chunked_with_parameters);
    tcase_add_test(t, test_request_rejects_empty_te);
    tcase_add_test(t, test_request_answers_501_to_codings_before_chunked);
    tcase_add_test(t, test_request_rejects_duplicate_host);
    suite_add_tcase(s, t);

    t = tcase_create("request_syntax");
    tcase_add_test(t, test_request_rejects_obs_fold);
    tcase_add_test(t, test_request_rejects_whitespace_before_colon);
    tcase_add_test(t, test_request_rejects_empty_header_name);
    tcase_add_test(t, test_request_rejects_header_without_colon);
    tcase_add_test(t, test_request_rejects_non_token_header_name);
    tcase_add_test(t, test_request_rejects_nul);
    tcase_add_test(t, test_request_rejects_bare_cr_in_header);
    tcase_add_test(t, test_request_rejects_bare_cr_in_request_line);
    tcase_add_test(t, test_request_rejects_control_characters);
    tcase_add_test(t, test_request_rejects_non_token_method);
    tcase_add_test(t, test_request_rejects_extra_spaces_in_request_line);
    tcase_add_test(t, test_request_rejects_space_in_target);
    tcase_add_test(t, test_request_rejects_missing_version);
    tcase_add_test(t, test_request_rejects_malformed_version);
    tcase_add_test(t, test_request_answers_505_to_unsupported_version);
    tcase_add_test(t, test_request_rejects_binary_before_line_ends);
    suite_add_tcase(s, t);

    t = tcase_create("request_limits");
    tcase_add_test(t, test_request_answers_414_to_long_request_line);
    tcase_add_test(t, test_request_answers_414_to_incomplete_long_request_line);
    tcase_add_test(t, test_request_answers_431_to_long_header_line);
    tcase_add_test(t, test_request_answers_431_to_incomplete_long_header_line);
    tcase_add_test(t, test_request_answers_431_to_large_head);
    tcase_add_test(t, test_request_answers_431_to_incomplete_large_head);
    tcase_add_test(t, test_request_answers_431_to_too_many_headers);
    tcase_add_test(t, test_request_answers_431_to_endless_empty_lines);
    suite_add_tcase(s, t);

    t = tcase_create("response");
    tcase_add_test(t, test_response_parses_status_and_reason);
    tcase_add_test(t, test_response_accepts_empty_reason);
    tcase_add_test(t, test_response_parses_chunked);
    tcase_add_test(t, test_response_without_framing_is_close_delimited);
    tcase_add_test(t, test_response_te_not_ending_in_chunked_is_close_delimited);
    tcase_add_test(t, test_response_to_head_has_no_body);
    tcase_add_test(t, test_response_304_has_no_body);
    tcase_add_test(t, test_response_204_has_no_body);
    tcase_add_test(t, test_response_1xx_has_no_body);
    tcase_add_test(t, test_response_keep_alive_follows_version_and_connection);
    tcase_add_test(t, test_response_every_prefix_is_incomplete);
    tcase_add_test(t, test_response_rejects_cl_with_te);
    tcase_add_test(t, test_response_rejects_te_on_http10);
    tcase_add_test(t, test_response_rejects_differing_content_lengths);
    tcase_add_test(t, test_response_rejects_invalid_content_length);
    tcase_add_test(t, test_response_rejects_codings_before_chunked);
    tcase_add_test(t, test_response_rejects_chunked_not_last);
    tcase_add_test(t, test_response_rejects_obs_fold);
    tcase_add_test(t, test_response_rejects_whitespace_before_colon);
    tcase_add_test(t, test_response_rejects_control_characters);
    tcase_add_test(t, test_response_rejects_bad_status_code);
    tcase_add_test(t, test_response_rejects_unsupported_version);
    tcase_add_test(t, test_response_rejects_garbage_before_line_ends);
    tcase_add_test(t, test_response_rejects_oversized_incomplete_head);
    suite_add_tcase(s, t);

    t = tcase_create("chunked");
    tcase_add_test(t, test_chunked_decodes_body);
    tcase_add_test(t, test_chunked_decodes_at_every_split_point);
    tcase_add_test(t, test_chunked_decodes_one_byte_at_a_time);
    tcase_add_test(t, test_chunked_stops_after_last_chunk);
    tcase_add_test(t, test_chunked_reports_payload_span);
    tcase_add_test(t, test_chunked_accepts_empty_body);
    tcase_add_test(t, test_chunked_accepts_upper_and_lower_hex);
    tcase_add_test(t, test_chunked_accepts_sixteen_hex_digits);
    tcase_add_test(t, test_chunked_accepts_extensions);
    tcase_add_test(t, test_chunked_discards_trailers);
    tcase_add_test(t, test_chunked_rejects_oversized_hex);
    tcase_add_test(t, test_chunked_rejects_overflowing_total);
    tcase_add_test(t, test_chunked_rejects_signed_size);
    tcase_add_test(t, test_chunked_rejects_0x_prefix);
    tcase_add_test(t, test_chunked_rejects_whitespace_around_size);
    tcase_add_test(t, test_chunked_rejects_empty_size);
    tcase_add_test(t, test_chunked_rejects_non_hex_size);
    tcase_add_test(t, test_chunked_rejects_bare_lf_after_size);
    tcase_add_test(t, test_chunked_rejects_bare_lf_after_data);
    tcase_add_test(t, test_chunked_rejects_missing_crlf_after_data);
    tcase_add_test(t, test_chunked_rejects_bare_lf_in_last_chunk);
    tcase_add_test(t, test_chunked_rejects_bare_cr);
    tcase_add_test(t, test_chunked_rejects_control_chars_in_extension);
    tcase_add_test(t, test_chunked_rejects_control_chars_in_quoted_extension);
    tcase_add_test(t, test_chunked_rejects_unterminated_quoted_extension);
    tcase_add_test(t, test_chunked_rejects_malformed_extension);
    tcase_add_test(t, test_chunked_rejects_long_size_line);
    tcase_add_test(t, test_chunked_rejects_long_trailers);
    tcase_add_test(t, test_chunked_rejects_malformed_trailers);
    tcase_add_test(t, test_chunked_stays_failed_after_error);
    suite_add_tcase(s, t);

    t = tcase_create("fields");
    tcase_add_test(t, test_request_rebase_moves_every_field_to_the_copy);
    tcase_add_test(t, test_limits_default_values);
    tcase_add_test(t, test_str_eq_is_exact_and_caseeq_is_not);
    tcase_add_test(t, test_header_find_and_next_ignore_case);
    tcase_add_test(t, test_list_next_trims_and_skips_empty_elements);
    tcase_add_test(t, test_list_next_keeps_commas_inside_quotes);
    tcase_add_test(t, test_header_has_token_compares_name_before_equals);
    tcase_add_test(t, test_is_hop_by_hop_lists_rfc9110_fields);
    tcase_add_test(t, test_connection_lists_named_fields);
    tcase_add_test(t, test_split_absolute_defaults_port_and_path);
    tcase_add_test(t, test_split_absolute_keeps_ipv6_brackets);
    tcase_add_test(t, test_split_absolute_rejects_bad_targets);
    tcase_add_test(t, test_split_authority_parses_host_and_port);
    tcase_add_test(t, test_split_authority_rejects_bad_values);
    tcase_add_test(t, test_parse_uint_reads_decimals_within_the_value);
    tcase_add_test(t, test_parse_uint_rejects_empty_signed_spaced_and_overflowing_values);
    tcase_add_test(t, test_parse_uint_on_empty_last_header_stays_inside_the_head);
    tcase_add_test(t, test_reason_names_common_statuses);
    suite_add_tcase(s, t);

    return s;
}

PP_CHECK_MAIN(http1_suite)
