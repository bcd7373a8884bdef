/* One loadgen run: the clients and their connections on one event loop,
 * the schedule that decides when each request starts (closed loop: as soon
 * as its connection is free; open loop: at its intended time on a fixed
 * rate, waiting for a free connection if need be, the wait counted), the
 * bounds (-n, --duration, --timeout, signals), and the progress line.
 * Every finished request goes to the tallies and the CSV. */
#ifndef PP_LOADGEN_RUN_H
#define PP_LOADGEN_RUN_H

#include <stddef.h>

struct loadgen_config;
struct loadgen_tallies;
struct loadgen_run;

/* Sets everything up (event loop, namespaces, sockets' limit, CSV file) but
 * sends nothing. NULL with err filled on failure. */
struct loadgen_run *loadgen_run_new(const struct loadgen_config *cfg, char *err, size_t errlen);
/* Runs to the end (all requests done, --duration, or SIGINT/SIGTERM), then
 * closes the CSV. 0, or -1 with err filled when the CSV could not be
 * written whole (the tallies are still complete). */
int loadgen_run_exec(struct loadgen_run *run, char *err, size_t errlen);
/* What was measured (owned by the run). */
const struct loadgen_tallies *loadgen_run_tallies(const struct loadgen_run *run);
void loadgen_run_free(struct loadgen_run *run);

#endif
