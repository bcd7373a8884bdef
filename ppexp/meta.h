/* meta.json: the spec as run, the seed, the run order actually used, start
 * and end, the project's commit, the versions of everything that shapes a
 * number (kernel, distribution, libevent, libnl, iptables, nginx, Squid,
 * stress), the CPU, memory, cgroup mode, placement and the sysctls that
 * matter, and the deviations from the paper. Rewritten after every run. */
#ifndef PPEXP_META_H
#define PPEXP_META_H

#include <stddef.h>
#include <cJSON.h>

#include "plan.h"
#include "spec.h"

struct ppexp_meta {
    cJSON *root;  /* owned */
    cJSON *order; /* borrowed from root: [{seq, replicate, config, status}] */
};

/* Everything known before the first run. netns: the intermediate host's
 * namespace file (its network sysctls are read there); repo: the source
 * tree (for git). */
int ppexp_meta_init(struct ppexp_meta *m, const struct ppexp_spec *s, const struct ppexp_plan *plan,
                    const char *netns, const char *repo, const char *argv_line);
void ppexp_meta_set_str(struct ppexp_meta *m, const char *key, const char *value);
void ppexp_meta_set_num(struct ppexp_meta *m, const char *key, double value);
/* Sets key to item, which meta takes over (replacing what was there). */
void ppexp_meta_set_item(struct ppexp_meta *m, const char *key, cJSON *item);
void ppexp_meta_add_run(struct ppexp_meta *m, int seq, int replicate, const char *config,
                        const char *status);
int ppexp_meta_write(const struct ppexp_meta *m, const char *dir, char *err, size_t errlen);
void ppexp_meta_release(struct ppexp_meta *m);

/* "2026-11-25T15:04:05Z" now (UTC). */
void ppexp_utc_now(char *buf, size_t len, int compact);

#endif
