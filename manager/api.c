/* The manager's REST API: routes each request by path template, refuses bad
 * writes before they reach the pool (method, bearer token, stopping, body,
 * fields), answers a change when the pool's done callback fires, and counts
 * requests by route and status for /metrics. Control path: ppctl or curl ->
 * evhttp -> api.c -> pool.c -> the runtime. */
#include "api.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "addr.h"
#include "apiauth.h"
#include "autoscale.h"
#include "config.h"
#include "instance.h"
#include "jsonhttp.h"
#include "crashpoint.h"
#include "log.h"
#include "pool.h"
#include "poolview.h"
#include "registry.h"
#include "scale.h"
#include "statedir.h"
#include "steer.h"
#include "statuspage.h"
#include "steerview.h"
#include "prom.h"

#define API_MAGIC 0x41504931u      /* "API1" */
#define API_WAIT_MAGIC 0x57414954u /* "WAIT" */

/* Request heads above this get evhttp's 431: ours are a few hundred bytes. */
#define API_HEADERS_MAX (16 * 1024)
/* Bodies are read whole before the handler runs (libevent 2.1 has no hook
 * between the head and the body), so up to this many bytes are read and
 * refused with the JSON 413; a larger one evhttp refuses unread, with its own
 * HTML 413. This bounds what one connection can make us buffer while any
 * plausible mistake (a wrong file, a pasted log) still gets the project's
 * error format. */
#define API_READ_MAX (4 * 1024 * 1024)
/* An idle keep-alive connection, or one sending its request this slowly, is
 * closed after this. A change being waited for is not subject to it (evhttp
 * stops reading while the reply is pending). */
#define API_IDLE_TIMEOUT_S 30
/* Distinct statuses counted per route; the API sends about ten, so a status
 * past this many is counted as "other" rather than dropped. */
#define API_STATUS_SLOTS 16

enum api_route {
    ROUTE_POOL = 0,
    ROUTE_INSTANCE,
    ROUTE_RESTART,
    ROUTE_HEALTHZ,
    ROUTE_METRICS,
    ROUTE_FORWARDING,
    ROUTE_PARTITION,
    ROUTE_AUTOSCALE,
    ROUTE_STATUS, /* the status page and its script and style */
    ROUTE_OTHER,  /* anything else: one label, so unknown paths cannot grow /metrics */
    ROUTE_COUNT,
};

/* The path label in /metrics: templates, never raw paths. */
static const char *const route_labels[ROUTE_COUNT] = {
    "/v1/pool",
    "/v1/pool/instances/{id}",
    "/v1/pool/instances/{id}/restart",
    "/healthz",
    "/metrics",
    "/v1/forwarding",
    "/v1/partition",
    "/v1/autoscale",
    "/",
    "other",
};

/* Handlers say whether they answered or left the reply to a done callback. */
enum { API_REPLIED = 0, API_PENDING = 1 };

struct api_count {
    int status; /* 0: slot unused */
    uint64_t n;
};

struct api_wait;

struct api {
    unsigned magic;
    struct evhttp *http;
    struct pool *pool;
    struct scale *scale;         /* changes of the pool go through it */
    struct steer *steer;         /* NULL until api_set_steer */
    struct autoscale *autoscale; /* NULL until api_set_autoscale */
    int port;
    int stopping;
    int no_auth; /* --no-auth: writes need no token */
    char token[APIAUTH_TOKEN_MAX + 1];
    size_t token_len;
    struct api_wait *waits; /* changes in flight */
    struct api_count counts[ROUTE_COUNT][API_STATUS_SLOTS];
    uint64_t other_counts[ROUTE_COUNT];
};

/* One change waiting for the pool's done callback: the pool holds it as ctx
 * until then, so it outlives both the client's connection and the API. */
struct api_wait {
    unsigned magic;
    struct api *api;                 /* NULL once api_free detached it */
    struct evhttp_request *req;      /* NULL once libevent freed the request */
    struct evhttp_connection *evcon; /* NULL once the connection went away */
    enum api_route route;            /* ROUTE_POOL (scale), ROUTE_RESTART, ROUTE_FORWARDING */
    int target;                      /* replicas asked for, or the instance id */
    int view; /* a GET of route, answered once the mode's observation is fresh */
    struct api_wait *prev, *next;
};

struct route_match {
    enum api_route route;
    int id;           /* 1..POOL_MAX_INSTANCES, or 0 when the segment is no such id */
    char id_text[24]; /* the segment as sent, cut, for messages */
};

/* ---- routing ---- */

