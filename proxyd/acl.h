/* Access control, as Squid's http_access: which client networks may use the
 * proxy, which destinations are denied (this host's loopback, link-local and
 * unspecified addresses and the proxy's own ports always, as Squid's
 * to_localhost and to_linklocal, unless opened), which ports may be reached
 * (Squid's Safe_ports) and which CONNECT may tunnel to (SSL_ports, 443 only
 * by default). Decisions return a one-line reason for the 403 body and log. */
#ifndef PP_ACL_H
#define PP_ACL_H

#include <stddef.h>
#include <sys/socket.h>
#include "addr.h"

struct acl;

struct acl *acl_new(void); /* defaults: see acl_set_defaults */
void acl_free(struct acl *a);
/* Back to the defaults described below: the default client networks, no
 * denied destination besides the local ones, none opened, no own address
 * known, Safe_ports and SSL_ports. Allocates nothing. */
void acl_set_defaults(struct acl *a);

/* Client networks allowed when none is added: loopback (127.0.0.0/8, ::1),
 * RFC 1918 (10/8, 172.16/12, 192.168/16), benchmarking 198.18.0.0/15, IPv6
 * ULA fc00::/7 and link-local fe80::/10. Never an open proxy. The first
 * acl_allow_client replaces these defaults. */
int acl_allow_client(struct acl *a, const char *cidr, char *err, size_t errlen);
/* Denied destination: a host name ("example.com" exactly, ".example.com" the
 * domain and its subdomains, case-insensitive), a network ("10.1.0.0/16",
 * matched against literal addresses and resolved ones) or one address and
 * port ("127.0.0.1:9090", "[::1]:9090"). */
int acl_deny_dest(struct acl *a, const char *host_or_cidr, char *err, size_t errlen);
/* Local destinations, refused unless opened: 127.0.0.0/8, ::1, 0.0.0.0/8,
 * :: (both reach this host), 169.254.0.0/16 (every cloud's metadata
 * service), fe80::/10. acl_allow_dest opens a network (any port) within
 * them; acl_deny_dest still wins over it. */
int acl_allow_dest(struct acl *a, const char *cidr, char *err, size_t errlen);
/* Opens one operator-chosen origin (a reverse listener's): its address, or
 * the addresses the name resolves to now (getaddrinfo, blocking: start-up
 * only), on that port. A name that does not resolve opens nothing and is not
 * an error (its addresses may not be local). */
int acl_allow_origin(struct acl *a, const char *host, int port, char *err, size_t errlen);
/* One of the proxy's own listening or admin addresses: refused as a
 * destination whatever is opened (a request to itself is a loop, and the
 * admin endpoint is not its clients'). A wildcard address (0.0.0.0, ::)
 * stands for every address of this host's interfaces, read now. */
int acl_deny_self(struct acl *a, const struct sockaddr *listen, char *err, size_t errlen);

/* Ports plain requests may go to: "80", "1025-65535". The first call
 * replaces the default (Squid's Safe_ports: 80 21 443 70 210 1025-65535 280
 * 488 591 777). */
int acl_allow_port(struct acl *a, const char *port_or_range, char *err, size_t errlen);
/* Ports CONNECT may tunnel to; first call replaces the default (443). */
int acl_allow_connect_port(struct acl *a, const char *port_or_range, char *err, size_t errlen);

/* Each returns 1 when allowed; when 0, *reason is a static one-line reason. */
int acl_check_client(const struct acl *a, const struct sockaddr *client, const char **reason);
/* host: the destination as named in the request (name or literal); port. */
int acl_check_dest(const struct acl *a, const char *host, size_t hostlen, int port, int is_connect,
                   const char **reason);
/* The destination address actually connected to (resolved, or the original
 * destination of an intercepted connection), port included: the proxy's own
 * addresses, denied networks, then local addresses unless opened. */
int acl_check_dest_addr(const struct acl *a, const struct sockaddr *dest, const char **reason);

#endif
