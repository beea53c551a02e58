/*
 * topics.c — the topics scenario (issue 24): N connections to the hub
 * example (ws/hub/), each subscribed to 10 topics of 100 (room:t0 ..
 * room:t99, connection i taking t(i*10 .. i*10+9) mod 100, so every topic
 * has N/10 subscribers), and K senders saying closed-loop on one of their
 * topics, {"version":1,"topic":"room:tX","action":"say","payload":{"text":
 * "<t_ns>:<sender>:<seq>"}}, each waiting for its own "said" copy before
 * the next. What is measured: "said" deliveries per second to every
 * subscriber (the group broadcast scenario's figure, with a topic's own
 * group per stream), each delivery's latency from the timestamp in the
 * text, and the resident memory the 10 subscriptions of a connection cost
 * in each process of --pids (read once everyone is connected and again once
 * everyone has subscribed: the difference over N).
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOPICS 100
#define PER_CONN 10
#define OPEN_TIMEOUT_NS (120ull * 1000000000ull)
#define SUB_TIMEOUT_NS (60ull * 1000000000ull)
#define STALL_NS (5ull * 1000000000ull)

typedef struct {
    hist_t each;
    uint32_t members, senders;
    int sending;
    uint64_t subscribed, refused;
    uint64_t deliveries, sent, stalls, other;
} tp_run;

static int topic_of(uint32_t conn, int k)
{
    return (int) ((conn * PER_CONN + (uint32_t) k) % TOPICS);
}

static void send_say(loop_t *loop, tp_run *r, conn_t *c, uint64_t now)
{
    char text[200];
    c->seq++;
    c->t_sent = now;
    int n = snprintf(text, sizeof text,
                     "{\"version\":1,\"topic\":\"room:t%d\",\"action\":\"say\",\"payload\":{\"text\":\"%llu:%u:%llu\"}}",
                     topic_of(c->index, (int) (c->seq % PER_CONN)), (unsigned long long) now, c->index,
                     (unsigned long long) c->seq);
    r->sent++;
    conn_send_text(loop, c, text, (size_t) n);
}

static void subscribe_all(loop_t *loop, conn_t *c)
{
    for (int k = 0; k < PER_CONN; k++) {
        char text[120];
        int n = snprintf(text, sizeof text, "{\"version\":1,\"topic\":\"room:t%d\",\"ref\":\"%d\",\"action\":\"subscribe\"}",
                         topic_of(c->index, k), k);
        conn_send_text(loop, c, text, (size_t) n);
    }
}

static void on_message(loop_t *loop, conn_t *c, const char *text, size_t len, void *arg)
{
    tp_run *r = arg;
    if (json_action_is(text, len, "subscribed")) {
        if (++r->subscribed + r->refused >= (uint64_t) r->members * PER_CONN)
            loop_stop(loop);
        return;
    }
    if (json_action_is(text, len, "error")) {
        if (++r->refused + r->subscribed >= (uint64_t) r->members * PER_CONN)
            loop_stop(loop);
        return;
    }
    if (!json_action_is(text, len, "said")) {
        r->other += !json_action_is(text, len, "welcome");
        return;
    }
    size_t n;
    const char *m = json_str(text, len, "text", &n);
    char buf[80];
    unsigned long long t = 0, seq = 0;
    unsigned sender = 0;
    if (!m || n >= sizeof buf || (memcpy(buf, m, n), buf[n] = 0, sscanf(buf, "%llu:%u:%llu", &t, &sender, &seq) != 3)) {
        r->other++;
        return;
    }
    uint64_t now = now_ns();
    r->deliveries++;
    hist_record(&r->each, now - t);
    if (c->index == sender && seq == c->seq && r->sending)
        send_say(loop, r, c, now);
}

static void resend(loop_t *loop, conn_t *c, uint64_t now, void *arg)
{
    send_say(loop, arg, c, now);
}

static void run_sending(loop_t *loop, tp_run *r, uint64_t deadline)
{
    loop_run_senders(loop, deadline, r->senders, STALL_NS, &r->stalls, resend, r);
}

static void rss_all(const bench_opts *o, long *out)
{
    for (int i = 0; i < o->npids; i++)
        out[i] = proc_rss_kib(o->pids[i]);
}

static void report(const bench_opts *o, tp_run *r, const loop_stats *st, double secs, const double *cpu,
                   const long *before, const long *after)
{
    report_t rep;
    double rate = (double) r->deliveries / secs;
    report_begin(&rep, o, st);
    report_int(&rep, "senders", r->senders);
    report_int(&rep, "topics", TOPICS);
    report_int(&rep, "subscriptions_per_connection", PER_CONN);
    report_int(&rep, "subscribed", (long long) r->subscribed);
    report_int(&rep, "refused", (long long) r->refused);
    report_num(&rep, "duration_s", secs);
    report_int(&rep, "messages", (long long) r->sent);
    report_num(&rep, "messages_per_s", (double) r->sent / secs);
    report_int(&rep, "deliveries", (long long) r->deliveries);
    report_num(&rep, "deliveries_per_s", rate);
    report_int(&rep, "stalls", (long long) r->stalls);
    report_int(&rep, "unexpected_messages", (long long) r->other);
    report_latency(&rep, "delivery", &r->each);
    double total = 0;
    for (int i = 0; i < o->npids; i++) {
        char key[64];
        double per = r->members ? (double) (after[i] - before[i]) * 1024.0 / r->members : 0;
        snprintf(key, sizeof key, "subscriptions_bytes_per_connection_%s", o->pid_names[i]);
        report_num(&rep, key, per);
        total += per;
    }
    report_num(&rep, "subscriptions_bytes_per_connection", total);
    report_cpu(&rep, o, cpu, r->deliveries);
    report_end(&rep, "topics %s: %u connections x %d topics of %d, %u senders, %.0f deliveries/s, delivery p50 "
               "%.3f ms p99 %.3f ms, %.0f bytes per connection for its %d subscriptions",
               o->label, r->members, PER_CONN, TOPICS, r->senders, rate, hist_quantile(&r->each, 0.5) / 1e6,
               hist_quantile(&r->each, 0.99) / 1e6, total, PER_CONN);
}

/* Opens everyone, then subscribes everyone; 0 when the senders are in and subscribed. */
static int open_and_subscribe(const bench_opts *o, loop_t *loop, tp_run *r, long *before, long *after)
{
    loop_open_all(loop);
    loop_run(loop, now_ns() + OPEN_TIMEOUT_NS, 1);
    const loop_stats *st = loop_stats_of(loop);
    r->members = (uint32_t) st->opened;
    for (uint32_t i = 0; i < r->senders; i++)
        if (loop_conn(loop, (int) i)->state != CONN_OPEN) {
            fprintf(stderr, "chanx-bench: topics: %llu of %d connections opened\n", (unsigned long long) st->opened,
                    o->connections);
            return -1;
        }
    rss_all(o, before);
    for (int i = 0; i < o->connections; i++)
        if (loop_conn(loop, i)->state == CONN_OPEN)
            subscribe_all(loop, loop_conn(loop, i));
    loop_run(loop, now_ns() + SUB_TIMEOUT_NS, 0);
    if (r->subscribed < (uint64_t) r->members * PER_CONN)
        fprintf(stderr, "chanx-bench: topics: %llu of %llu subscriptions confirmed (%llu refused)\n",
                (unsigned long long) r->subscribed, (unsigned long long) r->members * PER_CONN,
                (unsigned long long) r->refused);
    loop_run(loop, now_ns() + (uint64_t) (o->settle * 1e9), 0);   /* the welcomes, and memory settling */
    rss_all(o, after);
    return 0;
}

