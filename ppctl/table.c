/* Renders the REST API's pool and instance documents as text tables for
 * `ppctl status`, `scale` and `restart`: columns as wide as their widest
 * cell, two spaces apart, the last one unpadded. */
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#define TABLE_COLUMNS 7
/* Widest cell kept; longer values (a malformed reply) are cut. */
#define TABLE_CELL_MAX 64

static const char *const headers[TABLE_COLUMNS] = {"ID",  "NAME",     "STATE",   "ADDRESS",
                                                   "PID", "READY_MS", "RESTARTS"};
static const char *const fields[TABLE_COLUMNS] = {"id",  "name",     "state",   "address",
                                                  "pid", "ready_ms", "restarts"};

typedef char table_row[TABLE_COLUMNS][TABLE_CELL_MAX];

/* A field as text: strings as they are (control bytes as '?'), numbers
 * without a needless fraction, anything else "-". */
static void cell_text(const cJSON *o, const char *field, char *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
    if (cJSON_IsString(v)) {
        snprintf(out, TABLE_CELL_MAX, "%s", v->valuestring);
        for (char *p = out; *p != '\0'; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
    } else if (cJSON_IsNumber(v)) {
        snprintf(out, TABLE_CELL_MAX, "%.15g", v->valuedouble);
    } else {
        snprintf(out, TABLE_CELL_MAX, "-");
    }
}

static void print_rows(FILE *out, table_row *rows, size_t nrows)
{
    size_t width[TABLE_COLUMNS];
    for (size_t c = 0; c < TABLE_COLUMNS; c++) {
        width[c] = strlen(headers[c]);
        for (size_t r = 0; r < nrows; r++)
            if (strlen(rows[r][c]) > width[c])
                width[c] = strlen(rows[r][c]);
    }
    for (size_t r = 0; r <= nrows; r++) {
        for (size_t c = 0; c < TABLE_COLUMNS; c++) {
            const char *text = r == 0 ? headers[c] : rows[r - 1][c];
            if (c + 1 < TABLE_COLUMNS)
                fprintf(out, "%-*s  ", (int)width[c], text);
            else
                fprintf(out, "%s\n", text);
        }
    }
}

static void fill_row(table_row row, const cJSON *instance)
{
    for (size_t c = 0; c < TABLE_COLUMNS; c++)
        cell_text(instance, fields[c], row[c]);
}

int table_print_pool(FILE *out, const cJSON *pool)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(pool, "instances");
    if (!cJSON_IsObject(pool) || !cJSON_IsArray(list))
        return -1;
    size_t n = 0, max = (size_t)cJSON_GetArraySize(list);
    table_row *rows = calloc(max > 0 ? max : 1, sizeof(*rows));
    if (rows == NULL)
        return -1;
    const cJSON *in;
    cJSON_ArrayForEach(in, list)
    {
        if (n < max)
            fill_row(rows[n++], in);
    }
    print_rows(out, rows, n);
    free(rows);

    char runtime[TABLE_CELL_MAX], replicas[TABLE_CELL_MAX], ready[TABLE_CELL_MAX];
    cell_text(pool, "runtime", runtime);
    cell_text(pool, "replicas", replicas);
    cell_text(pool, "ready", ready);
    fprintf(out, "%s of %s replicas ready (%s runtime)\n", ready, replicas, runtime);
    return 0;
}

int table_print_instance(FILE *out, const cJSON *instance)
{
    if (!cJSON_IsObject(instance))
        return -1;
    table_row row;
    fill_row(row, instance);
    print_rows(out, &row, 1);
    return 0;
}

/* "0.200 s" or "70%" for a value of the target's metric. */
static void metric_value_text(const char *metric, double v, char *out, size_t outlen)
{
    if (strcmp(metric, "cpu") == 0)
        snprintf(out, outlen, "%.0f%%", v * 100);
    else
        snprintf(out, outlen, "%.3f s", v);
}

int table_print_autoscale(FILE *out, const cJSON *a)
{
    if (!cJSON_IsObject(a))
        return -1;
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(a, "enabled");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(a, "target");
    const cJSON *tm = cJSON_GetObjectItemCaseSensitive(t, "metric");
    const cJSON *tv = cJSON_GetObjectItemCaseSensitive(t, "value");
    const cJSON *me = cJSON_GetObjectItemCaseSensitive(a, "measure");
    const char *metric = cJSON_IsString(tm) ? tm->valuestring : "p99";
    char target[32] = "-", measure[32] = "-", desired[32] = "-", lo[32], hi[32];
    if (cJSON_IsNumber(tv)) {
        char v[24];
        metric_value_text(metric, tv->valuedouble, v, sizeof(v));
        snprintf(target, sizeof(target), "%s %s", metric, v);
    }
    if (cJSON_IsNumber(me))
        metric_value_text(metric, me->valuedouble, measure, sizeof(measure));
    cell_text(a, "desired", desired);
    cell_text(a, "min", lo);
    cell_text(a, "max", hi);
    fprintf(out, "autoscale: %s, %s..%s replicas, target %s\n", cJSON_IsTrue(en) ? "on" : "off", lo,
            hi, target);
    fprintf(out, "measure:   %s (desired %s replicas)\n", measure, desired);
    char up[32], down[32], tol[32], step[32], cool[32];
    cell_text(a, "up_window_s", up);
    cell_text(a, "down_window_s", down);
    cell_text(a, "tolerance", tol);
    cell_text(a, "max_step", step);
    cell_text(a, "cooldown_s", cool);
    fprintf(out, "windows:   up %s s, down %s s; tolerance %s, max step %s, cooldown %s s\n", up,
            down, tol, step, cool);
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(a, "decisions");
    const cJSON *d;
    if (cJSON_GetArraySize(ds) > 0)
        fprintf(out, "decisions (newest first):\n");
    cJSON_ArrayForEach(d, ds)
    {
        char at[TABLE_CELL_MAX], from[TABLE_CELL_MAX], to[TABLE_CELL_MAX];
        cell_text(d, "at", at);
        cell_text(d, "from", from);
        cell_text(d, "to", to);
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(d, "reason");
        fprintf(out, "  %s  %s -> %s  %s\n", at, from, to,
                cJSON_IsString(r) ? r->valuestring : "-");
    }
    return 0;
}
