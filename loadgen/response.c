/* Response framing for loadgen: find the end of each response exactly, so a
 * kept-alive connection stays in step, and count its bytes without keeping
 * them. The strict parser of common/http1 decides what is malformed. */
#include "response.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One parse target per process: loadgen is single-threaded and a head is
 * parsed in one call, so the 3 KiB header array is not per connection. */
static struct http1_response parsed;

void loadgen_response_init(struct loadgen_response *r)
{
    memset(r, 0, sizeof(*r));
    http1_chunked_init(&r->chunked);
}

void loadgen_response_reset(struct loadgen_response *r)
{
    char *head = r->head;
    size_t cap = r->head_cap;
    loadgen_response_init(r);
    r->head = head;
    r->head_cap = cap;
}

void loadgen_response_release(struct loadgen_response *r)
{
    free(r->head);
    r->head = NULL;
    r->head_cap = 0;
    r->head_len = 0;
}

static void fail(struct loadgen_response *r, enum loadgen_error e)
{
    r->state = LOADGEN_RESPONSE_ERROR;
    r->error = e;
}

static int safe_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == ':' || c == '[' || c == ']';
}

static void copy_token(const char *p, size_t len, char *out, size_t cap)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = safe_char(p[i]) ? p[i] : '_';
    out[n] = '\0';
}

void loadgen_response_parse_xcache(const char *value, size_t len, char *cache, size_t cache_cap,
                                   char *proxy, size_t proxy_cap)
{
    cache[0] = '\0';
    proxy[0] = '\0';
    size_t i = 0;
    while (i < len && (value[i] == ' ' || value[i] == '\t'))
        i++;
    size_t start = i;
    while (i < len && value[i] != ' ' && value[i] != '\t')
        i++;
    copy_token(value + start, i - start, cache, cache_cap);
    while (i < len && (value[i] == ' ' || value[i] == '\t'))
        i++;
    if (len - i >= 5 && strncasecmp(value + i, "from", 4) == 0 &&
        (value[i + 4] == ' ' || value[i + 4] == '\t')) {
        i += 5;
        while (i < len && (value[i] == ' ' || value[i] == '\t'))
            i++;
        start = i;
        while (i < len && value[i] != ' ' && value[i] != '\t')
            i++;
        copy_token(value + start, i - start, proxy, proxy_cap);
    }
}

static void take_head(struct loadgen_response *r, const struct http1_response *h)
{
    r->status = h->status;
    r->keep_alive = h->keep_alive;
    r->body = h->body;
    r->body_left = h->content_length;
    /* The proxy nearest to us adds its X-Cache last. */
    const struct http1_header *xc = NULL, *it = NULL;
    while ((it = http1_header_next(h->headers, h->nheaders, it, "X-Cache")) != NULL)
        xc = it;
    if (xc)
        loadgen_response_parse_xcache(xc->value.p, xc->value.len, r->cache, sizeof(r->cache),
                                      r->proxy, sizeof(r->proxy));
    if (r->body == HTTP1_BODY_NONE || (r->body == HTTP1_BODY_LENGTH && r->body_left == 0))
        r->state = LOADGEN_RESPONSE_DONE;
    else
        r->state = LOADGEN_RESPONSE_BODY;
}

/* Keeps a head that spans reads; 0, or -1 past the head limit. */
static int keep_head(struct loadgen_response *r, const char *p, size_t len, size_t max)
{
    if (r->head_len + len > max)
        return -1;
    if (r->head_len + len > r->head_cap) {
        size_t cap = r->head_cap ? r->head_cap : 1024;
        while (cap < r->head_len + len)
            cap *= 2;
        char *grown = realloc(r->head, cap);
        if (!grown)
            return -1;
        r->head = grown;
        r->head_cap = cap;
    }
    memcpy(r->head + r->head_len, p, len);
    r->head_len += len;
    return 0;
}

/* Parses the head from buf (joined to what earlier reads kept). Returns the
 * bytes of buf it used. */
