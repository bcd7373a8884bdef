/* Unit tests for manager/statedir.c: the state directory's checks (owner,
 * mode, planted symlinks) and pid files that name their process by pid and
 * start time. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../../../manager/statedir.h"
#include "../check_main.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/test_statedir.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_statedir_creates_it_0700)
{
    char path[128], err[512];
    snprintf(path, sizeof(path), "%s/a/b", dir);
    int fd = statedir_open(path, err, sizeof(err));
    ck_assert_msg(fd >= 0, "%s", err);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0700);
    close(fd);
}
END_TEST

/* One holder at a time, whoever asks (flock is per open file, so a second
 * open in this process is refused as another process would be); the refusal
 * names the holder's pid; closing the holder's descriptor frees the lock,
 * and a lock file planted as a symlink is not followed. */
START_TEST(test_statedir_lock_is_exclusive_and_names_its_holder)
{
    char path[128], err[512];
    snprintf(path, sizeof(path), "%s/s", dir);
    int dfd = statedir_open(path, err, sizeof(err));
    ck_assert_msg(dfd >= 0, "%s", err);
    pid_t holder = -1;
    int first = statedir_lock(dfd, "manager.lock", &holder, err, sizeof(err));
    ck_assert_msg(first >= 0, "%s", err);
    ck_assert_int_eq(holder, 0);
    ck_assert_int_lt(statedir_lock(dfd, "manager.lock", &holder, err, sizeof(err)), 0);
    ck_assert_int_eq(holder, getpid());
    char want[64];
    snprintf(want, sizeof(want), "held by pid %d", (int)getpid());
    ck_assert_msg(strstr(err, want) != NULL, "%s", err);
    close(first);
    int again = statedir_lock(dfd, "manager.lock", &holder, err, sizeof(err));
    ck_assert_msg(again >= 0, "%s", err);
    close(again);
    char target[160], link[160];
    snprintf(target, sizeof(target), "%s/elsewhere", dir);
    snprintf(link, sizeof(link), "%s/planted.lock", path);
    ck_assert_int_eq(symlink(target, link), 0);
    ck_assert_int_lt(statedir_lock(dfd, "planted.lock", NULL, err, sizeof(err)), 0);
    ck_assert_int_ne(access(target, F_OK), 0);
    close(dfd);
}
END_TEST

START_TEST(test_statedir_refuses_group_writable)
{
    char err[512];
    ck_assert_int_eq(chmod(dir, 0770), 0);
    ck_assert_int_eq(statedir_open(dir, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "has mode 0770") != NULL, "%s", err);
}
END_TEST

START_TEST(test_statedir_refuses_a_planted_symlink)
{
    char path[128], err[512];
    snprintf(path, sizeof(path), "%s/pp1.pid", dir);
    ck_assert_int_eq(symlink("/etc/shadow", path), 0);
    ck_assert_int_eq(statedir_open(dir, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "holds a symlink, pp1.pid") != NULL, "%s", err);
}
END_TEST

START_TEST(test_statedir_refuses_itself_a_symlink)
{
    char path[128], err[512];
    snprintf(path, sizeof(path), "%s/link", dir);
    ck_assert_int_eq(symlink(dir, path), 0);
    ck_assert_int_eq(statedir_open(path, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "a symlink or not a directory") != NULL, "%s", err);
}
END_TEST

START_TEST(test_statedir_pidfile_names_its_process_by_start_time)
{
    char err[512], why[160];
    int dfd = statedir_open(dir, err, sizeof(err));
    ck_assert_msg(dfd >= 0, "%s", err);
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    ck_assert_int_eq(statedir_pidfile_write(dfd, "c.pid", child, err, sizeof(err)), 0);
    pid_t pid = 0;
    ck_assert_int_eq(statedir_pidfile_check(dfd, "c.pid", &pid, why, sizeof(why)), 1);
    ck_assert_int_eq(pid, child);

    /* The same pid with another start time: not ours. */
    unsigned long long start;
    ck_assert_int_eq(statedir_start_time(child, &start), 0);
    int fd = statedir_openat(dfd, "c.pid", O_WRONLY | O_TRUNC, 0);
    dprintf(fd, "%d %llu\n", (int)child, start + 1);
    close(fd);
    ck_assert_int_eq(statedir_pidfile_check(dfd, "c.pid", &pid, why, sizeof(why)), 0);
    ck_assert_msg(strstr(why, "another process") != NULL, "%s", why);
    /* A pid alone (an older manager's file, or a planted one): not ours. */
    fd = statedir_openat(dfd, "c.pid", O_WRONLY | O_TRUNC, 0);
    dprintf(fd, "%d\n", (int)child);
    close(fd);
    ck_assert_int_eq(statedir_pidfile_check(dfd, "c.pid", &pid, why, sizeof(why)), 0);
    ck_assert_msg(strstr(why, "without a start time") != NULL, "%s", why);
    ck_assert_int_eq(statedir_pidfile_check(dfd, "none.pid", &pid, why, sizeof(why)), -1);

    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    ck_assert_int_eq(statedir_pidfile_write(dfd, "c.pid", getpid(), err, sizeof(err)), 0);
    close(dfd);
}
END_TEST

START_TEST(test_statedir_pidfile_write_replaces_a_symlink_not_its_target)
{
    char err[512], target[128], link[128];
    int dfd = statedir_open(dir, err, sizeof(err));
    ck_assert_msg(dfd >= 0, "%s", err);
    snprintf(target, sizeof(target), "%s/victim", dir);
    FILE *f = fopen(target, "w");
    fputs("precious\n", f);
    fclose(f);
    snprintf(link, sizeof(link), "%s/x.pid", dir);
    ck_assert_int_eq(symlink("victim", link), 0);
    ck_assert_int_eq(statedir_pidfile_write(dfd, "x.pid", getpid(), err, sizeof(err)), 0);
    struct stat st;
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(stat(target, &st), 0);
    ck_assert_int_eq(st.st_size, 9);
    close(dfd);
}
END_TEST

static Suite *statedir_suite(void)
{
    Suite *s = suite_create("statedir");
    TCase *tc = tcase_create("statedir");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_statedir_creates_it_0700);
    tcase_add_test(tc, test_statedir_refuses_group_writable);
    tcase_add_test(tc, test_statedir_refuses_a_planted_symlink);
    tcase_add_test(tc, test_statedir_refuses_itself_a_symlink);
    tcase_add_test(tc, test_statedir_pidfile_names_its_process_by_start_time);
    tcase_add_test(tc, test_statedir_pidfile_write_replaces_a_symlink_not_its_target);
    tcase_add_test(tc, test_statedir_lock_is_exclusive_and_names_its_holder);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(statedir_suite)
