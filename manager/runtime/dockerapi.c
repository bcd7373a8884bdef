/* The Docker Engine API over its unix socket with libcurl (CURLOPT_UNIX_
 * SOCKET_PATH): asynchronous calls through one multi handle whose sockets
 * and timer are libevent events of the manager's loop (curl's
 * multi_socket_action pattern), and blocking calls through an easy handle
 * for before and after the loop. docs/docker.md says why libcurl. */
#include "dockerapi.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <event2/event.h>

#define DOCKERAPI_MAGIC 0x64617069u  /* "dapi" */
#define DOCKERCALL_MAGIC 0x64636c6cu /* "dcll" */
/* A reply larger than this is cut off (an inspect is a few KiB; a list of
 * a few hundred containers stays far below). */
#define DOCKERAPI_BODY_MAX (4 * 1024 * 1024)

struct dockercall {
    unsigned magic;
    struct dockerapi *api;
    CURL *easy;
    struct curl_slist *headers;
    char *request; /* the body sent, owned here (curl does not copy it) */
    char *reply;
    size_t len, cap;
    int too_large;
    char curl_err[CURL_ERROR_SIZE];
    dockerapi_cb cb;
    void *ctx;
    int owns_ctx; /* ctx is freed with the call when it is dropped uncalled */
    struct dockercall *next;
};

struct dockerapi {
    unsigned magic;
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    char socket_path[DOCKERAPI_SOCKET_MAX + 1];
    struct dockercall *calls; /* in flight */
    size_t ncalls;
};

/* One per socket curl watches (curl_multi_assign'd to it). */
struct dockersock {
    struct event *ev;
    struct dockerapi *api;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    struct dockercall *c = arg;
    size_t n = size * nmemb;
    if (c->len + n > DOCKERAPI_BODY_MAX) {
        c->too_large = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + n + 1)
            cap *= 2;
        char *p = realloc(c->reply, cap);
        if (!p)
            return 0;
        c->reply = p;
        c->cap = cap;
    }
    memcpy(c->reply + c->len, data, n);
    c->len += n;
    c->reply[c->len] = '\0';
    return n;
}

static void call_free(struct dockercall *c)
{
    if (!c)
        return;
    if (c->owns_ctx)
        free(c->ctx);
    if (c->easy)
        curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
    free(c->request);
    free(c->reply);
    c->magic = 0;
    free(c);
}

static struct dockercall *call_new(struct dockerapi *api, const char *method, const char *path,
                                   const char *json, int timeout_ms, char *err, size_t errlen)
{
    struct dockercall *c = calloc(1, sizeof(*c));
    char url[1024];
    int n = snprintf(url, sizeof(url), "http://docker/" DOCKERAPI_VERSION "%s", path);
    if (!c || n < 0 || (size_t)n >= sizeof(url) || !(c->easy = curl_easy_init())) {
        snprintf(err, errlen, "%s", c ? "request path too long or out of memory" : "out of memory");
        call_free(c);
        return NULL;
    }
    c->magic = DOCKERCALL_MAGIC;
    c->api = api;
    CURL *e = c->easy;
    curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, api->socket_path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(e, CURLOPT_PRIVATE, c);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "proxypool-manager");
    /* No "Expect: 100-continue" round trip before a body. */
    c->headers = curl_slist_append(NULL, "Expect:");
    if (json)
        c->headers = curl_slist_append(c->headers, "Content-Type: application/json");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    if (strcmp(method, "POST") == 0) {
        c->request = strdup(json ? json : "");
        if (!c->request) {
            snprintf(err, errlen, "out of memory");
            call_free(c);
            return NULL;
        }
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->request);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(c->request));
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    }
    return c;
}

/* How call c ended: its status (or -1 with err) and its body. */
static long call_result(struct dockercall *c, CURLcode rc, char *err, size_t errlen)
{
    long status = -1;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
        if (!c->reply)
            c->reply = strdup("");
        if (!c->reply) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        return status;
    }
    if (c->too_large)
        snprintf(err, errlen, "reply larger than %d bytes", DOCKERAPI_BODY_MAX);
    else
        snprintf(err, errlen, "%s on %s", c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc),
                 c->api->socket_path);
    return -1;
}

static void unlink_call(struct dockerapi *api, struct dockercall *c)
{
    for (struct dockercall **pp = &api->calls; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            api->ncalls--;
            return;
        }
    }
}

/* Every finished transfer: taken off the multi handle and its list before
 * its callback runs, so the callback may start or cancel others. */
static void check_done(struct dockerapi *api)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(api->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct dockercall *c = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        assert(c && c->magic == DOCKERCALL_MAGIC);
        CURLcode rc = m->data.result;
        curl_multi_remove_handle(api->multi, c->easy);
        unlink_call(api, c);
        char err[CURL_ERROR_SIZE + DOCKERAPI_SOCKET_MAX + 16] = "";
        long status = call_result(c, rc, err, sizeof(err));
        c->owns_ctx = 0; /* the callback's from now on */
        c->cb(c->ctx, status, status > 0 ? c->reply : "", status > 0 ? c->len : 0, err);
        call_free(c);
    }
}

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
    struct dockerapi *api = arg;
    int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(api->multi, fd, flags, &running);
    check_done(api);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct dockerapi *api = arg;
    (void)fd;
    (void)what;
    int running;
    curl_multi_socket_action(api->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(api);
}

