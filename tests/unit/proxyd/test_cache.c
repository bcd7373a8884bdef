/* Unit tests for proxyd/cache.c: lookup by key and Vary variant, LRU
 * eviction by bytes (values' sizes plus the index's own allocations), the
 * object-size limit, the Vary limits, replacement and removal, and that
 * release() sees every value exactly once. Values are slots of a counter
 * array, so each test can count releases per value. The index's cost
 * depends on the allocator: tests that fill a cache exactly measure it
 * first (index_of) rather than assume it. */
#include <check.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../proxyd/cache.h"

#define NVALUES 20000

static int released[NVALUES];

static void count_release(void *value)
{
    (*(int *)value)++;
}

static void *val(int i)
{
    return &released[i];
}

struct hdrs {
    struct http1_header h[16];
    size_t n;
};

static struct http1_str str_lit(const char *s)
{
    struct http1_str r = {s, strlen(s)};
    return r;
}

/* Each argument is one "Name: value" line; NULL ends the list. */
static struct hdrs hdrs_make(const char *line, ...)
{
    struct hdrs r;
    va_list ap;
    memset(&r, 0, sizeof(r));
    va_start(ap, line);
    for (; line; line = va_arg(ap, const char *)) {
        const char *colon = strchr(line, ':');
        ck_assert_ptr_nonnull(colon);
        ck_assert_uint_lt(r.n, 16);
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        r.h[r.n].name.p = line;
        r.h[r.n].name.len = (size_t)(colon - line);
        r.h[r.n].value = str_lit(v);
        r.n++;
    }
    va_end(ap);
    return r;
}
#define HDRS(...) hdrs_make(__VA_ARGS__, (const char *)NULL)
#define NO_HDRS hdrs_make(NULL)

static int put(struct cache *c, const char *key, const char *vary, struct hdrs req, int i,
               uint64_t size_bytes)
{
    struct http1_str v = vary ? str_lit(vary) : str_lit("");
    return cache_insert(c, key, strlen(key), vary ? &v : NULL, req.h, req.n, val(i), size_bytes);
}

static void *get(struct cache *c, const char *key, struct hdrs req)
{
    return cache_lookup(c, key, strlen(key), req.h, req.n);
}

static struct cache_stats stats_of(const struct cache *c)
{
    struct cache_stats st;
    cache_get_stats(c, &st);
    return st;
}

/* The stored values' sizes, without the index. */
static uint64_t value_bytes(const struct cache *c)
{
    struct cache_stats st = stats_of(c);
    ck_assert_uint_ge(st.bytes, st.index_bytes);
    return st.bytes - st.index_bytes;
}

/* A limit no test reaches. */
#define ROOMY (64ull << 20)

/* What the index takes for nkeys keys "http://a/", "http://b/", ... with one
 * variant each, without Vary: stats.bytes of such a cache holding values
 * of size 0 (its bucket array included). */
static uint64_t index_of(int nkeys)
{
    struct cache *c = cache_new(ROOMY, ROOMY, NULL);
    char key[] = "http://a/";
    for (int i = 0; i < nkeys; i++) {
        key[7] = (char)('a' + i);
        ck_assert_int_eq(put(c, key, NULL, NO_HDRS, 0, 0), 0);
    }
    uint64_t bytes = stats_of(c).bytes;
    cache_free(c);
    return bytes;
}

/* The same for one key "http://a/" with variants on Accept, one per value. */
static uint64_t index_of_accept_variants(const char *value, ...)
{
    struct cache *c = cache_new(ROOMY, ROOMY, NULL);
    va_list ap;
    char line[64];
    va_start(ap, value);
    for (; value; value = va_arg(ap, const char *)) {
        snprintf(line, sizeof(line), "Accept: %s", value);
        ck_assert_int_eq(put(c, "http://a/", "Accept", HDRS(line), 0, 0), 0);
    }
    va_end(ap);
    uint64_t bytes = stats_of(c).bytes;
    cache_free(c);
    return bytes;
}

/* Bytes the heap has handed out (chunk headers included) and not got back. */
static uint64_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

START_TEST(test_cache_stores_and_finds)
{
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    ck_assert_int_eq(put(c, "http://a/", NULL, NO_HDRS, 1, 10), 0);
    ck_assert_ptr_eq(get(c, "http://a/", NO_HDRS), val(1));
    ck_assert_ptr_null(get(c, "http://b/", NO_HDRS));
    ck_assert_ptr_null(get(c, "http://a", NO_HDRS));
    ck_assert_int_eq(released[1], 0);
    cache_free(c);
}
END_TEST

