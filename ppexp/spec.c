/* Experiment specs: JSON (cJSON) into struct ppexp_spec, checked key by key
 * against the schema. Every error names the key and the offending
 * value; an unknown key or factor is an error (a typo must not silently run
 * the default). */
#include "spec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "claims.h"
#include "size.h"

/* Largest spec file read: a spec is a few hundred bytes. */
#define SPEC_FILE_MAX (64 * 1024)

static const char *const factor_names[PPEXP_NFACTORS] = {
    "forwarding", "replicas", "worker", "runtime", "cache", "stress", "placement"};
static const char *const forwarding_names[] = {"nat", "route", "balancer", "direct"};
static const char *const worker_names[] = {"proxyd", "squid", "nginx"};
static const char *const runtime_names[] = {"process", "container", "docker"};
static const char *const placement_names[] = {"split", "shared"};

const char *ppexp_factor_name(enum ppexp_factor f)
{
    return (unsigned)f < PPEXP_NFACTORS ? factor_names[f] : "?";
}

/* The names of an enumerated factor's levels; NULL for numeric ones.
 * "direct" (the baseline) is a forwarding value but no level a spec may ask for. */
static const char *const *enum_names(enum ppexp_factor f, int *n, int *nspec)
{
    switch (f) {
    case PPEXP_F_FORWARDING:
        *n = 4;
        *nspec = 3;
        return forwarding_names;
    case PPEXP_F_WORKER:
        *n = *nspec = 3;
        return worker_names;
    case PPEXP_F_RUNTIME:
        *n = *nspec = 3;
        return runtime_names;
    case PPEXP_F_PLACEMENT:
        *n = *nspec = 2;
        return placement_names;
    default:
        *n = *nspec = 0;
        return NULL;
    }
}

const char *ppexp_level_str(enum ppexp_factor f, int v, char *buf, size_t buflen)
{
    int n, nspec;
    const char *const *names = enum_names(f, &n, &nspec);
    if (names)
        return v >= 0 && v < n ? names[v] : "?";
    if (f == PPEXP_F_CACHE)
        return v ? "true" : "false";
    snprintf(buf, buflen, "%d", v);
    return buf;
}

int ppexp_level_parse(enum ppexp_factor f, const char *text, int *v)
{
    int n, nspec;
    const char *const *names = enum_names(f, &n, &nspec);
    if (names) {
        for (int i = 0; i < n; i++)
            if (strcmp(text, names[i]) == 0) {
                *v = i;
                return 0;
            }
        return -1;
    }
    if (f == PPEXP_F_CACHE) {
        if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0)
            *v = 1;
        else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
            *v = 0;
        else
            return -1;
        return 0;
    }
    char *end;
    errno = 0;
    long x = strtol(text, &end, 10);
    if (errno || end == text || *end || x < 0 || x > 1000000)
        return -1;
    *v = (int)x;
    return 0;
}

void ppexp_spec_defaults(struct ppexp_spec *s)
{
    memset(s, 0, sizeof(*s));
    s->clients = 64;
    s->object_bytes = 1 << 20;
    snprintf(s->object_size, sizeof(s->object_size), "1M");
    s->requests = 10;
    s->concurrency = 10;
    s->replicates = 3;
    s->replicates_min = 3;
    s->margin_default_pct = PPEXP_MARGIN_DEFAULT_PCT;
    s->warmup_s = 1;
    s->seed = 1;
    s->baseline = 1;
    s->measure = PPEXP_MEASURE_REQUESTS;
    /* Defaults of factors a spec leaves out: one level each. */
    s->factors[PPEXP_F_FORWARDING] = (struct ppexp_levels){1, {PPEXP_FWD_NAT}};
    s->factors[PPEXP_F_REPLICAS] = (struct ppexp_levels){1, {1}};
    s->factors[PPEXP_F_WORKER] = (struct ppexp_levels){1, {PPEXP_WORKER_PROXYD}};
    s->factors[PPEXP_F_RUNTIME] = (struct ppexp_levels){1, {PPEXP_RUNTIME_CONTAINER}};
    s->factors[PPEXP_F_CACHE] = (struct ppexp_levels){1, {1}};
    s->factors[PPEXP_F_STRESS] = (struct ppexp_levels){1, {0}};
    s->factors[PPEXP_F_PLACEMENT] = (struct ppexp_levels){1, {PPEXP_PLACEMENT_SPLIT}};
}

