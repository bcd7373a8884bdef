/* proxyd's options: one table (common/options) drives the command line, the
 * JSON config file and --help. Defaults live in config_defaults. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "cache.h"
#include "options.h"
#include "size.h"

#define VERSION "0.1.0"

static int add_listener(struct proxyd_config *cfg, enum listen_mode mode, const char *v, char *err,
                        size_t errlen)
{
    if (cfg->nlisteners == PROXYD_MAX_LISTENERS) {
        snprintf(err, errlen, "at most %d listening addresses", PROXYD_MAX_LISTENERS);
        return -1;
    }
    struct listen_spec *ls = &cfg->listeners[cfg->nlisteners];
    memset(ls, 0, sizeof(*ls));
    ls->mode = mode;
    char addr[256];
    snprintf(addr, sizeof(addr), "%s", v);
    if (mode == LISTEN_REVERSE) {
        char *eq = strchr(addr, '=');
        if (!eq) {
            snprintf(err, errlen, "--reverse wants ADDR:PORT=http://HOST:PORT, got '%s'", v);
            return -1;
        }
        *eq = '\0';
        const char *url = eq + 1;
        if (strncmp(url, "http://", 7) != 0) {
            snprintf(err, errlen, "--reverse origin must be http://HOST:PORT, got '%s'", url);
            return -1;
        }
        url += 7;
        char hostport[256];
        snprintf(hostport, sizeof(hostport), "%s", url);
        size_t hl = strlen(hostport);
        if (hl && hostport[hl - 1] == '/')
            hostport[--hl] = '\0';
        char *colon = strrchr(hostport, ':');
        long port = 80;
        if (colon && !strchr(colon, ']')) {
            *colon = '\0';
            char perr[128];
            if (int_parse(colon + 1, 1, 65535, &port, perr, sizeof(perr)) < 0) {
                snprintf(err, errlen, "--reverse origin port: %s", perr);
                return -1;
            }
        }
        if (!hostport[0] || strchr(hostport, '/')) {
            snprintf(err, errlen, "--reverse origin must be http://HOST:PORT, got '%s'", eq + 1);
            return -1;
        }
        snprintf(ls->origin_host, sizeof(ls->origin_host), "%s", hostport);
        ls->origin_port = (int)port;
    }
    char aerr[128];
    if (addr_parse(addr, -1, &ls->addr, aerr, sizeof(aerr)) < 0) {
        snprintf(err, errlen, "listening address '%s': %s", addr, aerr);
        return -1;
    }
    cfg->nlisteners++;
    return 0;
}

static int set_listen(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    return add_listener(c, LISTEN_FORWARD, v, e, n);
}
static int set_intercept(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    return add_listener(c, LISTEN_INTERCEPT, v, e, n);
}
static int set_reverse(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    return add_listener(c, LISTEN_REVERSE, v, e, n);
}
static int set_admin(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    c->have_admin = 1;
    return addr_parse(v, -1, &c->admin, e, n);
}
static int set_name(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    size_t len = strlen(v);
    if (len == 0 || len >= sizeof(c->name)) {
        snprintf(e, n, "--name must be 1 to %zu characters", sizeof(c->name) - 1);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = v[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.')) {
            snprintf(e, n, "--name may hold letters, digits, '-', '_' and '.' only");
            return -1;
        }
    }
    memcpy(c->name, v, len + 1);
    return 0;
}
static int set_cache_mem(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    return size_parse(v, &c->cache_mem_bytes, e, n);
}
static int set_max_object(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    return size_parse(v, &c->max_object_bytes, e, n);
}
/* Bounds for the Vary limits: a variant per request value is what the
 * limit exists to stop; values past a request head's 32 KiB cannot occur. */
#define CONFIG_MAX_VARIANTS_LIMIT 4096
#define CONFIG_MAX_VARY_BYTES_LIMIT (32 * 1024)

