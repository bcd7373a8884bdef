/* Active health checks, one schedule per backend: GET /healthz on the
 * backend's health (admin) address, or a TCP connect to its address when it
 * has none; a 2xx within --check-timeout passes. Results go to the
 * balancer, which applies rise and fall. Checks start at a random offset in
 * the interval so they do not all fire together (HAProxy's spread). */
#ifndef PP_BALANCER_HEALTH_H
#define PP_BALANCER_HEALTH_H

struct balancer;
struct backend;

/* Starts (or restarts, after a spec change) b's checks. */
int health_start(struct balancer *bal, struct backend *b);
void health_stop(struct balancer *bal, struct backend *b);
/* Runs the next check within HEALTH_SOON_MS unless one is running or due
 * sooner: a failure seen on traffic is confirmed fast. */
void health_soon(struct balancer *bal, struct backend *b);

#endif
