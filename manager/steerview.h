/* What the REST API shows of steering: GET /v1/forwarding (mode, rule
 * count, last swap time and duration), GET /v1/partition (every client
 * block, and how many clients moved at the last step), and the swap figures
 * for /metrics. */
#ifndef PP_STEERVIEW_H
#define PP_STEERVIEW_H

struct cJSON;
struct steer;
struct prom;

struct cJSON *steerview_forwarding_json(const struct steer *s);
struct cJSON *steerview_partition_json(const struct steer *s);
void steerview_prom(const struct steer *s, struct prom *out);

#endif
