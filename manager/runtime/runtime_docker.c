/* The docker runtime: each proxyd instance is a Docker container of
 * --docker-image on a bridge network the manager creates (named --bridge,
 * subnet --subnet), made through the Engine API on --docker-socket
 * (dockerapi.c). A spawn is three calls in a row (create, start, inspect)
 * answered in the loop, so ten instances start with thirty calls in flight
 * and the loop never waits. Every container and the network carry the label
 * proxypool.prefix=<prefix> (containers also proxypool.slot=<id>): init
 * removes what an earlier run left and the pool did not adopt; shutdown
 * removes the rest. The container's init pid (inspect's State.Pid) is
 * supervised through a pidfd as adopted processes are, and its network
 * namespace (/proc/PID/ns/net) gets the VIP on lo for route forwarding. */
#include "runtime.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "../again.h"
#include "../config.h"
#include "docker_common.h"
#include "dockerapi.h"
#include "log.h"
#include "../netdev.h"
#include "../worker/worker.h"

#define DOCKER_PROXY_PORT 3128
#define DOCKER_ADMIN_PORT 9101
/* Where deploy/images.sh puts proxyd in the image. */
#define DOCKER_PROXYD_PATH "/usr/bin/proxyd"
#define DOCKER_LABEL_SLOT "proxypool.slot"
/* One call of a spawn (create alone can take a second on a loaded host);
 * the pool's ready timeout does not run until the spawn has ended. */
#define DOCKER_CALL_TIMEOUT_MS 30000
/* shutdown waits this long for containers being removed to be gone
 * before it removes the network. */
#define DOCKER_SHUTDOWN_WAIT_MS 15000
#define DOCKER_LO_IFINDEX 1
#define DOCKER_ID_MAX 64

#define DOCKER_RUNTIME_MAGIC 0x64727431u   /* "drt1" */
#define DOCKER_CONTAINER_MAGIC 0x64636e74u /* "dcnt" */

struct docker_runtime {
    unsigned magic;
    struct dockerapi *api;
    double nano_cpus;
    /* The container id of each slot the pool adopted (rt->adopted). */
    char adopted_id[POOL_MAX_INSTANCES + 1][DOCKER_ID_MAX + 1];
};

enum docker_step {
    DOCKER_STEP_CREATE = 0,
    DOCKER_STEP_START,
    DOCKER_STEP_INSPECT,
    DOCKER_STEP_RUNNING,
};

