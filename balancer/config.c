/* The balancer's options (one table, common/options), their defaults, and
 * the backend syntax shared by the command line and the admin API. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "size.h"

#define VERSION "0.1.0"

static const char *const algos[] = {"p2c-ewma", "leastconn", "roundrobin", "source"};

int balancer_algo_valid(const char *algo)
{
    for (size_t i = 0; i < sizeof(algos) / sizeof(algos[0]); i++)
        if (strcmp(algo, algos[i]) == 0)
            return 0;
    return -1;
}

int backend_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= BALANCER_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int backend_spec_parse(const char *s, struct backend_spec *spec, char *err, size_t errlen)
{
    memset(spec, 0, sizeof(*spec));
    spec->weight = 1;
    char buf[512];
    if (strlen(s) >= sizeof(buf)) {
        snprintf(err, errlen, "backend longer than %zu bytes", sizeof(buf) - 1);
        return -1;
    }
    snprintf(buf, sizeof(buf), "%s", s);
    char *eq = strchr(buf, '=');
    if (!eq) {
        snprintf(err, errlen, "backend '%s' is not NAME=ADDR:PORT[,health=ADDR:PORT][,weight=W]",
                 s);
        return -1;
    }
    *eq = '\0';
    if (!backend_name_valid(buf)) {
        snprintf(err, errlen, "backend name '%s' is not 1..63 of [A-Za-z0-9._-]", buf);
        return -1;
    }
    memcpy(spec->name, buf, strlen(buf) + 1); /* valid names fit */
    char *save = NULL;
    char *field = strtok_r(eq + 1, ",", &save);
    if (!field) {
        snprintf(err, errlen, "backend '%s' has no address", spec->name);
        return -1;
    }
    char e[128];
    if (addr_parse(field, -1, &spec->address, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "backend '%s' address: %s", spec->name, e);
        return -1;
    }
    while ((field = strtok_r(NULL, ",", &save)) != NULL) {
        if (strncmp(field, "health=", 7) == 0) {
            if (addr_parse(field + 7, -1, &spec->health, e, sizeof(e)) < 0) {
                snprintf(err, errlen, "backend '%s' health: %s", spec->name, e);
                return -1;
            }
            spec->has_health = 1;
        } else if (strncmp(field, "weight=", 7) == 0) {
            long w;
            if (int_parse(field + 7, 1, BALANCER_WEIGHT_MAX, &w, e, sizeof(e)) < 0) {
                snprintf(err, errlen, "backend '%s' weight: %s", spec->name, e);
                return -1;
            }
            spec->weight = (int)w;
        } else {
            snprintf(err, errlen, "backend '%s': unknown field '%s' (health=, weight=)",
                     spec->name, field);
            return -1;
        }
    }
    return 0;
}

static int set_listen(void *cfg, const char *v, char *e, size_t n)
{
    struct balancer_config *c = cfg;
    if (c->listen_from_default) {
        c->nlisten = 0;
        c->listen_from_default = 0;
    }
    if (c->nlisten == BALANCER_MAX_LISTEN) {
        snprintf(e, n, "at most %d listen addresses", BALANCER_MAX_LISTEN);
        return -1;
    }
    return addr_parse(v, -1, &c->listen[c->nlisten++], e, n) < 0 ? (c->nlisten--, -1) : 0;
}

static int set_admin(void *cfg, const char *v, char *e, size_t n)
{
    struct balancer_config *c = cfg;
    return addr_parse(v, -1, &c->admin, e, n);
}

static int set_algo(void *cfg, const char *v, char *e, size_t n)
{
    struct balancer_config *c = cfg;
    if (balancer_algo_valid(v) < 0) {
        snprintf(e, n, "is p2c-ewma, leastconn, roundrobin or source, not '%s'", v);
        return -1;
    }
    snprintf(c->algo, sizeof(c->algo), "%s", v);
    return 0;
}

static int set_backend(void *cfg, const char *v, char *e, size_t n)
{
    struct balancer_config *c = cfg;
    if (c->nbackends == BALANCER_MAX_BACKENDS) {
        snprintf(e, n, "at most %d backends", BALANCER_MAX_BACKENDS);
        return -1;
    }
    struct backend_spec *spec = &c->backends[c->nbackends];
    if (backend_spec_parse(v, spec, e, n) < 0)
        return -1;
    for (size_t i = 0; i < c->nbackends; i++)
        if (strcmp(c->backends[i].name, spec->name) == 0) {
            snprintf(e, n, "backend name '%s' given twice", spec->name);
            return -1;
        }
    c->nbackends++;
    return 0;
}

/* Durations with bounds: a zero interval would spin, a day is surely a typo. */
static int set_duration(uint64_t *dst, const char *v, uint64_t min_ms, uint64_t max_ms, char *e,
                        size_t n)
{
    uint64_t ms;
    if (duration_parse_ms(v, &ms, e, n) < 0)
        return -1;
    if (ms < min_ms || ms > max_ms) {
        snprintf(e, n, "must be between %llu ms and %llu ms", (unsigned long long)min_ms,
                 (unsigned long long)max_ms);
        return -1;
    }
    *dst = ms;
    return 0;
}

