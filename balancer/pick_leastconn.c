/* leastconn: the backend with the fewest active connections per unit of
 * weight (HAProxy's and IPVS's wlc); ties go round the set so that equal
 * backends share evenly instead of the first one taking every tie. */
#include <stdlib.h>

#include "backend.h"
#include "pick.h"

struct leastconn {
    size_t next; /* where tie-breaking starts */
};

static void *leastconn_create(void)
{
    return calloc(1, sizeof(struct leastconn));
}

static void leastconn_destroy(void *priv)
{
    free(priv);
}

static struct backend *leastconn_pick(void *priv, struct backend *const *b, size_t n,
                                      const struct pick_ctx *ctx)
{
    struct leastconn *lc = priv;
    struct backend *best = NULL;
    double best_load = 0;
    if (n == 0)
        return NULL;
    size_t start = lc->next++ % n;
    for (size_t k = 0; k < n; k++) {
        struct backend *c = b[(start + k) % n];
        if (!pick_usable(c, ctx))
            continue;
        double load =
            (double)(c->active + 1) / backend_effective_weight(c, ctx->now_us, ctx->slowstart_us);
        if (!best || load < best_load) {
            best = c;
            best_load = load;
        }
    }
    return best;
}

const struct pick_ops pick_leastconn_ops = {
    .name = "leastconn",
    .create = leastconn_create,
    .destroy = leastconn_destroy,
    .pick = leastconn_pick,
};
