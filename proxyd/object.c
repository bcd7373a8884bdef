/* Responses shared by many clients: the head, the body as refcounted chunks
 * handed to output buffers by reference (a hit copies no body bytes in user
 * space), the subscribers woken as the fetch fills it, and the table of
 * objects in flight that collapses concurrent misses onto one fetch. */
#include "object_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <event2/buffer.h>

#include "keyhash.h"
#include "memsize.h"

/* A chunk's bytes live in malloc'd memory, or — for a body a cache keeps
 * whole — in a memfd mapped for writing: hits then go out with sendfile(2),
 * which hands the pages to the socket without the copy writev(2) makes
 * (a profile of 1 MiB hits over writev spent 45% of proxyd's time in that
 * copy). */
struct body_chunk {
    int refs;
    size_t cap;
    size_t used;
    char *data;
    int memfd;                         /* -1 when data is malloc'd */
    struct evbuffer_file_segment *seg; /* on the memfd, made at first delivery */
};

/* Bodies from this size on use a memfd: below it, the writev copy costs less
 * than a descriptor and a mapping. */
#define OBJECT_SENDFILE_MIN_BYTES (64 * 1024)

static struct body_chunk *chunk_new(size_t cap, int use_file)
{
    struct body_chunk *c = malloc(sizeof(*c) + (use_file ? 0 : cap));
    if (!c)
        return NULL;
    c->refs = 1;
    c->cap = cap;
    c->used = 0;
    c->memfd = -1;
    c->seg = NULL;
    c->data = (char *)(c + 1);
    if (use_file) {
        int fd = memfd_create("proxyd-body", MFD_CLOEXEC);
        void *p = MAP_FAILED;
        if (fd >= 0 && ftruncate(fd, (off_t)cap) == 0)
            p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            /* Out of descriptors or maps: plain memory serves as well. */
            if (fd >= 0)
                close(fd);
            free(c);
            return chunk_new(cap, 0);
        }
        c->memfd = fd;
        c->data = p;
    }
    return c;
}

static void chunk_unref(struct body_chunk *c)
{
    if (!c || --c->refs > 0)
        return;
    if (c->memfd >= 0) {
        munmap(c->data, c->cap);
        /* Output buffers still sending from the file hold the segment (and
         * so the descriptor); the last of them closes it. */
        if (c->seg)
            evbuffer_file_segment_free(c->seg);
        else
            close(c->memfd);
    }
    free(c);
}

/* evbuffer cleanup: the output buffer has written (or dropped) its reference. */
static void chunk_unref_cb(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    chunk_unref(arg);
}

struct object *object_new(const char *key, size_t key_len)
{
    struct object *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    o->magic = OBJECT_MAGIC;
    o->refs = 1;
    o->content_length = -1;
    o->key = malloc(key_len + 1);
    if (!o->key) {
        free(o);
        return NULL;
    }
    memcpy(o->key, key, key_len);
    o->key[key_len] = '\0';
    o->key_len = key_len;
    TAILQ_INIT(&o->subs);
    return o;
}

void object_ref(struct object *o)
{
    assert(o->magic == OBJECT_MAGIC);
    o->refs++;
}

void object_unref(struct object *o)
{
    if (!o)
        return;
    assert(o->magic == OBJECT_MAGIC && o->refs > 0);
    if (--o->refs > 0)
        return;
    assert(TAILQ_EMPTY(&o->subs));
    object_table_remove(o);
    for (size_t i = 0; i < o->nchunks; i++)
        chunk_unref(o->chunks[i]);
    free(o->chunks);
    free(o->raw_head);
    free(o->headers);
    free(o->stored_head);
    free(o->key);
    o->magic = 0;
    free(o);
}

void object_release_cb(void *value)
{
    struct object *o = value;
    o->in_cache = 0;
    object_unref(o);
}

/* libevent 2.1's struct evbuffer_file_segment, made once per memfd chunk,
 * is under 128 bytes with its allocator header: a bound, not a measure (the
 * struct is private to libevent). */
#define OBJECT_FILE_SEGMENT_BYTES 256

