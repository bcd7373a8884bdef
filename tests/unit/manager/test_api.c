/* Unit tests for manager/api.c: a real evhttp server from api_new on
 * 127.0.0.1 (port chosen by the kernel) and real clients (libevent's evhttp
 * client, or a raw socket for the exact bytes and for hanging up early),
 * in front of a scripted pool defined below, so a test decides when and how a
 * change ends and can assert that refused requests never reached the pool. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#include "../../../manager/api.h"
#include "../../../manager/config.h"
#include "../../../manager/instance.h"
#include "../../../manager/pool.h"
#include "../../../manager/scale.h"
#include "../check_main.h"
#include "histogram.h"
#include "log.h"

/* Every exchange must finish well within this; a hang fails the test. */
#define EXCHANGE_TIMEOUT_S 5
#define TOKEN "s3cret-token_0123456789"

static struct event_base *base;
static struct api *api;
static int port;

/* ---- the scripted pool ----
 * api.c sees only pool.h and scale.h: these definitions stand in for pool.c
 * and scale.c in this binary (the linker takes them before looking in
 * libmanager.a, so pool.o and scale.o are never linked), every call the API
 * makes is counted, and every change ends when and how the test says. */

struct pool {
    int desired;
    struct instance slots[POOL_MAX_INSTANCES + 1]; /* by id; id 0 means unused */
    struct histogram *ready_hist;
    uint64_t restarts;
    /* Script */
    int refuse; /* scale_to/scale_restart return this when non-zero */
    char refuse_message[128];
    int hold; /* keep the change until fake_finish (else end after delay_ms) */
    int delay_ms;
    int finish_ok;
    char finish_message[128];
    /* Observed */
    unsigned touched; /* calls of any pool function */
    unsigned changes; /* changes started */
    int last_scale, last_restart;
    scale_done_cb done;
    void *done_ctx;
    int pending_scale;   /* what the pending change will set desired to, or 0 */
    int pending_restart; /* the instance the pending change restarts, or 0 */
};

static struct pool fake;

static void fake_set_instance(int id, enum instance_state state)
{
    struct instance *in = &fake.slots[id];
    memset(in, 0, sizeof(*in));
    in->id = id;
    snprintf(in->name, sizeof(in->name), "pp%d", id);
    in->state = state;
    in->pid = 4000 + id;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(3128 + id))};
    sin.sin_addr.s_addr = htonl(0x7f000001);
    addr_from_sockaddr(&in->address, (struct sockaddr *)&sin, sizeof(sin));
    sin.sin_port = htons((uint16_t)(9128 + id));
    addr_from_sockaddr(&in->admin, (struct sockaddr *)&sin, sizeof(sin));
    in->started_at_ms = INT64_C(1795532645123); /* 2026-11-24T15:04:05.123Z */
    in->ready_ms = state == INSTANCE_READY ? 40 + id : -1;
    in->restarts = (unsigned)id - 1;
}

/* Desired n, instances 1..n ready, the rest of the slots unused. */
static void fake_set_pool(int n)
{
    fake.desired = n;
    for (int id = 1; id <= POOL_MAX_INSTANCES; id++) {
        if (id <= n)
            fake_set_instance(id, INSTANCE_READY);
        else
            memset(&fake.slots[id], 0, sizeof(fake.slots[id]));
    }
}

/* Ends the pending change as scripted, as pool.c does from the loop. */
static void fake_finish(void)
{
    ck_assert_ptr_nonnull(fake.done);
    scale_done_cb done = fake.done;
    void *ctx = fake.done_ctx;
    fake.done = NULL;
    fake.done_ctx = NULL;
    if (fake.finish_ok && fake.pending_scale > 0)
        fake_set_pool(fake.pending_scale);
    if (fake.finish_ok && fake.pending_restart > 0)
        fake.slots[fake.pending_restart].restarts++;
    fake.pending_scale = 0;
    fake.pending_restart = 0;
    done(ctx, fake.finish_ok, fake.finish_ok ? NULL : fake.finish_message);
}

static void on_fake_timer(evutil_socket_t fd, short what, void *arg)
{
    fake_finish();
}

static int fake_start(scale_done_cb done, void *ctx, char *err, size_t errlen)
{
    if (fake.refuse != 0) {
        snprintf(err, errlen, "%s", fake.refuse_message);
        return fake.refuse;
    }
    ck_assert_ptr_null(fake.done); /* the API must not start a second change */
    fake.changes++;
    fake.done = done;
    fake.done_ctx = ctx;
    if (fake.hold) {
        event_base_loopbreak(base); /* let the test look at the pending change */
    } else {
        struct timeval tv = {0, fake.delay_ms * 1000};
        ck_assert_int_eq(event_base_once(base, -1, EV_TIMEOUT, on_fake_timer, NULL, &tv), 0);
    }
    return 0;
}

/* The scale step stands in for the pool's changes: api.c starts them
 * through scale.h, and this one scripts how they end. */
struct scale {
    int unused;
};
static struct scale fake_scale;

int scale_to(struct scale *sc, int n, scale_done_cb done, void *ctx, char *err, size_t errlen)
{
    ck_assert_ptr_eq(sc, &fake_scale);
    struct pool *p = &fake;
    p->touched++;
    p->last_scale = n;
    int rc = fake_start(done, ctx, err, errlen);
    if (rc == 0)
        p->pending_scale = n;
    return rc;
}

int scale_restart(struct scale *sc, int id, scale_done_cb done, void *ctx, char *err, size_t errlen)
{
    ck_assert_ptr_eq(sc, &fake_scale);
    struct pool *p = &fake;
    p->touched++;
    p->last_restart = id;
    int rc = fake_start(done, ctx, err, errlen);
    if (rc == 0)
        p->pending_restart = id;
    return rc;
}

const char *pool_runtime_name(const struct pool *p)
{
    fake.touched++;
    return "process";
}

const char *pool_worker_name(const struct pool *p)
{
    fake.touched++;
    return "proxyd";
}

size_t pool_adopted(const struct pool *p)
{
    (void)p;
    return 0;
}

int pool_desired(const struct pool *p)
{
    fake.touched++;
    return p->desired;
}

size_t pool_ready_count(const struct pool *p)
{
    fake.touched++;
    size_t n = 0;
    for (int id = 1; id <= POOL_MAX_INSTANCES; id++)
        n += p->slots[id].id != 0 && p->slots[id].state == INSTANCE_READY;
    return n;
}

int scale_busy(const struct scale *sc)
{
    fake.touched++;
    return fake.done != NULL;
}

const struct instance *pool_instance(const struct pool *p, int id)
{
    fake.touched++;
    if (id < 1 || id > POOL_MAX_INSTANCES || p->slots[id].id == 0)
        return NULL;
    return &p->slots[id];
}

size_t pool_list(const struct pool *p, const struct instance **out, size_t max)
{
    fake.touched++;
    size_t n = 0;
    for (int id = 1; id <= POOL_MAX_INSTANCES && n < max; id++)
        if (p->slots[id].id != 0)
            out[n++] = &p->slots[id];
    return n;
}

