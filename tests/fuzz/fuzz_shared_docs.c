/* Fuzz target for the documents two programs exchange (common/): the bytes
 * as a balancer's GET /v1/backends answer (the manager reads it) and as a
 * loadgen --json summary (ppexp reads it). Neither reader may crash or
 * leak, and whatever one accepts must survive a round trip: written, read
 * again and written again, it gives the same text. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../common/backendset_json.h"
#include "../../common/loadgen_summary.h"

/* Statuses read from one document: a balancer lists at most 512. */
#define FUZZ_MAX_STATUSES 16

/* Undefined behaviour is a finding, not a note in the log: without this,
 * UBSan prints "runtime error" (a float cast out of range, an overflow) and
 * the fuzzer carries on. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

/* {"backends": [status...]} as text, or NULL (out of memory). */
static char *statuses_text(const struct backendset_status *s, size_t n)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = doc ? cJSON_AddArrayToObject(doc, "backends") : NULL;
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *o = backendset_json_write_status(&s[i]);
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            arr = NULL;
        }
    }
    char *text = arr ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    return text;
}

static void statuses_round_trip(const char *text)
{
    static struct backendset_status first[FUZZ_MAX_STATUSES], again[FUZZ_MAX_STATUSES];
    char err[256];
    size_t n = 0, m = 0;
    if (backendset_json_read_statuses(text, first, FUZZ_MAX_STATUSES, &n, err, sizeof(err)) < 0)
        return;
    char *t1 = statuses_text(first, n);
    if (!t1)
        return;
    if (backendset_json_read_statuses(t1, again, FUZZ_MAX_STATUSES, &m, err, sizeof(err)) < 0) {
        fprintf(stderr, "refused its own statuses: %s\n%s\n", err, t1);
        abort();
    }
    char *t2 = statuses_text(again, m);
    if (t2 && (m != n || strcmp(t1, t2) != 0)) {
        fprintf(stderr, "statuses changed in a round trip:\n%s\n%s\n", t1, t2);
        abort();
    }
    cJSON_free(t1);
    cJSON_free(t2);
}

static void summary_round_trip(const char *text)
{
    char err[256];
    struct loadgen_summary *first = loadgen_summary_read(text, err, sizeof(err));
    if (!first)
        return;
    char *t1 = loadgen_summary_write(first);
    struct loadgen_summary *again = t1 ? loadgen_summary_read(t1, err, sizeof(err)) : NULL;
    if (t1 && !again) {
        fprintf(stderr, "refused its own summary: %s\n%s\n", err, t1);
        abort();
    }
    char *t2 = again ? loadgen_summary_write(again) : NULL;
    if (t2 && strcmp(t1, t2) != 0) {
        fprintf(stderr, "summary changed in a round trip:\n%s\n%s\n", t1, t2);
        abort();
    }
    cJSON_free(t1);
    cJSON_free(t2);
    loadgen_summary_free(first);
    loadgen_summary_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Both readers take NUL-terminated text (they read files and bodies
     * that the caller terminated). */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    statuses_round_trip(text);
    summary_round_trip(text);
    free(text);
    return 0;
}
