/* Vary matching for the cache index (stored variants) and for collapsing
 * (waiters on an in-flight fetch): one definition of a request's value for a
 * header, walked piecewise so that comparing never builds it. */
#include "vary.h"

#include <string.h>

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static struct http1_str str_trim(struct http1_str s)
{
    while (s.len > 0 && is_ows(s.p[0])) {
        s.p++;
        s.len--;
    }
    while (s.len > 0 && is_ows(s.p[s.len - 1]))
        s.len--;
    return s;
}

long vary_value_len(const struct http1_header *h, size_t n, const char *name)
{
    long len = -1;
    for (const struct http1_header *f = http1_header_find(h, n, name); f;
         f = http1_header_next(h, n, f, name))
        len = (len < 0 ? 0 : len + 2) + (long)str_trim(f->value).len;
    return len;
}

char *vary_value_copy(const struct http1_header *h, size_t n, const char *name, char *out)
{
    int first = 1;
    for (const struct http1_header *f = http1_header_find(h, n, name); f;
         f = http1_header_next(h, n, f, name)) {
        struct http1_str v = str_trim(f->value);
        if (!first) {
            memcpy(out, ", ", 2);
            out += 2;
        }
        if (v.len > 0)
            memcpy(out, v.p, v.len);
        out += v.len;
        first = 0;
    }
    return out;
}

/* A position in a request's joined value: the field line being read, what
 * is left of its trimmed value, and how much of the ", " owed before the
 * next line is still to come. */
struct vary_walk {
    const struct http1_header *h;
    size_t n;
    const char *name;
    const struct http1_header *f; /* NULL: the request has no such line */
    struct http1_str left;
};

static void walk_start(struct vary_walk *w, const struct http1_header *h, size_t n,
                       const char *name)
{
    w->h = h;
    w->n = n;
    w->name = name;
    w->f = http1_header_find(h, n, name);
    w->left = w->f ? str_trim(w->f->value) : (struct http1_str){NULL, 0};
}

/* Moves to the next field line, consuming the ", " that joins it. */
static int walk_next_line(struct vary_walk *w, const char **p, size_t *len)
{
    const struct http1_header *next = w->f ? http1_header_next(w->h, w->n, w->f, w->name) : NULL;
    if (!next || *len < 2 || memcmp(*p, ", ", 2) != 0)
        return 0;
    w->f = next;
    w->left = str_trim(next->value);
    *p += 2;
    *len -= 2;
    return 1;
}

/* Consumes p[0..len) from the joined value; 0 when they differ. */
static int walk_eat(struct vary_walk *w, const char *p, size_t len)
{
    while (len > 0) {
        if (w->left.len == 0) {
            if (!walk_next_line(w, &p, &len))
                return 0;
            continue;
        }
        size_t k = len < w->left.len ? len : w->left.len;
        if (memcmp(p, w->left.p, k) != 0)
            return 0;
        p += k;
        len -= k;
        w->left.p += k;
        w->left.len -= k;
    }
    return 1;
}

/* Whether the whole joined value has been consumed. */
static int walk_at_end(const struct vary_walk *w)
{
    return w->left.len == 0 && (!w->f || !http1_header_next(w->h, w->n, w->f, w->name));
}

int vary_value_matches(const struct http1_header *h, size_t n, const char *name, const char *value,
                       size_t len, int present)
{
    struct vary_walk w;
    walk_start(&w, h, n, name);
    if ((w.f != NULL) != (present != 0))
        return 0;
    return walk_eat(&w, value, len) && walk_at_end(&w);
}

/* Whether a's and b's joined values of one header are equal: a's lines are
 * fed, trimmed and joined, into a walk over b's. */
static int vary_field_equal(const struct http1_header *a, size_t an, const struct http1_header *b,
                            size_t bn, const char *name)
{
    struct vary_walk wb;
    walk_start(&wb, b, bn, name);
    const struct http1_header *fa = http1_header_find(a, an, name);
    if ((fa != NULL) != (wb.f != NULL))
        return 0;
    for (int first = 1; fa; fa = http1_header_next(a, an, fa, name), first = 0) {
        struct http1_str v = str_trim(fa->value);
        if ((!first && !walk_eat(&wb, ", ", 2)) || !walk_eat(&wb, v.p, v.len))
            return 0;
    }
    return walk_at_end(&wb);
}

int vary_requests_match(struct http1_str vary, const struct http1_header *a, size_t an,
                        const struct http1_header *b, size_t bn)
{
    size_t pos = 0;
    struct http1_str tok;
    char name[VARY_MAX_NAME_BYTES + 1];
    while (http1_list_next(vary, &pos, &tok)) {
        if (http1_str_eq(tok, "*") || !vary_name_copy(tok, name))
            return 0;
        if (!vary_field_equal(a, an, b, bn, name))
            return 0;
    }
    return 1;
}

int vary_has_star(const struct http1_str *vary)
{
    size_t pos = 0;
    struct http1_str name;
    while (vary && http1_list_next(*vary, &pos, &name)) {
        if (http1_str_eq(name, "*"))
            return 1;
    }
    return 0;
}

char *vary_name_copy(struct http1_str name, char *out)
{
    if (name.len > VARY_MAX_NAME_BYTES)
        return NULL;
    for (size_t i = 0; i < name.len; i++) {
        char ch = name.p[i];
        out[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + ('a' - 'A')) : ch;
    }
    out[name.len] = '\0';
    return out + name.len + 1;
}