/* "7" -> 7; 0 for anything that is not a decimal id in range without a
 * leading zero ("07", "+7", "7a", "33"). */
static int parse_id(const char *s, size_t len)
{
    if (len == 0 || s[0] == '0')
        return 0;
    int id = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        id = id * 10 + (s[i] - '0');
        if (id > POOL_MAX_INSTANCES)
            return 0;
    }
    return id;
}

static void route_path(const char *path, struct route_match *m)
{
    static const char instances[] = "/v1/pool/instances/";
    memset(m, 0, sizeof(*m));
    m->route = ROUTE_OTHER;
    if (strcmp(path, "/v1/pool") == 0) {
        m->route = ROUTE_POOL;
    } else if (strcmp(path, "/healthz") == 0) {
        m->route = ROUTE_HEALTHZ;
    } else if (strcmp(path, "/metrics") == 0) {
        m->route = ROUTE_METRICS;
    } else if (strcmp(path, "/v1/forwarding") == 0) {
        m->route = ROUTE_FORWARDING;
    } else if (strcmp(path, "/v1/partition") == 0) {
        m->route = ROUTE_PARTITION;
    } else if (strcmp(path, "/v1/autoscale") == 0) {
        m->route = ROUTE_AUTOSCALE;
    } else if (statuspage_serves(path)) {
        m->route = ROUTE_STATUS;
    } else if (strncmp(path, instances, sizeof(instances) - 1) == 0) {
        const char *seg = path + sizeof(instances) - 1;
        const char *slash = strchr(seg, '/');
        size_t len = slash != NULL ? (size_t)(slash - seg) : strlen(seg);
        if (len == 0)
            return;
        if (slash == NULL)
            m->route = ROUTE_INSTANCE;
        else if (strcmp(slash, "/restart") == 0)
            m->route = ROUTE_RESTART;
        else
            return;
        m->id = parse_id(seg, len);
        snprintf(m->id_text, sizeof(m->id_text), "%.*s", (int)len, seg);
    }
}

static const char *request_path(struct evhttp_request *req)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    return path != NULL ? path : "";
}

static void api_count(struct api *a, enum api_route route, int status)
{
    struct api_count *c = a->counts[route];
    for (size_t i = 0; i < API_STATUS_SLOTS; i++) {
        if (c[i].status == status || c[i].status == 0) {
            c[i].status = status;
            c[i].n++;
            return;
        }
    }
    a->other_counts[route]++;
}

/* Replies 200 with json (deleting it), or 500 when it could not be built.
 * Returns the status sent, without touching req afterwards. */
static int send_document(struct evhttp_request *req, cJSON *json)
{
    if (json == NULL) {
        jsonhttp_send_error(req, 500, "out of memory building the reply");
        return 500;
    }
    int rc = jsonhttp_send(req, 200, json);
    cJSON_Delete(json);
    return rc == 0 ? 200 : 500;
}

/* ---- refusals that come before the pool ---- */

static void peer_text(struct evhttp_request *req, char *out, size_t outlen)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    char *host = NULL;
    ev_uint16_t port = 0;
    if (evcon != NULL)
        evhttp_connection_get_peer(evcon, &host, &port);
    snprintf(out, outlen, "%s:%u", host != NULL ? host : "?", (unsigned)port);
}

/* 401 without the token (unless --no-auth), 415 without a JSON content type
 * (a cross-site form cannot send one), 503 while stopping; 0 when the write
 * may go on. */
static int refuse_write(struct api *a, struct evhttp_request *req, const char *what)
{
    const struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *authz = evhttp_find_header(in, "Authorization");
    if (!a->no_auth && !apiauth_bearer_matches(authz, a->token, a->token_len)) {
        char peer[ADDR_STRLEN];
        peer_text(req, peer, sizeof(peer));
        log_warn("api: refused %s from %s: %s", what, peer,
                 authz != NULL ? "wrong bearer token" : "no Authorization header");
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                          "Bearer realm=\"proxypool\"");
        jsonhttp_send_error(req, 401,
                            authz != NULL ? "the bearer token is not valid"
                                          : "changes need an Authorization: Bearer token (the "
                                            "manager's state directory holds it in api.token)");
        return -1;
    }
    if (!apiauth_json_type_ok(evhttp_find_header(in, "Content-Type"))) {
        jsonhttp_send_error(req, 415, "changes need Content-Type: application/json");
        return -1;
    }
    if (a->stopping) {
        jsonhttp_send_error(req, 503, "the manager is shutting down and takes no changes");
        return -1;
    }
    return 0;
}

