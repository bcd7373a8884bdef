/* Vary (RFC 9111 §4.1): the one rule for whether two requests select the
 * same stored variant. The cache index matches requests against the values
 * it stored with a variant, and collapsing matches a waiter against the
 * request whose fetch it joined; both go through here, so a waiter is never
 * handed a response the cache would not have served it. */
#ifndef PP_VARY_H
#define PP_VARY_H

#include <stddef.h>
#include "http1.h"

/* Longest header name a Vary value may list and still be matched: no real
 * header name comes near; a response naming a longer one is not shared. */
#define VARY_MAX_NAME_BYTES 255

/* A request's value for one header, as Vary compares it: every field line
 * of that name, trimmed of optional whitespace, joined with ", " (RFC 9110
 * §5.3 makes several lines equal to one comma-joined line). A request
 * without the header matches only a request without it. */

/* Bytes of the joined value; -1 when the request has no such header. */
long vary_value_len(const struct http1_header *h, size_t n, const char *name);
/* Writes the joined value to out (vary_value_len bytes); returns the end. */
char *vary_value_copy(const struct http1_header *h, size_t n, const char *name, char *out);
/* Whether the request's joined value is value[0..len) (present 1), or the
 * request lacks the header (present 0). Builds nothing: the cache's hit
 * path allocates nothing. */
int vary_value_matches(const struct http1_header *h, size_t n, const char *name, const char *value,
                       size_t len, int present);

/* Whether requests a and b agree on every header the Vary value names. */
int vary_requests_match(struct http1_str vary, const struct http1_header *a, size_t an,
                        const struct http1_header *b, size_t bn);

/* Whether the Vary value lists "*" (never matched: RFC 9111 §4.1). */
int vary_has_star(const struct http1_str *vary);
/* name lower-cased and NUL-terminated into out (VARY_MAX_NAME_BYTES + 1
 * bytes); returns the byte after the NUL, or NULL when name is too long. */
char *vary_name_copy(struct http1_str name, char *out);

#endif