static int set_max_variants(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    long m;
    if (int_parse(v, 1, CONFIG_MAX_VARIANTS_LIMIT, &m, e, n) < 0)
        return -1;
    c->max_variants = (uint64_t)m;
    return 0;
}
static int set_max_vary_size(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    uint64_t b;
    if (size_parse(v, &b, e, n) < 0)
        return -1;
    if (b > CONFIG_MAX_VARY_BYTES_LIMIT) {
        snprintf(e, n, "--max-vary-size is at most 32K (a request head's limit)");
        return -1;
    }
    c->max_vary_bytes = b;
    return 0;
}
static int set_no_cache(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    (void)v, (void)e, (void)n;
    c->cache_enabled = 0;
    return 0;
}
static int set_allow(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    return acl_allow_client(c->acl, v, e, n);
}
static int set_deny_dest(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    return acl_deny_dest(c->acl, v, e, n);
}
static int set_allow_dest(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    return acl_allow_dest(c->acl, v, e, n);
}
static int set_allow_port(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    return acl_allow_port(c->acl, v, e, n);
}
static int set_connect_port(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    return acl_allow_connect_port(c->acl, v, e, n);
}
static int set_threads(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    long t;
    if (int_parse(v, 1, 64, &t, e, n) < 0)
        return -1;
    c->threads = (int)t;
    return 0;
}
static int set_access_log(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    if (strlen(v) >= sizeof(c->access_log)) {
        snprintf(e, n, "--access-log path too long");
        return -1;
    }
    snprintf(c->access_log, sizeof(c->access_log), "%s", v);
    return 0;
}
#define DURATION_SETTER(fn, field)                                                                 \
    static int fn(void *cfg, const char *v, char *e, size_t n)                                     \
    {                                                                                              \
        struct proxyd_config *c = cfg;                                                             \
        if (duration_parse_ms(v, &c->field, e, n) < 0)                                             \
            return -1;                                                                             \
        if (c->field == 0) {                                                                       \
            snprintf(e, n, "a timeout of 0 would fire at once");                                   \
            return -1;                                                                             \
        }                                                                                          \
        return 0;                                                                                  \
    }
DURATION_SETTER(set_connect_timeout, connect_timeout_ms)
DURATION_SETTER(set_origin_timeout, origin_timeout_ms)
DURATION_SETTER(set_header_timeout, header_timeout_ms)
DURATION_SETTER(set_idle_timeout, idle_timeout_ms)
DURATION_SETTER(set_client_timeout, client_timeout_ms)
DURATION_SETTER(set_shutdown_timeout, shutdown_timeout_ms)
static int set_max_conns(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    long m;
    if (int_parse(v, 1, 10000000, &m, e, n) < 0)
        return -1;
    c->max_connections = (uint64_t)m;
    return 0;
}
static int set_allow_trace(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    (void)v, (void)e, (void)n;
    c->allow_trace = 1;
    return 0;
}
static int set_user(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    size_t len = strlen(v);
    if (len == 0 || len >= sizeof(c->user)) {
        snprintf(e, n, "--user must be 1 to %zu characters", sizeof(c->user) - 1);
        return -1;
    }
    memcpy(c->user, v, len + 1);
    return 0;
}
static int set_log_level(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    if (log_parse_level(v, &c->log_level) < 0) {
        snprintf(e, n, "--log-level is debug, info, warn or error, not '%s'", v);
        return -1;
    }
    return 0;
}