static const char *json_kind(const cJSON *j)
{
    if (cJSON_IsString(j))
        return "a string";
    if (cJSON_IsBool(j))
        return cJSON_IsTrue(j) ? "true" : "false";
    if (cJSON_IsNull(j))
        return "null";
    if (cJSON_IsArray(j))
        return "an array";
    if (cJSON_IsObject(j))
        return "an object";
    return "not a number";
}

/* The shortest text that reads back as d: 2.5, not 2.5000000000000000. */
static void format_number(double d, char *out, size_t outlen)
{
    /* Whole numbers of a sane size as integers: 50, not 5e+01. The size is
     * checked before the cast: casting 1e300 to long long is undefined. */
    if (d > -1e15 && d < 1e15 && d == (double)(long long)d) {
        snprintf(out, outlen, "%lld", (long long)d);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, outlen, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

/* {"replicas": N}: exactly that field, a whole number (2 and 2.0 alike, as
 * JSON has one number type) from 1 to POOL_MAX_INSTANCES. */
int api_parse_scale(const cJSON *body, int *replicas, char *why, size_t whylen)
{
    if (!cJSON_IsObject(body)) {
        snprintf(why, whylen, "the body must be a JSON object such as {\"replicas\": 4}");
        return -1;
    }
    const cJSON *r = NULL;
    const cJSON *item;
    cJSON_ArrayForEach(item, body)
    {
        if (strcmp(item->string, "replicas") != 0) {
            snprintf(why, whylen, "unknown field \"%.64s\": the body takes only \"replicas\"",
                     item->string);
            return -1;
        }
        if (r != NULL) {
            snprintf(why, whylen, "field \"replicas\" is given twice");
            return -1;
        }
        r = item;
    }
    if (r == NULL) {
        snprintf(why, whylen, "field \"replicas\" is missing: the body is {\"replicas\": N}");
        return -1;
    }
    if (!cJSON_IsNumber(r)) {
        snprintf(why, whylen, "replicas must be an integer from 1 to %d, not %s",
                 POOL_MAX_INSTANCES, json_kind(r));
        return -1;
    }
    double d = r->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < 1 || d > POOL_MAX_INSTANCES) {
        char num[32];
        format_number(d, num, sizeof(num));
        snprintf(why, whylen, "replicas must be an integer from 1 to %d, not %s",
                 POOL_MAX_INSTANCES, num);
        return -1;
    }
    *replicas = (int)d;
    return 0;
}

int api_parse_restart(const cJSON *body, char *why, size_t whylen)
{
    if (!cJSON_IsObject(body)) {
        snprintf(why, whylen, "the body of a restart must be empty or {}");
        return -1;
    }
    if (body->child != NULL) {
        snprintf(why, whylen, "unknown field \"%.64s\": a restart takes no fields",
                 body->child->string != NULL ? body->child->string : "");
        return -1;
    }
    return 0;
}

int api_parse_forwarding(const cJSON *body, const char **mode, char *why, size_t whylen)
{
    const cJSON *item;
    const cJSON *m = NULL;
    if (!cJSON_IsObject(body)) {
        snprintf(why, whylen, "the body must be {\"mode\": \"none\" or \"nat\"}");
        return -1;
    }
    cJSON_ArrayForEach(item, body)
    {
        if (item->string == NULL || strcmp(item->string, "mode") != 0) {
            snprintf(why, whylen, "unknown field \"%.64s\": the body is {\"mode\": ...}",
                     item->string != NULL ? item->string : "");
            return -1;
        }
        if (m == NULL)
            m = item;
    }
    if (!cJSON_IsString(m) || m->valuestring == NULL) {
        snprintf(why, whylen, "the body must be {\"mode\": \"none\" or \"nat\"}");
        return -1;
    }
    *mode = m->valuestring;
    return 0;
}

/* A restart takes no fields: an empty body or {}. */
static int check_restart_body(struct evhttp_request *req)
{
    if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) == 0)
        return 0;
    cJSON *body = jsonhttp_read_body(req, API_BODY_MAX);
    if (body == NULL)
        return -1;
    char why[256];
    int rc = api_parse_restart(body, why, sizeof(why));
    if (rc < 0)
        jsonhttp_send_error(req, 400, "%s", why);
    cJSON_Delete(body);
    return rc;
}

/* ---- changes: answered when the pool's done callback fires ---- */

static void wait_link(struct api *a, struct api_wait *w)
{
    w->next = a->waits;
    if (a->waits != NULL)
        a->waits->prev = w;
    a->waits = w;
}

