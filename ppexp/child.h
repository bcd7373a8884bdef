/* Child processes ppexp starts (manager, loadgen, stress, the testbed
 * script): each in its own process group (Ctrl-C reaches ppexp only, which
 * stops them in order), optionally inside a network namespace and cgroups,
 * with its output appended to a log file. */
#ifndef PPEXP_CHILD_H
#define PPEXP_CHILD_H

#include <stddef.h>
#include <sys/types.h>

#include "hostcg.h"

struct ppexp_child_opts {
    const char *netns; /* /run/netns/NAME to enter, or NULL */
    const char *log;   /* stdout and stderr appended here; NULL: inherit */
    char cgroup_procs[3][PPEXP_CG_PATH];
    size_t ncgroups;
};

/* fork + exec argv[0] (a path); -1 with err on failure to fork. A failure
 * to enter the namespace or cgroup or to exec shows as exit status 127. */
pid_t ppexp_child_spawn(char *const argv[], const struct ppexp_child_opts *o, char *err,
                        size_t errlen);
/* 1 if pid has exited (reaped, *status filled), 0 if it still runs. */
int ppexp_child_poll(pid_t pid, int *status);
/* Sends sig to the child's process group, waits up to timeout_ms, then
 * SIGKILLs the group; returns its wait status (or -1 if not ours). */
int ppexp_child_stop(pid_t pid, int sig, int timeout_ms);
/* Runs argv to completion (bounded by timeout_ms, then killed) with its
 * stdout captured into out (NUL-terminated, truncated to outlen); returns the
 * exit status, or -1 on spawn failure or timeout. */
int ppexp_child_capture(char *const argv[], char *out, size_t outlen, int timeout_ms);
/* The last len - 1 bytes of the log file at path, newlines made spaces, into
 * out ("" if it cannot be read). */
void ppexp_child_log_tail(const char *path, char *out, size_t len);

/* Milliseconds on the monotonic clock. */
double ppexp_now_ms(void);
void ppexp_sleep_ms(int ms);

#endif
