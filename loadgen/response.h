/* One response as it arrives on a connection: the head parsed with
 * common/http1 (strict), the body counted by its framing (Content-Length,
 * chunked, or until close) without being kept, and the serving proxy and
 * cache verdict read from X-Cache. Bytes are fed as they are received; the
 * head is copied only when it spans reads. */
#ifndef PP_LOADGEN_RESPONSE_H
#define PP_LOADGEN_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "http1.h"
#include "result.h"

enum loadgen_response_state {
    LOADGEN_RESPONSE_HEAD = 0, /* waiting for (the rest of) the head */
    LOADGEN_RESPONSE_BODY,
    LOADGEN_RESPONSE_DONE,
    LOADGEN_RESPONSE_ERROR,
};

struct loadgen_response {
    enum loadgen_response_state state;
    enum loadgen_error error; /* when state is ERROR */
    int status;
    int keep_alive; /* the server lets the connection be reused */
    enum http1_body body;
    uint64_t body_left; /* BODY_LENGTH */
    struct http1_chunked chunked;
    uint64_t body_bytes; /* payload bytes (after chunk framing) */
    uint64_t bytes_in;   /* every byte of this response: head and body as sent */
    char cache[LOADGEN_CACHE_MAX];
    char proxy[LOADGEN_PROXY_NAME_MAX];
    char *head; /* the head so far, when it spans reads */
    size_t head_len, head_cap;
};

void loadgen_response_init(struct loadgen_response *r);
/* Ready for the next response on the same connection (keeps the head buffer). */
void loadgen_response_reset(struct loadgen_response *r);
void loadgen_response_release(struct loadgen_response *r);

/* Feeds buf[0..len). Returns how many bytes belong to this response (less
 * than len when it completed and more bytes followed). state tells whether
 * it is done or failed. */
size_t loadgen_response_feed(struct loadgen_response *r, const char *buf, size_t len);
/* The peer closed (or reset, when reset is set) the connection: a body
 * framed by close completes; anything else becomes an error of the right
 * class (reset before a whole head, short_body after it). */
void loadgen_response_eof(struct loadgen_response *r, int reset);

/* "HIT from edge1" -> cache "HIT", proxy "edge1"; characters that could
 * break a CSV field or JSON key become '_'. Empty strings when absent. */
void loadgen_response_parse_xcache(const char *value, size_t len, char *cache, size_t cache_cap,
                                   char *proxy, size_t proxy_cap);

#endif
