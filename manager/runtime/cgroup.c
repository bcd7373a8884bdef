/* cgroup groups for container instances: one per instance under
 * <root>/<prefix>/ in each hierarchy that carries the cpu and memory
 * controllers (v1: cpu/ and memory/; v2: the unified tree). Made before the
 * instance's process runs, removed after it was reaped. */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The kernel's default CFS period (sched_cfs_bandwidth_slice aside), used
 * when cpu.cfs_period_us cannot be read and for v2's cpu.max. */
#define CGROUP_CFS_PERIOD_US 100000
/* The kernel refuses quotas below 1 ms (cpu.cfs_quota_us, cpu.max). */
#define CGROUP_CFS_QUOTA_MIN_US 1000
/* A mount table longer than this (thousands of mounts) is read in part. */
#define CGROUP_MOUNTINFO_MAX (1024 * 1024)
/* rmdir of a group whose last task has just been reaped can see EBUSY for
 * a moment (v2 updates "populated" asynchronously): retry for up to
 * 50 x 2 ms. */
#define CGROUP_RMDIR_TRIES 50
#define CGROUP_RMDIR_WAIT_US 2000

static int path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int file_write(const char *path, const char *value, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t len = strlen(value);
    ssize_t n = write(fd, value, len);
    int saved = errno;
    close(fd);
    if (n != (ssize_t)len) {
        snprintf(err, errlen, "write '%s' to %s: %s", value, path,
                 n < 0 ? strerror(saved) : "short write");
        return -1;
    }
    return 0;
}

static int file_read(const char *path, char *buf, size_t buflen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got + 1 < buflen) {
        ssize_t n = read(fd, buf + got, buflen - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return (int)got;
}

static int dir_make(const char *path, char *err, size_t errlen)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int group_path(const struct cgroup_tree *t, size_t i, const char *name, const char *file,
                      char *out, size_t outlen)
{
    int n =
        snprintf(out, outlen, "%s/%s%s%s", t->parent[i], name, file ? "/" : "", file ? file : "");
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

/* Whether a space-separated list ("cpuset cpu io memory") has word. */
static int list_has(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
            return 1;
    return 0;
}

/* v2: the controllers a group's children may use are those listed in its
 * cgroup.subtree_control; both must be on from the root down to <prefix>. */
static int v2_enable_controllers(const char *dir, char *err, size_t errlen)
{
    char path[CGROUP_PATH_MAX + 32], have[512];
    snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
    if (file_read(path, have, sizeof(have)) < 0) {
        snprintf(err, errlen, "read %s: %s", path, strerror(errno));
        return -1;
    }
    if (list_has(have, "cpu") && list_has(have, "memory"))
        return 0;
    return file_write(path, "+cpu +memory", err, errlen);
}

/* Whether mount point mp (as mountinfo escapes it) is dir or below it. */
static int mount_under(const char *mp, size_t mplen, const char *dir)
{
    size_t n = strlen(dir);
    return mplen >= n && strncmp(mp, dir, n) == 0 && (mplen == n || mp[n] == '/');
}

void cgroup_mountinfo_scan(const char *text, const char *root, struct cgroup_mounts *m)
{
    memset(m, 0, sizeof(*m));
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAG...] - FSTYPE SOURCE ...":
         * the mount point is the fifth field, the type the first after " - ". */
        const char *f = line, *end = line + len, *mp = NULL;
        size_t mplen = 0;
        for (int field = 1; f < end && field <= 5; field++) {
            const char *sp = memchr(f, ' ', (size_t)(end - f));
            if (field == 5) {
                mp = f;
                mplen = (size_t)((sp ? sp : end) - f);
            }
            f = sp ? sp + 1 : end;
        }
        const char *dash = NULL;
        for (const char *p = f; p + 3 <= end && !dash; p++)
            if (p > line && p[-1] == ' ' && p[0] == '-' && p[1] == ' ')
                dash = p;
        if (mp && dash) {
            char type[32] = "", source[sizeof(m->sysfs_source)] = "";
            const char *t = dash + 2;
            const char *t_end = memchr(t, ' ', (size_t)(end - t));
            if (t_end) {
                snprintf(type, sizeof(type), "%.*s", (int)(t_end - t), t);
                const char *src = t_end + 1;
                const char *src_end = memchr(src, ' ', (size_t)(end - src));
                snprintf(source, sizeof(source), "%.*s", (int)((src_end ? src_end : end) - src),
                         src);
            }
            if (!strcmp(type, "sysfs") && mplen == 4 && !strncmp(mp, "/sys", 4)) {
                /* The last one wins: it is the one mounted on top. */
                m->sysfs_at_sys = 1;
                snprintf(m->sysfs_source, sizeof(m->sysfs_source), "%s", source);
            }
            if ((!strcmp(type, "cgroup") || !strcmp(type, "cgroup2")) &&
                mount_under(mp, mplen, root))
                m->cgroups_under_root++;
        }
        line = eol ? eol + 1 : NULL;
    }
}

