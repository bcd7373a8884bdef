/* What every picking algorithm shares: the registry, usability of a
 * backend for one connection, a fast random source. */
#include "pick.h"

#include <string.h>

#include "backend.h"

const struct pick_ops *pick_find(const char *name)
{
    static const struct pick_ops *const all[] = {&pick_p2c_ewma_ops, &pick_leastconn_ops,
                                                 &pick_roundrobin_ops, &pick_source_ops};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

int pick_usable(const struct backend *b, const struct pick_ctx *ctx)
{
    if (!backend_eligible(b))
        return 0;
    for (size_t i = 0; i < ctx->nexclude; i++)
        if (ctx->exclude[i] == b)
            return 0;
    return 1;
}

/* xorshift64*: statistically fine for choosing among backends, one multiply. */
uint64_t pick_random(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}
