/* Unit tests for manager/partition.c: block sizes (64 over 1..32, 10 over 3),
 * blocks spanning ranges, CIDR covers exact and minimal on edge cases,
 * lookup, the clients a scale step moves, and --clients parsing errors. */
#include <arpa/inet.h>
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../manager/partition.h"
#include "../check_main.h"

static uint32_t ip(const char *s)
{
    struct in_addr a;
    ck_assert_int_eq(inet_pton(AF_INET, s, &a), 1);
    return ntohl(a.s_addr);
}

static struct client_range range(const char *first, const char *last)
{
    struct client_range r = {ip(first), ip(last)};
    return r;
}

/* The addresses a cover spans, checking its prefixes are aligned, in
 * address order and contiguous from first to last (so: exact). */
static void assert_exact_cover(const struct cidr4 *c, size_t n, uint32_t first, uint32_t last)
{
    uint64_t next = first;
    ck_assert_uint_gt(n, 0);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_ge(c[i].len, 0);
        ck_assert_int_le(c[i].len, 32);
        uint64_t size = 1ULL << (32 - c[i].len);
        ck_assert_msg(c[i].addr % size == 0, "prefix %zu not aligned", i);
        ck_assert_msg(c[i].addr == next, "prefix %zu does not continue the cover", i);
        next += size;
    }
    ck_assert_msg(next == (uint64_t)last + 1, "cover ends at %llu, wanted %llu",
                  (unsigned long long)next, (unsigned long long)last + 1);
}

/* Minimality, by a different argument than the greedy algorithm's: two
 * neighbouring prefixes of equal length that form an aligned prefix of
 * double size could be merged; a minimal cover has no such pair, and every
 * prefix is as large as alignment and the range allow. */
static void assert_minimal_cover(const struct cidr4 *c, size_t n, uint32_t last)
{
    for (size_t i = 0; i < n; i++) {
        if (c[i].len == 0)
            continue;
        uint64_t size = 1ULL << (32 - c[i].len);
        int could_grow = c[i].addr % (2 * size) == 0 && (uint64_t)c[i].addr + 2 * size - 1 <= last;
        ck_assert_msg(!could_grow, "prefix %zu (len %d) could be a /%d", i, c[i].len, c[i].len - 1);
    }
}

static size_t cover_checked(uint32_t first, uint32_t last, struct cidr4 *out)
{
    size_t n = cidr_cover(first, last, out);
    ck_assert_uint_le(n, 64);
    assert_exact_cover(out, n, first, last);
    assert_minimal_cover(out, n, last);
    return n;
}

START_TEST(test_partition_64_clients_halve_per_doubling)
{
    static const int ns[] = {1, 2, 4, 8, 16, 32};
    struct client_range r = range("198.18.1.1", "198.18.1.64");
    char err[256];
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        struct partition p;
        ck_assert_int_eq(partition_compute(&r, 1, ns[i], &p, err, sizeof(err)), 0);
        ck_assert_uint_eq(p.nblocks, (size_t)ns[i]);
        ck_assert_uint_eq(p.clients, 64);
        uint32_t expect_first = r.first;
        for (size_t k = 0; k < p.nblocks; k++) {
            const struct partition_block *b = &p.blocks[k];
            ck_assert_int_eq(b->instance_id, (int)k + 1);
            ck_assert_uint_eq(b->count, 64 / (uint32_t)ns[i]);
            ck_assert_uint_eq(b->first, expect_first);
            ck_assert_uint_eq(b->last, expect_first + b->count - 1);
            assert_exact_cover(b->prefixes, b->nprefixes, b->first, b->last);
            expect_first = b->last + 1;
        }
        partition_free(&p);
    }
}
END_TEST

START_TEST(test_partition_10_over_3_puts_larger_blocks_first)
{
    struct client_range r = range("10.0.0.1", "10.0.0.10");
    struct partition p;
    char err[256];
    ck_assert_int_eq(partition_compute(&r, 1, 3, &p, err, sizeof(err)), 0);
    ck_assert_uint_eq(p.blocks[0].count, 4);
    ck_assert_uint_eq(p.blocks[1].count, 3);
    ck_assert_uint_eq(p.blocks[2].count, 3);
    ck_assert_uint_eq(p.blocks[0].first, ip("10.0.0.1"));
    ck_assert_uint_eq(p.blocks[0].last, ip("10.0.0.4"));
    ck_assert_uint_eq(p.blocks[1].first, ip("10.0.0.5"));
    ck_assert_uint_eq(p.blocks[2].last, ip("10.0.0.10"));
    partition_free(&p);
}
END_TEST

