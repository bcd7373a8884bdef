/* Unit tests for proxyd/object.c: the shared response as subscribers see it
 * (head, body by reference, the order of wake-ups), trimming of bodies not
 * retained, throttling, refresh from a 304, and the in-flight table. Responses
 * are built by hand from string literals; subscribers are probes that record
 * what they were told and may act (leave, drop a reference) when told. */
#include <check.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>

#include "../../../proxyd/object_internal.h"
#include "../check_main.h"

#define KEY "http://origin.test/a"
#define T0 1700000000LL

/* ---- helpers ---- */

static struct http1_str str_lit(const char *s)
{
    struct http1_str r = {s, strlen(s)};
    return r;
}

/* A response head: status, framing, then one "Name: value" line per
 * argument; NULL ends the list. The strings must outlive the use. */
static void resp_fill(struct http1_response *r, int status, enum http1_body body, uint64_t len,
                      const char *line, ...)
{
    va_list ap;
    memset(r, 0, sizeof(*r));
    r->status = status;
    r->reason = str_lit("Whatever");
    r->version_minor = 1;
    r->body = body;
    r->content_length = body == HTTP1_BODY_LENGTH ? len : 0;
    r->keep_alive = 1;
    va_start(ap, line);
    for (; line; line = va_arg(ap, const char *)) {
        const char *colon = strchr(line, ':');
        ck_assert_ptr_nonnull(colon);
        ck_assert_uint_lt(r->nheaders, HTTP1_MAX_HEADERS);
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        struct http1_header *h = &r->headers[r->nheaders++];
        h->name.p = line;
        h->name.len = (size_t)(colon - line);
        h->value = str_lit(v);
    }
    va_end(ap);
}
#define RESP(r, status, body, len, ...)                                                            \
    resp_fill(r, status, body, len, __VA_ARGS__, (const char *)NULL)

static struct object *obj_new(const char *key)
{
    struct object *o = object_new(key, strlen(key));
    ck_assert_ptr_nonnull(o);
    return o;
}

/* An object whose head is known: 200 with the given framing. */
static struct object *obj_with_head(enum http1_body body, uint64_t len)
{
    struct object *o = obj_new(KEY);
    struct http1_response r;
    RESP(&r, 200, body, len, "Content-Type: text/plain");
    ck_assert_int_eq(object_set_head(o, &r, T0, T0), 0);
    return o;
}

/* Body bytes through object_body_space and commit, as the fetch reads them. */
static void put_body(struct object *o, const char *data, size_t n)
{
    while (n > 0) {
        size_t len = n;
        char *p = object_body_space(o, &len);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_gt(len, 0);
        memcpy(p, data, len);
        object_body_commit(o, len);
        data += len;
        n -= len;
    }
}

/* A recognisable body: byte i is 'a' + i % 26. */
static char *pattern(size_t n)
{
    char *p = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)('a' + i % 26);
    return p;
}

/* Whether the buffer holds exactly data[0..n). */
static int evbuffer_equals(struct evbuffer *b, const char *data, size_t n)
{
    if (evbuffer_get_length(b) != n)
        return 0;
    const unsigned char *p = evbuffer_pullup(b, -1);
    return n == 0 || (p && memcmp(p, data, n) == 0);
}

/* The value of a stored header as a NUL-terminated copy, or NULL. */
static char *header_value(const struct object *o, const char *name)
{
    static char buf[256];
    const struct http1_header *h = object_header(o, name);
    if (!h)
        return NULL;
    ck_assert_uint_lt(h->value.len, sizeof(buf));
    memcpy(buf, h->value.p, h->value.len);
    buf[h->value.len] = '\0';
    return buf;
}

static int header_count(const struct object *o, const char *name)
{
    int n = 0;
    for (size_t i = 0; i < o->nheaders; i++)
        n += http1_str_caseeq(o->headers[i].name, name);
    return n;
}

static int stored_head_has(const struct object *o, const char *text)
{
    return memmem(o->stored_head, o->stored_head_len, text, strlen(text)) != NULL;
}

/* Every wake-up of every probe, in the order they came. */
struct wake {
    int id;
    enum subscriber_event ev;
};
static struct wake wakes[64];
static size_t nwakes;

struct probe {
    struct subscriber sub;
    int id;
    int seen[SUB_RETRY + 1];
    int leave_on; /* unsubscribe itself when told this */
    int unref_on; /* drop unref_obj when told this */
    struct object *unref_obj;
    int had_obj_on_retry; /* sub.obj was set when told SUB_RETRY */
};

static void probe_cb(struct subscriber *s, enum subscriber_event ev)
{
    struct probe *p = s->ctx;
    ck_assert_ptr_eq(&p->sub, s);
    ck_assert_int_ge(ev, SUB_HEADERS);
    ck_assert_int_le(ev, SUB_RETRY);
    p->seen[ev]++;
    if (nwakes < sizeof(wakes) / sizeof(wakes[0]))
        wakes[nwakes++] = (struct wake){p->id, ev};
    if (ev == SUB_RETRY)
        p->had_obj_on_retry = s->obj != NULL;
    if (p->leave_on && (int)ev == p->leave_on)
        object_unsubscribe(s);
    if (p->unref_on && (int)ev == p->unref_on)
        object_unref(p->unref_obj);
}

static void probe_init(struct probe *p, int id)
{
    memset(p, 0, sizeof(*p));
    p->id = id;
    subscriber_init(&p->sub, probe_cb, p);
}

static void probe_join(struct probe *p, int id, struct object *o)
{
    probe_init(p, id);
    object_subscribe(o, &p->sub);
}

static int total_seen(const struct probe *p)
{
    int n = 0;
    for (int i = 0; i <= SUB_RETRY; i++)
        n += p->seen[i];
    return n;
}

/* The fetch as object.c sees it: something to resume when unthrottled. When
 * feed is set, resuming reads one more body byte at once, as the real fetch
 * does with bytes already waiting in its input buffer. */
struct fetch_stub {
    int unthrottled;
    int feed;
    struct object *o;
};

static void stub_unthrottle(void *arg)
{
    struct fetch_stub *f = arg;
    f->unthrottled++;
    if (f->feed) {
        object_body_append(f->o, "z", 1);
        object_body_flush(f->o);
    }
}

static void stub_attach(struct fetch_stub *f, struct object *o)
{
    memset(f, 0, sizeof(*f));
    f->o = o;
    o->fetch = f;
    o->on_unthrottle = stub_unthrottle;
}

/* ---- creation and head ---- */

START_TEST(test_object_new_is_pending_with_unknown_length)
{
    struct object *o = obj_new(KEY);
    ck_assert_int_eq(o->state, OBJECT_PENDING);
    ck_assert_int_eq(o->refs, 1);
    ck_assert_int_eq(o->content_length, -1);
    ck_assert_uint_eq(o->key_len, strlen(KEY));
    ck_assert_str_eq(o->key, KEY);
    ck_assert_uint_eq(o->nsubs, 0);
    ck_assert_ptr_null(o->table);
    object_unref(o);
}
END_TEST

START_TEST(test_object_unref_accepts_null)
{
    object_unref(NULL);
}
END_TEST

START_TEST(test_object_set_head_wakes_subscribers_with_headers)
{
    struct object *o = obj_new(KEY);
    struct probe p;
    probe_join(&p, 1, o);
    struct http1_response r;
    RESP(&r, 203, HTTP1_BODY_LENGTH, 42, "Content-Type: text/html");
    ck_assert_int_eq(object_set_head(o, &r, T0, T0), 0);
    ck_assert_int_eq(p.seen[SUB_HEADERS], 1);
    ck_assert_int_eq(total_seen(&p), 1);
    ck_assert_int_eq(o->state, OBJECT_STREAMING);
    ck_assert_int_eq(o->status, 203);
    ck_assert_int_eq(o->content_length, 42);
    ck_assert_str_eq(header_value(o, "content-type"), "text/html");
    object_unsubscribe(&p.sub);
    object_unref(o);
}
END_TEST

