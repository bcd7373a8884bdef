/* rtnetlink through libnl-route-3 for the container runtime: the bridge,
 * the veth pairs, and an instance's lo, eth0 address and default route.
 * Every call is one synchronous request on the control path (spawn,
 * release, init, shutdown); nothing here runs per request. */
#include "netdev.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

struct netdev {
    struct nl_sock *sk;
};

struct netdev *netdev_open(char *err, size_t errlen)
{
    struct netdev *nd = calloc(1, sizeof(*nd));
    if (!nd) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    nd->sk = nl_socket_alloc();
    if (!nd->sk) {
        snprintf(err, errlen, "netlink socket: out of memory");
        free(nd);
        return NULL;
    }
    int rc = nl_connect(nd->sk, NETLINK_ROUTE);
    if (rc < 0) {
        snprintf(err, errlen, "netlink connect: %s", nl_geterror(rc));
        nl_socket_free(nd->sk);
        free(nd);
        return NULL;
    }
    return nd;
}

int netdev_socket_bound(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -1;
    struct sockaddr_nl local = {.nl_family = AF_NETLINK}; /* nl_pid 0: the kernel picks */
    if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

struct netdev *netdev_open_fd(int fd, char *err, size_t errlen)
{
    struct netdev *nd = calloc(1, sizeof(*nd));
    if (!nd || !(nd->sk = nl_socket_alloc())) {
        snprintf(err, errlen, "netlink socket: out of memory");
        free(nd);
        close(fd);
        return NULL;
    }
    int rc = nl_socket_set_fd(nd->sk, NETLINK_ROUTE, fd);
    if (rc < 0) {
        snprintf(err, errlen, "netlink socket from fd %d: %s", fd, nl_geterror(rc));
        nl_socket_free(nd->sk);
        free(nd);
        close(fd);
        return NULL;
    }
    return nd;
}

void netdev_free(struct netdev *nd)
{
    if (!nd)
        return;
    nl_socket_free(nd->sk); /* closes it too */
    free(nd);
}

static struct nl_addr *inet_addr_build(struct in_addr a, int prefix_len)
{
    struct nl_addr *na = nl_addr_build(AF_INET, &a, sizeof(a));
    if (na)
        nl_addr_set_prefixlen(na, prefix_len);
    return na;
}

int netdev_link_index(struct netdev *nd, const char *name, char *err, size_t errlen)
{
    struct rtnl_link *link = NULL;
    int rc = rtnl_link_get_kernel(nd->sk, 0, name, &link);
    if (rc < 0) {
        snprintf(err, errlen, "link %s: %s", name, nl_geterror(rc));
        return -1;
    }
    int ifindex = rtnl_link_get_ifindex(link);
    rtnl_link_put(link);
    return ifindex;
}

int netdev_link_up(struct netdev *nd, int ifindex, char *err, size_t errlen)
{
    struct rtnl_link *orig = rtnl_link_alloc(), *change = rtnl_link_alloc();
    int rc = -NLE_NOMEM;
    if (orig && change) {
        rtnl_link_set_ifindex(orig, ifindex);
        rtnl_link_set_flags(change, IFF_UP);
        rc = rtnl_link_change(nd->sk, orig, change, 0);
    }
    rtnl_link_put(orig);
    rtnl_link_put(change);
    if (rc < 0) {
        snprintf(err, errlen, "link %d up: %s", ifindex, nl_geterror(rc));
        return -1;
    }
    return 0;
}

int netdev_addr_add(struct netdev *nd, int ifindex, struct in_addr addr, int prefix_len, char *err,
                    size_t errlen)
{
    struct rtnl_addr *ra = rtnl_addr_alloc();
    struct nl_addr *local = inet_addr_build(addr, prefix_len);
    int rc = -NLE_NOMEM;
    if (ra && local) {
        rtnl_addr_set_ifindex(ra, ifindex);
        rtnl_addr_set_family(ra, AF_INET);
        rc = rtnl_addr_set_local(ra, local);
        if (rc == 0)
            rc = rtnl_addr_add(nd->sk, ra, NLM_F_EXCL);
    }
    nl_addr_put(local);
    rtnl_addr_put(ra);
    if (rc < 0) {
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &addr, a, sizeof(a));
        snprintf(err, errlen, "address %s/%d on link %d: %s", a, prefix_len, ifindex,
                 nl_geterror(rc));
        return -1;
    }
    return 0;
}

