/* One blocking HTTP/1.1 exchange with a REST API (ppctl with the manager's,
 * the manager with the balancer's admin): resolve, connect, send, and read
 * the reply until it is complete by its own framing (Content-Length,
 * chunked, or the close), all under one deadline. Replies are parsed by
 * common/http1, as strictly as proxyd parses them. */
#include "httpcall.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "http1.h"

/* Room for the head before the body: common/http1's default head limit. */
#define HTTPCALL_HEAD_MAX (32 * 1024)
#define HTTPCALL_READ_CHUNK 16384

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(int64_t deadline_ms)
{
    int64_t left = deadline_ms - now_ms();
    return left < 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

int httpcall_parse_url(const char *url, struct httpcall_target *t, char *err, size_t errlen)
{
    struct http1_str u = {url, strlen(url)}, host, path;
    int port;
    memset(t, 0, sizeof(*t));
    if (u.len >= sizeof(t->url) || http1_split_absolute(u, &host, &port, &path) < 0 ||
        memchr(path.p, '?', path.len) != NULL || memchr(path.p, '#', path.len) != NULL ||
        host.len + 2 > sizeof(t->host) || path.len >= sizeof(t->prefix)) {
        snprintf(err, errlen, "'%s' is not an API address of the form http://HOST[:PORT][/PREFIX]",
                 url);
        return -1;
    }
    snprintf(t->url, sizeof(t->url), "%s", url);
    snprintf(t->authority, sizeof(t->authority), "%.*s:%d", (int)host.len, host.p, port);
    if (host.len >= 2 && host.p[0] == '[') /* getaddrinfo wants IPv6 bare */
        snprintf(t->host, sizeof(t->host), "%.*s", (int)host.len - 2, host.p + 1);
    else
        snprintf(t->host, sizeof(t->host), "%.*s", (int)host.len, host.p);
    snprintf(t->port, sizeof(t->port), "%d", port);
    while (path.len > 0 && path.p[path.len - 1] == '/')
        path.len--;
    snprintf(t->prefix, sizeof(t->prefix), "%.*s", (int)path.len, path.p);
    return 0;
}

/* A connected non-blocking socket, or -1 with why filled. */
static int connect_by(const struct addrinfo *ai, int64_t deadline_ms, int timeout_ms, char *why,
                      size_t whylen)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno != EINPROGRESS) {
        snprintf(why, whylen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    struct pollfd pfd = {fd, POLLOUT, 0};
    int n;
    while ((n = poll(&pfd, 1, remaining_ms(deadline_ms))) < 0 && errno == EINTR)
        ;
    if (n == 0) {
        snprintf(why, whylen, "no connection within %g s", timeout_ms / 1000.0);
        close(fd);
        return -1;
    }
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0) {
        snprintf(why, whylen, "%s", strerror(n < 0 ? errno : soerr != 0 ? soerr : errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int connect_target(const struct httpcall_target *t, int64_t deadline_ms, int timeout_ms,
                          char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(t->host, t->port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot reach the API at %s: cannot resolve %s: %s", t->url, t->host,
                 gai_strerror(rc));
        return -1;
    }
    char why[128] = "no address";
    int fd = -1;
    for (const struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
        fd = connect_by(ai, deadline_ms, timeout_ms, why, sizeof(why));
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(err, errlen, "cannot reach the API at %s: %s", t->url, why);
    return fd;
}

/* Waits until fd is ready for events or the deadline passes: 1, 0 on
 * timeout, -1 on error. */
static int wait_for(int fd, short events, int64_t deadline_ms)
{
    struct pollfd pfd = {fd, events, 0};
    int n;
    while ((n = poll(&pfd, 1, remaining_ms(deadline_ms))) < 0 && errno == EINTR)
        ;
    return n;
}

static char *build_request(const struct httpcall_target *t, const char *method, const char *path,
                           const char *body, const char *token, size_t *len)
{
    size_t body_len = body != NULL ? strlen(body) : 0;
    size_t cap = 1024 + sizeof(t->agent) + strlen(t->prefix) + strlen(path) + strlen(t->authority) +
                 (token != NULL ? strlen(token) : 0) + body_len;
    char *req = malloc(cap);
    if (req == NULL)
        return NULL;
    int n = snprintf(req, cap,
                     "%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
                     "Accept: application/json\r\nConnection: close\r\n",
                     method, t->prefix, path, t->authority, t->agent[0] ? t->agent : "proxypool");
    if (token != NULL)
        n += snprintf(req + n, cap - (size_t)n, "Authorization: Bearer %s\r\n", token);
    if (body != NULL)
        n += snprintf(req + n, cap - (size_t)n, "Content-Type: application/json\r\n");
    /* Content-Length even when 0, so a POST without a body is unambiguous. */
    if (body != NULL || strcmp(method, "GET") != 0)
        n += snprintf(req + n, cap - (size_t)n, "Content-Length: %zu\r\n", body_len);
    n += snprintf(req + n, cap - (size_t)n, "\r\n");
    if (body_len > 0)
        memcpy(req + n, body, body_len);
    *len = (size_t)n + body_len;
    return req;
}

/* 0, -1 with errno set, or -2 when the deadline passed. */
static int send_all(int fd, const char *p, size_t len, int64_t deadline_ms)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            int w = wait_for(fd, POLLOUT, deadline_ms);
            if (w <= 0)
                return w == 0 ? -2 : -1;
        } else {
            return -1;
        }
    }
    return 0;
}

static int set_body(struct httpcall_reply *r, const char *p, size_t len)
{
    r->body = malloc(len + 1);
    if (r->body == NULL)
        return -1;
    memcpy(r->body, p, len);
    r->body[len] = '\0';
    r->len = len;
    return 0;
}

static int decode_chunked(struct httpcall_reply *r, const char *b, size_t blen, int *done,
                          char *perr, size_t perrlen)
{
    struct http1_chunked ch;
    http1_chunked_init(&ch);
    char *out = malloc(blen + 1);
    if (out == NULL) {
        snprintf(perr, perrlen, "out of memory");
        return -1;
    }
    size_t olen = 0, pos = 0;
    while (pos < blen && !ch.done) {
        size_t doff = 0, dlen = 0;
        long n = http1_chunked_feed(&ch, b + pos, blen - pos, &doff, &dlen, perr, perrlen);
        if (n < 0) {
            free(out);
            return -1;
        }
        memcpy(out + olen, b + pos + doff, dlen);
        olen += dlen;
        pos += (size_t)n;
        if (n == 0)
            break;
    }
    *done = ch.done;
    if (ch.done) {
        out[olen] = '\0';
        r->body = out;
        r->len = olen;
    } else {
        free(out);
    }
    return 0;
}

/* Whether buf holds a whole reply: 1 (r filled), 0 (read more), or -1 with
 * perr filled (malformed, or cut short when eof). */
static int try_frame(const char *buf, size_t len, int eof, struct httpcall_reply *r, char *perr,
                     size_t perrlen)
{
    struct http1_response resp;
    struct http1_limits lim;
    http1_limits_default(&lim);
    size_t off = 0;
    int head;
    for (;;) {
        head = http1_parse_response(buf + off, len - off, &lim, 0, &resp, perr, perrlen);
        if (head == HTTP1_INCOMPLETE) {
            snprintf(perr, perrlen, "the connection closed before a complete reply");
            return eof ? -1 : 0;
        }
        if (head == HTTP1_ERROR)
            return -1;
        if (resp.status >= 200)
            break;
        off += (size_t)head; /* 1xx: the real reply follows */
    }
    const char *b = buf + off + (size_t)head;
    size_t blen = len - off - (size_t)head;
    int done = 0;
    switch (resp.body) {
    case HTTP1_BODY_NONE:
        done = 1;
        blen = 0;
        break;
    case HTTP1_BODY_LENGTH:
        if (resp.content_length > HTTPCALL_BODY_MAX) {
            snprintf(perr, perrlen, "the reply body is larger than %d bytes", HTTPCALL_BODY_MAX);
            return -1;
        }
        done = blen >= resp.content_length;
        blen = (size_t)resp.content_length;
        break;
    case HTTP1_BODY_CLOSE:
        done = eof;
        break;
    case HTTP1_BODY_CHUNKED:
        if (decode_chunked(r, b, blen, &done, perr, perrlen) < 0)
            return -1;
        if (done) {
            r->status = resp.status;
            return 1;
        }
        break;
    }
    if (!done) {
        snprintf(perr, perrlen, "the connection closed before the whole reply body");
        return eof ? -1 : 0;
    }
    if (set_body(r, b, blen) < 0) {
        snprintf(perr, perrlen, "out of memory");
        return -1;
    }
    r->status = resp.status;
    return 1;
}

int httpcall_run(const struct httpcall_target *t, const char *method, const char *path,
                 const char *body, const char *token, int timeout_ms, struct httpcall_reply *r,
                 char *err, size_t errlen)
{
    int64_t deadline_ms = now_ms() + timeout_ms;
    memset(r, 0, sizeof(*r));
    char *buf = NULL;
    size_t req_len = 0;
    char *req = build_request(t, method, path, body, token, &req_len);
    if (req == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = -1;
    int fd = connect_target(t, deadline_ms, timeout_ms, err, errlen);
    if (fd < 0)
        goto fail;
    int sent = send_all(fd, req, req_len, deadline_ms);
    if (sent < 0) {
        snprintf(err, errlen, "cannot send to the API at %s: %s", t->url,
                 sent == -2 ? "timed out" : strerror(errno));
        goto fail;
    }
    rc = -2; /* from here on the API may have acted on the request */

    size_t cap = HTTPCALL_HEAD_MAX + HTTPCALL_BODY_MAX, len = 0;
    buf = malloc(cap);
    if (buf == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (;;) {
        char perr[160];
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            int w = wait_for(fd, POLLIN, deadline_ms);
            if (w == 0) {
                snprintf(err, errlen, "no answer from the API at %s within %g s", t->url,
                         timeout_ms / 1000.0);
                goto fail;
            }
            if (w < 0) {
                snprintf(err, errlen, "waiting for the API at %s: %s", t->url, strerror(errno));
                goto fail;
            }
            continue;
        }
        if (n < 0) {
            snprintf(err, errlen, "reading from the API at %s: %s", t->url, strerror(errno));
            goto fail;
        }
        if (n == 0 && len == 0) {
            snprintf(err, errlen, "the API at %s closed the connection without answering", t->url);
            goto fail;
        }
        len += (size_t)n;
        int framed = try_frame(buf, len, n == 0, r, perr, sizeof(perr));
        if (framed == 1)
            break;
        if (framed < 0 || len == cap) {
            snprintf(err, errlen, "the API at %s sent a reply %s cannot read: %s", t->url,
                     t->agent[0] ? t->agent : "proxypool", framed < 0 ? perr : "too large");
            goto fail;
        }
    }
    close(fd);
    free(buf);
    free(req);
    return 0;

fail:
    if (fd >= 0)
        close(fd);
    free(buf);
    free(req);
    httpcall_reply_free(r);
    return rc;
}

void httpcall_reply_free(struct httpcall_reply *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}
