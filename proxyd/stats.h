/* proxyd's counters: one struct per worker, incremented by the owning thread
 * only (relaxed atomics, so the admin thread may read them at any time), and
 * summed across workers for /metrics and /stats. */
#ifndef PP_PROXYD_STATS_H
#define PP_PROXYD_STATS_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct cJSON;

/* Status classes counted individually; anything else lands in "other". */
#define STATS_CODES                                                                                \
    {                                                                                              \
        200, 203, 204, 206, 301, 302, 304, 400, 403, 404, 405, 408, 413, 414, 431, 500, 501, 502,  \
            503, 504, 505, 508                                                                     \
    }
#define STATS_NCODES 22

struct proxyd_stats {
    uint64_t requests;
    uint64_t by_code[STATS_NCODES + 1]; /* last: other */
    uint64_t hits;                      /* served from cache (incl. refreshed) */
    uint64_t misses;                    /* needed the origin */
    uint64_t collapsed;                 /* misses that joined another request's fetch */
    uint64_t refreshes;                 /* revalidations answered 304 by the origin */
    uint64_t not_modified;              /* 304s sent to clients from cache */
    uint64_t denied;                    /* 403 by access rules */
    uint64_t client_bytes_in;
    uint64_t client_bytes_out;
    uint64_t origin_bytes_in;
    uint64_t origin_fetches;
    uint64_t origin_errors_connect;
    uint64_t origin_errors_timeout;
    uint64_t origin_errors_protocol;
    uint64_t origin_errors_closed;
    uint64_t connections_total;
    uint64_t connections_open; /* gauge */
    uint64_t tunnels_total;
    uint64_t bad_requests;     /* malformed or oversized input */
    uint64_t sendfile_retries; /* sendfile would block on a socket that polled writable */
};

static inline void stats_add(uint64_t *counter, uint64_t n)
{
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}
static inline void stats_sub(uint64_t *counter, uint64_t n)
{
    __atomic_fetch_sub(counter, n, __ATOMIC_RELAXED);
}
void stats_count_status(struct proxyd_stats *st, int status);
/* The status code counted in by_code[i] (0 for the "other" slot). */
int stats_code_at(size_t i);
/* into += from, field by field (reads are relaxed atomic loads). */
void stats_sum(struct proxyd_stats *into, const struct proxyd_stats *from);

#endif
