/* The admin REST API (see admin.h): routing, methods and status codes;
 * the documents come from backendview.c. */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "addr.h"
#include "apiauth.h"
#include "backend.h"
#include "backendview.h"
#include "balancer.h"
#include "jsonhttp.h"
#include "log.h"
#include "prom.h"

#define ADMIN_MAGIC 0xad01ad01u
/* Request bounds: a backend set of 256 is under 32 KiB of JSON. Bodies up
 * to ADMIN_READ_MAX are read and refused with a JSON 413 past
 * ADMIN_BODY_MAX; evhttp cuts anything larger with its own 413. */
#define ADMIN_BODY_MAX (256 * 1024)
#define ADMIN_READ_MAX (4 * ADMIN_BODY_MAX)
#define ADMIN_HEADERS_MAX 8192
#define ADMIN_IDLE_TIMEOUT_S 30

struct admin {
    uint32_t magic;
    struct balancer *bal;
    struct evhttp *http;
    int port;
    int no_auth; /* --no-auth: writes need no token */
    char token[APIAUTH_TOKEN_MAX + 1];
    size_t token_len;
};

static void send_doc(struct evhttp_request *req, cJSON *doc)
{
    if (!doc) {
        jsonhttp_send_error(req, 500, "out of memory building the reply");
        return;
    }
    jsonhttp_send(req, 200, doc);
    cJSON_Delete(doc);
}

static void handle_backends(struct admin *a, struct evhttp_request *req)
{
    if (jsonhttp_check_method(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT) < 0)
        return;
    if (evhttp_request_get_command(req) == EVHTTP_REQ_PUT) {
        cJSON *body = jsonhttp_read_body(req, ADMIN_BODY_MAX);
        if (!body)
            return;
        static struct backend_spec specs[BALANCER_MAX_BACKENDS];
        char err[256];
        int n = backendview_parse_set(body, specs, BALANCER_MAX_BACKENDS, err, sizeof(err));
        cJSON_Delete(body);
        if (n < 0) {
            jsonhttp_send_error(req, 400, "%s", err);
            return;
        }
        if (balancer_replace(a->bal, specs, (size_t)n, err, sizeof(err)) < 0) {
            jsonhttp_send_error(req, 503, "%s", err);
            return;
        }
        log_info("admin: backend set replaced, %d backends", n);
    }
    send_doc(req, backendview_set(a->bal));
}

/* /v1/backends/NAME and /v1/backends/NAME/drain */
static void handle_backend(struct admin *a, struct evhttp_request *req, const char *rest)
{
    char name[BALANCER_NAME_MAX + 8];
    const char *slash = strchr(rest, '/');
    size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
    if (len == 0 || len >= BALANCER_NAME_MAX) {
        jsonhttp_send_error(req, 404, "no such backend");
        return;
    }
    memcpy(name, rest, len);
    name[len] = '\0';
    int drain = 0;
    if (slash) {
        if (strcmp(slash, "/drain") != 0) {
            jsonhttp_send_error(req, 404, "no such resource: %s", slash);
            return;
        }
        drain = 1;
    }
    int allowed = drain ? EVHTTP_REQ_POST : (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_DELETE);
    if (jsonhttp_check_method(req, allowed) < 0)
        return;
    struct backend *b = backend_set_find(a->bal->set, name);
    if (!b) {
        jsonhttp_send_error(req, 404, "no backend named '%s'", name);
        return;
    }
    cJSON *doc = NULL;
    if (drain) {
        balancer_drain(a->bal, b, "drain asked through the admin API");
        doc = backendview_backend(a->bal, b);
    } else if (evhttp_request_get_command(req) == EVHTTP_REQ_DELETE) {
        balancer_remove(a->bal, b, "deleted through the admin API");
        /* b may be gone already (no connection left): answer from the set. */
        doc = cJSON_CreateObject();
        if (doc) {
            cJSON_AddStringToObject(doc, "name", name);
            cJSON_AddStringToObject(doc, "state", "draining");
            cJSON_AddBoolToObject(doc, "removed", 1);
        }
    } else {
        doc = backendview_backend(a->bal, b);
    }
    send_doc(req, doc);
}

static void handle_reset(struct admin *a, struct evhttp_request *req)
{
    if (jsonhttp_check_method(req, EVHTTP_REQ_POST) < 0)
        return;
    balancer_reset_stats(a->bal);
    send_doc(req, backendview_set(a->bal));
}

static void handle_healthz(struct admin *a, struct evhttp_request *req)
{
    if (jsonhttp_check_method(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD) < 0)
        return;
    size_t up = 0, members = 0;
    for (size_t i = 0; i < a->bal->set->n; i++) {
        const struct backend *b = a->bal->set->b[i];
        members += !b->removed;
        up += backend_eligible(b);
    }
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "status", a->bal->stopping ? "stopping" : "ok");
        cJSON_AddNumberToObject(o, "backends", (double)members);
        cJSON_AddNumberToObject(o, "backends_up", (double)up);
    }
    send_doc(req, o);
}

static void handle_metrics(struct admin *a, struct evhttp_request *req)
{
    if (jsonhttp_check_method(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD) < 0)
        return;
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        jsonhttp_send_error(req, 500, "out of memory");
        return;
    }
    struct prom p;
    prom_init(&p, out);
    backendview_prom(a->bal, &p);
    char err[128];
    if (prom_finish(&p, err, sizeof(err)) < 0)
        log_warn("admin: /metrics: %s", err);
    jsonhttp_send_prom(req, out);
    evbuffer_free(out);
}

