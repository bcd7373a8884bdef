/* Unit tests for loadgen/run.c's measuring window, against a server whose
 * answer time is known: a forked child that answers every request after a
 * fixed delay. With C connections each busy D ms, throughput must be C / D
 * and Little's law must hold. A request in flight when the warm-up ends
 * finishes inside the window and is counted there (before this, the first
 * wave after the warm-up was left out while its time stayed in the window:
 * rps read C / T low, and a --duration run's cut tail took as much again);
 * -n still counts exactly n measured requests; a run whose concurrency
 * decays at the end (a tail) is reported as breaking Little's law. */
#include <check.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <event2/event.h>

#include "../check_main.h"
#include "../../../loadgen/config.h"
#include "../../../common/histogram.h"
#include "../../../loadgen/report.h"
#include "../../../loadgen/run.h"
#include "../../../loadgen/tally.h"

/* The server's answer time: long against the loop's jitter (well under a
 * millisecond), short enough for a second's run to hold ~20 waves. */
#define DELAY_MS 50
#define SERVER_CONNS 64

static pid_t server_pid;
static int server_port;

/* ------------------------------------------------------------ the server */

struct sconn {
    int fd;
    struct event *rev, *timer;
    char buf[2048];
    size_t len;
};

static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nX-Cache: HIT from t1\r\n\r\nx";

static void sconn_close(struct sconn *s)
{
    event_free(s->rev);
    event_free(s->timer);
    close(s->fd);
    free(s);
}

static void on_delay(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct sconn *s = arg;
    if (send(s->fd, reply, sizeof(reply) - 1, MSG_NOSIGNAL) < 0)
        sconn_close(s);
}

static void on_sread(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct sconn *s = arg;
    ssize_t n = recv(fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len, 0);
    if (n <= 0) {
        sconn_close(s);
        return;
    }
    s->len += (size_t)n;
    s->buf[s->len] = '\0';
    char *end = strstr(s->buf, "\r\n\r\n");
    if (!end)
        return;
    /* One request at a time per connection: loadgen never pipelines. */
    s->len = 0;
    struct timeval tv = {0, DELAY_MS * 1000};
    evtimer_add(s->timer, &tv);
}

static void on_saccept(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct event_base *base = arg;
    int c = accept(fd, NULL, NULL);
    if (c < 0)
        return;
    struct sconn *s = calloc(1, sizeof(*s));
    s->fd = c;
    s->rev = event_new(base, c, EV_READ | EV_PERSIST, on_sread, s);
    s->timer = evtimer_new(base, on_delay, s);
    event_add(s->rev, NULL);
}

static void server_start(void)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(lfd, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(lfd, SERVER_CONNS), 0);
    socklen_t len = sizeof(sa);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
    server_port = ntohs(sa.sin_port);
    server_pid = fork();
    ck_assert_int_ge(server_pid, 0);
    if (server_pid == 0) {
        struct event_base *base = event_base_new();
        struct event *ev = event_new(base, lfd, EV_READ | EV_PERSIST, on_saccept, base);
        event_add(ev, NULL);
        alarm(30); /* never outlives a test that lost it */
        event_base_dispatch(base);
        _exit(0);
    }
    close(lfd);
}

static void server_stop(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
    }
    server_pid = 0;
}

/* ------------------------------------------------------------ runs */

static struct loadgen_config cfg;
static struct loadgen_run *run;
static char err[512];

#define RUN(...)                                                                                   \
    ({                                                                                             \
        char url_[64];                                                                             \
        snprintf(url_, sizeof(url_), "http://127.0.0.1:%d/x", server_port);                        \
        char *argv_[] = {"loadgen", url_, "--quiet", "--no-progress", __VA_ARGS__, NULL};          \
        ck_assert_int_eq(loadgen_config_load(&cfg, (int)(sizeof(argv_) / sizeof(argv_[0])) - 1,    \
                                             argv_, err, sizeof(err)),                             \
                         0);                                                                       \
        run = loadgen_run_new(&cfg, err, sizeof(err));                                             \
        ck_assert_msg(run != NULL, "%s", err);                                                     \
        ck_assert_int_eq(loadgen_run_exec(run, err, sizeof(err)), 0);                              \
        loadgen_run_tallies(run);                                                                  \
    })

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    server_start();
}

static void teardown(void)
{
    loadgen_run_free(run);
    run = NULL;
    loadgen_config_free(&cfg);
    server_stop();
}