/* One instance's container (inst->rt). */
struct docker_container {
    unsigned magic;
    struct runtime *rt;
    struct instance *inst;
    enum docker_step step;
    char id[DOCKER_ID_MAX + 1];
    char name[64];
    int64_t t0_us, t_create_us, t_start_us;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct docker_runtime *runtime_priv(struct runtime *rt)
{
    struct docker_runtime *dr = rt->priv;
    assert(dr && dr->magic == DOCKER_RUNTIME_MAGIC);
    return dr;
}

static void endpoint_set(struct addr *a, struct in_addr ip, int port)
{
    struct sockaddr_in sin;
    memset(a, 0, sizeof(*a));
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr = ip;
    sin.sin_port = htons((uint16_t)port);
    memcpy(&a->ss, &sin, sizeof(sin));
    a->len = sizeof(sin);
}

static int vip_of(const struct manager_config *cfg, struct in_addr *vip)
{
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&cfg->vip.ss;
    if (cfg->vip.ss.ss_family != AF_INET || sin->sin_addr.s_addr == 0)
        return 0;
    *vip = sin->sin_addr;
    return 1;
}

/* Where the instance at ip serves: its proxy port (and the VIP's port, when
 * it differs, for route mode), its admin endpoint. With ip 0.0.0.0 this is
 * what proxyd is told to bind: the container's namespace has only its own
 * address and, in route mode, the VIP. */
static void docker_endpoints(const struct manager_config *cfg, struct in_addr ip,
                             struct worker_endpoints *ep)
{
    memset(ep, 0, sizeof(*ep));
    endpoint_set(&ep->listen[0], ip, DOCKER_PROXY_PORT);
    ep->nlisten = 1;
    struct in_addr vip;
    if (vip_of(cfg, &vip) && addr_port(&cfg->vip) != DOCKER_PROXY_PORT && ip.s_addr == INADDR_ANY)
        endpoint_set(&ep->listen[ep->nlisten++], ip, addr_port(&cfg->vip));
    endpoint_set(&ep->admin, ip, DOCKER_ADMIN_PORT);
}

/* The JSON of POST /containers/create, or NULL when out of memory. */
static char *create_body(const struct runtime *rt, const struct docker_runtime *dr,
                         const struct instance *inst, const struct worker_cmd *cmd)
{
    const struct manager_config *cfg = rt->cfg;
    cJSON *root = cJSON_CreateObject();
    cJSON *argv = cJSON_AddArrayToObject(root, "Cmd");
    cJSON *labels = cJSON_AddObjectToObject(root, "Labels");
    cJSON *host = cJSON_AddObjectToObject(root, "HostConfig");
    char slot[16], stop[16];
    snprintf(slot, sizeof(slot), "%d", inst->id);
    snprintf(stop, sizeof(stop), "%d", rt->worker->stop_signal);
    int ok = root && argv && labels && host &&
             cJSON_AddStringToObject(root, "Image", cfg->docker_image) &&
             cJSON_AddStringToObject(root, "Hostname", inst->name) &&
             cJSON_AddStringToObject(root, "StopSignal", stop) &&
             cJSON_AddStringToObject(labels, DOCKER_LABEL_PREFIX, cfg->prefix) &&
             cJSON_AddStringToObject(labels, DOCKER_LABEL_SLOT, slot) &&
             cJSON_AddStringToObject(host, "NetworkMode", cfg->bridge) &&
             cJSON_AddNumberToObject(host, "NanoCpus", dr->nano_cpus) &&
             cJSON_AddNumberToObject(host, "Memory", (double)cfg->memory_bytes);
    /* argv[0] is the host's proxyd: the image has its own copy. */
    for (size_t i = 0; ok && i < cmd->argc; i++) {
        cJSON *a = cJSON_CreateString(i == 0 ? DOCKER_PROXYD_PATH : cmd->argv[i]);
        ok = a && cJSON_AddItemToArray(argv, a);
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

/* ---------------------------------------------------------------- removal */

/* A container on its way out: its logs go to the instance's log, then it
 * is removed (an owned ctx of both calls). */
struct removal {
    struct docker_runtime *dr;
    char id[DOCKER_ID_MAX + 1];
    char name[64];
    char log_path[sizeof(((struct instance *)0)->log_path)];
};

static void removed(void *ctx, long status, const char *body, size_t len, const char *err)
{
    struct removal *r = ctx;
    char why[256];
    (void)len;
    if (status == 204 || status == 404)
        log_debug("docker: removed container %s", r->name);
    else if (status < 0)
        log_warn("docker: removing container %s: %s (the next start removes it)", r->name, err);
    else {
        dockerapi_error_text(body, why, sizeof(why));
        log_warn("docker: removing container %s: %ld %s (the next start removes it)", r->name,
                 status, why);
    }
    free(r);
}

static void removal_delete(struct removal *r)
{
    char path[128], err[256];
    snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", r->id);
    if (dockerapi_start_owned(r->dr->api, "DELETE", path, NULL, DOCKER_CALL_TIMEOUT_MS, removed, r,
                              err, sizeof(err)) < 0) {
        log_warn("docker: cannot remove container %s: %s", r->name, err);
        free(r);
    }
}

/* Appends what GET /containers/ID/logs returned to path: without a TTY the
 * stream is multiplexed, each frame an 8-byte header (stream 0-2, three
 * zeros, the payload's size big-endian) and its payload; anything else is
 * written as it came. */
static void append_container_log(const char *path, const char *name, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_warn("docker: cannot keep the logs of %s in %s: %s", name, path, strerror(errno));
        return;
    }
    dprintf(fd, "manager: the output of container %s, removed after its exit:\n", name);
    size_t off = 0;
    while (off < len) {
        const unsigned char *h = (const unsigned char *)data + off;
        size_t chunk = len - off, skip = 0;
        if (len - off >= 8 && h[0] <= 2 && h[1] == 0 && h[2] == 0 && h[3] == 0) {
            size_t size = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
            skip = 8;
            chunk = size < len - off - 8 ? size : len - off - 8;
        }
        if (write(fd, data + off + skip, chunk) < 0)
            break;
        off += skip + chunk;
    }
    close(fd);
}

static void logs_fetched(void *ctx, long status, const char *body, size_t len, const char *err)
{
    struct removal *r = ctx;
    if (status == 200)
        append_container_log(r->log_path, r->name, body, len);
    else
        log_debug("docker: no logs of container %s: %ld %s", r->name, status,
                  status < 0 ? err : "");
    removal_delete(r);
}

/* The container goes, in the background, its output first appended to
 * log_path (when given); what fails is left to shutdown or the next run's
 * init, which remove every labelled container. */
static void container_remove_async(struct docker_runtime *dr, const char *id, const char *name,
                                   const char *log_path)
{
    struct removal *r = calloc(1, sizeof(*r));
    if (!r) {
        log_warn("docker: cannot remove container %s: out of memory", name);
        return;
    }
    r->dr = dr;
    snprintf(r->id, sizeof(r->id), "%s", id);
    snprintf(r->name, sizeof(r->name), "%s", name && name[0] ? name : id);
    if (!log_path || !log_path[0]) {
        removal_delete(r);
        return;
    }
    snprintf(r->log_path, sizeof(r->log_path), "%s", log_path);
    char path[160], err[256];
    snprintf(path, sizeof(path), "/containers/%s/logs?stdout=1&stderr=1", id);
    if (dockerapi_start_owned(dr->api, "GET", path, NULL, DOCKER_CALL_TIMEOUT_MS, logs_fetched, r,
                              err, sizeof(err)) < 0)
        removal_delete(r);
}

/* ---------------------------------------------------------------- network namespace */

struct netns_job {
    int ns_fd;
    int sock_fd;
    int err_no;
};

/* A thread of its own enters the namespace, so the manager's loop thread
 * never leaves its own; the socket stays in the namespace it was made in. */
static void *netns_socket_thread(void *arg)
{
    struct netns_job *job = arg;
    if (setns(job->ns_fd, CLONE_NEWNET) < 0) {
        job->err_no = errno;
        return NULL;
    }
    job->sock_fd = netdev_socket_bound();
    if (job->sock_fd < 0)
        job->err_no = errno;
    return NULL;
}

/* The VIP on lo in pid's network namespace: route mode delivers clients'
 * packets to it unchanged, so it must be local there. */
static int vip_on_lo(pid_t pid, struct in_addr vip, char *err, size_t errlen)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
    struct netns_job job = {.ns_fd = open(path, O_RDONLY | O_CLOEXEC), .sock_fd = -1};
    if (job.ns_fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    pthread_t t;
    int rc = pthread_create(&t, NULL, netns_socket_thread, &job);
    if (rc == 0)
        pthread_join(t, NULL);
    else
        job.err_no = rc;
    close(job.ns_fd);
    if (job.sock_fd < 0) {
        snprintf(err, errlen, "netlink socket in %s: %s", path, strerror(job.err_no));
        return -1;
    }
    struct netdev *nd = netdev_open_fd(job.sock_fd, err, errlen);
    if (!nd)
        return -1;
    rc = netdev_addr_has(nd, DOCKER_LO_IFINDEX, vip, 32, err, errlen);
    if (rc == 0)
        rc = netdev_addr_add(nd, DOCKER_LO_IFINDEX, vip, 32, err, errlen);
    netdev_free(nd);
    return rc < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- inspect */

/* From GET /containers/<id>/json: the init pid (0 when not running) and
 * the address on our network. 0, or -1 with err. */
static int inspect_parse(const char *body, const char *network, pid_t *pid, struct in_addr *ip,
                         char *err, size_t errlen)
{
    cJSON *j = cJSON_Parse(body);
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(j, "State");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(state, "Pid");
    const cJSON *running = cJSON_GetObjectItemCaseSensitive(state, "Running");
    const cJSON *nets = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(j, "NetworkSettings"), "Networks");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(nets, network), "IPAddress");
    int rc = -1;
    if (!cJSON_IsNumber(p) || !cJSON_IsBool(running))
        snprintf(err, errlen, "inspect has no State.Pid");
    else if (!cJSON_IsTrue(running) || p->valuedouble < 1)
        snprintf(err, errlen, "it is not running (docker logs tell why)");
    else if (!cJSON_IsString(a) || inet_pton(AF_INET, a->valuestring, ip) != 1)
        snprintf(err, errlen, "it has no IPv4 address on network %s", network);
    else {
        *pid = (pid_t)p->valuedouble;
        rc = 0;
    }
    cJSON_Delete(j);
    return rc;
}

/* ---------------------------------------------------------------- spawn */

static void container_free(struct docker_container *c)
{
    c->magic = 0;
    free(c);
}

/* The spawn failed at its current step: what was made goes, the pool hears. */
static void spawn_fail(struct docker_container *c, const char *what, const char *why)
{
    struct runtime *rt = c->rt;
    struct instance *inst = c->inst;
    char err[512];
    snprintf(err, sizeof(err), "docker %s of %s: %s", what, c->name, why);
    if (c->id[0])
        container_remove_async(runtime_priv(rt), c->id, c->name, inst->log_path);
    inst->rt = NULL;
    inst->pid = 0;
    container_free(c);
    worker_kind_release(rt->worker, rt->cfg, inst, 0);
    rt->spawned(rt->spawned_ctx, inst, err);
}

static void spawn_reply(void *ctx, long status, const char *body, size_t len, const char *err);

static void spawn_call(struct docker_container *c, const char *method, const char *fmt,
                       const char *what)
{
    char path[160], err[256];
    snprintf(path, sizeof(path), fmt, c->id);
    if (dockerapi_start(runtime_priv(c->rt)->api, method, path, NULL, DOCKER_CALL_TIMEOUT_MS,
                        spawn_reply, c, err, sizeof(err)) < 0)
        spawn_fail(c, what, err);
}

/* The container is running: its pid and address are the instance's. */
static void spawn_running(struct docker_container *c, pid_t pid, struct in_addr ip)
{
    struct runtime *rt = c->rt;
    struct instance *inst = c->inst;
    char err[256];
    struct in_addr vip;
    if (vip_of(rt->cfg, &vip) && vip_on_lo(pid, vip, err, sizeof(err)) < 0) {
        spawn_fail(c, "VIP on lo", err);
        return;
    }
    struct worker_endpoints ep;
    docker_endpoints(rt->cfg, ip, &ep);
    worker_kind_place(rt->worker, inst, &ep);
    inst->pid = pid;
    c->step = DOCKER_STEP_RUNNING;
    int64_t t = now_us();
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &ip, a, sizeof(a));
    log_debug("docker: %s (container %.12s) pid %d on %s: create %lld us, start %lld us, "
              "inspect and netns %lld us",
              inst->name, c->id, (int)pid, a, (long long)(c->t_create_us - c->t0_us),
              (long long)(c->t_start_us - c->t_create_us), (long long)(t - c->t_start_us));
    rt->spawned(rt->spawned_ctx, inst, NULL);
}

