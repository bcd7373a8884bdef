/* The manager's options (one table, common/options) and their defaults. */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "size.h"
#include "worker/worker.h"

#define VERSION "0.1.0"

static int set_api(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    return addr_parse(v, -1, &c->api, e, n);
}

static int set_runtime(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    if (strcmp(v, "process") != 0 && strcmp(v, "container") != 0) {
        snprintf(e, n, "is process or container, not '%s'", v);
        return -1;
    }
    snprintf(c->runtime, sizeof(c->runtime), "%s", v);
    return 0;
}

static int set_replicas(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    long r;
    if (int_parse(v, 1, 32, &r, e, n) < 0)
        return -1;
    c->replicas = (int)r;
    return 0;
}

static int set_path(char *dst, size_t dstlen, const char *v, char *e, size_t n)
{
    if (!v[0] || strlen(v) >= dstlen) {
        snprintf(e, n, "path empty or longer than %zu bytes", dstlen - 1);
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int set_proxyd(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    return set_path(c->proxyd_path, sizeof(c->proxyd_path), v, e, n);
}

static int set_worker(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    if (!worker_kind_find(v)) {
        snprintf(e, n, "is proxyd, squid or nginx, not '%s'", v);
        return -1;
    }
    snprintf(c->worker, sizeof(c->worker), "%s", v);
    return 0;
}

static int set_squid(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    return set_path(c->squid_path, sizeof(c->squid_path), v, e, n);
}

static int set_nginx(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    return set_path(c->nginx_path, sizeof(c->nginx_path), v, e, n);
}

static int add_arg(char **args, size_t *nargs, size_t max, const char *v, char *e, size_t n)
{
    if (*nargs == max) {
        snprintf(e, n, "at most %zu", max);
        return -1;
    }
    char *copy = strdup(v);
    if (!copy) {
        snprintf(e, n, "out of memory");
        return -1;
    }
    args[(*nargs)++] = copy;
    return 0;
}

static int set_proxy_arg(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    return add_arg(c->proxy_args, &c->nproxy_args, MANAGER_MAX_PROXY_ARGS, v, e, n);
}

static int set_balancer(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    return set_path(c->balancer_path, sizeof(c->balancer_path), v, e, n);
}

static int set_balancer_algo(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    static const char *const algos[] = {"p2c-ewma", "leastconn", "roundrobin", "source"};
    for (size_t i = 0; i < sizeof(algos) / sizeof(algos[0]); i++) {
        if (strcmp(v, algos[i]) == 0) {
            snprintf(c->balancer_algo, sizeof(c->balancer_algo), "%s", v);
            return 0;
        }
    }
    snprintf(e, n, "is p2c-ewma, leastconn, roundrobin or source, not '%s'", v);
    return -1;
}

static int set_balancer_admin(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    if (addr_parse(v, -1, &c->balancer_admin, e, n) < 0)
        return -1;
    if (c->balancer_admin.ss.ss_family != AF_INET) {
        snprintf(e, n, "must be an IPv4 address and port");
        return -1;
    }
    return 0;
}

static int set_balancer_arg(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    return add_arg(c->balancer_args, &c->nbalancer_args, MANAGER_MAX_BALANCER_ARGS, v, e, n);
}

static int set_base_port(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    long p;
    /* Instance k listens on base + k and serves its admin on base + 100 + k. */
    if (int_parse(v, 1, 65535 - 100 - 32, &p, e, n) < 0)
        return -1;
    c->base_port = (int)p;
    return 0;
}

static int set_process_addr(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    return addr_parse(v, 0, &c->process_addr, e, n);
}

static int set_subnet(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    if (cidr_parse(v, &c->subnet, e, n) < 0)
        return -1;
    /* The bridge, 32 instances, network and broadcast addresses. */
    if (c->subnet.family != AF_INET || c->subnet.prefix_len > 26) {
        snprintf(e, n, "must be an IPv4 network of /26 or larger (room for 32 instances)");
        return -1;
    }
    return 0;
}

static int set_cpus(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !(d >= 0.01 && d <= 1024)) {
        snprintf(e, n, "is a number of CPUs from 0.01 to 1024, not '%s'", v);
        return -1;
    }
    c->cpus = d;
    return 0;
}

static int set_memory(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    if (size_parse(v, &c->memory_bytes, e, n) < 0)
        return -1;
    if (c->memory_bytes < (16u << 20)) {
        snprintf(e, n, "is at least 16M (proxyd needs room for its cache)");
        return -1;
    }
    return 0;
}

static int set_state_dir(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    return set_path(c->state_dir, sizeof(c->state_dir), v, e, n);
}

static int set_token_file(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    return set_path(c->token_file, sizeof(c->token_file), v, e, n);
}

static int set_no_auth(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    c->no_auth = 1;
    return 0;
}

static int set_name_part(char *dst, size_t dstlen, const char *v, char *e, size_t n)
{
    size_t len = strlen(v);
    if (len == 0 || len >= dstlen) {
        snprintf(e, n, "must be 1 to %zu characters", dstlen - 1);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '-')) {
            snprintf(e, n, "may hold a-z, 0-9 and '-' only");
            return -1;
        }
    }
    memcpy(dst, v, len + 1);
    return 0;
}

