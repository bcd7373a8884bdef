/* The admin endpoint (--admin): GET /healthz (200 while serving, 503 while
 * stopping, for health checkers), GET /metrics (Prometheus text), GET /stats
 * (the same figures as JSON). Runs on the main worker's loop and sums every
 * worker's counters. */
#ifndef PP_ADMIN_H
#define PP_ADMIN_H

#include <stddef.h>

struct worker;
struct admin;

struct admin *admin_new(struct worker **workers, size_t nworkers, char *err, size_t errlen);
void admin_free(struct admin *a);
/* /healthz answers 503 from now on. */
void admin_set_stopping(struct admin *a);

#endif
