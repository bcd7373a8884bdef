/* CSV rows without printf: at 100k requests a second, formatting is on the
 * hot path, and decimal digits by hand cost a tenth of snprintf. */
#include "csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* stdio buffer: a few hundred rows per write(2). */
#define CSV_BUFFER_BYTES (256 * 1024)

struct loadgen_csv {
    FILE *f;
    char *buf;
    char path[1024];
    int failed_errno;
};

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_str(char *p, const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    memcpy(p, s, n);
    return p + n;
}

size_t loadgen_csv_format_row(char *out, size_t cap, const struct loadgen_result *r)
{
    char row[LOADGEN_CSV_ROW_MAX];
    char *p = row;
    p = put_u64(p, r->ts_start_us);
    *p++ = ',';
    p = put_u64(p, r->client);
    *p++ = ',';
    p = put_u64(p, r->conn);
    *p++ = ',';
    p = put_u64(p, r->req);
    *p++ = ',';
    p = put_u64(p, (uint64_t)(r->status > 0 ? r->status : 0));
    *p++ = ',';
    *p++ = loadgen_result_ok(r) ? '1' : '0';
    *p++ = ',';
    p = put_str(p, loadgen_error_name(r->error), 16);
    *p++ = ',';
    p = put_u64(p, r->connect_us);
    *p++ = ',';
    p = put_u64(p, r->ttfb_us);
    *p++ = ',';
    p = put_u64(p, r->total_us);
    *p++ = ',';
    p = put_u64(p, r->bytes_in);
    *p++ = ',';
    p = put_str(p, r->proxy ? r->proxy : "", LOADGEN_PROXY_NAME_MAX - 1);
    *p++ = ',';
    p = put_str(p, r->cache ? r->cache : "", LOADGEN_CACHE_MAX - 1);
    *p++ = ',';
    if (r->intended_us)
        p = put_u64(p, r->intended_us);
    *p++ = ',';
    *p++ = r->warmup ? '1' : '0';
    *p++ = '\n';
    size_t len = (size_t)(p - row);
    if (len > cap)
        len = cap;
    memcpy(out, row, len);
    return len;
}

struct loadgen_csv *loadgen_csv_open(const char *path, char *err, size_t errlen)
{
    struct loadgen_csv *csv = calloc(1, sizeof(*csv));
    if (!csv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(csv->path, sizeof(csv->path), "%s", path);
    csv->f = fopen(path, "w");
    if (!csv->f) {
        snprintf(err, errlen, "cannot write CSV %s: %s", path, strerror(errno));
        goto fail;
    }
    csv->buf = malloc(CSV_BUFFER_BYTES);
    if (csv->buf)
        setvbuf(csv->f, csv->buf, _IOFBF, CSV_BUFFER_BYTES);
    if (fputs(LOADGEN_CSV_HEADER, csv->f) == EOF) {
        snprintf(err, errlen, "cannot write CSV %s: %s", path, strerror(errno));
        goto fail;
    }
    return csv;
fail:
    if (csv->f)
        fclose(csv->f);
    free(csv->buf);
    free(csv);
    return NULL;
}

void loadgen_csv_write(struct loadgen_csv *csv, const struct loadgen_result *r)
{
    char row[LOADGEN_CSV_ROW_MAX];
    size_t len = loadgen_csv_format_row(row, sizeof(row), r);
    if (fwrite(row, 1, len, csv->f) != len && !csv->failed_errno)
        csv->failed_errno = errno ? errno : EIO;
}

int loadgen_csv_close(struct loadgen_csv *csv, char *err, size_t errlen)
{
    if (!csv)
        return 0;
    int rc = 0;
    if (fclose(csv->f) != 0 && !csv->failed_errno)
        csv->failed_errno = errno ? errno : EIO;
    if (csv->failed_errno) {
        snprintf(err, errlen, "writing CSV %s failed: %s", csv->path, strerror(csv->failed_errno));
        rc = -1;
    }
    free(csv->buf);
    free(csv);
    return rc;
}
