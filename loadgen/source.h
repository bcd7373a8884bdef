/* Where a client's requests come from: its sockets created inside a
 * testbed client's network namespace (--testbed), bound to a local address
 * (--source), or neither. A socket belongs to the namespace it was created
 * in, so loadgen enters the client's namespace just around socket(2) and
 * always returns to its own. (The descriptor limit those sockets need is
 * run.c's, through common/fdlimit.) */
#ifndef PP_LOADGEN_SOURCE_H
#define PP_LOADGEN_SOURCE_H

#include <stddef.h>

#include "addr.h"

struct loadgen_source {
    int netns_fd; /* -1: loadgen's own namespace */
    int bind;     /* bind to addr before connecting */
    struct addr addr;
    char label[64]; /* "198.18.1.1 (pp-c1)", "127.0.0.2", or "" */
};

/* loadgen's own network namespace, opened once; -1 with err filled. */
int loadgen_source_home_open(char *err, size_t errlen);

/* Client k (1-based) of deploy/testbed PREFIX: /run/netns/PREFIX-ck. */
int loadgen_source_testbed(struct loadgen_source *s, const char *prefix, int k, char *err,
                           size_t errlen);
void loadgen_source_bound(struct loadgen_source *s, const struct addr *a);
void loadgen_source_plain(struct loadgen_source *s);
void loadgen_source_release(struct loadgen_source *s);

/* A non-blocking, close-on-exec TCP socket with TCP_NODELAY, in s's
 * namespace and bound to its address, whose connect to `to` has started.
 * home_fd is loadgen's own namespace (to return to). Returns the fd, or -1
 * with *err_no set (connect errors are the request's, not loadgen's). A
 * failure to return home is fatal: it aborts, as nothing after it could be
 * trusted. */
int loadgen_source_connect(const struct loadgen_source *s, int home_fd, const struct addr *to,
                           int *err_no);

#endif
