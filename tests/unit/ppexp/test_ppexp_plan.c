/* Unit tests for ppexp/plan.c: the cross product of the factors, the skips
 * (route with processes; what `manager --features` does not list)
 * with their reasons, one baseline per stress x placement, and the seeded
 * per-replicate order: reproducible, a permutation, different per block;
 * the descriptors the plan's busiest process needs. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../../ppexp/plan.h"
#include "../../../ppexp/spec.h"
#include "../check_main.h"

static char err[512];

static void parse(const char *json, struct ppexp_spec *s)
{
    ck_assert_msg(ppexp_spec_parse(json, s, err, sizeof(err)) == 0, "%s", err);
}

/* What `manager --features` prints today (manager/features.c). */
static const char *FEATURES_ALL =
    "{\"program\": \"manager\", \"version\": \"0.1.0\", \"format\": 1,"
    " \"runtimes\": [\"process\", \"container\"],"
    " \"forwarding\": [\"none\", \"nat\", \"route\", \"balancer\"],"
    " \"forwarding_needs_container\": [\"route\"],"
    " \"workers\": [\"proxyd\", \"squid\", \"nginx\"],"
    " \"balancer_algos\": [\"p2c-ewma\"], \"max_replicas\": 32}";

static struct ppexp_caps caps_all(void)
{
    struct ppexp_caps caps;
    ck_assert_msg(ppexp_caps_from_features(FEATURES_ALL, &caps, err, sizeof(err)) == 0, "%s", err);
    return caps;
}

/* A manager from before --worker, with balancer forwarding. */
static struct ppexp_caps caps_no_worker(void)
{
    struct ppexp_caps caps;
    ppexp_caps_minimal(&caps);
    caps.forwarding |= 1u << PPEXP_FWD_BALANCER;
    return caps;
}

static const char *FIG2 = "{\"name\": \"f\", \"factors\": {\"forwarding\": [\"nat\", \"route\"],"
                          " \"runtime\": [\"process\", \"container\"], \"replicas\": [1, 2],"
                          " \"worker\": [\"proxyd\", \"squid\"]}}";

START_TEST(test_ppexp_plan_cross_product_with_skips)
{
    /* 2 forwarding x 2 runtime x 2 replicas x 2 workers = 16. The 4
     * route+process ones are skipped for that (whatever the worker), the 6
     * other squid ones for want of --worker; 6 proxyd ones run, plus 1
     * baseline: 7 to run, 10 skipped. */
    struct ppexp_spec s;
    parse(FIG2, &s);
    struct ppexp_caps caps = caps_no_worker();
    struct ppexp_plan p;
    ck_assert_int_eq(ppexp_plan_build(&s, &caps, &p, err, sizeof(err)), 0);
    ck_assert_uint_eq(p.nconfigs, 7);
    ck_assert_uint_eq(p.nskips, 10);
    size_t route_proc = 0, worker = 0;
    for (size_t i = 0; i < p.nskips; i++) {
        if (strstr(p.skips[i].reason, "route needs a container runtime"))
            route_proc++;
        if (!strcmp(p.skips[i].reason, "the manager has no --worker yet"))
            worker++;
    }
    ck_assert_uint_eq(route_proc, 4);
    ck_assert_uint_eq(worker, 6);
    ck_assert_int_eq(p.configs[6].baseline, 1);
    ck_assert_str_eq(p.configs[6].id, "direct-s0-split");
    ck_assert_str_eq(p.configs[0].id, "nat-r1-proxyd-process-cache-s0-split");
    for (size_t i = 0; i < 6; i++) {
        ck_assert_int_eq(p.configs[i].baseline, 0);
        ck_assert(!(p.configs[i].level[PPEXP_F_FORWARDING] == PPEXP_FWD_ROUTE &&
                    p.configs[i].level[PPEXP_F_RUNTIME] == PPEXP_RUNTIME_PROCESS));
    }
    ppexp_plan_release(&p);
}
END_TEST

START_TEST(test_ppexp_plan_workers_run_once_the_manager_has_worker)
{
    struct ppexp_spec s;
    parse(FIG2, &s);
    struct ppexp_caps caps = caps_all();
    ck_assert_int_eq(caps.has_worker, 1);
    ck_assert(caps.forwarding & 1u << PPEXP_FWD_BALANCER);
    struct ppexp_plan p;
    ck_assert_int_eq(ppexp_plan_build(&s, &caps, &p, err, sizeof(err)), 0);
    ck_assert_uint_eq(p.nconfigs, 13); /* 16 - 4 route+process + 1 baseline */
    ck_assert_uint_eq(p.nskips, 4);
    ppexp_plan_release(&p);
}
END_TEST

