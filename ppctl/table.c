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