static void spawn_reply(void *ctx, long status, const char *body, size_t len, const char *err)
{
    struct docker_container *c = ctx;
    (void)len;
    assert(c->magic == DOCKER_CONTAINER_MAGIC);
    static const char *const what[] = {"create", "start", "inspect", "?"};
    char why[256];
    if (status < 0) {
        spawn_fail(c, what[c->step], err);
        return;
    }
    switch (c->step) {
    case DOCKER_STEP_CREATE: {
        cJSON *j = status == 201 ? cJSON_Parse(body) : NULL;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "Id");
        if (cJSON_IsString(id) && strlen(id->valuestring) <= DOCKER_ID_MAX &&
            strspn(id->valuestring, "0123456789abcdef") == strlen(id->valuestring))
            snprintf(c->id, sizeof(c->id), "%s", id->valuestring);
        cJSON_Delete(j);
        if (!c->id[0]) {
            dockerapi_error_text(body, why, sizeof(why));
            spawn_fail(c, "create", why);
            return;
        }
        c->t_create_us = now_us();
        c->step = DOCKER_STEP_START;
        spawn_call(c, "POST", "/containers/%s/start", "start");
        return;
    }
    case DOCKER_STEP_START:
        if (status != 204 && status != 304) {
            dockerapi_error_text(body, why, sizeof(why));
            spawn_fail(c, "start", why);
            return;
        }
        c->t_start_us = now_us();
        c->step = DOCKER_STEP_INSPECT;
        spawn_call(c, "GET", "/containers/%s/json", "inspect");
        return;
    case DOCKER_STEP_INSPECT: {
        pid_t pid = 0;
        struct in_addr ip;
        if (status != 200) {
            dockerapi_error_text(body, why, sizeof(why));
            spawn_fail(c, "inspect", why);
        } else if (inspect_parse(body, c->rt->cfg->bridge, &pid, &ip, why, sizeof(why)) < 0) {
            spawn_fail(c, "inspect", why);
        } else {
            spawn_running(c, pid, ip);
        }
        return;
    }
    case DOCKER_STEP_RUNNING:
        break;
    }
}

