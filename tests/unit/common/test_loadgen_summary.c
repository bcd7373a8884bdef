/* Unit tests for common/loadgen_summary.c, the run summary loadgen writes
 * and ppexp reads: a summary reads back equal, nulls included; the text
 * keeps loadgen's layout; a malformed summary is refused with the field
 * named. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "../check_main.h"
#include "loadgen_summary.h"

static void latency(struct loadgen_summary_latency *l, double base)
{
    l->mean = base + 0.125;
    l->p50 = base;
    l->p90 = base * 2;
    l->p99 = base * 3;
    l->max = base * 4;
}

/* Every field set to a value of its own, so a swap or a miss shows. */
static struct loadgen_summary *sample(int open_loop)
{
    struct loadgen_summary *s = loadgen_summary_new(2, 2);
    ck_assert_ptr_nonnull(s);
    snprintf(s->label, sizeof(s->label), "fig4 r=8");
    snprintf(s->url, sizeof(s->url), "http://198.19.1.2/obj1m");
    snprintf(s->proxy, sizeof(s->proxy), "%s", open_loop ? "" : "198.18.0.100:3128");
    s->rate = open_loop ? 12.5 : -1;
    s->clients = 2;
    s->concurrency = 4;
    s->concurrency_requested = 8;
    s->keepalive = 1;
    s->requests = 1000;
    s->ok = 990;
    s->responses = 995;
    s->errors = (struct loadgen_summary_errors){1, 2, 3, 4, 5, 6, 21};
    s->warmup_requests = 50;
    s->unfinished = 7;
    s->unsent = 9;
    s->connections = 11;
    s->stale_retries = 2;
    s->duration_s = 10.0001;
    s->elapsed_s = 12.5;
    s->rps = 99.01;
    s->mbps = 104.857;
    s->bytes_in = 1048576000;
    s->body_bytes = 1048570000;
    latency(&s->latency_ms, 10);
    latency(&s->ttfb_ms, 1);
    for (size_t i = 0; i < 2; i++) {
        struct loadgen_summary_proxy *p = &s->proxies[i];
        snprintf(p->name, sizeof(p->name), "pp%zu", i + 1);
        p->requests = 500 + i;
        p->hits = 490 + i;
        p->misses = 10;
        p->errors = i;
        latency(&p->latency_ms, 20 + (double)i);
        latency(&p->ttfb_ms, 2 + (double)i);
        struct loadgen_summary_client *c = &s->per_client[i];
        c->client = i + 1;
        snprintf(c->source, sizeof(c->source), "198.18.1.%zu (pp-c%zu)", i + 1, i + 1);
        c->requests = 400 + i;
        c->ok = 395;
        c->errors = (struct loadgen_summary_errors){i, 0, 1, 0, 0, 0, i + 1};
        c->rps = 40.5;
        c->mbps = 41.25;
        latency(&c->latency_ms, 30 + (double)i);
        latency(&c->ttfb_ms, 3 + (double)i);
    }
    s->in_flight_target = open_loop ? -1 : 8;
    s->in_flight_mean = 7.93;
    s->littles_ratio = open_loop ? -1 : 0.9876;
    s->littles_ok = !open_loop;
    s->loadgen_cpu_pct = 12.3;
    s->loop_lag_p99_ms = 1.5;
    s->loop_lag_max_ms = 4;
    s->saturated = 0;
    s->interrupted = 1;
    return s;
}

static void ck_latency_eq(const struct loadgen_summary_latency *a,
                          const struct loadgen_summary_latency *b)
{
    ck_assert(a->mean == b->mean && a->p50 == b->p50 && a->p90 == b->p90 && a->p99 == b->p99 &&
              a->max == b->max);
}

static void ck_errors_eq(const struct loadgen_summary_errors *a,
                         const struct loadgen_summary_errors *b)
{
    ck_assert(memcmp(a, b, sizeof(*a)) == 0); /* nothing but uint64_t */
}

