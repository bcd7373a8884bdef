/* loadgen's options: one table (common/options) drives the command line, the
 * JSON config file, the defaults and --help. The short
 * forms (-n, -c, -H) and the URL anywhere on the line are rewritten into the
 * long forms before common/options sees the arguments. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "options.h"
#include "size.h"
#include "target.h"

#define VERSION "0.1.0"

/* Largest open-loop rate per client: a request every microsecond. */
#define RATE_MAX_PER_S 1e6
/* Largest -n: far past any run that ends today. */
#define REQUESTS_MAX 1000000000000L

/* Custom: checked by the URL parser loadgen requests with. */
static int set_url(void *cfg, const char *v, char *e, size_t n)
{
    struct loadgen_config *c = cfg;
    struct loadgen_url u;
    if (loadgen_url_parse(v, &u, e, n) < 0)
        return -1;
    if (strlen(v) >= sizeof(c->url)) {
        snprintf(e, n, "URL longer than %zu bytes", sizeof(c->url) - 1);
        return -1;
    }
    snprintf(c->url, sizeof(c->url), "%s", v);
    return 0;
}

/* Custom: kept both as typed (for the report) and as an address. */
static int set_proxy(void *cfg, const char *v, char *e, size_t n)
{
    struct loadgen_config *c = cfg;
    if (strlen(v) >= sizeof(c->proxy)) {
        snprintf(e, n, "too long");
        return -1;
    }
    if (addr_parse(v, -1, &c->proxy_addr, e, n) < 0)
        return -1;
    snprintf(c->proxy, sizeof(c->proxy), "%s", v);
    return 0;
}

/* Custom: a fraction of requests per second, which no integer kind holds. */
static int set_rate(void *cfg, const char *v, char *e, size_t n)
{
    struct loadgen_config *c = cfg;
    char *end;
    double r = strtod(v, &end);
    if (end == v || *end != '\0' || !(r > 0) || r > RATE_MAX_PER_S) {
        snprintf(e, n, "'%s' is not a rate in (0, %g] requests per second", v, RATE_MAX_PER_S);
        return -1;
    }
    c->rate = r;
    return 0;
}

/* Custom: the whole schedule is parsed and checked here, so a bad step is
 * a usage error before anything runs. */
static int set_rate_steps(void *cfg, const char *v, char *e, size_t n)
{
    struct loadgen_config *c = cfg;
    return loadgen_schedule_parse(v, &c->steps, e, n);
}

/* Custom: it names network namespaces, so deploy/testbed's charset. */
static int set_testbed_prefix(void *cfg, const char *v, char *e, size_t n)
{
    struct loadgen_config *c = cfg;
    size_t len = strlen(v);
    if (len < 1 || len > 8 || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789") != len) {
        snprintf(e, n, "must be 1-8 of [a-z0-9] (as deploy/testbed's), not '%s'", v);
        return -1;
    }
    snprintf(c->testbed_prefix, sizeof(c->testbed_prefix), "%s", v);
    return 0;
}

/* Custom: repeatable, one client each; an address without a port. */
static int set_source(void *cfg, const char *v, char *e, size_t n)
{
    struct loadgen_config *c = cfg;
    if (c->nsources == LOADGEN_MAX_CLIENTS) {
        snprintf(e, n, "at most %d source addresses", LOADGEN_MAX_CLIENTS);
        return -1;
    }
    struct addr a;
    char bracketed[80];
    const char *first = strchr(v, ':');
    if (first && strchr(first + 1, ':') && v[0] != '[') { /* a bare IPv6 address */
        snprintf(bracketed, sizeof(bracketed), "[%s]", v);
        v = bracketed;
    }
    if (addr_parse(v, 0, &a, e, n) < 0)
        return -1;
    if (addr_port(&a) != 0) {
        snprintf(e, n, "'%s': a source is an address without a port", v);
        return -1;
    }
    struct addr *grown = realloc(c->sources, (c->nsources + 1) * sizeof(*grown));
    if (!grown) {
        snprintf(e, n, "out of memory");
        return -1;
    }
    c->sources = grown;
    c->sources[c->nsources++] = a;
    return 0;
}