static int docker_spawn(struct runtime *rt, struct instance *inst, char *err, size_t errlen)
{
    struct docker_runtime *dr = runtime_priv(rt);
    if (inst->rt) { /* an earlier life whose container was not removed */
        struct docker_container *old = inst->rt;
        if (old->id[0])
            container_remove_async(dr, old->id, old->name, NULL);
        container_free(old);
        inst->rt = NULL;
    }
    struct docker_container *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->magic = DOCKER_CONTAINER_MAGIC;
    c->rt = rt;
    c->inst = inst;
    c->t0_us = now_us();
    /* Unique among this daemon's containers, even beside one of this slot
     * still being removed: the slot's name and the spawn's wall clock. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(c->name, sizeof(c->name), "%s-%llx", inst->name,
             (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);

    struct worker_endpoints ep;
    struct in_addr any = {INADDR_ANY};
    docker_endpoints(rt->cfg, any, &ep);
    static struct worker_cmd cmd; /* ~4.5 KiB: off the stack; the loop is single-threaded */
    if (worker_kind_prepare(rt->worker, rt->cfg, inst, &ep, &cmd, err, errlen) < 0) {
        container_free(c);
        return -1;
    }
    memset(&inst->address, 0, sizeof(inst->address)); /* known once it runs */
    memset(&inst->probe, 0, sizeof(inst->probe));
    char *body = create_body(rt, dr, inst, &cmd);
    char path[128];
    snprintf(path, sizeof(path), "/containers/create?name=%s", c->name);
    int rc = body ? dockerapi_start(dr->api, "POST", path, body, DOCKER_CALL_TIMEOUT_MS,
                                    spawn_reply, c, err, errlen)
                  : -1;
    if (!body)
        snprintf(err, errlen, "out of memory");
    free(body);
    if (rc < 0) {
        worker_kind_release(rt->worker, rt->cfg, inst, 0);
        container_free(c);
        return -1;
    }
    inst->pid = 0;
    inst->rt = c;
    return PP_AGAIN;
}