START_TEST(test_ppexp_caps_from_features_reads_the_lists)
{
    struct ppexp_caps caps;
    ck_assert_int_eq(ppexp_caps_from_features("{\"runtimes\": [\"container\", \"vm\"],"
                                              " \"forwarding\": [\"none\", \"nat\"],"
                                              " \"workers\": [\"proxyd\", \"nginx\"]}",
                                              &caps, err, sizeof(err)),
                     0);
    ck_assert_int_eq(caps.has_worker, 1);
    ck_assert_uint_eq(caps.runtimes, 1u << PPEXP_RUNTIME_CONTAINER); /* "vm" unknown: ignored */
    ck_assert_uint_eq(caps.forwarding, 1u << PPEXP_FWD_NAT);
    ck_assert_uint_eq(caps.workers, 1u << PPEXP_WORKER_PROXYD | 1u << PPEXP_WORKER_NGINX);
    ck_assert_uint_eq(caps.needs_container, 0);
}
END_TEST

START_TEST(test_ppexp_caps_from_features_rejects_what_is_no_features_object)
{
    struct ppexp_caps caps;
    const char *bad[] = {
        "",
        "Usage: manager [OPTION]...\n  --worker proxyd|squid|nginx\n", /* --help, not JSON */
        "[\"nat\"]",
        "{\"forwarding\": [\"nat\"], \"workers\": [\"proxyd\"]}", /* no runtimes */
        "{\"runtimes\": \"process\", \"forwarding\": [], \"workers\": []}",
        "{\"runtimes\": [1], \"forwarding\": [], \"workers\": []}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(ppexp_caps_from_features(bad[i], &caps, err, sizeof(err)) == -1,
                      "accepted: %s", bad[i]);
        ck_assert_ptr_nonnull(strstr(err, "manager features"));
    }
}
END_TEST

START_TEST(test_ppexp_plan_skips_what_the_features_lack)
{
    struct ppexp_spec s;
    parse(FIG2, &s);
    struct ppexp_caps caps;
    /* No route, no squid: route ones and squid ones are skipped by name. */
    ck_assert_int_eq(ppexp_caps_from_features("{\"runtimes\": [\"process\", \"container\"],"
                                              " \"forwarding\": [\"nat\"],"
                                              " \"workers\": [\"proxyd\"]}",
                                              &caps, err, sizeof(err)),
                     0);
    struct ppexp_plan p;
    ck_assert_int_eq(ppexp_plan_build(&s, &caps, &p, err, sizeof(err)), 0);
    size_t route = 0, squid = 0;
    for (size_t i = 0; i < p.nskips; i++) {
        route += !strcmp(p.skips[i].reason, "the manager has no route forwarding");
        squid += !strcmp(p.skips[i].reason, "the manager has no squid worker");
    }
    ck_assert_uint_eq(route, 8); /* route x 2 runtimes x 2 replicas x 2 workers */
    ck_assert_uint_eq(squid, 4); /* the nat ones */
    ck_assert_uint_eq(p.nconfigs, 4 + 1);
    ppexp_plan_release(&p);
}
END_TEST

START_TEST(test_ppexp_plan_baseline_per_stress_and_placement)
{
    struct ppexp_spec s;
    parse("{\"name\": \"b\", \"factors\": {\"stress\": [0, 12], \"placement\": [\"split\", "
          "\"shared\"]}}",
          &s);
    struct ppexp_caps caps = caps_all();
    struct ppexp_plan p;
    ck_assert_int_eq(ppexp_plan_build(&s, &caps, &p, err, sizeof(err)), 0);
    ck_assert_uint_eq(p.nconfigs, 4 + 4);
    ck_assert_str_eq(p.configs[7].id, "direct-s12-shared");
    ppexp_plan_release(&p);
    s.baseline = 0;
    ck_assert_int_eq(ppexp_plan_build(&s, &caps, &p, err, sizeof(err)), 0);
    ck_assert_uint_eq(p.nconfigs, 4);
    ppexp_plan_release(&p);
}
END_TEST

START_TEST(test_ppexp_plan_all_skipped_is_an_error)
{
    struct ppexp_spec s;
    parse("{\"name\": \"n\", \"baseline\": false, \"factors\": {\"worker\": [\"nginx\"]}}", &s);
    struct ppexp_caps caps = caps_no_worker();
    struct ppexp_plan p;
    ck_assert_int_eq(ppexp_plan_build(&s, &caps, &p, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "no --worker"));
}
END_TEST