START_TEST(test_object_stored_head_leaves_out_hop_by_hop_framing_and_age)
{
    struct object *o = obj_new(KEY);
    struct http1_response r;
    RESP(&r, 200, HTTP1_BODY_LENGTH, 3, "Content-Type: text/plain",
         "Connection: keep-alive, X-Trace", "X-Trace: 7", "Keep-Alive: timeout=5",
         "Content-Length: 3", "Age: 30", "Transfer-Encoding: chunked", "Upgrade: h2c",
         "X-Keep: yes");
    ck_assert_int_eq(object_set_head(o, &r, T0, T0), 0);
    const char want[] = "Content-Type: text/plain\r\nX-Keep: yes\r\n";
    ck_assert_uint_eq(o->stored_head_len, strlen(want));
    ck_assert(memcmp(o->stored_head, want, strlen(want)) == 0);
    /* The fields themselves stay readable. */
    ck_assert_uint_eq(o->nheaders, 9);
    ck_assert_str_eq(header_value(o, "Age"), "30");
    ck_assert_str_eq(header_value(o, "Content-Length"), "3");
    ck_assert_str_eq(header_value(o, "X-Trace"), "7");
    object_unref(o);
}
END_TEST

START_TEST(test_object_head_is_copied_not_referenced)
{
    struct object *o = obj_new(KEY);
    char line[] = "X-Mutable: before";
    struct http1_response r;
    RESP(&r, 200, HTTP1_BODY_NONE, 0, line);
    ck_assert_int_eq(object_set_head(o, &r, T0, T0), 0);
    memcpy(line, "Y-Mutable: after!", sizeof(line));
    ck_assert_str_eq(header_value(o, "X-Mutable"), "before");
    ck_assert(stored_head_has(o, "X-Mutable: before\r\n"));
    object_unref(o);
}
END_TEST

START_TEST(test_object_content_length_follows_framing)
{
    static const struct {
        enum http1_body body;
        uint64_t len;
        int64_t want;
    } cases[] = {
        {HTTP1_BODY_LENGTH, 1234, 1234}, {HTTP1_BODY_LENGTH, 0, 0}, {HTTP1_BODY_NONE, 0, 0},
        {HTTP1_BODY_CHUNKED, 0, -1},     {HTTP1_BODY_CLOSE, 0, -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct object *o = obj_with_head(cases[i].body, cases[i].len);
        ck_assert_msg(o->content_length == cases[i].want, "case %zu: content_length %lld", i,
                      (long long)o->content_length);
        object_unref(o);
    }
}
END_TEST

START_TEST(test_object_complete_sets_length_to_body_received)
{
    struct object *o = obj_with_head(HTTP1_BODY_CHUNKED, 0);
    ck_assert_int_eq(o->content_length, -1);
    put_body(o, "hello world", 11);
    object_complete(o);
    ck_assert_int_eq(o->state, OBJECT_COMPLETE);
    ck_assert_int_eq(o->content_length, 11);
    ck_assert_uint_eq(o->body_bytes, 11);
    object_unref(o);
}
END_TEST

START_TEST(test_object_set_head_computes_freshness)
{
    struct object *o = obj_new(KEY);
    struct http1_response r;
    RESP(&r, 200, HTTP1_BODY_LENGTH, 0, "Cache-Control: max-age=120, must-revalidate", "Age: 10");
    ck_assert_int_eq(object_set_head(o, &r, T0 - 2, T0), 0);
    ck_assert_int_eq(o->fresh.lifetime_s, 120);
    ck_assert_int_eq(o->fresh.response_time, T0);
    ck_assert_int_eq(o->fresh.corrected_age_s, 12); /* Age + response delay */
    ck_assert_uint_eq(o->fresh.must_revalidate, 1);
    object_unref(o);
}
END_TEST

START_TEST(test_object_vary_points_at_stored_value)
{
    struct object *o = obj_new(KEY);
    struct http1_response r;
    RESP(&r, 200, HTTP1_BODY_NONE, 0, "Vary: Accept-Encoding");
    ck_assert_int_eq(object_set_head(o, &r, T0, T0), 0);
    ck_assert(http1_str_eq(o->vary, "Accept-Encoding"));
    ck_assert_ptr_ne(o->vary.p, r.headers[0].value.p);
    object_unref(o);

    o = obj_with_head(HTTP1_BODY_NONE, 0);
    ck_assert_uint_eq(o->vary.len, 0);
    object_unref(o);
}
END_TEST

START_TEST(test_object_header_finds_case_insensitively)
{
    struct object *o = obj_new(KEY);
    struct http1_response r;
    RESP(&r, 200, HTTP1_BODY_NONE, 0, "ETag: \"v1\"",
         "Last-Modified: Tue, 14 Nov 2023 22:13:20 GMT");
    ck_assert_int_eq(object_set_head(o, &r, T0, T0), 0);
    ck_assert_str_eq(header_value(o, "etag"), "\"v1\"");
    ck_assert_str_eq(header_value(o, "LAST-MODIFIED"), "Tue, 14 Nov 2023 22:13:20 GMT");
    ck_assert_ptr_null(object_header(o, "Expires"));
    object_unref(o);
}
END_TEST

/* ---- body and delivery ---- */

START_TEST(test_object_deliver_adds_references_not_copies)
{
    struct object *o = obj_with_head(HTTP1_BODY_LENGTH, 5);
    struct probe p;
    probe_join(&p, 1, o);
    size_t len = 5;
    char *space = object_body_space(o, &len);
    ck_assert_ptr_nonnull(space);
    ck_assert_uint_eq(len, 5);
    memcpy(space, "hello", 5);
    object_body_commit(o, 5);

    struct evbuffer *out = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&p.sub, out, SIZE_MAX), 5);
    struct evbuffer_iovec v;
    ck_assert_int_eq(evbuffer_peek(out, -1, NULL, &v, 1), 1);
    ck_assert_ptr_eq(v.iov_base, space); /* the object's own bytes, not a copy */
    ck_assert_uint_eq(v.iov_len, 5);
    space[0] = 'j';
    ck_assert(evbuffer_equals(out, "jello", 5));

    evbuffer_free(out);
    object_unsubscribe(&p.sub);
    object_unref(o);
}
END_TEST

START_TEST(test_object_delivered_bytes_outlive_the_object)
{
    struct object *o = obj_with_head(HTTP1_BODY_LENGTH, 5);
    struct probe p;
    probe_join(&p, 1, o);
    put_body(o, "hello", 5);
    object_complete(o);
    struct evbuffer *out = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&p.sub, out, SIZE_MAX), 5);
    object_unsubscribe(&p.sub);
    ck_assert_int_eq(o->refs, 1);
    object_unref(o); /* the object and its reference to the chunk are gone */
    /* Freed memory here is a use-after-free under ASan. */
    ck_assert(evbuffer_equals(out, "hello", 5));
    evbuffer_free(out);
}
END_TEST

START_TEST(test_object_deliver_respects_max_and_resumes)
{
    struct object *o = obj_with_head(HTTP1_BODY_LENGTH, 10);
    struct probe p;
    probe_join(&p, 1, o);
    put_body(o, "0123456789", 10);
    struct evbuffer *out = evbuffer_new();
    ck_assert_uint_eq(object_pending(&p.sub), 10);
    ck_assert_uint_eq(object_deliver(&p.sub, out, 3), 3);
    ck_assert(evbuffer_equals(out, "012", 3));
    ck_assert_uint_eq(object_pending(&p.sub), 7);
    ck_assert_uint_eq(object_deliver(&p.sub, out, 0), 0);
    ck_assert_uint_eq(object_deliver(&p.sub, out, SIZE_MAX), 7);
    ck_assert(evbuffer_equals(out, "0123456789", 10));
    ck_assert_uint_eq(object_pending(&p.sub), 0);
    ck_assert_uint_eq(object_deliver(&p.sub, out, SIZE_MAX), 0);
    evbuffer_free(out);
    object_unsubscribe(&p.sub);
    ck_assert_uint_eq(object_pending(&p.sub), 0);
    object_unref(o);
}
END_TEST

START_TEST(test_object_deliver_spans_chunks)
{
    const size_t n = 2 * OBJECT_CHUNK_BYTES + 100;
    char *body = pattern(n);
    struct object *o = obj_with_head(HTTP1_BODY_CHUNKED, 0);
    struct probe p;
    probe_join(&p, 1, o);
    put_body(o, body, n);
    ck_assert_uint_eq(o->nchunks, 3);
    struct evbuffer *out = evbuffer_new();
    /* A first piece that ends inside the second chunk, then the rest. */
    ck_assert_uint_eq(object_deliver(&p.sub, out, OBJECT_CHUNK_BYTES + 7), OBJECT_CHUNK_BYTES + 7);
    ck_assert_uint_eq(object_deliver(&p.sub, out, SIZE_MAX), n - OBJECT_CHUNK_BYTES - 7);
    ck_assert(evbuffer_equals(out, body, n));
    evbuffer_free(out);
    object_unsubscribe(&p.sub);
    object_unref(o);
    free(body);
}
END_TEST

