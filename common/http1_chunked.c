/* Incremental chunked-body decoder (RFC 9112 §7.1): the framing between an
 * HTTP/1.1 head and the next message on the connection. A byte-at-a-time
 * state machine, so where the socket splits the body never changes the
 * result; bare LF, oversized or signed sizes and malformed extensions or
 * trailers are errors (Squid CVE-2023-46846, "Funky Chunks"). */
#include "http1.h"
#include "http1_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Totals stop at INT64_MAX, as Content-Length does in http1.c, so callers
 * may hold them in off_t or ev_ssize_t. */
#define HTTP1_MAX_BODY_BYTES ((uint64_t)INT64_MAX)
/* 16 hex digits hold any 64-bit size; more is an overflow attempt (Netty
 * CVE-2026-42580). */
#define HTTP1_CHUNK_SIZE_MAX_DIGITS 16
/* A chunk-size line with extensions: nothing legitimate comes close (nginx
 * and HAProxy bound it by their buffer size). */
#define HTTP1_CHUNK_LINE_MAX_BYTES 4096
/* The whole trailer section: as large as a request head (Varnish
 * http_req_size). */
#define HTTP1_CHUNK_TRAILER_MAX_BYTES 32768

static int is_field_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
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

/* chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF, with
 * chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ). Every byte
 * of framing goes through one state, so any split of the input gives the
 * same result. */
enum http1_chunked_state {
    CHUNKED_SIZE_START = 0, /* first hex digit of a chunk size */
    CHUNKED_SIZE,           /* more hex digits */
    CHUNKED_EXT_BWS,        /* whitespace after the size or a value: ';' must follow */
    CHUNKED_EXT_NAME_BWS,   /* after ';', before the extension name */
    CHUNKED_EXT_NAME,
    CHUNKED_EXT_NAME_END,  /* whitespace after a name: '=' or ';' must follow */
    CHUNKED_EXT_VALUE_BWS, /* after '=' */
    CHUNKED_EXT_VALUE_TOKEN,
    CHUNKED_EXT_VALUE_QUOTED,
    CHUNKED_EXT_VALUE_ESCAPE, /* after a backslash in a quoted string */
    CHUNKED_EXT_VALUE_END,    /* after the closing quote */
    CHUNKED_SIZE_LF,          /* CR seen at the end of the size line */
    CHUNKED_DATA,
    CHUNKED_DATA_CR, /* the CRLF after chunk data */
    CHUNKED_DATA_LF,
    CHUNKED_TRAILER_START, /* a trailer line or the final CRLF */
    CHUNKED_TRAILER_NAME,
    CHUNKED_TRAILER_VALUE,
    CHUNKED_TRAILER_LF,
    CHUNKED_END_LF,
    CHUNKED_DONE,
    CHUNKED_ERROR,
};

void http1_chunked_init(struct http1_chunked *ch)
{
    memset(ch, 0, sizeof(*ch));
    ch->state = CHUNKED_SIZE_START;
}

