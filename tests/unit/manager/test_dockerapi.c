/* Unit tests for manager/runtime/dockerapi.c against a fake Engine API on a
 * unix socket (a forked server, one process per connection): blocking calls
 * with their status and body, the daemon's error text, a socket nobody
 * listens on, ten asynchronous calls in flight at once on a libevent loop
 * (their total time shows they overlapped), and a cancelled call whose
 * callback never runs. And docker_common.c's network on the same fake:
 * ours adopted, someone else's refused, a missing one created with the
 * label, the subnet and its gateway (and the bridge's name for a bridge). */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <event2/event.h>

#include "../../../manager/config.h"
#include "../../../manager/runtime/docker_common.h"
#include "../../../manager/runtime/dockerapi.h"
#include "../check_main.h"

/* The fake daemon's answer to /slow comes after this. */
#define SLOW_MS 500
#define NSLOW 10

static char dir[64], sock_path[96];
static pid_t server = -1;

/* One connection: reads the request head (and a Content-Length body),
 * answers by path, closes. */
static void serve_one(int fd)
{
    char req[8192];
    size_t len = 0;
    char *end = NULL;
    while (len < sizeof(req) - 1 && !end) {
        ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);
        if (n <= 0)
            _exit(0);
        len += (size_t)n;
        req[len] = '\0';
        end = strstr(req, "\r\n\r\n");
    }
    const char *cl = strcasestr(req, "Content-Length:");
    size_t want = cl ? (size_t)atoi(cl + 15) : 0;
    size_t have = len - (size_t)(end + 4 - req);
    while (have < want && len < sizeof(req) - 1) {
        ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        have += (size_t)n;
        req[len] = '\0';
    }
    char method[16] = "", path[256] = "";
    sscanf(req, "%15s %255s", method, path);
    int status = 404;
    char body[4096];
    snprintf(body, sizeof(body), "{\"message\":\"no such thing: %s\"}", path);
    if (strcmp(path, "/v1.41/_ping") == 0) {
        status = 200;
        snprintf(body, sizeof(body), "OK");
    } else if (strcmp(path, "/v1.41/echo") == 0) {
        status = 200;
        snprintf(body, sizeof(body), "%s %s", method, end + 4);
    } else if (strcmp(path, "/v1.41/networks/ours") == 0) {
        status = 200;
        snprintf(body, sizeof(body),
                 "{\"Name\":\"ours\",\"Labels\":{\"proxypool.prefix\":\"t1\"}}");
    } else if (strcmp(path, "/v1.41/networks/theirs") == 0) {
        status = 200;
        snprintf(body, sizeof(body), "{\"Name\":\"theirs\",\"Labels\":{}}");
    } else if (strcmp(path, "/v1.41/networks/create") == 0 && strcmp(method, "POST") == 0) {
        /* The body is kept for the test to read. */
        char saved[160];
        snprintf(saved, sizeof(saved), "%s/created.json", dir);
        FILE *f = fopen(saved, "w");
        if (f) {
            fputs(end + 4, f);
            fclose(f);
        }
        status = 201;
        snprintf(body, sizeof(body), "{\"Id\":\"n1\"}");
    } else if (strcmp(path, "/v1.41/slow") == 0) {
        struct timespec ts = {0, SLOW_MS * 1000000L};
        nanosleep(&ts, NULL);
        status = 201;
        snprintf(body, sizeof(body), "{\"Id\":\"abc\"}");
    }
    dprintf(fd,
            "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
            "Connection: close\r\n\r\n%s",
            status, strlen(body), body);
    _exit(0);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/test_dockerapi.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(sock_path, sizeof(sock_path), "%s/docker.sock", dir);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    ck_assert_int_eq(listen(fd, 64), 0);
    server = fork();
    ck_assert_int_ge(server, 0);
    if (server == 0) {
        signal(SIGCHLD, SIG_IGN); /* connection children reap themselves */
        for (;;) {
            int c = accept(fd, NULL, NULL);
            if (c < 0)
                continue;
            if (fork() == 0) {
                close(fd);
                serve_one(c);
            }
            close(c);
        }
    }
    close(fd);
}