static void peer_text(struct evhttp_request *req, char *out, size_t outlen)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    char *host = NULL;
    ev_uint16_t port = 0;
    if (evcon)
        evhttp_connection_get_peer(evcon, &host, &port);
    snprintf(out, outlen, "%s:%u", host ? host : "?", (unsigned)port);
}

/* What every request must pass before routing: Host names this machine by
 * address or localhost (421: a DNS-rebound name from a browser), and a
 * write (any method but GET and HEAD) carries the bearer token (401) and a
 * JSON content type (415: a cross-site form cannot). 0 to go on. */
static int admin_refuse(struct admin *a, struct evhttp_request *req)
{
    const struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *host = evhttp_find_header(in, "Host");
    char peer[ADDR_STRLEN];
    if (!apiauth_host_ok(host)) {
        peer_text(req, peer, sizeof(peer));
        log_warn("admin: refused a request from %s for Host \"%.64s\"", peer, host);
        jsonhttp_send_error(req, 421,
                            "Host \"%.64s\" is not this API: use an IP address or localhost", host);
        return -1;
    }
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)
        return 0;
    const char *authz = evhttp_find_header(in, "Authorization");
    if (!a->no_auth && !apiauth_bearer_matches(authz, a->token, a->token_len)) {
        peer_text(req, peer, sizeof(peer));
        log_warn("admin: refused a change from %s: %s", peer,
                 authz ? "wrong bearer token" : "no Authorization header");
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                          "Bearer realm=\"proxypool-balancer\"");
        jsonhttp_send_error(req, 401,
                            authz ? "the bearer token is not valid"
                                  : "changes need an Authorization: Bearer token (the one "
                                    "in the balancer's --token-file)");
        return -1;
    }
    if (!apiauth_json_type_ok(evhttp_find_header(in, "Content-Type"))) {
        jsonhttp_send_error(req, 415, "changes need Content-Type: application/json");
        return -1;
    }
    return 0;
}

static void admin_handle(struct evhttp_request *req, void *arg)
{
    struct admin *a = arg;
    if (admin_refuse(a, req) < 0)
        return;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path)
        path = "";
    static const char prefix[] = "/v1/backends/";
    if (strcmp(path, "/v1/backends") == 0)
        handle_backends(a, req);
    else if (strncmp(path, prefix, sizeof(prefix) - 1) == 0)
        handle_backend(a, req, path + sizeof(prefix) - 1);
    else if (strcmp(path, "/v1/stats/reset") == 0)
        handle_reset(a, req);
    else if (strcmp(path, "/healthz") == 0)
        handle_healthz(a, req);
    else if (strcmp(path, "/metrics") == 0)
        handle_metrics(a, req);
    else
        jsonhttp_send_error(req, 404, "no such resource: %s", path);
}

struct admin *admin_new(struct event_base *base, struct balancer *bal, char *err, size_t errlen)
{
    struct admin *a = calloc(1, sizeof(*a));
    char where[ADDR_STRLEN], why[160];
    int fd = -1;
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->magic = ADMIN_MAGIC;
    a->bal = bal;
    a->no_auth = bal->cfg->no_auth;
    if (!a->no_auth &&
        apiauth_token_load(bal->cfg->token_file, 1, a->token, &a->token_len, err, errlen) < 0)
        goto fail;
    if (a->no_auth)
        log_warn("admin: --no-auth: any process that reaches the admin API can change the "
                 "backend set and so redirect all traffic");
    a->http = evhttp_new(base);
    if (!a->http) {
        snprintf(err, errlen, "out of memory creating the admin HTTP server");
        goto fail;
    }
    addr_format(&bal->cfg->admin, where, sizeof(where));
    fd = addr_listen_tcp(&bal->cfg->admin, 0, 0, why, sizeof(why));
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s for the admin API: %s", where, why);
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    struct addr bound;
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0 ||
        addr_from_sockaddr(&bound, (struct sockaddr *)&ss, sslen) < 0) {
        snprintf(err, errlen, "cannot read the admin address %s: %s", where, strerror(errno));
        goto fail;
    }
    if (!evhttp_accept_socket_with_handle(a->http, fd)) {
        snprintf(err, errlen, "cannot accept admin connections on %s", where);
        goto fail;
    }
    fd = -1;
    a->port = addr_port(&bound);
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_max_headers_size(a->http, ADMIN_HEADERS_MAX);
    evhttp_set_max_body_size(a->http, ADMIN_READ_MAX);
    evhttp_set_timeout(a->http, ADMIN_IDLE_TIMEOUT_S);
    evhttp_set_gencb(a->http, admin_handle, a);
    return a;
fail:
    if (fd >= 0)
        close(fd);
    if (a->http)
        evhttp_free(a->http);
    explicit_bzero(a->token, sizeof(a->token));
    free(a);
    return NULL;
}

void admin_free(struct admin *a)
{
    if (!a)
        return;
    evhttp_free(a->http);
    explicit_bzero(a->token, sizeof(a->token));
    a->magic = 0;
    free(a);
}

int admin_port(const struct admin *a)
{
    return a->port;
}