START_TEST(test_cache_keys_compare_exact_bytes)
{
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    ck_assert_int_eq(cache_insert(c, "k\0x", 3, NULL, NULL, 0, val(1), 1), 0);
    ck_assert_int_eq(cache_insert(c, "k\0y", 3, NULL, NULL, 0, val(2), 1), 0);
    ck_assert_ptr_eq(cache_lookup(c, "k\0x", 3, NULL, 0), val(1));
    ck_assert_ptr_eq(cache_lookup(c, "k\0y", 3, NULL, 0), val(2));
    ck_assert_ptr_null(cache_lookup(c, "k", 1, NULL, 0));
    ck_assert_ptr_null(get(c, "K\0x", NO_HDRS));
    cache_free(c);
}
END_TEST

START_TEST(test_cache_evicts_least_recently_used)
{
    struct cache *c = cache_new(index_of(3) + 300, 300, count_release);
    put(c, "http://a/", NULL, NO_HDRS, 1, 100);
    put(c, "http://b/", NULL, NO_HDRS, 2, 100);
    put(c, "http://c/", NULL, NO_HDRS, 3, 100);
    ck_assert_int_eq(put(c, "http://d/", NULL, NO_HDRS, 4, 100), 0);
    ck_assert_ptr_null(get(c, "http://a/", NO_HDRS));
    ck_assert_int_eq(released[1], 1);
    ck_assert_ptr_eq(get(c, "http://b/", NO_HDRS), val(2));
    ck_assert_ptr_eq(get(c, "http://d/", NO_HDRS), val(4));
    ck_assert_uint_eq(stats_of(c).evictions, 1);
    ck_assert_uint_eq(value_bytes(c), 300);
    ck_assert_uint_eq(stats_of(c).bytes, index_of(3) + 300);
    cache_free(c);
}
END_TEST

START_TEST(test_cache_lookup_refreshes_recency)
{
    struct cache *c = cache_new(index_of(3) + 300, 300, count_release);
    put(c, "http://a/", NULL, NO_HDRS, 1, 100);
    put(c, "http://b/", NULL, NO_HDRS, 2, 100);
    put(c, "http://c/", NULL, NO_HDRS, 3, 100);
    ck_assert_ptr_eq(get(c, "http://a/", NO_HDRS), val(1)); /* a is now newest; b oldest */
    put(c, "http://d/", NULL, NO_HDRS, 4, 100);
    ck_assert_ptr_eq(get(c, "http://a/", NO_HDRS), val(1));
    ck_assert_ptr_null(get(c, "http://b/", NO_HDRS));
    ck_assert_int_eq(released[2], 1);
    ck_assert_int_eq(released[1], 0);
    cache_free(c);
}
END_TEST

START_TEST(test_cache_evicts_several_to_fit)
{
    /* Sizes well above an index entry's, so a, b and c fit together. */
    struct cache *c = cache_new(index_of(2) + 3000, 3000, count_release);
    put(c, "http://a/", NULL, NO_HDRS, 1, 1000);
    put(c, "http://b/", NULL, NO_HDRS, 2, 1000);
    put(c, "http://c/", NULL, NO_HDRS, 3, 500);
    ck_assert_uint_eq(stats_of(c).objects, 3);
    ck_assert_int_eq(put(c, "http://d/", NULL, NO_HDRS, 4, 2500), 0);
    ck_assert_ptr_null(get(c, "http://a/", NO_HDRS));
    ck_assert_ptr_null(get(c, "http://b/", NO_HDRS));
    ck_assert_ptr_eq(get(c, "http://c/", NO_HDRS), val(3));
    ck_assert_uint_eq(stats_of(c).evictions, 2);
    ck_assert_uint_eq(value_bytes(c), 3000);
    ck_assert_uint_eq(stats_of(c).objects, 2);
    cache_free(c);
}
END_TEST

START_TEST(test_cache_accepts_object_of_exactly_the_limit)
{
    struct cache *c = cache_new(ROOMY, 100, count_release);
    ck_assert_int_eq(put(c, "http://a/", NULL, NO_HDRS, 1, 100), 0);
    ck_assert_ptr_eq(get(c, "http://a/", NO_HDRS), val(1));
    cache_free(c);
}
END_TEST

START_TEST(test_cache_refuses_object_over_the_limit)
{
    struct cache *c = cache_new(ROOMY, 100, count_release);
    ck_assert_int_eq(put(c, "http://a/", NULL, NO_HDRS, 1, 101), -1);
    ck_assert_ptr_null(get(c, "http://a/", NO_HDRS));
    ck_assert_int_eq(released[1], 0); /* the caller keeps it */
    ck_assert_uint_eq(stats_of(c).insertions, 0);
    cache_free(c);
    ck_assert_int_eq(released[1], 0);
}
END_TEST

