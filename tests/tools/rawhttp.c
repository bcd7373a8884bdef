/* rawhttp: a raw TCP client for malformed-request and smuggling tests, where
 * curl would fix up the bytes. Sends stdin (or --send with \r \n \t \\ \xHH
 * escapes) exactly as given, optionally one byte every --slow-ms and with a
 * half-close, then copies whatever comes back to stdout until the peer closes
 * (exit 0) or --timeout-ms passes (exit 2). Other failures exit 1. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 10000
/* Requests are small; this bounds what stdin may hold. */
#define SEND_MAX_BYTES (16 * 1024 * 1024)

#define EXIT_CLOSED 0
#define EXIT_ERROR 1
#define EXIT_TIMEOUT 2

struct options {
    const char *target;
    const char *send;
    int half_close;
    long slow_ms;
    long timeout_ms;
    int quiet;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rawhttp [options] HOST:PORT\n"
            "  --send STRING     send STRING (escapes \\r \\n \\t \\\\ \\xHH) instead of stdin\n"
            "  --half-close      shutdown(SHUT_WR) once everything is sent\n"
            "  --slow-ms N       send one byte every N ms\n"
            "  --timeout-ms N    give up after N ms in all (default %d)\n"
            "  --quiet           no notes on stderr\n"
            "exit: 0 the peer closed, 2 timeout, 1 error\n",
            DEFAULT_TIMEOUT_MS);
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof(*o));
    o->timeout_ms = DEFAULT_TIMEOUT_MS;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(arg, "--half-close") == 0) {
            o->half_close = 1;
        } else if (strcmp(arg, "--quiet") == 0) {
            o->quiet = 1;
        } else if (strcmp(arg, "--send") == 0 || strcmp(arg, "--slow-ms") == 0 ||
                   strcmp(arg, "--timeout-ms") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "rawhttp: %s needs a value\n", arg);
                return -1;
            }
            const char *val = argv[++i];
            if (strcmp(arg, "--send") == 0) {
                o->send = val;
            } else if (parse_long(val, strcmp(arg, "--slow-ms") == 0 ? 0 : 1, 3600 * 1000L,
                                  strcmp(arg, "--slow-ms") == 0 ? &o->slow_ms : &o->timeout_ms) <
                       0) {
                fprintf(stderr, "rawhttp: bad %s '%s'\n", arg, val);
                return -1;
            }
        } else if (arg[0] == '-' && arg[1] == '-') {
            fprintf(stderr, "rawhttp: unknown option '%s'\n", arg);
            return -1;
        } else if (o->target == NULL) {
            o->target = arg;
        } else {
            fprintf(stderr, "rawhttp: more than one target\n");
            return -1;
        }
    }
    if (o->target == NULL) {
        fprintf(stderr, "rawhttp: HOST:PORT is required\n");
        return -1;
    }
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Interprets \r \n \t \0 \\ \xHH; any other backslash stays as it is. */
static char *unescape(const char *s, size_t *len)
{
    char *out = malloc(strlen(s) + 1);
    size_t n = 0;
    if (out == NULL)
        return NULL;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p != '\\' || p[1] == '\0') {
            out[n++] = *p;
            continue;
        }
        switch (p[1]) {
        case 'r':
            out[n++] = '\r';
            p++;
            break;
        case 'n':
            out[n++] = '\n';
            p++;
            break;
        case 't':
            out[n++] = '\t';
            p++;
            break;
        case '0':
            out[n++] = '\0';
            p++;
            break;
        case '\\':
            out[n++] = '\\';
            p++;
            break;
        case 'x':
            if (hex_digit(p[2]) >= 0 && hex_digit(p[3]) >= 0) {
                out[n++] = (char)(hex_digit(p[2]) * 16 + hex_digit(p[3]));
                p += 3;
                break;
            }
            /* fall through */
        default:
            out[n++] = *p;
            break;
        }
    }
    *len = n;
    return out;
}

