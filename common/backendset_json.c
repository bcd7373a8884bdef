/* Writes and reads the backend-set documents of backendset_json.h. The
 * status's numbers are one stattab table, so the writer and the reader
 * list the same keys by construction. */
#include "backendset_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "stattab.h"

#define S(field) offsetof(struct backendset_status, field)

/* The status's flags, counts and latencies, in the order they are written
 * (after name, address, health, weight and state; before last_check). */
static const struct stattab_field status_fields[] = {
    {"removed", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_BOOL, S(removed)},
    {"slowstart", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_BOOL, S(slowstart)},
    {"active", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_U64, S(active)},
    {"total", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_U64, S(total)},
    {"connect_failures", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_U64, S(connect_failures)},
    {"connect_timeouts", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_U64, S(connect_timeouts)},
    {"resets", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_U64, S(resets)},
    {"bytes_in", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_U64, S(bytes_in)},
    {"bytes_out", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_U64, S(bytes_out)},
    {"ewma_ms", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_DOUBLE, S(ewma_ms)},
    {"ewma_measured", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_BOOL, S(ewma_measured)},
    {"samples", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_U64, S(samples)},
    {"p50_ms", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_OPT, S(p50_ms)},
    {"p90_ms", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_OPT, S(p90_ms)},
    {"p99_ms", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_OPT, S(p99_ms)},
    {"connect_ms.p50", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_OPT, S(connect_p50_ms)},
    {"connect_ms.p90", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_OPT, S(connect_p90_ms)},
    {"connect_ms.p99", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_OPT, S(connect_p99_ms)},
};

int backendset_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= BACKENDSET_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* name, address, health, weight: the set's entry, and the status's head.
 * Without a health address the set leaves the key out and the status
 * writes null, as each document always has. */
static int add_member(cJSON *o, const struct backendset_member *m, int null_health)
{
    char text[ADDR_STRLEN];
    int ok = cJSON_AddStringToObject(o, "name", m->name) != NULL;
    addr_format(&m->address, text, sizeof(text));
    ok = ok && cJSON_AddStringToObject(o, "address", text) != NULL;
    if (m->has_health) {
        addr_format(&m->health, text, sizeof(text));
        ok = ok && cJSON_AddStringToObject(o, "health", text) != NULL;
    } else if (null_health) {
        ok = ok && cJSON_AddNullToObject(o, "health") != NULL;
    }
    return ok && cJSON_AddNumberToObject(o, "weight", m->weight) != NULL ? 0 : -1;
}

char *backendset_json_write_set(const struct backendset_member *m, size_t n, char *err,
                                size_t errlen)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "backends") : NULL;
    int ok = arr != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        cJSON *b = cJSON_CreateObject();
        ok = b != NULL && cJSON_AddItemToArray(arr, b) && add_member(b, &m[i], 0) == 0;
    }
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text)
        snprintf(err, errlen, "out of memory");
    return text;
}

static int read_name(const cJSON *f, struct backendset_member *m, char *err, size_t errlen)
{
    if (!cJSON_IsString(f) || !backendset_name_valid(f->valuestring)) {
        snprintf(err, errlen, "\"name\" is not 1..63 of [A-Za-z0-9._-]");
        return -1;
    }
    snprintf(m->name, sizeof(m->name), "%s", f->valuestring);
    return 0;
}

/* "address", or "health" (which may be null: no health address). */
static int read_address(const cJSON *f, struct backendset_member *m, char *err, size_t errlen)
{
    int health = strcmp(f->string, "health") == 0;
    char why[128];
    if (health && cJSON_IsNull(f))
        return 0;
    if (!cJSON_IsString(f) ||
        addr_parse(f->valuestring, -1, health ? &m->health : &m->address, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "\"%s\": %s", f->string,
                 cJSON_IsString(f) ? why : "is not an ADDR:PORT string");
        return -1;
    }
    if (health)
        m->has_health = 1;
    return 0;
}

static int read_weight(const cJSON *f, struct backendset_member *m, char *err, size_t errlen)
{
    /* The range first: a cast to int of a double beyond INT_MAX
     * ({"weight": 1e300}) is undefined behaviour. */
    if (!cJSON_IsNumber(f) || !(f->valuedouble >= 1) || f->valuedouble > BACKENDSET_WEIGHT_MAX ||
        f->valuedouble != (double)(int)f->valuedouble) {
        snprintf(err, errlen, "\"weight\" is not an integer in 1..%d", BACKENDSET_WEIGHT_MAX);
        return -1;
    }
    m->weight = (int)f->valuedouble;
    return 0;
}

/* An object entry of a set: every member known, name and address given. */
static int read_member(const cJSON *e, struct backendset_member *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    m->weight = 1;
    for (const cJSON *f = e->child; f; f = f->next) {
        int rc;
        if (strcmp(f->string, "name") == 0)
            rc = read_name(f, m, err, errlen);
        else if (strcmp(f->string, "address") == 0 || strcmp(f->string, "health") == 0)
            rc = read_address(f, m, err, errlen);
        else if (strcmp(f->string, "weight") == 0)
            rc = read_weight(f, m, err, errlen);
        else {
            snprintf(err, errlen, "unknown field \"%s\" (name, address, health, weight)",
                     f->string);
            rc = -1;
        }
        if (rc < 0)
            return -1;
    }
    if (!m->name[0] || m->address.len == 0) {
        snprintf(err, errlen, "needs \"name\" and \"address\"");
        return -1;
    }
    return 0;
}