static int set_bridge(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    return set_name_part(c->bridge, sizeof(c->bridge), v, e, n);
}

static int set_prefix(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    return set_name_part(c->prefix, sizeof(c->prefix), v, e, n);
}

static int set_drain_timeout(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    return duration_parse_ms(v, &c->drain_timeout_ms, e, n);
}

static int set_ready_timeout(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    if (duration_parse_ms(v, &c->ready_timeout_ms, e, n) < 0)
        return -1;
    if (c->ready_timeout_ms == 0) {
        snprintf(e, n, "a timeout of 0 would fire at once");
        return -1;
    }
    return 0;
}

static int set_forwarding(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    if (strcmp(v, "none") != 0 && strcmp(v, "nat") != 0 && strcmp(v, "route") != 0 &&
        strcmp(v, "balancer") != 0) {
        snprintf(e, n, "is none, nat, route or balancer, not '%s'", v);
        return -1;
    }
    snprintf(c->forwarding, sizeof(c->forwarding), "%s", v);
    return 0;
}

static int set_vip(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    if (addr_parse(v, 3128, &c->vip, e, n) < 0)
        return -1;
    if (c->vip.ss.ss_family != AF_INET) {
        snprintf(e, n, "must be an IPv4 address");
        return -1;
    }
    return 0;
}

static int set_clients(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    if (c->clients_from_default) { /* the first --clients replaces the default */
        c->nclient_ranges = 0;
        c->clients_from_default = 0;
    }
    if (c->nclient_ranges == MANAGER_MAX_CLIENT_RANGES) {
        snprintf(e, n, "at most %d ranges", MANAGER_MAX_CLIENT_RANGES);
        return -1;
    }
    struct client_range r;
    if (client_range_parse(v, &r, e, n) < 0)
        return -1;
    for (size_t i = 0; i < c->nclient_ranges; i++) {
        if (r.first <= c->client_ranges[i].last && c->client_ranges[i].first <= r.last) {
            snprintf(e, n, "'%s' overlaps an earlier range", v);
            return -1;
        }
    }
    c->client_ranges[c->nclient_ranges++] = r;
    return 0;
}

static int set_log_level(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    if (log_parse_level(v, &c->log_level) < 0) {
        snprintf(e, n, "is debug, info, warn or error, not '%s'", v);
        return -1;
    }
    return 0;
}

