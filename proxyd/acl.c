/* proxyd's access control, checked on every request before anything is
 * fetched: the client's network (never an open proxy), the destination's
 * port (Squid's Safe_ports, SSL_ports for CONNECT), and denied destinations
 * by name, domain or network (named and again once resolved), this host's
 * local addresses and the proxy's own ports among them. Built once from the
 * configuration, then read-only and shared by every worker thread. */
#include "acl.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 1035: a name is at most 253 characters in text form (255 on the wire). */
#define ACL_HOST_MAX 253

struct port_range {
    int lo, hi;
};

/* A list that starts as a compiled-in default and is replaced, not extended,
 * by the first explicit entry: a configuration says what it wants, whole. */
struct port_set {
    struct port_range *ranges;
    size_t n, cap;
    int explicit; /* 0: the default table applies */
};

struct deny_host {
    char name[ACL_HOST_MAX + 1]; /* lower case, no leading or trailing dot */
    size_t len;
    int domain; /* ".example.com": the name and every name under it */
};

/* Private and local networks only (198.18.0.0/15 is RFC 2544's benchmarking
 * range, the testbed's): whoever needs a public client network says so. */
static const char *const default_clients[] = {
    "127.0.0.0/8",    "::1/128",       "10.0.0.0/8", "172.16.0.0/12",
    "192.168.0.0/16", "198.18.0.0/15", "fc00::/7",   "fe80::/10",
};
#define NDEFAULT_CLIENTS (sizeof(default_clients) / sizeof(default_clients[0]))

/* Destinations that are this host, or its cloud's metadata service, whatever
 * their name: Squid's to_localhost (127.0.0.0/8, 0.0.0.0/8, ::1, ::) and
 * to_linklocal (169.254.0.0/16, fe80::/10), both denied by default since
 * Squid 6. A client must not reach what listens only on loopback (the
 * manager's API, an admin endpoint) through the proxy. */
static const char *const local_dests[] = {
    "127.0.0.0/8", "0.0.0.0/8", "::1/128", "::/128", "169.254.0.0/16", "fe80::/10",
};
#define NLOCAL_DESTS (sizeof(local_dests) / sizeof(local_dests[0]))

/* An opened destination: a network, on any port (port 0) or one. */
struct open_dest {
    struct cidr net;
    int port;
};

/* An address and port refused whatever is opened: one of the proxy's own,
 * or an ADDR:PORT --deny-dest names (the manager's API). family AF_INET or
 * AF_INET6, the address (an IPv4-mapped one as IPv4), the port, and the
 * reason a refusal gives. */
struct self_addr {
    int family;
    uint8_t bytes[16];
    int port;
    const char *reason;
};

struct acl {
    struct cidr default_cidrs[NDEFAULT_CLIENTS]; /* default_clients, parsed */
    struct cidr *clients;
    size_t nclients, clients_cap; /* nclients == 0: default_clients apply */
    struct deny_host *hosts;
    size_t nhosts, hosts_cap;
    struct cidr *nets;
    size_t nnets, nets_cap;
    struct cidr local_cidrs[NLOCAL_DESTS]; /* local_dests, parsed */
    struct open_dest *opened;
    size_t nopened, opened_cap;
    struct self_addr *self;
    size_t nself, self_cap;
    struct port_set ports;
    struct port_set connect_ports;
};

/* Squid's default Safe_ports: http, ftp, https, gopher, wais, unregistered
 * ports, http-mgmt, gss-http, filemaker, multiling http. */
static const struct port_range default_ports[] = {
    {80, 80},      {21, 21},   {443, 443}, {70, 70},   {210, 210},
    {1025, 65535}, {280, 280}, {488, 488}, {591, 591}, {777, 777},
};
/* Squid's default SSL_ports. */
static const struct port_range default_connect_ports[] = {{443, 443}};

