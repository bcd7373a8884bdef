/* Names to operation tables, resolved once: a runtime ("process",
 * "container") and a forwarding mode ("none", "nat", "route", "balancer")
 * are looked up here when the configuration or a request names them, and
 * from then on only their tables are passed around. */
#ifndef PP_REGISTRY_H
#define PP_REGISTRY_H

struct fwd_ops;
struct runtime_ops;

/* The runtime called name, or NULL. */
const struct runtime_ops *registry_runtime(const char *name);

/* The forwarding mode called name: 0 with *ops (NULL for "none"), or -1
 * when no mode has that name. */
int registry_forwarding(const char *name, const struct fwd_ops **ops);

/* "none, nat, route or balancer": for a message. */
const char *registry_forwarding_names(void);

#endif
