/* Diagnostic logging for every program: one line per event on stderr,
 *   2026-11-25T15:04:05.123Z proxyd[p1] warn: message
 * Each line is formatted on the stack and written with one write(2), so lines
 * from different threads never interleave. The only file in common/ that
 * writes anything. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* One line, timestamp and prefix included. PIPE_BUF (4096) is what the kernel
 * writes atomically to a pipe, which is where supervised programs' stderr
 * usually goes; longer messages are cut and end in "...". */
#define LOG_LINE_MAX 4096
#define LOG_PREFIX_MAX 96

static char log_prefix[LOG_PREFIX_MAX] = "proxypool";
static int log_level = LOG_LEVEL_INFO;

/* Indexed by enum log_level; NULL-terminated for option tables (--log-level). */
const char *const log_level_names[] = {"debug", "info", "warn", "error", NULL};

void log_init(const char *program, const char *instance)
{
    if (program == NULL || program[0] == '\0')
        program = "proxypool";
    if (instance != NULL && instance[0] != '\0')
        snprintf(log_prefix, sizeof(log_prefix), "%s[%s]", program, instance);
    else
        snprintf(log_prefix, sizeof(log_prefix), "%s", program);
}

void log_set_level(enum log_level level)
{
    if (level < LOG_LEVEL_DEBUG || level > LOG_LEVEL_ERROR)
        level = LOG_LEVEL_INFO;
    __atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

int log_parse_level(const char *s, enum log_level *level)
{
    if (s == NULL)
        return -1;
    for (size_t i = 0; log_level_names[i]; i++) {
        if (strcasecmp(s, log_level_names[i]) == 0) {
            *level = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

/* A message may carry bytes from the network (a request line, a header):
 * control characters become '?' so one event stays one line and cannot forge
 * another. */
static void sanitize(char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            p[i] = '?';
    }
}

static void write_all(const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to report it */
        }
        p += n;
        len -= (size_t)n;
    }
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if ((int)level < __atomic_load_n(&log_level, __ATOMIC_RELAXED))
        return;
    if (level < LOG_LEVEL_DEBUG || level > LOG_LEVEL_ERROR)
        level = LOG_LEVEL_ERROR;

    int saved_errno = errno; /* callers often log and then test errno */
    char line[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, log_prefix, log_level_names[level]);
    if (n < 0 || (size_t)n >= sizeof(line))
        n = 0;
    size_t head = (size_t)n;

    va_list ap;
    va_start(ap, fmt);
    errno = saved_errno; /* so %m prints the caller's errno */
    int m = vsnprintf(line + head, sizeof(line) - head, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;

    size_t len = head + (size_t)m;
    if (len > sizeof(line) - 2) { /* cut: keep room for "...\n" */
        len = sizeof(line) - 5;
        memcpy(line + len, "...", 3);
        len += 3;
    }
    sanitize(line + head, len - head);
    line[len++] = '\n';
    write_all(line, len);
    errno = saved_errno;
}