START_TEST(test_cache_refuses_object_over_memory_limit)
{
    /* Room for one key's index entry and 100 bytes. */
    struct cache *c = cache_new(index_of(1) + 100, 1000, count_release);
    put(c, "http://a/", NULL, NO_HDRS, 1, 60);
    ck_assert_int_eq(put(c, "http://b/", NULL, NO_HDRS, 2, 101), -1);
    ck_assert_ptr_eq(get(c, "http://a/", NO_HDRS), val(1)); /* nothing evicted for it */
    ck_assert_int_eq(put(c, "http://b/", NULL, NO_HDRS, 2, 100), 0);
    ck_assert_int_eq(released[1], 1);
    cache_free(c);
}
END_TEST

START_TEST(test_cache_refuses_vary_star)
{
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    ck_assert_int_eq(put(c, "http://a/", "Accept, *", NO_HDRS, 1, 10), -1);
    ck_assert_ptr_null(get(c, "http://a/", NO_HDRS));
    ck_assert_int_eq(released[1], 0);
    cache_free(c);
    ck_assert_int_eq(released[1], 0);
}
END_TEST

START_TEST(test_cache_keeps_vary_variants_apart)
{
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    put(c, "http://a/", "Accept-Encoding", HDRS("Accept-Encoding: gzip"), 1, 10);
    put(c, "http://a/", "Accept-Encoding", HDRS("Accept-Encoding: br"), 2, 10);
    put(c, "http://a/", "Accept-Encoding", NO_HDRS, 3, 10);
    ck_assert_ptr_eq(get(c, "http://a/", HDRS("Accept-Encoding: gzip")), val(1));
    ck_assert_ptr_eq(get(c, "http://a/", HDRS("Accept-Encoding: br")), val(2));
    ck_assert_ptr_eq(get(c, "http://a/", NO_HDRS), val(3));
    ck_assert_ptr_null(get(c, "http://a/", HDRS("Accept-Encoding: zstd")));
    ck_assert_uint_eq(stats_of(c).objects, 3);
    cache_free(c);
}
END_TEST

START_TEST(test_cache_vary_names_match_case_insensitively)
{
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    put(c, "http://a/", "ACCEPT-language", HDRS("accept-Language: fr"), 1, 10);
    ck_assert_ptr_eq(get(c, "http://a/", HDRS("Accept-Language: fr")), val(1));
    ck_assert_ptr_null(get(c, "http://a/", HDRS("Accept-Language: FR")));
    cache_free(c);
}
END_TEST

START_TEST(test_cache_vary_values_trimmed)
{
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    struct hdrs req = HDRS("Accept: x");
    req.h[0].value = str_lit("  text/html \t");
    put(c, "http://a/", "Accept", req, 1, 10);
    ck_assert_ptr_eq(get(c, "http://a/", HDRS("Accept: text/html")), val(1));
    ck_assert_ptr_null(get(c, "http://a/", HDRS("Accept: text/html2")));
    ck_assert_ptr_null(get(c, "http://a/", HDRS("Accept: text/htm")));
    cache_free(c);
}
END_TEST

START_TEST(test_cache_vary_joins_same_name_headers)
{
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    put(c, "http://a/", "Accept-Encoding", HDRS("Accept-Encoding: gzip", "Accept-Encoding: br"), 1,
        10);
    ck_assert_ptr_eq(get(c, "http://a/", HDRS("Accept-Encoding: gzip, br")), val(1));
    ck_assert_ptr_eq(
        get(c, "http://a/", HDRS("Accept-Encoding: gzip", "X: 1", "accept-encoding: br")), val(1));
    ck_assert_ptr_null(get(c, "http://a/", HDRS("Accept-Encoding: gzip")));
    ck_assert_ptr_null(get(c, "http://a/", HDRS("Accept-Encoding: br, gzip")));
    ck_assert_ptr_null(
        get(c, "http://a/",
            HDRS("Accept-Encoding: gzip", "Accept-Encoding: br", "Accept-Encoding: x")));
    cache_free(c);
}
END_TEST

