/* ppctl's one HTTP/1.1 exchange with the manager's REST API: a blocking
 * socket, one request with Connection: close, the whole reply read under one
 * deadline and framed by common/http1. Small and synchronous on purpose: a
 * command-line client does one thing and waits for it. */
#ifndef PP_APICALL_H
#define PP_APICALL_H

#include <stddef.h>

/* Largest reply body read: a pool of 32 instances is ~8 KiB of JSON. */
#define APICALL_BODY_MAX (1024 * 1024)

/* Where the API is: from "http://HOST[:PORT][/PREFIX]". */
struct apicall_target {
    char url[512];       /* as given, for messages */
    char host[256];      /* for getaddrinfo: IPv6 without brackets */
    char authority[300]; /* for the Host header: "host:port", IPv6 in brackets */
    char port[8];
    char prefix[256]; /* path before /v1/...: "" or "/manager" (no trailing slash) */
};

struct apicall_reply {
    int status;
    char *body; /* NUL-terminated; the caller frees it with apicall_reply_free */
    size_t len;
};

/* 0, or -1 with err filled when url is not http://HOST[:PORT][/PREFIX]. */
int apicall_parse_url(const char *url, struct apicall_target *t, char *err, size_t errlen);

/* Sends method path (prefix prepended) with body (NULL: none) and, when
 * token is not NULL, Authorization: Bearer token; waits at most timeout_ms
 * for the whole reply. 0 with *r filled whatever the status; with err
 * filled, -1 when the request did not reach the API, or -2 when it was sent
 * but no complete reply came back (a change may be running). */
int apicall_run(const struct apicall_target *t, const char *method, const char *path,
                const char *body, const char *token, int timeout_ms, struct apicall_reply *r,
                char *err, size_t errlen);

void apicall_reply_free(struct apicall_reply *r);

#endif
