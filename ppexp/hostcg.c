/* cgroup plumbing for placement and accounting. v1 uses three hierarchies
 * (cpuacct for time, memory, cpuset for placement); the manager's container
 * groups live in its own cpu and memory groups (<root>/<hier>/<prefix>/),
 * so their usage is added where it is not already inside ours. */
#include "hostcg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CG_ROOT "/sys/fs/cgroup"
/* rmdir right after the last task left can see EBUSY briefly: 100 x 10 ms. */
#define CG_RMDIR_TRIES 100

static int path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int write_file(const char *path, const char *value, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t n = write(fd, value, strlen(value));
    int saved = errno;
    close(fd);
    if (n != (ssize_t)strlen(value)) {
        snprintf(err, errlen, "write '%s' to %s: %s", value, path,
                 n < 0 ? strerror(saved) : "short write");
        return -1;
    }
    return 0;
}

static int read_file(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return 0;
}

static uint64_t read_u64(const char *path)
{
    char buf[64];
    if (read_file(path, buf, sizeof(buf)) < 0)
        return 0;
    return strtoull(buf, NULL, 10);
}

/* v2 cpu.stat usage_usec, in ns. */
static uint64_t read_v2_cpu_ns(const char *dir)
{
    char path[PPEXP_CG_PATH + 16], buf[1024]; /* dir is at most a PPEXP_CG_PATH */
    snprintf(path, sizeof(path), "%s/cpu.stat", dir);
    if (read_file(path, buf, sizeof(buf)) < 0)
        return 0;
    const char *p = strstr(buf, "usage_usec ");
    return p ? strtoull(p + 11, NULL, 10) * 1000 : 0;
}

/* The directories of side's group: v1 one per hierarchy, v2 one. */
static size_t group_dirs(const struct ppexp_hostcg *cg, enum ppexp_cg_side side,
                         char dirs[][PPEXP_CG_PATH], size_t max)
{
    if (cg->v2) {
        snprintf(dirs[0], PPEXP_CG_PATH, "%s/%s", cg->root, cg->name[side]);
        return 1;
    }
    static const char *const hier[] = {"cpuset", "cpuacct", "memory"};
    size_t n = 0;
    for (size_t i = 0; i < 3 && n < max; i++)
        snprintf(dirs[n++], PPEXP_CG_PATH, "%s/%s/%s", cg->root, hier[i], cg->name[side]);
    return n;
}

const char *ppexp_hostcg_mode(const struct ppexp_hostcg *cg)
{
    return cg->v2 ? "v2" : "v1";
}

/* The cpu list's first CPU and the rest, from "0-1", "0,2-3", "0". */
static void split_cpus(struct ppexp_hostcg *cg)
{
    int cpus[256], n = 0;
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", cg->cpus_all);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && n < 256;
         tok = strtok_r(NULL, ",", &save)) {
        int a, b;
        if (sscanf(tok, "%d-%d", &a, &b) == 2) {
            for (int c = a; c <= b && n < 256; c++)
                cpus[n++] = c;
        } else if (sscanf(tok, "%d", &a) == 1) {
            cpus[n++] = a;
        }
    }
    cg->ncpus = n;
    snprintf(cg->cpu_first, sizeof(cg->cpu_first), "%d", n ? cpus[0] : 0);
    cg->cpu_rest[0] = '\0';
    for (int i = 1; i < n; i++) {
        size_t len = strlen(cg->cpu_rest);
        snprintf(cg->cpu_rest + len, sizeof(cg->cpu_rest) - len, "%s%d", i > 1 ? "," : "", cpus[i]);
    }
    /* One CPU: split degenerates to sharing it. */
    if (!cg->cpu_rest[0])
        snprintf(cg->cpu_rest, sizeof(cg->cpu_rest), "%s", cg->cpu_first);
}