START_TEST(test_cache_vary_absent_header_differs_from_empty)
{
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    put(c, "http://a/", "Cookie", NO_HDRS, 1, 10);
    ck_assert_ptr_null(get(c, "http://a/", HDRS("Cookie: ")));
    ck_assert_ptr_eq(get(c, "http://a/", HDRS("Other: 1")), val(1));
    put(c, "http://a/", "Cookie", HDRS("Cookie: "), 2, 10);
    ck_assert_ptr_eq(get(c, "http://a/", HDRS("Cookie: ")), val(2));
    ck_assert_ptr_eq(get(c, "http://a/", NO_HDRS), val(1));
    cache_free(c);
}
END_TEST

START_TEST(test_cache_vary_several_fields)
{
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    put(c, "http://a/", "Accept-Encoding, Accept-Language",
        HDRS("Accept-Language: en", "Accept-Encoding: gzip"), 1, 10);
    ck_assert_ptr_eq(get(c, "http://a/", HDRS("Accept-Encoding: gzip", "Accept-Language: en")),
                     val(1));
    ck_assert_ptr_null(get(c, "http://a/", HDRS("Accept-Encoding: gzip", "Accept-Language: de")));
    ck_assert_ptr_null(get(c, "http://a/", HDRS("Accept-Encoding: gzip")));
    cache_free(c);
}
END_TEST

START_TEST(test_cache_no_vary_matches_any_request)
{
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    put(c, "http://a/", "", HDRS("Accept-Encoding: gzip"), 1, 10);
    ck_assert_ptr_eq(get(c, "http://a/", HDRS("Accept-Encoding: br")), val(1));
    ck_assert_ptr_eq(get(c, "http://a/", NO_HDRS), val(1));
    cache_free(c);
}
END_TEST

START_TEST(test_cache_replaces_same_variant)
{
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    put(c, "http://a/", "Accept-Encoding", HDRS("Accept-Encoding: gzip"), 1, 10);
    put(c, "http://a/", "Accept-Encoding", HDRS("Accept-Encoding: br"), 2, 20);
    ck_assert_int_eq(put(c, "http://a/", "accept-encoding", HDRS("Accept-Encoding: gzip"), 3, 40),
                     0);
    ck_assert_int_eq(released[1], 1);
    ck_assert_int_eq(released[2], 0);
    ck_assert_ptr_eq(get(c, "http://a/", HDRS("Accept-Encoding: gzip")), val(3));
    ck_assert_ptr_eq(get(c, "http://a/", HDRS("Accept-Encoding: br")), val(2));
    struct cache_stats st = stats_of(c);
    ck_assert_uint_eq(st.objects, 2);
    ck_assert_uint_eq(value_bytes(c), 60);
    ck_assert_uint_eq(st.evictions, 0);
    ck_assert_uint_eq(st.insertions, 3);
    cache_free(c);
}
END_TEST

START_TEST(test_cache_replacement_frees_room_before_evicting)
{
    /* Replacing a 100-byte variant with a 100-byte one in a full cache
     * must not evict anything else. */
    struct cache *c = cache_new(index_of(2) + 200, 200, count_release);
    put(c, "http://a/", NULL, NO_HDRS, 1, 100);
    put(c, "http://b/", NULL, NO_HDRS, 2, 100);
    ck_assert_int_eq(put(c, "http://b/", NULL, NO_HDRS, 3, 100), 0);
    ck_assert_ptr_eq(get(c, "http://a/", NO_HDRS), val(1));
    ck_assert_ptr_eq(get(c, "http://b/", NO_HDRS), val(3));
    ck_assert_uint_eq(stats_of(c).evictions, 0);
    ck_assert_int_eq(released[2], 1);
    cache_free(c);
}
END_TEST

START_TEST(test_cache_new_response_without_vary_supersedes_matching_variant)
{
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    put(c, "http://a/", "Accept-Encoding", HDRS("Accept-Encoding: gzip"), 1, 10);
    put(c, "http://a/", "Accept-Encoding", HDRS("Accept-Encoding: br"), 2, 10);
    put(c, "http://a/", NULL, HDRS("Accept-Encoding: gzip"), 3, 10);
    ck_assert_int_eq(released[1], 1);
    ck_assert_int_eq(released[2], 0);
    ck_assert_ptr_eq(get(c, "http://a/", HDRS("Accept-Encoding: gzip")), val(3));
    /* Both still select for br: the newer one wins (RFC 9111 §4.1). */
    ck_assert_ptr_eq(get(c, "http://a/", HDRS("Accept-Encoding: br")), val(3));
    cache_free(c);
}
END_TEST

