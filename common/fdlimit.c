/* RLIMIT_NOFILE: the arithmetic of what a concurrency costs and the raise
 * (soft to hard, and the hard limit itself when privileged). */
#include "fdlimit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

/* The kernel's ceiling for RLIMIT_NOFILE when /proc cannot be read (the
 * default of fs.nr_open). */
#define FDLIMIT_NR_OPEN_DEFAULT 1048576

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

uint64_t fdlimit_needed(const struct fdlimit_budget *b, uint64_t conns)
{
    uint64_t per_unit = add_sat(b->per_unit, mul_sat(conns, b->per_conn));
    return add_sat(b->fixed, mul_sat(b->units, per_unit));
}

uint64_t fdlimit_reachable(const struct fdlimit_budget *b, uint64_t limit)
{
    uint64_t base = add_sat(b->fixed, mul_sat(b->units, b->per_unit));
    if (limit <= base)
        return 0;
    uint64_t per_conn_all = mul_sat(b->units, b->per_conn);
    if (per_conn_all == 0)
        return UINT64_MAX; /* connections cost nothing here */
    return (limit - base) / per_conn_all;
}

static uint64_t nr_open(void)
{
    FILE *f = fopen("/proc/sys/fs/nr_open", "re");
    unsigned long long v = 0;
    if (f) {
        if (fscanf(f, "%llu", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v > 0 ? (uint64_t)v : FDLIMIT_NR_OPEN_DEFAULT;
}

int fdlimit_raise(uint64_t needed, struct fdlimit *got, char *err, size_t errlen)
{
    struct rlimit rl;
    memset(got, 0, sizeof(*got));
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        snprintf(err, errlen, "cannot read the descriptor limit: %s", strerror(errno));
        return -1;
    }
    got->soft_before = got->soft = (uint64_t)rl.rlim_cur;
    got->hard_before = got->hard = (uint64_t)rl.rlim_max;
    char why[128] = "";
    if ((uint64_t)rl.rlim_max < needed) {
        uint64_t top = nr_open();
        rlim_t target = (rlim_t)(needed < top ? needed : top);
        if (target > rl.rlim_max) {
            struct rlimit want = {target, target};
            if (setrlimit(RLIMIT_NOFILE, &want) == 0)
                rl = want;
            else
                snprintf(why, sizeof(why), "raising it: %s", strerror(errno));
        }
        if ((uint64_t)rl.rlim_max < needed && !why[0])
            snprintf(why, sizeof(why), "fs.nr_open is %llu", (unsigned long long)top);
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            snprintf(err, errlen, "cannot raise the descriptor limit from %llu to %llu: %s",
                     (unsigned long long)got->soft, (unsigned long long)rl.rlim_max,
                     strerror(errno));
            return -1;
        }
    }
    got->soft = (uint64_t)rl.rlim_cur;
    got->hard = (uint64_t)rl.rlim_max;
    if (got->soft >= needed)
        return 0;
    snprintf(err, errlen, "descriptor limit %llu (hard limit %llu%s%s) is below the %llu needed",
             (unsigned long long)got->soft, (unsigned long long)got->hard, why[0] ? "; " : "", why,
             (unsigned long long)needed);
    return -1;
}