int netdev_addr_has(struct netdev *nd, int ifindex, struct in_addr addr, int prefix_len, char *err,
                    size_t errlen)
{
    struct nl_cache *cache = NULL;
    int rc = rtnl_addr_alloc_cache(nd->sk, &cache);
    if (rc < 0) {
        snprintf(err, errlen, "cannot list addresses: %s", nl_geterror(rc));
        return -1;
    }
    int found = 0;
    for (struct nl_object *o = nl_cache_get_first(cache); o && !found; o = nl_cache_get_next(o)) {
        struct rtnl_addr *ra = (struct rtnl_addr *)o;
        struct nl_addr *local = rtnl_addr_get_local(ra);
        found = rtnl_addr_get_family(ra) == AF_INET && rtnl_addr_get_ifindex(ra) == ifindex &&
                local && nl_addr_get_len(local) == sizeof(addr) &&
                memcmp(nl_addr_get_binary_addr(local), &addr, sizeof(addr)) == 0 &&
                rtnl_addr_get_prefixlen(ra) == prefix_len;
    }
    nl_cache_free(cache);
    return found;
}

int netdev_addr_add_labelled(struct netdev *nd, int ifindex, struct in_addr addr, int prefix_len,
                             const char *label, char *err, size_t errlen)
{
    struct rtnl_addr *ra = rtnl_addr_alloc();
    struct nl_addr *local = inet_addr_build(addr, prefix_len);
    int rc = -NLE_NOMEM;
    if (ra && local) {
        rtnl_addr_set_ifindex(ra, ifindex);
        rtnl_addr_set_family(ra, AF_INET);
        rtnl_addr_set_label(ra, label);
        rc = rtnl_addr_set_local(ra, local);
        if (rc == 0)
            rc = rtnl_addr_add(nd->sk, ra, NLM_F_EXCL);
    }
    nl_addr_put(local);
    rtnl_addr_put(ra);
    if (rc < 0) {
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &addr, a, sizeof(a));
        snprintf(err, errlen, "address %s/%d (label %s) on link %d: %s", a, prefix_len, label,
                 ifindex, nl_geterror(rc));
        return -1;
    }
    return 0;
}

int netdev_addr_del_labelled(struct netdev *nd, int ifindex, const char *label,
                             void (*cb)(void *ctx, const char *addr), void *ctx, char *err,
                             size_t errlen)
{
    struct nl_cache *cache = NULL;
    int rc = rtnl_addr_alloc_cache(nd->sk, &cache);
    if (rc < 0) {
        snprintf(err, errlen, "cannot list addresses: %s", nl_geterror(rc));
        return -1;
    }
    int removed = 0, result = 0;
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_addr *ra = (struct rtnl_addr *)o;
        const char *l = rtnl_addr_get_label(ra);
        if (rtnl_addr_get_family(ra) != AF_INET || rtnl_addr_get_ifindex(ra) != ifindex || !l ||
            strcmp(l, label) != 0)
            continue;
        char text[64] = "?";
        if (rtnl_addr_get_local(ra))
            nl_addr2str(rtnl_addr_get_local(ra), text, sizeof(text));
        rc = rtnl_addr_delete(nd->sk, ra, 0);
        if (rc < 0 && rc != -NLE_NOADDR && rc != -NLE_OBJ_NOTFOUND) {
            if (result == 0)
                snprintf(err, errlen, "cannot delete address %s (label %s): %s", text, label,
                         nl_geterror(rc));
            result = -1;
            continue;
        }
        removed++;
        if (cb)
            cb(ctx, text);
    }
    nl_cache_free(cache);
    return result < 0 ? -1 : removed;
}

