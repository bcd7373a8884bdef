/* CONNECT tunnels: after access checks, resolve and connect to host:port,
 * answer "200 Connection established", then relay bytes both ways with
 * backpressure (libevent's le-proxy pattern) and pass a half-close on. */
#ifndef PP_TUNNEL_H
#define PP_TUNNEL_H

struct client;

/* Takes over the client's connection for c->txn.host:port. Answers 502/504
 * and closes on failure. */
void tunnel_start(struct client *c);
void tunnel_free(void *tunnel);

#endif