static size_t feed_head(struct loadgen_response *r, const char *buf, size_t len)
{
    static struct http1_limits lim;
    if (lim.max_head_bytes == 0)
        http1_limits_default(&lim);
    size_t kept = r->head_len;
    const char *p = buf;
    size_t plen = len;
    if (kept > 0) {
        size_t room = lim.max_head_bytes + 1 > kept ? lim.max_head_bytes + 1 - kept : 0;
        size_t add = len < room ? len : room;
        if (keep_head(r, buf, add, lim.max_head_bytes + 1) < 0) {
            fail(r, LOADGEN_ERR_BAD_RESPONSE);
            return len;
        }
        p = r->head;
        plen = r->head_len;
    }
    char err[128];
    int rc = http1_parse_response(p, plen, &lim, 0, &parsed, err, sizeof(err));
    if (rc == HTTP1_INCOMPLETE) {
        if (kept == 0 && keep_head(r, buf, len, lim.max_head_bytes + 1) < 0)
            fail(r, LOADGEN_ERR_BAD_RESPONSE);
        return len;
    }
    if (rc < 0) {
        fail(r, LOADGEN_ERR_BAD_RESPONSE);
        return len;
    }
    size_t used = (size_t)rc - kept; /* the head ends inside buf */
    r->head_len = 0;
    if (parsed.status < 200) {
        /* 1xx: informational, the real response follows (101 would switch
         * protocols, which a GET without Upgrade never asks for). */
        if (parsed.status == 101)
            fail(r, LOADGEN_ERR_BAD_RESPONSE);
        return used;
    }
    take_head(r, &parsed);
    return used;
}

size_t loadgen_response_feed(struct loadgen_response *r, const char *buf, size_t len)
{
    size_t used = 0;
    while (used < len && r->state == LOADGEN_RESPONSE_HEAD)
        used += feed_head(r, buf + used, len - used);
    if (r->state == LOADGEN_RESPONSE_BODY && used < len) {
        switch (r->body) {
        case HTTP1_BODY_LENGTH: {
            size_t take = len - used;
            if (take > r->body_left)
                take = (size_t)r->body_left;
            r->body_left -= take;
            r->body_bytes += take;
            used += take;
            if (r->body_left == 0)
                r->state = LOADGEN_RESPONSE_DONE;
            break;
        }
        case HTTP1_BODY_CHUNKED:
            while (used < len && !r->chunked.done) {
                size_t off, dlen;
                char err[128];
                long n = http1_chunked_feed(&r->chunked, buf + used, len - used, &off, &dlen, err,
                                            sizeof(err));
                if (n < 0) {
                    fail(r, LOADGEN_ERR_BAD_RESPONSE);
                    used = len;
                    break;
                }
                r->body_bytes += dlen;
                used += (size_t)n;
                if (n == 0 && !r->chunked.done)
                    break; /* cannot happen with input left; do not spin */
            }
            if (r->chunked.done)
                r->state = LOADGEN_RESPONSE_DONE;
            break;
        case HTTP1_BODY_CLOSE:
            r->body_bytes += len - used;
            used = len;
            break;
        case HTTP1_BODY_NONE:
            r->state = LOADGEN_RESPONSE_DONE;
            break;
        }
    }
    r->bytes_in += used;
    return used;
}

void loadgen_response_eof(struct loadgen_response *r, int reset)
{
    switch (r->state) {
    case LOADGEN_RESPONSE_HEAD:
        fail(r, LOADGEN_ERR_RESET);
        break;
    case LOADGEN_RESPONSE_BODY:
        if (r->body == HTTP1_BODY_CLOSE && !reset)
            r->state = LOADGEN_RESPONSE_DONE;
        else
            fail(r, LOADGEN_ERR_SHORT_BODY);
        break;
    case LOADGEN_RESPONSE_DONE:
    case LOADGEN_RESPONSE_ERROR:
        break;
    }
}