/* A memfd's pages are shared memory, in the process's RSS once written:
 * whole pages, however few bytes the last one holds. */
static uint64_t chunk_memsize(const struct body_chunk *c)
{
    if (c->memfd < 0)
        return memsize(c);
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    return memsize(c) + (c->cap + page - 1) / page * page + OBJECT_FILE_SEGMENT_BYTES;
}

uint64_t object_size(const struct object *o)
{
    uint64_t n = memsize(o) + memsize(o->key) + memsize(o->raw_head) + memsize(o->headers) +
                 memsize(o->stored_head) + memsize(o->chunks);
    for (size_t i = 0; i < o->nchunks; i++)
        n += chunk_memsize(o->chunks[i]);
    return n;
}

const struct http1_header *object_header(const struct object *o, const char *name)
{
    return http1_header_find(o->headers, o->nheaders, name);
}

/* Fields a cache does not store or forward as they came: hop-by-hop ones
 * (and those Connection lists), framing (regenerated per client), and Age
 * (recomputed per client). */
static int header_is_regenerated(const struct http1_header *h, const struct http1_header *all,
                                 size_t n)
{
    return http1_is_hop_by_hop(h->name) || http1_connection_lists(all, n, h->name) ||
           http1_str_caseeq(h->name, "Content-Length") || http1_str_caseeq(h->name, "Age");
}

/* Copies the fields into one buffer that headers[] then point into, and
 * builds the stored head clients are sent. */
static int object_take_fields(struct object *o, const struct http1_header *h, size_t n)
{
    size_t raw_len = 0;
    for (size_t i = 0; i < n; i++)
        raw_len += h[i].name.len + h[i].value.len + 4;
    char *raw = malloc(raw_len + 1);
    struct http1_header *hdrs = calloc(n ? n : 1, sizeof(*hdrs));
    char *stored = malloc(raw_len + 1);
    if (!raw || !hdrs || !stored) {
        free(raw);
        free(hdrs);
        free(stored);
        return -1;
    }
    size_t off = 0, soff = 0;
    for (size_t i = 0; i < n; i++) {
        char *line = raw + off;
        memcpy(raw + off, h[i].name.p, h[i].name.len);
        hdrs[i].name.p = raw + off;
        hdrs[i].name.len = h[i].name.len;
        off += h[i].name.len;
        raw[off++] = ':';
        raw[off++] = ' ';
        memcpy(raw + off, h[i].value.p, h[i].value.len);
        hdrs[i].value.p = raw + off;
        hdrs[i].value.len = h[i].value.len;
        off += h[i].value.len;
        raw[off++] = '\r';
        raw[off++] = '\n';
        if (!header_is_regenerated(&h[i], h, n)) {
            memcpy(stored + soff, line, (size_t)(raw + off - line));
            soff += (size_t)(raw + off - line);
        }
    }
    free(o->raw_head);
    free(o->headers);
    free(o->stored_head);
    o->raw_head = raw;
    o->headers = hdrs;
    o->nheaders = n;
    o->stored_head = stored;
    o->stored_head_len = soff;
    const struct http1_header *vary = http1_header_find(hdrs, n, "Vary");
    if (vary)
        o->vary = vary->value;
    else
        o->vary.p = NULL, o->vary.len = 0;
    return 0;
}

static void object_notify(struct object *o, enum subscriber_event ev)
{
    /* A callback may unsubscribe itself (and only itself) or drop the last
     * outside reference: hold one across the walk. */
    object_ref(o);
    struct subscriber *s, *next;
    for (s = TAILQ_FIRST(&o->subs); s; s = next) {
        next = TAILQ_NEXT(s, link);
        assert(s->magic == SUBSCRIBER_MAGIC);
        s->cb(s, ev);
    }
    object_unref(o);
}