static void ck_summary_eq(const struct loadgen_summary *a, const struct loadgen_summary *b)
{
    ck_assert_str_eq(a->label, b->label);
    ck_assert_str_eq(a->url, b->url);
    ck_assert_str_eq(a->proxy, b->proxy);
    ck_assert(a->rate == b->rate);
    ck_assert_uint_eq(a->clients, b->clients);
    ck_assert_uint_eq(a->concurrency, b->concurrency);
    ck_assert_uint_eq(a->concurrency_requested, b->concurrency_requested);
    ck_assert_int_eq(a->keepalive, b->keepalive);
    ck_assert_uint_eq(a->requests, b->requests);
    ck_assert_uint_eq(a->ok, b->ok);
    ck_assert_uint_eq(a->responses, b->responses);
    ck_errors_eq(&a->errors, &b->errors);
    ck_assert_uint_eq(a->warmup_requests, b->warmup_requests);
    ck_assert_uint_eq(a->unfinished, b->unfinished);
    ck_assert_uint_eq(a->unsent, b->unsent);
    ck_assert_uint_eq(a->connections, b->connections);
    ck_assert_uint_eq(a->stale_retries, b->stale_retries);
    ck_assert(a->duration_s == b->duration_s && a->elapsed_s == b->elapsed_s);
    ck_assert(a->rps == b->rps && a->mbps == b->mbps);
    ck_assert_uint_eq(a->bytes_in, b->bytes_in);
    ck_assert_uint_eq(a->body_bytes, b->body_bytes);
    ck_latency_eq(&a->latency_ms, &b->latency_ms);
    ck_latency_eq(&a->ttfb_ms, &b->ttfb_ms);
    ck_assert_uint_eq(a->nproxies, b->nproxies);
    for (size_t i = 0; i < a->nproxies; i++) {
        const struct loadgen_summary_proxy *p = &a->proxies[i], *q = &b->proxies[i];
        ck_assert_str_eq(p->name, q->name);
        ck_assert(p->requests == q->requests && p->hits == q->hits && p->misses == q->misses &&
                  p->errors == q->errors);
        ck_latency_eq(&p->latency_ms, &q->latency_ms);
        ck_latency_eq(&p->ttfb_ms, &q->ttfb_ms);
    }
    ck_assert_uint_eq(a->nclients, b->nclients);
    for (size_t i = 0; i < a->nclients; i++) {
        const struct loadgen_summary_client *c = &a->per_client[i], *d = &b->per_client[i];
        ck_assert_uint_eq(c->client, d->client);
        ck_assert_str_eq(c->source, d->source);
        ck_assert(c->requests == d->requests && c->ok == d->ok);
        ck_errors_eq(&c->errors, &d->errors);
        ck_assert(c->rps == d->rps && c->mbps == d->mbps);
        ck_latency_eq(&c->latency_ms, &d->latency_ms);
        ck_latency_eq(&c->ttfb_ms, &d->ttfb_ms);
    }
    ck_assert(a->in_flight_target == b->in_flight_target);
    ck_assert(a->in_flight_mean == b->in_flight_mean);
    ck_assert(a->littles_ratio == b->littles_ratio);
    ck_assert_int_eq(a->littles_ok, b->littles_ok);
    ck_assert(a->loadgen_cpu_pct == b->loadgen_cpu_pct);
    ck_assert(a->loop_lag_p99_ms == b->loop_lag_p99_ms);
    ck_assert(a->loop_lag_max_ms == b->loop_lag_max_ms);
    ck_assert_int_eq(a->saturated, b->saturated);
    ck_assert_int_eq(a->interrupted, b->interrupted);
}

static void round_trip(int open_loop)
{
    struct loadgen_summary *in = sample(open_loop);
    char *text = loadgen_summary_write(in);
    ck_assert_ptr_nonnull(text);
    char err[200] = "";
    struct loadgen_summary *out = loadgen_summary_read(text, err, sizeof(err));
    ck_assert_msg(out != NULL, "refused its own summary: %s", err);
    ck_summary_eq(in, out);
    loadgen_summary_free(in);
    loadgen_summary_free(out);
    cJSON_free(text);
}

START_TEST(test_loadgen_summary_closed_loop_reads_back_equal)
{
    round_trip(0);
}
END_TEST

START_TEST(test_loadgen_summary_open_loop_reads_back_equal_with_its_nulls)
{
    round_trip(1);
}
END_TEST

