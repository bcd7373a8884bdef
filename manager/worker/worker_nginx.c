/* The nginx worker: Debian's nginx in the foreground (daemon off: a master
 * and one worker process, plus the cache manager and loader), with an
 * nginx.conf generated into the instance's state dir: a forward proxy for
 * absolute-form requests, a proxy_cache on tmpfs sized as the paper's memory
 * cache, X-Cache naming the instance, and GET /healthz for the probe; tuned
 * as an nginx user tunes a caching proxy (sendfile, tcp_nopush, kept-alive
 * HTTP/1.1 upstream connections to the origin; docs/peers.md says why).
 * SIGQUIT drains it (SIGTERM would be its fast stop). Clients are limited to
 * proxyd's default networks, and destinations that are this host (loopback,
 * unspecified, link-local, the instance's own port) are refused with 403. */
#include "worker.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../config.h"
#include "../instance.h"

#define NGINX_USER "www-data" /* Debian's nginx.conf runs its workers as this user */
/* The cache's key zone: ~8,000 keys per MB (nginx docs), far more objects
 * than 260 MB of 1 MB objects; the size limit is max_size. */
#define NGINX_KEYS_ZONE_MB 16
/* proxyd's and Squid's heuristic freshness keep an object that has only a
 * Last-Modified header; nginx caches nothing without a validity, so this
 * stands in for it. Cache-Control and Expires from the origin win. */
#define NGINX_DEFAULT_VALID "10m"
#define NGINX_CONF_MAX 8192
/* The paper's Fig. 4 sends 64 clients x 1000 simultaneous requests, all to
 * one instance when there is one (a miss holds a second connection, to the
 * origin); nginx's default is 512. */
#define NGINX_WORKER_CONNECTIONS 65536
#define NGINX_RLIMIT_NOFILE (2 * NGINX_WORKER_CONNECTIONS)
#define NGINX_SHM_DIR "/dev/shm"
/* Idle upstream connections each worker keeps to the origin: with
 * proxy_cache_lock one miss per object goes out at a time, and with the
 * cache off the relay holds one per request in flight; 64 covers a client's
 * burst without holding hundreds of idle sockets per instance. */
#define NGINX_UPSTREAM_KEEPALIVE 64
/* The upstream group the origin's requests are mapped to. */
#define NGINX_UPSTREAM "pp_origin"

/* The access rules, at http level. Clients: allow/deny as nginx's access
 * module has them. Destinations: nginx has no ACL on the address it
 * connects to, so the rule reads the authority proxy_pass is given
 * ($pp_origin). Without a resolver in this configuration proxy_pass reaches
 * IP literals only (a name is a 502, "no resolver defined"), so refusing
 * the literals that are this host covers what can be reached: geo matches
 * the literal against the local networks (longest prefix, so an opened /32
 * inside 127.0.0.0/8 wins), and "localhost" and the instance's own
 * address:port are refused by name besides. */
