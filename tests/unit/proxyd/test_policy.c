/* Unit tests for proxyd/policy.c: the one decision a request gets (pass,
 * hit, miss, collapse, revalidate, refuse) from the request, the cache and
 * the in-flight table; and what a fetched response does to the waiters that
 * joined it (who shares it, hit-for-miss) and to the cache. Requests and
 * responses are parsed from the bytes a client and an origin would send. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../../proxyd/cache.h"
#include "../../../proxyd/object.h"
#include "../../../proxyd/policy.h"

#define KEY "http://origin.test/a"
#define T0 1700000000LL

static struct http1_request *req_parse(const char *text)
{
    static struct http1_request reqs[8];
    static int next;
    struct http1_request *r = &reqs[next++ % 8];
    struct http1_limits lim;
    char err[128];
    http1_limits_default(&lim);
    ck_assert_int_gt(http1_parse_request(text, strlen(text), &lim, r, err, sizeof(err)), 0);
    return r;
}

static struct http1_response resp_parse(const char *text)
{
    struct http1_response r;
    struct http1_limits lim;
    char err[128];
    http1_limits_default(&lim);
    ck_assert_int_gt(http1_parse_response(text, strlen(text), &lim, 0, &r, err, sizeof(err)), 0);
    return r;
}

#define GET "GET " KEY " HTTP/1.1\r\nHost: origin.test\r\n"

struct fixture {
    struct cache *cache;
    struct object_table *inflight;
};

static struct fixture fixture_new(void)
{
    struct fixture fx = {cache_new(64u << 20, 1u << 20, object_release_cb), object_table_new()};
    ck_assert_ptr_nonnull(fx.cache);
    ck_assert_ptr_nonnull(fx.inflight);
    return fx;
}

static struct policy_decision lookup_at(struct fixture *fx, const struct http1_request *q,
                                        int64_t now)
{
    struct policy_request pr = {.req = q, .key = KEY, .key_len = strlen(KEY)};
    struct policy_decision d;
    policy_lookup(fx->cache, fx->inflight, now, &pr, &d);
    return d;
}

static struct policy_decision lookup(struct fixture *fx, const char *req_text)
{
    return lookup_at(fx, req_parse(req_text), T0);
}

/* A waiter that records the last event it was told. */
struct waiter {
    struct subscriber sub;
    int retried;
};

static void waiter_cb(struct subscriber *s, enum subscriber_event ev)
{
    struct waiter *w = s->ctx;
    if (ev == SUB_RETRY)
        w->retried = 1;
}

static void waiter_join(struct waiter *w, struct object *o, const struct http1_request *q)
{
    memset(w, 0, sizeof(*w));
    subscriber_init(&w->sub, waiter_cb, w);
    w->sub.req_h = q->headers;
    w->sub.req_n = q->nheaders;
    object_subscribe(o, &w->sub);
}

/* A fetch for q as fetch.c runs one: in flight, owned by *owner. */
static struct object *fetch_begin(struct fixture *fx, const struct http1_request *q,
                                  struct waiter *owner)
{
    struct object *o = object_new(KEY, strlen(KEY));
    ck_assert_ptr_nonnull(o);
    object_table_add(fx->inflight, o);
    memset(owner, 0, sizeof(*owner));
    subscriber_init(&owner->sub, waiter_cb, owner);
    owner->sub.req_h = q->headers;
    owner->sub.req_n = q->nheaders;
    object_subscribe_owner(o, &owner->sub);
    object_unref(o); /* the subscription holds it */
    return o;
}

static struct policy_fetch fetch_policy(struct fixture *fx, const struct http1_request *q)
{
    return (struct policy_fetch){.cache = fx->cache,
                                 .req = q,
                                 .store_candidate = 1,
                                 .max_object_bytes = 1u << 20,
                                 .now = T0};
}

/* The response head arrives (policy first, then the object, as fetch.c
 * does), and the body is complete. */
static void fetch_finish(struct fixture *fx, struct object *o, const struct http1_request *q,
                         const char *resp_text)
{
    struct policy_fetch pf = fetch_policy(fx, q);
    struct http1_response r = resp_parse(resp_text);
    policy_on_response(&pf, o, &r);
    ck_assert_int_eq(object_set_head(o, &r, T0, T0), 0);
    policy_on_complete(&pf, o);
    object_complete(o);
}

/* Stores a response for GET with the given head, as a finished fetch would. */
static void store(struct fixture *fx, const char *resp_text)
{
    struct waiter owner;
    struct http1_request *q = req_parse(GET "\r\n");
    struct object *o = fetch_begin(fx, q, &owner);
    fetch_finish(fx, o, q, resp_text);
    object_unsubscribe(&owner.sub);
}

static void fixture_free(struct fixture *fx)
{
    cache_free(fx->cache);
    object_table_free(fx->inflight);
}

