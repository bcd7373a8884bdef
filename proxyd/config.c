/* proxyd's options: one table (common/options) drives the command line, the
 * JSON config file, the defaults and --help. Only what the table cannot say
 * (the host name, the ACL object, the listener added when none is given)
 * is set by hand, in config_defaults and config_load. */
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
/* Custom: the value is parsed as an address and also records that an admin
 * endpoint was asked for (none runs by default). */
static int set_admin(void *cfg, const char *v, char *e, size_t n)
{
    struct proxyd_config *c = cfg;
    c->have_admin = 1;
    return addr_parse(v, -1, &c->admin, e, n);
}
/* Custom: the name goes into Via and X-Cache header lines, so only
 * characters a header value cannot misread are allowed. */
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
/* Custom: the ACL options are repeatable and parsed by acl.c, which owns
 * the lists (the first of each replaces its default). */
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

/* Bounds for the Vary limits: a variant per request value is what the
 * limit exists to stop; values past a request head's 32 KiB cannot occur. */
#define CONFIG_MAX_VARIANTS_LIMIT 4096
#define CONFIG_MAX_VARY_BYTES_LIMIT (32 * 1024)
/* Beyond the cores of any host we run on; each thread holds 1/N of the cache. */
#define CONFIG_MAX_THREADS 64
/* Far past what one process's descriptors allow (fdlimit.c raises them). */
#define CONFIG_MAX_CONNECTIONS_LIMIT 10000000

#define FIELD(member) OPTION_FIELD(struct proxyd_config, member)
/* Every timeout is at least 1 ms: one of 0 would fire at once. */
#define TIMEOUT(member)                                                                            \
    .kind = OPTION_DURATION, FIELD(member), .arg = "DURATION", .min = 1,                           \
    .limit_why = "a timeout of 0 would fire at once"

/* Timeouts, from the peers (see shared/notes/reliability-peers.md): header
 * 10 s (nginx/HAProxy/CIS), between bytes 60 s (Varnish, nginx), keep-alive
 * idle 30 s (between Varnish's 5 s and nginx's 75 s). */
