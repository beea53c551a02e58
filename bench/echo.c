/*
 * echo.c — the echo scenario: N connections, each closed-loop
 * {"action":"ping"} -> {"action":"pong"}: a connection sends its next ping
 * the moment its pong arrives, so the server always has exactly N requests
 * outstanding and round trips per second measure its per-message cost.
 *
 * With --idle M, M more connections are opened and stay silent while the N
 * ping: a gateway's per-message cost must not grow with the connections it
 * merely holds (an event loop that walks every socket per turn does). The
 * result is then reported as scenario "echo_busy".
 *
 * The work scenario is the same loop with {"action":"work","payload":{"ms":5}}
 * -> {"action":"done"}: a consumer that spends 5 ms per message in a blocking
 * call (PostgreSQL's pg_sleep), the /ws/work/ route of both chanx
 * (bench/plugins/work) and the Django Channels peer (database_sync_to_async).
 * It measures how many such calls a server overlaps, not its message cost.
 *
 * Phases: open every connection (authenticated), warm up (a fifth of the
 * duration, at most one second: first-touch page faults and Python's lazy
 * imports should not be in the figures), then measure for --duration.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

#define OPEN_TIMEOUT_NS (120ull * 1000000000ull)

static const char PING[] = "{\"action\":\"ping\"}";
static const char WORK[] = "{\"action\":\"work\",\"payload\":{\"ms\":5}}";

typedef struct {
    hist_t hist;
    int pinging;
    uint64_t round_trips, other;
    const char *request, *reply;   /* PING and "pong", or WORK and "done" */
    size_t request_len;
} echo_run;

static void send_ping(loop_t *loop, conn_t *c, uint64_t now, echo_run *r)
{
    c->t_sent = now;
    conn_send_text(loop, c, r->request, r->request_len);
}

static void on_message(loop_t *loop, conn_t *c, const char *text, size_t len, void *arg)
{
    echo_run *r = arg;
    if (!json_action_is(text, len, r->reply)) {
        r->other++;
        return;
    }
    uint64_t now = now_ns();
    if (c->t_sent) {
        hist_record(&r->hist, now - c->t_sent);
        r->round_trips++;
    }
    c->t_sent = 0;
    if (r->pinging)
        send_ping(loop, c, now, r);
}

int run_echo(const bench_opts *o)
{
    static echo_run r;   /* the histogram is 15 KiB: keep it off the stack */
    memset(&r, 0, sizeof r);
    hist_init(&r.hist);
    int work = strcmp(o->scenario, "work") == 0;
    r.request = work ? WORK : PING;
    r.request_len = work ? sizeof WORK - 1 : sizeof PING - 1;
    r.reply = work ? "done" : "pong";
    loop_handlers h = { .on_message = on_message };
    bench_opts opts = *o;
    if (o->idle > 0 && !work)
        opts.scenario = "echo_busy";
    o = &opts;
    loop_t *loop = loop_new(o, o->connections + (o->idle > 0 ? o->idle : 0), &h, &r);
    if (!loop)
        return perror("chanx-bench"), 1;
    loop_open_all(loop);
    loop_run(loop, now_ns() + OPEN_TIMEOUT_NS, 1);
    const loop_stats *st = loop_stats_of(loop);
    if (!st->opened) {
        fprintf(stderr, "chanx-bench: echo: no connection opened (%llu refused, %llu auth failed)\n",
                (unsigned long long) st->refused, (unsigned long long) st->auth_failed);
        loop_destroy(&loop);
        return 1;
    }

    uint64_t now = now_ns();
    r.pinging = 1;
    int pinging = 0;
    for (int i = 0; i < o->connections + o->idle && pinging < o->connections; i++)
        if (loop_conn(loop, i)->state == CONN_OPEN) {
            send_ping(loop, loop_conn(loop, i), now, &r);
            pinging++;
        }
    double warm = o->duration / 5 < 1 ? o->duration / 5 : 1;
    loop_run(loop, now + (uint64_t) (warm * 1e9), 0);
    hist_init(&r.hist);
    r.round_trips = 0;

    double cpu[BENCH_MAX_PIDS];
    proc_window(o, "start");
    proc_cpu_snapshot(o, cpu);
    uint64_t t0 = now_ns();
    loop_run(loop, t0 + (uint64_t) (o->duration * 1e9), 0);
    double secs = (double) (now_ns() - t0) / 1e9;
    r.pinging = 0;
    proc_window(o, "stop");   /* the loop is still: no round trip completes meanwhile */

    report_t rep;
    double rate = (double) r.round_trips / secs;
    report_begin(&rep, o, st);
    report_num(&rep, "duration_s", secs);
    report_int(&rep, "round_trips", (long long) r.round_trips);
    report_num(&rep, "round_trips_per_s", rate);
    report_int(&rep, "unexpected_messages", (long long) r.other);
    report_int(&rep, "idle_connections", o->idle > 0 ? o->idle : 0);
    report_latency(&rep, "latency", &r.hist);
    report_cpu(&rep, o, cpu, r.round_trips);
    report_end(&rep, "%s %s: %llu connections, %.0f round trips/s, latency p50 %.3f ms p99 %.3f ms p999 %.3f ms",
               o->scenario, o->label, (unsigned long long) st->opened, rate, hist_quantile(&r.hist, 0.5) / 1e6,
               hist_quantile(&r.hist, 0.99) / 1e6, hist_quantile(&r.hist, 0.999) / 1e6);
    loop_destroy(&loop);
    return 0;
}