static void teardown(void)
{
    if (server > 0) {
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_dockerapi_blocking_calls)
{
    char err[256];
    struct dockerapi *api = dockerapi_new(NULL, sock_path, err, sizeof(err));
    ck_assert_msg(api != NULL, "%s", err);
    long status = 0;
    char *body = NULL;
    ck_assert_int_eq(
        dockerapi_call(api, "GET", "/_ping", NULL, 5000, &status, &body, err, sizeof(err)), 0);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(body, "OK");
    free(body);
    ck_assert_int_eq(
        dockerapi_call(api, "POST", "/echo", "{\"a\":1}", 5000, &status, &body, err, sizeof(err)),
        0);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(body, "POST {\"a\":1}");
    free(body);
    ck_assert_int_eq(
        dockerapi_call(api, "DELETE", "/echo", NULL, 5000, &status, &body, err, sizeof(err)), 0);
    ck_assert_str_eq(body, "DELETE ");
    free(body);
    ck_assert_int_eq(dockerapi_call(api, "GET", "/containers/x/json", NULL, 5000, &status, &body,
                                    err, sizeof(err)),
                     0);
    ck_assert_int_eq(status, 404);
    char text[128];
    dockerapi_error_text(body, text, sizeof(text));
    ck_assert_str_eq(text, "no such thing: /v1.41/containers/x/json");
    free(body);
    dockerapi_free(api);
}
END_TEST

START_TEST(test_dockerapi_refused_says_where)
{
    char err[256], path[160];
    snprintf(path, sizeof(path), "%s/nobody.sock", dir);
    struct dockerapi *api = dockerapi_new(NULL, path, err, sizeof(err));
    ck_assert_ptr_nonnull(api);
    long status = 0;
    char *body = NULL;
    ck_assert_int_eq(
        dockerapi_call(api, "GET", "/_ping", NULL, 2000, &status, &body, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, path) != NULL, "error does not name the socket: %s", err);
    dockerapi_free(api);
    char longpath[200];
    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    ck_assert_ptr_null(dockerapi_new(NULL, longpath, err, sizeof(err)));
    ck_assert_msg(strstr(err, "longer than") != NULL, "%s", err);
}
END_TEST

struct tally {
    int done, ok;
    struct event_base *base;
};

static void count_reply(void *ctx, long status, const char *body, size_t len, const char *err)
{
    struct tally *t = ctx;
    (void)err;
    ck_assert_uint_eq(len, strlen(body));
    t->done++;
    if (status == 201 && strcmp(body, "{\"Id\":\"abc\"}") == 0)
        t->ok++;
    if (t->done == NSLOW)
        event_base_loopbreak(t->base);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(test_dockerapi_async_calls_overlap)
{
    char err[256];
    struct event_base *base = event_base_new();
    struct dockerapi *api = dockerapi_new(base, sock_path, err, sizeof(err));
    ck_assert_msg(api != NULL, "%s", err);
    struct tally t = {0, 0, base};
    double t0 = now_s();
    for (int i = 0; i < NSLOW; i++)
        ck_assert_int_eq(
            dockerapi_start(api, "POST", "/slow", "{}", 10000, count_reply, &t, err, sizeof(err)),
            0);
    ck_assert_uint_eq(dockerapi_in_flight(api), NSLOW);
    ck_assert_int_eq(t.done, 0); /* never called from start */
    struct timeval limit = {20, 0};
    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
    double took = now_s() - t0;
    ck_assert_int_eq(t.done, NSLOW);
    ck_assert_int_eq(t.ok, NSLOW);
    ck_assert_uint_eq(dockerapi_in_flight(api), 0);
    /* One after another they take NSLOW x SLOW_MS = 5 s. */
    ck_assert_msg(took < NSLOW * SLOW_MS / 1000.0 * 0.8, "%d calls took %.2f s: not concurrent",
                  NSLOW, took);
    dockerapi_free(api);
    event_base_free(base);
}
END_TEST

static void must_not_run(void *ctx, long status, const char *body, size_t len, const char *err)
{
    (void)status;
    (void)body;
    (void)len;
    (void)err;
    *(int *)ctx = 1;
}

START_TEST(test_dockerapi_cancel_and_free_drop_calls_uncalled)
{
    char err[256];
    struct event_base *base = event_base_new();
    struct dockerapi *api = dockerapi_new(base, sock_path, err, sizeof(err));
    ck_assert_ptr_nonnull(api);
    int called = 0;
    ck_assert_int_eq(
        dockerapi_start(api, "POST", "/slow", NULL, 10000, must_not_run, &called, err, sizeof(err)),
        0);
    dockerapi_cancel(api, &called);
    ck_assert_uint_eq(dockerapi_in_flight(api), 0);
    struct timeval limit = {0, (SLOW_MS + 300) * 1000};
    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
    ck_assert_int_eq(called, 0); /* its reply came, and went nowhere */
    /* An owned ctx is freed with a call dropped in flight (ASan would see
     * a leak otherwise). */
    char *owned = strdup("name");
    ck_assert_int_eq(dockerapi_start_owned(api, "POST", "/slow", NULL, 10000, must_not_run, owned,
                                           err, sizeof(err)),
                     0);
    struct timeval brief = {0, 100 * 1000};
    event_base_loopexit(base, &brief);
    event_base_dispatch(base);
    ck_assert_uint_eq(dockerapi_in_flight(api), 1);
    dockerapi_free(api);
    event_base_free(base);
}
END_TEST

static void network_config(struct manager_config *cfg, const char *bridge)
{
    char err[128];
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->bridge, sizeof(cfg->bridge), "%s", bridge);
    snprintf(cfg->prefix, sizeof(cfg->prefix), "t1");
    snprintf(cfg->docker_socket, sizeof(cfg->docker_socket), "%s", sock_path);
    ck_assert_int_eq(cidr_parse("198.19.0.0/24", &cfg->subnet, err, sizeof(err)), 0);
}

/* The body the fake daemon was sent to create a network, parsed. */
static cJSON *created_body(void)
{
    char path[160], text[2048] = "";
    snprintf(path, sizeof(path), "%s/created.json", dir);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    cJSON *j = cJSON_Parse(text);
    ck_assert_msg(j != NULL, "not JSON: %s", text);
    return j;
}

START_TEST(test_docker_network_ensure_adopts_refuses_creates)
{
    char err[256];
    struct dockerapi *api = dockerapi_new(NULL, sock_path, err, sizeof(err));
    ck_assert_msg(api != NULL, "%s", err);
    struct manager_config cfg;
    network_config(&cfg, "ours");
    ck_assert_int_eq(docker_network_ensure(api, &cfg, "bridge", "docker", err, sizeof(err)), 0);
    network_config(&cfg, "theirs");
    ck_assert_int_eq(docker_network_ensure(api, &cfg, "bridge", "docker", err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "not labelled proxypool.prefix=t1") != NULL, "%s", err);

    network_config(&cfg, "fresh");
    ck_assert_int_eq(docker_network_ensure(api, &cfg, "bridge", "docker", err, sizeof(err)), 0);
    cJSON *j = created_body();
    ck_assert_str_eq(cJSON_GetObjectItem(j, "Name")->valuestring, "fresh");
    ck_assert_str_eq(cJSON_GetObjectItem(j, "Driver")->valuestring, "bridge");
    ck_assert_str_eq(docker_label_of(j, DOCKER_LABEL_PREFIX), "t1");
    const cJSON *pool =
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "IPAM"), "Config"), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(pool, "Subnet")->valuestring, "198.19.0.0/24");
    ck_assert_str_eq(cJSON_GetObjectItem(pool, "Gateway")->valuestring, "198.19.0.1");
    ck_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "Options"), "com.docker.network.bridge.name")
            ->valuestring,
        "fresh");
    cJSON_Delete(j);

    ck_assert_int_eq(docker_network_ensure(api, &cfg, "overlay", "swarm", err, sizeof(err)), 0);
    j = created_body();
    ck_assert_str_eq(cJSON_GetObjectItem(j, "Driver")->valuestring, "overlay");
    ck_assert_ptr_null(cJSON_GetObjectItem(j, "Options")); /* no Linux bridge to name */
    cJSON_Delete(j);
    dockerapi_free(api);
}
END_TEST