START_TEST(test_cache_evicting_last_variant_forgets_key)
{
    /* Both variants of a fit, with their larger entries; b fits only once
     * both are gone. */
    struct cache *c = cache_new(index_of_accept_variants("x", "y", NULL) + 100, 100, count_release);
    put(c, "http://a/", "Accept", HDRS("Accept: x"), 1, 50);
    put(c, "http://a/", "Accept", HDRS("Accept: y"), 2, 50);
    ck_assert_uint_eq(stats_of(c).objects, 2);
    put(c, "http://b/", NULL, NO_HDRS, 3, 100);
    ck_assert_int_eq(released[1], 1);
    ck_assert_int_eq(released[2], 1);
    ck_assert_ptr_null(get(c, "http://a/", HDRS("Accept: y")));
    ck_assert_int_eq(cache_remove_key(c, "http://a/", 9), 0);
    ck_assert_int_eq(put(c, "http://a/", "Accept", HDRS("Accept: y"), 4, 100), 0);
    ck_assert_ptr_eq(get(c, "http://a/", HDRS("Accept: y")), val(4));
    cache_free(c);
}
END_TEST

START_TEST(test_cache_insert_into_key_being_evicted)
{
    /* The new variant's own key loses its last old variant to eviction
     * while the insert is under way. */
    struct cache *c = cache_new(index_of_accept_variants("x", NULL) + 100, 100, count_release);
    put(c, "http://a/", "Accept", HDRS("Accept: x"), 1, 60);
    ck_assert_int_eq(put(c, "http://a/", "Accept", HDRS("Accept: y"), 2, 60), 0);
    ck_assert_int_eq(released[1], 1);
    ck_assert_ptr_eq(get(c, "http://a/", HDRS("Accept: y")), val(2));
    ck_assert_uint_eq(stats_of(c).objects, 1);
    cache_free(c);
    ck_assert_int_eq(released[2], 1);
}
END_TEST

START_TEST(test_cache_remove_key_drops_all_variants)
{
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    put(c, "http://a/", "Accept", HDRS("Accept: x"), 1, 10);
    put(c, "http://a/", "Accept", HDRS("Accept: y"), 2, 10);
    put(c, "http://b/", NULL, NO_HDRS, 3, 10);
    ck_assert_int_eq(cache_remove_key(c, "http://a/", 9), 2);
    ck_assert_int_eq(released[1], 1);
    ck_assert_int_eq(released[2], 1);
    ck_assert_ptr_null(get(c, "http://a/", HDRS("Accept: x")));
    ck_assert_ptr_eq(get(c, "http://b/", NO_HDRS), val(3));
    ck_assert_int_eq(cache_remove_key(c, "http://a/", 9), 0);
    ck_assert_uint_eq(value_bytes(c), 10);
    ck_assert_uint_eq(stats_of(c).bytes, index_of(1) + 10); /* a's key went too */
    ck_assert_uint_eq(stats_of(c).objects, 1);
    cache_free(c);
}
END_TEST

START_TEST(test_cache_remove_value_drops_one_variant)
{
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    put(c, "http://a/", "Accept", HDRS("Accept: x"), 1, 10);
    put(c, "http://a/", "Accept", HDRS("Accept: y"), 2, 10);
    ck_assert_int_eq(cache_remove_value(c, "http://a/", 9, val(1)), 0);
    ck_assert_int_eq(released[1], 1);
    ck_assert_ptr_null(get(c, "http://a/", HDRS("Accept: x")));
    ck_assert_ptr_eq(get(c, "http://a/", HDRS("Accept: y")), val(2));
    ck_assert_int_eq(cache_remove_value(c, "http://a/", 9, val(1)), -1);
    ck_assert_int_eq(cache_remove_value(c, "http://b/", 9, val(2)), -1);
    ck_assert_int_eq(cache_remove_value(c, "http://a/", 9, val(2)), 0);
    ck_assert_int_eq(cache_remove_key(c, "http://a/", 9), 0);
    ck_assert_uint_eq(stats_of(c).objects, 0);
    ck_assert_uint_eq(stats_of(c).bytes, index_of(0)); /* the bucket array only */
    cache_free(c);
    ck_assert_int_eq(released[1], 1);
    ck_assert_int_eq(released[2], 1);
}
END_TEST