/* Custom: repeatable; each "Name: value" is checked and appended to the
 * request head. Host and the framing headers are loadgen's own. */
static int set_header(void *cfg, const char *v, char *e, size_t n)
{
    struct loadgen_config *c = cfg;
    const char *colon = strchr(v, ':');
    size_t name_len = colon ? (size_t)(colon - v) : 0;
    if (name_len == 0 || strspn(v, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != name_len) {
        snprintf(e, n, "'%s' is not 'Name: value'", v);
        return -1;
    }
    for (const char *p = colon + 1; *p; p++) {
        if ((unsigned char)*p < 0x20 && *p != '\t') {
            snprintf(e, n, "control byte in the value of '%.*s'", (int)name_len, v);
            return -1;
        }
    }
    static const char *const own[] = {"host", "content-length", "transfer-encoding", "connection"};
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        if (strlen(own[i]) == name_len && strncasecmp(v, own[i], name_len) == 0) {
            snprintf(e, n, "%s is set by loadgen (see --no-keepalive for Connection)", own[i]);
            return -1;
        }
    }
    const char *value = colon + 1;
    value += strspn(value, " \t");
    int len = snprintf(c->headers + c->headers_len, sizeof(c->headers) - c->headers_len,
                       "%.*s: %s\r\n", (int)name_len, v, value);
    if (len < 0 || (size_t)len >= sizeof(c->headers) - c->headers_len) {
        c->headers[c->headers_len] = '\0';
        snprintf(e, n, "extra headers over %d bytes", LOADGEN_HEADERS_MAX_BYTES);
        return -1;
    }
    c->headers_len += (size_t)len;
    return 0;
}
#define FIELD(member) OPTION_FIELD(struct loadgen_config, member)

