/* The container runtime: each worker (proxyd, Squid or nginx) in new
 * network, PID, mount, UTS and IPC namespaces, joined by a veth pair to a
 * bridge the manager owns, with its own address from the subnet (instance k
 * is host k+1, the bridge host 1) and cgroup CPU and memory limits: what
 * Docker does, without Docker. The pool calls spawn, stop and release; every
 * kernel object made here carries cfg->prefix, so a manager that crashed can
 * find what it left. */
#include "runtime.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "cgroup.h"
#include "../config.h"
#include "log.h"
#include "../crashpoint.h"
#include "../netdev.h"
#include "../spawn.h"
#include "../worker/worker.h"

/* Squid's port, as the paper's proxy containers listen on. */
#define CONTAINER_PROXY_PORT 3128
#define CONTAINER_ADMIN_PORT 9101
#define CONTAINER_IFNAME "eth0"
/* The loopback device is ifindex 1 in every network namespace
 * (LOOPBACK_IFINDEX in the kernel's net_namespace.h). */
#define CONTAINER_LO_IFINDEX 1
/* The cloned child makes a few syscalls before exec (socket, sendmsg, read,
 * open, mount, execve) and at worst one dprintf; it never comes near this. */
#define CONTAINER_STACK_BYTES (256 * 1024)
/* The child hands over its netlink socket within microseconds; a child
 * that has not after this is stuck and the spawn fails. */
#define CONTAINER_HANDSHAKE_TIMEOUT_MS 2000
/* Processes an earlier run left in our cgroups get SIGKILL, then this long
 * to be gone (they are reaped by whoever inherited them). */
#define CONTAINER_LEFTOVER_WAIT_MS 2000
#define CONTAINER_LEFTOVERS_MAX 256
#define CONTAINER_CLONE_FLAGS                                                                      \
    (CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC)

#define CONTAINER_RUNTIME_MAGIC 0x63727431u /* "crt1" */
#define CONTAINER_MAGIC 0x636e7472u         /* "cntr" */

struct container_runtime {
    unsigned magic;
    struct netdev *nd; /* the manager's own network namespace */
    struct cgroup_tree cg;
    int bridge_ifindex;
    struct in_addr bridge_addr;
    int prefix_len;
};

/* What one running instance has in the kernel (inst->rt). */
struct container {
    unsigned magic;
    char veth[IF_NAMESIZE];
    char cgroup[sizeof(((struct instance *)0)->name)];
    int has_veth;
    int has_cgroup;
};

/* Everything the child needs, prepared before clone: after clone the child
 * only makes syscalls on it. */