size_t pool_count_state(const struct pool *p, enum instance_state s)
{
    fake.touched++;
    size_t n = 0;
    for (int id = 1; id <= POOL_MAX_INSTANCES; id++)
        n += p->slots[id].id != 0 && p->slots[id].state == s;
    return n;
}

uint64_t pool_restarts_total(const struct pool *p)
{
    fake.touched++;
    return p->restarts;
}

const struct pool_step *pool_last_step(const struct pool *p)
{
    (void)p;
    static const struct pool_step none = {-1, -1, -1, 0, 0};
    return &none;
}

const struct histogram *pool_ready_histogram(const struct pool *p)
{
    fake.touched++;
    return p->ready_hist;
}

/* What steer.c reads of the pool (the API tests set no forwarding mode). */
struct event_base *pool_event_base(const struct pool *p)
{
    (void)p;
    return NULL;
}

const struct runtime_ops *pool_runtime(const struct pool *p)
{
    (void)p;
    return &runtime_process_ops;
}

/* ---- fixture ---- */

static void setup(void)
{
    ck_assert_int_eq(evthread_use_pthreads(), 0); /* raw clients break the loop from a thread */
    log_set_level(LOG_LEVEL_ERROR);
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    memset(&fake, 0, sizeof(fake));
    fake.ready_hist = histogram_new();
    fake.delay_ms = 20;
    fake.finish_ok = 1;
    fake_set_pool(2);
    api = NULL;
}

static void teardown(void)
{
    api_free(api);
    histogram_free(fake.ready_hist);
    event_base_free(base);
}

static void config_for_test(struct manager_config *cfg)
{
    char err[128];
    memset(cfg, 0, sizeof(*cfg));
    ck_assert_int_eq(addr_parse("127.0.0.1:1", -1, &cfg->api, err, sizeof(err)), 0);
    addr_set_port(&cfg->api, 0);
}

/* Writes contents (len bytes) to a fresh temporary file; fills path. */
static void write_temp_file(char *path, size_t pathlen, const char *contents, size_t len)
{
    snprintf(path, pathlen, "/tmp/test_api_token.XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, contents, len), (ssize_t)len);
    close(fd);
}

/* api_token_prepare, then api_new, with the token file holding
 * token_file_contents (NULL: --no-auth). Returns NULL with err filled when
 * either refused; the file is removed before returning (it is read once). */
static struct api *try_start(const char *token_file_contents, size_t len, char *err, size_t errlen)
{
    struct manager_config cfg;
    config_for_test(&cfg);
    cfg.no_auth = token_file_contents == NULL;
    if (token_file_contents != NULL) {
        write_temp_file(cfg.token_file, sizeof(cfg.token_file), token_file_contents, len);
        if (api_token_prepare(&cfg, err, errlen) < 0) {
            unlink(cfg.token_file);
            return NULL;
        }
        unlink(cfg.token_file);
    }
    return api_new(base, &fake, &fake_scale, &cfg, err, errlen);
}

static void start(const char *token_file_contents)
{
    char err[256] = "";
    api =
        try_start(token_file_contents,
                  token_file_contents != NULL ? strlen(token_file_contents) : 0, err, sizeof(err));
    ck_assert_msg(api != NULL, "api_new: %s", err);
    port = api_port(api);
    ck_assert_int_gt(port, 0);
    fake.touched = 0;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    event_base_loopbreak(base);
}

/* Runs the loop until something breaks it or timeout_ms passes. */
static void run_loop_ms(int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    struct event *timeout = evtimer_new(base, on_timeout, NULL);
    evtimer_add(timeout, &tv);
    event_base_dispatch(base);
    event_free(timeout);
}

/* ---- an evhttp client ---- */

struct reply {
    int done;
    int status;
    char allow[128];
    char www_authenticate[128];
    char *body; /* NUL-terminated */
};

static void on_reply(struct evhttp_request *req, void *arg)
{
    struct reply *r = arg;
    r->done = 1;
    event_base_loopbreak(base);
    if (req == NULL || evhttp_request_get_response_code(req) == 0) {
        r->status = -1;
        return;
    }
    r->status = evhttp_request_get_response_code(req);
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *allow = evhttp_find_header(h, "Allow");
    const char *www = evhttp_find_header(h, "WWW-Authenticate");
    snprintf(r->allow, sizeof(r->allow), "%s", allow != NULL ? allow : "");
    snprintf(r->www_authenticate, sizeof(r->www_authenticate), "%s", www != NULL ? www : "");
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    r->body = malloc(len + 1);
    evbuffer_remove(in, r->body, len);
    r->body[len] = '\0';
}

/* Sends one request and waits for its reply. authorization may be NULL. */
static struct reply request_auth(enum evhttp_cmd_type cmd, const char *path, const char *body,
                                 size_t len, const char *authorization)
{
    struct reply r = {0};
    struct evhttp_connection *conn = evhttp_connection_base_new(base, NULL, "127.0.0.1", port);
    ck_assert_ptr_nonnull(conn);
    struct evhttp_request *req = evhttp_request_new(on_reply, &r);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", "127.0.0.1");
    if (authorization != NULL)
        evhttp_add_header(h, "Authorization", authorization);
    if (body != NULL || (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD))
        evhttp_add_header(h, "Content-Type", "application/json");
    if (body != NULL)
        evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
    ck_assert_int_eq(evhttp_make_request(conn, req, cmd, path), 0);
    run_loop_ms(EXCHANGE_TIMEOUT_S * 1000);
    ck_assert_msg(r.done, "no reply to %s within %d s", path, EXCHANGE_TIMEOUT_S);
    evhttp_connection_free(conn);
    return r;
}

static struct reply request(enum evhttp_cmd_type cmd, const char *path, const char *body)
{
    return request_auth(cmd, path, body, body != NULL ? strlen(body) : 0, NULL);
}

static cJSON *parse_body(const struct reply *r)
{
    cJSON *j = cJSON_Parse(r->body);
    ck_assert_msg(j != NULL, "not JSON: %s", r->body);
    return j;
}

/* The reply is {"error": "..."} with this status and message_part in it. */
static void assert_error(struct reply *r, int status, const char *message_part)
{
    ck_assert_msg(r->status == status, "status %d, expected %d: %s", r->status, status, r->body);
    cJSON *j = parse_body(r);
    ck_assert_int_eq(cJSON_GetArraySize(j), 1);
    cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    ck_assert_msg(cJSON_IsString(e), "no error sentence: %s", r->body);
    ck_assert_msg(strstr(e->valuestring, message_part) != NULL, "error \"%s\" lacks \"%s\"",
                  e->valuestring, message_part);
    cJSON_Delete(j);
    free(r->body);
    r->body = NULL;
}

/* PUT /v1/pool with body is refused with status and message, and the pool
 * was not so much as read. */
static void assert_put_refused(const char *body, int status, const char *message_part)
{
    fake.touched = 0;
    struct reply r = request(EVHTTP_REQ_PUT, "/v1/pool", body);
    assert_error(&r, status, message_part);
    ck_assert_msg(fake.touched == 0, "refused PUT %s reached the pool", body);
}

/* ---- a raw socket client ---- */

struct raw {
    const char *request;
    size_t request_len;
    int hang_up_after_ms; /* > 0: close this long after sending, reading nothing */
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
        if (x->hang_up_after_ms > 0) {
            usleep((useconds_t)x->hang_up_after_ms * 1000);
        } else {
            ssize_t n;
            while (x->len < x->cap - 1 &&
                   (n = recv(fd, x->response + x->len, x->cap - 1 - x->len, 0)) > 0)
                x->len += (size_t)n;
        }
    }
    x->response[x->len] = '\0';
    if (fd >= 0)
        close(fd);
    return NULL;
}

