/* What loadgen requests and where its sockets connect: the URL split into
 * host, port and path, the address to connect to (the proxy's, or the URL
 * host's resolved once at start), and the request bytes, built once and
 * sent unchanged for every request. */
#ifndef PP_LOADGEN_TARGET_H
#define PP_LOADGEN_TARGET_H

#include <stddef.h>

#include "addr.h"

struct loadgen_config;

struct loadgen_url {
    char host[256]; /* as written; an IPv6 literal keeps its brackets */
    int port;       /* 80 when not written */
    char path[2048];
};

/* "http://HOST[:PORT][/PATH[?QUERY]]"; https, userinfo, fragments, spaces
 * and control bytes are refused. Returns 0 or -1 with err filled. */
int loadgen_url_parse(const char *url, struct loadgen_url *u, char *err, size_t errlen);

struct loadgen_target {
    struct loadgen_url url;
    struct addr connect_to; /* the proxy, or the origin */
    char *request;          /* the whole request head */
    size_t request_len;
};

/* Parses the configured URL, resolves its host (numeric, or by name once)
 * unless a proxy is set, and builds the request. 0 or -1 with err filled. */
int loadgen_target_init(struct loadgen_target *t, const struct loadgen_config *cfg, char *err,
                        size_t errlen);
void loadgen_target_release(struct loadgen_target *t);

/* The request head for one URL: origin-form straight to the host, absolute
 * form through a proxy; keep-alive or Connection: close; extra header lines
 * ("Name: value\r\n"...). Returns its length (it is NUL-terminated), or -1
 * when it does not fit in cap. */
int loadgen_target_format_request(char *out, size_t cap, const struct loadgen_url *u, int via_proxy,
                                  int keepalive, const char *extra_headers);

#endif