START_TEST(test_policy_passes_what_a_cache_may_not_answer)
{
    struct fixture fx = fixture_new();
    store(&fx, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 0\r\n\r\n");
    const char *passed[] = {
        "POST " KEY " HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 0\r\n\r\n",
        GET "Authorization: Basic eDp5\r\n\r\n",
        GET "Cache-Control: no-store\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(passed) / sizeof(passed[0]); i++) {
        struct policy_decision d = lookup(&fx, passed[i]);
        ck_assert_int_eq(d.action, POLICY_PASS);
        ck_assert(!d.store_candidate && !d.collapsible);
    }
    struct policy_request pr = {.req = req_parse(GET "\r\n"), .key = KEY, .key_len = strlen(KEY)};
    struct policy_decision d;
    policy_lookup(NULL, fx.inflight, T0, &pr, &d);
    ck_assert_int_eq(d.action, POLICY_PASS);
    pr.host_mismatch = 1;
    policy_lookup(fx.cache, fx.inflight, T0, &pr, &d);
    ck_assert_int_eq(d.action, POLICY_PASS);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_policy_hits_a_fresh_stored_response)
{
    struct fixture fx = fixture_new();
    struct policy_decision d = lookup(&fx, GET "\r\n");
    ck_assert_int_eq(d.action, POLICY_MISS);
    ck_assert(d.store_candidate && d.collapsible);
    ck_assert_int_eq(lookup(&fx, GET "Cache-Control: only-if-cached\r\n\r\n").action,
                     POLICY_REFUSE);
    store(&fx, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 0\r\n\r\n");
    d = lookup(&fx, GET "\r\n");
    ck_assert_int_eq(d.action, POLICY_HIT);
    ck_assert_ptr_nonnull(d.obj);
    ck_assert_int_eq(object_status(d.obj), 200);
    d = lookup(&fx, "HEAD " KEY " HTTP/1.1\r\nHost: origin.test\r\n\r\n");
    ck_assert_int_eq(d.action, POLICY_HIT);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_policy_collapses_onto_a_pending_fetch)
{
    struct fixture fx = fixture_new();
    struct waiter owner;
    struct object *o = fetch_begin(&fx, req_parse(GET "\r\n"), &owner);
    struct policy_decision d = lookup(&fx, GET "\r\n");
    ck_assert_int_eq(d.action, POLICY_COLLAPSE);
    ck_assert_ptr_eq(d.obj, o);
    /* HEAD misses are neither stored nor shared; a body is never shared. */
    d = lookup(&fx, "HEAD " KEY " HTTP/1.1\r\nHost: origin.test\r\n\r\n");
    ck_assert_int_eq(d.action, POLICY_MISS);
    ck_assert(!d.store_candidate && !d.collapsible);
    d = lookup(&fx, GET "Content-Length: 3\r\n\r\n");
    ck_assert_int_eq(d.action, POLICY_MISS);
    ck_assert(d.store_candidate && !d.collapsible);
    struct policy_request pr = {
        .req = req_parse(GET "\r\n"), .key = KEY, .key_len = strlen(KEY), .no_collapse = 1};
    policy_lookup(fx.cache, fx.inflight, T0, &pr, &d);
    ck_assert_int_eq(d.action, POLICY_MISS);
    ck_assert(!d.collapsible);
    object_unsubscribe(&owner.sub);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_policy_does_not_join_a_vary_response_already_streaming)
{
    struct fixture fx = fixture_new();
    struct waiter owner;
    struct http1_request *q = req_parse(GET "\r\n");
    struct object *o = fetch_begin(&fx, q, &owner);
    struct policy_fetch pf = fetch_policy(&fx, q);
    struct http1_response r = resp_parse("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n"
                                         "Vary: Accept-Encoding\r\nContent-Length: 10\r\n\r\n");
    policy_on_response(&pf, o, &r);
    ck_assert_int_eq(object_set_head(o, &r, T0, T0), 0);
    /* Too late to send a waiter of another variant off: fetch alone. */
    ck_assert_int_eq(lookup(&fx, GET "\r\n").action, POLICY_MISS);
    object_unsubscribe(&owner.sub);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_policy_revalidates_a_stale_response_with_a_validator)
{
    struct fixture fx = fixture_new();
    store(&fx, "HTTP/1.1 200 OK\r\nCache-Control: max-age=10\r\nETag: \"v1\"\r\n"
               "Content-Length: 0\r\n\r\n");
    struct policy_decision d = lookup_at(&fx, req_parse(GET "\r\n"), T0 + 60);
    ck_assert_int_eq(d.action, POLICY_REVALIDATE);
    ck_assert_ptr_nonnull(d.obj);
    ck_assert(d.store_candidate && d.collapsible);
    d = lookup_at(&fx, req_parse(GET "Cache-Control: only-if-cached\r\n\r\n"), T0 + 60);
    ck_assert_int_eq(d.action, POLICY_REFUSE);
    ck_assert_ptr_nonnull(d.why);
    /* A revalidation under way is joined rather than repeated. */
    struct waiter owner;
    struct object *o = fetch_begin(&fx, req_parse(GET "\r\n"), &owner);
    d = lookup_at(&fx, req_parse(GET "\r\n"), T0 + 60);
    ck_assert_int_eq(d.action, POLICY_COLLAPSE);
    ck_assert_ptr_eq(d.obj, o);
    object_unsubscribe(&owner.sub);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_policy_stale_response_without_validator_is_a_miss)
{
    struct fixture fx = fixture_new();
    store(&fx, "HTTP/1.1 200 OK\r\nCache-Control: max-age=10\r\nContent-Length: 0\r\n\r\n");
    ck_assert_int_eq(lookup_at(&fx, req_parse(GET "\r\n"), T0 + 60).action, POLICY_MISS);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_policy_uncacheable_response_releases_waiters_and_marks_hit_for_miss)
{
    struct fixture fx = fixture_new();
    struct waiter owner, w;
    struct http1_request *q = req_parse(GET "\r\n");
    struct object *o = fetch_begin(&fx, q, &owner);
    waiter_join(&w, o, req_parse(GET "\r\n"));
    fetch_finish(
        &fx, o, q,
        "HTTP/1.1 200 OK\r\nCache-Control: private, max-age=60\r\nContent-Length: 0\r\n\r\n");
    ck_assert(w.retried);
    ck_assert(!owner.retried);
    /* Later requests fetch on their own, not queued behind one another. */
    struct policy_decision d = lookup(&fx, GET "\r\n");
    ck_assert_int_eq(d.action, POLICY_MISS);
    ck_assert(d.no_collapse && !d.collapsible && d.store_candidate);
    /* ... for 120 s (Varnish's hit-for-miss), then the marker is dropped. */
    d = lookup_at(&fx, req_parse(GET "\r\n"), T0 + 121);
    ck_assert_int_eq(d.action, POLICY_MISS);
    ck_assert(!d.no_collapse && d.collapsible);
    object_unsubscribe(&owner.sub);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_policy_shares_a_vary_response_with_its_variant_only)
{
    struct fixture fx = fixture_new();
    struct waiter owner, same, other;
    struct http1_request *q = req_parse(GET "Accept-Encoding: gzip\r\nAccept-Encoding: br\r\n\r\n");
    struct object *o = fetch_begin(&fx, q, &owner);
    waiter_join(&same, o, req_parse(GET "Accept-Encoding: gzip, br\r\n\r\n"));
    waiter_join(&other, o,
                req_parse(GET "Accept-Encoding: gzip\r\nAccept-Encoding: deflate\r\n\r\n"));
    fetch_finish(&fx, o, q,
                 "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nVary: Accept-Encoding\r\n"
                 "Content-Length: 0\r\n\r\n");
    ck_assert(!same.retried);
    ck_assert(other.retried); /* the same first line, another variant */
    /* The cache agrees on which request the stored variant serves. */
    ck_assert_int_eq(lookup(&fx, GET "Accept-Encoding: gzip, br\r\n\r\n").action, POLICY_HIT);
    ck_assert_int_eq(
        lookup(&fx, GET "Accept-Encoding: gzip\r\nAccept-Encoding: deflate\r\n\r\n").action,
        POLICY_MISS);
    object_unsubscribe(&same.sub);
    object_unsubscribe(&owner.sub);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_policy_answers_a_current_client_copy_with_304)
{
    struct fixture fx = fixture_new();
    store(&fx, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nETag: \"v1\"\r\n"
               "Content-Length: 0\r\n\r\n");
    struct policy_decision d = lookup(&fx, GET "\r\n");
    ck_assert_int_eq(d.action, POLICY_HIT);
    ck_assert(policy_not_modified(d.obj, req_parse(GET "If-None-Match: \"v1\"\r\n\r\n")));
    ck_assert(!policy_not_modified(d.obj, req_parse(GET "If-None-Match: \"v2\"\r\n\r\n")));
    ck_assert(!policy_not_modified(
        d.obj, req_parse("HEAD " KEY " HTTP/1.1\r\nHost: o\r\nIf-None-Match: \"v1\"\r\n\r\n")));
    fixture_free(&fx);
}
END_TEST

static Suite *policy_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("lookup");
    tcase_add_test(tc, test_policy_passes_what_a_cache_may_not_answer);
    tcase_add_test(tc, test_policy_hits_a_fresh_stored_response);
    tcase_add_test(tc, test_policy_collapses_onto_a_pending_fetch);
    tcase_add_test(tc, test_policy_does_not_join_a_vary_response_already_streaming);
    tcase_add_test(tc, test_policy_revalidates_a_stale_response_with_a_validator);
    tcase_add_test(tc, test_policy_stale_response_without_validator_is_a_miss);
    suite_add_tcase(s, tc);

    tc = tcase_create("response");
    tcase_add_test(tc, test_policy_uncacheable_response_releases_waiters_and_marks_hit_for_miss);
    tcase_add_test(tc, test_policy_shares_a_vary_response_with_its_variant_only);
    tcase_add_test(tc, test_policy_answers_a_current_client_copy_with_304);
    suite_add_tcase(s, tc);
    return s;
}

#include "../check_main.h"
PP_CHECK_MAIN(policy_suite)
