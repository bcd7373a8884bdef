/* Unit tests for manager/spawn.c: the exit of a process the manager adopted
 * (not its child, so no SIGCHLD names it) arrives through a pidfd, and a
 * watch that was dropped tells no one. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <event2/event.h>

#include "../../../manager/spawn.h"
#include "../check_main.h"

struct seen {
    int calls;
    pid_t pid;
    int status;
};

static void on_exit_cb(void *ctx, pid_t pid, int status)
{
    struct seen *s = ctx;
    s->calls++;
    s->pid = pid;
    s->status = status;
}

static pid_t start_sleeper(void)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        pause();
        _exit(0);
    }
    return pid;
}

/* Runs the loop for at most ms, or until s saw a call. */
static void run_loop(struct event_base *base, const struct seen *s, int ms)
{
    for (int i = 0; i < ms / 10 && s->calls == 0; i++) {
        struct timeval tv = {0, 10 * 1000};
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
}

START_TEST(test_spawn_adopted_exit_arrives_through_its_pidfd)
{
    struct event_base *base = event_base_new();
    char err[256];
    struct spawn_reaper *r = spawn_reaper_new(base, err, sizeof(err));
    ck_assert_msg(r != NULL, "%s", err);
    struct seen s = {0, 0, 0};
    pid_t pid = start_sleeper();
    ck_assert_int_eq(spawn_reaper_watch_adopted(r, pid, on_exit_cb, &s, err, sizeof(err)), 0);
    run_loop(base, &s, 50);
    ck_assert_int_eq(s.calls, 0); /* still running: nothing to tell */
    kill(pid, SIGKILL);
    run_loop(base, &s, 2000);
    ck_assert_int_eq(s.calls, 1);
    ck_assert_int_eq(s.pid, pid);
    ck_assert_int_eq(s.status, SPAWN_STATUS_UNKNOWN);
    spawn_reaper_free(r);
    event_base_free(base);
}
END_TEST

START_TEST(test_spawn_forgotten_adopted_exit_tells_no_one)
{
    struct event_base *base = event_base_new();
    char err[256];
    struct spawn_reaper *r = spawn_reaper_new(base, err, sizeof(err));
    ck_assert_msg(r != NULL, "%s", err);
    struct seen s = {0, 0, 0};
    pid_t pid = start_sleeper();
    ck_assert_int_eq(spawn_reaper_watch_adopted(r, pid, on_exit_cb, &s, err, sizeof(err)), 0);
    spawn_reaper_forget(r, pid);
    kill(pid, SIGKILL);
    run_loop(base, &s, 200);
    ck_assert_int_eq(s.calls, 0);
    spawn_reaper_free(r);
    event_base_free(base);
}
END_TEST

START_TEST(test_spawn_adopting_a_gone_pid_fails)
{
    struct event_base *base = event_base_new();
    char err[256] = "";
    struct spawn_reaper *r = spawn_reaper_new(base, err, sizeof(err));
    pid_t pid = start_sleeper();
    kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    struct seen s = {0, 0, 0};
    ck_assert_int_eq(spawn_reaper_watch_adopted(r, pid, on_exit_cb, &s, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "pidfd_open") != NULL, "%s", err);
    spawn_reaper_free(r);
    event_base_free(base);
}
END_TEST

START_TEST(test_spawn_describes_an_unknown_status)
{
    char how[96];
    spawn_describe_status(SPAWN_STATUS_UNKNOWN, how, sizeof(how));
    ck_assert_msg(strstr(how, "adopted") != NULL, "%s", how);
    spawn_describe_status(W_EXITCODE(3, 0), how, sizeof(how));
    ck_assert_str_eq(how, "exit status 3");
}
END_TEST

static Suite *spawn_suite(void)
{
    Suite *s = suite_create("spawn");
    TCase *tc = tcase_create("spawn");
    tcase_add_test(tc, test_spawn_adopted_exit_arrives_through_its_pidfd);
    tcase_add_test(tc, test_spawn_forgotten_adopted_exit_tells_no_one);
    tcase_add_test(tc, test_spawn_adopting_a_gone_pid_fails);
    tcase_add_test(tc, test_spawn_describes_an_unknown_status);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(spawn_suite)
