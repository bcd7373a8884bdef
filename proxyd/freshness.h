/* RFC 9111 for a shared cache, as pure functions over parsed headers: what
 * Cache-Control says, whether a response may be stored, how long it stays
 * fresh, how old it is, and whether a client's conditional request is
 * answered with 304. No clocks are read here: callers pass "now". */
#ifndef PP_FRESHNESS_H
#define PP_FRESHNESS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "http1.h"

/* Cache-Control directives that matter to a shared cache. Every *_s value is
 * seconds, -1 when absent. Several Cache-Control headers are combined.
 * Pragma: no-cache counts as no-cache in a request without Cache-Control. */
struct cache_control {
    unsigned no_store : 1;
    unsigned no_cache : 1; /* bare no-cache; no-cache="field" is treated the same (stricter) */
    unsigned private_ : 1;
    unsigned public_ : 1;
    unsigned must_revalidate : 1;
    unsigned proxy_revalidate : 1;
    unsigned only_if_cached : 1;
    unsigned max_stale_any : 1; /* request "max-stale" with no value */
    int64_t max_age_s;
    int64_t s_maxage_s;
    int64_t max_stale_s;
    int64_t min_fresh_s;
};
/* Parses all Cache-Control headers (and Pragma when is_request). Malformed
 * numbers: for max-age and s-maxage in responses, a malformed value means 0
 * (stale, RFC 9111 §4.2.1 "treat as stale"); otherwise the directive is ignored. */
void cache_control_parse(const struct http1_header *h, size_t n, int is_request,
                         struct cache_control *cc);

/* HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, obsolete RFC 850 and asctime
 * forms. Returns seconds since the epoch, or -1 when invalid. */
int64_t http_date_parse(struct http1_str s);
/* IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT". out needs 30 bytes. */
void http_date_format(int64_t t, char *out, size_t outlen);

/* Whether a response to this request may be stored by a shared cache
 * (RFC 9111 §3): method GET; status understood and either heuristically
 * cacheable (200 203 204 300 301 308 404 405 410 414 501) or with explicit
 * freshness (max-age, s-maxage, Expires) or public; no no-store in request
 * or response; not private; Authorization in the request only with public,
 * s-maxage or must-revalidate; no Vary: *. Returns 1 or 0; when 0 and why is
 * not NULL, *why names the reason ("no-store", "private", ...). */
int freshness_storable(struct http1_str method, const struct http1_header *req_h, size_t req_n,
                       int status, const struct http1_header *resp_h, size_t resp_n,
                       const char **why);

/* The ages and lifetime of a stored response (RFC 9111 §4.2). */
struct freshness {
    int64_t lifetime_s;           /* freshness lifetime */
    int64_t corrected_age_s;      /* corrected_initial_age at response_time */
    int64_t response_time;        /* when the response was received (epoch s) */
    unsigned must_revalidate : 1; /* must-revalidate, proxy-revalidate or s-maxage */
    unsigned no_cache : 1;        /* the response says it may not be used unvalidated */
};
/* Computes lifetime from s-maxage, max-age, Expires - Date, else for a
 * heuristically cacheable status 10% of (Date - Last-Modified) capped at one
 * day, else 0; and the corrected initial age from Age, Date, and the request
 * and response times. */
void freshness_compute(int status, const struct http1_header *resp_h, size_t resp_n,
                       int64_t request_time, int64_t response_time, struct freshness *f);
/* current_age = corrected_initial_age + (now - response_time). */
int64_t freshness_age(const struct freshness *f, int64_t now);
/* Whether the stored response may be served without revalidation to a
 * request with these Cache-Control directives (no-cache, max-age, min-fresh,
 * max-stale; a stale response with must-revalidate is never served). */
int freshness_usable(const struct freshness *f, const struct cache_control *req_cc, int64_t now);

/* Client conditionals against a stored response (RFC 9110 §13.2.2): returns
 * 1 when the request's If-None-Match (weak comparison; "*" matches) or, when
 * it has none, If-Modified-Since (against Last-Modified, else Date) says the
 * client's copy is current and a 304 should be sent; else 0. */
int freshness_not_modified(const struct http1_header *req_h, size_t req_n,
                           const struct http1_header *resp_h, size_t resp_n);

#endif
