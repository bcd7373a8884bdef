/* Unit tests for common/jsonhttp.c: a real evhttp server on 127.0.0.1 (port
 * chosen by the kernel) with handlers built on the helpers, and real clients
 * (libevent's evhttp client, or a raw socket to assert on the exact bytes):
 * JSON replies, the one error format, body limits, parse errors, 405 and
 * Prometheus text. */
#include <arpa/inet.h>
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#include "../check_main.h"
#include "jsonhttp.h"
#include "prom.h"

/* Every exchange must finish well within this; a hang fails the test. */
#define EXCHANGE_TIMEOUT_S 5
#define MIB (1024 * 1024)

static struct event_base *base;
static struct evhttp *http;
static int port;

/* ---- the server under test ---- */

static void handle(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (strcmp(path, "/json") == 0) {
        if (jsonhttp_check_method(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD) < 0)
            return;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "hello", "world");
        cJSON_AddNumberToObject(o, "n", 3);
        jsonhttp_send(req, 200, o);
        cJSON_Delete(o);
    } else if (strcmp(path, "/created") == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", "p1");
        jsonhttp_send(req, 201, o);
        cJSON_Delete(o);
    } else if (strcmp(path, "/nocontent") == 0) {
        cJSON *o = cJSON_CreateObject();
        jsonhttp_send(req, 204, o);
        cJSON_Delete(o);
    } else if (strcmp(path, "/error") == 0) {
        jsonhttp_send_error(req, 404, "no instance named \"%s\"", "p\"9");
    } else if (strcmp(path, "/badutf8") == 0) {
        jsonhttp_send_error(req, 400, "unknown field \"%s\"",
                            "a\xff"
                            "b");
    } else if (strcmp(path, "/echo") == 0 || strcmp(path, "/small") == 0) {
        if (jsonhttp_check_method(req, EVHTTP_REQ_POST | EVHTTP_REQ_PUT) < 0)
            return;
        cJSON *body = jsonhttp_read_body(req, strcmp(path, "/small") == 0 ? 16 : 0);
        if (body == NULL)
            return;
        jsonhttp_send(req, 200, body);
        cJSON_Delete(body);
    } else if (strcmp(path, "/metrics") == 0) {
        struct evbuffer *b = evbuffer_new();
        struct prom p;
        prom_init(&p, b);
        prom_counter(&p, "test_requests_total", "Requests.", NULL, 0, 5);
        jsonhttp_send_prom(req, b);
        evbuffer_free(b);
    } else {
        jsonhttp_send_error(req, 404, "no route for %s", path);
    }
}

static void setup(void)
{
    ck_assert_int_eq(evthread_use_pthreads(), 0); /* raw clients break the loop from a thread */
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    http = evhttp_new(base);
    ck_assert_ptr_nonnull(http);
    evhttp_set_gencb(http, handle, NULL);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    ck_assert_ptr_nonnull(bs);
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    ck_assert_int_eq(getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &len), 0);
    port = ntohs(sin.sin_port);
}

static void teardown(void)
{
    evhttp_free(http);
    event_base_free(base);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    event_base_loopbreak(base);
}

/* Runs the loop until something breaks it or the timeout passes. */
static void run_loop(void)
{
    struct timeval tv = {EXCHANGE_TIMEOUT_S, 0};
    struct event *timeout = evtimer_new(base, on_timeout, NULL);
    evtimer_add(timeout, &tv);
    event_base_dispatch(base);
    event_free(timeout);
}

/* ---- an evhttp client ---- */

struct reply {
    int done;
    int status;
    char content_type[128];
    char allow[128];
    char *body; /* NUL-terminated */
    size_t len;
};

static void on_reply(struct evhttp_request *req, void *arg)
{
    struct reply *r = arg;
    r->done = 1;
    if (req == NULL || evhttp_request_get_response_code(req) == 0) {
        r->status = -1;
        event_base_loopbreak(base);
        return;
    }
    r->status = evhttp_request_get_response_code(req);
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *ct = evhttp_find_header(h, "Content-Type");
    const char *allow = evhttp_find_header(h, "Allow");
    snprintf(r->content_type, sizeof(r->content_type), "%s", ct != NULL ? ct : "");
    snprintf(r->allow, sizeof(r->allow), "%s", allow != NULL ? allow : "");
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    r->len = evbuffer_get_length(in);
    r->body = malloc(r->len + 1);
    evbuffer_remove(in, r->body, r->len);
    r->body[r->len] = '\0';
    event_base_loopbreak(base);
}

