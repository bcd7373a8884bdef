/* The state directory's checks, files and pid files (see statedir.h).
 * Control path: main.c checks it once at start; pool.c, fwd_balancer.c and
 * api.c each hold it open while they write their files. */
#include "statedir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

/* "PID STARTTIME\n": two 20-digit numbers at most. */
#define STATEDIR_PIDFILE_MAX 64

/* Missing parents of path, 0755 as any directory under /run; the last
 * component is not made here. */
static void make_parents(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *q = tmp + 1; *q; q++) {
        if (*q == '/') {
            *q = '\0';
            mkdir(tmp, 0755);
            *q = '/';
        }
    }
}

/* No symlink among the directory's entries: none of ours is one, so one
 * there was planted, and refusing to start says so louder than skipping it. */
static int check_no_symlink(int dirfd, const char *path, char *err, size_t errlen)
{
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        snprintf(err, errlen, "cannot list state dir %s: %s", path, strerror(errno));
        return -1;
    }
    rewinddir(d);
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
            snprintf(err, errlen,
                     "state dir %s holds a symlink, %s: refused (the manager never makes one; "
                     "remove it, and ask who could write there)",
                     path, e->d_name);
            rc = -1;
            break;
        }
    }
    closedir(d);
    return rc;
}

int statedir_open(const char *path, char *err, size_t errlen)
{
    make_parents(path);
    if (mkdir(path, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create state dir %s: %s", path, strerror(errno));
        return -1;
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open state dir %s: %s%s", path, strerror(errno),
                 errno == ELOOP || errno == ENOTDIR ? " (a symlink or not a directory: refused)"
                                                    : "");
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "cannot stat state dir %s: %s", path, strerror(errno));
        goto fail;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errlen,
                 "state dir %s is owned by uid %u, not by the manager's uid %u: its owner could "
                 "plant symlinks the manager would write through; refused",
                 path, (unsigned)st.st_uid, (unsigned)geteuid());
        goto fail;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        snprintf(err, errlen,
                 "state dir %s has mode %04o: group or others may write in it (and plant "
                 "symlinks); refused (chmod 700 %s)",
                 path, (unsigned)(st.st_mode & 07777), path);
        goto fail;
    }
    if (check_no_symlink(fd, path, err, errlen) < 0)
        goto fail;
    return fd;
fail:
    close(fd);
    return -1;
}

int statedir_openat(int dirfd, const char *name, int flags, mode_t mode)
{
    return openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
}

/* The pid recorded in a lock file, 0 when there is none. */
static pid_t lock_holder(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    long pid = strtol(buf, NULL, 10);
    return pid > 0 ? (pid_t)pid : 0;
}

int statedir_lock(int dirfd, const char *name, pid_t *holder, char *err, size_t errlen)
{
    if (holder)
        *holder = 0;
    int fd = statedir_openat(dirfd, name, O_RDWR | O_CREAT, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open lock file %s: %s", name, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            pid_t pid = lock_holder(fd);
            if (holder)
                *holder = pid;
            snprintf(err, errlen, "%s is held by pid %d", name, (int)pid);
        } else {
            snprintf(err, errlen, "cannot lock %s: %s", name, strerror(e));
        }
        close(fd);
        return -1;
    }
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        snprintf(err, errlen, "cannot write lock file %s: %s", name, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int statedir_lock_manager(int state_dirfd, const char *state_dir, const char *prefix, int locks[2],
                          char *err, size_t errlen)
{
    char why[160];
    pid_t holder;
    locks[0] = statedir_lock(state_dirfd, "manager.lock", &holder, why, sizeof(why));
    if (locks[0] < 0) {
        if (holder > 0)
            snprintf(err, errlen,
                     "state dir %s is in use by manager pid %d: refusing to start over it "
                     "(it would take that manager's instances for leftovers); stop it first "
                     "or give another --state-dir",
                     state_dir, (int)holder);
        else
            snprintf(err, errlen, "state dir %s: %s", state_dir, why);
        return -1;
    }
    int dirfd = statedir_open(STATEDIR_PREFIX_LOCK_DIR, why, sizeof(why));
    char name[128];
    snprintf(name, sizeof(name), "%s.lock", prefix);
    locks[1] = dirfd < 0 ? -1 : statedir_lock(dirfd, name, &holder, why, sizeof(why));
    if (dirfd >= 0)
        close(dirfd);
    if (locks[1] < 0) {
        if (dirfd >= 0 && holder > 0)
            snprintf(err, errlen,
                     "prefix %s (its iptables chains, links and cgroups) is in use by manager "
                     "pid %d with another state dir: refusing to start; give another --prefix",
                     prefix, (int)holder);
        else
            snprintf(err, errlen, "prefix lock: %s", why);
        close(locks[0]);
        return -1;
    }
    return 0;
}

int statedir_start_time(pid_t pid, unsigned long long *ticks)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: fields are counted
     * from the last ')', which ends it. Field 3 (state) follows it. */
    const char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    p++;
    for (int field = 3; field <= 22; field++) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            return -1;
        if (field == 22) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(p, &end, 10);
            if (errno != 0 || end == p)
                return -1;
            *ticks = v;
            return 0;
        }
        p += strcspn(p, " ");
    }
    return -1;
}

int statedir_pidfile_write(int dirfd, const char *name, pid_t pid, char *err, size_t errlen)
{
    unsigned long long start;
    if (statedir_start_time(pid, &start) < 0) {
        snprintf(err, errlen, "pid file %s: cannot read the start time of pid %d", name, (int)pid);
        return -1;
    }
    char text[STATEDIR_PIDFILE_MAX];
    int len = snprintf(text, sizeof(text), "%d %llu\n", (int)pid, start);
    /* A new file, never through what was there: unlink it first (a symlink
     * goes, its target stays untouched), then create exclusively. */
    unlinkat(dirfd, name, 0);
    int fd = statedir_openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "pid file %s: %s", name, strerror(errno));
        return -1;
    }
    ssize_t w = write(fd, text, (size_t)len);
    int werr = errno;
    close(fd);
    if (w != len) {
        snprintf(err, errlen, "pid file %s: %s", name, w < 0 ? strerror(werr) : "short write");
        unlinkat(dirfd, name, 0);
        return -1;
    }
    return 0;
}

int statedir_pidfile_check(int dirfd, const char *name, pid_t *pid, char *why, size_t whylen)
{
    int fd = statedir_openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
    if (fd < 0 && errno == ENOENT)
        return -1;
    if (fd < 0) {
        snprintf(why, whylen, "cannot open it: %s", strerror(errno));
        return 0;
    }
    struct stat st;
    char text[STATEDIR_PIDFILE_MAX];
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n < 0) {
        snprintf(why, whylen, "not a readable regular file");
        return 0;
    }
    text[n] = '\0';
    int p = 0;
    unsigned long long recorded = 0, now = 0;
    int fields = sscanf(text, "%d %llu", &p, &recorded);
    if (fields < 1 || p <= 1) {
        snprintf(why, whylen, "no pid in it");
        return 0;
    }
    *pid = p;
    if (fields < 2) {
        snprintf(why, whylen, "pid %d without a start time: cannot tell it is ours", p);
        return 0;
    }
    if (statedir_start_time(p, &now) < 0) {
        snprintf(why, whylen, "pid %d no longer runs", p);
        return 0;
    }
    if (now != recorded) {
        snprintf(why, whylen,
                 "pid %d started at tick %llu, not at %llu as recorded: another process, not ours",
                 p, now, recorded);
        return 0;
    }
    return 1;
}
