/* Counter helpers: status codes to their slot, and the sum over workers. */
#include "stats.h"

#include <stddef.h>

static const int stats_codes[STATS_NCODES] = STATS_CODES;

void stats_count_status(struct proxyd_stats *st, int status)
{
    for (size_t i = 0; i < STATS_NCODES; i++) {
        if (stats_codes[i] == status) {
            stats_add(&st->by_code[i], 1);
            return;
        }
    }
    stats_add(&st->by_code[STATS_NCODES], 1);
}

int stats_code_at(size_t i)
{
    return i < STATS_NCODES ? stats_codes[i] : 0;
}

void stats_sum(struct proxyd_stats *into, const struct proxyd_stats *from)
{
    /* The struct is nothing but uint64_t counters. */
    const uint64_t *src = (const uint64_t *)from;
    uint64_t *dst = (uint64_t *)into;
    for (size_t i = 0; i < sizeof(*from) / sizeof(uint64_t); i++)
        dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
