/* proxyd's privilege drop, between binding the ports and starting the
 * worker threads: which user to become, and becoming it with nothing kept
 * (no supplementary group, no capability in any set, no way back through
 * setuid binaries or file capabilities). */
#include "privs.h"

#include "caps.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int lookup(const char *name, struct privs_target *t, char *err, size_t errlen)
{
    const struct passwd *pw = getpwnam(name);
    if (!pw) {
        snprintf(err, errlen, "user '%s' does not exist", name);
        return -1;
    }
    snprintf(t->user, sizeof(t->user), "%s", pw->pw_name);
    t->uid = pw->pw_uid;
    t->gid = pw->pw_gid;
    return 0;
}

int privs_choose(const char *user, struct privs_target *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    if (geteuid() != 0) {
        /* Nothing to drop but capabilities (file or ambient ones). */
        t->uid = geteuid();
        t->gid = getegid();
        const struct passwd *pw = getpwuid(t->uid);
        snprintf(t->user, sizeof(t->user), "%s", pw ? pw->pw_name : "?");
        if (user && (!pw || strcmp(user, pw->pw_name) != 0)) {
            snprintf(err, errlen, "--user %s: only root can change user (running as uid %u)", user,
                     (unsigned)t->uid);
            return -1;
        }
        return 0;
    }
    if (user && strcmp(user, "root") == 0) {
        snprintf(t->user, sizeof(t->user), "root");
        t->keep_root = 1;
        return 0;
    }
    t->drop = 1;
    if (user)
        return lookup(user, t, err, errlen);
    if (lookup(PRIVS_DEFAULT_USER, t, err, errlen) == 0 ||
        lookup(PRIVS_FALLBACK_USER, t, err, errlen) == 0)
        return 0;
    snprintf(err, errlen,
             "neither user '%s' nor '%s' exists: name an unprivileged one with --user "
             "(or --user root to keep every privilege)",
             PRIVS_DEFAULT_USER, PRIVS_FALLBACK_USER);
    return -1;
}

int privs_give_file(const struct privs_target *t, const char *path, char *err, size_t errlen)
{
    if (!t->drop)
        return 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == ELOOP)
        return 0; /* a symlink (/dev/stdout): whatever it names is not ours */
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
        close(fd); /* a pipe or a terminal: written to, never reopened */
        return 0;
    }
    if (fd < 0 || fchown(fd, t->uid, t->gid) < 0) {
        snprintf(err, errlen, "cannot give %s to user %s: %s", path, t->user, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int privs_drop(const struct privs_target *t, char *err, size_t errlen)
{
    if (t->drop) {
        /* While still root: the bounding set (needs CAP_SETPCAP), so nothing
         * executed later can gain a capability back. */
        if (caps_bound_to(NULL, 0, err, errlen) < 0)
            return -1;
        if (setgroups(0, NULL) < 0 || setresgid(t->gid, t->gid, t->gid) < 0 ||
            setresuid(t->uid, t->uid, t->uid) < 0) {
            snprintf(err, errlen, "cannot become user %s (uid %u, gid %u): %s", t->user,
                     (unsigned)t->uid, (unsigned)t->gid, strerror(errno));
            return -1;
        }
    }
    if (!t->keep_root) {
        /* setresuid away from 0 already cleared them; a process that started
         * unprivileged may still hold file or ambient capabilities. */
        uint64_t eff, perm, inh;
        if (caps_set_to(NULL, 0, err, errlen) < 0)
            return -1;
        if (caps_get(&eff, &perm, &inh) < 0 || eff || perm || inh) {
            snprintf(err, errlen, "cannot clear the capability sets: %s", strerror(errno));
            return -1;
        }
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        return -1;
    }
    if (t->drop && t->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        snprintf(err, errlen, "root could be regained after becoming %s", t->user);
        return -1;
    }
    return 0;
}