static void remove_group_dir(const char *dir)
{
    char path[PPEXP_CG_PATH + 16], buf[4096], err[256];
    if (!path_exists(dir))
        return;
    /* Move stragglers to the parent (the hierarchy's root). */
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    char parent[PPEXP_CG_PATH];
    snprintf(parent, sizeof(parent), "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash)
        *slash = '\0';
    char parent_procs[PPEXP_CG_PATH + 16];
    snprintf(parent_procs, sizeof(parent_procs), "%s/cgroup.procs", parent);
    for (int round = 0; round < 3; round++) {
        if (read_file(path, buf, sizeof(buf)) < 0 || !buf[0])
            break;
        for (char *save = NULL, *tok = strtok_r(buf, "\n", &save); tok;
             tok = strtok_r(NULL, "\n", &save))
            write_file(parent_procs, tok, err, sizeof(err));
    }
    for (int i = 0; i < CG_RMDIR_TRIES; i++) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void ppexp_hostcg_destroy(struct ppexp_hostcg *cg)
{
    if (!cg->name[0][0])
        return;
    for (int side = 0; side < 2; side++) {
        char dirs[3][PPEXP_CG_PATH];
        size_t n = group_dirs(cg, (enum ppexp_cg_side)side, dirs, 3);
        for (size_t i = 0; i < n; i++)
            remove_group_dir(dirs[i]);
    }
    cg->made = 0;
}

int ppexp_hostcg_create(struct ppexp_hostcg *cg, const char *prefix, const char *mgr_prefix,
                        char *err, size_t errlen)
{
    memset(cg, 0, sizeof(*cg));
    snprintf(cg->root, sizeof(cg->root), "%s", CG_ROOT);
    snprintf(cg->name[PPEXP_CG_MID], sizeof(cg->name[0]), "ppexp-%s-mid", prefix);
    snprintf(cg->name[PPEXP_CG_CLI], sizeof(cg->name[0]), "ppexp-%s-cli", prefix);
    snprintf(cg->mgr_prefix, sizeof(cg->mgr_prefix), "%s", mgr_prefix);
    char path[PPEXP_CG_PATH];
    snprintf(path, sizeof(path), "%s/cgroup.controllers", cg->root);
    cg->v2 = path_exists(path);
    if (cg->v2) {
        snprintf(path, sizeof(path), "%s/cgroup.subtree_control", cg->root);
        if (write_file(path, "+cpuset +cpu +memory", err, errlen) < 0)
            return -1;
        snprintf(path, sizeof(path), "%s/cpuset.cpus.effective", cg->root);
        if (read_file(path, cg->cpus_all, sizeof(cg->cpus_all)) < 0)
            snprintf(cg->cpus_all, sizeof(cg->cpus_all), "0-%ld",
                     sysconf(_SC_NPROCESSORS_ONLN) - 1);
        snprintf(path, sizeof(path), "%s/cpuset.mems.effective", cg->root);
        if (read_file(path, cg->mems, sizeof(cg->mems)) < 0)
            snprintf(cg->mems, sizeof(cg->mems), "0");
    } else {
        static const char *const need[] = {"cpuset", "cpuacct", "memory"};
        for (size_t i = 0; i < 3; i++) {
            snprintf(path, sizeof(path), "%s/%s/cgroup.procs", cg->root, need[i]);
            if (!path_exists(path)) {
                snprintf(err, errlen, "no cgroup v2 and no v1 %s hierarchy at %s/%s", need[i],
                         cg->root, need[i]);
                return -1;
            }
        }
        snprintf(path, sizeof(path), "%s/cpuset/cpuset.cpus", cg->root);
        if (read_file(path, cg->cpus_all, sizeof(cg->cpus_all)) < 0) {
            snprintf(err, errlen, "cannot read %s", path);
            return -1;
        }
        snprintf(path, sizeof(path), "%s/cpuset/cpuset.mems", cg->root);
        if (read_file(path, cg->mems, sizeof(cg->mems)) < 0)
            snprintf(cg->mems, sizeof(cg->mems), "0");
    }
    split_cpus(cg);
    ppexp_hostcg_destroy(cg); /* stale groups of an earlier, killed run */
    for (int side = 0; side < 2; side++) {
        char dirs[3][PPEXP_CG_PATH];
        size_t n = group_dirs(cg, (enum ppexp_cg_side)side, dirs, 3);
        for (size_t i = 0; i < n; i++) {
            if (mkdir(dirs[i], 0755) < 0 && errno != EEXIST) {
                snprintf(err, errlen, "mkdir %s: %s", dirs[i], strerror(errno));
                goto fail;
            }
            if (strstr(dirs[i], "/cpuset/") || cg->v2) {
                char p[PPEXP_CG_PATH + 16];
                snprintf(p, sizeof(p), "%s/cpuset.mems", dirs[i]);
                if (write_file(p, cg->mems, err, errlen) < 0)
                    goto fail;
                snprintf(p, sizeof(p), "%s/cpuset.cpus", dirs[i]);
                if (write_file(p, cg->cpus_all, err, errlen) < 0)
                    goto fail;
            }
        }
    }
    cg->made = 1;
    return 0;
fail:
    ppexp_hostcg_destroy(cg);
    return -1;
}

size_t ppexp_hostcg_procs_files(const struct ppexp_hostcg *cg, enum ppexp_cg_side side,
                                char files[][PPEXP_CG_PATH], size_t max)
{
    char dirs[3][PPEXP_CG_PATH];
    size_t n = group_dirs(cg, side, dirs, 3);
    size_t k = 0;
    for (size_t i = 0; i < n && k < max; i++) {
        /* The clients' time and memory are not measured: cpuset only. */
        if (side == PPEXP_CG_CLI && !cg->v2 && !strstr(dirs[i], "/cpuset/"))
            continue;
        if (strlen(dirs[i]) + 14 >= PPEXP_CG_PATH)
            continue;
        snprintf(files[k++], PPEXP_CG_PATH, "%.*s/cgroup.procs", PPEXP_CG_PATH - 14, dirs[i]);
    }
    return k;
}

int ppexp_hostcg_move(const struct ppexp_hostcg *cg, enum ppexp_cg_side side, pid_t pid, char *err,
                      size_t errlen)
{
    char files[3][PPEXP_CG_PATH], v[24];
    size_t n = ppexp_hostcg_procs_files(cg, side, files, 3);
    snprintf(v, sizeof(v), "%d", (int)pid);
    for (size_t i = 0; i < n; i++)
        if (write_file(files[i], v, err, errlen) < 0)
            return -1;
    return 0;
}

int ppexp_hostcg_move_netns(const struct ppexp_hostcg *cg, enum ppexp_cg_side side,
                            const char *nsfile, char *err, size_t errlen)
{
    struct stat st;
    if (stat(nsfile, &st) < 0) {
        snprintf(err, errlen, "%s: %s", nsfile, strerror(errno));
        return -1;
    }
    char want[64];
    snprintf(want, sizeof(want), "net:[%lu]", (unsigned long)st.st_ino);
    DIR *d = opendir("/proc");
    if (!d) {
        snprintf(err, errlen, "/proc: %s", strerror(errno));
        return -1;
    }
    int moved = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) && rc == 0) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], link[64];
        snprintf(path, sizeof(path), "/proc/%s/ns/net", e->d_name);
        ssize_t k = readlink(path, link, sizeof(link) - 1);
        if (k <= 0)
            continue;
        link[k] = '\0';
        if (strcmp(link, want) != 0)
            continue;
        pid_t pid = (pid_t)atoi(e->d_name);
        if (ppexp_hostcg_move(cg, side, pid, err, errlen) < 0) {
            if (kill(pid, 0) < 0)
                continue; /* it exited meanwhile */
            rc = -1;
            break;
        }
        if (side == PPEXP_CG_CLI && !cg->v2) {
            static const char *const acct[] = {"cpuacct", "memory"};
            for (size_t i = 0; i < 2 && rc == 0; i++) {
                char procs[PPEXP_CG_PATH];
                snprintf(procs, sizeof(procs), "%s/%s/cgroup.procs", cg->root, acct[i]);
                rc = write_file(procs, e->d_name, err, errlen);
            }
        }
        moved++;
    }
    closedir(d);
    return rc < 0 ? -1 : moved;
}

