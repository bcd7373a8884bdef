/* The Squid worker: Debian's Squid 5 in the foreground (-N, one process),
 * with a squid.conf generated into the instance's state dir that keeps the
 * paper's settings (memory cache 260 MB, objects up to 1024 KB, memory
 * only) as Squid's documentation sets up a memory-only cache, and Squid's
 * defaults otherwise (docs/peers.md goes through them). Squid has no admin
 * endpoint: any HTTP answer from its own port is readiness. SIGTERM drains
 * it. Access rules are Squid 6's defaults (to_localhost and to_linklocal
 * denied, Safe_ports, CONNECT to 443 only), clients as proxyd's. */
#include "worker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../config.h"
#include "../instance.h"

/* Squid 5 counts the stored response headers in maximum_object_size and
 * maximum_object_size_in_memory: a 1024 KB body under a 1024 KB limit is not
 * cached (measured with Squid 5.7). The limit is raised by this much, which
 * holds any header block an origin sends in practice (nginx's are ~250
 * bytes) and keeps bodies more than 16 KB over the limit uncached. */
#define SQUID_HEADER_ALLOWANCE_BYTES (16u << 10)
/* Squid waits shutdown_lifetime (default 30 s) for clients after SIGTERM,
 * even when there are none, then ~1-2 s more: 1 s keeps a drain near 3-4 s. */
#define SQUID_SHUTDOWN_LIFETIME_S 1
#define SQUID_USER "proxy"
/* The paper's Fig. 4 sends 64 clients x 1000 simultaneous requests, all to
 * one instance when there is one; Squid otherwise takes the manager's
 * RLIMIT_NOFILE. 65536 is Debian's build limit (--with-filedescriptors). */
#define SQUID_MAX_FDS 65536
#define SQUID_CONF_MAX 8192

/* Squid reads KB as 1024 bytes; MB when it is exact, for a readable file. */
static void put_size(struct worker_text *t, const char *directive, uint64_t bytes)
{
    uint64_t kb = (bytes + 1023) / 1024;
    if (kb % 1024 == 0)
        worker_text_put(t, "%s %llu MB\n", directive, (unsigned long long)(kb / 1024));
    else
        worker_text_put(t, "%s %llu KB\n", directive, (unsigned long long)kb);
}

/* "acl NAME TYPE v1 v2 ...\n" from a table. */
static void put_acl(struct worker_text *t, const char *name, const char *type,
                    const char *const *values, size_t n)
{
    worker_text_put(t, "acl %s %s", name, type);
    for (size_t i = 0; i < n; i++)
        worker_text_put(t, " %s", values[i]);
    worker_text_put(t, "\n");
}

/* Squid 6's default http_access order (squid.conf.documented): unsafe ports
 * and CONNECT to anything but 443 first; the instance's own port and the
 * manager's endpoints (its API, the balancer's admin); clients
 * outside the client networks; then what the operator opened is allowed
 * (--proxy-arg=--allow-dest, and the --origin address and port, chosen on
 * purpose as proxyd's reverse origin is);
 * then this host's loopback and unspecified addresses (to_localhost: the
 * manager's API listens there) and link-local ones (to_linklocal: a cloud's
 * metadata service) are refused; then the clients allowed, all else denied. dst ACLs match the
 * address a name resolves to, so a name pointing at 127.0.0.1 is refused too. */
static void put_access_rules(struct worker_text *t, const struct worker_settings *s)
{
    static const char *const ssl_ports[] = {"443"};
    static const char *const safe_ports[] = {"80",         "21",  "443", "70",  "210",
                                             "1025-65535", "280", "488", "591", "777"};
    put_acl(t, "pp_clients", "src", worker_client_nets, worker_nclient_nets);
    put_acl(t, "SSL_ports", "port", ssl_ports, sizeof(ssl_ports) / sizeof(ssl_ports[0]));
    put_acl(t, "Safe_ports", "port", safe_ports, sizeof(safe_ports) / sizeof(safe_ports[0]));
    worker_text_put(t, "acl CONNECT method CONNECT\n");
    put_acl(t, "pp_to_local", "dst", worker_local_dests, worker_nlocal_dests);
    for (size_t i = 0; i < s->nlisten; i++) {
        char host[ADDR_STRLEN];
        addr_format_host(&s->listen[i], host, sizeof(host));
        worker_text_put(t, "acl pp_self%zu dst %s\nacl pp_self%zu_port port %d\n", i, host, i,
                        addr_port(&s->listen[i]));
    }
    if (s->nallow_dest > 0) {
        worker_text_put(t, "acl pp_opened dst");
        for (size_t i = 0; i < s->nallow_dest; i++)
            worker_text_put(t, " %s", s->allow_dest[i]);
        worker_text_put(t, "\n");
    }
    struct addr o;
    char err[64], host[ADDR_STRLEN];
    for (size_t i = 0; i < s->nrefused; i++) {
        addr_format_host(&s->refused[i], host, sizeof(host));
        worker_text_put(t, "acl pp_manager%zu dst %s\nacl pp_manager%zu_port port %d\n", i, host, i,
                        addr_port(&s->refused[i]));
    }
    int origin = s->origin[0] && addr_parse(s->origin, 80, &o, err, sizeof(err)) == 0;
    if (origin) {
        addr_format_host(&o, host, sizeof(host));
        worker_text_put(t, "acl pp_origin dst %s\nacl pp_origin_port port %d\n", host,
                        addr_port(&o));
    }
    worker_text_put(t, "http_access deny !Safe_ports\n"
                       "http_access deny CONNECT !SSL_ports\n");
    for (size_t i = 0; i < s->nlisten; i++)
        worker_text_put(t, "http_access deny pp_self%zu pp_self%zu_port\n", i, i);
    for (size_t i = 0; i < s->nrefused; i++)
        worker_text_put(t, "http_access deny pp_manager%zu pp_manager%zu_port\n", i, i);
    worker_text_put(t, "http_access deny !pp_clients\n");
    if (s->nallow_dest > 0)
        worker_text_put(t, "http_access allow pp_opened\n");
    if (origin)
        worker_text_put(t, "http_access allow pp_origin pp_origin_port\n");
    worker_text_put(t, "http_access deny pp_to_local\n"
                       "http_access allow pp_clients\n"
                       "http_access deny all\n");
}

