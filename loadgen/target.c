/* The URL, the connect address and the request bytes: everything loadgen
 * decides once before the first request and never again. */
#include "target.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "size.h"

#define USER_AGENT "loadgen/0.1 (proxypool)"

int loadgen_url_parse(const char *url, struct loadgen_url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    if (strncmp(url, "http://", 7) != 0) {
        if (strncmp(url, "https://", 8) == 0)
            snprintf(err, errlen, "https is not supported (http:// only)");
        else
            snprintf(err, errlen, "not an http:// URL");
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)url; *p; p++) {
        if (*p <= 0x20 || *p == 0x7f) {
            snprintf(err, errlen, "space or control byte in the URL");
            return -1;
        }
    }
    const char *auth = url + 7;
    size_t auth_len = strcspn(auth, "/?#");
    if (auth[auth_len] == '#' || strchr(auth, '#')) {
        snprintf(err, errlen, "a fragment (#) is never sent; leave it out");
        return -1;
    }
    if (memchr(auth, '@', auth_len)) {
        snprintf(err, errlen, "user:password@ in the URL is not supported");
        return -1;
    }
    const char *port_sep = NULL;
    size_t host_len = auth_len;
    if (auth_len > 0 && auth[0] == '[') {
        const char *close = memchr(auth, ']', auth_len);
        if (!close) {
            snprintf(err, errlen, "unterminated [IPv6] host");
            return -1;
        }
        host_len = (size_t)(close - auth) + 1;
        if (host_len < auth_len) {
            if (auth[host_len] != ':') {
                snprintf(err, errlen, "junk after the [IPv6] host");
                return -1;
            }
            port_sep = auth + host_len;
        }
    } else {
        port_sep = memchr(auth, ':', auth_len);
        if (port_sep)
            host_len = (size_t)(port_sep - auth);
    }
    if (host_len == 0 || host_len >= sizeof(u->host)) {
        snprintf(err, errlen, host_len == 0 ? "no host" : "host name too long");
        return -1;
    }
    memcpy(u->host, auth, host_len);
    u->port = 80;
    if (port_sep) {
        char port[8];
        size_t plen = auth_len - (size_t)(port_sep + 1 - auth);
        long p;
        char perr[128];
        if (plen == 0 || plen >= sizeof(port)) {
            snprintf(err, errlen, "bad port");
            return -1;
        }
        memcpy(port, port_sep + 1, plen);
        port[plen] = '\0';
        if (int_parse(port, 1, 65535, &p, perr, sizeof(perr)) < 0) {
            snprintf(err, errlen, "port: %s", perr);
            return -1;
        }
        u->port = (int)p;
    }
    const char *path = auth + auth_len;
    if (strlen(path) + 2 > sizeof(u->path)) {
        snprintf(err, errlen, "path too long");
        return -1;
    }
    snprintf(u->path, sizeof(u->path), "%s%s", path[0] == '/' ? "" : "/", path);
    return 0;
}

/* Host header value: the port only when not 80. */
static void format_authority(char *out, size_t cap, const struct loadgen_url *u)
{
    if (u->port == 80)
        snprintf(out, cap, "%s", u->host);
    else
        snprintf(out, cap, "%s:%d", u->host, u->port);
}

int loadgen_target_format_request(char *out, size_t cap, const struct loadgen_url *u, int via_proxy,
                                  int keepalive, const char *extra_headers)
{
    char authority[300];
    format_authority(authority, sizeof(authority), u);
    int n = snprintf(out, cap,
                     "GET %s%s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: " USER_AGENT
                     "\r\nAccept: */*\r\n%s%s\r\n",
                     via_proxy ? "http://" : "", via_proxy ? authority : "", u->path, authority,
                     keepalive ? "" : "Connection: close\r\n", extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return n;
}

static int resolve(const struct loadgen_url *u, struct addr *a, char *err, size_t errlen)
{
    char host[256];
    snprintf(host, sizeof(host), "%s", u->host);
    size_t len = strlen(host);
    if (host[0] == '[') { /* getaddrinfo wants the bare IPv6 literal */
        memmove(host, host + 1, len - 2);
        host[len - 2] = '\0';
    }
    char port[8];
    snprintf(port, sizeof(port), "%d", u->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    /* Numeric first: no resolver is asked about an address. */
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc == EAI_NONAME) {
        hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
        rc = getaddrinfo(host, port, &hints, &res);
    }
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(rc));
        if (res)
            freeaddrinfo(res);
        return -1;
    }
    rc = addr_from_sockaddr(a, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc < 0) {
        snprintf(err, errlen, "'%s' resolved to an unusable address", host);
        return -1;
    }
    return 0;
}

int loadgen_target_init(struct loadgen_target *t, const struct loadgen_config *cfg, char *err,
                        size_t errlen)
{
    memset(t, 0, sizeof(*t));
    if (loadgen_url_parse(cfg->url, &t->url, err, errlen) < 0)
        return -1;
    int via_proxy = cfg->proxy[0] != '\0';
    if (via_proxy)
        t->connect_to = cfg->proxy_addr;
    else if (resolve(&t->url, &t->connect_to, err, errlen) < 0)
        return -1;
    size_t cap = strlen(cfg->url) * 2 + cfg->headers_len + 512;
    t->request = malloc(cap);
    if (!t->request) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int n = loadgen_target_format_request(t->request, cap, &t->url, via_proxy, cfg->keepalive,
                                          cfg->headers);
    if (n < 0) {
        snprintf(err, errlen, "request head does not fit");
        loadgen_target_release(t);
        return -1;
    }
    t->request_len = (size_t)n;
    return 0;
}

void loadgen_target_release(struct loadgen_target *t)
{
    free(t->request);
    t->request = NULL;
    t->request_len = 0;
}
