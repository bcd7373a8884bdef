/* What every runtime does to start a child: its setup before exec (own
 * session, stdout and stderr to the instance's log, no inherited
 * descriptors but 0-2). The command itself comes from worker.h. */
#ifndef PP_SPAWN_H
#define PP_SPAWN_H

#include <stddef.h>

/* In the child, after fork: never returns on failure of exec's caller, only
 * prepares; errors are written to the log (which the pool shows). The log is
 * opened relative to its directory with O_NOFOLLOW: a symlink planted there
 * leaves the child without a log rather than appending to its target. */
void spawn_child_prepare(const char *log_path);

/* Whether pid runs: alive and not a zombie (an orphan's zombie waits for
 * init to reap it), read from /proc/PID/stat. */
int spawn_process_alive(int pid);

#endif