static int qdtext(unsigned char c)
{
    return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
           (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

/* The end of a chunk-size line: start the chunk or the trailers. */
static int chunked_size_done(struct http1_chunked *ch, char *err, size_t errlen)
{
    if (ch->remaining > HTTP1_MAX_BODY_BYTES - ch->body_bytes) {
        http1_err_set(err, errlen, "chunked body larger than %llu bytes",
                      (unsigned long long)HTTP1_MAX_BODY_BYTES);
        return -1;
    }
    ch->line_bytes = 0;
    ch->state = ch->remaining == 0 ? CHUNKED_TRAILER_START : CHUNKED_DATA;
    return 0;
}

/* One framing byte; 0 to go on, -1 on error. */
static int chunked_step(struct http1_chunked *ch, unsigned char c, char *err, size_t errlen)
{
    int state = ch->state;

    if (state <= CHUNKED_SIZE_LF && ++ch->line_bytes > HTTP1_CHUNK_LINE_MAX_BYTES) {
        http1_err_set(err, errlen, "chunk size line longer than %d bytes",
                      HTTP1_CHUNK_LINE_MAX_BYTES);
        return -1;
    }
    /* line_bytes counts the whole trailer section from here on. */
    if (state >= CHUNKED_TRAILER_START && state <= CHUNKED_END_LF &&
        ++ch->line_bytes > HTTP1_CHUNK_TRAILER_MAX_BYTES) {
        http1_err_set(err, errlen, "chunked trailers longer than %d bytes",
                      HTTP1_CHUNK_TRAILER_MAX_BYTES);
        return -1;
    }

    switch (state) {
    case CHUNKED_SIZE_START:
        if (hex_value(c) < 0)
            goto bad_size;
        ch->remaining = (uint64_t)hex_value(c);
        ch->size_digits = 1;
        ch->state = CHUNKED_SIZE;
        return 0;
    case CHUNKED_SIZE:
        if (hex_value(c) >= 0) {
            if (++ch->size_digits > HTTP1_CHUNK_SIZE_MAX_DIGITS) {
                http1_err_set(err, errlen, "chunk size longer than %d hex digits",
                              HTTP1_CHUNK_SIZE_MAX_DIGITS);
                return -1;
            }
            ch->remaining = ch->remaining << 4 | (uint64_t)hex_value(c);
            return 0;
        }
        if (c == '\r') {
            ch->state = CHUNKED_SIZE_LF;
            return 0;
        }
        if (c == ';') {
            ch->state = CHUNKED_EXT_NAME_BWS;
            return 0;
        }
        if (http1_is_ows(c)) {
            ch->state = CHUNKED_EXT_BWS;
            return 0;
        }
        goto bad_size;
    case CHUNKED_EXT_BWS:
        if (http1_is_ows(c))
            return 0;
        if (c == ';') {
            ch->state = CHUNKED_EXT_NAME_BWS;
            return 0;
        }
        goto bad_ext;
    case CHUNKED_EXT_NAME_BWS:
        if (http1_is_ows(c))
            return 0;
        if (http1_is_tchar(c)) {
            ch->state = CHUNKED_EXT_NAME;
            return 0;
        }
        goto bad_ext;
    case CHUNKED_EXT_NAME:
    case CHUNKED_EXT_VALUE_TOKEN:
        if (http1_is_tchar(c))
            return 0;
        if (c == '\r') {
            ch->state = CHUNKED_SIZE_LF;
            return 0;
        }
        if (c == ';') {
            ch->state = CHUNKED_EXT_NAME_BWS;
            return 0;
        }
        if (c == '=' && state == CHUNKED_EXT_NAME) {
            ch->state = CHUNKED_EXT_VALUE_BWS;
            return 0;
        }
        if (http1_is_ows(c)) {
            ch->state = state == CHUNKED_EXT_NAME ? CHUNKED_EXT_NAME_END : CHUNKED_EXT_BWS;
            return 0;
        }
        goto bad_ext;
    case CHUNKED_EXT_NAME_END:
        if (http1_is_ows(c))
            return 0;
        if (c == '=') {
            ch->state = CHUNKED_EXT_VALUE_BWS;
            return 0;
        }
        if (c == ';') {
            ch->state = CHUNKED_EXT_NAME_BWS;
            return 0;
        }
        goto bad_ext;
    case CHUNKED_EXT_VALUE_BWS:
        if (http1_is_ows(c))
            return 0;
        if (c == '"') {
            ch->in_quote = 1;
            ch->state = CHUNKED_EXT_VALUE_QUOTED;
            return 0;
        }
        if (http1_is_tchar(c)) {
            ch->state = CHUNKED_EXT_VALUE_TOKEN;
            return 0;
        }
        goto bad_ext;
    case CHUNKED_EXT_VALUE_QUOTED:
        if (c == '"') {
            ch->in_quote = 0;
            ch->state = CHUNKED_EXT_VALUE_END;
            return 0;
        }
        if (c == '\\') {
            ch->state = CHUNKED_EXT_VALUE_ESCAPE;
            return 0;
        }
        if (qdtext(c))
            return 0;
        http1_err_set(err, errlen, "%s in a quoted chunk extension (unterminated string?)",
                      ctl_name(c));
        return -1;
    case CHUNKED_EXT_VALUE_ESCAPE:
        if (c == '\t' || (c >= 0x20 && c != 0x7f)) {
            ch->state = CHUNKED_EXT_VALUE_QUOTED;
            return 0;
        }
        http1_err_set(err, errlen, "%s escaped in a quoted chunk extension", ctl_name(c));
        return -1;
    case CHUNKED_EXT_VALUE_END:
        if (c == '\r') {
            ch->state = CHUNKED_SIZE_LF;
            return 0;
        }
        if (c == ';') {
            ch->state = CHUNKED_EXT_NAME_BWS;
            return 0;
        }
        if (http1_is_ows(c)) {
            ch->state = CHUNKED_EXT_BWS;
            return 0;
        }
        goto bad_ext;
    case CHUNKED_SIZE_LF:
        if (c != '\n') {
            http1_err_set(err, errlen, "bare CR in a chunk size line");
            return -1;
        }
        return chunked_size_done(ch, err, errlen);
    case CHUNKED_DATA_CR:
        if (c != '\r') {
            http1_err_set(err, errlen, "chunk data not followed by CRLF");
            return -1;
        }
        ch->state = CHUNKED_DATA_LF;
        return 0;
    case CHUNKED_DATA_LF:
        if (c != '\n') {
            http1_err_set(err, errlen, "bare CR after chunk data");
            return -1;
        }
        ch->line_bytes = 0;
        ch->size_digits = 0;
        ch->remaining = 0;
        ch->state = CHUNKED_SIZE_START;
        return 0;
    case CHUNKED_TRAILER_START:
        if (c == '\r') {
            ch->state = CHUNKED_END_LF;
            return 0;
        }
        if (http1_is_tchar(c)) {
            ch->state = CHUNKED_TRAILER_NAME;
            return 0;
        }
        if (http1_is_ows(c)) {
            http1_err_set(err, errlen, "trailer line starts with whitespace (obs-fold)");
            return -1;
        }
        goto bad_trailer;
    case CHUNKED_TRAILER_NAME:
        if (http1_is_tchar(c))
            return 0;
        if (c == ':') {
            ch->state = CHUNKED_TRAILER_VALUE;
            return 0;
        }
        goto bad_trailer;
    case CHUNKED_TRAILER_VALUE:
        if (c == '\r') {
            ch->state = CHUNKED_TRAILER_LF;
            return 0;
        }
        if (is_field_char(c))
            return 0;
        goto bad_trailer;
    case CHUNKED_TRAILER_LF:
        if (c != '\n') {
            http1_err_set(err, errlen, "bare CR in a trailer line");
            return -1;
        }
        ch->state = CHUNKED_TRAILER_START;
        return 0;
    case CHUNKED_END_LF:
        if (c != '\n') {
            http1_err_set(err, errlen, "bare CR at the end of the chunked body");
            return -1;
        }
        ch->state = CHUNKED_DONE;
        ch->done = 1;
        return 0;
    default:
        http1_err_set(err, errlen, "chunked decoder in state %d", state);
        return -1;
    }

bad_size:
    if (c == '\n')
        http1_err_set(err, errlen, "bare LF in a chunk size line");
    else
        http1_err_set(err, errlen, "invalid character 0x%02x in a chunk size", c);
    return -1;
bad_ext:
    if (c == '\n')
        http1_err_set(err, errlen, "bare LF in a chunk size line");
    else
        http1_err_set(err, errlen, "invalid character 0x%02x in a chunk extension", c);
    return -1;
bad_trailer:
    if (c == '\n')
        http1_err_set(err, errlen, "bare LF in chunked trailers");
    else
        http1_err_set(err, errlen, "invalid character 0x%02x in a trailer line", c);
    return -1;
}

long http1_chunked_feed(struct http1_chunked *ch, const char *in, size_t len, size_t *data_off,
                        size_t *data_len, char *err, size_t errlen)
{
    *data_off = 0;
    *data_len = 0;
    if (ch->state == CHUNKED_ERROR) {
        http1_err_set(err, errlen, "chunked body already failed");
        return HTTP1_ERROR;
    }
    size_t i = 0;
    while (i < len && !ch->done) {
        if (ch->state == CHUNKED_DATA) {
            size_t avail = len - i;
            size_t take = ch->remaining < avail ? (size_t)ch->remaining : avail;
            *data_off = i;
            *data_len = take;
            ch->remaining -= take;
            ch->body_bytes += take;
            if (ch->remaining == 0)
                ch->state = CHUNKED_DATA_CR;
            return (long)(i + take);
        }
        if (chunked_step(ch, (unsigned char)in[i], err, errlen) < 0) {
            ch->state = CHUNKED_ERROR;
            return HTTP1_ERROR;
        }
        i++;
    }
    return (long)i;
}
