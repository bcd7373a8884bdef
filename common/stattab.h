/* Tables of figures that a program shows twice, as Prometheus text and as
 * JSON: each figure is described once (its JSON key, its metric family,
 * help and type, where it lives in a view struct) and both documents are
 * written from that one description, so the two cannot drift apart. The
 * same table reads a JSON document back into the struct. */
#ifndef PP_STATTAB_H
#define PP_STATTAB_H

#include <stddef.h>

#include "prom.h"

struct cJSON;

/* How a field is stored in the view struct and spelled in JSON. */
enum stattab_kind {
    STATTAB_U64,    /* uint64_t; a JSON number */
    STATTAB_DOUBLE, /* double; a JSON number */
    STATTAB_BOOL,   /* int, 0 or 1; a JSON true or false */
    STATTAB_OPT,    /* double, negative when absent (unmeasured); a JSON number or null */
};

struct stattab_field {
    const char *json;        /* "key" or "object.key" (one level); NULL: not in JSON */
    const char *prom;        /* metric family; NULL: not in Prometheus text */
    enum prom_type type;     /* PROM_COUNTER or PROM_GAUGE */
    const char *help;        /* the family's HELP text */
    const char *label_name;  /* one label on the sample, or NULL */
    const char *label_value; /* its value */
    enum stattab_kind kind;
    size_t offset; /* of the value in the view struct (offsetof) */
};

#define STATTAB_COUNT(t) (sizeof(t) / sizeof((t)[0]))

/* The field's value as a number (a bool as 0 or 1). */
double stattab_value(const struct stattab_field *f, const void *view);

/* Every field with a family, in table order. Consecutive fields of one
 * family (labelled samples) share their HELP and TYPE. Errors are kept in
 * p (prom_finish). */
void stattab_write_prom(struct prom *p, const struct stattab_field *t, size_t n, const void *view);

/* The same families for many views, one sample per view labelled
 * label_name=values[i]: family by family, as Prometheus wants each family
 * in one run (per-backend figures). */
void stattab_write_prom_each(struct prom *p, const struct stattab_field *t, size_t n,
                             const void *const *views, const char *const *values, size_t nviews,
                             const char *label_name);

/* Every field with a JSON key added to o, in table order; an "object.key"
 * field goes into o's object of that name, made on first use. 0, or -1
 * when out of memory. */
int stattab_write_json(struct cJSON *o, const struct stattab_field *t, size_t n, const void *view);

/* Reads every field with a JSON key from o into view. A missing or
 * mistyped field is an error (an OPT field may be null or absent: it
 * reads as -1), as is a count that is negative, fractional or beyond 2^53.
 * 0, or -1 with err naming the field. */
int stattab_read_json(const struct cJSON *o, const struct stattab_field *t, size_t n, void *view,
                      char *err, size_t errlen);

#endif