static void put_access_rules(struct worker_text *t, const struct worker_settings *s)
{
    for (size_t i = 0; i < worker_nclient_nets; i++)
        worker_text_put(t, "    allow %s;\n", worker_client_nets[i]);
    worker_text_put(t, "    deny all;\n");
    /* The authority's host: an IPv6 literal without its brackets. */
    worker_text_put(t, "    map $pp_origin $pp_dest_host {\n"
                       "        \"~^\\[(?<h6>[^]]+)\\](:[0-9]*)?$\" $h6;\n"
                       "        \"~^(?<h4>[^:]+)(:[0-9]*)?$\" $h4;\n"
                       "        default \"\";\n"
                       "    }\n");
    worker_text_put(t, "    geo $pp_dest_host $pp_dest_local {\n"
                       "        default \"\";\n");
    for (size_t i = 0; i < worker_nlocal_dests; i++)
        worker_text_put(t, "        %s local;\n", worker_local_dests[i]);
    for (size_t i = 0; i < s->nallow_dest; i++)
        worker_text_put(t, "        %s \"\";\n", s->allow_dest[i]);
    worker_text_put(t, "    }\n");
    worker_text_put(t, "    map $pp_origin $pp_dest_refused {\n");
    for (size_t i = 0; i < s->nlisten; i++) {
        char a[ADDR_STRLEN];
        addr_format(&s->listen[i], a, sizeof(a));
        worker_text_put(t, "        \"%s\" \"destination is this proxy itself\";\n", a);
    }
    for (size_t i = 0; i < s->nrefused; i++) {
        char a[ADDR_STRLEN];
        addr_format(&s->refused[i], a, sizeof(a));
        worker_text_put(t, "        \"%s\" \"destination is the pool manager\";\n", a);
    }
    /* The origin --origin names is the operator's choice, as proxyd's
     * reverse origin: reached even on loopback. */
    if (s->origin[0]) {
        struct addr o;
        char err[64], a[ADDR_STRLEN];
        if (addr_parse(s->origin, 80, &o, err, sizeof(err)) == 0) {
            addr_format(&o, a, sizeof(a));
            worker_text_put(t, "        \"%s\" \"\";\n", a);
            if (addr_port(&o) == 80) { /* named without its port too */
                addr_format_host(&o, a, sizeof(a));
                worker_text_put(t, "        \"%s\" \"\";\n", a);
            }
        }
    }
    worker_text_put(
        t, "        \"~*^localhost\\.?(:[0-9]*)?$\" \"destination is this host (localhost)\";\n"
           "        default $pp_dest_local_reason;\n"
           "    }\n");
    worker_text_put(t, "    map $pp_dest_local $pp_dest_local_reason {\n"
                       "        local \"destination is a loopback, link-local or unspecified "
                       "address\";\n"
                       "        default \"\";\n"
                       "    }\n");
}

