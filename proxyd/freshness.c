/* RFC 9111 shared-cache rules as pure functions: Cache-Control and HTTP-date
 * parsing, storability (§3), freshness lifetime and age (§4.2) and client
 * conditionals (RFC 9110 §13). proxyd's fetch path asks freshness_storable
 * before inserting into cache.c, and its hit path asks freshness_usable and
 * freshness_not_modified; no clock is read here, callers pass "now". */
#include "freshness.h"

#include <stdio.h>
#include <string.h>

/* RFC 9111 §1.2.2: a delta-seconds too large to represent, or a calculation
 * that overflows, is taken as 2^31 seconds. */
#define DELTA_SECONDS_MAX 2147483648LL
/* RFC 9111 §4.2.2: heuristic lifetime is 10% of the time since Last-Modified;
 * the cap of one day is ours (Squid's refresh_pattern max defaults higher,
 * but a day keeps a wrong guess from living long). */
#define HEURISTIC_FRACTION 10
#define HEURISTIC_MAX_S 86400
/* The largest time http_date_format can write with a 4-digit year:
 * 9999-12-31T23:59:59Z. */
#define HTTP_DATE_MAX 253402300799LL

static const char *const day_names[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const day_names_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                              "Thursday", "Friday", "Saturday"};
static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* delta-seconds = 1*DIGIT (RFC 9111 §1.2.2), saturating at 2^31. */
static int delta_seconds_parse(struct http1_str s, int64_t *out)
{
    if (s.len == 0)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (!is_digit(s.p[i]))
            return -1;
        if (v < DELTA_SECONDS_MAX)
            v = v * 10 + (s.p[i] - '0');
    }
    *out = v < DELTA_SECONDS_MAX ? v : DELTA_SECONDS_MAX;
    return 0;
}

/* Directive arguments may come as token or quoted-string; RFC 9111 §5.2 asks
 * recipients to accept both. Escapes never occur in a number, so a quoted
 * value is used as is between the quotes. */
static struct http1_str arg_unquote(struct http1_str v)
{
    if (v.len >= 2 && v.p[0] == '"' && v.p[v.len - 1] == '"') {
        v.p++;
        v.len -= 2;
    }
    return v;
}

/* Splits one list element "name[=value]" into its name and argument. */
static int directive_split(struct http1_str el, struct http1_str *name, struct http1_str *arg)
{
    const char *eq = memchr(el.p, '=', el.len);
    *name = el;
    arg->p = NULL;
    arg->len = 0;
    if (!eq)
        return 0;
    name->len = (size_t)(eq - el.p);
    while (name->len > 0 && (name->p[name->len - 1] == ' ' || name->p[name->len - 1] == '\t'))
        name->len--;
    arg->p = eq + 1;
    arg->len = (size_t)(el.p + el.len - arg->p);
    while (arg->len > 0 && (arg->p[0] == ' ' || arg->p[0] == '\t')) {
        arg->p++;
        arg->len--;
    }
    *arg = arg_unquote(*arg);
    return 1;
}

/* A delta-seconds directive. In a response, max-age and s-maxage that are
 * malformed make the response stale (§4.2.1); a second, different value of
 * the same directive does too ("either the first occurrence should be used or
 * the response should be considered stale": stale is the safe choice for a
 * shared cache). Elsewhere a malformed value is ignored and the first one
 * wins. */
static void directive_seconds(struct http1_str arg, int has_arg, int stale_if_bad, int64_t *slot)
{
    int64_t v;
    if (!has_arg || delta_seconds_parse(arg, &v) < 0) {
        if (stale_if_bad)
            *slot = 0;
        return;
    }
    if (*slot < 0)
        *slot = v;
    else if (stale_if_bad && *slot != v)
        *slot = 0;
}

void cache_control_parse(const struct http1_header *h, size_t n, int is_request,
                         struct cache_control *cc)
{
    memset(cc, 0, sizeof(*cc));
    cc->max_age_s = -1;
    cc->s_maxage_s = -1;
    cc->max_stale_s = -1;
    cc->min_fresh_s = -1;