START_TEST(test_cache_release_called_once_per_value)
{
    /* Insertions, replacements, evictions, removals and the final free,
     * mixed: every value the cache ever accepted is released once. */
    struct cache *c = cache_new(8000, 400, count_release);
    static const char *const enc[] = {"Accept-Encoding: gzip", "Accept-Encoding: br",
                                      "Accept-Encoding: zstd"};
    char key[32];
    int accepted[NVALUES] = {0};
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof(key), "http://h/%d", i % 97);
        uint64_t size = (uint64_t)(i * 37 % 450);
        int rc = put(c, key, (i % 2) ? "Accept-Encoding" : NULL, HDRS(enc[i % 3]), i, size);
        accepted[i] = rc == 0;
        ck_assert_int_eq(rc, size <= 400 ? 0 : -1);
        if (i % 11 == 0)
            cache_remove_key(c, key, strlen(key));
        if (i % 13 == 0)
            cache_remove_value(c, key, strlen(key), val(i));
        if (i % 7 == 0 && i >= 97) /* same key, maybe already gone */
            cache_remove_value(c, key, strlen(key), val(i - 97));
        ck_assert_uint_le(stats_of(c).bytes, 8000);
    }
    cache_free(c);
    for (int i = 0; i < 3000; i++)
        ck_assert_msg(released[i] == accepted[i], "value %d released %d times, accepted %d", i,
                      released[i], accepted[i]);
}
END_TEST

START_TEST(test_cache_free_releases_everything)
{
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    put(c, "http://a/", "Accept", HDRS("Accept: x"), 1, 10);
    put(c, "http://a/", "Accept", HDRS("Accept: y"), 2, 10);
    put(c, "http://b/", NULL, NO_HDRS, 3, 10);
    cache_free(c);
    ck_assert_int_eq(released[1], 1);
    ck_assert_int_eq(released[2], 1);
    ck_assert_int_eq(released[3], 1);
    cache_free(NULL);
}
END_TEST

START_TEST(test_cache_grows_with_many_keys)
{
    struct cache *c = cache_new(UINT64_MAX, 1, count_release);
    char key[32];
    for (int i = 0; i < NVALUES; i++) {
        snprintf(key, sizeof(key), "http://h/%d", i);
        ck_assert_int_eq(put(c, key, NULL, NO_HDRS, i, 1), 0);
    }
    for (int i = 0; i < NVALUES; i++) {
        snprintf(key, sizeof(key), "http://h/%d", i);
        ck_assert_ptr_eq(get(c, key, NO_HDRS), val(i));
    }
    ck_assert_uint_eq(stats_of(c).objects, NVALUES);
    ck_assert_uint_eq(stats_of(c).evictions, 0);
    cache_free(c);
    for (int i = 0; i < NVALUES; i++)
        ck_assert_int_eq(released[i], 1);
}
END_TEST

START_TEST(test_cache_stats_account_bytes)
{
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    put(c, "http://a/", NULL, NO_HDRS, 1, 123);
    put(c, "http://b/", NULL, NO_HDRS, 2, 0);
    struct cache_stats st = stats_of(c);
    ck_assert_uint_eq(st.bytes, index_of(2) + 123);
    ck_assert_uint_eq(st.bytes - st.index_bytes, 123);
    ck_assert_uint_eq(st.objects, 2);
    ck_assert_uint_eq(st.insertions, 2);
    ck_assert_ptr_eq(get(c, "http://b/", NO_HDRS), val(2));
    cache_free(c);
}
END_TEST

START_TEST(test_cache_without_release_callback)
{
    struct cache *c = cache_new(index_of(1) + 100, 100, NULL);
    put(c, "http://a/", NULL, NO_HDRS, 1, 100);
    put(c, "http://b/", NULL, NO_HDRS, 2, 100);
    ck_assert_ptr_null(get(c, "http://a/", NO_HDRS));
    cache_free(c);
    ck_assert_int_eq(released[1], 0);
}
END_TEST

/* ---- what the cache really holds ---- */

/* A request header line "X-V: " with a value of len bytes, unique per i. */
static const char *vary_line(char *buf, size_t len, int i)
{
    int n = snprintf(buf, len + 6, "X-V: %08d", i);
    memset(buf + n, 'v', len + 5 - (size_t)n);
    buf[len + 5] = '\0';
    return buf;
}