START_TEST(test_partition_more_instances_than_clients_leaves_empty_blocks)
{
    struct client_range r = range("10.0.0.1", "10.0.0.3");
    struct partition p;
    char err[256];
    ck_assert_int_eq(partition_compute(&r, 1, 5, &p, err, sizeof(err)), 0);
    ck_assert_uint_eq(p.blocks[2].count, 1);
    ck_assert_uint_eq(p.blocks[3].count, 0);
    ck_assert_uint_eq(p.blocks[3].nprefixes, 0);
    ck_assert_uint_eq(p.blocks[4].count, 0);
    ck_assert_int_eq(partition_lookup(&p, ip("10.0.0.3")), 3);
    partition_free(&p);
}
END_TEST

START_TEST(test_partition_block_spans_two_ranges)
{
    /* 6 + 6 clients over 3: block 2 takes the last 2 of the first range and
     * the first 2 of the second. */
    struct client_range r[2] = {range("10.0.0.1", "10.0.0.6"), range("10.9.0.250", "10.9.0.255")};
    struct partition p;
    char err[256];
    ck_assert_int_eq(partition_compute(r, 2, 3, &p, err, sizeof(err)), 0);
    ck_assert_uint_eq(p.clients, 12);
    const struct partition_block *b = &p.blocks[1];
    ck_assert_uint_eq(b->count, 4);
    ck_assert_uint_eq(b->first, ip("10.0.0.5"));
    ck_assert_uint_eq(b->last, ip("10.9.0.251"));
    /* 10.0.0.5-6 is two /32s (6 starts a /31 that would take 7); 10.9.0.250-251
     * is one /31. */
    ck_assert_uint_eq(b->nprefixes, 3);
    ck_assert_uint_eq(b->prefixes[0].addr, ip("10.0.0.5"));
    ck_assert_int_eq(b->prefixes[0].len, 32);
    ck_assert_uint_eq(b->prefixes[1].addr, ip("10.0.0.6"));
    ck_assert_int_eq(b->prefixes[1].len, 32);
    ck_assert_uint_eq(b->prefixes[2].addr, ip("10.9.0.250"));
    ck_assert_int_eq(b->prefixes[2].len, 31);
    ck_assert_int_eq(partition_lookup(&p, ip("10.0.0.7")), 0);
    ck_assert_int_eq(partition_lookup(&p, ip("10.9.0.251")), 2);
    ck_assert_int_eq(partition_lookup(&p, ip("10.9.0.252")), 3);
    partition_free(&p);
}
END_TEST

START_TEST(test_partition_rejects_bad_input)
{
    struct client_range r = range("10.0.0.1", "10.0.0.4");
    struct client_range overlap[2] = {range("10.0.0.1", "10.0.0.8"), range("10.0.0.8", "10.0.0.9")};
    struct partition p;
    char err[256];
    ck_assert_int_eq(partition_compute(&r, 1, 0, &p, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "instance"));
    ck_assert_int_eq(partition_compute(&r, 0, 2, &p, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "no clients"));
    ck_assert_int_eq(partition_compute(overlap, 2, 2, &p, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "overlap"));
    partition_free(&p); /* zeroed on failure: freeing is harmless */
}
END_TEST

START_TEST(test_cidr_cover_single_address)
{
    struct cidr4 c[64];
    ck_assert_uint_eq(cover_checked(ip("198.18.1.7"), ip("198.18.1.7"), c), 1);
    ck_assert_int_eq(c[0].len, 32);
    ck_assert_uint_eq(cover_checked(0, 0, c), 1);
    ck_assert_uint_eq(cover_checked(UINT32_MAX, UINT32_MAX, c), 1);
}
END_TEST

START_TEST(test_cidr_cover_whole_network_is_one_prefix)
{
    struct cidr4 c[64];
    ck_assert_uint_eq(cover_checked(ip("198.18.0.0"), ip("198.18.255.255"), c), 1);
    ck_assert_uint_eq(c[0].addr, ip("198.18.0.0"));
    ck_assert_int_eq(c[0].len, 16);
    ck_assert_uint_eq(cover_checked(0, UINT32_MAX, c), 1);
    ck_assert_int_eq(c[0].len, 0);
}
END_TEST

START_TEST(test_cidr_cover_1_to_64)
{
    /* 198.18.1.1-198.18.1.64 -> 1/32 2/31 4/30 8/29 16/28 32/27 64/32. */
    static const int want_host[] = {1, 2, 4, 8, 16, 32, 64};
    static const int want_len[] = {32, 31, 30, 29, 28, 27, 32};
    struct cidr4 c[64];
    size_t n = cover_checked(ip("198.18.1.1"), ip("198.18.1.64"), c);
    ck_assert_uint_eq(n, 7);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(c[i].addr, ip("198.18.1.0") + (uint32_t)want_host[i]);
        ck_assert_int_eq(c[i].len, want_len[i]);
    }
}
END_TEST