static const struct option_def options[] = {
    {"api", "ADDR:PORT", "REST API address", "127.0.0.1:9090", set_api},
    {"runtime", "process|container",
     "how instances live: proxyd processes on this host's ports, or each in its own network, "
     "PID, mount, UTS and IPC namespaces with a veth to the manager's bridge and cgroup limits",
     "process", set_runtime},
    {"replicas", "N", "instances to start with, 1..32", "1", set_replicas},
    {"worker", "proxyd|squid|nginx",
     "what each instance runs: proxyd; Debian's Squid 5 with a generated squid.conf (the "
     "paper's memory cache: 260 MB, objects up to 1024 KB, the limit raised by 16 KB because "
     "Squid 5 counts headers in it); or nginx with a generated nginx.conf (one worker process, "
     "proxy_cache of 260 MB on tmpfs in /dev/shm, proxy_cache_lock on). Squid and nginx have "
     "no admin endpoint: their readiness is probed on their service port. They take "
     "--proxy-arg=--no-cache, --cache-mem=SIZE and --max-object-size=SIZE only",
     "proxyd", set_worker},
    {"proxyd", "PATH", "the proxyd binary", "proxyd beside the manager binary", set_proxyd},
    {"squid", "PATH", "the squid binary (--worker squid)", "/usr/sbin/squid", set_squid},
    {"nginx", "PATH", "the nginx binary (--worker nginx)", "/usr/sbin/nginx", set_nginx},
    {"proxy-arg", "ARG",
     "argument passed to every proxyd (e.g. --proxy-arg=--cache-mem=260M); "
     "repeatable. Squid and nginx workers read --no-cache, --cache-mem and "
     "--max-object-size from these into their configuration",
     NULL, set_proxy_arg},
    {"base-port", "PORT",
     "process runtime: instance k listens on PORT+k, its admin endpoint on PORT+100+k", "3128",
     set_base_port},
    {"process-addr", "ADDR", "process runtime: the address instances listen on", "127.0.0.1",
     set_process_addr},
    {"subnet", "CIDR",
     "container runtime: instance addresses; the bridge takes the first, instance k the (k+1)th",
     "198.19.0.0/24", set_subnet},
    {"cpus", "N", "container runtime: CPU limit per instance (cgroup quota)", "4", set_cpus},
    {"memory", "SIZE", "container runtime: memory limit per instance", "4G", set_memory},
    {"state-dir", "DIR",
     "instance logs, pid files (with each child's start time) and the API token; created "
     "0700, refused when another user owns it, group or others may write it, or it holds a "
     "symlink",
     "/run/proxypool", set_state_dir},
    {"token-file", "FILE",
     "API writes (and the balancer's admin writes) need 'Authorization: Bearer <the file's "
     "token>'; the file must be owned by the manager's user and unreadable by group and "
     "others. Without it, the token is STATE-DIR/api.token, generated (0600) at the first start",
     "STATE-DIR/api.token", set_token_file},
    {"no-auth", NULL,
     "API writes need no token (any process that reaches the API can change the pool); "
     "a warning says so at start",
     NULL, set_no_auth},
    {"bridge", "NAME", "container runtime: the bridge the manager owns", "pp-br0", set_bridge},
    {"prefix", "NAME",
     "prefix of every link, namespace and cgroup the manager makes (what crash cleanup removes)",
     "pp", set_prefix},
    {"drain-timeout", "DURATION", "scale-down: an instance's in-flight requests get this long",
     "30s", set_drain_timeout},
    {"ready-timeout", "DURATION", "an instance not healthy this long after its start has failed",
     "10s", set_ready_timeout},
    {"forwarding", "none|nat|route|balancer",
     "how clients reach instances: none (they use instance addresses), nat (iptables DNAT from "
     "the VIP by client block), route (policy routing by client block to instances owning the "
     "VIP; container runtime only), balancer (the balancer program listens on the VIP, which "
     "the manager adds to its lo, and relays each connection to a ready instance)",
     "none", set_forwarding},
    {"vip", "ADDR:PORT", "the service address clients send to", "198.19.255.10:3128", set_vip},
    {"balancer", "PATH", "balancer mode: the balancer binary", "balancer beside the manager binary",
     set_balancer},
    {"balancer-algo", "ALGO",
     "balancer mode: how it picks an instance per connection: p2c-ewma, leastconn, roundrobin "
     "or source",
     "p2c-ewma", set_balancer_algo},
    {"balancer-admin", "ADDR:PORT",
     "balancer mode: the balancer's admin API, which the manager tells the backend set",
     "127.0.0.1:9101", set_balancer_admin},
    {"balancer-arg", "ARG",
     "balancer mode: argument passed to the balancer after the manager's own (e.g. "
     "--balancer-arg=--check-interval=1s); repeatable",
     NULL, set_balancer_arg},
    {"clients", "A-B|CIDR",
     "client addresses, partitioned in order over the instances; "
     "repeatable; the first replaces the default",
     "198.18.1.1-198.18.1.64", set_clients},
    {"log-level", "LEVEL", "debug, info, warn or error", "info", set_log_level},
};

static const struct options_spec manager_options = {
    .program = "manager",
    .version = VERSION,
    .synopsis = "Usage: manager [OPTION]...\n"
                "Keeps N proxy instances (1..32: proxyd, Squid or nginx, see --worker) running\n"
                "as processes or namespace containers, restarts crashed ones, and scales the\n"
                "pool through a REST API\n"
                "(GET/PUT /v1/pool, /v1/pool/instances/{id}, GET/PUT /v1/forwarding,\n"
                "GET /v1/partition, /healthz, /metrics). Clients reach the instances through\n"
                "the VIP by nat, route or balancer forwarding.\n",
    .epilog = "SIZE: 512M, 4G. DURATION: 500ms, 10s. Signals: SIGTERM and SIGINT drain and stop\n"
              "every instance and remove what the manager made, then exit.\n"
              "Example: manager --runtime process --replicas 4 --state-dir /tmp/pp\n"
              "         manager --replicas 4 --forwarding balancer --vip 198.19.255.10:3128\n"
              "         manager --worker squid --runtime container --replicas 4\n",
    .defs = options,
    .ndefs = sizeof(options) / sizeof(options[0]),
};

