/* CPU and memory limits of container instances, through the cgroup tree the
 * host has: v2 (one unified hierarchy) or v1 (separate cpu and memory
 * hierarchies). Every group lives under <root>/<prefix>/ so that a manager
 * that crashed can find what it left. The container runtime owns the calls;
 * nothing here logs, errors fill the caller's buffer. */
#ifndef PP_CGROUP_H
#define PP_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_PATH_MAX 256
/* v1 has a directory per controller (cpu, memory); v2 one. */
#define CGROUP_MAX_DIRS 2

struct cgroup_tree {
    int version; /* 1 or 2 */
    char parent[CGROUP_MAX_DIRS]
               [CGROUP_PATH_MAX]; /* <root>/<controller>/<prefix> or <root>/<prefix> */
    size_t nparents;
};

/* What a mount table (/proc/PID/mountinfo) holds that explains a missing
 * hierarchy: the sysfs on /sys (the last mounted, and its source; `ip netns
 * exec NAME` mounts one with source NAME) and the cgroup and cgroup2 mounts
 * at or under root. */
struct cgroup_mounts {
    int sysfs_at_sys;
    char sysfs_source[256]; /* a network namespace's name: NAME_MAX + 1 */
    int cgroups_under_root;
};
void cgroup_mountinfo_scan(const char *text, const char *root, struct cgroup_mounts *m);

/* Detects the cgroup version under root (CGROUP_ROOT in production) and
 * creates the prefix's parent directories (v2: with cpu and memory enabled
 * for its children). Returns 0 or -1; when no hierarchy is found because
 * /sys was remounted for this process (`ip netns exec`), err also says how
 * to start the manager instead (nsenter --net). */
int cgroup_tree_init(struct cgroup_tree *t, const char *root, const char *prefix, char *err,
                     size_t errlen);
/* Removes the parent directories; fails (EBUSY, ENOTEMPTY) while groups remain. */
int cgroup_tree_remove(struct cgroup_tree *t, char *err, size_t errlen);

/* Creates group name with a CPU quota of cpus CPUs (<= 0: no limit) and a
 * memory limit (0: no limit). An existing group of that name is reused.
 * Returns 0, or -1 with nothing left behind. */
int cgroup_create(const struct cgroup_tree *t, const char *name, double cpus, uint64_t memory_bytes,
                  char *err, size_t errlen);
/* Moves pid (all its threads) into the group in every hierarchy. */
int cgroup_add_pid(const struct cgroup_tree *t, const char *name, pid_t pid, char *err,
                   size_t errlen);
/* The pids in the group (up to max; the count found is returned, or -1). */
int cgroup_pids(const struct cgroup_tree *t, const char *name, pid_t *pids, size_t max, char *err,
                size_t errlen);
/* Removes the group once its processes are gone, retrying briefly while the
 * kernel still counts an exited one. A group that is not there is fine. */
int cgroup_remove(const struct cgroup_tree *t, const char *name, char *err, size_t errlen);
/* Calls cb once for each group under the prefix (in any hierarchy); cb
 * must not remove groups (collect the names, then act). */
int cgroup_list(const struct cgroup_tree *t, void (*cb)(void *ctx, const char *name), void *ctx,
                char *err, size_t errlen);

#endif
