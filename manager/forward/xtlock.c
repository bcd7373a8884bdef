/* The xtables lock, taken as iptables takes it, for our libiptc writers. */
#include "xtlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

/* The lock every iptables binary takes (xtables.h XT_LOCK_NAME). */
#define XTLOCK_PATH "/run/xtables.lock"

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int xtlock_take(struct xtlock *l, const char *who, char *err, size_t errlen)
{
    int fd = open(XTLOCK_PATH, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open %s: %s", who, XTLOCK_PATH, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        l->wait_since_us = 0;
        return fd;
    }
    int e = errno;
    close(fd);
    int64_t now = now_us();
    if (l->wait_since_us == 0)
        l->wait_since_us = now;
    if ((e == EWOULDBLOCK || e == EINTR) && now - l->wait_since_us < (int64_t)XTLOCK_WAIT_MS * 1000)
        return PP_AGAIN;
    l->wait_since_us = 0;
    snprintf(err, errlen, "%s: xtables lock %s not taken within %d ms: %s", who, XTLOCK_PATH,
             XTLOCK_WAIT_MS, strerror(e));
    return -1;
}

void xtlock_release(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}
