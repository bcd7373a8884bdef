/* HTTP exchanges through libevent's client (evhttp): a request with its
 * headers, its reply's status and body to a callback. */
#include "exchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "apiauth.h"
#include "httpcall.h"

static void exchange_reply(struct evhttp_request *req, void *arg)
{
    struct exchange *x = arg;
    x->busy = 0;
    int status = req ? evhttp_request_get_response_code(req) : 0;
    char *body = NULL;
    if (status > 0) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        if (len <= HTTPCALL_BODY_MAX && (body = malloc(len + 1)) != NULL) {
            evbuffer_copyout(in, body, len);
            body[len] = '\0';
        }
    }
    x->done(x->ctx, status > 0 ? status : -1, body);
    free(body);
}

int exchange_start(struct exchange *x, struct event_base *base, const char *host, uint16_t port,
                   const struct exchange_request *rq, exchange_cb done, void *ctx)
{
    if (x->retired)
        exchange_free(x);
    x->retired = 0;
    if (!x->conn) {
        x->conn = evhttp_connection_base_new(base, NULL, host, port);
        if (!x->conn)
            return -1;
        evhttp_connection_set_retries(x->conn, 0);
    }
    struct timeval tv = {rq->timeout_ms / 1000, (rq->timeout_ms % 1000) * 1000};
    evhttp_connection_set_timeout_tv(x->conn, &tv);
    struct evhttp_request *req = evhttp_request_new(exchange_reply, x);
    if (!req)
        return -1;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", rq->host);
    evhttp_add_header(h, "User-Agent", "manager");
    if (rq->token) {
        char auth[APIAUTH_TOKEN_MAX + 16];
        snprintf(auth, sizeof(auth), "Bearer %s", rq->token);
        evhttp_add_header(h, "Authorization", auth);
    }
    if (rq->body) {
        evhttp_add_header(h, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), rq->body, strlen(rq->body));
    }
    enum evhttp_cmd_type method = strcmp(rq->method, "PUT") == 0 ? EVHTTP_REQ_PUT : EVHTTP_REQ_GET;
    if (evhttp_make_request(x->conn, req, method, rq->path) < 0)
        return -1; /* evhttp freed req */
    x->done = done;
    x->ctx = ctx;
    x->busy = 1;
    return 0;
}

void exchange_retire(struct exchange *x)
{
    x->retired = 1;
    x->busy = 0;
}

void exchange_free(struct exchange *x)
{
    if (x->conn)
        evhttp_connection_free(x->conn);
    x->conn = NULL;
    x->busy = 0;
}
