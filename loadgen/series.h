/* The run second by second (--series FILE): per second of the run, the
 * requests offered (due by the open-loop schedule, or started in closed
 * loop), those that completed ok, those that failed, their p99 and how many
 * were slower than --slo. A request counts in the second it was due (open
 * loop) or started (closed loop), so a step in the rate and the latency it
 * caused land in the same row. */
#ifndef PP_LOADGEN_SERIES_H
#define PP_LOADGEN_SERIES_H

#include <stddef.h>
#include <stdint.h>

struct loadgen_series;

/* slo_us: the threshold for the over_slo column; 0 leaves it empty. */
struct loadgen_series *loadgen_series_new(uint64_t slo_us);
void loadgen_series_free(struct loadgen_series *s);
/* A finished request: ok (a whole response below 400) with its latency, or
 * not (an error). -1 when out of memory (the row is then incomplete). */
int loadgen_series_add(struct loadgen_series *s, uint64_t second, int ok, uint64_t latency_us);
/* Overrides the offered count of a second (open loop: the schedule's,
 * unsent and unfinished requests included). */
int loadgen_series_set_offered(struct loadgen_series *s, uint64_t second, uint64_t offered);
/* Rows: second,offered,completed,errors,p99_ms,over_slo (p99_ms empty when
 * nothing completed that second). 0, or -1 with err filled. */
int loadgen_series_write(struct loadgen_series *s, const char *path, char *err, size_t errlen);

/* Nearest-rank p99 of n latencies (sorts them in place); 0 when n is 0. */
uint64_t loadgen_series_p99(uint32_t *latencies_us, size_t n);

#endif
