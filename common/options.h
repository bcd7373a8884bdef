/* Command-line and config-file options from one table per program: the
 * long options, the JSON keys of --config FILE, the initial values and the
 * --help text (with each default) come from the same definitions, so they
 * cannot disagree. An option says what kind of value it takes and where in
 * the program's config struct it goes; only values no kind describes have a
 * hand-written setter. Nothing here knows any program's configuration. */
#ifndef PP_OPTIONS_H
#define PP_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

enum option_kind {
    OPTION_CUSTOM = 0, /* set() parses and stores (repeatable lists, checked text) */
    OPTION_FLAG,       /* no value: the int field becomes 1 */
    OPTION_FLAG_OFF,   /* no value: the int field becomes 0 (--no-cache) */
    OPTION_STRING,     /* copied into the char array field; min..size-1 bytes */
    OPTION_SIZE,       /* uint64_t bytes: 512, 64K, 256M, 1G (size_parse); min..max */
    OPTION_DURATION,   /* uint64_t milliseconds: 500ms, 10s, 2m (duration_parse_ms) */
    OPTION_ADDR,       /* struct addr: ADDR:PORT, the port required (addr_parse) */
    OPTION_COUNT,      /* an integer in min..max into an int or a 64-bit field */
    OPTION_ENUM,       /* one of names (any case): its index into an int or enum */
    OPTION_ENUM_NAME,  /* one of names (any case): the name into a char array */
};

struct option_def {
    const char *name; /* long option; JSON key with '-' or '_' */
    enum option_kind kind;
    const char *arg; /* metavariable for --help; NULL for a flag, "a|b" made for an enum */
    const char *help;
    /* Where the value goes: OPTION_FIELD(struct cfg, member). */
    size_t offset, size;
    /* The default as it would be typed ("256M", "5s", "on" or "off" for a
     * flag): the field starts with it (options_defaults, through the same
     * parser or setter as a given value) and --help shows it. NULL: the
     * field starts zeroed, or the program computes it. A repeatable option
     * has none: its first value would add to it. */
    const char *deflt;
    /* --help's "(default: ...)" when there is no deflt to parse: a default
     * the program computes ("the host name") or a custom option's. */
    const char *deflt_text;
    /* COUNT: inclusive range. SIZE, DURATION: bytes or ms, max 0 for none
     * beyond the parser's own. STRING: min is the shortest length. */
    long long min, max;
    const char *limit_why;    /* said after a range error: where the limit comes from */
    const char *const *names; /* ENUM, ENUM_NAME: the values, NULL-terminated */
    /* OPTION_CUSTOM: stores value ("" for none) into cfg; 0, or -1 with err filled. */
    int (*set)(void *cfg, const char *value, char *err, size_t errlen);
};

#define OPTION_FIELD(type, member)                                                                 \
    .offset = offsetof(type, member), .size = sizeof(((type *)0)->member)

struct options_spec {
    const char *program; /* "proxyd" */
    const char *version;
    const char *synopsis; /* "Usage: ...\nOne paragraph on what it is.\n" */
    const char *epilog;   /* after the options: units, signals, an example */
    const struct option_def *defs;
    size_t ndefs;
    int positional; /* 1: arguments after the options are allowed */
};

void options_usage(const struct options_spec *spec, FILE *out);

/* Whether the option is followed by a value (every kind but the flags). */
int options_takes_value(const struct option_def *o);

/* Sets every field whose option has a deflt to it, as if it were given.
 * 0, or -1 with err filled (a table whose default its own parser refuses:
 * the unit tests of each program load its defaults). */
int options_defaults(const struct options_spec *spec, void *cfg, char *err, size_t errlen);

/* Applies the JSON file named by --config (if any), then the command line,
 * which wins over single values (repeatable options from both add up).
 * Returns 0 with *first_arg (if not NULL) the index of the first positional
 * argument; 1 after printing --help or --version; -1 with err filled on an
 * unknown option or key, a missing or bad value, or an unreadable file. */
int options_load(const struct options_spec *spec, void *cfg, int argc, char **argv, int *first_arg,
                 char *err, size_t errlen);

#endif