START_TEST(test_cidr_cover_worst_case_fits)
{
    struct cidr4 c[64];
    /* 0.0.0.1 - 255.255.255.254: 31 prefixes up, 31 down: the 62 worst case. */
    ck_assert_uint_eq(cover_checked(1, UINT32_MAX - 1, c), 62);
    ck_assert_uint_eq(cover_checked(1, UINT32_MAX, c), 32);
    ck_assert_uint_eq(cover_checked(0, UINT32_MAX - 1, c), 32);
}
END_TEST

START_TEST(test_cidr_cover_random_ranges_exact_and_minimal)
{
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    struct cidr4 c[64];
    for (int i = 0; i < 3000; i++) { /* a few ms; under ASan well inside the timeout */
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        uint32_t a = (uint32_t)s, b = (uint32_t)(s >> 32);
        if (i % 2) /* half of them short, near interesting boundaries */
            b = a + (uint32_t)(s >> 40) % 5000;
        if (a > b) {
            uint32_t t = a;
            a = b;
            b = t;
        }
        cover_checked(a, b, c);
    }
}
END_TEST

START_TEST(test_partition_blocks_exactly_cover_and_lookup_agrees)
{
    /* 4096 clients from 198.18.0.1 over 32 (128 each, misaligned by one),
     * across two ranges: every client's block is the one lookup names, and
     * addresses just outside are nobody's. */
    struct client_range r[2] = {range("198.18.0.1", "198.18.8.0"),
                                range("198.18.8.1", "198.18.16.0")};
    struct partition p;
    char err[256];
    ck_assert_int_eq(partition_compute(r, 2, 32, &p, err, sizeof(err)), 0);
    ck_assert_uint_eq(p.clients, 4096);
    for (size_t k = 0; k < p.nblocks; k++) {
        const struct partition_block *b = &p.blocks[k];
        ck_assert_uint_eq(b->count, 128);
        assert_exact_cover(b->prefixes, b->nprefixes, b->first, b->last);
        ck_assert_int_eq(partition_lookup(&p, b->first), b->instance_id);
        ck_assert_int_eq(partition_lookup(&p, b->last), b->instance_id);
    }
    ck_assert_int_eq(partition_lookup(&p, ip("198.18.0.0")), 0);
    ck_assert_int_eq(partition_lookup(&p, ip("198.18.16.1")), 0);
    ck_assert_int_eq(partition_lookup(&p, ip("10.0.0.1")), 0);
    partition_free(&p);
}
END_TEST

START_TEST(test_partition_lookup_skips_the_gap_between_ranges)
{
    struct client_range r[2] = {range("10.0.0.0", "10.0.0.1"), range("10.0.0.4", "10.0.0.5")};
    struct partition p;
    char err[256];
    ck_assert_int_eq(partition_compute(r, 2, 1, &p, err, sizeof(err)), 0);
    ck_assert_int_eq(partition_lookup(&p, ip("10.0.0.1")), 1);
    ck_assert_int_eq(partition_lookup(&p, ip("10.0.0.2")), 0);
    ck_assert_int_eq(partition_lookup(&p, ip("10.0.0.3")), 0);
    ck_assert_int_eq(partition_lookup(&p, ip("10.0.0.4")), 1);
    partition_free(&p);
}
END_TEST

/* moved, the slow way: per address, for a small client set. */
static uint32_t moved_by_address(const struct partition *a, const struct partition *b, uint32_t lo,
                                 uint32_t hi)
{
    uint32_t n = 0;
    for (uint32_t x = lo; x <= hi; x++)
        n += partition_lookup(a, x) != partition_lookup(b, x);
    return n;
}

START_TEST(test_partition_moved_between_n_and_2n)
{
    struct client_range r = range("198.18.1.1", "198.18.1.64");
    char err[256];
    for (int n = 1; n <= 16; n *= 2) {
        struct partition a, b;
        ck_assert_int_eq(partition_compute(&r, 1, n, &a, err, sizeof(err)), 0);
        ck_assert_int_eq(partition_compute(&r, 1, 2 * n, &b, err, sizeof(err)), 0);
        uint32_t moved = partition_moved(&a, &b);
        /* Doubling splits block k into 2k-1 and 2k: only block 1's first
         * half keeps its instance, so all but 64/(2N) clients move (the
         * cache cost of contiguous blocks). */
        ck_assert_uint_eq(moved, 64 - 64 / (2 * (uint32_t)n));
        ck_assert_uint_eq(moved, moved_by_address(&a, &b, r.first - 1, r.last + 1));
        ck_assert_uint_eq(moved, partition_moved(&b, &a));
        ck_assert_uint_eq(partition_moved(&a, &a), 0);
        partition_free(&a);
        partition_free(&b);
    }
    /* 1 -> 2: clients 33..64 move to instance 2; 1..32 stay on 1. */
    struct partition one, two;
    ck_assert_int_eq(partition_compute(&r, 1, 1, &one, err, sizeof(err)), 0);
    ck_assert_int_eq(partition_compute(&r, 1, 2, &two, err, sizeof(err)), 0);
    ck_assert_uint_eq(partition_moved(&one, &two), 32);
    partition_free(&one);
    partition_free(&two);
}
END_TEST

