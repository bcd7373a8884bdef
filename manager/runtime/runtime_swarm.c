/* The swarm runtime: the pool is one Swarm service (named --prefix,
 * labelled proxypool.prefix=<prefix>) of --docker-image on an overlay
 * network (named --bridge, subnet --subnet), made through the Engine API of
 * a Swarm manager on --docker-socket (dockerapi.c). Its instances are the
 * service's tasks, wherever Swarm placed them.
 *
 * Reaching a task. Swarm's routing mesh and service VIPs need the kernel's
 * IPVS, so the service uses endpoint mode dnsrr. A task's overlay address
 * (NetworksAttachments[].Addresses) is reachable only from inside the
 * overlay (it lives in Docker's own namespaces: measured, a connect from
 * the node's namespace fails), so each task publishes its proxy and admin
 * ports in host mode on ports Docker picks, and an instance's address is
 * its node's address (GET /nodes: Status.Addr) with the published port
 * (the task's Status.PortStatus). The manager's balancer fronts them.
 *
 * Slots and tasks. The pool's slots are not Swarm's: scaling is the
 * service's replica count, a versioned update retried on conflict, and
 * Swarm picks which task goes on a scale-down. A spawn raises the count and
 * claims the oldest running task no slot holds; a stop lowers it. A slot
 * being stopped is done once its own task no longer runs, or once no more
 * tasks run than the count (Swarm removed another slot's task instead: that
 * slot's end is reported as an exit, and its restart claims the task the
 * stopped slot left). A task has no pid here: its state is polled from the
 * API every SWARM_POLL_MS on the loop, and an end is reported through
 * rt->exited. */
#include "runtime.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <cjson/cJSON.h>
#include <event2/event.h>

#include "../again.h"
#include "../config.h"
#include "docker_common.h"
#include "dockerapi.h"
#include "log.h"
#include "../worker/worker.h"

#define SWARM_PROXY_PORT 3128
#define SWARM_ADMIN_PORT 9101
#define SWARM_PROXYD_PATH "/usr/bin/proxyd"
#define SWARM_CALL_TIMEOUT_MS 30000
/* Task states are read this often (the supervision's resolution). */
#define SWARM_POLL_MS 300
/* A spawn fails when no task of ours runs unclaimed after this long (the
 * image missing on the node Swarm chose, no node with room). */
#define SWARM_SPAWN_TIMEOUT_MS 60000
/* A replica count update that conflicts is read again and retried this
 * many times in a row before the next poll tries afresh. */
#define SWARM_UPDATE_TRIES 8
/* shutdown waits this long for the tasks to be gone before it removes the
 * network. */
#define SWARM_SHUTDOWN_WAIT_MS 20000
#define SWARM_ID_MAX 64
#define SWARM_MAX_NODES 64

#define SWARM_RUNTIME_MAGIC 0x73776d31u /* "swm1" */

enum swarm_slot_state {
    SWARM_SLOT_NONE = 0,
    SWARM_SLOT_PENDING, /* spawn under way: waiting for a task to claim */
    SWARM_SLOT_CLAIMED, /* holds a running task */
    SWARM_SLOT_LEAVING, /* stopped: its task goes (or another one does) */
    SWARM_SLOT_EXITED,  /* its task ended; counted while the pool restarts it */
};

struct swarm_slot {
    enum swarm_slot_state state;
    struct instance *inst;
    char task[SWARM_ID_MAX + 1];
    int64_t since_us;
};

struct swarm_node {
    char id[SWARM_ID_MAX + 1];
    struct in_addr addr;
};

