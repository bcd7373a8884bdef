/* HTTP/1.1 message framing (RFC 9112): request and response heads and the
 * incremental chunked-body decoder. Sits first on every path that reads
 * HTTP from a socket, so it decides where each message ends; any framing two
 * implementations could read differently (smuggling) is an error here.
 * Chunked bodies are decoded by http1_chunked.c, fields read by
 * http1_fields.c. */
#include "http1.h"
#include "http1_internal.h"

#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const unsigned char http1_tchar_map[256] = {
    ['0' ... '9'] = 1, ['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['!'] = 1, ['#'] = 1, ['$'] = 1,
    ['%'] = 1,         ['&'] = 1,         ['\''] = 1,        ['*'] = 1, ['+'] = 1, ['-'] = 1,
    ['.'] = 1,         ['^'] = 1,         ['_'] = 1,         ['`'] = 1, ['|'] = 1, ['~'] = 1,
};

void http1_err_set(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Content-Length and chunked totals stop at INT64_MAX so callers may hold
 * them in off_t or ev_ssize_t without turning a huge value negative. */
#define HTTP1_MAX_BODY_BYTES ((uint64_t)INT64_MAX)

/* tchar (RFC 9110 §5.6.2): the characters of methods, field names and
 * transfer codings. */
static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* field-vchar, SP and HTAB: what a field value or reason phrase may hold. */
static int is_field_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static const char *ctl_name(unsigned char c)
{
    switch (c) {
    case 0:
        return "NUL";
    case '\r':
        return "bare CR";
    case '\n':
        return "bare LF";
    default:
        return "control character";
    }
}

/* Head parsing ------------------------------------------------------------ */

/* The line starting at `start` in buf[0..n): 1 with *end at the end of its
 * content (before CRLF or LF) and *next after the LF; 0 when no LF has
 * arrived yet, with *end after the content seen so far (a final CR may be
 * half a CRLF, so it is not counted). A CR anywhere else in the content is
 * left for the character checks to reject as a bare CR. */
static int line_next(const char *buf, size_t n, size_t start, size_t *end, size_t *next)
{
    const char *lf = memchr(buf + start, '\n', n - start);
    if (!lf) {
        size_t e = n;
        if (e > start && buf[e - 1] == '\r')
            e--;
        *end = e;
        return 0;
    }
    size_t i = (size_t)(lf - buf);
    *next = i + 1;
    *end = (i > start && buf[i - 1] == '\r') ? i - 1 : i;
    return 1;
}

/* One field line "name: value" (RFC 9112 §5). */
static int field_parse(const char *p, size_t n, struct http1_header *h, char *err, size_t errlen)
{
    size_t i = 0;
    if (n > 0 && http1_is_ows((unsigned char)p[0])) {
        http1_err_set(err, errlen, "header line starts with whitespace (obs-fold)");
        return -1;
    }
    while (i < n && http1_is_tchar((unsigned char)p[i]))
        i++;
    if (i == n) {
        http1_err_set(err, errlen, "header line without a colon");
        return -1;
    }
    if (p[i] != ':') {
        unsigned char c = (unsigned char)p[i];
        if (http1_is_ows(c))
            http1_err_set(err, errlen, "whitespace before the colon in a header line");
        else if (c < 0x20 || c == 0x7f)
            http1_err_set(err, errlen, "%s in a header name", ctl_name(c));
        else
            http1_err_set(err, errlen, "invalid character 0x%02x in a header name", c);
        return -1;
    }
    if (i == 0) {
        http1_err_set(err, errlen, "empty header name");
        return -1;
    }
    h->name.p = p;
    h->name.len = i;

    i++;
    while (i < n && http1_is_ows((unsigned char)p[i]))
        i++;
    size_t vstart = i;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (!is_field_char(c)) {
            http1_err_set(err, errlen, "%s in the value of header %.*s", ctl_name(c),
                          (int)h->name.len, h->name.p);
            return -1;
        }
    }
    size_t vend = n;
    while (vend > vstart && http1_is_ows((unsigned char)p[vend - 1]))
        vend--;
    h->value.p = p + vstart;
    h->value.len = vend - vstart;
    return 0;
}

/* Field lines from `pos` to the blank line. Returns the head's length,
 * HTTP1_INCOMPLETE, or HTTP1_ERROR with *status (400 or 431). */
