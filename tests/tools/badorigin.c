/* badorigin: a scripted origin server for proxyd's fault tests. Each MODE
 * misbehaves in one way (silence, a body cut short, smuggling-shaped framing,
 * a trickle, a refusal, a delay) so an integration test can assert what the
 * proxy does about it. One forked child per connection; one line per request
 * received goes to --count-file; the whole server exits after --max-seconds. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A request head larger than this is answered by closing: the tests send small ones. */
#define HEAD_MAX_BYTES 65536
/* The 1 MiB object of the paper's workload. */
#define BIG_BODY_BYTES 1048576
/* close-mid-body sends this much of the 1 MiB before closing. */
#define PARTIAL_BODY_BYTES 65536
/* slow sends this much every SLOW_INTERVAL_MS. */
#define SLOW_CHUNK_BYTES 16384
#define SLOW_INTERVAL_MS 100
/* delay-N answers with this many bytes. */
#define SMALL_BODY_BYTES 1024
#define DEFAULT_MAX_SECONDS 120

enum mode {
    MODE_SILENT,
    MODE_CLOSE_MID_BODY,
    MODE_CL_TE,
    MODE_BAD_CHUNK,
    MODE_SLOW,
    MODE_REFUSE_AFTER_ACCEPT,
    MODE_RESET,
    MODE_DELAY,
    MODE_EXTRA_RESPONSE,
};

struct options {
    struct sockaddr_in listen_addr;
    enum mode mode;
    const char *mode_name;
    long delay_ms;
    const char *count_file;
    long max_seconds;
    const char *cache_control; /* Cache-Control value of the 200s */
};

static time_t deadline;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: badorigin --listen 127.0.0.1:PORT --mode MODE [--count-file FILE]\n"
            "                 [--max-seconds N] [--cache-control VALUE]\n"
            "  MODE: silent | close-mid-body | cl-te | bad-chunk | slow |\n"
            "        refuse-after-accept | reset | delay-N (N in ms) |\n"
            "        extra-response\n"
            "  --count-file FILE  one line per request, once its body is read\n"
            "  --max-seconds N    exit after N seconds (default %d)\n"
            "  --cache-control V  Cache-Control of the responses (default max-age=3600)\n",
            DEFAULT_MAX_SECONDS);
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

static int parse_listen(const char *s, struct sockaddr_in *sin)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    long port;
    if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
        return -1;
    memcpy(host, s, colon - s);
    host[colon - s] = '\0';
    if (parse_long(colon + 1, 1, 65535, &port) < 0)
        return -1;
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
}

static int parse_mode(const char *s, struct options *o)
{
    static const struct {
        const char *name;
        enum mode mode;
    } modes[] = {
        {"silent", MODE_SILENT}, {"close-mid-body", MODE_CLOSE_MID_BODY},
        {"cl-te", MODE_CL_TE},   {"bad-chunk", MODE_BAD_CHUNK},
        {"slow", MODE_SLOW},     {"refuse-after-accept", MODE_REFUSE_AFTER_ACCEPT},
        {"reset", MODE_RESET},   {"extra-response", MODE_EXTRA_RESPONSE},
    };
    o->mode_name = s;
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(s, modes[i].name) == 0) {
            o->mode = modes[i].mode;
            return 0;
        }
    }
    if (strncmp(s, "delay-", 6) == 0 && parse_long(s + 6, 0, 3600 * 1000L, &o->delay_ms) == 0) {
        o->mode = MODE_DELAY;
        return 0;
    }
    return -1;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    int have_listen = 0, have_mode = 0;
    memset(o, 0, sizeof(*o));
    o->max_seconds = DEFAULT_MAX_SECONDS;
    o->cache_control = "max-age=3600";
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (val == NULL) {
            fprintf(stderr, "badorigin: %s needs a value\n", arg);
            return -1;
        }
        i++;
        if (strcmp(arg, "--listen") == 0) {
            if (parse_listen(val, &o->listen_addr) < 0) {
                fprintf(stderr, "badorigin: bad --listen '%s' (want IPv4:PORT)\n", val);
                return -1;
            }
            have_listen = 1;
        } else if (strcmp(arg, "--mode") == 0) {
            if (parse_mode(val, o) < 0) {
                fprintf(stderr, "badorigin: unknown --mode '%s'\n", val);
                return -1;
            }
            have_mode = 1;
        } else if (strcmp(arg, "--cache-control") == 0) {
            if (strlen(val) > 128 || strpbrk(val, "\r\n") != NULL) {
                fprintf(stderr, "badorigin: bad --cache-control '%s'\n", val);
                return -1;
            }
            o->cache_control = val;
        } else if (strcmp(arg, "--count-file") == 0) {
            o->count_file = val;
        } else if (strcmp(arg, "--max-seconds") == 0) {
            if (parse_long(val, 1, 86400, &o->max_seconds) < 0) {
                fprintf(stderr, "badorigin: bad --max-seconds '%s'\n", val);
                return -1;
            }
        } else {
            fprintf(stderr, "badorigin: unknown option '%s'\n", arg);
            return -1;
        }
    }
    if (!have_listen || !have_mode) {
        fprintf(stderr, "badorigin: --listen and --mode are required\n");
        return -1;
    }
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Writes all of buf; -1 if the peer went away. */
static int send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int send_str(int fd, const char *s)
{
    return send_all(fd, s, strlen(s));
}

