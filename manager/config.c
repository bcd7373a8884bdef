/* The manager's options: one table (common/options) gives the command line,
 * the JSON keys, the defaults and --help; the few values no kind of option
 * describes keep a setter here, each saying why. */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instance.h"
#include "options.h"
#include "size.h"
#include "worker/worker.h"

#define VERSION "0.1.0"

const char manager_version[] = VERSION;

/* The balancer's pick_ops names (balancer/pick.c): the manager cannot
 * include the balancer's headers, so the list is here, once. */
const char *const manager_balancer_algos[] = {"p2c-ewma", "leastconn", "roundrobin", "source",
                                              NULL};
/* runtime_process_ops, runtime_container_ops and runtime_docker_ops, by
 * name. */
static const char *const runtime_names[] = {"process", "container", "docker", "swarm", NULL};
/* "none" (clients use instance addresses) and the fwd_ops modes. */
static const char *const forwarding_names[] = {"none", "nat", "route", "balancer", NULL};

/* Custom: the kinds are worker.c's table, which says what each needs. */
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

/* Custom, for the repeatable pass-through arguments: each is copied. */
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

static int set_balancer_arg(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    return add_arg(c->balancer_args, &c->nbalancer_args, MANAGER_MAX_BALANCER_ARGS, v, e, n);
}

/* Custom: an ADDR:PORT with a rule the address kind does not check: IPv4. */
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

/* Custom: an address without a port (the port is per instance). */
static int set_process_addr(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    return addr_parse(v, 0, &c->process_addr, e, n);
}

/* Custom: a CIDR network, and one with room for every instance. */
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

/* Custom: a fraction of CPUs (cgroup quota), which no integer kind holds. */
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

/* Custom: names that become parts of link, namespace and cgroup names, so
 * only characters all three accept. */
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

/* Custom: the VIP's port may be left out (3128), and it is IPv4 only. */
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

/* Custom: repeatable ranges that must not overlap; the first one given
 * replaces the default. */
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

/* Custom: --autoscale MIN..MAX turns the autoscaler on. */
static int set_autoscale(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    if (autoscale_parse_range(v, &c->autoscale.min, &c->autoscale.max, e, n) < 0)
        return -1;
    c->autoscale.enabled = 1;
    return 0;
}

static int set_autoscale_target(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    if (autoscale_parse_target(v, &c->autoscale.metric, &c->autoscale.target, e, n) < 0)
        return -1;
    c->autoscale_target_given = 1;
    return 0;
}

/* Custom: a percentage ("10%") or a ratio ("0.1"), below 100%. */
static int set_autoscale_tolerance(void *cfg, const char *v, char *e, size_t n)
{
    struct manager_config *c = cfg;
    char *end;
    double t = strtod(v, &end);
    if (end != v && strcmp(end, "%") == 0)
        t /= 100;
    else if (end == v || *end != '\0')
        t = -1;
    if (!(t >= 0 && t < 1)) {
        snprintf(e, n, "must be a percentage from 0%% to below 100%% (e.g. 10%%), not '%s'", v);
        return -1;
    }
    c->autoscale.tolerance = t;
    return 0;
}

/* The testbed's 64 clients (deploy/testbed, the paper's Fig. 4). */
#define MANAGER_DEFAULT_CLIENTS "198.18.1.1-198.18.1.64"
/* Instance k listens on base + k and serves its admin on base + 100 + k. */
#define MANAGER_MAX_BASE_PORT (65535 - 100 - POOL_MAX_INSTANCES)
/* Below this proxyd has no room for its cache. */
#define MANAGER_MIN_MEMORY_BYTES (16u << 20)

#define FIELD(member) OPTION_FIELD(struct manager_config, member)