static int fields_parse(const char *buf, size_t n, size_t pos, const struct http1_limits *lim,
                        struct http1_header *headers, size_t *nheaders, int *status, char *err,
                        size_t errlen)
{
    size_t max_headers =
        lim->max_headers < HTTP1_MAX_HEADERS ? lim->max_headers : HTTP1_MAX_HEADERS;
    for (;;) {
        size_t end, next;
        int complete = line_next(buf, n, pos, &end, &next);
        if (end - pos > lim->max_line_bytes) {
            *status = 431;
            http1_err_set(err, errlen, "header line longer than %zu bytes", lim->max_line_bytes);
            return HTTP1_ERROR;
        }
        if (!complete)
            return HTTP1_INCOMPLETE;
        if (end == pos)
            return (int)next;
        if (*nheaders >= max_headers) {
            *status = 431;
            http1_err_set(err, errlen, "more than %zu header lines", max_headers);
            return HTTP1_ERROR;
        }
        if (field_parse(buf + pos, end - pos, &headers[*nheaders], err, errlen) < 0) {
            *status = 400;
            return HTTP1_ERROR;
        }
        (*nheaders)++;
        pos = next;
    }
}

/* "HTTP/1.0" or "HTTP/1.1"; other well-formed versions are 505. */
static int version_parse(const char *p, size_t n, int *minor, int *status, char *err, size_t errlen)
{
    if (n != 8 || memcmp(p, "HTTP/", 5) != 0 || !is_digit((unsigned char)p[5]) || p[6] != '.' ||
        !is_digit((unsigned char)p[7])) {
        *status = 400;
        http1_err_set(err, errlen, "malformed HTTP version");
        return -1;
    }
    if (p[5] != '1' || (p[7] != '0' && p[7] != '1')) {
        *status = 505;
        http1_err_set(err, errlen, "unsupported version %.8s", p);
        return -1;
    }
    *minor = p[7] - '0';
    return 0;
}

/* method SP request-target SP HTTP-version, single spaces only. */
static int request_line_parse(const char *p, size_t n, struct http1_request *req, char *err,
                              size_t errlen)
{
    size_t i = 0;
    while (i < n && http1_is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i == n || p[i] != ' ') {
        req->error_status = 400;
        http1_err_set(err, errlen, "malformed method in the request line");
        return -1;
    }
    req->method.p = p;
    req->method.len = i;

    size_t t = ++i;
    while (i < n && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] != 0x7f)
        i++;
    if (i == t) {
        req->error_status = 400;
        http1_err_set(err, errlen, "empty request target");
        return -1;
    }
    if (i == n || p[i] != ' ') {
        req->error_status = 400;
        if (i == n)
            http1_err_set(err, errlen, "request line without an HTTP version");
        else
            http1_err_set(err, errlen, "%s in the request target", ctl_name((unsigned char)p[i]));
        return -1;
    }
    req->target.p = p + t;
    req->target.len = i - t;
    i++;
    return version_parse(p + i, n - i, &req->version_minor, &req->error_status, err, errlen);
}

/* Framing fields --------------------------------------------------------- */

/* All Content-Length fields and list elements must be the same run of
 * digits; "42, 42" collapses to 42 (RFC 9110 §8.6). An empty value is an
 * error, never 0 (HAProxy CVE-2023-40225). */
static int content_length_parse(const struct http1_header *h, size_t n, int *present, uint64_t *cl,
                                char *err, size_t errlen)
{
    *present = 0;
    *cl = 0;
    for (const struct http1_header *f = http1_header_find(h, n, "Content-Length"); f;
         f = http1_header_next(h, n, f, "Content-Length")) {
        const char *p = f->value.p;
        size_t len = f->value.len;
        size_t i = 0;
        if (len == 0) {
            http1_err_set(err, errlen, "empty Content-Length");
            return -1;
        }
        for (;;) {
            while (i < len && http1_is_ows((unsigned char)p[i]))
                i++;
            size_t start = i;
            uint64_t v = 0;
            for (; i < len && is_digit((unsigned char)p[i]); i++) {
                unsigned d = (unsigned)(p[i] - '0');
                if (v > (HTTP1_MAX_BODY_BYTES - d) / 10) {
                    http1_err_set(err, errlen, "Content-Length too large");
                    return -1;
                }
                v = v * 10 + d;
            }
            if (i == start) {
                http1_err_set(err, errlen, "invalid Content-Length %.*s", (int)len, p);
                return -1;
            }
            while (i < len && http1_is_ows((unsigned char)p[i]))
                i++;
            if (*present && v != *cl) {
                http1_err_set(err, errlen, "differing Content-Length values");
                return -1;
            }
            *present = 1;
            *cl = v;
            if (i == len)
                break;
            if (p[i] != ',') {
                http1_err_set(err, errlen, "invalid Content-Length %.*s", (int)len, p);
                return -1;
            }
            i++;
        }
    }
    return 0;
}