/* A recognisable body: byte i is 'a' + i % 26, so a test can check offsets. */
static int send_body(int fd, size_t offset, size_t len)
{
    char buf[16384];
    while (len > 0) {
        size_t n = len < sizeof(buf) ? len : sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)('a' + (offset + i) % 26);
        if (send_all(fd, buf, n) < 0)
            return -1;
        offset += n;
        len -= n;
    }
    return 0;
}

static int send_head(int fd, const char *extra_headers)
{
    char date[64], head[1024];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nDate: %s\r\nServer: badorigin\r\n%s\r\n", date,
             extra_headers);
    return send_str(fd, head);
}

struct request {
    char buf[HEAD_MAX_BYTES + 1];
    size_t used; /* bytes in buf, the head and perhaps what follows it */
    size_t head_len;
    long body_len; /* from Content-Length, 0 if none */
    int close;     /* the client asked for the connection to end after this one */
    int chunked;   /* the body is chunked */
};

/* Case-insensitive search for a header value in the head; NULL if absent. */
static const char *find_header(const char *head, const char *name)
{
    size_t name_len = strlen(name);
    const char *line = strstr(head, "\r\n");
    while (line != NULL) {
        line += 2;
        if (strncasecmp(line, name, name_len) == 0 && line[name_len] == ':')
            return line + name_len + 1;
        line = strstr(line, "\r\n");
    }
    return NULL;
}

/* Whether the header's value (up to its line end) contains word, any case. */
static int header_has(const char *head, const char *name, const char *word)
{
    const char *v = find_header(head, name);
    if (v == NULL)
        return 0;
    const char *eol = strstr(v, "\r\n");
    size_t len = eol != NULL ? (size_t)(eol - v) : strlen(v);
    char value[256];
    if (len >= sizeof(value))
        len = sizeof(value) - 1;
    memcpy(value, v, len);
    value[len] = '\0';
    return strcasestr(value, word) != NULL;
}

/* Reads one request head. 1 when a request was read, 0 when the peer closed
 * first, -1 on error or overflow. The body stays for discard_body(). */