static void wait_unlink(struct api *a, struct api_wait *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        a->waits = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

static void wait_free(struct api_wait *w)
{
    w->magic = 0;
    free(w);
}

/* The client's connection is being freed (it failed, or evhttp_free). A
 * request still queued on it goes with it; one libevent already detached
 * from it (evcon NULL) is ours to answer, which frees it. */
static void on_client_close(struct evhttp_connection *evcon, void *arg)
{
    struct api_wait *w = arg;
    assert(w->magic == API_WAIT_MAGIC);
    if (w->req != NULL && evhttp_request_get_connection(w->req) == evcon)
        w->req = NULL;
    w->evcon = NULL;
    log_debug("api: client went away while its change runs");
}

static int send_metrics(struct api *a, struct evhttp_request *req);

/* A GET's answer from what the pool and the mode show now; its status. */
static int send_view(struct api *a, struct evhttp_request *req, enum api_route route, int id)
{
    if (route == ROUTE_METRICS)
        return send_metrics(a, req);
    if (route == ROUTE_POOL)
        return send_document(req, poolview_json(a->pool, a->steer));
    const struct instance *in = pool_instance(a->pool, id);
    if (in == NULL) {
        jsonhttp_send_error(req, 404, "no instance %d in the pool", id);
        return 404;
    }
    return send_document(req, poolview_instance_json(in, a->steer));
}

static int send_forwarding(struct api *a, struct evhttp_request *req, int ok, const char *message)
{
    if (!ok) {
        jsonhttp_send_error(req, 500, "%s", message ? message : "the switch did not complete");
        return 500;
    }
    log_info("api: forwarding set to %s", steer_mode(a->steer));
    return send_document(req, steerview_forwarding_json(a->steer));
}

static void on_change_done(void *ctx, int ok, const char *message)
{
    struct api_wait *w = ctx;
    assert(w->magic == API_WAIT_MAGIC);
    struct api *a = w->api;
    int scale = w->route == ROUTE_POOL;
    if (a == NULL) { /* api_free ran meanwhile */
        wait_free(w);
        return;
    }
    assert(a->magic == API_MAGIC);
    wait_unlink(a, w);
    if (w->evcon != NULL)
        evhttp_connection_set_closecb(w->evcon, NULL, NULL);
    if (w->view || w->route == ROUTE_FORWARDING) {
        if (w->req != NULL)
            api_count(a, w->route,
                      w->view ? send_view(a, w->req, w->route, w->target)
                              : send_forwarding(a, w->req, ok, message));
        wait_free(w);
        return;
    }
    if (message == NULL || message[0] == '\0')
        message = scale ? "scaling did not complete" : "the restart did not complete";

    if (ok)
        log_info("api: %s %d done", scale ? "scale to" : "restart of instance", w->target);
    else
        log_warn("api: %s %d failed: %s", scale ? "scale to" : "restart of instance", w->target,
                 message);
    if (w->req != NULL) {
        int status;
        if (!ok) {
            status = a->stopping ? 503 : 500;
            jsonhttp_send_error(w->req, status, "%s", message);
        } else if (scale) {
            status = send_document(w->req, poolview_json(a->pool, a->steer));
        } else {
            const struct instance *in = pool_instance(a->pool, w->target);
            if (in != NULL) {
                status = send_document(w->req, poolview_instance_json(in, a->steer));
            } else {
                status = 500;
                jsonhttp_send_error(w->req, status, "instance %d is gone after its restart",
                                    w->target);
            }
        }
        api_count(a, w->route, status);
    }
    wait_free(w);
}

/* Starts a scale (ROUTE_POOL) or restart (ROUTE_RESTART); the request is
 * answered by on_change_done, or now when the pool refuses. */
/* A request answered later, by on_change_done: linked to the API and told
 * when its client goes; NULL (500 sent) when out of memory. */
static struct api_wait *wait_new(struct api *a, struct evhttp_request *req, enum api_route route,
                                 int target)
{
    struct api_wait *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        jsonhttp_send_error(req, 500, "out of memory");
        return NULL;
    }
    w->magic = API_WAIT_MAGIC;
    w->api = a;
    w->req = req;
    w->evcon = evhttp_request_get_connection(req);
    w->route = route;
    w->target = target;
    wait_link(a, w);
    if (w->evcon != NULL)
        evhttp_connection_set_closecb(w->evcon, on_client_close, w);
    return w;
}

