/* The autoscaler: samples the pool's latency (the balancer's per-instance
 * time-to-first-byte histograms in balancer mode, each proxyd's request
 * histogram otherwise) or its CPU (/proc/PID/stat of each instance, against
 * the container's --cpus or one CPU), decides with autoscale_rule.c and
 * changes the pool through scale.c, as PUT /v1/pool would. Every fetch is
 * an async exchange from the loop; nothing here waits. */
#ifndef PP_AUTOSCALE_H
#define PP_AUTOSCALE_H

#include <stddef.h>
#include "autoscale_rule.h"

struct cJSON;
struct event_base;
struct manager_config;
struct pool;
struct prom;
struct scale;
struct steer;
struct autoscale;

/* Starts with cfg->autoscale (enabled when --autoscale was given). pool,
 * scale and steer outlive it. NULL with err when out of memory. */
struct autoscale *autoscale_new(struct event_base *base, const struct manager_config *cfg,
                                struct pool *pool, struct scale *scale, struct steer *steer,
                                char *err, size_t errlen);
void autoscale_free(struct autoscale *as);
/* No more decisions (the manager stops). */
void autoscale_stop(struct autoscale *as);

int autoscale_enabled(const struct autoscale *as);
const struct autoscale_settings *autoscale_settings(const struct autoscale *as);
/* Replaces the settings (already checked); turning on or changing the
 * target or windows starts the windows afresh. */
void autoscale_configure(struct autoscale *as, const struct autoscale_settings *s);

/* GET /v1/autoscale's document; NULL when out of memory. */
struct cJSON *autoscale_json(const struct autoscale *as);
/* manager_autoscale_* in /metrics. */
void autoscale_prom(const struct autoscale *as, struct prom *p);

#endif
