/* ppctl's human output: the pool and instance documents of the REST API
 * as an aligned table (ID NAME STATE ADDRESS PID READY_MS RESTARTS) and a
 * one-line summary. Fields the API adds later are ignored; missing or null
 * ones print as "-". */
#ifndef PP_TABLE_H
#define PP_TABLE_H

#include <stdio.h>

struct cJSON;

/* GET /v1/pool's document: the table of its instances, then the summary
 * line. -1 (nothing printed) when pool is not such a document or memory ran
 * out. */
int table_print_pool(FILE *out, const struct cJSON *pool);

/* One instance document (GET /v1/pool/instances/{id}) as a one-row table.
 * -1 when it is not an object. */
int table_print_instance(FILE *out, const struct cJSON *instance);

/* GET /v1/autoscale's document: its settings and measure on a few lines,
 * then the last decisions, newest first. -1 when it is not an object. */
int table_print_autoscale(FILE *out, const struct cJSON *autoscale);

#endif