static int read_entry(const cJSON *e, struct backendset_member *m, backendset_text_fn parse_text,
                      char *err, size_t errlen)
{
    if (cJSON_IsString(e) && parse_text != NULL)
        return parse_text(e->valuestring, m, err, errlen);
    if (!cJSON_IsObject(e)) {
        snprintf(err, errlen, "%s",
                 parse_text ? "is neither an object nor a NAME=ADDR:PORT string"
                            : "is not an object");
        return -1;
    }
    return read_member(e, m, err, errlen);
}

/* The array of a set body: the body itself, or its only member "backends". */
static const cJSON *set_array(const cJSON *body, char *err, size_t errlen)
{
    const cJSON *arr = body;
    if (cJSON_IsObject(body)) {
        arr = cJSON_GetObjectItemCaseSensitive(body, "backends");
        for (const cJSON *f = body->child; f; f = f->next)
            if (strcmp(f->string, "backends") != 0) {
                snprintf(err, errlen, "unknown field \"%s\" (the body is {\"backends\": [...]})",
                         f->string);
                return NULL;
            }
    }
    if (!cJSON_IsArray(arr)) {
        snprintf(err, errlen, "the body is {\"backends\": [...]} or an array of backends");
        return NULL;
    }
    return arr;
}

int backendset_json_read_set(const cJSON *body, struct backendset_member *m, size_t max,
                             backendset_text_fn parse_text, char *err, size_t errlen)
{
    const cJSON *arr = set_array(body, err, errlen);
    if (arr == NULL)
        return -1;
    size_t n = 0;
    for (const cJSON *e = arr->child; e; e = e->next) {
        if (n == max) {
            snprintf(err, errlen, "more than %zu backends", max);
            return -1;
        }
        char why[192];
        if (read_entry(e, &m[n], parse_text, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "backend %zu: %s", n + 1, why);
            return -1;
        }
        for (size_t k = 0; k < n; k++)
            if (strcmp(m[k].name, m[n].name) == 0) {
                snprintf(err, errlen, "backend name '%s' given twice", m[n].name);
                return -1;
            }
        n++;
    }
    return (int)n;
}

cJSON *backendset_json_write_status(const struct backendset_status *s)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL && add_member(o, &s->member, 1) == 0;
    ok = ok && cJSON_AddStringToObject(o, "state", s->state) != NULL;
    ok = ok && stattab_write_json(o, status_fields, STATTAB_COUNT(status_fields), s) == 0;
    ok = ok && cJSON_AddStringToObject(o, "last_check", s->last_check) != NULL;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int read_string(const cJSON *o, const char *key, char *out, size_t outlen, char *err,
                       size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v)) {
        snprintf(err, errlen, "\"%s\" is %s", key, v ? "not a string" : "missing");
        return -1;
    }
    snprintf(out, outlen, "%s", v->valuestring);
    return 0;
}

/* The status's head: the set entry's members, read as the set reads them. */
static int read_status_member(const cJSON *o, struct backendset_member *m, char *err, size_t errlen)
{
    static const char *const keys[] = {"name", "address", "health", "weight"};
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
        int rc;
        if (f == NULL) {
            if (i == 2)
                continue; /* no health address */
            snprintf(err, errlen, "\"%s\" is missing", keys[i]);
            return -1;
        }
        if (i == 0)
            rc = read_name(f, m, err, errlen);
        else if (i == 3)
            rc = read_weight(f, m, err, errlen);
        else
            rc = read_address(f, m, err, errlen);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int backendset_json_read_status(const cJSON *o, struct backendset_status *s, char *err,
                                size_t errlen)
{
    memset(s, 0, sizeof(*s));
    if (!cJSON_IsObject(o)) {
        snprintf(err, errlen, "is not an object");
        return -1;
    }
    if (read_status_member(o, &s->member, err, errlen) < 0 ||
        read_string(o, "state", s->state, sizeof(s->state), err, errlen) < 0 ||
        stattab_read_json(o, status_fields, STATTAB_COUNT(status_fields), s, err, errlen) < 0 ||
        read_string(o, "last_check", s->last_check, sizeof(s->last_check), err, errlen) < 0)
        return -1;
    return 0;
}

int backendset_json_read_statuses(const char *text, struct backendset_status *out, size_t max,
                                  size_t *n, char *err, size_t errlen)
{
    *n = 0;
    cJSON *doc = cJSON_Parse(text);
    const cJSON *arr =
        cJSON_IsObject(doc) ? cJSON_GetObjectItemCaseSensitive(doc, "backends") : NULL;
    if (!cJSON_IsArray(arr)) {
        snprintf(err, errlen, "not a backend list: no \"backends\" array");
        cJSON_Delete(doc);
        return -1;
    }
    size_t i = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, arr)
    {
        if (i == max)
            break;
        char why[160];
        if (backendset_json_read_status(b, &out[i], why, sizeof(why)) < 0) {
            snprintf(err, errlen, "backend %zu of the list: %s", i + 1, why);
            cJSON_Delete(doc);
            return -1;
        }
        i++;
    }
    *n = i;
    cJSON_Delete(doc);
    return 0;
}
