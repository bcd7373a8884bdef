/* The manager's state directory (issue 13, door 8): the one place where it,
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

/* The start time of pid in clock ticks since boot (/proc/PID/stat field
 * 22). 0, or -1 when it cannot be read (no such process). */
int statedir_start_time(pid_t pid, unsigned long long *ticks);

#endif