/* curl says which events it wants on socket s (CURLMOPT_SOCKETFUNCTION). */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct dockerapi *api = userp;
    struct dockersock *ds = socketp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (ds) {
            event_free(ds->ev);
            free(ds);
            curl_multi_assign(api->multi, s, NULL);
        }
        return 0;
    }
    if (!ds) {
        ds = calloc(1, sizeof(*ds));
        if (!ds)
            return -1;
        ds->api = api;
        curl_multi_assign(api->multi, s, ds);
    } else {
        event_free(ds->ev);
    }
    short events =
        EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
    ds->ev = event_new(api->base, s, events, on_socket_event, api);
    if (!ds->ev || event_add(ds->ev, NULL) < 0)
        return -1;
    return 0;
}

/* curl asks to be called after timeout_ms (CURLMOPT_TIMERFUNCTION). */
static int on_timer_change(CURLM *multi, long timeout_ms, void *userp)
{
    struct dockerapi *api = userp;
    (void)multi;
    if (timeout_ms < 0) {
        evtimer_del(api->timer);
        return 0;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    return evtimer_add(api->timer, &tv);
}

struct dockerapi *dockerapi_new(struct event_base *base, const char *socket_path, char *err,
                                size_t errlen)
{
    if (strlen(socket_path) > DOCKERAPI_SOCKET_MAX) {
        snprintf(err, errlen, "Docker socket path longer than %d bytes: %s", DOCKERAPI_SOCKET_MAX,
                 socket_path);
        return NULL;
    }
    /* Once per process; the manager has no other thread running yet. */
    static int curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK) {
            snprintf(err, errlen, "libcurl did not initialize");
            return NULL;
        }
        curl_ready = 1;
    }
    struct dockerapi *api = calloc(1, sizeof(*api));
    if (!api) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    api->magic = DOCKERAPI_MAGIC;
    api->base = base;
    snprintf(api->socket_path, sizeof(api->socket_path), "%s", socket_path);
    if (base) {
        api->multi = curl_multi_init();
        api->timer = evtimer_new(base, on_timer, api);
        if (!api->multi || !api->timer) {
            snprintf(err, errlen, "out of memory");
            dockerapi_free(api);
            return NULL;
        }
        curl_multi_setopt(api->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(api->multi, CURLMOPT_SOCKETDATA, api);
        curl_multi_setopt(api->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
        curl_multi_setopt(api->multi, CURLMOPT_TIMERDATA, api);
    }
    return api;
}

void dockerapi_free(struct dockerapi *api)
{
    if (!api)
        return;
    assert(api->magic == DOCKERAPI_MAGIC);
    while (api->calls) {
        struct dockercall *c = api->calls;
        api->calls = c->next;
        curl_multi_remove_handle(api->multi, c->easy); /* its sockets go (CURL_POLL_REMOVE) */
        call_free(c);
    }
    if (api->multi)
        curl_multi_cleanup(api->multi);
    if (api->timer)
        event_free(api->timer);
    api->magic = 0;
    free(api);
}

static int start(struct dockerapi *api, const char *method, const char *path, const char *json,
                 int timeout_ms, dockerapi_cb cb, void *ctx, int owns_ctx, char *err, size_t errlen)
{
    assert(api->magic == DOCKERAPI_MAGIC && api->multi && cb);
    struct dockercall *c = call_new(api, method, path, json, timeout_ms, err, errlen);
    if (!c)
        return -1;
    c->cb = cb;
    c->ctx = ctx;
    if (curl_multi_add_handle(api->multi, c->easy) != CURLM_OK) {
        snprintf(err, errlen, "cannot start %s %s (out of memory)", method, path);
        call_free(c); /* ctx stays the caller's: the call never started */
        return -1;
    }
    c->owns_ctx = owns_ctx;
    c->next = api->calls;
    api->calls = c;
    api->ncalls++;
    return 0;
}

void dockerapi_cancel(struct dockerapi *api, void *ctx)
{
    struct dockercall **pp = &api->calls;
    while (*pp) {
        struct dockercall *c = *pp;
        if (c->ctx != ctx) {
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        api->ncalls--;
        curl_multi_remove_handle(api->multi, c->easy);
        call_free(c);
    }
}

int dockerapi_start(struct dockerapi *api, const char *method, const char *path, const char *json,
                    int timeout_ms, dockerapi_cb cb, void *ctx, char *err, size_t errlen)
{
    return start(api, method, path, json, timeout_ms, cb, ctx, 0, err, errlen);
}

int dockerapi_start_owned(struct dockerapi *api, const char *method, const char *path,
                          const char *json, int timeout_ms, dockerapi_cb cb, void *ctx, char *err,
                          size_t errlen)
{
    return start(api, method, path, json, timeout_ms, cb, ctx, 1, err, errlen);
}

size_t dockerapi_in_flight(const struct dockerapi *api)
{
    return api->ncalls;
}

int dockerapi_call(struct dockerapi *api, const char *method, const char *path, const char *json,
                   int timeout_ms, long *status, char **body, char *err, size_t errlen)
{
    struct dockercall *c = call_new(api, method, path, json, timeout_ms, err, errlen);
    if (!c)
        return -1;
    CURLcode rc = curl_easy_perform(c->easy);
    long st = call_result(c, rc, err, errlen);
    if (st < 0) {
        call_free(c);
        return -1;
    }
    *status = st;
    *body = c->reply;
    c->reply = NULL;
    call_free(c);
    return 0;
}

void dockerapi_error_text(const char *body, char *out, size_t outlen)
{
    cJSON *j = cJSON_Parse(body ? body : "");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
    if (cJSON_IsString(m))
        snprintf(out, outlen, "%s", m->valuestring);
    else
        snprintf(out, outlen, "%.200s", body && body[0] ? body : "(no message)");
    cJSON_Delete(j);
}
