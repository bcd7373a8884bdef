/* Socket addresses and CIDR networks: the one place that turns "ADDR:PORT"
 * and "NET/LEN" from config and command lines into sockaddrs and back,
 * matches addresses against networks (ACLs, client blocks), and opens the
 * listening and connecting TCP sockets every program uses. Never resolves
 * names and never logs: errors fill the caller's err buffer. */
#include "addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Longest text we accept for an address: "[" + 45 (INET6_ADDRSTRLEN - 1) +
 * "%" + IF_NAMESIZE + "]:65535", rounded up. */
#define ADDR_TEXT_MAX 80

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void set_v4(struct addr *a, const struct in_addr *ip, int port)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
    memset(a, 0, sizeof(*a));
    sin->sin_family = AF_INET;
    sin->sin_addr = *ip;
    sin->sin_port = htons((uint16_t)port);
    a->len = sizeof(*sin);
}

static void set_v6(struct addr *a, const struct in6_addr *ip, uint32_t scope, int port)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
    memset(a, 0, sizeof(*a));
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = *ip;
    sin6->sin6_scope_id = scope;
    sin6->sin6_port = htons((uint16_t)port);
    a->len = sizeof(*sin6);
}

/* "1".."65535", digits only. */
static int parse_port(const char *s, int *port)
{
    long v = 0;
    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (!isdigit((unsigned char)*s))
            return -1;
        v = v * 10 + (*s - '0');
        if (v > 65535)
            return -1;
    }
    if (v == 0)
        return -1;
    *port = (int)v;
    return 0;
}

/* An IPv6 literal with an optional zone ("fe80::1%eth0" or "%2"). */
static int parse_v6(const char *s, struct in6_addr *ip, uint32_t *scope)
{
    char buf[ADDR_TEXT_MAX];
    size_t n = strlen(s);
    if (n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n + 1);
    *scope = 0;
    char *zone = strchr(buf, '%');
    if (zone != NULL) {
        *zone++ = '\0';
        if (*zone == '\0')
            return -1;
        char *end;
        unsigned long idx = strtoul(zone, &end, 10);
        if (isdigit((unsigned char)*zone) && *end == '\0')
            *scope = (uint32_t)idx;
        else if ((*scope = if_nametoindex(zone)) == 0)
            return -1;
    }
    return inet_pton(AF_INET6, buf, ip) == 1 ? 0 : -1;
}

int addr_parse(const char *s, int default_port, struct addr *a, char *err, size_t errlen)
{
    char buf[ADDR_TEXT_MAX];
    const char *host, *port_text = NULL;

    if (s == NULL || s[0] == '\0') {
        snprintf(err, errlen, "empty address");
        return -1;
    }
    size_t n = strlen(s);
    if (n >= sizeof(buf)) {
        snprintf(err, errlen, "address \"%.64s...\" too long", s);
        return -1;
    }
    memcpy(buf, s, n + 1);

    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (close == NULL) {
            snprintf(err, errlen, "address \"%s\": missing ']'", s);
            return -1;
        }
        *close = '\0';
        host = buf + 1;
        if (close[1] == ':')
            port_text = close + 2;
        else if (close[1] != '\0') {
            snprintf(err, errlen, "address \"%s\": expected ':PORT' after ']'", s);
            return -1;
        }
    } else {
        char *colon = strchr(buf, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL) {
            snprintf(err, errlen, "address \"%s\": IPv6 addresses need brackets, as [::1]:3128", s);
            return -1;
        }
        if (colon != NULL) {
            *colon = '\0';
            port_text = colon + 1;
        }
        host = buf;
    }

    int port;
    if (port_text != NULL) {
        if (parse_port(port_text, &port) < 0) {
            snprintf(err, errlen, "address \"%s\": port must be a number from 1 to 65535", s);
            return -1;
        }
    } else if (default_port >= 0 && default_port <= 65535) {
        port = default_port;
    } else {
        snprintf(err, errlen, "address \"%s\": missing port (ADDR:PORT)", s);
        return -1;
    }

    struct in_addr ip4;
    struct in6_addr ip6;
    uint32_t scope;
    if (buf[0] == '[') {
        if (parse_v6(host, &ip6, &scope) < 0) {
            snprintf(err, errlen, "address \"%s\": invalid IPv6 address", s);
            return -1;
        }
        set_v6(a, &ip6, scope, port);
        return 0;
    }
    if (host[0] == '\0' || strcmp(host, "*") == 0) {
        ip4.s_addr = htonl(INADDR_ANY);
    } else if (strcasecmp(host, "localhost") == 0) {
        ip4.s_addr = htonl(INADDR_LOOPBACK);
    } else if (inet_pton(AF_INET, host, &ip4) != 1) {
        snprintf(err, errlen,
                 "address \"%s\": not an IPv4 address (names other than "
                 "localhost are not resolved)",
                 s);
        return -1;
    }
    set_v4(a, &ip4, port);
    return 0;
}

