/* The manager's state directory: the one place where it,
 * as root, writes files (pid files, logs, its API token). A directory another
 * user can write into lets them plant a symlink there, and a root daemon that
 * follows it truncates or appends to any file. So the directory is created
 * 0700 and refused when another user owns it, group or others may write it,
 * or a symlink is planted in it; every file in it is opened relative to the
 * open directory with O_NOFOLLOW. Pid files record each child's start time
 * (/proc/PID/stat field 22) beside its pid, and a later run kills a pid it
 * reads only while that is still the same process. */
#ifndef PP_STATEDIR_H
#define PP_STATEDIR_H

#include <stddef.h>
#include <sys/types.h>

/* Creates path (its missing parents 0755, itself 0700), checks it as above
 * and returns it open (O_DIRECTORY, close-on-exec), or -1 with err filled. */
int statedir_open(const char *path, char *err, size_t errlen);

/* openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode). */
int statedir_openat(int dirfd, const char *name, int flags, mode_t mode);

/* Writes "PID STARTTIME\n" to name (0600), replacing whatever was there
 * without following it. 0, or -1 with err filled. */
int statedir_pidfile_write(int dirfd, const char *name, pid_t pid, char *err, size_t errlen);

/* Reads name: 1 with *pid when it names a process that still runs with the
 * start time recorded (ours to stop); 0 when not, with why filled (gone, the
 * pid reused by another process, no start time recorded, not a regular
 * file); -1 when there is no such file. */
int statedir_pidfile_check(int dirfd, const char *name, pid_t *pid, char *why, size_t whylen);

/* Takes the exclusive lock `name` in the open directory dirfd: a file
 * created 0600 and flock'd (LOCK_EX | LOCK_NB), our pid written in it. The
 * lock lives as long as the returned descriptor, which is close-on-exec, so
 * instances never hold it and the end of the manager, however it ends,
 * releases it. -1 with err filled when another process holds it (*holder,
 * when not NULL, set to its pid as recorded, or 0 if unknown) or on error. */
int statedir_lock(int dirfd, const char *name, pid_t *holder, char *err, size_t errlen);

/* Where the prefix locks live (one file per --prefix, whatever the state
 * dir): chains, links and cgroups are named by the prefix. */
#define STATEDIR_PREFIX_LOCK_DIR "/run/proxypool/prefixes"

/* The locks one manager holds for its lifetime: "manager.lock" in its state
 * dir and PREFIX.lock in STATEDIR_PREFIX_LOCK_DIR. 0 with both descriptors
 * in locks[], or -1 with err saying who holds which and what to do. */
int statedir_lock_manager(int state_dirfd, const char *state_dir, const char *prefix, int locks[2],
                          char *err, size_t errlen);

/* The start time of pid in clock ticks since boot (/proc/PID/stat field
 * 22). 0, or -1 when it cannot be read (no such process). */
int statedir_start_time(pid_t pid, unsigned long long *ticks);

#endif