/* Takes back a wait whose request is answered now after all. */
static void wait_drop(struct api *a, struct api_wait *w)
{
    if (w->evcon != NULL)
        evhttp_connection_set_closecb(w->evcon, NULL, NULL);
    wait_unlink(a, w);
    wait_free(w);
}

/* GETs that show what the forwarding mode measures (the balancer's
 * backends) ask it anew first and answer when it replied: the loop serves
 * other requests meanwhile. */
static int start_view(struct api *a, struct evhttp_request *req, enum api_route route, int id)
{
    if (a->steer == NULL)
        return send_view(a, req, route, id), API_REPLIED;
    struct api_wait *w = wait_new(a, req, route, id);
    if (w == NULL)
        return API_REPLIED;
    w->view = 1;
    if (steer_refresh(a->steer, on_change_done, w) == 0)
        return API_PENDING;
    wait_drop(a, w); /* the mode measures nothing: the view is current */
    send_view(a, req, route, id);
    return API_REPLIED;
}

static int start_change(struct api *a, struct evhttp_request *req, enum api_route route, int target)
{
    if (a->steer != NULL && steer_busy(a->steer)) {
        jsonhttp_send_error(req, 409,
                            "the forwarding mode is being switched; try again when it ends");
        return API_REPLIED;
    }
    struct api_wait *w = wait_new(a, req, route, target);
    if (w == NULL)
        return API_REPLIED;

    /* Read before the pool call: done may have answered req once it returns. */
    char peer[ADDR_STRLEN];
    peer_text(req, peer, sizeof(peer));
    char err[256] = "";
    PP_CRASH_ARM_STEPS(); /* test builds: a step's crash point counts from here */
    int rc = route == ROUTE_POOL
                 ? scale_to(a->scale, target, on_change_done, w, err, sizeof(err))
                 : scale_restart(a->scale, target, on_change_done, w, err, sizeof(err));
    if (rc == 0) {
        log_info("api: %s %d, asked by %s", route == ROUTE_POOL ? "scaling to" : "restarting",
                 target, peer);
        return API_PENDING; /* w is the pool's until done */
    }

    wait_drop(a, w);
    int status;
    const char *fallback;
    switch (rc) {
    case SCALE_ERR_RANGE:
        status = route == ROUTE_POOL ? 400 : 404;
        fallback = route == ROUTE_POOL ? "replicas is out of range" : "no such instance";
        break;
    case SCALE_ERR_BUSY:
        status = 409;
        fallback = "another change of the pool is running; try again when it ends";
        break;
    case SCALE_ERR_STOPPING:
        status = 503;
        fallback = "the manager is shutting down and takes no changes";
        break;
    default:
        status = 500;
        fallback = "the pool could not start the change";
        break;
    }
    jsonhttp_send_error(req, status, "%s", err[0] != '\0' ? err : fallback);
    return API_REPLIED;
}

/* ---- handlers ---- */

static int handle_pool(struct api *a, struct evhttp_request *req)
{
    if (jsonhttp_check_method(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT) < 0)
        return API_REPLIED;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_PUT)
        return start_view(a, req, ROUTE_POOL, 0);
    if (refuse_write(a, req, "PUT /v1/pool") < 0)
        return API_REPLIED;
    /* Two hands on the replica count would undo each other. */
    if (a->autoscale != NULL && autoscale_enabled(a->autoscale)) {
        jsonhttp_send_error(req, 409,
                            "the autoscaler sets the replica count; turn it off first with "
                            "`ppctl autoscale off` or PUT /v1/autoscale {\"enabled\": false}");
        return API_REPLIED;
    }
    cJSON *body = jsonhttp_read_body(req, API_BODY_MAX);
    if (body == NULL)
        return API_REPLIED;
    char why[256];
    int replicas = 0;
    int rc = api_parse_scale(body, &replicas, why, sizeof(why));
    cJSON_Delete(body);
    if (rc < 0) {
        jsonhttp_send_error(req, 400, "%s", why);
        return API_REPLIED;
    }
    return start_change(a, req, ROUTE_POOL, replicas);
}

static void send_no_instance(struct evhttp_request *req, const struct route_match *m)
{
    if (m->id == 0)
        jsonhttp_send_error(req, 404, "no instance \"%s\": instance ids run from 1 to %d",
                            m->id_text, POOL_MAX_INSTANCES);
    else
        jsonhttp_send_error(req, 404, "no instance %d in the pool", m->id);
}

