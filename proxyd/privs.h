/* proxyd's privileges: started as root only to bind its ports (and open its
 * access log), it then becomes an unprivileged user with no capabilities
 * left and PR_SET_NO_NEW_PRIVS, as Squid (cache_effective_user) and nginx
 * (user) do. */
#ifndef PP_PROXYD_PRIVS_H
#define PP_PROXYD_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

/* The user proxyd runs as when started as root and --user is not given:
 * Debian's Squid user, which exists on every Debian with the base passwd. */
#define PRIVS_DEFAULT_USER "proxy"
/* The fallback when PRIVS_DEFAULT_USER does not exist (a minimal image). */
#define PRIVS_FALLBACK_USER "nobody"

struct privs_target {
    char user[64];
    uid_t uid;
    gid_t gid;
    int keep_root; /* --user root: asked for, on purpose */
    int drop;      /* 0: not root, nothing to drop but capabilities */
};

/* Decides who to become: user (from --user) or NULL for the default. Fails
 * when started unprivileged with a --user that is not this process's own,
 * or when the user does not exist. Reads the password database: call before
 * anything that must not block. */
int privs_choose(const char *user, struct privs_target *t, char *err, size_t errlen);
/* Hands a file proxyd opened as root (its access log) to the target user so
 * it can be reopened after the drop (SIGHUP). No symlink is followed: a
 * symlink or a file that is not a regular one (/dev/stdout) is left as it
 * is. */
int privs_give_file(const struct privs_target *t, const char *path, char *err, size_t errlen);
/* Becomes the target: supplementary groups cleared, gid and uid set (real,
 * effective, saved), the capability bounding and ambient sets emptied, no
 * capability left, PR_SET_NO_NEW_PRIVS; then checks that root cannot be
 * regained. With keep_root, only PR_SET_NO_NEW_PRIVS. Call before any
 * thread starts (capabilities are per thread). */
int privs_drop(const struct privs_target *t, char *err, size_t errlen);

#endif
