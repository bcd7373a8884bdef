/* The run: clients, schedules and bounds on one libevent loop. Closed loop:
 * each connection starts its next request when the last one finishes.
 * Open loop: request i of a client is due at t0 + i/rate; a timer starts the
 * due ones on free connections, and those that find none wait in an
 * implicit queue (the due indexes not yet started) so their latency, timed
 * from the intended start, includes the wait (wrk2's correction for
 * coordinated omission). Timeouts are found by a periodic sweep rather than
 * a timer per request, which would cost two heap operations each.
 * The measuring window runs from the warm-up's end (a timer) to the end of
 * the run: a request is measured when it *finishes* inside it, wherever it
 * started, so throughput is the window's completions over its length (a
 * request in flight when the warm-up ends is capacity the window used; one
 * cut at the end is not counted, and in steady state the two edges cancel).
 * The window's time-average of requests in flight is kept too, for the
 * Little's-law check (in flight = throughput x mean time). */
#include "run.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <event2/event.h>

#include "config.h"
#include "conn.h"
#include "csv.h"
#include "fdlimit.h"
#include "schedule.h"
#include "selfwatch.h"
#include "series.h"
#include "source.h"
#include "tally.h"
#include "target.h"
#include "timeutil.h"

/* One receive buffer for every connection (single thread): 256 KiB takes a
 * 1 MiB body in four reads. */
#define RBUF_BYTES (256 * 1024)
/* Descriptors beyond the sockets: stdio, the CSV, the loop's own. */
#define FD_SLACK 64
/* The progress line appears once a run is this old, then every second. */
#define PROGRESS_AFTER_US 3000000u
#define PROGRESS_EVERY_US 1000000u
/* The timeout sweep runs every timeout/20, between 10 ms and 250 ms: a
 * timeout fires at most 5% (or 250 ms) late. */
#define SWEEP_MIN_US 10000u
/* Connections started per loop turn at the beginning of a run. */
#define START_BATCH 64
#define SWEEP_MAX_US 250000u

#define CLIENT_MAGIC 0x4c47434cu /* "LGCL" */
#define RUN_MAGIC 0x4c475255u    /* "LGRU" */

struct loadgen_client {
    unsigned magic;
    struct loadgen_run *run;
    uint32_t id; /* 1-based */
    struct loadgen_source source;
    struct loadgen_conn *conns;
    uint32_t nconns;
    uint32_t *free_conns; /* open loop: a stack of connections with no request */
    uint32_t nfree;
    uint32_t busy;
    uint64_t next_seq;
    uint64_t measured_started; /* closed loop: requests started after the warm-up */
    uint64_t sched_next;       /* open loop: the next index to start */
    uint64_t sched_limit;      /* open loop: indexes below this are scheduled */
    int limit_set;             /* open loop: sched_limit counts -n from the warm-up's end */
    struct event *timer;       /* open loop: the next due time */
    int done;
};

struct loadgen_run {
    unsigned magic;
    const struct loadgen_config *cfg;
    struct event_base *base;
    struct loadgen_target target;
    struct loadgen_conn_env env;
    int home_ns_fd;
    struct loadgen_client *clients;
    size_t nclients;
    struct loadgen_tallies *tallies;
    struct loadgen_csv *csv;
    struct loadgen_series *series; /* --series */
    int series_failed;             /* out of memory once: the file is not written */
    struct loadgen_selfwatch *watch;
    struct event *ev_int, *ev_term, *sweep, *progress, *end_timer, *starter, *warmup_timer;
    size_t start_client; /* the next connection to start: client, then connection */
    uint32_t start_conn;
    uint64_t t0_us, warmup_end_us, end_us; /* end_us 0: no --duration */
    uint64_t stop_us, last_done_us;
    int warming;               /* the warm-up has not ended: what finishes now is not measured */
    uint64_t in_flight_us_sum; /* request-microseconds in flight inside the window */
    uint32_t conns_per_client; /* -c, or fewer when descriptors are short */
    double interval_us;        /* open loop */
    size_t clients_done;
    int stopping;
    int progress_on, progress_shown;
    uint64_t finished, finished_at_last_tick, errors;
};

