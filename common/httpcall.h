/* One HTTP/1.1 exchange with a REST API: a blocking socket, one request
 * with Connection: close, the whole reply read under one deadline and framed
 * by common/http1. Small and synchronous on purpose: ppctl does one thing and
 * waits for it; the manager asks a balancer on its own host, with a deadline
 * of a second or two. */
#ifndef PP_HTTPCALL_H
#define PP_HTTPCALL_H

#include <stddef.h>

/* Largest reply body read: a pool of 32 instances is ~8 KiB of JSON. */
#define HTTPCALL_BODY_MAX (1024 * 1024)

/* Where the API is: from "http://HOST[:PORT][/PREFIX]". */
struct httpcall_target {
    char url[512];       /* as given, for messages */
    char host[256];      /* for getaddrinfo: IPv6 without brackets */
    char authority[300]; /* for the Host header: "host:port", IPv6 in brackets */
    char port[8];
    char prefix[256]; /* path before /v1/...: "" or "/manager" (no trailing slash) */
    char agent[32];   /* the User-Agent and the name in messages; "" = "proxypool" */
};

struct httpcall_reply {
    int status;
    char *body; /* NUL-terminated; the caller frees it with httpcall_reply_free */
    size_t len;
};

/* 0, or -1 with err filled when url is not http://HOST[:PORT][/PREFIX]. */
int httpcall_parse_url(const char *url, struct httpcall_target *t, char *err, size_t errlen);

/* Sends method path (prefix prepended) with body (NULL: none) and, when
 * token is not NULL, Authorization: Bearer token; waits at most timeout_ms
 * for the whole reply. 0 with *r filled whatever the status; with err
 * filled, -1 when the request did not reach the API, or -2 when it was sent
 * but no complete reply came back (a change may be running). */
int httpcall_run(const struct httpcall_target *t, const char *method, const char *path,
                 const char *body, const char *token, int timeout_ms, struct httpcall_reply *r,
                 char *err, size_t errlen);

void httpcall_reply_free(struct httpcall_reply *r);

#endif
