/* What every worker kind shares: finding a kind by name, the instance's
 * state dir, the cache settings read from --proxy-arg, stopping and killing
 * an instance's processes, and the files it leaves. The kinds themselves are
 * worker_proxyd.c, worker_squid.c and worker_nginx.c. */
#include "worker.h"
#include "../spawn.h"

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../config.h"
#include "../instance.h"
#include "size.h"

/* The paper's cache (Squid "3.0"): 260 MB of memory, objects up to 1024 KB. */
#define WORKER_PAPER_CACHE_MEM_BYTES (260ull << 20)
#define WORKER_PAPER_MAX_OBJECT_BYTES (1024ull << 10)
/* nftw's descriptor budget: cache trees are two levels deep (levels=1:2). */
#define WORKER_TREE_FDS 16

const char *const worker_client_nets[] = {
    "127.0.0.0/8",    "::1/128",       "10.0.0.0/8", "172.16.0.0/12",
    "192.168.0.0/16", "198.18.0.0/15", "fc00::/7",   "fe80::/10",
};
const size_t worker_nclient_nets = sizeof(worker_client_nets) / sizeof(worker_client_nets[0]);
const char *const worker_local_dests[] = {
    "127.0.0.0/8", "0.0.0.0/8", "::1/128", "::/128", "169.254.0.0/16", "fe80::/10",
};
const size_t worker_nlocal_dests = sizeof(worker_local_dests) / sizeof(worker_local_dests[0]);

static const struct worker_kind *const kinds[] = {&worker_kind_proxyd, &worker_kind_squid,
                                                  &worker_kind_nginx};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

const struct worker_kind *worker_kind_find(const char *name)
{
    for (size_t i = 0; i < NKINDS; i++)
        if (strcmp(kinds[i]->name, name) == 0)
            return kinds[i];
    return NULL;
}

const struct worker_kind *worker_kind_at(size_t i)
{
    return i < NKINDS ? kinds[i] : NULL;
}

int worker_kind_is_exe(const char *exe_base)
{
    for (size_t i = 0; i < NKINDS; i++)
        if (strncmp(exe_base, kinds[i]->exe, strlen(kinds[i]->exe)) == 0)
            return 1;
    return 0;
}

void worker_kind_dir(const struct manager_config *cfg, const struct instance *inst, char *out,
                     size_t outlen)
{
    snprintf(out, outlen, "%s/%s", cfg->state_dir, inst->name);
}

int worker_cmd_add(struct worker_cmd *cmd, const char *arg, char *err, size_t errlen)
{
    size_t len = strlen(arg) + 1;
    if (cmd->argc == WORKER_ARGV_MAX || cmd->used + len > sizeof(cmd->text)) {
        snprintf(err, errlen, "command line too long at '%s'", arg);
        return -1;
    }
    char *dst = cmd->text + cmd->used;
    memcpy(dst, arg, len);
    cmd->used += len;
    cmd->argv[cmd->argc++] = dst;
    cmd->argv[cmd->argc] = NULL;
    return 0;
}