static struct reply request(enum evhttp_cmd_type cmd, const char *path, const char *ctype,
                            const char *body, size_t len)
{
    struct reply r = {0};
    struct evhttp_connection *conn = evhttp_connection_base_new(base, NULL, "127.0.0.1", port);
    ck_assert_ptr_nonnull(conn);
    struct evhttp_request *req = evhttp_request_new(on_reply, &r);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", "127.0.0.1");
    if (ctype != NULL)
        evhttp_add_header(h, "Content-Type", ctype);
    if (body != NULL)
        evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
    ck_assert_int_eq(evhttp_make_request(conn, req, cmd, path), 0);
    run_loop();
    ck_assert_msg(r.done, "no reply to %s within %d s", path, EXCHANGE_TIMEOUT_S);
    evhttp_connection_free(conn);
    return r;
}

static struct reply post_json(const char *path, const char *json)
{
    return request(EVHTTP_REQ_POST, path, "application/json", json, strlen(json));
}

/* The reply's {"error": "..."}, checked for shape: one member, a string. */
static void assert_error_body(const struct reply *r, int status, const char *message_part)
{
    ck_assert_int_eq(r->status, status);
    ck_assert_str_eq(r->content_type, "application/json");
    cJSON *j = cJSON_Parse(r->body);
    ck_assert_msg(j != NULL, "not JSON: %s", r->body);
    ck_assert_int_eq(cJSON_GetArraySize(j), 1);
    cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    ck_assert_msg(cJSON_IsString(e), "error is not a string: %s", r->body);
    ck_assert_msg(strstr(e->valuestring, message_part) != NULL, "error \"%s\" lacks \"%s\"",
                  e->valuestring, message_part);
    cJSON_Delete(j);
}

/* ---- a raw socket client, for the exact bytes ---- */

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

struct raw {
    const char *request;
    size_t request_len;
    char *response;
    size_t len, cap;
};

static void *raw_main(void *arg)
{
    struct raw *x = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
        size_t sent = 0;
        while (sent < x->request_len) {
            ssize_t n = send(fd, x->request + sent, x->request_len - sent, MSG_NOSIGNAL);
            if (n <= 0)
                break;
            sent += (size_t)n;
        }
        ssize_t n;
        while (x->len < x->cap - 1 &&
               (n = recv(fd, x->response + x->len, x->cap - 1 - x->len, 0)) > 0)
            x->len += (size_t)n;
    }
    x->response[x->len] = '\0';
    if (fd >= 0)
        close(fd);
    event_base_loopbreak(base);
    return NULL;
}

/* Sends request (which should say Connection: close) and returns everything
 * received until the server closed. */
static char *raw_exchange(const char *request, size_t len)
{
    static char response[64 * 1024];
    struct raw x = {request, len, response, 0, sizeof(response)};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, raw_main, &x), 0);
    run_loop();
    pthread_join(t, NULL);
    return response;
}

/* ---- replies ---- */

START_TEST(test_jsonhttp_sends_json_with_content_type)
{
    struct reply r = request(EVHTTP_REQ_GET, "/json", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.content_type, "application/json");
    ck_assert_str_eq(r.body, "{\"hello\":\"world\",\"n\":3}\n");
    free(r.body);
}
END_TEST