struct swarm_runtime {
    unsigned magic;
    struct runtime *rt;
    struct dockerapi *api;
    char service_id[SWARM_ID_MAX + 1];
    struct swarm_slot slots[POOL_MAX_INSTANCES + 1];
    struct swarm_node nodes[SWARM_MAX_NODES];
    int nnodes;
    struct event *poll;
    int poll_busy;     /* a GET /tasks or /nodes is in flight */
    char *tasks_body;  /* the last GET /tasks, kept while /nodes is read */
    int update_busy;   /* a replica count update is in flight */
    int update_tries;  /* conflicts in a row */
    int applied;       /* the replica count last written (-1: unknown) */
    int update_target; /* what the update in flight writes */
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct swarm_runtime *runtime_priv(struct runtime *rt)
{
    struct swarm_runtime *sr = rt->priv;
    assert(sr && sr->magic == SWARM_RUNTIME_MAGIC);
    return sr;
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

/* The replica count the pool wants: slots starting or holding a task, and
 * those whose task ended while the pool restarts them (not those it
 * removed: their instance was stopped, or the slot freed). */
static int desired_count(const struct swarm_runtime *sr)
{
    int n = 0;
    for (int id = 1; id <= POOL_MAX_INSTANCES; id++) {
        const struct swarm_slot *s = &sr->slots[id];
        if (s->state == SWARM_SLOT_PENDING || s->state == SWARM_SLOT_CLAIMED)
            n++;
        else if (s->state == SWARM_SLOT_EXITED && s->inst && s->inst->id == id &&
                 s->inst->state == INSTANCE_FAILED)
            n++;
    }
    return n;
}

/* ---------------------------------------------------------------- replica count */

static void replicas_sync(struct swarm_runtime *sr);

static int is_conflict(long status, const char *body)
{
    return status == 409 || (body && strstr(body, "out of sequence"));
}

static void update_done(void *ctx, long status, const char *body, size_t body_len, const char *err)
{
    struct swarm_runtime *sr = ctx;
    char why[256];
    sr->update_busy = 0;
    if (status == 200) {
        sr->applied = sr->update_target;
        sr->update_tries = 0;
        log_info("swarm: service %s scaled to %d replicas", sr->rt->cfg->prefix, sr->applied);
    } else if (status >= 0 && is_conflict(status, body) &&
               ++sr->update_tries < SWARM_UPDATE_TRIES) {
        log_info("swarm: service %s changed since it was read (%ld): reading it again",
                 sr->rt->cfg->prefix, status);
    } else {
        if (status < 0)
            snprintf(why, sizeof(why), "%s", err);
        else
            dockerapi_error_text(body, why, sizeof(why));
        log_warn("swarm: updating service %s to %d replicas: %s (the next poll tries again)",
                 sr->rt->cfg->prefix, sr->update_target, why);
        sr->update_tries = 0;
        sr->applied = -1;
        return;
    }
    replicas_sync(sr);
}

/* GET /services/<id> answered: its spec with our count, posted back with
 * the version read (Swarm refuses it if someone updated in between). */
static void service_read(void *ctx, long status, const char *body, size_t body_len, const char *err)
{
    struct swarm_runtime *sr = ctx;
    char why[256], path[160], e[256];
    cJSON *j = status == 200 ? cJSON_Parse(body) : NULL;
    const cJSON *version =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "Version"), "Index");
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(j, "Spec");
    cJSON *replicated = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(spec, "Mode"), "Replicated");
    if (!cJSON_IsNumber(version) || !cJSON_IsObject(replicated)) {
        if (status < 0)
            snprintf(why, sizeof(why), "%s", err);
        else if (status != 200)
            dockerapi_error_text(body, why, sizeof(why));
        else
            snprintf(why, sizeof(why), "no Version.Index or Spec.Mode.Replicated");
        log_warn("swarm: reading service %s: %s (the next poll tries again)", sr->rt->cfg->prefix,
                 why);
        cJSON_Delete(j);
        sr->update_busy = 0;
        sr->applied = -1;
        return;
    }
    sr->update_target = desired_count(sr);
    cJSON_DeleteItemFromObjectCaseSensitive(replicated, "Replicas");
    cJSON_AddNumberToObject(replicated, "Replicas", sr->update_target);
    char *text = cJSON_PrintUnformatted(spec);
    snprintf(path, sizeof(path), "/services/%s/update?version=%.0f", sr->service_id,
             version->valuedouble);
    cJSON_Delete(j);
    if (!text || dockerapi_start(sr->api, "POST", path, text, SWARM_CALL_TIMEOUT_MS, update_done,
                                 sr, e, sizeof(e)) < 0) {
        log_warn("swarm: updating service %s: %s", sr->rt->cfg->prefix, text ? e : "out of memory");
        sr->update_busy = 0;
        sr->applied = -1;
    }
    free(text);
}

/* Writes the desired replica count unless it is what was last written or
 * an update is in flight (its end calls this again). */
static void replicas_sync(struct swarm_runtime *sr)
{
    if (sr->update_busy || desired_count(sr) == sr->applied)
        return;
    char path[128], err[256];
    snprintf(path, sizeof(path), "/services/%s", sr->service_id);
    if (dockerapi_start(sr->api, "GET", path, NULL, SWARM_CALL_TIMEOUT_MS, service_read, sr, err,
                        sizeof(err)) < 0) {
        log_warn("swarm: reading service %s: %s", sr->rt->cfg->prefix, err);
        return;
    }
    sr->update_busy = 1;
}

/* ---------------------------------------------------------------- tasks */

struct task_view {
    const char *id;
    const char *node;
    const char *created;
    int running;    /* Status.State running */
    int wanted;     /* DesiredState running */
    int exit_code;  /* Status.ContainerStatus.ExitCode, -1 if none */
    int proxy_port; /* published host ports, 0 if none */
    int admin_port;
    const char *err; /* Status.Err */
};