static char *read_stdin(size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    for (;;) {
        if (n == cap) {
            if (cap >= SEND_MAX_BYTES)
                goto fail;
            cap *= 2;
            char *bigger = realloc(buf, cap);
            if (bigger == NULL)
                goto fail;
            buf = bigger;
        }
        ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto fail;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return buf;
fail:
    free(buf);
    return NULL;
}

/* Numeric addresses only (and "localhost"): a test must never resolve names. */
static int connect_to(const char *target)
{
    char host[256];
    const char *port;
    const char *colon = strrchr(target, ':');
    if (colon == NULL || (size_t)(colon - target) >= sizeof(host))
        return -1;
    if (target[0] == '[' && colon > target && colon[-1] == ']') {
        memcpy(host, target + 1, (size_t)(colon - target) - 2);
        host[colon - target - 2] = '\0';
    } else {
        memcpy(host, target, (size_t)(colon - target));
        host[colon - target] = '\0';
    }
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    port = colon + 1;

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "rawhttp: bad address '%s': %s\n", target, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        fprintf(stderr, "rawhttp: connect to %s failed: %s\n", target, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int write_stdout(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Sends and receives at once, so a peer that answers (or closes) before the
 * request is complete is seen as it happens. */
static int exchange(int fd, const struct options *o, const char *data, size_t len)
{
    long start = now_ms(), next_send = start;
    size_t sent = 0;
    int sending = 1;
    char buf[65536];

    if (len == 0) {
        sending = 0;
        if (o->half_close)
            shutdown(fd, SHUT_WR);
    }
    for (;;) {
        long now = now_ms();
        long left = start + o->timeout_ms - now;
        if (left <= 0) {
            if (!o->quiet)
                fprintf(stderr, "rawhttp: timeout after %ld ms (%zu of %zu bytes sent)\n",
                        o->timeout_ms, sent, len);
            return EXIT_TIMEOUT;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        long wait = left;
        if (sending) {
            if (o->slow_ms > 0 && next_send > now)
                wait = next_send - now < wait ? next_send - now : wait;
            else
                pfd.events |= POLLOUT;
        }
        int rc = poll(&pfd, 1, (int)wait);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return EXIT_ERROR;
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == ECONNRESET) {
                if (!o->quiet)
                    fprintf(stderr, "rawhttp: connection reset by peer\n");
                return EXIT_CLOSED;
            }
            if (n < 0)
                return EXIT_ERROR;
            if (n == 0)
                return EXIT_CLOSED;
            if (write_stdout(buf, (size_t)n) < 0)
                return EXIT_ERROR;
            continue;
        }
        if (!sending)
            continue;
        if (o->slow_ms > 0 && now_ms() < next_send)
            continue;
        size_t chunk = o->slow_ms > 0 ? 1 : len - sent;
        ssize_t n = send(fd, data + sent, chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0) {
            /* The peer closed while we were sending: keep reading its answer. */
            if (!o->quiet)
                fprintf(stderr, "rawhttp: send stopped after %zu of %zu bytes: %s\n", sent, len,
                        strerror(errno));
            sending = 0;
            continue;
        }
        sent += (size_t)n;
        next_send = now_ms() + o->slow_ms;
        if (sent == len) {
            sending = 0;
            if (o->half_close)
                shutdown(fd, SHUT_WR);
        }
    }
}

int main(int argc, char **argv)
{
    struct options o;
    char *data;
    size_t len;

    if (parse_options(argc, argv, &o) < 0) {
        usage(stderr);
        return EXIT_ERROR;
    }
    signal(SIGPIPE, SIG_IGN);
    data = o.send != NULL ? unescape(o.send, &len) : read_stdin(&len);
    if (data == NULL) {
        fprintf(stderr, "rawhttp: cannot read what to send\n");
        return EXIT_ERROR;
    }
    int fd = connect_to(o.target);
    if (fd < 0) {
        free(data);
        return EXIT_ERROR;
    }
    int rc = exchange(fd, &o, data, len);
    close(fd);
    free(data);
    return rc;
}