static char raw_response[64 * 1024];

static void raw_start(pthread_t *t, struct raw *x, const char *req, int hang_up_after_ms)
{
    *x = (struct raw){req, strlen(req), hang_up_after_ms, raw_response, 0, sizeof(raw_response)};
    ck_assert_int_eq(pthread_create(t, NULL, raw_main, x), 0);
}

/* Sends req (which should say Connection: close) and returns everything
 * received until the server closed. */
static const char *raw_exchange(const char *req)
{
    pthread_t t;
    struct raw x;
    raw_start(&t, &x, req, 0);
    for (int i = 0; i < EXCHANGE_TIMEOUT_S * 100 && pthread_tryjoin_np(t, NULL) == EBUSY; i++)
        run_loop_ms(10);
    return raw_response;
}

/* ---- reads ---- */

START_TEST(test_api_get_pool_lists_instances)
{
    start(NULL);
    fake_set_instance(3, INSTANCE_STARTING);
    struct reply r = request(EVHTTP_REQ_GET, "/v1/pool", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(
        r.body,
        "{\"runtime\":\"process\",\"worker\":\"proxyd\",\"replicas\":2,\"ready\":2,"
        "\"last_step\":{\"ready_ms\":null,\"rules_ms\":null,\"drain_ms\":null,"
        "\"drained\":0,\"cut\":0},\"instances\":["
        "{\"id\":1,\"name\":\"pp1\",\"state\":\"ready\",\"address\":\"127.0.0.1:3129\","
        "\"admin\":\"127.0.0.1:9129\",\"pid\":4001,\"started_at\":\"2026-11-24T15:04:05.123Z\","
        "\"ready_ms\":41,\"restarts\":0,\"last_exit\":null},"
        "{\"id\":2,\"name\":\"pp2\",\"state\":\"ready\",\"address\":\"127.0.0.1:3130\","
        "\"admin\":\"127.0.0.1:9130\",\"pid\":4002,\"started_at\":\"2026-11-24T15:04:05.123Z\","
        "\"ready_ms\":42,\"restarts\":1,\"last_exit\":null},"
        "{\"id\":3,\"name\":\"pp3\",\"state\":\"starting\",\"address\":\"127.0.0.1:3131\","
        "\"admin\":\"127.0.0.1:9131\",\"pid\":4003,\"started_at\":\"2026-11-24T15:04:05.123Z\","
        "\"ready_ms\":null,\"restarts\":2,\"last_exit\":null}]}\n");
    free(r.body);
}
END_TEST

START_TEST(test_api_instance_not_running_has_null_pid_and_times)
{
    start(NULL);
    fake.slots[2].pid = 0;
    fake.slots[2].state = INSTANCE_FAILED;
    fake.slots[2].started_at_ms = 0;
    fake.slots[2].ready_ms = -1;
    struct reply r = request(EVHTTP_REQ_GET, "/v1/pool/instances/2", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"id\":2,\"name\":\"pp2\",\"state\":\"failed\","
                             "\"address\":\"127.0.0.1:3130\",\"admin\":\"127.0.0.1:9130\","
                             "\"pid\":null,\"started_at\":null,\"ready_ms\":null,\"restarts\":1,"
                             "\"last_exit\":null}\n");
    free(r.body);
}
END_TEST

START_TEST(test_api_get_instance_by_id)
{
    start(NULL);
    struct reply r = request(EVHTTP_REQ_GET, "/v1/pool/instances/1", NULL);
    ck_assert_int_eq(r.status, 200);
    cJSON *j = parse_body(&r);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "id")->valueint, 1);
    ck_assert_str_eq(cJSON_GetObjectItem(j, "name")->valuestring, "pp1");
    ck_assert_str_eq(cJSON_GetObjectItem(j, "address")->valuestring, "127.0.0.1:3129");
    cJSON_Delete(j);
    free(r.body);
}
END_TEST

START_TEST(test_api_unknown_instance_is_404)
{
    start(NULL);
    struct reply r = request(EVHTTP_REQ_GET, "/v1/pool/instances/7", NULL);
    assert_error(&r, 404, "no instance 7 in the pool");
    const char *bad[] = {"0", "33", "07", "abc", "1x", "-1", "999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "/v1/pool/instances/%s", bad[i]);
        r = request(EVHTTP_REQ_GET, path, NULL);
        assert_error(&r, 404, "instance ids run from 1 to 32");
    }
}
END_TEST

START_TEST(test_api_unknown_path_is_404)
{
    start(NULL);
    const char *paths[] = {"/v1",
                           "/index.htm",
                           "/status.jsx",
                           "/status/status.js",
                           "/v1/pool/",
                           "/v1/pool/instances",
                           "/v1/pool/instances/",
                           "/v1/pool/instances/1/stop",
                           "/v1/pool/instances/1/restart/x",
                           "/V1/POOL"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct reply r = request(EVHTTP_REQ_GET, paths[i], NULL);
        assert_error(&r, 404, "no endpoint");
    }
}
END_TEST

/* The status page: built in, served with its security headers, GET and
 * HEAD only, its script and style never inline. */
START_TEST(test_api_status_page_served)
{
    start(NULL);
    static const struct {
        const char *path, *type, *start;
    } files[] = {
        {"/", "text/html; charset=utf-8", "<!DOCTYPE html>"},
        {"/index.html", "text/html; charset=utf-8", "<!DOCTYPE html>"},
        {"/status.js", "text/javascript; charset=utf-8", "/* The manager's status page"},
        {"/status.css", "text/css; charset=utf-8", "/* The manager's status page"},
        {"/favicon.svg", "image/svg+xml", "<svg"},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char req[256], type[128];
        snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", files[i].path);
        const char *resp = raw_exchange(req);
        ck_assert_msg(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s: %.200s", files[i].path,
                      resp);
        snprintf(type, sizeof(type), "\r\nContent-Type: %s\r\n", files[i].type);
        ck_assert_msg(strstr(resp, type) != NULL, "%s: no %s", files[i].path, type);
        ck_assert_ptr_nonnull(strstr(resp,
                                     "\r\nContent-Security-Policy: default-src 'none'; "
                                     "script-src 'self'; style-src 'self'; connect-src 'self';"));
        ck_assert_ptr_nonnull(strstr(resp, "\r\nX-Content-Type-Options: nosniff\r\n"));
        ck_assert_ptr_nonnull(strstr(resp, "\r\nCache-Control: no-cache\r\n"));
        const char *body = strstr(resp, "\r\n\r\n");
        ck_assert_ptr_nonnull(body);
        ck_assert_msg(strncmp(body + 4, files[i].start, strlen(files[i].start)) == 0, "%s: %.60s",
                      files[i].path, body + 4);
        if (i == 0) { /* the CSP allows no inline script or style */
            ck_assert_ptr_nonnull(strstr(body, "<script src=\"/status.js\""));
            ck_assert_ptr_null(strstr(body, "<script>"));
            ck_assert_ptr_null(strstr(body, "<style"));
            ck_assert_ptr_null(strstr(body, "style=\""));
        }
    }
    const char *resp =
        raw_exchange("HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    ck_assert_msg(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", resp);
    const char *end = strstr(resp, "\r\n\r\n");
    ck_assert_ptr_nonnull(end);
    ck_assert_msg(end[4] == '\0', "body sent for HEAD: %.60s", end + 4);
    struct reply r = request(EVHTTP_REQ_PUT, "/", "{}");
    assert_error(&r, 405, "not allowed");
    ck_assert_str_eq(r.allow, "GET, HEAD");
    /* A rebound name gets no page either. */
    resp = raw_exchange("GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n");
    ck_assert_msg(strncmp(resp, "HTTP/1.1 421 ", 13) == 0, "%.200s", resp);
}
END_TEST

