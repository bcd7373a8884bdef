/* Fuzz target for the manager's API input: the bytes as a JSON body of each
 * write (PUT /v1/pool, POST .../restart, PUT /v1/forwarding, through cJSON
 * with the length, as jsonhttp_read_body reads a body that is not
 * NUL-terminated), and as the header values the API checks before any body
 * (Host, Content-Type, Authorization). None may crash, leak, or accept what
 * the pool cannot take. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../common/apiauth.h"
#include "../../manager/api.h"
#include "../../manager/pool.h"

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
    char why[256];
    /* The body: exactly size bytes, no terminator (libFuzzer's buffer ends
     * where the input does, so ASan sees any read past it). */
    cJSON *body = cJSON_ParseWithLength((const char *)data, size);
    if (body != NULL) {
        int replicas = 0;
        if (api_parse_scale(body, &replicas, why, sizeof(why)) == 0 &&
            (replicas < 1 || replicas > POOL_MAX_INSTANCES))
            abort();
        if (api_parse_restart(body, why, sizeof(why)) == 0 &&
            (!cJSON_IsObject(body) || body->child != NULL))
            abort();
        const char *mode = NULL;
        if (api_parse_forwarding(body, &mode, why, sizeof(why)) == 0 && mode == NULL)
            abort();
        cJSON_Delete(body);
    }
    /* Header values reach the checks as evhttp's C strings: one copy cut at
     * the first NUL, as evhttp would. */
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    int host_ok = apiauth_host_ok(text);
    if (host_ok && (strchr(text, '/') != NULL || strchr(text, ' ') != NULL))
        abort(); /* nothing with a path or a space names this machine */
    (void)apiauth_json_type_ok(text);
    static const char token[] = "0123456789abcdef";
    if (apiauth_bearer_matches(text, token, sizeof(token) - 1) && strstr(text, token) == NULL)
        abort();
    free(text);
    return 0;
}
