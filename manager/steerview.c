/* JSON and Prometheus views of the steering state, for api.c. */
#include "steerview.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <cJSON.h>

#include "forward/backendset.h"
#include "forward/forwarding.h"
#include "prom.h"
#include "stattab.h"
#include "steer.h"

static void ip_text(uint32_t host_order, char *out, size_t outlen)
{
    struct in_addr a = {htonl(host_order)};
    inet_ntop(AF_INET, &a, out, (socklen_t)outlen);
}

static cJSON *add_time(cJSON *o, const char *name, int64_t ms)
{
    if (ms <= 0)
        return cJSON_AddNullToObject(o, name);
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char text[64];
    snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return cJSON_AddStringToObject(o, name, text);
}

/* The steering figures GET /v1/forwarding and /metrics show, each in its
 * document's unit (the swap in ms in JSON, in seconds in Prometheus). */
struct steer_figures {
    uint64_t rules;
    double clients;
    double last_swap_ms, last_swap_s;
    double moved;
    uint64_t reconcile_runs, reconcile_failures;
    uint64_t repairs[STEER_DRIFT_KINDS];
};

#define SF(field) offsetof(struct steer_figures, field)
#define REPAIRS_HELP                                                                               \
    "Items of the forwarding state found drifted from the desired one and put right."

/* In each document's order; only "rules" is in both. "last_swap_at", a
 * time, is written by hand between the first FWD_HEAD_FIELDS and the rest. */
static const struct stattab_field steer_fields[] = {
    {"rules", "manager_forwarding_rules", PROM_GAUGE, "Rules the forwarding mode installed.", NULL,
     NULL, STATTAB_U64, SF(rules)},
    {"clients", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_DOUBLE, SF(clients)},
    {"last_swap_ms", NULL, PROM_GAUGE, NULL, NULL, NULL, STATTAB_DOUBLE, SF(last_swap_ms)},
    {NULL, "manager_forwarding_last_swap_seconds", PROM_GAUGE,
     "How long the last swap of the forwarding rules took.", NULL, NULL, STATTAB_DOUBLE,
     SF(last_swap_s)},
    {NULL, "manager_partition_moved_clients", PROM_GAUGE,
     "Clients that changed instance at the last scale step.", NULL, NULL, STATTAB_DOUBLE,
     SF(moved)},
    {NULL, "manager_reconcile_runs_total", PROM_COUNTER,
     "Periodic comparisons of the forwarding state with the desired one (--reconcile-interval).",
     NULL, NULL, STATTAB_U64, SF(reconcile_runs)},
    {NULL, "manager_reconcile_failures_total", PROM_COUNTER,
     "Reconcile runs that could not read or repair the forwarding state.", NULL, NULL, STATTAB_U64,
     SF(reconcile_failures)},
    /* One sample per kind, as steer_drift_name spells them. */
    {NULL, "manager_reconcile_repairs_total", PROM_COUNTER, REPAIRS_HELP, "what", "rule",
     STATTAB_U64, SF(repairs[0])},
    {NULL, "manager_reconcile_repairs_total", PROM_COUNTER, REPAIRS_HELP, "what", "jump",
     STATTAB_U64, SF(repairs[1])},
    {NULL, "manager_reconcile_repairs_total", PROM_COUNTER, REPAIRS_HELP, "what", "route",
     STATTAB_U64, SF(repairs[2])},
    {NULL, "manager_reconcile_repairs_total", PROM_COUNTER, REPAIRS_HELP, "what", "address",
     STATTAB_U64, SF(repairs[3])},
    {NULL, "manager_reconcile_repairs_total", PROM_COUNTER, REPAIRS_HELP, "what", "backend",
     STATTAB_U64, SF(repairs[4])},
};
#define FWD_HEAD_FIELDS 2

static void steer_figures_of(const struct steer *s, struct steer_figures *f)
{
    f->rules = steer_rules(s);
    f->clients = steer_clients(s);
    f->last_swap_ms = (double)steer_last_swap_us(s) / 1000.0;
    f->last_swap_s = (double)steer_last_swap_us(s) / 1e6;
    f->moved = steer_last_moved(s);
    const struct steer_reconcile_stats *r = steer_reconcile_stats(s);
    f->reconcile_runs = r->runs;
    f->reconcile_failures = r->failures;
    memcpy(f->repairs, r->repairs, sizeof(f->repairs));
}

