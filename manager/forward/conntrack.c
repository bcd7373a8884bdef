/* Counting an instance's tracked flows with a conntrack table dump. */
#include "conntrack.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

struct count_ctx {
    int by_mark;   /* count by the connection's mark, not its reply source */
    uint32_t addr; /* network order */
    uint16_t port; /* network order */
    uint32_t mark, mask;
    uint64_t count;
};

static int count_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
    struct count_ctx *c = data;
    (void)type;
    if (nfct_get_attr_u8(ct, ATTR_L4PROTO) != IPPROTO_TCP)
        return NFCT_CB_CONTINUE;
    if (c->by_mark ? (nfct_get_attr_u32(ct, ATTR_MARK) & c->mask) != c->mark
                   : nfct_get_attr_u32(ct, ATTR_REPL_IPV4_SRC) != c->addr ||
                         nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC) != c->port)
        return NFCT_CB_CONTINUE;
    uint8_t st = nfct_get_attr_u8(ct, ATTR_TCP_STATE);
    if (st == TCP_CONNTRACK_TIME_WAIT || st == TCP_CONNTRACK_CLOSE)
        return NFCT_CB_CONTINUE; /* over: only the kernel's bookkeeping remains */
    c->count++;
    return NFCT_CB_CONTINUE;
}

static int count_flows(struct count_ctx *c, uint64_t *count, char *err, size_t errlen)
{
    struct nfct_handle *h = nfct_open(CONNTRACK, 0);
    if (!h) {
        snprintf(err, errlen, "conntrack: %s", strerror(errno));
        return -1;
    }
    nfct_callback_register(h, NFCT_T_ALL, count_cb, c);
    uint32_t family = AF_INET;
    int rc = nfct_query(h, NFCT_Q_DUMP, &family);
    int saved = errno;
    nfct_close(h);
    if (rc < 0) {
        snprintf(err, errlen, "conntrack dump: %s", strerror(saved));
        return -1;
    }
    *count = c->count;
    return 0;
}

int conntrack_count_flows_to(struct in_addr addr, uint16_t port, uint64_t *count, char *err,
                             size_t errlen)
{
    struct count_ctx c = {.addr = addr.s_addr, .port = htons(port)};
    return count_flows(&c, count, err, errlen);
}

int conntrack_count_flows_marked(uint32_t mark, uint32_t mask, uint64_t *count, char *err,
                                 size_t errlen)
{
    struct count_ctx c = {.by_mark = 1, .mark = mark & mask, .mask = mask};
    return count_flows(&c, count, err, errlen);
}