/* ---------------------------------------------------------------- stop, release */

static void killed(void *ctx, long status, const char *body, size_t len, const char *err)
{
    char *name = ctx;
    char why[256];
    (void)len;
    if (status == 204)
        log_debug("docker: asked container %s to drain", name);
    else if (status < 0)
        log_warn("docker: drain signal to %s: %s", name, err);
    else if (status != 404 && status != 409) { /* 409: it is not running any more */
        dockerapi_error_text(body, why, sizeof(why));
        log_warn("docker: drain signal to %s: %ld %s", name, status, why);
    }
    free(name);
}

static const char *container_id_of(struct runtime *rt, const struct instance *inst)
{
    const struct docker_container *c = inst->rt;
    if (c) {
        assert(c->magic == DOCKER_CONTAINER_MAGIC);
        return c->id[0] ? c->id : NULL;
    }
    if (inst->id >= 1 && inst->id <= POOL_MAX_INSTANCES && (rt->adopted & (1ull << inst->id)))
        return runtime_priv(rt)->adopted_id[inst->id];
    return NULL;
}

static void docker_stop(struct runtime *rt, struct instance *inst)
{
    struct docker_runtime *dr = runtime_priv(rt);
    const char *id = container_id_of(rt, inst);
    char path[160], err[256];
    /* Through the daemon, so it records why the container ended; the
     * worker drains on its stop signal (it is the container's init and
     * handles it). */
    snprintf(path, sizeof(path), "/containers/%s/kill?signal=%d", id ? id : "",
             rt->worker->stop_signal);
    char *name = strdup(inst->name);
    if (!id || !name ||
        dockerapi_start_owned(dr->api, "POST", path, NULL, DOCKER_CALL_TIMEOUT_MS, killed, name,
                              err, sizeof(err)) < 0) {
        free(name);
        worker_kind_stop(rt->worker, inst); /* the signal straight to its pid */
    }
}

