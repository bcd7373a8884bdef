/* From a client's request to an origin request: which origin (absolute-form
 * target in forward mode, the Host header and the original destination in
 * intercept mode, the fixed origin in reverse mode), the cache key, and the
 * re-framed head sent upstream — hop-by-hop fields dropped, Via and
 * X-Forwarded-For added, Max-Forwards decremented, conditionals replaced by
 * the cache's own when it fills or revalidates. */
#include "client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>

#include "worker.h"

static int copy_host(struct txn *t, struct http1_str host)
{
    if (host.len == 0 || host.len >= sizeof(t->host))
        return -1;
    for (size_t i = 0; i < host.len; i++)
        t->host[i] = (char)tolower((unsigned char)host.p[i]);
    t->host[host.len] = '\0';
    return 0;
}

static int make_key(struct txn *t)
{
    char port[16] = "";
    if (t->port != 80)
        snprintf(port, sizeof(port), ":%d", t->port);
    size_t n = strlen("http://") + strlen(t->host) + strlen(port) + t->path.len;
    free(t->key); /* routed again: a waiter told SUB_RETRY is dispatched anew */
    t->key = malloc(n + 1);
    if (!t->key)
        return -1;
    int w = snprintf(t->key, n + 1, "http://%s%s", t->host, port);
    memcpy(t->key + w, t->path.p, t->path.len);
    t->key[n] = '\0';
    t->key_len = n;
    return 0;
}

/* Max-Forwards is 1*DIGIT (RFC 9110 §7.6.2); anything else, or several of
 * them, is refused rather than guessed at. Beyond this a count means nothing. */
#define REQUEST_MAX_FORWARDS_MAX 0x7fffffff

static int max_forwards_parse(struct txn *t, const char **reason)
{
    const struct http1_request *r = &t->req;
    const struct http1_header *mf = http1_header_find(r->headers, r->nheaders, "Max-Forwards");
    uint64_t v;
    t->max_forwards = -1;
    if (!mf)
        return 0;
    if (http1_header_next(r->headers, r->nheaders, mf, "Max-Forwards")) {
        *reason = "several Max-Forwards headers";
        return -1;
    }
    /* Within the value's own bytes: the head is not NUL-terminated. */
    if (http1_parse_uint(mf->value, REQUEST_MAX_FORWARDS_MAX, &v) < 0) {
        *reason = "Max-Forwards is not a decimal number";
        return -1;
    }
    t->max_forwards = (int64_t)v;
    return 0;
}

/* Intercept mode (CVE-2009-0801, Squid's host_verify): the fetch goes to
 * the original destination, the address the client connected to, while
 * the cache key is named by Host (or by an absolute URL's authority). If
 * they disagree, one client could plant any response under any site's key.
 * So the authority must lead to the original destination: same port, and a
 * host that is that address, or a name that resolves to it (client.c asks
 * DNS, HOST_CHECK_RESOLVE). When it does not, proxyd still serves the
 * request from the original destination, as Squid does by default, but
 * neither looks it up in the cache, nor stores, shares or invalidates
 * anything for it: the client gets what it would have got without a proxy,
 * and nobody else is affected. Refusing (409, Squid's host_verify_strict)
 * would break clients whose DNS answers differ from the proxy's (CDNs,
 * split horizons) for no gain in safety. A routed request (no DNAT) goes
 * where Host says, so there key and connection agree by construction. */
static void intercept_check_authority(struct client *c, struct http1_str host, int port)
{
    struct txn *t = &c->txn;
    char lit[INET6_ADDRSTRLEN + 2];
    if (t->host_check == HOST_CHECK_MATCH || t->host_check == HOST_CHECK_MISMATCH)
        return; /* routed again (SUB_RETRY): decided already */
    if (port != addr_port(&c->orig_dst)) {
        t->host_check = HOST_CHECK_MISMATCH;
        return;
    }
    const char *p = host.p;
    size_t n = host.len;
    if (n >= 2 && p[0] == '[' && p[n - 1] == ']') {
        p++;
        n -= 2;
    }
    if (n >= sizeof(lit)) {
        t->host_check = HOST_CHECK_RESOLVE; /* too long for an address: a name */
        return;
    }
    memcpy(lit, p, n);
    lit[n] = '\0';
    struct in_addr a4;
    struct in6_addr a6;
    const struct sockaddr *dst = (const struct sockaddr *)&c->orig_dst.ss;
    if (inet_pton(AF_INET, lit, &a4) == 1) {
        t->host_check =
            dst->sa_family == AF_INET &&
                    memcmp(&((const struct sockaddr_in *)dst)->sin_addr, &a4, sizeof(a4)) == 0
                ? HOST_CHECK_MATCH
                : HOST_CHECK_MISMATCH;
    } else if (inet_pton(AF_INET6, lit, &a6) == 1) {
        t->host_check =
            dst->sa_family == AF_INET6 &&
                    memcmp(&((const struct sockaddr_in6 *)dst)->sin6_addr, &a6, sizeof(a6)) == 0
                ? HOST_CHECK_MATCH
                : HOST_CHECK_MISMATCH;
    } else {
        t->host_check = HOST_CHECK_RESOLVE;
    }
}