static void task_view_of(const cJSON *t, struct task_view *v)
{
    memset(v, 0, sizeof(*v));
    v->exit_code = -1;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(t, "ID");
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(t, "NodeID");
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(t, "CreatedAt");
    const cJSON *desired = cJSON_GetObjectItemCaseSensitive(t, "DesiredState");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(t, "Status");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(status, "State");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(status, "Err");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(status, "ContainerStatus"), "ExitCode");
    const cJSON *ports = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(status, "PortStatus"), "Ports");
    v->id = cJSON_IsString(id) && strlen(id->valuestring) <= SWARM_ID_MAX ? id->valuestring : NULL;
    v->node = cJSON_IsString(node) ? node->valuestring : NULL;
    v->created = cJSON_IsString(created) ? created->valuestring : "";
    v->running = cJSON_IsString(state) && strcmp(state->valuestring, "running") == 0;
    v->wanted = cJSON_IsString(desired) && strcmp(desired->valuestring, "running") == 0;
    v->err = cJSON_IsString(err) ? err->valuestring : NULL;
    if (cJSON_IsNumber(code))
        v->exit_code = code->valueint;
    const cJSON *p;
    cJSON_ArrayForEach(p, ports)
    {
        const cJSON *target = cJSON_GetObjectItemCaseSensitive(p, "TargetPort");
        const cJSON *published = cJSON_GetObjectItemCaseSensitive(p, "PublishedPort");
        if (!cJSON_IsNumber(target) || !cJSON_IsNumber(published) || published->valueint < 1 ||
            published->valueint > 65535)
            continue;
        if (target->valueint == SWARM_PROXY_PORT)
            v->proxy_port = published->valueint;
        else if (target->valueint == SWARM_ADMIN_PORT)
            v->admin_port = published->valueint;
    }
}

static const struct swarm_node *node_find(const struct swarm_runtime *sr, const char *id)
{
    for (int i = 0; id && i < sr->nnodes; i++)
        if (strcmp(sr->nodes[i].id, id) == 0)
            return &sr->nodes[i];
    return NULL;
}

static const cJSON *task_find(const cJSON *tasks, const char *id)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, tasks)
    {
        const cJSON *tid = cJSON_GetObjectItemCaseSensitive(t, "ID");
        if (cJSON_IsString(tid) && strcmp(tid->valuestring, id) == 0)
            return t;
    }
    return NULL;
}

static int task_claimed(const struct swarm_runtime *sr, const char *id)
{
    for (int i = 1; i <= POOL_MAX_INSTANCES; i++) {
        const struct swarm_slot *s = &sr->slots[i];
        if ((s->state == SWARM_SLOT_CLAIMED || s->state == SWARM_SLOT_LEAVING) &&
            strcmp(s->task, id) == 0)
            return 1;
    }
    return 0;
}

/* The slot's instance ended: the pool hears (and calls release). */
static void slot_report_exit(struct swarm_runtime *sr, int id, int exit_code, const char *why)
{
    struct swarm_slot *s = &sr->slots[id];
    struct instance *inst = s->inst;
    int was_leaving = s->state == SWARM_SLOT_LEAVING;
    log_info("swarm: %s's task %.12s: %s", inst->name, s->task, why);
    s->state = was_leaving ? SWARM_SLOT_NONE : SWARM_SLOT_EXITED;
    s->task[0] = '\0';
    struct runtime *rt = sr->rt;
    rt->exited(rt->exited_ctx, inst, exit_code >= 0 ? (exit_code & 0xff) << 8 : 0);
}

/* A pending slot takes the task: its node's address and published ports. */
static void slot_claim(struct swarm_runtime *sr, int id, const struct task_view *v,
                       struct in_addr node_addr)
{
    struct swarm_slot *s = &sr->slots[id];
    struct instance *inst = s->inst;
    struct worker_endpoints ep;
    memset(&ep, 0, sizeof(ep));
    endpoint_set(&ep.listen[0], node_addr, v->proxy_port);
    ep.nlisten = 1;
    endpoint_set(&ep.admin, node_addr, v->admin_port);
    worker_kind_place(sr->rt->worker, inst, &ep);
    snprintf(s->task, sizeof(s->task), "%s", v->id);
    s->state = SWARM_SLOT_CLAIMED;
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &node_addr, a, sizeof(a));
    log_info("swarm: %s is task %.12s on node %.12s (%s:%d, admin :%d), %lld ms after its spawn",
             inst->name, v->id, v->node, a, v->proxy_port, v->admin_port,
             (long long)((now_us() - s->since_us) / 1000));
    sr->rt->spawned(sr->rt->spawned_ctx, inst, NULL);
}

/* The oldest task that runs, is wanted, has its ports and a known node,
 * and no slot holds (ISO 8601 times compare as strings). */
static const cJSON *task_unclaimed(const struct swarm_runtime *sr, const cJSON *tasks,
                                   struct task_view *best, struct in_addr *addr)
{
    const cJSON *t, *found = NULL;
    struct task_view v;
    cJSON_ArrayForEach(t, tasks)
    {
        task_view_of(t, &v);
        const struct swarm_node *n = node_find(sr, v.node);
        if (!v.id || !v.running || !v.wanted || !v.proxy_port || !v.admin_port || !n ||
            task_claimed(sr, v.id))
            continue;
        if (!found || strcmp(v.created, best->created) < 0) {
            found = t;
            *best = v;
            *addr = n->addr;
        }
    }
    return found;
}

