/* What the REST API shows of the pool: the JSON documents of GET /v1/pool
 * and GET /v1/pool/instances/{id}, and the pool's Prometheus samples for
 * /metrics. Reads the pool through pool.h only; api.c serves them. */
#ifndef PP_POOLVIEW_H
#define PP_POOLVIEW_H

struct cJSON;
struct instance;
struct pool;
struct steer;
struct prom;

/* {"runtime", "worker" (proxyd, squid or nginx), "replicas" (desired),
 * "ready", "instances": [...]}, or NULL
 * when out of memory. The caller cJSON_Deletes it. */
struct cJSON *poolview_json(const struct pool *p, const struct steer *st);

/* {"id", "name", "state", "address" and "admin" ("IP:PORT", null before the
 * first spawn; admin is null for squid and nginx workers, which have none), "pid" (null when not
 * running), "started_at" (RFC 3339 UTC, null before the first spawn), "ready_ms" (null until
 * ready), "restarts"}, and "clients" {"first", "last", "count"} when st partitions clients (st may
 * be NULL), and in balancer mode "balancer" {"state", "removed", "active", "total", "ewma_ms",
 * "p50_ms", "p90_ms", "p99_ms" (null when unmeasured), "last_check"} as the balancer reports the
 * instance's backend (null when it does not list it or cannot be asked); or NULL when out of
 * memory. */
struct cJSON *poolview_instance_json(const struct instance *in, const struct steer *st);

/* Desired and ready replicas, instances by state, restarts, and the
 * instantiation-time histogram (seconds). */
void poolview_prom(const struct pool *p, struct prom *out);

#endif