int worker_kind_write_file(const char *path, const char *text, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    if (close(fd) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

int worker_kind_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    nftw(path, remove_entry, WORKER_TREE_FDS, FTW_DEPTH | FTW_PHYS);
    return lstat(path, &st) < 0 && errno == ENOENT ? 0 : -1;
}

/* "--opt=VALUE" or "--opt": the value after '=', "" without one, NULL when
 * arg is not opt. */
static const char *arg_value(const char *arg, const char *opt)
{
    size_t n = strlen(opt);
    if (strncmp(arg, opt, n) != 0)
        return NULL;
    if (arg[n] == '=')
        return arg + n + 1;
    return arg[n] == '\0' ? "" : NULL;
}

int worker_kind_cache_args(const struct manager_config *cfg, struct worker_settings *s, char *err,
                           size_t errlen)
{
    s->cache_on = 1;
    s->nallow_dest = 0;
    s->cache_mem_bytes = WORKER_PAPER_CACHE_MEM_BYTES;
    s->max_object_bytes = WORKER_PAPER_MAX_OBJECT_BYTES;
    for (size_t i = 0; i < cfg->nproxy_args; i++) {
        const char *a = cfg->proxy_args[i], *v;
        char e[128];
        if ((v = arg_value(a, "--no-cache")) && !v[0]) {
            s->cache_on = 0;
        } else if ((v = arg_value(a, "--cache-mem")) && v[0]) {
            if (size_parse(v, &s->cache_mem_bytes, e, sizeof(e)) < 0 || s->cache_mem_bytes == 0) {
                snprintf(err, errlen, "--proxy-arg %s: %s", a, s->cache_mem_bytes ? e : "is 0");
                return -1;
            }
        } else if ((v = arg_value(a, "--origin")) && v[0]) {
            struct addr o;
            if (addr_parse(v, 80, &o, e, sizeof(e)) < 0 || strlen(v) >= sizeof(s->origin)) {
                snprintf(err, errlen, "--proxy-arg %s: %s", a,
                         strlen(v) >= sizeof(s->origin) ? "too long" : e);
                return -1;
            }
            snprintf(s->origin, sizeof(s->origin), "%s", v);
        } else if ((v = arg_value(a, "--allow-dest")) && v[0]) {
            struct cidr c;
            if (s->nallow_dest == WORKER_MAX_ALLOW_DEST || cidr_parse(v, &c, e, sizeof(e)) < 0) {
                snprintf(err, errlen, "--proxy-arg %s: %s", a,
                         s->nallow_dest == WORKER_MAX_ALLOW_DEST ? "too many" : e);
                return -1;
            }
            /* Written back as parsed: the generated text holds no input. */
            cidr_format(&c, s->allow_dest[s->nallow_dest], sizeof(s->allow_dest[0]));
            s->nallow_dest++;
        } else if ((v = arg_value(a, "--max-object-size")) && v[0]) {
            if (size_parse(v, &s->max_object_bytes, e, sizeof(e)) < 0 || s->max_object_bytes == 0) {
                snprintf(err, errlen, "--proxy-arg %s: %s", a, s->max_object_bytes ? e : "is 0");
                return -1;
            }
        } else {
            snprintf(err, errlen,
                     "--proxy-arg %s means nothing to the %s worker (it takes --no-cache, "
                     "--cache-mem=SIZE, --max-object-size=SIZE, --origin=HOST[:PORT] and "
                     "--allow-dest=CIDR)",
                     a, cfg->worker);
            return -1;
        }
    }
    return 0;
}

/* a, its wildcard address (0.0.0.0, ::) as loopback: where a worker on this
 * host would reach it. */
static struct addr reachable_at(const struct addr *a)
{
    struct addr r = *a;
    if (r.ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&r.ss;
        if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
            sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (r.ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&r.ss;
        if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
            sin6->sin6_addr = in6addr_loopback;
    }
    return r;
}

static int is_ip(const struct addr *a)
{
    return a->ss.ss_family == AF_INET || a->ss.ss_family == AF_INET6;
}

size_t worker_kind_manager_endpoints(const struct manager_config *cfg, struct addr *out)
{
    size_t n = 0;
    if (is_ip(&cfg->api)) /* a configuration without an API (tests/tools/rtprobe) */
        out[n++] = reachable_at(&cfg->api);
    if (strcmp(cfg->forwarding, "balancer") == 0 && is_ip(&cfg->balancer_admin))
        out[n++] = reachable_at(&cfg->balancer_admin);
    return n;
}

static int mkdir_one(const char *path, char *err, size_t errlen)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int worker_kind_prepare(const struct worker_kind *k, const struct manager_config *cfg,
                        struct instance *inst, const struct worker_endpoints *ep,
                        struct worker_cmd *cmd, char *err, size_t errlen)
{
    char dir[600];
    if (ep->nlisten == 0) {
        snprintf(err, errlen, "%s has no address to listen on", inst->name);
        return -1;
    }
    worker_kind_dir(cfg, inst, dir, sizeof(dir));
    if (mkdir_one(dir, err, errlen) < 0)
        return -1;
    memset(cmd, 0, sizeof(*cmd));
    if (k->prepare(cfg, inst, ep, dir, cmd, err, errlen) < 0)
        return -1;
    worker_kind_place(k, inst, ep);
    return 0;
}

void worker_kind_place(const struct worker_kind *k, struct instance *inst,
                       const struct worker_endpoints *ep)
{
    inst->address = ep->listen[0];
    memset(&inst->admin, 0, sizeof(inst->admin));
    if (k->has_admin)
        inst->admin = ep->admin;
    inst->probe = k->has_admin ? ep->admin : ep->listen[0];
}

void worker_kind_stop(const struct worker_kind *k, const struct instance *inst)
{
    if (inst->pid > 0)
        kill(inst->pid, k->stop_signal);
}

void worker_kind_kill(const struct instance *inst)
{
    /* Not yet reaped, so the number is still this instance's: its group
     * (it leads its own session) holds every process it started. */
    spawn_kill_group(inst->pid);
}

void worker_kind_release(const struct worker_kind *k, const struct manager_config *cfg,
                         const struct instance *inst, int kill_group)
{
    /* nginx's worker, cache manager and loader outlive a master killed
     * with SIGKILL; they keep the group's id in use, so it names no one
     * else. */
    if (kill_group && k->forks && inst->pid > 0)
        kill(-inst->pid, SIGKILL);
    char dir[600];
    worker_kind_dir(cfg, inst, dir, sizeof(dir));
    k->release(cfg, inst, dir);
}

void worker_kind_remove_leftovers(const struct manager_config *cfg)
{
    for (size_t i = 0; i < NKINDS; i++)
        kinds[i]->remove_leftovers(cfg);
}

int worker_kind_check_foreign(const struct manager_config *cfg, const char *what, const char *path,
                              const char *option, const char *user, char *err, size_t errlen)
{
    if (access(path, X_OK) != 0) {
        snprintf(err, errlen, "%s not found or not executable at %s (see %s)", what, path, option);
        return -1;
    }
    if (!getpwnam(user)) {
        snprintf(err, errlen, "the %s worker runs as user '%s', which does not exist", what, user);
        return -1;
    }
    struct worker_settings s;
    return worker_kind_cache_args(cfg, &s, err, errlen);
}

void worker_text_put(struct worker_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->cap - t->len)
        t->overflow = 1;
    else
        t->len += (size_t)n;
}