void addr_format_host(const struct addr *a, char *out, size_t outlen)
{
    char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    if (outlen == 0)
        return;
    if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
        inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
    } else if (a->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
        if (sin6->sin6_scope_id != 0) {
            size_t n = strlen(buf);
            snprintf(buf + n, sizeof(buf) - n, "%%%u", (unsigned)sin6->sin6_scope_id);
        }
    } else {
        snprintf(buf, sizeof(buf), "(family %d)", a->ss.ss_family);
    }
    snprintf(out, outlen, "%s", buf);
}

void addr_format(const struct addr *a, char *out, size_t outlen)
{
    char host[ADDR_STRLEN];
    addr_format_host(a, host, sizeof(host));
    if (a->ss.ss_family == AF_INET6)
        snprintf(out, outlen, "[%s]:%d", host, addr_port(a));
    else if (a->ss.ss_family == AF_INET)
        snprintf(out, outlen, "%s:%d", host, addr_port(a));
    else
        snprintf(out, outlen, "%s", host);
}

int addr_port(const struct addr *a)
{
    if (a->ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    if (a->ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    return -1;
}

void addr_set_port(struct addr *a, int port)
{
    if (port < 0 || port > 65535)
        return;
    if (a->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
    else if (a->ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
}

int addr_from_sockaddr(struct addr *a, const struct sockaddr *sa, socklen_t len)
{
    if (sa == NULL)
        return -1;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        memset(a, 0, sizeof(*a));
        memcpy(&a->ss, sa, sizeof(struct sockaddr_in));
        a->len = sizeof(struct sockaddr_in);
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        memset(a, 0, sizeof(*a));
        memcpy(&a->ss, sa, sizeof(struct sockaddr_in6));
        a->len = sizeof(struct sockaddr_in6);
        return 0;
    }
    return -1;
}

int addr_equal(const struct addr *a, const struct addr *b)
{
    if (a->ss.ss_family != b->ss.ss_family)
        return 0;
    if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)&a->ss;
        const struct sockaddr_in *y = (const struct sockaddr_in *)&b->ss;
        return x->sin_addr.s_addr == y->sin_addr.s_addr && x->sin_port == y->sin_port;
    }
    if (a->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->ss;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)&b->ss;
        return memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0 &&
               x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id;
    }
    return 0;
}

/* Whether any bit after the first prefix_len bits is set. */
static int host_bits_set(const uint8_t *bytes, int nbytes, int prefix_len)
{
    for (int i = 0; i < nbytes; i++) {
        int keep = prefix_len - 8 * i; /* network bits in this byte */
        uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
        if (bytes[i] & (uint8_t)~mask)
            return 1;
    }
    return 0;
}