int object_set_head(struct object *o, const struct http1_response *resp, int64_t request_time,
                    int64_t response_time)
{
    if (object_take_fields(o, resp->headers, resp->nheaders) < 0)
        return -1;
    o->status = resp->status;
    o->content_length = resp->body == HTTP1_BODY_LENGTH ? (int64_t)resp->content_length
                        : resp->body == HTTP1_BODY_NONE ? 0
                                                        : -1;
    freshness_compute(o->status, o->headers, o->nheaders, request_time, response_time, &o->fresh);
    o->state = OBJECT_STREAMING;
    object_notify(o, SUB_HEADERS);
    return 0;
}

static int object_push_chunk(struct object *o, struct body_chunk *c)
{
    if (o->nchunks == o->chunks_cap) {
        size_t cap = o->chunks_cap ? o->chunks_cap * 2 : 4;
        struct body_chunk **n = realloc(o->chunks, cap * sizeof(*n));
        if (!n)
            return -1;
        o->chunks = n;
        o->chunks_cap = cap;
    }
    o->chunks[o->nchunks++] = c;
    return 0;
}

char *object_body_space(struct object *o, size_t *len)
{
    struct body_chunk *last = o->nchunks ? o->chunks[o->nchunks - 1] : NULL;
    if (!last || last->used == last->cap) {
        /* A retained body of known length gets one chunk of exactly that
         * length: a 1 MiB object is then one reference per hit. */
        size_t cap = OBJECT_CHUNK_BYTES;
        int use_file = 0;
        if (o->retain && o->content_length > 0 && (uint64_t)o->content_length > o->body_bytes) {
            cap = (size_t)((uint64_t)o->content_length - o->body_bytes);
            use_file = cap >= OBJECT_SENDFILE_MIN_BYTES;
        }
        last = chunk_new(cap, use_file);
        if (!last || object_push_chunk(o, last) < 0) {
            chunk_unref(last);
            *len = 0;
            return NULL;
        }
    }
    size_t room = last->cap - last->used;
    if (*len > room)
        *len = room;
    return last->data + last->used;
}

/* Drops chunks of a body that is not retained once every subscriber has
 * them (their output buffers hold their own references). */
static void object_trim(struct object *o)
{
    if (o->retain || o->nchunks == 0)
        return;
    uint64_t min_pos = o->body_bytes;
    struct subscriber *s;
    TAILQ_FOREACH(s, &o->subs, link)
    {
        if (s->pos < min_pos)
            min_pos = s->pos;
    }
    size_t drop = 0;
    uint64_t start = o->dropped_bytes;
    while (drop < o->nchunks) {
        struct body_chunk *c = o->chunks[drop];
        /* Never drop the chunk being filled, nor one someone still lacks. */
        if (c->used < c->cap || start + c->used > min_pos)
            break;
        start += c->used;
        chunk_unref(c);
        drop++;
    }
    if (drop) {
        memmove(o->chunks, o->chunks + drop, (o->nchunks - drop) * sizeof(*o->chunks));
        o->nchunks -= drop;
        o->dropped_bytes = start;
    }
}

/* Wakes subscribers, then drops what none of them needs any more. A
 * callback may drop the last outside reference: hold one across both. */
static void object_notify_and_trim(struct object *o, enum subscriber_event ev)
{
    object_ref(o);
    object_notify(o, ev);
    object_trim(o);
    object_unref(o);
}

void object_body_commit(struct object *o, size_t n)
{
    if (n == 0)
        return;
    struct body_chunk *last = o->chunks[o->nchunks - 1];
    assert(last->used + n <= last->cap);
    last->used += n;
    o->body_bytes += n;
    object_notify_and_trim(o, SUB_DATA);
}

void object_body_flush(struct object *o)
{
    object_notify_and_trim(o, SUB_DATA);
}

void object_body_append(struct object *o, const char *data, size_t n)
{
    while (n > 0) {
        size_t len = n;
        char *p = object_body_space(o, &len);
        if (!p)
            return;
        memcpy(p, data, len);
        /* Commit without waking subscribers for each piece. */
        o->chunks[o->nchunks - 1]->used += len;
        o->body_bytes += len;
        data += len;
        n -= len;
    }
}