static const struct option_def options[] = {
    {"listen", .arg = "ADDR:PORT",
     .help = "forward-proxy port (absolute-form requests, CONNECT); repeatable",
     .deflt_text = "127.0.0.1:3128 when no port is given", .set = set_listen},
    {"intercept", .arg = "ADDR:PORT",
     .help = "interception port: origin-form requests that arrive by DNAT (SO_ORIGINAL_DST) or "
             "routed to an address this host owns (Host names the origin); repeatable",
     .set = set_intercept},
    {"reverse", .arg = "ADDR:PORT=http://HOST:PORT",
     .help = "reverse-proxy port for one fixed origin; repeatable", .set = set_reverse},
    {"admin", .arg = "ADDR:PORT", .help = "admin endpoint: /healthz, /metrics, /stats",
     .deflt_text = "none", .set = set_admin},
    {"name", .arg = "NAME", .help = "instance name in Via and X-Cache",
     .deflt_text = "the host name", .set = set_name},
    {"cache-mem", OPTION_SIZE, FIELD(cache_mem_bytes), .arg = "SIZE",
     .help = "bytes the memory cache may hold, counted as allocated: bodies, heads, keys, Vary "
             "values and the index (LRU beyond)",
     .deflt = "256M"},
    {"max-object-size", OPTION_SIZE, FIELD(max_object_bytes), .arg = "SIZE",
     .help = "largest body cached (an object of exactly SIZE is cached)", .deflt = "1M"},
    {"max-variants", OPTION_COUNT, FIELD(max_variants), .arg = "N",
     .help = "Vary variants kept per URL; past it the URL's least recently used one goes",
     .deflt = "32", .min = 1, .max = CONFIG_MAX_VARIANTS_LIMIT},
    {"max-vary-size", OPTION_SIZE, FIELD(max_vary_bytes), .arg = "SIZE",
     .help = "request header values one variant may store for its Vary match (names included); "
             "a response varying on larger ones is not cached",
     .deflt = "4K", .max = CONFIG_MAX_VARY_BYTES_LIMIT, .limit_why = "a request head's limit"},
    {"no-cache", OPTION_FLAG_OFF, FIELD(cache_enabled),
     .help = "turn the cache off (collapsing of in-flight misses goes too)", .deflt = "off"},
    {"allow", .arg = "CIDR",
     .help = "client network allowed; repeatable; the first replaces the default",
     .deflt_text = "loopback, 10/8, 172.16/12, 192.168/16, 198.18/15, fc00::/7, fe80::/10",
     .set = set_allow},
    {"deny-dest", .arg = "HOST|.DOMAIN|CIDR|ADDR:PORT",
     .help = "destination refused with 403, even inside an --allow-dest network; repeatable",
     .set = set_deny_dest},
    {"allow-dest", .arg = "CIDR",
     .help = "local destination network opened (e.g. 127.0.0.1/32 for an origin on loopback); "
             "repeatable; --deny-dest still wins, and proxyd's own ports stay refused",
     .deflt_text = "none: 127/8, ::1, 0/8, ::, 169.254/16, fe80::/10 and proxyd's own listening "
                   "and admin addresses are refused (403); a --reverse origin is opened on its "
                   "port",
     .set = set_allow_dest},
    {"allow-port", .arg = "PORT[-PORT]",
     .help = "destination port allowed; repeatable; the first replaces the default",
     .deflt_text = "Squid's Safe_ports: 80 21 443 70 210 1025-65535 280 488 591 777",
     .set = set_allow_port},
    {"connect-port", .arg = "PORT[-PORT]",
     .help = "port CONNECT may tunnel to; repeatable; the first replaces the default",
     .deflt_text = "443", .set = set_connect_port},
    {"threads", OPTION_COUNT, FIELD(threads), .arg = "N",
     .help = "worker threads, each with SO_REUSEPORT listeners and 1/N of the cache", .deflt = "1",
     .min = 1, .max = CONFIG_MAX_THREADS},
    {"access-log", OPTION_STRING, FIELD(access_log), .arg = "FILE",
     .help = "access log in Squid's native format (SIGHUP reopens it)", .deflt_text = "none"},
    {"connect-timeout", TIMEOUT(connect_timeout_ms), .help = "origin connect timeout",
     .deflt = "5s"},
    {"origin-timeout", TIMEOUT(origin_timeout_ms),
     .help = "origin first-byte and between-bytes timeout (504)", .deflt = "60s"},
    {"header-timeout", TIMEOUT(header_timeout_ms),
     .help = "a request head must arrive within this of its first byte (408)", .deflt = "10s"},
    {"idle-timeout", TIMEOUT(idle_timeout_ms),
     .help = "keep-alive wait for a client's next request", .deflt = "30s"},
    {"client-timeout", TIMEOUT(client_timeout_ms), .help = "client send or receive inactivity",
     .deflt = "60s"},
    {"shutdown-timeout", TIMEOUT(shutdown_timeout_ms),
     .help = "on SIGTERM, in-flight requests get this long", .deflt = "30s"},
    {"max-connections", OPTION_COUNT, FIELD(max_connections), .arg = "N",
     .help = "client connections at once, all threads together; beyond, new ones are closed",
     .deflt = "16384", .min = 1, .max = CONFIG_MAX_CONNECTIONS_LIMIT},
    {"allow-trace", OPTION_FLAG, FIELD(allow_trace),
     .help = "serve TRACE (refused with 405 by default: its echo of the request hands Cookie "
             "and Authorization to a script that can send it)"},
    {"user", OPTION_STRING, FIELD(user), .arg = "NAME",
     .help = "started as root: the user to become once the ports are bound (no capability kept, "
             "PR_SET_NO_NEW_PRIVS); 'root' keeps every privilege, with a warning",
     .deflt_text = "proxy (nobody when there is no proxy)", .min = 1},
    {"log-level", OPTION_ENUM, FIELD(log_level), .arg = "LEVEL",
     .help = "debug, info, warn or error", .deflt = "info", .names = log_level_names},
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

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

/* The table's defaults, then what only the running host can say. */
static int config_defaults(struct proxyd_config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    if (options_defaults(&proxyd_options, cfg, err, errlen) < 0)
        return -1;
    if (gethostname(cfg->name, sizeof(cfg->name) - 1) < 0 || !cfg->name[0])
        snprintf(cfg->name, sizeof(cfg->name), "proxyd");
    cfg->acl = acl_new();
    if (!cfg->acl) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

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
    if (config_defaults(cfg, err, errlen) < 0)
        return -1;
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
