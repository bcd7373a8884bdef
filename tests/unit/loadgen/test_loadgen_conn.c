/* Unit tests for loadgen/conn.c: the connection state machine against a
 * real TCP peer in the same process (a listener on 127.0.0.1 driven by the
 * same event loop, answering with scripted bytes): a kept-alive connection
 * is reused without a new connect, Connection: close is honoured, bytes past
 * a response stop reuse, a refused connect and a failure found at once are
 * reported from the loop (never from inside loadgen_conn_start), a silent
 * server times out, a cut body is short. */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include "../check_main.h"
#include "../../../loadgen/conn.h"
#include "../../../loadgen/source.h"

static struct event_base *base;
static struct loadgen_conn_env env;
static struct loadgen_source src;
static struct loadgen_conn conn;
static struct addr server_addr;
static int listen_fd = -1;
static struct event *accept_ev;
static const char *reply;    /* what the server sends after each request; NULL: nothing */
static int close_after = 0;  /* the server closes after replying */
static int close_second = 0; /* the server closes, unanswered, a connection's second request */
static int accepted = 0;

#define MAX_RESULTS 8
static struct loadgen_result results[MAX_RESULTS];
static char result_cache[MAX_RESULTS][LOADGEN_CACHE_MAX];
static int nresults;

static void on_done(struct loadgen_conn *c, struct loadgen_result *r)
{
    (void)c;
    ck_assert_int_lt(nresults, MAX_RESULTS);
    snprintf(result_cache[nresults], sizeof(result_cache[nresults]), "%s", r->cache);
    results[nresults] = *r;
    results[nresults].cache = result_cache[nresults];
    nresults++;
    event_base_loopbreak(base);
}

/* The server side's connections, freed at teardown if still open. */
#define MAX_SERVER_CONNS 8
static struct event *server_evs[MAX_SERVER_CONNS];
static int server_requests[MAX_SERVER_CONNS];

static void server_close(int i)
{
    close(event_get_fd(server_evs[i]));
    event_free(server_evs[i]);
    server_evs[i] = NULL;
}

static void on_server_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    int i = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0 || (close_second && ++server_requests[i] == 2)) {
        server_close(i);
        return;
    }
    if (reply)
        ck_assert_int_eq(send(fd, reply, strlen(reply), MSG_NOSIGNAL), (ssize_t)strlen(reply));
    if (close_after)
        server_close(i);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
    (void)what, (void)arg;
    int s = accept(fd, NULL, NULL);
    if (s < 0)
        return;
    accepted++;
    ck_assert_int_lt(accepted, MAX_SERVER_CONNS);
    server_evs[accepted] =
        event_new(base, s, EV_READ | EV_PERSIST, on_server_read, (void *)(intptr_t)accepted);
    event_add(server_evs[accepted], NULL);
}

static void setup(void)
{
    char err[128];
    base = event_base_new();
    ck_assert_int_eq(addr_parse("127.0.0.1", 0, &server_addr, err, sizeof(err)), 0);
    listen_fd = addr_listen_tcp(&server_addr, 16, 0, err, sizeof(err));
    ck_assert_int_ge(listen_fd, 0);
    server_addr.len = sizeof(server_addr.ss);
    getsockname(listen_fd, (struct sockaddr *)&server_addr.ss, &server_addr.len);
    accept_ev = event_new(base, listen_fd, EV_READ | EV_PERSIST, on_accept, NULL);
    event_add(accept_ev, NULL);
    memset(&env, 0, sizeof(env));
    env.base = base;
    env.request = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    env.request_len = strlen(env.request);
    env.connect_to = &server_addr;
    env.keepalive = 1;
    env.home_ns_fd = -1;
    env.timeout_us = 5000000;
    env.rbuf_size = 65536;
    env.rbuf = malloc(env.rbuf_size);
    env.done = on_done;
    loadgen_source_plain(&src);
    loadgen_conn_init(&conn, &env, NULL, &src, 1, 0);
    reply = NULL;
    close_after = 0;
    close_second = 0;
    memset(server_requests, 0, sizeof(server_requests));
    accepted = 0;
    nresults = 0;
}

static void teardown(void)
{
    loadgen_conn_release(&conn);
    for (int i = 0; i < MAX_SERVER_CONNS; i++) {
        if (server_evs[i])
            server_close(i);
    }
    if (accept_ev)
        event_free(accept_ev);
    if (listen_fd >= 0)
        close(listen_fd);
    event_base_free(base);
    free(env.rbuf);
}

