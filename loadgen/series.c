/* Per-second rows kept as growing arrays: a row's latencies are kept whole
 * (4 bytes a request) so its p99 is exact, not a histogram's bucket. */
#include "series.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct series_row {
    uint64_t offered, completed, errors, over;
    int offered_set; /* the schedule's count replaces the finished count */
    uint32_t *lat;
    size_t nlat, cap;
};

struct loadgen_series {
    uint64_t slo_us;
    struct series_row *rows;
    size_t nrows;
};

struct loadgen_series *loadgen_series_new(uint64_t slo_us)
{
    struct loadgen_series *s = calloc(1, sizeof(*s));
    if (s)
        s->slo_us = slo_us;
    return s;
}

void loadgen_series_free(struct loadgen_series *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nrows; i++)
        free(s->rows[i].lat);
    free(s->rows);
    free(s);
}

static struct series_row *row_at(struct loadgen_series *s, uint64_t second)
{
    /* A run of more than 30 days is refused by --duration already. */
    if (second > 30u * 86400u)
        return NULL;
    if (second >= s->nrows) {
        size_t n = (size_t)second + 1;
        struct series_row *grown = realloc(s->rows, n * sizeof(*grown));
        if (!grown)
            return NULL;
        memset(grown + s->nrows, 0, (n - s->nrows) * sizeof(*grown));
        s->rows = grown;
        s->nrows = n;
    }
    return &s->rows[second];
}

int loadgen_series_add(struct loadgen_series *s, uint64_t second, int ok, uint64_t latency_us)
{
    struct series_row *r = row_at(s, second);
    if (!r)
        return -1;
    if (!r->offered_set)
        r->offered++;
    if (!ok) {
        r->errors++;
        return 0;
    }
    r->completed++;
    if (s->slo_us && latency_us > s->slo_us)
        r->over++;
    if (r->nlat == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        uint32_t *grown = realloc(r->lat, cap * sizeof(*grown));
        if (!grown)
            return -1;
        r->lat = grown;
        r->cap = cap;
    }
    r->lat[r->nlat++] = latency_us > UINT32_MAX ? UINT32_MAX : (uint32_t)latency_us;
    return 0;
}

int loadgen_series_set_offered(struct loadgen_series *s, uint64_t second, uint64_t offered)
{
    struct series_row *r = row_at(s, second);
    if (!r)
        return -1;
    r->offered = offered;
    r->offered_set = 1;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

uint64_t loadgen_series_p99(uint32_t *latencies_us, size_t n)
{
    if (n == 0)
        return 0;
    qsort(latencies_us, n, sizeof(*latencies_us), cmp_u32);
    /* Nearest rank: the smallest value with at least 99% at or below it. */
    size_t rank = (n * 99 + 99) / 100;
    return latencies_us[rank - 1];
}

int loadgen_series_write(struct loadgen_series *s, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write the series to %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "second,offered,completed,errors,p99_ms,over_slo\n");
    for (size_t i = 0; i < s->nrows; i++) {
        struct series_row *r = &s->rows[i];
        fprintf(f, "%zu,%llu,%llu,%llu,", i, (unsigned long long)r->offered,
                (unsigned long long)r->completed, (unsigned long long)r->errors);
        if (r->nlat)
            fprintf(f, "%.3f", (double)loadgen_series_p99(r->lat, r->nlat) / 1000.0);
        fputc(',', f);
        if (s->slo_us)
            fprintf(f, "%llu", (unsigned long long)r->over);
        fputc('\n', f);
    }
    if (fclose(f) != 0) {
        snprintf(err, errlen, "cannot write the series to %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