static const struct option_def options[] = {
    {"url", .arg = "URL",
     .help = "the object to request (http://HOST[:PORT]/PATH); usually given as the argument",
     .set = set_url},
    {"proxy", .arg = "HOST:PORT",
     .help = "send every request in absolute form to this proxy (as JMeter or a browser with a "
             "proxy set); without it, straight to the URL's host",
     .deflt_text = "none", .set = set_proxy},
    {"requests", OPTION_COUNT, FIELD(requests), .arg = "N",
     .help = "-n N: requests per client (closed loop: then stop; open loop: scheduled)",
     .deflt_text = "none; without -n, --duration 10s", .min = 1, .max = REQUESTS_MAX},
    {"concurrency", OPTION_COUNT, FIELD(concurrency), .arg = "C",
     .help = "-c C: connections per client; closed loop: each keeps one request in flight; open "
             "loop: at most C requests in flight, later ones wait (and the wait counts)",
     .deflt = "10", .min = 1, .max = LOADGEN_MAX_CONCURRENCY},
    {"duration", OPTION_DURATION, FIELD(duration_ms), .arg = "DURATION",
     .help = "stop starting requests after this long (after the warm-up); requests still in "
             "flight then are counted as unfinished",
     .deflt_text = "10s when -n is not given", .min = 1,
     .limit_why = "a run of 0 s measures nothing"},
    {"rate", .arg = "PER_SECOND",
     .help = "open loop: each client sends requests on a fixed schedule at this rate, and "
             "latency is measured from each request's intended send time (coordinated omission "
             "corrected, as wrk2)",
     .deflt_text = "none (closed loop)", .set = set_rate},
    {"rate-steps", .arg = "RATE:DURATION,...",
     .help = "open loop on a schedule: each client sends at RATE per second for DURATION, then "
             "the next step's rate, and so on (rate 0 is a pause); the run lasts the steps' "
             "total; excludes --rate, -n, --duration and --warmup",
     .deflt_text = "none", .set = set_rate_steps},
    {"warmup", OPTION_DURATION, FIELD(warmup_ms), .arg = "DURATION",
     .help = "requests that finish in this first part of the run are written to the CSV with "
             "warmup=1 and left out of every summary; the measured window starts at its end "
             "(those in flight then are measured there, and count against -n); --duration counts "
             "after it",
     .deflt = "0"},
    /* 60 s: the default (JMeter's is none). */
    {"timeout", OPTION_DURATION, FIELD(timeout_ms), .arg = "DURATION",
     .help = "per request, from its start (connect included): then error timeout", .deflt = "60s",
     .min = 1, .limit_why = "a timeout of 0 would fire at once"},
    /* On: JMeter's HttpClient default. */
    {"keepalive", OPTION_FLAG, FIELD(keepalive), .help = "reuse connections (HTTP/1.1 persistent)",
     .deflt = "on"},
    {"no-keepalive", OPTION_FLAG_OFF, FIELD(keepalive),
     .help = "one connection per request (Connection: close)"},
    /* On: curl, browsers and Go's client retry a GET whose kept-alive
     * connection was closed under it (RFC 9112 9.3.1). */
    {"retry-stale", OPTION_FLAG, FIELD(retry_stale),
     .help = "a request that finds its kept-alive connection closed by the server before any "
             "byte of answer is sent once more on a new connection (counted in stale_retries)",
     .deflt = "on"},
    {"no-retry-stale", OPTION_FLAG_OFF, FIELD(retry_stale),
     .help = "report such a request as failed (reset) instead"},
    {"testbed", OPTION_COUNT, FIELD(testbed_clients), .arg = "N",
     .help = "N clients, client K's sockets opened in deploy/testbed's namespace PREFIX-cK, so "
             "its requests come from 198.18.(1+(K-1)/254).(1+(K-1)%254); -n and -c are per "
             "client",
     .deflt_text = "none", .min = 1, .max = LOADGEN_MAX_CLIENTS},
    {"testbed-prefix", .arg = "P", .help = "deploy/testbed's --prefix", .deflt = "pp",
     .set = set_testbed_prefix},
    {"source", .arg = "ADDR",
     .help = "one client whose sockets are bound to this local address; repeatable (one client "
             "each); -n and -c are per client",
     .deflt_text = "none", .set = set_source},
    {"csv", OPTION_STRING, FIELD(csv_path), .arg = "FILE",
     .help = "one row per request: ts_start_us,client,conn,req,status,ok,error,connect_us,"
             "ttfb_us,total_us,bytes_in,proxy,cache,intended_us,warmup",
     .deflt_text = "none", .min = 1},
    {"json", OPTION_STRING, FIELD(json_path), .arg = "FILE",
     .help = "the summary as JSON (overall, per proxy, per client, loadgen's own CPU)",
     .deflt_text = "none", .min = 1},
    {"series", OPTION_STRING, FIELD(series_path), .arg = "FILE",
     .help = "one row per second of the run: second,offered,completed,errors,p99_ms,over_slo; a "
             "request counts in the second it was due (open loop) or started (closed loop)",
     .deflt_text = "none", .min = 1},
    {"slo", OPTION_DURATION, FIELD(slo_ms), .arg = "DURATION",
     .help = "the series' over_slo column counts the completed requests slower than this",
     .deflt_text = "none (over_slo empty)", .min = 1,
     .limit_why = "every request takes longer than 0"},
    {"label", OPTION_STRING, FIELD(label), .arg = "TEXT",
     .help = "a name for the run, copied into the JSON and the summary", .deflt_text = "none"},
    {"header", .arg = "'NAME: VALUE'", .help = "-H: an extra request header; repeatable",
     .deflt_text = "none", .set = set_header},
    /* Its default (-1: on when stderr is a terminal) is no flag state:
     * config_defaults sets it. */
    {"progress", OPTION_FLAG, FIELD(progress),
     .help = "a progress line on stderr every second on runs over 3 s",
     .deflt_text = "only when stderr is a terminal"},
    {"no-progress", OPTION_FLAG_OFF, FIELD(progress), .help = "no progress line"},
    {"quiet", OPTION_FLAG, FIELD(quiet), .help = "no human summary on stdout"},
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

static const struct options_spec loadgen_options = {
    .program = "loadgen",
    .version = VERSION,
    .synopsis = "Usage: loadgen URL [--proxy HOST:PORT] [-n REQUESTS] [-c CONCURRENCY]\n"
                "               [--duration SECONDS] [--rate PER_SECOND] [--warmup SECONDS]\n"
                "               [--timeout SECONDS] [--keepalive|--no-keepalive] [--testbed N]\n"
                "               [--rate-steps RATE:DURATION,...] [--source ADDR]... [--csv FILE]\n"
                "               [--json FILE] [--series FILE [--slo DURATION]] [--label TEXT]\n"
                "An HTTP/1.1 load generator: times every request (connect, first byte, last\n"
                "byte), attributes it to the proxy named in its X-Cache header, and watches its\n"
                "own CPU and event-loop lag so a saturated loadgen is flagged, not trusted.\n",
    .epilog = "DURATION: 500ms, 10s, 2m (a bare number is seconds).\n"
              "Error classes: connect (refused, unreachable, or connect timed out), timeout\n"
              "(--timeout passed), reset (the connection was reset or closed before a whole\n"
              "response head), status (a response with status >= 400), short_body (closed\n"
              "or reset mid-body), bad_response (a malformed head or chunked body).\n"
              "Latency percentiles (mean, p50, p90, p99, max of total time and of time to\n"
              "first byte) come from a log-linear histogram (common/histogram.h) within\n"
              "0.8%, over the measured requests that received a whole response; rps counts\n"
              "those per second of the measured time.\n"
              "Saturation: loadgen flags a run (over 0.5 s) as saturated when it used >= 90%\n"
              "of one core or its event loop ran >= 10 ms late at p99 (a 10 ms timer measures\n"
              "it): its latencies then include its own queueing.\n"
              "Exit codes: 0 the run completed (failed requests are data, not a failure),\n"
              "also after SIGINT or SIGTERM, which stop the run and still write the CSV and\n"
              "JSON (marked interrupted); 1 a runtime failure (cannot open a file or a\n"
              "namespace, no event loop); 2 a usage error.\n"
              "Example: loadgen http://127.0.0.1:8080/obj1m -n 1000 -c 1000 --json run.json\n",
    .defs = options,
    .ndefs = NOPTIONS,
    .positional = 0,
};

void loadgen_config_usage(FILE *out)
{
    options_usage(&loadgen_options, out);
}

/* The table's defaults, and --progress's "when stderr is a terminal". */
static int config_defaults(struct loadgen_config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    if (options_defaults(&loadgen_options, cfg, err, errlen) < 0)
        return -1;
    cfg->progress = -1;
    return 0;
}

static const struct option_def *find_long(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTIONS; i++) {
        if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0)
            return &options[i];
    }
    return NULL;
}

