/* The per-request CSV: a header line, then one row per request as it
 * finishes (warm-up rows included, marked). Column names follow JMeter's
 * where one exists: total_us = elapsed, ttfb_us = Latency, connect_us =
 * Connect. Written through a large stdio buffer: one write per ~1000 rows. */
#ifndef PP_LOADGEN_CSV_H
#define PP_LOADGEN_CSV_H

#include <stddef.h>

#include "result.h"

#define LOADGEN_CSV_HEADER                                                                         \
    "ts_start_us,client,conn,req,status,ok,error,connect_us,ttfb_us,total_us,bytes_in,proxy,"      \
    "cache,intended_us,warmup\n"
/* A row is at most 15 fields of at most 20 digits or a short name. */
#define LOADGEN_CSV_ROW_MAX 512

struct loadgen_csv;

struct loadgen_csv *loadgen_csv_open(const char *path, char *err, size_t errlen);
void loadgen_csv_write(struct loadgen_csv *csv, const struct loadgen_result *r);
/* Flushes and closes; -1 with err filled when any write failed. Accepts NULL. */
int loadgen_csv_close(struct loadgen_csv *csv, char *err, size_t errlen);

/* Formats one row (with its newline) into out; returns its length. */
size_t loadgen_csv_format_row(char *out, size_t cap, const struct loadgen_result *r);

#endif
