/* `manager --features`: what this manager build supports (runtimes,
 * forwarding modes, worker kinds, balancer algorithms, pool size) as one
 * JSON object, so a driver such as ppexp asks the manager instead of
 * reading its --help prose. */
#ifndef PP_MANAGER_FEATURES_H
#define PP_MANAGER_FEATURES_H

#include <stddef.h>

/* The object, pretty-printed and owned by the caller (free()), or NULL with
 * err filled when memory ran out. */
char *manager_features_json(char *err, size_t errlen);

#endif
