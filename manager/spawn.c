/* Supervising children (instances, the balancer): the child-side setup,
 * liveness, group kill, restart backoff and leftover reclaim that the pool
 * and the balancer's forwarding mode both use; worker.c builds the commands. */
#include "spawn.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "log.h"
#include "statedir.h"

/* Children watched at once: the pool's 32 instances, the balancer, and
 * room for a balancer of a switch still stopping. */
#define SPAWN_MAX_WATCHED 48

/* A SIGKILLed leftover (not our child: we cannot reap it) is waited for at
 * most this long at start; it is gone in milliseconds unless the kernel is
 * stuck on it, and then waiting longer would not help. */
#define SPAWN_LEFTOVER_WAIT_MS 1000

/* The log in the state dir, opened relative to the directory and without
 * following a symlink at either (statedir.h: the manager runs as root). */
static int open_log(const char *log_path)
{
    const char *slash = strrchr(log_path, '/');
    char dir[1024];
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", slash == log_path ? 1 : (int)(slash - log_path),
                 log_path);
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dirfd < 0)
        return -1;
    int fd = openat(dirfd, slash != NULL ? slash + 1 : log_path,
                    O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0640);
    close(dirfd);
    return fd;
}

void spawn_child_prepare(const char *log_path)
{
    setsid();
    /* The manager ignores or handles these; the child starts clean. */
    signal(SIGPIPE, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int fd = open_log(log_path);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0)
        dup2(null, 0);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    /* Close everything else the manager had open (listeners, netlink). */
    close_range(3, ~0u, 0);
}

int spawn_gate_new(int gate[2], char *err, size_t errlen)
{
    if (pipe2(gate, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void spawn_gate_wait(int gate[2])
{
    char go = 0;
    close(gate[1]);
    ssize_t n;
    while ((n = read(gate[0], &go, 1)) < 0 && errno == EINTR)
        ;
    if (n != 1)
        _exit(0); /* the manager died before it recorded us: run nothing */
    close(gate[0]);
}

void spawn_gate_keep(int gate[2], int *release_fd)
{
    close(gate[0]);
    *release_fd = gate[1];
}

void spawn_gate_release(int *fd)
{
    if (*fd < 0)
        return;
    char go = 'g';
    if (write(*fd, &go, 1) != 1)
        log_warn("spawn: cannot let a child go: %s (it exits)", strerror(errno));
    close(*fd);
    *fd = -1;
}

int spawn_process_alive(int pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')'); /* the state follows "(comm)" */
    return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

void spawn_kill_group(pid_t pid)
{
    if (pid <= 0)
        return;
    if (getpgid(pid) != pid || kill(-pid, SIGKILL) < 0)
        kill(pid, SIGKILL);
}

int64_t spawn_backoff_ms(unsigned crash_streak)
{
    int64_t ms = SPAWN_BACKOFF_FIRST_MS;
    for (unsigned i = 1; i < crash_streak && ms < SPAWN_BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms > SPAWN_BACKOFF_MAX_MS ? SPAWN_BACKOFF_MAX_MS : ms;
}

void spawn_describe_status(int status, char *out, size_t outlen)
{
    if (status == SPAWN_STATUS_UNKNOWN)
        snprintf(out, outlen, "exited; adopted or a container's init: status unknown");
    else if (WIFEXITED(status))
        snprintf(out, outlen, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, outlen, "signal %d", WTERMSIG(status));
    else
        snprintf(out, outlen, "status %d", status);
}

/* Waits until pid (not our child) is gone: its pidfd turns readable when
 * it exits. Without pidfds (old kernel), one look. */
static void wait_gone(pid_t pid, int timeout_ms)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (poll(&pfd, 1, timeout_ms) < 0 && errno == EINTR)
        ;
    close(fd);
}

void spawn_reclaim_leftover(int dirfd, const char *pidfile, int (*exe_matches)(const char *base),
                            const char *who)
{
    pid_t pid = 0;
    char why[160];
    int ours = statedir_pidfile_check(dirfd, pidfile, &pid, why, sizeof(why));
    if (ours < 0)
        return; /* no such file */
    if (ours == 0 && pid > 1 && spawn_process_alive(pid))
        log_warn("%s: not stopping pid %d named by %s: %s", who, (int)pid, pidfile, why);
    char exe[64], target[1024];
    snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
    ssize_t tl = ours == 1 ? readlink(exe, target, sizeof(target) - 1) : -1;
    if (tl > 0) {
        target[tl] = '\0';
        const char *base = strrchr(target, '/');
        base = base ? base + 1 : target;
        if (exe_matches(base)) {
            log_info("%s: stopping %s pid %d left by an earlier run (%s)", who, base, (int)pid,
                     pidfile);
            spawn_kill_group(pid);
            wait_gone(pid, SPAWN_LEFTOVER_WAIT_MS);
        }
    }
    unlinkat(dirfd, pidfile, 0);
}

struct spawn_watch {
    pid_t pid; /* 0: free */
    spawn_exit_cb cb;
    void *ctx;
    struct event *pidfd_ev; /* an adopted process (not our child): its pidfd */
};

struct spawn_reaper {
    struct event_base *base;
    struct event *sigchld;
    struct spawn_watch watched[SPAWN_MAX_WATCHED];
};

static void reaper_sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
    struct spawn_reaper *r = arg;
    (void)sig;
    (void)what;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct spawn_watch w = {0, NULL, NULL, NULL};
        for (size_t i = 0; i < SPAWN_MAX_WATCHED; i++) {
            if (r->watched[i].pid == pid && !r->watched[i].pidfd_ev) {
                w = r->watched[i];
                r->watched[i].pid = 0; /* the number may be reused from now on */
                break;
            }
        }
        if (w.cb)
            w.cb(w.ctx, pid, status);
        else
            log_debug("spawn: reaped pid %d, watched by no one", (int)pid);
    }
}

struct spawn_reaper *spawn_reaper_new(struct event_base *base, char *err, size_t errlen)
{
    struct spawn_reaper *r = calloc(1, sizeof(*r));
    if (r) {
        r->base = base;
        r->sigchld = evsignal_new(base, SIGCHLD, reaper_sigchld_cb, r);
    }
    if (!r || !r->sigchld || evsignal_add(r->sigchld, NULL) < 0) {
        snprintf(err, errlen, "cannot watch SIGCHLD (out of memory)");
        spawn_reaper_free(r);
        return NULL;
    }
    return r;
}

void spawn_reaper_free(struct spawn_reaper *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < SPAWN_MAX_WATCHED; i++)
        if (r->watched[i].pid != 0)
            spawn_reaper_forget(r, r->watched[i].pid);
    if (r->sigchld)
        event_free(r->sigchld);
    free(r);
}