/* ------------------------------------------------------------ ending */

static void client_check_done(struct loadgen_client *cl);
static void open_dispatch(struct loadgen_client *cl);
static void on_start(evutil_socket_t fd, short what, void *arg);

static void run_break(struct loadgen_run *run)
{
    if (run->stop_us == 0)
        run->stop_us = loadgen_now_us();
    event_base_loopbreak(run->base);
}

/* Adds the part of a request's time in flight (from when it was due, or
 * started, to until_us) that lies inside the measuring window. */
static void count_in_flight(struct loadgen_run *run, const struct loadgen_conn *c,
                            uint64_t until_us)
{
    if (run->warming)
        return;
    uint64_t from = c->base_us > run->warmup_end_us ? c->base_us : run->warmup_end_us;
    if (until_us > from)
        run->in_flight_us_sum += until_us - from;
}

/* Open loop: how many of a client's requests are due at or before this
 * offset from the start, on the schedule or the fixed rate. */
static uint64_t open_due_by(const struct loadgen_run *run, uint64_t offset_us)
{
    if (run->cfg->steps.nsteps > 0)
        return loadgen_schedule_due_by(&run->cfg->steps, offset_us);
    return (uint64_t)floor((double)offset_us / run->interval_us) + 1;
}

/* Stops everything now: requests in flight are counted as unfinished and
 * dropped, due ones never sent as unsent. */
static void run_stop(struct loadgen_run *run, int interrupted)
{
    if (run->stopping)
        return;
    run->stopping = 1;
    run->stop_us = loadgen_now_us();
    run->tallies->interrupted = interrupted;
    for (size_t i = 0; i < run->nclients; i++) {
        struct loadgen_client *cl = &run->clients[i];
        for (uint32_t k = 0; k < cl->nconns; k++) {
            if (cl->conns[k].busy) {
                run->tallies->unfinished++;
                count_in_flight(run, &cl->conns[k], run->stop_us);
            }
            loadgen_conn_close(&cl->conns[k]);
        }
        cl->busy = 0;
        if (run->cfg->rate > 0 && cl->sched_next < cl->sched_limit) {
            /* Due by now (or by the end of the schedule, if that came first). */
            uint64_t until = run->end_us && run->end_us < run->stop_us ? run->end_us : run->stop_us;
            uint64_t due = open_due_by(run, until - run->t0_us);
            if (due > cl->sched_limit)
                due = cl->sched_limit;
            if (due > cl->sched_next)
                run->tallies->unsent += due - cl->sched_next;
        }
        if (cl->timer)
            event_del(cl->timer);
    }
    run_break(run);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct loadgen_run *run = arg;
    if (run->progress_shown)
        fputc('\n', stderr);
    run->progress_shown = 0;
    fprintf(stderr, "loadgen: %s: stopping, writing what was measured\n", strsignal((int)sig));
    run_stop(run, 1);
}

static void on_end(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    run_stop(arg, 0);
}

/* The warm-up ends: from now on what finishes is measured. The requests in
 * flight now finish inside the window, so they count against -n. */
static void on_warmup_end(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct loadgen_run *run = arg;
    assert(run->magic == RUN_MAGIC);
    run->warming = 0;
    run->warmup_end_us = loadgen_now_us();
    uint64_t n = run->cfg->requests;
    for (size_t i = 0; i < run->nclients; i++) {
        struct loadgen_client *cl = &run->clients[i];
        if (run->cfg->rate == 0) {
            cl->measured_started += cl->busy;
        } else if (cl->limit_set) {
            /* The due requests still queued start later and are measured. */
            cl->sched_limit =
                n == 0 ? UINT64_MAX : cl->sched_next + (n > cl->busy ? n - cl->busy : 0);
            open_dispatch(cl);
        }
    }
}

/* ------------------------------------------------------------ closed loop */