void object_shrink_body(struct object *o)
{
    if (o->nchunks == 0)
        return;
    struct body_chunk *last = o->chunks[o->nchunks - 1];
    if (last->memfd >= 0 || last->used == last->cap)
        return;
    struct body_chunk *fit = NULL;
    if (last->used == 0) {
        /* Allocated for bytes that never came (the body ended first). */
        chunk_unref(last);
        o->nchunks--;
    } else if (last->refs == 1) {
        /* Only the object knows it: shrink in place (glibc splits the
         * block and the rest is free for anything). */
        fit = realloc(last, sizeof(*fit) + last->used);
        if (!fit)
            return; /* still correct, only larger */
        fit->data = (char *)(fit + 1);
        fit->cap = fit->used;
        o->chunks[o->nchunks - 1] = fit;
    } else {
        /* Output buffers still send from it: they keep the block (and drop
         * it when sent), the object keeps an exact copy. */
        fit = chunk_new(last->used, 0);
        if (!fit)
            return;
        memcpy(fit->data, last->data, last->used);
        fit->used = last->used;
        o->chunks[o->nchunks - 1] = fit;
        chunk_unref(last);
    }
    if (o->nchunks == 0) {
        free(o->chunks);
        o->chunks = NULL;
        o->chunks_cap = 0;
    } else if (o->nchunks < o->chunks_cap) {
        struct body_chunk **arr = realloc(o->chunks, o->nchunks * sizeof(*arr));
        if (arr) {
            o->chunks = arr;
            o->chunks_cap = o->nchunks;
        }
    }
}

void object_complete(struct object *o)
{
    if (o->retain)
        object_shrink_body(o);
    o->state = OBJECT_COMPLETE;
    o->content_length = (int64_t)o->body_bytes;
    object_table_remove(o);
    object_notify_and_trim(o, SUB_DONE);
}

void object_fail(struct object *o, int status)
{
    o->state = OBJECT_FAILED;
    o->fail_status = status;
    o->cacheable = 0;
    object_table_remove(o);
    object_notify(o, SUB_FAILED);
}

void object_stop_retaining(struct object *o)
{
    o->retain = 0;
    o->cacheable = 0;
    o->collapsible = 0;
    object_table_remove(o);
    object_trim(o);
}

void subscriber_init(struct subscriber *s, subscriber_cb cb, void *ctx)
{
    memset(s, 0, sizeof(*s));
    s->magic = SUBSCRIBER_MAGIC;
    s->cb = cb;
    s->ctx = ctx;
}

void object_subscribe(struct object *o, struct subscriber *s)
{
    assert(o->magic == OBJECT_MAGIC && s->magic == SUBSCRIBER_MAGIC && !s->obj);
    object_ref(o);
    s->obj = o;
    s->pos = 0;
    TAILQ_INSERT_TAIL(&o->subs, s, link);
    o->nsubs++;
}

void object_subscribe_owner(struct object *o, struct subscriber *s)
{
    object_subscribe(o, s);
    o->owner = s;
}

int object_head_known(const struct object *o)
{
    return o->state == OBJECT_STREAMING || o->state == OBJECT_COMPLETE;
}

void object_unsubscribe(struct subscriber *s)
{
    struct object *o = s->obj;
    if (!o)
        return;
    /* Off the list first: releasing the throttle may resume the fetch, which
     * must not wake a subscriber on its way out. */
    TAILQ_REMOVE(&o->subs, s, link);
    o->nsubs--;
    if (o->owner == s)
        o->owner = NULL;
    s->obj = NULL;
    if (s->throttling) {
        s->throttling = 0;
        if (--o->throttled == 0 && o->on_unthrottle && o->fetch)
            o->on_unthrottle(o->fetch);
    }
    object_trim(o);
    object_unref(o);
}

uint64_t object_pending(const struct subscriber *s)
{
    return s->obj ? s->obj->body_bytes - s->pos : 0;
}