/* One look at the tasks: ends, claims, spawn timeouts. */
static void tasks_apply(struct swarm_runtime *sr, const cJSON *tasks)
{
    struct task_view v;
    int running = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tasks)
    {
        task_view_of(t, &v);
        running += v.running;
    }
    /* Stopped slots whose own task no longer runs are done. */
    int leaving = 0;
    for (int id = 1; id <= POOL_MAX_INSTANCES; id++) {
        struct swarm_slot *s = &sr->slots[id];
        if (s->state != SWARM_SLOT_LEAVING)
            continue;
        const cJSON *mine = task_find(tasks, s->task);
        task_view_of(mine, &v);
        if (!mine || !v.running)
            slot_report_exit(sr, id, v.exit_code, "ended (scaled down)");
        else
            leaving++;
    }
    /* No more tasks run than the count: Swarm removed other slots' tasks
     * instead of theirs; those slots end below and take these over. */
    if (leaving && running <= desired_count(sr)) {
        for (int id = 1; id <= POOL_MAX_INSTANCES; id++)
            if (sr->slots[id].state == SWARM_SLOT_LEAVING)
                slot_report_exit(sr, id, 0,
                                 "kept by Swarm, which removed another task on the scale-down; "
                                 "the pool's next start takes it over");
    }
    for (int id = 1; id <= POOL_MAX_INSTANCES; id++) {
        struct swarm_slot *s = &sr->slots[id];
        if (s->state != SWARM_SLOT_CLAIMED)
            continue;
        const cJSON *mine = task_find(tasks, s->task);
        task_view_of(mine, &v);
        if (!mine || !v.running) {
            char why[300];
            snprintf(why, sizeof(why), "no longer runs (%s)",
                     v.err ? v.err : (mine ? "exited" : "removed"));
            slot_report_exit(sr, id, v.exit_code, why);
        }
    }
    int64_t now = now_us();
    for (int id = 1; id <= POOL_MAX_INSTANCES; id++) {
        struct swarm_slot *s = &sr->slots[id];
        if (s->state != SWARM_SLOT_PENDING)
            continue;
        struct in_addr addr;
        if (task_unclaimed(sr, tasks, &v, &addr)) {
            slot_claim(sr, id, &v, addr);
        } else if (now - s->since_us > (int64_t)SWARM_SPAWN_TIMEOUT_MS * 1000) {
            /* The newest task's error says why none runs. */
            const char *why = NULL;
            cJSON_ArrayForEach(t, tasks)
            {
                task_view_of(t, &v);
                if (v.err)
                    why = v.err;
            }
            char err[600];
            snprintf(err, sizeof(err), "no task of service %s ran for it within %d s%s%s",
                     sr->rt->cfg->prefix, SWARM_SPAWN_TIMEOUT_MS / 1000,
                     why ? "; a task's error: " : "", why ? why : "");
            struct instance *inst = s->inst;
            s->state = SWARM_SLOT_NONE;
            sr->rt->spawned(sr->rt->spawned_ctx, inst, err);
        }
    }
    replicas_sync(sr);
}

static void poll_schedule(struct swarm_runtime *sr)
{
    struct timeval tv = {0, SWARM_POLL_MS * 1000};
    if (!evtimer_pending(sr->poll, NULL))
        evtimer_add(sr->poll, &tv);
}

/* Nodes' addresses from GET /nodes: Status.Addr, or the manager address's
 * host when a manager reports 0.0.0.0. */
static int nodes_parse(struct swarm_runtime *sr, const char *body)
{
    cJSON *j = cJSON_Parse(body);
    if (!cJSON_IsArray(j)) {
        cJSON_Delete(j);
        return -1;
    }
    sr->nnodes = 0;
    const cJSON *n;
    cJSON_ArrayForEach(n, j)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(n, "ID");
        const cJSON *addr =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(n, "Status"), "Addr");
        const cJSON *maddr = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(n, "ManagerStatus"), "Addr");
        struct in_addr a = {0};
        if (cJSON_IsString(addr))
            inet_pton(AF_INET, addr->valuestring, &a);
        if (a.s_addr == 0 && cJSON_IsString(maddr)) {
            char host[64];
            snprintf(host, sizeof(host), "%s", maddr->valuestring);
            char *colon = strrchr(host, ':');
            if (colon)
                *colon = '\0';
            inet_pton(AF_INET, host, &a);
        }
        if (!cJSON_IsString(id) || strlen(id->valuestring) > SWARM_ID_MAX || a.s_addr == 0 ||
            sr->nnodes >= SWARM_MAX_NODES)
            continue;
        snprintf(sr->nodes[sr->nnodes].id, sizeof(sr->nodes[0].id), "%s", id->valuestring);
        sr->nodes[sr->nnodes].addr = a;
        sr->nnodes++;
    }
    cJSON_Delete(j);
    return 0;
}

static void tasks_reply(void *ctx, long status, const char *body, size_t body_len, const char *err);

static void nodes_reply(void *ctx, long status, const char *body, size_t body_len, const char *err)
{
    struct swarm_runtime *sr = ctx;
    sr->poll_busy = 0;
    if (status != 200 || nodes_parse(sr, body) < 0) {
        char why[256];
        if (status < 0)
            snprintf(why, sizeof(why), "%s", err);
        else
            dockerapi_error_text(body, why, sizeof(why));
        log_warn("swarm: listing nodes: %s", why);
    }
    char *tasks = sr->tasks_body;
    sr->tasks_body = NULL;
    cJSON *j = tasks ? cJSON_Parse(tasks) : NULL;
    free(tasks);
    if (cJSON_IsArray(j))
        tasks_apply(sr, j);
    cJSON_Delete(j);
    poll_schedule(sr);
}

