/* What every runtime does to start a proxyd: the argument vector (fixed
 * arguments, then the operator's --proxy-arg ones) and the child's setup
 * before exec (own session, stdout and stderr to the instance's log, no
 * inherited descriptors but 0-2). */
#ifndef PP_SPAWN_H
#define PP_SPAWN_H

#include <stddef.h>

struct manager_config;

/* argv = proxyd_path, fixed[0..nfixed), cfg->proxy_args, NULL. Returns argc. */
size_t spawn_proxyd_argv(const struct manager_config *cfg, const char *const *fixed, size_t nfixed,
                         char **argv, size_t max);
/* In the child, after fork: never returns on failure of exec's caller, only
 * prepares; errors are written to the log (which the pool shows). */
void spawn_child_prepare(const char *log_path);

#endif
