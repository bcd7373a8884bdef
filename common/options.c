/* The option table machinery: one parser per kind of value, getopt_long for
 * the command line, cJSON for --config files, and a --help printer that
 * wraps each option's text and adds its default. */
#include "options.h"

#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cJSON.h>

#include "addr.h"
#include "size.h"

/* Config files are small; anything larger is a mistake, not a config. */
#define OPTIONS_FILE_MAX_BYTES (1024 * 1024)

/* Prints text wrapped at 78 columns, each line indented by 8. */
static void print_wrapped(FILE *out, const char *text)
{
    const int indent = 8, width = 78;
    int col = 0;
    const char *p = text;
    while (*p) {
        const char *end = p;
        while (*end && *end != ' ')
            end++;
        int wl = (int)(end - p);
        if (col == 0) {
            fprintf(out, "%*s", indent, "");
            col = indent;
        } else if (col + 1 + wl > width) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        } else {
            fputc(' ', out);
            col++;
        }
        fprintf(out, "%.*s", wl, p);
        col += wl;
        p = *end ? end + 1 : end;
    }
    fputc('\n', out);
}

int options_takes_value(const struct option_def *o)
{
    return o->kind != OPTION_FLAG && o->kind != OPTION_FLAG_OFF;
}

/* "debug|info|warn|error": an enum's metavariable when the table gives none. */
static void enum_metavar(const char *const *names, char *out, size_t outlen)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; names[i] && len < outlen; i++)
        len += (size_t)snprintf(out + len, outlen - len, "%s%s", i ? "|" : "", names[i]);
}

static const char *option_metavar(const struct option_def *o, char *buf, size_t buflen)
{
    if (o->arg || !options_takes_value(o))
        return o->arg;
    if ((o->kind == OPTION_ENUM || o->kind == OPTION_ENUM_NAME) && o->names) {
        enum_metavar(o->names, buf, buflen);
        return buf;
    }
    static const char *const by_kind[] = {
        [OPTION_STRING] = "TEXT",    [OPTION_SIZE] = "SIZE", [OPTION_DURATION] = "DURATION",
        [OPTION_ADDR] = "ADDR:PORT", [OPTION_COUNT] = "N",   [OPTION_CUSTOM] = "VALUE",
    };
    const char *m =
        (size_t)o->kind < sizeof(by_kind) / sizeof(by_kind[0]) ? by_kind[o->kind] : NULL;
    return m ? m : "VALUE";
}

void options_usage(const struct options_spec *spec, FILE *out)
{
    fprintf(out, "%s\nOptions:\n  --config FILE\n", spec->synopsis);
    print_wrapped(out, "JSON file with any option below as a key (dashes or underscores; "
                       "repeatable ones as arrays, flags as true); the command line wins over "
                       "single values, and repeatable options from both add up");
    for (size_t i = 0; i < spec->ndefs; i++) {
        const struct option_def *o = &spec->defs[i];
        char text[768], metavar[128];
        const char *arg = option_metavar(o, metavar, sizeof(metavar));
        const char *deflt = o->deflt_text ? o->deflt_text : o->deflt;
        fprintf(out, "  --%s%s%s\n", o->name, arg ? " " : "", arg ? arg : "");
        snprintf(text, sizeof(text), "%s%s%s%s", o->help, deflt ? " (default: " : "",
                 deflt ? deflt : "", deflt ? ")" : "");
        print_wrapped(out, text);
    }
    fprintf(out, "  --help, --version\n");
    if (spec->epilog)
        fprintf(out, "\n%s", spec->epilog);
}

/* ---------------------------------------------------------------- one parser per kind */

static void *option_field(void *cfg, const struct option_def *o)
{
    return (char *)cfg + o->offset;
}

/* Stores v into an int or 64-bit field, whichever the table points at. */
static void store_integer(void *field, size_t size, long long v)
{
    if (size == sizeof(int)) {
        int i = (int)v;
        memcpy(field, &i, sizeof(i));
    } else {
        int64_t w = (int64_t)v;
        memcpy(field, &w, sizeof(w));
    }
}