START_TEST(test_object_retained_body_of_known_length_is_one_chunk)
{
    const size_t n = 3 * OBJECT_CHUNK_BYTES + 5;
    char *body = pattern(n);
    struct object *o = obj_new(KEY);
    o->retain = 1;
    struct http1_response r;
    RESP(&r, 200, HTTP1_BODY_LENGTH, n, "Content-Type: x/y");
    ck_assert_int_eq(object_set_head(o, &r, T0, T0), 0);
    put_body(o, body, n);
    ck_assert_uint_eq(o->nchunks, 1);
    struct probe p;
    probe_join(&p, 1, o);
    struct evbuffer *out = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&p.sub, out, SIZE_MAX), n);
    ck_assert_int_eq(evbuffer_peek(out, -1, NULL, NULL, 0), 1); /* one reference per hit */
    ck_assert(evbuffer_equals(out, body, n));
    evbuffer_free(out);
    object_unsubscribe(&p.sub);
    object_unref(o);
    free(body);
}
END_TEST

/* The first client of a cacheable miss gets the body while it arrives, in
 * several deliveries from the one chunk still being filled. */
START_TEST(test_object_retained_body_delivered_as_it_arrives)
{
    const size_t n = 3 * OBJECT_CHUNK_BYTES + 5, first = 100000;
    char *body = pattern(n);
    struct object *o = obj_new(KEY);
    o->retain = 1;
    struct http1_response r;
    RESP(&r, 200, HTTP1_BODY_LENGTH, n, "Content-Type: x/y");
    struct probe p;
    probe_join(&p, 1, o);
    ck_assert_int_eq(object_set_head(o, &r, T0, T0), 0);
    put_body(o, body, first);
    struct evbuffer *out = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&p.sub, out, SIZE_MAX), first);
    put_body(o, body + first, n - first);
    object_complete(o);
    ck_assert_uint_eq(object_deliver(&p.sub, out, SIZE_MAX), n - first);
    ck_assert_uint_eq(evbuffer_get_length(out), n);
    const unsigned char *got = evbuffer_pullup(out, -1);
    ck_assert_ptr_nonnull(got);
    size_t i = 0;
    while (i < n && got[i] == (unsigned char)body[i])
        i++;
    ck_assert_msg(i == n, "delivered body differs from byte %zu on (of %zu)", i, n);
    evbuffer_free(out);
    object_unsubscribe(&p.sub);
    object_unref(o);
    free(body);
}
END_TEST

START_TEST(test_object_large_delivered_body_outlives_the_object)
{
    const size_t n = 4 * OBJECT_CHUNK_BYTES;
    char *body = pattern(n);
    struct object *o = obj_new(KEY);
    o->retain = 1;
    struct http1_response r;
    RESP(&r, 200, HTTP1_BODY_LENGTH, n, "Content-Type: x/y");
    ck_assert_int_eq(object_set_head(o, &r, T0, T0), 0);
    put_body(o, body, n);
    object_complete(o);
    struct probe p;
    probe_join(&p, 1, o);
    struct evbuffer *out = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&p.sub, out, SIZE_MAX), n);
    object_unsubscribe(&p.sub);
    object_unref(o);
    ck_assert(evbuffer_equals(out, body, n));
    evbuffer_free(out);
    free(body);
}
END_TEST

START_TEST(test_object_body_space_is_at_most_what_was_asked)
{
    struct object *o = obj_with_head(HTTP1_BODY_CHUNKED, 0);
    size_t len = 10;
    char *p = object_body_space(o, &len);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(len, 10);
    memcpy(p, "abcd", 4);
    object_body_commit(o, 4); /* less than the space given */
    len = SIZE_MAX;
    char *q = object_body_space(o, &len);
    ck_assert_ptr_eq(q, p + 4); /* continues in the same chunk */
    ck_assert_uint_eq(len, OBJECT_CHUNK_BYTES - 4);
    object_body_commit(o, 0);
    ck_assert_uint_eq(o->body_bytes, 4);
    object_unref(o);
}
END_TEST

START_TEST(test_object_body_commit_wakes_with_data)
{
    struct object *o = obj_with_head(HTTP1_BODY_LENGTH, 6);
    struct probe p;
    probe_join(&p, 1, o);
    put_body(o, "abc", 3);
    ck_assert_int_eq(p.seen[SUB_DATA], 1);
    ck_assert_uint_eq(object_pending(&p.sub), 3);
    object_body_commit(o, 0); /* nothing committed, nobody woken */
    ck_assert_int_eq(p.seen[SUB_DATA], 1);
    put_body(o, "def", 3);
    ck_assert_int_eq(p.seen[SUB_DATA], 2);
    ck_assert_uint_eq(object_pending(&p.sub), 6);
    object_unsubscribe(&p.sub);
    object_unref(o);
}
END_TEST

START_TEST(test_object_body_append_waits_for_flush)
{
    struct object *o = obj_with_head(HTTP1_BODY_CHUNKED, 0);
    struct probe p;
    probe_join(&p, 1, o);
    object_body_append(o, "abc", 3);
    object_body_append(o, "def", 3);
    ck_assert_int_eq(p.seen[SUB_DATA], 0);
    ck_assert_uint_eq(o->body_bytes, 6);
    object_body_flush(o);
    ck_assert_int_eq(p.seen[SUB_DATA], 1);
    struct evbuffer *out = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&p.sub, out, SIZE_MAX), 6);
    ck_assert(evbuffer_equals(out, "abcdef", 6));
    evbuffer_free(out);
    object_unsubscribe(&p.sub);
    object_unref(o);
}
END_TEST

START_TEST(test_object_late_subscriber_of_retained_body_gets_everything)
{
    struct object *o = obj_with_head(HTTP1_BODY_CHUNKED, 0);
    o->retain = 1;
    struct probe first;
    probe_join(&first, 1, o);
    const size_t n = OBJECT_CHUNK_BYTES + 10;
    char *body = pattern(n);
    put_body(o, body, n);
    struct evbuffer *out1 = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&first.sub, out1, SIZE_MAX), n);
    put_body(o, "tail", 4);
    object_complete(o);
    object_unsubscribe(&first.sub);

    struct probe late;
    probe_join(&late, 2, o);
    ck_assert_uint_eq(object_pending(&late.sub), n + 4);
    struct evbuffer *out2 = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&late.sub, out2, SIZE_MAX), n + 4);
    ck_assert_uint_eq(evbuffer_get_length(out2), n + 4);
    ck_assert(memcmp(evbuffer_pullup(out2, -1), body, n) == 0);
    evbuffer_free(out1);
    evbuffer_free(out2);
    object_unsubscribe(&late.sub);
    object_unref(o);
    free(body);
}
END_TEST

/* ---- subscribers ---- */

START_TEST(test_object_subscribers_woken_in_order_of_events)
{
    struct object *o = obj_new(KEY);
    struct probe a, b;
    probe_join(&a, 1, o);
    probe_join(&b, 2, o);
    struct http1_response r;
    RESP(&r, 200, HTTP1_BODY_LENGTH, 4, "Content-Type: text/plain");
    ck_assert_int_eq(object_set_head(o, &r, T0, T0), 0);
    put_body(o, "ab", 2);
    put_body(o, "cd", 2);
    object_complete(o);
    const struct wake want[] = {
        {1, SUB_HEADERS}, {2, SUB_HEADERS}, {1, SUB_DATA}, {2, SUB_DATA},
        {1, SUB_DATA},    {2, SUB_DATA},    {1, SUB_DONE}, {2, SUB_DONE},
    };
    ck_assert_uint_eq(nwakes, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < nwakes; i++) {
        ck_assert_msg(wakes[i].id == want[i].id && wakes[i].ev == want[i].ev,
                      "wake %zu: subscriber %d event %d, wanted %d event %d", i, wakes[i].id,
                      wakes[i].ev, want[i].id, want[i].ev);
    }
    object_unsubscribe(&a.sub);
    object_unsubscribe(&b.sub);
    object_unref(o);
}
END_TEST

