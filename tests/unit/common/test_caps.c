/* Unit tests for common/caps.c: a process cut to a list holds exactly that
 * list in its effective, permitted and bounding sets (as the kernel reports
 * them in /proc/self/status), nothing inheritable, and cut to nothing holds
 * nothing. Needs root (CAP_SETPCAP); fork mode keeps each cut inside its own
 * test process. */
#include <check.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../../common/caps.h"
#include "../check_main.h"

/* A "CapXxx:" line of /proc/self/status as a mask. */
static uint64_t status_mask(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    uint64_t mask = UINT64_MAX;
    size_t len = strlen(field);
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, len) == 0 && line[len] == ':')
            sscanf(line + len + 1, "%" SCNx64, &mask);
    fclose(f);
    ck_assert_msg(mask != UINT64_MAX, "no %s line", field);
    return mask;
}

START_TEST(test_caps_limit_keeps_exactly_the_list)
{
    ck_assert_msg(geteuid() == 0, "needs root: run the unit tests as root (make check)");
    /* What is kept is the list as far as the process held it (root in a
     * container may lack some, e.g. CAP_SYS_RESOURCE on this testbed). */
    const int keep[] = {CAP_KILL, CAP_NET_ADMIN, CAP_SYS_RESOURCE, CAP_SETPCAP};
    const uint64_t list = (1ULL << CAP_KILL) | (1ULL << CAP_NET_ADMIN) |
                          (1ULL << CAP_SYS_RESOURCE) | (1ULL << CAP_SETPCAP);
    uint64_t eff, perm, inh;
    ck_assert_int_eq(caps_get(&eff, &perm, &inh), 0);
    const uint64_t want = list & perm, bounding = list & status_mask("CapBnd");
    ck_assert_msg(want & (1ULL << CAP_KILL), "root without CAP_KILL: nothing to test");
    char err[160] = "";
    ck_assert_msg(caps_limit_to(keep, 4, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(caps_get(&eff, &perm, &inh), 0);
    ck_assert_uint_eq(eff, want);
    ck_assert_uint_eq(perm, want);
    ck_assert_uint_eq(inh, 0);
    ck_assert_uint_eq(status_mask("CapBnd"), bounding);
    ck_assert_uint_eq(status_mask("CapEff"), want);
    ck_assert_uint_eq(status_mask("CapAmb"), 0);
    /* A capability that left cannot come back (CAP_SETPCAP, kept, lets the
     * bounding set shrink again). */
    ck_assert_int_eq(caps_limit_to((const int[]){CAP_KILL, CAP_SYS_ADMIN}, 2, err, sizeof(err)), 0);
    ck_assert_uint_eq(status_mask("CapEff"), 1ULL << CAP_KILL);
    ck_assert_uint_eq(status_mask("CapBnd"), 1ULL << CAP_KILL);
}
END_TEST

START_TEST(test_caps_limit_to_nothing_leaves_nothing)
{
    ck_assert_msg(geteuid() == 0, "needs root: run the unit tests as root (make check)");
    char err[160] = "";
    ck_assert_msg(caps_limit_to(NULL, 0, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(status_mask("CapEff"), 0);
    ck_assert_uint_eq(status_mask("CapPrm"), 0);
    ck_assert_uint_eq(status_mask("CapBnd"), 0);
    /* Without CAP_SETPCAP the bounding set can no longer be changed. */
    ck_assert_int_eq(caps_bound_to(NULL, 0, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "bounding set") != NULL, "%s", err);
}
END_TEST

static Suite *caps_suite(void)
{
    Suite *s = suite_create("caps");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_caps_limit_keeps_exactly_the_list);
    tcase_add_test(tc, test_caps_limit_to_nothing_leaves_nothing);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(caps_suite)
