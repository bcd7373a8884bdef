/* libFuzzer target for the chunked decoder: decoding in one call, split at
 * a point derived from the input, and one byte at a time must agree on the
 * payload, on where the body ends and on whether it is malformed; a
 * disagreement is exactly the bug that lets bodies be smuggled. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

struct outcome {
    int failed;
    int done;
    size_t consumed;
    size_t payload_len;
    uint64_t body_bytes;
    char *payload;
};

/* Feeds in[0..len) in pieces: cuts at `split` (0: none) and, when step is
 * non-zero, every `step` bytes. */
static void decode(const char *in, size_t len, size_t split, size_t step, struct outcome *o)
{
    struct http1_chunked ch;
    char err[128];
    http1_chunked_init(&ch);
    memset(o, 0, sizeof(*o));
    o->payload = malloc(len + 1);
    size_t off = 0;
    while (off < len && !ch.done) {
        size_t end = len;
        if (split && off < split)
            end = split;
        if (step && end - off > step)
            end = off + step;
        while (off < end && !ch.done) {
            size_t doff = 7777, dlen = 7777;
            long r = http1_chunked_feed(&ch, in + off, end - off, &doff, &dlen, err, sizeof(err));
            if (r < 0) {
                o->failed = 1;
                o->consumed = off;
                return;
            }
            if ((size_t)r > end - off || dlen > (size_t)r)
                abort();
            if (dlen > 0 && doff + dlen != (size_t)r)
                abort(); /* must return right after the payload span */
            if (r == 0 && !ch.done)
                abort(); /* no progress without being done */
            memcpy(o->payload + o->payload_len, in + off + doff, dlen);
            o->payload_len += dlen;
            off += (size_t)r;
        }
    }
    o->done = ch.done;
    o->consumed = off;
    o->body_bytes = ch.body_bytes;
    if (o->body_bytes != o->payload_len)
        abort();
}

static void compare(const struct outcome *a, const struct outcome *b)
{
    if (a->failed != b->failed)
        abort();
    if (a->failed)
        return;
    if (a->done != b->done || a->consumed != b->consumed || a->payload_len != b->payload_len ||
        memcmp(a->payload, b->payload, a->payload_len) != 0)
        abort();
}

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
    /* An exactly-sized heap copy with no NUL after it, as a body arrives in
     * a socket buffer: one byte read past it is an ASan report. */
    char *in = malloc(size ? size : 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    struct outcome whole, split, bytes;

    decode(in, size, 0, 0, &whole);
    /* The split point comes from the data, so the fuzzer steers it. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size && i < 8; i++)
        h = (h ^ data[i]) * 16777619u;
    size_t cut = size ? h % size : 0;
    decode(in, size, cut, 0, &split);
    compare(&whole, &split);
    if (size <= 4096) {
        decode(in, size, 0, 1, &bytes);
        compare(&whole, &bytes);
        free(bytes.payload);
    }
    free(whole.payload);
    free(split.payload);
    free(in);
    return 0;
}