void worker_kind_squid_service(const char *name, char *out, size_t outlen)
{
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < outlen; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
            out[n++] = *p;
    out[n] = '\0';
}

int worker_kind_squid_conf(const struct worker_settings *s, char *out, size_t outlen)
{
    struct worker_text t = {out, outlen, 0, 0};
    if (outlen == 0)
        return -1;
    out[0] = '\0';
    worker_text_put(
        &t,
        "# Generated by the manager for instance %s (--worker squid); rewritten at each start.\n",
        s->name);
    for (size_t i = 0; i < s->nlisten; i++) {
        char a[ADDR_STRLEN];
        addr_format(&s->listen[i], a, sizeof(a));
        worker_text_put(&t, "http_port %s\n", a);
    }
    /* Nothing else listens: ICP and HTCP are off by default in Squid 5 and
     * SNMP has no port unless given one; said anyway, so a packaging change
     * cannot make 32 instances fight over port 3130. */
    worker_text_put(&t, "icp_port 0\nhtcp_port 0\nsnmp_port 0\n");
    worker_text_put(&t, "visible_hostname %s\n", s->name); /* X-Cache: HIT from <name> */
    worker_text_put(&t, "cache_effective_user %s\n", s->user);
    worker_text_put(&t, "pid_filename %s/squid.pid\n", s->dir);
    worker_text_put(&t, "cache_log %s/cache.log\n", s->dir);
    worker_text_put(&t, "coredump_dir %s\n", s->dir);
    /* proxyd keeps no access log either; the state dir is tmpfs. */
    worker_text_put(&t, "access_log none\ncache_store_log none\nlogfile_rotate 0\n");
    /* The paper's cache, in memory only: no cache_dir (Squid 3.1+ then
     * keeps objects in cache_mem alone, and the largest it caches is
     * maximum_object_size_in_memory); memory_cache_mode always (the
     * default, said) keeps what came from the network. */
    put_size(&t, "cache_mem", s->cache_mem_bytes);
    worker_text_put(&t, "memory_cache_mode always\n");
    put_size(&t, "maximum_object_size_in_memory",
             s->max_object_bytes + SQUID_HEADER_ALLOWANCE_BYTES);
    put_size(&t, "maximum_object_size", s->max_object_bytes + SQUID_HEADER_ALLOWANCE_BYTES);
    if (!s->cache_on)
        worker_text_put(&t, "cache deny all\n");
    /* Simultaneous misses of one object wait for one fetch, as proxyd's
     * collapsing and nginx's proxy_cache_lock do (Squid's default is off). */
    worker_text_put(&t, "collapsed_forwarding on\n");
    /* Kept-alive connections to the origin and to clients (the defaults,
     * said: the nginx worker's upstream keepalive is the same thing). */
    worker_text_put(&t, "server_persistent_connections on\nclient_persistent_connections on\n");
    put_access_rules(&t, s);
    worker_text_put(&t, "pinger_enable off\n"); /* no ICMP helper process */
    worker_text_put(&t, "max_filedescriptors %d\n", SQUID_MAX_FDS);
    worker_text_put(&t, "shutdown_lifetime %d seconds\n", SQUID_SHUTDOWN_LIFETIME_S);
    return t.overflow ? -1 : (int)t.len;
}

static int squid_check(const struct manager_config *cfg, char *err, size_t errlen)
{
    return worker_kind_check_foreign(cfg, "squid", cfg->squid_path, "--squid", SQUID_USER, err,
                                     errlen);
}

