/* What Prometheus should scrape, as its HTTP service discovery reads it
 * (GET /v1/prometheus/targets): each instance's admin endpoint and, in
 * balancer mode, the balancer's admin API. Instances come and go with every
 * scale step and restart; Prometheus asks this document again at each
 * refresh_interval, so its targets follow the pool without a file to keep. */
#ifndef PP_TARGETSVIEW_H
#define PP_TARGETSVIEW_H

struct addr;
struct cJSON;
struct pool;
struct steer;

/* An array of target groups, Prometheus' http_sd format:
 * [{"targets": ["IP:PORT"], "labels": {"__meta_proxypool_role": "proxyd",
 *   "__meta_proxypool_instance": "pp1", "__meta_proxypool_instance_id": "1",
 *   "__meta_proxypool_state": "ready", "__meta_proxypool_runtime": "process"}},
 *  ..., {"targets": [balancer_admin], "labels": {"__meta_proxypool_role": "balancer"}}].
 * Every instance of the pool that has an admin endpoint is listed whatever
 * its state, so one that crashed shows as a target that is down (squid and
 * nginx workers have none and are not listed); the balancer only while the
 * forwarding mode is balancer (st may be NULL). NULL when out of memory; the
 * caller cJSON_Deletes it. */
struct cJSON *targetsview_json(const struct pool *p, const struct steer *st,
                               const struct addr *balancer_admin);

#endif