static int handle_instance(struct api *a, struct evhttp_request *req, const struct route_match *m)
{
    if (jsonhttp_check_method(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD) < 0)
        return API_REPLIED;
    if (m->id == 0 || pool_instance(a->pool, m->id) == NULL) {
        send_no_instance(req, m);
        return API_REPLIED;
    }
    return start_view(a, req, ROUTE_INSTANCE, m->id);
}

static int handle_restart(struct api *a, struct evhttp_request *req, const struct route_match *m)
{
    if (jsonhttp_check_method(req, EVHTTP_REQ_POST) < 0)
        return API_REPLIED;
    char what[64];
    snprintf(what, sizeof(what), "restart of instance %s", m->id_text);
    if (refuse_write(a, req, what) < 0 || check_restart_body(req) < 0)
        return API_REPLIED;
    if (m->id == 0 || pool_instance(a->pool, m->id) == NULL) {
        send_no_instance(req, m);
        return API_REPLIED;
    }
    return start_change(a, req, ROUTE_RESTART, m->id);
}

static void handle_healthz(struct api *a, struct evhttp_request *req)
{
    if (jsonhttp_check_method(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD) < 0)
        return;
    cJSON *j = cJSON_CreateObject();
    if (j == NULL ||
        cJSON_AddStringToObject(j, "status", a->stopping ? "stopping" : "ok") == NULL) {
        cJSON_Delete(j);
        jsonhttp_send_error(req, 500, "out of memory");
        return;
    }
    jsonhttp_send(req, a->stopping ? 503 : 200, j);
    cJSON_Delete(j);
}

static void write_request_counts(struct api *a, struct prom *p)
{
    static const char name[] = "manager_api_requests_total";
    prom_family(p, name, PROM_COUNTER, "API requests answered, by route template and status.");
    for (size_t r = 0; r < ROUTE_COUNT; r++) {
        char code[16];
        struct prom_label l[2] = {{"path", route_labels[r]}, {"code", code}};
        for (size_t i = 0; i < API_STATUS_SLOTS && a->counts[r][i].status != 0; i++) {
            snprintf(code, sizeof(code), "%d", a->counts[r][i].status);
            prom_sample(p, name, l, 2, (double)a->counts[r][i].n);
        }
        if (a->other_counts[r] > 0) {
            snprintf(code, sizeof(code), "other");
            prom_sample(p, name, l, 2, (double)a->other_counts[r]);
        }
    }
}

static int send_metrics(struct api *a, struct evhttp_request *req)
{
    struct evbuffer *out = evbuffer_new();
    if (out == NULL) {
        jsonhttp_send_error(req, 500, "out of memory");
        return 500;
    }
    struct prom p;
    prom_init(&p, out);
    poolview_prom(a->pool, &p);
    if (a->steer)
        steerview_prom(a->steer, &p);
    if (a->autoscale)
        autoscale_prom(a->autoscale, &p);
    write_request_counts(a, &p);
    char err[128];
    if (prom_finish(&p, err, sizeof(err)) < 0)
        log_warn("api: /metrics: %s", err);
    jsonhttp_send_prom(req, out);
    evbuffer_free(out);
    return 200;
}

static int handle_metrics(struct api *a, struct evhttp_request *req)
{
    if (jsonhttp_check_method(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD) < 0)
        return API_REPLIED;
    return start_view(a, req, ROUTE_METRICS, 0);
}

/* PUT /v1/forwarding {"mode": "nat"}: answered with the new state once the
 * new mode is in place and the old one gone (a balancer started or
 * stopped), or with why nothing changed. */
static int handle_forwarding(struct api *a, struct evhttp_request *req)
{
    if (jsonhttp_check_method(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT) < 0)
        return API_REPLIED;
    if (!a->steer) {
        jsonhttp_send_error(req, 503, "forwarding is not set up yet");
        return API_REPLIED;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_PUT) {
        send_document(req, steerview_forwarding_json(a->steer));
        return API_REPLIED;
    }
    if (refuse_write(a, req, "PUT /v1/forwarding") < 0)
        return API_REPLIED;
    cJSON *body = jsonhttp_read_body(req, API_BODY_MAX);
    if (body == NULL)
        return API_REPLIED;
    const char *mode = NULL;
    const struct fwd_ops *ops = NULL;
    char why[256];
    int pending = API_REPLIED;
    if (api_parse_forwarding(body, &mode, why, sizeof(why)) < 0) {
        jsonhttp_send_error(req, 400, "%s", why);
    } else if (registry_forwarding(mode, &ops) < 0) {
        jsonhttp_send_error(req, 400, "forwarding mode must be %s, not '%s'",
                            registry_forwarding_names(), mode);
    } else if (scale_busy(a->scale)) {
        jsonhttp_send_error(req, 409,
                            "a change of the pool is in progress; try again when it ends");
    } else {
        struct api_wait *w = wait_new(a, req, ROUTE_FORWARDING, 0);
        char err[256];
        int status = 500;
        if (w == NULL) {
            /* answered */
        } else if (steer_set_mode(a->steer, ops, on_change_done, w, &status, err, sizeof(err)) <
                   0) {
            wait_drop(a, w);
            jsonhttp_send_error(req, status, "%s", err);
        } else {
            log_info("api: switching forwarding to %s", mode);
            pending = API_PENDING;
        }
    }
    cJSON_Delete(body);
    return pending;
}