START_TEST(test_cache_index_accounts_its_real_allocations)
{
    /* Long keys and 3 KB Vary values, as a client can make them: what the
     * index says it holds must cover what the heap handed out for it. */
    static char keybuf[2100], line[3100];
    uint64_t before = heap_in_use();
    struct cache *c = cache_new(ROOMY, ROOMY, NULL);
    cache_set_vary_limits(c, 8, 4096);
    for (int i = 0; i < 400; i++) {
        int n = snprintf(keybuf, sizeof(keybuf), "http://h/%d/", i / 8);
        memset(keybuf + n, 'k', 2000 - (size_t)n);
        keybuf[2000] = '\0';
        ck_assert_int_eq(put(c, keybuf, "X-V", HDRS(vary_line(line, 3000, i)), 0, 0), 0);
    }
    uint64_t real = heap_in_use() - before;
    struct cache_stats st = stats_of(c);
    ck_assert_uint_eq(st.objects, 400);
    ck_assert_uint_eq(st.bytes, st.index_bytes);
    ck_assert_uint_ge(st.index_bytes, 400 * 3000 + 50 * 2000);
    ck_assert_msg(st.index_bytes >= real, "index accounts %llu bytes, the heap grew by %llu",
                  (unsigned long long)st.index_bytes, (unsigned long long)real);
    /* And not wildly more (a sanitizer's allocator leaves glibc's counters
     * at zero: nothing to compare then). */
    if (real > 0)
        ck_assert_uint_le(st.index_bytes, real + real / 8);
    cache_free(c);
}
END_TEST

START_TEST(test_cache_stays_under_limit_with_large_vary_values)
{
    /* The case: many variants, each storing an 8 KB request value,
     * once accounted at 0 bytes. The limit holds after every insert, and the
     * heap holds no more than the limit. */
    static char line[8200];
    const uint64_t limit = 256 * 1024;
    uint64_t before = heap_in_use();
    struct cache *c = cache_new(limit, limit, count_release);
    cache_set_vary_limits(c, CACHE_DEFAULT_MAX_VARIANTS, 16 * 1024);
    char key[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "http://h/%d", i % 50);
        ck_assert_int_eq(put(c, key, "X-V", HDRS(vary_line(line, 8000, i)), i % NVALUES, 100), 0);
        ck_assert_uint_le(stats_of(c).bytes, limit);
    }
    uint64_t real = heap_in_use() - before;
    ck_assert_msg(real <= limit, "the heap grew by %llu for a %llu-byte cache",
                  (unsigned long long)real, (unsigned long long)limit);
    ck_assert_uint_lt(stats_of(c).objects, 32); /* 8 KB each: only about 30 fit */
    ck_assert_uint_gt(stats_of(c).evictions, 1900);
    cache_free(c);
}
END_TEST

START_TEST(test_cache_caps_variants_per_key)
{
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    cache_set_vary_limits(c, 4, 4096);
    static const char *const acc[] = {"Accept: 0", "Accept: 1", "Accept: 2",
                                      "Accept: 3", "Accept: 4", "Accept: 5"};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(put(c, "http://a/", "Accept", HDRS(acc[i]), i, 10), 0);
    put(c, "http://b/", NULL, NO_HDRS, 10, 10); /* another key: not counted */
    /* A hit on 0: 1 is now the least recently used. */
    ck_assert_ptr_eq(get(c, "http://a/", HDRS(acc[0])), val(0));
    ck_assert_int_eq(put(c, "http://a/", "Accept", HDRS(acc[4]), 4, 10), 0);
    ck_assert_int_eq(released[1], 1);
    ck_assert_int_eq(released[0], 0);
    ck_assert_ptr_null(get(c, "http://a/", HDRS(acc[1])));
    ck_assert_ptr_eq(get(c, "http://a/", HDRS(acc[0])), val(0));
    ck_assert_int_eq(put(c, "http://a/", "Accept", HDRS(acc[5]), 5, 10), 0);
    ck_assert_int_eq(released[2], 1);
    ck_assert_uint_eq(stats_of(c).objects, 5);
    ck_assert_uint_eq(stats_of(c).evictions, 2);
    ck_assert_ptr_eq(get(c, "http://b/", NO_HDRS), val(10));
    cache_free(c);
}
END_TEST

START_TEST(test_cache_default_variant_limit_is_32)
{
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    char line[32];
    for (int i = 0; i < 100; i++) {
        snprintf(line, sizeof(line), "Accept: %d", i);
        ck_assert_int_eq(put(c, "http://a/", "Accept", HDRS(line), i, 10), 0);
    }
    ck_assert_uint_eq(stats_of(c).objects, CACHE_DEFAULT_MAX_VARIANTS);
    ck_assert_uint_eq(CACHE_DEFAULT_MAX_VARIANTS, 32);
    ck_assert_int_eq(released[67], 1);
    ck_assert_int_eq(released[68], 0);
    cache_free(c);
}
END_TEST