int netdev_route_add_default(struct netdev *nd, int ifindex, struct in_addr gateway, char *err,
                             size_t errlen)
{
    struct in_addr any = {0};
    struct rtnl_route *route = rtnl_route_alloc();
    struct nl_addr *dst = inet_addr_build(any, 0);
    struct nl_addr *gw = inet_addr_build(gateway, 32);
    struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
    int rc = -NLE_NOMEM;
    if (route && dst && gw && nh) {
        rtnl_route_set_family(route, AF_INET);
        rtnl_route_set_table(route, RT_TABLE_MAIN);
        rtnl_route_set_protocol(route, RTPROT_STATIC);
        rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
        rc = rtnl_route_set_dst(route, dst);
        if (rc == 0) {
            rtnl_route_nh_set_ifindex(nh, ifindex);
            rtnl_route_nh_set_gateway(nh, gw);
            rtnl_route_add_nexthop(route, nh); /* the route owns it now */
            nh = NULL;
            rc = rtnl_route_add(nd->sk, route, NLM_F_EXCL);
        }
    }
    if (nh)
        rtnl_route_nh_free(nh);
    nl_addr_put(gw);
    nl_addr_put(dst);
    rtnl_route_put(route);
    if (rc < 0) {
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &gateway, a, sizeof(a));
        snprintf(err, errlen, "default route via %s: %s", a, nl_geterror(rc));
        return -1;
    }
    return 0;
}

/* A locally administered unicast MAC (bit 1 of the first byte set, bit 0
 * clear), as the kernel's eth_random_addr makes. */
static struct nl_addr *random_mac(void)
{
    unsigned char mac[6];
    if (getrandom(mac, sizeof(mac), 0) != (ssize_t)sizeof(mac))
        return NULL;
    mac[0] = (unsigned char)((mac[0] & 0xfe) | 0x02);
    return nl_addr_build(AF_LLC, mac, sizeof(mac));
}

static int bridge_create(struct netdev *nd, const char *name, char *err, size_t errlen)
{
    struct rtnl_link *link = rtnl_link_alloc();
    struct nl_addr *mac = random_mac();
    int rc = -NLE_NOMEM;
    if (link && mac) {
        rtnl_link_set_name(link, name);
        rc = rtnl_link_set_type(link, "bridge");
        if (rc == 0) {
            /* An explicit MAC (addr_assign_type SET) keeps the bridge from
             * taking the lowest port MAC and changing it under the
             * instances' ARP caches whenever an instance comes or goes. */
            rtnl_link_set_addr(link, mac);
            rtnl_link_set_flags(link, IFF_UP);
            rc = rtnl_link_add(nd->sk, link, NLM_F_CREATE | NLM_F_EXCL);
        }
    }
    nl_addr_put(mac);
    rtnl_link_put(link);
    if (rc == -NLE_EXIST)
        return 1;
    if (rc < 0) {
        snprintf(err, errlen, "create bridge %s: %s", name, nl_geterror(rc));
        return -1;
    }
    return 0;
}