static int prefix_equal(const uint8_t *x, const uint8_t *y, int prefix_len)
{
    int full = prefix_len / 8, rest = prefix_len % 8;
    if (memcmp(x, y, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (x[full] & mask) == (y[full] & mask);
}

int cidr_parse(const char *s, struct cidr *c, char *err, size_t errlen)
{
    char buf[ADDR_TEXT_MAX];
    if (s == NULL || s[0] == '\0') {
        snprintf(err, errlen, "empty network");
        return -1;
    }
    size_t n = strlen(s);
    if (n >= sizeof(buf)) {
        snprintf(err, errlen, "network \"%.64s...\" too long", s);
        return -1;
    }
    memcpy(buf, s, n + 1);

    char *slash = strchr(buf, '/');
    if (slash != NULL)
        *slash = '\0';

    memset(c, 0, sizeof(*c));
    int max_len;
    if (inet_pton(AF_INET, buf, c->bytes) == 1) {
        c->family = AF_INET;
        max_len = 32;
    } else if (inet_pton(AF_INET6, buf, c->bytes) == 1) {
        c->family = AF_INET6;
        max_len = 128;
    } else {
        snprintf(err, errlen, "network \"%s\": not an IPv4 or IPv6 address", s);
        return -1;
    }

    c->prefix_len = max_len;
    if (slash != NULL) {
        const char *p = slash + 1;
        int len = 0;
        if (*p == '\0') {
            snprintf(err, errlen, "network \"%s\": missing prefix length after '/'", s);
            return -1;
        }
        for (; *p != '\0'; p++) {
            if (!isdigit((unsigned char)*p) || (len = len * 10 + (*p - '0')) > max_len) {
                snprintf(err, errlen, "network \"%s\": prefix length must be 0 to %d", s, max_len);
                return -1;
            }
        }
        c->prefix_len = len;
    }
    if (host_bits_set(c->bytes, max_len / 8, c->prefix_len)) {
        char net[INET6_ADDRSTRLEN];
        struct cidr fixed = *c;
        for (int i = 0; i < max_len / 8; i++) {
            int keep = c->prefix_len - 8 * i;
            fixed.bytes[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
        }
        inet_ntop(c->family, fixed.bytes, net, sizeof(net));
        snprintf(err, errlen, "network \"%s\": host bits set (did you mean %s/%d?)", s, net,
                 c->prefix_len);
        return -1;
    }
    return 0;
}

void cidr_format(const struct cidr *c, char *out, size_t outlen)
{
    char net[INET6_ADDRSTRLEN];
    if (c->family != AF_INET && c->family != AF_INET6) {
        snprintf(out, outlen, "(family %d)", c->family);
        return;
    }
    inet_ntop(c->family, c->bytes, net, sizeof(net));
    snprintf(out, outlen, "%s/%d", net, c->prefix_len);
}

int cidr_contains(const struct cidr *c, const struct sockaddr *sa)
{
    const uint8_t *ip;
    int family;

    if (sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET) {
        ip = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
        family = AF_INET;
    } else if (sa->sa_family == AF_INET6) {
        ip = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
        family = AF_INET6;
        if (memcmp(ip, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0) {
            ip += sizeof(v4mapped_prefix); /* a dual-stack socket's IPv4 client */
            family = AF_INET;
        }
    } else {
        return 0;
    }

    const uint8_t *net = c->bytes;
    int prefix_len = c->prefix_len;
    if (c->family == AF_INET6 && prefix_len >= 96 &&
        memcmp(net, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0) {
        net += sizeof(v4mapped_prefix); /* "::ffff:10.0.0.0/104" is an IPv4 network */
        prefix_len -= 96;
        if (family != AF_INET)
            return 0;
        return prefix_equal(ip, net, prefix_len);
    }
    if (c->family != family)
        return 0;
    return prefix_equal(ip, net, prefix_len);
}

int addr_listen_tcp(const struct addr *a, int backlog, int reuseport, char *err, size_t errlen)
{
    char text[ADDR_STRLEN];
    int one = 1;
    addr_format(a, text, sizeof(text));

    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket for %s: %s", text, strerror(errno));
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
        snprintf(err, errlen, "SO_REUSEADDR on %s: %s", text, strerror(errno));
        goto fail;
    }
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
        snprintf(err, errlen, "SO_REUSEPORT on %s: %s", text, strerror(errno));
        goto fail;
    }
    /* As nginx: "[::]:3128" is IPv6 only, whatever net.ipv6.bindv6only says,
     * so "*:3128" and "[::]:3128" can both be listened on. */
    if (a->ss.ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
        snprintf(err, errlen, "IPV6_V6ONLY on %s: %s", text, strerror(errno));
        goto fail;
    }
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
        snprintf(err, errlen, "bind %s: %s", text, strerror(errno));
        goto fail;
    }
    if (listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) {
        snprintf(err, errlen, "listen on %s: %s", text, strerror(errno));
        goto fail;
    }
    return fd;

fail:
    close(fd);
    return -1;
}

int addr_connect_tcp(const struct addr *a, char *err, size_t errlen)
{
    char text[ADDR_STRLEN];
    int one = 1;
    addr_format(a, text, sizeof(text));

    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket for %s: %s", text, strerror(errno));
        return -1;
    }
    /* Proxied traffic is request/response: Nagle would hold back the last
     * segment of a head waiting for an ACK. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
        snprintf(err, errlen, "TCP_NODELAY on %s: %s", text, strerror(errno));
        goto fail;
    }
    if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0 && errno != EINPROGRESS) {
        snprintf(err, errlen, "connect to %s: %s", text, strerror(errno));
        goto fail;
    }
    return fd;

fail:
    close(fd);
    return -1;
}
