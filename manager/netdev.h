/* Links, addresses and routes for container instances over rtnetlink
 * (libnl-route-3): the bridge the manager owns, one veth pair per instance
 * (host end on the bridge, peer in the instance's network namespace), and
 * inside that namespace lo, eth0's address and the default route. A struct
 * netdev is a netlink socket bound to one network namespace. Also the VIP
 * the balancer mode puts on the manager's own lo. Nothing here logs; errors
 * fill the caller's buffer. */
#ifndef PP_NETDEV_H
#define PP_NETDEV_H

#include <stddef.h>
#include <netinet/in.h>
#include <sys/types.h>

struct netdev;

/* A socket in the caller's network namespace. */
struct netdev *netdev_open(char *err, size_t errlen);
/* A bound NETLINK_ROUTE socket (close-on-exec) in the caller's network
 * namespace, or -1 with errno: plain syscalls, so a freshly cloned child
 * can make one in its new namespace and pass it to the manager, which then
 * configures that namespace without ever entering it (setns). */
int netdev_socket_bound(void);
/* Wraps such a socket; takes the fd (closed on error too). */
struct netdev *netdev_open_fd(int fd, char *err, size_t errlen);
void netdev_free(struct netdev *nd);

/* The bridge name with address addr/prefix_len, up. Creates it (with a
 * fixed MAC, so it does not change as ports come and go) or adopts an
 * existing bridge of that name, adding the address if it lacks it. Sets
 * *created and *ifindex. */
int netdev_bridge_ensure(struct netdev *nd, const char *name, struct in_addr addr, int prefix_len,
                         int *created, int *ifindex, char *err, size_t errlen);
/* A veth pair: host_name in this namespace, enslaved to bridge_ifindex and
 * up; peer_name in the network namespace of peer_pid, down (bring it up
 * from there). One request. */
int netdev_veth_add(struct netdev *nd, const char *host_name, int bridge_ifindex,
                    const char *peer_name, pid_t peer_pid, struct in_addr peer_ip, char *err,
                    size_t errlen);
/* The interface index of name, or -1. */
int netdev_link_index(struct netdev *nd, const char *name, char *err, size_t errlen);
int netdev_link_up(struct netdev *nd, int ifindex, char *err, size_t errlen);
int netdev_addr_add(struct netdev *nd, int ifindex, struct in_addr addr, int prefix_len, char *err,
                    size_t errlen);
/* Whether addr/prefix_len is on ifindex: 1, 0, or -1 with err. Only reads. */
int netdev_addr_has(struct netdev *nd, int ifindex, struct in_addr addr, int prefix_len, char *err,
                    size_t errlen);
/* addr/prefix_len on ifindex with an address label ("lo:ppb"; it must start
 * with the link's name), so its owner can find it again after a crash. */
int netdev_addr_add_labelled(struct netdev *nd, int ifindex, struct in_addr addr, int prefix_len,
                             const char *label, char *err, size_t errlen);
/* Deletes every IPv4 address on ifindex labelled label, calling cb (may be
 * NULL) with each one's text: how many, or -1 with err. */
int netdev_addr_del_labelled(struct netdev *nd, int ifindex, const char *label,
                             void (*cb)(void *ctx, const char *addr), void *ctx, char *err,
                             size_t errlen);
int netdev_route_add_default(struct netdev *nd, int ifindex, struct in_addr gateway, char *err,
                             size_t errlen);
/* Deletes link name: 0 when deleted, 1 when there was none, -1 on error. */
int netdev_link_del(struct netdev *nd, const char *name, char *err, size_t errlen);
/* Calls cb for each link whose name starts with prefix; cb may not delete
 * (collect the names, then act). */
int netdev_link_list(struct netdev *nd, const char *prefix, void (*cb)(void *ctx, const char *name),
                     void *ctx, char *err, size_t errlen);

#endif
