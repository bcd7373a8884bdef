/* The descriptor limit (RLIMIT_NOFILE) of the programs that open a socket
 * per simultaneous request (loadgen, and ppexp for the processes it starts):
 * how many descriptors a concurrency needs, how much concurrency a limit
 * allows, and raising the limit. Nothing here logs: the caller, which knows
 * what the numbers mean, says so once. */
#ifndef PP_FDLIMIT_H
#define PP_FDLIMIT_H

#include <stddef.h>
#include <stdint.h>

/* What one process spends: fixed + units x (per_unit + conns x per_conn)
 * for `conns` connections per unit (loadgen: units are clients, each with
 * its namespace descriptor and conns sockets). */
struct fdlimit_budget {
    uint64_t fixed;    /* stdio, logs, the event loop's own, an API */
    uint64_t units;    /* clients */
    uint64_t per_unit; /* descriptors each unit holds whatever its load */
    uint64_t per_conn; /* descriptors per connection of a unit */
};

/* The limit before and after fdlimit_raise. */
struct fdlimit {
    uint64_t soft_before, hard_before;
    uint64_t soft, hard;
};

/* Descriptors b needs at conns connections per unit (saturating). */
uint64_t fdlimit_needed(const struct fdlimit_budget *b, uint64_t conns);
/* The most connections per unit that fit in limit descriptors (0: none). */
uint64_t fdlimit_reachable(const struct fdlimit_budget *b, uint64_t limit);

/* Raises the soft limit to the hard limit, and first the hard limit to
 * `needed` (at most fs.nr_open) when it is below and the process may
 * (CAP_SYS_RESOURCE). Fills *got. 0 when the soft limit now covers needed;
 * -1 with err saying why not (the hard limit and what refused raising it). */
int fdlimit_raise(uint64_t needed, struct fdlimit *got, char *err, size_t errlen);

#endif
