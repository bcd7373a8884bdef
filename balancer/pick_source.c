/* source: a client address always reaches the same backend while the set
 * stays the same, and a change of the set moves only about 1/N of the
 * clients — consistent hashing, here as a table of 65536 slots, each owned
 * by one backend (the way Redis Cluster owns its 16384 hash slots).
 *
 * The key is the IPv4 address's low 16 bits plus a multiple of its high 16
 * (an IPv6 address is hashed), so the addresses of one /16 fill consecutive
 * slots. The table starts interleaved by smooth weighted round robin, so
 * any run of consecutive addresses — a testbed's clients, a subnet — splits
 * as evenly as the weights allow, the way nat and route partition clients.
 * After that the table changes minimally: a backend that joins takes evenly
 * spaced slots from every other one, down to its weighted share; a backend
 * that leaves (or goes down) has its slots dealt out in turn to the rest.
 * Unlike Maglev the table depends on the order of changes, not only on the
 * set: a backend that comes back gets as many slots as before, not the same
 * ones. */
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "backend.h"
#include "pick.h"

#define SOURCE_SLOTS 65536
#define NO_OWNER 0xffffu
#define MAX_MEMBERS (BALANCER_MAX_BACKENDS * 2)

struct member {
    uint64_t id;
    int weight;
    uint32_t count;  /* slots owned */
    uint32_t target; /* slots it should own */
};

struct source {
    uint16_t owner[SOURCE_SLOTS]; /* index into m, or NO_OWNER */
    struct member m[MAX_MEMBERS];
    size_t nm;
};

static void *source_create(void)
{
    struct source *s = calloc(1, sizeof(*s));
    if (s)
        memset(s->owner, 0xff, sizeof(s->owner));
    return s;
}

static void source_destroy(void *priv)
{
    free(priv);
}

/* Weighted shares of SOURCE_SLOTS, largest remainders first, so they add up. */
static void set_targets(struct source *s)
{
    uint64_t wsum = 0;
    for (size_t i = 0; i < s->nm; i++)
        wsum += (uint64_t)s->m[i].weight;
    if (wsum == 0)
        return;
    uint32_t given = 0;
    for (size_t i = 0; i < s->nm; i++) {
        s->m[i].target = (uint32_t)((uint64_t)SOURCE_SLOTS * s->m[i].weight / wsum);
        given += s->m[i].target;
    }
    /* The remainder (fewer than nm slots) goes one each in member order. */
    for (size_t i = 0; given < SOURCE_SLOTS; i = (i + 1) % s->nm, given++)
        s->m[i].target++;
}

/* Deals the free slots (owner NO_OWNER), in slot order, to members below
 * their target, interleaved by smooth weighted round robin over deficits. */
static void deal_free_slots(struct source *s)
{
    int64_t deficit[MAX_MEMBERS], current[MAX_MEMBERS];
    int64_t total = 0;
    for (size_t i = 0; i < s->nm; i++) {
        deficit[i] = (int64_t)s->m[i].target - (int64_t)s->m[i].count;
        if (deficit[i] < 0)
            deficit[i] = 0;
        current[i] = 0;
        total += deficit[i];
    }
    int64_t left[MAX_MEMBERS];
    memcpy(left, deficit, sizeof(int64_t) * s->nm);
    for (uint32_t slot = 0; slot < SOURCE_SLOTS && total > 0; slot++) {
        if (s->owner[slot] != NO_OWNER)
            continue;
        size_t best = MAX_MEMBERS;
        for (size_t i = 0; i < s->nm; i++) {
            if (left[i] == 0)
                continue;
            current[i] += deficit[i];
            if (best == MAX_MEMBERS || current[i] > current[best])
                best = i;
        }
        if (best == MAX_MEMBERS)
            break;
        int64_t sum = 0;
        for (size_t i = 0; i < s->nm; i++)
            if (left[i] > 0)
                sum += deficit[i];
        current[best] -= sum;
        s->owner[slot] = (uint16_t)best;
        s->m[best].count++;
        left[best]--;
        total--;
    }
}