static const struct option_def options[] = {
    {"listen", "ADDR:PORT", "forward-proxy port (absolute-form requests, CONNECT); repeatable",
     "127.0.0.1:3128 when no port is given", set_listen},
    {"intercept", "ADDR:PORT",
     "interception port: origin-form requests that arrive by DNAT (SO_ORIGINAL_DST) or "
     "routed to an address this host owns (Host names the origin); repeatable",
     NULL, set_intercept},
    {"reverse", "ADDR:PORT=http://HOST:PORT", "reverse-proxy port for one fixed origin; repeatable",
     NULL, set_reverse},
    {"admin", "ADDR:PORT", "admin endpoint: /healthz, /metrics, /stats", "none", set_admin},
    {"name", "NAME", "instance name in Via and X-Cache", "the host name", set_name},
    {"cache-mem", "SIZE",
     "bytes the memory cache may hold, counted as allocated: bodies, heads, keys, Vary values "
     "and the index (LRU beyond)",
     "256M", set_cache_mem},
    {"max-object-size", "SIZE", "largest body cached (an object of exactly SIZE is cached)", "1M",
     set_max_object},
    {"max-variants", "N",
     "Vary variants kept per URL; past it the URL's least recently used one goes", "32",
     set_max_variants},
    {"max-vary-size", "SIZE",
     "request header values one variant may store for its Vary match (names included); a "
     "response varying on larger ones is not cached",
     "4K", set_max_vary_size},
    {"no-cache", NULL, "turn the cache off (collapsing of in-flight misses goes too)", NULL,
     set_no_cache},
    {"allow", "CIDR", "client network allowed; repeatable; the first replaces the default",
     "loopback, 10/8, 172.16/12, 192.168/16, 198.18/15, fc00::/7, fe80::/10", set_allow},
    {"deny-dest", "HOST|.DOMAIN|CIDR|ADDR:PORT",
     "destination refused with 403, even inside an --allow-dest network; repeatable", NULL,
     set_deny_dest},
    {"allow-dest", "CIDR",
     "local destination network opened (e.g. 127.0.0.1/32 for an origin on loopback); "
     "repeatable; --deny-dest still wins, and proxyd's own ports stay refused",
     "none: 127/8, ::1, 0/8, ::, 169.254/16, fe80::/10 and proxyd's own listening and admin "
     "addresses are refused (403); a --reverse origin is opened on its port",
     set_allow_dest},
    {"allow-port", "PORT[-PORT]",
     "destination port allowed; repeatable; the first replaces the default",
     "Squid's Safe_ports: 80 21 443 70 210 1025-65535 280 488 591 777", set_allow_port},
    {"connect-port", "PORT[-PORT]",
     "port CONNECT may tunnel to; repeatable; the first replaces the default", "443",
     set_connect_port},
    {"threads", "N", "worker threads, each with SO_REUSEPORT listeners and 1/N of the cache", "1",
     set_threads},
    {"access-log", "FILE", "access log in Squid's native format (SIGHUP reopens it)", "none",
     set_access_log},
    {"connect-timeout", "DURATION", "origin connect timeout", "5s", set_connect_timeout},
    {"origin-timeout", "DURATION", "origin first-byte and between-bytes timeout (504)", "60s",
     set_origin_timeout},
    {"header-timeout", "DURATION", "a request head must arrive within this of its first byte (408)",
     "10s", set_header_timeout},
    {"idle-timeout", "DURATION", "keep-alive wait for a client's next request", "30s",
     set_idle_timeout},
    {"client-timeout", "DURATION", "client send or receive inactivity", "60s", set_client_timeout},
    {"shutdown-timeout", "DURATION", "on SIGTERM, in-flight requests get this long", "30s",
     set_shutdown_timeout},
    {"max-connections", "N",
     "client connections at once, all threads together; beyond, new ones are closed", "16384",
     set_max_conns},
    {"allow-trace", NULL,
     "serve TRACE (refused with 405 by default: its echo of the request hands Cookie and "
     "Authorization to a script that can send it)",
     NULL, set_allow_trace},
    {"user", "NAME",
     "started as root: the user to become once the ports are bound (no capability kept, "
     "PR_SET_NO_NEW_PRIVS); 'root' keeps every privilege, with a warning",
     "proxy (nobody when there is no proxy)", set_user},
    {"log-level", "LEVEL", "debug, info, warn or error", "info", set_log_level},
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

static void config_defaults(struct proxyd_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    if (gethostname(cfg->name, sizeof(cfg->name) - 1) < 0 || !cfg->name[0])
        snprintf(cfg->name, sizeof(cfg->name), "proxyd");
    cfg->cache_mem_bytes = 256ull << 20;
    cfg->max_object_bytes = 1ull << 20;
    cfg->max_variants = CACHE_DEFAULT_MAX_VARIANTS;
    cfg->max_vary_bytes = CACHE_DEFAULT_MAX_VARY_BYTES;
    cfg->cache_enabled = 1;
    cfg->threads = 1;
    cfg->acl = acl_new();
    /* Timeouts, from the peers (see shared/notes/reliability-peers.md):
     * header 10 s (nginx/HAProxy/CIS), between bytes 60 s (Varnish, nginx),
     * keep-alive idle 30 s (between Varnish's 5 s and nginx's 75 s). */
    cfg->connect_timeout_ms = 5000;
    cfg->origin_timeout_ms = 60000;
    cfg->header_timeout_ms = 10000;
    cfg->idle_timeout_ms = 30000;
    cfg->client_timeout_ms = 60000;
    cfg->shutdown_timeout_ms = 30000;
    cfg->max_connections = 16384;
    cfg->log_level = LOG_LEVEL_INFO;
}

static const struct options_spec proxyd_options = {
    .program = "proxyd",
    .version = VERSION,
    .synopsis = "Usage: proxyd [OPTION]...\n"
                "A caching HTTP/1.1 proxy (forward, intercept, reverse) with a memory cache,\n"
                "collapsed forwarding, and Squid's X-Cache and access-log conventions.\n",
    .epilog = "SIZE: 512, 64K, 256M, 1G (powers of 1024). DURATION: 500ms, 10s, 2m.\n"
              "Signals: SIGTERM and SIGINT finish in-flight requests then exit;\n"
              "SIGHUP reopens the access log.\n"
              "Example: proxyd --listen 127.0.0.1:3128 --admin 127.0.0.1:9101 --name p1\n",
    .defs = options,
    .ndefs = NOPTIONS,
};

/* Known only once every option is read: the proxy's own addresses, refused
 * as destinations, and each reverse listener's origin, which its operator
 * chose and which is therefore opened even on loopback. */
static int config_guard_destinations(struct proxyd_config *cfg, char *err, size_t errlen)
{
    char e[160];
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        const struct listen_spec *ls = &cfg->listeners[i];
        if (acl_deny_self(cfg->acl, (const struct sockaddr *)&ls->addr.ss, e, sizeof(e)) < 0 ||
            (ls->mode == LISTEN_REVERSE &&
             acl_allow_origin(cfg->acl, ls->origin_host, ls->origin_port, e, sizeof(e)) < 0)) {
            snprintf(err, errlen, "listener %zu: %s", i + 1, e);
            return -1;
        }
    }
    if (cfg->have_admin &&
        acl_deny_self(cfg->acl, (const struct sockaddr *)&cfg->admin.ss, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "--admin: %s", e);
        return -1;
    }
    return 0;
}

