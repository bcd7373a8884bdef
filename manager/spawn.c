/* Starting children (instances, the balancer): the child-side setup shared
 * by the process and container runtimes; worker.c builds the commands. */
#include "spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
