/* The intermediate host's and the clients' cgroups: ppexp puts the manager
 * (and so its proxies, balancer and stress) in one group, loadgen and the
 * origin in another, pins each to a CPU set (placement "split": one core
 * each; "shared": all cores), and reads the intermediate host's CPU time and
 * memory from the kernel's accounting over each run (the paper's Table 2).
 * cgroup v1 (cpuacct, memory, cpuset hierarchies) or v2 (unified). */
#ifndef PPEXP_HOSTCG_H
#define PPEXP_HOSTCG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec.h"

#define PPEXP_CG_PATH 320

enum ppexp_cg_side { PPEXP_CG_MID = 0, PPEXP_CG_CLI };

struct ppexp_hostcg {
    int v2;
    int made;
    char root[64];       /* /sys/fs/cgroup */
    char name[2][64];    /* ppexp-<prefix>-mid, ppexp-<prefix>-cli */
    char mgr_prefix[32]; /* the manager's own groups for containers live under it */
    /* Another group counted as the intermediate host's: the private
     * dockerd's cgroup parent, where the docker runtime's containers live
     * (dockerd, not the manager, places them). "" when none. */
    char also[64];
    char cpus_all[64], mems[64];
    char cpu_first[16], cpu_rest[48]; /* split: mid gets the first, clients the rest */
    int ncpus;
};

/* Makes both groups (removing stale ones of the same name first). */
int ppexp_hostcg_create(struct ppexp_hostcg *cg, const char *prefix, const char *mgr_prefix,
                        char *err, size_t errlen);
/* The cgroup.procs files a process joins to be on `side` (up to 3);
 * returns how many. */
size_t ppexp_hostcg_procs_files(const struct ppexp_hostcg *cg, enum ppexp_cg_side side,
                                char files[][PPEXP_CG_PATH], size_t max);
int ppexp_hostcg_move(const struct ppexp_hostcg *cg, enum ppexp_cg_side side, pid_t pid, char *err,
                      size_t errlen);
/* Every process in network namespace nsfile (/run/netns/NAME) to side.
 * To the clients' side it also leaves v1's time and memory hierarchies for
 * their root groups, so it stops counting as the intermediate host's. The
 * number moved, or -1 with err. */
int ppexp_hostcg_move_netns(const struct ppexp_hostcg *cg, enum ppexp_cg_side side,
                            const char *nsfile, char *err, size_t errlen);
/* Sets both groups' CPU sets for placement; fills desc ("mid 0, clients 1"). */
int ppexp_hostcg_place(struct ppexp_hostcg *cg, enum ppexp_placement placement, char *desc,
                       size_t desclen, char *err, size_t errlen);
/* CPU time (ns) and memory in use (bytes) of the intermediate host's
 * processes, the manager's container groups included. */
uint64_t ppexp_hostcg_mid_cpu_ns(const struct ppexp_hostcg *cg);
/* Counts group NAME (at each hierarchy's root) with the intermediate host
 * from now on: CPU and memory; it is not made, joined or removed here. */
void ppexp_hostcg_count_also(struct ppexp_hostcg *cg, const char *name);
uint64_t ppexp_hostcg_mid_mem_bytes(const struct ppexp_hostcg *cg);
/* "v1" or "v2". */
const char *ppexp_hostcg_mode(const struct ppexp_hostcg *cg);
/* Moves whatever is left to the root groups and removes both; idempotent. */
void ppexp_hostcg_destroy(struct ppexp_hostcg *cg);
/* Whether a group named ppexp-<prefix>-* exists (for tests and checks). */
int ppexp_hostcg_exists(const char *prefix);

#endif