int request_route(struct client *c, int *status, const char **reason)
{
    struct txn *t = &c->txn;
    struct http1_request *r = &t->req;
    const struct http1_header *host_h = http1_header_find(r->headers, r->nheaders, "Host");
    struct http1_str host;
    *status = 400;

    if (max_forwards_parse(t, reason) < 0)
        return -1;

    /* RFC 9112 §3.2: a 1.1 request without exactly one Host is refused. */
    if (r->version_minor == 1 &&
        (!host_h || http1_header_next(r->headers, r->nheaders, host_h, "Host"))) {
        *reason = "HTTP/1.1 request without exactly one Host header";
        return -1;
    }
    switch (c->ls->mode) {
    case LISTEN_FORWARD:
        if (http1_split_absolute(r->target, &host, &t->port, &t->path) < 0) {
            *reason = r->target.len && r->target.p[0] == '/'
                          ? "a forward proxy needs an absolute URL (http://host/path)"
                          : "unsupported or malformed URL";
            return -1;
        }
        break;
    case LISTEN_INTERCEPT:
    case LISTEN_REVERSE:
        if (r->target.len == 0 || r->target.p[0] != '/') {
            /* Absolute form is allowed here too (RFC 9112 §3.2.2). */
            if (http1_split_absolute(r->target, &host, &t->port, &t->path) < 0) {
                *reason = "malformed request target";
                return -1;
            }
            if (c->ls->mode == LISTEN_REVERSE) {
                host.p = c->ls->origin_host;
                host.len = strlen(c->ls->origin_host);
                t->port = c->ls->origin_port;
            } else if (c->have_orig_dst) {
                intercept_check_authority(c, host, t->port);
                t->port = addr_port(&c->orig_dst);
            }
            break;
        }
        t->path = r->target;
        if (c->ls->mode == LISTEN_REVERSE) {
            host.p = c->ls->origin_host;
            host.len = strlen(c->ls->origin_host);
            t->port = c->ls->origin_port;
        } else {
            int default_port = c->have_orig_dst ? addr_port(&c->orig_dst) : 80;
            if (!host_h ||
                http1_split_authority(host_h->value, default_port, &host, &t->port) < 0) {
                *reason = "intercepted request without a usable Host header";
                return -1;
            }
            if (c->have_orig_dst) {
                intercept_check_authority(c, host, t->port);
                t->port = addr_port(&c->orig_dst);
            }
        }
        break;
    }
    if (copy_host(t, host) < 0) {
        *reason = "bad host name";
        return -1;
    }
    if (make_key(t) < 0) {
        *status = 500;
        *reason = "out of memory";
        return -1;
    }
    if (c->ls->mode == LISTEN_INTERCEPT && c->have_orig_dst) {
        /* Key on the destination actually reached, named by Host. */
        char dst[ADDR_STRLEN];
        addr_format_host(&c->orig_dst, dst, sizeof(dst));
        snprintf(t->hier, sizeof(t->hier), "ORIGINAL_DST/%s", dst);
    } else {
        snprintf(t->hier, sizeof(t->hier), "HIER_DIRECT/%s", t->host);
    }
    return 0;
}

static int via_token(const struct client *c, char *out, size_t outlen)
{
    return snprintf(out, outlen, "%s (proxyd)", c->w->cfg->name);
}

