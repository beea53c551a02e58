/*
 * publish.c — the publish scenario: events from the application into a
 * group of N members, the way a Django view or task sends them.
 *
 * N connections join a room (the server's consumer puts them in --group);
 * the bench publishes {"action": --action, "payload": {"title": "<t_ns>:<seq>"}}
 * to that group with --window events in flight, closed-loop: when every
 * member has an event, the next one is published. "Every member has it" is
 * timed from just before the publish call to the last member's copy, so
 * it includes the publisher's own round trip (the API's HTTP answer, or
 * the Django process's group_send).
 *
 * Publishers: --api http://HOST:PORT (chanx-api; one keep-alive HTTP/1.1
 * connection, each POST answered before the next, as a Django view would
 * call it) with --api-key; or --publisher CMD, a program that reads one JSON
 * command per line on stdin ({"groups": [...], "event": {...}}) and
 * publishes it (bench/django_publish.py: Channels' group_send). Any member
 * message carrying the title marker counts, whatever its action, so a
 * passthrough event, a receive_event handler's reply and the Django peer's
 * notify are measured alike.
 */
#include "bench.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RING 64
#define OPEN_TIMEOUT_NS (120ull * 1000000000ull)
#define JOIN_TIMEOUT_NS (15ull * 1000000000ull)
#define STALL_NS (5ull * 1000000000ull)

typedef struct {
    uint64_t seq, sent;
    uint32_t got;
} pub_slot;

typedef struct {
    const bench_opts *o;
    hist_t all;
    pub_slot ring[RING];
    uint32_t members;
    uint64_t next_seq, in_flight, last_progress;
    int sending;
    uint64_t joined;
    uint64_t deliveries, published, complete, stalls, failed;
    uint64_t counted_from;   /* events published before the last reset_counts are not counted */
    int api_fd;
    FILE *publisher;
    char host[256], port[8];
} pub_run;

/* ------------------------------------------------------------ publishers */

static int api_connect(pub_run *r)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
    if (getaddrinfo(r->host, r->port, &hints, &ai) != 0 || !ai)
        return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM, 0), one = 1;
    if (fd >= 0)   /* one request per write, answered before the next: Nagle would hold it for an ACK */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* One POST on the keep-alive connection; 0 when answered 200. */
static int api_post(pub_run *r, const char *body, size_t blen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (r->api_fd < 0 && (r->api_fd = api_connect(r)) < 0)
            return -1;
        char head[1536];
        int n = snprintf(head, sizeof head, "POST /api/broadcast HTTP/1.1\r\nHost: %s\r\nAuthorization: apikey %s\r\n"
                                            "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%.*s",
                         r->host, r->o->api_key ? r->o->api_key : "", blen, (int) blen, body);
        char resp[4096];
        size_t got = 0;
        long clen = -1;
        char *end = NULL;
        if (n < (int) sizeof head && write(r->api_fd, head, (size_t) n) == n) {
            while (got < sizeof resp - 1) {
                ssize_t k = read(r->api_fd, resp + got, sizeof resp - 1 - got);
                if (k <= 0)
                    break;
                got += (size_t) k;
                resp[got] = 0;
                end = strstr(resp, "\r\n\r\n");
                char *cl = strcasestr(resp, "Content-Length:");
                if (end && cl)
                    clen = strtol(cl + 15, NULL, 10);
                if (end && clen >= 0 && got >= (size_t) (end + 4 - resp) + (size_t) clen)
                    return strncmp(resp + 9, "200", 3) == 0 ? 0 : -1;
            }
        }
        close(r->api_fd);   /* closed by the server, or garbled: reconnect once */
        r->api_fd = -1;
    }
    return -1;
}

static void publish(pub_run *r, uint64_t seq)
{
    char body[512];
    uint64_t now = now_ns();
    int n = snprintf(body, sizeof body, "{\"groups\":[\"%s\"],\"event\":{\"action\":\"%s\",\"payload\":{\"title\":\"%llu:%llu\"}}}",
                     r->o->group, r->o->action, (unsigned long long) now, (unsigned long long) seq);
    pub_slot *s = &r->ring[seq % RING];
    *s = (pub_slot) { .seq = seq, .sent = now };
    int rc;
    if (r->publisher) {
        rc = fprintf(r->publisher, "%s\n", body) < 0 || fflush(r->publisher) != 0 ? -1 : 0;
    } else {
        rc = api_post(r, body, (size_t) n);
    }
    if (rc)
        r->failed++;
    r->published++;
}

/* -------------------------------------------------------------- members */

static void on_message(loop_t *loop, conn_t *c, const char *text, size_t len, void *arg)
{
    pub_run *r = arg;
    (void) c;
    size_t n;
    const char *title = json_str(text, len, "title", &n);
    char buf[64];
    unsigned long long t, seq;
    if (!title || n >= sizeof buf)
        return;
    memcpy(buf, title, n);
    buf[n] = 0;
    if (sscanf(buf, "%llu:%llu", &t, &seq) != 2)
        return;
    if (seq == 0) {   /* the join probe */
        if (++r->joined >= r->members)
            loop_stop(loop);
        return;
    }
    /* An event in flight at the end of the warm-up completes inside the window with only some of
     * its deliveries there: count an event's deliveries and completion only when it was published
     * inside the window, so that deliveries = members x complete plus the events still in flight. */
    int counted = seq >= r->counted_from;
    r->deliveries += counted;
    pub_slot *s = &r->ring[seq % RING];
    if (s->seq != seq || ++s->got != r->members)
        return;
    uint64_t now = now_ns();
    if (counted) {
        hist_record(&r->all, now - s->sent);
        r->complete++;
    }
    r->last_progress = now;
    if (r->sending)
        publish(r, ++r->next_seq);
}

