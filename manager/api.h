/* The manager's REST API on libevent's evhttp: reads the pool
 * (GET /v1/pool, /v1/pool/instances/{id}), changes it (PUT /v1/pool,
 * POST /v1/pool/instances/{id}/restart, answered when the pool's change
 * ends), /healthz and Prometheus /metrics. It validates every write before it
 * reaches the pool, so a refused request changes nothing. */
#ifndef PP_API_H
#define PP_API_H

#include <stddef.h>

struct cJSON;
struct event_base;
struct manager_config;
struct pool;
struct api;

/* Request bodies above this get 413: {"replicas": N} is a dozen bytes, and
 * the fields later issues add keep a pool document within a few KiB. */
#define API_BODY_MAX (64 * 1024)

/* Loads the bearer token into cfg->token: from cfg->token_file when set,
 * else from STATE_DIR/api.token, generated there (0600, 256 random bits in
 * hex) at the first start; cfg->token_file then names it. A token file that
 * group or others may read, or that another user owns, is refused. Called
 * once the state directory exists and before anything needs the token (the
 * balancer gets the same file). 0, or -1 with err filled. */
int api_token_prepare(struct manager_config *cfg, char *err, size_t errlen);

/* Listens on cfg->api and serves the pool, changed through scale; both
 * must outlive the API.
 * Every request must name this machine by address or localhost in Host
 * (421 otherwise); writes must carry cfg->token as a bearer token (401;
 * unless cfg->no_auth) and Content-Type: application/json (415). Reads,
 * /healthz and /metrics need no token. NULL with err filled. */
struct scale;
struct api *api_new(struct event_base *base, struct pool *pool, struct scale *scale,
                    const struct manager_config *cfg, char *err, size_t errlen);

/* The bodies of the writes, once parsed as JSON (by the handlers, and by
 * tests/fuzz/fuzz_manager_api.c): 0, or -1 with why, the sentence of the
 * 400. PUT /v1/pool {"replicas": N}, 1..POOL_MAX_INSTANCES; POST restart {}
 * (an empty body is not parsed); PUT /v1/forwarding {"mode": "..."}, *mode
 * pointing into body. */
int api_parse_scale(const struct cJSON *body, int *replicas, char *why, size_t whylen);
int api_parse_restart(const struct cJSON *body, char *why, size_t whylen);
int api_parse_forwarding(const struct cJSON *body, const char **mode, char *why, size_t whylen);

/* Closes the listener and every connection (clients waiting for a change
 * see the connection close). A change still running keeps a small record
 * that the pool's done callback frees: the pool must call done once for each
 * change it accepted, even after this (pool.c does, with ok = 0 on shutdown). */
void api_free(struct api *a);
/* Serves /v1/forwarding and /v1/partition from s (503 until set). */
struct steer;
void api_set_steer(struct api *a, struct steer *s);
/* Serves /v1/autoscale from as (503 until set); while it is enabled a
 * PUT /v1/pool is refused with 409. */
struct autoscale;
void api_set_autoscale(struct api *a, struct autoscale *as);

/* From now on writes get 503 and /healthz answers 503 "stopping"; changes
 * already running are answered when they end. */
void api_set_stopping(struct api *a);

/* The port the API listens on (useful when cfg->api asked for port 0). */
int api_port(const struct api *a);

#endif