/* Rewrites argv into long options followed by nothing else; the positional
 * arguments go to *url (the first) and *extra (a second one, an error). */
static char **normalize_argv(int argc, char **argv, int *out_argc, const char **url,
                             const char **extra)
{
    /* A short option with an attached value ("-n100") becomes two words. */
    char **out = calloc((size_t)argc * 2 + 1, sizeof(*out));
    if (!out)
        return NULL;
    int n = 0;
    out[n++] = argv[0];
    *url = NULL;
    *extra = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++) {
                if (!*url)
                    *url = argv[i];
                else if (!*extra)
                    *extra = argv[i];
            }
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (!*url)
                *url = a;
            else if (!*extra)
                *extra = a;
            continue;
        }
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const struct option_def *o = find_long(name, len);
            int takes_value =
                (o && options_takes_value(o)) || (len == 6 && strncmp(name, "config", 6) == 0);
            out[n++] = argv[i];
            if (takes_value && !eq && i + 1 < argc)
                out[n++] = argv[++i];
            continue;
        }
        const char *long_name = NULL;
        switch (a[1]) {
        case 'n':
            long_name = "--requests";
            break;
        case 'c':
            long_name = "--concurrency";
            break;
        case 'H':
            long_name = "--header";
            break;
        case 'h':
            if (a[2] == '\0') {
                out[n++] = "--help";
                continue;
            }
            break;
        }
        if (!long_name) {
            out[n++] = argv[i]; /* common/options names it as unknown */
            continue;
        }
        out[n++] = (char *)long_name;
        if (a[2] != '\0')
            out[n++] = argv[i] + 2;
        else if (i + 1 < argc)
            out[n++] = argv[++i];
    }
    out[n] = NULL;
    *out_argc = n;
    return out;
}

