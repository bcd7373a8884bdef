/* JSON REST helpers over libevent's evhttp and cJSON, shared by proxyd's
 * admin endpoint, the manager's REST API and the balancer's admin API: one
 * way to send JSON, one error format for the whole project
 *   {"error": "one clear sentence"}
 * with the status on the status line, bounded JSON request bodies, method
 * checks and Prometheus replies. */
#ifndef PP_JSONHTTP_H
#define PP_JSONHTTP_H

#include <stddef.h>

struct cJSON;
struct evhttp_request;
struct evbuffer;

/* Request bodies above this get 413: the largest REST document we take (a
 * pool spec, a backend set of 32) is a few KiB; 1 MiB is generous. */
#define JSONHTTP_BODY_MAX (1024 * 1024)

/* Every reply below is sent without a body to HEAD (with the Content-Length
 * it would have had) and for 1xx, 204 and 304, as RFC 9110 wants and evhttp
 * does not do by itself. */

/* Replies status with json as the body (compact, newline-terminated),
 * Content-Type application/json. json stays the caller's. On failure to
 * serialize (no memory) replies 500 instead and returns -1. */
int jsonhttp_send(struct evhttp_request *req, int status, const struct cJSON *json);

/* Replies status with {"error": "message"}; the message is one sentence
 * (no trailing period needed), cut at 511 bytes, bytes that are not UTF-8
 * replaced by '?'. */
void jsonhttp_send_error(struct evhttp_request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The request body parsed as JSON (the caller cJSON_Deletes it), whatever
 * its Content-Type. On NULL a reply has been sent: 413 when the body exceeds
 * max_bytes (0 means JSONHTTP_BODY_MAX), 400 when it is empty, holds a NUL
 * byte or is not one JSON value, naming the byte offset where parsing
 * stopped. The handler then just returns. */
struct cJSON *jsonhttp_read_body(struct evhttp_request *req, size_t max_bytes);

/* 0 when the request's method is in allowed, a mask of enum evhttp_cmd_type
 * (EVHTTP_REQ_GET | EVHTTP_REQ_PUT); otherwise replies 405 with an Allow
 * header listing them and returns -1. */
int jsonhttp_check_method(struct evhttp_request *req, int allowed);

/* Replies 200 with body (drained; e.g. filled through common/prom),
 * Content-Type text/plain; version=0.0.4. */
void jsonhttp_send_prom(struct evhttp_request *req, struct evbuffer *body);

#endif