/* Runs the loop until a result arrives (bounded: 5 s). */
static void run_until_done(int want)
{
    struct timeval limit = {5, 0};
    event_base_loopexit(base, &limit);
    while (nresults < want && event_base_dispatch(base) == 0 && !event_base_got_exit(base))
        ;
    ck_assert_int_eq(nresults, want);
}

START_TEST(test_loadgen_conn_keepalive_reuses_the_socket)
{
    reply = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Cache: HIT from p9\r\n\r\nhello";
    loadgen_conn_start(&conn, 0, 0);
    run_until_done(1);
    ck_assert_int_eq(results[0].status, 200);
    ck_assert_int_eq(results[0].error, LOADGEN_ERR_NONE);
    ck_assert_int_eq(results[0].complete, 1);
    ck_assert_uint_eq(results[0].body_bytes, 5);
    ck_assert_uint_eq(results[0].bytes_in, strlen(reply));
    ck_assert_str_eq(results[0].cache, "HIT");
    ck_assert_uint_ge(results[0].total_us, results[0].ttfb_us);
    ck_assert_int_eq(conn.state, LOADGEN_CONN_IDLE);
    loadgen_conn_start(&conn, 1, 0);
    run_until_done(2);
    ck_assert_int_eq(results[1].error, LOADGEN_ERR_NONE);
    ck_assert_uint_eq(results[1].req, 1);
    ck_assert_uint_eq(results[1].connect_us, 0); /* reused */
    ck_assert_uint_eq(env.connections_opened, 1);
    ck_assert_int_eq(accepted, 1);
}
END_TEST

/* The server closes a kept-alive connection as the next request arrives (its
 * idle timeout, or a restart, racing the request): the request is sent again
 * once on a new connection, and counted. */
START_TEST(test_loadgen_conn_stale_keepalive_is_retried_once)
{
    reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    close_second = 1;
    env.retry_stale = 1;
    loadgen_conn_start(&conn, 0, 0);
    run_until_done(1);
    ck_assert_int_eq(conn.state, LOADGEN_CONN_IDLE);
    loadgen_conn_start(&conn, 1, 0);
    run_until_done(2);
    ck_assert_int_eq(results[1].error, LOADGEN_ERR_NONE);
    ck_assert_int_eq(results[1].status, 200);
    ck_assert_uint_gt(results[1].connect_us, 0); /* on the new connection */
    ck_assert_uint_eq(env.stale_retries, 1);
    ck_assert_uint_eq(env.connections_opened, 2);
    ck_assert_int_eq(accepted, 2);
}
END_TEST

/* Without --retry-stale the same request fails; and a request on a new
 * connection is never sent twice, whatever the server does. */
START_TEST(test_loadgen_conn_stale_keepalive_fails_without_retry)
{
    reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    close_second = 1;
    loadgen_conn_start(&conn, 0, 0);
    run_until_done(1);
    loadgen_conn_start(&conn, 1, 0);
    run_until_done(2);
    ck_assert_int_ne(results[1].error, LOADGEN_ERR_NONE);
    ck_assert_uint_eq(env.stale_retries, 0);
    env.retry_stale = 1;
    reply = NULL;
    close_after = 1; /* reads the request, closes without a word */
    loadgen_conn_start(&conn, 2, 0);
    run_until_done(3);
    ck_assert_int_ne(results[2].error, LOADGEN_ERR_NONE);
    ck_assert_uint_eq(env.stale_retries, 0);
    ck_assert_uint_eq(env.connections_opened, 2);
}
END_TEST

START_TEST(test_loadgen_conn_connection_close_is_honoured)
{
    reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    loadgen_conn_start(&conn, 0, 0);
    run_until_done(1);
    ck_assert_int_eq(results[0].error, LOADGEN_ERR_NONE);
    ck_assert_int_eq(conn.state, LOADGEN_CONN_CLOSED);
    loadgen_conn_start(&conn, 1, 0);
    run_until_done(2);
    ck_assert_uint_eq(env.connections_opened, 2);
}
END_TEST

