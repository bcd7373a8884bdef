/* The manager's REST API (issue 3) on libevent's evhttp: reads the pool
 * (GET /v1/pool, /v1/pool/instances/{id}), changes it (PUT /v1/pool,
 * POST /v1/pool/instances/{id}/restart, answered when the pool's change
 * ends), /healthz and Prometheus /metrics. It validates every write before it
 * reaches the pool, so a refused request changes nothing. */
#ifndef PP_API_H
#define PP_API_H

#include <stddef.h>

struct event_base;
struct manager_config;
struct pool;
struct api;

/* Request bodies above this get 413: {"replicas": N} is a dozen bytes, and
 * the fields later issues add keep a pool document within a few KiB. */
#define API_BODY_MAX (64 * 1024)
/* Largest token file accepted: bearer tokens are 32 to a few hundred bytes. */
#define API_TOKEN_MAX 4096

/* Listens on cfg->api and serves the pool, which must outlive the API. With
 * cfg->token_file set, loads the bearer token every write must carry (its
 * trailing newline stripped; an unreadable or empty file, or one holding
 * bytes a header cannot carry, is an error). NULL with err filled. */
struct api *api_new(struct event_base *base, struct pool *pool, const struct manager_config *cfg,
                    char *err, size_t errlen);

/* Closes the listener and every connection (clients waiting for a change
 * see the connection close). A change still running keeps a small record
 * that the pool's done callback frees: the pool must call done once for each
 * change it accepted, even after this (pool.c does, with ok = 0 on shutdown). */
void api_free(struct api *a);
/* Serves /v1/forwarding and /v1/partition from s (503 until set). */
struct steer;
void api_set_steer(struct api *a, struct steer *s);

/* From now on writes get 503 and /healthz answers 503 "stopping"; changes
 * already running are answered when they end. */
void api_set_stopping(struct api *a);

/* The port the API listens on (useful when cfg->api asked for port 0). */
int api_port(const struct api *a);

#endif