static int get_int(const cJSON *item, const char *key, long min, long max, long *out, char *err,
                   size_t errlen)
{
    if (!cJSON_IsNumber(item) || item->valuedouble != floor(item->valuedouble)) {
        snprintf(err, errlen, "\"%s\" must be a whole number", key);
        return -1;
    }
    double d = item->valuedouble;
    if (d < (double)min || d > (double)max) {
        snprintf(err, errlen, "\"%s\" is %g, outside %ld..%ld", key, d, min, max);
        return -1;
    }
    *out = (long)d;
    return 0;
}

static int parse_level(enum ppexp_factor f, const cJSON *item, int *v, char *err, size_t errlen)
{
    const char *fname = factor_names[f];
    int n, nspec;
    const char *const *names = enum_names(f, &n, &nspec);
    if (names) {
        if (!cJSON_IsString(item)) {
            snprintf(err, errlen, "factor \"%s\": levels must be strings", fname);
            return -1;
        }
        for (int i = 0; i < nspec; i++)
            if (strcmp(item->valuestring, names[i]) == 0) {
                *v = i;
                return 0;
            }
        char list[128] = "";
        for (int i = 0; i < nspec; i++) {
            strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
            strncat(list, names[i], sizeof(list) - strlen(list) - 1);
        }
        snprintf(err, errlen, "factor \"%s\": unknown level \"%.64s\" (one of %s)", fname,
                 item->valuestring, list);
        return -1;
    }
    if (f == PPEXP_F_CACHE) {
        if (!cJSON_IsBool(item)) {
            snprintf(err, errlen, "factor \"cache\": levels must be true or false");
            return -1;
        }
        *v = cJSON_IsTrue(item);
        return 0;
    }
    long max = f == PPEXP_F_REPLICAS ? PPEXP_REPLICAS_MAX : PPEXP_STRESS_MAX;
    long min = f == PPEXP_F_REPLICAS ? 1 : 0;
    long x;
    char key[64];
    snprintf(key, sizeof(key), "factors.%s", fname);
    if (get_int(item, key, min, max, &x, err, errlen) < 0)
        return -1;
    *v = (int)x;
    return 0;
}

static int parse_factors(const cJSON *obj, struct ppexp_spec *s, char *err, size_t errlen)
{
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "\"factors\" must be an object");
        return -1;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, obj)
    {
        int f = -1;
        for (int i = 0; i < PPEXP_NFACTORS; i++)
            if (strcmp(item->string, factor_names[i]) == 0)
                f = i;
        if (f < 0) {
            snprintf(err, errlen,
                     "unknown factor \"%.64s\" (factors: forwarding, replicas, worker, runtime, "
                     "cache, stress, placement)",
                     item->string);
            return -1;
        }
        if (!cJSON_IsArray(item)) {
            snprintf(err, errlen, "factor \"%s\" must be an array of levels", factor_names[f]);
            return -1;
        }
        int n = cJSON_GetArraySize(item);
        if (n == 0) {
            snprintf(err, errlen, "factor \"%s\" has no levels (an empty level list)",
                     factor_names[f]);
            return -1;
        }
        if (n > PPEXP_LEVELS_MAX) {
            snprintf(err, errlen, "factor \"%s\" has %d levels, more than %d", factor_names[f], n,
                     PPEXP_LEVELS_MAX);
            return -1;
        }
        struct ppexp_levels *lv = &s->factors[f];
        lv->n = 0;
        const cJSON *level;
        cJSON_ArrayForEach(level, item)
        {
            int v;
            if (parse_level((enum ppexp_factor)f, level, &v, err, errlen) < 0)
                return -1;
            for (int i = 0; i < lv->n; i++)
                if (lv->v[i] == v) {
                    char buf[16];
                    snprintf(err, errlen, "factor \"%s\": level %s given twice", factor_names[f],
                             ppexp_level_str((enum ppexp_factor)f, v, buf, sizeof(buf)));
                    return -1;
                }
            lv->v[lv->n++] = v;
        }
    }
    return 0;
}