START_TEST(test_loadgen_conn_bytes_past_the_response_stop_reuse)
{
    reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n";
    loadgen_conn_start(&conn, 0, 0);
    run_until_done(1);
    ck_assert_int_eq(results[0].error, LOADGEN_ERR_NONE);
    ck_assert_int_eq(conn.state, LOADGEN_CONN_CLOSED);
}
END_TEST

START_TEST(test_loadgen_conn_refused_is_reported_from_the_loop)
{
    event_free(accept_ev);
    accept_ev = NULL;
    close(listen_fd);
    listen_fd = -1;
    loadgen_conn_start(&conn, 0, 0);
    ck_assert_int_eq(nresults, 0); /* not from inside start */
    run_until_done(1);
    ck_assert_int_eq(results[0].error, LOADGEN_ERR_CONNECT);
    ck_assert_int_eq(results[0].complete, 0);
    ck_assert_int_eq(conn.state, LOADGEN_CONN_CLOSED);
}
END_TEST

START_TEST(test_loadgen_conn_immediate_failure_is_deferred)
{
    struct loadgen_source bad;
    struct addr a;
    char err[64];
    ck_assert_int_eq(addr_parse("192.0.2.1", 0, &a, err, sizeof(err)), 0);
    loadgen_source_bound(&bad, &a); /* not an address of this host: bind fails at once */
    struct loadgen_conn c2;
    loadgen_conn_init(&c2, &env, NULL, &bad, 1, 1);
    loadgen_conn_start(&c2, 0, 0);
    ck_assert_int_eq(nresults, 0);
    run_until_done(1);
    ck_assert_int_eq(results[0].error, LOADGEN_ERR_CONNECT);
    loadgen_conn_release(&c2);
}
END_TEST

START_TEST(test_loadgen_conn_silence_times_out)
{
    reply = NULL;
    loadgen_conn_start(&conn, 0, 0);
    struct timeval t = {0, 100000};
    event_base_loopexit(base, &t);
    event_base_dispatch(base); /* connected, request sent, nothing back */
    ck_assert_int_eq(nresults, 0);
    ck_assert_int_eq(loadgen_conn_check_timeout(&conn, loadgen_now_us()), 0);
    ck_assert_int_eq(loadgen_conn_check_timeout(&conn, loadgen_now_us() + env.timeout_us), 1);
    ck_assert_int_eq(nresults, 1);
    ck_assert_int_eq(results[0].error, LOADGEN_ERR_TIMEOUT);
    ck_assert_int_eq(conn.state, LOADGEN_CONN_CLOSED);
}
END_TEST

START_TEST(test_loadgen_conn_cut_body_is_short)
{
    reply = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this";
    close_after = 1;
    loadgen_conn_start(&conn, 0, 0);
    run_until_done(1);
    ck_assert_int_eq(results[0].error, LOADGEN_ERR_SHORT_BODY);
    ck_assert_int_eq(results[0].status, 200);
    ck_assert_uint_eq(results[0].body_bytes, 9);
}
END_TEST

START_TEST(test_loadgen_conn_open_loop_times_from_intended)
{
    reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    uint64_t intended = loadgen_now_us() - 200000; /* due 200 ms ago */
    loadgen_conn_start(&conn, 0, intended);
    run_until_done(1);
    ck_assert_uint_ge(results[0].total_us, 200000);
    ck_assert_uint_ge(results[0].ts_start_us, results[0].intended_us + 200000);
}
END_TEST

static Suite *loadgen_conn_suite(void)
{
    Suite *s = suite_create("loadgen_conn");
    TCase *tc = tcase_create("conn");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_loadgen_conn_keepalive_reuses_the_socket);
    tcase_add_test(tc, test_loadgen_conn_stale_keepalive_is_retried_once);
    tcase_add_test(tc, test_loadgen_conn_stale_keepalive_fails_without_retry);
    tcase_add_test(tc, test_loadgen_conn_connection_close_is_honoured);
    tcase_add_test(tc, test_loadgen_conn_bytes_past_the_response_stop_reuse);
    tcase_add_test(tc, test_loadgen_conn_refused_is_reported_from_the_loop);
    tcase_add_test(tc, test_loadgen_conn_immediate_failure_is_deferred);
    tcase_add_test(tc, test_loadgen_conn_silence_times_out);
    tcase_add_test(tc, test_loadgen_conn_cut_body_is_short);
    tcase_add_test(tc, test_loadgen_conn_open_loop_times_from_intended);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(loadgen_conn_suite)
