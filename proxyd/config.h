/* proxyd's configuration: one struct, defaults set in one place, filled from
 * an optional JSON file (--config) and then the command line, which wins. */
#ifndef PP_PROXYD_CONFIG_H
#define PP_PROXYD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "addr.h"
#include "log.h"

struct acl;

enum listen_mode { LISTEN_FORWARD = 0, LISTEN_INTERCEPT, LISTEN_REVERSE };

#define PROXYD_MAX_LISTENERS 16

struct listen_spec {
    enum listen_mode mode;
    struct addr addr;
    /* Reverse mode: the one origin. */
    char origin_host[256];
    int origin_port;
};

struct proxyd_config {
    struct listen_spec listeners[PROXYD_MAX_LISTENERS];
    size_t nlisteners;
    struct addr admin;
    int have_admin;
    char name[64];
    uint64_t cache_mem_bytes;  /* default 256M, as asked of Squid-like cache_mem */
    uint64_t max_object_bytes; /* default 1M, Squid maximum_object_size_in_memory */
    uint64_t max_variants;     /* Vary variants per URL (cache.h CACHE_DEFAULT_MAX_VARIANTS) */
    uint64_t max_vary_bytes;   /* request values one variant stores for its Vary match */
    int cache_enabled;
    int threads;
    char access_log[1024];
    struct acl *acl;
    uint64_t connect_timeout_ms;  /* origin connect */
    uint64_t origin_timeout_ms;   /* origin first byte and between bytes */
    uint64_t header_timeout_ms;   /* whole request head (slowloris) */
    uint64_t idle_timeout_ms;     /* keep-alive wait for the next request */
    uint64_t client_timeout_ms;   /* client send/receive inactivity */
    uint64_t shutdown_timeout_ms; /* SIGTERM: in-flight requests get this long */
    uint64_t max_connections;     /* client connections of all threads together */
    int allow_trace;              /* serve TRACE (refused with 405 by default) */
    char user[64];                /* --user: who to become after binding; "" the default */
    enum log_level log_level;
    /* Derived at load: the Via and X-Cache lines every response carries,
     * formatted once instead of on each request. */
    char resp_tag_hit[200];
    char resp_tag_miss[200];
};

/* Fills defaults, then the JSON file named by --config (if any), then the
 * command line. Returns 0; 1 when --help or --version was printed; -1 with
 * err filled on a bad option or value. */
int config_load(struct proxyd_config *cfg, int argc, char **argv, char *err, size_t errlen);
void config_free(struct proxyd_config *cfg);
void config_usage(FILE *out);

#endif
