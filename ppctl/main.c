/* ppctl: the manager's command-line client. Parses the options and the
 * command (status, scale N, restart ID), makes one REST call through
 * common/httpcall, and prints the reply as a table (table.c) or as the API's JSON.
 * Exit status: 0 done, 1 refused or failed, 2 usage, 3 API unreachable. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "apiauth.h"
#include "httpcall.h"
#include "http1.h"
#include "options.h"
#include "table.h"

#define VERSION "0.1.0"

enum { EXIT_DONE = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

/* The manager's default --state-dir, where it keeps api.token. */
#define PPCTL_STATE_DIR_DEFAULT "/run/proxypool"
/* Longest --timeout: a day is past any scale. */
#define PPCTL_TIMEOUT_MAX_S 86400

struct ppctl_config {
    struct httpcall_target api;
    int json;
    char token_file[512];
    char state_dir[512]; /* the token is STATE_DIR/api.token unless --token-file */
    int timeout_ms;
};

/* Custom: a URL, parsed by httpcall, which also names the client. */
static int set_api(void *cfg, const char *v, char *err, size_t errlen)
{
    struct ppctl_config *c = cfg;
    if (httpcall_parse_url(v, &c->api, err, errlen) < 0)
        return -1;
    snprintf(c->api.agent, sizeof(c->api.agent), "ppctl");
    return 0;
}

/* Custom: seconds with a fraction ("0.5"), kept in milliseconds. */
static int set_timeout(void *cfg, const char *v, char *err, size_t errlen)
{
    struct ppctl_config *c = cfg;
    char *end;
    errno = 0;
    double s = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !(s > 0) || s > PPCTL_TIMEOUT_MAX_S) {
        snprintf(err, errlen, "is seconds above 0 and at most %d, not '%s'", PPCTL_TIMEOUT_MAX_S,
                 v);
        return -1;
    }
    c->timeout_ms = (int)(s * 1000 + 0.5);
    if (c->timeout_ms == 0)
        c->timeout_ms = 1;
    return 0;
}

#define FIELD(member) OPTION_FIELD(struct ppctl_config, member)

static const struct option_def option_defs[] = {
    {"api", .arg = "URL", .help = "the manager's REST API", .deflt = "http://127.0.0.1:9090",
     .set = set_api},
    {"json", OPTION_FLAG, FIELD(json),
     .help = "print the API's JSON reply as it is instead of a table"},
    {"token-file", OPTION_STRING, FIELD(token_file), .arg = "FILE",
     .help = "send the bearer token in FILE (trailing newline stripped) with each request; the "
             "manager needs it for scale and restart",
     .deflt_text = "STATE-DIR/api.token", .min = 1},
    {"state-dir", OPTION_STRING, FIELD(state_dir), .arg = "DIR",
     .help = "the manager's --state-dir, where it writes its token (api.token, readable by "
             "root); the environment's PP_STATE_DIR when set",
     .deflt = PPCTL_STATE_DIR_DEFAULT, .min = 1},
    /* Scaling to 32 containers takes seconds, not minutes. */
    {"timeout", .arg = "SECONDS",
     .help = "give up waiting for the API's answer after this long (scale answers once every "
             "instance is ready)",
     .deflt = "60", .set = set_timeout},
};

static const struct options_spec spec = {
    .program = "ppctl",
    .version = VERSION,
    .synopsis =
        "Usage: ppctl [OPTIONS] status | scale N | restart ID | autoscale [show|on MIN..MAX "
        "TARGET|off]\n"
        "Shows and changes the manager's proxy pool through its REST API.\n",
    .epilog = "Commands:\n"
              "  status       one row per instance (ID NAME STATE ADDRESS PID READY_MS\n"
              "               RESTARTS), then how many replicas are ready\n"
              "  scale N      scale the pool to N instances (1 to 32); answers when all are\n"
              "               ready, with the new pool\n"
              "  restart ID   stop instance ID and start it again in the same slot\n"
              "  autoscale [show]\n"
              "               the autoscaler's settings, measure and last decisions\n"
              "  autoscale on MIN..MAX TARGET\n"
              "               let the manager keep TARGET (p99=200ms or cpu=70%) between MIN\n"
              "               and MAX replicas; scale is refused while it is on\n"
              "  autoscale off\n"
              "               stop autoscaling; the pool stays at its size\n\n"
              "Options go before the command.\n\n"
              "Changes carry the manager's bearer token, read from STATE-DIR/api.token\n"
              "(root-only: the manager generates it 0600 at its first start) or --token-file.\n\n"
              "Exit status: 0 done; 1 the API refused or the change failed (its reason on\n"
              "stderr); 2 usage error; 3 the API could not be reached or did not answer\n"
              "within --timeout.\n\n"
              "Example:\n"
              "  ppctl scale 8 && ppctl --json status\n"
              "  ppctl autoscale on 1..8 p99=200ms\n",
    .defs = option_defs,
    .ndefs = sizeof(option_defs) / sizeof(option_defs[0]),
    .positional = 1,
};

