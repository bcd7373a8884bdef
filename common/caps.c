/* Capability sets of the calling process, cut to a list (see caps.h). */
#include "caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Capabilities a kernel can know of: PR_CAPBSET_DROP says EINVAL past its
 * last one (/proc/sys/kernel/cap_last_cap, 40 on Linux 6.x). */
#define CAPS_MAX 64

static int kept(const int *keep, size_t nkeep, int cap)
{
    for (size_t i = 0; i < nkeep; i++)
        if (keep[i] == cap)
            return 1;
    return 0;
}

int caps_bound_to(const int *keep, size_t nkeep, char *err, size_t errlen)
{
    for (int cap = 0; cap < CAPS_MAX; cap++) {
        if (kept(keep, nkeep, cap))
            continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
            if (errno == EINVAL)
                return 0; /* past the kernel's last capability */
            snprintf(err, errlen, "cannot drop capability %d from the bounding set: %s", cap,
                     strerror(errno));
            return -1;
        }
    }
    return 0;
}

int caps_get(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
    memset(d, 0, sizeof(d));
    if (syscall(SYS_capget, &h, d) < 0)
        return -1;
    *effective = (uint64_t)d[1].effective << 32 | d[0].effective;
    *permitted = (uint64_t)d[1].permitted << 32 | d[0].permitted;
    *inheritable = (uint64_t)d[1].inheritable << 32 | d[0].inheritable;
    return 0;
}

int caps_set_to(const int *keep, size_t nkeep, char *err, size_t errlen)
{
    uint64_t eff, perm, inh, mask = 0;
    if (caps_get(&eff, &perm, &inh) < 0) {
        snprintf(err, errlen, "capget: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < nkeep; i++)
        if (keep[i] >= 0 && keep[i] < CAPS_MAX)
            mask |= (uint64_t)1 << keep[i];
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
    memset(d, 0, sizeof(d));
    d[0].effective = (uint32_t)(eff & mask);
    d[1].effective = (uint32_t)((eff & mask) >> 32);
    d[0].permitted = (uint32_t)(perm & mask);
    d[1].permitted = (uint32_t)((perm & mask) >> 32);
    if (syscall(SYS_capset, &h, d) < 0) {
        snprintf(err, errlen, "capset: %s", strerror(errno));
        return -1;
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); /* EINVAL before 4.3: nothing held */
    return 0;
}

int caps_limit_to(const int *keep, size_t nkeep, char *err, size_t errlen)
{
    if (caps_bound_to(keep, nkeep, err, errlen) < 0)
        return -1;
    return caps_set_to(keep, nkeep, err, errlen);
}