/* "replicates": N (a fixed number of blocks) or {"min": a, "max": b}
 * (adaptive: stopping.h). */
static int parse_replicates(const cJSON *item, struct ppexp_spec *s, char *err, size_t errlen)
{
    long x;
    if (cJSON_IsNumber(item)) {
        if (get_int(item, "replicates", 1, PPEXP_REPLICATES_MAX, &x, err, errlen) < 0)
            return -1;
        s->replicates = s->replicates_min = (int)x;
        return 0;
    }
    if (!cJSON_IsObject(item)) {
        snprintf(err, errlen, "\"replicates\" must be a whole number or {\"min\": N, \"max\": M}");
        return -1;
    }
    const cJSON *k;
    cJSON_ArrayForEach(k, item)
    {
        if (strcmp(k->string, "min") != 0 && strcmp(k->string, "max") != 0) {
            snprintf(err, errlen, "unknown key \"replicates.%.64s\" (keys: min, max)", k->string);
            return -1;
        }
    }
    const cJSON *mn = cJSON_GetObjectItemCaseSensitive(item, "min");
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(item, "max");
    if (!mn || !mx) {
        snprintf(err, errlen, "\"replicates\" needs both \"min\" and \"max\"");
        return -1;
    }
    if (get_int(mn, "replicates.min", 1, PPEXP_REPLICATES_MAX, &x, err, errlen) < 0)
        return -1;
    s->replicates_min = (int)x;
    if (get_int(mx, "replicates.max", 1, PPEXP_REPLICATES_MAX, &x, err, errlen) < 0)
        return -1;
    s->replicates = (int)x;
    if (s->replicates < s->replicates_min) {
        snprintf(err, errlen, "\"replicates\": max %d is below min %d", s->replicates,
                 s->replicates_min);
        return -1;
    }
    return 0;
}

static int margin_value(const cJSON *item, const char *key, double *pct, char *err, size_t errlen)
{
    if (!cJSON_IsNumber(item) || !(item->valuedouble > 0) ||
        item->valuedouble >= PPEXP_MARGIN_MAX_PCT) {
        snprintf(err, errlen, "\"%s\" must be a percentage above 0 and below %.0f", key,
                 PPEXP_MARGIN_MAX_PCT);
        return -1;
    }
    *pct = item->valuedouble;
    return 0;
}

/* "margins_pct": N, or {"default": N, "C2": M, ...} naming claims. */
static int parse_margins(const cJSON *item, struct ppexp_spec *s, char *err, size_t errlen)
{
    if (cJSON_IsNumber(item))
        return margin_value(item, "margins_pct", &s->margin_default_pct, err, errlen);
    if (!cJSON_IsObject(item)) {
        snprintf(err, errlen, "\"margins_pct\" must be a percentage or an object of them");
        return -1;
    }
    const cJSON *k;
    cJSON_ArrayForEach(k, item)
    {
        char key[80];
        snprintf(key, sizeof(key), "margins_pct.%.64s", k->string);
        if (strcmp(k->string, "default") == 0) {
            if (margin_value(k, key, &s->margin_default_pct, err, errlen) < 0)
                return -1;
            continue;
        }
        if (ppexp_claim_index(k->string) < 0) {
            char list[128] = "";
            for (size_t i = 0; i < ppexp_claims_count(); i++) {
                strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
                strncat(list, ppexp_claim_at(i)->id, sizeof(list) - strlen(list) - 1);
            }
            snprintf(err, errlen, "\"%s\": no such claim (default, %s)", key, list);
            return -1;
        }
        if (s->nmargins == PPEXP_MARGINS_MAX) {
            snprintf(err, errlen, "\"margins_pct\": more than %d margins", PPEXP_MARGINS_MAX);
            return -1;
        }
        struct ppexp_margin *m = &s->margins[s->nmargins];
        if (margin_value(k, key, &m->pct, err, errlen) < 0)
            return -1;
        snprintf(m->claim, sizeof(m->claim), "%s", k->string);
        s->nmargins++;
    }
    return 0;
}