static void docker_release(struct runtime *rt, struct instance *inst)
{
    struct docker_runtime *dr = runtime_priv(rt);
    worker_kind_release(rt->worker, rt->cfg, inst, 0);
    const char *id = container_id_of(rt, inst);
    if (id && id[0]) {
        const struct docker_container *c = inst->rt;
        container_remove_async(dr, id, c ? c->name : inst->name, inst->log_path);
    }
    if (inst->id >= 1 && inst->id <= POOL_MAX_INSTANCES)
        rt->adopted &= ~(1ull << inst->id);
    if (inst->rt)
        container_free(inst->rt);
    inst->rt = NULL;
}

/* ---------------------------------------------------------------- blocking calls */

/* The containers labelled with our prefix (all=1: stopped ones too), as
 * the API lists them; NULL with err. */
static cJSON *list_ours(struct docker_runtime *dr, const char *prefix, char *err, size_t errlen)
{
    /* filters={"label":["proxypool.prefix=<prefix>"]}, URL-encoded; the
     * prefix is [a-z0-9] (config.c). */
    char path[256];
    snprintf(path, sizeof(path),
             "/containers/json?all=1&filters=%%7B%%22label%%22%%3A%%5B%%22" DOCKER_LABEL_PREFIX
             "%%3D%s%%22%%5D%%7D",
             prefix);
    long status;
    return docker_get_json(dr->api, path, &status, err, errlen);
}

/* The runtime's state, made by the first of adopt and init (adopt runs
 * first when a pid file names an earlier run's instance). */
static struct docker_runtime *docker_priv_get(struct runtime *rt, char *err, size_t errlen)
{
    if (rt->priv)
        return runtime_priv(rt);
    const struct manager_config *cfg = rt->cfg;
    if (strcmp(rt->worker->name, "proxyd") != 0) {
        snprintf(err, errlen, "the docker runtime runs proxyd workers only (make images builds %s)",
                 cfg->docker_image);
        return NULL;
    }
    struct docker_runtime *dr = calloc(1, sizeof(*dr));
    if (!dr) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    dr->magic = DOCKER_RUNTIME_MAGIC;
    if (!(dr->api = dockerapi_new(rt->base, cfg->docker_socket, err, errlen))) {
        free(dr);
        return NULL;
    }
    /* Docker refuses a limit above the host's CPU count. */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double cpus = cfg->cpus;
    if (ncpu > 0 && cpus > (double)ncpu) {
        log_info("docker: --cpus %.2f capped at this host's %ld CPUs", cpus, ncpu);
        cpus = (double)ncpu;
    }
    dr->nano_cpus = cpus * 1e9;
    rt->priv = dr;
    return dr;
}

/* ---------------------------------------------------------------- adopt */