/* Starts the next request on c if the client's bounds allow; 0 if not. */
static int closed_next(struct loadgen_client *cl, struct loadgen_conn *c)
{
    struct loadgen_run *run = cl->run;
    if (run->stopping)
        return 0;
    if (!run->warming && run->cfg->requests && cl->measured_started >= run->cfg->requests)
        return 0;
    if (!run->warming)
        cl->measured_started++;
    cl->busy++;
    loadgen_conn_start(c, cl->next_seq++, 0);
    return 1;
}

/* ------------------------------------------------------------ open loop */

static uint64_t intended_us(const struct loadgen_run *run, uint64_t i)
{
    if (run->cfg->steps.nsteps > 0)
        return run->t0_us + loadgen_schedule_offset_us(&run->cfg->steps, i);
    return run->t0_us + (uint64_t)((double)i * run->interval_us);
}

/* Starts every due request that has a free connection; arms the timer for
 * the next one not yet due. */
static void open_dispatch(struct loadgen_client *cl)
{
    struct loadgen_run *run = cl->run;
    if (run->stopping)
        return;
    uint64_t now = loadgen_now_us();
    while (cl->sched_next < cl->sched_limit) {
        uint64_t due = intended_us(run, cl->sched_next);
        if (run->end_us && due >= run->end_us) {
            cl->sched_limit = cl->sched_next; /* the schedule ends with the run */
            break;
        }
        if (due > now) {
            struct timeval tv = tv_from_us(due - now);
            event_add(cl->timer, &tv);
            break;
        }
        if (cl->nfree == 0)
            break; /* waits for a connection: on_done dispatches again */
        struct loadgen_conn *c = &cl->conns[cl->free_conns[--cl->nfree]];
        cl->busy++;
        cl->next_seq = cl->sched_next + 1;
        loadgen_conn_start(c, cl->sched_next++, due);
        if ((cl->sched_next & 63) == 0)
            now = loadgen_now_us(); /* a long burst takes time too */
    }
    client_check_done(cl);
}

static void on_client_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct loadgen_client *cl = arg;
    open_dispatch(cl);
}

/* ------------------------------------------------------------ both */

static void client_check_done(struct loadgen_client *cl)
{
    struct loadgen_run *run = cl->run;
    if (cl->done || cl->busy > 0 || run->stopping)
        return;
    if (run->cfg->rate > 0 && cl->sched_next < cl->sched_limit)
        return;
    cl->done = 1;
    for (uint32_t k = 0; k < cl->nconns; k++)
        loadgen_conn_close(&cl->conns[k]);
    if (++run->clients_done == run->nclients)
        run_break(run);
}

static void on_done(struct loadgen_conn *c, struct loadgen_result *r)
{
    struct loadgen_client *cl = c->owner;
    struct loadgen_run *run = cl->run;
    assert(cl->magic == CLIENT_MAGIC && run->magic == RUN_MAGIC);
    run->last_done_us = loadgen_now_us();
    r->warmup = run->warming;
    count_in_flight(run, c, run->last_done_us);
    loadgen_tallies_add(run->tallies, r);
    if (run->csv)
        loadgen_csv_write(run->csv, r);
    if (run->series && !run->series_failed) {
        uint64_t base = r->intended_us ? r->intended_us : r->ts_start_us;
        uint64_t t0_wall = run->t0_us + run->env.wall_offset_us;
        uint64_t second = base > t0_wall ? (base - t0_wall) / 1000000u : 0;
        if (loadgen_series_add(run->series, second, loadgen_result_ok(r), r->total_us) < 0)
            run->series_failed = 1;
    }
    run->finished++;
    if (r->error != LOADGEN_ERR_NONE)
        run->errors++;
    cl->busy--;
    if (run->cfg->rate > 0) {
        cl->free_conns[cl->nfree++] = c->id;
        open_dispatch(cl);
        return;
    }
    if (!closed_next(cl, c)) {
        loadgen_conn_close(c);
        client_check_done(cl);
    }
}

/* ------------------------------------------------------------ periodic */

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct loadgen_run *run = arg;
    uint64_t now = loadgen_now_us();
    for (size_t i = 0; i < run->nclients && !run->stopping; i++) {
        struct loadgen_client *cl = &run->clients[i];
        for (uint32_t k = 0; k < cl->nconns; k++)
            loadgen_conn_check_timeout(&cl->conns[k], now);
    }
}

