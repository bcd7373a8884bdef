/* Command-line and config-file options from one table per program: the
 * long options, the JSON keys of --config FILE and the --help text come from
 * the same definitions, so they cannot disagree. Setters parse and store one
 * value; nothing here knows any program's configuration. */
#ifndef PP_OPTIONS_H
#define PP_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

struct option_def {
    const char *name; /* long option; JSON key with '-' or '_' */
    const char *arg;  /* metavariable for --help; NULL for a flag */
    const char *help;
    const char *deflt; /* shown in --help as "(default: ...)"; may be NULL */
    /* Stores value ("" for a flag) into cfg; 0, or -1 with err filled. */
    int (*set)(void *cfg, const char *value, char *err, size_t errlen);
};

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

/* Applies the JSON file named by --config (if any), then the command line,
 * which wins over single values (repeatable options from both add up).
 * Returns 0 with *first_arg (if not NULL) the index of the first positional
 * argument; 1 after printing --help or --version; -1 with err filled on an
 * unknown option or key, a missing or bad value, or an unreadable file. */
int options_load(const struct options_spec *spec, void *cfg, int argc, char **argv, int *first_arg,
                 char *err, size_t errlen);

#endif
