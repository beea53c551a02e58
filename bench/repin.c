/*
 * repin.c — the repin scenario: how long innocent connections wait when a
 * plugin beside their consumer crashes its worker process.
 *
 * N + 1 connections to a route whose consumer crashes on {"action":"crash"}
 * (bench/plugins/work). Connection 0 sends crash; from that moment each other
 * connection pings every RESEND_MS until it is answered: its pings wait at
 * the broker while its consumer is re-pinned to the restarted worker process
 * (docs/consumers.md, "When a consumer crashes"). A ping that reached the
 * dying process before the broker knew of the death is not answered (what
 * that page says is not recovered), hence the resends. The figure is the
 * time from the crash until each connection's first pong (p50, p99) and
 * until the last one: the time to re-pin N innocent connections, the
 * process's restart included. A connection closed meanwhile (it should not
 * be) is counted as lost. One crash per run: the
 * plugin is quarantined after CHANX_CRASH_QUARANTINE crashes a minute.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

#define OPEN_TIMEOUT_NS (120ull * 1000000000ull)
#define REPIN_TIMEOUT_NS (60ull * 1000000000ull)
#define RESEND_MS 20

static const char PING[] = "{\"action\":\"ping\"}";
static const char CRASH[] = "{\"action\":\"crash\"}";

typedef struct {
    hist_t hist;
    uint64_t crashed_at, last_pong, pongs, lost;
    int expected;
} repin_run;

static void on_message(loop_t *loop, conn_t *c, const char *text, size_t len, void *arg)
{
    repin_run *r = arg;
    if (!c->t_sent || !json_action_is(text, len, "pong"))
        return;
    uint64_t now = now_ns();
    hist_record(&r->hist, now - r->crashed_at);
    r->last_pong = now;
    c->t_sent = 0;
    if (++r->pongs + r->lost >= (uint64_t) r->expected)
        loop_stop(loop);
}

static void on_close(loop_t *loop, conn_t *c, void *arg)
{
    repin_run *r = arg;
    if (!c->t_sent)
        return;
    c->t_sent = 0;
    if (++r->lost + r->pongs >= (uint64_t) r->expected)
        loop_stop(loop);
}

int run_repin(const bench_opts *o)
{
    static repin_run r;   /* the histogram is 15 KiB: keep it off the stack */
    memset(&r, 0, sizeof r);
    hist_init(&r.hist);
    loop_handlers h = { .on_message = on_message, .on_close = on_close };
    loop_t *loop = loop_new(o, o->connections + 1, &h, &r);
    if (!loop)
        return perror("chanx-bench"), 1;
    loop_open_all(loop);
    loop_run(loop, now_ns() + OPEN_TIMEOUT_NS, 1);
    const loop_stats *st = loop_stats_of(loop);
    conn_t *crasher = loop_conn(loop, 0);
    if (st->opened < 2 || crasher->state != CONN_OPEN) {
        fprintf(stderr, "chanx-bench: repin: the connections did not open (%llu opened)\n",
                (unsigned long long) st->opened);
        loop_destroy(&loop);
        return 1;
    }
    r.crashed_at = now_ns();
    conn_send_text(loop, crasher, CRASH, sizeof CRASH - 1);
    for (int i = 1; i <= o->connections; i++) {
        conn_t *c = loop_conn(loop, i);
        if (c->state != CONN_OPEN)
            continue;
        c->t_sent = r.crashed_at;
        conn_send_text(loop, c, PING, sizeof PING - 1);
        r.expected++;
    }
    for (uint64_t now = now_ns(); r.pongs + r.lost < (uint64_t) r.expected && now < r.crashed_at + REPIN_TIMEOUT_NS;
         now = now_ns()) {
        loop_run(loop, now + RESEND_MS * 1000000ull, 0);
        for (int i = 1; i <= o->connections; i++) {
            conn_t *c = loop_conn(loop, i);
            if (c->t_sent && c->state == CONN_OPEN)
                conn_send_text(loop, c, PING, sizeof PING - 1);
        }
    }

    report_t rep;
    double all_ms = r.last_pong ? (double) (r.last_pong - r.crashed_at) / 1e6 : 0;
    report_begin(&rep, o, st);
    report_int(&rep, "innocent_connections", r.expected);
    report_int(&rep, "answered", (long long) r.pongs);
    report_int(&rep, "lost", (long long) (r.expected - (int) r.pongs));
    report_num(&rep, "all_repinned_ms", all_ms);
    report_latency(&rep, "repin", &r.hist);
    report_end(&rep, "repin %s: %d innocent connections answered again after the crash: p50 %.1f ms p99 %.1f ms, "
               "all %.1f ms, %d lost", o->label, r.expected, hist_quantile(&r.hist, 0.5) / 1e6,
               hist_quantile(&r.hist, 0.99) / 1e6, all_ms, r.expected - (int) r.pongs);
    loop_destroy(&loop);
    return 0;
}