START_TEST(test_object_subscriptions_hold_references)
{
    struct object *o = obj_with_head(HTTP1_BODY_NONE, 0);
    struct probe a, b;
    probe_join(&a, 1, o);
    probe_join(&b, 2, o);
    ck_assert_int_eq(o->refs, 3);
    ck_assert_uint_eq(o->nsubs, 2);
    ck_assert_ptr_eq(a.sub.obj, o);
    object_unref(o); /* the creator lets go; subscribers keep it */
    ck_assert_int_eq(o->refs, 2);
    ck_assert_uint_eq(o->magic, OBJECT_MAGIC);
    object_unsubscribe(&a.sub);
    ck_assert_ptr_null(a.sub.obj);
    ck_assert_int_eq(o->refs, 1);
    ck_assert_uint_eq(o->nsubs, 1);
    object_unsubscribe(&a.sub); /* twice is harmless */
    ck_assert_int_eq(o->refs, 1);
    object_unsubscribe(&b.sub); /* the last reference: freed (ASan watches) */
    ck_assert_ptr_null(b.sub.obj);
}
END_TEST

START_TEST(test_object_unsubscribe_never_calls_back)
{
    struct object *o = obj_with_head(HTTP1_BODY_CHUNKED, 0);
    struct probe p;
    probe_join(&p, 1, o);
    put_body(o, "abc", 3);
    int before = total_seen(&p);
    object_unsubscribe(&p.sub);
    ck_assert_int_eq(total_seen(&p), before);
    put_body(o, "def", 3);
    object_complete(o);
    ck_assert_int_eq(total_seen(&p), before);
    object_unref(o);
}
END_TEST

START_TEST(test_object_owner_cleared_when_it_leaves)
{
    struct object *o = obj_new(KEY);
    struct probe p;
    probe_join(&p, 1, o);
    o->owner = &p.sub;
    object_unsubscribe(&p.sub);
    ck_assert_ptr_null(o->owner);
    object_unref(o);
}
END_TEST

START_TEST(test_object_unsubscribe_during_notify_is_safe)
{
    struct object *o = obj_with_head(HTTP1_BODY_CHUNKED, 0);
    struct probe a, b, c;
    probe_join(&a, 1, o);
    probe_join(&b, 2, o);
    probe_join(&c, 3, o);
    b.leave_on = SUB_DATA;
    put_body(o, "x", 1);
    ck_assert_int_eq(a.seen[SUB_DATA], 1);
    ck_assert_int_eq(b.seen[SUB_DATA], 1);
    ck_assert_int_eq(c.seen[SUB_DATA], 1); /* the walk went on past the one that left */
    ck_assert_ptr_null(b.sub.obj);
    ck_assert_uint_eq(o->nsubs, 2);
    put_body(o, "y", 1);
    object_complete(o);
    ck_assert_int_eq(a.seen[SUB_DATA], 2);
    ck_assert_int_eq(b.seen[SUB_DATA], 1);
    ck_assert_int_eq(c.seen[SUB_DONE], 1);
    ck_assert_int_eq(b.seen[SUB_DONE], 0);
    object_unsubscribe(&a.sub);
    object_unsubscribe(&c.sub);
    ck_assert_int_eq(o->refs, 1);
    object_unref(o);
}
END_TEST

START_TEST(test_object_last_reference_dropped_in_headers_callback_is_safe)
{
    struct object *o = obj_new(KEY);
    struct probe p;
    probe_join(&p, 1, o);
    p.leave_on = SUB_HEADERS;
    p.unref_on = SUB_HEADERS;
    p.unref_obj = o; /* the creator's reference: after it, none is left outside */
    struct http1_response r;
    RESP(&r, 200, HTTP1_BODY_NONE, 0, "Content-Type: text/plain");
    ck_assert_int_eq(object_set_head(o, &r, T0, T0), 0);
    ck_assert_int_eq(p.seen[SUB_HEADERS], 1);
    ck_assert_ptr_null(p.sub.obj);
}
END_TEST

/* object_notify says a callback may drop the last outside reference. */
START_TEST(test_object_last_reference_dropped_in_done_callback_is_safe)
{
    struct object *o = obj_with_head(HTTP1_BODY_CHUNKED, 0);
    struct probe p;
    probe_join(&p, 1, o);
    put_body(o, "abc", 3);
    p.leave_on = SUB_DONE;
    p.unref_on = SUB_DONE;
    p.unref_obj = o;
    object_complete(o); /* a use-after-free under ASan if o is touched after the walk */
    ck_assert_int_eq(p.seen[SUB_DONE], 1);
    ck_assert_ptr_null(p.sub.obj);
}
END_TEST

START_TEST(test_object_fail_wakes_subscribers_and_leaves_table)
{
    struct object_table *t = object_table_new();
    struct object *o = obj_new(KEY);
    o->cacheable = 1;
    object_table_add(t, o);
    struct probe a, b;
    probe_join(&a, 1, o);
    probe_join(&b, 2, o);
    object_fail(o, 504);
    ck_assert_int_eq(a.seen[SUB_FAILED], 1);
    ck_assert_int_eq(b.seen[SUB_FAILED], 1);
    ck_assert_int_eq(total_seen(&a), 1);
    ck_assert_int_eq(o->state, OBJECT_FAILED);
    ck_assert_int_eq(o->fail_status, 504);
    ck_assert_int_eq(o->cacheable, 0);
    ck_assert_ptr_null(object_table_find(t, KEY, strlen(KEY)));
    ck_assert_uint_eq(object_table_count(t), 0);
    object_unsubscribe(&a.sub);
    object_unsubscribe(&b.sub);
    object_unref(o);
    object_table_free(t);
}
END_TEST

START_TEST(test_object_send_retry_unsubscribes_before_telling)
{
    struct object *o = obj_new(KEY);
    struct probe a, b;
    probe_join(&a, 1, o);
    probe_join(&b, 2, o);
    object_send_retry(&b.sub);
    ck_assert_int_eq(b.seen[SUB_RETRY], 1);
    ck_assert_int_eq(b.had_obj_on_retry, 0);
    ck_assert_ptr_null(b.sub.obj);
    ck_assert_uint_eq(o->nsubs, 1);
    ck_assert_int_eq(total_seen(&a), 0);
    /* b may subscribe elsewhere at once. */
    struct object *other = obj_new("http://origin.test/b");
    object_subscribe(other, &b.sub);
    ck_assert_ptr_eq(b.sub.obj, other);
    object_unsubscribe(&b.sub);
    object_unsubscribe(&a.sub);
    object_unref(other);
    object_unref(o);
}
END_TEST

/* ---- trimming of bodies not retained ---- */

START_TEST(test_object_unretained_body_trimmed_after_delivery)
{
    const size_t n = OBJECT_CHUNK_BYTES + 10;
    char *body = pattern(n);
    struct object *o = obj_with_head(HTTP1_BODY_CLOSE, 0);
    struct probe p;
    probe_join(&p, 1, o);
    put_body(o, body, n);
    ck_assert_uint_eq(o->nchunks, 2); /* nothing delivered yet: all held */
    struct evbuffer *out = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&p.sub, out, SIZE_MAX), n);
    put_body(o, "more", 4); /* the next bytes in: the delivered full chunk goes */
    ck_assert_uint_eq(o->nchunks, 1);
    ck_assert_uint_eq(o->dropped_bytes, OBJECT_CHUNK_BYTES);
    ck_assert_uint_eq(o->body_bytes, n + 4);
    ck_assert_uint_eq(object_deliver(&p.sub, out, SIZE_MAX), 4);
    ck_assert_uint_eq(evbuffer_get_length(out), n + 4);
    ck_assert(memcmp(evbuffer_pullup(out, -1), body, n) == 0); /* the client's copy is intact */
    evbuffer_free(out);
    object_unsubscribe(&p.sub);
    object_unref(o);
    free(body);
}
END_TEST

START_TEST(test_object_unretained_chunk_kept_until_slowest_subscriber_has_it)
{
    const size_t n = OBJECT_CHUNK_BYTES + 10;
    char *body = pattern(n);
    struct object *o = obj_with_head(HTTP1_BODY_CLOSE, 0);
    struct probe fast, slow;
    probe_join(&fast, 1, o);
    probe_join(&slow, 2, o);
    put_body(o, body, n);
    struct evbuffer *fo = evbuffer_new(), *so = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&fast.sub, fo, SIZE_MAX), n);
    ck_assert_uint_eq(object_deliver(&slow.sub, so, 100), 100);
    put_body(o, "x", 1);
    ck_assert_uint_eq(o->nchunks, 2);
    ck_assert_uint_eq(o->dropped_bytes, 0);
    ck_assert_uint_eq(object_deliver(&slow.sub, so, SIZE_MAX), n + 1 - 100);
    put_body(o, "y", 1);
    ck_assert_uint_eq(o->nchunks, 1);
    ck_assert_uint_eq(o->dropped_bytes, OBJECT_CHUNK_BYTES);
    ck_assert_uint_eq(evbuffer_get_length(so), n + 1);
    ck_assert(memcmp(evbuffer_pullup(so, -1), body, n) == 0);
    evbuffer_free(fo);
    evbuffer_free(so);
    object_unsubscribe(&fast.sub);
    object_unsubscribe(&slow.sub);
    object_unref(o);
    free(body);
}
END_TEST

