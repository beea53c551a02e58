/*
 * broadcast.c — the broadcast scenario (the classic WebSocket shootout): N
 * connections in one chat room, K of them send
 * {"action":"chat","payload":{"message":"<t_ns>:<sender>:<seq>"}} closed-
 * loop, each waiting for its own copy before sending the next.
 *
 * Every member's copy is matched to its message through a ring of recent
 * messages per sender, counting recipients; when the count reaches the
 * number of members, "time until every member has it" is recorded. The
 * timestamp inside the message gives each single delivery's latency too.
 * Copies are told apart by the sender index in the text, not by is_current,
 * so any server that fans the payload out unchanged can be measured.
 *
 * Before measuring, one message must reach every member: servers that join
 * the group after sending the authentication message (the Django peer)
 * would otherwise lose the first messages to the last joiners.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING 256                          /* messages per sender in flight at most */
#define OPEN_TIMEOUT_NS (120ull * 1000000000ull)
#define JOIN_TIMEOUT_NS (15ull * 1000000000ull)
#define STALL_NS (5ull * 1000000000ull)   /* own copy lost: send anew */

typedef struct {
    uint64_t seq, sent, last;
    uint32_t got;
} slot_t;

typedef struct {
    hist_t all;                 /* until every member has the message */
    hist_t each;                /* one delivery */
    slot_t *ring;               /* senders x RING */
    uint32_t members, senders;
    int sending;
    uint64_t joined;            /* members that got the join probe */
    uint64_t deliveries, sent, complete, lost, stalls, other;
} bc_run;

static void send_chat(loop_t *loop, bc_run *r, conn_t *c, uint64_t now)
{
    char text[160];
    c->seq++;
    slot_t *s = &r->ring[c->index * RING + c->seq % RING];
    if (s->seq && s->got < r->members)
        r->lost++;              /* overwritten before every member had it */
    *s = (slot_t) { .seq = c->seq, .sent = now };
    c->t_sent = now;
    int n = snprintf(text, sizeof text, "{\"action\":\"chat\",\"payload\":{\"message\":\"%llu:%u:%llu\"}}",
                     (unsigned long long) now, c->index, (unsigned long long) c->seq);
    r->sent++;
    conn_send_text(loop, c, text, (size_t) n);
}

/* "<t_ns>:<sender>:<seq>" */
static int parse_message(const char *text, size_t len, uint64_t *t, uint32_t *sender, uint64_t *seq)
{
    size_t n;
    const char *m = json_str(text, len, "message", &n);
    char buf[80];
    if (!m || n >= sizeof buf)
        return -1;
    memcpy(buf, m, n);
    buf[n] = 0;
    unsigned long long a, c;
    unsigned b;
    if (sscanf(buf, "%llu:%u:%llu", &a, &b, &c) != 3)
        return -1;
    *t = a;
    *sender = b;
    *seq = c;
    return 0;
}

static void on_message(loop_t *loop, conn_t *c, const char *text, size_t len, void *arg)
{
    bc_run *r = arg;
    uint64_t t, seq;
    uint32_t sender;
    if (!json_action_is(text, len, "chat") || parse_message(text, len, &t, &sender, &seq) || sender >= r->senders) {
        r->other++;
        return;
    }
    uint64_t now = now_ns();
    if (seq == 0) {             /* the join probe */
        if (++r->joined >= r->members)
            loop_stop(loop);
        return;
    }
    r->deliveries++;
    hist_record(&r->each, now - t);
    slot_t *s = &r->ring[sender * RING + seq % RING];
    if (s->seq == seq && ++s->got == r->members) {
        hist_record(&r->all, now - s->sent);
        r->complete++;
    }
    if (c->index == sender && seq == c->seq && r->sending)
        send_chat(loop, r, c, now);
}

static void resend(loop_t *loop, conn_t *c, uint64_t now, void *arg)
{
    send_chat(loop, arg, c, now);
}

/* Runs until deadline in short slices so stalled senders are restarted. */
static void run_sending(loop_t *loop, bc_run *r, uint64_t deadline)
{
    loop_run_senders(loop, deadline, r->senders, STALL_NS, &r->stalls, resend, r);
}

static void reset_counts(bc_run *r)
{
    hist_init(&r->all);
    hist_init(&r->each);
    r->deliveries = r->sent = r->complete = r->lost = r->stalls = 0;
}

