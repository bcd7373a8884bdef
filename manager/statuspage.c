/* The manager's status page: the files under manager/status/ are built into
 * the binary by the assembler's .incbin (no generator, nothing but
 * build-essential), and served from GET / on the API port beside the REST
 * API they read. The headers forbid every script, style and connection that
 * is not the page's own (Content-Security-Policy), MIME sniffing and
 * framing, and caching (a new manager binary serves its own page at once). */
#include "statuspage.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "jsonhttp.h"

/* Paths are relative to the directory make runs in, the repository's top
 * (the Makefile names these files as the object's prerequisites too). */
#define STATUSPAGE_EMBED(sym, file)                                                                \
    __asm__(".section .rodata\n"                                                                   \
            ".balign 16\n"                                                                         \
            ".globl " #sym "\n"                                                                    \
            ".hidden " #sym "\n" #sym ":\n"                                                        \
            ".incbin \"" file "\"\n"                                                               \
            ".globl " #sym "_end\n"                                                                \
            ".hidden " #sym "_end\n" #sym "_end:\n"                                                \
            ".previous\n")

STATUSPAGE_EMBED(statuspage_html, "manager/status/status.html");
STATUSPAGE_EMBED(statuspage_js, "manager/status/status.js");
STATUSPAGE_EMBED(statuspage_css, "manager/status/status.css");
STATUSPAGE_EMBED(statuspage_icon, "manager/status/favicon.svg");

extern const char statuspage_html[], statuspage_html_end[];
extern const char statuspage_js[], statuspage_js_end[];
extern const char statuspage_css[], statuspage_css_end[];
extern const char statuspage_icon[], statuspage_icon_end[];

/* Everything the page loads comes from here; fetch() only to this origin;
 * no inline script or style, no plugins, no framing, no form posts. */
#define STATUSPAGE_CSP                                                                             \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "                \
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

struct statuspage_file {
    const char *path;
    const char *type;
    const char *start;
    const char *end;
};

static const struct statuspage_file *statuspage_file(const char *path)
{
    static const struct statuspage_file files[] = {
        {"/", "text/html; charset=utf-8", statuspage_html, statuspage_html_end},
        {"/index.html", "text/html; charset=utf-8", statuspage_html, statuspage_html_end},
        {"/status.js", "text/javascript; charset=utf-8", statuspage_js, statuspage_js_end},
        {"/status.css", "text/css; charset=utf-8", statuspage_css, statuspage_css_end},
        {"/favicon.svg", "image/svg+xml", statuspage_icon, statuspage_icon_end},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        if (strcmp(path, files[i].path) == 0)
            return &files[i];
    return NULL;
}

int statuspage_serves(const char *path)
{
    return statuspage_file(path) != NULL;
}

int statuspage_send(struct evhttp_request *req, const char *path)
{
    const struct statuspage_file *f = statuspage_file(path);
    if (f == NULL) {
        jsonhttp_send_error(req, 404, "no page %.200s", path);
        return 404;
    }
    if (jsonhttp_check_method(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD) < 0)
        return 405;
    struct evbuffer *body = evbuffer_new();
    size_t len = (size_t)(f->end - f->start);
    if (body == NULL || evbuffer_add_reference(body, f->start, len, NULL, NULL) < 0) {
        evbuffer_free(body);
        jsonhttp_send_error(req, 500, "out of memory");
        return 500;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", f->type);
    evhttp_add_header(h, "Content-Security-Policy", STATUSPAGE_CSP);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    /* evhttp 2.1 would write the body after a HEAD reply too: send the
     * length it would have had, and none of it. */
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        char text[32];
        snprintf(text, sizeof(text), "%zu", len);
        evhttp_add_header(h, "Content-Length", text);
        evbuffer_drain(body, len);
    }
    evhttp_send_reply(req, 200, "OK", body);
    evbuffer_free(body);
    return 200;
}
