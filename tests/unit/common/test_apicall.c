/* Unit tests for common/httpcall.c: API addresses, and whole exchanges with a
 * scripted server thread on 127.0.0.1 that records the request's bytes and
 * answers with canned ones (Content-Length, chunked, close-delimited, 1xx
 * first, nothing at all, a cut body), so each outcome and exit path of
 * httpcall_run is seen on the wire. */
#include <arpa/inet.h>
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpcall.h"
#include "../check_main.h"

/* ---- a scripted server ---- */

struct script {
    int listen_fd;
    int port;
    const char *reply;  /* sent once the request head (and body) arrived */
    int hold_ms;        /* then keep the connection this long before closing */
    char request[8192]; /* what the client sent */
    size_t request_len;
    pthread_t thread;
};

static size_t content_length(const char *head)
{
    const char *cl = strcasestr(head, "\r\nContent-Length:");
    return cl != NULL ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
}

static void *serve(void *arg)
{
    struct script *s = arg;
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    for (;;) { /* the head, then Content-Length bytes of body */
        ssize_t n =
            recv(fd, s->request + s->request_len, sizeof(s->request) - 1 - s->request_len, 0);
        if (n <= 0)
            break;
        s->request_len += (size_t)n;
        s->request[s->request_len] = '\0';
        const char *end = strstr(s->request, "\r\n\r\n");
        if (end != NULL &&
            s->request_len >= (size_t)(end + 4 - s->request) + content_length(s->request))
            break;
    }
    if (s->reply != NULL)
        send(fd, s->reply, strlen(s->reply), MSG_NOSIGNAL);
    if (s->hold_ms > 0)
        usleep((useconds_t)s->hold_ms * 1000);
    close(fd);
    return NULL;
}