START_TEST(test_api_head_pool_has_no_body)
{
    start(NULL);
    const char *resp =
        raw_exchange("HEAD /v1/pool HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    ck_assert_msg(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", resp);
    const char *end = strstr(resp, "\r\n\r\n");
    ck_assert_ptr_nonnull(end);
    ck_assert_msg(end[4] == '\0', "body sent for HEAD: %s", end + 4);
}
END_TEST

START_TEST(test_api_query_string_is_ignored)
{
    start(NULL);
    struct reply r = request(EVHTTP_REQ_GET, "/v1/pool?verbose=1", NULL);
    ck_assert_int_eq(r.status, 200);
    free(r.body);
}
END_TEST

START_TEST(test_api_healthz_ok_then_stopping)
{
    start(NULL);
    struct reply r = request(EVHTTP_REQ_GET, "/healthz", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"status\":\"ok\"}\n");
    free(r.body);
    ck_assert_uint_eq(fake.touched, 0);
    api_set_stopping(api);
    r = request(EVHTTP_REQ_GET, "/healthz", NULL);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(r.body, "{\"status\":\"stopping\"}\n");
    free(r.body);
}
END_TEST

/* ---- methods ---- */

START_TEST(test_api_wrong_method_is_405_with_allow)
{
    start(NULL);
    static const struct {
        enum evhttp_cmd_type cmd;
        const char *path, *allow;
    } cases[] = {
        {EVHTTP_REQ_DELETE, "/v1/pool", "GET, HEAD, PUT"},
        {EVHTTP_REQ_POST, "/v1/pool", "GET, HEAD, PUT"},
        {EVHTTP_REQ_PATCH, "/v1/pool", "GET, HEAD, PUT"},
        {EVHTTP_REQ_PUT, "/v1/pool/instances/1", "GET, HEAD"},
        {EVHTTP_REQ_DELETE, "/v1/pool/instances/1", "GET, HEAD"},
        {EVHTTP_REQ_GET, "/v1/pool/instances/1/restart", "POST"},
        {EVHTTP_REQ_PUT, "/v1/pool/instances/1/restart", "POST"},
        {EVHTTP_REQ_POST, "/healthz", "GET, HEAD"},
        {EVHTTP_REQ_PUT, "/metrics", "GET, HEAD"},
        {EVHTTP_REQ_OPTIONS, "/v1/pool", "GET, HEAD, PUT"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum evhttp_cmd_type cmd = cases[i].cmd;
        int has_body = cmd == EVHTTP_REQ_PUT || cmd == EVHTTP_REQ_POST || cmd == EVHTTP_REQ_PATCH;
        struct reply r = request(cmd, cases[i].path, has_body ? "{\"replicas\": 3}" : NULL);
        ck_assert_str_eq(r.allow, cases[i].allow);
        assert_error(&r, 405, "not allowed here");
    }
    ck_assert_uint_eq(fake.touched, 0);
}
END_TEST

/* ---- PUT /v1/pool: refusals before the pool ---- */

START_TEST(test_api_put_invalid_json_is_400)
{
    start(NULL);
    assert_put_refused("{\"replicas\": }", 400, "invalid JSON at byte 13");
    assert_put_refused("{\"replicas\": 3", 400, "invalid JSON");
    assert_put_refused("{\"replicas\": 3} x", 400, "invalid JSON");
    assert_put_refused("", 400, "request body is empty");
}
END_TEST

START_TEST(test_api_put_unknown_field_is_400)
{
    start(NULL);
    assert_put_refused("{\"replicas\": 3, \"runtime\": \"container\"}", 400,
                       "unknown field \"runtime\"");
    assert_put_refused("{\"Replicas\": 3}", 400, "unknown field \"Replicas\"");
}
END_TEST

START_TEST(test_api_put_missing_replicas_is_400)
{
    start(NULL);
    assert_put_refused("{}", 400, "field \"replicas\" is missing");
}
END_TEST

START_TEST(test_api_put_body_not_an_object_is_400)
{
    start(NULL);
    assert_put_refused("[{\"replicas\": 3}]", 400, "must be a JSON object");
    assert_put_refused("3", 400, "must be a JSON object");
    assert_put_refused("null", 400, "must be a JSON object");
}
END_TEST

START_TEST(test_api_put_duplicate_replicas_is_400)
{
    start(NULL);
    assert_put_refused("{\"replicas\": 3, \"replicas\": 4}", 400, "given twice");
}
END_TEST

START_TEST(test_api_put_non_integer_replicas_is_400)
{
    start(NULL);
    assert_put_refused("{\"replicas\": 2.5}", 400, "integer from 1 to 32, not 2.5");
    struct reply r = request(EVHTTP_REQ_PUT, "/v1/pool", "{\"replicas\": 0.1}");
    ck_assert_str_eq(r.body, "{\"error\":\"replicas must be an integer from 1 to 32, not 0.1\"}\n");
    free(r.body);
    assert_put_refused("{\"replicas\": \"2\"}", 400, "not a string");
    assert_put_refused("{\"replicas\": true}", 400, "not true");
    assert_put_refused("{\"replicas\": null}", 400, "not null");
    assert_put_refused("{\"replicas\": [2]}", 400, "not an array");
    assert_put_refused("{\"replicas\": {\"n\": 2}}", 400, "not an object");
    assert_put_refused("{\"replicas\": 1e400}", 400, "integer from 1 to 32");
}
END_TEST

/* Far out of range: the number is checked before any cast (a cast of 1e300
 * to an integer type is undefined; UBSan's float-cast-overflow catches it),
 * and the error says which number it was. */
START_TEST(test_api_put_huge_replicas_is_400_with_the_number)
{
    start(NULL);
    assert_put_refused("{\"replicas\": 1e300}", 400, "integer from 1 to 32, not 1e+300");
    assert_put_refused("{\"replicas\": -1e300}", 400, "integer from 1 to 32, not -1e+300");
    assert_put_refused("{\"replicas\": 1e19}", 400, "integer from 1 to 32, not 1e+19");
    assert_put_refused("{\"replicas\": 4294967297}", 400, "not 4294967297");
}
END_TEST

START_TEST(test_api_put_replicas_out_of_range_is_400)
{
    start(NULL);
    assert_put_refused("{\"replicas\": 0}", 400, "integer from 1 to 32, not 0");
    assert_put_refused("{\"replicas\": 33}", 400, "integer from 1 to 32, not 33");
    assert_put_refused("{\"replicas\": -1}", 400, "not -1");
    assert_put_refused("{\"replicas\": 4294967297}", 400, "not 4294967297");
}
END_TEST

/* A body of len bytes: {"replicas": 3} padded with spaces. */
static char *padded_body(size_t len)
{
    char *body = malloc(len);
    memset(body, ' ', len);
    memcpy(body, "{\"replicas\": 3}", 15);
    return body;
}

START_TEST(test_api_put_oversized_body_is_413)
{
    start(NULL);
    /* Just past the limit, and 2 MB, as a mistaken file would be: both read
     * and answered in the project's format. */
    size_t sizes[] = {API_BODY_MAX + 1, 2000000};
    for (size_t i = 0; i < 2; i++) {
        char *body = padded_body(sizes[i]);
        fake.touched = 0;
        struct reply r = request_auth(EVHTTP_REQ_PUT, "/v1/pool", body, sizes[i], NULL);
        assert_error(&r, 413, "the limit is 65536");
        ck_assert_uint_eq(fake.touched, 0);
        free(body);
    }
}
END_TEST

START_TEST(test_api_put_body_at_the_limit_is_read)
{
    start(NULL);
    char *body = padded_body(API_BODY_MAX);
    struct reply r = request_auth(EVHTTP_REQ_PUT, "/v1/pool", body, API_BODY_MAX, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(fake.last_scale, 3);
    free(r.body);
    free(body);
}
END_TEST

/* ---- tokens ---- */

START_TEST(test_api_write_without_token_is_401)
{
    start(TOKEN "\n");
    fake.touched = 0;
    struct reply r = request(EVHTTP_REQ_PUT, "/v1/pool", "{\"replicas\": 3}");
    ck_assert_str_eq(r.www_authenticate, "Bearer realm=\"proxypool\"");
    assert_error(&r, 401, "changes need an Authorization: Bearer token");
    r = request(EVHTTP_REQ_POST, "/v1/pool/instances/1/restart", NULL);
    assert_error(&r, 401, "Bearer");
    ck_assert_uint_eq(fake.touched, 0);
}
END_TEST

START_TEST(test_api_write_with_wrong_token_is_401)
{
    start(TOKEN "\n");
    const char *bad[] = {
        "Bearer wrong",
        "Bearer " TOKEN "x",              /* longer */
        "Bearer s3cret-token_012345678",  /* a prefix */
        "Bearer S3CRET-TOKEN_0123456789", /* case matters in the token */
        "Basic " TOKEN,                   /* another scheme */
        "Bearer" TOKEN,                   /* no space */
        TOKEN,                            /* no scheme */
        "Bearer ",                        /* empty */
    };
    const char body[] = "{\"replicas\": 3}";
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fake.touched = 0;
        struct reply r = request_auth(EVHTTP_REQ_PUT, "/v1/pool", body, sizeof(body) - 1, bad[i]);
        ck_assert_msg(r.status == 401, "\"%s\" got %d", bad[i], r.status);
        free(r.body);
        ck_assert_uint_eq(fake.touched, 0);
    }
}
END_TEST

START_TEST(test_api_write_with_token_goes_through)
{
    start(TOKEN "\r\n");
    const char body[] = "{\"replicas\": 3}";
    struct reply r =
        request_auth(EVHTTP_REQ_PUT, "/v1/pool", body, sizeof(body) - 1, "Bearer " TOKEN);
    ck_assert_int_eq(r.status, 200);
    free(r.body);
    r = request_auth(EVHTTP_REQ_PUT, "/v1/pool", body, sizeof(body) - 1, "bearer  " TOKEN);
    ck_assert_int_eq(r.status, 200); /* the scheme is case-insensitive (RFC 9110) */
    free(r.body);
    ck_assert_uint_eq(fake.changes, 2);
}
END_TEST

START_TEST(test_api_reads_need_no_token)
{
    start(TOKEN);
    struct reply r = request(EVHTTP_REQ_GET, "/v1/pool", NULL);
    ck_assert_int_eq(r.status, 200);
    free(r.body);
    r = request(EVHTTP_REQ_GET, "/metrics", NULL);
    ck_assert_int_eq(r.status, 200);
    free(r.body);
}
END_TEST

START_TEST(test_api_token_is_checked_before_the_body)
{
    start(TOKEN);
    assert_put_refused("{not json", 401, "Bearer");
}
END_TEST

START_TEST(test_api_new_refuses_bad_token_files)
{
    char err[256];
    ck_assert_ptr_null(try_start("", 0, err, sizeof(err)));
    ck_assert_msg(strstr(err, "is empty") != NULL, "%s", err);
    ck_assert_ptr_null(try_start("\n", 1, err, sizeof(err)));
    ck_assert_msg(strstr(err, "is empty") != NULL, "%s", err);
    ck_assert_ptr_null(try_start("two words\n", 10, err, sizeof(err)));
    ck_assert_msg(strstr(err, "byte at offset 3") != NULL, "%s", err);
    char *big = malloc(APIAUTH_TOKEN_MAX + 1);
    memset(big, 'a', APIAUTH_TOKEN_MAX + 1);
    ck_assert_ptr_null(try_start(big, APIAUTH_TOKEN_MAX + 1, err, sizeof(err)));
    ck_assert_msg(strstr(err, "larger than 4096 bytes") != NULL, "%s", err);
    free(big);

    struct manager_config cfg;
    config_for_test(&cfg);
    snprintf(cfg.token_file, sizeof(cfg.token_file), "/nonexistent/token");
    ck_assert_int_eq(api_token_prepare(&cfg, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "cannot read token file /nonexistent/token: No such file or directory");
}
END_TEST

/* A token others can read is no secret: refused at start, saying so. */
START_TEST(test_api_token_file_readable_by_others_is_refused)
{
    struct manager_config cfg;
    char err[256];
    config_for_test(&cfg);
    write_temp_file(cfg.token_file, sizeof(cfg.token_file), TOKEN "\n", strlen(TOKEN) + 1);
    ck_assert_int_eq(chmod(cfg.token_file, 0644), 0);
    int rc = api_token_prepare(&cfg, err, sizeof(err));
    unlink(cfg.token_file);
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(err, "has mode 0644: group or others may read it") != NULL, "%s", err);
}
END_TEST

/* Without --token-file, the first start writes STATE/api.token (0600, 64
 * hex digits) and a later start reads the same one back. */
START_TEST(test_api_token_is_generated_in_the_state_dir_once)
{
    struct manager_config cfg;
    char err[256], dir[] = "/tmp/test_api_state.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    config_for_test(&cfg);
    snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", dir);
    ck_assert_msg(api_token_prepare(&cfg, err, sizeof(err)) == 0, "%s", err);
    char path[600], first[APIAUTH_TOKEN_MAX + 1];
    snprintf(path, sizeof(path), "%s/api.token", dir);
    ck_assert_str_eq(cfg.token_file, path);
    ck_assert_uint_eq(cfg.token_len, 64);
    ck_assert_uint_eq(strspn(cfg.token, "0123456789abcdef"), 64);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    memcpy(first, cfg.token, cfg.token_len + 1);

    config_for_test(&cfg);
    snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", dir);
    ck_assert_msg(api_token_prepare(&cfg, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(cfg.token, first);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* A browser on a DNS-rebound name sends that name as Host: refused before
 * anything else, for reads too; addresses and localhost pass. */
START_TEST(test_api_foreign_host_is_421)
{
    start(NULL);
    const char *bad[] = {"evil.example",
                         "evil.example:9090",
                         "127.0.0.1.nip.io",
                         "localhost.",
                         "[::1",
                         "127.0.0.1:x",
                         ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char req[256];
        snprintf(req, sizeof(req), "GET /v1/pool HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                 bad[i]);
        const char *out = raw_exchange(req);
        ck_assert_msg(strncmp(out, "HTTP/1.1 421", 12) == 0, "Host '%s': %s", bad[i], out);
        ck_assert_msg(strstr(out, "{\"error\":") != NULL, "Host '%s': %s", bad[i], out);
    }
    const char *good[] = {"127.0.0.1", "127.0.0.1:9090", "localhost:9090",
                          "LOCALHOST", "[::1]:80",       "10.1.2.3"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char req[256];
        snprintf(req, sizeof(req), "GET /v1/pool HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                 good[i]);
        const char *out = raw_exchange(req);
        ck_assert_msg(strncmp(out, "HTTP/1.1 200", 12) == 0, "Host '%s': %s", good[i], out);
    }
    ck_assert_uint_eq(fake.changes, 0);
}
END_TEST

/* A form post (text/plain, urlencoded) or a body-less POST cannot change
 * the pool, even with auth off: a JSON content type is required. */
START_TEST(test_api_write_without_json_content_type_is_415)
{
    start(NULL);
    const char *reqs[] = {
        "PUT /v1/pool HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
        "Content-Length: 15\r\nConnection: close\r\n\r\n{\"replicas\": 2}",
        "PUT /v1/pool HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
        "application/x-www-form-urlencoded\r\nContent-Length: 15\r\nConnection: "
        "close\r\n\r\n{\"replicas\": 2}",
        "POST /v1/pool/instances/1/restart HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: "
        "0\r\nConnection: close\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        const char *out = raw_exchange(reqs[i]);
        ck_assert_msg(strncmp(out, "HTTP/1.1 415", 12) == 0, "request %zu: %s", i, out);
        ck_assert_msg(strstr(out, "Content-Type: application/json") != NULL, "%s", out);
    }
    ck_assert_uint_eq(fake.changes, 0);
    ck_assert_uint_eq(fake.touched, 0);
}
END_TEST

START_TEST(test_api_new_reports_address_in_use)
{
    start(NULL);
    struct manager_config cfg;
    config_for_test(&cfg);
    cfg.no_auth = 1;
    addr_set_port(&cfg.api, port);
    char err[256];
    ck_assert_ptr_null(api_new(base, &fake, &fake_scale, &cfg, err, sizeof(err)));
    ck_assert_msg(strstr(err, "cannot listen on 127.0.0.1:") != NULL &&
                      strstr(err, "Address already in use") != NULL,
                  "%s", err);
}
END_TEST

/* ---- stopping ---- */

START_TEST(test_api_write_while_stopping_is_503)
{
    start(NULL);
    api_set_stopping(api);
    assert_put_refused("{\"replicas\": 3}", 503, "shutting down");
    fake.touched = 0;
    struct reply r = request(EVHTTP_REQ_POST, "/v1/pool/instances/1/restart", NULL);
    assert_error(&r, 503, "shutting down");
    ck_assert_uint_eq(fake.touched, 0);
    r = request(EVHTTP_REQ_GET, "/v1/pool", NULL); /* reads still answer */
    ck_assert_int_eq(r.status, 200);
    free(r.body);
}
END_TEST

/* ---- changes ---- */

START_TEST(test_api_put_answers_with_the_new_pool_when_done)
{
    start(NULL);
    fake.delay_ms = 200;
    struct reply r = request(EVHTTP_REQ_PUT, "/v1/pool", "{\"replicas\": 4}");
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(fake.last_scale, 4);
    ck_assert_ptr_null(fake.done); /* answered only after the pool said done */
    cJSON *j = parse_body(&r);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "replicas")->valueint, 4);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "ready")->valueint, 4);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "instances")), 4);
    cJSON_Delete(j);
    free(r.body);
}
END_TEST