static const char REASON_CLIENT[] = "client address is not in an allowed network";
static const char REASON_PORT[] = "destination port is not allowed";
static const char REASON_CONNECT_PORT[] = "CONNECT is not allowed to this port";
static const char REASON_HOST[] = "destination host is denied";
static const char REASON_NET[] = "destination network is denied";
static const char REASON_BAD_HOST[] = "destination host is missing or invalid";
static const char REASON_SELF[] = "destination is this proxy itself (its listening or admin port)";
static const char REASON_ADDR_PORT[] = "destination address and port are denied";
static const char REASON_LOCAL[] = "destination is a loopback, link-local or unspecified address "
                                   "(proxyd --allow-dest opens one)";

static int self_addr_of(const struct sockaddr *sa, struct self_addr *out);
static int add_self(struct acl *a, const struct sockaddr *sa, int port, const char *reason,
                    char *err, size_t errlen);

/* Room for element n (of size elem) in arr: returns arr or its reallocation,
 * or NULL with arr untouched. */
static void *reserve(void *arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *p = realloc(arr, ncap * elem);
    if (p != NULL)
        *cap = ncap;
    return p;
}

void acl_set_defaults(struct acl *a)
{
    a->nclients = 0;
    a->nhosts = 0;
    a->nnets = 0;
    a->nopened = 0;
    a->nself = 0;
    a->ports.n = 0;
    a->ports.explicit = 0;
    a->connect_ports.n = 0;
    a->connect_ports.explicit = 0;
}

struct acl *acl_new(void)
{
    struct acl *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    for (size_t i = 0; i < NDEFAULT_CLIENTS; i++) {
        char err[64];
        int rc = cidr_parse(default_clients[i], &a->default_cidrs[i], err, sizeof(err));
        assert(rc == 0); /* a constant table */
        (void)rc;
    }
    for (size_t i = 0; i < NLOCAL_DESTS; i++) {
        char err[64];
        int rc = cidr_parse(local_dests[i], &a->local_cidrs[i], err, sizeof(err));
        assert(rc == 0); /* a constant table */
        (void)rc;
    }
    acl_set_defaults(a);
    return a;
}

void acl_free(struct acl *a)
{
    if (a == NULL)
        return;
    free(a->clients);
    free(a->hosts);
    free(a->nets);
    free(a->opened);
    free(a->self);
    free(a->ports.ranges);
    free(a->connect_ports.ranges);
    free(a);
}

int acl_allow_client(struct acl *a, const char *cidr, char *err, size_t errlen)
{
    struct cidr c;
    if (cidr_parse(cidr, &c, err, errlen) < 0)
        return -1;
    struct cidr *p = reserve(a->clients, &a->clients_cap, a->nclients, sizeof(*p));
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    a->clients = p;
    a->clients[a->nclients++] = c;
    return 0;
}

/* A host name as DNS spells it: letters, digits, '-', '_' (seen in the
 * wild) and dots between non-empty labels. */
static int valid_host_name(const char *s, size_t len)
{
    if (len == 0 || len > ACL_HOST_MAX || s[0] == '.' || s[len - 1] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.' && i + 1 < len && s[i + 1] == '.')
            return 0;
        if (!isalnum(c) && c != '-' && c != '_' && c != '.')
            return 0;
    }
    return 1;
}