static const struct option_def options[] = {
    {"api", OPTION_ADDR, FIELD(api), .arg = "ADDR:PORT", .help = "REST API address",
     .deflt = "127.0.0.1:9090"},
    {"runtime", OPTION_ENUM_NAME, FIELD(runtime), .arg = "process|container|docker|swarm",
     .help = "how instances live: proxyd processes on this host's ports; each in its own "
             "network, PID, mount, UTS and IPC namespaces with a veth to the manager's bridge "
             "and cgroup limits; or Docker containers of --docker-image on a bridge network "
             "named --bridge with --subnet, made through the Engine API on --docker-socket "
             "(proxyd workers only); or the tasks of one Swarm service (named --prefix) of "
             "--docker-image on an overlay network named --bridge with --subnet, on a Swarm "
             "manager's --docker-socket, reached at their node's address and host-mode published "
             "ports (balancer forwarding; docs/swarm.md)",
     .deflt = "process", .names = runtime_names},
    {"replicas", OPTION_COUNT, FIELD(replicas), .arg = "N",
     .help = "instances to start with, 1..32", .deflt = "1", .min = 1, .max = POOL_MAX_INSTANCES},
    {"worker", .arg = "proxyd|squid|nginx",
     .help = "what each instance runs: proxyd; Debian's Squid 5 with a generated squid.conf (the "
             "paper's memory cache: 260 MB, objects up to 1024 KB, the limit raised by 16 KB "
             "because Squid 5 counts headers in it); or nginx with a generated nginx.conf (one "
             "worker process, proxy_cache of 260 MB on tmpfs in /dev/shm, proxy_cache_lock on). "
             "Squid and nginx have no admin endpoint: their readiness is probed on their service "
             "port. They take --proxy-arg=--no-cache, --cache-mem=SIZE and --max-object-size=SIZE "
             "only",
     .deflt = "proxyd", .set = set_worker},
    {"proxyd", OPTION_STRING, FIELD(proxyd_path), .arg = "PATH", .help = "the proxyd binary",
     .deflt_text = "proxyd beside the manager binary", .min = 1},
    {"squid", OPTION_STRING, FIELD(squid_path), .arg = "PATH",
     .help = "the squid binary (--worker squid)", .deflt = "/usr/sbin/squid", .min = 1},
    {"nginx", OPTION_STRING, FIELD(nginx_path), .arg = "PATH",
     .help = "the nginx binary (--worker nginx)", .deflt = "/usr/sbin/nginx", .min = 1},
    {"proxy-arg", .arg = "ARG",
     .help = "argument passed to every proxyd (e.g. --proxy-arg=--cache-mem=260M); repeatable. "
             "Squid and nginx workers read --no-cache, --cache-mem and --max-object-size from "
             "these into their configuration",
     .set = set_proxy_arg},
    {"base-port", OPTION_COUNT, FIELD(base_port), .arg = "PORT",
     .help = "process runtime: instance k listens on PORT+k, its admin endpoint on PORT+100+k",
     .deflt = "3128", .min = 1, .max = MANAGER_MAX_BASE_PORT,
     .limit_why = "PORT+100+32 must be a port"},
    {"process-addr", .arg = "ADDR", .help = "process runtime: the address instances listen on",
     .deflt = "127.0.0.1", .set = set_process_addr},
    {"docker-socket", OPTION_STRING, FIELD(docker_socket), .arg = "PATH",
     .help = "docker and swarm runtimes: the Docker Engine API's unix socket",
     .deflt = "/var/run/docker.sock", .min = 1},
    {"docker-image", OPTION_STRING, FIELD(docker_image), .arg = "NAME:TAG",
     .help = "docker and swarm runtimes: the image instances run (make images builds it; swarm: "
             "on every node)",
     .deflt = "proxypool/proxyd:" VERSION, .min = 1},
    {"subnet", .arg = "CIDR",
     .help =
         "container and docker runtimes: instance addresses; the bridge takes the first "
         "(container runtime: instance k the (k+1)th; docker: the daemon assigns them; swarm: the "
         "overlay network's subnet, while instances are reached at their node's address)",
     .deflt = "198.19.0.0/24", .set = set_subnet},
    /* The paper's Docker limits: 4 CPUs and 4 GB per container. */
    {"cpus", .arg = "N",
     .help = "container, docker and swarm runtimes: CPU limit per instance (cgroup quota; Docker "
             "caps it "
             "at this host's CPU count)",
     .deflt = "4", .set = set_cpus},
    {"memory", OPTION_SIZE, FIELD(memory_bytes), .arg = "SIZE",
     .help = "container, docker and swarm runtimes: memory limit per instance", .deflt = "4G",
     .min = MANAGER_MIN_MEMORY_BYTES, .limit_why = "proxyd needs room for its cache"},
    {"state-dir", OPTION_STRING, FIELD(state_dir), .arg = "DIR",
     .help = "instance logs, pid files (with each child's start time) and the API token; created "
             "0700, refused when another user owns it, group or others may write it, or it holds "
             "a symlink",
     .deflt = "/run/proxypool", .min = 1},
    {"token-file", OPTION_STRING, FIELD(token_file), .arg = "FILE",
     .help = "API writes (and the balancer's admin writes) need 'Authorization: Bearer <the "
             "file's token>'; the file must be owned by the manager's user and unreadable by "
             "group and others. Without it, the token is STATE-DIR/api.token, generated (0600) at "
             "the first start",
     .deflt_text = "STATE-DIR/api.token", .min = 1},
    {"no-auth", OPTION_FLAG, FIELD(no_auth),
     .help = "API writes need no token (any process that reaches the API can change the pool); "
             "a warning says so at start"},
    {"bridge", .arg = "NAME",
     .help =
         "container runtime: the bridge the manager owns; docker: the name of the bridge "
         "network the manager creates and of its bridge; swarm: the name of its overlay network",
     .deflt = "pp-br0", .set = set_bridge},
    {"prefix", .arg = "NAME",
     .help = "prefix of every link, namespace and cgroup the manager makes (what crash cleanup "
             "removes)",
     .deflt = "pp", .set = set_prefix},
    {"drain-timeout", OPTION_DURATION, FIELD(drain_timeout_ms), .arg = "DURATION",
     .help = "scale-down: an instance's in-flight requests get this long", .deflt = "30s"},
    {"ready-timeout", OPTION_DURATION, FIELD(ready_timeout_ms), .arg = "DURATION",
     .help = "an instance not healthy this long after its start has failed", .deflt = "10s",
     .min = 1, .limit_why = "a timeout of 0 would fire at once"},
    /* kube-proxy re-applies its rules every 30 s (syncPeriod) and we hold
     * far fewer; 5 s bounds how long a rule someone deleted stays gone. */
    {"reconcile-interval", OPTION_DURATION, FIELD(reconcile_interval_ms), .arg = "DURATION",
     .help = "how often the forwarding mode's state (nat: its chain and jumps; balancer: its "
             "backend set) is compared with the desired one and repaired where it drifted; "
             "nothing is written when it matches. 0: never",
     .deflt = "5s"},
    {"forwarding", OPTION_ENUM_NAME, FIELD(forwarding), .arg = "none|nat|route|balancer",
     .help = "how clients reach instances: none (they use instance addresses), nat (iptables "
             "DNAT from the VIP by client block), route (policy routing by client block to "
             "instances owning the VIP; container runtime only), balancer (the balancer program "
             "listens on the VIP, which the manager adds to its lo, and relays each connection to "
             "a ready instance)",
     .deflt = "none", .names = forwarding_names},
    {"vip", .arg = "ADDR:PORT", .help = "the service address clients send to",
     .deflt = "198.19.255.10:3128", .set = set_vip},
    {"balancer", OPTION_STRING, FIELD(balancer_path), .arg = "PATH",
     .help = "balancer mode: the balancer binary",
     .deflt_text = "balancer beside the manager binary", .min = 1},
    {"balancer-algo", OPTION_ENUM_NAME, FIELD(balancer_algo), .arg = "ALGO",
     .help = "balancer mode: how it picks an instance per connection: p2c-ewma, leastconn, "
             "roundrobin or source",
     .deflt = "p2c-ewma", .names = manager_balancer_algos},
    {"balancer-admin", .arg = "ADDR:PORT",
     .help = "balancer mode: the balancer's admin API, which the manager tells the backend set",
     .deflt = "127.0.0.1:9101", .set = set_balancer_admin},
    {"balancer-arg", .arg = "ARG",
     .help = "balancer mode: argument passed to the balancer after the manager's own (e.g. "
             "--balancer-arg=--check-interval=1s); repeatable",
     .set = set_balancer_arg},
    {"clients", .arg = "A-B|CIDR",
     .help = "client addresses, partitioned in order over the instances; repeatable; the first "
             "replaces the default",
     .deflt_text = MANAGER_DEFAULT_CLIENTS, .set = set_clients},
    {"log-level", OPTION_ENUM, FIELD(log_level), .arg = "LEVEL",
     .help = "debug, info, warn or error", .deflt = "info", .names = log_level_names},
    {"keep-on-exit", OPTION_FLAG, FIELD(keep_on_exit),
     .help = "on SIGTERM or SIGINT, exit leaving the instances, the forwarding rules and the "
             "balancer running, for the next manager to adopt (SIGUSR2 does so always)"},
    {"autoscale", .arg = "MIN..MAX",
     .help = "scale the pool by itself between MIN and MAX replicas (1..32) to keep "
             "--autoscale-target; a manual PUT /v1/pool is then refused (409) until PUT "
             "/v1/autoscale {\"enabled\": false} or `ppctl autoscale off`",
     .deflt_text = "off", .set = set_autoscale},
    {"autoscale-target", .arg = "p99=DURATION|cpu=PERCENT",
     .help = "what the autoscaler keeps: the 99th percentile of time to first byte (balancer "
             "mode: the balancer's per-instance histograms; otherwise each proxyd's "
             "/metrics), or the instances' CPU use against their limit (--cpus, or one CPU "
             "for processes), e.g. p99=200ms or cpu=70%",
     .set = set_autoscale_target},
    {"autoscale-up-window", OPTION_DURATION, FIELD(autoscale.up_window_ms), .arg = "DURATION",
     .help = "the measure is taken over this much of the past; the pool grows as soon as it is "
             "over target",
     .deflt = "2s", .min = 1, .limit_why = "a window needs a length"},
    {"autoscale-down-window", OPTION_DURATION, FIELD(autoscale.down_window_ms), .arg = "DURATION",
     .help = "the pool shrinks only to the largest size wanted during this whole window (an "
             "idle pool goes to MIN after it)",
     .deflt = "60s", .min = 1, .limit_why = "a window needs a length"},
    {"autoscale-tolerance", .arg = "PERCENT",
     .help = "no change while the measure is within this of the target", .deflt = "10%",
     .set = set_autoscale_tolerance},
    {"autoscale-max-step", OPTION_COUNT, FIELD(autoscale.max_step), .arg = "N",
     .help = "replicas one decision adds or removes at most", .deflt = "4", .min = 1,
     .max = POOL_MAX_INSTANCES},
    {"autoscale-cooldown", OPTION_DURATION, FIELD(autoscale.cooldown_ms), .arg = "DURATION",
     .help = "no decision this long after a change ended", .deflt = "3s"},
    {"autoscale-sample", OPTION_DURATION, FIELD(autoscale.sample_ms), .arg = "DURATION",
     .help = "how often the autoscaler samples its metric", .deflt = "500ms", .min = 50,
     .limit_why = "sampling faster costs more than it tells"},
    {"features", OPTION_FLAG, FIELD(print_features),
     .help = "print what this manager supports (runtimes, forwarding modes, workers, balancer "
             "algorithms, max replicas) as a JSON object and exit"},
};