static void script_start(struct script *s, const char *reply, int hold_ms)
{
    memset(s, 0, sizeof(*s));
    s->reply = reply;
    s->hold_ms = hold_ms;
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(s->listen_fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(s->listen_fd, 4), 0);
    socklen_t len = sizeof(sin);
    getsockname(s->listen_fd, (struct sockaddr *)&sin, &len);
    s->port = ntohs(sin.sin_port);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void script_join(struct script *s)
{
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
}

static void target_for(struct httpcall_target *t, int port)
{
    char url[64], err[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    ck_assert_int_eq(httpcall_parse_url(url, t, err, sizeof(err)), 0);
    snprintf(t->agent, sizeof(t->agent), "ppctl");
}

/* GET /v1/pool against a server answering reply; returns httpcall_run's. */
static int exchange(const char *reply, int hold_ms, int timeout_ms, struct httpcall_reply *r,
                    char *err, size_t errlen)
{
    struct script s;
    struct httpcall_target t;
    script_start(&s, reply, hold_ms);
    target_for(&t, s.port);
    int rc = httpcall_run(&t, "GET", "/v1/pool", NULL, NULL, timeout_ms, r, err, errlen);
    script_join(&s);
    return rc;
}

/* ---- addresses ---- */

START_TEST(test_httpcall_parses_api_urls)
{
    struct httpcall_target t;
    char err[256];
    ck_assert_int_eq(httpcall_parse_url("http://127.0.0.1:9090", &t, err, sizeof(err)), 0);
    ck_assert_str_eq(t.host, "127.0.0.1");
    ck_assert_str_eq(t.port, "9090");
    ck_assert_str_eq(t.authority, "127.0.0.1:9090");
    ck_assert_str_eq(t.prefix, "");
    ck_assert_int_eq(httpcall_parse_url("http://[::1]:8080/manager/", &t, err, sizeof(err)), 0);
    ck_assert_str_eq(t.host, "::1");
    ck_assert_str_eq(t.authority, "[::1]:8080");
    ck_assert_str_eq(t.prefix, "/manager");
    ck_assert_int_eq(httpcall_parse_url("HTTP://localhost", &t, err, sizeof(err)), 0);
    ck_assert_str_eq(t.port, "80");
}
END_TEST

START_TEST(test_httpcall_rejects_other_urls)
{
    const char *bad[] = {"127.0.0.1:9090",
                         "https://127.0.0.1:9090",
                         "ftp://h/",
                         "http://user@h:9090",
                         "http://h:9090/x?y=1",
                         "http://h:99999",
                         "http://h:9090#fragment",
                         "http://",
                         ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct httpcall_target t;
        char err[256] = "";
        ck_assert_msg(httpcall_parse_url(bad[i], &t, err, sizeof(err)) < 0, "accepted '%s'",
                      bad[i]);
        ck_assert_msg(strstr(err, "http://HOST[:PORT][/PREFIX]") != NULL, "%s", err);
    }
}
END_TEST

/* ---- requests ---- */

START_TEST(test_httpcall_sends_method_path_token_and_body)
{
    struct script s;
    struct httpcall_target t;
    struct httpcall_reply r;
    char err[256], url[64];
    script_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/mgr", s.port);
    ck_assert_int_eq(httpcall_parse_url(url, &t, err, sizeof(err)), 0);
    snprintf(t.agent, sizeof(t.agent), "ppctl");
    ck_assert_int_eq(httpcall_run(&t, "PUT", "/v1/pool", "{\"replicas\": 4}", "tok-1", 5000, &r,
                                  err, sizeof(err)),
                     0);
    script_join(&s);
    char want[512];
    snprintf(want, sizeof(want),
             "PUT /mgr/v1/pool HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: ppctl\r\n"
             "Accept: application/json\r\nConnection: close\r\n"
             "Authorization: Bearer tok-1\r\nContent-Type: application/json\r\n"
             "Content-Length: 15\r\n\r\n{\"replicas\": 4}",
             s.port);
    ck_assert_str_eq(s.request, want);
    httpcall_reply_free(&r);
}
END_TEST

START_TEST(test_httpcall_post_without_body_says_length_0)
{
    struct script s;
    struct httpcall_target t;
    struct httpcall_reply r;
    char err[256];
    script_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 0);
    target_for(&t, s.port);
    ck_assert_int_eq(httpcall_run(&t, "POST", "/v1/pool/instances/3/restart", NULL, NULL, 5000, &r,
                                  err, sizeof(err)),
                     0);
    script_join(&s);
    ck_assert_msg(strncmp(s.request, "POST /v1/pool/instances/3/restart HTTP/1.1\r\n", 44) == 0,
                  "%s", s.request);
    ck_assert_msg(strstr(s.request, "\r\nContent-Length: 0\r\n") != NULL, "%s", s.request);
    ck_assert_ptr_null(strstr(s.request, "Authorization"));
    httpcall_reply_free(&r);
}
END_TEST

/* ---- replies ---- */

START_TEST(test_httpcall_reads_content_length_reply)
{
    struct httpcall_reply r;
    char err[256];
    /* The server keeps the connection open: the length alone ends the reply. */
    ck_assert_int_eq(
        exchange("HTTP/1.1 409 Conflict\r\nContent-Length: 14\r\n\r\n{\"error\":\"x\"}\n", 800, 400,
                 &r, err, sizeof(err)),
        0);
    ck_assert_int_eq(r.status, 409);
    ck_assert_str_eq(r.body, "{\"error\":\"x\"}\n");
    ck_assert_uint_eq(r.len, 14);
    httpcall_reply_free(&r);
}
END_TEST

START_TEST(test_httpcall_reads_chunked_reply)
{
    struct httpcall_reply r;
    char err[256];
    ck_assert_int_eq(exchange("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "5\r\n{\"a\":\r\n3\r\n12}\r\n0\r\n\r\n",
                              800, 400, &r, err, sizeof(err)),
                     0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"a\":12}");
    httpcall_reply_free(&r);
}
END_TEST

START_TEST(test_httpcall_reads_close_delimited_reply)
{
    struct httpcall_reply r;
    char err[256];
    ck_assert_int_eq(exchange("HTTP/1.0 200 OK\r\n\r\n[1,2]", 0, 1000, &r, err, sizeof(err)), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "[1,2]");
    httpcall_reply_free(&r);
}
END_TEST

START_TEST(test_httpcall_skips_interim_reply)
{
    struct httpcall_reply r;
    char err[256];
    ck_assert_int_eq(exchange("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
                              "Content-Length: 2\r\n\r\n{}",
                              0, 1000, &r, err, sizeof(err)),
                     0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{}");
    httpcall_reply_free(&r);
}
END_TEST

/* ---- failures ---- */

START_TEST(test_httpcall_refused_connection_is_minus_1)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sin);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    close(fd); /* a port nobody listens on */
    struct httpcall_target t;
    struct httpcall_reply r;
    char err[256];
    target_for(&t, ntohs(sin.sin_port));
    ck_assert_int_eq(httpcall_run(&t, "GET", "/v1/pool", NULL, NULL, 1000, &r, err, sizeof(err)),
                     -1);
    ck_assert_msg(strstr(err, "cannot reach the API at http://127.0.0.1:") != NULL &&
                      strstr(err, "Connection refused") != NULL,
                  "%s", err);
    ck_assert_ptr_null(r.body);
}
END_TEST

START_TEST(test_httpcall_no_answer_in_time_is_minus_2)
{
    struct httpcall_reply r;
    char err[256];
    ck_assert_int_eq(exchange(NULL, 600, 200, &r, err, sizeof(err)), -2);
    ck_assert_msg(strstr(err, "no answer from the API at http://127.0.0.1:") != NULL &&
                      strstr(err, "within 0.2 s") != NULL,
                  "%s", err);
    ck_assert_ptr_null(r.body);
}
END_TEST

START_TEST(test_httpcall_close_without_answer_is_minus_2)
{
    struct httpcall_reply r;
    char err[256];
    ck_assert_int_eq(exchange(NULL, 0, 1000, &r, err, sizeof(err)), -2);
    ck_assert_msg(strstr(err, "closed the connection without answering") != NULL, "%s", err);
}
END_TEST

START_TEST(test_httpcall_cut_body_is_minus_2)
{
    struct httpcall_reply r;
    char err[256];
    ck_assert_int_eq(exchange("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{\"a\"", 0, 1000, &r,
                              err, sizeof(err)),
                     -2);
    ck_assert_msg(strstr(err, "before the whole reply body") != NULL, "%s", err);
}
END_TEST

START_TEST(test_httpcall_malformed_reply_is_minus_2)
{
    struct httpcall_reply r;
    char err[256];
    ck_assert_int_eq(exchange("SSH-2.0-OpenSSH_9.2\r\n\r\n", 0, 1000, &r, err, sizeof(err)), -2);
    ck_assert_msg(strstr(err, "sent a reply ppctl cannot read") != NULL, "%s", err);
}
END_TEST

static Suite *httpcall_suite(void)
{
    Suite *s = suite_create("apicall");
    TCase *tc = tcase_create("url");
    tcase_add_test(tc, test_httpcall_parses_api_urls);
    tcase_add_test(tc, test_httpcall_rejects_other_urls);
    suite_add_tcase(s, tc);

    tc = tcase_create("exchange");
    tcase_add_test(tc, test_httpcall_sends_method_path_token_and_body);
    tcase_add_test(tc, test_httpcall_post_without_body_says_length_0);
    tcase_add_test(tc, test_httpcall_reads_content_length_reply);
    tcase_add_test(tc, test_httpcall_reads_chunked_reply);
    tcase_add_test(tc, test_httpcall_reads_close_delimited_reply);
    tcase_add_test(tc, test_httpcall_skips_interim_reply);
    suite_add_tcase(s, tc);

    tc = tcase_create("failure");
    tcase_add_test(tc, test_httpcall_refused_connection_is_minus_1);
    tcase_add_test(tc, test_httpcall_no_answer_in_time_is_minus_2);
    tcase_add_test(tc, test_httpcall_close_without_answer_is_minus_2);
    tcase_add_test(tc, test_httpcall_cut_body_is_minus_2);
    tcase_add_test(tc, test_httpcall_malformed_reply_is_minus_2);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(httpcall_suite)
