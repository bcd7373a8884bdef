/* Private to the HTTP/1.1 parser files (http1.c, http1_chunked.c): the
 * character classes of RFC 9110 and the one way they fill an error buffer.
 * Not part of the API in http1.h. */
#ifndef PP_HTTP1_INTERNAL_H
#define PP_HTTP1_INTERNAL_H

#include <stddef.h>

/* tchar (RFC 9110 §5.6.2): the characters of methods, field names and
 * transfer codings. */
extern const unsigned char http1_tchar_map[256];

static inline int http1_is_tchar(unsigned char c)
{
    return http1_tchar_map[c];
}

/* Optional whitespace (RFC 9110 §5.6.3). */
static inline int http1_is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* Fills err (when not NULL) with a formatted one-line reason. */
void http1_err_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
