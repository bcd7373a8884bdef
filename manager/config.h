/* The manager's configuration: one struct, defaults in one place, filled
 * from an optional JSON file (--config) and then the command line. */
#ifndef PP_MANAGER_CONFIG_H
#define PP_MANAGER_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "addr.h"
#include "apiauth.h"
#include "autoscale_rule.h"
#include "log.h"
#include "partition.h"

#define MANAGER_MAX_PROXY_ARGS 32
#define MANAGER_MAX_CLIENT_RANGES 16
#define MANAGER_MAX_BALANCER_ARGS 32

struct manager_config {
    struct addr api;        /* default 127.0.0.1:9090 */
    char runtime[16];       /* "process", "container" or "docker" */
    int replicas;           /* initial desired count, 1..32 (default 1) */
    char worker[16];        /* what instances run: proxyd (default), squid, nginx */
    char proxyd_path[1024]; /* default: proxyd beside the manager binary */
    char squid_path[1024];  /* default /usr/sbin/squid */
    char nginx_path[1024];  /* default /usr/sbin/nginx */
    char *proxy_args[MANAGER_MAX_PROXY_ARGS];
    size_t nproxy_args;
    int base_port;                     /* process runtime: instance k listens on base_port + k */
    struct addr process_addr;          /* process runtime: the address instances listen on */
    struct cidr subnet;                /* container runtime addresses; the bridge takes the first */
    char docker_socket[108];           /* docker runtime: the Engine API's unix socket */
    char docker_image[256];            /* docker runtime: what instances run */
    double cpus;                       /* container CPU limit (default 4) */
    uint64_t memory_bytes;             /* container memory limit (default 4G) */
    char state_dir[512];               /* logs, pid files */
    char token_file[600];              /* the API's bearer token; default STATE_DIR/api.token */
    int no_auth;                       /* --no-auth: API writes need no token (a warning says so) */
    char token[APIAUTH_TOKEN_MAX + 1]; /* loaded by api_token_prepare; the balancer's too */
    size_t token_len;
    char bridge[16];            /* container runtime: the bridge's name (default pp-br0) */
    char prefix[8];             /* names of links, namespaces, cgroups: "pp" */
    uint64_t drain_timeout_ms;  /* scale-down: in-flight requests get this long */
    uint64_t ready_timeout_ms;  /* an instance not healthy by then has failed */
    char forwarding[16];        /* none, nat, route, balancer */
    struct addr vip;            /* the service address clients send to */
    char balancer_path[1024];   /* default: balancer beside the manager binary */
    char balancer_algo[16];     /* p2c-ewma (default), leastconn, roundrobin, source */
    struct addr balancer_admin; /* the balancer's admin API (default 127.0.0.1:9101) */
    char *balancer_args[MANAGER_MAX_BALANCER_ARGS];
    size_t nbalancer_args;
    struct client_range client_ranges[MANAGER_MAX_CLIENT_RANGES];
    size_t nclient_ranges;    /* from --clients; default 198.18.1.1-198.18.1.64 */
    int clients_from_default; /* private: the first --clients replaces the default */
    enum log_level log_level;
    int keep_on_exit;   /* --keep-on-exit: SIGTERM leaves the pool serving */
    int print_features; /* --features: print manager_features_json() and exit */
    /* The forwarding state is checked and repaired this often; 0: never. */
    uint64_t reconcile_interval_ms;
    /* --autoscale and its --autoscale-* options; enabled by --autoscale. */
    struct autoscale_settings autoscale;
    int autoscale_target_given; /* private: --autoscale-target was given */
};

extern const char manager_version[];
/* --balancer-algo's values, NULL-terminated (also listed by --features). */
extern const char *const manager_balancer_algos[];

int manager_config_load(struct manager_config *cfg, int argc, char **argv, char *err,
                        size_t errlen);
void manager_config_free(struct manager_config *cfg);

#endif