START_TEST(test_object_unretained_trimmed_when_lagging_subscriber_leaves)
{
    const size_t n = OBJECT_CHUNK_BYTES + 10;
    char *body = pattern(n);
    struct object *o = obj_with_head(HTTP1_BODY_CLOSE, 0);
    struct probe fast, slow;
    probe_join(&fast, 1, o);
    probe_join(&slow, 2, o);
    put_body(o, body, n);
    struct evbuffer *out = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&fast.sub, out, SIZE_MAX), n);
    ck_assert_uint_eq(o->nchunks, 2);
    object_unsubscribe(&slow.sub);
    ck_assert_uint_eq(o->nchunks, 1);
    ck_assert_uint_eq(o->dropped_bytes, OBJECT_CHUNK_BYTES);
    evbuffer_free(out);
    object_unsubscribe(&fast.sub);
    object_unref(o);
    free(body);
}
END_TEST

START_TEST(test_object_retained_body_never_trimmed)
{
    const size_t n = 2 * OBJECT_CHUNK_BYTES;
    char *body = pattern(n);
    struct object *o = obj_with_head(HTTP1_BODY_CHUNKED, 0);
    o->retain = 1;
    struct probe p;
    probe_join(&p, 1, o);
    put_body(o, body, n);
    struct evbuffer *out = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&p.sub, out, SIZE_MAX), n);
    put_body(o, "x", 1);
    object_complete(o);
    object_unsubscribe(&p.sub);
    ck_assert_uint_eq(o->nchunks, 3);
    ck_assert_uint_eq(o->dropped_bytes, 0);
    evbuffer_free(out);
    object_unref(o);
    free(body);
}
END_TEST

START_TEST(test_object_stop_retaining_drops_chunks_everyone_has)
{
    const size_t n = 2 * OBJECT_CHUNK_BYTES + 10;
    char *body = pattern(n);
    struct object *o = obj_with_head(HTTP1_BODY_CHUNKED, 0);
    o->retain = o->cacheable = o->collapsible = 1;
    struct probe a, b;
    probe_join(&a, 1, o);
    probe_join(&b, 2, o);
    put_body(o, body, n);
    struct evbuffer *ao = evbuffer_new(), *bo = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&a.sub, ao, SIZE_MAX), n);
    ck_assert_uint_eq(object_deliver(&b.sub, bo, OBJECT_CHUNK_BYTES + 1), OBJECT_CHUNK_BYTES + 1);
    ck_assert_uint_eq(o->nchunks, 3);
    object_stop_retaining(o);
    ck_assert_int_eq(o->retain, 0);
    ck_assert_int_eq(o->cacheable, 0);
    ck_assert_int_eq(o->collapsible, 0);
    ck_assert_uint_eq(o->nchunks, 2); /* b still lacks part of the second chunk */
    ck_assert_uint_eq(o->dropped_bytes, OBJECT_CHUNK_BYTES);
    ck_assert_uint_eq(object_deliver(&b.sub, bo, SIZE_MAX), n - OBJECT_CHUNK_BYTES - 1);
    ck_assert(evbuffer_equals(bo, body, n));
    evbuffer_free(ao);
    evbuffer_free(bo);
    object_unsubscribe(&a.sub);
    object_unsubscribe(&b.sub);
    object_unref(o);
    free(body);
}
END_TEST

START_TEST(test_object_stop_retaining_removes_from_table)
{
    struct object_table *t = object_table_new();
    struct object *o = obj_with_head(HTTP1_BODY_CHUNKED, 0);
    o->retain = o->cacheable = o->collapsible = 1;
    object_table_add(t, o);
    ck_assert_ptr_eq(object_table_find(t, KEY, strlen(KEY)), o);
    object_stop_retaining(o);
    ck_assert_ptr_null(object_table_find(t, KEY, strlen(KEY)));
    ck_assert_uint_eq(object_table_count(t), 0);
    ck_assert_ptr_null(o->table);
    object_unref(o);
    object_table_free(t);
}
END_TEST

/* ---- throttling ---- */

START_TEST(test_object_throttle_calls_unthrottle_once_when_last_releases)
{
    struct object *o = obj_with_head(HTTP1_BODY_CLOSE, 0);
    struct fetch_stub f;
    stub_attach(&f, o);
    struct probe a, b;
    probe_join(&a, 1, o);
    probe_join(&b, 2, o);
    object_throttle(&a.sub, 1);
    object_throttle(&b.sub, 1);
    ck_assert_int_eq(o->throttled, 2);
    object_throttle(&a.sub, 0);
    ck_assert_int_eq(f.unthrottled, 0);
    ck_assert_int_eq(o->throttled, 1);
    object_throttle(&b.sub, 0);
    ck_assert_int_eq(f.unthrottled, 1);
    ck_assert_int_eq(o->throttled, 0);
    object_unsubscribe(&a.sub);
    object_unsubscribe(&b.sub);
    ck_assert_int_eq(f.unthrottled, 1);
    object_unref(o);
}
END_TEST

START_TEST(test_object_throttle_counts_each_subscriber_once)
{
    struct object *o = obj_with_head(HTTP1_BODY_CLOSE, 0);
    struct fetch_stub f;
    stub_attach(&f, o);
    struct probe a;
    probe_join(&a, 1, o);
    object_throttle(&a.sub, 1);
    object_throttle(&a.sub, 1);
    ck_assert_int_eq(o->throttled, 1);
    ck_assert_int_eq(a.sub.throttling, 1);
    object_throttle(&a.sub, 0);
    object_throttle(&a.sub, 0);
    ck_assert_int_eq(o->throttled, 0);
    ck_assert_int_eq(f.unthrottled, 1);
    object_unsubscribe(&a.sub);
    object_unref(o);
}
END_TEST

START_TEST(test_object_unsubscribe_releases_throttle)
{
    struct object *o = obj_with_head(HTTP1_BODY_CLOSE, 0);
    struct fetch_stub f;
    stub_attach(&f, o);
    struct probe a;
    probe_join(&a, 1, o);
    object_throttle(&a.sub, 1);
    object_unsubscribe(&a.sub);
    ck_assert_int_eq(o->throttled, 0);
    ck_assert_int_eq(a.sub.throttling, 0);
    ck_assert_int_eq(f.unthrottled, 1);
    object_unref(o);
}
END_TEST

START_TEST(test_object_unthrottle_without_fetch_calls_nothing)
{
    struct object *o = obj_with_head(HTTP1_BODY_CLOSE, 0);
    struct fetch_stub f;
    stub_attach(&f, o);
    o->fetch = NULL; /* the fetch is done */
    struct probe a;
    probe_join(&a, 1, o);
    object_throttle(&a.sub, 1);
    object_throttle(&a.sub, 0);
    ck_assert_int_eq(f.unthrottled, 0);
    ck_assert_int_eq(o->throttled, 0);
    /* Not subscribed: nothing to throttle. */
    object_unsubscribe(&a.sub);
    object_throttle(&a.sub, 1);
    ck_assert_int_eq(a.sub.throttling, 0);
    object_unref(o);
}
END_TEST

/* The fetch resumes inside on_unthrottle and may read bytes at once (fetch.c's
 * fetch_unthrottle calls origin_read_cb); the subscriber that is leaving must
 * not hear of them: "unsubscribe never calls back". */
START_TEST(test_object_unsubscribe_while_throttled_never_calls_back)
{
    struct object *o = obj_with_head(HTTP1_BODY_CLOSE, 0);
    struct fetch_stub f;
    stub_attach(&f, o);
    f.feed = 1;
    struct probe a;
    probe_join(&a, 1, o);
    put_body(o, "abc", 3);
    object_throttle(&a.sub, 1);
    int before = total_seen(&a);
    object_unsubscribe(&a.sub);
    ck_assert_int_eq(f.unthrottled, 1);
    ck_assert_msg(total_seen(&a) == before,
                  "the leaving subscriber was called back %d time(s) during unsubscribe",
                  total_seen(&a) - before);
    ck_assert_uint_eq(o->nsubs, 0);
    ck_assert_int_eq(o->throttled, 0);
    object_unref(o);
}
END_TEST