/* A mount table whole (NULL if unreadable); mountinfo has no size in stat. */
static char *file_slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    size_t cap = 16384, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - 1 - len, f);
        if (len < cap - 1 || cap >= CGROUP_MOUNTINFO_MAX)
            break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

/* The name under /run/netns of this process's network namespace: `want` if
 * that one is it, else any that is; 0, or -1 when none is. */
static int netns_name(const char *want, char *name, size_t namelen)
{
    struct stat self, st;
    char path[PATH_MAX];
    if (stat("/proc/self/ns/net", &self) < 0)
        return -1;
    snprintf(path, sizeof(path), "/run/netns/%s", want);
    if (want[0] && !strchr(want, '/') && stat(path, &st) == 0 && st.st_dev == self.st_dev &&
        st.st_ino == self.st_ino) {
        snprintf(name, namelen, "%.*s", NAME_MAX, want);
        return 0;
    }
    DIR *d = opendir("/run/netns");
    struct dirent *e;
    int rc = -1;
    while (d && rc < 0 && (e = readdir(d))) {
        snprintf(path, sizeof(path), "/run/netns/%s", e->d_name);
        if (e->d_name[0] != '.' && stat(path, &st) == 0 && st.st_dev == self.st_dev &&
            st.st_ino == self.st_ino) {
            snprintf(name, namelen, "%.*s", NAME_MAX, e->d_name);
            rc = 0;
        }
    }
    if (d)
        closedir(d);
    return rc;
}

/* Appends to err how to start the manager when the hierarchy is missing only
 * because /sys was remounted for this process. `ip netns exec NAME` does
 * that: it unshares the mount namespace, detaches /sys (and with it every
 * cgroup mount below) and mounts a fresh sysfs whose source is NAME, so
 * that /sys/class/net shows the namespace's links. Two signals, either
 * enough, and both read from mountinfo: our /sys is a sysfs with no cgroup
 * mount under root and (a) its source names our own network namespace in
 * /run/netns (ip netns exec's fingerprint), or (b) PID 1 does see cgroup
 * mounts under root. Comparing /proc/self/ns/mnt with /proc/1/ns/mnt would
 * be weaker: reading PID 1's link needs ptrace access, refused in some
 * sandboxes, and a separate mount namespace alone (systemd's PrivateTmp)
 * hides nothing. */
static void hint_hidden_hierarchy(const char *root, char *err, size_t errlen)
{
    if (strncmp(root, "/sys/", 5) != 0)
        return;
    char *self = file_slurp("/proc/self/mountinfo");
    if (!self)
        return;
    struct cgroup_mounts here, init = {0};
    cgroup_mountinfo_scan(self, root, &here);
    free(self);
    if (!here.sysfs_at_sys || here.cgroups_under_root > 0)
        return;
    char name[sizeof(here.sysfs_source)];
    int fingerprint =
        netns_name(here.sysfs_source, name, sizeof(name)) == 0 && !strcmp(name, here.sysfs_source);
    if (!fingerprint) {
        char *pid1 = file_slurp("/proc/1/mountinfo");
        if (pid1)
            cgroup_mountinfo_scan(pid1, root, &init);
        free(pid1);
        if (init.cgroups_under_root == 0)
            return;
        if (netns_name("", name, sizeof(name)) < 0)
            snprintf(name, sizeof(name), "NAME");
    }
    size_t used = strlen(err);
    if (used + 1 >= errlen)
        return;
    snprintf(err + used, errlen - used,
             "; /sys here is a separately mounted sysfs (as `ip netns exec` mounts one) "
             "without the cgroup hierarchies%s: start the manager with "
             "`nsenter --net=/run/netns/%s manager ...` instead of `ip netns exec`",
             init.cgroups_under_root ? " PID 1 sees" : "", name);
}

