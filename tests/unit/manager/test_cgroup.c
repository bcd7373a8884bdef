/* Unit tests for manager/cgroup.c's reading of mount tables: the sysfs on
 * /sys and its source (what `ip netns exec NAME` leaves: a sysfs named NAME,
 * no cgroup mount below), cgroup and cgroup2 mounts counted at or under the
 * root only, optional fields skipped; and a tree root without a hierarchy
 * failing with what it did not find. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../manager/runtime/cgroup.h"
#include "../check_main.h"

/* A v1 host as Debian mounts it (shortened), systemd's shared: tags included. */
static const char *HOST_V1 =
    "22 27 0:21 / /proc rw,relatime shared:5 - proc proc rw\n"
    "23 27 0:22 / /sys rw,relatime shared:6 - sysfs sysfs rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime shared:7 - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime shared:8 - cgroup cgroup rw,cpu\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw\n"
    "50 27 0:40 / /sys/fs/cgroupx rw,relatime - cgroup cgroup rw,pids\n";

START_TEST(test_cgroup_mountinfo_counts_hierarchies_under_the_root)
{
    struct cgroup_mounts m;
    cgroup_mountinfo_scan(HOST_V1, "/sys/fs/cgroup", &m);
    ck_assert_int_eq(m.sysfs_at_sys, 1);
    ck_assert_str_eq(m.sysfs_source, "sysfs");
    ck_assert_int_eq(m.cgroups_under_root, 3); /* not /sys/fs/cgroupx */
    cgroup_mountinfo_scan(HOST_V1, "/sys/fs/cgroup/memory", &m);
    ck_assert_int_eq(m.cgroups_under_root, 1);
    cgroup_mountinfo_scan("30 23 0:26 / /sys/fs/cgroup rw,nosuid master:4 - cgroup2 cgroup2 rw\n",
                          "/sys/fs/cgroup", &m);
    ck_assert_int_eq(m.cgroups_under_root, 1);
    ck_assert_int_eq(m.sysfs_at_sys, 0);
}
END_TEST

START_TEST(test_cgroup_mountinfo_sees_the_sysfs_of_ip_netns_exec)
{
    /* What a process under `ip netns exec pp-mid` reads: the host's /sys
     * detached with its cgroups, a sysfs whose source is the namespace. */
    const char *text = "22 27 0:21 / /proc rw,relatime master:5 - proc proc rw\n"
                       "48 45 0:39 / /sys rw,relatime - sysfs pp-mid rw";
    struct cgroup_mounts m;
    cgroup_mountinfo_scan(text, "/sys/fs/cgroup", &m);
    ck_assert_int_eq(m.sysfs_at_sys, 1);
    ck_assert_str_eq(m.sysfs_source, "pp-mid");
    ck_assert_int_eq(m.cgroups_under_root, 0);
    /* A sysfs mounted over the first: the one on top is read. */
    const char *stacked = "23 27 0:22 / /sys rw - sysfs sysfs rw\n"
                          "60 23 0:45 / /sys rw - sysfs pp-c1 rw\n";
    cgroup_mountinfo_scan(stacked, "/sys/fs/cgroup", &m);
    ck_assert_str_eq(m.sysfs_source, "pp-c1");
}
END_TEST

START_TEST(test_cgroup_mountinfo_ignores_malformed_lines)
{
    struct cgroup_mounts m;
    cgroup_mountinfo_scan("", "/sys/fs/cgroup", &m);
    ck_assert_int_eq(m.sysfs_at_sys + m.cgroups_under_root, 0);
    cgroup_mountinfo_scan("garbage\n- cgroup\n1 2 3 4 /sys/fs/cgroup/cpu\n- x - cgroup c\n",
                          "/sys/fs/cgroup", &m);
    ck_assert_int_eq(m.sysfs_at_sys + m.cgroups_under_root, 0);
}
END_TEST

START_TEST(test_cgroup_tree_without_hierarchy_says_what_is_missing)
{
    char root[] = "/tmp/pp-cgroup-test.XXXXXX", err[512] = "";
    ck_assert_ptr_nonnull(mkdtemp(root));
    struct cgroup_tree t;
    ck_assert_int_eq(cgroup_tree_init(&t, root, "pp", err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "no cgroup v2") && strstr(err, "nor v1 cpu hierarchy"), "%s", err);
    /* Not under /sys: no word about nsenter. */
    ck_assert_msg(strstr(err, "nsenter") == NULL, "%s", err);
    rmdir(root);
}
END_TEST

static Suite *cgroup_suite(void)
{
    Suite *s = suite_create("cgroup");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_cgroup_mountinfo_counts_hierarchies_under_the_root);
    tcase_add_test(tc, test_cgroup_mountinfo_sees_the_sysfs_of_ip_netns_exec);
    tcase_add_test(tc, test_cgroup_mountinfo_ignores_malformed_lines);
    tcase_add_test(tc, test_cgroup_tree_without_hierarchy_says_what_is_missing);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(cgroup_suite)