struct child_args {
    int chan;        /* the child's end of the socketpair */
    int parent_chan; /* the manager's end, closed in the child */
    const char *name;
    const char *log_path;
    char **argv;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct container_runtime *runtime_priv(struct runtime *rt)
{
    struct container_runtime *cr = rt->priv;
    assert(cr && cr->magic == CONTAINER_RUNTIME_MAGIC);
    return cr;
}

/* Host n of the subnet (n = 1 is the bridge, instance k is k + 1). */
static int subnet_host(const struct cidr *subnet, unsigned n, struct in_addr *out, char *err,
                       size_t errlen)
{
    if (subnet->family != AF_INET) {
        snprintf(err, errlen, "container subnet must be IPv4");
        return -1;
    }
    uint64_t size = (uint64_t)1 << (32 - subnet->prefix_len); /* prefix_len is 0..32 */
    if (n == 0 || n >= size - 1) { /* neither the network nor the broadcast address */
        char s[64];
        cidr_format(subnet, s, sizeof(s));
        snprintf(err, errlen, "container subnet %s has no host %u", s, n);
        return -1;
    }
    uint32_t base;
    memcpy(&base, subnet->bytes, sizeof(base));
    out->s_addr = htonl(ntohl(base) + n);
    return 0;
}

static void container_endpoint(struct addr *a, struct in_addr ip, int port)
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

/* "<prefix>v<digits>": the host end of an instance's veth. */
static int is_instance_veth(const char *prefix, const char *name)
{
    size_t plen = strlen(prefix);
    if (strncmp(name, prefix, plen) != 0 || name[plen] != 'v' || !name[plen + 1])
        return 0;
    for (const char *p = name + plen + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return 1;
}

/* ---------------------------------------------------------------- the child */

static int fd_send(int chan, int fd)
{
    char byte = 'n';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    ssize_t n;
    do
        n = sendmsg(chan, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == 1 ? 0 : -1;
}

/* What a worker may still be given at exec (the capability bounding set;
 * as root it gets exactly these): start as root, bind, open its files and
 * raise its descriptor limit, then become its own unprivileged user (proxyd
 * --user, Squid's cache_effective_user, nginx's user) and keep nothing.
 * Everything else (CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_PTRACE,
 * CAP_SYS_MODULE, CAP_MKNOD, ...) no worker ever has. */
static const int container_kept_caps[] = {
    CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FOWNER,           CAP_KILL,         CAP_SETGID,
    CAP_SETUID, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_RESOURCE,
};

/* Runs in the new namespaces, on a copy of the manager's memory. It hands
 * the manager a netlink socket made here (so the manager can configure this
 * network namespace without entering it), waits until the manager has
 * wired the veth, address, route and cgroup, then becomes the worker. */
static int container_child(void *arg)
{
    struct child_args *a = arg;
    /* The manager's handlers (libevent's, writing to the manager's own
     * signal pipe) must never run here. Signals stay blocked, as clone left
     * them, until spawn_child_prepare unblocks them just before exec. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL); /* EINVAL for SIGKILL, SIGSTOP: fine */
    close(a->parent_chan);
    int nl = netdev_socket_bound();
    if (nl < 0 || fd_send(a->chan, nl) < 0)
        _exit(127);
    close(nl);
    char go;
    ssize_t n;
    do
        n = read(a->chan, &go, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1)
        _exit(127);                   /* the manager gave up on this instance */
    spawn_child_prepare(a->log_path); /* closes a->chan with the rest */
    const char *what = "sethostname";
    if (sethostname(a->name, strlen(a->name)) < 0)
        goto fail;
    /* Private first, so the new /proc does not propagate to the host. */
    what = "make mounts private";
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        goto fail;
    what = "mount /proc"; /* the PID namespace's own view */
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        goto fail;
    /* The bounding set last: the mounts needed CAP_SYS_ADMIN. */
    char cap_err[160];
    if (caps_bound_to(container_kept_caps,
                      sizeof(container_kept_caps) / sizeof(container_kept_caps[0]), cap_err,
                      sizeof(cap_err)) < 0) {
        dprintf(2, "manager: container %s: %s\n", a->name, cap_err);
        _exit(127);
    }
    execv(a->argv[0], a->argv);
    what = "exec";
fail:
    dprintf(2, "manager: container %s: %s: %s\n", a->name, what, strerror(errno));
    _exit(127);
}

/* ---------------------------------------------------------------- the manager side */

static int fd_recv(int chan, int timeout_ms, char *err, size_t errlen)
{
    struct pollfd pfd = {.fd = chan, .events = POLLIN};
    int rc;
    do
        rc = poll(&pfd, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    if (rc == 0) {
        snprintf(err, errlen, "the child did not hand over its namespace within %d ms", timeout_ms);
        return -1;
    }
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t n;
    do
        n = recvmsg(chan, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    struct cmsghdr *c = n == 1 ? CMSG_FIRSTHDR(&msg) : NULL;
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
        c->cmsg_len != CMSG_LEN(sizeof(int))) {
        snprintf(err, errlen, "the child exited before its namespace was ready%s%s",
                 n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
        return -1;
    }
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
}

/* Removes what c records; keeps the record of whatever could not go. */
static int container_remove_parts(struct container_runtime *cr, struct container *c)
{
    char err[256];
    int rc = 0;
    if (c->has_veth) {
        /* Deleting the host end takes the peer with it at once rather
         * than when the kernel gets round to the namespace's cleanup. */
        if (netdev_link_del(cr->nd, c->veth, err, sizeof(err)) < 0) {
            log_warn("container: %s", err);
            rc = -1;
        } else {
            c->has_veth = 0;
        }
    }
    if (c->has_cgroup) {
        if (cgroup_remove(&cr->cg, c->cgroup, err, sizeof(err)) < 0) {
            log_warn("container: %s", err);
            rc = -1;
        } else {
            c->has_cgroup = 0;
        }
    }
    return rc;
}

static void reap(pid_t pid)
{
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* In the child's network namespace, through its socket: lo up with the
 * VIP on it, eth0 up with its address, the default route via the bridge.
 * The VIP on lo is what route mode needs (packets for the VIP arrive
 * unchanged and must be local); in other modes nothing sends to it here. */
static int container_configure_netns(struct container_runtime *cr, struct netdev *ns,
                                     struct in_addr addr, struct in_addr vip, char *err,
                                     size_t errlen)
{
    if (netdev_link_up(ns, CONTAINER_LO_IFINDEX, err, errlen) < 0)
        return -1;
    if (vip.s_addr != 0 && netdev_addr_add(ns, CONTAINER_LO_IFINDEX, vip, 32, err, errlen) < 0)
        return -1;
    int eth0 = netdev_link_index(ns, CONTAINER_IFNAME, err, errlen);
    if (eth0 < 0 || netdev_link_up(ns, eth0, err, errlen) < 0 ||
        netdev_addr_add(ns, eth0, addr, cr->prefix_len, err, errlen) < 0 ||
        netdev_route_add_default(ns, eth0, cr->bridge_addr, err, errlen) < 0)
        return -1;
    return 0;
}

static void container_release(struct runtime *rt, struct instance *inst);

static int container_spawn(struct runtime *rt, struct instance *inst, char *err, size_t errlen)
{
    struct container_runtime *cr = runtime_priv(rt);
    const struct manager_config *cfg = rt->cfg;
    struct in_addr addr;
    if (inst->id < 1 || inst->id > POOL_MAX_INSTANCES) {
        snprintf(err, errlen, "instance id %d outside 1..%d", inst->id, POOL_MAX_INSTANCES);
        return -1;
    }
    if (subnet_host(&cfg->subnet, (unsigned)inst->id + 1, &addr, err, errlen) < 0)
        return -1;
    if (inst->rt) { /* what an earlier life of this slot could not remove */
        container_release(rt, inst);
        if (inst->rt) {
            snprintf(err, errlen, "%s's earlier veth or cgroup could not be removed", inst->name);
            return -1;
        }
    }
    if (!inst->log_path[0] || !inst->name[0]) {
        snprintf(err, errlen, "instance %d has no name or log path", inst->id);
        return -1;
    }

    struct container *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->magic = CONTAINER_MAGIC;
    snprintf(c->cgroup, sizeof(c->cgroup), "%s", inst->name);
    int n = snprintf(c->veth, sizeof(c->veth), "%sv%d", cfg->prefix, inst->id);
    if (n < 0 || (size_t)n >= sizeof(c->veth)) {
        snprintf(err, errlen, "interface name %sv%d too long", cfg->prefix, inst->id);
        free(c);
        return -1;
    }

    int chan[2] = {-1, -1};
    pid_t pid = -1;
    struct netdev *ns = NULL;
    char *stack = NULL;
    int64_t t0 = now_us(), t_cgroup, t_clone, t_handshake, t_join, t_veth, t_netns;

    if (cgroup_create(&cr->cg, c->cgroup, cfg->cpus, cfg->memory_bytes, err, errlen) < 0)
        goto fail;
    c->has_cgroup = 1;
    t_cgroup = now_us();
    PP_CRASH_POINT("container.cgroup_created");

    /* Two listeners: the instance's own address (nat, none, health) and
     * the VIP (route mode delivers clients' packets to it unchanged). */
    const struct sockaddr_in *vip_sin = (const struct sockaddr_in *)&cfg->vip.ss;
    int have_vip = cfg->vip.ss.ss_family == AF_INET && vip_sin->sin_addr.s_addr != 0;
    struct worker_endpoints ep;
    memset(&ep, 0, sizeof(ep));
    container_endpoint(&ep.listen[0], addr, CONTAINER_PROXY_PORT);
    ep.nlisten = 1;
    if (have_vip)
        container_endpoint(&ep.listen[ep.nlisten++], vip_sin->sin_addr, addr_port(&cfg->vip));
    container_endpoint(&ep.admin, addr, CONTAINER_ADMIN_PORT);
    static struct worker_cmd cmd; /* ~4.5 KiB: off the stack; the loop is single-threaded */
    if (worker_kind_prepare(rt->worker, cfg, inst, &ep, &cmd, err, errlen) < 0)
        goto fail;
    char listen[ADDR_STRLEN];
    addr_format(&ep.listen[0], listen, sizeof(listen));

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) < 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        goto fail;
    }
    stack = malloc(CONTAINER_STACK_BYTES);
    if (!stack) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    struct child_args args = {.chan = chan[1],
                              .parent_chan = chan[0],
                              .name = inst->name,
                              .log_path = inst->log_path,
                              .argv = cmd.argv};
    /* Without CLONE_VM the child runs on its own copy of this stack. It
     * starts with every signal blocked (see container_child). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid = clone(container_child, stack + CONTAINER_STACK_BYTES, CONTAINER_CLONE_FLAGS | SIGCHLD,
                &args);
    int clone_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    free(stack);
    close(chan[1]);
    chan[1] = -1;
    if (pid < 0) {
        snprintf(err, errlen, "clone: %s", strerror(clone_errno));
        goto fail;
    }
    t_clone = now_us();

    int nlfd = fd_recv(chan[0], CONTAINER_HANDSHAKE_TIMEOUT_MS, err, errlen);
    if (nlfd < 0 || !(ns = netdev_open_fd(nlfd, err, errlen)))
        goto fail;
    t_handshake = now_us();
    if (cgroup_add_pid(&cr->cg, c->cgroup, pid, err, errlen) < 0)
        goto fail;
    t_join = now_us();
    if (netdev_veth_add(cr->nd, c->veth, cr->bridge_ifindex, CONTAINER_IFNAME, pid, addr, err,
                        errlen) < 0)
        goto fail;
    c->has_veth = 1;
    t_veth = now_us();
    PP_CRASH_POINT("container.veth_added");
    struct in_addr no_vip = {0};
    if (container_configure_netns(cr, ns, addr, have_vip ? vip_sin->sin_addr : no_vip, err,
                                  errlen) < 0)
        goto fail;
    netdev_free(ns);
    ns = NULL;
    t_netns = now_us();

    char go = 'g';
    if (send(chan[0], &go, 1, MSG_NOSIGNAL) != 1) {
        snprintf(err, errlen, "the child exited before it was started: %s", strerror(errno));
        goto fail;
    }
    close(chan[0]);

    inst->pid = pid;
    inst->rt = c;
    log_debug("container: %s pid %d on %s: cgroup %lld us, clone %lld us, handshake %lld us, "
              "cgroup join %lld us, veth %lld us, netns config %lld us",
              inst->name, (int)pid, listen, (long long)(t_cgroup - t0),
              (long long)(t_clone - t_cgroup), (long long)(t_handshake - t_clone),
              (long long)(t_join - t_handshake), (long long)(t_veth - t_join),
              (long long)(t_netns - t_veth));
    return 0;

fail:
    netdev_free(ns);
    if (chan[1] >= 0)
        close(chan[1]);
    if (chan[0] >= 0)
        close(chan[0]); /* a child still waiting reads EOF and exits */
    if (pid > 0) {
        kill(pid, SIGKILL);
        reap(pid); /* the pool never saw this pid */
    }
    container_remove_parts(cr, c);
    free(c);
    return -1;
}

/* Whether pid is in the cgroup of the instance named name (a line of
 * /proc/PID/cgroup ending in /PREFIX/NAME): the runtime put it there. */
static int in_instance_cgroup(pid_t pid, const char *prefix, const char *name)
{
    char path[64], line[512], tail[160];
    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    snprintf(tail, sizeof(tail), "/%s/%s", prefix, name);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    int found = 0;
    size_t tl = strlen(tail);
    while (!found && fgets(line, sizeof(line), f)) {
        size_t n = strcspn(line, "\n");
        line[n] = '\0';
        found = n >= tl && strcmp(line + n - tl, tail) == 0;
    }
    fclose(f);
    return found;
}

static int container_adopt(struct runtime *rt, struct instance *inst, char *err, size_t errlen)
{
    const struct manager_config *cfg = rt->cfg;
    struct in_addr addr;
    if (subnet_host(&cfg->subnet, (unsigned)inst->id + 1, &addr, err, errlen) < 0)
        return -1;
    if (!in_instance_cgroup(inst->pid, cfg->prefix, inst->name)) {
        snprintf(err, errlen, "pid %d is not in cgroup %s/%s", (int)inst->pid, cfg->prefix,
                 inst->name);
        return -1;
    }
    const struct sockaddr_in *vip_sin = (const struct sockaddr_in *)&cfg->vip.ss;
    struct worker_endpoints ep;
    memset(&ep, 0, sizeof(ep));
    container_endpoint(&ep.listen[0], addr, CONTAINER_PROXY_PORT);
    ep.nlisten = 1;
    if (cfg->vip.ss.ss_family == AF_INET && vip_sin->sin_addr.s_addr != 0)
        container_endpoint(&ep.listen[ep.nlisten++], vip_sin->sin_addr, addr_port(&cfg->vip));
    container_endpoint(&ep.admin, addr, CONTAINER_ADMIN_PORT);
    worker_kind_place(rt->worker, inst, &ep);
    return 0;
}

/* The record of an adopted instance, made when it is first released: its
 * veth and cgroup are named by its slot, as container_spawn names them. */
static struct container *container_of_adopted(struct runtime *rt, const struct instance *inst)
{
    if (inst->id < 1 || inst->id > POOL_MAX_INSTANCES || !(rt->adopted & ((uint64_t)1 << inst->id)))
        return NULL;
    struct container *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->magic = CONTAINER_MAGIC;
    snprintf(c->cgroup, sizeof(c->cgroup), "%s", inst->name);
    snprintf(c->veth, sizeof(c->veth), "%.*sv%d", IF_NAMESIZE - 4, rt->cfg->prefix, inst->id);
    c->has_veth = 1;
    c->has_cgroup = 1;
    return c;
}

static void container_stop(struct runtime *rt, struct instance *inst)
{
    (void)rt;
    /* The worker is its PID namespace's init: from here only signals it
     * has a handler for arrive, and it handles its stop signal (proxyd and
     * Squid SIGTERM, nginx SIGQUIT) by draining. One sent in the instant
     * between spawn and the worker's start is lost; the pool's drain
     * deadline covers that. */
    worker_kind_stop(rt->worker, inst);
}

static void container_release(struct runtime *rt, struct instance *inst)
{
    /* Every other process of the instance died with its namespace's init. */
    worker_kind_release(rt->worker, rt->cfg, inst, 0);
    if (!inst->rt && (inst->rt = container_of_adopted(rt, inst)) != NULL)
        rt->adopted &= ~((uint64_t)1 << inst->id);
    struct container *c = inst->rt;
    if (!c)
        return;
    assert(c->magic == CONTAINER_MAGIC);
    if (container_remove_parts(runtime_priv(rt), c) < 0)
        return; /* kept: a later release, or the next run's init, retries */
    c->magic = 0;
    free(c);
    inst->rt = NULL;
}

/* ---------------------------------------------------------------- init, shutdown */

struct names {
    char (*v)[CGROUP_PATH_MAX];
    size_t n;
};

static void names_add(void *ctx, const char *name)
{
    struct names *ns = ctx;
    if (ns->n < CONTAINER_LEFTOVERS_MAX)
        snprintf(ns->v[ns->n++], CGROUP_PATH_MAX, "%s", name);
}

/* Whether name is "<prefix><sep><id>" for an adopted slot id (sep: "v"
 * for a veth, "" for a cgroup). */
static int names_adopted(const struct runtime *rt, const char *name, const char *sep)
{
    size_t plen = strlen(rt->cfg->prefix), slen = strlen(sep);
    if (strncmp(name, rt->cfg->prefix, plen) != 0 || strncmp(name + plen, sep, slen) != 0)
        return 0;
    const char *digits = name + plen + slen;
    if (!*digits || strspn(digits, "0123456789") != strlen(digits))
        return 0;
    int id = atoi(digits);
    return id >= 1 && id <= POOL_MAX_INSTANCES && (rt->adopted & ((uint64_t)1 << id));
}

static void remove_leftover_links(struct container_runtime *cr, const struct runtime *rt,
                                  const char *prefix, struct names *names)
{
    char err[256];
    names->n = 0;
    if (netdev_link_list(cr->nd, prefix, names_add, names, err, sizeof(err)) < 0) {
        log_warn("container: cannot list leftover links: %s", err);
        return;
    }
    for (size_t i = 0; i < names->n; i++) {
        if (!is_instance_veth(prefix, names->v[i]) || names_adopted(rt, names->v[i], "v"))
            continue;
        int rc = netdev_link_del(cr->nd, names->v[i], err, sizeof(err));
        if (rc < 0)
            log_warn("container: leftover %s", err);
        else if (rc == 0)
            log_info("container: removed link %s left by an earlier run", names->v[i]);
    }
}

static void remove_leftover_cgroups(struct container_runtime *cr, const struct runtime *rt,
                                    struct names *names)
{
    char err[256];
    names->n = 0;
    if (cgroup_list(&cr->cg, names_add, names, err, sizeof(err)) < 0) {
        log_warn("container: cannot list leftover cgroups: %s", err);
        return;
    }
    for (size_t i = 0; i < names->n; i++) {
        const char *name = names->v[i];
        if (names_adopted(rt, name, ""))
            continue; /* its instance serves on, adopted by the pool */
        pid_t pids[64];
        int np = cgroup_pids(&cr->cg, name, pids, 64, err, sizeof(err));
        /* The pool stopped the instances it knew from pid files; whatever is
         * still inside an earlier run's group has nobody left to stop it. */
        for (int k = 0; k < np; k++) {
            log_info("container: killing pid %d left in cgroup %s by an earlier run", (int)pids[k],
                     name);
            kill(pids[k], SIGKILL);
        }
        int64_t deadline = now_us() + CONTAINER_LEFTOVER_WAIT_MS * 1000LL;
        while (np > 0 && now_us() < deadline) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            np = cgroup_pids(&cr->cg, name, pids, 64, err, sizeof(err));
        }
        if (cgroup_remove(&cr->cg, name, err, sizeof(err)) < 0)
            log_warn("container: leftover cgroup: %s", err);
        else
            log_info("container: removed cgroup %s left by an earlier run", name);
    }
}

static int container_init(struct runtime *rt, char *err, size_t errlen)
{
    const struct manager_config *cfg = rt->cfg;
    if (!cfg->prefix[0] || !cfg->bridge[0]) {
        snprintf(err, errlen, "container runtime needs a name prefix and a bridge name");
        return -1;
    }
    struct container_runtime *cr = calloc(1, sizeof(*cr));
    struct names names = {.v = calloc(CONTAINER_LEFTOVERS_MAX, CGROUP_PATH_MAX)};
    if (!cr || !names.v) {
        snprintf(err, errlen, "out of memory");
        free(cr);
        free(names.v);
        return -1;
    }
    cr->magic = CONTAINER_RUNTIME_MAGIC;
    cr->prefix_len = cfg->subnet.prefix_len;
    int created = 0;
    if (subnet_host(&cfg->subnet, 1, &cr->bridge_addr, err, errlen) < 0)
        goto fail;
    if (!(cr->nd = netdev_open(err, errlen)))
        goto fail;
    if (cgroup_tree_init(&cr->cg, CGROUP_ROOT, cfg->prefix, err, errlen) < 0)
        goto fail;
    remove_leftover_links(cr, rt, cfg->prefix, &names);
    remove_leftover_cgroups(cr, rt, &names);
    if (netdev_bridge_ensure(cr->nd, cfg->bridge, cr->bridge_addr, cr->prefix_len, &created,
                             &cr->bridge_ifindex, err, errlen) < 0) {
        char ignored[256];
        cgroup_tree_remove(&cr->cg, ignored, sizeof(ignored));
        goto fail;
    }
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &cr->bridge_addr, a, sizeof(a));
    log_info("container: %s bridge %s with %s/%d; cgroup v%d under %s",
             created ? "created" : "adopted", cfg->bridge, a, cr->prefix_len, cr->cg.version,
             cr->cg.parent[0]);
    free(names.v);
    rt->priv = cr;
    return 0;
fail:
    netdev_free(cr->nd);
    free(cr);
    free(names.v);
    return -1;
}

static void container_shutdown(struct runtime *rt)
{
    if (!rt->priv)
        return;
    struct container_runtime *cr = runtime_priv(rt);
    char err[256];
    int rc = netdev_link_del(cr->nd, rt->cfg->bridge, err, sizeof(err));
    if (rc < 0)
        log_warn("container: %s", err);
    else if (rc == 0)
        log_info("container: removed bridge %s", rt->cfg->bridge);
    if (cgroup_tree_remove(&cr->cg, err, sizeof(err)) < 0)
        log_warn("container: %s", err);
    netdev_free(cr->nd);
    cr->magic = 0;
    free(cr);
    rt->priv = NULL;
}

static void container_detach_instance(struct runtime *rt, struct instance *inst)
{
    (void)rt;
    free(inst->rt);
    inst->rt = NULL;
}

static void container_detach(struct runtime *rt)
{
    if (!rt->priv)
        return;
    struct container_runtime *cr = runtime_priv(rt);
    netdev_free(cr->nd);
    cr->magic = 0;
    free(cr);
    rt->priv = NULL;
}

const struct runtime_ops runtime_container_ops = {
    .name = "container",
    .init = container_init,
    .spawn = container_spawn,
    .adopt = container_adopt,
    .stop = container_stop,
    .release = container_release,
    .shutdown = container_shutdown,
    .detach_instance = container_detach_instance,
    .detach = container_detach,
    .own_network = 1,
};
