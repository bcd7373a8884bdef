/* Response heads to clients: an object's stored fields with this hop's own
 * framing, Age, Via, X-Cache and Connection, and the small local responses
 * (errors with a one-line reason, OPTIONS, TRACE). */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "worker.h"

static void add_trailer_fields(struct client *c, struct evbuffer *out)
{
    static const char keep[] = "Connection: keep-alive\r\n\r\n";
    static const char close_[] = "Connection: close\r\n\r\n";
    const char *tag = c->txn.hit ? c->w->cfg->resp_tag_hit : c->w->cfg->resp_tag_miss;
    evbuffer_add(out, tag, strlen(tag));
    if (c->keep_alive)
        evbuffer_add(out, keep, sizeof(keep) - 1);
    else
        evbuffer_add(out, close_, sizeof(close_) - 1);
}

void respond_object_head(struct client *c, const struct object *o, int status)
{
    struct txn *t = &c->txn;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t before = evbuffer_get_length(out);
    int no_body = status == 304 || status == 204 || (status >= 100 && status < 200);

    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status, http1_reason(status));
    size_t head_len;
    const char *head = object_stored_head(o, &head_len);
    evbuffer_add(out, head, head_len);
    int64_t age = object_age(o, worker_now_s(c->w));
    if (t->hit || age > 0)
        evbuffer_add_printf(out, "Age: %lld\r\n", (long long)(age > 0 ? age : 0));

    if (no_body) {
        t->framing = OUT_NONE;
        t->body_wanted = 0;
    } else if (!t->body_wanted && !t->hit) {
        /* Our own HEAD to the origin: the object has no body, and the
         * origin's Content-Length tells what a GET would carry (RFC 9110
         * §8.6); the parser has checked it is a number (or a list of one). */
        const struct http1_header *cl = object_header(o, "Content-Length");
        size_t pos = 0;
        struct http1_str first;
        uint64_t len;
        /* Read within the value: the stored head is not NUL-terminated. */
        if (cl && http1_list_next(cl->value, &pos, &first) &&
            http1_parse_uint(first, UINT64_MAX, &len) == 0)
            evbuffer_add_printf(out, "Content-Length: %llu\r\n", (unsigned long long)len);
        t->framing = OUT_NONE;
    } else if (object_content_length(o) >= 0) {
        evbuffer_add_printf(out, "Content-Length: %lld\r\n", (long long)object_content_length(o));
        t->framing = t->body_wanted ? OUT_LENGTH : OUT_NONE;
    } else if (!t->body_wanted) {
        t->framing = OUT_NONE; /* HEAD of an object whose length is not known yet */
    } else if (t->req.version_minor >= 1) {
        evbuffer_add(out, "Transfer-Encoding: chunked\r\n", 28);
        t->framing = OUT_CHUNKED;
    } else {
        /* An HTTP/1.0 client and a length not known yet: the close delimits. */
        t->framing = OUT_CLOSE;
        c->keep_alive = 0;
    }
    add_trailer_fields(c, out);
    t->status = status;
    t->head_sent = 1;
    t->bytes_out += evbuffer_get_length(out) - before;
}

void respond_local(struct client *c, int status, const char *extra_headers, const char *body,
                   size_t body_len)
{
    struct txn *t = &c->txn;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t before = evbuffer_get_length(out);
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n%sContent-Length: %zu\r\n", status,
                        http1_reason(status), extra_headers ? extra_headers : "", body_len);
    t->hit = 0;
    add_trailer_fields(c, out);
    if (body_len && !t->is_head)
        evbuffer_add(out, body, body_len);
    t->status = status;
    t->head_sent = 1;
    t->framing = OUT_NONE;
    t->bytes_out += evbuffer_get_length(out) - before;
}

void respond_error(struct client *c, int status, const char *reason, int close)
{
    char body[512];
    int n = snprintf(body, sizeof(body), "%d %s: %s\n", status, http1_reason(status), reason);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(body))
        n = sizeof(body) - 1;
    if (close)
        c->keep_alive = 0;
    respond_local(c, status,
                  "Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n", body,
                  (size_t)n);
}