struct cJSON *steerview_forwarding_json(const struct steer *s)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    ok = ok && cJSON_AddStringToObject(o, "mode", steer_mode(s)) != NULL;
    struct steer_figures f;
    steer_figures_of(s, &f);
    ok = ok && stattab_write_json(o, steer_fields, FWD_HEAD_FIELDS, &f) == 0;
    ok = ok && add_time(o, "last_swap_at", steer_last_swap_at_ms(s)) != NULL;
    ok = ok && stattab_write_json(o, steer_fields + FWD_HEAD_FIELDS,
                                  STATTAB_COUNT(steer_fields) - FWD_HEAD_FIELDS, &f) == 0;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

struct cJSON *steerview_partition_json(const struct steer *s)
{
    const struct partition *p = steer_partition(s);
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    ok = ok && cJSON_AddStringToObject(o, "mode", steer_mode(s)) != NULL;
    ok = ok && cJSON_AddNumberToObject(o, "clients", steer_clients(s)) != NULL;
    ok = ok && cJSON_AddNumberToObject(o, "moved_last_step", steer_last_moved(s)) != NULL;
    cJSON *arr = ok ? cJSON_AddArrayToObject(o, "blocks") : NULL;
    ok = arr != NULL;
    for (size_t i = 0; ok && p && i < p->nblocks; i++) {
        const struct partition_block *b = &p->blocks[i];
        char first[INET_ADDRSTRLEN], last[INET_ADDRSTRLEN], pre[INET_ADDRSTRLEN + 4];
        cJSON *bj = cJSON_CreateObject();
        ok = bj != NULL && cJSON_AddItemToArray(arr, bj);
        ok = ok && cJSON_AddNumberToObject(bj, "instance", b->instance_id) != NULL;
        ok = ok && cJSON_AddNumberToObject(bj, "count", b->count) != NULL;
        if (b->count) {
            ip_text(b->first, first, sizeof(first));
            ip_text(b->last, last, sizeof(last));
            ok = ok && cJSON_AddStringToObject(bj, "first", first) != NULL;
            ok = ok && cJSON_AddStringToObject(bj, "last", last) != NULL;
        }
        cJSON *pa = ok ? cJSON_AddArrayToObject(bj, "prefixes") : NULL;
        ok = pa != NULL;
        for (size_t k = 0; ok && k < b->nprefixes; k++) {
            ip_text(b->prefixes[k].addr, first, sizeof(first));
            snprintf(pre, sizeof(pre), "%s/%d", first, b->prefixes[k].len);
            cJSON *str = cJSON_CreateString(pre);
            ok = str != NULL && cJSON_AddItemToArray(pa, str);
        }
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

void steerview_prom(const struct steer *s, struct prom *out)
{
    struct prom_label l = {"mode", steer_mode(s)};
    prom_gauge(out, "manager_forwarding_info", "Constant 1, labelled with the forwarding mode.", &l,
               1, 1);
    struct steer_figures f;
    steer_figures_of(s, &f);
    stattab_write_prom(out, steer_fields, STATTAB_COUNT(steer_fields), &f);
    if (!steer_observes(s))
        return;
    /* Balancer mode: its backends by state and its open connections, as it
     * reports them now (absent when it cannot be asked). */
    static struct fwd_observation obs[BACKENDSET_MAX];
    size_t n = 0;
    char err[256];
    if (steer_observe(s, obs, BACKENDSET_MAX, &n, err, sizeof(err)) < 0)
        return;
    static const char *const states[] = {"up", "down", "draining"};
    double count[3] = {0, 0, 0}, active = 0;
    for (size_t i = 0; i < n; i++) {
        active += (double)obs[i].active;
        for (size_t k = 0; k < 3; k++)
            if (strcmp(obs[i].state, states[k]) == 0)
                count[k]++;
    }
    prom_family(out, "manager_balancer_backends", PROM_GAUGE,
                "The balancer's backends by state (removed ones draining until their last "
                "connection ends).");
    for (size_t k = 0; k < 3; k++) {
        struct prom_label sl = {"state", states[k]};
        prom_sample(out, "manager_balancer_backends", &sl, 1, count[k]);
    }
    prom_gauge(out, "manager_balancer_active_connections",
               "Client connections the balancer relays now.", NULL, 0, active);
}