static double rps_of(const struct loadgen_tallies *ts)
{
    return (double)ts->all.responses / ts->measured_s;
}

START_TEST(test_loadgen_run_window_counts_what_finishes_in_it)
{
    const struct loadgen_tallies *ts = RUN("-c", "8", "--warmup", "200ms", "--duration", "1s");
    ck_assert_uint_eq(loadgen_tally_errors(&ts->all), 0);
    ck_assert(fabs(ts->measured_s - 1.0) < 0.05);
    double mean_s = histogram_mean_us(ts->all.total) / 1e6;
    double rps = rps_of(ts);
    /* Little's law on what was measured: L = rps x W, with L the measured
     * mean in flight (on a busy machine a connection idles a moment between
     * requests, so L is a little under 8; the law holds all the same). The
     * old count (measured = started after the warm-up, the last wave cut)
     * read ~16 requests short of ~155 here: 10% low. Over a finite window
     * the law is off by what straddles its edges, one wave of 8 at most:
     * 8 of ~160 under ASan (a CI run read 4.1% off against a flat 4%). */
    double edge = 8.0 / (double)ts->all.responses;
    ck_assert_msg(fabs(ts->in_flight_mean / mean_s / rps - 1.0) < 0.02 + edge,
                  "%.2f in flight / %.4f s = %.1f req/s vs %.1f measured", ts->in_flight_mean,
                  mean_s, ts->in_flight_mean / mean_s, rps);
    ck_assert_msg(ts->in_flight_mean > 8.0 * 0.85 && ts->in_flight_mean <= 8.0 + 1e-9,
                  "in flight %.2f", ts->in_flight_mean);
    ck_assert_uint_eq(ts->in_flight_target, 8);
    ck_assert(loadgen_report_littles_ok(loadgen_report_littles_ratio(ts)));
    /* The warm-up's own requests: ~4 waves of 8 finished before it ended. */
    ck_assert_uint_ge(ts->warmup_requests, 16);
    /* Cut at the end, never counted: one wave's worth at most. */
    ck_assert_uint_le(ts->unfinished, 8);
}
END_TEST

START_TEST(test_loadgen_run_n_counts_from_the_warmups_end)
{
    /* 4 connections, 50 ms each, warm-up 120 ms: two waves finish inside
     * it; the third (in flight at its end) is the first measured one. */
    const struct loadgen_tallies *ts = RUN("-n", "10", "-c", "4", "--warmup", "120ms");
    ck_assert_uint_eq(ts->all.requests, 10);
    ck_assert_uint_eq(ts->all.responses, 10);
    /* On a busy machine the second wave can end just past 120 ms: then it
     * is the first measured one. Either way the warm-up counts whole waves
     * and the measured 10 start after it. */
    ck_assert_msg(ts->warmup_requests == 8 || ts->warmup_requests == 4, "warm-up %u",
                  (unsigned)ts->warmup_requests);
    /* 10 requests on 4 connections end in 3 waves: 2.5 waves of work in
     * (3 waves - 0.4 of one already past): rps reads 10 / 0.13 s (0.08 s
     * when the second wave was late). */
    ck_assert_msg(ts->measured_s > 0.06 && ts->measured_s < 0.25, "measured %.3f s",
                  ts->measured_s);
}
END_TEST

START_TEST(test_loadgen_run_a_tail_breaks_littles_law)
{
    /* 6 requests on 4 connections: a wave of 4 then 2, so half the second
     * wave's time has 2 in flight, not the 4 the run claims. */
    const struct loadgen_tallies *ts = RUN("-n", "6", "-c", "4");
    ck_assert_uint_eq(ts->all.responses, 6);
    double ratio = loadgen_report_littles_ratio(ts);
    ck_assert_msg(ratio > 1.2, "ratio %.3f", ratio); /* 4 / 0.05 = 80 vs 6 / 0.1 = 60 */
    ck_assert(!loadgen_report_littles_ok(ratio));
    ck_assert_msg(fabs(ts->in_flight_mean - 3.0) < 0.3, "in flight %.2f", ts->in_flight_mean);
}
END_TEST

static Suite *loadgen_run_suite(void)
{
    Suite *s = suite_create("loadgen_run");
    TCase *tc = tcase_create("window");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_loadgen_run_window_counts_what_finishes_in_it);
    tcase_add_test(tc, test_loadgen_run_n_counts_from_the_warmups_end);
    tcase_add_test(tc, test_loadgen_run_a_tail_breaks_littles_law);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(loadgen_run_suite)