static const struct options_spec manager_options = {
    .program = "manager",
    .version = VERSION,
    .synopsis = "Usage: manager [OPTION]...\n"
                "Keeps N proxy instances (1..32: proxyd, Squid or nginx, see --worker) running\n"
                "as processes or namespace containers, restarts crashed ones, and scales the\n"
                "pool through a REST API\n"
                "(GET/PUT /v1/pool, /v1/pool/instances/{id}, GET/PUT /v1/forwarding,\n"
                "GET /v1/partition, GET/PUT /v1/autoscale, GET /v1/prometheus/targets,\n"
                "/healthz, /metrics), or by itself on latency or CPU (--autoscale), and shows\n"
                "it on a status page at GET / of the same port. Clients reach the instances\n"
                "through the VIP by nat, route or balancer forwarding.\n",
    .epilog = "SIZE: 512M, 4G. DURATION: 500ms, 10s. Signals: SIGTERM and SIGINT drain and stop\n"
              "every instance and remove what the manager made, then exit.\n"
              "Example: manager --runtime process --replicas 4 --state-dir /tmp/pp\n"
              "         manager --replicas 4 --forwarding balancer --vip 198.19.255.10:3128\n"
              "         manager --worker squid --runtime container --replicas 4\n",
    .defs = options,
    .ndefs = sizeof(options) / sizeof(options[0]),
};