static void tasks_reply(void *ctx, long status, const char *body, size_t body_len, const char *err)
{
    struct swarm_runtime *sr = ctx;
    sr->poll_busy = 0;
    cJSON *j = status == 200 ? cJSON_Parse(body) : NULL;
    if (!cJSON_IsArray(j)) {
        char why[256];
        if (status < 0)
            snprintf(why, sizeof(why), "%s", err);
        else
            dockerapi_error_text(body, why, sizeof(why));
        log_warn("swarm: listing tasks of service %s: %s", sr->rt->cfg->prefix, why);
        cJSON_Delete(j);
        poll_schedule(sr);
        return;
    }
    /* A task on a node not known yet: read the nodes first. */
    const cJSON *t;
    int unknown = 0;
    cJSON_ArrayForEach(t, j)
    {
        struct task_view v;
        task_view_of(t, &v);
        unknown |= v.running && v.node && !node_find(sr, v.node);
    }
    char e[256];
    if (unknown && (sr->tasks_body = strdup(body)) &&
        dockerapi_start(sr->api, "GET", "/nodes", NULL, SWARM_CALL_TIMEOUT_MS, nodes_reply, sr, e,
                        sizeof(e)) == 0) {
        sr->poll_busy = 1;
        cJSON_Delete(j);
        return;
    }
    free(sr->tasks_body);
    sr->tasks_body = NULL;
    tasks_apply(sr, j);
    cJSON_Delete(j);
    poll_schedule(sr);
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    struct swarm_runtime *sr = arg;
    (void)fd;
    (void)what;
    if (sr->poll_busy)
        return;
    /* filters={"service":["<id>"]} */
    char path[200], err[256];
    snprintf(path, sizeof(path), "/tasks?filters=%%7B%%22service%%22%%3A%%5B%%22%s%%22%%5D%%7D",
             sr->service_id);
    if (dockerapi_start(sr->api, "GET", path, NULL, SWARM_CALL_TIMEOUT_MS, tasks_reply, sr, err,
                        sizeof(err)) < 0) {
        log_warn("swarm: listing tasks: %s", err);
        poll_schedule(sr);
        return;
    }
    sr->poll_busy = 1;
}

/* ---------------------------------------------------------------- spawn, stop */

static int swarm_spawn(struct runtime *rt, struct instance *inst, char *err, size_t errlen)
{
    struct swarm_runtime *sr = runtime_priv(rt);
    if (inst->id < 1 || inst->id > POOL_MAX_INSTANCES) {
        snprintf(err, errlen, "no slot %d", inst->id);
        return -1;
    }
    struct swarm_slot *s = &sr->slots[inst->id];
    s->state = SWARM_SLOT_PENDING;
    s->inst = inst;
    s->task[0] = '\0';
    s->since_us = now_us();
    inst->pid = 0;
    memset(&inst->address, 0, sizeof(inst->address));
    memset(&inst->probe, 0, sizeof(inst->probe));
    replicas_sync(sr);
    poll_schedule(sr);
    return PP_AGAIN;
}

static void swarm_stop(struct runtime *rt, struct instance *inst)
{
    struct swarm_runtime *sr = runtime_priv(rt);
    struct swarm_slot *s = &sr->slots[inst->id];
    if (s->state != SWARM_SLOT_CLAIMED)
        return;
    /* Swarm sends the task the image's stop signal and waits
     * StopGracePeriod (the drain timeout) before it kills it. */
    s->state = SWARM_SLOT_LEAVING;
    log_info("swarm: %s leaves: service %s goes to %d replicas (Swarm picks the task)", inst->name,
             rt->cfg->prefix, desired_count(sr));
    replicas_sync(sr);
}

/* Swarm cannot end one chosen task: the slot lets go of it now (its end is
 * reported), and Swarm replaces or removes the task by the count. */
static void swarm_kill(struct runtime *rt, struct instance *inst)
{
    struct swarm_runtime *sr = runtime_priv(rt);
    struct swarm_slot *s = &sr->slots[inst->id];
    if (s->state != SWARM_SLOT_CLAIMED && s->state != SWARM_SLOT_LEAVING)
        return;
    log_warn("swarm: %s: Swarm has no removal of one task; letting go of task %.12s", inst->name,
             s->task);
    slot_report_exit(sr, inst->id, 128 + 9, "let go");
}

static void swarm_release(struct runtime *rt, struct instance *inst)
{
    struct swarm_runtime *sr = runtime_priv(rt);
    if (inst->id < 1 || inst->id > POOL_MAX_INSTANCES)
        return;
    struct swarm_slot *s = &sr->slots[inst->id];
    if (s->state == SWARM_SLOT_CLAIMED || s->state == SWARM_SLOT_LEAVING)
        s->state = SWARM_SLOT_NONE; /* an end the poll did not report */
    s->task[0] = '\0';
    /* The count is written by the next poll, once the pool decided
     * whether the slot starts again (a crash) or goes. */
}

/* ---------------------------------------------------------------- blocking calls */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Removes, blocking, every service labelled with our prefix; 0 when none
 * is left. */
