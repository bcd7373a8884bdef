/* libFuzzer target for http1_parse_response: no crash or overread, framing
 * that matches the status and the HEAD flag, and the same answer whether
 * the head arrives in one read or several. The first input byte chooses
 * whether the request was HEAD; the rest is the response. The response is
 * parsed from an exactly-sized heap copy with no NUL after it, and the
 * stored head (the complete head alone, as an object keeps it) has its
 * numbers read as proxyd reads them, so reading past a value is an ASan
 * report. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

static struct http1_response resp, resp2;

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

static void check_response(const char *buf, size_t size, const struct http1_limits *lim,
                           int was_head, int r)
{
    if (r == HTTP1_INCOMPLETE) {
        if (size > lim->max_head_bytes)
            abort();
        check_lines_within_limit(buf, size, lim);
        return;
    }
    if (r == HTTP1_ERROR)
        return;
    if (r <= 0 || (size_t)r > size || (size_t)r > lim->max_head_bytes)
        abort();
    const char *end = buf + r;
    if (resp.status < 100 || resp.status > 999)
        abort();
    if (resp.reason.len > 0 && (resp.reason.p < buf || resp.reason.p + resp.reason.len > end))
        abort();
    if (resp.nheaders > lim->max_headers || resp.nheaders > HTTP1_MAX_HEADERS)
        abort();
    for (size_t i = 0; i < resp.nheaders; i++) {
        const struct http1_header *h = &resp.headers[i];
        if (h->name.len == 0 || h->name.p < buf || h->name.p + h->name.len > end)
            abort();
        if (h->value.p < buf || h->value.p + h->value.len > end)
            abort();
    }
    int no_body = was_head || resp.status / 100 == 1 || resp.status == 204 || resp.status == 304;
    if (no_body != (resp.body == HTTP1_BODY_NONE))
        abort();
    if (resp.body == HTTP1_BODY_CLOSE && resp.keep_alive)
        abort();
    if (resp.body == HTTP1_BODY_LENGTH && resp.content_length > (uint64_t)INT64_MAX)
        abort();
}

/* The head alone, as proxyd stores it, and its numbers read as respond.c
 * and the freshness code do: within each value's length. */
static void reread_head(const char *buf, int r, const struct http1_limits *lim, int was_head)
{
    char err[128];
    char *head = malloc((size_t)r);
    if (!head)
        return;
    memcpy(head, buf, (size_t)r);
    if (http1_parse_response(head, (size_t)r, lim, was_head, &resp2, err, sizeof(err)) != r)
        abort();
    for (size_t i = 0; i < resp2.nheaders; i++) {
        struct http1_str v = resp2.headers[i].value;
        size_t pos = 0;
        struct http1_str first;
        uint64_t n;
        if (http1_list_next(v, &pos, &first) && http1_parse_uint(first, UINT64_MAX, &n) == 0 &&
            http1_str_caseeq(resp2.headers[i].name, "Content-Length") &&
            resp2.body == HTTP1_BODY_LENGTH && n != resp2.content_length)
            abort(); /* the stored value and the parsed framing disagree */
        (void)http1_parse_uint(v, UINT64_MAX, &n);
    }
    free(head);
}

static void run(const char *buf, size_t size, const struct http1_limits *lim, int was_head)
{
    char err[128];
    int r = http1_parse_response(buf, size, lim, was_head, &resp, err, sizeof(err));
    check_response(buf, size, lim, was_head, r);
    if (r > 0)
        reread_head(buf, r, lim, was_head);
    if (r > 0 && http1_parse_response(buf, (size_t)r - 1, lim, was_head, &resp2, err,
                                      sizeof(err)) != HTTP1_INCOMPLETE)
        abort();
    size_t cuts[] = {size / 2, size > 0 ? (unsigned char)buf[0] % size : 0, size ? size - 1 : 0};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        int p = http1_parse_response(buf, cuts[i], lim, was_head, &resp2, err, sizeof(err));
        if (p == HTTP1_ERROR && r != HTTP1_ERROR)
            abort();
        if (p > 0 && p != r)
            abort();
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
    if (size < 1)
        return 0;
    int was_head = data[0] & 1;
    size--;
    /* An exactly-sized copy: one byte read past the input is an overflow. */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size);

    struct http1_limits lim;
    http1_limits_default(&lim);
    run(buf, size, &lim, was_head);
    struct http1_limits small = {.max_line_bytes = 40, .max_head_bytes = 120, .max_headers = 4};
    run(buf, size, &small, was_head);
    free(buf);
    return 0;
}