#define DAY_MS (24ull * 3600 * 1000)
#define DURATION_SETTER(fn, field, min)                                                            \
    static int fn(void *cfg, const char *v, char *e, size_t n)                                     \
    {                                                                                              \
        return set_duration(&((struct balancer_config *)cfg)->field, v, min, DAY_MS, e, n);        \
    }
DURATION_SETTER(set_check_interval, check_interval_ms, 10)
DURATION_SETTER(set_check_timeout, check_timeout_ms, 1)
DURATION_SETTER(set_connect_timeout, connect_timeout_ms, 1)
DURATION_SETTER(set_idle_timeout, idle_timeout_ms, 10)
DURATION_SETTER(set_drain_timeout, drain_timeout_ms, 0)
DURATION_SETTER(set_slowstart, slowstart_ms, 0)
DURATION_SETTER(set_ewma_decay, ewma_decay_ms, 10)

static int set_ewma_initial(void *cfg, const char *v, char *e, size_t n)
{
    struct balancer_config *c = cfg;
    uint64_t ms;
    if (set_duration(&ms, v, 0, 60000, e, n) < 0)
        return -1;
    c->ewma_initial_us = ms * 1000;
    return 0;
}

static int set_int(int *dst, const char *v, long min, long max, char *e, size_t n)
{
    long x;
    if (int_parse(v, min, max, &x, e, n) < 0)
        return -1;
    *dst = (int)x;
    return 0;
}

static int set_rise(void *cfg, const char *v, char *e, size_t n)
{
    return set_int(&((struct balancer_config *)cfg)->rise, v, 1, 100, e, n);
}

static int set_fall(void *cfg, const char *v, char *e, size_t n)
{
    return set_int(&((struct balancer_config *)cfg)->fall, v, 1, 100, e, n);
}

static int set_retries(void *cfg, const char *v, char *e, size_t n)
{
    return set_int(&((struct balancer_config *)cfg)->retries, v, 0, 10, e, n);
}

static int set_max_conns(void *cfg, const char *v, char *e, size_t n)
{
    return int_parse(v, 1, 1000000, &((struct balancer_config *)cfg)->max_conns, e, n);
}

static int set_log_level(void *cfg, const char *v, char *e, size_t n)
{
    struct balancer_config *c = cfg;
    if (log_parse_level(v, &c->log_level) < 0) {
        snprintf(e, n, "is debug, info, warn or error, not '%s'", v);
        return -1;
    }
    return 0;
}

static int set_token_file(void *cfg, const char *v, char *e, size_t n)
{
    struct balancer_config *c = cfg;
    if (v[0] == '\0' || strlen(v) >= sizeof(c->token_file)) {
        snprintf(e, n, "path empty or longer than %zu bytes", sizeof(c->token_file) - 1);
        return -1;
    }
    snprintf(c->token_file, sizeof(c->token_file), "%s", v);
    return 0;
}

static int set_no_auth(void *cfg, const char *v, char *e, size_t n)
{
    ((struct balancer_config *)cfg)->no_auth = 1;
    return 0;
}

static const struct option_def options[] = {
    {"listen", "ADDR:PORT", "where clients connect; repeatable, the first replaces the default",
     "127.0.0.1:3128", set_listen},
    {"admin", "ADDR:PORT", "admin REST API (/v1/backends, /v1/stats/reset, /healthz, /metrics)",
     "127.0.0.1:9100", set_admin},
    {"algo", "ALGO",
     "how a new connection picks its backend: p2c-ewma (two random choices, lower peak-EWMA "
     "latency x (active+1) / weight wins), leastconn (fewest active per weight), roundrobin "
     "(smooth weighted), source (client address -> 65536-slot table: contiguous client "
     "ranges spread evenly, and a change of the set moves about 1/N of them)",
     "p2c-ewma", set_algo},
    {"backend", "NAME=ADDR:PORT[,health=ADDR:PORT][,weight=W]",
     "a backend; health is its admin address, checked with GET /healthz (without it the check "
     "is a TCP connect); weight 1..256; repeatable",
     NULL, set_backend},
    {"check-interval", "DURATION", "time between active health checks of a backend", "2s",
     set_check_interval},
    {"check-timeout", "DURATION", "a check with no answer this long has failed", "1s",
     set_check_timeout},
    {"rise", "N", "consecutive passed checks that bring a down backend up", "2", set_rise},
    {"fall", "N",
     "consecutive failures (checks, or connect failures and resets seen on client traffic) "
     "that take an up backend down",
     "3", set_fall},
    {"max-conns", "N", "client connections at once; past it new ones are closed at once", "10000",
     set_max_conns},
    {"connect-timeout", "DURATION", "connecting to a backend; then the next one is tried", "2s",
     set_connect_timeout},
    {"retries", "N", "other backends tried when a connect fails (0..10)", "2", set_retries},
    {"idle-timeout", "DURATION", "a connection with no byte either way this long is closed", "60s",
     set_idle_timeout},
    {"drain-timeout", "DURATION",
     "a draining or removed backend's connections (and all of them at SIGTERM) get this long "
     "to finish before they are cut",
     "30s", set_drain_timeout},
    {"slowstart", "DURATION", "a backend coming back up ramps from 10% to its full weight", "5s",
     set_slowstart},
    {"ewma-decay", "DURATION", "time constant of the peak-EWMA latency", "10s", set_ewma_decay},
    {"ewma-initial", "DURATION",
     "latency assumed for a backend never measured while no backend is (after that, the mean "
     "of the measured ones)",
     "30ms", set_ewma_initial},
    {"token-file", "FILE",
     "admin writes (PUT, POST, DELETE) need 'Authorization: Bearer <the file's token>' and "
     "Content-Type: application/json; the file must be owned by the balancer's user and "
     "unreadable by group and others (e.g. openssl rand -hex 32 >FILE; chmod 600 FILE). "
     "The manager passes its own. One of --token-file and --no-auth is required",
     NULL, set_token_file},
    {"no-auth", NULL,
     "admin writes need no token: any process that reaches the admin address can redirect "
     "all traffic (a warning says so at start)",
     NULL, set_no_auth},
    {"log-level", "LEVEL", "debug, info, warn or error", "info", set_log_level},
};

