/* The documents the manager exchanges with the balancer's admin API in
 * balancer mode: the backend set it PUTs (one backend per ready instance)
 * and what it reads back from GET /v1/backends. Pure: no I/O, no logging. */
#ifndef PP_BACKENDSET_H
#define PP_BACKENDSET_H

#include <stddef.h>
#include "forwarding.h"

/* Backends named in one set: the pool's 32 instances, and room for the
 * removed ones the balancer still lists while their connections finish. */
#define BACKENDSET_MAX 128

/* {"backends": [{"name", "address", "health", "weight": 1}, ...]} for
 * targets[0..n): malloc'd text the caller frees, or NULL with err. */
char *backendset_json(const struct fwd_target *targets, size_t n, char *err, size_t errlen);

/* Reads a GET /v1/backends document: up to max backends into out, their
 * number in *n (more than max: the first max). 0, or -1 with err when the
 * text is not such a document. */
int backendset_parse(const char *text, struct fwd_observation *out, size_t max, size_t *n,
                     char *err, size_t errlen);

/* Compares a GET /v1/backends document with the set targets[0..n) would
 * PUT: *drift counts the backends missing from it, the ones in it (not
 * removed) the targets do not name, and the ones whose address, health
 * address or weight differ. Removed backends still listed while their
 * connections finish are not in the set. 0, or -1 with err when the text
 * is not such a document or a target has no name or address. */
int backendset_drift(const char *text, const struct fwd_target *targets, size_t n, unsigned *drift,
                     char *err, size_t errlen);

#endif
