/* roundrobin: nginx's smooth weighted round robin — each pick adds every
 * usable backend's weight to its counter, takes the largest and subtracts
 * the total from it, so weights 5,1,1 give a a b a c a a rather than
 * a a a a a b c. Counters live in a table keyed by backend id. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "pick.h"

struct rr_entry {
    uint64_t id;
    double current;
};

struct roundrobin {
    struct rr_entry e[BALANCER_MAX_BACKENDS * 2];
    size_t n;
};

static void *rr_create(void)
{
    return calloc(1, sizeof(struct roundrobin));
}

static void rr_destroy(void *priv)
{
    free(priv);
}

static void rr_update(void *priv, struct backend *const *b, size_t n)
{
    struct roundrobin *rr = priv;
    struct roundrobin old = *rr;
    rr->n = 0;
    for (size_t i = 0; i < n; i++) {
        double current = 0;
        for (size_t j = 0; j < old.n; j++)
            if (old.e[j].id == b[i]->id)
                current = old.e[j].current;
        rr->e[rr->n].id = b[i]->id;
        rr->e[rr->n].current = current;
        rr->n++;
    }
}

static struct backend *rr_pick(void *priv, struct backend *const *b, size_t n,
                               const struct pick_ctx *ctx)
{
    struct roundrobin *rr = priv;
    struct backend *best = NULL;
    struct rr_entry *best_e = NULL;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!pick_usable(b[i], ctx))
            continue;
        struct rr_entry *e = NULL;
        for (size_t j = 0; j < rr->n; j++)
            if (rr->e[j].id == b[i]->id)
                e = &rr->e[j];
        if (!e)
            continue; /* not seen by update yet */
        double w = backend_effective_weight(b[i], ctx->now_us, ctx->slowstart_us);
        e->current += w;
        total += w;
        if (!best || e->current > best_e->current) {
            best = b[i];
            best_e = e;
        }
    }
    if (best_e)
        best_e->current -= total;
    return best;
}

const struct pick_ops pick_roundrobin_ops = {
    .name = "roundrobin",
    .create = rr_create,
    .destroy = rr_destroy,
    .update = rr_update,
    .pick = rr_pick,
};
