/* Opening client sockets in another network namespace: setns(2) into the
 * client's namespace, socket(2), setns back home. The socket keeps the
 * namespace it was born in; connect and everything after run from home. */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int loadgen_source_home_open(char *err, size_t errlen)
{
    int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        snprintf(err, errlen, "cannot open /proc/self/ns/net: %s", strerror(errno));
    return fd;
}

int loadgen_source_testbed(struct loadgen_source *s, const char *prefix, int k, char *err,
                           size_t errlen)
{
    char path[128];
    memset(s, 0, sizeof(*s));
    snprintf(path, sizeof(path), "/run/netns/%s-c%d", prefix, k);
    s->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->netns_fd < 0) {
        snprintf(err, errlen,
                 "testbed client %d: cannot open %s: %s (is `deploy/testbed --prefix %s up "
                 "--clients N` done?)",
                 k, path, strerror(errno), prefix);
        return -1;
    }
    snprintf(s->label, sizeof(s->label), "198.18.%d.%d (%s-c%d)", 1 + (k - 1) / 254,
             1 + (k - 1) % 254, prefix, k);
    return 0;
}

void loadgen_source_bound(struct loadgen_source *s, const struct addr *a)
{
    memset(s, 0, sizeof(*s));
    s->netns_fd = -1;
    s->bind = 1;
    s->addr = *a;
    addr_format_host(a, s->label, sizeof(s->label));
}

void loadgen_source_plain(struct loadgen_source *s)
{
    memset(s, 0, sizeof(*s));
    s->netns_fd = -1;
}

void loadgen_source_release(struct loadgen_source *s)
{
    if (s->netns_fd >= 0)
        close(s->netns_fd);
    s->netns_fd = -1;
}

static int open_socket(const struct loadgen_source *s, int home_fd, int family)
{
    if (s->netns_fd < 0)
        return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (setns(s->netns_fd, CLONE_NEWNET) < 0)
        return -1;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int saved = errno;
    if (setns(home_fd, CLONE_NEWNET) < 0) {
        /* Every later socket would be opened in the wrong place. */
        fprintf(stderr, "loadgen: cannot return to its own network namespace: %s\n",
                strerror(errno));
        abort();
    }
    errno = saved;
    return fd;
}

int loadgen_source_connect(const struct loadgen_source *s, int home_fd, const struct addr *to,
                           int *err_no)
{
    int fd = open_socket(s, home_fd, to->ss.ss_family);
    if (fd < 0) {
        *err_no = errno;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (s->bind) {
        /* The port is chosen at connect, per destination: thousands of
         * connections from one source address to one server need it. */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(fd, (const struct sockaddr *)&s->addr.ss, s->addr.len) < 0)
            goto fail;
    }
    if (connect(fd, (const struct sockaddr *)&to->ss, to->len) < 0 && errno != EINPROGRESS)
        goto fail;
    return fd;
fail:
    *err_no = errno;
    close(fd);
    return -1;
}