START_TEST(test_loadgen_summary_writes_nulls_and_mode)
{
    struct loadgen_summary *s = sample(1);
    char *text = loadgen_summary_write(s);
    cJSON *root = cJSON_Parse(text);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(root, "proxy")));
    ck_assert_str_eq(cJSON_GetObjectItem(root, "mode")->valuestring, "open");
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "in_flight"), "target")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "littles_law"), "ratio")));
    /* The top level in loadgen's order, which readers of the file see. */
    static const char *const keys[] = {"label",
                                       "url",
                                       "proxy",
                                       "mode",
                                       "rate",
                                       "clients",
                                       "concurrency",
                                       "concurrency_requested",
                                       "keepalive",
                                       "requests",
                                       "ok",
                                       "responses",
                                       "errors",
                                       "warmup_requests",
                                       "unfinished",
                                       "unsent",
                                       "connections",
                                       "stale_retries",
                                       "duration_s",
                                       "elapsed_s",
                                       "rps",
                                       "mbps",
                                       "bytes_in",
                                       "body_bytes",
                                       "latency_ms",
                                       "ttfb_ms",
                                       "per_proxy",
                                       "per_client",
                                       "in_flight",
                                       "littles_law",
                                       "loadgen_cpu_pct",
                                       "loop_lag_ms",
                                       "saturated",
                                       "interrupted"};
    size_t i = 0;
    for (const cJSON *c = root->child; c; c = c->next, i++) {
        ck_assert_uint_lt(i, sizeof(keys) / sizeof(keys[0]));
        ck_assert_str_eq(c->string, keys[i]);
    }
    ck_assert_uint_eq(i, sizeof(keys) / sizeof(keys[0]));
    cJSON_Delete(root);
    cJSON_free(text);
    loadgen_summary_free(s);
}
END_TEST

/* The sample's text with the first from replaced by to, read: the error. */
static const char *read_error_with(const char *from, const char *to)
{
    static char err[200];
    struct loadgen_summary *s = sample(0);
    char *pretty = loadgen_summary_write(s);
    cJSON *root = cJSON_Parse(pretty);
    cJSON_free(pretty);
    char *text = cJSON_PrintUnformatted(root); /* one line: easy to edit */
    char *at = strstr(text, from);
    ck_assert_msg(at != NULL, "%s not in %s", from, text);
    char *bad = malloc(strlen(text) + strlen(to) + 1);
    memcpy(bad, text, (size_t)(at - text));
    strcpy(bad + (at - text), to);
    strcat(bad, at + strlen(from));
    err[0] = '\0';
    struct loadgen_summary *out = loadgen_summary_read(bad, err, sizeof(err));
    ck_assert_msg(out == NULL, "accepted %s", bad);
    free(bad);
    cJSON_free(text);
    cJSON_Delete(root);
    loadgen_summary_free(s);
    return err;
}

START_TEST(test_loadgen_summary_refuses_malformed_summaries)
{
    char err[200];
    ck_assert_ptr_null(loadgen_summary_read("[1, 2]", err, sizeof(err)));
    ck_assert_str_eq(err, "not a JSON object");
    ck_assert_ptr_null(loadgen_summary_read("{\"label\": \"x\"", err, sizeof(err)));
    ck_assert_str_eq(err, "not a JSON object");
    ck_assert_str_eq(read_error_with("\"requests\":1000,", ""), "\"requests\" is missing");
    ck_assert_str_eq(read_error_with("\"ok\":990", "\"ok\":\"990\""),
                     "\"ok\" is not a count (an integer from 0 to 2^53)");
    ck_assert_str_eq(read_error_with("\"p99\":30", "\"p99\":null"),
                     "\"latency_ms.p99\" is not a number");
    ck_assert_str_eq(read_error_with("\"mode\":\"closed\"", "\"mode\":\"open\""),
                     "\"mode\" is \"open\" but \"rate\" is null (closed loop)");
    ck_assert_str_eq(read_error_with("\"label\":\"fig4 r=8\"", "\"label\":8"),
                     "\"label\" is not a string");
    ck_assert_str_eq(read_error_with("\"hits\":491", "\"hits\":true"),
                     "\"per_proxy\" \"pp2\": \"hits\" is not a count (an integer from 0 to 2^53)");
    ck_assert_str_eq(read_error_with("\"source\":\"198.18.1.2 (pp-c2)\",", ""),
                     "\"per_client\" 2: \"source\" is missing");
    ck_assert_str_eq(read_error_with("\"per_client\":[", "\"per_client\":7,\"other\":["),
                     "\"per_client\" is not an array");
    ck_assert_str_eq(read_error_with("\"saturated\":false", "\"saturated\":0"),
                     "\"saturated\" is not true or false");
}
END_TEST

static Suite *loadgen_summary_suite(void)
{
    Suite *s = suite_create("loadgen_summary");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_loadgen_summary_closed_loop_reads_back_equal);
    tcase_add_test(tc, test_loadgen_summary_open_loop_reads_back_equal_with_its_nulls);
    tcase_add_test(tc, test_loadgen_summary_writes_nulls_and_mode);
    tcase_add_test(tc, test_loadgen_summary_refuses_malformed_summaries);
    suite_add_tcase(s, tc);
    return s;
}

PP_CHECK_MAIN(loadgen_summary_suite)