static int remove_services(struct swarm_runtime *sr, const char *why)
{
    const char *prefix = sr->rt->cfg->prefix;
    char path[256], err[256];
    long status;
    snprintf(path, sizeof(path),
             "/services?filters=%%7B%%22label%%22%%3A%%5B%%22" DOCKER_LABEL_PREFIX
             "%%3D%s%%22%%5D%%7D",
             prefix);
    cJSON *list = docker_get_json(sr->api, path, &status, err, sizeof(err));
    if (!list) {
        log_warn("swarm: cannot list services labelled %s=%s: %s", DOCKER_LABEL_PREFIX, prefix,
                 err);
        return -1;
    }
    int left = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, list)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(s, "ID");
        if (!cJSON_IsString(id) || strlen(id->valuestring) > SWARM_ID_MAX)
            continue;
        snprintf(path, sizeof(path), "/services/%s", id->valuestring);
        long st = docker_call_status(sr->api, "DELETE", path, NULL, NULL, err, sizeof(err));
        if (st == 200 || st == 404) {
            log_info("swarm: removed service %.12s %s", id->valuestring, why);
        } else {
            left++;
            log_warn("swarm: removing service %.12s: %s", id->valuestring, err);
        }
    }
    cJSON_Delete(list);
    return left;
}

/* Our overlay network's removal, retried while tasks' containers still
 * hold endpoints on it; 0 when it is gone. */
static int remove_network(struct swarm_runtime *sr, int64_t deadline_us)
{
    const char *name = sr->rt->cfg->bridge;
    char path[128], err[256];
    snprintf(path, sizeof(path), "/networks/%s", name);
    for (;;) {
        long status;
        cJSON *net = docker_get_json(sr->api, path, &status, err, sizeof(err));
        if (!net)
            return status == 404 ? 0 : -1;
        const char *owner = docker_label_of(net, DOCKER_LABEL_PREFIX);
        int ours = owner && strcmp(owner, sr->rt->cfg->prefix) == 0;
        cJSON_Delete(net);
        if (!ours)
            return 0; /* not ours: never removed */
        long st = docker_call_status(sr->api, "DELETE", path, NULL, NULL, err, sizeof(err));
        if (st == 204 || st == 200 || st == 404) {
            log_info("swarm: removed network %s", name);
            return 0;
        }
        if (now_us() > deadline_us) {
            log_warn("swarm: removing network %s: %s", name, err);
            return -1;
        }
        sleep_ms(200);
    }
}

/* What the kernel says about IPVS, for the log. */
static const char *ipvs_presence(void)
{
    if (access("/proc/net/ip_vs", F_OK) == 0)
        return "present";
    struct utsname u;
    char path[400], line[512];
    if (uname(&u) == 0) {
        snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep", u.release);
        FILE *f = fopen(path, "r");
        int found = 0;
        while (f && !found && fgets(line, sizeof(line), f))
            found = strstr(line, "/ip_vs.ko") != NULL;
        if (f)
            fclose(f);
        if (found)
            return "a module, not loaded";
    }
    return "absent";
}

/* ---------------------------------------------------------------- init */

static cJSON *port_spec(int port)
{
    cJSON *p = cJSON_CreateObject();
    if (p && cJSON_AddStringToObject(p, "Protocol", "tcp") &&
        cJSON_AddNumberToObject(p, "TargetPort", port) &&
        cJSON_AddStringToObject(p, "PublishMode", "host"))
        return p;
    cJSON_Delete(p);
    return NULL;
}

