/* The balancer's backend set, both ways: what fwd_balancer.c PUTs, and the
 * per-backend state and latency it reads back for the pool view and for
 * counting a draining instance's connections. The JSON itself is
 * common/backendset_json's, which the balancer uses too; this file maps it
 * to the manager's instances. */
#include "backendset.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "backendset_json.h"

static void endpoint_addr(struct in_addr a, uint16_t port, struct addr *out)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = a};
    addr_from_sockaddr(out, (const struct sockaddr *)&sin, sizeof(sin));
}

/* An instance as a backend: named as the instance, its proxyd admin
 * endpoint (when it has one) as the health address, all weighing the same. */
static int target_member(const struct fwd_target *t, struct backendset_member *m)
{
    memset(m, 0, sizeof(*m));
    if (!t->name[0] || t->addr.s_addr == 0 || t->port == 0)
        return -1;
    snprintf(m->name, sizeof(m->name), "%s", t->name);
    endpoint_addr(t->addr, t->port, &m->address);
    if (t->admin_port != 0 && t->admin_addr.s_addr != 0) {
        endpoint_addr(t->admin_addr, t->admin_port, &m->health);
        m->has_health = 1;
    }
    m->weight = 1;
    return 0;
}

char *backendset_json(const struct fwd_target *targets, size_t n, char *err, size_t errlen)
{
    /* Off the stack (~40 KiB); the manager's loop is single-threaded. */
    static struct backendset_member members[BACKENDSET_MAX];
    if (n > BACKENDSET_MAX) {
        snprintf(err, errlen, "%zu backends, at most %d", n, BACKENDSET_MAX);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (target_member(&targets[i], &members[i]) < 0) {
            snprintf(err, errlen, "backend %zu (instance %d) has no name or address", i + 1,
                     targets[i].instance_id);
            return NULL;
        }
    }
    return backendset_json_write_set(members, n, err, errlen);
}

static void status_observation(const struct backendset_status *s, struct fwd_observation *o)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->name, sizeof(o->name), "%.*s", (int)sizeof(o->name) - 1, s->member.name);
    snprintf(o->state, sizeof(o->state), "%.*s", (int)sizeof(o->state) - 1, s->state);
    o->removed = s->removed;
    o->active = s->active;
    o->total = s->total;
    o->ewma_ms = s->ewma_ms;
    /* Both spell "not measured" as a negative number. */
    o->p50_ms = s->p50_ms < 0 ? FWD_UNMEASURED : s->p50_ms;
    o->p90_ms = s->p90_ms < 0 ? FWD_UNMEASURED : s->p90_ms;
    o->p99_ms = s->p99_ms < 0 ? FWD_UNMEASURED : s->p99_ms;
    snprintf(o->last_check, sizeof(o->last_check), "%.*s", (int)sizeof(o->last_check) - 1,
             s->last_check);
}

int backendset_parse(const char *text, struct fwd_observation *out, size_t max, size_t *n,
                     char *err, size_t errlen)
{
    static struct backendset_status list[BACKENDSET_MAX];
    if (max > BACKENDSET_MAX)
        max = BACKENDSET_MAX;
    if (backendset_json_read_statuses(text, list, max, n, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < *n; i++)
        status_observation(&list[i], &out[i]);
    return 0;
}

static int member_same(const struct backendset_member *a, const struct backendset_member *b)
{
    return addr_equal(&a->address, &b->address) && a->has_health == b->has_health &&
           (!a->has_health || addr_equal(&a->health, &b->health)) && a->weight == b->weight;
}

int backendset_drift(const char *text, const struct fwd_target *targets, size_t n, unsigned *drift,
                     char *err, size_t errlen)
{
    static struct backendset_status list[BACKENDSET_MAX];
    struct backendset_member want;
    size_t have = 0;
    *drift = 0;
    if (backendset_json_read_statuses(text, list, BACKENDSET_MAX, &have, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (target_member(&targets[i], &want) < 0) {
            snprintf(err, errlen, "backend %zu (instance %d) has no name or address", i + 1,
                     targets[i].instance_id);
            return -1;
        }
        size_t j = 0;
        while (j < have && (list[j].removed || strcmp(list[j].member.name, want.name) != 0))
            j++;
        *drift += j == have || !member_same(&list[j].member, &want);
    }
    for (size_t j = 0; j < have; j++) {
        if (list[j].removed)
            continue;
        size_t i = 0;
        while (i < n && strcmp(targets[i].name, list[j].member.name) != 0)
            i++;
        *drift += i == n;
    }
    return 0;
}