void config_usage(FILE *out)
{
    options_usage(&proxyd_options, out);
}

int config_load(struct proxyd_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    config_defaults(cfg);
    if (!cfg->acl) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = options_load(&proxyd_options, cfg, argc, argv, NULL, err, errlen);
    if (rc != 0)
        return rc;
    if (cfg->nlisteners == 0) {
        char perr[128];
        if (add_listener(cfg, LISTEN_FORWARD, "127.0.0.1:3128", perr, sizeof(perr)) < 0) {
            snprintf(err, errlen, "%s", perr);
            return -1;
        }
    }
    if (config_guard_destinations(cfg, err, errlen) < 0)
        return -1;
    snprintf(cfg->resp_tag_hit, sizeof(cfg->resp_tag_hit),
             "Via: 1.1 %s (proxyd)\r\nX-Cache: HIT from %s\r\n", cfg->name, cfg->name);
    snprintf(cfg->resp_tag_miss, sizeof(cfg->resp_tag_miss),
             "Via: 1.1 %s (proxyd)\r\nX-Cache: MISS from %s\r\n", cfg->name, cfg->name);
    if (cfg->max_object_bytes > cfg->cache_mem_bytes && cfg->cache_enabled) {
        snprintf(err, errlen, "--max-object-size (%llu) is larger than --cache-mem (%llu)",
                 (unsigned long long)cfg->max_object_bytes,
                 (unsigned long long)cfg->cache_mem_bytes);
        return -1;
    }
    return 0;
}

void config_free(struct proxyd_config *cfg)
{
    acl_free(cfg->acl);
    cfg->acl = NULL;
}