START_TEST(test_api_put_accepts_integral_float)
{
    start(NULL);
    struct reply r = request(EVHTTP_REQ_PUT, "/v1/pool", "{\"replicas\": 3.0}");
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(fake.last_scale, 3);
    free(r.body);
    r = request(EVHTTP_REQ_PUT, "/v1/pool", "{\"replicas\": 32}");
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(fake.last_scale, 32);
    free(r.body);
    r = request(EVHTTP_REQ_PUT, "/v1/pool", "{\"replicas\": 1}");
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(fake.last_scale, 1);
    free(r.body);
}
END_TEST

START_TEST(test_api_put_failure_is_500_with_what_failed)
{
    start(NULL);
    fake.finish_ok = 0;
    snprintf(fake.finish_message, sizeof(fake.finish_message),
             "instance 3 did not answer /healthz within 10 s");
    struct reply r = request(EVHTTP_REQ_PUT, "/v1/pool", "{\"replicas\": 3}");
    assert_error(&r, 500, "instance 3 did not answer /healthz within 10 s");
}
END_TEST

START_TEST(test_api_put_while_busy_is_409)
{
    start(NULL);
    fake.refuse = SCALE_ERR_BUSY;
    snprintf(fake.refuse_message, sizeof(fake.refuse_message),
             "a scale to 8 is running; try again when it ends");
    struct reply r = request(EVHTTP_REQ_PUT, "/v1/pool", "{\"replicas\": 3}");
    assert_error(&r, 409, "a scale to 8 is running");
    ck_assert_int_eq(fake.desired, 2);
    r = request(EVHTTP_REQ_POST, "/v1/pool/instances/1/restart", NULL);
    assert_error(&r, 409, "a scale to 8 is running");
    ck_assert_uint_eq(fake.changes, 0);
}
END_TEST