int worker_kind_nginx_conf(const struct worker_settings *s, char *out, size_t outlen)
{
    struct worker_text t = {out, outlen, 0, 0};
    if (outlen == 0)
        return -1;
    out[0] = '\0';
    worker_text_put(
        &t,
        "# Generated by the manager for instance %s (--worker nginx); rewritten at each start.\n",
        s->name);
    worker_text_put(&t, "daemon off;\nmaster_process on;\nworker_processes 1;\nuser %s;\n",
                    s->user);
    worker_text_put(&t, "pid %s/nginx.pid;\n", s->dir);
    worker_text_put(&t, "error_log stderr warn;\n"); /* the instance's log */
    worker_text_put(&t, "worker_rlimit_nofile %d;\n", NGINX_RLIMIT_NOFILE);
    worker_text_put(&t, "events { worker_connections %d; }\n", NGINX_WORKER_CONNECTIONS);
    worker_text_put(&t, "http {\n");
    worker_text_put(&t, "    access_log off;\n"); /* as proxyd and the Squid worker */
    /* A hit is a file in the tmpfs cache: sendfile sends it without a copy
     * through user space (nginx's default is off), and tcp_nopush sends the
     * head with the body's first bytes. */
    worker_text_put(&t, "    sendfile on;\n    tcp_nopush on;\n");
    worker_text_put(&t, "    client_body_temp_path %s/client_body;\n", s->dir);
    worker_text_put(&t, "    proxy_temp_path %s/proxy_temp;\n", s->dir);
    worker_text_put(&t,
                    "    fastcgi_temp_path %s/fastcgi;\n    uwsgi_temp_path %s/uwsgi;\n"
                    "    scgi_temp_path %s/scgi;\n",
                    s->dir, s->dir, s->dir);
    if (s->cache_on) {
        /* On tmpfs, as the paper's memory cache; responses are written
         * straight into it (use_temp_path=off). */
        worker_text_put(
            &t,
            "    proxy_cache_path %s levels=1:2 keys_zone=%s:%dm max_size=%lluk inactive=1h "
            "use_temp_path=off;\n",
            s->cache_dir, s->name, NGINX_KEYS_ZONE_MB,
            (unsigned long long)((s->cache_mem_bytes + 1023) / 1024));
    }
    /* Where an absolute-form request goes: the request line's authority
     * (which a proxy must prefer to Host), port included ($host drops it).
     * Origins are IP literals (the testbed's 198.19.1.2), which proxy_pass
     * connects to without a resolver; a host name would need one. */
    worker_text_put(&t, "    map $request $pp_origin {\n"
                        "        \"~^[A-Z]+ http://(?<authority>[^/ ]+)\" $authority;\n"
                        "        default $http_host;\n"
                        "    }\n");
    /* The origin's authority, as a request names it, goes to a named
     * upstream group: only such a group keeps connections alive (a
     * proxy_pass to a variable's address opens one per request). Other
     * origins are still reached, without kept-alive connections. */
    if (s->origin[0]) {
        struct addr o;
        char host[ADDR_STRLEN], err[128];
        if (addr_parse(s->origin, 80, &o, err, sizeof(err)) < 0)
            return -1;
        addr_format_host(&o, host, sizeof(host));
        int port = addr_port(&o);
        worker_text_put(&t,
                        "    upstream " NGINX_UPSTREAM " {\n"
                        "        server %s:%d;\n"
                        "        keepalive %d;\n"
                        "    }\n",
                        host, port, NGINX_UPSTREAM_KEEPALIVE);
        worker_text_put(&t, "    map $pp_origin $pp_upstream {\n");
        if (port == 80)
            worker_text_put(&t, "        \"%s\" " NGINX_UPSTREAM ";\n", host);
        worker_text_put(&t,
                        "        \"%s:%d\" " NGINX_UPSTREAM ";\n"
                        "        default $pp_origin;\n"
                        "    }\n",
                        host, port);
    } else {
        worker_text_put(&t, "    map $pp_origin $pp_upstream {\n"
                            "        default $pp_origin;\n"
                            "    }\n");
    }
    put_access_rules(&t, s);
    worker_text_put(&t, "    map $upstream_cache_status $pp_cache_status {\n"
                        "        \"\" MISS;\n"
                        "        default $upstream_cache_status;\n"
                        "    }\n");
    worker_text_put(&t, "    server {\n");
    for (size_t i = 0; i < s->nlisten; i++) {
        char a[ADDR_STRLEN];
        addr_format(&s->listen[i], a, sizeof(a));
        worker_text_put(&t, "        listen %s default_server;\n", a);
    }
    /* HTTP/1.1 with Connection cleared: what upstream keepalive needs
     * (nginx sends HTTP/1.0 and "Connection: close" otherwise). Host and
     * the cache key name the origin, not the upstream group. */
    worker_text_put(&t, "        if ($pp_dest_refused) {\n"
                        "            return 403 \"403 Forbidden: $pp_dest_refused\\n\";\n"
                        "        }\n");
    worker_text_put(&t, "        location / {\n"
                        "            proxy_pass http://$pp_upstream$request_uri;\n"
                        "            proxy_http_version 1.1;\n"
                        "            proxy_set_header Connection \"\";\n"
                        "            proxy_set_header Host $pp_origin;\n");
    if (s->cache_on)
        worker_text_put(&t,
                        "            proxy_cache %s;\n"
                        "            proxy_cache_key $scheme://$pp_origin$request_uri;\n"
                        "            proxy_cache_lock on;\n"
                        "            proxy_cache_valid 200 301 302 %s;\n",
                        s->name, NGINX_DEFAULT_VALID);
    worker_text_put(&t, "            add_header X-Cache \"$pp_cache_status from %s\" always;\n",
                    s->name);
    worker_text_put(&t, "        }\n    }\n");
    /* The readiness probe's server (it sends Host: proxyd), so an origin's
     * own /healthz is still proxied. */
    worker_text_put(&t, "    server {\n");
    for (size_t i = 0; i < s->nlisten; i++) {
        char a[ADDR_STRLEN];
        addr_format(&s->listen[i], a, sizeof(a));
        worker_text_put(&t, "        listen %s;\n", a);
    }
    worker_text_put(&t, "        server_name proxyd;\n"
                        "        location = /healthz { return 200; }\n"
                        "        location / { return 404; }\n"
                        "    }\n");
    worker_text_put(&t, "}\n");
    return t.overflow ? -1 : (int)t.len;
}