static void source_update(void *priv, struct backend *const *b, size_t n)
{
    struct source *s = priv;
    /* 1. Members no longer eligible give up their slots. */
    int keep[MAX_MEMBERS];
    for (size_t i = 0; i < s->nm; i++) {
        keep[i] = 0;
        for (size_t k = 0; k < n; k++)
            if (b[k]->id == s->m[i].id && backend_eligible(b[k])) {
                keep[i] = 1;
                s->m[i].weight = b[k]->spec.weight;
            }
    }
    uint16_t remap[MAX_MEMBERS];
    size_t nm = 0;
    for (size_t i = 0; i < s->nm; i++) {
        if (keep[i]) {
            remap[i] = (uint16_t)nm;
            s->m[nm++] = s->m[i];
        } else {
            remap[i] = NO_OWNER;
        }
    }
    s->nm = nm;
    for (uint32_t slot = 0; slot < SOURCE_SLOTS; slot++)
        if (s->owner[slot] != NO_OWNER)
            s->owner[slot] = remap[s->owner[slot]];
    /* 2. Eligible backends not yet members join with no slot. */
    for (size_t k = 0; k < n; k++) {
        if (!backend_eligible(b[k]))
            continue;
        int found = 0;
        for (size_t i = 0; i < s->nm && !found; i++)
            found = s->m[i].id == b[k]->id;
        if (!found && s->nm < MAX_MEMBERS) {
            s->m[s->nm].id = b[k]->id;
            s->m[s->nm].weight = b[k]->spec.weight;
            s->m[s->nm].count = 0;
            s->nm++;
        }
    }
    if (s->nm == 0) {
        memset(s->owner, 0xff, sizeof(s->owner));
        return;
    }
    set_targets(s);
    /* 3. Members above their share release evenly spaced slots: of a member
     * with c slots and a surplus of x, every (c/x)-th (Bresenham), so what
     * a joiner takes is spread over the whole table. */
    uint32_t owned[MAX_MEMBERS], surplus[MAX_MEMBERS], seen[MAX_MEMBERS];
    for (size_t i = 0; i < s->nm; i++) {
        owned[i] = s->m[i].count;
        surplus[i] = owned[i] > s->m[i].target ? owned[i] - s->m[i].target : 0;
        seen[i] = 0;
    }
    for (uint32_t slot = 0; slot < SOURCE_SLOTS; slot++) {
        uint16_t o = s->owner[slot];
        if (o == NO_OWNER || surplus[o] == 0)
            continue;
        /* The j-th of its slots goes when floor(j * x / c) steps up. */
        uint64_t j = seen[o]++;
        if ((j + 1) * surplus[o] / owned[o] > j * surplus[o] / owned[o]) {
            s->owner[slot] = NO_OWNER;
            s->m[o].count--;
        }
    }
    /* 4. Free slots (released, left by departed members, or the whole table
     * the first time) go to members below their share. */
    deal_free_slots(s);
}

static uint32_t client_key(const struct sockaddr *sa)
{
    if (sa && sa->sa_family == AF_INET) {
        uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
        return ((a & 0xffffu) + (a >> 16) * 40503u) % SOURCE_SLOTS;
    }
    if (sa && sa->sa_family == AF_INET6) {
        const uint8_t *p = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        uint32_t h = 2166136261u; /* FNV-1a */
        for (int i = 0; i < 16; i++)
            h = (h ^ p[i]) * 16777619u;
        return h % SOURCE_SLOTS;
    }
    return 0;
}

static struct backend *find_id(struct backend *const *b, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (b[i]->id == id)
            return b[i];
    return NULL;
}

static struct backend *source_pick(void *priv, struct backend *const *b, size_t n,
                                   const struct pick_ctx *ctx)
{
    struct source *s = priv;
    if (s->nm == 0)
        return NULL;
    uint32_t slot = client_key(ctx->client);
    /* The owner, or when it cannot take this connection (a connect to it
     * just failed) the owner of the next slot that can: the same fallback
     * for the same client every time. */
    for (uint32_t k = 0; k < SOURCE_SLOTS; k++) {
        uint16_t o = s->owner[(slot + k) % SOURCE_SLOTS];
        if (o == NO_OWNER)
            continue;
        struct backend *c = find_id(b, n, s->m[o].id);
        if (c && pick_usable(c, ctx))
            return c;
        if (k > 4 * MAX_MEMBERS && k > 1024)
            break;
    }
    return NULL;
}

const struct pick_ops pick_source_ops = {
    .name = "source",
    .create = source_create,
    .destroy = source_destroy,
    .update = source_update,
    .pick = source_pick,
};