int ppexp_hostcg_place(struct ppexp_hostcg *cg, enum ppexp_placement placement, char *desc,
                       size_t desclen, char *err, size_t errlen)
{
    const char *mid = placement == PPEXP_PLACEMENT_SPLIT ? cg->cpu_first : cg->cpus_all;
    const char *cli = placement == PPEXP_PLACEMENT_SPLIT ? cg->cpu_rest : cg->cpus_all;
    const char *sets[2] = {mid, cli};
    for (int side = 0; side < 2; side++) {
        char dirs[3][PPEXP_CG_PATH], p[PPEXP_CG_PATH + 16];
        size_t n = group_dirs(cg, (enum ppexp_cg_side)side, dirs, 3);
        for (size_t i = 0; i < n; i++) {
            if (!cg->v2 && !strstr(dirs[i], "/cpuset/"))
                continue;
            snprintf(p, sizeof(p), "%s/cpuset.cpus", dirs[i]);
            if (write_file(p, sets[side], err, errlen) < 0)
                return -1;
        }
    }
    snprintf(desc, desclen, "intermediate host on CPU %s, clients and origin on CPU %s", mid, cli);
    return 0;
}

/* <root>/<hier>/<mgr_prefix>: the manager's container groups, counted when
 * that hierarchy is not the one our group lives in (it never is: they are
 * siblings, so nothing is counted twice). */