/* The JSON of POST /services/create: no replica yet (spawns add them). */
static char *service_body(struct runtime *rt, char *err, size_t errlen)
{
    const struct manager_config *cfg = rt->cfg;
    /* The arguments every task runs with, as the docker runtime's, but for
     * --name: each task's proxyd takes its hostname, the service's name and
     * Swarm's slot of the task. */
    struct instance model;
    memset(&model, 0, sizeof(model));
    model.id = 1;
    snprintf(model.name, sizeof(model.name), "%s", cfg->prefix);
    struct worker_endpoints ep;
    struct in_addr any = {INADDR_ANY};
    memset(&ep, 0, sizeof(ep));
    endpoint_set(&ep.listen[0], any, SWARM_PROXY_PORT);
    ep.nlisten = 1;
    endpoint_set(&ep.admin, any, SWARM_ADMIN_PORT);
    static struct worker_cmd cmd; /* ~4.5 KiB: off the stack */
    memset(&cmd, 0, sizeof(cmd));
    if (worker_kind_prepare(rt->worker, cfg, &model, &ep, &cmd, err, errlen) < 0)
        return NULL;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    double nano = cfg->cpus * 1e9;
    if (cpus > 0 && cfg->cpus > (double)cpus) /* Docker refuses more than a node has */
        nano = (double)cpus * 1e9;
    char stop[16];
    snprintf(stop, sizeof(stop), "%d", rt->worker->stop_signal);
    cJSON *root = cJSON_CreateObject();
    cJSON *labels = cJSON_AddObjectToObject(root, "Labels");
    cJSON *task = cJSON_AddObjectToObject(root, "TaskTemplate");
    cJSON *cs = cJSON_AddObjectToObject(task, "ContainerSpec");
    cJSON *command = cJSON_AddArrayToObject(cs, "Command");
    cJSON *args = cJSON_AddArrayToObject(cs, "Args");
    cJSON *clabels = cJSON_AddObjectToObject(cs, "Labels");
    cJSON *limits = cJSON_AddObjectToObject(cJSON_AddObjectToObject(task, "Resources"), "Limits");
    cJSON *restart = cJSON_AddObjectToObject(task, "RestartPolicy");
    cJSON *nets = cJSON_AddArrayToObject(task, "Networks");
    cJSON *net = cJSON_CreateObject();
    cJSON *replicated =
        cJSON_AddObjectToObject(cJSON_AddObjectToObject(root, "Mode"), "Replicated");
    cJSON *endpoint = cJSON_AddObjectToObject(root, "EndpointSpec");
    cJSON *ports = cJSON_AddArrayToObject(endpoint, "Ports");
    int ok = root && labels && task && cs && command && args && clabels && limits && restart &&
             nets && net && cJSON_AddItemToArray(nets, net) && replicated && endpoint && ports &&
             cJSON_AddStringToObject(root, "Name", cfg->prefix) &&
             cJSON_AddStringToObject(labels, DOCKER_LABEL_PREFIX, cfg->prefix) &&
             cJSON_AddStringToObject(cs, "Image", cfg->docker_image) &&
             cJSON_AddStringToObject(cs, "Hostname", "{{.Service.Name}}-{{.Task.Slot}}") &&
             cJSON_AddStringToObject(cs, "StopSignal", stop) &&
             cJSON_AddNumberToObject(cs, "StopGracePeriod", (double)cfg->drain_timeout_ms * 1e6) &&
             cJSON_AddStringToObject(clabels, DOCKER_LABEL_PREFIX, cfg->prefix) &&
             cJSON_AddItemToArray(command, cJSON_CreateString(SWARM_PROXYD_PATH)) &&
             cJSON_AddNumberToObject(limits, "NanoCPUs", nano) &&
             cJSON_AddNumberToObject(limits, "MemoryBytes", (double)cfg->memory_bytes) &&
             cJSON_AddStringToObject(restart, "Condition", "any") &&
             cJSON_AddNumberToObject(restart, "Delay", 100e6) &&
             cJSON_AddStringToObject(net, "Target", cfg->bridge) &&
             cJSON_AddNumberToObject(replicated, "Replicas", 0) &&
             cJSON_AddStringToObject(endpoint, "Mode", "dnsrr") &&
             cJSON_AddItemToArray(ports, port_spec(SWARM_PROXY_PORT)) &&
             cJSON_AddItemToArray(ports, port_spec(SWARM_ADMIN_PORT));
    if (!ok && net && !cJSON_IsArray(nets))
        cJSON_Delete(net);
    /* argv[0] is the host's proxyd (the image has its own); --name goes. */
    for (size_t i = 1; ok && i < cmd.argc; i++) {
        if (strcmp(cmd.argv[i], "--name") == 0 && i + 1 < cmd.argc) {
            i++;
            continue;
        }
        ok = cJSON_AddItemToArray(args, cJSON_CreateString(cmd.argv[i]));
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        snprintf(err, errlen, "out of memory");
    return text;
}

static void swarm_free(struct runtime *rt)
{
    struct swarm_runtime *sr = rt->priv;
    if (!sr)
        return;
    if (sr->poll)
        event_free(sr->poll);
    dockerapi_free(sr->api);
    free(sr->tasks_body);
    sr->magic = 0;
    free(sr);
    rt->priv = NULL;
}

static int swarm_init(struct runtime *rt, char *err, size_t errlen)
{
    const struct manager_config *cfg = rt->cfg;
    if (!rt->base || !rt->spawned || !rt->exited) {
        snprintf(err, errlen, "swarm runtime needs the manager's loop");
        return -1;
    }
    if (strcmp(rt->worker->name, "proxyd") != 0) {
        snprintf(err, errlen, "the swarm runtime runs proxyd workers only (make images builds %s)",
                 cfg->docker_image);
        return -1;
    }
    if (strcmp(cfg->forwarding, "nat") == 0 || strcmp(cfg->forwarding, "route") == 0) {
        snprintf(err, errlen,
                 "--forwarding %s is not built for the swarm runtime (its tasks may run on other "
                 "hosts): use --forwarding balancer",
                 cfg->forwarding);
        return -1;
    }
    struct swarm_runtime *sr = calloc(1, sizeof(*sr));
    if (!sr) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    sr->magic = SWARM_RUNTIME_MAGIC;
    sr->rt = rt;
    sr->applied = -1;
    rt->priv = sr;
    if (!(sr->api = dockerapi_new(rt->base, cfg->docker_socket, err, errlen)) ||
        !(sr->poll = evtimer_new(rt->base, poll_cb, sr))) {
        if (sr->api)
            snprintf(err, errlen, "out of memory");
        goto fail;
    }
    char e[256];
    long status;
    cJSON *info = docker_get_json(sr->api, "/info", &status, e, sizeof(e));
    if (!info) {
        snprintf(err, errlen, "no Docker Engine API on %s: %s", cfg->docker_socket, e);
        goto fail;
    }
    const cJSON *swarm = cJSON_GetObjectItemCaseSensitive(info, "Swarm");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(swarm, "LocalNodeState");
    const cJSON *control = cJSON_GetObjectItemCaseSensitive(swarm, "ControlAvailable");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(info, "ServerVersion");
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(swarm, "Nodes");
    int manager =
        cJSON_IsString(state) && strcmp(state->valuestring, "active") == 0 && cJSON_IsTrue(control);
    if (!manager) {
        snprintf(err, errlen,
                 "the daemon on %s is not a Swarm manager (Swarm.LocalNodeState %s): docker swarm "
                 "init first (docs/swarm.md)",
                 cfg->docker_socket, cJSON_IsString(state) ? state->valuestring : "?");
        cJSON_Delete(info);
        goto fail;
    }
    log_info("swarm: Docker %s on %s, a Swarm manager of %d node(s)",
             cJSON_IsString(version) ? version->valuestring : "?", cfg->docker_socket,
             cJSON_IsNumber(nodes) ? nodes->valueint : 0);
    cJSON_Delete(info);
    const char *ipvs = ipvs_presence();
    if (strcmp(ipvs, "present") != 0)
        log_warn("swarm: this kernel has no IPVS (%s: no /proc/net/ip_vs): Swarm's routing mesh "
                 "and service VIPs cannot work; service %s uses endpoint mode dnsrr and "
                 "host-mode published ports, and the manager's balancer fronts its tasks",
                 ipvs, cfg->prefix);
    else
        log_info("swarm: IPVS is present, but service %s uses endpoint mode dnsrr and host-mode "
                 "published ports: the manager's balancer fronts its tasks",
                 cfg->prefix);
    char path[300];
    snprintf(path, sizeof(path), "/images/%s/json", cfg->docker_image);
    cJSON *image = docker_get_json(sr->api, path, &status, e, sizeof(e));
    if (!image)
        log_warn("swarm: image %s is not on this node (%s): tasks Swarm places here fail; every "
                 "node needs it (docker load, docs/swarm.md)",
                 cfg->docker_image, e);
    cJSON_Delete(image);
    /* No adoption: a service an earlier run left goes, with its tasks. */
    remove_services(sr, "left by an earlier run");
    if (docker_network_ensure(sr->api, sr->rt->cfg, "overlay", "swarm", err, errlen) < 0)
        goto fail;
    char *body = service_body(rt, err, errlen);
    if (!body)
        goto fail;
    char *reply = NULL;
    status = docker_call_status(sr->api, "POST", "/services/create", body, &reply, e, sizeof(e));
    free(body);
    cJSON *j = status == 201 ? cJSON_Parse(reply) : NULL;
    free(reply);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "ID");
    if (cJSON_IsString(id) && strlen(id->valuestring) <= SWARM_ID_MAX)
        snprintf(sr->service_id, sizeof(sr->service_id), "%s", id->valuestring);
    cJSON_Delete(j);
    if (!sr->service_id[0]) {
        snprintf(err, errlen, "creating service %s on %s: %s", cfg->prefix, cfg->docker_socket,
                 status == 201 ? "no ID in the reply" : e);
        goto fail;
    }
    sr->applied = 0;
    log_info("swarm: created service %s (%.12s): %s, endpoint mode dnsrr, network %s, ports "
             "%d and %d published in host mode",
             cfg->prefix, sr->service_id, cfg->docker_image, cfg->bridge, SWARM_PROXY_PORT,
             SWARM_ADMIN_PORT);
    poll_schedule(sr);
    return 0;
fail:
    swarm_free(rt);
    return -1;
}

