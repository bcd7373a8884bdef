/* The option table machinery: getopt_long for the command line, cJSON for
 * --config files, and a --help printer that wraps each option's text. */
#include "options.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

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

void options_usage(const struct options_spec *spec, FILE *out)
{
    fprintf(out, "%s\nOptions:\n  --config FILE\n", spec->synopsis);
    print_wrapped(out, "JSON file with any option below as a key (dashes or underscores; "
                       "repeatable ones as arrays, flags as true); the command line wins over "
                       "single values, and repeatable options from both add up");
    for (size_t i = 0; i < spec->ndefs; i++) {
        const struct option_def *o = &spec->defs[i];
        char text[768];
        fprintf(out, "  --%s%s%s\n", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        snprintf(text, sizeof(text), "%s%s%s%s", o->help, o->deflt ? " (default: " : "",
                 o->deflt ? o->deflt : "", o->deflt ? ")" : "");
        print_wrapped(out, text);
    }
    fprintf(out, "  --help, --version\n");
    if (spec->epilog)
        fprintf(out, "\n%s", spec->epilog);
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
    if (o->set(cfg, v, inner, sizeof(inner)) < 0) {
        snprintf(err, errlen, "--%s: %s", o->name, inner);
        return -1;
    }
    return 0;
}

static int apply_json_value(void *cfg, const struct option_def *o, const cJSON *v, char *err,
                            size_t errlen)
{
    char buf[64];
    if (!o->arg) { /* a flag: true or false, nothing else */
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
        longopts[i].has_arg = spec->defs[i].arg ? required_argument : no_argument;
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