size_t object_deliver(struct subscriber *s, struct evbuffer *out, size_t max)
{
    struct object *o = s->obj;
    size_t added = 0;
    uint64_t start = o->dropped_bytes;
    assert(s->pos >= start);
    for (size_t i = 0; i < o->nchunks && added < max; i++) {
        struct body_chunk *c = o->chunks[i];
        uint64_t end = start + c->used;
        if (s->pos < end) {
            size_t off = (size_t)(s->pos - start);
            size_t len = c->used - off;
            if (len > max - added)
                len = max - added;
            /* A file segment only over a complete chunk: libevent may read
             * the file once when the segment is added (outputs that are not
             * sockets), and bytes still to come would read as zeros. */
            if (c->memfd >= 0 && !c->seg && c->used == c->cap)
                c->seg = evbuffer_file_segment_new(
                    c->memfd, 0, (ev_off_t)c->cap,
                    EVBUF_FS_DISABLE_MMAP | EVBUF_FS_DISABLE_LOCKING | EVBUF_FS_CLOSE_ON_FREE);
            if (c->seg) {
                if (evbuffer_add_file_segment(out, c->seg, (ev_off_t)off, (ev_off_t)len) < 0)
                    break;
                s->pos += len;
                added += len;
                start = end;
                continue;
            }
            c->refs++;
            if (evbuffer_add_reference(out, c->data + off, len, chunk_unref_cb, c) < 0) {
                c->refs--;
                break;
            }
            s->pos += len;
            added += len;
        }
        start = end;
    }
    return added;
}

void object_throttle(struct subscriber *s, int on)
{
    struct object *o = s->obj;
    if (!o || s->throttling == on)
        return;
    s->throttling = on;
    if (on) {
        o->throttled++;
    } else if (--o->throttled == 0 && o->on_unthrottle && o->fetch) {
        o->on_unthrottle(o->fetch);
    }
}

int object_refresh(struct object *o, struct object *stored, const struct http1_response *nm,
                   int64_t request_time, int64_t response_time)
{
    /* Stored fields, each replaced by the 304's field of the same name
     * (RFC 9111 §4.3.4), then the 304's fields the stored response lacks. */
    size_t cap = stored->nheaders + nm->nheaders;
    struct http1_header *merged = calloc(cap ? cap : 1, sizeof(*merged));
    if (!merged)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < stored->nheaders; i++) {
        struct http1_str name = stored->headers[i].name;
        int replaced = 0;
        for (size_t j = 0; j < nm->nheaders && !replaced; j++)
            replaced = nm->headers[j].name.len == name.len &&
                       strncasecmp(nm->headers[j].name.p, name.p, name.len) == 0 &&
                       !http1_str_caseeq(name, "Content-Length") &&
                       !http1_str_caseeq(name, "Transfer-Encoding");
        if (!replaced)
            merged[n++] = stored->headers[i];
    }
    for (size_t j = 0; j < nm->nheaders; j++) {
        struct http1_str name = nm->headers[j].name;
        /* A 304 must not change the framing of the stored body. */
        if (http1_str_caseeq(name, "Content-Length") || http1_str_caseeq(name, "Transfer-Encoding"))
            continue;
        merged[n++] = nm->headers[j];
    }
    int rc = object_take_fields(o, merged, n);
    free(merged);
    if (rc < 0)
        return -1;
    for (size_t i = 0; i < stored->nchunks; i++) {
        if (object_push_chunk(o, stored->chunks[i]) < 0)
            return -1;
        stored->chunks[i]->refs++;
    }
    o->status = stored->status;
    freshness_compute(o->status, o->headers, o->nheaders, request_time, response_time, &o->fresh);
    o->body_bytes = stored->body_bytes;
    o->dropped_bytes = stored->dropped_bytes;
    o->content_length = (int64_t)o->body_bytes;
    o->retain = 1;
    o->refreshed = 1;
    o->state = OBJECT_STREAMING;
    object_notify(o, SUB_HEADERS);
    object_complete(o);
    return 0;
}

void object_send_retry(struct subscriber *s)
{
    object_unsubscribe(s);
    s->cb(s, SUB_RETRY);
}

/* The in-flight table: a small chained hash map from key to object, under
 * a keyed hash: the keys are URLs clients choose, and FNV-1a (used here
 * before) let anyone line up colliding URLs in one chain. */
#define OBJECT_TABLE_SLOTS 1024 /* a power of two */