static void swarm_shutdown(struct runtime *rt)
{
    if (!rt->priv)
        return;
    struct swarm_runtime *sr = runtime_priv(rt);
    /* Calls in flight are dropped; from here the client blocks. */
    evtimer_del(sr->poll);
    dockerapi_free(sr->api);
    char err[256];
    sr->api = dockerapi_new(NULL, rt->cfg->docker_socket, err, sizeof(err));
    if (!sr->api) {
        log_warn("swarm: %s", err);
        swarm_free(rt);
        return;
    }
    int64_t deadline = now_us() + SWARM_SHUTDOWN_WAIT_MS * 1000LL;
    while (remove_services(sr, "at shutdown") > 0 && now_us() < deadline)
        sleep_ms(200);
    /* The tasks' containers leave the network as their nodes stop them. */
    remove_network(sr, deadline);
    swarm_free(rt);
}

static void swarm_detach_instance(struct runtime *rt, struct instance *inst)
{
    (void)rt;
    (void)inst; /* nothing allocated per instance */
}

static void swarm_detach(struct runtime *rt)
{
    swarm_free(rt);
}

const struct runtime_ops runtime_swarm_ops = {
    .name = "swarm",
    .init = swarm_init,
    .spawn = swarm_spawn,
    .stop = swarm_stop,
    .release = swarm_release,
    .shutdown = swarm_shutdown,
    .detach_instance = swarm_detach_instance,
    .detach = swarm_detach,
    .own_network = 0,
    .remote = 1,
    .kill = swarm_kill,
};