START_TEST(test_jsonhttp_sends_given_status)
{
    struct reply r = request(EVHTTP_REQ_GET, "/created", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(r.body, "{\"id\":\"p1\"}\n");
    free(r.body);
}
END_TEST

START_TEST(test_jsonhttp_204_has_no_body_on_the_wire)
{
    const char req[] = "GET /nocontent HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    const char *resp = raw_exchange(req, sizeof(req) - 1);
    ck_assert_msg(starts_with(resp, "HTTP/1.1 204 No Content\r\n"), "%s", resp);
    const char *end = strstr(resp, "\r\n\r\n");
    ck_assert_ptr_nonnull(end);
    ck_assert_msg(end[4] == '\0', "body sent with 204: %s", end + 4);
}
END_TEST

START_TEST(test_jsonhttp_error_has_project_format)
{
    struct reply r = request(EVHTTP_REQ_GET, "/error", NULL, NULL, 0);
    assert_error_body(&r, 404, "no instance named \"p\"9\"");
    free(r.body);
}
END_TEST

START_TEST(test_jsonhttp_error_on_the_wire)
{
    const char req[] = "GET /error HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    const char *resp = raw_exchange(req, sizeof(req) - 1);
    ck_assert_msg(starts_with(resp, "HTTP/1.1 404 Not Found\r\n"), "%s", resp);
    ck_assert_msg(strstr(resp, "\r\nContent-Type: application/json\r\n") != NULL, "%s", resp);
    const char *body = strstr(resp, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    ck_assert_str_eq(body + 4, "{\"error\":\"no instance named \\\"p\\\"9\\\"\"}\n");
}
END_TEST

START_TEST(test_jsonhttp_error_replaces_invalid_utf8)
{
    struct reply r = request(EVHTTP_REQ_GET, "/badutf8", NULL, NULL, 0);
    assert_error_body(&r, 400, "unknown field \"a?b\"");
    free(r.body);
}
END_TEST

START_TEST(test_jsonhttp_sends_prometheus_text)
{
    struct reply r = request(EVHTTP_REQ_GET, "/metrics", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.content_type, "text/plain; version=0.0.4");
    ck_assert_str_eq(r.body, "# HELP test_requests_total Requests.\n"
                             "# TYPE test_requests_total counter\n"
                             "test_requests_total 5\n");
    free(r.body);
}
END_TEST

/* ---- request bodies ---- */

START_TEST(test_jsonhttp_reads_json_body)
{
    struct reply r = post_json("/echo", "{\"replicas\": 8, \"mode\": \"nat\"}");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"replicas\":8,\"mode\":\"nat\"}\n");
    free(r.body);
}
END_TEST

START_TEST(test_jsonhttp_accepts_wrong_content_type)
{
    const char body[] = "[1, 2, 3]";
    struct reply r = request(EVHTTP_REQ_PUT, "/echo", "text/plain", body, sizeof(body) - 1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "[1,2,3]\n");
    free(r.body);
    r = request(EVHTTP_REQ_PUT, "/echo", NULL, body, sizeof(body) - 1); /* none at all */
    ck_assert_int_eq(r.status, 200);
    free(r.body);
}
END_TEST

/* A JSON document of exactly len bytes: a string padded by spaces. */
static char *json_of_size(size_t len)
{
    char *s = malloc(len);
    memset(s, ' ', len);
    memcpy(s, "\"x\"", 3);
    return s;
}

START_TEST(test_jsonhttp_accepts_body_of_exactly_1_mib)
{
    char *body = json_of_size(MIB);
    struct reply r = request(EVHTTP_REQ_POST, "/echo", "application/json", body, MIB);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "\"x\"\n");
    free(r.body);
    free(body);
}
END_TEST

START_TEST(test_jsonhttp_rejects_body_over_1_mib_with_413)
{
    char *body = json_of_size(MIB + 1);
    struct reply r = request(EVHTTP_REQ_POST, "/echo", "application/json", body, MIB + 1);
    assert_error_body(&r, 413, "1048577 bytes, the limit is 1048576");
    free(r.body);
    free(body);
}
END_TEST

START_TEST(test_jsonhttp_honours_a_smaller_limit)
{
    struct reply r = post_json("/small", "{\"a\": \"123456\"}"); /* 15 bytes */
    ck_assert_int_eq(r.status, 200);
    free(r.body);
    r = post_json("/small", "{\"a\": \"12345678\"}"); /* 17 bytes */
    assert_error_body(&r, 413, "the limit is 16");
    free(r.body);
}
END_TEST

START_TEST(test_jsonhttp_rejects_invalid_json_with_position)
{
    struct reply r = post_json("/echo", "{\"replicas\": tru}");
    assert_error_body(&r, 400, "invalid JSON at byte 13 (line 1, column 14)");
    free(r.body);
}
END_TEST

START_TEST(test_jsonhttp_reports_line_and_column_of_error)
{
    struct reply r = post_json("/echo", "{\n  \"a\": 1,\n  \"b\": [1, 2,, 3]\n}");
    assert_error_body(&r, 400, "(line 3, column 14)");
    free(r.body);
}
END_TEST

START_TEST(test_jsonhttp_rejects_trailing_garbage)
{
    struct reply r = post_json("/echo", "{} x");
    assert_error_body(&r, 400, "invalid JSON at byte 3");
    free(r.body);
    r = post_json("/echo", "{}{}");
    assert_error_body(&r, 400, "invalid JSON at byte 2");
    free(r.body);
    r = post_json("/echo", "{} \n"); /* trailing whitespace is fine */
    ck_assert_int_eq(r.status, 200);
    free(r.body);
}
END_TEST

START_TEST(test_jsonhttp_rejects_empty_body)
{
    struct reply r = request(EVHTTP_REQ_POST, "/echo", "application/json", NULL, 0);
    assert_error_body(&r, 400, "empty");
    free(r.body);
}
END_TEST

