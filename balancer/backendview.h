/* The balancer's state as documents: JSON for the admin API and
 * Prometheus text for /metrics, and the parsing of a PUT backend set. A
 * backend's JSON and the set's are common/backendset_json's, which the
 * manager uses for the other end. */
#ifndef PP_BALANCER_BACKENDVIEW_H
#define PP_BALANCER_BACKENDVIEW_H

#include <stddef.h>

struct balancer;
struct backend;
struct backend_spec;
struct cJSON;
struct prom;

struct cJSON *backendview_backend(const struct balancer *bal, const struct backend *b);
/* {"algo", "epoch_started", "connections": {...}, "backends": [...]} */
struct cJSON *backendview_set(const struct balancer *bal);
void backendview_prom(const struct balancer *bal, struct prom *p);

/* A PUT body: {"backends": [ENTRY...]} or [ENTRY...], where ENTRY is
 * {"name", "address", "health", "weight"} or the command line's
 * "NAME=ADDR:PORT[,health=ADDR:PORT][,weight=W]". Fills specs (room for
 * max); returns the count, or -1 with err naming the bad entry. */
int backendview_parse_set(const struct cJSON *body, struct backend_spec *specs, size_t max,
                          char *err, size_t errlen);

#endif