START_TEST(test_partition_moved_counts_clients_in_only_one)
{
    struct client_range r1 = range("10.0.0.1", "10.0.0.8");
    struct client_range r2[2] = {range("10.0.0.1", "10.0.0.8"), range("10.0.1.0", "10.0.1.3")};
    struct partition a, b;
    char err[256];
    ck_assert_int_eq(partition_compute(&r1, 1, 1, &a, err, sizeof(err)), 0);
    ck_assert_int_eq(partition_compute(r2, 2, 1, &b, err, sizeof(err)), 0);
    ck_assert_uint_eq(partition_moved(&a, &b), 4); /* the 4 new ones */
    partition_free(&a);
    partition_free(&b);
}
END_TEST

START_TEST(test_client_range_parse_forms)
{
    struct client_range r;
    char err[256];
    ck_assert_int_eq(client_range_parse("198.18.1.1-198.18.1.64", &r, err, sizeof(err)), 0);
    ck_assert_uint_eq(r.first, ip("198.18.1.1"));
    ck_assert_uint_eq(r.last, ip("198.18.1.64"));
    ck_assert_int_eq(client_range_parse("198.18.1.9", &r, err, sizeof(err)), 0);
    ck_assert_uint_eq(r.first, r.last);
    ck_assert_int_eq(client_range_parse("198.18.0.0/16", &r, err, sizeof(err)), 0);
    ck_assert_uint_eq(r.first, ip("198.18.0.0"));
    ck_assert_uint_eq(r.last, ip("198.18.255.255"));
    ck_assert_int_eq(client_range_parse("10.1.2.3/32", &r, err, sizeof(err)), 0);
    ck_assert_uint_eq(r.first, r.last);
    ck_assert_int_eq(client_range_parse("0.0.0.0/0", &r, err, sizeof(err)), 0);
    ck_assert_uint_eq(r.last, UINT32_MAX);
}
END_TEST

START_TEST(test_client_range_parse_errors)
{
    static const char *bad[] = {
        "",
        "198.18.1",
        "198.18.1.256",
        "198.18.1.64-198.18.1.1", /* backwards */
        "198.18.1.1-",
        "-198.18.1.1",
        "198.18.1.1-198.18.1.2-198.18.1.3",
        "198.18.0.0/33",
        "198.18.0.0/",
        "198.18.0.0/-1",
        "198.18.0.0/16x",
        "198.18.0.1/16", /* host bits */
        "198.18.0.0/16-198.18.1.1",
        "example.com",
        " 198.18.1.1",
    };
    struct client_range r;
    char err[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(client_range_parse(bad[i], &r, err, sizeof(err)) == -1, "'%s' accepted",
                      bad[i]);
        ck_assert_msg(err[0] != '\0', "'%s': no message", bad[i]);
    }
}
END_TEST

static Suite *partition_suite(void)
{
    Suite *s = suite_create("partition");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_partition_64_clients_halve_per_doubling);
    tcase_add_test(tc, test_partition_10_over_3_puts_larger_blocks_first);
    tcase_add_test(tc, test_partition_more_instances_than_clients_leaves_empty_blocks);
    tcase_add_test(tc, test_partition_block_spans_two_ranges);
    tcase_add_test(tc, test_partition_rejects_bad_input);
    tcase_add_test(tc, test_cidr_cover_single_address);
    tcase_add_test(tc, test_cidr_cover_whole_network_is_one_prefix);
    tcase_add_test(tc, test_cidr_cover_1_to_64);
    tcase_add_test(tc, test_cidr_cover_worst_case_fits);
    tcase_add_test(tc, test_cidr_cover_random_ranges_exact_and_minimal);
    tcase_add_test(tc, test_partition_blocks_exactly_cover_and_lookup_agrees);
    tcase_add_test(tc, test_partition_lookup_skips_the_gap_between_ranges);
    tcase_add_test(tc, test_partition_moved_between_n_and_2n);
    tcase_add_test(tc, test_partition_moved_counts_clients_in_only_one);
    tcase_add_test(tc, test_client_range_parse_forms);
    tcase_add_test(tc, test_client_range_parse_errors);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(partition_suite)