static int docker_adopt(struct runtime *rt, struct instance *inst, char *err, size_t errlen)
{
    struct docker_runtime *dr = docker_priv_get(rt, err, errlen);
    if (!dr)
        return -1;
    if (inst->id < 1 || inst->id > POOL_MAX_INSTANCES) {
        snprintf(err, errlen, "no slot %d", inst->id);
        return -1;
    }
    char e[256];
    cJSON *list = list_ours(dr, rt->cfg->prefix, e, sizeof(e));
    if (!list) {
        snprintf(err, errlen, "cannot list containers on %s: %s", rt->cfg->docker_socket, e);
        return -1;
    }
    int found = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, list)
    {
        const char *slot = docker_label_of(item, DOCKER_LABEL_SLOT);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "Id");
        if (found || !slot || atoi(slot) != inst->id || !cJSON_IsString(id) ||
            strlen(id->valuestring) > DOCKER_ID_MAX)
            continue;
        char path[128];
        long status;
        snprintf(path, sizeof(path), "/containers/%s/json", id->valuestring);
        cJSON *j = docker_get_json(dr->api, path, &status, e, sizeof(e));
        char *text = j ? cJSON_PrintUnformatted(j) : NULL;
        pid_t pid = 0;
        struct in_addr ip;
        if (text && inspect_parse(text, rt->cfg->bridge, &pid, &ip, e, sizeof(e)) == 0 &&
            pid == inst->pid) {
            struct worker_endpoints ep;
            docker_endpoints(rt->cfg, ip, &ep);
            worker_kind_place(rt->worker, inst, &ep);
            snprintf(dr->adopted_id[inst->id], sizeof(dr->adopted_id[0]), "%s", id->valuestring);
            found = 1;
        }
        free(text);
        cJSON_Delete(j);
    }
    cJSON_Delete(list);
    if (!found) {
        snprintf(err, errlen, "no running container labelled %s=%s, %s=%d has pid %d",
                 DOCKER_LABEL_PREFIX, rt->cfg->prefix, DOCKER_LABEL_SLOT, inst->id, (int)inst->pid);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- init, shutdown */

/* Removes, blocking, every container with our label but those the pool
 * adopted (keep: 1). Returns how many are left (being removed, or kept). */
static int remove_ours(struct runtime *rt, struct docker_runtime *dr, int keep, const char *why)
{
    char err[256];
    cJSON *list = list_ours(dr, rt->cfg->prefix, err, sizeof(err));
    if (!list) {
        log_warn("docker: cannot list containers labelled %s=%s: %s", DOCKER_LABEL_PREFIX,
                 rt->cfg->prefix, err);
        return -1;
    }
    int left = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, list)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "Id");
        const char *slot = docker_label_of(item, DOCKER_LABEL_SLOT);
        if (!cJSON_IsString(id) || strlen(id->valuestring) > DOCKER_ID_MAX)
            continue;
        int s = slot ? atoi(slot) : 0;
        if (keep && s >= 1 && s <= POOL_MAX_INSTANCES && (rt->adopted & (1ull << s)) &&
            strcmp(dr->adopted_id[s], id->valuestring) == 0) {
            left++;
            continue;
        }
        char path[128];
        snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", id->valuestring);
        long st = docker_call_status(dr->api, "DELETE", path, NULL, NULL, err, sizeof(err));
        if (st == 204 || st == 404) {
            log_info("docker: removed container %.12s (slot %s) %s", id->valuestring,
                     slot ? slot : "?", why);
        } else if (st == 409) {
            left++; /* its removal is under way (ours, asked when it exited) */
        } else {
            left++;
            log_warn("docker: removing container %.12s: %s", id->valuestring, err);
        }
    }
    cJSON_Delete(list);
    return left;
}

