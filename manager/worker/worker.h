/* What an instance runs: proxyd, Squid or nginx (--worker). One table of
 * functions per kind, one file each (worker_proxyd.c, worker_squid.c,
 * worker_nginx.c): the command line, the configuration written into the
 * instance's state dir, the drain signal, what answers the readiness probe
 * and whether there is an admin endpoint. The runtimes decide where an
 * instance listens; the kind decides how that is said to the program. */
#ifndef PP_MANAGER_WORKER_H
#define PP_MANAGER_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include "addr.h"

struct instance;
struct manager_config;

/* The instance's own address and, in the container runtime, the VIP. */
#define WORKER_MAX_LISTEN 2
#define WORKER_ARGV_MAX 64
#define WORKER_ARGV_TEXT 4096
/* The manager's own endpoints a worker refuses as destinations: its API and
 * the balancer's admin. */
#define WORKER_MAX_REFUSED 2
/* --proxy-arg=--allow-dest=CIDR entries a Squid or nginx worker takes. */
#define WORKER_MAX_ALLOW_DEST 8
/* "ffff:...:ffff/128" and its NUL. */
#define WORKER_CIDR_STRLEN 64

/* Who a Squid or nginx worker serves: proxyd's default --allow (loopback,
 * RFC 1918, RFC 2544's 198.18.0.0/15 that the testbed's clients and
 * subnets use, IPv6 ULA and link-local), so every worker kind accepts the
 * same clients. The manager has no option for client networks. */
extern const char *const worker_client_nets[];
extern const size_t worker_nclient_nets;
/* Destinations refused unless opened, as proxyd's defaults: loopback,
 * unspecified, link-local (Squid's to_localhost and to_linklocal). */
extern const char *const worker_local_dests[];
extern const size_t worker_nlocal_dests;

/* Where an instance serves, as its runtime decided. */
struct worker_endpoints {
    struct addr listen[WORKER_MAX_LISTEN]; /* [0]: its own address, the one probed */
    size_t nlisten;
    struct addr admin; /* proxyd's admin endpoint; kinds without one ignore it */
};

/* A command ready for execv: argv points into text or into the config. */
struct worker_cmd {
    char *argv[WORKER_ARGV_MAX + 1];
    size_t argc;
    char text[WORKER_ARGV_TEXT];
    size_t used;
};

/* What the squid and nginx configurations are generated from: pure data, so
 * unit tests can check the text (worker_kind_*_conf). */
struct worker_settings {
    const char *name;      /* the instance's name: visible_hostname, X-Cache */
    const char *dir;       /* its state dir: config, pid file, logs, temp files */
    const char *cache_dir; /* nginx: its proxy_cache on tmpfs */
    const char *user;      /* the unprivileged user the worker runs as */
    struct addr listen[WORKER_MAX_LISTEN];
    size_t nlisten;
    int cache_on;
    uint64_t cache_mem_bytes;
    uint64_t max_object_bytes;
    /* --proxy-arg=--origin=HOST[:PORT]: the origin the experiment serves
     * from, to which nginx keeps upstream connections alive (a forward
     * proxy cannot name an upstream it does not know); "" when not given. */
    char origin[64];
    /* --proxy-arg=--allow-dest=CIDR: local destinations opened on purpose,
     * as proxyd's option of that name (an origin on loopback). */
    char allow_dest[WORKER_MAX_ALLOW_DEST][WORKER_CIDR_STRLEN];
    size_t nallow_dest;
    /* The manager's API and the balancer's admin (worker_kind_manager_
     * endpoints): refused whatever --allow-dest opens. */
    struct addr refused[WORKER_MAX_REFUSED];
    size_t nrefused;
};

struct worker_kind {
    const char *name; /* "proxyd", "squid", "nginx": --worker, GET /v1/pool */
    const char *exe;  /* the binary's base name: how an earlier run's leftovers are known */
    int stop_signal;  /* drain: stop accepting, finish in-flight requests, exit */
    int forks;        /* runs several processes: a kill takes its whole process group */
    int has_admin;    /* an admin endpoint (/healthz, /metrics) the balancer can check */
    /* At start: the binary is there and --proxy-arg means something to it. */
    int (*check)(const struct manager_config *cfg, char *err, size_t errlen);
    /* Writes the instance's configuration under dir and builds the command. */
    int (*prepare)(const struct manager_config *cfg, const struct instance *inst,
                   const struct worker_endpoints *ep, const char *dir, struct worker_cmd *cmd,
                   char *err, size_t errlen);
    /* Whether the HTTP status of GET /healthz on listen[0] (or the admin
     * endpoint, with has_admin) means it serves. */
    int (*ready)(int status);
    /* After the instance exited: removes what must not outlive it. */
    void (*release)(const struct manager_config *cfg, const struct instance *inst, const char *dir);
    /* At start: removes what instances of an earlier run that crashed left
     * (their processes are already gone). */
    void (*remove_leftovers)(const struct manager_config *cfg);
};