    int seen = 0;
    for (const struct http1_header *f = http1_header_find(h, n, "Cache-Control"); f;
         f = http1_header_next(h, n, f, "Cache-Control")) {
        seen = 1;
        size_t pos = 0;
        struct http1_str el, name, arg;
        while (http1_list_next(f->value, &pos, &el)) {
            int has_arg = directive_split(el, &name, &arg);
            if (http1_str_caseeq(name, "no-store")) {
                cc->no_store = 1;
            } else if (http1_str_caseeq(name, "no-cache")) {
                cc->no_cache = 1;
            } else if (http1_str_caseeq(name, "private")) {
                cc->private_ = 1;
            } else if (http1_str_caseeq(name, "public")) {
                cc->public_ = 1;
            } else if (http1_str_caseeq(name, "must-revalidate")) {
                cc->must_revalidate = 1;
            } else if (http1_str_caseeq(name, "proxy-revalidate")) {
                cc->proxy_revalidate = 1;
            } else if (http1_str_caseeq(name, "only-if-cached")) {
                cc->only_if_cached = 1;
            } else if (http1_str_caseeq(name, "max-age")) {
                directive_seconds(arg, has_arg, !is_request, &cc->max_age_s);
            } else if (http1_str_caseeq(name, "s-maxage")) {
                if (!is_request)
                    directive_seconds(arg, has_arg, 1, &cc->s_maxage_s);
            } else if (http1_str_caseeq(name, "max-stale")) {
                if (!has_arg)
                    cc->max_stale_any = 1;
                else
                    directive_seconds(arg, has_arg, 0, &cc->max_stale_s);
            } else if (http1_str_caseeq(name, "min-fresh")) {
                directive_seconds(arg, has_arg, 0, &cc->min_fresh_s);
            }
        }
    }
    /* RFC 9111 §5.4: Pragma: no-cache only when the request has no
     * Cache-Control at all. */
    if (is_request && !seen && http1_header_has_token(h, n, "Pragma", "no-cache"))
        cc->no_cache = 1;
}

/* ---- HTTP-date ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12), after
 * Howard Hinnant's days_from_civil: no timegm(), no TZ, no locale. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

struct date_cursor {
    const char *p;
    size_t len;
    size_t i;
};

static int cur_lit(struct date_cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    if (c->len - c->i < n || memcmp(c->p + c->i, lit, n) != 0)
        return -1;
    c->i += n;
    return 0;
}

static int cur_digits(struct date_cursor *c, int ndigits, int *out)
{
    int v = 0;
    if (c->len - c->i < (size_t)ndigits)
        return -1;
    for (int k = 0; k < ndigits; k++) {
        char ch = c->p[c->i + (size_t)k];
        if (!is_digit(ch))
            return -1;
        v = v * 10 + (ch - '0');
    }
    c->i += (size_t)ndigits;
    *out = v;
    return 0;
}

/* One of names, exactly (HTTP-date is case-sensitive, RFC 9110 §5.6.7).
 * Returns the index or -1. */
static int cur_name(struct date_cursor *c, const char *const *names, int count)
{
    for (int k = 0; k < count; k++) {
        if (cur_lit(c, names[k]) == 0)
            return k;
    }
    return -1;
}

/* time-of-day = hour ":" minute ":" second; second 60 is a leap second. */
static int cur_time(struct date_cursor *c, int *hh, int *mm, int *ss)
{
    if (cur_digits(c, 2, hh) < 0 || cur_lit(c, ":") < 0 || cur_digits(c, 2, mm) < 0 ||
        cur_lit(c, ":") < 0 || cur_digits(c, 2, ss) < 0)
        return -1;
    return *hh <= 23 && *mm <= 59 && *ss <= 60 ? 0 : -1;
}