static void cache_dir(const struct manager_config *cfg, const struct instance *inst, char *out,
                      size_t outlen)
{
    snprintf(out, outlen, NGINX_SHM_DIR "/%s-%s", cfg->prefix, inst->name);
}

static int nginx_check(const struct manager_config *cfg, char *err, size_t errlen)
{
    return worker_kind_check_foreign(cfg, "nginx", cfg->nginx_path, "--nginx", NGINX_USER, err,
                                     errlen);
}

static int nginx_prepare(const struct manager_config *cfg, const struct instance *inst,
                         const struct worker_endpoints *ep, const char *dir, struct worker_cmd *cmd,
                         char *err, size_t errlen)
{
    char shm[300];
    cache_dir(cfg, inst, shm, sizeof(shm));
    /* A cache an earlier life of the instance left: it starts empty, as a
     * restarted proxyd or Squid does. */
    worker_kind_remove_tree(shm);
    struct worker_settings s = {
        .name = inst->name, .dir = dir, .cache_dir = shm, .user = NGINX_USER};
    if (worker_kind_cache_args(cfg, &s, err, errlen) < 0)
        return -1;
    s.nrefused = worker_kind_manager_endpoints(cfg, s.refused);
    s.nlisten = ep->nlisten < WORKER_MAX_LISTEN ? ep->nlisten : WORKER_MAX_LISTEN;
    memcpy(s.listen, ep->listen, sizeof(s.listen[0]) * s.nlisten);
    char conf[NGINX_CONF_MAX], path[700];
    if (worker_kind_nginx_conf(&s, conf, sizeof(conf)) < 0) {
        snprintf(err, errlen, "nginx.conf for %s longer than %d bytes", inst->name, NGINX_CONF_MAX);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/nginx.conf", dir);
    if (worker_kind_write_file(path, conf, err, errlen) < 0)
        return -1;
    /* -p: relative paths (none) and the default temp dirs under the state
     * dir; -e stderr: start-up errors to the instance's log too. */
    const char *args[] = {cfg->nginx_path, "-p", dir, "-e", "stderr", "-c", path};
    for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++)
        if (worker_cmd_add(cmd, args[i], err, errlen) < 0)
            return -1;
    return 0;
}

static int nginx_ready(int status)
{
    return status == 200;
}

static void nginx_release(const struct manager_config *cfg, const struct instance *inst,
                          const char *dir)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/nginx.pid", dir); /* left by SIGKILL */
    unlink(path);
    cache_dir(cfg, inst, path, sizeof(path));
    worker_kind_remove_tree(path);
}

/* /dev/shm/<prefix>-<prefix><digits>: exactly the names cache_dir makes for
 * this prefix (another prefix's never match). */
static void nginx_remove_leftovers(const struct manager_config *cfg)
{
    DIR *d = opendir(NGINX_SHM_DIR);
    if (d) {
        char head[40];
        snprintf(head, sizeof(head), "%s-%s", cfg->prefix, cfg->prefix);
        size_t hlen = strlen(head);
        struct dirent *e;
        while ((e = readdir(d))) {
            const char *n = e->d_name;
            size_t len = strlen(n);
            if (len <= hlen || strncmp(n, head, hlen) != 0 ||
                strspn(n + hlen, "0123456789") != len - hlen)
                continue;
            char path[300];
            snprintf(path, sizeof(path), NGINX_SHM_DIR "/%s", n);
            worker_kind_remove_tree(path);
        }
        closedir(d);
    }
    for (int id = 1; id <= POOL_MAX_INSTANCES; id++) {
        char path[700];
        snprintf(path, sizeof(path), "%s/%s%d/nginx.pid", cfg->state_dir, cfg->prefix, id);
        unlink(path);
    }
}

const struct worker_kind worker_kind_nginx = {
    .name = "nginx",
    .exe = "nginx",
    .stop_signal = SIGQUIT,
    .forks = 1,
    .has_admin = 0,
    .check = nginx_check,
    .prepare = nginx_prepare,
    .ready = nginx_ready,
    .release = nginx_release,
    .remove_leftovers = nginx_remove_leftovers,
};
