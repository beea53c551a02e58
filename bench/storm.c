/*
 * storm.c — the connect and idle scenarios: both open N authenticated
 * connections as fast as the server takes them (--concurrency handshakes in
 * flight); connect measures the rate, idle then holds them and measures the
 * resident memory they cost the server's processes.
 *
 * connect: the clock runs from the first SYN to the last authentication
 * message (or 101 with --no-auth-message); --duration caps it, and a capped
 * run reports what it reached. Each connection's time from connect() to
 * open is recorded too: it shows whether the server queues handshakes.
 *
 * idle: VmRSS of every --pids process is read before the first connection
 * and again after all are open and --settle seconds have passed (lazy
 * allocations and the server's own timers happen at first), while the loop
 * keeps answering pings. The delta over the connections held is the figure.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

#define IDLE_OPEN_TIMEOUT_NS (300ull * 1000000000ull)

typedef struct {
    hist_t open_latency;
    uint64_t last_open;
} storm_run;

static void on_open(loop_t *loop, conn_t *c, void *arg)
{
    (void) loop;
    storm_run *r = arg;
    r->last_open = now_ns();
    hist_record(&r->open_latency, r->last_open - c->t_start);
}

static void on_message(loop_t *loop, conn_t *c, const char *text, size_t len, void *arg)
{
    (void) loop, (void) c, (void) text, (void) len, (void) arg;
}

static loop_t *storm_new(const bench_opts *o, storm_run *r)
{
    memset(r, 0, sizeof *r);
    hist_init(&r->open_latency);
    loop_handlers h = { .on_open = on_open, .on_message = on_message };
    loop_t *loop = loop_new(o, o->connections, &h, r);
    if (!loop)
        perror("chanx-bench");
    return loop;
}

int run_connect(const bench_opts *o)
{
    static storm_run r;
    loop_t *loop = storm_new(o, &r);
    if (!loop)
        return 1;
    proc_window(o, "start");
    uint64_t t0 = now_ns();
    loop_open_all(loop);
    loop_run(loop, t0 + (uint64_t) (o->duration * 1e9), 1);
    proc_window(o, "stop");   /* before the connections are reset: closing is not connecting */
    const loop_stats *st = loop_stats_of(loop);
    int all = st->opened == (uint64_t) o->connections;
    int capped = loop_settled(loop) < o->connections;
    double secs = (double) ((all ? r.last_open : now_ns()) - t0) / 1e9;
    double rate = secs > 0 ? (double) st->opened / secs : 0;

    report_t rep;
    report_begin(&rep, o, st);
    report_num(&rep, "duration_s", secs);
    report_int(&rep, "capped", capped);
    report_num(&rep, "connections_per_s", rate);
    report_latency(&rep, "open", &r.open_latency);
    report_end(&rep, "connect %s: %llu of %d opened in %.2f s%s: %.0f connections/s, open p50 %.3f ms p99 %.3f ms",
               o->label, (unsigned long long) st->opened, o->connections, secs, capped ? " (capped)" : "", rate,
               hist_quantile(&r.open_latency, 0.5) / 1e6, hist_quantile(&r.open_latency, 0.99) / 1e6);
    int rc = st->opened ? 0 : 1;
    loop_destroy(&loop);
    return rc;
}

static void report_idle(const bench_opts *o, const loop_stats *st, const long *before, const long *after)
{
    report_t rep;
    long total = 0;
    char per_pid[512] = "";
    size_t used = 0;
    report_begin(&rep, o, st);
    for (int i = 0; i < o->npids; i++) {
        char key[64];
        long delta = after[i] - before[i];
        total += delta;
        snprintf(key, sizeof key, "rss_before_kib_%s", o->pid_names[i]);
        report_int(&rep, key, before[i]);
        snprintf(key, sizeof key, "rss_after_kib_%s", o->pid_names[i]);
        report_int(&rep, key, after[i]);
        int n = snprintf(per_pid + used, sizeof per_pid - used, " %s %+ld", o->pid_names[i], delta);
        if (n > 0 && (size_t) n < sizeof per_pid - used)
            used += (size_t) n;
    }
    double per_conn = st->opened ? (double) total / (double) st->opened : 0;
    report_int(&rep, "rss_delta_kib", total);
    report_num(&rep, "kib_per_connection", per_conn);
    report_end(&rep, "idle %s: %llu connections held, %.2f KiB/connection across %d processes (KiB by process:%s)",
               o->label, (unsigned long long) st->opened, per_conn, o->npids, per_pid);
}

int run_idle(const bench_opts *o)
{
    static storm_run r;
    long before[BENCH_MAX_PIDS], after[BENCH_MAX_PIDS];
    for (int i = 0; i < o->npids; i++)
        if ((before[i] = proc_rss_kib(o->pids[i])) < 0)
            return fprintf(stderr, "chanx-bench: idle: no process %d\n", (int) o->pids[i]), 1;
    loop_t *loop = storm_new(o, &r);
    if (!loop)
        return 1;
    loop_open_all(loop);
    loop_run(loop, now_ns() + IDLE_OPEN_TIMEOUT_NS, 1);
    loop_run(loop, now_ns() + (uint64_t) (o->settle * 1e9), 0);
    for (int i = 0; i < o->npids; i++)
        after[i] = proc_rss_kib(o->pids[i]);
    const loop_stats *st = loop_stats_of(loop);
    report_idle(o, st, before, after);
    int rc = st->opened ? 0 : 1;
    loop_destroy(&loop);
    return rc;
}