int cgroup_tree_init(struct cgroup_tree *t, const char *root, const char *prefix, char *err,
                     size_t errlen)
{
    char path[CGROUP_PATH_MAX];
    memset(t, 0, sizeof(*t));
    if (!prefix[0] || strchr(prefix, '/') || prefix[0] == '.') {
        snprintf(err, errlen, "cgroup prefix '%s' is not a directory name", prefix);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/cgroup.controllers", root);
    if (path_exists(path)) {
        char have[512];
        if (file_read(path, have, sizeof(have)) < 0 || !list_has(have, "cpu") ||
            !list_has(have, "memory")) {
            snprintf(err, errlen, "cgroup v2 at %s lacks the cpu or memory controller", root);
            return -1;
        }
        t->version = 2;
        snprintf(t->parent[0], sizeof(t->parent[0]), "%s/%s", root, prefix);
        t->nparents = 1;
        if (v2_enable_controllers(root, err, errlen) < 0 || dir_make(t->parent[0], err, errlen) < 0)
            return -1;
        if (v2_enable_controllers(t->parent[0], err, errlen) < 0) {
            rmdir(t->parent[0]);
            return -1;
        }
        return 0;
    }
    static const char *const controllers[CGROUP_MAX_DIRS] = {"cpu", "memory"};
    for (size_t i = 0; i < CGROUP_MAX_DIRS; i++) {
        snprintf(path, sizeof(path), "%s/%s/cgroup.procs", root, controllers[i]);
        if (!path_exists(path)) {
            snprintf(err, errlen, "no cgroup v2 (%s/cgroup.controllers) nor v1 %s hierarchy (%s)",
                     root, controllers[i], path);
            hint_hidden_hierarchy(root, err, errlen);
            return -1;
        }
    }
    t->version = 1;
    for (size_t i = 0; i < CGROUP_MAX_DIRS; i++) {
        int n =
            snprintf(t->parent[i], sizeof(t->parent[i]), "%s/%s/%s", root, controllers[i], prefix);
        if (n < 0 || (size_t)n >= sizeof(t->parent[i])) {
            snprintf(err, errlen, "cgroup path under %s too long", root);
            goto fail;
        }
        if (dir_make(t->parent[i], err, errlen) < 0)
            goto fail;
        t->nparents = i + 1;
    }
    return 0;
fail:
    for (size_t i = 0; i < t->nparents; i++)
        rmdir(t->parent[i]);
    t->nparents = 0;
    return -1;
}

int cgroup_tree_remove(struct cgroup_tree *t, char *err, size_t errlen)
{
    int rc = 0;
    for (size_t i = 0; i < t->nparents; i++) {
        if (rmdir(t->parent[i]) < 0 && errno != ENOENT) {
            snprintf(err, errlen, "rmdir %s: %s", t->parent[i], strerror(errno));
            rc = -1;
        }
    }
    return rc;
}

static int v1_set_limits(const struct cgroup_tree *t, const char *name, double cpus,
                         uint64_t memory_bytes, char *err, size_t errlen)
{
    char path[CGROUP_PATH_MAX + 64], value[64];
    long period = CGROUP_CFS_PERIOD_US;
    if (group_path(t, 0, name, "cpu.cfs_period_us", path, sizeof(path)) == 0 &&
        file_read(path, value, sizeof(value)) > 0 && atol(value) > 0)
        period = atol(value);
    long quota = -1;
    if (cpus > 0) {
        quota = (long)(cpus * (double)period + 0.5);
        if (quota < CGROUP_CFS_QUOTA_MIN_US)
            quota = CGROUP_CFS_QUOTA_MIN_US;
    }
    snprintf(value, sizeof(value), "%ld", quota);
    if (group_path(t, 0, name, "cpu.cfs_quota_us", path, sizeof(path)) < 0 ||
        file_write(path, value, err, errlen) < 0)
        return -1;
    snprintf(value, sizeof(value), "%" PRIu64, memory_bytes);
    if (memory_bytes == 0)
        snprintf(value, sizeof(value), "-1");
    if (group_path(t, 1, name, "memory.limit_in_bytes", path, sizeof(path)) < 0 ||
        file_write(path, value, err, errlen) < 0)
        return -1;
    return 0;
}

static int v2_set_limits(const struct cgroup_tree *t, const char *name, double cpus,
                         uint64_t memory_bytes, char *err, size_t errlen)
{
    char path[CGROUP_PATH_MAX + 64], value[64];
    if (cpus > 0) {
        long quota = (long)(cpus * CGROUP_CFS_PERIOD_US + 0.5);
        if (quota < CGROUP_CFS_QUOTA_MIN_US)
            quota = CGROUP_CFS_QUOTA_MIN_US;
        snprintf(value, sizeof(value), "%ld %d", quota, CGROUP_CFS_PERIOD_US);
    } else {
        snprintf(value, sizeof(value), "max %d", CGROUP_CFS_PERIOD_US);
    }
    if (group_path(t, 0, name, "cpu.max", path, sizeof(path)) < 0 ||
        file_write(path, value, err, errlen) < 0)
        return -1;
    if (memory_bytes)
        snprintf(value, sizeof(value), "%" PRIu64, memory_bytes);
    else
        snprintf(value, sizeof(value), "max");
    if (group_path(t, 0, name, "memory.max", path, sizeof(path)) < 0 ||
        file_write(path, value, err, errlen) < 0)
        return -1;
    return 0;
}

int cgroup_create(const struct cgroup_tree *t, const char *name, double cpus, uint64_t memory_bytes,
                  char *err, size_t errlen)
{
    char path[CGROUP_PATH_MAX + 64];
    if (!name[0] || strchr(name, '/') || name[0] == '.') {
        snprintf(err, errlen, "cgroup name '%s' is not a directory name", name);
        return -1;
    }
    size_t made = 0;
    for (; made < t->nparents; made++) {
        if (group_path(t, made, name, NULL, path, sizeof(path)) < 0) {
            snprintf(err, errlen, "cgroup path for %s too long", name);
            goto fail;
        }
        if (dir_make(path, err, errlen) < 0)
            goto fail;
    }
    int rc = t->version == 2 ? v2_set_limits(t, name, cpus, memory_bytes, err, errlen)
                             : v1_set_limits(t, name, cpus, memory_bytes, err, errlen);
    if (rc < 0)
        goto fail;
    return 0;
fail:
    for (size_t i = 0; i < made; i++)
        if (group_path(t, i, name, NULL, path, sizeof(path)) == 0)
            rmdir(path);
    return -1;
}

int cgroup_add_pid(const struct cgroup_tree *t, const char *name, pid_t pid, char *err,
                   size_t errlen)
{
    char path[CGROUP_PATH_MAX + 64], value[32];
    snprintf(value, sizeof(value), "%d", (int)pid);
    for (size_t i = 0; i < t->nparents; i++) {
        if (group_path(t, i, name, "cgroup.procs", path, sizeof(path)) < 0) {
            snprintf(err, errlen, "cgroup path for %s too long", name);
            return -1;
        }
        if (file_write(path, value, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int cgroup_pids(const struct cgroup_tree *t, const char *name, pid_t *pids, size_t max, char *err,
                size_t errlen)
{
    char path[CGROUP_PATH_MAX + 64];
    size_t n = 0;
    for (size_t i = 0; i < t->nparents; i++) {
        if (group_path(t, i, name, "cgroup.procs", path, sizeof(path)) < 0) {
            snprintf(err, errlen, "cgroup path for %s too long", name);
            return -1;
        }
        FILE *f = fopen(path, "re");
        if (!f) {
            if (errno == ENOENT)
                continue;
            snprintf(err, errlen, "open %s: %s", path, strerror(errno));
            return -1;
        }
        int pid;
        while (fscanf(f, "%d", &pid) == 1) {
            size_t k = 0;
            while (k < n && pids[k] != pid)
                k++;
            if (k == n && n < max)
                pids[n++] = pid;
        }
        fclose(f);
    }
    return (int)n;
}

int cgroup_remove(const struct cgroup_tree *t, const char *name, char *err, size_t errlen)
{
    char path[CGROUP_PATH_MAX + 64];
    int rc = 0;
    for (size_t i = 0; i < t->nparents; i++) {
        if (group_path(t, i, name, NULL, path, sizeof(path)) < 0) {
            snprintf(err, errlen, "cgroup path for %s too long", name);
            return -1;
        }
        int tries = 0;
        while (rmdir(path) < 0) {
            if (errno == ENOENT)
                break;
            if (errno == EBUSY && ++tries < CGROUP_RMDIR_TRIES) {
                struct timespec ts = {0, CGROUP_RMDIR_WAIT_US * 1000L};
                nanosleep(&ts, NULL);
                continue;
            }
            snprintf(err, errlen, "rmdir %s: %s", path, strerror(errno));
            rc = -1;
            break;
        }
    }
    return rc;
}

int cgroup_list(const struct cgroup_tree *t, void (*cb)(void *ctx, const char *name), void *ctx,
                char *err, size_t errlen)
{
    for (size_t i = 0; i < t->nparents; i++) {
        DIR *d = opendir(t->parent[i]);
        if (!d) {
            if (errno == ENOENT)
                continue;
            snprintf(err, errlen, "opendir %s: %s", t->parent[i], strerror(errno));
            return -1;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_type != DT_DIR || e->d_name[0] == '.')
                continue;
            /* v1: a group in both hierarchies is reported once. */
            int seen = 0;
            for (size_t j = 0; j < i && !seen; j++) {
                char path[CGROUP_PATH_MAX + 64];
                seen =
                    group_path(t, j, e->d_name, NULL, path, sizeof(path)) == 0 && path_exists(path);
            }
            if (!seen)
                cb(ctx, e->d_name);
        }
        closedir(d);
    }
    return 0;
}