int request_is_loop(const struct client *c)
{
    const struct http1_request *r = &c->txn.req;
    char tok[128];
    int n = via_token(c, tok, sizeof(tok));
    const struct http1_header *h = NULL;
    while ((h = http1_header_next(r->headers, r->nheaders, h, "Via"))) {
        if (h->value.len >= (size_t)n && memmem(h->value.p, h->value.len, tok, (size_t)n))
            return 1;
    }
    return 0;
}

static int is_conditional(struct http1_str name)
{
    return http1_str_caseeq(name, "If-Modified-Since") || http1_str_caseeq(name, "If-None-Match") ||
           http1_str_caseeq(name, "If-Range") || http1_str_caseeq(name, "Range");
}

int request_build(struct client *c, struct evbuffer *out, int strip_conditionals,
                  const struct object *stale)
{
    struct txn *t = &c->txn;
    struct http1_request *r = &t->req;
    const struct http1_header *xff = NULL;
    evbuffer_add(out, r->method.p, r->method.len);
    evbuffer_add(out, " ", 1);
    evbuffer_add(out, t->path.p, t->path.len);
    evbuffer_add(out, " HTTP/1.1\r\n", 11);

    /* Host: the client's in intercept mode (it names the site the client
     * reached, checked against the original destination by request_route);
     * the URL's in forward mode; in reverse mode the configured origin's, as
     * nginx's proxy_set_header Host $proxy_host default: the cache key names
     * the configured origin whatever Host the client sent, so the origin must
     * be asked the same question for every client, or one Host (a virtual
     * host the origin also serves) would be stored under every client's key. */
    const struct http1_header *host_h = http1_header_find(r->headers, r->nheaders, "Host");
    if (c->ls->mode == LISTEN_INTERCEPT && host_h) {
        evbuffer_add_printf(out, "Host: %.*s\r\n", (int)host_h->value.len, host_h->value.p);
    } else if (t->port == 80) {
        evbuffer_add_printf(out, "Host: %s\r\n", t->host);
    } else {
        evbuffer_add_printf(out, "Host: %s:%d\r\n", t->host, t->port);
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        const struct http1_header *h = &r->headers[i];
        if (http1_str_caseeq(h->name, "Host") || http1_is_hop_by_hop(h->name) ||
            http1_connection_lists(r->headers, r->nheaders, h->name) ||
            http1_str_caseeq(h->name, "Content-Length") || http1_str_caseeq(h->name, "Expect") ||
            http1_str_caseeq(h->name, "Max-Forwards"))
            continue;
        if (http1_str_caseeq(h->name, "X-Forwarded-For")) {
            xff = h; /* appended to below */
            continue;
        }
        if (strip_conditionals && is_conditional(h->name))
            continue;
        evbuffer_add(out, h->name.p, h->name.len);
        evbuffer_add(out, ": ", 2);
        evbuffer_add(out, h->value.p, h->value.len);
        evbuffer_add(out, "\r\n", 2);
    }
    if (t->max_forwards >= 0)
        evbuffer_add_printf(out, "Max-Forwards: %lld\r\n",
                            (long long)(t->max_forwards > 0 ? t->max_forwards - 1 : 0));
    if (r->body == HTTP1_BODY_LENGTH)
        evbuffer_add_printf(out, "Content-Length: %llu\r\n", (unsigned long long)r->content_length);
    else if (r->body == HTTP1_BODY_CHUNKED)
        evbuffer_add(out, "Transfer-Encoding: chunked\r\n", 28);
    char peer[ADDR_STRLEN];
    addr_format_host(&c->peer, peer, sizeof(peer));
    if (xff)
        evbuffer_add_printf(out, "X-Forwarded-For: %.*s, %s\r\n", (int)xff->value.len, xff->value.p,
                            peer);
    else
        evbuffer_add_printf(out, "X-Forwarded-For: %s\r\n", peer);
    evbuffer_add_printf(out, "Via: 1.%d %s (proxyd)\r\n", r->version_minor, c->w->cfg->name);
    if (stale) {
        const struct http1_header *etag = object_header(stale, "ETag");
        const struct http1_header *lm = object_header(stale, "Last-Modified");
        if (etag)
            evbuffer_add_printf(out, "If-None-Match: %.*s\r\n", (int)etag->value.len,
                                etag->value.p);
        if (lm)
            evbuffer_add_printf(out, "If-Modified-Since: %.*s\r\n", (int)lm->value.len,
                                lm->value.p);
    }
    evbuffer_add(out, "\r\n", 2);
    return 0;
}