static int check_combination(struct loadgen_config *cfg, char *err, size_t errlen)
{
    if (!cfg->url[0]) {
        snprintf(err, errlen, "no URL (loadgen URL [OPTION]..., see --help)");
        return -1;
    }
    if (cfg->testbed_clients > 0 && cfg->nsources > 0) {
        snprintf(err, errlen, "--testbed and --source exclude each other");
        return -1;
    }
    if (cfg->steps.nsteps > 0) {
        const char *other = cfg->rate > 0          ? "--rate"
                            : cfg->requests > 0    ? "-n/--requests"
                            : cfg->duration_ms > 0 ? "--duration"
                            : cfg->warmup_ms > 0   ? "--warmup"
                                                   : NULL;
        if (other) {
            snprintf(err, errlen,
                     "--rate-steps and %s exclude each other (the schedule sets "
                     "the rates and the run's length; a first low step warms up)",
                     other);
            return -1;
        }
        /* The open-loop paths key on a rate; the highest step's. */
        for (size_t i = 0; i < cfg->steps.nsteps; i++)
            if (cfg->steps.steps[i].rate > cfg->rate)
                cfg->rate = cfg->steps.steps[i].rate;
        cfg->duration_ms = cfg->steps.total_us / 1000u;
    }
    if (cfg->slo_ms > 0 && !cfg->series_path[0]) {
        snprintf(err, errlen, "--slo only shapes --series' over_slo column: give --series too");
        return -1;
    }
    if (cfg->requests == 0 && cfg->duration_ms == 0)
        cfg->duration_ms = 10000; /* wrk's default */
    return 0;
}

/* "--requests: ..." -> "-n/--requests: ...": the user may have typed either. */
static void name_short_form(char *err, size_t errlen)
{
    static const char *const forms[][2] = {
        {"--requests:", "-n/"}, {"--concurrency:", "-c/"}, {"--header:", "-H/"}};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        size_t len = strlen(err), add = strlen(forms[i][1]);
        if (strncmp(err, forms[i][0], strlen(forms[i][0])) == 0 && len + add < errlen) {
            memmove(err + add, err, len + 1);
            memcpy(err, forms[i][1], add);
            return;
        }
    }
}

int loadgen_config_load(struct loadgen_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    if (config_defaults(cfg, err, errlen) < 0)
        return -1;
    int nargc = 0;
    const char *url = NULL, *extra = NULL;
    char **nargv = normalize_argv(argc, argv, &nargc, &url, &extra);
    if (!nargv) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = options_load(&loadgen_options, cfg, nargc, nargv, NULL, err, errlen);
    free(nargv);
    if (rc < 0)
        name_short_form(err, errlen);
    if (rc != 0)
        return rc;
    if (extra) {
        snprintf(err, errlen, "unexpected argument '%s' (one URL only; see --help)", extra);
        return -1;
    }
    if (url) {
        char inner[256];
        if (set_url(cfg, url, inner, sizeof(inner)) < 0) {
            snprintf(err, errlen, "URL '%s': %s", url, inner);
            return -1;
        }
    }
    return check_combination(cfg, err, errlen);
}

void loadgen_config_free(struct loadgen_config *cfg)
{
    free(cfg->sources);
    cfg->sources = NULL;
    cfg->nsources = 0;
}

size_t loadgen_config_clients(const struct loadgen_config *cfg)
{
    if (cfg->testbed_clients > 0)
        return (size_t)cfg->testbed_clients;
    if (cfg->nsources > 0)
        return cfg->nsources;
    return 1;
}
