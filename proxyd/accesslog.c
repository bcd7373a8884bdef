/* Access log in Squid's native format. Lines are formatted into a worker's
 * buffer and written with one write(2) per batch (at 32 KiB or each second),
 * so logging costs no syscall per request. The file descriptor is shared by
 * the workers; SIGHUP reopens the path and dup2()s the new file over the old
 * descriptor, an atomic swap under the writers. */
#include "accesslog.h"
#include "timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#define ACCESSLOG_FLUSH_BYTES (32 * 1024)

static int log_fd = -1;
static char log_path[1024];

struct accesslog {
    struct event *timer;
    size_t len;
    char buf[ACCESSLOG_FLUSH_BYTES + 4096];
};

int accesslog_open_file(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open access log %s: %s", path, strerror(errno));
        return -1;
    }
    snprintf(log_path, sizeof(log_path), "%s", path);
    log_fd = fd;
    return 0;
}

int accesslog_reopen(char *err, size_t errlen)
{
    if (log_fd < 0)
        return 0;
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot reopen access log %s: %s", log_path, strerror(errno));
        return -1;
    }
    if (dup2(fd, log_fd) < 0) {
        snprintf(err, errlen, "dup2: %s", strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

void accesslog_close_file(void)
{
    if (log_fd >= 0)
        close(log_fd);
    log_fd = -1;
}

static void accesslog_flush(struct accesslog *l)
{
    size_t off = 0;
    while (off < l->len) {
        ssize_t n = write(log_fd, l->buf + off, l->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* a full disk loses log lines, never requests */
        off += (size_t)n;
    }
    l->len = 0;
}

static void flush_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    accesslog_flush(arg);
}

struct accesslog *accesslog_new(struct event_base *base)
{
    if (log_fd < 0)
        return NULL;
    struct accesslog *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->timer = event_new(base, -1, EV_PERSIST, flush_timer_cb, l);
    struct timeval one = tv_from_ms(1000);
    if (!l->timer || event_add(l->timer, &one) < 0) {
        if (l->timer)
            event_free(l->timer);
        free(l);
        return NULL;
    }
    return l;
}

void accesslog_free(struct accesslog *l)
{
    if (!l)
        return;
    accesslog_flush(l);
    event_free(l->timer);
    free(l);
}

/* Copies s into the line, turning spaces and control bytes into '%'-escapes
 * so a field never splits the line's columns. */
static size_t put_field(char *dst, size_t room, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 3 < room; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch == 0x7f) {
            o += (size_t)snprintf(dst + o, room - o, "%%%02X", ch);
        } else {
            dst[o++] = (char)ch;
        }
    }
    return o;
}

void accesslog_write(struct accesslog *l, int64_t now_us, int64_t elapsed_ms, const char *client,
                     const char *tag, int status, uint64_t bytes, const char *method,
                     size_t method_len, const char *url, size_t url_len, const char *hier,
                     const char *content_type, size_t content_type_len)
{
    if (!l)
        return;
    char *p = l->buf + l->len;
    size_t room = sizeof(l->buf) - l->len;
    /* Squid: time elapsed remotehost code/status bytes method URL rfc931
     * peerstatus/peerhost type. URLs are cut at 2 KiB to keep lines sane. */
    int n = snprintf(p, room, "%lld.%03lld %6lld %s %s/%03d %llu ", (long long)(now_us / 1000000),
                     (long long)(now_us / 1000 % 1000), (long long)elapsed_ms, client, tag, status,
                     (unsigned long long)bytes);
    if (n < 0 || (size_t)n >= room)
        return;
    size_t o = (size_t)n;
    o += put_field(p + o, room - o, method, method_len);
    p[o++] = ' ';
    o += put_field(p + o, room - o, url, url_len > 2048 ? 2048 : url_len);
    n = snprintf(p + o, room - o, " - %s ", hier);
    if (n < 0 || (size_t)n >= room - o)
        return;
    o += (size_t)n;
    o += put_field(p + o, room - o, content_type, content_type_len > 128 ? 128 : content_type_len);
    if (o + 1 >= room)
        return;
    p[o++] = '\n';
    l->len += o;
    if (l->len >= ACCESSLOG_FLUSH_BYTES)
        accesslog_flush(l);
}