static const struct options_spec balancer_options = {
    .program = "balancer",
    .version = VERSION,
    .synopsis =
        "Usage: balancer [OPTION]...\n"
        "A TCP (layer 4) balancer: relays each client connection to a healthy backend picked\n"
        "by measured latency (or leastconn, roundrobin, source), zero-copy with splice(2).\n"
        "Checks backends actively (GET /healthz or TCP connect) and passively, and keeps per\n"
        "backend connect and first-byte latency (peak-EWMA and p50/p90/p99).\n",
    .epilog =
        "DURATION: 500ms, 2s. Latency is measured per connection: connect time, and time from\n"
        "the first byte sent to the backend to its first byte back.\n"
        "Admin API: GET/PUT /v1/backends, POST /v1/backends/NAME/drain,\n"
        "DELETE /v1/backends/NAME, POST /v1/stats/reset, GET /healthz, GET /metrics.\n"
        "Writes need the bearer token of --token-file and Content-Type: application/json;\n"
        "every request needs Host to be an IP address or localhost (421 otherwise).\n"
        "Signals: SIGTERM and SIGINT stop accepting, let connections finish (up to\n"
        "--drain-timeout), then exit.\n"
        "Example: balancer --listen 127.0.0.1:8080 --token-file /root/balancer.token \\\n"
        "           --backend a=127.0.0.1:3129,health=127.0.0.1:4129 \\\n"
        "           --backend b=127.0.0.1:3130,health=127.0.0.1:4130\n",
    .defs = options,
    .ndefs = sizeof(options) / sizeof(options[0]),
};

static void balancer_config_defaults(struct balancer_config *c)
{
    memset(c, 0, sizeof(*c));
    char err[64];
    addr_parse("127.0.0.1:3128", -1, &c->listen[0], err, sizeof(err));
    c->nlisten = 1;
    c->listen_from_default = 1;
    addr_parse("127.0.0.1:9100", -1, &c->admin, err, sizeof(err));
    snprintf(c->algo, sizeof(c->algo), "p2c-ewma");
    /* HAProxy's check defaults (inter 2s, rise 2, fall 3). */
    c->check_interval_ms = 2000;
    c->check_timeout_ms = 1000;
    c->rise = 2;
    c->fall = 3;
    c->max_conns = 10000;
    c->connect_timeout_ms = 2000;
    c->retries = 2;
    c->idle_timeout_ms = 60000;
    c->drain_timeout_ms = 30000;
    c->slowstart_ms = 5000;
    /* Finagle's and Linkerd's peak-EWMA: 10 s decay, 30 ms for the unmeasured. */
    c->ewma_decay_ms = 10000;
    c->ewma_initial_us = 30000;
    c->log_level = LOG_LEVEL_INFO;
}

int balancer_config_load(struct balancer_config *cfg, int argc, char **argv, char *err,
                         size_t errlen)
{
    balancer_config_defaults(cfg);
    int r = options_load(&balancer_options, cfg, argc, argv, NULL, err, errlen);
    if (r != 0)
        return r;
    /* No silent default: an admin API that can redirect all traffic is
     * either guarded by a token or opened on purpose. */
    if (cfg->no_auth && cfg->token_file[0] != '\0') {
        snprintf(err, errlen, "--no-auth and --token-file contradict each other");
        return -1;
    }
    if (!cfg->no_auth && cfg->token_file[0] == '\0') {
        snprintf(err, errlen,
                 "the admin API needs --token-file FILE (its writes then need that bearer "
                 "token) or, to leave it open on purpose, --no-auth");
        return -1;
    }
    return 0;
}
