/* Diagnostic logging to stderr, one line per event:
 *   2026-11-25T15:04:05.123Z proxyd[p1] warn: origin 198.19.1.2:80 refused connection
 * The program sets its name (and instance name) once; levels below the
 * configured one are dropped. Thread-safe: each line is one write(2). */
#ifndef PP_LOG_H
#define PP_LOG_H

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

void log_init(const char *program, const char *instance); /* instance may be NULL */
void log_set_level(enum log_level level);
/* "debug", "info", "warn", "error" -> 0 and *level, else -1. */
int log_parse_level(const char *s, enum log_level *level);
/* "debug", "info", "warn", "error" by enum log_level, then NULL. */
extern const char *const log_level_names[];

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