/* The table's defaults, then PP_STATE_DIR, which the environment may set
 * for every ppctl run and the command line still overrides. */
static int ppctl_config_defaults(struct ppctl_config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    if (options_defaults(&spec, cfg, err, errlen) < 0)
        return -1;
    const char *env = getenv("PP_STATE_DIR");
    if (env != NULL && env[0] != '\0')
        snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", env);
    return 0;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ppctl: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see ppctl --help)\n");
    va_end(ap);
    return EXIT_USAGE;
}

/* A whole decimal number that fits an int. */
static int parse_int(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < INT_MIN || v > INT_MAX)
        return -1;
    *out = (int)v;
    return 0;
}

/* The API's {"error": "..."} sentence, or the status line when the body is
 * not one. */
static void print_api_error(const struct httpcall_reply *r)
{
    cJSON *j = cJSON_ParseWithLength(r->body, r->len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (cJSON_IsString(e))
        fprintf(stderr, "ppctl: %s\n", e->valuestring);
    else
        fprintf(stderr, "ppctl: the API answered %d %s\n", r->status, http1_reason(r->status));
    cJSON_Delete(j);
}

enum reply_kind { REPLY_POOL, REPLY_INSTANCE, REPLY_AUTOSCALE };

static int print_reply(const struct ppctl_config *cfg, const struct httpcall_reply *r,
                       enum reply_kind kind)
{
    if (cfg->json) {
        fwrite(r->body, 1, r->len, stdout);
        if (r->len == 0 || r->body[r->len - 1] != '\n')
            fputc('\n', stdout);
        return EXIT_DONE;
    }
    cJSON *j = cJSON_ParseWithLength(r->body, r->len);
    int rc = j == NULL                 ? -1
             : kind == REPLY_INSTANCE  ? table_print_instance(stdout, j)
             : kind == REPLY_AUTOSCALE ? table_print_autoscale(stdout, j)
                                       : table_print_pool(stdout, j);
    cJSON_Delete(j);
    if (rc < 0) {
        fprintf(stderr, "ppctl: the API's reply is not the %s document ppctl knows\n",
                kind == REPLY_INSTANCE    ? "instance"
                : kind == REPLY_AUTOSCALE ? "autoscale"
                                          : "pool");
        return EXIT_REFUSED;
    }
    return EXIT_DONE;
}

int main(int argc, char **argv)
{
    static struct ppctl_config cfg;
    static char token[APIAUTH_TOKEN_MAX + 1];
    char err[768];
    int first = 0;
    int rc = ppctl_config_defaults(&cfg, err, sizeof(err));
    if (rc == 0)
        rc = options_load(&spec, &cfg, argc, argv, &first, err, sizeof(err));
    if (rc == 1)
        return EXIT_DONE;
    if (rc < 0) {
        fprintf(stderr, "ppctl: %s\n", err);
        return EXIT_USAGE;
    }

    int nargs = argc - first;
    char **args = argv + first;
    if (nargs == 0)
        return usage_error("a command is needed: status, scale N, restart ID or autoscale");
    const char *method, *body = NULL;
    char path[64], body_buf[64];
    int is_write = 1, n;
    enum reply_kind kind = REPLY_POOL;
    char *autoscale_body = NULL;
    if (strcmp(args[0], "status") == 0) {
        if (nargs != 1)
            return usage_error("status takes no arguments, not '%s'", args[1]);
        method = "GET";
        snprintf(path, sizeof(path), "/v1/pool");
        is_write = 0;
    } else if (strcmp(args[0], "scale") == 0) {
        if (nargs != 2)
            return usage_error("scale takes one argument, the number of replicas");
        if (parse_int(args[1], &n) < 0)
            return usage_error("scale takes a whole number of replicas, not '%s'", args[1]);
        method = "PUT";
        snprintf(path, sizeof(path), "/v1/pool");
        snprintf(body_buf, sizeof(body_buf), "{\"replicas\": %d}", n);
        body = body_buf;
    } else if (strcmp(args[0], "restart") == 0) {
        if (nargs != 2)
            return usage_error("restart takes one argument, the instance id");
        if (parse_int(args[1], &n) < 0 || n < 1)
            return usage_error("restart takes an instance id (a number from 1), not '%s'", args[1]);
        method = "POST";
        snprintf(path, sizeof(path), "/v1/pool/instances/%d/restart", n);
        body = "{}"; /* a write carries a JSON body and its content type */
        kind = REPLY_INSTANCE;
    } else if (strcmp(args[0], "autoscale") == 0) {
        snprintf(path, sizeof(path), "/v1/autoscale");
        kind = REPLY_AUTOSCALE;
        if (nargs == 1 || (nargs == 2 && strcmp(args[1], "show") == 0)) {
            method = "GET";
            is_write = 0;
        } else if (nargs == 2 && strcmp(args[1], "off") == 0) {
            method = "PUT";
            body = "{\"enabled\": false}";
        } else if (nargs == 4 && strcmp(args[1], "on") == 0) {
            int lo, hi;
            char tail;
            if (sscanf(args[2], "%d..%d%c", &lo, &hi, &tail) != 2)
                return usage_error("autoscale on takes MIN..MAX (e.g. 1..8), not '%s'", args[2]);
            /* The manager checks the numbers and the target and says what is wrong. */
            cJSON *j = cJSON_CreateObject();
            if (j == NULL || !cJSON_AddBoolToObject(j, "enabled", 1) ||
                !cJSON_AddNumberToObject(j, "min", lo) || !cJSON_AddNumberToObject(j, "max", hi) ||
                !cJSON_AddStringToObject(j, "target", args[3]) ||
                (autoscale_body = cJSON_PrintUnformatted(j)) == NULL) {
                cJSON_Delete(j);
                fprintf(stderr, "ppctl: out of memory\n");
                return EXIT_REFUSED;
            }
            cJSON_Delete(j);
            method = "PUT";
            body = autoscale_body;
        } else {
            return usage_error("autoscale takes show, off, or on MIN..MAX TARGET (e.g. on 1..8 "
                               "p99=200ms)");
        }
    } else {
        return usage_error("unknown command '%s': status, scale N, restart ID or autoscale",
                           args[0]);
    }

    /* An explicit --token-file must be readable; the default one may be
     * absent (a manager started with --no-auth, or reads as a user who
     * cannot read it): the API then says what it needs. */
    size_t token_len = 0;
    char default_path[600];
    const char *token_path = cfg.token_file;
    if (token_path[0] == '\0') {
        snprintf(default_path, sizeof(default_path), "%s/%s", cfg.state_dir, APIAUTH_TOKEN_NAME);
        token_path = default_path;
    }
    if (apiauth_token_load(token_path, 0, token, &token_len, err, sizeof(err)) < 0) {
        if (cfg.token_file[0] != '\0') {
            fprintf(stderr, "ppctl: %s\n", err);
            return EXIT_USAGE;
        }
        token[0] = '\0';
        if (is_write)
            fprintf(stderr, "ppctl: sending no token: %s\n", err);
    }
    struct httpcall_reply r;
    rc = httpcall_run(&cfg.api, method, path, body, token[0] != '\0' ? token : NULL, cfg.timeout_ms,
                      &r, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "ppctl: %s%s\n", err,
                rc == -2 && is_write ? "; the change may still be running (see ppctl status)" : "");
        return EXIT_UNREACHABLE;
    }
    int code;
    if (r.status != 200) {
        print_api_error(&r);
        code = EXIT_REFUSED;
    } else {
        code = print_reply(&cfg, &r, kind);
    }
    httpcall_reply_free(&r);
    cJSON_free(autoscale_body);
    explicit_bzero(token, sizeof(token));
    return code;
}
