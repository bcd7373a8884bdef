/* fork/exec with setns and cgroup entry done in the child before exec, so
 * the program starts where it belongs and everything it forks stays there. */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double ppexp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void ppexp_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        break; /* a signal: let the caller look at its flag */
}

static void child_fail(const char *what)
{
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "ppexp child: %s: %s\n", what, strerror(errno));
    if (n > 0 && write(2, msg, (size_t)n) < 0)
        _exit(127);
    _exit(127);
}

pid_t ppexp_child_spawn(char *const argv[], const struct ppexp_child_opts *o, char *err,
                        size_t errlen)
{
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork for %s: %s", argv[0], strerror(errno));
        return -1;
    }
    if (pid > 0) {
        setpgid(pid, pid); /* also in the child: whichever runs first */
        return pid;
    }
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    if (o) {
        char me[24];
        snprintf(me, sizeof(me), "%d", (int)getpid());
        for (size_t i = 0; i < o->ncgroups; i++) {
            int fd = open(o->cgroup_procs[i], O_WRONLY);
            if (fd < 0 || write(fd, me, strlen(me)) < 0)
                child_fail(o->cgroup_procs[i]);
            close(fd);
        }
        if (o->netns) {
            int fd = open(o->netns, O_RDONLY | O_CLOEXEC);
            if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
                child_fail(o->netns);
            close(fd);
        }
        if (o->log) {
            int fd = open(o->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd < 0)
                child_fail(o->log);
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, 0);
        close(devnull);
    }
    execv(argv[0], argv);
    child_fail(argv[0]);
    return -1;
}

int ppexp_child_poll(pid_t pid, int *status)
{
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) {
        if (status)
            *status = r == pid ? st : -1;
        return 1;
    }
    return 0;
}

int ppexp_child_stop(pid_t pid, int sig, int timeout_ms)
{
    int st = -1;
    if (pid <= 0)
        return -1;
    if (ppexp_child_poll(pid, &st))
        return st;
    kill(-pid, sig);
    kill(pid, sig);
    double deadline = ppexp_now_ms() + timeout_ms;
    while (ppexp_now_ms() < deadline) {
        if (ppexp_child_poll(pid, &st))
            return st;
        ppexp_sleep_ms(20);
    }
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return st;
}

int ppexp_child_capture(char *const argv[], char *out, size_t outlen, int timeout_ms)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        dup2(fds[1], 1);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid);
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    size_t got = 0;
    double deadline = ppexp_now_ms() + timeout_ms;
    int st = -1, done = 0;
    while (!done) {
        char buf[4096];
        ssize_t n = read(fds[0], buf, sizeof(buf));
        if (n > 0) {
            size_t keep = got + 1 < outlen ? outlen - 1 - got : 0;
            if ((size_t)n < keep)
                keep = (size_t)n;
            memcpy(out + got, buf, keep);
            got += keep;
            continue;
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            waitpid(pid, &st, 0);
            done = 1;
            break;
        }
        if (ppexp_now_ms() > deadline) {
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
            st = -1;
            break;
        }
        ppexp_sleep_ms(10);
    }
    close(fds[0]);
    if (outlen)
        out[got < outlen ? got : outlen - 1] = '\0';
    if (st == -1)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The end of a child's log on one line, for an error message that says why. */
void ppexp_child_log_tail(const char *path, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > (long)len - 1 ? size - (long)len + 1 : 0;
    fseek(f, from, SEEK_SET);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    for (char *p = out; *p; p++)
        if (*p == '\n')
            *p = ' ';
    fclose(f);
}