struct object_table {
    struct object_slot **slots;
    size_t nslots;
    size_t count;
    struct keyhash seed;
};
struct object_slot {
    struct object *obj;
    struct object_slot *next;
};

static size_t table_slot(const struct object_table *t, const char *k, size_t n)
{
    return (size_t)(keyhash(&t->seed, k, n) & (t->nslots - 1));
}

struct object_table *object_table_new(void)
{
    struct object_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->nslots = OBJECT_TABLE_SLOTS;
    t->slots = calloc(t->nslots, sizeof(*t->slots));
    if (!t->slots) {
        free(t);
        return NULL;
    }
    keyhash_init(&t->seed);
    return t;
}

void object_table_free(struct object_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nslots; i++) {
        struct object_slot *s = t->slots[i], *next;
        for (; s; s = next) {
            next = s->next;
            s->obj->table = NULL;
            free(s);
        }
    }
    free(t->slots);
    free(t);
}

struct object *object_table_find(struct object_table *t, const char *key, size_t key_len)
{
    struct object_slot *s = t->slots[table_slot(t, key, key_len)];
    for (; s; s = s->next)
        if (s->obj->key_len == key_len && memcmp(s->obj->key, key, key_len) == 0)
            return s->obj;
    return NULL;
}

void object_table_add(struct object_table *t, struct object *o)
{
    struct object_slot *s = malloc(sizeof(*s));
    if (!s)
        return; /* not collapsible then; still correct */
    size_t i = table_slot(t, o->key, o->key_len);
    s->obj = o;
    s->next = t->slots[i];
    t->slots[i] = s;
    t->count++;
    o->table = t;
    o->collapsible = 1;
}

void object_table_remove(struct object *o)
{
    struct object_table *t = o->table;
    if (!t)
        return;
    struct object_slot **pp = &t->slots[table_slot(t, o->key, o->key_len)];
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->obj == o) {
            struct object_slot *dead = *pp;
            *pp = dead->next;
            free(dead);
            t->count--;
            break;
        }
    }
    o->table = NULL;
}

size_t object_table_count(const struct object_table *t)
{
    return t->count;
}

/* ---- accessors for the rest of proxyd ---- */

int object_status(const struct object *o)
{
    return o->status;
}

int object_fail_status(const struct object *o)
{
    return o->fail_status;
}

int object_refreshed(const struct object *o)
{
    return o->refreshed;
}

const char *object_key(const struct object *o)
{
    return o->key;
}

const char *object_stored_head(const struct object *o, size_t *len)
{
    *len = o->stored_head_len;
    return o->stored_head;
}

int64_t object_age(const struct object *o, int64_t now)
{
    return freshness_age(&o->fresh, now);
}

int64_t object_content_length(const struct object *o)
{
    return o->content_length;
}

size_t object_subscriber_count(const struct object *o)
{
    return o->nsubs;
}

int object_retains(const struct object *o)
{
    return o->retain;
}

int object_reading_held(const struct object *o)
{
    return !o->retain && o->throttled > 0;
}

int object_is_owner(const struct subscriber *s)
{
    return s->obj && s->obj->owner == s;
}

void object_attach_fetch(struct object *o, void *fetch)
{
    o->fetch = fetch;
    o->on_unthrottle = NULL;
}

void *object_fetch(const struct object *o)
{
    return o->fetch;
}

void object_detach_fetch(struct object *o, const void *fetch)
{
    if (o->fetch == fetch)
        o->fetch = NULL;
}

void object_set_unthrottle(struct object *o, void (*on_unthrottle)(void *fetch))
{
    o->on_unthrottle = on_unthrottle;
}

void object_abandon(struct object *o)
{
    object_table_remove(o);
    if (o->state == OBJECT_PENDING || o->state == OBJECT_STREAMING)
        o->state = OBJECT_FAILED;
}

void object_retain_within(struct object *o, uint64_t more_bytes, uint64_t max_bytes)
{
    if (o->retain && o->body_bytes + more_bytes > max_bytes)
        object_stop_retaining(o);
}