static void report(const bench_opts *o, bc_run *r, const loop_stats *st, double secs, const double *cpu)
{
    report_t rep;
    double rate = (double) r->deliveries / secs;
    report_begin(&rep, o, st);
    report_int(&rep, "senders", r->senders);
    report_num(&rep, "duration_s", secs);
    report_int(&rep, "messages", (long long) r->sent);
    report_num(&rep, "messages_per_s", (double) r->sent / secs);
    report_int(&rep, "deliveries", (long long) r->deliveries);
    report_num(&rep, "deliveries_per_s", rate);
    report_int(&rep, "complete", (long long) r->complete);
    report_int(&rep, "lost", (long long) r->lost);
    report_int(&rep, "stalls", (long long) r->stalls);
    report_int(&rep, "unexpected_messages", (long long) r->other);
    report_latency(&rep, "all_members", &r->all);
    report_latency(&rep, "delivery", &r->each);
    report_cpu(&rep, o, cpu, r->deliveries);   /* CPU per delivery */
    report_end(&rep, "broadcast %s: %u members, %u senders, %.0f deliveries/s (%.0f messages/s), "
               "every member has it p50 %.3f ms p99 %.3f ms",
               o->label, r->members, r->senders, rate, (double) r->sent / secs,
               hist_quantile(&r->all, 0.5) / 1e6, hist_quantile(&r->all, 0.99) / 1e6);
}

/* Opens every member; 0 when at least the senders are in. */
static int open_room(const bench_opts *o, loop_t *loop, bc_run *r)
{
    loop_open_all(loop);
    loop_run(loop, now_ns() + OPEN_TIMEOUT_NS, 1);
    const loop_stats *st = loop_stats_of(loop);
    r->members = (uint32_t) st->opened;
    for (uint32_t i = 0; i < r->senders; i++)
        if (loop_conn(loop, (int) i)->state != CONN_OPEN) {
            fprintf(stderr, "chanx-bench: broadcast: %llu of %d members opened (%llu refused, %llu auth failed)\n",
                    (unsigned long long) st->opened, o->connections, (unsigned long long) st->refused,
                    (unsigned long long) st->auth_failed);
            return -1;
        }
    /* The join probe: seq 0 from sender 0. */
    conn_t *first = loop_conn(loop, 0);
    char probe[96];
    int n = snprintf(probe, sizeof probe, "{\"action\":\"chat\",\"payload\":{\"message\":\"%llu:0:0\"}}",
                     (unsigned long long) now_ns());
    conn_send_text(loop, first, probe, (size_t) n);
    loop_run(loop, now_ns() + JOIN_TIMEOUT_NS, 0);
    if (r->joined < r->members)
        fprintf(stderr, "chanx-bench: broadcast: only %llu of %u members got the first message\n",
                (unsigned long long) r->joined, r->members);
    return 0;
}

int run_broadcast(const bench_opts *o)
{
    static bc_run r;
    memset(&r, 0, sizeof r);
    reset_counts(&r);
    r.senders = (uint32_t) o->senders;
    r.ring = calloc((size_t) r.senders * RING, sizeof *r.ring);
    loop_handlers h = { .on_message = on_message };
    loop_t *loop = r.ring ? loop_new(o, o->connections, &h, &r) : NULL;
    int rc = 1;
    if (!loop) {
        perror("chanx-bench");
    } else if (open_room(o, loop, &r) == 0) {
        uint64_t now = now_ns();
        r.sending = 1;
        for (uint32_t i = 0; i < r.senders; i++)
            send_chat(loop, &r, loop_conn(loop, (int) i), now);
        double warm = o->duration / 5 < 1 ? o->duration / 5 : 1;
        run_sending(loop, &r, now + (uint64_t) (warm * 1e9));
        reset_counts(&r);
        double cpu[BENCH_MAX_PIDS];
        proc_window(o, "start");
        proc_cpu_snapshot(o, cpu);
        uint64_t t0 = now_ns();
        run_sending(loop, &r, t0 + (uint64_t) (o->duration * 1e9));
        r.sending = 0;
        double secs = (double) (now_ns() - t0) / 1e9;
        proc_window(o, "stop");
        report(o, &r, loop_stats_of(loop), secs, cpu);
        rc = 0;
    }
    loop_destroy(&loop);
    free(r.ring);
    return rc;
}