static const char *const spec_keys[] = {
    "name",     "description", "clients",  "object_size", "requests", "concurrency", "replicates",
    "warmup_s", "seed",        "baseline", "measure",     "factors",  "margins_pct", "duration_s"};

static int parse_root(const cJSON *root, struct ppexp_spec *s, char *err, size_t errlen)
{
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "a spec is a JSON object");
        return -1;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, root)
    {
        size_t i;
        for (i = 0; i < sizeof(spec_keys) / sizeof(spec_keys[0]); i++)
            if (strcmp(item->string, spec_keys[i]) == 0)
                break;
        if (i == sizeof(spec_keys) / sizeof(spec_keys[0])) {
            snprintf(err, errlen,
                     "unknown key \"%.64s\" (keys: name, description, clients, object_size, "
                     "requests, concurrency, replicates, warmup_s, seed, baseline, measure, "
                     "factors, margins_pct, duration_s)",
                     item->string);
            return -1;
        }
    }
    long x;
    item = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (!cJSON_IsString(item) || !item->valuestring[0]) {
        snprintf(err, errlen, "\"name\" is required: a non-empty string");
        return -1;
    }
    size_t len = strlen(item->valuestring);
    if (len >= sizeof(s->name) ||
        strspn(item->valuestring, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                  "._-") != len) {
        snprintf(err, errlen,
                 "\"name\" must be 1-%zu of [A-Za-z0-9._-] (it names the results "
                 "directory)",
                 sizeof(s->name) - 1);
        return -1;
    }
    snprintf(s->name, sizeof(s->name), "%s", item->valuestring);
    if ((item = cJSON_GetObjectItemCaseSensitive(root, "description"))) {
        if (!cJSON_IsString(item)) {
            snprintf(err, errlen, "\"description\" must be a string");
            return -1;
        }
        snprintf(s->description, sizeof(s->description), "%s", item->valuestring);
    }
    struct {
        const char *key;
        long min, max;
        int *out;
    } ints[] = {
        {"clients", 1, PPEXP_CLIENTS_MAX, &s->clients},
        {"requests", 1, PPEXP_REQUESTS_MAX, &s->requests},
        {"concurrency", 1, PPEXP_CONCURRENCY_MAX, &s->concurrency},
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        if (!(item = cJSON_GetObjectItemCaseSensitive(root, ints[i].key)))
            continue;
        if (get_int(item, ints[i].key, ints[i].min, ints[i].max, &x, err, errlen) < 0)
            return -1;
        *ints[i].out = (int)x;
    }
    if ((item = cJSON_GetObjectItemCaseSensitive(root, "replicates")) &&
        parse_replicates(item, s, err, errlen) < 0)
        return -1;
    if ((item = cJSON_GetObjectItemCaseSensitive(root, "margins_pct")) &&
        parse_margins(item, s, err, errlen) < 0)
        return -1;
    if ((item = cJSON_GetObjectItemCaseSensitive(root, "object_size"))) {
        uint64_t bytes;
        char text[32];
        if (cJSON_IsNumber(item)) {
            if (get_int(item, "object_size", 1, (long)PPEXP_OBJECT_MAX, &x, err, errlen) < 0)
                return -1;
            snprintf(text, sizeof(text), "%ld", x);
        } else if (cJSON_IsString(item) && strlen(item->valuestring) < sizeof(text)) {
            snprintf(text, sizeof(text), "%s", item->valuestring);
        } else {
            snprintf(err, errlen, "\"object_size\" must be bytes or a size such as \"1M\"");
            return -1;
        }
        char serr[128];
        if (size_parse(text, &bytes, serr, sizeof(serr)) < 0) {
            snprintf(err, errlen, "\"object_size\": %s", serr);
            return -1;
        }
        if (bytes < 1 || bytes > PPEXP_OBJECT_MAX) {
            snprintf(err, errlen, "\"object_size\" is %s, outside 1 byte..256M", text);
            return -1;
        }
        /* The testbed takes bytes or a K/M/G suffix; pass it plain bytes. */
        s->object_bytes = bytes;
        snprintf(s->object_size, sizeof(s->object_size), "%llu", (unsigned long long)bytes);
    }
    if ((item = cJSON_GetObjectItemCaseSensitive(root, "warmup_s"))) {
        if (!cJSON_IsNumber(item) || !(item->valuedouble >= 0) ||
            item->valuedouble > PPEXP_WARMUP_MAX_S) {
            snprintf(err, errlen, "\"warmup_s\" must be a number of seconds in 0..%d",
                     PPEXP_WARMUP_MAX_S);
            return -1;
        }
        s->warmup_s = item->valuedouble;
    }
    if ((item = cJSON_GetObjectItemCaseSensitive(root, "duration_s"))) {
        if (!cJSON_IsNumber(item) || !(item->valuedouble > 0) ||
            item->valuedouble > PPEXP_DURATION_MAX_S) {
            snprintf(err, errlen, "\"duration_s\" must be a number of seconds above 0, up to %d",
                     PPEXP_DURATION_MAX_S);
            return -1;
        }
        s->duration_s = item->valuedouble;
    }
    if ((item = cJSON_GetObjectItemCaseSensitive(root, "seed"))) {
        /* 2^53: the largest integer a JSON number carries exactly. */
        if (get_int(item, "seed", 0, 9007199254740992L, &x, err, errlen) < 0)
            return -1;
        s->seed = (uint64_t)x;
    }
    if ((item = cJSON_GetObjectItemCaseSensitive(root, "baseline"))) {
        if (!cJSON_IsBool(item)) {
            snprintf(err, errlen, "\"baseline\" must be true or false");
            return -1;
        }
        s->baseline = cJSON_IsTrue(item);
    }
    if ((item = cJSON_GetObjectItemCaseSensitive(root, "measure"))) {
        if (cJSON_IsString(item) && strcmp(item->valuestring, "requests") == 0)
            s->measure = PPEXP_MEASURE_REQUESTS;
        else if (cJSON_IsString(item) && strcmp(item->valuestring, "instantiate") == 0)
            s->measure = PPEXP_MEASURE_INSTANTIATE;
        else {
            snprintf(err, errlen, "\"measure\" must be \"requests\" or \"instantiate\"");
            return -1;
        }
    }
    if ((item = cJSON_GetObjectItemCaseSensitive(root, "factors")) &&
        parse_factors(item, s, err, errlen) < 0)
        return -1;
    if (ppexp_spec_uses_docker(s)) {
        const struct ppexp_levels *w = &s->factors[PPEXP_F_WORKER];
        for (int i = 0; i < w->n; i++)
            if (w->v[i] != PPEXP_WORKER_PROXYD) {
                char buf[16];
                snprintf(err, errlen,
                         "factor \"runtime\": docker runs the proxyd worker only (there is no "
                         "%s image; make images builds proxypool/proxyd), but \"worker\" lists "
                         "%s: drop docker from \"runtime\" or list only proxyd",
                         ppexp_level_str(PPEXP_F_WORKER, w->v[i], buf, sizeof(buf)),
                         ppexp_level_str(PPEXP_F_WORKER, w->v[i], buf, sizeof(buf)));
                return -1;
            }
    }
    if (s->measure == PPEXP_MEASURE_INSTANTIATE && s->baseline) {
        snprintf(err, errlen,
                 "\"baseline\" needs \"measure\": \"requests\" (an instantiation has no "
                 "direct-to-origin counterpart); set it to false");
        return -1;
    }
    return 0;
}

