/* Parsing of sizes, durations and bounded integers from command lines and
 * config files, and formatting sizes back for --help and logs. Strict: a value
 * either parses whole or is an error in the caller's err buffer. */
#include "size.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* Upper bound for sizes: far above any memory or file size we configure, and
 * leaves headroom so sums of two sizes cannot overflow uint64_t. */
#define SIZE_MAX_BYTES (UINT64_C(1) << 62)
/* Upper bound for durations: the longest timeout anyone means is days; 30 days
 * in ms still fits a signed 32-bit int, so callers may pass it to poll(2). */
#define DURATION_MAX_MS (UINT64_C(30) * 24 * 3600 * 1000)
/* Fraction digits kept in a duration ("1.123456789s"); further digits must
 * still be digits but no longer change the result. */
#define DURATION_FRAC_DIGITS 9

struct unit {
    const char *name;
    uint64_t factor;
};

static const struct unit size_units[] = {
    {"", 1},
    {"b", 1},
    {"k", UINT64_C(1) << 10},
    {"kb", UINT64_C(1) << 10},
    {"kib", UINT64_C(1) << 10},
    {"m", UINT64_C(1) << 20},
    {"mb", UINT64_C(1) << 20},
    {"mib", UINT64_C(1) << 20},
    {"g", UINT64_C(1) << 30},
    {"gb", UINT64_C(1) << 30},
    {"gib", UINT64_C(1) << 30},
    {"t", UINT64_C(1) << 40},
    {"tb", UINT64_C(1) << 40},
    {"tib", UINT64_C(1) << 40},
};

static const struct unit duration_units[] = {
    {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000},
};

static const struct unit *unit_find(const struct unit *units, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(units[i].name, s) == 0)
            return &units[i];
    return NULL;
}

/* Reads decimal digits into *v, saturating at cap + 1 (cap < 2^63) so the
 * caller's range check sees an overflow. Returns the number of digits read. */
static size_t read_digits(const char **sp, uint64_t cap, uint64_t *v)
{
    const char *s = *sp;
    uint64_t x = 0;
    while (isdigit((unsigned char)*s)) {
        uint64_t d = (uint64_t)(*s - '0');
        x = x > (cap - d) / 10 ? cap + 1 : x * 10 + d;
        s++;
    }
    size_t n = (size_t)(s - *sp);
    *sp = s;
    *v = x;
    return n;
}

int size_parse(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
    if (s == NULL || s[0] == '\0') {
        snprintf(err, errlen, "empty size");
        return -1;
    }
    const char *p = s;
    uint64_t v;
    if (read_digits(&p, SIZE_MAX_BYTES, &v) == 0) {
        snprintf(err, errlen, "invalid size \"%.64s\": expected digits and an optional unit", s);
        return -1;
    }
    const struct unit *u = unit_find(size_units, sizeof(size_units) / sizeof(size_units[0]), p);
    if (u == NULL) {
        snprintf(err, errlen, "invalid size \"%.64s\": unknown unit \"%.16s\" (use K, M, G or T)",
                 s, p);
        return -1;
    }
    if (v > SIZE_MAX_BYTES / u->factor) {
        snprintf(err, errlen, "invalid size \"%.64s\": larger than 2^62 bytes", s);
        return -1;
    }
    *bytes = v * u->factor;
    return 0;
}

void size_format(uint64_t bytes, char *out, size_t outlen)
{
    static const char suffixes[] = {'T', 'G', 'M', 'K'};
    if (outlen == 0)
        return;
    for (size_t i = 0; i < sizeof(suffixes); i++) {
        uint64_t factor = UINT64_C(1) << (10 * (4 - i));
        if (bytes != 0 && bytes % factor == 0) {
            snprintf(out, outlen, "%llu%c", (unsigned long long)(bytes / factor), suffixes[i]);
            return;
        }
    }
    snprintf(out, outlen, "%llu", (unsigned long long)bytes);
}

void duration_format(uint64_t ms, char *out, size_t outlen)
{
    static const struct {
        uint64_t ms;
        const char *unit;
    } units[] = {{3600000, "h"}, {60000, "m"}, {1000, "s"}};
    if (outlen == 0)
        return;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (ms != 0 && ms % units[i].ms == 0) {
            snprintf(out, outlen, "%llu%s", (unsigned long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    }
    snprintf(out, outlen, "%llums", (unsigned long long)ms);
}

int duration_parse_ms(const char *s, uint64_t *ms, char *err, size_t errlen)
{
    if (s == NULL || s[0] == '\0') {
        snprintf(err, errlen, "empty duration");
        return -1;
    }
    const char *p = s;
    uint64_t whole, frac = 0, frac_scale = 1;
    if (read_digits(&p, DURATION_MAX_MS, &whole) == 0) {
        snprintf(err, errlen,
                 "invalid duration \"%.64s\": expected a non-negative number and an optional "
                 "unit",
                 s);
        return -1;
    }
    if (*p == '.') {
        p++;
        const char *start = p;
        while (isdigit((unsigned char)*p)) {
            if (p - start < DURATION_FRAC_DIGITS) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                frac_scale *= 10;
            }
            p++;
        }
        if (p == start) {
            snprintf(err, errlen, "invalid duration \"%.64s\": digits expected after '.'", s);
            return -1;
        }
    }
    const struct unit *u =
        unit_find(duration_units, sizeof(duration_units) / sizeof(duration_units[0]), p);
    if (u == NULL) {
        snprintf(err, errlen,
                 "invalid duration \"%.64s\": unknown unit \"%.16s\" (use ms, s, m or h)", s, p);
        return -1;
    }
    /* whole <= 30 days in ms + 1 and factor <= 3.6e6: the product fits. */
    uint64_t total = whole * u->factor;
    /* The fraction rounds to the nearest millisecond; frac < frac_scale <= 1e9
     * and factor <= 3.6e6, so frac * factor < 3.6e15 fits. */
    total += (frac * u->factor + frac_scale / 2) / frac_scale;
    if (whole > DURATION_MAX_MS || total > DURATION_MAX_MS) {
        snprintf(err, errlen, "invalid duration \"%.64s\": longer than 30 days", s);
        return -1;
    }
    *ms = total;
    return 0;
}

int int_parse(const char *s, long min, long max, long *out, char *err, size_t errlen)
{
    if (s == NULL || s[0] == '\0') {
        snprintf(err, errlen, "empty number");
        return -1;
    }
    /* strtol skips leading spaces and accepts "+"; neither belongs in a value. */
    if (!isdigit((unsigned char)s[0]) && !(s[0] == '-' && isdigit((unsigned char)s[1]))) {
        snprintf(err, errlen, "invalid number \"%.64s\"", s);
        return -1;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end != '\0') {
        snprintf(err, errlen, "invalid number \"%.64s\"", s);
        return -1;
    }
    if (errno == ERANGE || v < min || v > max) {
        snprintf(err, errlen, "number %.64s out of range [%ld, %ld]", s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}
