/* Parsing of sizes ("256M", "1024K", "1G", "512") and durations ("10s",
 * "500ms", "2m", "1.5s"; a bare number is seconds) from command lines and
 * config files. Errors fill the caller's err buffer; nothing here logs. */
#ifndef PP_SIZE_H
#define PP_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* Suffixes K, M, G, T (also KB/MB/GB/KiB/MiB/GiB, any case) are powers of
 * 1024, as Squid and nginx read them; no suffix or B means bytes. Rejects
 * empty strings, signs, garbage after the suffix and values over 2^62. */
int size_parse(const char *s, uint64_t *bytes, char *err, size_t errlen);
/* Formats with the largest exact binary suffix: 268435456 -> "256M". */
void size_format(uint64_t bytes, char *out, size_t outlen);

/* Suffixes ms, s, m, h; a bare number is seconds; fractions allowed
 * ("1.5s"). Rejects negatives and values over 30 days. */
int duration_parse_ms(const char *s, uint64_t *ms, char *err, size_t errlen);

/* Formats with the largest exact unit: 90000 -> "90s", 1500 -> "1500ms",
 * 7200000 -> "2h", 0 -> "0ms". Reads back through duration_parse_ms. */
void duration_format(uint64_t ms, char *out, size_t outlen);

/* Integer in [min, max] with nothing after it. */
int int_parse(const char *s, long min, long max, long *out, char *err, size_t errlen);

#endif