int ppexp_spec_parse(const char *json, struct ppexp_spec *s, char *err, size_t errlen)
{
    ppexp_spec_defaults(s);
    cJSON *root = cJSON_Parse(json);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t line = 1;
        if (at)
            for (const char *p = json; p < at && *p; p++)
                line += *p == '\n';
        snprintf(err, errlen, "invalid JSON near line %zu: \"%.24s\"", line, at ? at : "");
        return -1;
    }
    int rc = parse_root(root, s, err, errlen);
    cJSON_Delete(root);
    return rc;
}

int ppexp_spec_uses_docker(const struct ppexp_spec *s)
{
    const struct ppexp_levels *rt = &s->factors[PPEXP_F_RUNTIME];
    for (int i = 0; i < rt->n; i++)
        if (rt->v[i] == PPEXP_RUNTIME_DOCKER)
            return 1;
    return 0;
}

int ppexp_spec_load(const char *path, struct ppexp_spec *s, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open spec %s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(SPEC_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "out of memory reading %s", path);
        return -1;
    }
    size_t n = fread(buf, 1, SPEC_FILE_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > SPEC_FILE_MAX) {
        snprintf(err, errlen, "%s: %s", path, bad ? "read error" : "larger than 64 KiB");
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    char inner[384];
    int rc = ppexp_spec_parse(buf, s, inner, sizeof(inner));
    if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, inner);
    free(buf);
    return rc;
}

