/* HTTP/1.1 header helpers (RFC 9110): finding fields, comparing names,
 * walking comma-separated lists, hop-by-hop fields, splitting absolute-form
 * targets and authorities, reason phrases and the default head limits. Used
 * by every program after http1.c has parsed a head; pure functions on the
 * caller's buffer. */
#include "http1.h"

#include <string.h>

/* Request line and header line: Varnish http_req_hdr_len (8k), nginx
 * large_client_header_buffers (8k). */
#define HTTP1_DEFAULT_MAX_LINE_BYTES 8192
/* Whole head: Varnish http_req_size (32k). */
#define HTTP1_DEFAULT_MAX_HEAD_BYTES 32768

void http1_limits_default(struct http1_limits *lim)
{
    lim->max_line_bytes = HTTP1_DEFAULT_MAX_LINE_BYTES;
    lim->max_head_bytes = HTTP1_DEFAULT_MAX_HEAD_BYTES;
    lim->max_headers = HTTP1_MAX_HEADERS;
}

/* ASCII only: header names must not depend on the locale. */
static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int http1_parse_uint(struct http1_str s, uint64_t max, uint64_t *out)
{
    if (s.len == 0)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (!is_digit(s.p[i]))
            return -1;
        unsigned d = (unsigned)(s.p[i] - '0');
        if (d > max || v > (max - d) / 10) /* v * 10 + d > max, without overflow */
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int http1_str_eq(struct http1_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && (n == 0 || memcmp(s.p, lit, n) == 0);
}

int http1_str_caseeq(struct http1_str s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.len != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (ascii_lower((unsigned char)s.p[i]) != ascii_lower((unsigned char)lit[i]))
            return 0;
    }
    return 1;
}

static int str_caseeq_str(struct http1_str a, struct http1_str b)
{
    if (a.len != b.len)
        return 0;
    for (size_t i = 0; i < a.len; i++) {
        if (ascii_lower((unsigned char)a.p[i]) != ascii_lower((unsigned char)b.p[i]))
            return 0;
    }
    return 1;
}

const struct http1_header *http1_header_find(const struct http1_header *h, size_t n,
                                             const char *name)
{
    return http1_header_next(h, n, NULL, name);
}

const struct http1_header *http1_header_next(const struct http1_header *h, size_t n,
                                             const struct http1_header *prev, const char *name)
{
    size_t i = prev ? (size_t)(prev - h) + 1 : 0;
    for (; i < n; i++) {
        if (http1_str_caseeq(h[i].name, name))
            return &h[i];
    }
    return NULL;
}

/* Commas inside a quoted-string (Cache-Control: no-cache="a, b") do not
 * separate elements, so the element there is the whole name="a, b". */
int http1_list_next(struct http1_str value, size_t *pos, struct http1_str *tok)
{
    size_t i = *pos;
    while (i < value.len) {
        while (i < value.len && (is_ows(value.p[i]) || value.p[i] == ','))
            i++;
        if (i >= value.len)
            break;
        size_t start = i;
        int quoted = 0;
        for (; i < value.len; i++) {
            char c = value.p[i];
            if (quoted) {
                if (c == '\\' && i + 1 < value.len)
                    i++;
                else if (c == '"')
                    quoted = 0;
            } else if (c == '"') {
                quoted = 1;
            } else if (c == ',') {
                break;
            }
        }
        size_t end = i;
        while (end > start && is_ows(value.p[end - 1]))
            end--;
        if (end > start) {
            tok->p = value.p + start;
            tok->len = end - start;
            *pos = i;
            return 1;
        }
    }
    *pos = value.len;
    return 0;
}

int http1_header_has_token(const struct http1_header *h, size_t n, const char *name,
                           const char *token)
{
    for (const struct http1_header *f = http1_header_find(h, n, name); f;
         f = http1_header_next(h, n, f, name)) {
        size_t pos = 0;
        struct http1_str el;
        while (http1_list_next(f->value, &pos, &el)) {
            const char *eq = memchr(el.p, '=', el.len);
            if (eq) {
                el.len = (size_t)(eq - el.p);
                while (el.len > 0 && is_ows(el.p[el.len - 1]))
                    el.len--;
            }
            if (http1_str_caseeq(el, token))
                return 1;
        }
    }
    return 0;
}

