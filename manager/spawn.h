/* Supervising children (instances, the balancer), written once: the
 * child-side setup before exec (own session, stdout and stderr to a log, no
 * inherited descriptors but 0-2), liveness, killing a child with what it
 * started, the restart backoff, and reclaiming what a crashed manager left
 * running. The command itself comes from worker.h or the balancer's mode. */
#ifndef PP_SPAWN_H
#define PP_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Restart backoff after a crash: 100 ms doubling, at most 30 s (HAProxy's
 * mworker and systemd's restart limits are the model). */
#define SPAWN_BACKOFF_FIRST_MS 100
#define SPAWN_BACKOFF_MAX_MS 30000

/* In the child, after fork: never returns on failure of exec's caller, only
 * prepares; errors are written to the log (which the pool shows). The log is
 * opened relative to its directory with O_NOFOLLOW: a symlink planted there
 * leaves the child without a log rather than appending to its target. */
void spawn_child_prepare(const char *log_path);

/* The gate between a fork and the child's exec. A child must not run its
 * worker before the manager recorded it in a pid file: a manager killed in
 * between would leave a worker nobody knows of, holding its slot's port,
 * so the next run's instance in that slot could not bind it and would
 * crash until the scale step gave up. The child waits at the gate until
 * the manager wrote the pid file (spawn_gate_release); when the manager
 * dies first, the child reads end-of-file and exits without running
 * anything. gate[0] is read by the child, gate[1] written by the parent;
 * both close-on-exec. 0, or -1 with err. */
int spawn_gate_new(int gate[2], char *err, size_t errlen);
/* In the child, right after fork (before spawn_child_prepare closes the
 * gate with every other descriptor): returns once let go, _exits if not. */
void spawn_gate_wait(int gate[2]);
/* In the parent, after fork: keeps the write end in *release_fd. */
void spawn_gate_keep(int gate[2], int *release_fd);
/* Lets the child go and closes the gate; *fd becomes -1 (-1: nothing). */
void spawn_gate_release(int *fd);

/* Whether pid runs: alive and not a zombie (an orphan's zombie waits for
 * init to reap it), read from /proc/PID/stat. */
int spawn_process_alive(int pid);

/* SIGKILL to pid's process group (a child leads its own session, so the
 * group is it and everything it started), or to pid alone when it leads
 * none. Only for a child not yet reaped: its number is still its own. */
void spawn_kill_group(pid_t pid);

/* How long to wait before the next start after crash_streak crashes in a
 * row (1 = the first). */
int64_t spawn_backoff_ms(unsigned crash_streak);

/* "exit status N" or "signal N", for a log line. */
void spawn_describe_status(int status, char *out, size_t outlen);

/* At start, before the loop runs: a manager that crashed left the child
 * named by pidfile (in the state dir dirfd) running. When the pid file
 * still names the same process (statedir.h) and exe_matches accepts the
 * basename of its executable, its group is killed and waited for (bounded:
 * a SIGKILLed process is gone in milliseconds); the pid file goes in any
 * case. who prefixes the log lines ("pool", "balancer"). */
void spawn_reclaim_leftover(int dirfd, const char *pidfile, int (*exe_matches)(const char *base),
                            const char *who);

/* The one SIGCHLD handler: reaps every child of the manager and tells
 * whoever watches that pid (the pool for an instance, the balancer's mode
 * for the balancer) how it ended; a process adopted from an earlier run is
 * watched through its pidfd instead. A child nobody watches (one killed after
 * its watcher let it go) is reaped and logged at debug level. */
struct event_base;
struct spawn_reaper;
typedef void (*spawn_exit_cb)(void *ctx, pid_t pid, int status);

struct spawn_reaper *spawn_reaper_new(struct event_base *base, char *err, size_t errlen);
void spawn_reaper_free(struct spawn_reaper *r);
/* Right after fork, before the loop runs again (the exit is reaped in the
 * loop, so it cannot be missed). 0, or -1 when the table is full. */
int spawn_reaper_watch(struct spawn_reaper *r, pid_t pid, spawn_exit_cb cb, void *ctx);
/* Watches pid, a process an earlier run started and this one adopted (not
 * our child, so no SIGCHLD): through a pidfd held from now on, which also
 * pins the identity (a pidfd names that process, never a reuse of its
 * number). cb gets SPAWN_STATUS_UNKNOWN when it ends. 0, or -1 with err. */
#define SPAWN_STATUS_UNKNOWN (-1)
int spawn_reaper_watch_adopted(struct spawn_reaper *r, pid_t pid, spawn_exit_cb cb, void *ctx,
                               char *err, size_t errlen);
/* Stops watching pid (its watcher goes away); its exit is still reaped. */
void spawn_reaper_forget(struct spawn_reaper *r, pid_t pid);

#endif
