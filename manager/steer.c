/* Steering clients to instances: the partition of --clients over the ready
 * instances, installed by the forwarding mode in force (fwd_nat.c,
 * fwd_route.c), recomputed by the pool at each scale step. */
#include "steer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "config.h"
#include "conntrack.h"
#include "forwarding.h"
#include "log.h"
#include "pool.h"

struct steer {
    const struct manager_config *cfg;
    struct pool *pool;
    struct client_range ranges[MANAGER_MAX_CLIENT_RANGES];
    size_t nranges;
    uint32_t nclients;
    struct fwd *fwd; /* NULL in mode "none" */
    char mode[16];
    struct partition part;
    int have_part;
    int64_t last_swap_at_ms;
    uint32_t last_moved;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const struct fwd_ops *mode_ops(const char *mode)
{
    if (strcmp(mode, "nat") == 0)
        return &fwd_nat_ops;
    if (strcmp(mode, "route") == 0)
        return &fwd_route_ops;
    return NULL;
}

static struct fwd *fwd_open(struct steer *s, const struct fwd_ops *ops, char *err, size_t errlen)
{
    struct fwd *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->ops = ops;
    f->cfg.prefix = s->cfg->prefix;
    const struct sockaddr_in *vip = (const struct sockaddr_in *)&s->cfg->vip.ss;
    f->cfg.vip = vip->sin_addr;
    f->cfg.vip_port = (uint16_t)addr_port(&s->cfg->vip);
    f->cfg.bridge = s->cfg->bridge;
    if (ops->init(f, err, errlen) < 0) {
        if (ops->free)
            ops->free(f);
        free(f);
        return NULL;
    }
    return f;
}

static void fwd_close(struct fwd *f)
{
    char err[256];
    if (!f)
        return;
    if (f->ops->clear(f, err, sizeof(err)) < 0)
        log_error("steer: removing %s rules failed: %s", f->ops->name, err);
    if (f->ops->free)
        f->ops->free(f);
    free(f);
}

/* Installs a partition over instances 1..n with f. */
static int steer_install(struct steer *s, struct fwd *f, int n, char *err, size_t errlen)
{
    struct partition next;
    memset(&next, 0, sizeof(next));
    if (partition_compute(s->ranges, s->nranges, n, &next, err, errlen) < 0)
        return -1;
    struct fwd_target targets[POOL_MAX_INSTANCES];
    for (int id = 1; id <= n; id++) {
        const struct instance *in = pool_instance(s->pool, id);
        memset(&targets[id - 1], 0, sizeof(targets[0]));
        targets[id - 1].instance_id = id;
        if (!in || in->address.ss.ss_family != AF_INET) {
            snprintf(err, errlen, "instance %d has no IPv4 address to send clients to", id);
            partition_free(&next);
            return -1;
        }
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&in->address.ss;
        targets[id - 1].addr = sin->sin_addr;
        targets[id - 1].port = (uint16_t)addr_port(&in->address);
    }
    if (f->ops->apply(f, &next, targets, err, errlen) < 0) {
        partition_free(&next);
        return -1;
    }
    s->last_moved = s->have_part ? partition_moved(&s->part, &next) : next.clients;
    if (s->have_part)
        partition_free(&s->part);
    s->part = next;
    s->have_part = 1;
    s->last_swap_at_ms = wall_ms();
    log_info("steer: %s: %u clients over %d instances in %zu rules, swapped in %lld us, "
             "%u clients moved",
             f->ops->name, next.clients, n, f->rules, (long long)f->last_swap_us, s->last_moved);
    return 0;
}

struct steer *steer_new(const struct manager_config *cfg, struct pool *pool, char *err,
                        size_t errlen)
{
    struct steer *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    s->pool = pool;
    for (size_t i = 0; i < cfg->nclient_ranges; i++) {
        s->ranges[i] = cfg->client_ranges[i];
        s->nclients += cfg->client_ranges[i].last - cfg->client_ranges[i].first + 1;
    }
    s->nranges = cfg->nclient_ranges;
    snprintf(s->mode, sizeof(s->mode), "none");
    int status;
    if (strcmp(cfg->forwarding, "none") != 0 &&
        steer_set_mode(s, cfg->forwarding, &status, err, errlen) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

void steer_free(struct steer *s)
{
    if (!s)
        return;
    fwd_close(s->fwd);
    if (s->have_part)
        partition_free(&s->part);
    free(s);
}

int steer_set_mode(struct steer *s, const char *mode, int *status, char *err, size_t errlen)
{
    *status = 400;
    if (strcmp(mode, s->mode) == 0)
        return 0;
    struct fwd *next = NULL;
    if (strcmp(mode, "none") != 0) {
        const struct fwd_ops *ops = mode_ops(mode);
        if (!ops) {
            snprintf(err, errlen,
                     strcmp(mode, "balancer") == 0
                         ? "the %s forwarding mode is not built yet; use nat, route or none"
                         : "forwarding mode must be none, nat or route, not '%s'",
                     mode);
            return -1;
        }
        /* The instances must own the VIP, which only containers can. */
        if (ops == &fwd_route_ops && strcmp(s->cfg->runtime, "container") != 0) {
            snprintf(err, errlen, "route mode needs the container runtime");
            return -1;
        }
        *status = 500;
        if (!(next = fwd_open(s, ops, err, errlen)))
            return -1;
        int n = pool_desired(s->pool);
        if (n > 0 && steer_install(s, next, n, err, errlen) < 0) {
            fwd_close(next);
            return -1;
        }
    }
    /* The new mode is in place: only now does the old one go. */
    fwd_close(s->fwd);
    s->fwd = next;
    if (!next && s->have_part) {
        partition_free(&s->part);
        s->have_part = 0;
    }
    log_info("steer: forwarding %s -> %s", s->mode, mode);
    snprintf(s->mode, sizeof(s->mode), "%s", mode);
    return 0;
}

int steer_apply(struct steer *s, int n, char *err, size_t errlen)
{
    if (!s->fwd)
        return 0;
    return steer_install(s, s->fwd, n, err, errlen);
}

const char *steer_mode(const struct steer *s)
{
    return s->mode;
}

const struct partition *steer_partition(const struct steer *s)
{
    return s->have_part ? &s->part : NULL;
}

size_t steer_rules(const struct steer *s)
{
    return s->fwd ? s->fwd->rules : 0;
}

int64_t steer_last_swap_us(const struct steer *s)
{
    return s->fwd ? s->fwd->last_swap_us : 0;
}

int64_t steer_last_swap_at_ms(const struct steer *s)
{
    return s->last_swap_at_ms;
}

uint32_t steer_last_moved(const struct steer *s)
{
    return s->last_moved;
}

uint32_t steer_clients(const struct steer *s)
{
    return s->nclients;
}

const struct partition_block *steer_block(const struct steer *s, int id)
{
    if (!s->have_part)
        return NULL;
    for (size_t i = 0; i < s->part.nblocks; i++)
        if (s->part.blocks[i].instance_id == id)
            return &s->part.blocks[i];
    return NULL;
}

int steer_count_flows(struct steer *s, const struct instance *in, uint64_t *count)
{
    /* Only NAT pins established flows to an instance by conntrack. */
    if (!s->fwd || strcmp(s->mode, "nat") != 0 || in->address.ss.ss_family != AF_INET)
        return -1;
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&in->address.ss;
    char err[160];
    if (conntrack_count_flows_to(sin->sin_addr, (uint16_t)addr_port(&in->address), count, err,
                                 sizeof(err)) < 0) {
        log_warn("steer: counting the flows of %s: %s", in->name, err);
        return -1;
    }
    return 0;
}
