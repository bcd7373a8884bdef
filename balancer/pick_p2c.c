/* p2c-ewma: the power of two random choices over a peak-EWMA latency cost,
 * as Finagle's p2cPeakEwma and Linkerd: two distinct usable backends drawn
 * at random, the one with the lower ewma x (active + 1) / weight wins. Two
 * choices avoid herding onto one "best" backend (Mitzenmacher), the active
 * term reacts at once while the EWMA catches up. */
#include "backend.h"
#include "pick.h"

static double cost(struct backend *b, const struct pick_ctx *ctx, double unmeasured_us)
{
    double lat =
        b->ewma.measured ? ewma_get(&b->ewma, ctx->now_us, ctx->ewma_tau_us) : unmeasured_us;
    /* A floor so that an idle, decayed-to-zero backend still compares by
     * its load rather than all tying at zero. */
    if (lat < 1.0)
        lat = 1.0;
    return lat * (double)(b->active + 1) /
           backend_effective_weight(b, ctx->now_us, ctx->slowstart_us);
}

/* What a backend never measured is assumed to cost: the mean estimate of
 * the measured ones, so a new backend is neither starved (a fixed prior
 * above the others' real latency would keep it out for tens of seconds) nor
 * flooded (its active count still rises with every pick); the configured
 * prior only while nothing has been measured. */
static double unmeasured_estimate(struct backend *const *b, const size_t *usable, size_t m,
                                  const struct pick_ctx *ctx)
{
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < m; i++) {
        const struct backend *c = b[usable[i]];
        if (c->ewma.measured) {
            sum += ewma_get(&c->ewma, ctx->now_us, ctx->ewma_tau_us);
            n++;
        }
    }
    return n ? sum / (double)n : b[usable[0]]->ewma.value_us;
}

static struct backend *p2c_pick(void *priv, struct backend *const *b, size_t n,
                                const struct pick_ctx *ctx)
{
    (void)priv;
    size_t usable[BALANCER_MAX_BACKENDS * 2];
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (pick_usable(b[i], ctx))
            usable[m++] = i;
    if (m == 0)
        return NULL;
    if (m == 1)
        return b[usable[0]];
    size_t x = (size_t)(pick_random(ctx->rng) % m);
    size_t y = (size_t)(pick_random(ctx->rng) % (m - 1));
    if (y >= x)
        y++;
    struct backend *a = b[usable[x]], *c = b[usable[y]];
    double prior = 0;
    if (!a->ewma.measured || !c->ewma.measured)
        prior = unmeasured_estimate(b, usable, m, ctx);
    return cost(a, ctx, prior) <= cost(c, ctx, prior) ? a : c;
}

const struct pick_ops pick_p2c_ewma_ops = {
    .name = "p2c-ewma",
    .pick = p2c_pick,
};