int acl_deny_dest(struct acl *a, const char *host_or_cidr, char *err, size_t errlen)
{
    struct cidr c;
    char ignored[8];

    if (host_or_cidr == NULL || host_or_cidr[0] == '\0') {
        snprintf(err, errlen, "empty destination");
        return -1;
    }
    /* One address and port ("127.0.0.1:9090", "[::1]:9090"): refused even
     * inside a network --allow-dest opens. */
    struct addr ap;
    if (addr_parse(host_or_cidr, -1, &ap, ignored, sizeof(ignored)) == 0) {
        static const uint8_t zero[16];
        struct self_addr s;
        if (self_addr_of((const struct sockaddr *)&ap.ss, &s) < 0 ||
            memcmp(s.bytes, zero, s.family == AF_INET ? 4 : 16) == 0) {
            snprintf(err, errlen, "destination \"%.64s\": a wildcard address names no destination",
                     host_or_cidr);
            return -1;
        }
        return add_self(a, (const struct sockaddr *)&ap.ss, s.port, REASON_ADDR_PORT, err, errlen);
    }
    /* An address or a network: anything cidr_parse takes, or that looks like
     * it meant to be one (a '/' or a ':'), so the error is the network's. */
    if (cidr_parse(host_or_cidr, &c, ignored, sizeof(ignored)) == 0 ||
        strpbrk(host_or_cidr, "/:") != NULL) {
        if (cidr_parse(host_or_cidr, &c, err, errlen) < 0)
            return -1;
        struct cidr *p = reserve(a->nets, &a->nets_cap, a->nnets, sizeof(*p));
        if (p == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        a->nets = p;
        a->nets[a->nnets++] = c;
        return 0;
    }

    struct deny_host h;
    const char *name = host_or_cidr;
    h.domain = name[0] == '.';
    if (h.domain)
        name++;
    h.len = strlen(name);
    if (h.len > 1 && name[h.len - 1] == '.')
        h.len--; /* "example.com." is example.com */
    if (!valid_host_name(name, h.len)) {
        snprintf(err, errlen,
                 "destination \"%.64s\": not a host name (\"example.com\"), domain "
                 "(\".example.com\") or network (\"10.0.0.0/8\")",
                 host_or_cidr);
        return -1;
    }
    for (size_t i = 0; i < h.len; i++)
        h.name[i] = (char)tolower((unsigned char)name[i]);
    h.name[h.len] = '\0';
    struct deny_host *p = reserve(a->hosts, &a->hosts_cap, a->nhosts, sizeof(*p));
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    a->hosts = p;
    a->hosts[a->nhosts++] = h;
    return 0;
}

/* The address of sa as family, 16 bytes and port, an IPv4-mapped IPv6
 * address as the IPv4 one it is. -1 for any other family. */
static int self_addr_of(const struct sockaddr *sa, struct self_addr *out)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        out->family = AF_INET;
        memcpy(out->bytes, &sin->sin_addr, 4);
        out->port = ntohs(sin->sin_port);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        out->port = ntohs(sin6->sin6_port);
        if (memcmp(&sin6->sin6_addr, v4mapped, sizeof(v4mapped)) == 0) {
            out->family = AF_INET;
            memcpy(out->bytes, (const uint8_t *)&sin6->sin6_addr + 12, 4);
        } else {
            out->family = AF_INET6;
            memcpy(out->bytes, &sin6->sin6_addr, 16);
        }
        return 0;
    }
    return -1;
}

static int add_opened(struct acl *a, const struct cidr *net, int port, char *err, size_t errlen)
{
    struct open_dest *p = reserve(a->opened, &a->opened_cap, a->nopened, sizeof(*p));
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    a->opened = p;
    a->opened[a->nopened].net = *net;
    a->opened[a->nopened].port = port;
    a->nopened++;
    return 0;
}

int acl_allow_dest(struct acl *a, const char *cidr, char *err, size_t errlen)
{
    struct cidr c;
    if (cidr_parse(cidr, &c, err, errlen) < 0)
        return -1;
    return add_opened(a, &c, 0, err, errlen);
}

/* The host network (/32 or /128) of sa's address. */
static void host_cidr_of(const struct sockaddr *sa, struct cidr *c)
{
    struct self_addr s;
    memset(c, 0, sizeof(*c));
    if (self_addr_of(sa, &s) < 0)
        return;
    c->family = s.family;
    memcpy(c->bytes, s.bytes, sizeof(c->bytes));
    c->prefix_len = s.family == AF_INET ? 32 : 128;
}

int acl_allow_origin(struct acl *a, const char *host, int port, char *err, size_t errlen)
{
    char name[ACL_HOST_MAX + 1];
    size_t len = strlen(host);
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host++;
        len -= 2;
    }
    if (len == 0 || len > ACL_HOST_MAX) {
        snprintf(err, errlen, "origin host \"%.64s\": empty or too long", host);
        return -1;
    }
    memcpy(name, host, len);
    name[len] = '\0';
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(name, NULL, &hints, &res) != 0)
        return 0; /* nothing to open: see acl.h */
    int rc = 0;
    for (struct addrinfo *ai = res; ai != NULL && rc == 0; ai = ai->ai_next) {
        struct cidr c;
        host_cidr_of(ai->ai_addr, &c);
        if (c.family != 0)
            rc = add_opened(a, &c, port, err, errlen);
    }
    freeaddrinfo(res);
    return rc;
}