struct te_info {
    int present;
    int final_chunked; /* the last coding is chunked */
    int other_codings; /* codings other than chunked precede it, or stand alone */
};

/* Transfer-Encoding lists, all fields taken in order as one list. chunked
 * anywhere but last, or with parameters, is an error whatever the message. */
static int transfer_encoding_parse(const struct http1_header *h, size_t n, struct te_info *te,
                                   char *err, size_t errlen)
{
    memset(te, 0, sizeof(*te));
    for (const struct http1_header *f = http1_header_find(h, n, "Transfer-Encoding"); f;
         f = http1_header_next(h, n, f, "Transfer-Encoding")) {
        size_t pos = 0;
        struct http1_str el;
        int elements = 0;
        te->present = 1;
        while (http1_list_next(f->value, &pos, &el)) {
            elements++;
            if (te->final_chunked) {
                http1_err_set(err, errlen, "Transfer-Encoding has a coding after chunked");
                return -1;
            }
            size_t i = 0;
            while (i < el.len && http1_is_tchar((unsigned char)el.p[i]))
                i++;
            struct http1_str coding = {el.p, i};
            while (i < el.len && http1_is_ows((unsigned char)el.p[i]))
                i++;
            if (coding.len == 0 || (i < el.len && el.p[i] != ';')) {
                http1_err_set(err, errlen, "malformed Transfer-Encoding %.*s", (int)f->value.len,
                              f->value.p);
                return -1;
            }
            if (http1_str_caseeq(coding, "chunked")) {
                if (i < el.len) {
                    http1_err_set(err, errlen, "chunked transfer coding with parameters");
                    return -1;
                }
                te->final_chunked = 1;
            } else {
                te->other_codings = 1;
            }
        }
        if (elements == 0) {
            http1_err_set(err, errlen, "empty Transfer-Encoding");
            return -1;
        }
    }
    return 0;
}

static int keep_alive_get(const struct http1_header *h, size_t n, int version_minor)
{
    if (http1_header_has_token(h, n, "Connection", "close"))
        return 0;
    if (version_minor >= 1)
        return 1;
    return http1_header_has_token(h, n, "Connection", "keep-alive");
}

/* Request framing (RFC 9112 §6.3): TE wins over nothing, CL+TE is refused
 * rather than resolved, so no downstream can read it the other way. */
static int request_framing(struct http1_request *req, char *err, size_t errlen)
{
    const struct http1_header *h = req->headers;
    size_t n = req->nheaders;
    int cl_present;
    struct te_info te;

    req->error_status = 400;
    if (content_length_parse(h, n, &cl_present, &req->content_length, err, errlen) < 0)
        return -1;
    if (transfer_encoding_parse(h, n, &te, err, errlen) < 0)
        return -1;
    if (te.present) {
        if (req->version_minor == 0) {
            http1_err_set(err, errlen, "Transfer-Encoding in an HTTP/1.0 request");
            return -1;
        }
        if (cl_present) {
            http1_err_set(err, errlen, "both Content-Length and Transfer-Encoding");
            return -1;
        }
        if (!te.final_chunked) {
            http1_err_set(err, errlen, "Transfer-Encoding does not end in chunked");
            return -1;
        }
        if (te.other_codings) {
            req->error_status = 501;
            http1_err_set(err, errlen, "unsupported transfer coding before chunked");
            return -1;
        }
        req->body = HTTP1_BODY_CHUNKED;
    } else if (cl_present) {
        req->body = HTTP1_BODY_LENGTH;
    }

    /* Two Host fields let the proxy route on one while the origin serves
     * the other (RFC 9112 §3.2 requires 400). */
    const struct http1_header *host = http1_header_find(h, n, "Host");
    if (host && http1_header_next(h, n, host, "Host")) {
        http1_err_set(err, errlen, "more than one Host header");
        return -1;
    }

    req->keep_alive = keep_alive_get(h, n, req->version_minor);
    /* An HTTP/1.0 client cannot take a 100 (RFC 9110 §10.1.1). */
    req->expect_continue =
        req->version_minor >= 1 && http1_header_has_token(h, n, "Expect", "100-continue");
    req->error_status = 0;
    return 0;
}