/* ---- refresh from a 304 ---- */

/* A stored, complete, retained 200 with a 5-byte body "hello". */
static struct object *stored_hello(void)
{
    struct object *s = obj_new(KEY);
    s->retain = s->cacheable = 1;
    struct http1_response r;
    RESP(&r, 200, HTTP1_BODY_LENGTH, 5, "Content-Type: text/plain", "Cache-Control: max-age=10",
         "ETag: \"v1\"", "Content-Length: 5", "X-Old: 1", "X-Both: stored");
    ck_assert_int_eq(object_set_head(s, &r, T0 - 100, T0 - 100), 0);
    put_body(s, "hello", 5);
    object_complete(s);
    return s;
}

START_TEST(test_object_refresh_keeps_body_and_updates_headers)
{
    struct object *stored = stored_hello();
    struct object *o = obj_new(KEY);
    struct probe p;
    probe_join(&p, 1, o);
    struct http1_response nm;
    RESP(&nm, 304, HTTP1_BODY_NONE, 0, "Cache-Control: max-age=600", "ETag: \"v1\"",
         "X-Both: fresh", "X-New: 2");
    ck_assert_int_eq(object_refresh(o, stored, &nm, T0, T0), 0);

    ck_assert_int_eq(o->status, 200); /* the stored status, not 304 */
    ck_assert_int_eq(o->state, OBJECT_COMPLETE);
    ck_assert_int_eq(o->refreshed, 1);
    ck_assert_uint_eq(o->body_bytes, 5);
    ck_assert_str_eq(header_value(o, "Cache-Control"), "max-age=600");
    ck_assert_int_eq(header_count(o, "Cache-Control"), 1);
    ck_assert_str_eq(header_value(o, "X-Both"), "fresh");
    ck_assert_int_eq(header_count(o, "X-Both"), 1);
    ck_assert_str_eq(header_value(o, "X-Old"), "1");
    ck_assert_str_eq(header_value(o, "X-New"), "2");
    ck_assert_str_eq(header_value(o, "Content-Type"), "text/plain");
    ck_assert(stored_head_has(o, "Cache-Control: max-age=600\r\n"));
    ck_assert(!stored_head_has(o, "max-age=10"));
    ck_assert(stored_head_has(o, "X-Old: 1\r\n"));

    struct evbuffer *out = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&p.sub, out, SIZE_MAX), 5);
    ck_assert(evbuffer_equals(out, "hello", 5));
    /* The stored object is left as it was. */
    ck_assert_str_eq(header_value(stored, "Cache-Control"), "max-age=10");
    ck_assert_str_eq(header_value(stored, "X-Both"), "stored");
    evbuffer_free(out);
    object_unsubscribe(&p.sub);
    object_unref(o);
    object_unref(stored);
}
END_TEST

START_TEST(test_object_refresh_shares_body_chunks)
{
    struct object *stored = stored_hello();
    struct object *o = obj_new(KEY);
    struct http1_response nm;
    RESP(&nm, 304, HTTP1_BODY_NONE, 0, "ETag: \"v1\"");
    ck_assert_int_eq(object_refresh(o, stored, &nm, T0, T0), 0);
    struct probe ps, po;
    probe_join(&ps, 1, stored);
    probe_join(&po, 2, o);
    struct evbuffer *so = evbuffer_new(), *oo = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&ps.sub, so, SIZE_MAX), 5);
    ck_assert_uint_eq(object_deliver(&po.sub, oo, SIZE_MAX), 5);
    struct evbuffer_iovec vs, vo;
    ck_assert_int_eq(evbuffer_peek(so, -1, NULL, &vs, 1), 1);
    ck_assert_int_eq(evbuffer_peek(oo, -1, NULL, &vo, 1), 1);
    ck_assert_ptr_eq(vs.iov_base, vo.iov_base);
    evbuffer_free(so);
    evbuffer_free(oo);
    object_unsubscribe(&ps.sub);
    object_unsubscribe(&po.sub);
    object_unref(o);
    object_unref(stored);
}
END_TEST

START_TEST(test_object_refresh_body_outlives_stored_object)
{
    struct object *stored = stored_hello();
    struct object *o = obj_new(KEY);
    struct http1_response nm;
    RESP(&nm, 304, HTTP1_BODY_NONE, 0, "ETag: \"v1\"");
    ck_assert_int_eq(object_refresh(o, stored, &nm, T0, T0), 0);
    object_unref(stored); /* evicted: the refreshed object keeps the chunks */
    struct probe p;
    probe_join(&p, 1, o);
    struct evbuffer *out = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&p.sub, out, SIZE_MAX), 5);
    ck_assert(evbuffer_equals(out, "hello", 5));
    evbuffer_free(out);
    object_unsubscribe(&p.sub);
    object_unref(o);
}
END_TEST

START_TEST(test_object_refresh_wakes_headers_then_done)
{
    struct object *stored = stored_hello();
    struct object_table *t = object_table_new();
    struct object *o = obj_new(KEY);
    object_table_add(t, o);
    struct probe p;
    probe_join(&p, 1, o);
    struct http1_response nm;
    RESP(&nm, 304, HTTP1_BODY_NONE, 0, "ETag: \"v1\"");
    ck_assert_int_eq(object_refresh(o, stored, &nm, T0, T0), 0);
    ck_assert_uint_eq(nwakes, 2);
    ck_assert_int_eq(wakes[0].ev, SUB_HEADERS);
    ck_assert_int_eq(wakes[1].ev, SUB_DONE);
    ck_assert_uint_eq(object_table_count(t), 0); /* complete: no longer in flight */
    object_unsubscribe(&p.sub);
    object_unref(o);
    object_unref(stored);
    object_table_free(t);
}
END_TEST

START_TEST(test_object_refresh_recomputes_freshness_from_304)
{
    struct object *stored = stored_hello();
    struct object *o = obj_new(KEY);
    struct http1_response nm;
    RESP(&nm, 304, HTTP1_BODY_NONE, 0, "Cache-Control: max-age=600", "Age: 3");
    ck_assert_int_eq(object_refresh(o, stored, &nm, T0 - 1, T0), 0);
    ck_assert_int_eq(o->fresh.lifetime_s, 600);
    ck_assert_int_eq(o->fresh.response_time, T0);
    ck_assert_int_eq(o->fresh.corrected_age_s, 4);
    ck_assert_int_eq(stored->fresh.lifetime_s, 10);
    object_unref(o);
    object_unref(stored);
}
END_TEST

START_TEST(test_object_refresh_ignores_content_length_of_304)
{
    struct object *stored = stored_hello();
    struct object *o = obj_new(KEY);
    struct http1_response nm;
    RESP(&nm, 304, HTTP1_BODY_NONE, 0, "Content-Length: 0", "Transfer-Encoding: chunked",
         "ETag: \"v1\"");
    ck_assert_int_eq(object_refresh(o, stored, &nm, T0, T0), 0);
    ck_assert_int_eq(o->content_length, 5);
    ck_assert_uint_eq(o->body_bytes, 5);
    ck_assert_ptr_null(object_header(o, "Transfer-Encoding"));
    ck_assert(!stored_head_has(o, "Content-Length"));
    ck_assert(!stored_head_has(o, "Transfer-Encoding"));
    struct probe p;
    probe_join(&p, 1, o);
    struct evbuffer *out = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&p.sub, out, SIZE_MAX), 5);
    ck_assert(evbuffer_equals(out, "hello", 5));
    evbuffer_free(out);
    object_unsubscribe(&p.sub);
    object_unref(o);
    object_unref(stored);
}
END_TEST

/* Ignoring the 304's framing means the stored Content-Length field stays, as
 * it does when the 304 carries none. */