int netdev_bridge_ensure(struct netdev *nd, const char *name, struct in_addr addr, int prefix_len,
                         int *created, int *ifindex, char *err, size_t errlen)
{
    *created = 0;
    int rc = bridge_create(nd, name, err, errlen);
    if (rc < 0)
        return -1;
    *created = rc == 0;
    struct rtnl_link *link = NULL;
    rc = rtnl_link_get_kernel(nd->sk, 0, name, &link);
    if (rc < 0) {
        snprintf(err, errlen, "bridge %s: %s", name, nl_geterror(rc));
        goto fail;
    }
    const char *kind = rtnl_link_get_type(link);
    char type[32];
    snprintf(type, sizeof(type), "%s", kind ? kind : "no kind");
    *ifindex = rtnl_link_get_ifindex(link);
    unsigned flags = rtnl_link_get_flags(link);
    rtnl_link_put(link);
    if (strcmp(type, "bridge") != 0) {
        snprintf(err, errlen, "link %s exists and is not a bridge (%s)", name, type);
        goto fail;
    }
    /* EEXIST: an adopted bridge that already has the address. */
    struct rtnl_addr *ra = rtnl_addr_alloc();
    struct nl_addr *local = inet_addr_build(addr, prefix_len);
    rc = -NLE_NOMEM;
    if (ra && local) {
        rtnl_addr_set_ifindex(ra, *ifindex);
        rtnl_addr_set_family(ra, AF_INET);
        rc = rtnl_addr_set_local(ra, local);
        if (rc == 0)
            rc = rtnl_addr_add(nd->sk, ra, NLM_F_EXCL);
    }
    nl_addr_put(local);
    rtnl_addr_put(ra);
    if (rc < 0 && rc != -NLE_EXIST) {
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &addr, a, sizeof(a));
        snprintf(err, errlen, "address %s/%d on bridge %s: %s", a, prefix_len, name,
                 nl_geterror(rc));
        goto fail;
    }
    if (!(flags & IFF_UP) && netdev_link_up(nd, *ifindex, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    if (*created) {
        char ignored[64];
        netdev_link_del(nd, name, ignored, sizeof(ignored));
        *created = 0;
    }
    return -1;
}

int netdev_veth_add(struct netdev *nd, const char *host_name, int bridge_ifindex,
                    const char *peer_name, pid_t peer_pid, struct in_addr peer_ip, char *err,
                    size_t errlen)
{
    struct rtnl_link *link = rtnl_link_veth_alloc();
    if (!link) {
        snprintf(err, errlen, "veth %s: out of memory", host_name);
        return -1;
    }
    struct rtnl_link *peer = rtnl_link_veth_get_peer(link);
    /* The peer's MAC follows from its address (02:70 and the four address
     * bytes): an instance started again in a slot gets the MAC it had, so
     * neighbour entries the host kept for that address stay right instead of
     * black-holing the new instance for seconds until they expire. */
    unsigned char mac[6] = {0x02, 0x70};
    memcpy(mac + 2, &peer_ip.s_addr, 4);
    struct nl_addr *lladdr = nl_addr_build(AF_LLC, mac, sizeof(mac));
    if (lladdr) {
        rtnl_link_set_addr(peer, lladdr);
        nl_addr_put(lladdr);
    }
    rtnl_link_set_name(link, host_name);
    rtnl_link_set_master(link, bridge_ifindex);
    rtnl_link_set_flags(link, IFF_UP);
    /* The peer is born in the instance's namespace under its final name:
     * no move and no rename afterwards. It cannot be born up: the kernel
     * opens it before the pair is joined (veth_open: ENOTCONN). */
    rtnl_link_set_name(peer, peer_name);
    rtnl_link_set_ns_pid(peer, peer_pid);
    rtnl_link_put(peer);
    int rc = rtnl_link_add(nd->sk, link, NLM_F_CREATE | NLM_F_EXCL);
    rtnl_link_put(link);
    if (rc < 0) {
        snprintf(err, errlen, "veth %s (peer %s in the netns of pid %d): %s", host_name, peer_name,
                 (int)peer_pid, nl_geterror(rc));
        return -1;
    }
    return 0;
}

int netdev_link_del(struct netdev *nd, const char *name, char *err, size_t errlen)
{
    struct rtnl_link *link = rtnl_link_alloc();
    if (!link) {
        snprintf(err, errlen, "delete link %s: out of memory", name);
        return -1;
    }
    rtnl_link_set_name(link, name);
    int rc = rtnl_link_delete(nd->sk, link);
    rtnl_link_put(link);
    if (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV)
        return 1;
    if (rc < 0) {
        snprintf(err, errlen, "delete link %s: %s", name, nl_geterror(rc));
        return -1;
    }
    return 0;
}

int netdev_link_list(struct netdev *nd, const char *prefix, void (*cb)(void *ctx, const char *name),
                     void *ctx, char *err, size_t errlen)
{
    struct nl_cache *cache = NULL;
    int rc = rtnl_link_alloc_cache(nd->sk, AF_UNSPEC, &cache);
    if (rc < 0) {
        snprintf(err, errlen, "list links: %s", nl_geterror(rc));
        return -1;
    }
    size_t plen = strlen(prefix);
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        const char *name = rtnl_link_get_name((struct rtnl_link *)o);
        if (name && strncmp(name, prefix, plen) == 0)
            cb(ctx, name);
    }
    nl_cache_free(cache);
    return 0;
}