/* "is out of range 1..64" or "is out of range (at least 16M)", with the
 * table's reason after it: the option name is added by the caller. */
static void range_error(const struct option_def *o, const char *v, const char *lo, const char *hi,
                        char *err, size_t errlen)
{
    const char *why = o->limit_why;
    if (hi)
        snprintf(err, errlen, "%s is out of range %s..%s%s%s%s", v, lo, hi, why ? " (" : "",
                 why ? why : "", why ? ")" : "");
    else
        snprintf(err, errlen, "%s is out of range (at least %s)%s%s%s", v, lo, why ? " (" : "",
                 why ? why : "", why ? ")" : "");
}

static int parse_string(const struct option_def *o, void *field, const char *v, char *err,
                        size_t errlen)
{
    size_t len = strlen(v);
    if (len < (size_t)o->min || len >= o->size) {
        if (o->min > 0)
            snprintf(err, errlen, "must be %lld to %zu characters", o->min, o->size - 1);
        else
            snprintf(err, errlen, "at most %zu characters", o->size - 1);
        return -1;
    }
    memcpy(field, v, len + 1);
    return 0;
}

static int parse_size(const struct option_def *o, void *field, const char *v, char *err,
                      size_t errlen)
{
    uint64_t b;
    if (size_parse(v, &b, err, errlen) < 0)
        return -1;
    if (b < (uint64_t)o->min || (o->max && b > (uint64_t)o->max)) {
        char lo[32], hi[32];
        size_format((uint64_t)o->min, lo, sizeof(lo));
        size_format((uint64_t)o->max, hi, sizeof(hi));
        range_error(o, v, lo, o->max ? hi : NULL, err, errlen);
        return -1;
    }
    memcpy(field, &b, sizeof(b));
    return 0;
}

static int parse_duration(const struct option_def *o, void *field, const char *v, char *err,
                          size_t errlen)
{
    uint64_t ms;
    if (duration_parse_ms(v, &ms, err, errlen) < 0)
        return -1;
    if (ms < (uint64_t)o->min || (o->max && ms > (uint64_t)o->max)) {
        char lo[32], hi[32];
        duration_format((uint64_t)o->min, lo, sizeof(lo));
        duration_format((uint64_t)o->max, hi, sizeof(hi));
        range_error(o, v, lo, o->max ? hi : NULL, err, errlen);
        return -1;
    }
    memcpy(field, &ms, sizeof(ms));
    return 0;
}

static int parse_count(const struct option_def *o, void *field, const char *v, char *err,
                       size_t errlen)
{
    long n;
    if (int_parse(v, LONG_MIN, LONG_MAX, &n, err, errlen) < 0)
        return -1;
    if (n < o->min || n > o->max) {
        char lo[32], hi[32];
        snprintf(lo, sizeof(lo), "%lld", o->min);
        snprintf(hi, sizeof(hi), "%lld", o->max);
        range_error(o, v, lo, hi, err, errlen);
        return -1;
    }
    store_integer(field, o->size, n);
    return 0;
}

/* What goes before the i-th of n names in "a, b or c". */
static const char *list_separator(size_t i, size_t n)
{
    if (i == 0)
        return "";
    return i + 1 == n ? " or " : ", ";
}

/* "is debug, info, warn or error, not 'loud'". */
static void enum_error(const char *const *names, const char *v, char *err, size_t errlen)
{
    size_t n = 0, len;
    while (names[n])
        n++;
    len = (size_t)snprintf(err, errlen, "is ");
    for (size_t i = 0; i < n && len < errlen; i++)
        len += (size_t)snprintf(err + len, errlen - len, "%s%s", list_separator(i, n), names[i]);
    if (len < errlen)
        snprintf(err + len, errlen - len, ", not '%.64s'", v);
}

static int parse_enum(const struct option_def *o, void *field, const char *v, char *err,
                      size_t errlen)
{
    for (size_t i = 0; o->names[i]; i++) {
        if (strcasecmp(v, o->names[i]) != 0)
            continue;
        if (o->kind == OPTION_ENUM_NAME)
            snprintf(field, o->size, "%s", o->names[i]);
        else
            store_integer(field, o->size, (long long)i);
        return 0;
    }
    enum_error(o->names, v, err, errlen);
    return -1;
}