START_TEST(test_api_second_put_during_a_change_is_409)
{
    start(NULL);
    fake.hold = 1;
    struct reply first = {0};
    struct evhttp_connection *conn = evhttp_connection_base_new(base, NULL, "127.0.0.1", port);
    struct evhttp_request *req = evhttp_request_new(on_reply, &first);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evbuffer_add_printf(evhttp_request_get_output_buffer(req), "{\"replicas\": 5}");
    ck_assert_int_eq(evhttp_make_request(conn, req, EVHTTP_REQ_PUT, "/v1/pool"), 0);
    run_loop_ms(EXCHANGE_TIMEOUT_S * 1000); /* until the pool holds the change */
    ck_assert_ptr_nonnull(fake.done);
    ck_assert(!first.done);

    /* As pool.c does while a change runs. */
    fake.refuse = SCALE_ERR_BUSY;
    snprintf(fake.refuse_message, sizeof(fake.refuse_message), "a change is running");
    struct reply r = request(EVHTTP_REQ_PUT, "/v1/pool", "{\"replicas\": 3}");
    assert_error(&r, 409, "a change is running");

    fake_finish();
    run_loop_ms(EXCHANGE_TIMEOUT_S * 1000);
    ck_assert(first.done);
    ck_assert_int_eq(first.status, 200);
    ck_assert_int_eq(fake.desired, 5);
    free(first.body);
    evhttp_connection_free(conn);
}
END_TEST