/* A service's labels are under Spec; a container's and a network's at the top. */
START_TEST(test_docker_label_of_reads_both_places)
{
    cJSON *svc = cJSON_Parse("{\"Spec\":{\"Labels\":{\"k\":\"s\"}},\"Labels\":{\"k\":\"top\"}}");
    cJSON *net = cJSON_Parse("{\"Labels\":{\"k\":\"n\",\"i\":1}}");
    ck_assert_str_eq(docker_label_of(svc, "k"), "s");
    ck_assert_str_eq(docker_label_of(net, "k"), "n");
    ck_assert_ptr_null(docker_label_of(net, "i")); /* not a string */
    ck_assert_ptr_null(docker_label_of(net, "missing"));
    cJSON_Delete(svc);
    cJSON_Delete(net);
}
END_TEST

static Suite *dockerapi_suite(void)
{
    Suite *s = suite_create("dockerapi");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_dockerapi_blocking_calls);
    tcase_add_test(tc, test_dockerapi_refused_says_where);
    tcase_add_test(tc, test_dockerapi_async_calls_overlap);
    tcase_add_test(tc, test_dockerapi_cancel_and_free_drop_calls_uncalled);
    tcase_add_test(tc, test_docker_network_ensure_adopts_refuses_creates);
    tcase_add_test(tc, test_docker_label_of_reads_both_places);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(dockerapi_suite)