/* Parses v by o's kind into its field; 0, or -1 with err (no option name). */
static int option_parse(void *cfg, const struct option_def *o, const char *v, char *err,
                        size_t errlen)
{
    void *field = option_field(cfg, o);
    int on = 1;
    switch (o->kind) {
    case OPTION_CUSTOM:
        return o->set(cfg, v, err, errlen);
    case OPTION_FLAG_OFF:
        on = 0;
        /* fall through */
    case OPTION_FLAG:
        store_integer(field, o->size, on);
        return 0;
    case OPTION_STRING:
        return parse_string(o, field, v, err, errlen);
    case OPTION_SIZE:
        return parse_size(o, field, v, err, errlen);
    case OPTION_DURATION:
        return parse_duration(o, field, v, err, errlen);
    case OPTION_ADDR:
        return addr_parse(v, -1, field, err, errlen);
    case OPTION_COUNT:
        return parse_count(o, field, v, err, errlen);
    case OPTION_ENUM:
    case OPTION_ENUM_NAME:
        return parse_enum(o, field, v, err, errlen);
    }
    snprintf(err, errlen, "unknown option kind %d", (int)o->kind);
    return -1;
}

/* A flag's default says whether the flag is in effect: "on" or "off". */
static int flag_default(void *cfg, const struct option_def *o, char *err, size_t errlen)
{
    int in_effect = strcmp(o->deflt, "on") == 0;
    if (!in_effect && strcmp(o->deflt, "off") != 0) {
        snprintf(err, errlen, "default '%s' is neither on nor off", o->deflt);
        return -1;
    }
    int set = o->kind == OPTION_FLAG ? in_effect : !in_effect;
    store_integer(option_field(cfg, o), o->size, set);
    return 0;
}

int options_defaults(const struct options_spec *spec, void *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < spec->ndefs; i++) {
        const struct option_def *o = &spec->defs[i];
        char inner[192];
        int rc = 0;
        if (!o->deflt)
            continue;
        if (!options_takes_value(o)) {
            rc = flag_default(cfg, o, inner, sizeof(inner));
        } else {
            rc = option_parse(cfg, o, o->deflt, inner, sizeof(inner));
        }
        if (rc < 0) {
            snprintf(err, errlen, "--%s: bad default: %s", o->name, inner);
            return -1;
        }
    }
    return 0;
}

static const struct option_def *option_find(const struct options_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->ndefs; i++) {
        const char *a = spec->defs[i].name, *b = name;
        while (*a && *b && (*a == *b || (*a == '-' && *b == '_')))
            a++, b++;
        if (!*a && !*b)
            return &spec->defs[i];
    }
    return NULL;
}

static int apply(void *cfg, const struct option_def *o, const char *v, char *err, size_t errlen)
{
    char inner[192];
    if (option_parse(cfg, o, v, inner, sizeof(inner)) < 0) {
        snprintf(err, errlen, "--%s: %s", o->name, inner);
        return -1;
    }
    return 0;
}

static int apply_json_value(void *cfg, const struct option_def *o, const cJSON *v, char *err,
                            size_t errlen)
{
    char buf[64];
    if (!options_takes_value(o)) { /* a flag: true or false, nothing else */
        if (cJSON_IsBool(v))
            return cJSON_IsTrue(v) ? apply(cfg, o, "", err, errlen) : 0;
        snprintf(err, errlen, "config key '%s': wrong type (a flag takes true or false)", o->name);
        return -1;
    }
    if (cJSON_IsString(v))
        return apply(cfg, o, v->valuestring, err, errlen);
    if (cJSON_IsNumber(v)) {
        /* Exactly as written: 1.5 stays 1.5 (a duration), and 2.5 where an
         * integer is wanted is refused by its parser rather than rounded. */
        snprintf(buf, sizeof(buf), "%.15g", v->valuedouble);
        return apply(cfg, o, buf, err, errlen);
    }
    snprintf(err, errlen, "config key '%s': wrong type", o->name);
    return -1;
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open config %s", path);
        return NULL;
    }
    char *text = malloc(OPTIONS_FILE_MAX_BYTES + 1);
    if (!text) {
        fclose(f);
        snprintf(err, errlen, "out of memory reading %s", path);
        return NULL;
    }
    size_t n = fread(text, 1, OPTIONS_FILE_MAX_BYTES + 1, f);
    fclose(f);
    if (n > OPTIONS_FILE_MAX_BYTES) {
        free(text);
        snprintf(err, errlen, "config %s is over 1 MiB", path);
        return NULL;
    }
    if (n == 0) {
        free(text);
        snprintf(err, errlen, "config %s is empty", path);
        return NULL;
    }
    text[n] = '\0';
    *len = n;
    return text;
}