static void handle_partition(struct api *a, struct evhttp_request *req)
{
    if (jsonhttp_check_method(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD) < 0)
        return;
    if (!a->steer) {
        jsonhttp_send_error(req, 503, "forwarding is not set up yet");
        return;
    }
    send_document(req, steerview_partition_json(a->steer));
}

/* GET /v1/autoscale: the settings, the measure and the last decisions;
 * PUT: the fields given change, checked together first (400 naming the
 * field; nothing changes then). */
static void handle_autoscale(struct api *a, struct evhttp_request *req)
{
    if (jsonhttp_check_method(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT) < 0)
        return;
    if (a->autoscale == NULL) {
        jsonhttp_send_error(req, 503, "the autoscaler is not set up yet");
        return;
    }
    if (evhttp_request_get_command(req) == EVHTTP_REQ_PUT) {
        if (refuse_write(a, req, "PUT /v1/autoscale") < 0)
            return;
        cJSON *body = jsonhttp_read_body(req, API_BODY_MAX);
        if (body == NULL)
            return;
        struct autoscale_settings s = *autoscale_settings(a->autoscale);
        char why[300];
        int rc = autoscale_settings_from_json(body, &s, why, sizeof(why));
        cJSON_Delete(body);
        if (rc < 0) {
            jsonhttp_send_error(req, 400, "%s", why);
            return;
        }
        char peer[ADDR_STRLEN];
        peer_text(req, peer, sizeof(peer));
        log_info("api: autoscale settings changed, asked by %s", peer);
        autoscale_configure(a->autoscale, &s);
    }
    send_document(req, autoscale_json(a->autoscale));
}

static void api_handle(struct evhttp_request *req, void *arg)
{
    struct api *a = arg;
    assert(a->magic == API_MAGIC);
    const char *path = request_path(req);
    struct route_match m;
    route_path(path, &m);

    /* A browser led here by a DNS-rebound name sends that name: only an
     * address or localhost is this machine's API. */
    const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
    if (!apiauth_host_ok(host)) {
        char peer[ADDR_STRLEN];
        peer_text(req, peer, sizeof(peer));
        log_warn("api: refused a request from %s for Host \"%.64s\"", peer, host);
        jsonhttp_send_error(req, 421,
                            "Host \"%.64s\" is not this API: use an IP address or localhost", host);
        api_count(a, m.route, 421);
        return;
    }

    int pending = API_REPLIED;
    switch (m.route) {
    case ROUTE_POOL:
        pending = handle_pool(a, req);
        break;
    case ROUTE_INSTANCE:
        pending = handle_instance(a, req, &m);
        break;
    case ROUTE_RESTART:
        pending = handle_restart(a, req, &m);
        break;
    case ROUTE_HEALTHZ:
        handle_healthz(a, req);
        break;
    case ROUTE_METRICS:
        pending = handle_metrics(a, req);
        break;
    case ROUTE_FORWARDING:
        pending = handle_forwarding(a, req);
        break;
    case ROUTE_PARTITION:
        handle_partition(a, req);
        break;
    case ROUTE_AUTOSCALE:
        handle_autoscale(a, req);
        break;
    case ROUTE_STATUS:
        statuspage_send(req, path);
        break;
    default:
        jsonhttp_send_error(req, 404,
                            "no endpoint %.200s: the API serves /v1/pool, "
                            "/v1/pool/instances/{id}, /v1/forwarding, /v1/partition, "
                            "/v1/autoscale, /healthz and /metrics, and its status page at /",
                            path);
        break;
    }
    /* A reply sent from within this callback leaves req alive until evhttp
     * has written it, so its status can still be read here. */
    if (pending == API_REPLIED)
        api_count(a, m.route, evhttp_request_get_response_code(req));
}

