/* HTTP/1.1 message parsing (RFC 9112): request and response heads, chunked
 * body framing, and the header helpers every program needs. Strict by design:
 * anything that could let two parsers disagree on where a message ends
 * (request smuggling) is an error, never "fixed up". Zero-copy: parsed strings
 * point into the caller's buffer. Knows nothing of sockets or libevent. */
#ifndef PP_HTTP1_H
#define PP_HTTP1_H

#include <stddef.h>
#include <stdint.h>

/* Header count limit: Varnish http_max_hdr is 64, HAProxy tune.http.maxhdr 101. */
#define HTTP1_MAX_HEADERS 100

/* Return codes of the head parsers (a positive value is the head's length). */
#define HTTP1_ERROR (-1)
#define HTTP1_INCOMPLETE (-2)

struct http1_str {
    const char *p; /* into the caller's buffer; not NUL-terminated */
    size_t len;
};

struct http1_header {
    struct http1_str name;
    struct http1_str value; /* leading and trailing OWS removed */
};

enum http1_body {
    HTTP1_BODY_NONE = 0, /* no body (no framing headers on a request, HEAD, 1xx/204/304) */
    HTTP1_BODY_LENGTH,   /* Content-Length bytes */
    HTTP1_BODY_CHUNKED,  /* Transfer-Encoding ending in chunked */
    HTTP1_BODY_CLOSE,    /* responses only: until the connection closes */
};

/* Limits on a head. Defaults (http1_limits_default): request line and any
 * one header line 8 KiB (Varnish http_req_hdr_len, nginx large buffers),
 * whole head 32 KiB (Varnish http_req_size), 100 headers. */
struct http1_limits {
    size_t max_line_bytes;
    size_t max_head_bytes;
    size_t max_headers;
};
void http1_limits_default(struct http1_limits *lim);

struct http1_request {
    struct http1_str method;
    struct http1_str target; /* as sent: origin-form, absolute-form, authority-form or "*" */
    int version_minor;       /* 0 or 1; HTTP/1.x only */
    size_t nheaders;
    struct http1_header headers[HTTP1_MAX_HEADERS];
    /* Derived from the headers: */
    enum http1_body body;    /* NONE, LENGTH or CHUNKED */
    uint64_t content_length; /* when body == LENGTH */
    int keep_alive;          /* after version and Connection tokens */
    int expect_continue;     /* Expect: 100-continue */
    /* On HTTP1_ERROR: the status to answer with (400, 414, 431, 501, 505). */
    int error_status;
};

struct http1_response {
    int status; /* 100..999 */
    struct http1_str reason;
    int version_minor;
    size_t nheaders;
    struct http1_header headers[HTTP1_MAX_HEADERS];
    enum http1_body body;    /* NONE, LENGTH, CHUNKED or CLOSE */
    uint64_t content_length; /* when body == LENGTH */
    int keep_alive;          /* the origin lets us reuse the connection */
};

/* Parses a request head from buf[0..len). Returns the head's length in bytes
 * (through the blank line) when complete, HTTP1_INCOMPLETE when more bytes are
 * needed and no limit is exceeded yet, or HTTP1_ERROR with req->error_status
 * set and a one-line reason in err. Rejected (400 unless said): bad request
 * line; version other than HTTP/1.0 or 1.1 (505); line too long (414 for the
 * request line, 431 for a header); head or header count too large (431);
 * whitespace before a colon; obs-fold; NUL, bare CR or other control bytes;
 * Content-Length with Transfer-Encoding; several differing Content-Lengths
 * (identical ones collapse), an empty, signed, non-digit or overflowing one;
 * Transfer-Encoding on HTTP/1.0; a Transfer-Encoding other than "chunked"
 * (501 when chunked is final but other codings precede it). */
int http1_parse_request(const char *buf, size_t len, const struct http1_limits *lim,
                        struct http1_request *req, char *err, size_t errlen);

/* A parsed request's fields point into the buffer it was parsed from; after
 * the head is copied from `from` to `to` (same bytes), this moves them to the
 * copy, so a head is parsed once and kept in memory the caller owns. Empty
 * fields (NULL) stay empty. */
void http1_request_rebase(struct http1_request *req, const char *from, const char *to);

