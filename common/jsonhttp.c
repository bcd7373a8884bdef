/* JSON REST helpers: replies with JSON or Prometheus text, the project's one
 * error body, bounded and strictly parsed JSON request bodies, and 405 with
 * Allow. Used inside evhttp request callbacks; never logs (the handler that
 * knows what the request was for does). */
#include "jsonhttp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

/* Longest error message sent; longer ones are cut. */
#define JSONHTTP_MESSAGE_MAX 512

static const struct {
    enum evhttp_cmd_type cmd;
    const char *name;
} methods[] = {
    {EVHTTP_REQ_GET, "GET"},         {EVHTTP_REQ_HEAD, "HEAD"},   {EVHTTP_REQ_POST, "POST"},
    {EVHTTP_REQ_PUT, "PUT"},         {EVHTTP_REQ_PATCH, "PATCH"}, {EVHTTP_REQ_DELETE, "DELETE"},
    {EVHTTP_REQ_OPTIONS, "OPTIONS"}, {EVHTTP_REQ_TRACE, "TRACE"}, {EVHTTP_REQ_CONNECT, "CONNECT"},
};

static void set_content_type(struct evhttp_request *req, const char *type)
{
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    evhttp_remove_header(headers, "Content-Type");
    evhttp_add_header(headers, "Content-Type", type);
}

/* evhttp 2.1 writes the body even for HEAD, and after a 204 or 304: bytes
 * the client does not expect, which would corrupt the next response on a
 * kept-alive connection. A HEAD reply says the length it would have had. */
static void send_reply(struct evhttp_request *req, int status, struct evbuffer *body)
{
    int no_body = status < 200 || status == 204 || status == 304;
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        char len[32];
        snprintf(len, sizeof(len), "%zu", evbuffer_get_length(body));
        struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
        evhttp_remove_header(headers, "Content-Length");
        if (!no_body)
            evhttp_add_header(headers, "Content-Length", len);
        no_body = 1;
    }
    if (no_body)
        evbuffer_drain(body, evbuffer_get_length(body));
    evhttp_send_reply(req, status, NULL, body);
}

/* Last resort when even the error body cannot be built. */
static void send_out_of_memory(struct evhttp_request *req)
{
    evhttp_send_error(req, HTTP_INTERNAL, "Out of memory");
}

int jsonhttp_send(struct evhttp_request *req, int status, const struct cJSON *json)
{
    char *text = cJSON_PrintUnformatted(json);
    struct evbuffer *body = evbuffer_new();
    if (text == NULL || body == NULL || evbuffer_add(body, text, strlen(text)) < 0 ||
        evbuffer_add(body, "\n", 1) < 0) {
        cJSON_free(text);
        evbuffer_free(body);
        send_out_of_memory(req);
        return -1;
    }
    cJSON_free(text);
    set_content_type(req, "application/json");
    send_reply(req, status, body);
    evbuffer_free(body);
    return 0;
}

/* Messages may quote client input; JSON must be UTF-8, so bytes that do not
 * form a UTF-8 sequence become '?'. (cJSON escapes control characters.) */
static void sanitize_utf8(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p != '\0') {
        int n = *p < 0x80             ? 0
                : (*p & 0xe0) == 0xc0 ? 1
                : (*p & 0xf0) == 0xe0 ? 2
                : (*p & 0xf8) == 0xf0 ? 3
                                      : -1;
        int ok = n >= 0;
        for (int i = 1; ok && i <= n; i++)
            ok = (p[i] & 0xc0) == 0x80;
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n + 1;
    }
}

void jsonhttp_send_error(struct evhttp_request *req, int status, const char *fmt, ...)
{
    char message[JSONHTTP_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    sanitize_utf8(message);

    cJSON *root = cJSON_CreateObject();
    if (root == NULL || cJSON_AddStringToObject(root, "error", message) == NULL) {
        cJSON_Delete(root);
        send_out_of_memory(req);
        return;
    }
    jsonhttp_send(req, status, root);
    cJSON_Delete(root);
}

/* 1-based line and column of byte offset in text, for people reading the
 * error. */
static void line_column(const char *text, size_t offset, size_t *line, size_t *column)
{
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < offset; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *column = 1;
        } else {
            (*column)++;
        }
    }
}

struct cJSON *jsonhttp_read_body(struct evhttp_request *req, size_t max_bytes)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (max_bytes == 0)
        max_bytes = JSONHTTP_BODY_MAX;

    if (len > max_bytes) {
        jsonhttp_send_error(req, HTTP_ENTITYTOOLARGE, "request body is %zu bytes, the limit is %zu",
                            len, max_bytes);
        return NULL;
    }
    if (len == 0) {
        jsonhttp_send_error(req, HTTP_BADREQUEST, "request body is empty, JSON expected");
        return NULL;
    }
    char *text = malloc(len + 1);
    if (text == NULL) {
        send_out_of_memory(req);
        return NULL;
    }
    evbuffer_copyout(in, text, len);
    text[len] = '\0';
    /* cJSON reads up to the first NUL: what follows would be ignored, so a
     * body with one is not a JSON text. */
    const char *nul = memchr(text, '\0', len);
    if (nul != NULL) {
        jsonhttp_send_error(req, HTTP_BADREQUEST, "invalid JSON: NUL byte at byte %zu",
                            (size_t)(nul - text));
        free(text);
        return NULL;
    }

    const char *end = NULL;
    cJSON *json = cJSON_ParseWithOpts(text, &end, 1); /* 1: nothing but spaces after it */
    if (json == NULL) {
        size_t offset = end != NULL && end >= text ? (size_t)(end - text) : 0;
        size_t line, column;
        line_column(text, offset, &line, &column);
        jsonhttp_send_error(req, HTTP_BADREQUEST, "invalid JSON at byte %zu (line %zu, column %zu)",
                            offset, line, column);
    }
    free(text);
    return json;
}

int jsonhttp_check_method(struct evhttp_request *req, int allowed)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if ((int)cmd & allowed)
        return 0;

    char allow[128] = "";
    const char *name = "?";
    size_t used = 0;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (methods[i].cmd == cmd)
            name = methods[i].name;
        if ((int)methods[i].cmd & allowed)
            used += (size_t)snprintf(allow + used, sizeof(allow) - used, "%s%s",
                                     used > 0 ? ", " : "", methods[i].name);
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
    jsonhttp_send_error(req, HTTP_BADMETHOD, "method %s not allowed here; allowed: %s", name,
                        allow);
    return -1;
}

void jsonhttp_send_prom(struct evhttp_request *req, struct evbuffer *body)
{
    set_content_type(req, "text/plain; version=0.0.4");
    send_reply(req, HTTP_OK, body);
}
