/* libFuzzer target for http1_parse_request: no crash or overread on any
 * input, and the answer must not depend on how much of the stream has
 * arrived (a prefix that errs or completes must give the same answer as the
 * whole buffer), since proxyd parses whatever the socket has delivered.
 * Heads are parsed, and their values read by the helpers proxyd uses, from
 * an exactly-sized heap copy with no NUL after it, as proxyd keeps them: a
 * helper that reads a value past its length (strtol on an empty
 * Max-Forwards) is then an ASan report, not a read of the next bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

static struct http1_request req, req2;

/* On HTTP1_INCOMPLETE no line seen so far, finished or not, may exceed the
 * line limit: the limit must fire before the line ends. */
static void check_lines_within_limit(const char *buf, size_t size, const struct http1_limits *lim)
{
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && buf[i] != '\n')
            continue;
        size_t end = i;
        if (end > start && buf[end - 1] == '\r')
            end--;
        if (end - start > lim->max_line_bytes)
            abort();
        start = i + 1;
    }
}

static void check_request(const char *buf, size_t size, const struct http1_limits *lim, int r)
{
    if (r == HTTP1_INCOMPLETE) {
        if (size > lim->max_head_bytes)
            abort();
        check_lines_within_limit(buf, size,
                                 lim); /* must have hit a limit instead of buffering more */
        return;
    }
    if (r == HTTP1_ERROR) {
        int st = req.error_status;
        if (st != 400 && st != 414 && st != 431 && st != 501 && st != 505)
            abort();
        return;
    }
    if (r <= 0 || (size_t)r > size || (size_t)r > lim->max_head_bytes)
        abort();
    const char *end = buf + r;
    if (req.method.len == 0 || req.method.p < buf || req.method.p + req.method.len > end)
        abort();
    if (req.target.len == 0 || req.target.p < buf || req.target.p + req.target.len > end)
        abort();
    if (req.version_minor != 0 && req.version_minor != 1)
        abort();
    if (req.nheaders > lim->max_headers || req.nheaders > HTTP1_MAX_HEADERS)
        abort();
    for (size_t i = 0; i < req.nheaders; i++) {
        const struct http1_header *h = &req.headers[i];
        if (h->name.len == 0 || h->name.p < buf || h->name.p + h->name.len > end)
            abort();
        if (h->value.p < buf || h->value.p + h->value.len > end)
            abort();
        if (h->name.len > lim->max_line_bytes)
            abort();
        for (size_t j = 0; j < h->value.len; j++) {
            unsigned char c = (unsigned char)h->value.p[j];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                abort();
        }
    }
    if (req.body == HTTP1_BODY_CLOSE)
        abort();
    if (req.body == HTTP1_BODY_CHUNKED &&
        (req.version_minor == 0 || http1_header_find(req.headers, req.nheaders, "Content-Length")))
        abort();
}

static void check_prefix(const char *buf, size_t size, size_t cut, const struct http1_limits *lim,
                         int full)
{
    char err[128];
    int r = http1_parse_request(buf, cut, lim, &req2, err, sizeof(err));
    if (r == HTTP1_INCOMPLETE)
        return;
    if (r == HTTP1_ERROR) {
        if (full != HTTP1_ERROR)
            abort(); /* rejected early, accepted later */
        return;
    }
    if (r != full)
        abort(); /* complete in the prefix but different in the whole */
}

/* Every value through the helpers proxyd reads values with; each must stay
 * within value.p[0..value.len). */
static void read_values(const struct http1_request *q)
{
    for (size_t i = 0; i < q->nheaders; i++) {
        struct http1_str v = q->headers[i].value;
        uint64_t n;
        if (http1_parse_uint(v, UINT64_MAX, &n) == 0) {
            if (v.len == 0) /* leading zeros make any length valid */
                abort();
            for (size_t j = 0; j < v.len; j++)
                if (v.p[j] < '0' || v.p[j] > '9')
                    abort();
        }
        uint64_t small;
        if (http1_parse_uint(v, 255, &small) == 0 && small > 255)
            abort();
        size_t pos = 0;
        struct http1_str tok;
        int first = 1;
        while (http1_list_next(v, &pos, &tok)) {
            if (tok.len == 0 || tok.p < v.p || tok.p + tok.len > v.p + v.len)
                abort();
            if (first) /* a Content-Length list's first element, as respond.c reads it */
                (void)http1_parse_uint(tok, UINT64_MAX, &n);
            first = 0;
        }
        struct http1_str host;
        int port;
        if (http1_split_authority(v, 80, &host, &port) == 0 &&
            (host.p < v.p || host.p + host.len > v.p + v.len || port < 1 || port > 65535))
            abort();
    }
    struct http1_str host, path;
    int port;
    if (http1_split_absolute(q->target, &host, &port, &path) == 0 &&
        (host.p < q->target.p || host.p + host.len > q->target.p + q->target.len))
        abort();
}

/* The complete head alone in a buffer of its own size, as proxyd's
 * client.c copies it (t->head), parsed again and its values read. */
static void reread_head(const char *buf, int r, const struct http1_limits *lim)
{
    char err[128];
    char *head = malloc((size_t)r);
    if (!head)
        return;
    memcpy(head, buf, (size_t)r);
    if (http1_parse_request(head, (size_t)r, lim, &req2, err, sizeof(err)) != r)
        abort();
    read_values(&req2);
    free(head);
}

static void run(const char *buf, size_t size, const struct http1_limits *lim)
{
    char err[128];
    int r = http1_parse_request(buf, size, lim, &req, err, sizeof(err));
    check_request(buf, size, lim, r);
    if (r > 0)
        reread_head(buf, r, lim);
    if (r > 0 &&
        http1_parse_request(buf, (size_t)r - 1, lim, &req2, err, sizeof(err)) != HTTP1_INCOMPLETE)
        abort(); /* one byte short of a complete head must wait for it */
    if (size > 1) {
        check_prefix(buf, size, size / 2, lim, r);
        check_prefix(buf, size, (unsigned char)buf[0] % size, lim, r);
        check_prefix(buf, size, size - 1, lim, r);
    }
}

/* Undefined behaviour is a finding, not a note in the log: without this,
 * UBSan prints "runtime error" (a float cast out of range, an overflow) and
 * the fuzzer carries on. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exactly-sized copy, whatever the fuzzer's own buffer is: one byte
     * read past the input is a heap overflow ASan reports. */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct http1_limits lim;
    http1_limits_default(&lim);
    run(buf, size, &lim);

    /* Small limits reach the limit paths with small inputs. */
    struct http1_limits small = {.max_line_bytes = 40, .max_head_bytes = 120, .max_headers = 4};
    run(buf, size, &small);
    free(buf);
    return 0;
}