int spawn_reaper_watch(struct spawn_reaper *r, pid_t pid, spawn_exit_cb cb, void *ctx)
{
    for (size_t i = 0; i < SPAWN_MAX_WATCHED; i++) {
        if (r->watched[i].pid == 0) {
            r->watched[i] = (struct spawn_watch){pid, cb, ctx, NULL};
            return 0;
        }
    }
    log_error("spawn: more than %d children to watch; pid %d goes unwatched", SPAWN_MAX_WATCHED,
              (int)pid);
    return -1;
}

/* Frees slot w's pidfd and its event, if it has them. */
static void watch_drop_pidfd(struct spawn_watch *w)
{
    if (!w->pidfd_ev)
        return;
    close(event_get_fd(w->pidfd_ev));
    event_free(w->pidfd_ev);
    w->pidfd_ev = NULL;
}

void spawn_reaper_forget(struct spawn_reaper *r, pid_t pid)
{
    for (size_t i = 0; i < SPAWN_MAX_WATCHED; i++) {
        if (r->watched[i].pid == pid) {
            watch_drop_pidfd(&r->watched[i]);
            r->watched[i].pid = 0;
        }
    }
}

/* An adopted process ended: its pidfd turned readable. Its parent (init,
 * or a subreaper) reaps it, so how it ended is not ours to read. */
static void reaper_pidfd_cb(evutil_socket_t fd, short what, void *arg)
{
    struct spawn_watch *w = arg;
    (void)fd;
    (void)what;
    struct spawn_watch copy = *w;
    watch_drop_pidfd(w);
    w->pid = 0;
    if (copy.cb)
        copy.cb(copy.ctx, copy.pid, SPAWN_STATUS_UNKNOWN);
}

int spawn_reaper_watch_adopted(struct spawn_reaper *r, pid_t pid, spawn_exit_cb cb, void *ctx,
                               char *err, size_t errlen)
{
    struct spawn_watch *w = NULL;
    for (size_t i = 0; i < SPAWN_MAX_WATCHED && !w; i++)
        if (r->watched[i].pid == 0)
            w = &r->watched[i];
    if (!w) {
        snprintf(err, errlen, "more than %d processes to watch", SPAWN_MAX_WATCHED);
        return -1;
    }
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) {
        snprintf(err, errlen, "pidfd_open of pid %d: %s", (int)pid, strerror(errno));
        return -1;
    }
    *w = (struct spawn_watch){pid, cb, ctx, NULL};
    w->pidfd_ev = event_new(r->base, fd, EV_READ, reaper_pidfd_cb, w);
    if (!w->pidfd_ev || event_add(w->pidfd_ev, NULL) < 0) {
        if (w->pidfd_ev)
            event_free(w->pidfd_ev);
        close(fd);
        *w = (struct spawn_watch){0, NULL, NULL, NULL};
        snprintf(err, errlen, "cannot watch the pidfd of pid %d (out of memory)", (int)pid);
        return -1;
    }
    return 0;
}