START_TEST(test_cache_refuses_vary_values_over_limit)
{
    /* The limit counts each name (NUL-terminated) and each joined value:
     * "accept\0" is 7 bytes, so a 57-byte value is the most that fits 64. */
    static char fits[80], over[80];
    struct cache *c = cache_new(ROOMY, 1000, count_release);
    cache_set_vary_limits(c, 32, 64);
    snprintf(fits, sizeof(fits), "Accept: %057d", 1);
    snprintf(over, sizeof(over), "Accept: %058d", 2);
    put(c, "http://b/", NULL, NO_HDRS, 3, 10);
    ck_assert_int_eq(put(c, "http://a/", "Accept", HDRS(over), 2, 10), -1);
    ck_assert_int_eq(released[2], 0); /* the caller keeps it */
    ck_assert_ptr_null(get(c, "http://a/", HDRS(over)));
    ck_assert_int_eq(put(c, "http://a/", "Accept", HDRS(fits), 1, 10), 0);
    ck_assert_ptr_eq(get(c, "http://a/", HDRS(fits)), val(1));
    ck_assert_ptr_eq(get(c, "http://b/", NO_HDRS), val(3));
    ck_assert_uint_eq(stats_of(c).evictions, 0);
    cache_free(c);
}
END_TEST

START_TEST(test_cache_refuses_what_cannot_fit_beside_its_index)
{
    /* A value as large as the whole limit leaves no room for its own entry:
     * refused, nothing evicted for it. */
    struct cache *c = cache_new(index_of(1) + 100, 1000, count_release);
    put(c, "http://a/", NULL, NO_HDRS, 1, 50);
    ck_assert_int_eq(put(c, "http://b/", NULL, NO_HDRS, 2, index_of(1) + 100), -1);
    ck_assert_ptr_eq(get(c, "http://a/", NO_HDRS), val(1));
    ck_assert_int_eq(released[2], 0);
    cache_free(c);
}
END_TEST

static Suite *cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("index");
    tcase_add_test(tc, test_cache_stores_and_finds);
    tcase_add_test(tc, test_cache_keys_compare_exact_bytes);
    tcase_add_test(tc, test_cache_grows_with_many_keys);
    tcase_add_test(tc, test_cache_stats_account_bytes);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_test(tc, test_cache_evicts_least_recently_used);
    tcase_add_test(tc, test_cache_lookup_refreshes_recency);
    tcase_add_test(tc, test_cache_evicts_several_to_fit);
    tcase_add_test(tc, test_cache_accepts_object_of_exactly_the_limit);
    tcase_add_test(tc, test_cache_refuses_object_over_the_limit);
    tcase_add_test(tc, test_cache_refuses_object_over_memory_limit);
    tcase_add_test(tc, test_cache_replacement_frees_room_before_evicting);
    tcase_add_test(tc, test_cache_evicting_last_variant_forgets_key);
    tcase_add_test(tc, test_cache_insert_into_key_being_evicted);
    suite_add_tcase(s, tc);

    tc = tcase_create("vary");
    tcase_add_test(tc, test_cache_refuses_vary_star);
    tcase_add_test(tc, test_cache_keeps_vary_variants_apart);
    tcase_add_test(tc, test_cache_vary_names_match_case_insensitively);
    tcase_add_test(tc, test_cache_vary_values_trimmed);
    tcase_add_test(tc, test_cache_vary_joins_same_name_headers);
    tcase_add_test(tc, test_cache_vary_absent_header_differs_from_empty);
    tcase_add_test(tc, test_cache_vary_several_fields);
    tcase_add_test(tc, test_cache_no_vary_matches_any_request);
    tcase_add_test(tc, test_cache_replaces_same_variant);
    tcase_add_test(tc, test_cache_new_response_without_vary_supersedes_matching_variant);
    suite_add_tcase(s, tc);

    tc = tcase_create("release");
    tcase_add_test(tc, test_cache_remove_key_drops_all_variants);
    tcase_add_test(tc, test_cache_remove_value_drops_one_variant);
    tcase_add_test(tc, test_cache_release_called_once_per_value);
    tcase_add_test(tc, test_cache_free_releases_everything);
    tcase_add_test(tc, test_cache_without_release_callback);
    suite_add_tcase(s, tc);

    tc = tcase_create("memory");
    tcase_add_test(tc, test_cache_index_accounts_its_real_allocations);
    tcase_add_test(tc, test_cache_stays_under_limit_with_large_vary_values);
    tcase_add_test(tc, test_cache_caps_variants_per_key);
    tcase_add_test(tc, test_cache_default_variant_limit_is_32);
    tcase_add_test(tc, test_cache_refuses_vary_values_over_limit);
    tcase_add_test(tc, test_cache_refuses_what_cannot_fit_beside_its_index);
    suite_add_tcase(s, tc);
    return s;
}

#include "../check_main.h"
PP_CHECK_MAIN(cache_suite)
