/* The balancer's options (one table, common/options: command line, JSON
 * keys, defaults and --help) and the backend syntax shared by the command
 * line and the admin API. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "size.h"

#define VERSION "0.1.0"

/* The pick_ops by name (pick.c); NULL-terminated for the option table. */
static const char *const algos[] = {"p2c-ewma", "leastconn", "roundrobin", "source", NULL};

int balancer_algo_valid(const char *algo)
{
    for (size_t i = 0; algos[i]; i++)
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
            snprintf(err, errlen, "backend '%s': unknown field '%s' (health=, weight=)", spec->name,
                     field);
            return -1;
        }
    }
    return 0;
}

/* Custom: repeatable, and the first one given replaces the default. */
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

/* Custom: repeatable, with a syntax of its own shared with the admin API. */
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

/* The longest duration any option takes: a day is surely a typo. */
#define DAY_MS (24ull * 3600 * 1000)
/* The initial latency estimate: past a minute it would starve a backend. */
#define EWMA_INITIAL_MAX_MS 60000

/* Custom: typed in milliseconds like every duration, kept in microseconds
 * as every latency the balancer measures. */
static int set_ewma_initial(void *cfg, const char *v, char *e, size_t n)
{
    struct balancer_config *c = cfg;
    uint64_t ms;
    if (duration_parse_ms(v, &ms, e, n) < 0)
        return -1;
    if (ms > EWMA_INITIAL_MAX_MS) {
        snprintf(e, n, "%s is out of range 0ms..1m", v);
        return -1;
    }
    c->ewma_initial_us = ms * 1000;
    return 0;
}

#define FIELD(member) OPTION_FIELD(struct balancer_config, member)
/* A duration of min ms up to a day; a zero interval would spin. */
#define DURATION(member, min_ms)                                                                   \
    .kind = OPTION_DURATION, FIELD(member), .arg = "DURATION", .min = (min_ms), .max = DAY_MS

/* HAProxy's check defaults (inter 2s, rise 2, fall 3); Finagle's and
 * Linkerd's peak-EWMA: 10 s decay, 30 ms for the unmeasured. */
static const struct option_def options[] = {
    {"listen", .arg = "ADDR:PORT",
     .help = "where clients connect; repeatable, the first replaces the default",
     .deflt_text = "127.0.0.1:3128", .set = set_listen},
    {"admin", OPTION_ADDR, FIELD(admin), .arg = "ADDR:PORT",
     .help = "admin REST API (/v1/backends, /v1/stats/reset, /healthz, /metrics)",
     .deflt = "127.0.0.1:9100"},
    {"algo", OPTION_ENUM_NAME, FIELD(algo), .arg = "ALGO",
     .help = "how a new connection picks its backend: p2c-ewma (two random choices, lower "
             "peak-EWMA latency x (active+1) / weight wins), leastconn (fewest active per "
             "weight), roundrobin (smooth weighted), source (client address -> 65536-slot table: "
             "contiguous client ranges spread evenly, and a change of the set moves about 1/N of "
             "them)",
     .deflt = "p2c-ewma", .names = algos},
    {"backend", .arg = "NAME=ADDR:PORT[,health=ADDR:PORT][,weight=W]",
     .help = "a backend; health is its admin address, checked with GET /healthz (without it the "
             "check is a TCP connect); weight 1..256; repeatable",
     .set = set_backend},
    {"check-interval", DURATION(check_interval_ms, 10),
     .help = "time between active health checks of a backend", .deflt = "2s"},
    {"check-timeout", DURATION(check_timeout_ms, 1),
     .help = "a check with no answer this long has failed", .deflt = "1s"},
    {"rise", OPTION_COUNT, FIELD(rise), .arg = "N",
     .help = "consecutive passed checks that bring a down backend up", .deflt = "2", .min = 1,
     .max = 100},
    {"fall", OPTION_COUNT, FIELD(fall), .arg = "N",
     .help = "consecutive failures (checks, or connect failures and resets seen on client "
             "traffic) that take an up backend down",
     .deflt = "3", .min = 1, .max = 100},
    {"max-conns", OPTION_COUNT, FIELD(max_conns), .arg = "N",
     .help = "client connections at once; past it new ones are closed at once", .deflt = "10000",
     .min = 1, .max = 1000000},
    {"connect-timeout", DURATION(connect_timeout_ms, 1),
     .help = "connecting to a backend; then the next one is tried", .deflt = "2s"},
    {"retries", OPTION_COUNT, FIELD(retries), .arg = "N",
     .help = "other backends tried when a connect fails (0..10)", .deflt = "2", .min = 0,
     .max = 10},
    {"idle-timeout", DURATION(idle_timeout_ms, 10),
     .help = "a connection with no byte either way this long is closed", .deflt = "60s"},
    {"drain-timeout", DURATION(drain_timeout_ms, 0),
     .help = "a draining or removed backend's connections (and all of them at SIGTERM) get this "
             "long to finish before they are cut",
     .deflt = "30s"},
    {"slowstart", DURATION(slowstart_ms, 0),
     .help = "a backend coming back up ramps from 10% to its full weight", .deflt = "5s"},
    {"ewma-decay", DURATION(ewma_decay_ms, 10), .help = "time constant of the peak-EWMA latency",
     .deflt = "10s"},
    {"ewma-initial", .arg = "DURATION",
     .help = "latency assumed for a backend never measured while no backend is (after that, the "
             "mean of the measured ones)",
     .deflt = "30ms", .set = set_ewma_initial},
    {"token-file", OPTION_STRING, FIELD(token_file), .arg = "FILE",
     .help = "admin writes (PUT, POST, DELETE) need 'Authorization: Bearer <the file's token>' "
             "and Content-Type: application/json; the file must be owned by the balancer's user "
             "and unreadable by group and others (e.g. openssl rand -hex 32 >FILE; chmod 600 "
             "FILE). The manager passes its own. One of --token-file and --no-auth is required",
     .min = 1},
    {"no-auth", OPTION_FLAG, FIELD(no_auth),
     .help = "admin writes need no token: any process that reaches the admin address can "
             "redirect all traffic (a warning says so at start)"},
    {"log-level", OPTION_ENUM, FIELD(log_level), .arg = "LEVEL",
     .help = "debug, info, warn or error", .deflt = "info", .names = log_level_names},
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

/* The table's defaults, then the listener, which is repeatable. */
static int balancer_config_defaults(struct balancer_config *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    if (options_defaults(&balancer_options, c, err, errlen) < 0 ||
        set_listen(c, "127.0.0.1:3128", err, errlen) < 0)
        return -1;
    c->listen_from_default = 1;
    return 0;
}

int balancer_config_load(struct balancer_config *cfg, int argc, char **argv, char *err,
                         size_t errlen)
{
    if (balancer_config_defaults(cfg, err, errlen) < 0)
        return -1;
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