static void on_progress(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct loadgen_run *run = arg;
    uint64_t now = loadgen_now_us();
    uint64_t last = run->finished_at_last_tick;
    run->finished_at_last_tick = run->finished;
    if (!run->progress_on || now - run->t0_us + PROGRESS_EVERY_US / 10 < PROGRESS_AFTER_US)
        return;
    uint64_t in_flight = 0;
    for (size_t i = 0; i < run->nclients; i++)
        in_flight += run->clients[i].busy;
    fprintf(stderr, "\rloadgen: %6.1f s  %10llu done  %8llu req/s  %8llu errors  %7llu in flight ",
            (double)(now - run->t0_us) / 1e6, (unsigned long long)run->finished,
            (unsigned long long)(run->finished - last), (unsigned long long)run->errors,
            (unsigned long long)in_flight);
    run->progress_shown = 1;
}

/* ------------------------------------------------------------ set-up */

static int setup_clients(struct loadgen_run *run, char *err, size_t errlen)
{
    const struct loadgen_config *cfg = run->cfg;
    uint32_t nconns = run->conns_per_client;
    /* Closed loop without a warm-up never needs more connections than requests. */
    if (cfg->rate == 0 && cfg->requests && cfg->warmup_ms == 0 && cfg->requests < nconns)
        nconns = (uint32_t)cfg->requests;
    for (size_t i = 0; i < run->nclients; i++) {
        struct loadgen_client *cl = &run->clients[i];
        cl->magic = CLIENT_MAGIC;
        cl->run = run;
        cl->id = (uint32_t)(i + 1);
        loadgen_source_plain(&cl->source);
        if (cfg->testbed_clients > 0) {
            if (loadgen_source_testbed(&cl->source, cfg->testbed_prefix, (int)cl->id, err, errlen) <
                0)
                return -1;
        } else if (cfg->nsources > 0) {
            loadgen_source_bound(&cl->source, &cfg->sources[i]);
        }
        snprintf(run->tallies->client_sources[i], sizeof(run->tallies->client_sources[i]), "%s",
                 cl->source.label);
        cl->conns = calloc(nconns, sizeof(*cl->conns));
        cl->free_conns = calloc(nconns, sizeof(*cl->free_conns));
        if (!cl->conns || !cl->free_conns) {
            snprintf(err, errlen, "out of memory for %u connections", nconns);
            return -1;
        }
        cl->nconns = nconns;
        for (uint32_t k = 0; k < nconns; k++) {
            loadgen_conn_init(&cl->conns[k], &run->env, cl, &cl->source, cl->id, k);
            cl->free_conns[nconns - 1 - k] = k; /* connection 0 on top */
        }
        cl->nfree = nconns;
        if (cfg->rate > 0) {
            cl->timer = evtimer_new(run->base, on_client_timer, cl);
            if (!cl->timer) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
        }
    }
    return 0;
}

static int setup_events(struct loadgen_run *run, char *err, size_t errlen)
{
    run->ev_int = evsignal_new(run->base, SIGINT, on_signal, run);
    run->ev_term = evsignal_new(run->base, SIGTERM, on_signal, run);
    run->sweep = event_new(run->base, -1, EV_PERSIST, on_sweep, run);
    run->progress = event_new(run->base, -1, EV_PERSIST, on_progress, run);
    run->end_timer = evtimer_new(run->base, on_end, run);
    run->starter = event_new(run->base, -1, 0, on_start, run);
    run->warmup_timer = evtimer_new(run->base, on_warmup_end, run);
    run->watch = loadgen_selfwatch_new(run->base);
    if (!run->ev_int || !run->ev_term || !run->sweep || !run->progress || !run->end_timer ||
        !run->starter || !run->warmup_timer || !run->watch) {
        snprintf(err, errlen, "cannot create the event loop's events");
        return -1;
    }
    return 0;
}

