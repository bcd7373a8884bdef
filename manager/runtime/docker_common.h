/* What the docker and swarm runtimes share on top of the Engine API client
 * (dockerapi.h): the label that marks what a manager made, the blocking
 * calls they make before and after the loop runs, and the one network each
 * pool puts its containers on (a bridge for docker, an overlay for swarm). */
#ifndef PP_DOCKER_COMMON_H
#define PP_DOCKER_COMMON_H

#include <cjson/cJSON.h>

struct dockerapi;
struct manager_config;

/* Every container, service and network a manager makes carries
 * proxypool.prefix=<its --prefix>: what crash cleanup and adoption look for. */
#define DOCKER_LABEL_PREFIX "proxypool.prefix"
/* Blocking calls (before and after the loop) wait this long. */
#define DOCKER_SYNC_TIMEOUT_MS 15000

/* GET path, blocking; the parsed JSON on status 200, else NULL with err
 * (*status -1 when no reply came). */
cJSON *docker_get_json(struct dockerapi *api, const char *path, long *status, char *err,
                       size_t errlen);
/* METHOD path with json (NULL: none), blocking: the status (err holds the
 * daemon's message when it is 300 or more), or -1 with err. With out, the
 * body is handed over (the caller frees it). */
long docker_call_status(struct dockerapi *api, const char *method, const char *path,
                        const char *json, char **out, char *err, size_t errlen);
/* The value of label key in obj's "Labels" (containers, networks) or, for
 * services, "Spec"."Labels"; NULL when absent. */
const char *docker_label_of(const cJSON *obj, const char *key);

/* The pool's network, --bridge on --subnet (gateway its first address) with
 * driver ("bridge" or "overlay"): kept when an earlier run of this prefix
 * made it, made when missing, refused when someone else's. log_as names the
 * runtime in the log ("docker", "swarm"). 0, or -1 with err. */
int docker_network_ensure(struct dockerapi *api, const struct manager_config *cfg,
                          const char *driver, const char *log_as, char *err, size_t errlen);

#endif