int64_t http_date_parse(struct http1_str s)
{
    struct date_cursor c = {s.p, s.len, 0};
    int day, mon, year, hh, mm, ss;

    if (s.p == NULL)
        return -1;
    if (cur_name(&c, day_names, 7) >= 0 && c.i < c.len && c.p[c.i] == ',') {
        /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        if (cur_lit(&c, ", ") < 0 || cur_digits(&c, 2, &day) < 0 || cur_lit(&c, " ") < 0 ||
            (mon = cur_name(&c, month_names, 12)) < 0 || cur_lit(&c, " ") < 0 ||
            cur_digits(&c, 4, &year) < 0 || cur_lit(&c, " ") < 0 ||
            cur_time(&c, &hh, &mm, &ss) < 0 || cur_lit(&c, " GMT") < 0)
            return -1;
    } else if (c.i > 0 && c.i < c.len && c.p[c.i] == ' ') {
        /* asctime: Sun Nov  6 08:49:37 1994 (day is SP DIGIT or 2DIGIT) */
        c.i++;
        if ((mon = cur_name(&c, month_names, 12)) < 0 || cur_lit(&c, " ") < 0)
            return -1;
        if (c.i < c.len && c.p[c.i] == ' ') {
            c.i++;
            if (cur_digits(&c, 1, &day) < 0)
                return -1;
        } else if (cur_digits(&c, 2, &day) < 0) {
            return -1;
        }
        if (cur_lit(&c, " ") < 0 || cur_time(&c, &hh, &mm, &ss) < 0 || cur_lit(&c, " ") < 0 ||
            cur_digits(&c, 4, &year) < 0)
            return -1;
    } else {
        /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT. The two-digit year is
         * read as POSIX strptime %y does (69-99 -> 19xx, 00-68 -> 20xx):
         * RFC 9110's "more than 50 years in the future" rule needs a clock,
         * and this one turns the common "01-Jan-70" into the past. */
        int yy;
        c.i = 0;
        if (cur_name(&c, day_names_long, 7) < 0 || cur_lit(&c, ", ") < 0 ||
            cur_digits(&c, 2, &day) < 0 || cur_lit(&c, "-") < 0 ||
            (mon = cur_name(&c, month_names, 12)) < 0 || cur_lit(&c, "-") < 0 ||
            cur_digits(&c, 2, &yy) < 0 || cur_lit(&c, " ") < 0 || cur_time(&c, &hh, &mm, &ss) < 0 ||
            cur_lit(&c, " GMT") < 0)
            return -1;
        year = yy >= 69 ? 1900 + yy : 2000 + yy;
    }
    if (c.i != c.len || day < 1 || day > days_in_month(year, mon + 1))
        return -1;

    int64_t t =
        days_from_civil(year, (unsigned)mon + 1, (unsigned)day) * 86400 + hh * 3600 + mm * 60 + ss;
    /* Dates before the epoch are all "long ago"; clamping keeps -1 free to
     * mean invalid. */
    return t < 0 ? 0 : t;
}

void http_date_format(int64_t t, char *out, size_t outlen)
{
    if (t < 0)
        t = 0;
    if (t > HTTP_DATE_MAX)
        t = HTTP_DATE_MAX;
    int64_t days = t / 86400, secs = t % 86400, y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, outlen, "%s, %02u %s %04lld %02d:%02d:%02d GMT", day_names[(days + 4) % 7], d,
             month_names[m - 1], (long long)y, (int)(secs / 3600), (int)(secs / 60 % 60),
             (int)(secs % 60));
}

/* ---- storability (RFC 9111 §3) ---- */

/* RFC 9110 §15.1 "heuristically cacheable" codes, without 206: proxyd does
 * not store partial content. */
static int status_heuristic(int status)
{
    switch (status) {
    case 200:
    case 203:
    case 204:
    case 300:
    case 301:
    case 308:
    case 404:
    case 405:
    case 410:
    case 414:
    case 501:
        return 1;
    default:
        return 0;
    }
}

/* Final statuses RFC 9110 defines, as must-understand needs to know. 206 and
 * 304 are excluded: a 206 is a fragment and a 304 only freshens. */
static int status_understood(int status)
{
    if ((status >= 200 && status <= 205) ||
        (status >= 300 && status <= 308 && status != 304 && status != 306))
        return 1;
    if ((status >= 400 && status <= 417) || status == 421 || status == 422 || status == 426)
        return 1;
    return status >= 500 && status <= 505;
}

static int refuse(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return 0;
}