/* The directory of this binary ("build/bin/"), where proxyd and the
 * balancer are looked for by default. */
static void self_dir(char *out, size_t outlen, const char *argv0)
{
    ssize_t n = readlink("/proc/self/exe", out, outlen - 1);
    if (n <= 0) {
        snprintf(out, outlen, "%s", argv0);
        n = (ssize_t)strlen(out);
    }
    out[n] = '\0';
    char *slash = strrchr(out, '/');
    if (slash)
        slash[1] = '\0';
    else
        snprintf(out, outlen, "./");
}

/* The table's defaults, then the ones computed here: the binaries beside
 * this one, and the client ranges (repeatable, so no single value). */
static int manager_config_defaults(struct manager_config *c, const char *argv0, char *err,
                                   size_t errlen)
{
    memset(c, 0, sizeof(*c));
    autoscale_settings_default(&c->autoscale);
    if (options_defaults(&manager_options, c, err, errlen) < 0)
        return -1;
    char self[sizeof(c->proxyd_path) - 16];
    self_dir(self, sizeof(self), argv0);
    snprintf(c->proxyd_path, sizeof(c->proxyd_path), "%sproxyd", self);
    snprintf(c->balancer_path, sizeof(c->balancer_path), "%sbalancer", self);
    if (set_clients(c, MANAGER_DEFAULT_CLIENTS, err, errlen) < 0)
        return -1;
    c->clients_from_default = 1;
    return 0;
}

int manager_config_load(struct manager_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    if (manager_config_defaults(cfg, argv[0], err, errlen) < 0)
        return -1;
    int rc = options_load(&manager_options, cfg, argc, argv, NULL, err, errlen);
    if (rc != 0)
        return rc;
    /* --features describes the build, not this host: no binary need exist. */
    if (cfg->print_features)
        return 0;
    /* The binary is there and the --proxy-arg ones mean something to it. */
    if (worker_kind_find(cfg->worker)->check(cfg, err, errlen) < 0)
        return -1;
    if (cfg->autoscale_target_given && !cfg->autoscale.enabled) {
        snprintf(err, errlen, "--autoscale-target needs --autoscale MIN..MAX");
        return -1;
    }
    if (cfg->autoscale.enabled && !cfg->autoscale_target_given) {
        snprintf(err, errlen, "--autoscale needs --autoscale-target (e.g. p99=200ms or cpu=70%%)");
        return -1;
    }
    char why[256];
    if (autoscale_settings_check(&cfg->autoscale, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "--autoscale: %s", why);
        return -1;
    }
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