START_TEST(test_jsonhttp_rejects_nul_byte_in_body)
{
    struct reply r = request(EVHTTP_REQ_POST, "/echo", "application/json", "{}\0{}", 5);
    assert_error_body(&r, 400, "NUL byte at byte 2");
    free(r.body);
}
END_TEST

/* ---- methods ---- */

START_TEST(test_jsonhttp_wrong_method_gets_405_with_allow)
{
    struct reply r = request(EVHTTP_REQ_DELETE, "/echo", NULL, NULL, 0);
    assert_error_body(&r, 405, "method DELETE not allowed");
    ck_assert_str_eq(r.allow, "POST, PUT");
    free(r.body);
}
END_TEST

START_TEST(test_jsonhttp_405_on_the_wire)
{
    const char req[] = "POST /json HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                       "Connection: close\r\n\r\n{}";
    const char *resp = raw_exchange(req, sizeof(req) - 1);
    ck_assert_msg(starts_with(resp, "HTTP/1.1 405 Method Not Allowed\r\n"), "%s", resp);
    ck_assert_msg(strstr(resp, "\r\nAllow: GET, HEAD\r\n") != NULL, "%s", resp);
    ck_assert_msg(strstr(resp, "\r\n\r\n{\"error\":\"method POST not allowed here; allowed: GET, "
                               "HEAD\"}\n") != NULL,
                  "%s", resp);
}
END_TEST

START_TEST(test_jsonhttp_head_gets_headers_without_body)
{
    const char req[] = "HEAD /json HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    const char *resp = raw_exchange(req, sizeof(req) - 1);
    ck_assert_msg(starts_with(resp, "HTTP/1.1 200 OK\r\n"), "%s", resp);
    ck_assert_msg(strstr(resp, "\r\nContent-Type: application/json\r\n") != NULL, "%s", resp);
    const char *end = strstr(resp, "\r\n\r\n");
    ck_assert_ptr_nonnull(end);
    ck_assert_msg(end[4] == '\0', "body sent for HEAD: %s", end + 4);
    /* The length a GET would have had: {"hello":"world","n":3} and a newline. */
    ck_assert_msg(strstr(resp, "\r\nContent-Length: 24\r\n") != NULL, "%s", resp);
}
END_TEST

START_TEST(test_jsonhttp_allowed_method_passes)
{
    struct reply r = request(EVHTTP_REQ_GET, "/json", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.allow, "");
    free(r.body);
}
END_TEST

static Suite *jsonhttp_suite(void)
{
    Suite *s = suite_create("jsonhttp");
    TCase *tc = tcase_create("reply");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_jsonhttp_sends_json_with_content_type);
    tcase_add_test(tc, test_jsonhttp_sends_given_status);
    tcase_add_test(tc, test_jsonhttp_204_has_no_body_on_the_wire);
    tcase_add_test(tc, test_jsonhttp_error_has_project_format);
    tcase_add_test(tc, test_jsonhttp_error_on_the_wire);
    tcase_add_test(tc, test_jsonhttp_error_replaces_invalid_utf8);
    tcase_add_test(tc, test_jsonhttp_sends_prometheus_text);
    suite_add_tcase(s, tc);

    tc = tcase_create("body");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_jsonhttp_reads_json_body);
    tcase_add_test(tc, test_jsonhttp_accepts_wrong_content_type);
    tcase_add_test(tc, test_jsonhttp_accepts_body_of_exactly_1_mib);
    tcase_add_test(tc, test_jsonhttp_rejects_body_over_1_mib_with_413);
    tcase_add_test(tc, test_jsonhttp_honours_a_smaller_limit);
    tcase_add_test(tc, test_jsonhttp_rejects_invalid_json_with_position);
    tcase_add_test(tc, test_jsonhttp_reports_line_and_column_of_error);
    tcase_add_test(tc, test_jsonhttp_rejects_trailing_garbage);
    tcase_add_test(tc, test_jsonhttp_rejects_empty_body);
    tcase_add_test(tc, test_jsonhttp_rejects_nul_byte_in_body);
    suite_add_tcase(s, tc);

    tc = tcase_create("method");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_jsonhttp_wrong_method_gets_405_with_allow);
    tcase_add_test(tc, test_jsonhttp_405_on_the_wire);
    tcase_add_test(tc, test_jsonhttp_allowed_method_passes);
    tcase_add_test(tc, test_jsonhttp_head_gets_headers_without_body);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(jsonhttp_suite)
