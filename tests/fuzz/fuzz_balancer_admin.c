/* Fuzz target for the balancer's admin input: a PUT /v1/backends body
 * (JSON through cJSON, then backendview_parse_set) and, as the same bytes,
 * a command-line backend spec (backend_spec_parse). Neither may crash,
 * leak or accept a spec it cannot use. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../balancer/backendview.h"
#include "../../balancer/config.h"

/* Undefined behaviour is a finding, not a note in the log: without this,
 * UBSan prints "runtime error" (a float cast out of range, an overflow) and
 * the fuzzer carries on. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct backend_spec specs[BALANCER_MAX_BACKENDS];
    char err[256];
    cJSON *body = cJSON_ParseWithLength((const char *)data, size);
    if (body) {
        int n = backendview_parse_set(body, specs, BALANCER_MAX_BACKENDS, err, sizeof(err));
        for (int i = 0; i < n; i++) {
            if (!backend_name_valid(specs[i].name) || specs[i].weight < 1 ||
                specs[i].weight > BALANCER_WEIGHT_MAX || specs[i].address.len == 0)
                abort();
        }
        cJSON_Delete(body);
    }
    char text[600];
    size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    struct backend_spec one;
    if (backend_spec_parse(text, &one, err, sizeof(err)) == 0 &&
        (!backend_name_valid(one.name) || one.weight < 1 || one.address.len == 0))
        abort();
    return 0;
}