int http1_is_hop_by_hop(struct http1_str name)
{
    static const char *const hop[] = {
        "Connection",
        "Keep-Alive",
        "Proxy-Connection",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
    };
    for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++) {
        if (http1_str_caseeq(name, hop[i]))
            return 1;
    }
    return 0;
}

int http1_connection_lists(const struct http1_header *h, size_t n, struct http1_str name)
{
    for (const struct http1_header *f = http1_header_find(h, n, "Connection"); f;
         f = http1_header_next(h, n, f, "Connection")) {
        size_t pos = 0;
        struct http1_str el;
        while (http1_list_next(f->value, &pos, &el)) {
            if (str_caseeq_str(el, name))
                return 1;
        }
    }
    return 0;
}

/* Ports are 1..65535 in decimal; at most 5 digits so leading zeros cannot
 * hide a huge number. */
static int port_parse(const char *p, size_t n, int *port)
{
    if (n == 0 || n > 5)
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = v;
    return 0;
}

/* Host names are kept to letters, digits, '-', '.', '_' and '~' (RFC 3986
 * unreserved): percent-encoding and sub-delims never name a real host, and
 * anything else in a Host header is an attempt to confuse routing. IPv6
 * literals are hex digits, ':' and '.' (embedded IPv4) inside brackets. */
int http1_split_authority(struct http1_str authority, int default_port, struct http1_str *host,
                          int *port)
{
    const char *p = authority.p;
    size_t n = authority.len;
    size_t host_end;

    if (n == 0)
        return -1;
    if (p[0] == '[') {
        size_t i = 1;
        while (i < n && (is_hex(p[i]) || p[i] == ':' || p[i] == '.'))
            i++;
        if (i >= n || p[i] != ']' || i < 3)
            return -1;
        host_end = i + 1;
    } else {
        size_t i = 0;
        while (i < n &&
               (is_alnum(p[i]) || p[i] == '-' || p[i] == '.' || p[i] == '_' || p[i] == '~'))
            i++;
        if (i == 0)
            return -1;
        host_end = i;
    }

    int v = default_port;
    if (host_end < n) {
        if (p[host_end] != ':')
            return -1;
        if (port_parse(p + host_end + 1, n - host_end - 1, &v) < 0)
            return -1;
    }
    host->p = p;
    host->len = host_end;
    *port = v;
    return 0;
}

/* The path is a pointer into the target, so "http://host?q" (empty path
 * with a query) cannot become "/?q" without copying; it is rejected. */
int http1_split_absolute(struct http1_str target, struct http1_str *host, int *port,
                         struct http1_str *path)
{
    static const char scheme[] = "http://";
    const size_t slen = sizeof(scheme) - 1;

    if (target.len < slen)
        return -1;
    struct http1_str s = {target.p, slen};
    if (!http1_str_caseeq(s, scheme))
        return -1;

    const char *a = target.p + slen;
    size_t rest = target.len - slen;
    size_t alen = 0;
    while (alen < rest && a[alen] != '/' && a[alen] != '?' && a[alen] != '#')
        alen++;
    if (memchr(a, '@', alen))
        return -1; /* userinfo: deprecated and a phishing vector (RFC 9110 §4.2.4) */
    if (alen < rest && a[alen] != '/')
        return -1;

    struct http1_str auth = {a, alen};
    if (http1_split_authority(auth, 80, host, port) < 0)
        return -1;
    if (alen == rest) {
        path->p = "/";
        path->len = 1;
    } else {
        path->p = a + alen;
        path->len = rest - alen;
    }
    return 0;
}

const char *http1_reason(int status)
{
    static const struct {
        int status;
        const char *reason;
    } reasons[] = {
        {100, "Continue"},
        {101, "Switching Protocols"},
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {203, "Non-Authoritative Information"},
        {204, "No Content"},
        {205, "Reset Content"},
        {206, "Partial Content"},
        {300, "Multiple Choices"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {407, "Proxy Authentication Required"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "Length Required"},
        {412, "Precondition Failed"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {416, "Range Not Satisfiable"},
        {417, "Expectation Failed"},
        {421, "Misdirected Request"},
        {422, "Unprocessable Content"},
        {426, "Upgrade Required"},
        {428, "Precondition Required"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
    };
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        if (reasons[i].status == status)
            return reasons[i].reason;
    }
    return "Unknown";
}