void ppexp_hostcg_count_also(struct ppexp_hostcg *cg, const char *name)
{
    snprintf(cg->also, sizeof(cg->also), "%s", name);
}

/* The intermediate host's groups: ppexp's own, the manager's, and the one
 * counted also (when set). */
static size_t mid_groups(const struct ppexp_hostcg *cg, const char *groups[3])
{
    size_t n = 0;
    groups[n++] = cg->name[PPEXP_CG_MID];
    groups[n++] = cg->mgr_prefix;
    if (cg->also[0])
        groups[n++] = cg->also;
    return n;
}

uint64_t ppexp_hostcg_mid_cpu_ns(const struct ppexp_hostcg *cg)
{
    char p[PPEXP_CG_PATH];
    const char *groups[3];
    size_t n = mid_groups(cg, groups);
    uint64_t ns = 0;
    for (size_t i = 0; i < n; i++) {
        if (cg->v2) {
            snprintf(p, sizeof(p), "%s/%s", cg->root, groups[i]);
            ns += read_v2_cpu_ns(p);
        } else {
            snprintf(p, sizeof(p), "%s/cpuacct/%s/cpuacct.usage", cg->root, groups[i]);
            ns += read_u64(p);
        }
    }
    return ns;
}

uint64_t ppexp_hostcg_mid_mem_bytes(const struct ppexp_hostcg *cg)
{
    char p[PPEXP_CG_PATH];
    const char *file = cg->v2 ? "memory.current" : "memory.usage_in_bytes";
    const char *hier = cg->v2 ? "" : "memory/";
    const char *groups[3];
    size_t n = mid_groups(cg, groups);
    uint64_t b = 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(p, sizeof(p), "%s/%s%s/%s", cg->root, hier, groups[i], file);
        b += read_u64(p);
    }
    return b;
}

int ppexp_hostcg_exists(const char *prefix)
{
    static const char *const where[] = {"", "cpuset/", "cpuacct/", "memory/"};
    char p[PPEXP_CG_PATH];
    for (size_t i = 0; i < 4; i++) {
        for (int side = 0; side < 2; side++) {
            snprintf(p, sizeof(p), "%s/%sppexp-%s-%s", CG_ROOT, where[i], prefix,
                     side ? "cli" : "mid");
            if (path_exists(p))
                return 1;
        }
    }
    return 0;
}
