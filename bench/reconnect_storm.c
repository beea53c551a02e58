/*
 * reconnect_storm.c — the reconnect storm (issue 25): N clients come back at once,
 * each having missed the same M pushes of a room that keeps a history
 * (bench/plugins/chat_kept: 100 messages), and each recovers them with
 * ?since=<epoch>:<seq>, as a phone out of a tunnel does.
 *
 * One sender joins the room (its join's recovery frame gives the room's
 * epoch and seq: the position every client last saw), then pushes M chat
 * messages closed-loop (each after its own copy of the previous one, so
 * the broker holds them all). Then N connections open together on the
 * room's URL with that since: each must get a recovery frame saying
 * "recovered": true and then exactly the M pushes, seqs consecutive from
 * the since, before its authentication message (the ready point). Measured:
 * the time from the first connect until every client has all of them, each
 * client's own time (connect to its last replayed push), how many were
 * complete, wrong (a gap, a duplicate, recovered: false) or short, and the
 * --pids processes' CPU (the broker's above all) per replayed push.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPEN_TIMEOUT_NS (120ull * 1000000000ull)
#define PUSH_TIMEOUT_NS (60ull * 1000000000ull)

typedef struct {
    uint32_t missed;
    char epoch[80];
    uint64_t from;                /* the room's seq when the sender joined: every client's since */
    uint64_t pushed;              /* sender: its own pushes heard back */
    uint64_t recovered, complete, wrong;
    uint64_t t0, t_last;
    uint32_t n;
    hist_t each;                  /* one client: from its connect to its last replayed push */
} rc_run;

static void push(loop_t *loop, conn_t *c, uint64_t i)
{
    char text[96];
    int n = snprintf(text, sizeof text, "{\"action\":\"chat\",\"payload\":{\"message\":\"missed %llu\"}}",
                     (unsigned long long) i);
    conn_send_text(loop, c, text, (size_t) n);
}

/* The sender's join: the room's epoch and seq, from its recovery frame. */
static void on_sender_early(loop_t *loop, conn_t *c, const char *text, size_t len, void *arg)
{
    (void) loop, (void) c;
    rc_run *r = arg;
    size_t n;
    const char *epoch = json_action_is(text, len, "recovery") ? json_str(text, len, "epoch", &n) : NULL;
    if (epoch && n < sizeof r->epoch) {
        memcpy(r->epoch, epoch, n);
        r->epoch[n] = '\0';
        r->from = (uint64_t) json_int(text, len, "seq", 0);
    }
}

static void on_sender_open(loop_t *loop, conn_t *c, void *arg)
{
    (void) arg;
    push(loop, c, 1);
}

static void on_sender_message(loop_t *loop, conn_t *c, const char *text, size_t len, void *arg)
{
    rc_run *r = arg;
    if (!json_action_is(text, len, "chat"))
        return;
    if (++r->pushed < r->missed)
        push(loop, c, r->pushed + 1);
    else
        loop_stop(loop);
}

/* A returning client: its recovery frame, then the replayed pushes, before its authentication message. */
static void on_client_early(loop_t *loop, conn_t *c, const char *text, size_t len, void *arg)
{
    rc_run *r = arg;
    if (json_action_is(text, len, "recovery")) {
        if (memmem(text, len, "\"recovered\":true", 16))
            r->recovered++;
        else
            r->wrong++;
        return;
    }
    if (!json_action_is(text, len, "chat") || c->seq >= r->missed)
        return;
    if ((uint64_t) json_int(text, len, "seq", 0) != r->from + c->seq + 1) {
        r->wrong++;          /* a gap or a duplicate: never count it as recovered */
        c->seq = r->missed + 1;
        return;
    }
    if (++c->seq == r->missed) {
        uint64_t now = now_ns();
        hist_record(&r->each, now - c->t_start);
        r->t_last = now;
        if (++r->complete == r->n)
            loop_stop(loop);
    }
}

/* The sender joins and pushes the M messages the clients will have missed. */
static loop_t *sender_pushes(const bench_opts *o, rc_run *r)
{
    static const loop_handlers h = { .on_open = on_sender_open, .on_message = on_sender_message,
                                     .on_early_message = on_sender_early };
    loop_t *loop = loop_new(o, 1, &h, r);
    if (!loop)
        return NULL;
    loop_open_all(loop);
    loop_run(loop, now_ns() + PUSH_TIMEOUT_NS, 0);
    if (!r->epoch[0] || r->pushed < r->missed) {
        fprintf(stderr, "chanx-bench: reconnect_storm: the sender %s (%llu of %u pushes heard back)\n",
                r->epoch[0] ? "stalled" : "got no recovery frame: does the room keep a history?",
                (unsigned long long) r->pushed, r->missed);
        loop_destroy(&loop);
    }
    return loop;
}

static void report(const bench_opts *o, rc_run *r, const loop_stats *st, const double *cpu)
{
    report_t rep;
    double all_ms = r->t_last > r->t0 ? (double) (r->t_last - r->t0) / 1e6 : 0;
    uint64_t replayed = r->complete * r->missed;
    report_begin(&rep, o, st);
    report_int(&rep, "missed_per_client", r->missed);
    report_int(&rep, "recovered_true", (long long) r->recovered);
    report_int(&rep, "complete", (long long) r->complete);
    report_int(&rep, "wrong", (long long) r->wrong);
    report_int(&rep, "lost_clients", (long long) (r->n - r->complete));
    report_num(&rep, "all_recovered_ms", all_ms);
    report_num(&rep, "replayed_per_s", all_ms > 0 ? (double) replayed / (all_ms / 1e3) : 0);
    report_latency(&rep, "client", &r->each);
    report_cpu(&rep, o, cpu, replayed);   /* CPU per replayed push */
    report_end(&rep, "reconnect_storm %s: %u clients back at once, each %u missed pushes: all recovered in %.0f ms "
               "(%llu complete, %llu wrong, %llu short), one client p50 %.1f ms p99 %.1f ms",
               o->label, r->n, r->missed, all_ms, (unsigned long long) r->complete, (unsigned long long) r->wrong,
               (unsigned long long) (r->n - r->complete), hist_quantile(&r->each, 0.5) / 1e6,
               hist_quantile(&r->each, 0.99) / 1e6);
}

int run_reconnect_storm(const bench_opts *o)
{
    static rc_run r;
    memset(&r, 0, sizeof r);
    hist_init(&r.each);
    r.missed = o->missed > 0 ? (uint32_t) o->missed : 100;
    r.n = (uint32_t) o->connections;
    loop_t *sender = sender_pushes(o, &r);
    if (!sender)
        return 1;
    static bench_opts back;
    back = *o;
    int n = snprintf(back.path, sizeof back.path, "%s%csince=%s:%llu", o->path, strchr(o->path, '?') ? '&' : '?',
                     r.epoch, (unsigned long long) r.from);
    if (n <= 0 || (size_t) n >= sizeof back.path) {
        loop_destroy(&sender);
        return 1;
    }
    static const loop_handlers h = { .on_early_message = on_client_early };
    loop_t *clients = loop_new(&back, o->connections, &h, &r);
    int rc = 1;
    if (clients) {
        double cpu[BENCH_MAX_PIDS];
        proc_cpu_snapshot(o, cpu);
        r.t0 = now_ns();
        loop_open_all(clients);
        loop_run(clients, now_ns() + OPEN_TIMEOUT_NS, 0);
        report(o, &r, loop_stats_of(clients), cpu);
        rc = r.complete == r.n && !r.wrong ? 0 : 1;
    }
    loop_destroy(&clients);
    loop_destroy(&sender);
    return rc;
}