static int docker_init(struct runtime *rt, char *err, size_t errlen)
{
    const struct manager_config *cfg = rt->cfg;
    if (!cfg->prefix[0] || !cfg->bridge[0]) {
        snprintf(err, errlen, "docker runtime needs a name prefix and a bridge name");
        return -1;
    }
    if (!rt->base || !rt->spawned) {
        snprintf(err, errlen, "docker runtime needs the manager's loop");
        return -1;
    }
    struct docker_runtime *dr = docker_priv_get(rt, err, errlen);
    if (!dr)
        return -1;
    char e[256], path[300];
    long status;
    cJSON *version = docker_get_json(dr->api, "/version", &status, e, sizeof(e));
    if (!version) {
        snprintf(err, errlen, "no Docker Engine API on %s: %s", cfg->docker_socket, e);
        goto fail;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(version, "Version");
    const cJSON *av = cJSON_GetObjectItemCaseSensitive(version, "ApiVersion");
    log_info("docker: Docker %s (API %s) on %s", cJSON_IsString(v) ? v->valuestring : "?",
             cJSON_IsString(av) ? av->valuestring : "?", cfg->docker_socket);
    cJSON_Delete(version);
    snprintf(path, sizeof(path), "/images/%s/json", cfg->docker_image);
    cJSON *image = docker_get_json(dr->api, path, &status, e, sizeof(e));
    cJSON_Delete(image);
    if (!image) {
        snprintf(err, errlen,
                 "image %s is not in the daemon on %s (%s): make images DOCKER_SOCKET=%s",
                 cfg->docker_image, cfg->docker_socket, e, cfg->docker_socket);
        goto fail;
    }
    remove_ours(rt, dr, 1, "left by an earlier run");
    if (docker_network_ensure(dr->api, rt->cfg, "bridge", "docker", err, errlen) < 0)
        goto fail;
    return 0;
fail:
    dockerapi_free(dr->api);
    dr->magic = 0;
    free(dr);
    rt->priv = NULL;
    return -1;
}

static void docker_shutdown(struct runtime *rt)
{
    if (!rt->priv)
        return;
    struct docker_runtime *dr = runtime_priv(rt);
    /* Removals still in flight are repeated here, blocking: the manager is
     * leaving and must leave nothing with its label. */
    dockerapi_free(dr->api);
    char err[256];
    dr->api = dockerapi_new(NULL, rt->cfg->docker_socket, err, sizeof(err));
    if (!dr->api) {
        log_warn("docker: %s", err);
        goto out;
    }
    int64_t deadline = now_us() + DOCKER_SHUTDOWN_WAIT_MS * 1000LL;
    int left;
    while ((left = remove_ours(rt, dr, 0, "at shutdown")) > 0 && now_us() < deadline) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (left != 0)
        log_warn("docker: containers labelled %s=%s remain after %d ms", DOCKER_LABEL_PREFIX,
                 rt->cfg->prefix, DOCKER_SHUTDOWN_WAIT_MS);
    char path[128];
    snprintf(path, sizeof(path), "/networks/%s", rt->cfg->bridge);
    long st = docker_call_status(dr->api, "DELETE", path, NULL, NULL, err, sizeof(err));
    if (st == 204)
        log_info("docker: removed network %s", rt->cfg->bridge);
    else if (st != 404)
        log_warn("docker: removing network %s: %s", rt->cfg->bridge, err);
out:
    dockerapi_free(dr->api);
    dr->magic = 0;
    free(dr);
    rt->priv = NULL;
}

static void docker_detach_instance(struct runtime *rt, struct instance *inst)
{
    struct docker_container *c = inst->rt;
    if (!c)
        return;
    assert(c->magic == DOCKER_CONTAINER_MAGIC);
    /* A spawn under way is abandoned: its container, if made, is the next
     * run's to remove (it carries our label). */
    if (rt->priv)
        dockerapi_cancel(runtime_priv(rt)->api, c);
    container_free(c);
    inst->rt = NULL;
}

static void docker_detach(struct runtime *rt)
{
    if (!rt->priv)
        return;
    struct docker_runtime *dr = runtime_priv(rt);
    dockerapi_free(dr->api);
    dr->magic = 0;
    free(dr);
    rt->priv = NULL;
}

const struct runtime_ops runtime_docker_ops = {
    .name = "docker",
    .init = docker_init,
    .spawn = docker_spawn,
    .adopt = docker_adopt,
    .stop = docker_stop,
    .release = docker_release,
    .shutdown = docker_shutdown,
    .detach_instance = docker_detach_instance,
    .detach = docker_detach,
    .own_network = 1,
};