static int read_request(int fd, struct request *r)
{
    /* Drop the previous request from the buffer, keep what was pipelined. */
    if (r->head_len > 0) {
        memmove(r->buf, r->buf + r->head_len, r->used - r->head_len);
        r->used -= r->head_len;
        r->head_len = 0;
    }
    for (;;) {
        r->buf[r->used] = '\0';
        char *end = strstr(r->buf, "\r\n\r\n");
        if (end != NULL) {
            r->head_len = (size_t)(end - r->buf) + 4;
            break;
        }
        if (r->used == HEAD_MAX_BYTES)
            return -1;
        ssize_t n = recv(fd, r->buf + r->used, HEAD_MAX_BYTES - r->used, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return r->used == 0 ? 0 : -1;
        r->used += (size_t)n;
    }
    char saved = r->buf[r->head_len];
    r->buf[r->head_len] = '\0';
    const char *cl = find_header(r->buf, "Content-Length");
    r->body_len = cl != NULL ? strtol(cl, NULL, 10) : 0;
    const char *eol = strstr(r->buf, "\r\n");
    int http10 = eol != NULL && eol - r->buf >= 8 && strncmp(eol - 8, "HTTP/1.0", 8) == 0;
    if (header_has(r->buf, "Connection", "close"))
        r->close = 1;
    else
        r->close = http10 && !header_has(r->buf, "Connection", "keep-alive");
    r->buf[r->head_len] = saved;
    r->chunked = header_has(r->buf, "Transfer-Encoding", "chunked");
    r->buf[r->head_len] = saved;
    return r->body_len < 0 ? -1 : 1;
}

/* Takes up to len bytes of the request's body: first what sits in the
 * buffer after the head, then from the socket. Returns bytes taken, -1 if
 * the peer went away. */
static ssize_t take_body_bytes(int fd, struct request *r, char *out, size_t len)
{
    size_t buffered = r->used - r->head_len;
    if (buffered > 0) {
        size_t n = len < buffered ? len : buffered;
        memcpy(out, r->buf + r->head_len, n);
        memmove(r->buf + r->head_len, r->buf + r->head_len + n, buffered - n);
        r->used -= n;
        return (ssize_t)n;
    }
    for (;;) {
        ssize_t n = recv(fd, out, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        return n <= 0 ? -1 : n;
    }
}

/* One line of a chunked body, without its CRLF (lenient: a test origin). */
static int take_line(int fd, struct request *r, char *line, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char c;
        if (take_body_bytes(fd, r, &c, 1) < 0)
            return -1;
        if (c == '\n')
            break;
        if (c != '\r' && n + 1 < cap)
            line[n++] = c;
    }
    line[n] = '\0';
    return 0;
}

/* Reads and drops the request body (Content-Length or chunked), so the next
 * request on the connection starts where it should. */
static int discard_body(int fd, struct request *r)
{
    char sink[16384];
    if (r->chunked) {
        for (;;) {
            char line[256];
            if (take_line(fd, r, line, sizeof(line)) < 0)
                return -1;
            long size = strtol(line, NULL, 16);
            if (size < 0)
                return -1;
            if (size == 0)
                break;
            for (long left = size + 2; left > 0;) { /* data and its CRLF */
                ssize_t n = take_body_bytes(
                    fd, r, sink, left < (long)sizeof(sink) ? (size_t)left : sizeof(sink));
                if (n < 0)
                    return -1;
                left -= n;
            }
        }
        for (;;) { /* trailers up to the empty line */
            char line[1024];
            if (take_line(fd, r, line, sizeof(line)) < 0)
                return -1;
            if (line[0] == '\0')
                return 0;
        }
    }
    for (long left = r->body_len; left > 0;) {
        ssize_t n =
            take_body_bytes(fd, r, sink, left < (long)sizeof(sink) ? (size_t)left : sizeof(sink));
        if (n < 0)
            return -1;
        left -= n;
    }
    return 0;
}

/* One line per request, in one write(2) so concurrent children do not mix. */
static void count_request(const struct options *o, const struct request *r)
{
    if (o->count_file == NULL)
        return;
    const char *eol = memchr(r->buf, '\r', r->head_len);
    int line_len = eol != NULL ? (int)(eol - r->buf) : 0;
    if (line_len > 512)
        line_len = 512;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char line[640];
    int n = snprintf(line, sizeof(line), "%ld.%03ld %d %s %.*s\n", (long)ts.tv_sec,
                     ts.tv_nsec / 1000000L, (int)getpid(), o->mode_name, line_len, r->buf);
    if (n > (int)sizeof(line))
        n = (int)sizeof(line);
    int fd = open(o->count_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (write(fd, line, (size_t)n) < 0) {
        /* Nothing sensible to do: the test will see a missing line. */
    }
    close(fd);
}

/* Waits until the peer closes or the deadline passes, reading and dropping input. */
static void wait_for_close(int fd)
{
    char sink[4096];
    for (;;) {
        long left_ms = (long)(deadline - time(NULL)) * 1000L;
        if (left_ms <= 0)
            return;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int rc = poll(&pfd, 1, left_ms > 1000 ? 1000 : (int)left_ms);
        if (rc < 0 && errno != EINTR)
            return;
        if (rc > 0 && recv(fd, sink, sizeof(sink), 0) <= 0)
            return;
    }
}

static void serve_connection(int fd, const struct options *o)
{
    static struct request r;
    char headers[256];

    if (o->mode == MODE_REFUSE_AFTER_ACCEPT)
        return;
    if (o->mode == MODE_RESET) {
        /* Linger 0: the close sends RST, as a crashing server's kernel does. */
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        return;
    }
    while (read_request(fd, &r) == 1) {
        /* Counted once the body is in: a request whose body never completes
         * (or is completed by the next request's bytes) shows as such. */
        if (o->mode != MODE_SILENT && discard_body(fd, &r) < 0)
            return;
        count_request(o, &r);
        switch (o->mode) {
        case MODE_SILENT:
            wait_for_close(fd);
            return;
        case MODE_CLOSE_MID_BODY:
            snprintf(headers, sizeof(headers), "Content-Length: %d\r\nCache-Control: %s\r\n",
                     BIG_BODY_BYTES, o->cache_control);
            if (send_head(fd, headers) == 0)
                send_body(fd, 0, PARTIAL_BODY_BYTES);
            return;
        case MODE_CL_TE:
            send_head(fd, "Content-Length: 10\r\nTransfer-Encoding: chunked\r\n"
                          "Cache-Control: max-age=3600\r\n");
            send_str(fd, "5\r\nhello\r\n0\r\n\r\n");
            return;
        case MODE_BAD_CHUNK:
            send_head(fd, "Transfer-Encoding: chunked\r\nCache-Control: max-age=3600\r\n");
            send_str(fd, "zz\r\nhello\r\n0\r\n\r\n");
            return;
        case MODE_SLOW:
            snprintf(headers, sizeof(headers), "Content-Length: %d\r\nCache-Control: %s\r\n",
                     BIG_BODY_BYTES, o->cache_control);
            if (send_head(fd, headers) < 0)
                return;
            for (size_t off = 0; off < BIG_BODY_BYTES; off += SLOW_CHUNK_BYTES) {
                if (send_body(fd, off, SLOW_CHUNK_BYTES) < 0)
                    return;
                if (off + SLOW_CHUNK_BYTES < BIG_BODY_BYTES)
                    sleep_ms(SLOW_INTERVAL_MS);
            }
            if (r.close)
                return;
            break; /* the connection stays usable */
        case MODE_EXTRA_RESPONSE:
            /* A 1024-byte answer with a second, unasked-for response right
             * behind its body in the same write: a proxy that pooled this
             * connection would hand it to the next request (response queue
             * poisoning). */
            snprintf(headers, sizeof(headers), "Content-Length: %d\r\nCache-Control: %s\r\n",
                     SMALL_BODY_BYTES, o->cache_control);
            if (send_head(fd, headers) < 0)
                return;
            {
                static const char extra[] = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n"
                                            "Cache-Control: max-age=3600\r\n\r\nPOISONED\n";
                char out[SMALL_BODY_BYTES + sizeof(extra)];
                for (size_t i = 0; i < SMALL_BODY_BYTES; i++)
                    out[i] = (char)('a' + i % 26);
                memcpy(out + SMALL_BODY_BYTES, extra, sizeof(extra) - 1);
                if (send_all(fd, out, SMALL_BODY_BYTES + sizeof(extra) - 1) < 0)
                    return;
            }
            break; /* and answer whatever comes next on this connection */
        case MODE_DELAY:
            sleep_ms(o->delay_ms);
            snprintf(headers, sizeof(headers),
                     "Content-Length: %d\r\nCache-Control: %s\r\n"
                     "Content-Type: application/octet-stream\r\n",
                     SMALL_BODY_BYTES, o->cache_control);
            if (send_head(fd, headers) < 0 || send_body(fd, 0, SMALL_BODY_BYTES) < 0)
                return;
            if (r.close)
                return;
            break;
        case MODE_REFUSE_AFTER_ACCEPT:
        case MODE_RESET:
            return;
        }
    }
}

static int listen_on(const struct sockaddr_in *sin)
{
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (const struct sockaddr *)sin, sizeof(*sin)) < 0 || listen(fd, 512) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    struct options o;
    if (parse_options(argc, argv, &o) < 0) {
        usage(stderr);
        return 64;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
    deadline = time(NULL) + o.max_seconds;
    alarm((unsigned)o.max_seconds); /* SIGALRM's default action ends the server */

    int lfd = listen_on(&o.listen_addr);
    if (lfd < 0) {
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &o.listen_addr.sin_addr, a, sizeof(a));
        fprintf(stderr, "badorigin: listen on %s:%d failed: %s\n", a, ntohs(o.listen_addr.sin_port),
                strerror(errno));
        return 1;
    }
    fprintf(stderr, "badorigin: listening, mode %s, exits in %ld s\n", o.mode_name, o.max_seconds);

    pid_t server_pid = getpid();
    for (;;) {
        int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
                continue;
            fprintf(stderr, "badorigin: accept failed: %s\n", strerror(errno));
            return 1;
        }
        if (o.mode == MODE_REFUSE_AFTER_ACCEPT) {
            close(cfd);
            continue;
        }
        pid_t pid = fork();
        if (pid == 0) {
            close(lfd);
            /* A child never outlives the server nor its deadline. */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != server_pid)
                _exit(0);
            long left = (long)(deadline - time(NULL));
            alarm(left > 0 ? (unsigned)left : 1);
            serve_connection(cfd, &o);
            close(cfd);
            _exit(0);
        }
        if (pid < 0)
            fprintf(stderr, "badorigin: fork failed: %s\n", strerror(errno));
        close(cfd);
    }
}