static int add_self(struct acl *a, const struct sockaddr *sa, int port, const char *reason,
                    char *err, size_t errlen)
{
    struct self_addr s;
    if (self_addr_of(sa, &s) < 0)
        return 0; /* not an IP address (an interface's AF_PACKET entry) */
    s.port = port;
    s.reason = reason;
    struct self_addr *p = reserve(a->self, &a->self_cap, a->nself, sizeof(*p));
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    a->self = p;
    a->self[a->nself++] = s;
    return 0;
}

int acl_deny_self(struct acl *a, const struct sockaddr *listen, char *err, size_t errlen)
{
    static const uint8_t zero[16];
    struct self_addr s;
    if (self_addr_of(listen, &s) < 0) {
        snprintf(err, errlen, "own address: not IPv4 or IPv6");
        return -1;
    }
    if (memcmp(s.bytes, zero, s.family == AF_INET ? 4 : 16) != 0)
        return add_self(a, listen, s.port, REASON_SELF, err, errlen);
    /* A wildcard listener answers on every address this host has. */
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) < 0) {
        snprintf(err, errlen, "own addresses: getifaddrs failed");
        return -1;
    }
    int rc = add_self(a, listen, s.port, REASON_SELF, err, errlen);
    for (struct ifaddrs *i = ifs; i != NULL && rc == 0; i = i->ifa_next)
        if (i->ifa_addr != NULL)
            rc = add_self(a, i->ifa_addr, s.port, REASON_SELF, err, errlen);
    freeifaddrs(ifs);
    return rc;
}