/* ---- setup ---- */

int api_token_prepare(struct manager_config *cfg, char *err, size_t errlen)
{
    int created = 0;
    if (cfg->token_file[0] != '\0') {
        if (apiauth_token_load(cfg->token_file, 1, cfg->token, &cfg->token_len, err, errlen) < 0)
            return -1;
    } else {
        int dirfd = statedir_open(cfg->state_dir, err, errlen);
        if (dirfd < 0)
            return -1;
        int rc = apiauth_token_ensure(dirfd, cfg->state_dir, APIAUTH_TOKEN_NAME, cfg->token,
                                      &cfg->token_len, &created, err, errlen);
        close(dirfd);
        if (rc < 0)
            return -1;
        snprintf(cfg->token_file, sizeof(cfg->token_file), "%s/%s", cfg->state_dir,
                 APIAUTH_TOKEN_NAME);
    }
    if (cfg->no_auth)
        log_warn("api: --no-auth: any process that reaches the API can change the pool; the "
                 "token in %s still guards the balancer",
                 cfg->token_file);
    else
        log_info("api: changes need the bearer token in %s%s", cfg->token_file,
                 created ? " (generated now)" : "");
    return 0;
}

struct api *api_new(struct event_base *base, struct pool *pool, struct scale *scale,
                    const struct manager_config *cfg, char *err, size_t errlen)
{
    char where[ADDR_STRLEN];
    char why[256];
    int fd = -1;
    struct api *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->magic = API_MAGIC;
    a->pool = pool;
    a->scale = scale;
    a->no_auth = cfg->no_auth;
    if (!a->no_auth && cfg->token_len == 0) {
        snprintf(err, errlen, "no token loaded (api_token_prepare was not called)");
        goto fail;
    }
    memcpy(a->token, cfg->token, cfg->token_len);
    a->token_len = cfg->token_len;

    a->http = evhttp_new(base);
    if (a->http == NULL) {
        snprintf(err, errlen, "out of memory creating the HTTP server");
        goto fail;
    }
    addr_format(&cfg->api, where, sizeof(where));
    fd = addr_listen_tcp(&cfg->api, 0, 0, why, sizeof(why));
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s for the API: %s", where, why);
        goto fail;
    }
    struct addr bound;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0 ||
        addr_from_sockaddr(&bound, (struct sockaddr *)&ss, sslen) < 0) {
        snprintf(err, errlen, "cannot read the API's address %s: %s", where, strerror(errno));
        goto fail;
    }
    if (evhttp_accept_socket_with_handle(a->http, fd) == NULL) {
        snprintf(err, errlen, "cannot accept API connections on %s", where);
        goto fail;
    }
    fd = -1; /* the evhttp's now */
    a->port = addr_port(&bound);
    /* Every method we can name, so the handlers answer 405 with Allow in
     * JSON; evhttp answers the rest (CONNECT) 501 itself. */
    evhttp_set_allowed_methods(
        a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                     EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_PATCH);
    evhttp_set_max_headers_size(a->http, API_HEADERS_MAX);
    evhttp_set_max_body_size(a->http, API_READ_MAX);
    evhttp_set_timeout(a->http, API_IDLE_TIMEOUT_S);
    evhttp_set_gencb(a->http, api_handle, a);
    return a;

fail:
    if (fd >= 0)
        close(fd);
    if (a->http != NULL)
        evhttp_free(a->http);
    explicit_bzero(a->token, sizeof(a->token));
    free(a);
    return NULL;
}

void api_free(struct api *a)
{
    if (a == NULL)
        return;
    assert(a->magic == API_MAGIC);
    /* Closes every connection: on_client_close clears the waits' requests. */
    evhttp_free(a->http);
    for (struct api_wait *w = a->waits, *next; w != NULL; w = next) {
        next = w->next;
        if (w->req != NULL && w->evcon == NULL)
            evhttp_request_free(w->req); /* detached from its connection: ours */
        w->api = NULL;
        w->req = NULL;
        w->evcon = NULL;
        w->prev = w->next = NULL;
    }
    explicit_bzero(a->token, sizeof(a->token));
    a->magic = 0;
    free(a);
}

void api_set_stopping(struct api *a)
{
    if (a != NULL)
        a->stopping = 1;
}

int api_port(const struct api *a)
{
    return a->port;
}

void api_set_steer(struct api *a, struct steer *s)
{
    a->steer = s;
}

void api_set_autoscale(struct api *a, struct autoscale *as)
{
    a->autoscale = as;
}