struct loadgen_run *loadgen_run_new(const struct loadgen_config *cfg, char *err, size_t errlen)
{
    struct loadgen_run *run = calloc(1, sizeof(*run));
    if (!run) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    run->magic = RUN_MAGIC;
    run->cfg = cfg;
    run->home_ns_fd = -1;
    run->nclients = loadgen_config_clients(cfg);
    run->tallies = loadgen_tallies_new(run->nclients);
    run->clients = calloc(run->nclients, sizeof(*run->clients));
    if (!run->tallies || !run->clients) {
        snprintf(err, errlen, "out of memory for %zu clients", run->nclients);
        goto fail;
    }
    if (loadgen_target_init(&run->target, cfg, err, errlen) < 0)
        goto fail;

    /* Open loop wants its timers to the microsecond (timerfd), not epoll's
     * millisecond; closed loop has no timer on its path and skips the cost. */
    struct event_config *ec = event_config_new();
    if (ec && cfg->rate > 0)
        event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
    run->base = ec ? event_base_new_with_config(ec) : NULL;
    if (ec)
        event_config_free(ec);
    if (!run->base) {
        snprintf(err, errlen, "cannot create an event loop");
        goto fail;
    }
    if (cfg->testbed_clients > 0 && (run->home_ns_fd = loadgen_source_home_open(err, errlen)) < 0)
        goto fail;

    /* Each client holds its namespace's descriptor (--testbed) and a
     * socket per connection. */
    const struct fdlimit_budget budget = {
        .fixed = FD_SLACK, .units = run->nclients, .per_unit = 1, .per_conn = 1};
    uint64_t needed = fdlimit_needed(&budget, (uint64_t)cfg->concurrency);
    struct fdlimit lim;
    char msg[256];
    run->conns_per_client = (uint32_t)cfg->concurrency;
    if (fdlimit_raise(needed, &lim, msg, sizeof(msg)) < 0) {
        /* Fewer connections, said loudly, rather than requests failing on
         * EMFILE and counted as the system's connect errors. */
        uint64_t per = fdlimit_reachable(&budget, lim.soft);
        if (per == 0) {
            snprintf(err, errlen, "%s for %zu client%s: not one connection each fits", msg,
                     run->nclients, run->nclients == 1 ? "" : "s");
            goto fail;
        }
        if (per < run->conns_per_client)
            run->conns_per_client = (uint32_t)per;
        fprintf(stderr,
                "loadgen: warning: %s for %zu client%s x %ld connections: running with %u "
                "connections per client (%llu in all)\n",
                msg, run->nclients, run->nclients == 1 ? "" : "s", cfg->concurrency,
                run->conns_per_client,
                (unsigned long long)run->conns_per_client * (unsigned long long)run->nclients);
    } else if (lim.hard_before < needed) {
        fprintf(stderr,
                "loadgen: the hard descriptor limit %llu was below the %llu that %zu client%s x "
                "%ld connections need: raised to %llu\n",
                (unsigned long long)lim.hard_before, (unsigned long long)needed, run->nclients,
                run->nclients == 1 ? "" : "s", cfg->concurrency, (unsigned long long)lim.hard);
    }
    run->tallies->concurrency = run->conns_per_client;

