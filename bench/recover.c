/*
 * recover.c — the recover scenario: how long a route stays unserved after
 * a consumer crashes its worker process (issue 23's figure).
 *
 * One connection to a consumer that crashes on demand (bench/plugins/crash,
 * at ws/crash/) sends {"action":"crash"}; that instant is the crash. From
 * then on a fresh connection is tried every RETRY_NS until one is
 * authenticated and answers "ping" with "pong": that instant is "served
 * again" (the supervisor saw the death, restarted the process, which loaded
 * its plugins and registered, and the gateway heard the route table). The
 * crashed client's close (1011) is timed too. Repeated -n times, waiting
 * --settle seconds between crashes: chanx-worker delays the restart of a
 * process that dies within 10 s of its start (backoff), and the figure is
 * the restart itself, not that delay, so scripts/bench waits 11 s.
 *
 * The worker runs with CHANX_CRASH_QUARANTINE=0 (scripts/bench): with the
 * default, the third crash within a minute quarantines the plugin and the
 * route is never served again, by design.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RETRY_NS 5000000ull                    /* 5 ms between attempts while the route is down */
#define GIVE_UP_NS (60ull * 1000000000ull)     /* a route not back within a minute: the run fails */
#define STEP_TIMEOUT_NS (5ull * 1000000000ull) /* one attempt's connect, ping and pong */

typedef struct {
    int crash;             /* this connection crashes the consumer; otherwise it probes with ping */
    uint64_t sent, pong, closed;
    int close_code;
} attempt;

static void on_open(loop_t *loop, conn_t *c, void *arg)
{
    attempt *a = arg;
    const char *text = a->crash ? "{\"action\":\"crash\"}" : "{\"action\":\"ping\"}";
    a->sent = now_ns();
    conn_send_text(loop, c, text, strlen(text));
}

static void on_message(loop_t *loop, conn_t *c, const char *text, size_t len, void *arg)
{
    (void) c;
    attempt *a = arg;
    if (!a->crash && json_action_is(text, len, "pong")) {
        a->pong = now_ns();
        loop_stop(loop);
    }
}

static void on_close(loop_t *loop, conn_t *c, void *arg)
{
    attempt *a = arg;
    a->closed = now_ns();
    a->close_code = c->close_code;
    loop_stop(loop);
}

/* One connection, run until it answers (probe) or closes; *a says what happened. */
static void run_attempt(const bench_opts *opts, attempt *a)
{
    static const loop_handlers handlers = { .on_open = on_open, .on_message = on_message, .on_close = on_close };
    loop_t *loop = loop_new(opts, 1, &handlers, a);
    if (!loop)
        return;
    loop_open_all(loop);
    loop_run(loop, now_ns() + STEP_TIMEOUT_NS, 0);
    loop_destroy(&loop);
}

/* Probes until the route answers; returns when it did (ns), 0 when it never came back. */
static uint64_t served_again(const bench_opts *opts, uint64_t since)
{
    while (!bench_interrupted() && now_ns() - since < GIVE_UP_NS) {
        attempt probe = { 0 };
        run_attempt(opts, &probe);
        if (probe.pong)
            return probe.pong;
        usleep(RETRY_NS / 1000);
    }
    return 0;
}

int run_recover(const bench_opts *opts)
{
    hist_t served, closed;
    hist_init(&served);
    hist_init(&closed);
    loop_stats stats = { 0 };
    int crashes = 0;
    if (!served_again(opts, now_ns())) {
        fprintf(stderr, "chanx-bench recover: %s is not served\n", opts->url);
        return 1;
    }
    for (int i = 0; i < opts->connections && !bench_interrupted(); i++) {
        if (i > 0)
            usleep((useconds_t) (opts->settle * 1e6));
        attempt boom = { .crash = 1 };
        run_attempt(opts, &boom);
        if (!boom.sent || boom.close_code != 1011) {
            fprintf(stderr, "chanx-bench recover: crash %d: the crashing client was not closed with 1011 (%d)\n",
                    i, boom.close_code);
            return 1;
        }
        hist_record(&closed, boom.closed - boom.sent);
        uint64_t back = served_again(opts, boom.sent);
        if (!back) {
            fprintf(stderr, "chanx-bench recover: crash %d: the route was not served again within a minute\n", i);
            return 1;
        }
        hist_record(&served, back - boom.sent);
        crashes++;
    }
    stats.opened = (uint64_t) crashes;
    report_t r;
    report_begin(&r, opts, &stats);
    report_int(&r, "crashes", crashes);
    report_latency(&r, "served_again", &served);
    report_latency(&r, "crash_closed", &closed);
    report_end(&r, "recover %s: %d crashes, served again after p50 %.1f ms, p99 %.1f ms (crashing client closed "
                   "1011 after p50 %.1f ms)", opts->label, crashes, hist_quantile(&served, 0.5) / 1e6,
               hist_quantile(&served, 0.99) / 1e6, hist_quantile(&closed, 0.5) / 1e6);
    return 0;
}
