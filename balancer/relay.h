/* One client connection and its backend connection: picking and connecting
 * (trying other backends when a connect fails), then relaying bytes both
 * ways — zero-copy with splice(2) through a pipe, a buffered copy where the
 * kernel will not splice — with backpressure (a side is read only while the
 * other can take what was read), half-closes passed through, an idle
 * timeout, and the latency measurements: connect time and time to first
 * byte. */
#ifndef PP_BALANCER_RELAY_H
#define PP_BALANCER_RELAY_H

#include <sys/socket.h>

struct balancer;
struct backend;
struct relay;

/* Takes an accepted client socket (non-blocking). Closes it at once when
 * no backend can take it. */
void relay_start(struct balancer *bal, int client_fd, const struct sockaddr *client,
                 socklen_t client_len);

/* Closes a connection at once (drain deadline, stop deadline). */
void relay_cut(struct relay *r, const char *why);

/* Pipes kept for reuse are closed (at exit). */
void relay_pipes_release(void);

#endif