START_TEST(test_object_refresh_keeps_stored_content_length_field)
{
    struct object *stored = stored_hello();
    struct object *plain = obj_new(KEY), *o = obj_new(KEY);
    struct http1_response nm;
    RESP(&nm, 304, HTTP1_BODY_NONE, 0, "ETag: \"v1\"");
    ck_assert_int_eq(object_refresh(plain, stored, &nm, T0, T0), 0);
    ck_assert_str_eq(header_value(plain, "Content-Length"), "5");
    RESP(&nm, 304, HTTP1_BODY_NONE, 0, "ETag: \"v1\"", "Content-Length: 0");
    ck_assert_int_eq(object_refresh(o, stored, &nm, T0, T0), 0);
    const char *cl = header_value(o, "Content-Length");
    ck_assert_msg(cl != NULL, "the stored Content-Length field was dropped by the 304's");
    ck_assert_str_eq(cl, "5");
    object_unref(plain);
    object_unref(o);
    object_unref(stored);
}
END_TEST

/* ---- the in-flight table ---- */

START_TEST(test_object_table_find_by_key)
{
    struct object_table *t = object_table_new();
    ck_assert_ptr_nonnull(t);
    struct object *a = obj_new("http://a.test/"), *b = obj_new("http://b.test/x?y=1");
    object_table_add(t, a);
    object_table_add(t, b);
    ck_assert_uint_eq(object_table_count(t), 2);
    ck_assert_ptr_eq(object_table_find(t, "http://a.test/", 14), a);
    ck_assert_ptr_eq(object_table_find(t, "http://b.test/x?y=1", 19), b);
    ck_assert_ptr_null(object_table_find(t, "http://a.test", 13));
    ck_assert_ptr_null(object_table_find(t, "http://c.test/", 14));
    ck_assert_ptr_eq(a->table, t);
    object_table_remove(a);
    ck_assert_ptr_null(object_table_find(t, "http://a.test/", 14));
    ck_assert_ptr_eq(object_table_find(t, "http://b.test/x?y=1", 19), b);
    ck_assert_uint_eq(object_table_count(t), 1);
    object_table_remove(a); /* not listed any more: harmless */
    ck_assert_uint_eq(object_table_count(t), 1);
    object_unref(a);
    object_unref(b);
    ck_assert_uint_eq(object_table_count(t), 0);
    object_table_free(t);
}
END_TEST

START_TEST(test_object_table_keys_compare_exact_bytes)
{
    struct object_table *t = object_table_new();
    struct object *x = object_new("k\0x", 3), *y = object_new("k\0y", 3);
    object_table_add(t, x);
    object_table_add(t, y);
    ck_assert_ptr_eq(object_table_find(t, "k\0x", 3), x);
    ck_assert_ptr_eq(object_table_find(t, "k\0y", 3), y);
    ck_assert_ptr_null(object_table_find(t, "k", 1));
    ck_assert_ptr_null(object_table_find(t, "K\0x", 3));
    object_unref(x);
    object_unref(y);
    object_table_free(t);
}
END_TEST

START_TEST(test_object_table_remove_takes_only_that_object)
{
    struct object_table *t = object_table_new();
    struct object *old = obj_new(KEY), *cur = obj_new(KEY);
    object_table_add(t, old);
    object_table_add(t, cur);
    ck_assert_ptr_eq(object_table_find(t, KEY, strlen(KEY)), cur);
    object_table_remove(cur);
    ck_assert_ptr_eq(object_table_find(t, KEY, strlen(KEY)), old);
    object_table_remove(old);
    ck_assert_ptr_null(object_table_find(t, KEY, strlen(KEY)));
    object_unref(old);
    object_unref(cur);
    object_table_free(t);
}
END_TEST

START_TEST(test_object_complete_removes_from_table)
{
    struct object_table *t = object_table_new();
    struct object *o = obj_with_head(HTTP1_BODY_LENGTH, 0);
    object_table_add(t, o);
    object_complete(o);
    ck_assert_ptr_null(object_table_find(t, KEY, strlen(KEY)));
    ck_assert_ptr_null(o->table);
    object_unref(o);
    object_table_free(t);
}
END_TEST

START_TEST(test_object_freed_object_leaves_table)
{
    struct object_table *t = object_table_new();
    struct object *o = obj_new(KEY);
    object_table_add(t, o);
    object_unref(o);
    ck_assert_uint_eq(object_table_count(t), 0);
    ck_assert_ptr_null(object_table_find(t, KEY, strlen(KEY)));
    object_table_free(t);
}
END_TEST

START_TEST(test_object_table_free_detaches_objects)
{
    struct object_table *t = object_table_new();
    struct object *o = obj_new(KEY);
    object_table_add(t, o);
    object_table_free(t);
    ck_assert_ptr_null(o->table);
    object_unref(o); /* must not touch the freed table (ASan watches) */
    object_table_free(NULL);
}
END_TEST

START_TEST(test_object_table_holds_many_keys)
{
    enum { N = 5000 };
    static struct object *objs[N];
    struct object_table *t = object_table_new();
    char key[64];
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "http://h%d.test/p", i);
        objs[i] = object_new(key, (size_t)n);
        ck_assert_ptr_nonnull(objs[i]);
        object_table_add(t, objs[i]);
    }
    ck_assert_uint_eq(object_table_count(t), N);
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "http://h%d.test/p", i);
        ck_assert_ptr_eq(object_table_find(t, key, (size_t)n), objs[i]);
    }
    for (int i = 0; i < N; i += 2)
        object_unref(objs[i]);
    ck_assert_uint_eq(object_table_count(t), N / 2);
    for (int i = 1; i < N; i += 2) {
        int n = snprintf(key, sizeof(key), "http://h%d.test/p", i);
        ck_assert_ptr_eq(object_table_find(t, key, (size_t)n), objs[i]);
        object_unref(objs[i]);
    }
    ck_assert_uint_eq(object_table_count(t), 0);
    object_table_free(t);
}
END_TEST

/* ---- accounting ---- */

/* Bytes the heap has handed out (chunk headers included) and not got back. */
static uint64_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

START_TEST(test_object_size_counts_head_and_body)
{
    /* Known length, retained: one block of exactly that length. */
    struct object *o = obj_with_head(HTTP1_BODY_LENGTH, 10);
    o->retain = 1;
    uint64_t head_only = object_size(o);
    ck_assert_uint_ge(head_only, sizeof(*o) + strlen(KEY) + 2 * o->stored_head_len);
    put_body(o, "0123456789", 10);
    ck_assert_uint_ge(object_size(o), head_only + 10);
    ck_assert_uint_le(object_size(o), head_only + 10 + 192); /* the chunk's struct, the array */
    object_unref(o);
}
END_TEST

START_TEST(test_object_size_counts_blocks_at_capacity)
{
    /* Unknown length: 10 bytes sit in a 64 KiB block, and count as one. */
    struct object *o = obj_with_head(HTTP1_BODY_CHUNKED, 0);
    o->retain = 1;
    uint64_t head_only = object_size(o);
    put_body(o, "0123456789", 10);
    ck_assert_uint_ge(object_size(o), head_only + OBJECT_CHUNK_BYTES);
    object_unref(o);
}
END_TEST

START_TEST(test_object_size_covers_real_allocation)
{
    char *body = pattern(3 * OBJECT_CHUNK_BYTES + 77);
    uint64_t before = heap_in_use();
    struct object *o = obj_with_head(HTTP1_BODY_CHUNKED, 0);
    o->retain = 1;
    object_body_append(o, body, 3 * OBJECT_CHUNK_BYTES + 77);
    object_complete(o);
    uint64_t real = heap_in_use() - before;
    ck_assert_msg(object_size(o) >= real, "object_size %llu, the heap grew by %llu",
                  (unsigned long long)object_size(o), (unsigned long long)real);
    object_unref(o);
    free(body);
}
END_TEST

START_TEST(test_object_complete_shrinks_last_block)
{
    /* The case: a 100-byte chunked body held a 64 KiB block. */
    struct object *o = obj_with_head(HTTP1_BODY_CHUNKED, 0);
    o->retain = 1;
    uint64_t head_only = object_size(o);
    char *body = pattern(OBJECT_CHUNK_BYTES + 100);
    put_body(o, body, 100);
    ck_assert_uint_ge(object_size(o), head_only + OBJECT_CHUNK_BYTES);
    object_complete(o);
    ck_assert_uint_le(object_size(o), head_only + 100 + 192);
    struct probe p;
    probe_join(&p, 1, o);
    struct evbuffer *out = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&p.sub, out, SIZE_MAX), 100);
    ck_assert(evbuffer_equals(out, body, 100));
    object_unsubscribe(&p.sub);
    evbuffer_free(out);
    object_unref(o);

    /* Past one block: full blocks stay, only the last one shrinks. */
    o = obj_with_head(HTTP1_BODY_CHUNKED, 0);
    o->retain = 1;
    object_body_append(o, body, OBJECT_CHUNK_BYTES + 100);
    object_complete(o);
    ck_assert_uint_le(object_size(o), head_only + OBJECT_CHUNK_BYTES + 100 + 256);
    probe_join(&p, 1, o);
    out = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&p.sub, out, SIZE_MAX), OBJECT_CHUNK_BYTES + 100);
    ck_assert(evbuffer_equals(out, body, OBJECT_CHUNK_BYTES + 100));
    object_unsubscribe(&p.sub);
    evbuffer_free(out);
    object_unref(o);
    free(body);
}
END_TEST

