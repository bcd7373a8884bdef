/* Reading the ramp's CSVs strictly (a bad line is an error naming it, not a
 * silently shorter series) and printing its summary. */
#include "ramp_files.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "size.h"

/* A CSV line's fields, split in place at commas. */
static size_t split_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < max;) {
        fields[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || errno || s[0] == '-')
        return -1;
    *v = x;
    return 0;
}

int ppexp_ramp_read_series(const char *path, struct ppexp_ramp_second **out, size_t *n, char *err,
                           size_t errlen)
{
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[512];
    size_t lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (lineno == 1) {
            if (strncmp(line, "second,offered,completed,errors,p99_ms,over_slo", 47) != 0) {
                snprintf(err, errlen, "%s: not a loadgen --series file (header)", path);
                rc = -1;
                break;
            }
            continue;
        }
        char *fld[7];
        uint64_t sec, v[3], over;
        if (split_fields(line, fld, 7) != 6 || parse_u64(fld[0], &sec) < 0 ||
            parse_u64(fld[1], &v[0]) < 0 || parse_u64(fld[2], &v[1]) < 0 ||
            parse_u64(fld[3], &v[2]) < 0 || parse_u64(fld[5], &over) < 0 || sec != *n) {
            snprintf(err, errlen,
                     "%s:%zu: not a series row in order with over_slo (loadgen --slo given?)", path,
                     lineno);
            rc = -1;
            break;
        }
        struct ppexp_ramp_second *grown = realloc(*out, (*n + 1) * sizeof(*grown));
        if (!grown) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        *out = grown;
        (*out)[(*n)++] = (struct ppexp_ramp_second){
            .offered = v[0], .completed = v[1], .errors = v[2], .over = over};
    }
    fclose(f);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int ppexp_ramp_read_samples(const char *path, struct ppexp_ramp_sample **out, size_t *n, char *err,
                            size_t errlen)
{
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[256];
    size_t lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof(line), f)) {
        if (++lineno == 1)
            continue; /* the header */
        char *fld[3], *end;
        uint64_t ready;
        if (split_fields(line, fld, 3) != 2) {
            snprintf(err, errlen, "%s:%zu: not t_s,ready", path, lineno);
            rc = -1;
            break;
        }
        double t = strtod(fld[0], &end);
        if (end == fld[0] || *end != '\0' || !(t >= 0) || parse_u64(fld[1], &ready) < 0 ||
            ready > 100000 || (*n > 0 && t < (*out)[*n - 1].t_s)) {
            snprintf(err, errlen, "%s:%zu: not t_s,ready with t_s rising", path, lineno);
            rc = -1;
            break;
        }
        struct ppexp_ramp_sample *grown = realloc(*out, (*n + 1) * sizeof(*grown));
        if (!grown) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        *out = grown;
        (*out)[(*n)++] = (struct ppexp_ramp_sample){.t_s = t, .ready = (int)ready};
    }
    fclose(f);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int ppexp_ramp_parse_steps(const char *text, struct ppexp_ramp_step *out, size_t *n, double *end_s,
                           char *err, size_t errlen)
{
    *n = 0;
    double at = 0, before = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char buf[64], *colon, *end;
        uint64_t ms;
        if (*n == PPEXP_RAMP_MAX_STEPS || len == 0 || len >= sizeof(buf)) {
            snprintf(err, errlen, "steps '%s': empty, too long or over %d steps", text,
                     PPEXP_RAMP_MAX_STEPS);
            return -1;
        }
        memcpy(buf, p, len);
        buf[len] = '\0';
        colon = strchr(buf, ':');
        if (!colon) {
            snprintf(err, errlen, "step '%s' is not RATE:DURATION", buf);
            return -1;
        }
        *colon = '\0';
        double rate = strtod(buf, &end);
        char inner[128];
        if (end == buf || *end != '\0' || !(rate >= 0) ||
            duration_parse_ms(colon + 1, &ms, inner, sizeof(inner)) < 0 || ms == 0) {
            snprintf(err, errlen, "step '%s:%s' is not RATE:DURATION", buf, colon + 1);
            return -1;
        }
        out[(*n)++] = (struct ppexp_ramp_step){.at_s = at, .rate_before = before, .rate = rate};
        at += (double)ms / 1000.0;
        before = rate;
        if (!comma)
            break;
        p = comma + 1;
    }
    *end_s = at;
    return 0;
}

void ppexp_ramp_print(FILE *f, const struct ppexp_ramp_step *steps, size_t nsteps, double end_s,
                      const struct ppexp_ramp_step_result *res,
                      const struct ppexp_ramp_sample *samples, size_t nsamples)
{
    int total = 0;
    fprintf(f, "%-8s %-16s %-18s %-28s %s\n", "at_s", "rate", "next_replica_s", "over_target_10s",
            "direction_changes_settled");
    for (size_t k = 0; k < nsteps; k++) {
        const struct ppexp_ramp_step *st = &steps[k];
        double until = k + 1 < nsteps ? steps[k + 1].at_s : end_s;
        char rate[32], rep[32], over[48];
        snprintf(rate, sizeof(rate), "%g -> %g", st->rate_before, st->rate);
        if (st->rate <= st->rate_before)
            snprintf(rep, sizeof(rep), "(step down)");
        else if (res[k].to_replica_s < 0)
            snprintf(rep, sizeof(rep), "none");
        else
            snprintf(rep, sizeof(rep), "%.1f", res[k].to_replica_s);
        snprintf(over, sizeof(over), "%.2f%% (%llu of %llu)", 100 * res[k].over_share,
                 (unsigned long long)res[k].over, (unsigned long long)res[k].requests);
        int changes = ppexp_ramp_direction_changes(samples, nsamples,
                                                   st->at_s + PPEXP_RAMP_AFTER_STEP_S, until);
        total += changes;
        fprintf(f, "%-8.1f %-16s %-18s %-28s %d\n", st->at_s, rate, rep, over, changes);
    }
    fprintf(f, "direction changes in the settled parts of the steps: %d\n", total);
}
