/* Connection tracking for drains in nat and route mode: a DNAT rule is
 * consulted only for a flow's first packet, and route mode pins a flow to
 * its instance by its mark (pin.h), so an instance taken out of the rules
 * keeps its established flows. The manager counts them (nat: flows whose
 * reply comes from the instance's address and port; route: flows marked
 * with its pin) until they are gone or the drain deadline passes, through
 * libnetfilter_conntrack. */
#ifndef PP_CONNTRACK_H
#define PP_CONNTRACK_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* Live TCP flows (not closing: established, syn or fin states count until
 * they reach TIME_WAIT/CLOSE) whose reply tuple's source is addr:port, in
 * the caller's network namespace. 0 with *count set, or -1 with err. */
int conntrack_count_flows_to(struct in_addr addr, uint16_t port, uint64_t *count, char *err,
                             size_t errlen);
/* The same for the live TCP flows whose conntrack mark, masked, is mark. */
int conntrack_count_flows_marked(uint32_t mark, uint32_t mask, uint64_t *count, char *err,
                                 size_t errlen);

#endif
