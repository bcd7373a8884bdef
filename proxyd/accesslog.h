/* The access log, one line per request in Squid's native format
 * ("time elapsed client code/status bytes method URL - hierarchy type"), so
 * existing Squid log tools read it. Each worker buffers its lines and writes
 * them in batches; SIGHUP reopens the file (for logrotate) by swapping the
 * descriptor in place, which no writer can observe half-done. */
#ifndef PP_ACCESSLOG_H
#define PP_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

struct accesslog;
struct event_base;

/* Opens (appends to) path once for the process. */
int accesslog_open_file(const char *path, char *err, size_t errlen);
/* Reopens the path given to accesslog_open_file. Async-signal-safe enough to
 * call from the loop's signal callback. */
int accesslog_reopen(char *err, size_t errlen);
void accesslog_close_file(void);

/* A worker's buffer, flushed at 32 KiB or every second. NULL when no access
 * log is configured. */
struct accesslog *accesslog_new(struct event_base *base);
void accesslog_free(struct accesslog *l); /* flushes */
void accesslog_write(struct accesslog *l, int64_t now_us, int64_t elapsed_ms, const char *client,
                     const char *tag, int status, uint64_t bytes, const char *method,
                     size_t method_len, const char *url, size_t url_len, const char *hier,
                     const char *content_type, size_t content_type_len);

#endif
