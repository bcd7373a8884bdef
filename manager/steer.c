/* Steering clients to instances: the partition of --clients over the ready
 * instances, installed by the forwarding mode in force (fwd_nat.c,
 * fwd_route.c; fwd_balancer.c takes the ready instances as its backend set
 * and picks one per connection), recomputed by the pool at each scale step. */
#include "steer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "backendset.h"
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
    if (strcmp(mode, "balancer") == 0)
        return &fwd_balancer_ops;
    return NULL;
}

static void fwd_config_fill(const struct steer *s, struct fwd_config *fc)
{
    memset(fc, 0, sizeof(*fc));
    fc->prefix = s->cfg->prefix;
    const struct sockaddr_in *vip = (const struct sockaddr_in *)&s->cfg->vip.ss;
    fc->vip = vip->sin_addr;
    fc->vip_port = (uint16_t)addr_port(&s->cfg->vip);
    fc->bridge = s->cfg->bridge;
    fc->manager = s->cfg;
    fc->base = pool_event_base(s->pool);
}

static struct fwd *fwd_open(struct steer *s, const struct fwd_ops *ops, char *err, size_t errlen)
{
    struct fwd *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->ops = ops;
    fwd_config_fill(s, &f->cfg);
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
        snprintf(targets[id - 1].name, sizeof(targets[0].name), "%s", in->name);
        if (in->admin.ss.ss_family == AF_INET) {
            const struct sockaddr_in *adm = (const struct sockaddr_in *)&in->admin.ss;
            targets[id - 1].admin_addr = adm->sin_addr;
            targets[id - 1].admin_port = (uint16_t)addr_port(&in->admin);
        }
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
    if (f->ops->per_connection)
        log_info("steer: %s: %d instances as its backends, set in %lld us", f->ops->name, n,
                 (long long)f->last_swap_us);
    else
        log_info("steer: %s: %u clients over %d instances in %zu rules, swapped in %lld us, "
                 "%u clients moved",
                 f->ops->name, next.clients, n, f->rules, (long long)f->last_swap_us,
                 s->last_moved);
    return 0;
}

/* A child the pool reaped that is no instance: the mode's (the balancer)? */
static void steer_child_exit(void *ctx, pid_t pid, int status)
{
    struct steer *s = ctx;
    if (s->fwd && s->fwd->ops->child_exited && s->fwd->ops->child_exited(s->fwd, pid, status))
        return;
    log_debug("steer: reaped pid %d, not ours", (int)pid);
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
    /* A balancer (and the VIP on lo) a crashed run left would take the
     * clients' packets whatever the mode now is. */
    struct fwd_config fc;
    fwd_config_fill(s, &fc);
    if (fwd_balancer_remove_leftovers(&fc, err, errlen) < 0) {
        free(s);
        return NULL;
    }
    pool_set_other_exit(pool, steer_child_exit, s);
    int status;
    if (strcmp(cfg->forwarding, "none") != 0 &&
        steer_set_mode(s, cfg->forwarding, &status, err, errlen) < 0) {
        pool_set_other_exit(pool, NULL, NULL);
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
    pool_set_other_exit(s->pool, NULL, NULL);
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
            snprintf(err, errlen, "forwarding mode must be none, nat, route or balancer, not '%s'",
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

/* A mode that picks per connection partitions nothing the clients see. */
static int steer_partitions(const struct steer *s)
{
    return s->have_part && s->fwd && !s->fwd->ops->per_connection;
}

const struct partition *steer_partition(const struct steer *s)
{
    return steer_partitions(s) ? &s->part : NULL;
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
    if (!steer_partitions(s))
        return NULL;
    for (size_t i = 0; i < s->part.nblocks; i++)
        if (s->part.blocks[i].instance_id == id)
            return &s->part.blocks[i];
    return NULL;
}

int steer_observes(const struct steer *s)
{
    return s->fwd && s->fwd->ops->observe;
}

int steer_observe(const struct steer *s, struct fwd_observation *out, size_t max, size_t *n,
                  char *err, size_t errlen)
{
    *n = 0;
    if (!s->fwd || !s->fwd->ops->observe) {
        snprintf(err, errlen, "the %s forwarding mode measures nothing per instance", s->mode);
        return -1;
    }
    return s->fwd->ops->observe(s->fwd, out, max, n, err, errlen);
}

int steer_count_flows(struct steer *s, const struct instance *in, uint64_t *count)
{
    if (s->fwd && s->fwd->ops->observe) {
        /* The balancer's own count of its connections to the instance; a
         * backend no longer listed has none left. */
        static struct fwd_observation obs[BACKENDSET_MAX];
        size_t n = 0;
        char err[200];
        if (steer_observe(s, obs, BACKENDSET_MAX, &n, err, sizeof(err)) < 0) {
            log_warn("steer: counting the connections of %s: %s", in->name, err);
            return -1;
        }
        *count = 0;
        for (size_t i = 0; i < n; i++)
            if (strcmp(obs[i].name, in->name) == 0)
                *count = obs[i].active;
        return 0;
    }
    /* Otherwise only NAT pins established flows to an instance, by conntrack. */
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