START_TEST(test_ppexp_plan_order_is_seeded_permutation)
{
    struct ppexp_spec s;
    parse("{\"name\": \"o\", \"factors\": {\"forwarding\": [\"nat\", \"route\", \"balancer\"],"
          " \"replicas\": [1, 2, 4, 8, 16, 32]}}",
          &s);
    struct ppexp_caps caps = caps_all();
    struct ppexp_plan p;
    ck_assert_int_eq(ppexp_plan_build(&s, &caps, &p, err, sizeof(err)), 0);
    ck_assert_uint_eq(p.nconfigs, 19);
    size_t a[19], b[19], c[19];
    ppexp_plan_order(&p, 4, 1, a);
    ppexp_plan_order(&p, 4, 1, b);
    ck_assert_mem_eq(a, b, sizeof(a)); /* reproducible */
    int seen[19] = {0};
    for (size_t i = 0; i < 19; i++) {
        ck_assert_uint_lt(a[i], 19);
        seen[a[i]]++;
    }
    for (size_t i = 0; i < 19; i++)
        ck_assert_int_eq(seen[i], 1); /* a permutation: the baseline (18) in every block */
    ppexp_plan_order(&p, 4, 2, c);
    ck_assert(memcmp(a, c, sizeof(a)) != 0); /* another block, another order */
    ppexp_plan_order(&p, 5, 1, c);
    ck_assert(memcmp(a, c, sizeof(a)) != 0); /* another seed, another order */
    int identity = 1;
    for (size_t i = 0; i < 19; i++)
        identity &= a[i] == i;
    ck_assert(!identity);
    ppexp_plan_release(&p);
}
END_TEST

START_TEST(test_ppexp_plan_fd_need_names_the_busiest_process)
{
    struct ppexp_caps caps = caps_all();
    struct ppexp_plan p;
    struct ppexp_fd_need need;
    struct ppexp_spec s;
    /* Fig. 4's load: one instance holds 64 x 1000 requests, two sockets
     * each, plus 1024: 129024; at 20000, (20000 - 1024) / 128 = 148 each. */
    parse("{\"name\": \"f\", \"clients\": 64, \"concurrency\": 1000,"
          " \"factors\": {\"forwarding\": [\"nat\"], \"replicas\": [1, 4]}}",
          &s);
    ck_assert_int_eq(ppexp_plan_build(&s, &caps, &p, err, sizeof(err)), 0);
    ppexp_plan_fd_need(&s, &p, 20000, &need);
    ck_assert_uint_eq(need.needed, 129024);
    ck_assert_uint_eq(need.reachable, 148);
    ck_assert_msg(strstr(need.who, "the one proxy instance (64 clients x 1000") != NULL, "%s",
                  need.who);
    ppexp_plan_release(&p);
    /* At 4 replicas and more, loadgen is the busiest: 64 x 1001 + 64. */
    parse("{\"name\": \"f\", \"clients\": 64, \"concurrency\": 1000,"
          " \"factors\": {\"forwarding\": [\"nat\"], \"replicas\": [4, 8]}}",
          &s);
    ck_assert_int_eq(ppexp_plan_build(&s, &caps, &p, err, sizeof(err)), 0);
    ppexp_plan_fd_need(&s, &p, 1000000, &need);
    ck_assert_uint_eq(need.needed, 64 * 1001 + 64);
    ck_assert_msg(!strncmp(need.who, "loadgen (", 9), "%s", need.who);
    ppexp_plan_release(&p);
    /* The balancer holds every request at six descriptors. */
    parse("{\"name\": \"f\", \"clients\": 64, \"concurrency\": 1000,"
          " \"factors\": {\"forwarding\": [\"balancer\"], \"replicas\": [4]}}",
          &s);
    ck_assert_int_eq(ppexp_plan_build(&s, &caps, &p, err, sizeof(err)), 0);
    ppexp_plan_fd_need(&s, &p, 20000, &need);
    ck_assert_uint_eq(need.needed, 64 * 1000 * 6 + 1024);
    ck_assert_uint_eq(need.reachable, (20000 - 1024) / (64 * 6));
    ck_assert_msg(!strncmp(need.who, "the balancer", 12), "%s", need.who);
    ppexp_plan_release(&p);
    /* Instantiation sends no requests. */
    parse("{\"name\": \"f\", \"measure\": \"instantiate\", \"baseline\": false,"
          " \"clients\": 64,"
          " \"factors\": {\"replicas\": [1, 2]}}",
          &s);
    ck_assert_int_eq(ppexp_plan_build(&s, &caps, &p, err, sizeof(err)), 0);
    ppexp_plan_fd_need(&s, &p, 256, &need);
    ck_assert_uint_eq(need.needed, 0);
    ppexp_plan_release(&p);
}
END_TEST

static Suite *ppexp_plan_suite(void)
{
    Suite *s = suite_create("ppexp_plan");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ppexp_plan_cross_product_with_skips);
    tcase_add_test(tc, test_ppexp_plan_workers_run_once_the_manager_has_worker);
    tcase_add_test(tc, test_ppexp_caps_from_features_reads_the_lists);
    tcase_add_test(tc, test_ppexp_caps_from_features_rejects_what_is_no_features_object);
    tcase_add_test(tc, test_ppexp_plan_skips_what_the_features_lack);
    tcase_add_test(tc, test_ppexp_plan_baseline_per_stress_and_placement);
    tcase_add_test(tc, test_ppexp_plan_all_skipped_is_an_error);
    tcase_add_test(tc, test_ppexp_plan_order_is_seeded_permutation);
    tcase_add_test(tc, test_ppexp_plan_fd_need_names_the_busiest_process);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(ppexp_plan_suite)