char *ppexp_spec_to_json(const struct ppexp_spec *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "name", s->name);
    if (s->description[0])
        cJSON_AddStringToObject(o, "description", s->description);
    cJSON_AddNumberToObject(o, "clients", s->clients);
    cJSON_AddNumberToObject(o, "object_size", (double)s->object_bytes);
    cJSON_AddNumberToObject(o, "requests", s->requests);
    cJSON_AddNumberToObject(o, "concurrency", s->concurrency);
    if (s->replicates_min < s->replicates) {
        cJSON *r = cJSON_AddObjectToObject(o, "replicates");
        cJSON_AddNumberToObject(r, "min", s->replicates_min);
        cJSON_AddNumberToObject(r, "max", s->replicates);
    } else {
        cJSON_AddNumberToObject(o, "replicates", s->replicates);
    }
    cJSON *m = cJSON_AddObjectToObject(o, "margins_pct");
    cJSON_AddNumberToObject(m, "default", s->margin_default_pct);
    for (int i = 0; i < s->nmargins; i++)
        cJSON_AddNumberToObject(m, s->margins[i].claim, s->margins[i].pct);
    cJSON_AddNumberToObject(o, "warmup_s", s->warmup_s);
    if (s->duration_s > 0)
        cJSON_AddNumberToObject(o, "duration_s", s->duration_s);
    cJSON_AddNumberToObject(o, "seed", (double)s->seed);
    cJSON_AddBoolToObject(o, "baseline", s->baseline);
    cJSON_AddStringToObject(o, "measure",
                            s->measure == PPEXP_MEASURE_INSTANTIATE ? "instantiate" : "requests");
    cJSON *fs = cJSON_AddObjectToObject(o, "factors");
    for (int f = 0; f < PPEXP_NFACTORS; f++) {
        cJSON *a = cJSON_AddArrayToObject(fs, factor_names[f]);
        for (int i = 0; i < s->factors[f].n; i++) {
            int v = s->factors[f].v[i];
            char buf[16];
            if (f == PPEXP_F_REPLICAS || f == PPEXP_F_STRESS)
                cJSON_AddItemToArray(a, cJSON_CreateNumber(v));
            else if (f == PPEXP_F_CACHE)
                cJSON_AddItemToArray(a, cJSON_CreateBool(v));
            else
                cJSON_AddItemToArray(a, cJSON_CreateString(ppexp_level_str((enum ppexp_factor)f, v,
                                                                           buf, sizeof(buf))));
        }
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}