int freshness_storable(struct http1_str method, const struct http1_header *req_h, size_t req_n,
                       int status, const struct http1_header *resp_h, size_t resp_n,
                       const char **why)
{
    struct cache_control req_cc, resp_cc;

    if (!http1_str_eq(method, "GET"))
        return refuse(why, "method");
    if (status < 200 || status > 599 || status == 206 || status == 304)
        return refuse(why, "status");
    cache_control_parse(req_h, req_n, 1, &req_cc);
    cache_control_parse(resp_h, resp_n, 0, &resp_cc);

    /* must-understand (RFC 9111 §5.2.2.3) overrides a response no-store
     * when the status is understood, and forbids storing when it is not. */
    int must_understand =
        http1_header_has_token(resp_h, resp_n, "Cache-Control", "must-understand");
    if (must_understand && !status_understood(status))
        return refuse(why, "status");
    if (req_cc.no_store)
        return refuse(why, "no-store");
    if (resp_cc.no_store && !must_understand)
        return refuse(why, "no-store");
    if (resp_cc.private_)
        return refuse(why, "private");
    /* §3.5: a shared cache stores an answer to an authenticated request only
     * when the origin says it may be shared. */
    if (http1_header_find(req_h, req_n, "Authorization") && !resp_cc.public_ &&
        resp_cc.s_maxage_s < 0 && !resp_cc.must_revalidate)
        return refuse(why, "authorization");
    if (http1_header_has_token(resp_h, resp_n, "Vary", "*"))
        return refuse(why, "vary-star");
    if (resp_cc.public_ || resp_cc.max_age_s >= 0 || resp_cc.s_maxage_s >= 0 ||
        http1_header_find(resp_h, resp_n, "Expires") || status_heuristic(status))
        return 1;
    return refuse(why, "no-freshness");
}

/* ---- freshness and age (RFC 9111 §4.2) ---- */

/* The first member of a singleton field sent as a list (§5.1 for Age). */
static int header_first_member(const struct http1_header *h, size_t n, const char *name,
                               struct http1_str *out)
{
    const struct http1_header *f = http1_header_find(h, n, name);
    size_t pos = 0;
    return f && http1_list_next(f->value, &pos, out) ? 0 : -1;
}

static int64_t header_date(const struct http1_header *h, size_t n, const char *name)
{
    const struct http1_header *f = http1_header_find(h, n, name);
    return f ? http_date_parse(f->value) : -1;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

void freshness_compute(int status, const struct http1_header *resp_h, size_t resp_n,
                       int64_t request_time, int64_t response_time, struct freshness *f)
{
    struct cache_control cc;
    cache_control_parse(resp_h, resp_n, 0, &cc);
    memset(f, 0, sizeof(*f));
    f->response_time = response_time;
    f->must_revalidate = cc.must_revalidate || cc.proxy_revalidate || cc.s_maxage_s >= 0;
    f->no_cache = cc.no_cache;

    /* Without a valid Date, the time the response was received stands in
     * (RFC 9110 §6.6.1). */
    int64_t date = header_date(resp_h, resp_n, "Date");
    int have_date = date >= 0;
    if (!have_date)
        date = response_time;

    if (cc.s_maxage_s >= 0) {
        f->lifetime_s = cc.s_maxage_s;
    } else if (cc.max_age_s >= 0) {
        f->lifetime_s = cc.max_age_s;
    } else if (http1_header_find(resp_h, resp_n, "Expires")) {
        /* An invalid Expires ("0") means already expired (§5.3). */
        int64_t expires = header_date(resp_h, resp_n, "Expires");
        f->lifetime_s = expires < 0 ? 0 : max64(0, expires - date);
    } else if (status_heuristic(status)) {
        int64_t lm = header_date(resp_h, resp_n, "Last-Modified");
        int64_t h = lm >= 0 && date > lm ? (date - lm) / HEURISTIC_FRACTION : 0;
        f->lifetime_s = h > HEURISTIC_MAX_S ? HEURISTIC_MAX_S : h;
    }

    /* §4.2.3; an Age that is not a non-negative integer is ignored (§5.1). */
    struct http1_str age_str;
    int64_t age_value = 0;
    if (header_first_member(resp_h, resp_n, "Age", &age_str) < 0 ||
        delta_seconds_parse(age_str, &age_value) < 0)
        age_value = 0;
    int64_t apparent_age = have_date ? max64(0, response_time - date) : 0;
    int64_t response_delay = max64(0, response_time - request_time);
    int64_t corrected_age_value = age_value + response_delay;
    f->corrected_age_s = max64(apparent_age, corrected_age_value);
}

int64_t freshness_age(const struct freshness *f, int64_t now)
{
    return f->corrected_age_s + max64(0, now - f->response_time);
}

int freshness_usable(const struct freshness *f, const struct cache_control *req_cc, int64_t now)
{
    int64_t age = freshness_age(f, now);
    int64_t remaining = f->lifetime_s - age; /* > 0 while fresh */

    if (f->no_cache)
        return 0;
    if (req_cc) {
        if (req_cc->no_cache)
            return 0;
        if (req_cc->max_age_s >= 0 && age > req_cc->max_age_s)
            return 0;
        if (req_cc->min_fresh_s >= 0 && remaining < req_cc->min_fresh_s)
            return 0;
    }
    if (remaining > 0)
        return 1;
    /* Stale: only with the client's max-stale, and never past must-revalidate
     * (§4.2.4: "MUST NOT ... unless ... allowed"). */
    if (f->must_revalidate || !req_cc)
        return 0;
    if (req_cc->max_stale_any)
        return 1;
    return req_cc->max_stale_s >= 0 && -remaining <= req_cc->max_stale_s;
}

/* ---- conditionals (RFC 9110 §13.1.2, §13.1.3) ---- */

/* The next entity-tag of an If-None-Match list: [W/]"opaque" or "*". The
 * opaque part may contain commas, so http1_list_next cannot split it. On a
 * malformed element the rest of that element is skipped. Returns 1 with
 * *opaque set (quotes included; "*" for the wildcard), 0 at the end. */
static int etag_list_next(struct http1_str v, size_t *pos, struct http1_str *opaque)
{
    size_t i = *pos;
    for (;;) {
        while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ','))
            i++;
        if (i >= v.len) {
            *pos = i;
            return 0;
        }
        if (v.p[i] == '*') {
            opaque->p = v.p + i;
            opaque->len = 1;
            *pos = i + 1;
            return 1;
        }
        if (v.len - i >= 2 && v.p[i] == 'W' && v.p[i + 1] == '/')
            i += 2;
        if (i < v.len && v.p[i] == '"') {
            const char *end = memchr(v.p + i + 1, '"', v.len - i - 1);
            if (end) {
                opaque->p = v.p + i;
                opaque->len = (size_t)(end - opaque->p) + 1;
                *pos = (size_t)(end - v.p) + 1;
                return 1;
            }
        }
        while (i < v.len && v.p[i] != ',')
            i++;
    }
}