int run_topics(const bench_opts *o)
{
    static tp_run r;
    memset(&r, 0, sizeof r);
    hist_init(&r.each);
    r.senders = (uint32_t) o->senders;
    loop_handlers h = { .on_message = on_message };
    loop_t *loop = loop_new(o, o->connections, &h, &r);
    long before[BENCH_MAX_PIDS] = { 0 }, after[BENCH_MAX_PIDS] = { 0 };
    int rc = 1;
    if (!loop) {
        perror("chanx-bench");
    } else if (open_and_subscribe(o, loop, &r, before, after) == 0) {
        uint64_t now = now_ns();
        r.sending = 1;
        for (uint32_t i = 0; i < r.senders; i++)
            send_say(loop, &r, loop_conn(loop, (int) i), now);
        double warm = o->duration / 5 < 1 ? o->duration / 5 : 1;
        run_sending(loop, &r, now + (uint64_t) (warm * 1e9));
        hist_init(&r.each);
        r.deliveries = r.sent = r.stalls = 0;
        double cpu[BENCH_MAX_PIDS];
        proc_cpu_snapshot(o, cpu);
        uint64_t t0 = now_ns();
        run_sending(loop, &r, t0 + (uint64_t) (o->duration * 1e9));
        r.sending = 0;
        report(o, &r, loop_stats_of(loop), (double) (now_ns() - t0) / 1e9, cpu, before, after);
        rc = 0;
    }
    loop_destroy(&loop);
    return rc;
}