/* Parses a response head. req_was_head: the request was HEAD (no body
 * follows whatever the headers say). Same strictness as requests; any error
 * means the caller must close the upstream connection and answer 502. A
 * Transfer-Encoding whose final coding is not chunked means BODY_CLOSE. */
int http1_parse_response(const char *buf, size_t len, const struct http1_limits *lim,
                         int req_was_head, struct http1_response *resp, char *err, size_t errlen);

/* Incremental chunked-body decoder (RFC 9112 §7.1). Chunk sizes are at most
 * 16 hex digits and must not overflow; extensions are skipped but checked
 * (no control bytes, quoted strings terminated); every line ends in CRLF;
 * trailer fields are read and discarded. */
struct http1_chunked {
    int state;           /* private */
    uint64_t remaining;  /* bytes left in the current chunk */
    uint64_t body_bytes; /* payload bytes seen so far */
    size_t line_bytes;   /* private: length of the current size/trailer line */
    int size_digits;     /* private */
    int in_quote;        /* private */
    int done;            /* the last chunk and trailers have been consumed */
};
void http1_chunked_init(struct http1_chunked *ch);

/* Feeds in[0..len). Returns how many bytes were consumed (0..len) or
 * HTTP1_ERROR (malformed; err says why). When the bytes at the current
 * position are chunk payload, it consumes them and reports their span as
 * in[*data_off .. *data_off + *data_len) and returns right after that span,
 * so a caller loops: feed, take the data, feed the rest. *data_len is 0 when
 * no payload was consumed. Stops (returning less than len) once done is set. */
long http1_chunked_feed(struct http1_chunked *ch, const char *in, size_t len, size_t *data_off,
                        size_t *data_len, char *err, size_t errlen);

/* Header helpers. Names compare case-insensitively. */
const struct http1_header *http1_header_find(const struct http1_header *h, size_t n,
                                             const char *name);
/* The next header named `name` after `prev` (NULL for the first). */
const struct http1_header *http1_header_next(const struct http1_header *h, size_t n,
                                             const struct http1_header *prev, const char *name);
int http1_str_eq(struct http1_str s, const char *lit);     /* exact */
int http1_str_caseeq(struct http1_str s, const char *lit); /* ASCII case-insensitive */

/* Decimal numbers in field values (Max-Forwards, Content-Length, Age):
 * 1*DIGIT read within s.p[0..s.len) only, never past it (values point into
 * a head that is not NUL-terminated, so strtol & co. would read on). No sign,
 * no whitespace, no other byte; a value above max is an error, checked
 * before it could overflow. Returns 0 with *out set, or -1. */
int http1_parse_uint(struct http1_str s, uint64_t max, uint64_t *out);

/* Comma-separated list values (Connection, Cache-Control, Vary, ...): yields
 * each element with surrounding whitespace removed, skipping empty ones.
 * *pos starts at 0. Returns 1 with *tok set, 0 at the end. */
int http1_list_next(struct http1_str value, size_t *pos, struct http1_str *tok);
/* Whether any header named `name` lists `token` (case-insensitive). For
 * Cache-Control style "name=value" elements, the part before '=' is compared. */
int http1_header_has_token(const struct http1_header *h, size_t n, const char *name,
                           const char *token);

/* Hop-by-hop fields (RFC 9110 §7.6.1): Connection, Keep-Alive,
 * Proxy-Connection, Proxy-Authenticate, Proxy-Authorization, TE, Trailer,
 * Transfer-Encoding, Upgrade. */
int http1_is_hop_by_hop(struct http1_str name);
/* Whether `name` is listed in any Connection header of the message. */
int http1_connection_lists(const struct http1_header *h, size_t n, struct http1_str name);

/* Splits an absolute-form target "http://host[:port]/path?q" into host, port
 * (default 80) and path ("/" when empty). Only http: is accepted; userinfo
 * is rejected. IPv6 literals keep their brackets in host. Returns 0 or -1. */
int http1_split_absolute(struct http1_str target, struct http1_str *host, int *port,
                         struct http1_str *path);
/* Splits a Host header value or an authority "host[:port]" (port defaults to
 * default_port). Returns 0 or -1 (empty host, bad port, bad characters). */
int http1_split_authority(struct http1_str authority, int default_port, struct http1_str *host,
                          int *port);

/* Reason phrase for a status code ("OK", "Not Found", ...; "Unknown"). */
const char *http1_reason(int status);

#endif