static int opaque_eq(struct http1_str a, struct http1_str b)
{
    return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

static int if_none_match_matches(const struct http1_header *req_h, size_t req_n,
                                 const struct http1_header *resp_h, size_t resp_n)
{
    struct http1_str stored = {NULL, 0};
    const struct http1_header *etag = http1_header_find(resp_h, resp_n, "ETag");
    if (etag) {
        size_t pos = 0;
        if (!etag_list_next(etag->value, &pos, &stored) || http1_str_eq(stored, "*"))
            stored.p = NULL;
    }
    for (const struct http1_header *f = http1_header_find(req_h, req_n, "If-None-Match"); f;
         f = http1_header_next(req_h, req_n, f, "If-None-Match")) {
        size_t pos = 0;
        struct http1_str tag;
        while (etag_list_next(f->value, &pos, &tag)) {
            /* "*" matches any current representation: the stored one is. */
            if (http1_str_eq(tag, "*"))
                return 1;
            if (stored.p && opaque_eq(tag, stored))
                return 1;
        }
    }
    return 0;
}

int freshness_not_modified(const struct http1_header *req_h, size_t req_n,
                           const struct http1_header *resp_h, size_t resp_n)
{
    if (http1_header_find(req_h, req_n, "If-None-Match"))
        return if_none_match_matches(req_h, req_n, resp_h, resp_n);

    /* §13.1.3: ignored unless exactly one valid HTTP-date. */
    const struct http1_header *ims = http1_header_find(req_h, req_n, "If-Modified-Since");
    if (!ims || http1_header_next(req_h, req_n, ims, "If-Modified-Since"))
        return 0;
    int64_t since = http_date_parse(ims->value);
    if (since < 0)
        return 0;
    int64_t modified = header_date(resp_h, resp_n, "Last-Modified");
    if (modified < 0)
        modified = header_date(resp_h, resp_n, "Date");
    return modified >= 0 && modified <= since;
}