/* Response framing (RFC 9112 §6.3 rules 1-7). */
static int response_framing(struct http1_response *resp, int req_was_head, char *err, size_t errlen)
{
    const struct http1_header *h = resp->headers;
    size_t n = resp->nheaders;
    int cl_present;
    struct te_info te;
    int no_body =
        req_was_head || resp->status / 100 == 1 || resp->status == 204 || resp->status == 304;

    if (content_length_parse(h, n, &cl_present, &resp->content_length, err, errlen) < 0)
        return -1;
    if (transfer_encoding_parse(h, n, &te, err, errlen) < 0)
        return -1;
    if (te.present) {
        if (resp->version_minor == 0) {
            http1_err_set(err, errlen, "Transfer-Encoding in an HTTP/1.0 response");
            return -1;
        }
        if (cl_present) {
            http1_err_set(err, errlen, "both Content-Length and Transfer-Encoding");
            return -1;
        }
        /* We would strip Transfer-Encoding and forward still-encoded bytes
         * as if they were the payload. */
        if (te.final_chunked && te.other_codings && !no_body) {
            http1_err_set(err, errlen, "unsupported transfer coding before chunked");
            return -1;
        }
        resp->body = te.final_chunked ? HTTP1_BODY_CHUNKED : HTTP1_BODY_CLOSE;
    } else if (cl_present) {
        resp->body = HTTP1_BODY_LENGTH;
    } else {
        resp->body = HTTP1_BODY_CLOSE;
    }
    if (no_body)
        resp->body = HTTP1_BODY_NONE;
    resp->keep_alive = resp->body != HTTP1_BODY_CLOSE && keep_alive_get(h, n, resp->version_minor);
    return 0;
}

/* The head must end within max_head_bytes; callers pass INT_MAX at most so
 * the length fits the int we return. */
static size_t head_limit(const struct http1_limits *lim)
{
    return lim->max_head_bytes < (size_t)INT_MAX ? lim->max_head_bytes : (size_t)INT_MAX;
}

static void str_rebase(struct http1_str *s, const char *from, const char *to)
{
    if (s->p)
        s->p = to + (s->p - from);
}

void http1_request_rebase(struct http1_request *req, const char *from, const char *to)
{
    str_rebase(&req->method, from, to);
    str_rebase(&req->target, from, to);
    for (size_t i = 0; i < req->nheaders; i++) {
        str_rebase(&req->headers[i].name, from, to);
        str_rebase(&req->headers[i].value, from, to);
    }
}

int http1_parse_request(const char *buf, size_t len, const struct http1_limits *lim,
                        struct http1_request *req, char *err, size_t errlen)
{
    struct http1_limits def;
    if (!lim) {
        http1_limits_default(&def);
        lim = &def;
    }
    /* Not the header array: 3 KiB of memset per request for nothing. */
    memset(req, 0, offsetof(struct http1_request, headers));
    req->body = HTTP1_BODY_NONE;
    req->content_length = 0;
    req->keep_alive = 0;
    req->expect_continue = 0;
    req->error_status = 0;
    if (len == 0)
        return HTTP1_INCOMPLETE;

    size_t max_head = head_limit(lim);
    size_t n = len < max_head ? len : max_head;
    size_t pos = 0;

    /* Empty lines before the request line are ignored (RFC 9112 §2.2):
     * clients send a stray CRLF after a POST body. */
    while (pos < n &&
           (buf[pos] == '\n' || (buf[pos] == '\r' && pos + 1 < n && buf[pos + 1] == '\n')))
        pos += buf[pos] == '\r' ? 2 : 1;

    size_t end, next;
    int complete = line_next(buf, n, pos, &end, &next);
    if (end - pos > lim->max_line_bytes) {
        req->error_status = 414;
        http1_err_set(err, errlen, "request line longer than %zu bytes", lim->max_line_bytes);
        return HTTP1_ERROR;
    }
    if (!complete) {
        /* Not HTTP at all (TLS to a plain port, binary noise): say so now
         * instead of waiting for a line that will never end. */
        size_t i = pos;
        while (i < end && http1_is_tchar((unsigned char)buf[i]))
            i++;
        if (i < end && buf[i] != ' ') {
            req->error_status = 400;
            http1_err_set(err, errlen, "malformed method in the request line");
            return HTTP1_ERROR;
        }
        goto incomplete;
    }
    if (request_line_parse(buf + pos, end - pos, req, err, errlen) < 0)
        return HTTP1_ERROR;