static void run_publishing(loop_t *loop, pub_run *r, uint64_t deadline)
{
    for (uint64_t now = now_ns(); now < deadline; now = now_ns()) {
        uint64_t slice = now + 200000000ull;
        loop_run(loop, slice < deadline ? slice : deadline, 0);
        if (now_ns() - r->last_progress > STALL_NS) {   /* an event lost: keep the window full */
            r->stalls++;
            r->last_progress = now_ns();
            publish(r, ++r->next_seq);
        }
    }
}

static void reset_counts(pub_run *r)
{
    hist_init(&r->all);
    r->deliveries = r->published = r->complete = r->stalls = r->failed = 0;
    r->counted_from = r->next_seq + 1;
}

static void report(pub_run *r, const loop_stats *st, double secs, const double *cpu)
{
    const bench_opts *o = r->o;
    report_t rep;
    double rate = (double) r->deliveries / secs;
    report_begin(&rep, o, st);
    report_int(&rep, "members", r->members);
    report_int(&rep, "window", o->senders);
    report_num(&rep, "duration_s", secs);
    report_int(&rep, "events", (long long) r->published);
    report_num(&rep, "events_per_s", (double) r->published / secs);
    report_int(&rep, "deliveries", (long long) r->deliveries);
    report_num(&rep, "deliveries_per_s", rate);
    report_int(&rep, "complete", (long long) r->complete);
    report_int(&rep, "stalls", (long long) r->stalls);
    report_int(&rep, "publish_failures", (long long) r->failed);
    report_latency(&rep, "all_members", &r->all);
    report_cpu(&rep, o, cpu, r->deliveries);
    report_end(&rep, "%s %s: %u members, %.0f deliveries/s (%.0f events/s), API call to every member p50 %.3f ms p99 %.3f ms",
               o->scenario, o->label, r->members, rate, (double) r->published / secs,
               hist_quantile(&r->all, 0.5) / 1e6, hist_quantile(&r->all, 0.99) / 1e6);
}

static int parse_api(pub_run *r, const char *url)
{
    if (strncmp(url, "http://", 7) != 0)
        return -1;
    const char *h = url + 7, *colon = strrchr(h, ':');
    if (!colon || (size_t) (colon - h) >= sizeof r->host)
        return -1;
    snprintf(r->host, sizeof r->host, "%.*s", (int) (colon - h), h);
    snprintf(r->port, sizeof r->port, "%.*s", (int) strcspn(colon + 1, "/"), colon + 1);
    return 0;
}

int run_publish(const bench_opts *o)
{
    static pub_run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.api_fd = -1;
    reset_counts(&r);
    if (!o->group || !o->action || (!o->api && !o->publisher)
        || (o->api && parse_api(&r, o->api) != 0)) {
        fprintf(stderr, "chanx-bench: publish needs --group, --action and --api http://HOST:PORT or --publisher CMD\n");
        return 2;
    }
    if (o->publisher && !(r.publisher = popen(o->publisher, "w"))) {
        perror("chanx-bench: --publisher");
        return 1;
    }
    loop_handlers h = { .on_message = on_message };
    loop_t *loop = loop_new(o, o->connections, &h, &r);
    int rc = 1;
    if (!loop) {
        perror("chanx-bench");
        goto out;
    }
    loop_open_all(loop);
    loop_run(loop, now_ns() + OPEN_TIMEOUT_NS, 1);
    r.members = (uint32_t) loop_stats_of(loop)->opened;
    if (r.members == 0) {
        fprintf(stderr, "chanx-bench: publish: no member could connect\n");
        goto out;
    }
    /* The join probe, sent again until every member has one: members join as they authenticate. */
    for (uint64_t give_up = now_ns() + JOIN_TIMEOUT_NS; r.joined < r.members && now_ns() < give_up;) {
        r.joined = 0;
        publish(&r, 0);
        loop_run(loop, now_ns() + 1000000000ull, 0);
    }
    if (r.joined < r.members)
        fprintf(stderr, "chanx-bench: publish: only %llu of %u members got the probe\n",
                (unsigned long long) r.joined, r.members);
    r.sending = 1;
    r.last_progress = now_ns();
    for (int i = 0; i < o->senders; i++)
        publish(&r, ++r.next_seq);
    double warm = o->duration / 5 < 1 ? o->duration / 5 : 1;
    run_publishing(loop, &r, now_ns() + (uint64_t) (warm * 1e9));
    reset_counts(&r);
    double cpu[BENCH_MAX_PIDS];
    proc_cpu_snapshot(o, cpu);
    uint64_t t0 = now_ns();
    run_publishing(loop, &r, t0 + (uint64_t) (o->duration * 1e9));
    r.sending = 0;
    report(&r, loop_stats_of(loop), (double) (now_ns() - t0) / 1e9, cpu);
    rc = 0;
out:
    loop_destroy(&loop);
    if (r.publisher)
        pclose(r.publisher);
    if (r.api_fd >= 0)
        close(r.api_fd);
    return rc;
}
