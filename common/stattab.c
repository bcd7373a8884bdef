/* Writes and reads the figures a stattab_field table describes: Prometheus
 * samples through common/prom, JSON members through cJSON. */
#include "stattab.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

/* Largest count a JSON number (a double) carries exactly. */
#define STATTAB_COUNT_MAX 9007199254740992.0

static const void *field_ptr(const struct stattab_field *f, const void *view)
{
    return (const char *)view + f->offset;
}

double stattab_value(const struct stattab_field *f, const void *view)
{
    const void *v = field_ptr(f, view);
    switch (f->kind) {
    case STATTAB_U64:
        return (double)*(const uint64_t *)v;
    case STATTAB_BOOL:
        return *(const int *)v ? 1 : 0;
    case STATTAB_DOUBLE:
    case STATTAB_OPT:
        break;
    }
    return *(const double *)v;
}

/* One sample of f: the field's own label, if any, after the view's label
 * (backend="a",kind="x"); view_label may be NULL. */
static void write_prom_sample(struct prom *p, const struct stattab_field *f, double value,
                              const struct prom_label *view_label)
{
    struct prom_label labels[2];
    size_t n = 0;
    if (view_label != NULL)
        labels[n++] = *view_label;
    if (f->label_name != NULL)
        labels[n++] = (struct prom_label){f->label_name, f->label_value};
    prom_family(p, f->prom, f->type, f->help);
    prom_sample(p, f->prom, labels, n, value);
}

void stattab_write_prom(struct prom *p, const struct stattab_field *t, size_t n, const void *view)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].prom != NULL)
            write_prom_sample(p, &t[i], stattab_value(&t[i], view), NULL);
}

void stattab_write_prom_each(struct prom *p, const struct stattab_field *t, size_t n,
                             const void *const *views, const char *const *values, size_t nviews,
                             const char *label_name)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i].prom == NULL)
            continue;
        /* A family with no view still gets its HELP and TYPE, as before
         * there was a table: a dashboard sees the metric exists. */
        prom_family(p, t[i].prom, t[i].type, t[i].help);
        for (size_t k = 0; k < nviews; k++) {
            struct prom_label l = {label_name, values[k]};
            write_prom_sample(p, &t[i], stattab_value(&t[i], views[k]), &l);
        }
    }
}

/* Splits "object.key": the object (made in o on first use) and the key. */
static cJSON *json_parent(cJSON *o, const char *path, const char **key)
{
    const char *dot = strchr(path, '.');
    if (dot == NULL) {
        *key = path;
        return o;
    }
    char name[64];
    snprintf(name, sizeof(name), "%.*s", (int)(dot - path), path);
    *key = dot + 1;
    cJSON *child = cJSON_GetObjectItemCaseSensitive(o, name);
    if (cJSON_IsObject(child))
        return child;
    return cJSON_AddObjectToObject(o, name);
}

static cJSON *json_add(cJSON *o, const char *key, const struct stattab_field *f, const void *view)
{
    double v = stattab_value(f, view);
    switch (f->kind) {
    case STATTAB_BOOL:
        return cJSON_AddBoolToObject(o, key, v != 0);
    case STATTAB_OPT:
        if (v < 0)
            return cJSON_AddNullToObject(o, key);
        break;
    case STATTAB_U64:
    case STATTAB_DOUBLE:
        break;
    }
    return cJSON_AddNumberToObject(o, key, v);
}

int stattab_write_json(cJSON *o, const struct stattab_field *t, size_t n, const void *view)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i].json == NULL)
            continue;
        const char *key;
        cJSON *parent = json_parent(o, t[i].json, &key);
        if (parent == NULL || json_add(parent, key, &t[i], view) == NULL)
            return -1;
    }
    return 0;
}

static const cJSON *json_find(const cJSON *o, const char *path, const char **key)
{
    const char *dot = strchr(path, '.');
    *key = path;
    if (dot == NULL)
        return cJSON_GetObjectItemCaseSensitive(o, path);
    char name[64];
    snprintf(name, sizeof(name), "%.*s", (int)(dot - path), path);
    const cJSON *parent = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsObject(parent) ? cJSON_GetObjectItemCaseSensitive(parent, dot + 1) : NULL;
}

/* 0, or -1 with what is wrong with v (the caller names the field). */
static int json_read(const cJSON *v, const struct stattab_field *f, void *view, const char **why)
{
    void *dst = (char *)view + f->offset;
    switch (f->kind) {
    case STATTAB_BOOL:
        if (!cJSON_IsBool(v)) {
            *why = "is not true or false";
            return -1;
        }
        *(int *)dst = cJSON_IsTrue(v);
        return 0;
    case STATTAB_OPT:
        if (v == NULL || cJSON_IsNull(v)) {
            *(double *)dst = -1;
            return 0;
        }
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0) {
            *why = "is not a number >= 0 or null";
            return -1;
        }
        *(double *)dst = v->valuedouble;
        return 0;
    case STATTAB_DOUBLE:
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
            *why = "is not a number";
            return -1;
        }
        *(double *)dst = v->valuedouble;
        return 0;
    case STATTAB_U64:
        break;
    }
    /* The range first: converting a double beyond it is undefined. */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > STATTAB_COUNT_MAX ||
        v->valuedouble != floor(v->valuedouble)) {
        *why = "is not a count (an integer from 0 to 2^53)";
        return -1;
    }
    *(uint64_t *)dst = (uint64_t)v->valuedouble;
    return 0;
}

int stattab_read_json(const cJSON *o, const struct stattab_field *t, size_t n, void *view,
                      char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i].json == NULL)
            continue;
        const char *key, *why = "is missing";
        const cJSON *v = json_find(o, t[i].json, &key);
        if ((v == NULL && t[i].kind != STATTAB_OPT) || json_read(v, &t[i], view, &why) < 0) {
            snprintf(err, errlen, "\"%s\" %s", t[i].json, v == NULL ? "is missing" : why);
            return -1;
        }
    }
    return 0;
}