static int parse_port_number(const char *s, size_t len, int *port)
{
    int v = 0;
    if (len == 0 || len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = v;
    return 0;
}

static int port_set_add(struct port_set *set, const char *spec, char *err, size_t errlen)
{
    struct port_range r;
    if (spec == NULL)
        spec = "";
    const char *dash = strchr(spec, '-');
    size_t len = strlen(spec);
    int ok;
    if (dash == NULL) {
        ok = parse_port_number(spec, len, &r.lo) == 0;
        r.hi = r.lo;
    } else {
        ok = parse_port_number(spec, (size_t)(dash - spec), &r.lo) == 0 &&
             parse_port_number(dash + 1, len - (size_t)(dash - spec) - 1, &r.hi) == 0 &&
             r.lo <= r.hi;
    }
    if (!ok) {
        snprintf(err, errlen, "port \"%.32s\": expected a port (1-65535) or a range LO-HI", spec);
        return -1;
    }
    struct port_range *p = reserve(set->ranges, &set->cap, set->n, sizeof(*p));
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    set->ranges = p;
    set->ranges[set->n++] = r;
    set->explicit = 1;
    return 0;
}

int acl_allow_port(struct acl *a, const char *port_or_range, char *err, size_t errlen)
{
    return port_set_add(&a->ports, port_or_range, err, errlen);
}

int acl_allow_connect_port(struct acl *a, const char *port_or_range, char *err, size_t errlen)
{
    return port_set_add(&a->connect_ports, port_or_range, err, errlen);
}

static int ranges_contain(const struct port_range *r, size_t n, int port)
{
    for (size_t i = 0; i < n; i++)
        if (port >= r[i].lo && port <= r[i].hi)
            return 1;
    return 0;
}

static int port_set_contains(const struct port_set *set, const struct port_range *def, size_t ndef,
                             int port)
{
    if (set->explicit)
        return ranges_contain(set->ranges, set->n, port);
    return ranges_contain(def, ndef, port);
}

int acl_check_client(const struct acl *a, const struct sockaddr *client, const char **reason)
{
    const struct cidr *nets = a->nclients > 0 ? a->clients : a->default_cidrs;
    size_t n = a->nclients > 0 ? a->nclients : NDEFAULT_CLIENTS;
    for (size_t i = 0; i < n; i++)
        if (cidr_contains(&nets[i], client))
            return 1;
    *reason = REASON_CLIENT;
    return 0;
}

static int nets_contain(const struct acl *a, const struct sockaddr *sa)
{
    for (size_t i = 0; i < a->nnets; i++)
        if (cidr_contains(&a->nets[i], sa))
            return 1;
    return 0;
}

/* Order: the proxy's own ports (never opened), denied networks (an explicit
 * deny wins over an opening), local addresses unless opened. */
static int dest_addr_allowed(const struct acl *a, const struct sockaddr *sa, const char **reason)
{
    struct self_addr d;
    if (self_addr_of(sa, &d) == 0) {
        for (size_t i = 0; i < a->nself; i++) {
            const struct self_addr *s = &a->self[i];
            if (s->port == d.port && s->family == d.family &&
                memcmp(s->bytes, d.bytes, d.family == AF_INET ? 4 : 16) == 0) {
                *reason = s->reason;
                return 0;
            }
        }
    }
    if (nets_contain(a, sa)) {
        *reason = REASON_NET;
        return 0;
    }
    for (size_t i = 0; i < NLOCAL_DESTS; i++) {
        if (!cidr_contains(&a->local_cidrs[i], sa))
            continue;
        for (size_t j = 0; j < a->nopened; j++)
            if (cidr_contains(&a->opened[j].net, sa) &&
                (a->opened[j].port == 0 || a->opened[j].port == d.port))
                return 1;
        *reason = REASON_LOCAL;
        return 0;
    }
    return 1;
}

/* name (lower-cased by the caller) against one denied host or domain. */
static int host_matches(const struct deny_host *h, const char *name, size_t len)
{
    if (len == h->len)
        return memcmp(name, h->name, len) == 0;
    return h->domain && len > h->len && name[len - h->len - 1] == '.' &&
           memcmp(name + len - h->len, h->name, h->len) == 0;
}

int acl_check_dest(const struct acl *a, const char *host, size_t hostlen, int port, int is_connect,
                   const char **reason)
{
    char name[ACL_HOST_MAX + 2];

    if (port < 1 || port > 65535) {
        *reason = REASON_PORT;
        return 0;
    }
    if (is_connect) {
        if (!port_set_contains(&a->connect_ports, default_connect_ports,
                               sizeof(default_connect_ports) / sizeof(default_connect_ports[0]),
                               port)) {
            *reason = REASON_CONNECT_PORT;
            return 0;
        }
    } else if (!port_set_contains(&a->ports, default_ports,
                                  sizeof(default_ports) / sizeof(default_ports[0]), port)) {
        *reason = REASON_PORT;
        return 0;
    }

    /* "[::1]" as written in a URL or CONNECT authority. */
    if (hostlen >= 2 && host[0] == '[' && host[hostlen - 1] == ']') {
        host++;
        hostlen -= 2;
    }
    /* "example.com." is example.com. */
    if (hostlen > 0 && host[hostlen - 1] == '.')
        hostlen--;
    if (hostlen == 0 || hostlen > ACL_HOST_MAX || memchr(host, '\0', hostlen) != NULL) {
        *reason = REASON_BAD_HOST;
        return 0;
    }
    for (size_t i = 0; i < hostlen; i++)
        name[i] = (char)tolower((unsigned char)host[i]);
    name[hostlen] = '\0';

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, name, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, name, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
    }
    if (ss.ss_family != 0)
        return dest_addr_allowed(a, (struct sockaddr *)&ss, reason);

    for (size_t i = 0; i < a->nhosts; i++) {
        if (host_matches(&a->hosts[i], name, hostlen)) {
            *reason = REASON_HOST;
            return 0;
        }
    }
    return 1;
}

int acl_check_dest_addr(const struct acl *a, const struct sockaddr *dest, const char **reason)
{
    return dest_addr_allowed(a, dest, reason);
}