    run->env.base = run->base;
    run->env.request = run->target.request;
    run->env.request_len = run->target.request_len;
    run->env.connect_to = &run->target.connect_to;
    run->env.keepalive = cfg->keepalive;
    run->env.retry_stale = cfg->retry_stale;
    run->env.home_ns_fd = run->home_ns_fd;
    run->env.timeout_us = cfg->timeout_ms * 1000u;
    run->env.rbuf_size = RBUF_BYTES;
    run->env.rbuf = malloc(RBUF_BYTES);
    run->env.done = on_done;
    if (!run->env.rbuf) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (setup_clients(run, err, errlen) < 0 || setup_events(run, err, errlen) < 0)
        goto fail;
    if (cfg->csv_path[0] && !(run->csv = loadgen_csv_open(cfg->csv_path, err, errlen)))
        goto fail;
    if (cfg->series_path[0] && !(run->series = loadgen_series_new(cfg->slo_ms * 1000u))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    run->progress_on = cfg->progress < 0 ? isatty(STDERR_FILENO) : cfg->progress;
    return run;
fail:
    loadgen_run_free(run);
    return NULL;
}

static uint64_t wall_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Closed loop: each connection's first request, START_BATCH per loop turn,
 * so 64 x 1000 connects do not hold the loop (and the first responses) for
 * seconds. Open loop: each client's schedule begins. */
static void on_start(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct loadgen_run *run = arg;
    const struct loadgen_config *cfg = run->cfg;
    int budget = START_BATCH;
    while (run->start_client < run->nclients && budget > 0 && !run->stopping) {
        struct loadgen_client *cl = &run->clients[run->start_client];
        if (cfg->rate > 0) {
            /* During the warm-up the schedule runs on; its end sets -n's limit. */
            cl->sched_limit = cfg->requests && !run->warming ? cfg->requests : UINT64_MAX;
            cl->limit_set = 1;
            open_dispatch(cl);
            run->start_client++;
            budget -= 16;
            continue;
        }
        while (run->start_conn < cl->nconns && budget > 0) {
            if (!closed_next(cl, &cl->conns[run->start_conn]))
                run->start_conn = cl->nconns;
            else
                run->start_conn++;
            budget--;
        }
        if (run->start_conn == cl->nconns) {
            client_check_done(cl);
            run->start_client++;
            run->start_conn = 0;
        }
    }
    if (run->start_client < run->nclients && !run->stopping)
        event_active(run->starter, EV_TIMEOUT, 1);
}

/* Everything the writers need that only the run knows. */
static void fill_tallies(struct loadgen_run *run)
{
    struct loadgen_tallies *ts = run->tallies;
    uint64_t end = run->stopping ? run->stop_us : run->last_done_us;
    if (end == 0)
        end = run->stop_us ? run->stop_us : loadgen_now_us();
    ts->elapsed_s = (double)(end - run->t0_us) / 1e6;
    ts->measured_s =
        !run->warming && end > run->warmup_end_us ? (double)(end - run->warmup_end_us) / 1e6 : 0.0;
    ts->in_flight_mean =
        ts->measured_s > 0 ? (double)run->in_flight_us_sum / (ts->measured_s * 1e6) : 0.0;
    /* Closed loop keeps every connection busy: that is the concurrency the
     * run claims. Open loop has none to claim. */
    ts->in_flight_target = 0;
    for (size_t i = 0; run->cfg->rate == 0 && i < run->nclients; i++)
        ts->in_flight_target += run->clients[i].nconns;
    ts->connections = run->env.connections_opened;
    ts->stale_retries = run->env.stale_retries;
    ts->cpu_pct = loadgen_selfwatch_cpu_pct(run->watch);
    ts->lag_p99_us = loadgen_selfwatch_lag_p99_us(run->watch);
    ts->lag_max_us = loadgen_selfwatch_lag_max_us(run->watch);
    ts->saturated = loadgen_selfwatch_is_saturated(ts->cpu_pct, ts->lag_p99_us, end - run->t0_us);
}

/* Open loop: each second's offered count is what the schedule made due in
 * it (unsent and unfinished requests included), up to where the run ended;
 * closed loop keeps the count of the requests that finished. */
static int write_series(struct loadgen_run *run, char *err, size_t errlen)
{
    const struct loadgen_config *cfg = run->cfg;
    if (run->series_failed) {
        snprintf(err, errlen, "out of memory for the series: %s not written", cfg->series_path);
        return -1;
    }
    if (cfg->rate > 0) {
        uint64_t end = run->stop_us ? run->stop_us : run->last_done_us;
        if (run->end_us && run->end_us < end)
            end = run->end_us;
        uint64_t horizon = end > run->t0_us ? end - run->t0_us : 0;
        /* -n without a warm-up bounds the schedule too. */
        uint64_t cap = cfg->requests && !cfg->warmup_ms ? cfg->requests : UINT64_MAX;
        uint64_t before = 0;
        for (uint64_t sec = 0; sec * 1000000u < horizon; sec++) {
            uint64_t last = (sec + 1) * 1000000u - 1;
            uint64_t upto = open_due_by(run, last < horizon - 1 ? last : horizon - 1);
            if (upto > cap)
                upto = cap;
            if (loadgen_series_set_offered(run->series, sec, (upto - before) * run->nclients) < 0) {
                snprintf(err, errlen, "out of memory for the series");
                return -1;
            }
            before = upto;
        }
    }
    return loadgen_series_write(run->series, cfg->series_path, err, errlen);
}

int loadgen_run_exec(struct loadgen_run *run, char *err, size_t errlen)
{
    const struct loadgen_config *cfg = run->cfg;
    run->t0_us = loadgen_now_us();
    run->env.wall_offset_us = wall_now_us() - run->t0_us;
    run->warmup_end_us = run->t0_us + cfg->warmup_ms * 1000u; /* the timer sets it exactly */
    run->warming = cfg->warmup_ms > 0;
    if (cfg->duration_ms)
        run->end_us = run->warmup_end_us + cfg->duration_ms * 1000u;
    if (cfg->rate > 0)
        run->interval_us = 1e6 / cfg->rate;
    uint64_t sweep_us = cfg->timeout_ms * 1000u / 20;
    sweep_us = sweep_us < SWEEP_MIN_US   ? SWEEP_MIN_US
               : sweep_us > SWEEP_MAX_US ? SWEEP_MAX_US
                                         : sweep_us;
    struct timeval tv_sweep = tv_from_us(sweep_us), tv_progress = tv_from_us(PROGRESS_EVERY_US);
    event_add(run->ev_int, NULL);
    event_add(run->ev_term, NULL);
    event_add(run->sweep, &tv_sweep);
    event_add(run->progress, &tv_progress);
    if (run->end_us) {
        struct timeval tv_end = tv_from_us(run->end_us - run->t0_us);
        event_add(run->end_timer, &tv_end);
    }
    if (run->warming) {
        struct timeval tv_warm = tv_from_us(cfg->warmup_ms * 1000u);
        event_add(run->warmup_timer, &tv_warm);
    }
    loadgen_selfwatch_start(run->watch);
    event_active(run->starter, EV_TIMEOUT, 1);
    event_base_dispatch(run->base);
    loadgen_selfwatch_stop(run->watch);
    if (run->progress_shown)
        fputc('\n', stderr);
    fill_tallies(run);
    event_del(run->ev_int);
    event_del(run->ev_term);
    int rc = loadgen_csv_close(run->csv, err, errlen);
    run->csv = NULL;
    if (rc == 0 && run->series)
        rc = write_series(run, err, errlen);
    return rc;
}

const struct loadgen_tallies *loadgen_run_tallies(const struct loadgen_run *run)
{
    return run->tallies;
}

void loadgen_run_free(struct loadgen_run *run)
{
    if (!run)
        return;
    for (size_t i = 0; run->clients && i < run->nclients; i++) {
        struct loadgen_client *cl = &run->clients[i];
        for (uint32_t k = 0; k < cl->nconns; k++)
            loadgen_conn_release(&cl->conns[k]);
        if (cl->timer)
            event_free(cl->timer);
        loadgen_source_release(&cl->source);
        free(cl->conns);
        free(cl->free_conns);
    }
    free(run->clients);
    char ignored[64];
    loadgen_csv_close(run->csv, ignored, sizeof(ignored));
    loadgen_selfwatch_free(run->watch);
    loadgen_series_free(run->series);
    struct event *evs[] = {run->ev_int,    run->ev_term, run->sweep,       run->progress,
                           run->end_timer, run->starter, run->warmup_timer};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
        if (evs[i])
            event_free(evs[i]);
    }
    if (run->base)
        event_base_free(run->base);
    if (run->home_ns_fd >= 0)
        close(run->home_ns_fd);
    free(run->env.rbuf);
    loadgen_target_release(&run->target);
    loadgen_tallies_free(run->tallies);
    run->magic = 0;
    free(run);
}