START_TEST(test_api_pool_range_refusal_is_400)
{
    start(NULL);
    fake.refuse = SCALE_ERR_RANGE;
    snprintf(fake.refuse_message, sizeof(fake.refuse_message), "the pool takes 1 to 16 here");
    struct reply r = request(EVHTTP_REQ_PUT, "/v1/pool", "{\"replicas\": 20}");
    assert_error(&r, 400, "the pool takes 1 to 16 here");
}
END_TEST

START_TEST(test_api_pool_stopping_refusal_is_503)
{
    start(NULL);
    fake.refuse = SCALE_ERR_STOPPING;
    struct reply r = request(EVHTTP_REQ_PUT, "/v1/pool", "{\"replicas\": 3}");
    assert_error(&r, 503, "shutting down"); /* the pool gave no message: ours */
}
END_TEST

START_TEST(test_api_restart_answers_with_the_instance)
{
    start(NULL);
    struct reply r = request(EVHTTP_REQ_POST, "/v1/pool/instances/2/restart", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(fake.last_restart, 2);
    cJSON *j = parse_body(&r);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "id")->valueint, 2);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "restarts")->valueint, 2);
    cJSON_Delete(j);
    free(r.body);
    r = request(EVHTTP_REQ_POST, "/v1/pool/instances/2/restart", "{}");
    ck_assert_int_eq(r.status, 200);
    free(r.body);
}
END_TEST

START_TEST(test_api_restart_of_unknown_instance_is_404)
{
    start(NULL);
    struct reply r = request(EVHTTP_REQ_POST, "/v1/pool/instances/9/restart", NULL);
    assert_error(&r, 404, "no instance 9 in the pool");
    r = request(EVHTTP_REQ_POST, "/v1/pool/instances/x/restart", NULL);
    assert_error(&r, 404, "no instance \"x\"");
    ck_assert_uint_eq(fake.changes, 0);
}
END_TEST

START_TEST(test_api_restart_with_fields_is_400)
{
    start(NULL);
    fake.touched = 0;
    struct reply r = request(EVHTTP_REQ_POST, "/v1/pool/instances/1/restart", "{\"force\": true}");
    assert_error(&r, 400, "unknown field \"force\"");
    r = request(EVHTTP_REQ_POST, "/v1/pool/instances/1/restart", "[]");
    assert_error(&r, 400, "must be empty or {}");
    r = request(EVHTTP_REQ_POST, "/v1/pool/instances/1/restart", "{");
    assert_error(&r, 400, "invalid JSON");
    ck_assert_uint_eq(fake.touched, 0);
}
END_TEST

/* The client hangs up while its change runs; the change's end must not
 * touch the freed request (run under make asan), and the API keeps serving. */