START_TEST(test_object_shrink_keeps_block_being_sent)
{
    /* A subscriber's output buffer references the last block while the
     * body completes: the buffer keeps sending from it, the object keeps an
     * exact copy. */
    struct object *o = obj_with_head(HTTP1_BODY_CHUNKED, 0);
    o->retain = 1;
    char *body = pattern(300);
    struct probe p;
    probe_join(&p, 1, o);
    put_body(o, body, 200);
    struct evbuffer *early = evbuffer_new();
    ck_assert_uint_eq(object_deliver(&p.sub, early, SIZE_MAX), 200);
    put_body(o, body + 200, 100);
    object_complete(o);
    uint64_t size = object_size(o);
    ck_assert_uint_lt(size, OBJECT_CHUNK_BYTES);
    ck_assert_uint_eq(object_deliver(&p.sub, early, SIZE_MAX), 100);
    ck_assert(evbuffer_equals(early, body, 300));
    object_unsubscribe(&p.sub);
    object_unref(o); /* the buffer's references outlive the object */
    ck_assert(evbuffer_equals(early, body, 300));
    evbuffer_free(early);
    free(body);
}
END_TEST

START_TEST(test_object_complete_drops_empty_last_block)
{
    struct object *o = obj_with_head(HTTP1_BODY_CHUNKED, 0);
    o->retain = 1;
    uint64_t head_only = object_size(o);
    size_t len = 16;
    ck_assert_ptr_nonnull(object_body_space(o, &len)); /* a block, never filled */
    object_complete(o);
    ck_assert_uint_eq(o->nchunks, 0);
    ck_assert_uint_le(object_size(o), head_only);
    object_unref(o);
}
END_TEST

START_TEST(test_object_release_cb_clears_in_cache_and_drops_reference)
{
    struct object *o = obj_new(KEY);
    object_ref(o);
    o->in_cache = 1;
    object_release_cb(o);
    ck_assert_int_eq(o->in_cache, 0);
    ck_assert_int_eq(o->refs, 1);
    object_unref(o);
}
END_TEST

static Suite *object_suite(void)
{
    Suite *s = suite_create("object");
    TCase *tc = tcase_create("head");
    tcase_add_test(tc, test_object_new_is_pending_with_unknown_length);
    tcase_add_test(tc, test_object_unref_accepts_null);
    tcase_add_test(tc, test_object_set_head_wakes_subscribers_with_headers);
    tcase_add_test(tc, test_object_stored_head_leaves_out_hop_by_hop_framing_and_age);
    tcase_add_test(tc, test_object_head_is_copied_not_referenced);
    tcase_add_test(tc, test_object_content_length_follows_framing);
    tcase_add_test(tc, test_object_complete_sets_length_to_body_received);
    tcase_add_test(tc, test_object_set_head_computes_freshness);
    tcase_add_test(tc, test_object_vary_points_at_stored_value);
    tcase_add_test(tc, test_object_header_finds_case_insensitively);
    suite_add_tcase(s, tc);

    tc = tcase_create("body");
    tcase_add_test(tc, test_object_deliver_adds_references_not_copies);
    tcase_add_test(tc, test_object_delivered_bytes_outlive_the_object);
    tcase_add_test(tc, test_object_deliver_respects_max_and_resumes);
    tcase_add_test(tc, test_object_deliver_spans_chunks);
    tcase_add_test(tc, test_object_retained_body_of_known_length_is_one_chunk);
    tcase_add_test(tc, test_object_retained_body_delivered_as_it_arrives);
    tcase_add_test(tc, test_object_large_delivered_body_outlives_the_object);
    tcase_add_test(tc, test_object_body_space_is_at_most_what_was_asked);
    tcase_add_test(tc, test_object_body_commit_wakes_with_data);
    tcase_add_test(tc, test_object_body_append_waits_for_flush);
    tcase_add_test(tc, test_object_late_subscriber_of_retained_body_gets_everything);
    suite_add_tcase(s, tc);

    tc = tcase_create("subscribers");
    tcase_add_test(tc, test_object_subscribers_woken_in_order_of_events);
    tcase_add_test(tc, test_object_subscriptions_hold_references);
    tcase_add_test(tc, test_object_unsubscribe_never_calls_back);
    tcase_add_test(tc, test_object_owner_cleared_when_it_leaves);
    tcase_add_test(tc, test_object_unsubscribe_during_notify_is_safe);
    tcase_add_test(tc, test_object_last_reference_dropped_in_headers_callback_is_safe);
    tcase_add_test(tc, test_object_last_reference_dropped_in_done_callback_is_safe);
    tcase_add_test(tc, test_object_fail_wakes_subscribers_and_leaves_table);
    tcase_add_test(tc, test_object_send_retry_unsubscribes_before_telling);
    suite_add_tcase(s, tc);

    tc = tcase_create("trim");
    tcase_add_test(tc, test_object_unretained_body_trimmed_after_delivery);
    tcase_add_test(tc, test_object_unretained_chunk_kept_until_slowest_subscriber_has_it);
    tcase_add_test(tc, test_object_unretained_trimmed_when_lagging_subscriber_leaves);
    tcase_add_test(tc, test_object_retained_body_never_trimmed);
    tcase_add_test(tc, test_object_stop_retaining_drops_chunks_everyone_has);
    tcase_add_test(tc, test_object_stop_retaining_removes_from_table);
    suite_add_tcase(s, tc);

    tc = tcase_create("throttle");
    tcase_add_test(tc, test_object_throttle_calls_unthrottle_once_when_last_releases);
    tcase_add_test(tc, test_object_throttle_counts_each_subscriber_once);
    tcase_add_test(tc, test_object_unsubscribe_releases_throttle);
    tcase_add_test(tc, test_object_unthrottle_without_fetch_calls_nothing);
    tcase_add_test(tc, test_object_unsubscribe_while_throttled_never_calls_back);
    suite_add_tcase(s, tc);

    tc = tcase_create("refresh");
    tcase_add_test(tc, test_object_refresh_keeps_body_and_updates_headers);
    tcase_add_test(tc, test_object_refresh_shares_body_chunks);
    tcase_add_test(tc, test_object_refresh_body_outlives_stored_object);
    tcase_add_test(tc, test_object_refresh_wakes_headers_then_done);
    tcase_add_test(tc, test_object_refresh_recomputes_freshness_from_304);
    tcase_add_test(tc, test_object_refresh_ignores_content_length_of_304);
    tcase_add_test(tc, test_object_refresh_keeps_stored_content_length_field);
    suite_add_tcase(s, tc);

    tc = tcase_create("table");
    tcase_add_test(tc, test_object_table_find_by_key);
    tcase_add_test(tc, test_object_table_keys_compare_exact_bytes);
    tcase_add_test(tc, test_object_table_remove_takes_only_that_object);
    tcase_add_test(tc, test_object_complete_removes_from_table);
    tcase_add_test(tc, test_object_freed_object_leaves_table);
    tcase_add_test(tc, test_object_table_free_detaches_objects);
    tcase_add_test(tc, test_object_table_holds_many_keys);
    suite_add_tcase(s, tc);

    tc = tcase_create("accounting");
    tcase_add_test(tc, test_object_size_counts_head_and_body);
    tcase_add_test(tc, test_object_size_counts_blocks_at_capacity);
    tcase_add_test(tc, test_object_size_covers_real_allocation);
    tcase_add_test(tc, test_object_complete_shrinks_last_block);
    tcase_add_test(tc, test_object_shrink_keeps_block_being_sent);
    tcase_add_test(tc, test_object_complete_drops_empty_last_block);
    tcase_add_test(tc, test_object_release_cb_clears_in_cache_and_drops_reference);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(object_suite)
