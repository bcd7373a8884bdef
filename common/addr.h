/* Socket addresses and CIDR networks: parsing "ADDR:PORT" (IPv4, "[v6]:port",
 * "*:port", "localhost:port") and "A.B.C.D/len" or "v6/len", formatting them
 * back, matching an address against a network, and opening listening and
 * connecting sockets. Errors fill the caller's err buffer; nothing logs. */
#ifndef PP_ADDR_H
#define PP_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

struct addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

/* "127.0.0.1:3128", "[::1]:3128", "*:3128" or ":3128" (IPv4 any),
 * "localhost:3128" (127.0.0.1). The port is required, 1..65535, unless
 * default_port >= 0 in which case a missing port takes it (then "[::1]" or a
 * bare IPv4 address is fine too). No DNS: names other than localhost fail. */
int addr_parse(const char *s, int default_port, struct addr *a, char *err, size_t errlen);
/* "1.2.3.4:80" or "[::1]:80". out needs ADDR_STRLEN bytes. */
#define ADDR_STRLEN 64
void addr_format(const struct addr *a, char *out, size_t outlen);
/* The address without the port: "1.2.3.4" or "::1". */
void addr_format_host(const struct addr *a, char *out, size_t outlen);
int addr_port(const struct addr *a);
void addr_set_port(struct addr *a, int port);
int addr_from_sockaddr(struct addr *a, const struct sockaddr *sa, socklen_t len);
int addr_equal(const struct addr *a, const struct addr *b); /* address and port */

struct cidr {
    int family;        /* AF_INET or AF_INET6 */
    uint8_t bytes[16]; /* network address, host bits zero */
    int prefix_len;
};
/* "10.0.0.0/8", "::1/128"; a bare address means a host (/32 or /128).
 * Host bits set in the address are an error ("10.0.0.1/8"), as iproute2. */
int cidr_parse(const char *s, struct cidr *c, char *err, size_t errlen);
void cidr_format(const struct cidr *c, char *out, size_t outlen);
/* Whether the address (port ignored) lies in the network. IPv4-mapped IPv6
 * addresses (::ffff:a.b.c.d) match IPv4 networks. */
int cidr_contains(const struct cidr *c, const struct sockaddr *sa);

/* A non-blocking, close-on-exec TCP listening socket with SO_REUSEADDR and,
 * when reuseport is set, SO_REUSEPORT (one per thread, the kernel spreads
 * connections). IPv6 sockets are IPV6_V6ONLY, as nginx's. backlog <= 0 means
 * SOMAXCONN. Returns the fd or -1. */
int addr_listen_tcp(const struct addr *a, int backlog, int reuseport, char *err, size_t errlen);
/* A non-blocking, close-on-exec TCP socket with TCP_NODELAY whose connect(2)
 * to a has been started (EINPROGRESS): wait for writability, then read
 * SO_ERROR. Returns the fd or -1 when the connect failed at once. */
int addr_connect_tcp(const struct addr *a, char *err, size_t errlen);

#endif