START_TEST(test_api_client_hanging_up_while_waiting_is_safe)
{
    start(NULL);
    fake.delay_ms = 300;
    pthread_t t;
    struct raw x;
    raw_start(&t, &x,
              "PUT /v1/pool HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              "Content-Length: 15\r\n\r\n{\"replicas\": 6}",
              50);
    for (int i = 0; i < 100 && fake.changes == 0; i++)
        run_loop_ms(10);
    ck_assert_uint_eq(fake.changes, 1);
    pthread_join(t, NULL); /* hung up */
    for (int i = 0; i < 100 && fake.done != NULL; i++)
        run_loop_ms(10);
    ck_assert_ptr_null(fake.done);
    run_loop_ms(100); /* evhttp meets the closed socket */
    ck_assert_int_eq(fake.desired, 6);

    struct reply r = request(EVHTTP_REQ_GET, "/v1/pool", NULL);
    ck_assert_int_eq(r.status, 200);
    free(r.body);
}
END_TEST

/* api_free while a change runs: the pool still calls done later, which must
 * find its record detached rather than freed. */
START_TEST(test_api_free_while_waiting_is_safe)
{
    start(NULL);
    fake.hold = 1;
    struct reply first = {0};
    struct evhttp_connection *conn = evhttp_connection_base_new(base, NULL, "127.0.0.1", port);
    struct evhttp_request *req = evhttp_request_new(on_reply, &first);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evbuffer_add_printf(evhttp_request_get_output_buffer(req), "{\"replicas\": 5}");
    ck_assert_int_eq(evhttp_make_request(conn, req, EVHTTP_REQ_PUT, "/v1/pool"), 0);
    run_loop_ms(EXCHANGE_TIMEOUT_S * 1000);
    ck_assert_ptr_nonnull(fake.done);

    api_free(api);
    api = NULL;
    fake_finish();
    run_loop_ms(EXCHANGE_TIMEOUT_S * 1000); /* the client sees its connection close */
    ck_assert(first.done);
    ck_assert_int_eq(first.status, -1);
    evhttp_connection_free(conn);
}
END_TEST

/* ---- metrics ---- */

static void assert_has_line(const char *text, const char *line)
{
    char want[512];
    snprintf(want, sizeof(want), "\n%s\n", line);
    ck_assert_msg(strstr(text, want) != NULL, "no line \"%s\" in:\n%s", line, text);
}

START_TEST(test_api_metrics_report_the_pool)
{
    start(NULL);
    fake_set_instance(3, INSTANCE_STARTING);
    fake_set_instance(4, INSTANCE_FAILED);
    fake.desired = 4;
    fake.restarts = 7;
    histogram_record(fake.ready_hist, 20000);  /* 20 ms */
    histogram_record(fake.ready_hist, 150000); /* 150 ms */
    struct reply r = request(EVHTTP_REQ_GET, "/metrics", NULL);
    ck_assert_int_eq(r.status, 200);
    assert_has_line(r.body, "manager_replicas_desired 4");
    assert_has_line(r.body, "manager_replicas_ready 2");
    assert_has_line(r.body, "manager_instances{state=\"starting\"} 1");
    assert_has_line(r.body, "manager_instances{state=\"ready\"} 2");
    assert_has_line(r.body, "manager_instances{state=\"draining\"} 0");
    assert_has_line(r.body, "manager_instances{state=\"stopped\"} 0");
    assert_has_line(r.body, "manager_instances{state=\"failed\"} 1");
    assert_has_line(r.body, "# TYPE manager_restarts_total counter");
    assert_has_line(r.body, "manager_restarts_total 7");
    assert_has_line(r.body, "# TYPE manager_instance_ready_seconds histogram");
    assert_has_line(r.body, "manager_instance_ready_seconds_bucket{le=\"0.01\"} 0");
    assert_has_line(r.body, "manager_instance_ready_seconds_bucket{le=\"0.025\"} 1");
    assert_has_line(r.body, "manager_instance_ready_seconds_bucket{le=\"0.25\"} 2");
    assert_has_line(r.body, "manager_instance_ready_seconds_bucket{le=\"+Inf\"} 2");
    assert_has_line(r.body, "manager_instance_ready_seconds_sum 0.17");
    assert_has_line(r.body, "manager_instance_ready_seconds_count 2");
    free(r.body);
}
END_TEST

START_TEST(test_api_metrics_count_requests_by_route_template)
{
    start(NULL);
    struct reply r;
    r = request(EVHTTP_REQ_GET, "/v1/pool/instances/1", NULL);
    free(r.body);
    r = request(EVHTTP_REQ_GET, "/v1/pool/instances/2", NULL);
    free(r.body);
    r = request(EVHTTP_REQ_GET, "/v1/pool/instances/9", NULL);
    free(r.body);
    r = request(EVHTTP_REQ_GET, "/nope/1", NULL);
    free(r.body);
    r = request(EVHTTP_REQ_GET, "/nope/2", NULL);
    free(r.body);
    r = request(EVHTTP_REQ_PUT, "/v1/pool", "{\"replicas\": 3}"); /* answered later */
    free(r.body);
    r = request(EVHTTP_REQ_PUT, "/v1/pool", "{\"replicas\": 99}");
    free(r.body);
    r = request(EVHTTP_REQ_POST, "/v1/pool/instances/1/restart", NULL);
    free(r.body);
    r = request(EVHTTP_REQ_GET, "/metrics", NULL);
    free(r.body);
    r = request(EVHTTP_REQ_GET, "/metrics", NULL);
    ck_assert_int_eq(r.status, 200);
    const char *p = "manager_api_requests_total";
    char line[256];
    snprintf(line, sizeof(line), "%s{path=\"/v1/pool/instances/{id}\",code=\"200\"} 2", p);
    assert_has_line(r.body, line);
    snprintf(line, sizeof(line), "%s{path=\"/v1/pool/instances/{id}\",code=\"404\"} 1", p);
    assert_has_line(r.body, line);
    snprintf(line, sizeof(line), "%s{path=\"other\",code=\"404\"} 2", p);
    assert_has_line(r.body, line);
    snprintf(line, sizeof(line), "%s{path=\"/v1/pool\",code=\"200\"} 1", p);
    assert_has_line(r.body, line);
    snprintf(line, sizeof(line), "%s{path=\"/v1/pool\",code=\"400\"} 1", p);
    assert_has_line(r.body, line);
    snprintf(line, sizeof(line), "%s{path=\"/v1/pool/instances/{id}/restart\",code=\"200\"} 1", p);
    assert_has_line(r.body, line);
    snprintf(line, sizeof(line), "%s{path=\"/metrics\",code=\"200\"} 1", p);
    assert_has_line(r.body, line);
    ck_assert_msg(strstr(r.body, "/nope") == NULL, "raw path in metrics:\n%s", r.body);
    free(r.body);
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("read");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_api_get_pool_lists_instances);
    tcase_add_test(tc, test_api_instance_not_running_has_null_pid_and_times);
    tcase_add_test(tc, test_api_get_instance_by_id);
    tcase_add_test(tc, test_api_unknown_instance_is_404);
    tcase_add_test(tc, test_api_unknown_path_is_404);
    tcase_add_test(tc, test_api_status_page_served);
    tcase_add_test(tc, test_api_head_pool_has_no_body);
    tcase_add_test(tc, test_api_query_string_is_ignored);
    tcase_add_test(tc, test_api_healthz_ok_then_stopping);
    tcase_add_test(tc, test_api_wrong_method_is_405_with_allow);
    suite_add_tcase(s, tc);

    tc = tcase_create("refuse");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_api_put_invalid_json_is_400);
    tcase_add_test(tc, test_api_put_unknown_field_is_400);
    tcase_add_test(tc, test_api_put_missing_replicas_is_400);
    tcase_add_test(tc, test_api_put_body_not_an_object_is_400);
    tcase_add_test(tc, test_api_put_duplicate_replicas_is_400);
    tcase_add_test(tc, test_api_put_non_integer_replicas_is_400);
    tcase_add_test(tc, test_api_put_huge_replicas_is_400_with_the_number);
    tcase_add_test(tc, test_api_put_replicas_out_of_range_is_400);
    tcase_add_test(tc, test_api_put_oversized_body_is_413);
    tcase_add_test(tc, test_api_put_body_at_the_limit_is_read);
    tcase_add_test(tc, test_api_write_while_stopping_is_503);
    tcase_add_test(tc, test_api_restart_with_fields_is_400);
    suite_add_tcase(s, tc);

    tc = tcase_create("token");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_api_write_without_token_is_401);
    tcase_add_test(tc, test_api_write_with_wrong_token_is_401);
    tcase_add_test(tc, test_api_write_with_token_goes_through);
    tcase_add_test(tc, test_api_reads_need_no_token);
    tcase_add_test(tc, test_api_token_is_checked_before_the_body);
    tcase_add_test(tc, test_api_new_refuses_bad_token_files);
    tcase_add_test(tc, test_api_new_reports_address_in_use);
    tcase_add_test(tc, test_api_token_file_readable_by_others_is_refused);
    tcase_add_test(tc, test_api_token_is_generated_in_the_state_dir_once);
    tcase_add_test(tc, test_api_foreign_host_is_421);
    tcase_add_test(tc, test_api_write_without_json_content_type_is_415);
    suite_add_tcase(s, tc);

    tc = tcase_create("change");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_api_put_answers_with_the_new_pool_when_done);
    tcase_add_test(tc, test_api_put_accepts_integral_float);
    tcase_add_test(tc, test_api_put_failure_is_500_with_what_failed);
    tcase_add_test(tc, test_api_put_while_busy_is_409);
    tcase_add_test(tc, test_api_second_put_during_a_change_is_409);
    tcase_add_test(tc, test_api_pool_range_refusal_is_400);
    tcase_add_test(tc, test_api_pool_stopping_refusal_is_503);
    tcase_add_test(tc, test_api_restart_answers_with_the_instance);
    tcase_add_test(tc, test_api_restart_of_unknown_instance_is_404);
    tcase_add_test(tc, test_api_client_hanging_up_while_waiting_is_safe);
    tcase_add_test(tc, test_api_free_while_waiting_is_safe);
    suite_add_tcase(s, tc);

    tc = tcase_create("metrics");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_api_metrics_report_the_pool);
    tcase_add_test(tc, test_api_metrics_count_requests_by_route_template);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(api_suite)