static int load_json(const struct options_spec *spec, void *cfg, const char *path, char *err,
                     size_t errlen)
{
    size_t len;
    char *text = read_file(path, &len, err, errlen);
    if (!text)
        return -1;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root || !cJSON_IsObject(root)) {
        const char *at = cJSON_GetErrorPtr();
        snprintf(err, errlen, "config %s: not a JSON object (at byte %ld)", path,
                 at && at >= text ? (long)(at - text) : 0L);
        cJSON_Delete(root);
        free(text);
        return -1;
    }
    int rc = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root)
    {
        const struct option_def *o = option_find(spec, item->string);
        if (!o) {
            snprintf(err, errlen, "config %s: unknown key '%s'", path, item->string);
            rc = -1;
            break;
        }
        if (cJSON_IsArray(item)) {
            const cJSON *el;
            cJSON_ArrayForEach(el, item)
            {
                if ((rc = apply_json_value(cfg, o, el, err, errlen)) < 0)
                    break;
            }
        } else {
            rc = apply_json_value(cfg, o, item, err, errlen);
        }
        if (rc < 0)
            break;
    }
    cJSON_Delete(root);
    free(text);
    return rc;
}

int options_load(const struct options_spec *spec, void *cfg, int argc, char **argv, int *first_arg,
                 char *err, size_t errlen)
{
    size_t n = spec->ndefs;
    struct option *longopts = calloc(n + 4, sizeof(*longopts));
    if (!longopts) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        longopts[i].name = spec->defs[i].name;
        longopts[i].has_arg = options_takes_value(&spec->defs[i]) ? required_argument : no_argument;
        longopts[i].val = 1000 + (int)i;
    }
    longopts[n] = (struct option){"config", required_argument, NULL, 'c'};
    longopts[n + 1] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[n + 2] = (struct option){"version", no_argument, NULL, 'V'};
    /* '+': stop at the first positional argument (ppctl scale 3). */
    const char *shortopts = spec->positional ? "+" : "";
    int rc = 0, ch;
    const char *config_path = NULL;

    /* First pass: --config, --help, --version and unknown options. */
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (ch == 'h') {
            options_usage(spec, stdout);
            rc = 1;
            goto out;
        }
        if (ch == 'V') {
            printf("%s %s\n", spec->program, spec->version);
            rc = 1;
            goto out;
        }
        if (ch == 'c')
            config_path = optarg;
        if (ch == '?') {
            /* Inside a cluster of short options ("-xy") optind has not moved
             * past it yet: name the letter, not argv[0]. */
            if (optind < 2 && optopt > 0 && optopt < 128)
                snprintf(err, errlen, "unknown option -%c (see --help)", optopt);
            else
                snprintf(err, errlen, "unknown option or missing value: %s (see --help)",
                         argv[optind - 1]);
            rc = -1;
            goto out;
        }
    }
    if (optind < argc && !spec->positional) {
        snprintf(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
        rc = -1;
        goto out;
    }
    if (first_arg)
        *first_arg = optind;
    if (config_path && load_json(spec, cfg, config_path, err, errlen) < 0) {
        rc = -1;
        goto out;
    }
    /* Second pass: the command line, over the file. */
    optind = 1;
    while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (ch >= 1000 &&
            apply(cfg, &spec->defs[ch - 1000], optarg ? optarg : "", err, errlen) < 0) {
            rc = -1;
            goto out;
        }
    }
out:
    free(longopts);
    return rc;
}