    int status = 0;
    int head_len =
        fields_parse(buf, n, next, lim, req->headers, &req->nheaders, &status, err, errlen);
    if (head_len == HTTP1_ERROR) {
        req->error_status = status;
        return HTTP1_ERROR;
    }
    if (head_len == HTTP1_INCOMPLETE)
        goto incomplete;
    if (request_framing(req, err, errlen) < 0)
        return HTTP1_ERROR;
    return head_len;

incomplete:
    if (len > max_head) {
        req->error_status = 431;
        http1_err_set(err, errlen, "request head larger than %zu bytes", max_head);
        return HTTP1_ERROR;
    }
    return HTTP1_INCOMPLETE;
}

/* HTTP-version SP 3DIGIT SP reason. "HTTP/1.1 200" without the second SP
 * is accepted: servers send it, and the reason carries no meaning. */
static int status_line_parse(const char *p, size_t n, struct http1_response *resp, char *err,
                             size_t errlen)
{
    int status;
    if (n < 12 || p[8] != ' ') {
        http1_err_set(err, errlen, "malformed status line");
        return -1;
    }
    if (version_parse(p, 8, &resp->version_minor, &status, err, errlen) < 0)
        return -1;
    if (!is_digit((unsigned char)p[9]) || !is_digit((unsigned char)p[10]) ||
        !is_digit((unsigned char)p[11]) || p[9] == '0') {
        http1_err_set(err, errlen, "malformed status code");
        return -1;
    }
    resp->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    resp->reason.p = p + n;
    resp->reason.len = 0;
    if (n == 12)
        return 0;
    if (p[12] != ' ') {
        http1_err_set(err, errlen, "malformed status code");
        return -1;
    }
    for (size_t i = 13; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (!is_field_char(c)) {
            http1_err_set(err, errlen, "%s in the reason phrase", ctl_name(c));
            return -1;
        }
    }
    resp->reason.p = p + 13;
    resp->reason.len = n - 13;
    return 0;
}

int http1_parse_response(const char *buf, size_t len, const struct http1_limits *lim,
                         int req_was_head, struct http1_response *resp, char *err, size_t errlen)
{
    struct http1_limits def;
    if (!lim) {
        http1_limits_default(&def);
        lim = &def;
    }
    memset(resp, 0, offsetof(struct http1_response, headers));
    resp->body = HTTP1_BODY_NONE;
    resp->content_length = 0;
    resp->keep_alive = 0;
    if (len == 0)
        return HTTP1_INCOMPLETE;

    size_t max_head = head_limit(lim);
    size_t n = len < max_head ? len : max_head;
    size_t end, next;
    int complete = line_next(buf, n, 0, &end, &next);
    if (end > lim->max_line_bytes) {
        http1_err_set(err, errlen, "status line longer than %zu bytes", lim->max_line_bytes);
        return HTTP1_ERROR;
    }
    if (!complete) {
        /* Anything but the start of "HTTP/" is not a response. */
        if (memcmp(buf, "HTTP/", end < 5 ? end : 5) != 0) {
            http1_err_set(err, errlen, "malformed status line");
            return HTTP1_ERROR;
        }
        goto incomplete;
    }
    if (status_line_parse(buf, end, resp, err, errlen) < 0)
        return HTTP1_ERROR;

    int status = 0;
    int head_len =
        fields_parse(buf, n, next, lim, resp->headers, &resp->nheaders, &status, err, errlen);
    if (head_len == HTTP1_ERROR)
        return HTTP1_ERROR;
    if (head_len == HTTP1_INCOMPLETE)
        goto incomplete;
    if (response_framing(resp, req_was_head, err, errlen) < 0)
        return HTTP1_ERROR;
    return head_len;

incomplete:
    if (len > max_head) {
        http1_err_set(err, errlen, "response head larger than %zu bytes", max_head);
        return HTTP1_ERROR;
    }
    return HTTP1_INCOMPLETE;
}
