/* The admin REST API (JSON, the manager's conventions and error format):
 * GET/PUT /v1/backends, GET/DELETE /v1/backends/NAME,
 * POST /v1/backends/NAME/drain, POST /v1/stats/reset, GET /healthz,
 * GET /metrics. On the balancer's event loop; the document shapes are in
 * backendview.c. */
#ifndef PP_BALANCER_ADMIN_H
#define PP_BALANCER_ADMIN_H

#include <stddef.h>

struct balancer;
struct event_base;
struct admin;

struct admin *admin_new(struct event_base *base, struct balancer *bal, char *err, size_t errlen);
void admin_free(struct admin *a);
int admin_port(const struct admin *a); /* the bound port (for :0) */

#endif