static void manager_config_defaults(struct manager_config *c, const char *argv0)
{
    memset(c, 0, sizeof(*c));
    char err[64];
    addr_parse("127.0.0.1:9090", -1, &c->api, err, sizeof(err));
    snprintf(c->runtime, sizeof(c->runtime), "process");
    snprintf(c->worker, sizeof(c->worker), "proxyd");
    snprintf(c->squid_path, sizeof(c->squid_path), "/usr/sbin/squid");
    snprintf(c->nginx_path, sizeof(c->nginx_path), "/usr/sbin/nginx");
    c->replicas = 1;
    /* proxyd beside the manager binary: build/bin/manager -> build/bin/proxyd. */
    char self[sizeof(c->proxyd_path) - 8];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        snprintf(self, sizeof(self), "%s", argv0);
        n = (ssize_t)strlen(self);
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        slash[1] = '\0';
    else
        self[0] = '\0';
    snprintf(c->proxyd_path, sizeof(c->proxyd_path), "%sproxyd", self[0] ? self : "./");
    snprintf(c->balancer_path, sizeof(c->balancer_path), "%sbalancer", self[0] ? self : "./");
    snprintf(c->balancer_algo, sizeof(c->balancer_algo), "p2c-ewma");
    addr_parse("127.0.0.1:9101", -1, &c->balancer_admin, err, sizeof(err));
    c->base_port = 3128;
    addr_parse("127.0.0.1", 0, &c->process_addr, err, sizeof(err));
    cidr_parse("198.19.0.0/24", &c->subnet, err, sizeof(err));
    /* The paper's Docker limits: 4 CPUs and 4 GB per container. */
    c->cpus = 4;
    c->memory_bytes = 4ull << 30;
    snprintf(c->state_dir, sizeof(c->state_dir), "/run/proxypool");
    snprintf(c->bridge, sizeof(c->bridge), "pp-br0");
    snprintf(c->prefix, sizeof(c->prefix), "pp");
    c->drain_timeout_ms = 30000;
    c->ready_timeout_ms = 10000;
    snprintf(c->forwarding, sizeof(c->forwarding), "none");
    addr_parse("198.19.255.10:3128", -1, &c->vip, err, sizeof(err));
    /* The testbed's 64 clients (deploy/testbed, the paper's Fig. 4). */
    client_range_parse("198.18.1.1-198.18.1.64", &c->client_ranges[0], err, sizeof(err));
    c->nclient_ranges = 1;
    c->clients_from_default = 1;
    c->log_level = LOG_LEVEL_INFO;
}

int manager_config_load(struct manager_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    manager_config_defaults(cfg, argv[0]);
    int rc = options_load(&manager_options, cfg, argc, argv, NULL, err, errlen);
    if (rc != 0)
        return rc;
    /* The binary is there and the --proxy-arg ones mean something to it. */
    if (worker_kind_find(cfg->worker)->check(cfg, err, errlen) < 0)
        return -1;
    if (cfg->no_auth && cfg->token_file[0] != '\0') {
        snprintf(err, errlen, "--no-auth and --token-file contradict each other");
        return -1;
    }
    /* Entering balancer mode later (PUT /v1/forwarding) says so when it fails. */
    if (strcmp(cfg->forwarding, "balancer") == 0 && access(cfg->balancer_path, X_OK) != 0) {
        snprintf(err, errlen, "balancer not found or not executable at %s (see --balancer)",
                 cfg->balancer_path);
        return -1;
    }
    return 0;
}

void manager_config_free(struct manager_config *cfg)
{
    for (size_t i = 0; i < cfg->nproxy_args; i++)
        free(cfg->proxy_args[i]);
    cfg->nproxy_args = 0;
    for (size_t i = 0; i < cfg->nbalancer_args; i++)
        free(cfg->balancer_args[i]);
    cfg->nbalancer_args = 0;
}