static int squid_prepare(const struct manager_config *cfg, const struct instance *inst,
                         const struct worker_endpoints *ep, const char *dir, struct worker_cmd *cmd,
                         char *err, size_t errlen)
{
    struct worker_settings s = {.name = inst->name, .dir = dir, .user = SQUID_USER};
    if (worker_kind_cache_args(cfg, &s, err, errlen) < 0)
        return -1;
    s.nrefused = worker_kind_manager_endpoints(cfg, s.refused);
    s.nlisten = ep->nlisten < WORKER_MAX_LISTEN ? ep->nlisten : WORKER_MAX_LISTEN;
    memcpy(s.listen, ep->listen, sizeof(s.listen[0]) * s.nlisten);
    char conf[SQUID_CONF_MAX], path[700], service[64];
    if (worker_kind_squid_conf(&s, conf, sizeof(conf)) < 0) {
        snprintf(err, errlen, "squid.conf for %s longer than %d bytes", inst->name, SQUID_CONF_MAX);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/squid.conf", dir);
    if (worker_kind_write_file(path, conf, err, errlen) < 0)
        return -1;
    /* Squid drops root for cache_effective_user and then writes its pid
     * file and cache.log here. */
    const struct passwd *pw = getpwnam(SQUID_USER);
    /* fchown on the directory opened without following a link: a link
     * planted in its place must not hand its target to the user. */
    int dirfd = pw ? open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (dirfd < 0 || fchown(dirfd, pw->pw_uid, pw->pw_gid) < 0) {
        snprintf(err, errlen, "cannot give %s to user %s: %s", dir, SQUID_USER,
                 pw ? strerror(errno) : "no such user");
        if (dirfd >= 0)
            close(dirfd);
        return -1;
    }
    close(dirfd);
    worker_kind_squid_service(inst->name, service, sizeof(service));
    /* -N: stay in the foreground as one process (no master, no kid);
     * -n: a service name of its own, so the shared-memory segments Squid
     * makes (/dev/shm/<service>-cf__*.shm) are the instance's; -d 1:
     * important messages to stderr, the instance's log, as well. */
    const char *args[] = {cfg->squid_path, "-N", "-d", "1", "-n", service, "-f", path};
    for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++)
        if (worker_cmd_add(cmd, args[i], err, errlen) < 0)
            return -1;
    return 0;
}

/* Any HTTP answer from its port: an origin-form GET /healthz is refused
 * with 400 "Invalid URL", which only a Squid that serves can say. */
static int squid_ready(int status)
{
    return status >= 100;
}

/* /dev/shm/<service>-*.shm: of the one service exact, or (exact NULL) of
 * every service named service_prefix followed by digits, an instance's. */
static void remove_shm_segments(const char *service_prefix, const char *exact)
{
    DIR *d = opendir("/dev/shm");
    if (!d)
        return;
    size_t plen = strlen(service_prefix);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name, *dash = strchr(n, '-');
        size_t len = strlen(n);
        if (!dash || len < 4 || strcmp(n + len - 4, ".shm") != 0)
            continue;
        size_t slen = (size_t)(dash - n);
        if (exact) {
            if (slen != strlen(exact) || strncmp(n, exact, slen) != 0)
                continue;
        } else if (slen <= plen || strncmp(n, service_prefix, plen) != 0 ||
                   strspn(n + plen, "0123456789") != slen - plen) {
            continue;
        }
        char path[300];
        snprintf(path, sizeof(path), "/dev/shm/%s", n);
        unlink(path);
    }
    closedir(d);
}

static void squid_release(const struct manager_config *cfg, const struct instance *inst,
                          const char *dir)
{
    (void)cfg;
    /* A clean exit removes these; SIGKILL does not. The config and
     * cache.log stay for whoever looks into what happened. */
    char path[700], service[64];
    snprintf(path, sizeof(path), "%s/squid.pid", dir);
    unlink(path);
    worker_kind_squid_service(inst->name, service, sizeof(service));
    remove_shm_segments("", service);
}

static void squid_remove_leftovers(const struct manager_config *cfg)
{
    char service[64], path[700];
    worker_kind_squid_service(cfg->prefix, service, sizeof(service));
    remove_shm_segments(service, NULL);
    for (int id = 1; id <= POOL_MAX_INSTANCES; id++) {
        snprintf(path, sizeof(path), "%s/%s%d/squid.pid", cfg->state_dir, cfg->prefix, id);
        unlink(path);
    }
}

const struct worker_kind worker_kind_squid = {
    .name = "squid",
    .exe = "squid",
    .stop_signal = SIGTERM,
    .forks = 1, /* helpers, when a configuration asks for any */
    .has_admin = 0,
    .check = squid_check,
    .prepare = squid_prepare,
    .ready = squid_ready,
    .release = squid_release,
    .remove_leftovers = squid_remove_leftovers,
};