extern const struct worker_kind worker_kind_proxyd;
extern const struct worker_kind worker_kind_squid;
extern const struct worker_kind worker_kind_nginx;

/* The kind named name, or NULL. */
const struct worker_kind *worker_kind_find(const char *name);
/* The i-th kind this build has, or NULL past the last (for --features). */
const struct worker_kind *worker_kind_at(size_t i);

/* Sets inst's address, admin and probe from ep as worker_kind_prepare does,
 * writing nothing (an adopted instance runs with what it was given). */
void worker_kind_place(const struct worker_kind *k, struct instance *inst,
                       const struct worker_endpoints *ep);
/* For the runtimes: makes the instance's state dir, has the kind write its
 * configuration and command, and sets inst's address, admin (none when the
 * kind has no admin endpoint, so the balancer checks by TCP connect) and
 * probe address. */
int worker_kind_prepare(const struct worker_kind *k, const struct manager_config *cfg,
                        struct instance *inst, const struct worker_endpoints *ep,
                        struct worker_cmd *cmd, char *err, size_t errlen);
/* Asks the instance to drain (the kind's stop signal to its main process). */
void worker_kind_stop(const struct worker_kind *k, const struct instance *inst);
/* SIGKILL to every process of a running instance (its process group: each
 * instance leads its own session). */
void worker_kind_kill(const struct instance *inst);
/* After the main process was reaped: its children that outlived it, killed
 * (forking kinds, process runtime), then the kind's release. */
void worker_kind_release(const struct worker_kind *k, const struct manager_config *cfg,
                         const struct instance *inst, int kill_group);
/* At start: every kind's leftovers (an earlier run may have used another). */
void worker_kind_remove_leftovers(const struct manager_config *cfg);
/* Whether exe_base (a /proc/PID/exe base name) is one of the kinds. */
int worker_kind_is_exe(const char *exe_base);

/* The instance's state dir: <state-dir>/<name>. */
void worker_kind_dir(const struct manager_config *cfg, const struct instance *inst, char *out,
                     size_t outlen);
/* A generated configuration file being written into a fixed buffer: p
 * holds len bytes of cap; overflow is set (and nothing more added) once a
 * line does not fit. */
struct worker_text {
    char *p;
    size_t cap, len;
    int overflow;
};
void worker_text_put(struct worker_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A worker binary that is not ours (squid, nginx) can run here: path is
 * executable (else the error names option, "--squid"), user exists, and
 * --proxy-arg holds only the cache settings it understands. */
int worker_kind_check_foreign(const struct manager_config *cfg, const char *what, const char *path,
                              const char *option, const char *user, char *err, size_t errlen);
/* The cache settings --proxy-arg gives (--no-cache, --cache-mem=SIZE,
 * --max-object-size=SIZE; the paper's 260 MB and 1024 KB by default),
 * --origin=HOST[:PORT] and --allow-dest=CIDR (repeatable) into s; -1 with err for any other
 * argument, which only proxyd would understand. */
int worker_kind_cache_args(const struct manager_config *cfg, struct worker_settings *s, char *err,
                           size_t errlen);
/* The manager's own endpoints, which no instance may reach even when its
 * origin's network is opened (--proxy-arg=--allow-dest=127.0.0.1/32 opens
 * the API's address too): the API and, with balancer forwarding, the
 * balancer's admin, a wildcard address as loopback. Fills out (room for
 * WORKER_MAX_REFUSED), returns how many. */
size_t worker_kind_manager_endpoints(const struct manager_config *cfg, struct addr *out);
/* Appends one argument (copied) to cmd; -1 with err when it is full. */
int worker_cmd_add(struct worker_cmd *cmd, const char *arg, char *err, size_t errlen);
/* Writes text to path (mode 0644), replacing it. */
int worker_kind_write_file(const char *path, const char *text, char *err, size_t errlen);
/* rm -rf path (no symlinks followed); 0 when it is gone. */
int worker_kind_remove_tree(const char *path);

/* The generated configurations: the text's length, or -1 when out is too
 * small. */
int worker_kind_squid_conf(const struct worker_settings *s, char *out, size_t outlen);
int worker_kind_nginx_conf(const struct worker_settings *s, char *out, size_t outlen);
/* Squid's service name (-n: alphanumeric only), which names its shared
 * memory segments /dev/shm/<service>-*.shm. */
void worker_kind_squid_service(const char *name, char *out, size_t outlen);

#endif
